//! Embeds every board template (`templates/<board>/`, each file) in the
//! binary, so that `cargo bluescript new` needs no source checkout for them
//! and a new template needs no code.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
    // A directory: cargo looks at every file under it.
    println!("cargo:rerun-if-changed={}", templates.display());
    let mut boards: Vec<PathBuf> = fs::read_dir(&templates)
        .expect("the templates directory is next to this crate")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    boards.sort();
    let mut code = String::from("&[\n");
    for board in &boards {
        let mut files = Vec::new();
        files_under(board, &mut files);
        files.sort();
        let name = board.file_name().unwrap().to_str().unwrap();
        writeln!(code, "    ({name:?}, &[").unwrap();
        for file in files {
            let relative = file.strip_prefix(board).unwrap().to_str().unwrap();
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
