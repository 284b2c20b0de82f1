//! The invoice routes (`shared/reference/hosted-api-invoices.txt`): the four creates, the list
//! with cursor pagination, the detail with its timeline, and the XML download. Handlers parse,
//! call [`crate::invoicing`], and map invoices to the documented JSON.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{ApiJson, Auth};
use crate::AppState;
use crate::domain::{Invoice, InvoiceKind, InvoiceStatus, iso};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::invoicing::{self, CreateRequest, Endpoint};
use crate::store::{ArchiveKind, InvoiceFilter};

/// The invoice routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/invoices", get(list))
        .route("/invoices/simplified", post(create_simplified))
        .route("/invoices/standard", post(create_standard))
        .route("/invoices/credit-note", post(create_credit_note))
        .route("/invoices/debit-note", post(create_debit_note))
        .route("/invoices/signed", post(create_signed))
        .route("/invoices/{id}/pdf", get(pdf))
        .route("/invoices/{id}", get(detail))
        .route("/invoices/{id}/xml", get(xml))
}

/// A JSON object whose fields keep the documented order (serde_json's own map sorts them).
#[derive(Debug, Clone, Default)]
pub(super) struct Ordered(Vec<(&'static str, Value)>);

impl Ordered {
    fn set(&mut self, field: &'static str, value: Value) {
        match self.0.iter_mut().find(|(k, _)| *k == field) {
            Some(entry) => entry.1 = value,
            None => self.0.push((field, value)),
        }
    }
}

impl serde::Serialize for Ordered {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// An amount as the API shows it: a JSON number without trailing zeros (`115`, `57.5`).
fn amount(d: Decimal) -> Value {
    let d = d.normalize();
    if d.scale() == 0 {
        if let Ok(n) = i64::try_from(d.mantissa()) {
            return json!(n);
        }
    }
    d.to_string().parse::<f64>().map_or(Value::Null, |f| json!(f))
}

fn hijri(date: &str) -> Value {
    zatca_core::hijri::umm_al_qura(date).map_or(Value::Null, Value::String)
}

fn urls(invoice: &Invoice) -> (String, String) {
    (
        format!("/v1/invoices/{}/xml", invoice.id),
        format!("/v1/invoices/{}/pdf", invoice.id),
    )
}

/// The answer of a create, in the documented field order of its endpoint.
fn created_json(invoice: &Invoice) -> Ordered {
    let (xml_url, pdf_url) = urls(invoice);
    let mut v = Ordered::default();
    v.set("invoice_id", json!(invoice.id));
    v.set("uuid", json!(invoice.uuid));
    v.set("status", json!(invoice.status.as_str()));
    if invoice.document_type.is_note() {
        v.set("document_type", json!(invoice.document_type.as_str()));
    }
    v.set("subtotal", amount(invoice.subtotal));
    v.set("vat", amount(invoice.vat));
    v.set("total", amount(invoice.total));
    if invoice.document_type.is_note() {
        v.set("reported_at", json!(invoice.reported_at.map(iso)));
        v.set("cleared_at", json!(invoice.cleared_at.map(iso)));
    } else {
        match invoice.invoice_type {
            InvoiceKind::Simplified => {
                v.set("invoice_date_hijri", hijri(&invoice.invoice_date));
                v.set("qr_code", json!(invoice.qr_code));
                v.set("reported_at", json!(invoice.reported_at.map(iso)));
                v.set("report_deadline", json!(invoice.report_deadline.map(iso)));
                v.set("pdf_url", json!(pdf_url));
            }
            InvoiceKind::Standard => {
                v.set("qr_code", json!(invoice.qr_code));
                v.set("signed_xml_url", json!(xml_url));
                v.set("pdf_url", json!(pdf_url));
                v.set("cleared_at", json!(invoice.cleared_at.map(iso)));
            }
        }
    }
    if !invoice.status.is_final() {
        let next = match invoice.invoice_type {
            InvoiceKind::Simplified => "reported",
            InvoiceKind::Standard => "cleared",
        };
        v.set(
            "message",
            json!(format!(
                "Signed and queued: ZATCA has not answered yet; the relay retries until it is {next}. Poll GET /v1/invoices/{}.",
                invoice.id
            )),
        );
    }
    if !invoice.messages.is_empty() {
        v.set("warnings", json!(invoice.messages));
    }
    v
}

/// A created (or replayed) invoice as the HTTP answer: 200, or 422 when ZATCA rejected it.
fn created_response(invoice: &Invoice) -> Response {
    if invoice.status == InvoiceStatus::Rejected {
        return AppError::api(
            ErrorCode::ZatcaRejected,
            format!(
                "ZATCA rejected invoice {} ({}); it keeps its place in the unit's chain",
                invoice.id, invoice.invoice_number
            ),
        )
        .with_details(invoice.messages.clone())
        .into_response();
    }
    (StatusCode::OK, Json(created_json(invoice))).into_response()
}

/// The answer of a create, boxed so one function can stand for the four endpoints.
/// Generates the four create handlers, each documented with its path.
macro_rules! create_endpoint {
    ($name:ident, $endpoint:expr, $path:literal, $body:ty, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = $path, tag = "invoices",
            params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the same invoice (1 to 255 printable ASCII characters)")),
            request_body = $body,
            responses((status = 200, description = "Signed, and reported or cleared (or queued)", body = super::schemas::InvoiceCreated),
                (status = 409, description = "`IDEMPOTENCY_KEY_REUSED` (another body), or `EGS_BUSY` (retryable): other documents of the unit kept taking its next chain position; nothing consumed, send it again", body = super::schemas::ErrorEnvelope),
                (status = 422, description = "ZATCA rejected it", body = super::schemas::ErrorEnvelope)))]
        pub(super) async fn $name(
            State(state): State<AppState>,
            auth: Auth,
            headers: HeaderMap,
            ApiJson(body): ApiJson<Value>,
        ) -> Response {
            create(state, auth, headers, $endpoint, body).await
        }
    };
}

create_endpoint!(
    create_simplified,
    Endpoint::Simplified,
    "/v1/invoices/simplified",
    super::schemas::SimplifiedInvoiceRequest,
    "Signs a simplified (B2C) invoice and reports it to ZATCA."
);
create_endpoint!(
    create_standard,
    Endpoint::Standard,
    "/v1/invoices/standard",
    super::schemas::StandardInvoiceRequest,
    "Signs a standard (B2B) invoice and has ZATCA clear it."
);
create_endpoint!(
    create_credit_note,
    Endpoint::CreditNote,
    "/v1/invoices/credit-note",
    super::schemas::NoteRequest,
    "A credit note against an invoice (reported or cleared like its original)."
);
create_endpoint!(
    create_debit_note,
    Endpoint::DebitNote,
    "/v1/invoices/debit-note",
    super::schemas::NoteRequest,
    "A debit note against an invoice (reported or cleared like its original)."
);

async fn create(state: AppState, auth: Auth, headers: HeaderMap, endpoint: Endpoint, body: Value) -> Response {
    let idempotency_key = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(err) => return err.into_response(),
    };
    let Value::Object(body) = body else {
        return AppError::from(ErrorCode::InvalidJson).into_response();
    };
    let request = CreateRequest {
        endpoint,
        body,
        idempotency_key,
    };
    match invoicing::create(&state, &auth, request).await {
        Ok(created) => created_response(&created.invoice),
        Err(err) => err.into_response(),
    }
}

/// The `Idempotency-Key` header of a create: 1 to 255 printable ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => Ok(None),
        Some(Ok(key)) => {
            let key = key.trim();
            if key.is_empty() || key.len() > 255 {
                return Err(AppError::invalid_field(
                    "Idempotency-Key",
                    "must be 1 to 255 characters",
                ));
            }
            Ok(Some(key.to_owned()))
        }
        Some(Err(_)) => Err(AppError::invalid_field("Idempotency-Key", "must be printable ASCII")),
    }
}

/// Device custody: records a document the device signed and reports or clears it.
///
/// The answer is that of the create endpoints plus `document_type` and the document's place in
/// the unit's chain.
#[utoipa::path(post, path = "/v1/invoices/signed", operation_id = "create_signed_invoice", tag = "invoices", params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the same invoice (1 to 255 printable ASCII characters)")),
    request_body = super::schemas::SignedInvoiceRequest,
    responses((status = 200, description = "Recorded (and reported or cleared)", body = super::schemas::InvoiceCreated),
        (status = 422, description = "ZATCA rejected it", body = super::schemas::ErrorEnvelope)))]
pub(super) async fn create_signed(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Response {
    let idempotency_key = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(err) => return err.into_response(),
    };
    let Value::Object(body) = body else {
        return AppError::from(ErrorCode::InvalidJson).into_response();
    };
    match invoicing::create_signed(&state, &auth, invoicing::SignedRequest { body, idempotency_key }).await {
        Ok(recorded) => {
            let response = created_response(&recorded.invoice);
            if response.status() != StatusCode::OK {
                return response;
            }
            let mut v = created_json(&recorded.invoice);
            v.set("document_type", json!(recorded.invoice.document_type.as_str()));
            v.set("icv", json!(recorded.invoice.icv));
            v.set("invoice_hash", json!(recorded.invoice.invoice_hash));
            v.set(
                "chain",
                json!({
                    "status": recorded.chain.status.as_str(),
                    "expected_icv": recorded.chain.expected_icv,
                    "expected_pih": recorded.chain.expected_pih,
                }),
            );
            (StatusCode::OK, Json(v)).into_response()
        }
        Err(err) => err.into_response(),
    }
}

/// The bilingual PDF/A-3b of the invoice, with its XML embedded.
///
/// Made from the archived XML: ZATCA's cleared document when there is one, else the signed one.
#[utoipa::path(get, path = "/v1/invoices/{id}/pdf", operation_id = "get_invoice_pdf", tag = "invoices", params(("id" = uuid::Uuid, Path, description = "Invoice id")),
    responses((status = 200, description = "PDF", content_type = "application/pdf", body = Vec<u8>),
        (status = 404, description = "No such invoice, or no document", body = super::schemas::ErrorEnvelope)))]
pub(super) async fn pdf(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> AppResult<Response> {
    let invoice = load(&state, &auth, &id).await?;
    let Some(document) = archived(&state, &invoice).await? else {
        return Ok((
            StatusCode::NOT_FOUND,
            Json(json!({ "message": "PDF not available for this invoice." })),
        )
            .into_response());
    };
    let rendered = tokio::task::spawn_blocking(move || zatca_pdf::render(&document, &zatca_pdf::Options::default()))
        .await
        .map_err(|e| anyhow::anyhow!("PDF task: {e}"))?
        .map_err(|e| anyhow::anyhow!("PDF of invoice {}: {e}", invoice.id))?;
    Ok((
        [
            (CONTENT_TYPE, "application/pdf".to_owned()),
            (
                CONTENT_DISPOSITION,
                format!("inline; filename=\"{}.pdf\"", file_name(&invoice.invoice_number)),
            ),
        ],
        rendered,
    )
        .into_response())
}

fn file_name(invoice_number: &str) -> String {
    invoice_number
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The XML an invoice is served as: ZATCA's cleared XML when there is one, else as signed.
async fn archived(state: &AppState, invoice: &Invoice) -> AppResult<Option<Vec<u8>>> {
    if let Some(cleared) = state.archive.get(invoice.id, ArchiveKind::Cleared).await? {
        return Ok(Some(cleared));
    }
    Ok(state.archive.get(invoice.id, ArchiveKind::Signed).await?)
}

/// An invoice of the caller's account and environment, or 404.
async fn load(state: &AppState, auth: &Auth, id: &str) -> AppResult<Invoice> {
    let id = Uuid::parse_str(id).map_err(|_| AppError::from(ErrorCode::InvoiceNotFound))?;
    state
        .store
        .invoice(auth.account.id, id)
        .await?
        .filter(|i| i.environment == auth.key.environment)
        .ok_or_else(|| ErrorCode::InvoiceNotFound.into())
}

const MAX_LIMIT: u32 = 100;

fn cursor_text(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("seq:{seq}"))
}

fn parse_cursor(text: &str) -> Option<i64> {
    let bytes = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
    std::str::from_utf8(&bytes).ok()?.strip_prefix("seq:")?.parse().ok()
}

fn check_date(field: &str, value: &str) -> AppResult<String> {
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(|_| value.to_owned())
        .map_err(|_| AppError::invalid_field(field, "must be a date YYYY-MM-DD"))
}

/// The invoices of the key's environment, newest first.
#[utoipa::path(get, path = "/v1/invoices", operation_id = "list_invoices", tag = "invoices",
    params(
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
        ("limit" = Option<u32>, Query, description = "1 to 100 (default 20)", minimum = 1, maximum = 100),
        ("status" = Option<String>, Query, description = "pending, submitted, retrying, reported, cleared or rejected"),
        ("invoice_type" = Option<String>, Query, description = "simplified or standard"),
        ("document_type" = Option<String>, Query, description = "invoice, credit_note or debit_note"),
        ("date_from" = Option<String>, Query, description = "YYYY-MM-DD"),
        ("date_to" = Option<String>, Query, description = "YYYY-MM-DD"),
        ("egs_unit_id" = Option<String>, Query, description = "EGS unit id"),
    ),
    responses((status = 200, description = "A page of invoices", body = super::schemas::InvoiceList)))]
pub(super) async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Query(query): Query<HashMap<String, String>>,
) -> AppResult<Json<Ordered>> {
    let known = [
        "cursor",
        "limit",
        "status",
        "invoice_type",
        "document_type",
        "date_from",
        "date_to",
        "egs_unit_id",
    ];
    if let Some(unknown) = query.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(AppError::invalid_field(unknown, "unknown query parameter"));
    }
    let limit = match query.get("limit") {
        None => 20,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| AppError::invalid_field("limit", format!("must be 1 to {MAX_LIMIT}")))?,
    };
    let after = match query.get("cursor") {
        None => None,
        Some(text) => Some(
            parse_cursor(text).ok_or_else(|| AppError::invalid_field("cursor", "not a cursor from a previous page"))?,
        ),
    };
    let filter = InvoiceFilter {
        status: query
            .get("status")
            .map(|s| {
                s.parse::<InvoiceStatus>()
                    .map_err(|m| AppError::invalid_field("status", m))
            })
            .transpose()?,
        invoice_type: query
            .get("invoice_type")
            .map(|s| match s.as_str() {
                "simplified" | "standard" => Ok(s.clone()),
                _ => Err(AppError::invalid_field("invoice_type", "simplified or standard")),
            })
            .transpose()?,
        document_type: query
            .get("document_type")
            .map(|s| match s.as_str() {
                "invoice" | "credit_note" | "debit_note" => Ok(s.clone()),
                _ => Err(AppError::invalid_field(
                    "document_type",
                    "invoice, credit_note or debit_note",
                )),
            })
            .transpose()?,
        date_from: query.get("date_from").map(|d| check_date("date_from", d)).transpose()?,
        date_to: query.get("date_to").map(|d| check_date("date_to", d)).transpose()?,
        egs_unit_id: query
            .get("egs_unit_id")
            .map(|id| Uuid::parse_str(id).map_err(|_| AppError::from(ErrorCode::EgsUnitNotFound)))
            .transpose()?,
    };
    let page = state
        .store
        .list_invoices(auth.account.id, auth.key.environment, &filter, after, limit)
        .await?;
    let data: Vec<Ordered> = page
        .invoices
        .iter()
        .map(|i| {
            Ordered(vec![
                ("invoice_id", json!(i.id)),
                ("uuid", json!(i.uuid)),
                ("invoice_number", json!(i.invoice_number)),
                ("invoice_type", json!(i.invoice_type.as_str())),
                ("document_type", json!(i.document_type.as_str())),
                ("status", json!(i.status.as_str())),
                ("total", amount(i.total)),
                ("invoice_date", json!(i.invoice_date)),
                ("created_at", json!(iso(i.created_at))),
                // Beyond the documented fields: what a till's list needs to flag late reporting.
                ("egs_unit_id", json!(i.egs_unit_id)),
                ("report_deadline", json!(i.report_deadline.map(iso))),
            ])
        })
        .collect();
    let pagination = Ordered(vec![
        ("limit", json!(limit)),
        ("next_cursor", json!(page.next.map(cursor_text))),
        ("has_more", json!(page.next.is_some())),
        ("total_count", json!(page.total_count)),
    ]);
    Ok(Json(Ordered(vec![
        ("data", json!(data)),
        ("pagination", json!(pagination)),
    ])))
}

/// One invoice with its lines and status timeline.
#[utoipa::path(get, path = "/v1/invoices/{id}", operation_id = "get_invoice", tag = "invoices", params(("id" = uuid::Uuid, Path, description = "Invoice id")),
    responses((status = 200, description = "The invoice", body = super::schemas::InvoiceDetail)))]
pub(super) async fn detail(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> AppResult<Json<Ordered>> {
    let invoice = load(&state, &auth, &id).await?;
    let timeline = state.store.invoice_timeline(invoice.id).await?;
    let (xml_url, pdf_url) = urls(&invoice);
    let lines: Vec<Ordered> = invoice
        .line_items
        .iter()
        .map(|l| {
            Ordered(vec![
                ("line_number", json!(l.line_number)),
                ("description", json!(l.description)),
                ("quantity", amount(l.quantity)),
                ("unit_price", amount(l.unit_price)),
                ("vat_rate", amount(l.vat_rate)),
                ("line_total", amount(l.line_total)),
            ])
        })
        .collect();
    let timeline: Vec<Ordered> = timeline
        .iter()
        .map(|t| {
            let mut entry = Ordered(vec![("status", json!(t.status.as_str())), ("at", json!(iso(t.at)))]);
            if !t.messages.is_empty() {
                entry.set("messages", json!(t.messages));
            }
            entry
        })
        .collect();
    let now = chrono::Utc::now();
    let mut v = Ordered::default();
    v.set("invoice_id", json!(invoice.id));
    v.set("uuid", json!(invoice.uuid));
    v.set("invoice_number", json!(invoice.invoice_number));
    v.set("egs_unit_id", json!(invoice.egs_unit_id));
    v.set("invoice_type", json!(invoice.invoice_type.as_str()));
    v.set("document_type", json!(invoice.document_type.as_str()));
    v.set("status", json!(invoice.status.as_str()));
    v.set("subtotal", amount(invoice.subtotal));
    v.set("vat", amount(invoice.vat));
    v.set("total", amount(invoice.total));
    v.set("currency", json!(invoice.currency));
    v.set("invoice_date", json!(invoice.invoice_date));
    v.set("invoice_date_hijri", hijri(&invoice.invoice_date));
    v.set("reported_at", json!(invoice.reported_at.map(iso)));
    v.set("cleared_at", json!(invoice.cleared_at.map(iso)));
    v.set("report_deadline", json!(invoice.report_deadline.map(iso)));
    v.set("signed_xml_url", json!(xml_url));
    v.set("pdf_url", json!(pdf_url));
    v.set("qr_code", json!(invoice.qr_code));
    v.set("line_items", json!(lines));
    v.set("timeline", json!(timeline));
    v.set("invoice_time", json!(invoice.invoice_time));
    v.set("icv", json!(invoice.icv));
    v.set("invoice_hash", json!(invoice.invoice_hash));
    v.set("device_signed", json!(invoice.device_signed));
    if invoice.near_deadline(now, chrono::Duration::hours(2)) {
        v.set("report_deadline_near", json!(true));
    }
    if !invoice.messages.is_empty() {
        v.set("zatca_messages", json!(invoice.messages));
    }
    Ok(Json(v))
}

/// The XML: ZATCA's cleared XML when there is one, else as signed.
#[utoipa::path(get, path = "/v1/invoices/{id}/xml", operation_id = "get_invoice_xml", tag = "invoices", params(("id" = uuid::Uuid, Path, description = "Invoice id")),
    responses((status = 200, description = "XML", content_type = "application/xml", body = String),
        (status = 404, description = "No such invoice, or no document", body = super::schemas::ErrorEnvelope)))]
pub(super) async fn xml(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> AppResult<Response> {
    let invoice = load(&state, &auth, &id).await?;
    let Some(document) = archived(&state, &invoice).await? else {
        return Ok((
            StatusCode::NOT_FOUND,
            Json(json!({ "message": "Signed XML not available for this invoice." })),
        )
            .into_response());
    };
    let name: String = invoice
        .invoice_number
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((
        [
            (CONTENT_TYPE, "application/xml".to_owned()),
            (CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.xml\"")),
        ],
        document,
    )
        .into_response())
}
