//! Firmware for the nRF52840-DK: the BlueScript runtime, the drivers in this
//! crate, and the program compiled from `scripts/` by
//! `cargo bluescript build`.

#![no_std]
#![no_main]

mod button;
mod led;

use nrf52840_hal::clocks::Clocks;
use nrf52840_hal::gpio::{p0, Level};
use nrf52840_hal::pac;

// Defines `SCRIPTS`, the compiled program.
bluescript::scripts!();

#[cortex_m_rt::entry]
fn main() -> ! {
    let peripherals = pac::Peripherals::take().unwrap();
    // The CPU runs at 64 MHz whatever the source (BLUESCRIPT_CORE_CLOCK_HZ
    // in .cargo/config.toml); the crystal makes that 64 MHz accurate, and
    // so the runtime's 1 ms tick.
    let _clocks = Clocks::new(peripherals.CLOCK).enable_ext_hfosc();

    let port0 = p0::Parts::new(peripherals.P0);
    // Active low: high is off.
    led::init(port0.p0_13.into_push_pull_output(Level::High));
    button::init(port0.p0_11.into_pullup_input());

    bluescript::run(&SCRIPTS)
}
