//! The rule implementations, over the core's XML tree. Each reads what its schematron assert
//! reads; locations are written as `/Invoice/cac:X[n]/cbc:Y` (1-based positions where an
//! element repeats).

use rust_decimal::Decimal;
use zatca_core::xml::{self, Element, NS_CAC, NS_CBC};

use crate::{Context, Finding, Severity};

/// The implemented rules: id, Arabic message, hint. Every id here is a rule of the list (a test
/// checks it) and is reported by at least one mutated sample of the golden tests.
pub const IMPLEMENTED: &[(&str, &str, Option<&str>)] = &[
    (
        "BR-02",
        "يجب أن تحتوي الفاتورة على رقم الفاتورة (BT-1).",
        Some("add cbc:ID with the invoice number"),
    ),
    (
        "BR-03",
        "يجب أن تحتوي الفاتورة على تاريخ الإصدار (BT-2).",
        Some("add cbc:IssueDate as YYYY-MM-DD"),
    ),
    (
        "BR-04",
        "يجب أن تحتوي الفاتورة على رمز نوع الفاتورة (BT-3).",
        Some("add cbc:InvoiceTypeCode (388, 381 or 383)"),
    ),
    (
        "BR-05",
        "يجب أن تحتوي الفاتورة على رمز عملة الفاتورة (BT-5).",
        Some("add cbc:DocumentCurrencyCode, e.g. SAR"),
    ),
    (
        "BR-06",
        "يجب أن تحتوي الفاتورة على اسم البائع (BT-27).",
        Some("add the seller's cac:PartyLegalEntity/cbc:RegistrationName"),
    ),
    ("BR-16", "يجب أن تحتوي الفاتورة على بند واحد على الأقل (BG-25).", None),
    (
        "BR-53",
        "إذا وُجد رمز عملة محاسبة الضريبة (BT-6) فيجب ذكر إجمالي ضريبة القيمة المضافة بتلك العملة (BT-111).",
        Some("add a cac:TaxTotal whose cbc:TaxAmount has currencyID equal to cbc:TaxCurrencyCode"),
    ),
    ("BR-CL-18", "يجب أن تكون رموز فئات الضريبة من قائمة UNCL5305.", None),
    (
        "BR-CO-10",
        "يجب أن يساوي مجموع صافي مبالغ البنود (BT-106) مجموع صافي مبلغ كل بند (BT-131).",
        Some("recompute the cac:LegalMonetaryTotal cbc:LineExtensionAmount as the sum of the lines' amounts"),
    ),
    (
        "BR-CO-13",
        "يجب أن يساوي الإجمالي دون الضريبة (BT-109) مجموع صافي البنود مطروحاً منه الخصومات ومضافاً إليه الرسوم على مستوى المستند.",
        Some("recompute cbc:TaxExclusiveAmount"),
    ),
    (
        "BR-CO-15",
        "يجب أن يساوي إجمالي الفاتورة شاملاً الضريبة (BT-112) الإجمالي دون الضريبة (BT-109) مضافاً إليه إجمالي ضريبة القيمة المضافة (BT-110).",
        Some("recompute cbc:TaxInclusiveAmount as TaxExclusiveAmount + TaxAmount"),
    ),
    (
        "BR-CO-16",
        "يجب أن يساوي المبلغ المستحق (BT-115) الإجمالي شاملاً الضريبة (BT-112) مطروحاً منه المبلغ المدفوع مسبقاً (BT-113) ومضافاً إليه مبلغ التقريب (BT-114).",
        Some("recompute cbc:PayableAmount"),
    ),
    (
        "BR-KSA-03",
        "يجب أن تحتوي الفاتورة على معرّف فريد (UUID) لا يتضمن إلا أحرفاً وأرقاماً وشرطات (KSA-1).",
        Some("add cbc:UUID, e.g. a random UUID v4"),
    ),
    (
        "BR-KSA-05",
        "يجب أن يكون رمز نوع الفاتورة (BT-3) من القيم المعتمدة في المملكة: 388 أو 383 أو 381 أو 386.",
        Some("use 388 (invoice), 383 (debit note) or 381 (credit note)"),
    ),
    (
        "BR-KSA-06",
        "يجب أن يوجد رمز نوع المعاملة (KSA-2) وأن يتبع البنية NNPNESB: ‎01 أو 02 ثم خمس خانات من 0 أو 1.",
        Some("set InvoiceTypeCode/@name, e.g. 0100000 (standard) or 0200000 (simplified)"),
    ),
    ("BR-KSA-07", "لا يُسمح بالفوترة الذاتية في فواتير التصدير (KSA-2).", None),
    (
        "BR-KSA-08",
        "يجب أن يوجد معرّف البائع (BT-29) مرة واحدة بأحد أنظمة المعرّفات (CRN أو MOM أو MLS أو SAG أو OTH أو 700) وألا يحتوي إلا على أحرف وأرقام.",
        Some("add the seller's cac:PartyIdentification/cbc:ID with schemeID CRN (or MOM, MLS, SAG, OTH, 700)"),
    ),
    (
        "BR-KSA-09",
        "يجب أن يتضمن عنوان البائع اسم الشارع ورقم المبنى والرمز البريدي والمدينة والحي ورمز الدولة.",
        Some(
            "complete the seller's cac:PostalAddress: StreetName, BuildingNumber, PostalZone, CityName, CitySubdivisionName, Country/IdentificationCode",
        ),
    ),
    (
        "BR-KSA-15",
        "يجب أن تتضمن الفاتورة الضريبية (388، النوع 01) تاريخ التوريد (KSA-5).",
        Some("add cac:Delivery/cbc:ActualDeliveryDate"),
    ),
    (
        "BR-KSA-17",
        "يجب أن يتضمن الإشعار الدائن أو المدين سبب إصداره (KSA-10).",
        Some("add cac:PaymentMeans/cbc:InstructionNote with the reason"),
    ),
    (
        "BR-KSA-18",
        "يجب أن يكون رمز فئة ضريبة القيمة المضافة أحد القيم S أو Z أو E أو O.",
        None,
    ),
    (
        "BR-KSA-31",
        "لا يُسمح بالفوترة الذاتية في الفواتير المبسطة وإشعاراتها (KSA-2).",
        None,
    ),
    (
        "BR-KSA-33",
        "يجب أن تحتوي كل فاتورة على قيمة عداد الفاتورة (KSA-16).",
        Some("add cac:AdditionalDocumentReference with cbc:ID ICV and cbc:UUID the counter"),
    ),
    (
        "BR-KSA-34",
        "يجب ألا تحتوي قيمة عداد الفاتورة (KSA-16) إلا على أرقام.",
        None,
    ),
    (
        "BR-KSA-35",
        "إذا تضمنت الفاتورة تاريخ نهاية التوريد (KSA-24) فيجب أن تتضمن تاريخ التوريد (KSA-5).",
        Some("add cac:Delivery/cbc:ActualDeliveryDate"),
    ),
    (
        "BR-KSA-36",
        "يجب أن يكون تاريخ نهاية التوريد (KSA-24) مساوياً لتاريخ التوريد (KSA-5) أو لاحقاً له.",
        None,
    ),
    ("BR-KSA-37", "يجب أن يتكون رقم مبنى عنوان البائع من أربعة أرقام.", None),
    (
        "BR-KSA-39",
        "يجب أن تحتوي الفاتورة على رقم تسجيل البائع في ضريبة القيمة المضافة (BT-31).",
        None,
    ),
    (
        "BR-KSA-40",
        "يجب أن يتكون رقم تسجيل البائع في ضريبة القيمة المضافة (BT-31) من 15 رقماً يبدأ وينتهي بالرقم 3.",
        Some("the VAT number is 15 digits, 3…3"),
    ),
    (
        "BR-KSA-61",
        "يجب أن تحتوي الفاتورة على تجزئة الفاتورة السابقة (KSA-13).",
        Some("add cac:AdditionalDocumentReference with cbc:ID PIH and the previous invoice hash"),
    ),
    (
        "BR-KSA-CL-02",
        "يجب أن تطابق جميع سمات currencyID رمز عملة الفاتورة (BT-5)، باستثناء إجمالي الضريبة بعملة المحاسبة (BT-111).",
        Some("write every amount in the document currency"),
    ),
    (
        "BR-KSA-68",
        "يجب أن تحتوي الفاتورة على رمز عملة الضريبة (BT-6).",
        Some("add cbc:TaxCurrencyCode SAR"),
    ),
    (
        "BR-KSA-EN16931-01",
        "يجب أن تكون قيمة عملية الأعمال (BT-23) هي reporting:1.0.",
        Some("set cbc:ProfileID to reporting:1.0"),
    ),
    (
        "BR-KSA-EN16931-02",
        "يجب أن يكون رمز عملة محاسبة ضريبة القيمة المضافة (BT-6) هو SAR.",
        Some("set cbc:TaxCurrencyCode to SAR"),
    ),
];

/// Findings of rules that are not in ZATCA's list.
const XML_AR: &str = "تعذّرت قراءة المستند: ليس مستند XML سليماً بترميز UTF-8.";
const PIH_AR: &str = "تجزئة الفاتورة السابقة (KSA-13) ليست التجزئة المتوقعة.";

struct Out {
    findings: Vec<Finding>,
}

impl Out {
    fn hit(&mut self, id: &'static str, location: impl Into<String>, detail: Option<String>) {
        let (severity, message) = crate::rule(id).map_or((Severity::Error, ""), |r| (r.severity, r.message));
        let (message_ar, hint) = IMPLEMENTED
            .iter()
            .find(|(i, ..)| *i == id)
            .map_or(("", None), |(_, ar, hint)| (*ar, *hint));
        self.findings.push(Finding {
            rule: id,
            severity,
            location: location.into(),
            message,
            message_ar,
            hint,
            detail,
        });
    }
}

fn cbc<'e, 'a>(el: &'e Element<'a>, local: &str) -> Option<&'e Element<'a>> {
    el.child(NS_CBC, local)
}

fn cac<'e, 'a>(el: &'e Element<'a>, local: &str) -> Option<&'e Element<'a>> {
    el.child(NS_CAC, local)
}

fn text(el: Option<&Element<'_>>) -> Option<String> {
    el.map(|e| e.text().trim().to_owned()).filter(|t| !t.is_empty())
}

/// The `cac:AdditionalDocumentReference` whose `cbc:ID` is `id`.
fn reference<'e, 'a>(root: &'e Element<'a>, id: &str) -> Option<&'e Element<'a>> {
    root.elements()
        .filter(|e| e.is(NS_CAC, "AdditionalDocumentReference"))
        .find(|e| cbc(e, "ID").is_some_and(|i| i.text().trim() == id))
}

fn decimal(el: Option<&Element<'_>>) -> Option<Decimal> {
    text(el)?.parse().ok()
}

pub(crate) fn run(bytes: &[u8], context: &Context<'_>) -> Vec<Finding> {
    let mut out = Out { findings: Vec::new() };
    let doc = match xml::utf8(bytes).and_then(xml::parse) {
        Ok(doc) => doc,
        Err(e) => {
            out.findings.push(Finding {
                rule: "XML",
                severity: Severity::Error,
                location: "/".into(),
                message: "the document is not well-formed UTF-8 XML",
                message_ar: XML_AR,
                hint: None,
                detail: Some(e.to_string()),
            });
            return out.findings;
        }
    };
    let root = &doc.root;
    let at = |path: &str| format!("/{}{path}", root.name);
    header(root, &at, &mut out);
    transaction(root, &at, &mut out);
    chain(root, &at, context, &mut out);
    seller(root, &at, &mut out);
    categories(root, &at, &mut out);
    totals(root, &at, &mut out);
    out.findings
}

fn header(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    if text(cbc(root, "ID")).is_none() {
        out.hit("BR-02", at("/cbc:ID"), None);
    }
    if text(cbc(root, "IssueDate")).is_none() {
        out.hit("BR-03", at("/cbc:IssueDate"), None);
    }
    if text(cbc(root, "DocumentCurrencyCode")).is_none() {
        out.hit("BR-05", at("/cbc:DocumentCurrencyCode"), None);
    }
    if cac(root, "InvoiceLine").is_none() {
        out.hit("BR-16", at("/cac:InvoiceLine"), None);
    }
    // The message asks for letters, digits and dashes only, but ZATCA's schematron checks
    // presence alone (a UUID with `!` or `_` passes its validator), and so does this.
    if text(cbc(root, "UUID")).is_none() {
        out.hit("BR-KSA-03", at("/cbc:UUID"), None);
    }
    if text(cbc(root, "ProfileID")).as_deref() != Some("reporting:1.0") {
        out.hit("BR-KSA-EN16931-01", at("/cbc:ProfileID"), text(cbc(root, "ProfileID")));
    }
    match text(cbc(root, "TaxCurrencyCode")) {
        None => out.hit("BR-KSA-68", at("/cbc:TaxCurrencyCode"), None),
        Some(c) if c != "SAR" => out.hit("BR-KSA-EN16931-02", at("/cbc:TaxCurrencyCode"), Some(c)),
        Some(_) => {}
    }
}

fn transaction(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let Some(type_code) = cbc(root, "InvoiceTypeCode") else {
        out.hit("BR-04", at("/cbc:InvoiceTypeCode"), None);
        return;
    };
    let code = type_code.text().trim().to_owned();
    if !["388", "383", "381", "386"].contains(&code.as_str()) {
        out.hit("BR-KSA-05", at("/cbc:InvoiceTypeCode"), Some(code.clone()));
    }
    let name = type_code.attr("name").unwrap_or_default();
    let b = name.as_bytes();
    let well_formed = (b.len() == 7 || b.len() == 9)
        && b.first() == Some(&b'0')
        && matches!(b.get(1), Some(b'1' | b'2'))
        && b.iter().skip(2).all(|c| matches!(c, b'0' | b'1'));
    if !well_formed {
        out.hit("BR-KSA-06", at("/cbc:InvoiceTypeCode/@name"), Some(name.to_owned()));
        return;
    }
    let flag = |i: usize| b.get(i) == Some(&b'1');
    if flag(4) && flag(6) {
        out.hit("BR-KSA-07", at("/cbc:InvoiceTypeCode/@name"), Some(name.to_owned()));
    }
    if b.get(1) == Some(&b'2') && flag(6) {
        out.hit("BR-KSA-31", at("/cbc:InvoiceTypeCode/@name"), Some(name.to_owned()));
    }
    let delivery = cac(root, "Delivery");
    let start = delivery.and_then(|d| text(cbc(d, "ActualDeliveryDate")));
    let end = delivery.and_then(|d| text(cbc(d, "LatestDeliveryDate")));
    if code == "388" && b.get(1) == Some(&b'1') && start.is_none() {
        out.hit("BR-KSA-15", at("/cac:Delivery/cbc:ActualDeliveryDate"), None);
    }
    match (&start, &end) {
        (None, Some(_)) => out.hit("BR-KSA-35", at("/cac:Delivery/cbc:ActualDeliveryDate"), None),
        // ISO dates order as text.
        (Some(s), Some(e)) if e < s => {
            out.hit(
                "BR-KSA-36",
                at("/cac:Delivery/cbc:LatestDeliveryDate"),
                Some(format!("{e} < {s}")),
            );
        }
        _ => {}
    }
    if code == "381" || code == "383" {
        let reason = root
            .elements()
            .filter(|e| e.is(NS_CAC, "PaymentMeans"))
            .any(|pm| text(cbc(pm, "InstructionNote")).is_some());
        if !reason {
            out.hit("BR-KSA-17", at("/cac:PaymentMeans/cbc:InstructionNote"), None);
        }
    }
}

fn chain(root: &Element<'_>, at: &dyn Fn(&str) -> String, context: &Context<'_>, out: &mut Out) {
    match reference(root, "ICV").and_then(|r| text(cbc(r, "UUID"))) {
        None => out.hit(
            "BR-KSA-33",
            at("/cac:AdditionalDocumentReference[cbc:ID='ICV']/cbc:UUID"),
            None,
        ),
        Some(v) if !v.bytes().all(|b| b.is_ascii_digit()) => {
            out.hit(
                "BR-KSA-34",
                at("/cac:AdditionalDocumentReference[cbc:ID='ICV']/cbc:UUID"),
                Some(v),
            );
        }
        Some(_) => {}
    }
    let pih_path = "/cac:AdditionalDocumentReference[cbc:ID='PIH']/cac:Attachment/cbc:EmbeddedDocumentBinaryObject";
    let pih = reference(root, "PIH")
        .and_then(|r| text(r.path(&[(NS_CAC, "Attachment"), (NS_CBC, "EmbeddedDocumentBinaryObject")])));
    match (&pih, context.pih) {
        (None, _) => out.hit("BR-KSA-61", at(pih_path), None),
        (Some(found), Some(expected)) if found != expected.trim() => out.findings.push(Finding {
            rule: "PIH",
            severity: Severity::Error,
            location: at(pih_path),
            message: "the previous invoice hash (KSA-13) is not the expected one",
            message_ar: PIH_AR,
            hint: Some("use the hash of the previous document of this EGS unit"),
            detail: Some(format!("found {found}, expected {}", expected.trim())),
        }),
        _ => {}
    }
}

fn seller(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
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

/// BR-KSA-18 over every VAT category code: invoice lines, the VAT breakdown and the allowances
/// and charges.
fn categories(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
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

fn totals(root: &Element<'_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    let currency = text(cbc(root, "DocumentCurrencyCode"));
    let tax_currency = text(cbc(root, "TaxCurrencyCode"));
    currencies(root, currency.as_deref(), tax_currency.as_deref(), at, out);
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

/// BR-KSA-CL-02: every `currencyID` is the document currency, except BT-111 (a root
/// `cac:TaxTotal/cbc:TaxAmount` in the tax currency). Reported once, at the first offender.
fn currencies(
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
