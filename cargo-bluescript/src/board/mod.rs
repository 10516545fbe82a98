//! Boards a BlueScript program can run on, and how to reach one: its core
//! ([`CoreAccess`]), its flashing and its output.
//!
//! Every board is one entry of [`BOARDS`] (in `list.rs`): its name, the Rust
//! target and so the architecture ([`crate::isa`]), the template a new
//! project starts from (`templates/<name>/`), the memory facts the host
//! needs, and how it is started, flashed and reached. Code asks the entry;
//! nothing matches on a board's name.

pub mod esp_serial;
pub mod flashed;
mod list;
pub mod probe;
mod process;
pub mod qemu;

pub use esp_serial::{EspSerialBoard, SerialPortChoice};
pub use flashed::{AttachedBoard, Flashed, FlashedBoard, Stopped, Via};
pub use list::BOARDS;
pub use probe::{ProbeBoard, ProbeChoice};
pub use qemu::{QemuBoard, QemuOptions};

use crate::connection::output::{ProgramOutput, RttOutput};
use crate::connection::CoreAccess;
use crate::device::check_build;
use crate::isa::{self, Isa};
use crate::shadow::Shadow;
use anyhow::{bail, Result};
use bluescript_abi::HOST_ATTACHED;
use bluescript_serial_agent::Key;
use std::fmt;
use std::ops::Deref;
use std::path::Path;
use std::str::FromStr;

/// What the registry knows about one board.
#[derive(Debug)]
pub struct BoardInfo {
    /// The `board` key of `[package.metadata.bluescript]`, and the name of
    /// its template directory.
    pub name: &'static str,
    /// What it is, for people: the core and what emulates it.
    pub description: &'static str,
    /// The Rust target the firmware and its patches are built for.
    pub target: &'static str,
    pub memory: MemoryMap,
    /// How the board is started, flashed and reached.
    pub runner: Runner,
    /// The ways the host can reach the running program, the default first.
    pub transports: &'static [Transport],
}

/// How the host reaches a running program: what carries core access
/// (memory reads and writes, halting) and the program's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// The board's debug port: QEMU's GDB stub, or a debug probe. Output
    /// comes from RTT buffers read through it.
    #[default]
    Debugger,
    /// The serial agent built into the firmware, over the board's UART
    /// (`docs/serial-agent.md`): for boards without a debug probe.
    Serial,
}

impl Transport {
    /// Its name on the command line (`--transport serial`).
    pub fn name(self) -> &'static str {
        match self {
            Transport::Debugger => "debugger",
            Transport::Serial => "serial",
        }
    }
}

/// How the host reaches a board: the transport, and what it needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Connection {
    pub transport: Transport,
    /// The key the serial agent's frames are authenticated with: the
    /// project's (`Project::serial_key`), if it has one.
    pub serial_key: Option<Key>,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the host needs to know of a board's memory (everything else comes
/// from the image's symbols).
#[derive(Debug, Clone, Copy)]
pub struct MemoryMap {
    /// Where the image's code and constants live; `None` when the image is
    /// loaded into `ram`.
    pub flash: Option<Region>,
    /// Read-write memory, all of it usable by the program.
    pub ram: Region,
    /// Code RAM seen at two addresses: the patch region is written at its
    /// data address and runs at its executable one (ESP32-C3: DRAM
    /// 0x3FC80000 is IRAM 0x40380000). `None`: the same address does both.
    pub code_alias: Option<CodeAlias>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub start: u32,
    pub size: u32,
}

impl Region {
    pub fn contains(self, address: u32) -> bool {
        address.wrapping_sub(self.start) < self.size
    }
}

/// Code RAM reached through the data bus at `data` and fetched from at
/// `executable`, for `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeAlias {
    pub data: u32,
    pub executable: u32,
    pub size: u32,
}

impl MemoryMap {
    /// The address code at `data` runs at.
    pub fn executable_address(&self, data: u32) -> u32 {
        self.across_alias(data, |alias| (alias.data, alias.executable))
    }

    /// The address code running at `executable` is written at.
    pub fn data_address(&self, executable: u32) -> u32 {
        self.across_alias(executable, |alias| (alias.executable, alias.data))
    }

    /// `address` seen from the other side of the code alias, if it lies in
    /// the side whose start `sides` gives first.
    fn across_alias(&self, address: u32, sides: impl Fn(&CodeAlias) -> (u32, u32)) -> u32 {
        let Some(alias) = &self.code_alias else {
            return address;
        };
        let (from, to) = sides(alias);
        if (Region {
            start: from,
            size: alias.size,
        })
        .contains(address)
        {
            address - from + to
        } else {
            address
        }
    }
}

/// How a board is started, flashed and reached.
#[derive(Debug)]
pub enum Runner {
    /// Emulated by QEMU: `run` and `watch` start it halted with its GDB stub
    /// on a private Unix socket; `flash` starts it detached, recorded in
    /// `board.json`, and later sessions reach it through that socket.
    Qemu(QemuMachine),
    /// A real board reached through a debug probe (probe-rs, as a library):
    /// `run` and `watch` flash it and reach its core through the probe;
    /// `flash` leaves it running, recorded in `board.json`.
    Probe(ProbeTarget),
}

/// A real board's chip and how its image is written.
#[derive(Debug)]
pub struct ProbeTarget {
    /// probe-rs's name of the chip (`RP2040`, `nRF52840_xxAA`, `esp32c3`);
    /// `--chip` or the project's `chip` key may name another.
    pub chip: &'static str,
    /// The probe that reaches it, for people ("the on-board ST-Link").
    pub probe: &'static str,
    pub image_format: ImageFormat,
    /// An Espressif chip, which espflash can also flash over its serial
    /// port (its ROM bootloader), without a debug probe.
    pub esp_chip: Option<EspChip>,
}

/// How the ELF becomes what the chip boots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// The ELF's loadable segments written where they say.
    Elf,
    /// The ESP-IDF application image (probe-rs's `idf` loader, espflash's
    /// `IdfBootloaderFormat`): second-stage bootloader, partition table and
    /// the application with its descriptor.
    EspIdf,
}

/// The Espressif chips espflash is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EspChip {
    Esp32c3,
    Esp32c6,
}

/// A QEMU machine and what it takes to run and measure programs on it.
#[derive(Debug)]
pub struct QemuMachine {
    /// `qemu-system-arm`, `qemu-system-riscv32`.
    pub program: &'static str,
    /// The Debian package that has `program`.
    pub package: &'static str,
    /// `-machine` and any options the machine needs (`-bios none`).
    pub args: &'static [&'static str],
    /// How the benchmark counts instructions on it.
    pub counter: InstructionCounter,
}

/// What gives a deterministic instruction count under `-icount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstructionCounter {
    /// SysTick on the core clock of `clock_hz`, with `-icount shift=N`:
    /// each instruction takes 2^N ns, so `clock_hz * 2^N / 10^9` ticks.
    SysTick { clock_hz: u32, icount_shift: u32 },
    /// The `minstret` CSR, exact under `-icount shift=0`.
    Minstret,
}

impl InstructionCounter {
    /// The `-icount shift` that makes counts deterministic.
    pub fn icount_shift(self) -> u32 {
        match self {
            InstructionCounter::SysTick { icount_shift, .. } => icount_shift,
            InstructionCounter::Minstret => 0,
        }
    }
}

/// A board of the registry (the `board` key of
/// `[package.metadata.bluescript]`); a cheap handle to its [`BoardInfo`].
#[derive(Clone, Copy)]
pub struct Board(&'static BoardInfo);

impl Deref for Board {
    type Target = BoardInfo;

    fn deref(&self) -> &BoardInfo {
        self.0
    }
}

impl PartialEq for Board {
    fn eq(&self, other: &Board) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Board {}

impl fmt::Debug for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Board({})", self.0.name)
    }
}

impl Default for Board {
    /// `qemu-m4`, the board of projects that name none.
    fn default() -> Board {
        Board(&BOARDS[0])
    }
}

impl Board {
    /// Every board, the default first.
    pub fn all() -> impl Iterator<Item = Board> {
        BOARDS.iter().map(Board)
    }

    /// The board called `name`.
    pub fn named(name: &str) -> Result<Board> {
        if let Some(board) = Board::all().find(|b| b.name == name) {
            return Ok(board);
        }
        let known: Vec<_> = Board::all().map(|b| b.name).collect();
        bail!("unknown board `{name}`; known boards: {}", known.join(", "))
    }

    pub fn name(self) -> &'static str {
        self.0.name
    }

    pub fn description(self) -> &'static str {
        self.0.description
    }

    /// The Rust target the firmware is built for.
    pub fn target_triple(self) -> &'static str {
        self.0.target
    }

    /// The board's architecture.
    pub fn isa(self) -> &'static dyn Isa {
        isa::lookup(self.0.target).expect("every board's target has an architecture (tested)")
    }

    /// The directory under `templates/` a new project is made from.
    pub fn template(self) -> &'static str {
        self.0.name
    }

    /// The transport to use: `requested`, if the board has it (an error
    /// says which it has otherwise), or the board's default.
    pub fn transport(self, requested: Option<Transport>) -> Result<Transport> {
        match requested {
            Some(transport) => {
                self.check_transport(transport)?;
                Ok(transport)
            }
            None => Ok(self.0.transports[0]),
        }
    }

    /// Checks that the host can reach this board through `transport`, with
    /// an error that says which transports it has.
    pub fn check_transport(self, transport: Transport) -> Result<()> {
        if self.0.transports.contains(&transport) {
            return Ok(());
        }
        let known: Vec<_> = self.0.transports.iter().map(|t| t.name()).collect();
        let why = match transport {
            Transport::Serial => "its template has no serial agent",
            Transport::Debugger => "it has no debug port the host can use",
        };
        bail!(
            "the {} board cannot be reached with `--transport {transport}`: {why}; \
             it supports: {}",
            self.name(),
            known.join(", ")
        )
    }

    /// How it is started, flashed and reached.
    pub fn runner(self) -> &'static Runner {
        &self.0.runner
    }

    /// Every board QEMU emulates.
    pub fn emulated() -> impl Iterator<Item = Board> {
        Board::all().filter(|board| board.qemu().is_some())
    }

    /// The QEMU machine that emulates this board; `None` for a real board.
    pub fn qemu(self) -> Option<&'static QemuMachine> {
        match &self.0.runner {
            Runner::Qemu(machine) => Some(machine),
            Runner::Probe(_) => None,
        }
    }

    /// The chip and probe of a real board; `None` for an emulated one.
    pub fn probe_target(self) -> Option<&'static ProbeTarget> {
        match &self.0.runner {
            Runner::Probe(target) => Some(target),
            Runner::Qemu(_) => None,
        }
    }

    /// Checks that the programs this board needs are installed, with an
    /// error that says how to install them.
    pub fn ensure_tools_installed(self) -> Result<()> {
        match &self.0.runner {
            Runner::Qemu(_) => QemuBoard::ensure_installed(self),
            // probe-rs is part of this program: nothing else to install.
            Runner::Probe(_) => Ok(()),
        }
    }

    /// Makes `shadow`'s image the program the board runs from now on, and
    /// checks that it does. `state_dir` is the project's state directory,
    /// where the board's record (`board.json`) is kept.
    ///
    /// QEMU has no persistent flash: flashing starts it in the background
    /// with the image, replacing the QEMU an earlier flash started. A real
    /// board is flashed through its probe (`options.probe`), reset and run.
    pub fn flash(
        self,
        shadow: &Shadow,
        state_dir: &Path,
        options: &StartOptions,
    ) -> Result<Flashed> {
        if !shadow.image.is_file() {
            bail!(
                "the firmware {} does not exist (was it built?)",
                shadow.image.display()
            );
        }
        flashed::flash(self, shadow, state_dir, options)
    }

    /// Stops the board that `flash` left running for the project whose
    /// state directory is `state_dir`; `None` if there was none.
    pub fn stop_flashed(state_dir: &Path) -> Result<Option<Stopped>> {
        flashed::stop(state_dir)
    }

    /// Connects to the board that `flash` left running for the project whose
    /// state directory is `state_dir`, with the shadow machine of what it
    /// runs; `None` if no such board runs. The core is left halted.
    pub fn attach_flashed(
        state_dir: &Path,
        connection: &Connection,
    ) -> Result<Option<(AttachedBoard, Shadow)>> {
        flashed::attach(state_dir, connection)
    }

    /// Loads `elf` on the board and connects to it; the core is left halted
    /// at its reset vector (a real board's: at `main`, once its boot code
    /// has set the chip up; an ESP board flashed over its serial port runs
    /// from its reset).
    pub fn start(self, elf: &Path, options: &StartOptions) -> Result<Box<dyn RunningBoard>> {
        match &self.0.runner {
            Runner::Qemu(_) => {
                let qemu_options = QemuOptions {
                    icount: options.icount,
                    ..QemuOptions::default()
                };
                let connection = &options.connection;
                self.check_transport(connection.transport)?;
                let board = QemuBoard::start(self, elf, qemu_options)?;
                Ok(match connection.transport {
                    Transport::Debugger => Box::new(board),
                    Transport::Serial => Box::new(board.through_serial(connection.serial_key)),
                })
            }
            Runner::Probe(target) => match self.transport(Some(options.connection.transport))? {
                Transport::Debugger => Ok(Box::new(ProbeBoard::start(self, target, elf, options)?)),
                Transport::Serial => {
                    Ok(Box::new(EspSerialBoard::start(self, target, elf, options)?))
                }
            },
        }
    }
}

impl FromStr for Board {
    type Err = anyhow::Error;

    fn from_str(name: &str) -> Result<Board> {
        Board::named(name)
    }
}

impl fmt::Display for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to start a board.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Emulated boards only: run with deterministic instruction counting
    /// (`-icount shift=N`), for reproducible cost measurements.
    pub icount: Option<u32>,
    /// How the host reaches the board.
    pub connection: Connection,
    /// Real boards only: the probe and chip to use.
    pub probe: ProbeChoice,
    /// ESP boards over `--transport serial`: the serial port and its rate.
    pub serial_port: SerialPortChoice,
    /// Real boards only: show flashing's progress on stderr.
    pub progress: bool,
}

/// A board with a program loaded and the host connected to it. Dropping it
/// releases the board (and stops an emulator).
pub trait RunningBoard {
    /// Access to the board's core.
    fn core(&mut self) -> &mut dyn CoreAccess;

    /// Checks that the board just started (halted at its reset vector) runs
    /// `shadow`'s image, and lets it run with the host attached: its output
    /// channels then wait for the host rather than drop what it has not
    /// read yet. This default does it all through core access.
    fn run_attached(&mut self, shadow: &Shadow) -> Result<()> {
        let core = self.core();
        check_build(core, shadow)?;
        core.write_word(shadow.runtime.host_attached, HOST_ATTACHED)?;
        core.run()
    }

    /// Where the output of the program `shadow` describes comes from: RTT
    /// read through core access, unless the board sends it another way (a
    /// serial stream).
    fn output(&mut self, shadow: &Shadow) -> Box<dyn ProgramOutput> {
        Box::new(RttOutput::new(shadow.runtime.rtt))
    }

    /// When core access reports that the board stopped responding: what is
    /// known about why (e.g. the emulator's exit status and error output).
    fn failure_details(&mut self) -> Option<String>;

    /// Whether the board runs on without its link to the host, which can be
    /// reopened ([`RunningBoard::reconnect`]): a serial cable pulled out
    /// and plugged back in, rather than a board that went away with it.
    fn outlives_its_link(&self) -> bool {
        false
    }

    /// Reopens the link to a board that [outlives
    /// it](RunningBoard::outlives_its_link); an error while it is not back.
    fn reconnect(&mut self) -> Result<()> {
        bail!("internal error: this board's link cannot be reopened")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boards_parse_from_their_names() {
        let m4 = "qemu-m4".parse::<Board>().unwrap();
        assert_eq!(Board::default(), m4);
        assert_eq!(m4.to_string(), "qemu-m4");
        assert_eq!(m4.target_triple(), "thumbv7em-none-eabihf");
        let err = "arduino".parse::<Board>().unwrap_err().to_string();
        assert!(
            err.contains("unknown board `arduino`")
                && err.contains("qemu-m4, qemu-m3, qemu-m0, qemu-m33, qemu-rv32"),
            "{err}"
        );
    }

    #[test]
    fn a_board_without_the_serial_agent_refuses_the_serial_transport() {
        let m4 = Board::default();
        assert_eq!(m4.transport(None).unwrap(), Transport::Debugger);
        assert_eq!(
            m4.transport(Some(Transport::Serial)).unwrap(),
            Transport::Serial
        );
        let m3 = Board::named("qemu-m3").unwrap();
        let err = m3
            .transport(Some(Transport::Serial))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "the qemu-m3 board cannot be reached with `--transport serial`: its template \
             has no serial agent; it supports: debugger"
        );
    }

    #[test]
    fn every_board_has_an_architecture_and_a_unique_name() {
        let names: Vec<_> = Board::all().map(|b| b.name()).collect();
        for (i, board) in Board::all().enumerate() {
            assert!(!names[..i].contains(&board.name()), "{} twice", board);
            // Panics if the target is of no known architecture.
            let isa = board.isa();
            assert!(!isa.variant().is_empty());
            assert!(board.memory.ram.size > 0, "{board}");
        }
        assert_eq!(Board::named("qemu-rv32").unwrap().isa().family(), "riscv32");
        assert_eq!(Board::named("qemu-m0").unwrap().isa().variant(), "Armv6-M");
    }

    static PROBED: BoardInfo = BoardInfo {
        name: "probed-test-board",
        description: "a real board reached through a probe",
        target: "thumbv6m-none-eabi",
        memory: MemoryMap {
            flash: Some(Region {
                start: 0x1000_0000,
                size: 0x20_0000,
            }),
            ram: Region {
                start: 0x2000_0000,
                size: 0x4_0000,
            },
            code_alias: None,
        },
        runner: Runner::Probe(ProbeTarget {
            chip: "RP2040",
            probe: "a CMSIS-DAP probe",
            image_format: ImageFormat::Elf,
            esp_chip: None,
        }),
        transports: &[Transport::Debugger],
    };

    fn probe_rs_lists_nothing() -> bool {
        crate::connection::probe_rs::list().is_empty()
    }

    #[test]
    fn real_boards_have_a_chip_and_no_emulator() {
        let real = Board(&PROBED);
        assert!(real.qemu().is_none());
        assert_eq!(real.probe_target().unwrap().chip, "RP2040");
        // probe-rs is linked in: nothing to install.
        real.ensure_tools_installed().unwrap();
        // Without a probe (as on CI) starting a real board goes through
        // probe-rs, never QEMU, and says what is missing.
        if probe_rs_lists_nothing() {
            let elf = tempfile::NamedTempFile::new().unwrap();
            let err = real
                .start(elf.path(), &StartOptions::default())
                .err()
                .unwrap()
                .to_string();
            assert!(
                err.starts_with("no debug probe is connected") && err.contains("CMSIS-DAP"),
                "{err}"
            );
        }
        let m4 = Board::default();
        assert!(m4.probe_target().is_none());
        assert!(Board::emulated().all(|board| board.qemu().is_some()));
        assert!(Board::emulated().any(|board| board == m4));
    }

    #[test]
    fn code_aliases_translate_both_ways_inside_their_window() {
        // The ESP32-C3's: IRAM 0x40380000 is DRAM 0x3FC80000.
        let memory = MemoryMap {
            flash: None,
            ram: Region {
                start: 0x3fc8_0000,
                size: 0x6_0000,
            },
            code_alias: Some(CodeAlias {
                data: 0x3fc8_0000,
                executable: 0x4038_0000,
                size: 0x6_0000,
            }),
        };
        assert_eq!(memory.executable_address(0x3fc8_1234), 0x4038_1234);
        assert_eq!(memory.data_address(0x4038_1234), 0x3fc8_1234);
        // Outside the window, an address is its own alias.
        assert_eq!(memory.executable_address(0x3fce_0000), 0x3fce_0000);
        assert_eq!(memory.data_address(0x4200_0000), 0x4200_0000);
        let m4 = Board::default();
        assert_eq!(m4.memory.data_address(0x1234), 0x1234);
    }
}
