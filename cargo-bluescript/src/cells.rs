//! Shell cells on the device. A cell (`bluescript_compiler::environment`)
//! becomes a patch: the functions it declares or replaces get slots like
//! any patched function, its own function runs once from the host-request
//! mailbox, and the globals it declares are placed at the top of the patch
//! region, which compacting never moves, with those that hold values in a
//! table the collector reads (`__bs_host_roots`). The descriptors of the
//! types it declares go right below them (`Patcher::build_cell`), once
//! their size is known.

use crate::patch::{self, PatchData, PatchPlan, Plan};
use crate::shadow::{GlobalRecord, RegionFull, Shadow};
use anyhow::Result;
use bluescript_abi::WORD_BYTES;
use bluescript_compiler::environment::{is_cell_function, Cell};

/// How a cell is applied: the patch of the functions it declares or
/// replaces (maybe none), and where its globals go.
#[derive(Debug)]
pub struct CellPlan {
    pub patch: PatchPlan,
    /// The cell's own function.
    pub entry: String,
    pub data: Option<PatchData>,
}

/// Plans `cell` against the device `shadow` describes.
pub fn plan(shadow: &Shadow, cell: &Cell) -> Result<CellPlan> {
    let patch = match patch::plan_functions(shadow, &cell.program, is_cell_function)? {
        Plan::Patch(plan) => plan,
        Plan::Unchanged | Plan::Restart(_) => PatchPlan {
            functions: Vec::new(),
            new_slots: Vec::new(),
            needs_safe_point: false,
            compact: false,
            specializations: Default::default(),
        },
    };
    let globals: Vec<_> = cell
        .globals
        .iter()
        .map(|g| (g.name.as_str(), g.ty))
        .collect();
    Ok(CellPlan {
        patch,
        entry: cell.function.name.clone(),
        data: place_globals(shadow, &globals)?,
    })
}

/// Places new globals below the data floor, one word each, and, when some
/// of them hold values, a new table of host roots below them listing every
/// such global cells declared. `None` when there is nothing to place.
fn place_globals(
    shadow: &Shadow,
    globals: &[(&str, bluescript_compiler::ir::Ty)],
) -> Result<Option<PatchData>> {
    if globals.is_empty() {
        return Ok(None);
    }
    let top = shadow.code_end();
    let mut floor = top;
    let mut records = std::collections::BTreeMap::new();
    for (name, ty) in globals {
        floor -= WORD_BYTES;
        records.insert(
            name.to_string(),
            GlobalRecord {
                ty: *ty,
                address: floor,
            },
        );
    }
    let mut roots: Vec<u32> = shadow
        .globals
        .values()
        .chain(records.values())
        .filter(|global| global.ty.is_reference() && shadow.in_patch_region(global.address))
        .map(|global| global.address)
        .collect();
    roots.sort_unstable();
    let host_roots = if records.values().any(|global| global.ty.is_reference()) {
        floor -= WORD_BYTES * (1 + roots.len() as u32);
        Some(floor)
    } else {
        None
    };
    if floor < shadow.next_patch_address() {
        return Err(RegionFull {
            kib: shadow.runtime.patch_region_size / 1024,
        }
        .into());
    }
    // Zeros for the globals (their initial value), then the table.
    let mut bytes = vec![0; (top - floor) as usize];
    if host_roots.is_some() {
        let table = std::iter::once(roots.len() as u32).chain(roots);
        for (word, value) in bytes.chunks_exact_mut(4).zip(table) {
            word.copy_from_slice(&value.to_le_bytes());
        }
    }
    Ok(Some(PatchData {
        address: floor,
        bytes,
        globals: records,
        host_roots,
        descriptors: Default::default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::tests::{shadow_of, BASE};
    use bluescript_compiler::diagnostic::SourceFile;
    use bluescript_compiler::environment::Environment;
    use bluescript_compiler::{NoFiles, Scripts};

    fn environment() -> Environment {
        let scripts = Scripts {
            main: SourceFile {
                name: "main.bs".into(),
                text: BASE.into(),
            },
            dir: String::new(),
            loader: &NoFiles,
        };
        Environment::new(&scripts, &[]).unwrap().0
    }

    fn word(bytes: &[u8], index: usize) -> u32 {
        u32::from_le_bytes(bytes[index * 4..index * 4 + 4].try_into().unwrap())
    }

    #[test]
    fn an_expression_needs_no_slot_and_no_data() {
        let shadow = shadow_of(BASE);
        let cell = environment().check_cell("n + 1").unwrap();
        let plan = plan(&shadow, &cell).unwrap();
        assert_eq!(plan.entry, "<cell 1>");
        assert!(plan.patch.functions.is_empty() && plan.data.is_none());
    }

    #[test]
    fn declared_functions_get_slots_and_globals_the_top_of_the_region() {
        let mut shadow = shadow_of(BASE);
        let mut environment = environment();
        let cell = environment
            .check_cell(
                "let gain = 0.5\nlet name = 'x'\nfunction step(x: float) { return x * gain }",
            )
            .unwrap();
        environment.accept(&cell);
        environment.count_input();
        let plan = plan(&shadow, &cell).unwrap();
        assert_eq!(plan.patch.functions, ["step"]);
        assert_eq!(plan.patch.new_slots, [("step".to_string(), 2)]);
        let data = plan.data.unwrap();
        let end = shadow.patch_region_end();
        let gain = data.globals["gain"].address;
        let name = data.globals["name"].address;
        assert!(gain >= end - 8 && name >= end - 8 && gain != name);
        // A string is a value the collector must see: a table of one root.
        let table = data.host_roots.unwrap();
        assert_eq!(table, data.address);
        assert_eq!(data.bytes.len() as u32, end - table);
        assert_eq!((word(&data.bytes, 0), word(&data.bytes, 1)), (1, name));
        assert_eq!(word(&data.bytes, 2) | word(&data.bytes, 3), 0);

        // The next cell's globals go below, and its table lists both roots.
        shadow.globals.extend(data.globals);
        shadow.data_floor = Some(data.address);
        let cell = environment
            .check_cell("let more = [1, 2]\nlet count = 3")
            .unwrap();
        environment.accept(&cell);
        environment.count_input();
        let data = plan_data(&shadow, &cell);
        assert!(data.address < table);
        assert_eq!(word(&data.bytes, 0), 2);
        let more = data.globals["more"].address;
        let mut roots = [word(&data.bytes, 1), word(&data.bytes, 2)];
        roots.sort();
        let mut expected = [name, more];
        expected.sort();
        assert_eq!(roots, expected);
        // Integers only: no new table.
        shadow.globals.extend(data.globals);
        shadow.data_floor = Some(data.address);
        let cell = environment.check_cell("let plain = 1").unwrap();
        assert_eq!(plan_data(&shadow, &cell).host_roots, None);
    }

    fn plan_data(shadow: &Shadow, cell: &Cell) -> PatchData {
        plan(shadow, cell).unwrap().data.unwrap()
    }

    #[test]
    fn globals_never_overlap_code() {
        let mut shadow = shadow_of(BASE);
        shadow.patch_next = shadow.patch_region_end() - 4;
        let cell = environment().check_cell("let x = 1\nlet y = 2").unwrap();
        let error = plan(&shadow, &cell).unwrap_err();
        assert!(error.is::<RegionFull>(), "{error}");
    }
}
