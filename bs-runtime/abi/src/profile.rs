//! Type profiles: what values reach the untyped parameters of script
//! functions (docs/device-abi.md, "Type profiles"). Development images
//! and patches keep one record per function that has `any` parameters;
//! the host reads the records to choose what to specialize.
//!
//! A record is `[u32; 1 + PARAM_WORDS * n]` for its `n` `any` parameters
//! (in declaration order): word 0 counts calls up to `PROFILED_CALLS`,
//! the calls recorded, then per
//! parameter the `KIND_*` bits of the values seen and the descriptor of
//! the objects seen (`NO_DESCRIPTOR`, one descriptor's address, or
//! `SEVERAL_DESCRIPTORS`).

use crate::value::{TAG_FLOAT, TAG_INTEGER, TAG_SPECIAL};

/// Words of a record before its parameters': the call count.
pub const HEADER_WORDS: usize = 1;
/// Words per profiled parameter: its kinds, its descriptor.
pub const PARAM_WORDS: usize = 2;
/// Calls a record records; later calls only test the count. The host
/// decides from far fewer, and a function that changes its types later
/// is caught by its specialized version's entry check instead.
pub const PROFILED_CALLS: usize = 1000;

/// `undefined` (= `null`).
pub const KIND_NULL: usize = 1;
/// The kind bit of a non-reference value is `1 << tag`, so that generated
/// code computes it with a shift.
pub const KIND_INTEGER: usize = 1 << TAG_INTEGER;
pub const KIND_FLOAT: usize = 1 << TAG_FLOAT;
pub const KIND_BOOLEAN: usize = 1 << TAG_SPECIAL;
/// An object (string, array, closure or instance): its descriptor says
/// which.
pub const KIND_OBJECT: usize = 16;

/// The descriptor word before any object was seen.
pub const NO_DESCRIPTOR: usize = 0;
/// The descriptor word once objects of two descriptors were seen: no
/// descriptor is at address 1.
pub const SEVERAL_DESCRIPTORS: usize = 1;

/// Words of the record of a function with `params` untyped parameters.
pub const fn record_words(params: usize) -> usize {
    HEADER_WORDS + PARAM_WORDS * params
}

const _: () = assert!(
    KIND_NULL | KIND_INTEGER | KIND_FLOAT | KIND_BOOLEAN | KIND_OBJECT == 0b11111,
    "the kinds are distinct bits"
);
