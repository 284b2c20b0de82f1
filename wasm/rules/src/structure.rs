//! The XSD structure pass: what the first stage of ZATCA's validation (the UBL 2.1 Invoice XSD)
//! checks — the root element, each element's children (which, in which order, how many),
//! attributes (allowed, required, their types, `xsd:ID`s unique), mixed content, and the lexical
//! form of typed values (decimals, integers, dates, times, date-times, booleans, base64, URIs).
//! Reported as the pseudo-rule `XSD`.
//!
//! The tables are generated from the XSDs (`structure/tables.rs`, by `tests/structure_tables.rs`)
//! and cover every element reachable from `Invoice`: all of UBL 2.1's aggregates and, through the
//! lax wildcard of `ext:ExtensionContent`, the signature schemas UBL imports (UBL signature
//! components, xmldsig, XAdES) — so a `ds:Reference` without its `ds:DigestValue`, a
//! `xades:QualifyingProperties` without `Target` or a malformed `xades:SigningTime` is found
//! here, as ZATCA's XSD stage finds it. A lax wildcard validates what has a global declaration
//! and looks inside what has none; a strict one requires a declaration.
//!
//! Like the XSD validator, one content-model error is reported per element (the rest of its
//! children's order is then meaningless), while every child is still checked on its own.

use std::fmt::Write as _;

use zatca_core::xml::{self, Element as Node, NS_CAC, NS_CBC, NS_DS, NS_EXT, NS_INVOICE, NS_XADES, Node as Child};

use crate::{Finding, Severity};

mod lexical;
mod model;
mod problem;
#[rustfmt::skip]
mod tables;

use lexical::{
    collapse, is_base64, is_blank, is_boolean, is_date, is_date_time, is_decimal, is_integer, is_language, is_ncname,
    is_time, is_uri,
};
use model::{
    Decl, Kid, Mismatch, accepting, accepts, declaration, expected, lookup, match_particle, mentions, particle_name,
};
use problem::Problem;

/// The rule id of the findings of this pass.
pub(crate) const RULE: &str = "XSD";

/// `maxOccurs="unbounded"`.
pub(crate) const UNBOUNDED: u16 = u16::MAX;

const NS_SIG: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonSignatureComponents-2";
const NS_SAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:SignatureAggregateComponents-2";
const NS_SBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:SignatureBasicComponents-2";

/// The built-in type a simple-content element's value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value {
    Decimal,
    Integer,
    Date,
    Time,
    DateTime,
    Boolean,
    Base64,
    Uri,
    /// string, normalizedString, token: any text.
    Text,
}

/// The type of an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttrKind {
    Language,
    /// `xsd:ID`: a name, unique in the document.
    Id,
    Uri,
    Boolean,
    /// A string enumeration.
    OneOf(&'static [&'static str]),
    Text,
}

/// An attribute an element may (or must) have.
pub(crate) struct Attr {
    pub name: &'static str,
    pub required: bool,
    pub kind: AttrKind,
}

/// The shape of a simple-content element (the UBL unqualified data types, xmldsig's values).
pub(crate) struct Leaf {
    pub value: Value,
    pub attrs: &'static [Attr],
}

/// What an element contains: a plain sequence of elements (index into `SEQUENCES`), a typed
/// value (index into `LEAVES`), or any other complex content (index into `COMPLEX`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Content {
    Sequence(u16),
    Leaf(u16),
    Complex(u16),
}

/// An element declaration, global or local.
pub(crate) struct Element {
    pub ns: u8,
    pub name: &'static str,
    pub content: Content,
}

/// How a wildcard has the elements it admits checked (`processContents`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Process {
    /// A global declaration is required.
    Strict,
    /// Checked against a global declaration if there is one; otherwise its children are.
    Lax,
}

/// `xsd:any`: which namespaces it admits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wildcard {
    /// `##other` (any namespace but this one, index into `NS`, and but none); `None`: `##any`.
    pub other_than: Option<u8>,
    pub process: Process,
}

/// What a particle accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Term {
    /// This element (index into `ELEMENTS`).
    Element(u16),
    Any(Wildcard),
    Sequence(&'static [Particle]),
    Choice(&'static [Particle]),
}

/// A term with its cardinality.
#[derive(Debug)]
pub(crate) struct Particle {
    pub term: Term,
    pub min: u16,
    pub max: u16,
}

/// Complex content other than a plain sequence.
pub(crate) struct Complex {
    /// Text allowed between the children.
    pub mixed: bool,
    /// `xsd:anyAttribute`.
    pub any_attr: bool,
    pub attrs: &'static [Attr],
    /// `None`: no child elements.
    pub model: Option<&'static Particle>,
}

/// Runs the pass over a document; a document that cannot be parsed gives nothing here (the
/// rules report it as `XML`).
pub(crate) fn run(doc: &xml::Document<'_>) -> Vec<Finding> {
    let root = &doc.root;
    let mut w = Walker {
        out: Vec::new(),
        ids: Vec::new(),
        path: vec![root],
    };
    match lookup(root) {
        Some(i) if root.ns == NS_INVOICE => w.walk(root, i),
        _ => w.report(Problem::Root, None, format!("{} ({})", root.name, root.ns)),
    }
    w.out
}

/// The state of one pass: findings, the `xsd:ID`s seen, and the ancestors of the element being
/// checked (itself included), for locations.
struct Walker<'e> {
    out: Vec<Finding>,
    ids: Vec<&'e str>,
    path: Vec<&'e Node<'e>>,
}

impl<'e> Walker<'e> {
    /// Checks `el` (the element `index` of the tables) and everything under it; `el` is the
    /// last of `self.path`.
    fn walk(&mut self, el: &'e Node<'e>, index: u16) {
        match tables::ELEMENTS[usize::from(index)].content {
            Content::Leaf(leaf) => self.value(el, &tables::LEAVES[usize::from(leaf)]),
            Content::Sequence(seq) => {
                let seq = tables::SEQUENCES[usize::from(seq)];
                self.attributes(el, &[], false);
                if el.children.iter().any(|c| matches!(c, Child::Text(t) if !is_blank(t))) {
                    self.report(Problem::TextInAggregate, None, display(el));
                }
                let kids: Vec<Kid<'e>> = el.elements().map(Kid::new).collect();
                self.sequence(el, seq, &kids);
                for kid in &kids {
                    self.child(kid, declaration(seq.iter(), kid));
                }
            }
            Content::Complex(c) => self.complex(el, &tables::COMPLEX[usize::from(c)]),
        }
    }

    /// Checks a child as its parent's model has it.
    fn child(&mut self, kid: &Kid<'e>, decl: Decl) {
        let child = kid.node;
        self.path.push(child);
        match decl {
            Decl::Element(e) => self.walk(child, e),
            Decl::Wild(Process::Lax) => self.lax(child),
            Decl::Wild(Process::Strict) => match kid.global {
                Some(i) => self.walk(child, i),
                None => {
                    let detail = format!("{} has no declaration in the schemas", display(child));
                    self.report(Problem::Undeclared, None, detail);
                }
            },
            // Not in the model (reported): still checked on its own if it is declared.
            Decl::Unknown => {
                if let Some(i) = kid.global {
                    self.walk(child, i);
                }
            }
        }
        self.path.pop();
    }

    /// Lax assessment: by the global declaration if there is one, else each child so.
    fn lax(&mut self, el: &'e Node<'e>) {
        match lookup(el) {
            Some(i) => self.walk(el, i),
            None => {
                for child in el.elements() {
                    self.path.push(child);
                    self.lax(child);
                    self.path.pop();
                }
            }
        }
    }

    fn complex(&mut self, el: &'e Node<'e>, c: &'static Complex) {
        self.attributes(el, c.attrs, c.any_attr);
        if !c.mixed && el.children.iter().any(|k| matches!(k, Child::Text(t) if !is_blank(t))) {
            self.report(Problem::TextInAggregate, None, display(el));
        }
        let kids: Vec<Kid<'e>> = el.elements().map(Kid::new).collect();
        let Some(model) = c.model else {
            if let Some(first) = kids.first().map(|k| k.node) {
                self.path.push(first);
                let detail = format!("{} is not a child of {}, which has none", display(first), display(el));
                self.report(Problem::Unexpected, None, detail);
                self.path.pop();
            }
            return;
        };
        let mut at = 0;
        let mismatch = match match_particle(model, &kids, &mut at) {
            Err(m) => Some(m),
            Ok(()) if at < kids.len() => Some(Mismatch::Extra { at }),
            Ok(()) => None,
        };
        match mismatch {
            Some(Mismatch::Missing { particle, at }) => {
                // Present further on: out of order rather than missing.
                let later = kids.iter().skip(at + 1).find(|k| accepts(particle.term, k));
                if let (Some(later), Some(next)) = (later, kids.get(at)) {
                    self.path.push(later.node);
                    let detail = format!("{} must come before {}", display(later.node), display(next.node));
                    self.report(Problem::OutOfOrder, None, detail);
                    self.path.pop();
                    return self.children(model, kids);
                }
                let detail = match kids.get(at) {
                    Some(next) => format!("{} (expected before {})", expected(particle), display(next.node)),
                    None => format!("{} (expected in {})", expected(particle), display(el)),
                };
                self.report_missing(particle, detail);
            }
            Some(Mismatch::Extra { at }) => {
                let kid = &kids[at];
                self.path.push(kid.node);
                let seen = kids[..at].iter().any(|k| k.same_name(kid));
                match (mentions(model, kid), seen, at.checked_sub(1).map(|p| kids[p].node)) {
                    (true, true, _) => {
                        let detail = format!("{}: more occurrences than the schema allows", display(kid.node));
                        self.report(Problem::TooMany, None, detail);
                    }
                    (true, false, Some(prev)) => {
                        let detail = format!("{} cannot follow {}", display(kid.node), display(prev));
                        self.report(Problem::OutOfOrder, None, detail);
                    }
                    _ => {
                        let detail = format!("{} is not a child of {}", display(kid.node), display(el));
                        self.report(Problem::Unexpected, None, detail);
                    }
                }
                self.path.pop();
            }
            None => {}
        }
        self.children(model, kids);
    }

    fn children(&mut self, model: &'static Particle, kids: Vec<Kid<'e>>) {
        for kid in &kids {
            self.child(kid, declaration(std::iter::once(model), kid));
        }
    }

    /// The children of a plain sequence: the first deviation is reported.
    fn sequence(&mut self, el: &'e Node<'e>, seq: &'static [Particle], kids: &[Kid<'e>]) {
        // The particle reached and how many children it has taken.
        let (mut at, mut count) = (0usize, 0u16);
        let mut previous: Option<&Node<'_>> = None;
        let missing =
            |from: usize, to: usize, count: u16| (from..to).find(|&k| seq[k].min > if k == from { count } else { 0 });
        for (i, kid) in kids.iter().enumerate() {
            let child = kid.node;
            match accepting(seq, at, kid) {
                Some(j) if j == at && count < seq[at].max => count += 1,
                Some(j) if j == at => {
                    self.path.push(child);
                    let max = seq[at].max;
                    self.report(Problem::TooMany, None, format!("{}: at most {max}", display(child)));
                    self.path.pop();
                    return;
                }
                Some(j) => {
                    if let Some(k) = missing(at, j, count) {
                        // Present further on: out of order rather than missing.
                        let later = kids[i + 1..]
                            .iter()
                            .find(|c| accepting(&seq[k..=k], 0, c).is_some())
                            .map(|c| c.node);
                        if let Some(later) = later {
                            self.path.push(later);
                            let detail = format!("{} must come before {}", display(later), display(child));
                            self.report(Problem::OutOfOrder, None, detail);
                            self.path.pop();
                        } else {
                            let detail = format!("{} (expected before {})", particle_name(&seq[k]), display(child));
                            self.report_missing(&seq[k], detail);
                        }
                        return;
                    }
                    (at, count) = (j, 1);
                }
                None => {
                    self.path.push(child);
                    let earlier = accepting(&seq[..at], 0, kid).is_some();
                    if let (true, Some(prev)) = (earlier, previous) {
                        let detail = format!("{} must come before {}", display(child), display(prev));
                        self.report(Problem::OutOfOrder, None, detail);
                    } else {
                        let detail = format!("{} is not a child of {}", display(child), display(el));
                        self.report(Problem::Unexpected, None, detail);
                    }
                    self.path.pop();
                    return;
                }
            }
            previous = Some(child);
        }
        if let Some(k) = missing(at, seq.len(), count) {
            let detail = format!("{} (expected in {})", particle_name(&seq[k]), display(el));
            self.report_missing(&seq[k], detail);
        }
    }

    /// Attributes against the declared ones: unknown, badly typed, missing.
    fn attributes(&mut self, el: &'e Node<'e>, declared: &'static [Attr], any: bool) {
        for (name, v) in &el.attrs {
            if is_declaration(name) {
                continue;
            }
            // A prefixed attribute belongs to another namespace: only `anyAttribute` has those.
            let attr = (!name.contains(':'))
                .then(|| declared.iter().find(|a| a.name == *name))
                .flatten();
            match attr {
                None if any => {}
                None => self.report(Problem::UnknownAttribute, Some(name), format!("@{name}")),
                Some(a) => {
                    if let Some(why) = self.attribute_value(a.kind, v) {
                        self.report(Problem::BadAttribute, Some(name), format!("@{name}='{v}' {why}"));
                    }
                }
            }
        }
        for a in declared.iter().filter(|a| a.required) {
            if el.attr(a.name).is_none() {
                let detail = format!("@{} on {}", a.name, display(el));
                self.report(Problem::MissingAttribute, None, detail);
            }
        }
    }

    /// Why an attribute value is not of its type, if it is not.
    fn attribute_value(&mut self, kind: AttrKind, v: &'e str) -> Option<&'static str> {
        match kind {
            AttrKind::Text => None,
            AttrKind::Language => (!is_language(v)).then_some("is not a language code"),
            AttrKind::Uri => (!is_uri(v)).then_some("is not a URI"),
            AttrKind::Boolean => (!is_boolean(collapse(v))).then_some("is not true or false"),
            AttrKind::OneOf(values) => (!values.contains(&v)).then_some("is not one of the values the schema lists"),
            AttrKind::Id => {
                let id = collapse(v);
                if !is_ncname(id) {
                    Some("is not a name (xsd:ID: a letter or _ first, no colon or space)")
                } else if self.ids.contains(&id) {
                    Some("is the Id of another element (xsd:ID values are unique in a document)")
                } else {
                    self.ids.push(id);
                    None
                }
            }
        }
    }

    /// A simple-content element: attributes and value.
    fn value(&mut self, el: &'e Node<'e>, leaf: &'static Leaf) {
        self.attributes(el, leaf.attrs, false);
        if el.elements().next().is_some() {
            self.report(Problem::ElementInValue, None, display(el));
            return;
        }
        let text = el.text();
        let v = collapse(&text);
        let (ok, ty) = match leaf.value {
            Value::Text => return,
            Value::Decimal => (is_decimal(v), "xsd:decimal"),
            Value::Integer => (is_integer(v), "xsd:integer"),
            Value::Date => (is_date(v), "xsd:date"),
            Value::Time => (is_time(v), "xsd:time"),
            Value::DateTime => (is_date_time(v), "xsd:dateTime"),
            Value::Boolean => (is_boolean(v), "xsd:boolean"),
            Value::Base64 => (is_base64(&text), "xsd:base64Binary"),
            Value::Uri => (is_uri(v), "xsd:anyURI"),
        };
        if !ok {
            let shown: String = v.chars().take(40).collect();
            self.report(Problem::BadValue, None, format!("'{shown}' is not a valid {ty}"));
        }
    }

    fn report(&mut self, problem: Problem, attr: Option<&str>, detail: String) {
        let mut location = location(&self.path);
        if let Some(a) = attr {
            let _ = write!(location, "/@{a}");
        }
        push(&mut self.out, problem, location, detail);
    }

    fn report_missing(&mut self, p: &Particle, detail: String) {
        let mut location = location(&self.path);
        if let Term::Element(_) | Term::Any(_) = p.term {
            let _ = write!(location, "/{}", particle_name(p));
        }
        push(&mut self.out, Problem::Missing, location, detail);
    }
}

fn push(out: &mut Vec<Finding>, problem: Problem, location: String, detail: String) {
    let (message, message_ar, hint) = problem.texts();
    out.push(Finding {
        rule: RULE,
        severity: Severity::Error,
        location,
        message,
        message_ar,
        hint: Some(hint),
        detail: Some(detail),
    });
}

/// `xmlns`, `xmlns:p` and `xsi:…` attributes, which every element may carry.
fn is_declaration(name: &str) -> bool {
    name == "xmlns" || name.starts_with("xmlns:") || name.starts_with("xsi:")
}

/// The name with the conventional prefix of its namespace (`cac:Party`), or as written.
fn qualified(ns: &str, local: &str) -> String {
    let prefix = match ns {
        NS_CAC => "cac:",
        NS_CBC => "cbc:",
        NS_EXT => "ext:",
        NS_SIG => "sig:",
        NS_SAC => "sac:",
        NS_SBC => "sbc:",
        NS_DS => "ds:",
        NS_XADES => "xades:",
        _ => "",
    };
    format!("{prefix}{local}")
}

fn display(el: &Node<'_>) -> String {
    match el.ns.as_ref() {
        NS_CAC | NS_CBC | NS_EXT | NS_INVOICE | NS_SIG | NS_SAC | NS_SBC | NS_DS | NS_XADES => {
            qualified(&el.ns, el.local_name())
        }
        _ => el.name.to_owned(),
    }
}

/// `/Invoice/cac:X[n]/cbc:Y`: a position where an element repeats among its siblings.
fn location(path: &[&Node<'_>]) -> String {
    let mut out = String::new();
    for (i, el) in path.iter().enumerate() {
        out.push('/');
        out.push_str(&display(el));
        if let Some(parent) = i.checked_sub(1).map(|p| path[p]) {
            let same: Vec<&Node<'_>> = parent
                .elements()
                .filter(|s| s.ns == el.ns && s.local_name() == el.local_name())
                .collect();
            if same.len() > 1
                && let Some(n) = same.iter().position(|s| std::ptr::eq(*s, *el))
            {
                let _ = write!(out, "[{}]", n + 1);
            }
        }
    }
    out
}
