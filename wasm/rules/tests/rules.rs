//! The validator against the SDK samples (no errors), against mutated samples (exactly the
//! expected rule ids: the golden table `MUTANTS`, whose ids were compared with ZATCA's own
//! validator by `scripts/rules-agreement.sh`), and the rule coverage table `docs/rules.md`
//! (regenerate with `ZATCA_BLESS=1 cargo test -p zatca-rules`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use zatca_rules::{Context, IMPLEMENTED, NEEDS, NEVER, Severity, catalogue, validate};

#[path = "support/mutants.rs"]
mod mutants;
use mutants::{MUTANTS, Mutant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn samples() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "xml") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo().join("tests/fixtures/samples/sdk-R3.4.8"), &mut out);
    out.sort();
    out
}

#[test]
fn sdk_samples_have_no_errors() {
    let all = samples();
    assert_eq!(all.len(), 19, "the 19 SDK samples");
    for path in all {
        let report = validate(&fs::read(&path).unwrap(), &Context::default());
        let errors: Vec<_> = report.issues.iter().filter(|i| i.severity == Severity::Error).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        assert!(report.valid);
    }
}

fn mutate(m: &Mutant) -> Vec<u8> {
    let src = fs::read_to_string(repo().join(m.sample)).unwrap();
    assert!(src.contains(m.from), "{}: `{}` not in {}", m.name, m.from, m.sample);
    src.replace(m.from, m.to).into_bytes()
}

/// The current time the mutants are checked at (BR-KSA-04, BR-KSA-98): after every sample's
/// issue date, as the day ZATCA's validator runs on is.
const NOW: &str = "2026-12-04T12:00:00";

/// BR-KSA-04 compares the issue date (the seller's local date) with today in ZATCA's zone, not
/// UTC: a Standard_Invoice.xml dated 2022-09-07 is not in the future at 2022-09-06T21:30 UTC
/// (00:30 in Riyadh), nor from 10:00 UTC (midnight at UTC+14, the earliest zone); before, it is.
#[test]
fn issue_date_is_future_only_after_today_in_every_zone() {
    let xml = fs::read(repo().join("tests/fixtures/samples/sdk-R3.4.8/Standard/Invoice/Standard_Invoice.xml")).unwrap();
    let rules = |now| -> Vec<&str> {
        let context = Context {
            now: Some(now),
            ..Default::default()
        };
        validate(&xml, &context).issues.iter().map(|i| i.rule).collect()
    };
    assert!(rules("2022-09-06T21:30:00").is_empty());
    assert!(rules("2022-09-06T10:00:00").is_empty());
    assert_eq!(rules("2022-09-06T09:59:59"), ["BR-KSA-04"]);
}

#[test]
fn mutants_report_exactly_their_rules() {
    let context = Context {
        now: Some(NOW),
        ..Default::default()
    };
    for m in MUTANTS {
        let report = validate(&mutate(m), &context);
        let got: BTreeSet<&str> = report.issues.iter().map(|i| i.rule).collect();
        let want: BTreeSet<&str> = m.rules.iter().copied().collect();
        assert_eq!(got, want, "{}: {:#?}", m.name, report.issues);
        for issue in &report.issues {
            // `XSD` (the structure pass) is not a rule of the list; its findings are errors.
            let severity = zatca_rules::rule(issue.rule).map_or_else(
                || {
                    assert_eq!(issue.rule, "XSD");
                    Severity::Error
                },
                |r| r.severity,
            );
            assert_eq!(issue.severity, severity, "{}", issue.rule);
            assert!(!issue.message_ar.is_empty() && issue.location.starts_with("/Invoice"));
        }
        assert_eq!(
            report.valid,
            !report.issues.iter().any(|i| i.severity == Severity::Error)
        );
    }
}

#[test]
fn the_expected_pih_is_checked() {
    let path = repo().join("tests/fixtures/samples/sdk-R3.4.8/Standard/Invoice/Standard_Invoice.xml");
    let xml = fs::read(path).unwrap();
    let initial = "NWZlY2ViNjZmZmM4NmYzOGQ5NTI3ODZjNmQ2OTZjNzljMmRiYzIzOWRkNGU5MWI0NjcyOWQ3M2EyN2ZiNTdlOQ==";
    assert!(
        validate(
            &xml,
            &Context {
                pih: Some(initial),
                ..Default::default()
            }
        )
        .valid
    );
    let other = validate(
        &xml,
        &Context {
            pih: Some("AAAA"),
            ..Default::default()
        },
    );
    assert_eq!(other.issues.iter().map(|i| i.rule).collect::<Vec<_>>(), ["PIH"]);
    assert!(!other.valid);
}

#[test]
fn unreadable_documents_are_one_xml_finding() {
    for bad in [&b"<Invoice>"[..], b"\xff\xfe", b""] {
        let report = validate(bad, &Context::default());
        assert_eq!(report.issues.len(), 1);
        assert_eq!(report.issues[0].rule, "XML");
        assert!(!report.valid);
    }
}

/// The coverage table: every rule of the list with its implementation and the golden mutants
/// that report it. Fails when a rule of the list is neither implemented (with a mutant that
/// reports it) nor documented as never firing, when an implemented rule is not in the list, and
/// when the committed table is stale.
#[test]
fn coverage_table_is_current() {
    let ids: BTreeSet<&str> = catalogue().iter().map(|r| r.id).collect();
    assert_eq!(catalogue().len(), 245, "the R3.4.8 list");
    let mut md = String::from(
        "# ZATCA rule coverage\n\n\
         Generated by `cargo test -p zatca-rules` (`ZATCA_BLESS=1` to rewrite) from \
         `wasm/rules/data/schematron-rules-R3.4.8.tsv`, ZATCA's R3.4.8 schematron asserts. \
         *implemented* rules are checked by `zatca_rules::validate` (`wasm/rules/src/checks/`), each as \
         its assert in ZATCA's compiled schematrons reads (context, condition, severity); \
         *tests* are the golden mutants (`wasm/rules/tests/support/mutants.rs`) that report the rule. \
         *never fires* rules cannot be reported by ZATCA's own validator (the reason is given); \
         the test fails for a rule of the list that is neither. Before the rules, the XSD \
         structure pass (`wasm/rules/src/structure.rs`, tables generated from the UBL 2.1 XSDs) \
         reports what ZATCA's XSD stage rejects (element order, cardinalities, attributes, data \
         types) as `XSD`; its mutants are `wasm/rules/tests/support/structure_mutants.rs`.\n\n",
    );
    let implemented = IMPLEMENTED.len();
    md.push_str(&format!(
        "Implemented and tested: **{implemented} of {}** rules; {} can never fire.\n\n| rule | severity | source | status | tests |\n|---|---|---|---|---|\n",
        catalogue().len(),
        NEVER.len()
    ));
    for (id, ..) in IMPLEMENTED {
        assert!(ids.contains(id), "{id} is implemented but not in the list");
        assert!(
            MUTANTS.iter().any(|m| m.rules.contains(id)),
            "{id} is implemented but no mutant reports it"
        );
        assert!(
            !NEVER.iter().any(|(n, _)| n == id),
            "{id} is implemented and marked as never firing"
        );
    }
    for (id, reason) in NEVER {
        assert!(
            ids.contains(id) && !reason.is_empty(),
            "{id}: a rule of the list, with a reason"
        );
    }
    for rule in catalogue() {
        let done = IMPLEMENTED.iter().any(|(id, ..)| *id == rule.id);
        let never = NEVER.iter().find(|(id, _)| *id == rule.id).map(|(_, reason)| *reason);
        let tests: Vec<&str> = MUTANTS
            .iter()
            .filter(|m| m.rules.contains(&rule.id))
            .map(|m| m.name)
            .collect();
        let severity = if rule.severity == Severity::Error {
            "error"
        } else {
            "warning"
        };
        let status = match (done, never) {
            (true, _) => match NEEDS.iter().find(|(id, _)| *id == rule.id) {
                Some((_, input)) => format!("implemented, needs {input}"),
                None => "implemented".to_owned(),
            },
            (false, Some(reason)) => format!("never fires: {reason}"),
            (false, None) => panic!(
                "{} is in ZATCA's list but neither implemented nor documented as never firing",
                rule.id
            ),
        };
        md.push_str(&format!(
            "| {} | {severity} | {} | {status} | {} |\n",
            rule.id,
            rule.source,
            tests.join(", ")
        ));
    }
    md.push('\n');
    md.push_str(include_str!("support/agreement.md"));
    let path = repo().join("docs/rules.md");
    if std::env::var_os("ZATCA_BLESS").is_some() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &md).unwrap();
    }
    let committed = fs::read_to_string(&path).unwrap_or_default();
    assert!(committed == md, "docs/rules.md is stale: rerun with ZATCA_BLESS=1");
}

/// Every signed document of the golden corpus (what the core builds and signs) has no error.
#[test]
fn golden_corpus_has_no_errors() {
    let dir = repo().join("tests/fixtures/invoices");
    let mut n = 0;
    for case in fs::read_dir(&dir).unwrap() {
        let signed = case.unwrap().path().join("expected/signed.xml");
        if let Ok(xml) = fs::read(&signed) {
            n += 1;
            let report = validate(&xml, &Context::default());
            assert!(report.valid, "{}: {:#?}", signed.display(), report.issues);
        }
    }
    assert!(n >= 20, "found {n} signed corpus documents");
}

/// A document checked before signing (`Context::unsigned`) is not asked for what signing adds:
/// the golden corpus's unsigned simplified invoice lacks its stamp (BR-KSA-60) and QR code
/// (BR-KSA-27) only, which a document submitted as it is does report.
#[test]
fn an_unsigned_document_is_not_asked_for_its_stamp() {
    let xml = fs::read(repo().join("tests/fixtures/invoices/simplified-invoice/expected/unsigned.xml")).unwrap();
    let submitted = validate(&xml, &Context::default());
    let ids: BTreeSet<&str> = submitted.issues.iter().map(|i| i.rule).collect();
    assert_eq!(
        ids,
        BTreeSet::from(["BR-KSA-27", "BR-KSA-60"]),
        "{:#?}",
        submitted.issues
    );
    let before_signing = validate(
        &xml,
        &Context {
            unsigned: true,
            ..Default::default()
        },
    );
    assert!(
        before_signing.valid && before_signing.issues.is_empty(),
        "{:#?}",
        before_signing.issues
    );
}
