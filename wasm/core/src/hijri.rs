//! Gregorian → Hijri (Umm al-Qura) dates, the calendar Saudi documents print beside the
//! Gregorian one.
//!
//! The month lengths come from ICU4X's `icu_calendar`, which carries KACST's published Umm
//! al-Qura table for 1300–1600 AH (1882-11-12 to 2174-11-25) and falls back to the tabular
//! Islamic calendar outside it. It needs no locale data, so it adds no provider or blob.

use icu_calendar::Date;
use icu_calendar::cal::Hijri;

use crate::{Code, Error, Result};

/// A date in the Umm al-Qura calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HijriDate {
    /// Hijri year (AH).
    pub year: i32,
    /// Month, 1 (Muharram) to 12 (Dhu al-Hijjah).
    pub month: u8,
    /// Day of the month, 1 to 30.
    pub day: u8,
}

impl std::fmt::Display for HijriDate {
    /// `YYYY-MM-DD`, the same shape as ZATCA's Gregorian `cbc:IssueDate`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The Umm al-Qura date of a Gregorian date given as numbers.
///
/// Errors with `invalid_date` when the Gregorian date does not exist.
pub fn from_gregorian(year: i32, month: u8, day: u8) -> Result<HijriDate> {
    let date = Date::try_new_gregorian(year, month, day).map_err(|e| {
        Error::new(
            Code::InvalidDate,
            format!("{year:04}-{month:02}-{day:02} is not a Gregorian date: {e}"),
        )
    })?;
    let hijri = date.to_calendar(Hijri::new_umm_al_qura());
    Ok(HijriDate {
        year: hijri.year().extended_year(),
        month: hijri.month().number(),
        day: hijri.day_of_month().0,
    })
}

/// The Umm al-Qura date of a Gregorian `YYYY-MM-DD` (a UBL `cbc:IssueDate`), as `YYYY-MM-DD`:
/// `umm_al_qura("2025-01-15")` is `"1446-07-15"`.
///
/// Errors with `invalid_date` when the text is not exactly `YYYY-MM-DD` or the date does not exist.
pub fn umm_al_qura(gregorian: &str) -> Result<String> {
    Ok(parse_gregorian(gregorian)
        .and_then(|(y, m, d)| from_gregorian(y, m, d))?
        .to_string())
}

/// Splits a strict `YYYY-MM-DD` into numbers.
fn parse_gregorian(text: &str) -> Result<(i32, u8, u8)> {
    let bad = || Error::new(Code::InvalidDate, format!("`{text}` is not a YYYY-MM-DD date"));
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Result<u32> {
        let part = b.get(r).ok_or_else(bad)?;
        if part.iter().all(u8::is_ascii_digit) {
            Ok(part.iter().fold(0, |n, c| n * 10 + u32::from(c - b'0')))
        } else {
            Err(bad())
        }
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let year = i32::try_from(digits(0..4)?).map_err(|_| bad())?;
    let month = u8::try_from(digits(5..7)?).map_err(|_| bad())?;
    let day = u8::try_from(digits(8..10)?).map_err(|_| bad())?;
    Ok((year, month, day))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        // 2025-01-15 is 15 Rajab 1446; the others are month starts from the published calendar
        // (1 Ramadan 1446 = 2025-03-01, 1 Muharram 1447 = 2025-06-26, 1 Muharram 1446 = 2024-07-07).
        for (g, h) in [
            ("2025-01-15", "1446-07-15"),
            ("2025-03-01", "1446-09-01"),
            ("2025-06-26", "1447-01-01"),
            ("2024-07-07", "1446-01-01"),
            ("2022-09-07", "1444-02-11"),
        ] {
            assert_eq!(umm_al_qura(g).as_deref(), Ok(h), "{g}");
        }
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "2025-1-15",
            "2025-02-30",
            "2025-13-01",
            "20250115xx",
            "2025-01-15T00",
            "２０２５-01-15",
        ] {
            assert_eq!(umm_al_qura(bad).map_err(|e| e.code()), Err("invalid_date"), "{bad}");
        }
    }
}
