//! Webhooks: events emitted at state changes (invoices settled by ZATCA, onboarding finished or
//! failed, certificates ending, reporting deadlines at risk), delivered through the durable job
//! queue to every endpoint of the account and environment that wants them, signed with
//! HMAC-SHA256 over `timestamp.body`.
//!
//! An event is recorded with its delivery jobs, and only when some endpoint wants it (no write
//! otherwise). Events announcing a saved state change (an invoice settled, onboarding finished
//! or failed) are written in the same transaction as the change ([`PendingEvent`]), so a crash
//! keeps both or neither. Its id is stable: the same occurrence (an invoice reported, a
//! certificate reaching `critical`) always gets the same id, so a repeated emission is dropped
//! and a receiver can deduplicate on it. Periodic events (certificates ending, deadlines at
//! risk) are found again by the next check after a crash.

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{KeyInit as _, Mac as _};
use serde_json::{Value, json};
use sha2::Digest as _;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::AppState;
use crate::domain::{
    CertHealth, DeliveryStatus, EgsUnit, Environment, EventType, Invoice, InvoiceStatus, Job, JobKind, JobOutcome,
    OnboardingStatus, PendingEvent, WebhookDelivery, WebhookEndpoint, WebhookEvent, WebhookJob, iso,
};
use crate::error::{AppError, ErrorCode};
use crate::secret::{SecretError, SecretString};

/// The signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub const SIGNATURE_HEADER: &str = "Zatca-Signature";
/// The event id header (the same as the body's `id`).
pub const EVENT_ID_HEADER: &str = "Zatca-Event-Id";
/// The event type header.
pub const EVENT_TYPE_HEADER: &str = "Zatca-Event-Type";
/// Prefix of signing secrets.
pub const SECRET_PREFIX: &str = "whsec_";

/// How often unreported simplified invoices are checked against their deadline.
const DEADLINE_CHECK_EVERY: Duration = Duration::from_secs(600);
/// An unreported simplified invoice is at risk this long before its 24-hour deadline.
pub const DEADLINE_MARGIN_HOURS: i64 = 2;
/// Longest wait between two delivery attempts.
const MAX_BACKOFF_MS: u64 = 4 * 3600 * 1000;
/// At most this much of a receiver's answer is kept in the log.
const MAX_ERROR_CHARS: usize = 300;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The encryption context of an endpoint's secret.
pub fn secret_context(endpoint: Uuid) -> String {
    format!("webhook_endpoint:{endpoint}:secret")
}

/// A new signing secret: `whsec_` and 32 random bytes in base64url.
pub fn generate_secret() -> Result<SecretString, SecretError> {
    let bytes = crate::secret::random_array::<32>()?;
    Ok(SecretString::new(format!(
        "{SECRET_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(bytes)
    )))
}

/// The `Zatca-Signature` value for a body sent at `timestamp` (unix seconds): the HMAC-SHA256
/// keyed with the whole secret string, over `"{timestamp}.{body}"`, in lowercase hex.
pub fn signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// A stable event id from what identifies the occurrence (SHA-256 of the parts, as a UUID).
pub fn stable_id(parts: &[&str]) -> Uuid {
    let mut hash = sha2::Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// Records an event for every endpoint of the account and environment that wants it and wakes
/// the worker. Failures are logged: a webhook never fails the operation that emitted it.
async fn emit(state: &AppState, occurrence: Occurrence) {
    let (id, event_type) = (occurrence.id, occurrence.event_type);
    let recorded = async {
        let Some(pending) = prepare(state, occurrence).await? else {
            return Ok(false);
        };
        anyhow::Ok(state.store.record_webhook_event(&pending, Utc::now()).await?)
    };
    match recorded.await {
        Ok(true) => announced(state, id, event_type),
        Ok(false) => {}
        Err(err) => {
            tracing::error!(event.id = %id, event.r#type = event_type.as_str(), error = format!("{err:#}"), "cannot record a webhook event");
        }
    }
}

/// What an event is about, before the endpoints that want it are known.
struct Occurrence {
    id: Uuid,
    account_id: Uuid,
    environment: Environment,
    egs_unit_id: Uuid,
    event_type: EventType,
    data: Value,
}

impl Occurrence {
    /// An event about an invoice: one per invoice and type.
    fn invoice(invoice: &Invoice, event_type: EventType) -> Occurrence {
        Occurrence {
            id: stable_id(&[event_type.as_str(), &invoice.id.to_string()]),
            account_id: invoice.account_id,
            environment: invoice.environment,
            egs_unit_id: invoice.egs_unit_id,
            event_type,
            data: invoice_data(invoice),
        }
    }

    /// An event about a unit, `id` naming the occurrence.
    fn unit(unit: &EgsUnit, event_type: EventType, id: Uuid, data: Value) -> Occurrence {
        Occurrence {
            id,
            account_id: unit.account_id,
            environment: unit.environment,
            egs_unit_id: unit.id,
            event_type,
            data,
        }
    }
}

/// The event and its deliveries, or None when no endpoint of the account and environment wants
/// it.
async fn prepare(state: &AppState, o: Occurrence) -> anyhow::Result<Option<PendingEvent>> {
    let endpoints: Vec<WebhookEndpoint> = state
        .store
        .webhook_endpoints(o.account_id, o.environment)
        .await?
        .into_iter()
        .filter(|e| e.wants(o.event_type))
        .collect();
    if endpoints.is_empty() {
        return Ok(None);
    }
    let now = Utc::now();
    let body = json!({
        "id": o.id,
        "type": o.event_type.as_str(),
        "created_at": iso(now),
        "environment": o.environment,
        "data": o.data,
    });
    let event = WebhookEvent {
        id: o.id,
        account_id: o.account_id,
        environment: o.environment,
        egs_unit_id: o.egs_unit_id,
        event_type: o.event_type,
        body: serde_json::to_string(&body)?,
        created_at: now,
    };
    let jobs = endpoints
        .iter()
        .map(|e| {
            Job::new(
                o.egs_unit_id,
                JobKind::Webhook(WebhookJob {
                    event_id: o.id,
                    endpoint_id: e.id,
                }),
            )
        })
        .collect();
    Ok(Some(PendingEvent { event, jobs }))
}

/// After the transaction that wrote `pending` committed: wakes the worker for its deliveries.
pub fn recorded(state: &AppState, pending: Option<&PendingEvent>) {
    if let Some(p) = pending {
        announced(state, p.event.id, p.event.event_type);
    }
}

fn announced(state: &AppState, id: Uuid, event_type: EventType) {
    tracing::info!(event.id = %id, event.r#type = event_type.as_str(), "webhook event recorded");
    state.jobs.notify_one();
}

fn invoice_data(invoice: &Invoice) -> Value {
    json!({
        "invoice_id": invoice.id,
        "uuid": invoice.uuid,
        "invoice_number": invoice.invoice_number,
        "egs_unit_id": invoice.egs_unit_id,
        "invoice_type": invoice.invoice_type.as_str(),
        "document_type": invoice.document_type.as_str(),
        "status": invoice.status.as_str(),
        "icv": invoice.icv,
        "currency": invoice.currency,
        "total": invoice.total.to_string(),
        "report_deadline": invoice.report_deadline.map(iso),
        "messages": invoice.messages,
    })
}

/// The event announcing that ZATCA settled an invoice (`invoice.reported`, `invoice.cleared`
/// or `invoice.rejected`), to be saved with the invoice's status.
pub async fn invoice_settled(state: &AppState, invoice: &Invoice) -> anyhow::Result<Option<PendingEvent>> {
    let event_type = match invoice.status {
        InvoiceStatus::Reported => EventType::InvoiceReported,
        InvoiceStatus::Cleared => EventType::InvoiceCleared,
        InvoiceStatus::Rejected => EventType::InvoiceRejected,
        _ => return Ok(None),
    };
    prepare(state, Occurrence::invoice(invoice, event_type)).await
}

/// An unreported simplified invoice close to (or past) its deadline: `invoice.deadline_at_risk`,
/// once per invoice.
pub async fn deadline_at_risk(state: &AppState, invoice: &Invoice) {
    emit(state, Occurrence::invoice(invoice, EventType::InvoiceDeadlineAtRisk)).await;
}

/// The event announcing a unit's onboarding state, to be saved with it: `onboarding.active` or
/// `onboarding.failed` (other states announce nothing).
pub async fn onboarding_changed(state: &AppState, unit: &EgsUnit) -> anyhow::Result<Option<PendingEvent>> {
    let event_type = match unit.onboarding_status {
        OnboardingStatus::Active => EventType::OnboardingActive,
        OnboardingStatus::Failed => EventType::OnboardingFailed,
        _ => return Ok(None),
    };
    // A unit can fail, be retried and fail again: each occurrence is its own event.
    let at = unit.updated_at.timestamp_millis().to_string();
    let id = stable_id(&[event_type.as_str(), &unit.id.to_string(), &at]);
    let data = json!({
        "egs_unit_id": unit.id,
        "unit_name": unit.unit_name,
        "onboarding_status": unit.onboarding_status.as_str(),
        "message": unit.status_message,
        "errors": unit.errors,
    });
    prepare(state, Occurrence::unit(unit, event_type, id, data)).await
}

/// A unit's production certificate reached `expiring_soon`, `critical` or `expired`: once per
/// certificate and level.
pub async fn certificate_expiring(state: &AppState, unit: &EgsUnit, health: CertHealth, expires: DateTime<Utc>) {
    let event_type = EventType::CertificateExpiring;
    let end = expires.timestamp_millis().to_string();
    let id = stable_id(&[event_type.as_str(), &unit.id.to_string(), &end, health.as_str()]);
    let data = json!({
        "egs_unit_id": unit.id,
        "unit_name": unit.unit_name,
        "cert_health": health.as_str(),
        "cert_expires_at": iso(expires),
        "days_until_expiry": (expires - Utc::now()).num_days(),
    });
    emit(state, Occurrence::unit(unit, event_type, id, data)).await;
}

/// Emits `invoice.deadline_at_risk` for unreported simplified invoices whose deadline is within
/// the margin (or passed less than an hour ago: each is seen by several checks, and sent once);
/// returns how many were found. Invoices late for longer are not looked at again, so that a
/// long-stuck backlog cannot hide the invoices now coming due.
pub async fn check_deadlines(state: &AppState) -> anyhow::Result<usize> {
    let now = Utc::now();
    let before = now + chrono::Duration::hours(DEADLINE_MARGIN_HOURS);
    let after = now - chrono::Duration::hours(1);
    let due = state.store.invoices_due_between(after, before, 1000).await?;
    for invoice in &due {
        deadline_at_risk(state, invoice).await;
    }
    Ok(due.len())
}

/// Starts the deadline check (every ten minutes, and at start); it stops at `shutdown`.
pub fn spawn_deadline_watch(state: AppState, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(err) = check_deadlines(&state).await {
                tracing::warn!(error = format!("{err:#}"), "reporting deadline check failed");
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(DEADLINE_CHECK_EVERY) => {}
            }
        }
    })
}

/// Back-off before attempt `attempts + 1`: `base × 2^(attempts-1)`, capped at four hours (the
/// worker adds ±25 % jitter).
pub fn backoff(base_ms: u64, attempts: u32) -> chrono::Duration {
    let exp = attempts.saturating_sub(1).min(30);
    let ms = base_ms.saturating_mul(1u64 << exp).min(MAX_BACKOFF_MS);
    chrono::Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX))
}

/// Whether an address is on the public internet: not loopback, private, link-local, shared
/// (CGNAT), documentation, multicast or unspecified; IPv4-mapped IPv6 addresses as their IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// Resolves receivers' host names to public addresses only, so that a name pointing into the
/// relay's own network (or re-pointed there after the endpoint was registered) is not called.
#[derive(Debug)]
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

fn client(allow_private: bool) -> &'static reqwest::Client {
    static PUBLIC: OnceLock<reqwest::Client> = OnceLock::new();
    static ANY: OnceLock<reqwest::Client> = OnceLock::new();
    let build = |public_only: bool| {
        let builder = reqwest::Client::builder()
            // A redirect would send the signed event somewhere the owner did not register.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("zatca-relay-webhooks/", env!("CARGO_PKG_VERSION")));
        let builder = if public_only {
            builder.dns_resolver(std::sync::Arc::new(PublicOnly))
        } else {
            builder
        };
        builder.build().unwrap_or_default()
    };
    if allow_private {
        ANY.get_or_init(|| build(false))
    } else {
        PUBLIC.get_or_init(|| build(true))
    }
}

/// Why a receiver URL may not be called: an IP-literal host that is not public (names are
/// checked when resolved, at each delivery).
pub fn refused_target(url: &reqwest::Url, allow_private: bool) -> Option<&'static str> {
    if allow_private {
        return None;
    }
    // IPv6 literals come bracketed; a domain name does not parse as an address.
    let host = url.host_str()?;
    let ip: IpAddr = host.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
    (!is_public(ip)).then_some("must not be a loopback, private or link-local address")
}

/// Saves of an endpoint tried before giving up: each failed try means another change was
/// saved, so this many changes of one endpoint would have to land at the same moment. Then the
/// change is `409 CONCURRENT_UPDATE`, retryable: nothing failed, and the same request sent again
/// is applied to the endpoint as the others left it.
const SAVE_TRIES: usize = 16;

/// An endpoint's next `updated_at`: now, but after `previous` to the millisecond the store
/// keeps, so that every saved change moves it and a save conditional on it is sound.
pub(crate) fn next_update(previous: DateTime<Utc>) -> DateTime<Utc> {
    let now = Utc::now().timestamp_millis();
    let after = previous.timestamp_millis().saturating_add(1);
    DateTime::from_timestamp_millis(now.max(after)).unwrap_or(previous)
}

/// Applies `change` to the stored endpoint `id` and saves it unless another change (from any
/// relay) was saved since it was read, then reads and tries again: two changes of different
/// fields made at once both stay. The endpoint as saved, or None when it does not exist.
pub(crate) async fn change_endpoint<E>(
    state: &AppState,
    id: Uuid,
    mut change: impl FnMut(&mut WebhookEndpoint) -> Result<(), E>,
) -> Result<Option<WebhookEndpoint>, E>
where
    E: From<crate::store::StoreError> + From<AppError>,
{
    for _ in 0..SAVE_TRIES {
        let Some(mut endpoint) = state.store.webhook_endpoint_by_id(id).await? else {
            return Ok(None);
        };
        let read_at = endpoint.updated_at;
        change(&mut endpoint)?;
        endpoint.updated_at = next_update(read_at);
        if state.store.save_webhook_endpoint(&endpoint, read_at).await? {
            return Ok(Some(endpoint));
        }
    }
    tracing::warn!(webhook.endpoint = %id, "webhook endpoint kept changing: {SAVE_TRIES} saves lost to other changes");
    Err(AppError::api(
        ErrorCode::ConcurrentUpdate,
        format!("Webhook endpoint {id} was changed by other requests {SAVE_TRIES} times while this change was applied; retry"),
    )
    .into())
}

/// Runs one delivery attempt of a webhook job and logs it.
pub async fn deliver(state: &AppState, job: &Job, work: &WebhookJob) -> JobOutcome {
    match try_deliver(state, job, work).await {
        Ok(outcome) => outcome,
        Err(err) => JobOutcome::Retry(format!("{err:#}")),
    }
}

async fn try_deliver(state: &AppState, job: &Job, work: &WebhookJob) -> anyhow::Result<JobOutcome> {
    let Some(endpoint) = state.store.webhook_endpoint_by_id(work.endpoint_id).await? else {
        return Ok(JobOutcome::Done);
    };
    if !endpoint.enabled {
        return Ok(JobOutcome::Done);
    }
    let Some(event) = state.store.webhook_event(work.event_id).await? else {
        return Ok(JobOutcome::Fail("the event no longer exists".into()));
    };
    let secret = state
        .master_key
        .decrypt_str(&endpoint.secret_enc, &secret_context(endpoint.id))?;
    let at = Utc::now();
    let signature = signature_header(secret.expose(), at.timestamp(), event.body.as_bytes());
    let started = Instant::now();
    let allow_private = state.config.webhook_allow_private_targets;
    let sent = match reqwest::Url::parse(&endpoint.url) {
        Ok(url) => match refused_target(&url, allow_private) {
            Some(reason) => Err(reason.to_owned()),
            None => Ok(url),
        },
        Err(err) => Err(format!("not a URL: {err}")),
    };
    let sent = match sent {
        Ok(url) => Ok(client(allow_private)
            .post(url)
            .timeout(Duration::from_secs(state.config.webhook_timeout_secs.max(1)))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header(EVENT_ID_HEADER, event.id.to_string())
            .header(EVENT_TYPE_HEADER, event.event_type.as_str())
            .body(event.body.clone())
            .send()
            .await),
        Err(reason) => Err(reason),
    };
    // A receiver that answers 429 or 503 with `Retry-After` (seconds) is not asked again sooner.
    let mut retry_after = None;
    let (response_status, error) = match sent {
        Err(reason) => (None, Some(format!("refused: the URL {reason}"))),
        Ok(Ok(response)) => {
            let status = response.status();
            let error = (!status.is_success()).then(|| format!("the receiver answered {status}"));
            if status.as_u16() == 429 || status.as_u16() == 503 {
                retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|secs| Duration::from_secs(secs.min(3600)));
            }
            // The body is read (bounded by the timeout) so that the connection can be reused.
            let _ = tokio::time::timeout(Duration::from_secs(1), response.bytes()).await;
            (Some(status.as_u16()), error)
        }
        Ok(Err(err)) => {
            // The resolver's refusal (no public address) is somewhere in the source chain.
            let mut refusal = None;
            let mut source = std::error::Error::source(&err);
            while let Some(inner) = source {
                if inner.to_string().contains("no public address") {
                    refusal = Some(inner.to_string());
                }
                source = inner.source();
            }
            let reason = if let Some(refusal) = refusal {
                format!("refused: {refusal}")
            } else if err.is_timeout() {
                "the receiver did not answer in time".to_owned()
            } else if err.is_connect() {
                "cannot connect to the receiver".to_owned()
            } else {
                format!("cannot send: {err}")
            };
            (None, Some(reason))
        }
    };
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let last = job.attempts >= state.config.webhook_max_attempts;
    let status = match (response_status, &error) {
        (_, None) => DeliveryStatus::Delivered,
        (Some(410), _) => DeliveryStatus::Gone,
        _ if last => DeliveryStatus::Failed,
        _ => DeliveryStatus::Retrying,
    };
    let delivery = WebhookDelivery {
        endpoint_id: endpoint.id,
        event_id: event.id,
        event_type: event.event_type,
        attempt: job.attempts,
        status,
        response_status,
        duration_ms,
        error: error.as_ref().map(|e| e.chars().take(MAX_ERROR_CHARS).collect()),
        at,
    };
    state.store.insert_webhook_delivery(&delivery).await?;
    state.metrics.webhook(status.as_str());
    tracing::info!(
        webhook.endpoint = %endpoint.id,
        event.id = %event.id,
        event.r#type = event.event_type.as_str(),
        webhook.status = status.as_str(),
        http.status = response_status,
        duration_ms,
        "webhook delivery"
    );
    Ok(match (status, error) {
        (DeliveryStatus::Delivered, _) | (_, None) => JobOutcome::Done,
        (DeliveryStatus::Gone, _) => {
            // 410 Gone: the receiver asks for no more events; the owner can re-enable it.
            change_endpoint(state, endpoint.id, |endpoint| {
                endpoint.enabled = false;
                endpoint.disabled_reason = Some("the receiver answered 410 Gone".into());
                Ok::<_, anyhow::Error>(())
            })
            .await?;
            tracing::warn!(webhook.endpoint = %endpoint.id, "webhook endpoint disabled: the receiver answered 410 Gone");
            JobOutcome::Done
        }
        (_, Some(error)) => match retry_after {
            Some(wait) => JobOutcome::RetryAfter(error, wait),
            None => JobOutcome::Retry(error),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_an_independent_hmac() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let header = signature_header("Jefe", 0, b"what do ya want for nothing?");
        // The signed text is "0.what do ya want for nothing?", so compare with a direct HMAC.
        let mut mac = HmacSha256::new_from_slice(b"Jefe").expect("key");
        mac.update(b"0.what do ya want for nothing?");
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(header, format!("t=0,v1={hex}"));
        let mut plain = HmacSha256::new_from_slice(b"Jefe").expect("key");
        plain.update(b"what do ya want for nothing?");
        let rfc: String = plain
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(rfc, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(private.parse().expect("ip")), "{private}");
        }
        for public in ["1.1.1.1", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(public.parse().expect("ip")), "{public}");
        }
        let url = |u: &str| reqwest::Url::parse(u).expect("url");
        assert!(refused_target(&url("http://127.0.0.1:8080/x"), false).is_some());
        assert!(refused_target(&url("http://[::1]/x"), false).is_some());
        assert!(refused_target(&url("http://127.0.0.1:8080/x"), true).is_none());
        assert!(refused_target(&url("https://example.com/x"), false).is_none());
    }

    #[test]
    fn stable_ids_are_stable_and_distinct() {
        assert_eq!(stable_id(&["a", "b"]), stable_id(&["a", "b"]));
        assert_ne!(stable_id(&["a", "b"]), stable_id(&["ab", ""]));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1000, 1).num_milliseconds(), 1000);
        assert_eq!(backoff(1000, 3).num_milliseconds(), 4000);
        assert_eq!(backoff(30_000, 40).num_milliseconds(), 4 * 3600 * 1000);
    }

    #[test]
    fn secrets_are_prefixed_and_random() {
        let a = generate_secret().expect("secret");
        let b = generate_secret().expect("secret");
        assert!(a.expose().starts_with(SECRET_PREFIX));
        assert_eq!(a.expose().len(), SECRET_PREFIX.len() + 43);
        assert_ne!(a.expose(), b.expose());
    }
}
