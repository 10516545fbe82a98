//! Sleeping until an interrupt, and unmasking interrupts.

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
