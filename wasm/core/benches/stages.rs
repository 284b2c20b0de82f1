//! Per-stage costs of signing, to see where time goes. `cargo bench -p zatca-core --bench stages`.

use criterion::{Criterion, criterion_group, criterion_main};
use k256::ecdsa::signature::Signer as _;
use std::hint::black_box;
use zatca_core::keys::PrivateKey;

mod common;

fn bench(c: &mut Criterion) {
    let signer = common::signer();
    let key = PrivateKey::parse(include_str!("../../../tests/fixtures/keys/sdk-test-key.pem")).expect("key");
    let cert = signer.certificate();
    let sample = common::SDK_SIMPLIFIED_INVOICE;
    let json = common::ten_line_invoice();
    let chain = common::chain();
    c.bench_function("stage_json_decode", |b| {
        b.iter(|| zatca_core::model::InvoiceInput::from_json(black_box(json.as_bytes())).expect("json"))
    });
    let input = zatca_core::model::InvoiceInput::from_json(json.as_bytes()).expect("json");
    c.bench_function("stage_build_xml", |b| {
        b.iter(|| zatca_core::ubl::build(black_box(&input), &chain).expect("build"))
    });
    c.bench_function("stage_quick_xml_events_only", |b| {
        b.iter(|| {
            let mut reader = quick_xml::Reader::from_str(black_box(sample));
            reader.config_mut().trim_text(false);
            let mut n = 0usize;
            loop {
                match reader.read_event() {
                    Ok(quick_xml::events::Event::Eof) | Err(_) => break,
                    Ok(quick_xml::events::Event::Start(t)) | Ok(quick_xml::events::Event::Empty(t)) => {
                        n += t.attributes().count();
                    }
                    Ok(_) => n += 1,
                }
            }
            n
        })
    });
    c.bench_function("stage_streaming_hash", |b| {
        b.iter(|| zatca_core::hash::invoice_hash(black_box(sample.as_bytes())).expect("hash"))
    });
    c.bench_function("stage_parse", |b| {
        b.iter(|| zatca_core::xml::parse(black_box(sample)).expect("parse"))
    });
    let doc = zatca_core::xml::parse(sample).expect("parse");
    c.bench_function("stage_hash_c14n_sha256", |b| {
        b.iter(|| zatca_core::hash::hash_document(black_box(&doc)))
    });
    let hash_input = zatca_core::hash::hash_input(&doc);
    c.bench_function("stage_c14n_only", |b| {
        b.iter(|| zatca_core::hash::hash_input(black_box(&doc)))
    });
    use zatca_core::bench::{Backend, Sha256, backend};
    println!("sha256 block function on this CPU: {}", backend().name());
    c.bench_function("stage_sha256_of_c14n", |b| {
        b.iter(|| Sha256::digest(black_box(hash_input.as_bytes())))
    });
    // The same bytes through the `sha2` crate directly (SHA-NI where the CPU has it).
    c.bench_function("stage_sha256_of_c14n_sha2_crate", |b| {
        b.iter(|| <sha2::Sha256 as sha2::Digest>::digest(black_box(hash_input.as_bytes())))
    });
    // The core's AVX2 path forced, to compare with what the dispatch picked (absent without AVX2).
    if Sha256::with_backend(Backend::Avx2Bmi2).is_some() {
        c.bench_function("stage_sha256_of_c14n_forced_avx2", |b| {
            b.iter(|| {
                let mut sha = Sha256::with_backend(Backend::Avx2Bmi2).expect("checked above");
                sha.update(black_box(hash_input.as_bytes()));
                sha.finalize()
            })
        });
    }
    c.bench_function("stage_ecdsa_sign_prehash", |b| {
        use k256::ecdsa::signature::hazmat::PrehashSigner;
        b.iter(|| {
            let s: k256::ecdsa::Signature = key.signing_key().sign_prehash(black_box(&[7u8; 32])).expect("sign");
            s
        })
    });
    c.bench_function("stage_ecdsa_sign", |b| {
        b.iter(|| {
            let s: k256::ecdsa::Signature = key.signing_key().sign(black_box(&[7u8; 32]));
            s
        })
    });
    c.bench_function("stage_cert_digest", |b| b.iter(|| black_box(cert).cert_digest()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
