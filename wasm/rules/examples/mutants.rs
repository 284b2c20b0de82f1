//! Writes the golden mutants (`tests/support/mutants.rs`) and the structure mutants
//! (`tests/support/structure_mutants.rs`, expected: `XSD`, or nothing for the variants the
//! schema allows) to a folder, with their expected rule
//! ids, for `scripts/rules-agreement.sh`. `cargo run -p zatca-rules --example mutants -- DIR`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mutants.rs"]
mod mutants;
#[path = "../tests/support/structure_mutants.rs"]
mod structure_mutants;

fn main() {
    let out = std::path::PathBuf::from(std::env::args().nth(1).expect("usage: mutants DIR"));
    std::fs::create_dir_all(&out).unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for m in mutants::MUTANTS {
        let src = std::fs::read_to_string(repo.join(m.sample)).unwrap();
        std::fs::write(out.join(format!("{}.xml", m.name)), src.replace(m.from, m.to)).unwrap();
        std::fs::write(out.join(format!("{}.expected", m.name)), m.rules.join("\n") + "\n").unwrap();
    }
    for m in structure_mutants::STRUCTURE_MUTANTS {
        let src = std::fs::read_to_string(repo.join(m.sample)).unwrap();
        std::fs::write(out.join(format!("{}.xml", m.name)), src.replace(m.from, m.to)).unwrap();
        std::fs::write(
            out.join(format!("{}.xsd-only", m.name)),
            m.location.map_or_else(String::new, |l| format!("XSD {l}\n")),
        )
        .unwrap();
    }
}
