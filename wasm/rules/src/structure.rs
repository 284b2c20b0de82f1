//! The XSD structure pass: what the first stage of ZATCA's validation (the UBL 2.1 Invoice XSD)
//! checks — the root element, each aggregate's children (which, in which order, how many),
//! attributes (allowed, required, `languageID`'s form), and the lexical form of typed values
//! (decimals, dates, times, booleans, base64; UBL 2.1 has no date-time element). Reported as the pseudo-rule `XSD`.
//!
//! The tables are generated from the XSDs (`structure/tables.rs`, by `tests/structure_tables.rs`)
//! and cover every element reachable from `Invoice`, i.e. all of UBL 2.1's aggregates. In UBL
//! every element is declared globally, so an element's name alone gives its content model.
//! Not checked: the inside of `ext:ExtensionContent` (the XAdES signature; its one element is
//! required, what it holds is the signature verifier's business).
//!
//! Like the XSD validator, one content-model error is reported per element (the rest of its
//! children's order is then meaningless), while every child is still checked on its own.

use std::fmt::Write as _;

use zatca_core::xml::{self, Element as Node, NS_CAC, NS_CBC, NS_EXT, NS_INVOICE, Node as Child};

use crate::{Finding, Severity};

#[rustfmt::skip]
mod tables;

/// The rule id of the findings of this pass.
pub(crate) const RULE: &str = "XSD";

/// `maxOccurs="unbounded"`.
pub(crate) const UNBOUNDED: u16 = u16::MAX;

/// The built-in type a simple-content element's value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value {
    Decimal,
    Date,
    Time,
    Boolean,
    Base64,
    /// string, normalizedString, anyURI: any text.
    Text,
}

/// The type of an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttrKind {
    Language,
    Text,
}

/// An attribute a simple-content element may (or must) have.
pub(crate) struct Attr {
    pub name: &'static str,
    pub required: bool,
    pub kind: AttrKind,
}

/// The shape of a simple-content element (the UBL unqualified data types).
pub(crate) struct Leaf {
    pub value: Value,
    pub attrs: &'static [Attr],
}

/// What an element contains: a sequence of elements (index into `SEQUENCES`) or a typed value
/// (index into `LEAVES`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Content {
    Sequence(u16),
    Leaf(u16),
}

/// A globally declared element.
pub(crate) struct Element {
    pub ns: u8,
    pub name: &'static str,
    pub content: Content,
}

/// What a particle of a sequence accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Term {
    /// This element (index into `ELEMENTS`).
    Element(u16),
    /// Any element of a namespace other than this one (index into `NS`): `xsd:any ##other`.
    AnyOtherThan(u8),
}

/// One entry of a sequence, with its cardinality.
pub(crate) struct Particle {
    pub term: Term,
    pub min: u16,
    pub max: u16,
}

/// What went wrong; each kind has its message, Arabic message and hint.
#[derive(Debug, Clone, Copy)]
enum Problem {
    Root,
    Missing,
    OutOfOrder,
    TooMany,
    Unexpected,
    TextInAggregate,
    ElementInValue,
    BadValue,
    MissingAttribute,
    UnknownAttribute,
    BadAttribute,
}

impl Problem {
    fn texts(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Root => (
                "the root element is not a UBL 2.1 Invoice (ZATCA uses Invoice for invoices, credit and debit notes)",
                "العنصر الجذري ليس فاتورة UBL 2.1 ‏(Invoice)؛ تستخدم هيئة الزكاة عنصر Invoice للفواتير والإشعارات الدائنة والمدينة.",
                "use <Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\">",
            ),
            Self::Missing => (
                "a mandatory element of the UBL 2.1 schema is missing",
                "ينقص عنصر إلزامي في مخطط UBL 2.1.",
                "add the element at the position the UBL 2.1 schema gives it",
            ),
            Self::OutOfOrder => (
                "an element is out of the order the UBL 2.1 schema requires",
                "عنصر في غير الترتيب الذي يفرضه مخطط UBL 2.1.",
                "move the element: UBL fixes the order of an element's children",
            ),
            Self::TooMany => (
                "an element occurs more often than the UBL 2.1 schema allows",
                "يتكرر عنصر أكثر مما يسمح به مخطط UBL 2.1.",
                "keep a single occurrence of the element",
            ),
            Self::Unexpected => (
                "an element is not allowed here by the UBL 2.1 schema",
                "عنصر غير مسموح به في هذا الموضع وفق مخطط UBL 2.1.",
                "check the element's name, namespace prefix and parent",
            ),
            Self::TextInAggregate => (
                "an aggregate element contains text; the UBL 2.1 schema allows only elements in it",
                "يحتوي عنصر تجميعي على نص، ولا يسمح مخطط UBL 2.1 فيه إلا بالعناصر.",
                "remove the text or move it into the basic element it belongs to",
            ),
            Self::ElementInValue => (
                "a basic element contains elements; the UBL 2.1 schema allows only a value in it",
                "يحتوي عنصر أساسي على عناصر، ولا يسمح مخطط UBL 2.1 فيه إلا بقيمة.",
                "check the nesting: the child belongs to the enclosing aggregate",
            ),
            Self::BadValue => (
                "a value does not have the data type the UBL 2.1 schema requires",
                "قيمة لا تطابق نوع البيانات الذي يفرضه مخطط UBL 2.1.",
                "write decimals as 123.45, dates as YYYY-MM-DD, times as HH:MM:SS, indicators as true or false",
            ),
            Self::MissingAttribute => (
                "a required attribute is missing",
                "تنقص سمة إلزامية.",
                "amounts need currencyID, measures unitCode, binary objects mimeCode",
            ),
            Self::UnknownAttribute => (
                "an attribute is not allowed on this element by the UBL 2.1 schema",
                "سمة غير مسموح بها على هذا العنصر وفق مخطط UBL 2.1.",
                "remove the attribute or check its name",
            ),
            Self::BadAttribute => (
                "an attribute value does not have the data type the UBL 2.1 schema requires",
                "قيمة سمة لا تطابق نوع البيانات الذي يفرضه مخطط UBL 2.1.",
                "languageID is a language code such as ar or en",
            ),
        }
    }
}

/// The English and Arabic messages and the hint of every kind of structure finding, for
/// documentation and for the tests that check each has both messages.
#[cfg(test)]
fn all_problems() -> [Problem; 11] {
    use Problem::*;
    [
        Root,
        Missing,
        OutOfOrder,
        TooMany,
        Unexpected,
        TextInAggregate,
        ElementInValue,
        BadValue,
        MissingAttribute,
        UnknownAttribute,
        BadAttribute,
    ]
}

/// Runs the pass over a document; a document that cannot be parsed gives nothing here (the
/// rules report it as `XML`).
pub(crate) fn run(doc: &xml::Document<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let root = &doc.root;
    match lookup(root) {
        Some(i) if root.ns == NS_INVOICE => walk(root, i, &mut vec![root], &mut out),
        _ => report(
            &mut out,
            Problem::Root,
            &[root],
            None,
            format!("{} ({})", root.name, root.ns),
        ),
    }
    out
}

/// The tables' index of an element, by namespace and local name.
fn lookup(el: &Node<'_>) -> Option<u16> {
    let ns = tables::NS.iter().position(|n| *n == el.ns)?;
    let local = el.local_name();
    tables::ELEMENTS
        .binary_search_by(|e| (e.ns as usize).cmp(&ns).then_with(|| e.name.cmp(local)))
        .ok()
        .and_then(|i| u16::try_from(i).ok())
}

/// Checks `el` (the element `index` of the tables) and everything under it. `path` holds the
/// ancestors and `el` itself, for locations.
fn walk<'e>(el: &'e Node<'e>, index: u16, path: &mut Vec<&'e Node<'e>>, out: &mut Vec<Finding>) {
    match tables::ELEMENTS[usize::from(index)].content {
        Content::Leaf(leaf) => value(el, &tables::LEAVES[usize::from(leaf)], path, out),
        Content::Sequence(seq) => {
            for (name, _) in &el.attrs {
                if !is_declaration(name) {
                    report(out, Problem::UnknownAttribute, path, Some(name), format!("@{name}"));
                }
            }
            if el.children.iter().any(|c| matches!(c, Child::Text(t) if !is_blank(t))) {
                report(out, Problem::TextInAggregate, path, None, display(el));
            }
            sequence(el, tables::SEQUENCES[usize::from(seq)], path, out);
            for child in el.elements() {
                if let Some(i) = lookup(child) {
                    path.push(child);
                    walk(child, i, path, out);
                    path.pop();
                }
            }
        }
    }
}

/// The particle of `seq`, from `from` on, that accepts `child`.
fn accepting(seq: &[Particle], from: usize, child: &Node<'_>, index: Option<u16>) -> Option<usize> {
    seq.iter()
        .skip(from)
        .position(|p| match p.term {
            Term::Element(e) => Some(e) == index,
            Term::AnyOtherThan(ns) => !child.ns.is_empty() && child.ns != tables::NS[usize::from(ns)],
        })
        .map(|i| i + from)
}

fn particle_name(p: &Particle) -> String {
    match p.term {
        Term::Element(e) => {
            let e = &tables::ELEMENTS[usize::from(e)];
            qualified(tables::NS[usize::from(e.ns)], e.name)
        }
        Term::AnyOtherThan(_) => "an element of another namespace".to_owned(),
    }
}

/// The children of an aggregate against its sequence: the first deviation is reported.
fn sequence<'e>(el: &'e Node<'e>, seq: &[Particle], path: &mut Vec<&'e Node<'e>>, out: &mut Vec<Finding>) {
    // The particle reached and how many children it has taken.
    let (mut at, mut count) = (0usize, 0u16);
    let mut previous: Option<&Node<'_>> = None;
    let missing =
        |from: usize, to: usize, count: u16| (from..to).find(|&k| seq[k].min > if k == from { count } else { 0 });
    for (i, child) in el.elements().enumerate() {
        let index = lookup(child);
        match accepting(seq, at, child, index) {
            Some(j) if j == at && count < seq[at].max => count += 1,
            Some(j) if j == at => {
                path.push(child);
                let max = seq[at].max;
                report(
                    out,
                    Problem::TooMany,
                    path,
                    None,
                    format!("{}: at most {max}", display(child)),
                );
                path.pop();
                return;
            }
            Some(j) => {
                if let Some(k) = missing(at, j, count) {
                    // Present further on: out of order rather than missing.
                    let later = el
                        .elements()
                        .skip(i + 1)
                        .find(|c| accepting(&seq[k..=k], 0, c, lookup(c)).is_some());
                    if let Some(later) = later {
                        path.push(later);
                        let detail = format!("{} must come before {}", display(later), display(child));
                        report(out, Problem::OutOfOrder, path, None, detail);
                        path.pop();
                    } else {
                        let detail = format!("{} (expected before {})", particle_name(&seq[k]), display(child));
                        report_missing(out, path, &seq[k], detail);
                    }
                    return;
                }
                (at, count) = (j, 1);
            }
            None => {
                path.push(child);
                let earlier = accepting(&seq[..at], 0, child, index).is_some();
                if let (true, Some(prev)) = (earlier, previous) {
                    let detail = format!("{} must come before {}", display(child), display(prev));
                    report(out, Problem::OutOfOrder, path, None, detail);
                } else {
                    let detail = format!("{} is not a child of {}", display(child), display(el));
                    report(out, Problem::Unexpected, path, None, detail);
                }
                path.pop();
                return;
            }
        }
        previous = Some(child);
    }
    if let Some(k) = missing(at, seq.len(), count) {
        let detail = format!("{} (expected in {})", particle_name(&seq[k]), display(el));
        report_missing(out, path, &seq[k], detail);
    }
}

fn report_missing(out: &mut Vec<Finding>, path: &[&Node<'_>], p: &Particle, detail: String) {
    let mut location = location(path);
    let _ = write!(location, "/{}", particle_name(p));
    push(out, Problem::Missing, location, detail);
}

/// A simple-content element: attributes and value.
fn value<'e>(el: &'e Node<'e>, leaf: &Leaf, path: &mut Vec<&'e Node<'e>>, out: &mut Vec<Finding>) {
    for (name, v) in &el.attrs {
        if is_declaration(name) {
            continue;
        }
        match leaf.attrs.iter().find(|a| a.name == *name) {
            None => report(out, Problem::UnknownAttribute, path, Some(name), format!("@{name}")),
            Some(a) if a.kind == AttrKind::Language && !is_language(v) => {
                report(
                    out,
                    Problem::BadAttribute,
                    path,
                    Some(name),
                    format!("@{name}='{v}' is not a language code"),
                );
            }
            Some(_) => {}
        }
    }
    for a in leaf.attrs.iter().filter(|a| a.required) {
        if el.attr(a.name).is_none() {
            report(
                out,
                Problem::MissingAttribute,
                path,
                None,
                format!("@{} on {}", a.name, display(el)),
            );
        }
    }
    if el.elements().next().is_some() {
        report(out, Problem::ElementInValue, path, None, display(el));
        return;
    }
    let (ok, ty) = match leaf.value {
        Value::Text => return,
        Value::Decimal => (is_decimal(collapse(&el.text())), "xsd:decimal"),
        Value::Date => (is_date(collapse(&el.text())), "xsd:date"),
        Value::Time => (is_time(collapse(&el.text())), "xsd:time"),
        Value::Boolean => (
            matches!(collapse(&el.text()), "true" | "false" | "1" | "0"),
            "xsd:boolean",
        ),
        Value::Base64 => (is_base64(&el.text()), "xsd:base64Binary"),
    };
    if !ok {
        let text = el.text();
        let shown: String = collapse(&text).chars().take(40).collect();
        report(
            out,
            Problem::BadValue,
            path,
            None,
            format!("'{shown}' is not a valid {ty}"),
        );
    }
}

fn report(out: &mut Vec<Finding>, problem: Problem, path: &[&Node<'_>], attr: Option<&str>, detail: String) {
    let mut location = location(path);
    if let Some(a) = attr {
        let _ = write!(location, "/@{a}");
    }
    push(out, problem, location, detail);
}

fn push(out: &mut Vec<Finding>, problem: Problem, location: String, detail: String) {
    let (message, message_ar, hint) = problem.texts();
    out.push(Finding {
        rule: RULE,
        severity: Severity::Error,
        location,
        message,
        message_ar,
        hint: Some(hint),
        detail: Some(detail),
    });
}

/// `xmlns`, `xmlns:p` and `xsi:…` attributes, which every element may carry.
fn is_declaration(name: &str) -> bool {
    name == "xmlns" || name.starts_with("xmlns:") || name.starts_with("xsi:")
}

/// The name with the conventional prefix of its namespace (`cac:Party`), or as written.
fn qualified(ns: &str, local: &str) -> String {
    let prefix = match ns {
        NS_CAC => "cac:",
        NS_CBC => "cbc:",
        NS_EXT => "ext:",
        _ => "",
    };
    format!("{prefix}{local}")
}

fn display(el: &Node<'_>) -> String {
    match el.ns.as_ref() {
        NS_CAC | NS_CBC | NS_EXT | NS_INVOICE => qualified(&el.ns, el.local_name()),
        _ => el.name.to_owned(),
    }
}

/// `/Invoice/cac:X[n]/cbc:Y`: a position where an element repeats among its siblings.
fn location(path: &[&Node<'_>]) -> String {
    let mut out = String::new();
    for (i, el) in path.iter().enumerate() {
        out.push('/');
        out.push_str(&display(el));
        if let Some(parent) = i.checked_sub(1).map(|p| path[p]) {
            let same: Vec<&Node<'_>> = parent
                .elements()
                .filter(|s| s.ns == el.ns && s.local_name() == el.local_name())
                .collect();
            if same.len() > 1
                && let Some(n) = same.iter().position(|s| std::ptr::eq(*s, *el))
            {
                let _ = write!(out, "[{}]", n + 1);
            }
        }
    }
    out
}

fn is_blank(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// The whitespace facet `collapse` of the typed built-ins, as far as a valid value goes: inner
/// whitespace makes any of them invalid anyway.
fn collapse(text: &str) -> &str {
    text.trim_matches([' ', '\t', '\r', '\n'])
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `[+-]?(d+(.d*)?|.d+)`
fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    (int.is_empty() || digits(int)) && (frac.is_empty() || digits(frac)) && !(int.is_empty() && frac.is_empty())
}

fn number(s: &str) -> Option<u32> {
    if digits(s) { s.parse().ok() } else { None }
}

/// `Z` or `±hh:mm` (at most 14:00).
fn is_zone(s: &str) -> bool {
    if s.is_empty() || s == "Z" {
        return true;
    }
    let Some(rest) = s.strip_prefix(['+', '-']) else {
        return false;
    };
    match rest.split_once(':') {
        Some((h, m)) if h.len() == 2 && m.len() == 2 => {
            matches!((number(h), number(m)), (Some(h), Some(m)) if m < 60 && (h < 14 || (h == 14 && m == 0)))
        }
        _ => false,
    }
}

/// Splits a trailing time zone off (ASCII input).
fn zone_split(s: &str) -> (&str, &str) {
    if let Some(body) = s.strip_suffix('Z') {
        return (body, "Z");
    }
    let b = s.as_bytes();
    if s.is_ascii() && b.len() > 6 && matches!(b[b.len() - 6], b'+' | b'-') && b[b.len() - 3] == b':' {
        return s.split_at(s.len() - 6);
    }
    (s, "")
}

/// `-?YYYY-MM-DD`, a real day of the (proleptic Gregorian) calendar, year 0 excluded.
fn is_plain_date(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let mut parts = s.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    if y.len() < 4 || (y.len() > 4 && y.starts_with('0')) || m.len() != 2 || d.len() != 2 || !digits(y) {
        return false;
    }
    let (Ok(year), Some(month), Some(day)) = (y.parse::<u64>(), number(m), number(d)) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year != 0 && (1..=days).contains(&day)
}

/// `hh:mm:ss(.s+)?`, hours 00–23.
fn is_plain_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return false;
    }
    let (Some(h), Some(m), Some(sec)) = (number(&s[0..2]), number(&s[3..5]), number(&s[6..8])) else {
        return false;
    };
    let fraction = &s[8..];
    h < 24 && m < 60 && sec < 60 && (fraction.is_empty() || fraction.strip_prefix('.').is_some_and(digits))
}

// Valid dates and times are ASCII, which keeps the byte slicing below on char boundaries.
fn is_date(s: &str) -> bool {
    let (body, zone) = zone_split(s);
    s.is_ascii() && is_plain_date(body) && is_zone(zone)
}

fn is_time(s: &str) -> bool {
    let (body, zone) = zone_split(s);
    s.is_ascii() && is_plain_time(body) && is_zone(zone)
}

/// Base64 with whitespace anywhere; padding only at the end, length a multiple of four.
fn is_base64(text: &str) -> bool {
    let mut len = 0usize;
    let mut padding = 0usize;
    for b in text.bytes() {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            b'=' => padding += 1,
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' if padding == 0 => {}
            _ => return false,
        }
        len += 1;
    }
    padding <= 2 && len % 4 == 0
}

/// `[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*`
fn is_language(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or_default();
    (1..=8).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_forms() {
        for ok in ["1", "-1.5", "+.5", "1.", "0.00", "123456789012345678901234567890"] {
            assert!(is_decimal(ok), "{ok}");
        }
        for bad in ["", ".", "1,5", "1.2.3", "1e3", "--1", "SAR"] {
            assert!(!is_decimal(bad), "{bad}");
        }
        for ok in [
            "2022-09-07",
            "2024-02-29",
            "2022-09-07Z",
            "2022-09-07+03:00",
            "12345-01-01",
        ] {
            assert!(is_date(ok), "{ok}");
        }
        for bad in [
            "2022-02-30",
            "2023-02-29",
            "2022-13-01",
            "2022-9-7",
            "07-09-2022",
            "0000-01-01",
            "2022-09-07+15:00",
            "",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
        for ok in ["12:21:28", "00:00:00.5", "23:59:59Z", "12:21:28+03:00"] {
            assert!(is_time(ok), "{ok}");
        }
        for bad in [
            "24:00:01",
            "12:60:00",
            "12:21",
            "12:21:28.",
            "1:2:3",
            "12:21:28 PM",
            "é2:21:28",
        ] {
            assert!(!is_time(bad), "{bad}");
        }
        assert!(is_base64("QUJD\nREVG") && is_base64("QQ==") && !is_base64("QQ=") && !is_base64("Q=Q="));
        assert!(is_language("ar") && is_language("en-GB") && !is_language("") && !is_language("e n"));
    }

    #[test]
    fn every_problem_has_both_messages_and_a_hint() {
        for p in all_problems() {
            let (en, ar, hint) = p.texts();
            assert!(!en.is_empty() && !ar.is_empty() && !hint.is_empty(), "{p:?}");
        }
    }
}
