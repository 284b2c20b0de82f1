//! Tree helpers shared by the checks.

use rust_decimal::Decimal;
use zatca_core::xml::{Element, NS_CAC, NS_CBC};

/// `Element::is`, comparing the (short) local name before the (long) namespace URI: most
/// candidates differ by name, and this runs for every step of every check.
pub(crate) fn is(el: &Element<'_>, ns: &str, local: &str) -> bool {
    let name = el.name.as_bytes();
    name.len() >= local.len()
        && name.ends_with(local.as_bytes())
        && (name.len() == local.len() || name[name.len() - local.len() - 1] == b':')
        && el.ns == ns
}

pub(crate) fn cbc<'e, 'a>(el: &'e Element<'a>, local: &str) -> Option<&'e Element<'a>> {
    el.elements().find(|e| is(e, NS_CBC, local))
}

pub(crate) fn cac<'e, 'a>(el: &'e Element<'a>, local: &str) -> Option<&'e Element<'a>> {
    el.elements().find(|e| is(e, NS_CAC, local))
}

pub(crate) fn text(el: Option<&Element<'_>>) -> Option<String> {
    el.map(|e| e.text().trim().to_owned()).filter(|t| !t.is_empty())
}

/// The `cac:AdditionalDocumentReference` whose `cbc:ID` is `id`.
pub(crate) fn reference<'e, 'a>(root: &'e Element<'a>, id: &str) -> Option<&'e Element<'a>> {
    root.elements()
        .filter(|e| e.is(NS_CAC, "AdditionalDocumentReference"))
        .find(|e| cbc(e, "ID").is_some_and(|i| i.text().trim() == id))
}

/// XML whitespace, what `normalize-space` strips.
fn xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// The XPath string value of an element, "" when absent.
pub(crate) fn sv(el: Option<&Element<'_>>) -> String {
    el.map(Element::text).unwrap_or_default()
}

/// `string-length` of the string value (characters, not bytes).
pub(crate) fn chars(el: Option<&Element<'_>>) -> usize {
    el.map_or(0, |e| e.text().chars().count())
}

/// `normalize-space`.
pub(crate) fn ns(s: &str) -> String {
    s.split(xml_space)
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `normalize-space(x) = ''` (true when absent).
pub(crate) fn blank(el: Option<&Element<'_>>) -> bool {
    el.is_none_or(|e| e.text().trim_matches(xml_space).is_empty())
}

/// `string-length(substring-after(x, '.'))`.
pub(crate) fn frac(el: Option<&Element<'_>>) -> usize {
    sv(el).split_once('.').map_or(0, |(_, f)| f.chars().count())
}

/// Child elements with this namespace and local name.
pub(crate) fn all<'e, 'a>(
    el: &'e Element<'a>,
    ns: &'static str,
    local: &'static str,
) -> impl Iterator<Item = &'e Element<'a>> {
    el.elements().filter(move |e| is(e, ns, local))
}

/// A tax category whose `cac:TaxScheme/cbc:ID` is VAT (normalised, any case).
pub(crate) fn is_vat(category: &Element<'_>) -> bool {
    category
        .path(&[(NS_CAC, "TaxScheme"), (NS_CBC, "ID")])
        .is_some_and(|id| ns(&id.text()).eq_ignore_ascii_case("VAT"))
}

/// The normalised `cbc:ID` of a tax category.
pub(crate) fn category_id(category: &Element<'_>) -> String {
    ns(&sv(cbc(category, "ID")))
}

/// `cbc:ChargeIndicator` as XPath compares it with `true()`/`false()`.
pub(crate) fn indicator(el: &Element<'_>) -> Option<bool> {
    match cbc(el, "ChargeIndicator")
        .map(|c| c.text())
        .as_deref()
        .map(|t| t.trim_matches(xml_space))
    {
        Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        _ => None,
    }
}

/// The schematrons' code-list test: `not(contains(normalize-space(.), ' ')) and
/// contains(LIST, concat(' ', normalize-space(.), ' '))`, LIST starting and ending with a space.
pub(crate) fn listed(list: &str, value: &str) -> bool {
    let v = value.trim_matches(xml_space);
    if v.is_empty() || v.contains(xml_space) {
        // normalize-space('') is '': ' ' + '' + ' ' is in any list with two spaces in a row.
        return v.is_empty() && list.contains("  ");
    }
    list.match_indices(v)
        .any(|(i, _)| list[..i].ends_with(' ') && list[i + v.len()..].starts_with(' '))
}

/// The number in an element (`xs:decimal`), none when absent or not a number.
pub(crate) fn num(el: Option<&Element<'_>>) -> Option<Decimal> {
    el.and_then(|e| e.text().trim_matches(xml_space).parse().ok())
}

/// XPath `round(x * 100) div 100`: half up towards positive infinity.
pub(crate) fn round2(x: Decimal) -> Decimal {
    (x * Decimal::ONE_HUNDRED + Decimal::new(5, 1)).floor() / Decimal::ONE_HUNDRED
}

/// Whether every character is an ASCII digit (and there is at least one).
pub(crate) fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}
