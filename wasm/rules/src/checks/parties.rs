//! The seller and the buyer.

use zatca_core::xml::{Element, NS_CAC, NS_CBC};

use super::Out;
use super::tree::{cac, cbc, text};

pub(super) fn seller(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let party = root.path(&[(NS_CAC, "AccountingSupplierParty"), (NS_CAC, "Party")]);
    let base = "/cac:AccountingSupplierParty/cac:Party";
    let name = party.and_then(|p| text(p.path(&[(NS_CAC, "PartyLegalEntity"), (NS_CBC, "RegistrationName")])));
    if name.is_none() {
        out.hit(
            "BR-06",
            at(&format!("{base}/cac:PartyLegalEntity/cbc:RegistrationName")),
            None,
        );
    }
    let vat_path = format!("{base}/cac:PartyTaxScheme/cbc:CompanyID");
    match party.and_then(|p| text(p.path(&[(NS_CAC, "PartyTaxScheme"), (NS_CBC, "CompanyID")]))) {
        None => out.hit("BR-KSA-39", at(&vat_path), None),
        Some(v) => {
            let b = v.as_bytes();
            if !(b.len() == 15
                && b.iter().all(u8::is_ascii_digit)
                && b.first() == Some(&b'3')
                && b.last() == Some(&b'3'))
            {
                out.hit("BR-KSA-40", at(&vat_path), Some(v));
            }
        }
    }
    const SCHEMES: [&str; 6] = ["CRN", "MOM", "MLS", "SAG", "OTH", "700"];
    let ids: Vec<(String, String)> = party
        .into_iter()
        .flat_map(|p| p.elements().filter(|e| e.is(NS_CAC, "PartyIdentification")))
        .filter_map(|pi| cbc(pi, "ID"))
        .map(|id| {
            (
                id.attr("schemeID").unwrap_or_default().to_owned(),
                id.text().trim().to_owned(),
            )
        })
        .filter(|(scheme, _)| SCHEMES.contains(&scheme.as_str()))
        .collect();
    let id_ok = matches!(ids.as_slice(), [(_, v)] if !v.is_empty() && v.chars().all(char::is_alphanumeric));
    if !id_ok {
        out.hit(
            "BR-KSA-08",
            at(&format!("{base}/cac:PartyIdentification/cbc:ID")),
            Some(format!("{ids:?}")),
        );
    }
    let address = party.and_then(|p| cac(p, "PostalAddress"));
    let missing: Vec<&str> = [
        "StreetName",
        "BuildingNumber",
        "PostalZone",
        "CityName",
        "CitySubdivisionName",
    ]
    .into_iter()
    .filter(|local| address.and_then(|a| text(cbc(a, local))).is_none())
    .chain(
        address
            .and_then(|a| text(a.path(&[(NS_CAC, "Country"), (NS_CBC, "IdentificationCode")])))
            .is_none()
            .then_some("Country/IdentificationCode"),
    )
    .collect();
    if !missing.is_empty() {
        out.hit(
            "BR-KSA-09",
            at(&format!("{base}/cac:PostalAddress")),
            Some(missing.join(", ")),
        );
    }
    if let Some(n) = address.and_then(|a| text(cbc(a, "BuildingNumber"))) {
        if !(n.len() == 4 && n.bytes().all(|b| b.is_ascii_digit())) {
            out.hit(
                "BR-KSA-37",
                at(&format!("{base}/cac:PostalAddress/cbc:BuildingNumber")),
                Some(n),
            );
        }
    }
}
