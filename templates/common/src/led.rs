//! A pretend LED driver: QEMU has no LED, so it prints its state instead.
//! Functions marked `#[bluescript::export]` can be called from scripts.

use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static LED_ON: AtomicBool = AtomicBool::new(false);
static TOGGLES: AtomicI32 = AtomicI32::new(0);

/// Counts `n` more toggles. Drivers run in thread mode only, so a load and
/// a store suffice (neither Cortex-M0 nor RV32IMC has atomic
/// read-modify-write).
fn count_toggles(n: i32) {
    TOGGLES.store(TOGGLES.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

/// Switches the LED on or off.
#[bluescript::export]
fn led_set(on: bool) {
    if LED_ON.load(Ordering::Relaxed) != on {
        LED_ON.store(on, Ordering::Relaxed);
        count_toggles(1);
    }
    bluescript::println!("LED {}", if on { "on" } else { "off" });
}

/// How many times the LED has changed state.
#[bluescript::export]
fn led_toggle_count() -> i32 {
    TOGGLES.load(Ordering::Relaxed)
}

/// Blinks a pattern of `.` (short) and `-` (long) flashes.
#[bluescript::export]
fn led_blink(pattern: &str) -> i32 {
    let flashes = pattern.chars().filter(|c| matches!(c, '.' | '-')).count() as i32;
    count_toggles(2 * flashes);
    bluescript::println!("LED blinks {}", pattern);
    flashes
}

/// The LED's state, as a word.
#[bluescript::export]
fn led_state() -> &'static str {
    if LED_ON.load(Ordering::Relaxed) {
        "on"
    } else {
        "off"
    }
}
