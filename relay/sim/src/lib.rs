#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod admin;
pub mod ca;
pub mod config;
pub mod csr;
mod gateway;
pub mod inspect;
pub mod responses;
mod stamp;
pub mod state;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{Environment, Faults, FaultsPatch, SimConfig};
pub use state::{Counters, CsidInfo, CsidKind, DocumentType, EndpointCounters, InvoiceCounters, SimState, endpoint};

/// The simulator's HTTP application: the Fatoora gateway endpoints and `/admin/*`.
pub fn app(state: SimState) -> Router {
    let limit = state.config().max_body_bytes;
    Router::new()
        .merge(gateway::router(&state))
        .merge(admin::router())
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// A simulator serving on `127.0.0.1` in a tokio task.
#[derive(Debug)]
pub struct SimHandle {
    /// `http://127.0.0.1:PORT` (no trailing slash); the endpoints hang directly below it.
    pub base_url: String,
    /// The bound address.
    pub addr: SocketAddr,
    /// The shared state (counters, faults, OTPs).
    pub state: SimState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.state.counters()
    }

    /// Replaces the active faults.
    pub fn set_faults(&self, faults: Faults) {
        self.state.set_faults(faults);
    }

    /// Issues a single-use OTP valid for `ttl`.
    pub fn issue_otp(&self, ttl: Duration) -> String {
        self.state.issue_otp(ttl)
    }

    /// Stops serving: in-flight requests get up to two seconds to finish (a request held by
    /// the timeout fault is cut off), then the server task ends.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(2), &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Binds `127.0.0.1:0` and serves the simulator in a tokio task.
pub async fn spawn(config: SimConfig) -> std::io::Result<SimHandle> {
    spawn_on(config, 0).await
}

/// Binds `127.0.0.1:port` (0 = any free port) and serves the simulator in a tokio task.
pub async fn spawn_on(config: SimConfig, port: u16) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    let addr = listener.local_addr()?;
    let state = SimState::new(config);
    let router = app(state.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let serve = axum::serve(listener, service).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "simulator server stopped");
        }
    });
    Ok(SimHandle {
        base_url: format!("http://{addr}"),
        addr,
        state,
        shutdown: Some(tx),
        task: Some(task),
    })
}
