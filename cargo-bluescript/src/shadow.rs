//! The shadow machine: the host's exact model of what the device holds —
//! which code sits where, which slot each function occupies, where the
//! globals live, how much of the patch region is free, and which image and
//! patch epoch the device runs. Persisted after every applied patch.

use anyhow::{anyhow, bail, Context, Result};
use bluescript_abi::symbols::{self, prefix};
use bluescript_abi::WORD_BYTES;
use bluescript_compiler::codegen::{function_symbol, global_symbol, SlotMap};
use bluescript_compiler::exports::Export;
use bluescript_compiler::ir::{self, Signature, Ty};
use object::{Object, ObjectSection, ObjectSymbol};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Addresses of the runtime's well-known symbols (docs/device-abi.md).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RuntimeSymbols {
    pub slots: u32,
    pub slot_count: u32,
    pub patch_region: u32,
    pub patch_region_size: u32,
    pub patch_epoch: u32,
    pub state: u32,
    pub error_count: u32,
    /// Marked by the host at reset so the firmware never drops output.
    pub host_attached: u32,
    pub rtt: u32,
    pub program: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FunctionRecord {
    pub slot: u32,
    pub signature: Signature,
    pub fingerprint: u64,
    /// Current code: in the image, or in the patch region after a patch.
    pub address: u32,
    pub size: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GlobalRecord {
    pub ty: Ty,
    pub address: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Shadow {
    pub build_id: u32,
    pub epoch: u32,
    /// The image the device was started with; patches link against it.
    pub image: PathBuf,
    pub runtime: RuntimeSymbols,
    pub functions: BTreeMap<String, FunctionRecord>,
    pub globals: BTreeMap<String, GlobalRecord>,
    /// What the image's signature records say the drivers are.
    pub exports: Vec<Export>,
    pub top_level_fingerprint: u64,
    /// First free byte of the patch region (patches are placed bump-wise).
    pub patch_next: u32,
    /// Fingerprint of the firmware's Rust sources and build files the image
    /// was built from: when they change, only a new image can hold them.
    #[serde(default)]
    pub firmware_fingerprint: u64,
    /// Whether callers go through slots: a release image calls directly,
    /// so a patch would not reach them.
    #[serde(default)]
    pub patchable: bool,
    /// The descriptors the image defines (`__bs_class_*`, `__bs_type_*`):
    /// the only ones a patch can refer to.
    #[serde(default)]
    pub descriptors: BTreeSet<String>,
}

const SHADOW_FILE: &str = "shadow.json";

struct ElfSymbol {
    address: u32,
    size: u32,
}

impl Shadow {
    pub fn from_image(
        image: &Path,
        program: &ir::Program,
        slots: &SlotMap,
        build_id: u32,
    ) -> Result<Shadow> {
        let data =
            std::fs::read(image).with_context(|| format!("cannot read `{}`", image.display()))?;
        let elf = object::File::parse(&*data)
            .with_context(|| format!("`{}` is not an ELF file", image.display()))?;
        let symbols: HashMap<String, ElfSymbol> = elf
            .symbols()
            .filter_map(|s| {
                Some((
                    s.name().ok()?.to_string(),
                    ElfSymbol {
                        address: s.address() as u32,
                        size: s.size() as u32,
                    },
                ))
            })
            .collect();
        let find = |name: &str| {
            symbols
                .get(name)
                .ok_or_else(|| anyhow!("the firmware image has no `{name}`: is bs-runtime linked, and `bluescript::run(&SCRIPTS)` called?"))
        };
        let slots_symbol = find(symbols::SLOTS)?;
        let patch = find(symbols::PATCH_REGION)?;
        let runtime = RuntimeSymbols {
            slots: slots_symbol.address,
            slot_count: slots_symbol.size / WORD_BYTES,
            patch_region: patch.address,
            patch_region_size: patch.size,
            patch_epoch: find(symbols::PATCH_EPOCH)?.address,
            state: find(symbols::STATE)?.address,
            error_count: find(symbols::ERROR_COUNT)?.address,
            host_attached: find(symbols::HOST_ATTACHED)?.address,
            rtt: find(symbols::RTT)?.address,
            program: find(symbols::PROGRAM)?.address,
        };
        let mut functions = BTreeMap::new();
        for function in &program.functions {
            let symbol = find(&function_symbol(&function.name))?;
            functions.insert(
                function.name.clone(),
                FunctionRecord {
                    slot: slots[&function.name],
                    signature: function.signature.clone(),
                    fingerprint: function.fingerprint,
                    address: symbol.address,
                    size: symbol.size,
                },
            );
        }
        let mut globals = BTreeMap::new();
        for global in &program.globals {
            globals.insert(
                global.name.clone(),
                GlobalRecord {
                    ty: global.ty,
                    address: find(&global_symbol(&global.name))?.address,
                },
            );
        }
        let mut exports = Vec::new();
        for (name, symbol) in &symbols {
            if name.starts_with(prefix::SIGNATURE) {
                let bytes = read_bytes(&elf, symbol.address, symbol.size)
                    .with_context(|| format!("cannot read the signature record `{name}`"))?;
                let text = String::from_utf8_lossy(&bytes);
                let export = Export::parse_record(&text)
                    .ok_or_else(|| anyhow!("malformed signature record `{name}`: {text:?}"))?;
                exports.push(export);
            }
        }
        exports.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Shadow {
            build_id,
            epoch: 0,
            image: image.to_path_buf(),
            runtime: runtime.clone(),
            functions,
            globals,
            exports,
            top_level_fingerprint: program.top_level_fingerprint,
            patch_next: runtime.patch_region,
            firmware_fingerprint: 0,
            patchable: true,
            descriptors: symbols
                .keys()
                .filter(|name| name.starts_with(prefix::CLASS) || name.starts_with(prefix::TYPE))
                .cloned()
                .collect(),
        })
    }

    pub fn load(state_dir: &Path) -> Result<Shadow> {
        let path = state_dir.join(SHADOW_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("`{}` is corrupt; rebuild", path.display()))
    }

    /// Writes atomically: a crash mid-write must not leave a torn model.
    pub fn save(&self, state_dir: &Path) -> Result<()> {
        let path = state_dir.join(SHADOW_FILE);
        let temporary = state_dir.join(format!("{SHADOW_FILE}.tmp"));
        std::fs::write(&temporary, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(&temporary, &path)?;
        Ok(())
    }

    pub fn slot_address(&self, slot: u32) -> u32 {
        self.runtime.slots + 4 * slot
    }

    /// The lowest slot no function uses.
    pub fn free_slot(&self, taken: &[u32]) -> Result<u32> {
        let used: std::collections::HashSet<u32> = self
            .functions
            .values()
            .map(|f| f.slot)
            .chain(taken.iter().copied())
            .collect();
        (0..self.runtime.slot_count)
            .find(|s| !used.contains(s))
            .ok_or_else(|| anyhow!("all {} function slots are in use", self.runtime.slot_count))
    }

    pub fn patch_region_end(&self) -> u32 {
        self.runtime.patch_region + self.runtime.patch_region_size
    }

    /// Where the next patch goes: the first free byte, 8-aligned.
    pub fn next_patch_address(&self) -> u32 {
        (self.patch_next + 7) & !7
    }

    /// Fails with [`RegionFull`] when `size` bytes at `start` overrun the
    /// patch region.
    pub fn ensure_fits(&self, start: u32, size: u32) -> Result<()> {
        if start + size > self.patch_region_end() {
            return Err(RegionFull {
                kib: self.runtime.patch_region_size / 1024,
            }
            .into());
        }
        Ok(())
    }

    pub fn in_patch_region(&self, address: u32) -> bool {
        (self.runtime.patch_region..self.patch_region_end()).contains(&address)
    }
}

/// The patch region has no room left for a patch.
#[derive(Debug)]
pub struct RegionFull {
    pub kib: u32,
}

impl std::fmt::Display for RegionFull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the patch region is full ({} KiB): restart `cargo bluescript watch` to start from a fresh image",
            self.kib
        )
    }
}

impl std::error::Error for RegionFull {}

fn read_bytes(elf: &object::File<'_>, address: u32, size: u32) -> Result<Vec<u8>> {
    for section in elf.sections() {
        let start = section.address() as u32;
        let end = start + section.size() as u32;
        if address >= start && address + size <= end {
            let data = section.data()?;
            let offset = (address - start) as usize;
            return Ok(data[offset..offset + size as usize].to_vec());
        }
    }
    bail!("address {address:#x} is in no section of the image")
}
