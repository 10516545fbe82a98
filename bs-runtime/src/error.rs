//! Run-time errors of the value and heap operations. The portable code
//! returns them; the device's entry points report them with `bs_error`'s
//! machinery, with the script location the generated code passed.
//!
//! This file uses `core` and the crate's portable modules only.

use core::fmt;

use crate::object::{Descriptor, TypeName, ValueType};
use crate::value::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The heap is full even after a collection.
    OutOfMemory,
    IndexOutOfRange {
        index: i32,
        length: usize,
    },
    /// `new Array(n)` with a negative `n`.
    InvalidLength(i32),
    /// A value of the wrong type: a failed `any` conversion, or a store of a
    /// wrong-typed value into an array viewed as `any[]`.
    Expected {
        expected: Expected,
        found: Value,
    },
    /// `push()`, `pop()`, `shift()` or `unshift()` of a fixed-length array
    /// (seen through `any`).
    FixedLength {
        operation: &'static str,
        array: Value,
    },
}

/// What a value was expected to be.
#[derive(Clone, Copy, Debug)]
pub enum Expected {
    Integer,
    Float,
    Boolean,
    String,
    Null,
    /// Any array.
    Array,
    /// A value of this type (a class, array or function type).
    Type(&'static Descriptor),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::OutOfMemory => f.write_str("out of memory"),
            Error::IndexOutOfRange { index, length } => {
                write!(f, "index {index} out of range (length {length})")
            }
            Error::InvalidLength(n) => write!(f, "invalid array length {n}"),
            Error::Expected { expected, found } => {
                write!(f, "expected {expected}, found {}", ValueType(found))
            }
            Error::FixedLength { operation, array } => {
                write!(f, "{operation}() of a fixed-length {}", ValueType(array))
            }
        }
    }
}

impl PartialEq for Expected {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            // Descriptors are compared by identity.
            (Expected::Type(a), Expected::Type(b)) => core::ptr::eq(*a, *b),
            (a, b) => core::mem::discriminant(a) == core::mem::discriminant(b),
        }
    }
}

impl Eq for Expected {}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Integer => f.write_str("integer"),
            Expected::Float => f.write_str("float"),
            Expected::Boolean => f.write_str("boolean"),
            Expected::String => f.write_str("string"),
            Expected::Null => f.write_str("null"),
            Expected::Array => f.write_str("an array"),
            Expected::Type(desc) => TypeName(desc).fmt(f),
        }
    }
}

pub type Result<T> = core::result::Result<T, Error>;
