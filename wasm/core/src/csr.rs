//! Onboarding CSRs (SPEC §9.2): the EGS configuration, its validation, building the PKCS#10
//! request ZATCA's `/compliance` endpoint wants, and parsing one back (for the simulator's CA).

use core::fmt;
use core::str::FromStr;

use der::asn1::{Any, BitString, ObjectIdentifier, OctetString, PrintableStringRef, SetOfVec, Utf8StringRef};
use der::{Decode, Encode, Header, Reader, SliceReader, Tag};
use k256::ecdsa::signature::Signer;
use k256::ecdsa::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use x509_cert::attr::{Attribute, AttributeTypeAndValue};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::request::{CertReq, CertReqInfo, ExtensionReq, Version};
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::cert::{
    AT_BUSINESS_CATEGORY, AT_COMMON_NAME, AT_COUNTRY, AT_ORGANIZATION, AT_ORGANIZATIONAL_UNIT, AT_REGISTERED_ADDRESS,
    AT_SURNAME, AT_TITLE, AT_UID, ID_CE_SUBJECT_ALT_NAME, SanFields, attribute_text, name_attribute,
    san_fields_from_extension,
};
use crate::error::{Code, Error, Issue, Result};
use crate::keys::{PrivateKey, verify_sha256_der, verifying_key_from_spki};
use crate::prim::text::armor;

/// `ecdsa-with-SHA256` (RFC 5758), parameters absent.
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// PKCS#9 `extensionRequest`.
const ID_EXTENSION_REQ: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.14");
/// Microsoft `szOID_ENROLL_CERTTYPE_EXTENSION` (certificateTemplateName): ZATCA's CA (AD CS)
/// picks the issuing template from it.
const MS_CERTIFICATE_TEMPLATE_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.20.2");

/// Characters ZATCA onboarding tooling is reported to reject in CSR fields (SPEC §9.2, from
/// `[mhg]`; the reason is undocumented). Rejecting them early costs a rename; letting them
/// through may cost a refused CSR and a spent one-hour OTP.
const FORBIDDEN_CHARACTERS: &str = "!@#$%&*_<=";

/// X.520 upper bound for CN, O and OU; AD CS (ZATCA's CA) enforces it by default
/// (`EnforceX500NameLengths`).
const MAX_NAME_CHARS: usize = 64;

/// The EGS unit's CSR configuration: the SDK's `csr-config.properties` fields, snake_case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsrConfig {
    /// Subject CN: the EGS unit name, e.g. `TST-886431145-399999999900003`.
    pub common_name: String,
    /// SAN `SN`: EGS serial `1-<solution name>|2-<model or version>|3-<device serial>`.
    pub serial_number: String,
    /// SAN `UID`: VAT registration number, 15 digits starting and ending with 3 (for a VAT
    /// group, the group number, whose 11th digit is 1).
    pub organization_identifier: String,
    /// Subject OU: branch name; for a VAT group member, its 10-digit TIN.
    pub organization_unit: String,
    /// Subject O: taxpayer name.
    pub organization_name: String,
    /// Subject C: ISO 3166-1 alpha-2 country code, `SA`.
    pub country: String,
    /// SAN `title`: four 0/1 flags — standard, simplified, two reserved. `1100`, `1000`, `0100`.
    pub invoice_type: String,
    /// SAN `registeredAddress`: branch location (short national address).
    pub location_address: String,
    /// SAN `businessCategory`: industry / business category.
    pub industry_business_category: String,
}

/// `(properties key, JSON field name)` in the SDK template's order.
const PROPERTY_KEYS: [(&str, &str); 9] = [
    ("csr.common.name", "common_name"),
    ("csr.serial.number", "serial_number"),
    ("csr.organization.identifier", "organization_identifier"),
    ("csr.organization.unit.name", "organization_unit"),
    ("csr.organization.name", "organization_name"),
    ("csr.country.name", "country"),
    ("csr.invoice.type", "invoice_type"),
    ("csr.location.address", "location_address"),
    ("csr.industry.business.category", "industry_business_category"),
];

impl CsrConfig {
    fn fields(&self) -> [(&'static str, &str); 9] {
        [
            ("common_name", &self.common_name),
            ("serial_number", &self.serial_number),
            ("organization_identifier", &self.organization_identifier),
            ("organization_unit", &self.organization_unit),
            ("organization_name", &self.organization_name),
            ("country", &self.country),
            ("invoice_type", &self.invoice_type),
            ("location_address", &self.location_address),
            ("industry_business_category", &self.industry_business_category),
        ]
    }

    fn field_mut(&mut self, name: &str) -> Option<&mut String> {
        Some(match name {
            "common_name" => &mut self.common_name,
            "serial_number" => &mut self.serial_number,
            "organization_identifier" => &mut self.organization_identifier,
            "organization_unit" => &mut self.organization_unit,
            "organization_name" => &mut self.organization_name,
            "country" => &mut self.country,
            "invoice_type" => &mut self.invoice_type,
            "location_address" => &mut self.location_address,
            "industry_business_category" => &mut self.industry_business_category,
            _ => return None,
        })
    }

    /// Parses the ZATCA SDK's `csr-config.properties` format (`csr.common.name=…` lines; `#`/`!`
    /// comments; `=` or `:` separator; values trimmed; `\uXXXX` and backslash escapes as in Java
    /// properties; UTF-8 text such as Arabic names taken as is). All nine keys are required
    /// (values may be empty here — [`CsrConfig::validate`] reports those); unknown or repeated
    /// keys are errors. Every problem is reported at once, code `invalid_csr_config`.
    pub fn from_sdk_properties(text: &str) -> Result<Self> {
        let mut config = CsrConfig::empty();
        let mut seen = [false; PROPERTY_KEYS.len()];
        let mut issues = Vec::new();
        for (number, raw_line) in text.lines().enumerate() {
            let line = raw_line.trim_start_matches('\u{feff}').trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let Some((key, value)) = line.split_once(['=', ':']) else {
                issues.push(
                    Issue::error(
                        Code::InvalidCsrConfig,
                        format!("line {} has no '=': {line}", number + 1),
                    )
                    .at(format!("line {}", number + 1)),
                );
                continue;
            };
            let key = key.trim();
            let Some((index, (_, field))) = PROPERTY_KEYS.iter().enumerate().find(|(_, (k, _))| *k == key) else {
                issues.push(Issue::error(Code::InvalidCsrConfig, format!("unknown key {key}")).at(key));
                continue;
            };
            if seen.get(index).copied().unwrap_or(false) {
                issues.push(Issue::error(Code::InvalidCsrConfig, format!("key {key} is repeated")).at(*field));
                continue;
            }
            if let Some(flag) = seen.get_mut(index) {
                *flag = true;
            }
            match (unescape_property(value.trim()), config.field_mut(field)) {
                (Some(value), Some(slot)) => *slot = value,
                _ => issues
                    .push(Issue::error(Code::InvalidCsrConfig, format!("bad escape sequence in {key}")).at(*field)),
            }
        }
        for ((key, field), seen) in PROPERTY_KEYS.iter().zip(seen) {
            if !seen {
                issues.push(Issue::error(Code::InvalidCsrConfig, format!("missing key {key}")).at(*field));
            }
        }
        if issues.is_empty() {
            Ok(config)
        } else {
            Err(Error::from_issues(issues))
        }
    }

    /// Writes the SDK's `csr-config.properties` format (UTF-8, as the SDK's own examples are),
    /// which [`CsrConfig::from_sdk_properties`] reads back to the same config.
    pub fn to_sdk_properties(&self) -> String {
        let mut out = String::new();
        for ((key, _), (_, value)) in PROPERTY_KEYS.iter().zip(self.fields()) {
            out.push_str(key);
            out.push('=');
            for c in value.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c => out.push(c),
                }
            }
            out.push('\n');
        }
        out
    }

    fn empty() -> Self {
        CsrConfig {
            common_name: String::new(),
            serial_number: String::new(),
            organization_identifier: String::new(),
            organization_unit: String::new(),
            organization_name: String::new(),
            country: String::new(),
            invoice_type: String::new(),
            location_address: String::new(),
            industry_business_category: String::new(),
        }
    }

    /// Checks the config against ZATCA's rules and returns every problem at once, each issue
    /// with the field name as its path. Codes: `required_field`, `forbidden_character`,
    /// `field_too_long`, `invalid_vat_number`, `invalid_group_member_tin`, `invalid_invoice_type`,
    /// `invalid_country_code`, `invalid_egs_serial`.
    pub fn validate(&self) -> Result<()> {
        let mut issues = Vec::new();
        for (field, value) in self.fields() {
            if value.trim().is_empty() {
                issues.push(Issue::error(Code::RequiredField, "must not be empty").at(field));
                continue;
            }
            if let Some(c) = value
                .chars()
                .find(|c| FORBIDDEN_CHARACTERS.contains(*c) || c.is_control())
            {
                let shown = if c.is_control() {
                    format!("{:?}", c)
                } else {
                    format!("'{c}'")
                };
                issues.push(
                    Issue::error(
                        Code::ForbiddenCharacter,
                        format!("contains {shown}; ZATCA tooling rejects ! @ # $ % & * _ < = and control characters"),
                    )
                    .at(field),
                );
            }
            let limited = matches!(field, "common_name" | "organization_name" | "organization_unit");
            if limited && value.chars().count() > MAX_NAME_CHARS {
                issues.push(
                    Issue::error(Code::FieldTooLong, format!("longer than {MAX_NAME_CHARS} characters")).at(field),
                );
            }
        }

        let vat = self.organization_identifier.as_str();
        let vat_ok = vat.len() == 15 && is_digits(vat) && vat.starts_with('3') && vat.ends_with('3');
        if !vat.is_empty() && !vat_ok {
            issues.push(
                Issue::error(Code::InvalidVatNumber, "must be 15 digits starting and ending with 3")
                    .at("organization_identifier"),
            );
        }
        // VAT group (11th digit 1): the OU carries the member's 10-digit TIN (SPEC §9.2).
        let unit = self.organization_unit.as_str();
        if vat_ok && vat.as_bytes().get(10) == Some(&b'1') && !(unit.len() == 10 && is_digits(unit)) {
            issues.push(
                Issue::error(
                    Code::InvalidGroupMemberTin,
                    "for a VAT group (11th digit of the VAT number is 1) this must be the member's 10-digit TIN",
                )
                .at("organization_unit"),
            );
        }

        let kinds = self.invoice_type.as_bytes();
        let kinds_ok = kinds.len() == 4
            && kinds.iter().all(|b| matches!(b, b'0' | b'1'))
            && kinds.iter().take(2).any(|b| *b == b'1');
        if !kinds.is_empty() && !kinds_ok {
            issues.push(
                Issue::error(
                    Code::InvalidInvoiceType,
                    "must be 4 digits of 0/1 enabling standard and/or simplified: 1100, 1000 or 0100",
                )
                .at("invoice_type"),
            );
        }

        let country = self.country.as_str();
        let country_ok = country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase());
        if !country.is_empty() && !country_ok {
            issues.push(
                Issue::error(
                    Code::InvalidCountryCode,
                    "must be an ISO 3166-1 alpha-2 code such as SA",
                )
                .at("country"),
            );
        }

        if !self.serial_number.trim().is_empty() && !is_egs_serial(&self.serial_number) {
            issues.push(
                Issue::error(
                    Code::InvalidEgsSerial,
                    "must have the form 1-<solution name>|2-<model or version>|3-<device serial>",
                )
                .at("serial_number"),
            );
        }

        if issues.is_empty() {
            Ok(())
        } else {
            Err(Error::from_issues(issues))
        }
    }
}

fn is_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// `1-…|2-…|3-…` with three non-blank parts.
fn is_egs_serial(s: &str) -> bool {
    let mut parts = s.split('|');
    let ok = ["1-", "2-", "3-"].iter().all(|prefix| {
        parts
            .next()
            .and_then(|part| part.strip_prefix(prefix))
            .is_some_and(|rest| !rest.trim().is_empty())
    });
    ok && parts.next().is_none()
}

/// Java-properties value escapes: `\uXXXX`, `\t`, `\n`, `\r`, `\f`, and `\x` → `x`.
fn unescape_property(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16).ok().filter(|_| hex.len() == 4)?;
                out.push(char::from_u32(code)?);
            }
            't' => out.push('\t'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            'f' => out.push('\u{c}'),
            other => out.push(other),
        }
    }
    Some(out)
}

/// The ZATCA environment a CSR is meant for; it decides the certificate template name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Developer portal (`/developer-portal`).
    Sandbox,
    /// Simulation (`/simulation`).
    Simulation,
    /// Production, "core" (`/core`).
    Production,
}

impl Environment {
    /// The MS certificate template name the environment's CA issues under (SPEC §9.2).
    /// (The sandbox also accepts `ZATCA-Code-Signing`; its official example uses it.)
    pub fn template_name(self) -> &'static str {
        match self {
            Environment::Sandbox => "TSTZATCA-Code-Signing",
            Environment::Simulation => "PREZATCA-Code-Signing",
            Environment::Production => "ZATCA-Code-Signing",
        }
    }

    /// The environment whose template is `name`, if any.
    pub fn from_template_name(name: &str) -> Option<Self> {
        [Environment::Sandbox, Environment::Simulation, Environment::Production]
            .into_iter()
            .find(|env| env.template_name() == name)
    }

    /// `sandbox`, `simulation` or `production`.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Sandbox => "sandbox",
            Environment::Simulation => "simulation",
            Environment::Production => "production",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = Error;

    /// `sandbox`, `simulation` or `production` (exact, lowercase); `invalid_environment` otherwise.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "sandbox" => Ok(Environment::Sandbox),
            "simulation" => Ok(Environment::Simulation),
            "production" => Ok(Environment::Production),
            other => Err(Error::new(
                Code::InvalidEnvironment,
                format!("unknown environment {other:?}; expected sandbox, simulation or production"),
            )),
        }
    }
}

/// A built certificate signing request in the three forms it is used in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csr {
    der: Vec<u8>,
    pem: String,
    api_base64: String,
}

impl Csr {
    /// PKCS#10 DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// PEM: `-----BEGIN CERTIFICATE REQUEST-----\n`, 64-column base64 lines,
    /// `-----END CERTIFICATE REQUEST-----\n`.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// base64 of the PEM text (one line): the `csr` field of ZATCA's `/compliance` and
    /// renewal requests (SPEC §9.2).
    pub fn api_base64(&self) -> &str {
        &self.api_base64
    }
}

/// Builds and signs the onboarding CSR exactly as SPEC §9.2 describes (the layout of ZATCA's
/// official example): PKCS#10 v1; subject C (PrintableString), OU, O, CN (UTF8String);
/// extensionRequest with the environment's certificate template name and a subjectAltName
/// directory name SN / UID / title / registeredAddress / businessCategory, one RDN each;
/// ecdsa-with-SHA256 by `key`. Signing is deterministic (RFC 6979), so the same inputs give
/// the same bytes. The config is validated first ([`CsrConfig::validate`]).
pub fn build_csr(config: &CsrConfig, key: &PrivateKey, env: Environment) -> Result<Csr> {
    config.validate()?;
    build_csr_with_template(config, key, env.template_name())
}

fn build_csr_with_template(config: &CsrConfig, key: &PrivateKey, template: &str) -> Result<Csr> {
    let info = certification_request_info(config, key, template).map_err(encoding_error)?;
    sign_request(info, key)
}

fn sign_request(info: CertReqInfo, key: &PrivateKey) -> Result<Csr> {
    let tbs = info.to_der().map_err(encoding_error)?;
    let signature: Signature = key.signing_key().sign(&tbs);
    let request = CertReq {
        info,
        algorithm: AlgorithmIdentifierOwned {
            oid: ECDSA_WITH_SHA256,
            parameters: None,
        },
        signature: BitString::from_bytes(signature.to_der().as_bytes()).map_err(encoding_error)?,
    };
    let der = request.to_der().map_err(encoding_error)?;
    let pem = armor::pem_encode("CERTIFICATE REQUEST", &der);
    let api_base64 = armor::base64_encode(pem.as_bytes());
    Ok(Csr { der, pem, api_base64 })
}

fn encoding_error(e: der::Error) -> Error {
    Error::new(Code::InvalidCsrConfig, format!("cannot encode the CSR: {e}"))
}

fn certification_request_info(config: &CsrConfig, key: &PrivateKey, template: &str) -> der::Result<CertReqInfo> {
    let subject = name_from_rdns(vec![
        printable_atv(AT_COUNTRY, &config.country)?,
        utf8_atv(AT_ORGANIZATIONAL_UNIT, &config.organization_unit)?,
        utf8_atv(AT_ORGANIZATION, &config.organization_name)?,
        utf8_atv(AT_COMMON_NAME, &config.common_name)?,
    ])?;
    let san_name = name_from_rdns(vec![
        utf8_atv(AT_SURNAME, &config.serial_number)?,
        utf8_atv(AT_UID, &config.organization_identifier)?,
        utf8_atv(AT_TITLE, &config.invoice_type)?,
        utf8_atv(AT_REGISTERED_ADDRESS, &config.location_address)?,
        utf8_atv(AT_BUSINESS_CATEGORY, &config.industry_business_category)?,
    ])?;
    let san = SubjectAltName(vec![GeneralName::DirectoryName(san_name)]);
    let extensions = vec![
        Extension {
            extn_id: MS_CERTIFICATE_TEMPLATE_NAME,
            critical: false,
            extn_value: OctetString::new(Utf8StringRef::new(template)?.to_der()?)?,
        },
        Extension {
            extn_id: ID_CE_SUBJECT_ALT_NAME,
            critical: false,
            extn_value: OctetString::new(san.to_der()?)?,
        },
    ];
    let attribute = Attribute::try_from(ExtensionReq(extensions))?;
    Ok(CertReqInfo {
        version: Version::V1,
        subject,
        public_key: SubjectPublicKeyInfoOwned::from_der(&key.public_key_der())?,
        attributes: SetOfVec::try_from(vec![attribute])?,
    })
}

fn utf8_atv(oid: ObjectIdentifier, value: &str) -> der::Result<AttributeTypeAndValue> {
    Ok(AttributeTypeAndValue {
        oid,
        value: Any::new(Tag::Utf8String, Utf8StringRef::new(value)?.as_bytes())?,
    })
}

fn printable_atv(oid: ObjectIdentifier, value: &str) -> der::Result<AttributeTypeAndValue> {
    Ok(AttributeTypeAndValue {
        oid,
        value: Any::new(Tag::PrintableString, PrintableStringRef::new(value)?.as_bytes())?,
    })
}

/// A `Name` with one single-valued RDN per attribute, in the given order.
fn name_from_rdns(atvs: Vec<AttributeTypeAndValue>) -> der::Result<Name> {
    let rdns = atvs
        .into_iter()
        .map(|atv| RelativeDistinguishedName::try_from(vec![atv]))
        .collect::<der::Result<Vec<_>>>()?;
    // x509-cert keeps `Name`'s constructor private (outside its `hazmat` feature); going
    // through DER is the supported way to turn an `RdnSequence` into a `Name`.
    Name::from_der(&RdnSequence::from(rdns).to_der()?)
}

/// A CSR parsed and signature-checked by [`parse_csr`].
#[derive(Debug, Clone)]
pub struct ParsedCsr {
    /// The EGS config recovered from the subject and the SAN directory name; fields absent
    /// from the CSR are empty strings (run [`CsrConfig::validate`] to judge it).
    pub config: CsrConfig,
    /// The requested MS certificate template name (`ZATCA-Code-Signing`, …); empty if absent.
    pub template_name: String,
    /// The subject public key, `SubjectPublicKeyInfo` DER.
    pub public_key_der: Vec<u8>,
    /// The subject public key (secp256k1).
    pub verifying_key: VerifyingKey,
}

/// Parses a CSR given as DER, PEM, or ZATCA's API form (base64 of the PEM), checks that it is
/// a secp256k1 key and that its self-signature (ecdsa-with-SHA256) verifies, and recovers the
/// EGS config and template name. Codes: `invalid_csr` (undecodable), `unsupported_curve`,
/// `invalid_public_key`, `invalid_csr_signature`.
pub fn parse_csr(input: &[u8]) -> Result<ParsedCsr> {
    let der = csr_der(input)?;
    let request =
        CertReq::from_der(&der).map_err(|e| Error::new(Code::InvalidCsr, format!("malformed PKCS#10 request: {e}")))?;
    // Verify over the request info exactly as transmitted, not a re-encoding of it.
    let tbs =
        first_element(&der).map_err(|e| Error::new(Code::InvalidCsr, format!("malformed PKCS#10 request: {e}")))?;

    if request.algorithm.oid != ECDSA_WITH_SHA256 {
        return Err(Error::new(
            Code::InvalidCsrSignature,
            format!("signature algorithm {} is not ecdsa-with-SHA256", request.algorithm.oid),
        ));
    }
    let public_key_der = request
        .info
        .public_key
        .to_der()
        .map_err(|e| Error::new(Code::InvalidCsr, format!("malformed public key: {e}")))?;
    let verifying_key = verifying_key_from_spki(&public_key_der)?;
    let signature = request
        .signature
        .as_bytes()
        .ok_or_else(|| Error::new(Code::InvalidCsrSignature, "signature bit string is not octet aligned"))?;
    if !verify_sha256_der(&verifying_key, tbs, signature) {
        return Err(Error::new(
            Code::InvalidCsrSignature,
            "CSR self-signature does not verify",
        ));
    }

    let subject = &request.info.subject;
    let extensions = requested_extensions(&request.info)?;
    let san = extensions
        .iter()
        .find(|ext| ext.extn_id == ID_CE_SUBJECT_ALT_NAME)
        .map_or_else(SanFields::default, |ext| {
            san_fields_from_extension(ext.extn_value.as_bytes())
        });
    let template_name = match extensions
        .iter()
        .find(|ext| ext.extn_id == MS_CERTIFICATE_TEMPLATE_NAME)
    {
        None => String::new(),
        Some(ext) => Any::from_der(ext.extn_value.as_bytes())
            .ok()
            .and_then(|value| attribute_text(&value))
            .ok_or_else(|| Error::new(Code::InvalidCsr, "the certificate template name is not a string"))?,
    };
    #[expect(
        clippy::disallowed_methods,
        reason = "a field absent from the CSR is empty, as ParsedCsr documents: CsrConfig::validate reports it"
    )]
    let or_empty = |value: Option<String>| value.unwrap_or_default();
    let text = |oid| or_empty(name_attribute(subject, oid));
    let config = CsrConfig {
        common_name: text(AT_COMMON_NAME),
        serial_number: or_empty(san.serial_number),
        organization_identifier: or_empty(san.organization_identifier),
        organization_unit: text(AT_ORGANIZATIONAL_UNIT),
        organization_name: text(AT_ORGANIZATION),
        country: text(AT_COUNTRY),
        invoice_type: or_empty(san.invoice_type),
        location_address: or_empty(san.location_address),
        industry_business_category: or_empty(san.industry_business_category),
    };
    Ok(ParsedCsr {
        config,
        template_name,
        public_key_der,
        verifying_key,
    })
}

/// The DER of a CSR given as DER, PEM, or base64 of either (the API sends base64 of PEM).
fn csr_der(input: &[u8]) -> Result<Vec<u8>> {
    let not_a_csr = || {
        Error::new(
            Code::InvalidCsr,
            "input is not a DER, PEM or base64 certificate request",
        )
    };
    if input.first() == Some(&0x30) {
        return Ok(input.to_vec());
    }
    let text = core::str::from_utf8(input).map_err(|_| not_a_csr())?;
    let bytes = match armor::decode_text(text).ok_or_else(not_a_csr)? {
        armor::Decoded::Pem { label, der } => return pem_csr(&label, der),
        armor::Decoded::Raw(bytes) => bytes,
    };
    if bytes.first() == Some(&0x30) {
        return Ok(bytes);
    }
    let inner = core::str::from_utf8(&bytes).map_err(|_| not_a_csr())?;
    let (label, der) = armor::pem_decode(inner).ok_or_else(not_a_csr)?;
    pem_csr(&label, der)
}

fn pem_csr(label: &str, der: Vec<u8>) -> Result<Vec<u8>> {
    match label {
        // `NEW CERTIFICATE REQUEST` is what older Windows / Java keytool tools write.
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => Ok(der),
        other => Err(Error::new(
            Code::InvalidCsr,
            format!("expected a CERTIFICATE REQUEST PEM block, found {other}"),
        )),
    }
}

/// The complete TLV of the first element inside the outer SEQUENCE of `der`.
fn first_element(der: &[u8]) -> der::Result<&[u8]> {
    let mut reader = SliceReader::new(der)?;
    let header = Header::decode(&mut reader)?;
    header.tag().assert_eq(Tag::Sequence)?;
    reader.tlv_bytes()
}

/// The extensions of the request's `extensionRequest` attributes: none when it has none;
/// `invalid_csr` when one does not decode (read as none, its SAN fields would be reported
/// missing instead of unreadable).
fn requested_extensions(info: &CertReqInfo) -> Result<Vec<Extension>> {
    let mut out = Vec::new();
    for value in info
        .attributes
        .iter()
        .filter(|attr| attr.oid == ID_EXTENSION_REQ)
        .flat_map(|attr| attr.values.iter())
    {
        let extensions = value
            .to_der()
            .and_then(|der| Vec::<Extension>::from_der(&der))
            .map_err(|e| {
                Error::new(
                    Code::InvalidCsr,
                    format!("the extensionRequest attribute does not decode: {e}"),
                )
            })?;
        out.extend(extensions);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;
    use crate::cert::Certificate;

    const EN_PROPERTIES: &str =
        include_str!("../../../tests/fixtures/samples/sdk-R3.4.8/Input/csr-config-example-EN.properties");
    const AR_PROPERTIES: &str =
        include_str!("../../../tests/fixtures/samples/sdk-R3.4.8/Input/csr-config-example-AR.properties");
    const GROUP_PROPERTIES: &str =
        include_str!("../../../tests/fixtures/samples/sdk-R3.4.8/Input/csr-config-example-EN-VAT-group.properties");
    const TEMPLATE_PROPERTIES: &str =
        include_str!("../../../tests/fixtures/samples/sdk-R3.4.8/Input/csr-config-template.properties");
    const OFFICIAL_CSR: &str =
        include_str!("../../../tests/fixtures/samples/sdk-R3.4.8/Input/developer-portal-example.csr.pem");
    const SDK_KEY: &str =
        include_str!("../../../tests/fixtures/samples/sdk-R3.4.8/Certificates/ec-secp256k1-priv-key.pem");
    const SDK_CERT: &str = include_str!("../../../tests/fixtures/samples/sdk-R3.4.8/Certificates/cert.pem");

    fn en_config() -> CsrConfig {
        CsrConfig::from_sdk_properties(EN_PROPERTIES).unwrap()
    }

    fn sdk_key() -> PrivateKey {
        PrivateKey::parse(SDK_KEY).unwrap()
    }

    #[test]
    fn properties_parse_and_round_trip() {
        let config = en_config();
        assert_eq!(config.common_name, "TST-886431145-399999999900003");
        assert_eq!(
            config.serial_number,
            "1-TST|2-TST|3-ed22f1d8-e6a2-1118-9b58-d9a8f11e445f"
        );
        assert_eq!(config.organization_identifier, "399999999900003");
        assert_eq!(config.organization_unit, "Riyadh Branch");
        assert_eq!(config.organization_name, "Maximum Speed Tech Supply LTD");
        assert_eq!(config.country, "SA");
        assert_eq!(config.invoice_type, "1100");
        assert_eq!(config.location_address, "RRRD2929");
        assert_eq!(config.industry_business_category, "Supply activities");
        config.validate().unwrap();
        assert_eq!(config.to_sdk_properties(), EN_PROPERTIES.trim_end().to_owned() + "\n");
        for text in [EN_PROPERTIES, AR_PROPERTIES, GROUP_PROPERTIES] {
            let c = CsrConfig::from_sdk_properties(text).unwrap();
            c.validate().unwrap();
            assert_eq!(CsrConfig::from_sdk_properties(&c.to_sdk_properties()).unwrap(), c);
        }
        let arabic = CsrConfig::from_sdk_properties(AR_PROPERTIES).unwrap();
        assert_eq!(arabic.organization_unit, "فرع الرياض");
        // Escapes, comments, CRLF and ':' separators as Java reads them.
        let escaped = EN_PROPERTIES
            .replace("Riyadh Branch", "Riyadh\\u0020Branch")
            .replace('\n', "\r\n");
        let escaped = format!(
            "# comment\r\n! other\r\n{}",
            escaped.replace("csr.country.name=", "csr.country.name : ")
        );
        assert_eq!(CsrConfig::from_sdk_properties(&escaped).unwrap(), config);
    }

    #[test]
    fn properties_errors_are_listed_together() {
        let err = CsrConfig::from_sdk_properties("csr.common.name=x\nbogus.key=1\nno separator\ncsr.common.name=y\n")
            .unwrap_err();
        assert!(err.issues().iter().all(|i| i.code == "invalid_csr_config"));
        let paths: Vec<_> = err.issues().iter().filter_map(|i| i.path.as_deref()).collect();
        assert!(paths.contains(&"bogus.key"));
        assert!(paths.contains(&"line 3"));
        assert!(paths.contains(&"common_name")); // repeated
        assert!(paths.contains(&"serial_number")); // missing
        assert_eq!(err.issues().len(), 3 + 8);
        // The SDK's blank template parses; validation then lists all nine empty fields.
        let blank = CsrConfig::from_sdk_properties(TEMPLATE_PROPERTIES).unwrap();
        let err = blank.validate().unwrap_err();
        assert_eq!(err.issues().len(), 9);
        assert!(err.issues().iter().all(|i| i.code == "required_field"));
        assert!(CsrConfig::from_sdk_properties("csr.common.name=\\u12").is_err());
    }

    #[test]
    fn validation_lists_every_problem_with_paths() {
        let mut config = en_config();
        config.organization_identifier = "300000000000001".into();
        config.invoice_type = "0011".into();
        config.country = "sa".into();
        config.common_name = "EGS_1".into();
        config.serial_number = "TST-123".into();
        config.location_address = "  ".into();
        config.organization_name = "x".repeat(65);
        let err = config.validate().unwrap_err();
        let found: Vec<(&str, &str)> = err
            .issues()
            .iter()
            .map(|i| (i.code, i.path.as_deref().unwrap_or("")))
            .collect();
        for expected in [
            ("invalid_vat_number", "organization_identifier"),
            ("invalid_invoice_type", "invoice_type"),
            ("invalid_country_code", "country"),
            ("forbidden_character", "common_name"),
            ("invalid_egs_serial", "serial_number"),
            ("required_field", "location_address"),
            ("field_too_long", "organization_name"),
        ] {
            assert!(found.contains(&expected), "{expected:?} missing from {found:?}");
        }
        assert_eq!(found.len(), 7, "{found:?}");

        // VAT group: OU must be the member TIN.
        let mut group = CsrConfig::from_sdk_properties(GROUP_PROPERTIES).unwrap();
        group.validate().unwrap();
        group.organization_unit = "Riyadh Branch".into();
        let err = group.validate().unwrap_err();
        assert_eq!(err.code(), "invalid_group_member_tin");
        assert_eq!(err.primary().path.as_deref(), Some("organization_unit"));

        for ok in ["1100", "1000", "0100"] {
            let mut c = en_config();
            c.invoice_type = ok.into();
            c.validate().unwrap();
        }
    }

    #[test]
    fn json_shape_is_snake_case_and_strict() {
        let config = en_config();
        let json = serde_json::to_string(&config).unwrap();
        assert!(json.contains("\"industry_business_category\":\"Supply activities\""));
        assert_eq!(serde_json::from_str::<CsrConfig>(&json).unwrap(), config);
        let extra = json.replacen('{', "{\"extra\":1,", 1);
        assert!(serde_json::from_str::<CsrConfig>(&extra).is_err());
        assert_eq!(
            serde_json::to_string(&Environment::Simulation).unwrap(),
            "\"simulation\""
        );
        assert_eq!(
            serde_json::from_str::<Environment>("\"production\"").unwrap(),
            Environment::Production
        );
    }

    #[test]
    fn environments() {
        for env in [Environment::Sandbox, Environment::Simulation, Environment::Production] {
            assert_eq!(env.as_str().parse::<Environment>().unwrap(), env);
            assert_eq!(Environment::from_template_name(env.template_name()), Some(env));
        }
        assert_eq!(Environment::Sandbox.template_name(), "TSTZATCA-Code-Signing");
        assert_eq!(Environment::Simulation.template_name(), "PREZATCA-Code-Signing");
        assert_eq!(Environment::Production.template_name(), "ZATCA-Code-Signing");
        assert_eq!("core".parse::<Environment>().unwrap_err().code(), "invalid_environment");
    }

    #[test]
    fn official_example_parses() {
        let parsed = parse_csr(OFFICIAL_CSR.as_bytes()).unwrap();
        assert_eq!(parsed.config, en_config());
        assert_eq!(parsed.template_name, "ZATCA-Code-Signing");
        // The example was made with the SDK key: same public key as the SDK certificate.
        let cert = Certificate::parse(SDK_CERT).unwrap();
        assert_eq!(parsed.public_key_der, cert.public_key_der());
        assert_eq!(parsed.verifying_key, sdk_key().verifying_key());
        // The API form (base64 of the PEM) and DER parse the same.
        let api = armor::base64_encode(OFFICIAL_CSR.as_bytes());
        assert!(api.starts_with("LS0tLS1CRUdJTi"));
        assert_eq!(parse_csr(api.as_bytes()).unwrap().config, parsed.config);
        let der = armor::pem_decode(OFFICIAL_CSR).unwrap().1;
        assert_eq!(parse_csr(&der).unwrap().config, parsed.config);
    }

    #[test]
    fn built_request_info_matches_the_official_example_byte_for_byte() {
        // Same config, key and template as the official example: everything but the
        // (randomised, in the original) signature must be identical.
        let csr = build_csr_with_template(&en_config(), &sdk_key(), "ZATCA-Code-Signing").unwrap();
        let official = armor::pem_decode(OFFICIAL_CSR).unwrap().1;
        assert_eq!(first_element(csr.der()).unwrap(), first_element(&official).unwrap());
        let ours = build_csr(&en_config(), &sdk_key(), Environment::Production).unwrap();
        assert_eq!(ours, csr);
    }

    #[test]
    fn built_csr_round_trips_and_is_deterministic() {
        let key = sdk_key();
        for env in [Environment::Sandbox, Environment::Simulation, Environment::Production] {
            let csr = build_csr(&en_config(), &key, env).unwrap();
            assert_eq!(csr, build_csr(&en_config(), &key, env).unwrap());
            assert!(csr.pem().starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"));
            assert!(csr.pem().ends_with("\n-----END CERTIFICATE REQUEST-----\n"));
            assert!(csr.pem().lines().all(|l| l.len() <= 64));
            assert!(csr.api_base64().starts_with("LS0tLS1CRUdJTi"));
            for input in [csr.der(), csr.pem().as_bytes(), csr.api_base64().as_bytes()] {
                let parsed = parse_csr(input).unwrap();
                assert_eq!(parsed.config, en_config());
                assert_eq!(parsed.template_name, env.template_name());
                assert_eq!(parsed.public_key_der, key.public_key_der());
            }
        }
        // Arabic fields survive as UTF8String.
        let arabic = CsrConfig::from_sdk_properties(AR_PROPERTIES).unwrap();
        let csr = build_csr(&arabic, &key, Environment::Simulation).unwrap();
        assert_eq!(parse_csr(csr.der()).unwrap().config, arabic);
    }

    #[test]
    fn build_refuses_invalid_config() {
        let mut config = en_config();
        config.country = "SAU".into();
        config.invoice_type = String::new();
        let err = build_csr(&config, &sdk_key(), Environment::Sandbox).unwrap_err();
        assert_eq!(err.issues().len(), 2);
    }

    #[test]
    fn tampered_signature_is_rejected() {
        let csr = build_csr(&en_config(), &sdk_key(), Environment::Sandbox).unwrap();
        let mut der = csr.der().to_vec();
        // Change one character of the CN ("TST-…" → "TSU-…"): still well-formed, wrong signature.
        let pos = der.windows(4).position(|w| w == b"TST-").unwrap();
        der[pos + 2] = b'U';
        assert_eq!(parse_csr(&der).unwrap_err().code(), "invalid_csr_signature");
    }

    /// A CSR of the EN config, signed, with its extensionRequest attribute changed by `edit`.
    fn csr_with_extensions(edit: impl FnOnce(&mut Attribute)) -> Vec<u8> {
        let key = sdk_key();
        let mut info = certification_request_info(&en_config(), &key, "TSTZATCA-Code-Signing").unwrap();
        let mut attributes = info.attributes.into_vec();
        edit(&mut attributes[0]);
        info.attributes = SetOfVec::try_from(attributes).unwrap();
        sign_request(info, &key).unwrap().der
    }

    #[test]
    fn unreadable_extension_request_is_invalid_not_empty() {
        // An extensionRequest holding an INTEGER instead of a SEQUENCE OF Extension: read as no
        // extensions, the SAN fields would come back empty and be reported missing.
        let der = csr_with_extensions(|attr| {
            attr.values = SetOfVec::try_from(vec![Any::new(Tag::Integer, [1u8]).unwrap()]).unwrap();
        });
        let err = parse_csr(&der).unwrap_err();
        assert_eq!(err.code(), "invalid_csr", "{err}");
        assert!(err.to_string().contains("extensionRequest"), "{err}");
    }

    #[test]
    fn template_name_that_is_not_a_string_is_invalid_not_empty() {
        let der = csr_with_extensions(|attr| {
            let mut extensions = Vec::<Extension>::from_der(&attr.values.get(0).unwrap().to_der().unwrap()).unwrap();
            let template = extensions
                .iter_mut()
                .find(|ext| ext.extn_id == MS_CERTIFICATE_TEMPLATE_NAME)
                .unwrap();
            template.extn_value = OctetString::new(Any::new(Tag::Integer, [1u8]).unwrap().to_der().unwrap()).unwrap();
            *attr = Attribute::try_from(ExtensionReq(extensions)).unwrap();
        });
        let err = parse_csr(&der).unwrap_err();
        assert_eq!(err.code(), "invalid_csr", "{err}");
        assert!(err.to_string().contains("template name"), "{err}");
    }

    #[test]
    fn csr_without_extension_request_parses_with_empty_fields() {
        // No extensionRequest at all is not malformed: the SAN fields and the template are
        // absent, which `CsrConfig::validate` reports.
        let key = sdk_key();
        let mut info = certification_request_info(&en_config(), &key, "TSTZATCA-Code-Signing").unwrap();
        info.attributes = SetOfVec::new();
        let parsed = parse_csr(&sign_request(info, &key).unwrap().der).unwrap();
        assert_eq!(parsed.template_name, "");
        assert_eq!(parsed.config.serial_number, "");
        assert_eq!(parsed.config.common_name, en_config().common_name);
        let err = parsed.config.validate().unwrap_err();
        assert!(
            err.issues().iter().any(|i| i.path.as_deref() == Some("serial_number")),
            "{err}"
        );
    }

    #[test]
    fn garbage_never_panics() {
        for input in [
            &b""[..],
            b"   ",
            b"\x30",
            b"\x30\x80",
            b"MAA=",
            b"LS0tLS1CRUdJTiBYLS0tLS0=",
            b"\xff\xfe",
            b"-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n",
            b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
        ] {
            assert!(parse_csr(input).is_err(), "{input:?}");
        }
        let der = build_csr(&en_config(), &sdk_key(), Environment::Sandbox)
            .unwrap()
            .der()
            .to_vec();
        for i in 0..der.len() {
            let _ = parse_csr(&der[..i]);
            let mut bad = der.clone();
            bad[i] ^= 0x5a;
            let _ = parse_csr(&bad);
        }
    }

    /// Writes the built CSRs to /tmp for checking with `openssl req -verify -text`.
    /// Run with `cargo test -- --ignored write_csrs_for_openssl`.
    #[test]
    #[ignore]
    fn write_csrs_for_openssl() {
        let key = sdk_key();
        for (name, text) in [("en", EN_PROPERTIES), ("ar", AR_PROPERTIES)] {
            let config = CsrConfig::from_sdk_properties(text).unwrap();
            let csr = build_csr(&config, &key, Environment::Simulation).unwrap();
            std::fs::write(format!("/tmp/zatca-csr-{name}.pem"), csr.pem()).unwrap();
        }
        let fresh = PrivateKey::from_seed([42u8; 32]).unwrap();
        let csr = build_csr(&en_config(), &fresh, Environment::Production).unwrap();
        std::fs::write("/tmp/zatca-csr-fresh.pem", csr.pem()).unwrap();
        std::fs::write("/tmp/zatca-csr-fresh.key", fresh.to_sec1_pem()).unwrap();
    }
}
