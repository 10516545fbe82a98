//! The Are-We-Fast-Yet programs of `tests/benchmarks/awfy/`, measured
//! the way `../shared/PEERS.md` counts MicroPython: executed instructions
//! per inner iteration on `qemu-m3` (QEMU `mps2-an385`, Cortex-M3).
//! Shared by `cargo-bluescript/benches/awfy.rs` (the table) and
//! `tests/awfy.rs` (a quick check that the harness works).
//!
//! Each program defines AWFY's `innerBenchmarkLoop(innerIterations)`.
//! [`measure`] appends a top level that checks the counter, then, in
//! each round, collects the garbage, and counts one call of it between
//! two readings of the counter (`tests/benchmarks/firmware/cost.rs`, less
//! what measuring nothing counts): the instructions of `innerIterations`
//! inner iterations, AWFY's verification included, and of nothing else.
//! Under `-icount` the count is the same on every run.
//!
//! The untyped ports (`awfy/untyped/`) are also counted cold: before the
//! rounds, a first round of one inner iteration runs in the fresh image,
//! with every inline cache empty. Then a warm-up call of
//! `innerBenchmarkLoop(innerIterations)`, not counted, takes a development
//! image's untyped functions past the calls whose types it records; the
//! rounds that follow are the warm count. Whatever is to make untyped code
//! faster after its first run (a host-side step) belongs after the cold
//! round, before the warm-up.
#![allow(dead_code)]

use crate::harness;
use anyhow::{ensure, Context, Result};
use cargo_bluescript::commands::StderrLog;
use cargo_bluescript::firmware;
use cargo_bluescript::project::Project as Firmware;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The heap of the MicroPython firmware the counts are of: 2 MiB.
pub const HEAP_SIZE: &str = "2048K";

/// Longest one benchmark's image may run (Mandelbrot 500 takes a few
/// billion instructions a round in a development image).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(600);

pub fn programs_dir() -> PathBuf {
    harness::benchmarks_dir().join("awfy")
}

/// How a program is written: the typed port `awfy/<name>.bs`, or the
/// untyped one `awfy/untyped/<name>.bs`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Port {
    Typed,
    Untyped,
}

impl Port {
    pub fn path(self, name: &str) -> PathBuf {
        match self {
            Port::Typed => programs_dir().join(format!("{name}.bs")),
            Port::Untyped => programs_dir().join("untyped").join(format!("{name}.bs")),
        }
    }

    /// Whether the harness counts a cold round first.
    pub fn cold_round(self) -> bool {
        self == Port::Untyped
    }
}

/// The program `name` written as `port`.
pub fn source(name: &str, port: Port) -> Result<String> {
    let path = port.path(name);
    std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
}

/// Turns the template project at `root` into the AWFY firmware: the
/// instruction counter as drivers, and MicroPython's heap size.
pub fn install_firmware(root: &Path) -> Result<()> {
    harness::set_heap_size(root, HEAP_SIZE)?;
    harness::install_drivers(root, &[])
}

/// `source` with a top level that counts `rounds` calls of
/// `innerBenchmarkLoop(inner_iterations)`, after (`cold_round`) a first
/// call `innerBenchmarkLoop(1)` in the fresh image and an uncounted
/// warm-up call, and then (`specialize`) a wait while the host's dynamic
/// compiler specializes what the profiles call for.
pub fn harnessed_script(
    source: &str,
    inner_iterations: u32,
    rounds: usize,
    cold_round: bool,
    specialize: bool,
) -> String {
    let specialize = if specialize {
        "\x20 // The host's dynamic compiler runs meanwhile.\n\
         \x20 console.log(\"@specialize\")\n\
         \x20 cost_wait_host()\n"
    } else {
        ""
    };
    let cold = if cold_round {
        format!(
            "\x20 {{\n\
             \x20   // Cold: nothing of the program has run yet.\n\
             {}\
             \x20 }}\n\
             \x20 {{\n\
             {}\
             \x20 }}\n\
             {specialize}",
            counted_call("@cold", 1, "    "),
            counted_call("@warmup", inner_iterations, "    ")
        )
    } else {
        String::new()
    };
    format!(
        "{}\n\n// Appended by the AWFY benchmark.\n\
         function awfyHarness() {{\n\
         {}\
         \x20 console.log(\"@empty\", empty)\n\
         \x20 // Called through its slot: inlined into this loop, rustc may\n\
         \x20 // compile the first round apart from the others.\n\
         \x20 const measured = innerBenchmarkLoop\n\
         {cold}\
         \x20 for (let round = 0; round < {rounds}; round++) {{\n\
         {}\
         \x20 }}\n\
         }}\n\
         awfyHarness()\n",
        source.trim_end(),
        harness::COUNTER_CHECK,
        counted_call("@awfy", inner_iterations, "    ")
    )
}

/// Statements (indented by `indent`) that collect the heap, count one call
/// `measured(inner_iterations)` and print `label`, whether it verified and
/// its count.
fn counted_call(label: &str, inner_iterations: u32, indent: &str) -> String {
    format!(
        "{indent}cost_collect()\n\
         {indent}cost_start()\n\
         {indent}const verified = measured(cost_opaque({inner_iterations}))\n\
         {indent}cost_stop()\n\
         {indent}console.log(\"{label}\", verified, cost_last(1), cost_last(0), cost_exact())\n"
    )
}

#[derive(Debug)]
pub struct Measured {
    /// `@calibration` fields (see [`harness::Measured::calibration`]).
    pub calibration: [u64; 5],
    /// Instructions of one call of `innerBenchmarkLoop`: the median of the
    /// rounds.
    pub instructions: u64,
    /// Largest minus smallest count of the rounds after the first (which
    /// may count more: [`harness::settled_count`]).
    pub spread: u64,
    /// Instructions of the cold round, `innerBenchmarkLoop(1)` in the fresh
    /// image, if there was one.
    pub cold: Option<u64>,
    /// Whether every reading of the rounds was exact (none at a tick edge).
    pub exact: bool,
}

/// What the harnessed script printed: a failed verification, a counter
/// that is not exact, missing rounds or rounds that disagree
/// ([`harness::settled_count`]) are errors,
/// and so is a missing (`cold_round`) or unexpected cold round.
pub fn parse_output(output: &str, rounds: usize, cold_round: bool) -> Result<Measured> {
    let calibration = harness::parse_calibration(output)?;
    let mut empty = None;
    let mut cold = None;
    let mut counts = Vec::new();
    let mut exact = true;
    for line in output.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        match fields.as_slice() {
            ["@empty", count] => empty = Some(count.parse::<u64>()?),
            [label @ ("@cold" | "@warmup" | "@awfy"), verified, billions, units, round_exact] => {
                let round = match *label {
                    "@cold" => "the cold round".to_string(),
                    "@warmup" => "the warm-up".to_string(),
                    _ => format!("round {}", counts.len() + 1),
                };
                ensure!(
                    *verified == "true",
                    "{round}: the benchmark's verification failed"
                );
                let count = billions.parse::<u64>()? * 1_000_000_000 + units.parse::<u64>()?;
                exact &= *round_exact == "true";
                match *label {
                    "@cold" => {
                        ensure!(cold.is_none(), "two cold rounds reported");
                        cold = Some(count);
                    }
                    "@awfy" => counts.push(count),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let empty = empty.context("no @empty line")?;
    ensure!(
        cold.is_some() == cold_round,
        "{}",
        if cold_round {
            "no cold round reported"
        } else {
            "a cold round reported where none was asked for"
        }
    );
    ensure!(
        counts.len() == rounds,
        "{} rounds reported instead of {rounds}",
        counts.len()
    );
    let (median, spread) = harness::settled_count(&counts)
        .with_context(|| format!("the rounds counted different instructions: {counts:?}"))?;
    Ok(Measured {
        calibration,
        instructions: median.saturating_sub(empty),
        spread,
        cold: cold.map(|count| count.saturating_sub(empty)),
        exact,
    })
}

/// Builds `source` with its harness (`release`: `--release`; a cold round
/// first where `port` has one), runs it on the firmware's board and checks
/// what it printed.
/// How an untyped port runs between its cold round and its warm rounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Warm {
    /// As built: the warm rounds run with filled inline caches.
    AsBuilt,
    /// The host's dynamic compiler runs first, as under `watch`
    /// (development images only).
    Specialized,
}

/// Measures `source` (built with `--release` if `release`): its counts,
/// and the functions the dynamic compiler specialized.
pub fn measure(
    firmware: &Firmware,
    source: &str,
    port: Port,
    inner_iterations: u32,
    rounds: usize,
    release: bool,
    warm: Warm,
) -> Result<(Measured, Vec<String>)> {
    let cold_round = port.cold_round();
    let specialize = warm == Warm::Specialized && cold_round;
    ensure!(
        !(specialize && release),
        "a --release image is never patched: it has no dynamic compiler"
    );
    std::fs::write(
        &firmware.main_script,
        harnessed_script(source, inner_iterations, rounds, cold_round, specialize),
    )?;
    let (output, specialized) = if specialize {
        let run = harness::run_specializing(firmware, firmware.board, RUN_TIMEOUT)?;
        (run.stdout, run.specialized)
    } else {
        let image = firmware::build(firmware, release, &mut StderrLog)?;
        let output = harness::run_image_within(firmware.board, image, RUN_TIMEOUT)?;
        (output, Vec::new())
    };
    let measured = parse_output(&output, rounds, cold_round)
        .with_context(|| format!("the program printed:\n{output}"))?;
    Ok((measured, specialized))
}
