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

#[rustfmt::skip]
mod tables;

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

/// What went wrong; each kind has its message, Arabic message and hint.
#[derive(Debug, Clone, Copy)]
enum Problem {
    Root,
    Missing,
    OutOfOrder,
    TooMany,
    Unexpected,
    TextInAggregate,
    ElementInValue,
    BadValue,
    MissingAttribute,
    UnknownAttribute,
    BadAttribute,
    Undeclared,
}

impl Problem {
    fn texts(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Root => (
                "the root element is not a UBL 2.1 Invoice (ZATCA uses Invoice for invoices, credit and debit notes)",
                "العنصر الجذري ليس فاتورة UBL 2.1 ‏(Invoice)؛ تستخدم هيئة الزكاة عنصر Invoice للفواتير والإشعارات الدائنة والمدينة.",
                "use <Invoice xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Invoice-2\">",
            ),
            Self::Missing => (
                "a mandatory element of the UBL 2.1 schema is missing",
                "ينقص عنصر إلزامي في مخطط UBL 2.1.",
                "add the element at the position the UBL 2.1 schema gives it",
            ),
            Self::OutOfOrder => (
                "an element is out of the order the UBL 2.1 schema requires",
                "عنصر في غير الترتيب الذي يفرضه مخطط UBL 2.1.",
                "move the element: UBL fixes the order of an element's children",
            ),
            Self::TooMany => (
                "an element occurs more often than the UBL 2.1 schema allows",
                "يتكرر عنصر أكثر مما يسمح به مخطط UBL 2.1.",
                "keep a single occurrence of the element",
            ),
            Self::Unexpected => (
                "an element is not allowed here by the UBL 2.1 schema",
                "عنصر غير مسموح به في هذا الموضع وفق مخطط UBL 2.1.",
                "check the element's name, namespace prefix and parent",
            ),
            Self::TextInAggregate => (
                "an aggregate element contains text; the UBL 2.1 schema allows only elements in it",
                "يحتوي عنصر تجميعي على نص، ولا يسمح مخطط UBL 2.1 فيه إلا بالعناصر.",
                "remove the text or move it into the basic element it belongs to",
            ),
            Self::ElementInValue => (
                "a basic element contains elements; the UBL 2.1 schema allows only a value in it",
                "يحتوي عنصر أساسي على عناصر، ولا يسمح مخطط UBL 2.1 فيه إلا بقيمة.",
                "check the nesting: the child belongs to the enclosing aggregate",
            ),
            Self::BadValue => (
                "a value does not have the data type the UBL 2.1 schema requires",
                "قيمة لا تطابق نوع البيانات الذي يفرضه مخطط UBL 2.1.",
                "write decimals as 123.45, dates as YYYY-MM-DD, times as HH:MM:SS, date-times as YYYY-MM-DDTHH:MM:SS, indicators as true or false",
            ),
            Self::MissingAttribute => (
                "a required attribute is missing",
                "تنقص سمة إلزامية.",
                "amounts need currencyID, measures unitCode, binary objects mimeCode; signature methods and transforms Algorithm, xades:QualifyingProperties Target",
            ),
            Self::UnknownAttribute => (
                "an attribute is not allowed on this element by the UBL 2.1 schema",
                "سمة غير مسموح بها على هذا العنصر وفق مخطط UBL 2.1.",
                "remove the attribute or check its name",
            ),
            Self::BadAttribute => (
                "an attribute value does not have the data type the UBL 2.1 schema requires",
                "قيمة سمة لا تطابق نوع البيانات الذي يفرضه مخطط UBL 2.1.",
                "languageID is a language code such as ar or en; an Id is a name (a letter first, no colon or space) used once in the document; a URI has at most one # and escapes % as %25",
            ),
            Self::Undeclared => (
                "an element the schema admits only with a declaration has none",
                "عنصر لا يقبله المخطط إلا إذا كان معرّفًا فيه، وليس له تعريف.",
                "check the element's name and namespace: here only elements the UBL 2.1 schemas declare are allowed",
            ),
        }
    }
}

/// The English and Arabic messages and the hint of every kind of structure finding, for
/// documentation and for the tests that check each has both messages.
#[cfg(test)]
fn all_problems() -> [Problem; 12] {
    use Problem::*;
    [
        Root,
        Missing,
        OutOfOrder,
        TooMany,
        Unexpected,
        TextInAggregate,
        ElementInValue,
        BadValue,
        MissingAttribute,
        UnknownAttribute,
        BadAttribute,
        Undeclared,
    ]
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

/// The tables' index of a global element declaration, by namespace and local name.
fn lookup(el: &Node<'_>) -> Option<u16> {
    let ns = tables::NS.iter().position(|n| *n == el.ns)?;
    let local = el.local_name();
    tables::ELEMENTS[..tables::GLOBALS]
        .binary_search_by(|e| (e.ns as usize).cmp(&ns).then_with(|| e.name.cmp(local)))
        .ok()
        .and_then(|i| u16::try_from(i).ok())
}

/// Whether `child` is the element `e` of the tables (same namespace and local name).
fn is_element(e: u16, child: &Node<'_>) -> bool {
    let e = &tables::ELEMENTS[usize::from(e)];
    e.name == child.local_name() && tables::NS[usize::from(e.ns)] == child.ns
}

/// Whether a wildcard admits `child`.
fn admits(w: Wildcard, child: &Node<'_>) -> bool {
    match w.other_than {
        None => true,
        Some(ns) => !child.ns.is_empty() && child.ns != tables::NS[usize::from(ns)],
    }
}

/// Whether `t` accepts `child` as one element (elements and wildcards only).
fn accepts(t: Term, child: &Node<'_>) -> bool {
    match t {
        Term::Element(e) => is_element(e, child),
        Term::Any(w) => admits(w, child),
        Term::Sequence(_) | Term::Choice(_) => false,
    }
}

/// How a child of an element is to be checked, from its parent's content model.
#[derive(Clone, Copy)]
enum Decl {
    /// By this declaration (its particle's).
    Element(u16),
    /// As a wildcard of the model has it.
    Wild(Process),
    /// The model has no place for it (already reported).
    Unknown,
}

/// The declaration a content model gives `child`: an element particle of the same name (XSD
/// requires those of one model to agree), else a wildcard that admits it.
fn declaration<'p>(particles: impl Iterator<Item = &'p Particle> + Clone, child: &Node<'_>) -> Decl {
    fn element(p: &Particle, child: &Node<'_>) -> Option<u16> {
        match p.term {
            Term::Element(e) => is_element(e, child).then_some(e),
            Term::Any(_) => None,
            Term::Sequence(items) | Term::Choice(items) => items.iter().find_map(|i| element(i, child)),
        }
    }
    fn wildcard(p: &Particle, child: &Node<'_>) -> Option<Process> {
        match p.term {
            Term::Any(w) => admits(w, child).then_some(w.process),
            Term::Element(_) => None,
            Term::Sequence(items) | Term::Choice(items) => items.iter().find_map(|i| wildcard(i, child)),
        }
    }
    if let Some(e) = particles.clone().find_map(|p| element(p, child)) {
        return Decl::Element(e);
    }
    particles
        .into_iter()
        .find_map(|p| wildcard(p, child))
        .map_or(Decl::Unknown, Decl::Wild)
}

/// Whether a particle may match no element at all.
fn nullable(p: &Particle) -> bool {
    p.min == 0
        || match p.term {
            Term::Element(_) | Term::Any(_) => false,
            Term::Sequence(items) => items.iter().all(nullable),
            Term::Choice(items) => items.iter().any(nullable),
        }
}

/// Whether a match of `t` can begin with `child`.
fn starts(t: Term, child: &Node<'_>) -> bool {
    match t {
        Term::Element(_) | Term::Any(_) => accepts(t, child),
        Term::Sequence(items) => {
            for p in items {
                if starts(p.term, child) {
                    return true;
                }
                if !nullable(p) {
                    return false;
                }
            }
            false
        }
        Term::Choice(items) => items.iter().any(|p| starts(p.term, child)),
    }
}

/// Where a content model stops matching an element's children.
enum Mismatch {
    /// `particle` is required before the child at `at` (or at the end).
    Missing { particle: &'static Particle, at: usize },
    /// The child at `at` has no place here.
    Extra { at: usize },
}

/// Matches `p` against `kids` from `*at`, greedily: the schemas obey XSD's unique particle
/// attribution, so the next child always decides which particle takes it.
fn match_particle(p: &'static Particle, kids: &[&Node<'_>], at: &mut usize) -> Result<(), Mismatch> {
    let mut n = 0u16;
    while n < p.max {
        let Some(kid) = kids.get(*at) else { break };
        if !starts(p.term, kid) {
            break;
        }
        let before = *at;
        match p.term {
            Term::Element(_) | Term::Any(_) => *at += 1,
            Term::Sequence(items) => {
                for item in items {
                    match_particle(item, kids, at)?;
                }
            }
            Term::Choice(items) => {
                if let Some(item) = items.iter().find(|i| starts(i.term, kid)) {
                    match_particle(item, kids, at)?;
                }
            }
        }
        n += 1;
        if *at == before {
            break;
        }
    }
    if n < p.min
        && !nullable(&Particle {
            term: p.term,
            min: 1,
            max: 1,
        })
    {
        return Err(Mismatch::Missing { particle: p, at: *at });
    }
    Ok(())
}

/// What a particle expects first, for messages.
fn expected(p: &Particle) -> String {
    match p.term {
        Term::Element(e) => element_name(e),
        Term::Any(Wildcard { other_than: None, .. }) => "an element".to_owned(),
        Term::Any(_) => "an element of another namespace".to_owned(),
        Term::Sequence(items) => items
            .iter()
            .find(|i| !nullable(i))
            .or(items.first())
            .map_or_else(String::new, expected),
        Term::Choice(items) => {
            let names: Vec<String> = items.iter().map(expected).collect();
            format!("one of {}", names.join(", "))
        }
    }
}

fn element_name(e: u16) -> String {
    let e = &tables::ELEMENTS[usize::from(e)];
    qualified(tables::NS[usize::from(e.ns)], e.name)
}

fn particle_name(p: &Particle) -> String {
    match p.term {
        Term::Element(e) => element_name(e),
        _ => expected(p),
    }
}

/// The element names a model mentions anywhere.
fn mentions(p: &Particle, child: &Node<'_>) -> bool {
    match p.term {
        Term::Element(e) => is_element(e, child),
        Term::Any(_) => false,
        Term::Sequence(items) | Term::Choice(items) => items.iter().any(|i| mentions(i, child)),
    }
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
                self.sequence(el, seq);
                for child in el.elements() {
                    self.child(child, declaration(seq.iter(), child));
                }
            }
            Content::Complex(c) => self.complex(el, &tables::COMPLEX[usize::from(c)]),
        }
    }

    /// Checks a child as its parent's model has it.
    fn child(&mut self, child: &'e Node<'e>, decl: Decl) {
        self.path.push(child);
        match decl {
            Decl::Element(e) => self.walk(child, e),
            Decl::Wild(Process::Lax) => self.lax(child),
            Decl::Wild(Process::Strict) => match lookup(child) {
                Some(i) => self.walk(child, i),
                None => {
                    let detail = format!("{} has no declaration in the schemas", display(child));
                    self.report(Problem::Undeclared, None, detail);
                }
            },
            // Not in the model (reported): still checked on its own if it is declared.
            Decl::Unknown => {
                if let Some(i) = lookup(child) {
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
        let kids: Vec<&'e Node<'e>> = el.elements().collect();
        let Some(model) = c.model else {
            if let Some(first) = kids.first() {
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
                    self.path.push(later);
                    let detail = format!("{} must come before {}", display(later), display(next));
                    self.report(Problem::OutOfOrder, None, detail);
                    self.path.pop();
                    return self.children(model, kids);
                }
                let detail = match kids.get(at) {
                    Some(next) => format!("{} (expected before {})", expected(particle), display(next)),
                    None => format!("{} (expected in {})", expected(particle), display(el)),
                };
                self.report_missing(particle, detail);
            }
            Some(Mismatch::Extra { at }) => {
                let kid = kids[at];
                self.path.push(kid);
                let seen = kids[..at]
                    .iter()
                    .any(|k| k.ns == kid.ns && k.local_name() == kid.local_name());
                match (mentions(model, kid), seen, at.checked_sub(1).map(|p| kids[p])) {
                    (true, true, _) => {
                        let detail = format!("{}: more occurrences than the schema allows", display(kid));
                        self.report(Problem::TooMany, None, detail);
                    }
                    (true, false, Some(prev)) => {
                        let detail = format!("{} cannot follow {}", display(kid), display(prev));
                        self.report(Problem::OutOfOrder, None, detail);
                    }
                    _ => {
                        let detail = format!("{} is not a child of {}", display(kid), display(el));
                        self.report(Problem::Unexpected, None, detail);
                    }
                }
                self.path.pop();
            }
            None => {}
        }
        self.children(model, kids);
    }

    fn children(&mut self, model: &'static Particle, kids: Vec<&'e Node<'e>>) {
        for kid in kids {
            self.child(kid, declaration(std::iter::once(model), kid));
        }
    }

    /// The children of a plain sequence: the first deviation is reported.
    fn sequence(&mut self, el: &'e Node<'e>, seq: &'static [Particle]) {
        // The particle reached and how many children it has taken.
        let (mut at, mut count) = (0usize, 0u16);
        let mut previous: Option<&Node<'_>> = None;
        let missing =
            |from: usize, to: usize, count: u16| (from..to).find(|&k| seq[k].min > if k == from { count } else { 0 });
        for (i, child) in el.elements().enumerate() {
            match accepting(seq, at, child) {
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
                        let later = el
                            .elements()
                            .skip(i + 1)
                            .find(|c| accepting(&seq[k..=k], 0, c).is_some());
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
                    let earlier = accepting(&seq[..at], 0, child).is_some();
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

/// The particle of a plain sequence, from `from` on, that accepts `child`.
fn accepting(seq: &[Particle], from: usize, child: &Node<'_>) -> Option<usize> {
    seq.iter()
        .skip(from)
        .position(|p| accepts(p.term, child))
        .map(|i| i + from)
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

fn is_blank(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// The whitespace facet `collapse` of the typed built-ins, as far as a valid value goes: inner
/// whitespace makes any of them invalid anyway.
fn collapse(text: &str) -> &str {
    text.trim_matches([' ', '\t', '\r', '\n'])
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `[+-]?(d+(.d*)?|.d+)`
fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    (int.is_empty() || digits(int)) && (frac.is_empty() || digits(frac)) && !(int.is_empty() && frac.is_empty())
}

/// `[+-]?d+`
fn is_integer(s: &str) -> bool {
    digits(s.strip_prefix(['+', '-']).unwrap_or(s))
}

fn is_boolean(s: &str) -> bool {
    matches!(s, "true" | "false" | "1" | "0")
}

fn number(s: &str) -> Option<u32> {
    if digits(s) { s.parse().ok() } else { None }
}

/// `Z` or `±hh:mm` (at most 14:00).
fn is_zone(s: &str) -> bool {
    if s.is_empty() || s == "Z" {
        return true;
    }
    let Some(rest) = s.strip_prefix(['+', '-']) else {
        return false;
    };
    match rest.split_once(':') {
        Some((h, m)) if h.len() == 2 && m.len() == 2 => {
            matches!((number(h), number(m)), (Some(h), Some(m)) if m < 60 && (h < 14 || (h == 14 && m == 0)))
        }
        _ => false,
    }
}

/// Splits a trailing time zone off (ASCII input).
fn zone_split(s: &str) -> (&str, &str) {
    if let Some(body) = s.strip_suffix('Z') {
        return (body, "Z");
    }
    let b = s.as_bytes();
    if s.is_ascii() && b.len() > 6 && matches!(b[b.len() - 6], b'+' | b'-') && b[b.len() - 3] == b':' {
        return s.split_at(s.len() - 6);
    }
    (s, "")
}

/// `-?YYYY-MM-DD`, a real day of the (proleptic Gregorian) calendar, year 0 excluded.
fn is_plain_date(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let mut parts = s.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    if y.len() < 4 || (y.len() > 4 && y.starts_with('0')) || m.len() != 2 || d.len() != 2 || !digits(y) {
        return false;
    }
    let (Ok(year), Some(month), Some(day)) = (y.parse::<u64>(), number(m), number(d)) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year != 0 && (1..=days).contains(&day)
}

/// `hh:mm:ss(.s+)?`, hours 00–23, or 24:00:00 (the end of the day, which XSD admits).
fn is_plain_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return false;
    }
    let (Some(h), Some(m), Some(sec)) = (number(&s[0..2]), number(&s[3..5]), number(&s[6..8])) else {
        return false;
    };
    let fraction = &s[8..];
    let fraction_ok = fraction.is_empty() || fraction.strip_prefix('.').is_some_and(digits);
    let midnight = h == 24 && m == 0 && sec == 0 && fraction.bytes().all(|b| matches!(b, b'.' | b'0'));
    (h < 24 || midnight) && m < 60 && sec < 60 && fraction_ok
}

// Valid dates and times are ASCII, which keeps the byte slicing below on char boundaries.
fn is_date(s: &str) -> bool {
    let (body, zone) = zone_split(s);
    s.is_ascii() && is_plain_date(body) && is_zone(zone)
}

fn is_time(s: &str) -> bool {
    let (body, zone) = zone_split(s);
    s.is_ascii() && is_plain_time(body) && is_zone(zone)
}

/// `date` `T` `time`, one zone at the end.
fn is_date_time(s: &str) -> bool {
    let (body, zone) = zone_split(s);
    let Some((date, time)) = body.split_once('T') else {
        return false;
    };
    s.is_ascii() && is_plain_date(date) && is_plain_time(time) && is_zone(zone)
}

/// `xsd:anyURI` as libxml2 (ZATCA's XSD stage) takes it: anything that parses as a URI
/// reference once spaces and non-ASCII characters are escaped — one fragment at most, every `%`
/// followed by two hex digits.
fn is_uri(s: &str) -> bool {
    let b = s.as_bytes();
    let escapes = b
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == b'%')
        .all(|(i, _)| b.len() > i + 2 && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit());
    escapes && s.matches('#').count() <= 1
}

/// An XML name without a colon: a letter or `_` first, then letters, digits, `.`, `-`, `_`
/// (non-ASCII letters and marks included).
fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| {
            c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '\u{b7}') || (!c.is_ascii() && !c.is_whitespace())
        })
}

/// Base64 with whitespace anywhere; padding only at the end, length a multiple of four.
fn is_base64(text: &str) -> bool {
    let mut len = 0usize;
    let mut padding = 0usize;
    for b in text.bytes() {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            b'=' => padding += 1,
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' if padding == 0 => {}
            _ => return false,
        }
        len += 1;
    }
    padding <= 2 && len % 4 == 0
}

/// `[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*`
fn is_language(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or_default();
    (1..=8).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_forms() {
        for ok in ["1", "-1.5", "+.5", "1.", "0.00", "123456789012345678901234567890"] {
            assert!(is_decimal(ok), "{ok}");
        }
        for bad in ["", ".", "1,5", "1.2.3", "1e3", "--1", "SAR"] {
            assert!(!is_decimal(bad), "{bad}");
        }
        for ok in [
            "2022-09-07",
            "2024-02-29",
            "2022-09-07Z",
            "2022-09-07+03:00",
            "12345-01-01",
        ] {
            assert!(is_date(ok), "{ok}");
        }
        for bad in [
            "2022-02-30",
            "2023-02-29",
            "2022-13-01",
            "2022-9-7",
            "07-09-2022",
            "0000-01-01",
            "2022-09-07+15:00",
            "",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
        for ok in ["12:21:28", "00:00:00.5", "23:59:59Z", "12:21:28+03:00"] {
            assert!(is_time(ok), "{ok}");
        }
        for bad in [
            "24:00:01",
            "12:60:00",
            "12:21",
            "12:21:28.",
            "1:2:3",
            "12:21:28 PM",
            "é2:21:28",
        ] {
            assert!(!is_time(bad), "{bad}");
        }
        for ok in [
            "2025-07-22T15:38:47",
            "2025-07-22T15:38:47.125+03:00",
            "2025-07-22T24:00:00Z",
        ] {
            assert!(is_date_time(ok), "{ok}");
        }
        for bad in [
            "2025-07-22",
            "2025-07-22T15:38",
            "2025-07-22 15:38:47",
            "2025-07-22T24:00:01",
            "",
        ] {
            assert!(!is_date_time(bad), "{bad}");
        }
        assert!(is_integer("379112742831380471835263969587287663520528387") && is_integer("+5"));
        assert!(!is_integer("0x1F") && !is_integer("") && !is_integer("1.0"));
        for ok in ["", "#xadesSignedProperties", "#a%20b", "http://x/y?z=1", "#é", "a b"] {
            assert!(is_uri(ok), "{ok}");
        }
        assert!(!is_uri("#a#b") && !is_uri("%%") && !is_uri("%2"));
        assert!(is_ncname("signature") && is_ncname("_x.1-a") && is_ncname("توقيع"));
        assert!(!is_ncname("") && !is_ncname("1st") && !is_ncname("a:b") && !is_ncname("a b"));
        assert!(is_base64("QUJD\nREVG") && is_base64("QQ==") && !is_base64("QQ=") && !is_base64("Q=Q="));
        assert!(is_language("ar") && is_language("en-GB") && !is_language("") && !is_language("e n"));
    }

    #[test]
    fn every_problem_has_both_messages_and_a_hint() {
        for p in all_problems() {
            let (en, ar, hint) = p.texts();
            assert!(!en.is_empty() && !ar.is_empty() && !hint.is_empty(), "{p:?}");
        }
    }
}
