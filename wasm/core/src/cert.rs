//! X.509 CSID certificates: parsed once into the exact strings ZATCA's signature, QR and API
//! need (one-line base64, CertDigest, issuer name, decimal serial, CA signature, SAN fields).

use der::Encode;
use der::asn1::{Any, ObjectIdentifier};
use k256::ecdsa::VerifyingKey;
use serde::Serialize;
use x509_cert::name::Name;

use crate::error::{Code, Error, Result};
use crate::keys::{COMPRESSED_SPKI_PREFIX, PrivateKey, verifying_key_from_spki};
use crate::prim::asn1::{self, Reader, Tlv};
use crate::prim::text::{armor, hex_lower};

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
                Code::InvalidCertificate,
                format!("expected a CERTIFICATE PEM block, found {label}"),
            )),
            // DER always starts with a SEQUENCE tag; base64 text of DER starts with `MI`.
            Some(armor::Decoded::Raw(bytes)) if bytes.first() == Some(&0x30) => Self::from_der(&bytes),
            Some(armor::Decoded::Raw(bytes)) if bytes.starts_with(b"MI") => Self::from_base64_text(&bytes),
            _ => Err(Error::new(
                Code::InvalidCertificate,
                "certificate is neither PEM nor base64 DER",
            )),
        }
    }

    /// Decodes a ZATCA CSID `binarySecurityToken` (SPEC §10.4): base64 of the certificate's
    /// base64-DER text. The token itself is what goes into the API's Basic auth, verbatim.
    pub fn from_binary_security_token(token: &str) -> Result<Self> {
        let inner = armor::base64_decode(token)
            .ok_or_else(|| Error::new(Code::InvalidCertificate, "binarySecurityToken is not base64"))?;
        Self::from_base64_text(&inner)
    }

    fn from_base64_text(bytes: &[u8]) -> Result<Self> {
        let text = core::str::from_utf8(bytes).map_err(|_| {
            Error::new(
                Code::InvalidCertificate,
                "binarySecurityToken does not hold base64 text",
            )
        })?;
        let der = armor::base64_decode(text).ok_or_else(|| {
            Error::new(
                Code::InvalidCertificate,
                "binarySecurityToken does not hold base64 text",
            )
        })?;
        Self::from_der(&der)
    }

    /// Parses a DER certificate.
    ///
    /// Read with the small DER reader of [`crate::prim::asn1`] rather than `x509-cert`: the signing
    /// WebAssembly module parses a certificate for every signer, and a full X.509 decoder
    /// would be a fifth of its size. The structure is checked as strictly as `x509-cert` does
    /// for every field this type exposes.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let parts = parse_der(der).map_err(|what| {
            let mut message = String::from("malformed X.509 certificate: ");
            message.push_str(what);
            Error::new(Code::InvalidCertificate, message)
        })?;
        let base64 = armor::base64_encode(der);
        let cert_digest = crate::xades::hex_base64_digest(base64.as_bytes());
        Ok(Certificate {
            der: der.to_vec(),
            base64,
            cert_digest,
            issuer_name: format_rdns(&parts.issuer),
            subject_name: format_rdns(&parts.subject),
            subject_common_name: rdns_attribute(&parts.subject, AT_COMMON_NAME.as_bytes()),
            serial_decimal: unsigned_decimal(parts.serial),
            public_key_der: parts.public_key_der.to_vec(),
            signature: parts.signature.to_vec(),
            not_before_unix: parts.not_before,
            not_after_unix: parts.not_after,
            // No subjectAltName: every SAN field is absent (`None`), as for a SAN without them.
            san: parts.san.map_or_else(SanFields::default, san_fields_from_extension),
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
            .map_err(|_| Error::new(Code::UnsupportedCurve, "certificate key is not an EC secp256k1 key"))
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

/// One attribute of a `Name`: the index of its RDN, its type (OID contents) and its value.
struct Atv<'a> {
    rdn: usize,
    oid: &'a [u8],
    value: Tlv<'a>,
}

/// A `Name` (`SEQUENCE OF RelativeDistinguishedName`): its attributes in encoding order, and
/// the number of RDNs.
struct Rdns<'a> {
    atvs: Vec<Atv<'a>>,
    count: usize,
}

/// The fields of a certificate that [`Certificate`] keeps, borrowed from its DER.
struct CertificateParts<'a> {
    serial: &'a [u8],
    issuer: Rdns<'a>,
    subject: Rdns<'a>,
    not_before: i64,
    not_after: i64,
    public_key_der: &'a [u8],
    /// The contents of the first `subjectAltName` extension.
    san: Option<&'a [u8]>,
    signature: &'a [u8],
}

/// Reads a DER X.509 certificate (RFC 5280 §4.1); the error names the part that is malformed.
///
/// ```text
/// Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
/// TBSCertificate ::= SEQUENCE { version [0] EXPLICIT DEFAULT v1, serialNumber INTEGER,
///     signature AlgorithmIdentifier, issuer Name, validity Validity, subject Name,
///     subjectPublicKeyInfo, issuerUniqueID [1] IMPLICIT OPTIONAL,
///     subjectUniqueID [2] IMPLICIT OPTIONAL, extensions [3] EXPLICIT OPTIONAL }
/// ```
fn parse_der(der: &[u8]) -> core::result::Result<CertificateParts<'_>, &'static str> {
    let mut cert = Reader::new(asn1::single(der, asn1::SEQUENCE).ok_or("not one complete DER SEQUENCE")?);
    let mut tbs = Reader::new(cert.read(asn1::SEQUENCE).ok_or("tbsCertificate")?);
    algorithm_identifier(cert.read(asn1::SEQUENCE)).ok_or("signatureAlgorithm")?;
    let signature = cert
        .read(asn1::BIT_STRING)
        .and_then(asn1::bit_string)
        .ok_or("signatureValue")?
        .0;
    cert.finish().ok_or("trailing data")?;

    if let Some(explicit) = tbs.optional(asn1::context(0, true)).ok_or("version")? {
        // v1(0), v2(1) or v3(2).
        asn1::single(explicit, asn1::INTEGER)
            .and_then(asn1::small_uint)
            .filter(|v| *v <= 2)
            .ok_or("version")?;
    }
    let serial = tbs
        .read(asn1::INTEGER)
        .and_then(asn1::integer)
        // x509-cert's limit: 20 octets, plus one for implementations that count the value only.
        .filter(|serial| serial.len() <= 21)
        .ok_or("serialNumber")?;
    algorithm_identifier(tbs.read(asn1::SEQUENCE)).ok_or("signature algorithm")?;
    let issuer = tbs.read(asn1::SEQUENCE).and_then(rdns).ok_or("issuer")?;
    let (not_before, not_after) = tbs.read(asn1::SEQUENCE).and_then(validity).ok_or("validity")?;
    let subject = tbs.read(asn1::SEQUENCE).and_then(rdns).ok_or("subject")?;
    let public_key_der = tbs
        .any()
        .filter(|spki| spki.tag == asn1::SEQUENCE && subject_public_key_info(spki.value).is_some())
        .ok_or("subjectPublicKeyInfo")?
        .raw;
    for (number, what) in [(1, "issuerUniqueID"), (2, "subjectUniqueID")] {
        if let Some(id) = tbs.optional(asn1::context(number, false)).ok_or(what)? {
            asn1::bit_string(id).ok_or(what)?;
        }
    }
    let san = match tbs.optional(asn1::context(3, true)).ok_or("extensions")? {
        Some(explicit) => asn1::single(explicit, asn1::SEQUENCE)
            .and_then(extensions)
            .ok_or("extensions")?,
        None => None,
    };
    tbs.finish().ok_or("tbsCertificate")?;
    Ok(CertificateParts {
        serial,
        issuer,
        subject,
        not_before,
        not_after,
        public_key_der,
        san,
        signature,
    })
}

/// `AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }`.
fn algorithm_identifier(contents: Option<&[u8]>) -> Option<()> {
    let mut reader = Reader::new(contents?);
    asn1::oid(reader.read(asn1::OID)?)?;
    if !reader.is_empty() {
        reader.any()?;
    }
    reader.finish()
}

/// `SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }`.
fn subject_public_key_info(contents: &[u8]) -> Option<()> {
    let mut reader = Reader::new(contents);
    algorithm_identifier(reader.read(asn1::SEQUENCE))?;
    asn1::bit_string(reader.read(asn1::BIT_STRING)?)?;
    reader.finish()
}

/// `Validity ::= SEQUENCE { notBefore Time, notAfter Time }` as Unix seconds.
fn validity(contents: &[u8]) -> Option<(i64, i64)> {
    let mut reader = Reader::new(contents);
    let mut time = || reader.any().and_then(|t| asn1::unix_time(t.tag, t.value));
    let times = (time()?, time()?);
    reader.finish()?;
    Some(times)
}

/// `Extensions ::= SEQUENCE OF SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT
/// FALSE, extnValue OCTET STRING }`: checks every extension and returns the contents of the
/// first `subjectAltName`.
fn extensions(contents: &[u8]) -> Option<Option<&[u8]>> {
    let mut san = None;
    for ext in asn1::elements(contents)? {
        if ext.tag != asn1::SEQUENCE {
            return None;
        }
        let mut reader = Reader::new(ext.value);
        let id = asn1::oid(reader.read(asn1::OID)?)?;
        if let Some(critical) = reader.optional(asn1::BOOLEAN)? {
            if !matches!(critical, [0x00] | [0xff]) {
                return None;
            }
        }
        let value = reader.read(asn1::OCTET_STRING)?;
        reader.finish()?;
        if san.is_none() && id == ID_CE_SUBJECT_ALT_NAME.as_bytes() {
            san = Some(value);
        }
    }
    Some(san)
}

/// Reads the RDNs of a `Name` given as its contents; `None` unless every attribute is a
/// `SEQUENCE { type OBJECT IDENTIFIER, value ANY }` inside a `SET`.
fn rdns(contents: &[u8]) -> Option<Rdns<'_>> {
    let mut atvs = Vec::new();
    let mut count = 0;
    let mut name = Reader::new(contents);
    while !name.is_empty() {
        let mut rdn = Reader::new(name.read(asn1::SET)?);
        while !rdn.is_empty() {
            let mut atv = Reader::new(rdn.read(asn1::SEQUENCE)?);
            let oid = asn1::oid(atv.read(asn1::OID)?)?;
            let value = atv.any()?;
            atv.finish()?;
            atvs.push(Atv { rdn: count, oid, value });
        }
        count += 1;
    }
    Some(Rdns { atvs, count })
}

/// The text of the first attribute `oid` (OID contents) in the RDNs, when it is a string type.
fn rdns_attribute(rdns: &Rdns<'_>, oid: &[u8]) -> Option<String> {
    let atv = rdns.atvs.iter().find(|atv| atv.oid == oid)?;
    string_value(atv.value.tag, atv.value.value)
}

/// Reads the ZATCA attributes of the first directory name in a DER `SubjectAltName`.
/// A SAN that does not decode yields empty fields rather than failing the whole certificate.
pub(crate) fn san_fields_from_extension(san_der: &[u8]) -> SanFields {
    let directory_name = asn1::single(san_der, asn1::SEQUENCE)
        .and_then(asn1::elements)
        .and_then(|names| names.into_iter().find(|name| name.tag == asn1::context(4, true)))
        .and_then(|name| asn1::single(name.value, asn1::SEQUENCE))
        .and_then(rdns);
    let Some(name) = directory_name else {
        return SanFields::default();
    };
    SanFields {
        serial_number: rdns_attribute(&name, AT_SURNAME.as_bytes()),
        organization_identifier: rdns_attribute(&name, AT_UID.as_bytes()),
        invoice_type: rdns_attribute(&name, AT_TITLE.as_bytes()),
        location_address: rdns_attribute(&name, AT_REGISTERED_ADDRESS.as_bytes()),
        industry_business_category: rdns_attribute(&name, AT_BUSINESS_CATEGORY.as_bytes()),
    }
}

/// The text of the first attribute `oid` in `name`, when it is a string type (CSR parsing).
pub(crate) fn name_attribute(name: &Name, oid: ObjectIdentifier) -> Option<String> {
    let der = name.to_der().ok()?;
    let rdns = asn1::single(&der, asn1::SEQUENCE).and_then(rdns)?;
    rdns_attribute(&rdns, oid.as_bytes())
}

/// The text of a directory-string-like attribute value; see [`string_value`] (CSR parsing).
pub(crate) fn attribute_text(value: &Any) -> Option<String> {
    let der = value.to_der().ok()?;
    let tlv = Reader::new(&der).any()?;
    string_value(tlv.tag, tlv.value)
}

/// The text of a directory-string-like value (UTF8String, PrintableString, IA5String,
/// VisibleString, NumericString, TeletexString as Latin-1, BMPString); `None` for other types.
fn string_value(tag: u8, bytes: &[u8]) -> Option<String> {
    match tag {
        asn1::UTF8_STRING | asn1::PRINTABLE_STRING | asn1::IA5_STRING | asn1::VISIBLE_STRING | asn1::NUMERIC_STRING => {
            core::str::from_utf8(bytes).ok().map(str::to_owned)
        }
        // T.61 in theory; every CA that uses it in practice means Latin-1.
        asn1::TELETEX_STRING => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        asn1::BMP_STRING => {
            if bytes.len() % 2 != 0 {
                return None;
            }
            // Big-endian UTF-16 code units.
            let units = bytes
                .chunks_exact(2)
                .map(|pair| pair.iter().fold(0u16, |unit, &b| (unit << 8) | u16::from(b)));
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
fn format_rdns(rdns: &Rdns<'_>) -> String {
    let mut out = String::new();
    // DER stores the least specific RDN first (DC=local, …); ZATCA wants the reverse.
    for rdn in (0..rdns.count).rev() {
        if rdn + 1 < rdns.count {
            out.push_str(", ");
        }
        let mut first = true;
        for atv in rdns.atvs.iter().filter(|atv| atv.rdn == rdn) {
            if !first {
                out.push_str(" + ");
            }
            first = false;
            match attribute_short_name(atv.oid) {
                Some(name) => out.push_str(name),
                None => out.push_str(&asn1::oid_string(atv.oid)),
            }
            out.push('=');
            match string_value(atv.value.tag, atv.value.value) {
                Some(text) => out.push_str(&quote_dn_value(&text)),
                None => {
                    out.push('#');
                    out.push_str(&hex_lower(atv.value.raw));
                }
            }
        }
    }
    out
}

/// The conventional short name of an attribute type (OID contents), as Java prints it.
fn attribute_short_name(oid: &[u8]) -> Option<&'static str> {
    const X520: [(u8, &str); 12] = [
        (3, "CN"),
        (4, "SN"),
        (5, "SERIALNUMBER"),
        (6, "C"),
        (7, "L"),
        (8, "ST"),
        (9, "STREET"),
        (10, "O"),
        (11, "OU"),
        (12, "T"),
        (42, "GIVENNAME"),
        (97, "organizationIdentifier"),
    ];
    match oid {
        // 2.5.4.n
        [0x55, 0x04, n] => X520.iter().find(|(k, _)| k == n).map(|(_, name)| *name),
        // 0.9.2342.19200300.100.1.1 / .25
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => Some("UID"),
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => Some("DC"),
        // 1.2.840.113549.1.9.1
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => Some("E"),
        _ => None,
    }
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

    /// Issuer, subject, CN, serial, SPKI, signature, validity and SAN fields.
    type Fields = (
        String,
        String,
        Option<String>,
        String,
        Vec<u8>,
        Vec<u8>,
        i64,
        i64,
        SanFields,
    );

    /// What `x509-cert` makes of a certificate: the fields [`Certificate`] keeps.
    fn x509_cert_fields(der: &[u8]) -> Option<Fields> {
        use der::Decode;
        use x509_cert::ext::pkix::SubjectAltName;
        use x509_cert::ext::pkix::name::GeneralName;
        let cert = x509_cert::Certificate::from_der(der).ok()?;
        let tbs = cert.tbs_certificate();
        let name_text = |name: &Name, oid: ObjectIdentifier| {
            name.iter()
                .find(|atv| atv.oid == oid)
                .and_then(|atv| attribute_text(&atv.value))
        };
        let format = |name: &Name| {
            let rdns: Vec<String> = name
                .iter_rdn()
                .map(|rdn| {
                    rdn.iter()
                        .map(|atv| {
                            let oid = atv.oid.to_string();
                            let key = attribute_short_name(atv.oid.as_bytes()).unwrap_or(&oid);
                            let value = match attribute_text(&atv.value) {
                                Some(text) => quote_dn_value(&text),
                                None => format!("#{}", hex_lower(&atv.value.to_der().unwrap())),
                            };
                            format!("{key}={value}")
                        })
                        .collect::<Vec<_>>()
                        .join(" + ")
                })
                .collect();
            rdns.into_iter().rev().collect::<Vec<_>>().join(", ")
        };
        let san = tbs
            .extensions()
            .into_iter()
            .flatten()
            .find(|ext| ext.extn_id == ID_CE_SUBJECT_ALT_NAME)
            .and_then(|ext| SubjectAltName::from_der(ext.extn_value.as_bytes()).ok())
            .and_then(|san| {
                san.0.iter().find_map(|name| match name {
                    GeneralName::DirectoryName(dir) => Some(SanFields {
                        serial_number: name_text(dir, AT_SURNAME),
                        organization_identifier: name_text(dir, AT_UID),
                        invoice_type: name_text(dir, AT_TITLE),
                        location_address: name_text(dir, AT_REGISTERED_ADDRESS),
                        industry_business_category: name_text(dir, AT_BUSINESS_CATEGORY),
                    }),
                    _ => None,
                })
            })
            .unwrap_or_else(SanFields::default);
        let unix = |t: x509_cert::time::Time| i64::try_from(t.to_unix_duration().as_secs()).unwrap();
        Some((
            format(tbs.issuer()),
            format(tbs.subject()),
            name_text(tbs.subject(), AT_COMMON_NAME),
            unsigned_decimal(tbs.serial_number().as_bytes()),
            tbs.subject_public_key_info().to_der().unwrap(),
            cert.signature().raw_bytes().to_vec(),
            unix(tbs.validity().not_before),
            unix(tbs.validity().not_after),
            san,
        ))
    }

    fn fields(cert: &Certificate) -> Fields {
        (
            cert.issuer_name().to_owned(),
            cert.subject_name().to_owned(),
            cert.subject_common_name().map(str::to_owned),
            cert.serial_decimal().to_owned(),
            cert.public_key_der().to_vec(),
            cert.signature().to_vec(),
            cert.not_before_unix(),
            cert.not_after_unix(),
            cert.san_fields().clone(),
        )
    }

    #[test]
    fn der_reader_agrees_with_x509_cert() {
        let der = Certificate::parse(CERT_B64).unwrap().der().to_vec();
        let mut both = 0;
        let mut disagreements = Vec::new();
        let mut check = |bytes: &[u8], what: String| {
            let reference = x509_cert_fields(bytes);
            match (Certificate::from_der(bytes), reference) {
                (Ok(cert), Some(reference)) => {
                    assert_eq!(fields(&cert), reference, "{what}");
                    both += 1;
                }
                (Err(_), None) => {}
                (ours, _) => disagreements.push(format!("{what}: ours ok = {}", ours.is_ok())),
            }
        };
        check(&der, "sdk certificate".to_owned());
        for i in 0..der.len() {
            check(&der[..i], format!("truncated at {i}"));
            for flip in [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xa5, 0xff] {
                let mut bad = der.clone();
                bad[i] ^= flip;
                check(&bad, format!("byte {i} ^ {flip:#x}"));
            }
        }
        assert!(both > 100, "only {both} corruptions parsed");
        assert!(
            disagreements.is_empty(),
            "{} disagreements: {disagreements:#?}",
            disagreements.len()
        );
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
