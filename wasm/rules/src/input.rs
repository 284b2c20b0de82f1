//! A JSON request checked by the same rule implementations as the XML it produces.
//!
//! [`validate_input`] runs the core's model checks (decoding, required fields, totals and the
//! rules the core checks on its input) and, when they leave the document writable, writes the
//! unsigned UBL with the core and runs [`crate::validate`] on it. The findings are merged: the
//! core's own, then the XML's the core did not already make (one finding per rule id and place;
//! the core's wins), each located at the JSON field it comes from where the XPath maps back to
//! one. So a JSON request and the XML it produces cannot disagree: whatever ZATCA's rules say
//! about the document is said about the request.
//!
//! It lives here rather than in the core because it needs the rules, and the rules stay out of
//! the core so that the signing WebAssembly module keeps its size.

use serde::Serialize;
use zatca_core::model::{InvoiceInput, Party};
use zatca_core::ubl::{self, ChainInputs};
use zatca_core::{Issue, Severity};

use crate::{Context, Finding, IMPLEMENTED};

/// Which side of the pipeline a finding comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The core's checks of the JSON input model.
    Input,
    /// ZATCA's rules (or the XSD structure pass) on the UBL the core writes from it.
    Xml,
}

/// One finding about a JSON request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputFinding {
    /// ZATCA rule id (`BR-KSA-17`, `XSD`), when the finding is a violated rule.
    pub rule: Option<&'static str>,
    /// The core's stable error code (`invalid_vat_number`) for a finding of the input checks;
    /// the rule id for one of the XML.
    pub code: &'static str,
    /// Error (refused) or warning (accepted with HTTP 202).
    pub severity: Severity,
    /// JSON path of the field (`line_items[2].quantity`, `seller.address`), or the XPath-like
    /// location in the written document where it maps back to no single field.
    pub location: String,
    /// English message.
    pub message: String,
    /// Arabic message, for a rule of ZATCA's list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_ar: Option<&'static str>,
    /// What to do, for the common rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<&'static str>,
    /// The values involved, when they help.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The core's input checks or the rules on the written XML.
    pub source: Source,
}

/// The result of [`validate_input`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputReport {
    /// No error (warnings allowed).
    pub valid: bool,
    /// The UBL document could be written and ZATCA's rules were run on it. False when the input
    /// checks found a problem no document can express (a field that does not decode, a
    /// required field absent, an amount out of range): those are fixed first.
    pub checked_xml: bool,
    /// The core's findings first, then the XML's; errors before warnings.
    pub issues: Vec<InputFinding>,
}

/// The chain values the written document carries: valid placeholders (the signer sets the real
/// ones), so the chain rules judge the request, not the placeholders.
fn placeholder_chain() -> ChainInputs {
    ChainInputs {
        icv: 1,
        pih: zatca_core::chain::INITIAL_PIH.to_owned(),
        uuid: "00000000-0000-4000-8000-000000000000".to_owned(),
    }
}

/// Checks a JSON request (bytes) as the core and ZATCA's rules see it. `context.now` is used for
/// the date rules; `context.pih` and `context.unsigned` do not apply (the written document
/// carries placeholder chain values and no stamp yet).
pub fn validate_input(json: &[u8], context: &Context<'_>) -> InputReport {
    match zatca_core::validate::check_json(json) {
        Ok(checked) => report(checked, context),
        Err(err) => InputReport {
            valid: false,
            checked_xml: false,
            issues: err.issues().iter().map(from_core).collect(),
        },
    }
}

/// [`validate_input`] over an already parsed JSON value.
pub fn validate_input_value(value: &serde_json::Value, context: &Context<'_>) -> InputReport {
    report(zatca_core::validate::check_value(value), context)
}

/// The UBL the core writes from `input` and ZATCA's rules' report on it, if it can be written.
pub fn xml_report(input: &InvoiceInput, context: &Context<'_>) -> Option<(String, crate::Report)> {
    let xml = ubl::write_unchecked(input, &placeholder_chain()).ok()?;
    let context = Context {
        pih: None,
        now: context.now,
        unsigned: true,
    };
    let report = crate::validate(xml.as_bytes(), &context);
    Some((xml, report))
}

fn report(checked: zatca_core::validate::Checked, context: &Context<'_>) -> InputReport {
    let mut issues: Vec<InputFinding> = checked.issues.iter().map(from_core).collect();
    // A problem without a rule id is one of decoding, a required field or a range: what the
    // document would say about it is not what the request says.
    let writable = !checked
        .issues
        .iter()
        .any(|i| i.severity == Severity::Error && i.rule.is_none());
    let xml = match &checked.input {
        Some(input) if writable => xml_report(input, context).map(|(_, r)| (input, r)),
        _ => None,
    };
    let checked_xml = xml.is_some();
    if let Some((input, report)) = xml {
        let core = issues.clone();
        for finding in report.issues {
            let location = json_location(&finding.location, input);
            let mapped = location.is_some();
            let location = location.unwrap_or_else(|| finding.location.clone());
            let place = entity(&location);
            let said = |f: &InputFinding| f.rule == Some(finding.rule) && (!mapped || entity(&f.location) == place);
            if core.iter().any(said)
                || issues
                    .iter()
                    .any(|f| f.rule == Some(finding.rule) && f.location == location)
            {
                continue;
            }
            issues.push(from_xml(finding, location));
        }
    }
    // Stable: errors first, each group in the order found.
    let (mut errors, warnings): (Vec<_>, Vec<_>) = issues.into_iter().partition(|f| f.severity == Severity::Error);
    let valid = errors.is_empty();
    errors.extend(warnings);
    InputReport {
        valid,
        checked_xml,
        issues: errors,
    }
}

fn from_core(issue: &Issue) -> InputFinding {
    let known = issue.rule.and_then(|r| IMPLEMENTED.iter().find(|(id, ..)| *id == r));
    InputFinding {
        rule: issue.rule,
        code: issue.code,
        severity: issue.severity,
        location: issue.path.clone().unwrap_or_default(),
        message: issue.message.clone(),
        message_ar: known.map(|(_, ar, _)| *ar),
        hint: known.and_then(|(.., hint)| *hint),
        detail: None,
        source: Source::Input,
    }
}

fn from_xml(finding: Finding, location: String) -> InputFinding {
    InputFinding {
        rule: Some(finding.rule),
        code: finding.rule,
        severity: finding.severity,
        location,
        message: finding.message.to_owned(),
        message_ar: Some(finding.message_ar),
        hint: finding.hint,
        detail: finding.detail,
        source: Source::Xml,
    }
}

/// The part of the request a location is about: one line, the seller, the buyer, or the
/// document as a whole.
fn entity(location: &str) -> &str {
    if location.starts_with("line_items[") {
        return location.find(']').map_or(location, |end| &location[..=end]);
    }
    for party in ["seller", "buyer"] {
        if location == party || location.strip_prefix(party).is_some_and(|r| r.starts_with('.')) {
            return party;
        }
    }
    ""
}

/// The JSON path of the field the core wrote at an XPath-like location, where one field maps
/// to it; `None` where it does not (totals, breakdowns, what the core adds itself).
pub fn json_location(xpath: &str, input: &InvoiceInput) -> Option<String> {
    // `/Invoice/cac:X[n]/cbc:Y`: the root's name, then steps.
    let mut steps = xpath.trim_start_matches('/').split('/').skip(1);
    let first = steps.next()?;
    let rest: Vec<&str> = steps.map(|s| s.split_once('[').map_or(s, |(name, _)| name)).collect();
    let (name, index) = match first.split_once('[') {
        Some((name, n)) => (name, n.trim_end_matches(']').parse::<usize>().ok()),
        None => (first, None),
    };
    let field = |f: &str| Some(f.to_owned());
    match (name, rest.as_slice()) {
        ("cbc:ID", []) => field("invoice_number"),
        ("cbc:IssueDate", []) => field("invoice_date"),
        ("cbc:IssueTime", []) => field("invoice_time"),
        ("cbc:DocumentCurrencyCode", []) => field("currency"),
        ("cbc:Note", []) => field("note"),
        ("cac:OrderReference", _) => field("purchase_order_id"),
        ("cac:BillingReference", _) => field(if input.original_invoice_number.is_some() {
            "original_invoice_number"
        } else {
            "original_invoice_uuid"
        }),
        ("cac:ContractDocumentReference", _) => field("contract_id"),
        ("cac:Delivery", ["cbc:ActualDeliveryDate"]) => field("delivery_date"),
        ("cac:Delivery", ["cbc:LatestDeliveryDate"]) => field("delivery_end_date"),
        ("cac:PaymentMeans", ["cbc:PaymentMeansCode"]) => field("payment_means_code"),
        ("cac:PaymentMeans", ["cbc:InstructionNote"]) => field("reason"),
        ("cac:AccountingSupplierParty", ["cac:Party", rest @ ..]) => Some(party_field("seller", &input.seller, rest)),
        ("cac:AccountingCustomerParty", ["cac:Party", rest @ ..]) => {
            input.buyer.as_ref().map(|b| party_field("buyer", b, rest))
        }
        ("cac:AccountingCustomerParty", []) => field("buyer"),
        ("cac:InvoiceLine", rest) => {
            let i = index.unwrap_or(1).checked_sub(1)?;
            if i >= input.line_items.len() {
                return None;
            }
            let sub = match rest {
                ["cbc:InvoicedQuantity", ..] => ".quantity",
                ["cac:Price", "cbc:PriceAmount"] => ".unit_price",
                ["cac:AllowanceCharge", ..] => ".discount",
                ["cac:Item", "cbc:Name"] => ".description",
                ["cac:Item", "cac:ClassifiedTaxCategory", "cbc:ID"] => ".vat_category",
                ["cac:Item", "cac:ClassifiedTaxCategory", "cbc:Percent"] => ".vat_rate",
                _ => "",
            };
            Some(format!("line_items[{i}]{sub}"))
        }
        _ => None,
    }
}

fn party_field(party: &str, value: &Party, rest: &[&str]) -> String {
    let sub = match rest {
        ["cac:PartyTaxScheme", "cbc:CompanyID"] => ".vat_number".to_owned(),
        ["cac:PartyLegalEntity", ..] => ".name".to_owned(),
        ["cac:PartyIdentification", ..] => {
            if value.crn.is_some() {
                ".crn".to_owned()
            } else {
                ".other_id".to_owned()
            }
        }
        ["cac:PostalAddress", rest @ ..] => {
            let part = match rest {
                ["cbc:StreetName"] => ".street",
                ["cbc:BuildingNumber"] => ".building_number",
                ["cbc:PlotIdentification"] => ".additional_number",
                ["cbc:CitySubdivisionName"] => ".district",
                ["cbc:CityName"] => ".city",
                ["cbc:PostalZone"] => ".postal_code",
                ["cac:Country", ..] => ".country",
                _ => "",
            };
            format!(".address{part}")
        }
        _ => String::new(),
    };
    format!("{party}{sub}")
}
