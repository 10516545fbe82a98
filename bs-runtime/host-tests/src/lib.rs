//! Compiles the source files of bs-runtime that depend on `core` only (the
//! portable part of the runtime: float printing, values, objects, the heap
//! and its collector, strings, arrays, dynamic operations, the host-request
//! protocol, the memory routines), so that their tests and the tests
//! in this crate run on the host. The modules sit at the crate root, as in
//! the runtime, so that their `crate::` paths resolve the same way.
//!
//! On the host a word is 64 bits instead of 32; the portable code is
//! written for `usize` words, and the value encoding keeps its 32-bit bit
//! patterns (zero-extended).

#![cfg(test)]
// The tests use part of the runtime's functions only.
#![allow(dead_code)]

#[path = "../../src/array.rs"]
mod array;
#[path = "../../src/convert.rs"]
mod convert;
#[path = "../../src/dynamic.rs"]
mod dynamic;
#[path = "../../src/error.rs"]
mod error;
#[path = "../../src/float_text.rs"]
mod float_text;
#[path = "../../src/heap/mod.rs"]
mod heap;
#[path = "../../src/host_request.rs"]
mod host_request;
#[path = "../../src/mem.rs"]
mod mem;
#[path = "../../src/object.rs"]
mod object;
#[path = "../../src/string.rs"]
mod string;
#[path = "../../src/value.rs"]
mod value;

mod support;

mod array_tests;
mod dynamic_tests;
mod gc_tests;
mod heap_tests;
mod host_request_tests;
mod mem_tests;
mod string_tests;
