//! Boards a BlueScript program can run on, and how to get a [`Probe`] to one.

pub mod flashed;
mod process;
pub mod qemu;

pub use flashed::{AttachedBoard, DeviceStatus, Flashed, FlashedBoard, Stopped};
pub use qemu::{QemuBoard, QemuOptions};

use crate::probe::Probe;
use crate::shadow::Shadow;
use anyhow::{bail, Result};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// A supported board (the `board` key of `[package.metadata.bluescript]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Board {
    /// A Cortex-M4F emulated by QEMU (`mps2-an386`).
    #[default]
    QemuM4,
}

impl Board {
    pub const ALL: [Board; 1] = [Board::QemuM4];

    pub fn name(self) -> &'static str {
        match self {
            Board::QemuM4 => "qemu-m4",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Board::QemuM4 => "Cortex-M4F emulated by QEMU (mps2-an386)",
        }
    }

    /// The Rust target the firmware is built for.
    pub fn target_triple(self) -> &'static str {
        match self {
            Board::QemuM4 => "thumbv7em-none-eabihf",
        }
    }

    /// Checks that the programs this board needs are installed, with an
    /// error that says how to install them.
    pub fn ensure_tools_installed(self) -> Result<()> {
        match self {
            Board::QemuM4 => QemuBoard::ensure_installed(),
        }
    }

    /// Makes `shadow`'s image the program the board runs from now on, and
    /// checks that it does. `state_dir` is the project's state directory,
    /// where the board's record (`board.json`) is kept.
    ///
    /// QEMU has no persistent flash: flashing starts it in the background
    /// with the image, replacing the QEMU an earlier flash started.
    pub fn flash(self, shadow: &Shadow, state_dir: &Path) -> Result<Flashed> {
        if !shadow.image.is_file() {
            bail!(
                "the firmware {} does not exist (was it built?)",
                shadow.image.display()
            );
        }
        flashed::flash(self, shadow, state_dir)
    }

    /// Stops the board that `flash` left running for the project whose
    /// state directory is `state_dir`; `None` if there was none.
    pub fn stop_flashed(state_dir: &Path) -> Result<Option<Stopped>> {
        flashed::stop(state_dir)
    }

    /// Connects to the board that `flash` left running for the project whose
    /// state directory is `state_dir`, with the shadow machine of what it
    /// runs; `None` if no such board runs. The core is left halted.
    pub fn attach_flashed(state_dir: &Path) -> Result<Option<(AttachedBoard, Shadow)>> {
        flashed::attach(state_dir)
    }

    /// Loads `elf` on the board and connects to it; the core is left halted
    /// at its reset vector.
    pub fn start(self, elf: &Path, options: &StartOptions) -> Result<Box<dyn RunningBoard>> {
        match self {
            Board::QemuM4 => {
                let qemu_options = QemuOptions {
                    icount: options.icount,
                    ..QemuOptions::default()
                };
                Ok(Box::new(QemuBoard::start(elf, qemu_options)?))
            }
        }
    }
}

impl FromStr for Board {
    type Err = anyhow::Error;

    fn from_str(name: &str) -> Result<Board> {
        if let Some(board) = Board::ALL.into_iter().find(|b| b.name() == name) {
            return Ok(board);
        }
        let known: Vec<_> = Board::ALL.iter().map(|b| b.name()).collect();
        bail!("unknown board `{name}`; known boards: {}", known.join(", "))
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
}

/// A board with a program loaded and a probe connected to it. Dropping it
/// releases the board (and stops an emulator).
pub trait RunningBoard {
    fn board(&self) -> Board;

    fn probe(&mut self) -> &mut dyn Probe;

    /// When the probe reports that the board stopped responding: what is
    /// known about why (e.g. the emulator's exit status and error output).
    fn failure_details(&mut self) -> Option<String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boards_parse_from_their_names() {
        assert_eq!("qemu-m4".parse::<Board>().unwrap(), Board::QemuM4);
        assert_eq!(Board::default(), Board::QemuM4);
        assert_eq!(Board::QemuM4.to_string(), "qemu-m4");
        assert_eq!(Board::QemuM4.target_triple(), "thumbv7em-none-eabihf");
        let err = "arduino".parse::<Board>().unwrap_err().to_string();
        assert!(
            err.contains("unknown board `arduino`") && err.contains("qemu-m4"),
            "{err}"
        );
    }
}
