//! Button 1 of the nRF52840-DK, on P0.11: it connects the pin to ground,
//! and the pin's pull-up keeps it high until the button is pressed.
//! Functions marked `#[bluescript::export]` can be called from scripts.

use core::cell::RefCell;

use critical_section::Mutex;
use embedded_hal::digital::InputPin;
use nrf52840_hal::gpio::p0::P0_11;
use nrf52840_hal::gpio::{Input, PullUp};

pub type Button = P0_11<Input<PullUp>>;

/// The pin, which `main` hands over before any script runs.
static BUTTON: Mutex<RefCell<Option<Button>>> = Mutex::new(RefCell::new(None));

pub fn init(button: Button) {
    critical_section::with(|cs| BUTTON.replace(cs, Some(button)));
}

/// Whether Button 1 is pressed.
#[bluescript::export]
fn button_pressed() -> bool {
    critical_section::with(|cs| {
        let mut button = BUTTON.borrow_ref_mut(cs);
        let button = button.as_mut().expect("`main` calls `button::init`");
        let Ok(low) = button.is_low();
        low
    })
}
