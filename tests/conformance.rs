//! Conformance: small programs whose behaviour LANGUAGE.md fixes, run on
//! the emulated device, and programs the compiler must refuse with a located
//! diagnostic. The programs and the conventions of their expectation files
//! are in `tests/conformance/` (see its README.md).
//!
//! The programs that run share one project and run one after another, so
//! that each run only rebuilds the small firmware crate; the refused ones
//! only need `cargo bluescript check`. All failures are reported together at
//! the end. `BS_CONFORMANCE=<text>` runs only the programs whose name
//! contains `<text>`.
//!
//! The programs run on the tests' board (`BS_BOARD`, by default the default
//! board). The boards of [`FULL_SUITE_BOARDS`] run them all; the others run
//! the slice listed in `tests/conformance/slice.txt`.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use support::{text, tool, Project};

/// The first build compiles the firmware's dependencies.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);
/// Every program finishes within a second; this only stops a hung one.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
const CHECK_TIMEOUT: Duration = Duration::from_secs(60);

/// The boards that run every program; the others run the slice.
const FULL_SUITE_BOARDS: &[&str] = &["qemu-m4", "qemu-rv32"];

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance")
}

/// The names of `slice.txt` that `board` runs: one a line, `#` starts a
/// comment, and `!<board>` after a name leaves it out on that board.
fn slice(board: &str) -> Vec<String> {
    let path = conformance_dir().join("slice.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter_map(|line| {
            let mut words = line.split('#').next().unwrap().split_whitespace();
            let name = words.next()?;
            let left_out = words.any(|word| word.strip_prefix('!') == Some(board));
            (!left_out).then(|| name.to_string())
        })
        .collect()
}

/// The programs of `dir`, sorted, restricted by `BS_CONFORMANCE`: its
/// `*.bs` files, and its directories that hold a `main.bs` (a program of
/// several files); only those of `only`, if given.
fn programs(dir: &Path, only: Option<&[String]>) -> Vec<PathBuf> {
    let filter = std::env::var("BS_CONFORMANCE").unwrap_or_default();
    let mut programs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension().is_some_and(|e| e == "bs") || path.join("main.bs").is_file()
        })
        .filter(|path| name(path).contains(&filter))
        .filter(|path| only.is_none_or(|only| only.contains(&name(path))))
        .collect();
    programs.sort();
    if let Some(only) = only {
        let names: Vec<String> = programs.iter().map(|p| name(p)).collect();
        let unknown: Vec<&String> = only
            .iter()
            .filter(|wanted| wanted.contains(&filter) && !names.contains(wanted))
            .collect();
        assert!(unknown.is_empty(), "no such programs: {unknown:?}");
    }
    if filter.is_empty() {
        assert!(!programs.is_empty(), "no programs in {}", dir.display());
    }
    programs
}

fn name(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The main script of a program.
fn main_script(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("main.bs")
    } else {
        path.to_path_buf()
    }
}

/// Makes the program's files the project's scripts: `<name>.bs` becomes
/// `scripts/main.bs`; the files of a directory `<name>/` are copied into
/// `scripts/` as they are. Nothing of the previous program is left.
fn install(project: &Project, path: &Path) -> Result<(), String> {
    fn copy(from: &Path, to: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let target = to.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                copy(&entry.path(), &target)?;
            } else {
                std::fs::copy(entry.path(), target)?;
            }
        }
        Ok(())
    }
    let scripts = project.root.join("scripts");
    let _ = std::fs::remove_dir_all(&scripts);
    let result = if path.is_dir() {
        copy(path, &scripts)
    } else {
        std::fs::create_dir_all(&scripts)
            .and_then(|()| std::fs::copy(path, scripts.join("main.bs")).map(drop))
    };
    result.map_err(|e| format!("cannot install the program's scripts: {e}"))
}

struct Finished {
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Finished {
    fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    fn status_text(&self) -> String {
        match self.status {
            Some(status) => status.to_string(),
            None => format!("killed after {:.0?}", self.elapsed),
        }
    }
}

/// Runs `command` to completion, or kills it after `timeout` (`status` is
/// then `None`).
fn finish(mut command: Command, timeout: Duration) -> Finished {
    let start = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tool starts");
    let collect = |mut stream: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = stream.read_to_end(&mut bytes);
            text(&bytes)
        })
    };
    let stdout = collect(Box::new(child.stdout.take().unwrap()));
    let stderr = collect(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the tool") {
            break Some(status);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Finished {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        elapsed: start.elapsed(),
    }
}

/// The last `n` lines of `text`, indented.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(n);
    lines[skip..].iter().map(|l| format!("    {l}\n")).collect()
}

/// A line diff (longest common subsequence): `-` expected, `+` actual.
fn diff(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let mut common = vec![vec![0usize; a.len() + 1]; e.len() + 1];
    for i in (0..e.len()).rev() {
        for j in (0..a.len()).rev() {
            common[i][j] = if e[i] == a[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < e.len() || j < a.len() {
        if i < e.len() && j < a.len() && e[i] == a[j] {
            out.push_str(&format!("      {}\n", e[i]));
            i += 1;
            j += 1;
        } else if j < a.len() && (i == e.len() || common[i][j + 1] >= common[i + 1][j]) {
            out.push_str(&format!("    + {}\n", a[j]));
            j += 1;
        } else {
            out.push_str(&format!("    - {}\n", e[i]));
            i += 1;
        }
    }
    if e == a {
        // Same lines: the difference is in line endings or the final newline.
        out.push_str(&format!(
            "    (the lines are equal; expected {expected:?}, got {actual:?})\n"
        ));
    }
    out
}

/// Builds and runs one program; `Err` describes every way it went wrong.
fn run_program(project: &Project, path: &Path) -> Result<Duration, String> {
    let name = name(path);
    let expected_stdout = read(&path.with_extension("stdout"));
    let expected_stderr: Vec<String> = read(&path.with_extension("stderr"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let must_fail = expected_stderr
        .iter()
        .any(|l| l.starts_with("run-time error:"));
    install(project, path)?;

    let build = finish(tool(&["build"], &project.root), BUILD_TIMEOUT);
    if !build.success() {
        return Err(format!(
            "the firmware does not build ({}); stderr ends with:\n{}",
            build.status_text(),
            tail(&build.stderr, 40)
        ));
    }
    let run = finish(tool(&["run"], &project.root), RUN_TIMEOUT);

    let mut problems = Vec::new();
    match &expected_stdout {
        None => problems.push(format!(
            "{name}.stdout is missing; the program printed:\n{}",
            tail(&run.stdout, usize::MAX)
        )),
        Some(expected) if *expected != run.stdout => problems.push(format!(
            "stdout differs (- {name}.stdout, + actual):\n{}",
            diff(expected, &run.stdout)
        )),
        Some(_) => {}
    }
    for needle in &expected_stderr {
        if !run.stderr.contains(needle.as_str()) {
            problems.push(format!("stderr lacks `{needle}`"));
        }
    }
    match (run.status, must_fail) {
        (None, _) => problems.push(format!("did not finish within {RUN_TIMEOUT:?}")),
        (Some(status), false) if !status.success() => {
            problems.push(format!("exited with {status}, expected success"))
        }
        (Some(status), true) if status.success() => problems
            .push("exited successfully, expected a failure (a run-time error is expected)".into()),
        _ => {}
    }
    if problems.is_empty() {
        return Ok(build.elapsed + run.elapsed);
    }
    let mut report = problems.join("\n  ");
    report.push_str(&format!(
        "\n  exit: {}; stderr of the run:\n{}",
        run.status_text(),
        tail(&run.stderr, 20)
    ));
    Err(report)
}

/// `// error: <message>` and `// at: <line>:<col>` at the top of a program
/// the compiler must refuse (`// at: <file>:<line>:<col>` for a diagnostic
/// in another file of the program than `main.bs`).
fn rejection_header(source: &str) -> Result<(String, String), String> {
    let mut message = None;
    let mut at = None;
    for line in source.lines().take_while(|l| l.starts_with("//")) {
        if let Some(m) = line.strip_prefix("// error: ") {
            message = Some(m.trim().to_string());
        } else if let Some(a) = line.strip_prefix("// at: ") {
            at = Some(a.trim().to_string());
        }
    }
    match (message, at) {
        (Some(message), Some(at)) => Ok((message, at)),
        _ => Err("the header lacks `// error: <message>` or `// at: <line>:<col>`".into()),
    }
}

fn check_rejection(project: &Project, path: &Path) -> Result<Duration, String> {
    let source = read(&main_script(path)).ok_or("cannot read the program")?;
    let (message, at) = rejection_header(&source)?;
    install(project, path)?;
    let check = finish(tool(&["check"], &project.root), CHECK_TIMEOUT);
    let location = if at.starts_with(|c: char| c.is_ascii_digit()) {
        format!("--> scripts/main.bs:{at}")
    } else {
        format!("--> scripts/{at}")
    };
    let lines: Vec<&str> = check.stderr.lines().collect();
    // The message, and the location on the line right below it.
    let located = lines.windows(2).any(|pair| {
        pair[0]
            .strip_prefix("error: ")
            .is_some_and(|m| m.contains(&message))
            && pair[1].trim() == location
    });
    // One mistake, one diagnostic: no cascade of errors after the first.
    let diagnostics = lines
        .iter()
        .filter(|line| line.starts_with("error: ") && !line.starts_with("error: could not compile"))
        .count();
    let mut problems = Vec::new();
    if diagnostics > 1 {
        problems.push(format!("{diagnostics} diagnostics, expected exactly one"));
    }
    if check.success() || check.status.is_none() {
        problems.push(format!(
            "`cargo bluescript check` {}, expected it to fail",
            if check.success() {
                "succeeded".to_string()
            } else {
                check.status_text()
            }
        ));
    }
    if !located {
        problems.push(format!("no diagnostic `error: {message}` at `{location}`"));
    }
    if problems.is_empty() {
        return Ok(check.elapsed);
    }
    Err(format!(
        "{}\n  stderr:\n{}",
        problems.join("\n  "),
        tail(&check.stderr, 30)
    ))
}

/// Keeps two test processes (say, two `cargo test` in one checkout) from
/// running programs at the same time: projects of the same name share their
/// firmware image and state in the shared target directory.
#[cfg(target_os = "linux")]
fn lock_shared_target() -> std::fs::File {
    use std::os::fd::AsRawFd;
    let dir = support::shared_target_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let file = std::fs::File::create(dir.join("conformance.lock")).unwrap();
    // SAFETY: flock on a descriptor this function owns; the lock goes with it.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(locked, 0, "cannot lock {}", dir.display());
    file
}

#[cfg(not(target_os = "linux"))]
fn lock_shared_target() {}

/// Runs `each` on every program of `dir` in a project named `project`, and
/// fails with all the failures.
fn conform(
    dir: &Path,
    only: Option<&[String]>,
    project: &str,
    what: &str,
    each: impl Fn(&Project, &Path) -> Result<Duration, String>,
) {
    let start = Instant::now();
    let project = Project::new(project);
    let programs = programs(dir, only);
    let mut failures = Vec::new();
    for path in &programs {
        let name = name(path);
        match each(&project, path) {
            Ok(elapsed) => eprintln!("conformance: {what} {name} ok ({elapsed:.1?})"),
            Err(report) => {
                eprintln!("conformance: {what} {name} FAILED");
                failures.push(format!("{name} ({}):\n  {report}", path.display()));
            }
        }
    }
    eprintln!(
        "conformance: {} {what}s on {} in {:.1?}",
        programs.len(),
        project.board,
        start.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of {} conformance {what}s failed:\n\n{}",
        failures.len(),
        programs.len(),
        failures.join("\n\n")
    );
}

#[test]
fn programs_print_what_the_language_specifies() {
    let _lock = lock_shared_target();
    let board = support::board();
    let slice = (!FULL_SUITE_BOARDS.contains(&board.name())).then(|| slice(board.name()));
    conform(
        &conformance_dir(),
        slice.as_deref(),
        "conformance",
        "program",
        run_program,
    );
}

#[test]
fn unsupported_programs_are_refused_with_a_located_diagnostic() {
    // `check` builds nothing: no lock needed.
    conform(
        &conformance_dir().join("reject"),
        None,
        "conformance-reject",
        "rejection",
        check_rejection,
    );
}

/// Every board without the full suite runs at least 40 programs, covering
/// floats, the collector, closures, classes and run-time errors.
#[test]
fn the_slice_names_at_least_40_programs_of_every_area() {
    let boards = cargo_bluescript::board::Board::emulated()
        .filter(|board| !FULL_SUITE_BOARDS.contains(&board.name()));
    for board in boards {
        let slice = slice(board.name());
        assert!(slice.len() >= 40, "{board} runs {} programs", slice.len());
        for name in &slice {
            let path = conformance_dir().join(name);
            assert!(
                path.with_extension("bs").is_file() || path.join("main.bs").is_file(),
                "slice.txt names `{name}`, which is no program"
            );
        }
        for area in ["float_", "gc_", "closure_", "class_", "error_"] {
            let count = slice.iter().filter(|name| name.starts_with(area)).count();
            assert!(count >= 5, "{board} runs {count} `{area}` programs");
        }
    }
}
