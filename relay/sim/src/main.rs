//! `zatca-sim`: serves the ZATCA gateway simulator on 127.0.0.1 until Ctrl-C or SIGTERM.
//!
//! Its first line on stdout is `listening on 127.0.0.1:PORT` (with `--port 0`, the port the
//! system chose), so a parent process can start it and find it; logs go to stderr.

use std::time::Duration;

use clap::Parser;
use sha2::{Digest as _, Sha256};
use zatca_sim::{Environment, Faults, SimConfig};

/// An offline simulator of ZATCA's Fatoora e-invoicing gateway (onboarding, compliance,
/// reporting, clearance) with fault injection. Binds 127.0.0.1 only.
#[derive(Debug, Parser)]
#[command(name = "zatca-sim", version)]
struct Args {
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, env = "ZATCA_SIM_PORT", default_value_t = 8443)]
    port: u16,
    /// Environment played: decides the CSR template name accepted.
    #[arg(long, env = "ZATCA_SIM_ENVIRONMENT", value_enum, default_value_t = Environment::Sandbox)]
    environment: Environment,
    /// OTPs always accepted (repeat or comma-separate). Others come from POST /admin/otp.
    #[arg(
        long = "otp",
        env = "ZATCA_SIM_OTPS",
        value_delimiter = ',',
        default_value = "123345"
    )]
    otps: Vec<String>,
    /// Lifetime in seconds of OTPs issued by POST /admin/otp without a ttl.
    #[arg(long, env = "ZATCA_SIM_OTP_TTL_SECS", default_value_t = 3600)]
    otp_ttl_secs: u64,
    /// Any text: the CA key is derived from it, so the CA certificate is the same on every start.
    /// Without it the CA key is random.
    #[arg(long, env = "ZATCA_SIM_CA_SEED")]
    ca_seed: Option<String>,
    /// Validity of compliance certificates, days.
    #[arg(long, env = "ZATCA_SIM_COMPLIANCE_VALIDITY_DAYS", default_value_t = 365)]
    compliance_validity_days: u64,
    /// Validity of production certificates, days (ZATCA's guide: production CSIDs last one year).
    #[arg(long, env = "ZATCA_SIM_PRODUCTION_VALIDITY_DAYS", default_value_t = 365)]
    production_validity_days: u64,
    /// Latency added to every gateway request, ms.
    #[arg(long, env = "ZATCA_SIM_LATENCY_MS", default_value_t = 0)]
    latency_ms: u64,
    /// Share (0..1) of gateway requests answered 500.
    #[arg(long, env = "ZATCA_SIM_ERROR_RATE", default_value_t = 0.0)]
    error_rate: f64,
    /// Share (0..1) of gateway requests answered 429 with Retry-After.
    #[arg(long, env = "ZATCA_SIM_RATE_LIMIT_RATE", default_value_t = 0.0)]
    rate_limit_rate: f64,
    /// Retry-After of injected 429s, seconds.
    #[arg(long, env = "ZATCA_SIM_RETRY_AFTER_SECS", default_value_t = 1)]
    retry_after_secs: u64,
    /// Share (0..1) of gateway requests processed but answered only after --timeout-ms.
    #[arg(long, env = "ZATCA_SIM_TIMEOUT_RATE", default_value_t = 0.0)]
    timeout_rate: f64,
    /// How long a timed-out answer is held, ms.
    #[arg(long, env = "ZATCA_SIM_TIMEOUT_MS", default_value_t = 30_000)]
    timeout_ms: u64,
    /// Clearance switched off: the clearance endpoint answers 303.
    #[arg(long, env = "ZATCA_SIM_CLEARANCE_DISABLED")]
    clearance_disabled: bool,
}

const DAY: u64 = 86_400;

/// Ctrl-C, or SIGTERM on Unix (how test harnesses stop a child process).
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = SimConfig {
        environment: args.environment,
        fixed_otps: args
            .otps
            .into_iter()
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect(),
        otp_ttl: Duration::from_secs(args.otp_ttl_secs),
        ca_seed: args.ca_seed.map(|s| Sha256::digest(s.as_bytes()).into()),
        compliance_validity: Duration::from_secs(args.compliance_validity_days * DAY),
        production_validity: Duration::from_secs(args.production_validity_days * DAY),
        faults: Faults {
            latency_ms: args.latency_ms,
            error_rate: args.error_rate,
            rate_limit_rate: args.rate_limit_rate,
            retry_after_secs: args.retry_after_secs,
            timeout_rate: args.timeout_rate,
            timeout_ms: args.timeout_ms,
            clearance_disabled: args.clearance_disabled,
        },
        ..SimConfig::default()
    };
    let environment = config.environment;
    let handle = zatca_sim::spawn_on(config, args.port).await?;
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {}", handle.addr)?;
        stdout.flush()?;
    }
    tracing::info!(url = %handle.base_url, %environment, "zatca-sim listening (Ctrl-C to stop)");
    shutdown_signal().await?;
    tracing::info!("shutting down");
    handle.shutdown().await;
    Ok(())
}
