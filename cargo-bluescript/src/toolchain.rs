//! The Rust toolchain the firmware builds with: patches must be compiled by
//! the same rustc (so `core`'s symbols match) and linked by its rust-lld.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const TARGET: &str = "thumbv7em-none-eabihf";

#[derive(Clone, Debug)]
pub struct Toolchain {
    /// `rustc` run in the project directory, so `rust-toolchain.toml` applies.
    pub rustc: PathBuf,
    pub project_dir: PathBuf,
    pub sysroot: PathBuf,
}

impl Toolchain {
    pub fn for_project(project_dir: &Path) -> Result<Toolchain> {
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
        Ok(Toolchain {
            rustc,
            project_dir: project_dir.to_path_buf(),
            sysroot,
        })
    }

    pub fn target_libdir(&self) -> PathBuf {
        self.sysroot.join("lib/rustlib").join(TARGET).join("lib")
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

/// Fails with the exact command to run when the device target is missing.
pub fn ensure_target_installed(project_dir: &Path) -> Result<Toolchain> {
    let toolchain = Toolchain::for_project(project_dir)?;
    let has_core = std::fs::read_dir(toolchain.target_libdir())
        .map(|entries| {
            entries.filter_map(|e| e.ok()).any(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with("libcore-"))
            })
        })
        .unwrap_or(false);
    if !has_core {
        bail!(
            "the Rust target `{TARGET}` is not installed for this toolchain\n\
             install it with: rustup target add {TARGET}"
        );
    }
    Ok(toolchain)
}
