//! The shapes the OpenAPI document gives to requests and answers that handlers read or build as
//! JSON in place (and the envelope of every error), with mirrors of zatca-core's enums. They
//! describe; the handlers and `error::envelope` produce.

use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use uuid::Uuid;

use crate::domain::{Custody, Detail, Environment};
use crate::error::ErrorCode;

/// Every error answer.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema: errors are built by error::envelope")]
pub struct ErrorEnvelope {
    error: ErrorBody,
}

/// The error.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema: errors are built by error::envelope")]
pub struct ErrorBody {
    /// One of the codes (each always has the same HTTP status).
    code: ErrorCodes,
    /// For people.
    message: String,
    /// Whether the same request may succeed later.
    retryable: bool,
    /// Field paths of invalid input, or ZATCA's messages.
    #[schema(required = false)]
    details: Vec<Detail>,
}

/// The error codes (`ErrorCode`).
pub struct ErrorCodes;

impl utoipa::PartialSchema for ErrorCodes {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .into()
    }
}

impl ToSchema for ErrorCodes {}

/// The invoice types a unit issues (`zatca_core::compliance::InvoiceTypes`).
#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code, reason = "a schema")]
pub enum InvoiceTypes {
    Standard,
    Simplified,
    Both,
}

/// A compliance document kind (`zatca_core::compliance::ComplianceKind`).
#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code, reason = "a schema")]
pub enum ComplianceKind {
    StandardInvoice,
    StandardCreditNote,
    StandardDebitNote,
    SimplifiedInvoice,
    SimplifiedCreditNote,
    SimplifiedDebitNote,
}

/// An API key as listed (`key` only in the answer that creates it).
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema of accounts::key_json")]
pub struct ApiKeyDoc {
    id: Uuid,
    name: Option<String>,
    environment: Environment,
    /// `zatca_test_AbCd…wXyZ`.
    masked_key: String,
    default_egs_unit_id: Option<Uuid>,
    /// `active` or `revoked`.
    status: String,
    created_at: String,
    last_used_at: Option<String>,
    revoked_at: Option<String>,
    /// The full key: only in the answer that creates it.
    #[schema(required = false)]
    key: String,
}

/// `GET /v1/keys`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema")]
pub struct KeyList {
    data: Vec<ApiKeyDoc>,
}

/// Units allowed per environment.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema")]
pub struct Quotas {
    sandbox: u32,
    production: u32,
}

/// `POST /v1/onboard` answer.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema of accounts::onboard")]
pub struct Onboarded {
    account_id: Uuid,
    plan: String,
    quotas: Option<Quotas>,
    api_key: ApiKeyDoc,
    message: String,
}

/// A quota and its use.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema")]
pub struct QuotaUse {
    limit: Option<u32>,
    used: u32,
}

/// Quota use per environment.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema")]
pub struct QuotaUses {
    sandbox: QuotaUse,
    production: QuotaUse,
}

/// The calling key.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema")]
pub struct CallingKey {
    id: Uuid,
    environment: Environment,
}

/// `GET /v1/account`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema of accounts::account")]
pub struct AccountDoc {
    account_id: Uuid,
    name: Option<String>,
    email: Option<String>,
    plan: String,
    created_at: String,
    quotas: QuotaUses,
    api_key: CallingKey,
}

/// A compliance document ZATCA accepted.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema")]
pub struct AcceptedDocument {
    kind: ComplianceKind,
    icv: i64,
    uuid: String,
    invoice_hash: String,
    /// ZATCA's warnings.
    messages: Value,
    accepted_at: String,
}

/// `GET /v1/egs/{id}/compliance-documents`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema of egs::list_compliance_documents")]
pub struct ComplianceDocuments {
    required: Vec<ComplianceKind>,
    accepted: Vec<ComplianceKind>,
    pending: Vec<ComplianceKind>,
    submit_url: String,
    onboarding_status: String,
    custody: Custody,
    /// The certificate in use (base64), if any.
    certificate: Option<String>,
    documents: Vec<AcceptedDocument>,
}

/// `POST /v1/egs/{id}/compliance-documents` answer.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema of onboarding::submit_device_document")]
pub struct ComplianceDocumentAccepted {
    kind: ComplianceKind,
    accepted: bool,
    validation_status: Option<String>,
    warnings: Vec<Detail>,
    pending: Vec<ComplianceKind>,
    onboarding_status: String,
}

/// One ZATCA exchange (secrets redacted).
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema of egs::audit_log")]
pub struct AuditEntryDoc {
    id: i64,
    at: String,
    operation: String,
    method: String,
    url: String,
    request_headers: Value,
    request_body: Option<String>,
    response_status: Option<u16>,
    response_body: Option<String>,
    duration_ms: u64,
    error: Option<String>,
}

/// `GET /v1/egs/{id}/audit-log`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema")]
pub struct AuditLog {
    /// Newest first.
    data: Vec<AuditEntryDoc>,
}

/// An address (`seller.address`, `buyer.address`): `street`, `city` and `country` are required
/// in every address a body gives, as documented (`AddressDto`, `BuyerAddressDto`); missing or
/// null, `400 VALIDATION_ERROR` with `missing_field` at the field's path.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema")]
pub struct InvoiceAddress {
    street: String,
    #[schema(required = false)]
    building_number: String,
    #[schema(required = false)]
    district: String,
    city: String,
    #[schema(required = false)]
    postal_code: String,
    #[schema(required = false)]
    additional_number: String,
    /// ISO 3166-1 alpha-2 (`SA`); a number is `invalid_type`, an empty one `empty_value`.
    #[schema(pattern = "^[A-Z]{2}$")]
    country: String,
}

/// The seller (`SellerDto`). The whole seller, or its whole address, may be left out: the EGS
/// unit's seller profile is then used (and fills what a given seller leaves out beyond these
/// fields: building number, district, postal code, CRN). A seller the body gives has `name` and
/// `vat_number`, the unit's (`400 SELLER_VAT_MISMATCH` otherwise).
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema")]
pub struct InvoiceSeller {
    #[schema(min_length = 1)]
    name: String,
    #[schema(required = false)]
    name_ar: String,
    /// 15 digits, starting and ending with 3.
    #[schema(pattern = "^3[0-9]{13}3$")]
    vat_number: String,
    /// Commercial registration number.
    #[schema(required = false)]
    crn: String,
    #[schema(required = false)]
    address: InvoiceAddress,
}

/// The buyer of a standard (B2B) document (`BuyerDto`): `name`, `vat_number` and `address`
/// required.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema")]
pub struct InvoiceBuyer {
    #[schema(min_length = 1)]
    name: String,
    #[schema(required = false)]
    name_ar: String,
    /// 15 digits, starting and ending with 3.
    #[schema(pattern = "^3[0-9]{13}3$")]
    vat_number: String,
    #[schema(required = false)]
    crn: String,
    address: InvoiceAddress,
}

/// A buyer as the core's input model has it (on a simplified document: a B2C buyer, optional,
/// without required fields of its own; ZATCA's rules decide, e.g. the national id of an
/// education or health buyer, BR-KSA-49). An address it gives is complete.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema")]
pub struct InvoiceConsumer {
    #[schema(required = false, min_length = 1)]
    name: String,
    #[schema(required = false)]
    name_ar: String,
    /// 15 digits, starting and ending with 3.
    #[schema(required = false, pattern = "^3[0-9]{13}3$")]
    vat_number: String,
    #[schema(required = false)]
    address: InvoiceAddress,
}

/// A line of an invoice (`LineItemDto`).
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema")]
pub struct InvoiceLineInput {
    #[schema(min_length = 1)]
    description: String,
    #[schema(required = false)]
    description_ar: String,
    #[schema(exclusive_minimum = 0.0)]
    quantity: f64,
    #[schema(minimum = 0.0)]
    unit_price: f64,
    /// `S` (default), `Z`, `E` or `O` (BR-KSA-18).
    #[schema(required = false)]
    vat_category: String,
    /// Percent (default 15).
    #[schema(required = false)]
    vat_rate: f64,
}

/// The body of `POST /v1/invoices/simplified` (`CreateSimplifiedInvoiceDto`, plus the core's
/// input model: `prices_include_vat`, `delivery_date`, an optional B2C `buyer`, …).
#[derive(ToSchema)]
#[schema(example = json!({
    "invoice_number": "INV-1001",
    "invoice_date": "2025-01-15",
    "invoice_time": "14:30:00",
    "seller": {
        "name": "Maximum Speed Tech Supply LTD",
        "vat_number": "399999999900003",
        "address": { "street": "Prince Sultan", "city": "Riyadh", "country": "SA" }
    },
    "line_items": [{ "description": "Product A", "quantity": 2, "unit_price": 50.0 }]
}))]
#[allow(dead_code, reason = "a schema: the body is read by invoicing::core_input")]
pub struct SimplifiedInvoiceRequest {
    /// The issuing unit (default: the key's default unit).
    #[schema(required = false)]
    egs_unit_id: Uuid,
    #[schema(min_length = 1, max_length = 127)]
    invoice_number: String,
    /// `YYYY-MM-DD` (Riyadh time).
    #[schema(format = Date)]
    invoice_date: String,
    /// `HH:mm:ss`.
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$")]
    invoice_time: String,
    /// ISO 4217 (default `SAR`).
    #[schema(required = false)]
    currency: String,
    /// Amounts include VAT.
    #[schema(required = false)]
    prices_include_vat: bool,
    #[schema(required = false)]
    seller: InvoiceSeller,
    #[schema(required = false)]
    buyer: InvoiceConsumer,
    #[schema(min_items = 1)]
    line_items: Vec<InvoiceLineInput>,
}

/// The body of `POST /v1/invoices/standard` (`CreateStandardInvoiceDto`, plus the core's input
/// model): the buyer is required.
#[derive(ToSchema)]
#[schema(example = json!({
    "invoice_number": "INV-1002",
    "invoice_date": "2025-01-15",
    "invoice_time": "14:30:00",
    "seller": {
        "name": "Maximum Speed Tech Supply LTD",
        "vat_number": "399999999900003",
        "address": { "street": "Prince Sultan", "city": "Riyadh", "country": "SA" }
    },
    "buyer": {
        "name": "Client Co",
        "vat_number": "300098765400003",
        "address": { "street": "Olaya St", "city": "Riyadh", "country": "SA" }
    },
    "line_items": [{ "description": "Service B", "quantity": 1, "unit_price": 100.0 }]
}))]
#[allow(dead_code, reason = "a schema: the body is read by invoicing::core_input")]
pub struct StandardInvoiceRequest {
    /// The issuing unit (default: the key's default unit).
    #[schema(required = false)]
    egs_unit_id: Uuid,
    #[schema(min_length = 1, max_length = 127)]
    invoice_number: String,
    /// `YYYY-MM-DD` (Riyadh time).
    #[schema(format = Date)]
    invoice_date: String,
    /// `HH:mm:ss`.
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$")]
    invoice_time: String,
    /// ISO 4217 (default `SAR`).
    #[schema(required = false)]
    currency: String,
    /// Amounts include VAT.
    #[schema(required = false)]
    prices_include_vat: bool,
    #[schema(required = false)]
    seller: InvoiceSeller,
    buyer: InvoiceBuyer,
    #[schema(min_items = 1)]
    line_items: Vec<InvoiceLineInput>,
}

/// The body of `POST /v1/invoices/credit-note` and `/debit-note` (`CreateCreditNoteDto`,
/// `CreateDebitNoteDto`, plus the core's input model). A note is reported or cleared as its
/// original was: a note of a standard invoice needs the buyer (`400 BUYER_REQUIRED_FOR_B2B_NOTE`
/// without one), with `name`, `vat_number` and `address` as on a standard invoice
/// (`InvoiceBuyer`; `400 VALIDATION_ERROR` at the missing field); a note of a simplified one
/// takes the buyer of a simplified invoice.
#[derive(ToSchema)]
#[schema(example = json!({
    "invoice_number": "CN-001",
    "invoice_date": "2025-01-20",
    "invoice_time": "11:00:00",
    "original_invoice_uuid": "1f6f8d7e-3c1a-4b8e-9a51-0c6a8e2f4b11",
    "reason": "Goods returned",
    "seller": {
        "name": "Maximum Speed Tech Supply LTD",
        "vat_number": "399999999900003",
        "address": { "street": "Prince Sultan", "city": "Riyadh", "country": "SA" }
    },
    "line_items": [{ "description": "Refund Item A", "quantity": 1, "unit_price": 50.0 }]
}))]
#[allow(dead_code, reason = "a schema: the body is read by invoicing::core_input")]
pub struct NoteRequest {
    /// The issuing unit (default: the key's default unit).
    #[schema(required = false)]
    egs_unit_id: Uuid,
    #[schema(min_length = 1, max_length = 127)]
    invoice_number: String,
    /// `YYYY-MM-DD` (Riyadh time).
    #[schema(format = Date)]
    invoice_date: String,
    /// `HH:mm:ss`.
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$")]
    invoice_time: String,
    /// The original invoice's UUID.
    original_invoice_uuid: String,
    /// Why (KSA-10).
    #[schema(min_length = 1)]
    reason: String,
    #[schema(required = false)]
    reason_ar: String,
    /// ISO 4217 (default `SAR`).
    #[schema(required = false)]
    currency: String,
    /// Amounts include VAT.
    #[schema(required = false)]
    prices_include_vat: bool,
    #[schema(required = false)]
    seller: InvoiceSeller,
    /// Required for a note of a standard invoice, as a standard invoice's buyer (`InvoiceBuyer`).
    #[schema(required = false)]
    buyer: InvoiceConsumer,
    #[schema(min_items = 1)]
    line_items: Vec<InvoiceLineInput>,
}

/// `POST /v1/invoices/signed` body: a document the device signed.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema: the body is read by invoicing::create_signed")]
pub struct SignedInvoiceRequest {
    /// The unit (default: the key's default unit).
    #[schema(required = false)]
    egs_unit_id: Uuid,
    /// Base64 of the signed XML.
    invoice: String,
    /// Base64 SHA-256 invoice hash (computed when omitted).
    #[schema(required = false)]
    invoice_hash: String,
    /// The document's UUID (read from the XML when omitted).
    #[schema(required = false)]
    uuid: String,
}

/// The answer of the create endpoints (fields depend on the endpoint, as documented).
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema of invoices::created_json")]
pub struct InvoiceCreated {
    invoice_id: Uuid,
    uuid: String,
    /// `pending`, `submitted`, `retrying`, `reported`, `cleared` or `rejected`.
    status: String,
    #[schema(required = false)]
    document_type: String,
    subtotal: f64,
    vat: f64,
    total: f64,
    #[schema(required = false)]
    invoice_date_hijri: Option<String>,
    #[schema(required = false)]
    qr_code: Option<String>,
    #[schema(required = false)]
    reported_at: Option<String>,
    #[schema(required = false)]
    cleared_at: Option<String>,
    #[schema(required = false)]
    report_deadline: Option<String>,
    #[schema(required = false)]
    signed_xml_url: String,
    #[schema(required = false)]
    pdf_url: String,
    /// While ZATCA has not answered.
    #[schema(required = false)]
    message: String,
    /// ZATCA's warnings (or errors, when rejected).
    #[schema(required = false)]
    warnings: Vec<Detail>,
    /// `/signed`: the document's place in the unit's chain.
    #[schema(required = false)]
    icv: i64,
    #[schema(required = false)]
    invoice_hash: String,
    #[schema(required = false)]
    chain: Value,
}

/// An invoice in a list.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema of invoices::list")]
pub struct InvoiceSummary {
    invoice_id: Uuid,
    uuid: String,
    invoice_number: String,
    invoice_type: String,
    document_type: String,
    status: String,
    total: f64,
    invoice_date: String,
    created_at: String,
    egs_unit_id: Uuid,
    report_deadline: Option<String>,
}

/// Paging of a list.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema")]
pub struct Pagination {
    limit: u32,
    next_cursor: Option<String>,
    has_more: bool,
    total_count: u64,
}

/// `GET /v1/invoices`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema")]
pub struct InvoiceList {
    data: Vec<InvoiceSummary>,
    pagination: Pagination,
}

/// A line as shown.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema")]
pub struct InvoiceLine {
    line_number: i64,
    description: String,
    quantity: f64,
    unit_price: f64,
    vat_rate: f64,
    line_total: f64,
}

/// A status change.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema")]
pub struct TimelineEntryDoc {
    status: String,
    at: String,
    #[schema(required = false)]
    messages: Vec<Detail>,
}

/// `GET /v1/invoices/{id}`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema of invoices::detail")]
pub struct InvoiceDetail {
    invoice_id: Uuid,
    uuid: String,
    invoice_number: String,
    egs_unit_id: Uuid,
    invoice_type: String,
    document_type: String,
    status: String,
    subtotal: f64,
    vat: f64,
    total: f64,
    currency: String,
    invoice_date: String,
    invoice_date_hijri: Option<String>,
    reported_at: Option<String>,
    cleared_at: Option<String>,
    report_deadline: Option<String>,
    signed_xml_url: String,
    pdf_url: String,
    qr_code: Option<String>,
    line_items: Vec<InvoiceLine>,
    timeline: Vec<TimelineEntryDoc>,
    invoice_time: String,
    icv: i64,
    invoice_hash: String,
    device_signed: bool,
    #[schema(required = false)]
    report_deadline_near: bool,
    #[schema(required = false)]
    zatca_messages: Vec<Detail>,
}

/// `GET /health`, `/readyz`, `/healthz`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema of health")]
pub struct Health {
    status: String,
    version: String,
}

/// `GET /v1/invoices/{id}/pdf|xml` when the archive has no document.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema")]
pub struct NotAvailable {
    message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mirrors of zatca-core's enums list the same names.
    #[test]
    fn mirrored_enums_match_core() {
        let schema = |s: RefOr<utoipa::openapi::schema::Schema>| serde_json::to_value(s).expect("json");
        let types = schema(<InvoiceTypes as utoipa::PartialSchema>::schema());
        let core: Vec<Value> = ["standard", "simplified", "both"]
            .iter()
            .map(|t| {
                let parsed: zatca_core::compliance::InvoiceTypes =
                    serde_json::from_value(Value::from(*t)).expect("core type");
                serde_json::to_value(parsed).expect("json")
            })
            .collect();
        assert_eq!(types["enum"], Value::from(core));
        let kinds = schema(<ComplianceKind as utoipa::PartialSchema>::schema());
        let core: Vec<Value> = zatca_core::compliance::ComplianceKind::ALL
            .iter()
            .map(|k| serde_json::to_value(k).expect("json"))
            .collect();
        let mut listed: Vec<Value> = kinds["enum"].as_array().expect("enum").clone();
        let mut core = core;
        listed.sort_by_key(ToString::to_string);
        core.sort_by_key(ToString::to_string);
        assert_eq!(listed, core);
    }
}
