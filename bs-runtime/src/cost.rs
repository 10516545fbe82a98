//! Deterministic cost measurement: the tick timer as one 64-bit count of
//! core clock ticks (Cortex-M: SysTick), or, on a core that counts the
//! instructions it retires (RISC-V: `minstret`), that count.
//!
//! On hardware a tick is a core clock cycle. Under QEMU with
//! `-icount shift=N,align=off,sleep=off` virtual time advances by exactly
//! 2^N ns per executed instruction, and SysTick counts that virtual time: on
//! the default board (25 MHz, `shift=10`) one instruction is 25.6 ticks, so
//! [`instructions`] recovers the exact number of instructions executed
//! between two readings. That number includes the instructions of the
//! 1 ms tick interrupts in between (as many as [`Reading::interrupts`]
//! grew by, each the same instructions) and a constant part of the two
//! readings themselves. One exception: see [`Reading::at_tick_edge`].
//!
//! On RISC-V, `ticks` are instructions retired, exact under QEMU's
//! `-icount shift=0`; [`instructions`] returns them as they are, and no
//! reading is at a tick edge.
//!
//! ```ignore
//! use bluescript::cost;
//! let start = cost::read();
//! work();
//! let end = cost::read();
//! let spent = cost::instructions(end.ticks - start.ticks, 10);
//! let interrupts = end.interrupts.wrapping_sub(start.interrupts);
//! ```

use crate::arch;

/// One look at the time base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    /// Core clock ticks since `run` started SysTick (0 before).
    pub ticks: u64,
    /// Tick interrupts handled before the reading (wrapping).
    pub interrupts: u32,
    /// The counter read 1, its last value before it pends the tick
    /// interrupt. QEMU reports that value also during the instruction in
    /// which the interrupt falls due, so under `-icount` such a reading can
    /// be up to one instruction early, and a measurement that starts or
    /// ends with it can be off by one instruction (about one reading in a
    /// thousand).
    pub at_tick_edge: bool,
}

/// Reads the time base: the millisecond count of the tick interrupt and the
/// counter's current value, consistently, with interrupts masked (they must
/// not have been masked for half a millisecond already).
///
/// The reading is taken at one instruction, and the instructions around it
/// are the same whichever way the counter and its interrupt fall (no
/// branch depends on them), so that the instructions between two readings
/// are counted exactly under QEMU's `-icount`.
pub fn read() -> Reading {
    // The core counts instructions itself (RISC-V: `minstret`). Read with
    // the tick masked, so that the count and the ticks run are of the same
    // moment: a tick in between would pair a count before it with the
    // interrupts after it.
    // (Where the core does not count, the first call is a constant `None`
    // and nothing is masked.)
    let counted = arch::instructions_retired().and_then(|_| {
        critical_section::with(|_| {
            arch::instructions_retired().map(|count| (count, crate::time::ticks()))
        })
    });
    if let Some((count, interrupts)) = counted {
        return Reading {
            ticks: count,
            interrupts,
            at_tick_edge: false,
        };
    }
    let sample = arch::tick_sample();
    let ticks =
        u64::from(sample.whole_ms) * u64::from(sample.cycles_per_ms) + u64::from(sample.into_ms);
    Reading {
        ticks,
        interrupts: sample.interrupts,
        at_tick_edge: sample.at_tick_edge,
    }
}

/// Core clock ticks since `run` started SysTick (0 before); see [`read`].
pub fn ticks() -> u64 {
    read().ticks
}

/// Core clock ticks per millisecond, i.e. per tick interrupt (0 before
/// `run` started SysTick).
pub fn ticks_per_ms() -> u32 {
    arch::tick_sample().cycles_per_ms
}

/// Converts a number of ticks to the number of instructions executed in
/// that time under QEMU's `-icount shift=<icount_shift>` (2^shift ns per
/// instruction), rounded to the nearest. Exact for the difference of two
/// readings: QEMU derives each from an exact instruction count, and a tick
/// (40 ns at 25 MHz) is much shorter than an instruction.
pub fn instructions(ticks: u64, icount_shift: u32) -> u64 {
    if arch::instructions_retired().is_some() {
        // The readings count instructions already.
        return ticks;
    }
    let per_ms = u64::from(ticks_per_ms());
    if per_ms == 0 {
        return 0;
    }
    // ticks per instruction = per_ms * 1000 ticks/s * 2^shift ns / 10^9 ns/s
    let divisor = per_ms << icount_shift;
    (ticks * 1_000_000 + divisor / 2) / divisor
}
