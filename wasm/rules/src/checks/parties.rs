//! The seller and the buyer.

use zatca_core::xml::{Element, NS_CAC, NS_CBC};

use super::Out;
use super::tree::{all, blank, cac, cbc, chars, digits, ns, sv, text};

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
    // BR-KSA-39: a VAT number under a tax scheme whose ID is VAT.
    let vat_scheme = party.is_some_and(|p| {
        p.path(&[(NS_CAC, "PartyTaxScheme"), (NS_CAC, "TaxScheme")])
            .is_some_and(|s| all(s, NS_CBC, "ID").any(|id| ns(&id.text()) == "VAT"))
    });
    let company = party.and_then(|p| text(p.path(&[(NS_CAC, "PartyTaxScheme"), (NS_CBC, "CompanyID")])));
    if company.is_none() || !vat_scheme {
        out.hit("BR-KSA-39", at(&vat_path), None);
    }
    match company {
        None => {}
        Some(v) => {
            let b = v.as_bytes();
            if vat_scheme
                && !(b.len() == 15
                    && b.iter().all(u8::is_ascii_digit)
                    && b.first() == Some(&b'3')
                    && b.last() == Some(&b'3'))
            {
                out.hit("BR-KSA-40", at(&vat_path), Some(v));
            }
        }
    }
    // BR-KSA-08 as the schematron reads it: the (first) identifier exists and its trimmed scheme,
    // longer than two characters, is a substring of 'CRN MOM MLS SAG OTH 700'. (The message's
    // "alphanumeric only" is not checked by ZATCA's assert, nor here.)
    let first = party
        .into_iter()
        .flat_map(|p| p.elements().filter(|e| e.is(NS_CAC, "PartyIdentification")))
        .find_map(|pi| cbc(pi, "ID"));
    let scheme = ns(first.and_then(|id| id.attr("schemeID")).unwrap_or_default());
    if !(first.is_some() && scheme.chars().count() > 2 && "CRN MOM MLS SAG OTH 700".contains(scheme.as_str())) {
        out.hit(
            "BR-KSA-08",
            at(&format!("{base}/cac:PartyIdentification/cbc:ID")),
            Some(scheme),
        );
    }
    let address = party.and_then(|p| cac(p, "PostalAddress"));
    // `exists(...)` each: an empty element is present (its lengths are the F-06 rules').
    let missing: Vec<&str> = [
        "StreetName",
        "BuildingNumber",
        "PostalZone",
        "CityName",
        "CitySubdivisionName",
    ]
    .into_iter()
    .filter(|local| address.and_then(|a| cbc(a, local)).is_none())
    .chain(
        address
            .and_then(|a| a.path(&[(NS_CAC, "Country"), (NS_CBC, "IdentificationCode")]))
            .is_none()
            .then_some("Country/IdentificationCode"),
    )
    .collect();
    // The context is the seller's postal address: without one, BR-08 reports it.
    if address.is_some() && !missing.is_empty() {
        out.hit(
            "BR-KSA-09",
            at(&format!("{base}/cac:PostalAddress")),
            Some(missing.join(", ")),
        );
    }
    // `matches(cac:PostalAddress/cbc:BuildingNumber, '^[0-9]{4}$')`: a missing number fails too.
    if party.is_some() {
        let n = address.map(|a| sv(cbc(a, "BuildingNumber"))).unwrap_or_default();
        if !(n.len() == 4 && n.bytes().all(|b| b.is_ascii_digit())) {
            out.hit(
                "BR-KSA-37",
                at(&format!("{base}/cac:PostalAddress/cbc:BuildingNumber")),
                Some(n),
            );
        }
    }
}

const SELLER: &str = "/cac:AccountingSupplierParty/cac:Party";
const BUYER: &str = "/cac:AccountingCustomerParty/cac:Party";

/// The seller's and buyer's identifiers (BR-KSA-F-08, F-09, F-12, F-13: both parties), the
/// buyer's identification (BR-KSA-14, F-07, F-10, F-11, 81), VAT number (BR-KSA-44, 99,
/// BR-CUSTOM-VALIDATION-01), name (BR-KSA-42, 71, 25 and the lengths) and address (BR-KSA-10,
/// 63, 67, 72 and the lengths), the seller's address details (BR-KSA-66, BR-08, BR-09, lengths).
pub(super) fn parties(root: &Element<'_>, kind: &super::Kind, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let seller = root.path(&[(NS_CAC, "AccountingSupplierParty"), (NS_CAC, "Party")]);
    let buyer = root.path(&[(NS_CAC, "AccountingCustomerParty"), (NS_CAC, "Party")]);
    for (party, base, allowed) in [
        (
            root.child(NS_CAC, "AccountingSupplierParty"),
            SELLER,
            &["CRN", "MOM", "MLS", "700", "SAG", "OTH"][..],
        ),
        (
            root.child(NS_CAC, "AccountingCustomerParty"),
            BUYER,
            &[
                "TIN", "CRN", "MOM", "MLS", "700", "SAG", "NAT", "GCC", "IQA", "OTH", "PAS",
            ][..],
        ),
    ] {
        let Some(party) = party else { continue };
        identifiers(party, base, allowed, at, out);
    }
    let id_path = |s: &str| at(&format!("{s}/cac:PartyIdentification/cbc:ID"));
    // BR-KSA-14 and the formats, for each buyer identifier.
    for id in buyer
        .into_iter()
        .flat_map(|b| all(b, NS_CAC, "PartyIdentification"))
        .filter_map(|p| cbc(p, "ID"))
    {
        let scheme = ns(id.attr("schemeID").unwrap_or_default());
        let value = id.text();
        let v = ns(&value);
        if !(scheme.chars().count() > 2 && "TIN NAT IQA PAS CRN MOM MLS 700 SAG GCC OTH".contains(scheme.as_str())) {
            out.hit("BR-KSA-14", id_path(BUYER), Some(scheme.clone()));
        }
        let ten = v.chars().count() == 10 && digits(&value);
        for (rule, s, first) in [
            ("BR-KSA-F-07", "TIN", '3'),
            ("BR-KSA-F-10", "NAT", '1'),
            ("BR-KSA-F-11", "IQA", '2'),
        ] {
            if scheme == s && !(ten && v.starts_with(first)) {
                out.hit(rule, id_path(BUYER), Some(value.clone()));
            }
        }
    }
    let tax_id = [(NS_CAC, "PartyTaxScheme"), (NS_CBC, "CompanyID")];
    let seller_vat = seller.and_then(|p| p.path(&tax_id)).map(|e| e.text());
    let buyer_vat_el = buyer.and_then(|p| p.path(&tax_id));
    let buyer_vat = buyer_vat_el.map(|e| e.text());
    if let (Some(s), Some(b)) = (&seller_vat, &buyer_vat) {
        if !s.is_empty() && !b.is_empty() && s == b {
            out.hit(
                "BR-CUSTOM-VALIDATION-01",
                at(&format!("{BUYER}/cac:PartyTaxScheme/cbc:CompanyID")),
                Some(b.clone()),
            );
        }
    }
    if let Some(b) = &buyer_vat {
        let path = at(&format!("{BUYER}/cac:PartyTaxScheme/cbc:CompanyID"));
        if kind.standard && blank(buyer_vat_el) {
            out.hit("BR-KSA-99", path.clone(), None);
        }
        let bytes = b.as_bytes();
        let well_formed = bytes.len() == 15 && digits(b) && bytes[0] == b'3' && bytes[14] == b'3';
        if !b.is_empty() && !well_formed {
            out.hit("BR-KSA-44", path, Some(b.clone()));
        }
    }
    let name = buyer.and_then(|b| b.path(&[(NS_CAC, "PartyLegalEntity"), (NS_CBC, "RegistrationName")]));
    let name_path = at(&format!("{BUYER}/cac:PartyLegalEntity/cbc:RegistrationName"));
    if kind.standard && buyer.is_some() && name.is_none_or(|n| n.text().is_empty()) {
        out.hit("BR-KSA-42", name_path.clone(), None);
    }
    let type_name = root
        .child(NS_CBC, "InvoiceTypeCode")
        .and_then(|t| t.attr("name"))
        .unwrap_or_default();
    let typed = type_name.starts_with("01") || type_name.starts_with("02");
    let simplified_type = type_name.starts_with("02");
    if typed && kind.standard && name.is_some() && (chars(name) > 1000 || chars(name) < 1) {
        out.hit("BR-KSA-F-06-C12", name_path.clone(), None);
    }
    if typed && kind.simplified_code && name.is_some() && chars(name) > 1000 {
        out.hit("BR-KSA-F-06-C32", name_path.clone(), None);
    }
    // BR-KSA-71: any RegistrationName under the buyer's party, at any depth.
    if simplified_type {
        let mut names = Vec::new();
        if let Some(b) = buyer {
            descendants(b, NS_CAC, "PartyLegalEntity", &mut names);
        }
        let first = names.iter().find_map(|e| cbc(e, "RegistrationName"));
        if kind.simplified_summary && (first.is_none() || blank(first)) {
            out.hit("BR-KSA-71", name_path.clone(), None);
        }
        // BR-KSA-25: when every exemption reason code is a substring of ' VATEX-SA-HEA VATEX-SA-EDU '
        // and there is one, the buyer's name is required (`every ... satisfies A and B` binds B
        // inside the quantifier, so a document without codes passes).
        let mut codes = Vec::new();
        for total in all(root, NS_CAC, "TaxTotal") {
            for sub in all(total, NS_CAC, "TaxSubtotal") {
                if let Some(c) = sub.path(&[(NS_CAC, "TaxCategory"), (NS_CBC, "TaxExemptionReasonCode")]) {
                    codes.push(c.text());
                }
            }
        }
        let every = codes.iter().all(|c| " VATEX-SA-HEA VATEX-SA-EDU ".contains(c.as_str()));
        if every && !codes.is_empty() && name.is_none_or(|n| n.text().is_empty()) {
            out.hit("BR-KSA-25", name_path.clone(), None);
        }
    }
    let address = buyer.and_then(|b| cac(b, "PostalAddress"));
    let field = |local: &str| address.and_then(|a| cbc(a, local));
    let country = address.and_then(|a| a.path(&[(NS_CAC, "Country"), (NS_CBC, "IdentificationCode")]));
    let a_path = |local: &str| at(&format!("{BUYER}/cac:PostalAddress/cbc:{local}"));
    if typed && kind.standard && !(chars(country) > 0 && chars(field("StreetName")) > 0 && chars(field("CityName")) > 0)
    {
        out.hit("BR-KSA-10", at(&format!("{BUYER}/cac:PostalAddress")), None);
    }
    let street = field("StreetName");
    if typed && kind.standard && (street.is_none() || chars(street) > 1000 || chars(street) < 1) {
        out.hit("BR-KSA-F-06-C23", a_path("StreetName"), None);
    }
    if typed && kind.simplified_code && street.is_some() && chars(street) > 1000 {
        out.hit("BR-KSA-F-06-C24", a_path("StreetName"), None);
    }
    let city = field("CityName");
    if typed && kind.standard && (city.is_none() || chars(city) < 1) {
        out.hit("BR-KSA-F-06-C25", a_path("CityName"), None);
    }
    if typed && city.is_some() && chars(city) > 127 {
        out.hit("BR-KSA-F-06-C26", a_path("CityName"), None);
    }
    if field("CountrySubentity").is_some() && chars(field("CountrySubentity")) > 127 {
        out.hit("BR-KSA-F-06-C27", a_path("CountrySubentity"), None);
    }
    // The rules whose context is a Saudi buyer's country (`Country[cbc:IdentificationCode = 'SA']`).
    let saudi = address
        .and_then(|a| cac(a, "Country"))
        .is_some_and(|c| all(c, NS_CBC, "IdentificationCode").any(|i| i.text() == "SA"));
    if saudi && kind.standard {
        let required = [
            "StreetName",
            "BuildingNumber",
            "PostalZone",
            "CityName",
            "CitySubdivisionName",
        ];
        if required.iter().any(|l| blank(field(l))) || blank(country) {
            out.hit("BR-KSA-63", at(&format!("{BUYER}/cac:PostalAddress")), None);
        }
        let district = field("CitySubdivisionName");
        if district.is_none() || chars(district) < 1 {
            out.hit("BR-KSA-F-06-C28", a_path("CitySubdivisionName"), None);
        }
        if district.is_some() && chars(district) > 127 {
            out.hit("BR-KSA-F-06-C29", a_path("CitySubdivisionName"), None);
        }
        let seller_district =
            seller.and_then(|s| s.path(&[(NS_CAC, "PostalAddress"), (NS_CBC, "CitySubdivisionName")]));
        if seller_district.is_some() && (chars(seller_district) > 127 || chars(seller_district) < 1) {
            out.hit(
                "BR-KSA-F-06-C9",
                at(&format!("{SELLER}/cac:PostalAddress/cbc:CitySubdivisionName")),
                None,
            );
        }
        let zone = sv(field("PostalZone"));
        if sv(country) == "SA" && !(zone.len() == 5 && digits(&zone)) {
            out.hit("BR-KSA-67", a_path("PostalZone"), Some(zone));
        }
    }
    if saudi && kind.simplified_summary {
        let delivery = |local| {
            let mut found = Vec::new();
            descendants(root, NS_CBC, local, &mut found);
            !found.is_empty()
        };
        if !(delivery("ActualDeliveryDate") && delivery("LatestDeliveryDate")) {
            out.hit("BR-KSA-72", at("/cac:Delivery"), None);
        }
    }
    // BR-KSA-81: a standard document's buyer without VAT number needs another identifier.
    let buyer_ids = buyer.and_then(|b| b.path(&[(NS_CAC, "PartyIdentification"), (NS_CBC, "ID")]));
    if kind.standard && buyer_vat_el.is_none() && blank(buyer_ids) {
        out.hit("BR-KSA-81", id_path(BUYER), None);
    }
    if let Some(contact) = buyer.and_then(|b| cac(b, "Contact")) {
        let phone = sv(cbc(contact, "Telephone"));
        let ok = {
            let rest = phone.strip_prefix(['0', '+']).unwrap_or("x");
            (4..=15).contains(&rest.len()) && digits(rest)
        };
        if !phone.is_empty() && !ok {
            out.hit(
                "BR-KSA-85",
                at(&format!("{BUYER}/cac:Contact/cbc:Telephone")),
                Some(phone),
            );
        }
        if chars(cbc(contact, "Name")) > 1000 {
            out.hit("BR-KSA-F-06-C37", at(&format!("{BUYER}/cac:Contact/cbc:Name")), None);
        }
        if chars(cbc(contact, "Note")) > 1000 {
            out.hit("BR-KSA-F-06-C38", at(&format!("{BUYER}/cac:Contact/cbc:Note")), None);
        }
    }
    seller_details(root, seller, buyer, at, out);
}

fn seller_details(
    root: &Element<'_>,
    seller: Option<&Element<'_>>,
    buyer: Option<&Element<'_>>,
    at: &dyn Fn(&str) -> String,
    out: &mut Out,
) {
    let name = seller.and_then(|s| s.path(&[(NS_CAC, "PartyLegalEntity"), (NS_CBC, "RegistrationName")]));
    if name.is_some() && (chars(name) > 1000 || chars(name) < 1) {
        out.hit(
            "BR-KSA-F-06-C10",
            at(&format!("{SELLER}/cac:PartyLegalEntity/cbc:RegistrationName")),
            None,
        );
    }
    let address = seller.and_then(|s| cac(s, "PostalAddress"));
    let Some(address) = address else {
        if root.child(NS_CAC, "AccountingSupplierParty").is_some() || seller.is_none() {
            out.hit("BR-08", at(&format!("{SELLER}/cac:PostalAddress")), None);
        }
        return;
    };
    let a_path = |local: &str| at(&format!("{SELLER}/cac:PostalAddress/cbc:{local}"));
    let f = |local: &str| cbc(address, local);
    if f("StreetName").is_some() && (chars(f("StreetName")) > 1000 || chars(f("StreetName")) < 1) {
        out.hit("BR-KSA-F-06-C4", a_path("StreetName"), None);
    }
    if chars(f("AdditionalStreetName")) > 127 {
        out.hit("BR-KSA-F-06-C6", a_path("AdditionalStreetName"), None);
    }
    if f("CityName").is_some() && (chars(f("CityName")) > 127 || chars(f("CityName")) < 1) {
        out.hit("BR-KSA-F-06-C7", a_path("CityName"), None);
    }
    if chars(f("CountrySubentity")) > 127 {
        out.hit("BR-KSA-F-06-C8", a_path("CountrySubentity"), None);
    }
    let buyer_extra = buyer.and_then(|b| b.path(&[(NS_CAC, "PostalAddress"), (NS_CBC, "AdditionalStreetName")]));
    if chars(buyer_extra) > 127 {
        out.hit(
            "BR-KSA-F-06-C11",
            at(&format!("{BUYER}/cac:PostalAddress/cbc:AdditionalStreetName")),
            None,
        );
    }
    let zone = sv(f("PostalZone"));
    if !(zone.len() == 5 && digits(&zone)) {
        out.hit("BR-KSA-66", a_path("PostalZone"), Some(zone));
    }
    if sv(address.path(&[(NS_CAC, "Country"), (NS_CBC, "IdentificationCode")])).is_empty() {
        out.hit(
            "BR-09",
            at(&format!(
                "{SELLER}/cac:PostalAddress/cac:Country/cbc:IdentificationCode"
            )),
            None,
        );
    }
}

/// BR-KSA-F-08, F-09 (first identifier: CRN ten digits, 700 ten digits from 7), F-12 (a scheme
/// with surrounding spaces) and F-13 (a numeric identifier of eight ascending, descending or
/// repeated digits) for one party.
fn identifiers(party: &Element<'_>, base: &str, allowed: &[&str], at: &dyn Fn(&str) -> String, out: &mut Out) {
    let ids: Vec<&Element<'_>> = party
        .child(NS_CAC, "Party")
        .into_iter()
        .flat_map(|p| all(p, NS_CAC, "PartyIdentification"))
        .filter_map(|pi| cbc(pi, "ID"))
        .collect();
    let path = at(&format!("{base}/cac:PartyIdentification/cbc:ID"));
    if let Some(first) = ids.first() {
        let raw = first.attr("schemeID").unwrap_or_default();
        let scheme = ns(raw);
        let value = first.text();
        let v = ns(&value);
        let ten = v.chars().count() == 10 && digits(&value);
        if scheme == "CRN" && !ten {
            out.hit("BR-KSA-F-08", path.clone(), Some(value.clone()));
        }
        if scheme == "700" && !(ten && v.starts_with('7')) {
            out.hit("BR-KSA-F-09", path.clone(), Some(value.clone()));
        }
        if !raw.is_empty() && allowed.contains(&scheme.to_ascii_uppercase().as_str()) && raw != scheme {
            out.hit("BR-KSA-F-12", path.clone(), Some(format!("schemeID={raw:?}")));
        }
    }
    let bad = ids.iter().any(|id| {
        let scheme = ns(id.attr("schemeID").unwrap_or_default()).to_ascii_uppercase();
        let v = ns(&id.text());
        allowed.contains(&scheme.as_str())
            && digits(&v)
            && v.as_bytes().windows(8).any(|w| {
                let up = w.windows(2).all(|p| p[1] == p[0] + 1);
                let down = w.windows(2).all(|p| p[0] == p[1] + 1);
                let same = w.iter().all(|b| *b == w[0]);
                up || down || same
            })
    });
    if bad {
        out.hit("BR-KSA-F-13", path, None);
    }
}

fn descendants<'e, 'a>(el: &'e Element<'a>, ns: &str, local: &str, found: &mut Vec<&'e Element<'a>>) {
    for child in el.elements() {
        if child.is(ns, local) {
            found.push(child);
        }
        descendants(child, ns, local, found);
    }
}
