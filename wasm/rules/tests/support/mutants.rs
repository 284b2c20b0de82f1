//! Mutated SDK samples: one textual change each (every occurrence replaced), and the rule ids
//! the validator must report. Shared by the golden test (`tests/rules.rs`) and the example that
//! writes them out for the comparison with ZATCA's validator (`scripts/rules-agreement.sh`).

/// One mutated sample.
pub struct Mutant {
    pub name: &'static str,
    /// The sample, relative to the repository root.
    pub sample: &'static str,
    /// Replaced, every occurrence, by `to`.
    pub from: &'static str,
    pub to: &'static str,
    /// Every rule id reported, errors and warnings (`XSD` where the change breaks the schema).
    pub rules: &'static [&'static str],
}

const STD: &str = "tests/fixtures/samples/sdk-R3.4.8/Standard/Invoice/Standard_Invoice.xml";
const SIMP: &str = "tests/fixtures/samples/sdk-R3.4.8/Simplified/Invoice/Simplified_Invoice.xml";
const CREDIT: &str = "tests/fixtures/samples/sdk-R3.4.8/Standard/Credit/Standard_Credit_Note.xml";

pub const MUTANTS: &[Mutant] = &[
    Mutant {
        name: "no-invoice-number",
        sample: STD,
        from: "<cbc:ID>SME00023</cbc:ID>",
        to: "",
        rules: &["BR-02", "XSD"],
    },
    Mutant {
        name: "no-issue-date",
        sample: STD,
        from: "<cbc:IssueDate>2022-09-07</cbc:IssueDate>",
        to: "",
        rules: &["BR-03", "XSD"],
    },
    Mutant {
        name: "no-type-code",
        sample: STD,
        from: "<cbc:InvoiceTypeCode name=\"0100000\">388</cbc:InvoiceTypeCode>",
        to: "",
        rules: &["BR-04"],
    },
    Mutant {
        name: "no-currency",
        sample: STD,
        from: "<cbc:DocumentCurrencyCode>SAR</cbc:DocumentCurrencyCode>",
        to: "",
        rules: &["BR-05", "BR-KSA-CL-02"],
    },
    Mutant {
        name: "no-seller-name",
        sample: STD,
        from: "<cbc:RegistrationName>شركة توريد التكنولوجيا بأقصى سرعة المحدودة | Maximum Speed Tech Supply LTD</cbc:RegistrationName>",
        to: "",
        rules: &["BR-06"],
    },
    Mutant {
        name: "type-code-389",
        sample: STD,
        from: ">388</cbc:InvoiceTypeCode>",
        to: ">389</cbc:InvoiceTypeCode>",
        rules: &["BR-KSA-05"],
    },
    Mutant {
        name: "transaction-code-03",
        sample: STD,
        from: "name=\"0100000\"",
        to: "name=\"0300000\"",
        rules: &["BR-KSA-06"],
    },
    Mutant {
        name: "export-self-billed",
        sample: STD,
        from: "name=\"0100000\"",
        to: "name=\"0100101\"",
        rules: &["BR-KSA-07"],
    },
    Mutant {
        name: "simplified-self-billed",
        sample: SIMP,
        from: "name=\"0200000\"",
        to: "name=\"0200001\"",
        rules: &["BR-KSA-31"],
    },
    Mutant {
        name: "no-uuid",
        sample: STD,
        from: "<cbc:UUID>8d487816-70b8-4ade-a618-9d620b73814a</cbc:UUID>",
        to: "",
        rules: &["BR-KSA-03"],
    },
    Mutant {
        name: "no-icv",
        sample: STD,
        from: "<cbc:ID>ICV</cbc:ID>",
        to: "<cbc:ID>ICX</cbc:ID>",
        rules: &["BR-KSA-33"],
    },
    Mutant {
        name: "icv-not-digits",
        sample: STD,
        from: "<cbc:UUID>23</cbc:UUID>",
        to: "<cbc:UUID>2x3</cbc:UUID>",
        rules: &["BR-KSA-34"],
    },
    Mutant {
        name: "no-pih",
        sample: STD,
        from: "<cbc:ID>PIH</cbc:ID>",
        to: "<cbc:ID>PIX</cbc:ID>",
        rules: &["BR-KSA-61"],
    },
    Mutant {
        name: "no-seller-vat",
        sample: STD,
        from: "<cbc:CompanyID>399999999900003</cbc:CompanyID>",
        to: "",
        rules: &["BR-KSA-39"],
    },
    Mutant {
        name: "seller-vat-14-digits",
        sample: STD,
        from: "<cbc:CompanyID>399999999900003</cbc:CompanyID>",
        to: "<cbc:CompanyID>39999999990003</cbc:CompanyID>",
        rules: &["BR-KSA-40"],
    },
    Mutant {
        name: "building-number-3-digits",
        sample: STD,
        from: "<cbc:BuildingNumber>2322</cbc:BuildingNumber>",
        to: "<cbc:BuildingNumber>232</cbc:BuildingNumber>",
        rules: &["BR-KSA-37"],
    },
    Mutant {
        name: "profile-2",
        sample: STD,
        from: "<cbc:ProfileID>reporting:1.0</cbc:ProfileID>",
        to: "<cbc:ProfileID>reporting:2.0</cbc:ProfileID>",
        rules: &["BR-KSA-EN16931-01"],
    },
    Mutant {
        name: "no-tax-currency",
        sample: STD,
        from: "<cbc:TaxCurrencyCode>SAR</cbc:TaxCurrencyCode>",
        to: "",
        rules: &["BR-KSA-68"],
    },
    Mutant {
        name: "tax-currency-usd",
        sample: STD,
        from: "<cbc:TaxCurrencyCode>SAR</cbc:TaxCurrencyCode>",
        to: "<cbc:TaxCurrencyCode>USD</cbc:TaxCurrencyCode>",
        rules: &["BR-53", "BR-KSA-EN16931-02"],
    },
    Mutant {
        name: "line-category-x",
        sample: STD,
        from: "<cac:ClassifiedTaxCategory>\n                <cbc:ID>S</cbc:ID>",
        to: "<cac:ClassifiedTaxCategory>\n                <cbc:ID>X</cbc:ID>",
        rules: &["BR-CL-18", "BR-KSA-18"],
    },
    Mutant {
        name: "no-lines",
        sample: STD,
        from: "cac:InvoiceLine>",
        to: "cac:InvoiceLineX>",
        rules: &["BR-16", "BR-CO-10", "BR-CO-13", "XSD"],
    },
    Mutant {
        name: "line-sum-off",
        sample: STD,
        from: "<cbc:LineExtensionAmount currencyID=\"SAR\">4.00</cbc:LineExtensionAmount>\n        <cbc:TaxExclusiveAmount",
        to: "<cbc:LineExtensionAmount currencyID=\"SAR\">4.10</cbc:LineExtensionAmount>\n        <cbc:TaxExclusiveAmount",
        rules: &["BR-CO-10"],
    },
    Mutant {
        name: "amounts-in-usd",
        sample: STD,
        from: "<cbc:LineExtensionAmount currencyID=\"SAR\">",
        to: "<cbc:LineExtensionAmount currencyID=\"USD\">",
        rules: &["BR-KSA-CL-02"],
    },
    Mutant {
        name: "total-with-vat-off",
        sample: STD,
        from: "<cbc:TaxInclusiveAmount currencyID=\"SAR\">4.60</cbc:TaxInclusiveAmount>",
        to: "<cbc:TaxInclusiveAmount currencyID=\"SAR\">4.70</cbc:TaxInclusiveAmount>",
        rules: &["BR-CO-15", "BR-CO-16"],
    },
    Mutant {
        name: "payable-off",
        sample: STD,
        from: "<cbc:PayableAmount currencyID=\"SAR\">4.60</cbc:PayableAmount>",
        to: "<cbc:PayableAmount currencyID=\"SAR\">4.50</cbc:PayableAmount>",
        rules: &["BR-CO-16"],
    },
    Mutant {
        name: "credit-without-reason",
        sample: CREDIT,
        from: "<cbc:InstructionNote>In case of goods or services refund | عند ترجيع السلع أو الخدمات</cbc:InstructionNote>",
        to: "",
        rules: &["BR-KSA-17"],
    },
    Mutant {
        name: "seller-id-scheme-xyz",
        sample: STD,
        from: "schemeID=\"CRN\"",
        to: "schemeID=\"XYZ\"",
        rules: &["BR-KSA-08"],
    },
    Mutant {
        name: "seller-no-district",
        sample: STD,
        from: "<cbc:CitySubdivisionName>المربع | Al-Murabba</cbc:CitySubdivisionName>",
        to: "",
        rules: &["BR-KSA-09"],
    },
    Mutant {
        name: "standard-no-supply-date",
        sample: STD,
        from: "<cbc:ActualDeliveryDate>2022-09-07</cbc:ActualDeliveryDate>",
        to: "",
        rules: &["BR-KSA-15"],
    },
    Mutant {
        name: "supply-end-without-start",
        sample: STD,
        from: "<cbc:ActualDeliveryDate>2022-09-07</cbc:ActualDeliveryDate>",
        to: "<cbc:LatestDeliveryDate>2022-09-07</cbc:LatestDeliveryDate>",
        rules: &["BR-KSA-15", "BR-KSA-35"],
    },
    Mutant {
        name: "supply-end-before-start",
        sample: STD,
        from: "<cbc:ActualDeliveryDate>2022-09-07</cbc:ActualDeliveryDate>",
        to: "<cbc:ActualDeliveryDate>2022-09-07</cbc:ActualDeliveryDate><cbc:LatestDeliveryDate>2022-09-06</cbc:LatestDeliveryDate>",
        rules: &["BR-KSA-36"],
    },
];
