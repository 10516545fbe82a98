//! Firmware: the BlueScript runtime, the drivers in this crate, and the
//! program compiled from `scripts/` by `cargo bluescript build`.

#![no_std]
#![no_main]

mod led;

// Defines `SCRIPTS`, the compiled program.
bluescript::scripts!();

/// The rate of the machine timer (`mtime`) of QEMU's `virt` machine, which
/// the runtime's 1 ms tick counts.
const TIMER_CLOCK_HZ: u32 = 10_000_000;

#[riscv_rt::entry]
fn main() -> ! {
    bluescript::run_with_clock(&SCRIPTS, TIMER_CLOCK_HZ)
}
