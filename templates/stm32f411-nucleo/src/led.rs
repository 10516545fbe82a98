//! LD2, the green user LED of the Nucleo-F411RE, on PA5, lit when the pin
//! is high. Functions marked `#[bluescript::export]` can be called from
//! scripts.

use bluescript::driver::Peripheral;
use stm32f4xx_hal::gpio::{Output, PushPull, PA5};

pub type Led = PA5<Output<PushPull>>;

/// The pin, which `main` hands over before any script runs.
static LED: Peripheral<Led> = Peripheral::new();

pub fn init(led: Led) {
    LED.init(led);
}

/// Switches the LED on or off.
#[bluescript::export]
fn led_set(on: bool) {
    LED.with(|led| led.set_state(on.into()));
}

/// Switches the LED to the other state.
#[bluescript::export]
fn led_toggle() {
    LED.with(|led| led.toggle());
}

/// Whether the LED is on.
#[bluescript::export]
fn led_is_on() -> bool {
    LED.with(|led| led.is_set_high())
}
