//! An ESP board reached without a probe (`--transport serial`): flashed over
//! its serial port by the chip's ROM bootloader (espflash), then reached on
//! the same port through the serial agent its firmware serves on UART0.
//!
//! The agent listens on UART0, which a DevKit's USB-UART bridge reaches:
//! the port is that bridge's, never the chip's own USB-JTAG-serial
//! ([`espflash::choose_agent_port`]). After flashing, the port stays open
//! (espflash's hard reset has released the reset lines, as its monitor
//! does); a later session opens it again and releases them
//! ([`SerialPortLink::open`]), so that the board runs on untouched.

use super::{Board, ProbeTarget, RunningBoard, StartOptions};
use crate::connection::espflash;
use crate::connection::output::ProgramOutput;
use crate::connection::serial::{
    LinkLost, SerialLink, SerialOutput, SerialPortLink, Timing, DEFAULT_BAUD,
};
use crate::connection::{CoreAccess, SerialAgent};
use crate::progress::FlashProgressView;
use crate::shadow::Shadow;
use anyhow::{Context, Result};
use bluescript_serial_agent::Key;
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

/// Which serial port and rate, from `--port` and `--baud` or the project's
/// `port` and `baud` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialPortChoice {
    /// `None`: the one USB-UART bridge of a known kind connected.
    pub port: Option<String>,
    pub baud: u32,
}

impl Default for SerialPortChoice {
    fn default() -> SerialPortChoice {
        SerialPortChoice {
            port: None,
            baud: DEFAULT_BAUD,
        }
    }
}

/// Checks, before a long build, that the port `choice` names (or the one
/// bridge connected) is there: the errors of [`espflash::find_agent_port`].
pub fn check_connected(choice: &SerialPortChoice) -> Result<()> {
    espflash::find_agent_port(choice.port.as_deref()).map(drop)
}

/// Flashes `elf` over the serial port `options` chooses, verified, with a
/// progress bar when asked, and connects to the serial agent of the program
/// it starts; with the port's name. An image without the agent (or built
/// with another key) is flashed, but the error says so.
pub fn flash(
    board: Board,
    target: &ProbeTarget,
    elf: &Path,
    options: &StartOptions,
) -> Result<(SerialAgent, String)> {
    let esp = target
        .esp_chip
        .with_context(|| format!("the {board} board cannot be flashed over a serial port"))?;
    let choice = &options.serial_port;
    let port = espflash::find_agent_port(choice.port.as_deref())?;
    let mut view = options.progress.then(FlashProgressView::for_stderr);
    let open = espflash::flash(elf, esp, &port, &mut |event| {
        if let Some(view) = &mut view {
            view.event(event);
        }
    })?;
    let link = SerialPortLink::with_port(&port.port_name, choice.baud, open)?;
    let key = options.connection.serial_key;
    let agent = connect_agent(Box::new(link), &port.port_name, choice.baud, key)
        .context("the board was flashed, but its program cannot be reached")?;
    Ok((agent, port.port_name))
}

/// Connects to the serial agent of the board on `port` at `baud`, which
/// runs on.
pub fn connect(port: &str, baud: u32, key: Option<Key>) -> Result<SerialAgent> {
    let link = SerialPortLink::open(port, baud)?;
    connect_agent(Box::new(link), port, baud, key)
}

/// A board just reset boots (ROM, second-stage bootloader, esp-hal's
/// setup) before its agent answers: a first session is tried for longer.
fn connect_agent(
    link: Box<dyn SerialLink>,
    port: &str,
    baud: u32,
    key: Option<Key>,
) -> Result<SerialAgent> {
    let timing = Timing {
        attempts: 8,
        ..Timing::default()
    };
    SerialAgent::connect(link, key, timing).map_err(|error| {
        if !LinkLost::caused(&error) {
            return error; // it answered: a key or version mismatch, explained
        }
        error.context(format!(
            "no serial agent answers on {port} at {baud} baud: the board must run this project's \
             firmware, built with the runtime's `serial-agent` feature (as the templates are), \
             at that rate (`--baud`, or `baud` in [package.metadata.bluescript])"
        ))
    })
}

/// An ESP board flashed over its serial port, for `run`: its program runs
/// from the reset that ended the flashing (not halted at its start, as
/// through a probe: output it printed before the host came waits in its
/// buffers), and on after the host lets go.
pub struct EspSerialBoard {
    agent: Rc<RefCell<SerialAgent>>,
}

impl EspSerialBoard {
    /// Flashes `elf` and connects to its serial agent.
    pub fn start(
        board: Board,
        target: &ProbeTarget,
        elf: &Path,
        options: &StartOptions,
    ) -> Result<EspSerialBoard> {
        let (agent, _) = flash(board, target, elf, options)?;
        Ok(EspSerialBoard {
            agent: Rc::new(RefCell::new(agent)),
        })
    }
}

impl RunningBoard for EspSerialBoard {
    fn core(&mut self) -> &mut dyn CoreAccess {
        &mut self.agent
    }

    fn output(&mut self, _shadow: &Shadow) -> Box<dyn ProgramOutput> {
        Box::new(SerialOutput(self.agent.clone()))
    }

    fn failure_details(&mut self) -> Option<String> {
        None
    }

    fn outlives_its_link(&self) -> bool {
        true
    }

    fn reconnect(&mut self) -> Result<()> {
        self.agent.borrow_mut().reconnect().map(drop)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::connection::serial::tests::pseudo_terminal;

    #[test]
    fn a_port_where_no_agent_answers_says_what_to_check() {
        // A port nobody answers on: a board running firmware without the
        // agent, or at another rate.
        let (port, _slave, _master) = pseudo_terminal();
        let error = format!("{:#}", connect(&port, 9600, None).err().unwrap());
        assert!(
            error.starts_with(&format!("no serial agent answers on {port} at 9600 baud"))
                && error.contains("`serial-agent`")
                && error.contains("--baud"),
            "{error}"
        );
    }

    #[test]
    fn the_agent_is_reached_on_the_port_and_the_link_reopened() {
        use crate::connection::serial::tests::{fake_board, RAM};
        let (port, first_slave, board) = fake_board(None);
        let agent = Rc::new(RefCell::new(connect(&port, DEFAULT_BAUD, None).unwrap()));
        let mut running = EspSerialBoard {
            agent: agent.clone(),
        };
        assert!(running.outlives_its_link());
        running.core().write_word(RAM, 42).unwrap();
        // The port is closed and opened again: this process holds it
        // exclusively, so it must let go of it first.
        running.reconnect().unwrap();
        assert_eq!(running.core().read_word(RAM).unwrap(), 42);
        drop((running, agent, first_slave));
        assert_eq!(board.join().unwrap()[..4], 42u32.to_le_bytes());
    }
}
