//! The QR symbol of the invoice's QR text (error correction level M, like the core's images).
//!
//! The `qrcode` crate encodes the data and error correction and draws the symbol. Its mask
//! selection (`apply_best_mask`) took 4.4 ms of a 14 ms render for a ZATCA QR (version 13–17):
//! it scores the eight masked symbols module by module through bounds-checked accessors. Here
//! the same eight masked symbols (`Canvas::apply_mask`, which also writes the format bits) are
//! scored with ISO/IEC 18004's four penalty rules, each row and column a bit set so that a rule
//! is a few shifts and popcounts per line, and the lowest score wins, as the standard
//! prescribes (a test checks the scoring against a module-by-module transcription). Any of the eight masks decodes; the scoring only
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

/// ISO/IEC 18004:2015 §7.8.3.1 penalty score of a masked symbol (`dark` row by row, side `w`).
///
/// Each row and each column is a bit set (bit i = module i, dark = 1), and every rule is a few
/// word-wide shifts, ANDs and popcounts per line instead of a step per module.
fn penalty(dark: &[bool], w: usize) -> u32 {
    if w == 0 || w > Line::BITS {
        return 0;
    }
    let mut rows = vec![Line::default(); w];
    let mut cols = vec![Line::default(); w];
    for (y, row) in dark.chunks_exact(w).enumerate() {
        for (x, &d) in row.iter().enumerate() {
            rows[y].put(x, d);
            cols[x].put(y, d);
        }
    }
    let within = Line::first(w);
    let mut score: u32 = rows.iter().chain(&cols).map(|&l| line_penalty(l, within)).sum();
    // N2: each 2×2 block of one colour: both rows have equal neighbours at x and x + 1, and
    // the rows agree at x.
    let pairs = Line::first(w - 1);
    for pair in rows.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let blocks = !(a ^ (a >> 1)) & !(b ^ (b >> 1)) & !(a ^ b) & pairs;
        score += 3 * blocks.count();
    }
    // N4: 10 points per full 5 % the dark share deviates from 50 %.
    let dark_modules: u32 = rows.iter().map(|l| l.count()).sum();
    let percent = dark_modules as usize * 100 / (w * w);
    score + 10 * (percent.abs_diff(50) / 5) as u32
}

/// The N1 and N3 penalties of one row or column; `within` has the line's `w` bits set.
fn line_penalty(l: Line, within: Line) -> u32 {
    // N1: five or more same-coloured modules in a row score 3 + (run - 5). `same` marks the
    // modules equal to the next one; `five` the modules starting five of one colour. A run of
    // n ≥ 5 is n - 4 bits of `five` in one stretch: their count plus 2 per stretch (a bit of
    // `five` whose predecessor is clear) is n - 2 = 3 + (n - 5).
    let same = !(l ^ (l >> 1)) & (within >> 1);
    let five = same & (same >> 1) & (same >> 2) & (same >> 3);
    let n1 = five.count() + 2 * (five & !(five << 1)).count();
    // N3: 1:1:3:1:1 (dark-light-dark×3-light-dark) with four light modules before or after it;
    // outside the symbol counts as light (the quiet zone). `(l >> k)` at bit i is module i + k,
    // `(l << k)` module i - k; bits shifted in from outside are 0, light.
    let light = !l;
    let core = l & (light >> 1) & (l >> 2) & (l >> 3) & (l >> 4) & (light >> 5) & (l >> 6);
    let light_before = !((l << 1) | (l << 2) | (l << 3) | (l << 4));
    let light_after = !((l >> 7) | (l >> 8) | (l >> 9) | (l >> 10));
    let n3 = 40 * (core & (light_before | light_after)).count();
    n1 + n3
}

/// A row or column of up to 192 modules (version 40 is 177 wide) as a bit set, bit i = module i.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Line([u64; 3]);

impl Line {
    const BITS: usize = 192;

    /// Bits 0..n set.
    fn first(n: usize) -> Line {
        let mut words = [0u64; 3];
        for (i, word) in words.iter_mut().enumerate() {
            let bits = n.saturating_sub(i * 64).min(64);
            *word = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
        }
        Line(words)
    }

    /// Sets bit i when `dark` (without a branch on the random module colours).
    fn put(&mut self, i: usize, dark: bool) {
        if let Some(word) = self.0.get_mut(i / 64) {
            *word |= u64::from(dark) << (i % 64);
        }
    }

    fn count(self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
}

impl std::ops::BitAnd for Line {
    type Output = Line;
    fn bitand(self, o: Line) -> Line {
        Line([self.0[0] & o.0[0], self.0[1] & o.0[1], self.0[2] & o.0[2]])
    }
}

impl std::ops::BitOr for Line {
    type Output = Line;
    fn bitor(self, o: Line) -> Line {
        Line([self.0[0] | o.0[0], self.0[1] | o.0[1], self.0[2] | o.0[2]])
    }
}

impl std::ops::BitXor for Line {
    type Output = Line;
    fn bitxor(self, o: Line) -> Line {
        Line([self.0[0] ^ o.0[0], self.0[1] ^ o.0[1], self.0[2] ^ o.0[2]])
    }
}

impl std::ops::Not for Line {
    type Output = Line;
    fn not(self) -> Line {
        Line([!self.0[0], !self.0[1], !self.0[2]])
    }
}

/// `l >> k` (k < 64): bit i becomes module i + k's, zeros shifted in at the top.
impl std::ops::Shr<u32> for Line {
    type Output = Line;
    fn shr(self, k: u32) -> Line {
        let [a, b, c] = self.0;
        if k == 0 {
            return self;
        }
        Line([(a >> k) | (b << (64 - k)), (b >> k) | (c << (64 - k)), c >> k])
    }
}

/// `l << k` (k < 64): bit i becomes module i - k's, zeros shifted in at the bottom.
impl std::ops::Shl<u32> for Line {
    type Output = Line;
    fn shl(self, k: u32) -> Line {
        let [a, b, c] = self.0;
        if k == 0 {
            return self;
        }
        Line([a << k, (b << k) | (a >> (64 - k)), (c << k) | (b >> (64 - k))])
    }
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

    /// The scoring as first written: straight from the standard's wording, column by column.
    fn penalty_reference(dark: &[bool], w: usize) -> u32 {
        let rows: Vec<&[bool]> = dark.chunks(w).collect();
        let cols: Vec<Vec<bool>> = (0..w).map(|x| rows.iter().map(|r| r[x]).collect()).collect();
        let mut score = 0u32;
        for line in rows.iter().copied().chain(cols.iter().map(Vec::as_slice)) {
            let mut run = 0u32;
            let mut previous = None;
            for &d in line {
                run = if previous == Some(d) { run + 1 } else { 1 };
                previous = Some(d);
                if run == 5 {
                    score += 3;
                } else if run > 5 {
                    score += 1;
                }
            }
            const CORE: [bool; 7] = [true, false, true, true, true, false, true];
            let light = |from: usize, to: usize| line[from..to.min(line.len())].iter().all(|&d| !d);
            for (j, window) in line.windows(7).enumerate() {
                if window == CORE && (light(j.saturating_sub(4), j) || light(j + 7, j + 11)) {
                    score += 40;
                }
            }
        }
        for pair in rows.windows(2) {
            for x in 0..w - 1 {
                let block = [pair[0][x], pair[0][x + 1], pair[1][x], pair[1][x + 1]];
                if block.iter().all(|&d| d) || block.iter().all(|&d| !d) {
                    score += 3;
                }
            }
        }
        let percent = dark.iter().filter(|&&d| d).count() * 100 / dark.len();
        score + 10 * (percent.abs_diff(50) / 5) as u32
    }

    #[test]
    fn penalty_matches_the_reference_scoring() {
        // Every mask of real symbols (versions 3, 9 and 30), plus pseudo-random and patterned
        // grids (finder-like cores at the edges, long runs, solid blocks) on both sides of the
        // 64-bit word boundaries, up to version 40's 177 modules.
        let mut grids: Vec<(usize, Vec<bool>)> = Vec::new();
        for text in [
            "AQ1TaG9wIEV4YW1wbGUCDzMwMDAwMDAwMDAwMDAwMw==",
            &"QUJD".repeat(60),
            &"QUJD".repeat(400),
        ] {
            let bits = qrcode::bits::encode_auto(text.as_bytes(), EcLevel::M).expect("encodes");
            let version = bits.version();
            let (data, ec) = qrcode::ec::construct_codewords(&bits.into_bytes(), version, EcLevel::M).expect("ec");
            let mut canvas = Canvas::new(version, EcLevel::M);
            canvas.draw_all_functional_patterns();
            canvas.draw_data(&data, &ec);
            let width = usize::try_from(version.width()).expect("width");
            for &mask in &MASKS {
                let mut masked = canvas.clone();
                masked.apply_mask(mask);
                grids.push((
                    width,
                    masked.into_colors().into_iter().map(|c| c == Color::Dark).collect(),
                ));
            }
        }
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for w in [1, 2, 7, 11, 12, 21, 25, 63, 64, 65, 100, 127, 128, 129, 177] {
            for density in [1u64, 2, 4] {
                let grid = (0..w * w)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        seed.is_multiple_of(density)
                    })
                    .collect();
                grids.push((w, grid));
            }
            let core = [true, false, true, true, true, false, true];
            grids.push((w, (0..w * w).map(|i| core[(i % w) % 7] && i % w < 7).collect()));
            grids.push((
                w,
                (0..w * w)
                    .map(|i| core[(w - 1 - i % w) % 7] && i % w >= w.saturating_sub(7))
                    .collect(),
            ));
        }
        for (w, grid) in &grids {
            assert_eq!(penalty(grid, *w), penalty_reference(grid, *w), "width {w}");
        }
    }

    #[test]
    fn too_long_is_an_error() {
        let long = "A".repeat(5000);
        assert_eq!(symbol(&long).map(|_| ()).map_err(|e| e.code()), Err("invalid_qr"));
    }
}
