//! The patch step: decide what changed, compile only that with rustc, link
//! it at a free address of the patch region against the running image,
//! write it over the core, read it back, and switch the slots.

use crate::board::Board;
use crate::connection::CoreAccess;
use crate::profiles::ProfileRecord;
use crate::shadow::{FunctionRecord, GlobalRecord, PendingPatch, RegionFull, Shadow, SlotSwitch};
use crate::toolchain::Toolchain;
use anyhow::{anyhow, bail, Context, Result};
use bluescript_compiler::codegen::{
    generate_descriptors, generate_patch, global_symbol, never_allocating, patch_profile_symbol,
    patch_symbol, profiled_params, Dependencies, SlotMap, Specialization, Specializations,
};
use bluescript_compiler::ir::{self, Function, Ty};
use object::{Object, ObjectSection, ObjectSymbol};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod rustc;
use rustc::PatchRustc;

/// What a saved edit means for the running device.
#[derive(Debug, PartialEq)]
pub enum Plan {
    /// Nothing the device runs has changed (e.g. only comments elsewhere).
    Unchanged,
    /// The edit cannot be applied to the running program; why.
    Restart(Unpatchable),
    Patch(PatchPlan),
}

#[derive(Debug, PartialEq)]
pub struct PatchPlan {
    /// Functions to compile, in program order.
    pub functions: Vec<String>,
    /// Functions new to the device, with the slot each gets.
    pub new_slots: Vec<(String, u32)>,
    /// A changed signature: old callers must not be mid-call when slots flip.
    pub needs_safe_point: bool,
    /// Rewrites the patch region from its start, reclaiming old code.
    pub compact: bool,
    /// Functions of `functions` compiled with a version specialized to
    /// the classes their parameters held (the dynamic compiler's, kept
    /// when a function is compiled again unchanged).
    pub specializations: Specializations,
}

impl PatchPlan {
    /// This plan, made to also recompile every function whose code lives in
    /// the patch region, so that the whole region can be rewritten from its
    /// start. Old code is overwritten, so the switch waits for a safe point
    /// (no script code running); functions the program no longer has cannot
    /// be recompiled, and if one lives in the region, compacting is refused.
    pub fn compacting(mut self, shadow: &Shadow, program: &ir::Program) -> Result<PatchPlan> {
        for (name, record) in &shadow.functions {
            if !shadow.in_patch_region(record.address) || self.functions.contains(name) {
                continue;
            }
            if program.function(name).is_none() {
                bail!(
                    "the patch region is full, and it holds `{name}`, which the program no longer defines: restart `cargo bluescript watch`"
                );
            }
            self.functions.push(name.clone());
        }
        let order: Vec<&str> = program.functions.iter().map(|f| f.name.as_str()).collect();
        self.functions
            .sort_by_key(|name| order.iter().position(|n| n == name));
        self.needs_safe_point = true;
        self.compact = true;
        let kept = kept_specializations(shadow, program, &self.functions);
        for (name, specialization) in kept {
            self.specializations.entry(name).or_insert(specialization);
        }
        Ok(self)
    }
}

/// Why an edit cannot be patched into the running program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unpatchable {
    /// Globals or top-level statements changed: they ran at start.
    TopLevel,
}

impl std::fmt::Display for Unpatchable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unpatchable::TopLevel => f.write_str(
                "global declarations or top-level statements changed (only code added at the \
                 end of the main script runs without a restart)",
            ),
        }
    }
}

pub fn plan(shadow: &Shadow, program: &ir::Program) -> Result<Plan> {
    if program.top_level_fingerprint != shadow.top_level_fingerprint {
        return Ok(Plan::Restart(Unpatchable::TopLevel));
    }
    plan_functions(shadow, program, |_| false)
}

/// The functions of `program` that the device lacks or runs another
/// version of, leaving out those `skip` names (a shell's cells, which run
/// once and hold no slot).
pub fn plan_functions(
    shadow: &Shadow,
    program: &ir::Program,
    skip: impl Fn(&str) -> bool,
) -> Result<Plan> {
    let mut changed = BTreeSet::new();
    let mut resigned = BTreeSet::new();
    for function in program.functions.iter().filter(|f| !skip(&f.name)) {
        match shadow.functions.get(&function.name) {
            None => {
                changed.insert(function.name.clone());
            }
            Some(record) => {
                if record.signature != function.signature {
                    resigned.insert(function.name.clone());
                    changed.insert(function.name.clone());
                } else if record.fingerprint != function.fingerprint {
                    changed.insert(function.name.clone());
                }
            }
        }
    }
    // Callers of a function whose signature changed were compiled against
    // the old one (LANGUAGE.md §4): they are compiled again.
    for function in program.functions.iter().filter(|f| !skip(&f.name)) {
        if function.references.iter().any(|r| resigned.contains(r)) {
            changed.insert(function.name.clone());
        }
    }
    let counted_on = recompile_what_counted_on(shadow, program, &skip, &mut changed);
    if changed.is_empty() {
        return Ok(Plan::Unchanged);
    }
    let mut new_slots = Vec::new();
    let mut taken = Vec::new();
    for function in &program.functions {
        if changed.contains(&function.name) && !shadow.functions.contains_key(&function.name) {
            let slot = shadow.free_slot(&taken)?;
            taken.push(slot);
            new_slots.push((function.name.clone(), slot));
        }
    }
    let functions = in_program_order(program, &changed);
    let specializations = kept_specializations(shadow, program, &functions);
    Ok(Plan::Patch(PatchPlan {
        functions,
        new_slots,
        // No frame may still run the old copy of a callee inlined into a
        // caller once the new callee is live: the switch waits until no
        // script code runs.
        needs_safe_point: !resigned.is_empty() || counted_on,
        compact: false,
        specializations,
    }))
}

/// A patch that gives the functions of `chosen` a specialized version
/// (`None`: takes it away), and compiles again, unchanged, every function
/// that counted on one of them. The program must be the one the device
/// runs. No safe point is needed: every version computes what the body as
/// written does, so a frame that still runs an old copy is right.
pub fn plan_specializations(
    shadow: &Shadow,
    program: &ir::Program,
    chosen: &BTreeMap<String, Option<Specialization>>,
) -> PatchPlan {
    let mut changed: BTreeSet<String> = chosen.keys().cloned().collect();
    recompile_what_counted_on(shadow, program, &|_| false, &mut changed);
    let functions = in_program_order(program, &changed);
    let mut specializations = kept_specializations(shadow, program, &functions);
    for (name, specialization) in chosen {
        match specialization {
            Some(specialization) => specializations.insert(name.clone(), specialization.clone()),
            None => specializations.remove(name),
        };
    }
    PatchPlan {
        functions,
        new_slots: Vec::new(),
        needs_safe_point: false,
        compact: false,
        specializations,
    }
}

/// The functions of `program` that `names` names, in program order.
fn in_program_order(program: &ir::Program, names: &BTreeSet<String>) -> Vec<String> {
    program
        .functions
        .iter()
        .filter(|f| names.contains(&f.name))
        .map(|f| f.name.clone())
        .collect()
}

/// The specializations of those of `functions` that are compiled again
/// as they were (to follow a callee, or to compact): an edited function
/// loses its specialized version with the old one.
pub fn kept_specializations(
    shadow: &Shadow,
    program: &ir::Program,
    functions: &[String],
) -> Specializations {
    functions
        .iter()
        .filter_map(|name| {
            let record = shadow.functions.get(name)?;
            let function = program.function(name)?;
            let unchanged = record.fingerprint == function.fingerprint
                && record.signature == function.signature;
            let specialization = record.specialization.clone()?;
            unchanged.then(|| (name.clone(), specialization))
        })
        .collect()
}

/// Adds to `changed` every installed function whose code counted on what
/// the new program breaks: it calls a changed function directly (and may
/// have inlined it), or counted on a function never to allocate that now
/// may. Returns whether it added any.
fn recompile_what_counted_on(
    shadow: &Shadow,
    program: &ir::Program,
    skip: &impl Fn(&str) -> bool,
    changed: &mut BTreeSet<String>,
) -> bool {
    let never_allocate = never_allocating(program, true);
    let mut added = false;
    loop {
        let broken: Vec<String> = shadow
            .functions
            .iter()
            .filter(|(name, _)| !changed.contains(*name) && !skip(name))
            .filter(|(name, _)| program.function(name).is_some())
            .filter(|(_, record)| {
                record.inlines.iter().any(|callee| changed.contains(callee))
                    || record
                        .never_allocate
                        .iter()
                        .any(|callee| !never_allocate.contains(callee))
            })
            .map(|(name, _)| name.clone())
            .collect();
        if broken.is_empty() {
            return added;
        }
        added = true;
        changed.extend(broken);
    }
}

/// Time spent in each stage of one patch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timings {
    /// Reading, parsing and type-checking the scripts, and planning the
    /// patch (a shell cell: checking it).
    pub check: Duration,
    pub compile: Duration,
    pub link: Duration,
    pub transfer: Duration,
}

/// Code ready to be written: bytes for `base..` (a data address), and where
/// each function landed (executable addresses).
pub struct LinkedPatch {
    pub base: u32,
    pub bytes: Vec<u8>,
    pub functions: Vec<Placed>,
    /// A shell cell's: the function that runs it once, which no slot holds.
    pub entry: Option<u32>,
    /// A shell cell's: the globals it declares.
    pub data: Option<PatchData>,
}

/// The globals a shell cell declares, at the top of the patch region
/// (`Shadow::data_floor`), and the table of host roots with those among
/// them that hold values. Written and read back with the code; the new
/// table is switched in with the slots.
#[derive(Clone, Debug, Default)]
pub struct PatchData {
    /// The new data floor: `bytes` go from here up to the old one.
    pub address: u32,
    pub bytes: Vec<u8>,
    pub globals: BTreeMap<String, GlobalRecord>,
    /// The new host roots table, if the roots changed.
    pub host_roots: Option<u32>,
    /// The descriptors of the types the cell declares, by symbol: they
    /// are the shadow machine's once the cell has run.
    pub descriptors: BTreeMap<String, u32>,
}

/// A function of a patch: its slot, its code's address (as a function
/// pointer of the architecture: Thumb bit set on Arm) and size.
pub struct Placed {
    pub name: String,
    pub slot: u32,
    pub address: u32,
    pub size: u32,
    /// What its code counts on besides its text.
    pub dependencies: Dependencies,
    /// Its type profile's address, if it has one.
    pub profile: Option<u32>,
    /// What its specialized version is specialized to, if it has one.
    pub specialization: Option<Specialization>,
}

pub struct Patcher {
    toolchain: Toolchain,
    rustc: PatchRustc,
    lld: PathBuf,
    builtins: Option<PathBuf>,
    work_dir: PathBuf,
    /// The image's compiler intrinsics, read once per image rather than
    /// on every patch that calls one.
    image_routines: std::cell::RefCell<Option<ImageRoutines>>,
}

/// The compiler intrinsics an image defines (`is_intrinsic`), by name,
/// and which image file (path, size, time) they were read from.
struct ImageRoutines {
    image: (PathBuf, u64, Option<std::time::SystemTime>),
    addresses: BTreeMap<String, Vec<u32>>,
}

impl Patcher {
    pub fn new(toolchain: Toolchain, state_dir: &Path) -> Result<Patcher> {
        let work_dir = state_dir.join("patch");
        std::fs::create_dir_all(&work_dir)?;
        Ok(Patcher {
            rustc: PatchRustc::new(
                &toolchain.rustc,
                toolchain.board,
                &toolchain.project_dir,
                &work_dir,
            ),
            lld: toolchain.lld()?,
            builtins: toolchain.compiler_builtins(),
            toolchain,
            work_dir,
            image_routines: Default::default(),
        })
    }

    /// Starts the rustc that the next patch will use, if none waits yet
    /// (see `patch/rustc.rs`).
    pub fn expect_patches(&self) {
        self.rustc.start_spare();
    }

    /// Compiles and links the plan's functions; nothing touches the device.
    pub fn build(
        &self,
        shadow: &Shadow,
        program: &ir::Program,
        plan: &PatchPlan,
        timings: &mut Timings,
    ) -> Result<LinkedPatch> {
        self.build_with(shadow, program, plan, None, timings)
    }

    /// [`Patcher::build`] for a shell cell: the plan's functions (those the
    /// cell declares or replaces) and `entry`, the cell's own function,
    /// linked with the globals it declares where `data` places them.
    pub fn build_cell(
        &self,
        shadow: &Shadow,
        program: &ir::Program,
        plan: &PatchPlan,
        entry: &str,
        data: Option<PatchData>,
        timings: &mut Timings,
    ) -> Result<LinkedPatch> {
        self.build_with(shadow, program, plan, Some((entry, data.as_ref())), timings)
    }

    fn build_with(
        &self,
        shadow: &Shadow,
        program: &ir::Program,
        plan: &PatchPlan,
        cell: Option<(&str, Option<&PatchData>)>,
        timings: &mut Timings,
    ) -> Result<LinkedPatch> {
        let epoch = shadow.epoch + 1;
        let slots = slot_map(shadow, plan);
        let entry = cell.map(|(entry, _)| entry);
        let mut data = cell.and_then(|(_, data)| data.cloned());
        let functions: Vec<&Function> = plan
            .functions
            .iter()
            .map(String::as_str)
            .chain(entry)
            .filter_map(|name| program.function(name))
            .collect();
        let source = generate_patch(
            program,
            &functions,
            &slots,
            &shadow.exports,
            epoch,
            &plan.specializations,
        );
        let missing: BTreeMap<String, Ty> = source
            .descriptors
            .iter()
            .map(|(symbol, ty)| (symbol.clone(), *ty))
            .filter(|(symbol, _)| !shadow.defines_descriptor(symbol))
            .collect();

        let started = Instant::now();
        let object = self.rustc.compile(&source.code, &format!("patch{epoch}"))?;
        if !missing.is_empty() {
            // Descriptors of types the device lacks go with the cells' data
            // at the top of the patch region, which compacting never moves:
            // objects point to them for as long as they live.
            let below = data.take().unwrap_or_else(|| PatchData {
                address: shadow.code_end(),
                ..PatchData::default()
            });
            data = Some(self.place_descriptors(shadow, program, &slots, &missing, below, epoch)?);
        }
        timings.compile = started.elapsed();

        let started = Instant::now();
        let base = if plan.compact {
            shadow.runtime.patch_region
        } else {
            shadow.next_patch_address()
        };
        // Linked where the code runs, written where the data bus sees it
        // (the same address but on boards with a code alias).
        let board = self.toolchain.board;
        let run_base = board.memory.executable_address(base);
        // Globals and descriptors the image lacks: those of earlier cells,
        // and this one's.
        let mut symbols: BTreeMap<String, u32> = shadow
            .globals
            .iter()
            .filter(|(_, global)| shadow.in_patch_region(global.address))
            .chain(data.iter().flat_map(|data| &data.globals))
            .map(|(name, global)| (global_symbol(name), global.address))
            .collect();
        symbols.extend(shadow.placed_descriptors.clone());
        symbols.extend(data.iter().flat_map(|data| data.descriptors.clone()));
        let symbols: Vec<(String, u32)> = symbols.into_iter().collect();
        let linked = self.link(
            &object,
            &shadow.image,
            run_base,
            &symbols,
            &format!("patch{epoch}"),
        )?;
        let mut patch = extract(
            &linked,
            board,
            run_base,
            &slots,
            &plan.functions,
            entry,
            epoch,
        )?;
        patch.base = base;
        for placed in &mut patch.functions {
            if let Some(dependencies) = source.dependencies.get(&placed.name) {
                placed.dependencies = dependencies.clone();
            }
            placed.specialization = plan.specializations.get(&placed.name).cloned();
        }
        shadow.ensure_fits(base, patch.bytes.len() as u32)?;
        if let Some(data) = &data {
            if base + patch.bytes.len() as u32 > data.address {
                return Err(self.region_full(shadow));
            }
        }
        patch.data = data;
        timings.link = started.elapsed();
        Ok(patch)
    }

    fn region_full(&self, shadow: &Shadow) -> anyhow::Error {
        RegionFull {
            kib: shadow.runtime.patch_region_size / 1024,
        }
        .into()
    }

    /// Compiles and links the descriptors `wanted` (and those they need
    /// that the device lacks) right below `data`, the cell's globals;
    /// returns the cell's data with them.
    fn place_descriptors(
        &self,
        shadow: &Shadow,
        program: &ir::Program,
        slots: &SlotMap,
        wanted: &BTreeMap<String, Ty>,
        data: PatchData,
        epoch: u32,
    ) -> Result<PatchData> {
        let (code, defined) =
            generate_descriptors(program, slots, &shadow.exports, wanted, &|symbol| {
                shadow.defines_descriptor(symbol)
            });
        let name = format!("types{epoch}");
        let object = self.rustc.compile(&code, &name)?;
        let board = self.toolchain.board;
        let earlier: Vec<(String, u32)> = shadow.placed_descriptors.clone().into_iter().collect();
        let link_at = |base: u32| -> Result<(LinkedPatch, PathBuf)> {
            let run_base = board.memory.executable_address(base);
            let linked = self.link(&object, &shadow.image, run_base, &earlier, &name)?;
            let chunk = extract(&linked, board, run_base, slots, &[], None, epoch)?;
            Ok((chunk, linked))
        };
        // Its size first, then where it goes: linked again there. The
        // caller checks that the patch's code ends below.
        let (trial, _) = link_at(shadow.runtime.patch_region)?;
        let base = data
            .address
            .checked_sub(trial.bytes.len() as u32)
            .filter(|base| *base >= shadow.runtime.patch_region)
            .ok_or_else(|| self.region_full(shadow))?
            & !7;
        let (chunk, linked) = link_at(base)?;
        let room = (data.address - base) as usize;
        if chunk.bytes.len() > room {
            bail!("internal error: the descriptors grew when linked at their place");
        }
        let mut bytes = chunk.bytes;
        bytes.resize(room, 0);
        bytes.extend(data.bytes);
        let mut descriptors = data.descriptors;
        descriptors.extend(symbol_addresses(&linked, &defined)?);
        Ok(PatchData {
            address: base,
            bytes,
            descriptors,
            ..data
        })
    }

    /// Links `object` at `base` against the symbols of the running `image`
    /// and the addresses of new `globals`.
    fn link(
        &self,
        object: &Path,
        image: &Path,
        base: u32,
        globals: &[(String, u32)],
        name: &str,
    ) -> Result<PathBuf> {
        let script = self.work_dir.join(format!("{name}.ld"));
        let output = self.work_dir.join(format!("{name}.elf"));
        let mut symbols = globals.to_vec();
        let intrinsics = self.image_intrinsics(object, image)?;
        symbols.extend(intrinsics.found);
        std::fs::write(&script, link_script(self.toolchain.board, base, &symbols))?;
        let mut command = Command::new(&self.lld);
        command
            .args(["-flavor", "gnu", "--no-undefined"])
            .arg(format!("--just-symbols={}", image.display()))
            .arg("-T")
            .arg(&script)
            .arg(object);
        // Only for what the image lacks: the linker would take an archive
        // member for a symbol the script defines too.
        if let Some(builtins) = self.builtins.as_ref().filter(|_| intrinsics.missing) {
            command.arg(builtins);
        }
        let result = command
            .arg("-o")
            .arg(&output)
            .output()
            .context("cannot run rust-lld")?;
        if !result.status.success() {
            bail!(
                "linking the patch against the running image failed:\n{}",
                String::from_utf8_lossy(&result.stderr).trim()
            );
        }
        Ok(output)
    }
}

/// The compiler intrinsics (`__aeabi_fmul`, `__mulsf3`, …) a patch calls.
struct Intrinsics {
    /// Those the image has, with their addresses: its copies are local
    /// symbols, which `--just-symbols` does not offer, so a patch would
    /// otherwise link its own from compiler-builtins (4 KiB for a float
    /// multiply on a core without an FPU, more than some boards' patch
    /// region).
    found: Vec<(String, u32)>,
    /// Some are not in the image: compiler-builtins is linked for them.
    missing: bool,
}

/// Whether rustc's code may call `name` without declaring it: compiler
/// intrinsics, and the C memory and string routines LLVM turns loops into.
fn is_intrinsic(name: &str) -> bool {
    const LIBC: &[&str] = &["memcpy", "memmove", "memset", "memcmp", "bcmp", "strlen"];
    (name.starts_with("__") && !name.starts_with("__bs_")) || LIBC.contains(&name)
}

impl Patcher {
    fn image_intrinsics(&self, object: &Path, image: &Path) -> Result<Intrinsics> {
        let object_data = std::fs::read(object)?;
        let object = object::File::parse(&*object_data)?;
        let wanted: BTreeSet<&str> = object
            .symbols()
            .filter(|symbol| symbol.is_undefined())
            .filter_map(|symbol| symbol.name().ok())
            .filter(|name| is_intrinsic(name))
            .collect();
        if wanted.is_empty() {
            return Ok(Intrinsics {
                found: Vec::new(),
                missing: false,
            });
        }
        let metadata = std::fs::metadata(image)?;
        let key = (
            image.to_path_buf(),
            metadata.len(),
            metadata.modified().ok(),
        );
        let mut cache = self.image_routines.borrow_mut();
        if cache.as_ref().is_none_or(|routines| routines.image != key) {
            *cache = Some(ImageRoutines {
                image: key,
                addresses: image_routines(image)?,
            });
        }
        let addresses = &cache.as_ref().expect("read above").addresses;
        // A name defined more than once is not one routine: left to the linker.
        let found: Vec<(String, u32)> = wanted
            .iter()
            .filter_map(|name| match addresses.get(*name).map(Vec::as_slice) {
                Some([address]) => Some((name.to_string(), *address)),
                _ => None,
            })
            .collect();
        Ok(Intrinsics {
            missing: found.len() < wanted.len(),
            found,
        })
    }
}

/// Every compiler intrinsic `image` defines, with its addresses.
fn image_routines(image: &Path) -> Result<BTreeMap<String, Vec<u32>>> {
    let image_data = std::fs::read(image)?;
    let image = object::File::parse(&*image_data)?;
    let mut defined: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for symbol in image.symbols() {
        if symbol.kind() != object::SymbolKind::Text || !symbol.is_definition() {
            continue;
        }
        if let Some(name) = symbol.name().ok().filter(|name| is_intrinsic(name)) {
            defined
                .entry(name.to_string())
                .or_default()
                .push(symbol.address() as u32);
        }
    }
    Ok(defined)
}

/// The linker script that places a patch's code at `base`, the next free
/// address of the patch region: code first, then constants and data. On a
/// board whose code RAM is seen at a data address too (the ESP32-C3's IRAM
/// is its DRAM), constants and data follow the code in the patch's bytes
/// but are linked at their data address: loads and stores go through the
/// data bus.
fn link_script(board: Board, base: u32, globals: &[(String, u32)]) -> String {
    let discarded: String = board
        .isa()
        .patch_discarded_sections()
        .iter()
        .map(|pattern| format!(" *({pattern})"))
        .collect();
    let data_offset = base - board.memory.data_address(base);
    let rodata_address = if data_offset == 0 {
        String::new()
    } else {
        format!(" ALIGN(ADDR(.text) + SIZEOF(.text), 4) - {data_offset:#x}")
    };
    let globals: String = globals
        .iter()
        .map(|(symbol, address)| format!("{symbol} = {address:#x};\n"))
        .collect();
    format!(
        "{globals}SECTIONS {{\n  . = {base:#x};\n  .text : {{ *(.text .text.*) }}\n  \
         .rodata{rodata_address} : ALIGN(4) {{ *(.rodata .rodata.* .srodata .srodata.*) }}\n  \
         .data : ALIGN(4) {{ *(.data .data.* .sdata .sdata.*) }}\n  \
         .bss : ALIGN(4) {{ *(.bss .bss.* .sbss .sbss.* COMMON) }}\n  \
         /DISCARD/ : {{{discarded} }}\n}}\n"
    )
}

/// Current slots of every function, plus the new ones of this plan.
fn slot_map(shadow: &Shadow, plan: &PatchPlan) -> SlotMap {
    let mut slots: SlotMap = shadow
        .functions
        .iter()
        .map(|(name, record)| (name.clone(), record.slot))
        .collect();
    slots.extend(plan.new_slots.iter().cloned());
    slots
}

/// The addresses of `names` in the linked ELF at `elf_path`.
fn symbol_addresses(elf_path: &Path, names: &[String]) -> Result<BTreeMap<String, u32>> {
    let data = std::fs::read(elf_path)?;
    let elf = object::File::parse(&*data)?;
    names
        .iter()
        .map(|name| {
            let symbol = elf
                .symbols()
                .find(|s| s.name() == Ok(name.as_str()))
                .ok_or_else(|| anyhow!("the linked descriptors lack `{name}`"))?;
            Ok((name.clone(), symbol.address() as u32))
        })
        .collect()
}

fn extract(
    elf_path: &Path,
    board: Board,
    base: u32,
    slots: &SlotMap,
    functions: &[String],
    entry: Option<&str>,
    epoch: u32,
) -> Result<LinkedPatch> {
    let data = std::fs::read(elf_path)?;
    let elf = object::File::parse(&*data)?;
    let mut bytes = Vec::new();
    for section in elf.sections() {
        use object::SectionKind as K;
        let loaded = matches!(
            section.kind(),
            K::Text | K::Data | K::ReadOnlyData | K::ReadOnlyString | K::UninitializedData
        );
        if !loaded || section.size() == 0 {
            continue;
        }
        // Where the section lies in the patch's bytes: its data after the
        // code even where it is linked at its data alias.
        let start = board
            .memory
            .executable_address(section.address() as u32)
            .checked_sub(base)
            .ok_or_else(|| {
                anyhow!(
                    "patch section `{}` below its base",
                    section.name().unwrap_or("?")
                )
            })? as usize;
        let end = start + section.size() as usize;
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        // .bss has no file data: its bytes stay zero.
        if section.kind() != object::SectionKind::UninitializedData {
            bytes[start..end].copy_from_slice(section.data()?);
        }
    }
    let find = |name: &str| -> Result<(u32, u32)> {
        let symbol_name = patch_symbol(name, epoch);
        let symbol = elf
            .symbols()
            .find(|s| s.name() == Ok(symbol_name.as_str()))
            .ok_or_else(|| anyhow!("the linked patch lacks `{symbol_name}`"))?;
        let address = symbol.address() as u32;
        board.isa().check_function_symbol(&symbol_name, address)?;
        Ok((address, symbol.size() as u32))
    };
    let mut placed = Vec::new();
    for name in functions {
        let (address, size) = find(name)?;
        let profile_symbol = patch_profile_symbol(name, epoch);
        let profile = elf
            .symbols()
            .find(|s| s.name() == Ok(profile_symbol.as_str()))
            .map(|s| s.address() as u32);
        placed.push(Placed {
            name: name.clone(),
            slot: slots[name],
            address,
            size,
            dependencies: Dependencies::default(),
            profile,
            specialization: None,
        });
    }
    Ok(LinkedPatch {
        base,
        bytes,
        functions: placed,
        entry: entry
            .map(|name| find(name).map(|(address, _)| address))
            .transpose()?,
        data: None,
    })
}

/// Writes the patch, verifies it, switches the slots and records the result
/// in the shadow machine. The device must be halted, and at a safe point
/// (no script code running) when the plan needs one: see
/// `Session::apply_patch`.
///
/// The slots and the new epoch are committed at once. Before the commit
/// goes out the shadow machine records it as pending and `persist` saves
/// it: if the link fails then, the host cannot know whether the device
/// applied it, and [`Shadow::resolve_pending`] asks the device later. Once
/// it is confirmed, `persist` saves the model with it.
pub fn apply(
    core: &mut dyn CoreAccess,
    shadow: &mut Shadow,
    program: &ir::Program,
    patch: &LinkedPatch,
    persist: &mut dyn FnMut(&Shadow) -> Result<()>,
) -> Result<()> {
    if shadow.pending.is_some() {
        bail!("internal error: a patch is applied while the previous one is unresolved");
    }
    write_and_verify(core, shadow, patch)?;
    shadow.pending = Some(pending_patch(shadow, program, patch));
    if let Err(error) = persist(shadow) {
        shadow.pending = None;
        return Err(error.context("cannot record the patch before switching it in"));
    }
    switch(core, shadow, patch).context(
        "the link failed as the patch was switched in: whether the board applied it is checked when it answers again",
    )?;
    shadow.adopt_pending();
    // Saved at once: whatever fails next (letting the core run), the saved
    // model is the device's.
    persist(shadow)
}

/// What the shadow machine is after `patch`, if it applies.
fn pending_patch(shadow: &Shadow, program: &ir::Program, patch: &LinkedPatch) -> PendingPatch {
    let mut functions = BTreeMap::new();
    let mut switches = Vec::new();
    for placed in &patch.functions {
        let function = program
            .function(&placed.name)
            .expect("planned from this program");
        switches.push(SlotSwitch {
            address: shadow.slot_address(placed.slot),
            old: shadow.functions.get(&placed.name).map(|f| f.address),
            new: placed.address,
        });
        functions.insert(
            placed.name.clone(),
            FunctionRecord {
                slot: placed.slot,
                signature: function.signature.clone(),
                fingerprint: function.fingerprint,
                address: placed.address,
                size: placed.size,
                inlines: Vec::new(),
                never_allocate: Vec::new(),
                profile: placed.profile.map(|address| ProfileRecord {
                    address,
                    params: profiled_params(function)
                        .into_iter()
                        .map(str::to_string)
                        .collect(),
                }),
                specialization: placed.specialization.clone(),
            }
            .counting_on(&placed.dependencies),
        );
    }
    let data = patch.data.clone().unwrap_or_default();
    PendingPatch {
        epoch: shadow.epoch + 1,
        patch_next: patch.base + patch.bytes.len() as u32,
        switches,
        functions,
        globals: data.globals,
        data_floor: patch.data.as_ref().map(|data| data.address),
        host_roots: data.host_roots.unwrap_or(0),
        // A cell's become the shadow machine's once it has run to its end.
        descriptors: if patch.entry.is_none() {
            data.descriptors
        } else {
            BTreeMap::new()
        },
    }
}

/// Checks the device is where the model says, then writes the code into
/// free memory and reads it back: nothing calls it yet.
fn write_and_verify(core: &mut dyn CoreAccess, shadow: &Shadow, patch: &LinkedPatch) -> Result<()> {
    let epoch = core.read_word(shadow.runtime.patch_epoch)?;
    if epoch != shadow.epoch {
        bail!(
            "the device is at patch epoch {epoch}, but the host expected {}: it was reset or patched by someone else; restart watch",
            shadow.epoch
        );
    }
    write_verified(core, patch.base, &patch.bytes)?;
    if let Some(data) = &patch.data {
        write_verified(core, data.address, &data.bytes)?;
    }
    Ok(())
}

fn write_verified(core: &mut dyn CoreAccess, address: u32, bytes: &[u8]) -> Result<()> {
    core.write_memory(address, bytes)?;
    let mut readback = vec![0; bytes.len()];
    core.read_memory(address, &mut readback)?;
    if readback != bytes {
        bail!(
            "the patch read back differently from what was written at {address:#x}; slots left unchanged"
        );
    }
    Ok(())
}

/// Only now, with the whole patch in place, does any caller see it: every
/// slot and the new epoch in one commit. Free memory after the code may
/// stage the words.
fn switch(core: &mut dyn CoreAccess, shadow: &Shadow, patch: &LinkedPatch) -> Result<()> {
    let mut words: Vec<(u32, u32)> = patch
        .functions
        .iter()
        .map(|placed| (shadow.slot_address(placed.slot), placed.address))
        .collect();
    if let Some(table) = patch.data.as_ref().and_then(|data| data.host_roots) {
        words.push((shadow.runtime.host_roots, table));
    }
    words.push((shadow.runtime.patch_epoch, shadow.epoch + 1));
    let free = (patch.base + patch.bytes.len() as u32 + 7) & !7;
    let end = patch
        .data
        .as_ref()
        .map_or(shadow.code_end(), |data| data.address);
    core.commit_words(&words, free.min(end)..end)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::connection::fake::FakeCore;
    use crate::shadow::RuntimeSymbols;
    use bluescript_compiler::diagnostic::SourceFile;

    pub(crate) fn program(text: &str) -> ir::Program {
        let file = SourceFile {
            name: "main.bs".into(),
            text: text.into(),
        };
        bluescript_compiler::check(&file, &[]).expect("valid program")
    }

    /// The shadow machine's records of `program`'s functions, as if they had
    /// been started in slot order (addresses made up).
    fn records(program: &ir::Program) -> std::collections::BTreeMap<String, FunctionRecord> {
        let dependencies = bluescript_compiler::codegen::image_dependencies(
            program,
            bluescript_compiler::codegen::Calls::Slots,
        );
        program
            .functions
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let record = FunctionRecord {
                    slot: i as u32,
                    signature: f.signature.clone(),
                    fingerprint: f.fingerprint,
                    address: 0x1000 + 0x100 * i as u32 + 1,
                    size: 0x80,
                    inlines: Vec::new(),
                    never_allocate: Vec::new(),
                    profile: None,
                    specialization: None,
                }
                .counting_on(&dependencies[&f.name]);
                (f.name.clone(), record)
            })
            .collect()
    }

    /// The shadow machine of a device started with `text`.
    pub(crate) fn shadow_of(text: &str) -> Shadow {
        let program = program(text);
        let functions = records(&program);
        Shadow {
            build_id: 1,
            epoch: 0,
            image: "image.elf".into(),
            runtime: RuntimeSymbols {
                slots: 0x2000_0000,
                slot_count: 8,
                patch_region: 0x2001_0000,
                patch_region_size: 0x1000,
                patch_epoch: 0x2000_1000,
                state: 0x2000_1004,
                error_count: 0x2000_1008,
                host_attached: 0x2000_100c,
                host_request: 0x2000_1010,
                host_roots: 0x2000_1024,
                rtt: 0x2000_2000,
                program: 0x100,
                profiling_paused: 0,
            },
            functions,
            globals: Default::default(),
            exports: Vec::new(),
            top_level_fingerprint: program.top_level_fingerprint,
            patch_next: 0x2001_0000,
            firmware_fingerprint: 0,
            patchable: true,
            descriptors: ["__bs_class_Point".to_string()].into(),
            pending: None,
            data_floor: None,
            host_roots: 0,
            main_source: None,
            placed_descriptors: Default::default(),
            type_descriptors: Default::default(),
        }
    }

    #[test]
    fn the_device_has_the_images_descriptors_and_those_of_cells_that_ran() {
        let mut shadow = shadow_of(BASE);
        assert!(shadow.defines_descriptor("__bs_class_Point"));
        assert!(!shadow.defines_descriptor("__bs_type_Point_u5b__u5d_"));
        shadow
            .placed_descriptors
            .insert("__bs_type_Point_u5b__u5d_".into(), 0x2000_4000);
        assert!(shadow.defines_descriptor("__bs_type_Point_u5b__u5d_"));
    }

    pub(crate) const BASE: &str =
        "let n = 0\nfunction a(x: integer) { n += x }\nfunction b() { a(1) }\nsetInterval(b, 10)\n";

    fn patch_plan(before: &str, after: &str) -> PatchPlan {
        match plan(&shadow_of(before), &program(after)).unwrap() {
            Plan::Patch(plan) => plan,
            other => panic!("expected a patch, got {other:?}"),
        }
    }

    #[test]
    fn an_unchanged_program_needs_nothing() {
        assert_eq!(
            plan(&shadow_of(BASE), &program(BASE)).unwrap(),
            Plan::Unchanged
        );
    }

    #[test]
    fn an_edited_body_recompiles_it_and_the_callers_that_inlined_it() {
        let edited = BASE.replace("n += x", "n += x * 2");
        let plan = patch_plan(BASE, &edited);
        // `a` is small: `b` called it directly, and may have inlined it.
        assert_eq!(plan.functions, ["a", "b"]);
        assert!(plan.new_slots.is_empty());
        assert!(plan.needs_safe_point);
    }

    /// A function too large to be called directly, which never allocates.
    const LARGE: &str = "let n = 0
function large(x: integer): integer {
                         let t = 0
for (let i = 0; i < x; i++) { t += i * i + (i % 3) * (t % 5) - (i / 7) }
                         if (t > 100) { t = t - 100 + x * 2 } else { t = t + 100 - x * 3 }
                         while (t > 50) { t = t / 2 + (t % 3) - 1 }
return t + x * x - n
}
                         function caller(): integer { const a = 'ab'; return large(3) + a.length }
                         setInterval(caller, 10)
";

    #[test]
    fn a_large_function_is_patched_alone_while_it_still_never_allocates() {
        let plan = patch_plan(LARGE, &LARGE.replace("return t + x * x", "return t + x"));
        assert_eq!(plan.functions, ["large"]);
        assert!(!plan.needs_safe_point);
        // `caller` counted on it never allocating: now that it may, `caller`
        // is compiled again, keeping what it needs across the call.
        let plan = patch_plan(
            LARGE,
            &LARGE.replace("return t + x * x - n", "return [t, x].length - n"),
        );
        assert_eq!(plan.functions, ["large", "caller"]);
        assert!(plan.needs_safe_point);
    }

    #[test]
    fn a_new_function_gets_the_first_free_slot() {
        let edited = BASE.replace("a(1) }", "a(1); c() }\nfunction c() { n-- }");
        let plan = patch_plan(BASE, &edited);
        assert_eq!(plan.functions, ["b", "c"]);
        assert_eq!(plan.new_slots, [("c".to_string(), 2)]);
    }

    #[test]
    fn a_changed_signature_recompiles_callers_at_a_safe_point() {
        let edited = BASE
            .replace("a(x: integer)", "a(x: integer, y: integer)")
            .replace("a(1)", "a(1, 2)");
        let plan = patch_plan(BASE, &edited);
        assert_eq!(plan.functions, ["a", "b"]);
        assert!(plan.needs_safe_point);
    }

    #[test]
    fn an_edit_in_an_imported_file_patches_its_function() {
        let program = |util: &str| {
            let files: std::collections::HashMap<String, String> =
                [("scripts/util.bs".to_string(), util.to_string())].into();
            let scripts = bluescript_compiler::Scripts {
                main: SourceFile {
                    name: "scripts/main.bs".into(),
                    text: "import { b } from './util'\nsetInterval(b, 10)\n".into(),
                },
                dir: "scripts".into(),
                loader: &files,
            };
            bluescript_compiler::check_scripts(&scripts, &[]).expect("valid program")
        };
        let util = "let n = 0\nfunction a(x: integer) { n += x }\nexport function b() { a(1) }\n";
        let before = program(util);
        let mut shadow = shadow_of(BASE);
        shadow.functions = records(&before);
        shadow.top_level_fingerprint = before.top_level_fingerprint;
        let after = program(&util.replace("n += x", "n -= x"));
        match plan(&shadow, &after).unwrap() {
            Plan::Patch(plan) => assert_eq!(plan.functions, ["util.bs:a", "util.bs:b"]),
            other => panic!("expected a patch, got {other:?}"),
        }
    }

    #[test]
    fn top_level_changes_restart_the_program() {
        let edited = BASE.replace("let n = 0", "let n = 1");
        assert!(matches!(
            plan(&shadow_of(BASE), &program(&edited)).unwrap(),
            Plan::Restart(_)
        ));
    }

    #[test]
    fn compacting_recompiles_everything_that_lives_in_the_patch_region() {
        let mut shadow = shadow_of(BASE);
        // `b` was patched before: its code is in the region.
        shadow.functions.get_mut("b").unwrap().address = shadow.runtime.patch_region + 1;
        let edited = BASE.replace("n += x", "n -= x");
        let Plan::Patch(plan) = plan(&shadow, &program(&edited)).unwrap() else {
            panic!("expected a patch")
        };
        let plan = plan.compacting(&shadow, &program(&edited)).unwrap();
        assert_eq!(plan.functions, ["a", "b"]);
        assert!(plan.compact && plan.needs_safe_point);
    }

    #[test]
    fn compacting_refuses_to_drop_code_the_program_no_longer_has() {
        let mut shadow = shadow_of(BASE);
        shadow.functions.insert(
            "gone".into(),
            FunctionRecord {
                slot: 5,
                signature: ir::Signature {
                    params: vec![],
                    ret: ir::Ty::Void,
                },
                fingerprint: 0,
                address: shadow.runtime.patch_region + 0x41,
                size: 0x20,
                inlines: Vec::new(),
                never_allocate: Vec::new(),
                profile: None,
                specialization: None,
            },
        );
        let edited = BASE.replace("n += x", "n -= x");
        let Plan::Patch(plan) = plan(&shadow, &program(&edited)).unwrap() else {
            panic!("expected a patch")
        };
        let error = plan
            .compacting(&shadow, &program(&edited))
            .unwrap_err()
            .to_string();
        assert!(error.contains("holds `gone`"), "{error}");
    }

    /// A device started with `BASE`, and a patch of `a` for it (made-up
    /// code) that also gives a new function `c` slot 2.
    fn device_and_patch() -> (FakeCore, Shadow, ir::Program, LinkedPatch) {
        let shadow = shadow_of(BASE);
        let mut device = FakeCore::new(0x2000_0000, 0x1_2000);
        for (name, record) in &shadow.functions {
            device.poke_word(shadow.slot_address(record.slot), record.address);
            assert!(name == "a" || name == "b");
        }
        let program = program(
            &BASE
                .replace("n += x", "n -= x; c()")
                .replace("setInterval", "function c() { n++ }\nsetInterval"),
        );
        let base = shadow.next_patch_address();
        let patch = LinkedPatch {
            base,
            bytes: (1..=64).collect(),
            functions: vec![
                Placed {
                    name: "a".into(),
                    slot: 0,
                    address: base + 1,
                    size: 32,
                    dependencies: Default::default(),
                    profile: None,
                    specialization: None,
                },
                Placed {
                    name: "c".into(),
                    slot: 2,
                    address: base + 33,
                    size: 32,
                    dependencies: Default::default(),
                    profile: None,
                    specialization: None,
                },
            ],
            entry: None,
            data: None,
        };
        (device, shadow, program, patch)
    }

    fn json(shadow: &Shadow) -> String {
        serde_json::to_string(shadow).unwrap()
    }

    /// The slots and epoch the device's code sees.
    fn switched(device: &FakeCore, shadow: &Shadow) -> (Vec<u32>, u32) {
        let slots = (0..3)
            .map(|slot| device.peek_word(shadow.slot_address(slot)))
            .collect();
        (slots, device.peek_word(shadow.runtime.patch_epoch))
    }

    #[test]
    fn apply_writes_the_code_then_switches_the_slots_and_the_epoch() {
        let (mut device, mut shadow, program, patch) = device_and_patch();
        apply(&mut device, &mut shadow, &program, &patch, &mut |_| Ok(())).unwrap();
        let base = patch.base;
        assert_eq!(
            switched(&device, &shadow),
            (vec![base + 1, 0x1101, base + 33], 1)
        );
        assert_eq!(device.peek_byte(base + 63), 64);
        assert_eq!(shadow.epoch, 1);
        assert_eq!(shadow.patch_next, base + 64);
        assert_eq!(shadow.functions["c"].slot, 2);
        assert_eq!(shadow.functions["a"].address, base + 1);
    }

    #[test]
    fn a_device_at_another_epoch_is_not_touched() {
        let (mut device, mut shadow, program, patch) = device_and_patch();
        device.poke_word(shadow.runtime.patch_epoch, 3);
        let before = json(&shadow);
        let error = apply(&mut device, &mut shadow, &program, &patch, &mut |_| Ok(())).unwrap_err();
        assert!(error.to_string().contains("patch epoch 3"), "{error}");
        assert_eq!(device.writes, 0);
        assert_eq!(json(&shadow), before);
    }

    #[test]
    fn code_that_reads_back_differently_switches_no_slot() {
        let (mut device, mut shadow, program, patch) = device_and_patch();
        device.stuck_byte = Some(patch.base + 10);
        let (before_device, before_shadow) = (switched(&device, &shadow), json(&shadow));
        let error = apply(&mut device, &mut shadow, &program, &patch, &mut |_| Ok(())).unwrap_err();
        assert!(
            error.to_string().contains("read back differently"),
            "{error}"
        );
        assert_eq!(switched(&device, &shadow), before_device);
        assert_eq!(json(&shadow), before_shadow);
    }

    #[test]
    fn a_link_cut_after_the_code_leaves_the_old_code_switched_in() {
        let (mut device, mut shadow, program, patch) = device_and_patch();
        device.cut_after_writes = Some(1);
        let (before_device, before_shadow) = (switched(&device, &shadow), json(&shadow));
        assert!(apply(&mut device, &mut shadow, &program, &patch, &mut |_| Ok(())).is_err());
        assert_eq!(switched(&device, &shadow), before_device);
        assert_eq!(json(&shadow), before_shadow);
    }

    #[test]
    fn the_switch_is_recorded_as_pending_before_it_goes_out() {
        let (device, mut shadow, program, patch) = device_and_patch();
        let device = std::rc::Rc::new(std::cell::RefCell::new(device));
        let before = switched(&device.borrow(), &shadow);
        let mut persisted = Vec::new();
        let mut core = device.clone();
        apply(&mut core, &mut shadow, &program, &patch, &mut |shadow| {
            persisted.push((
                shadow.pending.clone(),
                shadow.epoch,
                switched(&device.borrow(), shadow),
            ));
            Ok(())
        })
        .unwrap();
        // Saved with the patch pending while the device runs the old slots,
        // then with the patch once it runs it.
        assert_eq!(persisted.len(), 2);
        assert_eq!(persisted[0].0.as_ref().unwrap().epoch, 1);
        assert_eq!((persisted[0].1, &persisted[0].2), (0, &before));
        assert!(persisted[1].0.is_none());
        assert_eq!((persisted[1].1, persisted[1].2 .1), (1, 1));
        assert!(shadow.pending.is_none());
        assert_eq!(shadow.epoch, 1);
    }

    #[test]
    fn a_patch_that_cannot_be_recorded_is_not_switched_in() {
        let (mut device, mut shadow, program, patch) = device_and_patch();
        let (before_device, before_shadow) = (switched(&device, &shadow), json(&shadow));
        let error = apply(&mut device, &mut shadow, &program, &patch, &mut |_| {
            bail!("disk full")
        })
        .unwrap_err();
        assert!(format!("{error:#}").contains("disk full"), "{error:#}");
        assert_eq!(switched(&device, &shadow), before_device);
        assert_eq!(json(&shadow), before_shadow);
    }

    #[test]
    fn a_full_patch_region_is_reported() {
        let shadow = shadow_of(BASE);
        let error = shadow
            .ensure_fits(0x2001_0f00, 0x200)
            .unwrap_err()
            .to_string();
        assert!(error.contains("patch region is full"), "{error}");
        assert_eq!(shadow.next_patch_address(), 0x2001_0000);
    }

    /// A patch for RISC-V, linked by rust-lld against a real RV32IMC image
    /// (with relaxation, small-data sections and the C extension's 2-byte
    /// alignment), is written into the running image on QEMU and called
    /// through a slot: it calls the image, reads and writes memory of its
    /// own and of the image, and returns what the host computes.
    #[test]
    fn a_risc_v_patch_links_against_the_image_and_runs() {
        use crate::board::{Board, QemuBoard, QemuOptions, RunningBoard};
        use crate::connection::with_halted;
        use std::time::Duration;

        let board = Board::named("qemu-rv32").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let toolchain = crate::toolchain::ensure_target_installed(dir.path(), board)
            .expect("the riscv32imc target is installed (.ci/run installs it)");
        QemuBoard::ensure_installed(board).expect("QEMU is installed (.ci/run installs it)");
        let image = build_risc_v_image(&toolchain, dir.path());
        let symbols = std::fs::read(&image).unwrap();
        let elf = object::File::parse(&*symbols).unwrap();
        let address_of = |name: &str| {
            elf.symbols()
                .find(|s| s.name() == Ok(name))
                .unwrap_or_else(|| panic!("the image lacks `{name}`"))
                .address() as u32
        };
        let (slot, result, done) = (address_of("SLOT"), address_of("RESULT"), address_of("DONE"));
        // Past the first function's code: a base that is not the region's.
        let base = address_of("PATCH_REGION") + 6;

        let patcher = Patcher::new(toolchain, dir.path()).unwrap();
        let source = sum_patch_source();
        let object = patcher.rustc.compile(&source, "patch1").unwrap();
        let linked = patcher.link(&object, &image, base, &[], "patch1").unwrap();
        let slots: SlotMap = [("sum".to_string(), 0)].into();
        let patch = extract(&linked, board, base, &slots, &["sum".to_string()], None, 1).unwrap();
        let entry = patch.functions[0].address;
        assert!(entry >= base && entry.is_multiple_of(2), "{entry:#x}");

        let mut qemu = QemuBoard::start(board, &image, QemuOptions::default()).unwrap();
        let core = qemu.core();
        core.run().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        with_halted(core, |core| {
            core.write_memory(patch.base, &patch.bytes)?;
            core.write_word(slot, entry)
        })
        .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while with_halted(core, |core| core.read_word(done)).unwrap() != 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "the patch never returned"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        core.halt().unwrap();
        // 3 * (0 + 1 + 2 + 3 + 4), TABLE[5 & 3], one call.
        assert_eq!(core.read_word(result).unwrap(), 30 + 2000 + 1);
        assert_eq!(core.read_word(address_of("COUNTER")).unwrap(), 7);
    }

    /// A patch function `sum` (epoch 1) that calls the image, reads
    /// constants and reads and writes data of its own and of the image.
    fn sum_patch_source() -> String {
        let symbol = patch_symbol("sum", 1);
        format!(
            "#![no_std]\n\
             extern \"C\" {{\n    fn image_triple(x: u32) -> u32;\n    static mut COUNTER: u32;\n}}\n\
             static TABLE: [u32; 4] = [1000, 2000, 3000, 4000];\n\
             static mut CALLS: u32 = 0;\n\
             #[no_mangle]\npub extern \"C\" fn {symbol}() -> u32 {{\n\
             \x20   let n = unsafe {{ core::ptr::read_volatile(core::ptr::addr_of!(COUNTER)) }};\n\
             \x20   let mut total = 0u32;\n\
             \x20   for i in 0..n {{\n        total = total.wrapping_add(unsafe {{ image_triple(i) }});\n    }}\n\
             \x20   unsafe {{ CALLS += 1; COUNTER = 7; }}\n\
             \x20   total + TABLE[(n & 3) as usize] + unsafe {{ CALLS }}\n}}\n"
        )
    }

    /// On the ESP32-C3, whose code RAM is its data RAM seen at another
    /// address, a patch's code is linked where it runs (IRAM) and its
    /// constants and data where the data bus reaches them (DRAM), right
    /// after the code in the bytes written.
    #[test]
    fn a_patch_for_a_code_alias_links_its_data_at_the_data_address() {
        let board = Board::named("esp32c3").unwrap();
        let alias = board.memory.code_alias.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let toolchain = crate::toolchain::ensure_target_installed(dir.path(), board)
            .expect("the riscv32imc target is installed (.ci/run installs it)");
        // Any RV32IMC image serves for the symbols it calls.
        let image = build_risc_v_image(&toolchain, dir.path());
        let patcher = Patcher::new(toolchain, dir.path()).unwrap();
        let data_base = 0x3fcc_e400;
        let run_base = board.memory.executable_address(data_base);
        assert_eq!(run_base, 0x403c_e400);
        let object = patcher
            .rustc
            .compile(&sum_patch_source(), "patch1")
            .unwrap();
        let linked = patcher
            .link(&object, &image, run_base, &[], "patch1")
            .unwrap();
        let slots: SlotMap = [("sum".to_string(), 0)].into();
        let patch = extract(
            &linked,
            board,
            run_base,
            &slots,
            &["sum".to_string()],
            None,
            1,
        )
        .unwrap();

        let data = std::fs::read(&linked).unwrap();
        let elf = object::File::parse(&*data).unwrap();
        let window = |start: u32| crate::board::Region {
            start,
            size: alias.size,
        };
        let mut constants_seen = false;
        for section in elf.sections() {
            let name = section.name().unwrap();
            let address = section.address() as u32;
            if section.size() == 0 || !name.starts_with('.') || name.starts_with(".comment") {
                continue;
            }
            if name.starts_with(".text") {
                assert!(
                    window(alias.executable).contains(address),
                    "{name} at {address:#x}"
                );
            } else if [".rodata", ".srodata", ".data", ".sdata", ".bss", ".sbss"]
                .iter()
                .any(|prefix| name.starts_with(prefix))
            {
                assert!(
                    window(alias.data).contains(address),
                    "{name} at {address:#x}"
                );
                if !name.contains("bss") {
                    // In the bytes where its executable alias says.
                    let at = (board.memory.executable_address(address) - run_base) as usize;
                    let bytes = section.data().unwrap();
                    assert_eq!(&patch.bytes[at..at + bytes.len()], bytes, "{name}");
                    constants_seen = true;
                }
            }
        }
        assert!(constants_seen, "the patch has constants (TABLE)");
        let entry = patch.functions[0].address;
        assert!(window(alias.executable).contains(entry), "{entry:#x}");
    }

    /// A bare RV32IMC image: it waits for the host to fill `SLOT`, calls the
    /// function there, stores its result in `RESULT` and sets `DONE`.
    fn build_risc_v_image(toolchain: &crate::toolchain::Toolchain, dir: &Path) -> PathBuf {
        let source = dir.join("image.rs");
        std::fs::write(
            &source,
            "#![no_std]\n#![no_main]\n\
             use core::ptr::{addr_of, addr_of_mut, read_volatile, write_volatile};\n\
             core::arch::global_asm!(\".section .text.start, \\\"ax\\\"\", \".global _start\", \
             \"_start:\", \"la sp, __stack_top\", \"j image_main\");\n\
             #[no_mangle]\nstatic mut SLOT: u32 = 0;\n\
             #[no_mangle]\nstatic mut RESULT: u32 = 0;\n\
             #[no_mangle]\nstatic mut DONE: u32 = 0;\n\
             #[no_mangle]\nstatic mut COUNTER: u32 = 5;\n\
             #[no_mangle]\nstatic mut PATCH_REGION: [u32; 256] = [0; 256];\n\
             #[no_mangle]\n#[inline(never)]\npub extern \"C\" fn image_triple(x: u32) -> u32 {\n    x.wrapping_mul(3)\n}\n\
             #[no_mangle]\npub extern \"C\" fn image_main() -> ! {\n\
             \x20   loop {\n\
             \x20       let slot = unsafe { read_volatile(addr_of!(SLOT)) };\n\
             \x20       if slot != 0 {\n\
             \x20           let f: extern \"C\" fn() -> u32 = unsafe { core::mem::transmute(slot as usize) };\n\
             \x20           unsafe {\n                write_volatile(addr_of_mut!(RESULT), f());\n                write_volatile(addr_of_mut!(DONE), 1);\n            }\n\
             \x20           loop {}\n        }\n    }\n}\n\
             #[panic_handler]\nfn panic(_: &core::panic::PanicInfo) -> ! {\n    loop {}\n}\n",
        )
        .unwrap();
        let object = dir.join("image.o");
        run_successfully(
            Command::new(&toolchain.rustc)
                .args([
                    "--edition=2021",
                    "--crate-type=lib",
                    "--emit=obj",
                    "-Copt-level=1",
                ])
                .args(["-Cpanic=abort", "--target", toolchain.target()])
                .arg(&source)
                .arg("-o")
                .arg(&object),
        );
        // `-bios none`: QEMU's reset code jumps to the start of RAM.
        let script = dir.join("image.ld");
        std::fs::write(
            &script,
            "ENTRY(_start)\nSECTIONS {\n  . = 0x80000000;\n  .text : { *(.text.start) *(.text .text.*) }\n  \
             .rodata : ALIGN(4) { *(.rodata .rodata.* .srodata .srodata.*) }\n  \
             .data : ALIGN(4) { *(.data .data.* .sdata .sdata.*) }\n  \
             .bss : ALIGN(4) { *(.bss .bss.* .sbss .sbss.* COMMON) }\n  \
             __stack_top = 0x80100000;\n}\n",
        )
        .unwrap();
        let image = dir.join("image.elf");
        run_successfully(
            Command::new(toolchain.lld().unwrap())
                .args(["-flavor", "gnu", "-T"])
                .arg(&script)
                .arg(&object)
                .arg("-o")
                .arg(&image),
        );
        image
    }

    /// Runs `command`, failing the test with its error output if it fails.
    fn run_successfully(command: &mut Command) {
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
