//! The BOOT button, exported to scripts with `#[bluescript::export]`.
//!
//! On the ESP32-C3-DevKitM-1 and the ESP32-C6-DevKitC-1 alike, it pulls
//! GPIO9 low when pressed. GPIO9 is a strapping pin, read at reset only: an
//! ordinary input afterwards.

use core::cell::RefCell;

use critical_section::Mutex;
use esp_hal::gpio::{Input, InputConfig, Pull};
use esp_hal::peripherals::GPIO9;

static BUTTON: Mutex<RefCell<Option<Input<'static>>>> = Mutex::new(RefCell::new(None));

/// Takes over the button on `pin` (with the chip's pull-up: the board has
/// its own too).
pub fn init(pin: GPIO9<'static>) {
    let input = Input::new(pin, InputConfig::default().with_pull(Pull::Up));
    critical_section::with(|cs| BUTTON.borrow_ref_mut(cs).replace(input));
}

/// Whether the BOOT button is held down.
#[bluescript::export]
fn button_pressed() -> bool {
    critical_section::with(|cs| BUTTON.borrow_ref(cs).as_ref().is_some_and(|input| input.is_low()))
}
