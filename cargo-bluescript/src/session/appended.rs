//! Top-level code added at the end of the main script, under `watch`: it
//! runs once in the running program, as a shell cell does, instead of
//! restarting it. Globals, functions and statements appended after the
//! text the program was started (or last appended) with are checked
//! against that program, placed like a cell's, and the new statements run
//! from the host-request mailbox. Any other change to the top level still
//! restarts the program.

use super::{Edit, Session};
use crate::firmware::{self, ScriptErrors};
use crate::patch::Timings;
use anyhow::Result;
use bluescript_compiler::diagnostic::SourceFile;
use bluescript_compiler::environment::Environment;
use bluescript_compiler::ir;
use bluescript_compiler::Scripts;

/// The text `new` adds after `old`, when it only adds to its end (blank
/// lines and trailing spaces aside).
pub fn appended<'a>(old: &str, new: &'a str) -> Option<&'a str> {
    let kept = old.trim_end();
    let added = new.strip_prefix(kept)?;
    if added.trim().is_empty() {
        return None;
    }
    Some(added)
}

/// `text` with the first `length` bytes blanked out, newlines kept: a cell
/// with the positions of the script it was appended to.
fn blank_before(text: &str, length: usize) -> String {
    let (before, after) = text.split_at(length);
    let mut blanked: String = before
        .chars()
        .map(|c| if c == '\n' { '\n' } else { ' ' })
        .collect();
    blanked.push_str(after);
    blanked
}

impl Session {
    /// Applies `program` (the scripts as saved) if it only appends
    /// top-level code to what the device runs; `None` if it changes more,
    /// which needs a restart.
    pub(super) fn apply_appended(
        &mut self,
        program: &ir::Program,
        timings: Timings,
    ) -> Result<Option<Edit>> {
        let device = self.device.as_ref().expect("a program runs");
        let (Some(old), Some(new)) = (&device.shadow.main_source, program.files.first()) else {
            return Ok(None);
        };
        let Some(added) = appended(old, &new.text) else {
            return Ok(None);
        };
        let old_length = new.text.len() - added.len();
        let exports = device.shadow.exports.clone();
        let old_text = old.clone();
        let main_name = new.name.clone();
        // The program the device runs, as an environment to check the
        // appended code against: its imported files must not have changed.
        let checked = firmware::with_scripts(&self.project, |scripts| {
            let running = Scripts {
                main: SourceFile {
                    name: scripts.main.name.clone(),
                    text: old_text,
                },
                dir: scripts.dir.clone(),
                loader: scripts.loader,
            };
            Environment::new(&running, &exports)
        })?;
        let Ok((environment, running)) = checked else {
            return Ok(None);
        };
        if running.top_level_fingerprint != device.shadow.top_level_fingerprint {
            return Ok(None);
        }
        let cell = match environment.check_cell_file(SourceFile {
            name: main_name.clone(),
            text: blank_before(&new.text, old_length),
        }) {
            Ok(cell) => cell,
            Err(diagnostics) => {
                return Ok(Some(Edit::Rejected(ScriptErrors {
                    main: main_name,
                    diagnostics,
                })))
            }
        };
        let applied = self.apply_cell(&cell, timings)?;
        let mut patched = applied.patched;
        patched.appended_top_level = true;
        let device = self.device.as_mut().expect("a program runs");
        // The types it declares are the program's now, whatever the code
        // does when it runs.
        device.shadow.placed_descriptors.extend(applied.descriptors);
        // From now on the program is the script as saved: later edits are
        // planned against it.
        device.shadow.main_source = Some(new.text.clone());
        device.shadow.top_level_fingerprint = program.top_level_fingerprint;
        device.save_shadow()?;
        self.shell_follows_scripts();
        Ok(Some(Edit::Patched(patched)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_text_added_at_the_end_is_appended() {
        let old = "let a = 1\nprint(a)\n";
        assert_eq!(
            appended(old, "let a = 1\nprint(a)\nlet b = 2\n"),
            Some("\nlet b = 2\n")
        );
        assert_eq!(appended(old, "let a = 1\nprint(a)  \n\n"), None);
        assert_eq!(appended(old, "let a = 2\nprint(a)\nlet b = 2\n"), None);
        assert_eq!(appended(old, "let a = 1\n"), None);
    }

    #[test]
    fn blanking_keeps_lines_and_columns() {
        let text = "let a = 1\nprint(a)\nlet é = 2\n";
        let blanked = blank_before(text, 19);
        assert_eq!(blanked, "         \n        \nlet é = 2\n");
        assert_eq!(blanked.lines().count(), text.lines().count());
    }
}
