//! The gateway's cryptographic stamp on cleared invoices.
//!
//! ZATCA's clearance "applies a cryptographic stamp from ZATCA side and generates a QR Code
//! string. After that the XML is returned back" (ZATCA's answer on its developer community,
//! "What is the Clearance API?"); its integration guide: "ZATCA returns the stamped invoice XML
//! with their own signature". The stamp and the QR code live in the three blocks the invoice
//! hash leaves out (`ext:UBLExtensions`, the QR `AdditionalDocumentReference`, `cac:Signature`,
//! SPEC §6), so the cleared invoice keeps the submitted document's hash and the client's PIH chain
//! continues from its own hash (SPEC §3.1).
//!
//! The simulator stamps with `zatca_core::sign::sign_xml`, which replaces those blocks in place
//! without touching a byte outside them, under a key and certificate of its own CA
//! (`CN=ZATCA-SIM-STAMP`): the XAdES signature, SignedProperties and QR code (tags 1–8 for
//! standard documents, SPEC §8) are ZATCA's, not the taxpayer's.

use zatca_core::cert::Certificate;
use zatca_core::keys::PrivateKey;
use zatca_core::sign::{Signer, sign_xml};

use crate::ca::{CertificateAuthority, IssueError};

/// The stamping key and certificate.
pub(crate) struct Stamp {
    signer: Signer,
}

impl std::fmt::Debug for Stamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stamp")
            .field("certificate", &self.signer.certificate().subject_name())
            .finish_non_exhaustive()
    }
}

/// Why a document could not be stamped (a simulator bug: the document already verified).
#[derive(Debug)]
pub(crate) enum StampError {
    /// The core refused to sign the document.
    Sign(zatca_core::Error),
    /// Stamping changed the invoice hash, which ZATCA's stamp never does.
    HashChanged { before: String, after: String },
}

impl std::fmt::Display for StampError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StampError::Sign(e) => write!(f, "stamping failed: {e}"),
            StampError::HashChanged { before, after } => {
                write!(f, "stamping changed the invoice hash from {before} to {after}")
            }
        }
    }
}

impl Stamp {
    /// The stamp of `ca`: a key derived from the CA key and a certificate the CA issues for it.
    pub(crate) fn new(ca: &CertificateAuthority) -> Result<Self, IssueError> {
        // A digest is a valid scalar except with negligible probability; try the next counter
        // when it is not (zero or above the curve order).
        let key = (0u32..)
            .take(64)
            .find_map(|counter| PrivateKey::from_seed(ca.stamp_key_seed(counter)).ok())
            .ok_or_else(|| IssueError("no valid stamp key could be derived".into()))?;
        let der = ca.issue_stamp_certificate(&key.verifying_key())?;
        let certificate = Certificate::from_der(&der).map_err(|e| IssueError(e.to_string()))?;
        let signer = Signer::new(key, certificate).map_err(|e| IssueError(e.to_string()))?;
        Ok(Stamp { signer })
    }

    /// The stamp certificate.
    pub(crate) fn certificate(&self) -> &Certificate {
        self.signer.certificate()
    }

    /// The cleared invoice: `submitted` with ZATCA's stamp and QR code in place of the
    /// taxpayer's, signed at `signing_time` (`yyyy-MM-ddTHH:mm:ss`, Riyadh time). Checks that
    /// the invoice hash is still `hash`.
    pub(crate) fn stamp(&self, submitted: &[u8], hash: &str, signing_time: &str) -> Result<Vec<u8>, StampError> {
        let stamped = sign_xml(submitted, &self.signer, Some(signing_time)).map_err(StampError::Sign)?;
        if stamped.hash != hash {
            return Err(StampError::HashChanged {
                before: hash.to_owned(),
                after: stamped.hash,
            });
        }
        Ok(stamped.xml.into_bytes())
    }
}
