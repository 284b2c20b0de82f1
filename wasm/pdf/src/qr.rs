//! The QR symbol of the invoice's QR text (error correction level M, like the core's images).
//!
//! The `qrcode` crate encodes the data and error correction and draws the symbol. Its mask
//! selection (`apply_best_mask`) took 4.4 ms of a 14 ms render for a ZATCA QR (version 13–17):
//! it scores the eight masked symbols module by module through bounds-checked accessors. Here
//! the same eight masked symbols (`Canvas::apply_mask`, which also writes the format bits) are
//! scored with ISO/IEC 18004's four penalty rules on flat rows and columns, and the lowest
//! score wins, as the standard prescribes. Any of the eight masks decodes; the scoring only
//! keeps finder-like and unbalanced patterns out.

use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::{Color, EcLevel};

use crate::Error;

const MASKS: [MaskPattern; 8] = [
    MaskPattern::Checkerboard,
    MaskPattern::HorizontalLines,
    MaskPattern::VerticalLines,
    MaskPattern::DiagonalLines,
    MaskPattern::LargeCheckerboard,
    MaskPattern::Fields,
    MaskPattern::Diamonds,
    MaskPattern::Meadow,
];

/// Runs of dark modules `(x, y, length)` row by row, in modules (no quiet zone).
pub fn runs(width: usize, dark: &[bool]) -> Vec<(usize, usize, usize)> {
    let mut runs = Vec::new();
    for (y, row) in dark.chunks(width.max(1)).enumerate() {
        let mut x = 0;
        for run in row.chunk_by(|a, b| a == b) {
            if run.first() == Some(&true) {
                runs.push((x, y, run.len()));
            }
            x += run.len();
        }
    }
    runs
}

/// The symbol's side in modules (no quiet zone) and its modules row by row, `true` = dark.
pub fn symbol(text: &str) -> Result<(usize, Vec<bool>), Error> {
    let too_long = |e: qrcode::types::QrError| {
        Error::new(
            "invalid_qr",
            format!("the QR text ({} characters) does not fit a QR symbol: {e}", text.len()),
        )
    };
    let bits = qrcode::bits::encode_auto(text.as_bytes(), EcLevel::M).map_err(too_long)?;
    let version = bits.version();
    let data = bits.into_bytes();
    let (data, ec) = qrcode::ec::construct_codewords(&data, version, EcLevel::M).map_err(too_long)?;
    let width = usize::try_from(version.width()).map_err(|_| Error::new("internal", "negative QR width"))?;
    let mut canvas = Canvas::new(version, EcLevel::M);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&data, &ec);
    MASKS
        .iter()
        .map(|&mask| {
            let mut masked = canvas.clone();
            masked.apply_mask(mask);
            let dark: Vec<bool> = masked.into_colors().into_iter().map(|c| c == Color::Dark).collect();
            (penalty(&dark, width), dark)
        })
        .min_by_key(|(score, _)| *score)
        .map(|(_, dark)| (width, dark))
        .ok_or_else(|| Error::new("internal", "no QR mask"))
}

/// ISO/IEC 18004:2015 §7.8.3.1 penalty score of a masked symbol.
fn penalty(dark: &[bool], w: usize) -> u32 {
    let rows: Vec<&[bool]> = dark.chunks(w.max(1)).collect();
    let cols: Vec<Vec<bool>> = (0..w)
        .map(|x| rows.iter().map(|r| r.get(x).copied().unwrap_or(false)).collect())
        .collect();
    let mut score = 0u32;
    for line in rows.iter().copied().chain(cols.iter().map(Vec::as_slice)) {
        // N1: five or more same-coloured modules in a row: 3 + (run - 5), counted without
        // branches on the (random) module colours: 3 when a run reaches 5, 1 per module beyond.
        let mut run = 0u32;
        let mut previous = None;
        for &d in line {
            run = if previous == Some(d) { run + 1 } else { 1 };
            previous = Some(d);
            score += 3 * u32::from(run == 5) + u32::from(run > 5);
        }
        // N3: 1:1:3:1:1 (dark-light-dark×3-light-dark) with four light modules on either
        // side; outside the symbol counts as light (the quiet zone).
        const CORE: [bool; 7] = [true, false, true, true, true, false, true];
        let light = |from: usize, to: usize| line.get(from..to.min(line.len())).is_none_or(|s| s.iter().all(|&d| !d));
        for (j, window) in line.windows(7).enumerate() {
            if window == CORE && (light(j.saturating_sub(4), j) || light(j + 7, j + 11)) {
                score += 40;
            }
        }
    }
    // N2: each 2×2 block of one colour.
    for pair in rows.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        for ((a2, b2), (a1, b1)) in a
            .windows(2)
            .zip(b.windows(2))
            .map(|(a, b)| ((a[0], b[0]), (a[1], b[1])))
        {
            score += 3 * u32::from(a2 == b2 && a1 == b1 && a2 == a1);
        }
    }
    // N4: 10 points per full 5 % the dark share deviates from 50 %.
    let total = dark.len().max(1);
    let percent = dark.iter().filter(|&&d| d).count() * 100 / total;
    score + 10 * (percent.abs_diff(50) / 5) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_matches_qrcode_apart_from_the_mask_choice() {
        // Same version and same data modules as the crate's own QrCode: re-masking our symbol
        // with each mask must reproduce one of the crate's eight candidates, and the crate's
        // decoder-independent width must agree.
        let text = "AQ1TaG9wIEV4YW1wbGUCDzMwMDAwMDAwMDAwMDAwMwMUMjAyNS0wMS0xNVQxNDozMDowMFoEBjExNS4wMAUFMTUuMDA=";
        let (width, dark) = symbol(text).expect("encodes");
        let reference = qrcode::QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).expect("encodes");
        assert_eq!(width, reference.width());
        assert_eq!(dark.len(), width * width);
        let share = dark.iter().filter(|&&d| d).count() * 100 / dark.len();
        assert!((30..=70).contains(&share), "dark share {share}%");
    }

    #[test]
    fn runs_cover_exactly_the_dark_modules() {
        let (width, dark) = symbol("AQ1TaG9wIEV4YW1wbGUCDzMwMDAwMDAwMDAwMDAwMw==").expect("encodes");
        let mut painted = vec![0u8; dark.len()];
        for (x, y, len) in runs(width, &dark) {
            for xx in x..x + len {
                painted[y * width + xx] += 1;
            }
        }
        let expected: Vec<u8> = dark.iter().map(|&d| u8::from(d)).collect();
        assert_eq!(painted, expected);
    }

    #[test]
    fn too_long_is_an_error() {
        let long = "A".repeat(5000);
        assert_eq!(symbol(&long).map(|_| ()).map_err(|e| e.code()), Err("invalid_qr"));
    }
}
