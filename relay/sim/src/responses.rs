//! ZATCA's response bodies (SPEC §10.4), built in one place so every endpoint answers in the
//! same shapes as the real gateway.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The `406` text (SPEC §10.2).
pub const VERSION_NOT_SUPPORTED: &str = "This Version is not supported or not provided in the header.";

/// The `303` message when clearance is switched off (ZATCA's spelling).
pub const CLEARANCE_DEACTIVATED: &str =
    "Clearance is deactiviated. Please use the /invoices/reporting/single endpoint instead.";

/// The `409` message of reporting duplicates.
pub const ALREADY_REPORTED: &str = "Invoice was already Reported successfully earlier.";

/// Marker put on responses produced by fault injection, read by the counting middleware.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Faulted;

/// One entry of `infoMessages` / `warningMessages` / `errorMessages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationMessage {
    /// `INFO`, `WARNING` or `ERROR`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Rule id or error code (`BR-KSA-98`, `invalid-invoice-hash`, `XSD_ZATCA_VALID`).
    pub code: Option<String>,
    /// `XSD validation`, `KSA`, `EN_16931`, `SIGNATURE_ERRORS`, `QRCODE_VALIDATION`, …
    pub category: Option<String>,
    /// Human text.
    pub message: String,
    /// `PASS`, `WARNING` or `ERROR`.
    pub status: String,
}

impl ValidationMessage {
    /// An `ERROR` entry.
    pub fn error(code: &str, category: &str, message: impl Into<String>) -> Self {
        Self::entry("ERROR", "ERROR", code, category, message)
    }

    /// A `WARNING` entry.
    pub fn warning(code: &str, category: &str, message: impl Into<String>) -> Self {
        Self::entry("WARNING", "WARNING", code, category, message)
    }

    /// An `INFO` entry (ZATCA gives info entries the status `PASS`).
    pub fn info(code: &str, category: &str, message: impl Into<String>) -> Self {
        Self::entry("INFO", "PASS", code, category, message)
    }

    fn entry(kind: &str, status: &str, code: &str, category: &str, message: impl Into<String>) -> Self {
        ValidationMessage {
            kind: kind.into(),
            code: Some(code.into()),
            category: Some(category.into()),
            message: message.into(),
            status: status.into(),
        }
    }
}

/// `validationResults`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationResults {
    /// Passed checks.
    pub info_messages: Vec<ValidationMessage>,
    /// Warnings (document accepted, HTTP 202).
    pub warning_messages: Vec<ValidationMessage>,
    /// Errors (document rejected, HTTP 400).
    pub error_messages: Vec<ValidationMessage>,
    /// `PASS`, `WARNING` or `ERROR`.
    pub status: String,
}

impl ValidationResults {
    /// Results from info, warning and error lists; the status follows from them.
    pub fn new(
        info_messages: Vec<ValidationMessage>,
        warning_messages: Vec<ValidationMessage>,
        error_messages: Vec<ValidationMessage>,
    ) -> Self {
        let status = if !error_messages.is_empty() {
            "ERROR"
        } else if !warning_messages.is_empty() {
            "WARNING"
        } else {
            "PASS"
        };
        ValidationResults {
            info_messages,
            warning_messages,
            error_messages,
            status: status.into(),
        }
    }
}

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    (status, axum::Json(body.clone())).into_response()
}

/// `400 {"errors":[{"code","message"}]}` of the CSID endpoints.
pub(crate) fn csid_error(code: &str, message: impl Into<String>) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"errors": [{"code": code, "message": message.into()}]}),
    )
}

/// A malformed request body on the document endpoints: 400 without `validationResults`.
pub(crate) fn invalid_request(message: impl Into<String>) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"code": "Invalid-Request", "message": message.into()}),
    )
}

/// `401` with Spring's body, as ZATCA answers.
pub(crate) fn unauthorized() -> Response {
    let timestamp = crate::state::unix(std::time::SystemTime::now()) * 1000;
    json_response(
        StatusCode::UNAUTHORIZED,
        &json!({"timestamp": timestamp, "status": 401, "error": "Unauthorized", "message": ""}),
    )
}

/// `400` for a missing required header, in the shape of the gateway's Spring errors (the same
/// shape as its 401) with Spring's text for a missing `@RequestHeader`.
pub(crate) fn missing_header(name: &str) -> Response {
    let timestamp = crate::state::unix(std::time::SystemTime::now()) * 1000;
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"timestamp": timestamp, "status": 400, "error": "Bad Request",
                "message": format!("Required request header '{name}' for method parameter type String is not present")}),
    )
}

/// `406` plain text.
pub(crate) fn version_not_supported() -> Response {
    (
        StatusCode::NOT_ACCEPTABLE,
        [(header::CONTENT_TYPE, "text/plain;charset=UTF-8")],
        VERSION_NOT_SUPPORTED,
    )
        .into_response()
}

/// ZATCA's `HTTP-Errors` body of a 500.
pub(crate) fn server_error_body() -> Value {
    json!({"category": "HTTP-Errors", "code": "500", "message": "Something went wrong and caused an Internal Server Error."})
}

/// `500` with ZATCA's `HTTP-Errors` body.
pub(crate) fn server_error() -> Response {
    json_response(StatusCode::INTERNAL_SERVER_ERROR, &server_error_body())
}

/// An injected `500`.
pub(crate) fn injected_server_error() -> Response {
    let mut resp = server_error();
    resp.extensions_mut().insert(Faulted);
    resp
}

/// An injected `429` with `Retry-After`.
pub(crate) fn injected_rate_limit(retry_after_secs: u64) -> Response {
    let mut resp = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        &json!({"category": "HTTP-Errors", "code": "429", "message": "Too Many Requests"}),
    );
    if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp.extensions_mut().insert(Faulted);
    resp
}

/// `303` while clearance is switched off (no `Location`, as ZATCA: clients must resend to
/// reporting themselves).
pub(crate) fn clearance_deactivated() -> Response {
    let mut resp = json_response(StatusCode::SEE_OTHER, &json!({"message": CLEARANCE_DEACTIVATED}));
    resp.extensions_mut().insert(Faulted);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_messages() {
        let w = ValidationMessage::warning("BR-KSA-98", "KSA", "late");
        let e = ValidationMessage::error("BR-KSA-37", "KSA", "bad");
        assert_eq!(ValidationResults::new(vec![], vec![], vec![]).status, "PASS");
        assert_eq!(
            ValidationResults::new(vec![], vec![w.clone()], vec![]).status,
            "WARNING"
        );
        assert_eq!(ValidationResults::new(vec![], vec![w], vec![e]).status, "ERROR");
    }

    #[test]
    fn validation_results_serialize_in_zatca_shape() {
        let r = ValidationResults::new(
            vec![ValidationMessage::info("XSD_ZATCA_VALID", "XSD validation", "ok")],
            vec![],
            vec![],
        );
        let v = serde_json::to_value(&r).unwrap_or_default();
        assert_eq!(v["infoMessages"][0]["type"], "INFO");
        assert_eq!(v["infoMessages"][0]["status"], "PASS");
        assert!(v["warningMessages"].as_array().is_some_and(Vec::is_empty));
        assert_eq!(v["status"], "PASS");
    }
}
