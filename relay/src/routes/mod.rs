//! HTTP routes: the router, the bearer-key middleware, the JSON body extractor that turns every
//! malformed body into the error envelope, request logging, and the fallbacks (JSON 404/405,
//! or the static demo directory at `/`, with the built npm package at `/npm/`).

pub mod accounts;
pub mod egs;
pub mod health;
pub mod invoices;
pub mod openapi;
pub mod schemas;
pub mod webhooks;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::handler::HandlerWithoutStateExt as _;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::de::DeserializeOwned;
use tower_http::services::{ServeDir, ServeFile};

use crate::AppState;
pub use crate::domain::Auth;
use crate::error::{AppError, Detail, ErrorCode};
use crate::secret::{api_key_environment, hash_api_key};

/// Per API key token buckets (keyed by the key's id).
pub type KeyRateLimiter = governor::DefaultKeyedRateLimiter<uuid::Uuid>;

/// The limiter the configuration asks for (`None`: no limit).
pub fn key_rate_limiter(config: &crate::config::Config) -> Option<Arc<KeyRateLimiter>> {
    let rate = std::num::NonZeroU32::new(config.rate_limit_per_second)?;
    let burst = std::num::NonZeroU32::new(config.rate_limit_burst).unwrap_or(rate);
    Some(Arc::new(governor::RateLimiter::keyed(
        governor::Quota::per_second(rate).allow_burst(burst),
    )))
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .merge(accounts::protected_router())
        .merge(egs::router())
        .merge(invoices::router())
        .merge(webhooks::router())
        .route_layer(middleware::from_fn_with_state(state.clone(), require_api_key))
        .route_layer(middleware::from_fn_with_state(
            Arc::new(tokio::sync::Semaphore::new(state.config.max_concurrent_requests.max(1))),
            limit_concurrency,
        ));
    let v1 = Router::new()
        .merge(accounts::public_router())
        .merge(protected)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let app = Router::new()
        .nest("/v1", v1)
        .merge(health::router())
        .merge(openapi::router())
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(state.config.body_limit_bytes));
    // The demo page imports the npm package's browser entry point, its modules and its
    // WebAssembly from `/npm/`: only those three paths, not the package's tests or node_modules.
    let app = match state.demo_npm_dir() {
        Some(npm) => app
            .route_service("/npm/index.js", ServeFile::new(npm.join("index.js")))
            .nest_service("/npm/lib", ServeDir::new(npm.join("lib")))
            .nest_service("/npm/dist", ServeDir::new(npm.join("dist"))),
        None => app,
    };
    let app = match state.demo_dir() {
        Some(dir) => app.fallback_service(
            ServeDir::new(dir)
                .append_index_html_on_directories(true)
                .not_found_service(not_found.into_service()),
        ),
        None => app.fallback(not_found),
    };
    app.layer(middleware::from_fn_with_state(state.clone(), set_body_deadline))
        .layer(middleware::from_fn(envelope_bare_errors))
        .layer(middleware::from_fn_with_state(state.clone(), log_requests))
        .with_state(state)
}

/// Waits for one of `--max-concurrent-requests` permits before the request is authenticated
/// and its body read: a waiting request costs its connection and headers only.
async fn limit_concurrency(
    State(permits): State<Arc<tokio::sync::Semaphore>>,
    request: Request,
    next: Next,
) -> Response {
    let _permit = permits.acquire().await;
    next.run(request).await
}

/// The instant by which a request's body must have arrived (`--body-timeout-secs`), read by
/// [`ApiJson`] so that a body trickled in a few bytes at a time is cut off with `408`.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline(pub tokio::time::Instant);

async fn set_body_deadline(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let timeout = std::time::Duration::from_secs(state.config.body_timeout_secs.max(1));
    request
        .extensions_mut()
        .insert(BodyDeadline(tokio::time::Instant::now() + timeout));
    request
        .extensions_mut()
        .insert(BodyLimit(state.config.body_limit_bytes));
    next.run(request).await
}

/// The configured body limit, for the 413 message.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A safety net: an error answer from a layer below that is not JSON (axum's own rejections,
/// tower-http's static files) gets the envelope, with a code derived from its status.
async fn envelope_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = match status {
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::REQUEST_TIMEOUT => ErrorCode::RequestTimeout,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        s if s.is_server_error() => ErrorCode::InternalError,
        _ => ErrorCode::BadRequest,
    };
    // The original status stays (a lower layer decided it); the body becomes the envelope.
    let body = crate::error::envelope(code.as_str(), code.default_message(), code.retryable(), &[]);
    let mut fixed = (status, axum::Json(body)).into_response();
    for (name, value) in response.headers() {
        if name != CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            fixed.headers_mut().insert(name.clone(), value.clone());
        }
    }
    fixed
}

async fn not_found() -> AppError {
    AppError::api(ErrorCode::NotFound, "No such endpoint")
}

async fn method_not_allowed() -> AppError {
    ErrorCode::MethodNotAllowed.into()
}

/// Logs one line per request: method, route template, status, duration. Never headers, query
/// strings or bodies (they carry API keys, OTPs and CSRs).
async fn log_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // The route template, never the raw path: a key pasted into a URL must not reach the log.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "<unmatched>".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let took = started.elapsed();
    state.metrics.request(method.as_str(), &route, status, took);
    let duration_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
    if response.status().is_server_error() {
        tracing::warn!(http.method = %method, http.route = %route, http.status = status, duration_ms, "request");
    } else {
        tracing::info!(http.method = %method, http.route = %route, http.status = status, duration_ms, "request");
    }
    response
}

/// Requires `Authorization: Bearer <key>` on every protected route.
async fn require_api_key(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    match authenticate(&state, request.headers().get(AUTHORIZATION)).await {
        Ok(auth) => {
            if let Some(limiter) = &state.rate_limiter {
                if let Err(not_until) = limiter.check_key(&auth.key.id) {
                    let wait = not_until
                        .wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
                    return rate_limited(wait);
                }
            }
            request.extensions_mut().insert(auth);
            next.run(request).await
        }
        Err(err) => err.into_response(),
    }
}

/// `429 RATE_LIMITED` with `Retry-After` in whole seconds (at least 1).
fn rate_limited(wait: std::time::Duration) -> Response {
    let mut response = AppError::from(ErrorCode::RateLimited).into_response();
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    if let Ok(value) = HeaderValue::from_str(&secs.max(1).to_string()) {
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
    }
    response
}

async fn authenticate(state: &AppState, header: Option<&HeaderValue>) -> Result<Auth, AppError> {
    let missing = AppError::api(
        ErrorCode::Unauthorized,
        "Missing API key: send the header `Authorization: Bearer <your API key>`",
    );
    let invalid = AppError::api(ErrorCode::InvalidApiKey, "Invalid or revoked API key");
    let header = header.ok_or(missing)?.to_str().map_err(|_| invalid_key())?;
    let (scheme, key) = header.trim().split_once(' ').ok_or_else(invalid_key)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(invalid_key());
    }
    let key = key.trim();
    let Some(environment) = api_key_environment(key) else {
        return Err(invalid);
    };
    let (record, account) = state
        .store
        .active_api_key_by_hash(&hash_api_key(key))
        .await?
        .ok_or(invalid)?;
    if record.environment != environment {
        return Err(invalid_key());
    }
    let now = Utc::now();
    if record
        .last_used_at
        .is_none_or(|at| now - at > chrono::Duration::seconds(60))
    {
        if let Err(err) = state.store.touch_api_key(record.id, now).await {
            tracing::warn!(error = %err, "cannot record API key use");
        }
    }
    Ok(Auth { key: record, account })
}

fn invalid_key() -> AppError {
    AppError::api(ErrorCode::InvalidApiKey, "Invalid or revoked API key")
}

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Auth>().cloned().ok_or_else(invalid_key)
    }
}

/// A JSON body whose every failure is an error envelope: 415 without a JSON content type,
/// 413 when too large, 400 `INVALID_JSON` for syntax errors and 400 `VALIDATION_ERROR` (with
/// the field path) for wrong fields. An empty body counts as `{}`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let deadline = request.extensions().get::<BodyDeadline>().copied();
        let limit = request.extensions().get::<BodyLimit>().copied();
        let json_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
            .map(|v| v == "application/json" || (v.starts_with("application/") && v.ends_with("+json")));
        let read = Bytes::from_request(request, state);
        let read = match deadline {
            Some(BodyDeadline(at)) => tokio::time::timeout_at(at, read)
                .await
                .map_err(|_| AppError::api(ErrorCode::RequestTimeout, "The request body did not arrive in time"))?,
            None => read.await,
        };
        let bytes = read.map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                match limit {
                    Some(BodyLimit(limit)) => AppError::api(
                        ErrorCode::PayloadTooLarge,
                        format!("Request body is larger than {limit} bytes"),
                    ),
                    None => ErrorCode::PayloadTooLarge.into(),
                }
            } else {
                AppError::api(ErrorCode::InvalidBody, rejection.body_text())
            }
        })?;
        let body: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        if body != b"{}" && json_type != Some(true) {
            return Err(AppError::api(
                ErrorCode::UnsupportedMediaType,
                "Send the body as JSON with `Content-Type: application/json`",
            ));
        }
        parse_json(body).map(ApiJson)
    }
}

/// Deserialises a JSON object, reporting the path of a wrong field. Any other JSON value at the
/// top is refused: serde's derived structs would otherwise read an array as the fields in order.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(
            AppError::api(ErrorCode::InvalidJson, "The request body must be a JSON object")
                .with_details(vec![Detail::field("body", "must be a JSON object")]),
        );
    }
    if has_nul_escape(body) {
        // No field can hold it: XML has no NUL character, and PostgreSQL's text refuses it.
        return Err(AppError::invalid_fields(vec![Detail::field(
            "body",
            "text must not contain the NUL character (U+0000)",
        )]));
    }
    let syntax = |message: String| AppError::api(ErrorCode::InvalidJson, format!("Malformed JSON: {message}"));
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => value,
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let message = clean_serde_message(&inner.to_string());
            if inner.is_syntax() || inner.is_eof() {
                return Err(syntax(message));
            }
            let parent = if path == "." || path.is_empty() {
                None
            } else {
                Some(path)
            };
            // serde names a missing field in the message and points at its parent: point at it.
            let missing = message
                .strip_prefix("missing field `")
                .and_then(|m| m.strip_suffix('`'))
                .map(str::to_owned);
            let path = match (parent, missing) {
                (Some(parent), Some(field)) => format!("{parent}.{field}"),
                (None, Some(field)) => field,
                (Some(parent), None) => parent,
                (None, None) => "body".to_owned(),
            };
            return Err(AppError::invalid_fields(vec![Detail::field(path, message)]));
        }
    };
    de.end().map_err(|e| syntax(clean_serde_message(&e.to_string())))?;
    Ok(value)
}

/// Whether a JSON text has the escape `\u0000` (a NUL character in a string; a raw NUL byte is
/// a syntax error already): a `u0000` after an odd run of backslashes.
fn has_nul_escape(body: &[u8]) -> bool {
    body.windows(5)
        .enumerate()
        .any(|(i, w)| w == b"u0000" && body[..i].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 1)
}

/// Drops serde's " at line 1 column 17" suffix.
fn clean_serde_message(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests;
