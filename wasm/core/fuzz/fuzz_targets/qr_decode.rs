//! Untrusted QR payloads: TLV decoding must never panic, and what decodes re-encodes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = zatca_core::qr::decode(text);
        if let Ok(fields) = zatca_core::qr::decode_fields(text) {
            let _ = zatca_core::qr::encode(&fields);
        }
    }
});
