//! Millisecond time base on the architecture's tick timer (`arch`).

use core::sync::atomic::{AtomicU32, Ordering};

use crate::arch;

/// Milliseconds since `run` started the tick. The only state shared with
/// an interrupt handler, hence atomic.
static TICKS: AtomicU32 = AtomicU32::new(0);

/// Called by the tick interrupt, once per millisecond. Its only writer
/// (and interrupts do not nest into it), so a load and a store suffice
/// (Armv6-M has no atomic read-modify-write).
pub(crate) fn on_tick() {
    TICKS.store(
        TICKS.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}

/// Starts the 1 kHz tick.
pub(crate) fn start(core_clock_hz: u32) {
    arch::tick_start(core_clock_hz / 1000);
}

/// Stops the tick, so that a parked core sleeps for good.
pub(crate) fn stop() {
    arch::tick_stop();
}

/// Whole milliseconds since start.
pub(crate) fn ticks() -> u32 {
    TICKS.load(Ordering::Relaxed)
}

/// Whether tick `t` has been reached at `now` (wrapping comparison).
pub(crate) fn reached(now: u32, t: u32) -> bool {
    now.wrapping_sub(t) as i32 >= 0
}

/// Milliseconds since start, with sub-millisecond resolution.
#[unsafe(no_mangle)]
pub extern "C" fn bs_time_now() -> f32 {
    let sample = arch::tick_sample();
    if sample.cycles_per_ms == 0 {
        return 0.0; // the tick is not running
    }
    sample.whole_ms as f32 + sample.into_ms as f32 / sample.cycles_per_ms as f32
}

/// Sleeps for `ms` milliseconds. Timers do not fire meanwhile (the event
/// loop is not running).
#[unsafe(no_mangle)]
pub extern "C" fn bs_time_delay(ms: i32) {
    if ms <= 0 || arch::tick_sample().cycles_per_ms == 0 {
        return;
    }
    // +1: the current millisecond is already partly over.
    let until = ticks().wrapping_add(ms as u32).wrapping_add(1);
    while !reached(ticks(), until) {
        arch::wait_for_interrupt();
    }
}
