//! In-memory state of one simulator instance: issued CSIDs, OTPs, accepted submissions (for
//! duplicate detection), counters and the active faults. Everything sits behind one
//! `std::sync::Mutex` that is never held across an `.await`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::ca::{CertificateAuthority, IssueError, random_bytes};
use crate::config::{Faults, FaultsPatch, SimConfig};
use crate::csr::CsrRequest;
use crate::stamp::Stamp;

/// The gateway endpoints, as keys of [`Counters::endpoints`].
pub mod endpoint {
    /// `POST /compliance`.
    pub const COMPLIANCE_CSID: &str = "POST /compliance";
    /// `POST /compliance/invoices`.
    pub const COMPLIANCE_INVOICES: &str = "POST /compliance/invoices";
    /// `POST /production/csids`.
    pub const PRODUCTION_CSID: &str = "POST /production/csids";
    /// `PATCH /production/csids`.
    pub const RENEWAL: &str = "PATCH /production/csids";
    /// `POST /invoices/reporting/single`.
    pub const REPORTING: &str = "POST /invoices/reporting/single";
    /// `POST /invoices/clearance/single`.
    pub const CLEARANCE: &str = "POST /invoices/clearance/single";
}

/// Compliance or production CSID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CsidKind {
    /// Issued by `POST /compliance`; authenticates `/compliance/invoices` and `/production/csids`.
    Compliance,
    /// Issued by `POST`/`PATCH /production/csids`; authenticates reporting, clearance, renewal.
    Production,
}

/// The six document types of the compliance step (SPEC §11): zatca-core's definition.
pub use zatca_core::compliance::ComplianceKind as DocumentType;

/// The documents the compliance step demands for a CSR `title`.
pub(crate) fn required_for(title: &str) -> BTreeSet<DocumentType> {
    DocumentType::required_for_title(title).into_iter().collect()
}

/// One issued CSID.
#[derive(Debug, Clone)]
pub(crate) struct Csid {
    pub kind: CsidKind,
    pub request_id: u64,
    pub token: String,
    pub secret: String,
    pub certificate_der: Vec<u8>,
    pub csr: CsrRequest,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// Compliance CSIDs: document types that passed `/compliance/invoices` without errors.
    pub passed: BTreeSet<DocumentType>,
}

impl Csid {
    /// Document types the certificate may sign, from the CSR `title`.
    pub fn required(&self) -> BTreeSet<DocumentType> {
        required_for(&self.csr.fields.config.invoice_type)
    }

    pub fn info(&self) -> CsidInfo {
        CsidInfo {
            request_id: self.request_id,
            kind: self.kind,
            common_name: self.csr.fields.config.common_name.clone(),
            vat_number: self.csr.fields.config.organization_identifier.clone(),
            egs_serial_number: self.csr.fields.config.serial_number.clone(),
            invoice_types: self.csr.fields.config.invoice_type.clone(),
            certificate: base64_std(&self.certificate_der),
            binary_security_token: self.token.clone(),
            not_before: unix(self.not_before),
            not_after: unix(self.not_after),
            compliance_steps_passed: self.passed.iter().copied().collect(),
            compliance_steps_required: if self.kind == CsidKind::Compliance {
                self.required().into_iter().collect()
            } else {
                Vec::new()
            },
        }
    }
}

/// What `GET /admin/csids` tells about one issued CSID (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsidInfo {
    /// `requestID` of the response that issued it.
    pub request_id: u64,
    /// Compliance or production.
    pub kind: CsidKind,
    /// Subject CN.
    pub common_name: String,
    /// VAT number (SAN UID).
    pub vat_number: String,
    /// EGS serial (SAN SN).
    pub egs_serial_number: String,
    /// SAN title.
    pub invoice_types: String,
    /// The certificate, base64 DER.
    pub certificate: String,
    /// The `binarySecurityToken` (base64 of the base64 certificate).
    pub binary_security_token: String,
    /// Validity start (unix seconds).
    pub not_before: u64,
    /// Validity end (unix seconds).
    pub not_after: u64,
    /// Compliance CSIDs: document types that passed the compliance check.
    pub compliance_steps_passed: Vec<DocumentType>,
    /// Compliance CSIDs: document types required before `/production/csids`.
    pub compliance_steps_required: Vec<DocumentType>,
}

/// Counters of one gateway endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointCounters {
    /// Requests that reached the endpoint (including those answered by an injected fault).
    pub received: u64,
    /// Answered 200 or 202 (CSID issued, document reported/cleared/compliant).
    pub accepted: u64,
    /// Answered 208 or 409 (document already accepted earlier).
    pub duplicates: u64,
    /// Answered 4xx by the endpoint itself (400, 401, 406, 413, 428…).
    pub rejected: u64,
    /// Answered by fault injection (500, 429, 303 while clearance is off).
    pub faulted: u64,
    /// Processed normally, but the answer was held back by the timeout fault.
    pub timed_out: u64,
}

/// What happened to one invoice hash across the document endpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceCounters {
    /// Times a document with this `invoiceHash` got past authentication and was examined.
    pub received: u64,
    /// Times it was accepted (200/202) — exactly once for a correct exactly-once client.
    pub accepted: u64,
    /// Times it was answered as a duplicate (208/409).
    pub duplicates: u64,
    /// Times it was rejected (400).
    pub rejected: u64,
}

/// Everything counted since start (or the last reset).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Per endpoint, keyed `"POST /invoices/reporting/single"` etc. (see [`endpoint`]).
    pub endpoints: BTreeMap<String, EndpointCounters>,
    /// Per `invoiceHash` of the document endpoints (compliance, reporting, clearance).
    pub invoices: BTreeMap<String, InvoiceCounters>,
    /// Gateway requests being handled right now (arrived, not yet answered).
    #[serde(default)]
    pub in_flight: u64,
    /// The most gateway requests handled at once since start (or the last reset).
    #[serde(default)]
    pub peak_in_flight: u64,
}

impl Counters {
    /// Counters of one endpoint (zero when never called).
    pub fn endpoint(&self, key: &str) -> EndpointCounters {
        self.endpoints.get(key).copied().unwrap_or_default()
    }

    /// Counters of one invoice hash (zero when never received).
    pub fn invoice(&self, hash: &str) -> InvoiceCounters {
        self.invoices.get(hash).copied().unwrap_or_default()
    }
}

/// A document accepted by reporting or clearance, kept for duplicate answers.
#[derive(Debug, Clone)]
pub(crate) struct Accepted {
    /// The JSON body of the accepting response (returned again by 208 for clearance).
    pub body: serde_json::Value,
}

/// An issued OTP.
#[derive(Debug, Clone, Copy)]
struct Otp {
    expires: SystemTime,
}

/// Result of presenting an OTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OtpCheck {
    Valid,
    Expired,
    Unknown,
}

/// What a fault decision says for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultDecision {
    /// 500 with ZATCA's error body.
    ServerError,
    /// 429 with `Retry-After`.
    RateLimited { retry_after_secs: u64 },
    /// Process, then hold the answer.
    Timeout { hold: Duration },
    /// Normal processing.
    None,
}

#[derive(Debug, Default)]
struct FaultSequence {
    errors: u64,
    rate_limits: u64,
    timeouts: u64,
}

/// Whether the next request in a fault's sequence takes the fault; `count` counts the requests
/// while the fault is on.
fn next_hit(count: &mut u64, rate: f64) -> bool {
    if rate > 0.0 {
        *count += 1;
        hit(*count, rate)
    } else {
        false
    }
}

/// Deterministic share: whether the `n`-th (1-based) event is hit with share `rate`.
fn hit(n: u64, rate: f64) -> bool {
    if rate <= 0.0 {
        return false;
    }
    if rate >= 1.0 {
        return true;
    }
    #[expect(clippy::cast_precision_loss, reason = "request counts stay far below 2^52")]
    let (a, b) = ((n as f64 * rate).floor(), ((n - 1) as f64 * rate).floor());
    a > b
}

#[derive(Debug, Default)]
struct Data {
    faults: Faults,
    sequence: FaultSequence,
    csids: HashMap<String, Csid>,
    otps: HashMap<String, Otp>,
    accepted: HashMap<String, Accepted>,
    counters: Counters,
    next_request_id: u64,
}

#[derive(Debug)]
struct Inner {
    config: SimConfig,
    ca: CertificateAuthority,
    stamp: Stamp,
    data: Mutex<Data>,
    /// Requests inside the gateway now, and the most at once (kept outside `data`, whose lock
    /// the counting would otherwise take twice more per request).
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
}

/// One request inside the gateway; leaving it (the answer sent or the request dropped)
/// lowers the in-flight count.
#[derive(Debug)]
pub(crate) struct InFlight(SimState);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.inner.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Shared state of one simulator; cheap to clone (an `Arc`).
#[derive(Debug, Clone)]
pub struct SimState {
    inner: Arc<Inner>,
}

/// Seconds since the Unix epoch.
pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// Standard base64.
pub(crate) fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl SimState {
    /// A fresh simulator state (creates the CA).
    ///
    /// # Panics
    /// Only if the CA certificate cannot be built, which would be a bug in the simulator.
    pub fn new(config: SimConfig) -> Self {
        #[expect(
            clippy::expect_used,
            reason = "building the CA from fixed inputs cannot fail at runtime"
        )]
        let ca = CertificateAuthority::new(config.ca_seed).expect("simulator CA certificate");
        #[expect(
            clippy::expect_used,
            reason = "the stamp key and certificate come from the CA's own fixed inputs"
        )]
        let stamp = Stamp::new(&ca).expect("simulator stamp certificate");
        let faults = config.faults.clone().normalized();
        let first_id = 1_000_000_000_000 + u64::from(u32::from_be_bytes(random_bytes::<4>())) * 1000;
        SimState {
            inner: Arc::new(Inner {
                config,
                ca,
                stamp,
                data: Mutex::new(Data {
                    faults,
                    next_request_id: first_id,
                    ..Data::default()
                }),
                in_flight: AtomicU64::new(0),
                peak_in_flight: AtomicU64::new(0),
            }),
        }
    }

    fn data(&self) -> MutexGuard<'_, Data> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.inner
            .data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The configuration the simulator was started with (faults: see [`SimState::faults`]).
    pub fn config(&self) -> &SimConfig {
        &self.inner.config
    }

    /// The CA that issues CSID certificates.
    pub fn ca(&self) -> &CertificateAuthority {
        &self.inner.ca
    }

    /// The gateway's stamp on cleared invoices.
    pub(crate) fn stamp(&self) -> &Stamp {
        &self.inner.stamp
    }

    /// The certificate of the gateway's stamp on cleared invoices (PEM): the certificate in the
    /// signature of every `clearedInvoice`.
    pub fn stamp_certificate_pem(&self) -> String {
        self.inner.stamp.certificate().pem()
    }

    /// The active faults.
    pub fn faults(&self) -> Faults {
        self.data().faults.clone()
    }

    /// Replaces the active faults (restarts the deterministic fault sequences).
    pub fn set_faults(&self, faults: Faults) {
        let mut data = self.data();
        data.faults = faults.normalized();
        data.sequence = FaultSequence::default();
    }

    /// Applies a partial fault update and returns the result.
    pub fn patch_faults(&self, patch: &FaultsPatch) -> Faults {
        let mut data = self.data();
        data.faults.apply(patch);
        data.sequence = FaultSequence::default();
        data.faults.clone()
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        let mut counters = self.data().counters.clone();
        counters.in_flight = self.inner.in_flight.load(Ordering::Relaxed);
        counters.peak_in_flight = self.inner.peak_in_flight.load(Ordering::Relaxed);
        counters
    }

    /// Counters of one endpoint, without copying the per-invoice map (cheap enough to poll).
    pub fn endpoint_counters(&self, key: &str) -> EndpointCounters {
        self.data().counters.endpoint(key)
    }

    /// Resets all counters to zero (CSIDs, OTPs and accepted documents stay).
    pub fn reset_counters(&self) {
        self.data().counters = Counters::default();
        let now = self.inner.in_flight.load(Ordering::Relaxed);
        self.inner.peak_in_flight.store(now, Ordering::Relaxed);
    }

    /// Marks a request as inside the gateway until the guard drops.
    pub(crate) fn enter(&self) -> InFlight {
        let now = self.inner.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.inner.peak_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// Issues a single-use six-digit OTP valid for `ttl`.
    pub fn issue_otp(&self, ttl: Duration) -> String {
        let mut data = self.data();
        loop {
            let n = u32::from_be_bytes(random_bytes::<4>()) % 1_000_000;
            let otp = format!("{n:06}");
            if data.otps.contains_key(&otp) || self.inner.config.fixed_otps.contains(&otp) {
                continue;
            }
            data.otps.insert(
                otp.clone(),
                Otp {
                    expires: SystemTime::now() + ttl,
                },
            );
            return otp;
        }
    }

    /// Checks an OTP without using it up.
    pub(crate) fn check_otp(&self, otp: &str) -> OtpCheck {
        if self.inner.config.fixed_otps.iter().any(|o| o == otp) {
            return OtpCheck::Valid;
        }
        match self.data().otps.get(otp) {
            Some(o) if o.expires > SystemTime::now() => OtpCheck::Valid,
            Some(_) => OtpCheck::Expired,
            None => OtpCheck::Unknown,
        }
    }

    /// Uses up an issued OTP (fixed OTPs stay valid).
    pub(crate) fn consume_otp(&self, otp: &str) {
        self.data().otps.remove(otp);
    }

    /// Issues a certificate for `csr` and records a new CSID of `kind`.
    pub(crate) fn issue_csid(&self, kind: CsidKind, csr: CsrRequest) -> Result<Csid, IssueError> {
        let now = SystemTime::now();
        let validity = match kind {
            CsidKind::Compliance => self.inner.config.compliance_validity,
            CsidKind::Production => self.inner.config.production_validity,
        };
        let certificate_der = self.inner.ca.issue(&csr, now, validity)?;
        let token = base64_std(base64_std(&certificate_der).as_bytes());
        let secret = base64_std(&random_bytes::<32>());
        let mut data = self.data();
        data.next_request_id += 1 + u64::from(random_bytes::<1>()[0] % 7);
        let csid = Csid {
            kind,
            request_id: data.next_request_id,
            token: token.clone(),
            secret,
            certificate_der,
            csr,
            not_before: now.checked_sub(Duration::from_secs(60)).unwrap_or(now),
            not_after: now + validity,
            passed: BTreeSet::new(),
        };
        data.csids.insert(token, csid.clone());
        Ok(csid)
    }

    /// The CSID with this token and secret, if any (expiry is checked by the caller).
    pub(crate) fn authenticate(&self, token: &str, secret: &str) -> Option<Csid> {
        self.data().csids.get(token).filter(|c| c.secret == secret).cloned()
    }

    /// Records a passed compliance document type on a compliance CSID.
    pub(crate) fn record_compliance_pass(&self, token: &str, doc: DocumentType) {
        if let Some(csid) = self.data().csids.get_mut(token) {
            csid.passed.insert(doc);
        }
    }

    /// All issued CSIDs, oldest first.
    pub fn csids(&self) -> Vec<CsidInfo> {
        let mut all: Vec<CsidInfo> = self.data().csids.values().map(Csid::info).collect();
        all.sort_by_key(|c| c.request_id);
        all
    }

    /// The accepted submission for `hash`, if any.
    pub(crate) fn accepted(&self, hash: &str) -> Option<Accepted> {
        self.data().accepted.get(hash).cloned()
    }

    /// Records an accepted reporting/clearance submission; returns the earlier one if another
    /// request accepted the same hash first (a concurrent duplicate).
    pub(crate) fn record_accepted(&self, hash: &str, accepted: Accepted) -> Option<Accepted> {
        let mut data = self.data();
        if let Some(earlier) = data.accepted.get(hash) {
            return Some(earlier.clone());
        }
        data.accepted.insert(hash.to_owned(), accepted);
        None
    }

    /// Decides the fault for the next gateway request.
    pub(crate) fn next_fault(&self) -> (Duration, FaultDecision) {
        let mut data = self.data();
        let faults = data.faults.clone();
        let latency = Duration::from_millis(faults.latency_ms);
        let sequence = &mut data.sequence;
        let decision = if next_hit(&mut sequence.rate_limits, faults.rate_limit_rate) {
            FaultDecision::RateLimited {
                retry_after_secs: faults.retry_after_secs,
            }
        } else if next_hit(&mut sequence.errors, faults.error_rate) {
            FaultDecision::ServerError
        } else if next_hit(&mut sequence.timeouts, faults.timeout_rate) {
            FaultDecision::Timeout {
                hold: Duration::from_millis(faults.timeout_ms),
            }
        } else {
            FaultDecision::None
        };
        (latency, decision)
    }

    /// Whether clearance is switched off.
    pub(crate) fn clearance_disabled(&self) -> bool {
        self.data().faults.clearance_disabled
    }

    /// Counts one request on `endpoint` with a final HTTP status.
    pub(crate) fn count_endpoint(&self, endpoint: &str, status: u16, faulted: bool, timed_out: bool) {
        let mut data = self.data();
        let c = data.counters.endpoints.entry(endpoint.to_owned()).or_default();
        c.received += 1;
        if faulted {
            c.faulted += 1;
        } else {
            match status {
                200 | 202 => c.accepted += 1,
                208 | 409 => c.duplicates += 1,
                400..=499 => c.rejected += 1,
                _ => {}
            }
        }
        if timed_out {
            c.timed_out += 1;
        }
    }

    /// Counts one examined document by its `invoiceHash` with the answer's status.
    pub(crate) fn count_invoice(&self, hash: &str, status: u16) {
        let mut data = self.data();
        let c = data.counters.invoices.entry(hash.to_owned()).or_default();
        c.received += 1;
        match status {
            200 | 202 => c.accepted += 1,
            208 | 409 => c.duplicates += 1,
            400..=499 => c.rejected += 1,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_deterministic_and_exact() {
        let hits = |rate: f64| (1..=100).filter(|&n| hit(n, rate)).count();
        assert_eq!(hits(0.0), 0);
        assert_eq!(hits(1.0), 100);
        assert_eq!(hits(0.5), 50);
        assert_eq!(hits(0.25), 25);
        assert!(hit(2, 0.5) && !hit(1, 0.5));
    }

    #[test]
    fn required_documents_follow_title() {
        assert_eq!(required_for("1100").len(), 6);
        assert!(required_for("1000").iter().all(|d| !d.is_simplified()));
        assert!(required_for("0100").iter().all(|d| d.is_simplified()));
        assert_eq!(required_for("0100").len(), 3);
    }

    #[test]
    fn issued_otps_expire_and_fixed_ones_do_not() {
        let state = SimState::new(SimConfig::default());
        assert_eq!(state.check_otp("123345"), OtpCheck::Valid);
        state.consume_otp("123345");
        assert_eq!(state.check_otp("123345"), OtpCheck::Valid);
        let otp = state.issue_otp(Duration::from_secs(60));
        assert_eq!(state.check_otp(&otp), OtpCheck::Valid);
        state.consume_otp(&otp);
        assert_eq!(state.check_otp(&otp), OtpCheck::Unknown);
        let expired = state.issue_otp(Duration::ZERO);
        assert_eq!(state.check_otp(&expired), OtpCheck::Expired);
    }
}
