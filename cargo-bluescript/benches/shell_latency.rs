//! Input-to-answer latency of `cargo bluescript repl` on QEMU: from the
//! moment an input line is written to the shell until its answer is
//! printed — check, compile, link, transfer, the device's next safe point,
//! and the output's way back.
//!
//! Creates a project from the template, starts the shell on a program
//! whose timer keeps running, then sends inputs of three kinds in turn: an
//! expression, a new global, and a function defined and called.
//!
//! `cargo bench -p cargo-bluescript --bench shell_latency [-- INPUTS]`

#[path = "../../tests/support/mod.rs"]
mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};
use support::{percentile, tool, Project, Watch};

const DEFAULT_INPUTS: usize = 60;

const PROGRAM: &str = "let ticks = 0\nsetInterval(() => { ticks++ }, 5)\n";

/// Input `i` and the answer it prints.
fn input(i: usize) -> (String, String) {
    match i % 3 {
        0 => (format!("{i} * 3 + 1"), format!("{}", i * 3 + 1)),
        1 => (format!("let g{i} = {i}; g{i} + 1"), format!("{}", i + 1)),
        _ => (
            format!("function f{i}(n: integer) {{ return n * 2 }}\nf{i}({i})"),
            format!("{}", i * 2),
        ),
    }
}

fn main() {
    let inputs = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(DEFAULT_INPUTS);
    let project = Project::new("shellbench");
    project.write_script(PROGRAM);
    let mut command = tool(&["repl"], &project.root);
    command.stdin(Stdio::piped());
    let mut shell = Watch::spawn(command);
    shell.send("ticks >= 0\n");
    shell.expect_stdout(Duration::from_secs(600), "the first answer", |l| {
        l == "true"
    });

    let mut latencies = Vec::new();
    for i in 0..inputs {
        let (text, answer) = input(i);
        let sent = Instant::now();
        shell.send(&format!("{text}\n"));
        shell.expect_stdout(Duration::from_secs(30), "the answer", |l| l == answer);
        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    shell.finish(Duration::from_secs(30));
    println!(
        "shell input → answer on {} ({} inputs): p50 {:.0} ms, p95 {:.0} ms, min {:.0} ms, max {:.0} ms",
        project.board,
        latencies.len(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 95.0),
        latencies.iter().cloned().fold(f64::INFINITY, f64::min),
        latencies.iter().cloned().fold(0.0, f64::max),
    );
}
