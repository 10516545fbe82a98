//! Recovery from run-time errors without unwinding support.
//!
//! Firmware is built with `panic = "abort"`, so a run-time error cannot
//! unwind. Instead `bs_catch` works like `setjmp` fused with the call it
//! protects: it saves the callee-saved registers on the stack, records the
//! stack pointer and calls the protected function. `bs_error` reports the
//! error, resets the stack pointer to the recorded one and returns `true`
//! from that `bs_catch`, discarding the frames of the abandoned script code.
//! Script frames own no resources (no destructors, no locks), so nothing is
//! lost by skipping them.
//!
//! Each catcher frame stores the previous catcher's stack pointer, so
//! catchers nest. The discarded frames may have linked root frames of the
//! shadow stack, and the runtime may have held values: the catcher puts
//! both back as they were when it was set up.

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::{abi, arch, fault, gc, print};

/// Stack pointer of the innermost active catcher frame; 0 when none. The
/// word there is the previous catcher's (see `arch::call_catching`).
static CATCH_SP: AtomicUsize = AtomicUsize::new(0);

/// Set while a stack overflow is being reported (see [`stack_overflow`]).
static OVERFLOW_REPORTING: AtomicBool = AtomicBool::new(false);

/// Set when [`abandon`] unwound the running code, until
/// [`take_abandoned`].
static ABANDONED: AtomicBool = AtomicBool::new(false);

/// Calls `f`; returns `false` when it returns normally and `true` when it was
/// abandoned by `bs_error`. Output lines that `f` left open are discarded.
///
/// # Safety
/// `f` must be a valid function, and every frame between this call and a
/// `bs_error` must be safe to discard without running any code (true of
/// generated script code).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bs_catch(f: unsafe extern "C" fn()) -> bool {
    let depth = print::depth();
    let roots = gc::root_mark();
    // SAFETY: by the caller's contract.
    let failed = unsafe { arch::call_catching(f, &CATCH_SP) };
    if failed {
        print::truncate(depth);
        gc::restore_roots(roots);
    }
    failed
}

/// Runs script code `f` under a catcher; returns `false` if it reported a
/// run-time error.
pub(crate) fn run_caught(f: unsafe extern "C" fn()) -> bool {
    // SAFETY: `f` is script code (top level or a slot), whose frames may be
    // discarded.
    !unsafe { bs_catch(f) }
}

/// Reports a run-time error and abandons the running top-level code or
/// callback; the event loop goes on.
///
/// Prints `run-time error: <msg> (at <loc>)` on the stderr channel and
/// increments `__bs_error_count`.
///
/// # Safety
/// `msg` and `loc` must point to `msg_len` and `loc_len` readable bytes
/// (UTF-8). The frames up to the active catcher are discarded, so callers
/// must own no resources (true of generated code).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bs_error(
    msg: *const u8,
    msg_len: usize,
    loc: *const u8,
    loc_len: usize,
) -> ! {
    // SAFETY: by the caller's contract.
    let (msg, loc) = unsafe { (text(msg, msg_len), text(loc, loc_len)) };
    report(msg, loc)
}

/// A run-time error detected by the runtime itself (no script location).
pub(crate) fn runtime_error(msg: &str) -> ! {
    report(msg, "")
}

/// A run-time error that the runtime detected on behalf of script code at
/// `loc` (empty: no location).
pub(crate) fn runtime_error_at(msg: &str, loc: &str) -> ! {
    report(msg, loc)
}

unsafe fn text<'a>(ptr: *const u8, len: usize) -> &'a str {
    if ptr.is_null() || len == 0 {
        return "";
    }
    // SAFETY: by the caller's contract.
    let bytes = unsafe { core::slice::from_raw_parts(ptr, len) };
    core::str::from_utf8(bytes).unwrap_or("<invalid UTF-8>")
}

fn report(msg: &str, loc: &str) -> ! {
    print_error(msg, loc);
    unwind()
}

/// Prints the error line and counts the error.
fn print_error(msg: &str, loc: &str) {
    if loc.is_empty() {
        print::emit_line(true, format_args!("run-time error: {msg}"));
    } else {
        print::emit_line(true, format_args!("run-time error: {msg} (at {loc})"));
    }
    abi::count_error();
}

/// Abandons the code running under the innermost catcher.
fn unwind() -> ! {
    // Script code only runs in thread mode; unwinding from a handler to a
    // thread-mode frame would corrupt the exception stack.
    if arch::in_interrupt() || CATCH_SP.load(Ordering::Relaxed) == 0 {
        fault::halt("run-time error outside of script code");
    }
    // SAFETY: a catcher is active in thread mode.
    unsafe { arch::jump_to_catcher(&CATCH_SP) }
}

/// Picks the catcher that a stack overflow unwinds to: the innermost one
/// whose frame lies at or above `min_sp`, so that the report has room below
/// it. Inner catchers are unlinked (the overflow propagates out of them).
/// If the previous overflow report itself overflowed, its catcher is
/// skipped too, so that recovery always makes progress. `None` if no
/// catcher qualifies.
///
/// Called from the fault handler (thread-mode code is suspended and never
/// resumes where it was).
pub(crate) fn catcher_for_overflow(min_sp: usize) -> Option<usize> {
    let mut sp = CATCH_SP.load(Ordering::Relaxed);
    // Load and store: the fault handler is the only writer while thread
    // mode is suspended (Armv6-M has no atomic swap).
    let previous_report_overflowed = OVERFLOW_REPORTING.load(Ordering::Relaxed);
    OVERFLOW_REPORTING.store(true, Ordering::Relaxed);
    let mut skip = previous_report_overflowed;
    while sp != 0 && (skip || sp < min_sp) {
        skip = false;
        // SAFETY: `sp` is an active catcher frame, whose first word is the
        // previous catcher's stack pointer (see `arch::call_catching`).
        sp = unsafe { (sp as *const usize).read_volatile() };
    }
    if sp == 0 {
        return None;
    }
    CATCH_SP.store(sp, Ordering::Relaxed);
    Some(sp)
}

/// Where the fault handler resumes thread mode after a stack overflow,
/// with the stack pointer right below the catcher chosen by
/// [`catcher_for_overflow`]: reports the error and unwinds to that catcher.
pub(crate) unsafe extern "C" fn stack_overflow() -> ! {
    // The abandoned code may have been inside a critical section; script
    // code always runs with interrupts enabled.
    // SAFETY: the event loop and script code do not rely on masked
    // interrupts.
    unsafe { arch::unmask_interrupts() };
    print_error("stack overflow", "");
    OVERFLOW_REPORTING.store(false, Ordering::Relaxed);
    unwind()
}

/// Where the tick resumes a cell that the host asked to abandon, with the
/// interrupted code's stack pointer (the architecture's tick handler does
/// it only at an instruction of the patch region, i.e. of script code the
/// host wrote, which may be abandoned anywhere, as a fault there is):
/// unwinds to the cell's catcher like a run-time error, but prints
/// nothing and counts no error.
pub(crate) unsafe extern "C" fn abandon() -> ! {
    ABANDONED.store(true, Ordering::Relaxed);
    unwind()
}

/// Whether [`abandon`] unwound the code since the last call.
pub(crate) fn take_abandoned() -> bool {
    // Load and store (Armv6-M has no atomic swap): thread mode only.
    let abandoned = ABANDONED.load(Ordering::Relaxed);
    ABANDONED.store(false, Ordering::Relaxed);
    abandoned
}
