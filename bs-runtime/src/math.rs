//! `Math` of BlueScript (LANGUAGE.md §9) on floats: JavaScript's functions
//! with JavaScript's special cases, computed in `f32` with `libm`, except
//! `sin`, `cos` and `tan` (below) and `sqrt` (the FPU's instruction).
//!
//! Generated code calls these by symbol (docs/device-abi.md); `abs`, `min`
//! and `max` of integers are computed inline instead.

/// `Math.sqrt`: the FPU's instruction (IEEE's correctly rounded square
/// root, which `libm::sqrtf` computes in software) where there is one.
#[cfg(target_abi = "eabihf")]
#[unsafe(no_mangle)]
#[unsafe(naked)]
pub extern "C" fn bs_math_sqrt(x: f32) -> f32 {
    // The hard-float ABI passes `x` and the result in s0; an `eabihf`
    // target has a single-precision FPU. The instruction is spelled as its
    // encoding: the assembler of inline assembly does not know the FPU.
    core::arch::naked_asm!(
        ".inst.w 0xeeb10ac0", // vsqrt.f32 s0, s0
        "bx lr",
    )
}

/// `Math.sqrt`.
#[cfg(not(target_abi = "eabihf"))]
#[unsafe(no_mangle)]
pub extern "C" fn bs_math_sqrt(x: f32) -> f32 {
    libm::sqrtf(x)
}

/// `Math.abs`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_math_abs(x: f32) -> f32 {
    libm::fabsf(x)
}

/// `Math.floor`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_math_floor(x: f32) -> f32 {
    libm::floorf(x)
}

/// `Math.ceil`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_math_ceil(x: f32) -> f32 {
    libm::ceilf(x)
}

/// `Math.round`: to the nearest integer, halves toward +∞ (`2.5` → `3`,
/// `-2.5` → `-2`), keeping the sign of a zero result (`-0.4` → `-0`).
/// Unlike `floor(x + 0.5)`, exact for every `f32` (`0.49999997` → `0`).
#[unsafe(no_mangle)]
pub extern "C" fn bs_math_round(x: f32) -> f32 {
    let floor = libm::floorf(x);
    // Exact: x and its floor are less than 1 apart. False for NaN and ±∞,
    // which stay as they are.
    let rounded = if x - floor >= 0.5 { floor + 1.0 } else { floor };
    if rounded == 0.0 {
        libm::copysignf(0.0, x)
    } else {
        rounded
    }
}

/// `Math.min` of two numbers: NaN if either is, and `-0` below `+0`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_math_min(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a == b {
        // Equal, or zeros of different signs: the negative one.
        if a.is_sign_negative() {
            a
        } else {
            b
        }
    } else if a < b {
        a
    } else {
        b
    }
}

/// `Math.max` of two numbers: NaN if either is, and `+0` above `-0`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_math_max(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a == b {
        if a.is_sign_negative() {
            b
        } else {
            a
        }
    } else if a > b {
        a
    } else {
        b
    }
}

/// `Math.sin` (radians).
#[unsafe(no_mangle)]
pub extern "C" fn bs_math_sin(x: f32) -> f32 {
    trig::eval(x, trig::Function::Sin)
}

/// `Math.cos` (radians).
#[unsafe(no_mangle)]
pub extern "C" fn bs_math_cos(x: f32) -> f32 {
    trig::eval(x, trig::Function::Cos)
}

/// `Math.tan` (radians).
#[unsafe(no_mangle)]
pub extern "C" fn bs_math_tan(x: f32) -> f32 {
    trig::eval(x, trig::Function::Tan)
}

/// `Math.atan2(y, x)`: the angle of the point (x, y), in (-π, π].
#[unsafe(no_mangle)]
pub extern "C" fn bs_math_atan2(y: f32, x: f32) -> f32 {
    libm::atan2f(y, x)
}

/// `Math.exp`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_math_exp(x: f32) -> f32 {
    libm::expf(x)
}

/// `Math.log` (natural logarithm; `-Infinity` at 0, NaN below).
#[unsafe(no_mangle)]
pub extern "C" fn bs_math_log(x: f32) -> f32 {
    libm::logf(x)
}

/// `Math.pow`, as JavaScript's `**`: where C's `pow` gives 1, JavaScript
/// gives NaN for a NaN exponent (`pow(1, NaN)`) and for `(±1) ** ±∞`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_math_pow(base: f32, exponent: f32) -> f32 {
    if exponent.is_nan() || (exponent.is_infinite() && libm::fabsf(base) == 1.0) {
        return f32::NAN;
    }
    libm::powf(base, exponent)
}

/// Sine, cosine and tangent of an `f32`, correctly rounded (the float
/// nearest to the exact value), in integer arithmetic.
///
/// `libm`'s `sinf`, `cosf` and `tanf` compute in `f64`, which a
/// single-precision FPU does in software: with their argument reduction,
/// over 8 KiB of flash. Here the argument is reduced exactly enough with
/// the bits of 2/π (Payne and Hanek's method, for every argument), and the
/// functions of the reduced argument are evaluated in 64-bit fixed point,
/// to about 2^-58 relative: far below half a unit in the last place of an
/// `f32` (2^-24), so that the rounding to `f32` is the correct one. Checked
/// for every `f32` from 0 to the largest (the functions are odd or even by
/// construction) against the host's `f64` functions, and against 300-bit
/// ones where those were too close to a rounding boundary: no result is
/// misrounded. `libm`'s results differ from these in the last place for
/// 0.015 % of the floats with `sinf` and `cosf`, 7 % with `tanf`: where
/// `libm` rounds the wrong way.
mod trig {
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub(super) enum Function {
        Sin,
        Cos,
        Tan,
    }

    /// The bits of 2/π after the binary point, 32 at a time: enough for the
    /// largest `f32` (2^128) and 64 bits below the binary point.
    const TWO_OVER_PI: [u32; 8] = [
        0xa2f9836e, 0x4e441529, 0xfc2757d1, 0xf534ddc0, 0xdb629599, 0x3c439041, 0xfe5163ab,
        0xdebbc561,
    ];

    /// sin(πr/2) / r = Σ (-1)^n SIN[n] (r²)^n for |r| <= 1/2 (Taylor's
    /// coefficients (π/2)^(2n+1) / (2n+1)!, with 63 bits after the binary
    /// point; the first term left out is below 2^-71).
    const SIN: [u64; 10] = [
        0xc90fdaa22168c235,
        0x52aef39896f94afb,
        0x0a335e33bad570e9,
        0x009969667315ec2e,
        0x000541e0d21fb9e0,
        0x00001e3074fde887,
        0x0000007a3d0d3406,
        0x000000016fadb9f1,
        0x000000000355d865,
        0x0000000000062901,
    ];

    /// cos(πr/2) = Σ (-1)^n COS[n] (r²)^n for |r| <= 1/2 (coefficients
    /// (π/2)^(2n) / (2n)!, as `SIN`; the first term left out is below 2^-68).
    const COS: [u64; 10] = [
        0x8000000000000000,
        0x9de9e64df22ef2d2,
        0x20783e1036b58767,
        0x02aba78fc797ff40,
        0x001e1f506891babb,
        0x0000d368f9510254,
        0x000003f3a7146ec8,
        0x0000000db7127a26,
        0x000000002418c586,
        0x00000000004a8316,
    ];

    /// A positive number `m × 2^e`, `m` with its top bit set.
    #[derive(Clone, Copy)]
    struct Num {
        m: u64,
        e: i32,
    }

    impl Num {
        /// `m × 2^e`, normalized (`m` > 0).
        fn new(m: u64, e: i32) -> Num {
            let shift = m.leading_zeros();
            Num {
                m: m << shift,
                e: e - shift as i32,
            }
        }
    }

    /// The high 64 bits of `a × b`.
    fn mul_high(a: u64, b: u64) -> u64 {
        ((u128::from(a) * u128::from(b)) >> 64) as u64
    }

    /// `Σ (-1)^n c[n] u^n`, `u` with 64 bits after the binary point (u <= 1/4),
    /// the coefficients and the result with 63. Every partial sum is
    /// positive: each term is less than the one before.
    fn polynomial(u: u64, c: &[u64; 10]) -> u64 {
        let mut sum = 0;
        for &coefficient in c.iter().rev() {
            sum = coefficient - mul_high(u, sum);
        }
        sum
    }

    pub(super) fn eval(x: f32, function: Function) -> f32 {
        let bits = x.to_bits();
        let abs = bits & 0x7fff_ffff;
        if abs >= 0x7f80_0000 {
            return f32::NAN; // for NaN and ±∞
        }
        if abs < 0x3980_0000 {
            // |x| < 2^-12 (and ±0): x - x³/6 and x + x³/3 round to x,
            // 1 - x²/2 to 1.
            return if function == Function::Cos { 1.0 } else { x };
        }
        // |x| = m × 2^e, normal.
        let m = u64::from(abs & 0x7f_ffff | 0x80_0000);
        let e = (abs >> 23) as i32 - 150;

        // x × 2/π = q + r quarter turns modulo 4 (|r| <= 1/2), from the sum
        // of m × TWO_OVER_PI[j] × 2^(e - 32(j + 1)), in fixed point with
        // 96 bits after the binary point. Terms that are multiples of 4 are
        // left out, and the ones below 2^-104.
        let mut sum: u128 = 0;
        for (j, &word) in TWO_OVER_PI.iter().enumerate() {
            let shift = e + 64 - 32 * j as i32;
            let term = m * u64::from(word);
            if shift >= 98 {
                continue;
            }
            if shift >= 0 {
                sum = sum.wrapping_add(u128::from(term) << shift);
            } else if shift > -64 {
                sum = sum.wrapping_add(u128::from(term >> -shift));
            }
        }
        let sum = sum.wrapping_add(1 << 95);
        let quadrant = (sum >> 96) as u32 & 3;
        // r + 1/2, in [0, 1).
        let r = sum & ((1 << 96) - 1);
        let (r, r_negative) = match r.checked_sub(1 << 95) {
            Some(r) => (r, false),
            None => ((1 << 95) - r, true),
        };
        // |r| = r × 2^-96, in [2^-30, 1/2]: of all floats, x × 2/π comes
        // closest to an integer at x = 2.1999385e10 (bits 0x50a3e87f),
        // within 2^-30, so r keeps at least 65 significant bits.
        let r = {
            let shift = r.leading_zeros();
            Num {
                m: (r << shift >> 64) as u64,
                e: 64 - shift as i32 - 96,
            }
        };
        // u = r², 64 bits after the binary point (r < 2^64 × 2^e).
        let r64 = r.m >> (-64 - r.e).min(63);
        let u = mul_high(r64, r64);
        // sin(π|r|/2) and cos(π|r|/2).
        let sin = Num::new(mul_high(r.m, polynomial(u, &SIN)), r.e + 1);
        let cos = Num::new(polynomial(u, &COS), -63);

        // sin(x) = ±sin, ±cos by quadrant; cos(x) likewise; tan(x) = ±sin/cos
        // or ±cos/sin.
        let odd = quadrant & 1 != 0;
        let (value, mut negative) = match function {
            Function::Sin => (if odd { cos } else { sin }, quadrant >= 2),
            Function::Cos => (if odd { sin } else { cos }, quadrant == 1 || quadrant == 2),
            Function::Tan => {
                let (a, b) = if odd { (cos, sin) } else { (sin, cos) };
                (divide(a, b), odd)
            }
        };
        // The sign of r counts where the function is odd in it.
        let odd_in_r = match function {
            Function::Sin => !odd,
            Function::Cos => odd,
            Function::Tan => true,
        };
        negative ^= r_negative && odd_in_r;
        // sin and tan are odd in x.
        negative ^= bits >> 31 != 0 && function != Function::Cos;
        round(value, negative)
    }

    /// `a / b`.
    fn divide(a: Num, b: Num) -> Num {
        // floor(a.m × 2^63 / b.m), bit by bit: a.m / b.m is in (1/2, 2).
        let (mut rest, mut carry, mut q) = (a.m, false, 0u64);
        for _ in 0..64 {
            q <<= 1;
            if carry || rest >= b.m {
                rest = rest.wrapping_sub(b.m);
                q |= 1;
            }
            carry = rest >> 63 != 0;
            rest <<= 1;
        }
        Num::new(q, a.e - b.e - 63)
    }

    /// The `f32` nearest to `±v` (which is in the range of normal floats).
    fn round(v: Num, negative: bool) -> f32 {
        let mut mantissa = (v.m >> 40) as u32;
        let rest = v.m & ((1 << 40) - 1);
        let mut e = v.e + 40;
        if rest > 1 << 39 || (rest == 1 << 39 && mantissa & 1 != 0) {
            mantissa += 1;
            if mantissa == 1 << 24 {
                mantissa >>= 1;
                e += 1;
            }
        }
        // mantissa × 2^e, mantissa in [2^23, 2^24).
        let biased = (e + 23 + 127) as u32;
        f32::from_bits(u32::from(negative) << 31 | biased << 23 | (mantissa & 0x7f_ffff))
    }
}
