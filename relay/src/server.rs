//! The HTTP server loop: hyper over the axum router, with the limits `axum::serve` lacks.
//!
//! - **A connection cap.** At the cap a new connection evicts the connection that has been idle
//!   the longest (no request in flight: keep-alive connections between requests and
//!   connections still sending their headers), so a flood of half-open connections cannot lock
//!   out real clients, who send their request at once. When every connection is busy, the new
//!   one is answered `503 SERVER_BUSY` (the error envelope) and closed. The cap is also kept
//!   below the process's open-file limit, so `accept` never runs out of descriptors.
//! - **Timeouts.** Request headers must arrive within the header timeout, and a connection with
//!   no request in flight is closed after the idle timeout. The body timeout is enforced where
//!   bodies are read (`routes::ApiJson`), so it answers `408` with the envelope.
//!
//! Errors hyper detects before a request reaches the router (a header with a NUL byte, a URI
//! longer than hyper's limit) are answered by hyper itself with a bare status: it has no hook
//! for the body of those answers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use crate::error::{ErrorCode, envelope};

/// Descriptors kept free for the database, the outgoing ZATCA connections and log files.
const RESERVED_FDS: u64 = 128;

/// The server's limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Time to send a request's headers.
    pub header_timeout: Duration,
    /// Time a connection may stay without a request in flight.
    pub idle_timeout: Duration,
}

impl Limits {
    /// The configured cap, lowered to what the open-file limit allows (raised first to its hard
    /// limit where the system lets us).
    pub fn fit_to_fd_limit(mut self) -> Self {
        let soft = match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => Some(limit),
            Err(_) => rlimit::getrlimit(rlimit::Resource::NOFILE).ok().map(|(soft, _)| soft),
        };
        if let Some(soft) = soft {
            let room = usize::try_from(soft.saturating_sub(RESERVED_FDS).max(16)).unwrap_or(usize::MAX);
            if room < self.max_connections {
                tracing::warn!(
                    configured = self.max_connections,
                    open_file_limit = soft,
                    "max connections lowered to fit the open-file limit"
                );
                self.max_connections = room;
            }
        }
        self
    }
}

/// One connection's activity, shared between its task and the registry.
#[derive(Debug)]
struct Activity {
    /// Requests being handled now.
    in_flight: AtomicUsize,
    /// Milliseconds since the server started, at the last request's start or end.
    last_active_ms: AtomicU64,
    /// Cancelled to evict the connection.
    evict: CancellationToken,
}

impl Activity {
    fn idle_for(&self, epoch: Instant) -> Option<Duration> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let last = Duration::from_millis(self.last_active_ms.load(Ordering::Acquire));
        Some(epoch.elapsed().saturating_sub(last))
    }

    fn touch(&self, epoch: Instant) {
        let now = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_active_ms.store(now, Ordering::Release);
    }
}

/// Marks a request in flight until dropped (also when the handler's future is cancelled).
struct InFlight {
    activity: Arc<Activity>,
    epoch: Instant,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.activity.touch(self.epoch);
        self.activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The open connections.
#[derive(Debug, Default)]
struct Registry {
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Activity>>>,
}

impl Registry {
    /// Registers a connection, evicting the longest-idle one at the cap. `None` when the cap
    /// is reached and every connection is busy.
    fn admit(&self, max: usize, epoch: Instant) -> Option<(u64, Arc<Activity>)> {
        let mut open = self.open.lock().ok()?;
        if open.len() >= max {
            let victim = open
                .iter()
                .filter_map(|(id, a)| a.idle_for(epoch).map(|idle| (*id, idle)))
                .max_by_key(|(_, idle)| *idle)
                .map(|(id, _)| id);
            let activity = victim.and_then(|id| open.remove(&id))?;
            activity.evict.cancel();
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            last_active_ms: AtomicU64::new(0),
            evict: CancellationToken::new(),
        });
        activity.touch(epoch);
        open.insert(id, activity.clone());
        Some((id, activity))
    }

    fn remove(&self, id: u64) {
        if let Ok(mut open) = self.open.lock() {
            open.remove(&id);
        }
    }

    fn len(&self) -> usize {
        self.open.lock().map(|open| open.len()).unwrap_or_default()
    }
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let epoch = Instant::now();
    let registry = Arc::new(Registry::default());
    let tasks = TaskTracker::new();
    let mut last_warning: Option<Instant> = None;
    loop {
        let (stream, _peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // EMFILE and friends: wait a little rather than spin.
                    if last_warning.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                        tracing::warn!(error = %err, "accept failed");
                        last_warning = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some((id, activity)) = registry.admit(limits.max_connections, epoch) else {
            if last_warning.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                tracing::warn!(
                    connections = registry.len(),
                    "connection cap reached and every connection busy: answering 503"
                );
                last_warning = Some(Instant::now());
            }
            tasks.spawn(refuse(stream));
            continue;
        };
        let router = router.clone();
        let registry = registry.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            serve_connection(stream, router, limits, activity, epoch, shutdown).await;
            registry.remove(id);
        });
    }
    drop(listener);
    tasks.close();
    tasks.wait().await;
    Ok(())
}

/// Answers `503 SERVER_BUSY` with the envelope and closes, without reading the request.
async fn refuse(mut stream: TcpStream) {
    let code = ErrorCode::ServerBusy;
    let body = envelope(code.as_str(), code.default_message(), code.retryable(), &[]).to_string();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    limits: Limits,
    activity: Arc<Activity>,
    epoch: Instant,
    shutdown: CancellationToken,
) {
    let service_activity = activity.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        service_activity.in_flight.fetch_add(1, Ordering::AcqRel);
        let guard = InFlight {
            activity: service_activity.clone(),
            epoch,
        };
        let router = router.clone();
        async move {
            let response = router.oneshot(request.map(Body::new)).await;
            drop(guard);
            response
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    // The idle check runs at a fraction of the timeout, so a connection lives at most
    // idle_timeout × 1.25 without a request.
    let tick = (limits.idle_timeout / 4).max(Duration::from_millis(50));
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                break;
            }
            () = activity.evict.cancelled() => break,
            () = shutdown.cancelled(), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            () = tokio::time::sleep(tick) => {
                if activity.idle_for(epoch).is_some_and(|idle| idle >= limits.idle_timeout) {
                    break;
                }
            }
        }
    }
}
