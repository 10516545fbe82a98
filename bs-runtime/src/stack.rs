//! The script stack, and turning its overflow into a run-time error.
//!
//! Script code (the whole event loop, in thread mode) runs on a stack of
//! its own, in a region that `memory.x` places at the very bottom of RAM,
//! below every static:
//!
//! ```text
//! __bs_script_stack_bottom = ORIGIN(SCRIPT_STACK)          (start of SRAM)
//! __bs_script_stack_top    = ORIGIN(SCRIPT_STACK) + LENGTH(SCRIPT_STACK)
//! ```
//!
//! The architecture guards its bottom (`arch::install_stack_guard`: memory
//! protection, a stack limit register, or memory below RAM that faults), so
//! that a script recursing without bound faults instead of silently
//! overwriting globals, the function table or the RTT control block.
//!
//! Exception handlers keep the stack that `main` started on, so the fault
//! handler has a valid stack even though the script stack is exhausted.
//! When it finds the script stack pointer in or near the guard, it resumes
//! thread mode at the innermost catcher with enough room below it
//! ([`overflow_catcher`]), in a function that reports
//! `run-time error: stack overflow` and abandons the script code there,
//! like `bs_error`.
//!
//! A `memory.x` that does not define the two symbols (firmware made from an
//! older template) keeps the old layout: everything runs on the main stack,
//! and an overflow is a hard fault at best.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::{arch, catch, fault};

/// Room the overflow report needs below the catcher it unwinds to (the
/// report formats and prints one line, then unwinds). Catchers closer to
/// the guard are skipped.
const REPORT_HEADROOM: usize = 2048;

/// Room the fault handler may use below a catcher to resume at it (an
/// exception frame).
const RESUME_FRAME: usize = 64;

/// Smallest script stack `run` accepts (guard excluded): the report's room
/// and 1 KiB for the event loop and a few script frames above it.
const MIN_SCRIPT_STACK: usize = REPORT_HEADROOM + 1024;

/// A fault taken while the script stack pointer is less than this far
/// above the guard is a stack overflow: a push or a new frame crossed into
/// the guard (the exception frame, smaller, may still have fitted above).
const OVERFLOW_SLACK: usize = 256;

/// Top of the guard once thread mode runs on the script stack (set once by
/// [`run_on_script_stack`]); 0 before.
static GUARD_TOP: AtomicUsize = AtomicUsize::new(0);

// The bounds of the script stack as two words of read-only data, with weak
// references: an undefined symbol reads as 0 instead of failing the link,
// so that a `memory.x` without a script stack still links. (Rust has no
// stable weak extern statics; this assembly reads the same on every
// architecture supported.) On ESP chips the runtime defines the two
// symbols itself (`arch/riscv32/esp/stack.rs`), and the references are
// strong: a weak one would not pull that definition out of the library.
macro_rules! script_stack_bounds {
    ($($weak:literal,)*) => {
        core::arch::global_asm!(
            ".pushsection .rodata.__bs_script_stack_bounds, \"a\"",
            ".p2align 2",
            $($weak,)*
            ".globl __bs_script_stack_bounds",
            ".hidden __bs_script_stack_bounds",
            "__bs_script_stack_bounds:",
            ".word __bs_script_stack_bottom",
            ".word __bs_script_stack_top",
            ".popsection",
        );
    };
}

#[cfg(not(feature = "esp"))]
script_stack_bounds!(
    ".weak __bs_script_stack_bottom",
    ".weak __bs_script_stack_top",
);
#[cfg(feature = "esp")]
script_stack_bounds!();

unsafe extern "C" {
    static __bs_script_stack_bounds: [usize; 2];
}

/// `[bottom, top)` of the script stack as `memory.x` defines it, or `None`
/// if it does not.
fn region() -> Option<(usize, usize)> {
    // SAFETY: two words of read-only data, defined above.
    match unsafe { __bs_script_stack_bounds } {
        [0, 0] => None,
        [bottom, top] => Some((bottom, top)),
    }
}

/// The top of the script stack once script code runs on it.
#[cfg_attr(not(feature = "serial-agent"), allow(dead_code))]
pub(crate) fn top() -> Option<usize> {
    region().filter(|_| guard_top() != 0).map(|(_, top)| top)
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
    let guard_top = arch::install_stack_guard(bottom, top);
    assert!(
        guard_top + REPORT_HEADROOM + RESUME_FRAME <= top,
        "memory.x: the script stack is too small for its guard"
    );
    GUARD_TOP.store(guard_top, Ordering::Relaxed);
    // SAFETY: thread mode on the main stack (`run` is called from `main`);
    // the region is RAM that nothing else uses.
    unsafe { arch::run_on_stack(arg, top, f) }
}

/// Called by the fault handler for a fault taken in thread mode with the
/// script stack pointer `sp`. If the fault is the script stack running
/// out, picks the catcher to resume at (see [`Overflow`]).
///
/// Any fault with the stack pointer in or near the guard (or below it,
/// after a large frame stepped over it) counts as a stack overflow: the
/// faulting access, the exception frame (if it could be stacked at all) or
/// both are in the guard, and whatever the cause, that code cannot go on.
pub(crate) fn overflow_catcher(sp: usize) -> Overflow {
    let guard_top = GUARD_TOP.load(Ordering::Relaxed);
    if guard_top == 0 || sp >= guard_top + OVERFLOW_SLACK || fault::going_down() {
        return Overflow::No;
    }
    match catch::catcher_for_overflow(guard_top + REPORT_HEADROOM + RESUME_FRAME) {
        Some(catcher_sp) => Overflow::Resume(catcher_sp),
        None => Overflow::Unrecoverable,
    }
}

/// What [`overflow_catcher`] found.
pub(crate) enum Overflow {
    /// Not a stack overflow.
    No,
    /// A stack overflow with no catcher to recover at.
    Unrecoverable,
    /// A stack overflow: resume thread mode in `catch::stack_overflow` with
    /// the stack pointer right below this catcher frame (up to
    /// `RESUME_FRAME` bytes below it belong to the fault handler).
    Resume(usize),
}
