//! Espressif's RISC-V chips (ESP32-C3, ESP32-C6) under esp-hal, chosen by
//! the runtime's `esp32c3` / `esp32c6` feature.
//!
//! esp-hal's runtime (esp-riscv-rt) owns the vectored trap table and the
//! interrupt controller. Interrupts go through esp-hal's handlers, the tick
//! among them (`tick.rs`: a SYSTIMER alarm); exceptions come to the
//! runtime's `_start_trap` (entry 0 of the table, which riscv-rt lets the
//! firmware define), so faults run on the runtime's trap stack as on
//! QEMU's `virt`. The bootloader locks every PMP entry on the C3, so the
//! script stack's guard is a debug trigger instead (`guard.rs`), and the
//! script stack is a static of the runtime's (`stack.rs`): esp-hal's linker
//! script, not the template's `memory.x`, lays out RAM.

#[cfg(all(feature = "esp32c3", feature = "esp32c6"))]
compile_error!("bs-runtime: enable one of the features `esp32c3` and `esp32c6`, not both");

pub(super) mod guard;
mod stack;
pub(super) mod tick;

/// Whether esp-hal is running an interrupt handler: it raises the
/// interrupt controller's run level for the handler's priority. (Its
/// handlers run on the interrupted stack, not on the trap stack.)
pub(super) fn in_hal_interrupt() -> bool {
    !esp_hal::interrupt::RunLevel::current().is_thread()
}

/// How far above its data address code RAM is fetched from: on the C3,
/// SRAM is DRAM at 0x3FC80000 and IRAM at 0x40380000; the C6 has one
/// address for both.
pub(super) const CODE_ALIAS_OFFSET: usize = if cfg!(feature = "esp32c3") {
    0x4038_0000 - 0x3fc8_0000
} else {
    0
};
