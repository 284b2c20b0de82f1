//! The simulator's certificate authority: a secp256k1 CA key, a self-signed CA certificate
//! `CN=ZATCA-SIM-CA, DC=sim, DC=zatca, DC=local`, and CSID certificates issued for CSRs with
//! the profile of ZATCA's own (SPEC §9.2: subject and SAN from the CSR, KeyUsage
//! digitalSignature critical, EKU codeSigning + clientAuth, 19-byte serial, ecdsa-with-SHA256).

use std::str::FromStr as _;
use std::time::{Duration, SystemTime};

use der::Encode as _;
use k256::ecdsa::{DerSignature, SigningKey};
use sha2::{Digest as _, Sha256};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder as _, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension as _};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::time::{Time, Validity};

use crate::csr::CsrRequest;

/// The CA's distinguished name in RFC 4514 order (most specific first), as it appears in
/// `ds:X509IssuerName` of documents signed with issued certificates.
pub const CA_NAME: &str = "CN=ZATCA-SIM-CA, DC=sim, DC=zatca, DC=local";

/// OID of EKU codeSigning.
const EKU_CODE_SIGNING: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
/// OID of EKU clientAuth.
const EKU_CLIENT_AUTH: der::oid::ObjectIdentifier = der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");

/// The CA: key, name and self-signed certificate.
pub struct CertificateAuthority {
    key: SigningKey,
    name: Name,
    certificate_der: Vec<u8>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("name", &CA_NAME)
            .finish_non_exhaustive()
    }
}

/// Random bytes from the OS.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    #[expect(
        clippy::expect_used,
        reason = "no OS randomness is an unrecoverable environment failure"
    )]
    getrandom::fill(&mut out).expect("OS random number generator");
    out
}

/// A valid secp256k1 scalar derived from `seed` (SHA-256 with a counter until valid).
fn key_from_seed(seed: &[u8; 32]) -> SigningKey {
    let mut counter = 0u32;
    loop {
        let digest = Sha256::new()
            .chain_update(b"zatca-sim CA key")
            .chain_update(seed)
            .chain_update(counter.to_be_bytes())
            .finalize();
        if let Ok(key) = SigningKey::from_slice(&digest) {
            return key;
        }
        counter += 1;
    }
}

/// A positive serial number of 19 bytes (ZATCA's are 19 bytes, 45 decimal digits).
fn serial_from(bytes: [u8; 19]) -> Result<SerialNumber, der::Error> {
    let mut bytes = bytes;
    bytes[0] = 0x10 | (bytes[0] & 0x3f);
    SerialNumber::new(&bytes)
}

/// A serial for a certificate that must be the same on every start: the first 19 bytes of
/// SHA-256 over `label` and `input`.
fn derived_serial(label: &[u8], input: &[u8]) -> [u8; 19] {
    let digest: [u8; 32] = Sha256::new().chain_update(label).chain_update(input).finalize().into();
    let mut serial = [0u8; 19];
    serial.copy_from_slice(&digest[..19]);
    serial
}

/// The validity of the CA and stamp certificates: fixed, so that a seeded CA issues identical
/// certificates on every start.
fn fixed_validity() -> Result<Validity, IssueError> {
    let not_before = SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200); // 2024-01-01
    let not_after = SystemTime::UNIX_EPOCH + Duration::from_secs(2_524_608_000); // 2050-01-01
    validity_between(not_before, not_after)
}

/// An X.509 validity from `not_before` to `not_after`.
fn validity_between(not_before: SystemTime, not_after: SystemTime) -> Result<Validity, IssueError> {
    Ok(Validity::new(
        x509_time(not_before).map_err(issue_err)?,
        x509_time(not_after).map_err(issue_err)?,
    ))
}

/// Builds the certificate of `profile` for `spki`, signed with `signer`, as DER.
fn build_der(
    profile: Profile,
    serial: [u8; 19],
    validity: Validity,
    spki: SubjectPublicKeyInfoOwned,
    signer: &SigningKey,
) -> Result<Vec<u8>, IssueError> {
    let builder =
        CertificateBuilder::new(profile, serial_from(serial).map_err(issue_err)?, validity, spki).map_err(issue_err)?;
    let cert = builder.build::<_, DerSignature>(signer).map_err(issue_err)?;
    cert.to_der().map_err(issue_err)
}

/// Converts a `SystemTime` into an X.509 time (whole seconds).
fn x509_time(t: SystemTime) -> Result<Time, der::Error> {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs();
    let dt = der::DateTime::from_unix_duration(Duration::from_secs(secs))?;
    Ok(Time::from(dt))
}

/// The profile of certificates issued by [`CertificateAuthority`].
struct Profile {
    issuer: Name,
    subject: Name,
    ca: bool,
    subject_alt_name: Option<Extension>,
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut exts: Vec<Extension> = Vec::new();
        if let Some(san) = &self.subject_alt_name {
            exts.push(Extension {
                critical: false,
                ..san.clone()
            });
        }
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        exts.push(ski.to_extension(tbs.subject(), &exts)?);
        let issuer_ski = SubjectKeyIdentifier::try_from(issuer_spk)?;
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(issuer_ski.0),
            ..Default::default()
        };
        exts.push(aki.to_extension(tbs.subject(), &exts)?);
        if self.ca {
            let bc = BasicConstraints {
                ca: true,
                path_len_constraint: Some(0),
            };
            exts.push((true, &bc).to_extension(tbs.subject(), &exts)?);
            let ku = KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign | KeyUsages::DigitalSignature);
            exts.push(ku.to_extension(tbs.subject(), &exts)?);
        } else {
            let ku = KeyUsage(KeyUsages::DigitalSignature.into());
            exts.push(ku.to_extension(tbs.subject(), &exts)?);
            let eku = ExtendedKeyUsage(vec![EKU_CODE_SIGNING, EKU_CLIENT_AUTH]);
            exts.push(eku.to_extension(tbs.subject(), &exts)?);
        }
        Ok(exts)
    }
}

/// An error while issuing a certificate (never caused by client input that passed the CSR
/// checks; reported as 500).
#[derive(Debug)]
pub struct IssueError(pub String);

impl std::fmt::Display for IssueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "certificate issuance failed: {}", self.0)
    }
}

impl std::error::Error for IssueError {}

fn issue_err(e: impl std::fmt::Display) -> IssueError {
    IssueError(e.to_string())
}

impl CertificateAuthority {
    /// A CA with a key derived from `seed` (reproducible: same key and CA certificate on every
    /// start) or a random key.
    pub fn new(seed: Option<[u8; 32]>) -> Result<Self, IssueError> {
        let key = match seed {
            Some(seed) => key_from_seed(&seed),
            None => key_from_seed(&random_bytes::<32>()),
        };
        let name = Name::from_str("CN=ZATCA-SIM-CA,DC=sim,DC=zatca,DC=local").map_err(issue_err)?;
        let serial = derived_serial(b"zatca-sim CA serial", &key.to_bytes());
        let spki = SubjectPublicKeyInfoOwned::from_key(key.verifying_key()).map_err(issue_err)?;
        let profile = Profile {
            issuer: name.clone(),
            subject: name.clone(),
            ca: true,
            subject_alt_name: None,
        };
        let certificate_der = build_der(profile, serial, fixed_validity()?, spki, &key)?;
        Ok(CertificateAuthority {
            key,
            name,
            certificate_der,
        })
    }

    /// The CA certificate (DER).
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// The CA certificate as PEM.
    pub fn certificate_pem(&self) -> String {
        der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &self.certificate_der).unwrap_or_default()
    }

    /// A secp256k1 scalar for the gateway's stamping key, derived from the CA key (so a seeded CA
    /// always stamps with the same key and certificate): SHA-256 over a label, the CA key and a
    /// counter, until the digest is a valid scalar.
    pub(crate) fn stamp_key_seed(&self, counter: u32) -> [u8; 32] {
        Sha256::new()
            .chain_update(b"zatca-sim stamp key")
            .chain_update(self.key.to_bytes())
            .chain_update(counter.to_be_bytes())
            .finalize()
            .into()
    }

    /// Issues the certificate of the gateway's own cryptographic stamp (what ZATCA signs cleared
    /// invoices with): `CN=ZATCA-SIM-STAMP`, signed by this CA, for `public_key`. Serial and
    /// validity are fixed so that a seeded CA issues the same stamp certificate on every start.
    pub(crate) fn issue_stamp_certificate(
        &self,
        public_key: &k256::ecdsa::VerifyingKey,
    ) -> Result<Vec<u8>, IssueError> {
        let subject = Name::from_str("CN=ZATCA-SIM-STAMP,OU=Clearance,O=ZATCA Simulator,C=SA").map_err(issue_err)?;
        let serial = derived_serial(b"zatca-sim stamp serial", &public_key.to_sec1_bytes());
        let spki = SubjectPublicKeyInfoOwned::from_key(public_key).map_err(issue_err)?;
        let profile = Profile {
            issuer: self.name.clone(),
            subject,
            ca: false,
            subject_alt_name: None,
        };
        build_der(profile, serial, fixed_validity()?, spki, &self.key)
    }

    /// Issues a CSID certificate for the CSR's key, subject and SAN, valid from one minute ago
    /// (clock skew) for `validity`. Returns the DER.
    pub fn issue(&self, csr: &CsrRequest, now: SystemTime, validity: Duration) -> Result<Vec<u8>, IssueError> {
        let not_before = now.checked_sub(Duration::from_secs(60)).unwrap_or(now);
        let profile = Profile {
            issuer: self.name.clone(),
            subject: csr.subject.clone(),
            ca: false,
            subject_alt_name: csr.subject_alt_name.clone(),
        };
        build_der(
            profile,
            random_bytes::<19>(),
            validity_between(not_before, now + validity)?,
            csr.public_key.clone(),
            &self.key,
        )
    }
}
