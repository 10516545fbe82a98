//! The Pico's green user LED, on GPIO25, lit when the pin is high.
//! Functions marked `#[bluescript::export]` can be called from scripts.

use bluescript::driver::Peripheral;
use embedded_hal::digital::{OutputPin, StatefulOutputPin};
use rp2040_hal::gpio::bank0::Gpio25;
use rp2040_hal::gpio::{FunctionSioOutput, Pin, PullDown};

pub type Led = Pin<Gpio25, FunctionSioOutput, PullDown>;

/// The pin, which `main` hands over before any script runs.
static LED: Peripheral<Led> = Peripheral::new();

pub fn init(led: Led) {
    LED.init(led);
}

/// Switches the LED on or off.
#[bluescript::export]
fn led_set(on: bool) {
    let Ok(()) = LED.with(|led| led.set_state(on.into()));
}

/// Switches the LED to the other state.
#[bluescript::export]
fn led_toggle() {
    let Ok(()) = LED.with(|led| led.toggle());
}

/// Whether the LED is on.
#[bluescript::export]
fn led_is_on() -> bool {
    let Ok(high) = LED.with(|led| led.is_set_high());
    high
}
