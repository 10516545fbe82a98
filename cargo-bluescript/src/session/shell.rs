//! The interactive shell's part of a session: each input is a cell,
//! checked against the running program and the cells accepted before it,
//! compiled and placed like a patch (`cells.rs`), and run once by the
//! device's event loop from its host-request mailbox. A cell becomes part
//! of the shell's environment only once it ran to its end: a cell that
//! failed or was interrupted declares nothing.

use super::{Patched, PatchedFunction, Session};
use crate::cells;
use crate::patch::Timings;
use crate::shadow::RegionFull;
use anyhow::{bail, Context, Result};
use bluescript_abi::host_request::Outcome;
use bluescript_compiler::diagnostic::Diagnostic;
use bluescript_compiler::environment::{Cell, Environment};
use std::collections::BTreeMap;
use std::time::Instant;

/// What became of one input.
pub enum CellRun {
    /// The compiler rejected it; nothing changed.
    Rejected(Vec<Diagnostic>),
    /// It is on the device and runs at the next safe point:
    /// [`Session::cell_outcome`] says when it has finished.
    Posted(Box<PostedCell>),
}

/// A cell the device was asked to run.
pub struct PostedCell {
    sequence: u32,
    cell: Cell,
    /// The descriptors of the types it declares, where they were placed.
    descriptors: BTreeMap<String, u32>,
    /// The functions it declared or replaced, now in their slots, and the
    /// time each stage took (the run is not included).
    pub patched: Patched,
}

/// A cell on the device, posted to run.
pub(super) struct AppliedCell {
    /// The request's sequence number.
    pub sequence: u32,
    pub patched: Patched,
    /// The descriptors of the types it declares, not yet the shadow
    /// machine's: they are once the cell has run to its end.
    pub descriptors: BTreeMap<String, u32>,
}

impl Session {
    /// Compiles `text` as a cell of the shell and posts it to the device.
    /// A compile error never touches the device.
    pub fn run_cell(&mut self, text: &str) -> Result<CellRun> {
        let started = Instant::now();
        let mut timings = Timings::default();
        let device = self
            .device
            .as_mut()
            .context("no program runs: the shell has nothing to run its input in")?;
        if self.halted {
            bail!("the program halted after a fatal error: `.restart` starts it again");
        }
        device.resync()?;
        self.shell()?;
        let shell = self.shell.as_mut().expect("set above");
        let checked = shell.check_cell(text);
        shell.count_input();
        let cell = match checked {
            Ok(cell) => cell,
            Err(diagnostics) => return Ok(CellRun::Rejected(diagnostics)),
        };
        timings.check = started.elapsed();
        let applied = self.apply_cell(&cell, timings)?;
        Ok(CellRun::Posted(Box::new(PostedCell {
            sequence: applied.sequence,
            cell,
            descriptors: applied.descriptors,
            patched: applied.patched,
        })))
    }

    /// Places `cell` on the device (its functions in slots, its globals at
    /// the top of the patch region) and posts its function to the
    /// mailbox.
    pub(super) fn apply_cell(&mut self, cell: &Cell, mut timings: Timings) -> Result<AppliedCell> {
        let timings = &mut timings;
        let device = self.device.as_mut().context("no program runs")?;
        let patcher = &self.patcher;
        let mut plan = cells::plan(&device.shadow, cell)?;
        let build = |plan: &cells::CellPlan, shadow, timings: &mut Timings| {
            let data = plan.data.clone();
            patcher.build_cell(
                shadow,
                &cell.program,
                &plan.patch,
                &plan.entry,
                data,
                timings,
            )
        };
        let mut built = build(&plan, &device.shadow, timings);
        if built.as_ref().is_err_and(|error| error.is::<RegionFull>()) {
            plan.patch = plan.patch.compacting(&device.shadow, &cell.program)?;
            built = build(&plan, &device.shadow, timings);
        }
        let linked = match built {
            Ok(linked) => linked,
            Err(error) if error.is::<RegionFull>() => bail!(
                "there is no room for this in the patch region ({} KiB), even with the old \
                 code reclaimed: `.restart` starts afresh; a larger region is \
                 BLUESCRIPT_PATCH_REGION_SIZE in the firmware's .cargo/config.toml",
                device.shadow.runtime.patch_region_size / 1024
            ),
            Err(error) => return Err(error),
        };
        device.apply_patch(&cell.program, &plan.patch, &linked, timings)?;
        let entry = linked
            .entry
            .context("the cell's patch lacks its function")?;
        let sequence = device.post_request(entry)?;
        let functions = plan
            .patch
            .functions
            .iter()
            .map(|name| PatchedFunction {
                name: name.clone(),
                slot: device.shadow.functions[name].slot,
                new: plan.patch.new_slots.iter().any(|(n, _)| n == name),
            })
            .collect();
        Ok(AppliedCell {
            sequence,
            patched: Patched {
                functions,
                address: linked.base,
                bytes: linked.bytes.len(),
                epoch: device.shadow.epoch,
                compacted: plan.patch.compact,
                at_safe_point: plan.patch.needs_safe_point,
                appended_top_level: false,
                timings: *timings,
            },
            descriptors: linked.data.map(|data| data.descriptors).unwrap_or_default(),
        })
    }

    /// How `posted` ended, once it has: a cell that returned is part of the
    /// shell from now on.
    pub fn cell_outcome(&mut self, posted: &PostedCell) -> Result<Option<Outcome>> {
        let device = self.device.as_mut().context("the program stopped")?;
        let outcome = device.request_outcome(posted.sequence)?;
        if outcome == Some(Outcome::Returned) {
            device
                .shadow
                .placed_descriptors
                .extend(posted.descriptors.clone());
            if let Some(shell) = &mut self.shell {
                shell.accept(&posted.cell);
            }
        }
        Ok(outcome)
    }

    /// Asks the device to abandon `posted` (a cell that does not end).
    pub fn abandon_cell(&mut self, posted: &PostedCell) -> Result<()> {
        let device = self.device.as_mut().context("the program stopped")?;
        device.abandon_request(posted.sequence)
    }

    /// The type of expression `text` in the shell, as scripts write types.
    pub fn type_of(&mut self, text: &str) -> Result<Result<String, Vec<Diagnostic>>> {
        Ok(self.shell()?.type_of(text))
    }

    /// The declarations the shell's inputs made, as a script (`.save`).
    pub fn shell_declarations(&self) -> String {
        self.shell
            .as_ref()
            .map(Environment::declarations_script)
            .unwrap_or_default()
    }

    /// The members of the value of expression `text`, for completion.
    pub fn members_of(&mut self, text: &str) -> Vec<String> {
        self.shell()
            .map(|shell| shell.members_of(text))
            .unwrap_or_default()
    }

    /// What the shell can complete: globals, functions, classes, drivers.
    pub fn names(&mut self) -> Vec<String> {
        self.shell()
            .ok()
            .and_then(|shell| shell.names().ok())
            .unwrap_or_default()
    }

    /// The shell's environment: the program the device runs (its current
    /// scripts, which the session keeps it at) and the cells accepted.
    fn shell(&mut self) -> Result<&Environment> {
        if self.shell.is_none() {
            let device = self.device.as_ref().context("no program runs")?;
            let exports = device.shadow.exports.clone();
            let checked = crate::firmware::with_scripts(&self.project, |scripts| {
                Environment::new(scripts, &exports)
            })?;
            match checked {
                Ok((environment, _)) => self.shell = Some(environment),
                Err(diagnostics) => bail!(
                    "the program's scripts do not compile, so there is nothing to check input against:\n{}",
                    diagnostics[0].render()
                ),
            }
        }
        Ok(self.shell.as_ref().expect("set above"))
    }
}
