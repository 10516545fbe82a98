//! Conversions of `any` values: to the static types (checked), to strings,
//! to text for printing, and `===`.
//!
//! This file uses `core` and the crate's portable modules only.

use core::fmt::{self, Write};

use crate::array;
use crate::error::{Error, Expected, Result};
use crate::float_text::FloatText;
use crate::heap::Mutator;
use crate::object::{
    c_text, is_instance, layout, Descriptor, Kind, Obj, MEMBER_BOOL, MEMBER_FLOAT, MEMBER_INT,
};
use crate::string;
use crate::value::Value;

/// Nested arrays deeper than this print as `[Array]` (and convert to an
/// empty string), which also stops cycles.
const MAX_DEPTH: usize = 4;
/// Instances nested deeper than this print as `[Point]`, as Node's
/// `console.log` does (its default depth is 2); this stops cycles too.
const MAX_INSTANCE_DEPTH: usize = 2;

fn expected(expected: Expected, found: Value) -> Error {
    Error::Expected { expected, found }
}

/// `any` → `integer`.
pub fn to_int(v: Value) -> Result<i32> {
    v.as_int().ok_or(expected(Expected::Integer, v))
}

/// `any` → `float`; an integer converts too.
pub fn to_float(v: Value) -> Result<f32> {
    v.as_number().ok_or(expected(Expected::Float, v))
}

/// `any` → `boolean`: by truthiness, never an error (LANGUAGE.md §7a).
pub fn to_bool(v: Value) -> bool {
    v.truthy()
}

/// `any` → `null` (the type of `null` and `undefined`).
pub fn to_null(v: Value) -> Result<Value> {
    if v.is_undefined() {
        Ok(v)
    } else {
        Err(expected(Expected::Null, v))
    }
}

/// The object `v` refers to, if it is of kind `kind`.
fn object_of_kind(v: Value, kind: Kind) -> Option<Obj> {
    // SAFETY: reference values point to valid objects.
    unsafe { Obj::from_value(v) }.filter(|obj| obj.kind() == kind)
}

/// `any` → `string`.
pub fn to_string_object(v: Value) -> Result<Obj> {
    object_of_kind(v, Kind::String).ok_or(expected(Expected::String, v))
}

/// `v instanceof T`, and what an `any` → `T` conversion accepts, for a
/// class, array or function type `T`.
pub fn instance_of(v: Value, desc: &Descriptor) -> bool {
    // SAFETY: reference values point to valid objects.
    unsafe { Obj::from_value(v) }.is_some_and(|obj| is_instance(obj, desc))
}

/// `any` → a class, array or function type.
pub fn to_object(v: Value, desc: &'static Descriptor) -> Result<Value> {
    if instance_of(v, desc) {
        Ok(v)
    } else {
        Err(expected(Expected::Type(desc), v))
    }
}

/// `v instanceof Array`.
pub fn is_array(v: Value) -> bool {
    array::as_array(v).is_ok()
}

/// `a === b`: numbers by value (an integer equals the same float), strings
/// by content, everything else by identity.
pub fn equals(a: Value, b: Value) -> bool {
    match (a.as_int(), b.as_int(), a.as_float(), b.as_float()) {
        (Some(x), Some(y), ..) => return x == y,
        (_, _, Some(x), Some(y)) => return x == y,
        (Some(i), _, _, Some(f)) | (_, Some(i), Some(f), _) => return int_equals_float(i, f),
        _ => {}
    }
    if a == b {
        return true;
    }
    match (
        object_of_kind(a, Kind::String),
        object_of_kind(b, Kind::String),
    ) {
        (Some(x), Some(y)) => string::equals(x, y),
        _ => false,
    }
}

/// Whether `i` and `f` are the same number, exactly (without `f64`,
/// which the single-precision cores compute in software): inside the
/// range of `i32`, `f as i32` truncates exactly, and gives `i` back as
/// `f` only if `f` has no fraction.
fn int_equals_float(i: i32, f: f32) -> bool {
    (-2_147_483_648.0..2_147_483_648.0).contains(&f) && f as i32 == i && i as f32 == f
}

/// How values are written as text.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Style {
    /// As a string conversion (`"" + v`): arrays join their elements
    /// with `,` (`undefined` elements are empty), instances are
    /// `[object Object]`.
    Text,
    /// As `console.log` shows it: `[ 1, 'a', [ 2 ] ]`, `Point { x: 1 }`.
    Print,
}

/// Writes `v` as text.
pub fn write_value(w: &mut dyn Write, v: Value, style: Style) -> fmt::Result {
    write_nested(w, v, style, 0)
}

fn write_nested(w: &mut dyn Write, v: Value, style: Style, depth: usize) -> fmt::Result {
    if let Some(i) = v.as_int() {
        return write_int(w, i);
    }
    if let Some(f) = v.as_float() {
        return write_float(w, f);
    }
    if let Some(b) = v.as_bool() {
        return w.write_str(if b { "true" } else { "false" });
    }
    // SAFETY: reference values point to valid objects.
    let Some(obj) = (unsafe { Obj::from_value(v) }) else {
        return w.write_str("undefined");
    };
    match obj.kind() {
        Kind::String if style == Style::Print && depth > 0 => {
            w.write_str("'")?;
            write_bytes(w, string::bytes(obj))?;
            w.write_str("'")
        }
        Kind::String => write_bytes(w, string::bytes(obj)),
        kind if kind.is_array() => write_array(w, obj, style, depth),
        // JavaScript's String() of a class instance.
        Kind::Instance if style == Style::Text => w.write_str("[object Object]"),
        Kind::Instance => write_instance(w, obj, depth),
        Kind::Closure => w.write_str("[function]"),
        _ => w.write_str("[internal]"),
    }
}

/// One copy of the integer formatting for values and fields.
#[inline(never)]
fn write_int(w: &mut dyn Write, i: i32) -> fmt::Result {
    write!(w, "{i}")
}

/// An instance as Node's `console.log` shows it: `Point { x: 1, y: 2.5,
/// name: 'ab' }`, `Point {}`, and `[Point]` when nested too deep. Fields
/// come in member-table order; raw fields are written from their bits (a
/// float is not rounded by boxing).
fn write_instance(w: &mut dyn Write, obj: Obj, depth: usize) -> fmt::Result {
    let Some(class) = obj.class() else {
        return w.write_str("[internal]");
    };
    // SAFETY: class names are NUL-terminated.
    let name = unsafe { c_text(class.name) };
    if depth > MAX_INSTANCE_DEPTH {
        w.write_str("[")?;
        w.write_str(name)?;
        return w.write_str("]");
    }
    w.write_str(name)?;
    let mut empty = true;
    for member in class.members() {
        let Some(word) = obj.field(class, member) else {
            continue; // a method
        };
        w.write_str(if empty { " { " } else { ", " })?;
        empty = false;
        w.write_str(member.name())?;
        w.write_str(": ")?;
        match member.kind {
            MEMBER_INT => write_int(w, word as u32 as i32)?,
            MEMBER_FLOAT => write_float(w, f32::from_bits(word as u32))?,
            MEMBER_BOOL => w.write_str(if word != 0 { "true" } else { "false" })?,
            _ => write_nested(w, Value(word), Style::Print, depth + 1)?,
        }
    }
    w.write_str(if empty { " {}" } else { " }" })
}

pub fn write_float(w: &mut dyn Write, f: f32) -> fmt::Result {
    write_bytes(w, FloatText::new(f).as_bytes())
}

fn write_bytes(w: &mut dyn Write, bytes: &[u8]) -> fmt::Result {
    // Strings are valid UTF-8 by construction.
    w.write_str(core::str::from_utf8(bytes).unwrap_or("\u{fffd}"))
}

fn write_array(w: &mut dyn Write, a: Obj, style: Style, depth: usize) -> fmt::Result {
    let len = array::length(a);
    let elements = |w: &mut dyn Write, separator: &str| -> fmt::Result {
        for i in 0..len {
            if i > 0 {
                w.write_str(separator)?;
            }
            let element = array::get(a, i as i32).unwrap_or(Value::UNDEFINED);
            if style == Style::Text && element.is_undefined() {
                continue; // JavaScript's join leaves them empty
            }
            write_nested(w, element, style, depth + 1)?;
        }
        Ok(())
    };
    match style {
        Style::Text if depth >= MAX_DEPTH => Ok(()),
        Style::Text => elements(w, ","),
        Style::Print if depth >= MAX_DEPTH => w.write_str("[Array]"),
        Style::Print => {
            if a.kind() == Kind::Uint8Array {
                write!(w, "Uint8Array({len}) ")?;
            }
            if len == 0 {
                return w.write_str("[]");
            }
            w.write_str("[ ")?;
            elements(w, ", ")?;
            w.write_str(" ]")
        }
    }
}

/// Counts the bytes written.
struct Counter(usize);

impl Write for Counter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// Writes into a byte slice.
struct Filler<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Write for Filler<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.at + s.len();
        let slot = self.out.get_mut(self.at..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.at = end;
        Ok(())
    }
}

/// `String(v)`: the string of any value (strings are returned as they are;
/// `undefined`, `true` and `false` are static strings).
pub fn to_string(m: &mut impl Mutator, v: Value) -> Result<Value> {
    if object_of_kind(v, Kind::String).is_some() {
        return Ok(v);
    }
    match v {
        Value::UNDEFINED => return Ok(string::UNDEFINED.value()),
        Value::TRUE => return Ok(string::TRUE.value()),
        Value::FALSE => return Ok(string::FALSE.value()),
        _ => {}
    }
    // Measure, allocate, write: no intermediate strings. Objects do not
    // move, so the text comes out the same the second time.
    let mut counter = Counter(0);
    let _ = write_value(&mut counter, v, Style::Text);
    if counter.0 == 0 {
        return Ok(string::EMPTY.value());
    }
    m.hold(v);
    let s = string::allocate(m, counter.0, 0);
    m.release(v);
    let s = s?;
    // SAFETY: `s` is new, with `counter.0` bytes that nothing else uses.
    let out = unsafe { s.bytes_mut(layout::STRING_DATA, counter.0) };
    let _ = write_value(&mut Filler { out, at: 0 }, v, Style::Text);
    s.set_word(layout::STRING_UNITS, string::utf16_units(string::bytes(s)));
    Ok(s.value())
}

/// The string of an integer (`"" + i`).
pub fn int_to_string(m: &mut impl Mutator, i: i32) -> Result<Value> {
    let mut buf = [0u8; 11];
    let mut filler = Filler {
        out: &mut buf,
        at: 0,
    };
    let _ = write!(filler, "{i}");
    let len = filler.at;
    string::new(m, &buf[..len])
}

/// The string of a float, as printed: `1.0`, `0.5`, `1e-7`, `NaN`.
pub fn float_to_string(m: &mut impl Mutator, f: f32) -> Result<Value> {
    string::new(m, FloatText::new(f).as_bytes())
}

/// The string of a boolean (static, no allocation).
pub fn bool_to_string(b: bool) -> Value {
    if b {
        string::TRUE.value()
    } else {
        string::FALSE.value()
    }
}
