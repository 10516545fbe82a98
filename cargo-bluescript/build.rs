//! Embeds every board template (`templates/<board>/`, each file) in the
//! binary, so that `cargo bluescript new` needs no source checkout for them
//! and a new template needs no code. The files of `templates/common/` are
//! part of every template, unless the board has its own file of that path.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
    // A directory: cargo looks at every file under it.
    println!("cargo:rerun-if-changed={}", templates.display());
    let common = templates.join("common");
    let mut boards: Vec<PathBuf> = fs::read_dir(&templates)
        .expect("the templates directory is next to this crate")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir() && *path != common)
        .collect();
    boards.sort();
    let mut code = String::from("&[\n");
    for board in &boards {
        // Relative path -> file; the board's own files replace common ones.
        let mut files = BTreeMap::new();
        for dir in [&common, board] {
            let mut found = Vec::new();
            if dir.is_dir() {
                files_under(dir, &mut found);
            }
            for file in found {
                let relative = file.strip_prefix(dir).unwrap().to_str().unwrap().to_owned();
                files.insert(relative, file);
            }
        }
        let name = board.file_name().unwrap().to_str().unwrap();
        writeln!(code, "    ({name:?}, &[").unwrap();
        for (relative, file) in files {
            let absolute = file.canonicalize().unwrap();
            writeln!(
                code,
                "        ({relative:?}, include_bytes!({:?}) as &[u8]),",
                absolute.to_str().unwrap()
            )
            .unwrap();
        }
        code.push_str("    ]),\n");
    }
    code.push_str("]\n");
    let out = Path::new(&env::var_os("OUT_DIR").unwrap()).join("templates.rs");
    fs::write(out, code).unwrap();
}

fn files_under(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, files);
        } else {
            files.push(path);
        }
    }
}
