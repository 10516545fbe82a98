//! What the collector and the error paths ask of the core: the execution
//! context and the stack pointer. (No register spill: the collector's roots
//! are precise, the machine stack is never scanned.)

use core::arch::asm;

/// Whether an exception handler is running (IPSR holds its number; 0 in
/// thread mode).
pub(crate) fn in_interrupt() -> bool {
    let ipsr: u32;
    // SAFETY: reads a special register.
    unsafe { asm!("mrs {}, IPSR", out(reg) ipsr, options(nomem, nostack, preserves_flags)) };
    ipsr & 0x1ff != 0
}

/// The current stack pointer.
pub(crate) fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads the stack pointer.
    unsafe { asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}
