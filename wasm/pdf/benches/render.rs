//! Render time of a one-page invoice and of the 200-line invoice (7 pages).

use criterion::{Criterion, criterion_group, criterion_main};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/fixtures/invoices/{name}/expected/signed.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn render(c: &mut Criterion) {
    let options = zatca_pdf::Options::default();
    for name in ["standard-invoice", "standard-invoice-200-lines"] {
        let xml = fixture(name);
        c.bench_function(&format!("render {name}"), |b| {
            b.iter(|| zatca_pdf::render(std::hint::black_box(&xml), &options).expect("renders"))
        });
    }
}

criterion_group!(benches, render);
criterion_main!(benches);
