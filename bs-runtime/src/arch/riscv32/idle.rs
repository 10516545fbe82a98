//! Sleeping until an interrupt, unmasking interrupts, and making the core
//! fetch code that was written as data.

/// Sleeps until an interrupt has been handled.
pub(crate) fn wait_for_interrupt() {
    riscv::asm::wfi();
}

/// Enables machine-mode interrupts (`mstatus.MIE`).
///
/// # Safety
/// The caller must not rely on interrupts staying masked.
pub(crate) unsafe fn unmask_interrupts() {
    // SAFETY: by the caller's contract.
    unsafe { riscv::register::mstatus::set_mie() };
}

/// Makes instruction fetches see the code that the host wrote into RAM
/// (`fence.i`: RISC-V does not keep instruction fetch coherent with
/// stores, nor with a debugger's writes on every chip).
pub(crate) fn sync_instruction_fetch() {
    // SAFETY: only orders instruction fetch after earlier writes. Spelled
    // as its encoding: the base targets do not name the Zifencei extension.
    unsafe { core::arch::asm!(".word 0x0000100f", options(nostack, preserves_flags)) };
}
