//! A BlueScript project: a firmware crate whose `Cargo.toml` carries
//! `[package.metadata.bluescript]`.

use crate::board::Board;
use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    /// Directory holding the firmware crate's `Cargo.toml`.
    pub root: PathBuf,
    pub manifest: PathBuf,
    /// The `board` of `[package.metadata.bluescript]` (`qemu-m4` if none).
    pub board: Board,
    pub scripts_dir: PathBuf,
    pub main_script: PathBuf,
    /// `heap-size` of `[package.metadata.bluescript]`: the size of the
    /// scripts' heap (the runtime's `BLUESCRIPT_HEAP_SIZE`), if set.
    pub heap_size: Option<String>,
    /// Cargo's target directory for this crate.
    pub target_dir: PathBuf,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "kebab-case")]
struct Metadata {
    board: Option<String>,
    scripts: Option<String>,
    main: Option<String>,
    /// The scripts' heap, in bytes or KiB (`"64K"`).
    heap_size: Option<String>,
}

impl Project {
    /// Finds the project from `--manifest-path` or from the current
    /// directory upwards, as cargo does.
    pub fn locate(manifest_path: Option<&Path>) -> Result<Project> {
        let manifest = match manifest_path {
            Some(path) => path
                .canonicalize()
                .with_context(|| format!("manifest `{}` not found", path.display()))?,
            None => find_manifest(&std::env::current_dir()?)?,
        };
        let metadata = cargo_metadata::MetadataCommand::new()
            .manifest_path(&manifest)
            .no_deps()
            .exec()
            .with_context(|| format!("cannot read `{}`", manifest.display()))?;
        let package = metadata
            .packages
            .iter()
            .find(|p| p.manifest_path.as_std_path() == manifest)
            .or_else(|| metadata.root_package())
            .ok_or_else(|| anyhow!("`{}` has no [package]", manifest.display()))?;
        let Some(section) = package.metadata.get("bluescript") else {
            bail!(
                "`{}` is not a BlueScript project: it has no [package.metadata.bluescript] section\n\
                 (create one with `cargo bluescript new <name>`)",
                manifest.display()
            );
        };
        let config: Metadata = serde_json::from_value(section.clone()).with_context(|| {
            format!(
                "invalid [package.metadata.bluescript] in `{}`",
                manifest.display()
            )
        })?;
        let root = manifest
            .parent()
            .expect("a manifest path has a parent")
            .to_path_buf();
        let board = match &config.board {
            Some(name) => {
                Board::named(name).with_context(|| format!("in `{}`", manifest.display()))?
            }
            None => Board::default(),
        };
        let scripts_dir = root.join(config.scripts.as_deref().unwrap_or("scripts"));
        let main_script = root.join(config.main.as_deref().unwrap_or("scripts/main.bs"));
        Ok(Project {
            name: package.name.to_string(),
            board,
            scripts_dir,
            main_script,
            heap_size: config.heap_size,
            target_dir: metadata.target_directory.into_std_path_buf(),
            manifest,
            root,
        })
    }

    /// Where the host keeps this project's generated code and shadow machine.
    pub fn state_dir(&self) -> PathBuf {
        self.target_dir.join("bluescript").join(&self.name)
    }

    /// A path as users know it: relative to the project root when inside it.
    pub fn display_path(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

fn find_manifest(start: &Path) -> Result<PathBuf> {
    for dir in start.ancestors() {
        let candidate = dir.join("Cargo.toml");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "could not find `Cargo.toml` in `{}` or any parent directory\n\
         (run this inside a project made with `cargo bluescript new`, or pass --manifest-path)",
        start.display()
    )
}
