//! A real firmware image against the ABI crate (`bluescript_abi`): every
//! symbol the crate says an image has is there, of the right kind, size and
//! alignment, every runtime entry point and descriptor is kept, and the
//! image exports nothing under the ABI's names that the crate does not know.

mod support;

use bluescript_abi::symbols::{
    self, prefix, SymbolKind, IMAGE_SYMBOLS, LINKER_SYMBOLS, RUNTIME_DESCRIPTORS, RUNTIME_FUNCTIONS,
};
use object::{Object, ObjectSymbol};
use std::collections::HashMap;
use std::path::Path;
use support::{shared_target_dir, text, tool, Project};

/// What the image says about one of its symbols.
struct Found {
    /// `None` for a symbol without a type (a linker script's).
    kind: Option<SymbolKind>,
    address: u64,
    size: u64,
}

fn global_symbols(elf: &Path) -> HashMap<String, Found> {
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
fn abi_mismatches(symbols: &HashMap<String, Found>) -> Vec<String> {
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

#[test]
fn a_built_image_has_every_symbol_of_the_abi_crate_as_it_says() {
    let project = Project::new("image_abi");
    project.write_script(
        r#"
class Point {
  x: integer
  constructor(x: integer) { this.x = x }
  twice(): integer { return this.x * 2 }
}
let points: Point[] = [new Point(1)]
let loose: any = points[0].twice()
console.log(loose + 1)
"#,
    );
    let output = tool(&["build"], &project.root).output().unwrap();
    assert!(
        output.status.success(),
        "build failed: {}",
        text(&output.stderr)
    );
    let elf = shared_target_dir().join("bluescript/image_abi/image.elf");
    let symbols = global_symbols(&elf);
    assert_eq!(abi_mismatches(&symbols), Vec::<String>::new());
    // The script's own items are there under the crate's prefixes too.
    for name in [
        "__bs_class_Point",
        "__bs_fn_Point_u2e_twice",
        "__bs_g_points",
    ] {
        assert!(symbols.contains_key(name), "`{name}` is missing");
    }
    assert!(symbols.contains_key(symbols::MAIN));
}

#[test]
fn the_check_reports_a_missing_symbol_a_wrong_size_and_an_unknown_name() {
    let found = |kind, size| Found {
        kind: Some(kind),
        address: 0x2000_0000,
        size,
    };
    let mut symbols: HashMap<String, Found> = HashMap::new();
    for symbol in IMAGE_SYMBOLS {
        let size = match symbol.size {
            symbols::Size::Bytes(n) | symbols::Size::MultipleOf(n) => u64::from(n),
            symbols::Size::Any => 8,
        };
        symbols.insert(symbol.name.to_string(), found(symbol.kind, size));
    }
    for name in RUNTIME_FUNCTIONS.iter().chain(RUNTIME_DESCRIPTORS) {
        let kind = if name.starts_with(prefix::RUNTIME_FUNCTION) {
            SymbolKind::Code
        } else {
            SymbolKind::Data
        };
        symbols.insert(name.to_string(), found(kind, 4));
    }
    assert_eq!(abi_mismatches(&symbols), Vec::<String>::new());

    symbols.remove("bs_print_end");
    symbols.insert(symbols::STATE.into(), found(SymbolKind::Data, 8));
    symbols.insert("bs_secret".into(), found(SymbolKind::Code, 4));
    symbols.insert("__bs_desc_string".into(), found(SymbolKind::Code, 4));
    let untyped = |name: &str| {
        let address = 0x2000_0000;
        (
            name.to_string(),
            Found {
                kind: None,
                address,
                size: 0,
            },
        )
    };
    symbols.extend([
        untyped(symbols::SCRIPT_STACK_TOP),
        untyped("__bs_guard_top"),
    ]);
    assert_eq!(
        abi_mismatches(&symbols),
        [
            "`__bs_desc_string` is Code, not Data",
            "`__bs_guard_top` is not in the ABI crate",
            "`__bs_state` has 8 bytes, the ABI says Bytes(4)",
            "`bs_print_end` is missing",
            "`bs_secret` is not in the ABI crate",
        ]
    );
}
