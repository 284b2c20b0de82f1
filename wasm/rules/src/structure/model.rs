//! The content models of the tables against an element's children: which particle takes a
//! child, what a child's declaration is, and where a model stops matching.

use zatca_core::xml::Element as Node;

use super::{Particle, Process, Term, Wildcard, qualified, tables};

/// The tables' index of a namespace.
fn ns_index(ns: &str) -> Option<u8> {
    tables::NS
        .iter()
        .position(|n| *n == ns)
        .and_then(|i| u8::try_from(i).ok())
}

/// The tables' index of a global element declaration, by namespace and local name.
pub(super) fn lookup(el: &Node<'_>) -> Option<u16> {
    global(ns_index(&el.ns)?, el.local_name())
}

fn global(ns: u8, local: &str) -> Option<u16> {
    tables::ELEMENTS[..tables::GLOBALS]
        .binary_search_by(|e| e.ns.cmp(&ns).then_with(|| e.name.cmp(local)))
        .ok()
        .and_then(|i| u16::try_from(i).ok())
}

/// A child element with what the content models compare it by, found once (the namespace's
/// index, the global declaration by binary search) rather than at every particle tried.
#[derive(Clone, Copy)]
pub(super) struct Kid<'e> {
    pub node: &'e Node<'e>,
    ns: Option<u8>,
    pub global: Option<u16>,
}

impl<'e> Kid<'e> {
    pub(super) fn new(node: &'e Node<'e>) -> Self {
        let ns = ns_index(&node.ns);
        Self {
            node,
            ns,
            global: ns.and_then(|ns| global(ns, node.local_name())),
        }
    }

    pub(super) fn same_name(&self, other: &Kid<'_>) -> bool {
        self.node.ns == other.node.ns && self.node.local_name() == other.node.local_name()
    }
}

/// Whether `kid` is the element `e` of the tables (same namespace and local name): a global
/// declaration by its index, a local one by its name.
pub(super) fn is_element(e: u16, kid: &Kid<'_>) -> bool {
    if usize::from(e) < tables::GLOBALS {
        return kid.global == Some(e);
    }
    let e = &tables::ELEMENTS[usize::from(e)];
    kid.ns == Some(e.ns) && e.name == kid.node.local_name()
}

/// Whether a wildcard admits `kid`.
pub(super) fn admits(w: Wildcard, kid: &Kid<'_>) -> bool {
    match w.other_than {
        None => true,
        Some(ns) => !kid.node.ns.is_empty() && kid.ns != Some(ns),
    }
}

/// Whether `t` accepts `child` as one element (elements and wildcards only).
pub(super) fn accepts(t: Term, kid: &Kid<'_>) -> bool {
    match t {
        Term::Element(e) => is_element(e, kid),
        Term::Any(w) => admits(w, kid),
        Term::Sequence(_) | Term::Choice(_) => false,
    }
}

/// How a child of an element is to be checked, from its parent's content model.
#[derive(Clone, Copy)]
pub(super) enum Decl {
    /// By this declaration (its particle's).
    Element(u16),
    /// As a wildcard of the model has it.
    Wild(Process),
    /// The model has no place for it (already reported).
    Unknown,
}

/// The declaration a content model gives `child`: an element particle of the same name (XSD
/// requires those of one model to agree), else a wildcard that admits it.
pub(super) fn declaration<'p>(particles: impl Iterator<Item = &'p Particle> + Clone, child: &Kid<'_>) -> Decl {
    fn element(p: &Particle, child: &Kid<'_>) -> Option<u16> {
        match p.term {
            Term::Element(e) => is_element(e, child).then_some(e),
            Term::Any(_) => None,
            Term::Sequence(items) | Term::Choice(items) => items.iter().find_map(|i| element(i, child)),
        }
    }
    fn wildcard(p: &Particle, child: &Kid<'_>) -> Option<Process> {
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
pub(super) fn nullable(p: &Particle) -> bool {
    p.min == 0
        || match p.term {
            Term::Element(_) | Term::Any(_) => false,
            Term::Sequence(items) => items.iter().all(nullable),
            Term::Choice(items) => items.iter().any(nullable),
        }
}

/// Whether a match of `t` can begin with `child`.
pub(super) fn starts(t: Term, child: &Kid<'_>) -> bool {
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
pub(super) enum Mismatch {
    /// `particle` is required before the child at `at` (or at the end).
    Missing { particle: &'static Particle, at: usize },
    /// The child at `at` has no place here.
    Extra { at: usize },
}

/// Matches `p` against `kids` from `*at`, greedily: the schemas obey XSD's unique particle
/// attribution, so the next child always decides which particle takes it.
pub(super) fn match_particle(p: &'static Particle, kids: &[Kid<'_>], at: &mut usize) -> Result<(), Mismatch> {
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
pub(super) fn expected(p: &Particle) -> String {
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

pub(super) fn element_name(e: u16) -> String {
    let e = &tables::ELEMENTS[usize::from(e)];
    qualified(tables::NS[usize::from(e.ns)], e.name)
}

pub(super) fn particle_name(p: &Particle) -> String {
    match p.term {
        Term::Element(e) => element_name(e),
        _ => expected(p),
    }
}

/// The element names a model mentions anywhere.
pub(super) fn mentions(p: &Particle, child: &Kid<'_>) -> bool {
    match p.term {
        Term::Element(e) => is_element(e, child),
        Term::Any(_) => false,
        Term::Sequence(items) | Term::Choice(items) => items.iter().any(|i| mentions(i, child)),
    }
}

/// The particle of a plain sequence, from `from` on, that accepts `child`.
pub(super) fn accepting(seq: &[Particle], from: usize, child: &Kid<'_>) -> Option<usize> {
    seq.iter()
        .skip(from)
        .position(|p| accepts(p.term, child))
        .map(|i| i + from)
}
