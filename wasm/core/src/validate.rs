//! ZATCA business rules checked on the input before anything is built (SPEC §1, §3, §12).
//!
//! Rules that ZATCA flags as errors (the document would be rejected) become error issues;
//! rules it flags as warnings (accepted with HTTP 202) become warning issues that travel with
//! the built document. Every issue names the JSON path and the rule id.

use rust_decimal::Decimal;

use crate::error::{Code, Error, Issue, Result, Severity};
use crate::model::{Address, Decoded, DocumentType, InvoiceInput, InvoiceType, Party, VatCategory};
use crate::totals::exemption_text;

/// The currency codes ZATCA's BR-KSA-CL-01 accepts: its schematron's ISO 4217 list, as written
/// there (older codes such as MRO and STD, not their successors MRU and STN).
const CURRENCIES: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRO MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLL SOS SRD SSP STD SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UZS VEF VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWL";

/// Seller identification schemes (BR-KSA-08).
const SELLER_SCHEMES: [&str; 6] = ["CRN", "MOM", "MLS", "SAG", "OTH", "700"];
/// Buyer identification schemes (BR-KSA-14).
const BUYER_SCHEMES: [&str; 11] = [
    "TIN", "CRN", "MOM", "MLS", "700", "SAG", "NAT", "GCC", "IQA", "PAS", "OTH",
];
/// Payment means codes ZATCA lists (UNTDID 4461 subset, BR-KSA-16).
const PAYMENT_MEANS: [&str; 6] = ["1", "10", "30", "42", "48", "68"];

/// Upper bounds that keep every product and sum far inside `Decimal`'s 28 digits.
const MAX_QUANTITY: i64 = 1_000_000_000;
const MAX_PRICE: i64 = 1_000_000_000_000;

impl InvoiceInput {
    /// Decodes the JSON contract and checks the business rules, reporting every unknown field,
    /// bad value and violated rule at once. Decoding ([`crate::model`]) and checking (this
    /// module) meet here so that the model stays below the checks.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        checked(crate::model::decode_bytes(bytes)?)
    }

    /// Decodes and checks an already parsed JSON value.
    pub fn from_value(value: &serde_json::Value) -> Result<Self> {
        checked(crate::model::decode_value(value))
    }
}

/// Everything the core's model checks say about a JSON request, without stopping: the input
/// when it decoded, and every decoding issue and violated rule (errors first). A validator
/// layered on the core (`zatca-rules`' `validate_input`) starts from this; the core itself
/// refuses at the first error ([`InvoiceInput::from_json`], [`crate::ubl::build`]).
#[derive(Debug, Clone)]
pub struct Checked {
    /// The decoded input; `None` when too little of it decoded to be checked.
    pub input: Option<InvoiceInput>,
    /// Decoding issues and rule violations, errors first, each with its JSON path.
    pub issues: Vec<Issue>,
}

/// Decodes and checks JSON bytes as [`Checked`]; an error only when they are not JSON at all.
pub fn check_json(bytes: &[u8]) -> Result<Checked> {
    Ok(check_decoded(crate::model::decode_bytes(bytes)?))
}

/// Decodes and checks an already parsed JSON value as [`Checked`].
pub fn check_value(value: &serde_json::Value) -> Checked {
    check_decoded(crate::model::decode_value(value))
}

fn check_decoded(decoded: Decoded) -> Checked {
    let Decoded { input, mut issues } = decoded;
    if let Some(input) = &input {
        if issues.is_empty() {
            issues = validate(input);
        } else {
            issues.extend(rules_beside_decoding(input, &issues));
        }
        crate::prim::sort::partition_stable(&mut issues, |i| i.severity != Severity::Warning);
    }
    Checked { input, issues }
}

/// The rule violations of what did decode, beside decoding issues: all problems at once. A
/// rule about a part that failed to decode would only repeat that failure (a dropped line
/// makes "at least one line" fire), so those are left out.
fn rules_beside_decoding(input: &InvoiceInput, issues: &[Issue]) -> Vec<Issue> {
    let decoded: Vec<String> = issues.iter().filter_map(|i| i.path.clone()).collect();
    let repeats = |path: &str| {
        decoded.iter().any(|d| {
            let parent = d.rsplit_once('.').map_or(d.as_str(), |(p, _)| p);
            path.starts_with(parent) || (path == "line_items" && d.starts_with("line_items["))
        })
    };
    validate(input)
        .into_iter()
        .filter(|i| !i.path.as_deref().is_some_and(repeats))
        .collect()
}

fn checked(decoded: Decoded) -> Result<InvoiceInput> {
    let Decoded { input, mut issues } = decoded;
    match input {
        Some(input) if issues.is_empty() => Ok(input),
        Some(input) => {
            let rules = rules_beside_decoding(&input, &issues);
            issues.extend(rules);
            crate::prim::sort::partition_stable(&mut issues, |i| i.severity != Severity::Warning);
            Err(Error::from_issues(issues))
        }
        None => Err(Error::from_issues(issues)),
    }
}

fn err(code: Code, path: impl Into<String>, message: impl Into<String>) -> Issue {
    Issue::error(code, message).at(path)
}

fn warn(code: Code, path: impl Into<String>, message: impl Into<String>) -> Issue {
    Issue::warning(code, message).at(path)
}

/// Whether `s` is `YYYY-MM-DD` naming a real calendar day.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| {
        s.get(r)
            .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|t| t.parse::<u32>().ok())
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    y >= 1900 && (1..=days).contains(&d)
}

/// Whether `s` is `HH:MM:SS` (BR-KSA-70 also allows a trailing `Z`).
pub fn is_time(s: &str) -> bool {
    let s = s.strip_suffix('Z').unwrap_or(s);
    let b = s.as_bytes();
    if b.len() != 8
        || b[2] != b':'
        || b[5] != b':'
        || !b
            .iter()
            .enumerate()
            .all(|(i, c)| i == 2 || i == 5 || c.is_ascii_digit())
    {
        return false;
    }
    let n = |i: usize| u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0');
    n(0) < 24 && n(3) < 60 && n(6) < 60
}

/// 15 digits, first and last `3` (BR-KSA-40 / BR-KSA-44).
pub fn is_vat_number(s: &str) -> bool {
    s.len() == 15 && s.bytes().all(|c| c.is_ascii_digit()) && s.starts_with('3') && s.ends_with('3')
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|c| c.is_ascii_digit())
}

/// The format ZATCA expects for some identifier schemes: (rule, first digit); all are 10 digits
/// (BR-KSA-F-07..F-11, warnings).
fn id_format(scheme: &str) -> Option<(&'static str, Option<char>)> {
    match scheme {
        "TIN" => Some(("BR-KSA-F-07", Some('3'))),
        "CRN" => Some(("BR-KSA-F-08", None)),
        "700" => Some(("BR-KSA-F-09", Some('7'))),
        "NAT" => Some(("BR-KSA-F-10", Some('1'))),
        "IQA" => Some(("BR-KSA-F-11", Some('2'))),
        _ => None,
    }
}

fn check_id_format(id: &crate::model::PartyId, path: &str, out: &mut Vec<Issue>) {
    if let Some((rule, first)) = id_format(&id.scheme) {
        if !digits(&id.value, 10) || first.is_some_and(|c| !id.value.starts_with(c)) {
            let start = first.map_or(String::new(), |c| format!(" starting with {c}"));
            out.push(
                warn(
                    Code::InvalidIdFormat,
                    path,
                    format!("a {} id should be 10 digits{start}", id.scheme),
                )
                .rule(rule),
            );
        }
    }
}

/// How a party's identification is checked: seller ids are warnings (BR-KSA-08), buyer ids
/// errors (BR-KSA-14); both need a listed scheme, an alphanumeric value and the scheme's format.
struct IdRules {
    schemes: &'static [&'static str],
    severity: Severity,
    rule: &'static str,
    scheme_code: Code,
    value_code: Code,
}

const SELLER_ID: IdRules = IdRules {
    schemes: &SELLER_SCHEMES,
    severity: Severity::Warning,
    rule: "BR-KSA-08",
    scheme_code: Code::InvalidSellerIdScheme,
    value_code: Code::InvalidSellerId,
};

const BUYER_ID: IdRules = IdRules {
    schemes: &BUYER_SCHEMES,
    severity: Severity::Error,
    rule: "BR-KSA-14",
    scheme_code: Code::InvalidBuyerIdScheme,
    value_code: Code::InvalidBuyerId,
};

fn check_party_id(id: &crate::model::PartyId, path: &str, value_path: &str, rules: &IdRules, out: &mut Vec<Issue>) {
    let issue = |code, message: String| {
        let issue = Issue {
            severity: rules.severity,
            ..Issue::error(code, message)
        };
        issue.at(path).rule(rules.rule)
    };
    if !rules.schemes.contains(&id.scheme.as_str()) {
        out.push(issue(
            rules.scheme_code,
            format!("scheme must be one of {}", rules.schemes.join(", ")),
        ));
    }
    if !is_alphanumeric(&id.value) {
        // The rule's message says "alphanumeric", its assert does not check it: the core's own.
        let mut issue = issue(rules.value_code, "must contain only letters and digits".into());
        issue.rule = None;
        out.push(issue);
    }
    check_id_format(id, value_path, out);
}

fn is_alphanumeric(s: &str) -> bool {
    s.chars().all(char::is_alphanumeric)
}

/// Checks every rule and returns all issues found (errors and warnings).
pub fn validate(input: &InvoiceInput) -> Vec<Issue> {
    let mut out = Vec::new();
    let standard = input.invoice_type == InvoiceType::Standard;
    let flags = &input.transaction_flags;

    if input.invoice_number.chars().count() > 127 {
        out.push(
            warn(
                Code::InvalidInvoiceNumber,
                "invoice_number",
                "should be at most 127 characters",
            )
            .rule("BR-KSA-F-06-C1"),
        );
    }
    if !is_date(&input.invoice_date) {
        out.push(err(Code::InvalidDate, "invoice_date", "must be a date YYYY-MM-DD"));
    }
    if !is_time(&input.invoice_time) {
        out.push(err(Code::InvalidTime, "invoice_time", "must be a time HH:mm:ss").rule("BR-KSA-70"));
    }
    if !CURRENCIES.split(' ').any(|c| c == input.currency) {
        out.push(
            err(
                Code::InvalidCurrency,
                "currency",
                format!("`{}` is not an ISO 4217 currency code", input.currency),
            )
            .rule("BR-KSA-CL-01"),
        );
    }
    if input.currency != "SAR" {
        match input.sar_exchange_rate {
            None => out.push(err(
                Code::MissingExchangeRate,
                "sar_exchange_rate",
                "is required when the currency is not SAR: ZATCA wants the VAT total in SAR too",
            )),
            Some(r) if r <= Decimal::ZERO => {
                out.push(err(Code::InvalidExchangeRate, "sar_exchange_rate", "must be positive"))
            }
            Some(r) if r == Decimal::ONE => out.push(
                warn(
                    Code::ExchangeRateOne,
                    "sar_exchange_rate",
                    "the VAT total in SAR equals the VAT total in the document currency",
                )
                .rule("BR-KSA-97"),
            ),
            Some(_) => {}
        }
    } else if input.sar_exchange_rate.is_some_and(|r| r != Decimal::ONE) {
        out.push(err(
            Code::UnexpectedExchangeRate,
            "sar_exchange_rate",
            "only applies to documents in another currency than SAR",
        ));
    }
    if !PAYMENT_MEANS.contains(&input.payment_means_code.as_str()) {
        out.push(
            warn(
                Code::InvalidPaymentMeansCode,
                "payment_means_code",
                "should be one of 1, 10, 30, 42, 48, 68 (UNTDID 4461)",
            )
            .rule("BR-KSA-16"),
        );
    }
    for (path, date) in [
        ("delivery_date", &input.delivery_date),
        ("delivery_end_date", &input.delivery_end_date),
    ] {
        if date.as_deref().is_some_and(|d| !is_date(d)) {
            out.push(err(Code::InvalidDate, path, "must be a date YYYY-MM-DD"));
        }
    }
    match (&input.delivery_date, &input.delivery_end_date) {
        (None, Some(_)) => out.push(
            warn(
                Code::MissingDeliveryDate,
                "delivery_date",
                "is required with delivery_end_date",
            )
            .rule("BR-KSA-35"),
        ),
        (Some(start), Some(end)) if end < start => {
            out.push(
                warn(
                    Code::InvalidDeliveryPeriod,
                    "delivery_end_date",
                    "must not be before delivery_date",
                )
                .rule("BR-KSA-36"),
            );
        }
        _ => {}
    }
    if standard && input.document_type == DocumentType::Invoice && input.delivery_date.is_none() {
        out.push(
            warn(
                Code::MissingDeliveryDate,
                "delivery_date",
                "a standard tax invoice should carry the supply date",
            )
            .rule("BR-KSA-15"),
        );
    }

    // KSA-2 flag combinations.
    if flags.self_billed && flags.export {
        out.push(
            err(
                Code::InvalidTransactionFlags,
                "transaction_flags.self_billed",
                "self-billing is not allowed on export invoices",
            )
            .rule("BR-KSA-07"),
        );
    }
    if flags.self_billed && !standard {
        out.push(
            err(
                Code::InvalidTransactionFlags,
                "transaction_flags.self_billed",
                "self-billing is not allowed on simplified documents",
            )
            .rule("BR-KSA-31"),
        );
    }
    if flags.b2g && standard && input.contract_id.is_none() {
        out.push(
            err(
                Code::MissingContractId,
                "contract_id",
                "B2G documents need the contract id",
            )
            .rule("BR-KSA-92"),
        );
    }
    if flags.summary && !standard && (input.delivery_date.is_none() || input.delivery_end_date.is_none()) {
        let issue = err(
            Code::MissingDeliveryPeriod,
            "delivery_end_date",
            "simplified summary invoices need delivery_date and delivery_end_date",
        );
        // ZATCA's BR-KSA-72 asks for the period only beside a Saudi buyer's address; the core
        // asks for it on every summary invoice.
        let saudi_buyer = input
            .buyer
            .as_ref()
            .and_then(|b| b.address.as_ref())
            .is_some_and(|a| a.country.as_deref() == Some("SA"));
        out.push(if saudi_buyer { issue.rule("BR-KSA-72") } else { issue });
    }

    // Notes.
    if input.document_type.is_note() {
        // ZATCA only warns (BR-KSA-56); the core needs the reference to write the note.
        if input.original_invoice_number.is_none() && input.original_invoice_uuid.is_none() {
            out.push(err(
                Code::MissingBillingReference,
                "original_invoice_number",
                "credit and debit notes must reference the original invoice",
            ));
        }
        if input.reason.is_none() && input.reason_ar.is_none() {
            out.push(
                err(
                    Code::MissingReason,
                    "reason",
                    "credit and debit notes must state the reason",
                )
                .rule("BR-KSA-17"),
            );
        }
    }

    check_seller(&input.seller, &mut out);
    check_buyer(input, standard, &mut out);
    check_lines(input, &mut out);
    out
}

fn check_seller(seller: &Party, out: &mut Vec<Issue>) {
    if seller.name.is_none() && seller.name_ar.is_none() {
        out.push(err(Code::MissingField, "seller.name", "is required"));
    }
    // QR tag 1 carries the registration name with a one-byte length.
    if seller.display_name().is_some_and(|n| n.len() > 255) {
        out.push(err(
            Code::SellerNameTooLong,
            "seller.name",
            "the seller name (with name_ar) must fit in 255 UTF-8 bytes for the QR code",
        ));
    }
    match &seller.vat_number {
        None => out.push(err(Code::MissingVatNumber, "seller.vat_number", "is required").rule("BR-KSA-39")),
        Some(v) if !is_vat_number(v) => {
            out.push(
                err(
                    Code::InvalidVatNumber,
                    "seller.vat_number",
                    "must be 15 digits starting and ending with 3",
                )
                .rule("BR-KSA-40"),
            );
        }
        Some(_) => {}
    }
    match seller.identification() {
        None => out.push(
            warn(
                Code::MissingSellerId,
                "seller.crn",
                "the seller should have a CRN (or another id with a scheme)",
            )
            .rule("BR-KSA-08"),
        ),
        Some(id) => {
            let path = if seller.crn.is_some() {
                "seller.crn"
            } else {
                "seller.other_id"
            };
            check_party_id(&id, path, path, &SELLER_ID, out);
        }
    }
    let no_address = Address::default();
    let address = match &seller.address {
        Some(a) => a,
        None => {
            out.push(err(Code::MissingField, "seller.address", "is required"));
            // Checked as an empty one: the warnings below name the parts ZATCA wants.
            &no_address
        }
    };
    let missing = missing_address_parts(address, true);
    if !missing.is_empty() {
        out.push(
            warn(
                Code::IncompleteSellerAddress,
                "seller.address",
                format!("missing {}", missing.join(", ")),
            )
            .rule("BR-KSA-09"),
        );
    }
    if address.building_number.as_deref().is_some_and(|b| !digits(b, 4)) {
        out.push(
            warn(
                Code::InvalidBuildingNumber,
                "seller.address.building_number",
                "must be 4 digits",
            )
            .rule("BR-KSA-37"),
        );
    }
    if address.postal_code.as_deref().is_some_and(|p| !digits(p, 5)) {
        out.push(
            warn(
                Code::InvalidPostalCode,
                "seller.address.postal_code",
                "must be 5 digits",
            )
            .rule("BR-KSA-66"),
        );
    }
    check_country(address, "seller.address.country", out);
}

fn check_country(address: &Address, path: &str, out: &mut Vec<Issue>) {
    if let Some(c) = &address.country {
        if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            out.push(
                warn(
                    Code::InvalidCountry,
                    path,
                    "should be an ISO 3166-1 alpha-2 code such as SA",
                )
                .rule("BR-CL-14"),
            );
        }
    }
}

fn missing_address_parts(a: &Address, national: bool) -> Vec<&'static str> {
    let mut parts = vec![("street", &a.street), ("city", &a.city), ("country", &a.country)];
    if national {
        parts.extend([
            ("building_number", &a.building_number),
            ("postal_code", &a.postal_code),
            ("district", &a.district),
        ]);
    }
    parts.into_iter().filter(|(_, v)| v.is_none()).map(|(n, _)| n).collect()
}

fn check_buyer(input: &InvoiceInput, standard: bool, out: &mut Vec<Issue>) {
    let needs_nat = input.line_items.iter().any(|l| {
        matches!(
            l.exemption_reason_code.as_deref(),
            Some("VATEX-SA-EDU" | "VATEX-SA-HEA")
        )
    });
    let Some(buyer) = &input.buyer else {
        if standard {
            // Not BR-KSA-42: its context is the buyer's party, which a document without a buyer
            // lacks (ZATCA then reports nothing).
            out.push(warn(
                Code::MissingBuyer,
                "buyer",
                "standard documents should name the buyer",
            ));
        }
        if needs_nat {
            out.push(
                err(
                    Code::MissingBuyerNationalId,
                    "buyer.other_id",
                    "VATEX-SA-EDU/HEA need the buyer's national id (scheme NAT)",
                )
                .rule("BR-KSA-49"),
            );
        }
        if !standard && input.transaction_flags.summary {
            out.push(
                warn(
                    Code::MissingBuyer,
                    "buyer.name",
                    "simplified summary invoices should name the buyer",
                )
                .rule("BR-KSA-71"),
            );
        }
        return;
    };
    if buyer.display_name().is_none() {
        if standard {
            out.push(
                warn(
                    Code::MissingBuyerName,
                    "buyer.name",
                    "standard documents should name the buyer",
                )
                .rule("BR-KSA-42"),
            );
        } else if needs_nat {
            out.push(
                warn(
                    Code::MissingBuyerName,
                    "buyer.name",
                    "VATEX-SA-EDU/HEA need the buyer name",
                )
                .rule("BR-KSA-25"),
            );
        }
    }
    if let Some(v) = &buyer.vat_number {
        if !is_vat_number(v) {
            out.push(
                err(
                    Code::InvalidVatNumber,
                    "buyer.vat_number",
                    "must be 15 digits starting and ending with 3",
                )
                .rule("BR-KSA-44"),
            );
        } else if input.seller.vat_number.as_deref() == Some(v.as_str()) {
            out.push(
                err(
                    Code::SameVatNumber,
                    "buyer.vat_number",
                    "must differ from the seller's VAT number",
                )
                .rule("BR-CUSTOM-VALIDATION-01"),
            );
        }
    }
    let id = buyer.identification();
    if let Some(id) = &id {
        let (path, value_path) = if buyer.crn.is_some() {
            ("buyer.crn", "buyer.crn")
        } else {
            ("buyer.other_id.scheme", "buyer.other_id.value")
        };
        check_party_id(id, path, value_path, &BUYER_ID, out);
    }
    if needs_nat && id.as_ref().is_none_or(|i| i.scheme != "NAT") {
        out.push(
            err(
                Code::MissingBuyerNationalId,
                "buyer.other_id",
                "VATEX-SA-EDU/HEA need the buyer's national id (scheme NAT)",
            )
            .rule("BR-KSA-49"),
        );
    }
    if standard && buyer.vat_number.is_none() && id.is_none() {
        out.push(
            warn(
                Code::MissingBuyerId,
                "buyer.other_id",
                "a buyer without VAT number should have another id",
            )
            .rule("BR-KSA-81"),
        );
    }
    let no_address = Address::default();
    let address = match &buyer.address {
        Some(a) => {
            check_country(a, "buyer.address.country", out);
            a
        }
        // Checked as an empty one: the warning below names the parts ZATCA wants.
        None => &no_address,
    };
    if standard {
        // As ZATCA decides: BR-KSA-63 (the national address parts) is for a buyer whose country
        // is SA; any other buyer, one without a country too, falls under BR-KSA-10.
        let saudi = address.country.as_deref() == Some("SA");
        let missing = missing_address_parts(address, saudi);
        if !missing.is_empty() {
            let rule = if saudi { "BR-KSA-63" } else { "BR-KSA-10" };
            out.push(
                warn(
                    Code::IncompleteBuyerAddress,
                    "buyer.address",
                    format!("missing {}", missing.join(", ")),
                )
                .rule(rule),
            );
        }
        if saudi && address.postal_code.as_deref().is_some_and(|p| !digits(p, 5)) {
            out.push(warn(Code::InvalidPostalCode, "buyer.address.postal_code", "must be 5 digits").rule("BR-KSA-67"));
        }
    }
}

fn check_lines(input: &InvoiceInput, out: &mut Vec<Issue>) {
    if input.line_items.is_empty() {
        out.push(err(Code::MissingLineItems, "line_items", "at least one line is required").rule("BR-16"));
    }
    let min_quantity = Decimal::new(1, 4);
    for (i, line) in input.line_items.iter().enumerate() {
        let p = |field: &str| format!("line_items[{i}].{field}");
        let name_len = crate::model::with_arabic(&line.description, line.description_ar.as_deref())
            .chars()
            .count();
        if name_len > 1000 {
            out.push(
                warn(
                    Code::InvalidDescription,
                    p("description"),
                    "should be at most 1000 characters",
                )
                .rule("BR-KSA-F-06-C19"),
            );
        }
        if line.quantity < min_quantity {
            // Negative: BR-KSA-F-04; zero: BR-22 (a quantity written `0`); in between, the core's
            // own floor.
            let issue = err(Code::InvalidQuantity, p("quantity"), "must be at least 0.0001");
            out.push(match line.quantity {
                q if q < Decimal::ZERO => issue.rule("BR-KSA-F-04"),
                q if q.is_zero() => issue.rule("BR-22"),
                _ => issue,
            });
        } else if line.quantity > Decimal::from(MAX_QUANTITY) {
            out.push(err(
                Code::InvalidQuantity,
                p("quantity"),
                "must be at most 1,000,000,000",
            ));
        }
        if line.unit_price < Decimal::ZERO {
            out.push(err(Code::NegativeAmount, p("unit_price"), "must not be negative").rule("BR-KSA-F-04"));
        } else if line.unit_price > Decimal::from(MAX_PRICE) {
            out.push(err(
                Code::InvalidUnitPrice,
                p("unit_price"),
                "must be at most 1,000,000,000,000",
            ));
        }
        if let Some(d) = line.discount {
            if d < Decimal::ZERO {
                out.push(err(Code::NegativeAmount, p("discount"), "must not be negative").rule("BR-KSA-F-04"));
            } else if line.quantity <= Decimal::from(MAX_QUANTITY)
                && line.unit_price <= Decimal::from(MAX_PRICE)
                && d > line.quantity * line.unit_price.max(Decimal::ZERO)
            {
                out.push(
                    err(
                        Code::DiscountExceedsLine,
                        p("discount"),
                        "must not exceed quantity × unit_price",
                    )
                    .rule("BR-KSA-F-04"),
                );
            }
        }
        let rate = line.vat_rate;
        if rate < Decimal::ZERO || rate > Decimal::ONE_HUNDRED {
            out.push(err(Code::InvalidVatRate, p("vat_rate"), "must be 0..100").rule("BR-KSA-DEC-02"));
        } else if rate.normalize().scale() > 2 {
            // The document writes two decimals: refused rather than rounded (the core's own).
            out.push(err(
                Code::InvalidVatRate,
                p("vat_rate"),
                "must have at most two decimals",
            ));
        } else {
            match line.vat_category {
                VatCategory::S if rate != Decimal::from(15) && rate != Decimal::from(5) => {
                    out.push(
                        err(
                            Code::InvalidVatRate,
                            p("vat_rate"),
                            "standard-rated lines must be 15 or 5",
                        )
                        .rule("BR-KSA-84"),
                    );
                }
                VatCategory::Z | VatCategory::E | VatCategory::O if !rate.is_zero() => {
                    let rule = match line.vat_category {
                        VatCategory::Z => "BR-Z-05",
                        VatCategory::E => "BR-E-05",
                        _ => "BR-KSA-11",
                    };
                    out.push(
                        err(
                            Code::InvalidVatRate,
                            p("vat_rate"),
                            "zero-rated, exempt and out-of-scope lines must have rate 0",
                        )
                        .rule(rule),
                    );
                }
                _ => {}
            }
        }
        match (line.vat_category, line.exemption_reason_code.as_deref()) {
            (VatCategory::S, Some(_)) => {
                out.push(
                    warn(
                        Code::UnexpectedExemptionReason,
                        p("exemption_reason_code"),
                        "standard-rated lines should take no exemption reason",
                    )
                    .rule("BR-S-10"),
                );
            }
            (VatCategory::S, None) if line.exemption_reason.is_some() => {
                out.push(
                    warn(
                        Code::UnexpectedExemptionReason,
                        p("exemption_reason"),
                        "standard-rated lines should take no exemption reason",
                    )
                    .rule("BR-S-10"),
                );
            }
            (cat @ (VatCategory::Z | VatCategory::E | VatCategory::O), None) => {
                let rule = match cat {
                    VatCategory::Z => "BR-KSA-69",
                    VatCategory::E => "BR-KSA-23",
                    _ => "BR-KSA-24",
                };
                out.push(
                    warn(
                        Code::MissingExemptionReason,
                        p("exemption_reason_code"),
                        "zero-rated, exempt and out-of-scope lines should carry a VATEX-SA-* code",
                    )
                    .rule(rule),
                );
            }
            (cat, Some(code)) => match exemption_text(code) {
                None => out.push(
                    warn(
                        Code::InvalidExemptionReasonCode,
                        p("exemption_reason_code"),
                        format!("`{code}` is not a VATEX-SA code"),
                    )
                    .rule("BR-KSA-CL-04"),
                ),
                Some((expected, _)) if expected != cat => out.push(
                    warn(
                        Code::InvalidExemptionReasonCode,
                        p("exemption_reason_code"),
                        format!("`{code}` belongs to category {}, not {}", expected.code(), cat.code()),
                    )
                    .rule("BR-KSA-CL-04"),
                ),
                Some(_) => {}
            },
            _ => {}
        }
        if line.vat_category == VatCategory::O
            && line.exemption_reason_code.is_some()
            && line.exemption_reason.is_none()
        {
            // Not BR-KSA-83: the document carries the code's official text, which satisfies it.
            out.push(warn(
                Code::MissingExemptionReasonText,
                p("exemption_reason"),
                "out-of-scope lines should explain the reason in words",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_times_and_vat_numbers() {
        assert!(is_date("2024-02-29") && !is_date("2023-02-29") && !is_date("2025-13-01") && !is_date("2025-1-01"));
        assert!(
            is_time("23:59:59")
                && is_time("10:00:00Z")
                && !is_time("24:00:00")
                && !is_time("10:00")
                && !is_time("10:00:00.5")
        );
        assert!(
            is_vat_number("399999999900003") && !is_vat_number("399999999900004") && !is_vat_number("39999999990003")
        );
    }

    fn issues(json: &str) -> Vec<(String, &'static str, Option<&'static str>)> {
        let input = InvoiceInput::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        validate(&input)
            .into_iter()
            .map(|i| (i.path.unwrap_or_else(String::new), i.code, i.rule))
            .collect()
    }

    #[test]
    fn rule_violations_carry_rule_ids() {
        let found = issues(
            r#"{"invoice_number":"1","invoice_date":"2025-02-30","invoice_time":"10:00","document_type":"credit_note",
            "seller":{"name":"A","vat_number":"123","address":{"street":"s","city":"c","country":"SA","building_number":"12"}},
            "buyer":{"name":"B","vat_number":"123","other_id":{"scheme":"XYZ","value":"1"}},
            "transaction_flags":{"self_billed":true},
            "line_items":[{"description":"x","quantity":0,"unit_price":-1,"vat_category":"S","vat_rate":10},
                          {"description":"y","quantity":1,"unit_price":1,"vat_category":"E","exemption_reason_code":"VATEX-SA-32"}]}"#,
        );
        for (path, code, rule) in [
            ("invoice_date", "invalid_date", None),
            ("invoice_time", "invalid_time", Some("BR-KSA-70")),
            ("original_invoice_number", "missing_billing_reference", None),
            ("reason", "missing_reason", Some("BR-KSA-17")),
            ("seller.vat_number", "invalid_vat_number", Some("BR-KSA-40")),
            (
                "seller.address.building_number",
                "invalid_building_number",
                Some("BR-KSA-37"),
            ),
            ("buyer.vat_number", "invalid_vat_number", Some("BR-KSA-44")),
            ("buyer.other_id.scheme", "invalid_buyer_id_scheme", Some("BR-KSA-14")),
            (
                "transaction_flags.self_billed",
                "invalid_transaction_flags",
                Some("BR-KSA-31"),
            ),
            ("line_items[0].quantity", "invalid_quantity", Some("BR-22")),
            ("line_items[0].unit_price", "negative_amount", Some("BR-KSA-F-04")),
            ("line_items[0].vat_rate", "invalid_vat_rate", Some("BR-KSA-84")),
            (
                "line_items[1].exemption_reason_code",
                "invalid_exemption_reason_code",
                Some("BR-KSA-CL-04"),
            ),
        ] {
            assert!(
                found.iter().any(|(p, c, r)| p == path && *c == code && *r == rule),
                "missing {path} {code} {rule:?} in {found:#?}"
            );
        }
    }
}
