//! kill -9 of the relay process while 500 simplified invoices wait in its queue: after a
//! restart every one is reported, each accepted exactly once by the simulator (which runs in
//! this test process and so outlives the relay).

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use zatca_sim::Faults;

const INVOICES: usize = 500;

fn body(unit: &str, n: usize) -> Value {
    json!({
        "egs_unit_id": unit,
        "invoice_number": format!("K-{n:04}"),
        "invoice_date": "2025-01-15",
        "invoice_time": "14:30:00",
        "line_items": [{ "description": "Item", "quantity": 1, "unit_price": 10 }],
    })
}

async fn reported(http: &Client, key: &str) -> u64 {
    let (_, list) = http.get("/v1/invoices?status=reported&limit=1", key).await;
    list["pagination"]["total_count"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_500_queued_submissions_reports_each_exactly_once() {
    let sims = Sims::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().to_owned();
    let url = sims.sandbox.base_url.clone();
    // No inline attempt: every invoice goes through the queue.
    let flags = [
        "--inline-submit-ms",
        "0",
        "--worker-concurrency",
        "8",
        "--unit-concurrency",
        "8",
    ];
    let relay = tokio::task::spawn_blocking({
        let (path, url) = (path.clone(), url.clone());
        move || RelayProcess::start(&path, &url, 4096, &flags)
    })
    .await
    .expect("start");
    let http = Client::new(&relay.base_url());
    let key = http.onboard("sandbox").await;
    let unit = http.create_unit(&key, json!({"unit_name": "POS"})).await;
    http.wait_for(&key, &unit, &["active"]).await;

    // ZATCA is slow (150 ms a call) so the queue is still draining when the relay dies, even when
    // issuing is slow (PostgreSQL on a busy machine) and the queue drains while invoices are issued.
    sims.sandbox.set_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    });
    let mut hashes = Vec::with_capacity(INVOICES);
    let mut batch = Vec::new();
    for n in 0..INVOICES {
        let (http, key, body) = (http.clone(), key.clone(), body(&unit, n));
        batch.push(tokio::spawn(async move {
            http.post("/v1/invoices/simplified", &key, body).await
        }));
        if batch.len() == 16 || n + 1 == INVOICES {
            for task in batch.drain(..) {
                let (status, answer) = task.await.expect("task");
                assert_eq!(status, 200, "{answer}");
                hashes.push(answer["invoice_id"].as_str().expect("id").to_owned());
            }
        }
    }
    let started = Instant::now();
    while reported(&http, &key).await < 50 {
        assert!(started.elapsed() < Duration::from_secs(60), "the queue does not drain");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::task::spawn_blocking(move || relay.kill())
        .await
        .expect("kill -9");
    let before_restart = sims
        .sandbox
        .counters()
        .endpoint("POST /invoices/reporting/single")
        .accepted;
    assert!(
        (before_restart as usize) < INVOICES,
        "the relay died with submissions still queued ({before_restart} reported)"
    );

    let relay = tokio::task::spawn_blocking(move || RelayProcess::start(&path, &url, 4096, &flags))
        .await
        .expect("restart");
    let http = Client::new(&relay.base_url());
    let started = Instant::now();
    while reported(&http, &key).await < INVOICES as u64 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not all reported after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Exactly once at ZATCA per document: an answer lost in the crash is resent and settled by
    // the duplicate answer, never accepted twice.
    let counters = sims.sandbox.counters();
    assert_eq!(
        counters.endpoint("POST /invoices/reporting/single").accepted,
        INVOICES as u64
    );
    let mut ids = std::collections::HashSet::new();
    for id in &hashes {
        assert!(ids.insert(id.clone()), "invoice {id} twice");
        let (_, detail) = http.get(&format!("/v1/invoices/{id}"), &key).await;
        let hash = detail["invoice_hash"].as_str().expect("hash");
        let c = counters.invoice(hash);
        assert_eq!(c.accepted, 1, "invoice {id}: {c:?}");
    }
    assert_eq!(http.invoice_counter(&key, &unit).await, INVOICES as u64);
    tokio::task::spawn_blocking(move || relay.kill()).await.expect("kill");
}
