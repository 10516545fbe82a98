//! Instruction counting for the benchmarks, exported to scripts.
//!
//! Built on `bluescript::cost`, under QEMU with `-icount shift=10`, where
//! the SysTick time base counts executed instructions exactly (RISC-V:
//! `minstret`, under `-icount shift=0`). A
//! measurement returns the instructions executed between the readings of
//! `cost_start` and `cost_stop`, less those of the 1 ms tick interrupts
//! that ran in between: `cost_calibrate` finds how many one interrupt
//! takes, against a loop whose instruction count is known, and checks the
//! model on loops of every length up to two ticks and a few long ones.

use bluescript::cost::{self, Reading};
use core::cell::Cell;

/// The `-icount shift` the benchmark runs QEMU with.
#[cfg(target_arch = "arm")]
const ICOUNT_SHIFT: u32 = 10;
#[cfg(target_arch = "riscv32")]
const ICOUNT_SHIFT: u32 = 0;

/// State of the drivers; scripts and drivers run in thread mode only.
struct State {
    start: Cell<Reading>,
    /// Whether neither reading of the last measurement was at a tick edge.
    exact: Cell<bool>,
    /// Instructions of one tick interrupt.
    tick_instructions: Cell<u64>,
    /// What `cost_calibration` reports.
    calibration: Cell<[u64; 5]>,
    /// The last measurement, whole (`cost_stop` saturates at `i32::MAX`).
    last: Cell<u64>,
}

// SAFETY: only accessed from thread mode (script code and the drivers it
// calls), never from an interrupt handler.
unsafe impl Sync for State {}

static STATE: State = State {
    start: Cell::new(Reading {
        ticks: 0,
        interrupts: 0,
        at_tick_edge: false,
    }),
    exact: Cell::new(true),
    tick_instructions: Cell::new(0),
    calibration: Cell::new([0; 5]),
    last: Cell::new(0),
};

/// Instructions executed from `start` to `end`, tick interrupts run, and
/// whether the count is exact (neither reading at a tick edge).
fn interval(start: Reading, end: Reading) -> (u64, u64, bool) {
    (
        cost::instructions(end.ticks - start.ticks, ICOUNT_SHIFT),
        u64::from(end.interrupts.wrapping_sub(start.interrupts)),
        !start.at_tick_edge && !end.at_tick_edge,
    )
}

/// Runs a loop of exactly `2 * iterations` instructions (`iterations` >= 1)
/// between two readings.
#[inline(never)]
fn measure_loop(iterations: u32) -> (u64, u64, bool) {
    let start = cost::read();
    // SAFETY: only counts a register down.
    #[cfg(target_arch = "arm")]
    unsafe {
        core::arch::asm!(
            "2:",
            "subs {n}, {n}, #1",
            "bne 2b",
            n = inout(reg) iterations => _,
            options(nomem, nostack),
        );
    }
    // SAFETY: as above.
    #[cfg(target_arch = "riscv32")]
    unsafe {
        core::arch::asm!(
            "2:",
            "addi {n}, {n}, -1",
            "bnez {n}, 2b",
            n = inout(reg) iterations => _,
            options(nomem, nostack),
        );
    }
    let end = cost::read();
    interval(start, end)
}

/// Finds the instructions of one tick interrupt, then checks that loops of
/// every length from 1 to 1000 iterations (2 to 2000 instructions: every
/// position relative to the ~977-instruction tick) and a few long ones are
/// measured exactly. Returns the number of exact measurements that missed
/// (0 when the model holds); `cost_calibration` tells the rest.
#[bluescript::export]
fn cost_calibrate() -> i32 {
    // A loop too short for an interrupt gives the readings' own part...
    let mut iterations = 1;
    let (mut spent, mut interrupts, mut exact) = measure_loop(iterations);
    while interrupts != 0 || !exact {
        // ...unless one struck just then; the next try starts elsewhere.
        iterations += 1;
        (spent, interrupts, exact) = measure_loop(iterations);
    }
    let readings = spent - 2 * u64::from(iterations);
    // A long loop: many interrupts, all the same.
    let mut iterations = 1_000_000;
    let (mut spent, mut interrupts, mut exact) = measure_loop(iterations);
    while !exact {
        iterations += 1;
        (spent, interrupts, exact) = measure_loop(iterations);
    }
    let per_interrupt = (spent - 2 * u64::from(iterations) - readings) / interrupts;
    STATE.tick_instructions.set(per_interrupt);

    let (mut measurements, mut missed, mut at_edge, mut edge_worst) = (0, 0, 0, 0);
    let lengths = (1..=1000).chain([10_000, 100_000, 1_000_000, 3_000_000]);
    for iterations in lengths {
        let (spent, interrupts, exact) = measure_loop(iterations);
        let predicted = 2 * u64::from(iterations) + readings + per_interrupt * interrupts;
        let error = spent.abs_diff(predicted);
        measurements += 1;
        if exact {
            missed += u64::from(error != 0);
        } else {
            at_edge += 1;
            edge_worst = edge_worst.max(error);
        }
    }
    STATE
        .calibration
        .set([measurements, missed, at_edge, edge_worst, per_interrupt]);
    missed as i32
}

/// After `cost_calibrate`: 0 measurements made, 1 exact ones that missed,
/// 2 measurements with a reading at a tick edge, 3 their largest error,
/// 4 instructions of one tick interrupt.
#[bluescript::export]
fn cost_calibration(what: i32) -> i32 {
    let values = STATE.calibration.get();
    values.get(what as usize).map_or(-1, |&v| v as i32)
}

/// Starts a measurement.
#[bluescript::export]
fn cost_start() {
    let start = cost::read();
    STATE.start.set(start);
}

/// Instructions executed since `cost_start`, without the tick interrupts.
#[bluescript::export]
fn cost_stop() -> i32 {
    let end = cost::read();
    let (spent, interrupts, exact) = interval(STATE.start.get(), end);
    STATE.exact.set(exact);
    let ticks = interrupts * STATE.tick_instructions.get();
    let count = spent.saturating_sub(ticks);
    STATE.last.set(count);
    count.min(i32::MAX as u64) as i32
}

/// The last measurement in base 10^9 digits, for counts past `i32::MAX`:
/// 0 its units digit (`count % 10^9`), 1 the next (`count / 10^9`).
#[bluescript::export]
fn cost_last(digit: i32) -> i32 {
    const BASE: u64 = 1_000_000_000;
    let count = STATE.last.get();
    match digit {
        0 => (count % BASE) as i32,
        _ => (count / BASE).min(i32::MAX as u64) as i32,
    }
}

/// Whether the last measurement is exact: neither of its readings was at a
/// tick edge (`bluescript::cost::Reading::at_tick_edge`), where it can be
/// off by one instruction.
/// `n`, as a value the compiler cannot see through: each round computes
/// its result anew instead of reusing the first round's (a script function
/// without side effects called directly may be computed once).
#[bluescript::export]
#[inline(never)]
fn cost_opaque(n: i32) -> i32 {
    core::hint::black_box(n)
}

#[bluescript::export]
fn cost_exact() -> bool {
    STATE.exact.get()
}

/// Collects the scripts' garbage, outside of any measurement: every round
/// of a benchmark that allocates then starts from the same heap.
#[bluescript::export]
fn cost_collect() {
    unsafe extern "C" {
        fn bs_gc_collect() -> usize;
    }
    // SAFETY: called from script code, in thread mode, like an allocation.
    unsafe {
        bs_gc_collect();
    }
}

/// What the host writes (1) to let a program waiting in `cost_wait_host`
/// go on. By symbol: the AWFY bench finds it in the image.
#[unsafe(no_mangle)]
static COST_HOST_GO: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

/// Spins until the host writes `COST_HOST_GO`, then clears it: the
/// benchmark's dynamic-compiler step (the host reads the type profiles
/// and patches specialized code in meanwhile) happens between two parts
/// of the program, outside every measurement.
#[bluescript::export]
fn cost_wait_host() {
    use core::sync::atomic::Ordering;
    while COST_HOST_GO.load(Ordering::Relaxed) == 0 {
        core::hint::spin_loop();
    }
    COST_HOST_GO.store(0, Ordering::Relaxed);
}
