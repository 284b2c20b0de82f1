//! Validation time per document. `cargo bench -p zatca-rules --bench validate`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let xml = include_bytes!("../../../tests/fixtures/samples/sdk-R3.4.8/Standard/Invoice/Standard_Invoice.xml");
    let context = zatca_rules::Context::default();
    c.bench_function("validate_sdk_standard_invoice", |b| {
        b.iter(|| zatca_rules::validate(black_box(xml), &context))
    });
    // A JSON request: the core's checks, the UBL the core writes, the rules on it, the merge.
    let json = include_bytes!("../../../tests/fixtures/invoices/standard-invoice/input.json");
    c.bench_function("validate_input_golden_standard_invoice", |b| {
        b.iter(|| zatca_rules::validate_input(black_box(json), &context))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
