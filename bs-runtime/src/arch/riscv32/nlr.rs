//! Non-local exit from a failed script function (see `catch.rs`): the
//! register-saving half of `bs_catch` and the jump back to it, as
//! MicroPython's `nlrrv32.c`.
//!
//! Catcher frame, from the recorded stack pointer upwards: the previous
//! value of the chain (4 bytes), s0-s11 (48) and ra (4), padded to 64
//! bytes so that the stack keeps the 16-byte alignment of the RISC-V
//! calling convention. (The supported targets have no floating-point
//! registers to save.)

use core::arch::naked_asm;
use core::sync::atomic::AtomicUsize;

/// Saves the callee-saved registers, links a catcher frame into `chain`
/// and calls `f`; returns `false` when `f` returns.
///
/// # Safety
/// `f` must be a valid function; see `catch::bs_catch`.
#[unsafe(naked)]
pub(crate) unsafe extern "C" fn call_catching(
    f: unsafe extern "C" fn(),
    chain: &AtomicUsize,
) -> bool {
    naked_asm!(
        "addi sp, sp, -64",
        "sw ra, 60(sp)",
        "sw s0, 56(sp)",
        "sw s1, 52(sp)",
        "sw s2, 48(sp)",
        "sw s3, 44(sp)",
        "sw s4, 40(sp)",
        "sw s5, 36(sp)",
        "sw s6, 32(sp)",
        "sw s7, 28(sp)",
        "sw s8, 24(sp)",
        "sw s9, 20(sp)",
        "sw s10, 16(sp)",
        "sw s11, 12(sp)",
        // Link this frame in front of the previous catcher. a1 is lost in
        // the call: keep `chain` in callee-saved s0.
        "mv s0, a1",
        "lw t0, 0(s0)",
        "sw t0, 0(sp)",
        "sw sp, 0(s0)",
        "jalr a0",
        // Normal return: unlink, restore, return false.
        "lw t0, 0(sp)",
        "sw t0, 0(s0)",
        "li a0, 0",
        "j {restore}",
        restore = sym restore_and_return,
    )
}

/// Returns `true` from the `call_catching` whose frame `chain` points to.
///
/// # Safety
/// A catcher must be active, in the same execution context (not in a trap
/// handler).
#[unsafe(naked)]
pub(crate) unsafe extern "C" fn jump_to_catcher(chain: &AtomicUsize) -> ! {
    naked_asm!(
        "lw sp, 0(a0)",
        "lw t0, 0(sp)",
        "sw t0, 0(a0)",
        "li a0, 1",
        "j {restore}",
        restore = sym restore_and_return,
    )
}

/// The common tail of both: restores the registers that `call_catching`
/// saved at `sp` and returns from it with `a0`.
#[unsafe(naked)]
unsafe extern "C" fn restore_and_return() -> ! {
    naked_asm!(
        "lw ra, 60(sp)",
        "lw s0, 56(sp)",
        "lw s1, 52(sp)",
        "lw s2, 48(sp)",
        "lw s3, 44(sp)",
        "lw s4, 40(sp)",
        "lw s5, 36(sp)",
        "lw s6, 32(sp)",
        "lw s7, 28(sp)",
        "lw s8, 24(sp)",
        "lw s9, 20(sp)",
        "lw s10, 16(sp)",
        "lw s11, 12(sp)",
        "addi sp, sp, 64",
        "ret",
    )
}
