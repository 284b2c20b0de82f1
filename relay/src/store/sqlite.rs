//! SQLite implementation of [`Store`] over `rusqlite`, called in place from the async tasks.
//!
//! Why in place: SQLite answers from its page cache in microseconds, while a driver that runs
//! each connection on its own thread (sqlx did, before) pays two thread switches per
//! statement; under load a third of the relay's CPU went to those switches. Statements that can
//! take long (the audit pruning, a filtered count over a whole account) run on tokio's blocking
//! pool instead.
//!
//! One writer connection behind a mutex (SQLite allows one writer at a time; a single
//! connection makes "count then insert" and "select then claim" race-free), a few read-only
//! connections (WAL readers never wait for the writer), and a checkpointer thread, so that no
//! request pays for copying the WAL back into the database file.
//!
//! The writes of the invoice path (issue, status, jobs, audit) go through a writer thread that
//! commits them in batches (group commit): each write runs in its own savepoint of one
//! transaction holding every write that arrived while the previous batch was committing. A
//! commit writes each page it changed to the WAL once, so under load the pages the writes share
//! (the tails of the tables and of their indexes, the units' rows) are written once per batch
//! instead of once per write; and a task waiting for its write awaits a channel instead of
//! blocking one of the runtime's threads on the writer's mutex. The rare writes (onboarding,
//! keys) still run in place under the same mutex.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::FromSql;
use rusqlite::{Connection, OpenFlags, OptionalExtension as _, Params, Row, Statement, TransactionBehavior, params};
use sha2::Digest as _;
use uuid::Uuid;

use super::*;
use crate::config::DatabaseUrl;

mod webhooks;
use crate::domain::{
    Account, ApiKey, AuditEntry, ComplianceDocument, EgsUnit, Environment, Job, JobKind, PendingEvent, StoredCsid,
};
use decode::{Columns as _, decode_err};

/// The migrations, in order (version, name, SQL). Applied ones are recorded in
/// `_sqlx_migrations`, the table (and checksums) of the sqlx migrator the relay used before,
/// so databases created by earlier versions open unchanged.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "accounts keys units",
        include_str!("../../migrations/sqlite/0001_accounts_keys_units.sql"),
    ),
    (
        2,
        "compliance attempts",
        include_str!("../../migrations/sqlite/0002_compliance_attempts.sql"),
    ),
    (3, "invoices", include_str!("../../migrations/sqlite/0003_invoices.sql")),
    (
        4,
        "invoice chain",
        include_str!("../../migrations/sqlite/0004_invoice_chain.sql"),
    ),
    (
        5,
        "unsettled invoices",
        include_str!("../../migrations/sqlite/0005_unsettled_invoices.sql"),
    ),
    (6, "webhooks", include_str!("../../migrations/sqlite/0006_webhooks.sql")),
    (
        7,
        "device hash index",
        include_str!("../../migrations/sqlite/0007_device_hash_index.sql"),
    ),
];

/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// The WAL size above which the checkpointer makes the WAL start over (see
/// [`start_checkpointer`]). Each rewind holds the writes for the time of a short checkpoint and
/// its two fsyncs (tens of milliseconds), so the limit is large enough that at a thousand
/// invoices a second (about 40 MB of WAL) that happens every few seconds, not several times a
/// second; the file is cut back to [`WAL_KEPT`] when it starts over.
const WAL_LIMIT: u64 = 256 * 1024 * 1024;

/// What the WAL file is cut back to when it starts over (`journal_size_limit`).
const WAL_KEPT: u64 = 64 * 1024 * 1024;

/// Read-only connections (a file database).
const READERS: usize = 4;

/// The most writes one batch commits: bounds how long the first of them waits for the last.
const BATCH_LIMIT: usize = 128;

/// How long a batch waits for more writes when the writes come in crowds.
const BATCH_LINGER: Duration = Duration::from_micros(1000);

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    db: Arc<Db>,
}

#[derive(Debug)]
struct Db {
    /// Shared with the batching writer thread.
    writer: Arc<Mutex<Connection>>,
    /// Empty for an in-memory database, whose only connection is the writer.
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    checkpointer: Mutex<Option<Checkpointer>>,
    batcher: Mutex<Option<Batcher>>,
}

/// A write waiting for the writer thread. It runs in the batch's transaction (or learns that
/// the transaction could not begin) and returns how to report its result once the batch has
/// committed or failed.
type Write = Box<dyn FnOnce(Result<&Connection, &str>) -> Report + Send>;

/// Reports a write's result: `None` once its batch committed, else why the batch failed.
type Report = Box<dyn FnOnce(Option<&str>) + Send>;

#[derive(Debug)]
struct Batcher {
    queue: mpsc::Sender<Write>,
    thread: JoinHandle<()>,
}

#[derive(Debug)]
struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// A poisoned lock only means a panic elsewhere while it was held; SQLite rolled back any open
/// transaction of that connection when its statement handles were dropped, so keep going.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Db {
    fn write<T>(&self, f: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        f(&mut lock(&self.writer))
    }

    /// Runs `f` in an immediate transaction on the writer; an early `Ok` or an error before
    /// the end rolls back.
    fn tx<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<Done<T>>) -> StoreResult<T> {
        self.write(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            match f(&tx)? {
                Done::Commit(value) => {
                    tx.commit()?;
                    Ok(value)
                }
                Done::Rollback(value) => Ok(value),
            }
        })
    }

    /// Runs `f` in the next batch of the writer thread, in its own savepoint: an early `Ok` or
    /// an error rolls back its own changes only. The result arrives once the batch committed.
    async fn batched<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<Done<T>> + Send + 'static,
    ) -> StoreResult<T> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let write: Write = Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => in_savepoint(conn, f),
                Err(err) => Err(StoreError::Database(err.to_owned().into())),
            };
            Box::new(move |failed: Option<&str>| {
                let result = match failed {
                    Some(err) if result.is_ok() => Err(StoreError::Database(err.to_owned().into())),
                    _ => result,
                };
                // The caller may have gone (a cancelled request): its write stands regardless.
                let _ = sender.send(result);
            })
        });
        let sent = lock(&self.batcher)
            .as_ref()
            .map(|b| b.queue.send(write).is_ok())
            .unwrap_or(false);
        if !sent {
            return Err(StoreError::Task("the store is closed".into()));
        }
        receiver
            .await
            .map_err(|_| StoreError::Task("the writer thread stopped".into()))?
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        if self.readers.is_empty() {
            return f(&lock(&self.writer));
        }
        let n = self.readers.len();
        let first = self.next_reader.fetch_add(1, Ordering::Relaxed) % n;
        for i in 0..n {
            if let Ok(conn) = self.readers[(first + i) % n].try_lock() {
                return f(&conn);
            }
        }
        f(&lock(&self.readers[first]))
    }
}

/// Runs one write of a batch in its own savepoint.
fn in_savepoint<T>(conn: &Connection, f: impl FnOnce(&Connection) -> StoreResult<Done<T>>) -> StoreResult<T> {
    conn.prepare_cached("SAVEPOINT write")?.execute([])?;
    let result = f(conn);
    let keep = matches!(result, Ok(Done::Commit(_)));
    if !keep {
        // An error may have ended the whole transaction already (SQLite rolls back on some).
        if !conn.is_autocommit() {
            conn.prepare_cached("ROLLBACK TO write")?.execute([])?;
        }
    }
    if !conn.is_autocommit() {
        conn.prepare_cached("RELEASE write")?.execute([])?;
    }
    match result? {
        Done::Commit(value) | Done::Rollback(value) => Ok(value),
    }
}

/// The writer thread: takes every write waiting, runs them in one transaction, commits, reports.
fn start_batcher(writer: Arc<Mutex<Connection>>) -> StoreResult<Batcher> {
    let (queue, incoming) = mpsc::channel::<Write>();
    let thread = std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || {
            let mut busy = false;
            while let Ok(first) = incoming.recv() {
                let mut batch = vec![first];
                // Under load (the last batch was not alone), linger a moment for more writes:
                // a bigger batch shares more pages. A lone write commits at once.
                let linger = std::time::Instant::now() + if busy { BATCH_LINGER } else { Duration::ZERO };
                while batch.len() < BATCH_LIMIT {
                    let wait = linger.saturating_duration_since(std::time::Instant::now());
                    match incoming.recv_timeout(wait) {
                        Ok(write) => batch.push(write),
                        Err(_) => break,
                    }
                }
                busy = batch.len() >= 4;
                let conn = lock(&writer);
                let (reports, failed) = match conn.execute_batch("BEGIN IMMEDIATE") {
                    Err(err) => {
                        let err = err.to_string();
                        let reports: Vec<Report> = batch.into_iter().map(|w| w(Err(&err))).collect();
                        (reports, Some(err))
                    }
                    Ok(()) => {
                        let reports: Vec<Report> = batch.into_iter().map(|w| w(Ok(&conn))).collect();
                        let failed = if conn.is_autocommit() {
                            // A write's error rolled the whole transaction back: its earlier
                            // writes are gone too.
                            Some("the batch's transaction was rolled back".to_owned())
                        } else {
                            match conn.execute_batch("COMMIT") {
                                Ok(()) => None,
                                Err(err) => {
                                    let _ = conn.execute_batch("ROLLBACK");
                                    Some(err.to_string())
                                }
                            }
                        };
                        (reports, failed)
                    }
                };
                drop(conn);
                if let Some(err) = &failed {
                    tracing::error!(error = %err, writes = reports.len(), "a batch of writes failed");
                }
                for report in reports {
                    report(failed.as_deref());
                }
            }
        })
        .map_err(|e| StoreError::Task(format!("cannot start the writer thread: {e}")))?;
    Ok(Batcher { queue, thread })
}

/// The end of a write transaction.
enum Done<T> {
    Commit(T),
    Rollback(T),
}

fn col<T: FromSql>(row: &Row<'_>, col: &str) -> StoreResult<T> {
    Ok(row.get(col)?)
}

impl decode::Columns for Row<'_> {
    fn opt_text(&self, name: &str) -> StoreResult<Option<String>> {
        col(self, name)
    }
    fn opt_int(&self, name: &str) -> StoreResult<Option<i64>> {
        col(self, name)
    }
    /// UUIDs are stored as their hyphenated text.
    fn opt_uuid(&self, name: &str) -> StoreResult<Option<Uuid>> {
        col::<Option<String>>(self, name)?
            .map(|t| Uuid::parse_str(&t).map_err(|e| decode_err(name, e)))
            .transpose()
    }
    /// Flags are stored as 0 or 1.
    fn flag(&self, name: &str) -> StoreResult<bool> {
        Ok(col::<i64>(self, name)? != 0)
    }
    fn bytes(&self, name: &str) -> StoreResult<Vec<u8>> {
        col(self, name)
    }
}

/// The first row of a query, decoded.
fn first<T>(
    stmt: &mut Statement<'_>,
    params: impl Params,
    decode: impl Fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut rows = stmt.query(params)?;
    rows.next()?.map(decode).transpose()
}

/// Every row of a query, decoded.
fn all<T>(
    stmt: &mut Statement<'_>,
    params: impl Params,
    decode: impl Fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(row)?);
    }
    Ok(out)
}

fn count_col(row: &Row<'_>, name: &str) -> StoreResult<u64> {
    Ok(u64::try_from(col::<i64>(row, name)?).unwrap_or_default())
}

/// The WHERE clause and its text arguments for a list filter (after account and environment).
fn filter_sql(filter: &InvoiceFilter) -> (String, Vec<String>) {
    let mut sql = String::new();
    let mut args = Vec::new();
    let mut add = |clause: &str, value: String| {
        sql.push_str(clause);
        args.push(value);
    };
    if let Some(status) = filter.status {
        add(" AND status = ?", status.as_str().to_owned());
    }
    if let Some(kind) = &filter.invoice_type {
        add(" AND invoice_type = ?", kind.clone());
    }
    if let Some(kind) = &filter.document_type {
        add(" AND document_type = ?", kind.clone());
    }
    if let Some(from) = &filter.date_from {
        add(" AND invoice_date >= ?", from.clone());
    }
    if let Some(to) = &filter.date_to {
        add(" AND invoice_date <= ?", to.clone());
    }
    if let Some(unit) = filter.egs_unit_id {
        add(" AND egs_unit_id = ?", unit.to_string());
    }
    (sql, args)
}

/// The `payload` column of a job: its variant's fields.
fn payload_text(kind: &JobKind) -> StoreResult<String> {
    let value = serde_json::to_value(kind)?;
    json_text(&value.get("payload").cloned().unwrap_or_else(|| serde_json::json!({})))
}

fn json_text<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    Ok(serde_json::to_string(value)?)
}

/// The quota count: units in an environment, except those that failed before ZATCA issued any
/// CSID (a mistyped OTP should not use up the plan).
const COUNT_UNITS_SQL: &str = "SELECT COUNT(*) FROM egs_units WHERE account_id = ? AND environment = ? \
     AND NOT (onboarding_status = 'failed' AND compliance_token IS NULL AND production_token IS NULL)";

/// Settings every connection gets.
fn configure(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.execute_batch("PRAGMA foreign_keys = ON;")?;
    Ok(())
}

/// Applies the migrations not yet recorded, each in its own transaction.
fn migrate(conn: &mut Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
         installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, \
         checksum BLOB NOT NULL, execution_time BIGINT NOT NULL);",
    )?;
    for &(version, description, sql) in MIGRATIONS {
        let checksum = sha2::Sha384::digest(sql.as_bytes()).to_vec();
        let applied: Option<Vec<u8>> = conn
            .query_row(
                "SELECT checksum FROM _sqlx_migrations WHERE version = ? AND success",
                [version],
                |row| row.get(0),
            )
            .optional()?;
        match applied {
            Some(stored) if stored == checksum => continue,
            Some(_) => {
                return Err(decode_err(
                    "_sqlx_migrations",
                    format!("migration {version} ({description}) was changed after it was applied to this database"),
                ));
            }
            None => {}
        }
        let started = std::time::Instant::now();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT OR REPLACE INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (?, ?, TRUE, ?, ?)",
            params![
                version,
                description,
                checksum,
                i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX)
            ],
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// Copies the WAL into the database file every [`CHECKPOINT_EVERY`], on its own connection and
/// thread, PASSIVE: it never waits for (or blocks) the writer or the readers, and its fsyncs are
/// off the write path.
///
/// PASSIVE alone never lets the WAL start over under sustained load: SQLite rewinds it only when
/// a write transaction begins with every frame already copied back, and some writer always
/// appended frames while the checkpoint ran (a 10 s load test grew it to gigabytes). So once the
/// WAL passes [`WAL_LIMIT`], the checkpointer copies what it can, then holds the writer's mutex
/// (writes wait in the writer thread's queue, no runtime thread blocks) for a second PASSIVE
/// that has only the frames of the last few milliseconds left; the next write rewinds the WAL.
/// Past four times the limit (readers kept old snapshots), TRUNCATE, which waits for them.
fn start_checkpointer(path: &Path, writer: Arc<Mutex<Connection>>) -> StoreResult<Checkpointer> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal = std::path::PathBuf::from(wal);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn)?;
    let checkpoint = move |mode: &str| {
        if let Err(err) = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(())) {
            tracing::warn!(error = %err, mode, "WAL checkpoint failed");
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::park_timeout(CHECKPOINT_EVERY);
                    let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
                    checkpoint("PASSIVE");
                    if size > 4 * WAL_LIMIT {
                        checkpoint("TRUNCATE");
                    } else if size > WAL_LIMIT {
                        let held = lock(&writer);
                        checkpoint("PASSIVE");
                        drop(held);
                    }
                }
            })
            .map_err(|e| StoreError::Task(format!("cannot start the checkpoint thread: {e}")))?
    };
    Ok(Checkpointer { stop, thread })
}

impl SqliteStore {
    /// Opens (creating if missing) the database and applies migrations.
    pub async fn open(url: &DatabaseUrl) -> anyhow::Result<Self> {
        let path = url.sqlite_path();
        let db = tokio::task::spawn_blocking(move || Self::open_blocking(path.as_deref())).await??;
        Ok(SqliteStore { db: Arc::new(db) })
    }

    fn open_blocking(path: Option<&Path>) -> anyhow::Result<Db> {
        let Some(path) = path else {
            let mut writer = Connection::open_in_memory()?;
            configure(&writer)?;
            migrate(&mut writer)?;
            let writer = Arc::new(Mutex::new(writer));
            return Ok(Db {
                batcher: Mutex::new(Some(start_batcher(writer.clone())?)),
                writer,
                readers: Vec::new(),
                next_reader: AtomicUsize::new(0),
                checkpointer: Mutex::new(None),
            });
        };
        restrict_files(path)?;
        let mut writer = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&writer)?;
        // WAL: readers see the last commit while the writer writes. NORMAL: a commit is durable
        // once the WAL is synced at the next checkpoint (power loss may drop the last commits,
        // a process crash never does). The checkpointer thread does the checkpoints.
        writer
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;")?;
        writer.pragma_update_and_check(
            None,
            "journal_size_limit",
            i64::try_from(WAL_KEPT).unwrap_or(i64::MAX),
            |_| Ok(()),
        )?;
        migrate(&mut writer)?;
        let readers = (0..READERS)
            .map(|_| {
                let conn = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                configure(&conn)?;
                Ok(Mutex::new(conn))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let writer = Arc::new(Mutex::new(writer));
        let checkpointer = start_checkpointer(path, writer.clone())?;
        Ok(Db {
            batcher: Mutex::new(Some(start_batcher(writer.clone())?)),
            writer,
            readers,
            next_reader: AtomicUsize::new(0),
            checkpointer: Mutex::new(Some(checkpointer)),
        })
    }

    /// Runs `f` on tokio's blocking pool (for statements that may take long).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Db) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

fn insert_job(conn: &Connection, job: &Job, now: DateTime<Utc>) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO jobs (id, kind, egs_unit_id, payload, state, attempts, next_attempt_at, created_at, updated_at) \
         VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?)",
    )?
    .execute(params![
        job.id.to_string(),
        job.kind.name(),
        job.egs_unit_id.to_string(),
        payload_text(&job.kind)?,
        to_millis(job.not_before.unwrap_or(now)),
        to_millis(now),
        to_millis(now),
    ])?;
    Ok(())
}

fn existing_id(conn: &Connection, sql: &str, params: impl Params) -> StoreResult<Option<Uuid>> {
    let id: Option<String> = conn
        .prepare_cached(sql)?
        .query_row(params, |row| row.get(0))
        .optional()?;
    id.map(|id| Uuid::parse_str(&id).map_err(|e| decode_err("id", e)))
        .transpose()
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_account(&self, account: &Account, key: &ApiKey) -> StoreResult<()> {
        self.db.tx(|tx| {
            tx.prepare_cached("INSERT INTO accounts (id, name, email, plan, created_at) VALUES (?, ?, ?, ?, ?)")?
                .execute(params![
                    account.id.to_string(),
                    account.name,
                    account.email,
                    account.plan,
                    to_millis(account.created_at),
                ])?;
            insert_key(tx, key)?;
            Ok(Done::Commit(()))
        })
    }

    async fn account(&self, id: Uuid) -> StoreResult<Option<Account>> {
        self.db.read(|c| {
            first(
                &mut *c.prepare_cached("SELECT * FROM accounts WHERE id = ?")?,
                [id.to_string()],
                |row| decode::account(row, ""),
            )
        })
    }

    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        self.db.write(|c| insert_key(c, key))
    }

    async fn active_api_key_by_hash(&self, hash: &[u8]) -> StoreResult<Option<(ApiKey, Account)>> {
        self.db.read(|c| {
            first(
                &mut *c.prepare_cached(
                    "SELECT k.*, a.id AS a_id, a.name AS a_name, a.email AS a_email, a.plan AS a_plan, \
                     a.created_at AS a_created_at FROM api_keys k JOIN accounts a ON a.id = k.account_id \
                     WHERE k.key_hash = ? AND k.revoked_at IS NULL",
                )?,
                [hash],
                |row| Ok((decode::api_key(row)?, decode::account(row, "a_")?)),
            )
        })
    }

    async fn touch_api_key(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        self.db
            .batched(move |c| {
                c.prepare_cached("UPDATE api_keys SET last_used_at = ? WHERE id = ?")?
                    .execute(params![to_millis(at), id.to_string()])?;
                Ok(Done::Commit(()))
            })
            .await
    }

    async fn list_api_keys(&self, account_id: Uuid) -> StoreResult<Vec<ApiKey>> {
        self.db.read(|c| {
            all(
                &mut *c.prepare_cached("SELECT * FROM api_keys WHERE account_id = ? ORDER BY created_at, id")?,
                [account_id.to_string()],
                |row| decode::api_key(row),
            )
        })
    }

    async fn api_key(&self, account_id: Uuid, id: Uuid) -> StoreResult<Option<ApiKey>> {
        self.db.read(|c| {
            first(
                &mut *c.prepare_cached("SELECT * FROM api_keys WHERE account_id = ? AND id = ?")?,
                [account_id.to_string(), id.to_string()],
                |row| decode::api_key(row),
            )
        })
    }

    async fn revoke_api_key(
        &self,
        account_id: Uuid,
        id: Uuid,
        by: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<RevokeOutcome> {
        self.db.write(|c| {
            // One statement: the count, the caller's own state and the update are one atomic step.
            let done = c
                .prepare_cached(
                    "UPDATE api_keys SET revoked_at = ?1 WHERE account_id = ?2 AND id = ?3 AND revoked_at IS NULL \
                     AND (SELECT COUNT(*) FROM api_keys WHERE account_id = ?2 AND revoked_at IS NULL) > 1 \
                     AND EXISTS (SELECT 1 FROM api_keys WHERE account_id = ?2 AND id = ?4 AND revoked_at IS NULL)",
                )?
                .execute(params![
                    to_millis(at),
                    account_id.to_string(),
                    id.to_string(),
                    by.to_string()
                ])?;
            if done == 1 {
                return Ok(RevokeOutcome::Revoked);
            }
            let revoked: Option<Option<i64>> = c
                .prepare_cached("SELECT revoked_at FROM api_keys WHERE account_id = ? AND id = ?")?
                .query_row([account_id.to_string(), id.to_string()], |row| row.get(0))
                .optional()?;
            Ok(match revoked {
                None => RevokeOutcome::NotFound,
                Some(Some(_)) => RevokeOutcome::AlreadyRevoked,
                Some(None) => RevokeOutcome::LastActiveKey,
            })
        })
    }

    async fn update_api_key(
        &self,
        account_id: Uuid,
        id: Uuid,
        name: Option<Option<&str>>,
        default_unit: Option<Option<Uuid>>,
    ) -> StoreResult<()> {
        // Only the fields given change, in one statement: a concurrent change of the other
        // field stays.
        self.db.write(|c| {
            c.prepare_cached(
                "UPDATE api_keys SET name = CASE WHEN ? THEN ? ELSE name END, \
                 default_egs_unit_id = CASE WHEN ? THEN ? ELSE default_egs_unit_id END \
                 WHERE account_id = ? AND id = ?",
            )?
            .execute(params![
                name.is_some(),
                name.flatten(),
                default_unit.is_some(),
                default_unit.flatten().map(|u| u.to_string()),
                account_id.to_string(),
                id.to_string()
            ])?;
            Ok(())
        })
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
        self.db.tx(|tx| {
            let used: i64 = tx
                .prepare_cached(COUNT_UNITS_SQL)?
                .query_row(params![unit.account_id.to_string(), unit.environment.as_str()], |row| {
                    row.get(0)
                })?;
            let used = u32::try_from(used).unwrap_or(u32::MAX);
            if used >= limit {
                return Ok(Done::Rollback(QuotaOutcome::Exceeded { used }));
            }
            tx.prepare_cached(
                "INSERT INTO egs_units (id, account_id, unit_name, environment, phase, invoice_type, custody, \
                 serial_number, egs_serial, seller, onboarding_status, status_message, errors, csr_pem, \
                 private_key_enc, cert_issued_at, cert_expires_at, invoice_counter, last_invoice_hash, created_at, \
                 updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                unit.id.to_string(),
                unit.account_id.to_string(),
                unit.unit_name,
                unit.environment.as_str(),
                i64::from(unit.phase),
                unit.invoice_type.as_str(),
                unit.custody.as_str(),
                unit.serial_number,
                unit.egs_serial,
                seller,
                unit.onboarding_status.as_str(),
                unit.status_message,
                errors,
                unit.csr_pem,
                unit.private_key_enc,
                unit.cert_issued_at.map(to_millis),
                unit.cert_expires_at.map(to_millis),
                unit.invoice_counter,
                unit.last_invoice_hash,
                to_millis(unit.created_at),
                to_millis(unit.updated_at),
            ])?;
            if let Some(job) = job {
                insert_job(tx, job, unit.created_at)?;
            }
            Ok(Done::Commit(QuotaOutcome::Inserted))
        })
    }

    async fn restart_onboarding_within_quota(
        &self,
        unit: &EgsUnit,
        limit: u32,
        job: Option<&Job>,
    ) -> StoreResult<QuotaOutcome> {
        self.db.tx(|tx| {
            let used: i64 = tx
                .prepare_cached(&format!("{COUNT_UNITS_SQL} AND id != ?"))?
                .query_row(
                    params![
                        unit.account_id.to_string(),
                        unit.environment.as_str(),
                        unit.id.to_string()
                    ],
                    |row| row.get(0),
                )?;
            let used = u32::try_from(used).unwrap_or(u32::MAX);
            if used >= limit {
                return Ok(Done::Rollback(QuotaOutcome::Exceeded { used }));
            }
            let done = tx
                .prepare_cached(
                    "UPDATE egs_units SET onboarding_status = ?, status_message = ?, errors = NULL, updated_at = ? \
                     WHERE id = ? AND onboarding_status = 'failed'",
                )?
                .execute(params![
                    unit.onboarding_status.as_str(),
                    unit.status_message,
                    to_millis(unit.updated_at),
                    unit.id.to_string()
                ])?;
            if done != 1 {
                return Ok(Done::Rollback(QuotaOutcome::Exceeded { used: u32::MAX }));
            }
            if let Some(job) = job {
                insert_job(tx, job, unit.updated_at)?;
            }
            Ok(Done::Commit(QuotaOutcome::Inserted))
        })
    }

    async fn count_units(&self, account_id: Uuid, environment: Environment) -> StoreResult<u32> {
        self.db.read(|c| {
            let used: i64 = c
                .prepare_cached(COUNT_UNITS_SQL)?
                .query_row(params![account_id.to_string(), environment.as_str()], |row| row.get(0))?;
            Ok(u32::try_from(used).unwrap_or(u32::MAX))
        })
    }

    async fn unit(&self, account_id: Uuid, id: Uuid) -> StoreResult<Option<EgsUnit>> {
        self.db.read(|c| {
            first(
                &mut *c.prepare_cached("SELECT * FROM egs_units WHERE account_id = ? AND id = ?")?,
                [account_id.to_string(), id.to_string()],
                |row| decode::unit(row),
            )
        })
    }

    async fn unit_by_id(&self, id: Uuid) -> StoreResult<Option<EgsUnit>> {
        self.db.read(|c| {
            first(
                &mut *c.prepare_cached("SELECT * FROM egs_units WHERE id = ?")?,
                [id.to_string()],
                |row| decode::unit(row),
            )
        })
    }

    async fn list_units(&self, account_id: Uuid) -> StoreResult<Vec<EgsUnit>> {
        self.db.read(|c| {
            all(
                &mut *c.prepare_cached("SELECT * FROM egs_units WHERE account_id = ? ORDER BY created_at, id")?,
                [account_id.to_string()],
                |row| decode::unit(row),
            )
        })
    }

    async fn save_unit_onboarding(&self, unit: &EgsUnit, event: Option<&PendingEvent>) -> StoreResult<()> {
        let (c_token, c_secret, c_req) = csid_cols(unit.compliance.as_ref());
        let (p_token, p_secret, p_req) = csid_cols(unit.production.as_ref());
        let errors = if unit.errors.is_empty() {
            None
        } else {
            Some(json_text(&unit.errors)?)
        };
        self.db.tx(|c| {
            c.prepare_cached(
                "UPDATE egs_units SET onboarding_status = ?, status_message = ?, errors = ?, csr_pem = ?, \
                 private_key_enc = ?, compliance_token = ?, compliance_secret_enc = ?, compliance_request_id = ?, \
                 production_token = ?, production_secret_enc = ?, production_request_id = ?, \
                 cert_issued_at = ?, cert_expires_at = ?, compliance_attempted_at = ?, updated_at = ? WHERE id = ?",
            )?
            .execute(params![
                unit.onboarding_status.as_str(),
                unit.status_message,
                errors,
                unit.csr_pem,
                unit.private_key_enc,
                c_token,
                c_secret,
                c_req,
                p_token,
                p_secret,
                p_req,
                unit.cert_issued_at.map(to_millis),
                unit.cert_expires_at.map(to_millis),
                unit.compliance_attempted_at.map(to_millis),
                to_millis(unit.updated_at),
                unit.id.to_string(),
            ])?;
            if let Some(pending) = event {
                webhooks::insert_event(c, pending, Utc::now())?;
            }
            Ok(Done::Commit(()))
        })
    }

    async fn record_compliance_document(&self, unit_id: Uuid, doc: &ComplianceDocument) -> StoreResult<()> {
        let messages = json_text(&doc.messages)?;
        self.db.write(|c| {
            c.prepare_cached(
                "INSERT INTO compliance_documents (egs_unit_id, kind, icv, uuid, invoice_hash, messages, accepted_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (egs_unit_id, kind) DO UPDATE SET icv = excluded.icv, \
                 uuid = excluded.uuid, invoice_hash = excluded.invoice_hash, messages = excluded.messages, \
                 accepted_at = excluded.accepted_at",
            )?
            .execute(params![
                unit_id.to_string(),
                doc.kind.as_str(),
                doc.icv,
                doc.uuid,
                doc.invoice_hash,
                messages,
                to_millis(doc.accepted_at),
            ])?;
            Ok(())
        })
    }

    async fn compliance_documents(&self, unit_id: Uuid) -> StoreResult<Vec<ComplianceDocument>> {
        self.db.read(|c| {
            all(
                &mut *c.prepare_cached("SELECT * FROM compliance_documents WHERE egs_unit_id = ? ORDER BY icv")?,
                [unit_id.to_string()],
                |row| decode::compliance_document(row),
            )
        })
    }

    async fn enqueue_job(&self, job: &Job, now: DateTime<Utc>) -> StoreResult<()> {
        let job = job.clone();
        self.db
            .batched(move |c| {
                insert_job(c, &job, now)?;
                Ok(Done::Commit(()))
            })
            .await
    }

    async fn claim_due_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        self.db
            .batched(move |c| {
                // One statement claims them all (atomic).
                Ok(Done::Commit(all(
                    &mut *c.prepare_cached(
                        "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = ?1, updated_at = ?2 \
                         WHERE id IN (SELECT id FROM jobs WHERE (state = 'queued' AND next_attempt_at <= ?2) \
                         OR (state = 'running' AND lease_until < ?2) ORDER BY next_attempt_at, created_at LIMIT ?3) \
                         RETURNING *",
                    )?,
                    params![to_millis(lease_until), to_millis(now), i64::from(limit)],
                    |row| decode::job(row),
                )?))
            })
            .await
    }

    async fn finish_job(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        self.db
            .batched(move |c| {
                c.prepare_cached(
                    "UPDATE jobs SET state = 'done', payload = '{}', lease_until = NULL, updated_at = ? WHERE id = ?",
                )?
                .execute(params![to_millis(now), id.to_string()])?;
                Ok(Done::Commit(()))
            })
            .await
    }

    async fn retry_job(
        &self,
        id: Uuid,
        next_attempt_at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let error = error.to_owned();
        self.db
            .batched(move |c| {
                c.prepare_cached(
                    "UPDATE jobs SET state = 'queued', next_attempt_at = ?, lease_until = NULL, last_error = ?, \
                     updated_at = ? WHERE id = ?",
                )?
                .execute(params![
                    to_millis(next_attempt_at),
                    error,
                    to_millis(now),
                    id.to_string()
                ])?;
                Ok(Done::Commit(()))
            })
            .await
    }

    async fn fail_job(&self, id: Uuid, error: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let error = error.to_owned();
        self.db
            .batched(move |c| {
                c.prepare_cached(
                    "UPDATE jobs SET state = 'failed', payload = '{}', lease_until = NULL, last_error = ?, \
                     updated_at = ? WHERE id = ?",
                )?
                .execute(params![error, to_millis(now), id.to_string()])?;
                Ok(Done::Commit(()))
            })
            .await
    }

    async fn update_job(&self, id: Uuid, kind: &JobKind, now: DateTime<Utc>) -> StoreResult<()> {
        let payload = payload_text(kind)?;
        self.db.write(|c| {
            c.prepare_cached("UPDATE jobs SET payload = ?, updated_at = ? WHERE id = ?")?
                .execute(params![payload, to_millis(now), id.to_string()])?;
            Ok(())
        })
    }

    async fn release_running_jobs(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        self.db.write(|c| {
            let n = c
                .prepare_cached(
                    "UPDATE jobs SET state = 'queued', lease_until = NULL, next_attempt_at = ?, updated_at = ? \
                     WHERE state = 'running'",
                )?
                .execute(params![to_millis(now), to_millis(now)])?;
            Ok(u64::try_from(n).unwrap_or(u64::MAX))
        })
    }

    async fn open_jobs_for_unit(&self, unit_id: Uuid) -> StoreResult<u32> {
        self.db.read(|c| {
            let n: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM jobs WHERE egs_unit_id = ? AND kind <> 'webhook' AND state IN ('queued', 'running')")?
                .query_row([unit_id.to_string()], |row| row.get(0))?;
            Ok(u32::try_from(n).unwrap_or(u32::MAX))
        })
    }

    async fn insert_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let headers = json_text(&entry.request_headers)?;
        let entry = entry.clone();
        self.db
            .batched(move |c| {
                c.prepare_cached(
                    "INSERT INTO zatca_audit (egs_unit_id, at, operation, method, url, request_headers, request_body, \
                 response_status, response_body, duration_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )?
                .execute(params![
                    entry.egs_unit_id.to_string(),
                    to_millis(entry.at),
                    entry.operation,
                    entry.method,
                    entry.url,
                    headers,
                    entry.request_body,
                    entry.response_status.map(i64::from),
                    entry.response_body,
                    i64::try_from(entry.duration_ms).unwrap_or(i64::MAX),
                    entry.error,
                ])?;
                Ok(Done::Commit(()))
            })
            .await
    }

    async fn audit_log(&self, unit_id: Uuid, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        self.db.read(|c| {
            all(
                &mut *c.prepare_cached("SELECT * FROM zatca_audit WHERE egs_unit_id = ? ORDER BY id DESC LIMIT ?")?,
                params![unit_id.to_string(), i64::from(limit)],
                |row| decode::audit(row),
            )
        })
    }

    async fn prune_audit(&self, before: Option<DateTime<Utc>>, keep_per_unit: Option<u32>) -> StoreResult<u64> {
        // A large log takes a while to prune: off the async workers.
        self.blocking(move |db| {
            db.write(|c| {
                let mut deleted = 0;
                if let Some(before) = before {
                    deleted += c.execute("DELETE FROM zatca_audit WHERE at < ?", [to_millis(before)])?;
                }
                if let Some(keep) = keep_per_unit {
                    deleted += c.execute(
                        "DELETE FROM zatca_audit WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER \
                         (PARTITION BY egs_unit_id ORDER BY id DESC) AS n FROM zatca_audit) WHERE n > ?)",
                        [i64::from(keep)],
                    )?;
                }
                Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
            })
        })
        .await
    }

    async fn set_compliance_attempt(&self, unit_id: Uuid, at: Option<DateTime<Utc>>) -> StoreResult<()> {
        self.db.write(|c| {
            c.prepare_cached("UPDATE egs_units SET compliance_attempted_at = ?, updated_at = ? WHERE id = ?")?
                .execute(params![at.map(to_millis), to_millis(Utc::now()), unit_id.to_string()])?;
            Ok(())
        })
    }

    async fn issue_invoice(
        &self,
        invoice: &Invoice,
        job: Option<&Job>,
        signed_xml: Option<&[u8]>,
    ) -> StoreResult<IssueOutcome> {
        let row = InvoiceRow::of(invoice)?;
        let (invoice, job, signed_xml) = (invoice.clone(), job.cloned(), signed_xml.map(<[u8]>::to_vec));
        self.db
            .batched(move |tx| {
                let (invoice, job, signed_xml) = (&invoice, job.as_ref(), signed_xml.as_deref());
                if let Some(key) = &invoice.idempotency_key {
                    let found = existing_id(
                        tx,
                        "SELECT id FROM invoices WHERE account_id = ? AND idempotency_key = ?",
                        params![invoice.account_id.to_string(), key],
                    )?;
                    if let Some(id) = found {
                        return Ok(Done::Rollback(IssueOutcome::Exists(id)));
                    }
                }
                let advanced = tx
                    .prepare_cached(
                        "UPDATE egs_units SET invoice_counter = ?, last_invoice_hash = ?, updated_at = ? \
                     WHERE id = ? AND invoice_counter = ?",
                    )?
                    .execute(params![
                        invoice.icv,
                        invoice.invoice_hash,
                        to_millis(invoice.created_at),
                        invoice.egs_unit_id.to_string(),
                        invoice.icv - 1,
                    ])?;
                if advanced != 1 {
                    return Ok(Done::Rollback(IssueOutcome::ChainMoved));
                }
                record_invoice(tx, invoice, &row, signed_xml, job)?;
                Ok(Done::Commit(IssueOutcome::Issued))
            })
            .await
    }

    async fn record_device_invoice(
        &self,
        invoice: &Invoice,
        job: Option<&Job>,
        chain_note: Option<&str>,
        signed_xml: Option<&[u8]>,
    ) -> StoreResult<IssueOutcome> {
        let row = InvoiceRow::of(invoice)?;
        let (invoice, job, signed_xml) = (invoice.clone(), job.cloned(), signed_xml.map(<[u8]>::to_vec));
        let chain_note = chain_note.map(str::to_owned);
        self.db
            .batched(move |tx| {
                let (invoice, job, signed_xml) = (&invoice, job.as_ref(), signed_xml.as_deref());
                if let Some(id) = same_document(tx, invoice)? {
                    return Ok(Done::Rollback(IssueOutcome::Exists(id)));
                }
                let taken = existing_id(
                    tx,
                    "SELECT id FROM invoices WHERE egs_unit_id = ? AND icv = ?",
                    params![invoice.egs_unit_id.to_string(), invoice.icv],
                )?;
                if taken.is_some() {
                    return Ok(Done::Rollback(IssueOutcome::ChainMoved));
                }
                tx.prepare_cached(
                    "UPDATE egs_units SET invoice_counter = MAX(invoice_counter, ?1), \
                 last_invoice_hash = CASE WHEN ?1 > invoice_counter THEN ?2 ELSE last_invoice_hash END, \
                 chain_note = COALESCE(?3, chain_note), updated_at = ?4 WHERE id = ?5",
                )?
                .execute(params![
                    invoice.icv,
                    invoice.invoice_hash,
                    chain_note,
                    to_millis(invoice.created_at),
                    invoice.egs_unit_id.to_string(),
                ])?;
                record_invoice(tx, invoice, &row, signed_xml, job)?;
                Ok(Done::Commit(IssueOutcome::Issued))
            })
            .await
    }

    async fn invoice(&self, account_id: Uuid, id: Uuid) -> StoreResult<Option<Invoice>> {
        self.db.read(|c| {
            first(
                &mut *c.prepare_cached("SELECT * FROM invoices WHERE account_id = ? AND id = ?")?,
                [account_id.to_string(), id.to_string()],
                |row| decode::invoice(row),
            )
        })
    }

    async fn invoice_by_id(&self, id: Uuid) -> StoreResult<Option<Invoice>> {
        self.db.read(|c| {
            first(
                &mut *c.prepare_cached("SELECT * FROM invoices WHERE id = ?")?,
                [id.to_string()],
                |row| decode::invoice(row),
            )
        })
    }

    async fn invoice_by_idempotency_key(&self, account_id: Uuid, key: &str) -> StoreResult<Option<Invoice>> {
        self.db.read(|c| {
            first(
                &mut *c.prepare_cached("SELECT * FROM invoices WHERE account_id = ? AND idempotency_key = ?")?,
                params![account_id.to_string(), key],
                |row| decode::invoice(row),
            )
        })
    }

    async fn save_invoice_qr(&self, id: Uuid, qr: Option<&str>) -> StoreResult<()> {
        let qr = qr.map(str::to_owned);
        self.db
            .batched(move |c| {
                c.prepare_cached("UPDATE invoices SET qr_code = ? WHERE id = ?")?
                    .execute(params![qr, id.to_string()])?;
                Ok(Done::Commit(()))
            })
            .await
    }

    async fn invoice_by_uuid(&self, account_id: Uuid, uuid: &str) -> StoreResult<Option<Invoice>> {
        self.db.read(|c| {
            first(
                &mut *c.prepare_cached(
                    "SELECT * FROM invoices WHERE account_id = ? AND uuid = ? ORDER BY seq DESC LIMIT 1",
                )?,
                params![account_id.to_string(), uuid],
                |row| decode::invoice(row),
            )
        })
    }

    async fn list_invoices(
        &self,
        account_id: Uuid,
        environment: Environment,
        filter: &InvoiceFilter,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<InvoicePage> {
        let (clauses, args) = filter_sql(filter);
        // The count covers the whole filtered account: off the async workers.
        self.blocking(move |db| {
            db.read(|c| {
                let base = format!("FROM invoices WHERE account_id = ? AND environment = ?{clauses}");
                let mut values: Vec<rusqlite::types::Value> =
                    vec![account_id.to_string().into(), environment.as_str().to_owned().into()];
                values.extend(args.into_iter().map(Into::into));
                let total: i64 = c
                    .prepare_cached(&format!("SELECT COUNT(*) {base}"))?
                    .query_row(rusqlite::params_from_iter(values.iter()), |row| row.get(0))?;
                let page_sql = format!(
                    "SELECT * {base}{} ORDER BY seq DESC LIMIT ?",
                    if after.is_some() { " AND seq < ?" } else { "" }
                );
                if let Some(after) = after {
                    values.push(after.into());
                }
                values.push((i64::from(limit) + 1).into());
                let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
                let mut stmt = c.prepare_cached(&page_sql)?;
                let rows = all(&mut stmt, rusqlite::params_from_iter(values.iter()), |row| {
                    Ok((col::<i64>(row, "seq")?, decode::invoice(row)?))
                })?;
                let more = rows.len() > wanted;
                let mut invoices = Vec::with_capacity(rows.len().min(wanted));
                let mut next = None;
                for (seq, invoice) in rows.into_iter().take(wanted) {
                    next = Some(seq);
                    invoices.push(invoice);
                }
                Ok(InvoicePage {
                    invoices,
                    next: if more { next } else { None },
                    total_count: u64::try_from(total).unwrap_or_default(),
                })
            })
        })
        .await
    }

    async fn save_invoice_status(
        &self,
        invoice: &Invoice,
        entries: &[TimelineEntry],
        event: Option<&PendingEvent>,
    ) -> StoreResult<()> {
        let messages = json_text(&invoice.messages)?;
        let entries = entries
            .iter()
            .map(|e| {
                let messages = if e.messages.is_empty() {
                    None
                } else {
                    Some(json_text(&e.messages)?)
                };
                Ok((e.status.as_str(), to_millis(e.at), messages))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let invoice = invoice.clone();
        let event = event.cloned();
        self.db
            .batched(move |tx| {
                tx.prepare_cached(
                    "UPDATE invoices SET status = ?, messages = ?, reported_at = ?, cleared_at = ?, updated_at = ? \
                 WHERE id = ?",
                )?
                .execute(params![
                    invoice.status.as_str(),
                    messages,
                    invoice.reported_at.map(to_millis),
                    invoice.cleared_at.map(to_millis),
                    to_millis(invoice.updated_at),
                    invoice.id.to_string(),
                ])?;
                let mut insert = tx.prepare_cached(
                    "INSERT INTO invoice_events (invoice_id, status, at, messages) VALUES (?, ?, ?, ?)",
                )?;
                for (status, at, messages) in &entries {
                    insert.execute(params![invoice.id.to_string(), status, at, messages])?;
                }
                if let Some(pending) = &event {
                    webhooks::insert_event(tx, pending, Utc::now())?;
                }
                Ok(Done::Commit(()))
            })
            .await
    }

    async fn invoice_timeline(&self, invoice_id: Uuid) -> StoreResult<Vec<TimelineEntry>> {
        self.db.read(|c| {
            all(
                &mut *c.prepare_cached("SELECT * FROM invoice_events WHERE invoice_id = ? ORDER BY id")?,
                [invoice_id.to_string()],
                |row| decode::timeline_entry(row),
            )
        })
    }

    async fn notes_total(&self, original_id: Uuid, document_type: &str) -> StoreResult<rust_decimal::Decimal> {
        let totals: Vec<String> = self.db.read(|c| {
            all(
                &mut *c.prepare_cached(
                    "SELECT total FROM invoices WHERE original_invoice_id = ? AND document_type = ? \
                     AND status != 'rejected'",
                )?,
                params![original_id.to_string(), document_type],
                |row| col(row, "total"),
            )
        })?;
        totals
            .iter()
            .map(|t| t.parse::<rust_decimal::Decimal>().map_err(|e| decode_err("total", e)))
            .sum()
    }

    async fn reporting_backlog(
        &self,
        unit_id: Uuid,
        now: DateTime<Utc>,
        near: DateTime<Utc>,
    ) -> StoreResult<(u64, u64, u64)> {
        self.db.read(|c| {
            let row = first(
                &mut *c.prepare_cached(
                    "SELECT COUNT(*) AS open, \
                     COALESCE(SUM(report_deadline <= ?1), 0) AS near, COALESCE(SUM(report_deadline <= ?2), 0) AS late \
                     FROM invoices WHERE egs_unit_id = ?3 AND invoice_type = 'simplified' \
                     AND status IN ('pending', 'submitted', 'retrying')",
                )?,
                params![to_millis(near), to_millis(now), unit_id.to_string()],
                |row| {
                    Ok((
                        count_col(row, "open")?,
                        count_col(row, "near")?,
                        count_col(row, "late")?,
                    ))
                },
            )?;
            Ok(row.unwrap_or_default())
        })
    }

    async fn open_submissions(&self, unit_id: Uuid) -> StoreResult<u32> {
        self.db.read(|c| {
            let n: i64 = c
                .prepare_cached(
                    "SELECT COUNT(*) FROM jobs WHERE egs_unit_id = ? AND kind = 'submit' AND state IN ('queued', 'running')",
                )?
                .query_row([unit_id.to_string()], |row| row.get(0))?;
            Ok(u32::try_from(n).unwrap_or(u32::MAX))
        })
    }

    async fn operations_snapshot(&self, now: DateTime<Utc>, near: DateTime<Utc>) -> StoreResult<OperationsSnapshot> {
        self.db.read(|c| {
            let queued_jobs: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')")?
                .query_row([], |row| row.get(0))?;
            let (oldest, near_deadline, past_deadline) = c
                .prepare_cached(
                    "SELECT MIN(created_at), \
                     COALESCE(SUM(invoice_type = 'simplified' AND report_deadline <= ?1 AND report_deadline > ?2), 0), \
                     COALESCE(SUM(invoice_type = 'simplified' AND report_deadline <= ?2), 0) \
                     FROM invoices WHERE status IN ('pending', 'submitted', 'retrying')",
                )?
                .query_row(params![to_millis(near), to_millis(now)], |row| {
                    Ok((
                        row.get::<_, Option<i64>>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, i64>(2)?,
                    ))
                })?;
            let certificate_expiries = certificate_ends(c, i64::MAX)?.into_iter().map(|(_, end)| end).collect();
            Ok(OperationsSnapshot {
                queued_jobs: u64::try_from(queued_jobs).unwrap_or_default(),
                oldest_unsettled: oldest.map(from_millis),
                near_deadline: u64::try_from(near_deadline).unwrap_or_default(),
                past_deadline: u64::try_from(past_deadline).unwrap_or_default(),
                certificate_expiries,
            })
        })
    }

    async fn certificates_ending_before(&self, before: DateTime<Utc>) -> StoreResult<Vec<(Uuid, DateTime<Utc>)>> {
        self.db.read(|c| certificate_ends(c, to_millis(before)))
    }

    async fn ping(&self) -> StoreResult<()> {
        self.db.read(|c| {
            c.query_row("SELECT 1", [], |_| Ok(()))?;
            Ok(())
        })
    }

    async fn close(&self) {
        // The writes already queued are committed before the thread ends.
        let batcher = lock(&self.db.batcher).take();
        if let Some(b) = batcher {
            drop(b.queue);
            if tokio::task::spawn_blocking(move || b.thread.join().is_err())
                .await
                .unwrap_or(true)
            {
                tracing::warn!("the writer thread ended abnormally");
            }
        }
        let checkpointer = lock(&self.db.checkpointer).take();
        if let Some(c) = checkpointer {
            c.stop.store(true, Ordering::Relaxed);
            c.thread.thread().unpark();
            if c.thread.join().is_err() {
                tracing::warn!("the checkpoint thread ended abnormally");
            }
        }
        // The last checkpoint, and the WAL file back to zero bytes.
        if let Err(err) = self
            .blocking(|db| db.write(|c| Ok(c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?)))
            .await
        {
            tracing::warn!(error = %err, "final WAL checkpoint failed");
        }
    }
}

/// The database holds seller details, e-mails and the audit log: create it owner-only (SQLite
/// gives its `-wal` and `-shm` files the main file's mode) and tighten files left looser by an
/// earlier version.
fn restrict_files(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            let file = std::path::PathBuf::from(file);
            if let Ok(meta) = std::fs::metadata(&file) {
                if meta.permissions().mode() & 0o077 != 0 {
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
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

/// Writes an archive row; idempotent.
fn archive(conn: &Connection, invoice_id: Uuid, kind: ArchiveKind, xml: &[u8]) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO invoice_archive (invoice_id, kind, xml, stored_at) VALUES (?, ?, ?, ?) \
         ON CONFLICT (invoice_id, kind) DO UPDATE SET xml = excluded.xml, stored_at = excluded.stored_at",
    )?
    .execute(params![
        invoice_id.to_string(),
        kind.as_str(),
        xml,
        to_millis(Utc::now())
    ])?;
    Ok(())
}

/// An invoice's JSON columns, encoded before the writer is taken.
struct InvoiceRow {
    line_items: String,
    messages: String,
    chain: Option<String>,
}

impl InvoiceRow {
    fn of(invoice: &Invoice) -> StoreResult<Self> {
        Ok(InvoiceRow {
            line_items: json_text(&invoice.line_items)?,
            messages: json_text(&invoice.messages)?,
            chain: invoice.chain.as_ref().map(json_text).transpose()?,
        })
    }
}

/// Units with a production certificate ending before `before` (epoch milliseconds), with its
/// end, soonest first: the certificate watch and the metrics read the same rows.
fn certificate_ends(conn: &Connection, before: i64) -> StoreResult<Vec<(Uuid, DateTime<Utc>)>> {
    all(
        &mut *conn.prepare_cached(
            "SELECT id, cert_expires_at FROM egs_units WHERE production_token IS NOT NULL \
             AND cert_expires_at < ? ORDER BY cert_expires_at",
        )?,
        [before],
        |row| Ok((row.uuid("id")?, row.time("cert_expires_at")?)),
    )
}

/// The device invoice a unit already has for the same document (the same invoice hash).
fn same_document(conn: &Connection, invoice: &Invoice) -> StoreResult<Option<Uuid>> {
    existing_id(
        conn,
        "SELECT id FROM invoices WHERE egs_unit_id = ? AND invoice_hash = ? AND device_signed = 1",
        params![invoice.egs_unit_id.to_string(), invoice.invoice_hash],
    )
}

/// A new invoice's rows: the invoice and its first timeline entry, its signed XML when the
/// archive is this database, its submission job.
fn record_invoice(
    conn: &Connection,
    invoice: &Invoice,
    row: &InvoiceRow,
    signed_xml: Option<&[u8]>,
    job: Option<&Job>,
) -> StoreResult<()> {
    insert_invoice(conn, invoice, row)?;
    if let Some(xml) = signed_xml {
        archive(conn, invoice.id, ArchiveKind::Signed, xml)?;
    }
    if let Some(job) = job {
        insert_job(conn, job, invoice.created_at)?;
    }
    Ok(())
}

/// Inserts an invoice row and its first timeline entry.
fn insert_invoice(conn: &Connection, invoice: &Invoice, row: &InvoiceRow) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO invoices (id, account_id, egs_unit_id, environment, uuid, invoice_number, invoice_type, \
         document_type, status, icv, invoice_hash, currency, subtotal, vat, total, invoice_date, invoice_time, \
         qr_code, original_invoice_id, has_buyer, device_signed, line_items, messages, report_deadline, \
         reported_at, cleared_at, idempotency_key, request_hash, created_at, updated_at, chain) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        invoice.id.to_string(),
        invoice.account_id.to_string(),
        invoice.egs_unit_id.to_string(),
        invoice.environment.as_str(),
        invoice.uuid,
        invoice.invoice_number,
        invoice.invoice_type.as_str(),
        invoice.document_type.as_str(),
        invoice.status.as_str(),
        invoice.icv,
        invoice.invoice_hash,
        invoice.currency,
        invoice.subtotal.to_string(),
        invoice.vat.to_string(),
        invoice.total.to_string(),
        invoice.invoice_date,
        invoice.invoice_time,
        invoice.qr_code,
        invoice.original_invoice_id.map(|u| u.to_string()),
        i64::from(invoice.has_buyer),
        i64::from(invoice.device_signed),
        row.line_items,
        row.messages,
        invoice.report_deadline.map(to_millis),
        invoice.reported_at.map(to_millis),
        invoice.cleared_at.map(to_millis),
        invoice.idempotency_key,
        invoice.request_hash,
        to_millis(invoice.created_at),
        to_millis(invoice.updated_at),
        row.chain,
    ])?;
    conn.prepare_cached("INSERT INTO invoice_events (invoice_id, status, at, messages) VALUES (?, ?, ?, NULL)")?
        .execute(params![
            invoice.id.to_string(),
            invoice.status.as_str(),
            to_millis(invoice.created_at)
        ])?;
    Ok(())
}

fn insert_key(conn: &Connection, key: &ApiKey) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO api_keys (id, account_id, name, environment, key_hash, masked, default_egs_unit_id, created_at, \
         last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        key.id.to_string(),
        key.account_id.to_string(),
        key.name,
        key.environment.as_str(),
        key.key_hash,
        key.masked,
        key.default_egs_unit_id.map(|u| u.to_string()),
        to_millis(key.created_at),
        key.last_used_at.map(to_millis),
        key.revoked_at.map(to_millis),
    ])?;
    Ok(())
}

#[async_trait]
impl Archive for SqliteStore {
    async fn put(&self, invoice_id: Uuid, kind: ArchiveKind, xml: &[u8]) -> anyhow::Result<()> {
        let xml = xml.to_vec();
        Ok(self
            .db
            .batched(move |c| {
                archive(c, invoice_id, kind, &xml)?;
                Ok(Done::Commit(()))
            })
            .await?)
    }

    fn in_store(&self) -> bool {
        true
    }

    async fn get(&self, invoice_id: Uuid, kind: ArchiveKind) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.db.read(|c| {
            Ok(
                c.prepare_cached("SELECT xml FROM invoice_archive WHERE invoice_id = ? AND kind = ?")?
                    .query_row(params![invoice_id.to_string(), kind.as_str()], |row| row.get(0))
                    .optional()?,
            )
        })?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes that share a batch: each one's error or early end undoes its own changes only, and
    /// every result arrives after the commit (a reader sees the rows then).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batched_write_that_fails_undoes_only_itself() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let url = DatabaseUrl::new(format!("sqlite://{}", dir.path().join("relay.db").display()));
        let store = SqliteStore::open(&url).await?;
        store
            .db
            .write(|c| Ok(c.execute_batch("CREATE TABLE t (n INTEGER NOT NULL UNIQUE)")?))?;
        let mut tasks = Vec::new();
        for n in 0..200_i64 {
            let db = store.db.clone();
            tasks.push(tokio::spawn(async move {
                db.batched(move |c| {
                    c.execute("INSERT INTO t (n) VALUES (?)", [n])?;
                    match n % 3 {
                        // A constraint error after the write: the savepoint rolls the insert back.
                        0 => {
                            c.execute("INSERT INTO t (n) VALUES (?)", [n])?;
                            Ok(Done::Commit(n))
                        }
                        1 => Ok(Done::Rollback(n)),
                        _ => Ok(Done::Commit(n)),
                    }
                })
                .await
            }));
        }
        let mut failed = 0;
        for task in tasks {
            if task.await?.is_err() {
                failed += 1;
            }
        }
        let kept: Vec<i64> = store.db.read(|c| {
            let mut stmt = c.prepare("SELECT n FROM t ORDER BY n")?;
            let rows = stmt.query_map([], |row| row.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })?;
        assert_eq!(failed, 67);
        assert_eq!(kept, (0..200).filter(|n| n % 3 == 2).collect::<Vec<_>>());
        store.close().await;
        assert!(store.db.batched(|_| Ok(Done::Commit(()))).await.is_err(), "closed");
        Ok(())
    }

    #[tokio::test]
    async fn migrations_apply_once_and_a_changed_one_is_refused() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let url = DatabaseUrl::new(format!("sqlite://{}", dir.path().join("relay.db").display()));
        let store = SqliteStore::open(&url).await?;
        store.close().await;
        drop(store);
        // Opening again applies nothing.
        let store = SqliteStore::open(&url).await?;
        let applied: i64 = store
            .db
            .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM _sqlx_migrations", [], |row| row.get(0))?))?;
        assert_eq!(applied, i64::try_from(MIGRATIONS.len())?);
        store.close().await;
        drop(store);
        // A database whose record of a migration disagrees with the migration's text.
        let conn = Connection::open(dir.path().join("relay.db"))?;
        conn.execute("UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 3", [])?;
        drop(conn);
        let err = SqliteStore::open(&url)
            .await
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(err.contains("migration 3 (invoices) was changed"), "{err}");
        Ok(())
    }
}
