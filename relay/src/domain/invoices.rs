//! Invoices: what the relay issued (or a device signed) for a unit, where it stands with ZATCA,
//! and the state machine every status change goes through.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Detail, Environment};

/// A device document's place in its unit's chain, against the relay's record of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainStatus {
    /// The next ICV, chained to the previous document's hash.
    Continuous,
    /// A later ICV than the next one: documents are missing in between.
    Gap,
    /// The next ICV, but its PIH is not the previous document's hash.
    Fork,
    /// An ICV the chain has already passed.
    OutOfOrder,
}

impl ChainStatus {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ChainStatus::Continuous => "continuous",
            ChainStatus::Gap => "gap",
            ChainStatus::Fork => "fork",
            ChainStatus::OutOfOrder => "out_of_order",
        }
    }
}

/// What the relay noticed about a device document's place in the unit's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainCheck {
    /// Where it stands.
    pub status: ChainStatus,
    /// The ICV the relay expected.
    pub expected_icv: i64,
    /// The PIH the relay expected.
    pub expected_pih: String,
}

/// Simplified (B2C, reported within 24 hours) or standard (B2B, cleared before delivery).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceKind {
    /// Reported.
    Simplified,
    /// Cleared.
    Standard,
}

impl InvoiceKind {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceKind::Simplified => "simplified",
            InvoiceKind::Standard => "standard",
        }
    }
}

impl FromStr for InvoiceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "simplified" => Ok(InvoiceKind::Simplified),
            "standard" => Ok(InvoiceKind::Standard),
            other => Err(format!("unknown invoice type `{other}`")),
        }
    }
}

/// Invoice, credit note or debit note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Tax invoice (388).
    Invoice,
    /// Credit note (381).
    CreditNote,
    /// Debit note (383).
    DebitNote,
}

impl DocumentKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Invoice => "invoice",
            DocumentKind::CreditNote => "credit_note",
            DocumentKind::DebitNote => "debit_note",
        }
    }

    /// Whether this is a note (it refers to an original invoice).
    pub fn is_note(self) -> bool {
        self != DocumentKind::Invoice
    }
}

impl FromStr for DocumentKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "invoice" => Ok(DocumentKind::Invoice),
            "credit_note" => Ok(DocumentKind::CreditNote),
            "debit_note" => Ok(DocumentKind::DebitNote),
            other => Err(format!("unknown document type `{other}`")),
        }
    }
}

/// Where an invoice stands with ZATCA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Signed and stored; not yet sent.
    Pending,
    /// Sent to ZATCA; no answer recorded yet.
    Submitted,
    /// ZATCA was unavailable; queued for another attempt.
    Retrying,
    /// Simplified: ZATCA accepted the report.
    Reported,
    /// Standard: ZATCA cleared it (its cleared XML is archived).
    Cleared,
    /// ZATCA rejected it (its messages are kept); the chain still counts it.
    Rejected,
}

impl InvoiceStatus {
    /// Every status.
    pub const ALL: [InvoiceStatus; 6] = [
        InvoiceStatus::Pending,
        InvoiceStatus::Submitted,
        InvoiceStatus::Retrying,
        InvoiceStatus::Reported,
        InvoiceStatus::Cleared,
        InvoiceStatus::Rejected,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Pending => "pending",
            InvoiceStatus::Submitted => "submitted",
            InvoiceStatus::Retrying => "retrying",
            InvoiceStatus::Reported => "reported",
            InvoiceStatus::Cleared => "cleared",
            InvoiceStatus::Rejected => "rejected",
        }
    }

    /// Reported, cleared or rejected: ZATCA has decided.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            InvoiceStatus::Reported | InvoiceStatus::Cleared | InvoiceStatus::Rejected
        )
    }

    /// The invoice state machine:
    ///
    /// ```text
    /// pending ──► submitted ──► reported | cleared | rejected
    ///    │            │  ▲
    ///    │            ▼  │
    ///    └──────► retrying ─► reported | cleared | rejected
    /// ```
    ///
    /// A `submitted` invoice whose answer was lost (a crash) is sent again: ZATCA's duplicate
    /// answer then settles it, so `submitted → submitted` is allowed too.
    pub fn can_become(self, next: InvoiceStatus) -> bool {
        use InvoiceStatus::*;
        match self {
            Pending | Submitted | Retrying => next != Pending,
            Reported | Cleared | Rejected => false,
        }
    }
}

impl fmt::Display for InvoiceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InvoiceStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InvoiceStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown invoice status `{s}`"))
    }
}

/// A status change the invoice state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an invoice cannot go from `{from}` to `{to}`")]
pub struct IllegalInvoiceTransition {
    /// The current status.
    pub from: InvoiceStatus,
    /// The status asked for.
    pub to: InvoiceStatus,
}

/// One line as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineSummary {
    /// 1-based.
    pub line_number: u32,
    /// Item name.
    pub description: String,
    /// Quantity.
    pub quantity: Decimal,
    /// Unit price as given.
    pub unit_price: Decimal,
    /// VAT rate in percent.
    pub vat_rate: Decimal,
    /// Line total including VAT.
    pub line_total: Decimal,
}

/// One entry of an invoice's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// The status entered.
    pub status: InvoiceStatus,
    /// When.
    pub at: DateTime<Utc>,
    /// ZATCA's messages or the reason of a retry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Detail>,
}

/// An invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    /// `invoice_id`.
    pub id: Uuid,
    /// Owner.
    pub account_id: Uuid,
    /// Issuing unit.
    pub egs_unit_id: Uuid,
    /// Environment of the unit.
    pub environment: Environment,
    /// Document UUID (`cbc:UUID`).
    pub uuid: String,
    /// Invoice number (BT-1).
    pub invoice_number: String,
    /// Simplified or standard.
    pub invoice_type: InvoiceKind,
    /// Invoice, credit or debit note.
    pub document_type: DocumentKind,
    /// Status.
    pub status: InvoiceStatus,
    /// Invoice counter value in the unit's chain.
    pub icv: i64,
    /// Invoice hash (base64): the next document's PIH.
    pub invoice_hash: String,
    /// Document currency.
    pub currency: String,
    /// Total without VAT.
    pub subtotal: Decimal,
    /// VAT total (document currency).
    pub vat: Decimal,
    /// Total with VAT.
    pub total: Decimal,
    /// Issue date `YYYY-MM-DD`.
    pub invoice_date: String,
    /// Issue time `HH:mm:ss`.
    pub invoice_time: String,
    /// The QR code (base64 TLV) of the document.
    pub qr_code: Option<String>,
    /// The original invoice of a note.
    pub original_invoice_id: Option<Uuid>,
    /// Whether a buyer is named (a B2B document).
    pub has_buyer: bool,
    /// Signed on the device (device custody) rather than by the relay.
    pub device_signed: bool,
    /// Device documents: their place in the unit's chain when recorded.
    pub chain: Option<ChainCheck>,
    /// Lines as the API shows them.
    pub line_items: Vec<LineSummary>,
    /// ZATCA's latest messages (warnings on acceptance, errors on rejection).
    pub messages: Vec<Detail>,
    /// Simplified: 24 hours after issue, by when ZATCA must have it.
    pub report_deadline: Option<DateTime<Utc>>,
    /// When ZATCA accepted the report.
    pub reported_at: Option<DateTime<Utc>>,
    /// When ZATCA cleared it.
    pub cleared_at: Option<DateTime<Utc>>,
    /// The `Idempotency-Key` it was created with.
    pub idempotency_key: Option<String>,
    /// SHA-256 (hex) of the create request, to tell a retry from a reuse of the key.
    pub request_hash: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Invoice {
    /// Moves the invoice to `next` through the state machine, recording when ZATCA decided.
    pub fn transition(&mut self, next: InvoiceStatus, now: DateTime<Utc>) -> Result<(), IllegalInvoiceTransition> {
        if !self.status.can_become(next) {
            return Err(IllegalInvoiceTransition {
                from: self.status,
                to: next,
            });
        }
        self.status = next;
        match next {
            InvoiceStatus::Reported => self.reported_at = Some(now),
            InvoiceStatus::Cleared => self.cleared_at = Some(now),
            _ => {}
        }
        self.updated_at = now;
        Ok(())
    }

    /// Simplified invoices not reported within 24 hours of issue are late; within the last
    /// `margin` before the deadline they are flagged.
    pub fn near_deadline(&self, now: DateTime<Utc>, margin: chrono::Duration) -> bool {
        !self.status.is_final() && self.report_deadline.is_some_and(|d| now + margin >= d)
    }
}

#[cfg(test)]
mod tests {
    use super::InvoiceStatus::{self, *};

    #[test]
    fn invoice_transitions() {
        let allowed: Vec<(InvoiceStatus, InvoiceStatus)> = InvoiceStatus::ALL
            .iter()
            .flat_map(|from| InvoiceStatus::ALL.iter().map(move |to| (*from, *to)))
            .filter(|(from, to)| from.can_become(*to))
            .collect();
        for (from, to) in &allowed {
            assert!(!from.is_final(), "{from} is final");
            assert_ne!(*to, Pending);
        }
        assert!(Pending.can_become(Submitted));
        assert!(Submitted.can_become(Reported));
        assert!(Retrying.can_become(Cleared));
        assert!(!Reported.can_become(Rejected));
        assert!(!Cleared.can_become(Submitted));
        assert!(!Rejected.can_become(Retrying));
        assert_eq!(allowed.len(), 15);
    }
}
