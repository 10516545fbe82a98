//! Save-to-new-code-running latency of `cargo bluescript watch` on QEMU.
//!
//! Creates a project from the template, starts `watch`, then edits a
//! function again and again: each cycle writes the file and waits until
//! the device prints what only the new code prints. Two cases: the
//! function an interval calls, and a small function that ten callers
//! inlined (all recompiled with it). The
//! split into compile, link and transfer comes from watch's own report.
//!
//! `cargo bench -p cargo-bluescript --bench patch_latency [-- CYCLES]`

#[path = "../../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};
use support::{percentile, Project, Watch};

const DEFAULT_CYCLES: usize = 60;

/// The function an interval calls, edited alone.
fn one_function(version: usize) -> String {
    format!(
        "let count: integer = 0\n\nfunction tick() {{\n  count = count + 1\n  console.log(\"v{version}\", count)\n}}\n\nsetInterval(tick, 2)\n"
    )
}

/// A small function that ten callers call directly, and rustc inlines into
/// them: an edit of it recompiles all eleven, and the function that calls
/// them, in one patch.
fn inlined_into_ten(version: usize) -> String {
    let callers: String = (1..=10)
        .map(|i| format!("function part{i}(n: integer): integer {{ return marked(n + {i}) }}\n"))
        .collect();
    let sum: Vec<String> = (1..=10).map(|i| format!("part{i}(count)")).collect();
    format!(
        "let count: integer = 0\n\nfunction marked(n: integer): integer {{ return (n % 10) * 10000 + {version} }}\n\
         {callers}\nfunction tick() {{\n  count = count + 1\n  console.log(\"v\" + (({}) % 10000 / 10), count)\n}}\n\n\
         setInterval(tick, 2)\n",
        sum.join(" + ")
    )
}

/// `compile 35 ms` in watch's status line → 35.0.
fn stage(line: &str, name: &str) -> Option<f64> {
    let rest = &line[line.find(&format!("{name} "))? + name.len() + 1..];
    rest.split(' ').next()?.parse().ok()
}

fn main() {
    let cycles = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(DEFAULT_CYCLES);
    let one: fn(usize) -> String = one_function;
    let ten: fn(usize) -> String = inlined_into_ten;
    for (title, script, patched) in [
        ("one function", one, "Patched tick"),
        ("a function ten callers inlined", ten, "Patched marked"),
    ] {
        measure(title, script, patched, cycles);
    }
}

/// Edits with `script(version)` again and again; prints the percentiles.
fn measure(title: &str, script: fn(usize) -> String, patched_line: &str, cycles: usize) {
    let project = Project::new("patchbench");
    project.write_script(&script(0));
    let mut watch = Watch::start(&project);
    watch.expect_stdout(Duration::from_secs(600), "from v0", |l| {
        l.starts_with("v0 ")
    });
    watch.expect_stderr(Duration::from_secs(30), "Watching");

    let (mut total, mut check, mut compile) = (vec![], vec![], vec![]);
    let (mut link, mut transfer) = (vec![], vec![]);
    for version in 1..=cycles {
        // Let the previous burst of events settle, as between two saves.
        std::thread::sleep(Duration::from_millis(100));
        let saved = Instant::now();
        std::fs::write(project.root.join("scripts/main.bs"), script(version)).unwrap();
        let prefix = format!("v{version} ");
        watch.expect_stdout(Duration::from_secs(30), "from the new code", |l| {
            l.starts_with(&prefix)
        });
        total.push(saved.elapsed().as_secs_f64() * 1000.0);
        let patched = watch.expect_stderr(Duration::from_secs(10), patched_line);
        check.push(stage(&patched, "check").expect("check time"));
        compile.push(stage(&patched, "compile").expect("compile time"));
        link.push(stage(&patched, "link").expect("link time"));
        transfer.push(stage(&patched, "transfer").expect("transfer time"));
    }

    println!("save → new code running, {title}, {cycles} edit cycles on qemu-m4:");
    println!("{:<28}{:>10}{:>10}", "", "p50 ms", "p95 ms");
    for (name, values) in [
        ("total (save to new output)", &total),
        ("  check and plan", &check),
        ("  compile (rustc)", &compile),
        ("  link (rust-lld)", &link),
        ("  transfer (probe)", &transfer),
    ] {
        println!(
            "{name:<28}{:>10.1}{:>10.1}",
            percentile(values, 50.0),
            percentile(values, 95.0)
        );
    }
    println!();
}
