//! A push button: the Pico has none of its own (BOOTSEL is not a GPIO), so
//! wire one between GP15 (pin 20) and ground (pin 18); the pin's pull-up
//! keeps it high until the button is pressed. Functions marked
//! `#[bluescript::export]` can be called from scripts.

use bluescript::driver::Peripheral;
use embedded_hal::digital::InputPin;
use rp2040_hal::gpio::bank0::Gpio15;
use rp2040_hal::gpio::{FunctionSioInput, Pin, PullUp};

pub type Button = Pin<Gpio15, FunctionSioInput, PullUp>;

/// The pin, which `main` hands over before any script runs.
static BUTTON: Peripheral<Button> = Peripheral::new();

pub fn init(button: Button) {
    BUTTON.init(button);
}

/// Whether the button is pressed (GP15 pulled to ground).
#[bluescript::export]
fn button_pressed() -> bool {
    let Ok(low) = BUTTON.with(|button| button.is_low());
    low
}
