//! Untrusted XML input: hashing, verification and signing must never panic, and the streaming
//! hash must agree with the tree's.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zatca_core::cert::Certificate;
use zatca_core::keys::PrivateKey;
use zatca_core::sign::{self, Signer};

fn signer() -> &'static Signer {
    static SIGNER: OnceLock<Signer> = OnceLock::new();
    SIGNER.get_or_init(|| {
        let key = PrivateKey::parse(include_str!("../../../../tests/fixtures/keys/sdk-test-key.pem")).expect("test key");
        let cert = Certificate::parse(include_str!("../../../../tests/fixtures/keys/sdk-test-cert.pem")).expect("test cert");
        Signer::new(key, cert).expect("pair")
    })
}

fuzz_target!(|data: &[u8]| {
    // The streaming hash and the tree's hash accept the same documents and agree.
    let streamed = zatca_core::hash::invoice_hash(data).ok();
    let tree = std::str::from_utf8(data)
        .ok()
        .and_then(|s| zatca_core::xml::parse(s).ok())
        .map(|doc| zatca_core::hash::hash_document(&doc).to_base64());
    assert_eq!(streamed, tree);
    let _ = zatca_core::verify::verify(data, None);
    if let Ok(signed) = sign::sign_xml(data, signer(), None) {
        // A document we signed must verify and keep its hash.
        let report = zatca_core::verify::verify(signed.xml.as_bytes(), None).expect("signed output parses");
        assert_eq!(report.hash, signed.hash);
    }
});
