//! The document header: number, dates, type, currencies, profile, supply dates, the credit/debit note reason.

use zatca_core::xml::{Element, NS_CAC, NS_CBC};

use super::Out;
use super::tree::{all, blank, cac, cbc, chars, digits, listed, ns, sv, text};

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
        // Every payment means carries the reason (`exists(./cbc:InstructionNote)`, empty or not:
        // an empty one is BR-KSA-F-06-C13's), and there is at least one.
        let means: Vec<&Element<'_>> = root.elements().filter(|e| e.is(NS_CAC, "PaymentMeans")).collect();
        if means.is_empty() || means.iter().any(|pm| cbc(pm, "InstructionNote").is_none()) {
            out.hit("BR-KSA-17", at("/cac:PaymentMeans/cbc:InstructionNote"), None);
        }
    }
}

const DOCUMENT_TYPES: &str = " 80 82 84 130 202 203 204 211 295 325 326 380 381 383 384 385 386 387 388 389 390 393 394 395 456 457 527 575 623 633 751 780 935 ";

/// The rest of the header: the issue time (BR-KSA-70), lengths of the document's identifiers and
/// notes (BR-KSA-F-06-C1, C2, C3, C5, C40), the contract reference of a summary invoice
/// (BR-KSA-92), the type code list (BR-CL-01), the credit and debit note references and reasons
/// (BR-KSA-56, F-06-C13, F-06-C22, BR-55) and the dates' format (BR-KSA-F-01).
pub(super) fn details(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let time = sv(cbc(root, "IssueTime"));
    let t = time.strip_suffix('Z').unwrap_or(&time).as_bytes();
    let time_ok = t.len() == 8
        && t[2] == b':'
        && t[5] == b':'
        && [&t[0..2], &t[3..5], &t[6..8]]
            .iter()
            .all(|p| p.iter().all(u8::is_ascii_digit))
        && &t[0..2] <= b"23"
        && t[3] <= b'5'
        && t[6] <= b'5';
    if !time_ok {
        out.hit("BR-KSA-70", at("/cbc:IssueTime"), Some(time.clone()));
    }
    if chars(cbc(root, "ID")) > 127 {
        out.hit("BR-KSA-F-06-C1", at("/cbc:ID"), None);
    }
    if all(root, NS_CBC, "Note").any(|n| {
        n.children
            .iter()
            .any(|c| matches!(c, zatca_core::xml::Node::Text(t) if t.chars().count() > 1000))
    }) {
        out.hit("BR-KSA-F-06-C2", at("/cbc:Note"), None);
    }
    for (rule, local) in [
        ("BR-KSA-F-06-C3", "OrderReference"),
        ("BR-KSA-F-06-C5", "ContractDocumentReference"),
    ] {
        if chars(root.path(&[(NS_CAC, local), (NS_CBC, "ID")])) > 127 {
            out.hit(rule, at(&format!("/cac:{local}/cbc:ID")), None);
        }
    }
    if let Some(type_code) = cbc(root, "InvoiceTypeCode") {
        let name = type_code.attr("name").unwrap_or_default();
        let n = name.chars().count();
        if !(7..=9).contains(&n) {
            out.hit(
                "BR-KSA-F-06-C40",
                at("/cbc:InvoiceTypeCode/@name"),
                Some(name.to_owned()),
            );
        }
        // A summary invoice (ninth position 1) needs its contract reference.
        let b = name.as_bytes();
        if b.len() == 9 && (name.starts_with("01") || name.starts_with("02")) && b[8] == b'1' {
            let contract = root.path(&[(NS_CAC, "ContractDocumentReference"), (NS_CBC, "ID")]);
            if blank(contract) {
                out.hit("BR-KSA-92", at("/cac:ContractDocumentReference/cbc:ID"), None);
            }
        }
        if !listed(DOCUMENT_TYPES, &type_code.text()) {
            out.hit("BR-CL-01", at("/cbc:InvoiceTypeCode"), Some(type_code.text()));
        }
    }
    let code = ns(&sv(cbc(root, "InvoiceTypeCode")));
    let references: Vec<&Element<'_>> = all(root, NS_CAC, "BillingReference").collect();
    for (i, r) in references.iter().enumerate() {
        let id = r.path(&[(NS_CAC, "InvoiceDocumentReference"), (NS_CBC, "ID")]);
        let p = at(&format!(
            "/cac:BillingReference[{}]/cac:InvoiceDocumentReference/cbc:ID",
            i + 1
        ));
        if sv(id).is_empty() {
            out.hit("BR-55", p.clone(), None);
        }
        if code == "381" || code == "383" {
            if sv(id).is_empty() {
                out.hit("BR-KSA-56", p.clone(), None);
            }
            if id.is_some() && (chars(id) > 5000 || chars(id) < 1) {
                out.hit("BR-KSA-F-06-C22", p, None);
            }
        }
    }
    if (code == "381" || code == "383") && references.is_empty() {
        out.hit("BR-KSA-56", at("/cac:BillingReference"), None);
    }
    if code == "381" || code == "383" {
        for (i, pm) in all(root, NS_CAC, "PaymentMeans").enumerate() {
            let note = cbc(pm, "InstructionNote");
            if note.is_some() && (chars(note) > 1000 || chars(note) < 1) {
                out.hit(
                    "BR-KSA-F-06-C13",
                    at(&format!("/cac:PaymentMeans[{}]/cbc:InstructionNote", i + 1)),
                    None,
                );
            }
        }
    }
    dates(root, &mut Vec::new(), at, out);
}

/// BR-KSA-F-01 over every `cbc:IssueDate`, `cbc:DueDate`, `cbc:TaxPointDate` and the delivery
/// dates: ten characters, `YYYY-MM-DD`, a year from 2000, a real day (29 February in years
/// whose last two digits make a leap year).
fn dates<'a>(el: &'a Element<'a>, path: &mut Vec<&'a str>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let delivery = el.is(NS_CAC, "Delivery");
    for child in el.elements() {
        path.push(child.name);
        let dated = child.ns == NS_CBC
            && match child.local_name() {
                "IssueDate" | "DueDate" | "TaxPointDate" => true,
                "ActualDeliveryDate" | "LatestDeliveryDate" => delivery,
                _ => false,
            };
        if dated {
            let v = child.text();
            if !date(&v) {
                out.hit("BR-KSA-F-01", at(&joined(path)), Some(v));
            }
        } else if child.ns == NS_CAC {
            dates(child, path, at, out);
        }
        path.pop();
    }
}

/// `/a/b/c` from a path stack (built only when a rule fires).
pub(super) fn joined(path: &[&str]) -> String {
    path.iter().fold(String::new(), |mut s, p| {
        s.push('/');
        s.push_str(p);
        s
    })
}

fn date(v: &str) -> bool {
    let b = v.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !b[0].is_ascii_digit() || b[0] < b'2' {
        return false;
    }
    let d = |r: std::ops::Range<usize>| v.get(r).filter(|s| digits(s)).and_then(|s| s.parse::<u32>().ok());
    let (Some(year2), Some(month), Some(day)) = (d(2..4), d(5..7), d(8..10)) else {
        return false;
    };
    if !b[1].is_ascii_digit() {
        return false;
    }
    let last = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year2 % 4 == 0 => 29,
        2 => 28,
        _ => return false,
    };
    (1..=last).contains(&day)
}

/// UTC+14 in seconds: the zone where the day starts first.
const LATEST_ZONE: i64 = 14 * 3600;

/// The rules that need the current time ([`crate::Context::now`]): BR-KSA-04 (no `cbc:IssueDate`
/// after today) and BR-KSA-98 (a simplified document's issue date and time no more than a day
/// before now; warning). Times without a zone are taken as UTC.
pub(super) fn clock(root: &Element<'_>, now: &str, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let Some(now_s) = seconds(now.get(..10).unwrap_or_default(), now.get(11..).unwrap_or_default()) else {
        return;
    };
    // `xs:date(.) > current-date()`, where `current-date()` is the date in the validator's own
    // time zone (ZATCA's: UTC+3) and `IssueDate` the seller's local date: compared with UTC
    // today, an invoice issued just after midnight in Riyadh would be refused for hours. So the
    // date is in the future only once it is after today in every zone (UTC+14, the latest).
    let latest_today = (now_s + LATEST_ZONE).div_euclid(86_400);
    let mut issue_dates = Vec::new();
    issued(root, &mut Vec::new(), &mut issue_dates);
    for (path, d) in issue_dates {
        if day(d.trim()).is_some_and(|issued| issued > latest_today) {
            out.hit("BR-KSA-04", at(&path), Some(format!("{} after now {now}", d.trim())));
        }
    }
    let simplified = cbc(root, "InvoiceTypeCode")
        .and_then(|t| t.attr("name"))
        .is_some_and(|n| n.starts_with("02"));
    if simplified {
        let (date, time) = (
            cbc(root, "IssueDate").map(Element::text),
            cbc(root, "IssueTime").map(Element::text),
        );
        if let (Some(date), Some(time)) = (date, time) {
            if let Some(issued) = seconds(&date, &time) {
                if now_s - issued > 86_400 {
                    out.hit(
                        "BR-KSA-98",
                        at("/cbc:IssueDate"),
                        Some(format!("{date}T{time}, now {now}")),
                    );
                }
            }
        }
    }
}

/// Every `cbc:IssueDate` of the document (the rule's context is any of them), with its path.
fn issued<'a>(el: &'a Element<'a>, path: &mut Vec<&'a str>, found: &mut Vec<(String, String)>) {
    for child in el.elements() {
        path.push(child.name);
        if child.ns == NS_CBC && child.local_name() == "IssueDate" {
            found.push((joined(path), child.text()));
        } else if child.ns == NS_CAC {
            issued(child, path, found);
        }
        path.pop();
    }
}

/// Days since 1970-01-01 of `YYYY-MM-DD` (proleptic Gregorian).
fn day(date: &str) -> Option<i64> {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (
        date[..4].parse().ok()?,
        date[5..7].parse().ok()?,
        date[8..].parse().ok()?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Seconds since the epoch of a date and an `HH:MM:SS` time (a trailing `Z` or fraction ignored).
fn seconds(date: &str, time: &str) -> Option<i64> {
    let t = time.trim().trim_end_matches('Z');
    let b = t.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, s): (i64, i64, i64) = (t[..2].parse().ok()?, t[3..5].parse().ok()?, t[6..8].parse().ok()?);
    Some(day(date.trim())? * 86_400 + h * 3600 + m * 60 + s)
}
