//! Secrets: redacting newtypes, the master key and its AES-256-GCM envelope for data at rest,
//! randomness, and API keys (generation and hashing).
//!
//! **API key hashing.** Keys are stored as SHA-256 of the full key string, not with a slow
//! password hash and not with an HMAC pepper: a key carries 190 bits from the OS random number
//! generator, so a leaked hash cannot be reversed by guessing and a slow hash would only cost
//! latency on every request; a pepper would add a second secret whose loss locks out every
//! account without adding strength against a key that is already unguessable. Lookup is by hash
//! (indexed), so no secret-dependent comparison happens in application code.

use std::fmt;
use std::str::FromStr;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

use crate::domain::Environment;

/// A string that must never be logged: `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(value.into())
    }

    /// The secret itself. Call sites are the places where it leaves the process (an HTTP header,
    /// a response shown once, an encryption call).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl FromStr for SecretString {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(SecretString(s.to_owned()))
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        SecretString(value)
    }
}

impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SecretString)
    }
}

/// Errors of the master key and of decryption.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The configured master key is not 32 bytes of base64.
    #[error("the master key must be 32 bytes encoded as base64")]
    BadMasterKey,
    /// A stored ciphertext is malformed or does not authenticate under the master key.
    #[error("stored secret cannot be decrypted (wrong master key or corrupted data)")]
    Decrypt,
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Random,
}

/// The 256-bit key that encrypts secrets at rest.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// Version tag of the ciphertext format: `v1.` + base64(nonce(12) ‖ ciphertext ‖ tag(16)).
const ENVELOPE_V1: &str = "v1.";

impl MasterKey {
    /// Parses a base64-encoded 32-byte key.
    pub fn from_base64(text: &str) -> Result<Self, SecretError> {
        let bytes = B64.decode(text.trim()).map_err(|_| SecretError::BadMasterKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| SecretError::BadMasterKey)?;
        Ok(MasterKey(key))
    }

    /// A fresh random key.
    pub fn generate() -> Result<Self, SecretError> {
        Ok(MasterKey(random_array()?))
    }

    /// The key as base64 (to persist a generated demo key; never log it).
    pub fn to_base64(&self) -> SecretString {
        SecretString(B64.encode(self.0))
    }

    /// Encrypts `plaintext`, binding it to `context` (associated data such as
    /// `egs_unit:<id>:private_key`) so a ciphertext copied to another row does not decrypt.
    pub fn encrypt(&self, plaintext: &[u8], context: &str) -> Result<String, SecretError> {
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.0));
        let nonce: [u8; 12] = random_array()?;
        let ciphertext = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Decrypt)?;
        let mut out = Vec::with_capacity(12 + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(format!("{ENVELOPE_V1}{}", B64.encode(out)))
    }

    /// Decrypts what [`MasterKey::encrypt`] produced with the same `context`.
    pub fn decrypt(&self, envelope: &str, context: &str) -> Result<Vec<u8>, SecretError> {
        let body = envelope.strip_prefix(ENVELOPE_V1).ok_or(SecretError::Decrypt)?;
        let bytes = B64.decode(body).map_err(|_| SecretError::Decrypt)?;
        if bytes.len() < 12 + 16 {
            return Err(SecretError::Decrypt);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.0));
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Decrypt)
    }

    /// Encrypts a secret string.
    pub fn encrypt_str(&self, secret: &SecretString, context: &str) -> Result<String, SecretError> {
        self.encrypt(secret.expose().as_bytes(), context)
    }

    /// Decrypts a secret string.
    pub fn decrypt_str(&self, envelope: &str, context: &str) -> Result<SecretString, SecretError> {
        let bytes = self.decrypt(envelope, context)?;
        String::from_utf8(bytes)
            .map(SecretString)
            .map_err(|_| SecretError::Decrypt)
    }
}

/// Random bytes from the operating system.
pub fn random_array<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| SecretError::Random)?;
    Ok(out)
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Characters of randomness in an API key: 32 × log2(62) ≈ 190 bits.
const API_KEY_RANDOM_CHARS: usize = 32;

/// A freshly generated API key: the full key (shown once), its hash and its masked form.
pub struct NewApiKey {
    /// The full key, returned to the caller once and never stored.
    pub key: SecretString,
    /// SHA-256 of the key, stored.
    pub hash: Vec<u8>,
    /// Masked form for listings (`zatca_test_AbCd…wXyZ`), stored.
    pub masked: String,
}

/// The key prefix of an environment.
pub fn api_key_prefix(environment: Environment) -> &'static str {
    match environment {
        Environment::Sandbox => "zatca_test_",
        Environment::Production => "zatca_live_",
    }
}

/// The environment an API key belongs to, from its prefix.
pub fn api_key_environment(key: &str) -> Option<Environment> {
    if key.starts_with("zatca_test_") {
        Some(Environment::Sandbox)
    } else if key.starts_with("zatca_live_") {
        Some(Environment::Production)
    } else {
        None
    }
}

/// Generates an API key: prefix + 32 base62 characters drawn without modulo bias.
pub fn generate_api_key(environment: Environment) -> Result<NewApiKey, SecretError> {
    let mut chars = String::with_capacity(API_KEY_RANDOM_CHARS);
    while chars.len() < API_KEY_RANDOM_CHARS {
        let batch: [u8; 64] = random_array()?;
        for byte in batch {
            // 248 = 4 × 62: rejecting larger bytes keeps every character equally likely.
            if byte < 248 && chars.len() < API_KEY_RANDOM_CHARS {
                chars.push(BASE62[usize::from(byte % 62)] as char);
            }
        }
    }
    let prefix = api_key_prefix(environment);
    let key = format!("{prefix}{chars}");
    let masked = format!("{prefix}{}…{}", &chars[..4], &chars[API_KEY_RANDOM_CHARS - 4..]);
    Ok(NewApiKey {
        hash: hash_api_key(&key),
        key: SecretString(key),
        masked,
    })
}

/// SHA-256 of an API key (see the module docs for why a plain hash suffices).
pub fn hash_api_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let secret = SecretString::new("zatca_test_supersecret");
        assert_eq!(format!("{secret:?}"), "SecretString([redacted])");
        assert_eq!(format!("{secret}"), "[redacted]");
        let key = MasterKey::generate().expect("key");
        assert_eq!(format!("{key:?}"), "MasterKey([redacted])");
        let new = generate_api_key(Environment::Sandbox).expect("api key");
        assert!(!format!("{:?}", new.key).contains("zatca_test_"));
    }

    #[test]
    fn encrypt_round_trip_and_context_binding() {
        let key = MasterKey::generate().expect("key");
        let envelope = key
            .encrypt(b"private key bytes", "egs_unit:1:private_key")
            .expect("encrypt");
        assert!(envelope.starts_with("v1."));
        assert!(!envelope.contains("private key"));
        assert_eq!(
            key.decrypt(&envelope, "egs_unit:1:private_key").expect("decrypt"),
            b"private key bytes"
        );
        assert!(key.decrypt(&envelope, "egs_unit:2:private_key").is_err());
        let other = MasterKey::generate().expect("key");
        assert!(other.decrypt(&envelope, "egs_unit:1:private_key").is_err());
        assert!(key.decrypt("v1.AAAA", "x").is_err());
        assert!(key.decrypt("garbage", "x").is_err());
    }

    #[test]
    fn master_key_parsing() {
        let key = MasterKey::generate().expect("key");
        let text = key.to_base64();
        assert!(MasterKey::from_base64(text.expose()).is_ok());
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
    }

    #[test]
    fn api_keys_have_prefix_entropy_and_hash() {
        let a = generate_api_key(Environment::Sandbox).expect("key");
        let b = generate_api_key(Environment::Production).expect("key");
        assert!(a.key.expose().starts_with("zatca_test_"));
        assert!(b.key.expose().starts_with("zatca_live_"));
        assert_eq!(a.key.expose().len(), "zatca_test_".len() + 32);
        assert_ne!(a.key.expose()[11..], b.key.expose()[11..]);
        assert_eq!(a.hash, hash_api_key(a.key.expose()));
        assert_eq!(a.hash.len(), 32);
        assert!(a.masked.starts_with("zatca_test_") && a.masked.contains('…'));
        assert!(!a.masked.contains(&a.key.expose()[15..27]));
        assert_eq!(api_key_environment(a.key.expose()), Some(Environment::Sandbox));
        assert_eq!(api_key_environment("sk_live_x"), None);
    }
}
