//! UART0, wired to the DevKit's USB-UART bridge, which carries the serial
//! agent: the host reads and writes memory, switches function slots and
//! collects the program's output through it when it runs `cargo bluescript
//! watch --transport serial` (115 200 baud). Its receive interrupt hands
//! every byte to the agent.

use core::cell::RefCell;

use critical_section::Mutex;
use esp_hal::gpio::interconnect::{PeripheralInput, PeripheralOutput};
use esp_hal::interrupt::{InterruptHandler, Priority};
use esp_hal::peripherals::UART0;
use esp_hal::uart::{Config, RxConfig, Uart, UartInterrupt};
use esp_hal::Blocking;

/// The agent's UART, lent to the receive interrupt.
static UART: Mutex<RefCell<Option<Uart<'static, Blocking>>>> = Mutex::new(RefCell::new(None));

/// Sets UART0 up on `tx` and `rx` at 115 200 baud, and serves the agent
/// from its receive interrupt.
pub fn init(
    uart: UART0<'static>,
    tx: impl PeripheralOutput<'static>,
    rx: impl PeripheralInput<'static>,
) {
    // Every byte raises the interrupt as soon as it is in.
    let config = Config::default()
        .with_baudrate(115_200)
        .with_rx(RxConfig::default().with_fifo_full_threshold(1));
    let mut uart = Uart::new(uart, config)
        .expect("UART0 takes 115 200 baud")
        .with_tx(tx)
        .with_rx(rx);
    // The tick's priority: while the agent holds the program, the tick
    // waits too (the agent counts the time held).
    uart.set_interrupt_handler(InterruptHandler::new(on_receive, Priority::Priority1));
    critical_section::with(|cs| {
        uart.listen(UartInterrupt::RxFifoFull | UartInterrupt::RxTimeout);
        UART.borrow_ref_mut(cs).replace(uart);
    });
}

/// UART0's interrupt: serves the frames received (and, while the host
/// holds the program, does not return until it lets go). The UART is
/// taken out of its cell meanwhile rather than served in a critical
/// section, which would mask every interrupt for as long.
extern "C" fn on_receive() {
    let Some(mut uart) = critical_section::with(|cs| UART.borrow_ref_mut(cs).take()) else {
        return;
    };
    bluescript::serial_agent::on_receive(&mut Port(&mut uart));
    critical_section::with(|cs| UART.borrow_ref_mut(cs).replace(uart));
}

/// UART0, as the serial agent uses it.
struct Port<'a>(&'a mut Uart<'static, Blocking>);

impl bluescript::serial_agent::SerialPort for Port<'_> {
    fn read(&mut self) -> Option<u8> {
        // Acknowledged first: a byte arriving after the check raises it again.
        self.0
            .clear_interrupts(UartInterrupt::RxFifoFull | UartInterrupt::RxTimeout);
        let mut byte = [0];
        let read = match self.0.read_buffered(&mut byte) {
            // A line error is cleared by reporting it, and the bytes after
            // it are read on (the agent refuses the damaged frame by its CRC).
            Err(_) => self.0.read_buffered(&mut byte),
            read => read,
        };
        matches!(read, Ok(1)).then_some(byte[0])
    }

    fn write(&mut self, byte: u8) {
        // Waits for room in the FIFO; it never fails.
        let _ = self.0.write(&[byte]);
    }
}
