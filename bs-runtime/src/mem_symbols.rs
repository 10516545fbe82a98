//! The symbols of the C memory routines (`mem.rs`), which replace
//! compiler-builtins' weak ones at link time, in the image and in every
//! patch linked against it.

use crate::mem::{copy_forward, copy_overlapping, fill};

/// # Safety
/// As C's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's guarantee.
    unsafe { copy_forward(dest, src, n) };
    dest
}

/// # Safety
/// As C's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's guarantee.
    unsafe { copy_overlapping(dest, src, n) };
    dest
}

/// # Safety
/// As C's.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dest: *mut u8, byte: i32, n: usize) -> *mut u8 {
    // SAFETY: the caller's guarantee; C's `memset` takes the byte as
    // an `int` and uses its low 8 bits.
    unsafe { fill(dest, byte as u8, n) };
    dest
}

/// The forms of the Arm run-time ABI: no result, `memset`'s arguments in
/// another order, and variants whose pointers are known to be 4- or 8-byte
/// aligned.
#[cfg(target_arch = "arm")]
mod aeabi {
    use crate::mem::{copy_aligned, copy_forward, copy_overlapping, fill, fill_aligned, splat};

    /// `$routine` under each name. The 4- and 8-byte aligned forms take
    /// the aligned routines, which skip the alignment tests.
    macro_rules! copies {
        ($routine:ident: $($name:ident),*) => {$(
            /// # Safety
            /// As C's `memcpy` (`memmove` for the `memmove` forms).
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $name(dest: *mut u8, src: *const u8, n: usize) {
                // SAFETY: the caller's guarantee.
                unsafe { $routine(dest, src, n) }
            }
        )*};
    }
    macro_rules! sets {
        ($($name:ident),*) => {$(
            /// # Safety
            /// As C's `memset`.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $name(dest: *mut u8, n: usize, byte: i32) {
                // SAFETY: the caller's guarantee.
                unsafe { fill_aligned(dest, splat(byte as u8), n) }
            }
        )*};
    }
    macro_rules! clears {
        ($($name:ident),*) => {$(
            /// # Safety
            /// As C's `memset` with 0.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $name(dest: *mut u8, n: usize) {
                // SAFETY: the caller's guarantee.
                unsafe { fill_aligned(dest, 0, n) }
            }
        )*};
    }

    copies!(copy_forward: __aeabi_memcpy);
    copies!(copy_aligned: __aeabi_memcpy4, __aeabi_memcpy8);
    copies!(copy_overlapping: __aeabi_memmove, __aeabi_memmove4, __aeabi_memmove8);
    sets!(__aeabi_memset4, __aeabi_memset8);
    clears!(__aeabi_memclr4, __aeabi_memclr8);

    /// # Safety
    /// As C's `memset`.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn __aeabi_memset(dest: *mut u8, n: usize, byte: i32) {
        // SAFETY: the caller's guarantee.
        unsafe { fill(dest, byte as u8, n) }
    }

    /// # Safety
    /// As C's `memset` with 0.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn __aeabi_memclr(dest: *mut u8, n: usize) {
        // SAFETY: the caller's guarantee.
        unsafe { fill(dest, 0, n) }
    }
}
