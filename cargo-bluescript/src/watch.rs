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

    let toolchain = Toolchain::for_project(&project.root)?;
    let patcher = Patcher::new(toolchain, &project.state_dir())?;
    let mut session = start(project, board);
    status(
        "Watching",
        &format!(
            "{} for changes (Ctrl-C to stop)",
            project.display_path(&project.scripts_dir)
        ),
    );
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    // Each end state is announced once per start of the program.
    let mut finished_reported = false;
    let mut halted = false;
    while !stop.load(Ordering::SeqCst) {
        if let Some(running) = &mut session {
            match running.poll(&mut stdout, &mut stderr) {
                Ok(state) if state.finished() && !finished_reported => {
                    finished_reported = true;
                    status(
                        "Finished",
                        "the program has no pending timers; save to patch or restart it",
                    );
                }
                Ok(state) if state.halted() && !halted => {
                    halted = true;
                    status(
                        "Halted",
                        "the device stopped (see above); save a file to restart it",
                    );
                }
                Ok(_) => {}
                Err(_) if stop.load(Ordering::SeqCst) => break,
                Err(error) => {
                    crate::commands::report_error(
                        &error.context("lost the board; save a file to restart it"),
                    );
                    session = None;
                }
            }
        }
        let Ok(result) = events.recv_timeout(POLL_INTERVAL) else {
            continue;
        };
        let saved_at = Instant::now();
        let change = match classify(project, result) {
            Some(change) => change,
            None => continue,
        };
        match (&mut session, change) {
            (Some(running), Change::Scripts) if !halted => {
                match apply_edit(project, &patcher, running, saved_at) {
                    Ok(Outcome::Applied | Outcome::Unchanged | Outcome::Rejected) => {}
                    Ok(Outcome::Restart(reason)) => {
                        status("Restarting", &format!("the program: {reason}"));
                        drop(session.take()); // stop the old board first
                        session = start(project, board);
                        (finished_reported, halted) = (false, false);
                    }
                    Err(error) => crate::commands::report_error(&error),
                }
            }
            (_, change) => {
                if change == Change::Firmware {
                    status(
                        "Restarting",
                        "the program: the firmware's Rust sources changed",
                    );
                }
                drop(session.take());
                session = start(project, board);
                (finished_reported, halted) = (false, false);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Builds and starts the image; on failure the error is shown and watch
/// waits for the next save.
fn start(project: &Project, board: Board) -> Option<Session> {
    let result = firmware::build(project, false)
        .and_then(|image| Session::start(board, image.shadow, &StartOptions::default()));
    match result {
        Ok(session) => Some(session),
        Err(error) => {
            crate::commands::report_error(&error);
            status("Waiting", "for a save to try again");
            None
        }
    }
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
    let plan = match patch::plan(&session.shadow, &program)? {
        Plan::Unchanged => {
            status("Unchanged", "no function changed");
            return Ok(Outcome::Unchanged);
        }
        Plan::Restart(reason) => return Ok(Outcome::Restart(reason)),
        Plan::Patch(plan) => plan,
    };
    let mut timings = Timings::default();
    let linked = patcher.build(&session.shadow, &program, &plan, &mut timings)?;
    session.apply_patch(&program, &plan, &linked, &mut timings)?;
    session.save_shadow(&project.state_dir())?;
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
