//! The golden corpus: every case under `tests/fixtures/invoices/` is built, hashed, signed and
//! QR-encoded, and each stage is compared byte for byte with `expected/`. Re-bless with
//! `ZATCA_BLESS=1 cargo test -p zatca-tests --test golden` and review the diff.

use std::fs;

use serde_json::Value;
use zatca_core::model::InvoiceInput;
use zatca_core::sign::{self, sign_xml, strip_signature};
use zatca_core::ubl::{self, ChainInputs};
use zatca_core::{hash, qr, verify};
use zatca_tests::{check_bytes, fixtures, read, read_text, test_signer};

fn cases(dir: &str) -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = fs::read_dir(fixtures().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn golden_corpus() {
    let signer = test_signer();
    let mut failures = Vec::new();
    let all = cases("invoices");
    assert!(all.len() >= 20, "corpus has only {} cases", all.len());
    for case in all {
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let input = InvoiceInput::from_json(&read(&case.join("input.json"))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let chain: Value =
            serde_json::from_str(&read_text(&case.join("chain.json"))).unwrap_or_else(|e| panic!("{name}: {e}"));
        let chain_inputs = ChainInputs {
            icv: chain["icv"].as_u64().unwrap_or_default(),
            pih: chain["pih"].as_str().unwrap_or_default().to_owned(),
            uuid: chain["uuid"].as_str().unwrap_or_default().to_owned(),
        };
        let signing_time = chain["signing_time"].as_str();
        let expected = case.join("expected");

        let built = ubl::build(&input, &chain_inputs).unwrap_or_else(|e| panic!("{name}: {e}"));
        failures.extend(check_bytes(&expected.join("unsigned.xml"), built.xml.as_bytes()));
        let unsigned_hash = hash::invoice_hash(built.xml.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        failures.extend(check_bytes(
            &expected.join("hash.txt"),
            format!("{unsigned_hash}\n").as_bytes(),
        ));

        let signed =
            sign::sign_invoice(&input, &chain_inputs, &signer, signing_time).unwrap_or_else(|e| panic!("{name}: {e}"));
        failures.extend(check_bytes(&expected.join("signed.xml"), signed.xml.as_bytes()));
        let decoded = qr::describe(&qr::decode(&signed.qr).unwrap_or_else(|e| panic!("{name}: {e}")));
        failures.extend(check_bytes(
            &expected.join("qr.txt"),
            format!("{}\n{decoded}", signed.qr).as_bytes(),
        ));

        // Stage invariants that hold whatever the expected files say.
        assert_eq!(signed.hash, unsigned_hash, "{name}: signing changed the invoice hash");
        // The writer's output is canonical from the root on: signing from JSON (which hashes
        // the written bytes as they stand) and signing the XML from scratch agree to the byte.
        let doc = zatca_core::xml::parse(&built.xml).unwrap_or_else(|e| panic!("{name}: {e}"));
        let root = &built.xml[doc.root.start..doc.root.end];
        assert_eq!(
            hash::hash_input(&doc),
            root,
            "{name}: the writer's output is not canonical"
        );
        let from_xml = sign_xml(built.xml.as_bytes(), &signer, signing_time).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            from_xml.xml, signed.xml,
            "{name}: signing the JSON and signing its XML differ"
        );
        let report =
            verify::verify(signed.xml.as_bytes(), Some(&chain_inputs.pih)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(report.is_ok(), "{name}: {:#?}", report.issues);
        let again = sign_xml(signed.xml.as_bytes(), &signer, signing_time).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            again.xml, signed.xml,
            "{name}: re-signing a signed document is not idempotent"
        );
        let stripped = strip_signature(signed.xml.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            stripped, built.xml,
            "{name}: stripping the signature does not give the unsigned document back"
        );
    }
    assert!(
        failures.is_empty(),
        "{} golden file(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn error_corpus() {
    let mut failures = Vec::new();
    for case in cases("errors") {
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let result = InvoiceInput::from_json(&read(&case.join("input.json"))).and_then(|input| {
            ubl::build(
                &input,
                &ChainInputs {
                    icv: 1,
                    pih: zatca_core::chain::INITIAL_PIH.into(),
                    uuid: "u-1".into(),
                },
            )
        });
        let err = match result {
            Ok(_) => panic!("{name}: accepted"),
            Err(e) => e,
        };
        let issues: Vec<Value> = err
            .issues()
            .iter()
            .map(|i| serde_json::json!({"code": i.code, "path": i.path, "rule": i.rule, "severity": i.severity}))
            .collect();
        let text = serde_json::to_string_pretty(&issues).unwrap_or_default() + "\n";
        failures.extend(check_bytes(&case.join("expected-errors.json"), text.as_bytes()));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// SDK parity: for every SDK sample (and the independent third-party document) our hash equals
/// the test vector, and stripping the signature then re-signing with the SDK test key keeps the
/// hash and produces a document that verifies.
#[test]
fn sdk_samples_hash_and_resign() {
    let signer = test_signer();
    let vectors: Value =
        serde_json::from_str(&read_text(&fixtures().join("samples/test-vectors.json"))).unwrap_or_default();
    let list = vectors.as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 20);
    for v in list {
        let file = v["file"].as_str().unwrap_or_default();
        let xml = read(&fixtures().join("samples").join(file));
        let expected = v["invoice_hash_b64"].as_str().unwrap_or_default();
        assert_eq!(
            hash::invoice_hash(&xml).unwrap_or_else(|e| panic!("{file}: {e}")),
            expected,
            "{file}"
        );
        let original = verify::verify(&xml, None).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(original.is_ok(), "{file}: {:#?}", original.issues);

        let stripped = strip_signature(&xml).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            hash::invoice_hash(stripped.as_bytes()).unwrap_or_default(),
            expected,
            "{file}: stripped"
        );
        let resigned = sign_xml(stripped.as_bytes(), &signer, v["signing_time"].as_str())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(resigned.hash, expected, "{file}: re-signed hash");
        let report = verify::verify(resigned.xml.as_bytes(), None).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(report.is_ok(), "{file}: {:#?}", report.issues);
        // Signing the signed original directly replaces its blocks in place, keeping the hash.
        let replaced = sign_xml(&xml, &signer, v["signing_time"].as_str()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(replaced.hash, expected, "{file}: re-signed in place");
        if file.starts_with("sdk-") {
            // Same key, same signing time: the SignedProperties digest must equal the SDK's.
            let sp = report_props_digest(&replaced.xml);
            assert_eq!(
                sp.as_deref(),
                v["signed_properties_digest_b64_of_hex"].as_str(),
                "{file}: SignedProperties digest"
            );
        }
    }
}

fn report_props_digest(xml: &str) -> Option<String> {
    let marker = "URI=\"#xadesSignedProperties\">";
    let rest = &xml[xml.find(marker)? + marker.len()..];
    let start = rest.find("<ds:DigestValue>")? + "<ds:DigestValue>".len();
    let end = rest.find("</ds:DigestValue>")?;
    Some(rest[start..end].to_owned())
}

#[test]
fn chained_documents_link_by_hash() {
    let signer = test_signer();
    let input = InvoiceInput::from_json(&read(&fixtures().join("invoices/simplified-invoice/input.json")))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut pih = zatca_core::chain::INITIAL_PIH.to_owned();
    for icv in 1..=5u64 {
        let chain = ChainInputs {
            icv,
            pih: pih.clone(),
            uuid: format!("chain-{icv}"),
        };
        let signed = sign::sign_invoice(&input, &chain, &signer, None).unwrap_or_else(|e| panic!("{e}"));
        let report = verify::verify(signed.xml.as_bytes(), Some(&pih)).unwrap_or_else(|e| panic!("{e}"));
        assert!(report.is_ok(), "{:#?}", report.issues);
        assert_eq!(report.icv, Some(icv));
        pih = zatca_core::chain::next_pih(signed.xml.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pih, signed.hash);
    }
}
