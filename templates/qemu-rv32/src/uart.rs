//! The UART of QEMU's `virt` machine (an NS16550A at 0x1000_0000, its
//! interrupt source 10 of the PLIC), which carries the serial agent: the
//! host reads and writes memory, switches function slots and collects the
//! program's output through it when it runs `cargo bluescript watch
//! --transport serial` (QEMU connects the UART to a socket). Its receive
//! interrupt hands every byte to the agent.

use core::ptr::{read_volatile, write_volatile};

/// The UART's registers (bytes).
const BASE: usize = 0x1000_0000;
const DATA: usize = BASE;
const INTERRUPT_ENABLE: usize = BASE + 1;
const FIFO_CONTROL: usize = BASE + 2;
const LINE_CONTROL: usize = BASE + 3;
const LINE_STATUS: usize = BASE + 5;

const RX_DATA_INTERRUPT: u8 = 1 << 0;
const FIFO_ENABLE_AND_CLEAR: u8 = 0b111;
const EIGHT_BITS_NO_PARITY: u8 = 0b11;
const STATUS_DATA_READY: u8 = 1 << 0;
const STATUS_TX_EMPTY: u8 = 1 << 5;

/// The platform-level interrupt controller, for hart 0 in machine mode
/// (context 0).
const PLIC: usize = 0x0c00_0000;
const PLIC_PRIORITY: usize = PLIC;
const PLIC_ENABLE: usize = PLIC + 0x2000;
const PLIC_THRESHOLD: usize = PLIC + 0x20_0000;
const PLIC_CLAIM: usize = PLIC + 0x20_0004;

/// The UART's interrupt source.
pub const UART_SOURCE: u32 = 10;

/// The UART, as the serial agent uses it.
pub struct Uart0;

impl Uart0 {
    /// Sets 8N1 with FIFOs, enables the receive interrupt and routes it
    /// through the PLIC to machine mode (the runtime unmasks interrupts
    /// when it starts).
    pub fn start() {
        // SAFETY: the UART's and the PLIC's registers; nothing else in the
        // firmware uses them.
        unsafe {
            write_volatile(LINE_CONTROL as *mut u8, EIGHT_BITS_NO_PARITY);
            write_volatile(FIFO_CONTROL as *mut u8, FIFO_ENABLE_AND_CLEAR);
            write_volatile(INTERRUPT_ENABLE as *mut u8, RX_DATA_INTERRUPT);
            let source = UART_SOURCE as usize;
            write_volatile((PLIC_PRIORITY + 4 * source) as *mut u32, 1);
            let enable = (PLIC_ENABLE + 4 * (source / 32)) as *mut u32;
            write_volatile(enable, read_volatile(enable) | 1 << (source % 32));
            write_volatile(PLIC_THRESHOLD as *mut u32, 0);
            riscv::register::mie::set_mext();
        }
    }

    /// Takes the pending interrupt from the PLIC (0: none).
    pub fn claim() -> u32 {
        // SAFETY: the PLIC's claim register.
        unsafe { read_volatile(PLIC_CLAIM as *const u32) }
    }

    /// Tells the PLIC that interrupt `source` was handled.
    pub fn complete(source: u32) {
        // SAFETY: the PLIC's completion register.
        unsafe { write_volatile(PLIC_CLAIM as *mut u32, source) }
    }
}

impl bluescript::serial_agent::SerialPort for Uart0 {
    fn read(&mut self) -> Option<u8> {
        // SAFETY: the UART's registers. Reading the data register clears
        // the receive interrupt once the FIFO is empty.
        unsafe {
            if read_volatile(LINE_STATUS as *const u8) & STATUS_DATA_READY == 0 {
                return None;
            }
            Some(read_volatile(DATA as *const u8))
        }
    }

    fn write(&mut self, byte: u8) {
        // SAFETY: the UART's registers.
        unsafe {
            while read_volatile(LINE_STATUS as *const u8) & STATUS_TX_EMPTY == 0 {}
            write_volatile(DATA as *mut u8, byte);
        }
    }
}
