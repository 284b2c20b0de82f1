//! Fault injection (429 with Retry-After, a share of 500s, held answers, latency, clearance
//! off) and the counters tests use to assert exactly-once delivery.

use std::time::{Duration, Instant};

use serde_json::json;
use zatca_sim::{Faults, endpoint};

use crate::support::*;

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let sim = sandbox().await;
    let api = Api::new(&sim);
    sim.set_faults(Faults {
        rate_limit_rate: 1.0,
        retry_after_secs: 7,
        ..Faults::default()
    });
    let a = request_compliance_csid(&api, "123345", &sandbox_csr(30, "1100")).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("7"));
    assert!(sim.state.csids().is_empty(), "a rate-limited request is not processed");
    let c = sim.counters().endpoint(endpoint::COMPLIANCE_CSID);
    assert_eq!((c.received, c.faulted, c.accepted), (1, 1, 0));
    sim.shutdown().await;
}

#[tokio::test]
async fn error_rate_fails_an_exact_share_with_zatca_500_body() {
    let sim = sandbox().await;
    let api = Api::new(&sim);
    let set = api
        .post("/admin/faults")
        .version(None)
        .json(&json!({"error_rate": 0.5}))
        .send()
        .await;
    assert_eq!(set.status, 200);
    assert_eq!(set.body["error_rate"], 0.5);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let a = request_compliance_csid(&api, "123345", &sandbox_csr(30, "1100")).await;
        if a.status == 500 {
            assert_eq!(a.body["category"], "HTTP-Errors");
            assert_eq!(a.body["code"], "500");
        }
        statuses.push(a.status);
    }
    assert_eq!(statuses, [200, 500, 200, 500]);
    let c = sim.counters().endpoint(endpoint::COMPLIANCE_CSID);
    assert_eq!((c.received, c.accepted, c.faulted), (4, 2, 2));
    assert_eq!(sim.state.csids().len(), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn latency_delays_every_gateway_request() {
    let sim = sandbox().await;
    let api = Api::new(&sim);
    sim.set_faults(Faults {
        latency_ms: 300,
        ..Faults::default()
    });
    let start = Instant::now();
    let a = api.post("/compliance").otp("123345").json(&json!({})).send().await;
    assert_eq!(a.status, 400);
    assert!(start.elapsed() >= Duration::from_millis(300));
    sim.shutdown().await;
}

#[tokio::test]
async fn timeout_processes_the_request_but_holds_the_answer() {
    let sim = sandbox().await;
    sim.set_faults(Faults {
        timeout_rate: 1.0,
        timeout_ms: 3_000,
        ..Faults::default()
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .expect("client");
    let err = client
        .post(format!("{}/compliance", sim.base_url))
        .header("Accept-Version", "V2")
        .header("OTP", "123345")
        .json(&json!({"csr": sandbox_csr(30, "1100")}))
        .send()
        .await
        .expect_err("the client gives up first");
    assert!(err.is_timeout());
    assert_eq!(
        sim.state.csids().len(),
        1,
        "the gateway acted before the client timed out"
    );
    let c = sim.counters().endpoint(endpoint::COMPLIANCE_CSID);
    assert_eq!((c.received, c.accepted, c.timed_out), (1, 1, 1));
    sim.shutdown().await;
}

#[tokio::test]
async fn clearance_off_answers_303() {
    let sim = sandbox().await;
    let api = Api::new(&sim);
    let set = api
        .post("/admin/faults")
        .version(None)
        .json(&json!({"clearance_disabled": true}))
        .send()
        .await;
    assert_eq!(set.body["clearance_disabled"], true);
    let a = api
        .post("/invoices/clearance/single")
        .header("Clearance-Status", "1")
        .json(&json!({"invoiceHash": "x", "uuid": "y", "invoice": "z"}))
        .send()
        .await;
    assert_eq!(a.status, 303);
    assert_eq!(
        a.body["message"],
        "Clearance is deactiviated. Please use the /invoices/reporting/single endpoint instead."
    );
    assert!(a.headers.get("location").is_none());
    let counters = api.get("/admin/counters").version(None).send().await;
    assert_eq!(counters.body["endpoints"][endpoint::CLEARANCE]["faulted"], 1);
    let reset = api.post("/admin/counters/reset").version(None).send().await;
    assert_eq!(reset.status, 204);
    assert_eq!(sim.counters(), zatca_sim::Counters::default());
    sim.shutdown().await;
}
