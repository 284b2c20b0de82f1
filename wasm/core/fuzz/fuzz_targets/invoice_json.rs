//! Untrusted JSON input: decoding, validation and building must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zatca_core::model::InvoiceInput;
use zatca_core::ubl::{self, ChainInputs};

fuzz_target!(|data: &[u8]| {
    let chain = ChainInputs { icv: 1, pih: zatca_core::chain::INITIAL_PIH.into(), uuid: "fuzz".into() };
    if let Ok(input) = InvoiceInput::from_json(data) {
        if let Ok(built) = ubl::build(&input, &chain) {
            // Whatever we build must parse and hash.
            assert!(zatca_core::hash::invoice_hash(built.xml.as_bytes()).is_ok());
        }
    }
});
