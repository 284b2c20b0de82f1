//! Requests racing each other at two relays on one database. With `RELAY_TEST_DATABASE_URL`
//! (scripts/postgres.sh) two relay processes share one PostgreSQL schema and each pair of
//! requests is sent to both at once; without it the same tests run against one relay on SQLite
//! with the pair sent to it concurrently. Either way:
//!
//! - the same `Idempotency-Key` sent twice at once makes one invoice, and both answers agree
//!   (or, with two different bodies, one invoice and `409 IDEMPOTENCY_KEY_REUSED`);
//! - the plan's unit quota holds under concurrent `POST /v1/egs` (`403 EGS_QUOTA_EXCEEDED`);
//! - once a revocation has been answered, the key is refused everywhere (the relay keeps no
//!   key cache: every request looks the key up), and two keys revoking each other at once never
//!   leave the account without a key;
//! - unit names and webhook URLs are labels, not keys (neither the hosted API's documentation
//!   nor the relay's README makes them unique): two creations at once make two resources;
//!   two changes of different fields of one webhook endpoint at once both stay; two deletions
//!   of one endpoint at once answer `200` and `404`;
//! - a rename of an API key at one relay and a new default unit at the other both stay.
//!
//! No race may end in a 5xx.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::Method;
use common::*;
use serde_json::{Value, json};

/// The relays under test: two processes on one PostgreSQL schema, or one in-process relay on
/// SQLite (then `a` and `b` are clients of the same relay).
struct Pair {
    a: Client,
    b: Client,
    /// What keeps the relays running: the two processes with their simulators and directory,
    /// or the in-process relay.
    _relays: Box<dyn std::any::Any>,
}

impl Pair {
    /// The relays with `plans` (`--plans`, e.g. `solo=3:1`).
    async fn start(plans: &'static str) -> Pair {
        if postgres_url().is_none() {
            let relay = TestRelay::start_with(|c| c.plans = plans.parse().expect("plans")).await;
            let client = relay.http.clone();
            return Pair {
                a: client.clone(),
                b: client,
                _relays: Box::new(relay),
            };
        }
        let sims = Sims::start().await;
        let dir = tempfile::tempdir().expect("dir");
        let start = |dir: std::path::PathBuf, url: String| {
            tokio::task::spawn_blocking(move || RelayProcess::start(&dir, &url, 4096, &["--plans", plans]))
        };
        let url = sims.sandbox.base_url.clone();
        let a = start(dir.path().to_owned(), url.clone()).await.expect("relay a");
        let b = start(dir.path().to_owned(), url).await.expect("relay b");
        Pair {
            a: Client::new(&a.base_url()),
            b: Client::new(&b.base_url()),
            _relays: Box::new((a, b, sims, dir)),
        }
    }
}

/// Panics on a 5xx: a race must end in a defined answer.
fn no_5xx(label: &str, (status, body): &(u16, Value)) {
    assert!(*status < 500, "{label}: {status} {body}");
}

fn simplified(unit: &str, number: &str) -> Value {
    json!({
        "egs_unit_id": unit,
        "invoice_number": number,
        "invoice_date": "2025-01-15",
        "invoice_time": "14:30:00",
        "line_items": [{ "description": "Item", "quantity": 1, "unit_price": 10 }],
    })
}

async fn invoice_count(http: &Client, key: &str) -> u64 {
    let (status, list) = http.get("/v1/invoices?limit=1", key).await;
    assert_eq!(status, 200, "{list}");
    list["pagination"]["total_count"].as_u64().expect("total_count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_idempotency_key_at_both_relays_at_once_makes_one_invoice() {
    const ROUNDS: usize = 12;
    let pair = Pair::start("solo=5:1").await;
    let key = pair.a.onboard("sandbox").await;
    let (unit, _) = pair
        .b
        .active_unit(
            &key,
            json!({"unit_name": "POS", "invoice_type": "simplified", "seller": seller()}),
        )
        .await;
    for round in 0..ROUNDS {
        // The same request twice: one invoice, the same answer from both.
        let idem = format!("same-{round}");
        let headers = [("Idempotency-Key", idem.as_str())];
        let body = simplified(&unit, &format!("SAME-{round:03}"));
        let (a, b) = tokio::join!(
            pair.a.send_with(
                Method::POST,
                "/v1/invoices/simplified",
                Some(&key),
                Some(&body),
                &headers
            ),
            pair.b.send_with(
                Method::POST,
                "/v1/invoices/simplified",
                Some(&key),
                Some(&body),
                &headers
            ),
        );
        assert_eq!((a.0, b.0), (200, 200), "round {round}: {} / {}", a.1, b.1);
        assert_eq!(a.1["invoice_id"], b.1["invoice_id"], "round {round}");
        assert_eq!(a.1["icv"], b.1["icv"], "round {round}");
        assert_eq!(a.1["invoice_hash"], b.1["invoice_hash"], "round {round}");

        // One key, two different bodies: one invoice, and the other is told the key is taken.
        let idem = format!("diff-{round}");
        let headers = [("Idempotency-Key", idem.as_str())];
        let (body_a, body_b) = (
            simplified(&unit, &format!("DIFF-A-{round:03}")),
            simplified(&unit, &format!("DIFF-B-{round:03}")),
        );
        let (a, b) = tokio::join!(
            pair.a.send_with(
                Method::POST,
                "/v1/invoices/simplified",
                Some(&key),
                Some(&body_a),
                &headers
            ),
            pair.b.send_with(
                Method::POST,
                "/v1/invoices/simplified",
                Some(&key),
                Some(&body_b),
                &headers
            ),
        );
        no_5xx("a", &a);
        no_5xx("b", &b);
        let mut statuses = [a.0, b.0];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "round {round}: {} / {}", a.1, b.1);
        let refused = if a.0 == 409 { &a.1 } else { &b.1 };
        assert_envelope(refused, "IDEMPOTENCY_KEY_REUSED");
    }
    let expected = (2 * ROUNDS) as u64;
    assert_eq!(invoice_count(&pair.a, &key).await, expected);
    assert_eq!(invoice_count(&pair.b, &key).await, expected);
    // One chain position each: the unit's counter moved once per invoice.
    assert_eq!(pair.a.invoice_counter(&key, &unit).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unit_quota_holds_when_both_relays_create_units_at_once() {
    const LIMIT: usize = 3;
    const TRIES: usize = 10;
    let pair = Pair::start("solo=3:1").await;
    let key = pair.a.onboard("sandbox").await;
    // The same name every time: a name is a label, so each creation within the quota is a unit.
    let tasks: Vec<_> = (0..TRIES)
        .map(|n| {
            let http = if n % 2 == 0 { pair.a.clone() } else { pair.b.clone() };
            let key = key.clone();
            tokio::spawn(async move { http.post("/v1/egs", &key, json!({"unit_name": "POS"})).await })
        })
        .collect();
    let mut created = Vec::new();
    for task in tasks {
        let answer = task.await.expect("task");
        no_5xx("POST /v1/egs", &answer);
        match answer.0 {
            200 => created.push(answer.1["egs_unit_id"].as_str().expect("id").to_owned()),
            403 => assert_envelope(&answer.1, "EGS_QUOTA_EXCEEDED"),
            other => panic!("POST /v1/egs: {other} {}", answer.1),
        }
    }
    assert_eq!(created.len(), LIMIT, "units created: {created:?}");
    created.sort();
    created.dedup();
    assert_eq!(created.len(), LIMIT, "one id per unit");
    for http in [&pair.a, &pair.b] {
        let (status, list) = http.get("/v1/egs", &key).await;
        assert_eq!(status, 200, "{list}");
        let mut listed: Vec<String> = list["data"]
            .as_array()
            .expect("units")
            .iter()
            .map(|u| u["egs_unit_id"].as_str().expect("id").to_owned())
            .collect();
        listed.sort();
        assert_eq!(listed, created);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_at_one_relay_is_refused_by_the_other_at_once() {
    let pair = Pair::start("solo=5:1").await;
    let owner = pair.a.onboard("sandbox").await;
    for round in 0..5 {
        let (status, made) = pair
            .a
            .post("/v1/keys", &owner, json!({"name": format!("k{round}")}))
            .await;
        assert_eq!(status, 201, "{made}");
        let key = made["key"].as_str().expect("key").to_owned();
        let id = made["id"].as_str().expect("id").to_owned();
        assert_eq!(pair.b.get("/v1/account", &key).await.0, 200);

        // Relay b is used with the key without pause while relay a revokes it.
        let seen: Arc<Mutex<Vec<(Instant, u16, Value)>>> = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let hammer = {
            let (http, key, seen, stop) = (pair.b.clone(), key.clone(), seen.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let sent = Instant::now();
                    let (status, body) = http.get("/v1/account", &key).await;
                    seen.lock().expect("seen").push((sent, status, body));
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(30)).await;
        let (status, revoked) = pair
            .a
            .send(Method::DELETE, &format!("/v1/keys/{id}"), Some(&owner), None)
            .await;
        assert_eq!(status, 200, "{revoked}");
        let answered = Instant::now();
        tokio::time::sleep(Duration::from_millis(150)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        hammer.await.expect("hammer");

        let seen = seen.lock().expect("seen");
        let after: Vec<_> = seen.iter().filter(|(sent, _, _)| *sent >= answered).collect();
        assert!(!after.is_empty(), "round {round}: no request after the revocation");
        assert!(
            seen.iter().any(|(sent, status, _)| *sent < answered && *status == 200),
            "round {round}: the key was never used before its revocation"
        );
        for (_, status, body) in &after {
            assert_eq!(*status, 401, "round {round}: revoked key served: {body}");
            assert_envelope(body, "INVALID_API_KEY");
        }
        for (_, status, body) in seen.iter() {
            assert!(matches!(status, 200 | 401), "round {round}: {status} {body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_keys_revoking_each_other_at_both_relays_leave_one() {
    let pair = Pair::start("solo=5:1").await;
    for round in 0..10 {
        let k1 = pair.a.onboard("sandbox").await;
        let (status, made) = pair.b.post("/v1/keys", &k1, json!({"name": "k2"})).await;
        assert_eq!(status, 201, "{made}");
        let k2 = made["key"].as_str().expect("key").to_owned();
        let id2 = made["id"].as_str().expect("id").to_owned();
        let (_, listed) = pair.a.get("/v1/keys", &k1).await;
        let id1 = listed["data"]
            .as_array()
            .expect("keys")
            .iter()
            .filter_map(|k| k["id"].as_str())
            .find(|id| *id != id2)
            .expect("id1")
            .to_owned();
        let (path1, path2) = (format!("/v1/keys/{id2}"), format!("/v1/keys/{id1}"));
        let (by_k1, by_k2) = tokio::join!(
            pair.a.send(Method::DELETE, &path1, Some(&k1), None),
            pair.b.send(Method::DELETE, &path2, Some(&k2), None),
        );
        for answer in [&by_k1, &by_k2] {
            if answer.0 != 200 {
                assert!(
                    matches!(answer.0, 401 | 409),
                    "round {round}: {} {}",
                    answer.0,
                    answer.1
                );
            }
        }
        let alive = [
            pair.b.get("/v1/account", &k1).await.0,
            pair.a.get("/v1/account", &k2).await.0,
        ];
        assert_eq!(
            alive.iter().filter(|s| **s == 200).count(),
            1,
            "round {round}: {alive:?} after {} / {}",
            by_k1.0,
            by_k2.0
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_endpoints_created_and_deleted_at_both_relays_at_once() {
    const ROUNDS: usize = 5;
    let pair = Pair::start("solo=5:1").await;
    let key = pair.a.onboard("sandbox").await;
    let url = "https://hooks.example.com/zatca";
    let mut ids = Vec::new();
    for round in 0..ROUNDS {
        let body = json!({"url": url});
        let (a, b) = tokio::join!(
            pair.a.post("/v1/webhooks", &key, body.clone()),
            pair.b.post("/v1/webhooks", &key, body.clone()),
        );
        assert_eq!((a.0, b.0), (201, 201), "round {round}: {} / {}", a.1, b.1);
        assert_ne!(a.1["id"], b.1["id"], "round {round}");
        assert_ne!(a.1["secret"], b.1["secret"], "round {round}");
        for answer in [&a, &b] {
            assert_eq!(answer.1["url"], url, "{}", answer.1);
            ids.push(answer.1["id"].as_str().expect("id").to_owned());
        }
    }
    let (status, list) = pair.b.get("/v1/webhooks", &key).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"].as_array().expect("endpoints").len(), 2 * ROUNDS, "{list}");

    // Two changes of different fields of one endpoint at once, one at each relay: both stay.
    for (n, id) in ids.iter().enumerate() {
        let path = format!("/v1/webhooks/{id}");
        let note = format!("note {n}");
        let (describe, filter) = (json!({"description": note}), json!({"events": ["invoice.rejected"]}));
        let (a, b) = tokio::join!(
            pair.a.send(Method::PATCH, &path, Some(&key), Some(&describe)),
            pair.b.send(Method::PATCH, &path, Some(&key), Some(&filter)),
        );
        assert_eq!((a.0, b.0), (200, 200), "{id}: {} / {}", a.1, b.1);
        let (_, now) = pair.a.get(&path, &key).await;
        assert_eq!(
            (&now["description"], &now["events"]),
            (&json!(note), &json!(["invoice.rejected"])),
            "{id}: a change was lost: {now}"
        );
    }

    // Deleting one endpoint at both relays at once: one deletes it, the other finds nothing.
    for id in &ids {
        let path = format!("/v1/webhooks/{id}");
        let (a, b) = tokio::join!(
            pair.a.send(Method::DELETE, &path, Some(&key), None),
            pair.b.send(Method::DELETE, &path, Some(&key), None),
        );
        let mut statuses = [a.0, b.0];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 404], "{id}: {} / {}", a.1, b.1);
        assert_envelope(if a.0 == 404 { &a.1 } else { &b.1 }, "WEBHOOK_ENDPOINT_NOT_FOUND");
    }
    let (_, list) = pair.a.get("/v1/webhooks", &key).await;
    assert_eq!(list["data"], json!([]), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_changes_of_one_key_at_both_relays_both_stay() {
    let pair = Pair::start("solo=5:1").await;
    let owner = pair.a.onboard("sandbox").await;
    let unit = pair.a.create_unit(&owner, json!({"unit_name": "POS"})).await;
    for round in 0..5 {
        let (status, made) = pair.a.post("/v1/keys", &owner, json!({"name": "before"})).await;
        assert_eq!(status, 201, "{made}");
        let path = format!("/v1/keys/{}", made["id"].as_str().expect("id"));
        let name = format!("renamed {round}");
        let (rename, set_unit) = (json!({"name": name}), json!({"default_egs_unit_id": unit}));
        let (a, b) = tokio::join!(
            pair.a.send(Method::PATCH, &path, Some(&owner), Some(&rename)),
            pair.b.send(Method::PATCH, &path, Some(&owner), Some(&set_unit)),
        );
        assert_eq!((a.0, b.0), (200, 200), "round {round}: {} / {}", a.1, b.1);
        let (_, keys) = pair.b.get("/v1/keys", &owner).await;
        let key = keys["data"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["id"] == made["id"])
            .expect("the key")
            .clone();
        assert_eq!(
            (&key["name"], &key["default_egs_unit_id"]),
            (&json!(name), &json!(unit)),
            "round {round}: a change was lost: {key}"
        );
    }
}
