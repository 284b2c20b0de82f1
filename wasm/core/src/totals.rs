//! Line and document totals with `rust_decimal`, exactly as SPEC §4 prescribes: half-up
//! rounding to 2 decimals of final results, VAT rounded per breakdown at document level (not
//! summed from rounded line VAT), two tax totals (document currency and SAR).

use rust_decimal::{Decimal, RoundingStrategy};

use crate::error::{Code, Error, Result};
use crate::model::{InvoiceInput, LineItem, VatCategory};

/// Half-up rounding to 2 decimals (amounts are never negative here, so "away from zero" is
/// "half up").
pub fn round2(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Totals of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineTotals {
    /// Net unit price written in `cac:Price/cbc:PriceAmount` (BT-146).
    pub net_price: Decimal,
    /// Line discount net of VAT (line allowance, BT-136), 0 when none.
    pub discount: Decimal,
    /// Line net amount (BT-131) = round2(quantity × net price) − discount.
    pub net: Decimal,
    /// Line VAT (KSA-11) = round2(net × rate / 100).
    pub vat: Decimal,
    /// Line amount with VAT (KSA-12) = net + VAT.
    pub with_vat: Decimal,
}

/// One VAT breakdown (BG-23), per (category, rate, exemption code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subtotal {
    /// VAT category.
    pub category: VatCategory,
    /// Rate in percent.
    pub rate: Decimal,
    /// VATEX-SA-* code (Z/E/O).
    pub exemption_code: Option<String>,
    /// Exemption reason text.
    pub exemption_reason: Option<String>,
    /// Taxable amount (BT-116).
    pub taxable: Decimal,
    /// VAT (BT-117) = round2(taxable × rate / 100).
    pub vat: Decimal,
}

/// Document totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    /// Per line, in input order.
    pub lines: Vec<LineTotals>,
    /// VAT breakdowns in order of first appearance.
    pub subtotals: Vec<Subtotal>,
    /// Σ line net (BT-106).
    pub line_extension: Decimal,
    /// Document-level allowances (BT-107).
    pub allowance_total: Decimal,
    /// Document-level charges (BT-108).
    pub charge_total: Decimal,
    /// BT-109 = BT-106 − BT-107 + BT-108.
    pub tax_exclusive: Decimal,
    /// BT-110 = Σ breakdown VAT, document currency.
    pub vat_total: Decimal,
    /// BT-111: VAT in SAR (equal to BT-110 for SAR documents).
    pub vat_total_sar: Decimal,
    /// BT-112 = BT-109 + BT-110.
    pub tax_inclusive: Decimal,
    /// BT-113.
    pub prepaid: Decimal,
    /// BT-115 = BT-112 − BT-113.
    pub payable: Decimal,
}

fn overflow() -> Error {
    Error::new(Code::AmountOverflow, "amounts are too large to compute")
}

fn mul(a: Decimal, b: Decimal) -> Result<Decimal> {
    a.checked_mul(b).ok_or_else(overflow)
}

fn add(a: Decimal, b: Decimal) -> Result<Decimal> {
    a.checked_add(b).ok_or_else(overflow)
}

fn div(a: Decimal, b: Decimal) -> Result<Decimal> {
    a.checked_div(b).ok_or_else(overflow)
}

fn line_totals(line: &LineItem, prices_include_vat: bool) -> Result<LineTotals> {
    let hundred = Decimal::ONE_HUNDRED;
    let rate = line.vat_rate;
    // VAT-inclusive prices are converted to net once, with 6 decimals: the schematron recomputes
    // quantity × price and tolerates ±0.01 (BR-KSA-EN16931-11), and no rule limits price decimals.
    let to_net = |amount: Decimal| -> Result<Decimal> {
        if prices_include_vat {
            Ok(div(mul(amount, hundred)?, add(hundred, rate)?)?.round_dp(6).normalize())
        } else {
            Ok(amount)
        }
    };
    let net_price = to_net(line.unit_price)?;
    // No discount on the line: zero.
    let discount = round2(to_net(line.discount.unwrap_or(Decimal::ZERO))?);
    let net = round2(mul(line.quantity, net_price)?) - discount;
    let vat = round2(div(mul(net, rate)?, hundred)?);
    Ok(LineTotals {
        net_price,
        discount,
        net,
        vat,
        with_vat: add(net, vat)?,
    })
}

/// The official English text of a VATEX-SA code (SPEC §3.8), with its category.
pub fn exemption_text(code: &str) -> Option<(VatCategory, &'static str)> {
    use VatCategory::{E, O, Z};
    Some(match code {
        "VATEX-SA-29" => (E, "Financial services mentioned in Article 29 of the VAT Regulations"),
        "VATEX-SA-29-7" => (
            E,
            "Life insurance services mentioned in Article 29 of the VAT Regulations",
        ),
        "VATEX-SA-30" => (
            E,
            "Real estate transactions mentioned in Article 30 of the VAT Regulations",
        ),
        "VATEX-SA-32" => (Z, "Export of goods"),
        "VATEX-SA-33" => (Z, "Export of services"),
        "VATEX-SA-34-1" => (Z, "The international transport of Goods"),
        "VATEX-SA-34-2" => (Z, "International transport of passengers"),
        "VATEX-SA-34-3" => (
            Z,
            "Services directly connected and incidental to a Supply of international passenger transport",
        ),
        "VATEX-SA-34-4" => (Z, "Supply of a qualifying means of transport"),
        "VATEX-SA-34-5" => (
            Z,
            "Any services relating to Goods or passenger transportation, as defined in article twenty five of these Regulations",
        ),
        "VATEX-SA-35" => (Z, "Medicines and medical equipment"),
        "VATEX-SA-36" => (Z, "Qualifying metals"),
        "VATEX-SA-EDU" => (Z, "Private education to citizen"),
        "VATEX-SA-HEA" => (Z, "Private healthcare to citizen"),
        "VATEX-SA-MLTRY" => (Z, "Supply of qualified military goods"),
        "VATEX-SA-OOS" => (O, "Not subject to VAT"),
        _ => return None,
    })
}

/// Computes every total of a document.
pub fn compute(input: &InvoiceInput) -> Result<Totals> {
    let mut lines = Vec::with_capacity(input.line_items.len());
    let mut subtotals: Vec<Subtotal> = Vec::new();
    let mut line_extension = Decimal::ZERO;
    for item in &input.line_items {
        let t = line_totals(item, input.prices_include_vat)?;
        line_extension = add(line_extension, t.net)?;
        let rate = item.vat_rate.normalize();
        let code = item.exemption_reason_code.clone();
        match subtotals
            .iter_mut()
            .find(|s| s.category == item.vat_category && s.rate == rate && s.exemption_code == code)
        {
            Some(s) => s.taxable = add(s.taxable, t.net)?,
            None => subtotals.push(Subtotal {
                category: item.vat_category,
                rate,
                exemption_reason: item.exemption_reason.clone().or_else(|| {
                    code.as_deref()
                        .and_then(exemption_text)
                        .map(|(_, text)| text.to_owned())
                }),
                exemption_code: code,
                taxable: t.net,
                vat: Decimal::ZERO,
            }),
        }
        lines.push(t);
    }
    let mut vat_total = Decimal::ZERO;
    for s in &mut subtotals {
        s.vat = round2(div(mul(s.taxable, s.rate)?, Decimal::ONE_HUNDRED)?);
        vat_total = add(vat_total, s.vat)?;
    }
    let vat_total_sar = match input.sar_exchange_rate {
        Some(rate) if input.currency != "SAR" => round2(mul(vat_total, rate)?),
        _ => vat_total,
    };
    let tax_exclusive = line_extension;
    let tax_inclusive = add(tax_exclusive, vat_total)?;
    Ok(Totals {
        lines,
        subtotals,
        line_extension,
        allowance_total: Decimal::ZERO,
        charge_total: Decimal::ZERO,
        tax_exclusive,
        vat_total,
        vat_total_sar,
        tax_inclusive,
        prepaid: Decimal::ZERO,
        payable: tax_inclusive,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::InvoiceInput;
    use proptest::prelude::*;

    fn input(lines: &str, extra: &str) -> InvoiceInput {
        let json = format!(
            r#"{{"invoice_number":"1","invoice_date":"2025-01-15","invoice_time":"10:00:00","seller":{{"name":"A"}},"line_items":[{lines}]{extra}}}"#
        );
        InvoiceInput::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn hosted_api_examples() {
        let t = compute(&input(r#"{"description":"A","quantity":2,"unit_price":50}"#, ""))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (t.tax_exclusive, t.vat_total, t.payable),
            (Decimal::from(100), Decimal::from(15), Decimal::from(115))
        );
        let t = compute(&input(
            r#"{"description":"B","quantity":1,"unit_price":115}"#,
            r#","prices_include_vat":true"#,
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (t.tax_exclusive, t.vat_total, t.payable),
            (Decimal::from(100), Decimal::from(15), Decimal::from(115))
        );
    }

    #[test]
    fn vat_is_rounded_per_breakdown_not_summed_per_line() {
        // Three lines of 0.10 net: each line's VAT rounds to 0.02 (0.015 half up), but the
        // breakdown VAT is round2(0.30 × 15%) = 0.05 (0.045 half up).
        let line = r#"{"description":"Pen","quantity":1,"unit_price":0.1}"#;
        let t = compute(&input(&format!("{line},{line},{line}"), "")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.lines[0].vat, Decimal::new(2, 2));
        assert_eq!(t.vat_total, Decimal::new(5, 2));
    }

    #[test]
    fn foreign_currency_vat_in_sar() {
        let t = compute(&input(
            r#"{"description":"A","quantity":1,"unit_price":100}"#,
            r#","currency":"USD","sar_exchange_rate":3.75"#,
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.vat_total, Decimal::from(15));
        assert_eq!(t.vat_total_sar, Decimal::new(5625, 2));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn document_rules_hold_for_random_baskets(
            lines in prop::collection::vec(
                (1u32..100_000, 0u64..10_000_000, 0usize..5, 0u32..100, any::<bool>()),
                1..30),
            inclusive in any::<bool>(),
        ) {
            let cats = [("S", 15), ("S", 5), ("Z", 0), ("E", 0), ("O", 0)];
            let json_lines: Vec<String> = lines.iter().map(|(q, p, c, d, disc)| {
                let (cat, rate) = cats[*c];
                let qty = Decimal::new(i64::from(*q), 3);
                let price = Decimal::new(i64::try_from(*p).unwrap_or(0), 4);
                let discount = if *disc { round2(qty * price * Decimal::new(i64::from(*d), 2) / Decimal::from(2)) } else { Decimal::ZERO };
                format!(r#"{{"description":"x","quantity":"{qty}","unit_price":"{price}","vat_category":"{cat}","vat_rate":{rate},"discount":"{discount}"}}"#)
            }).collect();
            let extra = if inclusive { r#","prices_include_vat":true"# } else { "" };
            let t = compute(&input(&json_lines.join(","), extra)).unwrap_or_else(|e| panic!("{e}"));
            // BR-CO-10: Σ line net = BT-106.
            prop_assert_eq!(t.lines.iter().map(|l| l.net).sum::<Decimal>(), t.line_extension);
            // BR-CO-13: BT-109 = BT-106 − BT-107 + BT-108.
            prop_assert_eq!(t.tax_exclusive, t.line_extension - t.allowance_total + t.charge_total);
            // BR-CO-14: BT-110 = Σ BT-117.
            prop_assert_eq!(t.vat_total, t.subtotals.iter().map(|s| s.vat).sum::<Decimal>());
            // BR-CO-15: BT-112 = BT-109 + BT-110.
            prop_assert_eq!(t.tax_inclusive, t.tax_exclusive + t.vat_total);
            // BR-CO-16: BT-115 = BT-112 − BT-113 + BT-114.
            prop_assert_eq!(t.payable, t.tax_inclusive - t.prepaid);
            // BR-CO-17: BT-117 = round2(BT-116 × rate / 100); BR-S/Z/E/O-08: BT-116 = Σ line net.
            for s in &t.subtotals {
                prop_assert_eq!(s.vat, round2(s.taxable * s.rate / Decimal::ONE_HUNDRED));
            }
            prop_assert_eq!(t.subtotals.iter().map(|s| s.taxable).sum::<Decimal>(), t.line_extension);
            // BR-KSA-51: KSA-12 = BT-131 + KSA-11, all with two decimals.
            for l in &t.lines {
                prop_assert_eq!(l.with_vat, l.net + l.vat);
                prop_assert!(l.net.scale() <= 2 && l.vat.scale() <= 2);
            }
        }
    }
}
