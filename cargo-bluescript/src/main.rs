//! `cargo bluescript`: cargo runs this as `cargo-bluescript bluescript <args>`.

use anyhow::Result;
use cargo_bluescript::board::Transport;
use cargo_bluescript::commands;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cargo bluescript",
    bin_name = "cargo bluescript",
    version,
    about = "BlueScript for microcontrollers: typed scripts compiled to native code, hot-patched into the running device"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct ProjectArgs {
    /// Path to the project's Cargo.toml
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
    /// Build with the release profile
    #[arg(long)]
    release: bool,
}

#[derive(clap::Args, Clone, Copy)]
struct TransportArgs {
    /// How the host reaches the running program (default: the board's
    /// usual one; `debugger` on the QEMU boards)
    #[arg(long, value_enum, value_name = "HOW")]
    transport: Option<TransportArg>,
}

/// Which project, and how to reach its board.
#[derive(clap::Args)]
struct ReachArgs {
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
    #[command(flatten)]
    transport: TransportArgs,
    #[command(flatten)]
    probe: ProbeArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum TransportArg {
    /// The board's debug port: QEMU's GDB stub, or a debug probe
    #[value(alias = "gdb", alias = "probe")]
    Debugger,
    /// The serial agent in the firmware, over the board's UART (for boards
    /// without a debug probe)
    Serial,
}

impl TransportArgs {
    fn transport(self) -> Option<Transport> {
        self.transport.map(|arg| match arg {
            TransportArg::Debugger => Transport::Debugger,
            TransportArg::Serial => Transport::Serial,
        })
    }
}

/// Real boards: which probe and chip, or which serial port.
#[derive(clap::Args, Clone, Default)]
struct ProbeArgs {
    /// The debug probe to use, VID:PID[:SERIAL] as `cargo bluescript probes` lists them
    #[arg(long, value_name = "VID:PID[:SERIAL]")]
    probe: Option<String>,
    /// The chip, as probe-rs names it, if not the board's (e.g. STM32F401RE)
    #[arg(long, value_name = "NAME")]
    chip: Option<String>,
    /// ESP boards: flash over the serial port (the chip's ROM bootloader,
    /// with espflash) and reach the program there (`--transport serial`);
    /// without PORT, the one USB-UART bridge of a known kind
    #[arg(long, value_name = "PORT", num_args = 0..=1, default_missing_value = "")]
    port: Option<String>,
    /// ESP boards over serial: the serial agent's baud rate (default 115200)
    #[arg(long, value_name = "N")]
    baud: Option<u32>,
}

impl ProbeArgs {
    fn into_args(self) -> commands::ProbeArgs {
        commands::ProbeArgs {
            probe: self.probe,
            chip: self.chip,
            port: self.port,
            baud: self.baud,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Create a new BlueScript project
    New {
        /// Directory to create; its name is the package name
        path: PathBuf,
        /// Board to target
        #[arg(long, default_value = "qemu-m4")]
        board: String,
    },
    /// Type-check the scripts without building
    Check {
        #[arg(long, value_name = "PATH")]
        manifest_path: Option<PathBuf>,
    },
    /// Compile the scripts and build the firmware image
    Build(ProjectArgs),
    /// Build and write the image to the board (QEMU: start it in the background)
    Flash {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        transport: TransportArgs,
        #[command(flatten)]
        probe: ProbeArgs,
        /// Stop the board an earlier flash left running, instead of flashing
        #[arg(long, conflicts_with_all = ["release", "port"])]
        stop: bool,
    },
    /// Build, start the board, stream output; exit when the program is done
    Run {
        #[command(flatten)]
        project: ProjectArgs,
        #[command(flatten)]
        transport: TransportArgs,
        #[command(flatten)]
        probe: ProbeArgs,
    },
    /// Build, start, stream output, and patch the running program on every save
    /// (with the shell's prompt on the same program)
    Watch {
        #[command(flatten)]
        reach: ReachArgs,
        /// Flash a real board that runs something else than this project flashed last
        #[arg(long)]
        reflash: bool,
        /// Do not record type profiles or specialize untyped functions to
        /// the classes they see
        #[arg(long)]
        no_specialize: bool,
    },
    /// An interactive shell on the running program: each input is compiled
    /// and run on the device (attaches to a board `flash` left running)
    Repl(ReachArgs),
    /// List the connected debug probes
    Probes,
}

fn main() -> ExitCode {
    // `cargo bluescript x` runs `cargo-bluescript bluescript x`.
    let mut args: Vec<_> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "bluescript") {
        args.remove(1);
    }
    let cli = Cli::parse_from(args);
    match run(cli.command) {
        Ok(code) => code,
        Err(error) => {
            commands::report_error(&error);
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::New { path, board } => commands::new(&path, &board),
        Command::Check { manifest_path } => commands::check(manifest_path.as_deref()),
        Command::Build(args) => commands::build(args.manifest_path.as_deref(), args.release),
        Command::Flash {
            project,
            stop: true,
            ..
        } => commands::stop_flashed(project.manifest_path.as_deref()),
        Command::Flash {
            project,
            transport,
            probe,
            ..
        } => commands::flash(
            project.manifest_path.as_deref(),
            project.release,
            transport.transport(),
            &probe.into_args(),
        ),
        Command::Run {
            project,
            transport,
            probe,
        } => commands::run(
            project.manifest_path.as_deref(),
            project.release,
            transport.transport(),
            &probe.into_args(),
        ),
        Command::Watch {
            reach,
            reflash,
            no_specialize,
        } => commands::watch(
            reach.manifest_path.as_deref(),
            reach.transport.transport(),
            &reach.probe.into_args(),
            cargo_bluescript::watch::WatchOptions {
                reflash,
                specialize: !no_specialize,
            },
        ),
        Command::Repl(reach) => commands::repl(
            reach.manifest_path.as_deref(),
            reach.transport.transport(),
            &reach.probe.into_args(),
        ),
        Command::Probes => commands::probes(),
    }
}
