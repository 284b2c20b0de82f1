//! Untrusted JSON invoice requests (what the relay and `validateInput` are given): the input
//! checks, the UBL writer and the rules on its output never panic, and a report is valid exactly
//! when it has no error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zatca_rules::{Context, Severity, validate_input};

fuzz_target!(|data: &[u8]| {
    let report = validate_input(data, &Context::default());
    assert_eq!(
        report.valid,
        !report.issues.iter().any(|i| i.severity == Severity::Error)
    );
});
