//! Signing (SPEC §5): hash the document, sign the hash with secp256k1 (RFC 6979, so the output
//! is deterministic), build the SignedProperties and the QR code, and insert the three blocks
//! (`ext:UBLExtensions`, the QR reference, `cac:Signature`) into the document's own bytes.
//!
//! The blocks are excluded from the invoice hash and are inserted (or replace existing ones)
//! without adding or removing a single byte outside them, so the hash of the unsigned input
//! equals the hash of the signed output. Any UBL invoice can be signed this way, not only ours.

use crate::prim::sha256::Sha256;

use crate::cert::Certificate;
use crate::error::{Code, Error, Issue, Result, part};
use crate::hash::{self, InvoiceHash};
use crate::keys::PrivateKey;
use crate::model::{InvoiceInput, InvoiceType};
use crate::qr::{self, QrFields};
use crate::scan::{self, Span};
use crate::ubl::{self, ChainInputs};
use crate::xades::{self, SignatureValues, SignedProperties};
use crate::xml::{self, Document, Element, NS_CAC, NS_CBC, NS_EXT};

/// A private key with the certificate (CSID) issued for it.
#[derive(Debug)]
pub struct Signer {
    key: PrivateKey,
    certificate: Certificate,
}

impl Signer {
    /// Pairs a key with its certificate; fails when the certificate is for another key.
    pub fn new(key: PrivateKey, certificate: Certificate) -> Result<Self> {
        if !certificate.matches_key(&key) {
            return Err(Error::new(
                Code::KeyCertificateMismatch,
                "the certificate was not issued for this private key",
            ));
        }
        Ok(Signer { key, certificate })
    }

    /// Pairs a key with a certificate without checking that they belong together. ZATCA's
    /// developer-portal sandbox hands out a fixed certificate whatever key the CSR carried
    /// (SPEC §10.5); use this only for that case.
    pub fn new_unchecked(key: PrivateKey, certificate: Certificate) -> Self {
        Signer { key, certificate }
    }

    /// The signing certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// ECDSA-SHA256 over the 32 hash bytes, DER, base64 (SPEC §7.4).
    pub fn sign_hash(&self, hash: &InvoiceHash) -> Result<String> {
        Ok(crate::prim::b64::encode(self.key.sign_der(&hash.0)?))
    }
}

/// A signed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedInvoice {
    /// The signed XML, to be sent as is (base64 of these exact bytes).
    pub xml: String,
    /// Invoice hash, base64: the API's `invoiceHash` and the next document's PIH.
    pub hash: String,
    /// Signature value, base64 of DER.
    pub signature: String,
    /// QR code payload, base64 TLV.
    pub qr: String,
    /// Document UUID (`cbc:UUID`), the API's `uuid`.
    pub uuid: String,
    /// Invoice counter value, when the document carries one.
    pub icv: Option<u64>,
    /// The signing time written in the signature.
    pub signing_time: String,
    /// ZATCA warnings found while building (empty for XML input).
    pub warnings: Vec<Issue>,
}

/// Builds the document from JSON input and signs it.
pub fn sign_invoice(
    input: &InvoiceInput,
    chain: &ChainInputs,
    signer: &Signer,
    signing_time: Option<&str>,
) -> Result<SignedInvoice> {
    let built = ubl::build(input, chain)?;
    // The writer emits the root element in canonical form, so its bytes are the hash input
    // as they stand; the golden tests check that this equals signing the XML from scratch.
    let layout = &built.layout;
    let root = part(&built.xml, layout.root.0..layout.root.1)?;
    let facts = Facts {
        hash: InvoiceHash(Sha256::digest(root.as_bytes())),
        base: built.qr_base,
        simplified: input.invoice_type == InvoiceType::Simplified,
        uuid: chain.uuid.clone(),
        icv: Some(chain.icv),
        places: Places {
            body_start: layout.body_start,
            extensions: None,
            qr: None,
            signature: None,
            last_reference_end: layout.last_reference_end,
        },
    };
    let mut signed = finish(&built.xml, facts, signer, signing_time)?;
    signed.warnings = built.warnings;
    Ok(signed)
}

fn top<'a, 'd>(doc: &'a Document<'d>, local: &str) -> Option<&'a Element<'d>> {
    doc.root
        .elements()
        .find(|e| e.local_name() == local && (e.ns == NS_CBC || e.ns == NS_CAC))
}

fn top_text(doc: &Document, local: &str) -> Option<String> {
    top(doc, local).map(Element::text)
}

/// What a document carries for QR tags 1–5, each `None` where the element is missing: found
/// through the tree or by the streaming scan, then checked in one place.
struct BaseValues {
    has_supplier: bool,
    seller_name: Option<String>,
    vat_number: Option<String>,
    date: Option<String>,
    time: Option<String>,
    total_with_vat: Option<String>,
    vat_total: Option<String>,
}

impl BaseValues {
    /// The QR fields, or the first missing element (in document order of the checks).
    fn into_fields(self) -> Result<QrFields> {
        let missing = |what: &str| Error::new(Code::MissingElement, format!("the document has no {what}"));
        if !self.has_supplier {
            return Err(missing("cac:AccountingSupplierParty"));
        }
        let seller_name = self.seller_name.ok_or_else(|| missing("seller RegistrationName"))?;
        let vat_number = self
            .vat_number
            .ok_or_else(|| missing("seller VAT number (PartyTaxScheme/CompanyID)"))?;
        let date = self.date.ok_or_else(|| missing("cbc:IssueDate"))?;
        let time = self.time.ok_or_else(|| missing("cbc:IssueTime"))?;
        let total_with_vat = self
            .total_with_vat
            .ok_or_else(|| missing("LegalMonetaryTotal/TaxInclusiveAmount"))?;
        let vat_total = self.vat_total.ok_or_else(|| missing("cac:TaxTotal/cbc:TaxAmount"))?;
        Ok(QrFields {
            seller_name,
            vat_number,
            timestamp: format!("{date}T{time}"),
            total_with_vat,
            vat_total,
            invoice_hash: None,
            signature: None,
            public_key: None,
            certificate_signature: None,
        })
    }
}

/// Reads the fields the QR code repeats from the document (SPEC §8).
pub(crate) fn qr_base_fields(doc: &Document) -> Result<QrFields> {
    let supplier = doc.root.path(&[(NS_CAC, "AccountingSupplierParty"), (NS_CAC, "Party")]);
    let text_at = |steps: &[(&str, &str)]| supplier.and_then(|p| p.path(steps)).map(Element::text);
    BaseValues {
        has_supplier: supplier.is_some(),
        seller_name: text_at(&[(NS_CAC, "PartyLegalEntity"), (NS_CBC, "RegistrationName")]),
        vat_number: text_at(&[(NS_CAC, "PartyTaxScheme"), (NS_CBC, "CompanyID")]),
        date: top_text(doc, "IssueDate"),
        time: top_text(doc, "IssueTime"),
        total_with_vat: doc
            .root
            .path(&[(NS_CAC, "LegalMonetaryTotal"), (NS_CBC, "TaxInclusiveAmount")])
            .map(Element::text),
        vat_total: top(doc, "TaxTotal")
            .and_then(|t| t.child(NS_CBC, "TaxAmount"))
            .map(Element::text),
    }
    .into_fields()
}

/// The Phase 1 QR code of a document (tags 1–5: seller, VAT number, timestamp, total with VAT,
/// VAT total; no hash or signature), for taxpayers not yet in Phase 2.
pub fn phase1_qr(xml_bytes: &[u8]) -> Result<String> {
    let doc = xml::parse(xml::utf8(xml_bytes)?)?;
    qr::encode(&qr_base_fields(&doc)?)
}

/// Whether the document is simplified (KSA-2 starts with `02`): only those get QR tag 9.
pub(crate) fn is_simplified(doc: &Document) -> bool {
    is_simplified_code(top(doc, "InvoiceTypeCode").and_then(|e| e.attr("name")))
}

/// Whether a KSA-2 code (`InvoiceTypeCode/@name`) is a simplified document's.
fn is_simplified_code(name: Option<&str>) -> bool {
    name.is_some_and(|n| n.starts_with("02"))
}

/// The ICV value, when present.
pub(crate) fn icv(doc: &Document) -> Option<String> {
    additional_reference(doc, "ICV")
        .and_then(|e| e.child(NS_CBC, "UUID"))
        .map(Element::text)
}

pub(crate) fn additional_reference<'a, 'd>(doc: &'a Document<'d>, id: &str) -> Option<&'a Element<'d>> {
    doc.root
        .elements()
        .filter(|e| e.is(NS_CAC, "AdditionalDocumentReference"))
        .find(|e| e.child(NS_CBC, "ID").is_some_and(|i| i.text() == id))
}

/// Signs an unsigned (or re-signs a signed) UBL invoice given as XML bytes.
///
/// `signing_time` is `yyyy-MM-ddTHH:mm:ss`; by default the document's issue date and time,
/// which ZATCA documents express in Saudi local time (Asia/Riyadh).
pub fn sign_xml(unsigned: &[u8], signer: &Signer, signing_time: Option<&str>) -> Result<SignedInvoice> {
    sign_str(xml::utf8(unsigned)?, signer, signing_time)
}

/// What signing needs to know about a document, however it was learnt: from one streaming
/// pass over given XML, or from the writer that just produced it.
pub(crate) struct Facts {
    /// The invoice hash.
    pub hash: InvoiceHash,
    /// The QR fields the document repeats (tags 1–5).
    pub base: QrFields,
    /// Whether the document is simplified (QR tag 9).
    pub simplified: bool,
    /// `cbc:UUID`.
    pub uuid: String,
    /// The ICV, when it fits a u64.
    pub icv: Option<u64>,
    /// Where the blocks go.
    pub places: Places,
}

/// Where the three signature blocks go: after the root's start tag (or over an existing
/// `ext:UBLExtensions`), and after the last `cac:AdditionalDocumentReference` (or over an
/// existing QR reference and `cac:Signature`).
pub(crate) struct Places {
    pub body_start: usize,
    pub extensions: Option<Span>,
    pub qr: Option<Span>,
    pub signature: Option<Span>,
    pub last_reference_end: usize,
}

/// [`sign_xml`] over text that is already known to be UTF-8.
fn sign_str(original: &str, signer: &Signer, signing_time: Option<&str>) -> Result<SignedInvoice> {
    let mut scanned = scan::scan(original)?;
    if !scanned.is_invoice {
        return Err(Error::new(
            Code::NotAnInvoice,
            "the root element must be a UBL 2.1 Invoice",
        ));
    }
    // The inserted blocks use the ext/cac/cbc prefixes as children of the root, so the root must
    // bind them to the UBL namespaces. Missing declarations are added (they become part of the
    // hashed document); conflicting ones are refused.
    let declarations = missing_declarations(&scanned.root_prefixes)?;
    let patched;
    let src = if declarations.is_empty() {
        original
    } else {
        let at = scanned.body_start - 1;
        patched = format!("{}{declarations}{}", part(original, ..at)?, part(original, at..)?);
        scanned = scan::scan(&patched)?;
        patched.as_str()
    };
    let mut problems = Vec::new();
    let icv_text = scanned.icv.clone().flatten();
    match &icv_text {
        None => problems.push(Issue::error(Code::MissingIcv, "the document has no ICV reference").rule("BR-KSA-33")),
        Some(v) if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) => {
            problems.push(Issue::error(Code::InvalidIcv, "the ICV must contain only digits").rule("BR-KSA-34"));
        }
        Some(_) => {}
    }
    if !scanned.has_pih {
        problems.push(Issue::error(Code::MissingPih, "the document has no PIH reference").rule("BR-KSA-61"));
    }
    let missing_uuid = || Issue::error(Code::MissingUuid, "the document has no cbc:UUID").rule("BR-KSA-03");
    let uuid = scanned.uuid.take().filter(|u| !u.is_empty());
    if uuid.is_none() {
        problems.push(missing_uuid());
    }
    let base = scanned_base_fields(&mut scanned);
    if let Err(e) = &base {
        problems.extend(e.issues().iter().cloned());
    }
    if !problems.is_empty() {
        return Err(Error::from_issues(problems));
    }
    let last_reference_end = scanned
        .last_reference_end
        .ok_or_else(|| Error::new(Code::MissingIcv, "the document has no AdditionalDocumentReference"))?;
    let facts = Facts {
        hash: InvoiceHash(scanned.digest),
        base: base?,
        simplified: is_simplified_code(scanned.type_name.as_deref()),
        uuid: uuid.ok_or_else(missing_uuid)?,
        icv: icv_text.and_then(|v| v.parse().ok()),
        places: Places {
            body_start: scanned.body_start,
            extensions: scanned.extensions,
            qr: scanned.qr,
            signature: scanned.signature,
            last_reference_end,
        },
    };
    finish(src, facts, signer, signing_time)
}

/// The QR base fields from a scan, with the errors [`qr_base_fields`] gives.
fn scanned_base_fields(s: &mut scan::Scanned) -> Result<QrFields> {
    BaseValues {
        has_supplier: s.has_supplier,
        seller_name: s.seller_name.take(),
        vat_number: s.vat_number.take(),
        date: s.issue_date.take(),
        time: s.issue_time.take(),
        total_with_vat: s.total_with_vat.take(),
        vat_total: s.vat_total.take(),
    }
    .into_fields()
}

/// Signs the hash, renders the signature and QR blocks and puts them into `src`.
pub(crate) fn finish(src: &str, facts: Facts, signer: &Signer, signing_time: Option<&str>) -> Result<SignedInvoice> {
    let Facts {
        hash,
        base,
        simplified,
        uuid,
        icv,
        places,
    } = facts;
    let default_time;
    let signing_time = match signing_time {
        Some(t) => t,
        None => {
            let (date, time) = base
                .timestamp
                .split_once('T')
                .ok_or_else(|| Error::new(Code::Internal, "the QR timestamp has no `T`"))?;
            default_time = format!("{date}T{}", time.trim_end_matches('Z'));
            &default_time
        }
    };
    if !is_signing_time(signing_time) {
        return Err(
            Error::new(Code::InvalidSigningTime, "signing time must be yyyy-MM-ddTHH:mm:ss").at("signing_time"),
        );
    }
    let hash_b64 = hash.to_base64();
    let signature = signer.sign_hash(&hash)?;
    let cert = &signer.certificate;
    let properties = SignedProperties {
        signing_time,
        cert_digest: cert.cert_digest(),
        issuer_name: cert.issuer_name(),
        serial_number: cert.serial_decimal(),
    };
    let sp_digest = xades::signed_properties_digest(&properties);
    let extensions = xades::render_extensions(&SignatureValues {
        invoice_hash: &hash_b64,
        signed_properties_digest: &sp_digest,
        signature_value: &signature,
        certificate: cert.base64(),
        properties,
    });

    let fields = QrFields {
        invoice_hash: Some(hash_b64.clone()),
        signature: Some(signature.clone()),
        public_key: Some(cert.public_key_der().to_vec()),
        certificate_signature: simplified.then(|| cert.signature().to_vec()),
        ..base
    };
    let qr = qr::encode(&fields)?;

    let xml = insert_blocks(src, &places, &extensions, &xades::render_qr_reference(&qr))?;
    Ok(SignedInvoice {
        xml,
        hash: hash_b64,
        signature,
        qr,
        uuid,
        icv,
        signing_time: signing_time.to_owned(),
        warnings: Vec::new(),
    })
}

fn missing_declarations(declared: &[Option<String>; 3]) -> Result<String> {
    let mut out = String::new();
    for ((prefix, uri), value) in [("ext", NS_EXT), ("cac", NS_CAC), ("cbc", NS_CBC)]
        .into_iter()
        .zip(declared)
    {
        match value {
            Some(v) if v == uri => {}
            Some(v) => {
                return Err(Error::new(
                    Code::NamespaceConflict,
                    format!("the root binds prefix `{prefix}` to `{v}`; the signature needs `{uri}`"),
                ));
            }
            None => {
                out.push_str(" xmlns:");
                out.push_str(prefix);
                out.push_str("=\"");
                out.push_str(uri);
                out.push('"');
            }
        }
    }
    Ok(out)
}

fn is_signing_time(t: &str) -> bool {
    t.len() == 19
        && t.split_once('T').is_some_and(|(date, time)| {
            date.len() == 10 && crate::validate::is_date(date) && crate::validate::is_time(time)
        })
}

/// Puts the three blocks into the source text: each replaces an existing block of its kind,
/// or is inserted where the UBL schema wants it (extensions first in the root, the QR reference
/// after the last `cac:AdditionalDocumentReference`, the signature right after it).
fn insert_blocks(src: &str, places: &Places, extensions: &str, qr_ref: &str) -> Result<String> {
    let signature = xades::SIGNATURE_REFERENCE;
    let mut edits: [(usize, usize, &str, &str); 3] = [(0, 0, "", ""); 3];
    edits[0] = match places.extensions {
        Some((start, end)) => (start, end, extensions, ""),
        None => (places.body_start, places.body_start, extensions, ""),
    };
    let at = places.last_reference_end;
    (edits[1], edits[2]) = match (places.qr, places.signature) {
        (Some(q), Some(s)) => ((q.0, q.1, qr_ref, ""), (s.0, s.1, signature, "")),
        (Some(q), None) => ((q.0, q.1, qr_ref, signature), (usize::MAX, usize::MAX, "", "")),
        (None, Some(s)) => ((at, at, qr_ref, ""), (s.0, s.1, signature, "")),
        (None, None) => ((at, at, qr_ref, signature), (usize::MAX, usize::MAX, "", "")),
    };
    crate::prim::sort::sort_few_by_key(&mut edits, |(start, ..)| *start);
    let added: usize = edits.iter().map(|e| e.2.len() + e.3.len()).sum();
    let mut out = String::with_capacity(src.len() + added);
    let mut pos = 0;
    for (start, end, first, second) in edits {
        if start == usize::MAX {
            continue;
        }
        let before = src
            .get(pos..start)
            .ok_or_else(|| Error::new(Code::Internal, "overlapping signature blocks"))?;
        out.push_str(before);
        out.push_str(first);
        out.push_str(second);
        pos = end;
    }
    out.push_str(part(src, pos..)?);
    Ok(out)
}

/// Removes the signature blocks (extensions, QR reference, `cac:Signature`) from a signed
/// document, keeping every other byte: the result hashes like the signed document.
pub fn strip_signature(signed: &[u8]) -> Result<String> {
    let src = xml::utf8(signed)?;
    let doc = xml::parse(src)?;
    let mut spans: Vec<(usize, usize)> = doc
        .root
        .elements()
        .filter(|e| hash::is_excluded(e))
        .map(|e| (e.start, e.end))
        .collect();
    crate::prim::sort::sort_distinct_by(&mut spans, |a, b| a < b);
    let mut out = String::with_capacity(src.len());
    let mut pos = 0;
    for (start, end) in spans {
        out.push_str(part(src, pos..start)?);
        pos = end;
    }
    out.push_str(part(src, pos..)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        let key = PrivateKey::parse(include_str!("../../../tests/fixtures/keys/sdk-test-key.pem"))
            .unwrap_or_else(|e| panic!("{e}"));
        let cert = Certificate::parse(include_str!("../../../tests/fixtures/keys/sdk-test-cert.pem"))
            .unwrap_or_else(|e| panic!("{e}"));
        Signer::new(key, cert).unwrap_or_else(|e| panic!("{e}"))
    }

    const SAMPLE: &str =
        include_str!("../../../tests/fixtures/samples/sdk-R3.4.8/Simplified/Invoice/Simplified_Invoice.xml");

    #[test]
    fn fuzz_ext_prefix_rebound_is_refused() {
        // Found by the seed replay: the root bound `ext` to another URI, so the inserted
        // signature block was hashed as ordinary content and the hash changed after signing.
        let stripped = strip_signature(SAMPLE.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let rebound = stripped.replace("CommonExtensionComponents-2\"", "CommonExtensionComponents-X\"");
        let err = sign_xml(rebound.as_bytes(), &signer(), None)
            .err()
            .unwrap_or_else(|| panic!("signed"));
        assert_eq!(err.code(), "namespace_conflict");
    }

    #[test]
    fn missing_namespace_declarations_are_added_before_hashing() {
        let stripped = strip_signature(SAMPLE.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let without_ext = stripped.replace(
            " xmlns:ext=\"urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2\"",
            "",
        );
        assert_ne!(without_ext, stripped);
        let signed = sign_xml(without_ext.as_bytes(), &signer(), None).unwrap_or_else(|e| panic!("{e}"));
        let report = crate::verify::verify(signed.xml.as_bytes(), None).unwrap_or_else(|e| panic!("{e}"));
        assert!(report.is_ok(), "{:#?}", report.issues);
        assert_eq!(report.hash, signed.hash);
    }

    #[test]
    fn key_and_certificate_must_match() {
        let other = PrivateKey::from_seed([7; 32]).unwrap_or_else(|e| panic!("{e}"));
        let cert = Certificate::parse(include_str!("../../../tests/fixtures/keys/sdk-test-cert.pem"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            Signer::new(other, cert).err().map(|e| e.code()),
            Some("key_certificate_mismatch")
        );
    }

    #[test]
    fn documents_without_chain_references_are_refused_with_rule_ids() {
        let stripped = strip_signature(SAMPLE.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let no_icv = stripped.replace("<cbc:ID>ICV</cbc:ID>", "<cbc:ID>XYZ</cbc:ID>");
        let err = sign_xml(no_icv.as_bytes(), &signer(), None)
            .err()
            .unwrap_or_else(|| panic!("signed"));
        assert_eq!((err.code(), err.primary().rule), ("missing_icv", Some("BR-KSA-33")));
    }
}
