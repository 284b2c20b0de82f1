//! Invoice lines: the EN 16931 line basics (BR-21..26, BR-CO-04), the KSA line VAT amounts
//! (BR-KSA-51, 52, 53) and the field lengths and formats of a line (BR-KSA-F-06-C17..C21, C30,
//! C31, BR-KSA-F-C-01).

use zatca_core::xml::{Element, NS_CAC, NS_CBC};

use super::Out;
use super::tree::{all, cac, cbc, chars, frac, is_vat, num, round2, sv};

pub(super) fn lines(root: &Element<'_>, kind: &super::Kind, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let type_name = root
        .child(NS_CBC, "InvoiceTypeCode")
        .and_then(|t| t.attr("name"))
        .unwrap_or_default();
    let typed = type_name.starts_with("01") || type_name.starts_with("02");
    let mut missing_tax = None;
    let mut missing_rounding = None;
    for (i, line) in all(root, NS_CAC, "InvoiceLine").enumerate() {
        let base = format!("/cac:InvoiceLine[{}]", i + 1);
        let p = |rest: &str| at(&format!("{base}{rest}"));
        let id = cbc(line, "ID");
        if sv(id).is_empty() {
            out.hit("BR-21", p("/cbc:ID"), None);
        }
        if id.is_some() && (chars(id) > 6 || chars(id) < 1) {
            out.hit("BR-KSA-F-06-C17", p("/cbc:ID"), Some(sv(id)));
        }
        let quantity = cbc(line, "InvoicedQuantity");
        if quantity.is_none_or(|q| q.text() == "0") {
            out.hit("BR-22", p("/cbc:InvoicedQuantity"), None);
        }
        if quantity
            .and_then(|q| q.attr("unitCode"))
            .is_some_and(|u| u.chars().count() > 127)
        {
            out.hit("BR-KSA-F-06-C18", p("/cbc:InvoicedQuantity/@unitCode"), None);
        }
        if frac(cbc(line, "LineExtensionAmount")) > 2 {
            out.hit("BR-DEC-23", p("/cbc:LineExtensionAmount"), None);
        }
        let first_total = cac(line, "TaxTotal");
        if frac(first_total.and_then(|t| cbc(t, "TaxAmount"))) > 2 {
            out.hit("BR-KSA-DEC-03", p("/cac:TaxTotal/cbc:TaxAmount"), None);
        }
        if frac(first_total.and_then(|t| cbc(t, "RoundingAmount"))) > 2 {
            out.hit("BR-KSA-DEC-04", p("/cac:TaxTotal/cbc:RoundingAmount"), None);
        }
        if cbc(line, "LineExtensionAmount").is_none() {
            out.hit("BR-24", p("/cbc:LineExtensionAmount"), None);
        }
        let item = cac(line, "Item");
        let name = item.and_then(|it| cbc(it, "Name"));
        if sv(name).is_empty() {
            out.hit("BR-25", p("/cac:Item/cbc:Name"), None);
        }
        if name.is_some() && (chars(name) > 1000 || chars(name) < 3) {
            out.hit("BR-KSA-F-06-C19", p("/cac:Item/cbc:Name"), None);
        }
        // `matches(Name, '^\d+$')`: \d is any Unicode decimal digit.
        let n = sv(name);
        if !n.is_empty() && n.chars().all(unicode_digit) {
            out.hit("BR-KSA-F-C-01", p("/cac:Item/cbc:Name"), Some(n));
        }
        for (rule, local) in [
            ("BR-KSA-F-06-C20", "StandardItemIdentification"),
            ("BR-KSA-F-06-C30", "BuyersItemIdentification"),
            ("BR-KSA-F-06-C31", "SellersItemIdentification"),
        ] {
            let el = item.and_then(|it| it.path(&[(NS_CAC, local), (NS_CBC, "ID")]));
            if chars(el) > 127 {
                out.hit(rule, p(&format!("/cac:Item/cac:{local}/cbc:ID")), None);
            }
        }
        let vat_category = item
            .into_iter()
            .flat_map(|it| all(it, NS_CAC, "ClassifiedTaxCategory"))
            .any(|c| is_vat(c) && cbc(c, "ID").is_some());
        if !vat_category {
            out.hit("BR-CO-04", p("/cac:Item/cac:ClassifiedTaxCategory"), None);
        }
        let price = cac(line, "Price");
        if price.and_then(|pr| cbc(pr, "PriceAmount")).is_none() {
            out.hit("BR-26", p("/cac:Price/cbc:PriceAmount"), None);
        }
        let unit = price
            .and_then(|pr| cbc(pr, "BaseQuantity"))
            .and_then(|q| q.attr("unitCode"));
        if unit.is_some_and(|u| u.chars().count() > 127) {
            out.hit("BR-KSA-F-06-C21", p("/cac:Price/cbc:BaseQuantity/@unitCode"), None);
        }
        let totals: Vec<&Element<'_>> = all(line, NS_CAC, "TaxTotal").collect();
        if !totals
            .iter()
            .any(|t| all(t, NS_CBC, "TaxAmount").any(|a| !a.text().is_empty()))
        {
            missing_tax.get_or_insert(i + 1);
        }
        if !totals
            .iter()
            .any(|t| all(t, NS_CBC, "RoundingAmount").any(|a| !a.text().is_empty()))
        {
            missing_rounding.get_or_insert(i + 1);
        }
        // BR-KSA-51: format-number(RoundingAmount, '#.00') = format-number(round((TaxAmount +
        // LineExtensionAmount) * 100) div 100, '#.00'); a missing operand is NaN on its side.
        for (k, total) in totals.iter().enumerate() {
            let rounding = cbc(total, "RoundingAmount");
            let left = rounding.map(|r| {
                num(Some(r)).map(|v| v.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointNearestEven))
            });
            let right = match (num(cbc(total, "TaxAmount")), num(cbc(line, "LineExtensionAmount"))) {
                (Some(t), Some(l)) => Some(round2(t + l)),
                _ => None,
            };
            let equal = match (left.flatten(), right) {
                (Some(l), Some(r)) => l == r,
                (None, None) => true,
                _ => false,
            };
            if !equal {
                out.hit(
                    "BR-KSA-51",
                    p(&format!("/cac:TaxTotal[{}]/cbc:RoundingAmount", k + 1)),
                    Some(format!(
                        "{} != {} + {}",
                        sv(rounding),
                        sv(cbc(total, "TaxAmount")),
                        sv(cbc(line, "LineExtensionAmount"))
                    )),
                );
            }
        }
    }
    if typed && kind.standard {
        if let Some(n) = missing_tax {
            out.hit(
                "BR-KSA-52",
                at(&format!("/cac:InvoiceLine[{n}]/cac:TaxTotal/cbc:TaxAmount")),
                None,
            );
        }
        if let Some(n) = missing_rounding {
            out.hit(
                "BR-KSA-53",
                at(&format!("/cac:InvoiceLine[{n}]/cac:TaxTotal/cbc:RoundingAmount")),
                None,
            );
        }
    }
}

/// A Unicode decimal digit (`\d`), for the scripts an invoice line is written in.
fn unicode_digit(c: char) -> bool {
    c.is_ascii_digit() || ('\u{0660}'..='\u{0669}').contains(&c) || ('\u{06F0}'..='\u{06F9}').contains(&c)
}
