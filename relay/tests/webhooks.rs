//! Webhooks over real HTTP: relay ↔ simulators, and a receiver started here on 127.0.0.1 that
//! records what it gets and answers with scripted statuses. Signatures are checked with the
//! README's own snippets (Rust, and Node when `node` is installed).

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use common::*;
use serde_json::{Value, json};
use zatca_sim::Faults;

include!("snippets/verify_signature.rs");

const RUST_SNIPPET: &str = include_str!("snippets/verify_signature.rs");
const NODE_SNIPPET: &str = include_str!("snippets/verify_signature.js");
const README: &str = include_str!("../README.md");

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
}

#[derive(Clone, Default)]
struct ReceiverState {
    got: Arc<Mutex<Vec<Received>>>,
    /// Statuses to answer, in order; 200 once empty.
    script: Arc<Mutex<VecDeque<u16>>>,
}

struct Receiver {
    url: String,
    state: ReceiverState,
}

impl Receiver {
    async fn start(script: &[u16]) -> Receiver {
        let state = ReceiverState::default();
        state.script.lock().expect("lock").extend(script);
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}/hook"),
            state,
        }
    }

    fn got(&self) -> Vec<Received> {
        self.state.got.lock().expect("lock").clone()
    }

    /// Waits until a request of event type `kind` arrived (10 s at most).
    async fn wait_for(&self, kind: &str) -> Received {
        let started = Instant::now();
        loop {
            if let Some(found) = self.got().into_iter().find(|r| r.header("zatca-event-type") == kind) {
                return found;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no {kind} event within 10 s; got {:?}",
                self.got()
                    .iter()
                    .map(|r| r.header("zatca-event-type"))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Answers the next scripted status (503 with `Retry-After: 1`).
async fn receive(State(state): State<ReceiverState>, headers: HeaderMap, body: Bytes) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    state.got.lock().expect("lock").push(Received { headers, body });
    let status = state.script.lock().expect("lock").pop_front().unwrap_or(200);
    let status = StatusCode::from_u16(status).expect("status");
    if status == StatusCode::SERVICE_UNAVAILABLE {
        return (status, [("retry-after", "1")]).into_response();
    }
    status.into_response()
}

fn acme() -> Value {
    json!({
        "name": "Acme Ltd",
        "vat_number": "300012345600003",
        "crn": "1010101010",
        "address": {
            "street": "King Fahd Rd", "building_number": "1234", "district": "Al Olaya",
            "city": "Riyadh", "postal_code": "12211", "country": "SA"
        },
        "branch": "Riyadh",
        "industry": "Retail"
    })
}

fn invoice(unit: &str, number: &str, date: &str, time: &str, standard: bool) -> Value {
    let mut body = json!({
        "egs_unit_id": unit,
        "invoice_number": number,
        "invoice_date": date,
        "invoice_time": time,
        "seller": { "name": "Acme Ltd", "vat_number": "300012345600003",
                    "address": { "street": "King Fahd Rd", "city": "Riyadh", "country": "SA" } },
        "line_items": [{ "description": "Product A", "quantity": 2, "unit_price": 50.0 }],
    });
    if standard {
        body["buyer"] = json!({ "name": "Client Co", "vat_number": "300098765400003",
                                "address": { "street": "Olaya St", "city": "Riyadh", "country": "SA" } });
    }
    body
}

async fn create_endpoint(t: &TestRelay, key: &str, body: Value) -> (String, String) {
    let (status, created) = t.http.post("/v1/webhooks", key, body).await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().expect("secret shown at creation").to_owned();
    assert!(secret.starts_with("whsec_"), "{created}");
    (created["id"].as_str().expect("id").to_owned(), secret)
}

/// Checks a delivery as a receiver would: the Rust snippet, the Node snippet (when `node` is
/// installed), the event id header against the body.
fn assert_signed(received: &Received, secret: &str) {
    let header = received.header("zatca-signature");
    let now = chrono::Utc::now().timestamp();
    assert!(
        verify_zatca_signature(secret, &header, &received.body, now),
        "signature {header} does not verify"
    );
    assert!(!verify_zatca_signature("whsec_wrong", &header, &received.body, now));
    assert!(!verify_zatca_signature(secret, &header, b"{}", now));
    assert!(
        !verify_zatca_signature(secret, &header, &received.body, now + 3600),
        "an old signature is refused"
    );
    assert_eq!(
        received.header("zatca-event-id"),
        received.json()["id"].as_str().expect("id")
    );
    assert_eq!(
        received.header("zatca-event-type"),
        received.json()["type"].as_str().expect("type")
    );
    verify_with_node(secret, &header, &received.body);
}

fn verify_with_node(secret: &str, header: &str, body: &[u8]) {
    let Ok(version) = std::process::Command::new("node").arg("--version").output() else {
        eprintln!("node not installed: the Node snippet is not run");
        return;
    };
    assert!(version.status.success());
    let dir = tempfile::tempdir().expect("tempdir");
    let body_path = dir.path().join("body");
    std::fs::write(&body_path, body).expect("write");
    let script = format!(
        "{NODE_SNIPPET}\nconst body = require('node:fs').readFileSync(process.argv[3]);\n\
         const [secret, header] = [process.argv[1], process.argv[2]];\n\
         process.exit(verifyZatcaSignature(secret, header, body) && !verifyZatcaSignature('whsec_x', header, body) ? 0 : 1);\n"
    );
    let status = std::process::Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(secret)
        .arg(header)
        .arg(&body_path)
        .status()
        .expect("node runs");
    assert!(status.success(), "the Node snippet does not verify {header}");
}

#[test]
fn readme_carries_the_tested_snippets() {
    assert!(
        README.contains(RUST_SNIPPET.trim()),
        "README's Rust snippet differs from tests/snippets"
    );
    assert!(
        README.contains(NODE_SNIPPET.trim()),
        "README's Node snippet differs from tests/snippets"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_kind_is_delivered_signed() {
    let t = TestRelay::start_with(|c| {
        c.webhook_backoff_ms = 50;
        c.inline_submit_ms = 3000;
        c.webhook_allow_private_targets = true;
    })
    .await;
    let key = t.http.onboard("sandbox").await;
    let receiver = Receiver::start(&[]).await;
    let (endpoint, secret) = create_endpoint(&t, &key, json!({"url": receiver.url, "description": "ERP"})).await;
    // The secret is shown once.
    let (status, shown) = t.http.get(&format!("/v1/webhooks/{endpoint}"), &key).await;
    assert_eq!(status, 200, "{shown}");
    assert!(shown.get("secret").is_none(), "{shown}");
    assert_eq!(shown["events"], json!([]));
    assert_eq!(shown["environment"], "sandbox");

    // onboarding.active
    let (unit, _) = t
        .http
        .active_unit(
            &key,
            json!({"unit_name": "POS", "invoice_type": "both", "seller": acme()}),
        )
        .await;
    let active = receiver.wait_for("onboarding.active").await;
    assert_signed(&active, &secret);
    assert_eq!(active.json()["data"]["egs_unit_id"], unit.as_str());
    assert_eq!(active.json()["environment"], "sandbox");

    // invoice.reported and invoice.cleared
    let (status, simplified) = t
        .http
        .post(
            "/v1/invoices/simplified",
            &key,
            invoice(&unit, "INV-1", "2025-01-15", "14:30:00", false),
        )
        .await;
    assert_eq!(status, 200, "{simplified}");
    let reported = receiver.wait_for("invoice.reported").await;
    assert_signed(&reported, &secret);
    assert_eq!(reported.json()["data"]["invoice_id"], simplified["invoice_id"]);
    assert_eq!(reported.json()["data"]["status"], "reported");
    let (status, standard) = t
        .http
        .post(
            "/v1/invoices/standard",
            &key,
            invoice(&unit, "INV-2", "2025-01-15", "14:31:00", true),
        )
        .await;
    assert_eq!(status, 200, "{standard}");
    let cleared = receiver.wait_for("invoice.cleared").await;
    assert_signed(&cleared, &secret);
    assert_eq!(cleared.json()["data"]["invoice_id"], standard["invoice_id"]);

    // invoice.deadline_at_risk: ZATCA down, an invoice issued 23 hours ago (Riyadh time).
    t.sims.sandbox.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let issued = chrono::Utc::now() + chrono::Duration::hours(3) - chrono::Duration::hours(23);
    let (status, late) = t
        .http
        .post(
            "/v1/invoices/simplified",
            &key,
            invoice(
                &unit,
                "INV-3",
                &issued.format("%Y-%m-%d").to_string(),
                &issued.format("%H:%M:%S").to_string(),
                false,
            ),
        )
        .await;
    assert_eq!(status, 200, "{late}");
    let at_risk = receiver.wait_for("invoice.deadline_at_risk").await;
    assert_signed(&at_risk, &secret);
    assert_eq!(at_risk.json()["data"]["invoice_id"], late["invoice_id"]);
    // The periodic check finds it again: same event id, not sent twice.
    let found = zatca_relay::webhooks::check_deadlines(&t.relay.state)
        .await
        .expect("check");
    assert!(found >= 1);
    t.sims.sandbox.set_faults(Faults::default());

    // certificate.expiring: the certificate ends in five days (critical), once per level.
    let store = &t.relay.state.store;
    let id = uuid::Uuid::parse_str(&unit).expect("uuid");
    let mut record = store.unit_by_id(id).await.expect("store").expect("unit");
    record.cert_expires_at = Some(chrono::Utc::now() + chrono::Duration::days(5) + chrono::Duration::hours(1));
    store.save_unit_onboarding(&record, None).await.expect("save");
    zatca_relay::certificates::check_once(&t.relay.state)
        .await
        .expect("check");
    zatca_relay::certificates::check_once(&t.relay.state)
        .await
        .expect("check");
    let expiring = receiver.wait_for("certificate.expiring").await;
    assert_signed(&expiring, &secret);
    assert_eq!(expiring.json()["data"]["cert_health"], "critical");
    assert_eq!(expiring.json()["data"]["days_until_expiry"], 5);

    // The reported late invoice (ZATCA back) arrives too; then the log is complete.
    receiver.wait_for("invoice.reported").await;
    let started = Instant::now();
    while receiver
        .got()
        .iter()
        .filter(|r| r.header("zatca-event-type") == "invoice.reported")
        .count()
        < 2
    {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the late invoice was not reported"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = receiver.got();
    let mut ids: Vec<String> = got.iter().map(|r| r.header("zatca-event-id")).collect();
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total, "every event delivered once");
    for kind in ["certificate.expiring", "invoice.deadline_at_risk"] {
        assert_eq!(
            got.iter().filter(|r| r.header("zatca-event-type") == kind).count(),
            1,
            "{kind} once"
        );
    }
    // Each attempt is logged just after the receiver answered.
    let started = Instant::now();
    let log = loop {
        let (status, log) = t.http.get(&format!("/v1/webhooks/{endpoint}/deliveries"), &key).await;
        assert_eq!(status, 200, "{log}");
        let rows = log["data"].as_array().expect("data").clone();
        if rows.len() >= total {
            break rows;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{log}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(log.len(), total, "{log:?}");
    for entry in &log {
        assert_eq!(entry["status"], "delivered", "{entry}");
        assert_eq!(entry["response_status"], 200, "{entry}");
        assert_eq!(entry["attempt"], 1, "{entry}");
        assert!(entry["duration_ms"].is_u64(), "{entry}");
    }

    // The secret is nowhere in the logs or the database files.
    t.relay.shutdown().await.expect("shutdown");
    assert_not_logged(&[&secret]);
    assert!(!contains(&stored_bytes(t.dir.path()), secret.as_bytes()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deliveries_retry_with_backoff_and_410_disables_the_endpoint() {
    let t = TestRelay::start_with(|c| {
        c.webhook_backoff_ms = 100;
        c.webhook_allow_private_targets = true;
    })
    .await;
    let key = t.http.onboard("sandbox").await;
    let flaky = Receiver::start(&[500, 500]).await;
    let gone = Receiver::start(&[410]).await;
    let (flaky_id, flaky_secret) =
        create_endpoint(&t, &key, json!({"url": flaky.url, "events": ["onboarding.active"]})).await;
    let (gone_id, _) = create_endpoint(&t, &key, json!({"url": gone.url})).await;
    let busy = Receiver::start(&[503]).await;
    let (busy_id, _) = create_endpoint(&t, &key, json!({"url": busy.url, "events": ["onboarding.active"]})).await;
    let started = Instant::now();
    t.http
        .active_unit(
            &key,
            json!({"unit_name": "POS", "invoice_type": "simplified", "seller": acme()}),
        )
        .await;
    while flaky.got().len() < 3 {
        assert!(started.elapsed() < Duration::from_secs(15), "{:?}", flaky.got().len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = flaky.got();
    // The same event, the same bytes, each attempt signed afresh.
    assert!(got.iter().all(|r| r.body == got[0].body));
    for r in &got {
        assert_signed(r, &flaky_secret);
    }
    // The receiver answers before the relay logs the attempt: wait for the third row.
    let log = loop {
        let (_, log) = t.http.get(&format!("/v1/webhooks/{flaky_id}/deliveries"), &key).await;
        let rows = log["data"].as_array().expect("data").clone();
        if rows.len() >= 3 {
            break rows;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "{log}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let summary: Vec<(u64, &str, Option<u64>)> = log
        .iter()
        .map(|e| {
            (
                e["attempt"].as_u64().expect("attempt"),
                e["status"].as_str().expect("status"),
                e["response_status"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (3, "delivered", Some(200)),
            (2, "retrying", Some(500)),
            (1, "retrying", Some(500))
        ]
    );
    assert!(log[1]["error"].as_str().is_some_and(|e| e.contains("500")), "{log:?}");
    // Back-off: attempt 3 came at least 100 ms + 200 ms (less 25 % jitter) after attempt 1.
    let at = |i: usize| chrono::DateTime::parse_from_rfc3339(log[i]["at"].as_str().expect("at")).expect("time");
    assert!((at(0) - at(2)).num_milliseconds() >= 225, "{log:?}");

    // 503 with Retry-After: 1 — the next attempt waits a second, not the 100 ms back-off.
    let started = Instant::now();
    let busy_log = loop {
        let (_, log) = t.http.get(&format!("/v1/webhooks/{busy_id}/deliveries"), &key).await;
        if log["data"][0]["status"] == "delivered" {
            break log;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{log}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let busy_log = busy_log["data"].as_array().expect("data").clone();
    assert_eq!(busy_log[1]["response_status"], 503, "{busy_log:?}");
    assert_eq!(busy_log[0]["status"], "delivered", "{busy_log:?}");
    let at = |i: usize| chrono::DateTime::parse_from_rfc3339(busy_log[i]["at"].as_str().expect("at")).expect("time");
    // ±25 % jitter around the second.
    assert!((at(0) - at(1)).num_milliseconds() >= 700, "{busy_log:?}");

    // 410 Gone: one attempt, then the endpoint is disabled.
    let started = Instant::now();
    loop {
        let (_, endpoint) = t.http.get(&format!("/v1/webhooks/{gone_id}"), &key).await;
        if endpoint["enabled"] == false {
            assert!(
                endpoint["disabled_reason"].as_str().is_some_and(|r| r.contains("410")),
                "{endpoint}"
            );
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{endpoint}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, log) = t.http.get(&format!("/v1/webhooks/{gone_id}/deliveries"), &key).await;
    assert_eq!(log["data"][0]["status"], "gone", "{log}");
    assert_eq!(log["data"].as_array().map(Vec::len), Some(1), "{log}");
    // Re-enabled by its owner.
    let (status, endpoint) = t
        .http
        .send(
            Method::PATCH,
            &format!("/v1/webhooks/{gone_id}"),
            Some(&key),
            Some(&json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, 200, "{endpoint}");
    assert_eq!(endpoint["enabled"], true);
    assert!(endpoint["disabled_reason"].is_null(), "{endpoint}");
    assert_eq!(gone.got().len(), 1);
    t.relay.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_are_managed_per_account_and_isolated() {
    let t = TestRelay::start_with(|c| c.webhook_allow_private_targets = true).await;
    let key = t.http.onboard("sandbox").await;
    let other = t.http.onboard("sandbox").await;
    let receiver = Receiver::start(&[]).await;

    // Validation.
    for (body, path) in [
        (json!({"url": "ftp://example.com/x"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (json!({"url": "http://user:pw@example.com/x"}), "url"),
        (json!({"url": receiver.url, "events": ["invoice.paid"]}), "events[0]"),
        (json!({"url": receiver.url, "colour": "red"}), "colour"),
    ] {
        let (status, error) = t.http.post("/v1/webhooks", &key, body).await;
        assert_eq!(status, 400, "{error}");
        assert_envelope(&error, "VALIDATION_ERROR");
        assert_eq!(error["error"]["details"][0]["path"], path, "{error}");
    }

    let (id, secret) = create_endpoint(
        &t,
        &key,
        json!({"url": receiver.url, "events": ["invoice.rejected", "invoice.reported", "invoice.reported"]}),
    )
    .await;
    let (_, listed) = t.http.get("/v1/webhooks", &key).await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(
        listed["data"][0]["events"],
        json!(["invoice.rejected", "invoice.reported"])
    );

    // Another account sees nothing and can change nothing.
    let (_, theirs) = t.http.get("/v1/webhooks", &other).await;
    assert_eq!(theirs["data"], json!([]));
    for (method, path, body) in [
        (Method::GET, format!("/v1/webhooks/{id}"), None),
        (Method::GET, format!("/v1/webhooks/{id}/deliveries"), None),
        (
            Method::PATCH,
            format!("/v1/webhooks/{id}"),
            Some(json!({"enabled": false})),
        ),
        (Method::DELETE, format!("/v1/webhooks/{id}"), None),
    ] {
        let (status, error) = t.http.send(method.clone(), &path, Some(&other), body.as_ref()).await;
        assert_eq!(status, 404, "{method} {path}: {error}");
        assert_envelope(&error, "WEBHOOK_ENDPOINT_NOT_FOUND");
    }
    let (status, error) = t.http.get("/v1/webhooks/not-a-uuid", &key).await;
    assert_eq!(status, 404, "{error}");

    // The owner updates and deletes it.
    let (status, updated) = t
        .http
        .send(
            Method::PATCH,
            &format!("/v1/webhooks/{id}"),
            Some(&key),
            Some(&json!({"events": [], "description": "all events", "enabled": false})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["events"], json!([]));
    assert_eq!(updated["enabled"], false);
    assert_eq!(updated["description"], "all events");
    let (status, deleted) = t
        .http
        .send(Method::DELETE, &format!("/v1/webhooks/{id}"), Some(&key), None)
        .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["deleted"], true);
    let (status, _) = t.http.get(&format!("/v1/webhooks/{id}"), &key).await;
    assert_eq!(status, 404);
    t.relay.shutdown().await.expect("shutdown");
    assert_not_logged(&[&secret]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_onboarding_is_delivered() {
    let t = TestRelay::start_with(|c| {
        c.webhook_backoff_ms = 50;
        c.webhook_allow_private_targets = true;
    })
    .await;
    let key = t.http.onboard("sandbox").await;
    let receiver = Receiver::start(&[]).await;
    let (_, secret) = create_endpoint(&t, &key, json!({"url": receiver.url})).await;
    let unit = t
        .http
        .create_unit(
            &key,
            json!({"unit_name": "POS", "invoice_type": "simplified", "otp": "000000", "seller": acme()}),
        )
        .await;
    let status = t.http.wait_for(&key, &unit, &["failed", "active"]).await;
    assert_eq!(status["onboarding_status"], "failed", "{status}");
    let failed = receiver.wait_for("onboarding.failed").await;
    assert_signed(&failed, &secret);
    assert_eq!(failed.json()["data"]["egs_unit_id"], unit.as_str());
    assert_eq!(failed.json()["data"]["onboarding_status"], "failed");
    assert!(
        failed.json()["data"]["errors"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
    );
    t.relay.shutdown().await.expect("shutdown");
}

/// By default the relay calls no address of its own network: IP literals are refused when the
/// endpoint is registered, names resolving there (`localhost`) when an event is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_targets_are_refused_by_default() {
    let t = TestRelay::start_with(|c| {
        c.webhook_backoff_ms = 50;
        c.webhook_max_attempts = 2;
    })
    .await;
    let key = t.http.onboard("sandbox").await;
    let receiver = Receiver::start(&[]).await;
    for url in [
        receiver.url.clone(),
        "http://10.0.0.1/hook".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://[::1]:8080/hook".to_owned(),
    ] {
        let (status, error) = t.http.post("/v1/webhooks", &key, json!({"url": url})).await;
        assert_eq!(status, 400, "{url}: {error}");
        assert_eq!(error["error"]["details"][0]["path"], "url", "{error}");
    }
    let port = receiver.url.split(':').nth(2).expect("port");
    let (endpoint, _) = create_endpoint(&t, &key, json!({"url": format!("http://localhost:{port}")})).await;
    t.http
        .active_unit(
            &key,
            json!({"unit_name": "POS", "invoice_type": "simplified", "seller": acme()}),
        )
        .await;
    let started = Instant::now();
    let log = loop {
        let (_, log) = t.http.get(&format!("/v1/webhooks/{endpoint}/deliveries"), &key).await;
        if log["data"][0]["status"] == "failed" {
            break log;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{log}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        log["data"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("no public address")),
        "{log}"
    );
    assert!(log["data"][0]["response_status"].is_null(), "{log}");
    assert!(receiver.got().is_empty());
    t.relay.shutdown().await.expect("shutdown");
}

/// An event announcing a state change is written in the change's own transaction: when the event
/// cannot be written, the change is not either, and when it can, both are there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_is_saved_with_its_state_change_or_not_at_all() {
    use zatca_relay::domain::{Detail, EventType, Job, JobKind, PendingEvent, WebhookEvent, WebhookJob};
    let t = TestRelay::start_with(|c| c.inline_submit_ms = 3000).await;
    let key = t.http.onboard("sandbox").await;
    let (unit, _) = t
        .http
        .active_unit(
            &key,
            json!({"unit_name": "POS", "invoice_type": "simplified", "seller": acme()}),
        )
        .await;
    let (status, created) = t
        .http
        .post(
            "/v1/invoices/simplified",
            &key,
            invoice(&unit, "INV-1", "2025-01-15", "14:30:00", false),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let store = &t.relay.state.store;
    let id = uuid::Uuid::parse_str(created["invoice_id"].as_str().expect("id")).expect("uuid");
    let before = store.invoice_by_id(id).await.expect("store").expect("invoice");
    let mut changed = before.clone();
    changed.messages = vec![Detail::message("a later note".to_owned())];
    let pending = |jobs: Vec<Job>| PendingEvent {
        event: WebhookEvent {
            id: uuid::Uuid::now_v7(),
            account_id: before.account_id,
            environment: before.environment,
            egs_unit_id: before.egs_unit_id,
            event_type: EventType::InvoiceReported,
            body: "{}".to_owned(),
            created_at: chrono::Utc::now(),
        },
        jobs,
    };
    let delivery = Job::new(
        before.egs_unit_id,
        JobKind::Webhook(WebhookJob {
            event_id: uuid::Uuid::now_v7(),
            endpoint_id: uuid::Uuid::now_v7(),
        }),
    );

    // Two deliveries with one id: the second insert fails, and the status change goes with it.
    let broken = pending(vec![delivery.clone(), delivery.clone()]);
    store
        .save_invoice_status(&changed, &[], Some(&broken))
        .await
        .expect_err("a duplicate job id is refused");
    assert_eq!(store.invoice_by_id(id).await.expect("store").expect("invoice"), before);
    assert!(store.webhook_event(broken.event.id).await.expect("store").is_none());

    let fine = pending(vec![delivery]);
    store
        .save_invoice_status(&changed, &[], Some(&fine))
        .await
        .expect("saved");
    assert_eq!(store.invoice_by_id(id).await.expect("store").expect("invoice"), changed);
    assert_eq!(
        store.webhook_event(fine.event.id).await.expect("store").map(|e| e.id),
        Some(fine.event.id)
    );
    t.relay.shutdown().await.expect("shutdown");
}

/// An endpoint change whose every save loses to another change (16 tries, forced by a trigger
/// that makes each conditional save find nothing to change) is `409 CONCURRENT_UPDATE`,
/// retryable, with the endpoint as it was; sent again once the contention is over, it applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_change_that_keeps_losing_is_a_retryable_409() {
    let t = TestRelay::start().await;
    let key = t.http.onboard("sandbox").await;
    let (id, _) = create_endpoint(
        &t,
        &key,
        json!({ "url": "https://example.com/hooks/zatca", "description": "day shift" }),
    )
    .await;
    let path = format!("/v1/webhooks/{id}");
    let change = json!({ "description": "night shift" });
    lose_every_save(t.dir.path(), "webhook_endpoints", true).await;
    let (status, answer) = t.http.send(Method::PATCH, &path, Some(&key), Some(&change)).await;
    assert_eq!(status, 409, "{answer}");
    assert_envelope(&answer, "CONCURRENT_UPDATE");
    assert_eq!(answer["error"]["retryable"], true, "{answer}");
    let (_, shown) = t.http.get(&path, &key).await;
    assert_eq!(shown["description"], "day shift", "{shown}");

    lose_every_save(t.dir.path(), "webhook_endpoints", false).await;
    let (status, answer) = t.http.send(Method::PATCH, &path, Some(&key), Some(&change)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["description"], "night shift", "{answer}");
    t.relay.shutdown().await.expect("shutdown");
}
