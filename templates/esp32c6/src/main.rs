//! Firmware: the BlueScript runtime, the drivers in this crate, and the
//! program compiled from `scripts/` by `cargo bluescript build`.

#![no_std]
#![no_main]

mod button;
mod led;
mod uart;

// The application descriptor the ESP-IDF bootloader checks (name, version).
esp_bootloader_esp_idf::esp_app_desc!();

// Defines `SCRIPTS`, the compiled program.
bluescript::scripts!();

#[esp_hal::main]
fn main() -> ! {
    let peripherals = esp_hal::init(esp_hal::Config::default());
    // The DevKit's RGB LED and BOOT button (see `led.rs`, `button.rs`).
    led::init(peripherals.RMT, peripherals.GPIO8);
    button::init(peripherals.GPIO9);
    // The serial agent on UART0, the USB-UART bridge's (`uart.rs`).
    uart::init(peripherals.UART0, peripherals.GPIO16, peripherals.GPIO17);
    bluescript::run(&SCRIPTS)
}
