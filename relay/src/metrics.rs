//! Prometheus metrics at `GET /metrics`: requests and latencies by route, ZATCA's answers by
//! outcome, and — read from the store at each scrape, so several relays on one database agree —
//! the queue's depth, the age of the oldest unsettled invoice, simplified invoices near or past
//! their 24-hour deadline, and production certificates by health.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::domain::CertHealth;
use crate::store::{OperationsSnapshot, StoreResult};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    operation: String,
    outcome: String,
    code: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HealthLabels {
    health: String,
}

/// The relay's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    zatca: Family<OutcomeLabels, Counter>,
    queue_depth: Gauge,
    oldest_unsettled: Gauge<f64, std::sync::atomic::AtomicU64>,
    near_deadline: Gauge,
    past_deadline: Gauge,
    certificates: Family<HealthLabels, Gauge>,
    webhooks: Family<DeliveryLabels, Counter>,
}

/// What ZATCA answered a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZatcaOutcome {
    /// Reported or cleared.
    Accepted,
    /// Already reported or cleared (409 on reporting, 208 on clearance).
    Duplicate,
    /// Refused: the invoice is rejected.
    Rejected,
    /// Not answered usefully (5xx, 429, a timeout): the queue tries again.
    Unavailable,
}

impl ZatcaOutcome {
    fn as_str(self) -> &'static str {
        match self {
            ZatcaOutcome::Accepted => "accepted",
            ZatcaOutcome::Duplicate => "duplicate",
            ZatcaOutcome::Rejected => "rejected",
            ZatcaOutcome::Unavailable => "unavailable",
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "relay_http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        // 1 ms … 16 s.
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 15))
        });
        registry.register(
            "relay_http_request_duration_seconds",
            "Time to answer a request, by route template",
            latency.clone(),
        );
        let zatca = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "relay_zatca_submissions",
            "Reporting and clearance calls by outcome and ZATCA's first message code (or the HTTP status)",
            zatca.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register(
            "relay_queue_jobs",
            "Jobs queued or running (submissions and onboarding)",
            queue_depth.clone(),
        );
        let oldest_unsettled = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "relay_oldest_unsettled_invoice_age_seconds",
            "Age of the oldest invoice not yet reported, cleared or rejected (0 when none)",
            oldest_unsettled.clone(),
        );
        let near_deadline = Gauge::default();
        registry.register(
            "relay_invoices_near_deadline",
            "Simplified invoices not yet reported within two hours of their 24-hour deadline",
            near_deadline.clone(),
        );
        let past_deadline = Gauge::default();
        registry.register(
            "relay_invoices_past_deadline",
            "Simplified invoices not yet reported past their 24-hour deadline",
            past_deadline.clone(),
        );
        let certificates = Family::<HealthLabels, Gauge>::default();
        registry.register(
            "relay_certificates",
            "Production certificates of EGS units by health (expiring_soon: 30 days or less, critical: 7 or less)",
            certificates.clone(),
        );
        let webhooks = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "relay_webhook_deliveries",
            "Webhook delivery attempts by outcome (delivered, retrying, failed, gone)",
            webhooks.clone(),
        );
        Metrics {
            webhooks,
            registry,
            requests,
            latency,
            zatca,
            queue_depth,
            oldest_unsettled,
            near_deadline,
            past_deadline,
            certificates,
        }
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// Counts one reporting or clearance answer.
    pub fn zatca(&self, operation: &str, outcome: ZatcaOutcome, code: &str) {
        self.zatca
            .get_or_create(&OutcomeLabels {
                operation: operation.to_owned(),
                outcome: outcome.as_str().to_owned(),
                code: code.to_owned(),
            })
            .inc();
    }

    /// Counts one webhook delivery attempt.
    pub fn webhook(&self, status: &str) {
        self.webhooks
            .get_or_create(&DeliveryLabels {
                status: status.to_owned(),
            })
            .inc();
    }

    /// The text exposition, with the store-derived gauges as of `now`.
    pub fn render(&self, snapshot: &OperationsSnapshot, now: DateTime<Utc>) -> String {
        self.queue_depth
            .set(i64::try_from(snapshot.queued_jobs).unwrap_or(i64::MAX));
        let age = snapshot
            .oldest_unsettled
            .map_or(0.0, |at| (now - at).num_milliseconds().max(0) as f64 / 1000.0);
        self.oldest_unsettled.set(age);
        self.near_deadline
            .set(i64::try_from(snapshot.near_deadline).unwrap_or(i64::MAX));
        self.past_deadline
            .set(i64::try_from(snapshot.past_deadline).unwrap_or(i64::MAX));
        for health in [
            CertHealth::Healthy,
            CertHealth::ExpiringSoon,
            CertHealth::Critical,
            CertHealth::Expired,
        ] {
            let count = snapshot
                .certificate_expiries
                .iter()
                .filter(|end| CertHealth::of(Some(**end), now) == health)
                .count();
            self.certificates
                .get_or_create(&HealthLabels {
                    health: health.as_str().to_owned(),
                })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The shared handle.
pub type SharedMetrics = Arc<Metrics>;

/// Reads the snapshot and renders (for the route).
pub async fn scrape(state: &crate::AppState) -> StoreResult<String> {
    let now = Utc::now();
    let snapshot = state
        .store
        .operations_snapshot(now, now + chrono::Duration::hours(2))
        .await?;
    Ok(state.metrics.render(&snapshot, now))
}
