//! The invoice chain: the counter (ICV) and the previous invoice hash (PIH).

use zatca_core::xml::{Element, NS_CAC, NS_CBC};

use super::tree::{blank, cbc, chars, ns, reference, sv, text};
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
    let object = reference(root, "PIH")
        .and_then(|r| r.path(&[(NS_CAC, "Attachment"), (NS_CBC, "EmbeddedDocumentBinaryObject")]));
    // BR-KSA-61 also wants the hash as a text/plain attachment.
    let plain = object.is_some_and(|o| ns(o.attr("mimeCode").unwrap_or_default()) == "text/plain");
    let pih = text(object).filter(|_| plain);
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

/// The document references and attachments: BR-52 (each has an ID), BR-KSA-26 (the PIH's
/// attachment), BR-KSA-27 and BR-CL-KSA-14 (a simplified document's QR code).
pub(super) fn attachments(root: &Element<'_>, kind: &super::Kind, at: &dyn Fn(&str) -> String, out: &mut Out) {
    for (i, r) in root
        .elements()
        .filter(|e| e.is(NS_CAC, "AdditionalDocumentReference"))
        .enumerate()
    {
        if sv(cbc(r, "ID")).is_empty() {
            out.hit(
                "BR-52",
                at(&format!("/cac:AdditionalDocumentReference[{}]/cbc:ID", i + 1)),
                None,
            );
        }
    }
    let object = |id: &str| {
        reference(root, id).and_then(|r| r.path(&[(NS_CAC, "Attachment"), (NS_CBC, "EmbeddedDocumentBinaryObject")]))
    };
    let text_plain =
        |o: Option<&Element<'_>>| o.is_some_and(|o| ns(o.attr("mimeCode").unwrap_or_default()) == "text/plain");
    if let Some(attachment) = reference(root, "PIH").and_then(|r| r.child(NS_CAC, "Attachment")) {
        let o = cbc(attachment, "EmbeddedDocumentBinaryObject");
        if !(o.is_some_and(|o| !o.text().is_empty()) && text_plain(o)) {
            out.hit(
                "BR-KSA-26",
                at("/cac:AdditionalDocumentReference[cbc:ID='PIH']/cac:Attachment"),
                None,
            );
        }
    }
    let qr = object("QR");
    let qr_path = "/cac:AdditionalDocumentReference[cbc:ID='QR']/cac:Attachment/cbc:EmbeddedDocumentBinaryObject";
    if kind.simplified && !(qr.is_some() && !blank(qr) && text_plain(qr)) {
        out.hit("BR-KSA-27", at(qr_path), None);
    }
    if qr.is_some() && (chars(qr) > 1000 || chars(qr) < 1) {
        out.hit("BR-CL-KSA-14", at(qr_path), Some(format!("{} characters", chars(qr))));
    }
}
