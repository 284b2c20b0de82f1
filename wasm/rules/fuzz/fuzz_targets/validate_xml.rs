//! Untrusted XML (what the simulator and `zatca validate` are given): the structure pass and the
//! rules never panic, and a report is valid exactly when it has no error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zatca_rules::{Context, Severity, validate};

fuzz_target!(|data: &[u8]| {
    for unsigned in [false, true] {
        let context = Context {
            pih: Some("NWZlY2ViNjZmZmM4NmYzOGQ5NTI3ODZjNmQ2OTZjNzljMmRiYzIzOWRkNGU5MWI0NjcyOWQ3M2EyN2ZiNTdlOQ=="),
            now: Some("2025-01-01T00:00:00"),
            unsigned,
        };
        let report = validate(data, &context);
        assert_eq!(
            report.valid,
            !report.issues.iter().any(|i| i.severity == Severity::Error)
        );
    }
});
