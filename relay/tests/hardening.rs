//! Regression tests for the findings of the relay's hostile probe (issue 9): each fails on the
//! relay as it was before the fix.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt as _;

use std::time::{Duration, Instant};

use axum::http::Method;
use common::*;
use serde_json::{Value, json};
use zatca_sim::Faults;

async fn send_raw(c: &Client, method: Method, path: &str, key: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", c.base))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("answer");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text })),
    )
}

// 1. A key sees and manages only keys of its own environment (a live key manages both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_key_cannot_see_or_manage_production_keys() {
    let t = TestRelay::start().await;
    let live = t.http.onboard("production").await;
    let (status, sandbox) = t.http.post("/v1/keys", &live, json!({"environment": "sandbox"})).await;
    assert_eq!(status, 201, "{sandbox}");
    let test_key = sandbox["key"].as_str().expect("key").to_owned();
    let sandbox_id = sandbox["id"].as_str().expect("id").to_owned();
    let (_, listed) = t.http.get("/v1/keys", &live).await;
    let live_id = listed["data"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["environment"] == "production")
        .and_then(|k| k["id"].as_str())
        .expect("live key id")
        .to_owned();

    // The sandbox key lists only sandbox keys.
    let (status, listed) = t.http.get("/v1/keys", &test_key).await;
    assert_eq!(status, 200);
    let environments: Vec<&str> = listed["data"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["environment"].as_str())
        .collect();
    assert_eq!(environments, ["sandbox"], "{listed}");

    // …and cannot rename or revoke the live key: to it, the key does not exist.
    let path = format!("/v1/keys/{live_id}");
    let (status, body) = t
        .http
        .send(Method::PATCH, &path, Some(&test_key), Some(&json!({"name": "x"})))
        .await;
    assert_eq!(status, 404, "{body}");
    assert_envelope(&body, "API_KEY_NOT_FOUND");
    let (status, body) = t.http.send(Method::DELETE, &path, Some(&test_key), None).await;
    assert_eq!(status, 404, "{body}");
    assert_envelope(&body, "API_KEY_NOT_FOUND");
    let (status, body) = t.http.get("/v1/account", &live).await;
    assert_eq!(status, 200, "the live key still works: {body}");

    // The live key sees both and manages the sandbox key.
    let (_, listed) = t.http.get("/v1/keys", &live).await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(2), "{listed}");
    let (status, body) = t
        .http
        .send(
            Method::PATCH,
            &format!("/v1/keys/{sandbox_id}"),
            Some(&live),
            Some(&json!({"name": "till 2"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "till 2");
    t.relay.shutdown().await.expect("shutdown");
}

// 2. Two keys revoking each other at the same moment never both succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_revocation_never_locks_the_account_out() {
    let t = TestRelay::start().await;
    for attempt in 0..30 {
        let k1 = t.http.onboard("sandbox").await;
        let (status, created) = t.http.post("/v1/keys", &k1, json!({"name": "k2"})).await;
        assert_eq!(status, 201);
        let k2 = created["key"].as_str().expect("key").to_owned();
        let id2 = created["id"].as_str().expect("id").to_owned();
        let (_, listed) = t.http.get("/v1/keys", &k1).await;
        let id1 = listed["data"]
            .as_array()
            .expect("keys")
            .iter()
            .filter_map(|k| k["id"].as_str())
            .find(|id| *id != id2)
            .expect("id1")
            .to_owned();
        let (path1, path2) = (format!("/v1/keys/{id2}"), format!("/v1/keys/{id1}"));
        let (a, b) = tokio::join!(
            t.http.send(Method::DELETE, &path1, Some(&k1), None),
            t.http.send(Method::DELETE, &path2, Some(&k2), None),
        );
        assert!(
            !(a.0 == 200 && b.0 == 200),
            "attempt {attempt}: both revocations succeeded"
        );
        for (status, body) in [&a, &b] {
            if *status != 200 {
                assert!(matches!(*status, 401 | 409), "{status} {body}");
            }
        }
        let alive = [
            t.http.get("/v1/account", &k1).await.0,
            t.http.get("/v1/account", &k2).await.0,
        ];
        assert_eq!(
            alive.iter().filter(|s| **s == 200).count(),
            1,
            "attempt {attempt}: {alive:?}"
        );
    }
    t.relay.shutdown().await.expect("shutdown");
}

// 4. Every request body must be a JSON object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_arrays_and_scalars_are_refused_on_every_body_route() {
    let t = TestRelay::start().await;
    let key = t.http.onboard("sandbox").await;
    let unit = t.http.create_unit(&key, json!({"unit_name": "POS"})).await;
    let (_, keys) = t.http.get("/v1/keys", &key).await;
    let key_id = keys["data"][0]["id"].as_str().expect("id").to_owned();
    let routes = [
        (Method::POST, "/v1/onboard".to_owned()),
        (Method::POST, "/v1/keys".to_owned()),
        (Method::PATCH, format!("/v1/keys/{key_id}")),
        (Method::POST, "/v1/egs".to_owned()),
        (Method::POST, format!("/v1/egs/{unit}/request-production")),
        (Method::POST, format!("/v1/egs/{unit}/renew")),
        (Method::POST, format!("/v1/egs/{unit}/compliance-documents")),
        (Method::POST, format!("/v1/egs/{unit}/retry-onboarding")),
        (Method::POST, "/v1/invoices/simplified".to_owned()),
        (Method::POST, "/v1/invoices/standard".to_owned()),
        (Method::POST, "/v1/invoices/credit-note".to_owned()),
        (Method::POST, "/v1/invoices/debit-note".to_owned()),
        (Method::POST, "/v1/invoices/signed".to_owned()),
    ];
    for (method, path) in &routes {
        for body in [
            r#"["POS-from-array"]"#,
            r#"["Arr Co","a@b.c","production","kn"]"#,
            "[]",
            "\"x\"",
            "42",
            "null",
        ] {
            let (status, answer) = send_raw(&t.http, method.clone(), path, Some(&key), body).await;
            assert_eq!(status, 400, "{method} {path} {body}: {answer}");
            assert_envelope(&answer, "INVALID_JSON");
        }
    }
    let (_, units) = t.http.get("/v1/egs", &key).await;
    assert_eq!(
        units["data"].as_array().map(Vec::len),
        Some(1),
        "no unit from an array: {units}"
    );
    t.relay.shutdown().await.expect("shutdown");
}

// 5. Errors raised by the relay's own layers carry the envelope; the two hyper answers keep
// their documented bare status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_layer_errors_use_the_envelope() {
    let t = TestRelay::start_with(|c| c.body_timeout_secs = 1).await;
    let key = t.http.onboard("sandbox").await;

    // A path segment that is not UTF-8 (axum's own rejection, plain text before the fix).
    let (status, body) = t.http.get("/v1/egs/%FF%FE/status", &key).await;
    assert!(status == 400 || status == 404, "{status} {body}");
    assert!(body["error"]["code"].is_string(), "{body}");

    // A body larger than the limit.
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(3 * 1024 * 1024));
    let (status, body) = send_raw(&t.http, Method::POST, "/v1/keys", Some(&key), &big).await;
    assert_eq!(status, 413, "{body}");
    assert_envelope(&body, "PAYLOAD_TOO_LARGE");

    // A body that trickles in: 408 with the envelope once the body timeout passes (on a key
    // route and on an invoice route).
    for path in ["/v1/keys", "/v1/invoices/simplified"] {
        let addr = t.relay.addr;
        let key2 = key.clone();
        let answer = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key2}\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
        )
        .expect("head");
        let started = Instant::now();
        let mut response = Vec::new();
        stream.set_nonblocking(true).expect("nonblocking");
        while started.elapsed() < Duration::from_secs(8) {
            // Once the relay has answered and closed, a write fails: read what it answered
            // before giving up (under load the failed write can come before the read).
            let closed = stream.write_all(b"{\"name\":").is_err();
            let mut buf = [0u8; 4096];
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => response.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
            if response.windows(4).any(|w| w == b"\r\n\r\n") && response.ends_with(b"}}") {
                break;
            }
            if closed {
                stream.set_nonblocking(false).expect("blocking");
                let mut rest = Vec::new();
                let _ = stream.read_to_end(&mut rest);
                response.extend_from_slice(&rest);
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (started.elapsed(), String::from_utf8_lossy(&response).into_owned())
    })
    .await
    .expect("slow body");
        assert!(answer.1.starts_with("HTTP/1.1 408"), "{answer:?}");
        assert!(answer.1.contains("\"REQUEST_TIMEOUT\""), "{answer:?}");
        assert!(answer.0 < Duration::from_secs(4), "{answer:?}");
    }

    // hyper answers these itself, before the router: documented bare statuses.
    let addr = t.relay.addr;
    let raw = move |request: String| {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        stream.write_all(request.as_bytes()).expect("write");
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response
    };
    let nul = tokio::task::spawn_blocking(move || {
        raw(format!(
            "GET /v1/account HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\0\r\n\r\n"
        ))
    })
    .await
    .expect("nul");
    assert!(nul.starts_with("HTTP/1.1 400"), "{nul}");
    t.relay.shutdown().await.expect("shutdown");
}

// 6. The database files are owner-only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_files_are_created_owner_only() {
    if postgres_url().is_some() {
        // File modes are SQLite's concern; PostgreSQL's files belong to its server.
        return;
    }
    let t = TestRelay::start().await;
    let key = t.http.onboard("sandbox").await;
    let unit = t.http.create_unit(&key, json!({"unit_name": "POS"})).await;
    t.http.wait_for(&key, &unit, &["active"]).await;
    let db = t.db_path();
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", db.display());
        let mode = std::fs::metadata(&path).expect(&path).permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{path}: {mode:o}");
    }
    t.relay.shutdown().await.expect("shutdown");

    // A database left world-readable by an earlier version is tightened at start.
    let dir = tempfile::tempdir().expect("dir");
    let loose = dir.path().join("relay.db");
    std::fs::write(&loose, b"").expect("create");
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let mut config = relay_config(dir.path(), "http://127.0.0.1:9", "http://127.0.0.1:9");
    config.database_url = zatca_relay::config::DatabaseUrl::new(format!("sqlite://{}", loose.display()));
    let relay = zatca_relay::spawn(config).await.expect("relay");
    assert_eq!(
        std::fs::metadata(&loose).expect("db").permissions().mode() & 0o777,
        0o600
    );
    relay.shutdown().await.expect("shutdown");
}

// 7. The audit log is pruned by age and by rows per unit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_retention_prunes_by_rows_and_age() {
    let t = TestRelay::start_with(|c| {
        c.audit_max_rows_per_unit = 2;
        c.audit_prune_interval_secs = 1;
    })
    .await;
    let key = t.http.onboard("sandbox").await;
    let unit = t.http.create_unit(&key, json!({"unit_name": "POS"})).await;
    t.http.wait_for(&key, &unit, &["active"]).await;
    // Five exchanges happened (the compliance CSID, three compliance documents, the production
    // CSID); two are kept.
    let started = Instant::now();
    loop {
        let (_, audit) = t.http.get(&format!("/v1/egs/{unit}/audit-log"), &key).await;
        let rows = audit["data"].as_array().map_or(0, Vec::len);
        if rows == 2 {
            assert_eq!(audit["data"][0]["operation"], "production_csid", "newest kept: {audit}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still {rows} rows");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // By age: a row older than the retention goes.
    let unit_id = uuid::Uuid::parse_str(&unit).expect("uuid");
    let old = zatca_relay::domain::AuditEntry {
        id: 0,
        egs_unit_id: unit_id,
        at: chrono::Utc::now() - chrono::Duration::days(91),
        operation: "compliance_csid".into(),
        method: "POST".into(),
        url: "http://old".into(),
        request_headers: json!({}),
        request_body: None,
        response_status: Some(200),
        response_body: None,
        duration_ms: 1,
        error: None,
    };
    t.relay.state.store.insert_audit(&old).await.expect("insert");
    let mut state = t.relay.state.clone();
    let mut config = (*state.config).clone();
    config.audit_max_rows_per_unit = 0;
    state.config = std::sync::Arc::new(config);
    let deleted = zatca_relay::retention::prune_once(&state).await.expect("prune");
    assert_eq!(deleted, 1);
    let (_, audit) = t.http.get(&format!("/v1/egs/{unit}/audit-log"), &key).await;
    assert!(!audit.to_string().contains("http://old"), "{audit}");
    t.relay.shutdown().await.expect("shutdown");
}

// 9. Unmatched paths are not logged raw; sign-up hands out live keys only when allowed; a
// failed unit can retry its onboarding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmatched_paths_are_logged_without_their_text() {
    let t = TestRelay::start().await;
    let pasted = "zatca_test_PastedIntoTheUrlByMistake0123456789";
    let (status, body) = t.http.get(&format!("/v1/{pasted}"), "zatca_test_x").await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = t.http.send(Method::GET, &format!("/{pasted}/more"), None, None).await;
    assert_eq!(status, 404);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(logs().contains("<unmatched>"), "the request line is still logged");
    assert_not_logged(&[pasted]);
    t.relay.shutdown().await.expect("shutdown");
}

// Limits (issue 14): per-key request rate and body size, both configurable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_over_its_rate_gets_429_with_retry_after_and_bodies_over_the_limit_413() {
    let t = TestRelay::start_with(|c| {
        c.rate_limit_per_second = 1;
        c.rate_limit_burst = 3;
        c.body_limit_bytes = 4096;
    })
    .await;
    let key = t.http.onboard("sandbox").await;
    let other = t.http.onboard("sandbox").await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(t.http.get("/v1/account", &key).await.0);
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    let response = reqwest::Client::new()
        .get(format!("{}/v1/account", t.http.base))
        .bearer_auth(&key)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 429);
    let wait: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=2).contains(&wait), "{wait}");
    let body: Value = response.json().await.expect("envelope");
    assert_envelope(&body, "RATE_LIMITED");
    assert_eq!(body["error"]["retryable"], true);
    // Another key of another account is not slowed down by the first.
    assert_eq!(t.http.get("/v1/account", &other).await.0, 200);
    // After the wait, the key is served again.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(t.http.get("/v1/account", &key).await.0, 200);
    // JSON nested deeper than the parser's 128 levels.
    let deep = format!("{{\"line_items\": {}{}}}", "[".repeat(200), "]".repeat(200));
    let (status, body) = send_raw(&t.http, Method::POST, "/v1/invoices/simplified", Some(&other), &deep).await;
    assert_eq!(status, 400, "{body}");
    assert_envelope(&body, "INVALID_JSON");
    // A body over the configured limit.
    let big = format!("{{\"unit_name\": \"{}\"}}", "x".repeat(5000));
    let (status, body) = send_raw(&t.http, Method::POST, "/v1/egs", Some(&other), &big).await;
    assert_eq!(status, 413, "{body}");
    assert_envelope(&body, "PAYLOAD_TOO_LARGE");
    assert!(
        body["error"]["message"].as_str().is_some_and(|m| m.contains("4096")),
        "{body}"
    );
    // The same on an invoice route.
    let big_invoice = format!("{{\"invoice_number\": \"{}\"}}", "9".repeat(5000));
    let (status, body) = send_raw(
        &t.http,
        Method::POST,
        "/v1/invoices/simplified",
        Some(&other),
        &big_invoice,
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_envelope(&body, "PAYLOAD_TOO_LARGE");
    t.relay.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_sign_up_needs_the_operator_setting() {
    let t = TestRelay::start_with(|c| c.allow_production_signup = None).await;
    let (status, body) = t
        .http
        .send(
            Method::POST,
            "/v1/onboard",
            None,
            Some(&json!({"environment": "production"})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_envelope(&body, "PRODUCTION_SIGNUP_DISABLED");
    let (status, body) = t.http.send(Method::POST, "/v1/onboard", None, Some(&json!({}))).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["api_key"]["environment"], "sandbox");
    t.relay.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_unit_retries_its_onboarding_with_a_fresh_otp() {
    let t = TestRelay::start().await;
    let key = t.http.onboard("production").await;
    let body = json!({"unit_name": "POS", "environment": "production", "otp": "999999", "seller": seller()});
    let unit = t.http.create_unit(&key, body).await;
    let failed = t.http.wait_for(&key, &unit, &["failed", "ready_for_production"]).await;
    assert_eq!(failed["onboarding_status"], "failed", "{failed}");

    let path = format!("/v1/egs/{unit}/retry-onboarding");
    let (status, body) = t.http.post(&path, &key, json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_envelope(&body, "OTP_REQUIRED");
    let otp = t.sims.production_otp();
    let (status, body) = t.http.post(&path, &key, json!({"otp": otp})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["onboarding_status"], "pending");
    let ready = t.http.wait_for(&key, &unit, &["failed", "ready_for_production"]).await;
    assert_eq!(ready["onboarding_status"], "ready_for_production", "{ready}");
    let (status, body) = t.http.post(&path, &key, json!({"otp": "123456"})).await;
    assert_eq!(status, 409, "{body}");
    assert_envelope(&body, "EGS_NOT_FAILED");
    t.relay.shutdown().await.expect("shutdown");
}

// ---------------------------------------------------------------------------------------------
// The relay as a separate process: a connection flood, and kill -9 with a ZATCA call in flight.

/// `GET /health` on a new connection: its status and how long it took.
fn health(addr: SocketAddr) -> (u16, Duration) {
    let started = Instant::now();
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(3)) else {
        return (0, started.elapsed());
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    if stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return (0, started.elapsed());
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, started.elapsed())
}

// 3. Half-open connections neither exhaust the relay's descriptors nor lock out clients.
#[test]
fn a_flood_of_half_open_connections_leaves_the_relay_answering() {
    let _ = rlimit::increase_nofile_limit(20_000);
    let dir = tempfile::tempdir().expect("dir");
    // 256 descriptors: before the fix, ~250 half-open connections made `accept` fail.
    let relay = RelayProcess::start(
        dir.path(),
        "http://127.0.0.1:9",
        256,
        &["--header-timeout-secs", "2", "--idle-timeout-secs", "2"],
    );
    for _ in 0..20 {
        assert_eq!(health(relay.addr).0, 200);
    }
    let baseline = relay.rss_kib();

    // 1,500 connections that each send only the start of a request, then wait.
    let mut flood = Vec::new();
    for _ in 0..1500 {
        if let Ok(mut stream) = TcpStream::connect_timeout(&relay.addr, Duration::from_secs(1)) {
            let _ = stream.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n");
            flood.push(stream);
        }
    }
    let mut worst = Duration::ZERO;
    for _ in 0..10 {
        let (status, took) = health(relay.addr);
        assert_eq!(status, 200, "health during the flood");
        worst = worst.max(took);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(worst < Duration::from_secs(1), "health took {worst:?} during the flood");

    // The relay closes what it holds of the flood: header and idle timeouts, evictions.
    std::thread::sleep(Duration::from_secs(4));
    let closed = flood.iter_mut().map(closed_by_server).filter(|c| *c).count();
    assert!(closed * 100 >= flood.len() * 95, "{closed} of {} closed", flood.len());
    drop(flood);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(health(relay.addr).0, 200);
    let after = relay.rss_kib();
    assert!(
        after < baseline + 32 * 1024,
        "RSS grew from {baseline} KiB to {after} KiB and stayed"
    );
    relay.kill();
}

/// Whether the server closed the connection (a response before the close counts as closed).
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(5)));
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

// 8. A relay killed with the compliance-CSID request in flight requests again after restart,
// uses the newest CSID and notes the possible orphan in the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_the_compliance_call_is_reconciled_at_restart() {
    let sims = Sims::start().await;
    sims.sandbox.set_faults(Faults {
        timeout_rate: 1.0,
        timeout_ms: 60_000,
        ..Faults::default()
    });
    let dir = tempfile::tempdir().expect("dir");
    let sandbox_url = sims.sandbox.base_url.clone();
    let path = dir.path().to_owned();
    let relay = tokio::task::spawn_blocking({
        let (path, url) = (path.clone(), sandbox_url.clone());
        move || RelayProcess::start(&path, &url, 4096, &["--zatca-timeout-secs", "120"])
    })
    .await
    .expect("start");
    let http = Client::new(&relay.base_url());
    let key = http.onboard("sandbox").await;
    let unit = http.create_unit(&key, json!({"unit_name": "POS"})).await;

    // ZATCA issued the CSID; its answer is held back; the relay dies.
    let started = Instant::now();
    while sims.sandbox.state.csids().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(20), "no compliance request");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::task::spawn_blocking(move || relay.kill()).await.expect("kill");
    sims.sandbox.set_faults(Faults::default());

    let relay = tokio::task::spawn_blocking(move || RelayProcess::start(&path, &sandbox_url, 4096, &[]))
        .await
        .expect("restart");
    let http = Client::new(&relay.base_url());
    let status = http.wait_for(&key, &unit, &["active", "failed"]).await;
    assert_eq!(status["onboarding_status"], "active", "{status}");

    // At least once: ZATCA issued two compliance CSIDs; the unit used the newest (the one whose
    // compliance steps passed and from which its production CSID came).
    let csids = sims.sandbox.state.csids();
    let compliance: Vec<_> = csids
        .iter()
        .filter(|c| c.kind == zatca_sim::CsidKind::Compliance)
        .collect();
    assert_eq!(compliance.len(), 2, "{csids:?}");
    let newest = compliance.iter().max_by_key(|c| c.request_id).expect("newest");
    let oldest = compliance.iter().min_by_key(|c| c.request_id).expect("oldest");
    assert_eq!(newest.compliance_steps_passed.len(), 3, "{newest:?}");
    assert!(oldest.compliance_steps_passed.is_empty(), "the orphan was never used");
    let (_, audit) = http.get(&format!("/v1/egs/{unit}/audit-log"), &key).await;
    let note = audit["data"]
        .as_array()
        .expect("audit")
        .iter()
        .find(|e| e["operation"] == "compliance_csid_reconcile")
        .unwrap_or_else(|| panic!("no reconciliation entry: {audit}"));
    assert!(note["error"].as_str().is_some_and(|m| m.contains("orphan")), "{note}");
    tokio::task::spawn_blocking(move || relay.kill()).await.expect("kill");
}

// Certificate lifecycle (issue 14): a certificate 5 days from its end is `critical` on the
// unit's status and in the metrics, and the hourly watch logs it as an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_near_its_end_is_critical_on_the_status_the_metrics_and_the_log() {
    capture_logs();
    let t = TestRelay::start().await;
    let key = t.http.onboard("sandbox").await;
    let (unit, status) = t
        .http
        .active_unit(
            &key,
            json!({"unit_name": "POS", "invoice_type": "simplified", "seller": seller()}),
        )
        .await;
    assert_eq!(status["cert_health"], "healthy", "{status}");
    let store = &t.relay.state.store;
    let id = uuid::Uuid::parse_str(&unit).expect("uuid");
    let mut record = store.unit_by_id(id).await.expect("store").expect("unit");
    record.cert_expires_at = Some(chrono::Utc::now() + chrono::Duration::days(5) + chrono::Duration::hours(1));
    store.save_unit_onboarding(&record, None).await.expect("save");

    let (_, status) = t.http.get(&format!("/v1/egs/{unit}/status"), &key).await;
    assert_eq!(status["cert_health"], "critical", "{status}");
    assert_eq!(status["days_until_expiry"], 5);
    let metrics = reqwest::get(format!("{}/metrics", t.http.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("relay_certificates{health=\"critical\"} 1"),
        "{metrics}"
    );
    let logged = zatca_relay::certificates::check_once(&t.relay.state)
        .await
        .expect("check");
    assert_eq!(logged, 1);
    let logs = logs();
    let line = logs
        .lines()
        .find(|l| l.contains("renew it now") && l.contains(&unit))
        .unwrap_or_else(|| panic!("no certificate alert for {unit}"));
    assert!(line.contains("ERROR") && line.contains("critical"), "{line}");
    t.relay.shutdown().await.expect("shutdown");
}
