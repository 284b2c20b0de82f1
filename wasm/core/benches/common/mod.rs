//! The documents and signer the benchmarks and `examples/profile_sign.rs` share, so that a
//! profile measures exactly what the README's figures measure.
#![allow(dead_code)] // each includer uses part of it

use zatca_core::cert::Certificate;
use zatca_core::keys::PrivateKey;
use zatca_core::sign::Signer;
use zatca_core::ubl::ChainInputs;

/// ZATCA's SDK sample `Simplified_Invoice.xml` (signed).
pub const SDK_SIMPLIFIED_INVOICE: &str =
    include_str!("../../../../tests/fixtures/samples/sdk-R3.4.8/Simplified/Invoice/Simplified_Invoice.xml");

/// Signing time used for every benchmarked signature.
pub const SIGNING_TIME: &str = "2025-01-15T14:31:00";

/// The SDK test key and certificate.
pub fn signer() -> Signer {
    let key = PrivateKey::parse(include_str!("../../../../tests/fixtures/keys/sdk-test-key.pem")).expect("key");
    let cert = Certificate::parse(include_str!("../../../../tests/fixtures/keys/sdk-test-cert.pem")).expect("cert");
    Signer::new(key, cert).expect("signer")
}

/// A 10-line simplified invoice with bilingual item names, as JSON input.
pub fn ten_line_invoice() -> String {
    let lines: Vec<String> = (1..=10)
        .map(|i| {
            format!(
                r#"{{"description":"Item {i}","description_ar":"صنف {i}","quantity":{i},"unit_price":{}.75}}"#,
                i * 3
            )
        })
        .collect();
    format!(
        r#"{{"invoice_number":"BENCH-1","invoice_date":"2025-01-15","invoice_time":"14:30:00",
        "seller":{{"name":"Maximum Speed Tech Supply LTD","vat_number":"399999999900003","crn":"1010010000",
          "address":{{"street":"Prince Sultan","building_number":"2322","district":"Al-Murabba","city":"Riyadh","postal_code":"23333","country":"SA"}}}},
        "line_items":[{}]}}"#,
        lines.join(",")
    )
}

/// The chain inputs of the benchmarked document.
pub fn chain() -> ChainInputs {
    ChainInputs {
        icv: 42,
        pih: zatca_core::chain::INITIAL_PIH.into(),
        uuid: "6f4d20e0-6bfe-4a80-9389-7dabe6620f00".into(),
    }
}
