//! The store's webhook operations, a trait of their own so that each backend keeps them apart
//! from the invoice and onboarding write paths.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreResult;
use crate::domain::{Environment, Invoice, PendingEvent, WebhookDelivery, WebhookEndpoint, WebhookEvent};

/// Webhook endpoints, events and the delivery log.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Inserts an endpoint.
    async fn insert_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> StoreResult<()>;
    /// The endpoints of an account in an environment, oldest first.
    async fn webhook_endpoints(&self, account_id: Uuid, environment: Environment) -> StoreResult<Vec<WebhookEndpoint>>;
    /// One endpoint of an account in an environment (None for anyone else's).
    async fn webhook_endpoint(
        &self,
        account_id: Uuid,
        environment: Environment,
        id: Uuid,
    ) -> StoreResult<Option<WebhookEndpoint>>;
    /// An endpoint by id alone, for the worker.
    async fn webhook_endpoint_by_id(&self, id: Uuid) -> StoreResult<Option<WebhookEndpoint>>;
    /// Saves an endpoint's URL, description, event filter, state and update time if it is still
    /// the version read, the one last updated at `read_at`: false when another change (from
    /// any relay) came first or it was deleted. The caller reads it again and reapplies its
    /// change, so two changes made at once never undo each other.
    async fn save_webhook_endpoint(&self, endpoint: &WebhookEndpoint, read_at: DateTime<Utc>) -> StoreResult<bool>;
    /// Deletes an endpoint of an account in an environment, with its delivery log; false
    /// when there was none.
    async fn delete_webhook_endpoint(&self, account_id: Uuid, environment: Environment, id: Uuid) -> StoreResult<bool>;
    /// Records an event and enqueues its delivery jobs, in one transaction, unless an event
    /// with this id exists (then nothing is written): false.
    async fn record_webhook_event(&self, pending: &PendingEvent, now: DateTime<Utc>) -> StoreResult<bool>;
    /// An event by id.
    async fn webhook_event(&self, id: Uuid) -> StoreResult<Option<WebhookEvent>>;
    /// Appends a delivery attempt to the log.
    async fn insert_webhook_delivery(&self, delivery: &WebhookDelivery) -> StoreResult<()>;
    /// An endpoint's delivery log, newest first.
    async fn webhook_deliveries(&self, endpoint_id: Uuid, limit: u32) -> StoreResult<Vec<WebhookDelivery>>;
    /// Simplified invoices not yet reported whose deadline is in `(after, before]`, soonest
    /// first.
    async fn invoices_due_between(
        &self,
        after: DateTime<Utc>,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Invoice>>;
}
