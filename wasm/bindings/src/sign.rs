//! The signing module's exports (feature `sign`): build, sign (JSON input or XML), hash, the
//! chain helpers, certificate info and QR decoding: everything a point of sale needs for each
//! document, and nothing it needs only once (keys and CSR are in the tools module).

use js_sys::Uint8Array;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use zatca_core::cert::Certificate;
use zatca_core::model::InvoiceInput;
use zatca_core::sign::{self, SignedInvoice};
use zatca_core::totals::Totals;
use zatca_core::ubl::{self, ChainInputs};
use zatca_core::{chain, hash};

use crate::args::{self, Chain};
use crate::error::{IntoJs, JsResult};
use crate::out::{self, CertificateInfo, IssueOut, bytes, to_value};

#[derive(Serialize)]
struct LineTotalsOut {
    net_price: String,
    discount: String,
    net: String,
    vat: String,
    with_vat: String,
}

#[derive(Serialize)]
struct SubtotalOut<'a> {
    category: &'static str,
    rate: String,
    exemption_code: Option<&'a str>,
    exemption_reason: Option<&'a str>,
    taxable: String,
    vat: String,
}

/// Totals with amounts as decimal strings (exact; JavaScript numbers are binary floats).
#[derive(Serialize)]
struct TotalsOut<'a> {
    lines: Vec<LineTotalsOut>,
    subtotals: Vec<SubtotalOut<'a>>,
    line_extension: String,
    allowance_total: String,
    charge_total: String,
    tax_exclusive: String,
    vat_total: String,
    vat_total_sar: String,
    tax_inclusive: String,
    prepaid: String,
    payable: String,
}

impl<'a> From<&'a Totals> for TotalsOut<'a> {
    fn from(t: &'a Totals) -> Self {
        TotalsOut {
            lines: t
                .lines
                .iter()
                .map(|l| LineTotalsOut {
                    net_price: l.net_price.to_string(),
                    discount: l.discount.to_string(),
                    net: l.net.to_string(),
                    vat: l.vat.to_string(),
                    with_vat: l.with_vat.to_string(),
                })
                .collect(),
            subtotals: t
                .subtotals
                .iter()
                .map(|s| SubtotalOut {
                    category: s.category.code(),
                    rate: s.rate.to_string(),
                    exemption_code: s.exemption_code.as_deref(),
                    exemption_reason: s.exemption_reason.as_deref(),
                    taxable: s.taxable.to_string(),
                    vat: s.vat.to_string(),
                })
                .collect(),
            line_extension: t.line_extension.to_string(),
            allowance_total: t.allowance_total.to_string(),
            charge_total: t.charge_total.to_string(),
            tax_exclusive: t.tax_exclusive.to_string(),
            vat_total: t.vat_total.to_string(),
            vat_total_sar: t.vat_total_sar.to_string(),
            tax_inclusive: t.tax_inclusive.to_string(),
            prepaid: t.prepaid.to_string(),
            payable: t.payable.to_string(),
        }
    }
}

#[derive(Serialize)]
struct BuiltOut<'a> {
    xml: &'a str,
    warnings: Vec<IssueOut<'a>>,
    totals: TotalsOut<'a>,
}

#[derive(Serialize)]
struct SignedOut<'a> {
    xml: &'a str,
    hash: &'a str,
    signature: &'a str,
    qr: &'a str,
    uuid: &'a str,
    icv: Option<u64>,
    signing_time: &'a str,
    warnings: Vec<IssueOut<'a>>,
}

fn signed_out(s: &SignedInvoice) -> JsValue {
    to_value(&SignedOut {
        xml: &s.xml,
        hash: &s.hash,
        signature: &s.signature,
        qr: &s.qr,
        uuid: &s.uuid,
        icv: s.icv,
        signing_time: &s.signing_time,
        warnings: out::issues(&s.warnings),
    })
}

fn input(json: &str) -> JsResult<InvoiceInput> {
    InvoiceInput::from_json(json.as_bytes()).js()
}

fn chain_inputs(chain: JsValue) -> JsResult<ChainInputs> {
    args::check_keys(&chain, "chain", &["icv", "pih", "uuid"])?;
    Ok(args::decode_required::<Chain>(chain, "chain")?.into())
}

/// Validates invoice JSON (the core's input contract) and writes the unsigned UBL 2.1 XML.
/// Returns `{xml, warnings, totals}`; throws a `ZatcaError` listing every problem.
#[wasm_bindgen(js_name = buildInvoice)]
pub fn build_invoice(input_json: &str, chain: JsValue) -> JsResult<JsValue> {
    let chain = chain_inputs(chain)?;
    let built = ubl::build(&input(input_json)?, &chain).js()?;
    Ok(to_value(&BuiltOut {
        xml: &built.xml,
        warnings: out::issues(&built.warnings),
        totals: TotalsOut::from(&built.totals),
    }))
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
    let chain = chain_inputs(chain)?;
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
    Ok(to_value(&CertificateInfo::from(&cert)))
}

/// Decodes QR base64 text into its fields (tags 1–9; tags 8 and 9 as base64 of their DER).
/// Throws `invalid_qr`, `invalid_qr_tag` or `missing_qr_tag` with every problem listed.
#[wasm_bindgen(js_name = qrDecode)]
pub fn qr_decode(qr: &str) -> JsResult<JsValue> {
    Ok(to_value(&zatca_core::qr::decode_fields(qr).js()?))
}

#[derive(Serialize)]
struct TlvOut<'a> {
    tag: u8,
    name: Option<&'static str>,
    #[serde(serialize_with = "bytes")]
    value: &'a [u8],
    text: Option<&'a str>,
}

/// Decodes QR base64 text into its raw TLVs, in order, whatever their tags:
/// `[{tag, name, value: Uint8Array, text}]` (`text` is `null` when the value is not UTF-8).
#[wasm_bindgen(js_name = qrDecodeTlv)]
pub fn qr_decode_tlv(qr: &str) -> JsResult<JsValue> {
    let tlvs = zatca_core::qr::decode(qr).js()?;
    let list: Vec<TlvOut<'_>> = tlvs
        .iter()
        .map(|t| TlvOut {
            tag: t.tag,
            name: t.name(),
            value: &t.value,
            text: t.value_text(),
        })
        .collect();
    Ok(to_value(&list))
}

/// A human-readable dump of the QR payload, one `tag name: value` line per TLV (the format of
/// the golden corpus' `qr.txt`).
#[wasm_bindgen(js_name = qrDescribe)]
pub fn qr_describe(qr: &str) -> JsResult<String> {
    Ok(zatca_core::qr::describe(&zatca_core::qr::decode(qr).js()?))
}
