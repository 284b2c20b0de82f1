//! Encoding of results: plain objects built key by key ([`Obj`]; `null` for absent values, byte
//! fields as `Uint8Array`) and the output shapes, all snake_case like the JSON input contract.
//! The npm package's `index.d.ts` declares these shapes; keep them in step.

use serde::{Serialize, Serializer};
use wasm_bindgen::JsValue;
use zatca_core::cert::{Certificate, SanFields};
use zatca_core::qr::QrFields;
use zatca_core::{Issue, Severity};

/// The one serializer configuration of the bindings: maps as plain objects, `None` as `null`,
/// bytes as `Uint8Array`, 64-bit integers as numbers (ICVs stay far below 2^53).
const SERIALIZER: serde_wasm_bindgen::Serializer = serde_wasm_bindgen::Serializer::new()
    .serialize_missing_as_null(true)
    .serialize_maps_as_objects(true)
    .serialize_bytes_as_arrays(false);

/// Serializes an output value. The shapes below contain only strings, numbers, booleans,
/// options, sequences and byte buffers, which cannot fail to serialize.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> JsValue {
    value.serialize(&SERIALIZER).unwrap_or(JsValue::NULL)
}

/// `Vec<u8>` as a `Uint8Array` (serde's default would be an array of numbers).
pub fn bytes<S: Serializer>(value: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(value)
}

/// A plain JavaScript object under construction. Keys keep the order they are set in, which
/// is the order serde-wasm-bindgen used for the field order of the former output structs.
///
/// The outputs of both modules are built with this rather than serialized with serde: a serde
/// serializer cost ≈ 11 KiB of the signing module's size. (The tools module's CSR outputs,
/// which wrap the core's serde types, still go through [`to_value`].)
pub struct Obj(js_sys::Object);

impl Default for Obj {
    fn default() -> Self {
        Obj::new()
    }
}

impl Obj {
    /// An empty object.
    pub fn new() -> Self {
        Obj(js_sys::Object::new())
    }

    /// Sets `key` to `value`.
    #[must_use]
    pub fn set(self, key: &str, value: &JsValue) -> Self {
        // `Reflect.set` on a fresh ordinary object cannot fail.
        let _ = js_sys::Reflect::set(&self.0, &JsValue::from_str(key), value);
        self
    }

    /// Sets a string.
    #[must_use]
    pub fn str(self, key: &str, value: &str) -> Self {
        self.set(key, &JsValue::from_str(value))
    }

    /// Sets a string, or `null`.
    #[must_use]
    pub fn opt_str(self, key: &str, value: Option<&str>) -> Self {
        self.set(key, &value.map_or(JsValue::NULL, JsValue::from_str))
    }

    /// Sets a `Uint8Array` copy of the bytes.
    #[must_use]
    pub fn bytes(self, key: &str, value: &[u8]) -> Self {
        self.set(key, &js_sys::Uint8Array::from(value).into())
    }

    /// Sets a number.
    #[must_use]
    pub fn num(self, key: &str, value: f64) -> Self {
        self.set(key, &JsValue::from_f64(value))
    }

    /// Sets a boolean.
    #[must_use]
    pub fn bool(self, key: &str, value: bool) -> Self {
        self.set(key, &JsValue::from_bool(value))
    }

    /// The object.
    pub fn build(self) -> JsValue {
        self.0.into()
    }
}

/// An array of the values.
pub fn array(values: impl IntoIterator<Item = JsValue>) -> JsValue {
    let array = js_sys::Array::new();
    for value in values {
        array.push(&value);
    }
    array.into()
}

/// An optional `u64` (ICV) as a number or `null`; `Err(())` above `Number.MAX_SAFE_INTEGER`,
/// where serde-wasm-bindgen failed and the export returned `null` instead of an object.
#[expect(
    clippy::result_unit_err,
    reason = "the caller only needs to know it is not representable"
)]
pub fn opt_u64(value: Option<u64>) -> Result<JsValue, ()> {
    const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;
    match value {
        None => Ok(JsValue::NULL),
        // Exact: at most 2^53 - 1.
        Some(v) if v <= MAX_SAFE_INTEGER => Ok(JsValue::from_f64(v as f64)),
        Some(_) => Err(()),
    }
}

/// An issue with every key present (`path`/`rule` are `null` when absent):
/// `{code, path, message, rule, severity}`.
pub fn issue(issue: &Issue) -> JsValue {
    Obj::new()
        .str("code", issue.code)
        .opt_str("path", issue.path.as_deref())
        .str("message", &issue.message)
        .opt_str("rule", issue.rule)
        .str("severity", severity(issue.severity))
        .build()
}

/// `"error"` or `"warning"`.
pub fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// Issues in output shape.
pub fn issues(list: &[Issue]) -> JsValue {
    array(list.iter().map(issue))
}

/// What JavaScript sees of a certificate, public material only: `{base64, pem,
/// binary_security_token, subject_name, subject_common_name, issuer_name, serial_decimal,
/// not_before, not_after, san, cert_digest, public_key, signature}`.
pub fn certificate_info(c: &Certificate) -> JsValue {
    Obj::new()
        .str("base64", c.base64())
        .str("pem", &c.pem())
        .str("binary_security_token", &c.binary_security_token())
        .str("subject_name", c.subject_name())
        .opt_str("subject_common_name", c.subject_common_name())
        .str("issuer_name", c.issuer_name())
        .str("serial_decimal", c.serial_decimal())
        // Unix seconds of X.509 times (years 1970–9999) are exact as numbers.
        .num("not_before", c.not_before_unix() as f64)
        .num("not_after", c.not_after_unix() as f64)
        .set("san", &san_fields(c.san_fields()))
        .str("cert_digest", c.cert_digest())
        .bytes("public_key", c.public_key_der())
        .bytes("signature", c.signature())
        .build()
}

/// The ZATCA SAN attributes, every key present.
fn san_fields(san: &SanFields) -> JsValue {
    Obj::new()
        .opt_str("serial_number", san.serial_number.as_deref())
        .opt_str("organization_identifier", san.organization_identifier.as_deref())
        .opt_str("invoice_type", san.invoice_type.as_deref())
        .opt_str("location_address", san.location_address.as_deref())
        .opt_str("industry_business_category", san.industry_business_category.as_deref())
        .build()
}

/// QR fields as the core's serde shape writes them: absent optional fields are left out, the
/// two byte fields are base64 text.
pub fn qr_fields(qr: &QrFields) -> JsValue {
    let mut out = Obj::new()
        .str("seller_name", &qr.seller_name)
        .str("vat_number", &qr.vat_number)
        .str("timestamp", &qr.timestamp)
        .str("total_with_vat", &qr.total_with_vat)
        .str("vat_total", &qr.vat_total);
    if let Some(hash) = &qr.invoice_hash {
        out = out.str("invoice_hash", hash);
    }
    if let Some(signature) = &qr.signature {
        out = out.str("signature", signature);
    }
    if let Some(key) = &qr.public_key {
        out = out.str("public_key", &zatca_core::base64_encode(key));
    }
    if let Some(signature) = &qr.certificate_signature {
        out = out.str("certificate_signature", &zatca_core::base64_encode(signature));
    }
    out.build()
}
