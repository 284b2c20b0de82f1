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
    let lines: Vec<String> = (1..=10)
        .map(|i| {
            format!(
                r#"{{"description":"Item {i}","quantity":{i},"unit_price":{}.75}}"#,
                i * 3
            )
        })
        .collect();
    let json = format!(
        r#"{{"invoice_number":"P-1","invoice_date":"2025-01-15","invoice_time":"14:30:00",
        "seller":{{"name":"Maximum Speed Tech Supply LTD","vat_number":"399999999900003","crn":"1010010000",
          "address":{{"street":"Prince Sultan","building_number":"2322","district":"Al-Murabba","city":"Riyadh","postal_code":"23333","country":"SA"}}}},
        "line_items":[{}]}}"#,
        lines.join(",")
    );
    let chain = zatca_core::ubl::ChainInputs {
        icv: 1,
        pih: zatca_core::chain::INITIAL_PIH.into(),
        uuid: "u-1".into(),
    };
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
    c.bench_function("stage_sha256_of_c14n", |b| {
        b.iter(|| <sha2::Sha256 as sha2::Digest>::digest(black_box(hash_input.as_bytes())))
    });
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
    c.bench_function("stage_cert_digest", |b| b.iter(|| black_box(&cert).cert_digest()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
