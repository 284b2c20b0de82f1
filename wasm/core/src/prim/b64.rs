//! Standard base64 (RFC 4648 §4: `A–Z a–z 0–9 + /`, `=` padding), the only form ZATCA uses.
//!
//! A drop-in for the `base64` crate's `general_purpose::STANDARD` engine (and for the
//! padding-indifferent configuration the key and certificate readers use): the same output,
//! the same accepted inputs and the same [`DecodeError`]s, messages included. The crate's
//! general-purpose engine is built for throughput (unrolled, table driven) and was ≈ 7 KiB of
//! the signing WebAssembly module; the documents here carry a few hundred bytes of base64.

use std::fmt;

/// Why base64 text does not decode; the variants and messages of `base64::DecodeError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// A byte outside the alphabet (or a misplaced `=`) at an offset.
    InvalidByte(usize, u8),
    /// The length (not counting padding) leaves a single symbol in the last quad.
    InvalidLength(usize),
    /// The last symbol has bits set that no output byte holds.
    InvalidLastSymbol(usize, u8),
    /// The padding is missing or wrong.
    InvalidPadding,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::InvalidByte(index, byte) => write!(f, "Invalid symbol {byte}, offset {index}."),
            Self::InvalidLength(len) => write!(f, "Invalid input length: {len}"),
            Self::InvalidLastSymbol(index, byte) => write!(f, "Invalid last symbol {byte}, offset {index}."),
            Self::InvalidPadding => f.write_str("Invalid padding"),
        }
    }
}

impl std::error::Error for DecodeError {}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 text of `bytes`, with padding.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    let bytes = bytes.as_ref();
    // Bytes first (one push per symbol, no char encoding: pushing chars cost about 1% of a
    // re-sign), then one UTF-8 check.
    let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
    let symbol = |n: u32, shift: u32| ALPHABET[((n >> shift) & 0x3f) as usize];
    let mut chunks = bytes.chunks_exact(3);
    for c in &mut chunks {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        out.extend_from_slice(&[symbol(n, 18), symbol(n, 12), symbol(n, 6), symbol(n, 0)]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[symbol(n, 18), symbol(n, 12), b'=', b'=']);
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            out.extend_from_slice(&[symbol(n, 18), symbol(n, 12), symbol(n, 6), b'=']);
        }
        _ => {}
    }
    // The alphabet and `=` are ASCII, so the check passes; were it ever to fail, the lossy
    // conversion keeps every ASCII byte as it is (never an empty string).
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Decodes base64 text with canonical padding (`STANDARD`).
pub fn decode(input: impl AsRef<[u8]>) -> Result<Vec<u8>, DecodeError> {
    decode_with(input.as_ref(), true)
}

/// Decodes base64 text whether padded or not (the other checks are those of [`decode`]).
pub(crate) fn decode_padding_optional(input: &[u8]) -> Result<Vec<u8>, DecodeError> {
    decode_with(input, false)
}

/// Symbol values, `INVALID` outside the alphabet: one load per symbol.
const INVALID: u8 = 0xff;
const VALUES: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

fn value(symbol: u8) -> Option<u32> {
    match VALUES[usize::from(symbol)] {
        INVALID => None,
        v => Some(u32::from(v)),
    }
}

/// The `base64` crate's decoding order, so that the first error found is the same: every
/// quad but the last, then the last (up to four symbols with its padding).
fn decode_with(input: &[u8], canonical_padding: bool) -> Result<Vec<u8>, DecodeError> {
    let len = input.len();
    let rem = len % 4;
    if rem == 1 {
        if let Some(&last) = input.last() {
            if last != b'=' && value(last).is_none() {
                return Err(DecodeError::InvalidByte(len - 1, last));
            }
        }
    }
    let body = len.saturating_sub(rem).saturating_sub(if rem == 0 { 4 } else { 0 });
    let (quads, suffix) = input.split_at(body);
    let mut out = Vec::with_capacity((len / 4 + usize::from(rem > 0)) * 3);
    for (q, quad) in quads.chunks_exact(4).enumerate() {
        let mut n = 0u32;
        for (k, &symbol) in quad.iter().enumerate() {
            n = (n << 6) | value(symbol).ok_or(DecodeError::InvalidByte(q * 4 + k, symbol))?;
        }
        let [_, a, b, c] = n.to_be_bytes();
        out.extend_from_slice(&[a, b, c]);
    }

    let mut n = 0u32;
    let mut symbols = 0;
    let mut padding = 0;
    let mut first_padding = 0;
    let mut last_symbol = 0;
    for (i, &symbol) in suffix.iter().enumerate() {
        if symbol == b'=' {
            if i < 2 {
                return Err(DecodeError::InvalidByte(body + i, symbol));
            }
            if padding == 0 {
                first_padding = i;
            }
            padding += 1;
            continue;
        }
        if padding > 0 {
            return Err(DecodeError::InvalidByte(body + first_padding, b'='));
        }
        last_symbol = symbol;
        let v = value(symbol).ok_or(DecodeError::InvalidByte(body + i, symbol))?;
        n |= v << (26 - 6 * symbols);
        symbols += 1;
    }
    if len > 0 && symbols < 2 {
        return Err(DecodeError::InvalidLength(body + symbols));
    }
    if canonical_padding && (padding + symbols) % 4 != 0 {
        return Err(DecodeError::InvalidPadding);
    }
    let bytes = symbols * 6 / 8;
    if n & (u32::MAX >> (bytes * 8)) != 0 {
        return Err(DecodeError::InvalidLastSymbol(body + symbols - 1, last_symbol));
    }
    // `bytes` is 1 to 3 (two to four symbols).
    out.extend(n.to_be_bytes().into_iter().take(bytes));
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use base64::Engine as _;
    use base64::alphabet;
    use base64::engine::general_purpose::STANDARD;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

    use super::*;

    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );

    fn crate_error(e: base64::DecodeError) -> DecodeError {
        match e {
            base64::DecodeError::InvalidByte(i, b) => DecodeError::InvalidByte(i, b),
            base64::DecodeError::InvalidLength(l) => DecodeError::InvalidLength(l),
            base64::DecodeError::InvalidLastSymbol(i, b) => DecodeError::InvalidLastSymbol(i, b),
            base64::DecodeError::InvalidPadding => DecodeError::InvalidPadding,
        }
    }

    fn check(input: &[u8]) {
        let reference = STANDARD.decode(input).map_err(crate_error);
        assert_eq!(decode(input), reference, "{:?}", String::from_utf8_lossy(input));
        if let Err(e) = STANDARD.decode(input) {
            assert_eq!(decode(input).unwrap_err().to_string(), e.to_string());
        }
        let lenient = LENIENT.decode(input).map_err(crate_error);
        assert_eq!(
            decode_padding_optional(input),
            lenient,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }

    #[test]
    fn encodes_like_the_base64_crate() {
        let bytes: Vec<u8> = (0..=255u8).rev().chain(0..=255).collect();
        for len in 0..bytes.len() {
            assert_eq!(encode(&bytes[..len]), STANDARD.encode(&bytes[..len]));
        }
    }

    #[test]
    fn decodes_like_the_base64_crate() {
        // Every string of up to 5 symbols over a small alphabet that covers every case (valid
        // symbols with and without trailing bits, padding, an invalid byte).
        let symbols = b"AQgh/=*";
        let mut inputs = vec![Vec::new()];
        for _ in 0..6 {
            let next: Vec<Vec<u8>> = inputs
                .iter()
                .flat_map(|prefix: &Vec<u8>| {
                    symbols.iter().map(move |&s| {
                        let mut v = prefix.clone();
                        v.push(s);
                        v
                    })
                })
                .collect();
            for input in &next {
                check(input);
                // The same after one or two full quads.
                check(&[b"QUJD".as_slice(), input].concat());
                check(&[b"QUJDREVG".as_slice(), input].concat());
            }
            inputs = next;
        }
        // Valid encodings of every length, and each with one byte replaced.
        let bytes: Vec<u8> = (0..=255u8).collect();
        for len in 0..40 {
            let text = STANDARD.encode(&bytes[len..len * 2]).into_bytes();
            check(&text);
            check(text.strip_suffix(b"=").unwrap_or(&text));
            for i in 0..text.len() {
                for replacement in [b'=', b'A', b'/', b'\n', 0xff] {
                    let mut bad = text.clone();
                    bad[i] = replacement;
                    check(&bad);
                }
            }
        }
    }
}
