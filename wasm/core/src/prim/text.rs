//! Text forms of binary values: lowercase hex and the PEM / bare-base64 armour of keys,
//! certificates and CSRs.

const HEX_DIGITS: [u8; 16] = *b"0123456789abcdef";

/// Lowercase hex of bytes.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            out.push(char::from(HEX_DIGITS[usize::from(nibble)]));
        }
    }
    out
}

/// Text armour shared by `keys`, `cert` and `csr`: PEM blocks and the bare base64 the ZATCA SDK
/// and API use. Lenient on input (any line width, CRLF, surrounding text), canonical on output.
pub(crate) mod armor {
    /// What a piece of text turned out to hold.
    pub(crate) enum Decoded {
        /// A PEM block: its label and decoded body.
        Pem { label: String, der: Vec<u8> },
        /// Bare base64 (no armour), decoded.
        Raw(Vec<u8>),
    }

    /// Decodes the first PEM block of `text` (skipping `EC PARAMETERS` blocks, which
    /// `openssl ecparam -genkey` writes before the key), or the whole text as bare base64 when it
    /// has no `-----BEGIN`. `None` when neither works.
    pub(crate) fn decode_text(text: &str) -> Option<Decoded> {
        if !text.contains("-----BEGIN ") {
            return base64_decode(text).map(Decoded::Raw);
        }
        let mut rest = text;
        loop {
            let (label, der, after) = pem_block(rest)?;
            if label != "EC PARAMETERS" {
                return Some(Decoded::Pem { label, der });
            }
            rest = after;
        }
    }

    /// The label and body of the first PEM block of `text`.
    pub(crate) fn pem_decode(text: &str) -> Option<(String, Vec<u8>)> {
        pem_block(text).map(|(label, der, _)| (label, der))
    }

    /// The first PEM block of `text`: label, decoded body, and the text after its END line.
    fn pem_block(text: &str) -> Option<(String, Vec<u8>, &str)> {
        let start = text.find("-----BEGIN ")?;
        let rest = text.get(start + "-----BEGIN ".len()..)?;
        let label_end = rest.find("-----")?;
        let label = rest.get(..label_end)?;
        if label.contains('\n') {
            return None;
        }
        let body_and_end = rest.get(label_end + "-----".len()..)?;
        let end_marker = format!("-----END {label}-----");
        let body_len = body_and_end.find(&end_marker)?;
        let body = body_and_end.get(..body_len)?;
        let after = body_and_end.get(body_len + end_marker.len()..)?;
        // RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`) mean an encrypted legacy key: refuse
        // instead of feeding the headers to the base64 decoder.
        if body.contains(':') {
            return None;
        }
        Some((label.to_owned(), base64_decode(body)?, after))
    }

    /// Decodes standard base64, ignoring ASCII whitespace anywhere; `None` when empty or invalid.
    pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
        // Bytes, not chars: base64 is ASCII, and a multi-byte character is invalid either way.
        let mut compact = text.as_bytes().to_vec();
        compact.retain(|b| !b.is_ascii_whitespace());
        if compact.is_empty() {
            return None;
        }
        // Padding optional on input (some tools strip it), always written.
        crate::prim::b64::decode_padding_optional(&compact).ok()
    }

    /// Standard base64 with padding, one line.
    pub(crate) fn base64_encode(bytes: &[u8]) -> String {
        crate::prim::b64::encode(bytes)
    }

    /// PEM text as OpenSSL writes it: 64-column lines, LF line ends, final newline.
    pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
        let b64 = base64_encode(der);
        let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
        out.push_str("-----BEGIN ");
        out.push_str(label);
        out.push_str("-----\n");
        for (i, symbol) in b64.chars().enumerate() {
            if i > 0 && i % 64 == 0 {
                out.push('\n');
            }
            out.push(symbol);
        }
        if !b64.is_empty() {
            out.push('\n');
        }
        out.push_str("-----END ");
        out.push_str(label);
        out.push_str("-----\n");
        out
    }
}
