//! 32-bit RISC-V (RV32IMC, RV32IMAC: the ESP32-C3's and C6's instruction
//! sets). Code pointers are plain addresses; with the C extension an
//! instruction is 2-byte aligned.

use super::{CodeSync, FloatAbi, GdbRegisters, Isa};
use anyhow::{bail, Result};

#[derive(Debug)]
pub struct Riscv32 {
    /// The ISA string of the target (`RV32IMC`).
    pub extensions: &'static str,
}

static RV32IMC: Riscv32 = Riscv32 {
    extensions: "RV32IMC",
};
static RV32IMAC: Riscv32 = Riscv32 {
    extensions: "RV32IMAC",
};

pub(super) fn lookup(triple: &str) -> Option<&'static dyn Isa> {
    let isa: &'static Riscv32 = match triple {
        "riscv32imc-unknown-none-elf" => &RV32IMC,
        "riscv32imac-unknown-none-elf" => &RV32IMAC,
        _ => return None,
    };
    Some(isa)
}

impl Isa for Riscv32 {
    fn family(&self) -> &'static str {
        "riscv32"
    }

    fn variant(&self) -> &'static str {
        self.extensions
    }

    /// `jalr` ignores bit 0, but an odd symbol would still be a mistake:
    /// RISC-V has no mode bit in pointers.
    fn check_function_symbol(&self, symbol: &str, address: u32) -> Result<()> {
        if !address.is_multiple_of(self.instruction_alignment()) {
            bail!("`{symbol}` is not aligned RISC-V code ({address:#x})");
        }
        Ok(())
    }

    fn code_start(&self, pointer: u32) -> u32 {
        pointer
    }

    fn instruction_alignment(&self) -> u32 {
        2
    }

    /// `.riscv.attributes` describes the object for linkers; the image's
    /// code never reads it.
    fn patch_discarded_sections(&self) -> &'static [&'static str] {
        &[".comment", ".riscv.attributes", ".eh_frame*"]
    }

    fn patch_rustc_flags(&self) -> &'static [&'static str] {
        &[]
    }

    fn code_sync(&self) -> CodeSync {
        CodeSync::FenceI
    }

    /// x0–x31 (sp = x2), then pc = 32.
    fn gdb_registers(&self) -> GdbRegisters {
        GdbRegisters {
            pc: 32,
            sp: 2,
            width: 4,
        }
    }

    fn float_abi(&self) -> FloatAbi {
        FloatAbi::Soft
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_pointers_are_plain_aligned_addresses() {
        let rv = lookup("riscv32imc-unknown-none-elf").unwrap();
        rv.check_function_symbol("f", 0x8000_0102).unwrap();
        let error = rv
            .check_function_symbol("f", 0x8000_0101)
            .unwrap_err()
            .to_string();
        assert!(error.contains("not aligned RISC-V code"), "{error}");
        assert_eq!(rv.code_start(0x8000_0102), 0x8000_0102);
        assert_eq!(rv.code_sync(), CodeSync::FenceI);
    }
}
