//! The signing module's exports (feature `sign`): build, sign (JSON input or XML), hash, the
//! chain helpers, certificate info and QR decoding: everything a point of sale needs for each
//! document, and nothing it needs only once (keys and CSR are in the tools module).

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use zatca_core::cert::Certificate;
use zatca_core::model::InvoiceInput;
use zatca_core::sign::{self, SignedInvoice};
use zatca_core::totals::Totals;
use zatca_core::ubl;
use zatca_core::{chain, hash};

use crate::args;
use crate::error::{IntoJs, JsResult};
use crate::out::{self, Obj};

/// Totals with amounts as decimal strings (exact; JavaScript numbers are binary floats):
/// `{lines: [{net_price, discount, net, vat, with_vat}], subtotals: [{category, rate,
/// exemption_code, exemption_reason, taxable, vat}], line_extension, allowance_total,
/// charge_total, tax_exclusive, vat_total, vat_total_sar, tax_inclusive, prepaid, payable}`.
fn totals_out(t: &Totals) -> JsValue {
    let lines = t.lines.iter().map(|l| {
        Obj::new()
            .str("net_price", &l.net_price.to_string())
            .str("discount", &l.discount.to_string())
            .str("net", &l.net.to_string())
            .str("vat", &l.vat.to_string())
            .str("with_vat", &l.with_vat.to_string())
            .build()
    });
    let subtotals = t.subtotals.iter().map(|s| {
        Obj::new()
            .str("category", s.category.code())
            .str("rate", &s.rate.to_string())
            .opt_str("exemption_code", s.exemption_code.as_deref())
            .opt_str("exemption_reason", s.exemption_reason.as_deref())
            .str("taxable", &s.taxable.to_string())
            .str("vat", &s.vat.to_string())
            .build()
    });
    Obj::new()
        .set("lines", &out::array(lines))
        .set("subtotals", &out::array(subtotals))
        .str("line_extension", &t.line_extension.to_string())
        .str("allowance_total", &t.allowance_total.to_string())
        .str("charge_total", &t.charge_total.to_string())
        .str("tax_exclusive", &t.tax_exclusive.to_string())
        .str("vat_total", &t.vat_total.to_string())
        .str("vat_total_sar", &t.vat_total_sar.to_string())
        .str("tax_inclusive", &t.tax_inclusive.to_string())
        .str("prepaid", &t.prepaid.to_string())
        .str("payable", &t.payable.to_string())
        .build()
}

/// `{xml, hash, signature, qr, uuid, icv, signing_time, warnings}`.
fn signed_out(s: &SignedInvoice) -> JsValue {
    let Ok(icv) = out::opt_u64(s.icv) else {
        return JsValue::NULL;
    };
    Obj::new()
        .str("xml", &s.xml)
        .str("hash", &s.hash)
        .str("signature", &s.signature)
        .str("qr", &s.qr)
        .str("uuid", &s.uuid)
        .set("icv", &icv)
        .str("signing_time", &s.signing_time)
        .set("warnings", &out::issues(&s.warnings))
        .build()
}

fn input(json: &str) -> JsResult<InvoiceInput> {
    InvoiceInput::from_json(json.as_bytes()).js()
}

/// Validates invoice JSON (the core's input contract) and writes the unsigned UBL 2.1 XML.
/// Returns `{xml, warnings, totals}`; throws a `ZatcaError` listing every problem.
#[wasm_bindgen(js_name = buildInvoice)]
pub fn build_invoice(input_json: &str, chain: JsValue) -> JsResult<JsValue> {
    let chain = args::chain(&chain)?;
    let built = ubl::build(&input(input_json)?, &chain).js()?;
    Ok(Obj::new()
        .str("xml", &built.xml)
        .set("warnings", &out::issues(&built.warnings))
        .set("totals", &totals_out(&built.totals))
        .build())
}

/// Builds and signs invoice JSON. `key` (DER or PEM bytes) is wiped on return; `certificate`
/// is PEM or base64 text. Returns `{xml, hash, signature, qr, uuid, icv, signing_time, warnings}`.
#[wasm_bindgen(js_name = signInvoice)]
pub fn sign_invoice(
    input_json: &str,
    chain: JsValue,
    key: &Uint8Array,
    certificate: &str,
    options: JsValue,
) -> JsResult<JsValue> {
    let (signer, options) = args::signer(key, certificate, options)?;
    let chain = args::chain(&chain)?;
    let signed = sign::sign_invoice(&input(input_json)?, &chain, &signer, options.signing_time.as_deref()).js()?;
    Ok(signed_out(&signed))
}

/// Signs an unsigned (or re-signs a signed) UBL invoice given as UTF-8 bytes, keeping every
/// byte outside the signature blocks. `key` is wiped on return.
#[wasm_bindgen(js_name = signXml)]
pub fn sign_xml(xml: &[u8], key: &Uint8Array, certificate: &str, options: JsValue) -> JsResult<JsValue> {
    let (signer, options) = args::signer(key, certificate, options)?;
    let signed = sign::sign_xml(xml, &signer, options.signing_time.as_deref()).js()?;
    Ok(signed_out(&signed))
}

/// The ZATCA invoice hash (base64) of a document, signed or not.
#[wasm_bindgen(js_name = invoiceHash)]
pub fn invoice_hash(xml: &[u8]) -> JsResult<String> {
    hash::invoice_hash(xml).js()
}

/// Removes the signature blocks from a signed document, keeping every other byte.
#[wasm_bindgen(js_name = stripSignature)]
pub fn strip_signature(xml: &[u8]) -> JsResult<String> {
    sign::strip_signature(xml).js()
}

/// The PIH of the next document: the invoice hash of this signed one.
#[wasm_bindgen(js_name = nextPih)]
pub fn next_pih(signed_xml: &[u8]) -> JsResult<String> {
    chain::next_pih(signed_xml).js()
}

/// Whether a PIH is the base64 of a SHA-256 hash or the initial value.
#[wasm_bindgen(js_name = isValidPih)]
pub fn is_valid_pih(pih: &str) -> bool {
    chain::is_valid_pih(pih)
}

/// The PIH of an EGS unit's first document.
#[wasm_bindgen(js_name = initialPih)]
pub fn initial_pih() -> String {
    chain::INITIAL_PIH.to_owned()
}

/// Parses a certificate (PEM, base64 DER, or a CSID `binarySecurityToken`) and describes it.
#[wasm_bindgen(js_name = certificateInfo)]
pub fn certificate_info(certificate: &str) -> JsResult<JsValue> {
    let cert = Certificate::parse(certificate).js()?;
    Ok(out::certificate_info(&cert))
}

/// Decodes QR base64 text into its fields (tags 1–9; tags 8 and 9 as base64 of their DER).
/// Throws `invalid_qr`, `invalid_qr_tag` or `missing_qr_tag` with every problem listed.
#[wasm_bindgen(js_name = qrDecode)]
pub fn qr_decode(qr: &str) -> JsResult<JsValue> {
    Ok(out::qr_fields(&zatca_core::qr::decode_fields(qr).js()?))
}

/// Decodes QR base64 text into its raw TLVs, in order, whatever their tags:
/// `[{tag, name, value: Uint8Array, text}]` (`text` is `null` when the value is not UTF-8).
#[wasm_bindgen(js_name = qrDecodeTlv)]
pub fn qr_decode_tlv(qr: &str) -> JsResult<JsValue> {
    let tlvs = zatca_core::qr::decode(qr).js()?;
    Ok(out::array(tlvs.iter().map(|t| {
        Obj::new()
            .num("tag", f64::from(t.tag))
            .opt_str("name", t.name())
            .bytes("value", &t.value)
            .opt_str("text", t.value_text())
            .build()
    })))
}

/// A human-readable dump of the QR payload, one `tag name: value` line per TLV (the format of
/// the golden corpus' `qr.txt`).
#[wasm_bindgen(js_name = qrDescribe)]
pub fn qr_describe(qr: &str) -> JsResult<String> {
    Ok(zatca_core::qr::describe(&zatca_core::qr::decode(qr).js()?))
}
