//! Persistence: the domain records and the [`Store`] trait, named by domain operation. SQLite is
//! the implementation today ([`sqlite::SqliteStore`]); PostgreSQL joins behind the same trait.

pub mod sqlite;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::DatabaseUrl;
use crate::error::Detail;

/// Store result.
pub type StoreResult<T> = Result<T, sqlx::Error>;

/// Sandbox (`zatca_test_` keys) or production (`zatca_live_` keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// Which invoice types a unit issues (the CSR `title`, SPEC §9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

    /// The compliance documents ZATCA demands before it issues a production CSID (SPEC §11).
    pub fn required_documents(self) -> Vec<ComplianceKind> {
        let standard = [
            ComplianceKind::StandardInvoice,
            ComplianceKind::StandardCreditNote,
            ComplianceKind::StandardDebitNote,
        ];
        let simplified = [
            ComplianceKind::SimplifiedInvoice,
            ComplianceKind::SimplifiedCreditNote,
            ComplianceKind::SimplifiedDebitNote,
        ];
        match self {
            InvoiceTypes::Standard => standard.to_vec(),
            InvoiceTypes::Simplified => simplified.to_vec(),
            InvoiceTypes::Both => standard.into_iter().chain(simplified).collect(),
        }
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

/// One of the six compliance sample documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplianceKind {
    /// Standard tax invoice (388, `0100000`).
    StandardInvoice,
    /// Standard credit note (381).
    StandardCreditNote,
    /// Standard debit note (383).
    StandardDebitNote,
    /// Simplified tax invoice (388, `0200000`).
    SimplifiedInvoice,
    /// Simplified credit note (381).
    SimplifiedCreditNote,
    /// Simplified debit note (383).
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

    /// `standard` or `simplified`.
    pub fn invoice_type(self) -> &'static str {
        match self {
            ComplianceKind::StandardInvoice
            | ComplianceKind::StandardCreditNote
            | ComplianceKind::StandardDebitNote => "standard",
            _ => "simplified",
        }
    }

    /// `invoice`, `credit_note` or `debit_note`.
    pub fn document_type(self) -> &'static str {
        match self {
            ComplianceKind::StandardInvoice | ComplianceKind::SimplifiedInvoice => "invoice",
            ComplianceKind::StandardCreditNote | ComplianceKind::SimplifiedCreditNote => "credit_note",
            ComplianceKind::StandardDebitNote | ComplianceKind::SimplifiedDebitNote => "debit_note",
        }
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

/// Who holds the unit's private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// An account (tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Identifier.
    pub id: Uuid,
    /// Display name.
    pub name: Option<String>,
    /// Contact e-mail.
    pub email: Option<String>,
    /// Plan name (quotas come from configuration).
    pub plan: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// An API key record (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Identifier.
    pub id: Uuid,
    /// Owner.
    pub account_id: Uuid,
    /// Label.
    pub name: Option<String>,
    /// Sandbox or production.
    pub environment: Environment,
    /// SHA-256 of the key.
    pub key_hash: Vec<u8>,
    /// Masked form.
    pub masked: String,
    /// Unit used by invoice requests that omit `egs_unit_id`.
    pub default_egs_unit_id: Option<Uuid>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last successful authentication.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Revocation time.
    pub revoked_at: Option<DateTime<Utc>>,
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
    /// ICV of the last document issued (0: none yet).
    pub invoice_counter: i64,
    /// Hash of the last document issued (the next PIH).
    pub last_invoice_hash: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
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

/// Job kinds.
pub const JOB_ONBOARD: &str = "onboard";

/// A background job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Identifier.
    pub id: Uuid,
    /// Kind (`onboard`).
    pub kind: String,
    /// The unit it works on.
    pub egs_unit_id: Uuid,
    /// JSON payload (secret fields encrypted).
    pub payload: serde_json::Value,
    /// Attempts so far, including the one in progress once claimed.
    pub attempts: u32,
}

/// One ZATCA exchange in the audit log (already redacted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Sequence number (0 before insertion).
    pub id: i64,
    /// The unit.
    pub egs_unit_id: Uuid,
    /// When the request was sent.
    pub at: DateTime<Utc>,
    /// `compliance_csid`, `compliance_invoice`, `production_csid`, `renew_production_csid`, …
    pub operation: String,
    /// HTTP method.
    pub method: String,
    /// Full URL.
    pub url: String,
    /// Request headers (redacted).
    pub request_headers: serde_json::Value,
    /// Request body (redacted).
    pub request_body: Option<String>,
    /// Response status (None when no response arrived).
    pub response_status: Option<u16>,
    /// Response body (redacted).
    pub response_body: Option<String>,
    /// Round-trip time.
    pub duration_ms: u64,
    /// Transport error, if any.
    pub error: Option<String>,
}

/// Outcome of inserting a unit under a quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaOutcome {
    /// The unit (and its job) were inserted.
    Inserted,
    /// The account already has `used` units in that environment.
    Exceeded {
        /// Units counted against the quota.
        used: u32,
    },
}

/// Outcome of revoking an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// Revoked now.
    Revoked,
    /// It was already revoked.
    AlreadyRevoked,
    /// It is the account's last active key (or the calling key was revoked meanwhile).
    LastActiveKey,
    /// No such key in the account.
    NotFound,
}

/// Persistence operations, named by what they do in the domain.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Creates an account with its first API key, atomically.
    async fn create_account(&self, account: &Account, key: &ApiKey) -> StoreResult<()>;
    /// The account.
    async fn account(&self, id: Uuid) -> StoreResult<Option<Account>>;

    /// Inserts an API key.
    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()>;
    /// The active (not revoked) key with this hash, with its account.
    async fn active_api_key_by_hash(&self, hash: &[u8]) -> StoreResult<Option<(ApiKey, Account)>>;
    /// Records a successful authentication.
    async fn touch_api_key(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()>;
    /// An account's keys, oldest first.
    async fn list_api_keys(&self, account_id: Uuid) -> StoreResult<Vec<ApiKey>>;
    /// One key of an account.
    async fn api_key(&self, account_id: Uuid, id: Uuid) -> StoreResult<Option<ApiKey>>;
    /// Revokes a key unless it is the account's last active one, in one atomic step (two keys
    /// revoking each other at the same moment must not both succeed). `by` is the key making
    /// the call: a key revoked in the meantime cannot revoke another.
    async fn revoke_api_key(
        &self,
        account_id: Uuid,
        id: Uuid,
        by: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<RevokeOutcome>;
    /// Updates a key's name and default unit.
    async fn update_api_key(
        &self,
        account_id: Uuid,
        id: Uuid,
        name: Option<&str>,
        default_unit: Option<Uuid>,
    ) -> StoreResult<()>;

    /// Inserts a unit, and its onboarding job if any, unless the account already has `limit`
    /// units in that environment. Units whose onboarding failed before ZATCA issued any CSID
    /// do not count.
    async fn insert_unit_within_quota(
        &self,
        unit: &EgsUnit,
        limit: u32,
        job: Option<&Job>,
    ) -> StoreResult<QuotaOutcome>;
    /// Puts a failed unit back to `status` (pending, or awaiting compliance documents) with its
    /// job if any, unless that would exceed the quota (a unit that failed before any CSID was
    /// issued does not count while failed). `Exceeded { used: u32::MAX }` when the unit is no
    /// longer failed.
    async fn restart_onboarding_within_quota(
        &self,
        unit: &EgsUnit,
        limit: u32,
        job: Option<&Job>,
    ) -> StoreResult<QuotaOutcome>;
    /// Units counted against the quota.
    async fn count_units(&self, account_id: Uuid, environment: Environment) -> StoreResult<u32>;
    /// A unit of an account (None for another account's unit).
    async fn unit(&self, account_id: Uuid, id: Uuid) -> StoreResult<Option<EgsUnit>>;
    /// A unit by id alone, for the worker.
    async fn unit_by_id(&self, id: Uuid) -> StoreResult<Option<EgsUnit>>;
    /// An account's units, oldest first.
    async fn list_units(&self, account_id: Uuid) -> StoreResult<Vec<EgsUnit>>;
    /// Saves a unit's onboarding state and credentials (everything except the invoice chain).
    async fn save_unit_onboarding(&self, unit: &EgsUnit) -> StoreResult<()>;

    /// Records an accepted compliance document.
    async fn record_compliance_document(&self, unit_id: Uuid, doc: &ComplianceDocument) -> StoreResult<()>;
    /// A unit's accepted compliance documents.
    async fn compliance_documents(&self, unit_id: Uuid) -> StoreResult<Vec<ComplianceDocument>>;

    /// Enqueues a job due now.
    async fn enqueue_job(&self, job: &Job, now: DateTime<Utc>) -> StoreResult<()>;
    /// Claims up to `limit` due jobs (queued and due, or running with an expired lease).
    async fn claim_due_jobs(&self, now: DateTime<Utc>, lease_until: DateTime<Utc>, limit: u32)
    -> StoreResult<Vec<Job>>;
    /// Marks a job done and clears its payload (it may hold an encrypted OTP).
    async fn finish_job(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()>;
    /// Puts a job back in the queue for a later attempt.
    async fn retry_job(
        &self,
        id: Uuid,
        next_attempt_at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Marks a job failed for good and clears its payload.
    async fn fail_job(&self, id: Uuid, error: &str, now: DateTime<Utc>) -> StoreResult<()>;
    /// Replaces a job's payload (e.g. to drop a consumed OTP).
    async fn update_job_payload(&self, id: Uuid, payload: &serde_json::Value, now: DateTime<Utc>) -> StoreResult<()>;
    /// Releases every running job (start-up: this process holds no claim yet).
    async fn release_running_jobs(&self, now: DateTime<Utc>) -> StoreResult<u64>;
    /// Jobs of a unit that are queued or running.
    async fn open_jobs_for_unit(&self, unit_id: Uuid) -> StoreResult<u32>;

    /// Appends to the audit log.
    async fn insert_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// A unit's audit log, newest first.
    async fn audit_log(&self, unit_id: Uuid, limit: u32) -> StoreResult<Vec<AuditEntry>>;
    /// Deletes audit rows older than `before` (if given) and all but the newest `keep_per_unit`
    /// rows of each unit (if given). Returns the number of rows deleted.
    async fn prune_audit(&self, before: Option<DateTime<Utc>>, keep_per_unit: Option<u32>) -> StoreResult<u64>;

    /// Marks that a compliance-CSID request is about to be sent for a unit (before it is sent:
    /// ZATCA has no idempotency key, so a crash in flight must be detectable), or clears the
    /// mark (`None`) once an answer arrived.
    async fn set_compliance_attempt(&self, unit_id: Uuid, at: Option<DateTime<Utc>>) -> StoreResult<()>;

    /// Checks the database answers.
    async fn ping(&self) -> StoreResult<()>;
    /// Closes the pools (checkpoints the WAL).
    async fn close(&self);
}

/// Opens the store a URL names, applying migrations.
pub async fn from_url(url: &DatabaseUrl) -> anyhow::Result<Arc<dyn Store>> {
    if url.scheme() == "sqlite" {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else {
        anyhow::bail!("unsupported database scheme `{}`", url.scheme())
    }
}

/// Milliseconds since the epoch.
pub fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// From milliseconds since the epoch (out-of-range values clamp to the epoch).
pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// ISO 8601 with milliseconds and `Z`, as the API documents (`2025-01-15T10:00:00.000Z`).
pub fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
