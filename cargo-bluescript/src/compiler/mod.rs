//! The BlueScript compiler: source text → oxc AST → typed IR → Rust source.

pub mod check;
pub mod codegen;
pub mod diagnostic;
pub mod exports;
pub mod ir;

use diagnostic::{Diagnostic, SourceFile, Span};
use exports::Export;
use oxc_allocator::Allocator;
use oxc_parser::Parser;
use oxc_span::SourceType;

/// Parses and type-checks one script file against the firmware's exports.
pub fn check(file: &SourceFile, exports: &[Export]) -> Result<ir::Program, Vec<Diagnostic>> {
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, &file.text, SourceType::ts()).parse();
    if parsed.panicked || parsed.diagnostics.has_errors() {
        let mut diagnostics: Vec<Diagnostic> = parsed
            .diagnostics
            .errors()
            .map(|error| {
                let span = error
                    .labels
                    .first()
                    .map(|label| Span::new(label.offset(), label.offset() + label.len()))
                    .unwrap_or_default();
                let mut diagnostic = Diagnostic::error(span, error.message.to_string());
                diagnostic.help = error.help.as_ref().map(|h| h.to_string());
                diagnostic
            })
            .collect();
        if diagnostics.is_empty() {
            diagnostics.push(Diagnostic::error(
                Span::default(),
                "the file could not be parsed",
            ));
        }
        return Err(diagnostics);
    }
    check::check_program(file, &parsed.program, exports)
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
