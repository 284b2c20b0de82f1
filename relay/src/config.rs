//! Configuration: every setting is a command-line flag and an environment variable
//! (`RELAY_…`), parsed once by clap at start-up. Secret values are held in redacting newtypes so
//! that `Debug` output of the configuration (or of anything holding it) never shows them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Parser, ValueEnum};

use crate::secret::SecretString;

/// ZATCA's developer-portal (sandbox) base URL (SPEC §10.1).
pub const ZATCA_DEVELOPER_PORTAL_URL: &str = "https://gw-fatoora.zatca.gov.sa/e-invoicing/developer-portal";
/// ZATCA's simulation base URL (SPEC §10.1).
pub const ZATCA_SIMULATION_URL: &str = "https://gw-fatoora.zatca.gov.sa/e-invoicing/simulation";
/// ZATCA's production ("core") base URL (SPEC §10.1).
pub const ZATCA_PRODUCTION_URL: &str = "https://gw-fatoora.zatca.gov.sa/e-invoicing/core";

/// The relay's configuration.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "zatca-relay",
    version,
    about = "JSON API over ZATCA e-invoicing: accounts, API keys, EGS units, onboarding"
)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "RELAY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Database URL. SQLite: `sqlite://path/to/relay.db` (created if missing, WAL mode,
    /// migrations applied at start). PostgreSQL: `postgres://user:password@host:port/db` (or
    /// `postgresql://`; migrations applied at start; several relays may share the database).
    #[arg(long, env = "RELAY_DATABASE_URL", default_value = "sqlite://relay.db")]
    pub database_url: DatabaseUrl,

    /// Where the signed and cleared XML is archived: a directory (`file:///var/lib/relay/archive`)
    /// or an S3-compatible bucket (`s3://bucket/prefix`, credentials, region and endpoint from the
    /// `AWS_*` variables). Default: the database itself.
    #[arg(long, env = "RELAY_ARCHIVE_URL")]
    pub archive_url: Option<String>,

    /// Master key encrypting private keys, CSID secrets and pending OTPs at rest (AES-256-GCM):
    /// 32 bytes, base64. Required unless `--demo` (which generates one and keeps it next to the
    /// database file, mode 0600).
    #[arg(long, env = "RELAY_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<SecretString>,

    /// Demo mode: in-process ZATCA simulators (unless `--gateway zatca`), a generated master key
    /// kept next to the database file, and the first curl lines printed at start.
    #[arg(long, env = "RELAY_DEMO")]
    pub demo: bool,

    /// Which gateway serves the units: `sim` runs two in-process simulators (one configured as
    /// ZATCA's sandbox, one as production); `zatca` uses the URLs below. Default: `sim` with
    /// `--demo`, `zatca` otherwise.
    #[arg(long, env = "RELAY_GATEWAY", value_enum)]
    pub gateway: Option<Gateway>,

    /// Which ZATCA environment serves sandbox (`zatca_test_`) units when `--gateway zatca`:
    /// `developer-portal` (fixed OTP 123345) or `simulation` (OTPs from the simulation portal).
    #[arg(long, env = "RELAY_SANDBOX_TARGET", value_enum, default_value = "developer-portal")]
    pub sandbox_target: SandboxTarget,

    /// Override the base URL used for sandbox units (default: the URL of `--sandbox-target`).
    #[arg(long, env = "RELAY_ZATCA_SANDBOX_URL")]
    pub zatca_sandbox_url: Option<String>,

    /// Override the base URL used for production (`zatca_live_`) units.
    #[arg(long, env = "RELAY_ZATCA_PRODUCTION_URL", default_value = ZATCA_PRODUCTION_URL)]
    pub zatca_production_url: String,

    /// Timeout of one request to ZATCA, in seconds.
    #[arg(long, env = "RELAY_ZATCA_TIMEOUT_SECS", default_value_t = 30)]
    pub zatca_timeout_secs: u64,

    /// OTP used for sandbox units created without one (the developer portal's fixed OTP).
    #[arg(
        long,
        env = "RELAY_SANDBOX_DEFAULT_OTP",
        default_value = "123345",
        hide_env_values = true
    )]
    pub sandbox_default_otp: SecretString,

    /// Plans and their unit quotas, `name=SANDBOX:PRODUCTION` separated by commas.
    #[arg(
        long,
        env = "RELAY_PLANS",
        default_value = "solo=5:1,business=20:5,enterprise=200:50"
    )]
    pub plans: Plans,

    /// Plan given to accounts created by `POST /v1/onboard`.
    #[arg(long, env = "RELAY_DEFAULT_PLAN", default_value = "solo")]
    pub default_plan: String,

    /// Whether `POST /v1/onboard` (self sign-up) is open.
    #[arg(long, env = "RELAY_ALLOW_SIGNUP", default_value_t = true, action = clap::ArgAction::Set)]
    pub allow_signup: bool,

    /// Whether `POST /v1/onboard` may create production accounts (a `zatca_live_` first key).
    /// Default: only in demo mode; elsewhere sign-up creates sandbox accounts and an operator
    /// turns this on deliberately.
    #[arg(long, env = "RELAY_ALLOW_PRODUCTION_SIGNUP", action = clap::ArgAction::Set)]
    pub allow_production_signup: Option<bool>,

    /// Solution name in the EGS serial number `1-<solution>|2-<model>|3-<uuid>` of generated CSRs.
    #[arg(long, env = "RELAY_EGS_SOLUTION_NAME", default_value = "ZatcaRelay")]
    pub egs_solution_name: String,

    /// Number of onboarding jobs run at the same time.
    #[arg(long, env = "RELAY_WORKER_CONCURRENCY", default_value_t = 4)]
    pub worker_concurrency: usize,

    /// How often the worker looks for due jobs when nothing wakes it, in milliseconds.
    #[arg(long, env = "RELAY_WORKER_POLL_MS", default_value_t = 1000)]
    pub worker_poll_ms: u64,

    /// Attempts of a job before a retryable failure becomes terminal.
    #[arg(long, env = "RELAY_JOB_MAX_ATTEMPTS", default_value_t = 8)]
    pub job_max_attempts: u32,

    /// First retry delay of a job, in milliseconds; doubles per attempt, capped at 10 minutes.
    #[arg(long, env = "RELAY_JOB_BACKOFF_MS", default_value_t = 2000)]
    pub job_backoff_ms: u64,

    /// Attempts of a webhook delivery before it is given up.
    #[arg(long, env = "RELAY_WEBHOOK_MAX_ATTEMPTS", default_value_t = 10)]
    pub webhook_max_attempts: u32,

    /// First retry delay of a webhook delivery, in milliseconds; doubles per attempt (with
    /// ±25 % jitter), capped at 4 hours.
    #[arg(long, env = "RELAY_WEBHOOK_BACKOFF_MS", default_value_t = 30_000)]
    pub webhook_backoff_ms: u64,

    /// How long a webhook receiver has to answer, in seconds.
    #[arg(long, env = "RELAY_WEBHOOK_TIMEOUT_SECS", default_value_t = 10)]
    pub webhook_timeout_secs: u64,

    /// Let webhook endpoints be loopback, private or link-local addresses (off: an account
    /// cannot make the relay call into its own network; on for a relay and receivers on one
    /// private network, and in tests).
    #[arg(long, env = "RELAY_WEBHOOK_ALLOW_PRIVATE_TARGETS", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private_targets: bool,

    /// Static directory served at `/` (default: `./demo` when it exists).
    #[arg(long, env = "RELAY_DEMO_DIR")]
    pub demo_dir: Option<PathBuf>,

    /// Log format.
    #[arg(long, env = "RELAY_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Log filter (tracing `EnvFilter` syntax).
    #[arg(long, env = "RELAY_LOG", default_value = "info,zatca_relay=info")]
    pub log: String,

    /// Seconds to wait for in-flight requests and jobs at shutdown.
    #[arg(long, env = "RELAY_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,

    /// How long a create waits for its own first attempt at ZATCA before answering, in
    /// milliseconds (`0`: answer at once and leave reporting or clearance to the queue).
    #[arg(long, env = "RELAY_INLINE_SUBMIT_MS", default_value_t = 3000)]
    pub inline_submit_ms: u64,

    /// Submissions to ZATCA in flight at once per EGS unit.
    #[arg(long, env = "RELAY_UNIT_CONCURRENCY", default_value_t = 4)]
    pub unit_concurrency: usize,

    /// Most client connections open at once. At the cap, a new connection evicts the
    /// connection idle the longest (one waiting for request headers counts as idle); when none
    /// is idle it is answered `503 SERVER_BUSY` and closed. Also kept below the process's
    /// open-file limit.
    #[arg(long, env = "RELAY_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// API requests handled at the same time; more wait, unread, until one ends. Creating an
    /// invoice is CPU work serialized per unit, so a few dozen at once keep both cores busy,
    /// while a thousand at once would only hold a thousand requests' state in memory.
    #[arg(long, env = "RELAY_MAX_CONCURRENT_REQUESTS", default_value_t = 128)]
    pub max_concurrent_requests: usize,

    /// Seconds a client has to send a request's headers.
    #[arg(long, env = "RELAY_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,

    /// Seconds a client has to send a whole request body (`408 REQUEST_TIMEOUT` after).
    #[arg(long, env = "RELAY_BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub body_timeout_secs: u64,

    /// Largest accepted request body, in bytes (`413 PAYLOAD_TOO_LARGE` above it).
    #[arg(long, env = "RELAY_BODY_LIMIT_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub body_limit_bytes: usize,

    /// Requests per second each API key may make on average (`429 RATE_LIMITED` with
    /// `Retry-After` beyond it); 0 turns the limit off.
    #[arg(long, env = "RELAY_RATE_LIMIT_PER_SECOND", default_value_t = 1000)]
    pub rate_limit_per_second: u32,

    /// Requests an API key may make at once above its rate (the bucket's size).
    #[arg(long, env = "RELAY_RATE_LIMIT_BURST", default_value_t = 2000)]
    pub rate_limit_burst: u32,

    /// Seconds a connection may stay idle (no request in flight) before it is closed.
    #[arg(long, env = "RELAY_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,

    /// Audit-log rows older than this many days are deleted (0 keeps them by age).
    #[arg(long, env = "RELAY_AUDIT_RETENTION_DAYS", default_value_t = 90)]
    pub audit_retention_days: u32,

    /// Most audit-log rows kept per EGS unit; older ones are deleted (0: no limit).
    #[arg(long, env = "RELAY_AUDIT_MAX_ROWS_PER_UNIT", default_value_t = 1000)]
    pub audit_max_rows_per_unit: u32,

    /// How often the audit-log retention runs, in seconds (it also runs at start).
    #[arg(long, env = "RELAY_AUDIT_PRUNE_INTERVAL_SECS", default_value_t = 3600)]
    pub audit_prune_interval_secs: u64,
}

impl Config {
    /// A configuration with every default, for tests and embedding (`Config::parse_from` with no
    /// arguments would also read the process environment).
    pub fn defaults() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: DatabaseUrl("sqlite://relay.db".into()),
            archive_url: None,
            master_key: None,
            demo: false,
            gateway: None,
            sandbox_target: SandboxTarget::DeveloperPortal,
            zatca_sandbox_url: None,
            zatca_production_url: ZATCA_PRODUCTION_URL.into(),
            zatca_timeout_secs: 30,
            sandbox_default_otp: SecretString::new("123345"),
            plans: Plans::default(),
            default_plan: "solo".into(),
            allow_signup: true,
            egs_solution_name: "ZatcaRelay".into(),
            worker_concurrency: 4,
            worker_poll_ms: 1000,
            job_max_attempts: 8,
            job_backoff_ms: 2000,
            webhook_max_attempts: 10,
            webhook_backoff_ms: 30_000,
            webhook_timeout_secs: 10,
            webhook_allow_private_targets: false,
            demo_dir: None,
            log_format: LogFormat::Text,
            log: "info,zatca_relay=info".into(),
            shutdown_grace_secs: 10,
            allow_production_signup: None,
            inline_submit_ms: 3000,
            unit_concurrency: 4,
            max_connections: 4096,
            max_concurrent_requests: 128,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            body_limit_bytes: 2 * 1024 * 1024,
            rate_limit_per_second: 1000,
            rate_limit_burst: 2000,
            idle_timeout_secs: 60,
            audit_retention_days: 90,
            audit_max_rows_per_unit: 1000,
            audit_prune_interval_secs: 3600,
        }
    }

    /// Whether sign-up may create production accounts (default: only in demo mode).
    pub fn production_signup_allowed(&self) -> bool {
        self.allow_production_signup.unwrap_or(self.demo)
    }

    /// The gateway in effect (`sim` in demo mode unless set).
    pub fn effective_gateway(&self) -> Gateway {
        self.gateway
            .unwrap_or(if self.demo { Gateway::Sim } else { Gateway::Zatca })
    }

    /// The base URL for sandbox units when talking to ZATCA.
    pub fn sandbox_url(&self) -> String {
        self.zatca_sandbox_url
            .clone()
            .unwrap_or_else(|| match self.sandbox_target {
                SandboxTarget::DeveloperPortal => ZATCA_DEVELOPER_PORTAL_URL.into(),
                SandboxTarget::Simulation => ZATCA_SIMULATION_URL.into(),
            })
    }
}

/// Where units' ZATCA calls go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Gateway {
    /// In-process simulators.
    Sim,
    /// ZATCA's real gateways (or the URLs given).
    Zatca,
}

/// The ZATCA environment that serves sandbox units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SandboxTarget {
    /// The developer portal (CSR template `TSTZATCA-Code-Signing`, fixed OTP).
    DeveloperPortal,
    /// The simulation environment (CSR template `PREZATCA-Code-Signing`).
    Simulation,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A database URL. `Debug` hides everything after the scheme because PostgreSQL URLs carry a
/// password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// A database URL.
    pub fn new(url: impl Into<String>) -> Self {
        DatabaseUrl(url.into())
    }

    /// The URL itself (never log it).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The file path of a SQLite URL (`None` for in-memory databases or other schemes).
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self
            .0
            .strip_prefix("sqlite://")
            .or_else(|| self.0.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            None
        } else {
            Some(PathBuf::from(path))
        }
    }

    /// The scheme, safe to log.
    pub fn scheme(&self) -> &str {
        self.0.split(':').next().unwrap_or_default()
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sqlite_path() {
            Some(path) => write!(f, "DatabaseUrl(sqlite://{})", path.display()),
            None => write!(f, "DatabaseUrl({}://[redacted])", self.scheme()),
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if ["sqlite:", "postgres:", "postgresql:"].iter().any(|p| s.starts_with(p)) {
            Ok(DatabaseUrl(s.to_owned()))
        } else {
            Err("expected a sqlite:// or postgres:// URL".into())
        }
    }
}

/// Unit quotas of one plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Sandbox units allowed.
    pub sandbox: u32,
    /// Production units allowed.
    pub production: u32,
}

/// All plans, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plans(pub BTreeMap<String, Quota>);

impl Default for Plans {
    fn default() -> Self {
        "solo=5:1,business=20:5,enterprise=200:50"
            .parse()
            .unwrap_or(Plans(BTreeMap::new()))
    }
}

impl Plans {
    /// The quota of a plan (`None` for an unknown plan).
    pub fn quota(&self, plan: &str) -> Option<Quota> {
        self.0.get(plan).copied()
    }
}

impl FromStr for Plans {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut plans = BTreeMap::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, quotas) = item
                .split_once('=')
                .ok_or_else(|| format!("`{item}`: expected name=SANDBOX:PRODUCTION"))?;
            let (sandbox, production) = quotas
                .split_once(':')
                .ok_or_else(|| format!("`{item}`: expected name=SANDBOX:PRODUCTION"))?;
            let parse = |v: &str| {
                v.trim()
                    .parse::<u32>()
                    .map_err(|_| format!("`{item}`: `{v}` is not a number"))
            };
            plans.insert(
                name.trim().to_owned(),
                Quota {
                    sandbox: parse(sandbox)?,
                    production: parse(production)?,
                },
            );
        }
        if plans.is_empty() {
            return Err("at least one plan is needed".into());
        }
        Ok(Plans(plans))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_debug_hides_credentials() {
        let url = DatabaseUrl("postgres://relay:hunter2@db.internal/relay".into());
        let shown = format!("{url:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("db.internal"), "{shown}");
        let sqlite = DatabaseUrl::new("sqlite://data/relay.db?mode=rwc");
        assert_eq!(format!("{sqlite:?}"), "DatabaseUrl(sqlite://data/relay.db)");
    }

    #[test]
    fn config_debug_hides_master_key_and_otp() {
        let mut config = Config::defaults();
        config.master_key = Some(SecretString::new("c2VjcmV0LW1hc3Rlci1rZXktYnl0ZXMtMzItbG9uZyE="));
        let shown = format!("{config:?}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
        assert!(!shown.contains("123345"), "{shown}");
    }

    #[test]
    fn parses_plans() {
        let plans: Plans = "solo=5:1, team=10:3".parse().expect("plans");
        assert_eq!(
            plans.quota("solo"),
            Some(Quota {
                sandbox: 5,
                production: 1
            })
        );
        assert_eq!(
            plans.quota("team"),
            Some(Quota {
                sandbox: 10,
                production: 3
            })
        );
        assert!("solo=5".parse::<Plans>().is_err());
        assert!("solo=a:1".parse::<Plans>().is_err());
        assert!(Plans::default().quota("solo").is_some());
    }

    #[test]
    fn flags_and_env_parse() {
        let config = Config::try_parse_from([
            "zatca-relay",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "sqlite://x.db",
            "--plans",
            "solo=1:1",
            "--allow-signup",
            "false",
        ])
        .expect("parse");
        assert_eq!(config.listen.port(), 0);
        assert!(!config.allow_signup);
        assert_eq!(config.effective_gateway(), Gateway::Zatca);
        assert_eq!(config.sandbox_url(), ZATCA_DEVELOPER_PORTAL_URL);
        assert!(Config::try_parse_from(["zatca-relay", "--database-url", "mysql://x"]).is_err());
    }
}
