//! Throughput of the relay: simplified invoices accepted per second (build, sign, persist,
//! queue), with p50/p99 latency and the relay's RSS, while the queue drains against a
//! simulator that answers after 200 ms.
//!
//! ```sh
//! cargo build --release -p zatca-relay --examples
//! target/release/examples/load [SECONDS] [CLIENTS] [UNITS]     # defaults: 10 32 4
//! ```
//!
//! The relay runs as its own process (`target/release/zatca-relay`, or `ZATCA_RELAY_BIN`) on a
//! fresh SQLite file, or on the database `LOAD_DATABASE_URL` names (e.g. an empty PostgreSQL
//! database: `scripts/postgres.sh sh -c 'LOAD_DATABASE_URL=$RELAY_TEST_DATABASE_URL …/load'`);
//! the simulator runs in this process. On PostgreSQL the bytes written are the relay's own
//! only (the server writes the database).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use zatca_sim::{Faults, SimConfig};

const MASTER_KEY: &str = "cmVsYXktdGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzISE=";

fn relay_binary() -> PathBuf {
    if let Ok(path) = std::env::var("ZATCA_RELAY_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    // target/release/examples/load → target/release/zatca-relay
    exe.parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("zatca-relay"))
        .unwrap_or_else(|| PathBuf::from("zatca-relay"))
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time (user + system) a process has used, from `/proc/PID/stat`, in milliseconds.
fn cpu_ms(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields
        .get(11..13)
        .map_or(0, |f| f.iter().filter_map(|t| t.parse::<u64>().ok()).sum());
    // The kernel's USER_HZ is 100 on Linux.
    ticks * 10
}

/// Bytes a process caused to be written to storage (`write_bytes` of `/proc/PID/io`): the WAL
/// and the checkpoints' copies into the database file.
fn written_bytes(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

struct Relay(Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = client.request(method, url);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.json().await.unwrap_or(Value::Null))
        }
        Err(_) => (0, Value::Null),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let clients: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(32);
    let units: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(4);

    let sim = zatca_sim::spawn(SimConfig::for_environment(zatca_sim::Environment::Sandbox)).await?;
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let base = format!("http://127.0.0.1:{port}");
    let database_url = std::env::var("LOAD_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("relay.db").display()));
    let child = Command::new(relay_binary())
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &database_url,
            "--gateway",
            "zatca",
            "--zatca-sandbox-url",
            &sim.base_url,
            "--inline-submit-ms",
            "0",
            "--worker-concurrency",
            "160",
            "--unit-concurrency",
            "64",
            "--worker-poll-ms",
            "50",
            "--plans",
            "solo=1000:10",
            // One key makes every request: no per-key limit in a throughput test.
            "--rate-limit-per-second",
            "0",
        ])
        .env("RELAY_MASTER_KEY", MASTER_KEY)
        .env("RELAY_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = child.id();
    let _relay = Relay(child);
    let client = reqwest::Client::builder().pool_max_idle_per_host(clients).build()?;
    let started = Instant::now();
    while call(&client, reqwest::Method::GET, &format!("{base}/health"), None, None)
        .await
        .0
        != 200
    {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(20), "the relay did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, onboarded) = call(
        &client,
        reqwest::Method::POST,
        &format!("{base}/v1/onboard"),
        None,
        Some(&json!({"name": "Load"})),
    )
    .await;
    let key = onboarded["api_key"]["key"].as_str().unwrap_or_default().to_owned();
    let mut unit_ids = Vec::new();
    for n in 0..units {
        let (_, created) = call(
            &client,
            reqwest::Method::POST,
            &format!("{base}/v1/egs"),
            Some(&key),
            Some(&json!({"unit_name": format!("POS {n}")})),
        )
        .await;
        unit_ids.push(created["egs_unit_id"].as_str().unwrap_or_default().to_owned());
    }
    for unit in &unit_ids {
        loop {
            let (_, status) = call(
                &client,
                reqwest::Method::GET,
                &format!("{base}/v1/egs/{unit}/status"),
                Some(&key),
                None,
            )
            .await;
            if status["onboarding_status"] == "active" {
                break;
            }
            anyhow::ensure!(status["onboarding_status"] != "failed", "onboarding failed: {status}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    sim.set_faults(Faults {
        latency_ms: 200,
        ..Faults::default()
    });
    let idle_rss = rss_kib(pid);
    println!("relay RSS before the load: {} MiB", idle_rss / 1024);
    sim.state.reset_counters();
    let relay_pid = pid.to_string();
    let cpu_before = (cpu_ms(&relay_pid), cpu_ms("self"));
    let written_before = written_bytes(&relay_pid);

    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let peak_rss = Arc::new(AtomicU64::new(idle_rss));
    let sampler = {
        let (stop, peak_rss) = (stop.clone(), peak_rss.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak_rss.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let began = Instant::now();
    let deadline = began + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, key, base, errors) = (client.clone(), key.clone(), base.clone(), errors.clone());
        let unit = unit_ids[c % unit_ids.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let body = json!({
                    "egs_unit_id": unit,
                    "invoice_number": format!("L{c}-{n}"),
                    "invoice_date": "2025-01-15",
                    "invoice_time": "14:30:00",
                    "line_items": [
                        { "description": "Product A", "quantity": 2, "unit_price": 50 },
                        { "description": "Product B", "quantity": 1, "unit_price": 19.99 },
                    ],
                });
                let t0 = Instant::now();
                let (status, _) = call(
                    &client,
                    reqwest::Method::POST,
                    &format!("{base}/v1/invoices/simplified"),
                    Some(&key),
                    Some(&body),
                )
                .await;
                if status == 200 {
                    latencies.push(t0.elapsed());
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await?);
    }
    let elapsed = began.elapsed();
    let cpu_after = (cpu_ms(&relay_pid), cpu_ms("self"));
    let written = written_bytes(&relay_pid) - written_before;
    latencies.sort();
    let accepted = latencies.len();
    println!(
        "accepted {accepted} simplified invoices in {:.1} s with {clients} clients on {units} units: {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, errors {}",
        elapsed.as_secs_f64(),
        accepted as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        errors.load(Ordering::Relaxed),
    );
    let per_invoice = |ms: u64| ms as f64 / accepted.max(1) as f64;
    println!(
        "CPU per accepted invoice during the load: relay {:.2} ms, load generator + simulator {:.2} ms (machine load {})",
        per_invoice(cpu_after.0 - cpu_before.0),
        per_invoice(cpu_after.1 - cpu_before.1),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .unwrap_or("?"),
    );
    println!(
        "written to storage by the relay during the load: {:.0} KiB per accepted invoice",
        written as f64 / 1024.0 / accepted.max(1) as f64
    );
    // The queue drains against the 200 ms simulator.
    let drain_started = Instant::now();
    loop {
        let c = sim.state.endpoint_counters("POST /invoices/reporting/single");
        if c.accepted as usize >= accepted {
            break;
        }
        if drain_started.elapsed() > Duration::from_secs(300) {
            println!("queue not drained after 300 s: {} of {accepted} reported", c.accepted);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    let reported = sim.state.endpoint_counters("POST /invoices/reporting/single").accepted;
    let peak_in_flight = sim.state.counters().peak_in_flight;
    println!(
        "queue drained: {reported} reported in {:.1} s after the load ({:.0}/s), peak {} submissions in flight; relay RSS peak {} MiB, after {} MiB",
        drain_started.elapsed().as_secs_f64(),
        reported as f64 / (elapsed + drain_started.elapsed()).as_secs_f64(),
        peak_in_flight,
        peak_rss.load(Ordering::Relaxed) / 1024,
        rss_kib(pid) / 1024,
    );
    Ok(())
}
