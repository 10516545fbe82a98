//! A built image against the ABI crate (`bluescript_abi`): its global
//! symbols, and every disagreement with what the crate says an image has.

use bluescript_abi::symbols::{
    prefix, SymbolKind, IMAGE_SYMBOLS, LINKER_SYMBOLS, RUNTIME_DESCRIPTORS, RUNTIME_FUNCTIONS,
};
use object::{Object, ObjectSymbol};
use std::collections::HashMap;
use std::path::Path;

/// What the image says about one of its symbols.
pub struct Found {
    /// `None` for a symbol without a type (a linker script's).
    pub kind: Option<SymbolKind>,
    pub address: u64,
    pub size: u64,
}

pub fn global_symbols(elf: &Path) -> HashMap<String, Found> {
    let data = std::fs::read(elf).unwrap();
    let file = object::File::parse(&*data).unwrap();
    file.symbols()
        .filter(|s| s.is_global() && s.is_definition())
        .filter_map(|s| {
            let kind = match s.kind() {
                object::SymbolKind::Text => Some(SymbolKind::Code),
                object::SymbolKind::Data => Some(SymbolKind::Data),
                _ => None,
            };
            Some((
                s.name().ok()?.to_string(),
                Found {
                    kind,
                    address: s.address(),
                    size: s.size(),
                },
            ))
        })
        .collect()
}

/// Every disagreement between the image and the ABI crate, one line each.
pub fn abi_mismatches(symbols: &HashMap<String, Found>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expect = |name: &str, kind: SymbolKind| match symbols.get(name) {
        None => {
            problems.push(format!("`{name}` is missing"));
            None
        }
        Some(found) if found.kind != Some(kind) => {
            let is = found.kind.map_or("untyped".into(), |k| format!("{k:?}"));
            problems.push(format!("`{name}` is {is}, not {kind:?}"));
            None
        }
        Some(found) => Some(found),
    };
    let mut wrong = Vec::new();
    for symbol in IMAGE_SYMBOLS {
        let Some(found) = expect(symbol.name, symbol.kind) else {
            continue;
        };
        if !symbol.size.allows(found.size) {
            wrong.push(format!(
                "`{}` has {} bytes, the ABI says {:?}",
                symbol.name, found.size, symbol.size
            ));
        }
        if found.address % u64::from(symbol.align) != 0 {
            wrong.push(format!(
                "`{}` is at {:#x}, not {}-aligned",
                symbol.name, found.address, symbol.align
            ));
        }
    }
    for name in RUNTIME_FUNCTIONS {
        expect(name, SymbolKind::Code);
    }
    for name in RUNTIME_DESCRIPTORS {
        expect(name, SymbolKind::Data);
    }
    problems.extend(wrong);
    // The reverse: nothing under the ABI's names that the crate lacks.
    let generated = [
        prefix::FUNCTION,
        prefix::GLOBAL,
        prefix::CLASS,
        prefix::TYPE,
        prefix::EXPORT,
        prefix::SIGNATURE,
    ];
    for name in symbols.keys() {
        let known = IMAGE_SYMBOLS.iter().any(|s| s.name == name)
            || RUNTIME_FUNCTIONS.contains(&name.as_str())
            || RUNTIME_DESCRIPTORS.contains(&name.as_str())
            || LINKER_SYMBOLS.contains(&name.as_str())
            || generated.iter().any(|p| name.starts_with(p));
        let abi_name = name.starts_with("__bs_") || name.starts_with(prefix::RUNTIME_FUNCTION);
        if abi_name && !known {
            problems.push(format!("`{name}` is not in the ABI crate"));
        }
    }
    problems.sort();
    problems
}
