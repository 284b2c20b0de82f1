//! The lexical forms of the XSD built-in types the schemas use, as a validator checks them.

pub(super) fn is_blank(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// The whitespace facet `collapse` of the typed built-ins, as far as a valid value goes: inner
/// whitespace makes any of them invalid anyway.
pub(super) fn collapse(text: &str) -> &str {
    text.trim_matches([' ', '\t', '\r', '\n'])
}

pub(super) fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `[+-]?(d+(.d*)?|.d+)`
pub(super) fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    (int.is_empty() || digits(int)) && (frac.is_empty() || digits(frac)) && !(int.is_empty() && frac.is_empty())
}

/// `[+-]?d+`
pub(super) fn is_integer(s: &str) -> bool {
    digits(s.strip_prefix(['+', '-']).unwrap_or(s))
}

pub(super) fn is_boolean(s: &str) -> bool {
    matches!(s, "true" | "false" | "1" | "0")
}

pub(super) fn number(s: &str) -> Option<u32> {
    if digits(s) { s.parse().ok() } else { None }
}

/// `Z` or `±hh:mm` (at most 14:00).
pub(super) fn is_zone(s: &str) -> bool {
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
pub(super) fn zone_split(s: &str) -> (&str, &str) {
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
pub(super) fn is_plain_date(s: &str) -> bool {
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

/// `hh:mm:ss(.s+)?`, hours 00–23, or 24:00:00 (the end of the day, which XSD admits).
pub(super) fn is_plain_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return false;
    }
    let (Some(h), Some(m), Some(sec)) = (number(&s[0..2]), number(&s[3..5]), number(&s[6..8])) else {
        return false;
    };
    let fraction = &s[8..];
    let fraction_ok = fraction.is_empty() || fraction.strip_prefix('.').is_some_and(digits);
    let midnight = h == 24 && m == 0 && sec == 0 && fraction.bytes().all(|b| matches!(b, b'.' | b'0'));
    (h < 24 || midnight) && m < 60 && sec < 60 && fraction_ok
}

// Valid dates and times are ASCII, which keeps the byte slicing below on char boundaries.
pub(super) fn is_date(s: &str) -> bool {
    let (body, zone) = zone_split(s);
    s.is_ascii() && is_plain_date(body) && is_zone(zone)
}

pub(super) fn is_time(s: &str) -> bool {
    let (body, zone) = zone_split(s);
    s.is_ascii() && is_plain_time(body) && is_zone(zone)
}

/// `date` `T` `time`, one zone at the end.
pub(super) fn is_date_time(s: &str) -> bool {
    let (body, zone) = zone_split(s);
    let Some((date, time)) = body.split_once('T') else {
        return false;
    };
    s.is_ascii() && is_plain_date(date) && is_plain_time(time) && is_zone(zone)
}

/// `xsd:anyURI` as libxml2 (ZATCA's XSD stage) takes it: anything that parses as a URI
/// reference once spaces and non-ASCII characters are escaped — one fragment at most, every `%`
/// followed by two hex digits.
pub(super) fn is_uri(s: &str) -> bool {
    let b = s.as_bytes();
    let escapes = b
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == b'%')
        .all(|(i, _)| b.len() > i + 2 && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit());
    escapes && s.matches('#').count() <= 1
}

/// An XML name without a colon: a letter or `_` first, then letters, digits, `.`, `-`, `_`
/// (non-ASCII letters and marks included).
pub(super) fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| {
            c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '\u{b7}') || (!c.is_ascii() && !c.is_whitespace())
        })
}

/// Base64 with whitespace anywhere; padding only at the end, length a multiple of four.
pub(super) fn is_base64(text: &str) -> bool {
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
pub(super) fn is_language(s: &str) -> bool {
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
        for ok in [
            "2025-07-22T15:38:47",
            "2025-07-22T15:38:47.125+03:00",
            "2025-07-22T24:00:00Z",
        ] {
            assert!(is_date_time(ok), "{ok}");
        }
        for bad in [
            "2025-07-22",
            "2025-07-22T15:38",
            "2025-07-22 15:38:47",
            "2025-07-22T24:00:01",
            "",
        ] {
            assert!(!is_date_time(bad), "{bad}");
        }
        assert!(is_integer("379112742831380471835263969587287663520528387") && is_integer("+5"));
        assert!(!is_integer("0x1F") && !is_integer("") && !is_integer("1.0"));
        for ok in ["", "#xadesSignedProperties", "#a%20b", "http://x/y?z=1", "#é", "a b"] {
            assert!(is_uri(ok), "{ok}");
        }
        assert!(!is_uri("#a#b") && !is_uri("%%") && !is_uri("%2"));
        assert!(is_ncname("signature") && is_ncname("_x.1-a") && is_ncname("توقيع"));
        assert!(!is_ncname("") && !is_ncname("1st") && !is_ncname("a:b") && !is_ncname("a b"));
        assert!(is_base64("QUJD\nREVG") && is_base64("QQ==") && !is_base64("QQ=") && !is_base64("Q=Q="));
        assert!(is_language("ar") && is_language("en-GB") && !is_language("") && !is_language("e n"));
    }
}
