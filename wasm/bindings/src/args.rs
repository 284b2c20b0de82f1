//! Decoding of JavaScript arguments: private keys (wiped on the JavaScript side as soon as
//! they are copied in), certificates, chain inputs and options.

use js_sys::Uint8Array;
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};
use zatca_core::cert::Certificate;
use zatca_core::keys::PrivateKey;
use zatca_core::sign::Signer;
use zatca_core::ubl::ChainInputs;
use zeroize::Zeroizing;

use crate::error::{IntoJs, JsResult, invalid_argument};

/// Copies a private key out of a JavaScript `Uint8Array` and parses it.
///
/// The array is overwritten with zeros right after the copy, whatever happens next; the copy
/// lives in a zeroizing buffer and the parsed key zeroizes its scalar when dropped, so the key
/// exists in WebAssembly memory only for the duration of the call. Accepts SEC1 or PKCS#8 DER,
/// or the UTF-8 bytes of PEM / the SDK's bare base64.
pub fn take_key(key: &Uint8Array) -> JsResult<PrivateKey> {
    let len = key.length();
    let mut buf = Zeroizing::new(vec![0u8; len as usize]);
    key.copy_to(&mut buf);
    key.fill(0, 0, len);
    if buf.first() == Some(&0x30) {
        PrivateKey::from_der(&buf).js()
    } else {
        match std::str::from_utf8(&buf) {
            Ok(text) => PrivateKey::parse(text).js(),
            Err(_) => Err(crate::error::to_js(&zatca_core::Error::with_code(
                "invalid_private_key",
                "private key is neither DER nor PEM/base64 text",
            ))),
        }
    }
}

/// A secret byte string returned to JavaScript: copied straight from zeroizing WebAssembly
/// memory into a new JavaScript array (no intermediate heap copy that would outlive the call).
pub fn secret_bytes(bytes: Zeroizing<Vec<u8>>) -> Uint8Array {
    Uint8Array::from(bytes.as_slice())
}

/// Decodes an object argument with serde, or its default when `undefined`/`null`.
pub fn decode<T: DeserializeOwned + Default>(value: JsValue, name: &str) -> JsResult<T> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    decode_required(value, name)
}

/// Rejects keys of an object argument that `T` does not have (`serde_wasm_bindgen` reads only
/// the declared fields, so `deny_unknown_fields` alone would not catch `signingTime`).
pub fn check_keys(value: &JsValue, name: &str, known: &[&str]) -> JsResult<()> {
    check_keys_as(value, name, known, "invalid_argument")
}

/// [`check_keys`] with the error code to report.
pub fn check_keys_as(value: &JsValue, name: &str, known: &[&str], code: &'static str) -> JsResult<()> {
    if let Some(obj) = value.dyn_ref::<js_sys::Object>() {
        for key in js_sys::Object::keys(obj) {
            // Object.keys gives strings; anything else is shown as JavaScript would.
            let key = key.as_string().unwrap_or_else(|| format!("{key:?}"));
            if !known.contains(&key.as_str()) {
                let message = format!("unknown field `{key}`, expected one of {}", known.join(", "));
                return Err(crate::error::to_js(
                    &zatca_core::Error::with_code(code, message).at(format!("{name}.{key}")),
                ));
            }
        }
    }
    Ok(())
}

/// Decodes a required object argument with serde.
pub fn decode_required<T: DeserializeOwned>(value: JsValue, name: &str) -> JsResult<T> {
    serde_wasm_bindgen::from_value(value).map_err(|e| {
        let message = e.to_string();
        invalid_argument(name, message.strip_prefix("Error: ").unwrap_or(&message))
    })
}

// The signing module's arguments (`chain`, `options`) are decoded by hand rather than with
// `serde_wasm_bindgen::from_value`: a serde deserializer there cost ≈ 24 KiB of the signing
// module (its generic visitors, and serde's `Unexpected`, which formats floats). The error
// messages are those serde-wasm-bindgen wrote, word for word (`invalid type: …, expected …`,
// `missing field `…``), and so are the accepted values.

/// What serde's `Unexpected` calls a JavaScript value, as serde-wasm-bindgen classifies it.
fn unexpected(value: &JsValue) -> String {
    if value.loose_eq(&JsValue::NULL) {
        "unit value".to_owned()
    } else if let Some(b) = value.as_bool() {
        format!("boolean `{b}`")
    } else if let Some(f) = value.as_f64() {
        match float_text(value, f) {
            Some(text) => format!("floating point `{text}`"),
            None => "floating point".to_owned(),
        }
    } else if let Some(text) = value.as_string() {
        format!("string {text:?}")
    } else if value.is_instance_of::<Uint8Array>() || value.is_instance_of::<js_sys::ArrayBuffer>() {
        "byte array".to_owned()
    } else {
        format!("{value:?}")
    }
}

/// A number as Rust's `Display` writes an `f64` (shortest round-trip digits, never an
/// exponent, `inf`/`NaN`), with `.0` added to whole numbers as serde does. JavaScript's own
/// `toString` gives the same shortest digits, in exponent form for very large or small values.
/// (Rust's own float formatting would add about 10 KiB gzip to the signing module.) None if
/// `toString` threw, which it does only for a radix outside 2..=36.
fn float_text(value: &JsValue, f: f64) -> Option<String> {
    if f.is_nan() {
        return Some("NaN".to_owned());
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if f.is_infinite() {
        return Some(format!("{sign}inf"));
    }
    let js = String::from(js_sys::Number::from(value.clone()).to_string_with_radix(10).ok()?);
    let js = js.trim_start_matches('-');
    let (mantissa, exponent) = match js.split_once('e') {
        Some((m, e)) => (m, e.trim_start_matches('+').parse::<i32>().unwrap_or(0)),
        None => (js, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int_part}{frac_part}");
    // The decimal point sits after `point` digits of `digits`.
    let point = i32::try_from(int_part.len()).unwrap_or(0) + exponent;
    let mut out = String::from(sign);
    if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', usize::try_from(-point).unwrap_or(0)));
        out.push_str(&digits);
    } else {
        let point = usize::try_from(point).unwrap_or(0);
        match digits.split_at_checked(point) {
            Some((int, frac)) if !frac.is_empty() => {
                out.push_str(int);
                out.push('.');
                out.push_str(frac);
            }
            // The point is at or after the last digit: a whole number.
            _ => {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', point.saturating_sub(digits.len())));
                out.push_str(".0");
            }
        }
    }
    Some(out)
}

fn invalid_type(value: &JsValue, expected: &str) -> String {
    format!("invalid type: {}, expected {expected}", unexpected(value))
}

/// The value of field `name` of an object, `None` when it has no such property (a property
/// holding `undefined` is present, as for serde-wasm-bindgen).
fn field(object: &JsValue, name: &str) -> Option<JsValue> {
    let key = JsValue::from_str(name);
    let value = js_sys::Reflect::get(object, &key).unwrap_or_else(|e| wasm_bindgen::throw_val(e));
    if value.is_undefined() && !js_sys::Reflect::has(object, &key).unwrap_or(false) {
        None
    } else {
        Some(value)
    }
}

fn string_field(value: JsValue) -> Result<String, String> {
    value.as_string().ok_or_else(|| invalid_type(&value, "a string"))
}

fn missing(name: &str) -> String {
    format!("missing field `{name}`")
}

/// Decodes the chain inputs of a document, `{icv, pih, uuid}`: `icv` a non-negative safe
/// integer or a `BigInt` within u64, `pih` and `uuid` strings. Unknown keys are refused.
pub fn chain(value: &JsValue) -> JsResult<ChainInputs> {
    check_keys(value, "chain", &["icv", "pih", "uuid"])?;
    let fail = |message: String| invalid_argument("chain", message);
    if !value.is_object() {
        return Err(fail(invalid_type(value, "struct Chain")));
    }
    let icv = match field(value, "icv") {
        Some(icv) if icv.is_bigint() => Some(u64::try_from(icv).map_err(|_| {
            fail("Couldn't deserialize u64 from a BigInt outside u64::MIN..u64::MAX bounds".to_owned())
        })?),
        Some(icv) => match icv.as_f64() {
            Some(n) if js_sys::Number::is_safe_integer(&icv) && n >= 0.0 => Some(n as u64),
            _ => return Err(fail(invalid_type(&icv, "u64"))),
        },
        None => None,
    };
    let pih = field(value, "pih").map(string_field).transpose().map_err(fail)?;
    let uuid = field(value, "uuid").map(string_field).transpose().map_err(fail)?;
    Ok(ChainInputs {
        icv: icv.ok_or_else(|| fail(missing("icv")))?,
        pih: pih.ok_or_else(|| fail(missing("pih")))?,
        uuid: uuid.ok_or_else(|| fail(missing("uuid")))?,
    })
}

/// Options of the signing exports.
#[derive(Default)]
pub struct SignOptions {
    /// `yyyy-MM-ddTHH:mm:ss`; by default the document's issue date and time.
    pub signing_time: Option<String>,
    /// Pair the key with a certificate issued for another key (the developer-portal sandbox
    /// hands out a fixed certificate whatever the CSR carried).
    pub unchecked_certificate: bool,
}

impl SignOptions {
    /// Decodes `{signing_time?: string | null, unchecked_certificate?: boolean}`, or the
    /// defaults when `undefined`/`null`. Unknown keys are refused.
    pub fn decode(value: &JsValue) -> JsResult<Self> {
        check_keys(value, "options", &["signing_time", "unchecked_certificate"])?;
        if value.is_undefined() || value.is_null() {
            return Ok(SignOptions::default());
        }
        let fail = |message: String| invalid_argument("options", message);
        if !value.is_object() {
            return Err(fail(invalid_type(value, "struct SignOptions")));
        }
        let signing_time = match field(value, "signing_time") {
            Some(time) if time.loose_eq(&JsValue::NULL) => None,
            Some(time) => Some(string_field(time).map_err(fail)?),
            None => None,
        };
        let unchecked_certificate = match field(value, "unchecked_certificate") {
            Some(flag) => flag.as_bool().ok_or_else(|| fail(invalid_type(&flag, "a boolean")))?,
            None => false,
        };
        Ok(SignOptions {
            signing_time,
            unchecked_certificate,
        })
    }
}

/// Builds the signer from a key array and certificate text, and decodes the sign options.
/// The key is copied and wiped first, so it is wiped even when another argument is bad.
pub fn signer(key: &Uint8Array, certificate: &str, options: JsValue) -> JsResult<(Signer, SignOptions)> {
    let key = take_key(key)?;
    let options = SignOptions::decode(&options)?;
    let certificate = Certificate::parse(certificate).js()?;
    let signer = if options.unchecked_certificate {
        Signer::new_unchecked(key, certificate)
    } else {
        Signer::new(key, certificate).js()?
    };
    Ok((signer, options))
}
