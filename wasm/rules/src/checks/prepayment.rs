//! Prepayment (KSA-26..KSA-42, BT-113): the invoice line that settles a prepayment invoice — its
//! `cac:DocumentReference` (the prepayment invoice) and its `cac:TaxTotal/cac:TaxSubtotal` (what
//! was prepaid, per VAT category) — against the prepaid amount of the totals.
//!
//! Each function here is one of the schematron rules (contexts) that hold these asserts:
//! - the root rule: BR-KSA-80 ([`prepaid_total`]), with XPath's `sum()` over doubles;
//! - the invoice-line rule, in two variants chosen by `PrepaidAmount > 0`: BR-KSA-79 in both;
//!   BR-KSA-73, 74, 75, 76, 77, 78, 82 and DEC-06 only with a positive prepaid amount ([`line`]);
//! - the standard-rate rule (BR-KSA-84's), whose loops over every line's prepayment categories
//!   (BR-KSA-84, 93, 94, 95, 96, F-06-C39) run once the document has a standard-rated category for
//!   that rule to fire on ([`categories`]);
//! - BR-KSA-F-05 on each prepayment issue time (a time that is not `castable as xs:time` is
//!   refused by the XSD too, so it always comes with an `XSD` finding);
//! - BR-KSA-18, BR-CL-18 and BR-KSA-DEC-02 on the prepayment categories' codes and rates (the
//!   rest of the document's categories are `vat.rs`'s).
//!
//! The conditions are the asserts' own, quirks included (string comparisons where the XPath
//! compares strings, `exists()` where it tests presence, `format-number` on doubles). Where an
//! XPath cast fails (an amount that is not a number), ZATCA's transform stops and reports no rule
//! at all; the XSD pass reports such a value, and the rule that would stop is not reported here.

use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use zatca_core::xml::{Element, NS_CAC, NS_CBC};

use super::Out;
use super::tree::{all, blank, cac, category_id, cbc, chars, frac, indicator, is, is_vat, listed, ns, round2, sv};

pub(super) fn prepayment(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let lines: Vec<&Element<'_>> = all(root, NS_CAC, "InvoiceLine").collect();
    let prepaid = root.path(&[(NS_CAC, "LegalMonetaryTotal"), (NS_CBC, "PrepaidAmount")]);
    prepaid_total(&lines, prepaid, at, out);
    // `/ubl:Invoice[not(cac:LegalMonetaryTotal/cbc:PrepaidAmount > 0)]/cac:InvoiceLine` and
    // `/ubl:Invoice[cac:LegalMonetaryTotal/cbc:PrepaidAmount > 0]/cac:InvoiceLine`: an amount
    // that is not a number is an error in the pattern, so neither matches.
    let positive = prepaid.map_or(Some(false), |p| double(&p.text()).map(|v| v > 0.0));
    if let Some(positive) = positive {
        let any_reference = lines.iter().any(|l| cac(l, "DocumentReference").is_some());
        for (i, l) in lines.iter().enumerate() {
            line(l, i + 1, positive, any_reference, at, out);
        }
    }
    codes(&lines, at, out);
    if standard_context(root) {
        categories(&lines, at, out);
    }
    // BR-KSA-F-05: `cac:InvoiceLine/cac:DocumentReference/cbc:IssueTime`, `castable as xs:time`.
    for (i, l) in lines.iter().enumerate() {
        for (k, r) in all(l, NS_CAC, "DocumentReference").enumerate() {
            for time in all(r, NS_CBC, "IssueTime") {
                if !xs_time(&time.text()) {
                    out.hit(
                        "BR-KSA-F-05",
                        at(&format!(
                            "/cac:InvoiceLine[{}]/cac:DocumentReference[{}]/cbc:IssueTime",
                            i + 1,
                            k + 1
                        )),
                        Some(time.text()),
                    );
                }
            }
        }
    }
}

/// BR-KSA-80 (on the root): the prepaid amount against the lines' prepayment breakdowns. Fires
/// when there are prepayment amounts but no (or a zero) prepaid amount; when the amount is not
/// zero, both sums are positive and a line references a document whose type is not the text
/// `386`; or when `format-number(prepaid, '#.00')` differs from that of the sum of every line's
/// `TaxSubtotal/TaxableAmount` and `TaxAmount` (summed as doubles).
fn prepaid_total(lines: &[&Element<'_>], prepaid: Option<&Element<'_>>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let amount = match prepaid {
        None => Decimal::ZERO,
        Some(p) => match decimal(&p.text()) {
            Some(v) => v,
            None => return,
        },
    };
    let subtotals = || {
        lines
            .iter()
            .flat_map(|l| all(l, NS_CAC, "TaxTotal"))
            .flat_map(|t| all(t, NS_CAC, "TaxSubtotal"))
    };
    let sum = |local: &'static str| -> Option<(bool, f64)> {
        let mut any = false;
        let mut total = 0.0;
        for a in subtotals().flat_map(|s| all(s, NS_CBC, local)) {
            any = true;
            total += double(&a.text())?;
        }
        Some((any, total))
    };
    let (Some((taxable_exists, taxable)), Some((tax_exists, tax))) = (sum("TaxableAmount"), sum("TaxAmount")) else {
        return;
    };
    let not_386 = lines
        .iter()
        .flat_map(|l| all(l, NS_CAC, "DocumentReference"))
        .flat_map(|r| all(r, NS_CBC, "DocumentTypeCode"))
        .any(|c| c.text() != "386");
    let unprepaid = (amount.is_zero() || prepaid.is_none()) && (taxable_exists || tax_exists);
    let not_prepayment = !amount.is_zero() && taxable > 0.0 && tax > 0.0 && not_386;
    if unprepaid || not_prepayment || picture(amount) != picture_double(taxable + tax) {
        out.hit(
            "BR-KSA-80",
            at("/cac:LegalMonetaryTotal/cbc:PrepaidAmount"),
            Some(format!(
                "{} != {} + {}",
                prepaid.map(Element::text).unwrap_or_default(),
                picture_double(taxable),
                picture_double(tax)
            )),
        );
    }
}

/// The invoice-line rule: BR-KSA-79 on each prepayment breakdown; with a positive prepaid amount
/// also BR-KSA-74 and 82 (per document reference), 73 and 75 (the reference's fields and the
/// line's breakdown), DEC-06 and 76, 77, 78 (per breakdown).
fn line(line: &Element<'_>, n: usize, positive: bool, any_reference: bool, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let base = format!("/cac:InvoiceLine[{n}]");
    let references: Vec<&Element<'_>> = all(line, NS_CAC, "DocumentReference").collect();
    let subtotals: Vec<&Element<'_>> = all(line, NS_CAC, "TaxTotal")
        .flat_map(|t| all(t, NS_CAC, "TaxSubtotal"))
        .collect();
    if positive {
        for (k, r) in references.iter().enumerate() {
            let codes: Vec<&Element<'_>> = all(r, NS_CBC, "DocumentTypeCode").collect();
            // `(./cbc:DocumentTypeCode) != '386'` compares the text as written; the assert inside
            // normalises it: a code ` 386` passes both, and the line is not checked for zeros.
            if codes.iter().any(|c| c.text() != "386") {
                let code = ns(&sv(codes.first().copied()));
                if code != "386" {
                    out.hit(
                        "BR-KSA-74",
                        at(&format!("{base}/cac:DocumentReference[{}]/cbc:DocumentTypeCode", k + 1)),
                        Some(code),
                    );
                }
            } else if let Some(nonzero) = nonzero_amounts(line) {
                if !nonzero.is_empty() {
                    out.hit("BR-KSA-82", at(&base), Some(nonzero.join(", ")));
                }
            }
        }
        if any_reference {
            for (k, r) in references.iter().enumerate() {
                let complete = ["ID", "IssueDate", "IssueTime", "DocumentTypeCode"]
                    .iter()
                    .all(|local| cbc(r, local).is_some());
                if !complete {
                    out.hit(
                        "BR-KSA-73",
                        at(&format!("{base}/cac:DocumentReference[{}]", k + 1)),
                        None,
                    );
                }
            }
            // Each field in some breakdown of the line (`exists()` over all of them).
            let categories = || subtotals.iter().flat_map(|s| all(s, NS_CAC, "TaxCategory"));
            let complete = subtotals.iter().any(|s| cbc(s, "TaxAmount").is_some())
                && subtotals.iter().any(|s| cbc(s, "TaxableAmount").is_some())
                && categories().any(|c| cbc(c, "Percent").is_some())
                && categories().any(|c| cbc(c, "ID").is_some());
            if !complete && !references.is_empty() {
                out.hit("BR-KSA-75", at(&format!("{base}/cac:TaxTotal/cac:TaxSubtotal")), None);
            }
        } else {
            // No line of the document references a prepayment invoice: every line is reported.
            out.hit("BR-KSA-73", at(&format!("{base}/cac:DocumentReference")), None);
        }
    }
    for (t, total) in all(line, NS_CAC, "TaxTotal").enumerate() {
        for (s, sub) in all(total, NS_CAC, "TaxSubtotal").enumerate() {
            let p = |rest: &str| {
                at(&format!(
                    "{base}/cac:TaxTotal[{}]/cac:TaxSubtotal[{}]{rest}",
                    t + 1,
                    s + 1
                ))
            };
            if vat_amount_ok(sub) == Some(false) {
                out.hit(
                    "BR-KSA-79",
                    p("/cbc:TaxAmount"),
                    Some(format!(
                        "{} for {} at {}",
                        sv(cbc(sub, "TaxAmount")),
                        sv(cbc(sub, "TaxableAmount")),
                        sv(cac(sub, "TaxCategory").and_then(|c| cbc(c, "Percent")))
                    )),
                );
            }
            if !positive {
                continue;
            }
            if frac(cbc(sub, "TaxableAmount")) > 2 || frac(cbc(sub, "TaxAmount")) > 2 {
                out.hit("BR-KSA-DEC-06", p(""), None);
            }
            for (rule, x) in [("BR-KSA-76", "Z"), ("BR-KSA-77", "E"), ("BR-KSA-78", "O")] {
                if !all(sub, NS_CAC, "TaxCategory").any(|c| category_id(c) == x && is_vat(c)) {
                    continue;
                }
                // `not(xs:decimal(cac:TaxCategory/cbc:Percent) = 0)`: a missing rate is not 0.
                let percent = cac(sub, "TaxCategory").and_then(|c| cbc(c, "Percent"));
                let zero = match percent {
                    None => false,
                    Some(el) => match decimal(&el.text()) {
                        Some(v) => v.is_zero(),
                        None => continue,
                    },
                };
                if !zero {
                    out.hit(rule, p("/cac:TaxCategory/cbc:Percent"), Some(sv(percent)));
                }
            }
        }
    }
}

/// BR-KSA-82's amounts (`= 0.00` compares as doubles, and a missing amount is not zero): the
/// first of the line's net amount, VAT amount, amount with VAT and price that is not zero (the
/// assert's `or`s stop there), and its allowances and charges when it has any and they are not.
/// None when an amount read is not a number (ZATCA's transform stops).
fn nonzero_amounts(line: &Element<'_>) -> Option<Vec<&'static str>> {
    // Existential, as `X = 0.00` is: some X is zero.
    let zero = |els: Vec<&Element<'_>>| -> Option<bool> {
        for el in els {
            if double(&el.text())? == 0.0 {
                return Some(true);
            }
        }
        Some(false)
    };
    let totals: Vec<&Element<'_>> = all(line, NS_CAC, "TaxTotal").collect();
    let of_totals = |local: &'static str| totals.iter().flat_map(|t| all(t, NS_CBC, local)).collect();
    let mut nonzero = Vec::new();
    // The assert's `or`s stop at the first true one, so only the amounts before it are read.
    for (name, els) in [
        (
            "LineExtensionAmount",
            all(line, NS_CBC, "LineExtensionAmount").collect(),
        ),
        ("TaxTotal/TaxAmount", of_totals("TaxAmount")),
        ("TaxTotal/RoundingAmount", of_totals("RoundingAmount")),
        (
            "Price/PriceAmount",
            all(line, NS_CAC, "Price")
                .flat_map(|p| all(p, NS_CBC, "PriceAmount"))
                .collect(),
        ),
    ] {
        if !zero(els)? {
            nonzero.push(name);
            break;
        }
    }
    let charges: Vec<&Element<'_>> = all(line, NS_CAC, "AllowanceCharge").collect();
    if !charges.is_empty() && !zero(charges.iter().flat_map(|c| all(c, NS_CBC, "Amount")).collect())? {
        nonzero.push("AllowanceCharge/Amount");
    }
    Some(nonzero)
}

/// BR-KSA-79 on one breakdown of a line, as the assert computes it: for a category that is not S
/// and is Z, E, O without a rate, or has a blank rate, the VAT amount must format (`#.00`) as 0
/// and as `round(taxable × rate ÷ 100, 2)` (decimals); otherwise the rate must not be blank and
/// the amount must format as `round(taxable × rate + 0.01) ÷ 100` (doubles, the taxable amount
/// and the rate of the VAT category), give or take 0.01. None when ZATCA's transform would stop
/// on a value that is not a number.
fn vat_amount_ok(sub: &Element<'_>) -> Option<bool> {
    let categories: Vec<&Element<'_>> = all(sub, NS_CAC, "TaxCategory").collect();
    let has = |x: &str| categories.iter().any(|c| category_id(c) == x);
    let percent = categories.first().and_then(|c| cbc(c, "Percent"));
    let percent_blank = blank(percent);
    let o_without_rate = has("O") && !categories.iter().any(|c| cbc(c, "Percent").is_some());
    let amount = cast(cbc(sub, "TaxAmount"), double)?.map_or_else(|| "NaN".to_owned(), picture_double);
    if !has("S") && (o_without_rate || has("E") || has("Z") || percent_blank) {
        let taxable = cast(cbc(sub, "TaxableAmount"), decimal)?;
        if amount != picture_opt(taxable.map(|_| Decimal::ZERO)) {
            return Some(false);
        }
        let rate = cast(percent, decimal)?;
        let expected = taxable.zip(rate).map(|(t, r)| round2(t * r / Decimal::ONE_HUNDRED));
        return Some(amount == picture_opt(expected));
    }
    if percent_blank {
        return Some(false);
    }
    let taxable = cast(cbc(sub, "TaxableAmount"), double)?;
    let vat_rate = match categories.iter().find(|c| is_vat(c)).and_then(|c| cbc(c, "Percent")) {
        // xs:decimal, promoted to a double by the product.
        Some(p) => Some(decimal(&p.text())?.to_string().parse::<f64>().ok()?),
        None => None,
    };
    let Some((t, r)) = taxable.zip(vat_rate) else {
        // Any operand missing: every candidate formats as NaN.
        return Some(amount == "NaN");
    };
    let rounded = xpath_round(t * r / 100.0 * 100.0 + 0.01) / 100.0;
    Some(
        [rounded - 0.01, rounded + 0.01, rounded]
            .into_iter()
            .any(|c| picture_double(c) == amount),
    )
}

/// The codes and rates of the lines' prepayment categories, whose rules' contexts take them as
/// they take the document's: BR-KSA-18 (`contains(' S Z E O ', .)`, the text as written: an empty
/// code passes), BR-CL-18 (UNCL5305 as EN 16931 restricts it) and BR-KSA-DEC-02 (a rate that is
/// not blank is from 0 to 100 with at most two decimals).
fn codes(lines: &[&Element<'_>], at: &dyn Fn(&str) -> String, out: &mut Out) {
    for (i, l) in lines.iter().enumerate() {
        for (t, total) in all(l, NS_CAC, "TaxTotal").enumerate() {
            for (s, sub) in all(total, NS_CAC, "TaxSubtotal").enumerate() {
                let p = |local: &str| {
                    at(&format!(
                        "/cac:InvoiceLine[{}]/cac:TaxTotal[{}]/cac:TaxSubtotal[{}]/cac:TaxCategory/cbc:{local}",
                        i + 1,
                        t + 1,
                        s + 1
                    ))
                };
                for category in all(sub, NS_CAC, "TaxCategory") {
                    for id in all(category, NS_CBC, "ID") {
                        let v = id.text();
                        if !" S Z E O ".contains(v.as_str()) {
                            out.hit("BR-KSA-18", p("ID"), Some(v.clone()));
                        }
                        if !listed(" AE L M E S Z G O K B ", &v) {
                            out.hit("BR-CL-18", p("ID"), Some(v));
                        }
                    }
                    for rate in all(category, NS_CBC, "Percent").filter(|r| !blank(Some(r))) {
                        // A rate that is not a number stops the transform at `xs:decimal(.)`.
                        let Some(v) = decimal(&rate.text()) else { continue };
                        if !(v >= Decimal::ZERO && v <= Decimal::ONE_HUNDRED && frac(Some(rate)) <= 2) {
                            out.hit("BR-KSA-DEC-02", p("Percent"), Some(rate.text()));
                        }
                    }
                }
            }
        }
    }
}

/// The standard-rate rule's loops over every line's prepayment categories: BR-KSA-84 (S: the rate
/// is 15, floored, or 5), BR-KSA-93, 94, 95 (Z, E, O: an exemption reason code, not blank),
/// BR-KSA-96 (with a code, a reason text that is not blank) and F-06-C39 (a reason text of 1 to
/// 1000 characters).
fn categories(lines: &[&Element<'_>], at: &dyn Fn(&str) -> String, out: &mut Out) {
    for (i, l) in lines.iter().enumerate() {
        for (t, total) in all(l, NS_CAC, "TaxTotal").enumerate() {
            for (s, sub) in all(total, NS_CAC, "TaxSubtotal").enumerate() {
                let p = |rest: &str| {
                    at(&format!(
                        "/cac:InvoiceLine[{}]/cac:TaxTotal[{}]/cac:TaxSubtotal[{}]/cac:TaxCategory{rest}",
                        i + 1,
                        t + 1,
                        s + 1
                    ))
                };
                for category in all(sub, NS_CAC, "TaxCategory").filter(|c| is_vat(c)) {
                    let code = cbc(category, "TaxExemptionReasonCode");
                    let reason = cbc(category, "TaxExemptionReason");
                    let rule = match category_id(category).as_str() {
                        "S" => {
                            // `floor(number(Percent)) = 15 or floor(number(Percent = 5))`: the
                            // second is 1 (true) when the rate is 5.
                            // A rate that is not a number stops the transform at `Percent = 5`.
                            if let Some(percent) = cbc(category, "Percent") {
                                if double(&percent.text()).is_some_and(|v| v.floor() != 15.0 && v != 5.0) {
                                    out.hit("BR-KSA-84", p("/cbc:Percent"), Some(percent.text()));
                                }
                            }
                            continue;
                        }
                        "Z" => "BR-KSA-93",
                        "E" => "BR-KSA-94",
                        "O" => "BR-KSA-95",
                        _ => continue,
                    };
                    if blank(code) {
                        out.hit(rule, p("/cbc:TaxExemptionReasonCode"), None);
                    }
                    if code.is_some() && blank(reason) {
                        out.hit("BR-KSA-96", p("/cbc:TaxExemptionReason"), None);
                    }
                    if reason.is_some() && (chars(reason) > 1000 || chars(reason) < 1) {
                        out.hit(
                            "BR-KSA-F-06-C39",
                            p("/cbc:TaxExemptionReason"),
                            Some(format!("{} characters", chars(reason))),
                        );
                    }
                }
            }
        }
    }
}

/// Whether the standard-rate rule fires at all: some node matches its context (any VAT category S
/// of an allowance or charge whose indicator reads as a boolean, of a breakdown, or of an item).
fn standard_context(el: &Element<'_>) -> bool {
    let standard = |c: &Element<'_>| category_id(c) == "S" && is_vat(c);
    el.elements().any(|child| {
        (is(child, NS_CAC, "AllowanceCharge")
            && indicator(child).is_some()
            && all(child, NS_CAC, "TaxCategory").any(standard))
            || (is(child, NS_CAC, "TaxTotal")
                && all(child, NS_CAC, "TaxSubtotal")
                    .flat_map(|s| all(s, NS_CAC, "TaxCategory"))
                    .any(standard))
            || (is(child, NS_CAC, "InvoiceLine")
                && all(child, NS_CAC, "Item")
                    .flat_map(|it| all(it, NS_CAC, "ClassifiedTaxCategory"))
                    .any(standard))
            || (child.ns == NS_CAC && standard_context(child))
    })
}

// XPath's numbers, as Saxon evaluates the schematrons.

/// XML whitespace, which the casts strip.
fn xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// An optional element cast with `f`: `Some(None)` when absent (the empty sequence), `None` when
/// the cast fails (a dynamic error).
fn cast<T>(el: Option<&Element<'_>>, f: fn(&str) -> Option<T>) -> Option<Option<T>> {
    match el {
        None => Some(None),
        Some(e) => f(&e.text()).map(Some),
    }
}

/// `xs:double` of a text: `(+|-)?(d+(.d*)?|.d+)([eE](+|-)?d+)?`, `INF`, `-INF`, `NaN`.
pub(super) fn double(s: &str) -> Option<f64> {
    let t = s.trim_matches(xml_space);
    match t {
        "INF" | "+INF" => return Some(f64::INFINITY),
        "-INF" => return Some(f64::NEG_INFINITY),
        "NaN" => return Some(f64::NAN),
        _ => {}
    }
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let d = e.strip_prefix(['+', '-']).unwrap_or(e);
        !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
    });
    if !(decimal_lexical(mantissa) && exponent_ok) {
        return None;
    }
    t.parse().ok()
}

/// `xs:decimal` of a text: `(+|-)?(d+(.d*)?|.d+)`.
pub(super) fn decimal(s: &str) -> Option<Decimal> {
    let t = s.trim_matches(xml_space);
    if !decimal_lexical(t) {
        return None;
    }
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let whole = if whole.is_empty() { "0" } else { whole };
    let text = if fraction.is_empty() {
        whole.to_owned()
    } else {
        format!("{whole}.{fraction}")
    };
    let v = Decimal::from_str(&text).ok()?;
    // A decimal has no negative zero.
    Some(if negative && !v.is_zero() { -v } else { v })
}

fn decimal_lexical(t: &str) -> bool {
    let d = t.strip_prefix(['+', '-']).unwrap_or(t);
    let (whole, fraction) = d.split_once('.').unwrap_or((d, ""));
    (!whole.is_empty() || !fraction.is_empty())
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// XPath `round()` of a double: the nearest integer, halves towards positive infinity.
fn xpath_round(x: f64) -> f64 {
    (x + 0.5).floor()
}

/// `format-number(x, '#.00')` of a decimal: two decimals rounded half to even, no integer digit
/// when the integer part is zero (`.50`), a minus sign for any value below zero (`-0.001` gives
/// `-.00`; a decimal zero, whatever its sign bit here, `.00`).
fn picture(x: Decimal) -> String {
    let mut r = x.abs().round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
    r.rescale(2);
    let s = r.to_string();
    let s = s.strip_prefix('0').unwrap_or(&s);
    if x < Decimal::ZERO {
        format!("-{s}")
    } else {
        s.to_owned()
    }
}

fn picture_opt(x: Option<Decimal>) -> String {
    x.map_or_else(|| "NaN".to_owned(), picture)
}

/// `format-number(x, '#.00')` of a double: Saxon rounds the shortest decimal that reads back as
/// the double (so 2.675 gives `2.68`, though the double is just below 2.675); a negative zero
/// gives `-.00`.
fn picture_double(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-Infinity" } else { "Infinity" }.to_owned();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    match Decimal::from_str(&x.abs().to_string()) {
        Ok(d) => format!("{sign}{}", picture(d)),
        // Beyond 28 decimal digits: far below a cent, or an integer (the shortest digits, then
        // zeros: 1.2345678901234568e29 gives 123456789012345680000000000000.00).
        Err(_) if x.abs() < 1.0 => format!("{sign}.00"),
        Err(_) => {
            let scientific = format!("{:e}", x.abs());
            let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
            let digits = mantissa.replace('.', "");
            let width = exponent.parse::<usize>().unwrap_or(0) + 1;
            format!("{sign}{digits:0<width$}.00")
        }
    }
}

/// `castable as xs:time` (after whitespace is stripped), as Saxon reads it: `hh:mm:ss` with an
/// optional fraction and an optional zone (`Z` or `±hh:mm`, hours up to 14), `24:00:00` allowed.
fn xs_time(s: &str) -> bool {
    let t = s.trim_matches(xml_space).as_bytes();
    let two = |b: &[u8], max: u8| {
        b.len() == 2 && b.iter().all(u8::is_ascii_digit) && (b[0] - b'0') * 10 + (b[1] - b'0') <= max
    };
    if t.len() < 8 || t[2] != b':' || t[5] != b':' {
        return false;
    }
    let (h, m, sec) = (&t[0..2], &t[3..5], &t[6..8]);
    let mut rest = &t[8..];
    let mut fraction_zero = true;
    if let Some(f) = rest.strip_prefix(b".") {
        let n = f.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        fraction_zero = f[..n].iter().all(|b| *b == b'0');
        rest = &f[n..];
    }
    let zone_ok = match rest {
        [] | [b'Z'] => true,
        [b'+' | b'-', zh @ .., b':', m1, m2] => two(zh, 14) && two(&[*m1, *m2], 59),
        _ => false,
    };
    let midnight = h == b"24" && m == b"00" && sec == b"00" && fraction_zero;
    zone_ok && (midnight || (two(h, 23) && two(m, 59) && two(sec, 59)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_round_half_to_even_on_the_shortest_decimal() {
        // What Saxon's format-number(x, '#.00') gives (checked with Saxon-HE).
        assert_eq!(picture_double(2.675), "2.68");
        assert_eq!(picture_double(0.125), ".12");
        assert_eq!(picture_double(0.135), ".14");
        assert_eq!(picture_double(1.005), "1.00");
        assert_eq!(picture_double(0.1 + 0.2), ".30");
        assert_eq!(picture_double(-0.001), "-.00");
        assert_eq!(picture_double(1e20), "100000000000000000000.00");
        assert_eq!(picture_double(-0.0), "-.00");
        assert_eq!(picture_double(1e-30), ".00");
        assert_eq!(
            picture_double(123456789012345678901234567890.0),
            "123456789012345680000000000000.00"
        );
        assert_eq!(picture(Decimal::new(-1150, 0) * Decimal::ZERO), ".00");
        assert_eq!(picture(Decimal::new(-1, 3)), "-.00");
        assert_eq!(picture(Decimal::new(2665, 3)), "2.66");
        assert_eq!(picture(Decimal::ZERO), ".00");
        assert_eq!(picture(Decimal::new(115000, 2)), "1150.00");
    }

    #[test]
    fn times_cast_as_saxon_casts_them() {
        for ok in [
            "12:28:17",
            " 12:00:00 ",
            "24:00:00",
            "24:00:00.0",
            "12:00:00Z",
            "12:00:00.5+14:00",
            "12:00:00+14:59",
            "12:00:00-00:00",
        ] {
            assert!(xs_time(ok), "{ok}");
        }
        for bad in [
            "12:28",
            "1:00:00",
            "12:00:60",
            "25:00:00",
            "24:00:01",
            "24:00:00.1",
            "12:00:00.",
            "12:00:00z",
            "12:00:00+15:00",
            "12:00:00+13:60",
            "12:00:00+1:00",
            "",
        ] {
            assert!(!xs_time(bad), "{bad}");
        }
    }

    #[test]
    fn numbers_cast_as_xpath_casts_them() {
        assert_eq!(double(" 1150 "), Some(1150.0));
        assert_eq!(double("1.e2"), Some(100.0));
        assert_eq!(double(".5"), Some(0.5));
        assert!(double("inf").is_none() && double("1,5").is_none() && double("").is_none());
        assert_eq!(decimal("+.5"), Some(Decimal::new(5, 1)));
        assert_eq!(decimal("-1."), Some(Decimal::NEGATIVE_ONE));
        assert!(decimal("1e3").is_none() && decimal("1_000").is_none() && decimal(".").is_none());
    }
}
