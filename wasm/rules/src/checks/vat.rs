//! VAT categories.

use zatca_core::xml::{Element, NS_CAC, NS_CBC};

use super::Out;
use rust_decimal::Decimal;

use super::tree::{all, blank, cac, category_id, cbc, chars, frac, indicator, is_vat, listed, ns, num, sv};

/// BR-KSA-18 over every VAT category code: invoice lines, the VAT breakdown and the allowances
/// and charges. ZATCA's test is `contains(' S Z E O ', .)` on the text as written, so an empty
/// code, " S" or "S Z" pass it (BR-CL-18 refuses them).
pub(super) fn categories(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let mut check = |el: Option<&Element<'_>>, path: String| {
        if let Some(id) = el.and_then(|c| cbc(c, "ID")) {
            let raw = id.text();
            if !" S Z E O ".contains(raw.as_str()) {
                out.hit("BR-KSA-18", at(&path), Some(raw.clone()));
            }
            let v = raw.trim().to_owned();
            // UNCL5305 as EN 16931 restricts it.
            if !["AE", "E", "S", "Z", "G", "O", "K", "L", "M", "B"].contains(&v.as_str()) {
                out.hit("BR-CL-18", at(&path), Some(v));
            }
        }
    };
    let mut n_line = 0;
    let mut n_total = 0;
    let mut n_charge = 0;
    for el in root.elements() {
        if el.is(NS_CAC, "InvoiceLine") {
            n_line += 1;
            check(
                el.path(&[(NS_CAC, "Item"), (NS_CAC, "ClassifiedTaxCategory")]),
                format!("/cac:InvoiceLine[{n_line}]/cac:Item/cac:ClassifiedTaxCategory/cbc:ID"),
            );
        } else if el.is(NS_CAC, "TaxTotal") {
            n_total += 1;
            for (k, sub) in el.elements().filter(|e| e.is(NS_CAC, "TaxSubtotal")).enumerate() {
                check(
                    cac(sub, "TaxCategory"),
                    format!(
                        "/cac:TaxTotal[{n_total}]/cac:TaxSubtotal[{}]/cac:TaxCategory/cbc:ID",
                        k + 1
                    ),
                );
            }
        } else if el.is(NS_CAC, "AllowanceCharge") {
            n_charge += 1;
            check(
                cac(el, "TaxCategory"),
                format!("/cac:AllowanceCharge[{n_charge}]/cac:TaxCategory/cbc:ID"),
            );
        }
    }
}

const Z_CODES: &str = " VATEX-SA-32 VATEX-SA-33 VATEX-SA-34-1 VATEX-SA-34-2 VATEX-SA-34-3 VATEX-SA-34-4 VATEX-SA-34-5 VATEX-SA-35 VATEX-SA-36 VATEX-SA-EDU VATEX-SA-HEA VATEX-SA-MLTRY VATEX-SA-DIPLOMAT VATEX-SA-DUTYFREE VATEX-SA-ROYALDECREE VATEX-SA-32(bis) ";
const E_CODES: &str = " VATEX-SA-29 VATEX-SA-29-7 VATEX-SA-30 ";
const O_CODES: &str = " VATEX-SA-OOS ";

/// The VAT breakdown and the rates of each category: BR-45..48, BR-CO-18, the S/Z/E/O rules on
/// rates and amounts, the exemption reasons (BR-KSA-23, 24, 69, 83, CL-04, F-06-C16, 49), the
/// standard rate (BR-KSA-84) and the percent format (BR-KSA-DEC-02).
pub(super) fn breakdown(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let mut any_subtotal = false;
    let buyer_nat = root
        .path(&[(NS_CAC, "AccountingCustomerParty"), (NS_CAC, "Party")])
        .into_iter()
        .flat_map(|p| all(p, NS_CAC, "PartyIdentification"))
        .filter_map(|pi| cbc(pi, "ID"))
        .any(|id| id.attr("schemeID") == Some("NAT"));
    for (t, total) in all(root, NS_CAC, "TaxTotal").enumerate() {
        for (s, sub) in all(total, NS_CAC, "TaxSubtotal").enumerate() {
            any_subtotal = true;
            let p = |rest: &str| at(&format!("/cac:TaxTotal[{}]/cac:TaxSubtotal[{}]{rest}", t + 1, s + 1));
            if cbc(sub, "TaxableAmount").is_none() {
                out.hit("BR-45", p("/cbc:TaxableAmount"), None);
            }
            if cbc(sub, "TaxAmount").is_none() {
                out.hit("BR-46", p("/cbc:TaxAmount"), None);
            }
            let vat: Vec<&Element<'_>> = all(sub, NS_CAC, "TaxCategory").filter(|c| is_vat(c)).collect();
            if !vat.iter().any(|c| cbc(c, "ID").is_some()) {
                out.hit("BR-47", p("/cac:TaxCategory/cbc:ID"), None);
            }
            if !(vat.iter().any(|c| cbc(c, "Percent").is_some()) || vat.iter().any(|c| category_id(c) == "O")) {
                out.hit("BR-48", p("/cac:TaxCategory/cbc:Percent"), None);
            }
            let Some(category) = cac(sub, "TaxCategory") else {
                continue;
            };
            percent(category, &p("/cac:TaxCategory/cbc:Percent"), out);
            let id = category_id(category);
            let code = cbc(category, "TaxExemptionReasonCode");
            let reason = cbc(category, "TaxExemptionReason");
            if ["Z", "E", "O"].contains(&id.as_str()) {
                if code.is_some() && blank(reason) {
                    out.hit("BR-KSA-83", p("/cac:TaxCategory/cbc:TaxExemptionReason"), None);
                }
                let c = ns(&sv(code));
                let listed_here = match id.as_str() {
                    "Z" => listed(Z_CODES, &c),
                    "E" => listed(E_CODES, &c),
                    _ => listed(O_CODES, &c),
                };
                if code.is_some() && !c.is_empty() && !listed_here {
                    out.hit(
                        "BR-KSA-CL-04",
                        p("/cac:TaxCategory/cbc:TaxExemptionReasonCode"),
                        Some(c.clone()),
                    );
                }
                if blank(code) {
                    let rule = match id.as_str() {
                        "O" => "BR-KSA-24",
                        "E" => "BR-KSA-23",
                        _ => "BR-KSA-69",
                    };
                    out.hit(rule, p("/cac:TaxCategory/cbc:TaxExemptionReasonCode"), None);
                }
                // BR-KSA-49's rule (higher priority in the same pattern) takes the EDU/HEA categories.
                let edu = code.is_some_and(|c| c.text() == "VATEX-SA-EDU" || c.text() == "VATEX-SA-HEA");
                if !edu && reason.is_some() && (chars(reason) > 1000 || chars(reason) < 1) {
                    out.hit("BR-KSA-F-06-C16", p("/cac:TaxCategory/cbc:TaxExemptionReason"), None);
                }
                if is_vat(category) && num(cbc(sub, "TaxAmount")).is_none_or(|v| !v.is_zero()) {
                    let rule = match id.as_str() {
                        "Z" => "BR-Z-09",
                        "E" => "BR-E-09",
                        _ => "BR-O-09",
                    };
                    out.hit(rule, p("/cbc:TaxAmount"), cbc(sub, "TaxAmount").map(Element::text));
                }
            }
            if code.is_some_and(|c| c.text() == "VATEX-SA-EDU" || c.text() == "VATEX-SA-HEA") && !buyer_nat {
                out.hit(
                    "BR-KSA-49",
                    at("/cac:AccountingCustomerParty/cac:Party/cac:PartyIdentification/cbc:ID"),
                    None,
                );
            }
            if id == "S" && is_vat(category) {
                standard_rate(category, &p("/cac:TaxCategory/cbc:Percent"), out);
            }
        }
    }
    if !any_subtotal {
        out.hit("BR-CO-18", at("/cac:TaxTotal/cac:TaxSubtotal"), None);
    }
    for (l, line) in all(root, NS_CAC, "InvoiceLine").enumerate() {
        let Some(item) = cac(line, "Item") else { continue };
        for category in all(item, NS_CAC, "ClassifiedTaxCategory") {
            let p = at(&format!(
                "/cac:InvoiceLine[{}]/cac:Item/cac:ClassifiedTaxCategory/cbc:Percent",
                l + 1
            ));
            percent(category, &p, out);
            if !is_vat(category) {
                continue;
            }
            let rate = num(cbc(category, "Percent"));
            match category_id(category).as_str() {
                "S" => {
                    if rate.is_none_or(|r| r <= Decimal::ZERO) {
                        out.hit("BR-S-05", p.clone(), None);
                    }
                    standard_rate(category, &p, out);
                }
                "Z" if rate.is_none_or(|r| !r.is_zero()) => out.hit("BR-Z-05", p, None),
                "E" if rate.is_none_or(|r| !r.is_zero()) => out.hit("BR-E-05", p, None),
                _ => {}
            }
        }
    }
    for (i, ac) in all(root, NS_CAC, "AllowanceCharge").enumerate() {
        let charge = indicator(ac);
        for category in all(ac, NS_CAC, "TaxCategory") {
            let p = at(&format!("/cac:AllowanceCharge[{}]/cac:TaxCategory/cbc:Percent", i + 1));
            percent(category, &p, out);
            if !is_vat(category) || charge.is_none() {
                continue;
            }
            let rate = num(cbc(category, "Percent"));
            match (category_id(category).as_str(), charge) {
                ("S", Some(false)) if rate.is_none_or(|r| r <= Decimal::ZERO) => out.hit("BR-S-06", p.clone(), None),
                ("S", Some(true)) if rate.is_none_or(|r| r <= Decimal::ZERO) => out.hit("BR-S-07", p.clone(), None),
                ("Z", Some(false)) if rate.is_none_or(|r| !r.is_zero()) => out.hit("BR-Z-06", p.clone(), None),
                ("E", Some(false)) if rate.is_none_or(|r| !r.is_zero()) => out.hit("BR-E-06", p.clone(), None),
                _ => {}
            }
            if category_id(category) == "S" {
                standard_rate(category, &p, out);
            }
        }
    }
}

/// BR-KSA-DEC-02: a rate, when not blank, is a decimal from 0 to 100 with at most two decimals.
fn percent(category: &Element<'_>, path: &str, out: &mut Out) {
    let Some(p) = cbc(category, "Percent") else { return };
    if blank(Some(p)) {
        return;
    }
    // A rate that is not a number at all is the XSD's to refuse.
    if let Some(v) = num(Some(p)) {
        if !(v >= Decimal::ZERO && v <= Decimal::ONE_HUNDRED && frac(Some(p)) <= 2) {
            out.hit("BR-KSA-DEC-02", path.to_owned(), Some(p.text()));
        }
    }
}

/// BR-KSA-84: a standard-rated category's rate is 15 (floored) or 5.
fn standard_rate(category: &Element<'_>, path: &str, out: &mut Out) {
    if let Some(v) = num(cbc(category, "Percent")) {
        if v.floor() != Decimal::from(15) && v != Decimal::from(5) {
            out.hit("BR-KSA-84", path.to_owned(), Some(v.to_string()));
        }
    }
}

/// Each VAT category against the rest of the document: BR-S-01, BR-Z-01, BR-E-01, BR-O-01 (a
/// category used by a line or an allowance/charge has a breakdown), BR-S-08, BR-Z-08, BR-E-08,
/// BR-O-08 (the breakdown's taxable amount is the sum of the category's line amounts and
/// charges less its allowances), BR-S-10 (no exemption reason on a standard rate), BR-Z-07,
/// BR-E-07 (a zero-rated or exempt charge, when no document allowance or charge has a 0 rate).
pub(super) fn category_sums(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let lines: Vec<&Element<'_>> = all(root, NS_CAC, "InvoiceLine").collect();
    let charges: Vec<&Element<'_>> = all(root, NS_CAC, "AllowanceCharge").collect();
    let totals: Vec<&Element<'_>> = all(root, NS_CAC, "TaxTotal").collect();
    // `//cac:AllowanceCharge/cac:TaxCategory` and `//cac:ClassifiedTaxCategory`, VAT, any depth.
    let mut used = Vec::new();
    used_categories(root, &mut used);
    let line_uses = |x: &str| {
        lines.iter().any(|l| {
            cac(l, "Item")
                .is_some_and(|it| all(it, NS_CAC, "ClassifiedTaxCategory").any(|c| is_vat(c) && category_id(c) == x))
        })
    };
    let doc_charge_uses = |x: &str| {
        charges
            .iter()
            .any(|ac| all(ac, NS_CAC, "TaxCategory").any(|c| is_vat(c) && category_id(c) == x))
    };
    // sum(lines[ClassifiedTaxCategory = X]/LineExtensionAmount) + charges(X) - allowances(X).
    let expected = |x: &str| -> Option<Decimal> {
        let mut sum = Decimal::ZERO;
        for l in &lines {
            let of_x =
                cac(l, "Item").is_some_and(|it| all(it, NS_CAC, "ClassifiedTaxCategory").any(|c| category_id(c) == x));
            if let (true, Some(a)) = (of_x, cbc(l, "LineExtensionAmount")) {
                sum += num(Some(a))?;
            }
        }
        for ac in &charges {
            let of_x = all(ac, NS_CAC, "TaxCategory").any(|c| category_id(c) == x);
            if let (true, Some(a)) = (of_x, cbc(ac, "Amount")) {
                match indicator(ac) {
                    Some(true) => sum += num(Some(a))?,
                    Some(false) => sum -= num(Some(a))?,
                    None => {}
                }
            }
        }
        Some(sum)
    };
    for (rule, x) in [("BR-S-01", "S"), ("BR-Z-01", "Z"), ("BR-E-01", "E"), ("BR-O-01", "O")] {
        let breakdowns = totals
            .iter()
            .flat_map(|t| all(t, NS_CAC, "TaxSubtotal"))
            .filter_map(|s| cac(s, "TaxCategory"))
            .filter(|c| is_vat(c) && cbc(c, "ID").is_some_and(|id| ns(&id.text()) == x))
            .count();
        if used.iter().any(|u| *u == x) && breakdowns == 0 {
            out.hit(rule, at("/cac:TaxTotal/cac:TaxSubtotal"), None);
        }
    }
    let any_s_text = totals
        .iter()
        .flat_map(|t| all(t, NS_CAC, "TaxSubtotal"))
        .filter_map(|s| s.path(&[(NS_CAC, "TaxCategory"), (NS_CBC, "ID")]))
        .any(|id| id.text() == "S");
    for (t, total) in totals.iter().enumerate() {
        let subs: Vec<&Element<'_>> = all(total, NS_CAC, "TaxSubtotal").collect();
        for (s, sub) in subs.iter().enumerate() {
            let Some(category) = cac(sub, "TaxCategory") else {
                continue;
            };
            if !is_vat(category) {
                continue;
            }
            let x = category_id(category);
            let rule = match x.as_str() {
                "S" => "BR-S-08",
                "Z" => "BR-Z-08",
                "E" => "BR-E-08",
                "O" => "BR-O-08",
                _ => continue,
            };
            let p = |rest: &str| at(&format!("/cac:TaxTotal[{}]/cac:TaxSubtotal[{}]{rest}", t + 1, s + 1));
            // S sums the same total's S breakdowns; Z, E and O take this breakdown's amount.
            let declared: Option<Decimal> = if x == "S" {
                subs.iter()
                    .filter(|o| cac(o, "TaxCategory").is_some_and(|c| category_id(c) == "S"))
                    .filter_map(|o| cbc(o, "TaxableAmount"))
                    .map(|a| num(Some(a)))
                    .sum()
            } else {
                num(cbc(sub, "TaxableAmount"))
            };
            let used_here = line_uses(&x) || doc_charge_uses(&x);
            let adds_up = match (declared, expected(&x)) {
                (Some(d), Some(e)) => d == e,
                // A missing taxable amount of Z/E/O compares as empty: false.
                (None, Some(_)) => false,
                // Amounts that are not numbers are the XSD's to refuse.
                (_, None) => true,
            };
            if !used_here || !adds_up {
                out.hit(
                    rule,
                    p("/cbc:TaxableAmount"),
                    Some(format!("{declared:?} != {:?}", expected(&x))),
                );
            }
            if x == "S"
                && any_s_text
                && (cbc(category, "TaxExemptionReason").is_some() || cbc(category, "TaxExemptionReasonCode").is_some())
            {
                out.hit("BR-S-10", p("/cac:TaxCategory/cbc:TaxExemptionReasonCode"), None);
            }
        }
    }
    let zero_rate = charges
        .iter()
        .flat_map(|ac| all(ac, NS_CAC, "TaxCategory"))
        .any(|c| num(cbc(c, "Percent")).is_some_and(|p| p.is_zero()));
    for (rule, x) in [("BR-Z-07", "Z"), ("BR-E-07", "E")] {
        let charged = charges
            .iter()
            .filter(|ac| indicator(ac) == Some(true))
            .flat_map(|ac| all(ac, NS_CAC, "TaxCategory"))
            .any(|c| is_vat(c) && category_id(c) == x);
        if charged && !zero_rate {
            out.hit(rule, at("/cac:AllowanceCharge/cac:TaxCategory/cbc:Percent"), None);
        }
    }
}

/// The VAT category codes used by allowances and charges (any level) and by items.
fn used_categories(el: &Element<'_>, used: &mut Vec<String>) {
    for child in el.elements().filter(|c| c.ns == NS_CAC) {
        if child.is(NS_CAC, "ClassifiedTaxCategory") && is_vat(child) {
            used.push(category_id(child));
        } else if child.is(NS_CAC, "AllowanceCharge") {
            for c in all(child, NS_CAC, "TaxCategory").filter(|c| is_vat(c)) {
                used.push(category_id(c));
            }
            used_categories(child, used);
        } else {
            used_categories(child, used);
        }
    }
}
