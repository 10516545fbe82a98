//! End-to-end: a program of several script files under `cargo bluescript
//! watch`. An edit in an imported file patches the running program like an
//! edit in the main script; its errors name that file.

mod support;

use std::time::Duration;
use support::{number_after, Project, Watch};

const MAIN: &str = r#"import { tick } from './counter'

console.log("started")
setInterval(tick, 100)
"#;

fn write(project: &Project, name: &str, text: &str) {
    std::fs::write(project.root.join("scripts").join(name), text).unwrap();
}

#[test]
fn watch_patches_a_function_of_an_imported_file() {
    let project = Project::new("modules-watch");
    write(
        &project,
        "counter.bs",
        r#"export let count: integer = 0

export function tick() {
  count = count + 1
  console.log("count", count)
}
"#,
    );
    project.write_script(MAIN);
    let mut watch = Watch::start(&project);
    watch.expect_stdout(Duration::from_secs(600), "`started`", |l| l == "started");
    watch.expect_stderr(Duration::from_secs(30), "Watching");
    let before = watch.expect_stdout(Duration::from_secs(10), "`count 3`", |l| {
        number_after(l, "count").is_some_and(|n| n >= 3)
    });
    let before = number_after(&before, "count").unwrap();

    // Edit the body of the imported function the interval calls.
    write(
        &project,
        "counter.bs",
        r#"export let count: integer = 0

export function tick() {
  count = count + 1
  console.log("tock", count * 10)
}
"#,
    );
    let patched = watch.expect_stdout(Duration::from_secs(30), "from the patched tick", |l| {
        l.starts_with("tock")
    });
    watch.expect_stderr(Duration::from_secs(5), "Patched counter.bs:tick in");
    let after = number_after(&patched, "tock").unwrap() / 10;
    // The counter continued: the program was not restarted.
    assert!(after > before, "count restarted: {before} then {after}");

    // A type error in the imported file: located there, and the old code
    // keeps running.
    write(
        &project,
        "counter.bs",
        r#"export let count: integer = 0

export function tick() {
  count = count + true
}
"#,
    );
    watch.expect_stderr(
        Duration::from_secs(30),
        "`+` cannot be applied to integer and boolean",
    );
    watch.expect_stderr(Duration::from_secs(5), "--> scripts/counter.bs:4:11");
    let still = watch.expect_stdout(Duration::from_secs(10), "from the old tick", |l| {
        l.starts_with("tock")
    });
    assert!(number_after(&still, "tock").unwrap() / 10 > after);

    // A new function in the imported file, called from the edited one.
    write(
        &project,
        "counter.bs",
        r#"export let count: integer = 0

export function tick() {
  count = count + 1
  report(count)
}

function report(n: integer) {
  console.log("report", n)
}
"#,
    );
    let reported = watch.expect_stdout(Duration::from_secs(30), "from the new function", |l| {
        l.starts_with("report")
    });
    watch.expect_stderr(Duration::from_secs(5), "counter.bs:report (new)");
    let n = number_after(&reported, "report").unwrap();
    assert!(n > after, "count restarted: {after} then {n}");

    // A changed global of the imported file restarts the program.
    write(
        &project,
        "counter.bs",
        r#"export let count: integer = 1000

export function tick() {
  count = count + 1
  console.log("restarted", count)
}
"#,
    );
    watch.expect_stderr(
        Duration::from_secs(30),
        "Restarting the program: global declarations or top-level statements changed",
    );
    let restarted = watch.expect_stdout(Duration::from_secs(120), "from the new program", |l| {
        l.starts_with("restarted")
    });
    assert_eq!(restarted, "restarted 1001");
}
