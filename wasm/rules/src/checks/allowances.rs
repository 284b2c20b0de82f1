//! Allowances and charges, at document and line level: amounts and categories (BR-31, 32, 36,
//! 37, 41, 43), reasons (BR-KSA-19..22 and their lengths), out-of-scope rates (BR-KSA-11..13),
//! the multiplier (BR-KSA-DEC-01, BR-KSA-EN16931-03..05) and price allowances (BR-KSA-EN16931-06,
//! 07, 12).

use rust_decimal::Decimal;
use zatca_core::xml::{Element, NS_CAC};

use super::Out;
use super::tree::{all, blank, cac, category_id, cbc, chars, frac, indicator, is_vat, num, round2};

pub(super) fn allowances(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let documents: Vec<&Element<'_>> = all(root, NS_CAC, "AllowanceCharge").collect();
    for (i, ac) in documents.iter().enumerate() {
        let p = |rest: &str| at(&format!("/cac:AllowanceCharge[{}]{rest}", i + 1));
        one(ac, indicator(ac), true, &p, out);
    }
    for (l, line) in all(root, NS_CAC, "InvoiceLine").enumerate() {
        for (i, ac) in all(line, NS_CAC, "AllowanceCharge").enumerate() {
            let p = |rest: &str| {
                at(&format!(
                    "/cac:InvoiceLine[{}]/cac:AllowanceCharge[{}]{rest}",
                    l + 1,
                    i + 1
                ))
            };
            one(ac, indicator(ac), false, &p, out);
        }
        // O is out of scope: no rate (BR-KSA-11).
        if let Some(item) = cac(line, "Item") {
            for c in all(item, NS_CAC, "ClassifiedTaxCategory").filter(|c| category_id(c) == "O") {
                if num(cbc(c, "Percent")).is_some_and(|v| !v.is_zero()) {
                    out.hit(
                        "BR-KSA-11",
                        at(&format!(
                            "/cac:InvoiceLine[{}]/cac:Item/cac:ClassifiedTaxCategory/cbc:Percent",
                            l + 1
                        )),
                        None,
                    );
                }
            }
        }
        let Some(price) = cac(line, "Price") else { continue };
        let pp = |rest: &str| at(&format!("/cac:InvoiceLine[{}]/cac:Price{rest}", l + 1));
        if let Some(q) = cbc(price, "BaseQuantity") {
            if !q.text().is_empty() && num(Some(q)).is_none_or(|v| v <= Decimal::ZERO) {
                out.hit("BR-KSA-EN16931-12", pp("/cbc:BaseQuantity"), Some(q.text()));
            }
        }
        for ac in all(price, NS_CAC, "AllowanceCharge") {
            if indicator(ac) == Some(true) {
                out.hit(
                    "BR-KSA-EN16931-06",
                    pp("/cac:AllowanceCharge/cbc:ChargeIndicator"),
                    None,
                );
            }
            if cbc(ac, "BaseAmount").is_some() {
                let ok = match (
                    num(cbc(price, "PriceAmount")),
                    num(cbc(ac, "BaseAmount")),
                    num(cbc(ac, "Amount")),
                ) {
                    (Some(price), Some(base), Some(amount)) => price == base - amount,
                    _ => false,
                };
                if !ok {
                    out.hit("BR-KSA-EN16931-07", pp("/cac:AllowanceCharge/cbc:BaseAmount"), None);
                }
            }
        }
    }
}

/// One allowance or charge; `document` for the root ones (`/Invoice/cac:AllowanceCharge`).
fn one(ac: &Element<'_>, charge: Option<bool>, document: bool, p: &dyn Fn(&str) -> String, out: &mut Out) {
    let amount = cbc(ac, "Amount");
    let base = cbc(ac, "BaseAmount");
    let reason = cbc(ac, "AllowanceChargeReason");
    match (charge, document) {
        (Some(false), true) => {
            if amount.is_none() {
                out.hit("BR-31", p("/cbc:Amount"), None);
            }
            let vat_id = all(ac, NS_CAC, "TaxCategory")
                .filter(|c| is_vat(c))
                .find_map(|c| cbc(c, "ID"));
            if vat_id.is_none_or(|id| id.text().is_empty()) {
                out.hit("BR-32", p("/cac:TaxCategory/cbc:ID"), None);
            }
            decimals(amount, base, ("BR-DEC-01", "BR-DEC-02"), p, out);
            length(reason, "BR-KSA-F-06-C35", p, out);
        }
        (Some(true), true) => {
            if amount.is_none() {
                out.hit("BR-36", p("/cbc:Amount"), None);
            }
            if !all(ac, NS_CAC, "TaxCategory").any(|c| cbc(c, "ID").is_some()) {
                out.hit("BR-37", p("/cac:TaxCategory/cbc:ID"), None);
            }
            decimals(amount, base, ("BR-DEC-05", "BR-DEC-06"), p, out);
            if blank(cbc(ac, "AllowanceChargeReasonCode")) {
                out.hit("BR-KSA-19", p("/cbc:AllowanceChargeReasonCode"), None);
            }
            if blank(reason) {
                out.hit("BR-KSA-21", p("/cbc:AllowanceChargeReason"), None);
            }
            length(reason, "BR-KSA-F-06-C33", p, out);
        }
        // BR-41, BR-DEC-24 and 25 would apply here, but ZATCA's EN schematron never reaches them
        // (see `NEVER`).
        (Some(false), false) => length(reason, "BR-KSA-F-06-C36", p, out),
        (Some(true), false) => {
            if amount.is_none() {
                out.hit("BR-43", p("/cbc:Amount"), None);
            }
            decimals(amount, base, ("BR-DEC-27", "BR-DEC-28"), p, out);
            if blank(cbc(ac, "AllowanceChargeReasonCode")) {
                out.hit("BR-KSA-20", p("/cbc:AllowanceChargeReasonCode"), None);
            }
            if blank(reason) {
                out.hit("BR-KSA-22", p("/cbc:AllowanceChargeReason"), None);
            }
            length(reason, "BR-KSA-F-06-C34", p, out);
        }
        (None, _) => {}
    }
    if document {
        for c in all(ac, NS_CAC, "TaxCategory").filter(|c| category_id(c) == "O") {
            if num(cbc(c, "Percent")).is_some_and(|v| !v.is_zero()) {
                match charge {
                    Some(false) => out.hit("BR-KSA-12", p("/cac:TaxCategory/cbc:Percent"), None),
                    Some(true) => out.hit("BR-KSA-13", p("/cac:TaxCategory/cbc:Percent"), None),
                    None => {}
                }
            }
        }
    }
    let multiplier = cbc(ac, "MultiplierFactorNumeric");
    // BR-KSA-DEC-01: allowances only (the price level has none of these).
    if charge == Some(false) && chars(multiplier) > 0 {
        let ok =
            num(multiplier).is_some_and(|m| m >= Decimal::ZERO && m <= Decimal::ONE_HUNDRED) && frac(multiplier) <= 2;
        if !ok {
            out.hit(
                "BR-KSA-DEC-01",
                p("/cbc:MultiplierFactorNumeric"),
                multiplier.map(Element::text),
            );
        }
    }
    if multiplier.is_some() && base.is_none() {
        out.hit("BR-KSA-EN16931-04", p("/cbc:BaseAmount"), None);
    }
    if base.is_some() && multiplier.is_none() {
        out.hit("BR-KSA-EN16931-05", p("/cbc:MultiplierFactorNumeric"), None);
    }
    if base.is_some() && chars(amount) > 0 && chars(base) > 0 {
        // format-number(Amount, '#.00') = format-number(floor(Base * Multiplier div 100 * 100 + 0.5) div 100, '#.00')
        let left =
            num(amount).map(|a| a.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointNearestEven));
        let right = match (num(base), num(multiplier)) {
            (Some(b), Some(m)) => Some(round2(b * m / Decimal::ONE_HUNDRED)),
            _ => None,
        };
        let equal = match (left, right) {
            (Some(l), Some(r)) => l == r,
            (None, None) => true,
            _ => false,
        };
        if !equal {
            out.hit("BR-KSA-EN16931-03", p("/cbc:Amount"), None);
        }
    }
}

fn decimals(
    amount: Option<&Element<'_>>,
    base: Option<&Element<'_>>,
    rules: (&'static str, &'static str),
    p: &dyn Fn(&str) -> String,
    out: &mut Out,
) {
    if frac(amount) > 2 {
        out.hit(rules.0, p("/cbc:Amount"), amount.map(Element::text));
    }
    if frac(base) > 2 {
        out.hit(rules.1, p("/cbc:BaseAmount"), base.map(Element::text));
    }
}

/// The `AllowanceChargeReason` length rules: 1 to 1000 characters when present.
fn length(reason: Option<&Element<'_>>, rule: &'static str, p: &dyn Fn(&str) -> String, out: &mut Out) {
    if reason.is_some() && (chars(reason) > 1000 || chars(reason) < 1) {
        out.hit(rule, p("/cbc:AllowanceChargeReason"), None);
    }
}
