//! The generator of `src/structure/tables.rs`: reads ZATCA's UBL 2.1 XSDs (the SDK's
//! `Data/Schemas/xsds/UBL2.1/xsd`, found through `ZATCA_SDK_DIR`, default `~/zatca-sdk`),
//! follows every element reachable from `Invoice`, and writes the content model of each as Rust
//! tables. The test regenerates and compares; `ZATCA_BLESS=1 cargo test -p zatca-rules --test
//! structure_tables` rewrites the file. Without the SDK the comparison is skipped (with a note):
//! the checked-in tables are what the validator uses either way.
//!
//! Only what UBL 2.1 uses is supported (sequences of global element references, one `xsd:any`,
//! simple content by extension or restriction of the core component types); anything else makes
//! the generator fail rather than produce a partial table.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use zatca_core::xml::{self, Element};

const XS: &str = "http://www.w3.org/2001/XMLSchema";
const ROOT_NS: &str = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2";

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
    elements: HashMap<(String, String), (usize, usize)>,
    types: HashMap<(String, String), (usize, usize)>,
}

fn xs_children<'e, 'a>(el: &'e Element<'a>, local: &'e str) -> impl Iterator<Item = &'e Element<'a>> + 'e {
    el.elements().filter(move |e| e.is(XS, local))
}

fn load(path: &Path, include_ns: Option<&str>, seen: &mut BTreeSet<PathBuf>, decls: &mut Decls) {
    let path = fs::canonicalize(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if !seen.insert(path.clone()) {
        return;
    }
    // Leaked: the tables borrow from the parsed trees for the whole (short) run.
    let source: &'static str = Box::leak(fs::read_to_string(&path).unwrap().into_boxed_str());
    // The xmldsig schema (reached through the signature extension, which the tables stop short
    // of) has a DTD, which the core's parser refuses: a file that cannot be read is left out, and
    // a declaration the tables would need from it fails the lookup instead.
    let Ok(doc) = xml::parse(source) else {
        return;
    };
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

/// What a leaf's value must be (the built-in XSD type at the bottom of its derivation).
fn value_kind(builtin: &str) -> &'static str {
    match builtin {
        "decimal" => "Decimal",
        "date" => "Date",
        "time" => "Time",
        "boolean" => "Boolean",
        "base64Binary" => "Base64",
        "string" | "normalizedString" | "token" | "anyURI" => "Text",
        other => panic!("unsupported built-in type xsd:{other}"),
    }
}

fn attr_kind(builtin: &str) -> &'static str {
    match builtin {
        "language" => "Language",
        "string" | "normalizedString" | "token" | "anyURI" => "Text",
        other => panic!("unsupported attribute type xsd:{other}"),
    }
}

/// A leaf shape: value kind and attributes (name, required, kind), sorted by name.
type Leaf = (&'static str, Vec<(String, bool, &'static str)>);

/// A particle: the element it accepts (None: `xsd:any namespace="##other"`), min, max (None:
/// unbounded).
type Particle = (Option<(String, String)>, u32, Option<u32>);

enum Content {
    /// The sequence of a type of that namespace.
    Sequence(String, Vec<Particle>),
    Leaf(Leaf),
}

struct Gen {
    decls: Decls,
}

impl Gen {
    fn with_schema<R>(&self, at: (usize, usize), f: impl FnOnce(&Schema, &Element<'_>) -> R) -> R {
        let schema = &self.decls.schemas[at.0];
        f(schema, schema.doc.root.elements().nth(at.1).unwrap())
    }

    fn qname(schema: &Schema, q: &str) -> (String, String) {
        let (prefix, local) = q.split_once(':').unwrap_or(("", q));
        let ns = schema
            .prefixes
            .get(prefix)
            .unwrap_or_else(|| panic!("unknown prefix in {q}"));
        (ns.clone(), local.to_owned())
    }

    /// The type of a global element.
    fn element_type(&self, key: &(String, String)) -> (String, String) {
        let at = *self
            .decls
            .elements
            .get(key)
            .unwrap_or_else(|| panic!("no element {key:?}"));
        self.with_schema(at, |schema, el| {
            Self::qname(schema, el.attr("type").unwrap_or_else(|| panic!("{key:?} has no type")))
        })
    }

    fn content(&self, ty: &(String, String)) -> Content {
        let at = *self.decls.types.get(ty).unwrap_or_else(|| panic!("no type {ty:?}"));
        self.with_schema(at, |schema, el| {
            assert!(el.is(XS, "complexType"), "{ty:?}: only complex types are used");
            if let Some(seq) = xs_children(el, "sequence").next() {
                let mut particles = Vec::new();
                for p in seq.elements() {
                    let min = p.attr("minOccurs").map_or(1, |v| v.parse().unwrap());
                    let max = match p.attr("maxOccurs") {
                        Some("unbounded") => None,
                        Some(v) => Some(v.parse().unwrap()),
                        None => Some(1),
                    };
                    let term = match p.local_name() {
                        "element" => Some(Self::qname(schema, p.attr("ref").expect("element references only"))),
                        "any" => {
                            assert_eq!(p.attr("namespace"), Some("##other"), "{ty:?}");
                            None
                        }
                        other => panic!("{ty:?}: unsupported particle xsd:{other}"),
                    };
                    particles.push((term, min, max));
                }
                return Content::Sequence(schema.target.clone(), particles);
            }
            let simple = xs_children(el, "simpleContent")
                .next()
                .unwrap_or_else(|| panic!("{ty:?}"));
            Content::Leaf(self.leaf(schema, simple))
        })
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
            self.with_schema(at, |s, el| {
                let inner = xs_children(el, "simpleContent")
                    .next()
                    .unwrap_or_else(|| panic!("{base:?}"));
                self.leaf(s, inner)
            })
        };
        // Extension adds attributes; restriction redeclares (e.g. makes one required) or
        // prohibits inherited ones.
        for a in xs_children(derivation, "attribute") {
            let name = a.attr("name").unwrap().to_owned();
            let ty = Self::qname(schema, a.attr("type").unwrap());
            assert_eq!(ty.0, XS, "attribute {name}: built-in types only");
            attrs.retain(|(n, ..)| *n != name);
            match a.attr("use") {
                Some("prohibited") => {}
                u => attrs.push((name, u == Some("required"), attr_kind(&ty.1))),
            }
        }
        attrs.sort();
        (kind, attrs)
    }
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

    // Every element reachable from the root, with its type; every such type's content.
    let mut elements: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    let mut types: BTreeMap<(String, String), Content> = BTreeMap::new();
    let mut todo = vec![(ROOT_NS.to_owned(), "Invoice".to_owned())];
    while let Some(key) = todo.pop() {
        if elements.contains_key(&key) {
            continue;
        }
        let ty = schemas.element_type(&key);
        if !types.contains_key(&ty) {
            let content = schemas.content(&ty);
            if let Content::Sequence(_, particles) = &content {
                todo.extend(particles.iter().filter_map(|(t, ..)| t.clone()));
            }
            types.insert(ty.clone(), content);
        }
        elements.insert(key, ty);
    }

    let namespaces: Vec<&String> = elements
        .keys()
        .map(|(ns, _)| ns)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let ns_index = |ns: &str| namespaces.iter().position(|n| *n == ns).unwrap();
    let keys: Vec<&(String, String)> = elements.keys().collect();
    let element_index = |k: &(String, String)| keys.iter().position(|e| *e == k).unwrap();
    let mut leaves: Vec<&Leaf> = Vec::new();
    let mut sequences = Vec::new();
    for (key, c) in &types {
        match c {
            Content::Leaf(l) if !leaves.contains(&l) => leaves.push(l),
            Content::Leaf(_) => {}
            Content::Sequence(owner, particles) => sequences.push((key, owner, particles)),
        }
    }
    leaves.sort();

    let mut out = String::new();
    out.push_str(
        "//! @generated by `tests/structure_tables.rs` from ZATCA's UBL 2.1 XSDs (SDK R3.4.8,\n\
         //! `Data/Schemas/xsds/UBL2.1/xsd`): every element reachable from `Invoice`. Do not edit;\n\
         //! regenerate with `ZATCA_BLESS=1 cargo test -p zatca-rules --test structure_tables`.\n\n\
         use super::{Attr, AttrKind, Content, Element, Leaf, Particle, Term, UNBOUNDED, Value};\n\n",
    );
    out.push_str("/// The namespaces of the elements, sorted.\npub(super) const NS: &[&str] = &[\n");
    for ns in &namespaces {
        writeln!(out, "    {ns:?},").unwrap();
    }
    out.push_str("];\n\n");
    out.push_str("/// The shapes of simple-content elements.\npub(super) const LEAVES: &[Leaf] = &[\n");
    for (kind, attrs) in &leaves {
        writeln!(out, "    Leaf {{\n        value: Value::{kind},\n        attrs: &[").unwrap();
        for (name, required, k) in attrs {
            writeln!(
                out,
                "            Attr {{ name: {name:?}, required: {required}, kind: AttrKind::{k} }},"
            )
            .unwrap();
        }
        out.push_str("        ],\n    },\n");
    }
    out.push_str("];\n\n");
    out.push_str(
        "/// Every element, sorted by (namespace index, local name): its content.\n\
         pub(super) const ELEMENTS: &[Element] = &[\n",
    );
    for ((ns, name), ty) in &elements {
        let content = match &types[ty] {
            Content::Leaf(l) => format!("Content::Leaf({})", leaves.iter().position(|x| x == &l).unwrap()),
            Content::Sequence(..) => {
                format!(
                    "Content::Sequence({})",
                    sequences.iter().position(|(k, ..)| *k == ty).unwrap()
                )
            }
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
        "/// The content models of the aggregate types, by type name.\n\
         pub(super) const SEQUENCES: &[&[Particle]] = &[\n",
    );
    for ((_, type_name), owner, particles) in sequences {
        writeln!(out, "    // {type_name}\n    &[").unwrap();
        for (term, min, max) in particles {
            let term = match term {
                Some(k) => format!("Term::Element({})", element_index(k)),
                None => format!("Term::AnyOtherThan({})", ns_index(owner)),
            };
            let max = max.map_or("UNBOUNDED".to_owned(), |m| m.to_string());
            writeln!(out, "        Particle {{ term: {term}, min: {min}, max: {max} }},").unwrap();
        }
        out.push_str("    ],\n");
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
