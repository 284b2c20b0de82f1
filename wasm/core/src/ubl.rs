//! The UBL 2.1 writer: simplified and standard invoices, credit notes (381) and debit notes
//! (383), in the element order of the UBL `InvoiceType` schema and with the SDK's namespaces
//! (SPEC §2–§3). The output is unsigned: the signer inserts `ext:UBLExtensions`, the QR
//! reference and `cac:Signature` without touching any other byte.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use rust_decimal::Decimal;

use crate::error::{Error, Issue, Result, Severity};
use crate::model::{InvoiceInput, Party, join_bilingual};
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
}

/// Validates the input and writes the unsigned UBL document.
pub fn build(input: &InvoiceInput, chain: &ChainInputs) -> Result<BuiltInvoice> {
    let mut issues = validate::validate(input);
    check_chain(chain, &mut issues);
    if issues.iter().any(|i| i.severity == Severity::Error) {
        issues.sort_by_key(|i| i.severity == Severity::Warning);
        return Err(Error::from_issues(issues));
    }
    let totals = totals::compute(input)?;
    let xml = write(input, chain, &totals).map_err(|e| Error::new("internal", format!("XML writer failed: {e}")))?;
    Ok(BuiltInvoice {
        xml,
        warnings: issues,
        totals,
    })
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
                "invalid_uuid",
                "the document UUID must be letters, digits, '-', '_' or '.'",
            )
            .at("uuid")
            .rule("BR-KSA-03"),
        );
    }
    if !crate::chain::is_valid_pih(&chain.pih) {
        issues.push(
            Issue::error(
                "invalid_pih",
                "the previous invoice hash must be the base64 of a SHA-256 hash",
            )
            .at("pih")
            .rule("BR-KSA-61"),
        );
    }
}

/// An amount with exactly two decimals.
pub fn amount(d: Decimal) -> String {
    format!("{:.2}", totals::round2(d))
}

/// A rate with two decimals (`15.00`).
fn percent(d: Decimal) -> String {
    format!("{:.2}", d)
}

/// A quantity or price as given, without trailing zeros but with at least two decimals for
/// prices.
fn plain(d: Decimal, min_scale: u32) -> String {
    let n = d.normalize();
    if n.scale() < min_scale {
        format!("{:.*}", min_scale as usize, n)
    } else {
        n.to_string()
    }
}

type W = Writer<Vec<u8>>;
type Io = std::io::Result<()>;

fn start(w: &mut W, name: &str) -> Io {
    w.write_event(Event::Start(BytesStart::new(name)))
}

fn end(w: &mut W, name: &str) -> Io {
    w.write_event(Event::End(BytesEnd::new(name)))
}

fn text(w: &mut W, name: &str, value: &str) -> Io {
    w.create_element(name).write_text_content(BytesText::new(value))?;
    Ok(())
}

fn text_attrs(w: &mut W, name: &str, attrs: &[(&str, &str)], value: &str) -> Io {
    w.create_element(name)
        .with_attributes(attrs.iter().copied())
        .write_text_content(BytesText::new(value))?;
    Ok(())
}

fn money(w: &mut W, name: &str, currency: &str, value: Decimal) -> Io {
    text_attrs(w, name, &[("currencyID", currency)], &amount(value))
}

fn write(input: &InvoiceInput, chain: &ChainInputs, t: &Totals) -> std::io::Result<String> {
    let mut w = Writer::new_with_indent(Vec::with_capacity(4096 + input.line_items.len() * 900), b' ', 4);
    let cur = input.currency.as_str();
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let root = BytesStart::new("Invoice").with_attributes([
        ("xmlns", crate::xml::NS_INVOICE),
        ("xmlns:cac", crate::xml::NS_CAC),
        ("xmlns:cbc", crate::xml::NS_CBC),
        ("xmlns:ext", crate::xml::NS_EXT),
    ]);
    w.write_event(Event::Start(root))?;
    text(&mut w, "cbc:ProfileID", "reporting:1.0")?;
    text(&mut w, "cbc:ID", &input.invoice_number)?;
    text(&mut w, "cbc:UUID", &chain.uuid)?;
    text(&mut w, "cbc:IssueDate", &input.invoice_date)?;
    text(&mut w, "cbc:IssueTime", &input.invoice_time)?;
    text_attrs(
        &mut w,
        "cbc:InvoiceTypeCode",
        &[("name", &input.transaction_code())],
        input.document_type.code(),
    )?;
    if let Some(note) = &input.note {
        text(&mut w, "cbc:Note", note)?;
    }
    text(&mut w, "cbc:DocumentCurrencyCode", cur)?;
    text(&mut w, "cbc:TaxCurrencyCode", "SAR")?;
    if let Some(po) = &input.purchase_order_id {
        start(&mut w, "cac:OrderReference")?;
        text(&mut w, "cbc:ID", po)?;
        end(&mut w, "cac:OrderReference")?;
    }
    if input.document_type.is_note() {
        start(&mut w, "cac:BillingReference")?;
        start(&mut w, "cac:InvoiceDocumentReference")?;
        let id = input
            .original_invoice_number
            .as_deref()
            .or(input.original_invoice_uuid.as_deref())
            .unwrap_or_default();
        text(&mut w, "cbc:ID", id)?;
        end(&mut w, "cac:InvoiceDocumentReference")?;
        end(&mut w, "cac:BillingReference")?;
    }
    if let Some(contract) = &input.contract_id {
        start(&mut w, "cac:ContractDocumentReference")?;
        text(&mut w, "cbc:ID", contract)?;
        end(&mut w, "cac:ContractDocumentReference")?;
    }
    start(&mut w, "cac:AdditionalDocumentReference")?;
    text(&mut w, "cbc:ID", "ICV")?;
    text(&mut w, "cbc:UUID", &chain.icv.to_string())?;
    end(&mut w, "cac:AdditionalDocumentReference")?;
    start(&mut w, "cac:AdditionalDocumentReference")?;
    text(&mut w, "cbc:ID", "PIH")?;
    start(&mut w, "cac:Attachment")?;
    text_attrs(
        &mut w,
        "cbc:EmbeddedDocumentBinaryObject",
        &[("mimeCode", "text/plain")],
        &chain.pih,
    )?;
    end(&mut w, "cac:Attachment")?;
    end(&mut w, "cac:AdditionalDocumentReference")?;

    start(&mut w, "cac:AccountingSupplierParty")?;
    write_party(&mut w, &input.seller)?;
    end(&mut w, "cac:AccountingSupplierParty")?;
    // The customer party is mandatory in the UBL schema, even when empty (B2C).
    match &input.buyer {
        Some(buyer) => {
            start(&mut w, "cac:AccountingCustomerParty")?;
            write_party(&mut w, buyer)?;
            end(&mut w, "cac:AccountingCustomerParty")?;
        }
        None => w.write_event(Event::Empty(BytesStart::new("cac:AccountingCustomerParty")))?,
    }
    if input.delivery_date.is_some() || input.delivery_end_date.is_some() {
        start(&mut w, "cac:Delivery")?;
        if let Some(d) = &input.delivery_date {
            text(&mut w, "cbc:ActualDeliveryDate", d)?;
        }
        if let Some(d) = &input.delivery_end_date {
            text(&mut w, "cbc:LatestDeliveryDate", d)?;
        }
        end(&mut w, "cac:Delivery")?;
    }
    start(&mut w, "cac:PaymentMeans")?;
    text(&mut w, "cbc:PaymentMeansCode", &input.payment_means_code)?;
    if input.document_type.is_note() {
        if let Some(reason) = join_bilingual(input.reason.as_deref(), input.reason_ar.as_deref()) {
            text(&mut w, "cbc:InstructionNote", &reason)?;
        }
    }
    end(&mut w, "cac:PaymentMeans")?;

    // BT-111 first (SAR, no breakdown): QR tag 5 reads the first TaxTotal (SPEC §8).
    start(&mut w, "cac:TaxTotal")?;
    money(&mut w, "cbc:TaxAmount", "SAR", t.vat_total_sar)?;
    end(&mut w, "cac:TaxTotal")?;
    start(&mut w, "cac:TaxTotal")?;
    money(&mut w, "cbc:TaxAmount", cur, t.vat_total)?;
    for s in &t.subtotals {
        start(&mut w, "cac:TaxSubtotal")?;
        money(&mut w, "cbc:TaxableAmount", cur, s.taxable)?;
        money(&mut w, "cbc:TaxAmount", cur, s.vat)?;
        start(&mut w, "cac:TaxCategory")?;
        text_attrs(
            &mut w,
            "cbc:ID",
            &[("schemeID", "UN/ECE 5305"), ("schemeAgencyID", "6")],
            s.category.code(),
        )?;
        text(&mut w, "cbc:Percent", &percent(s.rate))?;
        if let Some(code) = &s.exemption_code {
            text(&mut w, "cbc:TaxExemptionReasonCode", code)?;
        }
        if let Some(reason) = &s.exemption_reason {
            text(&mut w, "cbc:TaxExemptionReason", reason)?;
        }
        start(&mut w, "cac:TaxScheme")?;
        text_attrs(
            &mut w,
            "cbc:ID",
            &[("schemeID", "UN/ECE 5153"), ("schemeAgencyID", "6")],
            "VAT",
        )?;
        end(&mut w, "cac:TaxScheme")?;
        end(&mut w, "cac:TaxCategory")?;
        end(&mut w, "cac:TaxSubtotal")?;
    }
    end(&mut w, "cac:TaxTotal")?;

    start(&mut w, "cac:LegalMonetaryTotal")?;
    money(&mut w, "cbc:LineExtensionAmount", cur, t.line_extension)?;
    money(&mut w, "cbc:TaxExclusiveAmount", cur, t.tax_exclusive)?;
    money(&mut w, "cbc:TaxInclusiveAmount", cur, t.tax_inclusive)?;
    money(&mut w, "cbc:AllowanceTotalAmount", cur, t.allowance_total)?;
    money(&mut w, "cbc:PrepaidAmount", cur, t.prepaid)?;
    money(&mut w, "cbc:PayableAmount", cur, t.payable)?;
    end(&mut w, "cac:LegalMonetaryTotal")?;

    for (i, (item, lt)) in input.line_items.iter().zip(&t.lines).enumerate() {
        start(&mut w, "cac:InvoiceLine")?;
        text(&mut w, "cbc:ID", &(i + 1).to_string())?;
        text_attrs(
            &mut w,
            "cbc:InvoicedQuantity",
            &[("unitCode", &item.unit_code)],
            &plain(item.quantity, 0),
        )?;
        money(&mut w, "cbc:LineExtensionAmount", cur, lt.net)?;
        if !lt.discount.is_zero() {
            start(&mut w, "cac:AllowanceCharge")?;
            text(&mut w, "cbc:ChargeIndicator", "false")?;
            text(&mut w, "cbc:AllowanceChargeReasonCode", "95")?;
            text(&mut w, "cbc:AllowanceChargeReason", "Discount")?;
            money(&mut w, "cbc:Amount", cur, lt.discount)?;
            end(&mut w, "cac:AllowanceCharge")?;
        }
        start(&mut w, "cac:TaxTotal")?;
        money(&mut w, "cbc:TaxAmount", cur, lt.vat)?;
        money(&mut w, "cbc:RoundingAmount", cur, lt.with_vat)?;
        end(&mut w, "cac:TaxTotal")?;
        start(&mut w, "cac:Item")?;
        let name = join_bilingual(Some(&item.description), item.description_ar.as_deref()).unwrap_or_default();
        text(&mut w, "cbc:Name", &name)?;
        start(&mut w, "cac:ClassifiedTaxCategory")?;
        text(&mut w, "cbc:ID", item.vat_category.code())?;
        text(&mut w, "cbc:Percent", &percent(item.vat_rate))?;
        start(&mut w, "cac:TaxScheme")?;
        text(&mut w, "cbc:ID", "VAT")?;
        end(&mut w, "cac:TaxScheme")?;
        end(&mut w, "cac:ClassifiedTaxCategory")?;
        end(&mut w, "cac:Item")?;
        start(&mut w, "cac:Price")?;
        text_attrs(
            &mut w,
            "cbc:PriceAmount",
            &[("currencyID", cur)],
            &plain(lt.net_price, 2),
        )?;
        end(&mut w, "cac:Price")?;
        end(&mut w, "cac:InvoiceLine")?;
    }
    end(&mut w, "Invoice")?;
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    String::from_utf8(bytes).map_err(std::io::Error::other)
}

fn write_party(w: &mut W, party: &Party) -> Io {
    start(w, "cac:Party")?;
    if let Some(id) = party.identification() {
        start(w, "cac:PartyIdentification")?;
        text_attrs(w, "cbc:ID", &[("schemeID", &id.scheme)], &id.value)?;
        end(w, "cac:PartyIdentification")?;
    }
    if let Some(a) = &party.address {
        start(w, "cac:PostalAddress")?;
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
                text(w, name, v)?;
            }
        }
        if let Some(country) = &a.country {
            start(w, "cac:Country")?;
            text(w, "cbc:IdentificationCode", country)?;
            end(w, "cac:Country")?;
        }
        end(w, "cac:PostalAddress")?;
    }
    if let Some(vat) = &party.vat_number {
        start(w, "cac:PartyTaxScheme")?;
        text(w, "cbc:CompanyID", vat)?;
        start(w, "cac:TaxScheme")?;
        text(w, "cbc:ID", "VAT")?;
        end(w, "cac:TaxScheme")?;
        end(w, "cac:PartyTaxScheme")?;
    }
    if let Some(name) = party.display_name() {
        start(w, "cac:PartyLegalEntity")?;
        text(w, "cbc:RegistrationName", &name)?;
        end(w, "cac:PartyLegalEntity")?;
    }
    end(w, "cac:Party")
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
