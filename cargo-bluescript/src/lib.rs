//! cargo-bluescript: compiler, shadow machine, linker step and probe
//! transports behind the `cargo bluescript` subcommand.

pub mod board;
pub mod compiler;
pub mod probe;
pub mod rtt;
