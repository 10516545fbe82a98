//! cargo-bluescript: the shadow machine, linker step and device connections
//! behind the `cargo bluescript` subcommand, driving the compiler (crate
//! `bluescript_compiler`).

pub mod board;
pub mod cells;
pub mod commands;
pub mod connection;
pub mod device;
pub mod firmware;
pub mod isa;
pub mod patch;
pub mod profiles;
pub mod progress;
pub mod project;
pub mod repl;
pub mod rtt;
pub mod scaffold;
pub mod session;
pub mod shadow;
pub mod toolchain;
pub mod watch;
