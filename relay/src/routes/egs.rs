//! EGS units: `POST /v1/egs` (create and start onboarding), `GET /v1/egs`, `GET /v1/egs/{id}`
//! and `/status`, `POST /v1/egs/{id}/request-production` and `/renew` (production CSID),
//! `GET|POST /v1/egs/{id}/compliance-documents` (device custody), `GET /v1/egs/{id}/audit-log`.
//! Every lookup is scoped to the caller's account: another account's unit is a 404.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{ApiJson, Auth};
use crate::AppState;
use crate::domain::{
    Address, ComplianceKind, Custody, EgsUnit, Environment, InvoiceTypes, Job, JobKind, OnboardJob, OnboardingStatus,
    SellerProfile, iso,
};
use crate::error::{AppError, AppResult, Detail, ErrorCode};
use crate::onboarding;
use crate::secret::SecretString;
use crate::signing;
use crate::store::QuotaOutcome;

/// The EGS routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/egs", get(list_units).post(create_unit))
        .route("/egs/{id}", get(unit_detail).delete(cannot_delete))
        .route("/egs/{id}/status", get(unit_status))
        .route("/egs/{id}/request-production", post(request_production))
        .route("/egs/{id}/renew", post(renew))
        .route(
            "/egs/{id}/compliance-documents",
            get(list_compliance_documents).post(submit_compliance_document),
        )
        .route("/egs/{id}/audit-log", get(audit_log))
        .route("/egs/{id}/retry-onboarding", post(retry_onboarding))
}

/// `POST /v1/egs` body: the hosted API's `CreateEgsDto` plus `seller`, `custody` and `csr`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateEgsRequest {
    unit_name: String,
    #[serde(default)]
    #[schema(value_type = Option<crate::routes::schemas::InvoiceTypes>)]
    invoice_type: Option<InvoiceTypes>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    otp: Option<SecretString>,
    #[serde(default)]
    phase: Option<u8>,
    #[serde(default)]
    environment: Option<Environment>,
    #[serde(default)]
    seller: Option<SellerInput>,
    #[serde(default)]
    custody: Option<Custody>,
    /// Device custody: the CSR made on the device (PEM, or base64 of the PEM as ZATCA takes it).
    #[serde(default)]
    csr: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SellerInput {
    name: String,
    #[serde(default)]
    name_ar: Option<String>,
    vat_number: String,
    #[serde(default)]
    crn: Option<String>,
    address: AddressInput,
    #[serde(default)]
    branch: Option<String>,
    #[serde(default)]
    industry: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AddressInput {
    street: String,
    building_number: String,
    district: String,
    city: String,
    postal_code: String,
    #[serde(default)]
    additional_number: Option<String>,
    #[serde(default)]
    country: Option<String>,
}

/// Characters ZATCA-side tooling rejects in CSR fields (SPEC §9.2).
const CSR_FORBIDDEN: &[char] = &['!', '@', '#', '$', '%', '&', '*', '_', '<', '=', '>', '\\'];

/// The seller used in the sandbox when none is given: the developer portal's test taxpayer
/// (its documents must carry VAT number 399999999900003, SPEC §10.5).
pub fn sandbox_seller(unit_name: &str) -> SellerProfile {
    SellerProfile {
        name: "Maximum Speed Tech Supply LTD".into(),
        name_ar: Some("شركة السرعة القصوى لتقنية التوريد".into()),
        vat_number: "399999999900003".into(),
        crn: Some("1010010000".into()),
        address: Address {
            street: "Prince Sultan".into(),
            building_number: "2322".into(),
            district: "Al-Murabba".into(),
            city: "Riyadh".into(),
            postal_code: "23333".into(),
            additional_number: None,
            country: "SA".into(),
        },
        branch: csr_safe(unit_name),
        industry: "Supply activities".into(),
    }
}

fn csr_safe(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .filter(|c| !CSR_FORBIDDEN.contains(c) && !c.is_control())
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        "Main Branch".into()
    } else {
        cleaned.chars().take(64).collect()
    }
}

struct Checks(Vec<Detail>);

impl Checks {
    fn text(&mut self, path: &str, value: &str, max: usize, csr: bool) {
        if value.trim().is_empty() {
            self.0.push(Detail::field(path, "must not be empty"));
        } else if value.chars().count() > max {
            self.0
                .push(Detail::field(path, format!("must be at most {max} characters")));
        } else if value.chars().any(char::is_control) {
            self.0.push(Detail::field(path, "must not contain control characters"));
        } else if csr && value.contains(CSR_FORBIDDEN) {
            self.0.push(Detail::field(
                path,
                "must not contain any of ! @ # $ % & * _ < = > \\ (ZATCA rejects them in CSRs)",
            ));
        }
    }

    fn digits(&mut self, path: &str, value: &str, len: usize) {
        if value.len() != len || !value.bytes().all(|b| b.is_ascii_digit()) {
            self.0.push(Detail::field(path, format!("must be {len} digits")));
        }
    }
}

fn seller_profile(input: SellerInput, unit_name: &str, checks: &mut Checks) -> SellerProfile {
    checks.text("seller.name", &input.name, 200, true);
    if let Some(ar) = &input.name_ar {
        checks.text("seller.name_ar", ar, 200, false);
    }
    let vat = input.vat_number.trim();
    if !zatca_core::validate::is_vat_number(vat) {
        checks.0.push(Detail::field(
            "seller.vat_number",
            "must be 15 digits starting and ending with 3",
        ));
    }
    if let Some(crn) = &input.crn {
        if crn.is_empty() || crn.len() > 20 || !crn.bytes().all(|b| b.is_ascii_alphanumeric()) {
            checks
                .0
                .push(Detail::field("seller.crn", "must be 1 to 20 letters or digits"));
        }
    }
    let a = &input.address;
    checks.text("seller.address.street", &a.street, 127, true);
    checks.digits("seller.address.building_number", &a.building_number, 4);
    checks.text("seller.address.district", &a.district, 127, true);
    checks.text("seller.address.city", &a.city, 127, true);
    checks.digits("seller.address.postal_code", &a.postal_code, 5);
    if let Some(n) = &a.additional_number {
        checks.digits("seller.address.additional_number", n, 4);
    }
    let country = a.country.clone().unwrap_or_else(|| "SA".into());
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        checks.0.push(Detail::field(
            "seller.address.country",
            "must be an ISO 3166-1 alpha-2 code such as SA",
        ));
    }
    let branch = input.branch.unwrap_or_else(|| csr_safe(unit_name));
    checks.text("seller.branch", &branch, 64, true);
    let industry = input.industry.unwrap_or_else(|| "Supply activities".into());
    checks.text("seller.industry", &industry, 64, true);
    SellerProfile {
        name: input.name.trim().to_owned(),
        name_ar: input.name_ar.map(|s| s.trim().to_owned()),
        vat_number: vat.to_owned(),
        crn: input.crn,
        address: Address {
            street: a.street.trim().to_owned(),
            building_number: a.building_number.clone(),
            district: a.district.trim().to_owned(),
            city: a.city.trim().to_owned(),
            postal_code: a.postal_code.clone(),
            additional_number: a.additional_number.clone(),
            country,
        },
        branch,
        industry,
    }
}

fn check_otp(otp: &SecretString, path: &str) -> AppResult<()> {
    let value = otp.expose();
    if value.is_empty() || value.len() > 64 || !value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(AppError::invalid_field(
            path,
            "must be the OTP from the Fatoora portal (letters and digits)",
        ));
    }
    Ok(())
}

/// Loads a unit of the caller's account in the key's environment.
pub async fn load_unit(state: &AppState, auth: &Auth, id: &str) -> AppResult<EgsUnit> {
    onboarding::unit_of(state, auth, id).await
}

/// Creates a unit; onboarding with ZATCA runs in the background (poll its status).
#[utoipa::path(post, path = "/v1/egs", tag = "egs", request_body = CreateEgsRequest,
    responses((status = 200, description = "Unit created", body = Created)))]
pub(super) async fn create_unit(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CreateEgsRequest>,
) -> AppResult<Json<Created>> {
    let key_env = auth.key.environment;
    if let Some(requested) = body.environment {
        if requested != key_env {
            return Err(AppError::api(
                ErrorCode::EnvironmentKeyMismatch,
                format!(
                    "environment `{requested}` does not match the API key: {} keys create {key_env} units",
                    crate::secret::api_key_prefix(key_env)
                ),
            ));
        }
    }
    let mut checks = Checks(Vec::new());
    checks.text("unit_name", &body.unit_name, 100, false);
    let phase = body.phase.unwrap_or(2);
    if phase != 1 && phase != 2 {
        checks.0.push(Detail::field("phase", "must be 1 or 2"));
    }
    if let Some(otp) = &body.otp {
        check_otp(otp, "otp")?;
    }
    let custody = body.custody.unwrap_or(Custody::Relay);
    if phase == 1 {
        if matches!(body.invoice_type, Some(InvoiceTypes::Standard | InvoiceTypes::Both)) {
            checks.0.push(Detail::field(
                "invoice_type",
                "phase 1 units issue simplified invoices only",
            ));
        }
        if body.custody.is_some() || body.csr.is_some() {
            checks
                .0
                .push(Detail::field("custody", "phase 1 units have no key, CSR or custody"));
        }
    } else if custody == Custody::Device && body.csr.is_none() {
        checks
            .0
            .push(Detail::field("csr", "device custody needs the CSR made on the device"));
    } else if custody == Custody::Relay && body.csr.is_some() {
        checks.0.push(Detail::field(
            "csr",
            "only for custody `device`; with relay custody the relay makes the CSR",
        ));
    }
    let seller = match body.seller {
        Some(input) => Some(seller_profile(input, &body.unit_name, &mut checks)),
        None if key_env == Environment::Sandbox => Some(sandbox_seller(&body.unit_name)),
        None => {
            checks.0.push(Detail::field(
                "seller",
                "production units need the seller profile (name, VAT number, address)",
            ));
            None
        }
    };
    if !checks.0.is_empty() {
        return Err(AppError::invalid_fields(checks.0));
    }
    let seller = seller.ok_or_else(|| anyhow::anyhow!("seller missing after validation"))?;
    let otp = match body.otp {
        Some(otp) => Some(otp),
        None if phase == 2 && key_env == Environment::Sandbox => Some(state.config.sandbox_default_otp.clone()),
        None if phase == 2 => {
            return Err(AppError::api(
                ErrorCode::OtpRequired,
                "Production units need the OTP from the Fatoora portal (`otp`)",
            ));
        }
        None => None,
    };

    let created = onboarding::create_unit(
        &state,
        &auth,
        onboarding::NewUnit {
            unit_name: body.unit_name,
            phase,
            invoice_type: body.invoice_type,
            custody,
            csr: body.csr,
            seller,
            otp,
        },
    )
    .await?;
    let (id, message, unit) = (created.unit.id, created.message, created.unit);
    Ok(Json(Created {
        egs_unit_id: id,
        serial_number: unit.serial_number.clone(),
        onboarding_status: unit.onboarding_status.as_str(),
        message,
        poll_url: format!("/v1/egs/{id}/status"),
    }))
}

/// Always refused: units are registered with ZATCA and linked to invoice history.
#[utoipa::path(delete, path = "/v1/egs/{id}", tag = "egs", params(("id" = uuid::Uuid, Path, description = "EGS unit id")),
    responses((status = 405, description = "EGS_UNIT_NOT_DELETABLE", body = crate::routes::schemas::ErrorEnvelope)))]
pub(super) async fn cannot_delete(Path(_id): Path<String>) -> AppError {
    AppError::api(
        ErrorCode::EgsUnitNotDeletable,
        "EGS units cannot be deleted: they are registered with ZATCA and linked to invoice history",
    )
}

/// Certificate health (`healthy`, `expiring_soon`, `critical`, `expired` or `none`) and the
/// days left.
fn cert_health(expires: Option<DateTime<Utc>>, now: DateTime<Utc>) -> (&'static str, Option<i64>) {
    (
        crate::domain::CertHealth::of(expires, now).as_str(),
        expires.map(|at| (at - now).num_days()),
    )
}

/// The status document: the documented fields first, in the documented order, then the
/// relay's additions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnitStatus {
    egs_unit_id: Uuid,
    unit_name: String,
    environment: Environment,
    phase: u8,
    onboarding_status: &'static str,
    cert_issued_at: Option<String>,
    cert_expires_at: Option<String>,
    days_until_expiry: Option<i64>,
    cert_health: &'static str,
    invoice_counter: i64,
    serial_number: String,
    #[schema(value_type = crate::routes::schemas::InvoiceTypes)]
    invoice_type: InvoiceTypes,
    custody: Custody,
    csid: &'static str,
    message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<Detail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    compliance_documents: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    certificate: Option<Option<String>>,
    /// Device custody: the chain head the next document must continue (ICV + 1, PIH).
    #[serde(skip_serializing_if = "Option::is_none")]
    next_chain: Option<Value>,
    /// Device custody: the last gap or fork noticed in the documents the device sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    chain_note: Option<String>,
    /// Simplified invoices not yet reported: `{pending, near_deadline, past_deadline}`
    /// (`near_deadline`: due within two hours, the late ones included); absent when none wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    reporting: Option<Value>,
}

/// The status of a unit.
pub fn status_json(unit: &EgsUnit, accepted: &[ComplianceKind], now: DateTime<Utc>) -> UnitStatus {
    let (health, days) = cert_health(unit.cert_expires_at, now);
    let device = unit.custody == Custody::Device && unit.phase == 2;
    UnitStatus {
        egs_unit_id: unit.id,
        unit_name: unit.unit_name.clone(),
        environment: unit.environment,
        phase: unit.phase,
        onboarding_status: unit.onboarding_status.as_str(),
        cert_issued_at: unit.cert_issued_at.map(iso),
        cert_expires_at: unit.cert_expires_at.map(iso),
        days_until_expiry: days,
        cert_health: health,
        invoice_counter: unit.invoice_counter,
        serial_number: unit.serial_number.clone(),
        invoice_type: unit.invoice_type,
        custody: unit.custody,
        csid: if unit.production.is_some() {
            "production"
        } else if unit.compliance.is_some() {
            "compliance"
        } else {
            "none"
        },
        message: unit.status_message.clone(),
        errors: unit.errors.clone(),
        compliance_documents: device.then(|| compliance_json(unit, accepted)),
        certificate: device.then(|| signing::active_certificate_base64(unit)),
        next_chain: device.then(|| json!({"icv": unit.invoice_counter + 1, "pih": unit.last_invoice_hash})),
        chain_note: unit.chain_note.clone(),
        reporting: None,
    }
}

/// `POST /v1/egs` answer, in the documented order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Created {
    egs_unit_id: Uuid,
    serial_number: String,
    onboarding_status: &'static str,
    message: &'static str,
    poll_url: String,
}

/// `request-production` / `renew` answer, in the documented order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProductionObtained {
    message: &'static str,
    cert_expires_at: Option<String>,
    onboarding_status: &'static str,
}

fn compliance_json(unit: &EgsUnit, accepted: &[ComplianceKind]) -> Value {
    let required = unit.invoice_type.required_documents();
    let pending: Vec<&str> = required
        .iter()
        .filter(|k| !accepted.contains(k))
        .map(|k| k.as_str())
        .collect();
    json!({
        "required": required.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        "accepted": accepted.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        "pending": pending,
        "submit_url": format!("/v1/egs/{}/compliance-documents", unit.id),
    })
}

async fn accepted_kinds(state: &AppState, unit: &EgsUnit) -> AppResult<Vec<ComplianceKind>> {
    Ok(state
        .store
        .compliance_documents(unit.id)
        .await?
        .into_iter()
        .map(|d| d.kind)
        .collect())
}

/// The unit's status: onboarding, certificate, chain, reporting backlog.
#[utoipa::path(get, path = "/v1/egs/{id}/status", tag = "egs", params(("id" = uuid::Uuid, Path, description = "EGS unit id")),
    responses((status = 200, description = "Status", body = UnitStatus)))]
pub(super) async fn unit_status(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Json<UnitStatus>> {
    let unit = load_unit(&state, &auth, &id).await?;
    let accepted = accepted_kinds(&state, &unit).await?;
    let now = Utc::now();
    let mut status = status_json(&unit, &accepted, now);
    let (pending, near, late) = state
        .store
        .reporting_backlog(unit.id, now, now + chrono::Duration::hours(2))
        .await?;
    if pending > 0 {
        status.reporting = Some(json!({"pending": pending, "near_deadline": near, "past_deadline": late}));
    }
    Ok(Json(status))
}

/// `GET /v1/egs` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct UnitList {
    data: Vec<UnitStatus>,
}

/// The units of the key's environment.
#[utoipa::path(get, path = "/v1/egs", tag = "egs",
    responses((status = 200, description = "Units", body = UnitList)))]
pub(super) async fn list_units(State(state): State<AppState>, auth: Auth) -> AppResult<Json<UnitList>> {
    let now = Utc::now();
    let mut data = Vec::new();
    for unit in state.store.list_units(auth.account.id).await? {
        if unit.environment != auth.key.environment {
            continue;
        }
        let accepted = if unit.custody == Custody::Device {
            accepted_kinds(&state, &unit).await?
        } else {
            Vec::new()
        };
        data.push(status_json(&unit, &accepted, now));
    }
    Ok(Json(UnitList { data }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RequestProductionDto {
    #[schema(value_type = String)]
    otp: SecretString,
    /// Device custody, renewal: a new CSR from the device (else the stored one is sent again).
    #[serde(default)]
    csr: Option<String>,
}

/// The production CSID (with the OTP from the Fatoora portal); once one exists, renews it.
#[utoipa::path(post, path = "/v1/egs/{id}/request-production", tag = "egs", params(("id" = uuid::Uuid, Path, description = "EGS unit id")), request_body = RequestProductionDto,
    responses((status = 200, description = "Production CSID obtained", body = ProductionObtained)))]
pub(super) async fn request_production(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RequestProductionDto>,
) -> AppResult<Json<ProductionObtained>> {
    check_otp(&body.otp, "otp")?;
    let unit = load_unit(&state, &auth, &id).await?;
    if unit.phase == 1 {
        return Err(AppError::api(ErrorCode::Phase1Unit, "Phase 1 units have no CSID"));
    }
    if body.csr.is_some() && unit.custody != Custody::Device {
        return Err(AppError::invalid_field("csr", "only for custody `device`"));
    }
    let (_guard, unit) = lock_and_reload(&state, auth.account.id, unit.id).await?;
    let unit = onboarding::obtain_production_csid(&state, unit, &body.otp, body.csr.as_deref()).await?;
    Ok(Json(ProductionObtained {
        message: "Production CSID obtained",
        cert_expires_at: unit.cert_expires_at.map(iso),
        onboarding_status: unit.onboarding_status.as_str(),
    }))
}

/// Required, accepted and pending compliance documents, and the certificate in use.
#[utoipa::path(get, path = "/v1/egs/{id}/compliance-documents", tag = "egs", params(("id" = uuid::Uuid, Path, description = "EGS unit id")),
    responses((status = 200, description = "Compliance documents", body = crate::routes::schemas::ComplianceDocuments)))]
pub(super) async fn list_compliance_documents(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let unit = load_unit(&state, &auth, &id).await?;
    if unit.phase == 1 {
        return Err(AppError::api(
            ErrorCode::Phase1Unit,
            "Phase 1 units have no compliance step",
        ));
    }
    let docs = state.store.compliance_documents(unit.id).await?;
    let accepted: Vec<ComplianceKind> = docs.iter().map(|d| d.kind).collect();
    let mut v = compliance_json(&unit, &accepted);
    v["onboarding_status"] = json!(unit.onboarding_status.as_str());
    v["custody"] = json!(unit.custody);
    v["certificate"] = json!(signing::active_certificate_base64(&unit));
    v["documents"] = json!(
        docs.iter()
            .map(|d| json!({
                "kind": d.kind.as_str(),
                "icv": d.icv,
                "uuid": d.uuid,
                "invoice_hash": d.invoice_hash,
                "messages": d.messages,
                "accepted_at": iso(d.accepted_at),
            }))
            .collect::<Vec<_>>()
    );
    Ok(Json(v))
}

/// A signed compliance document from a device, in the body shape of ZATCA's
/// `/compliance/invoices` plus the kind it stands for.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ComplianceDocumentDto {
    /// Which required document this is (`simplified_invoice`, `standard_credit_note`, …).
    #[schema(value_type = crate::routes::schemas::ComplianceKind)]
    pub kind: ComplianceKind,
    /// Base64 of the signed XML.
    pub invoice: String,
    /// Invoice hash (base64 SHA-256); computed by the relay when omitted.
    #[serde(default)]
    pub invoice_hash: Option<String>,
    /// The document's UUID; read from the XML when omitted.
    #[serde(default)]
    pub uuid: Option<String>,
}

/// Device custody: a signed compliance document, forwarded to ZATCA's compliance check.
#[utoipa::path(post, path = "/v1/egs/{id}/compliance-documents", tag = "egs", params(("id" = uuid::Uuid, Path, description = "EGS unit id")), request_body = ComplianceDocumentDto,
    responses((status = 200, description = "Accepted", body = crate::routes::schemas::ComplianceDocumentAccepted)))]
pub(super) async fn submit_compliance_document(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ComplianceDocumentDto>,
) -> AppResult<Json<Value>> {
    let unit = load_unit(&state, &auth, &id).await?;
    if unit.custody != Custody::Device {
        return Err(AppError::api(
            ErrorCode::CustodyMismatch,
            "The relay signs this unit's compliance documents itself (custody `relay`)",
        ));
    }
    let (_guard, unit) = lock_and_reload(&state, auth.account.id, unit.id).await?;
    let document = onboarding::DeviceDocument {
        kind: body.kind,
        invoice: body.invoice,
        invoice_hash: body.invoice_hash,
        uuid: body.uuid,
    };
    let result = onboarding::submit_device_document(&state, unit, document).await?;
    Ok(Json(result))
}

#[derive(Debug, Deserialize)]
pub(super) struct AuditQuery {
    #[serde(default)]
    limit: Option<u32>,
}

/// Every ZATCA request and response of the unit, newest first, secrets redacted.
#[utoipa::path(get, path = "/v1/egs/{id}/audit-log", tag = "egs",
    params(("id" = uuid::Uuid, Path, description = "EGS unit id"), ("limit" = Option<u32>, Query, description = "1 to 500 (default 100)", minimum = 1, maximum = 500)),
    responses((status = 200, description = "Audit log", body = crate::routes::schemas::AuditLog)))]
pub(super) async fn audit_log(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<Value>> {
    let Query(query) = query.map_err(|_| AppError::invalid_field("limit", "must be a number from 1 to 500"))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(AppError::invalid_field("limit", "must be a number from 1 to 500"));
    }
    let unit = load_unit(&state, &auth, &id).await?;
    let entries = state.store.audit_log(unit.id, limit).await?;
    Ok(Json(json!({ "data": entries.iter().map(|e| json!({
        "id": e.id,
        "at": iso(e.at),
        "operation": e.operation,
        "method": e.method,
        "url": e.url,
        "request_headers": e.request_headers,
        "request_body": e.request_body,
        "response_status": e.response_status,
        "response_body": e.response_body,
        "duration_ms": e.duration_ms,
        "error": e.error,
    })).collect::<Vec<_>>() })))
}

/// `POST /v1/egs/{id}/retry-onboarding` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RetryOnboardingDto {
    /// A fresh OTP: required when ZATCA has not issued the compliance CSID yet (optional for
    /// sandbox units, which use the sandbox OTP).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    otp: Option<SecretString>,
}

/// Restarts a failed unit's onboarding.
///
/// From the compliance CSID (with a fresh OTP) when ZATCA never issued one, else from the
/// compliance documents.
#[utoipa::path(post, path = "/v1/egs/{id}/retry-onboarding", tag = "egs", params(("id" = uuid::Uuid, Path, description = "EGS unit id")), request_body = RetryOnboardingDto,
    responses((status = 200, description = "Onboarding restarted", body = Created)))]
pub(super) async fn retry_onboarding(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RetryOnboardingDto>,
) -> AppResult<Json<Created>> {
    if let Some(otp) = &body.otp {
        check_otp(otp, "otp")?;
    }
    let unit = load_unit(&state, &auth, &id).await?;
    let (_guard, mut unit) = lock_and_reload(&state, auth.account.id, unit.id).await?;
    if unit.onboarding_status != OnboardingStatus::Failed {
        return Err(AppError::api(
            ErrorCode::EgsNotFailed,
            format!(
                "Only a unit whose onboarding failed can be retried; this one is `{}`",
                unit.onboarding_status.as_str()
            ),
        ));
    }
    if state.store.open_jobs_for_unit(unit.id).await? > 0 {
        return Err(AppError::api(
            ErrorCode::EgsBusy,
            "Another operation on this EGS unit is in progress; retry shortly",
        ));
    }
    let limit = state
        .config
        .plans
        .quota(&auth.account.plan)
        .map_or(0, |q| match unit.environment {
            Environment::Sandbox => q.sandbox,
            Environment::Production => q.production,
        });
    let now = Utc::now();
    let mut job = None;
    let (next, message);
    if unit.compliance.is_none() {
        let otp = match (body.otp, unit.environment) {
            (Some(otp), _) => otp,
            (None, Environment::Sandbox) => state.config.sandbox_default_otp.clone(),
            (None, Environment::Production) => {
                return Err(AppError::api(
                    ErrorCode::OtpRequired,
                    "A fresh OTP from the Fatoora portal is required: ZATCA has not issued this unit's compliance CSID",
                ));
            }
        };
        next = OnboardingStatus::Pending;
        message = "Onboarding restarted: requesting the compliance CSID with the new OTP.";
        job = Some(Job::new(
            unit.id,
            JobKind::Onboard(OnboardJob {
                otp_enc: Some(state.master_key.encrypt_str(&otp, &onboarding::otp_context(unit.id))?),
            }),
        ));
    } else if unit.custody == Custody::Device {
        next = OnboardingStatus::AwaitingComplianceDocuments;
        message = "Onboarding restarted: submit the remaining signed compliance documents.";
    } else {
        next = OnboardingStatus::Pending;
        message = "Onboarding restarted: the compliance documents are being signed and checked again.";
        job = Some(Job::new(unit.id, JobKind::Onboard(OnboardJob::default())));
    }
    unit.transition(next, message, now).map_err(anyhow::Error::new)?;
    match state
        .store
        .restart_onboarding_within_quota(&unit, limit, job.as_ref())
        .await?
    {
        QuotaOutcome::Inserted => {}
        QuotaOutcome::Exceeded { used: u32::MAX } => {
            return Err(AppError::api(
                ErrorCode::EgsNotFailed,
                "The unit's onboarding is no longer failed",
            ));
        }
        QuotaOutcome::Exceeded { used } => {
            return Err(AppError::api(
                ErrorCode::EgsQuotaExceeded,
                format!(
                    "The `{}` plan allows {limit} {} EGS unit(s) and {used} exist",
                    auth.account.plan, unit.environment
                ),
            ));
        }
    }
    tracing::info!(egs.id = %unit.id, egs.status = unit.onboarding_status.as_str(), "onboarding retried");
    if job.is_some() {
        state.jobs.notify_one();
    }
    Ok(Json(Created {
        egs_unit_id: unit.id,
        serial_number: unit.serial_number.clone(),
        onboarding_status: unit.onboarding_status.as_str(),
        message,
        poll_url: format!("/v1/egs/{}/status", unit.id),
    }))
}

/// Takes the unit's lock (one operation per unit at a time: `409 EGS_BUSY` otherwise) and reads
/// the unit again under it, so the operation starts from what the previous one left.
async fn lock_and_reload(state: &AppState, account_id: Uuid, id: Uuid) -> AppResult<(crate::UnitGuard, EgsUnit)> {
    let guard = state.lock_unit(id).ok_or_else(|| {
        AppError::api(
            ErrorCode::EgsBusy,
            "Another operation on this EGS unit is in progress; retry shortly",
        )
    })?;
    let unit = state
        .store
        .unit(account_id, id)
        .await?
        .ok_or_else(AppError::unit_not_found)?;
    Ok((guard, unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_thresholds() {
        let now = Utc::now();
        assert_eq!(cert_health(None, now), ("none", None));
        assert_eq!(cert_health(Some(now + chrono::Duration::days(365)), now).0, "healthy");
        assert_eq!(
            cert_health(Some(now + chrono::Duration::days(10)), now).0,
            "expiring_soon"
        );
        assert_eq!(cert_health(Some(now + chrono::Duration::days(6)), now).0, "critical");
        assert_eq!(cert_health(Some(now - chrono::Duration::days(1)), now).0, "expired");
    }

    #[test]
    fn serial_form() {
        let s = onboarding::public_serial(Uuid::new_v4());
        assert!(s.starts_with("SN-") && s.len() == 15, "{s}");
    }
}

/// The unit's status (the same as `GET /v1/egs/{id}/status`).
#[utoipa::path(get, path = "/v1/egs/{id}", tag = "egs", params(("id" = uuid::Uuid, Path, description = "EGS unit id")),
    responses((status = 200, description = "Status", body = UnitStatus)))]
pub(super) async fn unit_detail(state: State<AppState>, auth: Auth, id: Path<String>) -> AppResult<Json<UnitStatus>> {
    unit_status(state, auth, id).await
}

/// Alias of `request-production`: with a production CSID, renews it with a new CSR and the OTP.
#[utoipa::path(post, path = "/v1/egs/{id}/renew", tag = "egs", params(("id" = uuid::Uuid, Path, description = "EGS unit id")),
    request_body = RequestProductionDto,
    responses((status = 200, description = "Production CSID renewed", body = ProductionObtained)))]
pub(super) async fn renew(
    state: State<AppState>,
    auth: Auth,
    id: Path<String>,
    body: ApiJson<RequestProductionDto>,
) -> AppResult<Json<ProductionObtained>> {
    request_production(state, auth, id, body).await
}
