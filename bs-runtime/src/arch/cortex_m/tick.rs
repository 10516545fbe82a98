//! The 1 ms tick on SysTick, which counts the core clock down from its
//! reload value to 0 and then pends its exception. It also abandons a cell
//! at the host's request (`event_loop::abandons_cell_at`).

use core::arch::naked_asm;

use cortex_m::peripheral::{syst::SystClkSource, SCB, SYST};

use crate::arch::TickSample;
use crate::{catch, event_loop, time};

/// The exception's entry, in assembly to hand its body the EXC_RETURN
/// value and the process stack pointer: where the interrupted thread-mode
/// code's exception frame is.
#[unsafe(no_mangle)]
#[unsafe(naked)]
unsafe extern "C" fn SysTick() {
    naked_asm!(
        // r0 pushed too, to keep the stack 8-byte aligned.
        "push {{r0, lr}}",
        "mov r0, lr",
        "mrs r1, psp",
        "bl {tick}",
        // Loading EXC_RETURN into pc returns from the exception.
        "pop {{r0, pc}}",
        tick = sym on_tick,
    )
}

/// Stacked registers of an exception frame (basic or extended), in words.
const FRAME_PC: usize = 6;
const FRAME_XPSR: usize = 7;
/// Stacked xPSR: the frame was realigned (kept as is); Thumb state.
const XPSR_REALIGNED: u32 = 1 << 9;
const XPSR_THUMB: u32 = 1 << 24;

/// Body of [`SysTick`]. `exc_return` is the handler's lr, `psp` the
/// process stack pointer at entry.
extern "C" fn on_tick(exc_return: u32, psp: usize) {
    time::on_tick();
    // EXC_RETURN bits 3 and 2: taken from thread mode, frame on PSP (where
    // script code runs).
    if exc_return & 0b1100 != 0b1100 {
        return;
    }
    let frame = psp as *mut u32;
    // SAFETY: the exception frame of the interrupted thread-mode code,
    // which this handler returns to.
    unsafe {
        let pc = frame.add(FRAME_PC).read_volatile();
        if event_loop::abandons_cell_at(pc as usize) {
            // Return into `abandon` instead, on the interrupted stack (free
            // below its pointer), out of any IT block or interrupted
            // load/store multiple (their state lives in xPSR).
            let abandon = catch::abandon as *const () as usize as u32 & !1;
            let realigned = frame.add(FRAME_XPSR).read_volatile() & XPSR_REALIGNED;
            frame.add(FRAME_PC).write_volatile(abandon);
            frame.add(FRAME_XPSR).write_volatile(realigned | XPSR_THUMB);
        }
    }
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
