//! Simulator configuration: which ZATCA environment it plays, which OTPs it accepts, how long the
//! certificates it issues live, and the faults it injects.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The ZATCA environment one simulator instance plays (SPEC §10.1). It decides the CSR
/// certificate template name that `/compliance` accepts (SPEC §9.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// The developer portal (`/e-invoicing/developer-portal`): template `TSTZATCA-Code-Signing`
    /// (and, like ZATCA's sandbox, also `ZATCA-Code-Signing`).
    #[default]
    Sandbox,
    /// The simulation environment (`/e-invoicing/simulation`): template `PREZATCA-Code-Signing`.
    Simulation,
    /// Production (`/e-invoicing/core`): template `ZATCA-Code-Signing`.
    Production,
}

impl Environment {
    /// The core's environment, which owns the template names (SPEC §9.2).
    pub fn core(self) -> zatca_core::csr::Environment {
        match self {
            Environment::Sandbox => zatca_core::csr::Environment::Sandbox,
            Environment::Simulation => zatca_core::csr::Environment::Simulation,
            Environment::Production => zatca_core::csr::Environment::Production,
        }
    }

    /// The certificate template name a CSR for this environment must carry.
    pub fn template_name(self) -> &'static str {
        self.core().template_name()
    }

    /// Whether a CSR with this template name is accepted. The sandbox also accepts the
    /// production name, as ZATCA's developer portal does (its own request example uses it).
    pub fn accepts_template(self, name: &str) -> bool {
        name == self.template_name()
            || (self == Environment::Sandbox && name == Environment::Production.template_name())
    }

    /// Lowercase name (`sandbox`, `simulation`, `production`).
    pub fn as_str(self) -> &'static str {
        self.core().as_str()
    }
}

impl std::fmt::Display for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Faults injected into the gateway endpoints (not into `/admin/*`). Shares are applied
/// deterministically: with a share `r`, request number `n` (counted per fault kind) is hit when
/// `floor(n·r) > floor((n−1)·r)`, so `0.5` hits every second request and `1.0` every request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Added to every gateway request before it is handled.
    pub latency_ms: u64,
    /// Share (0..=1) of requests answered `500` with ZATCA's `HTTP-Errors` body, unprocessed.
    pub error_rate: f64,
    /// Share (0..=1) of requests answered `429 Too Many Requests` with `Retry-After`, unprocessed.
    pub rate_limit_rate: f64,
    /// `Retry-After` value (seconds) sent with injected 429s.
    pub retry_after_secs: u64,
    /// Share (0..=1) of requests that are processed (and recorded) normally but answered only
    /// after `timeout_ms`, so a client with a shorter timeout gives up after the gateway acted:
    /// the case where a resend must produce a duplicate answer, not a second invoice.
    pub timeout_rate: f64,
    /// How long a timed-out request is held before its answer is sent.
    pub timeout_ms: u64,
    /// Clearance switched off: `/invoices/clearance/single` answers `303` and reporting accepts
    /// standard documents (SPEC §10.4).
    pub clearance_disabled: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency_ms: 0,
            error_rate: 0.0,
            rate_limit_rate: 0.0,
            retry_after_secs: 1,
            timeout_rate: 0.0,
            timeout_ms: 30_000,
            clearance_disabled: false,
        }
    }
}

/// A partial update of [`Faults`]: `POST /admin/faults` body; absent fields keep their value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsPatch {
    /// See [`Faults::latency_ms`].
    pub latency_ms: Option<u64>,
    /// See [`Faults::error_rate`].
    pub error_rate: Option<f64>,
    /// See [`Faults::rate_limit_rate`].
    pub rate_limit_rate: Option<f64>,
    /// See [`Faults::retry_after_secs`].
    pub retry_after_secs: Option<u64>,
    /// See [`Faults::timeout_rate`].
    pub timeout_rate: Option<f64>,
    /// See [`Faults::timeout_ms`].
    pub timeout_ms: Option<u64>,
    /// See [`Faults::clearance_disabled`].
    pub clearance_disabled: Option<bool>,
}

impl Faults {
    /// Applies a partial update.
    pub fn apply(&mut self, patch: &FaultsPatch) {
        if let Some(v) = patch.latency_ms {
            self.latency_ms = v;
        }
        if let Some(v) = patch.error_rate {
            self.error_rate = v.clamp(0.0, 1.0);
        }
        if let Some(v) = patch.rate_limit_rate {
            self.rate_limit_rate = v.clamp(0.0, 1.0);
        }
        if let Some(v) = patch.retry_after_secs {
            self.retry_after_secs = v;
        }
        if let Some(v) = patch.timeout_rate {
            self.timeout_rate = v.clamp(0.0, 1.0);
        }
        if let Some(v) = patch.timeout_ms {
            self.timeout_ms = v;
        }
        if let Some(v) = patch.clearance_disabled {
            self.clearance_disabled = v;
        }
    }

    /// Clamps the shares into `0..=1` (NaN becomes 0).
    #[must_use]
    pub fn normalized(mut self) -> Self {
        let fix = |v: f64| if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) };
        self.error_rate = fix(self.error_rate);
        self.rate_limit_rate = fix(self.rate_limit_rate);
        self.timeout_rate = fix(self.timeout_rate);
        self
    }
}

/// Everything a simulator instance needs to start. `Default` is a sandbox that accepts the
/// developer-portal OTP `123345`, a random CA key and no faults.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The environment played (template name check, error texts).
    pub environment: Environment,
    /// OTPs that are always accepted and never used up (ZATCA's sandbox accepts `123345`).
    /// Other OTPs are issued with `POST /admin/otp` / [`crate::SimHandle::issue_otp`]; they are
    /// single-use and expire.
    pub fixed_otps: Vec<String>,
    /// Lifetime of OTPs issued without an explicit TTL (ZATCA's portal OTPs live about an hour).
    pub otp_ttl: Duration,
    /// Seed of the CA key. `Some` gives the same CA key and CA certificate on every start (for
    /// reproducible tests); `None` draws a random key.
    pub ca_seed: Option<[u8; 32]>,
    /// Validity of compliance CSID certificates (default 365 days).
    pub compliance_validity: Duration,
    /// Validity of production CSID certificates (default one year: ZATCA's integration guide says
    /// "the production CSID is valid for one year", and clients must plan their renewal on that;
    /// the SDK's own test certificate runs five years, SPEC §9.2, so this is configurable).
    pub production_validity: Duration,
    /// Simplified documents reported later than this after their issue time get the BR-KSA-98
    /// warning (HTTP 202).
    pub reporting_deadline: Duration,
    /// Request body limit; larger bodies get 413 (ZATCA: about 10 MB).
    pub max_body_bytes: usize,
    /// Faults active from the start (changeable at runtime).
    pub faults: Faults,
}

/// One day.
const DAY: Duration = Duration::from_secs(86_400);

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            environment: Environment::Sandbox,
            fixed_otps: vec!["123345".to_owned()],
            otp_ttl: Duration::from_secs(3600),
            ca_seed: None,
            compliance_validity: DAY * 365,
            production_validity: DAY * 365,
            reporting_deadline: DAY,
            max_body_bytes: 10 * 1024 * 1024,
            faults: Faults::default(),
        }
    }
}

impl SimConfig {
    /// A default configuration for `environment`.
    pub fn for_environment(environment: Environment) -> Self {
        SimConfig {
            environment,
            ..SimConfig::default()
        }
    }
}
