//! The Fatoora endpoints (SPEC §10.3): CSIDs (compliance, production, renewal), the compliance
//! check, reporting and clearance, plus the middleware every gateway request passes through
//! (fault injection, counting, `Accept-Version`).

use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::csr::{self, CsrRejection};
use crate::inspect::{Inspection, inspect};
use crate::responses::{
    self, ALREADY_REPORTED, ValidationMessage, ValidationResults, csid_error, invalid_request, json_response,
    unauthorized,
};
use crate::state::{Accepted, Csid, CsidKind, DocumentType, FaultDecision, OtpCheck, SimState};

/// The gateway routes with their middleware (not yet bound to a state).
pub(crate) fn router(state: &SimState) -> Router<SimState> {
    Router::new()
        .route("/compliance", post(compliance_csid))
        .route("/compliance/invoices", post(compliance_invoices))
        .route("/production/csids", post(production_csid).patch(renew_production_csid))
        .route("/invoices/reporting/single", post(reporting))
        .route("/invoices/clearance/single", post(clearance))
        .route_layer(middleware::from_fn(require_accept_version))
        .route_layer(middleware::from_fn_with_state(state.clone(), faults_and_counters))
}

/// Fault injection (latency, 429, 500, held answers) and per-endpoint counting.
async fn faults_and_counters(State(state): State<SimState>, path: MatchedPath, req: Request, next: Next) -> Response {
    let _in_flight = state.enter();
    let key = format!("{} {}", req.method(), path.as_str());
    let (latency, decision) = state.next_fault();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let (resp, hold) = match decision {
        FaultDecision::ServerError => (responses::injected_server_error(), None),
        FaultDecision::RateLimited { retry_after_secs } => (responses::injected_rate_limit(retry_after_secs), None),
        FaultDecision::Timeout { hold } => (next.run(req).await, Some(hold)),
        FaultDecision::None => (next.run(req).await, None),
    };
    let faulted = resp.extensions().get::<responses::Faulted>().is_some();
    state.count_endpoint(&key, resp.status().as_u16(), faulted, hold.is_some());
    if let Some(hold) = hold {
        tracing::info!(endpoint = %key, hold_ms = hold.as_millis() as u64, "timeout fault: holding the answer");
        tokio::time::sleep(hold).await;
    }
    resp
}

/// `Accept-Version: V2` or 406.
async fn require_accept_version(req: Request, next: Next) -> Response {
    match req.headers().get("accept-version").and_then(|v| v.to_str().ok()) {
        Some(v) if v.trim().eq_ignore_ascii_case("V2") => next.run(req).await,
        _ => responses::version_not_supported(),
    }
}

/// Missing or wrong Basic credentials: answered 401.
#[derive(Debug)]
struct Unauthorized;

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        unauthorized()
    }
}

/// A refused OTP: answered `400 {"errors":[…]}`.
#[derive(Debug)]
struct OtpRefused(&'static str, &'static str);

impl IntoResponse for OtpRefused {
    fn into_response(self) -> Response {
        csid_error(self.0, self.1)
    }
}

/// The CSID named by `Authorization: Basic base64(token:secret)`, if it exists, has the
/// expected kind and has not expired.
fn authenticate(state: &SimState, headers: &HeaderMap, kind: CsidKind) -> Result<Csid, Unauthorized> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(Unauthorized)?;
    let (scheme, credentials) = value.trim().split_once(' ').ok_or(Unauthorized)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(Unauthorized);
    }
    let decoded = B64.decode(credentials.trim()).map_err(|_| Unauthorized)?;
    let decoded = String::from_utf8(decoded).map_err(|_| Unauthorized)?;
    let (token, secret) = decoded.split_once(':').ok_or(Unauthorized)?;
    let csid = state.authenticate(token, secret).ok_or(Unauthorized)?;
    if csid.kind != kind || csid.not_after <= SystemTime::now() {
        return Err(Unauthorized);
    }
    Ok(csid)
}

/// Parses a JSON object body.
fn json_body(body: &Bytes) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// A string field of a JSON object (numbers are accepted as their decimal text).
fn str_field(map: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    match map.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The `OTP` header, checked.
fn check_otp(state: &SimState, headers: &HeaderMap) -> Result<String, OtpRefused> {
    let otp = headers
        .get("otp")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(OtpRefused("Missing-OTP", "OTP is required in the OTP header"))?;
    match state.check_otp(otp) {
        OtpCheck::Valid => Ok(otp.to_owned()),
        OtpCheck::Expired => Err(OtpRefused("Invalid-OTP", "The provided OTP has expired")),
        OtpCheck::Unknown => Err(OtpRefused("Invalid-OTP", "The provided OTP is invalid")),
    }
}

/// Decodes the `{"csr": …}` body and checks the CSR against the environment's rules.
fn read_csr(state: &SimState, body: &Bytes) -> Result<csr::CsrRequest, CsrFailure> {
    let body = json_body(body).ok_or(CsrFailure::NotJson)?;
    let field = str_field(&body, "csr")
        .filter(|s| !s.trim().is_empty())
        .ok_or(CsrFailure::Missing)?;
    let der = csr::decode_api_field(&field).map_err(CsrFailure::Rejected)?;
    let request = csr::parse(&der).map_err(CsrFailure::Rejected)?;
    csr::check_fields(&request.fields, state.config().environment).map_err(CsrFailure::Rejected)?;
    Ok(request)
}

/// Why the CSR of a `{"csr": …}` body was refused.
enum CsrFailure {
    NotJson,
    Missing,
    Rejected(CsrRejection),
}

impl CsrFailure {
    /// The answer that refuses the CSR. A refusal by the environment's policy (the template) is
    /// answered by `not_compliant` from ZATCA's `NOT_COMPLIANT` body, which issuance and renewal
    /// wrap and number differently.
    fn answer(self, not_compliant: impl FnOnce(Value) -> Response) -> Response {
        match self {
            CsrFailure::NotJson => csid_error("Invalid-Request", "the body must be a JSON object {\"csr\": \"…\"}"),
            CsrFailure::Missing => csid_error("Missing-CSR", "CSR is required"),
            CsrFailure::Rejected(CsrRejection::Invalid(m)) => csid_error("Invalid-CSR", m),
            CsrFailure::Rejected(CsrRejection::Policy(m)) => not_compliant(
                json!({"requestID": null, "dispositionMessage": "NOT_COMPLIANT", "binarySecurityToken": null, "secret": null, "errors": [m]}),
            ),
        }
    }
}

/// The 200 body of a CSID response.
fn csid_issued(csid: &Csid, with_token_type: bool) -> Response {
    let mut body = json!({
        "requestID": csid.request_id,
        "dispositionMessage": "ISSUED",
        "binarySecurityToken": csid.token,
        "secret": csid.secret,
        "errors": null,
    });
    if with_token_type {
        body["tokenType"] =
            json!("http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3");
    }
    json_response(StatusCode::OK, &body)
}

/// `POST /compliance`: OTP + CSR → compliance CSID.
async fn compliance_csid(State(state): State<SimState>, headers: HeaderMap, body: Bytes) -> Response {
    let otp = match check_otp(&state, &headers) {
        Ok(otp) => otp,
        Err(refused) => return refused.into_response(),
    };
    let request = match read_csr(&state, &body) {
        Ok(r) => r,
        Err(failure) => return failure.answer(|refusal| json_response(StatusCode::BAD_REQUEST, &refusal)),
    };
    match state.issue_csid(CsidKind::Compliance, request) {
        Ok(csid) => {
            state.consume_otp(&otp);
            tracing::info!(request_id = csid.request_id, vat = %csid.csr.fields.config.organization_identifier, "compliance CSID issued");
            csid_issued(&csid, false)
        }
        Err(e) => {
            tracing::error!(error = %e, "compliance CSID issuance failed");
            responses::server_error()
        }
    }
}

/// `POST /production/csids`: compliance CSID + `compliance_request_id` → production CSID,
/// once every document type the CSR's `title` demands has passed the compliance check.
async fn production_csid(State(state): State<SimState>, headers: HeaderMap, body: Bytes) -> Response {
    let compliance = match authenticate(&state, &headers, CsidKind::Compliance) {
        Ok(c) => c,
        Err(refused) => return refused.into_response(),
    };
    let Some(body) = json_body(&body) else {
        return csid_error(
            "Invalid-Request",
            "the body must be a JSON object {\"compliance_request_id\": \"…\"}",
        );
    };
    let Some(id) = str_field(&body, "compliance_request_id").filter(|s| !s.trim().is_empty()) else {
        return csid_error("Invalid-ComplianceRequestId", "compliance_request_id is required");
    };
    if id.trim() != compliance.request_id.to_string() {
        return csid_error(
            "Invalid-ComplianceRequestId",
            "The compliance request id does not belong to the authenticated compliance CSID",
        );
    }
    let missing: Vec<DocumentType> = compliance.required().difference(&compliance.passed).copied().collect();
    if !missing.is_empty() {
        let names: Vec<String> = missing
            .iter()
            .map(|d| {
                serde_json::to_value(d)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            })
            .collect();
        return csid_error(
            "Missing-ComplianceSteps",
            format!(
                "Compliance steps for this CSID are not yet complete (missing: {})",
                names.join(", ")
            ),
        );
    }
    match state.issue_csid(CsidKind::Production, compliance.csr.clone()) {
        Ok(csid) => {
            tracing::info!(request_id = csid.request_id, "production CSID issued");
            csid_issued(&csid, false)
        }
        Err(e) => {
            tracing::error!(error = %e, "production CSID issuance failed");
            responses::server_error()
        }
    }
}

/// `PATCH /production/csids`: current production CSID + OTP + new CSR → new production CSID.
async fn renew_production_csid(State(state): State<SimState>, headers: HeaderMap, body: Bytes) -> Response {
    let current = match authenticate(&state, &headers, CsidKind::Production) {
        Ok(c) => c,
        Err(refused) => return refused.into_response(),
    };
    let otp = match check_otp(&state, &headers) {
        Ok(otp) => otp,
        Err(refused) => return refused.into_response(),
    };
    let request = match read_csr(&state, &body) {
        Ok(r) => r,
        Err(failure) => {
            return failure
                .answer(|refusal| json_response(StatusCode::PRECONDITION_REQUIRED, &json!({ "value": refusal })));
        }
    };
    if request.fields.config.organization_identifier != current.csr.fields.config.organization_identifier {
        return csid_error(
            "Invalid-CSR",
            "The CSR organization identifier (VAT number) does not match the certificate being renewed",
        );
    }
    match state.issue_csid(CsidKind::Production, request) {
        Ok(csid) => {
            state.consume_otp(&otp);
            tracing::info!(request_id = csid.request_id, "production CSID renewed");
            csid_issued(&csid, true)
        }
        Err(e) => {
            tracing::error!(error = %e, "production CSID renewal failed");
            responses::server_error()
        }
    }
}

/// Which document endpoint is examining a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DocEndpoint {
    Compliance,
    Reporting,
    Clearance,
}

async fn compliance_invoices(State(state): State<SimState>, headers: HeaderMap, body: Bytes) -> Response {
    match authenticate(&state, &headers, CsidKind::Compliance) {
        Ok(csid) => submit(&state, &csid, DocEndpoint::Compliance, &body),
        Err(refused) => refused.into_response(),
    }
}

/// `POST /invoices/reporting/single`. Reporting and clearance accept only a production CSID
/// ("used … for both reporting & clearance API", ZATCA on its developer community; SPEC §10.3).
/// A compliance CSID is refused like any credential the endpoint does not accept: ZATCA's
/// gateway answers `401` with its Spring body (a compliance CSID on clearance is reported as
/// "401 Unauthorized" on ZATCA's community), and neither SPEC nor the guide documents another
/// answer. `authenticate` gives exactly that when the CSID's kind is not the endpoint's.
async fn reporting(State(state): State<SimState>, headers: HeaderMap, body: Bytes) -> Response {
    match authenticate(&state, &headers, CsidKind::Production) {
        Ok(csid) => submit(&state, &csid, DocEndpoint::Reporting, &body),
        Err(refused) => refused.into_response(),
    }
}

/// `POST /invoices/clearance/single`: production CSID (see [`reporting`]) and
/// `Clearance-Status: 1`.
async fn clearance(State(state): State<SimState>, headers: HeaderMap, body: Bytes) -> Response {
    if state.clearance_disabled() {
        return responses::clearance_deactivated();
    }
    let csid = match authenticate(&state, &headers, CsidKind::Production) {
        Ok(csid) => csid,
        Err(refused) => return refused.into_response(),
    };
    // ZATCA's swagger marks `Clearance-Status` as a required header of clearance ("1" when
    // clearance is enabled; SPEC §10.3). The gateway is a Spring application (its 401 is
    // Spring's body), which answers a missing required header with its 400 body after the
    // credentials were checked; a value other than "1" contradicts the endpoint and is refused
    // as a malformed request (400 without `validationResults`, SPEC §10.4).
    match headers.get("clearance-status").map(|v| v.to_str().map(str::trim)) {
        None => return responses::missing_header("Clearance-Status"),
        Some(Ok("1")) => {}
        Some(_) => {
            return invalid_request("Clearance-Status must be 1 on /invoices/clearance/single (clearance enabled)");
        }
    }
    submit(&state, &csid, DocEndpoint::Clearance, &body)
}

/// The body of the document endpoints.
struct DocumentRequest {
    invoice_hash: Option<String>,
    uuid: Option<String>,
    invoice: Option<String>,
}

/// Examines one document and answers as ZATCA does; counts it by its `invoiceHash`.
fn submit(state: &SimState, csid: &Csid, endpoint: DocEndpoint, body: &Bytes) -> Response {
    let Some(map) = json_body(body) else {
        return invalid_request("the body must be a JSON object {\"invoiceHash\", \"uuid\", \"invoice\"}");
    };
    let req = DocumentRequest {
        invoice_hash: str_field(&map, "invoiceHash"),
        uuid: str_field(&map, "uuid"),
        invoice: str_field(&map, "invoice"),
    };
    let (status, body) = examine(state, csid, endpoint, &req);
    if let Some(hash) = req.invoice_hash.as_deref().filter(|h| !h.is_empty()) {
        state.count_invoice(hash, status.as_u16());
    }
    json_response(status, &body)
}

/// The verdict on one document: status and JSON body.
fn examine(state: &SimState, csid: &Csid, endpoint: DocEndpoint, req: &DocumentRequest) -> (StatusCode, Value) {
    let mut errors: Vec<ValidationMessage> = Vec::new();
    let mut warnings: Vec<ValidationMessage> = Vec::new();
    let mut infos: Vec<ValidationMessage> = Vec::new();

    let claimed_hash = req.invoice_hash.as_deref().map(str::trim).unwrap_or_default();
    if claimed_hash.is_empty() || B64.decode(claimed_hash).map(|b| b.len() != 32).unwrap_or(true) {
        errors.push(ValidationMessage::error(
            "Invalid-InvoiceHash",
            "INVOICE_HASHING_ERRORS",
            "The invoiceHash in the API body is missing or is not the base64 of a SHA-256 digest",
        ));
    }
    let bytes = req
        .invoice
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .and_then(|s| B64.decode(s).ok());
    let inspection = match bytes.as_deref().map(inspect) {
        None => {
            errors.push(ValidationMessage::error(
                "XSD_ZATCA_INVALID",
                "XSD validation",
                "The invoice in the API body is missing or is not base64",
            ));
            None
        }
        Some(Err(e)) => {
            errors.push(ValidationMessage::error(
                "XSD_ZATCA_INVALID",
                "XSD validation",
                csr::core_message(&e),
            ));
            None
        }
        Some(Ok(i)) => {
            infos.push(ValidationMessage::info(
                "XSD_ZATCA_VALID",
                "XSD validation",
                "Complied with UBL 2.1 standards in line with ZATCA specifications",
            ));
            Some(i)
        }
    };

    let mut document_type = None;
    if let Some(doc) = &inspection {
        if !claimed_hash.is_empty() && doc.hash != claimed_hash {
            errors.push(ValidationMessage::error(
                "invalid-invoice-hash",
                "INVOICE_HASHING_ERRORS",
                "The invoice hash API body does not match the (calculated) Hash of the XML",
            ));
        }
        // Duplicates are recognised by the (verified) hash before anything else is judged.
        if endpoint != DocEndpoint::Compliance && doc.hash == claimed_hash {
            if let Some(earlier) = state.accepted(claimed_hash) {
                return duplicate_answer(endpoint, earlier);
            }
        }
        let claimed_uuid = req.uuid.as_deref().map(str::trim).unwrap_or_default();
        if claimed_uuid != doc.uuid {
            errors.push(ValidationMessage::error(
                "invalid-invoice-uuid",
                "KSA",
                "The uuid in the API body does not match the UUID (cbc:UUID) of the XML",
            ));
        }
        check_document(state, csid, endpoint, doc, &mut errors, &mut warnings);
        if let Some(xml) = &bytes {
            schematron(xml, &mut errors, &mut warnings, &mut infos);
        }
        document_type = DocumentType::from_codes(&doc.invoice_type_code, doc.is_simplified);
    }

    let accepted = errors.is_empty();
    // ZATCA stamps the invoices it clears; the stamped XML is the `clearedInvoice`.
    let cleared = match (endpoint, accepted, &bytes, &inspection) {
        (DocEndpoint::Clearance, true, Some(submitted), Some(doc)) => {
            match state.stamp().stamp(
                submitted,
                &doc.hash,
                &riyadh_timestamp(crate::state::unix(SystemTime::now())),
            ) {
                Ok(xml) => Some(B64.encode(xml)),
                Err(e) => {
                    tracing::error!(error = %e, "stamping a cleared invoice failed");
                    return (StatusCode::INTERNAL_SERVER_ERROR, responses::server_error_body());
                }
            }
        }
        _ => None,
    };
    let status = if !accepted {
        StatusCode::BAD_REQUEST
    } else if !warnings.is_empty() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let results = ValidationResults::new(infos, warnings, errors);
    let simplified = inspection.as_ref().is_some_and(|d| d.is_simplified);
    let body = match endpoint {
        DocEndpoint::Compliance => {
            if accepted {
                if let Some(t) = document_type {
                    state.record_compliance_pass(&csid.token, t);
                }
            }
            let (reporting, clearance) = match (simplified, accepted) {
                (true, true) => (json!("REPORTED"), Value::Null),
                (true, false) => (json!("NOT_REPORTED"), Value::Null),
                (false, true) => (Value::Null, json!("CLEARED")),
                (false, false) => (Value::Null, json!("NOT_CLEARED")),
            };
            json!({"validationResults": results, "reportingStatus": reporting, "clearanceStatus": clearance,
                   "qrSellertStatus": null, "qrBuyertStatus": null})
        }
        DocEndpoint::Reporting => {
            json!({"validationResults": results, "reportingStatus": if accepted { "REPORTED" } else { "NOT_REPORTED" }})
        }
        DocEndpoint::Clearance => {
            json!({"validationResults": results, "clearanceStatus": if accepted { "CLEARED" } else { "NOT_CLEARED" },
                   "clearedInvoice": cleared})
        }
    };
    if accepted && endpoint != DocEndpoint::Compliance {
        if let Some(earlier) = state.record_accepted(claimed_hash, Accepted { body: body.clone() }) {
            return duplicate_answer(endpoint, earlier);
        }
    }
    (status, body)
}

/// 409 for reporting, 208 with the cleared invoice again for clearance (SPEC §10.4).
fn duplicate_answer(endpoint: DocEndpoint, earlier: Accepted) -> (StatusCode, Value) {
    match endpoint {
        DocEndpoint::Clearance => (StatusCode::ALREADY_REPORTED, earlier.body),
        _ => {
            let message = ValidationMessage {
                kind: "ERROR".into(),
                code: None,
                category: None,
                message: ALREADY_REPORTED.into(),
                status: "ERROR".into(),
            };
            (
                StatusCode::CONFLICT,
                json!({"validationResults": ValidationResults::new(vec![], vec![], vec![message]), "reportingStatus": "NOT_REPORTED"}),
            )
        }
    }
}

/// Maps a core issue to a ZATCA validation message. Signature, certificate and QR findings get
/// the codes, categories and texts ZATCA's gateway answers with (SPEC §8 and §10.4, and the
/// answers quoted on ZATCA's developer community); other rule findings keep their id
/// (`BR-KSA-…` in category `KSA`, others `EN_16931`); anything else keeps the core's code.
fn issue_message(issue: &zatca_core::Issue) -> ValidationMessage {
    let (code, category, text, severity) = match zatca_code(issue) {
        Some(z) => (
            z.code,
            z.category,
            z.message.map_or_else(|| issue.message.clone(), str::to_owned),
            z.severity,
        ),
        None => {
            let (code, category) = match issue.rule {
                Some(rule) if rule.starts_with("BR-KSA") => (rule, "KSA"),
                Some(rule) => (rule, "EN_16931"),
                None => (issue.code, "KSA"),
            };
            (code, category, issue.message.clone(), None)
        }
    };
    match severity.unwrap_or(issue.severity) {
        zatca_core::Severity::Error => ValidationMessage::error(code, category, text),
        zatca_core::Severity::Warning => ValidationMessage::warning(code, category, text),
    }
}

/// ZATCA's answer for one kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ZatcaCode {
    code: &'static str,
    category: &'static str,
    /// ZATCA's text, when known; else the core's message is sent.
    message: Option<&'static str>,
    /// ZATCA's severity where it differs from the core's.
    severity: Option<zatca_core::Severity>,
}

const fn zatca(code: &'static str, category: &'static str, message: Option<&'static str>) -> ZatcaCode {
    ZatcaCode {
        code,
        category,
        message,
        severity: None,
    }
}

/// ZATCA's code for a core finding about the signature, the certificate or the QR code; `None`
/// for the others (rule findings and structure).
fn zatca_code(issue: &zatca_core::Issue) -> Option<ZatcaCode> {
    Some(match issue.code {
        "invoice_hash_mismatch" => zatca("invalid-invoice-hash", "INVOICE_HASHING_ERRORS", None),
        // ZATCA's text has been seen as a warning since a 2025 gateway update; the simulator
        // keeps it an error: a document whose signature does not verify is a client bug.
        "invalid_signature" | "missing_signature_value" => zatca(
            "invalid-digital-signature",
            "SIGNATURE_ERRORS",
            Some("Invalid digital signature"),
        ),
        "signed_properties_digest_mismatch" | "missing_signed_properties" => zatca(
            "signed-properties-hashing",
            "CERTIFICATE_ERRORS",
            Some("Invalid signed properties hashing, SignedProperties with id='xadesSignedProperties'"),
        ),
        "cert_digest_mismatch" => zatca(
            "certificate-hashing",
            "CERTIFICATE_ERRORS",
            Some("Invalid certificate hashing"),
        ),
        "issuer_name_mismatch" => zatca("certificate-issuer-name", "CERTIFICATE_ERRORS", None),
        "serial_number_mismatch" => zatca("X509-Serial-Number", "SIGNATURE_ERRORS", None),
        "invalid_certificate" | "missing_certificate" => {
            zatca("invalid-signing-certificate", "CERTIFICATE_ERRORS", None)
        }
        "qr_hash_mismatch" => zatca(
            "invoiceHash_QRCODE_INVALID",
            "QRCODE_VALIDATION",
            Some("Invoice xml hash does not match with qr code invoice xml hash"),
        ),
        "invalid_qr" | "qr_too_long" => zatca(
            "QRCODE_INVALID",
            "QRCODE_VALIDATION",
            Some("Invalid QR code format, Please follow the ZATCA QR code specifications"),
        ),
        "qr_mismatch" => match qr_tag(&issue.message) {
            // ZATCA answers a QR time that differs from IssueTime with a warning (document
            // reported), not an error.
            Some(3) => ZatcaCode {
                severity: Some(zatca_core::Severity::Warning),
                ..zatca(
                    "invoiceTimeStamp_QRCODE_INVALID",
                    "QRCODE_VALIDATION",
                    Some(
                        "Time on QR Code does not match with Invoice Issue Time (KSA-25). If ZATCA's SDK was used to generate QR Code, kindly use the latest version of SDK",
                    ),
                )
            },
            Some(9) => zatca(
                "CERTIFICATE_SIGNATURE_QRCODE_INVALID",
                "QRCODE_VALIDATION",
                Some("certificate signature does not match with qr certificate signature value"),
            ),
            _ => zatca("QRCODE_INVALID", "QRCODE_VALIDATION", None),
        },
        _ => return None,
    })
}

/// The QR tag a core `qr_mismatch` finding is about: the core names it in its message
/// ("QR tag 3 (timestamp) does not match the document").
fn qr_tag(message: &str) -> Option<u8> {
    let rest = &message[message.find("tag ")? + 4..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// What ZATCA checks beyond the hash: the core's issues, the signing certificate against the
/// authenticating CSID, VAT and document-type permissions, the endpoint for the document's
/// flow, and the date rules that need a clock (BR-KSA-04, BR-KSA-98).
fn check_document(
    state: &SimState,
    csid: &Csid,
    endpoint: DocEndpoint,
    doc: &Inspection,
    errors: &mut Vec<ValidationMessage>,
    warnings: &mut Vec<ValidationMessage>,
) {
    for issue in &doc.issues {
        // ZATCA's severity, which can differ from the core's (a QR time mismatch is a warning).
        let message = issue_message(issue);
        if message.kind == "WARNING" {
            warnings.push(message);
        } else {
            errors.push(message);
        }
    }
    // ZATCA's code and text for a document signed with a certificate that is not the
    // submitting CSID's. ZATCA's simulation environment has been seen answering it as a warning;
    // the simulator refuses it (and SPEC §10.5 notes that only the sandbox does not bind the
    // signature to the key), so that a client signing with the wrong unit's key fails loudly.
    const NOT_THE_CSID: &str = "X509Certificate (CCSID / PCSID) used for signing is not valid certificate (CCSID / PCSID) for this VAT Registration Number.";
    let core_reported_certificate = doc.issues.iter().any(|i| i.code.contains("certificate"));
    match &doc.certificate_der {
        None if core_reported_certificate => {}
        None => errors.push(ValidationMessage::error(
            "invalid-signing-certificate",
            "CERTIFICATE_ERRORS",
            NOT_THE_CSID,
        )),
        Some(der) if *der != csid.certificate_der => errors.push(ValidationMessage::error(
            "invalid-signing-certificate",
            "CERTIFICATE_ERRORS",
            NOT_THE_CSID,
        )),
        Some(_) => {}
    }
    let cert_vat = &csid.csr.fields.config.organization_identifier;
    if &doc.seller_vat != cert_vat {
        errors.push(ValidationMessage::error(
            "certificate-permissions",
            "CERTIFICATE_ERRORS",
            // ZATCA's text, word for word (lower-case "vat").
            "User only allowed to use the vat number that exists in the authentication certificate",
        ));
    }
    match DocumentType::from_codes(&doc.invoice_type_code, doc.is_simplified) {
        Some(t) if !csid.required().contains(&t) => errors.push(ValidationMessage::error(
            "certificate-permissions",
            "CERTIFICATE_ERRORS",
            format!(
                "User only allowed to use the certificate for the invoice types of its title {} (this is a {} document)",
                csid.csr.fields.config.invoice_type,
                if doc.is_simplified { "simplified" } else { "standard" }
            ),
        )),
        _ => {}
    }
    let clearance_off = state.clearance_disabled();
    match endpoint {
        DocEndpoint::Reporting if !doc.is_simplified && !clearance_off => errors.push(ValidationMessage::error(
            "invalid-invoice-type",
            "KSA",
            "Invoice type (KSA-2) is a standard tax document (01); standard documents must be cleared with /invoices/clearance/single",
        )),
        DocEndpoint::Clearance if doc.is_simplified => errors.push(ValidationMessage::error(
            "invalid-invoice-type",
            "KSA",
            "Invoice type (KSA-2) is a simplified tax document (02); simplified documents must be reported with /invoices/reporting/single",
        )),
        _ => {}
    }
    let now = SystemTime::now();
    if let Some(issued) = issue_instant(&doc.issue_date, &doc.issue_time) {
        let today = riyadh_day(crate::state::unix(now));
        if let Some(day) = parse_date(&doc.issue_date) {
            if day > today {
                errors.push(ValidationMessage::error(
                    "BR-KSA-04",
                    "KSA",
                    "The document issue date (BT-2) must be less or equal to the current date.",
                ));
            }
        }
        let deadline = state.config().reporting_deadline;
        let age = crate::state::unix(now).saturating_sub(issued);
        if endpoint == DocEndpoint::Reporting && doc.is_simplified && Duration::from_secs(age) > deadline {
            warnings.push(ValidationMessage::warning(
                "BR-KSA-98",
                "KSA",
                "The simplified invoice should be submitted within 24 hours of issuing the invoice.",
            ));
        }
    }
}

/// ZATCA's schematron rules (those `zatca-rules` implements), with ZATCA's code, category and
/// text, so that the simulator rejects what ZATCA rejects for them. A rule already reported by
/// the checks above (by its id) is not repeated. The structure pass's findings (`XSD`: the UBL 2.1
/// schema) become ZATCA's `XSD_ZATCA_INVALID` errors, which replace the `XSD_ZATCA_VALID` info.
fn schematron(
    xml: &[u8],
    errors: &mut Vec<ValidationMessage>,
    warnings: &mut Vec<ValidationMessage>,
    infos: &mut Vec<ValidationMessage>,
) {
    for finding in zatca_rules::validate(xml, &zatca_rules::Context::default()).issues {
        if finding.rule == "XSD" {
            infos.retain(|m| m.code.as_deref() != Some("XSD_ZATCA_VALID"));
            let detail = finding.detail.as_deref().unwrap_or_default();
            let message = format!("{}: {detail} (at {})", finding.message, finding.location);
            errors.push(ValidationMessage::error("XSD_ZATCA_INVALID", "XSD validation", message));
            continue;
        }
        let reported = |m: &ValidationMessage| m.code.as_deref() == Some(finding.rule);
        if errors.iter().any(reported) || warnings.iter().any(reported) {
            continue;
        }
        let category = match zatca_rules::rule(finding.rule) {
            Some(r) if r.source == "KSA" => "KSA",
            Some(_) => "EN_16931",
            // `XML`: the document did not parse, which the inspection above has reported.
            None => continue,
        };
        let message = format!("[{}]-{}", finding.rule, finding.message);
        match finding.severity {
            zatca_core::Severity::Error => errors.push(ValidationMessage::error(finding.rule, category, message)),
            zatca_core::Severity::Warning => warnings.push(ValidationMessage::warning(finding.rule, category, message)),
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `yyyy-MM-ddTHH:mm:ss` in Riyadh time: the signing time of ZATCA's stamp (ZATCA writes local
/// time without a zone designator, like its SDK).
fn riyadh_timestamp(unix_now: u64) -> String {
    let local = i64::try_from(unix_now).unwrap_or(i64::MAX - RIYADH_OFFSET) + RIYADH_OFFSET;
    let (y, m, d) = civil_from_days(local.div_euclid(86_400));
    let secs = local.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `YYYY-MM-DD` as days since the epoch.
fn parse_date(s: &str) -> Option<i64> {
    let mut parts = s.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// Riyadh (UTC+3, no DST) offset in seconds.
const RIYADH_OFFSET: i64 = 3 * 3600;

/// The current day in Riyadh as days since the epoch.
fn riyadh_day(unix_now: u64) -> i64 {
    (i64::try_from(unix_now).unwrap_or(i64::MAX) + RIYADH_OFFSET).div_euclid(86_400)
}

/// The issue instant (unix seconds): `IssueTime` with `Z` is UTC, without it Riyadh time.
fn issue_instant(date: &str, time: &str) -> Option<u64> {
    let day = parse_date(date)?;
    let (clock, utc) = match time.strip_suffix('Z') {
        Some(t) => (t, true),
        None => (time, false),
    };
    let mut parts = clock.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let s: i64 = parts.next().map_or(Some(0), |p| p.parse().ok())?;
    let local = day * 86_400 + h * 3600 + m * 60 + s;
    u64::try_from(if utc { local } else { local - RIYADH_OFFSET }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2024-01-01"), Some(19_723));
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(issue_instant("1970-01-02", "03:00:00"), Some(86_400));
        assert_eq!(issue_instant("1970-01-02", "03:00:00Z"), Some(86_400 + 3 * 3600));
    }

    #[test]
    fn riyadh_day_turns_at_21_utc() {
        assert_eq!(riyadh_day(20 * 3600), 0);
        assert_eq!(riyadh_day(21 * 3600), 1);
    }

    #[test]
    fn riyadh_timestamps() {
        assert_eq!(riyadh_timestamp(0), "1970-01-01T03:00:00");
        assert_eq!(riyadh_timestamp(1_704_056_400), "2024-01-01T00:00:00");
        for day in [-1, 0, 59, 365, 19_723, 20_000] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
    }

    fn code_of(code: &'static str, message: &str) -> ValidationMessage {
        issue_message(&zatca_core::Issue::with_code(code, message))
    }

    #[test]
    fn zatca_codes_of_core_codes() {
        let m = code_of("qr_mismatch", "QR tag 1 (seller name) does not match the document");
        assert_eq!(
            (m.code.as_deref(), m.category.as_deref()),
            (Some("QRCODE_INVALID"), Some("QRCODE_VALIDATION"))
        );
        let m = code_of("qr_mismatch", "QR tag 3 (timestamp) does not match the document");
        assert_eq!(m.code.as_deref(), Some("invoiceTimeStamp_QRCODE_INVALID"));
        assert_eq!(m.kind, "WARNING");
        let m = code_of("qr_mismatch", "QR tag 9 is not the certificate's signature");
        assert_eq!(m.code.as_deref(), Some("CERTIFICATE_SIGNATURE_QRCODE_INVALID"));
        let m = code_of("invalid_signature", "x");
        assert_eq!(
            (m.code.as_deref(), m.category.as_deref()),
            (Some("invalid-digital-signature"), Some("SIGNATURE_ERRORS"))
        );
        let m = code_of("signed_properties_digest_mismatch", "x");
        assert_eq!(m.code.as_deref(), Some("signed-properties-hashing"));
        assert_eq!(
            m.message,
            "Invalid signed properties hashing, SignedProperties with id='xadesSignedProperties'"
        );
        let m = code_of("invoice_hash_mismatch", "x");
        assert_eq!(
            (m.code.as_deref(), m.category.as_deref()),
            (Some("invalid-invoice-hash"), Some("INVOICE_HASHING_ERRORS"))
        );
        // A rule finding keeps its id, unless ZATCA has its own code for it (an undecodable QR).
        let rule = issue_message(&zatca_core::Issue::with_code("missing_icv", "no ICV").rule("BR-KSA-33"));
        assert_eq!(
            (rule.code.as_deref(), rule.category.as_deref()),
            (Some("BR-KSA-33"), Some("KSA"))
        );
        let qr = issue_message(&zatca_core::Issue::with_code("invalid_qr", "bad").rule("BR-KSA-27"));
        assert_eq!(qr.code.as_deref(), Some("QRCODE_INVALID"));
        assert_eq!(code_of("missing_icv", "x").category.as_deref(), Some("KSA"));
        assert_eq!(qr_tag("QR tag 12 (x)"), Some(12));
        assert_eq!(qr_tag("no tag here"), None);
    }
}
