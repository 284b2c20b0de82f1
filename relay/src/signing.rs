//! The relay's use of `zatca-core`: key generation (the core takes randomness as input), the
//! onboarding CSR, device CSR inspection, certificate validity, the compliance sample documents
//! and their signatures, and reading a device's signed XML.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use uuid::Uuid;
use zatca_core::cert::Certificate;
use zatca_core::csr::{self, CsrConfig};
use zatca_core::keys::PrivateKey;
use zatca_core::model::InvoiceInput;
use zatca_core::sign::{Signer, sign_invoice};
use zatca_core::ubl::ChainInputs;

use crate::domain::{ComplianceKind, EgsUnit, Environment, InvoiceTypes, SellerProfile};
use crate::error::{AppError, ErrorCode};
use crate::secret::{SecretString, random_array};

/// Which CA template the CSR asks for (SPEC §9.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrTemplate {
    /// Developer portal: `TSTZATCA-Code-Signing`.
    DeveloperPortal,
    /// Simulation: `PREZATCA-Code-Signing`.
    Simulation,
    /// Production: `ZATCA-Code-Signing`.
    Production,
}

impl CsrTemplate {
    fn core(self) -> csr::Environment {
        match self {
            CsrTemplate::DeveloperPortal => csr::Environment::Sandbox,
            CsrTemplate::Simulation => csr::Environment::Simulation,
            CsrTemplate::Production => csr::Environment::Production,
        }
    }
}

fn core_err(what: &str, err: &zatca_core::Error) -> String {
    format!("{what}: {err}")
}

/// The PIH of a unit's first document (SPEC §3.1).
pub fn initial_pih() -> String {
    zatca_core::chain::INITIAL_PIH.to_owned()
}

/// The EGS serial of the CSR: `1-<solution>|2-<version>|3-<unit id>`.
pub fn egs_serial(solution: &str, unit: Uuid) -> String {
    let solution: String = solution
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == ' ')
        .collect();
    format!(
        "1-{}|2-{}|3-{unit}",
        if solution.is_empty() { "ZatcaRelay" } else { &solution },
        env!("CARGO_PKG_VERSION")
    )
}

/// A new secp256k1 key from the operating system's randomness (a seed out of range is drawn
/// again).
pub fn generate_private_key() -> Result<PrivateKey, AppError> {
    for _ in 0..8 {
        let seed: [u8; 32] = random_array()?;
        if let Ok(key) = PrivateKey::from_seed(seed) {
            return Ok(key);
        }
    }
    Err(AppError::Internal(anyhow::anyhow!(
        "could not draw a valid secp256k1 key"
    )))
}

/// The key as SEC1 PEM (only ever encrypted before it is stored).
pub fn private_key_pem(key: &PrivateKey) -> Result<SecretString, AppError> {
    Ok(SecretString::new(key.to_sec1_pem()))
}

/// Text safe for a CSR name field: no forbidden characters, at most 64 characters.
fn csr_text(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .filter(|c| !"!@#$%&*_<=".contains(*c) && !c.is_control())
        .collect();
    let cleaned: String = cleaned.trim().chars().take(64).collect();
    if cleaned.trim().is_empty() {
        "EGS".into()
    } else {
        cleaned.trim().to_owned()
    }
}

/// The branch location written in the CSR (`registeredAddress`): building number, street, city.
fn location(seller: &SellerProfile) -> String {
    csr_text(&format!(
        "{} {} {}",
        seller.address.building_number, seller.address.street, seller.address.city
    ))
}

/// Builds the onboarding CSR (PEM) for a relay-custody unit.
pub fn make_csr(
    seller: &SellerProfile,
    invoice_type: InvoiceTypes,
    egs_serial: &str,
    unit_name: &str,
    template: CsrTemplate,
    key: &PrivateKey,
) -> Result<String, AppError> {
    let config = CsrConfig {
        common_name: csr_text(unit_name),
        serial_number: egs_serial.to_owned(),
        organization_identifier: seller.vat_number.clone(),
        organization_unit: csr_text(&seller.branch),
        organization_name: csr_text(&seller.name),
        country: seller.address.country.clone(),
        invoice_type: invoice_type.csr_title().to_owned(),
        location_address: location(seller),
        industry_business_category: csr_text(&seller.industry),
    };
    let csr = csr::build_csr(&config, key, template.core()).map_err(|e| {
        let details = e
            .issues()
            .iter()
            .map(|i| {
                crate::error::Detail::field(format!("csr.{}", i.path.clone().unwrap_or_default()), i.message.clone())
            })
            .collect();
        AppError::api(
            ErrorCode::InvalidCsr,
            format!("The seller profile cannot go into a ZATCA CSR: {e}"),
        )
        .with_details(details)
    })?;
    Ok(csr.pem().to_owned())
}

/// What the relay needs from a device's CSR.
#[derive(Debug, Clone)]
pub struct DeviceCsr {
    /// The CSR as PEM (normalised from PEM, base64 of PEM, or base64 DER).
    pub pem: String,
    /// SAN `SN`.
    pub egs_serial: String,
    /// SAN `UID`.
    pub vat_number: String,
    /// SAN `title`, when it is one of the three known values.
    pub invoice_type: Option<InvoiceTypes>,
    /// Requested template.
    pub template_name: String,
}

/// Parses and checks a device's CSR (signature, curve, ZATCA fields).
pub fn inspect_csr(text: &str) -> Result<DeviceCsr, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty CSR".into());
    }
    let parsed = csr::parse_csr(text.as_bytes()).map_err(|e| core_err("invalid CSR", &e))?;
    parsed.config.validate().map_err(|e| core_err("CSR fields", &e))?;
    let der = csr_der(text).ok_or_else(|| "CSR could not be decoded".to_owned())?;
    let pem = pem_wrap("CERTIFICATE REQUEST", &der);
    Ok(DeviceCsr {
        pem,
        egs_serial: parsed.config.serial_number.clone(),
        vat_number: parsed.config.organization_identifier.clone(),
        invoice_type: InvoiceTypes::from_csr_title(&parsed.config.invoice_type),
        template_name: parsed.template_name,
    })
}

/// DER of a CSR given as PEM, base64 of PEM, or base64 DER.
fn csr_der(text: &str) -> Option<Vec<u8>> {
    let pem_body = |pem: &str| -> Option<Vec<u8>> {
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
        B64.decode(body).ok()
    };
    if text.starts_with("-----BEGIN") {
        return pem_body(text);
    }
    let compact: String = text.split_whitespace().collect();
    let bytes = B64.decode(compact).ok()?;
    if bytes.first() == Some(&0x30) {
        return Some(bytes);
    }
    let inner = String::from_utf8(bytes).ok()?;
    if inner.trim_start().starts_with("-----BEGIN") {
        pem_body(inner.trim())
    } else {
        None
    }
}

fn pem_wrap(label: &str, der: &[u8]) -> String {
    let body = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// `notBefore` and `notAfter` of the certificate in a `binarySecurityToken`.
pub fn certificate_validity(token: &str) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let cert = Certificate::from_binary_security_token(token).map_err(|e| core_err("certificate", &e))?;
    let at = |secs: i64| {
        Utc.timestamp_opt(secs, 0)
            .single()
            .ok_or_else(|| "certificate date out of range".to_owned())
    };
    Ok((at(cert.not_before_unix())?, at(cert.not_after_unix())?))
}

/// The base64 DER of the certificate the unit signs with now (production, else compliance).
pub fn active_certificate_base64(unit: &EgsUnit) -> Option<String> {
    let token = unit.production.as_ref().or(unit.compliance.as_ref())?.token.as_str();
    Certificate::from_binary_security_token(token)
        .ok()
        .map(|c| c.base64().to_owned())
}

/// A signed sample.
#[derive(Debug, Clone)]
pub struct SignedSample {
    /// Signed XML.
    pub xml: String,
    /// Invoice hash (base64).
    pub hash: String,
    /// UUID.
    pub uuid: String,
}

/// Saudi local time (UTC+3, no daylight saving), in which invoice dates and times are written.
fn riyadh(now: DateTime<Utc>) -> chrono::NaiveDateTime {
    (now + chrono::Duration::hours(3)).naive_utc()
}

/// JSON of a seller or buyer party for the core's input model.
pub fn party_json(seller: &SellerProfile) -> Value {
    let mut party = json!({
        "name": seller.name,
        "vat_number": seller.vat_number,
        "address": {
            "street": seller.address.street,
            "building_number": seller.address.building_number,
            "district": seller.address.district,
            "city": seller.address.city,
            "postal_code": seller.address.postal_code,
            "country": seller.address.country,
        },
    });
    if let Some(ar) = &seller.name_ar {
        party["name_ar"] = json!(ar);
    }
    if let Some(crn) = &seller.crn {
        party["crn"] = json!(crn);
    }
    if let Some(n) = &seller.address.additional_number {
        party["address"]["additional_number"] = json!(n);
    }
    party
}

/// The input of one compliance sample document (SPEC §11 step 3).
pub fn compliance_sample_input(kind: ComplianceKind, seller: &SellerProfile, icv: i64, now: DateTime<Utc>) -> Value {
    let local = riyadh(now);
    let date = local.format("%Y-%m-%d").to_string();
    let time = local.format("%H:%M:%S").to_string();
    let mut input = json!({
        "invoice_number": format!("CMP-{}-{icv}", kind.as_str().replace('_', "-").to_ascii_uppercase()),
        "invoice_date": date,
        "invoice_time": time,
        "currency": "SAR",
        "invoice_type": kind.invoice_type(),
        "document_type": kind.document_type(),
        "seller": party_json(seller),
        "line_items": [
            { "description": "Compliance check item", "quantity": 2, "unit_price": 50, "vat_category": "S", "vat_rate": 15 }
        ],
    });
    if kind.invoice_type() == "standard" {
        input["buyer"] = json!({
            "name": "Compliance Check Buyer LLC",
            "vat_number": "399999999800003",
            "address": {
                "street": "Olaya Street",
                "building_number": "1234",
                "district": "Al Olaya",
                "city": "Riyadh",
                "postal_code": "12211",
                "country": "SA",
            },
        });
        input["delivery_date"] = json!(date);
    }
    if kind.document_type() != "invoice" {
        input["original_invoice_number"] = json!(format!("CMP-{}-INVOICE-1", kind.invoice_type().to_ascii_uppercase()));
        input["reason"] = json!("Compliance check: goods returned");
    }
    input
}

/// Builds and signs one compliance sample with the unit's key and compliance CSID.
pub fn sign_compliance_sample(
    kind: ComplianceKind,
    unit: &EgsUnit,
    key_pem: &SecretString,
    token: &str,
    icv: i64,
    pih: &str,
    now: DateTime<Utc>,
) -> Result<SignedSample, String> {
    let input = InvoiceInput::from_value(&compliance_sample_input(kind, &unit.seller, icv, now))
        .map_err(|e| core_err("sample input", &e))?;
    let key = PrivateKey::parse(key_pem.expose()).map_err(|e| core_err("private key", &e))?;
    let cert = Certificate::from_binary_security_token(token).map_err(|e| core_err("certificate", &e))?;
    let signer = match Signer::new(key, cert.clone()) {
        Ok(signer) => signer,
        // ZATCA's developer portal returns a fixed certificate whatever the CSR's key
        // (SPEC §10.5); only there is a mismatch expected.
        Err(_) if unit.environment == Environment::Sandbox => {
            tracing::warn!(egs.id = %unit.id, "the sandbox certificate is not for this unit's key (developer portal behaviour)");
            let key = PrivateKey::parse(key_pem.expose()).map_err(|e| core_err("private key", &e))?;
            Signer::new_unchecked(key, cert)
        }
        Err(e) => return Err(core_err("certificate", &e)),
    };
    let chain = ChainInputs {
        icv: u64::try_from(icv).unwrap_or(1),
        pih: pih.to_owned(),
        uuid: Uuid::new_v4().to_string(),
    };
    let signed = sign_invoice(&input, &chain, &signer, None).map_err(|e| core_err("signing", &e))?;
    Ok(SignedSample {
        xml: signed.xml,
        hash: signed.hash,
        uuid: signed.uuid,
    })
}

/// What the relay reads from a device's signed document.
#[derive(Debug, Clone)]
pub struct XmlFacts {
    /// Invoice hash (base64).
    pub hash: String,
    /// `cbc:UUID`.
    pub uuid: Option<String>,
    /// ICV.
    pub icv: Option<i64>,
}

/// Hash, UUID and ICV of a signed XML document.
pub fn inspect_signed_xml(xml: &[u8]) -> Result<XmlFacts, String> {
    use zatca_core::xml::{NS_CAC, NS_CBC};
    let text = std::str::from_utf8(xml).map_err(|_| "the document is not UTF-8".to_owned())?;
    let doc = zatca_core::xml::parse(text).map_err(|e| core_err("not well-formed XML", &e))?;
    let hash = zatca_core::hash::invoice_hash(xml).map_err(|e| core_err("invoice hash", &e))?;
    let uuid = doc.root.child(NS_CBC, "UUID").map(|e| e.text());
    let icv = doc
        .root
        .elements()
        .filter(|e| e.is(NS_CAC, "AdditionalDocumentReference"))
        .find(|e| e.child(NS_CBC, "ID").is_some_and(|id| id.text() == "ICV"))
        .and_then(|e| e.child(NS_CBC, "UUID"))
        .and_then(|e| e.text().trim().parse().ok());
    Ok(XmlFacts { hash, uuid, icv })
}

/// What the relay records of a device-signed invoice: read from the document itself.
#[derive(Debug, Clone)]
pub struct DeviceDocument {
    /// `cbc:ID`.
    pub invoice_number: String,
    /// `cbc:DocumentCurrencyCode`.
    pub currency: String,
    /// `TaxExclusiveAmount`.
    pub subtotal: rust_decimal::Decimal,
    /// Document `TaxTotal/TaxAmount` in the document currency.
    pub vat: rust_decimal::Decimal,
    /// `TaxInclusiveAmount`.
    pub total: rust_decimal::Decimal,
    /// Whether a buyer is named.
    pub has_buyer: bool,
    /// The lines as the API shows them.
    pub lines: Vec<crate::domain::LineSummary>,
}

/// Reads the invoice number, currency, totals, buyer and lines of a signed UBL document.
pub fn read_device_document(xml: &[u8]) -> Result<DeviceDocument, String> {
    use rust_decimal::Decimal;
    use zatca_core::xml::{NS_CAC, NS_CBC};
    let text = std::str::from_utf8(xml).map_err(|_| "the document is not UTF-8".to_owned())?;
    let doc = zatca_core::xml::parse(text).map_err(|e| core_err("not well-formed XML", &e))?;
    let root = &doc.root;
    let field = |name: &str| root.child(NS_CBC, name).map(|e| e.text().trim().to_owned());
    let number = |e: Option<&zatca_core::xml::Element<'_>>, what: &str| -> Result<Decimal, String> {
        e.map(|e| e.text())
            .ok_or_else(|| format!("no {what}"))?
            .trim()
            .parse::<Decimal>()
            .map_err(|_| format!("{what} is not a number"))
    };
    let currency = field("DocumentCurrencyCode").ok_or("no cbc:DocumentCurrencyCode")?;
    let totals = root
        .child(NS_CAC, "LegalMonetaryTotal")
        .ok_or("no cac:LegalMonetaryTotal")?;
    let vat = root
        .elements()
        .filter(|e| e.is(NS_CAC, "TaxTotal"))
        .filter_map(|t| t.child(NS_CBC, "TaxAmount"))
        .find(|a| a.attr("currencyID") == Some(currency.as_str()))
        .map(|a| a.text());
    let vat = vat
        .ok_or("no document TaxTotal in the document currency")?
        .trim()
        .parse::<Decimal>()
        .map_err(|_| "the VAT total is not a number".to_owned())?;
    let mut lines = Vec::new();
    for (i, line) in root.elements().filter(|e| e.is(NS_CAC, "InvoiceLine")).enumerate() {
        let item = line.child(NS_CAC, "Item");
        let quantity = number(line.child(NS_CBC, "InvoicedQuantity"), "InvoicedQuantity")?;
        let unit_price = number(
            line.child(NS_CAC, "Price").and_then(|p| p.child(NS_CBC, "PriceAmount")),
            "PriceAmount",
        )?;
        let vat_rate = item
            .and_then(|it| it.child(NS_CAC, "ClassifiedTaxCategory"))
            .and_then(|c| c.child(NS_CBC, "Percent"))
            .and_then(|p| p.text().trim().parse::<Decimal>().ok())
            .unwrap_or_default();
        let line_total = match line
            .child(NS_CAC, "TaxTotal")
            .and_then(|t| t.child(NS_CBC, "RoundingAmount"))
        {
            Some(amount) => number(Some(amount), "RoundingAmount")?,
            None => number(line.child(NS_CBC, "LineExtensionAmount"), "LineExtensionAmount")?,
        };
        lines.push(crate::domain::LineSummary {
            line_number: u32::try_from(i + 1).unwrap_or(u32::MAX),
            description: item
                .and_then(|it| it.child(NS_CBC, "Name"))
                .map(|n| n.text())
                .unwrap_or_default(),
            quantity,
            unit_price,
            vat_rate,
            line_total,
        });
    }
    Ok(DeviceDocument {
        invoice_number: field("ID").ok_or("no cbc:ID")?,
        currency,
        subtotal: number(totals.child(NS_CBC, "TaxExclusiveAmount"), "TaxExclusiveAmount")?,
        vat,
        total: number(totals.child(NS_CBC, "TaxInclusiveAmount"), "TaxInclusiveAmount")?,
        has_buyer: root
            .child(NS_CAC, "AccountingCustomerParty")
            .and_then(|p| p.child(NS_CAC, "Party"))
            .is_some(),
        lines,
    })
}
