//! Certificate watch: production certificates end (a year after issue by default), and an
//! EGS unit whose certificate has ended can neither report nor clear. Hourly (and at start),
//! every unit whose certificate is `expiring_soon` (30 days or less), `critical` (7 or less) or
//! `expired` is logged — a warning, then an error — so that log-based alerting sees it; the
//! same counts are in `GET /metrics` (`relay_certificates{health}`) and each unit's status, and
//! a `certificate.expiring` webhook goes out once per certificate and level.

use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::AppState;
use crate::domain::CertHealth;

/// How often the certificates are checked.
const EVERY: Duration = Duration::from_secs(3600);

/// Logs every certificate ending within 30 days; returns how many were logged.
pub async fn check_once(state: &AppState) -> anyhow::Result<usize> {
    let now = Utc::now();
    let ending = state
        .store
        .certificates_ending_before(now + chrono::Duration::days(31))
        .await?;
    let mut logged = 0;
    for (unit, expires) in ending {
        let health = CertHealth::of(Some(expires), now);
        let days = (expires - now).num_days();
        match health {
            CertHealth::ExpiringSoon => {
                tracing::warn!(egs.id = %unit, days, cert.health = health.as_str(), "production certificate expiring: renew it")
            }
            CertHealth::Critical | CertHealth::Expired => {
                tracing::error!(egs.id = %unit, days, cert.health = health.as_str(), "production certificate about to end or ended: renew it now")
            }
            CertHealth::Healthy | CertHealth::None => continue,
        }
        logged += 1;
        if let Some(unit) = state.store.unit_by_id(unit).await? {
            crate::webhooks::certificate_expiring(state, &unit, health, expires).await;
        }
    }
    Ok(logged)
}

/// Starts the hourly check; it stops when `shutdown` is cancelled.
pub fn spawn(state: AppState, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(err) = check_once(&state).await {
                tracing::warn!(error = format!("{err:#}"), "certificate check failed");
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(EVERY) => {}
            }
        }
    })
}
