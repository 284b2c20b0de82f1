//! The PDF module's export (feature `pdf`), loaded separately (`initPdf()`): the bilingual
//! PDF/A-3b of a signed or cleared document, with the XML embedded (zatca-pdf). It carries the
//! fonts, so it is by far the largest module; pages that only sign never load it.

use wasm_bindgen::prelude::*;

use crate::error::{JsResult, to_js};

/// Renders a signed or cleared UBL document as an A4 PDF/A-3b (bytes). Throws a `ZatcaError`
/// with zatca-pdf's code (`missing_qr` for an unsigned document, `invalid_xml`, …).
#[wasm_bindgen(js_name = renderPdf)]
pub fn render_pdf(xml: &[u8]) -> JsResult<Vec<u8>> {
    zatca_pdf::render(xml, &zatca_pdf::Options::default())
        .map_err(|e| to_js(&zatca_core::Error::with_code(e.code(), e.message())))
}
