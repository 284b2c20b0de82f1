//! The compliance step, reporting and clearance with documents signed by zatca-core under
//! certificates the simulator issued: acceptance, every rejection path, duplicates, warnings.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::json;
use zatca_core::csr::Environment as CoreEnvironment;
use zatca_sim::{Faults, endpoint};

use crate::support::*;

#[tokio::test]
async fn full_onboarding_compliance_production_and_renewal() {
    let sim = sandbox().await;
    let api = Api::new(&sim);
    let k = 40;
    let csr = sandbox_csr(k, "1100");
    let compliance = Creds::from_answer(&request_compliance_csid(&api, "123345", &csr).await);
    let mut egs = Egs::new(k, &compliance);
    for (i, (standard, doc)) in SIX.into_iter().enumerate() {
        let early = api.request_production_csid(&compliance).await;
        assert_eq!(
            early.body["errors"][0]["code"], "Missing-ComplianceSteps",
            "after {i} documents"
        );
        let signed = egs.sign(&invoice_json(standard, doc, VAT, 60, &format!("C-{i}")));
        let a = api.check_compliance(&compliance, &body_of(&signed)).await;
        assert_eq!(a.status, 200, "{doc}: {:#}", a.body);
        assert_eq!(a.body["validationResults"]["status"], "PASS");
        assert_eq!(
            a.body["validationResults"]["infoMessages"][0]["code"],
            "XSD_ZATCA_VALID"
        );
        if standard {
            assert_eq!(a.body["clearanceStatus"], "CLEARED");
            assert!(a.body["reportingStatus"].is_null());
        } else {
            assert_eq!(a.body["reportingStatus"], "REPORTED");
            assert!(a.body["clearanceStatus"].is_null());
        }
        assert!(a.body.as_object().is_some_and(|o| o.contains_key("qrSellertStatus")));
    }
    let production = Creds::from_answer(&api.request_production_csid(&compliance).await);
    assert_ne!(production.token, compliance.token);
    let cert = production.certificate();
    assert_eq!(
        cert.public_key_der(),
        key(k).public_key_der().as_slice(),
        "production CSID for the same key"
    );
    // One year, as ZATCA's guide says of production CSIDs (plus the minute of clock-skew slack).
    let days = (cert.not_after_unix() - cert.not_before_unix()) / 86_400;
    assert_eq!(days, 365, "production validity {days} days");

    // The production CSID reports; the compliance CSID no longer suffices.
    egs.certificate = cert;
    let signed = egs.sign(&invoice_json(false, "invoice", VAT, 60, "INV-1"));
    let a = api
        .post(REPORTING)
        .creds(&production)
        .header("Clearance-Status", "0")
        .json(&body_of(&signed))
        .send()
        .await;
    assert_eq!(a.status, 200, "{:#}", a.body);

    // Renewal: current production CSID + new OTP + new CSR.
    let otp = sim.issue_otp(Duration::from_secs(60));
    let new_csr = sandbox_csr(k + 1, "1100");
    let no_auth = api
        .patch("/production/csids")
        .otp(&otp)
        .json(&json!({"csr": new_csr}))
        .send()
        .await;
    assert_eq!(no_auth.status, 401);
    let renewed = api.renew_production_csid(&production, &otp, &new_csr).await;
    assert_eq!(
        renewed.body["tokenType"],
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
    );
    let renewed = Creds::from_answer(&renewed);
    let mut egs = Egs {
        key_seed: k + 1,
        certificate: renewed.certificate(),
        ..egs
    };
    let signed = egs.sign(&invoice_json(false, "invoice", VAT, 60, "INV-2"));
    let a = api.report(&renewed, &body_of(&signed)).await;
    assert_eq!(a.status, 200, "the chain continues across renewal: {:#}", a.body);
    let other_vat_csr = csr_field(
        &egs_config("300000000000003", "1100"),
        &key(k + 2),
        CoreEnvironment::Sandbox,
    );
    let otp = sim.issue_otp(Duration::from_secs(60));
    let other = api.renew_production_csid(&renewed, &otp, &other_vat_csr).await;
    assert_eq!(other.body["errors"][0]["code"], "Invalid-CSR");
    // A template this environment does not issue: 428 NOT_COMPLIANT on renewal.
    let wrong_template = csr_field(&egs_config(VAT, "1100"), &key(k + 3), CoreEnvironment::Simulation);
    let policy = api.renew_production_csid(&renewed, &otp, &wrong_template).await;
    assert_eq!(policy.status, 428);
    assert_eq!(policy.body["value"]["dispositionMessage"], "NOT_COMPLIANT");
    // The OTP refused on the policy error is still good for a correct CSR.
    let retry = sandbox_csr(k + 3, "1100");
    let ok = api.renew_production_csid(&renewed, &otp, &retry).await;
    assert_eq!(ok.status, 200, "{:#}", ok.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn compliance_step_covers_only_the_types_of_the_title() {
    let (sim, api, on) = onboarded_sandbox(42, "0100").await;
    let mut egs = on.egs;
    // A simplified-only certificate may not sign standard documents.
    let signed = egs.sign(&invoice_json(true, "invoice", VAT, 60, "S-1"));
    let a = api.clear(&on.production, &body_of(&signed)).await;
    assert_eq!(a.status, 400);
    assert!(has_error(&a.body, "certificate-permissions"), "{:#}", a.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn reports_once_then_answers_409() {
    let (sim, api, on) = onboarded_sandbox(43, "1100").await;
    let mut egs = on.egs;
    let signed = egs.sign(&invoice_json(false, "invoice", VAT, 60, "INV-1"));
    let a = api
        .post(REPORTING)
        .creds(&on.production)
        .header("Clearance-Status", "0")
        .json(&body_of(&signed))
        .send()
        .await;
    assert_eq!(a.status, 200, "{:#}", a.body);
    assert_eq!(a.body["reportingStatus"], "REPORTED");
    assert_eq!(a.body["validationResults"]["status"], "PASS");
    assert!(
        a.body["validationResults"]["errorMessages"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    let again = api.report(&on.production, &body_of(&signed)).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.body["reportingStatus"], "NOT_REPORTED");
    assert_eq!(
        again.body["validationResults"]["errorMessages"][0]["message"],
        "Invoice was already Reported successfully earlier."
    );
    assert!(again.body["validationResults"]["errorMessages"][0]["code"].is_null());

    let counters = sim.counters();
    assert_eq!(
        counters.invoice(&signed.hash),
        zatca_sim::InvoiceCounters {
            received: 2,
            accepted: 1,
            duplicates: 1,
            rejected: 0
        }
    );
    let c = counters.endpoint(endpoint::REPORTING);
    assert_eq!((c.received, c.accepted, c.duplicates), (2, 1, 1));
    sim.shutdown().await;
}

#[tokio::test]
async fn clears_once_then_answers_208_with_the_cleared_invoice() {
    let (sim, api, on) = onboarded_sandbox(44, "1100").await;
    let mut egs = on.egs;
    let signed = egs.sign(&invoice_json(true, "invoice", VAT, 60, "INV-1"));
    let a = api.clear(&on.production, &body_of(&signed)).await;
    assert_eq!(a.status, 200, "{:#}", a.body);
    assert_eq!(a.body["clearanceStatus"], "CLEARED");
    let cleared = cleared_invoice(&a);
    assert_eq!(
        zatca_core::hash::invoice_hash(&cleared).expect("hash"),
        signed.hash,
        "clearance keeps the hash"
    );

    let again = api.clear(&on.production, &body_of(&signed)).await;
    assert_eq!(again.status, 208);
    assert_eq!(again.body["clearedInvoice"], a.body["clearedInvoice"]);
    assert_eq!(sim.counters().invoice(&signed.hash).accepted, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn tampered_document_is_rejected() {
    let (sim, api, on) = onboarded_sandbox(45, "1100").await;
    let mut egs = on.egs;
    let signed = egs.sign(&invoice_json(false, "invoice", VAT, 60, "INV-1"));
    let tampered = signed
        .xml
        .replace("<cbc:Name>Book</cbc:Name>", "<cbc:Name>Bock</cbc:Name>");
    assert_ne!(tampered, signed.xml);

    // Sent with the original hash: the body hash no longer matches the XML.
    let mut body = body_with_invoice(&signed, &tampered);
    let a = api.report(&on.production, &body).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["reportingStatus"], "NOT_REPORTED");
    assert_eq!(a.body["validationResults"]["status"], "ERROR");
    let first = &a.body["validationResults"]["errorMessages"][0];
    assert_eq!(first["code"], "invalid-invoice-hash", "{:#}", a.body);
    assert_eq!(first["category"], "INVOICE_HASHING_ERRORS");
    assert_eq!(
        first["message"],
        "The invoice hash API body does not match the (calculated) Hash of the XML"
    );

    // Sent with the tampered document's own hash: the signature's digest betrays it.
    body["invoiceHash"] = json!(zatca_core::hash::invoice_hash(tampered.as_bytes()).expect("hash"));
    let b = api.report(&on.production, &body).await;
    assert_eq!(b.status, 400, "{:#}", b.body);
    assert_eq!(
        error_codes(&b.body),
        [
            "invalid-invoice-hash",
            "invalid-digital-signature",
            "invoiceHash_QRCODE_INVALID"
        ]
    );
    assert_eq!(
        b.body["validationResults"]["errorMessages"][1]["category"],
        "SIGNATURE_ERRORS"
    );
    assert_eq!(
        b.body["validationResults"]["errorMessages"][2]["category"],
        "QRCODE_VALIDATION"
    );

    // SignedProperties changed after signing (outside the hash): its digest betrays it.
    let start = signed.xml.find("<xades:SigningTime>").expect("signing time") + "<xades:SigningTime>".len();
    let mut resigned = signed.xml.clone();
    resigned.replace_range(start..start + 4, "1999");
    let c = api.report(&on.production, &body_with_invoice(&signed, &resigned)).await;
    assert_eq!(c.status, 400);
    assert_eq!(error_codes(&c.body), ["signed-properties-hashing"], "{:#}", c.body);
    assert_eq!(sim.counters().endpoint(endpoint::REPORTING).rejected, 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn body_hash_and_uuid_must_match_the_document() {
    let (sim, api, on) = onboarded_sandbox(46, "1100").await;
    let mut egs = on.egs;
    let signed = egs.sign(&invoice_json(false, "invoice", VAT, 60, "INV-1"));
    let mut body = body_of(&signed);
    body["invoiceHash"] = json!(B64.encode([7u8; 32]));
    let a = api.report(&on.production, &body).await;
    assert_eq!(a.status, 400);
    assert_eq!(error_codes(&a.body), ["invalid-invoice-hash"]);

    let mut body = body_of(&signed);
    body["invoiceHash"] = json!("not base64!");
    let a = api.report(&on.production, &body).await;
    assert!(has_error(&a.body, "Invalid-InvoiceHash"), "{:#}", a.body);

    let mut body = body_of(&signed);
    body["uuid"] = json!("00000000-0000-4000-8000-000000000000");
    let a = api.report(&on.production, &body).await;
    assert_eq!(error_codes(&a.body), ["invalid-invoice-uuid"]);

    let a = api
        .report(&on.production, &body_with_invoice(&signed, "<Invoice"))
        .await;
    assert_eq!(a.status, 400);
    assert!(has_error(&a.body, "XSD_ZATCA_INVALID"), "{:#}", a.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn signing_certificate_must_be_the_authenticating_csids() {
    let (sim, api, first) = onboarded_sandbox(47, "1100").await;
    let second = onboard(&api, 48, VAT, "1100").await;
    // Signed by the second EGS, submitted with the first one's credentials.
    let mut egs = second.egs;
    let signed = egs.sign(&invoice_json(false, "invoice", VAT, 60, "INV-1"));
    let a = api.report(&first.production, &body_of(&signed)).await;
    assert_eq!(a.status, 400);
    assert_eq!(error_codes(&a.body), ["invalid-signing-certificate"], "{:#}", a.body);
    assert_eq!(
        a.body["validationResults"]["errorMessages"][0]["category"],
        "CERTIFICATE_ERRORS"
    );
    // Signed with the compliance certificate: also not the production CSID's.
    let mut egs = Egs {
        certificate: first.compliance.certificate(),
        ..egs
    };
    egs.key_seed = 47;
    let signed = egs.sign(&invoice_json(false, "invoice", VAT, 60, "INV-2"));
    let a = api.report(&first.production, &body_of(&signed)).await;
    assert_eq!(error_codes(&a.body), ["invalid-signing-certificate"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn seller_vat_must_be_the_certificates() {
    let (sim, api, on) = onboarded_sandbox(49, "1100").await;
    let mut egs = on.egs;
    let signed = egs.sign(&invoice_json(false, "invoice", "300000000000003", 60, "INV-1"));
    let a = api.report(&on.production, &body_of(&signed)).await;
    assert_eq!(a.status, 400);
    assert_eq!(error_codes(&a.body), ["certificate-permissions"]);
    assert_eq!(
        a.body["validationResults"]["errorMessages"][0]["message"],
        "User only allowed to use the vat number that exists in the authentication certificate"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn documents_go_to_the_endpoint_of_their_flow() {
    let (sim, api, on) = onboarded_sandbox(50, "1100").await;
    let mut egs = on.egs;
    let standard = egs.sign(&invoice_json(true, "invoice", VAT, 60, "INV-1"));
    let a = api.report(&on.production, &body_of(&standard)).await;
    assert_eq!(a.status, 400);
    assert_eq!(error_codes(&a.body), ["invalid-invoice-type"]);
    let simplified = egs.sign(&invoice_json(false, "invoice", VAT, 60, "INV-2"));
    let a = api.clear(&on.production, &body_of(&simplified)).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["clearanceStatus"], "NOT_CLEARED");
    assert_eq!(error_codes(&a.body), ["invalid-invoice-type"]);

    // Clearance switched off: 303, and the standard document is reported instead.
    sim.set_faults(Faults {
        clearance_disabled: true,
        ..Faults::default()
    });
    let off = api.clear(&on.production, &body_of(&standard)).await;
    assert_eq!(off.status, 303);
    let a = api.report(&on.production, &body_of(&standard)).await;
    assert_eq!(a.status, 200, "{:#}", a.body);
    assert_eq!(a.body["reportingStatus"], "REPORTED");
    sim.shutdown().await;
}

#[tokio::test]
async fn late_simplified_document_is_reported_with_br_ksa_98_warning() {
    let (sim, api, on) = onboarded_sandbox(51, "1100").await;
    let mut egs = on.egs;
    let signed = egs.sign(&invoice_json(false, "invoice", VAT, 3 * 86_400, "INV-1"));
    let a = api.report(&on.production, &body_of(&signed)).await;
    assert_eq!(a.status, 202, "{:#}", a.body);
    assert_eq!(a.body["reportingStatus"], "REPORTED");
    assert_eq!(a.body["validationResults"]["status"], "WARNING");
    assert_eq!(a.body["validationResults"]["warningMessages"][0]["code"], "BR-KSA-98");
    assert_eq!(a.body["validationResults"]["warningMessages"][0]["status"], "WARNING");
    assert_eq!(sim.counters().invoice(&signed.hash).accepted, 1);

    let future = egs.sign(&invoice_json(false, "invoice", VAT, -3 * 86_400, "INV-2"));
    let a = api.report(&on.production, &body_of(&future)).await;
    assert_eq!(a.status, 400);
    assert_eq!(error_codes(&a.body), ["BR-KSA-04"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn resend_after_a_timeout_is_a_duplicate_not_a_second_invoice() {
    let (sim, api, on) = onboarded_sandbox(52, "1100").await;
    let mut egs = on.egs;
    let signed = egs.sign(&invoice_json(false, "invoice", VAT, 60, "INV-1"));
    sim.set_faults(Faults {
        timeout_rate: 1.0,
        timeout_ms: 3_000,
        ..Faults::default()
    });
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .expect("client");
    let auth = B64.encode(format!("{}:{}", on.production.token, on.production.secret));
    let err = impatient
        .post(format!("{}{REPORTING}", sim.base_url))
        .header("Accept-Version", "V2")
        .header("Authorization", format!("Basic {auth}"))
        .json(&body_of(&signed))
        .send()
        .await
        .expect_err("the client gives up first");
    assert!(err.is_timeout());
    sim.set_faults(Faults::default());
    let resend = api.report(&on.production, &body_of(&signed)).await;
    assert_eq!(resend.status, 409);
    let c = sim.counters();
    assert_eq!(c.invoice(&signed.hash).accepted, 1, "exactly once");
    assert_eq!(c.endpoint(endpoint::REPORTING).timed_out, 1);
    sim.shutdown().await;
}
