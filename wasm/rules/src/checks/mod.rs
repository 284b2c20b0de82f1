//! The rule implementations, over the core's XML tree. Each reads what its schematron assert
//! reads; locations are written as `/Invoice/cac:X[n]/cbc:Y` (1-based positions where an
//! element repeats).

use zatca_core::xml;

use crate::{Context, Finding, Severity};

mod allowances;
mod chain;
mod code_lists;
mod header;
mod lines;
mod messages;
mod parties;
mod prepayment;
mod totals;
mod tree;
mod vat;

// Issue 11 (b): the stamp, formats, code lists and arithmetic rules.
mod anywhere;
mod arithmetic;
mod formats;
mod stamp;

pub use messages::{IMPLEMENTED, NEEDS, NEVER};

/// Findings of rules that are not in ZATCA's list.
const XML_AR: &str = "تعذّرت قراءة المستند: ليس مستند XML سليماً بترميز UTF-8.";
pub(super) const PIH_AR: &str = "تجزئة الفاتورة السابقة (KSA-13) ليست التجزئة المتوقعة.";

pub(super) struct Out {
    pub(super) findings: Vec<Finding>,
}

impl Out {
    /// Reports rule `id`. A rule must be in [`IMPLEMENTED`] (with its Arabic message and a golden
    /// mutant) to be reported: a check written ahead of its verification stays silent.
    pub(super) fn hit(&mut self, id: &'static str, location: impl Into<String>, detail: Option<String>) {
        let Some((_, message_ar, hint)) = IMPLEMENTED.iter().find(|(i, ..)| *i == id) else {
            return;
        };
        let (message_ar, hint) = (*message_ar, *hint);
        let (severity, message) = crate::rule(id).map_or((Severity::Error, ""), |r| (r.severity, r.message));
        self.findings.push(Finding {
            rule: id,
            severity,
            location: location.into(),
            message,
            message_ar,
            hint,
            detail,
        });
    }
}

/// What kind of document this is, as the KSA schematron tells (from any `name` attribute).
pub(super) struct Kind {
    /// `//*[matches(@name, '01\d{5}')]`: a standard invoice or note.
    pub(super) standard: bool,
    /// `//*[matches(@name, '02\d{5}')]`: a simplified invoice or note.
    pub(super) simplified: bool,
    /// `//cbc:InvoiceTypeCode[matches(@name, '02\d{5}')]`.
    pub(super) simplified_code: bool,
    /// `//*[matches(@name, '02\d{3}1\d')]`: a simplified summary.
    pub(super) simplified_summary: bool,
}

/// The finding of a document that is not well-formed UTF-8 XML (no rule can be checked).
pub(crate) fn unreadable(err: &zatca_core::Error) -> Finding {
    Finding {
        rule: "XML",
        severity: Severity::Error,
        location: "/".into(),
        message: "the document is not well-formed UTF-8 XML",
        message_ar: XML_AR,
        hint: None,
        detail: Some(err.to_string()),
    }
}

pub(crate) fn run(doc: &xml::Document<'_>, context: &Context<'_>) -> Vec<Finding> {
    let mut out = Out { findings: Vec::new() };
    let root = &doc.root;
    let at = |path: &str| format!("/{}{path}", root.name);
    let type_name = root
        .child(xml::NS_CBC, "InvoiceTypeCode")
        .and_then(|t| t.attr("name"))
        .unwrap_or_default();
    let mut kind = Kind {
        standard: false,
        simplified: false,
        simplified_code: contains_code(type_name, "02"),
        simplified_summary: false,
    };
    names(root, &mut kind);
    header::header(root, &at, &mut out);
    header::transaction(root, &at, &mut out);
    chain::chain(root, &at, context, &mut out);
    parties::seller(root, &at, &mut out);
    vat::categories(root, &at, &mut out);
    totals::totals(root, &at, &mut out);
    header::details(root, &at, &mut out);
    parties::parties(root, &kind, &at, &mut out);
    lines::lines(root, &kind, &at, &mut out);
    allowances::allowances(root, &at, &mut out);
    vat::breakdown(root, &at, &mut out);
    vat::category_sums(root, &at, &mut out);
    totals::more(root, &at, &mut out);
    code_lists::lists(root, &kind, &at, &mut out);
    chain::attachments(root, &kind, &at, &mut out);
    prepayment::prepayment(root, &at, &mut out);
    if let Some(now) = context.now {
        header::clock(root, now, &at, &mut out);
    }
    // Issue 11 (b).
    let found = anywhere::Anywhere::gather(root);
    anywhere::rules(root, &found, &at, &mut out);
    stamp::stamp(root, &found, &kind, &at, &mut out);
    formats::amounts(root, &at, &mut out);
    formats::line_exemption_codes(root, &at, &mut out);
    arithmetic::breakdown_vat(root, &at, &mut out);
    arithmetic::line_amounts(root, &at, &mut out);
    arithmetic::two_currencies(root, &at, &mut out);
    if context.unsigned {
        out.findings.retain(|f| !stamp::ADDED_BY_SIGNING.contains(&f.rule));
    }
    out.findings
}

/// One walk over every `name` attribute for the KSA schematron's `boolean(//*[matches(@name,
/// '01\d{5}')])` (standard), `'02\d{5}'` (simplified) and `'02\d{3}1\d'` (simplified summary).
fn names(el: &xml::Element<'_>, kind: &mut Kind) {
    if let Some(n) = el.attr("name") {
        kind.standard |= contains_code(n, "01");
        kind.simplified |= contains_code(n, "02");
        kind.simplified_summary |= n.as_bytes().windows(7).any(|w| {
            w.starts_with(b"02") && w[2..5].iter().all(u8::is_ascii_digit) && w[5] == b'1' && w[6].is_ascii_digit()
        });
    }
    for child in el.elements() {
        names(child, kind);
    }
}

/// Whether `name` contains `prefix` followed by five digits.
fn contains_code(name: &str, prefix: &str) -> bool {
    name.char_indices().any(|(i, _)| {
        name[i..].starts_with(prefix)
            && name[i + prefix.len()..]
                .bytes()
                .take(5)
                .filter(u8::is_ascii_digit)
                .count()
                == 5
    })
}
