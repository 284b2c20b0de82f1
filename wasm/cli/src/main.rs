//! `zatca`: keys, CSR, build, sign, hash, QR and verify ZATCA Phase 2 documents from the shell.
//!
//! A thin adapter over `zatca-core`: it reads files, supplies the clock-free core with the
//! randomness it needs (key generation, UUIDs), and prints results or structured errors.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use zatca_core::cert::Certificate;
use zatca_core::chain::INITIAL_PIH;
use zatca_core::csr::{self, CsrConfig, Environment};
use zatca_core::keys::PrivateKey;
use zatca_core::model::InvoiceInput;
use zatca_core::sign::{self, Signer};
use zatca_core::ubl::{self, ChainInputs};
use zatca_core::{Error, Issue, Severity, hash, qr, verify};

mod clock;

#[derive(Parser)]
#[command(
    name = "zatca",
    version,
    about = "Build, sign, hash, verify and QR-encode ZATCA (Fatoora) Phase 2 e-invoices"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Env {
    Sandbox,
    Simulation,
    Production,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a secp256k1 private key (SEC1 PEM on stdout).
    Keygen {
        /// Write PKCS#8 ("PRIVATE KEY") instead of SEC1 ("EC PRIVATE KEY").
        #[arg(long)]
        pkcs8: bool,
    },
    /// Make the onboarding CSR (PEM on stdout) from an EGS config (JSON or the SDK's .properties).
    Csr {
        /// EGS unit configuration: JSON with common_name, serial_number, organization_identifier,
        /// organization_unit, organization_name, country, invoice_type, location_address,
        /// industry_business_category — or the SDK's csr-config .properties file.
        #[arg(long)]
        config: PathBuf,
        /// Private key (PEM, or the SDK's unarmoured base64).
        #[arg(long)]
        key: PathBuf,
        /// Target environment (decides the certificate template name).
        #[arg(long, value_enum, default_value = "sandbox")]
        env: Env,
        /// Print the API form instead (base64 of the PEM: the `csr` field of POST /compliance).
        #[arg(long)]
        base64: bool,
    },
    /// Build the unsigned UBL XML of a JSON invoice.
    Build {
        /// Invoice JSON.
        input: PathBuf,
        #[command(flatten)]
        chain: ChainArgs,
    },
    /// Sign a JSON invoice (built first) or an unsigned UBL XML (signed as given).
    Sign {
        /// Invoice JSON or unsigned XML.
        input: PathBuf,
        /// Private key (PEM, or the SDK's unarmoured base64).
        #[arg(long)]
        key: PathBuf,
        /// Certificate / CSID (PEM, or unarmoured base64 DER).
        #[arg(long)]
        cert: PathBuf,
        #[command(flatten)]
        chain: ChainArgs,
        /// Signing time `yyyy-MM-ddTHH:mm:ss` (default: the invoice's issue date and time).
        #[arg(long)]
        signing_time: Option<String>,
        /// Sign even when the certificate was not issued for this key (ZATCA's sandbox does that).
        #[arg(long)]
        allow_key_mismatch: bool,
    },
    /// Print the invoice hash (base64) of an XML document.
    Hash {
        /// XML document, signed or not.
        file: PathBuf,
    },
    /// Decode a signed document's QR code; optionally write it as SVG or PNG.
    Qr {
        /// Signed XML document (or any invoice with `--phase1`).
        file: PathBuf,
        /// Make the Phase 1 QR (tags 1–5, no signature) from the document's fields instead.
        #[arg(long)]
        phase1: bool,
        /// Write an SVG image here.
        #[arg(long)]
        svg: Option<PathBuf>,
        /// Write a PNG image here.
        #[arg(long)]
        png: Option<PathBuf>,
    },
    /// Render a signed or cleared document as a bilingual PDF/A-3b (PDF on stdout, XML embedded).
    Pdf {
        /// Signed or cleared XML document.
        file: PathBuf,
        /// Write the PDF here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Check a UBL document against ZATCA's rules (those implemented: see docs/rules.md). Exit
    /// status 0 when there is no error (warnings allowed), 1 when there are errors.
    Validate {
        /// XML document, signed or not, ours or anyone's; or a JSON request (the input model,
        /// detected by content), checked by the core and by ZATCA's rules on the XML the core
        /// writes from it.
        file: PathBuf,
        /// Expected previous invoice hash (base64), compared with the document's PIH.
        #[arg(long)]
        pih: Option<String>,
        /// Print `{"valid": bool, "issues": [{"rule", "severity", "location", "message", "message_ar", …}]}`.
        #[arg(long)]
        json: bool,
        /// The current time in UTC, `YYYY-MM-DDTHH:MM:SS`, for the date rules (BR-KSA-04 issue date
        /// in the future, BR-KSA-98 simplified document older than 24 hours); default: the clock.
        /// Set it for reproducible runs.
        #[arg(long)]
        now: Option<String>,
        /// The document is not signed yet: do not ask for what signing adds (the cryptographic
        /// stamp, BR-KSA-28, 29, 30, 60, and the QR code, BR-KSA-27).
        #[arg(long)]
        unsigned: bool,
    },
    /// Recompute hash, signature, SignedProperties digest and QR of a signed document.
    Verify {
        /// Signed XML document.
        file: PathBuf,
        /// Expected previous invoice hash.
        #[arg(long)]
        pih: Option<String>,
    },
}

#[derive(clap::Args)]
struct ChainArgs {
    /// Invoice counter value (ICV) [default: 1].
    #[arg(long)]
    icv: Option<u64>,
    /// Previous invoice hash, base64 [default: the initial PIH of a new EGS unit].
    #[arg(long)]
    pih: Option<String>,
    /// Document UUID [default: a new random UUID].
    #[arg(long)]
    uuid: Option<String>,
}

impl ChainArgs {
    fn resolve(&self) -> Result<ChainInputs, Failure> {
        Ok(ChainInputs {
            icv: self.icv.unwrap_or(1),
            pih: self.pih.clone().unwrap_or_else(|| INITIAL_PIH.to_owned()),
            uuid: match &self.uuid {
                Some(u) => u.clone(),
                None => random_uuid()?,
            },
        })
    }
}

/// Why a command failed.
enum Failure {
    /// Structured errors from the core.
    Core(Error),
    /// Anything else (files, randomness).
    Other(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Core(e)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    fs::read(path).map_err(|e| Failure::Other(format!("cannot read {}: {e}", path.display())))
}

fn read_text(path: &Path) -> Result<String, Failure> {
    String::from_utf8(read(path)?).map_err(|_| Failure::Other(format!("{} is not UTF-8 text", path.display())))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    fs::write(path, bytes).map_err(|e| Failure::Other(format!("cannot write {}: {e}", path.display())))
}

fn random_bytes<const N: usize>() -> Result<[u8; N], Failure> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| Failure::Other(format!("no randomness available: {e}")))?;
    Ok(bytes)
}

fn random_uuid() -> Result<String, Failure> {
    let mut b = random_bytes::<16>()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

fn print_warnings(warnings: &[Issue]) {
    for w in warnings {
        eprintln!("warning: {w}");
    }
}

/// One finding of `zatca validate`'s text report: what a JSON request's findings
/// ([`zatca_rules::InputFinding`]) and a document's ([`zatca_rules::Finding`]) both have.
struct Line<'a> {
    severity: Severity,
    /// The rule id, else (a finding of the core's input checks without one) the core's code.
    id: &'a str,
    location: &'a str,
    message: &'a str,
    detail: Option<&'a str>,
    hint: Option<&'static str>,
}

impl<'a> From<&'a zatca_rules::InputFinding> for Line<'a> {
    fn from(f: &'a zatca_rules::InputFinding) -> Self {
        Line {
            severity: f.severity,
            id: f.rule.unwrap_or(f.code),
            location: &f.location,
            message: &f.message,
            detail: f.detail.as_deref(),
            hint: f.hint,
        }
    }
}

impl<'a> From<&'a zatca_rules::Finding> for Line<'a> {
    fn from(f: &'a zatca_rules::Finding) -> Self {
        Line {
            severity: f.severity,
            id: f.rule,
            location: &f.location,
            message: f.message,
            detail: f.detail.as_deref(),
            hint: f.hint,
        }
    }
}

/// Prints a `validate` report: with `--json` the report itself on stdout; else each finding on
/// stderr and, without errors, `OK (N warning(s))` on stdout. Exit status 1 with errors.
fn print_report<'a>(
    report: &impl serde::Serialize,
    valid: bool,
    lines: impl ExactSizeIterator<Item = Line<'a>>,
    json: bool,
) -> Result<ExitCode, Failure> {
    if json {
        let text = serde_json::to_string_pretty(report)
            .map_err(|e| Failure::Other(format!("cannot write the report: {e}")))?;
        out(&format!("{text}\n"))?;
    } else {
        let count = lines.len();
        for line in lines {
            let label = if line.severity == Severity::Error {
                "error"
            } else {
                "warning"
            };
            let detail = line.detail.map_or(String::new(), |d| format!(" ({d})"));
            eprintln!("{label} {} at {}: {}{detail}", line.id, line.location, line.message);
            if let Some(hint) = line.hint {
                eprintln!("  hint: {hint}");
            }
        }
        if valid {
            out(&format!("OK ({count} warning(s))\n"))?;
        }
    }
    Ok(if valid { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn out(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .map_err(|e| Failure::Other(format!("cannot write to stdout: {e}")))
}

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Keygen { pkcs8 } => {
            let key = loop {
                if let Ok(key) = PrivateKey::from_seed(random_bytes()?) {
                    break key;
                }
            };
            out(&if pkcs8 { key.to_pkcs8_pem() } else { key.to_sec1_pem() })?;
        }
        Command::Csr {
            config,
            key,
            env,
            base64,
        } => {
            let text = read_text(&config)?;
            let config = if text.trim_start().starts_with('{') {
                serde_json::from_str::<CsrConfig>(&text)
                    .map_err(|e| Failure::Other(format!("{}: {e}", config.display())))?
            } else {
                CsrConfig::from_sdk_properties(&text)?
            };
            let key = PrivateKey::parse(&read_text(&key)?)?;
            let env = match env {
                Env::Sandbox => Environment::Sandbox,
                Env::Simulation => Environment::Simulation,
                Env::Production => Environment::Production,
            };
            let csr = csr::build_csr(&config, &key, env)?;
            if base64 {
                out(&format!("{}\n", csr.api_base64()))?;
            } else {
                out(csr.pem())?;
            }
        }
        Command::Build { input, chain } => {
            let input = InvoiceInput::from_json(&read(&input)?)?;
            let built = ubl::build(&input, &chain.resolve()?)?;
            print_warnings(&built.warnings);
            out(&built.xml)?;
        }
        Command::Sign {
            input,
            key,
            cert,
            chain,
            signing_time,
            allow_key_mismatch,
        } => {
            let bytes = read(&input)?;
            let key = PrivateKey::parse(&read_text(&key)?)?;
            let cert = Certificate::parse(&read_text(&cert)?)?;
            let signer = if allow_key_mismatch {
                Signer::new_unchecked(key, cert)
            } else {
                Signer::new(key, cert)?
            };
            let is_json = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
            let signed = if is_json {
                let invoice = InvoiceInput::from_json(&bytes)?;
                sign::sign_invoice(&invoice, &chain.resolve()?, &signer, signing_time.as_deref())?
            } else {
                if chain.icv.is_some() || chain.pih.is_some() || chain.uuid.is_some() {
                    eprintln!("note: --icv/--pih/--uuid apply to JSON input; XML is signed as given");
                }
                sign::sign_xml(&bytes, &signer, signing_time.as_deref())?
            };
            print_warnings(&signed.warnings);
            eprintln!("hash: {}", signed.hash);
            out(&signed.xml)?;
        }
        Command::Hash { file } => {
            out(&format!("{}\n", hash::invoice_hash(&read(&file)?)?))?;
        }
        Command::Qr { file, phase1, svg, png } => {
            let doc_qr = if phase1 {
                sign::phase1_qr(&read(&file)?)?
            } else {
                verify::embedded_qr(&read(&file)?)?
            };
            if phase1 {
                out(&format!("{doc_qr}\n"))?;
            }
            let fields = qr::decode(&doc_qr)?;
            out(&qr::describe(&fields))?;
            if let Some(path) = svg {
                write_file(&path, qr::to_svg(&doc_qr)?.as_bytes())?;
            }
            if let Some(path) = png {
                write_file(&path, &qr::to_png(&doc_qr, 6)?)?;
            }
        }
        Command::Pdf { file, output } => {
            let pdf = zatca_pdf::render(&read(&file)?, &zatca_pdf::Options::default())
                .map_err(|e| Failure::Other(format!("{} ({})", e.message(), e.code())))?;
            match output {
                Some(path) => write_file(&path, &pdf)?,
                None => std::io::stdout()
                    .lock()
                    .write_all(&pdf)
                    .map_err(|e| Failure::Other(format!("cannot write to stdout: {e}")))?,
            }
        }
        Command::Validate {
            file,
            pih,
            json,
            now,
            unsigned,
        } => {
            let now = match now {
                Some(given) if clock::is_utc_timestamp(&given) => given,
                Some(given) => {
                    return Err(Failure::Other(format!(
                        "--now {given:?} is not a UTC time written YYYY-MM-DDTHH:MM:SS"
                    )));
                }
                None => clock::utc_now(),
            };
            let bytes = read(&file)?;
            let context = zatca_rules::Context {
                pih: pih.as_deref(),
                now: Some(&now),
                unsigned,
            };
            // A JSON request (the input model) is checked as the core and ZATCA's rules see it:
            // the core's checks, then the rules on the XML the core writes from it.
            return if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
                let report = zatca_rules::validate_input(&bytes, &context);
                print_report(&report, report.valid, report.issues.iter().map(Line::from), json)
            } else {
                let report = zatca_rules::validate(&bytes, &context);
                print_report(&report, report.valid, report.issues.iter().map(Line::from), json)
            };
        }
        Command::Verify { file, pih } => {
            let report = verify::verify(&read(&file)?, pih.as_deref())?;
            if report.is_ok() {
                out(&format!(
                    "OK {} (uuid {}, icv {})\n",
                    report.hash,
                    report.uuid,
                    report.icv.map_or("-".into(), |i| i.to_string())
                ))?;
            } else {
                eprintln!("FAILED: {} problem(s)", report.issues.len());
                for issue in &report.issues {
                    eprintln!("  - {issue}");
                }
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(Failure::Core(e)) => {
            for issue in e.issues() {
                let label = if issue.severity == Severity::Warning {
                    "warning"
                } else {
                    "error"
                };
                eprintln!("{label}: {issue}");
            }
            ExitCode::FAILURE
        }
        Err(Failure::Other(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
