//! What the schematrons look for at any depth (`//x`), gathered in one walk over the document,
//! and the rules over it: BR-54 (item attributes), BR-KSA-CL-06 (charge reason codes),
//! BR-KSA-F-06-C14, C15 (payee account fields).

use zatca_core::xml::{Element, NS_CAC, NS_CBC, NS_EXT};

use super::Out;
use super::tree::{cbc, chars, indicator, is};

/// Elements found anywhere in the document, in document order; those with a path carry their
/// location (`/cac:InvoiceLine[2]/cac:Item/…`).
#[derive(Default)]
pub(super) struct Anywhere<'e, 'a> {
    /// `//cac:Signature`.
    pub(super) signatures: Vec<&'e Element<'a>>,
    /// `//cac:AdditionalDocumentReference`.
    pub(super) references: Vec<&'e Element<'a>>,
    /// `//ext:UBLExtensions`.
    pub(super) extensions: Vec<&'e Element<'a>>,
    /// `//cac:PaymentMeans`.
    pub(super) payment_means: Vec<&'e Element<'a>>,
    /// `//cac:AllowanceCharge[not(parent::cac:Price)]`.
    pub(super) charges: Vec<(String, &'e Element<'a>)>,
    /// `//cac:AdditionalItemProperty`.
    pub(super) properties: Vec<(String, &'e Element<'a>)>,
}

impl<'e, 'a> Anywhere<'e, 'a> {
    pub(super) fn gather(root: &'e Element<'a>) -> Self {
        let mut found = Self::default();
        let mut stack = vec![root];
        found.walk(root, &mut stack);
        found
    }

    fn walk(&mut self, el: &'e Element<'a>, stack: &mut Vec<&'e Element<'a>>) {
        let in_price = is(el, NS_CAC, "Price");
        for child in el.elements() {
            if child.ns == NS_CAC {
                match child.local_name() {
                    "Signature" => self.signatures.push(child),
                    "AdditionalDocumentReference" => self.references.push(child),
                    "PaymentMeans" => self.payment_means.push(child),
                    "AllowanceCharge" if !in_price => self.charges.push((location(stack, child), child)),
                    "AdditionalItemProperty" => self.properties.push((location(stack, child), child)),
                    _ => {}
                }
            } else if is(child, NS_EXT, "UBLExtensions") {
                self.extensions.push(child);
            }
            stack.push(child);
            self.walk(child, stack);
            stack.pop();
        }
    }
}

/// `/cac:X[n]/cac:Y` below the root, a position where an element repeats among its siblings.
fn location(ancestors: &[&Element<'_>], el: &Element<'_>) -> String {
    let mut out = String::new();
    let mut step = |parent: &Element<'_>, child: &Element<'_>| {
        out.push('/');
        out.push_str(child.name);
        let same: Vec<&Element<'_>> = parent.elements().filter(|s| s.name == child.name).collect();
        if same.len() > 1
            && let Some(n) = same.iter().position(|s| std::ptr::eq(*s, child))
        {
            out.push_str(&format!("[{}]", n + 1));
        }
    };
    for pair in ancestors.windows(2) {
        step(pair[0], pair[1]);
    }
    if let Some(parent) = ancestors.last() {
        step(parent, el);
    }
    out
}

/// UNTDID 7161 as the KSA schematron writes it (`contains()`, a substring test: `CAPCAQ` runs
/// two codes together, and any part of a code passes).
const UNTDID_7161: &str = " AA AAA AAC AAD AAE AAF AAH AAI AAS AAT AAV AAY AAZ ABA ABB ABC ABD ABF ABK ABL ABN ABR ABS ABT ABU ACF ACG ACH ACI ACJ ACK ACL ACM ACS ADC ADE ADJ ADK ADL ADM ADN ADO ADP ADQ ADR ADT ADW ADY ADZ AEA AEB AEC AED AEF AEH AEI AEJ AEK AEL AEM AEN AEO AEP AES AET AEU AEV AEW AEX AEY AEZ AJ AU CA CAB CAD CAE CAF CAI CAJ CAK CAL CAM CAN CAO CAPCAQ CAR CAS CAT CAU CAV CAW CD CG CS CT DAB DAD DL EG EP ER FAA FAB FAC FC FH FI GAA HAA HD HH IAA AB ID IF IR IS KO L1 LA LAA LAB LF MAE MI ML NAA OA PA PAA PC PL RAB RAC RAD RAF RE RF RH RV SA SAA SAD SAE SAI SG SH SM SU TAB AC TT TV V1 V2 WH XAA YY ZZZ ";

/// BR-54, BR-KSA-CL-06, BR-KSA-F-06-C14 and C15.
pub(super) fn rules(root: &Element<'_>, found: &Anywhere<'_, '_>, at: &dyn Fn(&str) -> String, out: &mut Out) {
    // BR-54 (EN, `//cac:AdditionalItemProperty`): a name and a value.
    for (path, property) in &found.properties {
        if cbc(property, "Name").is_none() || cbc(property, "Value").is_none() {
            out.hit("BR-54", at(path), None);
        }
    }
    // BR-KSA-CL-06 (on the root): every charge's reason code is in the list. A missing code is
    // `contains(LIST, ())`, true.
    for (path, charge) in &found.charges {
        if indicator(charge) != Some(true) {
            continue;
        }
        let codes: Vec<&Element<'_>> = charge
            .elements()
            .filter(|e| is(e, NS_CBC, "AllowanceChargeReasonCode"))
            .collect();
        // More than one code is a type error in contains(): ZATCA's schematron stops.
        if let [code] = codes.as_slice()
            && !UNTDID_7161.contains(code.text().as_str())
        {
            out.hit(
                "BR-KSA-CL-06",
                at(&format!("{path}/cbc:AllowanceChargeReasonCode")),
                Some(code.text()),
            );
        }
    }
    // BR-KSA-F-06-C14, C15: on a typed `cbc:InvoiceTypeCode` (name 01… or 02…); string-length()
    // of more than one node is a type error, so one node each.
    let typed = root
        .child(NS_CBC, "InvoiceTypeCode")
        .and_then(|t| t.attr("name"))
        .is_some_and(|n| n.starts_with("01") || n.starts_with("02"));
    if !typed {
        return;
    }
    let account_fields = |local: &str| -> Vec<&Element<'_>> {
        found
            .payment_means
            .iter()
            .flat_map(|m| m.elements().filter(|e| is(e, NS_CAC, "PayeeFinancialAccount")))
            .flat_map(|a| a.elements().filter(move |e| is(e, NS_CBC, local)))
            .collect()
    };
    if let [note] = account_fields("PaymentNote").as_slice() {
        let n = chars(Some(note));
        if !(1..=1000).contains(&n) {
            out.hit(
                "BR-KSA-F-06-C14",
                at("/cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:PaymentNote"),
                Some(format!("{n} characters")),
            );
        }
    }
    if let [id] = account_fields("ID").as_slice() {
        let n = chars(Some(id));
        if n > 127 {
            out.hit(
                "BR-KSA-F-06-C15",
                at("/cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID"),
                Some(format!("{n} characters")),
            );
        }
    }
}
