//! ZATCA's onboarding vocabulary, defined once for the relay, the simulator and the CLI: which
//! invoice types an EGS unit issues (the CSR's `title`, SPEC §9.2) and the six compliance
//! documents ZATCA demands before it issues a production CSID (SPEC §11).

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which invoice types an EGS unit issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InvoiceTypes {
    /// Standard (B2B) only: title `1000`.
    Standard,
    /// Simplified (B2C) only: title `0100`.
    Simplified,
    /// Both: title `1100`.
    Both,
}

impl InvoiceTypes {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceTypes::Standard => "standard",
            InvoiceTypes::Simplified => "simplified",
            InvoiceTypes::Both => "both",
        }
    }

    /// The CSR `title` code.
    pub fn csr_title(self) -> &'static str {
        match self {
            InvoiceTypes::Standard => "1000",
            InvoiceTypes::Simplified => "0100",
            InvoiceTypes::Both => "1100",
        }
    }

    /// From a CSR `title` code.
    pub fn from_csr_title(title: &str) -> Option<Self> {
        match title {
            "1000" => Some(InvoiceTypes::Standard),
            "0100" => Some(InvoiceTypes::Simplified),
            "1100" => Some(InvoiceTypes::Both),
            _ => None,
        }
    }

    /// The compliance documents ZATCA demands for these types, in submission order.
    pub fn required_documents(self) -> Vec<ComplianceKind> {
        ComplianceKind::ALL
            .into_iter()
            .filter(|k| match self {
                InvoiceTypes::Both => true,
                InvoiceTypes::Standard => !k.is_simplified(),
                InvoiceTypes::Simplified => k.is_simplified(),
            })
            .collect()
    }
}

impl FromStr for InvoiceTypes {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "standard" => Ok(InvoiceTypes::Standard),
            "simplified" => Ok(InvoiceTypes::Simplified),
            "both" => Ok(InvoiceTypes::Both),
            other => Err(format!("unknown invoice type `{other}`")),
        }
    }
}

/// One of the six compliance documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplianceKind {
    /// Standard tax invoice (388, `01…`).
    StandardInvoice,
    /// Standard credit note (381, `01…`).
    StandardCreditNote,
    /// Standard debit note (383, `01…`).
    StandardDebitNote,
    /// Simplified tax invoice (388, `02…`).
    SimplifiedInvoice,
    /// Simplified credit note (381, `02…`).
    SimplifiedCreditNote,
    /// Simplified debit note (383, `02…`).
    SimplifiedDebitNote,
}

impl ComplianceKind {
    /// Every kind, in the order they are submitted.
    pub const ALL: [ComplianceKind; 6] = [
        ComplianceKind::StandardInvoice,
        ComplianceKind::StandardCreditNote,
        ComplianceKind::StandardDebitNote,
        ComplianceKind::SimplifiedInvoice,
        ComplianceKind::SimplifiedCreditNote,
        ComplianceKind::SimplifiedDebitNote,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceKind::StandardInvoice => "standard_invoice",
            ComplianceKind::StandardCreditNote => "standard_credit_note",
            ComplianceKind::StandardDebitNote => "standard_debit_note",
            ComplianceKind::SimplifiedInvoice => "simplified_invoice",
            ComplianceKind::SimplifiedCreditNote => "simplified_credit_note",
            ComplianceKind::SimplifiedDebitNote => "simplified_debit_note",
        }
    }

    /// Whether it is a simplified (B2C, reported) document.
    pub fn is_simplified(self) -> bool {
        matches!(
            self,
            ComplianceKind::SimplifiedInvoice
                | ComplianceKind::SimplifiedCreditNote
                | ComplianceKind::SimplifiedDebitNote
        )
    }

    /// `standard` or `simplified`.
    pub fn invoice_type(self) -> &'static str {
        if self.is_simplified() { "simplified" } else { "standard" }
    }

    /// `invoice`, `credit_note` or `debit_note`.
    pub fn document_type(self) -> &'static str {
        match self {
            ComplianceKind::StandardInvoice | ComplianceKind::SimplifiedInvoice => "invoice",
            ComplianceKind::StandardCreditNote | ComplianceKind::SimplifiedCreditNote => "credit_note",
            ComplianceKind::StandardDebitNote | ComplianceKind::SimplifiedDebitNote => "debit_note",
        }
    }

    /// The kind of a document from its `InvoiceTypeCode` and whether it is simplified; `None`
    /// for codes outside the compliance set (e.g. 386 prepayment).
    pub fn from_codes(type_code: &str, simplified: bool) -> Option<Self> {
        Some(match (type_code, simplified) {
            ("388", false) => ComplianceKind::StandardInvoice,
            ("381", false) => ComplianceKind::StandardCreditNote,
            ("383", false) => ComplianceKind::StandardDebitNote,
            ("388", true) => ComplianceKind::SimplifiedInvoice,
            ("381", true) => ComplianceKind::SimplifiedCreditNote,
            ("383", true) => ComplianceKind::SimplifiedDebitNote,
            _ => return None,
        })
    }

    /// The kinds a CSR `title` demands (`1100` all six, `1000` the standard three, `0100` the
    /// simplified three); the first digit enables standard, the second simplified.
    pub fn required_for_title(title: &str) -> Vec<ComplianceKind> {
        let standard = title.as_bytes().first() == Some(&b'1');
        let simplified = title.as_bytes().get(1) == Some(&b'1');
        ComplianceKind::ALL
            .into_iter()
            .filter(|k| if k.is_simplified() { simplified } else { standard })
            .collect()
    }
}

impl fmt::Display for ComplianceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ComplianceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ComplianceKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown document kind `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_and_required_documents() {
        for types in [InvoiceTypes::Standard, InvoiceTypes::Simplified, InvoiceTypes::Both] {
            assert_eq!(InvoiceTypes::from_csr_title(types.csr_title()), Some(types));
            assert_eq!(
                types.required_documents(),
                ComplianceKind::required_for_title(types.csr_title())
            );
            assert_eq!(types.as_str().parse::<InvoiceTypes>(), Ok(types));
        }
        assert_eq!(InvoiceTypes::Both.required_documents().len(), 6);
        assert!(
            InvoiceTypes::Simplified
                .required_documents()
                .iter()
                .all(|k| k.is_simplified())
        );
        for kind in ComplianceKind::ALL {
            assert_eq!(kind.as_str().parse::<ComplianceKind>(), Ok(kind));
            let code = match kind.document_type() {
                "invoice" => "388",
                "credit_note" => "381",
                _ => "383",
            };
            assert_eq!(ComplianceKind::from_codes(code, kind.is_simplified()), Some(kind));
        }
        assert_eq!(ComplianceKind::from_codes("386", true), None);
    }
}
