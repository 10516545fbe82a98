//! What the host knows about an instruction set architecture, behind one
//! trait (as Cranelift's `isa/`): how code addresses look, how a patch is
//! linked and compiled, what a code write needs before the new code may run,
//! and how the debug server numbers the registers. One module per
//! architecture; [`lookup`] finds the one of a Rust target triple.
//!
//! Board facts (memory map, emulator, clock) are not here but in
//! [`crate::board`]: two boards of one architecture share all of this.

mod arm;
mod riscv32;

pub use arm::{Arm, ArmProfile};
pub use riscv32::Riscv32;

use anyhow::{bail, Result};
use std::fmt;

/// The host's knowledge of one architecture (and variant) the firmware and
/// its patches are compiled for.
pub trait Isa: fmt::Debug + Sync {
    /// The family, as the board list and the benchmark tables name it
    /// (`arm`, `riscv32`).
    fn family(&self) -> &'static str;

    /// The core or profile, for people (`Armv7E-M`, `RV32IMC`).
    fn variant(&self) -> &'static str;

    /// Checks that a patch function's linked symbol is callable code: the
    /// value a function slot holds is the symbol's value as it is.
    fn check_function_symbol(&self, symbol: &str, address: u32) -> Result<()>;

    /// Where the instructions of the function whose pointer is `pointer`
    /// start (Thumb pointers have bit 0 set).
    fn code_start(&self, pointer: u32) -> u32;

    /// Alignment of an instruction, in bytes.
    fn instruction_alignment(&self) -> u32;

    /// Input sections a patch must not keep (unwinding tables and notes that
    /// the image's code never reads).
    fn patch_discarded_sections(&self) -> &'static [&'static str];

    /// Extra `rustc` flags for a patch crate, after `--target`.
    fn patch_rustc_flags(&self) -> &'static [&'static str];

    /// What must happen between writing code into RAM and running it.
    fn code_sync(&self) -> CodeSync;

    /// The register numbering of a GDB remote stub for this architecture.
    fn gdb_registers(&self) -> GdbRegisters;

    /// How floats are computed and passed.
    fn float_abi(&self) -> FloatAbi;
}

/// What makes newly written code visible to instruction fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSync {
    /// Nothing: the core has no instruction cache in front of its RAM
    /// (Cortex-M0 to M33; an M7 would need its cache cleaned), and it
    /// leaves debug halt with its pipeline empty, so it fetches the new code.
    None,
    /// `fence.i` on the hart before it runs the new code (RISC-V, Zifencei).
    /// The host cannot execute it through a memory-only probe: the device
    /// runtime does it when it sees a new patch epoch, and debuggers
    /// (OpenOCD, probe-rs) do it when they resume a hart after a memory
    /// write. QEMU retranslates written code anyway, so it never shows a
    /// missing fence.
    FenceI,
}

/// How a GDB remote stub numbers this architecture's registers, and how
/// its `g` packet (every register, in number order) lays them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GdbRegisters {
    pub pc: u32,
    pub sp: u32,
    /// Bytes of each core register in a `g` packet.
    pub width: u32,
}

impl GdbRegisters {
    /// Where register `number` starts in the hex text of a `g` reply: the
    /// core registers come first and all have the same width.
    pub fn g_offset(self, number: u32) -> usize {
        (number * self.width * 2) as usize
    }
}

/// How float code is compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloatAbi {
    /// Single-precision floats in FPU registers (`eabihf`).
    Hard,
    /// Floats computed by compiler-builtins routines and passed in integer
    /// registers: `f32` arithmetic costs a call each.
    Soft,
}

/// The architecture of the Rust target `triple`.
pub fn lookup(triple: &str) -> Result<&'static dyn Isa> {
    if let Some(isa) = arm::lookup(triple) {
        return Ok(isa);
    }
    if let Some(isa) = riscv32::lookup(triple) {
        return Ok(isa);
    }
    bail!("the target `{triple}` is of no architecture cargo-bluescript supports (Thumb: thumbv6m, thumbv7m, thumbv7em, thumbv8m.main; RISC-V: riscv32imc, riscv32imac)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triples_find_their_architecture() {
        let m4 = lookup("thumbv7em-none-eabihf").unwrap();
        assert_eq!((m4.family(), m4.variant()), ("arm", "Armv7E-M"));
        assert_eq!(m4.float_abi(), FloatAbi::Hard);
        assert_eq!(
            lookup("thumbv7m-none-eabi").unwrap().float_abi(),
            FloatAbi::Soft
        );
        assert_eq!(lookup("thumbv6m-none-eabi").unwrap().variant(), "Armv6-M");
        assert_eq!(
            lookup("thumbv8m.main-none-eabihf").unwrap().variant(),
            "Armv8-M Mainline"
        );
        let rv = lookup("riscv32imc-unknown-none-elf").unwrap();
        assert_eq!((rv.family(), rv.variant()), ("riscv32", "RV32IMC"));
        assert_eq!(rv.float_abi(), FloatAbi::Soft);
        assert_eq!(
            lookup("riscv32imac-unknown-none-elf").unwrap().variant(),
            "RV32IMAC"
        );
        let error = lookup("x86_64-unknown-linux-gnu").unwrap_err().to_string();
        assert!(error.contains("`x86_64-unknown-linux-gnu`"), "{error}");
    }

    #[test]
    fn g_packets_lay_registers_out_in_number_order() {
        let arm = lookup("thumbv7em-none-eabihf").unwrap().gdb_registers();
        assert_eq!((arm.pc, arm.sp, arm.width), (15, 13, 4));
        assert_eq!(arm.g_offset(arm.pc), 120);
        let rv = lookup("riscv32imc-unknown-none-elf")
            .unwrap()
            .gdb_registers();
        assert_eq!((rv.pc, rv.sp, rv.width), (32, 2, 4));
        assert_eq!(rv.g_offset(rv.pc), 256);
    }
}
