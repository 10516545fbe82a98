//! The dynamic compiler: while the program runs, the host reads the type
//! profiles of its untyped functions (profiles.rs), gives a function that
//! is called often, always with the same classes, a version specialized
//! to them (the compiler's `codegen/specialize.rs`), and installs it
//! through the patch path like an edit. A version whose entry check fails
//! often is specialized again to the classes that failed it, or dropped.

use super::{Patched, Session};
use crate::firmware;
use crate::patch::{self, Plan, Timings};
use crate::profiles::FunctionProfile;
use crate::shadow::FunctionRecord;
use anyhow::Result;
use bluescript_compiler::codegen::{specialization_gains, Specialization};
use bluescript_compiler::ir::{self, Ty};
use std::collections::BTreeMap;
use std::time::Instant;

/// Calls that make a function worth a specialized version.
pub const HOT_CALLS: u32 = 64;
/// Calls that failed a specialized version's entry check before it is
/// specialized again or dropped.
pub const FAILED_CHECKS: u32 = 64;
/// Versions one function (as written) gets before it stays generic.
const MAX_VERSIONS: u32 = 3;

/// What the dynamic compiler did in one round.
pub struct Specialized {
    /// Functions that got a specialized version, and to what.
    pub specialized: Vec<(String, Specialization)>,
    /// Functions whose version was dropped: the values varied.
    pub dropped: Vec<String>,
    pub patched: Patched,
}

/// What the dynamic compiler remembers of the functions it specialized,
/// by name and fingerprint (an edited function starts afresh).
#[derive(Default)]
pub(super) struct Specializer {
    versions: BTreeMap<(String, u64), u32>,
    /// The profile each function had when a round last decided about it:
    /// until it changes, there is nothing new to decide (and no reason to
    /// check the scripts again every round).
    considered: BTreeMap<String, FunctionProfile>,
}

/// What to do with one function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Specialize(Specialization),
    Drop,
}

/// The specialization `profile` calls for: each parameter that only ever
/// held instances of one class (or those and `null`).
pub fn specialization_of(profile: &FunctionProfile) -> Option<Specialization> {
    let params: Vec<(String, Ty)> = profile
        .params
        .iter()
        .filter_map(|param| {
            let ty = param.ty?;
            matches!(ty.non_null(), Ty::Class(_)).then(|| (param.name.clone(), ty))
        })
        .collect();
    (!params.is_empty()).then_some(Specialization { params })
}

/// The calls a function's profile must count before the dynamic compiler
/// decides about it: every call of a generic function counts, only the
/// failed entry checks of a specialized one.
fn calls_to_decide(record: &FunctionRecord) -> u32 {
    match record.specialization {
        None => HOT_CALLS,
        Some(_) => FAILED_CHECKS,
    }
}

/// What the dynamic compiler does with `function`, which runs `record`'s
/// code and whose profile since then, `profile`, counts enough calls.
pub fn decide(
    program: &ir::Program,
    function: &ir::Function,
    record: &FunctionRecord,
    profile: &FunctionProfile,
) -> Option<Decision> {
    let specialization = specialization_of(profile)
        .filter(|specialization| specialization_gains(program, function, specialization));
    match &record.specialization {
        None => specialization.map(Decision::Specialize),
        Some(_) => Some(specialization.map_or(Decision::Drop, Decision::Specialize)),
    }
}

impl Session {
    /// One round of the dynamic compiler, for an idle moment of `watch`:
    /// reads the profiles and installs the specialized versions they call
    /// for, if any. Does nothing while the scripts on disk differ from what
    /// the device runs (a save not yet applied, a shell's redefinition).
    pub fn specialize(&mut self) -> Result<Option<Specialized>> {
        if self.link_down || self.halted {
            return Ok(None);
        }
        let Some(device) = self.device.as_mut() else {
            return Ok(None);
        };
        if !device.shadow.patchable {
            return Ok(None);
        }
        let profiles = device.read_profiles()?;
        let considered = &self.specializer.considered;
        let due: Vec<&FunctionProfile> = profiles
            .iter()
            .filter(|profile| {
                device
                    .shadow
                    .functions
                    .get(&profile.function)
                    .is_some_and(|record| {
                        profile.calls >= calls_to_decide(record)
                            && considered.get(&profile.function) != Some(*profile)
                    })
            })
            .collect();
        if due.is_empty() {
            return Ok(None);
        }
        let started = Instant::now();
        let exports = device.shadow.exports.clone();
        let Ok((_, program)) = firmware::compile_scripts(&self.project, &exports) else {
            return Ok(None);
        };
        if !matches!(patch::plan(&device.shadow, &program)?, Plan::Unchanged) {
            return Ok(None);
        }
        let mut chosen = BTreeMap::new();
        for profile in due {
            self.specializer
                .considered
                .insert(profile.function.clone(), profile.clone());
            let name = &profile.function;
            let (Some(function), Some(record)) =
                (program.function(name), device.shadow.functions.get(name))
            else {
                continue;
            };
            let key = (name.clone(), function.fingerprint);
            let versions = self.specializer.versions.get(&key).copied().unwrap_or(0);
            let decision = match decide(&program, function, record, profile) {
                Some(Decision::Specialize(_)) if versions >= MAX_VERSIONS => {
                    record.specialization.is_some().then_some(Decision::Drop)
                }
                Some(Decision::Specialize(s)) if record.specialization.as_ref() == Some(&s) => None,
                decision => decision,
            };
            match decision {
                Some(Decision::Specialize(specialization)) => {
                    self.specializer.versions.insert(key, versions + 1);
                    chosen.insert(name.clone(), Some(specialization));
                }
                Some(Decision::Drop) => {
                    // For good: it does not come back.
                    self.specializer.versions.insert(key, MAX_VERSIONS);
                    chosen.insert(name.clone(), None);
                }
                None => {}
            }
        }
        if chosen.is_empty() {
            return Ok(None);
        }
        let plan = patch::plan_specializations(&device.shadow, &program, &chosen);
        let timings = Timings {
            check: started.elapsed(),
            ..Timings::default()
        };
        let patched = self.build_and_apply(&program, plan, timings, &mut |_| {})?;
        let mut specialized = Vec::new();
        let mut dropped = Vec::new();
        for (name, specialization) in chosen {
            match specialization {
                Some(specialization) => specialized.push((name, specialization)),
                None => dropped.push(name),
            }
        }
        Ok(Some(Specialized {
            specialized,
            dropped,
            patched,
        }))
    }

    /// Pauses the type profiles of the running program, or resumes them.
    pub fn set_profiling(&mut self, on: bool) -> Result<()> {
        match self.device.as_mut() {
            Some(device) => device.set_profiling(on),
            None => Ok(()),
        }
    }
}

/// What the round did, for a status line: `tail(x: Element, y: Element)`.
pub fn describe(specialized: &Specialized) -> String {
    let mut parts: Vec<String> = specialized
        .specialized
        .iter()
        .map(|(name, specialization)| format!("{name}{specialization}"))
        .collect();
    if !specialized.dropped.is_empty() {
        parts.push(format!(
            "dropped the version of {} (its arguments' classes varied)",
            specialized.dropped.join(", ")
        ));
    }
    parts.join(", ")
}
