//! ZATCA QR code (KSA-14): the TLV payload, its base64 text, decoding, and SVG/PNG images.
//!
//! The payload is a run of TLVs, `tag (1 byte) ‖ length (1 byte) ‖ value`, base64-encoded
//! (standard alphabet, padded). That base64 text goes into
//! `cac:AdditionalDocumentReference[cbc:ID='QR']/…/cbc:EmbeddedDocumentBinaryObject`, and the
//! same text — not the raw TLV bytes — is what the printed QR symbol encodes.
//!
//! | tag | field | value as the SDK emits it |
//! |---|---|---|
//! | 1 | seller name | UTF-8 text |
//! | 2 | seller VAT number | UTF-8 text |
//! | 3 | `IssueDate` + `T` + `IssueTime` | UTF-8 text, e.g. `2022-08-17T17:41:08` |
//! | 4 | total with VAT | UTF-8 text, exactly as written in the XML |
//! | 5 | VAT total | UTF-8 text, exactly as written in the XML |
//! | 6 | invoice hash | the 44-character base64 **text** of the hash |
//! | 7 | signature | the base64 **text** of `ds:SignatureValue` |
//! | 8 | public key | raw DER `SubjectPublicKeyInfo` bytes |
//! | 9 | certificate signature | raw DER ECDSA signature of the certificate (simplified documents only) |
//!
//! Phase 1 QR codes carry tags 1–5 only.

use std::fmt::Write as _;

use qrcode::{EcLevel, QrCode};
use serde::{Deserialize, Serialize};

use crate::error::{Code, Error, Issue, Result};

/// Largest value one TLV can carry: the length is a single unsigned byte.
pub const MAX_TLV_VALUE_LEN: usize = 255;

/// ZATCA's limit on the base64 text of the QR field (BR-CL-KSA-14, an error). [`encode`] enforces it.
pub const MAX_QR_BASE64_LEN: usize = 1000;

/// The length ZATCA's security guideline gives for a *printed* QR code (base64 characters).
/// Not enforced, because the validator checks only [`MAX_QR_BASE64_LEN`]; exposed so callers
/// that print can warn. (SDK samples are 456–632 characters; a long Arabic seller name can pass
/// 700 while staying under 1000.)
pub const PRINT_QR_BASE64_LEN: usize = 700;

/// Largest pixel size of one module accepted by `to_png`. At version 40 (177 modules + quiet
/// zone) this is a ~5900 px square, which bounds the memory an untrusted caller can make us use.
pub const MAX_PNG_MODULE_PX: u32 = 32;

/// Width of the quiet zone around the symbol, in modules (the ISO/IEC 18004 minimum).
const QUIET_ZONE: usize = 4;

/// Pixel size of one module in the SVG's `width`/`height`; the `viewBox` is in modules, so the
/// image scales cleanly and this only sets the default display size.
const SVG_MODULE_PX: usize = 4;

/// The fields of a ZATCA QR code, tags 1–9.
///
/// Text fields hold the exact text written in the invoice XML (amounts are not reformatted:
/// `0.6` and `00.0` both occur in SDK samples). Byte fields serialize to JSON as base64 strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrFields {
    /// Tag 1: seller name (`PartyLegalEntity/RegistrationName`).
    pub seller_name: String,
    /// Tag 2: seller VAT registration number (`PartyTaxScheme/CompanyID`).
    pub vat_number: String,
    /// Tag 3: `IssueDate` + `"T"` + `IssueTime`, e.g. `2022-08-17T17:41:08`.
    pub timestamp: String,
    /// Tag 4: invoice total with VAT (`LegalMonetaryTotal/TaxInclusiveAmount` text).
    pub total_with_vat: String,
    /// Tag 5: VAT total (text of the first `cac:TaxTotal/cbc:TaxAmount`).
    pub vat_total: String,
    /// Tag 6: the invoice hash as its 44-character base64 text (not the 32 raw bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_hash: Option<String>,
    /// Tag 7: the base64 text of `ds:SignatureValue` (not the raw DER signature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Tag 8: raw DER `SubjectPublicKeyInfo` of the signing certificate (88 bytes for secp256k1).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_base64")]
    pub public_key: Option<Vec<u8>>,
    /// Tag 9: raw DER ECDSA signature of the signing certificate (the CA's signature);
    /// simplified documents only.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_base64")]
    pub certificate_signature: Option<Vec<u8>>,
}

/// One decoded TLV: a tag and its raw value bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlvField {
    /// The tag byte (1–9 for ZATCA; other values are kept so they can be reported).
    pub tag: u8,
    /// The value bytes (at most 255).
    pub value: Vec<u8>,
}

impl TlvField {
    /// The value as UTF-8 text, or `None` when it is not valid UTF-8 (tags 8 and 9 are DER bytes).
    pub fn value_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.value).ok()
    }

    /// The field name of this tag (`seller_name`, …), or `None` for a tag outside 1–9.
    pub fn name(&self) -> Option<&'static str> {
        tag_name(self.tag)
    }
}

/// The [`QrFields`] field name of a tag (`1` → `seller_name`), or `None` outside 1–9.
pub const fn tag_name(tag: u8) -> Option<&'static str> {
    match tag {
        1 => Some("seller_name"),
        2 => Some("vat_number"),
        3 => Some("timestamp"),
        4 => Some("total_with_vat"),
        5 => Some("vat_total"),
        6 => Some("invoice_hash"),
        7 => Some("signature"),
        8 => Some("public_key"),
        9 => Some("certificate_signature"),
        _ => None,
    }
}

/// Encodes the fields as TLV bytes, tags 1–9 in ascending order, leaving out `None` fields.
///
/// Every value must be at most 255 bytes *in UTF-8* (Arabic letters take two bytes each);
/// each one that is longer is reported as `qr_value_too_long` at `qr.tagN`.
pub fn encode_tlv(fields: &QrFields) -> Result<Vec<u8>> {
    let values: [(u8, Option<&[u8]>); 9] = [
        (1, Some(fields.seller_name.as_bytes())),
        (2, Some(fields.vat_number.as_bytes())),
        (3, Some(fields.timestamp.as_bytes())),
        (4, Some(fields.total_with_vat.as_bytes())),
        (5, Some(fields.vat_total.as_bytes())),
        (6, fields.invoice_hash.as_deref().map(str::as_bytes)),
        (7, fields.signature.as_deref().map(str::as_bytes)),
        (8, fields.public_key.as_deref()),
        (9, fields.certificate_signature.as_deref()),
    ];
    let mut out = Vec::with_capacity(values.iter().map(|(_, v)| v.map_or(0, |v| v.len() + 2)).sum());
    let mut issues = Vec::new();
    for (tag, value) in values {
        let Some(value) = value else { continue };
        match u8::try_from(value.len()) {
            Ok(len) => {
                out.push(tag);
                out.push(len);
                out.extend_from_slice(value);
            }
            Err(_) => issues.push(
                Issue::error(
                    Code::QrValueTooLong,
                    format!(
                        "qr tag {tag} ({}) is {} bytes in UTF-8; a TLV value holds at most {MAX_TLV_VALUE_LEN}",
                        tag_name(tag).unwrap_or("unknown"),
                        value.len()
                    ),
                )
                .at(format!("qr.tag{tag}")),
            ),
        }
    }
    if issues.is_empty() {
        Ok(out)
    } else {
        Err(Error::from_issues(issues))
    }
}

/// Encodes the fields as the base64 text that goes into the invoice XML and the QR symbol.
///
/// Fails with `qr_too_long` (rule BR-CL-KSA-14) when the text would exceed
/// [`MAX_QR_BASE64_LEN`] characters. The stricter [`PRINT_QR_BASE64_LEN`] is not enforced.
pub fn encode(fields: &QrFields) -> Result<String> {
    let text = crate::prim::b64::encode(encode_tlv(fields)?);
    if text.len() > MAX_QR_BASE64_LEN {
        return Err(Issue::error(
            Code::QrTooLong,
            format!(
                "qr is {} base64 characters; ZATCA allows at most {MAX_QR_BASE64_LEN}",
                text.len()
            ),
        )
        .at("qr")
        .rule("BR-CL-KSA-14")
        .into());
    }
    Ok(text)
}

/// Decodes QR base64 text into its TLVs, in the order they appear.
///
/// Surrounding ASCII whitespace is ignored (text lifted from a file often ends in a newline);
/// anything else that is not canonical padded standard base64 is `invalid_qr`. Any tag value is
/// accepted here, so that [`describe`] can show it; [`decode_fields`] checks the tag set.
pub fn decode(b64: &str) -> Result<Vec<TlvField>> {
    let bytes = crate::prim::b64::decode(b64.trim_ascii())
        .map_err(|e| Error::new(Code::InvalidQr, format!("qr is not valid base64: {e}")).at("qr"))?;
    decode_tlv(&bytes)
}

/// Splits raw TLV bytes (already base64-decoded) into fields.
///
/// Empty input and a TLV cut short (a lone tag byte, or fewer value bytes than its length says)
/// are `invalid_qr`.
pub fn decode_tlv(mut bytes: &[u8]) -> Result<Vec<TlvField>> {
    if bytes.is_empty() {
        return Err(Error::new(Code::InvalidQr, "qr is empty").at("qr"));
    }
    let total = bytes.len();
    let mut fields = Vec::new();
    // Slice patterns instead of indexing: the input is untrusted and must never panic.
    while let [tag, rest @ ..] = bytes {
        let offset = total - bytes.len();
        let Some((&len, rest)) = rest.split_first() else {
            return Err(truncated(*tag, offset, "has no length byte"));
        };
        let Some((value, rest)) = rest.split_at_checked(usize::from(len)) else {
            return Err(truncated(
                *tag,
                offset,
                &format!("declares {len} value bytes but only {} remain", rest.len()),
            ));
        };
        fields.push(TlvField {
            tag: *tag,
            value: value.to_vec(),
        });
        bytes = rest;
    }
    Ok(fields)
}

fn truncated(tag: u8, offset: usize, what: &str) -> Error {
    Error::new(
        Code::InvalidQr,
        format!("qr is truncated: tag {tag} at byte {offset} {what}"),
    )
    .at("qr")
}

/// Decodes QR base64 text into [`QrFields`]: see [`decode`] and [`fields_from_tlv`].
pub fn decode_fields(b64: &str) -> Result<QrFields> {
    fields_from_tlv(&decode(b64)?)
}

/// Maps decoded TLVs onto [`QrFields`], reporting every problem at once.
///
/// Tags 1–5 are required (`missing_qr_tag`); a tag outside 1–9 or a repeated tag is
/// `invalid_qr_tag`; tags 1–7 must be UTF-8 text (`invalid_qr`). Tags may come in any order;
/// [`encode`] always writes them in ascending order, which is what the SDK emits.
pub fn fields_from_tlv(tlvs: &[TlvField]) -> Result<QrFields> {
    let mut slots: [Option<&[u8]>; 9] = [None; 9];
    let mut issues = Vec::new();
    for tlv in tlvs {
        let at = format!("qr.tag{}", tlv.tag);
        let Some(slot) = usize::from(tlv.tag).checked_sub(1).and_then(|i| slots.get_mut(i)) else {
            issues.push(Issue::error(Code::InvalidQrTag, format!("unknown qr tag {}", tlv.tag)).at(at));
            continue;
        };
        if slot.is_some() {
            let name = tlv.name().unwrap_or("unknown");
            issues.push(Issue::error(Code::InvalidQrTag, format!("qr tag {} ({name}) appears twice", tlv.tag)).at(at));
            continue;
        }
        *slot = Some(&tlv.value);
    }
    let [t1, t2, t3, t4, t5, t6, t7, t8, t9] = slots;
    let mut text = |tag: u8, value: Option<&[u8]>, required: bool| -> Option<String> {
        let name = tag_name(tag).unwrap_or("unknown");
        let Some(value) = value else {
            if required {
                issues.push(
                    Issue::error(Code::MissingQrTag, format!("qr has no tag {tag} ({name})"))
                        .at(format!("qr.tag{tag}")),
                );
            }
            return None;
        };
        match std::str::from_utf8(value) {
            Ok(s) => Some(s.to_owned()),
            Err(_) => {
                issues.push(
                    Issue::error(Code::InvalidQr, format!("qr tag {tag} ({name}) is not UTF-8 text"))
                        .at(format!("qr.tag{tag}")),
                );
                None
            }
        }
    };
    let seller_name = text(1, t1, true);
    let vat_number = text(2, t2, true);
    let timestamp = text(3, t3, true);
    let total_with_vat = text(4, t4, true);
    let vat_total = text(5, t5, true);
    let invoice_hash = text(6, t6, false);
    let signature = text(7, t7, false);
    match (seller_name, vat_number, timestamp, total_with_vat, vat_total) {
        (Some(seller_name), Some(vat_number), Some(timestamp), Some(total_with_vat), Some(vat_total))
            if issues.is_empty() =>
        {
            Ok(QrFields {
                seller_name,
                vat_number,
                timestamp,
                total_with_vat,
                vat_total,
                invoice_hash,
                signature,
                public_key: t8.map(<[u8]>::to_vec),
                certificate_signature: t9.map(<[u8]>::to_vec),
            })
        }
        // Any `None` among the required fields pushed an issue, so the list is never empty here.
        _ => Err(Error::from_issues(issues)),
    }
}

/// A human-readable dump, one line per TLV: `1 seller_name: …`.
///
/// Tags 8 and 9 (DER bytes), unknown tags and text tags that are not UTF-8 are shown as lowercase
/// hex. Control characters and Unicode bidi controls in text are shown as `\u{…}` escapes, so a
/// hostile QR can neither drive the terminal nor visually reorder the line.
pub fn describe(fields: &[TlvField]) -> String {
    let mut out = String::new();
    for field in fields {
        let name = field.name().unwrap_or("unknown");
        // `write!` into a String cannot fail.
        let _ = write!(out, "{} {name}: ", field.tag);
        match field.value_text() {
            Some(text) if (1..=7).contains(&field.tag) => {
                for c in text.chars() {
                    if c.is_control() || is_bidi_control(c) {
                        let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                    } else {
                        out.push(c);
                    }
                }
            }
            text => {
                if text.is_none() && (1..=7).contains(&field.tag) {
                    out.push_str("(not UTF-8) ");
                }
                out.push_str(&hex(&field.value));
            }
        }
        out.push('\n');
    }
    out
}

/// Invisible characters that reorder how the surrounding text is displayed (Unicode UAX #9).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Builds the QR symbol (error correction level M) for the base64 text and returns its side
/// length including the quiet zone, and its dark modules as horizontal runs.
///
/// The text is checked to be base64 so that an XML fragment or a file path passed by mistake
/// does not end up printed on an invoice; its TLV content is not checked.
fn symbol(b64: &str) -> Result<(usize, Vec<Run>)> {
    let text = b64.trim_ascii();
    if text.is_empty() {
        return Err(Error::new(Code::InvalidQr, "qr is empty").at("qr"));
    }
    crate::prim::b64::decode(text)
        .map_err(|e| Error::new(Code::InvalidQr, format!("qr is not valid base64: {e}")).at("qr"))?;
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| {
        Error::new(
            Code::QrTooLong,
            format!("qr text of {} characters does not fit a QR symbol: {e}", text.len()),
        )
        .at("qr")
    })?;
    let width = code.width();
    let mut runs = Vec::new();
    // Rows come from `chunks` rather than `y * width + x` indexing, so nothing here can panic.
    for (y, row) in code.to_colors().chunks(width.max(1)).enumerate() {
        let mut start = None;
        for (x, color) in row.iter().chain([&qrcode::Color::Light]).enumerate() {
            match (start, *color == qrcode::Color::Dark) {
                (None, true) => start = Some(x),
                (Some(x0), false) => {
                    runs.push(Run {
                        x: x0 + QUIET_ZONE,
                        y: y + QUIET_ZONE,
                        len: x - x0,
                    });
                    start = None;
                }
                _ => {}
            }
        }
    }
    Ok((width + 2 * QUIET_ZONE, runs))
}

/// A horizontal run of dark modules, in module coordinates that include the quiet zone.
struct Run {
    x: usize,
    y: usize,
    len: usize,
}

/// Renders the QR symbol of the base64 text as a standalone SVG document.
///
/// Error correction level M, a 4-module white quiet zone, black modules drawn as one `<path>`
/// over a white `<rect>`. The `viewBox` is in modules and `width`/`height` give 4 px per module,
/// so the image scales without blurring (`shape-rendering="crispEdges"`).
/// Fails with `invalid_qr` if the text is not base64 and `qr_too_long` if it exceeds QR capacity.
pub fn to_svg(b64: &str) -> Result<String> {
    let (side, runs) = symbol(b64)?;
    let px = side * SVG_MODULE_PX;
    // One subpath per run of dark modules (not per module, as qrcode's own SVG renderer does):
    // that keeps a typical 630-character ZATCA QR at ~30 KB instead of ~90 KB.
    let mut svg = format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            "\n",
            r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{px}" height="{px}" "#,
            r#"viewBox="0 0 {side} {side}" shape-rendering="crispEdges">"#,
            r##"<rect width="{side}" height="{side}" fill="#fff"/><path fill="#000" d=""##,
        ),
        // `concat!` formats cannot capture variables implicitly.
        px = px,
        side = side
    );
    svg.reserve(runs.len() * 14 + 16);
    for Run { x, y, len } in runs {
        // `write!` into a String cannot fail.
        let _ = write!(svg, "M{x} {y}h{len}v1H{x}z");
    }
    svg.push_str("\"/></svg>\n");
    Ok(svg)
}

/// Renders the QR symbol of the base64 text as a PNG: black on white, a 4-module quiet zone,
/// `module_px` pixels per module, 1-bit greyscale.
///
/// `module_px` must be 1..=[`MAX_PNG_MODULE_PX`] (`invalid_qr_module_size` otherwise); the text
/// errors are those of [`to_svg`].
#[cfg(feature = "png")]
pub fn to_png(b64: &str, module_px: u32) -> Result<Vec<u8>> {
    if !(1..=MAX_PNG_MODULE_PX).contains(&module_px) {
        return Err(Error::new(
            Code::InvalidQrModuleSize,
            format!("qr module size must be 1 to {MAX_PNG_MODULE_PX} pixels, got {module_px}"),
        ));
    }
    let (side, runs) = symbol(b64)?;
    let px = module_px as usize;
    let side_px = side * px;
    let row_bytes = side_px.div_ceil(8);

    // 1-bit greyscale, MSB first, where a 1 bit is white: each module row starts all white,
    // its dark runs are cleared, and it is repeated `module_px` times.
    let mut image = Vec::with_capacity(row_bytes * side_px);
    let mut row = vec![0u8; row_bytes];
    let mut runs = runs.iter().peekable();
    for y in 0..side {
        row.fill(0xff);
        while let Some(run) = runs.next_if(|run| run.y == y) {
            for x in run.x * px..(run.x + run.len) * px {
                if let Some(byte) = row.get_mut(x / 8) {
                    *byte &= !(0x80 >> (x % 8));
                }
            }
        }
        for _ in 0..px {
            image.extend_from_slice(&row);
        }
    }

    // Bounded above by (177 + 8) * 32, so the conversion cannot fail.
    let side_px = u32::try_from(side_px).map_err(|_| Error::new(Code::Internal, "qr image too large"))?;
    // Writing into a Vec can only fail on a bug here; the error's text is not kept because
    // formatting png's error types costs ~5 KB of code in the wasm build.
    let png_error = |_: png::EncodingError| Error::new(Code::Internal, "png encoding failed");
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side_px, side_px);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header().map_err(png_error)?;
    writer.write_image_data(&image).map_err(png_error)?;
    writer.finish().map_err(png_error)?;
    Ok(out)
}

/// Serde adapter: `Option<Vec<u8>>` as an optional standard base64 string.
mod opt_base64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(bytes) => s.serialize_some(&crate::prim::b64::encode(bytes)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| crate::prim::b64::decode(text.as_bytes()).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    const VECTORS: &str = include_str!("../../../tests/fixtures/samples/test-vectors.json");

    fn vectors() -> Vec<Value> {
        let v: Value = serde_json::from_str(VECTORS).unwrap();
        v.as_array().unwrap().clone()
    }

    fn sample_fields() -> QrFields {
        QrFields {
            seller_name: "شركة توريد التكنولوجيا بأقصى سرعة المحدودة | Maximum Speed Tech Supply LTD".into(),
            vat_number: "399999999900003".into(),
            timestamp: "2022-09-05T16:50:40".into(),
            total_with_vat: "4.60".into(),
            vat_total: "0.6".into(),
            invoice_hash: None,
            signature: None,
            public_key: None,
            certificate_signature: None,
        }
    }

    fn from_hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn sdk_vectors_decode_and_reencode_byte_for_byte() {
        let vectors = vectors();
        assert_eq!(vectors.len(), 20);
        for v in &vectors {
            let file = v["file"].as_str().unwrap();
            let b64 = v["qr_b64"].as_str().unwrap();
            let expected = v["qr_tlv"].as_array().unwrap();
            let tlvs = decode(b64).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(tlvs.len(), expected.len(), "{file}");
            for (got, want) in tlvs.iter().zip(expected) {
                let tag = want["tag"].as_u64().unwrap();
                assert_eq!(u64::from(got.tag), tag, "{file}");
                assert_eq!(
                    got.value.len() as u64,
                    want["len"].as_u64().unwrap(),
                    "{file} tag {tag}"
                );
                let value = want["value"].as_str().unwrap();
                if tag >= 8 {
                    assert_eq!(got.value, from_hex(value), "{file} tag {tag}");
                    assert_eq!(hex(&got.value), value, "{file} tag {tag}");
                } else {
                    assert_eq!(got.value_text(), Some(value), "{file} tag {tag}");
                }
            }
            let fields = decode_fields(b64).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(fields.invoice_hash.as_deref(), v["invoice_hash_b64"].as_str(), "{file}");
            assert_eq!(fields.signature.as_deref(), v["signature_value_b64"].as_str(), "{file}");
            assert_eq!(encode(&fields).unwrap(), b64, "{file}");
            assert_eq!(encode_tlv(&fields).unwrap(), STANDARD.decode(b64).unwrap(), "{file}");
            // The dump has one line per tag, hex for 8/9.
            let dump = describe(&tlvs);
            assert_eq!(dump.lines().count(), expected.len(), "{file}");
            assert!(dump.starts_with("1 seller_name: "), "{file}");
            assert!(dump.contains(&format!("8 public_key: {}\n", expected[7]["value"].as_str().unwrap())));
        }
    }

    #[test]
    fn phase1_has_tags_1_to_5_only() {
        let tlvs = decode(&encode(&sample_fields()).unwrap()).unwrap();
        assert_eq!(tlvs.iter().map(|t| t.tag).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        assert_eq!(tlvs[0].value.len(), 111);
    }

    #[test]
    fn arabic_name_over_255_bytes_is_rejected() {
        // 128 Arabic letters = 256 UTF-8 bytes, though only 128 chars.
        let name = "ش".repeat(128);
        assert_eq!(name.chars().count(), 128);
        assert_eq!(name.len(), 256);
        let fields = QrFields {
            seller_name: name,
            ..sample_fields()
        };
        for err in [encode_tlv(&fields).unwrap_err(), encode(&fields).unwrap_err()] {
            assert_eq!(err.code(), "qr_value_too_long");
            assert_eq!(err.primary().path.as_deref(), Some("qr.tag1"));
            assert!(err.primary().message.contains("seller_name"), "{err}");
            assert!(err.primary().message.contains("256"), "{err}");
        }
        // 255 bytes (127 letters + one ASCII) still fits.
        let fields = QrFields {
            seller_name: format!("{}x", "ش".repeat(127)),
            ..sample_fields()
        };
        assert_eq!(decode_fields(&encode(&fields).unwrap()).unwrap(), fields);
    }

    #[test]
    fn every_long_value_is_reported() {
        let fields = QrFields {
            vat_number: "1".repeat(300),
            public_key: Some(vec![0; 256]),
            ..sample_fields()
        };
        let err = encode_tlv(&fields).unwrap_err();
        let paths: Vec<_> = err.issues().iter().map(|i| i.path.as_deref().unwrap()).collect();
        assert_eq!(paths, ["qr.tag2", "qr.tag8"]);
    }

    #[test]
    fn base64_over_1000_chars_is_qr_too_long() {
        // 5 tags of 2+255 bytes... keep below each value limit but above 750 TLV bytes.
        let fields = QrFields {
            seller_name: "a".repeat(255),
            vat_number: "b".repeat(255),
            timestamp: "c".repeat(255),
            ..sample_fields()
        };
        let tlv = encode_tlv(&fields).unwrap();
        assert!(STANDARD.encode(&tlv).len() > MAX_QR_BASE64_LEN);
        let err = encode(&fields).unwrap_err();
        assert_eq!(err.code(), "qr_too_long");
        assert_eq!(err.primary().rule, Some("BR-CL-KSA-14"));
    }

    #[test]
    fn garbage_and_truncated_inputs_are_errors() {
        let good = STANDARD.decode(vectors()[0]["qr_b64"].as_str().unwrap()).unwrap();
        // Byte offsets where a TLV ends: a cut there is a shorter but well-formed TLV list.
        let mut ends = Vec::new();
        let mut pos = 0;
        while pos < good.len() {
            pos += 2 + usize::from(good[pos + 1]);
            ends.push(pos);
        }
        for cut in 1..good.len() {
            let b64 = STANDARD.encode(&good[..cut]);
            match ends.iter().position(|&end| end == cut) {
                Some(i) => {
                    assert_eq!(decode(&b64).unwrap().len(), i + 1);
                    let fields = decode_fields(&b64);
                    if i < 4 {
                        assert_eq!(fields.unwrap_err().code(), "missing_qr_tag");
                    } else {
                        assert!(fields.is_ok());
                    }
                }
                None => {
                    assert_eq!(decode(&b64).unwrap_err().code(), "invalid_qr", "cut at {cut}");
                    assert_eq!(decode_fields(&b64).unwrap_err().code(), "invalid_qr", "cut at {cut}");
                }
            }
        }
        assert_eq!(decode(&STANDARD.encode([1u8])).unwrap_err().code(), "invalid_qr");
        assert_eq!(
            decode(&STANDARD.encode([1u8, 5, b'a'])).unwrap_err().code(),
            "invalid_qr"
        );
        for bad in ["", "   ", "!!!!", "AQ", "AQ=", "====", "<Invoice/>", "AW/Y\u{0}"] {
            assert_eq!(decode(bad).unwrap_err().code(), "invalid_qr", "{bad:?}");
            assert!(decode_fields(bad).is_err());
        }
        // Surrounding whitespace is tolerated.
        let b64 = vectors()[0]["qr_b64"].as_str().unwrap().to_owned();
        assert!(decode(&format!("  {b64}\n")).is_ok());
    }

    #[test]
    fn tag_set_problems_are_reported() {
        let b = |tlv: &[u8]| STANDARD.encode(tlv);
        let base = encode_tlv(&sample_fields()).unwrap();

        let mut unknown = base.clone();
        unknown.extend_from_slice(&[10, 1, b'x']);
        let err = decode_fields(&b(&unknown)).unwrap_err();
        assert_eq!(err.code(), "invalid_qr_tag");
        assert_eq!(err.primary().path.as_deref(), Some("qr.tag10"));
        // decode itself keeps unknown tags so they can be described.
        assert!(describe(&decode(&b(&unknown)).unwrap()).ends_with("10 unknown: 78\n"));

        let mut zero = vec![0, 0];
        zero.extend_from_slice(&base);
        assert_eq!(decode_fields(&b(&zero)).unwrap_err().code(), "invalid_qr_tag");

        let mut dup = base.clone();
        dup.extend_from_slice(&[2, 1, b'1']);
        assert_eq!(decode_fields(&b(&dup)).unwrap_err().code(), "invalid_qr_tag");

        let err = decode_fields(&b(&[1, 1, b'x'])).unwrap_err();
        assert_eq!(err.code(), "missing_qr_tag");
        assert_eq!(err.issues().len(), 4);

        let mut bad_utf8 = base.clone();
        bad_utf8.extend_from_slice(&[6, 2, 0xc3, 0x28]);
        let err = decode_fields(&b(&bad_utf8)).unwrap_err();
        assert_eq!(err.code(), "invalid_qr");
        assert_eq!(err.primary().path.as_deref(), Some("qr.tag6"));
        assert!(describe(&decode(&b(&bad_utf8)).unwrap()).contains("6 invoice_hash: (not UTF-8) c328\n"));

        // Tags out of order are accepted; re-encoding puts them in order.
        let mut swapped = vec![2, 1, b'3', 1, 1, b'n'];
        swapped.extend_from_slice(&[3, 1, b't', 4, 1, b'4', 5, 1, b'5']);
        let fields = decode_fields(&b(&swapped)).unwrap();
        assert_eq!(fields.seller_name, "n");
        assert_eq!(decode(&encode(&fields).unwrap()).unwrap()[0].tag, 1);
    }

    #[test]
    fn describe_escapes_control_characters() {
        let tlvs = [
            TlvField {
                tag: 1,
                value: b"a\x1b[2Jb\n".to_vec(),
            },
            TlvField {
                tag: 2,
                value: "1\u{202e}2".as_bytes().to_vec(),
            },
        ];
        assert_eq!(
            describe(&tlvs),
            "1 seller_name: a\\u{1b}[2Jb\\u{a}\n2 vat_number: 1\\u{202e}2\n"
        );
    }

    #[test]
    fn serde_uses_base64_for_bytes() {
        let v = &vectors()[0];
        let fields = decode_fields(v["qr_b64"].as_str().unwrap()).unwrap();
        let json = serde_json::to_value(&fields).unwrap();
        assert_eq!(json["seller_name"], v["qr_tlv"][0]["value"]);
        let pk = STANDARD.decode(json["public_key"].as_str().unwrap()).unwrap();
        assert_eq!(hex(&pk), v["qr_tlv"][7]["value"].as_str().unwrap());
        let back: QrFields = serde_json::from_value(json).unwrap();
        assert_eq!(back, fields);
        let phase1 = serde_json::to_value(sample_fields()).unwrap();
        assert!(phase1.get("public_key").is_none());
        assert_eq!(serde_json::from_value::<QrFields>(phase1).unwrap(), sample_fields());
    }

    /// Decodes a greyscale raster with rqrr and returns the text of the single symbol in it.
    fn scan(w: usize, h: usize, pixel: impl Fn(usize, usize) -> u8) -> String {
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, pixel);
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1);
        grids[0].decode().unwrap().1
    }

    #[cfg(feature = "png")]
    #[test]
    fn png_is_valid_and_scans_back() {
        for v in vectors().iter().step_by(7) {
            let b64 = v["qr_b64"].as_str().unwrap();
            let modules = QrCode::with_error_correction_level(b64, EcLevel::M).unwrap().width() + 8;
            for module_px in [1u32, 3] {
                let png_bytes = to_png(b64, module_px).unwrap();
                assert!(png_bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
                let mut decoder = png::Decoder::new(std::io::Cursor::new(&png_bytes));
                decoder.set_transformations(png::Transformations::EXPAND);
                let mut reader = decoder.read_info().unwrap();
                let mut buf = vec![0; reader.output_buffer_size().unwrap()];
                let info = reader.next_frame(&mut buf).unwrap();
                let side = modules * module_px as usize;
                assert_eq!((info.width as usize, info.height as usize), (side, side));
                assert_eq!(info.color_type, png::ColorType::Grayscale);
                // Quiet zone is white, the finder pattern's corner is black.
                let stride = info.line_size;
                let at = |x: usize, y: usize| buf[y * stride + x];
                assert_eq!(at(0, 0), 255);
                assert_eq!(at(4 * module_px as usize - 1, 4 * module_px as usize), 255);
                assert_eq!(at(4 * module_px as usize, 4 * module_px as usize), 0);
                if module_px == 3 {
                    assert_eq!(scan(side, side, at), b64);
                }
            }
        }
    }

    #[cfg(feature = "png")]
    #[test]
    fn png_rejects_bad_module_sizes_and_input() {
        let b64 = encode(&sample_fields()).unwrap();
        assert_eq!(to_png(&b64, 0).unwrap_err().code(), "invalid_qr_module_size");
        assert_eq!(
            to_png(&b64, MAX_PNG_MODULE_PX + 1).unwrap_err().code(),
            "invalid_qr_module_size"
        );
        assert!(to_png(&b64, MAX_PNG_MODULE_PX).is_ok());
        assert_eq!(to_png("<Invoice/>", 4).unwrap_err().code(), "invalid_qr");
        assert_eq!(to_png(&"A".repeat(4000), 4).unwrap_err().code(), "qr_too_long");
    }

    /// Rasterises the `M{x} {y}h{len}v1H{x}z` runs of `to_svg` at `scale` pixels per module.
    fn rasterise_svg(svg: &str, scale: usize) -> (usize, Vec<u8>) {
        let view_box = svg.split("viewBox=\"0 0 ").nth(1).unwrap().split('"').next().unwrap();
        let (side, side2) = view_box.split_once(' ').unwrap();
        assert_eq!(side, side2);
        let w = side.parse::<usize>().unwrap() * scale;
        let d = svg.split(" d=\"").nth(1).unwrap().split('"').next().unwrap();
        let mut img = vec![255u8; w * w];
        for run in d.split('M').filter(|s| !s.is_empty()) {
            assert!(run.ends_with('z'), "{run}");
            let nums: Vec<usize> = run
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap())
                .collect();
            let [x, y, len, 1, x2] = nums[..] else {
                panic!("unexpected subpath {run}")
            };
            assert_eq!(x, x2);
            for yy in y * scale..(y + 1) * scale {
                img[yy * w + x * scale..yy * w + (x + len) * scale].fill(0);
            }
        }
        (w, img)
    }

    #[test]
    fn svg_is_standalone_and_scans_back() {
        for v in vectors().iter().step_by(6) {
            let b64 = v["qr_b64"].as_str().unwrap();
            let svg = to_svg(b64).unwrap();
            assert!(
                svg.starts_with(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\""
                )
            );
            assert!(svg.contains("<rect ") && svg.contains("<path fill=\"#000\" d=\"M"));
            assert!(svg.ends_with("\"/></svg>\n"));
            assert!(svg.len() < 40_000, "{}", svg.len());
            let modules = QrCode::with_error_correction_level(b64, EcLevel::M).unwrap().width() + 8;
            let px = modules * SVG_MODULE_PX;
            assert!(svg.contains(&format!(
                r#"width="{px}" height="{px}" viewBox="0 0 {modules} {modules}""#
            )));
            let (w, img) = rasterise_svg(&svg, 4);
            assert_eq!(w, modules * 4);
            assert_eq!(scan(w, w, |x, y| img[y * w + x]), b64);
            // The SVG and the PNG draw the same modules.
            #[cfg(feature = "png")]
            {
                let png_bytes = to_png(b64, 4).unwrap();
                let mut decoder = png::Decoder::new(std::io::Cursor::new(&png_bytes));
                decoder.set_transformations(png::Transformations::EXPAND);
                let mut reader = decoder.read_info().unwrap();
                let mut buf = vec![0; reader.output_buffer_size().unwrap()];
                let info = reader.next_frame(&mut buf).unwrap();
                assert_eq!(info.line_size, w);
                assert_eq!(buf[..w * w], img[..]);
            }
        }
        assert_eq!(to_svg("").unwrap_err().code(), "invalid_qr");
        assert_eq!(to_svg("not base64").unwrap_err().code(), "invalid_qr");
        assert_eq!(to_svg(&"A".repeat(4000)).unwrap_err().code(), "qr_too_long");
    }

    fn arb_text() -> impl Strategy<Value = String> {
        // Mix of ASCII and 2/3/4-byte characters, trimmed to the 255-byte limit on a char boundary.
        ".{0,200}".prop_map(|s: String| {
            let mut end = s.len().min(MAX_TLV_VALUE_LEN);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s[..end].to_owned()
        })
    }

    fn arb_fields() -> impl Strategy<Value = QrFields> {
        let bytes = || proptest::option::of(proptest::collection::vec(any::<u8>(), 0..=MAX_TLV_VALUE_LEN));
        (
            (arb_text(), arb_text(), arb_text(), arb_text(), arb_text()),
            (
                proptest::option::of(arb_text()),
                proptest::option::of(arb_text()),
                bytes(),
                bytes(),
            ),
        )
            .prop_map(|((t1, t2, t3, t4, t5), (t6, t7, t8, t9))| QrFields {
                seller_name: t1,
                vat_number: t2,
                timestamp: t3,
                total_with_vat: t4,
                vat_total: t5,
                invoice_hash: t6,
                signature: t7,
                public_key: t8,
                certificate_signature: t9,
            })
    }

    proptest! {
        #[test]
        fn round_trip(fields in arb_fields()) {
            let tlv = encode_tlv(&fields).unwrap();
            let b64 = STANDARD.encode(&tlv);
            prop_assert_eq!(&decode_fields(&b64).unwrap(), &fields);
            match encode(&fields) {
                Ok(text) => {
                    prop_assert!(text.len() <= MAX_QR_BASE64_LEN);
                    prop_assert_eq!(&text, &b64);
                }
                Err(e) => {
                    prop_assert_eq!(e.code(), "qr_too_long");
                    prop_assert!(b64.len() > MAX_QR_BASE64_LEN);
                }
            }
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode_tlv(&bytes).map(|t| describe(&t));
            if let Ok(tlv) = decode_tlv(&bytes) {
                let _ = fields_from_tlv(&tlv);
            }
            let _ = decode(&String::from_utf8_lossy(&bytes));
            let _ = decode_fields(&STANDARD.encode(&bytes));
        }
    }
}
