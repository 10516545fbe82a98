//! The script stack, and turning its overflow into a run-time error.
//!
//! Script code (the whole event loop, in thread mode) runs on the process
//! stack (PSP), in a region that `memory.x` places at the very bottom of
//! RAM, below every static:
//!
//! ```text
//! __bs_script_stack_bottom = ORIGIN(SCRIPT_STACK)          (start of SRAM)
//! __bs_script_stack_top    = ORIGIN(SCRIPT_STACK) + LENGTH(SCRIPT_STACK)
//! ```
//!
//! The lowest [`GUARD`] bytes of the region are made inaccessible with the
//! MPU (its last region; the default memory map stays in force everywhere
//! else). A script that recurses without bound runs into the guard, so the
//! offending access faults instead of silently overwriting globals, the
//! function table or the RTT control block. (On a real chip the addresses
//! below SRAM usually fault as well; in QEMU's mps2-an386 they silently
//! ignore writes, so the guard is what stops the stack there. A frame larger
//! than the guard can step over it, into those addresses, never into the
//! statics above the stack.)
//!
//! Exception handlers keep the main stack (MSP, cortex-m-rt's
//! `_stack_start`, by default at the top of RAM), so the `HardFault` handler
//! has a valid stack even though the process stack is exhausted (and the
//! exception frame may not have been stacked on it). When it finds the
//! process stack pointer in or near the guard, it resumes thread mode at the
//! innermost catcher with enough room below it, in a function that reports
//! `run-time error: stack overflow` and abandons the script code there,
//! like `bs_error`.
//!
//! A `memory.x` that does not define the two symbols (firmware made from an
//! older template) keeps the old layout: everything runs on the main stack,
//! and an overflow is a hard fault at best.

use core::arch::{asm, naked_asm};
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::catch;

/// Size of the guard at the bottom of the script stack: a power of two (an
/// MPU region), and QEMU's page size, so that the guard does not slow down
/// accesses to the rest of RAM.
const GUARD: usize = 1024;

/// Room the overflow report needs below the catcher it unwinds to (the
/// report formats and prints one line, then unwinds). Catchers closer to
/// the guard are skipped.
const REPORT_HEADROOM: usize = 2048;

/// Smallest script stack `run` accepts (guard included).
const MIN_SCRIPT_STACK: usize = 4 * REPORT_HEADROOM;

/// A fault taken while the process stack pointer is less than this far
/// above the guard is a stack overflow: a push or a new frame crossed into
/// the guard (the exception frame, smaller, may still have fitted above).
const OVERFLOW_SLACK: usize = 256;

/// Size of a basic exception frame (r0-r3, r12, lr, pc, xPSR).
const BASIC_FRAME: usize = 32;

/// Top of the guard once thread mode runs on the script stack (set once by
/// [`run_on_script_stack`]); 0 before.
static GUARD_TOP: AtomicUsize = AtomicUsize::new(0);

/// `[bottom, top)` of the script stack as `memory.x` defines it, or `None`
/// if it does not.
pub(crate) fn region() -> Option<(usize, usize)> {
    let (bottom, top): (usize, usize);
    // Weak references: an undefined symbol reads as 0 instead of failing the
    // link, so that a `memory.x` without a script stack still links.
    // SAFETY: only loads two link-time constants into registers.
    unsafe {
        asm!(
            ".weak __bs_script_stack_bottom",
            ".weak __bs_script_stack_top",
            "movw {bottom}, :lower16:__bs_script_stack_bottom",
            "movt {bottom}, :upper16:__bs_script_stack_bottom",
            "movw {top}, :lower16:__bs_script_stack_top",
            "movt {top}, :upper16:__bs_script_stack_top",
            bottom = out(reg) bottom,
            top = out(reg) top,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    match (bottom, top) {
        (0, 0) => None,
        _ => Some((bottom, top)),
    }
}

/// The lowest address script code may use, above the guard; 0 until script
/// code runs on its own stack (or when there is none).
pub(crate) fn guard_top() -> usize {
    GUARD_TOP.load(Ordering::Relaxed)
}

/// Calls `f(arg)` in thread mode on the script stack, or on the current
/// stack if `memory.x` defines none. Never returns.
pub(crate) fn run_on_script_stack(arg: usize, f: unsafe extern "C" fn(usize) -> !) -> ! {
    let Some((bottom, top)) = region() else {
        // SAFETY: `f` is the caller's.
        unsafe { f(arg) }
    };
    assert!(
        bottom < top && top - bottom >= MIN_SCRIPT_STACK && bottom % 8 == 0 && top % 8 == 0,
        "memory.x: the script stack [__bs_script_stack_bottom, __bs_script_stack_top) must be \
         8-byte aligned and at least {MIN_SCRIPT_STACK} bytes"
    );
    // The guard must be aligned to its size; whatever lies below it in the
    // region is simply not used.
    let guard = bottom.next_multiple_of(GUARD);
    assert!(
        guard + GUARD + REPORT_HEADROOM <= top,
        "memory.x: the script stack is too small for its guard"
    );
    install_guard(guard);
    GUARD_TOP.store(guard + GUARD, Ordering::Relaxed);
    // SAFETY: thread mode on the main stack (`run` is called from `main`);
    // the region is RAM that nothing else uses.
    unsafe { switch_to_psp(arg, top, f) }
}

/// Makes `[base, base + GUARD)` inaccessible with the last MPU region, and
/// enables the MPU with the default memory map as background for every
/// other address (privileged code only runs here: thread mode is
/// privileged). Without an MPU, the stack is only bounded by what lies
/// below it.
fn install_guard(base: usize) {
    const MPU_TYPE: *const u32 = 0xE000_ED90 as *const u32;
    const MPU_CTRL: *mut u32 = 0xE000_ED94 as *mut u32;
    const MPU_RNR: *mut u32 = 0xE000_ED98 as *mut u32;
    const MPU_RBAR: *mut u32 = 0xE000_ED9C as *mut u32;
    const MPU_RASR: *mut u32 = 0xE000_EDA0 as *mut u32;
    const CTRL_ENABLE: u32 = 1 << 0;
    const CTRL_PRIVDEFENA: u32 = 1 << 2;
    const RASR_XN: u32 = 1 << 28; // AP = 0b000: no access
    const RASR_SIZE: u32 = (GUARD.trailing_zeros() - 1) << 1;
    const RASR_ENABLE: u32 = 1 << 0;

    // SAFETY: architectural MPU registers; the guard covers stack memory
    // that nothing uses yet, and nothing else is restricted.
    unsafe {
        let regions = (MPU_TYPE.read_volatile() >> 8) & 0xff;
        if regions == 0 {
            return;
        }
        cortex_m::asm::dsb();
        MPU_RNR.write_volatile(regions - 1);
        MPU_RBAR.write_volatile(base as u32);
        MPU_RASR.write_volatile(RASR_XN | RASR_SIZE | RASR_ENABLE);
        MPU_CTRL.write_volatile(MPU_CTRL.read_volatile() | CTRL_ENABLE | CTRL_PRIVDEFENA);
        cortex_m::asm::dsb();
        cortex_m::asm::isb();
    }
}

/// Sets PSP to `top`, makes thread mode use it and jumps to `f(arg)`. The
/// main stack keeps the caller's frames (they are never returned to) and
/// serves the exception handlers from there on.
#[unsafe(naked)]
unsafe extern "C" fn switch_to_psp(
    arg: usize,
    top: usize,
    f: unsafe extern "C" fn(usize) -> !,
) -> ! {
    naked_asm!(
        "msr psp, r1",
        "mrs r1, control",
        "orr r1, r1, #2", // SPSEL: thread mode uses PSP
        "msr control, r1",
        "isb",
        "bx r2",
    )
}

/// Called by the `HardFault` handler for a fault taken from thread mode on
/// the process stack, with the process stack pointer `psp` it found. If the
/// fault is the script stack running out, returns the process stack pointer
/// to resume thread mode with: a basic exception frame that "returns" to
/// [`catch::stack_overflow`] with the stack pointer at the catcher it
/// unwinds to.
///
/// Any fault with the stack pointer in or near the guard (or below it,
/// after a large frame stepped over it) counts as a stack overflow: the
/// faulting access, the exception frame (if it could be stacked at all) or
/// both are in the guard, and whatever the cause, that code cannot go on.
pub(crate) fn overflow_resume(psp: usize) -> Overflow {
    let guard_top = GUARD_TOP.load(Ordering::Relaxed);
    if guard_top == 0 || psp >= guard_top + OVERFLOW_SLACK {
        return Overflow::No;
    }
    let Some(catcher_sp) = catch::catcher_for_overflow(guard_top + REPORT_HEADROOM + BASIC_FRAME)
    else {
        return Overflow::Unrecoverable;
    };
    let frame = (catcher_sp - BASIC_FRAME) as *mut u32;
    let pc = catch::stack_overflow as *const () as usize as u32 & !1;
    let words: [u32; 8] = [
        0,       // r0
        0,       // r1
        0,       // r2
        0,       // r3
        0,       // r12
        0,       // lr: `stack_overflow` never returns
        pc,      // pc, without the Thumb bit
        1 << 24, // xPSR: Thumb state, no alignment padding
    ];
    for (i, word) in words.into_iter().enumerate() {
        // SAFETY: the 32 bytes below a catcher frame lie inside the script
        // stack (at least REPORT_HEADROOM above the guard) and belong to the
        // code being abandoned.
        unsafe { frame.add(i).write_volatile(word) };
    }
    Overflow::Resume(frame as usize)
}

/// What [`overflow_resume`] found.
pub(crate) enum Overflow {
    /// Not a stack overflow.
    No,
    /// A stack overflow with no catcher to recover at.
    Unrecoverable,
    /// Resume thread mode with this process stack pointer.
    Resume(usize),
}
