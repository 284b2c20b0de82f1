//! [`WebhookStore`] on SQLite (tables of migration 0006).

use super::*;
use crate::domain::{EventType, PendingEvent, WebhookDelivery, WebhookEndpoint, WebhookEvent};
use crate::store::WebhookStore;

/// Inserts an event and its delivery jobs unless an event with its id exists: whether it did.
pub(super) fn insert_event(c: &Connection, pending: &PendingEvent, now: DateTime<Utc>) -> StoreResult<bool> {
    let event = &pending.event;
    let inserted = c
        .prepare_cached(
            "INSERT OR IGNORE INTO webhook_events (id, account_id, environment, egs_unit_id, type, body, \
             created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )?
        .execute(params![
            event.id.to_string(),
            event.account_id.to_string(),
            event.environment.as_str(),
            event.egs_unit_id.to_string(),
            event.event_type.as_str(),
            event.body,
            to_millis(event.created_at),
        ])?;
    if inserted == 0 {
        return Ok(false);
    }
    for job in &pending.jobs {
        insert_job(c, job, now)?;
    }
    Ok(true)
}

fn events_text(events: &[EventType]) -> StoreResult<String> {
    json_text(&events.iter().map(|e| e.as_str()).collect::<Vec<_>>())
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn insert_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()> {
        let events = events_text(&endpoint.events)?;
        self.db.write(|c| {
            c.prepare_cached(
                "INSERT INTO webhook_endpoints (id, account_id, environment, url, description, events, secret_enc, \
                 enabled, disabled_reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                endpoint.id.to_string(),
                endpoint.account_id.to_string(),
                endpoint.environment.as_str(),
                endpoint.url,
                endpoint.description,
                events,
                endpoint.secret_enc,
                i64::from(endpoint.enabled),
                endpoint.disabled_reason,
                to_millis(endpoint.created_at),
                to_millis(endpoint.updated_at),
            ])?;
            Ok(())
        })
    }

    async fn webhook_endpoints(&self, account_id: Uuid, environment: Environment) -> StoreResult<Vec<WebhookEndpoint>> {
        self.db.read(|c| {
            all(
                &mut *c.prepare_cached(
                    "SELECT * FROM webhook_endpoints WHERE account_id = ? AND environment = ? ORDER BY created_at, id",
                )?,
                params![account_id.to_string(), environment.as_str()],
                |row| decode::webhook_endpoint(row),
            )
        })
    }

    async fn webhook_endpoint(
        &self,
        account_id: Uuid,
        environment: Environment,
        id: Uuid,
    ) -> StoreResult<Option<WebhookEndpoint>> {
        self.db.read(|c| {
            first(
                &mut *c.prepare_cached(
                    "SELECT * FROM webhook_endpoints WHERE id = ? AND account_id = ? AND environment = ?",
                )?,
                params![id.to_string(), account_id.to_string(), environment.as_str()],
                |row| decode::webhook_endpoint(row),
            )
        })
    }

    async fn webhook_endpoint_by_id(&self, id: Uuid) -> StoreResult<Option<WebhookEndpoint>> {
        self.db.read(|c| {
            first(
                &mut *c.prepare_cached("SELECT * FROM webhook_endpoints WHERE id = ?")?,
                params![id.to_string()],
                |row| decode::webhook_endpoint(row),
            )
        })
    }

    async fn save_webhook_endpoint(&self, endpoint: &WebhookEndpoint, read_at: DateTime<Utc>) -> StoreResult<bool> {
        let events = events_text(&endpoint.events)?;
        self.db.write(|c| {
            let saved = c
                .prepare_cached(
                    "UPDATE webhook_endpoints SET url = ?, description = ?, events = ?, enabled = ?, \
                     disabled_reason = ?, updated_at = ? WHERE id = ? AND account_id = ? AND updated_at = ?",
                )?
                .execute(params![
                    endpoint.url,
                    endpoint.description,
                    events,
                    i64::from(endpoint.enabled),
                    endpoint.disabled_reason,
                    to_millis(endpoint.updated_at),
                    endpoint.id.to_string(),
                    endpoint.account_id.to_string(),
                    to_millis(read_at),
                ])?;
            Ok(saved == 1)
        })
    }

    async fn delete_webhook_endpoint(&self, account_id: Uuid, environment: Environment, id: Uuid) -> StoreResult<bool> {
        self.db.tx(|c| {
            let n = c
                .prepare_cached("DELETE FROM webhook_endpoints WHERE id = ? AND account_id = ? AND environment = ?")?
                .execute(params![id.to_string(), account_id.to_string(), environment.as_str()])?;
            if n == 0 {
                return Ok(Done::Rollback(false));
            }
            // Queued deliveries to it have nothing left to do.
            c.prepare_cached(
                "UPDATE jobs SET state = 'done', payload = '{}', lease_until = NULL WHERE kind = 'webhook' \
                 AND state = 'queued' AND json_extract(payload, '$.endpoint_id') = ?",
            )?
            .execute(params![id.to_string()])?;
            Ok(Done::Commit(true))
        })
    }

    async fn record_webhook_event(&self, pending: &PendingEvent, now: DateTime<Utc>) -> StoreResult<bool> {
        self.db.tx(|c| {
            Ok(if insert_event(c, pending, now)? {
                Done::Commit(true)
            } else {
                Done::Rollback(false)
            })
        })
    }

    async fn webhook_event(&self, id: Uuid) -> StoreResult<Option<WebhookEvent>> {
        self.db.read(|c| {
            first(
                &mut *c.prepare_cached("SELECT * FROM webhook_events WHERE id = ?")?,
                params![id.to_string()],
                |row| decode::webhook_event(row),
            )
        })
    }

    async fn insert_webhook_delivery(&self, d: &WebhookDelivery) -> StoreResult<()> {
        self.db.write(|c| {
            // The endpoint may have been deleted meanwhile: then there is no log to append to.
            c.prepare_cached(
                "INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, attempt, status, response_status, \
                 duration_ms, error, at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 \
                 WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ?1)",
            )?
            .execute(params![
                d.endpoint_id.to_string(),
                d.event_id.to_string(),
                d.event_type.as_str(),
                i64::from(d.attempt),
                d.status.as_str(),
                d.response_status.map(i64::from),
                i64::try_from(d.duration_ms).unwrap_or(i64::MAX),
                d.error,
                to_millis(d.at),
            ])?;
            Ok(())
        })
    }

    async fn webhook_deliveries(&self, endpoint_id: Uuid, limit: u32) -> StoreResult<Vec<WebhookDelivery>> {
        self.db.read(|c| {
            all(
                &mut *c.prepare_cached(
                    "SELECT * FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY id DESC LIMIT ?",
                )?,
                params![endpoint_id.to_string(), i64::from(limit)],
                |row| decode::webhook_delivery(row),
            )
        })
    }

    async fn invoices_due_between(
        &self,
        after: DateTime<Utc>,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Invoice>> {
        self.db.read(|c| {
            all(
                &mut *c.prepare_cached(
                    "SELECT * FROM invoices WHERE status IN ('pending', 'submitted', 'retrying') \
                     AND invoice_type = 'simplified' AND report_deadline > ? AND report_deadline <= ? \
                     ORDER BY report_deadline LIMIT ?",
                )?,
                params![to_millis(after), to_millis(before), i64::from(limit)],
                |row| decode::invoice(row),
            )
        })
    }
}
