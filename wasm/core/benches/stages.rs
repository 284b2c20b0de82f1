//! Per-stage costs of signing, to see where time goes. `cargo bench -p zatca-core --bench stages`.

use criterion::{Criterion, criterion_group, criterion_main};
use k256::ecdsa::signature::Signer as _;
use std::hint::black_box;
use zatca_core::cert::Certificate;
use zatca_core::keys::PrivateKey;

fn bench(c: &mut Criterion) {
    let key = PrivateKey::parse(include_str!("../../../tests/fixtures/keys/sdk-test-key.pem")).expect("key");
    let cert = Certificate::parse(include_str!("../../../tests/fixtures/keys/sdk-test-cert.pem")).expect("cert");
    let sample = include_str!("../../../tests/fixtures/samples/sdk-R3.4.8/Simplified/Invoice/Simplified_Invoice.xml");
    c.bench_function("stage_parse", |b| {
        b.iter(|| zatca_core::xml::parse(black_box(sample)).expect("parse"))
    });
    let doc = zatca_core::xml::parse(sample).expect("parse");
    c.bench_function("stage_hash_c14n_sha256", |b| {
        b.iter(|| zatca_core::hash::hash_document(black_box(&doc)))
    });
    c.bench_function("stage_ecdsa_sign", |b| {
        b.iter(|| {
            let s: k256::ecdsa::Signature = key.signing_key().sign(black_box(&[7u8; 32]));
            s
        })
    });
    c.bench_function("stage_cert_digest", |b| b.iter(|| black_box(&cert).cert_digest()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
