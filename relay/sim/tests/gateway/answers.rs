//! The document endpoints answer as ZATCA's gateway does: production CSIDs only, duplicate
//! bodies, ZATCA's own message codes, `Clearance-Status: 1`, the stamped cleared invoice, the
//! `validationResults` shape, and counters per endpoint and per invoice hash.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::json;
use zatca_sim::{InvoiceCounters, endpoint};

use crate::support::*;

/// Checks ZATCA's Spring 401 body.
fn assert_unauthorized(a: &Answer) {
    assert_eq!(a.status, 401, "{:#}", a.body);
    assert_eq!(a.body["status"], 401);
    assert_eq!(a.body["error"], "Unauthorized");
    assert!(a.body["timestamp"].is_u64());
    assert!(a.body.get("validationResults").is_none());
}

#[tokio::test]
async fn reporting_and_clearance_refuse_a_compliance_csid() {
    let (sim, api, on) = onboarded_sandbox(60, "1100").await;
    let mut egs = on.egs;
    let simplified = egs.sign(&invoice_json(false, "invoice", VAT, 60, "INV-1"));
    let standard = egs.sign(&invoice_json(true, "invoice", VAT, 60, "INV-2"));
    sim.state.reset_counters();

    let a = api
        .post(REPORTING)
        .creds(&on.compliance)
        .header("Clearance-Status", "0")
        .json(&body_of(&simplified))
        .send()
        .await;
    assert_unauthorized(&a);
    let b = api.clear(&on.compliance, &body_of(&standard)).await;
    assert_unauthorized(&b);

    // Refused before the document is looked at: the endpoints count a rejection, the hashes
    // nothing, and the same documents then go through with the production CSID.
    let c = sim.counters();
    assert_eq!(c.endpoint(endpoint::REPORTING).rejected, 1);
    assert_eq!(c.endpoint(endpoint::CLEARANCE).rejected, 1);
    assert_eq!(c.invoice(&simplified.hash), InvoiceCounters::default());
    let a = api.report(&on.production, &body_of(&simplified)).await;
    assert_eq!(a.status, 200, "{:#}", a.body);
    let b = api.clear(&on.production, &body_of(&standard)).await;
    assert_eq!(b.status, 200, "{:#}", b.body);

    // The compliance check, conversely, takes only the compliance CSID.
    let c = api.check_compliance(&on.production, &body_of(&simplified)).await;
    assert_unauthorized(&c);
    sim.shutdown().await;
}

#[tokio::test]
async fn duplicates_answer_409_and_208_with_zatcas_bodies() {
    let (sim, api, on) = onboarded_sandbox(61, "1100").await;
    let mut egs = on.egs;
    let simplified = egs.sign(&invoice_json(false, "invoice", VAT, 60, "INV-1"));
    let standard = egs.sign(&invoice_json(true, "invoice", VAT, 60, "INV-2"));

    let first = api.report(&on.production, &body_of(&simplified)).await;
    assert_eq!(first.status, 200);
    let again = api.report(&on.production, &body_of(&simplified)).await;
    assert_eq!(again.status, 409);
    assert_eq!(
        again.body,
        json!({"validationResults": {
                  "infoMessages": [], "warningMessages": [],
                  "errorMessages": [{"type": "ERROR", "code": null, "category": null,
                                     "message": "Invoice was already Reported successfully earlier.",
                                     "status": "ERROR"}],
                  "status": "ERROR"},
               "reportingStatus": "NOT_REPORTED"})
    );

    let cleared = api.clear(&on.production, &body_of(&standard)).await;
    assert_eq!(cleared.status, 200);
    let again = api.clear(&on.production, &body_of(&standard)).await;
    assert_eq!(again.status, 208);
    assert_eq!(again.body, cleared.body, "the same cleared invoice, stamped once");

    let c = sim.counters();
    let once = InvoiceCounters {
        received: 2,
        accepted: 1,
        duplicates: 1,
        rejected: 0,
    };
    assert_eq!(c.invoice(&simplified.hash), once);
    assert_eq!(c.invoice(&standard.hash), once);
    let r = c.endpoint(endpoint::REPORTING);
    assert_eq!((r.accepted, r.duplicates), (1, 1));
    let k = c.endpoint(endpoint::CLEARANCE);
    assert_eq!((k.accepted, k.duplicates), (1, 1));
    sim.shutdown().await;
}

#[tokio::test]
async fn clearance_requires_clearance_status_1() {
    let (sim, api, on) = onboarded_sandbox(62, "1100").await;
    let mut egs = on.egs;
    let standard = egs.sign(&invoice_json(true, "invoice", VAT, 60, "INV-1"));
    sim.state.reset_counters();

    let missing = api
        .post(CLEARANCE)
        .creds(&on.production)
        .json(&body_of(&standard))
        .send()
        .await;
    assert_eq!(missing.status, 400, "{:#}", missing.body);
    assert_eq!(missing.body["error"], "Bad Request");
    assert_eq!(
        missing.body["message"],
        "Required request header 'Clearance-Status' for method parameter type String is not present"
    );
    assert!(missing.body.get("validationResults").is_none());

    let zero = api
        .post(CLEARANCE)
        .creds(&on.production)
        .header("Clearance-Status", "0")
        .json(&body_of(&standard))
        .send()
        .await;
    assert_eq!(zero.status, 400);
    assert_eq!(zero.body["code"], "Invalid-Request");

    // Credentials are checked first, as the gateway's security filter runs before the handler.
    let anonymous = api.post(CLEARANCE).json(&body_of(&standard)).send().await;
    assert_eq!(anonymous.status, 401);

    // Nothing was examined or recorded: the document still clears once.
    assert_eq!(sim.counters().invoice(&standard.hash), InvoiceCounters::default());
    let ok = api.clear(&on.production, &body_of(&standard)).await;
    assert_eq!(ok.status, 200, "{:#}", ok.body);

    // Reporting does not demand the header.
    let simplified = egs.sign(&invoice_json(false, "invoice", VAT, 60, "INV-2"));
    let r = api.report(&on.production, &body_of(&simplified)).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn cleared_invoice_is_stamped_by_the_gateway_and_keeps_its_hash() {
    let (sim, api, on) = onboarded_sandbox(63, "1100").await;
    let mut egs = on.egs;
    let standard = egs.sign(&invoice_json(true, "invoice", VAT, 60, "INV-1"));
    let a = api.clear(&on.production, &body_of(&standard)).await;
    assert_eq!(a.status, 200, "{:#}", a.body);
    assert_eq!(a.body["clearanceStatus"], "CLEARED");
    let cleared = cleared_invoice(&a);
    assert_ne!(
        cleared,
        standard.xml.as_bytes(),
        "the cleared invoice is not the submitted one"
    );

    // The same invoice hash: the stamp and QR code sit in the blocks the hash leaves out, and
    // every byte outside them is the submitted document's.
    assert_eq!(zatca_core::hash::invoice_hash(&cleared).expect("hash"), standard.hash);
    assert_eq!(
        zatca_core::sign::strip_signature(&cleared).expect("strip"),
        zatca_core::sign::strip_signature(standard.xml.as_bytes()).expect("strip")
    );

    // Signed by the gateway's stamp certificate (not the taxpayer's), and it verifies.
    let report = zatca_core::verify::verify(&cleared, None).expect("parses");
    assert!(report.issues.is_empty(), "{:#?}", report.issues);
    let stamp_pem = reqwest::get(format!("{}/admin/stamp", sim.base_url))
        .await
        .expect("admin")
        .text()
        .await
        .expect("pem");
    let stamp = zatca_core::cert::Certificate::parse(&stamp_pem).expect("stamp certificate");
    let signer = report.certificate.expect("embedded certificate");
    assert_eq!(signer.der(), stamp.der());
    assert_ne!(signer.der(), egs.certificate.der());
    assert!(
        signer.issuer_name().contains("ZATCA-SIM-CA"),
        "{}",
        signer.issuer_name()
    );

    // ZATCA's QR code: tags 1–5 from the document, 6 the invoice hash, 7 the stamp's signature,
    // 8 the stamp's public key; no tag 9 on standard documents.
    let qr = qr_of(&cleared);
    assert_eq!(qr.invoice_hash.as_deref(), Some(standard.hash.as_str()));
    assert_eq!(qr.public_key.as_deref(), Some(stamp.public_key_der()));
    assert_ne!(qr.signature.as_deref(), Some(standard.signature.as_str()));
    assert!(qr.certificate_signature.is_none());
    assert_eq!(qr.vat_number, VAT);
    sim.shutdown().await;
}

/// Signs the next simplified invoice of `egs`, numbered `number`, changes its QR code with
/// `change` and reports it: the signed document and ZATCA's answer.
async fn report_with_qr(
    api: &Api,
    creds: &Creds,
    egs: &mut Egs,
    number: &str,
    change: impl FnOnce(&mut zatca_core::qr::QrFields),
) -> (zatca_core::sign::SignedInvoice, Answer) {
    let signed = egs.sign(&invoice_json(false, "invoice", VAT, 60, number));
    let mut fields = qr_of(signed.xml.as_bytes());
    change(&mut fields);
    let a = api
        .report(creds, &body_with_invoice(&signed, with_qr(&signed.xml, &fields)))
        .await;
    (signed, a)
}

#[tokio::test]
async fn qr_findings_carry_zatcas_codes() {
    let (sim, api, on) = onboarded_sandbox(64, "1100").await;
    let mut egs = on.egs;

    // Not a QR code at all.
    let signed = egs.sign(&invoice_json(false, "invoice", VAT, 60, "INV-1"));
    let old = zatca_core::verify::embedded_qr(signed.xml.as_bytes()).expect("qr");
    let not_qr = signed.xml.replacen(&old, "AQ==", 1);
    let a = api.report(&on.production, &body_with_invoice(&signed, not_qr)).await;
    assert_eq!(a.status, 400, "{:#}", a.body);
    assert_eq!(a.body["reportingStatus"], "NOT_REPORTED");
    assert_eq!(error_codes(&a.body), ["QRCODE_INVALID"]);
    let m = &a.body["validationResults"]["errorMessages"][0];
    assert_eq!(m["category"], "QRCODE_VALIDATION");
    assert_eq!(
        m["message"],
        "Invalid QR code format, Please follow the ZATCA QR code specifications"
    );

    // A QR code whose seller name is not the document's.
    let (_, a) = report_with_qr(&api, &on.production, &mut egs, "INV-2", |qr| {
        qr.seller_name = "Someone Else".into()
    })
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(error_codes(&a.body), ["QRCODE_INVALID"]);

    // Tag 9 that is not the certificate's signature.
    let (_, a) = report_with_qr(&api, &on.production, &mut egs, "INV-3", |qr| {
        qr.certificate_signature = Some(vec![0x30, 0x03, 0x02, 0x01, 0x01])
    })
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(error_codes(&a.body), ["CERTIFICATE_SIGNATURE_QRCODE_INVALID"]);

    // Tag 6 that is not the invoice hash.
    let (_, a) = report_with_qr(&api, &on.production, &mut egs, "INV-4", |qr| {
        qr.invoice_hash = Some(B64.encode([9u8; 32]))
    })
    .await;
    assert_eq!(error_codes(&a.body), ["invoiceHash_QRCODE_INVALID"]);
    assert_eq!(
        a.body["validationResults"]["errorMessages"][0]["message"],
        "Invoice xml hash does not match with qr code invoice xml hash"
    );

    // A QR time that is not IssueTime: ZATCA reports the document with a warning (202).
    let (signed, a) = report_with_qr(&api, &on.production, &mut egs, "INV-5", |qr| {
        qr.timestamp = "2020-01-01T00:00:00".into()
    })
    .await;
    assert_eq!(a.status, 202, "{:#}", a.body);
    assert_eq!(a.body["reportingStatus"], "REPORTED");
    let results = &a.body["validationResults"];
    assert_eq!(results["status"], "WARNING");
    assert_eq!(results["warningMessages"][0]["code"], "invoiceTimeStamp_QRCODE_INVALID");
    assert_eq!(results["warningMessages"][0]["type"], "WARNING");
    assert_eq!(results["warningMessages"][0]["status"], "WARNING");
    assert_eq!(results["warningMessages"][0]["category"], "QRCODE_VALIDATION");
    assert!(results["errorMessages"].as_array().is_some_and(Vec::is_empty));
    assert_eq!(results["infoMessages"][0]["code"], "XSD_ZATCA_VALID");
    assert_eq!(sim.counters().invoice(&signed.hash).accepted, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn signature_findings_carry_zatcas_codes_and_rejected_clearance_has_no_invoice() {
    let (sim, api, on) = onboarded_sandbox(65, "1100").await;
    let mut egs = on.egs;

    // The certificate digest inside SignedProperties altered: both digests betray it.
    let standard = egs.sign(&invoice_json(true, "invoice", VAT, 60, "INV-1"));
    let open = "<xades:CertDigest>";
    let at = standard.xml.find(open).expect("cert digest");
    let value_at = standard.xml[at..].find("<ds:DigestValue>").expect("digest value") + at + "<ds:DigestValue>".len();
    let mut xml = standard.xml.clone();
    let first = if xml.as_bytes()[value_at] == b'A' { "B" } else { "A" };
    xml.replace_range(value_at..value_at + 1, first);
    let a = api.clear(&on.production, &body_with_invoice(&standard, &xml)).await;
    assert_eq!(a.status, 400, "{:#}", a.body);
    assert_eq!(a.body["clearanceStatus"], "NOT_CLEARED");
    assert!(a.body["clearedInvoice"].is_null());
    assert_eq!(
        error_codes(&a.body),
        ["signed-properties-hashing", "certificate-hashing"],
        "{:#}",
        a.body
    );
    for m in a.body["validationResults"]["errorMessages"].as_array().expect("errors") {
        assert_eq!(m["category"], "CERTIFICATE_ERRORS");
        assert_eq!(m["type"], "ERROR");
        assert_eq!(m["status"], "ERROR");
    }
    assert_eq!(
        a.body["validationResults"]["errorMessages"][1]["message"],
        "Invalid certificate hashing"
    );
    assert_eq!(sim.counters().invoice(&standard.hash).rejected, 1);

    // A rejected document is not recorded: the untouched one still clears.
    let ok = api.clear(&on.production, &body_of(&standard)).await;
    assert_eq!(ok.status, 200, "{:#}", ok.body);
    let c = sim.counters().invoice(&standard.hash);
    assert_eq!((c.received, c.accepted, c.rejected), (2, 1, 1));
    sim.shutdown().await;
}

#[tokio::test]
async fn production_certificates_last_one_year() {
    let (sim, _, on) = onboarded_sandbox(66, "0100").await;
    let production = on.production.certificate();
    let compliance = on.compliance.certificate();
    let days = |c: &zatca_core::cert::Certificate| (c.not_after_unix() - c.not_before_unix()) / 86_400;
    assert_eq!(days(&production), 365);
    assert_eq!(days(&compliance), 365);
    sim.shutdown().await;
}

#[tokio::test]
async fn schematron_rules_reject_as_zatca_does() {
    let (sim, api, on) = onboarded_sandbox(65, "1100").await;
    let mut egs = on.egs;
    let signed = egs.sign(&invoice_json(false, "invoice", VAT, 60, "INV-1"));
    // BR-KSA-EN16931-01 (an error in ZATCA's list): the business process must be reporting:1.0.
    let xml = signed.xml.replacen("reporting:1.0", "reporting:2.0", 1);
    let a = api.report(&on.production, &body_with_invoice(&signed, xml)).await;
    assert_eq!(a.status, 400, "{:#}", a.body);
    assert!(has_error(&a.body, "BR-KSA-EN16931-01"), "{:#}", a.body);
    sim.shutdown().await;
}

#[tokio::test]
async fn schema_violations_reject_as_zatca_does() {
    let (sim, api, on) = onboarded_sandbox(66, "1100").await;
    let mut egs = on.egs;
    let signed = egs.sign(&invoice_json(false, "invoice", VAT, 60, "INV-1"));
    // The UBL 2.1 schema puts cbc:IssueDate before cbc:IssueTime: move it after.
    let element = |name: &str| {
        let start = signed.xml.find(&format!("<cbc:{name}>")).expect("element");
        let end = signed.xml.find(&format!("</cbc:{name}>")).expect("end tag") + name.len() + 7;
        signed.xml[start..end].to_owned()
    };
    let (date, time) = (element("IssueDate"), element("IssueTime"));
    let xml = signed
        .xml
        .replacen(&date, "", 1)
        .replacen(&time, &format!("{time}{date}"), 1);
    let a = api.report(&on.production, &body_with_invoice(&signed, xml)).await;
    assert_eq!(a.status, 400, "{:#}", a.body);
    let results = &a.body["validationResults"];
    let xsd: Vec<_> = results["errorMessages"]
        .as_array()
        .expect("errorMessages")
        .iter()
        .filter(|m| m["code"] == "XSD_ZATCA_INVALID")
        .collect();
    assert_eq!(xsd.len(), 1, "{:#}", a.body);
    assert_eq!(xsd[0]["category"], "XSD validation");
    assert!(
        xsd[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("/Invoice/cbc:IssueDate")),
        "{:#}",
        a.body
    );
    let infos = results["infoMessages"].as_array().map_or(0, Vec::len);
    assert_eq!(infos, 0, "no XSD_ZATCA_VALID beside the error: {:#}", a.body);
    sim.shutdown().await;
}
