//! Building the firmware image: compile the scripts to Rust, then let cargo
//! build the firmware crate around them.

use crate::project::{Project, SERIAL_KEY_VARIABLE};
use crate::shadow::Shadow;
use crate::toolchain;
use anyhow::{bail, Context, Result};
use bluescript_compiler::codegen::{generate_image, image_slots, Calls};
use bluescript_compiler::diagnostic::{Diagnostic, SourceFile};
use bluescript_compiler::exports::{exports_in_source, Export};
use bluescript_compiler::{self as compiler, fingerprint, ir, Loader, Scripts};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The scripts do not compile: what the compiler found, for the front end
/// to render.
#[derive(Debug, Clone)]
pub struct ScriptErrors {
    /// The main script's name, as users know it (`scripts/main.bs`).
    pub main: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl ScriptErrors {
    /// Each diagnostic with the code it points at, then a summary line, as
    /// rustc prints them; in colour if `color`.
    pub fn render(&self, color: bool) -> String {
        let count = self.diagnostics.len();
        let mut rendered: Vec<String> = self
            .diagnostics
            .iter()
            .map(|d| d.render_in(color).to_string())
            .collect();
        rendered.push(format!(
            "error: could not compile `{}` due to {count} previous error{}",
            self.main,
            if count == 1 { "" } else { "s" }
        ));
        rendered.join("\n\n")
    }
}

impl std::fmt::Display for ScriptErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for ScriptErrors {}

/// Reads the scripts of a project: names as users know them (relative to
/// the project root), read from the disk.
struct ProjectFiles<'p>(&'p Project);

impl Loader for ProjectFiles<'_> {
    fn load(&self, name: &str) -> std::result::Result<Option<String>, String> {
        match std::fs::read_to_string(self.0.root.join(name)) {
            Ok(text) => Ok(Some(text)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error.to_string()),
        }
    }
}

/// Reads and checks the main script, and the scripts it imports, against
/// `exports`. Returns the main script's name and the program.
pub fn compile_scripts(project: &Project, exports: &[Export]) -> Result<(String, ir::Program)> {
    with_scripts(project, |scripts| {
        match compiler::check_scripts(scripts, exports) {
            Ok(program) => Ok((scripts.main.name.clone(), program)),
            Err(diagnostics) => Err(ScriptErrors {
                main: scripts.main.name.clone(),
                diagnostics,
            }
            .into()),
        }
    })?
}

/// Calls `f` with the project's scripts: the main script read, the files
/// it imports read when the compiler asks.
pub fn with_scripts<R>(project: &Project, f: impl FnOnce(&Scripts<'_>) -> R) -> Result<R> {
    let text = std::fs::read_to_string(&project.main_script)
        .with_context(|| format!("cannot read `{}`", project.main_script.display()))?;
    let scripts = Scripts {
        main: SourceFile {
            name: project.display_path(&project.main_script),
            text,
        },
        dir: project.display_path(&project.scripts_dir),
        loader: &ProjectFiles(project),
    };
    Ok(f(&scripts))
}

/// Finds `#[bluescript::export]` functions in the firmware crate's sources.
pub fn scan_firmware_sources(src_dir: &Path) -> Result<Vec<Export>> {
    let mut exports = Vec::new();
    let mut files = Vec::new();
    files_under(src_dir, &mut files)?;
    files.retain(|path| path.extension().is_some_and(|e| e == "rs"));
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        exports.extend(exports_in_source(&text));
    }
    Ok(exports)
}

/// Every file below `dir`, recursively.
pub fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            files_under(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

pub struct Image {
    pub elf: PathBuf,
    pub shadow: Shadow,
}

/// Where cargo's messages go while it builds the firmware (its progress, and
/// rustc's diagnostics for the drivers), line by line: the front end shows
/// them.
pub trait BuildLog {
    /// Whether cargo may colour its messages.
    fn color(&self) -> bool {
        false
    }

    fn line(&mut self, line: &str);
}

/// Compiles the scripts and builds the firmware: nothing touches a device.
pub fn build(project: &Project, release: bool, log: &mut dyn BuildLog) -> Result<Image> {
    toolchain::ensure_target_installed(&project.root, project.board)?;
    let exports = scan_firmware_sources(&project.root.join("src"))?;
    let (main_name, program) = compile_scripts(project, &exports)?;
    let slots = image_slots(&program);
    let calls = if release { Calls::Direct } else { Calls::Slots };
    let placeholder = generate_image(&program, &slots, &exports, 0, &main_name, calls);
    // Same scripts, same exports: same build id.
    let build_id = (fingerprint(placeholder.as_bytes()) as u32) | 1;
    let code = generate_image(&program, &slots, &exports, build_id, &main_name, calls);

    let state_dir = project.state_dir();
    std::fs::create_dir_all(&state_dir)?;
    let generated = state_dir.join("scripts.rs");
    write_if_changed(&generated, &code)?;
    write_typescript_declarations(&project.root, &exports)?;

    let elf = cargo_build(project, &generated, release, log)?;
    // The shadow machine links patches against a copy, so that a later
    // `cargo build` cannot change the image it describes.
    let image = state_dir.join("image.elf");
    std::fs::copy(&elf, &image).with_context(|| format!("cannot copy `{}`", elf.display()))?;
    let slot_count = program.functions.len();
    let mut shadow = Shadow::from_image(&image, &program, &slots, calls, build_id)?;
    if slot_count > shadow.runtime.slot_count as usize {
        bail!(
            "the scripts have {slot_count} functions (arrow functions included), but the runtime's \
             function table holds {}",
            shadow.runtime.slot_count
        );
    }
    shadow.firmware_fingerprint = firmware_fingerprint(project)?;
    shadow.patchable = calls == Calls::Slots;
    let in_image: Vec<String> = shadow.exports.iter().map(Export::record).collect();
    let missing: Vec<String> = exports
        .iter()
        .map(Export::record)
        .filter(|record| !in_image.contains(record))
        .collect();
    if !missing.is_empty() {
        bail!(
            "the firmware image lacks the signature records of {}: is `#[bluescript::export]` applied through another macro?",
            missing.join(", ")
        );
    }
    shadow.save(&state_dir)?;
    Ok(Image { elf: image, shadow })
}

/// A fingerprint of everything of the firmware crate but its scripts: the
/// Rust sources, the manifest and the build files.
pub fn firmware_fingerprint(project: &Project) -> Result<u64> {
    let mut files = Vec::new();
    files_under(&project.root.join("src"), &mut files)?;
    for name in ["Cargo.toml", "build.rs", "memory.x", ".cargo/config.toml"] {
        let path = project.root.join(name);
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    let mut contents = Vec::new();
    for file in files {
        contents.extend_from_slice(file.to_string_lossy().as_bytes());
        contents.extend(
            std::fs::read(&file).with_context(|| format!("cannot read `{}`", file.display()))?,
        );
    }
    Ok(fingerprint(&contents))
}

/// Avoids touching the file (and so rebuilding the firmware) when the
/// scripts did not change.
fn write_if_changed(path: &std::path::Path, contents: &str) -> Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() != Some(contents) {
        std::fs::write(path, contents)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    Ok(())
}

fn cargo_build(
    project: &Project,
    generated: &std::path::Path,
    release: bool,
    log: &mut dyn BuildLog,
) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&project.root)
        .arg("build")
        .arg("--manifest-path")
        .arg(&project.manifest)
        .arg("--message-format=json-render-diagnostics")
        .arg(if log.color() {
            "--color=always"
        } else {
            "--color=never"
        })
        .env("BLUESCRIPT_SCRIPTS", generated)
        .env("CARGO_TARGET_DIR", &project.target_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(size) = &project.heap_size {
        command.env("BLUESCRIPT_HEAP_SIZE", size);
    }
    // The device's serial agent refuses frames not authenticated with it.
    if let Some(key) = project.serial_key()? {
        let hex: String = key.iter().map(|byte| format!("{byte:02x}")).collect();
        command.env(SERIAL_KEY_VARIABLE, hex);
    }
    if release {
        command.arg("--release");
    }
    let mut child = command.spawn().context("cannot run cargo")?;
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    // Both pipes must be drained at once, or cargo blocks on the full one.
    let artifacts = std::thread::spawn(move || {
        let mut executable = None;
        for message in cargo_metadata::Message::parse_stream(stdout) {
            // The firmware crate has one binary: the last executable built.
            if let Ok(cargo_metadata::Message::CompilerArtifact(artifact)) = message {
                if let Some(path) = artifact.executable {
                    executable = Some(path.into_std_path_buf());
                }
            }
        }
        executable
    });
    let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut line = Vec::new();
    while stderr.read_until(b'\n', &mut line)? > 0 {
        let text = String::from_utf8_lossy(&line);
        log.line(text.trim_end_matches(['\n', '\r']));
        line.clear();
    }
    let executable = artifacts
        .join()
        .map_err(|_| anyhow::anyhow!("reading cargo's messages failed"))?;
    let status = child.wait()?;
    if !status.success() {
        bail!("building the firmware failed (see cargo's messages above)");
    }
    executable.context("cargo built no firmware executable")
}

/// The editor's view of the built-ins, ahead of the drivers' declarations.
const TYPESCRIPT_PRELUDE: &str = "\
// Declarations of the BlueScript built-ins and of this firmware's drivers,
// for editors (the TypeScript language service). They do not affect the
// build: `cargo bluescript build` type-checks scripts itself, and writes
// this file anew from the `#[bluescript::export]` functions of the firmware.

type integer = number;
type float = number;
type int32 = number;

declare function print(value: any): void;

declare const console: {
  log(...values: any[]): void;
  error(...values: any[]): void;
};

declare const time: {
  /** Milliseconds since start. */
  now(): float;
  /** Sleeps; timers do not fire meanwhile. */
  delay(ms: integer): void;
};

declare function setInterval(callback: () => void, ms: integer): integer;
declare function setTimeout(callback: () => void, ms: integer): integer;
declare function clearInterval(id: integer): void;
declare function clearTimeout(id: integer): void;

// The firmware's drivers:
";

/// Keeps the editor's view of the drivers in step with the firmware: the
/// project's `bluescript.d.ts`, written by `new` and by every build.
pub fn write_typescript_declarations(project_root: &Path, exports: &[Export]) -> Result<()> {
    let path = project_root.join("bluescript.d.ts");
    let mut text = String::from(TYPESCRIPT_PRELUDE);
    let ts = |export: &Export| {
        let params: Vec<String> = export
            .signature
            .params
            .iter()
            .enumerate()
            .map(|(i, ty)| {
                let name = export
                    .param_names
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("arg{i}"));
                format!("{name}: {}", typescript_type(*ty))
            })
            .collect();
        format!(
            "function {}({}): {};",
            export.name,
            params.join(", "),
            typescript_type(export.signature.ret)
        )
    };
    for export in exports.iter().filter(|e| e.module.is_none()) {
        text.push_str(&format!("declare {}\n", ts(export)));
    }
    let mut modules: Vec<&str> = exports.iter().filter_map(|e| e.module.as_deref()).collect();
    modules.sort();
    modules.dedup();
    for module in modules {
        text.push_str(&format!("\ndeclare module '{module}' {{\n"));
        for export in exports
            .iter()
            .filter(|e| e.module.as_deref() == Some(module))
        {
            text.push_str(&format!("  export {}\n", ts(export)));
        }
        text.push_str("}\n");
    }
    write_if_changed(&path, &text)
}

fn typescript_type(ty: ir::Ty) -> &'static str {
    match ty {
        ir::Ty::Integer | ir::Ty::Enum(_) => "integer",
        ir::Ty::Int32 => "int32",
        ir::Ty::Float => "float",
        ir::Ty::Boolean => "boolean",
        ir::Ty::Void => "void",
        ir::Ty::String => "string",
        _ => "any",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_rust_files_below_the_source_folder_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("drivers")).unwrap();
        std::fs::write(
            dir.path().join("drivers/led.rs"),
            "#[bluescript::export]\nfn led_set(on: bool) {}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("adc.rs"),
            "#[bluescript::export(module = \"adc\")]\nfn read(pin: i32) -> f32 { 0.0 }\n",
        )
        .unwrap();
        // Not Rust: not scanned, even if it looks like an export.
        std::fs::write(
            dir.path().join("notes.txt"),
            "#[bluescript::export]\nfn ghost() {}\n",
        )
        .unwrap();
        let exports = scan_firmware_sources(dir.path()).unwrap();
        let records: Vec<_> = exports.iter().map(Export::record).collect();
        assert_eq!(
            records,
            ["adc.read(integer):float", "led_set(boolean):void"]
        );
    }
}
