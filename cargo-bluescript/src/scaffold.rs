//! `cargo bluescript new`: a project from a board template.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// A template file: its path in the new project and its text, in which
/// `{{name}}` and `{{runtime_path}}` are replaced.
struct TemplateFile {
    path: &'static str,
    text: &'static str,
}

macro_rules! template {
    ($board:literal: $($source:literal => $path:literal),* $(,)?) => {
        &[$(TemplateFile {
            path: $path,
            text: include_str!(concat!("../../templates/", $board, "/", $source)),
        }),*]
    };
}

const QEMU_M4: &[TemplateFile] = template!("qemu-m4":
    "Cargo.toml.tmpl" => "Cargo.toml",
    ".cargo/config.toml" => ".cargo/config.toml",
    ".gitignore" => ".gitignore",
    ".vscode/settings.json" => ".vscode/settings.json",
    "build.rs" => "build.rs",
    "memory.x" => "memory.x",
    "src/main.rs" => "src/main.rs",
    "src/led.rs" => "src/led.rs",
    "scripts/main.bs" => "scripts/main.bs",
    "tsconfig.json" => "tsconfig.json",
    "bluescript.d.ts" => "bluescript.d.ts",
);

fn template_for(board: &str) -> Result<&'static [TemplateFile]> {
    match board {
        "qemu-m4" => Ok(QEMU_M4),
        other => bail!("unknown board `{other}`; known boards: qemu-m4"),
    }
}

/// The runtime crate this tool was built with, which new projects use.
fn runtime_path() -> Result<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bs-runtime");
    path.canonicalize().with_context(|| {
        format!(
            "the BlueScript runtime is not at `{}`; run this tool from its source checkout",
            path.display()
        )
    })
}

pub fn new_project(path: &Path, board: &str) -> Result<String> {
    let files = template_for(board)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("`{}` does not end in a project name", path.display()))?
        .to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        bail!("`{name}` is not a valid package name: use letters, digits, `-` and `_`, not starting with a digit");
    }
    if path.exists() {
        bail!("destination `{}` already exists", path.display());
    }
    let runtime = runtime_path()?;
    for file in files {
        let target = path.join(file.path);
        std::fs::create_dir_all(target.parent().expect("template paths have a parent"))?;
        let text = file
            .text
            .replace("{{name}}", &name)
            .replace("{{runtime_path}}", &runtime.display().to_string());
        std::fs::write(&target, text)
            .with_context(|| format!("cannot write `{}`", target.display()))?;
    }
    Ok(name)
}
