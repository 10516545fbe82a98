//! `cargo bluescript watch`: run the program and patch it on every save.
//!
//! One thread owns the probe: it polls the device for output and, when the
//! file watcher reports a save, compiles and applies the patch in between
//! two polls. The device keeps running while the host compiles.

use crate::board::{Board, StartOptions};
use crate::commands::{status, POLL_INTERVAL};
use crate::firmware::{self, ScriptErrors};
use crate::patch::{self, Patcher, Plan, Timings};
use crate::project::Project;
use crate::session::Session;
use crate::shadow::RegionFull;
use crate::toolchain::Toolchain;
use anyhow::{Context, Result};
use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{new_debouncer, DebounceEventResult};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Editors save in bursts (write, rename, chmod): one patch per burst.
const DEBOUNCE: Duration = Duration::from_millis(20);

/// What a burst of file events asks for.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    Scripts,
    /// The firmware's Rust changed: only a new image can hold it.
    Firmware,
}

pub fn watch(project: &Project, board: Board, stop: Arc<AtomicBool>) -> Result<ExitCode> {
    let (sender, events) = mpsc::channel();
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
        let _ = sender.send(result);
    })
    .context("cannot start the file watcher")?;
    debouncer
        .watch(&project.scripts_dir, RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch `{}`", project.scripts_dir.display()))?;
    let firmware_src = project.root.join("src");
    debouncer
        .watch(&firmware_src, RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch `{}`", firmware_src.display()))?;

    let toolchain = Toolchain::for_project(&project.root, board)?;
    let patcher = Patcher::new(toolchain, &project.state_dir())?;
    let mut program = Program::start(project, board);
    status(
        "Watching",
        &format!(
            "{} for changes (Ctrl-C to stop)",
            project.display_path(&project.scripts_dir)
        ),
    );
    while !stop.load(Ordering::SeqCst) {
        if let Err(error) = program.poll() {
            if stop.load(Ordering::SeqCst) {
                break; // Ctrl-C reached QEMU first
            }
            crate::commands::report_error(
                &error.context("lost the board; save a file to restart it"),
            );
            program.session = None;
        }
        if program.needs_sync {
            program.needs_sync = false;
            if let Some(session) = &mut program.session {
                match apply_edit(project, &patcher, session, Instant::now()) {
                    Ok(Outcome::Restart(reason)) => program.restart(project, board, &reason),
                    Ok(_) => {}
                    Err(error) => crate::commands::report_error(&error),
                }
            }
        }
        let Ok(result) = events.recv_timeout(POLL_INTERVAL) else {
            continue;
        };
        let saved_at = Instant::now();
        match (classify(project, result), &mut program.session) {
            (None, _) => {}
            (Some(Change::Scripts), Some(session)) if !program.halted => {
                match apply_edit(project, &patcher, session, saved_at) {
                    Ok(Outcome::Applied | Outcome::Unchanged | Outcome::Rejected) => {}
                    Ok(Outcome::Restart(reason)) => program.restart(project, board, &reason),
                    Err(error) => crate::commands::report_error(&error),
                }
            }
            (Some(Change::Firmware), _) => {
                program.restart(project, board, "the firmware's Rust sources changed")
            }
            (Some(Change::Scripts), Some(_)) => {
                program.restart(project, board, "the device had halted")
            }
            // Nothing runs (a failed build, a lost board): start afresh.
            (Some(Change::Scripts), None) => program = Program::start(project, board),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The program watch keeps running, and what has been said about it: each
/// end state is announced once per start.
struct Program {
    session: Option<Session>,
    /// Runs on the board `cargo bluescript flash` left running, which goes
    /// on after watch: restarts flash it again instead of starting a board.
    flashed: bool,
    /// Attached to a running board whose scripts may have changed since:
    /// the current ones are applied before anything else.
    needs_sync: bool,
    finished: bool,
    halted: bool,
}

impl Program {
    /// Takes over the board `flash` left running, if there is one (it keeps
    /// its state), or builds and starts a board of its own. On failure the
    /// error is shown and watch waits for the next save.
    fn start(project: &Project, board: Board) -> Program {
        let (session, flashed, needs_sync) = match open(project, board) {
            Ok(opened) => opened,
            Err(error) => {
                crate::commands::report_error(&error);
                status("Waiting", "for a save to try again");
                (None, false, false)
            }
        };
        Program {
            session,
            flashed,
            needs_sync,
            finished: false,
            halted: false,
        }
    }

    fn restart(&mut self, project: &Project, board: Board, reason: &str) {
        status("Restarting", &format!("the program: {reason}"));
        self.session = None; // stops (or lets go of) the old board first
        if self.flashed {
            *self = match reflash(project, board) {
                Ok(session) => Program {
                    session: Some(session),
                    flashed: true,
                    needs_sync: false,
                    finished: false,
                    halted: false,
                },
                Err(error) => {
                    crate::commands::report_error(&error);
                    Program::start(project, board)
                }
            };
        } else {
            *self = Program::start(project, board);
        }
    }

    /// Copies the device's output and announces when it finished or halted.
    fn poll(&mut self) -> Result<()> {
        let Some(session) = &mut self.session else {
            return Ok(());
        };
        let state = session.poll(&mut std::io::stdout(), &mut std::io::stderr())?;
        if state.finished() && !self.finished {
            self.finished = true;
            status(
                "Finished",
                "the program has no pending timers; save to patch or restart it",
            );
        }
        if state.halted() && !self.halted {
            self.halted = true;
            status(
                "Halted",
                "the device stopped (see above); save a file to restart it",
            );
        }
        Ok(())
    }
}

/// A session on the flashed board if one runs, else on a new board; and
/// whether it is flashed, and whether it needs the current scripts applied.
fn open(project: &Project, board: Board) -> Result<(Option<Session>, bool, bool)> {
    let state_dir = project.state_dir();
    if let Some((attached, shadow)) = Board::attach_flashed(&state_dir)? {
        let pid = attached.record().pid;
        let stale = if !shadow.patchable {
            Some("it runs a release image, which cannot be patched")
        } else if shadow.firmware_fingerprint != firmware::firmware_fingerprint(project)? {
            Some("the firmware's Rust changed since it was flashed")
        } else {
            None
        };
        if let Some(why) = stale {
            drop(attached);
            status("Reflashing", why);
            return Ok((Some(reflash(project, board)?), true, false));
        }
        match Session::attach(Box::new(attached), shadow) {
            Ok(session) => {
                status(
                    "Attached",
                    &format!(
                        "to the board `cargo bluescript flash` left running (QEMU pid {pid}); \
                         it keeps its state, and runs on when watch stops"
                    ),
                );
                return Ok((Some(session), true, true));
            }
            Err(error) => {
                crate::commands::report_error(&error.context("cannot take over the flashed board"));
                status("Reflashing", "so that the host knows exactly what it runs");
                return Ok((Some(reflash(project, board)?), true, false));
            }
        }
    }
    let image = firmware::build(project, false)?;
    let session = Session::start(board, image.shadow, &StartOptions::default())?;
    Ok((Some(session), false, false))
}

/// Flashes the current build and attaches to it.
fn reflash(project: &Project, board: Board) -> Result<Session> {
    let image = firmware::build(project, false)?;
    let flashed = board.flash(&image.shadow, &project.state_dir())?;
    status(
        "Flashed",
        &format!(
            "build {:#010x} to {board} (QEMU pid {})",
            flashed.record.build_id, flashed.record.pid
        ),
    );
    let (attached, shadow) = Board::attach_flashed(&project.state_dir())?
        .context("the board just flashed is not running")?;
    Session::attach(Box::new(attached), shadow)
}

fn classify(project: &Project, result: DebounceEventResult) -> Option<Change> {
    let events = result.ok()?;
    let mut change = None;
    for event in events {
        if matches!(event.kind, EventKind::Access(_) | EventKind::Other) {
            continue;
        }
        for path in &event.paths {
            if is_script(path) && path.starts_with(&project.scripts_dir) {
                change.get_or_insert(Change::Scripts);
            } else if path.extension().is_some_and(|e| e == "rs") {
                change = Some(Change::Firmware);
            }
        }
    }
    change
}

fn is_script(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "bs" || e == "ts")
        && !path.to_string_lossy().ends_with(".d.ts")
}

enum Outcome {
    Applied,
    Unchanged,
    /// A compile or type error: the device was not touched.
    Rejected,
    Restart(String),
}

fn apply_edit(
    project: &Project,
    patcher: &Patcher,
    session: &mut Session,
    saved_at: Instant,
) -> Result<Outcome> {
    // Checked against the drivers the image really has.
    let exports = session.shadow.exports.clone();
    let (_, program) = match firmware::compile_scripts(project, &exports) {
        Ok(compiled) => compiled,
        Err(error) => {
            if let Some(errors) = error.downcast_ref::<ScriptErrors>() {
                eprintln!("{errors}");
                status("Unchanged", "the device keeps running the previous code");
                return Ok(Outcome::Rejected);
            }
            return Err(error);
        }
    };
    let mut plan = match patch::plan(&session.shadow, &program)? {
        Plan::Unchanged => {
            status("Unchanged", "no function changed");
            return Ok(Outcome::Unchanged);
        }
        Plan::Restart(reason) => return Ok(Outcome::Restart(reason)),
        Plan::Patch(plan) => plan,
    };
    let mut timings = Timings::default();
    let linked = match patcher.build(&session.shadow, &program, &plan, &mut timings) {
        Err(error) if error.is::<patch::NewTypes>() => {
            return Ok(Outcome::Restart(error.to_string()))
        }
        Err(error) if error.is::<RegionFull>() => {
            status(
                "Compacting",
                "the patch region: recompiling the patched functions",
            );
            plan = plan.compacting(&session.shadow, &program)?;
            patcher.build(&session.shadow, &program, &plan, &mut timings)?
        }
        result => result?,
    };
    session.apply_patch(&program, &plan, &linked, &mut timings)?;
    session.save_shadow()?;
    status("Patched", &describe(&plan, &timings, saved_at.elapsed()));
    Ok(Outcome::Applied)
}

fn describe(plan: &patch::PatchPlan, timings: &Timings, total: Duration) -> String {
    let names: Vec<String> = plan
        .functions
        .iter()
        .map(|name| {
            if plan.new_slots.iter().any(|(n, _)| n == name) {
                format!("{name} (new)")
            } else {
                name.clone()
            }
        })
        .collect();
    format!(
        "{} in {} ms (compile {} ms, link {} ms, transfer {:.1} ms)",
        names.join(", "),
        total.as_millis(),
        timings.compile.as_millis(),
        timings.link.as_millis(),
        timings.transfer.as_secs_f64() * 1000.0
    )
}
