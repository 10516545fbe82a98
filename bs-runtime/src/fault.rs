//! Fatal errors: panics and hard faults print a line on the stderr channel
//! and park the core. (Script run-time errors are not fatal: see `catch`;
//! neither is a stack overflow of script code, which the hard fault handler
//! turns into one: see `stack`.)

use core::arch::naked_asm;
use core::fmt::Write;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

use cortex_m_rt::ExceptionFrame;

use crate::abi::{set_state, State};
use crate::print::{emit_fatal, FixedBuf};
use crate::{stack, time};

/// Set once the device is going down (a panic, or `halt`): a stack overflow
/// from then on is no longer recovered from.
static GOING_DOWN: AtomicBool = AtomicBool::new(false);

/// Marks the device halted and sleeps forever. The tick is stopped so that
/// the core really sleeps (an idle QEMU must not burn a host core).
pub(crate) fn park() -> ! {
    set_state(State::Halted);
    time::stop();
    loop {
        cortex_m::asm::wfi();
    }
}

/// Prints `msg` on stderr and parks.
pub(crate) fn halt(msg: &str) -> ! {
    GOING_DOWN.store(true, Ordering::Relaxed);
    let mut line = FixedBuf::<128>::new();
    let _ = line.write_str(msg);
    line.finish_line();
    // SAFETY: the interrupted code never runs again.
    unsafe { emit_fatal(line.as_bytes()) };
    park()
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    GOING_DOWN.store(true, Ordering::Relaxed);
    let mut line = FixedBuf::<256>::new();
    let _ = write!(line, "panic: {}", info.message());
    if let Some(loc) = info.location() {
        let _ = write!(line, " (at {}:{}:{})", loc.file(), loc.line(), loc.column());
    }
    let _ = line.write_str("; the device is halted");
    line.finish_line();
    // SAFETY: the panicking code never runs again.
    unsafe { emit_fatal(line.as_bytes()) };
    park()
}

// The interrupted code may have left its FP registers to be saved lazily
// into its exception frame (FPCCR.LSPACT); that frame may lie outside RAM
// (a stack overflow), and the code never resumes with these registers.
// Cancel the save before any Rust code, which may use FP registers, runs.
#[cfg(target_abi = "eabihf")]
macro_rules! cancel_lazy_fp {
    () => {
        "movw r0, #0xef34
         movt r0, #0xe000
         ldr r1, [r0]
         bic r1, r1, #1
         str r1, [r0]"
    };
}
#[cfg(not(target_abi = "eabihf"))]
macro_rules! cancel_lazy_fp {
    () => {
        ""
    };
}

/// The `HardFault` handler (every fault escalates to it: the configurable
/// fault handlers are not enabled).
///
/// It runs on the main stack. A stack overflow of script code (see `stack`)
/// resumes thread mode; any other fault prints a line and parks. Written in
/// assembly because it may have to return from the exception to a frame of
/// its own making, and because the interrupted code's exception frame may
/// be unreadable (stacking it is what failed).
#[unsafe(no_mangle)]
#[unsafe(naked)]
unsafe extern "C" fn HardFault() -> ! {
    naked_asm!(
        cancel_lazy_fp!(),
        "mov r0, lr",
        "mrs r1, msp",
        "mrs r2, psp",
        // Callee-saved: the handler's own stack pointer, for the way out.
        "mov r4, r1",
        "bl {handle}",
        // Resume thread mode on the process stack at r0, whose basic frame
        // was built by `stack::overflow_resume`.
        "msr psp, r0",
        "mov sp, r4",
        "mvn lr, #2", // EXC_RETURN 0xffff_fffd: thread mode, PSP, basic frame
        "bx lr",
        handle = sym hard_fault,
    )
}

/// Fault status registers.
const CFSR: *mut u32 = 0xE000_ED28 as *mut u32;
const HFSR: *mut u32 = 0xE000_ED2C as *mut u32;
/// CFSR bits: stacking the exception frame failed (MPU, bus error).
const MSTKERR: u32 = 1 << 4;
const STKERR: u32 = 1 << 12;

/// Body of [`HardFault`]. `exc_return` is the handler's lr, `msp` / `psp`
/// the stack pointers at entry. Returns only to resume thread mode after a
/// stack overflow, with the process stack pointer to resume at.
extern "C" fn hard_fault(exc_return: u32, msp: usize, psp: usize) -> usize {
    // SAFETY: an architectural register of the system control block.
    let cfsr = unsafe { CFSR.read_volatile() };
    // EXC_RETURN bit 3: taken from thread mode; bit 2: the frame is on PSP.
    let from_thread_psp = exc_return & 0b1100 == 0b1100;
    if from_thread_psp && !GOING_DOWN.load(Ordering::Relaxed) {
        match stack::overflow_resume(psp) {
            stack::Overflow::Resume(sp) => {
                // Clear the fault status (write-one-to-clear), so that the
                // next fault is diagnosed afresh.
                // SAFETY: as above.
                unsafe {
                    CFSR.write_volatile(cfsr);
                    HFSR.write_volatile(HFSR.read_volatile());
                }
                return sp;
            }
            stack::Overflow::Unrecoverable => {
                halt("stack overflow outside of script code; the device is halted")
            }
            stack::Overflow::No => {}
        }
    }

    let mut line = FixedBuf::<128>::new();
    if cfsr & (STKERR | MSTKERR) != 0 {
        // The exception frame could not be stacked: nothing to read there.
        let sp = if exc_return & 0b0100 != 0 { psp } else { msp };
        let _ = line.write_str("hard fault while stacking at sp=");
        hex(&mut line, sp as u32);
    } else {
        let frame = if exc_return & 0b0100 != 0 { psp } else { msp };
        // SAFETY: the exception frame was stacked there.
        let frame = unsafe { &*(frame as *const ExceptionFrame) };
        let _ = line.write_str("hard fault at pc=");
        hex(&mut line, frame.pc());
        let _ = line.write_str(" (lr=");
        hex(&mut line, frame.lr());
        let _ = line.write_str(")");
    }
    let _ = line.write_str("; the device is halted");
    line.finish_line();
    // SAFETY: the faulting code never runs again.
    unsafe { emit_fatal(line.as_bytes()) };
    park()
}

/// Appends `0x` and the 8 hex digits of `v` (as `{:#010x}` would, without
/// core's integer formatting).
fn hex(line: &mut impl Write, v: u32) {
    let _ = line.write_str("0x");
    for i in (0..8).rev() {
        let nibble = (v >> (4 * i)) as u8 & 0xf;
        let digit = if nibble < 10 {
            b'0' + nibble
        } else {
            b'a' - 10 + nibble
        };
        let _ = line.write_char(char::from(digit));
    }
}
