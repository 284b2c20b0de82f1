//! One streaming pass over an invoice's XML that yields everything the signer needs: the invoice
//! hash (canonical form fed to SHA-256 as it is written, without building a tree), the byte
//! spans where the signature blocks go, and the few values the QR code and the chain repeat.
//!
//! Values are found as [`crate::xml::Element::path`] finds them (the first matching child at
//! every step), so a document yields the same values here as through the tree.

use std::borrow::Cow;

use crate::prim::sha256::Sha256;

use crate::c14n::Canonicalizer;
use crate::error::Result;
use crate::xml::{self, Handler, NS_CAC, NS_CBC, NS_EXT, NS_INVOICE, StartTag};

/// Namespace a path step accepts.
#[derive(Clone, Copy)]
enum Ns {
    Cbc,
    Cac,
    /// Either: the signer has always looked up top-level values by local name in both.
    Ubl,
}

impl Ns {
    fn accepts(self, uri: &str) -> bool {
        match self {
            Ns::Cbc => uri == NS_CBC,
            Ns::Cac => uri == NS_CAC,
            Ns::Ubl => uri == NS_CBC || uri == NS_CAC,
        }
    }
}

type Path = &'static [(Ns, &'static str)];

const ADR: &str = "AdditionalDocumentReference";

/// The values collected: the text of the element each path leads to. The two paths into
/// `cac:AdditionalDocumentReference` are followed into every one of them ([`PER_ADR`]).
const PATHS: [Path; 11] = [
    &[
        (Ns::Cac, "AccountingSupplierParty"),
        (Ns::Cac, "Party"),
        (Ns::Cac, "PartyLegalEntity"),
        (Ns::Cbc, "RegistrationName"),
    ],
    &[
        (Ns::Cac, "AccountingSupplierParty"),
        (Ns::Cac, "Party"),
        (Ns::Cac, "PartyTaxScheme"),
        (Ns::Cbc, "CompanyID"),
    ],
    &[(Ns::Ubl, "IssueDate")],
    &[(Ns::Ubl, "IssueTime")],
    &[(Ns::Ubl, "UUID")],
    &[(Ns::Cac, "LegalMonetaryTotal"), (Ns::Cbc, "TaxInclusiveAmount")],
    &[(Ns::Ubl, "TaxTotal"), (Ns::Cbc, "TaxAmount")],
    &[(Ns::Ubl, "InvoiceTypeCode")],
    &[(Ns::Cac, ADR), (Ns::Cbc, "ID")],
    &[(Ns::Cac, ADR), (Ns::Cbc, "UUID")],
    &[(Ns::Cac, "AccountingSupplierParty"), (Ns::Cac, "Party")],
];
const SELLER_NAME: usize = 0;
const SELLER_VAT: usize = 1;
const ISSUE_DATE: usize = 2;
const ISSUE_TIME: usize = 3;
const UUID: usize = 4;
const TOTAL_WITH_VAT: usize = 5;
const VAT_TOTAL: usize = 6;
const TYPE_CODE: usize = 7;
const ADR_ID: usize = 8;
const ADR_UUID: usize = 9;
const SUPPLIER: usize = 10;
const PER_ADR: u16 = 1 << ADR_ID | 1 << ADR_UUID;

/// A byte range of the source.
pub(crate) type Span = (usize, usize);

/// What one pass over a document found.
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    /// SHA-256 of the canonical form without the excluded blocks: the invoice hash (SPEC §6),
    /// which [`crate::hash`] wraps.
    pub digest: [u8; 32],
    /// Whether the root is a UBL `Invoice`.
    pub is_invoice: bool,
    /// The root's declarations of the `ext`, `cac` and `cbc` prefixes, when present.
    pub root_prefixes: [Option<String>; 3],
    /// Byte offset just after the root's start tag.
    pub body_start: usize,
    /// The first `ext:UBLExtensions` child of the root.
    pub extensions: Option<Span>,
    /// The first QR `cac:AdditionalDocumentReference`.
    pub qr: Option<Span>,
    /// The first `cac:Signature` child of the root.
    pub signature: Option<Span>,
    /// End of the last `cac:AdditionalDocumentReference`.
    pub last_reference_end: Option<usize>,
    /// `Some` once an ICV reference was seen: the text of its `cbc:UUID`, if any.
    pub icv: Option<Option<String>>,
    /// Whether a PIH reference was seen.
    pub has_pih: bool,
    /// `cbc:UUID`.
    pub uuid: Option<String>,
    /// Whether the document has `cac:AccountingSupplierParty/cac:Party`.
    pub has_supplier: bool,
    /// Seller `RegistrationName`.
    pub seller_name: Option<String>,
    /// Seller VAT number (`PartyTaxScheme/CompanyID`).
    pub vat_number: Option<String>,
    /// `cbc:IssueDate`.
    pub issue_date: Option<String>,
    /// `cbc:IssueTime`.
    pub issue_time: Option<String>,
    /// `LegalMonetaryTotal/TaxInclusiveAmount`.
    pub total_with_vat: Option<String>,
    /// The first `TaxTotal/TaxAmount`.
    pub vat_total: Option<String>,
    /// The `name` attribute of `InvoiceTypeCode` (KSA-2).
    pub type_name: Option<String>,
}

/// Per open element: paths it lies on, paths whose next step a child already took, paths whose
/// value it is.
#[derive(Clone, Copy, Default)]
struct Frame {
    on: u16,
    taken: u16,
    target: u16,
}

/// What kind of root child is open.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Child {
    Other,
    /// `ext:UBLExtensions`: left out of the hash and not written at all.
    Extensions,
    /// `cac:Signature`: likewise.
    Signature,
    Reference,
}

impl Child {
    /// Whether the element is skipped whole (known from its start tag, unlike a QR reference).
    fn skipped(self) -> bool {
        matches!(self, Child::Extensions | Child::Signature)
    }
}

struct Scanner<'a> {
    c14n: Canonicalizer<'a>,
    sha: Sha256,
    frames: Vec<Frame>,
    values: [String; PATHS.len()],
    found: u16,
    collecting: u16,
    child: Child,
    child_start: usize,
    /// Length of the canonical text before the open root child.
    child_mark: usize,
    result: Scanned,
}

/// Canonical text is handed to SHA-256 in chunks of about this size, at root-child boundaries.
const FLUSH_AT: usize = 8 * 1024;

impl<'a> Scanner<'a> {
    fn value(&mut self, path: usize) -> Option<String> {
        (self.found & (1 << path) != 0).then(|| std::mem::take(&mut self.values[path]))
    }

    fn flush(&mut self) {
        self.sha.update(self.c14n.out.as_bytes());
        self.c14n.out.clear();
    }

    fn root_child_ended(&mut self, end: usize) {
        let span = (self.child_start, end);
        match self.child {
            Child::Extensions => {
                self.result.extensions.get_or_insert(span);
            }
            Child::Signature => {
                self.result.signature.get_or_insert(span);
            }
            Child::Reference => {
                let id = (self.found & (1 << ADR_ID) != 0).then(|| self.values[ADR_ID].as_str());
                match id {
                    Some("ICV") if self.result.icv.is_none() => {
                        let uuid = (self.found & (1 << ADR_UUID) != 0).then(|| self.values[ADR_UUID].clone());
                        self.result.icv = Some(uuid);
                    }
                    Some("PIH") => self.result.has_pih = true,
                    Some("QR") => {
                        self.result.qr.get_or_insert(span);
                        self.c14n.out.truncate(self.child_mark);
                    }
                    _ => {}
                }
                self.result.last_reference_end = Some(end);
            }
            Child::Other => {}
        }
        if self.c14n.out.len() >= FLUSH_AT {
            self.flush();
        }
    }
}

impl<'a> Handler<'a> for Scanner<'a> {
    fn start(&mut self, tag: &StartTag<'a, '_>) {
        let depth = self.frames.len();
        if depth == 0 {
            self.result.is_invoice = tag.ns.as_ref() == NS_INVOICE && tag.local == "Invoice";
            self.result.body_start = tag.start_tag_end;
            for (slot, prefix) in self
                .result
                .root_prefixes
                .iter_mut()
                .zip(["xmlns:ext", "xmlns:cac", "xmlns:cbc"])
            {
                *slot = tag.attrs.iter().find(|(k, _)| *k == prefix).map(|(_, v)| v.to_string());
            }
        } else if depth == 1 {
            let (ns, name) = (tag.ns.as_ref(), tag.local);
            self.child_start = tag.start;
            self.child_mark = self.c14n.out.len();
            self.child = if ns == NS_EXT && name == "UBLExtensions" {
                Child::Extensions
            } else if ns == NS_CAC && name == "Signature" {
                Child::Signature
            } else if ns == NS_CAC && name == ADR {
                self.found &= !PER_ADR;
                self.values[ADR_ID].clear();
                self.values[ADR_UUID].clear();
                Child::Reference
            } else {
                Child::Other
            };
        }
        let mut frame = Frame::default();
        if let Some(parent) = self.frames.last_mut() {
            let mut candidates = parent.on & !parent.taken;
            if depth == 1 {
                candidates |= parent.on & PER_ADR;
            }
            while candidates != 0 {
                let path = candidates.trailing_zeros() as usize;
                candidates &= candidates - 1;
                let steps = PATHS[path];
                let Some(&(ns, name)) = steps.get(depth - 1) else {
                    continue;
                };
                if !(tag.local == name && ns.accepts(tag.ns)) {
                    continue;
                }
                let bit = 1 << path;
                frame.on |= bit;
                parent.taken |= bit;
                if depth == steps.len() {
                    frame.target |= bit;
                    self.values[path].clear();
                    if path == TYPE_CODE {
                        if let Some((_, v)) = tag.attrs.iter().find(|(k, _)| *k == "name") {
                            self.result.type_name = Some(v.to_string());
                        }
                    }
                }
            }
            self.collecting |= frame.target;
        } else {
            frame.on = (1 << PATHS.len()) - 1;
        }
        self.frames.push(frame);
        if !(depth >= 1 && self.child.skipped()) {
            self.c14n.start(tag.name, tag.attrs);
        }
    }

    fn end(&mut self, end: usize) {
        let Some(frame) = self.frames.pop() else { return };
        let depth = self.frames.len();
        if frame.target != 0 {
            self.collecting &= !frame.target;
            self.found |= frame.target;
        }
        if !(depth >= 1 && self.child.skipped()) {
            self.c14n.end();
        }
        if depth == 1 {
            self.root_child_ended(end);
            self.child = Child::Other;
        }
    }

    fn text(&mut self, text: Cow<'a, str>) {
        let mut collecting = self.collecting;
        while collecting != 0 {
            let path = collecting.trailing_zeros() as usize;
            collecting &= collecting - 1;
            self.values[path].push_str(&text);
        }
        if !(self.frames.len() >= 2 && self.child.skipped()) {
            self.c14n.text(&text);
        }
    }

    fn pi(&mut self, target: &str, content: &str, depth: usize, after_root: bool) {
        if depth >= 2 && self.child.skipped() {
            return;
        }
        if depth == 0 && after_root {
            self.c14n.out.push('\n');
        }
        self.c14n.pi(target, content);
        if depth == 0 && !after_root {
            self.c14n.out.push('\n');
        }
    }
}

/// Scans a document (UTF-8 text) in one pass.
pub(crate) fn scan(src: &str) -> Result<Scanned> {
    let mut scanner = Scanner {
        c14n: Canonicalizer::with_capacity(FLUSH_AT + 4096),
        sha: Sha256::new(),
        frames: Vec::with_capacity(16),
        values: Default::default(),
        found: 0,
        collecting: 0,
        child: Child::Other,
        child_start: 0,
        child_mark: 0,
        result: Scanned::default(),
    };
    xml::read(src, &mut scanner)?;
    scanner.flush();
    let mut result = std::mem::take(&mut scanner.result);
    result.digest = std::mem::take(&mut scanner.sha).finalize();
    result.has_supplier = scanner.found & (1 << SUPPLIER) != 0;
    result.seller_name = scanner.value(SELLER_NAME);
    result.vat_number = scanner.value(SELLER_VAT);
    result.issue_date = scanner.value(ISSUE_DATE);
    result.issue_time = scanner.value(ISSUE_TIME);
    result.uuid = scanner.value(UUID);
    result.total_with_vat = scanner.value(TOTAL_WITH_VAT);
    result.vat_total = scanner.value(VAT_TOTAL);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(file: &str) -> String {
        let path = format!("{}/../../tests/fixtures/samples/{file}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn finds_what_the_tree_finds() {
        let src = sample("sdk-R3.4.8/Simplified/Invoice/Simplified_Invoice.xml");
        let s = scan(&src).unwrap_or_else(|e| panic!("{e}"));
        let doc = xml::parse(&src).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.digest, crate::hash::hash_document(&doc).0);
        assert!(s.is_invoice);
        let base = crate::sign::qr_base_fields(&doc).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.seller_name, Some(base.seller_name));
        assert_eq!(s.vat_number, Some(base.vat_number));
        assert_eq!(s.total_with_vat, Some(base.total_with_vat));
        assert_eq!(s.vat_total, Some(base.vat_total));
        assert_eq!(s.icv, Some(Some("10".into())));
        assert!(s.has_pih);
        assert_eq!(s.type_name.as_deref(), Some("0200000"));
        let (start, end) = s.signature.expect("the signature block's span");
        assert!(src[start..end].starts_with("<cac:Signature>") && src[start..end].ends_with("</cac:Signature>"));
        let (start, end) = s.qr.expect("the QR reference's span");
        assert!(src[start..end].contains("<cbc:ID>QR</cbc:ID>"));
    }
}
