//! Cortex-M (Armv6-M, Armv7-M, Armv7E-M, Armv8-M Mainline), one file per
//! machine trick; `build.rs` sets `armv6m` / `armv8m` where they differ.

mod context;
mod fault;
mod idle;
mod nlr;
mod stack_guard;
mod tick;

pub(crate) use context::{in_interrupt, stack_pointer};
pub(crate) use idle::{sync_instruction_fetch, unmask_interrupts, wait_for_interrupt};
pub(crate) use nlr::{call_catching, jump_to_catcher};
pub(crate) use stack_guard::{install_stack_guard, run_on_stack};
pub(crate) use tick::{instructions_retired, tick_sample, tick_start, tick_stop};
