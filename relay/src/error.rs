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

/// An API error. Each variant's doc names its status and code.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400 `INVALID_JSON` / 400 `VALIDATION_ERROR` / 415 / 413: bad input, with details.
    #[error("{message}")]
    BadRequest {
        /// HTTP status (400, 413 or 415).
        status: StatusCode,
        /// Error code.
        code: &'static str,
        /// Message.
        message: String,
        /// Field details.
        details: Vec<Detail>,
    },
    /// 401 `UNAUTHORIZED` (no key) or `INVALID_API_KEY` (unknown or revoked key).
    #[error("{message}")]
    Unauthorized {
        /// Error code.
        code: &'static str,
        /// Message.
        message: &'static str,
    },
    /// 403 with its own code (`EGS_QUOTA_EXCEEDED`, `KEY_ENVIRONMENT_FORBIDDEN`, `SIGNUP_DISABLED`).
    #[error("{message}")]
    Forbidden {
        /// Error code.
        code: &'static str,
        /// Message.
        message: String,
    },
    /// 404 with a code (`NOT_FOUND`, `EGS_UNIT_NOT_FOUND`, `API_KEY_NOT_FOUND`).
    #[error("{message}")]
    NotFound {
        /// Error code.
        code: &'static str,
        /// Message.
        message: &'static str,
    },
    /// 400 for a request that contradicts the state or environment of the resource
    /// (`ENVIRONMENT_KEY_MISMATCH`, `EGS_UNIT_ENV_MISMATCH`, `EGS_NOT_READY`, …).
    #[error("{message}")]
    Rejected {
        /// Error code.
        code: &'static str,
        /// Message.
        message: String,
    },
    /// 409 for a conflict (`EGS_BUSY` is retryable, `LAST_ACTIVE_KEY` is not).
    #[error("{message}")]
    Conflict {
        /// Error code.
        code: &'static str,
        /// Message.
        message: String,
        /// Whether retrying later may succeed.
        retryable: bool,
    },
    /// 405 `METHOD_NOT_ALLOWED`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// ZATCA answered: 400 `INVALID_OTP`, 422 `ZATCA_REJECTED` (with ZATCA's messages), or
    /// 502/504 `ZATCA_UNAVAILABLE` (retryable).
    #[error("ZATCA: {0}")]
    Authority(#[from] AuthorityError),
    /// 500 `INTERNAL_ERROR`: logged, never shown.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// 400 `VALIDATION_ERROR` with one field detail.
    pub fn invalid_field(path: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        AppError::BadRequest {
            status: StatusCode::BAD_REQUEST,
            code: "VALIDATION_ERROR",
            message: format!("{path}: {message}"),
            details: vec![Detail::field(path, message)],
        }
    }

    /// 400 `VALIDATION_ERROR` with several field details.
    pub fn invalid_fields(details: Vec<Detail>) -> Self {
        let message = match details.as_slice() {
            [one] => format!("{}: {}", one.path.as_deref().unwrap_or("body"), one.message),
            _ => format!("{} fields are invalid", details.len()),
        };
        AppError::BadRequest {
            status: StatusCode::BAD_REQUEST,
            code: "VALIDATION_ERROR",
            message,
            details,
        }
    }

    /// 404 `EGS_UNIT_NOT_FOUND`.
    pub fn unit_not_found() -> Self {
        AppError::NotFound {
            code: "EGS_UNIT_NOT_FOUND",
            message: "EGS unit not found",
        }
    }

    /// 400 with a code and message.
    pub fn rejected(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Rejected {
            code,
            message: message.into(),
        }
    }

    /// The status, code, message, retryable flag and details of this error.
    fn parts(&self) -> (StatusCode, &'static str, String, bool, Vec<Detail>) {
        match self {
            AppError::BadRequest {
                status,
                code,
                message,
                details,
            } => (*status, code, message.clone(), false, details.clone()),
            AppError::Unauthorized { code, message } => {
                (StatusCode::UNAUTHORIZED, code, (*message).into(), false, vec![])
            }
            AppError::Forbidden { code, message } => (StatusCode::FORBIDDEN, code, message.clone(), false, vec![]),
            AppError::NotFound { code, message } => (StatusCode::NOT_FOUND, code, (*message).into(), false, vec![]),
            AppError::Rejected { code, message } => (StatusCode::BAD_REQUEST, code, message.clone(), false, vec![]),
            AppError::Conflict {
                code,
                message,
                retryable,
            } => (StatusCode::CONFLICT, code, message.clone(), *retryable, vec![]),
            AppError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "Method not allowed on this endpoint".into(),
                false,
                vec![],
            ),
            AppError::Authority(err) => authority_parts(err),
            AppError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_ERROR",
                "Internal error; it has been logged".into(),
                true,
                vec![],
            ),
        }
    }
}

fn authority_parts(err: &AuthorityError) -> (StatusCode, &'static str, String, bool, Vec<Detail>) {
    let details: Vec<Detail> = err.messages().iter().map(Detail::from).collect();
    if err.is_retryable() {
        let status = if err.is_timeout() {
            StatusCode::GATEWAY_TIMEOUT
        } else {
            StatusCode::BAD_GATEWAY
        };
        return (
            status,
            "ZATCA_UNAVAILABLE",
            format!("ZATCA is unavailable: {err}"),
            true,
            details,
        );
    }
    if err.is_otp_error() {
        return (
            StatusCode::BAD_REQUEST,
            "INVALID_OTP",
            format!("ZATCA rejected the OTP: {}", err.summary()),
            false,
            details,
        );
    }
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        "ZATCA_REJECTED",
        format!("ZATCA rejected the request: {}", err.summary()),
        false,
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
        let (status, code, message, retryable, details) = self.parts();
        match &self {
            AppError::Internal(err) => {
                tracing::error!(error = format!("{err:#}"), "request failed")
            }
            AppError::Authority(err) => tracing::warn!(error = %err, code, "ZATCA call failed"),
            _ => tracing::debug!(code, status = status.as_u16(), "request rejected"),
        }
        (status, Json(envelope(code, &message, retryable, &details))).into_response()
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
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
        let (status, code, message, _, _) = err.parts();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(code, "INTERNAL_ERROR");
        assert!(!message.contains("secret"));
    }
}
