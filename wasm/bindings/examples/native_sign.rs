//! Native baseline for `npm run bench`: signs one golden-corpus document N times through the
//! same steps the WebAssembly `signInvoice` export takes (decode the JSON, parse the key and
//! the certificate, build, sign) and prints the median and other percentiles as JSON.
//!
//! `cargo run --release -p zatca-wasm --example native_sign -- <case dir> <key.pem> <cert.pem> [N]`

use std::time::Instant;
use std::{env, fs, process};

use zatca_core::cert::Certificate;
use zatca_core::keys::PrivateKey;
use zatca_core::model::InvoiceInput;
use zatca_core::sign::{self, Signer};
use zatca_core::ubl::ChainInputs;

fn fail(message: String) -> ! {
    eprintln!("native_sign: {message}");
    process::exit(2)
}

fn read(path: &str) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| fail(format!("{path}: {e}")))
}

fn read_text(path: &str) -> String {
    String::from_utf8(read(path)).unwrap_or_else(|e| fail(format!("{path}: {e}")))
}

fn json_field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let at = json.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = json.get(at..)?.trim_start().strip_prefix(':')?.trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        s.split('"').next()
    } else {
        rest.split([',', '}', '\n']).next().map(str::trim)
    }
}

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let [case, key_path, cert_path, rest @ ..] = args.as_slice() else {
        fail("usage: native_sign <case dir> <key.pem> <cert.pem> [iterations]".into())
    };
    let n: usize = rest.first().and_then(|s| s.parse().ok()).unwrap_or(300);
    let input = read(&format!("{case}/input.json"));
    let chain_path = format!("{case}/chain.json");
    let chain_text = read_text(&chain_path);
    let field = |key| json_field(&chain_text, key).unwrap_or_else(|| fail(format!("{chain_path}: no {key}")));
    let chain = ChainInputs {
        icv: json_field(&chain_text, "icv").and_then(|v| v.parse().ok()).unwrap_or(1),
        pih: field("pih").to_owned(),
        uuid: field("uuid").to_owned(),
    };
    let signing_time = json_field(&chain_text, "signing_time").map(str::to_owned);
    let key_pem = read_text(key_path);
    // The WebAssembly path receives the key as DER bytes (what the key vault decrypts).
    let key_der = PrivateKey::parse(&key_pem)
        .unwrap_or_else(|e| fail(format!("{key_path}: {e}")))
        .to_sec1_der();
    let cert = read_text(cert_path);

    let once = || {
        let input = InvoiceInput::from_json(&input).unwrap_or_else(|e| fail(e.to_string()));
        let key = PrivateKey::from_der(&key_der).unwrap_or_else(|e| fail(e.to_string()));
        let certificate = Certificate::parse(&cert).unwrap_or_else(|e| fail(e.to_string()));
        let signer = Signer::new(key, certificate).unwrap_or_else(|e| fail(e.to_string()));
        sign::sign_invoice(&input, &chain, &signer, signing_time.as_deref()).unwrap_or_else(|e| fail(e.to_string()))
    };
    let hash = once().hash;
    for _ in 0..n.min(50) {
        std::hint::black_box(once());
    }
    let mut times: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(once());
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        times
            .get(((times.len() - 1) as f64 * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    println!(
        "{{\"n\":{n},\"median_ms\":{:.4},\"p10_ms\":{:.4},\"p90_ms\":{:.4},\"hash\":\"{hash}\"}}",
        pct(0.5),
        pct(0.1),
        pct(0.9)
    );
}
