//! The 1 ms tick on ESP chips: alarm 2 of the system timer (SYSTIMER),
//! periodic in hardware, through esp-hal's driver and interrupt handler
//! binding. The timer's clock is the SYSTIMER's 16 MHz count (unit 0, the
//! one esp-hal's `Instant` reads); alarms 0 and 1 stay the firmware's.
//!
//! The tick also abandons a cell at the host's request
//! (`event_loop::abandons_cell_at`), by changing `mepc`, where esp-hal's
//! interrupt exit returns to. Its handler has the highest priority for
//! that: esp-hal runs lower ones with nesting enabled, and puts back the
//! `mepc` it saved afterwards.

use core::cell::RefCell;

use critical_section::Mutex;
use esp_hal::interrupt::{InterruptHandler, Priority};
use esp_hal::peripherals::SYSTIMER;
use esp_hal::time::Duration;
use esp_hal::timer::systimer::{SystemTimer, Unit};
use esp_hal::timer::PeriodicTimer;
use esp_hal::Blocking;

use crate::arch::TickSample;
use crate::{catch, event_loop, time};

struct Tick {
    timer: PeriodicTimer<'static, Blocking>,
    /// The SYSTIMER count when the tick started.
    start: u64,
    /// SYSTIMER counts per tick.
    period: u32,
}

static TICK: Mutex<RefCell<Option<Tick>>> = Mutex::new(RefCell::new(None));

/// Starts the tick with a period of `cycles_per_ms` SYSTIMER counts.
pub(crate) fn tick_start(cycles_per_ms: u32) {
    assert!(
        cycles_per_ms > 0,
        "timer clock out of range for a 1 ms tick"
    );
    let counts_per_second = SystemTimer::ticks_per_second();
    // SAFETY: the runtime owns alarm 2 (see the module's documentation);
    // `SystemTimer::new` leaves the counter esp-hal's clock reads running.
    let alarm = SystemTimer::new(unsafe { SYSTIMER::steal() }).alarm2;
    let mut timer = PeriodicTimer::new(alarm);
    timer.set_interrupt_handler(InterruptHandler::new(on_alarm, Priority::max()));
    let period_us = u64::from(cycles_per_ms) * 1_000_000 / counts_per_second;
    critical_section::with(|cs| {
        timer
            .start(Duration::from_micros(period_us))
            .expect("the SYSTIMER counts a 1 ms period");
        timer.listen();
        TICK.borrow_ref_mut(cs).replace(Tick {
            timer,
            start: SystemTimer::unit_value(Unit::Unit0),
            period: cycles_per_ms,
        });
    });
    // SAFETY: interrupts are taken by esp-hal's handlers.
    unsafe { riscv::register::mstatus::set_mie() };
}

/// Stops the tick: a parked core must really sleep.
pub(crate) fn tick_stop() {
    critical_section::with(|cs| {
        if let Some(mut tick) = TICK.borrow_ref_mut(cs).take() {
            tick.timer.unlisten();
            // Err only if it was not running.
            let _ = tick.timer.cancel();
        }
    });
}

/// The alarm's interrupt (bound through esp-hal).
extern "C" fn on_alarm() {
    critical_section::with(|cs| {
        if let Some(tick) = TICK.borrow_ref_mut(cs).as_mut() {
            tick.timer.clear_interrupt();
        }
    });
    time::on_tick();
    let pc = riscv::register::mepc::read();
    if event_loop::abandons_cell_at(pc.wrapping_sub(super::CODE_ALIAS_OFFSET)) {
        // The interrupted code resumes in `abandon` with its own stack
        // pointer (free below it) and interrupts enabled, as it ran.
        // SAFETY: script code in the patch region may be abandoned at any
        // instruction; see `catch::abandon`.
        unsafe { riscv::register::mepc::write(catch::abandon as *const () as usize) };
    }
}

/// Reads the tick count and the timer at one point, with interrupts masked.
pub(crate) fn tick_sample() -> TickSample {
    let (interrupts, now, running) = critical_section::with(|cs| {
        let tick = TICK.borrow_ref(cs);
        (
            time::ticks(),
            SystemTimer::unit_value(Unit::Unit0),
            tick.as_ref().map(|tick| (tick.start, tick.period)),
        )
    });
    let Some((start, period)) = running else {
        return TickSample {
            whole_ms: interrupts,
            interrupts,
            into_ms: 0,
            cycles_per_ms: 0,
            at_tick_edge: false,
        };
    };
    // The alarm repeats in hardware from `start`: periods do not drift.
    let since = now.wrapping_sub(start);
    TickSample {
        whole_ms: (since / u64::from(period)) as u32,
        interrupts,
        into_ms: (since % u64::from(period)) as u32,
        cycles_per_ms: period,
        at_tick_edge: false,
    }
}
