//! The bits of an `any` value: one word whose two low bits are a tag
//! (docs/values-and-heap.md, "Values").
//!
//! ```text
//! tag 00  reference: the address of an object, or 0, which is `undefined`
//! tag 01  integer: a 30-bit two's complement payload above the tag
//! tag 10  float: the bits of an `f32`, its two low mantissa bits the tag
//! tag 11  false (0b0011) and true (0b0111)
//! ```
//!
//! The constants are `usize` because the runtime works on `usize` words
//! (32 bits on the device; the same bit patterns, zero-extended, in its
//! host tests).

/// The two tag bits.
pub const TAG_MASK: usize = 0b11;
/// An object's address, or `undefined`.
pub const TAG_REFERENCE: usize = 0b00;
pub const TAG_INTEGER: usize = 0b01;
pub const TAG_FLOAT: usize = 0b10;
/// `false` and `true`.
pub const TAG_SPECIAL: usize = 0b11;

/// How far an integer's payload is shifted above the tag.
pub const INTEGER_SHIFT: usize = 2;

/// `undefined`, which is also `null`.
pub const UNDEFINED: usize = 0;
pub const FALSE: usize = 0b0011;
pub const TRUE: usize = 0b0111;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_distinct_two_bit_patterns() {
        let tags = [TAG_REFERENCE, TAG_INTEGER, TAG_FLOAT, TAG_SPECIAL];
        for (i, a) in tags.iter().enumerate() {
            assert_eq!(a & !TAG_MASK, 0);
            assert!(tags[i + 1..].iter().all(|b| a != b));
        }
        assert_eq!(FALSE & TAG_MASK, TAG_SPECIAL);
        assert_eq!(TRUE & TAG_MASK, TAG_SPECIAL);
        assert_eq!(UNDEFINED & TAG_MASK, TAG_REFERENCE);
        let minus_five = ((-5i32 as u32) << INTEGER_SHIFT) as usize | TAG_INTEGER;
        assert_eq!(minus_five & TAG_MASK, TAG_INTEGER);
        assert_eq!((minus_five as u32 as i32) >> INTEGER_SHIFT, -5);
    }
}
