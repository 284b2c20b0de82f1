//! The invoice chain of an EGS unit: every document carries the hash of the previous one (PIH).

use crate::error::Result;

/// PIH of the first document of an EGS unit: base64 of the *hex text* of SHA-256("0")
/// (SPEC §3.1) — 88 characters, unlike every later PIH (44).
pub const INITIAL_PIH: &str =
    "NWZlY2ViNjZmZmM4NmYzOGQ5NTI3ODZjNmQ2OTZjNzljMmRiYzIzOWRkNGU5MWI0NjcyOWQ3M2EyN2ZiNTdlOQ==";

/// The PIH the next document must carry: the invoice hash of this signed document.
pub fn next_pih(signed_xml: &[u8]) -> Result<String> {
    crate::hash::invoice_hash(signed_xml)
}

/// Whether `pih` is a base64 SHA-256 hash (32 bytes) or the initial value.
pub fn is_valid_pih(pih: &str) -> bool {
    pih == INITIAL_PIH || crate::prim::b64::decode(pih).is_ok_and(|b| b.len() == 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prim::sha256::Sha256;

    #[test]
    fn initial_pih_is_base64_of_hex_of_sha256_of_zero() {
        let hex: String = Sha256::digest(b"0").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(crate::prim::b64::encode(hex), INITIAL_PIH);
        assert!(is_valid_pih(INITIAL_PIH));
        assert!(is_valid_pih("z5F9qsS6oWyDhehD8u8S0DaxV+2CUiUz9Y+UsR61JgQ="));
        assert!(!is_valid_pih("abc"));
    }
}
