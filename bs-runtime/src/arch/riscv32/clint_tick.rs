//! The 1 ms tick on the machine timer of the core-local interruptor
//! (CLINT): `mtime` counts up at a fixed rate (10 MHz on QEMU's `virt`),
//! and the timer interrupt is pending while `mtime >= mtimecmp`. Each tick
//! moves `mtimecmp` one period on, so ticks do not drift.

use core::sync::atomic::{AtomicU32, Ordering};

use riscv::register::{mie, mstatus};

use crate::arch::TickSample;
use crate::time;

/// The CLINT at its usual place (SiFive's layout, also QEMU's `virt` and
/// `sifive_e`): `mtimecmp` of hart 0 and `mtime`.
const CLINT: usize = 0x0200_0000;
const MTIMECMP: usize = CLINT + 0x4000;
const MTIME: usize = CLINT + 0xBFF8;

/// Timer cycles per tick; 0 while the tick is stopped.
static PERIOD: AtomicU32 = AtomicU32::new(0);

/// Reads a 64-bit CLINT register as two halves, consistently.
fn read64(addr: usize) -> u64 {
    let (lo, hi) = (addr as *const u32, (addr + 4) as *const u32);
    loop {
        // SAFETY: a CLINT register.
        let (high, low, again) =
            unsafe { (hi.read_volatile(), lo.read_volatile(), hi.read_volatile()) };
        if high == again {
            return u64::from(high) << 32 | u64::from(low);
        }
    }
}

/// Sets `mtimecmp` in the order the privileged specification gives for
/// RV32, so that the value in between is never smaller than both the old
/// and the new one (which would fire the interrupt early).
fn set_compare(value: u64) {
    let (lo, hi) = (MTIMECMP as *mut u32, (MTIMECMP + 4) as *mut u32);
    // SAFETY: the runtime owns the machine timer of hart 0.
    unsafe {
        lo.write_volatile(u32::MAX);
        hi.write_volatile((value >> 32) as u32);
        lo.write_volatile(value as u32);
    }
}

/// Starts the tick with a period of `cycles_per_ms` cycles of `mtime`.
pub(crate) fn tick_start(cycles_per_ms: u32) {
    assert!(
        cycles_per_ms > 0,
        "timer clock out of range for a 1 ms tick"
    );
    PERIOD.store(cycles_per_ms, Ordering::Relaxed);
    set_compare(read64(MTIME) + u64::from(cycles_per_ms));
    // SAFETY: the trap handler takes the timer interrupt (see `trap.rs`).
    unsafe {
        mie::set_mtimer();
        mstatus::set_mie();
    }
}

/// Stops the tick: a parked core must really sleep. `mtimecmp` is left
/// where it is: the interrupt is disabled, and pushing the compare value
/// far into the future would make QEMU's `-icount` (which skips idle
/// virtual time to the next timer deadline) jump to the end of time and
/// stop responding.
pub(crate) fn tick_stop() {
    // SAFETY: as in `tick_start`.
    unsafe { mie::clear_mtimer() };
    PERIOD.store(0, Ordering::Relaxed);
}

/// The timer interrupt (from the trap handler): the next period, then the
/// portable tick.
pub(crate) fn on_timer_interrupt() {
    let period = PERIOD.load(Ordering::Relaxed);
    if period == 0 {
        // Stopped meanwhile (`tick_stop` disabled the interrupt).
        return;
    }
    set_compare(read64(MTIMECMP) + u64::from(period));
    time::on_tick();
}

/// Reads the tick count and the timer at one point, with interrupts masked.
/// `mtime` is exact, so no reading is at an uncertain edge.
pub(crate) fn tick_sample() -> TickSample {
    let period = PERIOD.load(Ordering::Relaxed);
    let (interrupts, now, compare) =
        riscv::interrupt::free(|| (time::ticks(), read64(MTIME), read64(MTIMECMP)));
    if period == 0 {
        return TickSample {
            whole_ms: interrupts,
            interrupts,
            into_ms: 0,
            cycles_per_ms: 0,
            at_tick_edge: false,
        };
    }
    // The current period began one period before `mtimecmp`; a period that
    // ended before the reading but whose interrupt is still pending counts.
    let period64 = u64::from(period);
    let since = now.wrapping_sub(compare.wrapping_sub(period64));
    TickSample {
        whole_ms: interrupts.wrapping_add((since / period64) as u32),
        interrupts,
        into_ms: (since % period64) as u32,
        cycles_per_ms: period,
        at_tick_edge: false,
    }
}
