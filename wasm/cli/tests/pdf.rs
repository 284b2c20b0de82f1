//! `zatca pdf`: a PDF on stdout for a signed document; a structured error and exit code 1 for
//! anything else.

use std::process::Command;

fn fixture(path: &str) -> String {
    format!("{}/../../tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn pdf_of_a_signed_document() {
    let out = Command::new(env!("CARGO_BIN_EXE_zatca"))
        .args(["pdf", &fixture("invoices/simplified-invoice/expected/signed.xml")])
        .output()
        .expect("run zatca");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.starts_with(b"%PDF-1.7"), "not a PDF");
}

#[test]
fn unsigned_or_broken_input_fails_with_a_code() {
    for (file, code) in [
        ("invoices/simplified-invoice/expected/unsigned.xml", "(missing_qr)"),
        ("invoices/simplified-invoice/input.json", "(invalid_xml)"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_zatca"))
            .args(["pdf", &fixture(file)])
            .output()
            .expect("run zatca");
        assert_eq!(out.status.code(), Some(1), "{file}");
        assert!(out.stdout.is_empty(), "{file}: no partial PDF on stdout");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("error: ") && stderr.contains(code),
            "{file}: {stderr}"
        );
    }
}
