//! B1, the blue user button of the Nucleo-F411RE, on PC13: it connects the
//! pin to ground, and a pull-up keeps it high until the button is pressed.
//! Functions marked `#[bluescript::export]` can be called from scripts.

use bluescript::driver::Peripheral;
use stm32f4xx_hal::gpio::{Input, PC13};

pub type Button = PC13<Input>;

/// The pin, which `main` hands over before any script runs.
static BUTTON: Peripheral<Button> = Peripheral::new();

pub fn init(button: Button) {
    BUTTON.init(button);
}

/// Whether B1 is pressed.
#[bluescript::export]
fn button_pressed() -> bool {
    BUTTON.with(|button| button.is_low())
}
