//! The archive outside the database (`--archive-url`): a directory, and an S3-compatible bucket
//! served by a real S3-compatible server (moto's, from PyPI; the test command installs it and
//! names it in `RELAY_TEST_MOTO_SERVER`). The relay runs as its own process, so its S3
//! credentials come from its environment as they would in production.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use object_store::ObjectStore as _;
use serde_json::{Value, json};

fn simplified(unit: &str, number: &str) -> Value {
    json!({
        "egs_unit_id": unit,
        "invoice_number": number,
        "invoice_date": "2025-01-15",
        "invoice_time": "14:30:00",
        "line_items": [{ "description": "Product A", "quantity": 2, "unit_price": 50.0 }],
    })
}

/// Issues one simplified and one standard invoice through a relay process and waits until both
/// are settled: the API key, and (invoice id, XML as served by the relay, status) of each.
async fn issue_two(base: &str) -> (String, Vec<(String, Vec<u8>, String)>) {
    let http = Client::new(base);
    let key = http.onboard("sandbox").await;
    let (unit, _) = http
        .active_unit(
            &key,
            json!({"unit_name": "Archive POS", "invoice_type": "both", "seller": seller()}),
        )
        .await;
    let mut out = Vec::new();
    let mut standard = simplified(&unit, "INV-S3-2");
    standard["buyer"] = json!({
        "name": "Client Co",
        "vat_number": "300098765400003",
        "address": { "street": "Olaya St", "building_number": "2222", "district": "Al Olaya", "city": "Riyadh", "postal_code": "12222", "country": "SA" },
    });
    for (path, body) in [
        ("/v1/invoices/simplified", simplified(&unit, "INV-S3-1")),
        ("/v1/invoices/standard", standard),
    ] {
        let (status, created) = http.post(path, &key, body).await;
        assert_eq!(status, 200, "{created}");
        let id = created["invoice_id"].as_str().expect("invoice_id").to_owned();
        let started = Instant::now();
        let settled = loop {
            let (_, detail) = http.get(&format!("/v1/invoices/{id}"), &key).await;
            let status = detail["status"].as_str().unwrap_or_default().to_owned();
            if status == "reported" || status == "cleared" {
                break status;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "not settled: {detail}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let xml = served_xml(base, &key, &id).await;
        out.push((id, xml, settled));
    }
    (key, out)
}

async fn served_xml(base: &str, key: &str, id: &str) -> Vec<u8> {
    let xml = reqwest::Client::new()
        .get(format!("{base}/v1/invoices/{id}/xml"))
        .bearer_auth(key)
        .send()
        .await
        .expect("xml");
    assert_eq!(xml.status().as_u16(), 200);
    xml.bytes().await.expect("bytes").to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_archive_holds_every_document_and_the_database_none() {
    let sims = Sims::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("archive");
    let url = format!("file://{}", archive.display());
    let relay = RelayProcess::start(dir.path(), &sims.sandbox.base_url, 1024, &["--archive-url", &url]);
    let (_, issued) = issue_two(&relay.base_url()).await;
    for (id, xml, status) in &issued {
        let signed = std::fs::read(archive.join(format!("invoices/{id}/signed.xml"))).expect("signed XML archived");
        assert!(xml.starts_with(b"<?xml"), "served XML");
        if status == "cleared" {
            let cleared = std::fs::read(archive.join(format!("invoices/{id}/cleared.xml"))).expect("cleared XML");
            assert_eq!(&cleared, xml, "a cleared invoice serves ZATCA's cleared XML");
        } else {
            assert_eq!(&signed, xml);
        }
    }
    drop(relay);
    let db = stored_bytes(dir.path());
    for (_, xml, _) in &issued {
        assert!(!contains(&db, &xml[..200]), "the XML is not in the database");
    }
}

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_moto(server: &Path) -> (Moto, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let moto = Moto(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (moto, format!("http://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_archive_holds_every_document() {
    let Some(server) = std::env::var_os("RELAY_TEST_MOTO_SERVER") else {
        eprintln!("skipped: RELAY_TEST_MOTO_SERVER is not set (scripts/test.sh installs moto and sets it)");
        return;
    };
    let (_moto, endpoint) = start_moto(Path::new(&server));
    // The bucket (moto's server accepts the unsigned request).
    let made = reqwest::Client::new()
        .put(format!("{endpoint}/invoices-archive"))
        .send()
        .await
        .expect("create bucket");
    assert!(made.status().is_success(), "{}", made.status());

    let sims = Sims::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    // The relay's S3 settings come from its environment, as in production.
    let start = || {
        RelayProcess::start_with_env(
            dir.path(),
            &sims.sandbox.base_url,
            1024,
            &["--archive-url", "s3://invoices-archive/relay-test"],
            &[
                ("AWS_ACCESS_KEY_ID", "relay-test-key"),
                ("AWS_SECRET_ACCESS_KEY", "relay-test-secret"),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ENDPOINT_URL", &endpoint),
                ("AWS_ALLOW_HTTP", "true"),
            ],
        )
    };
    let relay = start();
    let (key, issued) = issue_two(&relay.base_url()).await;
    let bucket = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name("invoices-archive")
        .with_region("us-east-1")
        .with_endpoint(&endpoint)
        .with_allow_http(true)
        .with_access_key_id("relay-test-key")
        .with_secret_access_key("relay-test-secret")
        .build()
        .expect("S3 client");
    for (id, xml, status) in &issued {
        // Read back from the bucket with a client of our own (signed, path-style).
        let kind = if status == "cleared" { "cleared" } else { "signed" };
        let object = bucket
            .get(&object_store::path::Path::from(format!(
                "relay-test/invoices/{id}/{kind}.xml"
            )))
            .await
            .unwrap_or_else(|e| panic!("{id} {kind} in the bucket: {e}"));
        assert_eq!(&object.bytes().await.expect("bytes").to_vec(), xml);
    }
    // A restarted relay serves them from the bucket too.
    drop(relay);
    let relay = start();
    for (id, xml, _) in &issued {
        assert_eq!(&served_xml(&relay.base_url(), &key, id).await, xml);
    }
    drop(relay);
    let db = stored_bytes(dir.path());
    for (_, xml, _) in &issued {
        assert!(!contains(&db, &xml[..200]), "the XML is not in the database");
    }
}
