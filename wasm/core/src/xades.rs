//! The XAdES-BES enveloped signature block (`ext:UBLExtensions`) exactly as ZATCA's SDK writes
//! it (SPEC §7), and the SignedProperties digest input derived from the same text.
//!
//! The block is rendered from one fixed template, never through an XML writer: the
//! SignedProperties digest is taken over the serialised text (indentation included), so the
//! digest input and the embedded element must come from the same characters.

use crate::prim::sha256::Sha256;

/// Values that vary between signatures.
#[derive(Debug, Clone)]
pub struct SignatureValues<'a> {
    /// Invoice hash, base64 (first Reference DigestValue).
    pub invoice_hash: &'a str,
    /// SignedProperties digest, base64 of hex (second Reference DigestValue).
    pub signed_properties_digest: &'a str,
    /// ECDSA signature, base64 of DER.
    pub signature_value: &'a str,
    /// Certificate, one-line base64 of DER.
    pub certificate: &'a str,
    /// The signed properties themselves.
    pub properties: SignedProperties<'a>,
}

/// The content of `xades:SignedProperties`.
#[derive(Debug, Clone, Copy)]
pub struct SignedProperties<'a> {
    /// `yyyy-MM-ddTHH:mm:ss`, no zone (SDK R3.3+).
    pub signing_time: &'a str,
    /// base64(hex(SHA-256(certificate base64 text))).
    pub cert_digest: &'a str,
    /// Issuer DN, most specific RDN first, joined by ", ".
    pub issuer_name: &'a str,
    /// Certificate serial number in decimal.
    pub serial_number: &'a str,
}

const DS_NS_ATTR: &str = " xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"";
const SHA256_ALG: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

/// Template values are escaped like canonical text, so that the digest input and the embedded
/// element stay the same characters.
use crate::c14n::escape_text as escape;

/// Renders `xades:SignedProperties`. With `standalone`, the namespace declarations a standalone
/// DOM serialisation adds are injected (`xmlns:xades` first on the element, `xmlns:ds` first on
/// each `ds:` element): that is the digest input (SPEC §7.3).
fn render_signed_properties(out: &mut String, p: &SignedProperties<'_>, standalone: bool) {
    let ds = if standalone { DS_NS_ATTR } else { "" };
    out.push_str("<xades:SignedProperties");
    if standalone {
        out.push_str(" xmlns:xades=\"http://uri.etsi.org/01903/v1.3.2#\"");
    }
    out.push_str(" Id=\"xadesSignedProperties\">\n");
    out.push_str("                                    <xades:SignedSignatureProperties>\n");
    out.push_str("                                        <xades:SigningTime>");
    escape(out, p.signing_time);
    out.push_str("</xades:SigningTime>\n");
    out.push_str("                                        <xades:SigningCertificate>\n");
    out.push_str("                                            <xades:Cert>\n");
    out.push_str("                                                <xades:CertDigest>\n");
    out.push_str("                                                    <ds:DigestMethod");
    out.push_str(ds);
    out.push_str(" Algorithm=\"");
    out.push_str(SHA256_ALG);
    out.push_str("\"/>\n");
    out.push_str("                                                    <ds:DigestValue");
    out.push_str(ds);
    out.push('>');
    escape(out, p.cert_digest);
    out.push_str("</ds:DigestValue>\n");
    out.push_str("                                                </xades:CertDigest>\n");
    out.push_str("                                                <xades:IssuerSerial>\n");
    out.push_str("                                                    <ds:X509IssuerName");
    out.push_str(ds);
    out.push('>');
    escape(out, p.issuer_name);
    out.push_str("</ds:X509IssuerName>\n");
    out.push_str("                                                    <ds:X509SerialNumber");
    out.push_str(ds);
    out.push('>');
    escape(out, p.serial_number);
    out.push_str("</ds:X509SerialNumber>\n");
    out.push_str("                                                </xades:IssuerSerial>\n");
    out.push_str("                                            </xades:Cert>\n");
    out.push_str("                                        </xades:SigningCertificate>\n");
    out.push_str("                                    </xades:SignedSignatureProperties>\n");
    out.push_str("                                </xades:SignedProperties>");
}

/// The exact bytes whose SHA-256 is the SignedProperties digest.
pub fn signed_properties_digest_input(p: &SignedProperties<'_>) -> String {
    let mut out = String::with_capacity(1800);
    render_signed_properties(&mut out, p, true);
    out
}

/// `base64(hex(SHA-256(text)))`: the "hex then base64" digest form ZATCA uses for the
/// SignedProperties and certificate digests (SPEC §7.2–7.3).
pub fn hex_base64_digest(text: &[u8]) -> String {
    crate::prim::b64::encode(crate::prim::text::hex_lower(&Sha256::digest(text)))
}

/// SignedProperties digest (second Reference DigestValue).
pub fn signed_properties_digest(p: &SignedProperties<'_>) -> String {
    hex_base64_digest(signed_properties_digest_input(p).as_bytes())
}

/// Renders the whole `ext:UBLExtensions` element (no surrounding whitespace).
pub fn render_extensions(v: &SignatureValues<'_>) -> String {
    let mut out = String::with_capacity(6000 + v.certificate.len());
    out.push_str(concat!(
        "<ext:UBLExtensions>\n",
        "    <ext:UBLExtension>\n",
        "        <ext:ExtensionURI>urn:oasis:names:specification:ubl:dsig:enveloped:xades</ext:ExtensionURI>\n",
        "        <ext:ExtensionContent>\n",
        "            <sig:UBLDocumentSignatures xmlns:sig=\"urn:oasis:names:specification:ubl:schema:xsd:CommonSignatureComponents-2\" xmlns:sac=\"urn:oasis:names:specification:ubl:schema:xsd:SignatureAggregateComponents-2\" xmlns:sbc=\"urn:oasis:names:specification:ubl:schema:xsd:SignatureBasicComponents-2\">\n",
        "                <sac:SignatureInformation> \n",
        "                    <cbc:ID>urn:oasis:names:specification:ubl:signature:1</cbc:ID>\n",
        "                    <sbc:ReferencedSignatureID>urn:oasis:names:specification:ubl:signature:Invoice</sbc:ReferencedSignatureID>\n",
        "                    <ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" Id=\"signature\">\n",
        "                        <ds:SignedInfo>\n",
        "                            <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n11\"/>\n",
        "                            <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256\"/>\n",
        "                            <ds:Reference Id=\"invoiceSignedData\" URI=\"\">\n",
        "                                <ds:Transforms>\n",
        "                                    <ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\">\n",
        "                                        <ds:XPath>not(//ancestor-or-self::ext:UBLExtensions)</ds:XPath>\n",
        "                                    </ds:Transform>\n",
        "                                    <ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\">\n",
        "                                        <ds:XPath>not(//ancestor-or-self::cac:Signature)</ds:XPath>\n",
        "                                    </ds:Transform>\n",
        "                                    <ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\">\n",
        "                                        <ds:XPath>not(//ancestor-or-self::cac:AdditionalDocumentReference[cbc:ID='QR'])</ds:XPath>\n",
        "                                    </ds:Transform>\n",
        "                                    <ds:Transform Algorithm=\"http://www.w3.org/2006/12/xml-c14n11\"/>\n",
        "                                </ds:Transforms>\n",
        "                                <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\n",
        "                                <ds:DigestValue>",
    ));
    escape(&mut out, v.invoice_hash);
    out.push_str(concat!(
        "</ds:DigestValue>\n",
        "                            </ds:Reference>\n",
        "                            <ds:Reference Type=\"http://www.w3.org/2000/09/xmldsig#SignatureProperties\" URI=\"#xadesSignedProperties\">\n",
        "                                <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\n",
        "                                <ds:DigestValue>",
    ));
    escape(&mut out, v.signed_properties_digest);
    out.push_str(concat!(
        "</ds:DigestValue>\n",
        "                            </ds:Reference>\n",
        "                        </ds:SignedInfo>\n",
        "                        <ds:SignatureValue>",
    ));
    escape(&mut out, v.signature_value);
    out.push_str(concat!(
        "</ds:SignatureValue>\n",
        "                        <ds:KeyInfo>\n",
        "                            <ds:X509Data>\n",
        "                                <ds:X509Certificate>",
    ));
    escape(&mut out, v.certificate);
    out.push_str(concat!(
        "</ds:X509Certificate>\n",
        "                            </ds:X509Data>\n",
        "                        </ds:KeyInfo>\n",
        "                        <ds:Object>\n",
        "                            <xades:QualifyingProperties xmlns:xades=\"http://uri.etsi.org/01903/v1.3.2#\" Target=\"signature\">\n",
        "                                ",
    ));
    render_signed_properties(&mut out, &v.properties, false);
    out.push_str(concat!(
        "\n",
        "                            </xades:QualifyingProperties>\n",
        "                        </ds:Object>\n",
        "                    </ds:Signature>\n",
        "                </sac:SignatureInformation>\n",
        "            </sig:UBLDocumentSignatures>\n",
        "        </ext:ExtensionContent>\n",
        "    </ext:UBLExtension>\n",
        "</ext:UBLExtensions>",
    ));
    out
}

/// The QR `cac:AdditionalDocumentReference` (on one line: it sits between elements whose
/// surrounding whitespace belongs to the hashed document and must not change).
pub fn render_qr_reference(qr_base64: &str) -> String {
    let mut out = String::with_capacity(200 + qr_base64.len());
    out.push_str("<cac:AdditionalDocumentReference><cbc:ID>QR</cbc:ID><cac:Attachment><cbc:EmbeddedDocumentBinaryObject mimeCode=\"text/plain\">");
    escape(&mut out, qr_base64);
    out.push_str("</cbc:EmbeddedDocumentBinaryObject></cac:Attachment></cac:AdditionalDocumentReference>");
    out
}

/// The fixed `cac:Signature` element (BR-KSA-29/30 identifiers).
pub const SIGNATURE_REFERENCE: &str = "<cac:Signature><cbc:ID>urn:oasis:names:specification:ubl:signature:Invoice</cbc:ID><cbc:SignatureMethod>urn:oasis:names:specification:ubl:dsig:enveloped:xades</cbc:SignatureMethod></cac:Signature>";

#[cfg(test)]
mod tests {
    use super::*;

    const SDK_PROPS: SignedProperties<'static> = SignedProperties {
        signing_time: "2025-07-22T15:51:28",
        cert_digest: "ZDMwMmI0MTE1NzVjOTU2NTk4YzVlODhhYmI0ODU2NDUyNTU2YTVhYjhhMDFmN2FjYjk1YTA2OWQ0NjY2MjQ4NQ==",
        issuer_name: "CN=PRZEINVOICESCA4-CA, DC=extgazt, DC=gov, DC=local",
        serial_number: "379112742831380471835263969587287663520528387",
    };

    #[test]
    fn signed_properties_input_matches_the_sdk_vector() {
        let expected = include_str!(
            "../../../tests/fixtures/samples/sdk-R3.4.8.Simplified_Invoice.signed-properties.hash-input.xml"
        );
        assert_eq!(signed_properties_digest_input(&SDK_PROPS), expected);
        assert_eq!(
            signed_properties_digest(&SDK_PROPS),
            "ZmMwY2ZhNDljNzNjZDA5NmY4NDM4MmY1ZmY1YTA0NjY3MzY4NzMxOGJhYmZmNWU1OGYzZWJlODI3ZDgyZGVkZA=="
        );
    }

    #[test]
    fn extension_block_is_the_sdk_block() {
        let sample =
            include_str!("../../../tests/fixtures/samples/sdk-R3.4.8/Simplified/Invoice/Simplified_Invoice.xml");
        let start = sample.find("<ext:UBLExtensions>").expect("extensions start");
        let end = sample.find("</ext:UBLExtensions>").expect("extensions end") + "</ext:UBLExtensions>".len();
        let cert = include_str!("../../../tests/fixtures/samples/sdk-R3.4.8/Certificates/cert.pem");
        let rendered = render_extensions(&SignatureValues {
            invoice_hash: "z5F9qsS6oWyDhehD8u8S0DaxV+2CUiUz9Y+UsR61JgQ=",
            signed_properties_digest: &signed_properties_digest(&SDK_PROPS),
            signature_value: "MEYCIQCYovp/Gxd/x2qZcDZZf+4TdtfZjU/1/fzS3EQjmZGhlQIhANTc0rlAs3ffQgrKi8V49eXV32d200XIutgCti4iGAjB",
            certificate: cert.trim(),
            properties: SDK_PROPS,
        });
        assert_eq!(rendered, &sample[start..end]);
    }
}
