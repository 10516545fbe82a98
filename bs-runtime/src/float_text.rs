//! Float to text, as JavaScript's Number-to-string does it, with BlueScript's
//! rule that a float always shows a decimal (`1.0`, not `1`).
//!
//! The digits are the shortest ones that read back as the same `f32` (from
//! `core::fmt`'s `{:e}`); where they go follows ECMAScript's
//! Number::toString: fixed notation for `1e-6 <= |x| < 1e21` (`0.00001`,
//! `10000000000000000.0`), otherwise `d.ddde±n` (`1e-7`, `1.5e+30`).
//! `NaN`, `Infinity` and `-Infinity` are spelled as in JavaScript, and `-0`
//! prints as `0.0` (JavaScript prints `0`).
//!
//! This file uses `core` only and nothing else of the crate, so that it can
//! be tested on the host: `cd bs-runtime/host-tests && cargo test`.

use core::fmt::{self, Write};

/// Longest text: `-` and 21 digits and `.0` (e.g. `-100000000000000000000.0`).
const MAX_LEN: usize = 32;

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
        // Cannot overflow (see MAX_LEN), but never panic in the runtime.
        let n = bytes.len().min(MAX_LEN - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    fn zeros(&mut self, count: usize) {
        const ZEROS: &[u8] = b"000000000000000000000";
        self.push(&ZEROS[..count.min(ZEROS.len())]);
    }

    fn format(&mut self, v: f32) {
        if v.is_nan() {
            return self.push(b"NaN");
        }
        if v.is_sign_negative() && v != 0.0 {
            self.push(b"-");
        }
        let v = v.abs();
        if v.is_infinite() {
            return self.push(b"Infinity");
        }
        if v == 0.0 {
            return self.push(b"0.0");
        }

        // Shortest round-trip digits in scientific form: `1.5e30`, `1e-7`.
        let mut sci = Scratch {
            buf: [0; 16],
            len: 0,
        };
        let _ = write!(sci, "{v:e}");
        // The digits d1…dk, and the exponent e of d1.d2…dk × 10^e.
        let mut digits = [0u8; 16];
        let mut k = 0;
        let mut e = 0i32;
        let mut e_negative = false;
        let mut in_exponent = false;
        for &c in &sci.buf[..sci.len] {
            match c {
                b'e' => in_exponent = true,
                b'-' => e_negative = true,
                b'0'..=b'9' if in_exponent => e = e * 10 + i32::from(c - b'0'),
                b'0'..=b'9' if k < digits.len() => {
                    digits[k] = c;
                    k += 1;
                }
                _ => {}
            }
        }
        if e_negative {
            e = -e;
        }
        let digits = &digits[..k];
        // ECMAScript's n: the value is 0.d1d2…dk × 10^n.
        let n = e + 1;

        if (k as i32) <= n && n <= 21 {
            // An integer: the digits, zeros, and BlueScript's `.0`.
            self.push(digits);
            self.zeros(n as usize - k);
            self.push(b".0");
        } else if 0 < n && n <= 21 {
            let (int, frac) = digits.split_at(n as usize);
            self.push(int);
            self.push(b".");
            self.push(frac);
        } else if -6 < n && n <= 0 {
            self.push(b"0.");
            self.zeros((-n) as usize);
            self.push(digits);
        } else {
            let (first, rest) = digits.split_at(1);
            self.push(first);
            if !rest.is_empty() {
                self.push(b".");
                self.push(rest);
            }
            self.push(if e < 0 { b"e-" } else { b"e+" });
            let e = e.unsigned_abs();
            if e >= 10 {
                self.push(&[b'0' + (e / 10) as u8]);
            }
            self.push(&[b'0' + (e % 10) as u8]);
        }
    }
}

/// Buffer for the `{:e}` text (at most `1.2345678e-45`: 13 bytes).
struct Scratch {
    buf: [u8; 16],
    len: usize,
}

impl Write for Scratch {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
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
