//! The `zatca-sim` binary as a process: it says where it listens on its first stdout line, takes
//! its faults from flags, and is driven over `/admin/*`.

use std::io::BufRead as _;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

#[tokio::test]
async fn the_binary_prints_its_port_first_and_applies_fault_flags() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zatca-sim"))
        .args(["--port", "0", "--error-rate", "1", "--latency-ms", "7"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn zatca-sim");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("reader")
    .expect("first line");
    let addr = line.trim().strip_prefix("listening on ").expect("`listening on ADDR`");
    assert!(addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"), "{line:?}");
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();

    let faults: Value = http
        .get(format!("{base}/admin/faults"))
        .send()
        .await
        .expect("faults")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (faults["error_rate"].as_f64(), faults["latency_ms"].as_u64()),
        (Some(1.0), Some(7)),
        "{faults}"
    );
    // Every gateway call fails while --error-rate is 1, and is counted as faulted.
    let answer = http
        .post(format!("{base}/compliance"))
        .header("Accept-Version", "V2")
        .header("OTP", "123345")
        .json(&json!({"csr": "x"}))
        .send()
        .await
        .expect("compliance");
    assert_eq!(answer.status(), 500);
    let patched: Value = http
        .post(format!("{base}/admin/faults"))
        .json(&json!({"error_rate": 0.0}))
        .send()
        .await
        .expect("patch")
        .json()
        .await
        .expect("json");
    assert_eq!(patched["error_rate"].as_f64(), Some(0.0), "{patched}");
    let counters: zatca_sim::Counters = http
        .get(format!("{base}/admin/counters"))
        .send()
        .await
        .expect("counters")
        .json()
        .await
        .expect("json");
    let compliance = counters.endpoint(zatca_sim::endpoint::COMPLIANCE_CSID);
    assert_eq!((compliance.received, compliance.faulted), (1, 1), "{counters:?}");

    let _ = child.kill();
    let _ = child.wait();
}
