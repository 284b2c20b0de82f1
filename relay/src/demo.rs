//! Demo mode: two in-process ZATCA simulators (one plays the developer-portal sandbox, one
//! production), the generated master key kept next to the database file, and the banner with
//! the first curl lines.

use std::path::Path;

use anyhow::Context as _;

use crate::RelayHandle;
use crate::authority::http::BaseUrls;
use crate::secret::MasterKey;

/// The OTP the demo simulators accept any number of times (ZATCA's sandbox OTP). The
/// production simulator also issues single-use OTPs, like the Fatoora portal.
pub const DEMO_OTP: &str = "123345";

/// The two simulators of `--gateway sim`.
#[cfg(feature = "sim")]
#[derive(Debug)]
pub struct Simulators {
    /// Plays ZATCA's developer portal (sandbox units).
    pub sandbox: zatca_sim::SimHandle,
    /// Plays ZATCA's production gateway (production units).
    pub production: zatca_sim::SimHandle,
}

#[cfg(feature = "sim")]
impl Simulators {
    /// Starts both on 127.0.0.1 with free ports.
    pub async fn start() -> anyhow::Result<Self> {
        let sandbox = zatca_sim::SimConfig::for_environment(zatca_sim::Environment::Sandbox);
        let production = zatca_sim::SimConfig {
            fixed_otps: vec![DEMO_OTP.to_owned()],
            ..zatca_sim::SimConfig::for_environment(zatca_sim::Environment::Production)
        };
        let sandbox = zatca_sim::spawn(sandbox).await.context("sandbox simulator")?;
        let production = zatca_sim::spawn(production).await.context("production simulator")?;
        Ok(Simulators { sandbox, production })
    }

    /// Their base URLs.
    pub fn base_urls(&self) -> BaseUrls {
        BaseUrls {
            sandbox: self.sandbox.base_url.clone(),
            production: self.production.base_url.clone(),
        }
    }

    /// Stops both.
    pub async fn shutdown(self) {
        self.sandbox.shutdown().await;
        self.production.shutdown().await;
    }
}

/// A relay built without the `sim` feature (a production build) carries no simulator and no
/// fake certificate authority: `--gateway sim` fails at start.
#[cfg(not(feature = "sim"))]
#[derive(Debug)]
pub struct Simulators {
    never: std::convert::Infallible,
}

#[cfg(not(feature = "sim"))]
impl Simulators {
    /// Always an error: the simulator is not compiled in.
    pub async fn start() -> anyhow::Result<Self> {
        anyhow::bail!("this relay was built without the ZATCA simulator (cargo feature `sim`); use --gateway zatca")
    }

    /// Unreachable: no value exists.
    pub fn base_urls(&self) -> BaseUrls {
        match self.never {}
    }

    /// Unreachable: no value exists.
    pub async fn shutdown(self) {
        match self.never {}
    }
}

/// Reads the demo master key from `path`, or generates it and writes it with mode 0600.
pub async fn load_or_create_master_key(path: &Path) -> anyhow::Result<MasterKey> {
    match tokio::fs::read_to_string(path).await {
        Ok(text) => MasterKey::from_base64(&text).with_context(|| format!("master key file {}", path.display())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key = MasterKey::generate()?;
            write_private(path, key.to_base64().expose().as_bytes()).await?;
            tracing::warn!(
                path = %path.display(),
                "demo mode: generated a master key and stored it next to the database; set RELAY_MASTER_KEY in production"
            );
            Ok(key)
        }
        Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
    }
}

async fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(path)
        .await
        .with_context(|| format!("creating {}", path.display()))?;
    tokio::io::AsyncWriteExt::write_all(&mut file, bytes).await?;
    tokio::io::AsyncWriteExt::flush(&mut file).await?;
    Ok(())
}

/// Prints where the relay listens and the first calls to make.
pub fn print_banner(relay: &RelayHandle) {
    let base = &relay.base_url;
    let sims = relay
        .simulators()
        .map(|s| {
            let urls = s.base_urls();
            format!(
                "ZATCA simulators: sandbox {}  production {}\n",
                urls.sandbox, urls.production
            )
        })
        .unwrap_or_default();
    let demo = relay
        .state
        .demo_dir()
        .map(|d| format!("Demo page: {base}/ (from {})\n", d.display()))
        .unwrap_or_default();
    println!(
        r#"
zatca-relay {version} (demo) listening on {base}
{sims}{demo}
Try it (bash; paste line by line):

BASE={base}
curl -s -X POST $BASE/v1/onboard -H 'Content-Type: application/json' -d '{{"name":"Demo Co"}}' | tee /tmp/onboard.json
KEY=$(sed -n 's/.*"key":"\([^"]*\)".*/\1/p' /tmp/onboard.json); echo $KEY
curl -s -X POST $BASE/v1/egs -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{{"unit_name":"Main Branch POS","invoice_type":"simplified","phase":2,"otp":"{otp}","environment":"sandbox"}}' | tee /tmp/egs.json
EGS=$(sed -n 's/.*"egs_unit_id":"\([^"]*\)".*/\1/p' /tmp/egs.json); echo $EGS
curl -s $BASE/v1/egs/$EGS/status -H "Authorization: Bearer $KEY"    # repeat until "onboarding_status":"active"

Press Ctrl-C to stop.
"#,
        version = env!("CARGO_PKG_VERSION"),
        otp = DEMO_OTP,
    );
}
