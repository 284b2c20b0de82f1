//! `zatca validate`: exit 0 without errors (warnings allowed), 1 with errors; `--json` prints
//! the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn fixture(path: &str) -> String {
    format!("{}/../../tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn zatca(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_zatca"))
        .args(args)
        .output()
        .expect("run zatca")
}

#[test]
fn a_valid_sample_passes() {
    let out = zatca(&[
        "validate",
        &fixture("samples/sdk-R3.4.8/Standard/Invoice/Standard_Invoice.xml"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("OK"));
}

#[test]
fn a_credit_note_without_reason_fails_with_its_rule() {
    let file = fixture("samples/broken/Standard_Credit_Note_missing_reason.xml");
    let out = zatca(&["validate", &file]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error BR-KSA-17 at /Invoice/"));
    let out = zatca(&["validate", "--json", &file]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    let issue = &report["issues"][0];
    assert_eq!(issue["rule"], "BR-KSA-17");
    assert_eq!(issue["severity"], "error");
    for key in ["location", "message", "message_ar"] {
        assert!(issue[key].as_str().is_some_and(|s| !s.is_empty()), "{key}");
    }
}

#[test]
fn a_wrong_pih_is_an_error() {
    let file = fixture("samples/sdk-R3.4.8/Standard/Invoice/Standard_Invoice.xml");
    let out = zatca(&["validate", "--pih", "AAAA", "--json", &file]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["issues"][0]["rule"], "PIH");
}

#[test]
fn the_date_rules_use_now() {
    let file = fixture("samples/sdk-R3.4.8/Standard/Invoice/Standard_Invoice.xml");
    // Issued 2022-09-07: the day before (before midnight at UTC+14) it is in the future (BR-KSA-04).
    let out = zatca(&["validate", "--now", "2022-09-06T09:00:00", "--json", &file]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["issues"][0]["rule"], "BR-KSA-04");
    // A simplified invoice reported late is a warning (BR-KSA-98), not an error.
    let file = fixture("samples/sdk-R3.4.8/Simplified/Invoice/Simplified_Invoice.xml");
    let out = zatca(&["validate", "--now", "2030-01-01T00:00:00", "--json", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["issues"][0]["rule"], "BR-KSA-98");
    assert_eq!(report["issues"][0]["severity"], "warning");
}

#[test]
fn a_malformed_now_is_refused() {
    let file = fixture("samples/sdk-R3.4.8/Standard/Invoice/Standard_Invoice.xml");
    let out = zatca(&["validate", "--now", "2022-09-07", &file]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--now"));
}

/// `--unsigned`: a document about to be signed is not asked for its stamp and QR code.
#[test]
fn unsigned_skips_what_signing_adds() {
    let file = fixture("invoices/simplified-invoice/expected/unsigned.xml");
    let rules = |args: &[&str]| -> Vec<String> {
        let out = zatca(args);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        report["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["rule"].as_str().unwrap().to_owned())
            .collect()
    };
    let now = "2025-01-15T12:00:00";
    let submitted = rules(&["validate", "--now", now, "--json", &file]);
    assert!(submitted.contains(&"BR-KSA-60".to_owned()), "{submitted:?}");
    let before_signing = rules(&["validate", "--now", now, "--unsigned", "--json", &file]);
    assert!(
        !before_signing.iter().any(|r| r == "BR-KSA-60" || r == "BR-KSA-27"),
        "{before_signing:?}"
    );
}

/// A JSON request is recognised by its content: a corpus input passes; a broken one reports
/// the core's rule at its JSON field and, from the XML the core writes, what only ZATCA's rules
/// check (here an issue date in the future, BR-KSA-04, located at `invoice_date`).
#[test]
fn a_json_request_is_checked_by_the_core_and_the_rules() {
    let file = fixture("invoices/standard-invoice/input.json");
    let out = zatca(&["validate", "--now", "2026-01-01T00:00:00", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let mut input: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    input["seller"]["vat_number"] = "123".into();
    input["invoice_date"] = "2099-01-01".into();
    let dir = std::env::temp_dir().join(format!("zatca-validate-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("input.json");
    std::fs::write(&broken, serde_json::to_vec(&input).unwrap()).unwrap();
    let out = zatca(&[
        "validate",
        "--now",
        "2026-01-01T00:00:00",
        "--json",
        broken.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let find = |rule: &str| {
        report["issues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["rule"] == rule)
            .cloned()
            .unwrap_or_else(|| panic!("{rule} missing: {report:#}"))
    };
    let vat = find("BR-KSA-40");
    assert_eq!(
        (vat["location"].as_str(), vat["source"].as_str()),
        (Some("seller.vat_number"), Some("input"))
    );
    let date = find("BR-KSA-04");
    assert_eq!(
        (date["location"].as_str(), date["source"].as_str()),
        (Some("invoice_date"), Some("xml"))
    );
    assert_eq!(date["severity"], "error");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The text report says what the `--json` report says, one finding a line on stderr
/// (`error|warning <rule, else the core's code> at <location>: <message>[ (<detail>)]`, then
/// `  hint: …` when there is one) and `OK (N warning(s))` on stdout without errors, for a
/// document and a JSON request alike; the exit status is the same in both modes.
#[test]
fn the_text_report_is_the_json_report_line_by_line() {
    let dir = std::env::temp_dir().join(format!("zatca-validate-text-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut input: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("invoices/simplified-invoice/input.json")).unwrap()).unwrap();
    input["line_items"][0]["quantity"] = 0.into();
    input["seller"].as_object_mut().unwrap().remove("address");
    let broken = dir.join("input.json");
    std::fs::write(&broken, serde_json::to_vec(&input).unwrap()).unwrap();
    let files = [
        fixture("samples/sdk-R3.4.8/Simplified/Invoice/Simplified_Invoice.xml"),
        fixture("samples/broken/Standard_Credit_Note_missing_reason.xml"),
        fixture("invoices/standard-invoice/input.json"),
        broken.to_str().unwrap().to_owned(),
    ];
    let mut seen_code = false;
    for file in &files {
        let text = zatca(&["validate", "--now", "2026-01-01T00:00:00", file]);
        let json = zatca(&["validate", "--now", "2026-01-01T00:00:00", "--json", file]);
        assert_eq!(text.status.code(), json.status.code(), "{file}");
        let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        let issues = report["issues"].as_array().unwrap();
        let mut expected = String::new();
        for issue in issues {
            let id = issue["rule"].as_str().or_else(|| issue["code"].as_str()).unwrap();
            seen_code |= issue["rule"].is_null();
            let detail = issue["detail"].as_str().map_or(String::new(), |d| format!(" ({d})"));
            expected += &format!(
                "{} {id} at {}: {}{detail}\n",
                issue["severity"].as_str().unwrap(),
                issue["location"].as_str().unwrap(),
                issue["message"].as_str().unwrap()
            );
            if let Some(hint) = issue["hint"].as_str() {
                expected += &format!("  hint: {hint}\n");
            }
        }
        assert_eq!(String::from_utf8_lossy(&text.stderr), expected, "{file}");
        let ok = if report["valid"] == true {
            format!("OK ({} warning(s))\n", issues.len())
        } else {
            String::new()
        };
        assert_eq!(String::from_utf8_lossy(&text.stdout), ok, "{file}");
    }
    assert!(seen_code, "a finding without a rule id is printed with the core's code");
    std::fs::remove_dir_all(&dir).unwrap();
}
