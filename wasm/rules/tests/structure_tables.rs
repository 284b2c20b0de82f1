//! The generator of `src/structure/tables.rs`: reads ZATCA's UBL 2.1 XSDs (the SDK's
//! `Data/Schemas/xsds/UBL2.1/xsd`, found through `ZATCA_SDK_DIR`, default `~/zatca-sdk`),
//! follows every element reachable from `Invoice` — the UBL aggregates and, through the lax
//! wildcard of `ext:ExtensionContent`, the signature schemas UBL imports (UBL signature
//! components, W3C xmldsig, ETSI XAdES 1.3.2 and 1.4.1) — and writes the content model of each
//! as Rust tables. The test regenerates and compares; `ZATCA_BLESS=1 cargo test -p zatca-rules
//! --test structure_tables` rewrites the file. Without the SDK the comparison is skipped (with a
//! note): the checked-in tables are what the validator uses either way.
//!
//! Supported: global and local element declarations (every schema here is
//! `elementFormDefault="qualified"`), sequences and choices nested with their own occurrences,
//! wildcards (`##any`, `##other`; strict and lax), mixed content, attributes (with
//! `anyAttribute`), simple content by extension or restriction, complex content by restriction,
//! named simple types down to their built-in base, enumerations on attributes and `xsd:anyType`.
//! Anything else makes the generator fail rather than produce a partial table.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use zatca_core::xml::{self, Element};

const XS: &str = "http://www.w3.org/2001/XMLSchema";
const ROOT_NS: &str = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2";

type QName = (String, String);

/// One schema file: its target namespace, prefixes, and top-level declarations.
struct Schema {
    target: String,
    prefixes: HashMap<String, String>,
    doc: xml::Document<'static>,
}

/// Global declarations of every loaded file, by (namespace, name): the file index and the
/// declaring element's position among the schema's children.
#[derive(Default)]
struct Decls {
    schemas: Vec<Schema>,
    elements: HashMap<QName, (usize, usize)>,
    types: HashMap<QName, (usize, usize)>,
}

fn xs_children<'e, 'a>(el: &'e Element<'a>, local: &'e str) -> impl Iterator<Item = &'e Element<'a>> + 'e {
    el.elements().filter(move |e| e.is(XS, local))
}

/// The source without its internal DTD subset: the xmldsig schema carries one (entity and
/// attribute-default declarations it does not rely on, since it declares `xmlns:ds` itself),
/// and the core's parser refuses DTDs.
fn without_doctype(source: &str) -> String {
    match source.find("<!DOCTYPE") {
        Some(start) => {
            let end = start + source[start..].find("]>").expect("internal subset closed") + 2;
            format!("{}{}", &source[..start], &source[end..])
        }
        None => source.to_owned(),
    }
}

fn load(path: &Path, include_ns: Option<&str>, seen: &mut BTreeSet<PathBuf>, decls: &mut Decls) {
    let path = fs::canonicalize(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if !seen.insert(path.clone()) {
        return;
    }
    // Leaked: the tables borrow from the parsed trees for the whole (short) run.
    let source: &'static str = Box::leak(without_doctype(&fs::read_to_string(&path).unwrap()).into_boxed_str());
    let doc = xml::parse(source).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    assert_eq!(
        doc.root.attr("elementFormDefault"),
        Some("qualified"),
        "{}: local elements are taken as qualified",
        path.display()
    );
    let target = doc
        .root
        .attr("targetNamespace")
        .or(include_ns)
        .unwrap_or_default()
        .to_owned();
    let mut prefixes = HashMap::new();
    for (name, value) in &doc.root.attrs {
        if *name == "xmlns" {
            prefixes.insert(String::new(), value.to_string());
        } else if let Some(p) = name.strip_prefix("xmlns:") {
            prefixes.insert(p.to_owned(), value.to_string());
        }
    }
    let index = decls.schemas.len();
    let mut next = Vec::new();
    for (pos, child) in doc.root.elements().enumerate() {
        let name = child.attr("name").map(str::to_owned);
        match (child.local_name(), name) {
            ("element", Some(n)) => {
                decls.elements.insert((target.clone(), n), (index, pos));
            }
            ("complexType" | "simpleType", Some(n)) => {
                decls.types.insert((target.clone(), n), (index, pos));
            }
            ("import" | "include", _) => {
                if let Some(loc) = child.attr("schemaLocation") {
                    let ns = (child.local_name() == "include").then(|| target.clone());
                    next.push((path.parent().unwrap().join(loc), ns));
                }
            }
            _ => {}
        }
    }
    decls.schemas.push(Schema {
        target: target.clone(),
        prefixes,
        doc,
    });
    for (path, ns) in next {
        load(&path, ns.as_deref(), seen, decls);
    }
}

/// What an element's value must be (the built-in XSD type at the bottom of its derivation).
fn value_kind(builtin: &str) -> &'static str {
    match builtin {
        "decimal" => "Decimal",
        "integer" => "Integer",
        "date" => "Date",
        "time" => "Time",
        "dateTime" => "DateTime",
        "boolean" => "Boolean",
        "base64Binary" => "Base64",
        "anyURI" => "Uri",
        "string" | "normalizedString" | "token" => "Text",
        other => panic!("unsupported built-in type xsd:{other}"),
    }
}

fn attr_kind(builtin: &str) -> String {
    match builtin {
        "language" => "Language",
        "ID" => "Id",
        "anyURI" => "Uri",
        "boolean" => "Boolean",
        "string" | "normalizedString" | "token" => "Text",
        other => panic!("unsupported attribute type xsd:{other}"),
    }
    .to_owned()
}

/// An attribute: name, required, kind (the `AttrKind` expression).
type Attr = (String, bool, String);

/// A leaf shape: value kind and attributes, sorted by name.
type Leaf = (&'static str, Vec<Attr>);

/// Which elements a wildcard admits, and how it has them checked.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Wildcard {
    /// `##other` of this namespace; `None`: `##any`.
    other_than: Option<String>,
    process: &'static str,
}

/// A local element: (namespace, name, type).
type Local = (String, String, QName);

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum ElementRef {
    Global(QName),
    Local(Local),
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Term {
    Element(ElementRef),
    Any(Wildcard),
    Sequence(Vec<Particle>),
    Choice(Vec<Particle>),
}

/// A particle: term, min, max (None: unbounded).
type Particle = (Term, u32, Option<u32>);

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Complex {
    mixed: bool,
    attrs: Vec<Attr>,
    any_attr: bool,
    model: Option<Particle>,
}

enum Content {
    /// A plain sequence of elements and lax `##other` wildcards (all of UBL's aggregates).
    Sequence(Vec<Particle>),
    Leaf(Leaf),
    Complex(Complex),
}

struct Gen {
    decls: Decls,
}

fn occurs(p: &Element<'_>) -> (u32, Option<u32>) {
    let min = p.attr("minOccurs").map_or(1, |v| v.parse().unwrap());
    let max = match p.attr("maxOccurs") {
        Some("unbounded") => None,
        Some(v) => Some(v.parse().unwrap()),
        None => Some(1),
    };
    (min, max)
}

/// `xsd:anyType`: anything, mixed, any attributes.
fn any_type() -> Complex {
    let any = Term::Any(Wildcard {
        other_than: None,
        process: "Lax",
    });
    Complex {
        mixed: true,
        attrs: Vec::new(),
        any_attr: true,
        model: Some((Term::Sequence(vec![(any, 1, Some(1))]), 0, None)),
    }
}

impl Gen {
    fn with_schema<R>(&self, at: (usize, usize), f: impl FnOnce(&Schema, &Element<'_>) -> R) -> R {
        let schema = &self.decls.schemas[at.0];
        f(schema, schema.doc.root.elements().nth(at.1).unwrap())
    }

    fn qname(schema: &Schema, q: &str) -> QName {
        let (prefix, local) = q.split_once(':').unwrap_or(("", q));
        let ns = schema
            .prefixes
            .get(prefix)
            .unwrap_or_else(|| panic!("unknown prefix in {q}"));
        (ns.clone(), local.to_owned())
    }

    /// The type of an element declaration (global or local); no type is `xsd:anyType`.
    fn declared_type(schema: &Schema, el: &Element<'_>) -> QName {
        assert!(
            xs_children(el, "complexType").next().is_none() && xs_children(el, "simpleType").next().is_none(),
            "anonymous types are not used"
        );
        el.attr("type")
            .map_or_else(|| (XS.to_owned(), "anyType".to_owned()), |t| Self::qname(schema, t))
    }

    fn element_type(&self, key: &ElementRef) -> QName {
        match key {
            ElementRef::Local((_, _, ty)) => ty.clone(),
            ElementRef::Global(q) => {
                let at = *self.decls.elements.get(q).unwrap_or_else(|| panic!("no element {q:?}"));
                self.with_schema(at, Self::declared_type)
            }
        }
    }

    fn content(&self, ty: &QName) -> Content {
        if ty.0 == XS {
            return match ty.1.as_str() {
                "anyType" => Content::Complex(any_type()),
                builtin => Content::Leaf((value_kind(builtin), Vec::new())),
            };
        }
        let at = *self.decls.types.get(ty).unwrap_or_else(|| panic!("no type {ty:?}"));
        self.with_schema(at, |schema, el| {
            if el.is(XS, "simpleType") {
                return Content::Leaf((value_kind(&self.builtin(schema, el).1), Vec::new()));
            }
            if let Some(simple) = xs_children(el, "simpleContent").next() {
                return Content::Leaf(self.leaf(schema, simple));
            }
            let mixed = el.attr("mixed") == Some("true");
            let (body, mut attrs) = match xs_children(el, "complexContent").next() {
                Some(cc) => {
                    let r = xs_children(cc, "restriction")
                        .next()
                        .expect("complex content by restriction only");
                    let base = Self::qname(schema, r.attr("base").unwrap());
                    let Content::Complex(b) = self.content(&base) else {
                        panic!("{ty:?}: restriction of a complex type only")
                    };
                    (r, b.attrs)
                }
                None => (el, Vec::new()),
            };
            self.attributes(schema, body, &mut attrs);
            let any_attr = xs_children(body, "anyAttribute").next().is_some();
            let group = body
                .elements()
                .find(|e| e.ns == XS && matches!(e.local_name(), "sequence" | "choice" | "all" | "group"));
            let model = group.map(|g| self.particle(schema, g));
            // UBL's aggregates (and a few signature types) are plain sequences: the checker
            // has a dedicated path for them, with out-of-order detection.
            let plain = |p: &Particle| match &p.0 {
                Term::Element(_) => true,
                Term::Any(w) => w.other_than.is_some() && w.process == "Lax",
                _ => false,
            };
            match model {
                Some((Term::Sequence(items), 1, Some(1)))
                    if !mixed && attrs.is_empty() && !any_attr && items.iter().all(plain) =>
                {
                    Content::Sequence(items)
                }
                model => Content::Complex(Complex {
                    mixed,
                    attrs,
                    any_attr,
                    model,
                }),
            }
        })
    }

    /// A particle of a content model, with its occurrences.
    fn particle(&self, schema: &Schema, p: &Element<'_>) -> Particle {
        let (min, max) = occurs(p);
        let term = match p.local_name() {
            "element" => match p.attr("ref") {
                Some(r) => Term::Element(ElementRef::Global(Self::qname(schema, r))),
                None => {
                    let name = p.attr("name").expect("element with a name or a ref").to_owned();
                    Term::Element(ElementRef::Local((
                        schema.target.clone(),
                        name,
                        Self::declared_type(schema, p),
                    )))
                }
            },
            "any" => {
                let other_than = match p.attr("namespace").unwrap_or("##any") {
                    "##any" => None,
                    "##other" => Some(schema.target.clone()),
                    other => panic!("unsupported wildcard namespace {other}"),
                };
                let process = match p.attr("processContents").unwrap_or("strict") {
                    "strict" => "Strict",
                    "lax" => "Lax",
                    other => panic!("processContents {other}"),
                };
                Term::Any(Wildcard { other_than, process })
            }
            "sequence" => Term::Sequence(
                p.elements()
                    .filter(|e| e.ns == XS && e.local_name() != "annotation")
                    .map(|e| self.particle(schema, e))
                    .collect(),
            ),
            "choice" => Term::Choice(
                p.elements()
                    .filter(|e| e.ns == XS && e.local_name() != "annotation")
                    .map(|e| self.particle(schema, e))
                    .collect(),
            ),
            other => panic!("unsupported particle xsd:{other}"),
        };
        (term, min, max)
    }

    /// Adds (or, in a restriction, redeclares or prohibits) the attributes declared in `body`.
    fn attributes(&self, schema: &Schema, body: &Element<'_>, attrs: &mut Vec<Attr>) {
        for a in xs_children(body, "attribute") {
            let name = a.attr("name").expect("attribute references are not used").to_owned();
            attrs.retain(|(n, ..)| *n != name);
            if a.attr("use") == Some("prohibited") {
                continue;
            }
            let ty = Self::qname(schema, a.attr("type").expect("attributes have a type"));
            let kind = if ty.0 == XS {
                attr_kind(&ty.1)
            } else {
                let at = *self.decls.types.get(&ty).unwrap_or_else(|| panic!("no type {ty:?}"));
                self.with_schema(at, |s, st| {
                    let values: Vec<String> = st
                        .elements()
                        .find(|e| e.is(XS, "restriction"))
                        .map(|r| {
                            xs_children(r, "enumeration")
                                .map(|e| format!("{:?}", e.attr("value").unwrap()))
                                .collect()
                        })
                        .unwrap_or_default();
                    if values.is_empty() {
                        attr_kind(&self.builtin(s, st).1)
                    } else {
                        format!("OneOf(&[{}])", values.join(", "))
                    }
                })
            };
            attrs.push((name, a.attr("use") == Some("required"), kind));
        }
        attrs.sort();
    }

    /// The built-in type a named simple type restricts, through other simple types.
    fn builtin(&self, schema: &Schema, simple: &Element<'_>) -> QName {
        let r = simple
            .elements()
            .find(|e| e.is(XS, "restriction"))
            .expect("simple types by restriction only");
        assert!(
            r.elements().all(|f| f.is(XS, "annotation")),
            "facets of element value types are not supported"
        );
        let base = Self::qname(schema, r.attr("base").unwrap());
        if base.0 == XS {
            return base;
        }
        let at = *self
            .decls
            .types
            .get(&base)
            .unwrap_or_else(|| panic!("no type {base:?}"));
        self.with_schema(at, |s, st| self.builtin(s, st))
    }

    /// Follows a simple content derivation down to the built-in type, collecting attributes.
    fn leaf(&self, schema: &Schema, simple: &Element<'_>) -> Leaf {
        let derivation = simple.elements().next().unwrap();
        let base = Self::qname(schema, derivation.attr("base").unwrap());
        let (kind, mut attrs) = if base.0 == XS {
            (value_kind(&base.1), Vec::new())
        } else {
            let at = *self
                .decls
                .types
                .get(&base)
                .unwrap_or_else(|| panic!("no type {base:?}"));
            self.with_schema(at, |s, el| match xs_children(el, "simpleContent").next() {
                Some(inner) => self.leaf(s, inner),
                None => (value_kind(&self.builtin(s, el).1), Vec::new()),
            })
        };
        // Extension adds attributes; restriction redeclares (e.g. makes one required) or
        // prohibits inherited ones.
        self.attributes(schema, derivation, &mut attrs);
        (kind, attrs)
    }
}

/// Every element reachable from `Invoice` through a content model or a non-skip wildcard (a
/// lax or strict wildcard validates any element with a global declaration).
struct Reached {
    elements: BTreeMap<ElementRef, QName>,
    types: BTreeMap<QName, Content>,
    /// Namespaces of the `##other` wildcards.
    wildcard_ns: BTreeSet<String>,
}

fn terms<'p>(p: &'p Particle, out: &mut Vec<&'p Term>) {
    match &p.0 {
        Term::Sequence(items) | Term::Choice(items) => items.iter().for_each(|i| terms(i, out)),
        t => out.push(t),
    }
}

fn reach(schemas: &Gen) -> Reached {
    let mut r = Reached {
        elements: BTreeMap::new(),
        types: BTreeMap::new(),
        wildcard_ns: BTreeSet::new(),
    };
    let mut todo = vec![ElementRef::Global((ROOT_NS.to_owned(), "Invoice".to_owned()))];
    let mut wildcards = false;
    let mut document_ns: Option<BTreeSet<String>> = None;
    loop {
        while let Some(key) = todo.pop() {
            if r.elements.contains_key(&key) {
                continue;
            }
            let ty = schemas.element_type(&key);
            if !r.types.contains_key(&ty) {
                let content = schemas.content(&ty);
                let mut found = Vec::new();
                match &content {
                    Content::Sequence(items) => items.iter().for_each(|p| terms(p, &mut found)),
                    Content::Complex(c) => c.model.iter().for_each(|p| terms(p, &mut found)),
                    Content::Leaf(_) => {}
                }
                for t in found {
                    match t {
                        Term::Element(e) => todo.push(e.clone()),
                        Term::Any(w) => {
                            wildcards = true;
                            r.wildcard_ns.extend(w.other_than.clone());
                        }
                        _ => unreachable!(),
                    }
                }
                r.types.insert(ty.clone(), content);
            }
            r.elements.insert(key, ty);
        }
        // A wildcard that validates admits every global declaration of the loaded schemas.
        // Those of the document's own namespaces (UBL's aggregates and basics) are taken as far
        // as the invoice reaches them, which keeps the tables half as big: what a signature
        // wildcard could hold beyond that is a `cac:` or `cbc:` element no invoice or signature
        // puts there. The signature schemas' declarations are all taken.
        if !wildcards {
            break;
        }
        let own = document_ns.get_or_insert_with(|| {
            r.elements
                .keys()
                .map(|e| match e {
                    ElementRef::Global((ns, _)) | ElementRef::Local((ns, ..)) => ns.clone(),
                })
                .collect::<BTreeSet<_>>()
        });
        let globals: Vec<ElementRef> = schemas
            .decls
            .elements
            .keys()
            .filter(|(ns, _)| !own.contains(ns))
            .map(|q| ElementRef::Global(q.clone()))
            .filter(|e| !r.elements.contains_key(e))
            .collect();
        if globals.is_empty() {
            break;
        }
        todo = globals;
    }
    r
}

fn generate(xsd_dir: &Path) -> String {
    let mut decls = Decls::default();
    load(
        &xsd_dir.join("maindoc/UBL-Invoice-2.1.xsd"),
        None,
        &mut BTreeSet::new(),
        &mut decls,
    );
    let schemas = Gen { decls };
    let reached = reach(&schemas);
    let (elements, types) = (&reached.elements, &reached.types);

    let namespaces: Vec<String> = elements
        .keys()
        .map(|e| match e {
            ElementRef::Global((ns, _)) | ElementRef::Local((ns, ..)) => ns.clone(),
        })
        .chain(reached.wildcard_ns.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let ns_index = |ns: &str| namespaces.iter().position(|n| n == ns).unwrap();
    // Globals first (sorted by namespace index and name, for the lookup), then the locals.
    let mut keys: Vec<&ElementRef> = elements.keys().collect();
    let order = |e: &ElementRef| match e {
        ElementRef::Global((ns, name)) => (0, ns_index(ns), name.clone()),
        ElementRef::Local((ns, name, _)) => (1, ns_index(ns), name.clone()),
    };
    keys.sort_by_key(|e| order(e));
    let globals = keys.iter().filter(|e| matches!(e, ElementRef::Global(_))).count();
    let element_index = |k: &ElementRef| keys.iter().position(|e| *e == k).unwrap();
    let mut leaves: Vec<&Leaf> = Vec::new();
    let mut sequences = Vec::new();
    let mut complexes: Vec<(&QName, &Complex)> = Vec::new();
    for (key, c) in types {
        match c {
            Content::Leaf(l) if !leaves.contains(&l) => leaves.push(l),
            Content::Leaf(_) => {}
            Content::Sequence(particles) => sequences.push((key, particles)),
            Content::Complex(c) => complexes.push((key, c)),
        }
    }
    leaves.sort();

    let attr_list = |out: &mut String, attrs: &[Attr], indent: &str| {
        for (name, required, k) in attrs {
            writeln!(
                out,
                "{indent}Attr {{ name: {name:?}, required: {required}, kind: AttrKind::{k} }},"
            )
            .unwrap();
        }
    };
    fn particle(
        out: &mut String,
        p: &Particle,
        indent: usize,
        el: &dyn Fn(&ElementRef) -> usize,
        ns: &dyn Fn(&str) -> usize,
    ) {
        let pad = " ".repeat(indent);
        let (min, max) = (p.1, p.2.map_or("UNBOUNDED".to_owned(), |m| m.to_string()));
        let term = match &p.0 {
            Term::Element(e) => format!("Term::Element({})", el(e)),
            Term::Any(w) => format!(
                "Term::Any(Wildcard {{ other_than: {}, process: Process::{} }})",
                w.other_than
                    .as_deref()
                    .map_or("None".to_owned(), |n| format!("Some({})", ns(n))),
                w.process
            ),
            Term::Sequence(items) | Term::Choice(items) => {
                let kind = if matches!(p.0, Term::Sequence(_)) {
                    "Sequence"
                } else {
                    "Choice"
                };
                writeln!(out, "{pad}Particle {{\n{pad}    term: Term::{kind}(&[").unwrap();
                for i in items {
                    particle(out, i, indent + 8, el, ns);
                }
                writeln!(
                    out,
                    "{pad}    ]),\n{pad}    min: {min},\n{pad}    max: {max},\n{pad}}},"
                )
                .unwrap();
                return;
            }
        };
        writeln!(out, "{pad}Particle {{ term: {term}, min: {min}, max: {max} }},").unwrap();
    }

    let mut out = String::new();
    out.push_str(
        "//! @generated by `tests/structure_tables.rs` from ZATCA's UBL 2.1 XSDs (SDK R3.4.8,\n\
         //! `Data/Schemas/xsds/UBL2.1/xsd`): every element reachable from `Invoice`, the signature\n\
         //! schemas included. Do not edit; regenerate with\n\
         //! `ZATCA_BLESS=1 cargo test -p zatca-rules --test structure_tables`.\n\n\
         use super::{\n    Attr, AttrKind, Complex, Content, Element, Leaf, Particle, Process, Term, UNBOUNDED, Value, Wildcard,\n};\n\n",
    );
    out.push_str("/// The namespaces of the elements, sorted.\npub(super) const NS: &[&str] = &[\n");
    for ns in &namespaces {
        writeln!(out, "    {ns:?},").unwrap();
    }
    out.push_str("];\n\n");
    out.push_str("/// The shapes of simple-content elements.\npub(super) const LEAVES: &[Leaf] = &[\n");
    for (kind, attrs) in &leaves {
        writeln!(out, "    Leaf {{\n        value: Value::{kind},\n        attrs: &[").unwrap();
        attr_list(&mut out, attrs, "            ");
        out.push_str("        ],\n    },\n");
    }
    out.push_str("];\n\n");
    writeln!(
        out,
        "/// How many of `ELEMENTS` are global declarations (sorted by namespace index and name);\n\
         /// the local declarations follow.\npub(super) const GLOBALS: usize = {globals};\n"
    )
    .unwrap();
    out.push_str("/// Every element declaration: its content.\npub(super) const ELEMENTS: &[Element] = &[\n");
    for key in &keys {
        let ty = &elements[*key];
        let content = match &types[ty] {
            Content::Leaf(l) => format!("Content::Leaf({})", leaves.iter().position(|x| x == &l).unwrap()),
            Content::Sequence(..) => {
                format!(
                    "Content::Sequence({})",
                    sequences.iter().position(|(k, _)| *k == ty).unwrap()
                )
            }
            Content::Complex(..) => {
                format!(
                    "Content::Complex({})",
                    complexes.iter().position(|(k, _)| *k == ty).unwrap()
                )
            }
        };
        let (ns, name) = match key {
            ElementRef::Global((ns, name)) | ElementRef::Local((ns, name, _)) => (ns, name),
        };
        writeln!(
            out,
            "    Element {{ ns: {}, name: {name:?}, content: {content} }},",
            ns_index(ns)
        )
        .unwrap();
    }
    out.push_str("];\n\n");
    out.push_str(
        "/// The content models of the plain aggregate types, by type name.\n\
         pub(super) const SEQUENCES: &[&[Particle]] = &[\n",
    );
    for ((_, type_name), particles) in sequences {
        writeln!(out, "    // {type_name}\n    &[").unwrap();
        for p in particles {
            particle(&mut out, p, 8, &element_index, &ns_index);
        }
        out.push_str("    ],\n");
    }
    out.push_str("];\n\n");
    out.push_str(
        "/// The other complex types (choices, nested groups, attributes, mixed content), by type\n\
         /// name.\npub(super) const COMPLEX: &[Complex] = &[\n",
    );
    for ((ns, type_name), c) in complexes {
        let short = if ns == XS {
            format!("xsd:{type_name}")
        } else {
            type_name.clone()
        };
        writeln!(
            out,
            "    // {short}\n    Complex {{\n        mixed: {},\n        any_attr: {},\n        attrs: &[",
            c.mixed, c.any_attr
        )
        .unwrap();
        attr_list(&mut out, &c.attrs, "            ");
        out.push_str("        ],\n");
        match &c.model {
            None => out.push_str("        model: None,\n"),
            Some(p) => {
                out.push_str("        model: Some(&\n");
                particle(&mut out, p, 12, &element_index, &ns_index);
                out.push_str("        ),\n");
            }
        }
        out.push_str("    },\n");
    }
    out.push_str("];\n");
    out
}

fn xsd_dir() -> Option<PathBuf> {
    let sdk = std::env::var_os("ZATCA_SDK_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join("zatca-sdk")))?;
    let dir = sdk.join("Data/Schemas/xsds/UBL2.1/xsd");
    dir.join("maindoc/UBL-Invoice-2.1.xsd").is_file().then_some(dir)
}

#[test]
fn tables_match_the_xsds() {
    let Some(dir) = xsd_dir() else {
        eprintln!("structure tables not regenerated: ZATCA's SDK (ZATCA_SDK_DIR, default ~/zatca-sdk) is not here");
        return;
    };
    let generated = generate(&dir);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/structure/tables.rs");
    if std::env::var_os("ZATCA_BLESS").is_some() {
        fs::write(&path, &generated).unwrap();
    }
    let checked_in = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "src/structure/tables.rs is not what the XSDs give; regenerate with ZATCA_BLESS=1"
    );
}
