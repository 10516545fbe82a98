//! The deterministic cost counter: instructions retired (`minstret`). On
//! hardware it counts what the core executed; under QEMU it counts exactly
//! only with `-icount` (`shift=0`: one nanosecond of virtual time per
//! instruction, so the 1 ms tick stays 1 ms of virtual time).

use core::arch::asm;

/// Instructions retired since reset, read as two halves consistently.
pub(crate) fn instructions_retired() -> Option<u64> {
    loop {
        let (high, low, again): (u32, u32, u32);
        // SAFETY: reads machine counters (implemented by every RV32 core
        // this runs on; QEMU's `virt` has them).
        unsafe {
            asm!(
                "csrr {high}, minstreth",
                "csrr {low}, minstret",
                "csrr {again}, minstreth",
                high = out(reg) high,
                low = out(reg) low,
                again = out(reg) again,
                options(nomem, nostack, preserves_flags),
            );
        }
        if high == again {
            return Some(u64::from(high) << 32 | u64::from(low));
        }
    }
}
