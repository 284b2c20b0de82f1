use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Checks a `Zatca-Signature` header (`t=<unix seconds>,v1=<hex>`) against the raw request
/// body: HMAC-SHA256 keyed with the endpoint's secret over `"<t>.<body>"`, and `t` within five
/// minutes of `now` (unix seconds) so that a captured request cannot be replayed later.
pub fn verify_zatca_signature(secret: &str, header: &str, body: &[u8], now: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else { return false };
    if (now - timestamp).abs() > 300 {
        return false;
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    signatures.iter().any(|hex| {
        let bytes: Option<Vec<u8>> = (0..hex.len())
            .step_by(2)
            .map(|i| hex.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
            .collect();
        // verify_slice compares in constant time.
        bytes.is_some_and(|bytes| mac.clone().verify_slice(&bytes).is_ok())
    })
}
