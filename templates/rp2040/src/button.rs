//! A push button: the Pico has none of its own (BOOTSEL is not a GPIO), so
//! wire one between GP15 (pin 20) and ground (pin 18); the pin's pull-up
//! keeps it high until the button is pressed. Functions marked
//! `#[bluescript::export]` can be called from scripts.

use core::cell::RefCell;

use critical_section::Mutex;
use embedded_hal::digital::InputPin;
use rp2040_hal::gpio::bank0::Gpio15;
use rp2040_hal::gpio::{FunctionSioInput, Pin, PullUp};

pub type Button = Pin<Gpio15, FunctionSioInput, PullUp>;

/// The pin, which `main` hands over before any script runs.
static BUTTON: Mutex<RefCell<Option<Button>>> = Mutex::new(RefCell::new(None));

pub fn init(button: Button) {
    critical_section::with(|cs| BUTTON.replace(cs, Some(button)));
}

/// Whether the button is pressed (GP15 pulled to ground).
#[bluescript::export]
fn button_pressed() -> bool {
    critical_section::with(|cs| {
        let mut button = BUTTON.borrow_ref_mut(cs);
        let button = button.as_mut().expect("`main` calls `button::init`");
        let Ok(low) = button.is_low();
        low
    })
}
