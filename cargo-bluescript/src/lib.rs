//! cargo-bluescript: the shadow machine, linker step and probe transports
//! behind the `cargo bluescript` subcommand, driving the compiler (crate
//! `bluescript_compiler`).

pub mod board;
pub mod commands;
pub mod device;
pub mod firmware;
pub mod isa;
pub mod patch;
pub mod probe;
pub mod project;
pub mod rtt;
pub mod scaffold;
pub mod session;
pub mod shadow;
pub mod toolchain;
pub mod watch;
