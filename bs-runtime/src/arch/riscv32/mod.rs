//! RISC-V (RV32, machine mode): QEMU's `virt` machine, and the ESP32-C3's
//! and ESP32-C6's cores under esp-hal (`esp/`, the `esp32c3` / `esp32c6`
//! features).
//!
//! Shared: non-local exit, the context, the trap handler (`trap.rs`: faults
//! on a stack of their own), idle and `fence.i`. Per machine: the tick (the
//! CLINT's machine timer on `virt`, a SYSTIMER alarm on ESP), the stack
//! guard (a locked PMP entry on `virt`, a debug trigger on ESP) and the
//! cost counter (`minstret` on `virt`; none on ESP).

#[cfg(not(feature = "esp"))]
mod clint_tick;
mod context;
#[cfg(not(feature = "esp"))]
mod counter;
#[cfg(feature = "esp")]
mod esp;
mod guard;
mod idle;
mod nlr;
#[cfg(not(feature = "esp"))]
mod pmp_guard;
mod trap;

#[cfg(not(feature = "esp"))]
use clint_tick as tick;
#[cfg(feature = "esp")]
use esp::tick;

pub(crate) use context::{in_interrupt, stack_pointer};
#[cfg(not(feature = "esp"))]
pub(crate) use counter::instructions_retired;
pub(crate) use guard::{install_stack_guard, run_on_stack};
pub(crate) use idle::{sync_instruction_fetch, unmask_interrupts, wait_for_interrupt};
pub(crate) use nlr::{call_catching, jump_to_catcher};
pub(crate) use tick::{tick_sample, tick_start, tick_stop};

/// No count of retired instructions on ESP chips (the C3 has no
/// `minstret`): costs come from the tick timer.
#[cfg(feature = "esp")]
pub(crate) fn instructions_retired() -> Option<u64> {
    None
}

/// How far above its data address the patch region's code is fetched from
/// (the ESP32-C3's IRAM alias of its DRAM); 0 where one address does both.
#[cfg(feature = "esp")]
const CODE_ALIAS_OFFSET: usize = esp::CODE_ALIAS_OFFSET;
#[cfg(not(feature = "esp"))]
const CODE_ALIAS_OFFSET: usize = 0;
