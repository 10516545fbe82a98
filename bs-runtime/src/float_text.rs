//! Float to text, as JavaScript's Number-to-string does it, with BlueScript's
//! rule that a float always shows a decimal (`1.0`, not `1`).
//!
//! The digits are the shortest ones that read back as the same `f32` (and
//! of those, the nearest), computed exactly as `core::fmt`'s `{:e}`
//! computes them; where they go follows ECMAScript's Number::toString:
//! fixed notation for `1e-6 <= |x| < 1e21` (`0.00001`,
//! `10000000000000000.0`), otherwise `d.ddde±n` (`1e-7`, `1.5e+30`).
//! `NaN`, `Infinity` and `-Infinity` are spelled as in JavaScript, and `-0`
//! prints as `0.0` (JavaScript prints `0`).
//!
//! `core::fmt` is not used: its float formatting (Grisu with a Dragon4
//! fallback, for `f32` and `f64`, with padding and precision) takes about
//! 14 KiB of flash, this file about 1.5 KiB. Every `f32` gets the text it
//! got from `{:e}` (compared for all 2^32 of them when this replaced it).
//!
//! This file uses `core` only and nothing else of the crate, so that it can
//! be tested on the host: `cd bs-runtime/host-tests && cargo test`.

use core::cmp::Ordering;

/// Longest text: `-` and 21 digits and `.0` (e.g. `-100000000000000000000.0`).
const MAX_LEN: usize = 32;

/// Room for the digits: an `f32` needs at most 9 (one more if rounding up
/// carries out of them, which does not happen).
const MAX_DIGITS: usize = 17;

/// The text of one float, in a small buffer (no allocation).
pub(crate) struct FloatText {
    buf: [u8; MAX_LEN],
    len: usize,
}

impl FloatText {
    pub(crate) fn new(v: f32) -> Self {
        let mut text = FloatText {
            buf: [0; MAX_LEN],
            len: 0,
        };
        text.format(v);
        text
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn push(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.put(byte);
        }
    }

    fn put(&mut self, byte: u8) {
        // Cannot overflow (see MAX_LEN), but never panic in the runtime.
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }

    fn format(&mut self, v: f32) {
        if v.is_nan() {
            return self.push(b"NaN");
        }
        if v.is_sign_negative() && v != 0.0 {
            self.put(b'-');
        }
        let v = v.abs();
        if v.is_infinite() {
            return self.push(b"Infinity");
        }
        if v == 0.0 {
            return self.push(b"0.0");
        }

        // The value is 0.d1d2…dk × 10^n (n is ECMAScript's n).
        let mut digits = [0u8; MAX_DIGITS];
        let (k, n) = shortest(v, &mut digits);
        let k = k as i32;
        // The digit at position j (0: d1), zeros beyond the digits.
        let digit = |j: i32| match digits.get(j as usize) {
            Some(&d) if 0 <= j && j < k => d,
            _ => b'0',
        };

        if -6 < n && n <= 21 {
            // Fixed notation: the integer part (`0` if there is none),
            // then at least one decimal, zeros first when n < 0.
            if n <= 0 {
                self.put(b'0');
            }
            for j in 0..n {
                self.put(digit(j));
            }
            self.put(b'.');
            for j in n..k.max(n + 1) {
                self.put(digit(j));
            }
        } else {
            // d1.d2…dk × 10^e: `d1.d2…dke±e`, `d1e±e` for one digit.
            self.put(digit(0));
            if k > 1 {
                self.put(b'.');
                for j in 1..k {
                    self.put(digit(j));
                }
            }
            let e = n - 1;
            self.push(if e < 0 { b"e-" } else { b"e+" });
            let e = e.unsigned_abs();
            if e >= 10 {
                self.put(b'0' + (e / 10) as u8);
            }
            self.put(b'0' + (e % 10) as u8);
        }
    }
}

/// The shortest digits of a finite `v > 0` that read back as `v`, the
/// nearest to `v` when several are as short: writes them as ASCII to
/// `digits` and returns their count and the exponent `n` with
/// `v ≈ 0.d1d2…dk × 10^n`.
///
/// This is core's `flt2dec::strategy::dragon::format_shortest` (Steele &
/// White's and Dragon4's exact digit generation, on big integers) after
/// core's `flt2dec::decode`, specialized to `f32`, so that every float
/// prints with the digits `{:e}` gives it (core's faster Grisu path gives
/// the same digits). Both ends of `v`'s rounding interval belong to it
/// when its mantissa is even.
fn shortest(v: f32, digits: &mut [u8; MAX_DIGITS]) -> (usize, i32) {
    // v = mant × 2^exp, its neighbours are (mant - minus) × 2^exp and
    // (mant + plus) × 2^exp: the numbers halfway there round to v. Here
    // minus = 1, and plus = 1 or 2 (`wide`).
    let bits = v.to_bits();
    let field = (bits >> 23) & 0xff;
    let fraction = bits & 0x7f_ffff;
    let (mant, wide, exp, inclusive) = if field == 0 {
        // Subnormal (core doubles its mantissa, which is then even).
        (fraction << 1, false, -150, true)
    } else {
        let m = fraction | 0x80_0000;
        let e = field as i32 - 150;
        if m == 0x80_0000 {
            // A power of two: the neighbour below is half as far.
            (m << 2, true, e - 2, true)
        } else {
            (m << 1, false, e - 1, m & 1 == 0)
        }
    };
    // `a < b`, or `a <= b` when the interval's ends belong to it.
    let below = |a: &Big, b: &Big| match a.cmp(b) {
        Ordering::Less => true,
        Ordering::Equal => inclusive,
        Ordering::Greater => false,
    };
    // `mant + plus`.
    let high = |mant: &Big, minus: &Big| {
        let high = mant.plus(minus);
        if wide {
            high.plus(minus)
        } else {
            high
        }
    };

    // k estimates the n of `mant + plus`: 10^(k-1) < high <= 10^(k+1)
    // (1292913986 = floor(2^32 log10(2))).
    let nbits = 32 - (mant + u32::from(wide)).leading_zeros() as i64;
    let mut k = (((nbits + exp as i64) * 1_292_913_986) >> 32) as i32;

    // v = mant / scale, low = (mant - minus) / scale,
    // high = (mant + plus) / scale, then divided by 10^k.
    let mut mant = Big::new(mant);
    let mut minus = Big::new(1);
    let mut scale = Big::new(1);
    if exp < 0 {
        scale.mul_pow2(-exp as u32);
    } else {
        mant.mul_pow2(exp as u32);
        minus.mul_pow2(exp as u32);
    }
    if k >= 0 {
        scale.mul_pow10(k as u32);
    } else {
        mant.mul_pow10(-k as u32);
        minus.mul_pow10(-k as u32);
    }
    // Now scale / 10 < (mant + plus) <= scale * 10: make it
    // scale < mant + plus <= scale * 10.
    if below(&scale, &high(&mant, &minus)) {
        k += 1;
    } else {
        mant.mul_small(10);
        minus.mul_small(10);
    }

    let mut count = 0;
    let (mut down, mut up);
    loop {
        // The next digit: floor(mant / scale), below 10.
        let mut digit = b'0';
        while mant.cmp(&scale) != Ordering::Less {
            mant.sub(&scale);
            digit += 1;
        }
        digits[count] = digit;
        count += 1;
        // Stop when the digits so far, or with their last one increased,
        // lie in v's rounding interval.
        down = below(&mant, &minus);
        up = below(&scale, &high(&mant, &minus));
        if down || up || count == MAX_DIGITS {
            break;
        }
        mant.mul_small(10);
        minus.mul_small(10);
    }

    // Round up when only that is in the interval, or when it is nearer
    // (or as near: ties round up).
    if up && (!down || mant.plus(&mant).cmp(&scale) != Ordering::Less) {
        match digits[..count].iter().rposition(|&c| c != b'9') {
            Some(i) => {
                digits[i] += 1;
                digits[i + 1..count].fill(b'0');
            }
            None => {
                // 9…9 becomes 10…0, one digit more.
                digits[..count].fill(b'0');
                digits[0] = b'1';
                if count < MAX_DIGITS {
                    digits[count] = b'0';
                    count += 1;
                }
                k += 1;
            }
        }
    }
    (count, k)
}

/// Limbs of [`Big`]: the largest number is below 2^160 (`scale * 10` for
/// the smallest subnormal, about 2^156).
const LIMBS: usize = 6;

/// A non-negative integer, little-endian 32-bit limbs, for [`shortest`].
#[derive(Clone, Copy)]
struct Big([u32; LIMBS]);

impl Big {
    fn new(v: u32) -> Big {
        let mut limbs = [0; LIMBS];
        limbs[0] = v;
        Big(limbs)
    }

    #[inline(never)]
    fn mul_small(&mut self, m: u32) {
        let mut carry = 0;
        for limb in &mut self.0 {
            let x = u64::from(*limb) * u64::from(m) + carry;
            *limb = x as u32;
            carry = x >> 32;
        }
    }

    fn mul_pow2(&mut self, mut n: u32) {
        while n > 0 {
            let step = n.min(31);
            self.mul_small(1 << step);
            n -= step;
        }
    }

    fn mul_pow10(&mut self, mut n: u32) {
        while n > 0 {
            let step = n.min(9);
            self.mul_small(10u32.pow(step));
            n -= step;
        }
    }

    #[inline(never)]
    fn plus(&self, other: &Big) -> Big {
        let mut sum = *self;
        let mut carry = false;
        for (a, &b) in sum.0.iter_mut().zip(&other.0) {
            let (s, c1) = a.overflowing_add(b);
            let (s, c2) = s.overflowing_add(u32::from(carry));
            *a = s;
            carry = c1 || c2;
        }
        sum
    }

    /// `self - other`, for `other <= self`.
    #[inline(never)]
    fn sub(&mut self, other: &Big) {
        let mut borrow = false;
        for (a, &b) in self.0.iter_mut().zip(&other.0) {
            let (d, b1) = a.overflowing_sub(b);
            let (d, b2) = d.overflowing_sub(u32::from(borrow));
            *a = d;
            borrow = b1 || b2;
        }
    }

    #[inline(never)]
    fn cmp(&self, other: &Big) -> Ordering {
        self.0.iter().rev().cmp(other.0.iter().rev())
    }
}

#[cfg(test)]
mod tests {
    use super::FloatText;

    fn text(v: f32) -> String {
        String::from_utf8(FloatText::new(v).as_bytes().to_vec()).unwrap()
    }

    #[track_caller]
    fn check(v: f32, expected: &str) {
        assert_eq!(text(v), expected, "for {v:?}");
    }

    #[test]
    fn examples_of_the_specification() {
        check(1.0, "1.0");
        check(0.5, "0.5");
        check(-3.25, "-3.25");
        check(100.0, "100.0");
        check(0.00001, "0.00001");
        check(1e-7, "1e-7");
        check(1e16, "10000000000000000.0");
        check(1e21, "1e+21");
        check(1.5e30, "1.5e+30");
        check(f32::NAN, "NaN");
        check(f32::INFINITY, "Infinity");
        check(f32::NEG_INFINITY, "-Infinity");
        check(0.0, "0.0");
        check(-0.0, "0.0");
        check(1.25e-8, "1.25e-8");
    }

    #[test]
    fn fixed_notation() {
        check(0.1, "0.1");
        check(-0.1, "-0.1");
        check(123456.5, "123456.5");
        check(16777216.0, "16777216.0");
        check(16777217.0, "16777216.0");
        check(3.4028235e38_f32.sqrt(), "18446743000000000000.0");
        check(1e20, "100000000000000000000.0");
        check(-1e20, "-100000000000000000000.0");
        check(0.000001, "0.000001");
        check(-0.0000015, "-0.0000015");
        check(1.2345678e-6, "0.0000012345678");
        check(0.3, "0.3");
        check(1.0 / 3.0, "0.33333334");
        check(2.0_f32.sqrt(), "1.4142135");
        check(core::f32::consts::PI, "3.1415927");
        check(-1234.5677, "-1234.5677");
        check(9.999999e20, "999999900000000000000.0");
    }

    #[test]
    fn exponent_notation() {
        check(1e-7, "1e-7");
        check(-1e-7, "-1e-7");
        check(9.9e-7, "9.9e-7");
        check(1e22, "1e+22");
        check(-2.5e25, "-2.5e+25");
        check(f32::MAX, "3.4028235e+38");
        check(-f32::MAX, "-3.4028235e+38");
        check(f32::MIN_POSITIVE, "1.1754944e-38");
        check(1e-45, "1e-45");
        check(f32::from_bits(1), "1e-45");
        check(1.23457e-40, "1.23457e-40"); // subnormal: fewer digits
    }

    /// What JavaScript prints, from Rust's `{}` (shortest digits, never an
    /// exponent) and `{:e}` (shortest digits, always an exponent).
    fn reference(v: f32) -> String {
        let a = v.abs();
        if (1e-6..1e21).contains(&a) {
            let t = format!("{v}");
            if t.contains('.') {
                t
            } else {
                t + ".0"
            }
        } else {
            format!("{v:e}").replace("e", "e+").replace("e+-", "e-")
        }
    }

    #[test]
    fn agrees_with_the_reference_and_reads_back() {
        // A spread of bit patterns over all finite floats but zero.
        let mut bits: u32 = 1;
        while bits < 0x7f80_0000 {
            for v in [f32::from_bits(bits), -f32::from_bits(bits)] {
                let t = text(v);
                assert_eq!(t, reference(v));
                let back: f32 = t.parse().unwrap();
                assert_eq!(back.to_bits(), v.to_bits(), "{t}");
            }
            bits += 4099;
        }
        // Around the notation boundaries and powers of ten.
        for e in -45..=38 {
            let p: f32 = format!("1e{e}").parse().unwrap();
            for v in [
                p,
                f32::from_bits(p.to_bits() - 1),
                f32::from_bits(p.to_bits() + 1),
            ] {
                if v != 0.0 {
                    assert_eq!(text(v), reference(v));
                }
            }
        }
    }
}
