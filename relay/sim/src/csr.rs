//! The onboarding CSR as the CA sees it: the `csr` API field decoded (base64 of the PEM text,
//! SPEC §9.2), the PKCS#10 structure whose subject, public key and subjectAltName are copied
//! into the issued certificate, and ZATCA's field rules (template name per environment, VAT
//! number, `title`, EGS serial).
//!
//! The self-signature check, the field extraction and the field rules are `zatca_core::csr`'s
//! (`parse_csr`, `CsrConfig::validate`); x509-cert only keeps the subject and the SAN extension
//! as decoded so that the issued certificate carries them unchanged.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use der::{Decode as _, Encode as _};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::request::CertReq;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::config::Environment;

/// OID of the subjectAltName extension.
const SUBJECT_ALT_NAME: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("2.5.29.17");
/// OID of the PKCS#9 extensionRequest attribute.
const EXTENSION_REQUEST: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.14");

/// ZATCA's CSR fields (SPEC §9.2) as `zatca_core::csr::parse_csr` reads them, with the
/// requested certificate template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrFields {
    /// Subject and SAN fields (CN, EGS serial, VAT number, OU, O, C, title, address, category).
    pub config: zatca_core::csr::CsrConfig,
    /// MS certificate template name extension (`TSTZATCA-Code-Signing`, …).
    pub template_name: String,
}

/// A decoded, signature-checked CSR.
#[derive(Debug, Clone)]
pub struct CsrRequest {
    /// The subject name, copied into the certificate.
    pub subject: Name,
    /// The public key, certified as is.
    pub public_key: SubjectPublicKeyInfoOwned,
    /// The subjectAltName extension exactly as requested, copied into the certificate.
    pub subject_alt_name: Option<Extension>,
    /// ZATCA's fields.
    pub fields: CsrFields,
}

/// Why a CSR is refused, in ZATCA's two flavours (SPEC §10.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsrRejection {
    /// `400 {"errors":[{"code":"Invalid-CSR",…}]}`: undecodable, bad signature, bad fields.
    Invalid(String),
    /// `NOT_COMPLIANT` … "Denied by Policy Module": template name not issued by this CA.
    Policy(String),
}

/// Decodes the `csr` API field: base64 of the PEM text (the documented form); also accepted are
/// base64 of the DER and the PEM text itself.
pub fn decode_api_field(field: &str) -> Result<Vec<u8>, CsrRejection> {
    let trimmed = field.trim();
    let text = if trimmed.starts_with("-----BEGIN") {
        trimmed.as_bytes().to_vec()
    } else {
        let compact: String = trimmed.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        B64.decode(compact.as_bytes())
            .map_err(|_| CsrRejection::Invalid("the csr field is not valid base64".into()))?
    };
    if text.starts_with(b"-----BEGIN") {
        let normalized = String::from_utf8_lossy(&text).replace('\r', "");
        let (label, der) = der::pem::decode_vec(normalized.as_bytes())
            .map_err(|e| CsrRejection::Invalid(format!("the csr PEM cannot be decoded: {e}")))?;
        if label != "CERTIFICATE REQUEST" && label != "NEW CERTIFICATE REQUEST" {
            return Err(CsrRejection::Invalid(format!("unexpected PEM label {label:?}")));
        }
        Ok(der)
    } else {
        Ok(text)
    }
}

/// Parses and checks a CSR given as DER. `zatca_core::csr::parse_csr` verifies the
/// self-signature (ecdsa-with-SHA256, secp256k1) and reads ZATCA's fields; x509-cert keeps the
/// subject and the SAN extension as DER for the certificate.
pub fn parse(der_bytes: &[u8]) -> Result<CsrRequest, CsrRejection> {
    let parsed = zatca_core::csr::parse_csr(der_bytes).map_err(|e| CsrRejection::Invalid(core_message(&e)))?;
    let req = CertReq::from_der(der_bytes)
        .map_err(|e| CsrRejection::Invalid(format!("the CSR is not a PKCS#10 request: {e}")))?;
    let fields = CsrFields {
        config: parsed.config,
        template_name: parsed.template_name,
    };
    Ok(CsrRequest {
        subject: req.info.subject.clone(),
        public_key: req.info.public_key.clone(),
        subject_alt_name: requested_extensions(&req)?
            .into_iter()
            .find(|ext| ext.extn_id == SUBJECT_ALT_NAME),
        fields,
    })
}

/// The extensions of the extensionRequest attribute.
fn requested_extensions(req: &CertReq) -> Result<Vec<Extension>, CsrRejection> {
    let mut out = Vec::new();
    for attr in req.info.attributes.iter().filter(|a| a.oid == EXTENSION_REQUEST) {
        for value in attr.values.iter() {
            let der = value
                .to_der()
                .map_err(|e| CsrRejection::Invalid(format!("the CSR extensionRequest cannot be read: {e}")))?;
            let exts = Vec::<Extension>::from_der(&der)
                .map_err(|e| CsrRejection::Invalid(format!("the CSR extensionRequest cannot be read: {e}")))?;
            out.extend(exts);
        }
    }
    Ok(out)
}

/// One line out of a core error: the messages of its issues.
pub(crate) fn core_message(err: &zatca_core::Error) -> String {
    err.issues()
        .iter()
        .map(|i| match &i.path {
            Some(path) => format!("{path}: {}", i.message),
            None => i.message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// ZATCA's rules on the CSR content (SPEC §9.2, `[DOC-SEC]` table 1): the template name of
/// the environment, then the field rules of `zatca_core::csr::CsrConfig::validate` (VAT number,
/// group TIN, `title`, country, EGS serial, required fields, forbidden characters).
pub fn check_fields(fields: &CsrFields, environment: Environment) -> Result<(), CsrRejection> {
    if !environment.accepts_template(&fields.template_name) {
        return Err(CsrRejection::Policy(format!(
            "The request was for a certificate template that is not supported by this CA: {:?} \
             (this is the {environment} environment, which issues {:?}). Denied by Policy Module",
            fields.template_name,
            environment.template_name()
        )));
    }
    fields
        .config
        .validate()
        .map_err(|e| CsrRejection::Invalid(core_message(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields of an EGS CSR with VAT number `vat` and EGS serial `serial`, on the sandbox
    /// template.
    fn sandbox_fields(vat: &str, serial: &str) -> CsrFields {
        CsrFields {
            config: zatca_core::csr::CsrConfig {
                common_name: format!("TST-1-{vat}"),
                serial_number: serial.into(),
                organization_identifier: vat.into(),
                organization_unit: "Riyadh Branch".into(),
                organization_name: "Org".into(),
                country: "SA".into(),
                invoice_type: "1100".into(),
                location_address: "RRRD2929".into(),
                industry_business_category: "Supply activities".into(),
            },
            template_name: "TSTZATCA-Code-Signing".into(),
        }
    }

    #[test]
    fn field_rules_come_from_the_core() {
        let fields = sandbox_fields("399999999900004", "1-a|2-b");
        let Err(CsrRejection::Invalid(message)) = check_fields(&fields, Environment::Sandbox) else {
            panic!("bad VAT number and serial must be refused");
        };
        assert!(
            message.contains("organization_identifier") && message.contains("serial_number"),
            "{message}"
        );
    }

    #[test]
    fn template_names_per_environment() {
        let mut fields = sandbox_fields("399999999900003", "1-a|2-b|3-c");
        assert_eq!(check_fields(&fields, Environment::Sandbox), Ok(()));
        assert!(matches!(
            check_fields(&fields, Environment::Simulation),
            Err(CsrRejection::Policy(_))
        ));
        fields.template_name = "ZATCA-Code-Signing".into();
        assert_eq!(check_fields(&fields, Environment::Sandbox), Ok(()));
        assert_eq!(check_fields(&fields, Environment::Production), Ok(()));
        fields.template_name = "PREZATCA-Code-Signing".into();
        assert_eq!(check_fields(&fields, Environment::Simulation), Ok(()));
        assert!(matches!(
            check_fields(&fields, Environment::Production),
            Err(CsrRejection::Policy(_))
        ));
    }

    #[test]
    fn decodes_base64_of_pem() {
        let pem = "-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n";
        let field = B64.encode(pem);
        assert_eq!(decode_api_field(&field), Ok(vec![0x30, 0x00]));
        assert!(decode_api_field("%%%").is_err());
    }
}
