//! `POST /compliance`, `POST /production/csids` before the compliance step, OTPs, CSR checks and
//! the certificates the CA issues.

use std::time::Duration;

use serde_json::json;
use zatca_core::csr::Environment as CoreEnvironment;
use zatca_sim::{Environment, SimConfig};

use crate::support::*;

#[tokio::test]
async fn issues_a_compliance_csid_for_the_sandbox_otp() {
    let sim = sandbox().await;
    let api = Api::new(&sim);
    let key = key(1);
    let csr = csr_field(&egs_config(VAT, "1100"), &key, CoreEnvironment::Sandbox);
    let a = request_compliance_csid(&api, "123345", &csr).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["dispositionMessage"], "ISSUED");
    assert!(a.body["requestID"].is_u64(), "requestID must be numeric: {:?}", a.body);
    assert!(a.body["secret"].as_str().is_some_and(|s| s.len() >= 40));
    let creds = Creds::from_answer(&a);
    // binarySecurityToken = base64(base64(DER)) (SPEC §10.4).
    assert!(creds.token.starts_with("TUlJ"), "token {}", &creds.token[..8]);
    let cert = creds.certificate();
    assert_eq!(
        cert.public_key_der(),
        key.public_key_der().as_slice(),
        "certificate for the CSR's key"
    );
    assert_eq!(cert.issuer_name(), zatca_sim::ca::CA_NAME);
    assert_eq!(cert.subject_common_name(), Some("TST-886431145-399999999900003"));
    assert_eq!(cert.san_fields().organization_identifier.as_deref(), Some(VAT));
    assert_eq!(cert.san_fields().invoice_type.as_deref(), Some("1100"));
    assert!(
        cert.serial_decimal().len() >= 38,
        "serial {} has ≥ 16 bytes",
        cert.serial_decimal()
    );
    let lifetime = cert.not_after_unix() - cert.not_before_unix();
    assert!(
        (365 * 86_400..=366 * 86_400).contains(&lifetime),
        "compliance validity {lifetime}s"
    );
    // ZATCA's profile: KeyUsage digitalSignature (critical), EKU codeSigning + clientAuth, SAN copied.
    {
        use der::Decode as _;
        let x509 = x509_cert::Certificate::from_der(cert.der()).expect("x509");
        let exts = x509.tbs_certificate().extensions().expect("extensions");
        let find = |oid: &str| exts.iter().find(|e| e.extn_id.to_string() == oid).expect(oid);
        assert!(find("2.5.29.15").critical, "KeyUsage is critical");
        assert_eq!(
            find("2.5.29.15").extn_value.as_bytes(),
            [0x03, 0x02, 0x07, 0x80],
            "digitalSignature only"
        );
        let eku = find("2.5.29.37").extn_value.as_bytes().to_vec();
        assert!(eku.windows(8).any(|w| w == [0x2b, 6, 1, 5, 5, 7, 3, 3]), "codeSigning");
        assert!(eku.windows(8).any(|w| w == [0x2b, 6, 1, 5, 5, 7, 3, 2]), "clientAuth");
        assert!(!find("2.5.29.17").critical);
    }
    // The CA signed it: the certificate verifies against the CA's key.
    let ca = zatca_core::cert::Certificate::parse(&sim.state.ca().certificate_pem()).expect("CA cert");
    let ca_key = ca.verifying_key().expect("CA key");
    let tbs = tbs_of(cert.der());
    assert!(
        zatca_core::keys::verify_sha256_der(&ca_key, &tbs, cert.signature()),
        "CA signature verifies"
    );
    sim.shutdown().await;
}

/// The DER of the tbsCertificate (first element of the outer SEQUENCE).
fn tbs_of(der: &[u8]) -> Vec<u8> {
    use der::{Decode as _, Encode as _};
    let cert = x509_cert::Certificate::from_der(der).expect("certificate");
    cert.tbs_certificate().to_der().expect("tbs")
}

#[tokio::test]
async fn otp_must_be_present_and_valid() {
    let sim = sandbox().await;
    let api = Api::new(&sim);
    let csr = sandbox_csr(2, "1100");
    let missing = api.post("/compliance").json(&json!({"csr": csr})).send().await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.body["errors"][0]["code"], "Missing-OTP");
    let wrong = request_compliance_csid(&api, "999999", &csr).await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.body["errors"][0]["code"], "Invalid-OTP");
    assert!(wrong.body.get("validationResults").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn issued_otps_are_single_use_and_expire() {
    let sim = zatca_sim::spawn(SimConfig {
        fixed_otps: vec![],
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let api = Api::new(&sim);
    let csr = sandbox_csr(3, "1100");
    assert_eq!(
        request_compliance_csid(&api, "123345", &csr).await.body["errors"][0]["code"],
        "Invalid-OTP"
    );

    let issued = api.post("/admin/otp").json(&json!({"ttl_secs": 600})).send().await;
    assert_eq!(issued.status, 200);
    let otp = issued.body["otp"].as_str().expect("otp").to_owned();
    assert_eq!(otp.len(), 6);
    assert_eq!(request_compliance_csid(&api, &otp, &csr).await.status, 200);
    let reused = request_compliance_csid(&api, &otp, &csr).await;
    assert_eq!(
        reused.body["errors"][0]["code"], "Invalid-OTP",
        "an OTP is used up by the CSID it issued"
    );

    let expired = sim.issue_otp(Duration::ZERO);
    let late = request_compliance_csid(&api, &expired, &csr).await;
    assert_eq!(late.status, 400);
    assert_eq!(late.body["errors"][0]["code"], "Invalid-OTP");
    assert!(
        late.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("expired"))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn template_name_must_match_the_environment() {
    let sandbox = sandbox().await;
    let api = Api::new(&sandbox);
    let k = key(4);
    let config = egs_config(VAT, "1100");
    let denied = request_compliance_csid(&api, "123345", &csr_field(&config, &k, CoreEnvironment::Simulation)).await;
    assert_eq!(denied.status, 400);
    assert_eq!(denied.body["dispositionMessage"], "NOT_COMPLIANT");
    assert!(
        denied.body["errors"][0]
            .as_str()
            .is_some_and(|m| m.contains("Denied by Policy Module")),
        "{:?}",
        denied.body
    );
    // The sandbox also takes the production template, as ZATCA's developer portal does.
    let production_template = csr_field(&config, &k, CoreEnvironment::Production);
    assert_eq!(
        request_compliance_csid(&api, "123345", &production_template)
            .await
            .status,
        200
    );
    sandbox.shutdown().await;

    let simulation = zatca_sim::spawn(SimConfig::for_environment(Environment::Simulation))
        .await
        .expect("sim");
    let api = Api::new(&simulation);
    assert_eq!(
        request_compliance_csid(&api, "123345", &csr_field(&config, &k, CoreEnvironment::Simulation))
            .await
            .status,
        200
    );
    assert_eq!(
        request_compliance_csid(&api, "123345", &production_template)
            .await
            .status,
        400
    );
    simulation.shutdown().await;

    let production = zatca_sim::spawn(SimConfig::for_environment(Environment::Production))
        .await
        .expect("sim");
    let api = Api::new(&production);
    let sandbox_template = csr_field(&config, &k, CoreEnvironment::Sandbox);
    assert_eq!(
        request_compliance_csid(&api, "123345", &sandbox_template).await.body["dispositionMessage"],
        "NOT_COMPLIANT"
    );
    assert_eq!(
        request_compliance_csid(&api, "123345", &production_template)
            .await
            .status,
        200
    );
    production.shutdown().await;
}

#[tokio::test]
async fn csr_must_be_present_decodable_and_self_signed() {
    let sim = sandbox().await;
    let api = Api::new(&sim);
    let missing = api.post("/compliance").otp("123345").json(&json!({})).send().await;
    assert_eq!(missing.body["errors"][0]["code"], "Missing-CSR");
    let garbage = request_compliance_csid(&api, "123345", "bm90IGEgQ1NS").await;
    assert_eq!(garbage.status, 400);
    assert_eq!(garbage.body["errors"][0]["code"], "Invalid-CSR");

    // A CSR whose subject was changed after signing fails the self-signature check.
    let csr = zatca_core::csr::build_csr(&egs_config(VAT, "1100"), &key(5), CoreEnvironment::Sandbox).expect("csr");
    let mut der = csr.der().to_vec();
    let at = der.windows(6).position(|w| w == b"Riyadh").expect("OU in the CSR");
    der[at] = b'J';
    let pem = der::pem::encode_string("CERTIFICATE REQUEST", der::pem::LineEnding::LF, &der).expect("pem");
    use base64::Engine as _;
    let field = base64::engine::general_purpose::STANDARD.encode(pem);
    let tampered = request_compliance_csid(&api, "123345", &field).await;
    assert_eq!(tampered.status, 400);
    assert_eq!(tampered.body["errors"][0]["code"], "Invalid-CSR", "{:?}", tampered.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn production_csid_waits_for_the_compliance_steps() {
    let sim = sandbox().await;
    let api = Api::new(&sim);
    let csr = sandbox_csr(6, "1100");
    let compliance = Creds::from_answer(&request_compliance_csid(&api, "123345", &csr).await);

    let unauthenticated = api
        .post("/production/csids")
        .json(&json!({"compliance_request_id": compliance.request_id}))
        .send()
        .await;
    assert_eq!(unauthenticated.status, 401);

    let early = api.request_production_csid(&compliance).await;
    assert_eq!(early.status, 400);
    assert_eq!(
        early.body["errors"][0]["code"], "Missing-ComplianceSteps",
        "{:?}",
        early.body
    );

    let wrong_id = api
        .post("/production/csids")
        .creds(&compliance)
        .json(&json!({"compliance_request_id": "42"}))
        .send()
        .await;
    assert_eq!(wrong_id.body["errors"][0]["code"], "Invalid-ComplianceRequestId");

    let info = sim.state.csids();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].compliance_steps_required.len(), 6);
    assert!(info[0].compliance_steps_passed.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn seeded_ca_is_reproducible() {
    let a = zatca_sim::SimState::new(SimConfig {
        ca_seed: Some([9; 32]),
        ..SimConfig::default()
    });
    let b = zatca_sim::SimState::new(SimConfig {
        ca_seed: Some([9; 32]),
        ..SimConfig::default()
    });
    let c = zatca_sim::SimState::new(SimConfig::default());
    assert_eq!(a.ca().certificate_der(), b.ca().certificate_der());
    assert_ne!(a.ca().certificate_der(), c.ca().certificate_der());
}

#[tokio::test]
async fn expired_csids_are_refused() {
    let config = SimConfig {
        compliance_validity: Duration::from_secs(1),
        ..SimConfig::default()
    };
    let sim = zatca_sim::spawn(config).await.expect("sim");
    let api = Api::new(&sim);
    let csr = sandbox_csr(7, "1100");
    let compliance = Creds::from_answer(&request_compliance_csid(&api, "123345", &csr).await);
    let fresh = api.request_production_csid(&compliance).await;
    assert_eq!(fresh.status, 400, "valid credentials reach the endpoint");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let late = api.request_production_csid(&compliance).await;
    assert_eq!(late.status, 401);
    sim.shutdown().await;
}
