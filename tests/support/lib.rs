//! Shared helpers for the cross-crate tests: fixture paths, the test signer, and byte-exact
//! comparison with blessing (`ZATCA_BLESS=1` rewrites expected files instead of comparing).

use std::fs;
use std::path::{Path, PathBuf};

use zatca_core::cert::Certificate;
use zatca_core::keys::PrivateKey;
use zatca_core::sign::Signer;

/// `tests/fixtures`.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Reads a file or panics with its path.
pub fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads a UTF-8 file or panics with its path.
pub fn read_text(path: &Path) -> String {
    String::from_utf8(read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The SDK test key and certificate (public test material).
pub fn test_signer() -> Signer {
    let keys = fixtures().join("keys");
    let key = PrivateKey::parse(&read_text(&keys.join("sdk-test-key.pem"))).unwrap_or_else(|e| panic!("{e}"));
    let cert = Certificate::parse(&read_text(&keys.join("sdk-test-cert.pem"))).unwrap_or_else(|e| panic!("{e}"));
    Signer::new(key, cert).unwrap_or_else(|e| panic!("{e}"))
}

/// Whether expected files are being rewritten.
pub fn blessing() -> bool {
    std::env::var_os("ZATCA_BLESS").is_some_and(|v| v != "0")
}

/// Compares `actual` with the expected file byte for byte (or writes it when blessing).
/// Returns a description of the first difference instead of panicking, so that a run reports
/// every differing file at once.
pub fn check_bytes(expected_path: &Path, actual: &[u8]) -> Option<String> {
    if blessing() {
        if let Some(dir) = expected_path.parent() {
            fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        fs::write(expected_path, actual).unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        return None;
    }
    let expected = match fs::read(expected_path) {
        Ok(bytes) => bytes,
        Err(e) => {
            return Some(format!(
                "{}: {e} (run with ZATCA_BLESS=1 to create it)",
                expected_path.display()
            ));
        }
    };
    if expected == actual {
        return None;
    }
    let offset = expected
        .iter()
        .zip(actual)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(actual.len()));
    let line = expected
        .get(..offset)
        .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
        + 1;
    let show = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        text.lines()
            .nth(line - 1)
            .unwrap_or("")
            .chars()
            .take(160)
            .collect::<String>()
    };
    Some(format!(
        "{}: differs at byte {offset} (line {line})\n  expected: {}\n  actual:   {}",
        expected_path.display(),
        show(&expected),
        show(actual)
    ))
}
