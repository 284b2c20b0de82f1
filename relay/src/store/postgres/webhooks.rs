//! [`WebhookStore`] on PostgreSQL.

use super::*;
use crate::domain::{EventType, PendingEvent, WebhookDelivery, WebhookEndpoint, WebhookEvent};
use crate::store::WebhookStore;

/// Inserts an event and its delivery jobs unless an event with its id exists: whether it did.
pub(super) async fn insert_event<C: GenericClient>(
    c: &C,
    pending: &PendingEvent,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let event = &pending.event;
    let inserted = exec(
        c,
        "INSERT INTO webhook_events (id, account_id, environment, egs_unit_id, type, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        &[
            &event.id,
            &event.account_id,
            &event.environment.as_str(),
            &event.egs_unit_id,
            &event.event_type.as_str(),
            &event.body,
            &to_millis(event.created_at),
        ],
    )
    .await?;
    if inserted == 0 {
        return Ok(false);
    }
    for job in &pending.jobs {
        insert_job(c, job, now).await?;
    }
    Ok(true)
}

fn events_text(events: &[EventType]) -> StoreResult<String> {
    json_text(&events.iter().map(|e| e.as_str()).collect::<Vec<_>>())
}

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn insert_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()> {
        let events = events_text(&endpoint.events)?;
        let c = self.client().await?;
        exec(
            &c,
            "INSERT INTO webhook_endpoints (id, account_id, environment, url, description, events, secret_enc, \
             enabled, disabled_reason, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                &endpoint.id,
                &endpoint.account_id,
                &endpoint.environment.as_str(),
                &endpoint.url,
                &endpoint.description,
                &events,
                &endpoint.secret_enc,
                &endpoint.enabled,
                &endpoint.disabled_reason,
                &to_millis(endpoint.created_at),
                &to_millis(endpoint.updated_at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn webhook_endpoints(&self, account_id: Uuid, environment: Environment) -> StoreResult<Vec<WebhookEndpoint>> {
        self.all(
            "SELECT * FROM webhook_endpoints WHERE account_id = $1 AND environment = $2 ORDER BY created_at, id",
            &[&account_id, &environment.as_str()],
            decode::webhook_endpoint,
        )
        .await
    }

    async fn webhook_endpoint(
        &self,
        account_id: Uuid,
        environment: Environment,
        id: Uuid,
    ) -> StoreResult<Option<WebhookEndpoint>> {
        self.first(
            "SELECT * FROM webhook_endpoints WHERE id = $1 AND account_id = $2 AND environment = $3",
            &[&id, &account_id, &environment.as_str()],
            decode::webhook_endpoint,
        )
        .await
    }

    async fn webhook_endpoint_by_id(&self, id: Uuid) -> StoreResult<Option<WebhookEndpoint>> {
        self.first(
            "SELECT * FROM webhook_endpoints WHERE id = $1",
            &[&id],
            decode::webhook_endpoint,
        )
        .await
    }

    async fn save_webhook_endpoint(&self, endpoint: &WebhookEndpoint, read_at: DateTime<Utc>) -> StoreResult<bool> {
        let events = events_text(&endpoint.events)?;
        let c = self.client().await?;
        let saved = exec(
            &c,
            "UPDATE webhook_endpoints SET url = $1, description = $2, events = $3, enabled = $4, \
             disabled_reason = $5, updated_at = $6 WHERE id = $7 AND account_id = $8 AND updated_at = $9",
            &[
                &endpoint.url,
                &endpoint.description,
                &events,
                &endpoint.enabled,
                &endpoint.disabled_reason,
                &to_millis(endpoint.updated_at),
                &endpoint.id,
                &endpoint.account_id,
                &to_millis(read_at),
            ],
        )
        .await?;
        Ok(saved == 1)
    }

    async fn delete_webhook_endpoint(&self, account_id: Uuid, environment: Environment, id: Uuid) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let n = exec(
            &tx,
            "DELETE FROM webhook_endpoints WHERE id = $1 AND account_id = $2 AND environment = $3",
            &[&id, &account_id, &environment.as_str()],
        )
        .await?;
        if n == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        // Queued deliveries to it have nothing left to do.
        exec(
            &tx,
            "UPDATE jobs SET state = 'done', payload = '{}', lease_until = NULL WHERE kind = 'webhook' \
             AND state = 'queued' AND (payload::jsonb ->> 'endpoint_id') = $1",
            &[&id.to_string()],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn record_webhook_event(&self, pending: &PendingEvent, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if !insert_event(&tx, pending, now).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn webhook_event(&self, id: Uuid) -> StoreResult<Option<WebhookEvent>> {
        self.first(
            "SELECT * FROM webhook_events WHERE id = $1",
            &[&id],
            decode::webhook_event,
        )
        .await
    }

    async fn insert_webhook_delivery(&self, d: &WebhookDelivery) -> StoreResult<()> {
        let c = self.client().await?;
        // The endpoint may have been deleted meanwhile: then there is no log to append to.
        exec(
            &c,
            "INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, attempt, status, response_status, \
             duration_ms, error, at) SELECT $1::uuid, $2::uuid, $3::text, $4::integer, $5::text, $6::integer, \
             $7::bigint, $8::text, $9::bigint WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $1::uuid)",
            &[
                &d.endpoint_id,
                &d.event_id,
                &d.event_type.as_str(),
                &i32::try_from(d.attempt).unwrap_or(i32::MAX),
                &d.status.as_str(),
                &d.response_status.map(i32::from),
                &i64::try_from(d.duration_ms).unwrap_or(i64::MAX),
                &d.error,
                &to_millis(d.at),
            ],
        )
        .await?;
        Ok(())
    }

    async fn webhook_deliveries(&self, endpoint_id: Uuid, limit: u32) -> StoreResult<Vec<WebhookDelivery>> {
        self.all(
            "SELECT * FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY id DESC LIMIT $2",
            &[&endpoint_id, &i64::from(limit)],
            decode::webhook_delivery,
        )
        .await
    }

    async fn invoices_due_between(
        &self,
        after: DateTime<Utc>,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Invoice>> {
        let c = self.client().await?;
        rows(
            &c,
            "SELECT * FROM invoices WHERE status IN ('pending', 'submitted', 'retrying') \
             AND invoice_type = 'simplified' AND report_deadline > $1 AND report_deadline <= $2 \
             ORDER BY report_deadline LIMIT $3",
            &[&to_millis(after), &to_millis(before), &i64::from(limit)],
        )
        .await?
        .iter()
        .map(decode::invoice)
        .collect()
    }
}
