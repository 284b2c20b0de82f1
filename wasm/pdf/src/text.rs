//! Text: the embedded fonts, bidi ordering (unicode-bidi), shaping (rustybuzz) and word wrap.
//!
//! A line of text becomes a list of glyph runs in visual order, each in one font and one
//! direction, so that krilla only places glyphs; Arabic joins and ligatures come from the
//! font's OpenType tables through rustybuzz, and mixed Arabic/Latin/digit strings are ordered
//! by the Unicode bidi algorithm.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use krilla::text::{Font, GlyphId, KrillaGlyph};
use rustybuzz::{Direction, Face, Script, ShapePlan, UnicodeBuffer, script};
use unicode_bidi::ParagraphBidiInfo;

use crate::Error;

static ARABIC_REGULAR: &[u8] = include_bytes!("../fonts/NotoSansArabic-Regular.ttf");
static ARABIC_BOLD: &[u8] = include_bytes!("../fonts/NotoSansArabic-Bold.ttf");
static LATIN_REGULAR: &[u8] = include_bytes!("../fonts/NotoSans-Regular.ttf");
static LATIN_BOLD: &[u8] = include_bytes!("../fonts/NotoSans-Bold.ttf");

/// Regular or bold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weight {
    Regular,
    Bold,
}

/// One embedded font: krilla's handle (for drawing), rustybuzz's face and its shaping plans
/// (left-to-right and right-to-left). Building a plan costs more than shaping a short string,
/// so the plans are made once, for the font's own script.
pub struct Face2 {
    pub pdf: Font,
    shaper: Face<'static>,
    script: Script,
    plans: [ShapePlan; 2],
    units_per_em: f32,
}

/// The four fonts, parsed once per process (they are compiled in, so parsing cannot fail at
/// run time unless the build is broken; that still surfaces as an error, not a panic).
pub struct Fonts {
    arabic: [Face2; 2],
    latin: [Face2; 2],
    /// The page's fixed labels (headings, field names, column headers), shaped once per process:
    /// they are most of a one-page invoice's text, its Arabic shaping most of the shaping time.
    /// Keyed by the literal, so the cache holds at most one entry per label, size and weight.
    labels: Mutex<HashMap<(&'static str, u32, Weight), Line>>,
}

fn face(data: &'static [u8], script: Script) -> Option<Face2> {
    let shaper = Face::from_slice(data, 0)?;
    let units_per_em = shaper.units_per_em() as f32;
    let plan = |direction| ShapePlan::new(&shaper, direction, Some(script), None, &[]);
    let plans = [plan(Direction::LeftToRight), plan(Direction::RightToLeft)];
    Some(Face2 {
        pdf: Font::new(data.into(), 0)?,
        shaper,
        script,
        plans,
        units_per_em,
    })
}

impl Fonts {
    /// The process-wide fonts.
    pub fn get() -> Result<&'static Fonts, Error> {
        static FONTS: OnceLock<Option<Fonts>> = OnceLock::new();
        FONTS
            .get_or_init(|| {
                Some(Fonts {
                    arabic: [
                        face(ARABIC_REGULAR, script::ARABIC)?,
                        face(ARABIC_BOLD, script::ARABIC)?,
                    ],
                    latin: [face(LATIN_REGULAR, script::LATIN)?, face(LATIN_BOLD, script::LATIN)?],
                    labels: Mutex::new(HashMap::new()),
                })
            })
            .as_ref()
            .ok_or_else(|| Error::new("internal", "an embedded font could not be parsed"))
    }

    fn pick(&self, arabic: bool, weight: Weight) -> &Face2 {
        let set = if arabic { &self.arabic } else { &self.latin };
        match weight {
            Weight::Regular => &set[0],
            Weight::Bold => &set[1],
        }
    }

    /// [`Fonts::shape`] for a fixed label: shaped on first use, then cloned from the cache (the
    /// same glyphs and widths, so the same bytes in the PDF).
    pub fn label(&'static self, text: &'static str, size: f32, weight: Weight) -> Line {
        let key = (text, size.to_bits(), weight);
        // A poisoned lock only means another render panicked mid-insert of a complete entry.
        if let Some(line) = self.labels.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return line.clone();
        }
        let line = self.shape(text, size, weight);
        self.labels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, line.clone());
        line
    }

    /// Shapes one line (no line breaks) into glyph runs in visual order.
    pub fn shape(&'static self, text: &str, size: f32, weight: Weight) -> Line {
        // Tabs and line breaks inside a value (a name typed on two lines) have no glyph and
        // would be .notdef, which PDF/A forbids: they print as spaces.
        if text.chars().any(char::is_control) {
            let clean: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
            return self.shape(&clean, size, weight);
        }
        let mut line = Shaping {
            runs: Vec::new(),
            width: 0.0,
            size,
        };
        if text.is_empty() {
            return line.finish();
        }
        if text.is_ascii() {
            // Fast path for the common case (numbers, codes, English): one LTR run.
            self.push_run(&mut line, text, 0..text.len(), false, false, weight);
            return line.finish();
        }
        let bidi = ParagraphBidiInfo::new(text, None);
        let (levels, runs) = bidi.visual_runs(0..text.len());
        for run in runs {
            let rtl = levels.get(run.start).is_some_and(|l| l.is_rtl());
            // Split the run where the font changes: Arabic letters (and, in right-to-left runs,
            // the neutrals the Arabic font has) take Noto Sans Arabic, everything else Noto Sans.
            let mut segments: Vec<(Range<usize>, bool)> = Vec::new();
            for (i, c) in text[run.clone()].char_indices() {
                let at = run.start + i;
                let arabic =
                    is_arabic(c) || (rtl && self.arabic[0].shaper.glyph_index(c).is_some() && !c.is_ascii_alphabetic());
                match segments.last_mut() {
                    Some((r, a)) if *a == arabic => r.end = at + c.len_utf8(),
                    _ => segments.push((at..at + c.len_utf8(), arabic)),
                }
            }
            if rtl {
                segments.reverse();
            }
            for (range, arabic) in segments {
                self.push_run(&mut line, text, range, rtl, arabic, weight);
            }
        }
        line.finish()
    }

    fn push_run(
        &'static self,
        line: &mut Shaping,
        text: &str,
        range: Range<usize>,
        rtl: bool,
        arabic: bool,
        weight: Weight,
    ) {
        let Some(part) = text.get(range) else { return };
        let face = self.pick(arabic, weight);
        let mut buffer = UnicodeBuffer::new();
        buffer.push_str(part);
        // Direction and script set to the plan's (shaping with a plan made for other segment
        // properties is a logic error in rustybuzz).
        buffer.set_script(face.script);
        let (direction, plan) = if rtl {
            (Direction::RightToLeft, &face.plans[1])
        } else {
            (Direction::LeftToRight, &face.plans[0])
        };
        buffer.set_direction(direction);
        let shaped = rustybuzz::shape_with_plan(&face.shaper, plan, buffer);
        // Each glyph maps to the text from its cluster to the next larger cluster; that is how
        // krilla writes ToUnicode/ActualText, so copied and extracted text stays right.
        let mut clusters: Vec<usize> = shaped.glyph_infos().iter().map(|g| g.cluster as usize).collect();
        clusters.sort_unstable();
        clusters.dedup();
        let mut glyphs = Vec::with_capacity(shaped.len());
        let mut advance = 0.0;
        for (info, pos) in shaped.glyph_infos().iter().zip(shaped.glyph_positions()) {
            let start = info.cluster as usize;
            let end = clusters.iter().find(|&&c| c > start).copied().unwrap_or(part.len());
            let upem = face.units_per_em;
            glyphs.push(KrillaGlyph::new(
                GlyphId::new(info.glyph_id),
                pos.x_advance as f32 / upem,
                pos.x_offset as f32 / upem,
                pos.y_offset as f32 / upem,
                pos.y_advance as f32 / upem,
                start..end,
                None,
            ));
            advance += pos.x_advance as f32 / upem * line.size;
        }
        line.width += advance;
        line.runs.push(Run {
            face,
            glyphs,
            text: part.to_owned(),
            width: advance,
        });
    }

    /// Splits text into lines no wider than `width` (at spaces; a single word wider than the
    /// line is split between characters), each shaped. Explicit line breaks are kept.
    pub fn wrap(&'static self, text: &str, size: f32, weight: Weight, width: f32) -> Vec<Line> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let paragraph = paragraph.trim();
            // Most values fit on one line: one shaping instead of one per word.
            let whole = self.shape(paragraph, size, weight);
            if whole.width <= width {
                lines.push(whole);
                continue;
            }
            let mut current = String::new();
            for word in paragraph.split_whitespace() {
                let candidate = if current.is_empty() {
                    word.to_owned()
                } else {
                    format!("{current} {word}")
                };
                if self.shape(&candidate, size, weight).width <= width {
                    current = candidate;
                    continue;
                }
                if !current.is_empty() {
                    lines.push(self.shape(&current, size, weight));
                }
                current = word.to_owned();
                // A word too long for a line on its own (an IBAN, a long reference): cut it.
                while self.shape(&current, size, weight).width > width {
                    let mut cut = String::new();
                    for c in current.chars() {
                        cut.push(c);
                        if self.shape(&cut, size, weight).width > width {
                            cut.pop();
                            break;
                        }
                    }
                    if cut.is_empty() {
                        break;
                    }
                    current = current[cut.len()..].to_owned();
                    lines.push(self.shape(&cut, size, weight));
                }
            }
            if !current.is_empty() || lines.is_empty() {
                lines.push(self.shape(&current, size, weight));
            }
        }
        lines
    }
}

/// Arabic-script letters and marks (the blocks the Arabic font is for).
pub fn is_arabic(c: char) -> bool {
    matches!(c, '\u{0600}'..='\u{06FF}' | '\u{0750}'..='\u{077F}' | '\u{08A0}'..='\u{08FF}' | '\u{FB50}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}')
}

/// One shaped run: glyphs in visual order, one font, one direction.
pub struct Run {
    pub face: &'static Face2,
    pub glyphs: Vec<KrillaGlyph>,
    pub text: String,
    pub width: f32,
}

/// A shaped line: its runs in visual (left to right) order and its width in points. Cloning
/// shares the runs.
#[derive(Clone)]
pub struct Line {
    pub runs: Arc<[Run]>,
    pub width: f32,
    pub size: f32,
}

/// A line being shaped, run by run.
struct Shaping {
    runs: Vec<Run>,
    width: f32,
    size: f32,
}

impl Shaping {
    fn finish(self) -> Line {
        Line {
            runs: self.runs.into(),
            width: self.width,
            size: self.size,
        }
    }
}
