//! Signing throughput: build + sign a 10-line invoice from JSON, and re-sign ZATCA's SDK sample
//! `Simplified_Invoice.xml` (stripped of its signature). `cargo bench -p zatca-core`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use zatca_core::cert::Certificate;
use zatca_core::keys::PrivateKey;
use zatca_core::model::InvoiceInput;
use zatca_core::sign::{self, Signer};
use zatca_core::ubl::ChainInputs;

fn signer() -> Signer {
    let key = PrivateKey::parse(include_str!("../../../tests/fixtures/keys/sdk-test-key.pem")).expect("key");
    let cert = Certificate::parse(include_str!("../../../tests/fixtures/keys/sdk-test-cert.pem")).expect("cert");
    Signer::new(key, cert).expect("signer")
}

fn ten_lines() -> String {
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

fn bench(c: &mut Criterion) {
    let signer = signer();
    let json = ten_lines();
    let chain = ChainInputs {
        icv: 42,
        pih: zatca_core::chain::INITIAL_PIH.into(),
        uuid: "6f4d20e0-6bfe-4a80-9389-7dabe6620f00".into(),
    };
    c.bench_function("build_and_sign_10_lines_from_json", |b| {
        b.iter(|| {
            let input = InvoiceInput::from_json(black_box(json.as_bytes())).expect("input");
            sign::sign_invoice(&input, &chain, &signer, Some("2025-01-15T14:31:00")).expect("signed")
        })
    });
    let sample = include_str!("../../../tests/fixtures/samples/sdk-R3.4.8/Simplified/Invoice/Simplified_Invoice.xml");
    let unsigned = sign::strip_signature(sample.as_bytes()).expect("strip");
    c.bench_function("resign_sdk_simplified_invoice", |b| {
        b.iter(|| sign::sign_xml(black_box(unsigned.as_bytes()), &signer, Some("2025-07-22T15:51:28")).expect("signed"))
    });
    c.bench_function("verify_sdk_simplified_invoice", |b| {
        b.iter(|| zatca_core::verify::verify(black_box(sample.as_bytes()), None).expect("parsed"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
