//! The bilingual side of the implemented rules: id, Arabic message, hint.

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
