//! Background jobs of the durable queue, as a typed enum: the store keeps the variant's name in
//! `jobs.kind` and its fields as JSON in `jobs.payload` (secret fields encrypted).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a job does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all = "snake_case")]
pub enum JobKind {
    /// Onboard a unit: the compliance CSID, then the compliance documents.
    Onboard(OnboardJob),
    /// Report (simplified) or clear (standard) an invoice with ZATCA.
    Submit(SubmitJob),
    /// Deliver a webhook event to one endpoint.
    Webhook(WebhookJob),
}

impl JobKind {
    /// The name kept in `jobs.kind` and shown in logs.
    pub fn name(&self) -> &'static str {
        match self {
            JobKind::Onboard(_) => "onboard",
            JobKind::Submit(_) => "submit",
            JobKind::Webhook(_) => "webhook",
        }
    }
}

/// Fields of an onboarding job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OnboardJob {
    /// The OTP (encrypted under the master key) until ZATCA has consumed it; dropped once the
    /// compliance CSID is recorded.
    #[serde(default, rename = "otp", skip_serializing_if = "Option::is_none")]
    pub otp_enc: Option<String>,
}

/// Fields of a submission job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitJob {
    /// The invoice to report or clear.
    pub invoice_id: Uuid,
}

/// Fields of a webhook delivery job (its unit is the event's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookJob {
    /// The event.
    pub event_id: Uuid,
    /// The endpoint.
    pub endpoint_id: Uuid,
}

/// A background job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Identifier.
    pub id: Uuid,
    /// The unit it works on.
    pub egs_unit_id: Uuid,
    /// What it does.
    pub kind: JobKind,
    /// Attempts so far, including the one in progress once claimed.
    pub attempts: u32,
    /// When it may first run (`None`: at once).
    pub not_before: Option<chrono::DateTime<chrono::Utc>>,
}

impl Job {
    /// A new job, not attempted yet.
    pub fn new(egs_unit_id: Uuid, kind: JobKind) -> Self {
        Job {
            id: Uuid::now_v7(),
            egs_unit_id,
            kind,
            attempts: 0,
            not_before: None,
        }
    }
}

/// How a job attempt ended.
#[derive(Debug)]
pub enum JobOutcome {
    /// Finished (or nothing left to do).
    Done,
    /// Failed in a way that may pass later (ZATCA unavailable, database busy).
    Retry(String),
    /// As `Retry`, but not before the given time (ZATCA's `Retry-After`).
    RetryAfter(String, std::time::Duration),
    /// Failed for good; the unit records why.
    Fail(String),
}
