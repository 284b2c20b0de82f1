//! The fields a printed invoice shows, read from any ZATCA UBL 2.1 document (ours or another
//! tool's). Values are kept as the XML's own text so that every printed amount and identifier
//! equals the XML; nothing is recomputed or reformatted.

use zatca_core::xml::{self, Element, NS_CAC, NS_CBC};

use crate::Error;

/// An amount as written: the text and its `currencyID`.
#[derive(Debug, Clone, Default)]
pub struct Amount {
    pub value: String,
    pub currency: String,
}

#[derive(Debug, Clone, Default)]
pub struct Address {
    pub street: String,
    pub additional_street: String,
    pub building: String,
    pub additional_number: String,
    pub district: String,
    pub city: String,
    pub postal_zone: String,
    pub region: String,
    pub country: String,
}

#[derive(Debug, Clone, Default)]
pub struct Party {
    pub name: String,
    pub vat_number: String,
    /// PartyIdentification IDs as (schemeID, value): CRN, NAT, TIN, …
    pub ids: Vec<(String, String)>,
    pub address: Address,
}

#[derive(Debug, Clone, Default)]
pub struct Line {
    pub id: String,
    pub name: String,
    pub quantity: String,
    pub unit: String,
    pub price: Amount,
    /// Price/BaseQuantity when it is not 1 (the price is per that many units).
    pub base_quantity: String,
    /// Line-level and price-level allowances (discounts) and charges: (is charge, amount, reason).
    pub adjustments: Vec<(bool, Amount, String)>,
    pub net: Amount,
    pub vat: Amount,
    pub total: Amount,
    pub category: String,
    pub percent: String,
}

#[derive(Debug, Clone, Default)]
pub struct Subtotal {
    pub taxable: Amount,
    pub tax: Amount,
    pub category: String,
    pub percent: String,
    pub exemption_code: String,
    pub exemption_reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct AllowanceCharge {
    pub charge: bool,
    pub reason: String,
    pub reason_code: String,
    pub amount: Amount,
    pub category: String,
    pub percent: String,
}

/// The kind of document, from `InvoiceTypeCode` and its `name` (ZATCA's transaction code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Invoice,
    CreditNote,
    DebitNote,
    Prepayment,
}

#[derive(Debug, Clone)]
pub struct Invoice {
    pub kind: Kind,
    pub simplified: bool,
    pub id: String,
    pub uuid: String,
    pub issue_date: String,
    pub issue_time: String,
    pub currency: String,
    pub tax_currency: String,
    pub supply_date: String,
    pub supply_end_date: String,
    pub billing_references: Vec<String>,
    pub reasons: Vec<String>,
    pub payment_means: Vec<String>,
    pub notes: Vec<String>,
    pub seller: Party,
    pub buyer: Option<Party>,
    pub lines: Vec<Line>,
    pub allowances: Vec<AllowanceCharge>,
    pub subtotals: Vec<Subtotal>,
    /// Document-level TaxTotal/TaxAmount values, each with its currency (one per currency).
    pub tax_totals: Vec<Amount>,
    /// LegalMonetaryTotal children in document order: (local name, amount).
    pub totals: Vec<(String, Amount)>,
    pub qr: String,
}

fn cbc<'e, 'a>(el: &'e Element<'a>, name: &str) -> Option<&'e Element<'a>> {
    el.child(NS_CBC, name)
}

fn cac<'e, 'a>(el: &'e Element<'a>, name: &str) -> Option<&'e Element<'a>> {
    el.child(NS_CAC, name)
}

fn cacs<'e, 'a: 'e>(el: &'e Element<'a>, name: &'e str) -> impl Iterator<Item = &'e Element<'a>> + 'e {
    el.elements().filter(move |e| e.is(NS_CAC, name))
}

/// The trimmed text of a `cbc` child, or "" when absent.
fn text(el: Option<&Element<'_>>, name: &str) -> String {
    el.and_then(|e| cbc(e, name))
        .map(|e| e.text().trim().to_owned())
        .unwrap_or_default()
}

fn amount(el: Option<&Element<'_>>, name: &str) -> Amount {
    match el.and_then(|e| cbc(e, name)) {
        Some(e) => Amount {
            value: e.text().trim().to_owned(),
            currency: e.attr("currencyID").unwrap_or_default().trim().to_owned(),
        },
        None => Amount::default(),
    }
}

fn required(value: String, what: &str) -> Result<String, Error> {
    if value.is_empty() {
        Err(Error::new("missing_field", format!("the document has no {what}")))
    } else {
        Ok(value)
    }
}

fn party(el: Option<&Element<'_>>) -> Option<Party> {
    let p = el.and_then(|e| cac(e, "Party"))?;
    let address = cac(p, "PostalAddress");
    Some(Party {
        name: text(cac(p, "PartyLegalEntity"), "RegistrationName"),
        vat_number: text(cac(p, "PartyTaxScheme"), "CompanyID"),
        ids: cacs(p, "PartyIdentification")
            .filter_map(|pid| cbc(pid, "ID"))
            .map(|id| {
                (
                    id.attr("schemeID").unwrap_or_default().to_owned(),
                    id.text().trim().to_owned(),
                )
            })
            .filter(|(_, v)| !v.is_empty())
            .collect(),
        address: Address {
            street: text(address, "StreetName"),
            additional_street: text(address, "AdditionalStreetName"),
            building: text(address, "BuildingNumber"),
            additional_number: text(address, "PlotIdentification"),
            district: text(address, "CitySubdivisionName"),
            city: text(address, "CityName"),
            postal_zone: text(address, "PostalZone"),
            region: text(address, "CountrySubentity"),
            country: text(address.and_then(|a| cac(a, "Country")), "IdentificationCode"),
        },
    })
}

fn allowance_charge(ac: &Element<'_>) -> AllowanceCharge {
    let category = cac(ac, "TaxCategory");
    AllowanceCharge {
        charge: text(Some(ac), "ChargeIndicator") == "true",
        reason: text(Some(ac), "AllowanceChargeReason"),
        reason_code: text(Some(ac), "AllowanceChargeReasonCode"),
        amount: amount(Some(ac), "Amount"),
        category: text(category, "ID"),
        percent: text(category, "Percent"),
    }
}

fn line(el: &Element<'_>) -> Line {
    let quantity = el.elements().find(|e| {
        e.ns == NS_CBC
            && matches!(
                e.local_name(),
                "InvoicedQuantity" | "CreditedQuantity" | "DebitedQuantity"
            )
    });
    let item = cac(el, "Item");
    let category = item.and_then(|i| cac(i, "ClassifiedTaxCategory"));
    let price = cac(el, "Price");
    let tax = cac(el, "TaxTotal");
    let mut adjustments: Vec<(bool, Amount, String)> = cacs(el, "AllowanceCharge")
        .chain(price.into_iter().flat_map(|p| cacs(p, "AllowanceCharge")))
        .map(allowance_charge)
        .filter(|a| !a.amount.value.is_empty())
        .map(|a| (a.charge, a.amount, a.reason))
        .collect();
    // A price discount of zero is a common placeholder; it says nothing to the reader.
    adjustments.retain(|(_, a, _)| !a.value.trim_start_matches(['0', '.']).is_empty());
    let base_quantity = text(price, "BaseQuantity");
    Line {
        id: text(Some(el), "ID"),
        name: text(item, "Name"),
        quantity: quantity.map(|q| q.text().trim().to_owned()).unwrap_or_default(),
        unit: quantity.and_then(|q| q.attr("unitCode")).unwrap_or_default().to_owned(),
        price: amount(price, "PriceAmount"),
        base_quantity: if matches!(base_quantity.as_str(), "" | "1" | "1.0" | "1.00") {
            String::new()
        } else {
            base_quantity
        },
        adjustments,
        net: amount(Some(el), "LineExtensionAmount"),
        vat: amount(tax, "TaxAmount"),
        total: amount(tax, "RoundingAmount"),
        category: text(category, "ID"),
        percent: text(category, "Percent"),
    }
}

/// Reads the document. Fails with `invalid_xml` (from the core's parser), `missing_field` when
/// a field every ZATCA document has is absent, `missing_qr`, or `unsupported_document_type`.
pub fn read(xml_bytes: &[u8]) -> Result<Invoice, Error> {
    let doc = xml::parse(xml::utf8(xml_bytes)?)?;
    let root = &doc.root;
    if !matches!(root.local_name(), "Invoice" | "CreditNote" | "DebitNote") {
        return Err(Error::new(
            "unsupported_document_type",
            format!("the root element is {}, not a UBL Invoice", root.name),
        ));
    }
    let type_code = cbc(root, "InvoiceTypeCode");
    let code = type_code.map(|t| t.text().trim().to_owned()).unwrap_or_default();
    let kind = match code.as_str() {
        "388" => Kind::Invoice,
        "381" => Kind::CreditNote,
        "383" => Kind::DebitNote,
        "386" => Kind::Prepayment,
        "" => return Err(Error::new("missing_field", "the document has no InvoiceTypeCode")),
        other => {
            return Err(Error::new(
                "unsupported_document_type",
                format!("InvoiceTypeCode {other} is not a ZATCA invoice, credit note or debit note"),
            ));
        }
    };
    // The transaction code's first two digits: 01 standard (B2B), 02 simplified (B2C).
    let simplified = type_code
        .and_then(|t| t.attr("name"))
        .is_some_and(|n| n.starts_with("02"));

    let additional = |id: &str| cacs(root, "AdditionalDocumentReference").find(|r| text(Some(r), "ID") == id);
    let qr: String = additional("QR")
        .and_then(|r| cac(r, "Attachment"))
        .and_then(|a| cbc(a, "EmbeddedDocumentBinaryObject"))
        .map(|e| e.text().split_whitespace().collect())
        .unwrap_or_default();
    if qr.is_empty() {
        return Err(Error::new(
            "missing_qr",
            "the document has no QR code (AdditionalDocumentReference QR); only signed or cleared documents can be printed",
        ));
    }
    let delivery = cac(root, "Delivery");
    let seller = party(cac(root, "AccountingSupplierParty")).unwrap_or_default();
    let buyer = party(cac(root, "AccountingCustomerParty"))
        .filter(|b| !b.name.is_empty() || !b.vat_number.is_empty() || !b.ids.is_empty());

    let mut subtotals = Vec::new();
    let mut tax_totals = Vec::new();
    for total in cacs(root, "TaxTotal") {
        let tax = amount(Some(total), "TaxAmount");
        if !tax.value.is_empty() {
            tax_totals.push(tax);
        }
        for sub in cacs(total, "TaxSubtotal") {
            let category = cac(sub, "TaxCategory");
            subtotals.push(Subtotal {
                taxable: amount(Some(sub), "TaxableAmount"),
                tax: amount(Some(sub), "TaxAmount"),
                category: text(category, "ID"),
                percent: text(category, "Percent"),
                exemption_code: text(category, "TaxExemptionReasonCode"),
                exemption_reason: text(category, "TaxExemptionReason"),
            });
        }
    }
    let totals = cac(root, "LegalMonetaryTotal")
        .map(|t| {
            t.elements()
                .filter(|e| e.ns == NS_CBC)
                .map(|e| {
                    (
                        e.local_name().to_owned(),
                        Amount {
                            value: e.text().trim().to_owned(),
                            currency: e.attr("currencyID").unwrap_or_default().to_owned(),
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default();

    let invoice = Invoice {
        kind,
        simplified,
        id: required(text(Some(root), "ID"), "invoice number (cbc:ID)")?,
        uuid: text(Some(root), "UUID"),
        issue_date: required(text(Some(root), "IssueDate"), "issue date (cbc:IssueDate)")?,
        issue_time: text(Some(root), "IssueTime"),
        currency: required(
            text(Some(root), "DocumentCurrencyCode"),
            "currency (cbc:DocumentCurrencyCode)",
        )?,
        tax_currency: text(Some(root), "TaxCurrencyCode"),
        supply_date: text(delivery, "ActualDeliveryDate"),
        supply_end_date: text(delivery, "LatestDeliveryDate"),
        billing_references: cacs(root, "BillingReference")
            .filter_map(|b| cac(b, "InvoiceDocumentReference"))
            .map(|r| text(Some(r), "ID"))
            .filter(|s| !s.is_empty())
            .collect(),
        reasons: cacs(root, "PaymentMeans")
            .map(|p| text(Some(p), "InstructionNote"))
            .filter(|s| !s.is_empty())
            .collect(),
        payment_means: cacs(root, "PaymentMeans")
            .map(|p| text(Some(p), "PaymentMeansCode"))
            .filter(|s| !s.is_empty())
            .collect(),
        notes: root
            .elements()
            .filter(|e| e.is(NS_CBC, "Note"))
            .map(|e| e.text().trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        seller,
        buyer,
        lines: root
            .elements()
            .filter(|e| e.ns == NS_CAC && matches!(e.local_name(), "InvoiceLine" | "CreditNoteLine" | "DebitNoteLine"))
            .map(line)
            .collect(),
        allowances: cacs(root, "AllowanceCharge").map(allowance_charge).collect(),
        subtotals,
        tax_totals,
        totals,
        qr,
    };
    required(
        invoice.seller.name.clone(),
        "seller name (AccountingSupplierParty RegistrationName)",
    )?;
    Ok(invoice)
}

impl Invoice {
    /// A LegalMonetaryTotal amount by element name, when present.
    pub fn total(&self, name: &str) -> Option<&Amount> {
        self.totals
            .iter()
            .find(|(n, a)| n == name && !a.value.is_empty())
            .map(|(_, a)| a)
    }

    /// The document-level VAT total in the given currency, when present.
    pub fn tax_total_in(&self, currency: &str) -> Option<&Amount> {
        self.tax_totals.iter().find(|a| a.currency == currency)
    }
}
