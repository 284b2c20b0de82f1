//! The tax authority: what the relay asks of ZATCA's Fatoora API (SPEC §10), as a trait so the
//! HTTP client ([`http::ZatcaClient`]) can be replaced in tests, plus its error type with
//! [`AuthorityError::is_retryable`], which the job queue uses to decide between back-off and a
//! terminal failure.

pub mod http;

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::Environment;
use crate::secret::SecretString;

/// A CSID (compliance or production) as ZATCA issues it.
#[derive(Clone, PartialEq, Eq)]
pub struct Csid {
    /// `requestID` (the compliance one is the `compliance_request_id` of `/production/csids`).
    pub request_id: String,
    /// `dispositionMessage`, e.g. `ISSUED`.
    pub disposition: String,
    /// `binarySecurityToken`, verbatim: base64 of the certificate's base64 DER.
    pub token: String,
    /// `secret`.
    pub secret: SecretString,
}

impl fmt::Debug for Csid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Csid")
            .field("request_id", &self.request_id)
            .field("disposition", &self.disposition)
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

/// Credentials for Basic authentication: a CSID's token and secret.
#[derive(Clone)]
pub struct Credentials {
    /// `binarySecurityToken` verbatim.
    pub token: String,
    /// `secret`.
    pub secret: SecretString,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials([redacted])")
    }
}

/// One message from ZATCA: a CSID error (`code`, `message`) or a validation result
/// (`type`, `code`, `category`, `message`, `status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZatcaMessage {
    /// `ERROR`, `WARNING` or `INFO` (validation results only).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// ZATCA's code, e.g. `Invalid-OTP`, `BR-KSA-37`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Category, e.g. `KSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The message.
    #[serde(default)]
    pub message: String,
}

/// The result of a compliance-check submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceResult {
    /// HTTP status (200, or 202 = accepted with warnings).
    pub status: u16,
    /// `validationResults.status`: `PASS`, `WARNING` or `ERROR`.
    pub validation_status: String,
    /// `reportingStatus` or `clearanceStatus`.
    pub outcome: Option<String>,
    /// Warning messages.
    pub warnings: Vec<ZatcaMessage>,
    /// Error messages (non-empty means rejected).
    pub errors: Vec<ZatcaMessage>,
    /// The whole response body.
    pub body: serde_json::Value,
}

impl ComplianceResult {
    /// Whether ZATCA accepted the document (warnings allowed).
    pub fn accepted(&self) -> bool {
        self.errors.is_empty() && self.validation_status != "ERROR"
    }
}

/// A signed document sent for reporting or clearance.
#[derive(Debug, Clone, Copy)]
pub struct DocumentSubmission<'a> {
    /// `invoiceHash`, base64.
    pub invoice_hash: &'a str,
    /// `uuid`.
    pub uuid: &'a str,
    /// `invoice`: base64 of the signed XML.
    pub invoice_base64: &'a str,
}

/// ZATCA's answer to a reporting or clearance request that it processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionResult {
    /// HTTP status: 200, 202 (accepted with warnings), 208/409 (duplicate) or 400 (rejected).
    pub status: u16,
    /// `REPORTED` / `CLEARED` or `NOT_REPORTED` / `NOT_CLEARED`.
    pub outcome: Option<String>,
    /// `validationResults.status`: `PASS`, `WARNING` or `ERROR`.
    pub validation_status: String,
    /// Warning messages.
    pub warnings: Vec<ZatcaMessage>,
    /// Error messages (non-empty means rejected).
    pub errors: Vec<ZatcaMessage>,
    /// Clearance: ZATCA's cleared XML (decoded from base64).
    pub cleared_xml: Option<Vec<u8>>,
    /// ZATCA already had this document (409 on reporting, 208 on clearance).
    pub duplicate: bool,
}

impl SubmissionResult {
    /// Whether ZATCA accepted the document (now or earlier).
    pub fn accepted(&self) -> bool {
        self.duplicate || (self.errors.is_empty() && self.validation_status != "ERROR" && self.status < 300)
    }
}

/// Which unit a call is made for: the audit log is kept per unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallContext {
    /// The unit.
    pub unit_id: Uuid,
    /// Its environment (selects the base URL).
    pub environment: Environment,
}

/// A failed call to ZATCA.
#[derive(Debug, thiserror::Error)]
pub enum AuthorityError {
    /// No answer: connection failure or timeout.
    #[error("no response from ZATCA ({reason})")]
    Transport {
        /// What happened (no URL, no secrets).
        reason: String,
        /// Whether it was a timeout.
        timeout: bool,
    },
    /// ZATCA answered with an error status.
    #[error("HTTP {status}: {}", summarize(messages, body))]
    Status {
        /// HTTP status.
        status: u16,
        /// Messages parsed from the body.
        messages: Vec<ZatcaMessage>,
        /// Raw body (redacted, truncated).
        body: String,
        /// `Retry-After` in seconds, when ZATCA sent one (429, 503).
        retry_after_secs: Option<u64>,
    },
    /// ZATCA answered 2xx with a body that is not what the API documents.
    #[error("unexpected response: {0}")]
    Unexpected(String),
}

fn summarize(messages: &[ZatcaMessage], body: &str) -> String {
    if messages.is_empty() {
        body.chars().take(200).collect()
    } else {
        messages
            .iter()
            .map(|m| match &m.code {
                Some(code) => format!("{code}: {}", m.message),
                None => m.message.clone(),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl AuthorityError {
    /// Whether trying again later may succeed: no answer, 429 or 5xx (SPEC §10.4). 4xx
    /// rejections are terminal.
    pub fn is_retryable(&self) -> bool {
        match self {
            AuthorityError::Transport { .. } => true,
            AuthorityError::Status { status, .. } => *status == 429 || *status >= 500,
            AuthorityError::Unexpected(_) => false,
        }
    }

    /// Whether the call timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, AuthorityError::Transport { timeout: true, .. })
    }

    /// Whether ZATCA rejected the OTP (`Invalid-OTP`, `Missing-OTP`, or an expired one).
    pub fn is_otp_error(&self) -> bool {
        self.messages().iter().any(|m| {
            m.code
                .as_deref()
                .is_some_and(|c| c.to_ascii_lowercase().contains("otp"))
                || m.message.contains("OTP")
        })
    }

    /// ZATCA's messages, if it sent any.
    pub fn messages(&self) -> &[ZatcaMessage] {
        match self {
            AuthorityError::Status { messages, .. } => messages,
            _ => &[],
        }
    }

    /// How long ZATCA asked us to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            AuthorityError::Status { retry_after_secs, .. } => retry_after_secs.map(std::time::Duration::from_secs),
            _ => None,
        }
    }

    /// A one-line summary.
    pub fn summary(&self) -> String {
        match self {
            AuthorityError::Status { messages, body, .. } => summarize(messages, body),
            other => other.to_string(),
        }
    }
}

/// ZATCA's onboarding calls (reporting and clearance join with invoices).
#[async_trait]
pub trait TaxAuthority: Send + Sync + fmt::Debug {
    /// `POST /compliance` with the OTP: a compliance CSID for the CSR (PEM).
    async fn compliance_csid(
        &self,
        ctx: CallContext,
        csr_pem: &str,
        otp: &SecretString,
    ) -> Result<Csid, AuthorityError>;

    /// `POST /compliance/invoices`: one compliance sample, signed with the compliance CSID.
    async fn compliance_invoice(
        &self,
        ctx: CallContext,
        credentials: &Credentials,
        invoice_hash: &str,
        uuid: &str,
        invoice_base64: &str,
    ) -> Result<ComplianceResult, AuthorityError>;

    /// `POST /production/csids` with the compliance CSID: the production CSID.
    async fn production_csid(
        &self,
        ctx: CallContext,
        compliance: &Credentials,
        compliance_request_id: &str,
        otp: Option<&SecretString>,
    ) -> Result<Csid, AuthorityError>;

    /// `POST /invoices/reporting/single` with the production CSID: a simplified document.
    /// ZATCA's duplicate answer (409) is a success with `duplicate: true`.
    async fn report_invoice(
        &self,
        ctx: CallContext,
        production: &Credentials,
        document: &DocumentSubmission<'_>,
    ) -> Result<SubmissionResult, AuthorityError>;

    /// `POST /invoices/clearance/single` (`Clearance-Status: 1`) with the production CSID: a
    /// standard document. ZATCA's duplicate answer (208) is a success with `duplicate: true`.
    async fn clear_invoice(
        &self,
        ctx: CallContext,
        production: &Credentials,
        document: &DocumentSubmission<'_>,
    ) -> Result<SubmissionResult, AuthorityError>;

    /// `PATCH /production/csids` with the current production CSID, a new OTP and a CSR: renewal.
    async fn renew_production_csid(
        &self,
        ctx: CallContext,
        production: &Credentials,
        csr_pem: &str,
        otp: &SecretString,
    ) -> Result<Csid, AuthorityError>;
}
