//! What is really machine-specific in the runtime, one folder per
//! architecture (as MicroPython's `nlrthumb.c` / `nlrrv32.c` and
//! `gchelper_*.s`); everything else in the crate is portable.
//!
//! Each architecture module provides the items re-exported below, with the
//! same names and signatures. What each must do, on any architecture:
//!
//! **Non-local exit** (`catch.rs` keeps the bookkeeping):
//! - `unsafe extern "C" fn call_catching(f: unsafe extern "C" fn(), chain:
//!   &AtomicUsize) -> bool`: saves every callee-saved register (integer and
//!   floating point) on the stack, pushes the value of `chain` on top of
//!   them, stores the resulting stack pointer in `chain`, calls `f`; when
//!   `f` returns, puts the pushed value back into `chain`, restores the
//!   registers and returns `false`. The word at the stack pointer stored in
//!   `chain` must be the previous value of `chain` (the portable code walks
//!   the chain), and the stack must keep the ABI's call alignment.
//! - `unsafe extern "C" fn jump_to_catcher(chain: &AtomicUsize) -> !`:
//!   makes the frame whose stack pointer `chain` holds return `true` from
//!   its `call_catching`, with the callee-saved registers it saved, after
//!   putting that frame's saved previous value back into `chain`.
//!
//! **What the collector and the error paths ask of the machine:**
//! - `fn in_interrupt() -> bool`: whether an interrupt or exception handler
//!   is running (script code and the heap run in thread/normal mode only).
//! - `fn stack_pointer() -> usize`: the current stack pointer.
//! - Register spill: none. Every root is precise (the shadow stack, see
//!   `gc.rs`), and the machine stack is never scanned, so no architecture
//!   needs to spill registers for the collector.
//!
//! **Script stack and its overflow guard** (`stack.rs` keeps the layout and
//! the choice of catcher):
//! - `fn install_stack_guard(bottom: usize, top: usize) -> usize`: makes a
//!   stack pointer or an access that goes below the script stack fault, by
//!   whatever the machine has (memory protection, a stack limit register,
//!   or memory below that faults by itself), and returns the lowest address
//!   script code may use (the guard's top). A fault that it causes must
//!   reach the fault handler below, which must have a stack of its own.
//! - `unsafe fn run_on_stack(arg: usize, top: usize, f: unsafe extern "C"
//!   fn(usize) -> !) -> !`: continues in thread mode on a stack whose top is
//!   `top` (the current stack is left to the fault and interrupt handlers)
//!   and calls `f(arg)`.
//! - The fault handler: on a fault of thread-mode code, with that code's
//!   stack pointer `sp`, it calls [`crate::stack::overflow_catcher`]`(sp)`
//!   (which tells whether that is a script stack overflow); for
//!   `Resume(catcher_sp)` it
//!   resumes thread mode in [`crate::catch::stack_overflow`] with the stack
//!   pointer at or below `catcher_sp`, with interrupts enabled; for
//!   `Unrecoverable` it calls [`crate::fault::halt`]. Any other fault prints
//!   one line with [`crate::fault::fatal`] (what and where) and never
//!   returns, except that a fault of code in the patch region (script code
//!   the host wrote) may resume in a function that reports it as a
//!   run-time error ([`crate::catch`]), as RISC-V's does. The fault handler
//!   must not touch the interrupted stack.
//!
//! **Tick timer** (`time.rs` counts the milliseconds, `cost.rs` reads it):
//! - `fn tick_start(cycles_per_ms: u32)`: starts a periodic interrupt every
//!   `cycles_per_ms` cycles of the timer's clock, whose handler calls
//!   [`crate::time::on_tick`]; panics if the timer cannot count that many.
//!   When the handler interrupted thread mode at a `pc` (its data address)
//!   for which [`crate::event_loop::abandons_cell_at`] holds, it makes the
//!   interrupted code resume in [`crate::catch::abandon`] with its own stack
//!   pointer and interrupts enabled (the host abandons a cell).
//! - `fn tick_stop()`: stops the interrupt and the counter (a parked core
//!   must really sleep).
//! - `fn tick_sample() -> TickSample`: a consistent look at the tick count
//!   and the counter (see [`TickSample`]), taken with interrupts masked.
//!
//! **Cost counter** (`cost.rs`):
//! - `fn instructions_retired() -> Option<u64>`: the instructions the core
//!   has retired, where it counts them (RISC-V's `minstret`); `None` where
//!   costs are read from the tick timer instead (Cortex-M under QEMU's
//!   `-icount`).
//!
//! **Code written by the host:**
//! - `fn sync_instruction_fetch()`: makes instruction fetch see code that
//!   the host wrote into RAM. The event loop calls it before the first
//!   callback after the patch epoch changed (a patch applied while a
//!   callback runs is reached through its slot before that: a debugger
//!   synchronizes when it resumes the core, as OpenOCD does on RISC-V).
//!
//! **Interrupts and idle:**
//! - `fn wait_for_interrupt()`: sleeps until an interrupt (the tick at the
//!   latest, while it runs) has been handled.
//! - `unsafe fn unmask_interrupts()`: enables every interrupt (after an
//!   abandoned critical section).
//!
//! Architectures are chosen by `target_arch`; device dependencies per
//! target are in `Cargo.toml`.

#[cfg(target_arch = "arm")]
mod cortex_m;
#[cfg(target_arch = "arm")]
pub(crate) use cortex_m::{
    call_catching, in_interrupt, install_stack_guard, instructions_retired, jump_to_catcher,
    run_on_stack, stack_pointer, sync_instruction_fetch, tick_sample, tick_start, tick_stop,
    unmask_interrupts, wait_for_interrupt,
};

#[cfg(target_arch = "riscv32")]
mod riscv32;
#[cfg(target_arch = "riscv32")]
pub(crate) use riscv32::{
    call_catching, in_interrupt, install_stack_guard, instructions_retired, jump_to_catcher,
    run_on_stack, stack_pointer, sync_instruction_fetch, tick_sample, tick_start, tick_stop,
    unmask_interrupts, wait_for_interrupt,
};

/// One look at the tick timer (see `tick_sample`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TickSample {
    /// Whole milliseconds elapsed, including a period that has ended but
    /// whose interrupt has not been handled yet.
    pub(crate) whole_ms: u32,
    /// Tick interrupts handled so far ([`crate::time::ticks`]).
    pub(crate) interrupts: u32,
    /// Timer cycles into the current millisecond, `0..cycles_per_ms`.
    pub(crate) into_ms: u32,
    /// Timer cycles per millisecond; 0 when the tick is not running.
    pub(crate) cycles_per_ms: u32,
    /// The sample was taken on the cycle at which the period ends, where
    /// the machine may report the count up to one instruction early.
    pub(crate) at_tick_edge: bool,
}
