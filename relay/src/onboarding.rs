//! Onboarding (SPEC §11) as steps that each record their result on the unit before the next
//! one starts, so a job interrupted anywhere resumes where it stopped:
//! 1. compliance CSID with the OTP (`POST /compliance`);
//! 2. the compliance documents the unit's invoice types require, signed by the relay (relay
//!    custody) or submitted signed by the device (device custody);
//! 3. sandbox units become `active` on the compliance CSID; production units become
//!    `ready_for_production`, and `request-production` (with an OTP) gets the production CSID.
//!    `renew` (= `request-production` once a production CSID exists) renews it with a new CSR.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::AppState;
use crate::authority::{AuthorityError, CallContext, Credentials, Csid, ZatcaMessage};
use crate::domain::{
    AuditEntry, Auth, ComplianceDocument, ComplianceKind, Custody, EgsUnit, Environment, InvoiceTypes, Job, JobKind,
    JobOutcome, OnboardJob, OnboardingStatus, SellerProfile, StoredCsid, iso,
};
use crate::error::{AppError, AppResult, Detail, ErrorCode};
use crate::secret::SecretString;
use crate::signing;
use crate::store::QuotaOutcome;

/// Associated data binding an encrypted private key to its unit.
pub fn key_context(unit: Uuid) -> String {
    format!("egs_unit:{unit}:private_key")
}

/// Associated data binding an encrypted OTP to its unit.
pub fn otp_context(unit: Uuid) -> String {
    format!("egs_unit:{unit}:otp")
}

fn secret_context(unit: Uuid, which: &str) -> String {
    format!("egs_unit:{unit}:{which}_secret")
}

fn ctx(unit: &EgsUnit) -> CallContext {
    CallContext {
        unit_id: unit.id,
        environment: unit.environment,
    }
}

fn credentials(state: &AppState, unit: &EgsUnit, which: &str, csid: &StoredCsid) -> Result<Credentials, AppError> {
    let secret = state
        .master_key
        .decrypt_str(&csid.secret_enc, &secret_context(unit.id, which))?;
    Ok(Credentials {
        token: csid.token.clone(),
        secret,
    })
}

/// The public serial number (`SN-` + 12 hex digits of the unit id).
pub fn public_serial(id: Uuid) -> String {
    format!("SN-{}", &id.simple().to_string()[..12].to_ascii_uppercase())
}

/// What `POST /v1/egs` asks for, checked by the route.
#[derive(Debug)]
pub struct NewUnit {
    /// Name, e.g. "Main Branch POS".
    pub unit_name: String,
    /// 1 or 2.
    pub phase: u8,
    /// Invoice types (default simplified; a device CSR's title decides for device custody).
    pub invoice_type: Option<InvoiceTypes>,
    /// Key custody.
    pub custody: Custody,
    /// Device custody: the CSR made on the device.
    pub csr: Option<String>,
    /// The seller profile.
    pub seller: SellerProfile,
    /// The OTP (phase 2).
    pub otp: Option<SecretString>,
}

/// A unit created, with the message the API shows.
#[derive(Debug)]
pub struct CreatedUnit {
    /// The unit.
    pub unit: EgsUnit,
    /// What happens next.
    pub message: &'static str,
}

/// Creates a unit within the plan's quota: phase 1 active at once; phase 2 with its CSR (made
/// here for relay custody, the device's for device custody) and its onboarding job.
pub async fn create_unit(state: &AppState, auth: &Auth, new: NewUnit) -> AppResult<CreatedUnit> {
    let key_env = auth.key.environment;
    let (phase, custody, seller, otp) = (new.phase, new.custody, new.seller, new.otp);
    let Some(quota) = state.config.plans.quota(&auth.account.plan) else {
        return Err(AppError::api(
            ErrorCode::EgsQuotaExceeded,
            format!("The account's plan `{}` allows no EGS units", auth.account.plan),
        ));
    };
    let limit = match key_env {
        Environment::Sandbox => quota.sandbox,
        Environment::Production => quota.production,
    };

    let id = Uuid::new_v4();
    let now = Utc::now();
    let mut invoice_type = new.invoice_type.unwrap_or(InvoiceTypes::Simplified);
    let mut unit = EgsUnit {
        id,
        account_id: auth.account.id,
        unit_name: new.unit_name.trim().to_owned(),
        environment: key_env,
        phase,
        invoice_type,
        custody: if phase == 1 { Custody::Relay } else { custody },
        serial_number: public_serial(id),
        egs_serial: None,
        seller,
        // A unit is born `pending` (phase 2) or `active` (phase 1: no ZATCA onboarding).
        onboarding_status: if phase == 1 {
            OnboardingStatus::Active
        } else {
            OnboardingStatus::Pending
        },
        status_message: (phase == 1)
            .then(|| "Phase 1 unit: simplified invoices with a QR code; no ZATCA onboarding".to_owned()),
        errors: Vec::new(),
        csr_pem: None,
        private_key_enc: None,
        compliance: None,
        production: None,
        cert_issued_at: None,
        cert_expires_at: None,
        compliance_attempted_at: None,
        chain_note: None,
        invoice_counter: 0,
        last_invoice_hash: signing::initial_pih(),
        created_at: now,
        updated_at: now,
    };

    let mut job = None;
    let message;
    if phase == 1 {
        message = "Phase 1 unit active. It issues simplified invoices with a QR code; no ZATCA onboarding is needed.";
    } else {
        match unit.custody {
            Custody::Relay => {
                let egs_serial = signing::egs_serial(&state.config.egs_solution_name, id);
                let key = signing::generate_private_key()?;
                let csr = signing::make_csr(
                    &unit.seller,
                    invoice_type,
                    &egs_serial,
                    &unit.unit_name,
                    state.csr_template(key_env),
                    &key,
                )?;
                unit.private_key_enc = Some(
                    state
                        .master_key
                        .encrypt_str(&signing::private_key_pem(&key)?, &key_context(id))?,
                );
                unit.csr_pem = Some(csr);
                unit.egs_serial = Some(egs_serial);
                message = "CSR generated. ZATCA compliance check running automatically.";
            }
            Custody::Device => {
                let csr = new.csr.as_deref().unwrap_or_default();
                let parsed = signing::inspect_csr(csr).map_err(|m| {
                    AppError::api(ErrorCode::InvalidCsr, format!("The CSR cannot be used: {m}"))
                        .with_details(vec![Detail::field("csr", m)])
                })?;
                if let Some(title_types) = parsed.invoice_type {
                    if new.invoice_type.is_some_and(|t| t != title_types) {
                        return Err(AppError::invalid_field(
                            "invoice_type",
                            format!(
                                "the CSR is for `{}` invoices (title {})",
                                title_types.as_str(),
                                title_types.csr_title()
                            ),
                        ));
                    }
                    invoice_type = title_types;
                    unit.invoice_type = title_types;
                }
                if parsed.vat_number != unit.seller.vat_number {
                    return Err(AppError::invalid_field(
                        "csr",
                        format!(
                            "the CSR's organisation identifier {} differs from the seller VAT number {}",
                            parsed.vat_number, unit.seller.vat_number
                        ),
                    ));
                }
                unit.egs_serial = Some(parsed.egs_serial);
                unit.csr_pem = Some(parsed.pem);
                message =
                    "CSR received. ZATCA compliance CSID being requested; then submit the signed compliance documents.";
            }
        }
        let otp = otp.ok_or_else(|| anyhow::anyhow!("otp missing after validation"))?;
        job = Some(Job::new(
            id,
            JobKind::Onboard(OnboardJob {
                otp_enc: Some(state.master_key.encrypt_str(&otp, &otp_context(id))?),
            }),
        ));
    }
    let _ = invoice_type;

    match state.store.insert_unit_within_quota(&unit, limit, job.as_ref()).await? {
        QuotaOutcome::Inserted => {}
        QuotaOutcome::Exceeded { used } => {
            return Err(AppError::api(
                ErrorCode::EgsQuotaExceeded,
                format!(
                    "The `{}` plan allows {limit} {key_env} EGS unit(s) and {used} exist; units cannot be deleted",
                    auth.account.plan
                ),
            ));
        }
    }
    tracing::info!(
        account.id = %auth.account.id,
        egs.id = %id,
        egs.environment = %key_env,
        egs.phase = phase,
        egs.custody = unit.custody.as_str(),
        "EGS unit created"
    );
    if job.is_some() {
        state.jobs.notify_one();
    }
    Ok(CreatedUnit { unit, message })
}

/// A unit of the caller's account in the key's environment: `400 EGS_UNIT_NOT_FOUND` for an
/// unknown id or another account's unit, `400 EGS_UNIT_ENV_MISMATCH` for the other environment.
pub async fn unit_of(state: &AppState, auth: &Auth, id: &str) -> AppResult<EgsUnit> {
    let id = Uuid::parse_str(id).map_err(|_| AppError::from(ErrorCode::EgsUnitNotFound))?;
    let unit = state
        .store
        .unit(auth.account.id, id)
        .await?
        .ok_or(ErrorCode::EgsUnitNotFound)?;
    if unit.environment != auth.key.environment {
        let env = auth.key.environment;
        return Err(AppError::api(
            ErrorCode::EgsUnitEnvMismatch,
            format!("This API key is for {env}. Use an EGS unit in {env} or switch key."),
        ));
    }
    Ok(unit)
}

/// The production CSID's credentials of a unit (reporting and clearance accept no other).
pub fn production_credentials(state: &AppState, unit: &EgsUnit) -> Result<Credentials, AppError> {
    let production = unit
        .production
        .as_ref()
        .ok_or_else(|| AppError::from(ErrorCode::EgsNotReady))?;
    credentials(state, unit, "production", production)
}

fn store_csid(state: &AppState, unit: &EgsUnit, which: &str, csid: &Csid) -> Result<StoredCsid, AppError> {
    Ok(StoredCsid {
        token: csid.token.clone(),
        secret_enc: state
            .master_key
            .encrypt_str(&csid.secret, &secret_context(unit.id, which))?,
        request_id: csid.request_id.clone(),
    })
}

fn set_cert_dates(unit: &mut EgsUnit, token: &str) {
    match signing::certificate_validity(token) {
        Ok((issued, expires)) => {
            unit.cert_issued_at = Some(issued);
            unit.cert_expires_at = Some(expires);
        }
        Err(err) => {
            tracing::warn!(egs.id = %unit.id, error = %err, "cannot read the certificate's validity")
        }
    }
}

fn details(messages: &[ZatcaMessage]) -> Vec<Detail> {
    messages.iter().map(Detail::from).collect()
}

async fn fail_unit(state: &AppState, unit: &mut EgsUnit, message: String, errors: Vec<Detail>) -> JobOutcome {
    if let Err(err) = unit.fail(message.clone(), errors, Utc::now()) {
        return JobOutcome::Fail(format!("{message} ({err})"));
    }
    if let Err(err) = save_announced(state, unit).await {
        return JobOutcome::Retry(format!("cannot record the failure: {err:#}"));
    }
    tracing::warn!(egs.id = %unit.id, "onboarding failed: {message}");
    JobOutcome::Fail(message)
}

async fn authority_failure(state: &AppState, unit: &mut EgsUnit, step: &str, err: AuthorityError) -> JobOutcome {
    if err.is_retryable() {
        tracing::info!(egs.id = %unit.id, error = %err, "{step}: ZATCA unavailable, will retry");
        return JobOutcome::Retry(format!("{step}: {err}"));
    }
    let mut errors = details(err.messages());
    if errors.is_empty() {
        errors.push(Detail {
            code: None,
            path: None,
            category: None,
            message: err.to_string(),
        });
    }
    fail_unit(
        state,
        unit,
        format!("{step} rejected by ZATCA: {}", err.summary()),
        errors,
    )
    .await
}

/// A compliance-CSID request was sent before and its answer never recorded (the relay died, or
/// the request timed out): ZATCA may have issued a CSID that nobody holds. The new request's
/// CSID (the newest) is the one used; the possible orphan is noted in the audit log and the log.
async fn note_possible_orphan(state: &AppState, unit: &EgsUnit, previous: chrono::DateTime<Utc>) {
    let note = format!(
        "A compliance CSID request sent at {} got no recorded answer (relay restart or timeout). \
         ZATCA may have issued a CSID for it that was never received (an orphan, unused). Requesting \
         again; the newest CSID is the one used.",
        iso(previous)
    );
    tracing::warn!(egs.id = %unit.id, attempted_at = %iso(previous), "possible orphaned compliance CSID; requesting again");
    let entry = AuditEntry {
        id: 0,
        egs_unit_id: unit.id,
        at: Utc::now(),
        operation: "compliance_csid_reconcile".into(),
        method: "-".into(),
        url: "-".into(),
        request_headers: json!({}),
        request_body: None,
        response_status: None,
        response_body: None,
        duration_ms: 0,
        error: Some(note),
    };
    if let Err(err) = state.store.insert_audit(&entry).await {
        tracing::warn!(egs.id = %unit.id, error = %err, "cannot record the reconciliation note");
    }
}

/// Saves a unit's onboarding state with the webhook event announcing it (`onboarding.active`,
/// `onboarding.failed`), in one transaction.
pub(crate) async fn save_announced(state: &AppState, unit: &EgsUnit) -> anyhow::Result<()> {
    let event = crate::webhooks::onboarding_changed(state, unit).await?;
    state.store.save_unit_onboarding(unit, event.as_ref()).await?;
    crate::webhooks::recorded(state, event.as_ref());
    Ok(())
}

macro_rules! step {
    ($expr:expr) => {
        match $expr {
            Ok(value) => value,
            Err(err) => return JobOutcome::Retry(format!("{err:#}")),
        }
    };
}

/// Runs (or resumes) the onboarding job of a unit.
pub async fn run_onboard_job(state: &AppState, job: &Job) -> JobOutcome {
    let Some(mut unit) = step!(state.store.unit_by_id(job.egs_unit_id).await) else {
        return JobOutcome::Fail("the unit no longer exists".into());
    };
    if unit.onboarding_status != OnboardingStatus::Pending {
        return JobOutcome::Done;
    }
    let Some(_guard) = state.lock_unit(unit.id) else {
        return JobOutcome::Retry("the unit is busy".into());
    };

    if unit.compliance.is_none() {
        let Some(csr) = unit.csr_pem.clone() else {
            return fail_unit(state, &mut unit, "the unit has no CSR".into(), vec![]).await;
        };
        let JobKind::Onboard(OnboardJob { otp_enc: Some(otp_enc) }) = &job.kind else {
            return fail_unit(
                state,
                &mut unit,
                "the OTP was used and the compliance CSID was not recorded; create a new unit with a new OTP".into(),
                vec![],
            )
            .await;
        };
        let otp = match state.master_key.decrypt_str(otp_enc, &otp_context(unit.id)) {
            Ok(otp) => otp,
            Err(err) => {
                return fail_unit(state, &mut unit, format!("cannot decrypt the OTP: {err}"), vec![]).await;
            }
        };
        if let Some(previous) = unit.compliance_attempted_at {
            note_possible_orphan(state, &unit, previous).await;
        }
        // Recorded before sending: ZATCA's `/compliance` has no idempotency key, so a crash
        // with the request in flight is only visible through this mark (at-least-once).
        let attempted_at = Utc::now();
        step!(state.store.set_compliance_attempt(unit.id, Some(attempted_at)).await);
        unit.compliance_attempted_at = Some(attempted_at);
        let csid = match state.authority.compliance_csid(ctx(&unit), &csr, &otp).await {
            Ok(csid) => csid,
            Err(err) => {
                // An answer arrived (a rejection, a 5xx): ZATCA issued nothing. A timeout or a
                // transport error leaves the mark: ZATCA may have acted.
                if matches!(err, AuthorityError::Status { .. }) {
                    unit.compliance_attempted_at = None;
                    step!(state.store.set_compliance_attempt(unit.id, None).await);
                }
                return authority_failure(state, &mut unit, "compliance CSID", err).await;
            }
        };
        unit.compliance_attempted_at = None;
        unit.compliance = Some(step!(store_csid(state, &unit, "compliance", &csid)));
        set_cert_dates(&mut unit, &csid.token);
        unit.status_message = Some("Compliance CSID issued".into());
        unit.updated_at = Utc::now();
        step!(state.store.save_unit_onboarding(&unit, None).await);
        // The OTP is spent: drop it from the job so it is not kept (even encrypted) any longer.
        step!(
            state
                .store
                .update_job(job.id, &JobKind::Onboard(OnboardJob::default()), Utc::now())
                .await
        );
        tracing::info!(egs.id = %unit.id, "compliance CSID issued");
    }

    match unit.custody {
        Custody::Device => {
            let pending: Vec<&str> = unit
                .invoice_type
                .required_documents()
                .iter()
                .map(|k| k.as_str())
                .collect();
            let message = format!(
                "Compliance CSID issued. Sign these compliance documents on the device and POST them to /v1/egs/{}/compliance-documents: {}",
                unit.id,
                pending.join(", ")
            );
            if let Err(err) = unit.transition(OnboardingStatus::AwaitingComplianceDocuments, message, Utc::now()) {
                return JobOutcome::Fail(err.to_string());
            }
            step!(state.store.save_unit_onboarding(&unit, None).await);
            JobOutcome::Done
        }
        Custody::Relay => run_relay_compliance(state, unit).await,
    }
}

async fn run_relay_compliance(state: &AppState, mut unit: EgsUnit) -> JobOutcome {
    let Some(compliance) = unit.compliance.clone() else {
        return JobOutcome::Retry("compliance CSID missing".into());
    };
    let creds = step!(credentials(state, &unit, "compliance", &compliance));
    let Some(key_enc) = unit.private_key_enc.clone() else {
        return fail_unit(
            state,
            &mut unit,
            "relay custody unit without a private key".into(),
            vec![],
        )
        .await;
    };
    let key_pem = step!(state.master_key.decrypt_str(&key_enc, &key_context(unit.id)));
    let accepted = step!(state.store.compliance_documents(unit.id).await);
    let mut pih = signing::initial_pih();
    for (index, kind) in unit.invoice_type.required_documents().into_iter().enumerate() {
        let icv = i64::try_from(index).unwrap_or_default() + 1;
        if let Some(done) = accepted.iter().find(|d| d.kind == kind) {
            pih = done.invoice_hash.clone();
            continue;
        }
        let signed =
            match signing::sign_compliance_sample(kind, &unit, &key_pem, &compliance.token, icv, &pih, Utc::now()) {
                Ok(signed) => signed,
                Err(err) => {
                    return fail_unit(
                        state,
                        &mut unit,
                        format!("cannot sign the {} sample: {err}", kind.as_str()),
                        vec![],
                    )
                    .await;
                }
            };
        let result = match state
            .authority
            .compliance_invoice(
                ctx(&unit),
                &creds,
                &signed.hash,
                &signed.uuid,
                &B64.encode(signed.xml.as_bytes()),
            )
            .await
        {
            Ok(result) => result,
            Err(err) => {
                return authority_failure(state, &mut unit, &format!("compliance check ({})", kind.as_str()), err)
                    .await;
            }
        };
        if !result.accepted() {
            let message = format!("ZATCA rejected the {} compliance document", kind.as_str());
            return fail_unit(state, &mut unit, message, details(&result.errors)).await;
        }
        let doc = ComplianceDocument {
            kind,
            icv,
            uuid: signed.uuid.clone(),
            invoice_hash: signed.hash.clone(),
            messages: json!(result.warnings),
            accepted_at: Utc::now(),
        };
        step!(state.store.record_compliance_document(unit.id, &doc).await);
        tracing::info!(egs.id = %unit.id, compliance.kind = kind.as_str(), "compliance document accepted");
        pih = signed.hash;
    }
    match complete_compliance(state, &mut unit).await {
        Ok(()) => {}
        Err(AppError::Authority(err)) => return authority_failure(state, &mut unit, "production CSID", err).await,
        Err(err) => return JobOutcome::Retry(err.to_string()),
    }
    step!(save_announced(state, &unit).await);
    tracing::info!(egs.id = %unit.id, egs.status = unit.onboarding_status.as_str(), "compliance checks passed");
    JobOutcome::Done
}

/// All compliance documents passed. Production units wait for `request-production` (ZATCA
/// wants a fresh OTP there). Sandbox units get their production CSID at once: reporting and
/// clearance accept only a production CSID, and the documented sandbox flow has no
/// `request-production` step (create the unit, poll until `active`, submit invoices).
async fn complete_compliance(state: &AppState, unit: &mut EgsUnit) -> Result<(), AppError> {
    match unit.environment {
        Environment::Sandbox => {
            let compliance = unit
                .compliance
                .clone()
                .ok_or_else(|| anyhow::anyhow!("compliance passed without a compliance CSID"))?;
            let creds = credentials(state, unit, "compliance", &compliance)?;
            let csid = state
                .authority
                .production_csid(ctx(unit), &creds, &compliance.request_id, None)
                .await?;
            unit.production = Some(store_csid(state, unit, "production", &csid)?);
            set_cert_dates(unit, &csid.token);
            unit.transition(
                OnboardingStatus::Active,
                "Compliance checks passed; active with a production CSID: submit invoices.",
                Utc::now(),
            )
            .map_err(anyhow::Error::new)?;
        }
        Environment::Production => {
            unit.transition(
                OnboardingStatus::ReadyForProduction,
                "Compliance checks passed. POST /v1/egs/{id}/request-production with the OTP to get the production CSID.",
                Utc::now(),
            )
            .map_err(anyhow::Error::new)?;
        }
    }
    Ok(())
}

/// `request-production` / `renew`: the first production CSID (from the compliance CSID) or a
/// renewal (a new CSR under the current production CSID with the new OTP).
pub async fn obtain_production_csid(
    state: &AppState,
    mut unit: EgsUnit,
    otp: &SecretString,
    device_csr: Option<&str>,
) -> AppResult<EgsUnit> {
    match unit.onboarding_status {
        OnboardingStatus::ReadyForProduction | OnboardingStatus::Active => {}
        OnboardingStatus::Failed => {
            return Err(AppError::api(
                ErrorCode::EgsNotReady,
                "EGS unit onboarding failed; see its status for ZATCA's messages",
            ));
        }
        OnboardingStatus::Pending | OnboardingStatus::AwaitingComplianceDocuments => {
            return Err(AppError::api(
                ErrorCode::EgsNotReady,
                "EGS unit onboarding not complete: the compliance checks must pass first",
            ));
        }
    }
    let now = Utc::now();
    let was_active = unit.onboarding_status == OnboardingStatus::Active;
    match unit.production.clone() {
        None => {
            if device_csr.is_some() {
                return Err(AppError::invalid_field(
                    "csr",
                    "a new CSR is only used to renew an existing production CSID",
                ));
            }
            let compliance = unit
                .compliance
                .clone()
                .ok_or_else(|| anyhow::anyhow!("active unit without a compliance CSID"))?;
            let creds = credentials(state, &unit, "compliance", &compliance)?;
            let csid = state
                .authority
                .production_csid(ctx(&unit), &creds, &compliance.request_id, Some(otp))
                .await?;
            unit.production = Some(store_csid(state, &unit, "production", &csid)?);
            set_cert_dates(&mut unit, &csid.token);
        }
        Some(current) => {
            let creds = credentials(state, &unit, "production", &current)?;
            let (csr, new_key_enc) = renewal_csr(state, &unit, device_csr)?;
            let csid = state
                .authority
                .renew_production_csid(ctx(&unit), &creds, &csr, otp)
                .await?;
            unit.production = Some(store_csid(state, &unit, "production", &csid)?);
            unit.csr_pem = Some(csr);
            if let Some(key) = new_key_enc {
                unit.private_key_enc = Some(key);
            }
            set_cert_dates(&mut unit, &csid.token);
        }
    }
    unit.transition(
        OnboardingStatus::Active,
        format!("Active with a production CSID (obtained {})", iso(now)),
        Utc::now(),
    )
    .map_err(anyhow::Error::new)?;
    if was_active {
        // A renewal: the unit stays active, nothing to announce.
        state.store.save_unit_onboarding(&unit, None).await?;
    } else {
        save_announced(state, &unit).await?;
    }
    tracing::info!(egs.id = %unit.id, "production CSID obtained");
    Ok(unit)
}

/// The CSR of a renewal: relay custody makes a new key and CSR (the key replaces the old one
/// only once ZATCA issues the certificate); device custody sends the device's new CSR, or the
/// stored one again.
fn renewal_csr(state: &AppState, unit: &EgsUnit, device_csr: Option<&str>) -> AppResult<(String, Option<String>)> {
    match unit.custody {
        Custody::Relay => {
            let egs_serial = unit
                .egs_serial
                .clone()
                .unwrap_or_else(|| signing::egs_serial(&state.config.egs_solution_name, unit.id));
            let key = signing::generate_private_key()?;
            let csr = signing::make_csr(
                &unit.seller,
                unit.invoice_type,
                &egs_serial,
                &unit.unit_name,
                state.csr_template(unit.environment),
                &key,
            )?;
            let enc = state
                .master_key
                .encrypt_str(&signing::private_key_pem(&key)?, &key_context(unit.id))?;
            Ok((csr, Some(enc)))
        }
        Custody::Device => match device_csr {
            Some(text) => {
                let parsed = signing::inspect_csr(text).map_err(|m| AppError::invalid_field("csr", m))?;
                if parsed.vat_number != unit.seller.vat_number {
                    return Err(AppError::invalid_field(
                        "csr",
                        "the CSR's organisation identifier differs from the unit's VAT number",
                    ));
                }
                Ok((parsed.pem, None))
            }
            None => Ok((
                unit.csr_pem
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("device unit without a CSR"))?,
                None,
            )),
        },
    }
}

/// What `POST /v1/egs/{id}/compliance-documents` carries, read by the route.
#[derive(Debug)]
pub struct DeviceDocument {
    /// Which required document it stands for.
    pub kind: ComplianceKind,
    /// Base64 of the signed XML.
    pub invoice: String,
    /// Invoice hash (base64 SHA-256); computed from the XML when absent.
    pub invoice_hash: Option<String>,
    /// The document's UUID; read from the XML when absent.
    pub uuid: Option<String>,
}

/// A device's signed compliance document: forwarded to ZATCA under the unit's compliance CSID.
pub async fn submit_device_document(state: &AppState, mut unit: EgsUnit, dto: DeviceDocument) -> AppResult<Value> {
    match unit.onboarding_status {
        OnboardingStatus::AwaitingComplianceDocuments => {}
        OnboardingStatus::Pending => {
            return Err(AppError::api(
                ErrorCode::EgsNotReady,
                "The compliance CSID is not issued yet; poll the status first",
            ));
        }
        OnboardingStatus::Failed => {
            return Err(AppError::api(
                ErrorCode::EgsNotReady,
                "EGS unit onboarding failed; see its status for ZATCA's messages",
            ));
        }
        OnboardingStatus::ReadyForProduction | OnboardingStatus::Active => {
            return Err(AppError::api(
                ErrorCode::ComplianceComplete,
                "All compliance documents were already accepted",
            ));
        }
    }
    let required = unit.invoice_type.required_documents();
    let Some(index) = required.iter().position(|k| *k == dto.kind) else {
        return Err(AppError::invalid_field(
            "kind",
            format!(
                "this unit's documents are: {}",
                required.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
            ),
        ));
    };
    let xml = B64
        .decode(dto.invoice.trim())
        .map_err(|_| AppError::invalid_field("invoice", "must be the signed XML, base64-encoded"))?;
    let facts = signing::inspect_signed_xml(&xml).map_err(|m| AppError::invalid_field("invoice", m))?;
    let hash = dto.invoice_hash.clone().unwrap_or_else(|| facts.hash.clone());
    let uuid = match (dto.uuid.clone(), facts.uuid.clone()) {
        (Some(uuid), _) | (None, Some(uuid)) => uuid,
        (None, None) => {
            return Err(AppError::invalid_field("uuid", "missing, and the XML has no cbc:UUID"));
        }
    };
    let compliance = unit
        .compliance
        .clone()
        .ok_or_else(|| anyhow::anyhow!("awaiting documents without a compliance CSID"))?;
    let creds = credentials(state, &unit, "compliance", &compliance)?;
    let result = state
        .authority
        .compliance_invoice(ctx(&unit), &creds, &hash, &uuid, &B64.encode(&xml))
        .await?;
    if !result.accepted() {
        return Err(AppError::api(
            ErrorCode::ComplianceDocumentRejected,
            format!(
                "ZATCA rejected the {} compliance document; fix it and submit again",
                dto.kind.as_str()
            ),
        )
        .with_details(details(&result.errors)));
    }
    let doc = ComplianceDocument {
        kind: dto.kind,
        icv: facts
            .icv
            .unwrap_or_else(|| i64::try_from(index).unwrap_or_default() + 1),
        uuid,
        invoice_hash: hash,
        messages: json!(result.warnings),
        accepted_at: Utc::now(),
    };
    state.store.record_compliance_document(unit.id, &doc).await?;
    let accepted: Vec<ComplianceKind> = state
        .store
        .compliance_documents(unit.id)
        .await?
        .into_iter()
        .map(|d| d.kind)
        .collect();
    let pending: Vec<&str> = required
        .iter()
        .filter(|k| !accepted.contains(k))
        .map(|k| k.as_str())
        .collect();
    if pending.is_empty() {
        complete_compliance(state, &mut unit).await?;
        save_announced(state, &unit).await?;
        tracing::info!(egs.id = %unit.id, egs.status = unit.onboarding_status.as_str(), "device compliance checks passed");
    }
    Ok(json!({
        "kind": dto.kind.as_str(),
        "accepted": true,
        "validation_status": result.validation_status,
        "warnings": details(&result.warnings),
        "pending": pending,
        "onboarding_status": unit.onboarding_status.as_str(),
    }))
}

/// Back-off before attempt `attempts + 1`: `base × 2^(attempts-1)`, capped at ten minutes.
pub fn backoff(base_ms: u64, attempts: u32) -> chrono::Duration {
    let exp = attempts.saturating_sub(1).min(20);
    let ms = base_ms.saturating_mul(1u64 << exp).min(600_000);
    chrono::Duration::milliseconds(i64::try_from(ms).unwrap_or(600_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1000, 1).num_milliseconds(), 1000);
        assert_eq!(backoff(1000, 2).num_milliseconds(), 2000);
        assert_eq!(backoff(1000, 4).num_milliseconds(), 8000);
        assert_eq!(backoff(1000, 40).num_milliseconds(), 600_000);
    }
}
