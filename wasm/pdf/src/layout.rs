//! Page composition: the invoice becomes pages of positioned text, rectangles and a QR code
//! (a display list), laid out top to bottom with page breaks. Drawing is separate (`lib.rs`) so
//! that every page can say "page n of N".

use crate::Error;
use crate::text::{Fonts, Line, Weight, is_arabic};
use crate::ubl::{Amount, Invoice, Kind, Party};

pub const PAGE_W: f32 = 595.28;
pub const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 34.0;
const LEFT: f32 = MARGIN;
const RIGHT: f32 = PAGE_W - MARGIN;
const WIDTH: f32 = RIGHT - LEFT;
/// Lowest y the body may reach; the footer lives below it.
const BOTTOM: f32 = PAGE_H - MARGIN - 22.0;
/// The QR code's side including its quiet zone: 110 pt = 39 mm (the symbol itself ≈ 33 mm).
const QR_SIZE: f32 = 110.0;

#[derive(Debug, Clone, Copy)]
pub struct Rgb(pub u8, pub u8, pub u8);

const INK: Rgb = Rgb(0x1d, 0x23, 0x27);
const MUTED: Rgb = Rgb(0x5b, 0x66, 0x6d);
const ACCENT: Rgb = Rgb(0x0b, 0x5d, 0x4b);
const WHITE: Rgb = Rgb(0xff, 0xff, 0xff);
const HEAD_FILL: Rgb = Rgb(0xe3, 0xef, 0xeb);
const STRIPE: Rgb = Rgb(0xf5, 0xf8, 0xf7);
const RULE: Rgb = Rgb(0xc5, 0xd3, 0xce);

pub enum Op {
    Text { x: f32, y: f32, line: Line, color: Rgb },
    Rect { x: f32, y: f32, w: f32, h: f32, color: Rgb },
    Qr { x: f32, y: f32, size: f32, text: String },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// A table column: English and Arabic header, width, alignment.
struct Col {
    en: &'static str,
    ar: &'static str,
    w: f32,
    align: Align,
}

const fn col(en: &'static str, ar: &'static str, w: f32, align: Align) -> Col {
    Col { en, ar, w, align }
}

/// One text of a table cell (a cell has one or more, each wrapped to the column).
type Cell = (String, Weight, Rgb);

/// A cell's main text.
fn main_text(text: impl Into<String>) -> Cell {
    (text.into(), Weight::Regular, INK)
}

/// A cell's secondary text (smaller, muted): discounts under a description, a rate's category.
fn sub_text(text: impl Into<String>) -> Cell {
    (text.into(), Weight::Regular, MUTED)
}

struct Composer {
    fonts: &'static Fonts,
    pages: Vec<Vec<Op>>,
    y: f32,
    /// Shown at the top of continuation pages.
    running_title: String,
}

impl Composer {
    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn shape(&self, text: &str, size: f32, weight: Weight) -> Line {
        self.fonts.shape(text, size, weight)
    }

    fn put(&mut self, x: f32, y: f32, line: Line, align: Align, color: Rgb) {
        let x = match align {
            Align::Left => x,
            Align::Right => x - line.width,
        };
        self.ops().push(Op::Text { x, y, line, color });
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "position, style and alignment of one text; a style struct would only move the same fields"
    )]
    fn text(&mut self, x: f32, y: f32, text: &str, size: f32, weight: Weight, align: Align, color: Rgb) {
        let line = self.shape(text, size, weight);
        self.put(x, y, line, align, color);
    }

    /// [`Composer::text`] for a fixed label (shaped once per process).
    #[expect(
        clippy::too_many_arguments,
        reason = "position, style and alignment of one text; a style struct would only move the same fields"
    )]
    fn label(&mut self, x: f32, y: f32, text: &'static str, size: f32, weight: Weight, align: Align, color: Rgb) {
        let line = self.fonts.label(text, size, weight);
        self.put(x, y, line, align, color);
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        self.ops().push(Op::Rect { x, y, w, h, color });
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN;
        let title = self.running_title.clone();
        self.text(LEFT, self.y + 9.0, &title, 8.5, Weight::Bold, Align::Left, MUTED);
        self.y += 18.0;
    }

    /// Starts a new page unless `h` more points fit on this one.
    fn ensure(&mut self, h: f32) -> bool {
        if self.y + h > BOTTOM {
            self.new_page();
            true
        } else {
            false
        }
    }

    /// A section heading: English left, Arabic right, with a rule below.
    fn heading(&mut self, en: &'static str, ar: &'static str) {
        let y = self.y + 11.0;
        self.label(LEFT, y, en, 10.0, Weight::Bold, Align::Left, ACCENT);
        self.label(RIGHT, y, ar, 10.0, Weight::Bold, Align::Right, ACCENT);
        self.rect(LEFT, self.y + 15.0, WIDTH, 0.8, ACCENT);
        self.y += 19.0;
    }

    /// A labelled field: English label at `x`, value from `x + label_w` (wrapped), Arabic label
    /// right-aligned at `right`. Returns the height used. Empty values are skipped.
    #[expect(
        clippy::too_many_arguments,
        reason = "geometry plus the two labels and the value of one field"
    )]
    fn field(
        &mut self,
        x: f32,
        right: f32,
        label_w: f32,
        en: &'static str,
        ar: &'static str,
        value: &str,
        bold: bool,
    ) -> f32 {
        if value.is_empty() {
            return 0.0;
        }
        let ar_line = self.fonts.label(ar, 7.5, Weight::Regular);
        let value_w = (right - x - label_w - ar_line.width - 6.0).max(40.0);
        let weight = if bold { Weight::Bold } else { Weight::Regular };
        let lines = self.fonts.wrap(value, 8.5, weight, value_w);
        let y = self.y + 10.0;
        self.label(x, y, en, 7.5, Weight::Regular, Align::Left, MUTED);
        self.put(right, y, ar_line, Align::Right, MUTED);
        let mut h = 0.0;
        for line in lines {
            self.put(x + label_w, y + h, line, Align::Left, INK);
            h += 11.0;
        }
        self.y += h + 2.0;
        h + 2.0
    }

    /// A table under its heading: the header row, then the rows (striped), breaking pages with
    /// the header repeated. `keep` is the height of the first rows that must stay on the page
    /// of the heading.
    fn table(&mut self, en: &'static str, ar: &'static str, cols: &[Col], rows: Vec<Vec<Vec<Cell>>>, keep: f32) {
        self.ensure(19.0 + 25.0 + keep);
        self.heading(en, ar);
        self.table_header(cols);
        for (i, cells) in rows.into_iter().enumerate() {
            self.table_row(cols, cells, i % 2 == 1);
        }
        self.y += 12.0;
    }

    fn table_header(&mut self, cols: &[Col]) {
        self.rect(LEFT, self.y, WIDTH, 25.0, HEAD_FILL);
        let mut x = LEFT;
        for col in cols {
            let (ax, align) = match col.align {
                Align::Left => (x + 4.0, Align::Left),
                Align::Right => (x + col.w - 4.0, Align::Right),
            };
            self.label(ax, self.y + 10.0, col.en, 7.0, Weight::Bold, align, INK);
            self.label(ax, self.y + 21.0, col.ar, 7.0, Weight::Bold, align, INK);
            x += col.w;
        }
        self.y += 25.0;
    }

    /// One table row of wrapped cells; breaks the page (repeating the header) when it does not fit.
    fn table_row(&mut self, cols: &[Col], cells: Vec<Vec<Cell>>, stripe: bool) {
        let mut shaped: Vec<Vec<(Line, Rgb)>> = Vec::with_capacity(cells.len());
        for (col, cell) in cols.iter().zip(cells) {
            let mut lines = Vec::new();
            for (text, weight, color) in cell {
                let size = if color.0 == MUTED.0 { 7.0 } else { 8.0 };
                for line in self.fonts.wrap(&text, size, weight, col.w - 8.0) {
                    lines.push((line, color));
                }
            }
            shaped.push(lines);
        }
        let rows = shaped.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let h = rows as f32 * 10.0 + 6.0;
        if self.ensure(h) {
            self.table_header(cols);
        }
        if stripe {
            self.rect(LEFT, self.y, WIDTH, h, STRIPE);
        }
        let mut x = LEFT;
        for (col, lines) in cols.iter().zip(shaped) {
            let mut y = self.y + 11.0;
            for (line, color) in lines {
                let ax = match col.align {
                    Align::Left => x + 4.0,
                    Align::Right => x + col.w - 4.0,
                };
                self.put(ax, y, line, col.align, color);
                y += 10.0;
            }
            x += col.w;
        }
        self.y += h;
        self.rect(LEFT, self.y - 0.4, WIDTH, 0.4, RULE);
    }
}

/// Bilingual title by document type.
fn title(inv: &Invoice) -> (&'static str, &'static str) {
    match (inv.kind, inv.simplified) {
        (Kind::Invoice, false) => ("Tax Invoice", "فاتورة ضريبية"),
        (Kind::Invoice, true) => ("Simplified Tax Invoice", "فاتورة ضريبية مبسطة"),
        (Kind::CreditNote, false) => ("Credit Note", "إشعار دائن"),
        (Kind::CreditNote, true) => ("Simplified Credit Note", "إشعار دائن مبسط"),
        (Kind::DebitNote, false) => ("Debit Note", "إشعار مدين"),
        (Kind::DebitNote, true) => ("Simplified Debit Note", "إشعار مدين مبسط"),
        (Kind::Prepayment, false) => ("Prepayment Tax Invoice", "فاتورة ضريبية لدفعة مقدمة"),
        (Kind::Prepayment, true) => ("Simplified Prepayment Invoice", "فاتورة مبسطة لدفعة مقدمة"),
    }
}

/// VAT category code (UN/ECE 5305 as ZATCA uses it) in words.
fn category(code: &str) -> (&'static str, &'static str) {
    match code {
        "S" => ("Standard rate", "النسبة الأساسية"),
        "Z" => ("Zero rated", "خاضع لنسبة الصفر"),
        "E" => ("Exempt from VAT", "معفى من الضريبة"),
        "O" => ("Not subject to VAT", "خارج نطاق الضريبة"),
        _ => ("VAT category", "فئة الضريبة"),
    }
}

/// Payment means (UNTDID 4461, the codes ZATCA accepts) in words.
fn payment_means(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "10" => ("Cash", "نقداً"),
        "30" => ("Credit transfer", "تحويل دائن"),
        "42" => ("Bank account", "حساب بنكي"),
        "48" => ("Bank card", "بطاقة بنكية"),
        "1" => ("Not defined", "غير محدد"),
        _ => return None,
    })
}

/// Labels of the party identification schemes ZATCA lists (BR-KSA-08/14).
fn scheme(code: &str) -> (&'static str, &'static str) {
    match code {
        "CRN" => ("CR number", "رقم السجل التجاري"),
        "MOM" => ("MOMRAH licence", "ترخيص وزارة البلديات"),
        "MLS" => ("MHRSD licence", "ترخيص وزارة الموارد البشرية"),
        "700" => ("700 number", "الرقم الموحد 700"),
        "SAG" => ("MISA licence", "ترخيص وزارة الاستثمار"),
        "NAT" => ("National ID", "رقم الهوية الوطنية"),
        "GCC" => ("GCC ID", "هوية مواطني الخليج"),
        "IQA" => ("Iqama number", "رقم الإقامة"),
        "PAS" => ("Passport number", "رقم جواز السفر"),
        "TIN" => ("Tax ID (TIN)", "الرقم المميز"),
        _ => ("Other ID", "معرف آخر"),
    }
}

fn money(a: &Amount) -> String {
    if a.value.is_empty() {
        String::new()
    } else if a.currency.is_empty() {
        a.value.clone()
    } else {
        format!("{} {}", a.value, a.currency)
    }
}

fn join(parts: &[&str], sep: &str) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(sep)
}

/// Splits `"Name LTD | اسم الشركة"` into its parts when they are in different scripts; any
/// other text is one part.
fn split_languages(name: &str) -> Vec<&str> {
    let parts: Vec<&str> = name.split('|').map(str::trim).filter(|p| !p.is_empty()).collect();
    let arabic = parts.iter().filter(|p| p.chars().any(is_arabic)).count();
    if parts.len() == 2 && arabic == 1 {
        parts
    } else {
        vec![name]
    }
}

/// Draws a party box at `x` (width `w`) from the current y; returns its height.
fn party_box(c: &mut Composer, x: f32, w: f32, en: &'static str, ar: &'static str, p: &Party) -> f32 {
    let top = c.y;
    c.rect(x, top, w, 17.0, HEAD_FILL);
    c.label(x + 6.0, top + 12.0, en, 9.0, Weight::Bold, Align::Left, ACCENT);
    c.label(x + w - 6.0, top + 12.0, ar, 9.0, Weight::Bold, Align::Right, ACCENT);
    c.y = top + 20.0;
    let (inner_x, inner_r) = (x + 6.0, x + w - 6.0);
    // "English | عربي" names (ZATCA's samples write both in one RegistrationName) get a line
    // per language, the Arabic one right-aligned.
    for part in split_languages(&p.name) {
        let arabic = part.chars().any(is_arabic) && !part.chars().any(|c| c.is_ascii_alphabetic());
        for line in c.fonts.wrap(part, 9.5, Weight::Bold, w - 12.0) {
            let y = c.y + 10.0;
            if arabic {
                c.put(inner_r, y, line, Align::Right, INK);
            } else {
                c.put(inner_x, y, line, Align::Left, INK);
            }
            c.y += 12.5;
        }
    }
    c.y += 2.0;
    let lw = 62.0;
    c.field(inner_x, inner_r, lw, "VAT number", "الرقم الضريبي", &p.vat_number, true);
    for (scheme_id, value) in &p.ids {
        let (en, ar) = scheme(scheme_id);
        let value = if matches!(scheme(scheme_id).0, "Other ID") && !scheme_id.is_empty() {
            format!("{value} ({scheme_id})")
        } else {
            value.clone()
        };
        c.field(inner_x, inner_r, lw, en, ar, &value, false);
    }
    let a = &p.address;
    let building = if a.additional_number.is_empty() {
        a.building.clone()
    } else {
        format!("{} / {}", a.building, a.additional_number)
    };
    c.field(
        inner_x,
        inner_r,
        lw,
        "Street",
        "الشارع",
        &join(&[&a.street, &a.additional_street], ", "),
        false,
    );
    c.field(inner_x, inner_r, lw, "Building no.", "رقم المبنى", &building, false);
    c.field(inner_x, inner_r, lw, "District", "الحي", &a.district, false);
    c.field(
        inner_x,
        inner_r,
        lw,
        "City",
        "المدينة",
        &join(&[&a.city, &a.region], ", "),
        false,
    );
    c.field(
        inner_x,
        inner_r,
        lw,
        "Postal code",
        "الرمز البريدي",
        &a.postal_zone,
        false,
    );
    c.field(inner_x, inner_r, lw, "Country", "الدولة", &a.country, false);
    c.y += 4.0;
    c.y - top
}

/// Lays the invoice out into pages.
pub fn compose(inv: &Invoice, hijri: &str) -> Result<Vec<Vec<Op>>, Error> {
    let fonts = Fonts::get()?;
    let (title_en, title_ar) = title(inv);
    let mut c = Composer {
        fonts,
        pages: vec![Vec::new()],
        y: MARGIN,
        running_title: format!("{title_en} | {title_ar} · {}", inv.id),
    };

    // Title band.
    c.rect(LEFT, c.y, WIDTH, 34.0, ACCENT);
    c.label(
        LEFT + 10.0,
        c.y + 22.5,
        title_en,
        16.0,
        Weight::Bold,
        Align::Left,
        WHITE,
    );
    c.label(
        RIGHT - 10.0,
        c.y + 23.0,
        title_ar,
        17.0,
        Weight::Bold,
        Align::Right,
        WHITE,
    );
    c.y += 44.0;

    // Document facts beside the QR code.
    let top = c.y;
    let facts_r = RIGHT - QR_SIZE - 14.0;
    let lw = 92.0;
    c.field(LEFT, facts_r, lw, "Invoice number", "رقم الفاتورة", &inv.id, true);
    c.field(
        LEFT,
        facts_r,
        lw,
        "Issue date",
        "تاريخ الإصدار",
        &join(&[&inv.issue_date, &inv.issue_time], "  "),
        false,
    );
    c.field(LEFT, facts_r, lw, "Issue date (Hijri)", "التاريخ الهجري", hijri, false);
    let supply = if inv.supply_end_date.is_empty() {
        inv.supply_date.clone()
    } else {
        join(&[&inv.supply_date, &inv.supply_end_date], " – ")
    };
    c.field(LEFT, facts_r, lw, "Supply date", "تاريخ التوريد", &supply, false);
    if !inv.billing_references.is_empty() {
        c.field(
            LEFT,
            facts_r,
            lw,
            "Original invoice",
            "الفاتورة الأصلية",
            &inv.billing_references.join(", "),
            true,
        );
    }
    if matches!(inv.kind, Kind::CreditNote | Kind::DebitNote) || !inv.reasons.is_empty() {
        c.field(
            LEFT,
            facts_r,
            lw,
            "Reason",
            "سبب الإصدار",
            &inv.reasons.join("; "),
            false,
        );
    }
    c.field(LEFT, facts_r, lw, "Currency", "العملة", &inv.currency, false);
    let means: Vec<String> = inv
        .payment_means
        .iter()
        .map(|code| match payment_means(code) {
            None => code.clone(),
            Some((en, ar)) => format!("{en} ({code}) | {ar}"),
        })
        .collect();
    c.field(LEFT, facts_r, lw, "Payment", "طريقة الدفع", &means.join(", "), false);
    c.field(LEFT, facts_r, lw, "UUID", "المعرف الفريد", &inv.uuid, false);
    for note in &inv.notes {
        c.field(LEFT, facts_r, lw, "Note", "ملاحظة", note, false);
    }
    c.ops().push(Op::Qr {
        x: RIGHT - QR_SIZE,
        y: top - 4.0,
        size: QR_SIZE,
        text: inv.qr.clone(),
    });
    c.y = c.y.max(top + QR_SIZE - 4.0) + 10.0;

    // Seller and buyer.
    let top = c.y;
    match &inv.buyer {
        Some(buyer) => {
            let w = (WIDTH - 12.0) / 2.0;
            let h1 = party_box(&mut c, LEFT, w, "Seller", "البائع", &inv.seller);
            c.y = top;
            let h2 = party_box(&mut c, LEFT + w + 12.0, w, "Buyer", "المشتري", buyer);
            c.y = top + h1.max(h2) + 8.0;
        }
        None => {
            let h = party_box(&mut c, LEFT, WIDTH, "Seller", "البائع", &inv.seller);
            c.y = top + h + 8.0;
        }
    }

    // Line items.
    let cols = [
        col("#", "م", 27.0, Align::Left),
        col("Description", "الوصف", 159.0, Align::Left),
        col("Quantity", "الكمية", 50.0, Align::Right),
        col("Unit price", "سعر الوحدة", 62.0, Align::Right),
        col("Net amount", "المبلغ الخاضع", 66.0, Align::Right),
        col("VAT %", "النسبة", 37.0, Align::Right),
        col("VAT amount", "مبلغ الضريبة", 60.0, Align::Right),
        col("Total incl. VAT", "الإجمالي مع الضريبة", WIDTH - 461.0, Align::Right),
    ];
    let rows = inv
        .lines
        .iter()
        .map(|line| {
            let mut description = vec![main_text(&line.name)];
            for (charge, amount, reason) in &line.adjustments {
                let (en, ar) = if *charge {
                    ("Charge", "رسوم")
                } else {
                    ("Discount", "خصم")
                };
                description.push(sub_text(join(
                    &[&format!("{en} | {ar}: {}", money(amount)), reason],
                    " · ",
                )));
            }
            let mut price = vec![main_text(&line.price.value)];
            if !line.base_quantity.is_empty() {
                price.push(sub_text(format!("per {}", line.base_quantity)));
            }
            let percent = if line.percent.is_empty() {
                line.category.clone()
            } else {
                format!("{}%", line.percent)
            };
            vec![
                vec![main_text(&line.id)],
                description,
                vec![main_text(join(&[&line.quantity, &line.unit], " "))],
                price,
                vec![main_text(&line.net.value)],
                // The standard rate needs no code; Z, E and O are worth a second look.
                if line.category == "S" || line.percent.is_empty() {
                    vec![main_text(percent)]
                } else {
                    vec![main_text(percent), sub_text(&line.category)]
                },
                vec![main_text(&line.vat.value)],
                vec![main_text(&line.total.value)],
            ]
        })
        .collect();
    c.table("Items", "تفاصيل السلع أو الخدمات", &cols, rows, 26.0);

    // Document-level allowances and charges.
    if !inv.allowances.is_empty() {
        let cols = [
            col("Type", "النوع", 110.0, Align::Left),
            col("Reason", "السبب", 227.0, Align::Left),
            col("VAT category", "فئة الضريبة", 80.0, Align::Right),
            col("Amount", "المبلغ", WIDTH - 417.0, Align::Right),
        ];
        let rows = inv
            .allowances
            .iter()
            .map(|ac| {
                let kind = if ac.charge {
                    "Charge | رسوم"
                } else {
                    "Allowance | خصم"
                };
                let category = if ac.percent.is_empty() {
                    ac.category.clone()
                } else {
                    format!("{} {}%", ac.category, ac.percent)
                };
                vec![
                    vec![main_text(kind)],
                    vec![main_text(join(&[&ac.reason, &ac.reason_code], " · "))],
                    vec![main_text(category)],
                    vec![main_text(money(&ac.amount))],
                ]
            })
            .collect();
        let keep = 18.0 * inv.allowances.len().min(4) as f32;
        c.table(
            "Document allowances and charges",
            "الخصومات والرسوم على مستوى المستند",
            &cols,
            rows,
            keep,
        );
    }

    // VAT breakdown.
    let cols = [
        col("VAT category", "فئة الضريبة", 257.0, Align::Left),
        col("VAT rate", "نسبة الضريبة", 60.0, Align::Right),
        col("Taxable amount", "المبلغ الخاضع للضريبة", 105.0, Align::Right),
        col("VAT amount", "مبلغ الضريبة", WIDTH - 422.0, Align::Right),
    ];
    let rows = inv
        .subtotals
        .iter()
        .map(|s| {
            let (en, ar) = category(&s.category);
            let mut label = vec![main_text(format!("{} · {en} | {ar}", s.category))];
            if !s.exemption_code.is_empty() || !s.exemption_reason.is_empty() {
                label.push(sub_text("Exemption reason · سبب الإعفاء"));
                label.push(sub_text(join(&[&s.exemption_code, &s.exemption_reason], " — ")));
            }
            let percent = if s.percent.is_empty() {
                String::new()
            } else {
                format!("{}%", s.percent)
            };
            vec![
                label,
                vec![main_text(percent)],
                vec![main_text(money(&s.taxable))],
                vec![main_text(money(&s.tax))],
            ]
        })
        .collect();
    let keep = 26.0 * inv.subtotals.len().clamp(1, 4) as f32;
    c.table("VAT breakdown", "ملخص ضريبة القيمة المضافة", &cols, rows, keep);

    // Totals.
    let mut rows: Vec<(&'static str, &'static str, String)> = Vec::new();
    let mut add = |en: &'static str, ar: &'static str, a: Option<&Amount>| {
        if let Some(a) = a {
            rows.push((en, ar, money(a)));
        }
    };
    add(
        "Total excluding VAT",
        "الإجمالي غير شامل الضريبة",
        inv.total("LineExtensionAmount"),
    );
    add("Discounts", "مجموع الخصومات", inv.total("AllowanceTotalAmount"));
    add("Charges", "مجموع الرسوم", inv.total("ChargeTotalAmount"));
    add(
        "Taxable amount",
        "الإجمالي الخاضع للضريبة",
        inv.total("TaxExclusiveAmount"),
    );
    add(
        "Total VAT",
        "مجموع ضريبة القيمة المضافة",
        inv.tax_total_in(&inv.currency),
    );
    add(
        "Total including VAT",
        "الإجمالي شامل الضريبة",
        inv.total("TaxInclusiveAmount"),
    );
    add("Prepaid amount", "المبلغ المدفوع مقدماً", inv.total("PrepaidAmount"));
    add("Rounding", "مبلغ التقريب", inv.total("PayableRoundingAmount"));
    let due = inv.total("PayableAmount").map(money).unwrap_or_default();
    // BR-KSA-68: the VAT total in SAR (the tax currency) when the invoice is in another currency.
    let tax_currency = if inv.tax_currency.is_empty() {
        "SAR"
    } else {
        inv.tax_currency.as_str()
    };
    let sar = if inv.currency != tax_currency {
        inv.tax_total_in(tax_currency).map(money)
    } else {
        None
    };
    let box_w = 330.0;
    let x = RIGHT - box_w;
    let h = rows.len() as f32 * 15.0 + 24.0 + if sar.is_some() { 17.0 } else { 0.0 };
    c.ensure(19.0 + h);
    c.heading("Totals", "الإجماليات");
    for (i, (en, ar, value)) in rows.iter().enumerate() {
        if i % 2 == 1 {
            c.rect(x, c.y, box_w, 15.0, STRIPE);
        }
        let y = c.y + 10.5;
        c.label(x + 5.0, y, en, 8.0, Weight::Regular, Align::Left, MUTED);
        c.label(x + 215.0, y, ar, 8.0, Weight::Regular, Align::Right, MUTED);
        c.text(RIGHT - 5.0, y, value, 8.5, Weight::Regular, Align::Right, INK);
        c.y += 15.0;
    }
    c.rect(x, c.y + 2.0, box_w, 20.0, ACCENT);
    let y = c.y + 16.0;
    c.label(x + 5.0, y, "Amount due", 9.5, Weight::Bold, Align::Left, WHITE);
    c.label(x + 215.0, y, "المبلغ المستحق", 9.5, Weight::Bold, Align::Right, WHITE);
    c.text(RIGHT - 5.0, y, &due, 10.0, Weight::Bold, Align::Right, WHITE);
    c.y += 24.0;
    if let Some(sar) = sar {
        let y = c.y + 11.0;
        c.label(x + 5.0, y, "Total VAT in SAR", 8.0, Weight::Bold, Align::Left, INK);
        c.label(
            x + 215.0,
            y,
            "مجموع الضريبة بالريال السعودي",
            8.0,
            Weight::Bold,
            Align::Right,
            INK,
        );
        c.text(RIGHT - 5.0, y, &sar, 8.5, Weight::Bold, Align::Right, INK);
        c.y += 17.0;
    }

    // Footer on every page, now that the page count is known.
    let count = c.pages.len();
    let seller = inv.seller.name.clone();
    for n in 0..count {
        let y = PAGE_H - MARGIN - 4.0;
        let ops = [
            Op::Rect {
                x: LEFT,
                y: y - 12.0,
                w: WIDTH,
                h: 0.6,
                color: RULE,
            },
            Op::Text {
                x: LEFT,
                y,
                line: fonts.shape(&format!("Page {} of {count}", n + 1), 7.0, Weight::Regular),
                color: MUTED,
            },
        ];
        let ar = fonts.shape(&format!("صفحة {} من {count}", n + 1), 7.0, Weight::Regular);
        let mid = fonts.shape(&format!("{seller} · {}", inv.id), 7.0, Weight::Regular);
        if let Some(page) = c.pages.get_mut(n) {
            page.extend(ops);
            page.push(Op::Text {
                x: RIGHT - ar.width,
                y,
                line: ar,
                color: MUTED,
            });
            page.push(Op::Text {
                x: (PAGE_W - mid.width) / 2.0,
                y,
                line: mid,
                color: MUTED,
            });
        }
    }
    Ok(c.pages)
}
