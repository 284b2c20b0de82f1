//! A small owned XML tree with byte spans, parsed with quick-xml.
//!
//! The signer needs the exact byte positions of a few elements (to insert the signature without
//! touching any other byte), the canonicaliser needs every node in document order, and the
//! verifier needs a handful of values. One parse serves all three. DTDs are refused: an invoice
//! never needs one, and entity expansion is an attack surface.

use std::borrow::Cow;

use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

use crate::error::{Code, Error, Result};

/// UBL namespace of the invoice root element.
pub const NS_INVOICE: &str = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2";
/// UBL common aggregate components.
pub const NS_CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";
/// UBL common basic components.
pub const NS_CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";
/// UBL extension components.
pub const NS_EXT: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2";
/// XML digital signature.
pub const NS_DS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// XAdES 1.3.2.
pub const NS_XADES: &str = "http://uri.etsi.org/01903/v1.3.2#";
pub(crate) const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";

/// Deepest element nesting accepted; UBL invoices stay far below it, and the bound keeps
/// recursive consumers safe from stack exhaustion on hostile input.
const MAX_DEPTH: usize = 256;

/// A node of the tree.
#[derive(Debug, Clone)]
pub enum Node<'a> {
    /// An element.
    Element(Element<'a>),
    /// Character data, decoded (entities resolved, line ends normalised), CDATA included.
    /// Borrowed from the source unless decoding changed it.
    Text(Cow<'a, str>),
    /// A processing instruction inside the root element: target and content.
    Pi(String, String),
}

/// An element with its attributes in document order (namespace declarations included, as
/// written) and the byte span it occupies in the source.
#[derive(Debug, Clone)]
pub struct Element<'a> {
    /// Qualified name as written, e.g. `cbc:ID`.
    pub name: &'a str,
    /// Namespace URI the prefix resolves to ("" when none).
    pub ns: Cow<'a, str>,
    /// Attributes as (qualified name, normalised value), in document order.
    pub attrs: Vec<(&'a str, Cow<'a, str>)>,
    /// Child nodes in document order.
    pub children: Vec<Node<'a>>,
    /// Byte offset of `<` of the start tag.
    pub start: usize,
    /// Byte offset just after the `>` of the start tag.
    pub start_tag_end: usize,
    /// Byte offset just after the end tag (or of the empty-element tag).
    pub end: usize,
}

impl<'a> Element<'a> {
    /// The part of the name after the prefix.
    pub fn local_name(&self) -> &str {
        self.name.rsplit_once(':').map_or(self.name, |(_, l)| l)
    }

    /// Whether this element has the given namespace and local name.
    pub fn is(&self, ns: &str, local: &str) -> bool {
        self.ns == ns && self.local_name() == local
    }

    /// Child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element<'a>> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// First child element with the given namespace and local name.
    pub fn child(&self, ns: &str, local: &str) -> Option<&Element<'a>> {
        self.elements().find(|e| e.is(ns, local))
    }

    /// Follows a path of (namespace, local name) steps through first matches.
    pub fn path(&self, steps: &[(&str, &str)]) -> Option<&Element<'a>> {
        steps.iter().try_fold(self, |el, (ns, local)| el.child(ns, local))
    }

    /// Concatenated text of all descendants (the XPath string value).
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.collect_text(&mut out);
        out
    }

    fn collect_text(&self, out: &mut String) {
        for child in &self.children {
            match child {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => e.collect_text(out),
                Node::Pi(..) => {}
            }
        }
    }

    /// Value of an unprefixed attribute.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_ref())
    }
}

/// A parsed document: processing instructions around the root, and the root element.
#[derive(Debug, Clone)]
pub struct Document<'a> {
    /// Processing instructions before the root element.
    pub before: Vec<(String, String)>,
    /// The root element.
    pub root: Element<'a>,
    /// Processing instructions after the root element.
    pub after: Vec<(String, String)>,
}

fn xml_error(message: impl Into<String>) -> Error {
    Error::new(Code::InvalidXml, message)
}

/// A start tag as the reader reports it. Names and (unchanged) values borrow from the source;
/// the attribute list is the reader's buffer, valid during the callback only.
pub(crate) struct StartTag<'a, 's> {
    /// Qualified name as written.
    pub name: &'a str,
    /// The part of the name after the prefix.
    pub local: &'a str,
    /// Namespace URI the prefix resolves to ("" when none).
    pub ns: &'s Cow<'a, str>,
    /// Attributes as (qualified name, normalised value), in document order.
    pub attrs: &'s [(&'a str, Cow<'a, str>)],
    /// Byte offset of `<`.
    pub start: usize,
    /// Byte offset just after the `>` of the start tag.
    pub start_tag_end: usize,
}

/// What the reader reports, in document order. Every `start` is followed by its `end` (empty
/// elements included), and character data may arrive in several pieces.
pub(crate) trait Handler<'a> {
    /// An element starts.
    fn start(&mut self, tag: &StartTag<'a, '_>);
    /// The innermost open element ends; `end` is the byte offset just after it.
    fn end(&mut self, end: usize);
    /// A piece of character data inside the root (decoded: entities resolved, line ends
    /// normalised).
    fn text(&mut self, text: Cow<'a, str>);
    /// A processing instruction; `depth` 0 is outside the root, `after_root` tells which side.
    fn pi(&mut self, target: &str, content: &str, depth: usize, after_root: bool);
}

/// In-scope namespace bindings while parsing: (prefix, uri) pushed per element.
struct Scope<'a> {
    bindings: Vec<(&'a str, Cow<'a, str>)>,
    marks: Vec<usize>,
}

impl<'a> Scope<'a> {
    fn resolve(&self, prefix: &str) -> Option<Cow<'a, str>> {
        if prefix == "xml" {
            return Some(Cow::Borrowed(NS_XML));
        }
        self.bindings
            .iter()
            .rev()
            .find(|(p, _)| *p == prefix)
            .map(|(_, u)| u.clone())
    }
}

/// Where `inner` (a slice of `body`) starts in `body`; quick-xml hands out slices of the input,
/// and positions let the tree borrow from the source instead of copying.
fn offset_in(body: &str, inner: &[u8]) -> Option<usize> {
    let start = (inner.as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
    (start + inner.len() <= body.len()).then_some(start)
}

/// Splits a qualified name at its colon: (prefix, local name); no colon, no prefix. A byte
/// loop (names are short, and this runs for every tag and attribute: `split_once` costs about
/// 1% of a re-sign); `:` is ASCII, so both `get`s are at character boundaries.
pub(crate) fn split_qname(qname: &str) -> (&str, &str) {
    qname
        .bytes()
        .position(|b| b == b':')
        .and_then(|at| Some((qname.get(..at)?, qname.get(at + 1..)?)))
        .unwrap_or(("", qname))
}

fn prefix_of(qname: &str) -> &str {
    split_qname(qname).0
}

/// Reads UTF-8 XML text (an optional BOM is skipped) and reports it to `handler`: one pass of
/// quick-xml events with namespaces resolved, well-formedness and namespace errors reported,
/// DTDs refused. Offsets count from the start of `src`.
pub(crate) fn read<'a>(src: &'a str, handler: &mut impl Handler<'a>) -> Result<()> {
    let body = src.strip_prefix('\u{feff}').unwrap_or(src);
    let offset = src.len() - body.len();
    let mut reader = Reader::from_str(body);
    let config = reader.config_mut();
    config.trim_text(false);
    config.check_end_names = true;
    config.expand_empty_elements = false;

    let mut scope = Scope {
        bindings: Vec::new(),
        marks: Vec::new(),
    };
    let mut attrs: Vec<(&'a str, Cow<'a, str>)> = Vec::new();
    let mut depth = 0usize;
    let mut root_done = false;

    loop {
        let pos = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader.read_event().map_err(|e| {
            xml_error(format!(
                "malformed XML at byte {}: {e}",
                reader.error_position() as usize + offset
            ))
        })?;
        let end_pos = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let (event, is_empty) = match event {
            Event::Empty(tag) => (Event::Start(tag), true),
            other => (other, false),
        };
        match event {
            Event::Start(tag) => {
                if root_done {
                    return Err(xml_error("content after the root element"));
                }
                if depth >= MAX_DEPTH {
                    return Err(xml_error(format!("elements nested deeper than {MAX_DEPTH}")));
                }
                let name_len = tag.name().as_ref().len();
                let name = body
                    .get(pos + 1..pos + 1 + name_len)
                    .ok_or_else(|| xml_error("bad start tag"))?;
                attrs.clear();
                scope.marks.push(scope.bindings.len());
                for attr in tag.attributes() {
                    let attr = attr.map_err(|e| xml_error(format!("bad attribute in <{name}>: {e}")))?;
                    let key_raw: &str = attr.key.as_ref();
                    let key = offset_in(body, key_raw.as_bytes())
                        .and_then(|at| body.get(at..at + key_raw.len()))
                        .ok_or_else(|| xml_error("bad attribute name"))?;
                    let raw = offset_in(body, attr.value.as_bytes()).and_then(|at| body.get(at..at + attr.value.len()));
                    let value = match raw {
                        Some(raw) if !raw.contains(['&', '\t', '\n', '\r']) => Cow::Borrowed(raw),
                        _ => Cow::Owned(
                            attr.normalized_value(XmlVersion::Implicit1_0)
                                .map_err(|e| xml_error(format!("bad value of attribute {key} in <{name}>: {e}")))?
                                .into_owned(),
                        ),
                    };
                    if key == "xmlns" {
                        scope.bindings.push(("", value.clone()));
                    } else if let Some(p) = key.strip_prefix("xmlns:") {
                        scope.bindings.push((p, value.clone()));
                    }
                    attrs.push((key, value));
                }
                let (prefix, local) = split_qname(name);
                let ns = match scope.resolve(prefix) {
                    Some(u) => u,
                    None if prefix.is_empty() => Cow::Borrowed(""),
                    None => return Err(xml_error(format!("undeclared namespace prefix in <{name}>"))),
                };
                for (key, _) in &attrs {
                    let p = prefix_of(key);
                    if !p.is_empty() && p != "xmlns" && scope.resolve(p).is_none() {
                        return Err(xml_error(format!("undeclared namespace prefix of attribute {key}")));
                    }
                }
                handler.start(&StartTag {
                    name,
                    local,
                    ns: &ns,
                    attrs: &attrs,
                    start: pos + offset,
                    start_tag_end: end_pos + offset,
                });
                if is_empty {
                    if let Some(mark) = scope.marks.pop() {
                        scope.bindings.truncate(mark);
                    }
                    handler.end(end_pos + offset);
                    root_done = depth == 0;
                } else {
                    depth += 1;
                }
            }
            Event::End(_) => {
                if depth == 0 {
                    return Err(xml_error("unexpected end tag"));
                }
                depth -= 1;
                if let Some(mark) = scope.marks.pop() {
                    scope.bindings.truncate(mark);
                }
                handler.end(end_pos + offset);
                root_done = depth == 0;
            }
            Event::Text(text) => {
                let content = text.xml10_content();
                if depth == 0 {
                    if !content.trim().is_empty() {
                        return Err(xml_error("text outside the root element"));
                    }
                } else {
                    handler.text(content);
                }
            }
            Event::GeneralRef(reference) => {
                if depth == 0 {
                    return Err(xml_error("entity reference outside the root element"));
                }
                if let Some(ch) = reference
                    .resolve_char_ref()
                    .map_err(|e| xml_error(format!("bad character reference: {e}")))?
                {
                    handler.text(Cow::Owned(ch.to_string()));
                } else {
                    let name = reference.xml10_content();
                    let value = resolve_predefined_entity(&name)
                        .ok_or_else(|| xml_error(format!("unknown entity &{name};")))?;
                    handler.text(Cow::Borrowed(value));
                }
            }
            Event::CData(data) => {
                if depth == 0 {
                    return Err(xml_error("CDATA outside the root element"));
                }
                handler.text(Cow::Owned(data.xml10_content().into_owned()));
            }
            Event::PI(pi) => {
                handler.pi(pi.target(), pi.content().trim_start(), depth, root_done);
            }
            Event::DocType(_) => return Err(xml_error("DOCTYPE declarations are not accepted")),
            Event::Comment(_) | Event::Decl(_) | Event::Empty(_) => {}
            Event::Eof => break,
        }
    }
    if depth != 0 {
        return Err(xml_error("unclosed element at end of input"));
    }
    if !root_done {
        return Err(xml_error("no root element"));
    }
    Ok(())
}

/// Builds the [`Document`] tree from reader events.
struct TreeBuilder<'a> {
    stack: Vec<Element<'a>>,
    root: Option<Element<'a>>,
    before: Vec<(String, String)>,
    after: Vec<(String, String)>,
    /// Adjacent character data (text, references, CDATA) becomes one text node.
    pending: Option<Cow<'a, str>>,
}

impl<'a> TreeBuilder<'a> {
    fn flush_text(&mut self) {
        if let (Some(text), Some(parent)) = (self.pending.take(), self.stack.last_mut()) {
            parent.children.push(Node::Text(text));
        }
    }
}

impl<'a> Handler<'a> for TreeBuilder<'a> {
    fn start(&mut self, tag: &StartTag<'a, '_>) {
        self.flush_text();
        self.stack.push(Element {
            name: tag.name,
            ns: tag.ns.clone(),
            attrs: tag.attrs.to_vec(),
            children: Vec::new(),
            start: tag.start,
            start_tag_end: tag.start_tag_end,
            end: tag.start_tag_end,
        });
    }

    fn end(&mut self, end: usize) {
        self.flush_text();
        if let Some(mut element) = self.stack.pop() {
            element.end = end;
            match self.stack.last_mut() {
                Some(parent) => parent.children.push(Node::Element(element)),
                None => self.root = Some(element),
            }
        }
    }

    fn text(&mut self, piece: Cow<'a, str>) {
        match &mut self.pending {
            None => self.pending = Some(piece),
            Some(text) => text.to_mut().push_str(&piece),
        }
    }

    fn pi(&mut self, target: &str, content: &str, depth: usize, after_root: bool) {
        self.flush_text();
        let pi = (target.to_owned(), content.to_owned());
        match self.stack.last_mut() {
            Some(parent) if depth > 0 => parent.children.push(Node::Pi(pi.0, pi.1)),
            _ if after_root => self.after.push(pi),
            _ => self.before.push(pi),
        }
    }
}

/// Parses UTF-8 XML text (an optional BOM is skipped) into a [`Document`] that borrows names,
/// attribute values and text from `src` wherever decoding leaves them unchanged.
pub fn parse(src: &str) -> Result<Document<'_>> {
    let mut builder = TreeBuilder {
        stack: Vec::new(),
        root: None,
        before: Vec::new(),
        after: Vec::new(),
        pending: None,
    };
    read(src, &mut builder)?;
    let root = builder.root.ok_or_else(|| xml_error("no root element"))?;
    Ok(Document {
        before: builder.before,
        root,
        after: builder.after,
    })
}

/// Checks that input bytes are UTF-8 (the only encoding ZATCA accepts).
pub fn utf8(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|e| Error::new(Code::XmlNotUtf8, format!("document is not UTF-8: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_doctype_and_garbage() {
        assert!(parse("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>").is_err());
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("").is_err());
        assert!(parse("<a>&unknown;</a>").is_err());
        assert!(parse("<p:a/>").is_err());
        assert!(parse("<a/><b/>").is_err());
    }

    #[test]
    fn spans_point_at_the_source() {
        let src = "<r>\n  <a x=\"1\">t</a><b/>\n</r>";
        let doc = parse(src).unwrap_or_else(|e| panic!("{e}"));
        let a = doc.root.elements().next().unwrap_or_else(|| panic!("no a"));
        assert_eq!(&src[a.start..a.end], "<a x=\"1\">t</a>");
        assert_eq!(&src[a.start..a.start_tag_end], "<a x=\"1\">");
        let b = doc.root.elements().nth(1).unwrap_or_else(|| panic!("no b"));
        assert_eq!(&src[b.start..b.end], "<b/>");
    }
}
