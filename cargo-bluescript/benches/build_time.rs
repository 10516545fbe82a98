//! How long a user waits for rustc on a whole program: `cargo bluescript
//! build` of a program of about 1900 lines of script, on the tests' board.
//!
//! The program is every benchmark of `tests/benchmarks` as a module of its
//! own (classes, closures, loops, recursion: realistic code), each
//! exporting `benchmark`, imported and called by a main script. Three cases,
//! each timed from the command's start to its end (and its CPU time, which
//! other work on the machine changes less):
//! - a fresh project's first build: the dependencies (bs-runtime, cortex-m,
//!   ...) and the firmware crate, in an empty target directory;
//! - a build after a top-level edit of the main script, what `watch` does
//!   to restart the program: the scripts compiled to Rust again and the
//!   firmware crate rebuilt (incrementally, as cargo builds it);
//! - the firmware crate alone, from scratch, its dependencies built: what
//!   a restart costs when rustc's incremental cache helps nothing;
//! - a fresh project's first build in a target directory that another
//!   project's build filled (`CARGO_TARGET_DIR` or cargo's
//!   `build.target-dir` shared by the projects): the dependencies are
//!   reused.
//!
//! `cargo bench -p cargo-bluescript --bench build_time [-- RUNS]`

#[path = "../../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::time::Instant;
use support::{percentile, tool, Project};

const DEFAULT_RUNS: usize = 3;

fn main() {
    let runs = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(DEFAULT_RUNS);
    let benchmarks = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/benchmarks");
    let program = Program::from_benchmarks(&benchmarks);
    println!(
        "build time of a {}-line script program ({} modules) on {}, median of {runs} runs:",
        program.lines(),
        program.modules.len(),
        support::board().name()
    );

    let mut first = Vec::new();
    let mut restart = Vec::new();
    let mut crate_alone = Vec::new();
    let mut shared_target = Vec::new();
    let mut generated = (0, 0);
    for _ in 0..runs {
        let target = tempfile::tempdir().unwrap();
        let project = Project::new("buildtime");
        program.write_to(&project, 0);
        first.push(build(&project, target.path()));
        generated = generated_size(&project, target.path());

        for edit in 1..=runs {
            program.write_to(&project, edit);
            restart.push(build(&project, target.path()));
        }

        remove_firmware_crate_build(&project, target.path());
        crate_alone.push(build(&project, target.path()));

        let second = Project::new("buildtime2");
        program.write_to(&second, 0);
        shared_target.push(build(&second, target.path()));
    }

    println!("{:<60}{:>8}{:>8}", "", "wall s", "CPU s");
    for (name, took) in [
        ("first build of a fresh project (dependencies too)", &first),
        ("restart after a top-level edit (incremental)", &restart),
        (
            "firmware crate alone, from scratch (dependencies built)",
            &crate_alone,
        ),
        (
            "first build, target directory shared with a built project",
            &shared_target,
        ),
    ] {
        let wall: Vec<f64> = took.iter().map(|t| t.wall).collect();
        let cpu: Vec<f64> = took.iter().map(|t| t.cpu).collect();
        println!(
            "{name:<60}{:>8.1}{:>8.1}",
            percentile(&wall, 50.0),
            percentile(&cpu, 50.0)
        );
    }
    println!(
        "generated Rust: {} lines, {} KiB",
        generated.0,
        generated.1 / 1024
    );
}

/// One build's wall-clock and CPU time (its processes', user and system).
#[derive(Clone, Copy)]
struct Took {
    wall: f64,
    cpu: f64,
}

/// `cargo bluescript build` in `project` with the target directory
/// `target`.
fn build(project: &Project, target: &Path) -> Took {
    let cpu_before = children_cpu_seconds();
    let started = Instant::now();
    let output = tool(&["build"], &project.root)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .unwrap();
    let wall = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "build failed: {}",
        support::text(&output.stderr)
    );
    Took {
        wall,
        cpu: children_cpu_seconds() - cpu_before,
    }
}

/// CPU seconds of the finished child processes (and theirs): on a shared
/// machine, the part of a build that other people's work does not change.
fn children_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The firmware crate's own build output and incremental cache gone; its
/// dependencies' kept.
fn remove_firmware_crate_build(project: &Project, target: &Path) {
    let profile = target.join(project.board.target_triple()).join("debug");
    let crate_name = "buildtime";
    for dir in ["deps", "incremental", ".fingerprint", "build"] {
        let Ok(entries) = std::fs::read_dir(profile.join(dir)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with(&format!("{crate_name}-")) {
                if path.is_dir() {
                    std::fs::remove_dir_all(&path).unwrap();
                } else {
                    std::fs::remove_file(&path).unwrap();
                }
            }
        }
    }
    let _ = std::fs::remove_file(profile.join(crate_name));
}

/// Lines and bytes of the Rust that the scripts compiled to.
fn generated_size(project: &Project, target: &Path) -> (usize, usize) {
    let name = project.root.file_name().unwrap();
    let path: PathBuf = target.join("bluescript").join(name).join("scripts.rs");
    let text = std::fs::read_to_string(&path).unwrap();
    (text.lines().count(), text.len())
}

/// The benchmark programs as modules of one program.
struct Program {
    /// (module name, its text)
    modules: Vec<(String, String)>,
}

impl Program {
    fn from_benchmarks(dir: &Path) -> Program {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "bs"))
            .collect();
        files.sort();
        let modules = files
            .iter()
            .map(|path| {
                let name = path.file_stem().unwrap().to_string_lossy().into_owned();
                let text = std::fs::read_to_string(path).unwrap();
                assert!(
                    text.contains("\nfunction benchmark("),
                    "{} has no `function benchmark(`",
                    path.display()
                );
                let text =
                    text.replacen("\nfunction benchmark(", "\nexport function benchmark(", 1);
                (name, text)
            })
            .collect();
        Program { modules }
    }

    /// The main script: imports each module's `benchmark` and calls it once
    /// with an argument that `version` changes (a top-level edit).
    fn main_script(&self, version: usize) -> String {
        let mut text = String::new();
        for (name, _) in &self.modules {
            text.push_str(&format!(
                "import {{ benchmark as run_{name} }} from './{name}'\n"
            ));
        }
        text.push_str(&format!("\nconst rounds: integer = {}\n", version + 1));
        for (name, _) in &self.modules {
            text.push_str(&format!("console.log(\"{name}\", run_{name}(rounds))\n"));
        }
        text
    }

    fn lines(&self) -> usize {
        let modules: usize = self
            .modules
            .iter()
            .map(|(_, text)| text.lines().count())
            .sum();
        modules + self.main_script(0).lines().count()
    }

    fn write_to(&self, project: &Project, version: usize) {
        let scripts = project.root.join("scripts");
        for (name, text) in &self.modules {
            let path = scripts.join(format!("{name}.bs"));
            // Only the main script changes between versions: the modules are
            // written once, so that their files' times stay as they were.
            if !path.exists() {
                std::fs::write(path, text).unwrap();
            }
        }
        project.write_script(&self.main_script(version));
    }
}
