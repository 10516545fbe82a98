//! Debug probes: the host's hands on the device.
//!
//! Everything the host does to a running board (read RTT output, write a
//! patch, switch a slot, reset) goes through [`Probe`]. The trait is kept to
//! what every transport can do: a GDB remote stub (QEMU, OpenOCD, Black Magic
//! Probe, probe-rs's GDB server) implements it in [`gdb`], and a probe-rs
//! library implementation fits the same shape (`Core::halt`, `Core::run`,
//! `Core::status`, memory access, `Core::reset_and_halt`).
//!
//! Memory access requires a halted core: a GDB stub halts the guest on any
//! byte it receives, and halting makes multi-word writes atomic from the
//! firmware's point of view. [`with_halted`] wraps the usual
//! halt → access → resume sequence.

pub mod gdb;

pub use gdb::GdbProbe;

use anyhow::{bail, Result};

/// What the core is doing, as far as the probe knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetStatus {
    Running,
    Halted,
    /// The program ended (e.g. a semihosting exit under QEMU) with this exit
    /// code; the board cannot be used any more.
    Exited(i32),
}

/// A connection to one core of a board.
///
/// Multi-byte values are little-endian: every supported target (Cortex-M,
/// RV32) is.
pub trait Probe {
    /// Stops the core. Does nothing if it is already halted.
    fn halt(&mut self) -> Result<()>;

    /// Lets the core run. Does nothing if it is already running.
    fn resume(&mut self) -> Result<()>;

    /// The last state this probe saw; cheap, no I/O. Use [`Probe::status`]
    /// to notice that a running core stopped on its own.
    fn is_halted(&self) -> bool;

    /// Reads `buf.len()` bytes at `addr`. The core must be halted.
    fn read_memory(&mut self, addr: u32, buf: &mut [u8]) -> Result<()>;

    /// Writes `data` at `addr`. The core must be halted.
    fn write_memory(&mut self, addr: u32, data: &[u8]) -> Result<()>;

    /// Writes one aligned 32-bit word: what switches a function slot. The
    /// core must be halted, so the firmware sees either the old or the new
    /// value, never a mix.
    fn write_word(&mut self, addr: u32, value: u32) -> Result<()> {
        check_word_aligned(addr)?;
        self.write_memory(addr, &value.to_le_bytes())
    }

    /// Reads one aligned 32-bit word. The core must be halted.
    fn read_word(&mut self, addr: u32) -> Result<u32> {
        check_word_aligned(addr)?;
        let mut bytes = [0; 4];
        self.read_memory(addr, &mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    /// Resets the whole board and leaves the core halted at the reset vector.
    fn reset_and_halt(&mut self) -> Result<()>;

    /// Checks, without blocking, whether a running core stopped or the
    /// program exited.
    fn status(&mut self) -> Result<TargetStatus>;
}

/// Runs `f` with the core halted: halts it if it was running, and resumes it
/// afterwards only in that case, so nested uses and already-halted cores are
/// left as they were. The core is resumed even if `f` fails.
pub fn with_halted<T>(
    probe: &mut dyn Probe,
    f: impl FnOnce(&mut dyn Probe) -> Result<T>,
) -> Result<T> {
    let was_running = !probe.is_halted();
    if was_running {
        probe.halt()?;
    }
    let result = f(probe);
    if was_running {
        let resumed = probe.resume();
        // The first failure is the one worth reporting.
        let value = result?;
        resumed?;
        return Ok(value);
    }
    result
}

fn check_word_aligned(addr: u32) -> Result<()> {
    if !addr.is_multiple_of(4) {
        bail!("internal error: word access at 0x{addr:08x}, which is not 4-byte aligned");
    }
    Ok(())
}

/// An in-memory board for unit tests: one RAM region, a halted flag,
/// counters of memory round trips, and faults to inject.
#[cfg(test)]
pub(crate) mod fake {
    use super::{Probe, TargetStatus};
    use anyhow::{bail, Result};

    pub(crate) struct MemoryProbe {
        pub base: u32,
        pub ram: Vec<u8>,
        pub halted: bool,
        pub reads: usize,
        pub writes: usize,
        pub halts: usize,
        pub resumes: usize,
        /// The link is cut once this many writes went through: every later
        /// access fails.
        pub cut_after_writes: Option<usize>,
        /// A byte that keeps its value whatever is written (a bad cell).
        pub stuck_byte: Option<u32>,
    }

    impl MemoryProbe {
        pub fn new(base: u32, size: usize) -> Self {
            MemoryProbe {
                base,
                ram: vec![0; size],
                halted: true,
                reads: 0,
                writes: 0,
                halts: 0,
                resumes: 0,
                cut_after_writes: None,
                stuck_byte: None,
            }
        }

        /// Direct access, as the firmware would write (no counters).
        pub fn poke(&mut self, addr: u32, data: &[u8]) {
            let range = self.range(addr, data.len()).unwrap();
            self.ram[range].copy_from_slice(data);
        }

        pub fn poke_word(&mut self, addr: u32, value: u32) {
            self.poke(addr, &value.to_le_bytes());
        }

        pub fn peek_byte(&self, addr: u32) -> u8 {
            self.ram[self.range(addr, 1).unwrap().start]
        }

        pub fn peek_word(&self, addr: u32) -> u32 {
            let range = self.range(addr, 4).unwrap();
            u32::from_le_bytes(self.ram[range].try_into().unwrap())
        }

        fn range(&self, addr: u32, len: usize) -> Result<std::ops::Range<usize>> {
            let start = addr.wrapping_sub(self.base) as usize;
            if addr < self.base || start + len > self.ram.len() {
                bail!("fake probe: access outside RAM at 0x{addr:08x}");
            }
            Ok(start..start + len)
        }

        fn require_halted(&self) -> Result<()> {
            if self
                .cut_after_writes
                .is_some_and(|limit| self.writes >= limit)
            {
                bail!("fake probe: the link is cut");
            }
            if !self.halted {
                bail!("fake probe: memory access while running");
            }
            Ok(())
        }
    }

    impl Probe for MemoryProbe {
        fn halt(&mut self) -> Result<()> {
            self.halts += 1;
            self.halted = true;
            Ok(())
        }

        fn resume(&mut self) -> Result<()> {
            self.resumes += 1;
            self.halted = false;
            Ok(())
        }

        fn is_halted(&self) -> bool {
            self.halted
        }

        fn read_memory(&mut self, addr: u32, buf: &mut [u8]) -> Result<()> {
            self.require_halted()?;
            self.reads += 1;
            let range = self.range(addr, buf.len())?;
            buf.copy_from_slice(&self.ram[range]);
            Ok(())
        }

        fn write_memory(&mut self, addr: u32, data: &[u8]) -> Result<()> {
            self.require_halted()?;
            self.writes += 1;
            let range = self.range(addr, data.len())?;
            let stuck = self.stuck_byte.map(|addr| (addr, self.peek_byte(addr)));
            self.ram[range].copy_from_slice(data);
            if let Some((addr, value)) = stuck {
                self.poke(addr, &[value]);
            }
            Ok(())
        }

        fn reset_and_halt(&mut self) -> Result<()> {
            self.ram.fill(0);
            self.halted = true;
            Ok(())
        }

        fn status(&mut self) -> Result<TargetStatus> {
            Ok(if self.halted {
                TargetStatus::Halted
            } else {
                TargetStatus::Running
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::MemoryProbe;
    use super::*;

    #[test]
    fn with_halted_halts_and_resumes_a_running_core() {
        let mut probe = MemoryProbe::new(0x2000_0000, 16);
        probe.halted = false;
        let value = with_halted(&mut probe, |p| {
            assert!(p.is_halted());
            p.write_word(0x2000_0004, 7)?;
            p.read_word(0x2000_0004)
        })
        .unwrap();
        assert_eq!(value, 7);
        assert!(!probe.is_halted());
        assert_eq!((probe.halts, probe.resumes), (1, 1));
    }

    #[test]
    fn with_halted_leaves_a_halted_core_halted() {
        let mut probe = MemoryProbe::new(0x2000_0000, 16);
        with_halted(&mut probe, |p| p.read_word(0x2000_0000)).unwrap();
        assert!(probe.is_halted());
        assert_eq!((probe.halts, probe.resumes), (0, 0));
    }

    #[test]
    fn with_halted_resumes_even_when_the_closure_fails() {
        let mut probe = MemoryProbe::new(0x2000_0000, 16);
        probe.halted = false;
        let err = with_halted(&mut probe, |p| p.read_word(0x1000_0000)).unwrap_err();
        assert!(err.to_string().contains("outside RAM"), "{err}");
        assert!(!probe.is_halted());
    }

    #[test]
    fn word_access_must_be_aligned() {
        let mut probe = MemoryProbe::new(0x2000_0000, 16);
        let err = probe.write_word(0x2000_0002, 1).unwrap_err();
        assert!(err.to_string().contains("aligned"), "{err}");
        assert!(probe.read_word(0x2000_0001).is_err());
    }
}
