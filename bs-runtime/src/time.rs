//! Millisecond time base on SysTick.

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SYST};
use cortex_m_rt::exception;

/// Milliseconds since `run` started SysTick. The only state shared with an
/// interrupt handler, hence atomic.
static TICKS: AtomicU32 = AtomicU32::new(0);
/// Core clock cycles per millisecond, set once by `start`.
static CYCLES_PER_MS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
}

/// Starts the 1 kHz tick.
pub(crate) fn start(core_clock_hz: u32) {
    let cycles = core_clock_hz / 1000;
    // SysTick has a 24-bit reload register.
    assert!(
        (1..=0x0100_0000).contains(&cycles),
        "core clock out of range for a 1 ms SysTick"
    );
    CYCLES_PER_MS.store(cycles, Ordering::Relaxed);
    // SAFETY: the runtime owns SysTick; only this function configures it.
    let mut syst = unsafe { cortex_m::Peripherals::steal() }.SYST;
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(cycles - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

/// Stops the tick, so that a parked core sleeps for good. (The counter is
/// stopped too: even without its interrupt, a running SysTick costs QEMU
/// host time at every wrap.)
pub(crate) fn stop() {
    // SAFETY: as in `start`.
    let mut syst = unsafe { cortex_m::Peripherals::steal() }.SYST;
    syst.disable_interrupt();
    syst.disable_counter();
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
    let cycles = CYCLES_PER_MS.load(Ordering::Relaxed);
    if cycles == 0 {
        return 0.0; // SysTick not started
    }
    loop {
        let ms = ticks();
        let current = SYST::get_current();
        // Retry if the tick interrupt ran between the two reads.
        if ticks() == ms {
            let elapsed = cycles - 1 - current.min(cycles - 1);
            return ms as f32 + elapsed as f32 / cycles as f32;
        }
    }
}

/// Sleeps for `ms` milliseconds. Timers do not fire meanwhile (the event
/// loop is not running).
#[unsafe(no_mangle)]
pub extern "C" fn bs_time_delay(ms: i32) {
    if ms <= 0 || CYCLES_PER_MS.load(Ordering::Relaxed) == 0 {
        return;
    }
    // +1: the current millisecond is already partly over.
    let until = ticks().wrapping_add(ms as u32).wrapping_add(1);
    while !reached(ticks(), until) {
        cortex_m::asm::wfi();
    }
}
