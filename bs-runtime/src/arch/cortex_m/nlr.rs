//! Non-local exit from a failed script function (see `catch.rs`): the
//! register-saving half of `bs_catch` and the jump back to it.
//!
//! Catcher frame, from the recorded stack pointer upwards: the previous
//! value of the chain (4 bytes), the floating-point callee-saved registers
//! (s16-s31, or 64 bytes of padding on Armv7-M/v8-M without an FPU ABI,
//! nothing on Armv6-M), r4-r11 and lr. 104 bytes on Armv7-M/v8-M, 40 on
//! Armv6-M: the stack stays 8-byte aligned for the call.

use core::arch::naked_asm;
use core::sync::atomic::AtomicUsize;

// r4-r11 and lr. Thumb-1 (Armv6-M) pushes and pops only r0-r7 and lr/pc,
// so r8-r11 go through low registers there.
#[cfg(not(armv6m))]
macro_rules! save_core {
    () => {
        "push {{r4-r11, lr}}"
    };
}
#[cfg(not(armv6m))]
macro_rules! restore_core {
    () => {
        "pop {{r4-r11, pc}}"
    };
}
#[cfg(armv6m)]
macro_rules! save_core {
    () => {
        "push {{r4-r7, lr}}
         mov r4, r8
         mov r5, r9
         mov r6, r10
         mov r7, r11
         push {{r4-r7}}"
    };
}
#[cfg(armv6m)]
macro_rules! restore_core {
    () => {
        "pop {{r4-r7}}
         mov r8, r4
         mov r9, r5
         mov r10, r6
         mov r11, r7
         pop {{r4-r7, pc}}"
    };
}

// With a hard-float ABI, s16-s31 are callee-saved too. Naked functions are
// assembled without the crate's target features, so the FPU is named
// explicitly (the smallest FPU of a Cortex-M4F/M7/M33 that has s16-s31).
#[cfg(target_abi = "eabihf")]
macro_rules! fpu {
    () => {
        ".fpu fpv4-sp-d16"
    };
}
#[cfg(target_abi = "eabihf")]
macro_rules! save_fp {
    () => {
        "vpush {{s16-s31}}"
    };
}
#[cfg(target_abi = "eabihf")]
macro_rules! restore_fp {
    () => {
        "vpop {{s16-s31}}"
    };
}
// Without it, keep the frame the same size (64 bytes) so that the layout
// is the same on every Armv7-M/v8-M target.
#[cfg(not(any(target_abi = "eabihf", armv6m)))]
macro_rules! fpu {
    () => {
        ""
    };
}
#[cfg(not(any(target_abi = "eabihf", armv6m)))]
macro_rules! save_fp {
    () => {
        "sub sp, sp, #64"
    };
}
#[cfg(not(any(target_abi = "eabihf", armv6m)))]
macro_rules! restore_fp {
    () => {
        "add sp, sp, #64"
    };
}
#[cfg(armv6m)]
macro_rules! fpu {
    () => {
        ""
    };
}
#[cfg(armv6m)]
macro_rules! save_fp {
    () => {
        ""
    };
}
#[cfg(armv6m)]
macro_rules! restore_fp {
    () => {
        ""
    };
}

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
        fpu!(),
        save_core!(),
        save_fp!(),
        // Link this frame in front of the previous catcher. r1 is lost in
        // the call: keep `chain` in r4, saved above.
        "mov r4, r1",
        "ldr r2, [r4]",
        "push {{r2}}",
        "mov r2, sp",
        "str r2, [r4]",
        "blx r0",
        // Normal return: unlink, restore, return false.
        "pop {{r2}}",
        "str r2, [r4]",
        "movs r0, #0",
        restore_fp!(),
        restore_core!(),
    )
}

/// Returns `true` from the `call_catching` whose frame `chain` points to.
///
/// # Safety
/// A catcher must be active, in the same execution context (thread mode).
#[unsafe(naked)]
pub(crate) unsafe extern "C" fn jump_to_catcher(chain: &AtomicUsize) -> ! {
    naked_asm!(
        fpu!(),
        "ldr r1, [r0]",
        "mov sp, r1",
        "pop {{r2}}",
        "str r2, [r0]",
        "movs r0, #1",
        restore_fp!(),
        restore_core!(),
    )
}
