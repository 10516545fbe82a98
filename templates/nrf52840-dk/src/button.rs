//! Button 1 of the nRF52840-DK, on P0.11: it connects the pin to ground,
//! and the pin's pull-up keeps it high until the button is pressed.
//! Functions marked `#[bluescript::export]` can be called from scripts.

use bluescript::driver::Peripheral;
use embedded_hal::digital::InputPin;
use nrf52840_hal::gpio::p0::P0_11;
use nrf52840_hal::gpio::{Input, PullUp};

pub type Button = P0_11<Input<PullUp>>;

/// The pin, which `main` hands over before any script runs.
static BUTTON: Peripheral<Button> = Peripheral::new();

pub fn init(button: Button) {
    BUTTON.init(button);
}

/// Whether Button 1 is pressed.
#[bluescript::export]
fn button_pressed() -> bool {
    let Ok(low) = BUTTON.with(|button| button.is_low());
    low
}
