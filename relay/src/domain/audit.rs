//! The per-unit audit log of ZATCA exchanges.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// One ZATCA exchange in the audit log (already redacted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Sequence number (0 before insertion).
    pub id: i64,
    /// The unit.
    pub egs_unit_id: Uuid,
    /// When the request was sent.
    pub at: DateTime<Utc>,
    /// `compliance_csid`, `compliance_invoice`, `production_csid`, `renew_production_csid`, …
    pub operation: String,
    /// HTTP method.
    pub method: String,
    /// Full URL.
    pub url: String,
    /// Request headers (redacted).
    pub request_headers: serde_json::Value,
    /// Request body (redacted).
    pub request_body: Option<String>,
    /// Response status (None when no response arrived).
    pub response_status: Option<u16>,
    /// Response body (redacted).
    pub response_body: Option<String>,
    /// Round-trip time.
    pub duration_ms: u64,
    /// Transport error, if any.
    pub error: Option<String>,
}
