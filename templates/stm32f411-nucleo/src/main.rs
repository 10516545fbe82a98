//! Firmware for the Nucleo-F411RE: the BlueScript runtime, the drivers in
//! this crate, and the program compiled from `scripts/` by
//! `cargo bluescript build`.

#![no_std]
#![no_main]

mod button;
mod led;

use stm32f4xx_hal::pac;
use stm32f4xx_hal::prelude::*;
use stm32f4xx_hal::rcc::Config;

// Defines `SCRIPTS`, the compiled program.
bluescript::scripts!();

#[cortex_m_rt::entry]
fn main() -> ! {
    let peripherals = pac::Peripherals::take().unwrap();
    // 100 MHz from the internal oscillator through the PLL: the internal
    // one, because whether the ST-Link's 8 MHz clock reaches the chip as
    // HSE depends on the board's solder bridges.
    let mut rcc = peripherals.RCC.freeze(Config::hsi().sysclk(100.MHz()));
    // The runtime's 1 ms tick counts the core clock
    // (BLUESCRIPT_CORE_CLOCK_HZ in .cargo/config.toml).
    assert_eq!(rcc.clocks.hclk().raw(), bluescript::CORE_CLOCK_HZ);

    // The runtime sleeps (`wfi`) between callbacks; without this the chip
    // also stops the bus clock then, and the probe could not read the
    // program's output or write patches while it sleeps.
    let debug = peripherals.DBGMCU;
    debug.cr().modify(|_, w| w.dbg_sleep().set_bit());

    let gpioa = peripherals.GPIOA.split(&mut rcc);
    let gpioc = peripherals.GPIOC.split(&mut rcc);
    led::init(gpioa.pa5.into_push_pull_output());
    button::init(gpioc.pc13.into_pull_up_input());

    bluescript::run(&SCRIPTS)
}
