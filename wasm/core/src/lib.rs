#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
// `unwrap_or_default` and friends (clippy.toml): an impossible state must not become a wrong
// document by defaulting to empty.
#![deny(clippy::disallowed_methods)]

// The pipeline, in the order a document goes through it. JSON input enters at `model`; XML
// input enters at `scan` (streaming) or `xml` (tree) and joins at `hash`.
pub mod c14n;
pub mod hash;
pub mod model;
pub mod qr;
mod scan;
pub mod sign;
pub mod totals;
pub mod ubl;
pub mod validate;
pub mod xades;
pub mod xml;

// Around the pipeline: checking signed documents, the chain of hashes and counters,
// compliance samples, Hijri dates.
pub mod chain;
pub mod compliance;
pub mod hijri;
pub mod verify;

// Keys, certificates and onboarding CSRs.
pub mod cert;
pub mod csr;
pub mod keys;

pub mod error;
pub use error::{Code, Error, Issue, Result, Severity};

mod prim;
pub use prim::b64::{DecodeError as Base64DecodeError, decode as base64_decode, encode as base64_encode};

/// For the benchmarks only: the SHA-256 behind the invoice hash, and which block function runs.
#[doc(hidden)]
pub mod bench {
    pub use crate::prim::sha256::{Backend, Sha256, backend};
}
