//! The rules whose arithmetic has quirks of its own, reproduced as ZATCA's validator (Saxon-HE
//! 9.9 running the compiled schematrons) computes them:
//!
//! - BR-CO-17 and BR-S-09 (a breakdown's VAT amount against its rate) in `xs:double`, through
//!   `format-number(…, '0.00')` — Saxon first takes the double's shortest decimal form (cleaned of
//!   a run of nine 0s or 9s when that gives the same double), then rounds it half to even — with
//!   a tolerance of `count(//cac:InvoiceLine) * 0.01` as an `xs:float`;
//! - BR-KSA-EN16931-11 (a line's net amount) in `xs:decimal`: Saxon divides to
//!   `max(18, scale(a) - scale(b) + 18)` places rounding half down, `round(x, 2)` rounds half
//!   towards positive infinity, and ±0.01 is allowed;
//! - BR-KSA-97 (the VAT total in the two currencies) in `xs:double`.
//!
//! A value that is not a number (or an XPath type error, such as one function argument given
//! two nodes) stops ZATCA's schematron without a report; these rules then report nothing either
//! (the XSD pass reports the value).

use std::cmp::Ordering;

use rust_decimal::{Decimal, RoundingStrategy};
use zatca_core::xml::{Element, NS_CAC, NS_CBC};

use super::Out;
use super::tree::{all, cbc, indicator, is, ns, sv};

/// XML whitespace, what the casts collapse.
fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\n', '\r'])
}

/// `xs:double(s)`: none when `s` is not in the lexical space (a cast error).
pub(super) fn xs_double(s: &str) -> Option<f64> {
    let s = trim(s);
    match s {
        "INF" | "+INF" => return Some(f64::INFINITY),
        "-INF" => return Some(f64::NEG_INFINITY),
        "NaN" => return Some(f64::NAN),
        _ => {}
    }
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    if mantissa_ok && exponent_ok {
        s.parse().ok()
    } else {
        None
    }
}

/// `xs:decimal(s)`: none when `s` is not a decimal (a cast error) or beyond `Decimal`.
pub(super) fn xs_decimal(s: &str) -> Option<Decimal> {
    let s = trim(s);
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty()) {
        s.strip_prefix('+').unwrap_or(s).parse().ok()
    } else {
        None
    }
}

/// A node's value against the literal 0 (`. >= 0`, `. > 0`), as Saxon 9.9 compares an untyped
/// value with a number: an integer literal exactly, anything else as a double ordered like Java's
/// `Double.compare` — -0.0 is below 0 and NaN above everything. None for a value that is not a
/// double (a cast error).
pub(super) fn untyped_vs_zero(s: &str) -> Option<Ordering> {
    let t = trim(s);
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) {
        return Some(if body.bytes().all(|b| b == b'0') {
            Ordering::Equal
        } else if t.starts_with('-') {
            Ordering::Less
        } else {
            Ordering::Greater
        });
    }
    let v = xs_double(t)?;
    Some(if v.is_nan() || v > 0.0 {
        Ordering::Greater
    } else if v < 0.0 || v.is_sign_negative() {
        Ordering::Less
    } else {
        Ordering::Equal
    })
}

/// XPath `round()` of a double: half towards positive infinity (Java's `Math.round`).
pub(super) fn round(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let floor = x.floor();
    if x - floor >= 0.5 { floor + 1.0 } else { floor }
}

/// Saxon's `format-number(x, '0.00')`, read back with `xs:double()`; none for ±INF, which
/// formats as `Infinity`, not a double.
pub(super) fn format_2(x: f64) -> Option<f64> {
    if x.is_nan() {
        return Some(f64::NAN);
    }
    if x.is_infinite() {
        return None;
    }
    let adjusted = adjust(x);
    let decimal = match Decimal::from_str_exact(&adjusted) {
        Ok(d) => d,
        // Beyond 28 places: far below 0.005 (too big a number is not an amount).
        Err(_) if x.abs() < 1.0 => Decimal::ZERO,
        Err(_) => return None,
    };
    let rounded = decimal.round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
    rounded.to_string().parse().ok()
}

/// Saxon's `FormatNumber.adjustToDecimal(x, 2)`: the double's decimal form (Java's
/// `BigDecimal.valueOf`, the shortest form that reads back as the same double) with a run of
/// nine 0s cut off, or a run of nine 9s rounded up, when the result still reads back as the
/// same double.
fn adjust(x: f64) -> String {
    let s = plain(x);
    let negative = s.starts_with('-');
    let dot = s.find('.');
    let candidate = if let Some(i) = s.rfind("000000000").filter(|&i| i > 0) {
        if dot.is_none_or(|d| i < d) {
            // In the integer part: zero everything from there on.
            let mut out = s[..i].to_owned();
            out.extend(s[i..].chars().map(|c| if c == '.' { '.' } else { '0' }));
            Some(out)
        } else {
            Some(s[..i].to_owned())
        }
    } else if let Some(start) = s.find("999999999") {
        // The digit before the run (skipping the point) goes up by one.
        let bytes = s.as_bytes();
        let mut i = start as isize;
        while i >= 0 && (bytes[i as usize] == b'9' || bytes[i as usize] == b'.') {
            i -= 1;
        }
        if i < 0 || bytes[i as usize] == b'-' {
            // All nines: 1 followed by zeros.
            let mut out = String::new();
            if negative {
                out.push('-');
            }
            out.push('1');
            let from = usize::from(negative);
            out.extend(s[from..].chars().map(|c| if c == '.' { '.' } else { '0' }));
            Some(out)
        } else {
            let i = i as usize;
            let bumped = char::from(bytes[i] + 1);
            if dot.is_none_or(|d| i < d) {
                let mut out = s[..i].to_owned();
                out.push(bumped);
                out.extend(s[i + 1..].chars().map(|c| if c == '.' { '.' } else { '0' }));
                Some(out)
            } else {
                Some(format!("{}{bumped}", &s[..i]))
            }
        }
    } else {
        None
    };
    match candidate {
        Some(c) if c.trim_end_matches('.').parse::<f64>().ok() == Some(x) => c,
        _ => s,
    }
}

/// The shortest decimal form of a finite double, without exponent.
fn plain(x: f64) -> String {
    // Rust's `Display` for f64 is the shortest round-trip form, never in exponent notation.
    let s = format!("{x}");
    if s == "-0" { "0".to_owned() } else { s }
}

/// BR-CO-17 and BR-S-09's test on one `cac:TaxSubtotal` (their `$checkTwo`): the VAT amount is
/// the taxable amount times the rate, within the tolerance. None on an XPath error.
fn vat_amount_ok(sub: &Element<'_>, lines: usize) -> Option<bool> {
    // xs:double() of one node, () of none; of more, a type error.
    let one = |els: Vec<&Element<'_>>| -> Option<Option<f64>> {
        match els.as_slice() {
            [] => Some(None),
            [el] => xs_double(&el.text()).map(Some),
            _ => None,
        }
    };
    let tax = one(all(sub, NS_CBC, "TaxAmount").collect())?;
    let taxable = one(all(sub, NS_CBC, "TaxableAmount").collect())?;
    let rate = one(all(sub, NS_CAC, "TaxCategory")
        .filter(|c| vat_scheme(c))
        .flat_map(|c| all(c, NS_CBC, "Percent"))
        .collect())?;
    // `count(//cac:InvoiceLine) * 0.01`, an xs:decimal, as an xs:float: the nearest float, what
    // one correctly rounded float division gives (Java's BigDecimal.floatValue does the same).
    // Over 65,535 lines (far beyond what ZATCA takes) the rule is not checked.
    let tolerance = f64::from(u16::try_from(lines).ok().map(f32::from)? / 100.0);
    // An empty operand makes an empty product, which format-number() writes as NaN.
    let product = match (taxable, rate) {
        (Some(t), Some(r)) => t * (r / 100.0),
        _ => f64::NAN,
    };
    let should_be = round(format_2(product)? * 100.0) / 100.0;
    let upper = round((should_be + tolerance) * 100.0) / 100.0;
    let lower = round((should_be - tolerance) * 100.0) / 100.0;
    Some(tax.is_some_and(|t| (t <= upper && t >= lower) || t == should_be))
}

/// `cac:TaxScheme/normalize-space(upper-case(cbc:ID)) = 'VAT'`, over every scheme and ID.
fn vat_scheme(category: &Element<'_>) -> bool {
    all(category, NS_CAC, "TaxScheme")
        .flat_map(|s| all(s, NS_CBC, "ID"))
        .any(|id| upper_is_vat(&id.text()))
}

/// `normalize-space(upper-case(x)) = 'VAT'`: only ASCII letters upper-case to V, A and T, so an
/// ASCII comparison (without Unicode's case tables in the module) is the same test.
pub(super) fn upper_is_vat(x: &str) -> bool {
    ns(x).eq_ignore_ascii_case("VAT")
}

/// BR-CO-17 on every `/ubl:Invoice/cac:TaxTotal/cac:TaxSubtotal`, BR-S-09 on every standard-rate
/// VAT category of one (`/*/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory[normalize-space(cbc:ID)
/// = 'S'][VAT]`), which also wants its own `cbc:Percent`.
pub(super) fn breakdown_vat(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let lines = all(root, NS_CAC, "InvoiceLine").count();
    for (t, total) in all(root, NS_CAC, "TaxTotal").enumerate() {
        for (s, sub) in all(total, NS_CAC, "TaxSubtotal").enumerate() {
            let p = |rest: &str| at(&format!("/cac:TaxTotal[{}]/cac:TaxSubtotal[{}]{rest}", t + 1, s + 1));
            let ok = vat_amount_ok(sub, lines);
            let detail = || {
                Some(format!(
                    "TaxAmount {}, TaxableAmount {}",
                    trim(&sv(cbc(sub, "TaxAmount"))),
                    trim(&sv(cbc(sub, "TaxableAmount")))
                ))
            };
            if ok == Some(false) {
                out.hit("BR-CO-17", p("/cbc:TaxAmount"), detail());
            }
            for category in all(sub, NS_CAC, "TaxCategory") {
                let ids: Vec<&Element<'_>> = all(category, NS_CBC, "ID").collect();
                if !(matches!(ids.as_slice(), [id] if ns(&id.text()) == "S") && vat_scheme(category)) {
                    continue;
                }
                let percents: Vec<&Element<'_>> = all(category, NS_CBC, "Percent").collect();
                let no_percent = match percents.as_slice() {
                    [] => true,
                    [p] => ns(&p.text()).is_empty(),
                    _ => continue,
                };
                // `$checkOne or not($checkTwo)`: with checkOne true the rest is not evaluated.
                if no_percent || ok == Some(false) {
                    out.hit("BR-S-09", p("/cbc:TaxAmount"), detail());
                }
            }
        }
    }
}

/// Saxon's `xs:decimal` division: `max(18, scale(a) - scale(b) + 18)` places, half down. None
/// when dividing by zero (an error).
fn divide(a: Decimal, b: Decimal) -> Option<Decimal> {
    if b.is_zero() {
        return None;
    }
    let scale = (i64::from(a.scale()) - i64::from(b.scale()) + 18).max(18);
    let q = a.checked_div(b)?;
    Some(q.round_dp_with_strategy(u32::try_from(scale).ok()?, RoundingStrategy::MidpointTowardZero))
}

/// XPath `round(x, 2)` of a decimal: half towards positive infinity.
fn round_2(x: Decimal) -> Decimal {
    let strategy = if x.is_sign_negative() {
        RoundingStrategy::MidpointTowardZero
    } else {
        RoundingStrategy::MidpointAwayFromZero
    };
    x.round_dp_with_strategy(2, strategy)
}

/// BR-KSA-EN16931-11 on every `cac:InvoiceLine`: the net amount is the quantity times the net
/// price (over the base quantity when there is one), truncated to 3 places, plus the line's
/// charges, less its allowances, rounded to 2 places, ±0.01.
pub(super) fn line_amounts(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    for (i, line) in all(root, NS_CAC, "InvoiceLine").enumerate() {
        // xs:decimal() of one node, () of none; of more (or a non-number), an error.
        let one = |el: Option<&Element<'_>>, local: &'static str| -> Option<Option<Decimal>> {
            let Some(el) = el else { return Some(None) };
            let found: Vec<&Element<'_>> = all(el, NS_CBC, local).collect();
            match found.as_slice() {
                [] => Some(None),
                [v] => xs_decimal(&v.text()).map(Some),
                _ => None,
            }
        };
        let price = line.elements().find(|e| is(e, NS_CAC, "Price"));
        let (Some(amount), Some(quantity), Some(price_amount), Some(base)) = (
            one(Some(line), "LineExtensionAmount"),
            one(Some(line), "InvoicedQuantity"),
            one(price, "PriceAmount"),
            one(price, "BaseQuantity"),
        ) else {
            continue;
        };
        let has_base = price.is_some_and(|p| all(p, NS_CBC, "BaseQuantity").next().is_some());
        // sum(cac:AllowanceCharge[cbc:ChargeIndicator = true()]/xs:decimal(cbc:Amount)).
        let mut charges = Decimal::ZERO;
        let mut allowances = Decimal::ZERO;
        let mut failed = false;
        for ac in all(line, NS_CAC, "AllowanceCharge") {
            let Some(charge) = indicator(ac) else {
                failed |= cbc(ac, "ChargeIndicator").is_some();
                continue;
            };
            for a in all(ac, NS_CBC, "Amount") {
                match xs_decimal(&a.text()) {
                    Some(v) if charge => charges += v,
                    Some(v) => allowances += v,
                    None => failed = true,
                }
            }
        }
        if failed {
            continue;
        }
        // An empty operand gives an empty result, equal to nothing: the rule fires.
        let product = match (quantity, price_amount, has_base) {
            (Some(q), Some(p), false) => Some(q * p),
            (Some(q), Some(p), true) => match base {
                Some(b) => match divide(p, b) {
                    Some(unit) => Some(q * unit),
                    None => continue,
                },
                None => None,
            },
            _ => None,
        };
        let expected = product.map(|x| {
            let thousandths = (x * Decimal::ONE_THOUSAND).floor();
            let cut = thousandths / Decimal::TEN + Decimal::new(1, 11);
            round_2(cut / Decimal::ONE_HUNDRED + charges - allowances)
        });
        let cent = Decimal::new(1, 2);
        let ok = match (amount, expected) {
            (Some(a), Some(e)) => a == e || a == e + cent || a == e - cent,
            _ => false,
        };
        if !ok {
            out.hit(
                "BR-KSA-EN16931-11",
                at(&format!("/cac:InvoiceLine[{}]/cbc:LineExtensionAmount", i + 1)),
                Some(format!(
                    "LineExtensionAmount {}, expected {}",
                    amount.map_or_else(|| "none".to_owned(), |a| a.to_string()),
                    expected.map_or_else(|| "none".to_owned(), |e| e.to_string())
                )),
            );
        }
    }
}

/// BR-KSA-97 on the root: with a document currency other than SAR, the VAT total in it
/// (the `cac:TaxTotal` with subtotals) and in SAR (the one without) cannot be the same amount
/// (both positive, equal once rounded to 2 places, in doubles).
pub(super) fn two_currencies(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let currencies: Vec<String> = all(root, NS_CBC, "DocumentCurrencyCode").map(|c| c.text()).collect();
    if !currencies.iter().any(|c| !c.is_empty()) || !currencies.iter().any(|c| c != "SAR") {
        return;
    }
    let amounts = |with_subtotals: bool| -> Vec<&Element<'_>> {
        all(root, NS_CAC, "TaxTotal")
            .filter(|t| all(t, NS_CAC, "TaxSubtotal").next().is_some() == with_subtotals)
            .flat_map(|t| all(t, NS_CBC, "TaxAmount"))
            .collect()
    };
    let (with, without) = (amounts(true), amounts(false));
    // `> 0` compares every amount (one that is not a double is an error); `* 100` takes one each.
    let positive = |els: &[&Element<'_>]| -> Option<bool> {
        let mut any = false;
        for e in els {
            any |= untyped_vs_zero(&e.text())? == Ordering::Greater;
        }
        Some(any)
    };
    if positive(&with) != Some(true) || positive(&without) != Some(true) {
        return;
    }
    let (Some(a), Some(b)) = (
        with.iter().map(|e| xs_double(&e.text())).collect::<Option<Vec<f64>>>(),
        without
            .iter()
            .map(|e| xs_double(&e.text()))
            .collect::<Option<Vec<f64>>>(),
    ) else {
        return;
    };
    if let ([a], [b]) = (a.as_slice(), b.as_slice())
        && round(a * 100.0) / 100.0 == round(b * 100.0) / 100.0
    {
        out.hit(
            "BR-KSA-97",
            at("/cac:TaxTotal/cbc:TaxAmount"),
            Some(format!("{} in both currencies", trim(&with[0].text()))),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_number_rounds_the_shortest_form_half_to_even() {
        // 0.105 is the shortest form of the double nearest it: half to even gives 0.10.
        assert_eq!(format_2(0.105), Some(0.10));
        assert_eq!(format_2(0.115), Some(0.12));
        assert_eq!(format_2(0.1 + 0.2), Some(0.3));
        assert_eq!(format_2(2.675), Some(2.68));
        assert!(format_2(f64::NAN).is_some_and(f64::is_nan));
        assert_eq!(format_2(f64::INFINITY), None);
        assert_eq!(adjust(0.30000000000000004), "0.30000000000000004");
        assert_eq!(adjust(1.0000000000000002), "1.0000000000000002");
    }

    #[test]
    fn lexical_forms() {
        assert_eq!(xs_double(" 1.5 "), Some(1.5));
        assert_eq!(xs_double("1e2"), Some(100.0));
        assert_eq!(xs_double("-INF"), Some(f64::NEG_INFINITY));
        assert!(xs_double("NaN").is_some_and(f64::is_nan));
        for bad in ["", "1,5", "inf", "nan", "1e", ".", "0x1", "1 2"] {
            assert_eq!(xs_double(bad), None, "{bad}");
        }
        assert_eq!(xs_decimal("+1.50"), Some(Decimal::new(150, 2)));
        for bad in ["1e2", "1_0", "", "-", "INF"] {
            assert_eq!(xs_decimal(bad), None, "{bad}");
        }
        assert_eq!(round(-2.5), -2.0);
        assert_eq!(round(2.5), 3.0);
        assert_eq!(round(0.49999999999999994), 0.0);
    }

    /// What Saxon 9.9 answered for `. >= 0` and `. > 0` on these untyped values.
    #[test]
    fn untyped_values_against_zero() {
        use Ordering::*;
        for (v, want) in [
            ("-0.00", Less),
            ("-0", Equal),
            (" -0 ", Equal),
            ("-00", Equal),
            ("+0", Equal),
            ("-.0", Less),
            ("-0e0", Less),
            ("0.00", Equal),
            ("NaN", Greater),
            ("INF", Greater),
            ("-INF", Less),
            ("-0.01", Less),
            ("1e-400", Equal),
            ("-1e-400", Less),
        ] {
            assert_eq!(untyped_vs_zero(v), Some(want), "{v}");
        }
        assert_eq!(untyped_vs_zero("1,5"), None);
    }
}
