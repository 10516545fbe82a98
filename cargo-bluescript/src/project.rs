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
    /// `serial-key-file` of `[package.metadata.bluescript]`, resolved: the
    /// file holding the serial agent's key (docs/serial-agent.md).
    pub serial_key_file: Option<PathBuf>,
    /// `probe` of `[package.metadata.bluescript]`: the debug probe of a real
    /// board, `VID:PID[:SERIAL]` (`--probe` overrides it).
    pub probe: Option<String>,
    /// `chip`: probe-rs's name of the chip, if not the board's (`--chip`
    /// overrides it).
    pub chip: Option<String>,
    /// `port`: the serial port of an ESP board reached over serial
    /// (`--port` overrides it).
    pub port: Option<String>,
    /// `baud`: its baud rate, if not 115 200 (`--baud` overrides it).
    pub baud: Option<u32>,
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
    /// A file with the serial agent's key: 32 hex digits, kept out of
    /// version control.
    serial_key_file: Option<String>,
    probe: Option<String>,
    chip: Option<String>,
    port: Option<String>,
    baud: Option<u32>,
}

/// The environment variable that holds the serial agent's key (overriding
/// the project's key file), and through which the firmware's build gets it.
pub const SERIAL_KEY_VARIABLE: &str = "BLUESCRIPT_SERIAL_KEY";

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
            serial_key_file: config.serial_key_file.map(|file| root.join(file)),
            probe: config.probe,
            chip: config.chip,
            port: config.port,
            baud: config.baud,
            target_dir: metadata.target_directory.into_std_path_buf(),
            manifest,
            root,
        })
    }

    /// The serial agent's key: `BLUESCRIPT_SERIAL_KEY` if set, else the
    /// project's key file, else none (frames are not authenticated).
    pub fn serial_key(&self) -> Result<Option<bluescript_serial_agent::Key>> {
        let variable = std::env::var(SERIAL_KEY_VARIABLE).ok();
        read_serial_key(
            variable.as_deref(),
            self.serial_key_file.as_deref(),
            |path| self.display_path(path),
        )
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

/// The key from the environment variable's `variable` if not empty, else
/// from `file`; `display` shows a path to the user.
fn read_serial_key(
    variable: Option<&str>,
    file: Option<&Path>,
    display: impl Fn(&Path) -> String,
) -> Result<Option<bluescript_serial_agent::Key>> {
    let (text, origin) = match (variable.filter(|text| !text.trim().is_empty()), file) {
        (Some(text), _) => (text.to_string(), format!("`{SERIAL_KEY_VARIABLE}`")),
        (None, Some(file)) => (
            std::fs::read_to_string(file).with_context(|| {
                format!(
                    "cannot read the serial key file `{}` (`serial-key-file` in [package.metadata.bluescript])",
                    display(file)
                )
            })?,
            format!("`{}`", display(file)),
        ),
        (None, None) => return Ok(None),
    };
    match bluescript_serial_agent::key_from_hex(&text) {
        Some(key) => Ok(Some(key)),
        None => bail!(
            "the serial key in {origin} is not 32 hexadecimal digits (128 bits); make one with e.g. `openssl rand -hex 16`"
        ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serial_key_comes_from_the_variable_or_the_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("serial.key");
        let display = |path: &Path| path.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(read_serial_key(None, None, display).unwrap(), None);
        let error = read_serial_key(None, Some(&file), display).unwrap_err();
        assert!(format!("{error:#}").contains("cannot read the serial key file `serial.key`"));
        std::fs::write(&file, "00112233445566778899aabbccddeeff\n").unwrap();
        let key = read_serial_key(None, Some(&file), display)
            .unwrap()
            .unwrap();
        assert_eq!((key[0], key[15]), (0x00, 0xff));
        // The variable overrides the file, unless empty.
        let from_variable = "ffeeddccbbaa99887766554433221100";
        let key = read_serial_key(Some(from_variable), Some(&file), display)
            .unwrap()
            .unwrap();
        assert_eq!(key[0], 0xff);
        assert_eq!(
            read_serial_key(Some(" "), Some(&file), display)
                .unwrap()
                .unwrap()[0],
            0
        );
        std::fs::write(&file, "not a key").unwrap();
        let error = read_serial_key(None, Some(&file), display)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`serial.key` is not 32 hexadecimal digits"),
            "{error}"
        );
    }
}
