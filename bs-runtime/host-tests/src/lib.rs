//! Compiles source files of bs-runtime that depend on `core` only, so that
//! their `#[cfg(test)]` tests run on the host.

#[cfg(test)]
#[path = "../../src/float_text.rs"]
mod float_text;
