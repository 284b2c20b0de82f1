//! What the gateway learns from a submitted document, through `zatca-core`: the recomputed
//! invoice hash, the identifying fields, the embedded signing certificate and the issues the
//! core finds (hash / signature / SignedProperties / certificate digest / QR / rules).

/// The facts about one document that the endpoints act on.
#[derive(Debug, Clone, Default)]
pub struct Inspection {
    /// Recomputed invoice hash (base64).
    pub hash: String,
    /// `cbc:UUID`.
    pub uuid: String,
    /// `cbc:InvoiceTypeCode` text (`388`, `381`, `383`, `386`).
    pub invoice_type_code: String,
    /// `cbc:InvoiceTypeCode/@name` (`0100000`, `0200000`, …).
    pub transaction_code: String,
    /// Whether the transaction code starts with `02`.
    pub is_simplified: bool,
    /// `cbc:IssueDate`.
    pub issue_date: String,
    /// `cbc:IssueTime`.
    pub issue_time: String,
    /// Seller VAT (`AccountingSupplierParty/…/PartyTaxScheme/CompanyID`).
    pub seller_vat: String,
    /// DER of the certificate in `ds:X509Certificate`, if any.
    pub certificate_der: Option<Vec<u8>>,
    /// Issues found by the core's verifier.
    pub issues: Vec<zatca_core::Issue>,
}

/// Inspects a document given as the exact bytes that were submitted, with
/// `zatca_core::verify::verify` (no expected PIH: the gateway does not enforce the chain).
pub fn inspect(bytes: &[u8]) -> Result<Inspection, zatca_core::Error> {
    let v = zatca_core::verify::verify(bytes, None)?;
    Ok(Inspection {
        hash: v.hash,
        uuid: v.uuid.trim().to_owned(),
        invoice_type_code: v.invoice_type_code.trim().to_owned(),
        transaction_code: v.transaction_code,
        is_simplified: v.is_simplified,
        issue_date: v.issue_date.trim().to_owned(),
        issue_time: v.issue_time.trim().to_owned(),
        seller_vat: v.seller_vat.trim().to_owned(),
        certificate_der: v.certificate.map(|c| c.der().to_vec()),
        issues: v.issues,
    })
}
