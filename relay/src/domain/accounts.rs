//! Accounts (tenants) and their API keys (never the keys themselves, only hashes).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Environment;

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

/// The authenticated caller: the API key record and its account.
#[derive(Debug, Clone)]
pub struct Auth {
    /// The key used (its environment decides sandbox or production).
    pub key: ApiKey,
    /// The account (tenant) everything is scoped to.
    pub account: Account,
}
