//! `cargo bluescript repl`: the interactive shell. A front end of
//! [`Session`], like `watch`: each input becomes a cell that the device
//! runs (`session/shell.rs`), and what the program prints — the cells'
//! answers, and the output of its timers, which keep running — is printed
//! as it comes.
//!
//! One thread owns the session and polls the device every few
//! milliseconds, so the program's output never stalls (once the host is
//! attached, a full output buffer blocks the program) while a person types;
//! another reads the input, with a line editor on a terminal (history,
//! multi-line input while brackets or a block are open, completion) or line
//! by line from a pipe.

use crate::board::{Board, StartOptions};
use crate::commands::{report_error, status, stderr_color, write_output};
use crate::connection::output::Output;
use crate::profiles::FunctionProfile;
use crate::project::Project;
use crate::session::{CellRun, Edit, Restart, Session};
use crate::watch::{print_event, Shown};
use anyhow::{Context, Result};
use bluescript_abi::host_request::Outcome;
use bluescript_abi::profile::PROFILED_CALLS;
use bluescript_compiler::environment::needs_more_input;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod editor;
pub(crate) use editor::print_above_prompt;

/// How often the device is polled while the shell waits: for input, or for
/// a cell to finish.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// How long an interrupted cell may take to stop before the shell says it
/// cannot be interrupted where it runs.
const ABANDON_GRACE: Duration = Duration::from_secs(2);

const HELP: &str = "\
Type BlueScript: statements, declarations (let, const, function), or an
expression, whose value is printed. Declarations stay for the inputs after
them; a function defined again replaces the old one. The program's timers
keep running meanwhile.

  .help          this text
  .type EXPR     the type of an expression (nothing runs)
  .load FILE     run a script file as one input
  .save FILE     write the declarations made so far as a script
  .profile       the types that reached each function's untyped parameters
  .restart       build and start the program again (its state and the
                 shell's declarations are gone)
  .exit          leave (also Ctrl-D); the program runs on if it was flashed

Ctrl-C interrupts an input that does not end, or clears the line.";

/// One input the reader hands over.
enum Input {
    Text(String),
    /// Ctrl-C at the prompt.
    Interrupted,
    /// Ctrl-D, `.exit`, or the end of piped input.
    End,
    /// The editor completes after `EXPR.`: the members of its value, sent
    /// back (the prompt stays).
    Members(String, Sender<Vec<String>>),
}

pub fn repl(
    project: &Project,
    board: Board,
    options: StartOptions,
    stop: Arc<AtomicBool>,
) -> Result<ExitCode> {
    let mut session = Session::new(project, board, stderr_color())?;
    session.set_start_options(options);
    let mut shown = Shown::default();
    shown.quiet_finish = true;
    let started = session.start(&mut print_event);
    shown.outcome(&mut session, started.map(Edit::Started), Instant::now());
    if !session.is_running() {
        anyhow::bail!("the program could not be started, so the shell has nowhere to run");
    }
    let mut console = Console::start(project, &mut session, stop)?;
    loop {
        match console.serve(&mut session, &mut shown) {
            Served::Nothing => {
                // SIGINT or SIGTERM from outside the line editor.
                if console.interrupted() {
                    break;
                }
                console.poll(&mut session, &mut shown);
                std::thread::sleep(POLL_INTERVAL);
            }
            Served::Input | Served::Interrupted => {}
            Served::End => break,
        }
    }
    Ok(if !console.terminal && console.failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Whether this process is in the foreground of its terminal.
fn in_foreground() -> bool {
    #[cfg(target_os = "linux")]
    // SAFETY: plain queries of this process and its standard input.
    return unsafe { libc::tcgetpgrp(0) == libc::getpgrp() };
    #[cfg(not(target_os = "linux"))]
    true
}

/// Reads piped input: one input per line, more lines while it is
/// incomplete; the next input only once the last one was served.
fn spawn_pipe_reader(inputs: Sender<Input>, next: Receiver<()>) {
    std::thread::spawn(move || {
        let mut lines = std::io::stdin().lock().lines();
        let mut text = String::new();
        loop {
            let Some(Ok(line)) = lines.next() else {
                if !text.trim().is_empty() {
                    let _ = inputs.send(Input::Text(std::mem::take(&mut text)));
                    let _ = next.recv();
                }
                let _ = inputs.send(Input::End);
                return;
            };
            text.push_str(&line);
            text.push('\n');
            if needs_more_input(&text) {
                continue;
            }
            if inputs.send(Input::Text(std::mem::take(&mut text))).is_err() || next.recv().is_err()
            {
                return;
            }
        }
    });
}

/// What [`Console::serve`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Served {
    /// No input was waiting.
    Nothing,
    /// An input was served.
    Input,
    /// Ctrl-C at the prompt.
    Interrupted,
    /// The input ended: Ctrl-D, `.exit`, the end of a pipe.
    End,
}

/// The shell's side of a terminal (or pipe): inputs read on their own
/// thread, served one at a time between polls of the device by whoever
/// owns the session (`repl`, or `watch`, which offers the same prompt).
pub(crate) struct Console {
    received: Receiver<Input>,
    ready: Sender<()>,
    /// Input comes from a terminal, through the line editor.
    pub terminal: bool,
    /// Ctrl-C outside the line editor (a pipe, or a cell running).
    stop: Arc<AtomicBool>,
    /// What the editor completes, renewed after each input.
    names: Arc<Mutex<Vec<String>>>,
    /// The editor shows its prompt (and owns the terminal's line).
    prompt_shown: bool,
    /// Output after its last newline, held while the prompt is shown.
    unfinished: Vec<u8>,
    /// Inputs that were rejected or failed.
    pub failures: u32,
}

impl Console {
    /// Starts reading input: with the line editor on a terminal, line by
    /// line from a pipe.
    pub(crate) fn start(
        project: &Project,
        session: &mut Session,
        stop: Arc<AtomicBool>,
    ) -> Result<Console> {
        let on_terminal = std::io::stdin().is_terminal();
        // A job in the background is stopped as soon as it reads its
        // terminal: it takes no input (`watch &` just watches).
        let terminal = on_terminal && in_foreground();
        let names = Arc::new(Mutex::new(session.names()));
        let (inputs, received) = mpsc::channel();
        let (ready, next) = mpsc::channel();
        if terminal {
            status(
                "Shell",
                &format!(
                    "on {}: type BlueScript, `.help` for help, Ctrl-D to leave",
                    session.board()
                ),
            );
            editor::spawn(
                history_path(&project.state_dir()),
                names.clone(),
                inputs,
                next,
            )?;
        } else if !on_terminal {
            spawn_pipe_reader(inputs, next);
        }
        Ok(Console {
            received,
            ready,
            terminal,
            stop,
            names,
            prompt_shown: true,
            unfinished: Vec::new(),
            failures: 0,
        })
    }

    /// Whether Ctrl-C was pressed outside the line editor since the last
    /// call.
    pub(crate) fn interrupted(&self) -> bool {
        self.stop.swap(false, Ordering::SeqCst)
    }

    /// Serves the input waiting, if any, to its end.
    pub(crate) fn serve(&mut self, session: &mut Session, shown: &mut Shown) -> Served {
        let input = match self.received.try_recv() {
            Ok(Input::Members(expression, reply)) => {
                let _ = reply.send(session.members_of(&expression));
                return Served::Nothing;
            }
            Ok(input) => input,
            Err(TryRecvError::Empty) => return Served::Nothing,
            Err(TryRecvError::Disconnected) => return Served::End,
        };
        self.set_prompt_shown(false);
        let served = match input {
            Input::End | Input::Members(..) => return Served::End,
            Input::Interrupted => Served::Interrupted,
            Input::Text(text) => {
                if !self.input(session, shown, text.trim_end()) {
                    return Served::End;
                }
                Served::Input
            }
        };
        *self.names.lock().expect("never poisoned") = session.names();
        let _ = std::io::stdout().flush();
        self.set_prompt_shown(true);
        if self.ready.send(()).is_err() {
            return Served::End;
        }
        served
    }

    /// Serves one input; `false` once it asks to leave.
    fn input(&mut self, session: &mut Session, shown: &mut Shown, text: &str) -> bool {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return true;
        }
        if let Some(command) = trimmed.strip_prefix('.') {
            if command
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
            {
                return self.command(session, shown, command);
            }
        }
        self.run(session, shown, text);
        // A Ctrl-C meant for the input that just ended is not one for the
        // shell.
        self.stop.store(false, Ordering::SeqCst);
        true
    }

    /// A `.command` line; `false` for `.exit`.
    fn command(&mut self, session: &mut Session, shown: &mut Shown, line: &str) -> bool {
        let (name, argument) = line
            .split_once(char::is_whitespace)
            .map_or((line, ""), |(name, rest)| (name, rest.trim()));
        match name {
            "exit" | "quit" => return false,
            "restart" => {
                let edit = session.restart(Restart::Requested, &mut print_event);
                shown.outcome(session, edit, Instant::now());
            }
            "help" => println!("{HELP}"),
            "profile" => match session.profiles() {
                Ok(profiles) => print!("{}", render_profiles(&profiles)),
                Err(error) => self.failed(&error),
            },
            "type" if !argument.is_empty() => match session.type_of(argument) {
                Ok(Ok(ty)) => println!("{ty}"),
                Ok(Err(diagnostics)) => self.rejected(&diagnostics),
                Err(error) => self.failed(&error),
            },
            "load" if !argument.is_empty() => {
                match std::fs::read_to_string(argument)
                    .with_context(|| format!("cannot read `{argument}`"))
                {
                    Ok(text) => self.run(session, shown, &text),
                    Err(error) => self.failed(&error),
                }
            }
            "save" if !argument.is_empty() => {
                let script = session.shell_declarations();
                match std::fs::write(argument, script)
                    .with_context(|| format!("cannot write `{argument}`"))
                {
                    Ok(()) => status("Saved", &format!("the declarations to {argument}")),
                    Err(error) => self.failed(&error),
                }
            }
            "type" | "load" | "save" => {
                self.failures += 1;
                eprintln!("error: `.{name}` needs an argument; `.help` lists the commands");
            }
            _ => {
                self.failures += 1;
                eprintln!("error: no command `.{name}`; `.help` lists the commands");
            }
        }
        true
    }

    /// Compiles and runs one cell, printing what it prints, until it ends.
    fn run(&mut self, session: &mut Session, shown: &mut Shown, text: &str) {
        // A Ctrl-C while the input compiles interrupts it as soon as it runs.
        self.stop.store(false, Ordering::SeqCst);
        let posted = match session.run_cell(text) {
            Ok(CellRun::Posted(posted)) => posted,
            Ok(CellRun::Rejected(diagnostics)) => return self.rejected(&diagnostics),
            Err(error) => return self.failed(&error),
        };
        let mut interrupted_at: Option<Instant> = None;
        let mut warned = false;
        loop {
            let outcome = match session.cell_outcome(&posted) {
                Ok(outcome) => outcome,
                Err(error) => return self.failed(&error),
            };
            self.poll(session, shown);
            match outcome {
                Some(Outcome::Returned) => return,
                Some(Outcome::Failed) => {
                    // The device reported the error with its location.
                    self.failures += 1;
                    return;
                }
                Some(Outcome::Abandoned) => {
                    self.failures += 1;
                    eprintln!("interrupted");
                    return;
                }
                None => {}
            }
            if self.stop.swap(false, Ordering::SeqCst) {
                if interrupted_at.is_some() {
                    status(
                        "Restarting",
                        "the program: the input could not be interrupted",
                    );
                    let edit = session.restart(Restart::Interrupted, &mut print_event);
                    shown.outcome(session, edit, Instant::now());
                    self.failures += 1;
                    return;
                }
                interrupted_at = Some(Instant::now());
                if let Err(error) = session.abandon_cell(&posted) {
                    return self.failed(&error);
                }
            }
            if let Some(at) = interrupted_at {
                if !warned && at.elapsed() > ABANDON_GRACE {
                    warned = true;
                    eprintln!(
                        "the input runs code of the flashed image, where it cannot be \
                         interrupted safely; Ctrl-C again restarts the program"
                    );
                }
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Polls the device and prints what the program printed since.
    pub(crate) fn poll(&mut self, session: &mut Session, shown: &mut Shown) {
        match session.poll() {
            Ok(Some(poll)) => {
                self.show(&poll.output);
                // Said once no prompt holds the line (a status line would
                // break it).
                if !self.prompt_shown {
                    shown.program_status(poll.status);
                }
            }
            Ok(None) => {}
            Err(error) => report_error(&error.context("lost the board")),
        }
    }

    /// Prints the program's output: above the prompt, a whole line at a
    /// time, while the editor shows one.
    pub(crate) fn show(&mut self, output: &[Output]) {
        if !(self.terminal && self.prompt_shown) {
            if !self.unfinished.is_empty() {
                let _ = std::io::stdout().write_all(&std::mem::take(&mut self.unfinished));
            }
            let _ = write_output(output);
            return;
        }
        for chunk in output {
            self.unfinished.extend_from_slice(&chunk.bytes);
        }
        if let Some(end) = self.unfinished.iter().rposition(|&b| b == b'\n') {
            let lines: Vec<u8> = self.unfinished.drain(..=end).collect();
            let text = String::from_utf8_lossy(&lines[..end]).into_owned();
            if let Err(text) = editor::print_above_prompt(text) {
                println!("{text}");
            }
        }
    }

    fn set_prompt_shown(&mut self, shown: bool) {
        self.prompt_shown = shown;
        if self.terminal {
            editor::set_prompt_shown(shown);
        }
    }

    fn rejected(&mut self, diagnostics: &[bluescript_compiler::diagnostic::Diagnostic]) {
        self.failures += 1;
        let color = stderr_color();
        for diagnostic in diagnostics {
            eprintln!("{}", diagnostic.render_in(color));
        }
    }

    fn failed(&mut self, error: &anyhow::Error) {
        self.failures += 1;
        report_error(error);
    }
}

/// Where the shell keeps its history: the project's state directory.
pub fn history_path(state_dir: &Path) -> PathBuf {
    state_dir.join("repl-history")
}

/// `.profile`'s table: the functions with untyped parameters, most called
/// first, with what reached each parameter.
fn render_profiles(profiles: &[FunctionProfile]) -> String {
    if profiles.is_empty() {
        return "No function of the running code records types: none has an untyped parameter, \
                or the image was built with --release.\n"
            .to_string();
    }
    let mut sorted: Vec<&FunctionProfile> = profiles.iter().collect();
    sorted.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.function.cmp(&b.function)));
    let width = sorted.iter().map(|p| p.function.len()).max().unwrap_or(0);
    let mut out = String::new();
    for profile in sorted {
        let params: Vec<String> = profile
            .params
            .iter()
            .map(|param| format!("{}: {}", param.name, param.description))
            .collect();
        let calls = match profile.calls {
            1 => "1".to_string(),
            n if n as usize >= PROFILED_CALLS => format!("{n}+"),
            n => n.to_string(),
        };
        let noun = if profile.calls == 1 { "call" } else { "calls" };
        out.push_str(&format!(
            "{:width$}  {calls:>10} {noun:5}  {}\n",
            profile.function,
            params.join(", ")
        ));
    }
    out
}
