//! Runs build + sign of a 10-line invoice in a loop, for profilers (callgrind, perf).
//! `cargo run --release -p zatca-core --example profile_sign -- 200 [xml]` (xml: re-sign the SDK sample)

use zatca_core::cert::Certificate;
use zatca_core::keys::PrivateKey;
use zatca_core::model::InvoiceInput;
use zatca_core::sign::{self, Signer};
use zatca_core::ubl::ChainInputs;

fn main() -> Result<(), zatca_core::Error> {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let key = PrivateKey::parse(include_str!("../../../tests/fixtures/keys/sdk-test-key.pem"))?;
    let cert = Certificate::parse(include_str!("../../../tests/fixtures/keys/sdk-test-cert.pem"))?;
    let signer = Signer::new(key, cert)?;
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
    let chain = ChainInputs {
        icv: 1,
        pih: zatca_core::chain::INITIAL_PIH.into(),
        uuid: "u-1".into(),
    };
    let mut total = 0;
    if std::env::args().nth(2).as_deref() == Some("xml") {
        let sample =
            include_str!("../../../tests/fixtures/samples/sdk-R3.4.8/Simplified/Invoice/Simplified_Invoice.xml");
        let unsigned = sign::strip_signature(sample.as_bytes())?;
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
        total += sign::sign_invoice(&input, &chain, &signer, None)?.xml.len();
    }
    println!("{total}");
    Ok(())
}
