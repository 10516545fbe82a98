//! The C memory routines LLVM calls for copies and fills: `memcpy`,
//! `memmove`, `memset` and, on Arm, their `__aeabi_*` forms.
//!
//! compiler-builtins defines them too, weakly, unrolled and with shifting
//! copies between differently aligned buffers: 1.6 KiB of flash in an
//! image. These move four words at a time, then what is left by the bits
//! of its length, where source and destination are equally aligned, and
//! bytes otherwise, in 0.3 KiB: the copies and fills of the runtime and of
//! compiled code (objects, arrays, frames, structs) are almost all
//! word-aligned. `mem_symbols.rs` exports them under the C names.
//!
//! Each access is volatile so that LLVM cannot recognize a loop here as a
//! copy or a fill and turn it back into a call to the very function it is
//! in.

use core::ptr::{read_volatile, write_volatile};

const WORD: usize = core::mem::size_of::<u32>();
/// Bytes moved per iteration of the loops over long buffers: four words,
/// so that the loop's own instructions take a small part of the time.
const BLOCK: usize = 4 * WORD;

fn misalignment(address: usize) -> usize {
    address % WORD
}

/// Copies four words, all read before any is written (so that it serves
/// overlapping copies in both directions), written as separate statements:
/// at opt-level "z", rustc would keep the iterator of a loop.
///
/// # Safety
/// `from` must be valid for reading four aligned words, `to` for writing
/// them.
unsafe fn copy_block(to: *mut u32, from: *const u32) {
    // SAFETY: the caller's guarantee.
    unsafe {
        let words = (
            read_volatile(from),
            read_volatile(from.add(1)),
            read_volatile(from.add(2)),
            read_volatile(from.add(3)),
        );
        write_volatile(to, words.0);
        write_volatile(to.add(1), words.1);
        write_volatile(to.add(2), words.2);
        write_volatile(to.add(3), words.3);
    }
}

/// Copies `n` bytes from `src` to `dest`, lowest address first (so that an
/// overlapping copy to a lower address is correct).
///
/// # Safety
/// `src` must be valid for `n` reads, `dest` for `n` writes.
pub(crate) unsafe fn copy_forward(dest: *mut u8, src: *const u8, n: usize) {
    let mut done = 0;
    if misalignment(dest as usize) == misalignment(src as usize) {
        // SAFETY: every access is below `n` bytes; after the first bytes,
        // both are aligned, as they were equally misaligned.
        unsafe {
            while done < n && misalignment(dest as usize + done) != 0 {
                write_volatile(dest.add(done), read_volatile(src.add(done)));
                done += 1;
            }
            return copy_aligned(dest.add(done), src.add(done), n - done);
        }
    }
    while done < n {
        // SAFETY: `done < n`.
        unsafe { write_volatile(dest.add(done), read_volatile(src.add(done))) };
        done += 1;
    }
}

/// [`copy_forward`] from and to word-aligned addresses.
///
/// # Safety
/// As [`copy_forward`], and both pointers word-aligned.
pub(crate) unsafe fn copy_aligned(dest: *mut u8, src: *const u8, n: usize) {
    let (mut to, mut from, mut left) = (dest, src, n);
    // SAFETY: every access is within the `n` bytes; the word and halfword
    // accesses are aligned, as every access before them moved whole words.
    // The last 15 bytes or fewer go by the bits of their count, without a
    // loop: the copies of short objects take few instructions.
    unsafe {
        while left >= BLOCK {
            copy_block(to.cast(), from.cast());
            (to, from, left) = (to.add(BLOCK), from.add(BLOCK), left - BLOCK);
        }
        if left & 8 != 0 {
            write_volatile(to.cast::<u32>(), read_volatile(from.cast::<u32>()));
            write_volatile(
                to.add(4).cast::<u32>(),
                read_volatile(from.add(4).cast::<u32>()),
            );
            (to, from) = (to.add(8), from.add(8));
        }
        if left & 4 != 0 {
            write_volatile(to.cast::<u32>(), read_volatile(from.cast::<u32>()));
            (to, from) = (to.add(4), from.add(4));
        }
        if left & 2 != 0 {
            write_volatile(to.cast::<u16>(), read_volatile(from.cast::<u16>()));
            (to, from) = (to.add(2), from.add(2));
        }
        if left & 1 != 0 {
            write_volatile(to, read_volatile(from));
        }
    }
}

/// Copies `n` bytes from `src` to `dest`, highest address first (so that
/// an overlapping copy to a higher address is correct).
///
/// # Safety
/// As [`copy_forward`].
pub(crate) unsafe fn copy_backward(dest: *mut u8, src: *const u8, n: usize) {
    // Bytes still to copy: those below `left`.
    let mut left = n;
    if misalignment(dest as usize) == misalignment(src as usize) {
        // SAFETY: every access is below `n` bytes; the word accesses end at
        // an aligned address, as both buffers are equally misaligned.
        unsafe {
            while left > 0 && misalignment(dest as usize + left) != 0 {
                left -= 1;
                write_volatile(dest.add(left), read_volatile(src.add(left)));
            }
            while left >= BLOCK {
                left -= BLOCK;
                copy_block(dest.add(left).cast(), src.add(left).cast());
            }
            while left >= WORD {
                left -= WORD;
                let word = read_volatile(src.add(left).cast::<u32>());
                write_volatile(dest.add(left).cast::<u32>(), word);
            }
        }
    }
    while left > 0 {
        left -= 1;
        // SAFETY: `left < n`.
        unsafe { write_volatile(dest.add(left), read_volatile(src.add(left))) };
    }
}

/// Copies `n` bytes from `src` to `dest`, which may overlap.
///
/// # Safety
/// As [`copy_forward`].
pub(crate) unsafe fn copy_overlapping(dest: *mut u8, src: *const u8, n: usize) {
    // Forward unless `dest` starts inside the source.
    if (dest as usize).wrapping_sub(src as usize) >= n {
        // SAFETY: the caller's guarantee.
        unsafe { copy_forward(dest, src, n) }
    } else {
        // SAFETY: the caller's guarantee.
        unsafe { copy_backward(dest, src, n) }
    }
}

/// `byte` in each byte of a word.
pub(crate) fn splat(byte: u8) -> u32 {
    u32::from(byte) * 0x0101_0101
}

/// Sets `n` bytes at `dest` to `byte`.
///
/// # Safety
/// `dest` must be valid for `n` writes.
pub(crate) unsafe fn fill(dest: *mut u8, byte: u8, n: usize) {
    let mut done = 0;
    // SAFETY: every access is below `n` bytes; after the first bytes,
    // `dest + done` is aligned.
    unsafe {
        while done < n && misalignment(dest as usize + done) != 0 {
            write_volatile(dest.add(done), byte);
            done += 1;
        }
        fill_aligned(dest.add(done), splat(byte), n - done);
    }
}

/// [`fill`] from a word-aligned address, with `word`: the byte in each
/// of its bytes ([`splat`]).
///
/// # Safety
/// As [`fill`], and `dest` word-aligned.
pub(crate) unsafe fn fill_aligned(dest: *mut u8, word: u32, n: usize) {
    let (mut to, mut left) = (dest, n);
    // SAFETY: as in `copy_aligned`.
    unsafe {
        while left >= BLOCK {
            let words = to.cast::<u32>();
            write_volatile(words, word);
            write_volatile(words.add(1), word);
            write_volatile(words.add(2), word);
            write_volatile(words.add(3), word);
            (to, left) = (to.add(BLOCK), left - BLOCK);
        }
        if left & 8 != 0 {
            write_volatile(to.cast::<u32>(), word);
            write_volatile(to.add(4).cast::<u32>(), word);
            to = to.add(8);
        }
        if left & 4 != 0 {
            write_volatile(to.cast::<u32>(), word);
            to = to.add(4);
        }
        if left & 2 != 0 {
            write_volatile(to.cast::<u16>(), word as u16);
            to = to.add(2);
        }
        if left & 1 != 0 {
            write_volatile(to, word as u8);
        }
    }
}
