//! Untrusted certificates and keys (PEM, base64 or DER, as users and ZATCA hand them over): the
//! core's own DER reader must never panic, and what it accepts must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zatca_core::cert::Certificate;
use zatca_core::keys::PrivateKey;

fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = Certificate::from_der(data) {
        let _ = (cert.issuer_name(), cert.serial_decimal(), cert.cert_digest());
    }
    if let Ok(key) = PrivateKey::from_der(data) {
        let again = PrivateKey::from_der(&key.to_sec1_der()).expect("a key we wrote reads back");
        assert_eq!(again.public_key_der(), key.public_key_der());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Certificate::parse(text);
        if let Ok(key) = PrivateKey::parse(text) {
            let again = PrivateKey::parse(&key.to_pkcs8_pem()).expect("a key we wrote reads back");
            assert_eq!(again.public_key_der(), key.public_key_der());
        }
    }
});
