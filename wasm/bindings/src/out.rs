//! Encoding of results: one shared `serde_wasm_bindgen` serializer (plain objects, `null` for
//! absent values, byte fields as `Uint8Array`) and the output shapes, all snake_case like the
//! JSON input contract. The npm package's `index.d.ts` declares these shapes; keep them in step.

use serde::{Serialize, Serializer};
use wasm_bindgen::JsValue;
use zatca_core::cert::{Certificate, SanFields};
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

/// An issue with every key present (`path`/`rule` are `null` when absent).
#[derive(Serialize)]
pub struct IssueOut<'a> {
    /// Stable snake_case code.
    pub code: &'static str,
    /// JSON path of the input field.
    pub path: Option<&'a str>,
    /// Human-readable message.
    pub message: &'a str,
    /// ZATCA rule id.
    pub rule: Option<&'static str>,
    /// `"error"` or `"warning"`.
    pub severity: &'static str,
}

impl<'a> From<&'a Issue> for IssueOut<'a> {
    fn from(issue: &'a Issue) -> Self {
        IssueOut {
            code: issue.code,
            path: issue.path.as_deref(),
            message: &issue.message,
            rule: issue.rule,
            severity: match issue.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
        }
    }
}

/// Issues in output shape.
pub fn issues(list: &[Issue]) -> Vec<IssueOut<'_>> {
    list.iter().map(IssueOut::from).collect()
}

/// What JavaScript sees of a certificate: public material only.
#[derive(Serialize)]
pub struct CertificateInfo<'a> {
    /// One-line base64 DER (the `ds:X509Certificate` text).
    pub base64: &'a str,
    /// PEM text.
    pub pem: String,
    /// base64 of `base64`: the CSID `binarySecurityToken`.
    pub binary_security_token: String,
    /// Subject DN.
    pub subject_name: &'a str,
    /// Subject CN (the EGS unit name).
    pub subject_common_name: Option<&'a str>,
    /// Issuer DN as written in `ds:X509IssuerName`.
    pub issuer_name: &'a str,
    /// Serial number, unsigned decimal.
    pub serial_decimal: &'a str,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
    /// ZATCA SAN attributes.
    pub san: &'a SanFields,
    /// ZATCA CertDigest.
    pub cert_digest: String,
    /// SubjectPublicKeyInfo DER (QR tag 8).
    #[serde(serialize_with = "bytes")]
    pub public_key: &'a [u8],
    /// The CA's signature, DER (QR tag 9).
    #[serde(serialize_with = "bytes")]
    pub signature: &'a [u8],
}

impl<'a> From<&'a Certificate> for CertificateInfo<'a> {
    fn from(c: &'a Certificate) -> Self {
        CertificateInfo {
            base64: c.base64(),
            pem: c.pem(),
            binary_security_token: c.binary_security_token(),
            subject_name: c.subject_name(),
            subject_common_name: c.subject_common_name(),
            issuer_name: c.issuer_name(),
            serial_decimal: c.serial_decimal(),
            not_before: c.not_before_unix(),
            not_after: c.not_after_unix(),
            san: c.san_fields(),
            cert_digest: c.cert_digest().to_string(),
            public_key: c.public_key_der(),
            signature: c.signature(),
        }
    }
}
