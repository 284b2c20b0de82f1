//! Shared helpers of the HTTP tests: simulators, a relay on `127.0.0.1:0` over a SQLite file in
//! a temporary directory, a recording proxy between the two, the HTTP client, status polling,
//! and a global log capture to assert that no secret is ever logged.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use zatca_relay::config::{Config, DatabaseUrl, Gateway};
use zatca_relay::secret::SecretString;
use zatca_relay::{RelayHandle, spawn};
use zatca_sim::{Environment as SimEnv, SimConfig, SimHandle};

/// The master key of every test relay (32 bytes, base64).
pub const MASTER_KEY: &str = "cmVsYXktdGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzISE=";

// ---------------------------------------------------------------------------------------------
// Log capture

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut inner) = self.0.lock() {
            inner.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

static LOGS: OnceLock<Buffer> = OnceLock::new();

/// Installs (once) a global subscriber that records the relay's logs at TRACE level and every
/// other crate's at DEBUG (the simulators' own logs are left out: they are not the relay's).
pub fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = Buffer::default();
        let filter = tracing_subscriber::EnvFilter::new("debug,zatca_relay=trace,zatca_sim=off");
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(buffer.clone())
            .with_ansi(false)
            .try_init();
        buffer
    });
}

/// Everything logged so far.
pub fn logs() -> String {
    LOGS.get()
        .and_then(|b| b.0.lock().ok().map(|v| String::from_utf8_lossy(&v).into_owned()))
        .unwrap_or_default()
}

/// Panics if any of `secrets` appears in the captured logs.
pub fn assert_not_logged(secrets: &[&str]) {
    let logs = logs();
    assert!(!logs.is_empty(), "no logs were captured");
    for secret in secrets {
        assert!(!secret.is_empty());
        assert!(
            !logs.contains(secret),
            "a secret ({}…) appears in the logs",
            &secret[..secret.len().min(6)]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Simulators and relays

/// The two simulators: sandbox (fixed OTP 123345) and production (single-use OTPs only).
pub struct Sims {
    pub sandbox: SimHandle,
    pub production: SimHandle,
}

impl Sims {
    pub async fn start() -> Sims {
        let sandbox = zatca_sim::spawn(SimConfig::for_environment(SimEnv::Sandbox))
            .await
            .expect("sandbox sim");
        let production = zatca_sim::spawn(SimConfig {
            fixed_otps: vec![],
            ..SimConfig::for_environment(SimEnv::Production)
        })
        .await
        .expect("production sim");
        Sims { sandbox, production }
    }

    /// A fresh single-use OTP from the production simulator (as from the Fatoora portal).
    pub fn production_otp(&self) -> String {
        self.production.issue_otp(Duration::from_secs(3600))
    }
}

/// A test relay's configuration: SQLite in `dir`, the given gateway URLs, fast worker.
pub fn relay_config(dir: &Path, sandbox_url: &str, production_url: &str) -> Config {
    let mut config = Config::defaults();
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.database_url = database_url(dir);
    config.master_key = Some(SecretString::new(MASTER_KEY));
    config.gateway = Some(Gateway::Zatca);
    config.zatca_sandbox_url = Some(sandbox_url.to_owned());
    config.zatca_production_url = production_url.to_owned();
    config.zatca_timeout_secs = 5;
    config.worker_poll_ms = 50;
    config.job_backoff_ms = 100;
    config.job_max_attempts = 50;
    config.shutdown_grace_secs = 2;
    config.demo_dir = Some(dir.join("no-demo"));
    // The operator setting that lets sign-up hand out production keys (off outside demo mode).
    config.allow_production_signup = Some(true);
    config
}

pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("relay.db")
}

/// The PostgreSQL server the tests run against (`RELAY_TEST_DATABASE_URL`, set by
/// scripts/postgres.sh), else None: SQLite.
pub fn postgres_url() -> Option<String> {
    std::env::var("RELAY_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())
}

/// The database of a test whose files live in `dir`: `dir/relay.db` on SQLite; on PostgreSQL
/// a schema of its own, named after `dir` (the same one again when a relay restarts over it).
pub fn database_url(dir: &Path) -> DatabaseUrl {
    match postgres_url() {
        Some(server) => {
            use std::hash::{Hash as _, Hasher as _};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            dir.hash(&mut hasher);
            let schema = format!("t_{:016x}", hasher.finish());
            DatabaseUrl::new(zatca_relay::store::postgres::test_schema_url(&server, &schema).expect("test schema"))
        }
        None => DatabaseUrl::new(format!("sqlite://{}", db_path(dir).display())),
    }
}

/// Everything the database of `dir` holds, as bytes to search for secrets: the SQLite files,
/// or on PostgreSQL every row of the test's schema as text (BYTEA as hex).
pub fn stored_bytes(dir: &Path) -> Vec<u8> {
    let Some(_) = postgres_url() else {
        return database_bytes(&db_path(dir));
    };
    let url = database_url(dir).expose().to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(connection);
            let tables = client
                .query(
                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
                    &[],
                )
                .await
                .expect("tables");
            let mut all = Vec::new();
            for table in tables {
                let name: String = table.get(0);
                let sql = format!("SELECT COALESCE(string_agg(t::text, E'\\n'), '') FROM \"{name}\" t");
                let text: String = client.query_one(&sql, &[]).await.expect("dump").get(0);
                all.extend(text.into_bytes());
            }
            all
        })
    })
    .join()
    .expect("dump thread")
}

/// Makes every save of a row of `table` in the test database of `dir` lose, as if another
/// writer always changed the row first (`on`), or stops doing so: a trigger that skips each
/// update of the table (SQLite `RAISE(IGNORE)`, PostgreSQL `RETURN NULL`), so a conditional
/// save of the relay finds no row to change. The relay's optimistic retries are then exhausted
/// without any hook in its code.
#[allow(dead_code, reason = "not every test binary loses saves")]
pub async fn lose_every_save(dir: &Path, table: &str, on: bool) {
    match postgres_url() {
        None => {
            let sql = if on {
                format!("CREATE TRIGGER lose_every_save BEFORE UPDATE ON {table} BEGIN SELECT RAISE(IGNORE); END;")
            } else {
                "DROP TRIGGER lose_every_save;".to_owned()
            };
            let path = db_path(dir);
            tokio::task::spawn_blocking(move || {
                let db = rusqlite::Connection::open(path).expect("open the test database");
                db.busy_timeout(Duration::from_secs(10)).expect("busy timeout");
                db.execute_batch(&sql).expect("trigger");
            })
            .await
            .expect("sqlite thread");
        }
        Some(_) => {
            let sql = if on {
                format!(
                    "CREATE OR REPLACE FUNCTION lose_every_save() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$; \
                     CREATE TRIGGER lose_every_save BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION lose_every_save();"
                )
            } else {
                format!("DROP TRIGGER lose_every_save ON {table};")
            };
            let url = database_url(dir).expose().to_owned();
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            let connection = tokio::spawn(connection);
            client.batch_execute(&sql).await.expect("trigger");
            drop(client);
            let _ = connection.await;
        }
    }
}

/// A relay with its simulators and temporary directory.
pub struct TestRelay {
    pub relay: RelayHandle,
    pub sims: Sims,
    pub dir: tempfile::TempDir,
    pub http: Client,
}

impl TestRelay {
    /// Sims + relay talking to them directly.
    pub async fn start() -> TestRelay {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> TestRelay {
        capture_logs();
        let sims = Sims::start().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = relay_config(dir.path(), &sims.sandbox.base_url, &sims.production.base_url);
        configure(&mut config);
        let relay = spawn(config).await.expect("relay");
        let http = Client::new(&relay.base_url);
        TestRelay { relay, sims, dir, http }
    }

    pub fn db_path(&self) -> PathBuf {
        db_path(self.dir.path())
    }
}

// ---------------------------------------------------------------------------------------------
// A recording proxy (relay → proxy → simulator) that can also fail chosen paths

/// One exchange seen by the proxy.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub response: String,
}

#[derive(Clone)]
struct ProxyState {
    target: String,
    client: reqwest::Client,
    seen: Arc<Mutex<Vec<Seen>>>,
    fail: Arc<Mutex<Vec<String>>>,
}

/// A proxy in front of a simulator.
pub struct Proxy {
    pub base_url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    fail: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: &str) -> Proxy {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let fail = Arc::new(Mutex::new(Vec::new()));
        let state = ProxyState {
            target: target.to_owned(),
            client: reqwest::Client::new(),
            seen: seen.clone(),
            fail: fail.clone(),
        };
        let app = axum::Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Proxy {
            base_url: format!("http://{addr}"),
            seen,
            fail,
            task,
        }
    }

    /// Answer `503` to requests whose path ends with `suffix` (without forwarding them).
    pub fn fail_path(&self, suffix: &str) {
        if let Ok(mut fail) = self.fail.lock() {
            fail.push(suffix.to_owned());
        }
    }

    pub fn heal(&self) {
        if let Ok(mut fail) = self.fail.lock() {
            fail.clear();
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Every `secret` of CSID responses that went through the proxy.
    pub fn csid_secrets(&self) -> Vec<String> {
        self.seen()
            .iter()
            .filter_map(|s| serde_json::from_str::<Value>(&s.response).ok())
            .filter_map(|v| v.get("secret").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    State(state): State<ProxyState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let failing = state
        .fail
        .lock()
        .map(|f| f.iter().any(|s| uri.path().ends_with(s.as_str())))
        .unwrap_or(false);
    if failing {
        let body = json!({"category": "HTTP-Errors", "code": "503", "message": "Service temporarily unavailable (test proxy)"});
        if let Ok(mut seen) = state.seen.lock() {
            seen.push(Seen {
                method: method.to_string(),
                path,
                status: 503,
                response: body.to_string(),
            });
        }
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    }
    let mut request = state
        .client
        .request(method.clone(), format!("{}{}", state.target, path))
        .body(body.to_vec());
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            let content_type = response.headers().get("content-type").cloned();
            let text = response.text().await.unwrap_or_default();
            if let Ok(mut seen) = state.seen.lock() {
                seen.push(Seen {
                    method: method.to_string(),
                    path,
                    status: status.as_u16(),
                    response: text.clone(),
                });
            }
            let mut out = (status, text).into_response();
            if let Some(ct) = content_type {
                out.headers_mut().insert("content-type", ct);
            }
            out
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// The relay's HTTP API

/// A JSON client of the relay.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            base: base.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn send(&self, method: Method, path: &str, key: Option<&str>, body: Option<&Value>) -> (u16, Value) {
        self.send_with(method, path, key, body, &[]).await
    }

    /// [`Client::send`] with extra request headers (e.g. `Idempotency-Key`).
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("relay answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text })),
        )
    }

    /// A POST with a key and, if given, an `Idempotency-Key`.
    pub async fn post_idempotent(
        &self,
        path: &str,
        key: &str,
        idempotency: Option<&str>,
        body: &Value,
    ) -> (u16, Value) {
        let headers: Vec<(&str, &str)> = idempotency.map(|k| ("Idempotency-Key", k)).into_iter().collect();
        self.send_with(Method::POST, path, Some(key), Some(body), &headers)
            .await
    }

    /// A GET with a key, the answer as it came (for downloads: XML, PDF, their headers).
    pub async fn download(&self, path: &str, key: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(key)
            .send()
            .await
            .expect("relay answers")
    }

    /// `GET /v1/invoices/{id}/xml`, expecting 200: the signed (or cleared) document.
    pub async fn xml(&self, key: &str, id: &str) -> Vec<u8> {
        let response = self.download(&format!("/v1/invoices/{id}/xml"), key).await;
        assert_eq!(response.status(), 200, "XML of invoice {id}");
        response.bytes().await.expect("xml").to_vec()
    }

    pub async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        self.send(Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        self.send(Method::POST, path, Some(key), Some(&body)).await
    }

    /// The unit's `invoice_counter` (its last ICV) from `GET /v1/egs/{unit}/status`.
    pub async fn invoice_counter(&self, key: &str, unit: &str) -> u64 {
        let (status, body) = self.get(&format!("/v1/egs/{unit}/status"), key).await;
        assert_eq!(status, 200, "{body}");
        body["invoice_counter"].as_u64().expect("invoice_counter")
    }

    /// `POST /v1/onboard`: the new account's first key.
    pub async fn onboard(&self, environment: &str) -> String {
        let (status, body) = self
            .send(
                Method::POST,
                "/v1/onboard",
                None,
                Some(&json!({"name": "Test Co", "environment": environment})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["api_key"]["key"].as_str().expect("key").to_owned()
    }

    /// `POST /v1/egs`, expecting 200: the unit id.
    pub async fn create_unit(&self, key: &str, body: Value) -> String {
        let (status, created) = self.post("/v1/egs", key, body).await;
        assert_eq!(status, 200, "{created}");
        assert_eq!(created["onboarding_status"], "pending", "{created}");
        created["egs_unit_id"].as_str().expect("id").to_owned()
    }

    /// A unit created with `body` and taken to `active` (a sandbox unit onboards itself): the
    /// unit id and its final status.
    pub async fn active_unit(&self, key: &str, body: Value) -> (String, Value) {
        let unit = self.create_unit(key, body).await;
        let status = self.wait_for(key, &unit, &["active", "failed"]).await;
        assert_eq!(status["onboarding_status"], "active", "{status}");
        (unit, status)
    }

    /// Polls the status until `onboarding_status` is one of `wanted` (or 20 s pass).
    pub async fn wait_for(&self, key: &str, unit: &str, wanted: &[&str]) -> Value {
        let started = Instant::now();
        loop {
            let (status, body) = self.get(&format!("/v1/egs/{unit}/status"), key).await;
            assert_eq!(status, 200, "{body}");
            let current = body["onboarding_status"].as_str().unwrap_or_default().to_owned();
            if wanted.contains(&current.as_str()) {
                return body;
            }
            // A bound, not a timing: onboarding signs six documents in a debug build, which on a
            // busy 2-core machine took over 20 s.
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "still {current} after 90 s: {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A seller profile for production units.
pub fn seller() -> Value {
    json!({
        "name": "Acme Trading LLC",
        "name_ar": "شركة أكمي للتجارة",
        "vat_number": "310122393500003",
        "crn": "1010101010",
        "address": {
            "street": "King Fahd Road",
            "building_number": "1234",
            "district": "Al Olaya",
            "city": "Riyadh",
            "postal_code": "12211",
            "country": "SA"
        },
        "branch": "Riyadh Branch",
        "industry": "Retail"
    })
}

/// Every file of the SQLite database (main file, WAL, shared memory), concatenated.
pub fn database_bytes(db: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{suffix}", db.display()));
        if let Ok(bytes) = std::fs::read(&path) {
            all.extend(bytes);
        }
    }
    all
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The `path` of every detail of an error envelope, in order.
pub fn detail_paths(body: &Value) -> Vec<&str> {
    body["error"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["path"].as_str())
        .collect()
}

/// Panics unless `body` is the error envelope with `code`, a message and a retryable flag.
pub fn assert_envelope(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["error"]["retryable"].is_boolean(), "{body}");
}

// ---------------------------------------------------------------------------------------------
// The relay as a separate process (for kill -9 and resource-limit tests)

pub struct RelayProcess {
    pub child: std::process::Child,
    pub addr: std::net::SocketAddr,
}

impl RelayProcess {
    /// Starts `zatca-relay` on a free port over `dir/relay.db`, with `nofile` as its open-file
    /// limit and the extra flags.
    pub fn start(dir: &Path, sandbox_url: &str, nofile: u32, extra: &[&str]) -> RelayProcess {
        Self::start_with_env(dir, sandbox_url, nofile, extra, &[])
    }

    /// [`RelayProcess::start`] with extra environment variables for the relay.
    pub fn start_with_env(
        dir: &Path,
        sandbox_url: &str,
        nofile: u32,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> RelayProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let mut args = vec![
            format!("ulimit -n {nofile} && exec \"$0\" \"$@\""),
            env!("CARGO_BIN_EXE_zatca-relay").to_owned(),
            "--listen".into(),
            addr.to_string(),
            "--database-url".into(),
            database_url(dir).expose().to_owned(),
            "--gateway".into(),
            "zatca".into(),
            "--zatca-sandbox-url".into(),
            sandbox_url.into(),
            "--zatca-production-url".into(),
            sandbox_url.into(),
            "--worker-poll-ms".into(),
            "50".into(),
            "--job-backoff-ms".into(),
            "100".into(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let child = std::process::Command::new("sh")
            .arg("-c")
            .args(&args)
            .env("RELAY_MASTER_KEY", MASTER_KEY)
            .env("RELAY_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn relay");
        let process = RelayProcess { child, addr };
        let started = Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "relay did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        process
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// The simulator as its own process (the `zatca-sim` binary of relay/sim)

/// A `zatca-sim` process on a free port of 127.0.0.1, driven over its `/admin/*` endpoints.
pub struct SimProcess {
    child: std::process::Child,
    /// Kept open: the simulator writes nothing after its first line, but must never get EPIPE.
    _stdout: std::io::BufReader<std::process::ChildStdout>,
    /// `http://127.0.0.1:PORT`, as the simulator printed it.
    pub base_url: String,
    http: reqwest::Client,
}

impl SimProcess {
    /// Starts `zatca-sim --port 0` with `args` (e.g. `--environment production`) and waits for
    /// its `listening on ADDR` line. Blocking (call it from `spawn_blocking`).
    pub fn start(args: &[&str]) -> SimProcess {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new(sim_binary())
            .args(["--port", "0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("spawn zatca-sim");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("zatca-sim's first line");
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            panic!("zatca-sim did not say where it listens: {line:?}");
        };
        SimProcess {
            base_url: format!("http://{addr}"),
            child,
            _stdout: stdout,
            http: reqwest::Client::new(),
        }
    }

    /// `GET /admin/counters`.
    pub async fn counters(&self) -> zatca_sim::Counters {
        let response = self
            .http
            .get(format!("{}/admin/counters", self.base_url))
            .send()
            .await
            .expect("simulator answers");
        assert_eq!(response.status(), 200, "GET /admin/counters");
        response.json().await.expect("counters")
    }

    /// `POST /admin/faults` with a partial update (`{"error_rate": 0.05, …}`): the faults now
    /// in force.
    pub async fn set_faults(&self, patch: Value) -> zatca_sim::Faults {
        let response = self
            .http
            .post(format!("{}/admin/faults", self.base_url))
            .json(&patch)
            .send()
            .await
            .expect("simulator answers");
        assert_eq!(response.status(), 200, "POST /admin/faults");
        response.json().await.expect("faults")
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `zatca-sim` executable. `CARGO_BIN_EXE_*` names only this package's binaries, so it is
/// looked for next to them (in `target/<profile>/`, where `cargo test --workspace` puts it), and
/// built there with `cargo build -p zatca-sim` when it is missing or older than the sources it
/// is built from (e.g. `cargo test -p zatca-relay` from a fresh clone). Decided once per test
/// binary.
pub fn sim_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            // The test executable is target/<profile>/deps/<test>-<hash>.
            let exe = std::env::current_exe().expect("test executable");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("target/<profile>/deps")
                .to_owned();
            let binary = profile_dir.join(format!("zatca-sim{}", std::env::consts::EXE_SUFFIX));
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            if !is_fresh(&binary, &workspace) {
                build_sim(&workspace, &profile_dir);
            }
            assert!(binary.is_file(), "no zatca-sim at {}", binary.display());
            binary
        })
        .clone()
}

/// Whether `binary` exists and is newer than every source of zatca-sim and its path
/// dependencies, and than Cargo.lock. (Cargo itself would rebuild it with this package's
/// feature set rather than the workspace's, so it is asked only when needed.)
fn is_fresh(binary: &Path, workspace: &Path) -> bool {
    let Ok(built) = std::fs::metadata(binary).and_then(|m| m.modified()) else {
        return false;
    };
    // zatca-sim's path dependencies (relay/sim/Cargo.toml): zatca-core and zatca-rules.
    let sources = ["relay/sim", "wasm/core", "wasm/rules", "Cargo.lock", "Cargo.toml"];
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    for source in sources {
        let path = workspace.join(source);
        assert!(path.exists(), "{} is gone: update sim_binary()", path.display());
        newest = newest.max(newest_mtime(&path));
    }
    built >= newest
}

fn newest_mtime(path: &Path) -> std::time::SystemTime {
    let meta = std::fs::metadata(path).expect("source metadata");
    let mut newest = meta.modified().expect("mtime");
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).expect("source dir").flatten() {
            let name = entry.file_name();
            // Build outputs and fixtures of other tools are not sources of the binary.
            if name == "target" || name == "node_modules" || name.to_string_lossy().starts_with('.') {
                continue;
            }
            newest = newest.max(newest_mtime(&entry.path()));
        }
    }
    newest
}

fn build_sim(workspace: &Path, profile_dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let target_dir = profile_dir.parent().expect("target dir");
    let mut command = std::process::Command::new(cargo);
    command
        .current_dir(workspace)
        .args([
            "build",
            "--quiet",
            "--locked",
            "-p",
            "zatca-sim",
            "--bin",
            "zatca-sim",
            "--target-dir",
        ])
        .arg(target_dir);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(profile) => {
            command.args(["--profile", profile]);
        }
        None => panic!("unexpected target layout: {}", profile_dir.display()),
    }
    let status = command.status().expect("run cargo build -p zatca-sim");
    assert!(status.success(), "cargo build -p zatca-sim failed: {status}");
}
