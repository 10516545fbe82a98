//! The `HardFault` handler (every fault escalates to it: the configurable
//! fault handlers are not enabled, and Armv6-M has none).
//!
//! It runs on the main stack. A stack overflow of script code (see
//! `stack.rs`) resumes thread mode in `catch::stack_overflow`; any other
//! fault prints a line and parks.

use core::arch::naked_asm;
use core::fmt::Write;

use cortex_m_rt::ExceptionFrame;

#[cfg(feature = "serial-agent")]
use crate::fault::report_fatal;
use crate::fault::{fatal, halt, hex};
use crate::print::FixedBuf;
use crate::{catch, stack};

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

/// Written in assembly because it may have to return from the exception to
/// a frame of its own making, and because the interrupted code's exception
/// frame may be unreadable (stacking it is what failed).
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
        // was built by `overflow_frame`.
        "msr psp, r0",
        "mov sp, r4",
        // EXC_RETURN 0xffff_fffd: thread mode, PSP, basic frame (and, on
        // Armv8-M, the secure state it was taken from).
        "movs r0, #2",
        "mvns r0, r0",
        "bx r0",
        handle = sym hard_fault,
    )
}

/// Fault status registers (Armv7-M and later).
#[cfg(not(armv6m))]
mod status {
    pub(super) const CFSR: *mut u32 = 0xE000_ED28 as *mut u32;
    pub(super) const HFSR: *mut u32 = 0xE000_ED2C as *mut u32;
    /// CFSR bits: stacking the exception frame failed (MPU, bus error,
    /// stack limit).
    pub(super) const MSTKERR: u32 = 1 << 4;
    pub(super) const STKERR: u32 = 1 << 12;
    pub(super) const STKOF: u32 = 1 << 20;
}

/// Size of a basic exception frame (r0-r3, r12, lr, pc, xPSR).
const BASIC_FRAME: usize = 32;

/// Body of [`HardFault`]. `exc_return` is the handler's lr, `msp` / `psp`
/// the stack pointers at entry. Returns only to resume thread mode after a
/// stack overflow, with the process stack pointer to resume at.
extern "C" fn hard_fault(exc_return: u32, msp: usize, psp: usize) -> usize {
    // EXC_RETURN bit 3: taken from thread mode; bit 2: the frame is on PSP.
    if exc_return & 0b1100 == 0b1100 {
        match stack::overflow_catcher(psp) {
            stack::Overflow::Resume(catcher_sp) => {
                clear_fault_status();
                return resume_frame(catcher_sp, catch::stack_overflow);
            }
            stack::Overflow::Unrecoverable => halt("stack overflow outside of script code"),
            stack::Overflow::No => {}
        }
    }
    let frame = if exc_return & 0b0100 != 0 { psp } else { msp };
    let describe = |line: &mut FixedBuf<128>| {
        if stacking_failed() {
            // The exception frame could not be stacked: nothing to read
            // there.
            let _ = line.write_str("hard fault while stacking at sp=");
            hex(line, frame as u32);
        } else {
            // SAFETY: the exception frame was stacked there.
            let frame = unsafe { &*(frame as *const ExceptionFrame) };
            let _ = line.write_str("hard fault at pc=");
            hex(line, frame.pc());
            let _ = line.write_str(" (lr=");
            hex(line, frame.lr());
            let _ = line.write_str(")");
        }
    };
    // With the serial agent, the core parks in thread mode rather than in
    // this handler, which would keep the UART's interrupt from ever being
    // served: the host can still read that the device halted, and why.
    #[cfg(feature = "serial-agent")]
    if exc_return & 0b1000 != 0 {
        if let Some(top) = stack::top() {
            report_fatal(describe);
            clear_fault_status();
            return resume_frame(top, park_in_thread_mode);
        }
    }
    fatal(describe)
}

/// Where a fatal fault of thread-mode code resumes (the serial agent's
/// builds): interrupts on, so that the UART's are served, then parked.
#[cfg(feature = "serial-agent")]
unsafe extern "C" fn park_in_thread_mode() -> ! {
    // SAFETY: nothing that ran before the fault runs again.
    unsafe { crate::arch::unmask_interrupts() };
    crate::fault::park()
}

/// Whether the fault is that the exception frame could not be stacked.
/// Armv6-M cannot tell.
fn stacking_failed() -> bool {
    #[cfg(not(armv6m))]
    {
        use status::*;
        // SAFETY: an architectural register of the system control block.
        let cfsr = unsafe { CFSR.read_volatile() };
        cfsr & (STKERR | MSTKERR | STKOF) != 0
    }
    #[cfg(armv6m)]
    false
}

/// Clears the fault status (write-one-to-clear), so that the next fault is
/// diagnosed afresh. Armv6-M has none.
fn clear_fault_status() {
    #[cfg(not(armv6m))]
    // SAFETY: architectural registers of the system control block.
    unsafe {
        use status::*;
        CFSR.write_volatile(CFSR.read_volatile());
        HFSR.write_volatile(HFSR.read_volatile());
    }
}

/// Builds, right below `sp`, a basic exception frame that "returns" to
/// `resume` (after a stack overflow, [`catch::stack_overflow`] below its
/// catcher's frame); returns its address, the process stack pointer to
/// resume thread mode with.
fn resume_frame(sp: usize, resume: unsafe extern "C" fn() -> !) -> usize {
    let frame = (sp - BASIC_FRAME) as *mut u32;
    let pc = resume as *const () as usize as u32 & !1;
    let words: [u32; 8] = [
        0,       // r0
        0,       // r1
        0,       // r2
        0,       // r3
        0,       // r12
        0,       // lr: `resume` never returns
        pc,      // pc, without the Thumb bit
        1 << 24, // xPSR: Thumb state, no alignment padding
    ];
    for (i, word) in words.into_iter().enumerate() {
        // SAFETY: the 32 bytes below a catcher frame (or the script
        // stack's top) lie inside the script stack (`overflow_catcher`
        // leaves room for them) and belong to the code being abandoned.
        unsafe { frame.add(i).write_volatile(word) };
    }
    frame as usize
}
