#![doc = include_str!("../README.md")]

mod layout;
mod qr;
mod text;
mod ubl;

use std::fmt;

use krilla::color::rgb;
use krilla::configure::{Archival, Configuration, ConfigurationBuilder};
use krilla::embed::{AssociationKind, EmbeddedFile, MimeType};
use krilla::geom::{PathBuilder, Point, Rect, Transform};
use krilla::metadata::{DateTime, Metadata};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, LineCap, Stroke};
use krilla::surface::Surface;
use krilla::{Document, SerializeSettings};

use layout::{Op, PAGE_H, PAGE_W, Rgb};

/// Why a document could not be rendered: a stable snake_case `code` and a message.
///
/// Codes: `xml_not_utf8`, `invalid_xml` (not well-formed, or has a DTD), `missing_field` (no invoice
/// number, issue date, currency or seller name), `missing_qr` (not signed or cleared),
/// `unsupported_document_type`, `invalid_date`, `invalid_qr`, `unsupported_character` (text the
/// embedded fonts cannot show, which PDF/A forbids), `internal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    code: &'static str,
    message: String,
}

impl Error {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for Error {}

impl From<zatca_core::Error> for Error {
    fn from(e: zatca_core::Error) -> Self {
        let message: Vec<&str> = e.issues().iter().map(|i| i.message.as_str()).collect();
        Error::new(e.code(), message.join("; "))
    }
}

/// Rendering options.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Options {
    /// File name of the embedded XML (default: the invoice number, made file-name safe, + `.xml`).
    pub attachment_name: Option<String>,
}

/// Renders a signed or cleared ZATCA UBL document as an A4 PDF/A-3b with the XML embedded
/// (associated file, `AFRelationship` `Source`).
///
/// The output is deterministic: the PDF dates are the invoice's issue date and time (Riyadh
/// time), so the same XML always gives the same bytes.
pub fn render(xml: &[u8], options: &Options) -> Result<Vec<u8>, Error> {
    let invoice = ubl::read(xml)?;
    let hijri = zatca_core::hijri::umm_al_qura(&invoice.issue_date)?;
    let pages = layout::compose(&invoice, &hijri)?;
    let date = pdf_date(&invoice.issue_date, &invoice.issue_time)?;

    let configuration: Configuration = ConfigurationBuilder::new()
        .with_archival_validator(Archival::A3_B)
        .finish()
        .map_err(|e| Error::new("internal", format!("PDF/A configuration: {e:?}")))?;
    let mut document = Document::new_with(SerializeSettings {
        configuration,
        ..SerializeSettings::default()
    });
    let (title_en, title_ar) = (layout_title(&invoice), invoice.id.clone());
    document.set_metadata(
        Metadata::new()
            .title(format!("{title_en} {title_ar}"))
            .creator(format!("zatca-pdf {}", env!("CARGO_PKG_VERSION")))
            .authors(vec![invoice.seller.name.clone()])
            .language("ar-SA".to_owned())
            .creation_date(date),
    );
    let name = options
        .attachment_name
        .clone()
        .unwrap_or_else(|| attachment_name(&invoice.id));
    document
        .embed_file(EmbeddedFile {
            path: name,
            mime_type: MimeType::new("application/xml"),
            description: Some("ZATCA e-invoice, UBL 2.1 XML as signed (the source of this PDF)".to_owned()),
            association_kind: AssociationKind::Source,
            data: xml.to_vec().into(),
            modification_date: Some(date),
            compress: Some(true),
            location: None,
        })
        .ok_or_else(|| Error::new("internal", "two embedded files with the same name"))?;

    for ops in pages {
        let settings =
            PageSettings::from_wh(PAGE_W, PAGE_H).ok_or_else(|| Error::new("internal", "invalid page size"))?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        for op in ops {
            draw(&mut surface, op)?;
        }
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|e| match e {
        krilla::error::KrillaError::Validation(errors) => {
            let not_def = errors.iter().find_map(|(e, _)| match e {
                krilla::configure::ValidationError::ContainsNotDefGlyph(_, _, text) => Some(text.clone()),
                _ => None,
            });
            match not_def {
                Some(text) => Error::new(
                    "unsupported_character",
                    format!("the embedded fonts have no glyph for some of `{text}` (PDF/A forbids missing glyphs)"),
                ),
                None => Error::new("internal", format!("PDF/A validation failed: {errors:?}")),
            }
        }
        other => Error::new("internal", format!("PDF writer: {other:?}")),
    })
}

fn layout_title(invoice: &ubl::Invoice) -> String {
    let en = match (invoice.kind, invoice.simplified) {
        (ubl::Kind::Invoice, false) => "Tax Invoice",
        (ubl::Kind::Invoice, true) => "Simplified Tax Invoice",
        (ubl::Kind::CreditNote, _) => "Credit Note",
        (ubl::Kind::DebitNote, _) => "Debit Note",
        (ubl::Kind::Prepayment, _) => "Prepayment Invoice",
    };
    en.to_owned()
}

/// `INV-0105` → `INV-0105.xml`; characters unsafe in file names become `_`.
fn attachment_name(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if safe.is_empty() {
        "invoice.xml".to_owned()
    } else {
        format!("{safe}.xml")
    }
}

/// The issue date and time as a PDF date in Riyadh time (UTC+3, what ZATCA's times are in).
fn pdf_date(date: &str, time: &str) -> Result<DateTime, Error> {
    let num = |s: Option<&str>| s.and_then(|s| s.parse::<u16>().ok());
    let bad = || Error::new("invalid_date", format!("`{date}` is not a YYYY-MM-DD issue date"));
    let mut d = date.split('-');
    let (Some(y), Some(m), Some(day)) = (num(d.next()), num(d.next()), num(d.next())) else {
        return Err(bad());
    };
    let month = u8::try_from(m).map_err(|_| bad())?;
    let day = u8::try_from(day).map_err(|_| bad())?;
    let mut dt = DateTime::new(y).month(month).day(day);
    let mut t = time.get(..8).unwrap_or_default().split(':');
    if let (Some(h), Some(mi), Some(s)) = (num(t.next()), num(t.next()), num(t.next()))
        && let (Ok(h), Ok(mi), Ok(s)) = (u8::try_from(h), u8::try_from(mi), u8::try_from(s))
    {
        dt = dt.hour(h).minute(mi).second(s);
    }
    Ok(dt.utc_offset_hour(3).utc_offset_minute(0))
}

fn fill(color: Rgb) -> Fill {
    Fill {
        paint: rgb::Color::new(color.0, color.1, color.2).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }
}

fn draw(surface: &mut Surface<'_>, op: Op) -> Result<(), Error> {
    match op {
        Op::Text { x, y, line, color } => {
            surface.set_fill(Some(fill(color)));
            let mut x = x;
            for run in line.runs.iter() {
                surface.draw_glyphs(
                    Point::from_xy(x, y),
                    &run.glyphs,
                    run.face.pdf.clone(),
                    &run.text,
                    line.size,
                    false,
                );
                x += run.width;
            }
        }
        Op::Rect { x, y, w, h, color } => {
            let mut path = PathBuilder::new();
            if let Some(rect) = Rect::from_xywh(x, y, w, h) {
                path.push_rect(rect);
            }
            if let Some(path) = path.finish() {
                surface.set_fill(Some(fill(color)));
                surface.draw_path(&path);
            }
        }
        Op::Qr { x, y, size, text } => {
            let (width, dark) = qr::symbol(&text)?;
            let quiet = 4;
            let module = size / (width + 2 * quiet) as f32;
            // Drawn in module units under one transform, each row's runs of dark modules as
            // 1-module-wide stroked lines with butt caps (exactly the squares, in half the bytes
            // of filled rectangles): a small content stream is quick to compress. The transform
            // starts at the symbol's corner (inside the quiet zone) half a module down, so that
            // every coordinate is a small integer: integers are written without float
            // formatting, and in fewer bytes.
            let mut path = PathBuilder::new();
            for (rx, ry, len) in qr::runs(width, &dark) {
                path.move_to(rx as f32, ry as f32);
                path.line_to((rx + len) as f32, ry as f32);
            }
            if let Some(path) = path.finish() {
                let corner = quiet as f32 * module;
                surface.push_transform(&Transform::from_row(
                    module,
                    0.0,
                    0.0,
                    module,
                    x + corner,
                    y + corner + module / 2.0,
                ));
                surface.set_fill(None);
                surface.set_stroke(Some(Stroke {
                    paint: rgb::Color::new(0, 0, 0).into(),
                    width: 1.0,
                    line_cap: LineCap::Butt,
                    ..Stroke::default()
                }));
                surface.draw_path(&path);
                surface.set_stroke(None);
                surface.pop();
            }
        }
    }
    Ok(())
}
