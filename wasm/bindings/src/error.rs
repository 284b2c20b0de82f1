//! Errors crossing the boundary: every failure becomes one JavaScript `Error` whose `name` is
//! `"ZatcaError"`, with the primary issue's `code`, `path`, `rule` and `severity` as properties
//! and every issue (errors, then warnings) in `issues`. Nothing is thrown as a bare string.

use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;
use zatca_core::Error;

use crate::out;

/// Codes the bindings add to the core's: a JavaScript argument of the wrong shape, no
/// randomness source (no `crypto.getRandomValues`), and the PDF renderer's own codes (zatca-pdf:
/// a document that is not a ZATCA invoice, text its fonts cannot show).
pub const BINDING_CODES: [&str; 4] = [
    "invalid_argument",
    "random_unavailable",
    "unsupported_character",
    "unsupported_document_type",
];

fn set(target: &Object, key: &str, value: &JsValue) {
    // `Reflect.set` on a fresh ordinary object cannot fail.
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

fn opt_str(value: Option<&str>) -> JsValue {
    value.map_or(JsValue::NULL, JsValue::from_str)
}

/// Converts a core error into a thrown `ZatcaError`.
pub fn to_js(err: &Error) -> JsValue {
    let primary = err.primary();
    let js = js_sys::Error::new(&err.to_string());
    js.set_name("ZatcaError");
    set(&js, "code", &JsValue::from_str(primary.code));
    set(&js, "path", &opt_str(primary.path.as_deref()));
    set(&js, "rule", &opt_str(primary.rule));
    set(&js, "severity", &JsValue::from_str(out::severity(primary.severity)));
    set(&js, "issues", &out::issues(err.issues()));
    js.into()
}

/// A `ZatcaError` for a JavaScript argument that cannot be decoded.
pub fn invalid_argument(path: &str, message: impl Into<String>) -> JsValue {
    to_js(&Error::with_code("invalid_argument", message).at(path))
}

/// `Result` of an export: the error is already a `ZatcaError`.
pub type JsResult<T> = Result<T, JsValue>;

/// Maps core errors of a result to `ZatcaError`.
pub trait IntoJs<T> {
    /// Converts the error side.
    fn js(self) -> JsResult<T>;
}

impl<T> IntoJs<T> for zatca_core::Result<T> {
    fn js(self) -> JsResult<T> {
        self.map_err(|e| to_js(&e))
    }
}

#[cfg(test)]
mod tests {
    //! The npm package declares every error code once, in the `ZatcaErrorCode` union of
    //! `npm/index.d.ts`; this test fails when that union and the codes the core, these bindings
    //! and the package's JavaScript layer can raise drift apart (npm/test/contract.test.mjs
    //! checks the same from the JavaScript side).

    use std::collections::BTreeSet;
    use std::fs;
    use std::path::{Path, PathBuf};

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The source without its unit tests (which mention codes they only check).
    fn without_tests(text: &str) -> &str {
        let mut at = 0;
        while let Some(i) = text[at..].find("#[cfg(test)]") {
            let start = at + i;
            if text[start + "#[cfg(test)]".len()..]
                .trim_start()
                .starts_with("mod tests")
            {
                return &text[..start];
            }
            at = start + 1;
        }
        text
    }

    /// First string arguments of `Error::with_code(` and `Issue::with_code(`: the codes the
    /// bindings raise themselves (the core's are the `zatca_core::Code` enum).
    /// Inserts the text up to the closing quote when it looks like an error code (snake_case).
    fn insert_code(quoted: &str, out: &mut BTreeSet<String>) {
        let code: String = quoted.chars().take_while(|c| *c != '"').collect();
        if !code.is_empty()
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            out.insert(code);
        }
    }

    fn codes_in(text: &str, out: &mut BTreeSet<String>) {
        for call in ["Error::with_code(", "Issue::with_code("] {
            for (i, _) in text.match_indices(call) {
                let before = text[..i].chars().next_back().unwrap_or(' ');
                if before.is_alphanumeric() || before == '_' {
                    continue;
                }
                let rest = text[i + call.len()..].trim_start();
                if let Some(quoted) = rest.strip_prefix('"') {
                    insert_code(quoted, out);
                }
            }
        }
    }

    fn rust_codes(dir: &Path) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut files: Vec<_> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "rs"))
            .collect();
        files.sort();
        for file in files {
            codes_in(without_tests(&read(&file)), &mut out);
        }
        out
    }

    fn quoted_between(text: &str, start: &str, end: &str, quote: char) -> BTreeSet<String> {
        let from = text.find(start).unwrap_or_else(|| panic!("`{start}` not found")) + start.len();
        let to = from + text[from..].find(end).unwrap_or_else(|| panic!("`{end}` not found"));
        text[from..to]
            .split(quote)
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn typescript_union_lists_every_error_code() {
        let root = repo();
        let core: BTreeSet<String> = zatca_core::Code::ALL.iter().map(|c| c.as_str().to_owned()).collect();
        let bindings: BTreeSet<String> = super::BINDING_CODES.iter().map(|c| (*c).to_owned()).collect();
        for code in rust_codes(&root.join("wasm/bindings/src")) {
            assert!(
                core.contains(&code) || bindings.contains(&code),
                "the bindings raise `{code}`: add it to BINDING_CODES"
            );
        }
        let js = quoted_between(
            &read(&root.join("npm/lib/error.js")),
            "JS_ERROR_CODES = Object.freeze([",
            "])",
            '\'',
        );
        let expected: BTreeSet<String> = core.into_iter().chain(bindings).chain(js).collect();
        let declared = quoted_between(
            &read(&root.join("npm/index.d.ts")),
            "export type ZatcaErrorCode =",
            ";",
            '"',
        );
        let missing: Vec<_> = expected.difference(&declared).collect();
        let extra: Vec<_> = declared.difference(&expected).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "update ZatcaErrorCode in npm/index.d.ts: missing {missing:?}, not raised anywhere {extra:?}"
        );
    }
}
