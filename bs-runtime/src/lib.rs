//! Device runtime of BlueScript.
//!
//! A firmware crate includes the Rust code generated from its scripts with
//! [`scripts!`] and hands the resulting [`Program`] to [`run`]:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! bluescript::scripts!();
//!
//! #[cortex_m_rt::entry]
//! fn main() -> ! {
//!     bluescript::run(&SCRIPTS)
//! }
//! ```
//!
//! Drivers expose functions to scripts with [`export`] and print with
//! [`println!`] / [`eprintln!`].
//!
//! Everything generated code and the host rely on (symbol names, layouts,
//! `extern "C"` functions) is specified in `docs/device-abi.md`. The runtime
//! owns the `SysTick` exception, the `HardFault` handler, the panic handler
//! and the MPU (a guard at the bottom of the script stack, whose region
//! `memory.x` defines: see "Stacks and faults" there); on RISC-V, the trap
//! entry `_start_trap`, the machine timer and PMP entry 0 (a RISC-V
//! firmware's `main` is `#[riscv_rt::entry]`, and [`CORE_CLOCK_HZ`] is the
//! rate of `mtime`).

#![no_std]

#[cfg(not(all(any(target_arch = "arm", target_arch = "riscv32"), target_os = "none")))]
compile_error!(
    "bs-runtime supports Cortex-M targets (thumbv6m, thumbv7m, thumbv7em, thumbv8m.main) and \
     32-bit RISC-V (riscv32imc, riscv32imac) only"
);

mod abi;
mod arch;
mod array;
mod builtins;
mod catch;
mod cell;
mod convert;
pub mod cost;
pub mod driver;
mod dynamic;
mod error;
mod event_loop;
mod fault;
mod float_text;
mod gc;
mod heap;
mod host_request;
mod math;
// The C memory routines, unless the HAL takes them from the chip's ROM
// (esp-hal's linker scripts, rp2040-hal's intrinsics).
#[cfg(feature = "memory-routines")]
mod mem;
#[cfg(feature = "memory-routines")]
mod mem_symbols;
mod object;
mod print;
#[cfg(feature = "serial-agent")]
pub mod serial_agent;
mod stack;
mod string;
mod time;
mod timer;
mod value;

pub use bs_macros::{export, scripts};
pub use catch::{bs_catch, bs_error};
pub use event_loop::{run, run_with_clock, CORE_CLOCK_HZ};
pub use print::{
    bs_print_begin, bs_print_bool, bs_print_end, bs_print_float, bs_print_int, bs_print_space,
    bs_print_str, print_fmt,
};
pub use time::{bs_time_delay, bs_time_now};
pub use timer::{bs_timer_clear, bs_timer_start};

/// Address of a function as a function pointer (Thumb bit set on Arm, the
/// plain address on RISC-V), as stored in a static initializer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct FnAddr(pub *const ());

// SAFETY: a code address is immutable data; sharing it between contexts is fine.
unsafe impl Sync for FnAddr {}

/// Record of one driver function exported with `#[bluescript::export]`.
#[derive(Debug)]
#[repr(C)]
pub struct Export {
    /// `__bs_export_<name>`.
    pub entry: FnAddr,
    /// `__bs_sig_<name>`: NUL-terminated signature, e.g. `led_set(boolean):void`.
    pub signature: *const u8,
}

// SAFETY: both fields point to immutable data (code and a constant string).
unsafe impl Sync for Export {}

/// The compiled scripts, as defined by the generated code (`__bs_program`).
///
/// `#[repr(C)]` because the host reads it from the image: `build_id` at
/// offset 0, then `slots` (pointer, length), `main`, `exports` (pointer,
/// length); every field is 4 bytes on a 32-bit target.
#[derive(Debug)]
#[repr(C)]
pub struct Program {
    /// Identifies the build; the host checks it against its shadow machine.
    pub build_id: u32,
    /// Initial contents of the function table `__bs_slots`.
    pub slots: &'static [FnAddr],
    /// Top-level code, `unsafe extern "C" fn()`.
    pub main: FnAddr,
    /// Every exported driver function (also keeps them linked).
    pub exports: &'static [Export],
}

// The layout the host reads (bluescript_abi::program).
const _: () = {
    use bluescript_abi::program;
    use core::mem::{offset_of, size_of};
    assert!(offset_of!(Program, build_id) == program::BUILD_ID as usize);
    assert!(offset_of!(Program, slots) == program::SLOTS as usize);
    assert!(offset_of!(Program, slots) + 4 == program::SLOT_COUNT as usize);
    assert!(offset_of!(Program, main) == program::MAIN as usize);
    assert!(offset_of!(Program, exports) == program::EXPORTS as usize);
    assert!(offset_of!(Program, exports) + 4 == program::EXPORT_COUNT as usize);
    assert!(size_of::<Program>() == program::SIZE as usize);
    assert!(size_of::<Export>() == program::EXPORT_SIZE as usize);
};

/// Prints one line on the standard output channel (RTT up channel 0), like
/// `console.log` does.
///
/// Call it from thread mode (drivers called by scripts), not from interrupt
/// handlers.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::print_fmt(false, ::core::format_args!($($arg)*))
    };
}

/// Prints one line on the standard error channel (RTT up channel 1), like
/// `console.error` does.
#[macro_export]
macro_rules! eprintln {
    ($($arg:tt)*) => {
        $crate::print_fmt(true, ::core::format_args!($($arg)*))
    };
}
