//! Tree helpers shared by the checks.

use rust_decimal::Decimal;
use zatca_core::xml::{Element, NS_CAC, NS_CBC};

pub(crate) fn cbc<'e, 'a>(el: &'e Element<'a>, local: &str) -> Option<&'e Element<'a>> {
    el.child(NS_CBC, local)
}

pub(crate) fn cac<'e, 'a>(el: &'e Element<'a>, local: &str) -> Option<&'e Element<'a>> {
    el.child(NS_CAC, local)
}

pub(crate) fn text(el: Option<&Element<'_>>) -> Option<String> {
    el.map(|e| e.text().trim().to_owned()).filter(|t| !t.is_empty())
}

/// The `cac:AdditionalDocumentReference` whose `cbc:ID` is `id`.
pub(crate) fn reference<'e, 'a>(root: &'e Element<'a>, id: &str) -> Option<&'e Element<'a>> {
    root.elements()
        .filter(|e| e.is(NS_CAC, "AdditionalDocumentReference"))
        .find(|e| cbc(e, "ID").is_some_and(|i| i.text().trim() == id))
}

pub(crate) fn decimal(el: Option<&Element<'_>>) -> Option<Decimal> {
    text(el)?.parse().ok()
}
