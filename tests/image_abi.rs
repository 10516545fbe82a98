//! A real firmware image against the ABI crate (`bluescript_abi`): every
//! symbol the crate says an image has is there, of the right kind, size and
//! alignment, every runtime entry point and descriptor is kept, and the
//! image exports nothing under the ABI's names that the crate does not know.

mod support;

use bluescript_abi::symbols::{
    self, prefix, SymbolKind, IMAGE_SYMBOLS, RUNTIME_DESCRIPTORS, RUNTIME_FUNCTIONS,
};
use std::collections::HashMap;
use support::image::{abi_mismatches, global_symbols, Found};
use support::{shared_target_dir, text, tool, Project};

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
