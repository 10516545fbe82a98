//! `Math` of BlueScript (LANGUAGE.md §9) on floats: JavaScript's functions
//! with JavaScript's special cases, computed in `f32` with `libm`.
//!
//! Generated code calls these by symbol (docs/device-abi.md); `abs`, `min`
//! and `max` of integers are computed inline instead.

/// `Math.sqrt`.
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
    libm::sinf(x)
}

/// `Math.cos` (radians).
#[unsafe(no_mangle)]
pub extern "C" fn bs_math_cos(x: f32) -> f32 {
    libm::cosf(x)
}

/// `Math.tan` (radians).
#[unsafe(no_mangle)]
pub extern "C" fn bs_math_tan(x: f32) -> f32 {
    libm::tanf(x)
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

/// Keeps every function above in the image (called from `abi::keep`): a
/// patch may call any of them, whatever the image's scripts use.
pub(crate) fn keep() {
    let functions: [*const (); 14] = [
        bs_math_sqrt as *const (),
        bs_math_abs as *const (),
        bs_math_floor as *const (),
        bs_math_ceil as *const (),
        bs_math_round as *const (),
        bs_math_min as *const (),
        bs_math_max as *const (),
        bs_math_sin as *const (),
        bs_math_cos as *const (),
        bs_math_tan as *const (),
        bs_math_atan2 as *const (),
        bs_math_exp as *const (),
        bs_math_log as *const (),
        bs_math_pow as *const (),
    ];
    core::hint::black_box(functions);
}
