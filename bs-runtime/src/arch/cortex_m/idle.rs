//! Sleeping until an interrupt, unmasking interrupts, and fetching code
//! that the host wrote.

/// Sleeps until an interrupt has been handled.
pub(crate) fn wait_for_interrupt() {
    cortex_m::asm::wfi();
}

/// Enables every interrupt: clears PRIMASK and, where there is one,
/// BASEPRI.
///
/// # Safety
/// The caller must not rely on interrupts staying masked.
pub(crate) unsafe fn unmask_interrupts() {
    // SAFETY: by the caller's contract.
    unsafe {
        #[cfg(not(armv6m))]
        cortex_m::register::basepri::write(0);
        cortex_m::interrupt::enable();
    }
}

/// Makes instruction fetch see code that the host wrote: the cores
/// supported have no instruction cache in front of RAM, so completing the
/// writes and refetching suffices.
pub(crate) fn sync_instruction_fetch() {
    cortex_m::asm::dsb();
    cortex_m::asm::isb();
}
