//! The worker loop: wakes on a notification (a job was enqueued) or every poll interval, claims
//! up to `concurrency` due jobs, runs each in its own task, and stops claiming at shutdown,
//! letting running jobs finish within the grace period (a job cut off keeps its lease and is
//! released at the next start).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::AppState;
use crate::domain::JobOutcome;
use crate::domain::{Job, JobKind};
use crate::onboarding;

/// A job's lease: a claimed job not finished within this time is claimed again.
const LEASE: Duration = Duration::from_secs(300);

/// The worker.
#[derive(Debug)]
pub struct Worker {
    state: AppState,
    shutdown: CancellationToken,
}

/// A running worker.
#[derive(Debug)]
pub struct WorkerHandle {
    task: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Waits for the worker to stop (after its shutdown token is cancelled).
    pub async fn join(self) {
        if let Err(err) = self.task.await {
            tracing::error!(error = %err, "worker task ended abnormally");
        }
    }
}

impl Worker {
    /// A worker over the application state, stopping when `shutdown` is cancelled.
    pub fn new(state: AppState, shutdown: CancellationToken) -> Self {
        Worker { state, shutdown }
    }

    /// Releases jobs left running by a previous process and starts the loop.
    pub async fn start(self) -> anyhow::Result<WorkerHandle> {
        let released = self.state.store.release_running_jobs(Utc::now()).await?;
        if released > 0 {
            tracing::info!(jobs = released, "resuming jobs interrupted by the previous shutdown");
        }
        Ok(WorkerHandle {
            task: tokio::spawn(self.run()),
        })
    }

    async fn run(self) {
        let concurrency = self.state.config.worker_concurrency.max(1);
        let poll = Duration::from_millis(self.state.config.worker_poll_ms.max(10));
        let grace = Duration::from_secs(self.state.config.shutdown_grace_secs);
        let mut running: JoinSet<()> = JoinSet::new();
        loop {
            while running.try_join_next().is_some() {}
            let free = concurrency.saturating_sub(running.len());
            if free > 0 {
                let now = Utc::now();
                let lease_until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
                match self
                    .state
                    .store
                    .claim_due_jobs(now, lease_until, u32::try_from(free).unwrap_or(1))
                    .await
                {
                    Ok(jobs) => {
                        let claimed = jobs.len();
                        for job in jobs {
                            let state = self.state.clone();
                            running.spawn(async move { run_job(state, job).await });
                        }
                        if claimed == free {
                            // More may be due: look again before sleeping.
                            tokio::select! {
                                () = self.shutdown.cancelled() => break,
                                _ = running.join_next(), if !running.is_empty() => {}
                            }
                            continue;
                        }
                    }
                    Err(err) => tracing::warn!(error = %err, "cannot claim jobs"),
                }
            }
            tokio::select! {
                () = self.shutdown.cancelled() => break,
                () = self.state.jobs.notified() => {}
                () = tokio::time::sleep(poll) => {}
                _ = running.join_next(), if !running.is_empty() => {}
            }
        }
        if !running.is_empty() {
            tracing::info!(jobs = running.len(), "waiting for running jobs before shutdown");
            if tokio::time::timeout(grace, async { while running.join_next().await.is_some() {} })
                .await
                .is_err()
            {
                tracing::warn!(
                    jobs = running.len(),
                    "jobs still running at the end of the grace period; they resume at next start"
                );
                running.abort_all();
            }
        }
        tracing::info!("worker stopped");
    }
}

async fn run_job(state: AppState, job: Job) {
    let span = tracing::info_span!(
        "job",
        job.id = %job.id,
        job.kind = job.kind.name(),
        egs.id = %job.egs_unit_id,
        job.attempt = job.attempts
    );
    run_job_in_span(state, job).instrument(span).await;
}

async fn run_job_in_span(state: AppState, job: Job) {
    let outcome = match &job.kind {
        JobKind::Onboard(_) => onboarding::run_onboard_job(&state, &job).await,
        JobKind::Submit(submit) => crate::invoicing::submit(&state, job.egs_unit_id, submit.invoice_id, false).await,
        JobKind::Webhook(work) => crate::webhooks::deliver(&state, &job, work).await,
    };
    // Webhook receivers are the account's own servers: their retries follow their own policy.
    let (max_attempts, backoff) = match &job.kind {
        JobKind::Webhook(_) => (
            state.config.webhook_max_attempts,
            crate::webhooks::backoff(state.config.webhook_backoff_ms, job.attempts),
        ),
        _ => (
            state.config.job_max_attempts,
            onboarding::backoff(state.config.job_backoff_ms, job.attempts),
        ),
    };
    let now = Utc::now();
    let result = match outcome {
        JobOutcome::Done => state.store.finish_job(job.id, now).await,
        JobOutcome::RetryAfter(reason, wait) if job.attempts < max_attempts => {
            let delay = jitter(backoff.max(chrono::Duration::from_std(wait).unwrap_or(backoff)));
            tracing::info!(job.id = %job.id, egs.id = %job.egs_unit_id, job.attempt = job.attempts, retry_in_ms = delay.num_milliseconds(), "job will retry (ZATCA asked to wait): {reason}");
            state.store.retry_job(job.id, now + delay, &reason, now).await
        }
        JobOutcome::Retry(reason) if job.attempts < max_attempts => {
            let delay = jitter(backoff);
            tracing::info!(job.id = %job.id, egs.id = %job.egs_unit_id, job.attempt = job.attempts, retry_in_ms = delay.num_milliseconds(), "job will retry: {reason}");
            state.store.retry_job(job.id, now + delay, &reason, now).await
        }
        JobOutcome::Retry(reason) | JobOutcome::RetryAfter(reason, _) => {
            tracing::warn!(job.id = %job.id, egs.id = %job.egs_unit_id, "job gave up after {} attempts: {reason}", job.attempts);
            give_up(&state, &job, &reason).await;
            state.store.fail_job(job.id, &reason, now).await
        }
        JobOutcome::Fail(reason) => state.store.fail_job(job.id, &reason, now).await,
    };
    if let Err(err) = result {
        tracing::error!(job.id = %job.id, error = %err, "cannot record the job's outcome; it will run again");
    }
}

/// Spreads retries of many jobs that failed together (an outage) over ±25 % of the delay.
fn jitter(delay: chrono::Duration) -> chrono::Duration {
    let ms = delay.num_milliseconds().max(1);
    let spread = ms / 2;
    let random = crate::secret::random_array::<8>()
        .map(u64::from_le_bytes)
        .unwrap_or_default();
    let offset = i64::try_from(random % u64::try_from(spread.max(1)).unwrap_or(1)).unwrap_or_default();
    chrono::Duration::milliseconds(ms - ms / 4 + offset)
}

/// Retries exhausted: an onboarding job fails its unit; a submission stays `retrying` for an
/// operator (the invoice is kept, and a later restart of the job sends it again).
async fn give_up(state: &AppState, job: &Job, reason: &str) {
    match job.kind {
        JobKind::Onboard(_) => {}
        JobKind::Submit(_) => {
            tracing::error!(job.id = %job.id, egs.id = %job.egs_unit_id, "submission gave up: {reason}");
            return;
        }
        // The delivery log holds the last attempt as `failed`.
        JobKind::Webhook(_) => return,
    }
    let Ok(Some(mut unit)) = state.store.unit_by_id(job.egs_unit_id).await else {
        return;
    };
    let message = format!("ZATCA could not be reached after {} attempts: {reason}", job.attempts);
    if let Err(err) = unit.fail(message, Vec::new(), Utc::now()) {
        tracing::warn!(egs.id = %unit.id, error = %err, "retries exhausted on a unit that cannot fail now");
        return;
    }
    if let Err(err) = onboarding::save_announced(state, &unit).await {
        tracing::error!(error = format!("{err:#}"), "cannot record the unit's failure");
    }
}

/// Shared handle type used by [`AppState`] to wake the worker.
pub type Notifier = Arc<tokio::sync::Notify>;
