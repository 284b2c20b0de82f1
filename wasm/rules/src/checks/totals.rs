//! Document totals (BR-CO arithmetic) and the VAT total in the tax currency.

use rust_decimal::Decimal;
use zatca_core::xml::{Element, NS_CAC};

use super::Out;
use super::tree::{all, blank, cac, cbc, frac, indicator, num, round2, sv, text};

pub(super) fn totals(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let currency = text(cbc(root, "DocumentCurrencyCode"));
    let tax_currency = text(cbc(root, "TaxCurrencyCode"));
    super::code_lists::currencies(root, currency.as_deref(), at, out);
    let tax_totals: Vec<&Element<'_>> = root.elements().filter(|e| e.is(NS_CAC, "TaxTotal")).collect();
    if let Some(tax) = &tax_currency {
        let given = tax_totals
            .iter()
            .filter_map(|t| cbc(t, "TaxAmount"))
            .any(|a| a.attr("currencyID") == Some(tax.as_str()));
        if !given {
            out.hit("BR-53", at("/cac:TaxTotal/cbc:TaxAmount"), Some(tax.clone()));
        }
    }
    // BR-CO-15: a VAT total in the document currency, and the total with VAT is the total without
    // VAT plus the VAT of the breakdown (rounded to cents).
    if let Some(c) = &currency {
        let breakdown: Option<Decimal> = tax_totals
            .iter()
            .flat_map(|t| all(t, NS_CAC, "TaxSubtotal"))
            .filter_map(|s| cbc(s, "TaxAmount"))
            .map(|a| num(Some(a)))
            .sum();
        let lmt = cac(root, "LegalMonetaryTotal");
        let with = lmt.and_then(|l| num(cbc(l, "TaxInclusiveAmount")));
        let without = lmt.and_then(|l| num(cbc(l, "TaxExclusiveAmount")));
        let in_currency = tax_totals
            .iter()
            .filter_map(|t| cbc(t, "TaxAmount"))
            .any(|a| a.attr("currencyID") == Some(c.as_str()));
        let ok = in_currency
            && match (with, without, breakdown) {
                (Some(with), Some(without), Some(vat)) => with == round2(without + vat),
                _ => false,
            };
        if !ok {
            out.hit(
                "BR-CO-15",
                at("/cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount"),
                Some(format!("{with:?} != {without:?} + {breakdown:?}")),
            );
        }
    }
    let Some(lmt) = cac(root, "LegalMonetaryTotal") else {
        return;
    };
    let amount = |local: &str| num(cbc(lmt, local));
    let present = |local: &str| cbc(lmt, local).is_some();
    // The sum of the lines' net amounts (BT-131); a missing amount adds nothing, as in `sum()`.
    let lines: Option<Decimal> = root
        .elements()
        .filter(|e| e.is(NS_CAC, "InvoiceLine"))
        .filter_map(|l| cbc(l, "LineExtensionAmount"))
        .map(|a| num(Some(a)))
        .sum();
    if let Some(sum) = lines {
        if amount("LineExtensionAmount") != Some(round2(sum)) {
            out.hit(
                "BR-CO-10",
                at("/cac:LegalMonetaryTotal/cbc:LineExtensionAmount"),
                Some(format!("{} != {sum}", sv(cbc(lmt, "LineExtensionAmount")))),
            );
        }
    }
    // BR-CO-13, its four cases: with charges and allowances, either, or neither (then against the
    // declared BT-106). A blank charge total fails it outright.
    let blank_charges = present("ChargeTotalAmount") && blank(cbc(lmt, "ChargeTotalAmount"));
    let without = amount("TaxExclusiveAmount");
    let expected = match (present("ChargeTotalAmount"), present("AllowanceTotalAmount"), lines) {
        (false, false, _) => amount("LineExtensionAmount"),
        (charges, allowances, Some(sum)) => {
            let c = if charges {
                amount("ChargeTotalAmount")
            } else {
                Some(Decimal::ZERO)
            };
            let a = if allowances {
                amount("AllowanceTotalAmount")
            } else {
                Some(Decimal::ZERO)
            };
            match (c, a) {
                (Some(c), Some(a)) => Some(round2(sum + c - a)),
                _ => None,
            }
        }
        _ => None,
    };
    if blank_charges || without.is_none() || without != expected {
        out.hit(
            "BR-CO-13",
            at("/cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount"),
            Some(format!("{without:?} != {expected:?}")),
        );
    }
    if blank_charges {
        out.hit("BR-CO-12", at("/cac:LegalMonetaryTotal/cbc:ChargeTotalAmount"), None);
    }
    // BR-CO-16: payable = with VAT - prepaid (+ rounding), in the schematron's four cases.
    let (payable, with) = (amount("PayableAmount"), amount("TaxInclusiveAmount"));
    let (prepaid, rounding) = (amount("PrepaidAmount"), amount("PayableRoundingAmount"));
    let eq = |a: Option<Decimal>, b: Option<Decimal>| matches!((a, b), (Some(a), Some(b)) if a == b);
    let sub = |a: Option<Decimal>, b: Option<Decimal>| a.zip(b).map(|(a, b)| round2(a - b));
    let ok = (!present("PayableRoundingAmount") && eq(payable, sub(with, prepaid)))
        || (!present("PrepaidAmount") && !present("PayableRoundingAmount") && eq(payable, with))
        || (present("PrepaidAmount")
            && present("PayableRoundingAmount")
            && eq(sub(payable, rounding), sub(with, prepaid)))
        || (!present("PrepaidAmount") && present("PayableRoundingAmount") && eq(sub(payable, rounding), with));
    if !ok {
        out.hit(
            "BR-CO-16",
            at("/cac:LegalMonetaryTotal/cbc:PayableAmount"),
            Some(format!("{payable:?} != {with:?} - {prepaid:?} + {rounding:?}")),
        );
    }
}

/// The rest of the totals: BR-13..15 (present), BR-CO-11, 12 (allowance and charge totals),
/// BR-CO-14 (VAT total = its breakdown), BR-DEC on the totals, one VAT total with a breakdown
/// and one without (BR-KSA-EN16931-08, 09).
pub(super) fn more(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let currency = text(cbc(root, "DocumentCurrencyCode"));
    let tax_currency = text(cbc(root, "TaxCurrencyCode"));
    let totals: Vec<&Element<'_>> = all(root, NS_CAC, "TaxTotal").collect();
    for (t, total) in totals.iter().enumerate() {
        let subs: Vec<&Element<'_>> = all(total, NS_CAC, "TaxSubtotal").collect();
        let amount = cbc(total, "TaxAmount");
        if !subs.is_empty() {
            let sum: Option<Decimal> = subs
                .iter()
                .map(|s| num(cbc(s, "TaxAmount")).or(cbc(s, "TaxAmount").map_or(Some(Decimal::ZERO), |_| None)))
                .sum();
            if let Some(sum) = sum {
                if num(amount) != Some(round2(sum)) {
                    out.hit(
                        "BR-CO-14",
                        at(&format!("/cac:TaxTotal[{}]/cbc:TaxAmount", t + 1)),
                        Some(format!("{} != {sum}", sv(amount))),
                    );
                }
            }
        }
        for (s, sub) in subs.iter().enumerate() {
            for (rule, local) in [("BR-DEC-19", "TaxableAmount"), ("BR-DEC-20", "TaxAmount")] {
                if frac(cbc(sub, local)) > 2 {
                    out.hit(
                        rule,
                        at(&format!(
                            "/cac:TaxTotal[{}]/cac:TaxSubtotal[{}]/cbc:{local}",
                            t + 1,
                            s + 1
                        )),
                        None,
                    );
                }
            }
        }
        if let Some(a) = amount {
            let c = a.attr("currencyID");
            if c.is_some() && c == currency.as_deref() && frac(amount) > 2 {
                out.hit(
                    "BR-DEC-13",
                    at(&format!("/cac:TaxTotal[{}]/cbc:TaxAmount", t + 1)),
                    Some(a.text()),
                );
            }
            if c.is_some() && c == tax_currency.as_deref() && frac(amount) > 2 {
                out.hit(
                    "BR-DEC-15",
                    at(&format!("/cac:TaxTotal[{}]/cbc:TaxAmount", t + 1)),
                    Some(a.text()),
                );
            }
        }
    }
    let with = totals.iter().filter(|t| cac(t, "TaxSubtotal").is_some()).count();
    if with != 1 {
        out.hit(
            "BR-KSA-EN16931-08",
            at("/cac:TaxTotal"),
            Some(format!("{with} with a breakdown")),
        );
    }
    if cbc(root, "TaxCurrencyCode").is_some() && totals.len() - with != 1 {
        out.hit(
            "BR-KSA-EN16931-09",
            at("/cac:TaxTotal"),
            Some(format!("{} without a breakdown", totals.len() - with)),
        );
    }
    let Some(lmt) = cac(root, "LegalMonetaryTotal") else {
        return;
    };
    let p = |local: &str| at(&format!("/cac:LegalMonetaryTotal/cbc:{local}"));
    for (rule, local) in [
        ("BR-13", "TaxExclusiveAmount"),
        ("BR-14", "TaxInclusiveAmount"),
        ("BR-15", "PayableAmount"),
    ] {
        if cbc(lmt, local).is_none() {
            out.hit(rule, p(local), None);
        }
    }
    for (rule, local) in [
        ("BR-DEC-09", "LineExtensionAmount"),
        ("BR-DEC-10", "AllowanceTotalAmount"),
        ("BR-DEC-11", "ChargeTotalAmount"),
        ("BR-DEC-12", "TaxExclusiveAmount"),
        ("BR-DEC-14", "TaxInclusiveAmount"),
        ("BR-DEC-16", "PrepaidAmount"),
        ("BR-DEC-17", "PayableRoundingAmount"),
        ("BR-DEC-18", "PayableAmount"),
    ] {
        if frac(cbc(lmt, local)) > 2 {
            out.hit(rule, p(local), cbc(lmt, local).map(Element::text));
        }
    }
    // BR-CO-11, 12: the declared total equals the rounded sum of the root allowances (charges),
    // or neither exists.
    for (rule, local, charge) in [
        ("BR-CO-11", "AllowanceTotalAmount", false),
        ("BR-CO-12", "ChargeTotalAmount", true),
    ] {
        let items: Vec<&Element<'_>> = all(root, NS_CAC, "AllowanceCharge")
            .filter(|ac| indicator(ac) == Some(charge))
            .collect();
        let declared = cbc(lmt, local);
        let sum: Option<Decimal> = items
            .iter()
            .filter_map(|ac| cbc(ac, "Amount"))
            .map(|a| num(Some(a)))
            .sum();
        let ok = match (declared, sum) {
            (None, _) => items.is_empty(),
            (Some(d), Some(sum)) => num(Some(d)) == Some(round2(sum)),
            // An amount that is not a number is the XSD's to refuse.
            (Some(_), None) => true,
        };
        if !ok {
            out.hit(
                rule,
                p(local),
                Some(format!("{} != {}", sv(declared), sum.map(round2).unwrap_or_default())),
            );
        }
    }
}
