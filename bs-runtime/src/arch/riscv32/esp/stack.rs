//! The script stack on ESP chips: a static of the runtime, whose bounds
//! are the `__bs_script_stack_bottom` / `__bs_script_stack_top` symbols
//! that `memory.x` defines on other boards (esp-hal's linker script lays
//! out RAM there). `BLUESCRIPT_SCRIPT_STACK_SIZE` sets its size (bytes,
//! or KiB with a K suffix); 16 KiB otherwise.

use super::guard::GUARD;

const SCRIPT_STACK_SIZE: usize = match option_env!("BLUESCRIPT_SCRIPT_STACK_SIZE") {
    Some(text) => crate::abi::parse_size(text.as_bytes()),
    None => 16 * 1024,
};

const _: () = assert!(SCRIPT_STACK_SIZE.is_multiple_of(GUARD) && SCRIPT_STACK_SIZE >= 4 * GUARD);

/// Aligned to the guard's size, so that the guard is its lowest bytes.
#[repr(C, align(1024))]
struct ScriptStack([u8; SCRIPT_STACK_SIZE]);

const _: () = assert!(core::mem::align_of::<ScriptStack>() == GUARD);

/// In `.uninit`: a stack needs no zeroing.
#[unsafe(link_section = ".uninit.__bs_script_stack")]
static mut SCRIPT_STACK: ScriptStack = ScriptStack([0; SCRIPT_STACK_SIZE]);

core::arch::global_asm!(
    ".globl __bs_script_stack_bottom",
    ".globl __bs_script_stack_top",
    ".set __bs_script_stack_bottom, {stack}",
    ".set __bs_script_stack_top, {stack} + {size}",
    stack = sym SCRIPT_STACK,
    size = const SCRIPT_STACK_SIZE,
);
