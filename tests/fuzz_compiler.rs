//! Fuzzing the compiler with random programs (`fuzz/generate.rs`: built from
//! the grammar, mostly type-correct, some with one mistake) and mutated
//! conformance programs (`fuzz/mutate.rs`). For every program:
//!
//! - the compiler does not panic;
//! - a rejection is diagnostics, each placed in the file (a valid line and
//!   column) and rendered `error: …` with `--> file:line:col` right below;
//! - every statement of an accepted program's IR points at its own code;
//! - an accepted program builds: its image module (as `cargo bluescript
//!   build` compiles it into the firmware crate, against the device runtime)
//!   and a patch of all its functions (as `watch` compiles one) pass rustc
//!   for the device. Many programs go to one rustc run, each a module of one
//!   crate, checked with `--emit=metadata` (type and borrow checking, what
//!   `cargo check` does; symbol clashes between programs are not errors
//!   there).
//!
//! Which programs are accepted is not asserted: the language changes.
//!
//! `BS_FUZZ_CASES=<n>` (default 1500) or `BS_FUZZ_SECONDS=<s>` sets how many
//! programs run, `BS_FUZZ_SEED=<n>` the seed (default fixed, so CI is
//! deterministic). A failure prints the seed, the case and a reproducer
//! made smaller by deleting lines; `BS_FUZZ_CASE=<n>` runs that case alone.

#[path = "fuzz/generate.rs"]
mod generate;
#[path = "fuzz/mutate.rs"]
mod mutate;
mod support;

use bluescript_compiler::codegen::{generate_image, generate_patch, image_slots, Calls};
use bluescript_compiler::diagnostic::{Diagnostic, SourceFile, Span};
use bluescript_compiler::exports::Export;
use bluescript_compiler::{self as compiler, ir};
use cargo_bluescript::firmware::scan_firmware_sources;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const MAIN: &str = "scripts/main.bs";
/// Accepted programs per rustc run.
const BATCH: usize = 40;
/// Failures printed in full.
const SHOWN: usize = 5;

#[derive(Clone, Copy, Debug)]
enum Source {
    Generated,
    IllTyped,
    /// A mutation of the conformance program with this index.
    Mutated(usize),
}

struct Case {
    index: usize,
    seed: u64,
    source: Source,
    text: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Failure {
    Panic(String),
    BadDiagnostic(String),
    /// An IR statement whose span is not code of its file.
    BadSpan(String),
    Rustc(String),
}

impl Failure {
    /// Two failures are the same bug when they are of one kind (and, for a
    /// panic, of one message).
    fn same_kind(&self, other: &Failure) -> bool {
        match (self, other) {
            (Failure::Panic(a), Failure::Panic(b)) => first_line(a) == first_line(b),
            (Failure::BadDiagnostic(_), Failure::BadDiagnostic(_)) => true,
            (Failure::BadSpan(_), Failure::BadSpan(_)) => true,
            (Failure::Rustc(_), Failure::Rustc(_)) => true,
            _ => false,
        }
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// Rust code generated for an accepted program: its image module and a
/// patch of all its functions.
struct Generated {
    image: String,
    patch: String,
}

enum Outcome {
    Rejected(usize),
    Accepted(Generated),
}

/// Checks and generates code for one program; `calls` picks the image
/// flavour (development or release).
fn compile(text: &str, exports: &[Export], calls: Calls) -> Result<Outcome, Failure> {
    let file = SourceFile {
        name: MAIN.into(),
        text: text.into(),
    };
    let checked =
        catch_unwind(AssertUnwindSafe(|| compiler::check(&file, exports))).map_err(|payload| {
            Failure::Panic(format!("the checker panicked: {}", message(&payload)))
        })?;
    let program = match checked {
        Ok(program) => program,
        Err(diagnostics) => {
            validate_diagnostics(&diagnostics, text)?;
            return Ok(Outcome::Rejected(diagnostics.len()));
        }
    };
    validate_statement_spans(&program)?;
    catch_unwind(AssertUnwindSafe(|| generate(&program, exports, calls)))
        .map(Outcome::Accepted)
        .map_err(|payload| {
            Failure::Panic(format!(
                "the code generator panicked: {}",
                message(&payload)
            ))
        })
}

fn generate(program: &ir::Program, exports: &[Export], calls: Calls) -> Generated {
    let slots = image_slots(program);
    let functions: Vec<&ir::Function> = program.functions.iter().collect();
    Generated {
        image: generate_image(program, &slots, exports, 1, MAIN, calls),
        patch: generate_patch(program, &functions, &slots, exports, 1, &Default::default()).code,
    }
}

fn message(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

/// Each diagnostic points into the file and renders as the conformance
/// runner (and a user) expects.
/// Every statement of the IR covers code of its file (a debugger's line
/// table is made of them).
fn validate_statement_spans(program: &ir::Program) -> Result<(), Failure> {
    fn walk(program: &ir::Program, statements: &[ir::Stmt]) -> Result<(), Failure> {
        for statement in statements {
            let source = statement.source;
            let Some(file) = program.files.get(source.file as usize) else {
                return Err(Failure::BadSpan(format!("{statement:?} is in no file")));
            };
            let text = file
                .text
                .get(source.span.start as usize..source.span.end as usize)
                .unwrap_or("");
            if text.trim().is_empty() {
                return Err(Failure::BadSpan(format!(
                    "{statement:?} covers no code of {}",
                    file.name
                )));
            }
            match &statement.kind {
                ir::StmtKind::If {
                    then, otherwise, ..
                } => {
                    walk(program, then)?;
                    walk(program, otherwise)?;
                }
                ir::StmtKind::Loop { body, .. } | ir::StmtKind::Block(body) => walk(program, body)?,
                _ => {}
            }
        }
        Ok(())
    }
    walk(program, &program.main)?;
    for function in &program.functions {
        walk(program, &function.body)?;
    }
    Ok(())
}

fn validate_diagnostics(diagnostics: &[Diagnostic], text: &str) -> Result<(), Failure> {
    let bad = |why: String| Err(Failure::BadDiagnostic(why));
    if diagnostics.is_empty() {
        return bad("rejected without a diagnostic".into());
    }
    let lines = text.split('\n').count();
    for diagnostic in diagnostics {
        let Some(file) = &diagnostic.file else {
            return bad(format!("`{}` has no file", diagnostic.message));
        };
        let span = diagnostic.span;
        if span.start > span.end || span.end as usize > file.text.len() {
            return bad(format!(
                "`{}` has span {span:?} outside the file ({} bytes)",
                diagnostic.message,
                file.text.len()
            ));
        }
        let (line, col) = file.line_col(span.start);
        let line_chars = file
            .text
            .split('\n')
            .nth(line - 1)
            .map_or(0, |l| l.chars().count());
        if line > lines || col > line_chars + 1 {
            return bad(format!(
                "`{}` is at {line}:{col}, outside the file",
                diagnostic.message
            ));
        }
        let rendered = catch_unwind(AssertUnwindSafe(|| diagnostic.render().to_string())).map_err(
            |payload| {
                Failure::Panic(format!(
                    "rendering a diagnostic panicked: {}",
                    message(&payload)
                ))
            },
        )?;
        let mut rendered_lines = rendered.lines();
        let title = rendered_lines.next().unwrap_or("");
        let location = rendered_lines.next().unwrap_or("").trim();
        if title != format!("error: {}", first_line(&diagnostic.message))
            || location != format!("--> {}:{line}:{col}", file.name)
        {
            return bad(format!("rendered as\n{rendered}"));
        }
    }
    Ok(())
}

// ----- rustc for the device ------------------------------------------------

/// rustc with the device runtime, as the firmware build has it.
struct DeviceRustc {
    runtime: PathBuf,
    /// The runtime's dependencies: for the device, and the host's
    /// procedural macros.
    deps: [PathBuf; 2],
    dir: tempfile::TempDir,
}

impl DeviceRustc {
    /// Builds a firmware once (shared with the other tests' builds) for the
    /// device runtime's compiled crate.
    fn new() -> DeviceRustc {
        // One build at a time: tests of this file run in parallel, and
        // builds of one project share their state.
        static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _building = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
        let project = support::Project::new("fuzz_compiler");
        project.write_script("print(1)\n");
        let output = support::tool(&["build"], &project.root).output().unwrap();
        assert!(
            output.status.success(),
            "the firmware does not build: {}",
            support::text(&output.stderr)
        );
        // A copy of the compiled runtime and what it needs (the device
        // crates, the host's procedural macros): other tests rebuild the
        // shared target directory while a long run goes on.
        let dir = tempfile::tempdir().unwrap();
        let target = support::shared_target_dir();
        let deps = [dir.path().join("device"), dir.path().join("host")];
        copy_files(
            &target
                .join(support::board().target_triple())
                .join("debug/deps"),
            &deps[0],
            &[".rlib", ".rmeta"],
        );
        copy_files(&target.join("debug/deps"), &deps[1], &[".so"]);
        let runtime = std::fs::read_dir(&deps[0])
            .unwrap()
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| {
                let name = path.file_name().unwrap().to_string_lossy();
                name.starts_with("libbluescript-") && name.ends_with(".rlib")
            })
            .max_by_key(|path| path.metadata().and_then(|m| m.modified()).ok())
            .expect("the device runtime was built");
        DeviceRustc { runtime, deps, dir }
    }

    /// Compiles the programs' code in one crate; returns the rejected ones
    /// (by their index in `programs`) with rustc's errors.
    fn check(&self, programs: &[&Generated]) -> Vec<(usize, String)> {
        let dir = self.dir.path();
        let mut root = String::from("#![no_std]\n#![allow(warnings)]\n");
        for (i, generated) in programs.iter().enumerate() {
            std::fs::write(dir.join(format!("image_{i}.rs")), &generated.image).unwrap();
            // A patch is a crate of its own: its crate attributes go.
            let patch = generated
                .patch
                .strip_prefix("#![no_std]\n#![allow(warnings)]\n")
                .expect("a patch starts with its crate attributes");
            std::fs::write(dir.join(format!("patch_{i}.rs")), patch).unwrap();
            root.push_str(&format!("mod image_{i};\nmod patch_{i};\n"));
        }
        std::fs::write(dir.join("lib.rs"), root).unwrap();
        let output = Command::new("rustc")
            .current_dir(dir)
            .args([
                "--edition=2021",
                "--crate-type=lib",
                "--crate-name=fuzz_batch",
                "--emit=metadata",
                "-Cpanic=abort",
                "--error-format=short",
            ])
            .arg(format!("--target={}", support::board().target_triple()))
            .arg("--extern")
            .arg(format!("bluescript={}", self.runtime.display()))
            .args(
                self.deps
                    .iter()
                    .flat_map(|dir| ["-L".to_string(), format!("dependency={}", dir.display())]),
            )
            .args(["lib.rs", "-o", "batch.rmeta"])
            .output()
            .expect("rustc runs");
        if output.status.success() {
            return Vec::new();
        }
        let errors = String::from_utf8_lossy(&output.stderr).into_owned();
        let mut failed: Vec<(usize, String)> = Vec::new();
        for line in errors.lines().filter(|l| l.contains("error")) {
            let owner = ["image_", "patch_"].iter().find_map(|prefix| {
                let rest = line.strip_prefix(prefix)?;
                rest[..rest.find(".rs")?].parse::<usize>().ok()
            });
            match (owner, failed.iter_mut().find(|f| Some(f.0) == owner)) {
                (Some(_), Some(entry)) => {
                    entry.1.push('\n');
                    entry.1.push_str(line);
                }
                (Some(i), None) => failed.push((i, line.to_string())),
                (None, _) => {}
            }
        }
        if failed.is_empty() {
            // Errors that name no program: blame each one that fails alone.
            if programs.len() == 1 {
                return vec![(0, errors)];
            }
            for (i, generated) in programs.iter().enumerate() {
                if let Some((_, errors)) = self.check(&[generated]).pop() {
                    failed.push((i, errors));
                }
            }
        }
        failed
    }
}

/// Copies the files of `from` whose names end with one of `suffixes`,
/// keeping their modification times (the newest runtime is the one built).
fn copy_files(from: &Path, to: &Path, suffixes: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if suffixes.iter().any(|suffix| name.ends_with(suffix)) {
            let copy = to.join(&name);
            std::fs::copy(entry.path(), &copy).unwrap();
            let modified = entry.metadata().and_then(|m| m.modified()).unwrap();
            std::fs::File::options()
                .write(true)
                .open(&copy)
                .and_then(|file| file.set_modified(modified))
                .unwrap();
        }
    }
}

// ----- the run ---------------------------------------------------------------

struct Settings {
    seed: u64,
    /// The first case and the number of cases.
    first: usize,
    cases: usize,
    deadline: Option<Instant>,
}

fn settings() -> Settings {
    let number = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let seconds = number("BS_FUZZ_SECONDS");
    let only = number("BS_FUZZ_CASE").map(|case| case as usize);
    Settings {
        seed: number("BS_FUZZ_SEED").unwrap_or(0x5eed_b1e5),
        first: only.unwrap_or(0),
        cases: match (only, number("BS_FUZZ_CASES"), seconds) {
            (Some(_), _, _) => 1,
            (None, Some(cases), _) => cases as usize,
            (None, None, Some(_)) => usize::MAX,
            (None, None, None) => 1500,
        },
        deadline: seconds.map(|s| Instant::now() + Duration::from_secs(s)),
    }
}

/// splitmix64: independent seeds for consecutive cases.
fn case_seed(seed: u64, index: usize) -> u64 {
    let mut z = seed.wrapping_add((index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The single-file conformance programs, accepted and refused, except
/// those with embedded Rust (`code` templates), whose mistakes are for
/// rustc to report.
fn corpus() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
    let mut out = Vec::new();
    for dir in [root.clone(), root.join("reject")] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "bs"))
            .collect();
        paths.sort();
        for path in paths {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            if !text.contains('`') {
                out.push((name, text));
            }
        }
    }
    out
}

fn make_case(index: usize, seed: u64, corpus: &[(String, String)]) -> Case {
    let seed = case_seed(seed, index);
    let (source, text) = match index % 4 {
        0 | 1 => (Source::Generated, generate::program(seed, false)),
        2 => (Source::IllTyped, generate::program(seed, true)),
        _ => {
            let which = (seed % corpus.len() as u64) as usize;
            (
                Source::Mutated(which),
                mutate::mutate(&corpus[which].1, seed),
            )
        }
    };
    Case {
        index,
        seed,
        source,
        text,
    }
}

#[derive(Default)]
struct Tally {
    cases: usize,
    accepted: usize,
    rejected: usize,
    /// Rejections of generated programs with one mistake that reported
    /// more than one diagnostic.
    several: usize,
    built: usize,
}

#[test]
fn the_compiler_never_panics_and_what_it_accepts_builds() {
    let settings = settings();
    let started = Instant::now();
    let corpus = corpus();
    let exports = scan_firmware_sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates/common/src"),
    )
    .unwrap();
    let rustc = DeviceRustc::new();
    let setup = started.elapsed();
    // Panics are caught and reported; the default hook would print each.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));

    let watchdog = Watchdog::start();
    let mut tally = Tally::default();
    let mut failures: Vec<(Case, Failure)> = Vec::new();
    let mut pending: Vec<(Case, Generated)> = Vec::new();
    let mut index = settings.first;
    loop {
        let done = index - settings.first >= settings.cases
            || settings.deadline.is_some_and(|d| Instant::now() >= d);
        if pending.len() >= BATCH || (done && !pending.is_empty()) {
            let batch = std::mem::take(&mut pending);
            let code: Vec<&Generated> = batch.iter().map(|(_, g)| g).collect();
            let rejected = rustc.check(&code);
            tally.built += batch.len() - rejected.len();
            let mut batch: Vec<Option<Case>> = batch.into_iter().map(|(c, _)| Some(c)).collect();
            for (i, errors) in rejected {
                let case = batch[i].take().expect("one failure per program");
                failures.push((case, Failure::Rustc(errors)));
            }
        }
        if done {
            break;
        }
        let case = make_case(index, settings.seed, &corpus);
        watchdog.watch(&case);
        index += 1;
        tally.cases += 1;
        let calls = if case.index.is_multiple_of(8) {
            Calls::Direct
        } else {
            Calls::Slots
        };
        match compile(&case.text, &exports, calls) {
            Ok(Outcome::Accepted(generated)) => {
                tally.accepted += 1;
                pending.push((case, generated));
            }
            Ok(Outcome::Rejected(count)) => {
                tally.rejected += 1;
                if count > 1 && matches!(case.source, Source::IllTyped) {
                    tally.several += 1;
                }
            }
            Err(failure) => failures.push((case, failure)),
        }
    }

    watchdog.stop();
    let mut report = format!(
        "fuzz: seed {} (BS_FUZZ_SEED), {} programs in {:.1} s (setup {:.1} s): {} accepted and built by rustc ({} checked), {} rejected ({} of the programs with one mistake got several diagnostics), {} failures",
        settings.seed,
        tally.cases,
        started.elapsed().as_secs_f64(),
        setup.as_secs_f64(),
        tally.accepted,
        tally.built,
        tally.rejected,
        tally.several,
        failures.len()
    );
    for (case, failure) in failures.iter().take(SHOWN) {
        let small = minimize(&case.text, failure, &exports, &rustc);
        let source = match case.source {
            Source::Mutated(which) => format!("a mutation of {}", corpus[which].0),
            Source::Generated => "generated".into(),
            Source::IllTyped => "generated with a mistake".into(),
        };
        report.push_str(&format!(
            "\n\n--- case {} ({source}, case seed {:#x}): {failure:?}\n--- reproducer:\n{small}",
            case.index, case.seed
        ));
    }
    std::panic::set_hook(hook);
    println!("{report}");
    assert!(failures.is_empty(), "{} failures (above)", failures.len());
}

/// A compiler that hangs (or recurses without end) cannot be caught like a
/// panic: a thread reports the program that has run too long, and stops.
struct Watchdog {
    /// The program being compiled, and since when.
    current: std::sync::Arc<std::sync::Mutex<Option<(Instant, String)>>>,
}

impl Watchdog {
    const LIMIT: Duration = Duration::from_secs(60);

    fn start() -> Watchdog {
        let current = std::sync::Arc::new(std::sync::Mutex::new(None));
        let watched = current.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            let current: Option<(Instant, String)> = watched.lock().unwrap().clone();
            if let Some((since, case)) =
                current.filter(|(since, _)| since.elapsed() > Watchdog::LIMIT)
            {
                eprintln!(
                    "fuzz: a program has been compiling for {} s:\n{case}",
                    since.elapsed().as_secs()
                );
                std::process::exit(101);
            }
        });
        Watchdog { current }
    }

    fn watch(&self, case: &Case) {
        *self.current.lock().unwrap() = Some((
            Instant::now(),
            format!(
                "case {} (case seed {:#x}):\n{}",
                case.index, case.seed, case.text
            ),
        ));
    }

    fn stop(&self) {
        *self.current.lock().unwrap() = None;
    }
}

/// Fails in the same way as `text` did.
fn fails_alike(text: &str, failure: &Failure, exports: &[Export], rustc: &DeviceRustc) -> bool {
    let outcome = compile(text, exports, Calls::Slots);
    let found = match outcome {
        Err(found) => found,
        Ok(Outcome::Accepted(generated)) if matches!(failure, Failure::Rustc(_)) => {
            match rustc.check(&[&generated]).pop() {
                Some((_, errors)) => Failure::Rustc(errors),
                None => return false,
            }
        }
        Ok(_) => return false,
    };
    found.same_kind(failure)
}

/// `text` made smaller by deleting lines (and then single tokens of lines)
/// while it fails alike; within a few seconds.
fn minimize(text: &str, failure: &Failure, exports: &[Export], rustc: &DeviceRustc) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut chunk = (lines.len() / 2).max(1);
    while chunk >= 1 && Instant::now() < deadline {
        let mut start = 0;
        let mut removed = false;
        while start < lines.len() && Instant::now() < deadline {
            let mut candidate = lines.clone();
            candidate.drain(start..(start + chunk).min(lines.len()));
            if fails_alike(&candidate.join("\n"), failure, exports, rustc) {
                lines = candidate;
                removed = true;
            } else {
                start += chunk;
            }
        }
        if !removed {
            if chunk == 1 {
                break;
            }
            chunk /= 2;
        }
    }
    lines.join("\n")
}

/// The properties can fail: a misplaced diagnostic, and generated code that
/// rustc rejects, are caught (and the latter blamed on its program).
#[test]
fn the_fuzzer_catches_bad_diagnostics_and_code_rustc_rejects() {
    let text = "let a = 1\n";
    let file = std::sync::Arc::new(SourceFile {
        name: MAIN.into(),
        text: text.into(),
    });
    let inside = Diagnostic::error(Span::new(4, 5), "x").in_file(&file);
    assert_eq!(validate_diagnostics(&[inside], text), Ok(()));
    let outside = Diagnostic::error(Span::new(4, 50), "x").in_file(&file);
    assert!(matches!(
        validate_diagnostics(&[outside], text),
        Err(Failure::BadDiagnostic(_))
    ));
    let unplaced = Diagnostic::error(Span::new(0, 1), "x");
    assert!(validate_diagnostics(&[unplaced], text).is_err());

    let exports = scan_firmware_sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates/common/src"),
    )
    .unwrap();
    let Ok(Outcome::Accepted(good)) = compile("print(1)\n", &exports, Calls::Slots) else {
        panic!("print(1) compiles")
    };
    let broken = Generated {
        image: good.image.replace(
            "mod __bluescript {",
            "mod __bluescript { const BROKEN: u8 = 300u32;",
        ),
        patch: good.patch.clone(),
    };
    let rustc = DeviceRustc::new();
    assert!(rustc.check(&[&good]).is_empty());
    let failed = rustc.check(&[&good, &broken, &good]);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, 1);
    assert!(failed[0].1.contains("mismatched types"), "{}", failed[0].1);
}
