//! `cargo bluescript watch`: run the program and patch it on every save.
//!
//! A thin front end of [`Session`]: it turns file events into session calls
//! and prints what they return. One thread owns the session: it polls the
//! device for output and, when the file watcher reports a save, has the
//! session patch the program in between two polls. The device keeps running
//! while the host compiles.

use crate::board::{Board, StartOptions};
use crate::commands::{report_error, status, stderr_color, write_output, POLL_INTERVAL};
use crate::project::Project;
use crate::repl::{Console, Served};
use crate::session::{describe_specialized, Edit, Event, Patched, Session, Started};
use anyhow::{Context, Result};
use notify::{RecursiveMode, Watcher};
use saves::{Change, Saves};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod saves;

/// Right after a change, the user waits for what the new code prints: the
/// device is polled this often meanwhile.
const FAST_POLL_INTERVAL: Duration = Duration::from_millis(1);
const FAST_POLL_WINDOW: Duration = Duration::from_millis(250);

/// How long after a change the next patch's rustc is started: not while
/// the change is applied and its first output read, which it would slow
/// down on two cores.
const SPARE_COMPILER_DELAY: Duration = Duration::from_millis(30);

/// How often a real board that was lost, or the link to a board, is looked
/// for again.
const REATTACH_INTERVAL: Duration = Duration::from_secs(1);

/// How long after a change, and how often, the dynamic compiler looks at
/// the type profiles.
const SPECIALIZE_INTERVAL: Duration = Duration::from_millis(500);

/// How `watch` runs.
#[derive(Clone, Copy, Debug)]
pub struct WatchOptions {
    /// Flash a real board that runs another project.
    pub reflash: bool,
    /// Record type profiles and specialize untyped functions to them.
    pub specialize: bool,
}

pub fn watch(
    project: &Project,
    board: Board,
    options: StartOptions,
    watch_options: WatchOptions,
    stop: Arc<AtomicBool>,
) -> Result<ExitCode> {
    let WatchOptions {
        reflash,
        specialize,
    } = watch_options;
    let (sender, events) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let _ = sender.send(event);
    })
    .context("cannot start the file watcher")?;
    watcher
        .watch(&project.scripts_dir, RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch `{}`", project.scripts_dir.display()))?;
    let firmware_src = project.root.join("src");
    watcher
        .watch(&firmware_src, RecursiveMode::Recursive)
        .with_context(|| format!("cannot watch `{}`", firmware_src.display()))?;

    let mut session = Session::new(project, board, stderr_color())?;
    session.set_start_options(options);
    session.set_reflash(reflash);
    let mut shown = Shown::default();
    let started = session.start(&mut print_event);
    shown.outcome(&mut session, started.map(Edit::Started), Instant::now());
    status(
        "Watching",
        &format!(
            "{} for changes (Ctrl-C to stop)",
            project.display_path(&project.scripts_dir)
        ),
    );
    // The shell's prompt, on the same program: inputs run between polls.
    let mut console = Some(Console::start(project, &mut session, stop.clone())?);
    let mut last_reattach = Instant::now();
    let mut saves = Saves::new(&project.scripts_dir);
    let mut last_change = Instant::now();
    let mut last_specialized = Instant::now();
    let mut profiling_paused_for: Option<u32> = None;
    while !stop.load(Ordering::SeqCst) {
        match session.poll() {
            Ok(Some(poll)) => {
                // A closed terminal is no reason to stop patching.
                match &mut console {
                    Some(console) => console.show(&poll.output),
                    None => {
                        let _ = write_output(&poll.output);
                    }
                }
                shown.program_status(poll.status);
            }
            Ok(None) if last_reattach.elapsed() > REATTACH_INTERVAL => {
                last_reattach = Instant::now();
                if let Some(reconnected) = session.reconnect() {
                    shown.reconnected(&mut session, reconnected);
                } else if let Some(started) = session.reattach() {
                    shown.outcome(&mut session, Ok(Edit::Started(started)), Instant::now());
                }
            }
            Ok(None) => {}
            Err(_) if stop.load(Ordering::SeqCst) => break, // Ctrl-C reached QEMU first
            Err(error) if session.link_down() => report_error(&error.context(
                "lost the link to the board; the host keeps its model of the program, and \
                 reconnects as soon as the link is back",
            )),
            Err(error) if board.probe_target().is_some() => report_error(
                &error.context("lost the board; it is taken over again as soon as it is back"),
            ),
            Err(error) => report_error(&error.context("lost the board; save a file to restart it")),
        }
        if let Some(shell) = &mut console {
            match shell.serve(&mut session, &mut shown) {
                // Ctrl-C or Ctrl-D at the prompt: the terminal's line is
                // the editor's, so they stop watch as Ctrl-C does elsewhere.
                Served::Interrupted | Served::End if shell.terminal => break,
                // Piped input that ended: watch goes on.
                Served::End => console = None,
                Served::Nothing | Served::Input | Served::Interrupted => {}
            }
        }
        if Instant::now() >= last_change + SPARE_COMPILER_DELAY {
            session.expect_patches();
        }
        let poll_interval = if Instant::now() < last_change + FAST_POLL_WINDOW {
            FAST_POLL_INTERVAL
        } else {
            POLL_INTERVAL
        };
        let timeout = saves
            .wait(Instant::now())
            .map_or(poll_interval, |wait| wait.min(poll_interval));
        if let Ok(event) = events.recv_timeout(timeout) {
            saves.add(event, Instant::now());
            while let Ok(event) = events.try_recv() {
                saves.add(event, Instant::now());
            }
        }
        let Some((change, saved_at)) = saves.take(Instant::now()) else {
            let idle = last_change.elapsed().min(last_specialized.elapsed());
            if idle >= SPECIALIZE_INTERVAL && saves.wait(Instant::now()).is_none() {
                last_specialized = Instant::now();
                if specialize {
                    specialize_round(&mut session);
                } else {
                    pause_profiling(&mut session, &mut profiling_paused_for);
                }
            }
            continue;
        };
        let edit = match change {
            Change::Scripts => session.scripts_changed(&mut print_event),
            Change::Firmware => session.firmware_changed(&mut print_event),
        };
        shown.outcome(&mut session, edit, saved_at);
        saves.handled(Instant::now());
        last_change = Instant::now();
    }
    Ok(ExitCode::SUCCESS)
}

/// One round of the dynamic compiler, reported in one line.
fn specialize_round(session: &mut Session) {
    match session.specialize() {
        Ok(Some(specialized)) => {
            let timings = specialized.patched.timings;
            let total = timings.check + timings.compile + timings.link + timings.transfer;
            status(
                "Specialized",
                &format!(
                    "{} in {} ms",
                    describe_specialized(&specialized),
                    total.as_millis()
                ),
            );
        }
        Ok(None) => {}
        Err(error) => report_error(&error.context(
            "the dynamic compiler could not install a specialized version; the program runs on",
        )),
    }
}

/// With `--no-specialize`: pauses the profiles of every program started
/// (once per build).
fn pause_profiling(session: &mut Session, paused_for: &mut Option<u32>) {
    let build = session.device().map(|device| device.shadow.build_id);
    if build.is_some() && build != *paused_for {
        match session.set_profiling(false) {
            Ok(()) => *paused_for = build,
            Err(error) => report_error(&error.context("cannot pause the type profiles")),
        }
    }
}

/// What has been said about the program: each end state is announced once
/// per start.
#[derive(Default)]
pub(crate) struct Shown {
    finished: bool,
    halted: bool,
    /// A program that finished is no news (the shell's: it runs inputs
    /// on, and nothing needs saving).
    pub(crate) quiet_finish: bool,
}

impl Shown {
    pub(crate) fn program_status(&mut self, program: crate::device::ProgramStatus) {
        if program.finished() && !self.finished && !self.quiet_finish {
            self.finished = true;
            status(
                "Finished",
                "the program has no pending timers; save to patch or restart it",
            );
        }
        if program.halted() && !self.halted {
            self.halted = true;
            status(
                "Halted",
                "the device stopped (see above); save a file to restart it",
            );
        }
    }

    /// Prints what became of a change (timed from `saved_at`). A board just
    /// taken over gets the current scripts, as if they had been saved.
    pub(crate) fn outcome(&mut self, session: &mut Session, edit: Result<Edit>, saved_at: Instant) {
        let started = match edit {
            Ok(Edit::Patched(patched)) => {
                status("Patched", &describe(&patched, saved_at.elapsed()));
                return;
            }
            Ok(Edit::Unchanged) => {
                status("Unchanged", "no function changed");
                return;
            }
            Ok(Edit::Deferred { lost }) => {
                if let Some(lost) = lost {
                    report_error(&anyhow::anyhow!("lost the link to the board: {lost}"));
                }
                status(
                    "Waiting",
                    "for the link to the board: the change is applied once it is back",
                );
                return;
            }
            Ok(Edit::Rejected(errors)) => {
                report_error(&errors.into());
                status("Unchanged", "the device keeps running the previous code");
                return;
            }
            Ok(Edit::Restarted { started, .. } | Edit::Started(started)) => started,
            Err(error) => {
                report_error(&error);
                if !session.is_running() {
                    status("Waiting", "for a save to try again");
                }
                return;
            }
        };
        *self = Shown {
            quiet_finish: self.quiet_finish,
            ..Shown::default()
        };
        match started {
            Started::Fresh => {}
            Started::Flashed { build_id, via } => status(
                "Flashed",
                &format!("build {build_id:#010x} to {} ({via})", session.board()),
            ),
            Started::Attached { via, reset } => {
                let what = if reset {
                    "to the board flashed last, which was reset since: its patches are gone, \
                     the current scripts are applied again"
                } else {
                    "to the board `cargo bluescript flash` left running"
                };
                status(
                    "Attached",
                    &format!("{what} ({via}); it keeps its state, and runs on when watch stops"),
                );
                let synced = session.scripts_changed(&mut print_event);
                self.outcome(session, synced, Instant::now());
            }
        }
    }
}

impl Shown {
    /// Prints what became of a lost link reopened, and applies what was
    /// saved meanwhile.
    fn reconnected(&mut self, session: &mut Session, reconnected: Result<()>) {
        match reconnected {
            Ok(()) => status(
                "Reconnected",
                "to the board, which ran on meanwhile: watching the same program, with its state",
            ),
            Err(error) => self.outcome(
                session,
                Err(error.context("the link to the board is back, but not the program")),
                Instant::now(),
            ),
        }
        let applying = Instant::now();
        if let Some(edit) = session.apply_deferred(&mut print_event) {
            self.outcome(session, edit, applying);
        }
    }
}

/// Prints what the session reports while it works.
pub(crate) fn print_event(event: Event) {
    match event {
        Event::Restarting(reason) => status("Restarting", &format!("the program: {reason}")),
        Event::Compacting => status(
            "Compacting",
            "the patch region: recompiling the patched functions",
        ),
        Event::Reflashing(why) => status("Reflashing", why),
        Event::BuildOutput(line) => eprintln!("{line}"),
        Event::Error(error) => report_error(error),
    }
}

fn describe(patched: &Patched, total: Duration) -> String {
    let names: Vec<String> = patched
        .functions
        .iter()
        .map(|function| {
            if function.new {
                format!("{} (new)", function.name)
            } else {
                function.name.clone()
            }
        })
        .collect();
    let timings = &patched.timings;
    let mut what = names.join(", ");
    if patched.appended_top_level {
        if !what.is_empty() {
            what.push_str(", and ");
        }
        what.push_str("the top-level code added at the end, which runs once,");
    }
    format!(
        "{} in {} ms (check {:.1} ms, compile {} ms, link {} ms, transfer {:.1} ms)",
        what,
        total.as_millis(),
        timings.check.as_secs_f64() * 1000.0,
        timings.compile.as_millis(),
        timings.link.as_millis(),
        timings.transfer.as_secs_f64() * 1000.0
    )
}
