//! A small strict DER reader for the structures the signing path reads: X.509 certificates
//! ([`crate::cert`]) and SEC1 / PKCS#8 private keys ([`crate::keys`]).
//!
//! The `der`/`x509-cert` decoders are generic and build one decoder per type; reading the few
//! fields ZATCA needs by hand keeps them (≈ 80 KiB) out of the WebAssembly signing module.
//! Writing DER (CSRs, key export) and the tools module's parsing (CSRs, public keys) still use
//! the RustCrypto crates.
//!
//! Every reader returns `None` on malformed input. Like `der`, it accepts DER only: definite
//! lengths in their shortest form, nothing after the outer value, only the universal tags
//! `der` knows. Tag numbers above 30 (the multi-byte form) are not used by any structure read
//! here and are refused.

/// `BOOLEAN`.
pub(crate) const BOOLEAN: u8 = 0x01;
/// `INTEGER`.
pub(crate) const INTEGER: u8 = 0x02;
/// `BIT STRING`.
pub(crate) const BIT_STRING: u8 = 0x03;
/// `OCTET STRING`.
pub(crate) const OCTET_STRING: u8 = 0x04;
/// `OBJECT IDENTIFIER`.
pub(crate) const OID: u8 = 0x06;
/// `UTF8String`.
pub(crate) const UTF8_STRING: u8 = 0x0c;
/// `NumericString`.
pub(crate) const NUMERIC_STRING: u8 = 0x12;
/// `PrintableString`.
pub(crate) const PRINTABLE_STRING: u8 = 0x13;
/// `TeletexString` (T61String).
pub(crate) const TELETEX_STRING: u8 = 0x14;
/// `IA5String`.
pub(crate) const IA5_STRING: u8 = 0x16;
/// `UTCTime`.
pub(crate) const UTC_TIME: u8 = 0x17;
/// `GeneralizedTime`.
pub(crate) const GENERALIZED_TIME: u8 = 0x18;
/// `VisibleString`.
pub(crate) const VISIBLE_STRING: u8 = 0x1a;
/// `BMPString`.
pub(crate) const BMP_STRING: u8 = 0x1e;
/// `SEQUENCE` (constructed).
pub(crate) const SEQUENCE: u8 = 0x30;
/// `SET` (constructed).
pub(crate) const SET: u8 = 0x31;

/// The universal tags `der` knows (any other universal tag is an error there too).
const UNIVERSAL_TAGS: [u8; 22] = [
    BOOLEAN,
    INTEGER,
    BIT_STRING,
    OCTET_STRING,
    0x05, // NULL
    OID,
    0x09, // REAL
    0x0a, // ENUMERATED
    UTF8_STRING,
    0x0d, // RELATIVE-OID
    NUMERIC_STRING,
    PRINTABLE_STRING,
    TELETEX_STRING,
    0x15, // VideotexString
    IA5_STRING,
    UTC_TIME,
    GENERALIZED_TIME,
    VISIBLE_STRING,
    0x1b, // GeneralString
    BMP_STRING,
    SEQUENCE,
    SET,
];

/// The tag of a context-specific field `[number]`, constructed (EXPLICIT, or IMPLICIT over a
/// constructed type) or primitive.
pub(crate) const fn context(number: u8, constructed: bool) -> u8 {
    0x80 | if constructed { 0x20 } else { 0 } | number
}

/// One element: its tag octet, its contents and its complete encoding (tag, length, contents).
#[derive(Clone, Copy)]
pub(crate) struct Tlv<'a> {
    /// Tag octet (class, constructed bit and a number below 31).
    pub(crate) tag: u8,
    /// Contents octets.
    pub(crate) value: &'a [u8],
    /// Tag, length and contents octets.
    pub(crate) raw: &'a [u8],
}

/// Reads consecutive elements from a byte slice.
#[derive(Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over the contents of a constructed value (or over a whole encoding).
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    /// Whether every element has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag octet of the next element, without reading it.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element, whatever its tag.
    pub(crate) fn any(&mut self) -> Option<Tlv<'a>> {
        let all = self.rest;
        let (&tag, rest) = all.split_first()?;
        if tag & 0x1f == 0x1f || (tag < 0x40 && !UNIVERSAL_TAGS.contains(&tag)) {
            return None;
        }
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            // Long form: 1 to 4 length octets, no leading zero, and only for lengths >= 128.
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 {
                return None;
            }
            let (octets, after) = rest.split_at_checked(count)?;
            if octets.first() == Some(&0) {
                return None;
            }
            let len = octets.iter().fold(0usize, |len, &b| (len << 8) | usize::from(b));
            if len < 0x80 {
                return None;
            }
            rest = after;
            len
        };
        let (value, after) = rest.split_at_checked(len)?;
        let raw = all.get(..all.len() - after.len())?;
        self.rest = after;
        Some(Tlv { tag, value, raw })
    }

    /// The contents of the next element, which must have tag `tag`.
    pub(crate) fn read(&mut self, tag: u8) -> Option<&'a [u8]> {
        let tlv = self.any()?;
        (tlv.tag == tag).then_some(tlv.value)
    }

    /// The contents of the next element when it has tag `tag` (an OPTIONAL field): `Some(None)`
    /// when the next element has another tag or there is none, `None` when it is malformed.
    pub(crate) fn optional(&mut self, tag: u8) -> Option<Option<&'a [u8]>> {
        if self.peek_tag() == Some(tag) {
            self.read(tag).map(Some)
        } else {
            Some(None)
        }
    }

    /// `Some(())` when every element has been read (no trailing data).
    pub(crate) fn finish(&self) -> Option<()> {
        self.is_empty().then_some(())
    }
}

/// The contents of `bytes` read as exactly one element with tag `tag`.
pub(crate) fn single(bytes: &[u8], tag: u8) -> Option<&[u8]> {
    let mut reader = Reader::new(bytes);
    let value = reader.read(tag)?;
    reader.finish()?;
    Some(value)
}

/// A `SEQUENCE` given as its contents: each element, which must all be well formed.
pub(crate) fn elements(contents: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut reader = Reader::new(contents);
    let mut out = Vec::new();
    while !reader.is_empty() {
        out.push(reader.any()?);
    }
    Some(out)
}

/// The contents of an `INTEGER`, checked to be in its shortest two's-complement form.
pub(crate) fn integer(value: &[u8]) -> Option<&[u8]> {
    match value {
        [] => None,
        [0x00, next, ..] if *next < 0x80 => None,
        [0xff, next, ..] if *next >= 0x80 => None,
        _ => Some(value),
    }
}

/// A small non-negative `INTEGER` (versions).
pub(crate) fn small_uint(value: &[u8]) -> Option<u8> {
    match integer(value)? {
        [v] if *v < 0x80 => Some(*v),
        [0x00, v] => Some(*v),
        _ => None,
    }
}

/// The bytes of a `BIT STRING` (after the unused-bits octet) and its number of unused bits.
pub(crate) fn bit_string(value: &[u8]) -> Option<(&[u8], u8)> {
    let (&unused, bytes) = value.split_first()?;
    if unused > 7 || (unused != 0 && bytes.is_empty()) {
        return None;
    }
    Some((bytes, unused))
}

/// Checks the contents of an `OBJECT IDENTIFIER` the way `const-oid` does (at most 39 octets,
/// first two arcs in one octet, every arc fits 32 bits and is terminated) and returns them.
pub(crate) fn oid(value: &[u8]) -> Option<&[u8]> {
    let (&root, arcs) = value.split_first()?;
    if value.len() > 39 || root >= 120 {
        return None;
    }
    let mut arc: u32 = 0;
    let mut octets = 0;
    for &b in arcs {
        if octets == 4 && arc > (u32::MAX >> 7) {
            return None;
        }
        arc = (arc << 7) | u32::from(b & 0x7f);
        octets += 1;
        if b & 0x80 == 0 {
            arc = 0;
            octets = 0;
        } else if octets == 5 {
            return None;
        }
    }
    (octets == 0).then_some(value)
}

/// The dotted-decimal form of a checked [`oid`] (`1.3.132.0.10`).
pub(crate) fn oid_string(value: &[u8]) -> String {
    let mut out = String::new();
    let Some((&root, arcs)) = value.split_first() else {
        return out;
    };
    out.push_str(&(root / 40).to_string());
    out.push('.');
    out.push_str(&(root % 40).to_string());
    let mut arc: u64 = 0;
    for &b in arcs {
        arc = (arc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            out.push('.');
            out.push_str(&arc.to_string());
            arc = 0;
        }
    }
    out
}

/// The Unix time of a `UTCTime` (`YYMMDDHHMMSSZ`, years 1950–2049) or `GeneralizedTime`
/// (`YYYYMMDDHHMMSSZ`) with the checks of `der`: seconds and `Z` required, a valid calendar
/// date and time, and a date between 1970 and 9999.
pub(crate) fn unix_time(tag: u8, value: &[u8]) -> Option<i64> {
    let (year, rest) = match tag {
        UTC_TIME if value.len() == 13 => {
            let yy = two_digits(value, 0)?;
            (if yy >= 50 { 1900 } else { 2000 } + yy, value.get(2..)?)
        }
        GENERALIZED_TIME if value.len() == 15 => (two_digits(value, 0)? * 100 + two_digits(value, 2)?, value.get(4..)?),
        _ => return None,
    };
    if rest.get(10) != Some(&b'Z') {
        return None;
    }
    let [month, day, hour, minute, second] = [0, 2, 4, 6, 8].map(|at| two_digits(rest, at));
    let (month, day, hour, minute, second) = (month?, day?, hour?, minute?, second?);
    if year < 1970 || !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day == 0 || day > month_days {
        return None;
    }
    // Days from 1970-01-01 to the first of the month (proleptic Gregorian).
    const BEFORE_MONTH: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let y = year - 1;
    let leap_days = (y / 4 - y / 100 + y / 400) - (1969 / 4 - 1969 / 100 + 1969 / 400);
    let mut days = (year - 1970) * 365 + leap_days + BEFORE_MONTH.get(usize::try_from(month - 1).ok()?)?;
    if leap && month > 2 {
        days += 1;
    }
    days += day - 1;
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

fn two_digits(bytes: &[u8], at: usize) -> Option<i64> {
    match bytes.get(at..at + 2)? {
        [hi, lo] if hi.is_ascii_digit() && lo.is_ascii_digit() => Some(i64::from((hi - b'0') * 10 + (lo - b'0'))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn lengths_must_be_definite_and_shortest() {
        assert_eq!(single(&[0x04, 0x01, 0xaa], OCTET_STRING), Some(&[0xaa][..]));
        // Indefinite length, long form for a short length, a leading zero length octet.
        assert!(Reader::new(&[0x30, 0x80, 0, 0]).any().is_none());
        assert!(Reader::new(&[0x04, 0x81, 0x01, 0xaa]).any().is_none());
        let mut long = vec![0x04, 0x82, 0x00, 0x80];
        long.extend([0; 0x80]);
        assert!(Reader::new(&long).any().is_none());
        let mut ok = vec![0x04, 0x81, 0x80];
        ok.extend([7; 0x80]);
        let tlv = Reader::new(&ok).any().unwrap();
        assert_eq!((tlv.value.len(), tlv.raw.len()), (0x80, 0x83));
        // Truncated, trailing data, wrong tag, high tag number.
        assert!(single(&[0x04, 0x02, 0xaa], OCTET_STRING).is_none());
        assert!(single(&[0x04, 0x01, 0xaa, 0x00], OCTET_STRING).is_none());
        assert!(single(&[0x04, 0x01, 0xaa], INTEGER).is_none());
        assert!(Reader::new(&[0x1f, 0x20, 0x00]).any().is_none());
    }

    #[test]
    fn integers_and_bit_strings() {
        assert_eq!(small_uint(&[0]), Some(0));
        assert_eq!(small_uint(&[0x00, 0x80]), Some(0x80));
        assert_eq!(small_uint(&[0x00, 0x01]), None);
        assert_eq!(small_uint(&[0x80]), None);
        assert_eq!(small_uint(&[]), None);
        assert!(integer(&[0xff, 0x80]).is_none());
        assert!(integer(&[0xff, 0x7f]).is_some());
        assert_eq!(bit_string(&[0, 1, 2]), Some((&[1u8, 2][..], 0)));
        assert_eq!(bit_string(&[8, 1]), None);
        assert_eq!(bit_string(&[1]), None);
        assert_eq!(bit_string(&[0]), Some((&[][..], 0)));
    }

    #[test]
    fn oids_match_const_oid() {
        use der::asn1::ObjectIdentifier;
        for text in [
            "1.3.132.0.10",
            "1.2.840.10045.2.1",
            "0.9.2342.19200300.100.1.1",
            "2.5.29.17",
            "1.3.6.1.4.1.4294967295",
        ] {
            let oid = ObjectIdentifier::new_unwrap(text);
            assert_eq!(super::oid(oid.as_bytes()), Some(oid.as_bytes()), "{text}");
            assert_eq!(oid_string(oid.as_bytes()), text);
        }
        for bad in [
            &[][..],
            &[120],
            &[0x2b, 0x81],
            &[0x2b, 0x90, 0x80, 0x80, 0x80, 0x00],
            &[0x2b; 40],
        ] {
            assert!(oid(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn times_match_der() {
        use der::asn1::{GeneralizedTime, UtcTime};
        use der::{Decode, Encode};
        for unix in [
            0u64,
            951_782_400,
            1_704_964_770,
            1_862_644_770,
            2_524_607_999,
            4_107_542_400,
            253_402_300_799,
        ] {
            let d = core::time::Duration::from_secs(unix);
            let g = GeneralizedTime::from_unix_duration(d).unwrap().to_der().unwrap();
            assert_eq!(unix_time(g[0], &g[2..]), Some(unix as i64), "{unix}");
            if let Ok(u) = UtcTime::from_unix_duration(d) {
                let u = u.to_der().unwrap();
                assert_eq!(unix_time(u[0], &u[2..]), Some(unix as i64), "{unix}");
            }
        }
        for bad in [
            &b"490229000000Z"[..],
            b"690101000000Z",
            b"240230000000Z",
            b"241301000000Z",
            b"240101240000Z",
            b"2401010000Z",
            b"240101000000+",
        ] {
            assert_eq!(
                unix_time(UTC_TIME, bad).is_some(),
                UtcTime::from_der(&[&[0x17, bad.len() as u8][..], bad].concat()).is_ok(),
                "{bad:?}"
            );
        }
        assert!(unix_time(GENERALIZED_TIME, b"19691231235959Z").is_none());
        assert!(unix_time(GENERALIZED_TIME, b"20000229120000Z").is_some());
        assert!(unix_time(GENERALIZED_TIME, b"21000229120000Z").is_none());
    }
}
