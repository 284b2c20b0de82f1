//! Operations routes (no authentication): `GET /health` and `/readyz` (a database round trip),
//! `/healthz` (the process answers), `GET /metrics` (Prometheus text).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::AppResult;

/// The operations routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(ready))
        .route("/readyz", get(readyz))
        .route("/healthz", get(live))
        .route("/metrics", get(metrics))
}

/// Liveness: the process serves requests (a load balancer restarts it otherwise).
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = super::schemas::Health)))]
pub(super) async fn live() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Readiness: the database answers too (a load balancer sends traffic elsewhere otherwise).
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "Ready", body = super::schemas::Health)))]
pub(super) async fn ready(State(state): State<AppState>) -> AppResult<Json<Value>> {
    state.store.ping().await?;
    Ok(Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") })))
}

/// Prometheus/OpenMetrics text.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Metrics", content_type = "application/openmetrics-text", body = String)))]
pub(super) async fn metrics(State(state): State<AppState>) -> AppResult<impl IntoResponse> {
    let text = crate::metrics::scrape(&state).await?;
    Ok((
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    ))
}

/// Readiness (the same as `GET /health`).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready", body = super::schemas::Health)))]
pub(super) async fn readyz(state: State<AppState>) -> AppResult<Json<Value>> {
    ready(state).await
}
