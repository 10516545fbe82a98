//! The BlueScript compiler: source text → oxc AST → typed IR → Rust source.

pub mod check;
pub mod codegen;
pub mod diagnostic;
pub mod environment;
pub mod exports;
pub mod ir;
pub mod modules;

use diagnostic::{Diagnostic, SourceFile};
use exports::Export;
pub use modules::{Loader, NoFiles, Scripts};
use oxc_allocator::Allocator;

/// Parses and type-checks one script file, which imports no other script,
/// against the firmware's exports.
pub fn check(file: &SourceFile, exports: &[Export]) -> Result<ir::Program, Vec<Diagnostic>> {
    let dir = match file.name.rsplit_once('/') {
        Some((dir, _)) => dir.to_string(),
        None => String::new(),
    };
    check_scripts(
        &Scripts {
            main: file.clone(),
            dir,
            loader: &NoFiles,
        },
        exports,
    )
}

/// Parses and type-checks a program (its main script and every script it
/// imports) against the firmware's exports. Every diagnostic names its file.
pub fn check_scripts(
    scripts: &Scripts<'_>,
    exports: &[Export],
) -> Result<ir::Program, Vec<Diagnostic>> {
    let allocator = Allocator::default();
    let modules = modules::load(&allocator, scripts)?;
    check::check_program(&modules, exports)
}

/// A stable 64-bit FNV-1a hash: fingerprints are persisted in the shadow
/// machine, so they must not change between builds of this tool.
pub fn fingerprint(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

pub fn fingerprint_parts<'t>(parts: impl IntoIterator<Item = &'t str>) -> u64 {
    let mut joined = Vec::new();
    for part in parts {
        joined.extend_from_slice(part.as_bytes());
        joined.push(0);
    }
    fingerprint(&joined)
}

#[cfg(test)]
mod tests;
