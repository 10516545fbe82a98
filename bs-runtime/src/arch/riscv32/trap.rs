//! The trap handler: every interrupt and exception of machine mode comes
//! here (riscv-rt points `mtvec` at `_start_trap`, which the runtime
//! defines in place of riscv-rt's default). On ESP chips the trap table is
//! vectored: only exceptions come here (its entry 0), interrupts go to
//! esp-hal's handlers.
//!
//! A trap runs on a stack of its own ([`TRAP_STACK`]), never on the
//! interrupted one: a fault of script code may be a stack overflow, and
//! the script stack is then exhausted. The entry saves the caller-saved
//! registers and the interrupted stack pointer there, in a [`TrapFrame`],
//! and the way out restores them from it, so the handler can resume the
//! interrupted code somewhere else by changing the frame and `mepc`.
//!
//! - The machine timer interrupt is the tick on `virt` (see `clint_tick.rs`);
//!   it also abandons a cell at the host's request ([`abandon_cell`]).
//! - A fault of script code whose stack pointer is at the script stack's
//!   guard is a stack overflow: the handler resumes at the innermost
//!   catcher with room below it, in `catch::stack_overflow`.
//! - A fault with the program counter in code that the host wrote into the
//!   patch region (script code) is reported as a run-time error naming the
//!   fault and its address, and the script code is abandoned as for any
//!   run-time error.
//! - Anything else prints one line and halts the device, as on Cortex-M.

use core::arch::naked_asm;
use core::fmt::Write;

use riscv::register::{mcause, mepc, mstatus, mtval};

use super::CODE_ALIAS_OFFSET;
#[cfg(feature = "serial-agent")]
use crate::fault::report_fatal;
use crate::fault::{fatal, halt, hex};
use crate::print::FixedBuf;
use crate::{abi, catch, stack};

/// Room for the deepest handler: a fault reported with `fault::fatal`.
const TRAP_STACK_SIZE: usize = 2048;

#[repr(C, align(16))]
struct TrapStack([u8; TRAP_STACK_SIZE]);

/// The stack of trap handlers. In `.uninit`: nothing reads it before
/// writing.
#[unsafe(link_section = ".uninit.__bs_trap_stack")]
static mut TRAP_STACK: TrapStack = TrapStack([0; TRAP_STACK_SIZE]);

/// Whether `sp` lies on the trap stack, i.e. a trap handler is running.
pub(crate) fn on_trap_stack(sp: usize) -> bool {
    let bottom = (&raw const TRAP_STACK) as usize;
    (bottom..bottom + TRAP_STACK_SIZE).contains(&sp)
}

/// The interrupted code's registers, as the trap entry saved them.
#[repr(C)]
struct TrapFrame {
    ra: usize,
    t: [usize; 7],
    a: [usize; 8],
    /// The interrupted code's stack pointer.
    sp: usize,
}

/// Bytes the entry reserves for a [`TrapFrame`] (16-byte aligned).
const FRAME_SIZE: usize = 80;
const _: () = assert!(core::mem::size_of::<TrapFrame>() <= FRAME_SIZE);

/// The trap entry. `mscratch` holds the interrupted stack pointer only
/// until it is saved in the frame; a trap inside a trap handler starts
/// again at the top of the trap stack (and halts: see `handle_trap`).
#[unsafe(no_mangle)]
#[unsafe(naked)]
#[unsafe(link_section = ".trap.start")]
unsafe extern "C" fn _start_trap() -> ! {
    naked_asm!(
        ".balign 4",
        "csrw mscratch, sp",
        "la sp, {stack} + {stack_size} - {frame}",
        "sw ra, 0(sp)",
        "sw t0, 4(sp)",
        "sw t1, 8(sp)",
        "sw t2, 12(sp)",
        "sw t3, 16(sp)",
        "sw t4, 20(sp)",
        "sw t5, 24(sp)",
        "sw t6, 28(sp)",
        "sw a0, 32(sp)",
        "sw a1, 36(sp)",
        "sw a2, 40(sp)",
        "sw a3, 44(sp)",
        "sw a4, 48(sp)",
        "sw a5, 52(sp)",
        "sw a6, 56(sp)",
        "sw a7, 60(sp)",
        "csrr t0, mscratch",
        "sw t0, 64(sp)",
        "mv a0, sp",
        "call {handle}",
        "lw ra, 0(sp)",
        "lw t0, 4(sp)",
        "lw t1, 8(sp)",
        "lw t2, 12(sp)",
        "lw t3, 16(sp)",
        "lw t4, 20(sp)",
        "lw t5, 24(sp)",
        "lw t6, 28(sp)",
        "lw a0, 32(sp)",
        "lw a1, 36(sp)",
        "lw a2, 40(sp)",
        "lw a3, 44(sp)",
        "lw a4, 48(sp)",
        "lw a5, 52(sp)",
        "lw a6, 56(sp)",
        "lw a7, 60(sp)",
        "lw sp, 64(sp)",
        "mret",
        stack = sym TRAP_STACK,
        stack_size = const TRAP_STACK_SIZE,
        frame = const FRAME_SIZE,
        handle = sym handle_trap,
    )
}

/// `mcause` code of the machine timer interrupt.
#[cfg(not(feature = "esp"))]
const MACHINE_TIMER: usize = 7;

/// `mcause` code of the machine external interrupt (the PLIC's on `virt`).
#[cfg(not(feature = "esp"))]
const MACHINE_EXTERNAL: usize = 11;

#[cfg(not(feature = "esp"))]
unsafe extern "C" {
    /// The board's handler of external interrupts (claiming them from the
    /// interrupt controller): riscv-rt's `MachineExternal`, which a
    /// template defines when it enables one (the UART of the serial
    /// agent); riscv-rt's default aborts.
    fn MachineExternal();
}

/// Body of [`_start_trap`].
extern "C" fn handle_trap(frame: &mut TrapFrame) {
    let cause = mcause::read();
    if cause.is_interrupt() {
        #[cfg(not(feature = "esp"))]
        if cause.code() == MACHINE_TIMER {
            super::tick::on_timer_interrupt();
            abandon_cell(frame);
            return;
        }
        #[cfg(not(feature = "esp"))]
        if cause.code() == MACHINE_EXTERNAL {
            // SAFETY: the board's handler, called as riscv-rt would.
            unsafe { MachineExternal() };
            return;
        }
        fatal(|line| {
            let _ = line.write_str("unexpected interrupt ");
            hex(line, cause.code() as u32);
        });
    }
    let pc = mepc::read();
    if on_trap_stack(frame.sp) {
        fatal(|line| {
            let _ = line.write_str("fault in a trap handler at pc=");
            hex(line, pc as u32);
        });
    }
    match stack::overflow_catcher(frame.sp) {
        stack::Overflow::Resume(catcher_sp) => {
            resume_at(
                frame,
                catch::stack_overflow as *const () as usize,
                catcher_sp,
            );
            return;
        }
        stack::Overflow::Unrecoverable => halt("stack overflow outside of script code"),
        stack::Overflow::No => {}
    }
    let what = fault_name(cause.code());
    // Fetched from the executable alias of the region, if it has one.
    if abi::patch_region().contains(&pc.wrapping_sub(CODE_ALIAS_OFFSET)) {
        // Script code may be abandoned at any instruction; the stack below
        // its stack pointer is free.
        frame.a[0] = cause.code();
        frame.a[1] = pc;
        resume_at(frame, script_fault as *const () as usize, frame.sp);
        return;
    }
    let describe = |line: &mut FixedBuf<128>| {
        let _ = line.write_str(what);
        let _ = line.write_str(" at pc=");
        hex(line, pc as u32);
        let _ = line.write_str(" (address ");
        hex(line, mtval::read() as u32);
        let _ = line.write_str(")");
    };
    // With the serial agent, the core parks outside of this handler, which
    // would keep the UART's interrupt from ever being served: the host can
    // still read that the device halted, and why.
    #[cfg(feature = "serial-agent")]
    if let Some(top) = stack::top() {
        report_fatal(describe);
        resume_at(frame, park as *const () as usize, top);
        return;
    }
    fatal(describe)
}

/// Where a fatal fault resumes in the serial agent's builds: interrupts on
/// (as `resume_at` leaves them), so that the UART's are served, then parked.
#[cfg(feature = "serial-agent")]
extern "C" fn park() -> ! {
    crate::fault::park()
}

/// Makes the way out of the trap continue in `function` on the stack at
/// `sp` (16-byte aligned down), with interrupts enabled, as if called.
fn resume_at(frame: &mut TrapFrame, function: usize, sp: usize) {
    frame.sp = sp & !15;
    frame.ra = 0; // never returns
                  // SAFETY: the trap returns to a function of the runtime, in machine
                  // mode, with interrupts enabled as script code always runs.
    unsafe {
        mepc::write(function);
        mstatus::set_mpie();
        mstatus::set_mpp(mstatus::MPP::Machine);
    }
}

/// If the host asked to abandon the running cell and the trap interrupted
/// it in the patch region, makes the way out resume in `catch::abandon`
/// on the interrupted stack (free below its pointer), as a fault of script
/// code resumes in the run-time error.
#[cfg(not(feature = "esp"))]
fn abandon_cell(frame: &mut TrapFrame) {
    if crate::event_loop::abandons_cell_at(mepc::read().wrapping_sub(CODE_ALIAS_OFFSET)) {
        resume_at(frame, catch::abandon as *const () as usize, frame.sp);
    }
}

/// Where a fault of script code resumes: the run-time error, which abandons
/// the script code.
extern "C" fn script_fault(cause: usize, pc: usize) -> ! {
    let mut msg = crate::print::FixedBuf::<64>::new();
    let _ = msg.write_str(fault_name(cause));
    let _ = msg.write_str(" at pc=");
    hex(&mut msg, pc as u32);
    // Only ASCII was written.
    catch::runtime_error(core::str::from_utf8(msg.as_bytes()).unwrap_or("fault"))
}

/// What an exception code means (the privileged specification's names).
fn fault_name(code: usize) -> &'static str {
    match code {
        0 => "misaligned instruction fetch",
        1 => "instruction access fault",
        2 => "illegal instruction",
        3 => "breakpoint",
        4 => "misaligned load",
        5 => "load access fault",
        6 => "misaligned store",
        7 => "store access fault",
        11 => "environment call",
        12 => "instruction page fault",
        13 => "load page fault",
        15 => "store page fault",
        _ => "exception",
    }
}
