//! The input model: the JSON contract shared by the CLI, the WebAssembly bindings and the relay.
//!
//! Field names follow the hosted API's request bodies (`invoice_number`, `seller`,
//! `line_items`, …) plus the optional fields ZATCA needs and that API lacks. Decoding walks a
//! parsed JSON tree by hand instead of deriving `Deserialize`, so that every unknown field and
//! every bad value is reported at once, each with its JSON path.

use std::borrow::Cow;

use rust_decimal::Decimal;
use serde::Serialize;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

use crate::error::{Code, Error, Issue, Result};

/// Simplified (B2C, reported) or standard (B2B/B2G, cleared).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceType {
    /// Simplified tax invoice (KSA-2 starts with `02`).
    Simplified,
    /// Standard tax invoice (KSA-2 starts with `01`).
    Standard,
}

/// Invoice, credit note (381) or debit note (383).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// Tax invoice, code 388.
    Invoice,
    /// Credit note, code 381.
    CreditNote,
    /// Debit note, code 383.
    DebitNote,
}

impl DocumentType {
    /// UN/CEFACT 1001 code written in `cbc:InvoiceTypeCode`.
    pub fn code(self) -> &'static str {
        match self {
            DocumentType::Invoice => "388",
            DocumentType::CreditNote => "381",
            DocumentType::DebitNote => "383",
        }
    }

    /// Whether this is a credit or debit note.
    pub fn is_note(self) -> bool {
        self != DocumentType::Invoice
    }
}

/// VAT category (UNCL 5305 subset allowed by ZATCA, BR-KSA-18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum VatCategory {
    /// Standard rate (15% or 5%).
    S,
    /// Zero rated.
    Z,
    /// Exempt.
    E,
    /// Out of scope.
    O,
}

impl VatCategory {
    /// The one-letter code.
    pub fn code(self) -> &'static str {
        match self {
            VatCategory::S => "S",
            VatCategory::Z => "Z",
            VatCategory::E => "E",
            VatCategory::O => "O",
        }
    }
}

/// A postal address. All fields optional in JSON; ZATCA's requirements are checked by
/// the validate stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Address {
    /// Street name (BT-35 / BT-50).
    pub street: Option<String>,
    /// Building number, 4 digits in KSA (KSA-17 / KSA-18).
    pub building_number: Option<String>,
    /// Additional number of the national address (KSA-23).
    pub additional_number: Option<String>,
    /// District (KSA-3 / KSA-4).
    pub district: Option<String>,
    /// City (BT-37 / BT-52).
    pub city: Option<String>,
    /// Postal code, 5 digits in KSA (BT-38 / BT-53).
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
}

/// An identifier with its scheme (`CRN`, `NAT`, `TIN`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartyId {
    /// Scheme id, e.g. `CRN`, `MOM`, `NAT`.
    pub scheme: String,
    /// The identifier.
    pub value: String,
}

/// Seller or buyer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Party {
    /// Legal name.
    pub name: Option<String>,
    /// Arabic legal name; written after the name as `name | name_ar`.
    pub name_ar: Option<String>,
    /// VAT registration number (15 digits, starts and ends with 3).
    pub vat_number: Option<String>,
    /// Commercial registration number (scheme `CRN`).
    pub crn: Option<String>,
    /// Another identifier with its scheme, used when there is no CRN.
    pub other_id: Option<PartyId>,
    /// Postal address.
    pub address: Option<Address>,
}

impl Party {
    /// The registration name as written in the document.
    pub fn display_name(&self) -> Option<String> {
        join_bilingual(self.name.as_deref(), self.name_ar.as_deref())
    }

    /// The single identifier written in `cac:PartyIdentification` (CRN first).
    pub fn identification(&self) -> Option<PartyId> {
        match (&self.crn, &self.other_id) {
            (Some(crn), _) => Some(PartyId {
                scheme: "CRN".into(),
                value: crn.clone(),
            }),
            (None, Some(id)) => Some(id.clone()),
            (None, None) => None,
        }
    }
}

/// `primary | arabic`, the bilingual form the SDK samples use.
pub(crate) fn join_bilingual(primary: Option<&str>, arabic: Option<&str>) -> Option<String> {
    match primary {
        Some(p) => Some(with_arabic(p, arabic)),
        None => arabic.map(str::to_owned),
    }
}

/// [`join_bilingual`] for a text that is always there (an item name).
pub(crate) fn with_arabic(primary: &str, arabic: Option<&str>) -> String {
    match arabic {
        Some(a) => format!("{primary} | {a}"),
        None => primary.to_owned(),
    }
}

/// One invoice line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineItem {
    /// Item name.
    pub description: String,
    /// Arabic item name; written after the description as `description | description_ar`.
    pub description_ar: Option<String>,
    /// Quantity (min 0.0001).
    pub quantity: Decimal,
    /// Unit price: net of VAT unless `prices_include_vat`.
    pub unit_price: Decimal,
    /// UN/ECE Rec 20 unit code (default `PCE`).
    pub unit_code: String,
    /// VAT category (default `S`).
    pub vat_category: VatCategory,
    /// VAT rate in percent (default 15 for `S`, 0 otherwise).
    pub vat_rate: Decimal,
    /// VATEX-SA-* code for Z/E/O lines.
    pub exemption_reason_code: Option<String>,
    /// Exemption reason text (the official English text when omitted).
    pub exemption_reason: Option<String>,
    /// Line discount amount (a line-level allowance), in the document currency.
    pub discount: Option<Decimal>,
}

/// KSA-2 transaction flags (SPEC §1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TransactionFlags {
    /// Third-party invoice (position 3).
    pub third_party: bool,
    /// Nominal supply (position 4).
    pub nominal: bool,
    /// Export (position 5).
    pub export: bool,
    /// Summary invoice (position 6).
    pub summary: bool,
    /// Self-billed (position 7).
    pub self_billed: bool,
    /// Continuous supply (position 8).
    pub continuous_supply: bool,
    /// Business to government (position 9).
    pub b2g: bool,
}

/// A document to build, as given by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvoiceInput {
    /// EGS unit routing (used by the relay; ignored by the core).
    pub egs_unit_id: Option<String>,
    /// Invoice number (BT-1).
    pub invoice_number: String,
    /// Issue date `YYYY-MM-DD`.
    pub invoice_date: String,
    /// Issue time `HH:mm:ss` (Saudi local time).
    pub invoice_time: String,
    /// ISO 4217 document currency (default `SAR`).
    pub currency: String,
    /// Simplified (default) or standard.
    pub invoice_type: InvoiceType,
    /// Invoice (default), credit note or debit note.
    pub document_type: DocumentType,
    /// Seller.
    pub seller: Party,
    /// Buyer (optional on simplified documents).
    pub buyer: Option<Party>,
    /// Lines.
    pub line_items: Vec<LineItem>,
    /// Whether `unit_price` includes VAT (default false).
    pub prices_include_vat: bool,
    /// Supply date (KSA-5).
    pub delivery_date: Option<String>,
    /// Supply end date (KSA-24), for summary and continuous-supply invoices.
    pub delivery_end_date: Option<String>,
    /// UNTDID 4461 payment means code (default `10`, cash).
    pub payment_means_code: String,
    /// Billing reference of a note: the original invoice number.
    pub original_invoice_number: Option<String>,
    /// UUID of the original invoice of a note.
    pub original_invoice_uuid: Option<String>,
    /// Reason of a note (KSA-10).
    pub reason: Option<String>,
    /// Arabic reason of a note.
    pub reason_ar: Option<String>,
    /// Free-text note.
    pub note: Option<String>,
    /// Contract id (BT-12), required for B2G.
    pub contract_id: Option<String>,
    /// Purchase order reference (BT-13).
    pub purchase_order_id: Option<String>,
    /// KSA-2 flags.
    pub transaction_flags: TransactionFlags,
    /// SAR per unit of the document currency, required when `currency` is not SAR.
    pub sar_exchange_rate: Option<Decimal>,
}

/// What decoding the JSON contract gave: the input, when enough of it decoded to be checked,
/// and the decoding issues (unknown fields, bad values). `InvoiceInput::from_json` (in the
/// validate stage, above this one) adds the business rules.
pub(crate) struct Decoded {
    pub(crate) input: Option<InvoiceInput>,
    pub(crate) issues: Vec<Issue>,
}

/// Decodes JSON bytes; an error only when they are not JSON at all.
pub(crate) fn decode_bytes(bytes: &[u8]) -> Result<Decoded> {
    let value: Json =
        serde_json::from_slice(bytes).map_err(|e| Error::new(Code::InvalidJson, format!("not valid JSON: {e}")))?;
    Ok(decode(&value))
}

/// Decodes an already parsed JSON value.
pub(crate) fn decode_value(value: &Value) -> Decoded {
    decode(&Json::borrow(value))
}

fn decode(value: &Json) -> Decoded {
    let mut issues = Vec::new();
    let input = decode_invoice(value, &mut issues);
    Decoded { input, issues }
}

impl InvoiceInput {
    /// KSA-2 transaction code, e.g. `0200000` (7 characters, or 9 with continuous supply/B2G).
    pub fn transaction_code(&self) -> String {
        let f = &self.transaction_flags;
        let bit = |b: bool| if b { '1' } else { '0' };
        let mut code = String::from(match self.invoice_type {
            InvoiceType::Standard => "01",
            InvoiceType::Simplified => "02",
        });
        for flag in [f.third_party, f.nominal, f.export, f.summary, f.self_billed] {
            code.push(bit(flag));
        }
        if f.continuous_supply || f.b2g {
            code.push(bit(f.continuous_supply));
            code.push(bit(f.b2g));
        }
        code
    }
}

/// A parsed JSON value. Strings borrow from the input unless they hold escapes, objects keep
/// their entries in document order: decoding allocates little beyond what the model keeps.
#[derive(Debug)]
enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// A view of a `serde_json::Value` (strings borrowed from it).
    fn borrow(value: &'a Value) -> Self {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.clone()),
            Value::String(s) => Json::String(Cow::Borrowed(s)),
            Value::Array(items) => Json::Array(items.iter().map(Json::borrow).collect()),
            Value::Object(map) => Json::Object(
                map.iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Json::borrow(v)))
                    .collect(),
            ),
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> std::result::Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> std::result::Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> std::result::Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> std::result::Result<Json<'de>, E> {
        Ok(Number::from_f64(n).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> std::result::Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> std::result::Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> std::result::Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }

    fn visit_unit<E>(self) -> std::result::Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> std::result::Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Json<'de>, D::Error> {
        Json::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Json<'de>, A::Error> {
        let mut entries = Vec::with_capacity(8);
        while let Some((key, value)) = map.next_entry::<Json<'de>, Json<'de>>()? {
            match key {
                Json::String(key) => entries.push((key, value)),
                _ => return Err(serde::de::Error::custom("object keys must be strings")),
            }
        }
        Ok(Json::Object(entries))
    }
}

/// Reads one JSON object, remembering which keys were read so the rest can be reported.
struct Obj<'a> {
    map: &'a [(Cow<'a, str>, Json<'a>)],
    path: String,
    known: Vec<&'static str>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn type_error(path: &str, expected: &str) -> Issue {
    Issue::error(Code::InvalidType, format!("expected {expected}")).at(path)
}

impl<'a> Obj<'a> {
    fn new(value: &'a Json<'a>, path: &str, issues: &mut Vec<Issue>) -> Option<Self> {
        match value {
            Json::Object(map) => Some(Obj {
                map,
                path: path.to_owned(),
                known: Vec::new(),
            }),
            _ => {
                issues.push(type_error(if path.is_empty() { "$" } else { path }, "an object"));
                None
            }
        }
    }

    /// The value of a key that is present and not null.
    fn get(&mut self, key: &'static str) -> Option<&'a Json<'a>> {
        self.known.push(key);
        self.raw(key).filter(|v| !matches!(v, Json::Null))
    }

    /// The value of a key, null included; the last one when a key repeats (as serde_json's
    /// `Value` keeps it).
    fn raw(&self, key: &str) -> Option<&'a Json<'a>> {
        self.map.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn string(&mut self, key: &'static str, issues: &mut Vec<Issue>) -> Option<String> {
        match self.get(key)? {
            Json::String(s) => {
                let trimmed = s.trim();
                if trimmed.is_empty() {
                    issues.push(Issue::error(Code::EmptyValue, "must not be empty").at(join(&self.path, key)));
                    None
                } else if let Some(c) = trimmed.chars().find(|&c| !is_xml_char(c)) {
                    issues.push(
                        Issue::error(
                            Code::InvalidCharacter,
                            format!("contains U+{:04X}, a character XML documents cannot carry", c as u32),
                        )
                        .at(join(&self.path, key)),
                    );
                    None
                } else {
                    Some(trimmed.to_owned())
                }
            }
            Json::Number(n) => Some(n.to_string()),
            _ => {
                issues.push(type_error(&join(&self.path, key), "a string"));
                None
            }
        }
    }

    fn required_string(&mut self, key: &'static str, issues: &mut Vec<Issue>) -> Option<String> {
        let present = self.raw(key).is_some_and(|v| !matches!(v, Json::Null));
        let value = self.string(key, issues);
        if !present {
            issues.push(Issue::error(Code::MissingField, "is required").at(join(&self.path, key)));
        }
        value
    }

    /// A decimal the object must carry: absent and null are both `missing_field` (a null
    /// quantity must not make the line disappear without a word).
    fn required_decimal(&mut self, key: &'static str, issues: &mut Vec<Issue>) -> Option<Decimal> {
        let present = self.raw(key).is_some_and(|v| !matches!(v, Json::Null));
        let value = self.decimal(key, issues);
        if !present {
            issues.push(Issue::error(Code::MissingField, "is required").at(join(&self.path, key)));
        }
        value
    }

    fn decimal(&mut self, key: &'static str, issues: &mut Vec<Issue>) -> Option<Decimal> {
        let text = match self.get(key)? {
            // serde_json writes a float number as the shortest text that reads back as the same
            // double (ryu): the decimal the caller wrote for amounts of up to 15 significant
            // digits. (core's f64 formatting would do the same, at ~30 KiB of WebAssembly.)
            Json::Number(n) => n.to_string(),
            Json::String(s) => s.trim().to_owned(),
            _ => {
                issues.push(type_error(&join(&self.path, key), "a number"));
                return None;
            }
        };
        match parse_decimal(&text) {
            Some(d) => Some(d),
            None => {
                issues.push(
                    Issue::error(Code::InvalidNumber, format!("`{text}` is not a decimal number"))
                        .at(join(&self.path, key)),
                );
                None
            }
        }
    }

    fn boolean(&mut self, key: &'static str, issues: &mut Vec<Issue>) -> bool {
        match self.get(key) {
            None => false,
            Some(Json::Bool(b)) => *b,
            Some(_) => {
                issues.push(type_error(&join(&self.path, key), "true or false"));
                false
            }
        }
    }

    fn choice<T: Copy>(&mut self, key: &'static str, options: &[(&str, T)], issues: &mut Vec<Issue>) -> Option<T> {
        let text = match self.get(key)? {
            Json::String(s) => s.trim().to_owned(),
            Json::Number(n) => n.to_string(),
            _ => {
                issues.push(type_error(&join(&self.path, key), "a string"));
                return None;
            }
        };
        let found = options
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&text))
            .map(|(_, v)| *v);
        if found.is_none() {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            issues.push(
                Issue::error(
                    Code::InvalidValue,
                    format!("`{text}` is not one of {}", names.join(", ")),
                )
                .at(join(&self.path, key)),
            );
        }
        found
    }

    fn finish(self, issues: &mut Vec<Issue>) {
        // Sorted and once per key, as the keys of a JSON object map are.
        let mut keys: Vec<&str> = self.map.iter().map(|(k, _)| k.as_ref()).collect();
        // Any correct sort puts equal keys next to each other, which is all `dedup` needs.
        crate::prim::sort::sort_distinct_by(&mut keys, |a, b| a < b);
        keys.dedup();
        for key in keys {
            if !self.known.contains(&key) {
                issues
                    .push(Issue::error(Code::UnknownField, format!("unknown field `{key}`")).at(join(&self.path, key)));
            }
        }
    }
}

/// Whether XML 1.0 can carry the character (its `Char` production; Rust strings hold no
/// surrogates).
fn is_xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// Parses a plain decimal (optional sign, digits, optional fraction, optional exponent).
fn parse_decimal(text: &str) -> Option<Decimal> {
    if text.is_empty() || text.len() > 64 {
        return None;
    }
    if text.contains(['e', 'E']) {
        Decimal::from_scientific(text).ok()
    } else {
        text.parse::<Decimal>().ok()
    }
}

fn decode_invoice(value: &Json, issues: &mut Vec<Issue>) -> Option<InvoiceInput> {
    let mut o = Obj::new(value, "", issues)?;
    let egs_unit_id = o.string("egs_unit_id", issues);
    let invoice_number = o.required_string("invoice_number", issues);
    let invoice_date = o.required_string("invoice_date", issues);
    let invoice_time = o.required_string("invoice_time", issues);
    let currency = o
        .string("currency", issues)
        .map(|c| c.to_ascii_uppercase())
        .unwrap_or_else(|| "SAR".into());
    let invoice_type = o
        .choice(
            "invoice_type",
            &[
                ("simplified", InvoiceType::Simplified),
                ("standard", InvoiceType::Standard),
            ],
            issues,
        )
        .unwrap_or(InvoiceType::Simplified);
    let document_type = o
        .choice(
            "document_type",
            &[
                ("invoice", DocumentType::Invoice),
                ("credit_note", DocumentType::CreditNote),
                ("debit_note", DocumentType::DebitNote),
            ],
            issues,
        )
        .unwrap_or(DocumentType::Invoice);
    let seller = match o.get("seller") {
        Some(v) => decode_party(v, "seller", issues),
        None => {
            issues.push(Issue::error(Code::MissingField, "is required").at("seller"));
            None
        }
    };
    let buyer = o.get("buyer").and_then(|v| decode_party(v, "buyer", issues));
    let prices_include_vat = o.boolean("prices_include_vat", issues);
    let line_items = match o.get("line_items") {
        Some(Json::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| decode_line(v, &format!("line_items[{i}]"), issues))
            .collect(),
        Some(_) => {
            issues.push(type_error("line_items", "an array"));
            Vec::new()
        }
        None => {
            issues.push(Issue::error(Code::MissingField, "is required").at("line_items"));
            Vec::new()
        }
    };
    let delivery_date = o.string("delivery_date", issues);
    let delivery_end_date = o.string("delivery_end_date", issues);
    let payment_means_code = o.string("payment_means_code", issues).unwrap_or_else(|| "10".into());
    let original_invoice_number = o.string("original_invoice_number", issues);
    let original_invoice_uuid = o.string("original_invoice_uuid", issues);
    let reason = o.string("reason", issues);
    let reason_ar = o.string("reason_ar", issues);
    let note = o.string("note", issues);
    let contract_id = o.string("contract_id", issues);
    let purchase_order_id = o.string("purchase_order_id", issues);
    let transaction_flags = match o.get("transaction_flags") {
        Some(v) => decode_flags(v, issues),
        None => TransactionFlags::default(),
    };
    let sar_exchange_rate = o.decimal("sar_exchange_rate", issues);
    o.finish(issues);
    Some(InvoiceInput {
        egs_unit_id,
        invoice_number: invoice_number?,
        invoice_date: invoice_date?,
        invoice_time: invoice_time?,
        currency,
        invoice_type,
        document_type,
        seller: seller?,
        buyer,
        line_items,
        prices_include_vat,
        delivery_date,
        delivery_end_date,
        payment_means_code,
        original_invoice_number,
        original_invoice_uuid,
        reason,
        reason_ar,
        note,
        contract_id,
        purchase_order_id,
        transaction_flags,
        sar_exchange_rate,
    })
}

fn decode_party(value: &Json, path: &str, issues: &mut Vec<Issue>) -> Option<Party> {
    let mut o = Obj::new(value, path, issues)?;
    let name = o.string("name", issues);
    let name_ar = o.string("name_ar", issues);
    let vat_number = o.string("vat_number", issues);
    let crn = o.string("crn", issues);
    let other_id = o.get("other_id").and_then(|v| {
        let mut id = Obj::new(v, &join(path, "other_id"), issues)?;
        let scheme = id.required_string("scheme", issues);
        let value = id.required_string("value", issues);
        id.finish(issues);
        Some(PartyId {
            scheme: scheme?.to_ascii_uppercase(),
            value: value?,
        })
    });
    let address = o.get("address").and_then(|v| {
        let mut a = Obj::new(v, &join(path, "address"), issues)?;
        let address = Address {
            street: a.string("street", issues),
            building_number: a.string("building_number", issues),
            additional_number: a.string("additional_number", issues),
            district: a.string("district", issues),
            city: a.string("city", issues),
            postal_code: a.string("postal_code", issues),
            country: a.string("country", issues).map(|c| c.to_ascii_uppercase()),
        };
        a.finish(issues);
        Some(address)
    });
    o.finish(issues);
    Some(Party {
        name,
        name_ar,
        vat_number,
        crn,
        other_id,
        address,
    })
}

fn decode_line(value: &Json, path: &str, issues: &mut Vec<Issue>) -> Option<LineItem> {
    let mut o = Obj::new(value, path, issues)?;
    let description = o.required_string("description", issues);
    let description_ar = o.string("description_ar", issues);
    let quantity = o.required_decimal("quantity", issues);
    let unit_price = o.required_decimal("unit_price", issues);
    let unit_code = o.string("unit_code", issues).unwrap_or_else(|| "PCE".into());
    let vat_category = o
        .choice(
            "vat_category",
            &[
                ("S", VatCategory::S),
                ("Z", VatCategory::Z),
                ("E", VatCategory::E),
                ("O", VatCategory::O),
            ],
            issues,
        )
        .unwrap_or(VatCategory::S);
    if issues
        .last()
        .is_some_and(|i| i.path.as_deref() == Some(&join(path, "vat_category")))
    {
        if let Some(last) = issues.last_mut() {
            last.rule = Some("BR-KSA-18");
        }
    }
    let vat_rate = o.decimal("vat_rate", issues).unwrap_or(match vat_category {
        VatCategory::S => Decimal::from(15),
        _ => Decimal::ZERO,
    });
    let exemption_reason_code = o
        .string("exemption_reason_code", issues)
        .map(|c| c.to_ascii_uppercase());
    let exemption_reason = o.string("exemption_reason", issues);
    let discount = o.decimal("discount", issues);
    o.finish(issues);
    Some(LineItem {
        description: description?,
        description_ar,
        quantity: quantity?,
        unit_price: unit_price?,
        unit_code,
        vat_category,
        vat_rate,
        exemption_reason_code,
        exemption_reason,
        discount,
    })
}

fn decode_flags(value: &Json, issues: &mut Vec<Issue>) -> TransactionFlags {
    let Some(mut o) = Obj::new(value, "transaction_flags", issues) else {
        return TransactionFlags::default();
    };
    let flags = TransactionFlags {
        third_party: o.boolean("third_party", issues),
        nominal: o.boolean("nominal", issues),
        export: o.boolean("export", issues),
        summary: o.boolean("summary", issues),
        self_billed: o.boolean("self_billed", issues),
        continuous_supply: o.boolean("continuous_supply", issues),
        b2g: o.boolean("b2g", issues),
    };
    o.finish(issues);
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosted_api_example_decodes() {
        let json = br#"{"egs_unit_id":"u1","invoice_number":"INV-001","invoice_date":"2025-01-15","invoice_time":"14:30:00",
            "seller":{"name":"Acme Ltd","vat_number":"300012345600003","address":{"street":"King Fahd Rd","city":"Riyadh","country":"SA"}},
            "line_items":[{"description":"Product A","quantity":2,"unit_price":50.0}]}"#;
        let input = InvoiceInput::from_json(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(input.currency, "SAR");
        assert_eq!(input.line_items[0].unit_price, Decimal::from(50));
        assert_eq!(input.line_items[0].vat_rate, Decimal::from(15));
        assert_eq!(input.transaction_code(), "0200000");
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let json = br#"{"invoice_number":"x","invoice_date":"2025-01-15","invoice_time":"10:00:00","colour":"red",
            "seller":{"name":"A","vat_number":"3","address":{"street":"x","planet":"Mars"}},
            "line_items":[{"description":"d","quantity":"lots","unit_price":1,"vat_category":"X"},{"quantity":1}]}"#;
        let err = InvoiceInput::from_json(json)
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        let got: Vec<(String, &str)> = err
            .issues()
            .iter()
            .map(|i| (i.path.as_deref().unwrap_or("").to_owned(), i.code))
            .collect();
        for expected in [
            ("colour", "unknown_field"),
            ("seller.address.planet", "unknown_field"),
            ("line_items[0].quantity", "invalid_number"),
            ("line_items[0].vat_category", "invalid_value"),
            ("line_items[1].description", "missing_field"),
            ("line_items[1].unit_price", "missing_field"),
            // Rule violations of the parts that decoded come in the same error.
            ("seller.vat_number", "invalid_vat_number"),
        ] {
            assert!(
                got.iter().any(|(p, c)| p == expected.0 && *c == expected.1),
                "missing {expected:?} in {got:?}"
            );
        }
    }

    #[test]
    fn a_null_quantity_or_price_is_missing_not_a_dropped_line() {
        let json = br#"{"invoice_number":"1","invoice_date":"2025-01-15","invoice_time":"10:00:00",
            "seller":{"name":"A","vat_number":"300000000000003"},
            "line_items":[{"description":"a","quantity":1,"unit_price":1},{"description":"b","quantity":null,"unit_price":null}]}"#;
        let err = InvoiceInput::from_json(json)
            .err()
            .unwrap_or_else(|| panic!("accepted with a line dropped"));
        let got: Vec<(String, &str)> = err
            .issues()
            .iter()
            .map(|i| (i.path.as_deref().unwrap_or("").to_owned(), i.code))
            .collect();
        for path in ["line_items[1].quantity", "line_items[1].unit_price"] {
            assert!(
                got.iter().any(|(p, c)| p == path && *c == "missing_field"),
                "{path} in {got:?}"
            );
        }
    }

    #[test]
    fn flags_make_the_transaction_code() {
        let json =
            br#"{"invoice_number":"1","invoice_date":"2025-01-15","invoice_time":"10:00:00","invoice_type":"standard",
            "seller":{"name":"A"},"line_items":[],"transaction_flags":{"export":true,"b2g":true}}"#;
        let input = InvoiceInput::from_json(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(input.transaction_code(), "010010001");
    }
}
