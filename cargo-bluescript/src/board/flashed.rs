//! A board left running by `cargo bluescript flash`, and its record,
//! `board.json` in the project's state directory.
//!
//! An emulator has no persistent flash, so flashing the QEMU board starts
//! QEMU with the image in the background, detached from this tool, the way a
//! real board goes on running its image once the flasher is done. The record
//! says what runs (pid, debug socket, image, shadow machine, build id) so
//! that the next `flash` replaces it, `flash --stop` stops it, and a host
//! session can later attach to it.

use super::esp_serial;
use super::probe::{self, ProbeFlash};
use super::qemu::{self, QemuFlash};
use super::{Board, Connection, Runner, RunningBoard, StartOptions, Transport};
use crate::connection::output::{ProgramOutput, RttOutput};
use crate::connection::probe_rs::ProbeCore;
use crate::connection::serial::SerialOutput;
use crate::connection::SerialAgent;
use crate::connection::{CoreAccess, Flash, GdbStub};
use crate::device::{ProgramStatus, STATE_BOOTING};
use crate::shadow::{RuntimeSymbols, Shadow};
use anyhow::{bail, Context, Result};
use bluescript_abi::program;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::fs;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const RECORD_FILE: &str = "board.json";
/// Holds what the flashed board runs, safe from later builds.
const FLASHED_DIR: &str = "flashed";

/// How long the firmware may take to leave `STATE_BOOTING`, so that the
/// state reported is the program's, not the boot code's.
const BOOT_TIMEOUT: Duration = Duration::from_secs(2);
const BOOT_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// What `board.json` records about a flashed board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlashedBoard {
    /// The board's name (`qemu-m4`).
    pub board: String,
    /// How the host reaches it.
    #[serde(flatten)]
    pub via: Via,
    /// The image the board runs (a copy no later build overwrites).
    pub image: PathBuf,
    /// The shadow machine of that image.
    pub shadow: PathBuf,
    pub build_id: u32,
    /// When the board was flashed, in seconds since the Unix epoch.
    pub started_at: u64,
}

/// How the host reaches a flashed board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Via {
    /// A detached QEMU.
    Qemu {
        /// The emulator's process.
        pid: u32,
        /// The GDB stub of the board (a Unix socket).
        socket: PathBuf,
        /// The emulator's output.
        log: PathBuf,
    },
    /// A real board, through a debug probe.
    Probe {
        /// The probe, as `--probe` names it (`2e8a:000c:E6614C31`).
        probe: String,
        /// The chip, as probe-rs names it.
        chip: String,
    },
    /// An ESP board, through the serial agent on its serial port.
    Serial {
        /// The port (`/dev/ttyUSB0`).
        port: String,
        baud: u32,
    },
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Via::Qemu { pid, .. } => write!(f, "QEMU pid {pid}"),
            Via::Probe { probe, chip } => write!(f, "{chip} through probe {probe}"),
            Via::Serial { port, baud } => write!(f, "serial port {port} at {baud} baud"),
        }
    }
}

impl FlashedBoard {
    /// The record in `state_dir`, if a board was flashed and not stopped.
    pub fn load(state_dir: &Path) -> Result<Option<FlashedBoard>> {
        let path = state_dir.join(RECORD_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => {
                return Err(err).with_context(|| format!("cannot read `{}`", path.display()))
            }
        };
        let record = serde_json::from_str(&text).with_context(|| {
            format!(
                "`{}` is corrupt: stop the board's emulator yourself if it still runs, then delete the file",
                path.display()
            )
        })?;
        Ok(Some(record))
    }

    /// Writes atomically: a torn record would leave a board nobody can stop.
    fn save(&self, state_dir: &Path) -> Result<()> {
        let path = state_dir.join(RECORD_FILE);
        let temporary = state_dir.join(format!("{RECORD_FILE}.tmp"));
        fs::write(&temporary, serde_json::to_vec_pretty(self)?)
            .and_then(|()| fs::rename(&temporary, &path))
            .with_context(|| format!("cannot write `{}`", path.display()))
    }

    fn remove(state_dir: &Path) -> Result<()> {
        let path = state_dir.join(RECORD_FILE);
        match fs::remove_file(&path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                Err(err).with_context(|| format!("cannot remove `{}`", path.display()))
            }
            _ => Ok(()),
        }
    }
}

/// The outcome of [`flash`].
#[derive(Debug)]
pub struct Flashed {
    pub record: FlashedBoard,
    /// The board this one replaced, if one was recorded.
    pub replaced: Option<Stopped>,
    /// What the new image was doing once started.
    pub status: ProgramStatus,
}

/// A recorded board that was stopped.
#[derive(Debug)]
pub struct Stopped {
    pub record: FlashedBoard,
    /// False if it had already stopped on its own.
    pub was_running: bool,
}

/// Replaces whatever runs on `board` with `shadow`'s image, starts it, and
/// checks that it runs that very image.
pub(super) fn flash(
    board: Board,
    shadow: &Shadow,
    state_dir: &Path,
    options: &StartOptions,
) -> Result<Flashed> {
    let connection = &options.connection;
    board.check_transport(connection.transport)?;
    // Like writing flash: the old program is gone before the new one starts.
    let replaced = stop(state_dir)?;
    let dir = state_dir.join(FLASHED_DIR);
    fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    // The next build overwrites the image and shadow machine of the state
    // directory; the board's own copies go on describing what it runs.
    let image = dir.join("image.elf");
    fs::copy(&shadow.image, &image)
        .with_context(|| format!("cannot copy `{}`", shadow.image.display()))?;
    let mut flashed_shadow = shadow.clone();
    flashed_shadow.image = image.clone();
    flashed_shadow.save(&dir)?;
    let record = |via| FlashedBoard {
        board: board.name().to_owned(),
        via,
        image: image.clone(),
        shadow: dir.join("shadow.json"),
        build_id: shadow.build_id,
        started_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
    };
    match board.runner() {
        Runner::Qemu(_) => {
            let mut qemu = QemuFlash(board).flash(&image, &dir)?;
            let record = record(Via::Qemu {
                pid: qemu.pid(),
                socket: qemu.socket().to_path_buf(),
                log: qemu.log().to_path_buf(),
            });
            let checked = record.save(state_dir).and_then(|()| {
                let mut core = FlashedCore::connect(board, &record, connection)?;
                check_image(core.access(), &shadow.runtime, shadow.build_id)
            });
            match checked {
                Ok(status) => Ok(Flashed {
                    record,
                    replaced,
                    status,
                }),
                Err(err) => {
                    let err = match qemu.exit_report() {
                        Some(why) => err.context(format!("QEMU could not start the board: {why}")),
                        None => err,
                    };
                    // A board that does not run what the host believes must
                    // not go on running.
                    qemu.kill();
                    // A leftover record is harmless: its pid is no QEMU any more.
                    let _ = FlashedBoard::remove(state_dir);
                    Err(err)
                }
            }
        }
        Runner::Probe(target) => {
            // What the board runs after a reset, before any patch: it comes
            // back to this when it is reset.
            let base = dir.join(probe::BASE_DIR);
            fs::create_dir_all(&base)
                .with_context(|| format!("cannot create `{}`", base.display()))?;
            flashed_shadow.save(&base)?;
            if connection.transport == Transport::Serial {
                let (mut agent, port) = esp_serial::flash(board, target, &image, options)?;
                let status = check_image(&mut agent, &shadow.runtime, shadow.build_id)?;
                let record = record(Via::Serial {
                    port,
                    baud: options.serial_port.baud,
                });
                record.save(state_dir)?;
                return Ok(Flashed {
                    record,
                    replaced,
                    status,
                });
            }
            let mut core = ProbeFlash {
                board,
                target,
                options,
            }
            .flash(&image, &dir)?;
            let record = record(Via::Probe {
                probe: core.probe().selector().to_string(),
                chip: core.chip().to_owned(),
            });
            let status = check_image(&mut core, &shadow.runtime, shadow.build_id)?;
            record.save(state_dir)?;
            Ok(Flashed {
                record,
                replaced,
                status,
            })
        }
    }
}

/// A connection to the board `flash` left running. Dropping it
/// disconnects and leaves the board running its program.
pub struct AttachedBoard {
    board: Board,
    record: FlashedBoard,
    core: FlashedCore,
}

/// How the host reaches a flashed board.
enum FlashedCore {
    /// Its GDB stub, which halts it on connecting.
    Debugger(GdbStub<UnixStream>),
    /// The serial agent in its firmware, on its UART socket; the program
    /// goes on running.
    Serial(Rc<RefCell<SerialAgent>>),
    /// A real board's debug probe; the program goes on running.
    Probe(Box<ProbeCore>),
}

impl FlashedCore {
    fn connect(
        board: Board,
        record: &FlashedBoard,
        connection: &Connection,
    ) -> Result<FlashedCore> {
        let socket = match (&record.via, board.runner()) {
            (Via::Qemu { socket, .. }, Runner::Qemu(_)) => socket,
            (Via::Probe { probe, chip }, Runner::Probe(target)) => {
                let probe = probe.parse()?;
                let core = probe::connect(target, Some(&probe), chip)?;
                return Ok(FlashedCore::Probe(Box::new(core)));
            }
            (Via::Serial { port, baud }, Runner::Probe(_)) => {
                let agent = esp_serial::connect(port, *baud, connection.serial_key)?;
                return Ok(FlashedCore::Serial(Rc::new(RefCell::new(agent))));
            }
            _ => bail!(
                "`{RECORD_FILE}` records the {board} board as reached another way than \
                 it is: delete it"
            ),
        };
        Ok(match connection.transport {
            Transport::Debugger => FlashedCore::Debugger(qemu::connect(socket)?),
            Transport::Serial => {
                let socket = qemu::serial_socket(board, socket)
                    .with_context(|| format!("the {board} board has no serial agent"))?;
                let agent = qemu::connect_serial(&socket, connection.serial_key)?;
                FlashedCore::Serial(Rc::new(RefCell::new(agent)))
            }
        })
    }

    fn access(&mut self) -> &mut dyn CoreAccess {
        match self {
            FlashedCore::Debugger(gdb) => gdb,
            FlashedCore::Serial(agent) => agent,
            FlashedCore::Probe(core) => core.as_mut(),
        }
    }
}

impl AttachedBoard {
    pub fn record(&self) -> &FlashedBoard {
        &self.record
    }

    /// Its core, before it is handed to a device.
    pub fn core_access(&mut self) -> &mut dyn CoreAccess {
        self.core.access()
    }
}

impl Drop for AttachedBoard {
    /// A flashed board runs on without the host, also when the host lets go
    /// of it mid-poll.
    fn drop(&mut self) {
        let _ = self.core.access().run();
    }
}

impl RunningBoard for AttachedBoard {
    fn core(&mut self) -> &mut dyn CoreAccess {
        self.core.access()
    }

    fn output(&mut self, shadow: &Shadow) -> Box<dyn ProgramOutput> {
        match &self.core {
            FlashedCore::Debugger(_) | FlashedCore::Probe(_) => {
                Box::new(RttOutput::new(shadow.runtime.rtt))
            }
            FlashedCore::Serial(agent) => Box::new(SerialOutput(agent.clone())),
        }
    }

    fn failure_details(&mut self) -> Option<String> {
        match &self.record.via {
            Via::Qemu { pid, log, .. } => (!is_running(self.board, &self.record)).then(|| {
                format!(
                    "the flashed board (QEMU pid {pid}) stopped; its output is in {}",
                    log.display()
                )
            }),
            Via::Probe { .. } | Via::Serial { .. } => None,
        }
    }

    fn outlives_its_link(&self) -> bool {
        matches!(self.core, FlashedCore::Serial(_))
    }

    fn reconnect(&mut self) -> Result<()> {
        match &self.core {
            FlashedCore::Serial(agent) => agent.borrow_mut().reconnect().map(drop),
            _ => bail!("internal error: only a serial link is reopened"),
        }
    }
}

/// Connects to the board recorded in `state_dir` if it still runs, and
/// loads the shadow machine of what it runs. Connecting through the
/// debugger halts the core; through the serial agent or a probe, it runs on.
pub(super) fn attach(
    state_dir: &Path,
    connection: &Connection,
) -> Result<Option<(AttachedBoard, Shadow)>> {
    let Some(record) = FlashedBoard::load(state_dir)? else {
        return Ok(None);
    };
    let board: Board = record.board.parse()?;
    if !is_running(board, &record) {
        return Ok(None);
    }
    let shadow_dir = record.shadow.parent().unwrap_or(state_dir);
    let shadow = Shadow::load(shadow_dir)?;
    board.check_transport(connection.transport)?;
    let core = FlashedCore::connect(board, &record, connection)?;
    Ok(Some((
        AttachedBoard {
            board,
            record,
            core,
        },
        shadow,
    )))
}

/// Stops the board recorded in `state_dir` and forgets it; `None` if no
/// board was recorded. A real board is halted through its probe.
pub(super) fn stop(state_dir: &Path) -> Result<Option<Stopped>> {
    let Some(record) = FlashedBoard::load(state_dir)? else {
        return Ok(None);
    };
    let board: Board = record.board.parse()?;
    let was_running = match (&record.via, board.runner()) {
        (Via::Qemu { pid, socket, .. }, Runner::Qemu(machine)) => {
            qemu::stop_detached(machine, *pid, socket)?
        }
        (Via::Probe { probe, chip }, Runner::Probe(target)) => {
            // A board unplugged since is not running either.
            probe::connect(target, Some(&probe.parse()?), chip)
                .and_then(|mut core| core.halt())
                .is_ok()
        }
        // The agent holds a program only for a while: the board runs on,
        // and is forgotten.
        (Via::Serial { .. }, _) => true,
        _ => false,
    };
    FlashedBoard::remove(state_dir)?;
    Ok(Some(Stopped {
        record,
        was_running,
    }))
}

/// Whether the board `record` describes still runs (its pid may since
/// have been reused by another process). A real board is assumed to: only
/// connecting to it tells.
fn is_running(board: Board, record: &FlashedBoard) -> bool {
    match (&record.via, board.runner()) {
        (Via::Qemu { pid, socket, .. }, Runner::Qemu(machine)) => {
            qemu::is_serving(machine, *pid, socket)
        }
        (Via::Probe { .. } | Via::Serial { .. }, _) => true,
        (Via::Qemu { .. }, Runner::Probe(_)) => false,
    }
}

/// Checks, through core access freshly connected to a started board (and
/// so halted), that it runs build `build_id`, and reads the program's status
/// once it has booted. Leaves the core running.
fn check_image(
    core: &mut dyn CoreAccess,
    runtime: &RuntimeSymbols,
    build_id: u32,
) -> Result<ProgramStatus> {
    let deadline = Instant::now() + BOOT_TIMEOUT;
    loop {
        core.halt()?;
        // Invariant: the device runs exactly the image the shadow describes.
        let running = core.read_word(runtime.program + program::BUILD_ID)?;
        if running != build_id {
            bail!(
                "the board runs build {running:#010x}, but the host built {build_id:#010x} \
                 (was the image rebuilt meanwhile?); flash again"
            );
        }
        let status = ProgramStatus::read(core, runtime)?;
        core.run()?;
        if status.state != STATE_BOOTING || Instant::now() > deadline {
            return Ok(status);
        }
        std::thread::sleep(BOOT_POLL_INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::fake::FakeCore;

    const BASE: u32 = 0x2000_0000;

    fn runtime() -> RuntimeSymbols {
        RuntimeSymbols {
            slots: BASE + 0x100,
            slot_count: 4,
            patch_region: BASE + 0x200,
            patch_region_size: 0x100,
            patch_epoch: BASE + 0x10,
            state: BASE + 0x14,
            error_count: BASE + 0x18,
            host_attached: BASE + 0x1c,
            host_request: BASE + 0x20,
            host_roots: BASE + 0x34,
            rtt: BASE + 0x40,
            program: BASE,
            profiling_paused: 0,
        }
    }

    fn record(pid: u32, socket: &Path) -> FlashedBoard {
        FlashedBoard {
            board: "qemu-m4".into(),
            via: Via::Qemu {
                pid,
                socket: socket.to_path_buf(),
                log: "flashed/qemu.log".into(),
            },
            image: "flashed/image.elf".into(),
            shadow: "flashed/shadow.json".into(),
            build_id: 0x1234_5679,
            started_at: 1_700_000_000,
        }
    }

    #[test]
    fn a_started_board_running_the_build_is_left_running() {
        let mut core = FakeCore::new(BASE, 0x400);
        core.poke_word(BASE, 0xabcd_0001);
        core.poke_word(BASE + 0x14, 3);
        core.poke_word(BASE + 0x18, 2);
        let status = check_image(&mut core, &runtime(), 0xabcd_0001).unwrap();
        assert_eq!(
            status,
            ProgramStatus {
                state: 3,
                errors: 2
            }
        );
        assert_eq!(status.describe(), "idle, waiting for its timers");
        assert!(!core.halted);
    }

    #[test]
    fn another_build_on_the_board_is_reported() {
        let mut core = FakeCore::new(BASE, 0x400);
        core.poke_word(BASE, 0xabcd_0001);
        let err = check_image(&mut core, &runtime(), 0x1111_1111)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("runs build 0xabcd0001") && err.contains("built 0x11111111"),
            "{err}"
        );
    }

    #[test]
    fn records_round_trip_and_absence_is_no_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(FlashedBoard::load(dir.path()).unwrap().is_none());
        let record = record(4242, Path::new("flashed/gdb.sock"));
        record.save(dir.path()).unwrap();
        assert_eq!(FlashedBoard::load(dir.path()).unwrap(), Some(record));
        FlashedBoard::remove(dir.path()).unwrap();
        assert!(FlashedBoard::load(dir.path()).unwrap().is_none());
        FlashedBoard::remove(dir.path()).unwrap();
    }

    fn probe_record(board: &str) -> FlashedBoard {
        FlashedBoard {
            board: board.into(),
            // No probe has this serial number.
            via: Via::Probe {
                probe: "2e8a:000c:NO-SUCH-PROBE".into(),
                chip: "RP2040".into(),
            },
            image: "flashed/image.elf".into(),
            shadow: "flashed/shadow.json".into(),
            build_id: 0x1234_5679,
            started_at: 1_700_000_000,
        }
    }

    #[test]
    fn a_real_board_s_record_keeps_its_probe_and_chip() {
        let dir = tempfile::tempdir().unwrap();
        let probed = probe_record("rp2040");
        probed.save(dir.path()).unwrap();
        let text = fs::read_to_string(dir.path().join(RECORD_FILE)).unwrap();
        assert!(
            text.contains("\"probe\": \"2e8a:000c:NO-SUCH-PROBE\"") && !text.contains("pid"),
            "{text}"
        );
        let loaded = FlashedBoard::load(dir.path()).unwrap().unwrap();
        assert_eq!(loaded, probed);
        assert_eq!(
            loaded.via.to_string(),
            "RP2040 through probe 2e8a:000c:NO-SUCH-PROBE"
        );
        // And a QEMU board's record still reads as one.
        record(4242, Path::new("gdb.sock"))
            .save(dir.path())
            .unwrap();
        let qemu = FlashedBoard::load(dir.path()).unwrap().unwrap();
        assert!(matches!(qemu.via, Via::Qemu { pid: 4242, .. }), "{qemu:?}");
        assert_eq!(qemu.via.to_string(), "QEMU pid 4242");
    }

    /// An ESP board `flash --transport serial` left running, as
    /// `board.json` records it, is reached through the serial agent on the
    /// port (a pseudo-terminal with an agent behind it, here), and
    /// `flash --stop` forgets it: the agent cannot halt it for good.
    #[cfg(target_os = "linux")]
    #[test]
    fn an_esp_board_flashed_over_serial_is_reached_on_its_port() {
        use crate::connection::serial::tests::{fake_board, RAM};
        let (port, first_slave, agent) = fake_board(None);
        let dir = tempfile::tempdir().unwrap();
        let record = FlashedBoard {
            via: Via::Serial {
                port: port.clone(),
                baud: 115_200,
            },
            ..probe_record("esp32c3")
        };
        record.save(dir.path()).unwrap();
        let loaded = FlashedBoard::load(dir.path()).unwrap().unwrap();
        assert_eq!(loaded, record);
        assert_eq!(
            loaded.via.to_string(),
            format!("serial port {port} at 115200 baud")
        );
        let board = Board::named("esp32c3").unwrap();
        assert!(is_running(board, &loaded));
        let serial = Connection {
            transport: Transport::Serial,
            serial_key: None,
        };
        let mut core = FlashedCore::connect(board, &loaded, &serial).unwrap();
        assert!(matches!(core, FlashedCore::Serial(_)));
        core.access().write_word(RAM + 8, 0xfeed_f00d).unwrap();
        assert_eq!(core.access().read_word(RAM + 8).unwrap(), 0xfeed_f00d);
        drop((core, first_slave));
        assert_eq!(agent.join().unwrap()[8..12], 0xfeed_f00d_u32.to_le_bytes());

        let stopped = stop(dir.path()).unwrap().unwrap();
        assert!(stopped.was_running);
        assert!(FlashedBoard::load(dir.path()).unwrap().is_none());
    }

    #[test]
    fn stopping_a_real_board_that_is_gone_forgets_it() {
        let dir = tempfile::tempdir().unwrap();
        probe_record("rp2040").save(dir.path()).unwrap();
        let stopped = stop(dir.path()).unwrap().unwrap();
        assert!(!stopped.was_running);
        assert!(FlashedBoard::load(dir.path()).unwrap().is_none());
    }

    #[test]
    fn a_record_of_another_kind_of_board_says_to_delete_it() {
        let error = FlashedCore::connect(
            Board::default(),
            &probe_record("qemu-m4"),
            &Connection::default(),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            error.contains("records the qemu-m4 board as reached another way")
                && error.contains("delete it"),
            "{error}"
        );
    }

    #[test]
    fn a_corrupt_record_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(RECORD_FILE), "{").unwrap();
        let err = format!("{:#}", stop(dir.path()).unwrap_err());
        assert!(
            err.contains("is corrupt") && err.contains("delete"),
            "{err}"
        );
    }

    #[test]
    fn stopping_never_touches_a_process_that_reused_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let mut stranger = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        record(stranger.id(), &dir.path().join("gdb.sock"))
            .save(dir.path())
            .unwrap();
        let stopped = stop(dir.path()).unwrap().unwrap();
        assert!(!stopped.was_running);
        assert!(stranger.try_wait().unwrap().is_none(), "sleep was killed");
        assert!(FlashedBoard::load(dir.path()).unwrap().is_none());
        stranger.kill().unwrap();
        stranger.wait().unwrap();
    }
}
