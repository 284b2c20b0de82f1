//! The differential test of issue 11: a JSON request and the XML the core writes from it never
//! disagree. Over every JSON input of the golden corpus and mutations of them (one per
//! rule-tagged check of the core's input model, and some that trip rules only the XML shows):
//! (a) a JSON the core accepts gives XML without a zatca-rules error; (b) every rule id the
//! core reports on a JSON input is reported by zatca-rules on the XML written from it (when it
//! can be written); (c) no rule id differs in severity between the two.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use serde_json::{Value, json};
use zatca_core::Severity;
use zatca_rules::{Context, Source, validate_input_value, xml_report};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `input.json` of the golden corpus (valid documents and expected errors), by name.
fn corpus() -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for dir in ["tests/fixtures/invoices", "tests/fixtures/errors"] {
        for case in fs::read_dir(repo().join(dir)).unwrap() {
            let path = case.unwrap().path();
            if let Ok(text) = fs::read(path.join("input.json")) {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                out.insert(name, serde_json::from_slice(&text).unwrap());
            }
        }
    }
    out
}

/// Sets `value` at a dotted path (`seller.address.country`, `line_items.0.quantity`); `null`
/// removes the field.
fn set(doc: &mut Value, path: &str, value: Value) {
    let mut at = doc;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        at = match part.parse::<usize>() {
            Ok(i) => &mut at[i],
            Err(_) => at.as_object_mut().unwrap().entry(*part).or_insert_with(|| json!({})),
        };
    }
    let last = parts[parts.len() - 1];
    let object = at.as_object_mut().unwrap();
    if value.is_null() {
        object.remove(last);
    } else {
        object.insert(last.to_owned(), value);
    }
}

type Mutation = (&'static str, &'static str, &'static [(&'static str, &'static str)]);

/// (rule the core reports, base case, edits as `path`, JSON value): one per rule-tagged check
/// of the core's `validate` (wasm/core/src/validate.rs). The core does not list its checks, so
/// the list is written here and each mutation is asserted to make the core report its rule.
const CORE_RULES: &[Mutation] = &[
    ("BR-KSA-F-06-C1", "simplified-invoice", &[("invoice_number", "LONG128")]),
    ("BR-KSA-70", "simplified-invoice", &[("invoice_time", r#""10:00""#)]),
    (
        "BR-KSA-CL-01",
        "simplified-invoice",
        &[("currency", r#""ABC""#), ("sar_exchange_rate", "3.75")],
    ),
    (
        "BR-KSA-CL-01",
        "simplified-invoice",
        &[("currency", r#""MRU""#), ("sar_exchange_rate", "0.09")],
    ),
    (
        "BR-KSA-97",
        "standard-invoice-foreign-currency",
        &[("sar_exchange_rate", "1")],
    ),
    ("BR-KSA-16", "simplified-invoice", &[("payment_means_code", r#""99""#)]),
    (
        "BR-KSA-35",
        "simplified-invoice",
        &[("delivery_date", "null"), ("delivery_end_date", r#""2025-01-20""#)],
    ),
    (
        "BR-KSA-36",
        "simplified-invoice",
        &[
            ("delivery_date", r#""2025-01-15""#),
            ("delivery_end_date", r#""2025-01-10""#),
        ],
    ),
    ("BR-KSA-15", "standard-invoice", &[("delivery_date", "null")]),
    (
        "BR-KSA-07",
        "standard-invoice",
        &[
            ("transaction_flags.self_billed", "true"),
            ("transaction_flags.export", "true"),
        ],
    ),
    (
        "BR-KSA-31",
        "simplified-invoice",
        &[("transaction_flags.self_billed", "true")],
    ),
    ("BR-KSA-92", "standard-invoice-b2g", &[("contract_id", "null")]),
    (
        "BR-KSA-72",
        "simplified-invoice-summary",
        &[
            ("delivery_end_date", "null"),
            (
                "buyer.address",
                r#"{"street":"s","building_number":"1111","district":"d","city":"Riyadh","postal_code":"12222","country":"SA"}"#,
            ),
        ],
    ),
    (
        "BR-KSA-17",
        "simplified-credit-note",
        &[("reason", "null"), ("reason_ar", "null")],
    ),
    ("BR-KSA-39", "simplified-invoice", &[("seller.vat_number", "null")]),
    ("BR-KSA-40", "simplified-invoice", &[("seller.vat_number", r#""123""#)]),
    ("BR-KSA-08", "simplified-invoice", &[("seller.crn", "null")]),
    (
        "BR-KSA-08",
        "simplified-invoice",
        &[
            ("seller.crn", "null"),
            ("seller.other_id", r#"{"scheme":"XYZ","value":"1"}"#),
        ],
    ),
    ("BR-KSA-F-08", "simplified-invoice", &[("seller.crn", r#""123""#)]),
    (
        "BR-KSA-09",
        "simplified-invoice",
        &[("seller.address.district", "null")],
    ),
    (
        "BR-KSA-37",
        "simplified-invoice",
        &[("seller.address.building_number", r#""12""#)],
    ),
    (
        "BR-KSA-66",
        "simplified-invoice",
        &[("seller.address.postal_code", r#""123""#)],
    ),
    (
        "BR-CL-14",
        "simplified-invoice",
        &[("seller.address.country", r#""SAU""#)],
    ),
    ("BR-CL-14", "standard-invoice", &[("buyer.address.country", r#""S1""#)]),
    (
        "BR-KSA-42",
        "standard-invoice",
        &[("buyer.name", "null"), ("buyer.name_ar", "null")],
    ),
    (
        "BR-KSA-49",
        "standard-invoice",
        &[
            ("line_items.0.vat_category", r#""Z""#),
            ("line_items.0.vat_rate", "0"),
            ("line_items.0.exemption_reason_code", r#""VATEX-SA-EDU""#),
        ],
    ),
    (
        "BR-KSA-49",
        "simplified-invoice",
        &[
            ("line_items.0.vat_category", r#""Z""#),
            ("line_items.0.vat_rate", "0"),
            ("line_items.0.exemption_reason_code", r#""VATEX-SA-HEA""#),
        ],
    ),
    (
        "BR-KSA-25",
        "simplified-invoice",
        &[
            ("line_items.0.vat_category", r#""Z""#),
            ("line_items.0.vat_rate", "0"),
            ("line_items.0.exemption_reason_code", r#""VATEX-SA-EDU""#),
            ("buyer", r#"{"other_id":{"scheme":"NAT","value":"1234567890"}}"#),
        ],
    ),
    ("BR-KSA-71", "simplified-invoice-summary", &[("buyer", "null")]),
    ("BR-KSA-44", "standard-invoice", &[("buyer.vat_number", r#""123""#)]),
    (
        "BR-CUSTOM-VALIDATION-01",
        "standard-invoice",
        &[("buyer.vat_number", r#""399999999900003""#)],
    ),
    (
        "BR-KSA-14",
        "standard-invoice",
        &[
            ("buyer.vat_number", "null"),
            ("buyer.other_id", r#"{"scheme":"XYZ","value":"1"}"#),
        ],
    ),
    (
        "BR-KSA-F-07",
        "standard-invoice",
        &[("buyer.other_id", r#"{"scheme":"TIN","value":"123"}"#)],
    ),
    ("BR-KSA-F-08", "standard-invoice", &[("buyer.crn", r#""123""#)]),
    (
        "BR-KSA-F-09",
        "standard-invoice",
        &[("buyer.other_id", r#"{"scheme":"700","value":"123"}"#)],
    ),
    (
        "BR-KSA-F-10",
        "standard-invoice",
        &[("buyer.other_id", r#"{"scheme":"NAT","value":"123"}"#)],
    ),
    (
        "BR-KSA-F-11",
        "standard-invoice",
        &[("buyer.other_id", r#"{"scheme":"IQA","value":"123"}"#)],
    ),
    ("BR-KSA-81", "standard-invoice", &[("buyer.vat_number", "null")]),
    ("BR-KSA-63", "standard-invoice", &[("buyer.address.district", "null")]),
    (
        "BR-KSA-10",
        "standard-invoice",
        &[("buyer.address.country", r#""US""#), ("buyer.address.city", "null")],
    ),
    // Without a country the buyer is not Saudi to ZATCA: BR-KSA-10, not BR-KSA-63.
    ("BR-KSA-10", "standard-invoice", &[("buyer.address.country", "null")]),
    (
        "BR-KSA-67",
        "standard-invoice",
        &[("buyer.address.postal_code", r#""123""#)],
    ),
    ("BR-16", "simplified-invoice", &[("line_items", "[]")]),
    (
        "BR-KSA-F-06-C19",
        "simplified-invoice",
        &[("line_items.0.description", "LONG1001")],
    ),
    ("BR-22", "simplified-invoice", &[("line_items.0.quantity", "0")]),
    ("BR-KSA-F-04", "simplified-invoice", &[("line_items.0.quantity", "-1")]),
    (
        "BR-KSA-F-04",
        "simplified-invoice",
        &[("line_items.0.unit_price", "-1")],
    ),
    ("BR-KSA-F-04", "simplified-invoice", &[("line_items.0.discount", "-1")]),
    (
        "BR-KSA-F-04",
        "simplified-invoice",
        &[("line_items.0.discount", "100000")],
    ),
    (
        "BR-KSA-DEC-02",
        "simplified-invoice",
        &[("line_items.0.vat_rate", "101")],
    ),
    (
        "BR-KSA-DEC-02",
        "simplified-invoice",
        &[("line_items.0.vat_rate", "-5")],
    ),
    ("BR-KSA-84", "simplified-invoice", &[("line_items.0.vat_rate", "10")]),
    (
        "BR-Z-05",
        "simplified-invoice-zero-rated",
        &[("line_items.0.vat_rate", "5")],
    ),
    ("BR-E-05", "standard-invoice-exempt", &[("line_items.0.vat_rate", "5")]),
    (
        "BR-KSA-11",
        "standard-invoice-out-of-scope",
        &[("line_items.0.vat_rate", "5")],
    ),
    (
        "BR-S-10",
        "simplified-invoice",
        &[("line_items.0.exemption_reason_code", r#""VATEX-SA-32""#)],
    ),
    (
        "BR-S-10",
        "simplified-invoice",
        &[("line_items.0.exemption_reason", r#""because""#)],
    ),
    (
        "BR-KSA-69",
        "simplified-invoice-zero-rated",
        &[("line_items.0.exemption_reason_code", "null")],
    ),
    (
        "BR-KSA-23",
        "standard-invoice-exempt",
        &[("line_items.0.exemption_reason_code", "null")],
    ),
    (
        "BR-KSA-24",
        "standard-invoice-out-of-scope",
        &[("line_items.0.exemption_reason_code", "null")],
    ),
    (
        "BR-KSA-CL-04",
        "standard-invoice-exempt",
        &[("line_items.0.exemption_reason_code", r#""VATEX-SA-XX""#)],
    ),
    (
        "BR-KSA-CL-04",
        "standard-invoice-exempt",
        &[("line_items.0.exemption_reason_code", r#""VATEX-SA-32""#)],
    ),
];

/// Rules the core's input checks do not make, which the XML written from a request shows:
/// `validate_input` must report them, at the JSON field.
const XML_ONLY: &[Mutation] = &[
    (
        "BR-KSA-F-06-C18",
        "simplified-invoice",
        &[("line_items.0.unit_code", "LONG128")],
    ),
    (
        "BR-KSA-04",
        "simplified-invoice",
        &[("invoice_date", r#""2099-01-01""#)],
    ),
];

fn mutate(base: &Value, edits: &[(&str, &str)]) -> Value {
    let mut doc = base.clone();
    for (path, value) in edits {
        let value = match *value {
            "LONG128" => Value::String("N".repeat(128)),
            "LONG1001" => Value::String("d".repeat(1001)),
            v => serde_json::from_str(v).unwrap(),
        };
        set(&mut doc, path, value);
    }
    doc
}

#[test]
fn json_and_xml_agree() {
    let corpus = corpus();
    let mut cases: Vec<(String, Value, Option<&str>)> =
        corpus.iter().map(|(name, v)| (name.clone(), v.clone(), None)).collect();
    for (i, (rule, base, edits)) in CORE_RULES.iter().enumerate() {
        let base = corpus.get(*base).unwrap_or_else(|| panic!("no corpus case {base}"));
        cases.push((format!("{rule}#{i}"), mutate(base, edits), Some(rule)));
    }
    let context = Context::default();
    let mut problems = Vec::new();
    let (mut accepted, mut written, mut core_rules, mut warnings) = (0, 0, 0, BTreeMap::<&str, usize>::new());
    for (name, doc, expected) in &cases {
        let checked = zatca_core::validate::check_value(doc);
        if let Some(rule) = expected {
            if !checked.issues.iter().any(|i| i.rule == Some(rule)) {
                problems.push(format!("{name}: the core does not report {rule}: {:?}", checked.issues));
            }
        }
        // (c) the core's severity of a rule is ZATCA's.
        for issue in &checked.issues {
            if let Some(rule) = issue.rule {
                core_rules += 1;
                match zatca_rules::rule(rule) {
                    Some(r) if r.severity == issue.severity => {}
                    Some(r) => problems.push(format!(
                        "{name}: (c) the core reports {rule} as {:?}, ZATCA's list as {:?}",
                        issue.severity, r.severity
                    )),
                    None => problems.push(format!("{name}: (c) the core's {rule} is not in ZATCA's list")),
                }
            }
        }
        let Some(input) = &checked.input else { continue };
        if checked
            .issues
            .iter()
            .any(|i| i.severity == Severity::Error && i.rule.is_none())
        {
            continue;
        }
        let Some((xml, report)) = xml_report(input, &context) else {
            continue;
        };
        // ZATCA_AGREE_DUMP=DIR writes each document, to compare with ZATCA's validator.
        if let Some(dir) = std::env::var_os("ZATCA_AGREE_DUMP") {
            fs::write(PathBuf::from(dir).join(format!("{name}.xml")), &xml).unwrap();
        }
        written += 1;
        let core_errors = checked.issues.iter().any(|i| i.severity == Severity::Error);
        // (a) what the core accepts, ZATCA's rules accept.
        if !core_errors {
            accepted += 1;
            for f in &report.issues {
                if f.severity == Severity::Error {
                    problems.push(format!(
                        "{name}: (a) the core accepts it, the XML has {} at {}",
                        f.rule, f.location
                    ));
                } else {
                    *warnings.entry(f.rule).or_default() += 1;
                }
            }
        }
        // (b) what the core reports under a rule id, the XML shows under that id.
        for issue in &checked.issues {
            let Some(rule) = issue.rule else { continue };
            match report.issues.iter().find(|f| f.rule == rule) {
                None => problems.push(format!(
                    "{name}: (b) the core reports {rule} at {:?}, the XML does not: {:?}",
                    issue.path,
                    report.issues.iter().map(|f| f.rule).collect::<Vec<_>>()
                )),
                Some(f) if f.severity != issue.severity => problems.push(format!(
                    "{name}: (c) {rule} is {:?} on the input, {:?} on the XML",
                    issue.severity, f.severity
                )),
                Some(_) => {}
            }
        }
    }
    println!(
        "{} inputs ({} corpus, {} mutants): {written} written, {accepted} accepted by the core, {core_rules} rule findings of the core; warnings on accepted XML: {warnings:?}",
        cases.len(),
        corpus.len(),
        CORE_RULES.len()
    );
    assert!(
        problems.is_empty(),
        "{} disagreements:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Rules only the XML shows are reported on the request, at its JSON field.
#[test]
fn validate_input_reports_what_only_the_xml_shows() {
    let corpus = corpus();
    let now = "2026-01-01T00:00:00";
    let context = Context {
        now: Some(now),
        ..Default::default()
    };
    for (rule, base, edits) in XML_ONLY {
        let doc = mutate(&corpus[*base], edits);
        let checked = zatca_core::validate::check_value(&doc);
        assert!(
            !checked.issues.iter().any(|i| i.rule == Some(rule)),
            "the core checks {rule} now: move it to CORE_RULES"
        );
        let report = validate_input_value(&doc, &context);
        let found = report.issues.iter().find(|f| f.rule == Some(rule));
        let found = found.unwrap_or_else(|| panic!("{rule} not reported: {:#?}", report.issues));
        assert_eq!(found.source, Source::Xml);
        assert!(!found.location.starts_with('/'), "{rule} at {}", found.location);
    }
}

/// The core's finding wins where both report a rule, and the XML's are located at JSON fields.
#[test]
fn one_finding_per_rule_and_place() {
    let corpus = corpus();
    let doc = mutate(
        &corpus["simplified-invoice"],
        &[("seller.vat_number", r#""123""#), ("line_items.1.quantity", "-1")],
    );
    let report = validate_input_value(&doc, &Context::default());
    assert!(!report.valid && report.checked_xml, "{report:#?}");
    for (rule, location) in [
        ("BR-KSA-40", "seller.vat_number"),
        ("BR-KSA-F-04", "line_items[1].quantity"),
    ] {
        let found: Vec<_> = report.issues.iter().filter(|f| f.rule == Some(rule)).collect();
        assert_eq!(found.len(), 1, "{rule}: {found:#?}");
        assert_eq!((found[0].source, found[0].location.as_str()), (Source::Input, location));
        assert!(found[0].message_ar.is_some());
    }
    // Not JSON, and JSON the core cannot decode: the core's findings only.
    let report = zatca_rules::validate_input(b"{", &Context::default());
    assert!(!report.valid && !report.checked_xml && report.issues[0].code == "invalid_json");
    let report = validate_input_value(&json!({"invoice_number": 1}), &Context::default());
    assert!(!report.valid && !report.checked_xml);
}
