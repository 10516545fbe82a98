//! The script stack's overflow guard on ESP chips: a debug trigger
//! (RISC-V `mcontrol`, as esp-hal's own stack guard uses) that raises a
//! breakpoint exception on any load or store in the lowest [`GUARD`] bytes
//! of the script stack. (PMP is no use here: the ESP-IDF bootloader locks
//! every entry on the C3.) The exception comes to the runtime's trap
//! handler, which turns it into the run-time error "stack overflow" as it
//! does a PMP fault on QEMU.
//!
//! Triggers fire in machine mode while `tcontrol.MTE` is set; the core
//! clears it on entering a trap and restores it with `mret`, so the guard
//! does not watch trap and interrupt handlers. A debugger may own the
//! trigger (its `dmode` bit set): then the write does not stick, and the
//! script stack runs without a guard.

use core::arch::asm;

/// Size of the guard: a power of two (a NAPOT trigger).
pub(crate) const GUARD: usize = 1024;

/// The trigger the guard uses: esp-hal uses 0 (its stack guard) and 1 (its
/// trap table's); the chips have four.
const TRIGGER: usize = 3;

/// `tdata1` as `mcontrol`: machine mode (`m`), NAPOT address match, on
/// load and store, action 0 (a breakpoint exception).
const MCONTROL_M_NAPOT_LOAD_STORE: usize = (1 << 6) | (1 << 7) | 0b011;

/// `tcontrol.MTE`: triggers fire in machine mode.
const TCONTROL_MTE: usize = 1 << 3;

/// Arms the trigger over the lowest `GUARD` bytes of the stack (above
/// `bottom`, aligned) and returns the guard's top; returns `bottom` when
/// the trigger cannot be set (no guard).
pub(crate) fn install_stack_guard(bottom: usize, top: usize) -> usize {
    let guard = bottom.next_multiple_of(GUARD);
    assert!(
        guard + GUARD < top,
        "the script stack is too small for its guard"
    );
    // NAPOT: the base, and below it a run of ones one bit shorter than the
    // size's exponent.
    let napot = guard | (GUARD / 2 - 1);
    let read_back: usize;
    // SAFETY: the trigger is the runtime's; it only watches the guard,
    // which nothing uses until script code overflows into it.
    unsafe {
        asm!(
            "csrw 0x7a0, {index}", // tselect
            "csrw 0x7a1, zero",    // tdata1: off while tdata2 changes
            "csrw 0x7a2, {napot}", // tdata2
            "csrr {back}, 0x7a2",
            index = in(reg) TRIGGER,
            napot = in(reg) napot,
            back = out(reg) read_back,
            options(nostack, preserves_flags),
        );
        if read_back != napot {
            return bottom;
        }
        asm!(
            "csrw 0x7a1, {mcontrol}", // tdata1
            "csrs 0x7a5, {mte}",      // tcontrol
            mcontrol = in(reg) MCONTROL_M_NAPOT_LOAD_STORE,
            mte = in(reg) TCONTROL_MTE,
            options(nostack, preserves_flags),
        );
    }
    guard + GUARD
}
