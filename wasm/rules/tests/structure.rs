//! The structure pass (`XSD`): samples broken against the UBL 2.1 XSD are reported where they
//! break it, with both messages; the SDK samples and the golden corpus pass it (in
//! `tests/rules.rs`, which checks they have no error at all). Whether ZATCA's own XSD validation
//! agrees on each mutant is `scripts/rules-agreement.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use zatca_rules::{Context, Severity, validate};

#[path = "support/structure_mutants.rs"]
mod structure_mutants;
use structure_mutants::STRUCTURE_MUTANTS;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn structure_mutants_are_reported_where_they_break_the_schema() {
    for m in STRUCTURE_MUTANTS {
        let src = fs::read_to_string(repo().join(m.sample)).unwrap();
        assert!(src.contains(m.from), "{}: `{}` not in {}", m.name, m.from, m.sample);
        let report = validate(src.replace(m.from, m.to).as_bytes(), &Context::default());
        let xsd: Vec<_> = report.issues.iter().filter(|i| i.rule == "XSD").collect();
        let Some(location) = m.location else {
            assert!(xsd.is_empty(), "{}: the schema allows this: {xsd:#?}", m.name);
            continue;
        };
        let first = xsd
            .first()
            .unwrap_or_else(|| panic!("{}: no XSD finding: {:#?}", m.name, report.issues));
        assert_eq!(first.location, location, "{}: {xsd:#?}", m.name);
        assert!(!report.valid, "{}", m.name);
        for f in xsd {
            assert_eq!(f.severity, Severity::Error);
            assert!(
                !f.message.is_empty() && !f.message_ar.is_empty() && f.detail.is_some(),
                "{}",
                m.name
            );
        }
    }
}

#[test]
fn a_root_other_than_invoice_is_reported() {
    let path = repo().join("tests/fixtures/samples/sdk-R3.4.8/Standard/Invoice/Standard_Invoice.xml");
    let src = fs::read_to_string(path).unwrap();
    let credit = src
        .replacen(
            "<Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\"",
            "<CreditNote xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2\"",
            1,
        )
        .replace("</Invoice>", "</CreditNote>");
    let report = validate(credit.as_bytes(), &Context::default());
    let xsd: Vec<_> = report.issues.iter().filter(|i| i.rule == "XSD").collect();
    assert_eq!(xsd.len(), 1, "{xsd:#?}");
    assert_eq!(xsd[0].location, "/CreditNote");
}

#[test]
fn one_content_model_finding_per_parent() {
    // Two problems under one parent: one content-model finding (like the XSD validator), while
    // a bad value elsewhere is still reported.
    let path = repo().join("tests/fixtures/samples/sdk-R3.4.8/Standard/Invoice/Standard_Invoice.xml");
    let src = fs::read_to_string(path)
        .unwrap()
        .replace(
            "<cbc:IssueTime>12:21:28</cbc:IssueTime>",
            "<cbc:Foo/><cbc:Bar/><cbc:IssueTime>12:21:28</cbc:IssueTime>",
        )
        .replace(
            "<cbc:ChargeIndicator>false</cbc:ChargeIndicator>",
            "<cbc:ChargeIndicator>nein</cbc:ChargeIndicator>",
        );
    let report = validate(src.as_bytes(), &Context::default());
    let locations: Vec<&str> = report
        .issues
        .iter()
        .filter(|i| i.rule == "XSD")
        .map(|i| i.location.as_str())
        .collect();
    assert_eq!(
        locations,
        ["/Invoice/cbc:Foo", "/Invoice/cac:AllowanceCharge/cbc:ChargeIndicator"]
    );
}

#[test]
fn an_element_further_on_is_out_of_order_not_missing() {
    let path = repo().join("tests/fixtures/samples/sdk-R3.4.8/Standard/Invoice/Standard_Invoice.xml");
    let src = fs::read_to_string(path).unwrap();
    let moved = src.replace(
        "<cbc:IssueDate>2022-09-07</cbc:IssueDate>\n    <cbc:IssueTime>12:21:28</cbc:IssueTime>",
        "<cbc:IssueTime>12:21:28</cbc:IssueTime>\n    <cbc:IssueDate>2022-09-07</cbc:IssueDate>",
    );
    let report = validate(moved.as_bytes(), &Context::default());
    let xsd: Vec<_> = report.issues.iter().filter(|i| i.rule == "XSD").collect();
    assert_eq!(xsd.len(), 1, "{xsd:#?}");
    assert!(xsd[0].message.contains("out of the order"), "{xsd:#?}");
    assert_eq!(
        xsd[0].detail.as_deref(),
        Some("cbc:IssueDate must come before cbc:IssueTime")
    );
    let removed = src.replace("<cbc:IssueDate>2022-09-07</cbc:IssueDate>", "");
    let report = validate(removed.as_bytes(), &Context::default());
    let xsd: Vec<_> = report.issues.iter().filter(|i| i.rule == "XSD").collect();
    assert!(xsd[0].message.contains("missing"), "{xsd:#?}");
    assert_eq!(
        xsd[0].detail.as_deref(),
        Some("cbc:IssueDate (expected before cbc:IssueTime)")
    );
}

#[test]
fn damaged_documents_never_panic() {
    // What the fuzz targets of `wasm/rules/fuzz` do, replayed deterministically without nightly:
    // truncations and byte edits spread over a signed document, the signature included.
    let path = repo().join("tests/fixtures/samples/sdk-R3.4.8/Standard/Invoice/Standard_Invoice.xml");
    let src = fs::read(path).unwrap();
    let step = (src.len() / 300).max(1);
    for at in (0..src.len()).step_by(step) {
        let mut edited = src.clone();
        edited[at] = match edited[at] {
            b'<' => b'>',
            b'"' => b'<',
            b'/' => b' ',
            b => b.wrapping_add(1),
        };
        for doc in [&src[..at], &edited[..]] {
            let report = validate(doc, &Context::default());
            assert_eq!(
                report.valid,
                !report.issues.iter().any(|i| i.severity == Severity::Error),
                "byte {at}"
            );
        }
    }
}
