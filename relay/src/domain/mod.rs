//! The relay's domain: accounts and keys, EGS units with their onboarding state machine, jobs,
//! and the audit log. Plain data and rules, with no HTTP and no SQL types: routes and services
//! map requests onto these, the store persists them.

pub mod accounts;
pub mod audit;
pub mod invoices;
pub mod jobs;
pub mod units;
pub mod webhooks;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

pub use accounts::{Account, ApiKey, Auth};
pub use audit::AuditEntry;
pub use invoices::{
    ChainCheck, ChainStatus, DocumentKind, IllegalInvoiceTransition, Invoice, InvoiceKind, InvoiceStatus, LineSummary,
    TimelineEntry,
};
pub use jobs::{Job, JobKind, JobOutcome, OnboardJob, SubmitJob, WebhookJob};
pub use units::{
    Address, CertHealth, ComplianceDocument, ComplianceKind, Custody, EgsUnit, Environment, IllegalTransition,
    InvoiceTypes, OnboardingStatus, SellerProfile, StoredCsid,
};
pub use webhooks::{DeliveryStatus, EventType, PendingEvent, WebhookDelivery, WebhookEndpoint, WebhookEvent};

/// One message about a failure: an input field's problem or one of ZATCA's messages.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Detail {
    /// Machine-readable code (ZATCA's code, or `invalid` for input fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// JSON path of the offending field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// ZATCA's category, when the detail is a ZATCA message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Human-readable message.
    pub message: String,
}

impl Detail {
    /// A detail about an input field.
    pub fn field(path: impl Into<String>, message: impl Into<String>) -> Self {
        Detail {
            code: None,
            path: Some(path.into()),
            category: None,
            message: message.into(),
        }
    }

    /// A message without a field.
    pub fn message(message: impl Into<String>) -> Self {
        Detail {
            code: None,
            path: None,
            category: None,
            message: message.into(),
        }
    }
}

/// ISO 8601 with milliseconds and `Z`, as the API documents (`2025-01-15T10:00:00.000Z`).
pub fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
