//! One error type for every stage: a list of issues, each with a stable code, the JSON path
//! (or XML location) it concerns, a message and, where one applies, the ZATCA rule id.

use std::fmt;

use serde::Serialize;

/// Declares [`Code`]: one variant per code, with its wire string.
macro_rules! codes {
    ($($variant:ident = $text:literal,)*) => {
        /// Every error and warning code the core raises: the one list of this family. The wire
        /// form ([`Code::as_str`], the `code` of an [`Issue`]) is stable snake_case; the npm
        /// package's `ZatcaErrorCode` union is checked against [`Code::ALL`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $(#[doc = concat!("`", $text, "`")] $variant,)*
        }

        impl Code {
            /// Every code, in the order declared (alphabetical by wire string).
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The wire string, e.g. `invalid_vat_number`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)*
                }
            }
        }
    };
}

codes! {
    AmountOverflow = "amount_overflow",
    CertDigestMismatch = "cert_digest_mismatch",
    DiscountExceedsLine = "discount_exceeds_line",
    EmptyValue = "empty_value",
    ExchangeRateOne = "exchange_rate_one",
    FieldTooLong = "field_too_long",
    ForbiddenCharacter = "forbidden_character",
    IncompleteBuyerAddress = "incomplete_buyer_address",
    IncompleteSellerAddress = "incomplete_seller_address",
    Internal = "internal",
    InvalidBuildingNumber = "invalid_building_number",
    InvalidBuyerId = "invalid_buyer_id",
    InvalidBuyerIdScheme = "invalid_buyer_id_scheme",
    InvalidCertificate = "invalid_certificate",
    InvalidCharacter = "invalid_character",
    InvalidCountry = "invalid_country",
    InvalidCountryCode = "invalid_country_code",
    InvalidCsr = "invalid_csr",
    InvalidCsrConfig = "invalid_csr_config",
    InvalidCsrSignature = "invalid_csr_signature",
    InvalidCurrency = "invalid_currency",
    InvalidDate = "invalid_date",
    InvalidDeliveryPeriod = "invalid_delivery_period",
    InvalidDescription = "invalid_description",
    InvalidEgsSerial = "invalid_egs_serial",
    InvalidEnvironment = "invalid_environment",
    InvalidExchangeRate = "invalid_exchange_rate",
    InvalidExemptionReasonCode = "invalid_exemption_reason_code",
    InvalidGroupMemberTin = "invalid_group_member_tin",
    InvalidIcv = "invalid_icv",
    InvalidIdFormat = "invalid_id_format",
    InvalidInvoiceNumber = "invalid_invoice_number",
    InvalidInvoiceType = "invalid_invoice_type",
    InvalidJson = "invalid_json",
    InvalidNumber = "invalid_number",
    InvalidPaymentMeansCode = "invalid_payment_means_code",
    InvalidPih = "invalid_pih",
    InvalidPostalCode = "invalid_postal_code",
    InvalidPrivateKey = "invalid_private_key",
    InvalidPublicKey = "invalid_public_key",
    InvalidQr = "invalid_qr",
    InvalidQrModuleSize = "invalid_qr_module_size",
    InvalidQrTag = "invalid_qr_tag",
    InvalidQuantity = "invalid_quantity",
    InvalidSellerId = "invalid_seller_id",
    InvalidSellerIdScheme = "invalid_seller_id_scheme",
    InvalidSignature = "invalid_signature",
    InvalidSignatureInformation = "invalid_signature_information",
    InvalidSignatureReference = "invalid_signature_reference",
    InvalidSigningTime = "invalid_signing_time",
    InvalidTime = "invalid_time",
    InvalidTransactionFlags = "invalid_transaction_flags",
    InvalidType = "invalid_type",
    InvalidUnitPrice = "invalid_unit_price",
    InvalidUuid = "invalid_uuid",
    InvalidValue = "invalid_value",
    InvalidVatNumber = "invalid_vat_number",
    InvalidVatRate = "invalid_vat_rate",
    InvalidXml = "invalid_xml",
    InvoiceHashMismatch = "invoice_hash_mismatch",
    IssuerNameMismatch = "issuer_name_mismatch",
    KeyCertificateMismatch = "key_certificate_mismatch",
    MissingBillingReference = "missing_billing_reference",
    MissingBuyer = "missing_buyer",
    MissingBuyerId = "missing_buyer_id",
    MissingBuyerName = "missing_buyer_name",
    MissingBuyerNationalId = "missing_buyer_national_id",
    MissingCertificate = "missing_certificate",
    MissingContractId = "missing_contract_id",
    MissingDeliveryDate = "missing_delivery_date",
    MissingDeliveryPeriod = "missing_delivery_period",
    MissingElement = "missing_element",
    MissingExchangeRate = "missing_exchange_rate",
    MissingExemptionReason = "missing_exemption_reason",
    MissingExemptionReasonText = "missing_exemption_reason_text",
    MissingField = "missing_field",
    MissingIcv = "missing_icv",
    MissingLineItems = "missing_line_items",
    MissingPih = "missing_pih",
    MissingQr = "missing_qr",
    MissingQrTag = "missing_qr_tag",
    MissingReason = "missing_reason",
    MissingSellerId = "missing_seller_id",
    MissingSignature = "missing_signature",
    MissingSignatureValue = "missing_signature_value",
    MissingSignedProperties = "missing_signed_properties",
    MissingUuid = "missing_uuid",
    MissingVatNumber = "missing_vat_number",
    NamespaceConflict = "namespace_conflict",
    NegativeAmount = "negative_amount",
    NotAnInvoice = "not_an_invoice",
    PihMismatch = "pih_mismatch",
    QrHashMismatch = "qr_hash_mismatch",
    QrMismatch = "qr_mismatch",
    QrTooLong = "qr_too_long",
    QrValueTooLong = "qr_value_too_long",
    RequiredField = "required_field",
    SameVatNumber = "same_vat_number",
    SellerNameTooLong = "seller_name_too_long",
    SerialNumberMismatch = "serial_number_mismatch",
    SignedPropertiesDigestMismatch = "signed_properties_digest_mismatch",
    UnexpectedExchangeRate = "unexpected_exchange_rate",
    UnexpectedExemptionReason = "unexpected_exemption_reason",
    UnknownField = "unknown_field",
    UnsupportedCurve = "unsupported_curve",
    XmlNotUtf8 = "xml_not_utf8",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How serious an issue is. ZATCA rejects documents with errors and accepts (HTTP 202) documents
/// with warnings, so builders report warnings next to their result instead of failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The document would be rejected (or cannot be produced at all).
    Error,
    /// ZATCA accepts the document but reports the rule as a warning.
    Warning,
}

/// One finding: a stable snake_case `code`, an optional `path` (JSON path of the input field,
/// e.g. `line_items[2].quantity`), a human message and the ZATCA rule id when one applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// Stable machine-readable code, e.g. `invalid_vat_number`: a [`Code`] of the core, or a
    /// code of a crate layered on it (see [`Issue::with_code`]).
    pub code: &'static str,
    /// JSON path of the offending input field, when the issue concerns one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Human-readable message (lowercase fragment, no trailing period).
    pub message: String,
    /// ZATCA / EN 16931 rule id (`BR-KSA-39`, `BR-CO-15`) when the issue is a violated rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
    /// Error or warning.
    pub severity: Severity,
}

impl Issue {
    /// A new error-severity issue.
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Issue::with_code(code.as_str(), message)
    }

    /// An error-severity issue with a code of another family than the core's [`Code`]: the
    /// crates layered on the core (the WebAssembly bindings' `BINDING_CODES`, the PDF
    /// renderer's) keep their own lists and report through the core's error type.
    pub fn with_code(code: &'static str, message: impl Into<String>) -> Self {
        Issue {
            code,
            path: None,
            message: message.into(),
            rule: None,
            severity: Severity::Error,
        }
    }

    /// A new warning-severity issue.
    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Issue {
            severity: Severity::Warning,
            ..Issue::error(code, message)
        }
    }

    /// Sets the path.
    #[must_use]
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Sets the ZATCA rule id.
    #[must_use]
    pub fn rule(mut self, rule: &'static str) -> Self {
        self.rule = Some(rule);
        self
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "{path}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(rule) = self.rule {
            write!(f, " [{rule}]")?;
        }
        write!(f, " ({})", self.code)
    }
}

/// The error of every fallible core operation: one or more issues, all reported at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Error {
    issues: Vec<Issue>,
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with a single issue.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Error {
            issues: vec![Issue::error(code, message)],
        }
    }

    /// An error with a code of another family than the core's (see [`Issue::with_code`]).
    pub fn with_code(code: &'static str, message: impl Into<String>) -> Self {
        Error {
            issues: vec![Issue::with_code(code, message)],
        }
    }

    /// An error made of several issues; the first one is the primary.
    /// An empty list becomes an `internal` error rather than an empty error.
    pub fn from_issues(issues: Vec<Issue>) -> Self {
        if issues.is_empty() {
            return Error::new(Code::Internal, "error raised without issues");
        }
        Error { issues }
    }

    /// Sets the path of the primary issue.
    #[must_use]
    pub fn at(mut self, path: impl Into<String>) -> Self {
        if let Some(first) = self.issues.first_mut() {
            first.path = Some(path.into());
        }
        self
    }

    /// Sets the rule id of the primary issue.
    #[must_use]
    pub fn rule(mut self, rule: &'static str) -> Self {
        if let Some(first) = self.issues.first_mut() {
            first.rule = Some(rule);
        }
        self
    }

    /// The primary issue.
    pub fn primary(&self) -> &Issue {
        // `from_issues` and `new` guarantee at least one issue.
        &self.issues[0]
    }

    /// The code of the primary issue.
    pub fn code(&self) -> &'static str {
        self.primary().code
    }

    /// All issues (errors first, then any warnings collected on the way).
    pub fn issues(&self) -> &[Issue] {
        &self.issues
    }
}

/// The part `range` of `text`, or an `internal` error when it is not one: for byte positions
/// the code itself computed (a parse's spans, the writer's layout), where a miss is a bug that
/// must not become a silently wrong document.
pub(crate) fn part<R>(text: &str, range: R) -> Result<&str>
where
    R: std::slice::SliceIndex<str, Output = str> + fmt::Debug + Clone,
{
    text.get(range.clone()).ok_or_else(|| {
        Error::new(
            Code::Internal,
            format!("byte range {range:?} is not within the document"),
        )
    })
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{issue}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<Issue> for Error {
    fn from(issue: Issue) -> Self {
        Error { issues: vec![issue] }
    }
}
