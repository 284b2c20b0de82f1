//! The validation module's export (feature `rules`), loaded separately (`initRules()`):
//! ZATCA's checks before sending, from `zatca-rules` — the UBL 2.1 structure (`XSD`) and the
//! implemented schematron rules — so that the signing module keeps its size budget.

use wasm_bindgen::prelude::*;
use zatca_rules::{Context, Finding, InputFinding, Source, validate as run};

use crate::out::{self, Obj};

fn finding(f: &Finding) -> JsValue {
    Obj::new()
        .str("rule", f.rule)
        .str("severity", out::severity(f.severity))
        .str("location", &f.location)
        .str("message", f.message)
        .str("message_ar", f.message_ar)
        .opt_str("hint", f.hint)
        .opt_str("detail", f.detail.as_deref())
        .build()
}

/// Checks a UBL document (signed or not): `{ valid, issues: [{ rule, severity, location,
/// message, message_ar, hint, detail }] }`, errors first. `pih`: the expected previous invoice
/// hash (base64), reported as `PIH` when the document carries another; `now`: the current time
/// in UTC (`YYYY-MM-DDTHH:MM:SS`), for the rules that depend on it; `unsigned`: the document is
/// checked before signing (its stamp and QR code are not asked for). Never throws on the
/// document: one that does not parse is the finding `XML`.
#[wasm_bindgen]
pub fn validate(xml: &[u8], pih: Option<String>, now: Option<String>, unsigned: Option<bool>) -> JsValue {
    let context = Context {
        pih: pih.as_deref(),
        now: now.as_deref(),
        unsigned: unsigned.unwrap_or(false),
    };
    let report = run(xml, &context);
    Obj::new()
        .bool("valid", report.valid)
        .set("issues", &out::array(report.issues.iter().map(finding)))
        .build()
}

fn input_finding(f: &InputFinding) -> JsValue {
    Obj::new()
        .opt_str("rule", f.rule)
        .str("code", f.code)
        .str("severity", out::severity(f.severity))
        .str("location", &f.location)
        .str("message", &f.message)
        .opt_str("message_ar", f.message_ar)
        .opt_str("hint", f.hint)
        .opt_str("detail", f.detail.as_deref())
        .str(
            "source",
            match f.source {
                Source::Input => "input",
                Source::Xml => "xml",
            },
        )
        .build()
}

/// Checks an invoice request (the input model's JSON text) as the core and ZATCA's rules see
/// it: the core's input checks, then the rules on the XML the core writes from it (`{ valid,
/// checkedXml, issues: [{ rule, code, severity, location, message, message_ar, hint, detail,
/// source }] }`, locations as JSON paths where they map back to a field). `now`: as for
/// [`validate`]. Never throws on the request.
#[wasm_bindgen(js_name = validateInput)]
pub fn validate_input(json: &[u8], now: Option<String>) -> JsValue {
    let context = Context {
        now: now.as_deref(),
        ..Context::default()
    };
    let report = zatca_rules::validate_input(json, &context);
    Obj::new()
        .bool("valid", report.valid)
        .bool("checkedXml", report.checked_xml)
        .set("issues", &out::array(report.issues.iter().map(input_finding)))
        .build()
}
