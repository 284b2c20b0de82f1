//! Route tests with `oneshot` over the router: a real SQLite store in a temporary directory
//! and a tax authority that must not be called (these paths never reach ZATCA).

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::authority::{AuthorityError, CallContext, ComplianceResult, Credentials, Csid, TaxAuthority};
use crate::config::{Config, DatabaseUrl};
use crate::secret::{MasterKey, SecretString};
use crate::{AppState, app};

#[derive(Debug)]
struct Unreachable;

fn unreachable() -> AuthorityError {
    AuthorityError::Transport {
        reason: "test authority".into(),
        timeout: false,
    }
}

#[async_trait]
impl TaxAuthority for Unreachable {
    async fn report_invoice(
        &self,
        _: CallContext,
        _: &Credentials,
        _: &crate::authority::DocumentSubmission<'_>,
    ) -> Result<crate::authority::SubmissionResult, AuthorityError> {
        Err(unreachable())
    }

    async fn clear_invoice(
        &self,
        _: CallContext,
        _: &Credentials,
        _: &crate::authority::DocumentSubmission<'_>,
    ) -> Result<crate::authority::SubmissionResult, AuthorityError> {
        Err(unreachable())
    }

    async fn compliance_csid(&self, _: CallContext, _: &str, _: &SecretString) -> Result<Csid, AuthorityError> {
        Err(unreachable())
    }
    async fn compliance_invoice(
        &self,
        _: CallContext,
        _: &Credentials,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<ComplianceResult, AuthorityError> {
        Err(unreachable())
    }
    async fn production_csid(
        &self,
        _: CallContext,
        _: &Credentials,
        _: &str,
        _: Option<&SecretString>,
    ) -> Result<Csid, AuthorityError> {
        Err(unreachable())
    }
    async fn renew_production_csid(
        &self,
        _: CallContext,
        _: &Credentials,
        _: &str,
        _: &SecretString,
    ) -> Result<Csid, AuthorityError> {
        Err(unreachable())
    }
}

/// SQLite in `dir`, or with `RELAY_TEST_DATABASE_URL` a fresh schema of that PostgreSQL database.
fn test_database_url(dir: &std::path::Path) -> DatabaseUrl {
    #[cfg(feature = "postgres")]
    if let Some(server) = std::env::var("RELAY_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        let schema = format!("u_{}", uuid::Uuid::new_v4().simple());
        return DatabaseUrl::new(crate::store::postgres::test_schema_url(&server, &schema).expect("test schema"));
    }
    DatabaseUrl::new(format!("sqlite://{}", dir.join("relay.db").display()))
}

struct TestApp {
    router: axum::Router,
    _dir: tempfile::TempDir,
}

async fn test_app(configure: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::defaults();
    config.database_url = test_database_url(dir.path());
    config.demo_dir = Some(dir.path().join("no-demo-here"));
    config.allow_production_signup = Some(true);
    configure(&mut config);
    let store = crate::store::from_url(&config.database_url).await.expect("store");
    let state = AppState::new(
        store,
        Arc::new(Unreachable),
        Arc::new(config),
        MasterKey::generate().expect("key"),
    );
    TestApp {
        router: app(state),
        _dir: dir,
    }
}

impl TestApp {
    async fn call(&self, method: Method, uri: &str, key: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(key) = key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        let body = match body {
            Some(v) => {
                request = request.header("Content-Type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.raw(request.body(body).expect("request")).await
    }

    async fn raw(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let value =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({ "raw": String::from_utf8_lossy(&bytes) }));
        (status, value)
    }

    async fn onboard(&self, environment: &str) -> (String, Value) {
        let (status, body) = self
            .call(
                Method::POST,
                "/v1/onboard",
                None,
                Some(json!({"name": "Test Co", "environment": environment})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (body["api_key"]["key"].as_str().expect("key").to_owned(), body)
    }
}

fn assert_envelope(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["error"]["retryable"].is_boolean(), "{body}");
}

#[tokio::test]
async fn onboard_returns_a_sandbox_key_once() {
    let app = test_app(|_| {}).await;
    let (key, body) = app.onboard("sandbox").await;
    assert!(key.starts_with("zatca_test_"));
    assert!(key.len() >= "zatca_test_".len() + 22, "at least 128 bits");
    assert_eq!(body["plan"], "solo");
    assert_eq!(body["quotas"], json!({"sandbox": 5, "production": 1}));
    let (status, list) = app.call(Method::GET, "/v1/keys", Some(&key), None).await;
    assert_eq!(status, StatusCode::OK);
    let listed = &list["data"][0];
    assert!(listed.get("key").is_none(), "{listed}");
    assert!(!list.to_string().contains(&key));
    assert!(
        listed["masked_key"]
            .as_str()
            .expect("masked")
            .starts_with("zatca_test_")
    );
}

#[tokio::test]
async fn production_onboarding_gives_a_live_key() {
    let app = test_app(|_| {}).await;
    let (key, _) = app.onboard("production").await;
    assert!(key.starts_with("zatca_live_"));
}

#[tokio::test]
async fn missing_and_bad_keys_are_401_with_the_envelope() {
    let app = test_app(|_| {}).await;
    let (status, body) = app.call(Method::GET, "/v1/egs", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_envelope(&body, "UNAUTHORIZED");
    for bad in [
        "zatca_test_nope",
        "sk_live_123",
        "zatca_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let (status, body) = app.call(Method::GET, "/v1/egs", Some(bad), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
        assert_envelope(&body, "INVALID_API_KEY");
    }
    let request = Request::builder()
        .uri("/v1/keys")
        .header("Authorization", "Basic abc")
        .body(Body::empty())
        .expect("req");
    let (status, body) = app.raw(request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_envelope(&body, "INVALID_API_KEY");
}

#[tokio::test]
async fn unknown_routes_and_methods_use_the_envelope() {
    let app = test_app(|_| {}).await;
    let (status, body) = app.call(Method::GET, "/v1/nothing", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_envelope(&body, "NOT_FOUND");
    let (status, body) = app.call(Method::GET, "/nothing", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_envelope(&body, "NOT_FOUND");
    let (status, body) = app.call(Method::DELETE, "/v1/onboard", None, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_envelope(&body, "METHOD_NOT_ALLOWED");
    let (status, body) = app.call(Method::GET, "/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn malformed_bodies_are_400_415_or_413() {
    let app = test_app(|_| {}).await;
    let (key, _) = app.onboard("sandbox").await;
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/egs")
        .header("Authorization", format!("Bearer {key}"))
        .header("Content-Type", "application/json")
        .body(Body::from("{\"unit_name\": "))
        .expect("req");
    let (status, body) = app.raw(request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "INVALID_JSON");

    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/egs")
        .header("Authorization", format!("Bearer {key}"))
        .header("Content-Type", "text/plain")
        .body(Body::from("unit_name=x"))
        .expect("req");
    let (status, body) = app.raw(request).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_envelope(&body, "UNSUPPORTED_MEDIA_TYPE");

    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/onboard")
        .header("Content-Type", "application/json")
        .body(Body::from(vec![b' '; 3 * 1024 * 1024]))
        .expect("req");
    let (status, body) = app.raw(request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_envelope(&body, "PAYLOAD_TOO_LARGE");

    let (status, body) = app
        .call(
            Method::POST,
            "/v1/egs",
            Some(&key),
            Some(json!({"unit_name": "x", "phase": 3})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "VALIDATION_ERROR");
    assert_eq!(body["error"]["details"][0]["path"], "phase");

    let (status, body) = app
        .call(
            Method::POST,
            "/v1/egs",
            Some(&key),
            Some(json!({"unit_name": "x", "invoice_type": "mixed"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "VALIDATION_ERROR");
    assert_eq!(body["error"]["details"][0]["path"], "invoice_type");

    let (status, body) = app
        .call(Method::POST, "/v1/egs", Some(&key), Some(json!({"phase": 2})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "VALIDATION_ERROR");

    let (status, body) = app
        .call(
            Method::POST,
            "/v1/egs",
            Some(&key),
            Some(json!({"unit_name": "x", "colour": "red"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "VALIDATION_ERROR");
}

#[tokio::test]
async fn environment_must_match_the_key() {
    let app = test_app(|_| {}).await;
    let (key, _) = app.onboard("sandbox").await;
    let (status, body) = app
        .call(
            Method::POST,
            "/v1/egs",
            Some(&key),
            Some(json!({"unit_name": "POS", "environment": "production", "otp": "123345"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "ENVIRONMENT_KEY_MISMATCH");
}

#[tokio::test]
async fn phase_1_units_are_active_at_once_and_count_against_the_quota() {
    let app = test_app(|c| c.plans = "solo=2:1".parse().expect("plans")).await;
    let (key, _) = app.onboard("sandbox").await;
    let (status, created) = app
        .call(
            Method::POST,
            "/v1/egs",
            Some(&key),
            Some(json!({"unit_name": "Kiosk", "phase": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["onboarding_status"], "active");
    assert!(created["serial_number"].as_str().expect("serial").starts_with("SN-"));
    let id = created["egs_unit_id"].as_str().expect("id");
    assert_eq!(created["poll_url"], format!("/v1/egs/{id}/status"));
    let (status, unit) = app
        .call(Method::GET, &format!("/v1/egs/{id}/status"), Some(&key), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    for field in [
        "environment",
        "phase",
        "onboarding_status",
        "cert_issued_at",
        "cert_expires_at",
        "days_until_expiry",
        "cert_health",
        "invoice_counter",
    ] {
        assert!(unit.get(field).is_some(), "{field} missing in {unit}");
    }
    assert_eq!(unit["phase"], 1);
    assert_eq!(unit["invoice_counter"], 0);
    assert_eq!(unit["cert_health"], "none");

    let (status, body) = app
        .call(
            Method::POST,
            "/v1/egs",
            Some(&key),
            Some(json!({"unit_name": "Kiosk 2", "phase": 1, "invoice_type": "standard"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "VALIDATION_ERROR");

    let (status, _) = app
        .call(
            Method::POST,
            "/v1/egs",
            Some(&key),
            Some(json!({"unit_name": "Kiosk 2", "phase": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .call(
            Method::POST,
            "/v1/egs",
            Some(&key),
            Some(json!({"unit_name": "Kiosk 3", "phase": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_envelope(&body, "EGS_QUOTA_EXCEEDED");

    let (status, body) = app
        .call(
            Method::POST,
            &format!("/v1/egs/{id}/request-production"),
            Some(&key),
            Some(json!({"otp": "123345"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "PHASE_1_UNIT");
}

#[tokio::test]
async fn unit_lookups_are_scoped_to_the_account_and_environment() {
    let app = test_app(|_| {}).await;
    let (alice, _) = app.onboard("sandbox").await;
    let (bob, _) = app.onboard("sandbox").await;
    let (_, created) = app
        .call(
            Method::POST,
            "/v1/egs",
            Some(&alice),
            Some(json!({"unit_name": "Alice POS", "phase": 1})),
        )
        .await;
    let id = created["egs_unit_id"].as_str().expect("id").to_owned();
    for path in [
        format!("/v1/egs/{id}/status"),
        format!("/v1/egs/{id}"),
        format!("/v1/egs/{id}/audit-log"),
    ] {
        // EGS_UNIT_NOT_FOUND is documented as 400, wherever the unit is named.
        let (status, body) = app.call(Method::GET, &path, Some(&bob), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_envelope(&body, "EGS_UNIT_NOT_FOUND");
    }
    let (status, body) = app
        .call(Method::GET, "/v1/egs/not-a-uuid/status", Some(&alice), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "EGS_UNIT_NOT_FOUND");
    let (_, list) = app.call(Method::GET, "/v1/egs", Some(&bob), None).await;
    assert_eq!(list["data"], json!([]));

    // Bob cannot point his key at Alice's unit either.
    let (_, keys) = app.call(Method::GET, "/v1/keys", Some(&bob), None).await;
    let bob_key_id = keys["data"][0]["id"].as_str().expect("id").to_owned();
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/v1/keys/{bob_key_id}"),
            Some(&bob),
            Some(json!({"default_egs_unit_id": id})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "EGS_UNIT_NOT_FOUND");
    // And Alice's keys are not Bob's to revoke.
    let (_, keys) = app.call(Method::GET, "/v1/keys", Some(&alice), None).await;
    let alice_key_id = keys["data"][0]["id"].as_str().expect("id").to_owned();
    let (status, body) = app
        .call(Method::DELETE, &format!("/v1/keys/{alice_key_id}"), Some(&bob), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_envelope(&body, "API_KEY_NOT_FOUND");
}

#[tokio::test]
async fn key_management_create_default_unit_revoke() {
    let app = test_app(|_| {}).await;
    let (key, _) = app.onboard("sandbox").await;
    let (_, created) = app
        .call(
            Method::POST,
            "/v1/egs",
            Some(&key),
            Some(json!({"unit_name": "Till", "phase": 1})),
        )
        .await;
    let unit = created["egs_unit_id"].as_str().expect("id").to_owned();

    let (status, second) = app
        .call(
            Method::POST,
            "/v1/keys",
            Some(&key),
            Some(json!({"name": "POS 2", "default_egs_unit_id": unit})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let second_key = second["key"].as_str().expect("key").to_owned();
    let second_id = second["id"].as_str().expect("id").to_owned();
    assert_eq!(second["default_egs_unit_id"], unit);

    let (status, body) = app
        .call(
            Method::POST,
            "/v1/keys",
            Some(&key),
            Some(json!({"environment": "production"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_envelope(&body, "KEY_ENVIRONMENT_FORBIDDEN");

    let (status, cleared) = app
        .call(
            Method::PATCH,
            &format!("/v1/keys/{second_id}"),
            Some(&key),
            Some(json!({"default_egs_unit_id": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert_eq!(cleared["default_egs_unit_id"], Value::Null);
    let (status, set) = app
        .call(
            Method::PATCH,
            &format!("/v1/keys/{second_id}"),
            Some(&key),
            Some(json!({"default_egs_unit_id": unit})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(set["default_egs_unit_id"], unit);
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/v1/keys/{second_id}"),
            Some(&key),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "VALIDATION_ERROR");
    let (status, body) = app
        .call(Method::PATCH, "/v1/keys/nope", Some(&key), Some(json!({"name": "x"})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_envelope(&body, "API_KEY_NOT_FOUND");

    let (status, revoked) = app
        .call(Method::DELETE, &format!("/v1/keys/{second_id}"), Some(&key), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(revoked["status"], "revoked");
    let (status, body) = app.call(Method::GET, "/v1/egs", Some(&second_key), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_envelope(&body, "INVALID_API_KEY");

    let (_, keys) = app.call(Method::GET, "/v1/keys", Some(&key), None).await;
    let first_id = keys["data"][0]["id"].as_str().expect("id").to_owned();
    let (status, body) = app
        .call(Method::DELETE, &format!("/v1/keys/{first_id}"), Some(&key), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_envelope(&body, "LAST_ACTIVE_KEY");
}

#[tokio::test]
async fn signup_can_be_disabled() {
    let app = test_app(|c| c.allow_signup = false).await;
    let (status, body) = app.call(Method::POST, "/v1/onboard", None, Some(json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_envelope(&body, "SIGNUP_DISABLED");
}

#[tokio::test]
async fn production_units_need_seller_and_otp() {
    let app = test_app(|_| {}).await;
    let (key, _) = app.onboard("production").await;
    let (status, body) = app
        .call(
            Method::POST,
            "/v1/egs",
            Some(&key),
            Some(json!({"unit_name": "POS", "otp": "123456"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "VALIDATION_ERROR");
    assert_eq!(body["error"]["details"][0]["path"], "seller");
    let seller = json!({
        "name": "Acme Ltd", "vat_number": "300012345600003",
        "address": {"street": "King Fahd Rd", "building_number": "1234", "district": "Olaya", "city": "Riyadh", "postal_code": "12211"}
    });
    let (status, body) = app
        .call(
            Method::POST,
            "/v1/egs",
            Some(&key),
            Some(json!({"unit_name": "POS", "seller": seller})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "OTP_REQUIRED");
    let bad_seller = json!({
        "name": "Acme Ltd", "vat_number": "123",
        "address": {"street": "King Fahd Rd", "building_number": "12", "district": "Olaya", "city": "Riyadh", "postal_code": "12211"}
    });
    let (status, body) = app
        .call(
            Method::POST,
            "/v1/egs",
            Some(&key),
            Some(json!({"unit_name": "POS", "otp": "1", "seller": bad_seller})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_envelope(&body, "VALIDATION_ERROR");
    let paths: Vec<&str> = body["error"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["path"].as_str())
        .collect();
    assert!(
        paths.contains(&"seller.vat_number") && paths.contains(&"seller.address.building_number"),
        "{paths:?}"
    );
}

#[tokio::test]
async fn serves_the_demo_directory_at_the_root() {
    let demo = tempfile::tempdir().expect("tempdir");
    std::fs::write(demo.path().join("index.html"), "<!doctype html><title>demo</title>").expect("write");
    let dir = demo.path().to_owned();
    let app = test_app(move |c| c.demo_dir = Some(dir)).await;
    let (status, body) = app.call(Method::GET, "/", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["raw"]
            .as_str()
            .is_some_and(|html| html.contains("<title>demo</title>")),
        "{body}"
    );
    let (status, body) = app.call(Method::GET, "/missing.js", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_envelope(&body, "NOT_FOUND");
    let (status, body) = app.call(Method::GET, "/v1/missing", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_envelope(&body, "NOT_FOUND");
}

#[tokio::test]
async fn serves_the_built_npm_package_next_to_the_demo_under_npm() {
    let root = tempfile::tempdir().expect("tempdir");
    let demo = root.path().join("demo");
    let npm = root.path().join("npm");
    for dir in [&demo, &npm.join("lib"), &npm.join("dist"), &npm.join("test")] {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(demo.join("index.html"), "<!doctype html><title>demo</title>").expect("write");
    std::fs::write(npm.join("index.js"), "export {};").expect("write");
    std::fs::write(npm.join("lib").join("api.js"), "export const x = 1;").expect("write");
    std::fs::write(npm.join("dist").join("zatca_sign_bg.wasm"), b"\0asm\x01\0\0\0").expect("write");
    std::fs::write(npm.join("test").join("secret.mjs"), "no").expect("write");
    std::fs::write(npm.join("package.json"), "{}").expect("write");
    let app = test_app(move |c| c.demo_dir = Some(demo)).await;
    for (path, mime) in [
        ("/npm/index.js", "javascript"),
        ("/npm/lib/api.js", "javascript"),
        ("/npm/dist/zatca_sign_bg.wasm", "application/wasm"),
    ] {
        let request = Request::builder().uri(path).body(Body::empty()).expect("request");
        let response = app.router.clone().oneshot(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let content_type = response.headers()[axum::http::header::CONTENT_TYPE]
            .to_str()
            .expect("ascii");
        assert!(content_type.contains(mime), "{path}: {content_type}");
    }
    // Only the browser files: not the tests, not package.json (nor node_modules).
    for path in ["/npm/test/secret.mjs", "/npm/package.json", "/npm/"] {
        let (status, body) = app.call(Method::GET, path, None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_envelope(&body, "NOT_FOUND");
    }
}

#[tokio::test]
async fn an_unbuilt_npm_package_is_not_served() {
    let root = tempfile::tempdir().expect("tempdir");
    let demo = root.path().join("demo");
    std::fs::create_dir_all(&demo).expect("mkdir");
    std::fs::create_dir_all(root.path().join("npm")).expect("mkdir");
    std::fs::write(demo.join("index.html"), "<!doctype html>").expect("write");
    std::fs::write(root.path().join("npm").join("index.js"), "export {};").expect("write");
    let app = test_app(move |c| c.demo_dir = Some(demo)).await;
    let (status, body) = app.call(Method::GET, "/npm/index.js", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_envelope(&body, "NOT_FOUND");
}

/// Every operation of the OpenAPI document reaches a handler through the real router (not the
/// 404 / 405 fallbacks); `openapi::tests` checks the other way (every route is documented).
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let t = test_app(|_| {}).await;
    let doc = crate::routes::openapi::document();
    let mut checked = 0;
    for (path, item) in &doc.paths.paths {
        for (method, op) in [
            (Method::GET, &item.get),
            (Method::POST, &item.post),
            (Method::PATCH, &item.patch),
            (Method::DELETE, &item.delete),
        ] {
            if op.is_none() {
                continue;
            }
            let uri = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
            let (status, body) = t.call(method.clone(), &uri, None, Some(json!({}))).await;
            let code = body["error"]["code"].as_str().unwrap_or_default();
            assert!(
                code != "NOT_FOUND" && code != "METHOD_NOT_ALLOWED",
                "{method} {uri}: {status} {body}"
            );
            checked += 1;
        }
    }
    assert!(checked > 30, "{checked}");
}
