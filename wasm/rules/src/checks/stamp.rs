//! The cryptographic stamp of a simplified document: BR-KSA-60 (it exists) and BR-KSA-28, 29,
//! 30 (its signature information and method). All four need `//*[@name]` to say "simplified"
//! and are skipped for a document checked before signing ([`crate::Context::unsigned`]).

use zatca_core::xml::{Element, NS_CAC, NS_CBC, NS_EXT};

use super::Out;
use super::anywhere::Anywhere;
use super::tree::{is, ns, sv};

const NS_SIG: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonSignatureComponents-2";
const NS_SAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:SignatureAggregateComponents-2";
const NS_SBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:SignatureBasicComponents-2";

const SIGNATURE_INFORMATION_ID: &str = "urn:oasis:names:specification:ubl:signature:1";
const SIGNATURE_ID: &str = "urn:oasis:names:specification:ubl:signature:Invoice";
const SIGNATURE_METHOD: &str = "urn:oasis:names:specification:ubl:dsig:enveloped:xades";

/// The rules this module reports, and BR-KSA-27 (the QR code, also added at signing): what a
/// document checked before signing is not asked for.
pub(super) const ADDED_BY_SIGNING: &[&str] = &["BR-KSA-27", "BR-KSA-28", "BR-KSA-29", "BR-KSA-30", "BR-KSA-60"];

/// `//ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sig:UBLDocumentSignatures/
/// sac:SignatureInformation/X`.
fn signature_information<'e, 'a>(extensions: &[&'e Element<'a>], ns: &str, local: &str) -> Vec<&'e Element<'a>> {
    let mut found = Vec::new();
    for exts in extensions {
        for ext in exts.elements().filter(|e| is(e, NS_EXT, "UBLExtension")) {
            for content in ext.elements().filter(|e| is(e, NS_EXT, "ExtensionContent")) {
                for sigs in content.elements().filter(|e| is(e, NS_SIG, "UBLDocumentSignatures")) {
                    for info in sigs.elements().filter(|e| is(e, NS_SAC, "SignatureInformation")) {
                        found.extend(info.elements().filter(|e| is(e, ns, local)));
                    }
                }
            }
        }
    }
    found
}

/// BR-KSA-60 on the simplified `cbc:InvoiceTypeCode` (`exists(//cac:Signature) and
/// (//cac:Signature) != ''`), then BR-KSA-28, 29, 30 on each `cac:AdditionalDocumentReference/
/// cac:Attachment` but the PIH's (a rule of higher priority takes those), in a simplified
/// document (`//*[matches(@name, '02\d{5}')]`).
pub(super) fn stamp(
    root: &Element<'_>,
    found: &Anywhere<'_, '_>,
    kind: &super::Kind,
    at: &dyn Fn(&str) -> String,
    out: &mut Out,
) {
    let signatures = &found.signatures;
    let simplified_type = root
        .child(NS_CBC, "InvoiceTypeCode")
        .and_then(|t| t.attr("name"))
        .is_some_and(|n| n.starts_with("02"));
    if simplified_type && !signatures.iter().any(|s| !s.text().is_empty()) {
        out.hit("BR-KSA-60", at("/cac:Signature"), None);
    }
    if !kind.simplified {
        return;
    }
    let attachments: Vec<(String, &Element<'_>)> = found
        .references
        .iter()
        .filter(|r| {
            let ids: Vec<&Element<'_>> = r.elements().filter(|e| is(e, NS_CBC, "ID")).collect();
            // normalize-space(cbc:ID) = 'PIH' (one ID; with none it is '').
            !(ids.len() == 1 && ns(&ids[0].text()) == "PIH")
        })
        .flat_map(|r| {
            let id = sv(r.elements().find(|e| is(e, NS_CBC, "ID")));
            r.elements()
                .filter(|e| is(e, NS_CAC, "Attachment"))
                .map(move |a| (id.clone(), a))
        })
        .collect();
    if attachments.is_empty() {
        return;
    }
    // General comparisons: true when any of the nodes has the value.
    let info_id = signature_information(&found.extensions, NS_CBC, "ID")
        .iter()
        .any(|e| e.text() == SIGNATURE_INFORMATION_ID);
    let referenced = signature_information(&found.extensions, NS_SBC, "ReferencedSignatureID");
    let child_is = |local: &str, value: &str| {
        signatures
            .iter()
            .any(|s| s.elements().any(|e| is(e, NS_CBC, local) && e.text() == value))
    };
    let signature_id = child_is("ID", SIGNATURE_ID);
    let method = child_is("SignatureMethod", SIGNATURE_METHOD);
    // normalize-space() of more than one ReferencedSignatureID is an XPath type error: ZATCA's
    // schematron stops there and reports nothing.
    let referenced_ok = match referenced.as_slice() {
        [] => Some(false),
        [one] => Some(ns(&one.text()) == SIGNATURE_ID),
        _ => None,
    };
    for (id, attachment) in attachments {
        let path = at(&format!(
            "/cac:AdditionalDocumentReference[cbc:ID='{}']/cac:Attachment",
            ns(&id)
        ));
        let object = attachment
            .elements()
            .filter(|e| is(e, NS_CBC, "EmbeddedDocumentBinaryObject"))
            .any(|o| !o.text().is_empty());
        if !(object && info_id) {
            out.hit("BR-KSA-28", path.clone(), None);
        }
        if referenced_ok.is_some_and(|ok| !(signature_id && ok)) {
            out.hit("BR-KSA-29", path.clone(), None);
        }
        if !(object && method) {
            out.hit("BR-KSA-30", path, None);
        }
    }
}
