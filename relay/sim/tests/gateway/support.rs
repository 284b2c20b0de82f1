//! Helpers: an HTTP client speaking the Fatoora API, EGS keys and CSRs made with zatca-core,
//! and a full onboarding.

#![allow(dead_code, reason = "each test module uses a different subset")]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use zatca_core::csr::{CsrConfig, Environment as CoreEnvironment, build_csr};
use zatca_core::keys::PrivateKey;
use zatca_sim::{SimConfig, SimHandle};

/// The sandbox VAT number of ZATCA's examples.
pub const VAT: &str = "399999999900003";

/// The reporting endpoint (simplified documents).
pub const REPORTING: &str = "/invoices/reporting/single";
/// The clearance endpoint (standard documents).
pub const CLEARANCE: &str = "/invoices/clearance/single";

/// An answer: status, headers and body (JSON when it parses, else a JSON string).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

/// Basic credentials of a CSID.
#[derive(Debug, Clone)]
pub struct Creds {
    pub token: String,
    pub secret: String,
    pub request_id: String,
}

impl Creds {
    pub fn from_answer(a: &Answer) -> Creds {
        assert_eq!(a.status, 200, "CSID not issued: {:?}", a.body);
        Creds {
            token: a.body["binarySecurityToken"].as_str().unwrap_or_default().to_owned(),
            secret: a.body["secret"].as_str().unwrap_or_default().to_owned(),
            request_id: a.body["requestID"].to_string(),
        }
    }

    /// The certificate the token holds.
    pub fn certificate(&self) -> zatca_core::cert::Certificate {
        zatca_core::cert::Certificate::from_binary_security_token(&self.token).expect("token holds a certificate")
    }
}

/// A client bound to one simulator.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

/// A request under construction.
pub struct Call<'a> {
    api: &'a Api,
    method: reqwest::Method,
    path: String,
    version: Option<&'a str>,
    auth: Option<(String, String)>,
    otp: Option<String>,
    headers: Vec<(&'static str, String)>,
    body: Option<Vec<u8>>,
}

impl Api {
    pub fn new(sim: &SimHandle) -> Api {
        Api {
            base: sim.base_url.clone(),
            http: reqwest::Client::new(),
        }
    }

    pub fn call(&self, method: reqwest::Method, path: &str) -> Call<'_> {
        Call {
            api: self,
            method,
            path: path.to_owned(),
            version: Some("V2"),
            auth: None,
            otp: None,
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn post(&self, path: &str) -> Call<'_> {
        self.call(reqwest::Method::POST, path)
    }

    pub fn patch(&self, path: &str) -> Call<'_> {
        self.call(reqwest::Method::PATCH, path)
    }

    pub fn get(&self, path: &str) -> Call<'_> {
        self.call(reqwest::Method::GET, path)
    }

    /// `POST /invoices/reporting/single` of `body` with the CSID's credentials.
    pub async fn report(&self, creds: &Creds, body: &Value) -> Answer {
        self.post(REPORTING).creds(creds).json(body).send().await
    }

    /// `POST /invoices/clearance/single` of `body` with the CSID's credentials and
    /// `Clearance-Status: 1`.
    pub async fn clear(&self, creds: &Creds, body: &Value) -> Answer {
        self.post(CLEARANCE)
            .creds(creds)
            .header("Clearance-Status", "1")
            .json(body)
            .send()
            .await
    }

    /// `POST /compliance/invoices` (the compliance check) of `body` with the CSID's credentials.
    pub async fn check_compliance(&self, creds: &Creds, body: &Value) -> Answer {
        self.post("/compliance/invoices").creds(creds).json(body).send().await
    }

    /// `POST /production/csids` with the compliance CSID and its own request id.
    pub async fn request_production_csid(&self, compliance: &Creds) -> Answer {
        self.post("/production/csids")
            .creds(compliance)
            .json(&json!({"compliance_request_id": compliance.request_id}))
            .send()
            .await
    }

    /// `PATCH /production/csids` (renewal) with the production CSID, an OTP and a new CSR.
    pub async fn renew_production_csid(&self, production: &Creds, otp: &str, csr: &str) -> Answer {
        self.patch("/production/csids")
            .creds(production)
            .otp(otp)
            .json(&json!({"csr": csr}))
            .send()
            .await
    }
}

impl<'a> Call<'a> {
    pub fn version(mut self, v: Option<&'a str>) -> Self {
        self.version = v;
        self
    }

    pub fn creds(mut self, c: &Creds) -> Self {
        self.auth = Some((c.token.clone(), c.secret.clone()));
        self
    }

    pub fn basic(mut self, token: &str, secret: &str) -> Self {
        self.auth = Some((token.to_owned(), secret.to_owned()));
        self
    }

    pub fn otp(mut self, otp: &str) -> Self {
        self.otp = Some(otp.to_owned());
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    pub fn json(mut self, v: &Value) -> Self {
        self.body = Some(serde_json::to_vec(v).expect("json"));
        self
    }

    pub fn raw(mut self, bytes: Vec<u8>) -> Self {
        self.body = Some(bytes);
        self
    }

    pub async fn send(self) -> Answer {
        let mut req = self
            .api
            .http
            .request(self.method, format!("{}{}", self.api.base, self.path));
        if let Some(v) = self.version {
            req = req.header("Accept-Version", v);
        }
        if let Some((token, secret)) = &self.auth {
            req = req.header(
                "Authorization",
                format!("Basic {}", B64.encode(format!("{token}:{secret}"))),
            );
        }
        if let Some(otp) = &self.otp {
            req = req.header("OTP", otp);
        }
        for (name, value) in &self.headers {
            req = req.header(*name, value);
        }
        if let Some(body) = self.body {
            req = req.header("Content-Type", "application/json").body(body);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer { status, headers, body }
    }
}

/// A deterministic EGS key.
pub fn key(n: u8) -> PrivateKey {
    let mut seed = [0x11u8; 32];
    seed[31] = n;
    PrivateKey::from_seed(seed).expect("valid seed")
}

/// The EGS configuration of ZATCA's example with a chosen VAT number and `title`.
pub fn egs_config(vat: &str, title: &str) -> CsrConfig {
    CsrConfig {
        common_name: format!("TST-886431145-{vat}"),
        serial_number: "1-TST|2-TST|3-ed22f1d8-e6a2-1118-9b58-d9a8f11e445f".into(),
        organization_identifier: vat.into(),
        organization_unit: "Riyadh Branch".into(),
        organization_name: "Maximum Speed Tech Supply LTD".into(),
        country: "SA".into(),
        invoice_type: title.into(),
        location_address: "RRRD2929".into(),
        industry_business_category: "Supply activities".into(),
    }
}

/// The `csr` API field (base64 of the PEM) for a config, key and template environment.
pub fn csr_field(config: &CsrConfig, key: &PrivateKey, env: CoreEnvironment) -> String {
    build_csr(config, key, env).expect("CSR builds").api_base64().to_owned()
}

/// The `csr` field for ZATCA's example EGS (VAT number [`VAT`], `title`) with key `key_seed`,
/// on the sandbox template.
pub fn sandbox_csr(key_seed: u8, title: &str) -> String {
    csr_field(&egs_config(VAT, title), &key(key_seed), CoreEnvironment::Sandbox)
}

/// `POST /compliance` with an OTP.
pub async fn request_compliance_csid(api: &Api, otp: &str, csr: &str) -> Answer {
    api.post("/compliance").otp(otp).json(&json!({"csr": csr})).send().await
}

/// A sandbox simulator with a fixed CA seed.
pub async fn sandbox() -> SimHandle {
    zatca_sim::spawn(SimConfig {
        ca_seed: Some([7; 32]),
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts")
}

/// A sandbox simulator, a client of it, and an EGS unit with VAT number [`VAT`] and `title`
/// onboarded there with key `key_seed`.
pub async fn onboarded_sandbox(key_seed: u8, title: &str) -> (SimHandle, Api, Onboarded) {
    let sim = sandbox().await;
    let api = Api::new(&sim);
    let on = onboard(&api, key_seed, VAT, title).await;
    (sim, api, on)
}

/// Riyadh local date and time (`YYYY-MM-DD`, `HH:MM:SS`) `offset_secs` from now.
pub fn riyadh_now(offset_secs: i64) -> (String, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    let t = now + offset_secs + 3 * 3600;
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60),
    )
}

/// A document of one of the six compliance types, issued `age_secs` ago, for `vat`.
pub fn invoice_json(standard: bool, document_type: &str, vat: &str, age_secs: i64, number: &str) -> Value {
    let (date, time) = riyadh_now(-age_secs);
    let mut v = json!({
        "invoice_number": number,
        "invoice_date": date,
        "invoice_time": time,
        "invoice_type": if standard { "standard" } else { "simplified" },
        "document_type": document_type,
        "seller": {"name": "Maximum Speed Tech Supply LTD", "vat_number": vat, "crn": "1010010000",
                   "address": {"street": "Prince Sultan", "building_number": "2322", "district": "Al-Murabba",
                               "city": "Riyadh", "postal_code": "23333", "country": "SA"}},
        "line_items": [{"description": "Book", "quantity": 2, "unit_price": 50}],
        "delivery_date": date,
    });
    if standard {
        v["buyer"] = json!({"name": "Fatoora Samples LTD", "vat_number": "399999999800003",
                            "address": {"street": "Salah Al-Din", "building_number": "1111", "district": "Al-Murooj",
                                        "city": "Riyadh", "postal_code": "12222", "country": "SA"}});
    }
    if document_type != "invoice" {
        v["original_invoice_number"] = json!("INV-ORIGINAL-1");
        v["reason"] = json!("Returned goods");
    }
    v
}

/// The six compliance documents as `(standard, document_type)`.
pub const SIX: [(bool, &str); 6] = [
    (true, "invoice"),
    (true, "credit_note"),
    (true, "debit_note"),
    (false, "invoice"),
    (false, "credit_note"),
    (false, "debit_note"),
];

/// An EGS unit's signing state: key, certificate, ICV/PIH chain.
pub struct Egs {
    pub key_seed: u8,
    pub certificate: zatca_core::cert::Certificate,
    pub icv: u64,
    pub pih: String,
}

impl Egs {
    pub fn new(key_seed: u8, creds: &Creds) -> Egs {
        Egs {
            key_seed,
            certificate: creds.certificate(),
            icv: 0,
            pih: zatca_core::chain::INITIAL_PIH.to_owned(),
        }
    }

    /// Signs the next document of the chain.
    pub fn sign(&mut self, input: &Value) -> zatca_core::sign::SignedInvoice {
        let input = zatca_core::model::InvoiceInput::from_json(&serde_json::to_vec(input).expect("json"))
            .unwrap_or_else(|e| panic!("invoice input: {e}"));
        self.icv += 1;
        let uuid = uuid_for(self.key_seed, self.icv);
        let chain = zatca_core::ubl::ChainInputs {
            icv: self.icv,
            pih: self.pih.clone(),
            uuid,
        };
        let signer = zatca_core::sign::Signer::new(key(self.key_seed), self.certificate.clone())
            .unwrap_or_else(|e| panic!("signer: {e}"));
        let signed =
            zatca_core::sign::sign_invoice(&input, &chain, &signer, None).unwrap_or_else(|e| panic!("sign: {e}"));
        self.pih = signed.hash.clone();
        signed
    }
}

/// A distinct, stable UUID per key and ICV.
pub fn uuid_for(seed: u8, icv: u64) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", u32::from(seed), icv)
}

/// The API body of a signed document.
pub fn body_of(signed: &zatca_core::sign::SignedInvoice) -> Value {
    json!({"invoiceHash": signed.hash, "uuid": signed.uuid, "invoice": B64.encode(signed.xml.as_bytes())})
}

/// The API body of a signed document with its XML replaced by `xml` (hash and UUID still the
/// signed document's).
pub fn body_with_invoice(signed: &zatca_core::sign::SignedInvoice, xml: impl AsRef<[u8]>) -> Value {
    let mut body = body_of(signed);
    body["invoice"] = json!(B64.encode(xml));
    body
}

/// A fully onboarded EGS unit (compliance step for every type its `title` demands).
pub struct Onboarded {
    pub compliance: Creds,
    pub production: Creds,
    pub egs: Egs,
}

/// Onboards an EGS unit with `title` and VAT number on `api`.
pub async fn onboard(api: &Api, key_seed: u8, vat: &str, title: &str) -> Onboarded {
    let csr = csr_field(&egs_config(vat, title), &key(key_seed), CoreEnvironment::Sandbox);
    let compliance = Creds::from_answer(&request_compliance_csid(api, "123345", &csr).await);
    let mut egs = Egs::new(key_seed, &compliance);
    for (standard, doc) in SIX {
        let enabled = if standard {
            title.starts_with('1')
        } else {
            title.as_bytes().get(1) == Some(&b'1')
        };
        if !enabled {
            continue;
        }
        let signed = egs.sign(&invoice_json(standard, doc, vat, 60, &format!("C-{}", egs.icv + 1)));
        let a = api.check_compliance(&compliance, &body_of(&signed)).await;
        assert_eq!(a.status, 200, "compliance {doc} (standard {standard}): {:#}", a.body);
    }
    let production = Creds::from_answer(&api.request_production_csid(&compliance).await);
    egs.certificate = production.certificate();
    Onboarded {
        compliance,
        production,
        egs,
    }
}

/// Codes of the error messages of a document answer.
pub fn error_codes(body: &Value) -> Vec<String> {
    body["validationResults"]["errorMessages"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["code"].as_str().unwrap_or("null").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a document answer carries an error message with `code`.
pub fn has_error(body: &Value, code: &str) -> bool {
    error_codes(body).iter().any(|c| c == code)
}

/// The cleared invoice (XML) of a clearance answer.
pub fn cleared_invoice(a: &Answer) -> Vec<u8> {
    B64.decode(a.body["clearedInvoice"].as_str().expect("clearedInvoice"))
        .expect("base64")
}

/// Replaces the QR code of a signed document (outside the invoice hash and the signature).
pub fn with_qr(xml: &str, fields: &zatca_core::qr::QrFields) -> String {
    let old = zatca_core::verify::embedded_qr(xml.as_bytes()).expect("document has a QR code");
    let new = zatca_core::qr::encode(fields).expect("QR encodes");
    assert!(xml.contains(&old), "QR text appears verbatim");
    xml.replacen(&old, &new, 1)
}

/// The decoded QR code of a document.
pub fn qr_of(xml: &[u8]) -> zatca_core::qr::QrFields {
    let text = zatca_core::verify::embedded_qr(xml).expect("document has a QR code");
    zatca_core::qr::decode_fields(&text).expect("QR decodes")
}
