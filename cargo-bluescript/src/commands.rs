//! The subcommands, as the command line sees them.

use crate::board::{
    esp_serial, Board, Connection, ProbeChoice, SerialPortChoice, StartOptions, Stopped, Transport,
    Via,
};
use crate::connection::output::{Output, Stream};
use crate::connection::probe_rs;
use crate::connection::serial::DEFAULT_BAUD;
use crate::device::Device;
use crate::firmware::{self, BuildLog, ScriptErrors};
use crate::project::Project;
use anyhow::{bail, Result};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often a running board is looked at for output.
pub const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Whether diagnostics written to standard error should be coloured: when
/// it is a terminal, unless `NO_COLOR` is set or `CARGO_TERM_COLOR` says
/// otherwise (`always`, `never`, `auto`), as cargo decides.
pub fn stderr_color() -> bool {
    use std::io::IsTerminal;
    match std::env::var("CARGO_TERM_COLOR").as_deref() {
        Ok("always") => return true,
        Ok("never") => return false,
        _ => {}
    }
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Cargo's messages while it builds the firmware, to stderr as cargo
/// itself would print them.
pub struct StderrLog;

impl BuildLog for StderrLog {
    fn color(&self) -> bool {
        stderr_color()
    }

    fn line(&mut self, line: &str) {
        eprintln!("{line}");
    }
}

/// A cargo-style status line on stderr: `    Finished build in 2.1 s`.
pub fn status(verb: &str, message: &str) {
    if std::io::stderr().is_terminal() {
        print_stderr(format!("\x1b[1;32m{verb:>12}\x1b[0m {message}"));
    } else {
        print_stderr(format!("{verb:>12} {message}"));
    }
}

pub fn report_error(error: &anyhow::Error) {
    if let Some(errors) = error.downcast_ref::<ScriptErrors>() {
        print_stderr(errors.render(stderr_color()));
        return;
    }
    let red = std::io::stderr().is_terminal();
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        text.push_str(&format!("\n\nCaused by:\n    {cause}"));
    }
    if red {
        print_stderr(format!("\x1b[1;31merror\x1b[0m: {text}"));
    } else {
        print_stderr(format!("error: {text}"));
    }
}

/// A message's lines on stderr, or above the shell's prompt while it is
/// shown (printed across it, they would break the line being typed).
fn print_stderr(text: String) {
    if let Err(text) = crate::repl::print_above_prompt(text) {
        eprintln!("{text}");
    }
}

/// Copies the program's output to this process's stdout and stderr.
pub fn write_output(output: &[Output]) -> std::io::Result<()> {
    for Output { stream, bytes } in output {
        match stream {
            Stream::Stdout => {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(bytes)?;
                stdout.flush()?;
            }
            Stream::Stderr => std::io::stderr().lock().write_all(bytes)?,
        }
    }
    Ok(())
}

pub fn new(path: &Path, board: &str) -> Result<ExitCode> {
    let name = crate::scaffold::new_project(path, board)?;
    status(
        "Created",
        &format!("BlueScript project `{name}` for board {board}"),
    );
    eprintln!(
        "\nNext:\n    cd {}\n    cargo bluescript run      # build, run, print the output\n    cargo bluescript watch    # and patch the running program on every save",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn check(manifest_path: Option<&Path>) -> Result<ExitCode> {
    let project = Project::locate(manifest_path)?;
    let exports = crate::firmware::scan_firmware_sources(&project.root.join("src"))?;
    firmware::compile_scripts(&project, &exports)?;
    status("Checked", &project.display_path(&project.main_script));
    Ok(ExitCode::SUCCESS)
}

pub fn build(manifest_path: Option<&Path>, release: bool) -> Result<ExitCode> {
    let project = Project::locate(manifest_path)?;
    let image = firmware::build(&project, release, &mut StderrLog)?;
    status("Built", &image.elf.display().to_string());
    let (functions, bytes) = image.shadow.profile_budget();
    if functions > 0 {
        status(
            "Profiling",
            &format!("the untyped parameters of {functions} functions in {bytes} bytes of RAM"),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `--probe`, `--chip`, `--port` and `--baud`, as given on the command
/// line.
#[derive(Debug, Clone, Default)]
pub struct ProbeArgs {
    pub probe: Option<String>,
    pub chip: Option<String>,
    /// `Some("")`: `--port` without a name (the one USB-UART bridge).
    pub port: Option<String>,
    pub baud: Option<u32>,
}

/// How to start or flash the project's board: the transport, and the
/// command line's `--probe`, `--chip`, `--port` and `--baud` over the
/// project's `probe`, `chip`, `port` and `baud` keys, which only a real
/// board takes (`--port` and `--baud` an ESP board, whom `--port` reaches
/// over serial).
pub fn start_options(
    project: &Project,
    transport: Option<Transport>,
    args: &ProbeArgs,
) -> Result<StartOptions> {
    let board = project.board;
    let probe = args.probe.as_ref().or(project.probe.as_ref());
    let chip = args.chip.clone().or_else(|| project.chip.clone());
    if board.probe_target().is_none() && (probe.is_some() || chip.is_some()) {
        bail!(
            "the {board} board is emulated by QEMU: a probe and a chip (--probe, --chip, or \
             `probe` and `chip` in [package.metadata.bluescript]) are for real boards"
        );
    }
    let is_esp = board
        .probe_target()
        .is_some_and(|target| target.esp_chip.is_some());
    if !is_esp && (args.port.is_some() || args.baud.is_some()) {
        bail!(
            "`--port` and `--baud` reach an ESP board over its serial port; the {board} board \
             is not one: leave them out"
        );
    }
    let transport = match (args.port.is_some(), transport) {
        (true, Some(Transport::Debugger)) => bail!(
            "`--port` reaches the board over its serial port: it goes with `--transport serial`, \
             not `--transport debugger`"
        ),
        (true, _) => Some(Transport::Serial),
        (false, transport) => transport,
    };
    let port = args.port.clone().filter(|port| !port.is_empty());
    Ok(StartOptions {
        connection: connection(project, transport)?,
        probe: ProbeChoice {
            probe: probe.map(|text| text.parse()).transpose()?,
            chip,
        },
        serial_port: SerialPortChoice {
            port: port.or_else(|| project.port.clone()),
            baud: args.baud.or(project.baud).unwrap_or(DEFAULT_BAUD),
        },
        progress: true,
        ..StartOptions::default()
    })
}

pub fn flash(
    manifest_path: Option<&Path>,
    release: bool,
    transport: Option<Transport>,
    probe: &ProbeArgs,
) -> Result<ExitCode> {
    let project = Project::locate(manifest_path)?;
    let options = start_options(&project, transport, probe)?;
    let board = project.board;
    ensure_reachable(board, &options)?;
    let image = firmware::build(&project, release, &mut StderrLog)?;
    let flashed = board.flash(&image.shadow, &project.state_dir(), &options)?;
    if let Some(stopped) = &flashed.replaced {
        report_stopped(stopped);
    }
    let record = &flashed.record;
    let program = flashed.status;
    let errors = match program.errors {
        1 => "1 run-time error".to_owned(),
        n => format!("{n} run-time errors"),
    };
    // Aligned under the message of the status line.
    let indent = " ".repeat(13);
    match &record.via {
        Via::Qemu { pid, socket, log } => {
            status(
                "Flashed",
                &format!(
                    "build {:#010x} to {board}, which runs it in the background (QEMU pid {pid})",
                    record.build_id
                ),
            );
            eprintln!("{indent}program:      {}; {errors}", program.describe());
            eprintln!("{indent}debug socket: {}", project.display_path(socket));
            if let Some(serial) = crate::board::qemu::serial_socket(board, socket) {
                eprintln!("{indent}serial port:  {}", project.display_path(&serial));
            }
            eprintln!("{indent}output log:   {}", project.display_path(log));
            eprintln!("{indent}stop it with: cargo bluescript flash --stop");
        }
        via @ Via::Probe { .. } => {
            status(
                "Flashed",
                &format!(
                    "build {:#010x} to {board} ({via}), which runs it",
                    record.build_id
                ),
            );
            eprintln!("{indent}program:      {}; {errors}", program.describe());
            eprintln!("{indent}take it over: cargo bluescript watch");
            eprintln!("{indent}halt it with: cargo bluescript flash --stop");
        }
        via @ Via::Serial { .. } => {
            status(
                "Flashed",
                &format!(
                    "build {:#010x} to {board} over its {via} (espflash), which runs it",
                    record.build_id
                ),
            );
            eprintln!("{indent}program:      {}; {errors}", program.describe());
            eprintln!("{indent}take it over: cargo bluescript watch");
        }
    }
    // Nobody reads a flashed board's output, so point to where it can be seen.
    if program.halted() {
        eprintln!("warning: the program halted after a fatal error; `cargo bluescript run` shows its output");
    } else if program.errors > 0 {
        eprintln!(
            "warning: the program reported {errors}; `cargo bluescript run` shows its output"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `cargo bluescript flash --stop`.
pub fn stop_flashed(manifest_path: Option<&Path>) -> Result<ExitCode> {
    let project = Project::locate(manifest_path)?;
    match Board::stop_flashed(&project.state_dir())? {
        Some(stopped) => report_stopped(&stopped),
        None => status(
            "Stopped",
            "nothing: no board flashed by `cargo bluescript flash` is running",
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn report_stopped(stopped: &Stopped) {
    let record = &stopped.record;
    if let Via::Serial { .. } = record.via {
        status(
            "Forgot",
            &format!(
                "{} ({}, build {:#010x}): reached over its serial port, it cannot be halted \
                 from here, and runs on",
                record.board, record.via, record.build_id
            ),
        );
    } else if stopped.was_running {
        status(
            "Stopped",
            &format!(
                "{} ({}, build {:#010x})",
                record.board, record.via, record.build_id
            ),
        );
    } else {
        status(
            "Stopped",
            &format!(
                "nothing: {} ({}) had already stopped; its record is removed",
                record.board, record.via
            ),
        );
    }
}

/// How to reach the project's board: through `transport` if given (and the
/// board has it), else its usual way; with the project's serial key.
fn connection(project: &Project, transport: Option<Transport>) -> Result<Connection> {
    Ok(Connection {
        transport: project.board.transport(transport)?,
        serial_key: project.serial_key()?,
    })
}

/// Checks, before a long build, that the board can be reached: its tools
/// are installed and, for a real board, its probe (or serial port) is
/// connected.
fn ensure_reachable(board: Board, options: &StartOptions) -> Result<()> {
    board.ensure_tools_installed()?;
    if let Some(target) = board.probe_target() {
        match options.connection.transport {
            Transport::Debugger => crate::board::probe::check_connected(target, &options.probe)?,
            Transport::Serial => esp_serial::check_connected(&options.serial_port)?,
        }
    }
    Ok(())
}

/// Set when the user presses Ctrl-C.
pub fn interrupted() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let handler_flag = flag.clone();
    // Only fails if a handler is already installed, which this process never does twice.
    let _ = ctrlc::set_handler(move || handler_flag.store(true, Ordering::SeqCst));
    flag
}

/// Like `node main.js`: exits 0 once the top level is done and nothing is
/// pending, non-zero on a run-time error.
pub fn run(
    manifest_path: Option<&Path>,
    release: bool,
    transport: Option<Transport>,
    probe: &ProbeArgs,
) -> Result<ExitCode> {
    let project = Project::locate(manifest_path)?;
    let options = start_options(&project, transport, probe)?;
    let board = project.board;
    ensure_reachable(board, &options)?;
    let image = firmware::build(&project, release, &mut StderrLog)?;
    let stop = interrupted();
    let mut device = Device::start(board, image.shadow, &options)?;
    loop {
        let status = match device.poll() {
            Ok(poll) => {
                write_output(&poll.output)?;
                poll.status
            }
            // Ctrl-C reaches QEMU too; its going away is then no error.
            Err(_) if stop.load(Ordering::SeqCst) => return Ok(ExitCode::from(130)),
            Err(error) => return Err(error),
        };
        if status.errors > 0 || status.halted() {
            return Ok(ExitCode::FAILURE);
        }
        if status.finished() {
            return Ok(ExitCode::SUCCESS);
        }
        if stop.load(Ordering::SeqCst) {
            return Ok(ExitCode::from(130));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

pub fn watch(
    manifest_path: Option<&Path>,
    transport: Option<Transport>,
    probe: &ProbeArgs,
    watch_options: crate::watch::WatchOptions,
) -> Result<ExitCode> {
    let (project, options) = locate_with_board_tools(manifest_path, transport, probe)?;
    crate::watch::watch(
        &project,
        project.board,
        options,
        watch_options,
        interrupted(),
    )
}

/// The project, and how its board is started and reached, once the tools
/// the board needs are known to be installed.
fn locate_with_board_tools(
    manifest_path: Option<&Path>,
    transport: Option<Transport>,
    probe: &ProbeArgs,
) -> Result<(Project, StartOptions)> {
    let project = Project::locate(manifest_path)?;
    let options = start_options(&project, transport, probe)?;
    project.board.ensure_tools_installed()?;
    Ok((project, options))
}

/// `cargo bluescript repl`: the interactive shell on the project's program.
pub fn repl(
    manifest_path: Option<&Path>,
    transport: Option<Transport>,
    probe: &ProbeArgs,
) -> Result<ExitCode> {
    let (project, options) = locate_with_board_tools(manifest_path, transport, probe)?;
    crate::repl::repl(&project, project.board, options, interrupted())
}

/// `cargo bluescript probes`: the debug probes connected, and what chooses
/// each.
pub fn probes() -> Result<ExitCode> {
    let probes = probe_rs::list();
    if probes.is_empty() {
        eprintln!(
            "No debug probe is connected (or none this computer recognizes). Plug in the \
             board's probe: the README's \"Real boards\" lists which each board needs. On \
             Linux, a probe you may not use is still listed, with what grants access."
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} debug probe(s) connected:", probes.len());
    for (probe, _) in &probes {
        println!("    {probe}");
    }
    Ok(ExitCode::SUCCESS)
}
