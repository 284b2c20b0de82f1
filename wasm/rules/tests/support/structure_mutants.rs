//! Samples broken against the UBL 2.1 XSD, one textual change each (every occurrence
//! replaced), and where the structure pass must report `XSD`. Shared by `tests/structure.rs` and
//! the example that writes them out for the comparison with ZATCA's validator
//! (`scripts/rules-agreement.sh`, whose XSD verdicts must match).

/// One mutated sample.
pub struct StructureMutant {
    pub name: &'static str,
    /// The sample, relative to the repository root.
    pub sample: &'static str,
    /// Replaced, every occurrence, by `to`.
    pub from: &'static str,
    pub to: &'static str,
    /// The location of the (first) `XSD` finding.
    pub location: &'static str,
}

const STD: &str = "tests/fixtures/samples/sdk-R3.4.8/Standard/Invoice/Standard_Invoice.xml";
const SIMP: &str = "tests/fixtures/samples/sdk-R3.4.8/Simplified/Invoice/Simplified_Invoice.xml";

pub const STRUCTURE_MUTANTS: &[StructureMutant] = &[
    StructureMutant {
        name: "xsd-time-before-date",
        sample: STD,
        from: "<cbc:IssueDate>2022-09-07</cbc:IssueDate>\n    <cbc:IssueTime>12:21:28</cbc:IssueTime>",
        to: "<cbc:IssueTime>12:21:28</cbc:IssueTime>\n    <cbc:IssueDate>2022-09-07</cbc:IssueDate>",
        location: "/Invoice/cbc:IssueDate",
    },
    StructureMutant {
        name: "xsd-no-signature-id",
        sample: STD,
        from: "<cbc:ID>urn:oasis:names:specification:ubl:signature:Invoice</cbc:ID>",
        to: "",
        location: "/Invoice/cac:Signature/cbc:ID",
    },
    StructureMutant {
        name: "xsd-no-tax-scheme",
        sample: SIMP,
        from: "<cac:TaxScheme>\n                    <cbc:ID>VAT</cbc:ID>\n                </cac:TaxScheme>",
        to: "",
        location: "/Invoice/cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cac:TaxScheme",
    },
    StructureMutant {
        name: "xsd-issue-time-twice",
        sample: STD,
        from: "<cbc:IssueTime>12:21:28</cbc:IssueTime>",
        to: "<cbc:IssueTime>12:21:28</cbc:IssueTime><cbc:IssueTime>12:21:28</cbc:IssueTime>",
        location: "/Invoice/cbc:IssueTime[2]",
    },
    StructureMutant {
        name: "xsd-payment-means-code-twice",
        sample: STD,
        from: "<cbc:PaymentMeansCode>10</cbc:PaymentMeansCode>",
        to: "<cbc:PaymentMeansCode>10</cbc:PaymentMeansCode><cbc:PaymentMeansCode>10</cbc:PaymentMeansCode>",
        location: "/Invoice/cac:PaymentMeans/cbc:PaymentMeansCode[2]",
    },
    StructureMutant {
        name: "xsd-decimal-comma",
        sample: STD,
        from: "<cbc:RoundingAmount currencyID=\"SAR\">4.60</cbc:RoundingAmount>",
        to: "<cbc:RoundingAmount currencyID=\"SAR\">4,60</cbc:RoundingAmount>",
        location: "/Invoice/cac:InvoiceLine/cac:TaxTotal/cbc:RoundingAmount",
    },
    StructureMutant {
        name: "xsd-quantity-text",
        sample: STD,
        from: "<cbc:InvoicedQuantity unitCode=\"PCE\">2.000000</cbc:InvoicedQuantity>",
        to: "<cbc:InvoicedQuantity unitCode=\"PCE\">two</cbc:InvoicedQuantity>",
        location: "/Invoice/cac:InvoiceLine/cbc:InvoicedQuantity",
    },
    StructureMutant {
        name: "xsd-date-september-31",
        sample: STD,
        from: "<cbc:ActualDeliveryDate>2022-09-07</cbc:ActualDeliveryDate>",
        to: "<cbc:ActualDeliveryDate>2022-09-31</cbc:ActualDeliveryDate>",
        location: "/Invoice/cac:Delivery/cbc:ActualDeliveryDate",
    },
    StructureMutant {
        name: "xsd-date-slashes",
        sample: STD,
        from: "<cbc:ActualDeliveryDate>2022-09-07</cbc:ActualDeliveryDate>",
        to: "<cbc:ActualDeliveryDate>07/09/2022</cbc:ActualDeliveryDate>",
        location: "/Invoice/cac:Delivery/cbc:ActualDeliveryDate",
    },
    StructureMutant {
        name: "xsd-time-without-seconds",
        sample: STD,
        from: "<cbc:IssueTime>12:21:28</cbc:IssueTime>",
        to: "<cbc:IssueTime>12:21</cbc:IssueTime>",
        location: "/Invoice/cbc:IssueTime",
    },
    StructureMutant {
        name: "xsd-indicator-no",
        sample: STD,
        from: "<cbc:ChargeIndicator>false</cbc:ChargeIndicator>",
        to: "<cbc:ChargeIndicator>no</cbc:ChargeIndicator>",
        location: "/Invoice/cac:AllowanceCharge/cbc:ChargeIndicator",
    },
    StructureMutant {
        name: "xsd-amount-without-currency",
        sample: STD,
        from: "<cbc:RoundingAmount currencyID=\"SAR\">",
        to: "<cbc:RoundingAmount>",
        location: "/Invoice/cac:InvoiceLine/cac:TaxTotal/cbc:RoundingAmount",
    },
    StructureMutant {
        name: "xsd-unknown-attribute",
        sample: STD,
        from: "<cbc:IssueTime>",
        to: "<cbc:IssueTime zone=\"AST\">",
        location: "/Invoice/cbc:IssueTime/@zone",
    },
    StructureMutant {
        name: "xsd-unknown-element",
        sample: STD,
        from: "<cbc:PaymentMeansCode>10</cbc:PaymentMeansCode>",
        to: "<cbc:PaymentMeansCode>10</cbc:PaymentMeansCode><cbc:DueDate>2022-09-07</cbc:DueDate>",
        location: "/Invoice/cac:PaymentMeans/cbc:DueDate",
    },
    StructureMutant {
        name: "xsd-text-in-aggregate",
        sample: STD,
        from: "<cac:Delivery>",
        to: "<cac:Delivery>today",
        location: "/Invoice/cac:Delivery",
    },
    StructureMutant {
        name: "xsd-element-in-value",
        sample: STD,
        from: "<cbc:PaymentMeansCode>10</cbc:PaymentMeansCode>",
        to: "<cbc:PaymentMeansCode>10<cbc:ID>1</cbc:ID></cbc:PaymentMeansCode>",
        location: "/Invoice/cac:PaymentMeans/cbc:PaymentMeansCode",
    },
    StructureMutant {
        name: "xsd-bad-language",
        sample: STD,
        from: "<cbc:Name>قلم رصاص</cbc:Name>",
        to: "<cbc:Name languageID=\"arabic language\">قلم رصاص</cbc:Name>",
        location: "/Invoice/cac:InvoiceLine/cac:Item/cbc:Name/@languageID",
    },
    StructureMutant {
        name: "xsd-extension-content-twice",
        sample: SIMP,
        from: "<ext:ExtensionURI>urn:oasis:names:specification:ubl:dsig:enveloped:xades</ext:ExtensionURI>",
        to: "<ext:ExtensionURI>urn:oasis:names:specification:ubl:dsig:enveloped:xades</ext:ExtensionURI><ext:ExtensionContent><cbc:ID>1</cbc:ID></ext:ExtensionContent>",
        location: "/Invoice/ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent[2]",
    },
];
