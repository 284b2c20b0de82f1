//! SQLite implementation of [`Store`]: a file in WAL mode, migrations applied at open, one writer
//! connection (SQLite allows one writer at a time; a single connection makes that explicit and
//! lets "count then insert" and "select then claim" run without races) and a small pool of
//! read-only connections.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use uuid::Uuid;

use super::*;
use crate::config::DatabaseUrl;
use crate::domain::{Account, ApiKey, AuditEntry, ComplianceDocument, EgsUnit, Environment, Job, JobKind, StoredCsid};

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

fn decode_err(what: &str, detail: impl fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(format!("{what}: {detail}").into())
}

fn uuid_col(row: &SqliteRow, col: &str) -> StoreResult<Uuid> {
    let text: String = row.try_get(col)?;
    Uuid::parse_str(&text).map_err(|e| decode_err(col, e))
}

fn opt_uuid_col(row: &SqliteRow, col: &str) -> StoreResult<Option<Uuid>> {
    let text: Option<String> = row.try_get(col)?;
    text.map(|t| Uuid::parse_str(&t).map_err(|e| decode_err(col, e)))
        .transpose()
}

fn time_col(row: &SqliteRow, col: &str) -> StoreResult<DateTime<Utc>> {
    Ok(from_millis(row.try_get::<i64, _>(col)?))
}

fn opt_time_col(row: &SqliteRow, col: &str) -> StoreResult<Option<DateTime<Utc>>> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(from_millis))
}

fn parse_col<T: FromStr<Err = String>>(row: &SqliteRow, col: &str) -> StoreResult<T> {
    let text: String = row.try_get(col)?;
    text.parse().map_err(|e: String| decode_err(col, e))
}

fn account_from_row(row: &SqliteRow, prefix: &str) -> StoreResult<Account> {
    Ok(Account {
        id: uuid_col(row, &format!("{prefix}id"))?,
        name: row.try_get(format!("{prefix}name").as_str())?,
        email: row.try_get(format!("{prefix}email").as_str())?,
        plan: row.try_get(format!("{prefix}plan").as_str())?,
        created_at: time_col(row, &format!("{prefix}created_at"))?,
    })
}

fn key_from_row(row: &SqliteRow) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: uuid_col(row, "id")?,
        account_id: uuid_col(row, "account_id")?,
        name: row.try_get("name")?,
        environment: parse_col(row, "environment")?,
        key_hash: row.try_get("key_hash")?,
        masked: row.try_get("masked")?,
        default_egs_unit_id: opt_uuid_col(row, "default_egs_unit_id")?,
        created_at: time_col(row, "created_at")?,
        last_used_at: opt_time_col(row, "last_used_at")?,
        revoked_at: opt_time_col(row, "revoked_at")?,
    })
}

fn csid_from_row(row: &SqliteRow, which: &str) -> StoreResult<Option<StoredCsid>> {
    let token: Option<String> = row.try_get(format!("{which}_token").as_str())?;
    let secret: Option<String> = row.try_get(format!("{which}_secret_enc").as_str())?;
    let request_id: Option<String> = row.try_get(format!("{which}_request_id").as_str())?;
    Ok(match (token, secret) {
        (Some(token), Some(secret_enc)) => Some(StoredCsid {
            token,
            secret_enc,
            request_id: request_id.unwrap_or_default(),
        }),
        _ => None,
    })
}

fn unit_from_row(row: &SqliteRow) -> StoreResult<EgsUnit> {
    let seller: String = row.try_get("seller")?;
    let errors: Option<String> = row.try_get("errors")?;
    let phase: i64 = row.try_get("phase")?;
    Ok(EgsUnit {
        id: uuid_col(row, "id")?,
        account_id: uuid_col(row, "account_id")?,
        unit_name: row.try_get("unit_name")?,
        environment: parse_col(row, "environment")?,
        phase: u8::try_from(phase).map_err(|e| decode_err("phase", e))?,
        invoice_type: parse_col(row, "invoice_type")?,
        custody: parse_col(row, "custody")?,
        serial_number: row.try_get("serial_number")?,
        egs_serial: row.try_get("egs_serial")?,
        seller: serde_json::from_str(&seller).map_err(|e| decode_err("seller", e))?,
        onboarding_status: parse_col(row, "onboarding_status")?,
        status_message: row.try_get("status_message")?,
        errors: match errors {
            Some(text) => serde_json::from_str(&text).map_err(|e| decode_err("errors", e))?,
            None => Vec::new(),
        },
        csr_pem: row.try_get("csr_pem")?,
        private_key_enc: row.try_get("private_key_enc")?,
        compliance: csid_from_row(row, "compliance")?,
        production: csid_from_row(row, "production")?,
        cert_issued_at: opt_time_col(row, "cert_issued_at")?,
        cert_expires_at: opt_time_col(row, "cert_expires_at")?,
        compliance_attempted_at: opt_time_col(row, "compliance_attempted_at")?,
        chain_note: row.try_get("chain_note")?,
        invoice_counter: row.try_get("invoice_counter")?,
        last_invoice_hash: row.try_get("last_invoice_hash")?,
        created_at: time_col(row, "created_at")?,
        updated_at: time_col(row, "updated_at")?,
    })
}

fn job_from_row(row: &SqliteRow) -> StoreResult<Job> {
    let kind: String = row.try_get("kind")?;
    let payload: String = row.try_get("payload")?;
    let payload: serde_json::Value = serde_json::from_str(&payload).map_err(|e| decode_err("payload", e))?;
    let attempts: i64 = row.try_get("attempts")?;
    Ok(Job {
        id: uuid_col(row, "id")?,
        egs_unit_id: uuid_col(row, "egs_unit_id")?,
        kind: serde_json::from_value(serde_json::json!({ "kind": kind, "payload": payload }))
            .map_err(|e| decode_err("kind", e))?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        not_before: None,
    })
}

fn audit_from_row(row: &SqliteRow) -> StoreResult<AuditEntry> {
    let headers: String = row.try_get("request_headers")?;
    let status: Option<i64> = row.try_get("response_status")?;
    let duration: i64 = row.try_get("duration_ms")?;
    Ok(AuditEntry {
        id: row.try_get("id")?,
        egs_unit_id: uuid_col(row, "egs_unit_id")?,
        at: time_col(row, "at")?,
        operation: row.try_get("operation")?,
        method: row.try_get("method")?,
        url: row.try_get("url")?,
        request_headers: serde_json::from_str(&headers).unwrap_or_default(),
        request_body: row.try_get("request_body")?,
        response_status: status.and_then(|s| u16::try_from(s).ok()),
        response_body: row.try_get("response_body")?,
        duration_ms: u64::try_from(duration).unwrap_or_default(),
        error: row.try_get("error")?,
    })
}

fn decimal_col(row: &SqliteRow, col: &str) -> StoreResult<rust_decimal::Decimal> {
    let text: String = row.try_get(col)?;
    text.parse().map_err(|e| decode_err(col, e))
}

fn invoice_from_row(row: &SqliteRow) -> StoreResult<Invoice> {
    let lines: String = row.try_get("line_items")?;
    let messages: String = row.try_get("messages")?;
    Ok(Invoice {
        id: uuid_col(row, "id")?,
        account_id: uuid_col(row, "account_id")?,
        egs_unit_id: uuid_col(row, "egs_unit_id")?,
        environment: parse_col(row, "environment")?,
        uuid: row.try_get("uuid")?,
        invoice_number: row.try_get("invoice_number")?,
        invoice_type: parse_col(row, "invoice_type")?,
        document_type: parse_col(row, "document_type")?,
        status: parse_col(row, "status")?,
        icv: row.try_get("icv")?,
        invoice_hash: row.try_get("invoice_hash")?,
        currency: row.try_get("currency")?,
        subtotal: decimal_col(row, "subtotal")?,
        vat: decimal_col(row, "vat")?,
        total: decimal_col(row, "total")?,
        invoice_date: row.try_get("invoice_date")?,
        invoice_time: row.try_get("invoice_time")?,
        qr_code: row.try_get("qr_code")?,
        original_invoice_id: opt_uuid_col(row, "original_invoice_id")?,
        has_buyer: row.try_get::<i64, _>("has_buyer")? != 0,
        device_signed: row.try_get::<i64, _>("device_signed")? != 0,
        line_items: serde_json::from_str(&lines).map_err(|e| decode_err("line_items", e))?,
        messages: serde_json::from_str(&messages).map_err(|e| decode_err("messages", e))?,
        report_deadline: opt_time_col(row, "report_deadline")?,
        reported_at: opt_time_col(row, "reported_at")?,
        cleared_at: opt_time_col(row, "cleared_at")?,
        idempotency_key: row.try_get("idempotency_key")?,
        request_hash: row.try_get("request_hash")?,
        created_at: time_col(row, "created_at")?,
        updated_at: time_col(row, "updated_at")?,
    })
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
    let value = serde_json::to_value(kind).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    json_text(&value.get("payload").cloned().unwrap_or_else(|| serde_json::json!({})))
}

fn json_text<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// The quota count: units in an environment, except those that failed before ZATCA issued any
/// CSID (a mistyped OTP should not use up the plan).
const COUNT_UNITS_SQL: &str = "SELECT COUNT(*) FROM egs_units WHERE account_id = ? AND environment = ? \
     AND NOT (onboarding_status = 'failed' AND compliance_token IS NULL AND production_token IS NULL)";

impl SqliteStore {
    /// Opens (creating if missing) the database and applies migrations.
    pub async fn open(url: &DatabaseUrl) -> anyhow::Result<Self> {
        if let Some(path) = url.sqlite_path() {
            restrict_files(&path)?;
        }
        let base = SqliteConnectOptions::from_str(url.expose())?
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let options = base
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let in_memory = url.sqlite_path().is_none();
        // No ping before each acquire: a local SQLite connection does not go stale, and the ping
        // is one more hand-off to the connection's worker thread per statement.
        let writer = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&writer).await?;
        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(4)
                .connect_with(base.read_only(true))
                .await?
        };
        Ok(SqliteStore { writer, reader })
    }

    async fn insert_job_tx(tx: &mut Transaction<'_, Sqlite>, job: &Job, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO jobs (id, kind, egs_unit_id, payload, state, attempts, next_attempt_at, created_at, updated_at) \
             VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?)",
        )
        .bind(job.id.to_string())
        .bind(job.kind.name())
        .bind(job.egs_unit_id.to_string())
        .bind(payload_text(&job.kind)?)
        .bind(to_millis(job.not_before.unwrap_or(now)))
        .bind(to_millis(now))
        .bind(to_millis(now))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_account(&self, account: &Account, key: &ApiKey) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("INSERT INTO accounts (id, name, email, plan, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(account.id.to_string())
            .bind(&account.name)
            .bind(&account.email)
            .bind(&account.plan)
            .bind(to_millis(account.created_at))
            .execute(&mut *tx)
            .await?;
        insert_key(&mut tx, key).await?;
        tx.commit().await
    }

    async fn account(&self, id: Uuid) -> StoreResult<Option<Account>> {
        sqlx::query("SELECT * FROM accounts WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?
            .map(|row| account_from_row(&row, ""))
            .transpose()
    }

    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        insert_key(&mut tx, key).await?;
        tx.commit().await
    }

    async fn active_api_key_by_hash(&self, hash: &[u8]) -> StoreResult<Option<(ApiKey, Account)>> {
        let row = sqlx::query(
            "SELECT k.*, a.id AS a_id, a.name AS a_name, a.email AS a_email, a.plan AS a_plan, a.created_at AS a_created_at \
             FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = ? AND k.revoked_at IS NULL",
        )
        .bind(hash)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|row| Ok((key_from_row(&row)?, account_from_row(&row, "a_")?)))
            .transpose()
    }

    async fn touch_api_key(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = ? WHERE id = ?")
            .bind(to_millis(at))
            .bind(id.to_string())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn list_api_keys(&self, account_id: Uuid) -> StoreResult<Vec<ApiKey>> {
        sqlx::query("SELECT * FROM api_keys WHERE account_id = ? ORDER BY created_at, id")
            .bind(account_id.to_string())
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(key_from_row)
            .collect()
    }

    async fn api_key(&self, account_id: Uuid, id: Uuid) -> StoreResult<Option<ApiKey>> {
        sqlx::query("SELECT * FROM api_keys WHERE account_id = ? AND id = ?")
            .bind(account_id.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?
            .map(|row| key_from_row(&row))
            .transpose()
    }

    async fn revoke_api_key(
        &self,
        account_id: Uuid,
        id: Uuid,
        by: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<RevokeOutcome> {
        // One statement: the count, the caller's own state and the update are one atomic step.
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = ?1 WHERE account_id = ?2 AND id = ?3 AND revoked_at IS NULL \
             AND (SELECT COUNT(*) FROM api_keys WHERE account_id = ?2 AND revoked_at IS NULL) > 1 \
             AND EXISTS (SELECT 1 FROM api_keys WHERE account_id = ?2 AND id = ?4 AND revoked_at IS NULL)",
        )
        .bind(to_millis(at))
        .bind(account_id.to_string())
        .bind(id.to_string())
        .bind(by.to_string())
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(RevokeOutcome::Revoked);
        }
        let revoked: Option<Option<i64>> =
            sqlx::query_scalar("SELECT revoked_at FROM api_keys WHERE account_id = ? AND id = ?")
                .bind(account_id.to_string())
                .bind(id.to_string())
                .fetch_optional(&self.writer)
                .await?;
        Ok(match revoked {
            None => RevokeOutcome::NotFound,
            Some(Some(_)) => RevokeOutcome::AlreadyRevoked,
            Some(None) => RevokeOutcome::LastActiveKey,
        })
    }

    async fn update_api_key(
        &self,
        account_id: Uuid,
        id: Uuid,
        name: Option<&str>,
        default_unit: Option<Uuid>,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE api_keys SET name = ?, default_egs_unit_id = ? WHERE account_id = ? AND id = ?")
            .bind(name)
            .bind(default_unit.map(|u| u.to_string()))
            .bind(account_id.to_string())
            .bind(id.to_string())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn insert_unit_within_quota(
        &self,
        unit: &EgsUnit,
        limit: u32,
        job: Option<&Job>,
    ) -> StoreResult<QuotaOutcome> {
        let mut tx = self.writer.begin().await?;
        let used: i64 = sqlx::query_scalar(COUNT_UNITS_SQL)
            .bind(unit.account_id.to_string())
            .bind(unit.environment.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let used = u32::try_from(used).unwrap_or(u32::MAX);
        if used >= limit {
            return Ok(QuotaOutcome::Exceeded { used });
        }
        sqlx::query(
            "INSERT INTO egs_units (id, account_id, unit_name, environment, phase, invoice_type, custody, serial_number, \
             egs_serial, seller, onboarding_status, status_message, errors, csr_pem, private_key_enc, \
             cert_issued_at, cert_expires_at, invoice_counter, last_invoice_hash, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(unit.id.to_string())
        .bind(unit.account_id.to_string())
        .bind(&unit.unit_name)
        .bind(unit.environment.as_str())
        .bind(i64::from(unit.phase))
        .bind(unit.invoice_type.as_str())
        .bind(unit.custody.as_str())
        .bind(&unit.serial_number)
        .bind(&unit.egs_serial)
        .bind(json_text(&unit.seller)?)
        .bind(unit.onboarding_status.as_str())
        .bind(&unit.status_message)
        .bind(if unit.errors.is_empty() { None } else { Some(json_text(&unit.errors)?) })
        .bind(&unit.csr_pem)
        .bind(&unit.private_key_enc)
        .bind(unit.cert_issued_at.map(to_millis))
        .bind(unit.cert_expires_at.map(to_millis))
        .bind(unit.invoice_counter)
        .bind(&unit.last_invoice_hash)
        .bind(to_millis(unit.created_at))
        .bind(to_millis(unit.updated_at))
        .execute(&mut *tx)
        .await?;
        if let Some(job) = job {
            Self::insert_job_tx(&mut tx, job, unit.created_at).await?;
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
        let mut tx = self.writer.begin().await?;
        let used: i64 = sqlx::query_scalar(&format!("{COUNT_UNITS_SQL} AND id != ?"))
            .bind(unit.account_id.to_string())
            .bind(unit.environment.as_str())
            .bind(unit.id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        let used = u32::try_from(used).unwrap_or(u32::MAX);
        if used >= limit {
            return Ok(QuotaOutcome::Exceeded { used });
        }
        let done = sqlx::query(
            "UPDATE egs_units SET onboarding_status = ?, status_message = ?, errors = NULL, updated_at = ? \
             WHERE id = ? AND onboarding_status = 'failed'",
        )
        .bind(unit.onboarding_status.as_str())
        .bind(&unit.status_message)
        .bind(to_millis(unit.updated_at))
        .bind(unit.id.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(QuotaOutcome::Exceeded { used: u32::MAX });
        }
        if let Some(job) = job {
            Self::insert_job_tx(&mut tx, job, unit.updated_at).await?;
        }
        tx.commit().await?;
        Ok(QuotaOutcome::Inserted)
    }

    async fn count_units(&self, account_id: Uuid, environment: Environment) -> StoreResult<u32> {
        let used: i64 = sqlx::query_scalar(COUNT_UNITS_SQL)
            .bind(account_id.to_string())
            .bind(environment.as_str())
            .fetch_one(&self.reader)
            .await?;
        Ok(u32::try_from(used).unwrap_or(u32::MAX))
    }

    async fn unit(&self, account_id: Uuid, id: Uuid) -> StoreResult<Option<EgsUnit>> {
        sqlx::query("SELECT * FROM egs_units WHERE account_id = ? AND id = ?")
            .bind(account_id.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?
            .map(|row| unit_from_row(&row))
            .transpose()
    }

    async fn unit_by_id(&self, id: Uuid) -> StoreResult<Option<EgsUnit>> {
        sqlx::query("SELECT * FROM egs_units WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?
            .map(|row| unit_from_row(&row))
            .transpose()
    }

    async fn list_units(&self, account_id: Uuid) -> StoreResult<Vec<EgsUnit>> {
        sqlx::query("SELECT * FROM egs_units WHERE account_id = ? ORDER BY created_at, id")
            .bind(account_id.to_string())
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(unit_from_row)
            .collect()
    }

    async fn save_unit_onboarding(&self, unit: &EgsUnit) -> StoreResult<()> {
        let (c_token, c_secret, c_req) = csid_cols(unit.compliance.as_ref());
        let (p_token, p_secret, p_req) = csid_cols(unit.production.as_ref());
        sqlx::query(
            "UPDATE egs_units SET onboarding_status = ?, status_message = ?, errors = ?, csr_pem = ?, private_key_enc = ?, \
             compliance_token = ?, compliance_secret_enc = ?, compliance_request_id = ?, \
             production_token = ?, production_secret_enc = ?, production_request_id = ?, \
             cert_issued_at = ?, cert_expires_at = ?, compliance_attempted_at = ?, updated_at = ? WHERE id = ?",
        )
        .bind(unit.onboarding_status.as_str())
        .bind(&unit.status_message)
        .bind(if unit.errors.is_empty() { None } else { Some(json_text(&unit.errors)?) })
        .bind(&unit.csr_pem)
        .bind(&unit.private_key_enc)
        .bind(c_token)
        .bind(c_secret)
        .bind(c_req)
        .bind(p_token)
        .bind(p_secret)
        .bind(p_req)
        .bind(unit.cert_issued_at.map(to_millis))
        .bind(unit.cert_expires_at.map(to_millis))
        .bind(unit.compliance_attempted_at.map(to_millis))
        .bind(to_millis(unit.updated_at))
        .bind(unit.id.to_string())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn record_compliance_document(&self, unit_id: Uuid, doc: &ComplianceDocument) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO compliance_documents (egs_unit_id, kind, icv, uuid, invoice_hash, messages, accepted_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (egs_unit_id, kind) DO UPDATE SET icv = excluded.icv, \
             uuid = excluded.uuid, invoice_hash = excluded.invoice_hash, messages = excluded.messages, \
             accepted_at = excluded.accepted_at",
        )
        .bind(unit_id.to_string())
        .bind(doc.kind.as_str())
        .bind(doc.icv)
        .bind(&doc.uuid)
        .bind(&doc.invoice_hash)
        .bind(json_text(&doc.messages)?)
        .bind(to_millis(doc.accepted_at))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn compliance_documents(&self, unit_id: Uuid) -> StoreResult<Vec<ComplianceDocument>> {
        let rows = sqlx::query("SELECT * FROM compliance_documents WHERE egs_unit_id = ? ORDER BY icv")
            .bind(unit_id.to_string())
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|row| {
                let messages: String = row.try_get("messages")?;
                Ok(ComplianceDocument {
                    kind: parse_col(row, "kind")?,
                    icv: row.try_get("icv")?,
                    uuid: row.try_get("uuid")?,
                    invoice_hash: row.try_get("invoice_hash")?,
                    messages: serde_json::from_str(&messages).unwrap_or_default(),
                    accepted_at: time_col(row, "accepted_at")?,
                })
            })
            .collect()
    }

    async fn enqueue_job(&self, job: &Job, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        Self::insert_job_tx(&mut tx, job, now).await?;
        tx.commit().await
    }

    async fn claim_due_jobs(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        // One statement claims them all (one round trip to the writer, atomic).
        let rows = sqlx::query(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = ?1, updated_at = ?2 \
             WHERE id IN (SELECT id FROM jobs WHERE (state = 'queued' AND next_attempt_at <= ?2) \
             OR (state = 'running' AND lease_until < ?2) ORDER BY next_attempt_at, created_at LIMIT ?3) RETURNING *",
        )
        .bind(to_millis(lease_until))
        .bind(to_millis(now))
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    async fn finish_job(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE jobs SET state = 'done', payload = '{}', lease_until = NULL, updated_at = ? WHERE id = ?")
            .bind(to_millis(now))
            .bind(id.to_string())
            .execute(&self.writer)
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
        sqlx::query(
            "UPDATE jobs SET state = 'queued', next_attempt_at = ?, lease_until = NULL, last_error = ?, updated_at = ? WHERE id = ?",
        )
        .bind(to_millis(next_attempt_at))
        .bind(error)
        .bind(to_millis(now))
        .bind(id.to_string())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn fail_job(&self, id: Uuid, error: &str, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE jobs SET state = 'failed', payload = '{}', lease_until = NULL, last_error = ?, updated_at = ? WHERE id = ?",
        )
        .bind(error)
        .bind(to_millis(now))
        .bind(id.to_string())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn update_job(&self, id: Uuid, kind: &JobKind, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE jobs SET payload = ?, updated_at = ? WHERE id = ?")
            .bind(payload_text(kind)?)
            .bind(to_millis(now))
            .bind(id.to_string())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn release_running_jobs(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("UPDATE jobs SET state = 'queued', lease_until = NULL, next_attempt_at = ?, updated_at = ? WHERE state = 'running'")
            .bind(to_millis(now))
            .bind(to_millis(now))
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn open_jobs_for_unit(&self, unit_id: Uuid) -> StoreResult<u32> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE egs_unit_id = ? AND state IN ('queued', 'running')")
                .bind(unit_id.to_string())
                .fetch_one(&self.reader)
                .await?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    async fn insert_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO zatca_audit (egs_unit_id, at, operation, method, url, request_headers, request_body, \
             response_status, response_body, duration_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(entry.egs_unit_id.to_string())
        .bind(to_millis(entry.at))
        .bind(&entry.operation)
        .bind(&entry.method)
        .bind(&entry.url)
        .bind(json_text(&entry.request_headers)?)
        .bind(&entry.request_body)
        .bind(entry.response_status.map(i64::from))
        .bind(&entry.response_body)
        .bind(i64::try_from(entry.duration_ms).unwrap_or(i64::MAX))
        .bind(&entry.error)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn audit_log(&self, unit_id: Uuid, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        sqlx::query("SELECT * FROM zatca_audit WHERE egs_unit_id = ? ORDER BY id DESC LIMIT ?")
            .bind(unit_id.to_string())
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(audit_from_row)
            .collect()
    }

    async fn prune_audit(&self, before: Option<DateTime<Utc>>, keep_per_unit: Option<u32>) -> StoreResult<u64> {
        let mut deleted = 0;
        if let Some(before) = before {
            deleted += sqlx::query("DELETE FROM zatca_audit WHERE at < ?")
                .bind(to_millis(before))
                .execute(&self.writer)
                .await?
                .rows_affected();
        }
        if let Some(keep) = keep_per_unit {
            deleted += sqlx::query(
                "DELETE FROM zatca_audit WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER \
                 (PARTITION BY egs_unit_id ORDER BY id DESC) AS n FROM zatca_audit) WHERE n > ?)",
            )
            .bind(i64::from(keep))
            .execute(&self.writer)
            .await?
            .rows_affected();
        }
        Ok(deleted)
    }

    async fn set_compliance_attempt(&self, unit_id: Uuid, at: Option<DateTime<Utc>>) -> StoreResult<()> {
        sqlx::query("UPDATE egs_units SET compliance_attempted_at = ?, updated_at = ? WHERE id = ?")
            .bind(at.map(to_millis))
            .bind(to_millis(Utc::now()))
            .bind(unit_id.to_string())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn issue_invoice(
        &self,
        invoice: &Invoice,
        job: Option<&Job>,
        signed_xml: Option<&[u8]>,
    ) -> StoreResult<IssueOutcome> {
        let mut tx = self.writer.begin().await?;
        if let Some(key) = &invoice.idempotency_key {
            let existing: Option<String> =
                sqlx::query_scalar("SELECT id FROM invoices WHERE account_id = ? AND idempotency_key = ?")
                    .bind(invoice.account_id.to_string())
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(id) = existing {
                return Ok(IssueOutcome::Exists(
                    Uuid::parse_str(&id).map_err(|e| decode_err("id", e))?,
                ));
            }
        }
        let existing: Option<String> =
            sqlx::query_scalar("SELECT id FROM invoices WHERE egs_unit_id = ? AND invoice_hash = ?")
                .bind(invoice.egs_unit_id.to_string())
                .bind(&invoice.invoice_hash)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(id) = existing {
            return Ok(IssueOutcome::Exists(
                Uuid::parse_str(&id).map_err(|e| decode_err("id", e))?,
            ));
        }
        let advanced = sqlx::query(
            "UPDATE egs_units SET invoice_counter = ?, last_invoice_hash = ?, updated_at = ? \
             WHERE id = ? AND invoice_counter = ?",
        )
        .bind(invoice.icv)
        .bind(&invoice.invoice_hash)
        .bind(to_millis(invoice.created_at))
        .bind(invoice.egs_unit_id.to_string())
        .bind(invoice.icv - 1)
        .execute(&mut *tx)
        .await?;
        if advanced.rows_affected() != 1 {
            return Ok(IssueOutcome::ChainMoved);
        }
        insert_invoice_tx(&mut tx, invoice).await?;
        if let Some(xml) = signed_xml {
            archive_tx(&mut tx, invoice.id, ArchiveKind::Signed, xml).await?;
        }
        if let Some(job) = job {
            Self::insert_job_tx(&mut tx, job, invoice.created_at).await?;
        }
        tx.commit().await?;
        Ok(IssueOutcome::Issued)
    }

    async fn record_device_invoice(
        &self,
        invoice: &Invoice,
        job: Option<&Job>,
        chain_note: Option<&str>,
        signed_xml: Option<&[u8]>,
    ) -> StoreResult<IssueOutcome> {
        let mut tx = self.writer.begin().await?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT id FROM invoices WHERE egs_unit_id = ? AND invoice_hash = ?")
                .bind(invoice.egs_unit_id.to_string())
                .bind(&invoice.invoice_hash)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(id) = existing {
            return Ok(IssueOutcome::Exists(
                Uuid::parse_str(&id).map_err(|e| decode_err("id", e))?,
            ));
        }
        let taken: Option<String> = sqlx::query_scalar("SELECT id FROM invoices WHERE egs_unit_id = ? AND icv = ?")
            .bind(invoice.egs_unit_id.to_string())
            .bind(invoice.icv)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Ok(IssueOutcome::ChainMoved);
        }
        sqlx::query(
            "UPDATE egs_units SET invoice_counter = MAX(invoice_counter, ?1), \
             last_invoice_hash = CASE WHEN ?1 > invoice_counter THEN ?2 ELSE last_invoice_hash END, \
             chain_note = COALESCE(?3, chain_note), updated_at = ?4 WHERE id = ?5",
        )
        .bind(invoice.icv)
        .bind(&invoice.invoice_hash)
        .bind(chain_note)
        .bind(to_millis(invoice.created_at))
        .bind(invoice.egs_unit_id.to_string())
        .execute(&mut *tx)
        .await?;
        insert_invoice_tx(&mut tx, invoice).await?;
        if let Some(xml) = signed_xml {
            archive_tx(&mut tx, invoice.id, ArchiveKind::Signed, xml).await?;
        }
        if let Some(job) = job {
            Self::insert_job_tx(&mut tx, job, invoice.created_at).await?;
        }
        tx.commit().await?;
        Ok(IssueOutcome::Issued)
    }

    async fn invoice(&self, account_id: Uuid, id: Uuid) -> StoreResult<Option<Invoice>> {
        sqlx::query("SELECT * FROM invoices WHERE account_id = ? AND id = ?")
            .bind(account_id.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?
            .map(|row| invoice_from_row(&row))
            .transpose()
    }

    async fn invoice_by_id(&self, id: Uuid) -> StoreResult<Option<Invoice>> {
        sqlx::query("SELECT * FROM invoices WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?
            .map(|row| invoice_from_row(&row))
            .transpose()
    }

    async fn invoice_by_idempotency_key(&self, account_id: Uuid, key: &str) -> StoreResult<Option<Invoice>> {
        sqlx::query("SELECT * FROM invoices WHERE account_id = ? AND idempotency_key = ?")
            .bind(account_id.to_string())
            .bind(key)
            .fetch_optional(&self.reader)
            .await?
            .map(|row| invoice_from_row(&row))
            .transpose()
    }

    async fn save_invoice_qr(&self, id: Uuid, qr: Option<&str>) -> StoreResult<()> {
        sqlx::query("UPDATE invoices SET qr_code = ? WHERE id = ?")
            .bind(qr)
            .bind(id.to_string())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn invoice_by_uuid(&self, account_id: Uuid, uuid: &str) -> StoreResult<Option<Invoice>> {
        sqlx::query("SELECT * FROM invoices WHERE account_id = ? AND uuid = ? ORDER BY seq DESC LIMIT 1")
            .bind(account_id.to_string())
            .bind(uuid)
            .fetch_optional(&self.reader)
            .await?
            .map(|row| invoice_from_row(&row))
            .transpose()
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
        let base = format!("FROM invoices WHERE account_id = ? AND environment = ?{clauses}");
        let count_sql = format!("SELECT COUNT(*) {base}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql)
            .bind(account_id.to_string())
            .bind(environment.as_str());
        for arg in &args {
            count = count.bind(arg.clone());
        }
        let total = count.fetch_one(&self.reader).await?;
        let page_sql = format!(
            "SELECT * {base}{} ORDER BY seq DESC LIMIT ?",
            if after.is_some() { " AND seq < ?" } else { "" }
        );
        let mut page = sqlx::query(&page_sql)
            .bind(account_id.to_string())
            .bind(environment.as_str());
        for arg in &args {
            page = page.bind(arg.clone());
        }
        if let Some(after) = after {
            page = page.bind(after);
        }
        let rows = page.bind(i64::from(limit) + 1).fetch_all(&self.reader).await?;
        let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        let rows = &rows[..rows.len().min(usize::try_from(limit).unwrap_or(usize::MAX))];
        let next = if more {
            rows.last().map(|row| row.try_get::<i64, _>("seq")).transpose()?
        } else {
            None
        };
        Ok(InvoicePage {
            invoices: rows.iter().map(invoice_from_row).collect::<StoreResult<_>>()?,
            next,
            total_count: u64::try_from(total).unwrap_or_default(),
        })
    }

    async fn save_invoice_status(&self, invoice: &Invoice, entries: &[TimelineEntry]) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE invoices SET status = ?, messages = ?, reported_at = ?, cleared_at = ?, updated_at = ? WHERE id = ?",
        )
        .bind(invoice.status.as_str())
        .bind(json_text(&invoice.messages)?)
        .bind(invoice.reported_at.map(to_millis))
        .bind(invoice.cleared_at.map(to_millis))
        .bind(to_millis(invoice.updated_at))
        .bind(invoice.id.to_string())
        .execute(&mut *tx)
        .await?;
        for entry in entries {
            sqlx::query("INSERT INTO invoice_events (invoice_id, status, at, messages) VALUES (?, ?, ?, ?)")
                .bind(invoice.id.to_string())
                .bind(entry.status.as_str())
                .bind(to_millis(entry.at))
                .bind(if entry.messages.is_empty() {
                    None
                } else {
                    Some(json_text(&entry.messages)?)
                })
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    async fn invoice_timeline(&self, invoice_id: Uuid) -> StoreResult<Vec<TimelineEntry>> {
        let rows = sqlx::query("SELECT * FROM invoice_events WHERE invoice_id = ? ORDER BY id")
            .bind(invoice_id.to_string())
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|row| {
                let messages: Option<String> = row.try_get("messages")?;
                Ok(TimelineEntry {
                    status: parse_col(row, "status")?,
                    at: time_col(row, "at")?,
                    messages: match messages {
                        Some(text) => serde_json::from_str(&text).map_err(|e| decode_err("messages", e))?,
                        None => Vec::new(),
                    },
                })
            })
            .collect()
    }

    async fn notes_total(&self, original_id: Uuid, document_type: &str) -> StoreResult<rust_decimal::Decimal> {
        let totals: Vec<String> = sqlx::query_scalar(
            "SELECT total FROM invoices WHERE original_invoice_id = ? AND document_type = ? AND status != 'rejected'",
        )
        .bind(original_id.to_string())
        .bind(document_type)
        .fetch_all(&self.reader)
        .await?;
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
        let row = sqlx::query(
            "SELECT COUNT(*) AS open, \
             COALESCE(SUM(report_deadline <= ?1), 0) AS near, COALESCE(SUM(report_deadline <= ?2), 0) AS late \
             FROM invoices WHERE egs_unit_id = ?3 AND invoice_type = 'simplified' \
             AND status IN ('pending', 'submitted', 'retrying')",
        )
        .bind(to_millis(near))
        .bind(to_millis(now))
        .bind(unit_id.to_string())
        .fetch_one(&self.reader)
        .await?;
        let count =
            |col: &str| -> StoreResult<u64> { Ok(u64::try_from(row.try_get::<i64, _>(col)?).unwrap_or_default()) };
        Ok((count("open")?, count("near")?, count("late")?))
    }

    async fn open_submissions(&self, unit_id: Uuid) -> StoreResult<u32> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE egs_unit_id = ? AND kind = 'submit' AND state IN ('queued', 'running')",
        )
        .bind(unit_id.to_string())
        .fetch_one(&self.reader)
        .await?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// The database holds seller details, e-mails and the audit log: create it owner-only (SQLite
/// gives its `-wal` and `-shm` files the main file's mode) and tighten files left looser by an
/// earlier version.
fn restrict_files(path: &std::path::Path) -> anyhow::Result<()> {
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
const ARCHIVE_SQL: &str = "INSERT INTO invoice_archive (invoice_id, kind, xml, stored_at) VALUES (?, ?, ?, ?) \
     ON CONFLICT (invoice_id, kind) DO UPDATE SET xml = excluded.xml, stored_at = excluded.stored_at";

/// Writes an archive row within a transaction.
async fn archive_tx(
    tx: &mut Transaction<'_, Sqlite>,
    invoice_id: Uuid,
    kind: ArchiveKind,
    xml: &[u8],
) -> StoreResult<()> {
    sqlx::query(ARCHIVE_SQL)
        .bind(invoice_id.to_string())
        .bind(kind.as_str())
        .bind(xml)
        .bind(to_millis(Utc::now()))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Inserts an invoice row and its first timeline entry.
async fn insert_invoice_tx(tx: &mut Transaction<'_, Sqlite>, invoice: &Invoice) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO invoices (id, account_id, egs_unit_id, environment, uuid, invoice_number, invoice_type, \
             document_type, status, icv, invoice_hash, currency, subtotal, vat, total, invoice_date, invoice_time, \
             qr_code, original_invoice_id, has_buyer, device_signed, line_items, messages, report_deadline, \
             reported_at, cleared_at, idempotency_key, request_hash, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(invoice.id.to_string())
    .bind(invoice.account_id.to_string())
    .bind(invoice.egs_unit_id.to_string())
    .bind(invoice.environment.as_str())
    .bind(&invoice.uuid)
    .bind(&invoice.invoice_number)
    .bind(invoice.invoice_type.as_str())
    .bind(invoice.document_type.as_str())
    .bind(invoice.status.as_str())
    .bind(invoice.icv)
    .bind(&invoice.invoice_hash)
    .bind(&invoice.currency)
    .bind(invoice.subtotal.to_string())
    .bind(invoice.vat.to_string())
    .bind(invoice.total.to_string())
    .bind(&invoice.invoice_date)
    .bind(&invoice.invoice_time)
    .bind(&invoice.qr_code)
    .bind(invoice.original_invoice_id.map(|u| u.to_string()))
    .bind(i64::from(invoice.has_buyer))
    .bind(i64::from(invoice.device_signed))
    .bind(json_text(&invoice.line_items)?)
    .bind(json_text(&invoice.messages)?)
    .bind(invoice.report_deadline.map(to_millis))
    .bind(invoice.reported_at.map(to_millis))
    .bind(invoice.cleared_at.map(to_millis))
    .bind(&invoice.idempotency_key)
    .bind(&invoice.request_hash)
    .bind(to_millis(invoice.created_at))
    .bind(to_millis(invoice.updated_at))
    .execute(&mut **tx)
    .await?;
    sqlx::query("INSERT INTO invoice_events (invoice_id, status, at, messages) VALUES (?, ?, ?, NULL)")
        .bind(invoice.id.to_string())
        .bind(invoice.status.as_str())
        .bind(to_millis(invoice.created_at))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_key(tx: &mut Transaction<'_, Sqlite>, key: &ApiKey) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_keys (id, account_id, name, environment, key_hash, masked, default_egs_unit_id, created_at, \
         last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(key.id.to_string())
    .bind(key.account_id.to_string())
    .bind(&key.name)
    .bind(key.environment.as_str())
    .bind(&key.key_hash)
    .bind(&key.masked)
    .bind(key.default_egs_unit_id.map(|u| u.to_string()))
    .bind(to_millis(key.created_at))
    .bind(key.last_used_at.map(to_millis))
    .bind(key.revoked_at.map(to_millis))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl Archive for SqliteStore {
    async fn put(&self, invoice_id: Uuid, kind: ArchiveKind, xml: &[u8]) -> anyhow::Result<()> {
        sqlx::query(ARCHIVE_SQL)
            .bind(invoice_id.to_string())
            .bind(kind.as_str())
            .bind(xml)
            .bind(to_millis(Utc::now()))
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    fn in_store(&self) -> bool {
        true
    }

    async fn get(&self, invoice_id: Uuid, kind: ArchiveKind) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT xml FROM invoice_archive WHERE invoice_id = ? AND kind = ?")
                .bind(invoice_id.to_string())
                .bind(kind.as_str())
                .fetch_optional(&self.reader)
                .await?,
        )
    }
}
