//! Strings, and conversions to strings. The heaps collect before every
//! allocation, so an operation that forgets to hold a value it still needs
//! shows up as a corrupted result.

use core::cmp::Ordering;

use crate::array;
use crate::convert::{self, Style};
use crate::object::{__bs_desc_float_array, __bs_desc_int_array, __bs_desc_string_array, Obj};
use crate::string;
use crate::support::{obj, text, TestHeap};
use crate::value::Value;

fn heap() -> TestHeap {
    TestHeap::stressed(16 * 1024)
}

/// A string made from `t`, rooted in `h`.
fn s(h: &mut TestHeap, t: &str) -> Obj {
    h.string(t)
}

fn substring(t: &str, start: i32, end: i32) -> String {
    let mut h = heap();
    let x = s(&mut h, t);
    text(string::substring(&mut h, x, start, end).unwrap())
}

/// JavaScript's `substring` on UTF-16, lone surrogates as U+FFFD.
fn js_substring(t: &str, start: i32, end: i32) -> String {
    let units: Vec<u16> = t.encode_utf16().collect();
    let clamp = |i: i32| (i.max(0) as usize).min(units.len());
    let (mut a, mut b) = (clamp(start), clamp(end));
    if a > b {
        core::mem::swap(&mut a, &mut b);
    }
    String::from_utf16_lossy(&units[a..b])
}

#[test]
fn new_strings_know_both_lengths() {
    let mut h = heap();
    for t in ["", "a", "hello, world", "é", "日本語", "😀", "a😀b"] {
        let v = string::new(&mut h, t.as_bytes()).unwrap();
        assert_eq!(text(v), t);
        assert_eq!(string::length(obj(v)), t.encode_utf16().count());
    }
    // The empty string is the static one: no allocation.
    assert_eq!(string::new(&mut h, b"").unwrap(), string::EMPTY.value());
}

#[test]
fn concatenation() {
    let mut h = heap();
    let a = s(&mut h, "Blue");
    let b = s(&mut h, "Script");
    let empty = s(&mut h, "");
    let ab = string::concat(&mut h, a, b).unwrap();
    assert_eq!(text(ab), "BlueScript");
    // An empty side gives the other string itself.
    assert_eq!(string::concat(&mut h, a, empty).unwrap(), a.value());
    assert_eq!(string::concat(&mut h, empty, b).unwrap(), b.value());
    let e = s(&mut h, "é");
    let smiley = s(&mut h, "😀");
    let mixed = string::concat(&mut h, e, smiley).unwrap();
    assert_eq!(text(mixed), "é😀");
    assert_eq!(string::length(obj(mixed)), 3);
    // Long chains, with a collection before every step.
    let mut acc = s(&mut h, "");
    for i in 0..50 {
        let piece = s(&mut h, &i.to_string());
        acc = obj(string::concat(&mut h, acc, piece).unwrap());
        h.root(acc.value());
    }
    let expected: String = (0..50).map(|i| i.to_string()).collect();
    assert_eq!(text(acc.value()), expected);
}

#[test]
fn substring_edge_cases() {
    let t = "hello";
    for (start, end) in [
        (0, 5),
        (1, 3),
        (3, 1), // swapped
        (-2, 2),
        (2, 99),
        (99, 2),
        (5, 5),
        (0, 0),
        (-5, -1),
        (i32::MIN, i32::MAX),
    ] {
        assert_eq!(
            substring(t, start, end),
            js_substring(t, start, end),
            "{start}..{end}"
        );
    }
    assert_eq!(substring("", 0, 3), "");
}

#[test]
fn substring_counts_utf16_units() {
    for t in ["héllo wörld", "日本語のテキスト", "a😀b😀😀c", "😀"] {
        let len = t.encode_utf16().count() as i32;
        for start in -1..=len + 1 {
            for end in -1..=len + 1 {
                assert_eq!(
                    substring(t, start, end),
                    js_substring(t, start, end),
                    "{t:?} {start}..{end}"
                );
            }
        }
    }
}

#[test]
fn whole_substrings_are_the_string_itself() {
    let mut h = heap();
    let x = s(&mut h, "same");
    assert_eq!(string::substring(&mut h, x, 0, 4).unwrap(), x.value());
    assert_eq!(
        string::substring(&mut h, x, 2, 2).unwrap(),
        string::EMPTY.value()
    );
}

#[test]
fn index_of_starts_with_ends_with() {
    let mut h = heap();
    let hay = s(&mut h, "one two three two");
    let two = s(&mut h, "two");
    let none = s(&mut h, "four");
    let empty = s(&mut h, "");
    assert_eq!(string::index_of(hay, two), 4);
    assert_eq!(string::index_of(hay, none), -1);
    assert_eq!(string::index_of(hay, empty), 0);
    assert_eq!(string::index_of(empty, two), -1);
    assert_eq!(string::index_of(empty, empty), 0);
    let wide = s(&mut h, "😀é two");
    assert_eq!(string::index_of(wide, two), 4, "in UTF-16 units");
    let one = s(&mut h, "one");
    assert!(string::starts_with(hay, one));
    assert!(!string::starts_with(hay, two));
    assert!(string::starts_with(hay, empty));
    assert!(string::ends_with(hay, two));
    assert!(!string::ends_with(hay, one));
    assert!(string::ends_with(empty, empty));
    assert!(!string::ends_with(two, hay));
}

#[test]
fn char_codes() {
    let mut h = heap();
    let ascii = s(&mut h, "AZ");
    assert_eq!(string::char_code_at(ascii, 0), Some(65));
    assert_eq!(string::char_code_at(ascii, 1), Some(90));
    assert_eq!(string::char_code_at(ascii, 2), None);
    assert_eq!(string::char_code_at(ascii, -1), None);
    let t = "é日😀x";
    let wide = s(&mut h, t);
    let units: Vec<u16> = t.encode_utf16().collect();
    for (i, unit) in units.iter().enumerate() {
        assert_eq!(
            string::char_code_at(wide, i as i32),
            Some(i32::from(*unit)),
            "{i}"
        );
    }
    assert_eq!(string::char_code_at(wide, units.len() as i32), None);

    for (code, expected) in [
        (65, "A"),
        (0xe9, "é"),
        (0x65e5, "日"),
        (0x1_0041, "A"), // modulo 2^16, as in JavaScript
        (-1, "\u{ffff}"),
        (0xd83d, "\u{fffd}"), // a lone surrogate
        (0, "\0"),
    ] {
        let v = string::from_char_code(&mut h, code).unwrap();
        assert_eq!(text(v), expected, "{code:#x}");
    }
}

#[test]
fn comparisons_follow_utf16_order() {
    let mut h = heap();
    let ordered = [
        "", "A", "Z", "a", "ab", "abc", "b", "é", "日", "😀", "\u{ffff}",
    ];
    for a in ordered {
        for b in ordered {
            let (x, y) = (s(&mut h, a), s(&mut h, b));
            let js = a.encode_utf16().cmp(b.encode_utf16());
            assert_eq!(string::compare(x, y), js, "{a:?} vs {b:?}");
            assert_eq!(string::equals(x, y), a == b);
        }
    }
    // U+FFFF sorts after U+1F600 in bytes (code points) but before it in
    // UTF-16: the case that needs care.
    let (bmp, astral) = (s(&mut h, "x\u{ffff}"), s(&mut h, "x😀"));
    assert_eq!(string::compare(astral, bmp), Ordering::Less);
}

#[test]
fn conversions_to_string() {
    let mut h = heap();
    let cases: Vec<(Value, &str)> = vec![
        (Value::from_int(0), "0"),
        (Value::from_int(-42), "-42"),
        (Value::from_float(1.0), "1.0"),
        (Value::from_float(0.5), "0.5"),
        (Value::from_float(-3.25), "-3.25"),
        (Value::from_float(f32::NAN), "NaN"),
        (Value::TRUE, "true"),
        (Value::FALSE, "false"),
        (Value::UNDEFINED, "undefined"),
    ];
    for (v, expected) in cases {
        assert_eq!(text(convert::to_string(&mut h, v).unwrap()), expected);
    }
    assert_eq!(
        text(convert::int_to_string(&mut h, i32::MIN).unwrap()),
        "-2147483648"
    );
    assert_eq!(
        text(convert::float_to_string(&mut h, 1e21).unwrap()),
        "1e+21"
    );
    assert_eq!(text(convert::bool_to_string(true)), "true");
    // A string converts to itself.
    let x = s(&mut h, "x");
    assert_eq!(convert::to_string(&mut h, x.value()).unwrap(), x.value());
}

#[test]
fn arrays_convert_like_join_and_print_readably() {
    let mut h = heap();
    let ints = obj(array::new(&mut h, &__bs_desc_int_array, 3, 7).unwrap());
    h.root(ints.value());
    array::set_i32(ints, 1, -1).unwrap();
    assert_eq!(
        text(convert::to_string(&mut h, ints.value()).unwrap()),
        "7,-1,7"
    );

    let words = obj(array::new(&mut h, &__bs_desc_string_array, 0, 0).unwrap());
    h.root(words.value());
    for w in ["a", "é"] {
        let w = s(&mut h, w);
        array::push(&mut h, words, w.value()).unwrap();
    }
    assert_eq!(
        text(convert::to_string(&mut h, words.value()).unwrap()),
        "a,é"
    );

    let mut printed = String::new();
    convert::write_value(&mut printed, words.value(), Style::Print).unwrap();
    assert_eq!(printed, "[ 'a', 'é' ]");
    let floats = obj(array::new(&mut h, &__bs_desc_float_array, 0, 0).unwrap());
    printed.clear();
    convert::write_value(&mut printed, floats.value(), Style::Print).unwrap();
    assert_eq!(printed, "[]");
    printed.clear();
    convert::write_value(&mut printed, Value::from_float(2.0), Style::Print).unwrap();
    assert_eq!(printed, "2.0");
}
