//! HTTP surface: `Accept-Version`, Basic auth, malformed and oversized bodies, admin endpoints.

use serde_json::json;
use zatca_sim::SimConfig;

use crate::support::*;

#[tokio::test]
async fn accept_version_v2_is_required() {
    let sim = sandbox().await;
    let api = Api::new(&sim);
    for version in [None, Some("V1")] {
        let a = api
            .post("/compliance")
            .version(version)
            .otp("123345")
            .json(&json!({"csr": "x"}))
            .send()
            .await;
        assert_eq!(a.status, 406);
        assert_eq!(a.body, "This Version is not supported or not provided in the header.");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn document_endpoints_need_valid_basic_credentials() {
    let sim = sandbox().await;
    let api = Api::new(&sim);
    let body = json!({"invoiceHash": "x", "uuid": "y", "invoice": "z"});
    for path in [
        "/invoices/reporting/single",
        "/invoices/clearance/single",
        "/compliance/invoices",
    ] {
        let none = api.post(path).json(&body).send().await;
        assert_eq!(none.status, 401, "{path}");
        assert_eq!(none.body["error"], "Unauthorized");
        assert_eq!(none.body["status"], 401);
        assert_eq!(none.body["message"], "");
        assert!(none.body["timestamp"].is_u64());
        let wrong = api.post(path).basic("TUlJ", "secret").json(&body).send().await;
        assert_eq!(wrong.status, 401, "{path}");
    }

    // A compliance CSID does not open the production endpoints, nor a wrong secret.
    let csr = sandbox_csr(20, "1100");
    let compliance = Creds::from_answer(&request_compliance_csid(&api, "123345", &csr).await);
    let reporting = api.report(&compliance, &body).await;
    assert_eq!(reporting.status, 401);
    let bad_secret = api
        .post("/compliance/invoices")
        .basic(&compliance.token, "nope")
        .json(&body)
        .send()
        .await;
    assert_eq!(bad_secret.status, 401);
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_bodies_are_400_without_validation_results() {
    let sim = sandbox().await;
    let api = Api::new(&sim);
    let csr = sandbox_csr(21, "1100");
    let compliance = Creds::from_answer(&request_compliance_csid(&api, "123345", &csr).await);
    let a = api
        .post("/compliance/invoices")
        .creds(&compliance)
        .raw(b"{not json".to_vec())
        .send()
        .await;
    assert_eq!(a.status, 400);
    assert!(a.body.get("validationResults").is_none(), "{:?}", a.body);
    assert_eq!(a.body["code"], "Invalid-Request");
    sim.shutdown().await;
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let sim = zatca_sim::spawn(SimConfig {
        max_body_bytes: 4096,
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let api = Api::new(&sim);
    let big = json!({"csr": "A".repeat(10_000)});
    let a = api.post("/compliance").otp("123345").json(&big).send().await;
    assert_eq!(a.status, 413);
    sim.shutdown().await;
}

#[tokio::test]
async fn admin_endpoints_describe_the_simulator() {
    let sim = sandbox().await;
    let api = Api::new(&sim);
    let health = api.get("/admin/health").version(None).send().await;
    assert_eq!(health.body["environment"], "sandbox");
    let ca = api.get("/admin/ca").version(None).send().await;
    assert!(
        ca.body
            .as_str()
            .is_some_and(|p| p.starts_with("-----BEGIN CERTIFICATE-----"))
    );
    let csr = sandbox_csr(22, "0100");
    let creds = Creds::from_answer(&request_compliance_csid(&api, "123345", &csr).await);
    let csids = api.get("/admin/csids").version(None).send().await;
    assert_eq!(csids.body[0]["kind"], "compliance");
    assert_eq!(csids.body[0]["request_id"].to_string(), creds.request_id);
    assert_eq!(csids.body[0]["vat_number"], VAT);
    assert_eq!(
        csids.body[0]["compliance_steps_required"],
        json!(["simplified_invoice", "simplified_credit_note", "simplified_debit_note"])
    );
    assert!(csids.body[0].get("secret").is_none());
    sim.shutdown().await;
}
