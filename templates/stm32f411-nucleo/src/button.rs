//! B1, the blue user button of the Nucleo-F411RE, on PC13: it connects the
//! pin to ground, and a pull-up keeps it high until the button is pressed.
//! Functions marked `#[bluescript::export]` can be called from scripts.

use core::cell::RefCell;

use critical_section::Mutex;
use stm32f4xx_hal::gpio::{Input, PC13};

pub type Button = PC13<Input>;

/// The pin, which `main` hands over before any script runs.
static BUTTON: Mutex<RefCell<Option<Button>>> = Mutex::new(RefCell::new(None));

pub fn init(button: Button) {
    critical_section::with(|cs| BUTTON.replace(cs, Some(button)));
}

/// Whether B1 is pressed.
#[bluescript::export]
fn button_pressed() -> bool {
    critical_section::with(|cs| {
        let button = BUTTON.borrow(cs).borrow();
        button
            .as_ref()
            .expect("`main` calls `button::init`")
            .is_low()
    })
}
