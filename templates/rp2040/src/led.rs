//! The Pico's green user LED, on GPIO25, lit when the pin is high.
//! Functions marked `#[bluescript::export]` can be called from scripts.

use core::cell::RefCell;

use critical_section::Mutex;
use embedded_hal::digital::{OutputPin, StatefulOutputPin};
use rp2040_hal::gpio::bank0::Gpio25;
use rp2040_hal::gpio::{FunctionSioOutput, Pin, PullDown};

pub type Led = Pin<Gpio25, FunctionSioOutput, PullDown>;

/// The pin, which `main` hands over before any script runs.
static LED: Mutex<RefCell<Option<Led>>> = Mutex::new(RefCell::new(None));

pub fn init(led: Led) {
    critical_section::with(|cs| LED.replace(cs, Some(led)));
}

fn with_led<R>(f: impl FnOnce(&mut Led) -> R) -> R {
    critical_section::with(|cs| {
        let mut led = LED.borrow_ref_mut(cs);
        f(led.as_mut().expect("`main` calls `led::init`"))
    })
}

/// Switches the LED on or off.
#[bluescript::export]
fn led_set(on: bool) {
    let Ok(()) = with_led(|led| led.set_state(on.into()));
}

/// Switches the LED to the other state.
#[bluescript::export]
fn led_toggle() {
    let Ok(()) = with_led(|led| led.toggle());
}

/// Whether the LED is on.
#[bluescript::export]
fn led_is_on() -> bool {
    let Ok(high) = with_led(|led| led.is_set_high());
    high
}
