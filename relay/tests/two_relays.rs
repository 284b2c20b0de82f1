//! Two relay processes on one PostgreSQL database (run only with `RELAY_TEST_DATABASE_URL`):
//! 2,000 invoices (simplified, and some standard ones cleared) issued through both relays on
//! three units while ZATCA answers some requests 500, some 429 with Retry-After and some only
//! after the relay gave up; one relay is killed (-9) while the queue drains and the other
//! finishes. Then, from the simulator's own counters: every invoice reported or cleared
//! exactly once; and from the relay: no ICV twice on a unit, and each unit's chain unbroken
//! (each document's PIH is the previous document's hash).
//!
//! The simulator is a process of its own too (the `zatca-sim` binary, faults switched on over
//! its `/admin/faults` endpoint, counters read from `/admin/counters`).

mod common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const INVOICES: usize = 2_000;
/// One invoice in this many is a standard (cleared) one.
const STANDARD_EVERY: usize = 10;
const UNITS: usize = 3;

fn body(unit: &str, n: usize) -> (&'static str, Value) {
    let mut body = json!({
        "egs_unit_id": unit,
        "invoice_number": format!("TR-{n:05}"),
        "invoice_date": "2025-01-15",
        "invoice_time": "14:30:00",
        "line_items": [{ "description": "Item", "quantity": 1, "unit_price": 10 }],
    });
    if n % STANDARD_EVERY == 0 {
        body["buyer"] = json!({
            "name": "Client Co",
            "vat_number": "300098765400003",
            "address": { "street": "Olaya St", "building_number": "2222", "district": "Al Olaya", "city": "Riyadh", "postal_code": "12222", "country": "SA" },
        });
        ("/v1/invoices/standard", body)
    } else {
        ("/v1/invoices/simplified", body)
    }
}

/// Invoices of the account settled with ZATCA (reported or cleared).
async fn settled(http: &Client, key: &str) -> u64 {
    let mut total = 0;
    for status in ["reported", "cleared"] {
        let (_, list) = http.get(&format!("/v1/invoices?status={status}&limit=1"), key).await;
        total += list["pagination"]["total_count"].as_u64().unwrap_or(0);
    }
    total
}

/// The PIH a signed document carries (the base64 text of its PIH reference).
fn pih_of(xml: &str) -> String {
    let after = xml.split("<cbc:ID>PIH</cbc:ID>").nth(1).expect("PIH reference");
    let start = after.find("EmbeddedDocumentBinaryObject").expect("PIH object");
    let value = &after[start..];
    let open = value.find('>').expect(">") + 1;
    let close = value[open..].find('<').expect("<") + open;
    value[open..close].trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_on_one_postgres_settle_2000_invoices_exactly_once_through_a_kill_9() {
    if postgres_url().is_none() {
        eprintln!("skipped: RELAY_TEST_DATABASE_URL is not set (scripts/postgres.sh sets it)");
        return;
    }
    let sim = tokio::task::spawn_blocking(|| SimProcess::start(&["--environment", "sandbox"]))
        .await
        .expect("zatca-sim");
    let dir = tempfile::tempdir().expect("dir");
    let url = sim.base_url.clone();
    // Every invoice goes through the shared queue; a request to ZATCA gives up after 2 s.
    let flags = [
        "--inline-submit-ms",
        "0",
        "--worker-concurrency",
        "8",
        "--unit-concurrency",
        "8",
        "--zatca-timeout-secs",
        "2",
    ];
    let start = |dir: std::path::PathBuf, url: String| {
        tokio::task::spawn_blocking(move || RelayProcess::start(&dir, &url, 4096, &flags))
    };
    let a = start(dir.path().to_owned(), url.clone()).await.expect("relay a");
    let b = start(dir.path().to_owned(), url.clone()).await.expect("relay b");
    let (http_a, http_b) = (Client::new(&a.base_url()), Client::new(&b.base_url()));

    let key = http_a.onboard("sandbox").await;
    let mut units = Vec::new();
    for n in 0..UNITS {
        let http = if n % 2 == 0 { &http_a } else { &http_b };
        let (unit, _) = http
            .active_unit(
                &key,
                json!({"unit_name": format!("POS {n}"), "invoice_type": "both", "seller": seller()}),
            )
            .await;
        units.push(unit);
    }

    let faults = json!({
        "latency_ms": 5,
        "error_rate": 0.05,
        "rate_limit_rate": 0.05,
        "retry_after_secs": 1,
        "timeout_rate": 0.02,
        "timeout_ms": 3_000,
    });
    let now = sim.set_faults(faults).await;
    assert_eq!(now.timeout_ms, 3_000, "{now:?}");

    // Issue through both relays at once, 16 requests in flight.
    let mut ids = Vec::with_capacity(INVOICES);
    let mut batch = Vec::new();
    for n in 0..INVOICES {
        let http = if n % 2 == 0 { http_a.clone() } else { http_b.clone() };
        let (path, body) = body(&units[n % UNITS], n);
        let key = key.clone();
        batch.push(tokio::spawn(async move { http.post(path, &key, body).await }));
        if batch.len() == 16 || n + 1 == INVOICES {
            for task in batch.drain(..) {
                let (status, answer) = task.await.expect("task");
                assert_eq!(status, 200, "{answer}");
                ids.push(answer["invoice_id"].as_str().expect("id").to_owned());
            }
        }
    }

    // kill -9 of relay a while the queue drains; b finishes.
    let started = Instant::now();
    while settled(&http_b, &key).await < (INVOICES / 5) as u64 {
        assert!(started.elapsed() < Duration::from_secs(120), "the queue does not drain");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::task::spawn_blocking(move || a.kill()).await.expect("kill -9");
    let at_kill = settled(&http_b, &key).await;
    assert!(
        (at_kill as usize) < INVOICES,
        "relay a died with work left ({at_kill} settled)"
    );
    let started = Instant::now();
    while settled(&http_b, &key).await < INVOICES as u64 {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "relay b did not finish: {} of {INVOICES} settled",
            settled(&http_b, &key).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Exactly once at ZATCA, by the simulator's counters.
    let counters = sim.counters().await;
    let reported = counters.endpoint("POST /invoices/reporting/single").accepted;
    let cleared = counters.endpoint("POST /invoices/clearance/single").accepted;
    let standard = INVOICES.div_ceil(STANDARD_EVERY) as u64;
    assert_eq!(reported, INVOICES as u64 - standard, "reported");
    assert_eq!(cleared, standard, "cleared");

    let mut chains: HashMap<String, Vec<(i64, String, String)>> = HashMap::new();
    let mut seen = HashSet::new();
    for id in &ids {
        assert!(seen.insert(id.clone()), "invoice {id} twice");
        let (_, detail) = http_b.get(&format!("/v1/invoices/{id}"), &key).await;
        let hash = detail["invoice_hash"].as_str().expect("hash").to_owned();
        let c = counters.invoice(&hash);
        assert_eq!(c.accepted, 1, "invoice {id}: {c:?}");
        let xml = String::from_utf8(http_b.xml(&key, id).await).expect("UTF-8 XML");
        let unit = detail["egs_unit_id"].as_str().expect("unit").to_owned();
        let icv = detail["icv"].as_i64().expect("icv");
        chains.entry(unit).or_default().push((icv, hash, pih_of(&xml)));
    }

    // No ICV twice, no gap, and each PIH is the previous document's hash.
    for (unit, chain) in &mut chains {
        chain.sort_by_key(|(icv, _, _)| *icv);
        let icvs: Vec<i64> = chain.iter().map(|(icv, _, _)| *icv).collect();
        let first = icvs[0];
        assert_eq!(
            icvs,
            (first..first + i64::try_from(icvs.len()).expect("len")).collect::<Vec<_>>(),
            "unit {unit}: ICVs not one each, without gaps"
        );
        for pair in chain.windows(2) {
            assert_eq!(
                pair[1].2, pair[0].1,
                "unit {unit}: ICV {} does not chain to {}",
                pair[1].0, pair[0].0
            );
        }
        let last = u64::try_from(*icvs.last().expect("last")).expect("an ICV is positive");
        assert_eq!(http_b.invoice_counter(&key, unit).await, last, "unit {unit}");
    }
    assert_eq!(chains.values().map(Vec::len).sum::<usize>(), INVOICES);
    tokio::task::spawn_blocking(move || b.kill()).await.expect("kill");
}
