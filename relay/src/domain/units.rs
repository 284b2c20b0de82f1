//! EGS units: what they issue, who holds their key, their seller profile, credentials and
//! onboarding status. No HTTP and no SQL here: routes and the store translate to and from these.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Detail;

/// Sandbox (`zatca_test_` keys) or production (`zatca_live_` keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// ZATCA's sandbox (developer portal or simulation).
    Sandbox,
    /// ZATCA's production ("core") gateway.
    Production,
}

impl Environment {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Sandbox => "sandbox",
            Environment::Production => "production",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sandbox" => Ok(Environment::Sandbox),
            "production" => Ok(Environment::Production),
            other => Err(format!("unknown environment `{other}`")),
        }
    }
}

/// ZATCA's vocabulary (invoice types of a unit and the six compliance documents) is
/// zatca-core's, shared with the simulator and the CLI.
pub use zatca_core::compliance::{ComplianceKind, InvoiceTypes};

/// Who holds the unit's private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Custody {
    /// The relay generates the key and CSR and keeps the key encrypted.
    Relay,
    /// The device makes the key and CSR; the relay never sees the key.
    Device,
}

impl Custody {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Custody::Relay => "relay",
            Custody::Device => "device",
        }
    }
}

impl FromStr for Custody {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "relay" => Ok(Custody::Relay),
            "device" => Ok(Custody::Device),
            other => Err(format!("unknown custody `{other}`")),
        }
    }
}

/// Where a unit is in its onboarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnboardingStatus {
    /// The background job is getting the compliance CSID and running the compliance checks.
    Pending,
    /// Device custody: compliance CSID issued; the device must submit the signed documents.
    AwaitingComplianceDocuments,
    /// Production unit whose compliance checks passed: call `request-production` with an OTP.
    ReadyForProduction,
    /// The unit can sign and submit invoices.
    Active,
    /// Onboarding failed; `errors` holds ZATCA's messages.
    Failed,
}

impl OnboardingStatus {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            OnboardingStatus::Pending => "pending",
            OnboardingStatus::AwaitingComplianceDocuments => "awaiting_compliance_documents",
            OnboardingStatus::ReadyForProduction => "ready_for_production",
            OnboardingStatus::Active => "active",
            OnboardingStatus::Failed => "failed",
        }
    }
}

/// A status change the onboarding state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an EGS unit cannot go from `{}` to `{}`", from.as_str(), to.as_str())]
pub struct IllegalTransition {
    /// The current status.
    pub from: OnboardingStatus,
    /// The status asked for.
    pub to: OnboardingStatus,
}

impl OnboardingStatus {
    /// The onboarding state machine:
    ///
    /// ```text
    /// pending ──► awaiting_compliance_documents ──► ready_for_production ──► active ⟲ (renewal)
    ///    │                    │                             ▲                  ▲
    ///    ├────────────────────┼─────────────────────────────┘                  │
    ///    ├────────────────────┴──────────────────────────────────────────────► ┘ (sandbox)
    ///    ▼                    ▼                   ▼
    ///  failed ──► pending | awaiting_compliance_documents   (retry-onboarding)
    /// ```
    ///
    /// Phase 1 units are created `active` and never move.
    pub fn can_become(self, next: OnboardingStatus) -> bool {
        use OnboardingStatus::*;
        matches!(
            (self, next),
            (
                Pending,
                AwaitingComplianceDocuments | ReadyForProduction | Active | Failed
            ) | (AwaitingComplianceDocuments, ReadyForProduction | Active | Failed)
                | (ReadyForProduction, Active | Failed)
                | (Active, Active)
                | (Failed, Pending | AwaitingComplianceDocuments)
        )
    }
}

impl FromStr for OnboardingStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pending" => OnboardingStatus::Pending,
            "awaiting_compliance_documents" => OnboardingStatus::AwaitingComplianceDocuments,
            "ready_for_production" => OnboardingStatus::ReadyForProduction,
            "active" => OnboardingStatus::Active,
            "failed" => OnboardingStatus::Failed,
            other => return Err(format!("unknown onboarding status `{other}`")),
        })
    }
}

/// A postal address (SPEC §3.2: street, building number, district, city, postal code, country).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Address {
    /// Street name.
    pub street: String,
    /// Four-digit building number.
    #[serde(default)]
    pub building_number: String,
    /// District (city subdivision).
    #[serde(default)]
    pub district: String,
    /// City.
    pub city: String,
    /// Five-digit postal code.
    #[serde(default)]
    pub postal_code: String,
    /// Additional number (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_number: Option<String>,
    /// ISO country code.
    pub country: String,
}

/// The seller a unit issues under: the CSR's subject and the default seller of its invoices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SellerProfile {
    /// Legal name (CSR `O`).
    pub name: String,
    /// Arabic legal name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_ar: Option<String>,
    /// VAT registration number, 15 digits starting and ending with 3 (CSR `UID`).
    pub vat_number: String,
    /// Commercial registration number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crn: Option<String>,
    /// Address.
    pub address: Address,
    /// Branch name (CSR `OU`).
    pub branch: String,
    /// Industry / business category (CSR `businessCategory`).
    pub industry: String,
}

/// A CSID as stored: the token verbatim, the secret encrypted, ZATCA's request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCsid {
    /// `binarySecurityToken` as received.
    pub token: String,
    /// Encrypted `secret`.
    pub secret_enc: String,
    /// `requestID`.
    pub request_id: String,
}

/// An EGS unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgsUnit {
    /// Identifier.
    pub id: Uuid,
    /// Owner.
    pub account_id: Uuid,
    /// Name, e.g. "Main Branch POS".
    pub unit_name: String,
    /// Environment (fixed at creation from the key).
    pub environment: Environment,
    /// 1 or 2.
    pub phase: u8,
    /// Invoice types.
    pub invoice_type: InvoiceTypes,
    /// Key custody.
    pub custody: Custody,
    /// Public serial ("SN-…").
    pub serial_number: String,
    /// EGS serial of the CSR ("1-…|2-…|3-…"), phase 2 only.
    pub egs_serial: Option<String>,
    /// Seller profile.
    pub seller: SellerProfile,
    /// Onboarding status.
    pub onboarding_status: OnboardingStatus,
    /// Human-readable progress note.
    pub status_message: Option<String>,
    /// ZATCA's messages of the last failure.
    pub errors: Vec<Detail>,
    /// CSR (PEM) sent to ZATCA.
    pub csr_pem: Option<String>,
    /// Encrypted private key (relay custody).
    pub private_key_enc: Option<String>,
    /// Compliance CSID.
    pub compliance: Option<StoredCsid>,
    /// Production CSID.
    pub production: Option<StoredCsid>,
    /// `notBefore` of the certificate in use.
    pub cert_issued_at: Option<DateTime<Utc>>,
    /// `notAfter` of the certificate in use.
    pub cert_expires_at: Option<DateTime<Utc>>,
    /// When a compliance-CSID request was last sent without its answer being recorded yet
    /// (cleared once the CSID is saved).
    pub compliance_attempted_at: Option<DateTime<Utc>>,
    /// Device custody: the last gap or fork the relay noticed in the documents' chain.
    pub chain_note: Option<String>,
    /// ICV of the last document issued (0: none yet).
    pub invoice_counter: i64,
    /// Hash of the last document issued (the next PIH).
    pub last_invoice_hash: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl EgsUnit {
    /// Moves the unit to `next` with a progress message, through the state machine
    /// ([`OnboardingStatus::can_become`]); the only way a unit's status changes.
    pub fn transition(
        &mut self,
        next: OnboardingStatus,
        message: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Result<(), IllegalTransition> {
        if !self.onboarding_status.can_become(next) {
            return Err(IllegalTransition {
                from: self.onboarding_status,
                to: next,
            });
        }
        self.onboarding_status = next;
        self.status_message = Some(message.into());
        if next != OnboardingStatus::Failed {
            self.errors.clear();
        }
        self.updated_at = now;
        Ok(())
    }

    /// Moves the unit to `failed` with the reason and ZATCA's messages.
    pub fn fail(
        &mut self,
        message: impl Into<String>,
        errors: Vec<Detail>,
        now: DateTime<Utc>,
    ) -> Result<(), IllegalTransition> {
        self.transition(OnboardingStatus::Failed, message, now)?;
        self.errors = errors;
        Ok(())
    }
}

/// A compliance document accepted by ZATCA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplianceDocument {
    /// Which of the six.
    pub kind: ComplianceKind,
    /// ICV used in the sample.
    pub icv: i64,
    /// Document UUID.
    pub uuid: String,
    /// Invoice hash (base64).
    pub invoice_hash: String,
    /// ZATCA's messages (warnings and infos).
    pub messages: serde_json::Value,
    /// When ZATCA accepted it.
    pub accepted_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::OnboardingStatus::{self, *};

    const ALL: [OnboardingStatus; 5] = [Pending, AwaitingComplianceDocuments, ReadyForProduction, Active, Failed];

    #[test]
    fn onboarding_transitions_are_exactly_the_documented_ones() {
        let allowed: Vec<(OnboardingStatus, OnboardingStatus)> = ALL
            .iter()
            .flat_map(|from| ALL.iter().map(move |to| (*from, *to)))
            .filter(|(from, to)| from.can_become(*to))
            .collect();
        assert_eq!(
            allowed,
            [
                (Pending, AwaitingComplianceDocuments),
                (Pending, ReadyForProduction),
                (Pending, Active),
                (Pending, Failed),
                (AwaitingComplianceDocuments, ReadyForProduction),
                (AwaitingComplianceDocuments, Active),
                (AwaitingComplianceDocuments, Failed),
                (ReadyForProduction, Active),
                (ReadyForProduction, Failed),
                (Active, Active),
                (Failed, Pending),
                (Failed, AwaitingComplianceDocuments),
            ]
        );
    }

    #[test]
    fn illegal_transitions_are_errors_and_change_nothing() {
        let mut unit = super::tests_support::unit(Active);
        let err = unit
            .transition(Pending, "again", chrono::Utc::now())
            .expect_err("active cannot go back to pending");
        assert_eq!(err.to_string(), "an EGS unit cannot go from `active` to `pending`");
        assert_eq!(unit.onboarding_status, Active);
        let mut unit = super::tests_support::unit(Pending);
        unit.fail("ZATCA said no", vec![super::Detail::message("x")], chrono::Utc::now())
            .expect("pending can fail");
        assert_eq!(unit.onboarding_status, Failed);
        assert_eq!(unit.errors.len(), 1);
        unit.transition(Pending, "retried", chrono::Utc::now()).expect("retry");
        assert!(unit.errors.is_empty());
    }
}

#[cfg(test)]
mod tests_support {
    use super::*;

    pub(super) fn unit(status: OnboardingStatus) -> EgsUnit {
        let now = Utc::now();
        EgsUnit {
            id: Uuid::new_v4(),
            account_id: Uuid::new_v4(),
            unit_name: "POS".into(),
            environment: Environment::Sandbox,
            phase: 2,
            invoice_type: InvoiceTypes::Simplified,
            custody: Custody::Relay,
            serial_number: "SN-1".into(),
            egs_serial: None,
            seller: SellerProfile::default(),
            onboarding_status: status,
            status_message: None,
            errors: Vec::new(),
            csr_pem: None,
            private_key_enc: None,
            compliance: None,
            production: None,
            cert_issued_at: None,
            cert_expires_at: None,
            compliance_attempted_at: None,
            chain_note: None,
            invoice_counter: 0,
            last_invoice_hash: String::new(),
            created_at: now,
            updated_at: now,
        }
    }
}

/// A production certificate's health: `expiring_soon` at 30 days or less, `critical` at 7 or
/// less (renew now: an expired certificate stops reporting and clearance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertHealth {
    /// No certificate yet.
    None,
    /// More than 30 days left.
    Healthy,
    /// 30 days or less.
    ExpiringSoon,
    /// 7 days or less.
    Critical,
    /// Past its end.
    Expired,
}

impl CertHealth {
    /// The health of a certificate ending at `expires`, at `now`.
    pub fn of(expires: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Self {
        let Some(at) = expires else {
            return CertHealth::None;
        };
        let days = (at - now).num_days();
        if at <= now {
            CertHealth::Expired
        } else if days <= 7 {
            CertHealth::Critical
        } else if days <= 30 {
            CertHealth::ExpiringSoon
        } else {
            CertHealth::Healthy
        }
    }

    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CertHealth::None => "none",
            CertHealth::Healthy => "healthy",
            CertHealth::ExpiringSoon => "expiring_soon",
            CertHealth::Critical => "critical",
            CertHealth::Expired => "expired",
        }
    }
}
