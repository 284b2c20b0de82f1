//! Code lists and currency consistency.

use zatca_core::xml::{Element, NS_CAC, NS_CBC};

use super::Out;
use super::tree::cbc;

/// BR-KSA-CL-02: every `currencyID` is the document currency, except BT-111 (a root
/// `cac:TaxTotal/cbc:TaxAmount` in the tax currency). Reported once, at the first offender.
pub(super) fn currencies(
    root: &Element<'_>,
    currency: Option<&str>,
    tax_currency: Option<&str>,
    at: &dyn Fn(&str) -> String,
    out: &mut Out,
) {
    // Without a document currency every currencyID differs from it, as in the schematron.
    let currency = currency.unwrap_or_default();
    fn walk<'e>(el: &'e Element<'e>, path: &str, currency: &str, found: &mut Option<(String, String)>) {
        for child in el.elements() {
            if found.is_some() {
                return;
            }
            let here = format!("{path}/{}", child.name);
            if let Some(c) = child.attr("currencyID") {
                if c != currency {
                    *found = Some((here.clone(), c.to_owned()));
                    return;
                }
            }
            walk(child, &here, currency, found);
        }
    }
    let mut found = None;
    for (i, el) in root.elements().enumerate() {
        let bt111 = el.is(NS_CAC, "TaxTotal")
            && cbc(el, "TaxAmount").and_then(|a| a.attr("currencyID")) == tax_currency
            && tax_currency.is_some();
        if bt111 {
            // Only the BT-111 amount itself may differ; a breakdown inside must not.
            let inner: Vec<&Element<'_>> = el.elements().filter(|e| !e.is(NS_CBC, "TaxAmount")).collect();
            for e in inner {
                let mut f = None;
                if let Some(c) = e.attr("currencyID") {
                    if c != currency {
                        f = Some((format!("/{}[{}]/{}", el.name, i + 1, e.name), c.to_owned()));
                    }
                }
                if f.is_none() {
                    walk(e, &format!("/{}/{}", el.name, e.name), currency, &mut f);
                }
                if f.is_some() {
                    found = f;
                    break;
                }
            }
        } else if el.attr("currencyID").is_some_and(|c| c != currency) {
            found = Some((
                format!("/{}", el.name),
                el.attr("currencyID").unwrap_or_default().to_owned(),
            ));
        } else {
            walk(el, &format!("/{}", el.name), currency, &mut found);
        }
        if found.is_some() {
            break;
        }
    }
    if let Some((path, c)) = found {
        out.hit("BR-KSA-CL-02", at(&path), Some(format!("{c}, not {currency}")));
    }
}
