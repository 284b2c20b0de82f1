//! Hand-written primitives, private to the crate. Each replaces a general-purpose crate (or a
//! standard-library routine) that is built for throughput or generality and costs tens of KiB
//! of the signing WebAssembly module, where the documents are a few kilobytes; each is checked
//! against what it replaces in its own tests.
//!
//! - [`asn1`]: a strict DER reader for certificates and keys, instead of `der`/`x509-cert`'s
//!   per-type decoders (≈ 80 KiB).
//! - [`b64`]: standard base64, instead of the `base64` crate's unrolled engine (≈ 7 KiB).
//! - [`sha256`]: SHA-256 over `sha2`'s block function, with an AVX2 block function for x86-64
//!   CPUs that lack SHA extensions (speed, not size: native only).
//! - [`sort`]: small stable sorts, instead of std's driftsort/ipnsort (≈ 20 KiB).
//! - [`text`]: lowercase hex and PEM / bare-base64 armour, shared by keys, certificates and CSRs.

pub(crate) mod asn1;
pub(crate) mod b64;
pub(crate) mod sha256;
pub(crate) mod sort;
pub(crate) mod text;
