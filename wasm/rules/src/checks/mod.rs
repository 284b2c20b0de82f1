//! The rule implementations, over the core's XML tree. Each reads what its schematron assert
//! reads; locations are written as `/Invoice/cac:X[n]/cbc:Y` (1-based positions where an
//! element repeats).

use zatca_core::xml;

use crate::{Context, Finding, Severity};

mod chain;
mod code_lists;
mod header;
mod messages;
mod parties;
mod totals;
mod tree;
mod vat;

pub use messages::IMPLEMENTED;

/// Findings of rules that are not in ZATCA's list.
const XML_AR: &str = "تعذّرت قراءة المستند: ليس مستند XML سليماً بترميز UTF-8.";
pub(super) const PIH_AR: &str = "تجزئة الفاتورة السابقة (KSA-13) ليست التجزئة المتوقعة.";

pub(super) struct Out {
    pub(super) findings: Vec<Finding>,
}

impl Out {
    pub(super) fn hit(&mut self, id: &'static str, location: impl Into<String>, detail: Option<String>) {
        let (severity, message) = crate::rule(id).map_or((Severity::Error, ""), |r| (r.severity, r.message));
        let (message_ar, hint) = IMPLEMENTED
            .iter()
            .find(|(i, ..)| *i == id)
            .map_or(("", None), |(_, ar, hint)| (*ar, *hint));
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

pub(crate) fn run(bytes: &[u8], context: &Context<'_>) -> Vec<Finding> {
    let mut out = Out { findings: Vec::new() };
    let doc = match xml::utf8(bytes).and_then(xml::parse) {
        Ok(doc) => doc,
        Err(e) => {
            out.findings.push(Finding {
                rule: "XML",
                severity: Severity::Error,
                location: "/".into(),
                message: "the document is not well-formed UTF-8 XML",
                message_ar: XML_AR,
                hint: None,
                detail: Some(e.to_string()),
            });
            return out.findings;
        }
    };
    let root = &doc.root;
    let at = |path: &str| format!("/{}{path}", root.name);
    header::header(root, &at, &mut out);
    header::transaction(root, &at, &mut out);
    chain::chain(root, &at, context, &mut out);
    parties::seller(root, &at, &mut out);
    vat::categories(root, &at, &mut out);
    totals::totals(root, &at, &mut out);
    out.findings
}
