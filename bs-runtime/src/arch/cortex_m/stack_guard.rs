//! The script stack on the process stack pointer (PSP), and the guard that
//! makes its overflow fault:
//!
//! - Armv7-M: the lowest [`GUARD`] bytes of the region are made
//!   inaccessible with the last MPU region (the default memory map stays in
//!   force everywhere else);
//! - Armv8-M Mainline: PSPLIM, the process stack limit, makes any stack
//!   pointer update below the region's bottom fault before it happens,
//!   however large the frame;
//! - Armv6-M: no stack limit, and the MPU is optional. Where there is one
//!   (the RP2040's Cortex-M0+), it guards as on Armv7-M; where there is
//!   none (the nRF51's Cortex-M0), the region must start where RAM starts,
//!   and the addresses below RAM must fault by themselves (they do on the
//!   nRF51 and in QEMU's `microbit`).
//!
//! Exception handlers keep the main stack (MSP, cortex-m-rt's
//! `_stack_start`), so the `HardFault` handler has a valid stack even
//! though the process stack is exhausted.

use core::arch::naked_asm;

/// Size of the MPU guard at the bottom of the script stack: a power of two
/// (an MPU region), and QEMU's page size, so that the guard does not slow
/// down accesses to the rest of RAM.
#[cfg(not(armv8m))]
const GUARD: usize = 1024;

/// Makes `[.., guard top)` fault; returns the guard's top. See the module
/// documentation for each architecture version.
pub(crate) fn install_stack_guard(bottom: usize, top: usize) -> usize {
    #[cfg(not(armv8m))]
    {
        if mpu_regions() == 0 {
            // No MPU (optional on Armv6-M and Armv7-M cores): the stack is
            // bounded by what lies below it.
            return bottom;
        }
        // The guard must be aligned to its size; whatever lies below it in
        // the region is simply not used.
        let guard = bottom.next_multiple_of(GUARD);
        assert!(
            guard + GUARD < top,
            "memory.x: the script stack is too small for its guard"
        );
        install_mpu_guard(guard);
        guard + GUARD
    }
    #[cfg(armv8m)]
    {
        let _ = top;
        // SAFETY: the limit lies below the stack about to be used; thread
        // mode does not run on PSP yet.
        unsafe {
            core::arch::asm!("msr psplim, {}", in(reg) bottom, options(nomem, nostack, preserves_flags))
        };
        bottom
    }
}

/// The number of MPU regions: 0 without an MPU, whose `MPU_TYPE` reads as
/// zero.
#[cfg(not(armv8m))]
fn mpu_regions() -> u32 {
    const MPU_TYPE: *const u32 = 0xE000_ED90 as *const u32;
    // SAFETY: an architectural register of the system control space.
    (unsafe { MPU_TYPE.read_volatile() } >> 8) & 0xff
}

/// Makes `[base, base + GUARD)` inaccessible with the last MPU region, and
/// enables the MPU with the default memory map as background for every
/// other address (privileged code only runs here: thread mode is
/// privileged). The registers are the same in Armv6-M's and Armv7-M's
/// PMSA.
#[cfg(not(armv8m))]
fn install_mpu_guard(base: usize) {
    const MPU_CTRL: *mut u32 = 0xE000_ED94 as *mut u32;
    const MPU_RNR: *mut u32 = 0xE000_ED98 as *mut u32;
    const MPU_RBAR: *mut u32 = 0xE000_ED9C as *mut u32;
    const MPU_RASR: *mut u32 = 0xE000_EDA0 as *mut u32;
    const CTRL_ENABLE: u32 = 1 << 0;
    const CTRL_PRIVDEFENA: u32 = 1 << 2;
    const RASR_XN: u32 = 1 << 28; // AP = 0b000: no access
    const RASR_SIZE: u32 = (GUARD.trailing_zeros() - 1) << 1;
    const RASR_ENABLE: u32 = 1 << 0;

    // SAFETY: architectural MPU registers; the guard covers stack memory
    // that nothing uses yet, and nothing else is restricted.
    unsafe {
        cortex_m::asm::dsb();
        MPU_RNR.write_volatile(mpu_regions() - 1);
        MPU_RBAR.write_volatile(base as u32);
        MPU_RASR.write_volatile(RASR_XN | RASR_SIZE | RASR_ENABLE);
        MPU_CTRL.write_volatile(MPU_CTRL.read_volatile() | CTRL_ENABLE | CTRL_PRIVDEFENA);
        cortex_m::asm::dsb();
        cortex_m::asm::isb();
    }
}

/// Sets PSP to `top`, makes thread mode use it and jumps to `f(arg)`. The
/// caller's frames on the main stack are never returned to, so the main
/// stack starts again from its top (cortex-m-rt's `_stack_start`) and
/// serves only the exception handlers from there on: on a board with
/// little RAM, every byte of it counts.
///
/// # Safety
/// Thread mode on the main stack; `[.., top)` is RAM that nothing else uses.
#[unsafe(naked)]
pub(crate) unsafe extern "C" fn run_on_stack(
    arg: usize,
    top: usize,
    f: unsafe extern "C" fn(usize) -> !,
) -> ! {
    naked_asm!(
        "msr psp, r1",
        "mrs r1, control",
        "movs r3, #2", // SPSEL: thread mode uses PSP
        "orrs r1, r3",
        "msr control, r1",
        "isb",
        "ldr r3, 1f",
        "msr msp, r3",
        "bx r2",
        ".p2align 2",
        "1: .word _stack_start",
    )
}
