//! The 1 ms tick on SysTick, which counts the core clock down from its
//! reload value to 0 and then pends its exception.

use cortex_m::peripheral::{syst::SystClkSource, SCB, SYST};
use cortex_m_rt::exception;

use crate::arch::TickSample;
use crate::time;

#[exception]
fn SysTick() {
    time::on_tick();
}

/// Starts SysTick with a period of `cycles_per_ms` core clock cycles.
pub(crate) fn tick_start(cycles_per_ms: u32) {
    // SysTick has a 24-bit reload register.
    assert!(
        (1..=0x0100_0000).contains(&cycles_per_ms),
        "core clock out of range for a 1 ms SysTick"
    );
    // SAFETY: the runtime owns SysTick; only this module configures it.
    let mut syst = unsafe { cortex_m::Peripherals::steal() }.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(cycles_per_ms - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

/// Stops SysTick. (The counter is stopped too: even without its interrupt,
/// a running SysTick costs QEMU host time at every wrap.)
pub(crate) fn tick_stop() {
    // SAFETY: as in `tick_start`.
    let mut syst = unsafe { cortex_m::Peripherals::steal() }.SYST;
    syst.disable_interrupt();
    syst.disable_counter();
}

/// Reads the tick count and the counter at one instruction, with
/// interrupts masked (they must not have been masked for half a
/// millisecond already).
///
/// The instructions around the reading are the same whichever way the
/// counter and its interrupt fall (no branch depends on them), so that the
/// instructions between two readings are counted exactly under QEMU's
/// `-icount` (see `cost.rs`).
pub(crate) fn tick_sample() -> TickSample {
    let reload = SYST::get_reload();
    let (interrupts, current, pending) = cortex_m::interrupt::free(|_| {
        let interrupts = time::ticks();
        let current = SYST::get_current();
        (interrupts, current, SCB::is_pendst_pending())
    });
    // The interrupt cannot run before the end of the masked reads. Pending
    // with `current` in the upper half: the counter wrapped before it was
    // read, and `interrupts` is one short. Pending with `current` in the
    // lower half: it fell due after the read. Branch-free, as said above.
    let late = (reload / 2).wrapping_sub(current) >> 31; // current > reload / 2
    TickSample {
        whole_ms: interrupts.wrapping_add(u32::from(pending) & late),
        interrupts,
        into_ms: reload.saturating_sub(current),
        // 0 when SysTick has not been started (reload 0).
        cycles_per_ms: if reload == 0 { 0 } else { reload + 1 },
        // The counter reads 1 last before it pends the interrupt; QEMU
        // reports that value also during the instruction in which the
        // interrupt falls due.
        at_tick_edge: current == 1,
    }
}

/// Cortex-M counts no instructions that QEMU models (DWT's cycle counter
/// is not): costs come from SysTick under `-icount` (see `cost.rs`).
pub(crate) fn instructions_retired() -> Option<u64> {
    None
}
