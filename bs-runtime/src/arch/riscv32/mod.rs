//! RISC-V (RV32, machine mode): the ESP32-C3's and ESP32-C6's cores, and
//! QEMU's `virt` machine.

mod context;
mod counter;
mod guard;
mod idle;
mod nlr;
mod tick;
mod trap;

pub(crate) use context::{in_interrupt, stack_pointer};
pub(crate) use counter::instructions_retired;
pub(crate) use guard::{install_stack_guard, run_on_stack};
pub(crate) use idle::{sync_instruction_fetch, unmask_interrupts, wait_for_interrupt};
pub(crate) use nlr::{call_catching, jump_to_catcher};
pub(crate) use tick::{tick_sample, tick_start, tick_stop};
