//! What the collector and the error paths ask of the core: the execution
//! context and the stack pointer. (No register spill: the collector's roots
//! are precise, the machine stack is never scanned.)

use core::arch::asm;

use super::trap;

/// Whether a trap handler is running: traps run on a stack of their own
/// (see `trap.rs`), and normal code never does; on ESP chips, esp-hal's
/// interrupt handlers run on the interrupted stack, at a raised run level.
pub(crate) fn in_interrupt() -> bool {
    #[cfg(feature = "esp")]
    if super::esp::in_hal_interrupt() {
        return true;
    }
    trap::on_trap_stack(stack_pointer())
}

/// The current stack pointer.
pub(crate) fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads the stack pointer.
    unsafe { asm!("mv {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}
