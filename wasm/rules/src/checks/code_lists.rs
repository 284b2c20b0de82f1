//! Code lists and currency consistency.

use zatca_core::xml::{Element, NS_CAC, NS_CBC};

use super::Out;
use super::tree::{all, cac, cbc, listed, ns, sv};

/// The amounts BR-KSA-CL-02 reads anywhere in the document.
const CL02_ANYWHERE: [&str; 11] = [
    "Amount",
    "BaseAmount",
    "LineExtensionAmount",
    "PriceAmount",
    "TaxExclusiveAmount",
    "TaxInclusiveAmount",
    "AllowanceTotalAmount",
    "ChargeTotalAmount",
    "PrepaidAmount",
    "PayableRoundingAmount",
    "PayableAmount",
];

/// BR-KSA-CL-02 over the amounts of its context: those anywhere above, the VAT breakdown's
/// (`cac:TaxTotal/cac:TaxSubtotal/cbc:TaxableAmount|TaxAmount` of the document or of a line)
/// and a line's VAT and rounding amounts; each has a `currencyID`, not empty, matching the
/// document currency (`matches(DocumentCurrencyCode, @currencyID)`: a substring test for a
/// code). The document's own VAT totals (BT-110, BT-111) are outside the context. Reported once,
/// at the first offender.
pub(super) fn currencies(root: &Element<'_>, currency: Option<&str>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let currency = ns(currency.unwrap_or_default());
    fn walk<'e>(el: &'e Element<'e>, path: &mut Vec<&'e str>, currency: &str, found: &mut Option<(String, String)>) {
        for child in el.elements() {
            if found.is_some() {
                return;
            }
            path.push(child.name);
            if child.ns == NS_CBC {
                let local = child.local_name();
                let n = path.len();
                let up = |k: usize| (n > k).then(|| path[n - 1 - k].rsplit(':').next().unwrap_or_default());
                let line_or_root = |k: usize| up(k).is_some_and(|p| p == "InvoiceLine") || n == k;
                let in_context = CL02_ANYWHERE.contains(&local)
                    || (matches!(local, "TaxableAmount" | "TaxAmount")
                        && up(1) == Some("TaxSubtotal")
                        && up(2) == Some("TaxTotal")
                        && line_or_root(3))
                    || (matches!(local, "TaxAmount" | "RoundingAmount")
                        && up(1) == Some("TaxTotal")
                        && up(2) == Some("InvoiceLine"));
                if in_context {
                    let c = child.attr("currencyID");
                    if c.is_none_or(|c| c.is_empty() || !currency.contains(c)) {
                        *found = Some((super::header::joined(path), c.unwrap_or("(none)").to_owned()));
                        return;
                    }
                }
            } else if child.ns == NS_CAC {
                walk(child, path, currency, found);
            }
            path.pop();
        }
    }
    let mut found = None;
    walk(root, &mut Vec::new(), &currency, &mut found);
    if let Some((path, c)) = found {
        out.hit("BR-KSA-CL-02", at(&path), Some(format!("{c}, not {currency}")));
    }
}

/// ISO 4217 as both schematrons list it.
const CURRENCIES: &str = " AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRO MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLL SOS SRD SSP STD SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UZS VEF VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWL ";
/// ISO 3166-1 alpha-2 as EN 16931 lists it (with 1A and XI).
const COUNTRIES: &str = " 1A AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XI YE YT ZA ZM ZW ";
/// UNCL 4461 as EN 16931 lists it; the KSA list (BR-KSA-16) is the same without 69.
const PAYMENT_MEANS: &str = " 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64 65 66 67 68 69 70 74 75 76 77 78 91 92 93 94 95 96 97 ZZZ ";
const MIME_CODES: &str = " text/csv text/plain application/pdf image/png image/jpeg image/tiff application/acad application/dwg drawing/dwg application/vnd.openxmlformats-officedocument.spreadsheetml.sheet application/vnd.oasis.opendocument.spreadsheet ";
const AMOUNTS: [&str; 13] = [
    "Amount",
    "BaseAmount",
    "PriceAmount",
    "TaxAmount",
    "TaxableAmount",
    "LineExtensionAmount",
    "TaxExclusiveAmount",
    "TaxInclusiveAmount",
    "AllowanceTotalAmount",
    "ChargeTotalAmount",
    "PrepaidAmount",
    "PayableRoundingAmount",
    "PayableAmount",
];

/// The code lists: currencies (BR-CL-03, 04, 05, BR-KSA-CL-01), countries (BR-CL-14), payment
/// means (BR-CL-16, BR-KSA-16), attachment types (BR-KSA-CL-03), and the exchange rate block
/// (BR-KSA-87..90).
pub(super) fn lists(root: &Element<'_>, kind: &super::Kind, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let currency = cbc(root, "DocumentCurrencyCode");
    if let Some(c) = currency {
        if !listed(CURRENCIES, &c.text()) {
            out.hit("BR-CL-04", at("/cbc:DocumentCurrencyCode"), Some(c.text()));
            out.hit("BR-KSA-CL-01", at("/cbc:DocumentCurrencyCode"), Some(c.text()));
        }
    }
    if let Some(c) = cbc(root, "TaxCurrencyCode") {
        if !listed(CURRENCIES, &c.text()) {
            out.hit("BR-CL-05", at("/cbc:TaxCurrencyCode"), Some(c.text()));
        }
    }
    let mut found = None;
    walk(root, &mut Vec::new(), &mut "", &mut found);
    if let Some((path, c)) = found {
        out.hit("BR-CL-03", at(&path), Some(c));
    }
    // BR-KSA-CL-01 over the line VAT breakdown's and the rounding amount's currencies.
    let mut ksa = None;
    for (l, line) in all(root, NS_CAC, "InvoiceLine").enumerate() {
        for total in all(line, NS_CAC, "TaxTotal") {
            for sub in all(total, NS_CAC, "TaxSubtotal") {
                for local in ["TaxAmount", "TaxableAmount"] {
                    if let Some(c) = cbc(sub, local).and_then(|a| a.attr("currencyID")) {
                        if !listed(CURRENCIES, c) && ksa.is_none() {
                            ksa = Some((
                                format!(
                                    "/cac:InvoiceLine[{}]/cac:TaxTotal/cac:TaxSubtotal/cbc:{local}/@currencyID",
                                    l + 1
                                ),
                                c.to_owned(),
                            ));
                        }
                    }
                }
            }
        }
    }
    if let Some(c) = root
        .path(&[(NS_CAC, "LegalMonetaryTotal"), (NS_CBC, "PayableRoundingAmount")])
        .and_then(|a| a.attr("currencyID"))
    {
        if !listed(CURRENCIES, c) && ksa.is_none() {
            ksa = Some((
                "/cac:LegalMonetaryTotal/cbc:PayableRoundingAmount/@currencyID".to_owned(),
                c.to_owned(),
            ));
        }
    }
    if let Some((path, c)) = ksa {
        out.hit("BR-KSA-CL-01", at(&path), Some(c));
    }
    let mut country = None;
    country_codes(root, &mut Vec::new(), &mut country);
    if let Some((path, c)) = country {
        out.hit("BR-CL-14", at(&path), Some(c));
    }
    let type_name = cbc(root, "InvoiceTypeCode")
        .and_then(|t| t.attr("name"))
        .unwrap_or_default();
    let typed = type_name.starts_with("01") || type_name.starts_with("02");
    for (i, pm) in all(root, NS_CAC, "PaymentMeans").enumerate() {
        let p = at(&format!("/cac:PaymentMeans[{}]/cbc:PaymentMeansCode", i + 1));
        match cbc(pm, "PaymentMeansCode") {
            Some(code) => {
                if !listed(PAYMENT_MEANS, &code.text()) {
                    out.hit("BR-CL-16", p.clone(), Some(code.text()));
                }
                if typed && (!listed(PAYMENT_MEANS, &code.text()) || ns(&code.text()) == "69") {
                    out.hit("BR-KSA-16", p, Some(code.text()));
                }
            }
            None if kind.standard => out.hit("BR-49", p, None),
            None => {}
        }
    }
    for (i, r) in all(root, NS_CAC, "AdditionalDocumentReference").enumerate() {
        let Some(object) = r.path(&[(NS_CAC, "Attachment"), (NS_CBC, "EmbeddedDocumentBinaryObject")]) else {
            continue;
        };
        if !listed(MIME_CODES, object.attr("mimeCode").unwrap_or_default()) {
            out.hit(
                "BR-KSA-CL-03",
                at(&format!(
                    "/cac:AdditionalDocumentReference[{}]/cac:Attachment/cbc:EmbeddedDocumentBinaryObject/@mimeCode",
                    i + 1
                )),
                object.attr("mimeCode").map(str::to_owned),
            );
        }
    }
    exchange(root, at, out);
}

fn walk<'a>(el: &'a Element<'a>, path: &mut Vec<&'a str>, last: &mut &'a str, found: &mut Option<(String, String)>) {
    for child in el.elements() {
        if found.is_some() {
            return;
        }
        path.push(child.name);
        if child.ns == NS_CBC && AMOUNTS.contains(&child.local_name()) {
            if let Some(c) = child.attr("currencyID") {
                // Almost every amount is in the same currency: only a new one is looked up.
                if !c.is_empty() && c != *last && !listed(CURRENCIES, c) {
                    *found = Some((super::header::joined(path), c.to_owned()));
                }
                *last = c;
            }
        } else if child.ns == NS_CAC {
            walk(child, path, last, found);
        }
        path.pop();
    }
}

fn country_codes<'a>(el: &'a Element<'a>, path: &mut Vec<&'a str>, found: &mut Option<(String, String)>) {
    for child in el.elements().filter(|c| c.ns == NS_CAC) {
        if found.is_some() {
            return;
        }
        path.push(child.name);
        if child.is(NS_CAC, "Country") {
            for code in child.elements().filter(|c| c.is(NS_CBC, "IdentificationCode")) {
                let c = code.text();
                if found.is_none() && !listed(COUNTRIES, &c) {
                    *found = Some((format!("{}/cbc:IdentificationCode", super::header::joined(path)), c));
                }
            }
        } else {
            country_codes(child, path, found);
        }
        path.pop();
    }
}

/// BR-KSA-87..90: a `cac:TaxExchangeRate` is complete, its source currency is the document's,
/// its target the tax currency, its rate shorter than 15 characters. (`matches(A, B)` with a
/// currency code as the pattern is a substring test.)
fn exchange(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let Some(rate) = cac(root, "TaxExchangeRate") else {
        return;
    };
    let f = |local| cbc(rate, local);
    let filled = |local| f(local).is_some_and(|e| !e.text().is_empty());
    if !(filled("SourceCurrencyCode") && filled("TargetCurrencyCode") && filled("CalculationRate")) {
        out.hit("BR-KSA-87", at("/cac:TaxExchangeRate"), None);
    }
    let doc = ns(&sv(cbc(root, "DocumentCurrencyCode")));
    let tax = ns(&sv(cbc(root, "TaxCurrencyCode")));
    if filled("SourceCurrencyCode") && !doc.contains(sv(f("SourceCurrencyCode")).as_str()) {
        out.hit(
            "BR-KSA-88",
            at("/cac:TaxExchangeRate/cbc:SourceCurrencyCode"),
            Some(sv(f("SourceCurrencyCode"))),
        );
    }
    if filled("TargetCurrencyCode") && !tax.contains(sv(f("TargetCurrencyCode")).as_str()) {
        out.hit(
            "BR-KSA-89",
            at("/cac:TaxExchangeRate/cbc:TargetCurrencyCode"),
            Some(sv(f("TargetCurrencyCode"))),
        );
    }
    if filled("CalculationRate") && ns(&sv(f("CalculationRate"))).chars().count() >= 15 {
        out.hit(
            "BR-KSA-90",
            at("/cac:TaxExchangeRate/cbc:CalculationRate"),
            Some(sv(f("CalculationRate"))),
        );
    }
}
