//! The script stack's overflow guard, with physical memory protection
//! (PMP).
//!
//! Machine-mode code, which is all the code here, is checked only against
//! *locked* PMP entries. So the guard is entry 0, locked, with no access
//! rights, over the lowest [`GUARD`] bytes of the script stack: a script
//! that recurses without bound faults on its first access there, and the
//! trap handler (on a stack of its own) turns that into the run-time error
//! "stack overflow". A locked entry stays until reset, which is what a
//! guard should do; every other address keeps full access (no entry
//! matches it).

use core::arch::asm;

/// Size of the guard: a power of two of at least 8 bytes (a naturally
/// aligned PMP region), as on Cortex-M.
const GUARD: usize = 1024;

/// PMP configuration byte: locked, naturally aligned power-of-two region,
/// no read, write or execute permission.
const PMP_LOCKED_NAPOT_NO_ACCESS: usize = 0x80 | 0x18;

/// Locks PMP entry 0 over the lowest `GUARD` bytes of the stack (above
/// `bottom`, aligned) and returns the guard's top. On a core without PMP
/// (its address register reads back 0) there is no guard and the whole
/// region is usable.
pub(crate) fn install_stack_guard(bottom: usize, top: usize) -> usize {
    let guard = bottom.next_multiple_of(GUARD);
    assert!(
        guard + GUARD < top,
        "memory.x: the script stack is too small for its guard"
    );
    // NAPOT encoding: the base in units of 4 bytes, and below it a run of
    // ones one bit shorter than the size's exponent.
    let napot = (guard >> 2) | ((GUARD >> 3) - 1);
    let read_back: usize;
    // SAFETY: entry 0 is the runtime's; nothing runs on the guarded memory
    // yet, and every other address stays accessible (no other entry is
    // locked by the runtime).
    unsafe {
        asm!(
            "csrw pmpaddr0, {addr}",
            "csrr {back}, pmpaddr0",
            addr = in(reg) napot,
            back = out(reg) read_back,
            options(nostack, preserves_flags),
        );
        if read_back != napot {
            return bottom;
        }
        // Only entry 0's byte of pmpcfg0: the others keep their value.
        asm!(
            "csrc pmpcfg0, {mask}",
            "csrs pmpcfg0, {cfg}",
            mask = in(reg) 0xff,
            cfg = in(reg) PMP_LOCKED_NAPOT_NO_ACCESS,
            options(nostack, preserves_flags),
        );
    }
    guard + GUARD
}
