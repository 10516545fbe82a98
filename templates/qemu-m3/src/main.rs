//! Firmware: the BlueScript runtime, the drivers in this crate, and the
//! program compiled from `scripts/` by `cargo bluescript build`.

#![no_std]
#![no_main]

mod led;

// Defines `SCRIPTS`, the compiled program.
bluescript::scripts!();

/// SysTick counts the core clock: 25 MHz on QEMU's mps2-an385.
const CORE_CLOCK_HZ: u32 = 25_000_000;

#[cortex_m_rt::entry]
fn main() -> ! {
    bluescript::run_with_clock(&SCRIPTS, CORE_CLOCK_HZ)
}
