//! Fatal errors: panics and faults print a line on the stderr channel and
//! park the core. (Script run-time errors are not fatal: see `catch`;
//! neither is a stack overflow of script code, which the architecture's
//! fault handler turns into one: see `stack`.)

use core::fmt::Write;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::abi::{set_state, State};
use crate::print::{emit_fatal, FixedBuf};
use crate::{arch, time};

/// Set once the device is going down (a panic, or `halt`): a stack overflow
/// from then on is no longer recovered from.
static GOING_DOWN: AtomicBool = AtomicBool::new(false);

/// Whether the device is going down (see [`GOING_DOWN`]).
pub(crate) fn going_down() -> bool {
    GOING_DOWN.load(Ordering::Relaxed)
}

/// Marks the device halted and sleeps forever. The tick is stopped so that
/// the core really sleeps (an idle QEMU must not burn a host core).
pub(crate) fn park() -> ! {
    set_state(State::Halted);
    time::stop();
    loop {
        arch::wait_for_interrupt();
    }
}

/// Prints `msg` on stderr and parks.
pub(crate) fn halt(msg: &str) -> ! {
    fatal(|line| {
        let _ = line.write_str(msg);
    })
}

/// Prints the line that `write` makes, followed by "; the device is
/// halted", on stderr, and parks. For fault handlers.
pub(crate) fn fatal(write: impl FnOnce(&mut FixedBuf<128>)) -> ! {
    report_fatal(write);
    park()
}

/// Prints what [`fatal`] prints and marks the device halted, without
/// parking: for a fault handler that parks the core elsewhere.
pub(crate) fn report_fatal(write: impl FnOnce(&mut FixedBuf<128>)) {
    GOING_DOWN.store(true, Ordering::Relaxed);
    let mut line = FixedBuf::<128>::new();
    write(&mut line);
    let _ = line.write_str("; the device is halted");
    line.finish_line();
    // SAFETY: the interrupted code never runs again.
    unsafe { emit_fatal(line.as_bytes()) };
    // After the line: a host that sees the state finds the line written.
    set_state(State::Halted);
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

/// Appends `0x` and the 8 hex digits of `v` (as `{:#010x}` would, without
/// core's integer formatting).
pub(crate) fn hex(line: &mut impl Write, v: u32) {
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
