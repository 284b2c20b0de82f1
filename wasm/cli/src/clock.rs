//! The current UTC time as `YYYY-MM-DDTHH:MM:SS`, what `zatca_rules::Context::now` takes (the
//! CLI has no date library: the civil date is computed from the Unix time).

use std::time::{SystemTime, UNIX_EPOCH};

/// The clock, in UTC, to the second. A clock before 1970 reads as 1970-01-01T00:00:00.
pub(crate) fn utc_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format_utc(secs)
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SS` (proleptic Gregorian, days-from-civil inverted).
fn format_utc(secs: u64) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Shift the epoch to 0000-03-01 so that leap days end the (400-year) era.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Whether `s` is written `YYYY-MM-DDTHH:MM:SS` with a plausible date and time.
pub(crate) fn is_utc_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let field = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(u32::MAX);
    b.len() == 19
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && [0..4, 5..7, 8..10, 11..13, 14..16, 17..19].into_iter().all(digits)
        && (1..=12).contains(&field(5..7))
        && (1..=31).contains(&field(8..10))
        && field(11..13) < 24
        && field(14..16) < 60
        && field(17..19) < 60
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_unix_time() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(format_utc(1_662_552_000 + 3_723), "2022-09-07T13:02:03");
        assert_eq!(format_utc(4_107_542_399), "2100-02-28T23:59:59");
    }

    #[test]
    fn checks_the_written_form() {
        assert!(is_utc_timestamp("2022-09-07T12:21:28"));
        for bad in [
            "2022-09-07",
            "2022-09-07 12:21:28",
            "2022-13-07T12:21:28",
            "2022-09-07T24:00:00",
            "٢٠٢٢-09-07T12:21:28",
        ] {
            assert!(!is_utc_timestamp(bad), "{bad}");
        }
    }
}
