//! Strings: immutable UTF-8, with JavaScript's UTF-16 semantics for
//! `length`, indices and ordering.
//!
//! A string object is `[header, byte length, UTF-16 length, bytes…]`.
//! Storing both lengths makes `length` constant-time and tells ASCII
//! strings (equal lengths) apart: for them a UTF-16 index is a byte index,
//! which is the fast path of every indexed operation. Other strings are
//! walked from the start.
//!
//! UTF-8 cannot hold half of a surrogate pair: where JavaScript would make a
//! string with a lone surrogate (`substring` through the middle of a
//! character outside the BMP, `String.fromCharCode(0xD800)`), the runtime
//! puts U+FFFD, which also counts as one UTF-16 unit.
//!
//! This file uses `core` and the crate's portable modules only.

use core::cmp::Ordering;

use crate::error::Result;
use crate::heap::Mutator;
use crate::object::{__bs_desc_string, layout, string_words, Obj, StaticString};
use crate::value::Value;

pub static EMPTY: StaticString<0> = StaticString::ascii(b"");
pub static TRUE: StaticString<4> = StaticString::ascii(b"true");
pub static FALSE: StaticString<5> = StaticString::ascii(b"false");
pub static UNDEFINED: StaticString<9> = StaticString::ascii(b"undefined");

const REPLACEMENT: [u8; 3] = [0xef, 0xbf, 0xbd];

/// The UTF-8 bytes of a string object.
pub fn bytes<'a>(s: Obj) -> &'a [u8] {
    // SAFETY: a string object holds its byte length of bytes, and is
    // immutable once made.
    unsafe { s.bytes(layout::STRING_DATA, s.word(layout::STRING_BYTES)) }
}

/// The length in UTF-16 units (`s.length`).
pub fn length(s: Obj) -> usize {
    s.word(layout::STRING_UNITS)
}

fn is_ascii(s: Obj) -> bool {
    s.word(layout::STRING_BYTES) == s.word(layout::STRING_UNITS)
}

/// UTF-16 units of UTF-8 text: one per character, two for those outside
/// the BMP (4-byte sequences).
pub fn utf16_units(text: &[u8]) -> usize {
    text.iter()
        .map(|&b| usize::from(b & 0xc0 != 0x80) + usize::from(b >= 0xf0))
        .sum()
}

/// A string object for `byte_len` bytes and `units` UTF-16 units, whose
/// bytes the caller fills in before any other allocation.
pub fn allocate(m: &mut impl Mutator, byte_len: usize, units: usize) -> Result<Obj> {
    let header = &__bs_desc_string as *const _ as usize;
    let s = m.allocate(string_words(byte_len), header, byte_len)?;
    s.set_word(layout::STRING_UNITS, units);
    Ok(s)
}

/// A string holding a copy of `text` (UTF-8). `text` must not lie in the
/// heap (copy heap strings with the operations below, which hold them).
pub fn new(m: &mut impl Mutator, text: &[u8]) -> Result<Value> {
    if text.is_empty() {
        return Ok(EMPTY.value());
    }
    let s = allocate(m, text.len(), utf16_units(text))?;
    fill(s, &[text]);
    Ok(s.value())
}

/// Copies `parts` one after the other into the bytes of the new string `s`.
fn fill(s: Obj, parts: &[&[u8]]) {
    // SAFETY: `s` was just allocated with room for all parts, and nothing
    // else refers to it yet.
    let out = unsafe { s.bytes_mut(layout::STRING_DATA, s.word(layout::STRING_BYTES)) };
    let mut at = 0;
    for part in parts {
        out[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
}

/// `a + b`.
pub fn concat(m: &mut impl Mutator, a: Obj, b: Obj) -> Result<Value> {
    if bytes(a).is_empty() {
        return Ok(b.value());
    }
    if bytes(b).is_empty() {
        return Ok(a.value());
    }
    m.hold(a.value());
    m.hold(b.value());
    let s = allocate(m, bytes(a).len() + bytes(b).len(), length(a) + length(b));
    m.release(b.value());
    m.release(a.value());
    let s = s?;
    fill(s, &[bytes(a), bytes(b)]);
    Ok(s.value())
}

/// Where UTF-16 unit `unit` (at most the length) starts: the byte offset
/// of its character, and whether the unit is the second half of that
/// character (a low surrogate).
fn unit_offset(s: Obj, unit: usize) -> (usize, bool) {
    let text = bytes(s);
    if is_ascii(s) {
        return (unit, false);
    }
    let (mut units, mut at) = (0, 0);
    while at < text.len() && units < unit {
        let width = utf8_width(text[at]);
        if width == 4 && units + 1 == unit {
            return (at, true);
        }
        units += if width == 4 { 2 } else { 1 };
        at += width;
    }
    (at, false)
}

/// Bytes of the UTF-8 sequence that starts with `lead`.
fn utf8_width(lead: u8) -> usize {
    match lead {
        0xf0.. => 4,
        0xe0.. => 3,
        0xc0.. => 2,
        _ => 1,
    }
}

/// The character at byte `at` (a character start) and its width.
fn decode(text: &[u8], at: usize) -> (u32, usize) {
    let width = utf8_width(text[at]).min(text.len() - at);
    let lead = u32::from(text[at]);
    let mut c = match width {
        1 => lead,
        2 => lead & 0x1f,
        3 => lead & 0x0f,
        _ => lead & 0x07,
    };
    for &b in &text[at + 1..at + width] {
        c = c << 6 | u32::from(b & 0x3f);
    }
    (c, width)
}

/// `s.substring(start, end)`: the units `[start, end)`, with both clamped
/// to `[0, length]` and swapped if `start > end`, as in JavaScript.
pub fn substring(m: &mut impl Mutator, s: Obj, start: i32, end: i32) -> Result<Value> {
    let len = length(s);
    let clamp = |i: i32| (i.max(0) as usize).min(len);
    let (mut start, mut end) = (clamp(start), clamp(end));
    if start > end {
        core::mem::swap(&mut start, &mut end);
    }
    if start == end {
        return Ok(EMPTY.value());
    }
    if start == 0 && end == len {
        return Ok(s.value());
    }
    let (from, low_half) = unit_offset(s, start);
    let (to, high_half) = unit_offset(s, end);
    // A lone half of a surrogate pair becomes U+FFFD; its character's other
    // bytes are not copied.
    let from = if low_half { from + 4 } else { from };
    let byte_len = to.saturating_sub(from)
        + usize::from(low_half) * REPLACEMENT.len()
        + usize::from(high_half) * REPLACEMENT.len();
    m.hold(s.value());
    let out = allocate(m, byte_len, end - start);
    m.release(s.value());
    let out = out?;
    let text = bytes(s);
    let middle = text.get(from..to).unwrap_or(&[]);
    let head: &[u8] = if low_half { &REPLACEMENT } else { &[] };
    let tail: &[u8] = if high_half { &REPLACEMENT } else { &[] };
    fill(out, &[head, middle, tail]);
    Ok(out.value())
}

/// `s.charCodeAt(i)`: the UTF-16 unit at `i`, or `None` out of range.
pub fn char_code_at(s: Obj, i: i32) -> Option<i32> {
    if i < 0 || i as usize >= length(s) {
        return None;
    }
    let text = bytes(s);
    if is_ascii(s) {
        return Some(i32::from(text[i as usize]));
    }
    let (at, low_half) = unit_offset(s, i as usize);
    let (c, _) = decode(text, at);
    let unit = match c {
        0x10000.. if low_half => 0xdc00 + ((c - 0x10000) & 0x3ff),
        0x10000.. => 0xd800 + ((c - 0x10000) >> 10),
        _ => c,
    };
    Some(unit as i32)
}

/// `String.fromCharCode(c)`: a string of the one UTF-16 unit `c` (taken
/// modulo 2^16, as in JavaScript); a surrogate becomes U+FFFD.
pub fn from_char_code(m: &mut impl Mutator, c: i32) -> Result<Value> {
    let unit = c as u32 & 0xffff;
    let c = char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER);
    let mut buf = [0u8; 4];
    new(m, c.encode_utf8(&mut buf).as_bytes())
}

/// `s.indexOf(p)`: the UTF-16 index of the first occurrence, or -1.
pub fn index_of(s: Obj, p: Obj) -> i32 {
    let (text, pattern) = (bytes(s), bytes(p));
    let found = if pattern.is_empty() {
        Some(0)
    } else {
        text.windows(pattern.len()).position(|w| w == pattern)
    };
    match found {
        Some(at) if is_ascii(s) => at as i32,
        Some(at) => utf16_units(&text[..at]) as i32,
        None => -1,
    }
}

pub fn starts_with(s: Obj, p: Obj) -> bool {
    bytes(s).starts_with(bytes(p))
}

pub fn ends_with(s: Obj, p: Obj) -> bool {
    bytes(s).ends_with(bytes(p))
}

/// `a === b`.
pub fn equals(a: Obj, b: Obj) -> bool {
    a == b || bytes(a) == bytes(b)
}

/// `a < b` and friends: JavaScript's order, by UTF-16 units. That is the
/// order of the UTF-8 bytes except where a character outside the BMP
/// (a surrogate pair, 0xD800…) meets one in U+E000…U+FFFF.
pub fn compare(a: Obj, b: Obj) -> Ordering {
    let (x, y) = (bytes(a), bytes(b));
    let Some(i) = x.iter().zip(y).position(|(p, q)| p != q) else {
        return x.len().cmp(&y.len());
    };
    // Both strings have the same character start before the first
    // difference: decode the differing characters there.
    let mut at = i;
    while at > 0 && x[at] & 0xc0 == 0x80 {
        at -= 1;
    }
    let (cx, _) = decode(x, at);
    let (cy, _) = decode(y, at);
    let first_unit = |c: u32| {
        if c >= 0x10000 {
            0xd800 + ((c - 0x10000) >> 10)
        } else {
            c
        }
    };
    (first_unit(cx), cx).cmp(&(first_unit(cy), cy))
}
