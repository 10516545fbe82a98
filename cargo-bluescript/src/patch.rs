//! The patch step: decide what changed, compile only that with rustc, link
//! it at a free address of the patch region against the running image,
//! write it over the probe, read it back, and switch the slots.

use crate::compiler::codegen::{generate_patch, patch_symbol, SlotMap};
use crate::compiler::ir::{self, Function};
use crate::probe::Probe;
use crate::shadow::{FunctionRecord, Shadow};
use crate::toolchain::{Toolchain, TARGET};
use anyhow::{anyhow, bail, Context, Result};
use object::{Object, ObjectSection, ObjectSymbol};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// What a saved edit means for the running device.
#[derive(Debug, PartialEq)]
pub enum Plan {
    /// Nothing the device runs has changed (e.g. only comments elsewhere).
    Unchanged,
    /// The edit cannot be applied to the running program; why.
    Restart(String),
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
}

pub fn plan(shadow: &Shadow, program: &ir::Program) -> Result<Plan> {
    if program.top_level_fingerprint != shadow.top_level_fingerprint {
        return Ok(Plan::Restart(
            "global declarations or top-level statements changed".into(),
        ));
    }
    let mut changed = BTreeSet::new();
    let mut resigned = BTreeSet::new();
    for function in &program.functions {
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
    for function in &program.functions {
        if function.references.iter().any(|r| resigned.contains(r)) {
            changed.insert(function.name.clone());
        }
    }
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
    Ok(Plan::Patch(PatchPlan {
        functions: program
            .functions
            .iter()
            .filter(|f| changed.contains(&f.name))
            .map(|f| f.name.clone())
            .collect(),
        new_slots,
        needs_safe_point: !resigned.is_empty(),
    }))
}

/// Milliseconds spent in each stage of one patch.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    pub compile: Duration,
    pub link: Duration,
    pub transfer: Duration,
}

/// Code ready to be written: bytes for `base..`, and where each function landed.
pub struct LinkedPatch {
    pub base: u32,
    pub bytes: Vec<u8>,
    pub functions: Vec<(String, u32, u32)>,
}

pub struct Patcher {
    toolchain: Toolchain,
    lld: PathBuf,
    builtins: Option<PathBuf>,
    work_dir: PathBuf,
}

impl Patcher {
    pub fn new(toolchain: Toolchain, state_dir: &Path) -> Result<Patcher> {
        let work_dir = state_dir.join("patch");
        std::fs::create_dir_all(&work_dir)?;
        Ok(Patcher {
            lld: toolchain.lld()?,
            builtins: toolchain.compiler_builtins(),
            toolchain,
            work_dir,
        })
    }

    /// Compiles and links the plan's functions; nothing touches the device.
    pub fn build(
        &self,
        shadow: &Shadow,
        program: &ir::Program,
        plan: &PatchPlan,
        timings: &mut Timings,
    ) -> Result<LinkedPatch> {
        let epoch = shadow.epoch + 1;
        let slots = slot_map(shadow, plan);
        let functions: Vec<&Function> = plan
            .functions
            .iter()
            .filter_map(|name| program.function(name))
            .collect();
        let code = generate_patch(program, &functions, &slots, &shadow.exports, epoch);

        let started = Instant::now();
        let object = self.compile(&code, epoch)?;
        timings.compile = started.elapsed();

        let started = Instant::now();
        let base = shadow.allocate(0)?;
        let linked = self.link(&object, shadow, base, epoch)?;
        let patch = extract(&linked, base, &plan.functions, epoch)?;
        let end = base + patch.bytes.len() as u32;
        if end > shadow.patch_region_end() {
            shadow.allocate(patch.bytes.len() as u32)?; // reports the full region
        }
        timings.link = started.elapsed();
        Ok(patch)
    }

    fn compile(&self, code: &str, epoch: u32) -> Result<PathBuf> {
        let source = self.work_dir.join(format!("patch{epoch}.rs"));
        let object = self.work_dir.join(format!("patch{epoch}.o"));
        std::fs::write(&source, code)?;
        let output = Command::new(&self.toolchain.rustc)
            .current_dir(&self.toolchain.project_dir)
            .args([
                "--edition=2021",
                "--crate-type=lib",
                "--crate-name=bluescript_patch",
                "--emit=obj",
                "-Copt-level=2",
                "-Cpanic=abort",
                "-Coverflow-checks=off",
                "-Cdebug-assertions=off",
                "-Ccodegen-units=1",
                "-Cdebuginfo=0",
            ])
            .arg(format!("--target={TARGET}"))
            .arg(&source)
            .arg("-o")
            .arg(&object)
            .output()
            .context("cannot run rustc")?;
        if !output.status.success() {
            bail!(
                "rustc rejected the generated patch (a compiler bug; please report it):\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(object)
    }

    fn link(&self, object: &Path, shadow: &Shadow, base: u32, epoch: u32) -> Result<PathBuf> {
        let script = self.work_dir.join(format!("patch{epoch}.ld"));
        let output = self.work_dir.join(format!("patch{epoch}.elf"));
        std::fs::write(
            &script,
            format!(
                "SECTIONS {{\n  . = {base:#x};\n  .text : {{ *(.text .text.*) }}\n  \
                 .rodata : ALIGN(4) {{ *(.rodata .rodata.*) }}\n  .data : ALIGN(4) {{ *(.data .data.*) }}\n  \
                 .bss : ALIGN(4) {{ *(.bss .bss.* COMMON) }}\n  \
                 /DISCARD/ : {{ *(.ARM.exidx*) *(.ARM.extab*) *(.comment) *(.ARM.attributes) }}\n}}\n"
            ),
        )?;
        let mut command = Command::new(&self.lld);
        command
            .args(["-flavor", "gnu", "--no-undefined"])
            .arg(format!("--just-symbols={}", shadow.image.display()))
            .arg("-T")
            .arg(&script)
            .arg(object);
        if let Some(builtins) = &self.builtins {
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

fn extract(elf_path: &Path, base: u32, functions: &[String], epoch: u32) -> Result<LinkedPatch> {
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
        let start = (section.address() as u32)
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
    let mut placed = Vec::new();
    for name in functions {
        let symbol_name = patch_symbol(name, epoch);
        let symbol = elf
            .symbols()
            .find(|s| s.name() == Ok(symbol_name.as_str()))
            .ok_or_else(|| anyhow!("the linked patch lacks `{symbol_name}`"))?;
        let address = symbol.address() as u32;
        if address & 1 == 0 {
            bail!("`{symbol_name}` is not Thumb code ({address:#x})");
        }
        placed.push((name.clone(), address, symbol.size() as u32));
    }
    Ok(LinkedPatch {
        base,
        bytes,
        functions: placed,
    })
}

/// How long to wait for the device to be between callbacks.
const SAFE_POINT_TIMEOUT: Duration = Duration::from_secs(3);

/// Writes the patch, verifies it, switches the slots and records the result
/// in the shadow machine. The device is halted only while memory changes.
pub fn apply(
    probe: &mut dyn Probe,
    shadow: &mut Shadow,
    program: &ir::Program,
    plan: &PatchPlan,
    patch: &LinkedPatch,
    timings: &mut Timings,
) -> Result<()> {
    let started = Instant::now();
    let was_running = !probe.is_halted();
    let deadline = Instant::now() + SAFE_POINT_TIMEOUT;
    loop {
        probe.halt()?;
        if !plan.needs_safe_point {
            break;
        }
        let state = probe.read_word(shadow.runtime.state)?;
        if state == crate::session::STATE_IDLE || state == crate::session::STATE_FINISHED {
            break;
        }
        if Instant::now() > deadline {
            if was_running {
                probe.resume()?;
            }
            bail!("the device never paused between callbacks, so a changed signature could not be applied safely");
        }
        probe.resume()?;
        std::thread::sleep(Duration::from_millis(1));
    }
    let result = write_and_switch(probe, shadow, plan, patch);
    if was_running {
        probe.resume()?;
    }
    result?;
    timings.transfer = started.elapsed();

    shadow.epoch += 1;
    shadow.patch_next = patch.base + patch.bytes.len() as u32;
    for (name, address, size) in &patch.functions {
        let function = program.function(name).expect("planned from this program");
        let slot = match shadow.functions.get(name) {
            Some(record) => record.slot,
            None => plan
                .new_slots
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, s)| *s)
                .expect("new functions have slots"),
        };
        shadow.functions.insert(
            name.clone(),
            FunctionRecord {
                slot,
                signature: function.signature.clone(),
                fingerprint: function.fingerprint,
                address: *address,
                size: *size,
            },
        );
    }
    Ok(())
}

fn write_and_switch(
    probe: &mut dyn Probe,
    shadow: &Shadow,
    plan: &PatchPlan,
    patch: &LinkedPatch,
) -> Result<()> {
    let epoch = probe.read_word(shadow.runtime.patch_epoch)?;
    if epoch != shadow.epoch {
        bail!(
            "the device is at patch epoch {epoch}, but the host expected {}: it was reset or patched by someone else; restart watch",
            shadow.epoch
        );
    }
    probe.write_memory(patch.base, &patch.bytes)?;
    let mut readback = vec![0; patch.bytes.len()];
    probe.read_memory(patch.base, &mut readback)?;
    if readback != patch.bytes {
        bail!(
            "the patch read back differently from what was written at {:#x}; slots left unchanged",
            patch.base
        );
    }
    // Only now, with the whole patch in place, does any caller see it.
    for (name, address, _) in &patch.functions {
        let slot = shadow
            .functions
            .get(name)
            .map(|r| r.slot)
            .or_else(|| {
                plan.new_slots
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, s)| *s)
            })
            .expect("every patched function has a slot");
        probe.write_word(shadow.slot_address(slot), *address)?;
    }
    probe.write_word(shadow.runtime.patch_epoch, shadow.epoch + 1)?;
    Ok(())
}
