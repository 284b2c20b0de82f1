//! The tools module's exports (feature `tools`), loaded separately from the signing module:
//! verification, key generation and import, onboarding CSRs, QR encoding and QR images (SVG,
//! PNG). Secret key bytes leave WebAssembly only from [`generate_private_key`] and
//! [`normalize_private_key`], which the npm package's key vault encrypts immediately.

use js_sys::Uint8Array;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use zatca_core::csr::{self, CsrConfig, Environment};
use zatca_core::keys::PrivateKey;
use zatca_core::qr::QrFields;
use zatca_core::verify;
use zeroize::Zeroizing;

use crate::args::{secret_bytes, take_key};
use crate::error::{IntoJs, JsResult, to_js};
use crate::out::{self, Obj, bytes, to_value};

/// Verifies a signed document as ZATCA does (hash, signature, SignedProperties, certificate
/// digest, QR, and with `expectedPih` the chain link). Findings are in `issues` (`ok` when
/// empty); throws only when the bytes are not an XML document.
#[wasm_bindgen(js_name = verifyInvoice)]
pub fn verify_invoice(xml: &[u8], expected_pih: Option<String>) -> JsResult<JsValue> {
    let v = verify::verify(xml, expected_pih.as_deref()).js()?;
    let Ok(icv) = out::opt_u64(v.icv) else {
        return Ok(JsValue::NULL);
    };
    Ok(Obj::new()
        .bool("ok", v.is_ok())
        .set("issues", &out::issues(&v.issues))
        .str("hash", &v.hash)
        .str("uuid", &v.uuid)
        .set("icv", &icv)
        .opt_str("pih", v.pih.as_deref())
        .str("invoice_type_code", &v.invoice_type_code)
        .str("transaction_code", &v.transaction_code)
        .bool("is_simplified", v.is_simplified)
        .str("issue_date", &v.issue_date)
        .str("issue_time", &v.issue_time)
        .str("seller_vat", &v.seller_vat)
        .set(
            "certificate",
            &v.certificate.as_ref().map_or(JsValue::NULL, out::certificate_info),
        )
        .set("qr", &v.qr.as_ref().map_or(JsValue::NULL, out::qr_fields))
        .build())
}

/// The QR payload (base64 TLV) embedded in a document.
#[wasm_bindgen(js_name = embeddedQr)]
pub fn embedded_qr(xml: &[u8]) -> JsResult<String> {
    verify::embedded_qr(xml).js()
}

/// Generates a secp256k1 private key from `crypto.getRandomValues` and returns it as SEC1 DER.
/// The bytes are secret: encrypt or wipe them (`fill(0)`) as soon as possible.
#[wasm_bindgen(js_name = generatePrivateKey)]
pub fn generate_private_key() -> JsResult<Uint8Array> {
    // A seed is rejected with probability ~2^-128; retry a few times rather than fail.
    for _ in 0..4 {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut_slice()).map_err(|e| {
            to_js(&zatca_core::Error::with_code(
                "random_unavailable",
                format!("no secure random source (crypto.getRandomValues): {e}"),
            ))
        })?;
        if let Ok(key) = PrivateKey::from_seed(*seed) {
            return Ok(secret_bytes(Zeroizing::new(key.to_sec1_der())));
        }
    }
    Err(to_js(&zatca_core::Error::with_code(
        "random_unavailable",
        "the random source returned four invalid secp256k1 seeds in a row",
    )))
}

/// Parses a private key (SEC1/PKCS#8 DER, PEM or bare base64 bytes; the array is wiped) and
/// returns it as SEC1 DER, the form the key vault stores. Secret: encrypt or wipe it.
#[wasm_bindgen(js_name = normalizePrivateKey)]
pub fn normalize_private_key(key: &Uint8Array) -> JsResult<Uint8Array> {
    let key = take_key(key)?;
    Ok(secret_bytes(Zeroizing::new(key.to_sec1_der())))
}

/// The public key of a private key (the array is wiped), as SubjectPublicKeyInfo DER.
#[wasm_bindgen(js_name = publicKeyOf)]
pub fn public_key_of(key: &Uint8Array) -> JsResult<Vec<u8>> {
    Ok(take_key(key)?.public_key_der())
}

const CSR_CONFIG_FIELDS: &[&str] = &[
    "common_name",
    "serial_number",
    "organization_identifier",
    "organization_unit",
    "organization_name",
    "country",
    "invoice_type",
    "location_address",
    "industry_business_category",
];

#[derive(Serialize)]
struct CsrOut<'a> {
    pem: &'a str,
    #[serde(serialize_with = "bytes")]
    der: &'a [u8],
    api_base64: &'a str,
}

/// Builds the onboarding CSR for `environment` (`sandbox`, `simulation` or `production`),
/// signed by `key` (wiped on return). Returns `{pem, der, api_base64}`; `api_base64` is the
/// `csr` field of ZATCA's `/compliance` request.
#[wasm_bindgen(js_name = buildCsr)]
pub fn build_csr(config: JsValue, key: &Uint8Array, environment: &str) -> JsResult<JsValue> {
    let key = take_key(key)?;
    crate::args::check_keys_as(&config, "config", CSR_CONFIG_FIELDS, "invalid_csr_config")?;
    let config: CsrConfig = serde_wasm_bindgen::from_value(config).map_err(|e| {
        let message = e.to_string();
        let message = message.strip_prefix("Error: ").unwrap_or(&message);
        to_js(&zatca_core::Error::with_code("invalid_csr_config", message).at("config"))
    })?;
    let env: Environment = environment.parse().js()?;
    let csr = csr::build_csr(&config, &key, env).js()?;
    Ok(to_value(&CsrOut {
        pem: csr.pem(),
        der: csr.der(),
        api_base64: csr.api_base64(),
    }))
}

#[derive(Serialize)]
struct ParsedCsrOut<'a> {
    config: &'a CsrConfig,
    template_name: &'a str,
    environment: Option<&'static str>,
    #[serde(serialize_with = "bytes")]
    public_key: &'a [u8],
}

/// Parses a CSR (DER, PEM, or ZATCA's base64-of-PEM, as bytes), checks its self-signature and
/// returns `{config, template_name, environment, public_key}`.
#[wasm_bindgen(js_name = parseCsr)]
pub fn parse_csr(csr: &[u8]) -> JsResult<JsValue> {
    let parsed = csr::parse_csr(csr).js()?;
    Ok(to_value(&ParsedCsrOut {
        config: &parsed.config,
        template_name: &parsed.template_name,
        environment: Environment::from_template_name(&parsed.template_name).map(Environment::as_str),
        public_key: &parsed.public_key_der,
    }))
}

/// Reads the ZATCA SDK's `csr-config.properties` text into a CSR config object.
#[wasm_bindgen(js_name = csrConfigFromProperties)]
pub fn csr_config_from_properties(text: &str) -> JsResult<JsValue> {
    Ok(to_value(&CsrConfig::from_sdk_properties(text).js()?))
}

/// Encodes QR fields (the shape `qrDecode` returns) as base64 TLV text.
#[wasm_bindgen(js_name = qrEncode)]
pub fn qr_encode(fields: JsValue) -> JsResult<String> {
    crate::args::check_keys(
        &fields,
        "fields",
        &[
            "seller_name",
            "vat_number",
            "timestamp",
            "total_with_vat",
            "vat_total",
            "invoice_hash",
            "signature",
            "public_key",
            "certificate_signature",
        ],
    )?;
    let fields: QrFields = crate::args::decode_required(fields, "fields")?;
    zatca_core::qr::encode(&fields).js()
}

/// The QR symbol of the base64 text as a standalone SVG document (error correction M).
#[wasm_bindgen(js_name = qrSvg)]
pub fn qr_svg(qr: &str) -> JsResult<String> {
    zatca_core::qr::to_svg(qr).js()
}

/// The QR symbol of the base64 text as PNG bytes, `modulePx` (1–32) pixels per module.
#[wasm_bindgen(js_name = qrPng)]
pub fn qr_png(qr: &str, module_px: u32) -> JsResult<Vec<u8>> {
    zatca_core::qr::to_png(qr, module_px).js()
}
