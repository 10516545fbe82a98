//! On a real board, through its debug probe: for a person with the board on
//! the desk. Every test is ignored by default; run them with
//!
//! ```text
//! BLUESCRIPT_BOARD=rp2040 cargo test --test hardware -- --ignored --test-threads=1
//! ```
//!
//! (`BLUESCRIPT_PROBE=VID:PID[:SERIAL]` chooses the probe when several are
//! connected, as `--probe` does.) An ESP board can be reached without its
//! USB-JTAG instead, flashed with espflash over the DevKit's USB-UART
//! bridge and reached through the serial agent on UART0:
//!
//! ```text
//! BLUESCRIPT_BOARD=esp32c3 BLUESCRIPT_TRANSPORT=serial [BLUESCRIPT_PORT=/dev/ttyUSB0] \
//!     cargo test --test hardware -- --ignored --test-threads=1
//! ```
//!
//! They flash the board: whatever it ran is replaced.

mod support;

use cargo_bluescript::board::Board;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use support::{number_after, target_dir_of, text, Project, Watch};

/// How long building the firmware the first time and flashing may take.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// The board `BLUESCRIPT_BOARD` names: a real one.
fn board() -> Board {
    let name = std::env::var("BLUESCRIPT_BOARD")
        .unwrap_or_else(|_| panic!("set BLUESCRIPT_BOARD to the board on the desk (e.g. rp2040)"));
    let board = Board::named(&name).unwrap_or_else(|err| panic!("BLUESCRIPT_BOARD: {err}"));
    assert!(
        board.probe_target().is_some(),
        "{board} is emulated: these tests are for a real board"
    );
    board
}

/// `BLUESCRIPT_<name>`, if set and not empty.
fn setting(name: &str) -> Option<String> {
    std::env::var(format!("BLUESCRIPT_{name}"))
        .ok()
        .filter(|value| !value.is_empty())
}

/// The board is reached over its serial port (`BLUESCRIPT_TRANSPORT=serial`).
fn over_serial() -> bool {
    setting("TRANSPORT").as_deref() == Some("serial")
}

/// How the board is reached: `--transport serial` and `--port` (when
/// `BLUESCRIPT_PORT` names one), or `--probe` when `BLUESCRIPT_PROBE` names
/// one.
fn reach_args() -> Vec<String> {
    if over_serial() {
        let mut args = vec!["--transport".to_owned(), "serial".to_owned()];
        args.extend(
            setting("PORT")
                .into_iter()
                .flat_map(|port| ["--port".into(), port]),
        );
        return args;
    }
    setting("PROBE")
        .into_iter()
        .flat_map(|probe| ["--probe".into(), probe])
        .collect()
}

/// `cargo bluescript <command> [--probe …]` in `project`.
fn tool(project: &Project, args: &[&str]) -> Command {
    let mut command = support::tool(args, &project.root);
    command
        .args(reach_args())
        .env("CARGO_TARGET_DIR", target_dir_of(project.board));
    command
}

fn succeeded(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed:\nstdout: {}\nstderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

const TICKING: &str = r#"let count: integer = 0

function tick() {
  count = count + 1
  console.log("count", count)
}

console.log("started")
setInterval(tick, 200)
"#;

/// new → flash → run → watch with a patch → a run-time error, which the
/// program survives.
#[test]
#[ignore = "needs a real board: BLUESCRIPT_BOARD=<board> cargo test --test hardware -- --ignored"]
fn flash_run_watch_patch_and_survive_a_run_time_error() {
    let board = board();
    let project = Project::for_board("desk", board);

    project.write_script("console.log(\"flashed\", 6 * 7)\n");
    let flashed = tool(&project, &["flash"]).output().unwrap();
    succeeded("flash", &flashed);
    let stderr = text(&flashed.stderr);
    assert!(
        stderr.contains("Flashed build") && stderr.contains(board.name()),
        "{stderr}"
    );
    // Without a terminal, flashing's progress is plain lines.
    assert!(
        stderr.contains("Programmed") && stderr.contains("Verified"),
        "{stderr}"
    );

    project
        .write_script("console.log(\"ran\", 6 * 7)\nsetTimeout(() => { print(\"later\") }, 50)\n");
    let ran = tool(&project, &["run"]).output().unwrap();
    succeeded("run", &ran);
    assert_eq!(text(&ran.stdout), "ran 42\nlater\n");

    // `run` replaced what `flash` left: watch says so, and flashes only
    // when asked.
    project.write_script(TICKING);
    let mut refused = watch(&project);
    refused.expect_stderr(BUILD_TIMEOUT, "`--reflash` flashes the current build");
    refused.interrupt();
    let mut watch = Watch::spawn(tool(&project, &["watch", "--reflash"]));
    watch.expect_stdout(BUILD_TIMEOUT, "`started`", |l| l == "started");
    watch.expect_stderr(Duration::from_secs(30), "Watching");
    watch.expect_stdout(Duration::from_secs(10), "`count 2`", |l| {
        number_after(l, "count").is_some_and(|n| n >= 2)
    });

    project.write_script(&TICKING.replace(
        "console.log(\"count\", count)",
        "console.log(\"tock\", count * 10)",
    ));
    watch.expect_stderr(Duration::from_secs(60), "Patched tick");
    let tock = watch.expect_stdout(Duration::from_secs(10), "from the patched tick", |l| {
        l.starts_with("tock")
    });
    // The patch kept the program's state: the count went on.
    assert!(number_after(&tock, "tock").unwrap() >= 30, "{tock}");

    project.write_script(&TICKING.replace(
        "console.log(\"count\", count)",
        "let zero = count - count\n  console.log(\"bad\", count / zero)",
    ));
    watch.expect_stderr(Duration::from_secs(60), "Patched tick");
    watch.expect_stderr(Duration::from_secs(10), "integer division by zero");
    // The error abandoned one callback; the program goes on.
    watch.expect_stderr(Duration::from_secs(10), "integer division by zero");
    watch.interrupt();
}

/// `watch` takes over the board `flash` left running rather than flashing it.
#[test]
#[ignore = "needs a real board: BLUESCRIPT_BOARD=<board> cargo test --test hardware -- --ignored"]
fn watch_takes_over_a_flashed_board() {
    let project = Project::for_board("takeover", board());
    project.write_script(TICKING);
    succeeded("flash", &tool(&project, &["flash"]).output().unwrap());
    let mut watch = watch(&project);
    watch.expect_stderr(BUILD_TIMEOUT, "Attached");
    watch.expect_stdout(Duration::from_secs(10), "a count", |l| {
        l.starts_with("count")
    });
    watch.interrupt();
}

/// Over serial, a board that does not answer at the rate asked is an
/// error that says what to check, and nothing is recorded as flashed.
#[test]
#[ignore = "needs a real board: BLUESCRIPT_BOARD=<board> cargo test --test hardware -- --ignored"]
fn over_serial_a_silent_agent_is_a_clear_error() {
    if !over_serial() {
        return;
    }
    let project = Project::for_board("silent", board());
    project.write_script(TICKING);
    let flashed = tool(&project, &["flash", "--baud", "9600"])
        .output()
        .unwrap();
    let stderr = text(&flashed.stderr);
    assert!(!flashed.status.success(), "{stderr}");
    assert!(
        stderr.contains("no serial agent answers") && stderr.contains("at 9600 baud"),
        "{stderr}"
    );
    let record = target_dir_of(project.board).join("bluescript/silent/board.json");
    assert!(!record.exists(), "a board that did not answer was recorded");
}

/// `cargo bluescript probes` lists the probe the board is reached through.
#[test]
#[ignore = "needs a real board: BLUESCRIPT_BOARD=<board> cargo test --test hardware -- --ignored"]
fn probes_lists_the_connected_probe() {
    if over_serial() {
        return;
    }
    board();
    let output = support::tool(&["probes"], Path::new("."))
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    succeeded("probes", &output);
    let listed = text(&output.stdout);
    assert!(listed.contains("--probe "), "{listed}");
}

fn watch(project: &Project) -> Watch {
    Watch::spawn(tool(project, &["watch"]))
}
