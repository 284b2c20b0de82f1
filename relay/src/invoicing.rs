//! Invoicing: turning a create request into a signed document at the next position of the
//! unit's chain, and getting it reported (simplified) or cleared (standard) by ZATCA.
//!
//! The order of a create is what keeps it safe:
//! 1. everything that can refuse the request is checked first (unit, environment, idempotency
//!    key, the original of a note, the core's validation), so nothing is consumed on error;
//! 2. under the unit's lock the chain (ICV, PIH) is read, the document signed, its XML archived,
//!    and the invoice row, the chain's new head and the submission job committed in one
//!    transaction (a concurrent writer elsewhere makes it sign again);
//! 3. one inline attempt at ZATCA; if it does not settle in time the queued job finishes it.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;
use zatca_core::cert::Certificate;
use zatca_core::keys::PrivateKey;
use zatca_core::model::InvoiceInput;
use zatca_core::sign::{Signer, sign_invoice};
use zatca_core::ubl::ChainInputs;

use crate::AppState;
use crate::authority::{AuthorityError, CallContext, Credentials, DocumentSubmission, SubmissionResult};
use crate::domain::{
    Auth, ChainCheck, ChainStatus, Custody, Detail, DocumentKind, EgsUnit, Environment, Invoice, InvoiceKind,
    InvoiceStatus, InvoiceTypes, Job, JobKind, JobOutcome, LineSummary, OnboardingStatus, SubmitJob, TimelineEntry,
};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::onboarding::{key_context, production_credentials};
use crate::store::{ArchiveKind, IssueOutcome};

/// Which create endpoint was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/invoices/simplified`.
    Simplified,
    /// `POST /v1/invoices/standard`.
    Standard,
    /// `POST /v1/invoices/credit-note`.
    CreditNote,
    /// `POST /v1/invoices/debit-note`.
    DebitNote,
}

impl Endpoint {
    fn document_type(self) -> DocumentKind {
        match self {
            Endpoint::Simplified | Endpoint::Standard => DocumentKind::Invoice,
            Endpoint::CreditNote => DocumentKind::CreditNote,
            Endpoint::DebitNote => DocumentKind::DebitNote,
        }
    }
}

/// A create request, as the route parsed it.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The JSON body (an object).
    pub body: Map<String, Value>,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
}

/// What a create produced: the invoice (new, or the one an idempotent retry refers to).
#[derive(Debug, Clone)]
pub struct Created {
    /// The invoice.
    pub invoice: Invoice,
}

fn text<'a>(body: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    body.get(field).and_then(Value::as_str)
}

/// SHA-256 of the request: the endpoint and the body with sorted keys (serde_json's map is
/// ordered), so the same request sent again hashes the same.
fn request_hash(endpoint: &str, body: &Map<String, Value>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("{endpoint}\n").as_bytes());
    hasher.update(serde_json::to_vec(body).unwrap_or_default());
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The unit a request names (or the key's default unit), checked for use.
pub async fn resolve_unit(state: &AppState, auth: &Auth, named: Option<&str>) -> AppResult<EgsUnit> {
    let id = match named {
        Some(id) => id.to_owned(),
        None => match auth.key.default_egs_unit_id {
            Some(id) => id.to_string(),
            None => return Err(ErrorCode::EgsUnitRequired.into()),
        },
    };
    crate::onboarding::unit_of(state, auth, &id).await
}

fn check_ready(unit: &EgsUnit, kind: InvoiceKind) -> AppResult<()> {
    if unit.onboarding_status != OnboardingStatus::Active || unit.production.is_none() {
        return Err(ErrorCode::EgsNotReady.into());
    }
    if unit.phase == 1 {
        return Err(AppError::api(
            ErrorCode::Phase1Unit,
            "Phase 1 units do not sign or report invoices through the relay",
        ));
    }
    let allowed = matches!(
        (unit.invoice_type, kind),
        (InvoiceTypes::Both, _)
            | (InvoiceTypes::Simplified, InvoiceKind::Simplified)
            | (InvoiceTypes::Standard, InvoiceKind::Standard)
    );
    if !allowed {
        return Err(AppError::api(
            ErrorCode::InvoiceTypeNotAllowed,
            format!(
                "This EGS unit issues {} invoices only (its certificate says so)",
                unit.invoice_type.as_str()
            ),
        ));
    }
    Ok(())
}

/// The core's input: the body, with the document kind the endpoint implies and the unit's
/// seller profile filling what the body's seller leaves out.
fn core_input(
    unit: &EgsUnit,
    body: &Map<String, Value>,
    kind: InvoiceKind,
    document: DocumentKind,
    original: Option<&Invoice>,
) -> AppResult<Value> {
    let mut input = body.clone();
    input.remove("egs_unit_id");
    input.insert("invoice_type".into(), json!(kind.as_str()));
    input.insert("document_type".into(), json!(document.as_str()));
    let profile = crate::signing::party_json(&unit.seller);
    let seller = match input.remove("seller") {
        Some(Value::Object(seller)) => seller,
        Some(_) => return Err(AppError::invalid_field("seller", "must be an object")),
        None => profile.as_object().cloned().unwrap_or_default(),
    };
    if let Some(vat) = seller.get("vat_number").and_then(Value::as_str) {
        if vat != unit.seller.vat_number {
            return Err(AppError::api(
                ErrorCode::SellerVatMismatch,
                format!(
                    "seller.vat_number {vat} is not the VAT number of this EGS unit's certificate ({}); ZATCA would reject it (certificate-permissions)",
                    unit.seller.vat_number
                ),
            )
            .with_details(vec![Detail::field("seller.vat_number", "differs from the EGS unit's VAT number")]));
        }
    }
    let mut merged = profile.as_object().cloned().unwrap_or_default();
    for (field, value) in seller {
        if field == "address" {
            if let (Some(Value::Object(base)), Value::Object(given)) = (merged.get_mut("address"), value) {
                for (k, v) in given {
                    base.insert(k, v);
                }
                continue;
            }
            return Err(AppError::invalid_field("seller.address", "must be an object"));
        }
        merged.insert(field, value);
    }
    input.insert("seller".into(), Value::Object(merged));
    if let Some(original) = original {
        input.remove("original_invoice_uuid");
        input.insert("original_invoice_uuid".into(), json!(original.uuid));
        input
            .entry("original_invoice_number")
            .or_insert_with(|| json!(original.invoice_number));
    }
    Ok(Value::Object(input))
}

/// The errors among the core's issues as details: the rule id (else the core's code), the
/// issue's own path or `path`, the message.
fn error_details(issues: &[zatca_core::Issue], path: Option<&str>) -> Vec<Detail> {
    issues
        .iter()
        .filter(|i| i.severity == zatca_core::Severity::Error)
        .map(|i| Detail {
            code: Some(i.rule.map_or_else(|| i.code.to_owned(), str::to_owned)),
            path: path.map(str::to_owned).or_else(|| i.path.clone()),
            category: None,
            message: i.message.clone(),
        })
        .collect()
}

/// The errors of ZATCA's schematron rules that `zatca-rules` implements, and of its structure
/// pass (`XSD`: the UBL 2.1 schema, ZATCA's first stage), refused here with their rule ids
/// instead of by ZATCA after the unit's chain has moved; a rule the core's checks already
/// reported is not repeated. Checked at the current time: of the two rules that need it,
/// BR-KSA-98 (a simplified document reported late) is a warning, so a queued invoice sent late
/// is never refused for it, and BR-KSA-04 fires only for a date after today in every zone.
fn schematron_errors(xml: &[u8], problems: &mut Vec<Detail>) {
    let now = Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    let context = zatca_rules::Context {
        now: Some(&now),
        ..Default::default()
    };
    for finding in zatca_rules::validate(xml, &context).issues {
        let reported = finding.rule != "XSD" && problems.iter().any(|d| d.code.as_deref() == Some(finding.rule));
        if finding.severity == zatca_core::Severity::Error && !reported {
            let detail = finding.detail.map(|d| format!(": {d}")).unwrap_or_default();
            problems.push(Detail {
                code: Some(finding.rule.to_owned()),
                path: Some("invoice".to_owned()),
                category: None,
                message: format!("{}{detail} (at {})", finding.message, finding.location),
            });
        }
    }
}

/// What the documented request bodies (`hosted-api-invoices.txt`) require beyond the core's
/// input model, shared with the CLI and the npm package, where these are optional (ZATCA then
/// at most warns) or where the unit's seller profile would fill them in. Checked on the body,
/// before the profile is merged in:
/// * a seller the body gives (`SellerDto`) has `name` and `vat_number`; leaving the whole
///   seller, or its whole address, out is the relay's one superset: the unit's profile, checked
///   when the unit was created, is then used;
/// * every address the body gives (`AddressDto`, `BuyerAddressDto`) has `street`, `city` and
///   `country`;
/// * a standard document (the standard endpoint, or a note of a standard invoice) has a buyer
///   (`BuyerDto`) with `name`, `vat_number` and `address`. On a simplified document the buyer is
///   the core's optional B2C party (the hosted API's simplified body has none; a consumer has
///   no VAT number), held only to the address rule.
///
/// Missing or null is `missing_field`, as the core reports a missing required field; a country
/// that is a number (never an alpha-2 code, though the core reads it as text) `invalid_type`.
/// An empty value, another type or a malformed code the core reports itself (`empty_value`,
/// `invalid_type`, BR-CL-14), and where the core already reports an error at the same path (a
/// null `seller.vat_number` is BR-KSA-39) its answer stands ([`input_errors`]).
fn contract_details(body: &Map<String, Value>, kind: InvoiceKind) -> Vec<Detail> {
    let mut details = Vec::new();
    party_contract(body, "seller", &["name", "vat_number"], false, &mut details);
    if kind == InvoiceKind::Standard {
        if absent(body, "buyer") {
            details.push(missing("buyer".to_owned()));
        }
        party_contract(body, "buyer", &["name", "vat_number"], true, &mut details);
    } else {
        party_contract(body, "buyer", &[], false, &mut details);
    }
    details
}

/// Whether a field is missing or null.
fn absent(object: &Map<String, Value>, field: &str) -> bool {
    object.get(field).is_none_or(Value::is_null)
}

/// A missing required field, as the core reports one.
fn missing(path: String) -> Detail {
    Detail {
        code: Some(zatca_core::Code::MissingField.as_str().to_owned()),
        path: Some(path),
        category: None,
        message: "is required".to_owned(),
    }
}

/// The party `name` of the body, if it gives one as an object (anything else is refused as such
/// by `core_input` or the core): its `fields`, its address if `address_required`, and the
/// street, city and country of the address it gives.
fn party_contract(
    body: &Map<String, Value>,
    name: &str,
    fields: &[&str],
    address_required: bool,
    details: &mut Vec<Detail>,
) {
    let Some(party) = body.get(name).and_then(Value::as_object) else {
        return;
    };
    for field in fields {
        if absent(party, field) {
            details.push(missing(format!("{name}.{field}")));
        }
    }
    let address = match party.get("address") {
        Some(Value::Object(address)) => address,
        None | Some(Value::Null) if address_required => {
            details.push(missing(format!("{name}.address")));
            return;
        }
        _ => return,
    };
    for field in ["street", "city", "country"] {
        let path = format!("{name}.address.{field}");
        match address.get(field) {
            None | Some(Value::Null) => details.push(missing(path)),
            Some(Value::Number(_)) if field == "country" => details.push(Detail {
                code: Some(zatca_core::Code::InvalidType.as_str().to_owned()),
                path: Some(path),
                category: None,
                message: "expected a string".to_owned(),
            }),
            Some(_) => {}
        }
    }
}

/// The request checked as the core and ZATCA's rules see it (`zatca_rules::validate_input`):
/// the core's input checks, then the rules on the XML the core writes from it. Its errors are
/// refused with their rule ids (else the core's code), each at its JSON field where the rule's
/// location maps back to one, after the relay's own (`contract`, from [`contract_details`]).
/// At the current time, as [`schematron_errors`].
fn input_errors(input: &Value, contract: Vec<Detail>) -> AppResult<()> {
    let now = Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    let context = zatca_rules::Context {
        now: Some(&now),
        ..Default::default()
    };
    let report = zatca_rules::validate_input_value(input, &context);
    if report.valid && contract.is_empty() {
        return Ok(());
    }
    let core: Vec<&zatca_rules::InputFinding> = report
        .issues
        .iter()
        .filter(|i| i.severity == zatca_core::Severity::Error)
        .collect();
    // Where the core already reports an error at a field (with its rule id), its answer stands.
    let mut details: Vec<Detail> = contract
        .into_iter()
        .filter(|d| !core.iter().any(|i| Some(i.location.as_str()) == d.path.as_deref()))
        .collect();
    details.extend(core.into_iter().map(|i| Detail {
        code: Some(i.rule.unwrap_or(i.code).to_owned()),
        path: Some(i.location.clone()).filter(|l| !l.is_empty()),
        category: None,
        message: match &i.detail {
            Some(detail) => format!("{}: {detail}", i.message),
            None => i.message.clone(),
        },
    }));
    let first = details
        .first()
        .map(|d| format!("{}: {}", d.path.as_deref().unwrap_or("invoice"), d.message))
        .unwrap_or_default();
    Err(AppError::api(ErrorCode::ValidationError, format!("The invoice is invalid: {first}")).with_details(details))
}

fn core_details(err: &zatca_core::Error) -> Vec<Detail> {
    error_details(err.issues(), None)
}

/// Creates an invoice (or answers an idempotent retry with the invoice it made).
pub async fn create(state: &AppState, auth: &Auth, request: CreateRequest) -> AppResult<Created> {
    let hash = request_hash(&format!("{:?}", request.endpoint), &request.body);
    if let Some(key) = &request.idempotency_key {
        if let Some(existing) = state.store.invoice_by_idempotency_key(auth.account.id, key).await? {
            return replay(existing, &hash);
        }
    }
    let unit = resolve_unit(state, auth, text(&request.body, "egs_unit_id")).await?;
    if unit.custody == Custody::Device {
        return Err(AppError::api(
            ErrorCode::CustodyMismatch,
            "This EGS unit signs on the device: send its signed documents to POST /v1/invoices/signed",
        ));
    }
    let document = request.endpoint.document_type();
    let original = match document.is_note() {
        false => None,
        true => Some(original_invoice(state, auth, &request.body).await?),
    };
    let kind = match (request.endpoint, &original) {
        (Endpoint::Standard, _) => InvoiceKind::Standard,
        (Endpoint::Simplified, _) => InvoiceKind::Simplified,
        // A note follows its original: reported if the original was, cleared if it was.
        (_, Some(original)) => original.invoice_type,
        (_, None) => InvoiceKind::Simplified,
    };
    check_ready(&unit, kind)?;
    if let Some(original) = &original {
        if original.has_buyer && absent(&request.body, "buyer") {
            return Err(ErrorCode::BuyerRequiredForB2bNote.into());
        }
    }
    let input = core_input(&unit, &request.body, kind, document, original.as_ref())?;
    input_errors(&input, contract_details(&request.body, kind))?;
    let input = InvoiceInput::from_value(&input).map_err(|err| {
        AppError::api(ErrorCode::ValidationError, format!("The invoice is invalid: {err}"))
            .with_details(core_details(&err))
    })?;
    let totals = zatca_core::totals::compute(&input).map_err(|err| {
        AppError::api(ErrorCode::ValidationError, format!("The invoice is invalid: {err}"))
            .with_details(core_details(&err))
    })?;
    if let Some(original) = &original {
        let before = state.store.notes_total(original.id, document.as_str()).await?;
        if before + totals.tax_inclusive > original.total {
            return Err(
                AppError::from(ErrorCode::CreditNoteTotalExceedsOriginal).with_details(vec![Detail::message(format!(
                    "this {} totals {}, earlier notes {}, the original invoice {}",
                    document.as_str().replace('_', " "),
                    totals.tax_inclusive,
                    before,
                    original.total
                ))]),
            );
        }
    }
    let lines = input
        .line_items
        .iter()
        .zip(&totals.lines)
        .enumerate()
        .map(|(i, (line, t))| LineSummary {
            line_number: u32::try_from(i + 1).unwrap_or(u32::MAX),
            description: line.description.clone(),
            quantity: line.quantity,
            unit_price: line.unit_price,
            vat_rate: line.vat_rate,
            line_total: t.with_vat,
        })
        .collect();
    let draft = Draft {
        input,
        kind,
        document,
        subtotal: totals.tax_exclusive,
        vat: totals.vat_total,
        total: totals.tax_inclusive,
        lines,
        original_id: original.as_ref().map(|o| o.id),
        idempotency_key: request.idempotency_key.clone(),
        request_hash: hash.clone(),
    };
    let invoice = issue(state, &unit, draft).await?;
    if invoice.request_hash.as_deref() != Some(hash.as_str()) {
        // Lost an idempotency race to a request with another body.
        return replay(invoice, &hash);
    }
    let invoice = settle_inline(state, invoice).await;
    Ok(Created { invoice })
}

/// `POST /v1/invoices/signed`: a document signed on the device (device custody).
#[derive(Debug, Clone)]
pub struct SignedRequest {
    /// The JSON body: `invoice` (base64 of the signed XML), `invoice_hash`, `uuid`, and
    /// optionally `egs_unit_id`.
    pub body: Map<String, Value>,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
}

/// A device document, recorded (or the one the same bytes recorded before).
#[derive(Debug, Clone)]
pub struct RecordedSigned {
    /// The invoice.
    pub invoice: Invoice,
    /// Its place in the chain (for a repeat: as recorded the first time).
    pub chain: ChainCheck,
}

/// Records and submits a device-signed document: the unit must be a device-custody unit of
/// the key's account and environment; the hash is recomputed, the signature verified against
/// the unit's certificate, and the ICV/PIH checked against the chain.
pub async fn create_signed(state: &AppState, auth: &Auth, request: SignedRequest) -> AppResult<RecordedSigned> {
    let body = &request.body;
    let hash_key = request_hash("Signed", body);
    if let Some(key) = &request.idempotency_key {
        if let Some(existing) = state.store.invoice_by_idempotency_key(auth.account.id, key).await? {
            let created = replay(existing, &hash_key)?;
            let chain = recorded_chain(state, auth, &created.invoice).await?;
            return Ok(RecordedSigned {
                invoice: created.invoice,
                chain,
            });
        }
    }
    let unit = resolve_unit(state, auth, text(body, "egs_unit_id")).await?;
    if unit.custody != Custody::Device {
        return Err(AppError::api(
            ErrorCode::CustodyMismatch,
            "This EGS unit is signed by the relay: use POST /v1/invoices/simplified, /standard, /credit-note or /debit-note",
        ));
    }
    let xml = text(body, "invoice")
        .and_then(|b| B64.decode(b.trim()).ok())
        .ok_or_else(|| AppError::invalid_field("invoice", "must be the signed XML, base64-encoded"))?;
    let verification = zatca_core::verify::verify(&xml, None)
        .map_err(|e| AppError::invalid_field("invoice", format!("not a UBL document: {e}")))?;
    let kind = if verification.is_simplified {
        InvoiceKind::Simplified
    } else {
        InvoiceKind::Standard
    };
    check_ready(&unit, kind)?;
    let mut problems = error_details(&verification.issues, Some("invoice"));
    schematron_errors(&xml, &mut problems);
    if let Some(given) = text(body, "invoice_hash") {
        if given != verification.hash {
            problems.push(Detail::field(
                "invoice_hash",
                format!("differs from the document's hash {}", verification.hash),
            ));
        }
    }
    if let Some(given) = text(body, "uuid") {
        if given != verification.uuid {
            problems.push(Detail::field("uuid", "differs from the document's cbc:UUID"));
        }
    }
    let unit_cert = unit.production.as_ref().map(|p| p.token.as_str()).unwrap_or_default();
    let signed_with_unit_cert = match (
        &verification.certificate,
        Certificate::from_binary_security_token(unit_cert),
    ) {
        (Some(embedded), Ok(ours)) => embedded.der() == ours.der(),
        _ => false,
    };
    if !signed_with_unit_cert {
        problems.push(Detail::field(
            "invoice",
            "not signed with this EGS unit's production certificate",
        ));
    }
    if verification.seller_vat != unit.seller.vat_number {
        problems.push(Detail::field(
            "invoice",
            format!(
                "the seller VAT number {} is not this EGS unit's ({})",
                verification.seller_vat, unit.seller.vat_number
            ),
        ));
    }
    let Some(icv) = verification.icv.and_then(|i| i64::try_from(i).ok()) else {
        problems.push(Detail::field("invoice", "no ICV (AdditionalDocumentReference ICV)"));
        return Err(
            AppError::api(ErrorCode::InvalidSignedInvoice, "The signed invoice cannot be accepted")
                .with_details(problems),
        );
    };
    if !problems.is_empty() {
        return Err(
            AppError::api(ErrorCode::InvalidSignedInvoice, "The signed invoice cannot be accepted")
                .with_details(problems),
        );
    }
    let document = crate::signing::read_device_document(&xml).map_err(|m| AppError::invalid_field("invoice", m))?;
    let document_type = match verification.invoice_type_code.as_str() {
        "381" => DocumentKind::CreditNote,
        "383" => DocumentKind::DebitNote,
        _ => DocumentKind::Invoice,
    };
    let lock = state.chain_lock(unit.id);
    let mut head = lock.lock().await;
    // A device document may move the head anywhere: read it from the store next time.
    *head = None;
    let unit = state
        .store
        .unit_by_id(unit.id)
        .await?
        .ok_or(ErrorCode::EgsUnitNotFound)?;
    let chain = chain_check(&unit, icv, verification.pih.as_deref());
    let note = (chain.status != ChainStatus::Continuous).then(|| {
        format!(
            "{} at ICV {icv}: the relay expected ICV {} with PIH {} ({})",
            chain.status.as_str(),
            chain.expected_icv,
            chain.expected_pih,
            crate::domain::iso(Utc::now())
        )
    });
    let now = Utc::now();
    let invoice = Invoice {
        id: Uuid::now_v7(),
        account_id: unit.account_id,
        egs_unit_id: unit.id,
        environment: unit.environment,
        uuid: verification.uuid.clone(),
        invoice_number: document.invoice_number,
        invoice_type: kind,
        document_type,
        status: InvoiceStatus::Pending,
        icv,
        invoice_hash: verification.hash.clone(),
        currency: document.currency,
        subtotal: document.subtotal,
        vat: document.vat,
        total: document.total,
        invoice_date: verification.issue_date.clone(),
        invoice_time: verification.issue_time.clone(),
        qr_code: zatca_core::verify::embedded_qr(&xml).ok(),
        original_invoice_id: None,
        has_buyer: document.has_buyer,
        device_signed: true,
        chain: Some(chain.clone()),
        line_items: document.lines,
        messages: Vec::new(),
        report_deadline: report_deadline(&verification.issue_date, &verification.issue_time, kind, now),
        reported_at: None,
        cleared_at: None,
        idempotency_key: request.idempotency_key.clone(),
        request_hash: Some(hash_key.clone()),
        created_at: now,
        updated_at: now,
    };
    let in_transaction = archive_signed(state, invoice.id, &xml).await?;
    let job = submission_job(state, &invoice, now);
    let invoice = match state
        .store
        .record_device_invoice(&invoice, Some(&job), note.as_deref(), in_transaction)
        .await?
    {
        IssueOutcome::Issued => {
            if let Some(note) = &note {
                tracing::warn!(egs.id = %unit.id, invoice.icv = icv, "device chain: {note}");
            }
            invoice
        }
        // The same signed bytes sent again: one invoice.
        IssueOutcome::Exists(id) => {
            let existing = state
                .store
                .invoice_by_id(id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("invoice {id} vanished"))?;
            let chain = existing.chain.clone().unwrap_or(chain);
            return Ok(RecordedSigned {
                invoice: existing,
                chain,
            });
        }
        IssueOutcome::ChainMoved => {
            return Err(AppError::api(
                ErrorCode::ChainConflict,
                format!("Another document of this EGS unit already holds ICV {icv}; the device's chain has forked"),
            ));
        }
    };
    drop(head);
    let invoice = settle_inline(state, invoice).await;
    Ok(RecordedSigned { invoice, chain })
}

/// The chain check a device document got when it was first recorded (documents recorded
/// before the relay kept it: checked against the chain as it is now).
async fn recorded_chain(state: &AppState, auth: &Auth, invoice: &Invoice) -> AppResult<ChainCheck> {
    if let Some(chain) = &invoice.chain {
        return Ok(chain.clone());
    }
    let unit = resolve_unit(state, auth, Some(&invoice.egs_unit_id.to_string())).await?;
    Ok(chain_check(&unit, invoice.icv, None))
}

/// Where a device document stands against the unit's chain head.
fn chain_check(unit: &EgsUnit, icv: i64, pih: Option<&str>) -> ChainCheck {
    let expected_icv = unit.invoice_counter + 1;
    let expected_pih = unit.last_invoice_hash.clone();
    let status = if icv < expected_icv {
        ChainStatus::OutOfOrder
    } else if icv > expected_icv {
        ChainStatus::Gap
    } else if pih.is_some_and(|p| p != expected_pih) {
        ChainStatus::Fork
    } else {
        ChainStatus::Continuous
    };
    ChainCheck {
        status,
        expected_icv,
        expected_pih,
    }
}

fn replay(existing: Invoice, hash: &str) -> AppResult<Created> {
    if existing.request_hash.as_deref() == Some(hash) {
        Ok(Created { invoice: existing })
    } else {
        Err(ErrorCode::IdempotencyKeyReused.into())
    }
}

async fn original_invoice(state: &AppState, auth: &Auth, body: &Map<String, Value>) -> AppResult<Invoice> {
    let Some(uuid) = text(body, "original_invoice_uuid").filter(|u| !u.trim().is_empty()) else {
        return Err(AppError::invalid_field(
            "original_invoice_uuid",
            "required for credit and debit notes",
        ));
    };
    let original = match Uuid::parse_str(uuid) {
        Ok(id) => match state.store.invoice(auth.account.id, id).await? {
            Some(invoice) => Some(invoice),
            None => state.store.invoice_by_uuid(auth.account.id, uuid).await?,
        },
        Err(_) => state.store.invoice_by_uuid(auth.account.id, uuid).await?,
    };
    let original = original
        .filter(|o| o.environment == auth.key.environment && o.document_type == DocumentKind::Invoice)
        .ok_or(ErrorCode::OriginalInvoiceNotFound)?;
    if !matches!(original.status, InvoiceStatus::Reported | InvoiceStatus::Cleared) {
        return Err(ErrorCode::OriginalInvoiceNotReady.into());
    }
    Ok(original)
}

/// A validated document waiting for its chain position.
struct Draft {
    input: InvoiceInput,
    kind: InvoiceKind,
    document: DocumentKind,
    subtotal: Decimal,
    vat: Decimal,
    total: Decimal,
    lines: Vec<LineSummary>,
    original_id: Option<Uuid>,
    idempotency_key: Option<String>,
    request_hash: String,
}

/// The unit's signer, from the cache or built (and cached) from its key and certificate.
fn signer(state: &AppState, unit: &EgsUnit) -> AppResult<std::sync::Arc<Signer>> {
    let token = &unit.production.as_ref().ok_or(ErrorCode::EgsNotReady)?.token;
    if let Some(signer) = state.cached_signer(unit.id, token) {
        return Ok(signer);
    }
    let signer = std::sync::Arc::new(build_signer(state, unit)?);
    state.cache_signer(unit.id, token, signer.clone());
    Ok(signer)
}

/// The unit's key (decrypted) with its production certificate.
fn build_signer(state: &AppState, unit: &EgsUnit) -> AppResult<Signer> {
    let key_enc = unit
        .private_key_enc
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("relay-custody unit without a key"))?;
    let key_pem = state.master_key.decrypt_str(key_enc, &key_context(unit.id))?;
    let key = PrivateKey::parse(key_pem.expose()).map_err(|e| anyhow::anyhow!("unit key: {e}"))?;
    let token = &unit.production.as_ref().ok_or(ErrorCode::EgsNotReady)?.token;
    let cert = Certificate::from_binary_security_token(token).map_err(|e| anyhow::anyhow!("certificate: {e}"))?;
    match unit.environment {
        // ZATCA's developer portal issues a fixed certificate whatever the CSR's key (SPEC §10.5).
        Environment::Sandbox => {
            Ok(Signer::new(key.clone(), cert.clone()).unwrap_or_else(|_| Signer::new_unchecked(key, cert)))
        }
        Environment::Production => Ok(Signer::new(key, cert).map_err(|e| anyhow::anyhow!("key and certificate: {e}"))?),
    }
}

/// Signings of a document tried before giving up (`409 EGS_BUSY`, retryable): each failed try
/// means another document took the chain position first.
const ISSUE_TRIES: usize = 5;

/// Signs the draft at the unit's next chain position and records it, with its submission job.
async fn issue(state: &AppState, unit: &EgsUnit, draft: Draft) -> AppResult<Invoice> {
    let lock = state.chain_lock(unit.id);
    let mut head = lock.lock().await;
    let signer = signer(state, unit)?;
    for _ in 0..ISSUE_TRIES {
        // The head this process wrote last, else the store's (another relay may write too:
        // the store's optimistic check then answers ChainMoved and the head is read again).
        let current = match head.as_ref() {
            Some(h) => h.clone(),
            None => {
                let unit = state
                    .store
                    .unit_by_id(unit.id)
                    .await?
                    .ok_or(ErrorCode::EgsUnitNotFound)?;
                crate::ChainHead {
                    icv: unit.invoice_counter,
                    hash: unit.last_invoice_hash,
                }
            }
        };
        let chain = ChainInputs {
            icv: u64::try_from(current.icv + 1).unwrap_or(1),
            pih: current.hash.clone(),
            // Time-ordered (v7): consecutive invoices share the pages of the indexes on their
            // UUID and id instead of each writing one at a random place.
            uuid: Uuid::now_v7().to_string(),
        };
        let signed = sign_invoice(&draft.input, &chain, &signer, None).map_err(|err| {
            AppError::api(ErrorCode::ValidationError, format!("The invoice is invalid: {err}"))
                .with_details(core_details(&err))
        })?;
        let now = Utc::now();
        let invoice = Invoice {
            id: Uuid::now_v7(),
            account_id: unit.account_id,
            egs_unit_id: unit.id,
            environment: unit.environment,
            uuid: signed.uuid.clone(),
            invoice_number: draft.input.invoice_number.clone(),
            invoice_type: draft.kind,
            document_type: draft.document,
            status: InvoiceStatus::Pending,
            icv: current.icv + 1,
            invoice_hash: signed.hash.clone(),
            currency: draft.input.currency.clone(),
            subtotal: draft.subtotal,
            vat: draft.vat,
            total: draft.total,
            invoice_date: draft.input.invoice_date.clone(),
            invoice_time: draft.input.invoice_time.clone(),
            qr_code: Some(signed.qr.clone()),
            original_invoice_id: draft.original_id,
            has_buyer: draft.input.buyer.is_some(),
            device_signed: false,
            chain: None,
            line_items: draft.lines.clone(),
            messages: Vec::new(),
            report_deadline: report_deadline(&draft.input.invoice_date, &draft.input.invoice_time, draft.kind, now),
            reported_at: None,
            cleared_at: None,
            idempotency_key: draft.idempotency_key.clone(),
            request_hash: Some(draft.request_hash.clone()),
            created_at: now,
            updated_at: now,
        };
        let xml = archive_signed(state, invoice.id, signed.xml.as_bytes()).await?;
        let job = submission_job(state, &invoice, now);
        match state.store.issue_invoice(&invoice, Some(&job), xml).await? {
            IssueOutcome::Issued => {
                *head = Some(crate::ChainHead {
                    icv: invoice.icv,
                    hash: invoice.invoice_hash.clone(),
                });
                tracing::info!(
                    egs.id = %unit.id,
                    invoice.id = %invoice.id,
                    invoice.icv = invoice.icv,
                    invoice.type = invoice.invoice_type.as_str(),
                    "invoice issued"
                );
                return Ok(invoice);
            }
            IssueOutcome::ChainMoved => {
                *head = None;
                continue;
            }
            IssueOutcome::Exists(id) => {
                return state
                    .store
                    .invoice_by_id(id)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("invoice {id} vanished").into());
            }
        }
    }
    // Lost to other writers of the unit's chain (other relays on the database) every time:
    // nothing was consumed, so the same request may simply be sent again.
    tracing::warn!(egs.id = %unit.id, "the unit's chain kept moving: {ISSUE_TRIES} tries lost to other documents");
    Err(AppError::api(
        ErrorCode::EgsBusy,
        format!(
            "Other documents of this EGS unit took its next chain position {ISSUE_TRIES} times while this one was signed; retry"
        ),
    ))
}

/// Archives a new invoice's signed XML so that no recorded invoice lacks it: written now when
/// the archive is elsewhere, or returned to go into the invoice's own transaction when the
/// archive is the store's database.
async fn archive_signed<'a>(state: &AppState, invoice_id: Uuid, xml: &'a [u8]) -> AppResult<Option<&'a [u8]>> {
    if state.archive.in_store() {
        return Ok(Some(xml));
    }
    state.archive.put(invoice_id, ArchiveKind::Signed, xml).await?;
    Ok(None)
}

/// Simplified documents must reach ZATCA within 24 hours of issue (the document's date and
/// time are Saudi time, UTC+3; `now` when they do not parse).
fn report_deadline(date: &str, time: &str, kind: InvoiceKind, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if kind != InvoiceKind::Simplified {
        return None;
    }
    let issued = chrono::NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|local| (local - chrono::Duration::hours(3)).and_utc())
        .unwrap_or(now);
    Some(issued + chrono::Duration::hours(24))
}

/// The submission job of a new invoice, due only once the inline attempt has surely ended (its
/// budget plus ZATCA's timeout), so the worker never sends it at the same time.
fn submission_job(state: &AppState, invoice: &Invoice, now: DateTime<Utc>) -> Job {
    let mut job = Job::new(
        invoice.egs_unit_id,
        JobKind::Submit(SubmitJob { invoice_id: invoice.id }),
    );
    if state.config.inline_submit_ms > 0 {
        let wait = state.config.inline_submit_ms + state.config.zatca_timeout_secs.max(1) * 1000 + 1000;
        job.not_before = Some(now + chrono::Duration::milliseconds(i64::try_from(wait).unwrap_or(i64::MAX)));
    }
    job
}

/// One inline attempt: it settles most invoices before the answer; an invoice it does not
/// settle in time is left to the queue (the attempt goes on in the background).
async fn settle_inline(state: &AppState, invoice: Invoice) -> Invoice {
    let budget = Duration::from_millis(state.config.inline_submit_ms);
    if budget.is_zero() {
        return invoice;
    }
    let id = invoice.id;
    let task_state = state.clone();
    let unit_id = invoice.egs_unit_id;
    let task = tokio::spawn(async move { submit(&task_state, unit_id, id, true).await });
    match tokio::time::timeout(budget, task).await {
        Ok(Ok(_)) => match state.store.invoice_by_id(id).await {
            Ok(Some(current)) => current,
            _ => invoice,
        },
        _ => invoice,
    }
}

/// Sends an invoice of a unit to ZATCA (reporting or clearance) and records the answer.
/// `inline` is the request's own attempt; the queue's attempts are not inline.
pub async fn submit(state: &AppState, unit_id: Uuid, invoice_id: Uuid, inline: bool) -> JobOutcome {
    match submit_inner(state, unit_id, invoice_id, inline).await {
        Ok(outcome) => outcome,
        Err(err) => JobOutcome::Retry(format!("{err:#}")),
    }
}

async fn submit_inner(state: &AppState, unit_id: Uuid, invoice_id: Uuid, inline: bool) -> anyhow::Result<JobOutcome> {
    let _permit = state.submission_permit(unit_id).await;
    // Read under the permit: another attempt may have settled it meanwhile.
    let Some(mut invoice) = state.store.invoice_by_id(invoice_id).await? else {
        return Ok(JobOutcome::Fail("the invoice no longer exists".into()));
    };
    if invoice.status.is_final() {
        return Ok(JobOutcome::Done);
    }
    let Some(unit) = state.store.unit_by_id(invoice.egs_unit_id).await? else {
        return Ok(JobOutcome::Fail("the unit no longer exists".into()));
    };
    let Some(xml) = state.archive.get(invoice.id, ArchiveKind::Signed).await? else {
        anyhow::bail!("the signed XML of invoice {} is not in the archive", invoice.id);
    };
    let creds: Credentials = production_credentials(state, &unit).map_err(|e| anyhow::anyhow!("{e}"))?;
    // `submitted` is recorded with the answer (one write): a crash before it leaves the
    // invoice pending, and the resend is settled by ZATCA's duplicate answer.
    let mut entries = Vec::new();
    if invoice.status == InvoiceStatus::Pending {
        let now = Utc::now();
        invoice.transition(InvoiceStatus::Submitted, now)?;
        entries.push(TimelineEntry {
            status: InvoiceStatus::Submitted,
            at: now,
            messages: Vec::new(),
        });
    }
    let ctx = CallContext {
        unit_id: unit.id,
        environment: unit.environment,
    };
    let body = B64.encode(&xml);
    let document = DocumentSubmission {
        invoice_hash: &invoice.invoice_hash,
        uuid: &invoice.uuid,
        invoice_base64: &body,
    };
    let (operation, result) = match invoice.invoice_type {
        InvoiceKind::Simplified => (
            "reporting",
            state.authority.report_invoice(ctx, &creds, &document).await,
        ),
        InvoiceKind::Standard => ("clearance", state.authority.clear_invoice(ctx, &creds, &document).await),
    };
    count_outcome(state, operation, &result);
    match result {
        Ok(result) => record_answer(state, invoice, entries, result).await,
        Err(err) => record_failure(state, invoice, entries, err, inline).await,
    }
}

/// Counts ZATCA's answer for the metrics: its outcome, and ZATCA's first message code (else the
/// HTTP status, or `timeout` / `transport` when there was no answer).
fn count_outcome(state: &AppState, operation: &str, result: &Result<SubmissionResult, AuthorityError>) {
    use crate::metrics::ZatcaOutcome;
    let (outcome, first, status) = match result {
        Ok(r) if r.duplicate => (ZatcaOutcome::Duplicate, r.warnings.first(), Some(r.status)),
        Ok(r) if r.accepted() => (ZatcaOutcome::Accepted, r.warnings.first(), Some(r.status)),
        Ok(r) => (ZatcaOutcome::Rejected, r.errors.first(), Some(r.status)),
        Err(err) => {
            let outcome = if err.is_retryable() {
                ZatcaOutcome::Unavailable
            } else {
                ZatcaOutcome::Rejected
            };
            let status = match err {
                AuthorityError::Status { status, .. } => Some(*status),
                _ => None,
            };
            (outcome, err.messages().first(), status)
        }
    };
    let code = match (first, status, result) {
        (Some(crate::authority::ZatcaMessage { code: Some(code), .. }), _, _) if !code.is_empty() => code.clone(),
        (_, Some(status), _) => status.to_string(),
        (_, None, Err(AuthorityError::Transport { timeout: true, .. })) => "timeout".to_owned(),
        _ => "transport".to_owned(),
    };
    state.metrics.zatca(operation, outcome, &code);
}

/// Saves a settled invoice's status with the webhook event announcing it.
async fn save_settled(state: &AppState, invoice: &Invoice, entries: &[TimelineEntry]) -> anyhow::Result<()> {
    let event = crate::webhooks::invoice_settled(state, invoice).await?;
    state
        .store
        .save_invoice_status(invoice, entries, event.as_ref())
        .await?;
    crate::webhooks::recorded(state, event.as_ref());
    Ok(())
}

fn details(messages: &[crate::authority::ZatcaMessage]) -> Vec<Detail> {
    messages.iter().map(Detail::from).collect()
}

async fn record_answer(
    state: &AppState,
    mut invoice: Invoice,
    mut entries: Vec<TimelineEntry>,
    result: SubmissionResult,
) -> anyhow::Result<JobOutcome> {
    let now = Utc::now();
    let accepted = result.accepted();
    if accepted {
        if let Some(cleared) = &result.cleared_xml {
            state.archive.put(invoice.id, ArchiveKind::Cleared, cleared).await?;
            if let Ok(qr) = zatca_core::verify::embedded_qr(cleared) {
                invoice.qr_code = Some(qr);
            }
        }
    }
    let next = match (accepted, invoice.invoice_type) {
        (true, InvoiceKind::Simplified) => InvoiceStatus::Reported,
        (true, InvoiceKind::Standard) => InvoiceStatus::Cleared,
        (false, _) => InvoiceStatus::Rejected,
    };
    invoice.messages = if accepted {
        details(&result.warnings)
    } else {
        details(&result.errors)
    };
    invoice.transition(next, now)?;
    if invoice.qr_code.is_some() && invoice.invoice_type == InvoiceKind::Standard {
        state
            .store
            .save_invoice_qr(invoice.id, invoice.qr_code.as_deref())
            .await?;
    }
    entries.push(TimelineEntry {
        status: next,
        at: now,
        messages: invoice.messages.clone(),
    });
    save_settled(state, &invoice, &entries).await?;
    tracing::info!(
        invoice.id = %invoice.id,
        egs.id = %invoice.egs_unit_id,
        invoice.status = next.as_str(),
        zatca.duplicate = result.duplicate,
        "ZATCA decided"
    );
    Ok(JobOutcome::Done)
}

async fn record_failure(
    state: &AppState,
    mut invoice: Invoice,
    mut entries: Vec<TimelineEntry>,
    err: AuthorityError,
    inline: bool,
) -> anyhow::Result<JobOutcome> {
    let now = Utc::now();
    let mut messages = details(err.messages());
    if messages.is_empty() {
        messages.push(Detail::message(err.to_string()));
    }
    if err.is_retryable() {
        if invoice.near_deadline(now, chrono::Duration::hours(2)) {
            tracing::warn!(
                invoice.id = %invoice.id,
                egs.id = %invoice.egs_unit_id,
                deadline = %crate::domain::iso(invoice.report_deadline.unwrap_or(now)),
                "simplified invoice near its 24-hour reporting deadline and ZATCA is unavailable"
            );
        }
        invoice.transition(InvoiceStatus::Retrying, now)?;
        invoice.messages = messages.clone();
        entries.push(TimelineEntry {
            status: InvoiceStatus::Retrying,
            at: now,
            messages,
        });
        state.store.save_invoice_status(&invoice, &entries, None).await?;
        if invoice.near_deadline(now, chrono::Duration::hours(crate::webhooks::DEADLINE_MARGIN_HOURS)) {
            crate::webhooks::deadline_at_risk(state, &invoice).await;
        }
        let reason = format!("ZATCA unavailable: {err}");
        if inline {
            return Ok(JobOutcome::Retry(reason));
        }
        return Ok(match err.retry_after() {
            Some(wait) => JobOutcome::RetryAfter(reason, wait),
            None => JobOutcome::Retry(reason),
        });
    }
    // A refusal without validation results (credentials, a malformed request): terminal.
    invoice.transition(InvoiceStatus::Rejected, now)?;
    invoice.messages = messages.clone();
    entries.push(TimelineEntry {
        status: InvoiceStatus::Rejected,
        at: now,
        messages,
    });
    save_settled(state, &invoice, &entries).await?;
    Ok(JobOutcome::Done)
}
