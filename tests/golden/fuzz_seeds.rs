//! Replays what the fuzz targets in `wasm/core/fuzz` do over their seeds (the corpus inputs, the
//! SDK samples, truncations and byte flips of them) and over committed crashers, so the
//! "never panic on untrusted input" property is checked on every test run without nightly.

use std::fs;

use zatca_core::model::InvoiceInput;
use zatca_core::sign;
use zatca_core::ubl::{self, ChainInputs};
use zatca_core::{hash, qr, verify};
use zatca_tests::{fixtures, read, test_signer};

fn files(dir: &std::path::Path, ext: &str, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// Cheap deterministic mutations: prefixes, single-byte edits spread over the input.
fn mutations(seed: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![seed.to_vec()];
    let step = (seed.len() / 40).max(1);
    for cut in (0..seed.len()).step_by(step * 3) {
        out.push(seed[..cut].to_vec());
    }
    for (i, at) in (0..seed.len()).step_by(step).enumerate() {
        let mut m = seed.to_vec();
        m[at] = [b'<', b'>', b'"', b'&', 0, b'}', b'{', b'9', 0xff, b' '][i % 10];
        out.push(m);
    }
    out
}

#[test]
fn json_target_never_panics_on_seeds() {
    let chain = ChainInputs {
        icv: 1,
        pih: zatca_core::chain::INITIAL_PIH.into(),
        uuid: "fuzz".into(),
    };
    let mut seeds = Vec::new();
    files(&fixtures().join("invoices"), "json", &mut seeds);
    files(&fixtures().join("errors"), "json", &mut seeds);
    files(&fixtures().join("fuzz-crashers"), "json", &mut seeds);
    assert!(!seeds.is_empty());
    let mut runs = 0;
    for seed in &seeds {
        for data in mutations(&read(seed)) {
            runs += 1;
            if let Ok(input) = InvoiceInput::from_json(&data)
                && let Ok(built) = ubl::build(&input, &chain)
            {
                assert!(hash::invoice_hash(built.xml.as_bytes()).is_ok(), "{}", seed.display());
            }
        }
    }
    assert!(runs > 1000, "only {runs} runs");
}

#[test]
fn xml_target_never_panics_on_seeds() {
    let signer = test_signer();
    let mut seeds = Vec::new();
    files(&fixtures().join("samples"), "xml", &mut seeds);
    files(&fixtures().join("invoices/simplified-invoice"), "xml", &mut seeds);
    files(&fixtures().join("fuzz-crashers"), "xml", &mut seeds);
    for seed in &seeds {
        for data in mutations(&read(seed)) {
            let streamed = hash::invoice_hash(&data).ok();
            let tree = std::str::from_utf8(&data)
                .ok()
                .and_then(|s| zatca_core::xml::parse(s).ok())
                .map(|doc| hash::hash_document(&doc).to_base64());
            assert_eq!(streamed, tree, "{}", seed.display());
            let _ = verify::verify(&data, None);
            if let Ok(signed) = sign::sign_xml(&data, &signer, None) {
                let report =
                    verify::verify(signed.xml.as_bytes(), None).unwrap_or_else(|e| panic!("{}: {e}", seed.display()));
                assert_eq!(report.hash, signed.hash, "{}", seed.display());
            }
        }
    }
}

#[test]
fn qr_target_never_panics_on_seeds() {
    let vectors: serde_json::Value =
        serde_json::from_slice(&read(&fixtures().join("samples/test-vectors.json"))).unwrap_or_default();
    for v in vectors.as_array().cloned().unwrap_or_default() {
        let b64 = v["qr_b64"].as_str().unwrap_or_default();
        for data in mutations(b64.as_bytes()) {
            if let Ok(text) = std::str::from_utf8(&data) {
                let _ = qr::decode(text);
                if let Ok(fields) = qr::decode_fields(text) {
                    let _ = qr::encode(&fields);
                }
            }
        }
    }
}
