//! Placeholder: filled by the bindings work.
