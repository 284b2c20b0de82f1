//! Webhook endpoints: `GET|POST /v1/webhooks`, `GET|PATCH|DELETE /v1/webhooks/{id}` and the
//! delivery log `GET /v1/webhooks/{id}/deliveries`. Endpoints belong to the key's account and
//! environment: another account's (or the other environment's) answer `404
//! WEBHOOK_ENDPOINT_NOT_FOUND`. The signing secret appears only in the response that creates it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ApiJson, Auth};
use crate::AppState;
use crate::domain::{Environment, EventType, WebhookDelivery, WebhookEndpoint, iso};
use crate::error::{AppError, AppResult, Detail, ErrorCode};
use crate::webhooks::{generate_secret, secret_context};

/// Endpoints per account and environment.
const MAX_ENDPOINTS: usize = 20;
/// Longest URL accepted.
const MAX_URL_CHARS: usize = 2048;

/// Routes behind the bearer key.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(list).post(create))
        .route("/webhooks/{id}", get(detail).patch(update).delete(remove))
        .route("/webhooks/{id}/deliveries", get(deliveries))
}

/// A webhook endpoint as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EndpointDto {
    /// Identifier.
    pub id: Uuid,
    /// Where events are POSTed.
    pub url: String,
    /// The owner's note.
    pub description: Option<String>,
    /// Event types sent; empty: every type.
    pub events: Vec<EventType>,
    /// Environment of the units whose events it receives (the key's).
    pub environment: Environment,
    /// Whether events are sent.
    pub enabled: bool,
    /// Why the relay disabled it (the receiver answered `410 Gone`).
    pub disabled_reason: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// The signing secret: only in the response that creates the endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = String)]
    pub secret: Option<String>,
}

impl EndpointDto {
    fn of(endpoint: &WebhookEndpoint, secret: Option<String>) -> Self {
        EndpointDto {
            id: endpoint.id,
            url: endpoint.url.clone(),
            description: endpoint.description.clone(),
            events: endpoint.events.clone(),
            environment: endpoint.environment,
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason.clone(),
            created_at: iso(endpoint.created_at),
            updated_at: iso(endpoint.updated_at),
            secret,
        }
    }
}

/// `GET /v1/webhooks`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EndpointList {
    /// The endpoints, oldest first.
    pub data: Vec<EndpointDto>,
}

/// One delivery attempt.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryDto {
    /// The event (its `id`, the receiver's deduplication key).
    pub event_id: Uuid,
    /// Its type.
    pub event_type: EventType,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// `delivered`, `retrying`, `failed` (no attempt left) or `gone` (410: endpoint disabled).
    pub status: crate::domain::DeliveryStatus,
    /// The receiver's HTTP status, when it answered.
    pub response_status: Option<u16>,
    /// Time to the answer or the failure.
    pub duration_ms: u64,
    /// What went wrong.
    pub error: Option<String>,
    /// When the attempt started.
    pub at: String,
}

impl From<&WebhookDelivery> for DeliveryDto {
    fn from(d: &WebhookDelivery) -> Self {
        DeliveryDto {
            event_id: d.event_id,
            event_type: d.event_type,
            attempt: d.attempt,
            status: d.status,
            response_status: d.response_status,
            duration_ms: d.duration_ms,
            error: d.error.clone(),
            at: iso(d.at),
        }
    }
}

/// `GET /v1/webhooks/{id}/deliveries`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryList {
    /// Attempts, newest first.
    pub data: Vec<DeliveryDto>,
}

/// `POST /v1/webhooks` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    /// `https://` URL (`http://` is accepted for sandbox endpoints).
    pub url: String,
    /// A note.
    #[serde(default)]
    pub description: Option<String>,
    /// Event types to send (default: every type).
    #[serde(default)]
    pub events: Option<Vec<EventType>>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `PATCH /v1/webhooks/{id}` body: the fields to change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpoint {
    /// New URL.
    #[serde(default)]
    pub url: Option<String>,
    /// New note.
    #[serde(default)]
    pub description: Option<String>,
    /// New event filter (`[]`: every type).
    #[serde(default)]
    pub events: Option<Vec<EventType>>,
    /// Pause or resume (resuming clears `disabled_reason`).
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `DELETE /v1/webhooks/{id}` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Deleted {
    /// The endpoint.
    pub id: Uuid,
    /// Always true.
    pub deleted: bool,
}

/// Query of the delivery log.
#[derive(Debug, Deserialize)]
pub struct DeliveryQuery {
    /// 1 to 500 (default 100).
    #[serde(default)]
    pub limit: Option<u32>,
}

fn check_url(url: &str, environment: Environment, allow_private: bool) -> AppResult<String> {
    let url = url.trim();
    let invalid = |message: &str| AppError::invalid_field("url", message);
    if url.is_empty() || url.chars().count() > MAX_URL_CHARS || url.chars().any(char::is_control) {
        return Err(invalid("must be an absolute http(s) URL of at most 2048 characters"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&format!("is not a URL: {e}")))?;
    match (parsed.scheme(), environment) {
        ("https", _) | ("http", Environment::Sandbox) => {}
        ("http", Environment::Production) => return Err(invalid("production endpoints must use https")),
        _ => return Err(invalid("must be an http(s) URL")),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("must name a host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("must not carry credentials"));
    }
    if let Some(reason) = crate::webhooks::refused_target(&parsed, allow_private) {
        return Err(invalid(reason));
    }
    Ok(parsed.to_string())
}

fn check_description(description: Option<String>) -> AppResult<Option<String>> {
    match description {
        Some(text) if text.chars().count() > 500 || text.chars().any(char::is_control) => Err(AppError::invalid_field(
            "description",
            "must be at most 500 printable characters",
        )),
        Some(text) if text.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

fn check_events(events: Option<Vec<EventType>>) -> Vec<EventType> {
    let mut events = events.unwrap_or_default();
    events.sort_by_key(|e| e.as_str());
    events.dedup();
    events
}

fn not_found() -> AppError {
    ErrorCode::WebhookEndpointNotFound.into()
}

async fn load(state: &AppState, auth: &Auth, id: &str) -> AppResult<WebhookEndpoint> {
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    state
        .store
        .webhook_endpoint(auth.account.id, auth.key.environment, id)
        .await?
        .ok_or_else(not_found)
}

/// The webhook endpoints of the key's account and environment, oldest first.
#[utoipa::path(get, path = "/v1/webhooks", operation_id = "list_webhooks", tag = "webhooks",
    responses((status = 200, description = "Endpoints", body = EndpointList)))]
pub(super) async fn list(State(state): State<AppState>, auth: Auth) -> AppResult<Json<EndpointList>> {
    let endpoints = state
        .store
        .webhook_endpoints(auth.account.id, auth.key.environment)
        .await?;
    Ok(Json(EndpointList {
        data: endpoints.iter().map(|e| EndpointDto::of(e, None)).collect(),
    }))
}

/// Registers an endpoint; the answer carries its signing secret, shown only here.
#[utoipa::path(post, path = "/v1/webhooks", operation_id = "create_webhook", tag = "webhooks", request_body = CreateEndpoint,
    responses((status = 201, description = "Endpoint created (with `secret`)", body = EndpointDto)))]
pub(super) async fn create(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CreateEndpoint>,
) -> AppResult<(StatusCode, Json<EndpointDto>)> {
    let environment = auth.key.environment;
    let url = check_url(&body.url, environment, state.config.webhook_allow_private_targets)?;
    let description = check_description(body.description)?;
    let existing = state.store.webhook_endpoints(auth.account.id, environment).await?;
    if existing.len() >= MAX_ENDPOINTS {
        return Err(AppError::invalid_fields(vec![Detail::field(
            "url",
            format!("an account has at most {MAX_ENDPOINTS} webhook endpoints per environment"),
        )]));
    }
    let id = Uuid::new_v4();
    let secret = generate_secret()?;
    let now = Utc::now();
    let endpoint = WebhookEndpoint {
        id,
        account_id: auth.account.id,
        environment,
        url,
        description,
        events: check_events(body.events),
        secret_enc: state.master_key.encrypt_str(&secret, &secret_context(id))?,
        enabled: body.enabled.unwrap_or(true),
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    };
    state.store.insert_webhook_endpoint(&endpoint).await?;
    tracing::info!(account.id = %auth.account.id, webhook.endpoint = %id, "webhook endpoint created");
    Ok((
        StatusCode::CREATED,
        Json(EndpointDto::of(&endpoint, Some(secret.expose().to_owned()))),
    ))
}

/// One endpoint.
#[utoipa::path(get, path = "/v1/webhooks/{id}", operation_id = "get_webhook", tag = "webhooks", params(("id" = uuid::Uuid, Path, description = "Webhook endpoint id")),
    responses((status = 200, description = "The endpoint", body = EndpointDto)))]
pub(super) async fn detail(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Json<EndpointDto>> {
    let endpoint = load(&state, &auth, &id).await?;
    Ok(Json(EndpointDto::of(&endpoint, None)))
}

/// Changes an endpoint's URL, description, event filter or state.
#[utoipa::path(patch, path = "/v1/webhooks/{id}", operation_id = "update_webhook", tag = "webhooks", params(("id" = uuid::Uuid, Path, description = "Webhook endpoint id")), request_body = UpdateEndpoint,
    responses((status = 200, description = "The endpoint", body = EndpointDto),
        (status = 409, description = "`CONCURRENT_UPDATE` (retryable): other changes of the endpoint were saved first, each time this one was about to be; send it again", body = super::schemas::ErrorEnvelope)))]
pub(super) async fn update(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateEndpoint>,
) -> AppResult<Json<EndpointDto>> {
    let id = load(&state, &auth, &id).await?.id;
    let allow_private = state.config.webhook_allow_private_targets;
    // Only the fields in the body change, even when another relay changes others meanwhile.
    let endpoint = crate::webhooks::change_endpoint(&state, id, |endpoint| {
        if let Some(url) = &body.url {
            endpoint.url = check_url(url, endpoint.environment, allow_private)?;
        }
        if body.description.is_some() {
            endpoint.description = check_description(body.description.clone())?;
        }
        if body.events.is_some() {
            endpoint.events = check_events(body.events.clone());
        }
        if let Some(enabled) = body.enabled {
            endpoint.enabled = enabled;
            if enabled {
                endpoint.disabled_reason = None;
            }
        }
        Ok::<_, AppError>(())
    })
    .await?
    .ok_or_else(not_found)?;
    Ok(Json(EndpointDto::of(&endpoint, None)))
}

/// Deletes an endpoint and its delivery log.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", operation_id = "delete_webhook", tag = "webhooks", params(("id" = uuid::Uuid, Path, description = "Webhook endpoint id")),
    responses((status = 200, description = "Deleted", body = Deleted)))]
pub(super) async fn remove(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Json<Deleted>> {
    let endpoint = load(&state, &auth, &id).await?;
    if !state
        .store
        .delete_webhook_endpoint(auth.account.id, endpoint.environment, endpoint.id)
        .await?
    {
        return Err(not_found());
    }
    tracing::info!(account.id = %auth.account.id, webhook.endpoint = %endpoint.id, "webhook endpoint deleted");
    Ok(Json(Deleted {
        id: endpoint.id,
        deleted: true,
    }))
}

/// The endpoint's delivery attempts, newest first.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", operation_id = "list_webhook_deliveries", tag = "webhooks",
    params(("id" = uuid::Uuid, Path, description = "Webhook endpoint id"), ("limit" = Option<u32>, Query, description = "1 to 500 (default 100)", minimum = 1, maximum = 500)),
    responses((status = 200, description = "Delivery log", body = DeliveryList)))]
pub(super) async fn deliveries(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    query: Result<Query<DeliveryQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<DeliveryList>> {
    let limit_error = || AppError::invalid_field("limit", "must be a number from 1 to 500");
    let Query(query) = query.map_err(|_| limit_error())?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(limit_error());
    }
    let endpoint = load(&state, &auth, &id).await?;
    let log = state.store.webhook_deliveries(endpoint.id, limit).await?;
    Ok(Json(DeliveryList {
        data: log.iter().map(DeliveryDto::from).collect(),
    }))
}
