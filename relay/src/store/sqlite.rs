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
        let writer = SqlitePoolOptions::new()
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
        .bind(to_millis(now))
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
        let mut tx = self.writer.begin().await?;
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE (state = 'queued' AND next_attempt_at <= ?) OR (state = 'running' AND lease_until < ?) \
             ORDER BY next_attempt_at, created_at LIMIT ?",
        )
        .bind(to_millis(now))
        .bind(to_millis(now))
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let mut jobs = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut job = job_from_row(row)?;
            job.attempts = job.attempts.saturating_add(1);
            sqlx::query(
                "UPDATE jobs SET state = 'running', attempts = ?, lease_until = ?, updated_at = ? WHERE id = ?",
            )
            .bind(i64::from(job.attempts))
            .bind(to_millis(lease_until))
            .bind(to_millis(now))
            .bind(job.id.to_string())
            .execute(&mut *tx)
            .await?;
            jobs.push(job);
        }
        tx.commit().await?;
        Ok(jobs)
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
