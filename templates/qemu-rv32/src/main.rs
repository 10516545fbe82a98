//! Firmware: the BlueScript runtime, the drivers in this crate, and the
//! program compiled from `scripts/` by `cargo bluescript build`.

#![no_std]
#![no_main]

mod led;
mod uart;

// Defines `SCRIPTS`, the compiled program.
bluescript::scripts!();

#[riscv_rt::entry]
fn main() -> ! {
    uart::Uart0::start();
    bluescript::run(&SCRIPTS)
}

/// Every external interrupt (the runtime's trap handler calls it): the
/// UART's receive interrupt serves the serial agent. A driver that needs
/// another interrupt adds it here.
#[unsafe(no_mangle)]
extern "C" fn MachineExternal() {
    let source = uart::Uart0::claim();
    if source == uart::UART_SOURCE {
        bluescript::serial_agent::on_receive(&mut uart::Uart0);
    }
    if source != 0 {
        uart::Uart0::complete(source);
    }
}
