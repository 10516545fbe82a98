//! A pretend LED driver: QEMU has no LED, so it prints its state instead.
//! Functions marked `#[bluescript::export]` can be called from scripts.

use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static LED_ON: AtomicBool = AtomicBool::new(false);
static TOGGLES: AtomicI32 = AtomicI32::new(0);

/// Switches the LED on or off.
#[bluescript::export]
fn led_set(on: bool) {
    if LED_ON.swap(on, Ordering::Relaxed) != on {
        TOGGLES.fetch_add(1, Ordering::Relaxed);
    }
    bluescript::println!("LED {}", if on { "on" } else { "off" });
}

/// How many times the LED has changed state.
#[bluescript::export]
fn led_toggle_count() -> i32 {
    TOGGLES.load(Ordering::Relaxed)
}
