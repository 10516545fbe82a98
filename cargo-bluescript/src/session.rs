//! The host's side of one project's running program: the save pipeline
//! (check → plan → build → apply → save) and the program's life (start,
//! take over a flashed board, restart). Front ends — `watch`, and later an
//! interactive shell and a debugger — drive a [`Session`] and render what it
//! returns: what was patched and how long each stage took, the compiler's
//! diagnostics, why the program restarted, and the program's output. Nothing
//! here prints; what a front end should hear about while a call runs (a
//! restart before its long build) comes through an [`Event`] callback.

use crate::board::probe::{self, Found, Takeover};
use crate::board::{AttachedBoard, Board, Connection, FlashedBoard, StartOptions};
use crate::device::{Device, Poll};
use crate::firmware::{self, BuildLog, ScriptErrors};
use crate::patch::{self, PatchPlan, Patcher, Plan, Timings, Unpatchable};
use crate::profiles::FunctionProfile;
use crate::project::Project;
use crate::shadow::{RegionFull, Shadow};
use crate::toolchain::Toolchain;
use anyhow::{bail, Context, Result};
use bluescript_abi::program;
use bluescript_compiler::ir;
use std::time::Instant;

mod appended;
mod shell;
mod specialize;

pub use shell::{CellRun, PostedCell};
pub use specialize::{describe as describe_specialized, Decision, Specialized};

/// Why the program was restarted instead of patched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restart {
    /// The scripts changed in a way no patch can carry.
    Unpatchable(Unpatchable),
    /// The firmware's Rust changed: only a new image can hold it.
    FirmwareChanged,
    /// A panic or fault had stopped the device.
    DeviceHalted,
    /// The shell's input ran code that could not be interrupted.
    Interrupted,
    /// The shell asked for it (`.restart`).
    Requested,
}

impl std::fmt::Display for Restart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Restart::Unpatchable(why) => why.fmt(f),
            Restart::FirmwareChanged => f.write_str("the firmware's Rust sources changed"),
            Restart::DeviceHalted => f.write_str("the device had halted"),
            Restart::Interrupted => {
                f.write_str("the shell's input could not be interrupted where it ran")
            }
            Restart::Requested => f.write_str("the shell asked for it"),
        }
    }
}

/// How the program came to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// Built and started on a board of the session's own, stopped with it.
    Fresh,
    /// Took over the board `cargo bluescript flash` left running, which keeps
    /// its state and runs on after the session. Its scripts may be older
    /// than the current ones: call [`Session::scripts_changed`] to catch up.
    /// `via` says how it is reached (`QEMU pid 4242`); `reset`: a real
    /// board was reset since, and its patches are gone.
    Attached { via: String, reset: bool },
    /// Built and flashed to the board, which runs on after the session.
    Flashed { build_id: u32, via: String },
}

/// A function a patch carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchedFunction {
    pub name: String,
    pub slot: u32,
    /// The device had no such function before.
    pub new: bool,
}

/// What one applied patch changed on the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patched {
    /// In program order.
    pub functions: Vec<PatchedFunction>,
    /// Where the code was written, and how much of it.
    pub address: u32,
    pub bytes: usize,
    /// The device's patch epoch now.
    pub epoch: u32,
    /// The patch region was rewritten from its start (it was full).
    pub compacted: bool,
    /// The slots switched only between two callbacks (a signature changed).
    pub at_safe_point: bool,
    /// Top-level code appended to the main script ran once.
    pub appended_top_level: bool,
    pub timings: Timings,
}

/// What became of a change.
#[derive(Debug, Clone)]
pub enum Edit {
    Patched(Patched),
    /// No function the device runs changed.
    Unchanged,
    /// The scripts do not compile: the device was not touched.
    Rejected(ScriptErrors),
    /// The program was rebuilt and started again.
    Restarted {
        reason: Restart,
        started: Started,
    },
    /// No program ran (a failed build, a lost board): it was started.
    Started(Started),
    /// The link to the board is down (a serial cable): the change is
    /// applied once [`Session::reconnect`] has reopened it
    /// ([`Session::apply_deferred`]). `lost`: the error that cut the link
    /// while this change was being applied, if it did.
    Deferred {
        lost: Option<String>,
    },
}

/// A change saved while the link to the board was down; the larger one
/// wins (a new image also carries the scripts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Deferred {
    Scripts,
    Firmware,
}

/// What a front end hears about while a call of the session runs.
#[derive(Debug)]
pub enum Event<'a> {
    /// About to rebuild and restart the program (which takes a while).
    Restarting(&'a Restart),
    /// The patch region is full: the patch is made again to rewrite it from
    /// its start.
    Compacting,
    /// The flashed board cannot be taken over as it is, and is flashed
    /// again; why.
    Reflashing(&'a str),
    /// A line of cargo's messages while it builds the firmware.
    BuildOutput(&'a str),
    /// An error the session works around (by flashing again, or by
    /// starting a board of its own).
    Error(&'a anyhow::Error),
}

/// One project's program, and the board it runs on.
pub struct Session {
    project: Project,
    board: Board,
    patcher: Patcher,
    device: Option<Device>,
    /// The program runs on the board `flash` left running: restarts flash
    /// again instead of starting a board.
    flashed: bool,
    /// The last poll found the device halted.
    halted: bool,
    /// Cargo may colour the messages it sends as [`Event::BuildOutput`].
    build_color: bool,
    /// How boards are started, reached and flashed (the transport; a real
    /// board's probe and chip).
    options: StartOptions,
    /// A real board that runs something else than the project flashed last
    /// may be flashed again.
    reflash: bool,
    /// The link to the board was lost, but the board runs on: the device
    /// (and its shadow machine) is kept until the link is back.
    link_down: bool,
    /// What was saved while the link was down.
    deferred: Option<Deferred>,
    /// The interactive shell's environment, once it has had input: the
    /// program the device runs and the cells it ran.
    shell: Option<bluescript_compiler::environment::Environment>,
    /// The dynamic compiler's memory of what it specialized.
    specializer: specialize::Specializer,
}

/// Cargo's messages, as events.
struct BuildEvents<'e> {
    color: bool,
    events: &'e mut dyn FnMut(Event),
}

impl BuildLog for BuildEvents<'_> {
    fn color(&self) -> bool {
        self.color
    }

    fn line(&mut self, line: &str) {
        (self.events)(Event::BuildOutput(line))
    }
}

impl Session {
    /// Prepares the toolchain; no program runs yet. With `build_color`,
    /// cargo's messages may carry colours.
    pub fn new(project: &Project, board: Board, build_color: bool) -> Result<Session> {
        let toolchain = Toolchain::for_project(&project.root, board)?;
        let patcher = Patcher::new(toolchain, &project.state_dir())?;
        Ok(Session {
            project: project.clone(),
            board,
            patcher,
            device: None,
            flashed: false,
            halted: false,
            build_color,
            options: StartOptions::default(),
            reflash: false,
            link_down: false,
            deferred: None,
            shell: None,
            specializer: Default::default(),
        })
    }

    /// Reaches the board as `connection` says (its transport, which the
    /// board must have: [`Board::transport`]) rather than its debugger.
    pub fn with_connection(mut self, connection: Connection) -> Session {
        self.options.connection = connection;
        self
    }

    /// How boards are started, reached and flashed from now on (with a real
    /// board's probe and chip).
    pub fn set_start_options(&mut self, options: StartOptions) {
        self.options = options;
    }

    /// Whether [`Session::start`] may flash a real board that runs something
    /// else than this project flashed last (`--reflash`).
    pub fn set_reflash(&mut self, reflash: bool) {
        self.reflash = reflash;
    }

    /// The program will be patched (watch): the compiler for the next
    /// patch is started now, if none waits yet.
    pub fn expect_patches(&self) {
        self.patcher.expect_patches();
    }

    /// Takes over the board `flash` left running, if there is one (it keeps
    /// its state), or builds the program and starts a board of its own. On
    /// error no program runs, and the next change starts it again.
    pub fn start(&mut self, events: &mut dyn FnMut(Event)) -> Result<Started> {
        self.device = None; // stops (or lets go of) the old board first
        self.halted = false;
        self.flashed = false;
        self.link_down = false;
        self.deferred = None;
        // A new program has none of the cells.
        self.shell = None;
        let state_dir = self.project.state_dir();
        if self.board.probe_target().is_some() {
            let flashed_here = FlashedBoard::load(&state_dir)?
                .is_some_and(|record| record.board == self.board.name());
            if !flashed_here {
                return self.reflash(events);
            }
            return match self.take_over_probe_board()? {
                Ok(started) => Ok(started),
                Err(why) if self.reflash => {
                    events(Event::Reflashing(&why));
                    self.reflash(events)
                }
                Err(why) => bail!(
                    "{why}; so the host cannot know what it runs. `--reflash` flashes the \
                     current build to it"
                ),
            };
        }
        if let Some((attached, shadow)) =
            Board::attach_flashed(&state_dir, &self.options.connection)?
        {
            let via = attached.record().via.to_string();
            let stale = if !shadow.patchable {
                Some("it runs a release image, which cannot be patched")
            } else if shadow.firmware_fingerprint != firmware::firmware_fingerprint(&self.project)?
            {
                Some("the firmware's Rust changed since it was flashed")
            } else {
                None
            };
            if let Some(why) = stale {
                drop(attached);
                events(Event::Reflashing(why));
                return self.reflash(events);
            }
            match Device::attach(Box::new(attached), shadow) {
                Ok(device) => {
                    self.device = Some(device);
                    self.flashed = true;
                    return Ok(Started::Attached { via, reset: false });
                }
                Err(error) => {
                    events(Event::Error(
                        &error.context("cannot take over the flashed board"),
                    ));
                    events(Event::Reflashing(
                        "so that the host knows exactly what it runs",
                    ));
                    return self.reflash(events);
                }
            }
        }
        let image = firmware::build(&self.project, false, &mut self.build_log(events))?;
        let device = Device::start(self.board, image.shadow, &self.options)?;
        self.device = Some(device);
        Ok(Started::Fresh)
    }

    /// Takes over the real board flashed last, if it runs what was flashed
    /// (or, reset since, the image as flashed); flashes it if this project
    /// never did. `Err(why)`: it runs something else.
    fn take_over_probe_board(&mut self) -> Result<Result<Started, String>> {
        let state_dir = self.project.state_dir();
        let Some((mut attached, recorded)) =
            Board::attach_flashed(&state_dir, &self.options.connection)?
        else {
            return Ok(Err("the board this project flashed is gone".into()));
        };
        let base_dir = attached.record().shadow.with_file_name(probe::BASE_DIR);
        let base = Shadow::load(&base_dir).ok();
        let core = attached.core_access();
        let found = Found {
            recorded: &recorded,
            base: base.as_ref(),
            build_id: core.read_word(recorded.runtime.program + program::BUILD_ID)?,
            epoch: core.read_word(recorded.runtime.patch_epoch)?,
            firmware_fingerprint: firmware::firmware_fingerprint(&self.project)?,
        };
        let (shadow, reset) = match probe::takeover(found) {
            Ok(Takeover::AsRecorded) => (recorded, false),
            Ok(Takeover::AfterReset) => (base.expect("checked by takeover"), true),
            Err(why) => return Ok(Err(why)),
        };
        let via = attached.record().via.to_string();
        self.device = Some(Device::attach(Box::new(attached), shadow)?);
        self.flashed = true;
        Ok(Ok(Started::Attached { via, reset }))
    }

    /// A real board lost during the session (reset, unplugged): takes it over
    /// again if it is back, running what was flashed; `None` while no
    /// program runs and it is not back. Never flashes.
    pub fn reattach(&mut self) -> Option<Started> {
        if self.device.is_some() || !self.flashed || self.board.probe_target().is_none() {
            return None;
        }
        self.take_over_probe_board().ok()?.ok()
    }

    /// Reopens the link to a board that ran on without it (a serial cable
    /// pulled out and plugged back in), if it is back: the same program goes
    /// on, with its state ([`Device::reconnect`]). `None` while no link is
    /// down, or while it is not back; an error if the board came back
    /// running something else than the host knows, or went away: no
    /// program runs then. Either way, [`Session::apply_deferred`] next.
    pub fn reconnect(&mut self) -> Option<Result<()>> {
        if !self.link_down {
            return None;
        }
        let device = self.device.as_mut()?;
        match device.reconnect() {
            Ok(()) => {
                self.link_down = false;
                Some(Ok(()))
            }
            Err(error) if device.lost_only_its_link(&error) => None,
            Err(error) => {
                self.device = None;
                self.link_down = false;
                Some(Err(error))
            }
        }
    }

    /// The link to the board is down ([`Session::reconnect`]).
    pub fn link_down(&self) -> bool {
        self.link_down
    }

    /// Applies what was saved while the link was down, once it is back;
    /// `None` if nothing was.
    pub fn apply_deferred(&mut self, events: &mut dyn FnMut(Event)) -> Option<Result<Edit>> {
        if self.link_down {
            return None;
        }
        Some(match self.deferred.take()? {
            Deferred::Scripts => self.scripts_changed(events),
            Deferred::Firmware => self.firmware_changed(events),
        })
    }

    /// Keeps `change` for when the link is back.
    fn defer(&mut self, change: Deferred, lost: Option<&anyhow::Error>) -> Edit {
        self.deferred = self.deferred.max(Some(change));
        Edit::Deferred {
            lost: lost.map(|error| format!("{error:#}")),
        }
    }

    /// Flashes the current build and attaches to it.
    fn reflash(&mut self, events: &mut dyn FnMut(Event)) -> Result<Started> {
        let image = firmware::build(&self.project, false, &mut self.build_log(events))?;
        let state_dir = self.project.state_dir();
        let flashed = self.board.flash(&image.shadow, &state_dir, &self.options)?;
        let (attached, shadow): (AttachedBoard, Shadow) =
            Board::attach_flashed(&state_dir, &self.options.connection)?
                .context("the board just flashed is not running")?;
        self.device = Some(Device::attach(Box::new(attached), shadow)?);
        self.flashed = true;
        Ok(Started::Flashed {
            build_id: flashed.record.build_id,
            via: flashed.record.via.to_string(),
        })
    }

    fn build_log<'e>(&self, events: &'e mut dyn FnMut(Event)) -> BuildEvents<'e> {
        BuildEvents {
            color: self.build_color,
            events,
        }
    }

    /// Rebuilds and starts the program again: on the flashed board if it ran
    /// there (falling back to a fresh start if that fails).
    pub fn restart(&mut self, reason: Restart, events: &mut dyn FnMut(Event)) -> Result<Edit> {
        events(Event::Restarting(&reason));
        self.device = None;
        self.shell = None;
        self.halted = false;
        let started = if self.flashed {
            match self.reflash(events) {
                Ok(started) => started,
                Err(error) => {
                    events(Event::Error(&error));
                    self.start(events)?
                }
            }
        } else {
            self.start(events)?
        };
        Ok(Edit::Restarted { reason, started })
    }

    /// The board the program runs on.
    pub fn board(&self) -> Board {
        self.board
    }

    /// A program runs (it may have finished or halted).
    pub fn is_running(&self) -> bool {
        self.device.is_some()
    }

    /// The running program's device, for front ends that inspect it.
    pub fn device(&mut self) -> Option<&mut Device> {
        self.device.as_mut()
    }

    /// Reads the program's output and state; `None` when no program runs,
    /// or while its link is down. On error the board is lost: no program
    /// runs any more, unless only the link to it was lost
    /// ([`Session::link_down`]).
    pub fn poll(&mut self) -> Result<Option<Poll>> {
        let Some(device) = &mut self.device else {
            return Ok(None);
        };
        if self.link_down {
            return Ok(None);
        }
        match device.poll() {
            Ok(poll) => {
                self.halted = poll.status.halted();
                Ok(Some(poll))
            }
            Err(error) => {
                if device.lost_only_its_link(&error) {
                    self.link_down = true;
                } else {
                    self.device = None;
                }
                Err(error)
            }
        }
    }

    /// The firmware's Rust changed: restarts the program with a new image
    /// (once the link is back, if it is down).
    pub fn firmware_changed(&mut self, events: &mut dyn FnMut(Event)) -> Result<Edit> {
        if self.link_down {
            return Ok(self.defer(Deferred::Firmware, None));
        }
        self.restart(Restart::FirmwareChanged, events)
    }

    /// What the type profiles of the running program say: which values
    /// reached the untyped parameters of its functions.
    pub fn profiles(&mut self) -> Result<Vec<FunctionProfile>> {
        self.device
            .as_mut()
            .context("no program runs")?
            .read_profiles()
    }

    /// The scripts changed: patches the running program, restarts it when
    /// no patch can carry the change, or starts it if none runs. While the
    /// link to the board is down (or if it goes down meanwhile) the change
    /// waits for it.
    pub fn scripts_changed(&mut self, events: &mut dyn FnMut(Event)) -> Result<Edit> {
        if self.device.is_none() {
            return Ok(Edit::Started(self.start(events)?));
        }
        if self.link_down {
            return Ok(self.defer(Deferred::Scripts, None));
        }
        if self.halted {
            return self.restart(Restart::DeviceHalted, events);
        }
        match self.patch(events) {
            Ok(Err(why)) => self.restart(Restart::Unpatchable(why), events),
            Ok(Ok(edit)) => Ok(edit),
            Err(error) => {
                let device = self.device.as_mut().expect("a program runs");
                if !device.lost_only_its_link(&error) {
                    return Err(error);
                }
                self.link_down = true;
                Ok(self.defer(Deferred::Scripts, Some(&error)))
            }
        }
    }

    /// The shell's cells follow the patched program, if they still check
    /// against it; otherwise the shell starts afresh.
    fn shell_follows_scripts(&mut self) {
        if let Some(shell) = &mut self.shell {
            let followed = firmware::with_scripts(&self.project, |scripts| {
                shell.replace_program(scripts).is_ok()
            });
            if !matches!(followed, Ok(true)) {
                self.shell = None;
            }
        }
    }

    /// Check, plan, build, apply, save. Everything up to the build happens
    /// before the device is touched, so a compile error never reaches it.
    fn patch(&mut self, events: &mut dyn FnMut(Event)) -> Result<Result<Edit, Unpatchable>> {
        let device = self.device.as_mut().expect("a program runs");
        // The model must be the device's truth before a patch is planned
        // against it.
        device.resync()?;
        let mut timings = Timings::default();
        let started = Instant::now();
        // Checked against the drivers the image really has.
        let exports = device.shadow.exports.clone();
        let program = match firmware::compile_scripts(&self.project, &exports) {
            Ok((_, program)) => program,
            Err(error) => {
                return match error.downcast::<ScriptErrors>() {
                    Ok(errors) => Ok(Ok(Edit::Rejected(errors))),
                    Err(error) => Err(error),
                }
            }
        };
        let planned = patch::plan(&device.shadow, &program)?;
        timings.check = started.elapsed();
        let plan = match planned {
            Plan::Unchanged => return Ok(Ok(Edit::Unchanged)),
            Plan::Restart(Unpatchable::TopLevel) => {
                // Code added at the end of the main script runs once instead.
                return Ok(self
                    .apply_appended(&program, timings)?
                    .ok_or(Unpatchable::TopLevel));
            }
            Plan::Patch(plan) => plan,
        };
        let patched = self.build_and_apply(&program, plan, timings, events)?;
        self.shell_follows_scripts();
        Ok(Ok(Edit::Patched(patched)))
    }

    /// Compiles and links `plan` (compacting the patch region when it is
    /// full) and applies it to the running device.
    fn build_and_apply(
        &mut self,
        program: &ir::Program,
        mut plan: PatchPlan,
        mut timings: Timings,
        events: &mut dyn FnMut(Event),
    ) -> Result<Patched> {
        let device = self.device.as_mut().expect("a program runs");
        let built = self
            .patcher
            .build(&device.shadow, program, &plan, &mut timings);
        let linked = match built {
            Err(error) if error.is::<RegionFull>() => {
                events(Event::Compacting);
                plan = plan.compacting(&device.shadow, program)?;
                self.patcher
                    .build(&device.shadow, program, &plan, &mut timings)
            }
            built => built,
        };
        let linked = linked?;
        // Saves the shadow machine too (before the switch and after).
        device.apply_patch(program, &plan, &linked, &mut timings)?;
        let functions = plan
            .functions
            .iter()
            .map(|name| PatchedFunction {
                name: name.clone(),
                slot: device.shadow.functions[name].slot,
                new: plan.new_slots.iter().any(|(n, _)| n == name),
            })
            .collect();
        Ok(Patched {
            functions,
            address: linked.base,
            bytes: linked.bytes.len(),
            epoch: device.shadow.epoch,
            compacted: plan.compact,
            at_safe_point: plan.needs_safe_point,
            appended_top_level: false,
            timings,
        })
    }
}
