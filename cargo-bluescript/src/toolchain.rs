//! The Rust toolchain the firmware builds with: patches must be compiled by
//! the same rustc (so `core`'s symbols match) and linked by its rust-lld.

use crate::board::Board;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Debug)]
pub struct Toolchain {
    /// The rustc of the toolchain that `rust-toolchain.toml` in the project
    /// directory chooses (or `RUSTC`).
    pub rustc: PathBuf,
    pub project_dir: PathBuf,
    pub sysroot: PathBuf,
    /// The board the project is for: its target is the one patches are
    /// compiled for.
    pub board: Board,
}

impl Toolchain {
    pub fn for_project(project_dir: &Path, board: Board) -> Result<Toolchain> {
        let rustc = PathBuf::from(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()));
        let output = Command::new(&rustc)
            .current_dir(project_dir)
            .args(["--print", "sysroot"])
            .output()
            .with_context(|| format!("cannot run `{}`: is Rust installed?", rustc.display()))?;
        if !output.status.success() {
            bail!(
                "`rustc --print sysroot` failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        // rustup's `rustc` is a proxy that chooses the toolchain again on
        // every run, about 7 ms of CPU per patch: the chosen toolchain's
        // own binary is run instead.
        let own_rustc = sysroot
            .join("bin")
            .join(format!("rustc{}", std::env::consts::EXE_SUFFIX));
        let rustc = if std::env::var_os("RUSTC").is_none() && own_rustc.is_file() {
            own_rustc
        } else {
            rustc
        };
        Ok(Toolchain {
            rustc,
            project_dir: project_dir.to_path_buf(),
            sysroot,
            board,
        })
    }

    /// The Rust target of the board.
    pub fn target(&self) -> &'static str {
        self.board.target_triple()
    }

    pub fn target_libdir(&self) -> PathBuf {
        self.sysroot
            .join("lib/rustlib")
            .join(self.target())
            .join("lib")
    }

    /// rust-lld ships with every rustup toolchain, next to the host's libs.
    pub fn lld(&self) -> Result<PathBuf> {
        let rustlib = self.sysroot.join("lib/rustlib");
        for entry in std::fs::read_dir(&rustlib)? {
            let candidate = entry?.path().join("bin").join("rust-lld");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
        bail!(
            "rust-lld not found under `{}`: it ships with rustup toolchains",
            rustlib.display()
        )
    }

    /// The archive of compiler intrinsics (`__aeabi_*`, memcpy…) for the
    /// target, which a patch may need when the image lacks one.
    pub fn compiler_builtins(&self) -> Option<PathBuf> {
        std::fs::read_dir(self.target_libdir())
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("libcompiler_builtins-") && n.ends_with(".rlib"))
            })
    }
}

/// Fails with the exact command to run when the board's target is missing.
pub fn ensure_target_installed(project_dir: &Path, board: Board) -> Result<Toolchain> {
    let toolchain = Toolchain::for_project(project_dir, board)?;
    toolchain.ensure_target_installed()?;
    Ok(toolchain)
}

impl Toolchain {
    fn ensure_target_installed(&self) -> Result<()> {
        let has_core = std::fs::read_dir(self.target_libdir())
            .map(|entries| {
                entries.filter_map(|e| e.ok()).any(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(|n| n.starts_with("libcore-"))
                })
            })
            .unwrap_or(false);
        if !has_core {
            let target = self.target();
            bail!(
                "the Rust target `{target}` of the {} board is not installed for this toolchain\n\
                 install it with: rustup target add {target}",
                self.board
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toolchain_with_sysroot(sysroot: &Path, board: Board) -> Toolchain {
        Toolchain {
            rustc: "rustc".into(),
            project_dir: sysroot.to_path_buf(),
            sysroot: sysroot.to_path_buf(),
            board,
        }
    }

    #[test]
    fn a_missing_target_says_how_to_install_it() {
        let sysroot = tempfile::tempdir().unwrap();
        let error = toolchain_with_sysroot(sysroot.path(), Board::default())
            .ensure_target_installed()
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`thumbv7em-none-eabihf` of the qemu-m4 board is not installed"),
            "{error}"
        );
        assert!(
            error.contains("rustup target add thumbv7em-none-eabihf"),
            "{error}"
        );
        let error = toolchain_with_sysroot(sysroot.path(), Board::named("qemu-rv32").unwrap())
            .ensure_target_installed()
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("rustup target add riscv32imc-unknown-none-elf"),
            "{error}"
        );
    }

    #[test]
    fn an_installed_target_is_found() {
        let sysroot = tempfile::tempdir().unwrap();
        let board = Board::named("qemu-m0").unwrap();
        let libdir = sysroot.path().join("lib/rustlib/thumbv6m-none-eabi/lib");
        std::fs::create_dir_all(&libdir).unwrap();
        std::fs::write(libdir.join("libcore-0123.rlib"), b"").unwrap();
        std::fs::write(libdir.join("libcompiler_builtins-0123.rlib"), b"").unwrap();
        let toolchain = toolchain_with_sysroot(sysroot.path(), board);
        toolchain.ensure_target_installed().unwrap();
        assert!(toolchain.compiler_builtins().is_some());
    }
}
