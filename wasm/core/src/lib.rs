#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod b64;
pub mod error;

pub use error::{Error, Issue, Result, Severity};
mod asn1;
pub mod cert;
pub mod chain;
pub mod compliance;
pub mod csr;
pub mod hash;
pub mod hijri;
pub mod keys;
pub mod model;
pub mod qr;
mod scan;
pub mod sha256;
pub mod sign;
mod sort;
pub mod totals;
pub mod ubl;
pub mod validate;
pub mod verify;
pub mod xades;
pub mod xml;
