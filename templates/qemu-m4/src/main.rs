//! Firmware: the BlueScript runtime, the drivers in this crate, and the
//! program compiled from `scripts/` by `cargo bluescript build`.

#![no_std]
#![no_main]

mod led;
mod uart;

use cortex_m_rt::exception;

// Defines `SCRIPTS`, the compiled program.
bluescript::scripts!();

#[cortex_m_rt::entry]
fn main() -> ! {
    uart::Uart0::start();
    bluescript::run(&SCRIPTS)
}

/// Every device interrupt (there is no peripheral access crate for the
/// MPS2 board, so they all come here): UART0's receive interrupt serves the
/// serial agent. A driver that needs another interrupt adds it here.
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn == uart::RX_IRQ as i16 {
        bluescript::serial_agent::on_receive(&mut uart::Uart0);
    }
}
