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

use crate::error::{Error, Result};

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
const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";

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
    Error::new("invalid_xml", message)
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

fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map_or("", |(p, _)| p)
}

/// Parses UTF-8 XML text (an optional BOM is skipped) into a [`Document`] that borrows names,
/// attribute values and text from `src` wherever decoding leaves them unchanged.
pub fn parse(src: &str) -> Result<Document<'_>> {
    let offset = if src.starts_with('\u{feff}') { 3 } else { 0 };
    let body = src.get(offset..).unwrap_or_default();
    let mut reader = Reader::from_str(body);
    let config = reader.config_mut();
    config.trim_text(false);
    config.check_end_names = true;
    config.expand_empty_elements = false;

    let mut scope = Scope {
        bindings: Vec::new(),
        marks: Vec::new(),
    };
    let mut stack: Vec<Element<'_>> = Vec::new();
    let mut before = Vec::new();
    let mut after = Vec::new();
    let mut root: Option<Element<'_>> = None;
    let mut pending: Option<Cow<'_, str>> = None;

    loop {
        let pos = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader.read_event().map_err(|e| {
            xml_error(format!(
                "malformed XML at byte {}: {e}",
                reader.error_position() as usize + offset
            ))
        })?;
        let end_pos = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        if !matches!(event, Event::Text(_) | Event::GeneralRef(_) | Event::CData(_)) {
            if let (Some(text), Some(parent)) = (pending.take(), stack.last_mut()) {
                parent.children.push(Node::Text(text));
            }
        }
        let (event, is_empty) = match event {
            Event::Empty(tag) => (Event::Start(tag), true),
            other => (other, false),
        };
        match event {
            Event::Start(tag) => {
                if root.is_some() {
                    return Err(xml_error("content after the root element"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(xml_error(format!("elements nested deeper than {MAX_DEPTH}")));
                }
                let name_len = tag.name().as_ref().len();
                let name = body
                    .get(pos + 1..pos + 1 + name_len)
                    .ok_or_else(|| xml_error("bad start tag"))?;
                let mut attrs = Vec::new();
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
                let prefix = prefix_of(name);
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
                let element = Element {
                    name,
                    ns,
                    attrs,
                    children: Vec::new(),
                    start: pos + offset,
                    start_tag_end: end_pos + offset,
                    end: end_pos + offset,
                };
                if is_empty {
                    if let Some(mark) = scope.marks.pop() {
                        scope.bindings.truncate(mark);
                    }
                    attach(&mut stack, &mut root, element);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let Some(mut element) = stack.pop() else {
                    return Err(xml_error("unexpected end tag"));
                };
                if let Some(mark) = scope.marks.pop() {
                    scope.bindings.truncate(mark);
                }
                element.end = end_pos + offset;
                attach(&mut stack, &mut root, element);
            }
            Event::Text(text) => {
                let content = text.xml10_content();
                if stack.is_empty() {
                    if !content.trim().is_empty() {
                        return Err(xml_error("text outside the root element"));
                    }
                } else {
                    append(&mut pending, content);
                }
            }
            Event::GeneralRef(reference) => {
                if stack.is_empty() {
                    return Err(xml_error("entity reference outside the root element"));
                }
                if let Some(ch) = reference
                    .resolve_char_ref()
                    .map_err(|e| xml_error(format!("bad character reference: {e}")))?
                {
                    append(&mut pending, Cow::Owned(ch.to_string()));
                } else {
                    let name = reference.xml10_content();
                    let value = resolve_predefined_entity(&name)
                        .ok_or_else(|| xml_error(format!("unknown entity &{name};")))?;
                    append(&mut pending, Cow::Borrowed(value));
                }
            }
            Event::CData(data) => {
                if stack.is_empty() {
                    return Err(xml_error("CDATA outside the root element"));
                }
                append(&mut pending, Cow::Owned(data.xml10_content().into_owned()));
            }
            Event::PI(pi) => {
                let target = pi.target().to_owned();
                let content = pi.content().trim_start().to_owned();
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(Node::Pi(target, content));
                } else if root.is_none() {
                    before.push((target, content));
                } else {
                    after.push((target, content));
                }
            }
            Event::DocType(_) => return Err(xml_error("DOCTYPE declarations are not accepted")),
            Event::Comment(_) | Event::Decl(_) | Event::Empty(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(xml_error("unclosed element at end of input"));
    }
    let root = root.ok_or_else(|| xml_error("no root element"))?;
    Ok(Document { before, root, after })
}

/// Adjacent character data (text, references, CDATA) becomes one text node.
fn append<'a>(pending: &mut Option<Cow<'a, str>>, piece: Cow<'a, str>) {
    match pending {
        None => *pending = Some(piece),
        Some(text) => text.to_mut().push_str(&piece),
    }
}

fn attach<'a>(stack: &mut [Element<'a>], root: &mut Option<Element<'a>>, element: Element<'a>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(element)),
        None => *root = Some(element),
    }
}

/// Appends `s` escaped as C14N text content.
pub(crate) fn escape_text(out: &mut String, s: &str) {
    if !s.contains(['&', '<', '>', '\r']) {
        out.push_str(s);
        return;
    }
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// Appends `s` escaped as a C14N attribute value.
fn escape_attr(out: &mut String, s: &str) {
    if !s.contains(['&', '<', '"', '\t', '\n', '\r']) {
        out.push_str(s);
        return;
    }
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// Canonical XML 1.1 (inclusive, without comments) of the document, leaving out every child of
/// the root for which `exclude` returns true. Whitespace text around excluded elements is kept,
/// as an XPath node-set filter keeps it.
pub fn canonicalize(doc: &Document<'_>, exclude: &dyn Fn(&Element<'_>) -> bool) -> String {
    let mut out = String::with_capacity(doc.root.end.saturating_sub(doc.root.start));
    for (target, content) in &doc.before {
        write_pi(&mut out, target, content);
        out.push('\n');
    }
    let mut scope: Vec<(&str, &str)> = Vec::new();
    write_element(&mut out, &doc.root, &mut scope, Some(exclude));
    for (target, content) in &doc.after {
        out.push('\n');
        write_pi(&mut out, target, content);
    }
    out
}

fn write_pi(out: &mut String, target: &str, content: &str) {
    out.push_str("<?");
    out.push_str(target);
    if !content.is_empty() {
        out.push(' ');
        out.push_str(content);
    }
    out.push_str("?>");
}

fn in_scope<'s>(scope: &[(&'s str, &'s str)], prefix: &str) -> Option<&'s str> {
    scope.iter().rev().find(|(p, _)| *p == prefix).map(|(_, u)| *u)
}

/// Writes one element in canonical form. Namespace declarations are rendered where they
/// change the binding in scope (the parent is always rendered: only whole subtrees of the
/// root's children are ever excluded), attributes sorted by (namespace URI, local name).
fn write_element<'s>(
    out: &mut String,
    el: &'s Element<'_>,
    scope: &mut Vec<(&'s str, &'s str)>,
    exclude_children: Option<&dyn Fn(&Element<'_>) -> bool>,
) {
    let mark = scope.len();
    out.push('<');
    out.push_str(el.name);
    if !el.attrs.is_empty() {
        let mut ns_out: Vec<(&str, &str)> = Vec::new();
        for (key, value) in &el.attrs {
            let decl = if *key == "xmlns" {
                Some("")
            } else {
                key.strip_prefix("xmlns:")
            };
            if let Some(prefix) = decl {
                if in_scope(scope, prefix).unwrap_or("") != value.as_ref() {
                    ns_out.push((prefix, value.as_ref()));
                }
            }
        }
        for (key, value) in &el.attrs {
            if *key == "xmlns" {
                scope.push(("", value.as_ref()));
            } else if let Some(prefix) = key.strip_prefix("xmlns:") {
                scope.push((prefix, value.as_ref()));
            }
        }
        let mut attrs_out: Vec<(&str, &str, &str, &str)> = Vec::new();
        for (key, value) in &el.attrs {
            if *key == "xmlns" || key.starts_with("xmlns:") {
                continue;
            }
            let (uri, local) = match key.split_once(':') {
                Some(("xml", local)) => (NS_XML, local),
                Some((prefix, local)) => (in_scope(scope, prefix).unwrap_or(""), local),
                None => ("", *key),
            };
            attrs_out.push((uri, local, key, value.as_ref()));
        }
        ns_out.sort_unstable_by(|a, b| a.0.cmp(b.0));
        attrs_out.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        for (prefix, uri) in &ns_out {
            if prefix.is_empty() {
                out.push_str(" xmlns=\"");
            } else {
                out.push_str(" xmlns:");
                out.push_str(prefix);
                out.push_str("=\"");
            }
            escape_attr(out, uri);
            out.push('"');
        }
        for (_, _, key, value) in &attrs_out {
            out.push(' ');
            out.push_str(key);
            out.push_str("=\"");
            escape_attr(out, value);
            out.push('"');
        }
    }
    out.push('>');
    for child in &el.children {
        match child {
            Node::Element(e) => {
                if exclude_children.is_some_and(|f| f(e)) {
                    continue;
                }
                write_element(out, e, scope, None);
            }
            Node::Text(t) => escape_text(out, t),
            Node::Pi(target, content) => write_pi(out, target, content),
        }
    }
    out.push_str("</");
    out.push_str(el.name);
    out.push('>');
    scope.truncate(mark);
}

/// Checks that input bytes are UTF-8 (the only encoding ZATCA accepts).
pub fn utf8(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|e| Error::new("xml_not_utf8", format!("document is not UTF-8: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c14n(src: &str) -> String {
        let doc = parse(src).unwrap_or_else(|e| panic!("{e}"));
        canonicalize(&doc, &|_| false)
    }

    #[test]
    fn empty_elements_expand_and_attributes_sort() {
        assert_eq!(c14n(r#"<a b="2" a="1"><c/></a>"#), r#"<a a="1" b="2"><c></c></a>"#);
    }

    #[test]
    fn declaration_comments_and_outer_whitespace_go() {
        let src = "<?xml version=\"1.0\"?>\n<!-- c -->\n<a>x<!-- c -->y</a>\n";
        assert_eq!(c14n(src), "<a>xy</a>");
    }

    #[test]
    fn escapes_and_line_ends() {
        let src = "<a t=\"x&#xA;y&quot;\">1 &lt; 2 &amp; 3 > 2\r\n<![CDATA[<&>]]></a>";
        assert_eq!(
            c14n(src),
            "<a t=\"x&#xA;y&quot;\">1 &lt; 2 &amp; 3 &gt; 2\n&lt;&amp;&gt;</a>"
        );
    }

    #[test]
    fn redundant_namespace_declarations_are_dropped() {
        let src = r#"<a xmlns="u" xmlns:p="v"><p:b xmlns:p="v" xmlns:q="w" q:z="1" p:y="2" x="3"/></a>"#;
        assert_eq!(
            c14n(src),
            r#"<a xmlns="u" xmlns:p="v"><p:b xmlns:q="w" x="3" p:y="2" q:z="1"></p:b></a>"#
        );
    }

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
