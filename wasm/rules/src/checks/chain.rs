//! The invoice chain: the counter (ICV) and the previous invoice hash (PIH).

use zatca_core::xml::{Element, NS_CAC, NS_CBC};

use super::tree::{cbc, reference, text};
use super::{Out, PIH_AR};
use crate::{Context, Finding, Severity};

pub(super) fn chain(root: &Element<'_>, at: &dyn Fn(&str) -> String, context: &Context<'_>, out: &mut Out) {
    match reference(root, "ICV").and_then(|r| text(cbc(r, "UUID"))) {
        None => out.hit(
            "BR-KSA-33",
            at("/cac:AdditionalDocumentReference[cbc:ID='ICV']/cbc:UUID"),
            None,
        ),
        Some(v) if !v.bytes().all(|b| b.is_ascii_digit()) => {
            out.hit(
                "BR-KSA-34",
                at("/cac:AdditionalDocumentReference[cbc:ID='ICV']/cbc:UUID"),
                Some(v),
            );
        }
        Some(_) => {}
    }
    let pih_path = "/cac:AdditionalDocumentReference[cbc:ID='PIH']/cac:Attachment/cbc:EmbeddedDocumentBinaryObject";
    let pih = reference(root, "PIH")
        .and_then(|r| text(r.path(&[(NS_CAC, "Attachment"), (NS_CBC, "EmbeddedDocumentBinaryObject")])));
    match (&pih, context.pih) {
        (None, _) => out.hit("BR-KSA-61", at(pih_path), None),
        (Some(found), Some(expected)) if found != expected.trim() => out.findings.push(Finding {
            rule: "PIH",
            severity: Severity::Error,
            location: at(pih_path),
            message: "the previous invoice hash (KSA-13) is not the expected one",
            message_ar: PIH_AR,
            hint: Some("use the hash of the previous document of this EGS unit"),
            detail: Some(format!("found {found}, expected {}", expected.trim())),
        }),
        _ => {}
    }
}
