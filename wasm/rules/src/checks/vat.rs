//! VAT categories.

use zatca_core::xml::{Element, NS_CAC};

use super::Out;
use super::tree::{cac, cbc};

/// BR-KSA-18 over every VAT category code: invoice lines, the VAT breakdown and the allowances
/// and charges.
pub(super) fn categories(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let mut check = |el: Option<&Element<'_>>, path: String| {
        if let Some(id) = el.and_then(|c| cbc(c, "ID")) {
            let v = id.text().trim().to_owned();
            if !["S", "Z", "E", "O"].contains(&v.as_str()) {
                out.hit("BR-KSA-18", at(&path), Some(v.clone()));
            }
            // UNCL5305 as EN 16931 restricts it.
            if !["AE", "E", "S", "Z", "G", "O", "K", "L", "M", "B"].contains(&v.as_str()) {
                out.hit("BR-CL-18", at(&path), Some(v));
            }
        }
    };
    let mut n_line = 0;
    let mut n_total = 0;
    let mut n_charge = 0;
    for el in root.elements() {
        if el.is(NS_CAC, "InvoiceLine") {
            n_line += 1;
            check(
                el.path(&[(NS_CAC, "Item"), (NS_CAC, "ClassifiedTaxCategory")]),
                format!("/cac:InvoiceLine[{n_line}]/cac:Item/cac:ClassifiedTaxCategory/cbc:ID"),
            );
        } else if el.is(NS_CAC, "TaxTotal") {
            n_total += 1;
            for (k, sub) in el.elements().filter(|e| e.is(NS_CAC, "TaxSubtotal")).enumerate() {
                check(
                    cac(sub, "TaxCategory"),
                    format!(
                        "/cac:TaxTotal[{n_total}]/cac:TaxSubtotal[{}]/cac:TaxCategory/cbc:ID",
                        k + 1
                    ),
                );
            }
        } else if el.is(NS_CAC, "AllowanceCharge") {
            n_charge += 1;
            check(
                cac(el, "TaxCategory"),
                format!("/cac:AllowanceCharge[{n_charge}]/cac:TaxCategory/cbc:ID"),
            );
        }
    }
}
