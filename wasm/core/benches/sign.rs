//! Signing throughput: build + sign a 10-line invoice from JSON, and re-sign ZATCA's SDK sample
//! `Simplified_Invoice.xml` (stripped of its signature). `cargo bench -p zatca-core`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use zatca_core::model::InvoiceInput;
use zatca_core::sign;

mod common;

fn bench(c: &mut Criterion) {
    let signer = common::signer();
    let json = common::ten_line_invoice();
    let chain = common::chain();
    c.bench_function("build_and_sign_10_lines_from_json", |b| {
        b.iter(|| {
            let input = InvoiceInput::from_json(black_box(json.as_bytes())).expect("input");
            sign::sign_invoice(&input, &chain, &signer, Some(common::SIGNING_TIME)).expect("signed")
        })
    });
    let sample = common::SDK_SIMPLIFIED_INVOICE;
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
