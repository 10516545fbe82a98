//! The shadow machine: the host's exact model of what the device holds —
//! which code sits where, which slot each function occupies, where the
//! globals live, how much of the patch region is free, and which image and
//! patch epoch the device runs. Persisted after every applied patch.

use crate::profiles::ProfileRecord;
use anyhow::{anyhow, bail, Context, Result};
use bluescript_abi::symbols::{self, prefix};
use bluescript_abi::WORD_BYTES;
use bluescript_compiler::codegen::{
    descriptor_symbol, function_symbol, global_symbol, image_dependencies, profile_symbol,
    profiled_params, Calls, Dependencies, SlotMap, Specialization,
};
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
    /// The host-request mailbox (`bluescript_abi::host_request`); 0 in a
    /// shadow machine saved before images had one.
    #[serde(default)]
    pub host_request: u32,
    /// The pointer to the host's roots table; 0 likewise.
    #[serde(default)]
    pub host_roots: u32,
    pub rtt: u32,
    pub program: u32,
    /// Generated code records type profiles while this word is 0; 0 in a
    /// shadow machine saved before images had it.
    #[serde(default)]
    pub profiling_paused: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FunctionRecord {
    pub slot: u32,
    pub signature: Signature,
    pub fingerprint: u64,
    /// Current code: in the image, or in the patch region after a patch.
    pub address: u32,
    pub size: u32,
    /// What the current code counts on besides its text: the functions it
    /// calls directly (and may have inlined), and those it counts on never
    /// to allocate. A patch that breaks either recompiles this function.
    #[serde(default)]
    pub inlines: Vec<String>,
    #[serde(default)]
    pub never_allocate: Vec<String>,
    /// Its code's type profile (`bluescript_abi::profile`): `None` when it
    /// has no `any` parameter, or in a release image.
    #[serde(default)]
    pub profile: Option<ProfileRecord>,
    /// The classes its specialized version is for, if its code has one
    /// (the dynamic compiler's): its profile then counts only the calls
    /// that failed the version's entry check.
    #[serde(default)]
    pub specialization: Option<Specialization>,
}

impl FunctionRecord {
    /// The record with what its code counts on.
    pub fn counting_on(self, dependencies: &Dependencies) -> FunctionRecord {
        FunctionRecord {
            inlines: dependencies.inlines.clone(),
            never_allocate: dependencies.never_allocate.clone(),
            ..self
        }
    }
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
    /// A patch whose switch was sent but not confirmed (the link failed):
    /// the device runs either it or what the rest of this model says, and
    /// [`Shadow::resolve_pending`] finds out which when it answers again.
    #[serde(default)]
    pub pending: Option<PendingPatch>,
    /// The globals that shell cells declare live at the top of the patch
    /// region, from here to its end, never moved by compacting; patches'
    /// code ends below. `None`: there are none.
    #[serde(default)]
    pub data_floor: Option<u32>,
    /// The table of those globals that hold values, which the collector
    /// reads besides the image's roots (`__bs_host_roots`; 0: none).
    #[serde(default)]
    pub host_roots: u32,
    /// The main script's text the program runs: code appended to its end
    /// can run without a restart.
    #[serde(default)]
    pub main_source: Option<String>,
    /// The descriptors of types the image lacks that edits and shell cells
    /// placed in the data at the top of the patch region, by symbol: an
    /// edit's once applied, a cell's once it ran to its end (a failed
    /// cell's types are not the shell's).
    #[serde(default)]
    pub placed_descriptors: BTreeMap<String, u32>,
    /// The types of the image's descriptors of classes, strings and the
    /// runtime's arrays, by address: what a type profile's descriptor is.
    #[serde(default)]
    pub type_descriptors: BTreeMap<u32, Ty>,
}

/// A patch whose slots and epoch were sent to the device in one commit,
/// without the confirmation that they applied.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PendingPatch {
    /// The patch epoch it brings the device to.
    pub epoch: u32,
    /// The first free byte of the patch region after it.
    pub patch_next: u32,
    /// Each slot it switches: the slot's address, and the address of the
    /// function's code before (none for a function new to the device) and
    /// after.
    pub switches: Vec<SlotSwitch>,
    /// The records of the functions it patches, as they are after it.
    pub functions: BTreeMap<String, FunctionRecord>,
    /// The globals it adds (a shell cell's), the data floor below them and
    /// the host roots table after it.
    #[serde(default)]
    pub globals: BTreeMap<String, GlobalRecord>,
    #[serde(default)]
    pub data_floor: Option<u32>,
    #[serde(default)]
    pub host_roots: u32,
    /// The descriptors an edit placed in that data.
    #[serde(default)]
    pub descriptors: BTreeMap<String, u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotSwitch {
    pub address: u32,
    pub old: Option<u32>,
    pub new: u32,
}

/// What the device turned out to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Nothing was pending: the device is at the model's epoch.
    InSync,
    /// The pending patch did not apply: it is forgotten.
    Dropped,
    /// The pending patch applied: the model now includes it.
    Adopted,
}

const SHADOW_FILE: &str = "shadow.json";

/// The types whose descriptors `address_of` finds: the program's classes,
/// strings and the arrays the runtime describes.
fn named_descriptors(
    program: &ir::Program,
    address_of: &dyn Fn(&str) -> Option<u32>,
) -> BTreeMap<u32, Ty> {
    let runtime_types = [
        Ty::String,
        Ty::Uint8Array,
        Ty::FixedArray,
        Ty::array(Ty::Integer),
        Ty::array(Ty::Int32),
        Ty::array(Ty::Float),
        Ty::array(Ty::Boolean),
        Ty::array(Ty::Any),
        Ty::array(Ty::String),
    ];
    program
        .classes
        .iter()
        .map(|class| Ty::Class(class.name))
        .chain(runtime_types)
        .filter_map(|ty| Some((address_of(&descriptor_symbol(ty))?, ty)))
        .collect()
}

struct ElfSymbol {
    address: u32,
    size: u32,
}

impl Shadow {
    /// The model of a device started with `image`, built from `program`
    /// with `calls`.
    pub fn from_image(
        image: &Path,
        program: &ir::Program,
        slots: &SlotMap,
        calls: Calls,
        build_id: u32,
    ) -> Result<Shadow> {
        let dependencies = image_dependencies(program, calls);
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
            host_request: find(symbols::HOST_REQUEST)?.address,
            host_roots: find(symbols::HOST_ROOTS)?.address,
            rtt: find(symbols::RTT)?.address,
            program: find(symbols::PROGRAM)?.address,
            profiling_paused: find(symbols::PROFILING_PAUSED)?.address,
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
                    inlines: Vec::new(),
                    never_allocate: Vec::new(),
                    profile: symbols.get(&profile_symbol(&function.name)).map(|record| {
                        ProfileRecord {
                            address: record.address,
                            params: profiled_params(function)
                                .into_iter()
                                .map(str::to_string)
                                .collect(),
                        }
                    }),
                    specialization: None,
                }
                .counting_on(&dependencies[&function.name]),
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
            pending: None,
            data_floor: None,
            host_roots: 0,
            main_source: program.files.first().map(|file| file.text.clone()),
            placed_descriptors: BTreeMap::new(),
            type_descriptors: named_descriptors(program, &|symbol| {
                symbols.get(symbol).map(|s| s.address)
            }),
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

    /// How many functions record type profiles, and the RAM their
    /// records take.
    pub fn profile_budget(&self) -> (usize, u32) {
        let records: Vec<_> = self
            .functions
            .values()
            .filter_map(|f| f.profile.as_ref())
            .collect();
        (records.len(), records.iter().map(|r| r.bytes()).sum())
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

    /// Where patches' code must end: below the globals cells declared.
    pub fn code_end(&self) -> u32 {
        self.data_floor.unwrap_or_else(|| self.patch_region_end())
    }

    /// Where the next patch goes: the first free byte, 8-aligned.
    pub fn next_patch_address(&self) -> u32 {
        (self.patch_next + 7) & !7
    }

    /// Fails with [`RegionFull`] when `size` bytes at `start` overrun the
    /// patch region.
    pub fn ensure_fits(&self, start: u32, size: u32) -> Result<()> {
        if start + size > self.code_end() {
            return Err(RegionFull {
                kib: self.runtime.patch_region_size / 1024,
            }
            .into());
        }
        Ok(())
    }

    /// Whether the device has the descriptor `symbol`: the image's, or a
    /// shell cell's.
    pub fn defines_descriptor(&self, symbol: &str) -> bool {
        self.descriptors.contains(symbol) || self.placed_descriptors.contains_key(symbol)
    }

    pub fn in_patch_region(&self, address: u32) -> bool {
        (self.runtime.patch_region..self.patch_region_end()).contains(&address)
    }

    /// Makes the pending patch part of the model: it applied.
    pub fn adopt_pending(&mut self) {
        if let Some(pending) = self.pending.take() {
            self.epoch = pending.epoch;
            self.patch_next = pending.patch_next;
            self.functions.extend(pending.functions);
            self.globals.extend(pending.globals);
            self.data_floor = pending.data_floor.or(self.data_floor);
            if pending.host_roots != 0 {
                self.host_roots = pending.host_roots;
            }
            self.placed_descriptors.extend(pending.descriptors);
        }
    }

    /// Brings the model to the device's truth after a link failure: the
    /// device is at patch epoch `device_epoch`, and `read_slot` reads a
    /// slot's word on it. The old epoch (and old slots) mean the pending
    /// patch did not apply, the new epoch and new slots that it did; any
    /// other state is not one the host made, and is refused.
    pub fn resolve_pending(
        &mut self,
        device_epoch: u32,
        mut read_slot: impl FnMut(u32) -> Result<u32>,
    ) -> Result<Resolution> {
        let Some(pending) = &self.pending else {
            if device_epoch != self.epoch {
                bail!(
                    "the board is at patch epoch {device_epoch}, but the host's model at {}: it was reset or patched by someone else",
                    self.epoch
                );
            }
            return Ok(Resolution::InSync);
        };
        let mut slots_are = |new: bool| -> Result<bool> {
            for switch in &pending.switches {
                let expected = if new { Some(switch.new) } else { switch.old };
                if let Some(expected) = expected {
                    if read_slot(switch.address)? != expected {
                        return Ok(false);
                    }
                }
            }
            Ok(true)
        };
        let resolution = if device_epoch == self.epoch && slots_are(false)? {
            Resolution::Dropped
        } else if device_epoch == pending.epoch && slots_are(true)? {
            Resolution::Adopted
        } else {
            bail!(
                "after the link failed during a patch, the board is at patch epoch {device_epoch} with slots matching neither epoch {} nor {}: it was reset or patched by someone else",
                self.epoch,
                pending.epoch
            );
        };
        match resolution {
            Resolution::Adopted => self.adopt_pending(),
            _ => self.pending = None,
        }
        Ok(resolution)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::tests::{shadow_of, BASE};

    /// A model at epoch 0 with a pending patch that moves slot 0 from
    /// 0x101 to 0x201 and gives a new function slot 2 at 0x301.
    fn pending() -> Shadow {
        let mut shadow = shadow_of(BASE);
        let mut record = shadow.functions["a"].clone();
        record.address = 0x201;
        shadow.pending = Some(PendingPatch {
            epoch: 1,
            patch_next: shadow.patch_next + 0x40,
            switches: vec![
                SlotSwitch {
                    address: shadow.slot_address(0),
                    old: Some(shadow.functions["a"].address),
                    new: 0x201,
                },
                SlotSwitch {
                    address: shadow.slot_address(2),
                    old: None,
                    new: 0x301,
                },
            ],
            functions: [("a".to_string(), record)].into(),
            ..PendingPatch::default()
        });
        shadow
    }

    #[test]
    fn a_pending_patch_is_dropped_or_adopted_as_the_device_says() {
        let mut shadow = pending();
        let old_a = shadow.functions["a"].address;
        let slots = |a, c| {
            move |address| {
                Ok(match address {
                    0x2000_0000 => a,
                    0x2000_0008 => c,
                    _ => 0,
                })
            }
        };
        assert_eq!(
            shadow.resolve_pending(0, slots(old_a, 0xdead)).unwrap(),
            Resolution::Dropped
        );
        assert!(shadow.pending.is_none());
        assert_eq!((shadow.epoch, shadow.functions["a"].address), (0, old_a));

        let mut shadow = pending();
        assert_eq!(
            shadow.resolve_pending(1, slots(0x201, 0x301)).unwrap(),
            Resolution::Adopted
        );
        assert_eq!((shadow.epoch, shadow.functions["a"].address), (1, 0x201));
        assert_eq!(shadow.patch_next, shadow.runtime.patch_region + 0x40);

        // A mix of old and new slots is no state the host made.
        for (epoch, a, c) in [(1, old_a, 0x301), (0, 0x201, 0), (2, 0x201, 0x301)] {
            let mut shadow = pending();
            let error = shadow.resolve_pending(epoch, slots(a, c)).unwrap_err();
            assert!(error.to_string().contains("matching neither"), "{error}");
        }
        let mut shadow = shadow_of(BASE);
        assert_eq!(
            shadow.resolve_pending(0, |_| unreachable!()).unwrap(),
            Resolution::InSync
        );
        assert!(shadow.resolve_pending(1, |_| Ok(0)).is_err());
    }
}
