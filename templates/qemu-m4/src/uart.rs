//! UART0 of the MPS2 board (an Arm CMSDK APB UART at 0x4000_4000), which
//! carries the serial agent: the host reads and writes memory, switches
//! function slots and collects the program's output through it when it
//! runs `cargo bluescript watch --transport serial` (QEMU connects the UART
//! to a socket). Its receive interrupt hands every byte to the agent.

use core::ptr::{read_volatile, write_volatile};

/// The UART's registers.
const BASE: usize = 0x4000_4000;
const DATA: usize = BASE;
const STATE: usize = BASE + 0x04;
const CTRL: usize = BASE + 0x08;
const INT_CLEAR: usize = BASE + 0x0c;
const BAUD_DIV: usize = BASE + 0x10;

const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
const CTRL_TX_ENABLE: u32 = 1 << 0;
const CTRL_RX_ENABLE: u32 = 1 << 1;
const CTRL_RX_INTERRUPT: u32 = 1 << 3;
const INT_RX: u32 = 1 << 1;

/// UART0's receive interrupt (its transmit interrupt is the next one).
pub const RX_IRQ: u16 = 0;

/// 25 MHz / 217: 115 200 baud (QEMU ignores the rate but requires a
/// divider of at least 16).
const DIVIDER: u32 = 217;

/// UART0, as the serial agent uses it.
pub struct Uart0;

impl Uart0 {
    /// Enables the transmitter, the receiver and the receive interrupt.
    pub fn start() {
        // SAFETY: UART0's registers; nothing else in the firmware uses it.
        unsafe {
            write_volatile(BAUD_DIV as *mut u32, DIVIDER);
            write_volatile(
                CTRL as *mut u32,
                CTRL_TX_ENABLE | CTRL_RX_ENABLE | CTRL_RX_INTERRUPT,
            );
            cortex_m::peripheral::NVIC::unmask(Irq(RX_IRQ));
        }
    }
}

impl bluescript::serial_agent::SerialPort for Uart0 {
    fn read(&mut self) -> Option<u8> {
        // SAFETY: UART0's registers.
        unsafe {
            // Cleared first: a byte arriving after the check raises it again.
            write_volatile(INT_CLEAR as *mut u32, INT_RX);
            if read_volatile(STATE as *const u32) & STATE_RX_FULL == 0 {
                return None;
            }
            Some(read_volatile(DATA as *const u32) as u8)
        }
    }

    fn write(&mut self, byte: u8) {
        // SAFETY: UART0's registers.
        unsafe {
            while read_volatile(STATE as *const u32) & STATE_TX_FULL != 0 {}
            write_volatile(DATA as *mut u32, u32::from(byte));
        }
    }
}

/// An interrupt number, as `cortex_m`'s NVIC takes it.
#[derive(Clone, Copy)]
struct Irq(u16);

// SAFETY: the number is an interrupt of this device.
unsafe impl cortex_m::interrupt::InterruptNumber for Irq {
    fn number(self) -> u16 {
        self.0
    }
}
