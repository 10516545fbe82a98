//! rustc for patch crates, started before the patch is known.
//!
//! About a fifth of rustc's time on a patch passes before it reads its
//! source: loading its libraries, reading its arguments and the target.
//! So the rustc for the next patch is started ahead, reading its source
//! from its standard input: a save finds it waiting, and hands it the
//! generated code. `watch` starts it while nothing else happens, not
//! during a patch: on two cores it would slow the patch down.

use crate::board::Board;
use anyhow::{bail, Context, Result};
use bluescript_compiler::codegen::PATCH_RUSTC_OPTIONS;
use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub struct PatchRustc {
    rustc: PathBuf,
    board: Board,
    project_dir: PathBuf,
    work_dir: PathBuf,
    /// The rustc that waits for the next patch's source.
    spare: RefCell<Option<Child>>,
}

impl PatchRustc {
    pub fn new(rustc: &Path, board: Board, project_dir: &Path, work_dir: &Path) -> PatchRustc {
        PatchRustc {
            rustc: rustc.to_path_buf(),
            board,
            project_dir: project_dir.to_path_buf(),
            work_dir: work_dir.to_path_buf(),
            spare: RefCell::new(None),
        }
    }

    /// Compiles `code` into `<name>.o` in the work directory, next to
    /// `<name>.rs`, which keeps the code for whoever reads an error.
    pub fn compile(&self, code: &str, name: &str) -> Result<PathBuf> {
        let source = self.work_dir.join(format!("{name}.rs"));
        let object = self.work_dir.join(format!("{name}.o"));
        std::fs::write(&source, code)?;
        let spare = self.spare.borrow_mut().take();
        let output = match spare.map(|spare| finish(spare, code)) {
            Some(Ok(output)) if output.status.success() => {
                std::fs::rename(self.spare_object(), &object)?;
                output
            }
            // A spare that died (killed, its toolchain removed) or failed:
            // rustc as usual, which says what is wrong, about the file.
            _ => rustc_command(&self.rustc, self.board, &source, &object)
                .current_dir(&self.project_dir)
                .output()
                .context("cannot run rustc")?,
        };
        if !output.status.success() {
            bail!(
                "rustc rejected the generated patch `{}` (a compiler bug; please report it):\n{}",
                source.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(object)
    }

    /// Starts the rustc for the next patch, if there is none yet; one that
    /// cannot start leaves the next patch to start its own.
    pub fn start_spare(&self) {
        let mut spare = self.spare.borrow_mut();
        if spare.is_some() {
            return;
        }
        *spare = rustc_command(
            &self.rustc,
            self.board,
            Path::new("-"),
            &self.spare_object(),
        )
        .current_dir(&self.project_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok();
    }

    fn spare_object(&self) -> PathBuf {
        self.work_dir.join("next.o")
    }
}

impl Drop for PatchRustc {
    fn drop(&mut self) {
        if let Some(mut spare) = self.spare.get_mut().take() {
            let _ = spare.kill();
            let _ = spare.wait();
        }
    }
}

/// Hands `code` to a waiting rustc and waits for it.
fn finish(mut spare: Child, code: &str) -> std::io::Result<Output> {
    let written = match spare.stdin.take() {
        Some(mut input) => input.write_all(code.as_bytes()),
        None => Err(std::io::ErrorKind::BrokenPipe.into()),
    };
    if let Err(error) = written {
        let _ = spare.kill();
        let _ = spare.wait();
        return Err(error);
    }
    // The input was closed when written: rustc reads it to its end.
    spare.wait_with_output()
}

/// How a patch crate is compiled for `board`: optimized, no panics, no
/// unwinding, nothing that the running image might lack.
pub fn rustc_command(rustc: &Path, board: Board, source: &Path, object: &Path) -> Command {
    let mut command = Command::new(rustc);
    command
        .args(PATCH_RUSTC_OPTIONS)
        .arg(format!("--target={}", board.target_triple()))
        .args(board.isa().patch_rustc_flags())
        .arg(source)
        .arg("-o")
        .arg(object);
    command
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::{Object, ObjectSymbol};

    fn version(n: u32) -> String {
        format!("#![no_std]\n#[unsafe(no_mangle)]\npub extern \"C\" fn version_{n}() -> u32 {{ {n} }}\n")
    }

    fn defines(object: &Path, symbol: &str) -> bool {
        let bytes = std::fs::read(object).unwrap();
        let file = object::File::parse(&*bytes).unwrap();
        let found = file.symbols().any(|s| s.name() == Ok(symbol));
        found
    }

    /// A compile hands its code to the rustc started for it; one that
    /// died is replaced, and a rejected patch leaves the next to compile.
    #[test]
    fn every_patch_compiles_through_the_rustc_waiting_for_it() {
        let board = Board::named("qemu-m4").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let toolchain = crate::toolchain::ensure_target_installed(dir.path(), board)
            .expect("the board's target is installed (.ci/run installs it)");
        let compiler = PatchRustc::new(&toolchain.rustc, board, dir.path(), dir.path());

        let first = compiler.compile(&version(1), "patch1").unwrap();
        assert!(defines(&first, "version_1"));
        compiler.start_spare();
        assert!(compiler.spare.borrow().is_some(), "the next rustc waits");
        let second = compiler.compile(&version(2), "patch2").unwrap();
        assert!(defines(&second, "version_2"));
        assert!(!defines(&second, "version_1"));
        compiler.start_spare();

        let mut spare = compiler.spare.borrow_mut().take().unwrap();
        spare.kill().unwrap();
        spare.wait().unwrap();
        *compiler.spare.borrow_mut() = Some(spare);
        let third = compiler.compile(&version(3), "patch3").unwrap();
        assert!(defines(&third, "version_3"));

        compiler.start_spare();
        let rejected = compiler.compile("fn broken( {", "patch4").unwrap_err();
        assert!(rejected.to_string().contains("patch4.rs"), "{rejected}");
        let fifth = compiler.compile(&version(5), "patch5").unwrap();
        assert!(defines(&fifth, "version_5"));
    }
}
