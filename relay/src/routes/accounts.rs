//! Accounts and API keys: `POST /v1/onboard` (sign-up, first key), `GET /v1/account`, and key
//! management (`GET|POST /v1/keys`, `PATCH|DELETE /v1/keys/{id}`). Full keys appear only in
//! the response that creates them; listings show the masked form.
//!
//! A key sees and manages only keys it may stand for: a sandbox (`zatca_test_`) key the
//! account's sandbox keys; a production (`zatca_live_`) key every key of the account (it may
//! also create sandbox keys). Keys outside a caller's reach answer `404 API_KEY_NOT_FOUND`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{ApiJson, Auth};
use crate::AppState;
use crate::domain::{Account, ApiKey, Environment, iso};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::secret::generate_api_key;
use crate::store::RevokeOutcome;

/// Whether a caller's key may see and manage `target`.
fn may_manage(caller: &ApiKey, target: &ApiKey) -> bool {
    caller.account_id == target.account_id
        && (caller.environment == Environment::Production || target.environment == caller.environment)
}

fn key_not_found() -> AppError {
    AppError::api(ErrorCode::ApiKeyNotFound, "API key not found")
}

/// Routes without authentication.
pub fn public_router() -> Router<AppState> {
    Router::new().route("/onboard", post(onboard))
}

/// Routes behind the bearer key.
pub fn protected_router() -> Router<AppState> {
    Router::new()
        .route("/account", get(account))
        .route("/keys", get(list_keys).post(create_key))
        .route("/keys/{id}", patch(update_key).delete(revoke_key))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct OnboardRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    /// Environment of the first key (default sandbox).
    #[serde(default)]
    environment: Option<Environment>,
    #[serde(default)]
    key_name: Option<String>,
}

fn check_text(path: &str, value: Option<&str>, max: usize) -> AppResult<()> {
    if let Some(value) = value {
        if value.trim().is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
            return Err(AppError::invalid_field(
                path,
                format!("must be 1 to {max} printable characters"),
            ));
        }
    }
    Ok(())
}

/// JSON of a key record; `full_key` only in the response that creates it.
pub fn key_json(key: &ApiKey, full_key: Option<&str>) -> Value {
    let mut v = json!({
        "id": key.id,
        "name": key.name,
        "environment": key.environment,
        "masked_key": key.masked,
        "default_egs_unit_id": key.default_egs_unit_id,
        "status": if key.revoked_at.is_some() { "revoked" } else { "active" },
        "created_at": iso(key.created_at),
        "last_used_at": key.last_used_at.map(iso),
        "revoked_at": key.revoked_at.map(iso),
    });
    if let Some(full) = full_key {
        v["key"] = json!(full);
    }
    v
}

fn new_key_record(account_id: Uuid, environment: Environment, name: Option<String>) -> AppResult<(ApiKey, String)> {
    let generated = generate_api_key(environment)?;
    let record = ApiKey {
        id: Uuid::new_v4(),
        account_id,
        name,
        environment,
        key_hash: generated.hash,
        masked: generated.masked,
        default_egs_unit_id: None,
        created_at: Utc::now(),
        last_used_at: None,
        revoked_at: None,
    };
    Ok((record, generated.key.expose().to_owned()))
}

/// Sign up: an account and its first API key (shown only here).
#[utoipa::path(post, path = "/v1/onboard", tag = "accounts", request_body = OnboardRequest,
    responses((status = 201, description = "Account created", body = super::schemas::Onboarded)))]
pub(super) async fn onboard(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<OnboardRequest>,
) -> AppResult<(StatusCode, Json<Value>)> {
    if !state.config.allow_signup {
        return Err(AppError::api(
            ErrorCode::SignupDisabled,
            "Self sign-up is disabled on this relay",
        ));
    }
    check_text("name", body.name.as_deref(), 200)?;
    check_text("key_name", body.key_name.as_deref(), 100)?;
    if let Some(email) = &body.email {
        check_text("email", Some(email), 254)?;
        if !email.contains('@') {
            return Err(AppError::invalid_field("email", "must be an e-mail address"));
        }
    }
    let environment = body.environment.unwrap_or(Environment::Sandbox);
    if environment == Environment::Production && !state.config.production_signup_allowed() {
        return Err(AppError::api(
            ErrorCode::ProductionSignupDisabled,
            "Sign-up creates sandbox accounts on this relay; production access is granted by its operator",
        ));
    }
    let account = Account {
        id: Uuid::new_v4(),
        name: body.name,
        email: body.email,
        plan: state.config.default_plan.clone(),
        created_at: Utc::now(),
    };
    let (key, full) = new_key_record(
        account.id,
        environment,
        body.key_name.or_else(|| Some("Default key".into())),
    )?;
    state.store.create_account(&account, &key).await?;
    tracing::info!(account.id = %account.id, key.id = %key.id, key.environment = %environment, "account created");
    let quota = state.config.plans.quota(&account.plan);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "account_id": account.id,
            "plan": account.plan,
            "quotas": quota.map(|q| json!({"sandbox": q.sandbox, "production": q.production})),
            "api_key": key_json(&key, Some(&full)),
            "message": "Account created. Store this API key now: it is shown only once.",
        })),
    ))
}

/// The account, its plan and quota use.
#[utoipa::path(get, path = "/v1/account", tag = "accounts",
    responses((status = 200, description = "The account", body = super::schemas::AccountDoc)))]
pub(super) async fn account(State(state): State<AppState>, auth: Auth) -> AppResult<Json<Value>> {
    let quota = state.config.plans.quota(&auth.account.plan);
    let used_sandbox = state.store.count_units(auth.account.id, Environment::Sandbox).await?;
    let used_production = state
        .store
        .count_units(auth.account.id, Environment::Production)
        .await?;
    Ok(Json(json!({
        "account_id": auth.account.id,
        "name": auth.account.name,
        "email": auth.account.email,
        "plan": auth.account.plan,
        "created_at": iso(auth.account.created_at),
        "quotas": {
            "sandbox": { "limit": quota.map(|q| q.sandbox), "used": used_sandbox },
            "production": { "limit": quota.map(|q| q.production), "used": used_production },
        },
        "api_key": { "id": auth.key.id, "environment": auth.key.environment },
    })))
}

/// The keys the calling key may manage (masked).
#[utoipa::path(get, path = "/v1/keys", tag = "accounts",
    responses((status = 200, description = "Keys", body = super::schemas::KeyList)))]
pub(super) async fn list_keys(State(state): State<AppState>, auth: Auth) -> AppResult<Json<Value>> {
    let keys = state.store.list_api_keys(auth.account.id).await?;
    let visible: Vec<Value> = keys
        .iter()
        .filter(|k| may_manage(&auth.key, k))
        .map(|k| key_json(k, None))
        .collect();
    Ok(Json(json!({ "data": visible })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateKeyRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    environment: Option<Environment>,
    #[serde(default)]
    default_egs_unit_id: Option<String>,
}

/// A new key (the full key only in this answer).
#[utoipa::path(post, path = "/v1/keys", tag = "accounts", request_body = CreateKeyRequest,
    responses((status = 201, description = "Key created", body = super::schemas::ApiKeyDoc)))]
pub(super) async fn create_key(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CreateKeyRequest>,
) -> AppResult<(StatusCode, Json<Value>)> {
    check_text("name", body.name.as_deref(), 100)?;
    let environment = body.environment.unwrap_or(auth.key.environment);
    if auth.key.environment == Environment::Sandbox && environment == Environment::Production {
        return Err(AppError::api(
            ErrorCode::KeyEnvironmentForbidden,
            "A sandbox (zatca_test_) key cannot create production keys; use a zatca_live_ key",
        ));
    }
    let (mut key, full) = new_key_record(auth.account.id, environment, body.name)?;
    if let Some(unit) = &body.default_egs_unit_id {
        key.default_egs_unit_id = Some(check_default_unit(&state, &auth, environment, unit).await?);
    }
    state.store.insert_api_key(&key).await?;
    tracing::info!(account.id = %auth.account.id, key.id = %key.id, key.environment = %environment, "API key created");
    Ok((StatusCode::CREATED, Json(key_json(&key, Some(&full)))))
}

/// Checks that a unit exists in the account and matches the key's environment.
async fn check_default_unit(state: &AppState, auth: &Auth, environment: Environment, unit: &str) -> AppResult<Uuid> {
    let not_found = || AppError::api(ErrorCode::EgsUnitNotFound, "EGS unit not found");
    let id = Uuid::parse_str(unit).map_err(|_| not_found())?;
    let unit = state.store.unit(auth.account.id, id).await?.ok_or_else(not_found)?;
    if unit.environment != environment {
        return Err(AppError::api(
            ErrorCode::EgsUnitEnvMismatch,
            format!("This API key is for {environment}. Use an EGS unit in {environment} or switch key."),
        ));
    }
    Ok(id)
}

fn key_id(id: &str) -> AppResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| key_not_found())
}

/// A key the caller may manage, or 404.
async fn managed_key(state: &AppState, auth: &Auth, id: &str) -> AppResult<ApiKey> {
    let id = key_id(id)?;
    let key = state
        .store
        .api_key(auth.account.id, id)
        .await?
        .ok_or_else(key_not_found)?;
    if !may_manage(&auth.key, &key) {
        return Err(key_not_found());
    }
    Ok(key)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateKeyRequest {
    /// Absent: unchanged; null: cleared; a string: set.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    default_egs_unit_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    name: Option<Option<String>>,
}

/// Distinguishes an absent field (None) from an explicit null (Some(None)).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// Renames a key or sets (or clears, with null) its default EGS unit.
#[utoipa::path(patch, path = "/v1/keys/{id}", tag = "accounts", request_body = UpdateKeyRequest,
    params(("id" = uuid::Uuid, Path, description = "Key id")),
    responses((status = 200, description = "The key", body = super::schemas::ApiKeyDoc)))]
pub(super) async fn update_key(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateKeyRequest>,
) -> AppResult<Json<Value>> {
    let key = managed_key(&state, &auth, &id).await?;
    let id = key.id;
    if key.revoked_at.is_some() {
        return Err(AppError::api(ErrorCode::ApiKeyRevoked, "This API key is revoked"));
    }
    if body.default_egs_unit_id.is_none() && body.name.is_none() {
        return Err(AppError::invalid_field(
            "body",
            "send default_egs_unit_id (a unit id, or null to clear) and/or name",
        ));
    }
    // None: unchanged. Only what the body names is written, so that a change of the other
    // field made at the same time (at any relay) stays.
    let default_unit = match &body.default_egs_unit_id {
        None => None,
        Some(None) => Some(None),
        Some(Some(unit)) => Some(Some(check_default_unit(&state, &auth, key.environment, unit).await?)),
    };
    if let Some(name) = &body.name {
        check_text("name", name.as_deref(), 100)?;
    }
    let name = body.name.as_ref().map(Option::as_deref);
    state
        .store
        .update_api_key(auth.account.id, id, name, default_unit)
        .await?;
    let updated = state
        .store
        .api_key(auth.account.id, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("key vanished"))?;
    Ok(Json(key_json(&updated, None)))
}

/// Revokes a key (not the account's last active one).
#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "accounts",
    params(("id" = uuid::Uuid, Path, description = "Key id")),
    responses((status = 200, description = "The revoked key", body = super::schemas::ApiKeyDoc)))]
pub(super) async fn revoke_key(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let key = managed_key(&state, &auth, &id).await?;
    let id = key.id;
    match state
        .store
        .revoke_api_key(auth.account.id, id, auth.key.id, Utc::now())
        .await?
    {
        RevokeOutcome::Revoked => {
            tracing::info!(account.id = %auth.account.id, key.id = %id, "API key revoked");
        }
        RevokeOutcome::AlreadyRevoked => {}
        RevokeOutcome::NotFound => return Err(key_not_found()),
        RevokeOutcome::LastActiveKey => {
            return Err(AppError::api(
                ErrorCode::LastActiveKey,
                "This is the account's last active key; create another before revoking it",
            ));
        }
    }
    let revoked = state
        .store
        .api_key(auth.account.id, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("key vanished"))?;
    Ok(Json(key_json(&revoked, None)))
}
