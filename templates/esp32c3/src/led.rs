//! The on-board RGB LED, exported to scripts with `#[bluescript::export]`.
//!
//! On the ESP32-C3-DevKitM-1 and the ESP32-C6-DevKitC-1 alike, the LED is
//! a WS2812 on GPIO8: an addressable LED, which takes a colour over a
//! one-wire protocol (sent here by the RMT peripheral), not a level.

use core::cell::RefCell;

use critical_section::Mutex;
use esp_hal::peripherals::{GPIO8, RMT};
use esp_hal::rmt::Rmt;
use esp_hal::time::Rate;
use esp_hal::Blocking;
use esp_hal_smartled::{buffer_size, color_order, RmtSmartLeds, WS2812_TIMING};
use smart_leds_trait::{SmartLedsWrite, RGB8};

type Driver = RmtSmartLeds<'static, { buffer_size::<RGB8>(1) }, Blocking, RGB8, color_order::Grb>;

struct Led {
    driver: Driver,
    /// The colour `led_set(true)` shows.
    color: RGB8,
    on: bool,
}

static LED: Mutex<RefCell<Option<Led>>> = Mutex::new(RefCell::new(None));

/// The RMT's clock: 80 MHz, 12.5 ns steps for the WS2812's pulses.
const RMT_CLOCK_MHZ: u32 = 80;

/// Takes over the LED on `pin`, sent to through `rmt`; it starts off.
pub fn init(rmt: RMT<'static>, pin: GPIO8<'static>) {
    let rmt = Rmt::new(rmt, Rate::from_mhz(RMT_CLOCK_MHZ)).expect("the RMT runs at 80 MHz");
    let driver = Driver::new(WS2812_TIMING, rmt.channel0, pin, Rate::from_mhz(RMT_CLOCK_MHZ))
        .expect("the WS2812's timing fits the RMT");
    let mut led = Led {
        driver,
        color: RGB8::new(0, 0, 32),
        on: false,
    };
    led.show();
    critical_section::with(|cs| LED.borrow_ref_mut(cs).replace(led));
}

impl Led {
    fn show(&mut self) {
        let color = if self.on { self.color } else { RGB8::default() };
        if self.driver.write([color]).is_err() {
            bluescript::eprintln!("LED: the RMT transmission failed");
        }
    }
}

/// Runs `f` on the LED; `None` before `init`.
fn with_led<T>(f: impl FnOnce(&mut Led) -> T) -> Option<T> {
    critical_section::with(|cs| LED.borrow_ref_mut(cs).as_mut().map(f))
}

/// Switches the LED on (in its colour) or off.
#[bluescript::export]
fn led_set(on: bool) {
    with_led(|led| {
        led.on = on;
        led.show();
    });
}

/// Switches the LED to the other state.
#[bluescript::export]
fn led_toggle() {
    with_led(|led| {
        led.on = !led.on;
        led.show();
    });
}

/// Whether the LED is on.
#[bluescript::export]
fn led_is_on() -> bool {
    with_led(|led| led.on).unwrap_or(false)
}

/// Sets the colour the LED shows when on; each of `red`, `green`, `blue`
/// is clamped to 0..255.
#[bluescript::export]
fn led_color(red: i32, green: i32, blue: i32) {
    let level = |v: i32| v.clamp(0, 255) as u8;
    with_led(|led| {
        led.color = RGB8::new(level(red), level(green), level(blue));
        led.show();
    });
}
