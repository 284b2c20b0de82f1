//! The invoice half of the hosted API over real HTTP: relay ↔ simulators. The documented
//! examples run verbatim (the VAT-inclusive ones with `prices_include_vat: true`).

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use axum::http::Method;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::*;
use serde_json::{Value, json};
use zatca_sim::Faults;

/// The seller of the documented examples, as a unit's profile (the examples name only street,
/// city and country; the profile fills in the rest).
fn acme() -> Value {
    json!({
        "name": "Acme Ltd",
        "vat_number": "300012345600003",
        "crn": "1010101010",
        "address": {
            "street": "King Fahd Rd",
            "building_number": "1234",
            "district": "Al Olaya",
            "city": "Riyadh",
            "postal_code": "12211",
            "country": "SA"
        },
        "branch": "Riyadh",
        "industry": "Retail"
    })
}

/// A sandbox account with an active unit issuing both types under Acme's VAT number.
async fn setup(t: &TestRelay) -> (String, String) {
    let key = t.http.onboard("sandbox").await;
    let (unit, status) = t
        .http
        .active_unit(
            &key,
            json!({"unit_name": "Main Branch POS", "invoice_type": "both", "seller": acme()}),
        )
        .await;
    assert_eq!(
        status["csid"], "production",
        "sandbox units report with a production CSID"
    );
    (key, unit)
}

fn simplified_example(unit: &str) -> Value {
    json!({
        "egs_unit_id": unit,
        "invoice_number": "INV-001",
        "invoice_date": "2025-01-15",
        "invoice_time": "14:30:00",
        "seller": {
            "name": "Acme Ltd",
            "vat_number": "300012345600003",
            "address": { "street": "King Fahd Rd", "city": "Riyadh", "country": "SA" },
        },
        "line_items": [
            { "description": "Product A", "quantity": 2, "unit_price": 50.0 },
        ],
    })
}

fn standard_example(unit: &str) -> Value {
    json!({
        "egs_unit_id": unit,
        "invoice_number": "INV-002",
        "invoice_date": "2025-01-15",
        "invoice_time": "14:30:00",
        "prices_include_vat": true,
        "seller": {
            "name": "Acme Ltd",
            "vat_number": "300012345600003",
            "address": { "street": "King Fahd Rd", "city": "Riyadh", "country": "SA" },
        },
        "buyer": {
            "name": "Client Co",
            "vat_number": "300098765400003",
            "address": { "street": "Olaya St", "city": "Riyadh", "country": "SA" },
        },
        "line_items": [
            { "description": "Service B", "quantity": 1, "unit_price": 115.0 },
        ],
    })
}

fn credit_note_example(unit: &str, original: &str) -> Value {
    json!({
        "egs_unit_id": unit,
        "invoice_number": "CN-001",
        "invoice_date": "2025-01-20",
        "invoice_time": "11:00:00",
        "original_invoice_uuid": original,
        "reason": "Goods returned",
        "prices_include_vat": true,
        "seller": { "name": "Acme Ltd", "vat_number": "300012345600003", "address": { "street": "King Fahd Rd", "city": "Riyadh", "country": "SA" } },
        "line_items": [{ "description": "Refund Item A", "quantity": 1, "unit_price": 57.5 }],
    })
}

fn iso_ms(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|t| t.ends_with('Z') && t.len() == "2025-01-15T10:00:00.000Z".len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_examples_create_list_detail_and_xml() {
    let t = TestRelay::start().await;
    let (key, unit) = setup(&t).await;

    // Simplified (B2C): reported, with the documented fields.
    let (status, inv) = t
        .http
        .post_idempotent(
            "/v1/invoices/simplified",
            &key,
            Some("unique-key-123"),
            &simplified_example(&unit),
        )
        .await;
    assert_eq!(status, 200, "{inv}");
    assert_eq!(inv["status"], "reported", "{inv}");
    assert_eq!(
        (inv["subtotal"].clone(), inv["vat"].clone(), inv["total"].clone()),
        (json!(100), json!(15), json!(115))
    );
    assert_eq!(inv["invoice_date_hijri"], "1446-07-15");
    assert!(iso_ms(&inv["reported_at"]), "{inv}");
    assert_eq!(
        inv["report_deadline"], "2025-01-16T11:30:00.000Z",
        "24 h after 14:30 Riyadh time"
    );
    let id = inv["invoice_id"].as_str().expect("id").to_owned();
    assert_eq!(inv["pdf_url"], format!("/v1/invoices/{id}/pdf"));
    let qr = B64.decode(inv["qr_code"].as_str().expect("qr")).expect("base64");
    assert_eq!(qr[0], 1, "TLV tag 1 first");
    let keys: Vec<&str> = inv.as_object().expect("object").keys().map(String::as_str).collect();
    for field in [
        "invoice_id",
        "uuid",
        "status",
        "subtotal",
        "vat",
        "total",
        "invoice_date_hijri",
        "qr_code",
        "reported_at",
        "report_deadline",
        "pdf_url",
    ] {
        assert!(keys.contains(&field), "{field} missing: {inv}");
    }

    // Standard (B2B): cleared synchronously; ZATCA's cleared XML is what is served.
    let (status, std_inv) = t
        .http
        .post_idempotent(
            "/v1/invoices/standard",
            &key,
            Some("unique-key-456"),
            &standard_example(&unit),
        )
        .await;
    assert_eq!(status, 200, "{std_inv}");
    assert_eq!(std_inv["status"], "cleared", "{std_inv}");
    assert_eq!(
        (
            std_inv["subtotal"].clone(),
            std_inv["vat"].clone(),
            std_inv["total"].clone()
        ),
        (json!(100), json!(15), json!(115))
    );
    assert!(iso_ms(&std_inv["cleared_at"]), "{std_inv}");
    let std_id = std_inv["invoice_id"].as_str().expect("id").to_owned();
    assert_eq!(std_inv["signed_xml_url"], format!("/v1/invoices/{std_id}/xml"));
    let response = t.http.download(&format!("/v1/invoices/{std_id}/xml"), &key).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/xml");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .expect("cd")
            .starts_with("attachment")
    );
    let cleared = response.bytes().await.expect("bytes");
    let verification = zatca_core::verify::verify(&cleared, None).expect("cleared XML verifies");
    assert!(
        verification
            .issues
            .iter()
            .all(|i| i.severity != zatca_core::Severity::Error),
        "{:?}",
        verification.issues
    );

    // Credit note against the simplified invoice: reported; document_type added.
    let uuid = inv["uuid"].as_str().expect("uuid");
    let (status, note) = t
        .http
        .post_idempotent(
            "/v1/invoices/credit-note",
            &key,
            Some("credit-001"),
            &credit_note_example(&unit, uuid),
        )
        .await;
    assert_eq!(status, 200, "{note}");
    assert_eq!(note["status"], "reported", "{note}");
    assert_eq!(note["document_type"], "credit_note");
    assert_eq!(
        (note["subtotal"].clone(), note["vat"].clone(), note["total"].clone()),
        (json!(50), json!(7.5), json!(57.5))
    );
    assert!(note["cleared_at"].is_null());

    // Debit note, same shape.
    let mut debit = credit_note_example(&unit, uuid);
    debit["invoice_number"] = json!("DN-001");
    debit["reason"] = json!("Price adjustment");
    let (status, dn) = t
        .http
        .post_idempotent("/v1/invoices/debit-note", &key, None, &debit)
        .await;
    assert_eq!(status, 200, "{dn}");
    assert_eq!(dn["document_type"], "debit_note");

    // List: newest first, with the documented pagination block.
    let (status, list) = t.http.get("/v1/invoices?limit=2", &key).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(list["data"][0]["invoice_id"], dn["invoice_id"]);
    assert_eq!(list["pagination"]["limit"], 2);
    assert_eq!(list["pagination"]["has_more"], true);
    assert_eq!(list["pagination"]["total_count"], 4);
    let cursor = list["pagination"]["next_cursor"].as_str().expect("cursor").to_owned();
    let (_, page2) = t.http.get(&format!("/v1/invoices?limit=2&cursor={cursor}"), &key).await;
    assert_eq!(page2["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(page2["pagination"]["has_more"], false);
    assert!(page2["pagination"]["next_cursor"].is_null());
    let (_, filtered) = t
        .http
        .get(
            &format!(
                "/v1/invoices?limit=20&status=reported&egs_unit_id={unit}&invoice_type=simplified&document_type=invoice"
            ),
            &key,
        )
        .await;
    assert_eq!(filtered["data"].as_array().map(Vec::len), Some(1), "{filtered}");
    assert_eq!(filtered["data"][0]["invoice_number"], "INV-001");
    let (_, dated) = t
        .http
        .get("/v1/invoices?date_from=2025-01-16&date_to=2025-01-31", &key)
        .await;
    assert_eq!(dated["pagination"]["total_count"], 2, "{dated}");

    // Detail: line items and the timeline pending → submitted → reported.
    let (status, detail) = t.http.get(&format!("/v1/invoices/{id}"), &key).await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["invoice_number"], "INV-001");
    assert_eq!(detail["egs_unit_id"], unit);
    assert_eq!(detail["currency"], "SAR");
    assert_eq!(
        detail["line_items"][0],
        json!({"line_number": 1, "description": "Product A", "quantity": 2, "unit_price": 50, "vat_rate": 15, "line_total": 115})
    );
    let steps: Vec<&str> = detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|e| e["status"].as_str())
        .collect();
    assert_eq!(steps, ["pending", "submitted", "reported"]);

    // Each reported or cleared exactly once at the simulator.
    let counters = t.sims.sandbox.counters();
    assert_eq!(counters.endpoint("POST /invoices/reporting/single").accepted, 3);
    assert_eq!(counters.endpoint("POST /invoices/clearance/single").accepted, 1);

    // Unknown invoice: 404; XML 404 as documented when nothing is archived is not reachable
    // for relay-made invoices (the XML is archived before the invoice exists).
    let (status, body) = t
        .http
        .get("/v1/invoices/6d4b10b7-af97-4b9b-befb-745797df8828", &key)
        .await;
    assert_eq!(status, 404);
    assert_envelope(&body, "INVOICE_NOT_FOUND");
    t.relay.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_consume_nothing_from_the_chain() {
    let t = TestRelay::start().await;
    let (key, unit) = setup(&t).await;

    let mut body = simplified_example(&unit);
    body.as_object_mut().expect("obj").remove("egs_unit_id");
    let (status, answer) = t
        .http
        .post_idempotent("/v1/invoices/simplified", &key, None, &body)
        .await;
    assert_eq!(status, 400);
    assert_envelope(&answer, "EGS_UNIT_REQUIRED");
    assert_eq!(
        answer["error"]["message"],
        "Provide egs_unit_id in the request body or set a default EGS unit for this API key in the dashboard."
    );
    body["egs_unit_id"] = json!("6d4b10b7-af97-4b9b-befb-745797df8828");
    let (status, answer) = t
        .http
        .post_idempotent("/v1/invoices/simplified", &key, None, &body)
        .await;
    assert_eq!(status, 400);
    assert_envelope(&answer, "EGS_UNIT_NOT_FOUND");
    assert_eq!(answer["error"]["message"], "EGS unit not found");

    let mut wrong_vat = simplified_example(&unit);
    wrong_vat["seller"]["vat_number"] = json!("310122393500003");
    let (status, answer) = t
        .http
        .post_idempotent("/v1/invoices/simplified", &key, None, &wrong_vat)
        .await;
    assert_eq!(status, 400);
    assert_envelope(&answer, "SELLER_VAT_MISMATCH");

    let mut invalid = simplified_example(&unit);
    invalid["line_items"][0]["quantity"] = json!(0);
    invalid["invoice_date"] = json!("2025-13-40");
    let (status, answer) = t
        .http
        .post_idempotent("/v1/invoices/simplified", &key, None, &invalid)
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_envelope(&answer, "VALIDATION_ERROR");
    let details = answer["error"]["details"].as_array().expect("details");
    assert!(details.iter().any(|d| d["path"] == "invoice_date"), "{answer}");
    assert!(
        details
            .iter()
            .any(|d| d["path"].as_str().is_some_and(|p| p.starts_with("line_items[0]"))),
        "{answer}"
    );

    let (status, answer) = t
        .http
        .post_idempotent(
            "/v1/invoices/credit-note",
            &key,
            None,
            &credit_note_example(&unit, "no-such-invoice"),
        )
        .await;
    assert_eq!(status, 404);
    assert_envelope(&answer, "ORIGINAL_INVOICE_NOT_FOUND");
    assert_eq!(answer["error"]["message"], "Original invoice not found");

    // Nothing above took a chain position.
    assert_eq!(t.http.invoice_counter(&key, &unit).await, 0);

    // A B2B original needs the buyer on its notes, and notes may not exceed it.
    let (_, std_inv) = t
        .http
        .post_idempotent("/v1/invoices/standard", &key, None, &standard_example(&unit))
        .await;
    let uuid = std_inv["uuid"].as_str().expect("uuid");
    let (status, answer) = t
        .http
        .post_idempotent(
            "/v1/invoices/credit-note",
            &key,
            None,
            &credit_note_example(&unit, uuid),
        )
        .await;
    assert_eq!(status, 400);
    assert_envelope(&answer, "BUYER_REQUIRED_FOR_B2B_NOTE");
    let mut too_big = credit_note_example(&unit, uuid);
    too_big["buyer"] = standard_example(&unit)["buyer"].clone();
    too_big["line_items"][0]["unit_price"] = json!(200);
    let (status, answer) = t
        .http
        .post_idempotent("/v1/invoices/credit-note", &key, None, &too_big)
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_envelope(&answer, "CREDIT_NOTE_TOTAL_EXCEEDS_ORIGINAL");
    too_big["line_items"][0]["unit_price"] = json!(57.5);
    let (status, answer) = t
        .http
        .post_idempotent("/v1/invoices/credit-note", &key, None, &too_big)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "cleared", "a note on a B2B invoice is cleared");
    assert_eq!(t.http.invoice_counter(&key, &unit).await, 2);

    // A key of the other environment, same account: refused with the documented message.
    let live_account = t.http.onboard("production").await;
    let (_, sandbox_key) = t
        .http
        .post("/v1/keys", &live_account, json!({"environment": "sandbox"}))
        .await;
    let sandbox_key = sandbox_key["key"].as_str().expect("key").to_owned();
    let sandbox_unit = t.http.create_unit(&sandbox_key, json!({"unit_name": "Till"})).await;
    t.http.wait_for(&sandbox_key, &sandbox_unit, &["active"]).await;
    let (status, answer) = t
        .http
        .post_idempotent(
            "/v1/invoices/simplified",
            &live_account,
            None,
            &simplified_example(&sandbox_unit),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_envelope(&answer, "EGS_UNIT_ENV_MISMATCH");
    assert_eq!(
        answer["error"]["message"],
        "This API key is for production. Use an EGS unit in production or switch key."
    );

    // Another account sees none of it.
    let other = t.http.onboard("sandbox").await;
    let id = std_inv["invoice_id"].as_str().expect("id");
    for path in [format!("/v1/invoices/{id}"), format!("/v1/invoices/{id}/xml")] {
        let (status, answer) = t.http.get(&path, &other).await;
        assert_eq!(status, 404, "{path}: {answer}");
    }
    let (_, list) = t.http.get("/v1/invoices", &other).await;
    assert_eq!(list["pagination"]["total_count"], 0);
    let (status, answer) = t
        .http
        .post_idempotent("/v1/invoices/simplified", &other, None, &simplified_example(&unit))
        .await;
    assert_eq!(status, 400);
    assert_envelope(&answer, "EGS_UNIT_NOT_FOUND");
    t.relay.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_replay_refuse_and_race() {
    let t = TestRelay::start().await;
    let (key, unit) = setup(&t).await;
    let body = simplified_example(&unit);
    let (s1, first) = t
        .http
        .post_idempotent("/v1/invoices/simplified", &key, Some("k-1"), &body)
        .await;
    let (s2, again) = t
        .http
        .post_idempotent("/v1/invoices/simplified", &key, Some("k-1"), &body)
        .await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(first["invoice_id"], again["invoice_id"]);
    let mut other = body.clone();
    other["invoice_number"] = json!("INV-999");
    let (status, answer) = t
        .http
        .post_idempotent("/v1/invoices/simplified", &key, Some("k-1"), &other)
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_envelope(&answer, "IDEMPOTENCY_KEY_REUSED");

    // Ten concurrent requests with one key make one invoice.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (http, key, body) = (t.http.clone(), key.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            http.post_idempotent("/v1/invoices/simplified", &key, Some("race"), &body)
                .await
        }));
    }
    let mut ids = HashSet::new();
    for task in tasks {
        let (status, answer) = task.await.expect("task");
        assert_eq!(status, 200, "{answer}");
        ids.insert(answer["invoice_id"].as_str().expect("id").to_owned());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(t.http.invoice_counter(&key, &unit).await, 2);
    t.relay.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_creates_make_one_unbroken_chain() {
    let t = TestRelay::start().await;
    let (key, unit) = setup(&t).await;
    let mut tasks = Vec::new();
    for n in 0..50 {
        let (http, key) = (t.http.clone(), key.clone());
        let mut body = simplified_example(&unit);
        body["invoice_number"] = json!(format!("INV-{n:03}"));
        tasks.push(tokio::spawn(async move {
            http.post_idempotent("/v1/invoices/simplified", &key, None, &body).await
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        let (status, answer) = task.await.expect("task");
        assert_eq!(status, 200, "{answer}");
        ids.push(answer["invoice_id"].as_str().expect("id").to_owned());
    }
    // Walk the chain in ICV order: each document's PIH is the previous document's hash.
    let mut by_icv = Vec::new();
    for id in &ids {
        let (_, detail) = t.http.get(&format!("/v1/invoices/{id}"), &key).await;
        by_icv.push((
            detail["icv"].as_i64().expect("icv"),
            id.clone(),
            detail["invoice_hash"].as_str().expect("hash").to_owned(),
        ));
    }
    by_icv.sort();
    let icvs: Vec<i64> = by_icv.iter().map(|(icv, _, _)| *icv).collect();
    assert_eq!(icvs, (1..=50).collect::<Vec<i64>>());
    let mut pih = zatca_core::chain::INITIAL_PIH.to_owned();
    for (icv, id, hash) in &by_icv {
        let xml = t.http.xml(&key, id).await;
        let verification = zatca_core::verify::verify(&xml, Some(&pih)).expect("verify");
        assert!(
            verification
                .issues
                .iter()
                .all(|i| i.severity != zatca_core::Severity::Error),
            "ICV {icv}: {:?}",
            verification.issues
        );
        pih = hash.clone();
    }
    t.relay.shutdown().await.expect("shutdown");
}

// Certificate lifecycle (issue 14): renewing the production CSID keeps the unit's chain — the
// next document takes the next ICV, chains to the last hash, and is signed with the new
// certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_keeps_the_chain_and_signs_with_the_new_certificate() {
    let t = TestRelay::start().await;
    let (key, unit) = setup(&t).await;
    let xml_of = |id: String| {
        let (http, key) = (t.http.clone(), key.clone());
        async move { http.xml(&key, &id).await }
    };
    let mut body = simplified_example(&unit);
    body["invoice_number"] = json!("R-1");
    let (status, before) = t
        .http
        .post_idempotent("/v1/invoices/simplified", &key, None, &body)
        .await;
    assert_eq!(status, 200, "{before}");
    let (_, before) = t
        .http
        .get(
            &format!("/v1/invoices/{}", before["invoice_id"].as_str().expect("id")),
            &key,
        )
        .await;
    let (status, renewed) = t
        .http
        .post(&format!("/v1/egs/{unit}/renew"), &key, json!({"otp": "123345"}))
        .await;
    assert_eq!(status, 200, "{renewed}");
    body["invoice_number"] = json!("R-2");
    let (status, after) = t
        .http
        .post_idempotent("/v1/invoices/simplified", &key, None, &body)
        .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["status"], "reported", "{after}");
    let (_, after) = t
        .http
        .get(
            &format!("/v1/invoices/{}", after["invoice_id"].as_str().expect("id")),
            &key,
        )
        .await;
    assert_eq!(after["icv"], before["icv"].as_i64().expect("icv") + 1);
    let old = xml_of(before["invoice_id"].as_str().expect("id").to_owned()).await;
    let new = xml_of(after["invoice_id"].as_str().expect("id").to_owned()).await;
    let pih = before["invoice_hash"].as_str().expect("hash");
    let verification = zatca_core::verify::verify(&new, Some(pih)).expect("verify");
    assert!(
        verification
            .issues
            .iter()
            .all(|i| i.severity != zatca_core::Severity::Error),
        "{:?}",
        verification.issues
    );
    let certificate = |xml: &[u8]| {
        zatca_core::verify::verify(xml, None)
            .expect("verify")
            .certificate
            .expect("certificate")
            .der()
            .to_vec()
    };
    assert_ne!(
        certificate(&old),
        certificate(&new),
        "signed with the renewed certificate"
    );
    t.relay.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zatca_faults_are_retried_until_every_invoice_is_reported_or_cleared() {
    let t = TestRelay::start_with(|c| {
        c.inline_submit_ms = 0;
        c.job_backoff_ms = 50;
    })
    .await;
    let (key, unit) = setup(&t).await;
    t.sims.sandbox.set_faults(Faults {
        error_rate: 0.3,
        rate_limit_rate: 0.2,
        retry_after_secs: 1,
        ..Faults::default()
    });
    let mut ids = Vec::new();
    for n in 0..20 {
        let mut body = if n % 4 == 0 {
            standard_example(&unit)
        } else {
            simplified_example(&unit)
        };
        body["invoice_number"] = json!(format!("F-{n}"));
        let path = if n % 4 == 0 {
            "/v1/invoices/standard"
        } else {
            "/v1/invoices/simplified"
        };
        let (status, answer) = t.http.post_idempotent(path, &key, None, &body).await;
        assert_eq!(status, 200, "{answer}");
        ids.push(answer["invoice_id"].as_str().expect("id").to_owned());
    }
    let started = Instant::now();
    loop {
        let (_, list) = t.http.get("/v1/invoices?limit=100", &key).await;
        let open = list["data"]
            .as_array()
            .expect("data")
            .iter()
            .filter(|i| !matches!(i["status"].as_str(), Some("reported" | "cleared")))
            .count();
        if open == 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{open} still open: {list}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let counters = t.sims.sandbox.counters();
    let reporting = counters.endpoint("POST /invoices/reporting/single");
    let clearance = counters.endpoint("POST /invoices/clearance/single");
    assert_eq!(reporting.accepted + clearance.accepted, 20, "{counters:?}");
    assert!(reporting.faulted + clearance.faulted > 0, "faults were injected");
    // A retried invoice's timeline shows the retries with ZATCA's status.
    let mut saw_retry = false;
    for id in &ids {
        let (_, detail) = t.http.get(&format!("/v1/invoices/{id}"), &key).await;
        saw_retry |= detail["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .any(|e| e["status"] == "retrying");
    }
    assert!(saw_retry);

    // The metrics saw it all: 15 simplified and 5 standard creates, ZATCA's answers (accepted
    // 20 times, unavailable for the injected faults), an empty queue, one healthy certificate.
    let metrics = reqwest::get(format!("{}/metrics", t.http.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let sum = |name: &str, labels: &[&str]| -> f64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let simplified = ["route=\"/v1/invoices/simplified\"", "status=\"200\""];
    assert_eq!(sum("relay_http_requests_total{", &simplified), 15.0, "{metrics}");
    assert_eq!(
        sum("relay_http_request_duration_seconds_count{", &simplified[..1]),
        15.0
    );
    let accepted = ["outcome=\"accepted\""];
    assert_eq!(sum("relay_zatca_submissions_total{", &accepted), 20.0, "{metrics}");
    assert!(sum("relay_zatca_submissions_total{", &["outcome=\"unavailable\""]) > 0.0);
    assert_eq!(sum("relay_queue_jobs ", &[]), 0.0, "{metrics}");
    assert_eq!(sum("relay_oldest_unsettled_invoice_age_seconds ", &[]), 0.0);
    assert_eq!(sum("relay_invoices_past_deadline ", &[]), 0.0);
    assert_eq!(sum("relay_certificates{", &["health=\"healthy\""]), 1.0, "{metrics}");
    for path in ["/healthz", "/readyz", "/health"] {
        let status = reqwest::get(format!("{}{path}", t.http.base))
            .await
            .expect(path)
            .status();
        assert_eq!(status, 200, "{path}");
    }
    let _ = Method::GET;
    t.relay.shutdown().await.expect("shutdown");
}

/// A sandbox device-custody unit taken to `active`: the device makes the key and CSR, signs the
/// compliance documents; returns the key, the unit, the device's key and its certificate.
async fn device_unit(
    t: &TestRelay,
) -> (
    String,
    String,
    zatca_core::keys::PrivateKey,
    zatca_core::cert::Certificate,
) {
    use zatca_core::csr::{self, CsrConfig};
    let key = t.http.onboard("sandbox").await;
    let device_key = zatca_core::keys::PrivateKey::from_seed([9u8; 32]).expect("key");
    let config = CsrConfig {
        common_name: "Device POS".into(),
        serial_number: "1-DeviceApp|2-1.0|3-0002".into(),
        organization_identifier: "399999999900003".into(),
        organization_unit: "Riyadh Branch".into(),
        organization_name: "Maximum Speed Tech Supply LTD".into(),
        country: "SA".into(),
        invoice_type: "0100".into(),
        location_address: "2322 Prince Sultan Riyadh".into(),
        industry_business_category: "Supply activities".into(),
    };
    let csr = csr::build_csr(&config, &device_key, csr::Environment::Sandbox).expect("csr");
    let unit = t
        .http
        .create_unit(
            &key,
            json!({"unit_name": "Device POS", "custody": "device", "csr": csr.pem()}),
        )
        .await;
    let status = t
        .http
        .wait_for(&key, &unit, &["awaiting_compliance_documents", "failed"])
        .await;
    let certificate =
        zatca_core::cert::Certificate::parse(status["certificate"].as_str().expect("cert")).expect("cert");
    let signer = zatca_core::sign::Signer::new(device_key.clone(), certificate).expect("signer");
    let mut pih = zatca_core::chain::INITIAL_PIH.to_owned();
    for (i, kind) in ["simplified_invoice", "simplified_credit_note", "simplified_debit_note"]
        .iter()
        .enumerate()
    {
        let seller = zatca_relay::routes::egs::sandbox_seller("Device POS");
        let input = zatca_relay::signing::compliance_sample_input(
            kind.parse().expect("kind"),
            &seller,
            i as i64 + 1,
            chrono::Utc::now(),
        );
        let input = zatca_core::model::InvoiceInput::from_value(&input).expect("input");
        let chain = zatca_core::ubl::ChainInputs {
            icv: i as u64 + 1,
            pih: pih.clone(),
            uuid: uuid::Uuid::new_v4().to_string(),
        };
        let signed = zatca_core::sign::sign_invoice(&input, &chain, &signer, None).expect("signed");
        let (code, body) = t
            .http
            .post(
                &format!("/v1/egs/{unit}/compliance-documents"),
                &key,
                json!({"kind": kind, "invoice": B64.encode(&signed.xml)}),
            )
            .await;
        assert_eq!(code, 200, "{body}");
        pih = signed.hash;
    }
    let status = t.http.wait_for(&key, &unit, &["active", "failed"]).await;
    assert_eq!(status["onboarding_status"], "active", "{status}");
    assert_eq!(
        status["next_chain"]["icv"], 1,
        "compliance samples are not part of the invoice chain: {status}"
    );
    let production = zatca_core::cert::Certificate::parse(status["certificate"].as_str().expect("cert")).expect("cert");
    (key, unit, device_key, production)
}

/// A simplified invoice signed on the device at chain position `icv` after `pih`.
fn device_invoice(
    key: &zatca_core::keys::PrivateKey,
    cert: &zatca_core::cert::Certificate,
    number: &str,
    icv: u64,
    pih: &str,
) -> zatca_core::sign::SignedInvoice {
    let seller = zatca_relay::routes::egs::sandbox_seller("Device POS");
    let input = json!({
        "invoice_number": number,
        "invoice_date": "2025-01-15",
        "invoice_time": "14:30:00",
        "seller": zatca_relay::signing::party_json(&seller),
        "line_items": [{ "description": "Coffee", "quantity": 3, "unit_price": 10 }],
    });
    let input = zatca_core::model::InvoiceInput::from_value(&input).expect("input");
    let signer = zatca_core::sign::Signer::new_unchecked(key.clone(), cert.clone());
    let chain = zatca_core::ubl::ChainInputs {
        icv,
        pih: pih.to_owned(),
        uuid: uuid::Uuid::new_v4().to_string(),
    };
    zatca_core::sign::sign_invoice(&input, &chain, &signer, None).expect("signed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_signed_invoices_are_verified_chained_and_reported_once() {
    let t = TestRelay::start().await;
    let (key, unit, device_key, cert) = device_unit(&t).await;

    // Relay-signed endpoints are refused for device units.
    let (status, answer) = t
        .http
        .post_idempotent("/v1/invoices/simplified", &key, None, &simplified_example(&unit))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_envelope(&answer, "CUSTODY_MISMATCH");

    let first = device_invoice(&device_key, &cert, "D-1", 1, zatca_core::chain::INITIAL_PIH);
    let body =
        json!({"egs_unit_id": unit, "invoice": B64.encode(&first.xml), "invoice_hash": first.hash, "uuid": first.uuid});
    let (status, answer) = t.http.post_idempotent("/v1/invoices/signed", &key, None, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "reported", "{answer}");
    assert_eq!(answer["chain"]["status"], "continuous");
    assert_eq!(
        (
            answer["subtotal"].clone(),
            answer["vat"].clone(),
            answer["total"].clone()
        ),
        (json!(30), json!(4.5), json!(34.5))
    );
    // The same signed bytes again: the same invoice, reported once.
    let (status, again) = t.http.post_idempotent("/v1/invoices/signed", &key, None, &body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["invoice_id"], answer["invoice_id"]);
    // ... with the first answer's place in the chain, not one checked against the moved head.
    assert_eq!(again["chain"], answer["chain"], "{again}");
    assert_eq!(
        t.sims
            .sandbox
            .counters()
            .endpoint("POST /invoices/reporting/single")
            .accepted,
        1
    );

    // A tampered document, or a hash that is not the document's, is refused.
    let tampered = first.xml.replace("<cbc:ID>D-1<", "<cbc:ID>D-9<");
    let (status, answer) = t
        .http
        .post_idempotent(
            "/v1/invoices/signed",
            &key,
            None,
            &json!({"egs_unit_id": unit, "invoice": B64.encode(&tampered)}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_envelope(&answer, "INVALID_SIGNED_INVOICE");

    // A gap (ICV 3 after 1) is accepted, reported in the answer and on the unit.
    let third = device_invoice(&device_key, &cert, "D-3", 3, &first.hash);
    let (status, answer) = t
        .http
        .post_idempotent(
            "/v1/invoices/signed",
            &key,
            None,
            &json!({"egs_unit_id": unit, "invoice": B64.encode(&third.xml)}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["chain"]["status"], "gap", "{answer}");
    assert_eq!(answer["chain"]["expected_icv"], 2);
    let (_, unit_status) = t.http.get(&format!("/v1/egs/{unit}/status"), &key).await;
    assert!(
        unit_status["chain_note"]
            .as_str()
            .is_some_and(|n| n.starts_with("gap at ICV 3")),
        "{unit_status}"
    );
    assert_eq!(unit_status["next_chain"]["icv"], 4);

    // A fork: ICV 4 whose PIH is not the head's.
    let fork = device_invoice(&device_key, &cert, "D-4", 4, &first.hash);
    let (_, answer) = t
        .http
        .post_idempotent(
            "/v1/invoices/signed",
            &key,
            None,
            &json!({"egs_unit_id": unit, "invoice": B64.encode(&fork.xml)}),
        )
        .await;
    assert_eq!(answer["chain"]["status"], "fork", "{answer}");
    // Another document at a taken ICV: refused.
    let clash = device_invoice(&device_key, &cert, "D-4b", 4, &third.hash);
    let (status, answer) = t
        .http
        .post_idempotent(
            "/v1/invoices/signed",
            &key,
            None,
            &json!({"egs_unit_id": unit, "invoice": B64.encode(&clash.xml)}),
        )
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_envelope(&answer, "CHAIN_CONFLICT");

    // The PDF of a reported invoice.
    let id = again["invoice_id"].as_str().expect("id");
    let response = t.http.download(&format!("/v1/invoices/{id}/pdf"), &key).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let bytes = response.bytes().await.expect("bytes");
    assert!(bytes.starts_with(b"%PDF-"));
    t.relay.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_simplified_invoices_are_flagged_on_the_unit_and_the_invoice() {
    let t = TestRelay::start_with(|c| {
        c.inline_submit_ms = 0;
        c.job_backoff_ms = 50;
    })
    .await;
    let (key, unit) = setup(&t).await;
    // ZATCA down: every call fails.
    t.sims.sandbox.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let (_, first) = t
        .http
        .post_idempotent("/v1/invoices/simplified", &key, None, &simplified_example(&unit))
        .await;
    let mut today = simplified_example(&unit);
    today["invoice_number"] = json!("INV-TODAY");
    let riyadh = chrono::Utc::now() + chrono::Duration::hours(3);
    today["invoice_date"] = json!(riyadh.format("%Y-%m-%d").to_string());
    today["invoice_time"] = json!(riyadh.format("%H:%M:%S").to_string());
    let (status, second) = t
        .http
        .post_idempotent("/v1/invoices/simplified", &key, None, &today)
        .await;
    assert_eq!(status, 200, "{second}");
    let (_, unit_status) = t.http.get(&format!("/v1/egs/{unit}/status"), &key).await;
    assert_eq!(
        unit_status["reporting"],
        json!({"pending": 2, "near_deadline": 1, "past_deadline": 1}),
        "{unit_status}"
    );
    let (_, detail) = t
        .http
        .get(
            &format!("/v1/invoices/{}", first["invoice_id"].as_str().expect("id")),
            &key,
        )
        .await;
    assert_eq!(detail["report_deadline_near"], true, "{detail}");
    let (_, detail) = t
        .http
        .get(
            &format!("/v1/invoices/{}", second["invoice_id"].as_str().expect("id")),
            &key,
        )
        .await;
    assert!(detail["report_deadline_near"].is_null(), "{detail}");
    // ZATCA back: both reported, the flag goes.
    t.sims.sandbox.set_faults(Faults::default());
    let started = Instant::now();
    loop {
        let (_, unit_status) = t.http.get(&format!("/v1/egs/{unit}/status"), &key).await;
        if unit_status["reporting"].is_null() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{unit_status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    t.relay.shutdown().await.expect("shutdown");
}

/// A correctly signed device document that breaks one of ZATCA's schematron rules is refused
/// with 400 and the rule id before anything is recorded or sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_documents_breaking_a_zatca_rule_are_refused_with_its_id() {
    let t = TestRelay::start().await;
    let (key, unit, device_key, cert) = device_unit(&t).await;
    let good = device_invoice(&device_key, &cert, "D-1", 1, zatca_core::chain::INITIAL_PIH);
    let unsigned = zatca_core::sign::strip_signature(good.xml.as_bytes()).expect("strip");
    let broken = unsigned.replacen("reporting:1.0", "reporting:2.0", 1);
    let signer = zatca_core::sign::Signer::new_unchecked(device_key.clone(), cert.clone());
    let signed = zatca_core::sign::sign_xml(broken.as_bytes(), &signer, None).expect("signed");
    let (status, answer) = t
        .http
        .post_idempotent(
            "/v1/invoices/signed",
            &key,
            None,
            &json!({"egs_unit_id": unit, "invoice": B64.encode(&signed.xml)}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_envelope(&answer, "INVALID_SIGNED_INVOICE");
    assert!(answer.to_string().contains("BR-KSA-EN16931-01"), "{answer}");
}

/// A correctly signed device document that breaks the UBL 2.1 schema (ZATCA's XSD stage) is
/// refused with 400 and the `XSD` finding in the details; nothing is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_documents_breaking_the_schema_are_refused_with_xsd() {
    let t = TestRelay::start().await;
    let (key, unit, device_key, cert) = device_unit(&t).await;
    let good = device_invoice(&device_key, &cert, "D-1", 1, zatca_core::chain::INITIAL_PIH);
    let unsigned = zatca_core::sign::strip_signature(good.xml.as_bytes()).expect("strip");
    // cbc:IssueDate moved after cbc:IssueTime.
    let element = |name: &str| {
        let start = unsigned.find(&format!("<cbc:{name}>")).expect("element");
        let end = unsigned.find(&format!("</cbc:{name}>")).expect("end") + name.len() + 7;
        unsigned[start..end].to_owned()
    };
    let (date, time) = (element("IssueDate"), element("IssueTime"));
    let broken = unsigned
        .replacen(&date, "", 1)
        .replacen(&time, &format!("{time}{date}"), 1);
    let signer = zatca_core::sign::Signer::new_unchecked(device_key.clone(), cert.clone());
    let signed = zatca_core::sign::sign_xml(broken.as_bytes(), &signer, None).expect("signed");
    let (status, answer) = t
        .http
        .post_idempotent(
            "/v1/invoices/signed",
            &key,
            None,
            &json!({"egs_unit_id": unit, "invoice": B64.encode(&signed.xml)}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_envelope(&answer, "INVALID_SIGNED_INVOICE");
    let details = answer["error"]["details"].as_array().expect("details");
    let xsd: Vec<_> = details.iter().filter(|d| d["code"] == "XSD").collect();
    assert_eq!(xsd.len(), 1, "{answer}");
    assert!(
        xsd[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("/Invoice/cbc:IssueDate")),
        "{answer}"
    );
    let (_, list) = t.http.get("/v1/invoices", &key).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(0), "{list}");
}

/// A request whose document would break a rule only ZATCA's rules check on the XML (an issue
/// date in the future, BR-KSA-04) is refused before signing, with the rule id at its JSON field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_whose_document_breaks_a_rule_are_refused_at_the_field() {
    let t = TestRelay::start().await;
    let (key, unit) = setup(&t).await;
    let mut body = simplified_example(&unit);
    body["invoice_date"] = json!("2099-01-01");
    let (status, answer) = t
        .http
        .post_idempotent("/v1/invoices/simplified", &key, None, &body)
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_envelope(&answer, "VALIDATION_ERROR");
    let details = answer["error"]["details"].as_array().expect("details");
    assert!(
        details
            .iter()
            .any(|d| d["code"] == "BR-KSA-04" && d["path"] == "invoice_date"),
        "{answer}"
    );
    t.relay.shutdown().await.expect("shutdown");
}

/// The documented `AddressDto` and `BuyerAddressDto` require `country`: an address in the body
/// without one (missing, null, empty, or not a string) is refused with `VALIDATION_ERROR` at its
/// path before anything is consumed, though the core alone would let ZATCA warn (BR-KSA-10 for a
/// standard invoice's buyer) or fill the seller's from the unit's profile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_without_country_is_refused_at_its_path() {
    let t = TestRelay::start().await;
    let (key, unit) = setup(&t).await;
    let cases = [
        (None, "missing_field", "is required"),
        (Some(Value::Null), "missing_field", "is required"),
        (Some(json!("")), "empty_value", "must not be empty"),
        (Some(json!("  ")), "empty_value", "must not be empty"),
        (Some(json!(966)), "invalid_type", "expected a string"),
    ];
    for party in ["seller", "buyer"] {
        for (country, code, message) in &cases {
            let mut body = standard_example(&unit);
            let address = body[party]["address"].as_object_mut().expect("address");
            match country {
                None => {
                    address.remove("country");
                }
                Some(value) => {
                    address.insert("country".into(), value.clone());
                }
            }
            let (status, answer) = t.http.post_idempotent("/v1/invoices/standard", &key, None, &body).await;
            assert_eq!(status, 400, "{party} {country:?}: {answer}");
            assert_envelope(&answer, "VALIDATION_ERROR");
            let path = format!("{party}.address.country");
            assert_eq!(
                answer["error"]["details"],
                json!([{ "code": code, "path": path, "message": message }]),
                "{party} {country:?}"
            );
            assert_eq!(
                answer["error"]["message"],
                format!("The invoice is invalid: {path}: {message}")
            );
        }
    }
    // The seller's address on a simplified invoice too, reported with the body's other errors.
    let mut body = simplified_example(&unit);
    body["seller"]["address"]
        .as_object_mut()
        .expect("address")
        .remove("country");
    body["invoice_date"] = json!("2025-13-40");
    let (status, answer) = t
        .http
        .post_idempotent("/v1/invoices/simplified", &key, None, &body)
        .await;
    assert_eq!(status, 400, "{answer}");
    let paths = detail_paths(&answer);
    assert_eq!(paths.first(), Some(&"seller.address.country"), "{answer}");
    assert!(paths.contains(&"invoice_date"), "{answer}");
    assert_eq!(t.http.invoice_counter(&key, &unit).await, 0, "nothing consumed");

    // With the country: cleared as before; a seller that gives no address at all issues under
    // the unit's profile, whose country was checked when the unit was created.
    let (status, answer) = t
        .http
        .post_idempotent("/v1/invoices/standard", &key, None, &standard_example(&unit))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "cleared", "{answer}");
    let mut body = simplified_example(&unit);
    body["invoice_number"] = json!("INV-003");
    body["seller"].as_object_mut().expect("seller").remove("address");
    let (status, answer) = t
        .http
        .post_idempotent("/v1/invoices/simplified", &key, None, &body)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "reported", "{answer}");
    t.relay.shutdown().await.expect("shutdown");
}

/// Removes (`None`) or sets the field at a dotted path of a body (`buyer.address.city`,
/// `line_items.0.quantity`).
fn set_path(body: &mut Value, path: &str, value: Option<Value>) {
    let (parent, field) = path.rsplit_once('.').unwrap_or(("", path));
    let mut target = &mut *body;
    for part in parent.split('.').filter(|p| !p.is_empty()) {
        target = match part.parse::<usize>() {
            Ok(i) => &mut target[i],
            Err(_) => &mut target[part],
        };
    }
    let object = target.as_object_mut().expect("an object");
    match value {
        None => {
            object.remove(field);
        }
        Some(value) => {
            object.insert(field.to_owned(), value);
        }
    }
}

/// Every field the hosted API's DTOs mark required, in the objects a body gives: each missing
/// (or null) one is `400 VALIDATION_ERROR` with `missing_field` at its JSON path, nothing
/// consumed. Where the core already reports one (a line's description, a note's reason), its
/// answer is shown as it was. A body may still leave the whole seller, or the seller's whole
/// address, to the unit's profile, and a simplified invoice's buyer is the core's optional B2C
/// party.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_required_fields_are_required_at_their_paths() {
    let t = TestRelay::start().await;
    let (key, unit) = setup(&t).await;
    let (status, original) = t
        .http
        .post_idempotent("/v1/invoices/standard", &key, None, &standard_example(&unit))
        .await;
    assert_eq!(status, 200, "{original}");
    let original = original["uuid"].as_str().expect("uuid").to_owned();
    let simplified = simplified_example(&unit);
    let standard = standard_example(&unit);
    let mut b2c = simplified_example(&unit);
    b2c["buyer"] = json!({ "name": "Walk-in", "address": { "street": "Olaya St", "city": "Riyadh", "country": "SA" } });
    // Two lines: the core drops a line whose quantity or price is null without a word, so
    // without the relay's check the invoice would be issued with the other line alone.
    let mut two_lines = simplified_example(&unit);
    two_lines["line_items"]
        .as_array_mut()
        .expect("lines")
        .push(json!({ "description": "Product B", "quantity": 1, "unit_price": 10 }));
    // A credit note of the standard invoice: a standard document, whose buyer is a BuyerDto.
    let mut note = credit_note_example(&unit, &original);
    note["buyer"] = standard["buyer"].clone();
    let null = Some(Value::Null);
    // (endpoint, example, field changed, its new value (None: removed), path, code)
    type Case<'a> = (&'a str, &'a Value, &'a str, Option<Value>, &'a str, &'a str);
    let cases: [Case; 25] = [
        (
            "standard",
            &standard,
            "seller.name",
            None,
            "seller.name",
            "missing_field",
        ),
        (
            "standard",
            &standard,
            "seller.name",
            null.clone(),
            "seller.name",
            "missing_field",
        ),
        (
            "standard",
            &standard,
            "seller.vat_number",
            None,
            "seller.vat_number",
            "missing_field",
        ),
        // The core reports a null VAT number itself, with ZATCA's rule.
        (
            "standard",
            &standard,
            "seller.vat_number",
            null.clone(),
            "seller.vat_number",
            "BR-KSA-39",
        ),
        (
            "standard",
            &standard,
            "seller.address.street",
            None,
            "seller.address.street",
            "missing_field",
        ),
        (
            "standard",
            &standard,
            "seller.address.city",
            None,
            "seller.address.city",
            "missing_field",
        ),
        (
            "standard",
            &standard,
            "seller.address.city",
            null.clone(),
            "seller.address.city",
            "missing_field",
        ),
        ("standard", &standard, "buyer", None, "buyer", "missing_field"),
        ("standard", &standard, "buyer", null.clone(), "buyer", "missing_field"),
        ("standard", &standard, "buyer.name", None, "buyer.name", "missing_field"),
        (
            "standard",
            &standard,
            "buyer.vat_number",
            None,
            "buyer.vat_number",
            "missing_field",
        ),
        (
            "standard",
            &standard,
            "buyer.address",
            None,
            "buyer.address",
            "missing_field",
        ),
        (
            "standard",
            &standard,
            "buyer.address",
            null.clone(),
            "buyer.address",
            "missing_field",
        ),
        (
            "standard",
            &standard,
            "buyer.address.street",
            None,
            "buyer.address.street",
            "missing_field",
        ),
        (
            "standard",
            &standard,
            "buyer.address.city",
            None,
            "buyer.address.city",
            "missing_field",
        ),
        (
            "simplified",
            &simplified,
            "seller.vat_number",
            None,
            "seller.vat_number",
            "missing_field",
        ),
        (
            "simplified",
            &simplified,
            "seller.address.street",
            None,
            "seller.address.street",
            "missing_field",
        ),
        (
            "simplified",
            &b2c,
            "buyer.address.city",
            None,
            "buyer.address.city",
            "missing_field",
        ),
        (
            "simplified",
            &two_lines,
            "line_items.0.quantity",
            null.clone(),
            "line_items[0].quantity",
            "missing_field",
        ),
        (
            "simplified",
            &two_lines,
            "line_items.0.unit_price",
            null.clone(),
            "line_items[0].unit_price",
            "missing_field",
        ),
        // The core's own answers, unchanged.
        (
            "simplified",
            &simplified,
            "line_items.0.quantity",
            None,
            "line_items[0].quantity",
            "missing_field",
        ),
        (
            "simplified",
            &simplified,
            "line_items.0.description",
            None,
            "line_items[0].description",
            "missing_field",
        ),
        ("credit-note", &note, "reason", None, "reason", "BR-KSA-17"),
        (
            "credit-note",
            &note,
            "buyer.vat_number",
            None,
            "buyer.vat_number",
            "missing_field",
        ),
        (
            "credit-note",
            &note,
            "buyer.address.street",
            None,
            "buyer.address.street",
            "missing_field",
        ),
    ];
    let before = t.http.invoice_counter(&key, &unit).await;
    for (endpoint, example, field, value, path, code) in cases {
        let mut body = example.clone();
        set_path(&mut body, field, value.clone());
        let (status, answer) = t
            .http
            .post_idempotent(&format!("/v1/invoices/{endpoint}"), &key, None, &body)
            .await;
        let case = format!("{endpoint} {field} {value:?}");
        assert_eq!(status, 400, "{case}: {answer}");
        assert_envelope(&answer, "VALIDATION_ERROR");
        let details = answer["error"]["details"].as_array().expect("details");
        assert_eq!(details.len(), 1, "{case}: {answer}");
        assert_eq!(details[0]["path"], path, "{case}: {answer}");
        assert_eq!(details[0]["code"], code, "{case}: {answer}");
    }
    // Together: every problem of the body in one answer, the relay's first.
    let mut body = standard.clone();
    set_path(&mut body, "seller.name", None);
    set_path(&mut body, "buyer.address.city", None);
    set_path(&mut body, "buyer.vat_number", null.clone());
    body["invoice_date"] = json!("2025-13-40");
    let (status, answer) = t.http.post_idempotent("/v1/invoices/standard", &key, None, &body).await;
    assert_eq!(status, 400, "{answer}");
    let paths = detail_paths(&answer);
    assert_eq!(
        paths,
        ["seller.name", "buyer.vat_number", "buyer.address.city", "invoice_date"],
        "{answer}"
    );
    assert_eq!(
        answer["error"]["message"],
        "The invoice is invalid: seller.name: is required"
    );
    assert_eq!(t.http.invoice_counter(&key, &unit).await, before, "nothing consumed");

    // The superset kept: no seller (the unit's profile), a seller without address, a B2C buyer
    // with neither VAT number nor address; and the complete bodies.
    let mut no_seller = simplified.clone();
    set_path(&mut no_seller, "seller", None);
    let mut no_seller_address = standard.clone();
    set_path(&mut no_seller_address, "seller.address", None);
    let mut b2c_name_only = simplified.clone();
    b2c_name_only["buyer"] = json!({ "name": "Walk-in" });
    for (n, (endpoint, body)) in [
        ("simplified", no_seller),
        ("standard", no_seller_address),
        ("simplified", b2c_name_only),
        ("simplified", b2c),
        ("credit-note", note),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = body;
        body["invoice_number"] = json!(format!("OK-{n}"));
        let (status, answer) = t
            .http
            .post_idempotent(&format!("/v1/invoices/{endpoint}"), &key, None, &body)
            .await;
        assert_eq!(status, 200, "{endpoint} {n}: {answer}");
    }
    t.relay.shutdown().await.expect("shutdown");
}

/// A create whose every signing loses the unit's next chain position to another document (5
/// tries, forced by a trigger that makes the chain's conditional update find nothing to change)
/// is `409 EGS_BUSY`, retryable, with nothing consumed; the same request sent again once the
/// contention is over is issued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_keeps_losing_the_chain_is_a_retryable_409() {
    let t = TestRelay::start().await;
    let (key, unit) = setup(&t).await;
    let (status, answer) = t
        .http
        .post_idempotent("/v1/invoices/simplified", &key, None, &simplified_example(&unit))
        .await;
    assert_eq!(status, 200, "{answer}");
    let mut body = simplified_example(&unit);
    body["invoice_number"] = json!("INV-002");
    lose_every_save(t.dir.path(), "egs_units", true).await;
    let (status, answer) = t
        .http
        .post_idempotent("/v1/invoices/simplified", &key, Some("contended-1"), &body)
        .await;
    assert_eq!(status, 409, "{answer}");
    assert_envelope(&answer, "EGS_BUSY");
    assert_eq!(answer["error"]["retryable"], true, "{answer}");
    let (_, list) = t.http.get("/v1/invoices", &key).await;
    assert_eq!(list["pagination"]["total_count"], 1, "nothing consumed: {list}");

    lose_every_save(t.dir.path(), "egs_units", false).await;
    let (status, answer) = t
        .http
        .post_idempotent("/v1/invoices/simplified", &key, Some("contended-1"), &body)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(t.http.invoice_counter(&key, &unit).await, 2);
    t.relay.shutdown().await.expect("shutdown");
}
