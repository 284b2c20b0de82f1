//! Decoding of JavaScript arguments: private keys (wiped on the JavaScript side as soon as
//! they are copied in), certificates, chain inputs and options.

use js_sys::Uint8Array;
use serde::Deserialize;
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
            Err(_) => Err(crate::error::to_js(&zatca_core::Error::new(
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
            let key = key.as_string().unwrap_or_default();
            if !known.contains(&key.as_str()) {
                let message = format!("unknown field `{key}`, expected one of {}", known.join(", "));
                return Err(crate::error::to_js(
                    &zatca_core::Error::new(code, message).at(format!("{name}.{key}")),
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

/// The chain inputs of a document, as JavaScript passes them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    /// Invoice counter value.
    pub icv: u64,
    /// Previous invoice hash, base64.
    pub pih: String,
    /// Document UUID.
    pub uuid: String,
}

impl From<Chain> for ChainInputs {
    fn from(c: Chain) -> Self {
        ChainInputs {
            icv: c.icv,
            pih: c.pih,
            uuid: c.uuid,
        }
    }
}

/// Options of the signing exports.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SignOptions {
    /// `yyyy-MM-ddTHH:mm:ss`; by default the document's issue date and time.
    pub signing_time: Option<String>,
    /// Pair the key with a certificate issued for another key (the developer-portal sandbox
    /// hands out a fixed certificate whatever the CSR carried).
    pub unchecked_certificate: bool,
}

/// Builds the signer from a key array and certificate text, and decodes the sign options.
/// The key is copied and wiped first, so it is wiped even when another argument is bad.
pub fn signer(key: &Uint8Array, certificate: &str, options: JsValue) -> JsResult<(Signer, SignOptions)> {
    let key = take_key(key)?;
    check_keys(&options, "options", &["signing_time", "unchecked_certificate"])?;
    let options: SignOptions = decode(options, "options")?;
    let certificate = Certificate::parse(certificate).js()?;
    let signer = if options.unchecked_certificate {
        Signer::new_unchecked(key, certificate)
    } else {
        Signer::new(key, certificate).js()?
    };
    Ok((signer, options))
}
