//! Persistence: the [`Store`] trait over the domain's records, named by domain operation, with
//! two implementations chosen by the database URL: SQLite ([`sqlite::SqliteStore`], one relay
//! process) and PostgreSQL (`postgres::PostgresStore`, several relays sharing one database).

mod decode;
pub mod objects;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod sqlite;
pub mod webhooks;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

pub use webhooks::WebhookStore;

use crate::config::DatabaseUrl;
use crate::domain::{
    Account, ApiKey, AuditEntry, ComplianceDocument, EgsUnit, Environment, Invoice, InvoiceStatus, Job, JobKind,
    PendingEvent, TimelineEntry,
};

/// Store result.
pub type StoreResult<T> = Result<T, StoreError>;

/// A failure of the store: the database's own, or a stored value that does not decode.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database: {0}")]
    Database(Box<dyn std::error::Error + Send + Sync>),
    /// A stored value is not what the relay wrote (a column of the wrong shape).
    #[error("stored {column} does not decode: {detail}")]
    Decode {
        /// The column.
        column: String,
        /// What is wrong.
        detail: String,
    },
    /// A value could not be encoded for storage.
    #[error("cannot encode a value for storage: {0}")]
    Encode(#[from] serde_json::Error),
    /// A blocking database task ended abnormally.
    #[error("database task: {0}")]
    Task(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError::Database(Box::new(err))
    }
}

/// The store's side of the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationsSnapshot {
    /// Jobs queued or running.
    pub queued_jobs: u64,
    /// Creation time of the oldest invoice not yet reported, cleared or rejected.
    pub oldest_unsettled: Option<DateTime<Utc>>,
    /// Unreported simplified invoices due within the `near` window, not yet late.
    pub near_deadline: u64,
    /// Unreported simplified invoices past their deadline.
    pub past_deadline: u64,
    /// When each production certificate ends.
    pub certificate_expiries: Vec<DateTime<Utc>>,
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

/// Outcome of recording a new invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueOutcome {
    /// Recorded; the unit's chain advanced.
    Issued,
    /// Another invoice took this chain position first: sign again with the new chain state.
    ChainMoved,
    /// The account already has an invoice with this idempotency key (or, for device
    /// documents, the unit already has this invoice hash): that invoice's id.
    Exists(Uuid),
}

/// Filters of `GET /v1/invoices`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceFilter {
    /// Status.
    pub status: Option<InvoiceStatus>,
    /// `simplified` or `standard`.
    pub invoice_type: Option<String>,
    /// `invoice`, `credit_note` or `debit_note`.
    pub document_type: Option<String>,
    /// Issue date from (inclusive, `YYYY-MM-DD`).
    pub date_from: Option<String>,
    /// Issue date to (inclusive).
    pub date_to: Option<String>,
    /// Unit.
    pub egs_unit_id: Option<Uuid>,
}

/// One page of invoices, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoicePage {
    /// The invoices.
    pub invoices: Vec<Invoice>,
    /// The position after the last one, when more follow.
    pub next: Option<i64>,
    /// How many match the filter in all.
    pub total_count: u64,
}

/// Where signed and cleared XML is kept (the database today; an S3-compatible store later).
/// Writes are idempotent, keyed by invoice and kind, and happen before the invoice row is
/// committed, so no recorded invoice lacks its XML.
#[async_trait]
pub trait Archive: Send + Sync + fmt::Debug {
    /// Stores a document.
    async fn put(&self, invoice_id: Uuid, kind: ArchiveKind, xml: &[u8]) -> anyhow::Result<()>;
    /// Reads a document.
    async fn get(&self, invoice_id: Uuid, kind: ArchiveKind) -> anyhow::Result<Option<Vec<u8>>>;
    /// Whether this archive is the store's own database: the signed XML is then written in the
    /// invoice's own transaction (`Store::issue_invoice`), saving a write.
    fn in_store(&self) -> bool {
        false
    }
}

/// Which document of an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    /// As signed (by the relay or the device).
    Signed,
    /// As cleared and stamped by ZATCA.
    Cleared,
}

impl ArchiveKind {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            ArchiveKind::Signed => "signed",
            ArchiveKind::Cleared => "cleared",
        }
    }
}

/// Persistence operations, named by what they do in the domain.
#[async_trait]
pub trait Store: WebhookStore + Send + Sync + fmt::Debug {
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
    /// Updates a key's name and default unit, each only when given (Some; Some(None) clears it).
    async fn update_api_key(
        &self,
        account_id: Uuid,
        id: Uuid,
        name: Option<Option<&str>>,
        default_unit: Option<Option<Uuid>>,
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
    /// Saves a unit's onboarding state and credentials (everything except the invoice chain),
    /// with the webhook event announcing it, if any, in the same transaction.
    async fn save_unit_onboarding(&self, unit: &EgsUnit, event: Option<&PendingEvent>) -> StoreResult<()>;

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
    /// Replaces what a job carries (e.g. to drop a consumed OTP).
    async fn update_job(&self, id: Uuid, kind: &JobKind, now: DateTime<Utc>) -> StoreResult<()>;
    /// Releases every running job (start-up: this process holds no claim yet).
    async fn release_running_jobs(&self, now: DateTime<Utc>) -> StoreResult<u64>;
    /// Jobs of a unit that are queued or running, webhook deliveries aside.
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

    /// Records a new invoice at chain position `invoice.icv` (the unit's counter must still be
    /// `icv - 1`, else `ChainMoved`), advances the unit's chain to it, and enqueues its job, in
    /// one transaction.
    /// `signed_xml`: when the archive is this database, the document goes into it in the same
    /// transaction (else the caller archived it before).
    async fn issue_invoice(
        &self,
        invoice: &Invoice,
        job: Option<&Job>,
        signed_xml: Option<&[u8]>,
    ) -> StoreResult<IssueOutcome>;
    /// Records a device-signed invoice at the position it carries: the unit's chain head moves
    /// to it when it is ahead, and `chain_note` (a gap or fork the relay noticed) is saved on
    /// the unit. `ChainMoved` when another document already holds that ICV.
    async fn record_device_invoice(
        &self,
        invoice: &Invoice,
        job: Option<&Job>,
        chain_note: Option<&str>,
        signed_xml: Option<&[u8]>,
    ) -> StoreResult<IssueOutcome>;
    /// One invoice of an account.
    async fn invoice(&self, account_id: Uuid, id: Uuid) -> StoreResult<Option<Invoice>>;
    /// An invoice by id alone, for the worker.
    async fn invoice_by_id(&self, id: Uuid) -> StoreResult<Option<Invoice>>;
    /// An account's invoice by its `Idempotency-Key`.
    async fn invoice_by_idempotency_key(&self, account_id: Uuid, key: &str) -> StoreResult<Option<Invoice>>;
    /// Replaces an invoice's QR code (a cleared invoice carries ZATCA's).
    async fn save_invoice_qr(&self, id: Uuid, qr: Option<&str>) -> StoreResult<()>;
    /// An account's invoice by document UUID.
    async fn invoice_by_uuid(&self, account_id: Uuid, uuid: &str) -> StoreResult<Option<Invoice>>;
    /// A page of an account's invoices in an environment, newest first, after position `after`.
    async fn list_invoices(
        &self,
        account_id: Uuid,
        environment: Environment,
        filter: &InvoiceFilter,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<InvoicePage>;
    /// Saves an invoice's status, messages and times, and appends the timeline entries, with
    /// the webhook event announcing it, if any, in the same transaction.
    async fn save_invoice_status(
        &self,
        invoice: &Invoice,
        entries: &[TimelineEntry],
        event: Option<&PendingEvent>,
    ) -> StoreResult<()>;
    /// An invoice's timeline, oldest first.
    async fn invoice_timeline(&self, invoice_id: Uuid) -> StoreResult<Vec<TimelineEntry>>;
    /// Sum of the totals of the notes already issued against an original invoice, per kind
    /// (`credit_note`, `debit_note`), not counting rejected ones.
    async fn notes_total(&self, original_id: Uuid, document_type: &str) -> StoreResult<rust_decimal::Decimal>;
    /// A unit's simplified invoices not yet reported: how many, how many of them are due
    /// before `near` (their 24-hour deadline is close), and how many are past it at `now`.
    async fn reporting_backlog(
        &self,
        unit_id: Uuid,
        now: DateTime<Utc>,
        near: DateTime<Utc>,
    ) -> StoreResult<(u64, u64, u64)>;
    /// Open (queued or running) submission jobs of a unit.
    async fn open_submissions(&self, unit_id: Uuid) -> StoreResult<u32>;

    /// What the metrics show, across every unit: open jobs, the oldest unsettled invoice,
    /// simplified invoices due before `near` and past `now`, production certificates' ends.
    async fn operations_snapshot(&self, now: DateTime<Utc>, near: DateTime<Utc>) -> StoreResult<OperationsSnapshot>;

    /// Units whose production certificate ends before `before`, with its end, soonest first.
    async fn certificates_ending_before(&self, before: DateTime<Utc>) -> StoreResult<Vec<(Uuid, DateTime<Utc>)>>;

    /// Checks the database answers.
    async fn ping(&self) -> StoreResult<()>;
    /// Closes the pools (checkpoints the WAL).
    async fn close(&self);
}

/// The persistence of a relay: the store and the archive.
#[derive(Debug, Clone)]
pub struct Backend {
    /// Records.
    pub store: Arc<dyn Store>,
    /// Signed and cleared XML.
    pub archive: Arc<dyn Archive>,
}

/// Opens the store a URL names, applying migrations; the database also keeps the archive.
pub async fn from_url(url: &DatabaseUrl) -> anyhow::Result<Backend> {
    if url.scheme() == "sqlite" {
        let store = Arc::new(sqlite::SqliteStore::open(url).await?);
        Ok(Backend {
            store: store.clone(),
            archive: store,
        })
    } else if matches!(url.scheme(), "postgres" | "postgresql") {
        open_postgres(url).await
    } else {
        anyhow::bail!("unsupported database scheme `{}`", url.scheme())
    }
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &DatabaseUrl) -> anyhow::Result<Backend> {
    let store = Arc::new(postgres::PostgresStore::open(url).await?);
    Ok(Backend {
        store: store.clone(),
        archive: store,
    })
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(_: &DatabaseUrl) -> anyhow::Result<Backend> {
    anyhow::bail!("this relay was built without PostgreSQL support (cargo feature `postgres`)")
}

/// Milliseconds since the epoch.
pub fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// From milliseconds since the epoch (out-of-range values clamp to the epoch).
pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}
