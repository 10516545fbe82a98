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

/// The device interrupts of the MPS2 AN386: 32, as on the board and in
/// QEMU's model of it. There is no peripheral access crate for the board,
/// so they all go to `DefaultHandler`.
#[unsafe(link_section = ".vector_table.interrupts")]
#[unsafe(no_mangle)]
static __INTERRUPTS: [unsafe extern "C" fn(); 32] = {
    extern "C" {
        fn DefaultHandler();
    }
    [DefaultHandler; 32]
};

/// Every device interrupt: UART0's receive interrupt serves the serial
/// agent. A driver that needs another interrupt adds it here.
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn == uart::RX_IRQ as i16 {
        bluescript::serial_agent::on_receive(&mut uart::Uart0);
    }
}
