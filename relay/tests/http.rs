//! End-to-end tests over real HTTP: a relay bound to 127.0.0.1:0 talking to ZATCA simulators
//! (`zatca_sim::spawn`), sometimes through a recording proxy.

mod common;

use std::time::Duration;

use axum::http::Method;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::*;
use serde_json::{Value, json};
use zatca_core::cert::Certificate;
use zatca_core::csr::{self, CsrConfig};
use zatca_core::keys::PrivateKey;
use zatca_core::model::InvoiceInput;
use zatca_core::sign::{Signer, sign_invoice};
use zatca_core::ubl::ChainInputs;
use zatca_relay::config::Gateway;
use zatca_relay::secret::{MasterKey, SecretString};
use zatca_relay::spawn;

/// The documented `POST /v1/egs` example body, with the sandbox OTP.
fn documented_body() -> Value {
    json!({"unit_name": "Main Branch POS", "invoice_type": "simplified", "phase": 2, "otp": "123345", "environment": "sandbox"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_relay_custody_onboarding_as_documented() {
    let t = TestRelay::start().await;
    let key = t.http.onboard("sandbox").await;
    let (status, created) = t.http.post("/v1/egs", &key, documented_body()).await;
    assert_eq!(status, 200, "{created}");
    let id = created["egs_unit_id"].as_str().expect("id").to_owned();
    assert_eq!(created["onboarding_status"], "pending");
    assert_eq!(
        created["message"],
        "CSR generated. ZATCA compliance check running automatically."
    );
    assert_eq!(created["poll_url"], format!("/v1/egs/{id}/status"));
    assert!(created["serial_number"].as_str().expect("serial").starts_with("SN-"));

    let status = t.http.wait_for(&key, &id, &["active", "failed"]).await;
    assert_eq!(status["onboarding_status"], "active", "{status}");
    assert_eq!(status["egs_unit_id"], id);
    assert_eq!(status["unit_name"], "Main Branch POS");
    assert_eq!(status["environment"], "sandbox");
    assert_eq!(status["phase"], 2);
    assert_eq!(status["cert_health"], "healthy");
    assert_eq!(status["invoice_counter"], 0);
    assert!(status["days_until_expiry"].as_i64().expect("days") > 300, "{status}");
    for field in ["cert_issued_at", "cert_expires_at"] {
        let text = status[field].as_str().expect(field);
        assert!(
            text.ends_with('Z') && text.len() == "2025-01-15T10:00:00.000Z".len(),
            "{field}: {text}"
        );
    }

    // The three simplified samples passed the simulator's compliance check.
    let counters = t.sims.sandbox.counters();
    assert_eq!(counters.endpoint("POST /compliance").accepted, 1);
    assert_eq!(counters.endpoint("POST /compliance/invoices").accepted, 3);

    // Every ZATCA exchange is in the unit's audit log, secrets redacted.
    let (status, audit) = t.http.get(&format!("/v1/egs/{id}/audit-log"), &key).await;
    assert_eq!(status, 200);
    let entries = audit["data"].as_array().expect("entries");
    let ops: Vec<&str> = entries.iter().filter_map(|e| e["operation"].as_str()).collect();
    assert_eq!(ops.iter().filter(|o| **o == "compliance_csid").count(), 1, "{ops:?}");
    assert_eq!(ops.iter().filter(|o| **o == "compliance_invoice").count(), 3, "{ops:?}");
    let csid = entries
        .iter()
        .find(|e| e["operation"] == "compliance_csid")
        .expect("csid entry");
    assert_eq!(csid["request_headers"]["OTP"], "[redacted]");
    assert_eq!(csid["response_status"], 200);
    let response: Value = serde_json::from_str(csid["response_body"].as_str().expect("body")).expect("json");
    assert_eq!(response["secret"], "[redacted]");
    assert!(response["binarySecurityToken"].is_string());
    let doc = entries
        .iter()
        .find(|e| e["operation"] == "compliance_invoice")
        .expect("doc entry");
    assert_eq!(doc["request_headers"]["Authorization"], "Basic [redacted]");
    assert_eq!(doc["request_headers"]["Accept-Version"], "V2");
    assert!(!audit.to_string().contains("123345"));
    t.relay.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_invoice_types_pass_all_six_compliance_documents_then_production_and_renewal() {
    let t = TestRelay::start().await;
    let key = t.http.onboard("sandbox").await;
    let id = t
        .http
        .create_unit(
            &key,
            json!({"unit_name": "HQ", "invoice_type": "both", "otp": "123345"}),
        )
        .await;
    let status = t.http.wait_for(&key, &id, &["active", "failed"]).await;
    assert_eq!(status["onboarding_status"], "active", "{status}");
    // Sandbox units get their production CSID right after the compliance checks (reporting
    // and clearance accept no other), without a request-production step.
    assert_eq!(status["csid"], "production");
    assert_eq!(
        t.sims.sandbox.counters().endpoint("POST /compliance/invoices").accepted,
        6
    );
    let first_expiry = status["cert_expires_at"].as_str().expect("expiry").to_owned();

    // request-production on a unit with a production CSID renews it; so does renew.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (code, produced) = t
        .http
        .post(
            &format!("/v1/egs/{id}/request-production"),
            &key,
            json!({"otp": "123345"}),
        )
        .await;
    assert_eq!(code, 200, "{produced}");
    assert_eq!(produced["message"], "Production CSID obtained");
    assert_ne!(
        produced["cert_expires_at"], first_expiry,
        "renewal issues a new certificate"
    );
    let (_, status) = t.http.get(&format!("/v1/egs/{id}/status"), &key).await;
    assert_eq!(status["csid"], "production");
    assert_eq!(status["cert_expires_at"], produced["cert_expires_at"]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (code, renewed) = t
        .http
        .post(&format!("/v1/egs/{id}/renew"), &key, json!({"otp": "123345"}))
        .await;
    assert_eq!(code, 200, "{renewed}");
    assert_ne!(renewed["cert_expires_at"], produced["cert_expires_at"]);
    let counters = t.sims.sandbox.counters();
    assert_eq!(counters.endpoint("POST /production/csids").accepted, 1);
    assert_eq!(counters.endpoint("PATCH /production/csids").accepted, 2);
    t.relay.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_unit_needs_request_production_with_an_otp() {
    let t = TestRelay::start().await;
    let key = t.http.onboard("production").await;
    assert!(key.starts_with("zatca_live_"));
    let otp = t.sims.production_otp();
    let id = t
        .http
        .create_unit(
            &key,
            json!({"unit_name": "Jeddah POS", "invoice_type": "standard", "otp": otp, "seller": seller()}),
        )
        .await;
    // Before compliance completes, request-production is refused (it may already be done).
    let status = t.http.wait_for(&key, &id, &["ready_for_production", "failed"]).await;
    assert_eq!(status["onboarding_status"], "ready_for_production", "{status}");
    assert_eq!(status["environment"], "production");
    assert_eq!(
        t.sims
            .production
            .counters()
            .endpoint("POST /compliance/invoices")
            .accepted,
        3
    );

    let (code, body) = t
        .http
        .post(&format!("/v1/egs/{id}/request-production"), &key, json!({}))
        .await;
    assert_eq!(code, 400);
    assert_envelope(&body, "VALIDATION_ERROR");

    let otp2 = t.sims.production_otp();
    let (code, produced) = t
        .http
        .post(&format!("/v1/egs/{id}/request-production"), &key, json!({"otp": otp2}))
        .await;
    assert_eq!(code, 200, "{produced}");
    let status = t.http.wait_for(&key, &id, &["active"]).await;
    assert_eq!(status["csid"], "production");
    assert!(
        status["days_until_expiry"].as_i64().expect("days") >= 364,
        "production CSIDs live one year, as ZATCA's guide says: {status}"
    );
    assert_eq!(status["cert_expires_at"], produced["cert_expires_at"]);

    // Renewal with a used OTP is refused by ZATCA; with a fresh one it works.
    let (code, body) = t
        .http
        .post(&format!("/v1/egs/{id}/renew"), &key, json!({"otp": otp}))
        .await;
    assert_eq!(code, 400, "{body}");
    assert_envelope(&body, "INVALID_OTP");
    assert!(body["error"]["details"].to_string().contains("Invalid-OTP"), "{body}");
    let (code, renewed) = t
        .http
        .post(
            &format!("/v1/egs/{id}/renew"),
            &key,
            json!({"otp": t.sims.production_otp()}),
        )
        .await;
    assert_eq!(code, 200, "{renewed}");
    assert_eq!(
        t.sims
            .production
            .counters()
            .endpoint("PATCH /production/csids")
            .accepted,
        1
    );
    t.relay.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_custody_onboarding_with_documents_signed_on_the_device() {
    let t = TestRelay::start().await;
    let key = t.http.onboard("sandbox").await;

    // The device makes its own key and CSR with the core; the relay never sees the key.
    let device_key = PrivateKey::from_seed([7u8; 32]).expect("key");
    let config = CsrConfig {
        common_name: "Device POS 1".into(),
        serial_number: "1-DeviceApp|2-1.0|3-0001".into(),
        organization_identifier: "399999999900003".into(),
        organization_unit: "Riyadh Branch".into(),
        organization_name: "Maximum Speed Tech Supply LTD".into(),
        country: "SA".into(),
        invoice_type: "0100".into(),
        location_address: "2322 Prince Sultan Riyadh".into(),
        industry_business_category: "Supply activities".into(),
    };
    let csr = csr::build_csr(&config, &device_key, csr::Environment::Sandbox).expect("csr");
    let id = t
        .http
        .create_unit(
            &key,
            json!({"unit_name": "Device POS 1", "custody": "device", "csr": csr.pem(), "otp": "123345"}),
        )
        .await;
    let status = t
        .http
        .wait_for(&key, &id, &["awaiting_compliance_documents", "failed"])
        .await;
    assert_eq!(status["onboarding_status"], "awaiting_compliance_documents", "{status}");
    assert_eq!(status["custody"], "device");
    let pending: Vec<String> = status["compliance_documents"]["pending"]
        .as_array()
        .expect("pending")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        pending,
        ["simplified_invoice", "simplified_credit_note", "simplified_debit_note"]
    );
    let certificate = Certificate::parse(status["certificate"].as_str().expect("certificate")).expect("cert");
    assert!(certificate.matches_key(&device_key));

    // A document of a kind the unit does not issue, and a tampered one, are refused.
    let (code, body) = t
        .http
        .post(
            &format!("/v1/egs/{id}/compliance-documents"),
            &key,
            json!({"kind": "standard_invoice", "invoice": B64.encode("<x/>")}),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert_envelope(&body, "VALIDATION_ERROR");

    let mut pih = zatca_core::chain::INITIAL_PIH.to_owned();
    let signer = Signer::new(device_key.clone(), certificate.clone()).expect("signer");
    for (i, kind) in pending.iter().enumerate() {
        let kind_enum: zatca_relay::domain::ComplianceKind = kind.parse().expect("kind");
        let seller = zatca_relay::routes::egs::sandbox_seller("Device POS 1");
        let input = zatca_relay::signing::compliance_sample_input(kind_enum, &seller, i as i64 + 1, chrono::Utc::now());
        let input = InvoiceInput::from_value(&input).expect("input");
        let chain = ChainInputs {
            icv: i as u64 + 1,
            pih: pih.clone(),
            uuid: uuid::Uuid::new_v4().to_string(),
        };
        let signed = sign_invoice(&input, &chain, &signer, None).expect("signed");
        if i == 0 {
            let tampered = signed.xml.replace("<cbc:ID>CMP-", "<cbc:ID>TAMPERED-");
            let (code, body) = t
                .http
                .post(
                    &format!("/v1/egs/{id}/compliance-documents"),
                    &key,
                    json!({"kind": kind, "invoice": B64.encode(&tampered), "invoice_hash": signed.hash, "uuid": signed.uuid}),
                )
                .await;
            assert_eq!(code, 422, "{body}");
            assert_envelope(&body, "COMPLIANCE_DOCUMENT_REJECTED");
            assert!(
                body["error"]["details"].as_array().is_some_and(|d| !d.is_empty()),
                "ZATCA's messages: {body}"
            );
        }
        let (code, body) = t
            .http
            .post(
                &format!("/v1/egs/{id}/compliance-documents"),
                &key,
                json!({"kind": kind, "invoice": B64.encode(&signed.xml)}),
            )
            .await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["accepted"], true);
        pih = signed.hash;
    }
    let status = t.http.wait_for(&key, &id, &["active"]).await;
    assert_eq!(status["compliance_documents"]["pending"], json!([]));
    let (code, body) = t
        .http
        .post(
            &format!("/v1/egs/{id}/compliance-documents"),
            &key,
            json!({"kind": "simplified_invoice", "invoice": "eA=="}),
        )
        .await;
    assert_eq!(code, 409);
    assert_envelope(&body, "COMPLIANCE_COMPLETE");

    // The relay never stored a private key for this unit.
    let unit = t
        .relay
        .state
        .store
        .unit_by_id(id.parse().expect("uuid"))
        .await
        .expect("db")
        .expect("unit");
    assert!(unit.private_key_enc.is_none());
    let (code, produced) = t
        .http
        .post(
            &format!("/v1/egs/{id}/request-production"),
            &key,
            json!({"otp": "123345"}),
        )
        .await;
    assert_eq!(code, 200, "{produced}");
    let (_, status) = t.http.get(&format!("/v1/egs/{id}/status"), &key).await;
    let production_cert = Certificate::parse(status["certificate"].as_str().expect("cert")).expect("cert");
    assert!(
        production_cert.matches_key(&device_key),
        "the production CSID is for the device's key"
    );
    t.relay.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_otp_fails_with_zatcas_message_and_does_not_use_the_quota() {
    let t = TestRelay::start_with(|c| c.plans = "solo=1:1".parse().expect("plans")).await;
    let key = t.http.onboard("production").await;
    let id = t
        .http
        .create_unit(&key, json!({"unit_name": "POS", "otp": "000000", "seller": seller()}))
        .await;
    let status = t.http.wait_for(&key, &id, &["failed", "active"]).await;
    assert_eq!(status["onboarding_status"], "failed");
    let errors = status["errors"].to_string();
    assert!(errors.contains("Invalid-OTP"), "{status}");
    let (code, body) = t
        .http
        .post(
            &format!("/v1/egs/{id}/request-production"),
            &key,
            json!({"otp": "123456"}),
        )
        .await;
    assert_eq!(code, 400);
    assert_envelope(&body, "EGS_NOT_READY");
    // The failed unit (no CSID ever issued) leaves the production quota free.
    let id2 = t
        .http
        .create_unit(
            &key,
            json!({"unit_name": "POS", "otp": t.sims.production_otp(), "seller": seller()}),
        )
        .await;
    t.http.wait_for(&key, &id2, &["ready_for_production"]).await;
    t.relay.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_mismatch_and_separate_quotas() {
    let t = TestRelay::start_with(|c| c.plans = "solo=2:1".parse().expect("plans")).await;
    let live = t.http.onboard("production").await;
    let (code, body) = t
        .http
        .post("/v1/egs", &live, json!({"unit_name": "POS", "environment": "sandbox"}))
        .await;
    assert_eq!(code, 400);
    assert_envelope(&body, "ENVIRONMENT_KEY_MISMATCH");
    // The same account's sandbox key (made with the live key).
    let (code, made) = t
        .http
        .post("/v1/keys", &live, json!({"environment": "sandbox", "name": "tests"}))
        .await;
    assert_eq!(code, 201, "{made}");
    let test = made["key"].as_str().expect("key").to_owned();
    assert!(test.starts_with("zatca_test_"));
    let (code, body) = t
        .http
        .post(
            "/v1/egs",
            &test,
            json!({"unit_name": "POS", "environment": "production"}),
        )
        .await;
    assert_eq!(code, 400);
    assert_envelope(&body, "ENVIRONMENT_KEY_MISMATCH");

    for n in 0..2 {
        t.http
            .create_unit(&test, json!({"unit_name": format!("Sandbox {n}")}))
            .await;
    }
    let (code, body) = t.http.post("/v1/egs", &test, json!({"unit_name": "Sandbox 3"})).await;
    assert_eq!(code, 403);
    assert_envelope(&body, "EGS_QUOTA_EXCEEDED");
    // The sandbox quota being full does not block production.
    let prod = t
        .http
        .create_unit(
            &live,
            json!({"unit_name": "Prod", "otp": t.sims.production_otp(), "seller": seller()}),
        )
        .await;
    let (code, body) = t
        .http
        .post(
            "/v1/egs",
            &live,
            json!({"unit_name": "Prod 2", "otp": t.sims.production_otp(), "seller": seller()}),
        )
        .await;
    assert_eq!(code, 403);
    assert_envelope(&body, "EGS_QUOTA_EXCEEDED");
    let (_, account) = t.http.get("/v1/account", &live).await;
    assert_eq!(account["quotas"]["sandbox"], json!({"limit": 2, "used": 2}));
    assert_eq!(account["quotas"]["production"], json!({"limit": 1, "used": 1}));

    // Keys only see units of their environment.
    let (code, body) = t.http.get(&format!("/v1/egs/{prod}/status"), &test).await;
    assert_eq!(code, 400);
    assert_envelope(&body, "EGS_UNIT_ENV_MISMATCH");
    let (_, keys) = t.http.get("/v1/keys", &live).await;
    let test_key_id = keys["data"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["environment"] == "sandbox")
        .expect("test key")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (code, body) = t
        .http
        .send(
            Method::PATCH,
            &format!("/v1/keys/{test_key_id}"),
            Some(&live),
            Some(&json!({"default_egs_unit_id": prod})),
        )
        .await;
    assert_eq!(code, 400);
    assert_envelope(&body, "EGS_UNIT_ENV_MISMATCH");
    t.relay.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_unit_is_not_found() {
    let t = TestRelay::start().await;
    let alice = t.http.onboard("sandbox").await;
    let bob = t.http.onboard("sandbox").await;
    let id = t.http.create_unit(&alice, documented_body()).await;
    t.http.wait_for(&alice, &id, &["active"]).await;
    for (method, path, body) in [
        (Method::GET, format!("/v1/egs/{id}/status"), None),
        (Method::GET, format!("/v1/egs/{id}"), None),
        (Method::GET, format!("/v1/egs/{id}/audit-log"), None),
        (Method::GET, format!("/v1/egs/{id}/compliance-documents"), None),
        (
            Method::POST,
            format!("/v1/egs/{id}/request-production"),
            Some(json!({"otp": "123345"})),
        ),
        (
            Method::POST,
            format!("/v1/egs/{id}/renew"),
            Some(json!({"otp": "123345"})),
        ),
        (
            Method::POST,
            format!("/v1/egs/{id}/compliance-documents"),
            Some(json!({"kind": "simplified_invoice", "invoice": "eA=="})),
        ),
    ] {
        let (code, answer) = t.http.send(method.clone(), &path, Some(&bob), body.as_ref()).await;
        assert_eq!(code, 400, "{method} {path}: {answer}");
        assert_envelope(&answer, "EGS_UNIT_NOT_FOUND");
    }
    let (_, list) = t.http.get("/v1/egs", &bob).await;
    assert_eq!(list["data"], json!([]));
    let (_, list) = t.http.get("/v1/egs", &alice).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
    t.relay.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_error_uses_the_envelope() {
    let t = TestRelay::start().await;
    let key = t.http.onboard("sandbox").await;
    let c = &t.http;

    let (code, body) = c.send(Method::GET, "/v1/egs", None, None).await;
    assert_eq!((code, body["error"]["code"].as_str()), (401, Some("UNAUTHORIZED")));
    let (code, body) = c.send(Method::GET, "/v1/egs", Some("zatca_test_wrong"), None).await;
    assert_eq!((code, body["error"]["code"].as_str()), (401, Some("INVALID_API_KEY")));
    let (code, body) = c.send(Method::GET, "/v1/unknown", Some(&key), None).await;
    assert_eq!((code, body["error"]["code"].as_str()), (404, Some("NOT_FOUND")));
    let (code, body) = c.send(Method::PUT, "/v1/egs", Some(&key), None).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (405, Some("METHOD_NOT_ALLOWED"))
    );

    let raw = reqwest::Client::new();
    let response = raw
        .post(format!("{}/v1/egs", c.base))
        .bearer_auth(&key)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert_envelope(&body, "INVALID_JSON");
    let response = raw
        .post(format!("{}/v1/egs", c.base))
        .bearer_auth(&key)
        .body("unit_name=x")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 415);
    let response = raw
        .post(format!("{}/v1/egs", c.base))
        .bearer_auth(&key)
        .header("Content-Type", "application/json")
        .body(vec![b' '; 3 * 1024 * 1024])
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 413);

    for (body, code, path) in [
        (json!({"phase": 2}), "VALIDATION_ERROR", Some("unit_name")),
        (json!({"unit_name": ""}), "VALIDATION_ERROR", Some("unit_name")),
        (json!({"unit_name": "x", "otp": ""}), "VALIDATION_ERROR", Some("otp")),
        (
            json!({"unit_name": "x", "custody": "device"}),
            "VALIDATION_ERROR",
            Some("csr"),
        ),
        (json!({"unit_name": "x", "csr": "abc"}), "VALIDATION_ERROR", Some("csr")),
        (
            json!({"unit_name": "x", "custody": "device", "csr": "not a csr"}),
            "INVALID_CSR",
            None,
        ),
        (
            json!({"unit_name": "x", "environment": "staging"}),
            "VALIDATION_ERROR",
            Some("environment"),
        ),
        (
            json!({"unit_name": "x", "environment": "production"}),
            "ENVIRONMENT_KEY_MISMATCH",
            None,
        ),
        (
            json!({"unit_name": "x", "seller": {"name": "A"}}),
            "VALIDATION_ERROR",
            None,
        ),
    ] {
        let (status, answer) = c.post("/v1/egs", &key, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_envelope(&answer, code);
        if let Some(path) = path {
            assert_eq!(answer["error"]["details"][0]["path"], path, "{body}: {answer}");
        }
    }

    // State errors: not ready, phase 1, custody.
    let pending = c.create_unit(&key, json!({"unit_name": "Slow"})).await;
    let (code, body) = c
        .post(
            &format!("/v1/egs/{pending}/compliance-documents"),
            &key,
            json!({"kind": "simplified_invoice", "invoice": "eA=="}),
        )
        .await;
    assert_eq!(code, 400);
    assert_envelope(&body, "CUSTODY_MISMATCH");
    let phase1 = {
        let (code, created) = c.post("/v1/egs", &key, json!({"unit_name": "Kiosk", "phase": 1})).await;
        assert_eq!(code, 200);
        created["egs_unit_id"].as_str().expect("id").to_owned()
    };
    let (code, body) = c
        .post(&format!("/v1/egs/{phase1}/renew"), &key, json!({"otp": "123345"}))
        .await;
    assert_eq!(code, 400);
    assert_envelope(&body, "PHASE_1_UNIT");
    let (code, body) = c
        .post(
            &format!("/v1/egs/{phase1}/request-production"),
            &key,
            json!({"otp": "12 34"}),
        )
        .await;
    assert_eq!(code, 400);
    assert_envelope(&body, "VALIDATION_ERROR");
    let (code, body) = c.get(&format!("/v1/egs/{phase1}/audit-log?limit=0"), &key).await;
    assert_eq!(code, 400);
    assert_envelope(&body, "VALIDATION_ERROR");
    let (code, body) = c.post("/v1/keys", &key, json!({"environment": "production"})).await;
    assert_eq!(code, 403);
    assert_envelope(&body, "KEY_ENVIRONMENT_FORBIDDEN");
    let (code, body) = c
        .send(Method::DELETE, &format!("/v1/egs/{phase1}"), Some(&key), None)
        .await;
    assert_eq!(code, 405);
    assert_envelope(&body, "EGS_UNIT_NOT_DELETABLE");
    t.relay.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboarding_resumes_after_a_restart() {
    capture_logs();
    let sims = Sims::start().await;
    let proxy = Proxy::start(&sims.sandbox.base_url).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = relay_config(dir.path(), &proxy.base_url, &sims.production.base_url);

    // ZATCA's compliance-check endpoint is down: the CSID is issued, the documents are not.
    proxy.fail_path("/compliance/invoices");
    let relay = spawn(config.clone()).await.expect("relay");
    let http = Client::new(&relay.base_url);
    let key = http.onboard("sandbox").await;
    let id = http
        .create_unit(&key, json!({"unit_name": "Restart POS", "invoice_type": "both"}))
        .await;
    let started = std::time::Instant::now();
    while proxy.seen().iter().filter(|s| s.status == 503).count() < 2 {
        assert!(started.elapsed() < Duration::from_secs(20), "the job did not retry");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, status) = http.get(&format!("/v1/egs/{id}/status"), &key).await;
    assert_eq!(status["onboarding_status"], "pending");
    assert_eq!(
        status["csid"], "compliance",
        "the compliance CSID step is recorded before the documents"
    );
    relay.shutdown().await.expect("shutdown");

    // A new process on the same database resumes the job where it stopped.
    proxy.heal();
    let relay = spawn(config).await.expect("relay again");
    let http = Client::new(&relay.base_url);
    let status = http.wait_for(&key, &id, &["active", "failed"]).await;
    assert_eq!(status["onboarding_status"], "active", "{status}");
    let counters = sims.sandbox.counters();
    assert_eq!(
        counters.endpoint("POST /compliance").received,
        1,
        "the OTP step is not repeated"
    );
    assert_eq!(counters.endpoint("POST /compliance/invoices").accepted, 6);
    relay.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zatca_outage_is_retried_with_back_off() {
    let t = TestRelay::start().await;
    t.sims.sandbox.set_faults(zatca_sim::Faults {
        error_rate: 1.0,
        ..zatca_sim::Faults::default()
    });
    let key = t.http.onboard("sandbox").await;
    let id = t.http.create_unit(&key, documented_body()).await;
    let started = std::time::Instant::now();
    while t.sims.sandbox.counters().endpoint("POST /compliance").faulted < 2 {
        assert!(started.elapsed() < Duration::from_secs(20), "no retries");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, status) = t.http.get(&format!("/v1/egs/{id}/status"), &key).await;
    assert_eq!(status["onboarding_status"], "pending", "{status}");
    t.sims.sandbox.set_faults(zatca_sim::Faults::default());
    let status = t.http.wait_for(&key, &id, &["active", "failed"]).await;
    assert_eq!(status["onboarding_status"], "active", "{status}");
    t.relay.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_database_file_or_the_logs() {
    capture_logs();
    let sims = Sims::start().await;
    let sandbox = Proxy::start(&sims.sandbox.base_url).await;
    let production = Proxy::start(&sims.production.base_url).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = spawn(relay_config(dir.path(), &sandbox.base_url, &production.base_url))
        .await
        .expect("relay");
    let http = Client::new(&relay.base_url);

    let live = http.onboard("production").await;
    let otp = sims.production_otp();
    let id = http
        .create_unit(
            &live,
            json!({"unit_name": "Secret POS", "otp": otp, "seller": seller()}),
        )
        .await;
    http.wait_for(&live, &id, &["ready_for_production"]).await;
    let otp2 = sims.production_otp();
    let (code, _) = http
        .post(&format!("/v1/egs/{id}/request-production"), &live, json!({"otp": otp2}))
        .await;
    assert_eq!(code, 200);
    let otp3 = sims.production_otp();
    let (code, _) = http
        .post(&format!("/v1/egs/{id}/renew"), &live, json!({"otp": otp3}))
        .await;
    assert_eq!(code, 200);
    let (code, made) = http.post("/v1/keys", &live, json!({"environment": "sandbox"})).await;
    assert_eq!(code, 201);
    let test_key = made["key"].as_str().expect("key").to_owned();
    let sandbox_unit = http.create_unit(&test_key, documented_body()).await;
    http.wait_for(&test_key, &sandbox_unit, &["active"]).await;

    let secrets: Vec<String> = production
        .csid_secrets()
        .into_iter()
        .chain(sandbox.csid_secrets())
        .collect();
    assert!(
        secrets.len() >= 4,
        "compliance + production + renewal + sandbox compliance: {secrets:?}"
    );

    // The private keys, as the relay holds them (decrypted here with the test master key).
    let master = MasterKey::from_base64(MASTER_KEY).expect("master");
    let mut key_material: Vec<Vec<u8>> = Vec::new();
    for unit in [&id, &sandbox_unit] {
        let unit_id: uuid::Uuid = unit.parse().expect("uuid");
        let stored = relay.state.store.unit_by_id(unit_id).await.expect("db").expect("unit");
        let enc = stored.private_key_enc.expect("relay custody");
        let pem = master
            .decrypt_str(&enc, &zatca_relay::onboarding::key_context(unit_id))
            .expect("decrypt");
        let key = PrivateKey::parse(pem.expose()).expect("key");
        let der = key.to_sec1_der();
        key_material.push(der.clone());
        key_material.push(pem.expose().as_bytes().to_vec());
        let body: String = pem.expose().lines().filter(|l| !l.starts_with("-----")).collect();
        key_material.push(body.as_bytes()[..40].to_vec());
        // The 32-byte scalar sits at offset 7 of SEC1 DER (30 74 02 01 01 04 20 ‖ d).
        key_material.push(der[7..39].to_vec());
    }

    let check = |label: &str| {
        let bytes = stored_bytes(dir.path());
        assert!(bytes.len() > 4096, "{label}: database files missing");
        for key in [&live, &test_key] {
            assert!(!contains(&bytes, key.as_bytes()), "{label}: API key in the database");
        }
        for secret in &secrets {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "{label}: CSID secret in the database"
            );
        }
        for material in &key_material {
            assert!(
                !contains(&bytes, material),
                "{label}: private key material in the database"
            );
        }
        for otp in [&otp, &otp2, &otp3] {
            assert!(
                !contains(&bytes, format!("\"{otp}\"").as_bytes()),
                "{label}: OTP in the database"
            );
        }
    };
    check("while running (WAL)");
    relay.shutdown().await.expect("shutdown");
    check("after shutdown");

    let mut logged: Vec<&str> = vec![&live, &test_key, &otp, &otp2, &otp3, MASTER_KEY];
    logged.extend(secrets.iter().map(String::as_str));
    let pem_bodies: Vec<String> = key_material
        .iter()
        .filter_map(|m| std::str::from_utf8(m).ok().map(str::to_owned))
        .collect();
    logged.extend(pem_bodies.iter().map(String::as_str));
    assert_not_logged(&logged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_runs_the_documented_sequence_offline() {
    capture_logs();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = zatca_relay::config::Config::defaults();
    config.demo = true;
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.database_url =
        zatca_relay::config::DatabaseUrl::new(format!("sqlite://{}", dir.path().join("demo.db").display()));
    config.worker_poll_ms = 50;
    config.demo_dir = Some(dir.path().join("none"));
    assert_eq!(config.effective_gateway(), Gateway::Sim);
    let relay = spawn(config.clone()).await.expect("demo relay");
    let key_file = dir.path().join("demo.master-key");
    assert!(key_file.is_file(), "the demo master key is kept next to the database");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let http = Client::new(&relay.base_url);
    let key = http.onboard("sandbox").await;
    let id = http.create_unit(&key, documented_body()).await;
    let status = http.wait_for(&key, &id, &["active", "failed"]).await;
    assert_eq!(status["onboarding_status"], "active", "{status}");
    // Production keys work offline too (the demo's production simulator accepts 123345).
    let live = http.onboard("production").await;
    let prod = http
        .create_unit(&live, json!({"unit_name": "Prod", "otp": "123345", "seller": seller()}))
        .await;
    http.wait_for(&live, &prod, &["ready_for_production"]).await;
    let (code, body) = http
        .post(
            &format!("/v1/egs/{prod}/request-production"),
            &live,
            json!({"otp": "123345"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    relay.shutdown().await.expect("shutdown");

    // Restarting reuses the stored master key: the secrets stored before still decrypt. (The
    // demo simulators keep their state in memory, so they do not know the old CSIDs any more.)
    let relay = spawn(config).await.expect("demo relay again");
    let http = Client::new(&relay.base_url);
    let (code, _) = http.get(&format!("/v1/egs/{id}/status"), &key).await;
    assert_eq!(code, 200);
    let master = MasterKey::from_base64(&std::fs::read_to_string(&key_file).expect("key file")).expect("master key");
    let unit_id: uuid::Uuid = id.parse().expect("uuid");
    let unit = relay.state.store.unit_by_id(unit_id).await.expect("db").expect("unit");
    let pem = master
        .decrypt_str(
            unit.private_key_enc.as_deref().expect("key"),
            &zatca_relay::onboarding::key_context(unit_id),
        )
        .expect("decrypts with the persisted master key");
    assert!(PrivateKey::parse(pem.expose()).is_ok());
    relay.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_refuses_to_start_without_a_master_key_outside_demo_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = relay_config(dir.path(), "http://127.0.0.1:9", "http://127.0.0.1:9");
    config.master_key = None;
    let err = spawn(config.clone()).await.expect_err("no master key");
    assert!(format!("{err:#}").contains("RELAY_MASTER_KEY"), "{err:#}");
    config.master_key = Some(SecretString::new("dG9vIHNob3J0"));
    assert!(spawn(config).await.is_err());
}
