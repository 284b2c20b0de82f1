//! The UBL 2.1 writer: simplified and standard invoices, credit notes (381) and debit notes
//! (383), in the element order of the UBL `InvoiceType` schema and with the SDK's namespaces
//! (SPEC §2–§3). The output is unsigned: the signer inserts `ext:UBLExtensions`, the QR
//! reference and `cac:Signature` without touching any other byte.

use rust_decimal::Decimal;

use crate::c14n::{escape_text, write_attr};
use crate::error::{Code, Error, Issue, Result, Severity};
use crate::model::{InvoiceInput, Party, join_bilingual, with_arabic};
use crate::qr::QrFields;
use crate::totals::{self, Totals};
use crate::validate;

/// The chain inputs of a document: its counter, the previous invoice hash and its UUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainInputs {
    /// Invoice counter value (ICV, KSA-16), +1 for every document of the EGS unit.
    pub icv: u64,
    /// Previous invoice hash (PIH, KSA-13), base64; [`crate::chain::INITIAL_PIH`] for the first.
    pub pih: String,
    /// Document UUID (KSA-1).
    pub uuid: String,
}

/// An unsigned document and what was learnt while building it.
#[derive(Debug, Clone)]
pub struct BuiltInvoice {
    /// The unsigned UBL XML.
    pub xml: String,
    /// ZATCA warnings (accepted with HTTP 202) found in the input.
    pub warnings: Vec<Issue>,
    /// The computed totals.
    pub totals: Totals,
    /// QR tags 1–5 as the document carries them.
    pub(crate) qr_base: QrFields,
    /// Where the signer's inputs are in `xml`.
    pub(crate) layout: Layout,
}

/// Validates the input and writes the unsigned UBL document.
pub fn build(input: &InvoiceInput, chain: &ChainInputs) -> Result<BuiltInvoice> {
    let mut issues = validate::validate(input);
    check_chain(chain, &mut issues);
    if issues.iter().any(|i| i.severity == Severity::Error) {
        crate::prim::sort::partition_stable(&mut issues, |i| i.severity != Severity::Warning);
        return Err(Error::from_issues(issues));
    }
    let totals = totals::compute(input)?;
    // The values the QR code repeats, as the document will carry them.
    let qr_base = qr_fields(input, &totals)?;
    let (xml, layout) = write(input, chain, &totals, &qr_base)?;
    Ok(BuiltInvoice {
        xml,
        warnings: issues,
        totals,
        qr_base,
        layout,
    })
}

/// Writes the unsigned UBL document of `input` without refusing on the rules [`build`] checks
/// first: for a validator that reports what ZATCA's rules say about the XML the core would
/// write (`zatca-rules`' `validate_input`), also for input the core refuses. Never sign this:
/// what cannot be written at all (a required field absent, totals that overflow) is still an
/// error, but a rule violation is not.
pub fn write_unchecked(input: &InvoiceInput, chain: &ChainInputs) -> Result<String> {
    let unwritable: Vec<Issue> = validate::validate(input)
        .into_iter()
        .filter(|i| UNWRITABLE.contains(&(i.code, i.path.as_deref())))
        .collect();
    if !unwritable.is_empty() {
        return Err(Error::from_issues(unwritable));
    }
    let totals = totals::compute(input)?;
    let qr_base = qr_fields(input, &totals)?;
    Ok(write(input, chain, &totals, &qr_base)?.0)
}

/// The fields no document can be written without, as validation reports their absence (code,
/// path): [`write_unchecked`] refuses with those issues; after [`build`]'s validation an absent
/// one is an `internal` error.
const UNWRITABLE: [(&str, Option<&str>); 3] = [
    (Code::MissingField.as_str(), Some("seller.name")),
    (Code::MissingVatNumber.as_str(), Some("seller.vat_number")),
    (Code::MissingBillingReference.as_str(), Some("original_invoice_number")),
];

/// QR tags 1–5 as the document will carry them.
fn qr_fields(input: &InvoiceInput, totals: &Totals) -> Result<QrFields> {
    Ok(QrFields {
        seller_name: input.seller.display_name().ok_or_else(|| validated("seller.name"))?,
        vat_number: input
            .seller
            .vat_number
            .clone()
            .ok_or_else(|| validated("seller.vat_number"))?,
        timestamp: format!("{}T{}", input.invoice_date, input.invoice_time),
        total_with_vat: amount(totals.tax_inclusive),
        vat_total: amount(totals.vat_total_sar),
        invoice_hash: None,
        signature: None,
        public_key: None,
        certificate_signature: None,
    })
}

/// The `internal` error for a required field found absent after validation passed.
fn validated(path: &str) -> Error {
    Error::new(
        Code::Internal,
        format!("{path} is absent although validation requires it"),
    )
    .at(path)
}

fn check_chain(chain: &ChainInputs, issues: &mut Vec<Issue>) {
    let uuid_ok = !chain.uuid.is_empty()
        && chain.uuid.len() <= 127
        && chain
            .uuid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if !uuid_ok {
        issues.push(
            Issue::error(
                Code::InvalidUuid,
                "the document UUID must be letters, digits, '-', '_' or '.'",
            )
            .at("uuid")
            .rule("BR-KSA-03"),
        );
    }
    if !crate::chain::is_valid_pih(&chain.pih) {
        issues.push(
            Issue::error(
                Code::InvalidPih,
                "the previous invoice hash must be the base64 of a SHA-256 hash",
            )
            .at("pih")
            .rule("BR-KSA-61"),
        );
    }
}

/// An amount with exactly two decimals.
pub fn amount(d: Decimal) -> String {
    let mut out = String::with_capacity(16);
    push_decimal(&mut out, totals::round2(d), 2);
    out
}

/// A rate with two decimals (`15.00`).
fn percent(d: Decimal) -> String {
    if d.scale() <= 2 {
        let mut out = String::with_capacity(8);
        push_decimal(&mut out, d, 2);
        out
    } else {
        format!("{:.2}", d)
    }
}

/// A quantity or price as given, without trailing zeros but with at least two decimals for
/// prices.
fn plain(d: Decimal, min_scale: u32) -> String {
    let mut out = String::with_capacity(16);
    push_decimal(&mut out, d.normalize(), min_scale);
    out
}

/// Appends `d` in plain notation with all of its decimals and at least `min_scale` of them, as
/// `format!("{:.min_scale$}")` prints a decimal of that scale or less (without the formatting
/// machinery, which is most of the writer's time otherwise).
fn push_decimal(out: &mut String, d: Decimal, min_scale: u32) {
    let scale = d.scale() as usize;
    let mut digits = [0u8; 40];
    let mantissa = d.mantissa().unsigned_abs();
    let mut len = 0;
    // u128 division is a library call per digit; amounts fit in u64.
    if let Ok(mut n) = u64::try_from(mantissa) {
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            n /= 10;
            len += 1;
            if n == 0 {
                break;
            }
        }
    } else {
        let mut n = mantissa;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            n /= 10;
            len += 1;
            if n == 0 {
                break;
            }
        }
    }
    // At least one digit before the point.
    while len <= scale {
        digits[len] = b'0';
        len += 1;
    }
    if d.is_sign_negative() {
        out.push('-');
    }
    for i in (0..len).rev() {
        if i + 1 == scale {
            out.push('.');
        }
        out.push(char::from(digits[i]));
    }
    let shown = scale;
    if (min_scale as usize) > shown {
        if shown == 0 {
            out.push('.');
        }
        for _ in shown..min_scale as usize {
            out.push('0');
        }
    }
}

/// Writes the document as canonical XML (C14N 1.1) from the start of the root element on:
/// empty elements written out in full, attributes in canonical order, and text and attribute
/// values escaped exactly as canonicalisation escapes them. The bytes of the root element are
/// therefore the bytes of the invoice hash input, and the signer hashes them as written
/// instead of parsing the document back.
///
/// One element per line without indentation: a quarter smaller than four-space indentation,
/// and every byte of whitespace is hashed (software SHA-256 is the largest cost of signing) and
/// archived for years, while the file stays line-oriented for diffs and grep.
struct Out {
    s: String,
}

impl Out {
    fn newline(&mut self) {
        self.s.push('\n');
    }

    fn open(&mut self, name: &str) {
        self.newline();
        self.s.push('<');
        self.s.push_str(name);
        self.s.push('>');
    }

    fn close(&mut self, name: &str) {
        self.newline();
        self.s.push_str("</");
        self.s.push_str(name);
        self.s.push('>');
    }

    fn leaf(&mut self, name: &str, value: &str) {
        self.leaf_attrs(name, &[], value);
    }

    /// An element with text; `attrs` must be sorted by name (canonical order for attributes
    /// without a prefix).
    fn leaf_attrs(&mut self, name: &str, attrs: &[(&str, &str)], value: &str) {
        debug_assert!(attrs.windows(2).all(|w| w[0].0 < w[1].0), "attributes out of order");
        self.newline();
        self.s.push('<');
        self.s.push_str(name);
        for (key, v) in attrs {
            write_attr(&mut self.s, key, v);
        }
        self.s.push('>');
        escape_text(&mut self.s, value);
        self.s.push_str("</");
        self.s.push_str(name);
        self.s.push('>');
    }

    fn money(&mut self, name: &str, currency: &str, value: Decimal) {
        self.leaf_attrs(name, &[("currencyID", currency)], &amount(value));
    }
}

/// Where the writer put what the signer needs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Layout {
    /// The root element's span: the invoice hash input.
    pub root: (usize, usize),
    /// Byte offset just after the root's start tag.
    pub body_start: usize,
    /// Byte offset just after the last `cac:AdditionalDocumentReference` (PIH).
    pub last_reference_end: usize,
}

const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

fn write(input: &InvoiceInput, chain: &ChainInputs, t: &Totals, q: &QrFields) -> Result<(String, Layout)> {
    let mut w = Out {
        s: String::with_capacity(4096 + input.line_items.len() * 1024),
    };
    let mut layout = Layout::default();
    let cur = input.currency.as_str();
    w.s.push_str(XML_DECLARATION);
    w.newline();
    layout.root.0 = w.s.len();
    // Namespace declarations in canonical order: the default namespace first, then by prefix.
    w.s.push_str("<Invoice xmlns=\"");
    w.s.push_str(crate::xml::NS_INVOICE);
    w.s.push_str("\" xmlns:cac=\"");
    w.s.push_str(crate::xml::NS_CAC);
    w.s.push_str("\" xmlns:cbc=\"");
    w.s.push_str(crate::xml::NS_CBC);
    w.s.push_str("\" xmlns:ext=\"");
    w.s.push_str(crate::xml::NS_EXT);
    w.s.push_str("\">");
    layout.body_start = w.s.len();
    w.leaf("cbc:ProfileID", "reporting:1.0");
    w.leaf("cbc:ID", &input.invoice_number);
    w.leaf("cbc:UUID", &chain.uuid);
    w.leaf("cbc:IssueDate", &input.invoice_date);
    w.leaf("cbc:IssueTime", &input.invoice_time);
    w.leaf_attrs(
        "cbc:InvoiceTypeCode",
        &[("name", &input.transaction_code())],
        input.document_type.code(),
    );
    if let Some(note) = &input.note {
        w.leaf("cbc:Note", note);
    }
    w.leaf("cbc:DocumentCurrencyCode", cur);
    w.leaf("cbc:TaxCurrencyCode", "SAR");
    if let Some(po) = &input.purchase_order_id {
        w.open("cac:OrderReference");
        w.leaf("cbc:ID", po);
        w.close("cac:OrderReference");
    }
    if input.document_type.is_note() {
        w.open("cac:BillingReference");
        w.open("cac:InvoiceDocumentReference");
        let id = input
            .original_invoice_number
            .as_deref()
            .or(input.original_invoice_uuid.as_deref())
            .ok_or_else(|| validated("original_invoice_number"))?;
        w.leaf("cbc:ID", id);
        w.close("cac:InvoiceDocumentReference");
        w.close("cac:BillingReference");
    }
    if let Some(contract) = &input.contract_id {
        w.open("cac:ContractDocumentReference");
        w.leaf("cbc:ID", contract);
        w.close("cac:ContractDocumentReference");
    }
    w.open("cac:AdditionalDocumentReference");
    w.leaf("cbc:ID", "ICV");
    w.leaf("cbc:UUID", &chain.icv.to_string());
    w.close("cac:AdditionalDocumentReference");
    w.open("cac:AdditionalDocumentReference");
    w.leaf("cbc:ID", "PIH");
    w.open("cac:Attachment");
    w.leaf_attrs(
        "cbc:EmbeddedDocumentBinaryObject",
        &[("mimeCode", "text/plain")],
        &chain.pih,
    );
    w.close("cac:Attachment");
    w.close("cac:AdditionalDocumentReference");
    layout.last_reference_end = w.s.len();

    w.open("cac:AccountingSupplierParty");
    write_party(&mut w, &input.seller);
    w.close("cac:AccountingSupplierParty");
    // The customer party is mandatory in the UBL schema, even when empty (B2C).
    w.open("cac:AccountingCustomerParty");
    if let Some(buyer) = &input.buyer {
        write_party(&mut w, buyer);
        w.close("cac:AccountingCustomerParty");
    } else {
        w.s.push_str("</cac:AccountingCustomerParty>");
    }
    if input.delivery_date.is_some() || input.delivery_end_date.is_some() {
        w.open("cac:Delivery");
        if let Some(d) = &input.delivery_date {
            w.leaf("cbc:ActualDeliveryDate", d);
        }
        if let Some(d) = &input.delivery_end_date {
            w.leaf("cbc:LatestDeliveryDate", d);
        }
        w.close("cac:Delivery");
    }
    w.open("cac:PaymentMeans");
    w.leaf("cbc:PaymentMeansCode", &input.payment_means_code);
    if input.document_type.is_note() {
        if let Some(reason) = join_bilingual(input.reason.as_deref(), input.reason_ar.as_deref()) {
            w.leaf("cbc:InstructionNote", &reason);
        }
    }
    w.close("cac:PaymentMeans");

    // BT-111 first (SAR, no breakdown): QR tag 5 reads the first TaxTotal (SPEC §8).
    w.open("cac:TaxTotal");
    w.leaf_attrs("cbc:TaxAmount", &[("currencyID", "SAR")], &q.vat_total);
    w.close("cac:TaxTotal");
    w.open("cac:TaxTotal");
    w.money("cbc:TaxAmount", cur, t.vat_total);
    for s in &t.subtotals {
        w.open("cac:TaxSubtotal");
        w.money("cbc:TaxableAmount", cur, s.taxable);
        w.money("cbc:TaxAmount", cur, s.vat);
        w.open("cac:TaxCategory");
        w.leaf_attrs(
            "cbc:ID",
            &[("schemeAgencyID", "6"), ("schemeID", "UN/ECE 5305")],
            s.category.code(),
        );
        w.leaf("cbc:Percent", &percent(s.rate));
        if let Some(code) = &s.exemption_code {
            w.leaf("cbc:TaxExemptionReasonCode", code);
        }
        if let Some(reason) = &s.exemption_reason {
            w.leaf("cbc:TaxExemptionReason", reason);
        }
        w.open("cac:TaxScheme");
        w.leaf_attrs("cbc:ID", &[("schemeAgencyID", "6"), ("schemeID", "UN/ECE 5153")], "VAT");
        w.close("cac:TaxScheme");
        w.close("cac:TaxCategory");
        w.close("cac:TaxSubtotal");
    }
    w.close("cac:TaxTotal");

    w.open("cac:LegalMonetaryTotal");
    w.money("cbc:LineExtensionAmount", cur, t.line_extension);
    w.money("cbc:TaxExclusiveAmount", cur, t.tax_exclusive);
    w.leaf_attrs("cbc:TaxInclusiveAmount", &[("currencyID", cur)], &q.total_with_vat);
    w.money("cbc:AllowanceTotalAmount", cur, t.allowance_total);
    w.money("cbc:PrepaidAmount", cur, t.prepaid);
    w.money("cbc:PayableAmount", cur, t.payable);
    w.close("cac:LegalMonetaryTotal");

    for (i, (item, lt)) in input.line_items.iter().zip(&t.lines).enumerate() {
        w.open("cac:InvoiceLine");
        w.leaf("cbc:ID", &(i + 1).to_string());
        w.leaf_attrs(
            "cbc:InvoicedQuantity",
            &[("unitCode", &item.unit_code)],
            &plain(item.quantity, 0),
        );
        w.money("cbc:LineExtensionAmount", cur, lt.net);
        if !lt.discount.is_zero() {
            w.open("cac:AllowanceCharge");
            w.leaf("cbc:ChargeIndicator", "false");
            w.leaf("cbc:AllowanceChargeReasonCode", "95");
            w.leaf("cbc:AllowanceChargeReason", "Discount");
            w.money("cbc:Amount", cur, lt.discount);
            w.close("cac:AllowanceCharge");
        }
        w.open("cac:TaxTotal");
        w.money("cbc:TaxAmount", cur, lt.vat);
        w.money("cbc:RoundingAmount", cur, lt.with_vat);
        w.close("cac:TaxTotal");
        w.open("cac:Item");
        let name = with_arabic(&item.description, item.description_ar.as_deref());
        w.leaf("cbc:Name", &name);
        w.open("cac:ClassifiedTaxCategory");
        w.leaf("cbc:ID", item.vat_category.code());
        w.leaf("cbc:Percent", &percent(item.vat_rate));
        w.open("cac:TaxScheme");
        w.leaf("cbc:ID", "VAT");
        w.close("cac:TaxScheme");
        w.close("cac:ClassifiedTaxCategory");
        w.close("cac:Item");
        w.open("cac:Price");
        w.leaf_attrs("cbc:PriceAmount", &[("currencyID", cur)], &plain(lt.net_price, 2));
        w.close("cac:Price");
        w.close("cac:InvoiceLine");
    }
    w.close("Invoice");
    layout.root.1 = w.s.len();
    w.s.push('\n');
    Ok((w.s, layout))
}

fn write_party(w: &mut Out, party: &Party) {
    w.open("cac:Party");
    if let Some(id) = party.identification() {
        w.open("cac:PartyIdentification");
        w.leaf_attrs("cbc:ID", &[("schemeID", &id.scheme)], &id.value);
        w.close("cac:PartyIdentification");
    }
    if let Some(a) = &party.address {
        w.open("cac:PostalAddress");
        let fields = [
            ("cbc:StreetName", &a.street),
            ("cbc:BuildingNumber", &a.building_number),
            ("cbc:PlotIdentification", &a.additional_number),
            ("cbc:CitySubdivisionName", &a.district),
            ("cbc:CityName", &a.city),
            ("cbc:PostalZone", &a.postal_code),
        ];
        for (name, value) in fields {
            if let Some(v) = value {
                w.leaf(name, v);
            }
        }
        if let Some(country) = &a.country {
            w.open("cac:Country");
            w.leaf("cbc:IdentificationCode", country);
            w.close("cac:Country");
        }
        w.close("cac:PostalAddress");
    }
    if let Some(vat) = &party.vat_number {
        w.open("cac:PartyTaxScheme");
        w.leaf("cbc:CompanyID", vat);
        w.open("cac:TaxScheme");
        w.leaf("cbc:ID", "VAT");
        w.close("cac:TaxScheme");
        w.close("cac:PartyTaxScheme");
    }
    if let Some(name) = party.display_name() {
        w.open("cac:PartyLegalEntity");
        w.leaf("cbc:RegistrationName", &name);
        w.close("cac:PartyLegalEntity");
    }
    w.close("cac:Party");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::INITIAL_PIH;

    pub(crate) const SAMPLE: &str = r#"{"invoice_number":"INV-001","invoice_date":"2025-01-15","invoice_time":"14:30:00",
        "seller":{"name":"Acme Ltd","name_ar":"أكمي","vat_number":"399999999900003","crn":"1010010000",
          "address":{"street":"King Fahd Rd","building_number":"1234","district":"Al Olaya","city":"Riyadh","postal_code":"12345","country":"SA"}},
        "line_items":[{"description":"Product A","quantity":2,"unit_price":50.0},
                      {"description":"Book & pen <x>","quantity":1,"unit_price":10,"vat_category":"Z","exemption_reason_code":"VATEX-SA-35","discount":1.5}]}"#;

    #[test]
    fn write_unchecked_reports_a_missing_required_field_as_validation_does() {
        let chain = ChainInputs {
            icv: 1,
            pih: INITIAL_PIH.into(),
            uuid: "6f4d20e0-6bfe-4a80-9389-7dabe6620f00".into(),
        };
        let mut input = InvoiceInput::from_json(SAMPLE.as_bytes()).expect("sample");
        assert!(write_unchecked(&input, &chain).is_ok());
        input.seller.vat_number = None;
        input.seller.name = None;
        input.seller.name_ar = None;
        let err = write_unchecked(&input, &chain).expect_err("no seller name or VAT number");
        let found: Vec<_> = err.issues().iter().map(|i| (i.code, i.path.as_deref())).collect();
        assert_eq!(
            found,
            [
                ("missing_field", Some("seller.name")),
                ("missing_vat_number", Some("seller.vat_number"))
            ]
        );
        // A rule violation alone (here BR-KSA-40) does not stop the writer.
        input.seller.name = Some("Acme Ltd".into());
        input.seller.vat_number = Some("123".into());
        assert!(write_unchecked(&input, &chain).is_ok());
    }

    #[test]
    fn decimals_print_as_the_formatter_prints_them() {
        let values = [
            "0",
            "1",
            "-1",
            "0.5",
            "-0.5",
            "12.34",
            "100",
            "0.01",
            "-0.00",
            "5.1",
            "123456789.12",
            "0.0001",
            "-7.5",
            "10.10",
        ];
        let parsed = values
            .iter()
            .map(|v| v.parse::<Decimal>().unwrap_or_else(|e| panic!("{v}: {e}")));
        for d in parsed.chain([Decimal::MAX, Decimal::MIN, Decimal::new(-0, 2)]) {
            let v = d.to_string();
            // rust_decimal's own padding overflows near the type's limits.
            let mins = if d.abs() > Decimal::from(1u64 << 60) {
                0..1
            } else {
                0..4u32
            };
            for min in mins {
                let mut fast = String::new();
                push_decimal(&mut fast, d, min);
                let want = if d.scale() >= min {
                    d.to_string()
                } else {
                    format!("{:.*}", min as usize, d)
                };
                assert_eq!(fast, want, "{v} with at least {min} decimals");
            }
            if d.abs() < Decimal::from(1u64 << 60) {
                assert_eq!(amount(d), format!("{:.2}", totals::round2(d)), "{v}");
            }
        }
    }

    #[test]
    fn builds_a_parseable_document() {
        let input = InvoiceInput::from_json(SAMPLE.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let chain = ChainInputs {
            icv: 1,
            pih: INITIAL_PIH.into(),
            uuid: "3cf5ee18-ee25-44ea-a444-2c37ba7f28be".into(),
        };
        let built = build(&input, &chain).unwrap_or_else(|e| panic!("{e}"));
        if std::env::var_os("PRINT_XML").is_some() {
            println!("{}", built.xml);
        }
        let doc = crate::xml::parse(&built.xml).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(doc.root.local_name(), "Invoice");
        assert!(built.xml.contains("<cbc:Name>Book &amp; pen &lt;x&gt;</cbc:Name>"));
        assert!(built.warnings.is_empty(), "{:?}", built.warnings);
    }
}
