//! Webhooks: endpoints an account registers (per environment), the events the relay emits at
//! state changes, and the log of delivery attempts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Environment, Job};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventType {
    /// ZATCA accepted a simplified invoice's report.
    #[serde(rename = "invoice.reported")]
    InvoiceReported,
    /// ZATCA cleared a standard invoice.
    #[serde(rename = "invoice.cleared")]
    InvoiceCleared,
    /// ZATCA rejected an invoice.
    #[serde(rename = "invoice.rejected")]
    InvoiceRejected,
    /// A simplified invoice is not reported yet and its 24-hour deadline is near or past.
    #[serde(rename = "invoice.deadline_at_risk")]
    InvoiceDeadlineAtRisk,
    /// A unit finished onboarding: it is active with a production CSID.
    #[serde(rename = "onboarding.active")]
    OnboardingActive,
    /// A unit's onboarding failed.
    #[serde(rename = "onboarding.failed")]
    OnboardingFailed,
    /// A unit's production certificate is expiring soon, critical (7 days) or expired.
    #[serde(rename = "certificate.expiring")]
    CertificateExpiring,
}

impl EventType {
    /// Every type.
    pub const ALL: [EventType; 7] = [
        EventType::InvoiceReported,
        EventType::InvoiceCleared,
        EventType::InvoiceRejected,
        EventType::InvoiceDeadlineAtRisk,
        EventType::OnboardingActive,
        EventType::OnboardingFailed,
        EventType::CertificateExpiring,
    ];

    /// The dotted name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::InvoiceReported => "invoice.reported",
            EventType::InvoiceCleared => "invoice.cleared",
            EventType::InvoiceRejected => "invoice.rejected",
            EventType::InvoiceDeadlineAtRisk => "invoice.deadline_at_risk",
            EventType::OnboardingActive => "onboarding.active",
            EventType::OnboardingFailed => "onboarding.failed",
            EventType::CertificateExpiring => "certificate.expiring",
        }
    }
}

impl std::str::FromStr for EventType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown event type `{s}`"))
    }
}

/// A registered endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// Identifier.
    pub id: Uuid,
    /// Owner.
    pub account_id: Uuid,
    /// Events of units of this environment only (the creating key's).
    pub environment: Environment,
    /// Where events are POSTed.
    pub url: String,
    /// The owner's note.
    pub description: Option<String>,
    /// The types sent; empty means every type.
    pub events: Vec<EventType>,
    /// The signing secret, encrypted under the master key.
    pub secret_enc: String,
    /// Whether events are sent (off by the owner, or after the receiver answered `410 Gone`).
    pub enabled: bool,
    /// Why the relay disabled it.
    pub disabled_reason: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl WebhookEndpoint {
    /// Whether this endpoint is sent events of this type now.
    pub fn wants(&self, event: EventType) -> bool {
        self.enabled && (self.events.is_empty() || self.events.contains(&event))
    }
}

/// An emitted event: its body is fixed at emission, so every attempt signs the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// Stable identifier (the receiver's deduplication key): the same occurrence always gets
    /// the same id.
    pub id: Uuid,
    /// Owner.
    pub account_id: Uuid,
    /// Environment of the unit concerned.
    pub environment: Environment,
    /// The unit concerned.
    pub egs_unit_id: Uuid,
    /// Type.
    pub event_type: EventType,
    /// The JSON body sent.
    pub body: String,
    /// Emission time.
    pub created_at: DateTime<Utc>,
}

/// An event with its delivery jobs (one per endpoint that wants it), written in the same
/// transaction as the state change it announces, so that a crash cannot keep one without the
/// other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    /// The event.
    pub event: WebhookEvent,
    /// Its deliveries.
    pub jobs: Vec<Job>,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The receiver answered 2xx.
    Delivered,
    /// Failed; another attempt is scheduled.
    Retrying,
    /// Failed and no attempt is left.
    Failed,
    /// The receiver answered `410 Gone`: the endpoint was disabled.
    Gone,
}

impl DeliveryStatus {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Gone => "gone",
        }
    }
}

impl std::str::FromStr for DeliveryStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            DeliveryStatus::Delivered,
            DeliveryStatus::Retrying,
            DeliveryStatus::Failed,
            DeliveryStatus::Gone,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
        .ok_or_else(|| format!("unknown delivery status `{s}`"))
    }
}

/// One delivery attempt of an event to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// The endpoint.
    pub endpoint_id: Uuid,
    /// The event.
    pub event_id: Uuid,
    /// Its type.
    pub event_type: EventType,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Outcome.
    pub status: DeliveryStatus,
    /// The receiver's HTTP status, when it answered.
    pub response_status: Option<u16>,
    /// Time from sending to the answer (or the failure).
    pub duration_ms: u64,
    /// What went wrong (a transport error, or the status).
    pub error: Option<String>,
    /// When the attempt started.
    pub at: DateTime<Utc>,
}
