//! BR-KSA-F-04 (amounts and quantities are not negative) and BR-KSA-CL-07 (the exemption
//! reason codes of line-level VAT breakdowns).

use zatca_core::xml::{Element, NS_CAC, NS_CBC};

use super::Out;
use std::cmp::Ordering;

use super::arithmetic::{untyped_vs_zero, upper_is_vat};
use super::tree::{all, indicator, is, listed, ns};

/// BR-KSA-F-04's contexts below `ubl:Invoice`: (path of aggregates, basic component).
const AMOUNTS: &[(&[&str], &str)] = &[
    (&["TaxTotal", "TaxSubtotal"], "TaxableAmount"),
    (&["AllowanceCharge"], "Amount"),
    (&["AllowanceCharge"], "BaseAmount"),
    (&["TaxTotal", "TaxSubtotal"], "TaxAmount"),
    (&["LegalMonetaryTotal"], "LineExtensionAmount"),
    (&["LegalMonetaryTotal"], "TaxExclusiveAmount"),
    (&["LegalMonetaryTotal"], "TaxInclusiveAmount"),
    (&["LegalMonetaryTotal"], "AllowanceTotalAmount"),
    (&["LegalMonetaryTotal"], "ChargeTotalAmount"),
    (&["LegalMonetaryTotal"], "PrepaidAmount"),
    (&["TaxTotal"], "TaxAmount"),
    (&["InvoiceLine", "AllowanceCharge"], "Amount"),
    (&["InvoiceLine", "AllowanceCharge"], "BaseAmount"),
    (&["InvoiceLine", "TaxTotal"], "TaxAmount"),
    (&["InvoiceLine", "Price"], "PriceAmount"),
    (&["InvoiceLine", "Price", "AllowanceCharge"], "Amount"),
    (&["InvoiceLine", "Price", "AllowanceCharge"], "BaseAmount"),
    (&["InvoiceLine"], "InvoicedQuantity"),
    (&["InvoiceLine", "TaxTotal", "TaxSubtotal"], "TaxableAmount"),
    (&["InvoiceLine", "TaxTotal", "TaxSubtotal"], "TaxAmount"),
    (&["TaxExchangeRate"], "CalculationRate"),
];

/// BR-KSA-F-04: `string-length(.) > 0 and not(. >= 0)` on each amount of the list, compared as
/// Saxon compares an untyped value with 0 (so -0.00 is below it and NaN is not; a value that
/// is not a double stops ZATCA's schematron). The root breakdown's taxable amount counts only
/// outside category O.
pub(super) fn amounts(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    for (steps, leaf) in AMOUNTS {
        let mut found = Vec::new();
        under(root, steps, String::new(), &mut found);
        for (path, parent) in found {
            // `cac:TaxSubtotal[normalize-space(cac:TaxCategory/cbc:ID) != 'O']/cbc:TaxableAmount`.
            if *leaf == "TaxableAmount" && steps.len() == 2 {
                let ids: Vec<&Element<'_>> = all(parent, NS_CAC, "TaxCategory")
                    .flat_map(|c| all(c, NS_CBC, "ID"))
                    .collect();
                if ids.len() > 1 || ids.first().is_some_and(|id| ns(&id.text()) == "O") {
                    continue;
                }
            }
            let amounts = parent.elements().filter(|e| is(e, NS_CBC, leaf));
            for (k, amount) in amounts.enumerate() {
                let text = amount.text();
                if text.is_empty() {
                    continue;
                }
                if untyped_vs_zero(&text) == Some(Ordering::Less) {
                    let n = if k > 0 { format!("[{}]", k + 1) } else { String::new() };
                    out.hit("BR-KSA-F-04", at(&format!("{path}/cbc:{leaf}{n}")), Some(text));
                }
            }
        }
    }
}

/// The elements at `cac:` `steps` below `el`, with their paths (`/cac:X[n]` where X repeats).
fn under<'e, 'a>(el: &'e Element<'a>, steps: &[&str], path: String, found: &mut Vec<(String, &'e Element<'a>)>) {
    let Some((first, rest)) = steps.split_first() else {
        found.push((path, el));
        return;
    };
    let matching: Vec<&Element<'_>> = el.elements().filter(|e| is(e, NS_CAC, first)).collect();
    let repeated = matching.len() > 1;
    for (i, child) in matching.into_iter().enumerate() {
        let step = if repeated {
            format!("{path}/cac:{first}[{}]", i + 1)
        } else {
            format!("{path}/cac:{first}")
        };
        under(child, rest, step, found);
    }
}

/// BR-KSA-CL-07's lists: the codes for Z (without BR-KSA-CL-04's two additions), E and O.
const Z_CODES: &str = " VATEX-SA-32 VATEX-SA-33 VATEX-SA-34-1 VATEX-SA-34-2 VATEX-SA-34-3 VATEX-SA-34-4 VATEX-SA-34-5 VATEX-SA-35 VATEX-SA-36 VATEX-SA-EDU VATEX-SA-HEA VATEX-SA-MLTRY VATEX-SA-DIPLOMAT VATEX-SA-DUTYFREE ";
const E_CODES: &str = " VATEX-SA-29 VATEX-SA-29-7 VATEX-SA-30 ";
const O_CODES: &str = " VATEX-SA-OOS ";

/// `[normalize-space(cbc:ID) = X][cac:TaxScheme/normalize-space(upper-case(cbc:ID)) = 'VAT']`
/// for X among `ids`; none when the category has more than one ID (an XPath type error).
fn vat_category(category: &Element<'_>, ids: &[&str]) -> Option<String> {
    let found: Vec<&Element<'_>> = all(category, NS_CBC, "ID").collect();
    let id = ns(&found.first().map(|i| i.text()).unwrap_or_default());
    let vat = all(category, NS_CAC, "TaxScheme")
        .flat_map(|s| all(s, NS_CBC, "ID"))
        .any(|i| upper_is_vat(&i.text()));
    (found.len() <= 1 && vat && ids.contains(&id.as_str())).then_some(id)
}

/// BR-KSA-CL-07, asserted in the rule on standard-rated VAT categories (so only when the
/// document has one: a line's classified category, a breakdown's, or an allowance or charge's
/// with a valid indicator), over every line-level breakdown category Z, E or O: a reason code,
/// when not blank, is one of its category's.
pub(super) fn line_exemption_codes(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    if !has_standard_category(root) {
        return;
    }
    for (l, line) in all(root, NS_CAC, "InvoiceLine").enumerate() {
        for (t, total) in all(line, NS_CAC, "TaxTotal").enumerate() {
            for (s, sub) in all(total, NS_CAC, "TaxSubtotal").enumerate() {
                for category in all(sub, NS_CAC, "TaxCategory") {
                    let Some(id) = vat_category(category, &["Z", "E", "O"]) else {
                        continue;
                    };
                    let codes: Vec<&Element<'_>> = all(category, NS_CBC, "TaxExemptionReasonCode").collect();
                    let [code] = codes.as_slice() else {
                        // None: normalize-space(()) = '' passes; more: a type error.
                        continue;
                    };
                    let code = ns(&code.text());
                    let list = match id.as_str() {
                        "Z" => Z_CODES,
                        "E" => E_CODES,
                        _ => O_CODES,
                    };
                    if !code.is_empty() && !listed(list, &code) {
                        out.hit(
                            "BR-KSA-CL-07",
                            at(&format!(
                                "/cac:InvoiceLine[{}]/cac:TaxTotal[{}]/cac:TaxSubtotal[{}]/cac:TaxCategory/cbc:TaxExemptionReasonCode",
                                l + 1,
                                t + 1,
                                s + 1
                            )),
                            Some(code),
                        );
                    }
                }
            }
        }
    }
}

/// Whether any node matches the context of the KSA rule on standard-rated VAT categories.
fn has_standard_category(root: &Element<'_>) -> bool {
    fn walk(el: &Element<'_>) -> bool {
        el.elements().any(|child| {
            let matches = if is(child, NS_CAC, "AllowanceCharge") {
                indicator(child).is_some()
                    && all(child, NS_CAC, "TaxCategory").any(|c| vat_category(c, &["S"]).is_some())
            } else if is(child, NS_CAC, "TaxSubtotal") {
                is(el, NS_CAC, "TaxTotal")
                    && all(child, NS_CAC, "TaxCategory").any(|c| vat_category(c, &["S"]).is_some())
            } else if is(child, NS_CAC, "Item") {
                is(el, NS_CAC, "InvoiceLine")
                    && all(child, NS_CAC, "ClassifiedTaxCategory").any(|c| vat_category(c, &["S"]).is_some())
            } else {
                false
            };
            matches || walk(child)
        })
    }
    walk(root)
}
