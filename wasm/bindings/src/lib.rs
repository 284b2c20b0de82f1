//! WebAssembly bindings of `zatca-core` for browsers and Node (the npm package in `npm/`).
//!
//! Every export is "decode the JavaScript arguments → call the core → encode the result": no
//! business logic lives here. Errors are thrown as `ZatcaError` objects ([`error`]), results
//! are plain snake_case objects ([`out`]). JavaScript names are camelCase.
//!
//! Two modules are built from this crate (see `npm/scripts/build.sh`): the signing module
//! (feature `sign`: build, sign, hash, chain, keys, certificate info, QR decoding) and the tools
//! module (feature `tools`: verification, CSR, QR encoding, SVG and PNG), so that a page that
//! only signs downloads only the first; a third, the PDF module (feature `pdf`), renders the
//! printable PDF/A-3b, and a fourth, the validation module (feature `rules`), checks a document
//! against the UBL 2.1 structure and ZATCA's rules before it is sent.
//!
//! Private keys cross the boundary only as `Uint8Array`s handed to an export, which copies them
//! into zeroized memory and overwrites the caller's array with zeros before doing anything else
//! (see [`args::take_key`]).
#![warn(missing_docs)]

pub mod args;
pub mod error;
pub mod out;
#[cfg(feature = "pdf")]
pub mod pdf;
#[cfg(feature = "rules")]
pub mod rules;
#[cfg(feature = "sign")]
pub mod sign;
#[cfg(feature = "tools")]
pub mod tools;

use std::cell::RefCell;

use wasm_bindgen::prelude::*;

pub use error::BINDING_CODES;

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
}

/// Module start: installs a panic hook that logs the message to `console.error` and keeps it
/// for [`last_panic`]. (The core does not panic on any input; this is a safety net.)
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        console_error(&format!("zatca-wasm panicked: {message}"));
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(message));
    }));
}

/// The message of the last panic, if one happened (the npm wrapper turns the resulting
/// `WebAssembly.RuntimeError` into a `ZatcaError` with code `internal` and this message).
#[wasm_bindgen(js_name = lastPanic)]
pub fn last_panic() -> Option<String> {
    LAST_PANIC.with(|p| p.borrow().clone())
}

/// `zatca-wasm <version>` plus the git commit it was built from, when the build knew it.
#[wasm_bindgen]
pub fn version() -> String {
    let version = env!("CARGO_PKG_VERSION");
    match option_env!("ZATCA_GIT_SHA") {
        Some(sha) if !sha.is_empty() => format!("{version}+{sha}"),
        _ => version.to_owned(),
    }
}
