//! Document totals (BR-CO arithmetic) and the VAT total in the tax currency.

use rust_decimal::Decimal;
use zatca_core::xml::{Element, NS_CAC};

use super::Out;
use super::tree::{cac, cbc, decimal, text};

pub(super) fn totals(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let currency = text(cbc(root, "DocumentCurrencyCode"));
    let tax_currency = text(cbc(root, "TaxCurrencyCode"));
    super::code_lists::currencies(root, currency.as_deref(), tax_currency.as_deref(), at, out);
    let tax_totals: Vec<&Element<'_>> = root.elements().filter(|e| e.is(NS_CAC, "TaxTotal")).collect();
    if let Some(tax) = &tax_currency {
        let given = tax_totals
            .iter()
            .filter_map(|t| cbc(t, "TaxAmount"))
            .any(|a| a.attr("currencyID") == Some(tax.as_str()));
        if !given {
            out.hit("BR-53", at("/cac:TaxTotal/cbc:TaxAmount"), Some(tax.clone()));
        }
    }
    let Some(lmt) = cac(root, "LegalMonetaryTotal") else {
        return;
    };
    let amount = |local: &str| decimal(cbc(lmt, local));
    let lines: Option<Decimal> = root
        .elements()
        .filter(|e| e.is(NS_CAC, "InvoiceLine"))
        .map(|l| decimal(cbc(l, "LineExtensionAmount")))
        .sum();
    if let (Some(declared), Some(sum)) = (amount("LineExtensionAmount"), lines) {
        if declared != sum {
            out.hit(
                "BR-CO-10",
                at("/cac:LegalMonetaryTotal/cbc:LineExtensionAmount"),
                Some(format!("{declared} != {sum}")),
            );
        }
    }
    // BR-CO-13 sums the lines (BT-131), not the declared BT-106.
    if let (Some(net), Some(without)) = (lines, amount("TaxExclusiveAmount")) {
        let allowances = amount("AllowanceTotalAmount").unwrap_or_default();
        let charges = amount("ChargeTotalAmount").unwrap_or_default();
        if without != net - allowances + charges {
            out.hit(
                "BR-CO-13",
                at("/cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount"),
                Some(format!("{without} != {net} - {allowances} + {charges}")),
            );
        }
    }
    // BT-110: the TaxTotal's TaxAmount in the document currency.
    let vat = tax_totals
        .iter()
        .filter_map(|t| cbc(t, "TaxAmount"))
        .find(|a| currency.is_none() || a.attr("currencyID") == currency.as_deref());
    let vat = match vat {
        Some(a) => decimal(Some(a)),
        None => Some(Decimal::ZERO),
    };
    if let (Some(without), Some(with), Some(vat)) = (amount("TaxExclusiveAmount"), amount("TaxInclusiveAmount"), vat) {
        if without + vat != with {
            out.hit(
                "BR-CO-15",
                at("/cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount"),
                Some(format!("{with} != {without} + {vat}")),
            );
        }
    }
    if let (Some(with), Some(payable)) = (amount("TaxInclusiveAmount"), amount("PayableAmount")) {
        let prepaid = amount("PrepaidAmount").unwrap_or_default();
        let rounding = amount("PayableRoundingAmount").unwrap_or_default();
        if payable != with - prepaid + rounding {
            out.hit(
                "BR-CO-16",
                at("/cac:LegalMonetaryTotal/cbc:PayableAmount"),
                Some(format!("{payable} != {with} - {prepaid} + {rounding}")),
            );
        }
    }
}
