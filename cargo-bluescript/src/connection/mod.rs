//! The host's connection to a device, in three concerns, each a trait that
//! a transport implements as far as it can:
//!
//! - **core access** ([`CoreAccess`]): halt, run, the core's state, memory
//!   reads and writes, reset; and what the transport can do beyond that
//!   ([`Capabilities`]: probe-rs reads memory while a Cortex-M core runs, a
//!   GDB stub cannot). A debugger's registers (and later breakpoints and
//!   stepping) are a separate, optional trait, [`CoreDebug`];
//! - **flashing** ([`Flash`]): making an image the program the board runs on
//!   its own, after the host is gone;
//! - **output** ([`output::ProgramOutput`]): the program's stdout and
//!   stderr, from RTT buffers read through core access, or from a serial
//!   stream.
//!
//! [`gdb::GdbStub`] is core access (and registers) through a GDB remote stub
//! (QEMU, OpenOCD, the Black Magic Probe, probe-rs's GDB server); a probe-rs
//! library implementation fits the same shape (`Core::halt`, `Core::run`,
//! `Core::status`, memory access, `Core::reset_and_halt`), and
//! [`serial::SerialAgent`] reaches the serial agent in the device's runtime.
//! Each board says which it uses (`crate::board`).
//!
//! Memory access through a GDB stub requires a halted core: the stub halts
//! the guest on any byte it receives, and halting makes multi-word writes
//! atomic from the firmware's point of view. [`with_halted`] wraps the usual
//! halt → access → run sequence.

pub mod espflash;
#[cfg(test)]
pub(crate) mod faults;
pub mod gdb;
pub mod output;
pub mod probe_rs;
pub mod serial;

pub use gdb::GdbStub;
pub use serial::SerialAgent;

use crate::isa::GdbRegisters;
use anyhow::{bail, Result};
use std::cell::RefCell;
use std::ops::Range;
use std::path::Path;
use std::rc::Rc;

/// What the core is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreState {
    Running,
    Halted,
    /// The program ended (e.g. a semihosting exit under QEMU) with this exit
    /// code; the board cannot be used any more.
    Exited(i32),
}

/// What a [`CoreAccess`] can do beyond halting, running and accessing the
/// memory of a halted core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Memory can be read and written while the core runs (a Cortex-M's
    /// debug port does it through the bus, without stopping the core), so
    /// output can be read without halting the program.
    pub memory_while_running: bool,
}

/// Access to one core of a board.
///
/// Multi-byte values are little-endian: every supported architecture
/// (Cortex-M, RV32) is.
pub trait CoreAccess {
    /// What this access can do beyond the basics.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// Stops the core. Does nothing if it is already halted.
    fn halt(&mut self) -> Result<()>;

    /// Lets the core run. Does nothing if it is already running.
    fn run(&mut self) -> Result<()>;

    /// What the core is doing; notices a core that stopped, or a program
    /// that exited, on its own. Never blocks.
    fn state(&mut self) -> Result<CoreState>;

    /// Reads `buf.len()` bytes at `addr`. The core must be halted, unless
    /// [`Capabilities::memory_while_running`].
    fn read_memory(&mut self, addr: u32, buf: &mut [u8]) -> Result<()>;

    /// Writes `data` at `addr`. The core must be halted, unless
    /// [`Capabilities::memory_while_running`].
    fn write_memory(&mut self, addr: u32, data: &[u8]) -> Result<()>;

    /// Writes one aligned 32-bit word: what switches a function slot. With
    /// the core halted, the firmware sees either the old or the new value,
    /// never a mix.
    fn write_word(&mut self, addr: u32, value: u32) -> Result<()> {
        check_word_aligned(addr)?;
        self.write_memory(addr, &value.to_le_bytes())
    }

    /// Writes every `(address, value)` aligned word so that the firmware
    /// sees all of them or none: a patch's slots and its new epoch. This
    /// default writes them one by one, which is that only with the core
    /// halted; an access that writes while the core runs (a serial agent)
    /// commits them at once. `scratch` is free memory (8 bytes a word) it may
    /// stage a long list in.
    fn commit_words(&mut self, words: &[(u32, u32)], scratch: Range<u32>) -> Result<()> {
        let _ = scratch;
        for &(addr, value) in words {
            self.write_word(addr, value)?;
        }
        Ok(())
    }

    /// Reads one aligned 32-bit word.
    fn read_word(&mut self, addr: u32) -> Result<u32> {
        check_word_aligned(addr)?;
        let mut bytes = [0; 4];
        self.read_memory(addr, &mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    /// Resets the whole board and leaves the core halted at the reset vector.
    fn reset_and_halt(&mut self) -> Result<()>;

    /// What a debugger needs beyond this, if the transport has it.
    fn debug(&mut self) -> Option<&mut dyn CoreDebug> {
        None
    }
}

/// The part of core access only a debugger needs: registers now, and
/// breakpoints and stepping when the debugger comes. A GDB stub and probe-rs
/// have it; a serial agent does not.
pub trait CoreDebug {
    /// Reads core register `number` of the halted core, in GDB's numbering,
    /// which `registers` (the architecture's,
    /// [`crate::isa::Isa::gdb_registers`]) describes.
    fn read_register(&mut self, registers: GdbRegisters, number: u32) -> Result<u32>;
}

/// Making an image the program a board runs from then on, on its own: a
/// probe writes the board's flash memory; an emulator, which has none,
/// starts in the background with the image (`board::qemu::QemuFlash`).
pub trait Flash {
    /// What the board runs after flashing, for the host to reach it again.
    type Flashed;

    /// Writes the ELF `image` to the board and lets it run; files the board
    /// keeps (its log) go in `dir`.
    fn flash(&self, image: &Path, dir: &Path) -> Result<Self::Flashed>;
}

/// A stage of writing an image to flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashPhase {
    /// Reading back what an erase would lose and must be written again.
    Read,
    Erase,
    Program,
    Verify,
}

/// What flashing reports as it goes, for a front end to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlashEvent {
    /// The phase will come, with this many bytes if known.
    Planned {
        phase: FlashPhase,
        total: Option<u64>,
    },
    Started(FlashPhase),
    /// `bytes` more were done.
    Progress {
        phase: FlashPhase,
        bytes: u64,
    },
    Finished(FlashPhase),
    Failed(FlashPhase),
    /// A message of the flash algorithm on the chip.
    Message(String),
}

/// Runs `f` with the core halted: halts it if it was running, and lets it
/// run afterwards only in that case, so nested uses and already-halted cores
/// are left as they were. The core runs again even if `f` fails.
pub fn with_halted<T>(
    core: &mut dyn CoreAccess,
    f: impl FnOnce(&mut dyn CoreAccess) -> Result<T>,
) -> Result<T> {
    let was_running = core.state()? == CoreState::Running;
    if was_running {
        core.halt()?;
    }
    let result = f(core);
    if was_running {
        let ran = core.run();
        // The first failure is the one worth reporting.
        let value = result?;
        ran?;
        return Ok(value);
    }
    result
}

/// Runs `f` with the core's memory accessible: while it runs if the access
/// can ([`Capabilities::memory_while_running`]), else halted briefly
/// ([`with_halted`]).
pub fn with_memory<T>(
    core: &mut dyn CoreAccess,
    f: impl FnOnce(&mut dyn CoreAccess) -> Result<T>,
) -> Result<T> {
    if core.capabilities().memory_while_running {
        f(core)
    } else {
        with_halted(core, f)
    }
}

fn check_word_aligned(addr: u32) -> Result<()> {
    if !addr.is_multiple_of(4) {
        bail!("internal error: word access at 0x{addr:08x}, which is not 4-byte aligned");
    }
    Ok(())
}

/// An in-memory core for unit tests: one RAM region, a halted flag,
/// counters of memory round trips, and faults to inject.
#[cfg(test)]
pub(crate) mod fake {
    use super::{Capabilities, CoreAccess, CoreState};
    use anyhow::{bail, Result};

    pub(crate) struct FakeCore {
        pub base: u32,
        pub ram: Vec<u8>,
        pub halted: bool,
        pub reads: usize,
        pub writes: usize,
        pub halts: usize,
        pub runs: usize,
        /// Memory can be accessed while the core runs (as probe-rs can).
        pub memory_while_running: bool,
        /// The link is cut once this many writes went through: every later
        /// access fails.
        pub cut_after_writes: Option<usize>,
        /// A byte that keeps its value whatever is written (a bad cell).
        pub stuck_byte: Option<u32>,
    }

    impl FakeCore {
        pub fn new(base: u32, size: usize) -> Self {
            FakeCore {
                base,
                ram: vec![0; size],
                halted: true,
                reads: 0,
                writes: 0,
                halts: 0,
                runs: 0,
                memory_while_running: false,
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
                bail!("fake core: access outside RAM at 0x{addr:08x}");
            }
            Ok(start..start + len)
        }

        /// Memory access is allowed now.
        fn check_access(&self) -> Result<()> {
            if self
                .cut_after_writes
                .is_some_and(|limit| self.writes >= limit)
            {
                bail!("fake core: the link is cut");
            }
            if !self.halted && !self.memory_while_running {
                bail!("fake core: memory access while running");
            }
            Ok(())
        }
    }

    impl CoreAccess for FakeCore {
        fn capabilities(&self) -> Capabilities {
            Capabilities {
                memory_while_running: self.memory_while_running,
            }
        }

        fn halt(&mut self) -> Result<()> {
            self.halts += 1;
            self.halted = true;
            Ok(())
        }

        fn run(&mut self) -> Result<()> {
            self.runs += 1;
            self.halted = false;
            Ok(())
        }

        fn state(&mut self) -> Result<CoreState> {
            Ok(if self.halted {
                CoreState::Halted
            } else {
                CoreState::Running
            })
        }

        fn read_memory(&mut self, addr: u32, buf: &mut [u8]) -> Result<()> {
            self.check_access()?;
            self.reads += 1;
            let range = self.range(addr, buf.len())?;
            buf.copy_from_slice(&self.ram[range]);
            Ok(())
        }

        fn write_memory(&mut self, addr: u32, data: &[u8]) -> Result<()> {
            self.check_access()?;
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
    }
}

/// A core access shared: by the device and the output that goes through
/// it (a serial agent's), or by the code under test and the test.
impl<T: CoreAccess> CoreAccess for Rc<RefCell<T>> {
    fn capabilities(&self) -> Capabilities {
        self.borrow().capabilities()
    }

    fn halt(&mut self) -> Result<()> {
        self.borrow_mut().halt()
    }

    fn run(&mut self) -> Result<()> {
        self.borrow_mut().run()
    }

    fn state(&mut self) -> Result<CoreState> {
        self.borrow_mut().state()
    }

    fn read_memory(&mut self, addr: u32, buf: &mut [u8]) -> Result<()> {
        self.borrow_mut().read_memory(addr, buf)
    }

    fn write_memory(&mut self, addr: u32, data: &[u8]) -> Result<()> {
        self.borrow_mut().write_memory(addr, data)
    }

    fn commit_words(&mut self, words: &[(u32, u32)], scratch: Range<u32>) -> Result<()> {
        self.borrow_mut().commit_words(words, scratch)
    }

    fn reset_and_halt(&mut self) -> Result<()> {
        self.borrow_mut().reset_and_halt()
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeCore;
    use super::*;

    #[test]
    fn with_halted_halts_and_runs_a_running_core() {
        let mut core = FakeCore::new(0x2000_0000, 16);
        core.halted = false;
        let value = with_halted(&mut core, |p| {
            assert_eq!(p.state()?, CoreState::Halted);
            p.write_word(0x2000_0004, 7)?;
            p.read_word(0x2000_0004)
        })
        .unwrap();
        assert_eq!(value, 7);
        assert!(!core.halted);
        assert_eq!((core.halts, core.runs), (1, 1));
    }

    #[test]
    fn with_halted_leaves_a_halted_core_halted() {
        let mut core = FakeCore::new(0x2000_0000, 16);
        with_halted(&mut core, |p| p.read_word(0x2000_0000)).unwrap();
        assert!(core.halted);
        assert_eq!((core.halts, core.runs), (0, 0));
    }

    #[test]
    fn with_halted_runs_the_core_even_when_the_closure_fails() {
        let mut core = FakeCore::new(0x2000_0000, 16);
        core.halted = false;
        let err = with_halted(&mut core, |p| p.read_word(0x1000_0000)).unwrap_err();
        assert!(err.to_string().contains("outside RAM"), "{err}");
        assert!(!core.halted);
    }

    #[test]
    fn word_access_must_be_aligned() {
        let mut core = FakeCore::new(0x2000_0000, 16);
        let err = core.write_word(0x2000_0002, 1).unwrap_err();
        assert!(err.to_string().contains("aligned"), "{err}");
        assert!(core.read_word(0x2000_0001).is_err());
    }
}
