//! `zatca-relay`: parses the configuration (flags and `RELAY_*` environment variables), sets up
//! logging and runs the relay until Ctrl-C or SIGTERM.

use clap::Parser;
use zatca_relay::config::Config;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    zatca_relay::init_tracing(&config);
    match zatca_relay::run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "relay failed");
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
