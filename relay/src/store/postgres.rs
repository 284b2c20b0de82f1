//! PostgreSQL implementation of [`Store`], [`Archive`] and [`WebhookStore`] over
//! `tokio-postgres` with a `deadpool` pool, for several relay processes sharing one database.
//!
//! What makes it safe across processes:
//! - the queue claims due jobs with `FOR UPDATE SKIP LOCKED`, so each job goes to one worker;
//! - a unit's chain advances only by a conditional `UPDATE … WHERE invoice_counter = icv - 1`
//!   in the invoice's own transaction (the row lock serialises relays; the loser sees
//!   `ChainMoved` and signs again);
//! - idempotency keys, chain positions and device hashes are unique constraints: a race lost
//!   at insert time is answered like the check before it (`Exists` / `ChainMoved`);
//! - quota checks and key revocation lock the account's row first, so "count then write" is
//!   atomic;
//! - a claimed job records its relay's key (`owner`); each relay holds a session advisory lock
//!   on its key on a connection of its own for as long as it lives, so the jobs of a relay that
//!   died (kill -9, lost host) are claimed again at once by the others, and start-up releases
//!   only those, never the live claims of another relay.
//!
//! Statements are prepared once per pooled connection (`prepare_cached`).

mod webhooks;
use decode::decode_err;

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use sha2::Digest as _;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::{NoTls, Row};
use uuid::Uuid;

use super::*;
use crate::config::DatabaseUrl;
use crate::domain::{
    Account, ApiKey, AuditEntry, ComplianceDocument, EgsUnit, Environment, Job, JobKind, PendingEvent, StoredCsid,
};

/// The migrations, in order (version, name, SQL), recorded in `_relay_migrations`.
const MIGRATIONS: &[(i64, &str, &str)] = &[(1, "schema", include_str!("../../migrations/postgres/0001_schema.sql"))];

/// The advisory lock that lets one relay at a time migrate a shared database.
const MIGRATION_LOCK: i64 = 0x7a61_7463_615f_6d69;

/// Connections per relay process.
const POOL_SIZE: usize = 16;

/// A statement parameter.
type Param<'a> = &'a (dyn ToSql + Sync);

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// This relay's key: the owner of the jobs it claims, locked for as long as it lives.
    owner: i64,
    /// The connection holding the lock on `owner`.
    liveness: Arc<tokio::sync::Mutex<Option<tokio_postgres::Client>>>,
}

/// A running job whose relay is alive: its lease is current and its owner's lock is held.
/// (An advisory lock on a bigint key shows in `pg_locks` as classid = high and objid = low
/// 32 bits, objsubid = 1.)
const OWNER_ALIVE_SQL: &str = "EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.objsubid = 1 \
     AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = jobs.owner)";

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The pool's configuration holds the password.
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(err: tokio_postgres::Error) -> Self {
        StoreError::Database(Box::new(err))
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        StoreError::Database(Box::new(err))
    }
}

fn get<'a, T: FromSql<'a>>(row: &'a Row, name: &str) -> StoreResult<T> {
    row.try_get(name).map_err(|e| decode_err(name, e))
}

fn time(row: &Row, name: &str) -> StoreResult<DateTime<Utc>> {
    Ok(from_millis(get::<i64>(row, name)?))
}

fn opt_time(row: &Row, name: &str) -> StoreResult<Option<DateTime<Utc>>> {
    Ok(get::<Option<i64>>(row, name)?.map(from_millis))
}

impl decode::Columns for Row {
    fn opt_text(&self, name: &str) -> StoreResult<Option<String>> {
        get(self, name)
    }
    /// Reads the column at its declared width (SMALLINT, INTEGER or BIGINT).
    fn opt_int(&self, name: &str) -> StoreResult<Option<i64>> {
        let ty = self
            .columns()
            .iter()
            .find(|c| c.name() == name)
            .map(|c| c.type_().clone());
        Ok(match ty {
            Some(Type::INT2) => get::<Option<i16>>(self, name)?.map(i64::from),
            Some(Type::INT4) => get::<Option<i32>>(self, name)?.map(i64::from),
            _ => get::<Option<i64>>(self, name)?,
        })
    }
    fn opt_uuid(&self, name: &str) -> StoreResult<Option<Uuid>> {
        get(self, name)
    }
    fn flag(&self, name: &str) -> StoreResult<bool> {
        get(self, name)
    }
    fn bytes(&self, name: &str) -> StoreResult<Vec<u8>> {
        get(self, name)
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

fn json_text<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    Ok(serde_json::to_string(value)?)
}

/// The `payload` column of a job: its variant's fields.
fn payload_text(kind: &JobKind) -> StoreResult<String> {
    let value = serde_json::to_value(kind)?;
    json_text(&value.get("payload").cloned().unwrap_or_else(|| serde_json::json!({})))
}

async fn exec<C: GenericClient>(c: &C, sql: &str, params: &[Param<'_>]) -> StoreResult<u64> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.execute(&stmt, params).await?)
}

async fn rows<C: GenericClient>(c: &C, sql: &str, params: &[Param<'_>]) -> StoreResult<Vec<Row>> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query(&stmt, params).await?)
}

async fn opt_row<C: GenericClient>(c: &C, sql: &str, params: &[Param<'_>]) -> StoreResult<Option<Row>> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&stmt, params).await?)
}

async fn one<C: GenericClient>(c: &C, sql: &str, params: &[Param<'_>]) -> StoreResult<Row> {
    let stmt = c.prepare_cached(sql).await?;
    Ok(c.query_one(&stmt, params).await?)
}

fn decimal(row: &Row, name: &str) -> StoreResult<rust_decimal::Decimal> {
    get::<String>(row, name)?.parse().map_err(|e| decode_err(name, e))
}

/// The quota count: units in an environment, except those that failed before ZATCA issued any
/// CSID (a mistyped OTP should not use up the plan).
const COUNT_UNITS_SQL: &str = "SELECT COUNT(*) FROM egs_units WHERE account_id = $1 AND environment = $2 \
     AND NOT (onboarding_status = 'failed' AND compliance_token IS NULL AND production_token IS NULL)";

/// Locks an account's row until the transaction ends: serialises the account's quota checks
/// and key revocations across relays.
const LOCK_ACCOUNT_SQL: &str = "SELECT id FROM accounts WHERE id = $1 FOR UPDATE";

/// A database for each test, when `RELAY_TEST_DATABASE_URL` names a PostgreSQL server: a schema
/// of that database (created if missing) and the URL that makes it the search path. Blocking:
/// callable from synchronous test set-up, inside or outside a runtime.
#[doc(hidden)]
pub fn test_schema_url(admin_url: &str, schema: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "bad schema name"
    );
    let admin = admin_url.to_owned();
    let create = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
    std::thread::spawn(move || -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&admin, NoTls).await?;
            let connection = tokio::spawn(connection);
            client.batch_execute(&create).await?;
            drop(client);
            let _ = connection.await;
            Ok(())
        })
    })
    .join()
    .map_err(|_| anyhow::anyhow!("schema creation panicked"))??;
    let separator = if admin_url.contains('?') { '&' } else { '?' };
    Ok(format!("{admin_url}{separator}options=-csearch_path%3D{schema}"))
}

impl PostgresStore {
    /// Connects and applies the migrations not yet applied (one relay at a time).
    pub async fn open(url: &DatabaseUrl) -> anyhow::Result<Self> {
        let config = tokio_postgres::Config::from_str(url.expose())
            .map_err(|e| anyhow::anyhow!("the PostgreSQL URL does not parse: {e}"))?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(std::time::Duration::from_secs(30)))
            .create_timeout(Some(std::time::Duration::from_secs(10)))
            .build()?;
        let owner = i64::from_le_bytes(Uuid::new_v4().as_bytes()[..8].try_into()?) & i64::MAX;
        let store = PostgresStore {
            pool,
            owner,
            liveness: Arc::default(),
        };
        store.migrate().await?;
        store.hold_owner_lock(&config).await?;
        Ok(store)
    }

    /// Takes the session lock on this relay's key, on a connection outside the pool that lives
    /// as long as the store.
    async fn hold_owner_lock(&self, config: &tokio_postgres::Config) -> anyhow::Result<()> {
        let (client, connection) = config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::error!(error = %err, "the connection holding this relay's job lock ended: its claimed jobs may be claimed again by other relays");
            }
        });
        client.execute("SELECT pg_advisory_lock($1)", &[&self.owner]).await?;
        *self.liveness.lock().await = Some(client);
        Ok(())
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        // Relays starting together: one migrates, the others wait, then find nothing to do.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS _relay_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
             checksum BYTEA NOT NULL, installed_at BIGINT NOT NULL)",
        )
        .await?;
        for &(version, description, sql) in MIGRATIONS {
            let checksum = sha2::Sha384::digest(sql.as_bytes()).to_vec();
            let applied = tx
                .query_opt("SELECT checksum FROM _relay_migrations WHERE version = $1", &[&version])
                .await?;
            match applied.map(|row| row.get::<_, Vec<u8>>(0)) {
                Some(stored) if stored == checksum => continue,
                Some(_) => anyhow::bail!(
                    "migration {version} ({description}) was changed after it was applied to this database"
                ),
                None => {}
            }
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO _relay_migrations (version, description, checksum, installed_at) VALUES ($1, $2, $3, $4)",
                &[&version, &description, &checksum, &to_millis(Utc::now())],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        Ok(self.pool.get().await?)
    }

    /// Every row of a query on a pooled connection, decoded.
    async fn all<T>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        decode: impl Fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let c = self.client().await?;
        rows(&c, sql, params).await?.iter().map(decode).collect()
    }

    /// The first row of a query on a pooled connection, decoded.
    async fn first<T>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        decode: impl Fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let c = self.client().await?;
        opt_row(&c, sql, params).await?.as_ref().map(decode).transpose()
    }
}

async fn insert_job<C: GenericClient>(c: &C, job: &Job, now: DateTime<Utc>) -> StoreResult<()> {
    exec(
        c,
        INSERT_JOB_SQL,
        &[
            &job.id,
            &job.kind.name(),
            &job.egs_unit_id,
            &payload_text(&job.kind)?,
            &to_millis(job.not_before.unwrap_or(now)),
            &to_millis(now),
        ],
    )
    .await?;
    Ok(())
}

async fn insert_key<C: GenericClient>(c: &C, key: &ApiKey) -> StoreResult<()> {
    exec(
        c,
        "INSERT INTO api_keys (id, account_id, name, environment, key_hash, masked, default_egs_unit_id, created_at, \
         last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            &key.id,
            &key.account_id,
            &key.name,
            &key.environment.as_str(),
            &key.key_hash,
            &key.masked,
            &key.default_egs_unit_id,
            &to_millis(key.created_at),
            &key.last_used_at.map(to_millis),
            &key.revoked_at.map(to_millis),
        ],
    )
    .await?;
    Ok(())
}

/// Writes an archive row; idempotent.
async fn archive<C: GenericClient>(c: &C, invoice_id: Uuid, kind: ArchiveKind, xml: &[u8]) -> StoreResult<()> {
    exec(
        c,
        ARCHIVE_SQL,
        &[&invoice_id, &kind.as_str(), &xml, &to_millis(Utc::now())],
    )
    .await?;
    Ok(())
}

const INSERT_INVOICE_SQL: &str = "INSERT INTO invoices (id, account_id, egs_unit_id, environment, uuid, \
     invoice_number, invoice_type, document_type, status, icv, invoice_hash, currency, subtotal, vat, total, \
     invoice_date, invoice_time, qr_code, original_invoice_id, has_buyer, device_signed, line_items, messages, \
     report_deadline, reported_at, cleared_at, idempotency_key, request_hash, created_at, updated_at, chain) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, \
     $23, $24, $25, $26, $27, $28, $29, $30, $31)";
const INSERT_FIRST_EVENT_SQL: &str =
    "INSERT INTO invoice_events (invoice_id, status, at, messages) VALUES ($1, $2, $3, NULL)";
const ARCHIVE_SQL: &str = "INSERT INTO invoice_archive (invoice_id, kind, xml, stored_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (invoice_id, kind) DO UPDATE SET xml = excluded.xml, stored_at = excluded.stored_at";
const INSERT_JOB_SQL: &str = "INSERT INTO jobs (id, kind, egs_unit_id, payload, state, attempts, next_attempt_at, \
     created_at, updated_at) VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $6)";

/// Runs `chain` (the statement that moves the unit's chain), then inserts the invoice row, its
/// first timeline entry, its signed XML when the archive is this database, and its job — in one
/// round trip: the statements are prepared first (cached per connection), then their executions
/// are polled together, which tokio-postgres sends as one pipeline, in this order. A failure
/// aborts the transaction and fails the statements after it, so the first error says why.
/// Returns the rows `chain` changed and the insert's outcome: a unique-constraint violation is
/// the raw error, for the caller to answer `Exists` or `ChainMoved`.
async fn record_invoice(
    tx: &deadpool_postgres::Transaction<'_>,
    chain: (&str, &[Param<'_>]),
    invoice: &Invoice,
    signed_xml: Option<&[u8]>,
    job: Option<&Job>,
) -> StoreResult<(u64, Result<(), tokio_postgres::Error>)> {
    let line_items = json_text(&invoice.line_items)?;
    let messages = json_text(&invoice.messages)?;
    let chain_json = invoice.chain.as_ref().map(json_text).transpose()?;
    let (subtotal, vat, total) = (
        invoice.subtotal.to_string(),
        invoice.vat.to_string(),
        invoice.total.to_string(),
    );
    let (report_deadline, reported_at, cleared_at) = (
        invoice.report_deadline.map(to_millis),
        invoice.reported_at.map(to_millis),
        invoice.cleared_at.map(to_millis),
    );
    let (created, updated, stored) = (
        to_millis(invoice.created_at),
        to_millis(invoice.updated_at),
        to_millis(Utc::now()),
    );
    let job_row = job
        .map(|j| {
            Ok::<_, StoreError>((
                j.kind.name(),
                payload_text(&j.kind)?,
                to_millis(j.not_before.unwrap_or(invoice.created_at)),
            ))
        })
        .transpose()?;
    let chain_stmt = tx.prepare_cached(chain.0).await?;
    let invoice_stmt = tx.prepare_cached(INSERT_INVOICE_SQL).await?;
    let event_stmt = tx.prepare_cached(INSERT_FIRST_EVENT_SQL).await?;
    let archive_stmt = tx.prepare_cached(ARCHIVE_SQL).await?;
    let job_stmt = tx.prepare_cached(INSERT_JOB_SQL).await?;
    let invoice_params: [Param<'_>; 31] = [
        &invoice.id,
        &invoice.account_id,
        &invoice.egs_unit_id,
        &invoice.environment.as_str(),
        &invoice.uuid,
        &invoice.invoice_number,
        &invoice.invoice_type.as_str(),
        &invoice.document_type.as_str(),
        &invoice.status.as_str(),
        &invoice.icv,
        &invoice.invoice_hash,
        &invoice.currency,
        &subtotal,
        &vat,
        &total,
        &invoice.invoice_date,
        &invoice.invoice_time,
        &invoice.qr_code,
        &invoice.original_invoice_id,
        &invoice.has_buyer,
        &invoice.device_signed,
        &line_items,
        &messages,
        &report_deadline,
        &reported_at,
        &cleared_at,
        &invoice.idempotency_key,
        &invoice.request_hash,
        &created,
        &updated,
        &chain_json,
    ];
    let status = invoice.status.as_str();
    let event_params: [Param<'_>; 3] = [&invoice.id, &status, &created];
    let (moved, inserted, event, archived, queued) = tokio::join!(
        tx.execute(&chain_stmt, chain.1),
        tx.execute(&invoice_stmt, &invoice_params),
        tx.execute(&event_stmt, &event_params),
        async {
            match signed_xml {
                Some(xml) => {
                    tx.execute(
                        &archive_stmt,
                        &[&invoice.id, &ArchiveKind::Signed.as_str(), &xml, &stored],
                    )
                    .await
                }
                None => Ok(0),
            }
        },
        async {
            match (job, &job_row) {
                (Some(job), Some((kind, payload, due))) => {
                    tx.execute(&job_stmt, &[&job.id, kind, &job.egs_unit_id, payload, due, &created])
                        .await
                }
                _ => Ok(0),
            }
        },
    );
    let moved = moved?;
    if let Err(err) = inserted {
        return Ok((moved, Err(err)));
    }
    event?;
    archived?;
    queued?;
    Ok((moved, Ok(())))
}

/// The unique constraint an insert violated, if that is why it failed.
fn violated(err: &tokio_postgres::Error) -> Option<&str> {
    if err.code() != Some(&SqlState::UNIQUE_VIOLATION) {
        return None;
    }
    err.as_db_error().and_then(|e| e.constraint())
}

/// What a lost insert race means: the same idempotency key or device document is `Exists`,
/// a taken chain position is `ChainMoved`. Runs after the failed transaction was rolled back.
async fn race_outcome(
    client: &deadpool_postgres::Object,
    invoice: &Invoice,
    err: tokio_postgres::Error,
) -> StoreResult<IssueOutcome> {
    let found = match violated(&err) {
        Some("invoices_idempotency") => {
            opt_row(
                client,
                "SELECT id FROM invoices WHERE account_id = $1 AND idempotency_key = $2",
                &[&invoice.account_id, &invoice.idempotency_key],
            )
            .await?
        }
        Some("invoices_device_hash") => {
            opt_row(
                client,
                "SELECT id FROM invoices WHERE egs_unit_id = $1 AND invoice_hash = $2 AND device_signed",
                &[&invoice.egs_unit_id, &invoice.invoice_hash],
            )
            .await?
        }
        Some("invoices_chain_position") => return Ok(IssueOutcome::ChainMoved),
        _ => return Err(err.into()),
    };
    match found {
        Some(row) => Ok(IssueOutcome::Exists(get(&row, "id")?)),
        // The winner's row is gone (it cannot be: invoices are never deleted).
        None => Ok(IssueOutcome::ChainMoved),
    }
}

fn csid_cols(csid: Option<&StoredCsid>) -> (Option<&str>, Option<&str>, Option<&str>) {
    match csid {
        Some(c) => (
            Some(c.token.as_str()),
            Some(c.secret_enc.as_str()),
            Some(c.request_id.as_str()),
        ),
        None => (None, None, None),
    }
}

async fn certificate_ends<C: GenericClient>(c: &C, before: i64) -> StoreResult<Vec<(Uuid, DateTime<Utc>)>> {
    rows(
        c,
        "SELECT id, cert_expires_at FROM egs_units WHERE production_token IS NOT NULL AND cert_expires_at < $1 \
         ORDER BY cert_expires_at",
        &[&before],
    )
    .await?
    .iter()
    .map(|row| Ok((get(row, "id")?, time(row, "cert_expires_at")?)))
    .collect()
}

#[async_trait]
impl Store for PostgresStore {
    async fn create_account(&self, account: &Account, key: &ApiKey) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        exec(
            &tx,
            "INSERT INTO accounts (id, name, email, plan, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                &account.id,
                &account.name,
                &account.email,
                &account.plan,
                &to_millis(account.created_at),
            ],
        )
        .await?;
        insert_key(&tx, key).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn account(&self, id: Uuid) -> StoreResult<Option<Account>> {
        let c = self.client().await?;
        opt_row(&c, "SELECT * FROM accounts WHERE id = $1", &[&id])
            .await?
            .map(|row| decode::account(&row, ""))
            .transpose()
    }

    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        insert_key(&self.client().await?, key).await
    }

    async fn active_api_key_by_hash(&self, hash: &[u8]) -> StoreResult<Option<(ApiKey, Account)>> {
        let c = self.client().await?;
        opt_row(
            &c,
            "SELECT k.*, a.id AS a_id, a.name AS a_name, a.email AS a_email, a.plan AS a_plan, \
             a.created_at AS a_created_at FROM api_keys k JOIN accounts a ON a.id = k.account_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
            &[&hash],
        )
        .await?
        .map(|row| Ok((decode::api_key(&row)?, decode::account(&row, "a_")?)))
        .transpose()
    }

    async fn touch_api_key(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        let c = self.client().await?;
        exec(
            &c,
            "UPDATE api_keys SET last_used_at = $1 WHERE id = $2",
            &[&to_millis(at), &id],
        )
        .await?;
        Ok(())
    }

    async fn list_api_keys(&self, account_id: Uuid) -> StoreResult<Vec<ApiKey>> {
        self.all(
            "SELECT * FROM api_keys WHERE account_id = $1 ORDER BY created_at, id",
            &[&account_id],
            decode::api_key,
        )
        .await
    }

    async fn api_key(&self, account_id: Uuid, id: Uuid) -> StoreResult<Option<ApiKey>> {
        self.first(
            "SELECT * FROM api_keys WHERE account_id = $1 AND id = $2",
            &[&account_id, &id],
            decode::api_key,
        )
        .await
    }

    async fn revoke_api_key(
        &self,
        account_id: Uuid,
        id: Uuid,
        by: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<RevokeOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Two keys revoking each other from two relays: the account's row lock orders them, and
        // the second one's count (a fresh snapshot) sees the first revocation.
        exec(&tx, LOCK_ACCOUNT_SQL, &[&account_id]).await?;
        let done = exec(
            &tx,
            "UPDATE api_keys SET revoked_at = $1 WHERE account_id = $2 AND id = $3 AND revoked_at IS NULL \
             AND (SELECT COUNT(*) FROM api_keys WHERE account_id = $2 AND revoked_at IS NULL) > 1 \
             AND EXISTS (SELECT 1 FROM api_keys WHERE account_id = $2 AND id = $4 AND revoked_at IS NULL)",
            &[&to_millis(at), &account_id, &id, &by],
        )
        .await?;
        let outcome = if done == 1 {
            RevokeOutcome::Revoked
        } else {
            let revoked = opt_row(
                &tx,
                "SELECT revoked_at FROM api_keys WHERE account_id = $1 AND id = $2",
                &[&account_id, &id],
            )
            .await?;
            match revoked.map(|row| get::<Option<i64>>(&row, "revoked_at")).transpose()? {
                None => RevokeOutcome::NotFound,
                Some(Some(_)) => RevokeOutcome::AlreadyRevoked,
                Some(None) => RevokeOutcome::LastActiveKey,
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn update_api_key(
        &self,
        account_id: Uuid,
        id: Uuid,
        name: Option<Option<&str>>,
        default_unit: Option<Option<Uuid>>,
    ) -> StoreResult<()> {
        // Only the fields given change, in one statement: a concurrent change of the other
        // field (from any relay) stays.
        let c = self.client().await?;
        exec(
            &c,
            "UPDATE api_keys SET name = CASE WHEN $1 THEN $2::text ELSE name END, \
             default_egs_unit_id = CASE WHEN $3 THEN $4::uuid ELSE default_egs_unit_id END \
             WHERE account_id = $5 AND id = $6",
            &[
                &name.is_some(),
                &name.flatten(),
                &default_unit.is_some(),
                &default_unit.flatten(),
                &account_id,
                &id,
            ],
        )
        .await?;
        Ok(())
    }

    async fn insert_unit_within_quota(
        &self,
        unit: &EgsUnit,
        limit: u32,
        job: Option<&Job>,
    ) -> StoreResult<QuotaOutcome> {
        let errors = if unit.errors.is_empty() {
            None
        } else {
            Some(json_text(&unit.errors)?)
        };
        let seller = json_text(&unit.seller)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        exec(&tx, LOCK_ACCOUNT_SQL, &[&unit.account_id]).await?;
        let used: i64 = one(&tx, COUNT_UNITS_SQL, &[&unit.account_id, &unit.environment.as_str()])
            .await?
            .try_get(0)?;
        let used = u32::try_from(used).unwrap_or(u32::MAX);
        if used >= limit {
            tx.rollback().await?;
            return Ok(QuotaOutcome::Exceeded { used });
        }
        exec(
            &tx,
            "INSERT INTO egs_units (id, account_id, unit_name, environment, phase, invoice_type, custody, \
             serial_number, egs_serial, seller, onboarding_status, status_message, errors, csr_pem, \
             private_key_enc, cert_issued_at, cert_expires_at, invoice_counter, last_invoice_hash, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
             $19, $20, $21)",
            &[
                &unit.id,
                &unit.account_id,
                &unit.unit_name,
                &unit.environment.as_str(),
                &i16::from(unit.phase),
                &unit.invoice_type.as_str(),
                &unit.custody.as_str(),
                &unit.serial_number,
                &unit.egs_serial,
                &seller,
                &unit.onboarding_status.as_str(),
                &unit.status_message,
                &errors,
                &unit.csr_pem,
                &unit.private_key_enc,
                &unit.cert_issued_at.map(to_millis),
                &unit.cert_expires_at.map(to_millis),
                &unit.invoice_counter,
                &unit.last_invoice_hash,
                &to_millis(unit.created_at),
                &to_millis(unit.updated_at),
            ],
        )
        .await?;
        if let Some(job) = job {
            insert_job(&tx, job, unit.created_at).await?;
        }
        tx.commit().await?;
        Ok(QuotaOutcome::Inserted)
    }

    async fn restart_onboarding_within_quota(
        &self,
        unit: &EgsUnit,
        limit: u32,
        job: Option<&Job>,
    ) -> StoreResult<QuotaOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        exec(&tx, LOCK_ACCOUNT_SQL, &[&unit.account_id]).await?;
        let used: i64 = one(
            &tx,
            &format!("{COUNT_UNITS_SQL} AND id <> $3"),
            &[&unit.account_id, &unit.environment.as_str(), &unit.id],
        )
        .await?
        .try_get(0)?;
        let used = u32::try_from(used).unwrap_or(u32::MAX);
        if used >= limit {
            tx.rollback().await?;
            return Ok(QuotaOutcome::Exceeded { used });
        }
        let done = exec(
            &tx,
            "UPDATE egs_units SET onboarding_status = $1, status_message = $2, errors = NULL, updated_at = $3 \
             WHERE id = $4 AND onboarding_status = 'failed'",
            &[
                &unit.onboarding_status.as_str(),
                &unit.status_message,
                &to_millis(unit.updated_at),
                &unit.id,
            ],
        )
        .await?;
        if done != 1 {
            tx.rollback().await?;
            return Ok(QuotaOutcome::Exceeded { used: u32::MAX });
        }
        if let Some(job) = job {
            insert_job(&tx, job, unit.updated_at).await?;
        }
        tx.commit().await?;
        Ok(QuotaOutcome::Inserted)
    }

    async fn count_units(&self, account_id: Uuid, environment: Environment) -> StoreResult<u32> {
        let c = self.client().await?;
        let used: i64 = one(&c, COUNT_UNITS_SQL, &[&account_id, &environment.as_str()])
            .await?
            .try_get(0)?;
        Ok(u32::try_from(used).unwrap_or(u32::MAX))
    }

    async fn unit(&self, account_id: Uuid, id: Uuid) -> StoreResult<Option<EgsUnit>> {
        self.first(
            "SELECT * FROM egs_units WHERE account_id = $1 AND id = $2",
            &[&account_id, &id],
            decode::unit,
        )
        .await
    }

    async fn unit_by_id(&self, id: Uuid) -> StoreResult<Option<EgsUnit>> {
        self.first("SELECT * FROM egs_units WHERE id = $1", &[&id], decode::unit)
            .await
    }

    async fn list_units(&self, account_id: Uuid) -> StoreResult<Vec<EgsUnit>> {
        self.all(
            "SELECT * FROM egs_units WHERE account_id = $1 ORDER BY created_at, id",
            &[&account_id],
            decode::unit,
        )
        .await
    }

    async fn save_unit_onboarding(&self, unit: &EgsUnit, event: Option<&PendingEvent>) -> StoreResult<()> {
        let (c_token, c_secret, c_req) = csid_cols(unit.compliance.as_ref());
        let (p_token, p_secret, p_req) = csid_cols(unit.production.as_ref());
        let errors = if unit.errors.is_empty() {
            None
        } else {
            Some(json_text(&unit.errors)?)
        };
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        exec(
            &tx,
            "UPDATE egs_units SET onboarding_status = $1, status_message = $2, errors = $3, csr_pem = $4, \
             private_key_enc = $5, compliance_token = $6, compliance_secret_enc = $7, compliance_request_id = $8, \
             production_token = $9, production_secret_enc = $10, production_request_id = $11, \
             cert_issued_at = $12, cert_expires_at = $13, compliance_attempted_at = $14, updated_at = $15 \
             WHERE id = $16",
            &[
                &unit.onboarding_status.as_str(),
                &unit.status_message,
                &errors,
                &unit.csr_pem,
                &unit.private_key_enc,
                &c_token,
                &c_secret,
                &c_req,
                &p_token,
                &p_secret,
                &p_req,
                &unit.cert_issued_at.map(to_millis),
                &unit.cert_expires_at.map(to_millis),
                &unit.compliance_attempted_at.map(to_millis),
                &to_millis(unit.updated_at),
                &unit.id,
            ],
        )
        .await?;
        if let Some(pending) = event {
            webhooks::insert_event(&tx, pending, Utc::now()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record_compliance_document(&self, unit_id: Uuid, doc: &ComplianceDocument) -> StoreResult<()> {
        let messages = json_text(&doc.messages)?;
        let c = self.client().await?;
        exec(
            &c,
            "INSERT INTO compliance_documents (egs_unit_id, kind, icv, uuid, invoice_hash, messages, accepted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (egs_unit_id, kind) DO UPDATE SET icv = excluded.icv, \
             uuid = excluded.uuid, invoice_hash = excluded.invoice_hash, messages = excluded.messages, \
             accepted_at = excluded.accepted_at",
            &[
                &unit_id,
                &doc.kind.as_str(),
                &doc.icv,
                &doc.uuid,
                &doc.invoice_hash,
                &messages,
                &to_millis(doc.accepted_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn compliance_documents(&self, unit_id: Uuid) -> StoreResult<Vec<ComplianceDocument>> {
        self.all(
            "SELECT * FROM compliance_documents WHERE egs_unit_id = $1 ORDER BY icv",
            &[&unit_id],
            decode::compliance_document,
        )
        .await
    }

    async fn enqueue_job(&self, job: &Job, now: DateTime<Utc>) -> StoreResult<()> {
        insert_job(&self.client().await?, job, now).await
    }

    async fn claim_due_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let c = self.client().await?;
        // SKIP LOCKED: a job another relay is claiming right now is left to it; a job it has
        // claimed is re-checked after its commit (running, leased) and not taken again.
        rows(
            &c,
            &format!(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = $1, updated_at = $2, \
                 owner = $4 WHERE id IN (SELECT id FROM jobs WHERE (state = 'queued' AND next_attempt_at <= $2) \
                 OR (state = 'running' AND (lease_until < $2 OR NOT {OWNER_ALIVE_SQL})) \
                 ORDER BY next_attempt_at, created_at LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING *"
            ),
            &[&to_millis(lease_until), &to_millis(now), &i64::from(limit), &self.owner],
        )
        .await?
        .iter()
        .map(decode::job)
        .collect()
    }

    async fn finish_job(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        let c = self.client().await?;
        exec(
            &c,
            "UPDATE jobs SET state = 'done', payload = '{}', lease_until = NULL, updated_at = $1 WHERE id = $2",
            &[&to_millis(now), &id],
        )
        .await?;
        Ok(())
    }

    async fn retry_job(
        &self,
        id: Uuid,
        next_attempt_at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let c = self.client().await?;
        exec(
            &c,
            "UPDATE jobs SET state = 'queued', next_attempt_at = $1, lease_until = NULL, last_error = $2, \
             updated_at = $3 WHERE id = $4",
            &[&to_millis(next_attempt_at), &error, &to_millis(now), &id],
        )
        .await?;
        Ok(())
    }

    async fn fail_job(&self, id: Uuid, error: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let c = self.client().await?;
        exec(
            &c,
            "UPDATE jobs SET state = 'failed', payload = '{}', lease_until = NULL, last_error = $1, updated_at = $2 \
             WHERE id = $3",
            &[&error, &to_millis(now), &id],
        )
        .await?;
        Ok(())
    }

    async fn update_job(&self, id: Uuid, kind: &JobKind, now: DateTime<Utc>) -> StoreResult<()> {
        let payload = payload_text(kind)?;
        let c = self.client().await?;
        exec(
            &c,
            "UPDATE jobs SET payload = $1, updated_at = $2 WHERE id = $3",
            &[&payload, &to_millis(now), &id],
        )
        .await?;
        Ok(())
    }

    /// Other relays may share the database and hold live claims: only the jobs whose relay is
    /// gone (its lock released) or whose lease has expired are put back.
    async fn release_running_jobs(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let c = self.client().await?;
        exec(
            &c,
            &format!(
                "UPDATE jobs SET state = 'queued', lease_until = NULL, owner = NULL, next_attempt_at = $1, \
                 updated_at = $1 WHERE state = 'running' AND (lease_until < $1 OR NOT {OWNER_ALIVE_SQL})"
            ),
            &[&to_millis(now)],
        )
        .await
    }

    async fn open_jobs_for_unit(&self, unit_id: Uuid) -> StoreResult<u32> {
        let c = self.client().await?;
        let n: i64 = one(
            &c,
            "SELECT COUNT(*) FROM jobs WHERE egs_unit_id = $1 AND kind <> 'webhook' AND state IN ('queued', 'running')",
            &[&unit_id],
        )
        .await?
        .try_get(0)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    async fn insert_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let headers = json_text(&entry.request_headers)?;
        let c = self.client().await?;
        exec(
            &c,
            "INSERT INTO zatca_audit (egs_unit_id, at, operation, method, url, request_headers, request_body, \
             response_status, response_body, duration_ms, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                &entry.egs_unit_id,
                &to_millis(entry.at),
                &entry.operation,
                &entry.method,
                &entry.url,
                &headers,
                &entry.request_body,
                &entry.response_status.map(i32::from),
                &entry.response_body,
                &i64::try_from(entry.duration_ms).unwrap_or(i64::MAX),
                &entry.error,
            ],
        )
        .await?;
        Ok(())
    }

    async fn audit_log(&self, unit_id: Uuid, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        self.all(
            "SELECT * FROM zatca_audit WHERE egs_unit_id = $1 ORDER BY id DESC LIMIT $2",
            &[&unit_id, &i64::from(limit)],
            decode::audit,
        )
        .await
    }

    async fn prune_audit(&self, before: Option<DateTime<Utc>>, keep_per_unit: Option<u32>) -> StoreResult<u64> {
        let c = self.client().await?;
        let mut deleted = 0;
        if let Some(before) = before {
            deleted += exec(&c, "DELETE FROM zatca_audit WHERE at < $1", &[&to_millis(before)]).await?;
        }
        if let Some(keep) = keep_per_unit {
            deleted += exec(
                &c,
                "DELETE FROM zatca_audit WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER \
                 (PARTITION BY egs_unit_id ORDER BY id DESC) AS n FROM zatca_audit) ranked WHERE n > $1)",
                &[&i64::from(keep)],
            )
            .await?;
        }
        Ok(deleted)
    }

    async fn set_compliance_attempt(&self, unit_id: Uuid, at: Option<DateTime<Utc>>) -> StoreResult<()> {
        let c = self.client().await?;
        exec(
            &c,
            "UPDATE egs_units SET compliance_attempted_at = $1, updated_at = $2 WHERE id = $3",
            &[&at.map(to_millis), &to_millis(Utc::now()), &unit_id],
        )
        .await?;
        Ok(())
    }

    async fn issue_invoice(
        &self,
        invoice: &Invoice,
        job: Option<&Job>,
        signed_xml: Option<&[u8]>,
    ) -> StoreResult<IssueOutcome> {
        let mut client = self.client().await?;
        if let Some(key) = &invoice.idempotency_key {
            let found = opt_row(
                &client,
                "SELECT id FROM invoices WHERE account_id = $1 AND idempotency_key = $2",
                &[&invoice.account_id, key],
            )
            .await?;
            if let Some(row) = found {
                return Ok(IssueOutcome::Exists(get(&row, "id")?));
            }
        }
        let tx = client.transaction().await?;
        // The unit's row lock orders relays issuing on one unit; the loser re-reads the row
        // after the winner's commit and finds the counter moved (its inserts, pipelined behind
        // the update, are rolled back with it).
        let (advanced, recorded) = record_invoice(
            &tx,
            (
                "UPDATE egs_units SET invoice_counter = $1, last_invoice_hash = $2, updated_at = $3 \
                 WHERE id = $4 AND invoice_counter = $5",
                &[
                    &invoice.icv,
                    &invoice.invoice_hash,
                    &to_millis(invoice.created_at),
                    &invoice.egs_unit_id,
                    &(invoice.icv - 1),
                ],
            ),
            invoice,
            signed_xml,
            job,
        )
        .await?;
        if advanced != 1 {
            tx.rollback().await?;
            return Ok(IssueOutcome::ChainMoved);
        }
        match recorded {
            Ok(()) => {
                tx.commit().await?;
                Ok(IssueOutcome::Issued)
            }
            Err(err) => {
                tx.rollback().await?;
                race_outcome(&client, invoice, err).await
            }
        }
    }

    async fn record_device_invoice(
        &self,
        invoice: &Invoice,
        job: Option<&Job>,
        chain_note: Option<&str>,
        signed_xml: Option<&[u8]>,
    ) -> StoreResult<IssueOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // The unit's row first: device documents of one unit are recorded one at a time.
        exec(
            &tx,
            "SELECT id FROM egs_units WHERE id = $1 FOR UPDATE",
            &[&invoice.egs_unit_id],
        )
        .await?;
        let same = opt_row(
            &tx,
            "SELECT id FROM invoices WHERE egs_unit_id = $1 AND invoice_hash = $2 AND device_signed",
            &[&invoice.egs_unit_id, &invoice.invoice_hash],
        )
        .await?;
        if let Some(row) = same {
            tx.rollback().await?;
            return Ok(IssueOutcome::Exists(get(&row, "id")?));
        }
        let taken = opt_row(
            &tx,
            "SELECT id FROM invoices WHERE egs_unit_id = $1 AND icv = $2",
            &[&invoice.egs_unit_id, &invoice.icv],
        )
        .await?;
        if taken.is_some() {
            tx.rollback().await?;
            return Ok(IssueOutcome::ChainMoved);
        }
        let (_, recorded) = record_invoice(
            &tx,
            (
                "UPDATE egs_units SET invoice_counter = GREATEST(invoice_counter, $1), \
                 last_invoice_hash = CASE WHEN $1 > invoice_counter THEN $2 ELSE last_invoice_hash END, \
                 chain_note = COALESCE($3, chain_note), updated_at = $4 WHERE id = $5",
                &[
                    &invoice.icv,
                    &invoice.invoice_hash,
                    &chain_note,
                    &to_millis(invoice.created_at),
                    &invoice.egs_unit_id,
                ],
            ),
            invoice,
            signed_xml,
            job,
        )
        .await?;
        match recorded {
            Ok(()) => {
                tx.commit().await?;
                Ok(IssueOutcome::Issued)
            }
            Err(err) => {
                tx.rollback().await?;
                race_outcome(&client, invoice, err).await
            }
        }
    }

    async fn invoice(&self, account_id: Uuid, id: Uuid) -> StoreResult<Option<Invoice>> {
        self.first(
            "SELECT * FROM invoices WHERE account_id = $1 AND id = $2",
            &[&account_id, &id],
            decode::invoice,
        )
        .await
    }

    async fn invoice_by_id(&self, id: Uuid) -> StoreResult<Option<Invoice>> {
        self.first("SELECT * FROM invoices WHERE id = $1", &[&id], decode::invoice)
            .await
    }

    async fn invoice_by_idempotency_key(&self, account_id: Uuid, key: &str) -> StoreResult<Option<Invoice>> {
        self.first(
            "SELECT * FROM invoices WHERE account_id = $1 AND idempotency_key = $2",
            &[&account_id, &key],
            decode::invoice,
        )
        .await
    }

    async fn save_invoice_qr(&self, id: Uuid, qr: Option<&str>) -> StoreResult<()> {
        let c = self.client().await?;
        exec(&c, "UPDATE invoices SET qr_code = $1 WHERE id = $2", &[&qr, &id]).await?;
        Ok(())
    }

    async fn invoice_by_uuid(&self, account_id: Uuid, uuid: &str) -> StoreResult<Option<Invoice>> {
        self.first(
            "SELECT * FROM invoices WHERE account_id = $1 AND uuid = $2 ORDER BY seq DESC LIMIT 1",
            &[&account_id, &uuid],
            decode::invoice,
        )
        .await
    }

    async fn list_invoices(
        &self,
        account_id: Uuid,
        environment: Environment,
        filter: &InvoiceFilter,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<InvoicePage> {
        let mut args: Vec<Box<dyn ToSql + Sync + Send>> =
            vec![Box::new(account_id), Box::new(environment.as_str().to_owned())];
        let mut clauses = String::new();
        let mut add = |clause: &str, value: Box<dyn ToSql + Sync + Send>| {
            args.push(value);
            clauses.push_str(&format!(" AND {clause} ${}", args.len()));
        };
        if let Some(status) = filter.status {
            add("status =", Box::new(status.as_str().to_owned()));
        }
        if let Some(kind) = &filter.invoice_type {
            add("invoice_type =", Box::new(kind.clone()));
        }
        if let Some(kind) = &filter.document_type {
            add("document_type =", Box::new(kind.clone()));
        }
        if let Some(from) = &filter.date_from {
            add("invoice_date >=", Box::new(from.clone()));
        }
        if let Some(to) = &filter.date_to {
            add("invoice_date <=", Box::new(to.clone()));
        }
        if let Some(unit) = filter.egs_unit_id {
            add("egs_unit_id =", Box::new(unit));
        }
        let base = format!("FROM invoices WHERE account_id = $1 AND environment = $2{clauses}");
        let c = self.client().await?;
        let params: Vec<Param<'_>> = args.iter().map(|a| &**a as Param<'_>).collect();
        let total: i64 = one(&c, &format!("SELECT COUNT(*) {base}"), &params).await?.try_get(0)?;
        let mut page_args = params.clone();
        let mut page_sql = base.clone();
        if let Some(after) = after.as_ref() {
            page_args.push(after);
            page_sql.push_str(&format!(" AND seq < ${}", page_args.len()));
        }
        let fetch = i64::from(limit) + 1;
        page_args.push(&fetch);
        let page_sql = format!("SELECT * {page_sql} ORDER BY seq DESC LIMIT ${}", page_args.len());
        let found = rows(&c, &page_sql, &page_args).await?;
        let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = found.len() > wanted;
        let mut invoices = Vec::with_capacity(found.len().min(wanted));
        let mut next = None;
        for row in found.iter().take(wanted) {
            next = Some(get::<i64>(row, "seq")?);
            invoices.push(decode::invoice(row)?);
        }
        Ok(InvoicePage {
            invoices,
            next: if more { next } else { None },
            total_count: count(total),
        })
    }

    async fn save_invoice_status(
        &self,
        invoice: &Invoice,
        entries: &[TimelineEntry],
        event: Option<&PendingEvent>,
    ) -> StoreResult<()> {
        let messages = json_text(&invoice.messages)?;
        // The timeline entries as columns, inserted by one statement (UNNEST).
        let statuses: Vec<&str> = entries.iter().map(|e| e.status.as_str()).collect();
        let times: Vec<i64> = entries.iter().map(|e| to_millis(e.at)).collect();
        let entry_messages = entries
            .iter()
            .map(|e| (!e.messages.is_empty()).then(|| json_text(&e.messages)).transpose())
            .collect::<StoreResult<Vec<Option<String>>>>()?;
        let (reported_at, cleared_at, updated_at) = (
            invoice.reported_at.map(to_millis),
            invoice.cleared_at.map(to_millis),
            to_millis(invoice.updated_at),
        );
        let status = invoice.status.as_str();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let update = tx
            .prepare_cached(
                "UPDATE invoices SET status = $1, messages = $2, reported_at = $3, cleared_at = $4, updated_at = $5 \
                 WHERE id = $6",
            )
            .await?;
        let append = tx
            .prepare_cached(
                "INSERT INTO invoice_events (invoice_id, status, at, messages) SELECT $1, s, a, m \
                 FROM UNNEST($2::text[], $3::bigint[], $4::text[]) WITH ORDINALITY AS e(s, a, m, n) ORDER BY n",
            )
            .await?;
        let update_params: [Param<'_>; 6] = [&status, &messages, &reported_at, &cleared_at, &updated_at, &invoice.id];
        let append_params: [Param<'_>; 4] = [&invoice.id, &statuses, &times, &entry_messages];
        // One round trip: both are sent together (see `record_invoice`).
        let (updated, appended) =
            tokio::join!(tx.execute(&update, &update_params), tx.execute(&append, &append_params));
        updated?;
        appended?;
        if let Some(pending) = event {
            webhooks::insert_event(&tx, pending, Utc::now()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn invoice_timeline(&self, invoice_id: Uuid) -> StoreResult<Vec<TimelineEntry>> {
        self.all(
            "SELECT * FROM invoice_events WHERE invoice_id = $1 ORDER BY id",
            &[&invoice_id],
            decode::timeline_entry,
        )
        .await
    }

    async fn notes_total(&self, original_id: Uuid, document_type: &str) -> StoreResult<rust_decimal::Decimal> {
        let c = self.client().await?;
        rows(
            &c,
            "SELECT total FROM invoices WHERE original_invoice_id = $1 AND document_type = $2 AND status <> 'rejected'",
            &[&original_id, &document_type],
        )
        .await?
        .iter()
        .map(|row| decimal(row, "total"))
        .sum()
    }

    async fn reporting_backlog(
        &self,
        unit_id: Uuid,
        now: DateTime<Utc>,
        near: DateTime<Utc>,
    ) -> StoreResult<(u64, u64, u64)> {
        let c = self.client().await?;
        let row = one(
            &c,
            "SELECT COUNT(*) AS open, COUNT(*) FILTER (WHERE report_deadline <= $1) AS near, \
             COUNT(*) FILTER (WHERE report_deadline <= $2) AS late FROM invoices WHERE egs_unit_id = $3 \
             AND invoice_type = 'simplified' AND status IN ('pending', 'submitted', 'retrying')",
            &[&to_millis(near), &to_millis(now), &unit_id],
        )
        .await?;
        Ok((
            count(get(&row, "open")?),
            count(get(&row, "near")?),
            count(get(&row, "late")?),
        ))
    }

    async fn open_submissions(&self, unit_id: Uuid) -> StoreResult<u32> {
        let c = self.client().await?;
        let n: i64 = one(
            &c,
            "SELECT COUNT(*) FROM jobs WHERE egs_unit_id = $1 AND kind = 'submit' AND state IN ('queued', 'running')",
            &[&unit_id],
        )
        .await?
        .try_get(0)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    async fn operations_snapshot(&self, now: DateTime<Utc>, near: DateTime<Utc>) -> StoreResult<OperationsSnapshot> {
        let c = self.client().await?;
        let queued: i64 = one(
            &c,
            "SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')",
            &[],
        )
        .await?
        .try_get(0)?;
        let row = one(
            &c,
            "SELECT MIN(created_at) AS oldest, \
             COUNT(*) FILTER (WHERE invoice_type = 'simplified' AND report_deadline <= $1 AND report_deadline > $2) \
             AS near, COUNT(*) FILTER (WHERE invoice_type = 'simplified' AND report_deadline <= $2) AS late \
             FROM invoices WHERE status IN ('pending', 'submitted', 'retrying')",
            &[&to_millis(near), &to_millis(now)],
        )
        .await?;
        let certificate_expiries = certificate_ends(&c, i64::MAX)
            .await?
            .into_iter()
            .map(|(_, end)| end)
            .collect();
        Ok(OperationsSnapshot {
            queued_jobs: count(queued),
            oldest_unsettled: opt_time(&row, "oldest")?,
            near_deadline: count(get(&row, "near")?),
            past_deadline: count(get(&row, "late")?),
            certificate_expiries,
        })
    }

    async fn certificates_ending_before(&self, before: DateTime<Utc>) -> StoreResult<Vec<(Uuid, DateTime<Utc>)>> {
        certificate_ends(&self.client().await?, to_millis(before)).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close();
        // Jobs cut off by the shutdown are free for the other relays at once.
        self.liveness.lock().await.take();
    }
}

#[async_trait]
impl Archive for PostgresStore {
    async fn put(&self, invoice_id: Uuid, kind: ArchiveKind, xml: &[u8]) -> anyhow::Result<()> {
        Ok(archive(&self.client().await?, invoice_id, kind, xml).await?)
    }

    async fn get(&self, invoice_id: Uuid, kind: ArchiveKind) -> anyhow::Result<Option<Vec<u8>>> {
        let c = self.client().await?;
        let row = opt_row(
            &c,
            "SELECT xml FROM invoice_archive WHERE invoice_id = $1 AND kind = $2",
            &[&invoice_id, &kind.as_str()],
        )
        .await?;
        Ok(row.map(|row| get::<Vec<u8>>(&row, "xml")).transpose()?)
    }

    fn in_store(&self) -> bool {
        true
    }
}
