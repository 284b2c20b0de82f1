//! Runs build + sign of a 10-line invoice in a loop, for profilers (callgrind, perf).
//! `cargo run --release -p zatca-core --example profile_sign -- 200 [xml]` (xml: re-sign the SDK sample)

use zatca_core::model::InvoiceInput;
use zatca_core::sign;

#[path = "../benches/common/mod.rs"]
mod common;

fn main() -> Result<(), zatca_core::Error> {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let signer = common::signer();
    let json = common::ten_line_invoice();
    let chain = common::chain();
    let mut total = 0;
    if std::env::args().nth(2).as_deref() == Some("xml") {
        let unsigned = sign::strip_signature(common::SDK_SIMPLIFIED_INVOICE.as_bytes())?;
        for _ in 0..n {
            total += sign::sign_xml(unsigned.as_bytes(), &signer, Some("2025-07-22T15:51:28"))?
                .xml
                .len();
        }
        println!("{total}");
        return Ok(());
    }
    for _ in 0..n {
        let input = InvoiceInput::from_json(json.as_bytes())?;
        total += sign::sign_invoice(&input, &chain, &signer, Some(common::SIGNING_TIME))?
            .xml
            .len();
    }
    println!("{total}");
    Ok(())
}
