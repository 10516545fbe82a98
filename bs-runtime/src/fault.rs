//! Fatal errors: panics and hard faults print a line on the stderr channel
//! and park the core. (Script run-time errors are not fatal: see `catch`.)

use core::fmt::Write;
use core::panic::PanicInfo;

use cortex_m_rt::{exception, ExceptionFrame};

use crate::abi::{set_state, State};
use crate::print::{emit_fatal, FixedBuf};
use crate::time;

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
    let mut line = FixedBuf::<128>::new();
    let _ = line.write_str(msg);
    line.finish_line();
    // SAFETY: the interrupted code never runs again.
    unsafe { emit_fatal(line.as_bytes()) };
    park()
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
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

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    let mut line = FixedBuf::<128>::new();
    let _ = write!(
        line,
        "hard fault at pc=0x{:08x} (lr=0x{:08x}); the device is halted",
        frame.pc(),
        frame.lr()
    );
    line.finish_line();
    // SAFETY: the faulting code never runs again.
    unsafe { emit_fatal(line.as_bytes()) };
    park()
}
