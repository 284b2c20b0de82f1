#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod error;

pub use error::{Error, Issue, Result, Severity};
pub mod xml;
pub mod hash;
pub mod xades;
pub mod model;
pub mod totals;
pub mod validate;
pub mod chain;
pub mod ubl;
