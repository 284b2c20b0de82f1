//! The relay: a JSON API over ZATCA e-invoicing. Accounts and API keys, EGS units with
//! durable background onboarding (compliance CSID, compliance documents, production CSID),
//! renewal, per-plan quotas and a per-unit audit log of every ZATCA exchange.
//!
//! [`app`] builds the router over an [`AppState`] (tests drive it with `oneshot`); [`spawn`]
//! starts the whole service (database, worker, optional in-process simulators, HTTP server)
//! and returns a handle that shuts it down gracefully; [`run`] is what `main` calls.

pub mod authority;
pub mod certificates;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod invoicing;
pub mod metrics;
pub mod onboarding;
pub mod queue;
pub mod retention;
pub mod routes;
pub mod secret;
pub mod server;
pub mod signing;
pub mod store;
pub mod webhooks;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::authority::TaxAuthority;
use crate::authority::http::{BaseUrls, ZatcaClient};
use crate::config::{Config, Gateway, SandboxTarget};
use crate::domain::Environment;
use crate::secret::MasterKey;
use crate::signing::CsrTemplate;
use crate::store::Store;

/// Shared state of every handler and of the worker.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Signed and cleared XML.
    pub archive: Arc<dyn store::Archive>,
    /// ZATCA (or a simulator, or a test double).
    pub authority: Arc<dyn TaxAuthority>,
    /// Configuration.
    pub config: Arc<Config>,
    /// Encrypts secrets at rest.
    pub master_key: Arc<MasterKey>,
    /// Wakes the worker when a job is enqueued.
    pub jobs: Arc<tokio::sync::Notify>,
    /// Counters and histograms for `GET /metrics`.
    pub metrics: Arc<metrics::Metrics>,
    /// Per API key request rate (`--rate-limit-per-second`); `None` when off.
    pub rate_limiter: Option<Arc<routes::KeyRateLimiter>>,
    /// Units with an operation in flight (one at a time per unit).
    busy: Arc<Mutex<HashSet<Uuid>>>,
    /// Per unit: the lock held while a document takes the next chain position, guarding the
    /// chain head as this process last wrote it (`None`: read it from the store).
    chains: Arc<Mutex<HashMap<Uuid, ChainLock>>>,
    /// Per unit: its signer (decrypted key and production certificate), keyed by the
    /// certificate token so that a renewal replaces it.
    signers: Arc<Mutex<HashMap<Uuid, CachedSigner>>>,
    /// Per unit: permits for submissions to ZATCA in flight.
    submissions: Arc<Mutex<HashMap<Uuid, Arc<tokio::sync::Semaphore>>>>,
    /// CSR template per environment.
    templates: Templates,
}

/// The head of a unit's chain: the last ICV and its invoice hash (the next PIH).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// ICV of the last document.
    pub icv: i64,
    /// Its invoice hash.
    pub hash: String,
}

/// A unit's chain lock with its cached head.
pub type ChainLock = Arc<tokio::sync::Mutex<Option<ChainHead>>>;

/// A unit's signer and the certificate token it was built for.
type CachedSigner = (String, Arc<zatca_core::sign::Signer>);

#[derive(Debug, Clone, Copy)]
struct Templates {
    sandbox: CsrTemplate,
    production: CsrTemplate,
}

/// Holds a unit's lock until dropped.
#[derive(Debug)]
pub struct UnitGuard {
    busy: Arc<Mutex<HashSet<Uuid>>>,
    id: Uuid,
}

impl Drop for UnitGuard {
    fn drop(&mut self) {
        if let Ok(mut busy) = self.busy.lock() {
            busy.remove(&self.id);
        }
    }
}

impl AppState {
    /// State over the given parts. The CSR templates follow the configuration: production →
    /// `ZATCA-Code-Signing`; sandbox → the developer portal's or the simulation's.
    pub fn new(
        backend: store::Backend,
        authority: Arc<dyn TaxAuthority>,
        config: Arc<Config>,
        master_key: MasterKey,
    ) -> Self {
        let sandbox = match (config.effective_gateway(), config.sandbox_target) {
            (Gateway::Zatca, SandboxTarget::Simulation) => CsrTemplate::Simulation,
            _ => CsrTemplate::DeveloperPortal,
        };
        let rate_limiter = routes::key_rate_limiter(&config);
        AppState {
            store: backend.store,
            archive: backend.archive,
            authority,
            config,
            master_key: Arc::new(master_key),
            jobs: Arc::new(tokio::sync::Notify::new()),
            metrics: Arc::new(metrics::Metrics::default()),
            rate_limiter,
            busy: Arc::new(Mutex::new(HashSet::new())),
            chains: Arc::new(Mutex::new(HashMap::new())),
            signers: Arc::new(Mutex::new(HashMap::new())),
            submissions: Arc::new(Mutex::new(HashMap::new())),
            templates: Templates {
                sandbox,
                production: CsrTemplate::Production,
            },
        }
    }

    /// The CSR template for units of an environment.
    pub fn csr_template(&self, environment: Environment) -> CsrTemplate {
        match environment {
            Environment::Sandbox => self.templates.sandbox,
            Environment::Production => self.templates.production,
        }
    }

    /// Takes a unit's lock, or None when another operation holds it.
    pub fn lock_unit(&self, id: Uuid) -> Option<UnitGuard> {
        let mut busy = self.busy.lock().ok()?;
        busy.insert(id).then(|| UnitGuard {
            busy: self.busy.clone(),
            id,
        })
    }

    /// The lock of a unit's chain (held while a document is signed and recorded).
    pub fn chain_lock(&self, unit: Uuid) -> ChainLock {
        match self.chains.lock() {
            Ok(mut chains) => chains.entry(unit).or_default().clone(),
            Err(_) => Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// The cached signer of a unit for a certificate token, if any.
    pub fn cached_signer(&self, unit: Uuid, token: &str) -> Option<Arc<zatca_core::sign::Signer>> {
        let signers = self.signers.lock().ok()?;
        signers.get(&unit).filter(|(t, _)| t == token).map(|(_, s)| s.clone())
    }

    /// Caches a unit's signer for a certificate token.
    pub fn cache_signer(&self, unit: Uuid, token: &str, signer: Arc<zatca_core::sign::Signer>) {
        if let Ok(mut signers) = self.signers.lock() {
            signers.insert(unit, (token.to_owned(), signer));
        }
    }

    /// Waits for one of a unit's submission permits (`--unit-concurrency`).
    pub async fn submission_permit(&self, unit: Uuid) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let permits = self.config.unit_concurrency.max(1);
        let semaphore = match self.submissions.lock() {
            Ok(mut map) => map
                .entry(unit)
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(permits)))
                .clone(),
            Err(_) => return None,
        };
        semaphore.acquire_owned().await.ok()
    }

    /// The static directory served at `/`, if any.
    pub fn demo_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = &self.config.demo_dir {
            return dir.is_dir().then(|| dir.clone());
        }
        let candidates = [
            PathBuf::from("demo"),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo"),
        ];
        candidates.into_iter().find(|p| p.join("index.html").is_file())
    }

    /// The npm package next to the demo directory (`<demo>/../npm`), whose browser files the
    /// demo page imports from `/npm/`; only when it has been built (`dist/` exists).
    pub fn demo_npm_dir(&self) -> Option<PathBuf> {
        let npm = self.demo_dir()?.join("..").join("npm");
        (npm.join("index.js").is_file() && npm.join("dist").is_dir()).then_some(npm)
    }
}

/// The application router.
pub fn app(state: AppState) -> Router {
    routes::router(state)
}

/// A running relay.
#[derive(Debug)]
pub struct RelayHandle {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// `http://addr`.
    pub base_url: String,
    /// The state (for tests that inspect the store).
    pub state: AppState,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    worker: queue::WorkerHandle,
    retention: tokio::task::JoinHandle<()>,
    certificate_watch: tokio::task::JoinHandle<()>,
    deadline_watch: tokio::task::JoinHandle<()>,
    sims: Option<demo::Simulators>,
}

impl RelayHandle {
    /// A token that stops the relay when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// The in-process simulators, in `--gateway sim` mode.
    pub fn simulators(&self) -> Option<&demo::Simulators> {
        self.sims.as_ref()
    }

    /// Stops accepting requests, lets in-flight requests and jobs finish (within the grace
    /// period), closes the database.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.wait().await
    }

    /// Waits until the relay stops (after its shutdown token is cancelled).
    pub async fn wait(self) -> anyhow::Result<()> {
        let mut server = self.server;
        let ended_early = tokio::select! {
            () = self.shutdown.cancelled() => None,
            result = &mut server => Some(result),
        };
        // The server may have stopped on its own (an I/O error): stop the worker too.
        self.shutdown.cancel();
        let grace = Duration::from_secs(self.state.config.shutdown_grace_secs.saturating_add(5));
        let server = match ended_early {
            Some(result) => Ok(result),
            None => tokio::time::timeout(grace, server).await,
        };
        self.worker.join().await;
        if let Err(err) = self.retention.await {
            tracing::warn!(error = %err, "audit retention task ended abnormally");
        }
        if let Err(err) = self.certificate_watch.await {
            tracing::warn!(error = %err, "certificate watch ended abnormally");
        }
        if let Err(err) = self.deadline_watch.await {
            tracing::warn!(error = %err, "reporting deadline watch ended abnormally");
        }
        if let Some(sims) = self.sims {
            sims.shutdown().await;
        }
        self.state.store.close().await;
        tracing::info!("relay stopped");
        match server {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(err))) => Err(err.into()),
            Ok(Err(err)) => Err(err.into()),
            Err(_) => {
                tracing::warn!("HTTP server did not stop within the grace period");
                Ok(())
            }
        }
    }
}

/// The master key: from configuration, or in demo mode generated once and kept next to the
/// database file (mode 0600).
async fn master_key(config: &Config) -> anyhow::Result<MasterKey> {
    if let Some(text) = &config.master_key {
        return MasterKey::from_base64(text.expose()).context("RELAY_MASTER_KEY");
    }
    if !config.demo {
        anyhow::bail!(
            "RELAY_MASTER_KEY is not set: give 32 random bytes in base64 (e.g. `openssl rand -base64 32`), or run with --demo"
        );
    }
    match config.database_url.sqlite_path() {
        Some(db) => demo::load_or_create_master_key(&db.with_extension("master-key")).await,
        None => {
            tracing::warn!("demo mode with an in-memory database: using a throw-away master key");
            Ok(MasterKey::generate()?)
        }
    }
}

/// Starts the relay: database and migrations, master key, simulators (`--gateway sim`), the
/// worker and the HTTP server. Returns once it listens.
pub async fn spawn(config: Config) -> anyhow::Result<RelayHandle> {
    let master_key = master_key(&config).await?;
    let mut backend = store::from_url(&config.database_url)
        .await
        .context("opening the database")?;
    if let Some(url) = &config.archive_url {
        let archive = store::objects::ObjectArchive::open(url).context("opening the archive")?;
        tracing::info!(
            archive = archive.location(),
            "archiving signed and cleared XML outside the database"
        );
        backend.archive = Arc::new(archive);
    }
    let store = backend.store.clone();
    let sims = match config.effective_gateway() {
        Gateway::Sim => Some(demo::Simulators::start().await.context("starting the simulators")?),
        Gateway::Zatca => None,
    };
    let urls = match &sims {
        Some(sims) => sims.base_urls(),
        None => BaseUrls {
            sandbox: config.sandbox_url(),
            production: config.zatca_production_url.clone(),
        },
    };
    let authority = ZatcaClient::new(
        urls.clone(),
        Duration::from_secs(config.zatca_timeout_secs.max(1)),
        store.clone(),
    )?;
    let config = Arc::new(config);
    let state = AppState::new(backend, Arc::new(authority), config.clone(), master_key);

    let shutdown = CancellationToken::new();
    let worker = queue::Worker::new(state.clone(), shutdown.clone()).start().await?;
    let retention = retention::spawn(state.clone(), shutdown.clone());
    let certificate_watch = certificates::spawn(state.clone(), shutdown.clone());
    let deadline_watch = webhooks::spawn_deadline_watch(state.clone(), shutdown.clone());
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let router = app(state.clone());
    let token = shutdown.clone();
    let limits = server::Limits {
        max_connections: config.max_connections.max(1),
        header_timeout: Duration::from_secs(config.header_timeout_secs.max(1)),
        idle_timeout: Duration::from_secs(config.idle_timeout_secs.max(1)),
    }
    .fit_to_fd_limit();
    let server = tokio::spawn(server::serve(listener, router, limits, token));
    tracing::info!(
        listen = %addr,
        database = ?config.database_url,
        zatca.sandbox = %urls.sandbox,
        zatca.production = %urls.production,
        "relay listening"
    );
    Ok(RelayHandle {
        addr,
        base_url: format!("http://{addr}"),
        state,
        shutdown,
        server,
        worker,
        retention,
        certificate_watch,
        deadline_watch,
        sims,
    })
}

/// Runs until Ctrl-C or SIGTERM, then shuts down gracefully.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let demo = config.demo;
    let relay = spawn(config).await?;
    if demo {
        demo::print_banner(&relay);
    }
    let token = relay.shutdown_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested");
        token.cancel();
    });
    relay.wait().await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// Installs the global tracing subscriber (text or JSON lines on stderr).
pub fn init_tracing(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match config.log_format {
        config::LogFormat::Text => builder.try_init(),
        config::LogFormat::Json => builder.json().try_init(),
    };
    if let Err(err) = result {
        eprintln!("tracing already initialised: {err}");
    }
}
