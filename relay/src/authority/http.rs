//! The reqwest client for ZATCA's Fatoora API (SPEC §10): `Accept-Version: V2`, Basic auth with
//! `binarySecurityToken:secret`, the `OTP` header, `{"csr": base64(PEM)}`, per-environment base
//! URLs, timeouts, and an audit-log entry for every request and response with secrets redacted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::Utc;
use reqwest::Method;
use serde::Deserialize as _;
use serde_json::{Value, json};

use super::*;
use crate::domain::AuditEntry;
use crate::store::Store;

/// Bodies longer than this are truncated in the audit log.
const AUDIT_BODY_LIMIT: usize = 256 * 1024;
const REDACTED: &str = "[redacted]";

/// Base URLs per environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrls {
    /// For sandbox units.
    pub sandbox: String,
    /// For production units.
    pub production: String,
}

/// The HTTP client.
#[derive(Debug, Clone)]
pub struct ZatcaClient {
    http: reqwest::Client,
    urls: BaseUrls,
    audit: Arc<dyn Store>,
}

impl ZatcaClient {
    /// A client with a per-request timeout, writing its audit log to `audit`.
    pub fn new(urls: BaseUrls, timeout: Duration, audit: Arc<dyn Store>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("zatca-relay/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(ZatcaClient {
            http,
            urls: BaseUrls {
                sandbox: trim(&urls.sandbox),
                production: trim(&urls.production),
            },
            audit,
        })
    }

    /// The base URLs in use.
    pub fn urls(&self) -> &BaseUrls {
        &self.urls
    }

    fn base(&self, environment: Environment) -> &str {
        match environment {
            Environment::Sandbox => &self.urls.sandbox,
            Environment::Production => &self.urls.production,
        }
    }

    /// Sends one request and writes its audit entry. Returns the status and parsed body (Null
    /// when the body is not JSON; the raw text is in the audit log).
    async fn call(&self, ctx: CallContext, call: Call<'_>) -> Result<(u16, Value, String), AuthorityError> {
        self.call_full(ctx, call).await.map(|a| (a.status, a.body, a.raw))
    }

    /// [`Self::call`] with the `Retry-After` header.
    async fn call_full(&self, ctx: CallContext, call: Call<'_>) -> Result<Answer, AuthorityError> {
        let Call {
            header,
            operation,
            method,
            path,
            credentials,
            otp,
            body,
        } = call;
        let url = format!("{}{path}", self.base(ctx.environment));
        let mut request = self
            .http
            .request(method.clone(), &url)
            .header("Accept-Version", "V2")
            .header("Accept-Language", "en")
            .header("Accept", "application/json")
            .json(body);
        let mut logged_headers = json!({
            "Accept-Version": "V2",
            "Accept-Language": "en",
            "Accept": "application/json",
            "Content-Type": "application/json",
        });
        if let Some(credentials) = credentials {
            let basic = B64.encode(format!("{}:{}", credentials.token, credentials.secret.expose()));
            request = request.header("Authorization", format!("Basic {basic}"));
            logged_headers["Authorization"] = json!(format!("Basic {REDACTED}"));
        }
        if let Some((name, value)) = header {
            request = request.header(name, value);
            logged_headers[name] = json!(value);
        }
        if let Some(otp) = otp {
            request = request.header("OTP", otp.expose());
            logged_headers["OTP"] = json!(REDACTED);
        }
        let started = Instant::now();
        let at = Utc::now();
        let result = request.send().await;
        let mut retry_after_secs = None;
        let (status, text, error) = match result {
            Ok(response) => {
                let status = response.status().as_u16();
                retry_after_secs = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                match response.text().await {
                    Ok(text) => (Some(status), Some(text), None),
                    Err(err) => (Some(status), None, Some(transport(&err))),
                }
            }
            Err(err) => (None, None, Some(transport(&err))),
        };
        let parsed = text
            .as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            .unwrap_or(Value::Null);
        let response_body = text.as_deref().map(|t| {
            if parsed.is_null() {
                truncate(t)
            } else {
                truncate(&for_audit(operation, parsed.clone()).to_string())
            }
        });
        let entry = AuditEntry {
            id: 0,
            egs_unit_id: ctx.unit_id,
            at,
            operation: operation.to_owned(),
            method: method.to_string(),
            url: url.clone(),
            request_headers: logged_headers,
            request_body: Some(truncate(&for_audit(operation, body.clone()).to_string())),
            response_status: status,
            response_body: response_body.clone(),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            error: error.as_ref().map(ToString::to_string),
        };
        if let Err(err) = self.audit.insert_audit(&entry).await {
            tracing::error!(error = %err, egs.id = %ctx.unit_id, "cannot write the ZATCA audit log");
        }
        tracing::info!(
            egs.id = %ctx.unit_id,
            zatca.operation = operation,
            http.status = status,
            duration_ms = entry.duration_ms,
            "ZATCA call"
        );
        if let Some(err) = error {
            return Err(err);
        }
        Ok(Answer {
            status: status.unwrap_or_default(),
            body: parsed,
            raw: response_body.unwrap_or_default(),
            retry_after_secs,
        })
    }

    /// Reporting or clearance: the answer read into [`SubmissionResult`]; 429, 5xx and
    /// answers without `validationResults` are errors.
    async fn submit(
        &self,
        ctx: CallContext,
        operation: &'static str,
        path: &'static str,
        credentials: &Credentials,
        document: &DocumentSubmission<'_>,
        duplicate_status: u16,
    ) -> Result<SubmissionResult, AuthorityError> {
        let body = json!({
            "invoiceHash": document.invoice_hash,
            "uuid": document.uuid,
            "invoice": document.invoice_base64,
        });
        let answer = self
            .call_full(
                ctx,
                Call {
                    operation,
                    method: Method::POST,
                    path,
                    credentials: Some(credentials),
                    otp: None,
                    body: &body,
                    header: (operation == "clear_invoice").then_some(("Clearance-Status", "1")),
                },
            )
            .await?;
        let status = answer.status;
        let typed = SubmissionAnswer::deserialize(&answer.body).ok();
        let Some(typed) = typed.filter(|t| t.validation_results.is_some()) else {
            return Err(AuthorityError::Status {
                status,
                messages: parse_messages(&answer.body),
                body: answer.raw.chars().take(2000).collect(),
                retry_after_secs: answer.retry_after_secs,
            });
        };
        // 400 carries a rejection, 409 a duplicate report: both are answers. Any other 4xx
        // (credentials, headers) and 429/5xx are errors.
        if status >= 401 && status != 409 {
            return Err(AuthorityError::Status {
                status,
                messages: parse_messages(&answer.body),
                body: answer.raw.chars().take(2000).collect(),
                retry_after_secs: answer.retry_after_secs,
            });
        }
        let validation = typed.validation_results.unwrap_or_default();
        let duplicate = status == duplicate_status;
        let cleared_xml = typed.cleared_invoice.and_then(|b64| B64.decode(b64.trim()).ok());
        Ok(SubmissionResult {
            status,
            outcome: typed.reporting_status.or(typed.clearance_status),
            validation_status: validation.status.unwrap_or_default(),
            warnings: validation.warning_messages,
            // A duplicate's "error" is the duplicate notice itself, not a rejection.
            errors: if duplicate {
                Vec::new()
            } else {
                validation.error_messages
            },
            cleared_xml,
            duplicate,
        })
    }
}

/// One answer from ZATCA.
struct Answer {
    status: u16,
    body: Value,
    raw: String,
    retry_after_secs: Option<u64>,
}

/// The body of a reporting or clearance answer.
#[derive(Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubmissionAnswer {
    #[serde(default)]
    validation_results: Option<ValidationResults>,
    #[serde(default)]
    reporting_status: Option<String>,
    #[serde(default)]
    clearance_status: Option<String>,
    #[serde(default)]
    cleared_invoice: Option<String>,
}

/// `validationResults`.
#[derive(Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValidationResults {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    warning_messages: Vec<ZatcaMessage>,
    #[serde(default)]
    error_messages: Vec<ZatcaMessage>,
}

/// One request to ZATCA.
struct Call<'a> {
    /// An extra header (clearance's `Clearance-Status: 1`).
    header: Option<(&'static str, &'static str)>,
    operation: &'a str,
    method: Method,
    path: &'a str,
    credentials: Option<&'a Credentials>,
    otp: Option<&'a SecretString>,
    body: &'a Value,
}

fn trim(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

fn transport(err: &reqwest::Error) -> AuthorityError {
    let reason = if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_body() || err.is_decode() {
        "response body could not be read"
    } else {
        "request failed"
    };
    AuthorityError::Transport {
        reason: reason.into(),
        timeout: err.is_timeout(),
    }
}

fn truncate(text: &str) -> String {
    if text.len() <= AUDIT_BODY_LIMIT {
        return text.to_owned();
    }
    let mut end = AUDIT_BODY_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[truncated]", &text[..end])
}

/// Replaces every `secret` field (at any depth) with `[redacted]`.
pub fn redact(mut value: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map.iter_mut() {
                    if key.eq_ignore_ascii_case("secret") || key.eq_ignore_ascii_case("otp") {
                        *inner = Value::String(REDACTED.into());
                    } else {
                        walk(inner);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

/// A body as the audit log keeps it: secrets redacted, and for reporting and clearance the
/// documents themselves replaced by a note (they are in the invoice archive; a copy per call
/// would make the audit log most of the database).
fn for_audit(operation: &str, value: Value) -> Value {
    let mut value = redact(value);
    if matches!(operation, "report_invoice" | "clear_invoice") {
        if let Value::Object(map) = &mut value {
            for field in ["invoice", "clearedInvoice"] {
                if let Some(Value::String(text)) = map.get_mut(field) {
                    *text = format!("[in the invoice archive: {} base64 characters]", text.len());
                }
            }
        }
    }
    value
}

/// ZATCA's messages from any of its error shapes: `{"errors":[{code,message}]}`,
/// `{"errors":["text"]}`, `{"code","message"}`, `{"validationResults":{…}}`, or a renewal's
/// `{"value":{…}}` (SPEC §10.4).
pub fn parse_messages(body: &Value) -> Vec<ZatcaMessage> {
    let mut out = Vec::new();
    if let Some(validation) = body.get("validationResults") {
        out.extend(list(validation.get("errorMessages")));
        out.extend(list(validation.get("warningMessages")));
        return out;
    }
    if let Some(inner) = body.get("value").filter(|v| v.is_object()) {
        out.extend(parse_messages(inner));
        if let Some(disposition) = inner.get("dispositionMessage").and_then(Value::as_str) {
            if out.is_empty() {
                out.push(ZatcaMessage {
                    kind: None,
                    code: Some(disposition.into()),
                    category: None,
                    message: disposition.into(),
                });
            }
        }
        return out;
    }
    if let Some(errors) = body.get("errors") {
        out.extend(list(Some(errors)));
    }
    if out.is_empty() {
        if let Some(message) = body.get("message").and_then(Value::as_str) {
            let code = body
                .get("code")
                .map(|c| c.as_str().map(str::to_owned).unwrap_or_else(|| c.to_string()));
            let code = code.or_else(|| body.get("error").and_then(Value::as_str).map(str::to_owned));
            let category = body.get("category").and_then(Value::as_str).map(str::to_owned);
            out.push(ZatcaMessage {
                kind: None,
                code,
                category,
                message: message.to_owned(),
            });
        }
    }
    out
}

fn list(value: Option<&Value>) -> Vec<ZatcaMessage> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => ZatcaMessage {
                    kind: None,
                    code: None,
                    category: None,
                    message: text.clone(),
                },
                other => serde_json::from_value(other.clone()).unwrap_or_else(|_| ZatcaMessage {
                    kind: None,
                    code: None,
                    category: None,
                    message: other.to_string(),
                }),
            })
            .collect(),
        Some(Value::Object(_)) => list(Some(&Value::Array(vec![value.cloned().unwrap_or_default()]))),
        _ => Vec::new(),
    }
}

fn parse_csid(status: u16, body: &Value, raw: &str) -> Result<Csid, AuthorityError> {
    if !(200..300).contains(&status) {
        return Err(AuthorityError::Status {
            status,
            messages: parse_messages(body),
            body: raw.chars().take(2000).collect(),
            retry_after_secs: None,
        });
    }
    let answer = CsidAnswer::deserialize(body).unwrap_or_default();
    let (Some(token), Some(secret)) = (answer.binary_security_token, answer.secret) else {
        let messages = parse_messages(body);
        if !messages.is_empty() {
            return Err(AuthorityError::Status {
                status,
                messages,
                body: raw.chars().take(2000).collect(),
                retry_after_secs: None,
            });
        }
        return Err(AuthorityError::Unexpected(
            "CSID response without binarySecurityToken and secret".into(),
        ));
    };
    let request_id = match answer.request_id {
        Some(RequestId::Text(text)) => text,
        Some(RequestId::Number(n)) => n.to_string(),
        None => String::new(),
    };
    Ok(Csid {
        request_id,
        disposition: answer.disposition_message.unwrap_or_default(),
        token,
        secret: SecretString::new(&secret),
    })
}

/// ZATCA's answer to the CSID endpoints (`/compliance`, `/production/csids`).
#[derive(Default, serde::Deserialize)]
struct CsidAnswer {
    #[serde(rename = "requestID", default)]
    request_id: Option<RequestId>,
    #[serde(rename = "dispositionMessage", default)]
    disposition_message: Option<String>,
    #[serde(rename = "binarySecurityToken", default)]
    binary_security_token: Option<String>,
    #[serde(default)]
    secret: Option<String>,
}

/// `requestID` is a number in ZATCA's answers and a string in some of its examples.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum RequestId {
    Number(u64),
    Text(String),
}

fn csr_body(csr_pem: &str) -> Value {
    json!({ "csr": B64.encode(csr_pem.as_bytes()) })
}

#[async_trait]
impl TaxAuthority for ZatcaClient {
    async fn compliance_csid(
        &self,
        ctx: CallContext,
        csr_pem: &str,
        otp: &SecretString,
    ) -> Result<Csid, AuthorityError> {
        let (status, body, raw) = self
            .call(
                ctx,
                Call {
                    operation: "compliance_csid",
                    method: Method::POST,
                    path: "/compliance",
                    credentials: None,
                    otp: Some(otp),
                    body: &csr_body(csr_pem),
                    header: None,
                },
            )
            .await?;
        parse_csid(status, &body, &raw)
    }

    async fn compliance_invoice(
        &self,
        ctx: CallContext,
        credentials: &Credentials,
        invoice_hash: &str,
        uuid: &str,
        invoice_base64: &str,
    ) -> Result<ComplianceResult, AuthorityError> {
        let request = json!({ "invoiceHash": invoice_hash, "uuid": uuid, "invoice": invoice_base64 });
        let (status, body, raw) = self
            .call(
                ctx,
                Call {
                    operation: "compliance_invoice",
                    method: Method::POST,
                    path: "/compliance/invoices",
                    credentials: Some(credentials),
                    otp: None,
                    body: &request,
                    header: None,
                },
            )
            .await?;
        let Some(validation) = body.get("validationResults") else {
            return Err(if (200..300).contains(&status) {
                AuthorityError::Unexpected("compliance response without validationResults".into())
            } else {
                AuthorityError::Status {
                    status,
                    messages: parse_messages(&body),
                    body: raw.chars().take(2000).collect(),
                    retry_after_secs: None,
                }
            });
        };
        if status >= 500 || status == 429 {
            return Err(AuthorityError::Status {
                status,
                messages: parse_messages(&body),
                body: raw.chars().take(2000).collect(),
                retry_after_secs: None,
            });
        }
        let outcome = body
            .get("reportingStatus")
            .and_then(Value::as_str)
            .or_else(|| body.get("clearanceStatus").and_then(Value::as_str))
            .map(str::to_owned);
        let mut errors = list(validation.get("errorMessages"));
        if !(200..300).contains(&status) && errors.is_empty() {
            errors.push(ZatcaMessage {
                kind: Some("ERROR".into()),
                code: Some(format!("HTTP-{status}")),
                category: None,
                message: format!("ZATCA answered HTTP {status}"),
            });
        }
        Ok(ComplianceResult {
            status,
            validation_status: validation
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            outcome,
            warnings: list(validation.get("warningMessages")),
            errors,
            body: redact(body.clone()),
        })
    }

    async fn production_csid(
        &self,
        ctx: CallContext,
        compliance: &Credentials,
        compliance_request_id: &str,
        otp: Option<&SecretString>,
    ) -> Result<Csid, AuthorityError> {
        let request = json!({ "compliance_request_id": compliance_request_id });
        let (status, body, raw) = self
            .call(
                ctx,
                Call {
                    operation: "production_csid",
                    method: Method::POST,
                    path: "/production/csids",
                    credentials: Some(compliance),
                    otp,
                    body: &request,
                    header: None,
                },
            )
            .await?;
        parse_csid(status, &body, &raw)
    }

    async fn report_invoice(
        &self,
        ctx: CallContext,
        production: &Credentials,
        document: &DocumentSubmission<'_>,
    ) -> Result<SubmissionResult, AuthorityError> {
        self.submit(
            ctx,
            "report_invoice",
            "/invoices/reporting/single",
            production,
            document,
            409,
        )
        .await
    }

    async fn clear_invoice(
        &self,
        ctx: CallContext,
        production: &Credentials,
        document: &DocumentSubmission<'_>,
    ) -> Result<SubmissionResult, AuthorityError> {
        self.submit(
            ctx,
            "clear_invoice",
            "/invoices/clearance/single",
            production,
            document,
            208,
        )
        .await
    }

    async fn renew_production_csid(
        &self,
        ctx: CallContext,
        production: &Credentials,
        csr_pem: &str,
        otp: &SecretString,
    ) -> Result<Csid, AuthorityError> {
        let (status, body, raw) = self
            .call(
                ctx,
                Call {
                    operation: "renew_production_csid",
                    method: Method::PATCH,
                    path: "/production/csids",
                    credentials: Some(production),
                    otp: Some(otp),
                    body: &csr_body(csr_pem),
                    header: None,
                },
            )
            .await?;
        parse_csid(status, &body, &raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_error_shape() {
        let m = parse_messages(&json!({"errors":[{"code":"Invalid-OTP","message":"Invalid OTP"}]}));
        assert_eq!(m[0].code.as_deref(), Some("Invalid-OTP"));
        let m = parse_messages(&json!({"errors":["Denied by Policy Module"]}));
        assert_eq!(m[0].message, "Denied by Policy Module");
        let m = parse_messages(&json!({"category":"HTTP-Errors","code":"500","message":"Something went wrong"}));
        assert_eq!(m[0].category.as_deref(), Some("HTTP-Errors"));
        let m = parse_messages(&json!({"value":{"requestID":1,"dispositionMessage":"NOT_COMPLIANT"}}));
        assert_eq!(m[0].code.as_deref(), Some("NOT_COMPLIANT"));
        let m = parse_messages(
            &json!({"validationResults":{"errorMessages":[{"type":"ERROR","code":"BR-KSA-37","category":"KSA","message":"x","status":"ERROR"}],"warningMessages":[],"status":"ERROR"}}),
        );
        assert_eq!(m[0].code.as_deref(), Some("BR-KSA-37"));
        let m = parse_messages(&json!({"timestamp":1,"status":401,"error":"Unauthorized","message":""}));
        assert_eq!(m[0].code.as_deref(), Some("Unauthorized"));
    }

    #[test]
    fn redacts_secrets_at_any_depth() {
        let v = redact(json!({"secret":"abc","nested":{"Secret":"def","keep":"x"},"list":[{"secret":"ghi"}]}));
        let text = v.to_string();
        assert!(!text.contains("abc") && !text.contains("def") && !text.contains("ghi"));
        assert!(text.contains("keep"));
    }

    #[test]
    fn retryability() {
        let status = |s| AuthorityError::Status {
            status: s,
            messages: vec![],
            body: String::new(),
            retry_after_secs: None,
        };
        assert!(status(500).is_retryable());
        assert!(status(503).is_retryable());
        assert!(status(429).is_retryable());
        assert!(!status(400).is_retryable());
        assert!(!status(401).is_retryable());
        assert!(
            AuthorityError::Transport {
                reason: "timeout".into(),
                timeout: true
            }
            .is_retryable()
        );
        assert!(!AuthorityError::Unexpected("x".into()).is_retryable());
    }

    #[test]
    fn parses_csid_and_hides_secret_in_debug() {
        let body = json!({"requestID":1234567890123_u64,"dispositionMessage":"ISSUED","binarySecurityToken":"TUlJ","secret":"Dehv="});
        let csid = parse_csid(200, &body, "").expect("csid");
        assert_eq!(csid.request_id, "1234567890123");
        assert!(!format!("{csid:?}").contains("Dehv"));
        let err = parse_csid(
            400,
            &json!({"errors":[{"code":"Invalid-OTP","message":"Invalid OTP"}]}),
            "",
        )
        .expect_err("err");
        assert!(err.is_otp_error());
        assert!(!err.is_retryable());
    }
}
