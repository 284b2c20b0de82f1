//! The ZATCA invoice hash (SPEC §6): canonical XML of the document without `ext:UBLExtensions`,
//! `cac:Signature` and the QR `cac:AdditionalDocumentReference`, SHA-256, base64.
//!
//! The three blocks are removed as XPath node-set filters remove them: the element subtrees go,
//! the whitespace text around them stays. Removing an element together with its neighbouring
//! whitespace (as DOM "remove node" helpers do) gives a different hash for every SDK sample.

use crate::prim::sha256::Sha256;

use crate::error::Result;
use crate::xml::{self, Document, Element, NS_CAC, NS_CBC, NS_EXT};

/// A computed invoice hash: the 32 raw SHA-256 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InvoiceHash(pub [u8; 32]);

impl InvoiceHash {
    /// The base64 form used in `DigestValue`, the PIH, the API body and QR tag 6.
    pub fn to_base64(&self) -> String {
        crate::prim::b64::encode(self.0)
    }
}

/// Whether a child of the root is one of the three blocks the hash leaves out.
pub(crate) fn is_excluded(el: &Element) -> bool {
    el.is(NS_EXT, "UBLExtensions")
        || el.is(NS_CAC, "Signature")
        || (el.is(NS_CAC, "AdditionalDocumentReference") && el.child(NS_CBC, "ID").is_some_and(|id| id.text() == "QR"))
}

/// The exact bytes that are hashed (useful to debug a hash mismatch).
pub fn hash_input(doc: &Document) -> String {
    crate::c14n::canonicalize(doc, &is_excluded)
}

/// Invoice hash of a parsed document.
pub fn hash_document(doc: &Document) -> InvoiceHash {
    InvoiceHash(Sha256::digest(hash_input(doc).as_bytes()))
}

/// Invoice hash (base64) of an XML document given as bytes, signed or not. One streaming pass,
/// without building a tree; gives what [`hash_document`] gives for the parsed document.
pub fn invoice_hash(xml: &[u8]) -> Result<String> {
    let scanned = crate::scan::scan(xml::utf8(xml)?)?;
    Ok(InvoiceHash(scanned.digest).to_base64())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &str = include_str!("../../../tests/fixtures/samples/test-vectors.json");

    fn sample(file: &str) -> Vec<u8> {
        let path = format!("{}/../../tests/fixtures/samples/{file}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn hash_input_of_simplified_invoice_is_byte_exact() {
        let xml = sample("sdk-R3.4.8/Simplified/Invoice/Simplified_Invoice.xml");
        let doc = xml::parse(std::str::from_utf8(&xml).expect("UTF-8")).unwrap_or_else(|e| panic!("{e}"));
        let expected = sample("sdk-R3.4.8.Simplified_Invoice.hash-input.c14n.xml");
        assert_eq!(hash_input(&doc).as_bytes(), expected.as_slice());
        assert_eq!(
            hash_document(&doc).to_base64(),
            "z5F9qsS6oWyDhehD8u8S0DaxV+2CUiUz9Y+UsR61JgQ="
        );
    }

    #[test]
    fn every_sample_hash_matches_the_test_vectors() {
        let vectors: serde_json::Value = serde_json::from_str(VECTORS).expect("test vectors");
        let list = vectors.as_array().expect("a list of test vectors");
        assert_eq!(list.len(), 20);
        for v in list {
            let file = v["file"].as_str().expect("file");
            let xml = sample(file);
            let hash = invoice_hash(&xml).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(Some(hash.as_str()), v["invoice_hash_b64"].as_str(), "{file}");
            let doc = xml::parse(std::str::from_utf8(&xml).expect("UTF-8")).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                hash_document(&doc).to_base64(),
                hash,
                "{file}: tree and stream disagree"
            );
        }
    }
}
