//! The `any` value: one machine word whose two low bits are a tag.
//!
//! ```text
//! tag 00  reference: the address of an object (heap or static), or 0,
//!         which is `undefined` (= `null`)
//! tag 01  integer: a 30-bit two's complement payload in the upper bits
//! tag 10  float: the bits of an `f32`, rounded to a multiple of 4 (the two
//!         low mantissa bits make room for the tag)
//! tag 11  false (0b0011) and true (0b0111)
//! ```
//!
//! References carry the tag 00 so that a reference is a plain address: a
//! typed `string` or class variable and an `any` holding it are the same
//! word, field and element accesses need no untagging, and zeroed memory
//! (fresh objects, globals) reads as `undefined`. The full specification is
//! docs/values-and-heap.md.
//!
//! On the device a word is 32 bits. This file, like the rest of the
//! portable runtime, is written for `usize` words so that it also runs (and
//! is tested) on a 64-bit host, where the same bit patterns are
//! zero-extended.
//!
//! This file uses `core` and the ABI crate only, nothing else of the crate.

/// One `any` value (or a typed reference, which has the same encoding).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub struct Value(pub usize);

use bluescript_abi::value::{
    self as abi, TAG_FLOAT, TAG_INTEGER, TAG_MASK, TAG_REFERENCE, TAG_SPECIAL,
};

/// Bits of an `f32` that mean "not a number" (all exponent bits set)...
const F32_EXPONENT: u32 = 0x7f80_0000;
/// ...when one of these is set too.
const F32_MANTISSA: u32 = 0x007f_ffff;
/// The one NaN an `any` holds.
const CANONICAL_NAN: u32 = 0x7fc0_0000;

impl Value {
    /// `undefined`, which is also `null`.
    pub const UNDEFINED: Value = Value(abi::UNDEFINED);
    pub const FALSE: Value = Value(abi::FALSE);
    pub const TRUE: Value = Value(abi::TRUE);

    /// Boxes an integer. Values outside -2^29 ..= 2^29 - 1 keep their low
    /// 30 bits (they wrap, like integer arithmetic does).
    pub const fn from_int(i: i32) -> Value {
        Value((((i as u32) << abi::INTEGER_SHIFT) | TAG_INTEGER as u32) as usize)
    }

    /// Boxes a float, rounded to nearest (ties to even) at the 21st
    /// mantissa bit. Every float with at most 22 significant bits (0.5,
    /// 1.0, 3.25, integers up to 2^22, …) round-trips exactly; all NaNs
    /// become one NaN.
    pub const fn from_float(f: f32) -> Value {
        let bits = f.to_bits();
        let rounded = if bits & F32_EXPONENT == F32_EXPONENT && bits & F32_MANTISSA != 0 {
            CANONICAL_NAN
        } else {
            // Adding 1 rounds the two dropped bits up from 0b10 on; adding
            // the third bit too makes a tie (0b10) go to the even side. A
            // carry into the exponent is correct rounding (up to infinity
            // at the top).
            (bits + 1 + ((bits >> 2) & 1)) & !(TAG_MASK as u32)
        };
        Value((rounded | TAG_FLOAT as u32) as usize)
    }

    pub const fn from_bool(b: bool) -> Value {
        if b {
            Value::TRUE
        } else {
            Value::FALSE
        }
    }

    /// A reference to the object at `address` (word-aligned), or
    /// `undefined` for 0.
    pub const fn from_address(address: usize) -> Value {
        Value(address)
    }

    pub const fn is_undefined(self) -> bool {
        self.0 == abi::UNDEFINED
    }

    pub const fn is_int(self) -> bool {
        self.0 & TAG_MASK == TAG_INTEGER
    }

    pub const fn is_float(self) -> bool {
        self.0 & TAG_MASK == TAG_FLOAT
    }

    pub const fn is_bool(self) -> bool {
        self.0 & TAG_MASK == TAG_SPECIAL
    }

    /// Whether this is a reference to an object (not `undefined`).
    pub const fn is_object(self) -> bool {
        self.0 & TAG_MASK == TAG_REFERENCE && self.0 != 0
    }

    pub const fn as_int(self) -> Option<i32> {
        if self.is_int() {
            // Arithmetic shift: sign-extends the 30-bit payload.
            Some((self.0 as u32 as i32) >> abi::INTEGER_SHIFT)
        } else {
            None
        }
    }

    pub const fn as_float(self) -> Option<f32> {
        if self.is_float() {
            Some(f32::from_bits(self.0 as u32 & !(TAG_MASK as u32)))
        } else {
            None
        }
    }

    /// An integer or a float, as a float (what a `float` accepts).
    pub fn as_number(self) -> Option<f32> {
        match self.as_int() {
            Some(i) => Some(i as f32),
            None => self.as_float(),
        }
    }

    pub const fn as_bool(self) -> Option<bool> {
        if self.is_bool() {
            Some(self.0 == Value::TRUE.0)
        } else {
            None
        }
    }

    /// The address of the object this refers to.
    pub const fn as_address(self) -> Option<usize> {
        if self.is_object() {
            Some(self.0)
        } else {
            None
        }
    }

    /// Truthiness in conditions: `0`, `0.0`, `NaN`, `false` and `undefined`
    /// are false, every other value (the empty string too) is true.
    pub fn truthy(self) -> bool {
        match self.0 & TAG_MASK {
            TAG_REFERENCE => self.0 != 0,
            TAG_INTEGER => self.0 != Value::from_int(0).0,
            TAG_FLOAT => {
                let f = f32::from_bits(self.0 as u32 & !(TAG_MASK as u32));
                f != 0.0 && !f.is_nan()
            }
            _ => self.0 == Value::TRUE.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest and largest integers an `any` holds exactly.
    const ANY_INT_MIN: i32 = -(1 << 29);
    const ANY_INT_MAX: i32 = (1 << 29) - 1;

    #[test]
    fn integers_round_trip_over_30_bits() {
        for i in [0, 1, -1, 42, -42, 1000, ANY_INT_MIN, ANY_INT_MAX] {
            let v = Value::from_int(i);
            assert!(v.is_int(), "{i}");
            assert_eq!(v.as_int(), Some(i));
            assert_eq!(v.as_float(), None);
        }
        // Beyond 30 bits the value wraps, like 30-bit arithmetic.
        assert_eq!(Value::from_int(ANY_INT_MAX + 1).as_int(), Some(ANY_INT_MIN));
        assert_eq!(Value::from_int(ANY_INT_MIN - 1).as_int(), Some(ANY_INT_MAX));
        assert_eq!(Value::from_int(i32::MAX).as_int(), Some(-1));
        assert_eq!(Value::from_int(i32::MIN).as_int(), Some(0));
        // Word layout: payload above the tag.
        assert_eq!(Value::from_int(0).0, 0b01);
        assert_eq!(Value::from_int(1).0, 0b101);
        assert_eq!(Value::from_int(-1).0, 0xffff_fffd);
    }

    #[test]
    fn every_30_bit_integer_round_trips() {
        let mut i = ANY_INT_MIN;
        while i < ANY_INT_MAX - 997 {
            assert_eq!(Value::from_int(i).as_int(), Some(i));
            i += 997;
        }
    }

    #[test]
    fn small_floats_round_trip() {
        for f in [
            0.5, 1.0, 3.25, -3.25, 0.0, 100.0, 0.125, 1e20, 1048576.0, 4194303.0,
        ] {
            let v = Value::from_float(f);
            assert!(v.is_float());
            assert_eq!(v.as_float(), Some(f), "{f}");
            assert_eq!(v.as_int(), None);
        }
        let negative_zero = Value::from_float(-0.0).as_float().unwrap();
        assert!(negative_zero == 0.0 && negative_zero.is_sign_negative());
        assert_eq!(
            Value::from_float(f32::INFINITY).as_float(),
            Some(f32::INFINITY)
        );
        assert_eq!(
            Value::from_float(f32::NEG_INFINITY).as_float(),
            Some(f32::NEG_INFINITY)
        );
    }

    #[test]
    fn floats_round_to_nearest_even() {
        let boxed = |bits: u32| Value::from_float(f32::from_bits(bits)).0 as u32 & !3;
        let one = 1.0f32.to_bits();
        assert_eq!(boxed(one + 1), one); // .25 of a step: down
        assert_eq!(boxed(one + 2), one); // tie, even: down
        assert_eq!(boxed(one + 3), one + 4); // .75: up
        assert_eq!(boxed(one + 4 + 2), one + 8); // tie, odd: up
        assert_eq!(boxed(f32::MAX.to_bits()), f32::INFINITY.to_bits());
        assert_eq!(boxed((-1.0f32).to_bits() + 3), (-1.0f32).to_bits() + 4);
        // The error is at most half a step of 2^-21 relative.
        let third = 1.0f32 / 3.0;
        let back = Value::from_float(third).as_float().unwrap();
        assert!(((back - third) / third).abs() <= 1.0 / (1 << 22) as f32);
    }

    #[test]
    fn nan_stays_nan() {
        for bits in [0x7f80_0001, 0x7fc0_0000, 0xffff_ffff, 0x7f80_0003] {
            let v = Value::from_float(f32::from_bits(bits));
            assert!(v.as_float().unwrap().is_nan(), "{bits:#x}");
        }
    }

    #[test]
    fn specials_are_distinct() {
        let all = [
            Value::UNDEFINED,
            Value::FALSE,
            Value::TRUE,
            Value::from_int(0),
            Value::from_float(0.0),
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(Value::from_bool(true).as_bool(), Some(true));
        assert_eq!(Value::from_bool(false).as_bool(), Some(false));
        assert_eq!(Value::UNDEFINED.as_bool(), None);
        assert!(Value::UNDEFINED.is_undefined());
        assert!(!Value::UNDEFINED.is_object());
        assert_eq!(Value::from_int(1).as_bool(), None);
        assert_eq!(Value::TRUE.as_int(), None);
    }

    #[test]
    fn references_are_plain_addresses() {
        let v = Value::from_address(0x2000_1230);
        assert!(v.is_object());
        assert_eq!(v.as_address(), Some(0x2000_1230));
        assert_eq!(v.as_int(), None);
        assert_eq!(Value::UNDEFINED.as_address(), None);
    }

    #[test]
    fn numbers_widen_to_float() {
        assert_eq!(Value::from_int(-7).as_number(), Some(-7.0));
        assert_eq!(Value::from_float(2.5).as_number(), Some(2.5));
        assert_eq!(Value::TRUE.as_number(), None);
    }

    #[test]
    fn truthiness() {
        for falsy in [
            Value::from_int(0),
            Value::from_float(0.0),
            Value::from_float(-0.0),
            Value::from_float(f32::NAN),
            Value::FALSE,
            Value::UNDEFINED,
        ] {
            assert!(!falsy.truthy(), "{falsy:?}");
        }
        for truthy in [
            Value::from_int(1),
            Value::from_int(-1),
            Value::from_float(0.5),
            Value::from_float(f32::INFINITY),
            Value::TRUE,
            Value::from_address(0x2000_0000),
        ] {
            assert!(truthy.truthy(), "{truthy:?}");
        }
    }
}
