//! Verification of a signed document, as ZATCA checks it: invoice hash against the
//! `DigestValue`, ECDSA signature against the embedded certificate, SignedProperties digest,
//! certificate digest and issuer/serial, fixed signature identifiers, QR tags, and the PIH.

use k256::ecdsa::Signature;
use k256::ecdsa::signature::Verifier as _;

use crate::cert::Certificate;
use crate::error::{Code, Issue, Result, part};
use crate::hash;
use crate::qr;
use crate::sign::{additional_reference, icv, is_simplified, qr_base_fields};
use crate::xades::hex_base64_digest;
use crate::xml::{self, Document, Element, NS_CAC, NS_CBC, NS_DS, NS_EXT, NS_XADES};

const NS_SIG: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonSignatureComponents-2";
const NS_SAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:SignatureAggregateComponents-2";
const NS_SBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:SignatureBasicComponents-2";

/// What verification found out about a document.
#[derive(Debug, Clone)]
pub struct Verification {
    /// Problems found; empty when the document verifies.
    pub issues: Vec<Issue>,
    /// The recomputed invoice hash (base64).
    pub hash: String,
    /// `cbc:UUID`; empty when absent.
    pub uuid: String,
    /// ICV, when present and numeric.
    pub icv: Option<u64>,
    /// PIH written in the document.
    pub pih: Option<String>,
    /// `cbc:InvoiceTypeCode` text (388, 381, 383, 386); empty when absent.
    pub invoice_type_code: String,
    /// `cbc:InvoiceTypeCode/@name` (KSA-2); empty when absent.
    pub transaction_code: String,
    /// Whether KSA-2 starts with `02`.
    pub is_simplified: bool,
    /// `cbc:IssueDate`; empty when absent.
    pub issue_date: String,
    /// `cbc:IssueTime`; empty when absent.
    pub issue_time: String,
    /// Seller VAT number; empty when absent.
    pub seller_vat: String,
    /// The certificate embedded in the signature, when it parses.
    pub certificate: Option<Certificate>,
    /// The decoded QR fields, when present and decodable.
    pub qr: Option<qr::QrFields>,
}

impl Verification {
    /// Whether no error was found.
    pub fn is_ok(&self) -> bool {
        self.issues.is_empty()
    }
}

fn problem(code: Code, message: impl Into<String>) -> Issue {
    Issue::error(code, message)
}

/// Verifies a signed document. `Err` only when the bytes are not a parseable XML document;
/// every other finding is an issue in the returned report. With `expected_pih`, the document's
/// PIH must equal it.
pub fn verify(xml_bytes: &[u8], expected_pih: Option<&str>) -> Result<Verification> {
    let src = xml::utf8(xml_bytes)?;
    let doc = xml::parse(src)?;
    let mut issues = Vec::new();
    let computed = hash::hash_document(&doc);
    let hash_b64 = computed.to_base64();
    let text = |local: &str| {
        doc.root
            .elements()
            .find(|e| e.ns == NS_CBC && e.local_name() == local)
            .map_or_else(String::new, Element::text)
    };
    let type_code = doc.root.child(NS_CBC, "InvoiceTypeCode");
    let mut report = Verification {
        issues: Vec::new(),
        hash: hash_b64.clone(),
        uuid: text("UUID"),
        icv: icv(&doc).and_then(|v| v.parse().ok()),
        pih: attachment(&doc, "PIH"),
        invoice_type_code: type_code.map_or_else(String::new, Element::text),
        transaction_code: type_code.and_then(|e| e.attr("name")).unwrap_or("").to_owned(),
        is_simplified: is_simplified(&doc),
        issue_date: text("IssueDate"),
        issue_time: text("IssueTime"),
        seller_vat: doc
            .root
            .path(&[
                (NS_CAC, "AccountingSupplierParty"),
                (NS_CAC, "Party"),
                (NS_CAC, "PartyTaxScheme"),
                (NS_CBC, "CompanyID"),
            ])
            .map_or_else(String::new, Element::text),
        certificate: None,
        qr: None,
    };
    if !doc.root.is(xml::NS_INVOICE, "Invoice") {
        issues.push(problem(
            Code::NotAnInvoice,
            "the root element must be a UBL 2.1 Invoice",
        ));
    }
    match icv(&doc) {
        None => issues.push(problem(Code::MissingIcv, "the document has no ICV").rule("BR-KSA-33")),
        Some(v) if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) => {
            issues.push(problem(Code::InvalidIcv, "the ICV must contain only digits").rule("BR-KSA-34"));
        }
        Some(_) => {}
    }
    match (&report.pih, expected_pih) {
        (None, _) => issues.push(problem(Code::MissingPih, "the document has no PIH").rule("BR-KSA-61")),
        (Some(found), Some(expected)) if found != expected => issues.push(
            problem(
                Code::PihMismatch,
                format!("PIH is {found}, expected {expected} (the hash of the previous document)"),
            )
            .rule("BR-KSA-26"),
        ),
        _ => {}
    }
    check_signature_reference(&doc, &mut issues);
    let signature = check_xades(src, &doc, &computed, &mut issues, &mut report);
    check_qr(&doc, &hash_b64, signature.as_deref(), &mut issues, &mut report);
    report.issues = issues;
    Ok(report)
}

/// The QR payload (base64 TLV) embedded in a document.
pub fn embedded_qr(xml_bytes: &[u8]) -> Result<String> {
    let doc = xml::parse(xml::utf8(xml_bytes)?)?;
    attachment(&doc, "QR")
        .ok_or_else(|| crate::Error::new(Code::MissingQr, "the document has no QR code").rule("BR-KSA-27"))
}

/// The embedded text of an `AdditionalDocumentReference` attachment (PIH, QR), whitespace removed.
fn attachment(doc: &Document, id: &str) -> Option<String> {
    additional_reference(doc, id)
        .and_then(|r| r.path(&[(NS_CAC, "Attachment"), (NS_CBC, "EmbeddedDocumentBinaryObject")]))
        .map(|e| e.text().split_whitespace().collect())
}

fn check_signature_reference(doc: &Document, issues: &mut Vec<Issue>) {
    let sig = doc.root.child(NS_CAC, "Signature");
    let id = sig.and_then(|s| s.child(NS_CBC, "ID")).map(Element::text);
    let method = sig.and_then(|s| s.child(NS_CBC, "SignatureMethod")).map(Element::text);
    if id.as_deref() != Some("urn:oasis:names:specification:ubl:signature:Invoice") {
        issues.push(
            problem(
                Code::InvalidSignatureReference,
                "cac:Signature/cbc:ID must be urn:oasis:names:specification:ubl:signature:Invoice",
            )
            .rule("BR-KSA-29"),
        );
    }
    if method.as_deref() != Some("urn:oasis:names:specification:ubl:dsig:enveloped:xades") {
        issues.push(
            problem(
                Code::InvalidSignatureReference,
                "cac:Signature/cbc:SignatureMethod must be urn:oasis:names:specification:ubl:dsig:enveloped:xades",
            )
            .rule("BR-KSA-30"),
        );
    }
}

/// Checks the XAdES block; returns the SignatureValue text when present.
fn check_xades(
    src: &str,
    doc: &Document,
    computed: &hash::InvoiceHash,
    issues: &mut Vec<Issue>,
    report: &mut Verification,
) -> Option<String> {
    let info = doc.root.path(&[
        (NS_EXT, "UBLExtensions"),
        (NS_EXT, "UBLExtension"),
        (NS_EXT, "ExtensionContent"),
        (NS_SIG, "UBLDocumentSignatures"),
        (NS_SAC, "SignatureInformation"),
    ]);
    let Some(info) = info else {
        issues.push(
            problem(
                Code::MissingSignature,
                "the document has no XAdES signature (ext:UBLExtensions)",
            )
            .rule("BR-KSA-60"),
        );
        return None;
    };
    if info.child(NS_CBC, "ID").map(Element::text).as_deref() != Some("urn:oasis:names:specification:ubl:signature:1") {
        issues.push(
            problem(
                Code::InvalidSignatureInformation,
                "SignatureInformation/cbc:ID must be urn:oasis:names:specification:ubl:signature:1",
            )
            .rule("BR-KSA-28"),
        );
    }
    if info
        .child(NS_SBC, "ReferencedSignatureID")
        .map(Element::text)
        .as_deref()
        != Some("urn:oasis:names:specification:ubl:signature:Invoice")
    {
        issues.push(
            problem(
                Code::InvalidSignatureInformation,
                "ReferencedSignatureID must be urn:oasis:names:specification:ubl:signature:Invoice",
            )
            .rule("BR-KSA-29"),
        );
    }
    let Some(sig) = info.child(NS_DS, "Signature") else {
        issues.push(problem(Code::MissingSignature, "the document has no ds:Signature"));
        return None;
    };
    // No SignedInfo: no references, so both digests below are reported missing.
    let references: Vec<&Element> = sig.child(NS_DS, "SignedInfo").map_or_else(Vec::new, |s| {
        s.elements().filter(|e| e.is(NS_DS, "Reference")).collect()
    });
    let digest_of = |r: &Element| r.child(NS_DS, "DigestValue").map(|d| d.text().trim().to_owned());
    let invoice_digest = references
        .iter()
        .find(|r| r.attr("Id") == Some("invoiceSignedData"))
        .and_then(|r| digest_of(r));
    let props_digest = references
        .iter()
        .find(|r| r.attr("URI") == Some("#xadesSignedProperties"))
        .and_then(|r| digest_of(r));
    let hash_b64 = computed.to_base64();
    if invoice_digest.as_deref() != Some(hash_b64.as_str()) {
        issues.push(problem(
            Code::InvoiceHashMismatch,
            format!(
                "the document hashes to {hash_b64}, but the signature's DigestValue says {}",
                invoice_digest.as_deref().unwrap_or("nothing")
            ),
        ));
    }
    let signature_value = sig
        .child(NS_DS, "SignatureValue")
        .map(|e| e.text().split_whitespace().collect::<String>());
    let cert_text = sig
        .path(&[(NS_DS, "KeyInfo"), (NS_DS, "X509Data"), (NS_DS, "X509Certificate")])
        .map(|e| e.text().split_whitespace().collect::<String>());
    let certificate = match cert_text.as_deref().map(Certificate::parse) {
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => {
            issues.push(problem(
                Code::InvalidCertificate,
                format!("the embedded certificate does not parse: {e}"),
            ));
            None
        }
        None => {
            issues.push(problem(
                Code::MissingCertificate,
                "the signature carries no X509Certificate",
            ));
            None
        }
    };
    match (&certificate, &signature_value) {
        (Some(cert), Some(value)) => {
            let verified = crate::prim::b64::decode(value)
                .ok()
                .and_then(|der| Signature::from_der(&der).ok())
                .zip(cert.verifying_key().ok())
                .is_some_and(|(s, key)| {
                    // Third-party signers may emit high-S signatures; ECDSA accepts both.
                    let s = s.normalize_s();
                    key.verify(&computed.0, &s).is_ok()
                });
            if !verified {
                issues.push(problem(
                    Code::InvalidSignature,
                    "the signature value does not verify with the certificate's public key over the invoice hash",
                ));
            }
        }
        (_, None) => issues.push(problem(
            Code::MissingSignatureValue,
            "the signature has no SignatureValue",
        )),
        _ => {}
    }

    let props = sig.path(&[
        (NS_DS, "Object"),
        (NS_XADES, "QualifyingProperties"),
        (NS_XADES, "SignedProperties"),
    ]);
    match props {
        None => issues.push(problem(
            Code::MissingSignedProperties,
            "the signature has no xades:SignedProperties",
        )),
        Some(props) => {
            match standalone_signed_properties(src, props) {
                Ok(input) if props_digest.as_deref() == Some(hex_base64_digest(input.as_bytes()).as_str()) => {}
                Ok(_) => issues.push(problem(
                    Code::SignedPropertiesDigestMismatch,
                    "the SignedProperties digest does not match (xades-Signed-Properties-Digest-Value)",
                )),
                Err(e) => issues.extend(e.issues().iter().cloned()),
            }
            let cert_props = props.path(&[
                (NS_XADES, "SignedSignatureProperties"),
                (NS_XADES, "SigningCertificate"),
                (NS_XADES, "Cert"),
            ]);
            let cert_digest = cert_props
                .and_then(|c| c.path(&[(NS_XADES, "CertDigest"), (NS_DS, "DigestValue")]))
                .map(Element::text);
            let issuer = cert_props
                .and_then(|c| c.path(&[(NS_XADES, "IssuerSerial"), (NS_DS, "X509IssuerName")]))
                .map(Element::text);
            let serial = cert_props
                .and_then(|c| c.path(&[(NS_XADES, "IssuerSerial"), (NS_DS, "X509SerialNumber")]))
                .map(Element::text);
            if let Some(text) = &cert_text {
                if cert_digest.as_deref() != Some(hex_base64_digest(text.as_bytes()).as_str()) {
                    issues.push(problem(Code::CertDigestMismatch, "the certificate digest does not match the embedded certificate (Signing-Certificate-Digest-Value)"));
                }
            }
            if let Some(cert) = &certificate {
                if issuer.as_deref() != Some(cert.issuer_name()) {
                    issues.push(problem(
                        Code::IssuerNameMismatch,
                        format!("X509IssuerName should be `{}`", cert.issuer_name()),
                    ));
                }
                if serial.as_deref() != Some(cert.serial_decimal()) {
                    issues.push(problem(
                        Code::SerialNumberMismatch,
                        format!("X509SerialNumber should be {}", cert.serial_decimal()),
                    ));
                }
            }
        }
    }
    report.certificate = certificate;
    signature_value
}

/// The SignedProperties digest input: the element's own text with the namespace declarations a
/// standalone serialisation adds, and no carriage returns (SPEC §7.3). The positions are the
/// parser's spans of `src`; one outside it is an `internal` error.
fn standalone_signed_properties(src: &str, props: &Element) -> Result<String> {
    let mut inserts: Vec<(usize, String)> = Vec::new();
    inserts.push((
        props.start + 1 + props.name.len(),
        format!(" xmlns:{}=\"{NS_XADES}\"", prefix(props.name)),
    ));
    collect_ds_inserts(props, &mut inserts);
    inserts.sort_by_key(|(pos, _)| *pos);
    let mut out = String::with_capacity(props.end - props.start + 400);
    let mut pos = props.start;
    for (at, text) in inserts {
        out.push_str(part(src, pos..at)?);
        out.push_str(&text);
        pos = at;
    }
    out.push_str(part(src, pos..props.end)?);
    Ok(out.replace('\r', ""))
}

fn prefix(name: &str) -> &str {
    name.split_once(':').map_or("", |(p, _)| p)
}

fn collect_ds_inserts(el: &Element, inserts: &mut Vec<(usize, String)>) {
    for child in el.elements() {
        if child.ns == NS_DS {
            inserts.push((
                child.start + 1 + child.name.len(),
                format!(" xmlns:{}=\"{NS_DS}\"", prefix(child.name)),
            ));
        }
        collect_ds_inserts(child, inserts);
    }
}

fn check_qr(
    doc: &Document,
    hash_b64: &str,
    signature: Option<&str>,
    issues: &mut Vec<Issue>,
    report: &mut Verification,
) {
    let Some(text) = attachment(doc, "QR") else {
        issues.push(problem(Code::MissingQr, "the document has no QR code").rule("BR-KSA-27"));
        return;
    };
    if text.len() > 1000 {
        issues.push(problem(Code::QrTooLong, "the QR code is longer than 1000 characters").rule("BR-CL-KSA-14"));
    }
    let fields = match qr::decode_fields(&text) {
        Ok(f) => f,
        Err(e) => {
            issues.push(problem(Code::InvalidQr, format!("the QR code does not decode: {e}")).rule("BR-KSA-27"));
            return;
        }
    };
    let qr_problem = |what: &str| problem(Code::QrMismatch, format!("QR {what} does not match the document"));
    if let Ok(base) = qr_base_fields(doc) {
        if fields.seller_name != base.seller_name {
            issues.push(qr_problem("tag 1 (seller name)"));
        }
        if fields.vat_number != base.vat_number {
            issues.push(qr_problem("tag 2 (VAT number)"));
        }
        if fields.timestamp.trim_end_matches('Z') != base.timestamp.trim_end_matches('Z') {
            issues.push(qr_problem("tag 3 (timestamp)"));
        }
        // Newer SDK samples put PayableAmount in tag 4 where it differs (SPEC §8): accept both.
        let payable = doc
            .root
            .path(&[(NS_CAC, "LegalMonetaryTotal"), (NS_CBC, "PayableAmount")])
            .map(Element::text);
        if fields.total_with_vat != base.total_with_vat && Some(&fields.total_with_vat) != payable.as_ref() {
            issues.push(qr_problem("tag 4 (total with VAT)"));
        }
        if fields.vat_total != base.vat_total {
            issues.push(qr_problem("tag 5 (VAT total)"));
        }
    }
    if fields.invoice_hash.as_deref() != Some(hash_b64) {
        issues.push(problem(
            Code::QrHashMismatch,
            "QR tag 6 is not the invoice hash (invoiceHash_QRCODE_INVALID)",
        ));
    }
    if signature.is_some() && fields.signature.as_deref() != signature {
        issues.push(qr_problem("tag 7 (signature)"));
    }
    if let Some(cert) = &report.certificate {
        if fields.public_key.as_deref() != Some(cert.public_key_der()) {
            issues.push(qr_problem("tag 8 (public key)"));
        }
        match (&fields.certificate_signature, report.is_simplified) {
            (Some(sig), true) if sig.as_slice() != cert.signature() => {
                issues.push(problem(
                    Code::QrMismatch,
                    "QR tag 9 is not the certificate's signature (CERTIFICATE_SIGNATURE_QRCODE_INVALID)",
                ));
            }
            (None, true) => issues.push(problem(
                Code::QrMismatch,
                "QR tag 9 (certificate signature) is required on simplified documents",
            )),
            _ => {}
        }
    }
    report.qr = Some(fields);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(file: &str) -> Vec<u8> {
        let path = format!("{}/../../tests/fixtures/samples/{file}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn every_sdk_sample_verifies() {
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/samples/test-vectors.json"))
                .expect("test vectors");
        let list = vectors.as_array().expect("a list of test vectors");
        assert!(!list.is_empty());
        for v in list {
            let file = v["file"].as_str().expect("file");
            let report = verify(&sample(file), None).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(report.is_ok(), "{file}: {:#?}", report.issues);
        }
    }

    #[test]
    fn broken_samples_fail_for_the_right_reason() {
        let bad_sig =
            verify(&sample("broken/Simplified_Invoice_bad_signature.xml"), None).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            bad_sig.issues.iter().any(|i| i.code == "invalid_signature"),
            "{:#?}",
            bad_sig.issues
        );
        let tampered =
            verify(&sample("broken/Simplified_Invoice_tampered_total.xml"), None).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            tampered.issues.iter().any(|i| i.code == "invoice_hash_mismatch"),
            "{:#?}",
            tampered.issues
        );
    }
}
