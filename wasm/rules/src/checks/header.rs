//! The document header: number, dates, type, currencies, profile, supply dates, the credit/debit note reason.

use zatca_core::xml::{Element, NS_CAC};

use super::Out;
use super::tree::{cac, cbc, text};

pub(super) fn header(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    if text(cbc(root, "ID")).is_none() {
        out.hit("BR-02", at("/cbc:ID"), None);
    }
    if text(cbc(root, "IssueDate")).is_none() {
        out.hit("BR-03", at("/cbc:IssueDate"), None);
    }
    if text(cbc(root, "DocumentCurrencyCode")).is_none() {
        out.hit("BR-05", at("/cbc:DocumentCurrencyCode"), None);
    }
    if cac(root, "InvoiceLine").is_none() {
        out.hit("BR-16", at("/cac:InvoiceLine"), None);
    }
    // The message asks for letters, digits and dashes only, but ZATCA's schematron checks
    // presence alone (a UUID with `!` or `_` passes its validator), and so does this.
    if text(cbc(root, "UUID")).is_none() {
        out.hit("BR-KSA-03", at("/cbc:UUID"), None);
    }
    if text(cbc(root, "ProfileID")).as_deref() != Some("reporting:1.0") {
        out.hit("BR-KSA-EN16931-01", at("/cbc:ProfileID"), text(cbc(root, "ProfileID")));
    }
    match text(cbc(root, "TaxCurrencyCode")) {
        None => out.hit("BR-KSA-68", at("/cbc:TaxCurrencyCode"), None),
        Some(c) if c != "SAR" => out.hit("BR-KSA-EN16931-02", at("/cbc:TaxCurrencyCode"), Some(c)),
        Some(_) => {}
    }
}

pub(super) fn transaction(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let Some(type_code) = cbc(root, "InvoiceTypeCode") else {
        out.hit("BR-04", at("/cbc:InvoiceTypeCode"), None);
        return;
    };
    let code = type_code.text().trim().to_owned();
    if !["388", "383", "381", "386"].contains(&code.as_str()) {
        out.hit("BR-KSA-05", at("/cbc:InvoiceTypeCode"), Some(code.clone()));
    }
    let name = type_code.attr("name").unwrap_or_default();
    let b = name.as_bytes();
    let well_formed = (b.len() == 7 || b.len() == 9)
        && b.first() == Some(&b'0')
        && matches!(b.get(1), Some(b'1' | b'2'))
        && b.iter().skip(2).all(|c| matches!(c, b'0' | b'1'));
    if !well_formed {
        out.hit("BR-KSA-06", at("/cbc:InvoiceTypeCode/@name"), Some(name.to_owned()));
        return;
    }
    let flag = |i: usize| b.get(i) == Some(&b'1');
    if flag(4) && flag(6) {
        out.hit("BR-KSA-07", at("/cbc:InvoiceTypeCode/@name"), Some(name.to_owned()));
    }
    if b.get(1) == Some(&b'2') && flag(6) {
        out.hit("BR-KSA-31", at("/cbc:InvoiceTypeCode/@name"), Some(name.to_owned()));
    }
    let delivery = cac(root, "Delivery");
    let start = delivery.and_then(|d| text(cbc(d, "ActualDeliveryDate")));
    let end = delivery.and_then(|d| text(cbc(d, "LatestDeliveryDate")));
    if code == "388" && b.get(1) == Some(&b'1') && start.is_none() {
        out.hit("BR-KSA-15", at("/cac:Delivery/cbc:ActualDeliveryDate"), None);
    }
    match (&start, &end) {
        (None, Some(_)) => out.hit("BR-KSA-35", at("/cac:Delivery/cbc:ActualDeliveryDate"), None),
        // ISO dates order as text.
        (Some(s), Some(e)) if e < s => {
            out.hit(
                "BR-KSA-36",
                at("/cac:Delivery/cbc:LatestDeliveryDate"),
                Some(format!("{e} < {s}")),
            );
        }
        _ => {}
    }
    if code == "381" || code == "383" {
        let reason = root
            .elements()
            .filter(|e| e.is(NS_CAC, "PaymentMeans"))
            .any(|pm| text(cbc(pm, "InstructionNote")).is_some());
        if !reason {
            out.hit("BR-KSA-17", at("/cac:PaymentMeans/cbc:InstructionNote"), None);
        }
    }
}
