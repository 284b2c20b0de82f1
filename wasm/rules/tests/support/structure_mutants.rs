//! Samples broken against the UBL 2.1 XSD (the signature schemas included), one textual change
//! each (every occurrence replaced), and where the structure pass must report `XSD`; and
//! variants the schema allows, which it must not report. Shared by `tests/structure.rs` and
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
    /// The location of the (first) `XSD` finding; `None`: the change keeps the document valid
    /// against the schema (a variant the schema allows, which must not be reported).
    pub location: Option<&'static str>,
}

const STD: &str = "tests/fixtures/samples/sdk-R3.4.8/Standard/Invoice/Standard_Invoice.xml";
const SIMP: &str = "tests/fixtures/samples/sdk-R3.4.8/Simplified/Invoice/Simplified_Invoice.xml";

pub const STRUCTURE_MUTANTS: &[StructureMutant] = &[
    StructureMutant {
        name: "xsd-time-before-date",
        sample: STD,
        from: "<cbc:IssueDate>2022-09-07</cbc:IssueDate>\n    <cbc:IssueTime>12:21:28</cbc:IssueTime>",
        to: "<cbc:IssueTime>12:21:28</cbc:IssueTime>\n    <cbc:IssueDate>2022-09-07</cbc:IssueDate>",
        location: Some("/Invoice/cbc:IssueDate"),
    },
    StructureMutant {
        name: "xsd-no-signature-id",
        sample: STD,
        from: "<cbc:ID>urn:oasis:names:specification:ubl:signature:Invoice</cbc:ID>",
        to: "",
        location: Some("/Invoice/cac:Signature/cbc:ID"),
    },
    StructureMutant {
        name: "xsd-no-tax-scheme",
        sample: SIMP,
        from: "<cac:TaxScheme>\n                    <cbc:ID>VAT</cbc:ID>\n                </cac:TaxScheme>",
        to: "",
        location: Some("/Invoice/cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cac:TaxScheme"),
    },
    StructureMutant {
        name: "xsd-issue-time-twice",
        sample: STD,
        from: "<cbc:IssueTime>12:21:28</cbc:IssueTime>",
        to: "<cbc:IssueTime>12:21:28</cbc:IssueTime><cbc:IssueTime>12:21:28</cbc:IssueTime>",
        location: Some("/Invoice/cbc:IssueTime[2]"),
    },
    StructureMutant {
        name: "xsd-payment-means-code-twice",
        sample: STD,
        from: "<cbc:PaymentMeansCode>10</cbc:PaymentMeansCode>",
        to: "<cbc:PaymentMeansCode>10</cbc:PaymentMeansCode><cbc:PaymentMeansCode>10</cbc:PaymentMeansCode>",
        location: Some("/Invoice/cac:PaymentMeans/cbc:PaymentMeansCode[2]"),
    },
    StructureMutant {
        name: "xsd-decimal-comma",
        sample: STD,
        from: "<cbc:RoundingAmount currencyID=\"SAR\">4.60</cbc:RoundingAmount>",
        to: "<cbc:RoundingAmount currencyID=\"SAR\">4,60</cbc:RoundingAmount>",
        location: Some("/Invoice/cac:InvoiceLine/cac:TaxTotal/cbc:RoundingAmount"),
    },
    StructureMutant {
        name: "xsd-quantity-text",
        sample: STD,
        from: "<cbc:InvoicedQuantity unitCode=\"PCE\">2.000000</cbc:InvoicedQuantity>",
        to: "<cbc:InvoicedQuantity unitCode=\"PCE\">two</cbc:InvoicedQuantity>",
        location: Some("/Invoice/cac:InvoiceLine/cbc:InvoicedQuantity"),
    },
    StructureMutant {
        name: "xsd-date-september-31",
        sample: STD,
        from: "<cbc:ActualDeliveryDate>2022-09-07</cbc:ActualDeliveryDate>",
        to: "<cbc:ActualDeliveryDate>2022-09-31</cbc:ActualDeliveryDate>",
        location: Some("/Invoice/cac:Delivery/cbc:ActualDeliveryDate"),
    },
    StructureMutant {
        name: "xsd-date-slashes",
        sample: STD,
        from: "<cbc:ActualDeliveryDate>2022-09-07</cbc:ActualDeliveryDate>",
        to: "<cbc:ActualDeliveryDate>07/09/2022</cbc:ActualDeliveryDate>",
        location: Some("/Invoice/cac:Delivery/cbc:ActualDeliveryDate"),
    },
    StructureMutant {
        name: "xsd-time-without-seconds",
        sample: STD,
        from: "<cbc:IssueTime>12:21:28</cbc:IssueTime>",
        to: "<cbc:IssueTime>12:21</cbc:IssueTime>",
        location: Some("/Invoice/cbc:IssueTime"),
    },
    StructureMutant {
        name: "xsd-indicator-no",
        sample: STD,
        from: "<cbc:ChargeIndicator>false</cbc:ChargeIndicator>",
        to: "<cbc:ChargeIndicator>no</cbc:ChargeIndicator>",
        location: Some("/Invoice/cac:AllowanceCharge/cbc:ChargeIndicator"),
    },
    StructureMutant {
        name: "xsd-amount-without-currency",
        sample: STD,
        from: "<cbc:RoundingAmount currencyID=\"SAR\">",
        to: "<cbc:RoundingAmount>",
        location: Some("/Invoice/cac:InvoiceLine/cac:TaxTotal/cbc:RoundingAmount"),
    },
    StructureMutant {
        name: "xsd-unknown-attribute",
        sample: STD,
        from: "<cbc:IssueTime>",
        to: "<cbc:IssueTime zone=\"AST\">",
        location: Some("/Invoice/cbc:IssueTime/@zone"),
    },
    StructureMutant {
        name: "xsd-unknown-element",
        sample: STD,
        from: "<cbc:PaymentMeansCode>10</cbc:PaymentMeansCode>",
        to: "<cbc:PaymentMeansCode>10</cbc:PaymentMeansCode><cbc:DueDate>2022-09-07</cbc:DueDate>",
        location: Some("/Invoice/cac:PaymentMeans/cbc:DueDate"),
    },
    StructureMutant {
        name: "xsd-text-in-aggregate",
        sample: STD,
        from: "<cac:Delivery>",
        to: "<cac:Delivery>today",
        location: Some("/Invoice/cac:Delivery"),
    },
    StructureMutant {
        name: "xsd-element-in-value",
        sample: STD,
        from: "<cbc:PaymentMeansCode>10</cbc:PaymentMeansCode>",
        to: "<cbc:PaymentMeansCode>10<cbc:ID>1</cbc:ID></cbc:PaymentMeansCode>",
        location: Some("/Invoice/cac:PaymentMeans/cbc:PaymentMeansCode"),
    },
    StructureMutant {
        name: "xsd-bad-language",
        sample: STD,
        from: "<cbc:Name>قلم رصاص</cbc:Name>",
        to: "<cbc:Name languageID=\"arabic language\">قلم رصاص</cbc:Name>",
        location: Some("/Invoice/cac:InvoiceLine/cac:Item/cbc:Name/@languageID"),
    },
    StructureMutant {
        name: "xsd-extension-content-twice",
        sample: SIMP,
        from: "<ext:ExtensionURI>urn:oasis:names:specification:ubl:dsig:enveloped:xades</ext:ExtensionURI>",
        to: "<ext:ExtensionURI>urn:oasis:names:specification:ubl:dsig:enveloped:xades</ext:ExtensionURI><ext:ExtensionContent><cbc:ID>1</cbc:ID></ext:ExtensionContent>",
        location: Some("/Invoice/ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent[2]"),
    },
    StructureMutant {
        name: "xsd-sig-signing-time-date",
        sample: STD,
        from: "<xades:SigningTime>2025-07-22T15:38:47</xades:SigningTime>",
        to: "<xades:SigningTime>2025-07-22</xades:SigningTime>",
        location: Some(
            "/Invoice/ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sig:UBLDocumentSignatures/sac:SignatureInformation/ds:Signature/ds:Object/xades:QualifyingProperties/xades:SignedProperties/xades:SignedSignatureProperties/xades:SigningTime",
        ),
    },
    StructureMutant {
        name: "xsd-sig-signing-time-no-seconds",
        sample: STD,
        from: "<xades:SigningTime>2025-07-22T15:38:47</xades:SigningTime>",
        to: "<xades:SigningTime>2025-07-22T15:38</xades:SigningTime>",
        location: Some(
            "/Invoice/ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sig:UBLDocumentSignatures/sac:SignatureInformation/ds:Signature/ds:Object/xades:QualifyingProperties/xades:SignedProperties/xades:SignedSignatureProperties/xades:SigningTime",
        ),
    },
    StructureMutant {
        name: "xsd-sig-no-target",
        sample: STD,
        from: " Target=\"signature\"",
        to: "",
        location: Some(
            "/Invoice/ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sig:UBLDocumentSignatures/sac:SignatureInformation/ds:Signature/ds:Object/xades:QualifyingProperties",
        ),
    },
    StructureMutant {
        name: "xsd-sig-reference-no-digest-value",
        sample: STD,
        from: "<ds:DigestValue>V4U5qlZ3yXQ/Si1AC/R8SLc3F+iNy27wdVe8IWRqFAQ=</ds:DigestValue>",
        to: "",
        location: Some(
            "/Invoice/ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sig:UBLDocumentSignatures/sac:SignatureInformation/ds:Signature/ds:SignedInfo/ds:Reference[1]/ds:DigestValue",
        ),
    },
    StructureMutant {
        name: "xsd-sig-method-no-algorithm",
        sample: STD,
        from: "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256\"/>",
        to: "<ds:SignatureMethod/>",
        location: Some(
            "/Invoice/ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sig:UBLDocumentSignatures/sac:SignatureInformation/ds:Signature/ds:SignedInfo/ds:SignatureMethod",
        ),
    },
    StructureMutant {
        name: "xsd-sig-duplicate-id",
        sample: STD,
        from: "Id=\"xadesSignedProperties\"",
        to: "Id=\"signature\"",
        location: Some(
            "/Invoice/ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sig:UBLDocumentSignatures/sac:SignatureInformation/ds:Signature/ds:Object/xades:QualifyingProperties/xades:SignedProperties/@Id",
        ),
    },
    StructureMutant {
        name: "xsd-sig-id-not-a-name",
        sample: STD,
        from: "Id=\"xadesSignedProperties\"",
        to: "Id=\"1st\"",
        location: Some(
            "/Invoice/ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sig:UBLDocumentSignatures/sac:SignatureInformation/ds:Signature/ds:Object/xades:QualifyingProperties/xades:SignedProperties/@Id",
        ),
    },
    StructureMutant {
        name: "xsd-sig-c14n-undeclared-child",
        sample: STD,
        from: "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n11\"/>",
        to: "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n11\"><x:Y xmlns:x=\"urn:example\"/></ds:CanonicalizationMethod>",
        location: Some(
            "/Invoice/ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sig:UBLDocumentSignatures/sac:SignatureInformation/ds:Signature/ds:SignedInfo/ds:CanonicalizationMethod/x:Y",
        ),
    },
    StructureMutant {
        name: "xsd-sig-unknown-attribute",
        sample: STD,
        from: "<ds:Reference Id=\"invoiceSignedData\" URI=\"\">",
        to: "<ds:Reference Id=\"invoiceSignedData\" URI=\"\" Version=\"2\">",
        location: Some(
            "/Invoice/ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sig:UBLDocumentSignatures/sac:SignatureInformation/ds:Signature/ds:SignedInfo/ds:Reference[1]/@Version",
        ),
    },
    StructureMutant {
        name: "xsd-sig-text-in-reference",
        sample: STD,
        from: "<ds:Reference Id=\"invoiceSignedData\" URI=\"\">",
        to: "<ds:Reference Id=\"invoiceSignedData\" URI=\"\">signed",
        location: Some(
            "/Invoice/ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sig:UBLDocumentSignatures/sac:SignatureInformation/ds:Signature/ds:SignedInfo/ds:Reference[1]",
        ),
    },
    StructureMutant {
        name: "xsd-sig-empty-x509data",
        sample: STD,
        from: "<ds:KeyInfo>",
        to: "<ds:KeyInfo><ds:X509Data/>",
        location: Some(
            "/Invoice/ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sig:UBLDocumentSignatures/sac:SignatureInformation/ds:Signature/ds:KeyInfo/ds:X509Data[1]",
        ),
    },
    StructureMutant {
        name: "xsd-sig-serial-not-integer",
        sample: STD,
        from: "<ds:X509SerialNumber>379112742831380471835263969587287663520528387</ds:X509SerialNumber>",
        to: "<ds:X509SerialNumber>0x1F</ds:X509SerialNumber>",
        location: Some(
            "/Invoice/ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sig:UBLDocumentSignatures/sac:SignatureInformation/ds:Signature/ds:Object/xades:QualifyingProperties/xades:SignedProperties/xades:SignedSignatureProperties/xades:SigningCertificate/xades:Cert/xades:IssuerSerial/ds:X509SerialNumber",
        ),
    },
    StructureMutant {
        name: "xsd-sig-uri-two-fragments",
        sample: STD,
        from: "URI=\"#xadesSignedProperties\"",
        to: "URI=\"#xades#SignedProperties\"",
        location: Some(
            "/Invoice/ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sig:UBLDocumentSignatures/sac:SignatureInformation/ds:Signature/ds:SignedInfo/ds:Reference[2]/@URI",
        ),
    },
    StructureMutant {
        name: "xsd-sig-lax-wrapper-checked-inside",
        sample: STD,
        from: "<ds:Object>",
        to: "<ds:Object><x:Note xmlns:x=\"urn:example\"><xades:SigningTime xmlns:xades=\"http://uri.etsi.org/01903/v1.3.2#\">today</xades:SigningTime></x:Note>",
        location: Some(
            "/Invoice/ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sig:UBLDocumentSignatures/sac:SignatureInformation/ds:Signature/ds:Object/x:Note/xades:SigningTime",
        ),
    },
    StructureMutant {
        name: "xsd-sig-transform-in-wrong-place",
        sample: STD,
        from: "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\n                                <ds:DigestValue>V4U5",
        to: "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2006/12/xml-c14n11\"/></ds:Transforms>\n                                <ds:DigestValue>V4U5",
        location: Some(
            "/Invoice/ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent/sig:UBLDocumentSignatures/sac:SignatureInformation/ds:Signature/ds:SignedInfo/ds:Reference[1]/ds:DigestValue",
        ),
    },
    StructureMutant {
        name: "xsd-sig-ok-no-signing-time",
        sample: STD,
        from: "<xades:SigningTime>2025-07-22T15:38:47</xades:SigningTime>",
        to: "",
        location: None,
    },
    StructureMutant {
        name: "xsd-sig-ok-signing-time-zone-fraction",
        sample: STD,
        from: "<xades:SigningTime>2025-07-22T15:38:47</xades:SigningTime>",
        to: "<xades:SigningTime>2025-07-22T15:38:47.125+03:00</xades:SigningTime>",
        location: None,
    },
    StructureMutant {
        name: "xsd-sig-ok-signing-time-end-of-day",
        sample: STD,
        from: "<xades:SigningTime>2025-07-22T15:38:47</xades:SigningTime>",
        to: "<xades:SigningTime>2025-07-22T24:00:00</xades:SigningTime>",
        location: None,
    },
    StructureMutant {
        name: "xsd-sig-ok-mixed-digest-method",
        sample: STD,
        from: "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>",
        to: "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\">sha-256</ds:DigestMethod>",
        location: None,
    },
    StructureMutant {
        name: "xsd-sig-ok-undeclared-in-object",
        sample: STD,
        from: "<ds:Object>",
        to: "<ds:Object><x:Note xmlns:x=\"urn:example\" x:lang=\"en\">note</x:Note>",
        location: None,
    },
    StructureMutant {
        name: "xsd-sig-ok-declared-in-strict-wildcard",
        sample: STD,
        from: "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n11\"/>",
        to: "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n11\"><ds:KeyName>k</ds:KeyName></ds:CanonicalizationMethod>",
        location: None,
    },
    StructureMutant {
        name: "xsd-sig-ok-id-with-spaces",
        sample: STD,
        from: "Id=\"xadesSignedProperties\"",
        to: "Id=\" xadesSignedProperties \"",
        location: None,
    },
    StructureMutant {
        name: "xsd-sig-ok-key-name-first",
        sample: STD,
        from: "<ds:KeyInfo>",
        to: "<ds:KeyInfo><ds:KeyName>egs-1</ds:KeyName>",
        location: None,
    },
    StructureMutant {
        name: "xsd-sig-ok-empty-target",
        sample: STD,
        from: "Target=\"signature\"",
        to: "Target=\"\"",
        location: None,
    },
];
