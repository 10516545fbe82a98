//! LED1 of the nRF52840-DK, on P0.13, lit when the pin is low. Functions
//! marked `#[bluescript::export]` can be called from scripts.

use bluescript::driver::Peripheral;
use embedded_hal::digital::{OutputPin, StatefulOutputPin};
use nrf52840_hal::gpio::p0::P0_13;
use nrf52840_hal::gpio::{Output, PushPull};

pub type Led = P0_13<Output<PushPull>>;

/// The pin, which `main` hands over before any script runs.
static LED: Peripheral<Led> = Peripheral::new();

pub fn init(led: Led) {
    LED.init(led);
}

/// Switches the LED on or off.
#[bluescript::export]
fn led_set(on: bool) {
    let Ok(()) = LED.with(|led| led.set_state((!on).into()));
}

/// Switches the LED to the other state.
#[bluescript::export]
fn led_toggle() {
    let Ok(()) = LED.with(|led| led.toggle());
}

/// Whether the LED is on.
#[bluescript::export]
fn led_is_on() -> bool {
    let Ok(low) = LED.with(|led| led.is_set_low());
    low
}
