//! Firmware for the Raspberry Pi Pico: the BlueScript runtime, the drivers
//! in this crate, and the program compiled from `scripts/` by
//! `cargo bluescript build`.

#![no_std]
#![no_main]

mod button;
mod led;

use rp2040_hal::clocks::{init_clocks_and_plls, Clock};
use rp2040_hal::gpio::Pins;
use rp2040_hal::{pac, Sio, Watchdog};

// Defines `SCRIPTS`, the compiled program.
bluescript::scripts!();

/// The second-stage bootloader for the Pico's W25Q16JV flash, in the first
/// 256 bytes of flash (see memory.x).
#[link_section = ".boot2"]
#[used]
#[no_mangle]
pub static BOOT2: [u8; 256] = rp2040_boot2::BOOT_LOADER_W25Q080;

/// The Pico's crystal.
const XTAL_FREQ_HZ: u32 = 12_000_000;

#[rp2040_hal::entry]
fn main() -> ! {
    let mut pac = pac::Peripherals::take().unwrap();
    let mut watchdog = Watchdog::new(pac.WATCHDOG);
    // The system clock from the crystal through PLL_SYS: 125 MHz.
    let Ok(clocks) = init_clocks_and_plls(
        XTAL_FREQ_HZ,
        pac.XOSC,
        pac.CLOCKS,
        pac.PLL_SYS,
        pac.PLL_USB,
        &mut pac.RESETS,
        &mut watchdog,
    ) else {
        panic!("the crystal oscillator or a PLL did not start");
    };
    // The runtime's 1 ms tick counts this clock (BLUESCRIPT_CORE_CLOCK_HZ
    // in .cargo/config.toml).
    assert_eq!(
        clocks.system_clock.freq().to_Hz(),
        bluescript::CORE_CLOCK_HZ
    );

    let sio = Sio::new(pac.SIO);
    let pins = Pins::new(
        pac.IO_BANK0,
        pac.PADS_BANK0,
        sio.gpio_bank0,
        &mut pac.RESETS,
    );
    led::init(pins.gpio25.into_push_pull_output());
    button::init(pins.gpio15.into_pull_up_input());

    bluescript::run(&SCRIPTS)
}
