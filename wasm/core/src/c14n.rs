//! Canonical XML 1.1 (inclusive, without comments), the form the invoice hash and the
//! XAdES digests are taken over (SPEC §6). One module for every producer of canonical bytes:
//! the tree replay below (verification, debugging), the streaming scanner's events
//! ([`crate::scan`]) and the UBL writer, which escapes as C14N does so that its output is
//! already canonical and never needs parsing back.

use std::borrow::Cow;

use crate::xml::{Document, Element, NS_XML, Node};

/// What C14N escapes, per byte: in text content (`TEXT`), in attribute values (`ATTR`).
const TEXT: u8 = 1;
const ATTR: u8 = 2;
const ESCAPED: [u8; 256] = {
    let mut table = [0u8; 256];
    table[b'&' as usize] = TEXT | ATTR;
    table[b'<' as usize] = TEXT | ATTR;
    table[b'\r' as usize] = TEXT | ATTR;
    table[b'>' as usize] = TEXT;
    table[b'"' as usize] = ATTR;
    table[b'\t' as usize] = ATTR;
    table[b'\n' as usize] = ATTR;
    table
};

fn reference(b: u8) -> &'static str {
    match b {
        b'&' => "&amp;",
        b'<' => "&lt;",
        b'>' => "&gt;",
        b'"' => "&quot;",
        b'\t' => "&#x9;",
        b'\n' => "&#xA;",
        _ => "&#xD;",
    }
}

/// The byte `c` is, when C14N escapes it in `class`.
fn escaped_byte(c: char, class: u8) -> Option<u8> {
    u8::try_from(c).ok().filter(|&b| ESCAPED[usize::from(b)] & class != 0)
}

/// Appends `s` with the characters of `class` replaced by references; unescaped runs are
/// copied whole. Most values need no escaping, which a table lookup per byte finds out (this
/// runs over every value of every document); the others are split after each escaped character.
fn escape_with(out: &mut String, s: &str, class: u8) {
    if !s.bytes().any(|b| ESCAPED[usize::from(b)] & class != 0) {
        out.push_str(s);
        return;
    }
    for piece in s.split_inclusive(|c: char| escaped_byte(c, class).is_some()) {
        let mut chars = piece.chars();
        match chars.next_back().and_then(|c| escaped_byte(c, class)) {
            Some(b) => {
                out.push_str(chars.as_str());
                out.push_str(reference(b));
            }
            // The last piece, when no escaped character ends it.
            None => out.push_str(piece),
        }
    }
}

/// Appends `s` escaped as C14N text content (`&`, `<`, `>`, CR).
pub(crate) fn escape_text(out: &mut String, s: &str) {
    escape_with(out, s, TEXT);
}

/// Appends `s` escaped as a C14N attribute value (`&`, `<`, `"`, TAB, LF, CR).
pub(crate) fn escape_attr(out: &mut String, s: &str) {
    escape_with(out, s, ATTR);
}

/// Appends ` key="value"` with the value escaped as C14N does.
pub(crate) fn write_attr(out: &mut String, key: &str, value: &str) {
    out.push(' ');
    out.push_str(key);
    out.push_str("=\"");
    escape_attr(out, value);
    out.push('"');
}

/// A streaming writer of Canonical XML 1.1 (inclusive, without comments), fed element by
/// element. Namespace declarations are rendered where they change the binding in scope (every
/// ancestor of a rendered element is rendered: only whole subtrees are ever left out), and
/// attributes are sorted by (namespace URI, local name).
pub(crate) struct Canonicalizer<'a> {
    /// The canonical text written so far.
    pub out: String,
    scope: Vec<(&'a str, Cow<'a, str>)>,
    /// Per open element: its name and the scope length before it.
    open: Vec<(&'a str, usize)>,
    order: Vec<usize>,
}

impl<'a> Canonicalizer<'a> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Canonicalizer {
            out: String::with_capacity(capacity),
            scope: Vec::new(),
            open: Vec::new(),
            order: Vec::new(),
        }
    }

    fn in_scope(&self, prefix: &str) -> Option<&str> {
        self.scope
            .iter()
            .rev()
            .find(|(p, _)| *p == prefix)
            .map(|(_, u)| u.as_ref())
    }

    fn declared_prefix(key: &str) -> Option<&str> {
        if key == "xmlns" {
            Some("")
        } else {
            key.strip_prefix("xmlns:")
        }
    }

    /// The namespace URI and local name an attribute sorts by.
    fn attr_key<'k>(&'k self, key: &'k str) -> (&'k str, &'k str) {
        match key.split_once(':') {
            Some(("xml", local)) => (NS_XML, local),
            Some((prefix, local)) => (self.in_scope(prefix).unwrap_or(""), local),
            None => ("", key),
        }
    }

    /// Writes a start tag.
    pub(crate) fn start(&mut self, name: &'a str, attrs: &[(&'a str, Cow<'a, str>)]) {
        let mark = self.scope.len();
        self.open.push((name, mark));
        self.out.push('<');
        self.out.push_str(name);
        if !attrs.is_empty() {
            // Declarations that change the binding in scope, sorted by prefix.
            let mut order = std::mem::take(&mut self.order);
            order.clear();
            for (i, (key, value)) in attrs.iter().enumerate() {
                if let Some(prefix) = Self::declared_prefix(key) {
                    if self.in_scope(prefix).unwrap_or("") != value.as_ref() {
                        order.push(i);
                    }
                }
            }
            crate::prim::sort::sort_distinct_by(&mut order, |&a, &b| {
                Self::declared_prefix(attrs[a].0) < Self::declared_prefix(attrs[b].0)
            });
            for &i in &order {
                let (key, value) = &attrs[i];
                write_attr(&mut self.out, key, value);
            }
            for (key, value) in attrs {
                if let Some(prefix) = Self::declared_prefix(key) {
                    self.scope.push((prefix, value.clone()));
                }
            }
            // Other attributes, sorted by (namespace URI, local name).
            order.clear();
            order.extend((0..attrs.len()).filter(|&i| Self::declared_prefix(attrs[i].0).is_none()));
            crate::prim::sort::sort_distinct_by(&mut order, |&a, &b| {
                self.attr_key(attrs[a].0) < self.attr_key(attrs[b].0)
            });
            for &i in &order {
                let (key, value) = &attrs[i];
                write_attr(&mut self.out, key, value);
            }
            self.order = order;
        }
        self.out.push('>');
    }

    /// Writes the end tag of the innermost open element.
    pub(crate) fn end(&mut self) {
        if let Some((name, mark)) = self.open.pop() {
            self.out.push_str("</");
            self.out.push_str(name);
            self.out.push('>');
            self.scope.truncate(mark);
        }
    }

    /// Writes character data.
    pub(crate) fn text(&mut self, text: &str) {
        escape_text(&mut self.out, text);
    }

    /// Writes a processing instruction (the caller adds the line breaks C14N puts around those
    /// outside the root).
    pub(crate) fn pi(&mut self, target: &str, content: &str) {
        self.out.push_str("<?");
        self.out.push_str(target);
        if !content.is_empty() {
            self.out.push(' ');
            self.out.push_str(content);
        }
        self.out.push_str("?>");
    }
}

/// Canonical XML 1.1 (inclusive, without comments) of the document, leaving out every child of
/// the root for which `exclude` returns true. Whitespace text around excluded elements is kept,
/// as an XPath node-set filter keeps it.
pub fn canonicalize(doc: &Document<'_>, exclude: &dyn Fn(&Element<'_>) -> bool) -> String {
    let mut c = Canonicalizer::with_capacity(doc.root.end.saturating_sub(doc.root.start));
    for (target, content) in &doc.before {
        c.pi(target, content);
        c.out.push('\n');
    }
    replay(&mut c, &doc.root, Some(exclude));
    for (target, content) in &doc.after {
        c.out.push('\n');
        c.pi(target, content);
    }
    c.out
}

fn replay<'a>(c: &mut Canonicalizer<'a>, el: &Element<'a>, exclude_children: Option<&dyn Fn(&Element<'_>) -> bool>) {
    c.start(el.name, &el.attrs);
    for child in &el.children {
        match child {
            Node::Element(e) => {
                if !exclude_children.is_some_and(|f| f(e)) {
                    replay(c, e, None);
                }
            }
            Node::Text(t) => c.text(t),
            Node::Pi(target, content) => c.pi(target, content),
        }
    }
    c.end();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse;

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
}
