//! `cargo bluescript`: cargo runs this as `cargo-bluescript bluescript <args>`.

use anyhow::Result;
use cargo_bluescript::commands;
use clap::{Parser, Subcommand};
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
        /// Stop the board an earlier flash left running, instead of flashing
        #[arg(long, conflicts_with = "release")]
        stop: bool,
    },
    /// Build, start the board, stream output; exit when the program is done
    Run(ProjectArgs),
    /// Build, start, stream output, and patch the running program on every save
    Watch {
        #[arg(long, value_name = "PATH")]
        manifest_path: Option<PathBuf>,
    },
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
        } => commands::stop_flashed(project.manifest_path.as_deref()),
        Command::Flash { project, .. } => {
            commands::flash(project.manifest_path.as_deref(), project.release)
        }
        Command::Run(args) => commands::run(args.manifest_path.as_deref(), args.release),
        Command::Watch { manifest_path } => commands::watch(manifest_path.as_deref()),
    }
}
