//! The script stack: its overflow guard (a locked PMP entry on QEMU's
//! `virt`, a debug trigger on ESP chips, where the bootloader locks PMP)
//! and switching onto it.

use core::arch::naked_asm;

#[cfg(feature = "esp")]
pub(crate) use super::esp::guard::install_stack_guard;
#[cfg(not(feature = "esp"))]
pub(crate) use super::pmp_guard::install_stack_guard;

/// Sets the stack pointer to `top` and jumps to `f(arg)`. The previous
/// stack keeps the caller's frames (they are never returned to).
///
/// # Safety
/// `top` must be the 16-byte aligned top of memory that nothing else uses.
#[unsafe(naked)]
pub(crate) unsafe extern "C" fn run_on_stack(
    arg: usize,
    top: usize,
    f: unsafe extern "C" fn(usize) -> !,
) -> ! {
    naked_asm!("mv sp, a1", "li ra, 0", "jr a2")
}
