//! secp256k1 private keys: generation from caller-supplied randomness, parsing (SEC1 or PKCS#8,
//! PEM or the SDK's bare base64) and export, plus the lenient text armour shared with `cert`/`csr`.

use core::fmt;

use der::Decode;
use der::asn1::{AnyRef, ObjectIdentifier};
use k256::ecdsa::signature::Verifier;
use k256::ecdsa::{Signature, SigningKey, VerifyingKey};
use k256::elliptic_curve::zeroize::{Zeroize, Zeroizing};
use k256::pkcs8::EncodePrivateKey;
use k256::{PublicKey, SecretKey};

use crate::error::{Code, Error, Result};
use crate::prim::asn1;
use crate::prim::text::{armor, hex_lower};

/// `id-ecPublicKey` (RFC 5480): the algorithm of every EC key, whatever the curve.
pub(crate) const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `secp256k1` (SEC 2): the only curve ZATCA accepts (SPEC §9.1).
pub(crate) const SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");

const SEC1_LABEL: &str = "EC PRIVATE KEY";
const PKCS8_LABEL: &str = "PRIVATE KEY";

/// A secp256k1 signing key (the EGS key ZATCA certifies).
///
/// The scalar is zeroized when the key is dropped (k256's `SigningKey` does it), and `Debug`
/// prints only the public key so a key can never leak through logs.
#[derive(Clone)]
pub struct PrivateKey {
    inner: SigningKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The compressed public point identifies the key without revealing anything secret.
        let point = self.inner.verifying_key().to_sec1_point(true);
        f.debug_struct("PrivateKey")
            .field("public_key", &hex_lower(point.as_bytes()))
            .finish()
    }
}

impl PrivateKey {
    /// Derives a key from 32 caller-supplied random bytes (big-endian scalar).
    ///
    /// The crate has no randomness source of its own (it must run on `wasm32-unknown-unknown`
    /// without `getrandom`), so the caller draws the bytes. The bytes are rejected with
    /// `invalid_private_key` when they are zero or not below the curve order (probability about
    /// 2^-128): draw fresh bytes and call again.
    pub fn from_seed(seed: [u8; 32]) -> Result<Self> {
        let mut seed = seed;
        let key = SigningKey::from_bytes(&seed.into());
        seed.zeroize();
        match key {
            Ok(inner) => Ok(PrivateKey { inner }),
            Err(_) => Err(Error::new(
                Code::InvalidPrivateKey,
                "seed is zero or not below the secp256k1 order; retry with fresh random bytes",
            )),
        }
    }

    /// Parses a private key from text: SEC1 PEM (`EC PRIVATE KEY`), PKCS#8 PEM (`PRIVATE KEY`),
    /// or the SDK's unarmoured base64 of SEC1 or PKCS#8 DER (`ec-secp256k1-priv-key.pem`).
    /// Whitespace and line breaks anywhere in the base64 are ignored.
    pub fn parse(text: &str) -> Result<Self> {
        match armor::decode_text(text) {
            Some(armor::Decoded::Pem { label, der }) => {
                let der = Zeroizing::new(der);
                match label.as_str() {
                    SEC1_LABEL | PKCS8_LABEL => Self::from_der(&der),
                    "ENCRYPTED PRIVATE KEY" => Err(Error::new(
                        Code::InvalidPrivateKey,
                        "encrypted private keys are not supported; decrypt the key first",
                    )),
                    _ => Err(Error::new(
                        Code::InvalidPrivateKey,
                        format!("expected an EC PRIVATE KEY or PRIVATE KEY PEM block, found {label}"),
                    )),
                }
            }
            Some(armor::Decoded::Raw(der)) => Self::from_der(&Zeroizing::new(der)),
            None => Err(Error::new(
                Code::InvalidPrivateKey,
                "private key is neither PEM nor base64 DER",
            )),
        }
    }

    /// Parses a DER private key, either SEC1 `ECPrivateKey` or PKCS#8 `PrivateKeyInfo`.
    /// Keys on any curve other than secp256k1 fail with `unsupported_curve`.
    ///
    /// Read with the small DER reader of [`crate::prim::asn1`], with the checks of the `sec1` and
    /// `pkcs8` crates, so that the signing WebAssembly module needs no generic DER decoder.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        // Look at the curve first: k256 would only say "malformed" for a P-256 key, and
        // P-256 is the mistake people actually make (the ZATCA PDF's profile table says P-256).
        if let Some(info) = pkcs8_private_key_info(der) {
            check_algorithm(info.algorithm, info.curve)?;
            let inner = ec_private_key(info.private_key)
                .ok_or_else(|| Error::new(Code::InvalidPrivateKey, "malformed PKCS#8 secp256k1 private key"))?;
            return Ok(PrivateKey { inner });
        }
        if let Some(curve) = sec1_curve(der) {
            if curve != SECP256K1.as_bytes() {
                return Err(unsupported_curve(curve));
            }
        }
        match ec_private_key(der) {
            Some(inner) => Ok(PrivateKey { inner }),
            None => Err(Error::new(
                Code::InvalidPrivateKey,
                "not a SEC1 or PKCS#8 DER secp256k1 private key",
            )),
        }
    }

    /// SEC1 `ECPrivateKey` DER (with curve parameters and public key, as OpenSSL writes it).
    /// The returned bytes are secret: zeroize them when done.
    pub fn to_sec1_der(&self) -> Vec<u8> {
        let secret = SecretKey::from(self.inner.as_nonzero_scalar());
        match secret.to_sec1_der() {
            Ok(der) => der.to_vec(),
            // Encoding a valid in-memory key into a Vec cannot fail; an empty result would be
            // rejected by every reader rather than silently producing a wrong key.
            Err(_) => Vec::new(),
        }
    }

    /// SEC1 PEM (`-----BEGIN EC PRIVATE KEY-----`, 64-column lines, LF), OpenSSL's default form.
    pub fn to_sec1_pem(&self) -> String {
        let der = Zeroizing::new(self.to_sec1_der());
        armor::pem_encode(SEC1_LABEL, &der)
    }

    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, 64-column lines, LF).
    pub fn to_pkcs8_pem(&self) -> String {
        match self.inner.to_pkcs8_der() {
            Ok(doc) => armor::pem_encode(PKCS8_LABEL, doc.as_bytes()),
            // Unreachable for a valid key (see `to_sec1_der`).
            Err(_) => String::new(),
        }
    }

    /// The public key as `SubjectPublicKeyInfo` DER (88 bytes: uncompressed secp256k1 point),
    /// the same encoding a ZATCA certificate and CSR carry.
    pub fn public_key_der(&self) -> Vec<u8> {
        spki_der(self.inner.verifying_key())
    }

    /// ECDSA-SHA256 over `message` (RFC 6979 nonce, low S), as DER `SEQUENCE { r, s }`: the
    /// bytes k256's `Signature::to_der` gives, encoded here so that the WebAssembly signing
    /// module needs no DER encoder. The lengths are short-form octets (at most 70); one that
    /// is not would be an `internal` error rather than a malformed signature.
    pub fn sign_der(&self, message: &[u8]) -> Result<Vec<u8>> {
        use k256::ecdsa::signature::Signer as _;
        let signature: Signature = self.inner.sign(message);
        let (r, s) = (signature.r().to_bytes(), signature.s().to_bytes());
        let mut body = Vec::with_capacity(70);
        for scalar in [r.as_slice(), s.as_slice()] {
            // Shortest unsigned INTEGER: no leading zero octets (a zero keeps one), one 0x00 when
            // the top bit is set.
            let mut digits = scalar;
            while let Some((0, rest)) = digits.split_first().filter(|(_, rest)| !rest.is_empty()) {
                digits = rest;
            }
            let pad = digits.first().is_some_and(|&b| b >= 0x80);
            body.push(asn1::INTEGER);
            // At most 33 octets.
            body.push(short_length(digits.len() + usize::from(pad))?);
            if pad {
                body.push(0);
            }
            body.extend_from_slice(digits);
        }
        let mut der = Vec::with_capacity(body.len() + 2);
        der.push(asn1::SEQUENCE);
        // At most 70 octets.
        der.push(short_length(body.len())?);
        der.extend_from_slice(&body);
        Ok(der)
    }

    /// The underlying k256 signing key, for signing.
    pub fn signing_key(&self) -> &SigningKey {
        &self.inner
    }

    /// The matching public verifying key.
    pub fn verifying_key(&self) -> VerifyingKey {
        *self.inner.verifying_key()
    }
}

/// `SubjectPublicKeyInfo` DER prefix of an uncompressed secp256k1 key (id-ecPublicKey,
/// secp256k1, a 66-byte BIT STRING); the 65-byte SEC1 point follows.
pub(crate) const UNCOMPRESSED_SPKI_PREFIX: [u8; 23] = [
    0x30, 0x56, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00,
    0x0a, 0x03, 0x42, 0x00,
];

/// `SubjectPublicKeyInfo` DER prefix of a compressed secp256k1 key; the 33-byte point follows.
pub(crate) const COMPRESSED_SPKI_PREFIX: [u8; 23] = [
    0x30, 0x36, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00,
    0x0a, 0x03, 0x22, 0x00,
];

/// A DER short-form length octet (below 128).
fn short_length(len: usize) -> Result<u8> {
    u8::try_from(len)
        .ok()
        .filter(|&l| l < 0x80)
        // A fixed message: formatting the number would pull integer formatting into the signing
        // WebAssembly module (+9.6 KiB gzip).
        .ok_or_else(|| Error::new(Code::Internal, "a DER length does not fit one octet"))
}

/// `SubjectPublicKeyInfo` DER of a verifying key (uncompressed point, as ZATCA certificates use):
/// the fixed prefix and the point, exactly what `EncodePublicKey` writes.
pub(crate) fn spki_der(key: &VerifyingKey) -> Vec<u8> {
    let point = key.to_sec1_point(false);
    [UNCOMPRESSED_SPKI_PREFIX.as_slice(), point.as_bytes()].concat()
}

/// Parses a `SubjectPublicKeyInfo` DER public key, requiring EC secp256k1
/// (`unsupported_curve` otherwise, `invalid_public_key` when malformed).
pub fn verifying_key_from_spki(der: &[u8]) -> Result<VerifyingKey> {
    let spki = k256::pkcs8::SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|_| Error::new(Code::InvalidPublicKey, "malformed SubjectPublicKeyInfo"))?;
    check_algorithm_identifier(spki.algorithm.oid, spki.algorithm.parameters)?;
    let bytes = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| Error::new(Code::InvalidPublicKey, "public key bit string is not octet aligned"))?;
    let point = PublicKey::from_sec1_bytes(bytes)
        .map_err(|_| Error::new(Code::InvalidPublicKey, "public key is not a point on secp256k1"))?;
    Ok(VerifyingKey::from(point))
}

/// Verifies a DER ECDSA signature (`SEQUENCE { r, s }`) over `message` with SHA-256
/// ("SHA256withECDSA", as ZATCA, OpenSSL and Java use it).
///
/// Unlike k256's own `verify`, this accepts high-S signatures: k256 enforces Bitcoin's low-S
/// rule, but Java (the ZATCA SDK, the ZATCA CA) and OpenSSL emit either half, and both are valid
/// ECDSA. The signature is normalised to low S before verifying.
pub fn verify_sha256_der(key: &VerifyingKey, message: &[u8], der_signature: &[u8]) -> bool {
    let Ok(signature) = Signature::from_der(der_signature) else {
        return false;
    };
    key.verify(message, &signature.normalize_s()).is_ok()
}

/// Rejects anything but `id-ecPublicKey` (`algorithm`, OID contents) with the named curve
/// secp256k1 (`curve`: the OID contents of the parameters, `None` when they are not an OID).
fn check_algorithm(algorithm: &[u8], curve: Option<&[u8]>) -> Result<()> {
    if algorithm != ID_EC_PUBLIC_KEY.as_bytes() {
        let mut message = String::from("key algorithm ");
        message.push_str(&asn1::oid_string(algorithm));
        message.push_str(" is not elliptic-curve; ZATCA requires secp256k1");
        return Err(Error::new(Code::UnsupportedCurve, message));
    }
    match curve {
        Some(curve) if curve == SECP256K1.as_bytes() => Ok(()),
        Some(curve) => Err(unsupported_curve(curve)),
        None => Err(Error::new(
            Code::UnsupportedCurve,
            "key does not name its curve; ZATCA requires secp256k1 (1.3.132.0.10)",
        )),
    }
}

/// [`check_algorithm`] for an `AlgorithmIdentifier` decoded by `der`.
fn check_algorithm_identifier(oid: ObjectIdentifier, parameters: Option<AnyRef<'_>>) -> Result<()> {
    let curve = parameters.and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    check_algorithm(oid.as_bytes(), curve.as_ref().map(ObjectIdentifier::as_bytes))
}

fn unsupported_curve(curve: &[u8]) -> Error {
    let dotted = asn1::oid_string(curve);
    let name = match dotted.as_str() {
        "1.2.840.10045.3.1.7" => "P-256 (prime256v1)",
        "1.3.132.0.34" => "P-384",
        "1.3.132.0.35" => "P-521",
        _ => "another curve",
    };
    let mut message = String::from("key is on ");
    for part in [name, " (", &dotted, "); ZATCA requires secp256k1 (1.3.132.0.10)"] {
        message.push_str(part);
    }
    Error::new(Code::UnsupportedCurve, message)
}

/// The parts of a PKCS#8 `PrivateKeyInfo` (RFC 5958) that [`PrivateKey::from_der`] reads.
struct PrivateKeyInfo<'a> {
    /// OID contents of the key algorithm.
    algorithm: &'a [u8],
    /// OID contents of the algorithm parameters, when they are an OID.
    curve: Option<&'a [u8]>,
    /// The `privateKey` OCTET STRING contents (a SEC1 `ECPrivateKey` for EC keys).
    private_key: &'a [u8],
}

/// Reads a PKCS#8 `PrivateKeyInfo` / `OneAsymmetricKey` with the checks of the `pkcs8` crate:
///
/// ```text
/// SEQUENCE { version INTEGER (0 | 1), privateKeyAlgorithm AlgorithmIdentifier,
///            privateKey OCTET STRING, attributes [0] IMPLICIT SET OPTIONAL,
///            publicKey [1] IMPLICIT BIT STRING OPTIONAL -- present exactly in version 1
///            [n] EXPLICIT extensions ignored }
/// ```
fn pkcs8_private_key_info(der: &[u8]) -> Option<PrivateKeyInfo<'_>> {
    let mut reader = asn1::Reader::new(asn1::single(der, asn1::SEQUENCE)?);
    let version = asn1::small_uint(reader.read(asn1::INTEGER)?)?;
    if version > 1 {
        return None;
    }
    let mut algorithm = asn1::Reader::new(reader.read(asn1::SEQUENCE)?);
    let oid = asn1::oid(algorithm.read(asn1::OID)?)?;
    let parameters = if algorithm.is_empty() {
        None
    } else {
        Some(algorithm.any()?)
    };
    algorithm.finish()?;
    let curve = parameters
        .filter(|p| p.tag == asn1::OID)
        .and_then(|p| asn1::oid(p.value));
    let private_key = reader.read(asn1::OCTET_STRING)?;
    // Context-specific fields: the tag number decides, the constructed bit must then be right.
    let class_and_number = |tag: Option<u8>| tag.map(|t| t & !0x20);
    if class_and_number(reader.peek_tag()) == Some(asn1::context(0, false)) {
        reader.read(asn1::context(0, true))?;
    }
    let mut has_public_key = false;
    if class_and_number(reader.peek_tag()) == Some(asn1::context(1, false)) {
        asn1::bit_string(reader.read(asn1::context(1, false))?)?;
        has_public_key = true;
    }
    if has_public_key != (version == 1) {
        return None;
    }
    while !reader.is_empty() {
        let field = reader.any()?;
        if field.tag & 0xe0 != 0xa0 {
            return None;
        }
        let mut inner = asn1::Reader::new(field.value);
        inner.any()?;
        inner.finish()?;
    }
    Some(PrivateKeyInfo {
        algorithm: oid,
        curve,
        private_key,
    })
}

/// Reads a SEC1 `ECPrivateKey` (RFC 5915) with the checks of the `sec1` and `elliptic-curve`
/// crates: version 1, a 24- to 32-byte scalar in range, the named curve secp256k1 when
/// parameters are present, and the public key, when present, matching the scalar.
///
/// ```text
/// SEQUENCE { version INTEGER (1), privateKey OCTET STRING,
///            parameters [0] EXPLICIT OBJECT IDENTIFIER OPTIONAL,
///            publicKey [1] EXPLICIT BIT STRING OPTIONAL }
/// ```
fn ec_private_key(der: &[u8]) -> Option<SigningKey> {
    let mut reader = asn1::Reader::new(asn1::single(der, asn1::SEQUENCE)?);
    if asn1::small_uint(reader.read(asn1::INTEGER)?)? != 1 {
        return None;
    }
    let scalar = reader.read(asn1::OCTET_STRING)?;
    let curve = match reader.optional(asn1::context(0, true))? {
        Some(explicit) => Some(asn1::oid(asn1::single(explicit, asn1::OID)?)?),
        None => None,
    };
    let public_key = match reader.optional(asn1::context(1, true))? {
        Some(explicit) => match asn1::bit_string(asn1::single(explicit, asn1::BIT_STRING)?)? {
            (bytes, 0) => Some(bytes),
            _ => return None,
        },
        None => None,
    };
    reader.finish()?;
    if curve.is_some_and(|curve| curve != SECP256K1.as_bytes()) {
        return None;
    }
    let key = SigningKey::from(SecretKey::from_slice(scalar).ok()?);
    if let Some(public_key) = public_key {
        let compressed = matches!(public_key.first(), Some(0x02 | 0x03));
        if key.verifying_key().to_sec1_point(compressed).as_bytes() != public_key {
            return None;
        }
    }
    Some(key)
}

/// The named curve (OID contents) of a SEC1 `ECPrivateKey` (`[0] EXPLICIT parameters`), when
/// the outer structure reads and has one.
fn sec1_curve(der: &[u8]) -> Option<&[u8]> {
    // ECPrivateKey ::= SEQUENCE { version, privateKey, [0] parameters OPTIONAL, [1] publicKey OPTIONAL }
    let fields = asn1::elements(asn1::single(der, asn1::SEQUENCE)?)?;
    let parameters = fields.iter().find(|f| f.tag == asn1::context(0, true))?;
    asn1::oid(asn1::single(parameters.value, asn1::OID)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;
    use k256::ecdsa::signature::Signer;

    const SDK_KEY: &str =
        include_str!("../../../tests/fixtures/samples/sdk-R3.4.8/Certificates/ec-secp256k1-priv-key.pem");
    const SEC1_PEM: &str =
        include_str!("../../../tests/fixtures/samples/sdk-R3.4.8/Certificates/ec-secp256k1-priv-key.sec1.pem");
    const PKCS8_PEM: &str =
        include_str!("../../../tests/fixtures/samples/sdk-R3.4.8/Certificates/ec-secp256k1-priv-key.pkcs8.pem");
    /// A P-256 key (`openssl ecparam -name prime256v1 -genkey`), the classic wrong curve.
    const P256_SEC1_PEM: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIBm8EhvilWlYX2IkrwVyA0sd3fS5EwUPLl8Lldm7WWrLoAoGCCqGSM49
AwEHoUQDQgAEPSO1ZnazS0DVK8o04UeC3gV4WxCpt1Cc8FlW/4QcjHKvtaZBmebf
Sc0Nd7eO4iXLfiyYU7TLNZb049jer8CavA==
-----END EC PRIVATE KEY-----
";
    const P256_PKCS8_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgGbwSG+KVaVhfYiSv
BXIDSx3d9LkTBQ8uXwuV2btZasuhRANCAAQ9I7VmdrNLQNUryjThR4LeBXhbEKm3
UJzwWVb/hByMcq+1pkGZ5t9JzQ13t47iJct+LJhTtMs1lvTj2N6vwJq8
-----END PRIVATE KEY-----
";

    #[test]
    fn sdk_sec1_pkcs8_forms_are_the_same_key() {
        let sdk = PrivateKey::parse(SDK_KEY).unwrap();
        let sec1 = PrivateKey::parse(SEC1_PEM).unwrap();
        let pkcs8 = PrivateKey::parse(PKCS8_PEM).unwrap();
        assert_eq!(sdk.signing_key(), sec1.signing_key());
        assert_eq!(sdk.signing_key(), pkcs8.signing_key());
        assert_eq!(sdk.public_key_der().len(), 88);
    }

    #[test]
    fn export_round_trips_and_matches_fixtures() {
        let key = PrivateKey::parse(SDK_KEY).unwrap();
        assert_eq!(key.to_sec1_pem(), SEC1_PEM);
        assert_eq!(key.to_pkcs8_pem(), PKCS8_PEM);
        assert_eq!(armor::base64_encode(&key.to_sec1_der()), SDK_KEY.trim());
        let again = PrivateKey::parse(&key.to_pkcs8_pem()).unwrap();
        assert_eq!(again.verifying_key(), key.verifying_key());
        // Bare base64 of PKCS#8 DER, wrapped oddly with CRLF, also parses.
        let pkcs8_der = armor::pem_decode(PKCS8_PEM).unwrap().1;
        let b64 = armor::base64_encode(&pkcs8_der);
        let (a, b) = b64.split_at(10);
        let wrapped = format!("  {a}\r\n{b}\r\n");
        assert_eq!(PrivateKey::parse(&wrapped).unwrap().signing_key(), key.signing_key());
        assert_eq!(
            PrivateKey::from_der(&pkcs8_der).unwrap().signing_key(),
            key.signing_key()
        );
    }

    #[test]
    fn from_seed_is_deterministic_and_rejects_bad_scalars() {
        let a = PrivateKey::from_seed([7u8; 32]).unwrap();
        let b = PrivateKey::from_seed([7u8; 32]).unwrap();
        assert_eq!(a.signing_key(), b.signing_key());
        assert_eq!(
            PrivateKey::from_seed([0u8; 32]).unwrap_err().code(),
            "invalid_private_key"
        );
        assert_eq!(
            PrivateKey::from_seed([0xff; 32]).unwrap_err().code(),
            "invalid_private_key"
        );
        let round = PrivateKey::parse(&a.to_sec1_pem()).unwrap();
        assert_eq!(round.signing_key(), a.signing_key());
    }

    #[test]
    fn p256_is_rejected_with_unsupported_curve() {
        let err = PrivateKey::parse(P256_SEC1_PEM).unwrap_err();
        assert_eq!(err.code(), "unsupported_curve", "{err}");
        assert!(err.to_string().contains("P-256"));
        let err = PrivateKey::parse(P256_PKCS8_PEM).unwrap_err();
        assert_eq!(err.code(), "unsupported_curve", "{err}");
    }

    /// What the `pkcs8`/`sec1`/`elliptic-curve` decoders make of a DER key (the code this
    /// module used before its own DER reader): the key, or the error code and message.
    fn reference_from_der(der: &[u8]) -> core::result::Result<SigningKey, (String, String)> {
        use der::Tag;
        use der::Tagged;
        use k256::pkcs8::PrivateKeyInfoRef;
        let fail = |e: Error| (e.code().to_owned(), e.to_string());
        let reference_unsupported = |curve: &ObjectIdentifier| fail(unsupported_curve(curve.as_bytes()));
        if let Ok(info) = PrivateKeyInfoRef::from_der(der) {
            let oid = info.algorithm.oid;
            if oid != ID_EC_PUBLIC_KEY {
                return Err(fail(Error::new(
                    Code::UnsupportedCurve,
                    format!("key algorithm {oid} is not elliptic-curve; ZATCA requires secp256k1"),
                )));
            }
            match info
                .algorithm
                .parameters
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
            {
                Some(curve) if curve == SECP256K1 => {}
                Some(curve) => return Err(reference_unsupported(&curve)),
                None => return Err(fail(check_algorithm(oid.as_bytes(), None).unwrap_err())),
            }
            return SigningKey::try_from(info).map_err(|_| {
                fail(Error::new(
                    Code::InvalidPrivateKey,
                    "malformed PKCS#8 secp256k1 private key",
                ))
            });
        }
        let curve = Vec::<AnyRef<'_>>::from_der(der).ok().and_then(|fields| {
            let parameters = fields.iter().find(
                |f| matches!(f.tag(), Tag::ContextSpecific { constructed: true, number } if number.value() == 0),
            )?;
            ObjectIdentifier::from_der(parameters.value()).ok()
        });
        if let Some(curve) = curve {
            if curve != SECP256K1 {
                return Err(reference_unsupported(&curve));
            }
        }
        SecretKey::from_sec1_der(der).map(SigningKey::from).map_err(|_| {
            fail(Error::new(
                Code::InvalidPrivateKey,
                "not a SEC1 or PKCS#8 DER secp256k1 private key",
            ))
        })
    }

    #[test]
    fn der_reader_agrees_with_the_pkcs8_and_sec1_crates() {
        let keys = [
            armor::base64_decode(SDK_KEY).unwrap(),
            armor::pem_decode(SEC1_PEM).unwrap().1,
            armor::pem_decode(PKCS8_PEM).unwrap().1,
            armor::pem_decode(P256_SEC1_PEM).unwrap().1,
            armor::pem_decode(P256_PKCS8_PEM).unwrap().1,
            // SEC1 without parameters and public key, and with a compressed public key.
            {
                let key = PrivateKey::parse(SDK_KEY).unwrap();
                let scalar = key.signing_key().to_bytes();
                [&[0x30, 0x25, 0x02, 0x01, 0x01, 0x04, 0x20][..], scalar.as_slice()].concat()
            },
            {
                let key = PrivateKey::parse(SDK_KEY).unwrap();
                let scalar = key.signing_key().to_bytes();
                let point = key.verifying_key().to_sec1_point(true);
                [
                    &[0x30, 0x4b, 0x02, 0x01, 0x01, 0x04, 0x20][..],
                    scalar.as_slice(),
                    &[0xa1, 0x24, 0x03, 0x22, 0x00],
                    point.as_bytes(),
                ]
                .concat()
            },
        ];
        let mut parsed = 0;
        let mut disagreements = Vec::new();
        let mut check = |bytes: &[u8], what: String| {
            let ours = PrivateKey::from_der(bytes)
                .map(|k| k.inner)
                .map_err(|e| (e.code().to_owned(), e.to_string()));
            let reference = reference_from_der(bytes);
            if ours.is_ok() {
                parsed += 1;
            }
            if ours != reference {
                disagreements.push(format!(
                    "{what}: ours {:?}, reference {:?}",
                    ours.map(|_| ()),
                    reference.map(|_| ())
                ));
            }
        };
        for (k, der) in keys.iter().enumerate() {
            check(der, format!("key {k}"));
            for i in 0..der.len() {
                check(&der[..i], format!("key {k} truncated at {i}"));
                for flip in [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xa5, 0xff] {
                    let mut bad = der.clone();
                    bad[i] ^= flip;
                    check(&bad, format!("key {k} byte {i} ^ {flip:#x}"));
                }
            }
        }
        assert!(parsed > 100, "only {parsed} keys parsed");
        assert!(
            disagreements.is_empty(),
            "{} disagreements: {disagreements:#?}",
            disagreements.len()
        );
    }

    #[test]
    fn sign_der_matches_k256() {
        use k256::ecdsa::signature::Signer as _;
        let key = PrivateKey::parse(SDK_KEY).unwrap();
        let mut lengths = std::collections::BTreeSet::new();
        for i in 0u32..1000 {
            let message = i.to_be_bytes();
            let expected: Signature = key.signing_key().sign(&message);
            let der = key.sign_der(&message).unwrap();
            assert_eq!(der, expected.to_der().as_bytes(), "message {i}");
            lengths.insert(der.len());
        }
        // A padded r (71), an unpadded one (70) and a shorter integer (r or s below 2^248).
        assert!(
            lengths.contains(&71) && lengths.contains(&70) && lengths.len() >= 3,
            "{lengths:?}"
        );
    }

    #[test]
    fn spki_der_matches_the_pkcs8_encoder() {
        use k256::pkcs8::EncodePublicKey;
        for seed in [[1u8; 32], [7; 32], [0x42; 32]] {
            let key = PrivateKey::from_seed(seed).unwrap();
            let expected = key.verifying_key().to_public_key_der().unwrap();
            assert_eq!(key.public_key_der(), expected.as_bytes());
            let compressed = key.verifying_key().to_sec1_point(true);
            assert_eq!(
                verifying_key_from_spki(&[COMPRESSED_SPKI_PREFIX.as_slice(), compressed.as_bytes()].concat()).unwrap(),
                key.verifying_key()
            );
        }
    }

    #[test]
    fn debug_does_not_print_the_secret() {
        let key = PrivateKey::parse(SDK_KEY).unwrap();
        let debug = format!("{key:?}");
        let secret_hex = hex_lower(&key.signing_key().to_bytes());
        assert!(!debug.contains(&secret_hex));
        assert!(debug.contains("public_key"));
    }

    #[test]
    fn garbage_never_panics() {
        let inputs: [&[u8]; 8] = [
            b"",
            b"   ",
            b"-----BEGIN EC PRIVATE KEY-----\n-----END EC PRIVATE KEY-----",
            b"-----BEGIN EC PRIVATE KEY-----\nMHQ=\n",
            b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
            b"MAA=",
            b"\x30\x82\xff\xff",
            b"-----BEGIN \xd8\xa7-----",
        ];
        for input in inputs {
            let text = String::from_utf8_lossy(input);
            assert!(PrivateKey::parse(&text).is_err());
            assert!(PrivateKey::from_der(input).is_err());
        }
        // Every truncation and single-byte corruption of a real key.
        let der = armor::base64_decode(SDK_KEY).unwrap();
        for i in 0..der.len() {
            let _ = PrivateKey::from_der(&der[..i]);
            let mut bad = der.clone();
            bad[i] ^= 0x55;
            let _ = PrivateKey::from_der(&bad);
        }
    }

    #[test]
    fn verify_accepts_high_s() {
        let key = PrivateKey::parse(SDK_KEY).unwrap();
        let msg = b"zatca";
        let sig: Signature = key.signing_key().sign(msg);
        let low = sig.to_der();
        assert!(verify_sha256_der(&key.verifying_key(), msg, low.as_bytes()));
        // Flip s to n - s: still a valid ECDSA signature, which k256 alone would refuse.
        let (r, s) = sig.split_scalars();
        let high = Signature::from_scalars(r, -*s).unwrap();
        assert!(key.verifying_key().verify(msg, &high).is_err());
        assert!(verify_sha256_der(&key.verifying_key(), msg, high.to_der().as_bytes()));
        assert!(!verify_sha256_der(&key.verifying_key(), b"other", low.as_bytes()));
        assert!(!verify_sha256_der(&key.verifying_key(), msg, b"\x30\x00"));
    }

    #[test]
    fn spki_parsing_checks_the_curve() {
        let key = PrivateKey::parse(SDK_KEY).unwrap();
        let vk = verifying_key_from_spki(&key.public_key_der()).unwrap();
        assert_eq!(vk, key.verifying_key());
        assert_eq!(
            verifying_key_from_spki(b"\x30\x00").unwrap_err().code(),
            "invalid_public_key"
        );
    }

    #[test]
    fn openssl_ecparam_output_with_parameters_block_parses() {
        // `openssl ecparam -name secp256k1 -genkey` (the command most ZATCA guides give)
        // writes an EC PARAMETERS block before the key.
        let text = "-----BEGIN EC PARAMETERS-----
BgUrgQQACg==
-----END EC PARAMETERS-----
-----BEGIN EC PRIVATE KEY-----
MHQCAQEEIOjW/wnyJpkuD34jG+K6IXNL5sNWOYdd/xRG3uuV2D+ooAcGBSuBBAAK
oUQDQgAEinmc4oOdKZWm/g9KWVLTudVOr4yvLv7/rC1qAC0HMJQtcLrgofEsPDW9
U9wclAomZbhBR2InomO4yXKtpFfRvA==
-----END EC PRIVATE KEY-----
";
        let key = PrivateKey::parse(text).unwrap();
        // `openssl ec -pubout -outform DER | base64`
        let spki = "MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEinmc4oOdKZWm/g9KWVLTudVOr4yvLv7/rC1qAC0HMJQtcLrgofEsPDW9U9wclAomZbhBR2InomO4yXKtpFfRvA==";
        assert_eq!(armor::base64_encode(&key.public_key_der()), spki);
    }
}
