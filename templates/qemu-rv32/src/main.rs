//! Firmware: the BlueScript runtime, the drivers in this crate, and the
//! program compiled from `scripts/` by `cargo bluescript build`.

#![no_std]
#![no_main]

mod led;

// Defines `SCRIPTS`, the compiled program.
bluescript::scripts!();

#[riscv_rt::entry]
fn main() -> ! {
    bluescript::run(&SCRIPTS)
}
