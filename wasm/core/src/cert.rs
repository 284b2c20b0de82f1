//! X.509 CSID certificates: parsed once into the exact strings ZATCA's signature, QR and API
//! need (one-line base64, CertDigest, issuer name, decimal serial, CA signature, SAN fields).

use der::asn1::{Any, ObjectIdentifier};
use der::{Decode, Encode, Tag, Tagged};
use k256::ecdsa::VerifyingKey;
use serde::Serialize;
use sha2::{Digest, Sha256};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;

use crate::error::{Error, Result};
use crate::keys::{PrivateKey, armor, hex_lower, verifying_key_from_spki};

/// `subjectAltName` extension (RFC 5280).
pub(crate) const ID_CE_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// `surname` (X.520) — ZATCA puts the EGS serial number `1-…|2-…|3-…` in it.
pub(crate) const AT_SURNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.4");
/// `userId` (RFC 4519) — the VAT number (organisation identifier).
pub(crate) const AT_UID: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.9.2342.19200300.100.1.1");
/// `title` (X.520) — the invoice-type flags `1100`.
pub(crate) const AT_TITLE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.12");
/// `registeredAddress` (X.520) — the branch location.
pub(crate) const AT_REGISTERED_ADDRESS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.26");
/// `businessCategory` (X.520) — the industry.
pub(crate) const AT_BUSINESS_CATEGORY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.15");
/// `commonName`.
pub(crate) const AT_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
/// `countryName`.
pub(crate) const AT_COUNTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
/// `organizationName`.
pub(crate) const AT_ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
/// `organizationalUnitName`.
pub(crate) const AT_ORGANIZATIONAL_UNIT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");

/// The ZATCA attributes of the certificate's (or CSR's) `subjectAltName` directory name,
/// SubjectPublicKeyInfo prefix of a compressed secp256k1 key (id-ecPublicKey, secp256k1).
const COMPRESSED_SPKI_PREFIX: [u8; 23] = [
    0x30, 0x36, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00,
    0x0a, 0x03, 0x22, 0x00,
];

/// named like the [`crate::csr::CsrConfig`] fields they come from. `None` when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SanFields {
    /// `SN` (surname, 2.5.4.4): EGS serial `1-<solution>|2-<model>|3-<serial>`.
    pub serial_number: Option<String>,
    /// `UID` (0.9.2342.19200300.100.1.1): VAT number of the taxpayer (or VAT group).
    pub organization_identifier: Option<String>,
    /// `title` (2.5.4.12): invoice types the EGS may issue, e.g. `1100`.
    pub invoice_type: Option<String>,
    /// `registeredAddress` (2.5.4.26): branch location.
    pub location_address: Option<String>,
    /// `businessCategory` (2.5.4.15): industry.
    pub industry_business_category: Option<String>,
}

/// A parsed X.509 certificate (a ZATCA compliance or production CSID).
///
/// Everything ZATCA needs is computed once at parse time, so the accessors are cheap and
/// infallible. The certificate's own signature is not verified here: the issuing CA's
/// certificate is not part of the CSID.
#[derive(Debug, Clone)]
pub struct Certificate {
    der: Vec<u8>,
    base64: String,
    issuer_name: String,
    subject_name: String,
    subject_common_name: Option<String>,
    serial_decimal: String,
    public_key_der: Vec<u8>,
    signature: Vec<u8>,
    /// Computed once: every signature repeats it.
    cert_digest: String,
    not_before_unix: i64,
    not_after_unix: i64,
    san: SanFields,
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        // Every other field is derived from the DER.
        self.der == other.der
    }
}

impl Eq for Certificate {}

impl Certificate {
    /// Parses a certificate from text: PEM (`-----BEGIN CERTIFICATE-----`), or unarmoured base64
    /// DER on one or several lines (the SDK's `cert.pem`, the `ds:X509Certificate` content).
    /// A ZATCA `binarySecurityToken` (base64 of that base64 text) is recognised too.
    pub fn parse(text: &str) -> Result<Self> {
        match armor::decode_text(text) {
            Some(armor::Decoded::Pem { label, der }) if label == "CERTIFICATE" => Self::from_der(&der),
            Some(armor::Decoded::Pem { label, .. }) => Err(Error::new(
                "invalid_certificate",
                format!("expected a CERTIFICATE PEM block, found {label}"),
            )),
            // DER always starts with a SEQUENCE tag; base64 text of DER starts with `MI`.
            Some(armor::Decoded::Raw(bytes)) if bytes.first() == Some(&0x30) => Self::from_der(&bytes),
            Some(armor::Decoded::Raw(bytes)) if bytes.starts_with(b"MI") => Self::from_base64_text(&bytes),
            _ => Err(Error::new(
                "invalid_certificate",
                "certificate is neither PEM nor base64 DER",
            )),
        }
    }

    /// Decodes a ZATCA CSID `binarySecurityToken` (SPEC §10.4): base64 of the certificate's
    /// base64-DER text. The token itself is what goes into the API's Basic auth, verbatim.
    pub fn from_binary_security_token(token: &str) -> Result<Self> {
        let inner = armor::base64_decode(token)
            .ok_or_else(|| Error::new("invalid_certificate", "binarySecurityToken is not base64"))?;
        Self::from_base64_text(&inner)
    }

    fn from_base64_text(bytes: &[u8]) -> Result<Self> {
        let text = core::str::from_utf8(bytes)
            .map_err(|_| Error::new("invalid_certificate", "binarySecurityToken does not hold base64 text"))?;
        let der = armor::base64_decode(text)
            .ok_or_else(|| Error::new("invalid_certificate", "binarySecurityToken does not hold base64 text"))?;
        Self::from_der(&der)
    }

    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| Error::new("invalid_certificate", format!("malformed X.509 certificate: {e}")))?;
        let tbs = cert.tbs_certificate();
        let public_key_der = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(|e| Error::new("invalid_certificate", format!("malformed subject public key: {e}")))?;
        let validity = tbs.validity();
        let san = tbs
            .extensions()
            .into_iter()
            .flatten()
            .find(|ext| ext.extn_id == ID_CE_SUBJECT_ALT_NAME)
            .map(|ext| san_fields_from_extension(ext.extn_value.as_bytes()))
            .unwrap_or_default();
        let base64 = armor::base64_encode(der);
        let cert_digest = armor::base64_encode(hex_lower(&Sha256::digest(base64.as_bytes())).as_bytes());
        Ok(Certificate {
            der: der.to_vec(),
            base64,
            cert_digest,
            issuer_name: format_name(tbs.issuer()),
            subject_name: format_name(tbs.subject()),
            subject_common_name: name_attribute(tbs.subject(), AT_COMMON_NAME),
            serial_decimal: unsigned_decimal(tbs.serial_number().as_bytes()),
            public_key_der,
            signature: cert.signature().raw_bytes().to_vec(),
            not_before_unix: unix_seconds(validity.not_before),
            not_after_unix: unix_seconds(validity.not_after),
            san,
        })
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// One-line standard base64 of the DER, no armour: the exact `ds:X509Certificate` text,
    /// and the input of [`Certificate::cert_digest`].
    pub fn base64(&self) -> &str {
        &self.base64
    }

    /// PEM text (`-----BEGIN CERTIFICATE-----`, 64-column lines).
    pub fn pem(&self) -> String {
        armor::pem_encode("CERTIFICATE", &self.der)
    }

    /// The `binarySecurityToken` form: base64 of [`Certificate::base64`].
    pub fn binary_security_token(&self) -> String {
        armor::base64_encode(self.base64.as_bytes())
    }

    /// Issuer DN for `ds:X509IssuerName`: RDNs most specific first, joined by `", "`, e.g.
    /// `CN=PRZEINVOICESCA4-CA, DC=extgazt, DC=gov, DC=local` (SPEC §7.2).
    pub fn issuer_name(&self) -> &str {
        &self.issuer_name
    }

    /// Serial number as an unsigned decimal integer, for `ds:X509SerialNumber`.
    pub fn serial_decimal(&self) -> &str {
        &self.serial_decimal
    }

    /// Subject DN, formatted like [`Certificate::issuer_name`].
    pub fn subject_name(&self) -> &str {
        &self.subject_name
    }

    /// The subject's common name (the EGS name, `TST-886431145-399999999900003`), if any.
    pub fn subject_common_name(&self) -> Option<&str> {
        self.subject_common_name.as_deref()
    }

    /// The subject public key as `SubjectPublicKeyInfo` DER (QR tag 8).
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    /// The subject public key for verifying invoice signatures; `unsupported_curve` when the
    /// certificate is not a secp256k1 one.
    ///
    /// Decoded on demand: a certificate on another curve still parses (it can be inspected and
    /// reported), and signing never needs the point, which keeps point decoding out of the
    /// WebAssembly signing module.
    pub fn verifying_key(&self) -> Result<VerifyingKey> {
        verifying_key_from_spki(&self.public_key_der)
            .map_err(|_| Error::new("unsupported_curve", "certificate key is not an EC secp256k1 key"))
    }

    /// The CA's signature over the certificate: the raw `signatureValue` bit-string bytes,
    /// a DER ECDSA signature for ZATCA CAs (QR tag 9).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Start of validity, Unix seconds.
    pub fn not_before_unix(&self) -> i64 {
        self.not_before_unix
    }

    /// End of validity, Unix seconds.
    pub fn not_after_unix(&self) -> i64 {
        self.not_after_unix
    }

    /// ZATCA CertDigest (`xades:CertDigest/ds:DigestValue`):
    /// `base64(lowercase_hex(SHA-256(ASCII of base64())))` — a hash of the base64 *text*, not of
    /// the DER, hex-encoded before base64 (SPEC §7.2). 88 characters.
    pub fn cert_digest(&self) -> &str {
        &self.cert_digest
    }

    /// Whether `key` is the private key of this certificate's public key.
    pub fn matches_key(&self, key: &PrivateKey) -> bool {
        // Compare encodings, never decode the certificate's point: that keeps point decoding
        // (square roots on the curve) out of the WebAssembly signing module. A certificate may
        // carry the uncompressed or the compressed form of the key.
        if key.public_key_der() == self.public_key_der {
            return true;
        }
        let point = key.verifying_key().to_sec1_point(true);
        self.public_key_der.strip_prefix(COMPRESSED_SPKI_PREFIX.as_slice()) == Some(point.as_bytes())
    }

    /// The ZATCA attributes of the `subjectAltName` directory name (EGS serial, VAT number,
    /// invoice types, location, industry). All `None` when the certificate has no such SAN.
    pub fn san_fields(&self) -> &SanFields {
        &self.san
    }
}

fn unix_seconds(time: x509_cert::time::Time) -> i64 {
    // x509-cert cannot represent times before 1970 or after 9999, so this never saturates.
    i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

/// Reads the ZATCA attributes of the first directory name in a DER `SubjectAltName`.
/// A SAN that does not decode yields empty fields rather than failing the whole certificate.
pub(crate) fn san_fields_from_extension(san_der: &[u8]) -> SanFields {
    let Ok(san) = SubjectAltName::from_der(san_der) else {
        return SanFields::default();
    };
    san.0
        .iter()
        .find_map(|name| match name {
            GeneralName::DirectoryName(dir) => Some(san_fields_from_name(dir)),
            _ => None,
        })
        .unwrap_or_default()
}

fn san_fields_from_name(name: &Name) -> SanFields {
    SanFields {
        serial_number: name_attribute(name, AT_SURNAME),
        organization_identifier: name_attribute(name, AT_UID),
        invoice_type: name_attribute(name, AT_TITLE),
        location_address: name_attribute(name, AT_REGISTERED_ADDRESS),
        industry_business_category: name_attribute(name, AT_BUSINESS_CATEGORY),
    }
}

/// The text of the first attribute `oid` in `name`, when it is a string type.
pub(crate) fn name_attribute(name: &Name, oid: ObjectIdentifier) -> Option<String> {
    name.iter()
        .find(|atv| atv.oid == oid)
        .and_then(|atv| attribute_text(&atv.value))
}

/// The text of a directory-string-like attribute value (UTF8String, PrintableString,
/// IA5String, TeletexString as Latin-1, BMPString); `None` for other types.
pub(crate) fn attribute_text(value: &Any) -> Option<String> {
    let bytes = value.value();
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::VisibleString | Tag::NumericString => {
            core::str::from_utf8(bytes).ok().map(str::to_owned)
        }
        // T.61 in theory; every CA that uses it in practice means Latin-1.
        Tag::TeletexString => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            if bytes.len() % 2 != 0 {
                return None;
            }
            let units = bytes
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes(<[u8; 2]>::try_from(pair).unwrap_or_default()));
            char::decode_utf16(units)
                .collect::<core::result::Result<String, _>>()
                .ok()
        }
        _ => None,
    }
}

/// Formats a DN the way the ZATCA SDK (Java's `X500Name.toString()`) does for
/// `ds:X509IssuerName`: RDNs most specific first joined by `", "`, multi-valued RDNs joined by
/// `" + "`, `KEY=value` with conventional short names, values holding DN syntax characters in
/// double quotes, non-string values as `#` + hex of their DER.
pub(crate) fn format_name(name: &Name) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let key = attribute_short_name(&atv.oid);
                    let value = match attribute_text(&atv.value) {
                        Some(text) => quote_dn_value(&text),
                        None => format!("#{}", hex_lower(&atv.value.to_der().unwrap_or_default())),
                    };
                    format!("{key}={value}")
                })
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .collect();
    // DER stores the least specific RDN first (DC=local, …); ZATCA wants the reverse.
    rdns.into_iter().rev().collect::<Vec<_>>().join(", ")
}

fn attribute_short_name(oid: &ObjectIdentifier) -> String {
    let name = match oid.to_string().as_str() {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "T",
        "2.5.4.42" => "GIVENNAME",
        "2.5.4.97" => "organizationIdentifier",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "E",
        other => return other.to_owned(),
    };
    name.to_owned()
}

/// Java's RFC 1779 quoting: a value with any of `, = + < > # ; \ "` or a newline, or with
/// leading/trailing spaces, is written in double quotes with `\` and `"` backslash-escaped.
fn quote_dn_value(value: &str) -> String {
    let special = value.chars().any(|c| ",=+<>#;\\\"\n".contains(c)) || value.starts_with(' ') || value.ends_with(' ');
    if !special {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Unsigned big-endian bytes as a decimal string (`"0"` for no bytes / all zeros).
///
/// Schoolbook conversion in base 10^9 limbs: certificate serials are at most ~21 bytes,
/// so a bignum crate would be overkill.
pub(crate) fn unsigned_decimal(be_bytes: &[u8]) -> String {
    const BASE: u64 = 1_000_000_000;
    // Little-endian limbs, each < BASE.
    let mut limbs: Vec<u64> = Vec::new();
    for &byte in be_bytes {
        // limbs = limbs * 256 + byte
        let mut carry = u64::from(byte);
        for limb in &mut limbs {
            let v = *limb * 256 + carry;
            *limb = v % BASE;
            carry = v / BASE;
        }
        while carry > 0 {
            limbs.push(carry % BASE);
            carry /= BASE;
        }
    }
    let mut out = String::new();
    let mut iter = limbs.iter().rev();
    match iter.next() {
        None => return "0".to_owned(),
        Some(top) => out.push_str(&top.to_string()),
    }
    for limb in iter {
        out.push_str(&format!("{limb:09}"));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    const CERT_B64: &str = include_str!("../../../tests/fixtures/samples/sdk-R3.4.8/Certificates/cert.pem");
    const CERT_PEM: &str = include_str!("../../../tests/fixtures/samples/sdk-R3.4.8/Certificates/cert.armored.pem");
    const SDK_KEY: &str =
        include_str!("../../../tests/fixtures/samples/sdk-R3.4.8/Certificates/ec-secp256k1-priv-key.pem");

    #[test]
    fn compressed_spki_prefix_names_a_secp256k1_key() {
        let key = PrivateKey::from_seed([9; 32]).unwrap_or_else(|e| panic!("{e}"));
        let point = key.verifying_key().to_sec1_point(true);
        let spki = [COMPRESSED_SPKI_PREFIX.as_slice(), point.as_bytes()].concat();
        let decoded = verifying_key_from_spki(&spki).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(decoded, key.verifying_key());
    }

    #[test]
    fn sdk_certificate_fields() {
        let cert = Certificate::parse(CERT_B64).unwrap();
        assert_eq!(cert.base64(), CERT_B64.trim());
        assert_eq!(
            cert.issuer_name(),
            "CN=PRZEINVOICESCA4-CA, DC=extgazt, DC=gov, DC=local"
        );
        assert_eq!(cert.serial_decimal(), "379112742831380471835263969587287663520528387");
        assert_eq!(
            cert.cert_digest(),
            "ZDMwMmI0MTE1NzVjOTU2NTk4YzVlODhhYmI0ODU2NDUyNTU2YTVhYjhhMDFmN2FjYjk1YTA2OWQ0NjY2MjQ4NQ=="
        );
        assert_eq!(
            cert.subject_name(),
            "CN=TST-886431145-399999999900003, OU=Riyadh Branch, O=Maximum Speed Tech Supply LTD, C=SA"
        );
        assert_eq!(cert.subject_common_name(), Some("TST-886431145-399999999900003"));
        assert_eq!(cert.public_key_der().len(), 88);
        // signatureValue BIT STRING is 72 bytes with the unused-bits octet; 71 without.
        assert_eq!(cert.signature().len(), 71);
        assert!(
            cert.signature()
                .starts_with(&[0x30, 0x45, 0x02, 0x21, 0x00, 0xb1, 0x3f])
        );
        assert!(cert.signature().ends_with(&[0x2f, 0xeb, 0x5c]));
        // 2024-01-11T09:19:30Z .. 2029-01-09T09:19:30Z
        assert_eq!(cert.not_before_unix(), 1_704_964_770);
        assert_eq!(cert.not_after_unix(), 1_862_644_770);
        assert!(cert.verifying_key().is_ok());
        let san = cert.san_fields();
        assert_eq!(
            san.serial_number.as_deref(),
            Some("1-TST|2-TST|3-ed22f1d8-e6a2-1118-9b58-d9a8f11e445f")
        );
        assert_eq!(san.organization_identifier.as_deref(), Some("399999999900003"));
        assert_eq!(san.invoice_type.as_deref(), Some("1100"));
        assert_eq!(san.location_address.as_deref(), Some("RRRD2929"));
        assert_eq!(san.industry_business_category.as_deref(), Some("Supply activities"));
    }

    #[test]
    fn all_input_forms_agree() {
        let bare = Certificate::parse(CERT_B64).unwrap();
        let pem = Certificate::parse(CERT_PEM).unwrap();
        assert_eq!(bare, pem);
        assert_eq!(bare.pem(), CERT_PEM);
        let token = bare.binary_security_token();
        assert!(token.starts_with("TUlJ"));
        assert_eq!(Certificate::from_binary_security_token(&token).unwrap(), bare);
        assert_eq!(Certificate::parse(&token).unwrap(), bare);
        assert_eq!(Certificate::from_der(bare.der()).unwrap(), bare);
        // Multi-line bare base64 (the PEM body without armour).
        let body: String = CERT_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(Certificate::parse(&body).unwrap(), bare);
    }

    #[test]
    fn sdk_key_matches_sdk_cert() {
        let cert = Certificate::parse(CERT_B64).unwrap();
        let key = PrivateKey::parse(SDK_KEY).unwrap();
        assert!(cert.matches_key(&key));
        assert_eq!(cert.public_key_der(), key.public_key_der().as_slice());
        let other = PrivateKey::from_seed([1u8; 32]).unwrap();
        assert!(!cert.matches_key(&other));
    }

    #[test]
    fn decimal_conversion() {
        assert_eq!(unsigned_decimal(&[]), "0");
        assert_eq!(unsigned_decimal(&[0, 0]), "0");
        assert_eq!(unsigned_decimal(&[0xff]), "255");
        assert_eq!(unsigned_decimal(&[0x00, 0x01, 0x00]), "256");
        assert_eq!(unsigned_decimal(&[0x3b, 0x9a, 0xca, 0x00]), "1000000000");
        for v in [
            1u128,
            999_999_999,
            1_000_000_001,
            u64::MAX as u128,
            u128::MAX,
            10u128.pow(36) + 7,
        ] {
            assert_eq!(unsigned_decimal(&v.to_be_bytes()), v.to_string());
        }
    }

    #[test]
    fn dn_quoting() {
        assert_eq!(quote_dn_value("plain value"), "plain value");
        assert_eq!(quote_dn_value("a, b"), "\"a, b\"");
        assert_eq!(quote_dn_value("say \"hi\""), "\"say \\\"hi\\\"\"");
    }

    #[test]
    fn garbage_never_panics() {
        for input in [
            "",
            "   ",
            "MAA=",
            "TUFBPQ==",
            "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----",
            "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----",
            "not base64 at all!",
        ] {
            assert_eq!(
                Certificate::parse(input).unwrap_err().code(),
                "invalid_certificate",
                "{input}"
            );
            assert!(Certificate::from_binary_security_token(input).is_err());
        }
        let der = Certificate::parse(CERT_B64).unwrap().der().to_vec();
        for i in 0..der.len() {
            let _ = Certificate::from_der(&der[..i]);
            let mut bad = der.clone();
            bad[i] ^= 0xa5;
            if let Ok(cert) = Certificate::from_der(&bad) {
                // Whatever parses must still give well-formed derived strings.
                assert!(!cert.serial_decimal().is_empty());
                assert_eq!(cert.cert_digest().len(), 88);
            }
        }
    }
}
