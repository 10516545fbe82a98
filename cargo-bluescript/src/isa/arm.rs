//! Arm M-profile cores, which run Thumb code only: Armv6-M (Cortex-M0/M0+),
//! Armv7-M (M3), Armv7E-M (M4, M7) and Armv8-M Mainline (M33).

use super::{CodeSync, FloatAbi, GdbRegisters, Isa};
use anyhow::{bail, Result};

/// The M-profile architecture versions, which differ in instructions, not in
/// anything the host does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArmProfile {
    V6M,
    V7M,
    V7EM,
    V8MMain,
}

#[derive(Debug)]
pub struct Arm {
    pub profile: ArmProfile,
    pub float_abi: FloatAbi,
}

static ARMV6M: Arm = Arm {
    profile: ArmProfile::V6M,
    float_abi: FloatAbi::Soft,
};
static ARMV7M: Arm = Arm {
    profile: ArmProfile::V7M,
    float_abi: FloatAbi::Soft,
};
static ARMV7EM: Arm = Arm {
    profile: ArmProfile::V7EM,
    float_abi: FloatAbi::Soft,
};
static ARMV7EM_HF: Arm = Arm {
    profile: ArmProfile::V7EM,
    float_abi: FloatAbi::Hard,
};
static ARMV8M_MAIN: Arm = Arm {
    profile: ArmProfile::V8MMain,
    float_abi: FloatAbi::Soft,
};
static ARMV8M_MAIN_HF: Arm = Arm {
    profile: ArmProfile::V8MMain,
    float_abi: FloatAbi::Hard,
};

pub(super) fn lookup(triple: &str) -> Option<&'static dyn Isa> {
    let isa: &'static Arm = match triple {
        "thumbv6m-none-eabi" => &ARMV6M,
        "thumbv7m-none-eabi" => &ARMV7M,
        "thumbv7em-none-eabi" => &ARMV7EM,
        "thumbv7em-none-eabihf" => &ARMV7EM_HF,
        "thumbv8m.main-none-eabi" => &ARMV8M_MAIN,
        "thumbv8m.main-none-eabihf" => &ARMV8M_MAIN_HF,
        _ => return None,
    };
    Some(isa)
}

impl Isa for Arm {
    fn family(&self) -> &'static str {
        "arm"
    }

    fn variant(&self) -> &'static str {
        match self.profile {
            ArmProfile::V6M => "Armv6-M",
            ArmProfile::V7M => "Armv7-M",
            ArmProfile::V7EM => "Armv7E-M",
            ArmProfile::V8MMain => "Armv8-M Mainline",
        }
    }

    /// A Thumb function's symbol has bit 0 set, and so must every pointer
    /// to it: a branch to an even address faults (there is no Arm state).
    fn check_function_symbol(&self, symbol: &str, address: u32) -> Result<()> {
        if address & 1 == 0 {
            bail!("`{symbol}` is not Thumb code ({address:#x})");
        }
        Ok(())
    }

    fn code_start(&self, pointer: u32) -> u32 {
        pointer & !1
    }

    fn instruction_alignment(&self) -> u32 {
        2
    }

    /// Unwinding tables (`-Cpanic=abort` never unwinds) and build
    /// attributes.
    fn patch_discarded_sections(&self) -> &'static [&'static str] {
        &[".ARM.exidx*", ".ARM.extab*", ".comment", ".ARM.attributes"]
    }

    fn patch_rustc_flags(&self) -> &'static [&'static str] {
        &[]
    }

    fn code_sync(&self) -> CodeSync {
        CodeSync::None
    }

    /// r0–r12, sp = 13, lr = 14, pc = 15, then xPSR.
    fn gdb_registers(&self) -> GdbRegisters {
        GdbRegisters {
            pc: 15,
            sp: 13,
            width: 4,
        }
    }

    fn float_abi(&self) -> FloatAbi {
        self.float_abi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumb_pointers_have_bit_0_set() {
        let arm = lookup("thumbv6m-none-eabi").unwrap();
        arm.check_function_symbol("f", 0x2000_0101).unwrap();
        let error = arm
            .check_function_symbol("f", 0x2000_0100)
            .unwrap_err()
            .to_string();
        assert!(error.contains("not Thumb code"), "{error}");
        assert_eq!(arm.code_start(0x2000_0101), 0x2000_0100);
        assert!(arm.patch_discarded_sections().contains(&".ARM.exidx*"));
    }
}
