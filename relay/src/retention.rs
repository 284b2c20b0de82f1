//! Audit-log retention: a background task that deletes audit rows older than
//! `--audit-retention-days` and beyond `--audit-max-rows-per-unit` per unit, at start and then
//! every `--audit-prune-interval-secs`. Only the audit log of ZATCA exchanges is pruned; the
//! archive of invoices (which ZATCA requires businesses to keep) is never touched here.

use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::AppState;

/// Runs one pass; returns the rows deleted.
pub async fn prune_once(state: &AppState) -> anyhow::Result<u64> {
    let config = &state.config;
    let before = (config.audit_retention_days > 0)
        .then(|| Utc::now() - chrono::Duration::days(i64::from(config.audit_retention_days)));
    let keep = (config.audit_max_rows_per_unit > 0).then_some(config.audit_max_rows_per_unit);
    if before.is_none() && keep.is_none() {
        return Ok(0);
    }
    Ok(state.store.prune_audit(before, keep).await?)
}

/// Starts the task; it stops when `shutdown` is cancelled.
pub fn spawn(state: AppState, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    let interval = Duration::from_secs(state.config.audit_prune_interval_secs.max(1));
    tokio::spawn(async move {
        loop {
            match prune_once(&state).await {
                Ok(0) => {}
                Ok(rows) => tracing::info!(rows, "audit log pruned"),
                Err(err) => tracing::warn!(error = format!("{err:#}"), "audit log pruning failed"),
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(interval) => {}
            }
        }
    })
}
