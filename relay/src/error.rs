//! The API's one error type and its envelope:
//! `{"error": {"code": "...", "message": "...", "retryable": false}}`, with an optional
//! `details` array (field paths of invalid input, ZATCA's own messages). Server-side failures
//! are logged once here and answered with a generic message: internals never reach the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::authority::{AuthorityError, ZatcaMessage};

pub use crate::domain::Detail;

impl From<&ZatcaMessage> for Detail {
    fn from(m: &ZatcaMessage) -> Self {
        Detail {
            code: m.code.clone(),
            path: None,
            category: m.category.clone(),
            message: m.message.clone(),
        }
    }
}

/// Every error code of the API, with its HTTP status, whether retrying may help, and a default
/// message: the one place these are decided. Statuses follow the hosted API's documentation
/// (`EGS_UNIT_NOT_FOUND` is 400 there, wherever the unit is named).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 400: the body is not JSON, or not a JSON object.
    InvalidJson,
    /// 400: a field is missing or wrong (`details[].path`).
    ValidationError,
    /// 400: the body could not be read.
    InvalidBody,
    /// 400: no `egs_unit_id` and the key has no default unit.
    EgsUnitRequired,
    /// 400: the unit's certificate does not cover this invoice type.
    InvoiceTypeNotAllowed,
    /// 400: the seller VAT number is not the unit's certificate's.
    SellerVatMismatch,
    /// 400: a note for a B2B invoice needs the buyer.
    BuyerRequiredForB2bNote,
    /// 400: the note's total exceeds the original's.
    CreditNoteTotalExceedsOriginal,
    /// 400: the original invoice is not reported or cleared yet.
    OriginalInvoiceNotReady,
    /// 404: no such original invoice in the account.
    OriginalInvoiceNotFound,
    /// 404: no such invoice in the account.
    InvoiceNotFound,
    /// 409: the `Idempotency-Key` was used with another request.
    IdempotencyKeyReused,
    /// 400: a device-signed document fails verification (hash, signature, certificate).
    InvalidSignedInvoice,
    /// 409: another document of the unit holds this ICV.
    ChainConflict,
    /// 400: a request the relay could not understand (answers of lower layers).
    BadRequest,
    /// 408: the body did not arrive within the body timeout.
    RequestTimeout,
    /// 413: the body is larger than the limit.
    PayloadTooLarge,
    /// 415: the body is not sent as JSON.
    UnsupportedMediaType,
    /// 401: no API key.
    Unauthorized,
    /// 401: unknown or revoked API key.
    InvalidApiKey,
    /// 403: a sandbox key asked for production keys.
    KeyEnvironmentForbidden,
    /// 403: self sign-up is off.
    SignupDisabled,
    /// 403: sign-up may not create production accounts here.
    ProductionSignupDisabled,
    /// 403: the plan's unit quota is used up.
    EgsQuotaExceeded,
    /// 404: no such endpoint.
    NotFound,
    /// 404: no such API key (or not one the caller may manage).
    ApiKeyNotFound,
    /// 404: no such webhook endpoint in the account and environment of the key.
    WebhookEndpointNotFound,
    /// 400: no such EGS unit in the account.
    EgsUnitNotFound,
    /// 400: `environment` differs from the key's.
    EnvironmentKeyMismatch,
    /// 400: the unit is in the other environment than the key.
    EgsUnitEnvMismatch,
    /// 400: the unit's onboarding is not complete.
    EgsNotReady,
    /// 400: an OTP is needed.
    OtpRequired,
    /// 400: the CSR cannot be used.
    InvalidCsr,
    /// 400: ZATCA refused the OTP.
    InvalidOtp,
    /// 400: phase 1 units have no CSID or compliance step.
    Phase1Unit,
    /// 400: the operation is for the other key custody.
    CustodyMismatch,
    /// 400: the API key is revoked.
    ApiKeyRevoked,
    /// 405: method not allowed on this endpoint.
    MethodNotAllowed,
    /// 405: units cannot be deleted.
    EgsUnitNotDeletable,
    /// 409: the account's last active key.
    LastActiveKey,
    /// 409: every compliance document was accepted already.
    ComplianceComplete,
    /// 409: only a failed unit can retry its onboarding.
    EgsNotFailed,
    /// 409 (retryable): another operation on the unit is running.
    EgsBusy,
    /// 409 (retryable): other requests changed the same resource at the same moment, every
    /// time this change was about to be saved (optimistic concurrency gave up).
    ConcurrentUpdate,
    /// 422: ZATCA rejected the request (its messages in `details`).
    ZatcaRejected,
    /// 422: ZATCA rejected a device's compliance document.
    ComplianceDocumentRejected,
    /// 500 (retryable): logged, never shown.
    InternalError,
    /// 502 (retryable): ZATCA answered with an error status or could not be reached.
    ZatcaUnavailable,
    /// 429 (retryable): the API key's request rate is used up (`Retry-After` says for how long).
    RateLimited,
    /// 503 (retryable): every connection slot is busy.
    ServerBusy,
    /// 504 (retryable): ZATCA did not answer in time.
    ZatcaTimeout,
}

impl ErrorCode {
    /// Every code (for the uniqueness test and documentation).
    pub const ALL: [ErrorCode; 51] = [
        ErrorCode::InvalidSignedInvoice,
        ErrorCode::ChainConflict,
        ErrorCode::EgsUnitRequired,
        ErrorCode::InvoiceTypeNotAllowed,
        ErrorCode::SellerVatMismatch,
        ErrorCode::BuyerRequiredForB2bNote,
        ErrorCode::CreditNoteTotalExceedsOriginal,
        ErrorCode::OriginalInvoiceNotReady,
        ErrorCode::OriginalInvoiceNotFound,
        ErrorCode::InvoiceNotFound,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::InvalidJson,
        ErrorCode::ValidationError,
        ErrorCode::InvalidBody,
        ErrorCode::BadRequest,
        ErrorCode::RequestTimeout,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::Unauthorized,
        ErrorCode::InvalidApiKey,
        ErrorCode::KeyEnvironmentForbidden,
        ErrorCode::SignupDisabled,
        ErrorCode::ProductionSignupDisabled,
        ErrorCode::EgsQuotaExceeded,
        ErrorCode::NotFound,
        ErrorCode::ApiKeyNotFound,
        ErrorCode::WebhookEndpointNotFound,
        ErrorCode::EgsUnitNotFound,
        ErrorCode::EnvironmentKeyMismatch,
        ErrorCode::EgsUnitEnvMismatch,
        ErrorCode::EgsNotReady,
        ErrorCode::OtpRequired,
        ErrorCode::InvalidCsr,
        ErrorCode::InvalidOtp,
        ErrorCode::Phase1Unit,
        ErrorCode::CustodyMismatch,
        ErrorCode::ApiKeyRevoked,
        ErrorCode::MethodNotAllowed,
        ErrorCode::EgsUnitNotDeletable,
        ErrorCode::LastActiveKey,
        ErrorCode::ComplianceComplete,
        ErrorCode::EgsNotFailed,
        ErrorCode::EgsBusy,
        ErrorCode::ConcurrentUpdate,
        ErrorCode::ZatcaRejected,
        ErrorCode::ComplianceDocumentRejected,
        ErrorCode::InternalError,
        ErrorCode::ZatcaUnavailable,
        ErrorCode::RateLimited,
        ErrorCode::ServerBusy,
        ErrorCode::ZatcaTimeout,
    ];

    /// The code as it appears in the envelope.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidJson => "INVALID_JSON",
            ValidationError => "VALIDATION_ERROR",
            InvalidBody => "INVALID_BODY",
            EgsUnitRequired => "EGS_UNIT_REQUIRED",
            InvoiceTypeNotAllowed => "INVOICE_TYPE_NOT_ALLOWED",
            SellerVatMismatch => "SELLER_VAT_MISMATCH",
            BuyerRequiredForB2bNote => "BUYER_REQUIRED_FOR_B2B_NOTE",
            CreditNoteTotalExceedsOriginal => "CREDIT_NOTE_TOTAL_EXCEEDS_ORIGINAL",
            OriginalInvoiceNotReady => "ORIGINAL_INVOICE_NOT_READY",
            OriginalInvoiceNotFound => "ORIGINAL_INVOICE_NOT_FOUND",
            InvoiceNotFound => "INVOICE_NOT_FOUND",
            IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            InvalidSignedInvoice => "INVALID_SIGNED_INVOICE",
            ChainConflict => "CHAIN_CONFLICT",
            BadRequest => "BAD_REQUEST",
            RequestTimeout => "REQUEST_TIMEOUT",
            PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Unauthorized => "UNAUTHORIZED",
            InvalidApiKey => "INVALID_API_KEY",
            KeyEnvironmentForbidden => "KEY_ENVIRONMENT_FORBIDDEN",
            SignupDisabled => "SIGNUP_DISABLED",
            ProductionSignupDisabled => "PRODUCTION_SIGNUP_DISABLED",
            EgsQuotaExceeded => "EGS_QUOTA_EXCEEDED",
            NotFound => "NOT_FOUND",
            ApiKeyNotFound => "API_KEY_NOT_FOUND",
            WebhookEndpointNotFound => "WEBHOOK_ENDPOINT_NOT_FOUND",
            EgsUnitNotFound => "EGS_UNIT_NOT_FOUND",
            EnvironmentKeyMismatch => "ENVIRONMENT_KEY_MISMATCH",
            EgsUnitEnvMismatch => "EGS_UNIT_ENV_MISMATCH",
            EgsNotReady => "EGS_NOT_READY",
            OtpRequired => "OTP_REQUIRED",
            InvalidCsr => "INVALID_CSR",
            InvalidOtp => "INVALID_OTP",
            Phase1Unit => "PHASE_1_UNIT",
            CustodyMismatch => "CUSTODY_MISMATCH",
            ApiKeyRevoked => "API_KEY_REVOKED",
            MethodNotAllowed => "METHOD_NOT_ALLOWED",
            EgsUnitNotDeletable => "EGS_UNIT_NOT_DELETABLE",
            LastActiveKey => "LAST_ACTIVE_KEY",
            ComplianceComplete => "COMPLIANCE_COMPLETE",
            EgsNotFailed => "EGS_NOT_FAILED",
            EgsBusy => "EGS_BUSY",
            ConcurrentUpdate => "CONCURRENT_UPDATE",
            ZatcaRejected => "ZATCA_REJECTED",
            ComplianceDocumentRejected => "COMPLIANCE_DOCUMENT_REJECTED",
            InternalError => "INTERNAL_ERROR",
            ZatcaUnavailable => "ZATCA_UNAVAILABLE",
            RateLimited => "RATE_LIMITED",
            ServerBusy => "SERVER_BUSY",
            ZatcaTimeout => "ZATCA_TIMEOUT",
        }
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            EgsUnitRequired
            | InvoiceTypeNotAllowed
            | SellerVatMismatch
            | BuyerRequiredForB2bNote
            | CreditNoteTotalExceedsOriginal
            | OriginalInvoiceNotReady => StatusCode::BAD_REQUEST,
            OriginalInvoiceNotFound | InvoiceNotFound => StatusCode::NOT_FOUND,
            IdempotencyKeyReused | ChainConflict => StatusCode::CONFLICT,
            InvalidSignedInvoice => StatusCode::BAD_REQUEST,
            InvalidJson
            | ValidationError
            | InvalidBody
            | BadRequest
            | EgsUnitNotFound
            | EnvironmentKeyMismatch
            | EgsUnitEnvMismatch
            | EgsNotReady
            | OtpRequired
            | InvalidCsr
            | InvalidOtp
            | Phase1Unit
            | CustodyMismatch
            | ApiKeyRevoked => StatusCode::BAD_REQUEST,
            RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Unauthorized | InvalidApiKey => StatusCode::UNAUTHORIZED,
            KeyEnvironmentForbidden | SignupDisabled | ProductionSignupDisabled | EgsQuotaExceeded => {
                StatusCode::FORBIDDEN
            }
            NotFound | ApiKeyNotFound | WebhookEndpointNotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed | EgsUnitNotDeletable => StatusCode::METHOD_NOT_ALLOWED,
            LastActiveKey | ComplianceComplete | EgsNotFailed | EgsBusy | ConcurrentUpdate => StatusCode::CONFLICT,
            ZatcaRejected | ComplianceDocumentRejected => StatusCode::UNPROCESSABLE_ENTITY,
            InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            ZatcaUnavailable => StatusCode::BAD_GATEWAY,
            RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ServerBusy => StatusCode::SERVICE_UNAVAILABLE,
            ZatcaTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// Whether the same request may succeed later.
    pub fn retryable(self) -> bool {
        use ErrorCode::*;
        matches!(
            self,
            EgsBusy | ConcurrentUpdate | InternalError | ZatcaUnavailable | RateLimited | ServerBusy | ZatcaTimeout
        )
    }

    /// The message used when the caller gives none.
    pub fn default_message(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidJson => "The request body must be a JSON object",
            ValidationError => "Some fields are invalid",
            InvalidBody => "The request body could not be read",
            EgsUnitRequired => {
                "Provide egs_unit_id in the request body or set a default EGS unit for this API key in the dashboard."
            }
            InvoiceTypeNotAllowed => "This EGS unit is not onboarded for this invoice type",
            SellerVatMismatch => "The seller VAT number is not the EGS unit's",
            BuyerRequiredForB2bNote => "Buyer required when original invoice was B2B",
            CreditNoteTotalExceedsOriginal => "Credit note total must not exceed original invoice total",
            OriginalInvoiceNotReady => "Original invoice must be reported or cleared",
            OriginalInvoiceNotFound => "Original invoice not found",
            InvoiceNotFound => "Invoice not found",
            IdempotencyKeyReused => "This Idempotency-Key was used with a different request",
            InvalidSignedInvoice => "The signed invoice cannot be accepted",
            ChainConflict => "Another document of this EGS unit holds this ICV",
            BadRequest => "The request could not be understood",
            RequestTimeout => "The request body did not arrive in time",
            PayloadTooLarge => "Request body is too large",
            UnsupportedMediaType => "Send the body as JSON with `Content-Type: application/json`",
            Unauthorized => "Missing API key: send the header `Authorization: Bearer <your API key>`",
            InvalidApiKey => "Invalid or revoked API key",
            KeyEnvironmentForbidden => "A sandbox (zatca_test_) key cannot manage production keys",
            SignupDisabled => "Self sign-up is disabled on this relay",
            ProductionSignupDisabled => {
                "Sign-up creates sandbox accounts on this relay; production access is granted by its operator"
            }
            EgsQuotaExceeded => "The plan's EGS unit quota is used up",
            NotFound => "No such endpoint",
            ApiKeyNotFound => "API key not found",
            WebhookEndpointNotFound => "Webhook endpoint not found",
            EgsUnitNotFound => "EGS unit not found",
            EnvironmentKeyMismatch => "The environment does not match the API key",
            EgsUnitEnvMismatch => "The EGS unit is in the other environment than this API key",
            EgsNotReady => "EGS unit onboarding not complete",
            OtpRequired => "An OTP from the Fatoora portal is required",
            InvalidCsr => "The CSR cannot be used",
            InvalidOtp => "ZATCA rejected the OTP",
            Phase1Unit => "Phase 1 units have no CSID",
            CustodyMismatch => "This operation is for the other key custody",
            ApiKeyRevoked => "This API key is revoked",
            MethodNotAllowed => "Method not allowed on this endpoint",
            EgsUnitNotDeletable => "EGS units cannot be deleted",
            LastActiveKey => "This is the account's last active key; create another before revoking it",
            ComplianceComplete => "All compliance documents were already accepted",
            EgsNotFailed => "Only a unit whose onboarding failed can be retried",
            EgsBusy => "Another operation on this EGS unit is in progress; retry shortly",
            ConcurrentUpdate => "Other requests changed this resource at the same moment; retry shortly",
            ZatcaRejected => "ZATCA rejected the request",
            ComplianceDocumentRejected => "ZATCA rejected the compliance document",
            InternalError => "Internal error; it has been logged",
            ZatcaUnavailable => "ZATCA is unavailable",
            RateLimited => "Too many requests for this API key; retry after the seconds in Retry-After",
            ServerBusy => "The relay has too many open connections; retry shortly",
            ZatcaTimeout => "ZATCA did not answer in time",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API error: a code (which decides status and retryability) with its message and details,
/// ZATCA's answer, or an internal failure.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// An error with a code from [`ErrorCode`].
    #[error("{code}: {message}")]
    Api {
        /// The code.
        code: ErrorCode,
        /// Message for the caller.
        message: String,
        /// Field paths of invalid input, or ZATCA's messages.
        details: Vec<Detail>,
    },
    /// ZATCA answered: `INVALID_OTP`, `ZATCA_REJECTED` (with ZATCA's messages), or
    /// `ZATCA_UNAVAILABLE` / `ZATCA_TIMEOUT` (retryable).
    #[error("ZATCA: {0}")]
    Authority(#[from] AuthorityError),
    /// `INTERNAL_ERROR`: logged, never shown.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl From<ErrorCode> for AppError {
    fn from(code: ErrorCode) -> Self {
        AppError::api(code, code.default_message())
    }
}

impl AppError {
    /// An error with a code and a message.
    pub fn api(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError::Api {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// The same error with details.
    pub fn with_details(self, details: Vec<Detail>) -> Self {
        match self {
            AppError::Api { code, message, .. } => AppError::Api { code, message, details },
            other => other,
        }
    }

    /// 400 `VALIDATION_ERROR` with one field detail.
    pub fn invalid_field(path: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        AppError::api(ErrorCode::ValidationError, format!("{path}: {message}"))
            .with_details(vec![Detail::field(path, message)])
    }

    /// 400 `VALIDATION_ERROR` with several field details.
    pub fn invalid_fields(details: Vec<Detail>) -> Self {
        let message = match details.as_slice() {
            [one] => format!("{}: {}", one.path.as_deref().unwrap_or("body"), one.message),
            _ => format!("{} fields are invalid", details.len()),
        };
        AppError::api(ErrorCode::ValidationError, message).with_details(details)
    }

    /// 400 `EGS_UNIT_NOT_FOUND`.
    pub fn unit_not_found() -> Self {
        ErrorCode::EgsUnitNotFound.into()
    }

    /// The code, message and details of this error.
    fn parts(&self) -> (ErrorCode, String, Vec<Detail>) {
        match self {
            AppError::Api { code, message, details } => (*code, message.clone(), details.clone()),
            AppError::Authority(err) => authority_parts(err),
            AppError::Internal(_) => (
                ErrorCode::InternalError,
                ErrorCode::InternalError.default_message().into(),
                vec![],
            ),
        }
    }
}

fn authority_parts(err: &AuthorityError) -> (ErrorCode, String, Vec<Detail>) {
    let details: Vec<Detail> = err.messages().iter().map(Detail::from).collect();
    if err.is_retryable() {
        let code = if err.is_timeout() {
            ErrorCode::ZatcaTimeout
        } else {
            ErrorCode::ZatcaUnavailable
        };
        return (code, format!("ZATCA is unavailable: {err}"), details);
    }
    if err.is_otp_error() {
        return (
            ErrorCode::InvalidOtp,
            format!("ZATCA rejected the OTP: {}", err.summary()),
            details,
        );
    }
    (
        ErrorCode::ZatcaRejected,
        format!("ZATCA rejected the request: {}", err.summary()),
        details,
    )
}

/// The JSON envelope of an error.
pub fn envelope(code: &str, message: &str, retryable: bool, details: &[Detail]) -> Value {
    let mut error = json!({ "code": code, "message": message, "retryable": retryable });
    if !details.is_empty() {
        error["details"] = json!(details);
    }
    json!({ "error": error })
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (code, message, details) = self.parts();
        let status = code.status();
        match &self {
            AppError::Internal(err) => {
                tracing::error!(error = format!("{err:#}"), "request failed")
            }
            AppError::Authority(err) => tracing::warn!(error = %err, code = code.as_str(), "ZATCA call failed"),
            AppError::Api { .. } => tracing::debug!(code = code.as_str(), status = status.as_u16(), "request rejected"),
        }
        (
            status,
            Json(envelope(code.as_str(), &message, code.retryable(), &details)),
        )
            .into_response()
    }
}

impl From<crate::store::StoreError> for AppError {
    fn from(err: crate::store::StoreError) -> Self {
        AppError::Internal(anyhow::Error::new(err).context("database"))
    }
}

impl From<crate::secret::SecretError> for AppError {
    fn from(err: crate::secret::SecretError) -> Self {
        AppError::Internal(anyhow::Error::new(err))
    }
}

/// Handler result.
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_shape() {
        let v = envelope("EGS_UNIT_NOT_FOUND", "EGS unit not found", false, &[]);
        assert_eq!(
            v,
            json!({"error": {"code": "EGS_UNIT_NOT_FOUND", "message": "EGS unit not found", "retryable": false}})
        );
        let v = envelope(
            "VALIDATION_ERROR",
            "x",
            false,
            &[Detail::field("otp", "must not be empty")],
        );
        assert_eq!(v["error"]["details"][0]["path"], "otp");
    }

    #[test]
    fn internal_errors_do_not_leak() {
        let err = AppError::Internal(anyhow::anyhow!("secret table name"));
        let (code, message, _) = err.parts();
        assert_eq!(code.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(code.as_str(), "INTERNAL_ERROR");
        assert!(!message.contains("secret"));
    }

    #[test]
    fn every_code_is_unique_upper_snake_and_has_a_message() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "{text}"
            );
            assert!(!code.default_message().is_empty());
            assert!(
                code.status().is_client_error() || code.status().is_server_error(),
                "{text}"
            );
            if code.retryable() {
                // Besides 5xx, only "wait and retry" client errors: 409 EGS_BUSY and
                // CONCURRENT_UPDATE, 429 RATE_LIMITED.
                assert!(
                    code.status().is_server_error()
                        || matches!(
                            code,
                            ErrorCode::EgsBusy | ErrorCode::ConcurrentUpdate | ErrorCode::RateLimited
                        ),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn documented_statuses() {
        // hosted-api-invoices.txt / hosted-api-egs-units.txt
        assert_eq!(ErrorCode::EgsUnitNotFound.status(), StatusCode::BAD_REQUEST);
        assert_eq!(ErrorCode::EgsUnitEnvMismatch.status(), StatusCode::BAD_REQUEST);
        assert_eq!(ErrorCode::EgsNotReady.status(), StatusCode::BAD_REQUEST);
        assert_eq!(ErrorCode::EnvironmentKeyMismatch.status(), StatusCode::BAD_REQUEST);
    }
}
