//! The Are-We-Fast-Yet comparison with MicroPython, exact: executed
//! instructions per inner iteration of the AWFY benchmarks
//! (`tests/benchmarks/awfy/`: the same algorithms and problem sizes as
//! the suite's Python and JavaScript versions) on `qemu-m3`, the QEMU
//! machine (`mps2-an385`, Cortex-M3) of MicroPython's counts, in a
//! development image and with `--release`, next to MicroPython's
//! bytecode, `@native` and `@viper` counts.
//!
//! `cargo bench -p cargo-bluescript --bench awfy [-- [--dev | --release] [NAME...]]`
//!
//! Each program runs under `-icount` in an image of its own, which counts
//! `innerBenchmarkLoop(k)` with the harness's calibrated counter
//! (`tests/benchmarks/awfy.rs`); a row is that count divided by its inner
//! iterations. Without `--dev` or `--release`, both profiles are measured;
//! naming programs (`bounce`, `mandelbrot`, ...) measures only those.

#[path = "../../tests/benchmarks/awfy.rs"]
mod awfy;
#[path = "../../tests/benchmarks/harness.rs"]
mod harness;
#[path = "../../tests/support/mod.rs"]
mod support;

use anyhow::{bail, Context, Result};
use cargo_bluescript::board::Board;
use harness::grouped;
use std::collections::BTreeMap;

/// The target: MicroPython's bytecode executes at least this many
/// times our instructions, geometric mean over the integer benchmarks.
const TARGET_RATIO: f64 = 100.0;

/// Rounds of each measurement: they must agree.
const ROUNDS: usize = 3;

/// How a row calls AWFY's `innerBenchmarkLoop(innerIterations)`.
#[derive(Clone, Copy)]
enum Workload {
    /// `innerIterations` times the benchmark: the count is divided by it.
    /// Storage and Sieve, which allocate about 160 KB and 20 KB an
    /// iteration, run enough of them to fill the 2 MiB heap several times:
    /// their counts include the collections.
    Repeated(u32),
    /// Mandelbrot and NBody take `innerIterations` as their problem size
    /// (AWFY's own override): one call is one inner iteration.
    Size(u32),
}

impl Workload {
    fn inner_iterations(self) -> u32 {
        match self {
            Workload::Repeated(k) | Workload::Size(k) => k,
        }
    }

    fn divisor(self) -> u32 {
        match self {
            Workload::Repeated(k) => k,
            Workload::Size(_) => 1,
        }
    }
}

struct Program {
    label: &'static str,
    /// `tests/benchmarks/awfy/<file>.bs`.
    file: &'static str,
    workload: Workload,
    /// Float arithmetic: MicroPython's is double precision (in software
    /// on the Cortex-M3), ours single precision.
    float: bool,
    /// MicroPython's instructions per inner iteration: bytecode, `@native`,
    /// `@viper` (`../shared/PEERS.md`, "MicroPython, exact instruction
    /// counts on QEMU Cortex-M3": v1.29.0-preview on MPS2_AN385 with a
    /// 2 MiB heap, AWFY commit 50e34b17).
    micropython: [Option<u64>; 3],
}

const PROGRAMS: [Program; 11] = [
    Program {
        label: "Bounce",
        file: "bounce",
        workload: Workload::Repeated(20),
        float: false,
        micropython: [Some(14_064_102), Some(10_620_359), Some(9_811_472)],
    },
    Program {
        label: "List",
        file: "list",
        workload: Workload::Repeated(20),
        float: false,
        micropython: [Some(14_619_973), Some(8_190_783), None],
    },
    Program {
        label: "Permute",
        file: "permute",
        workload: Workload::Repeated(20),
        float: false,
        micropython: [Some(26_824_500), Some(19_516_113), Some(17_061_112)],
    },
    Program {
        label: "Queens",
        file: "queens",
        workload: Workload::Repeated(20),
        float: false,
        micropython: [Some(17_407_415), Some(12_172_210), Some(10_113_260)],
    },
    Program {
        label: "Richards",
        file: "richards",
        workload: Workload::Repeated(5),
        float: false,
        micropython: [Some(872_539_818), Some(736_484_147), None],
    },
    Program {
        label: "Sieve",
        file: "sieve",
        workload: Workload::Repeated(200),
        float: false,
        micropython: [Some(7_439_047), Some(3_329_344), Some(2_074_995)],
    },
    Program {
        label: "Storage",
        file: "storage",
        workload: Workload::Repeated(100),
        float: false,
        micropython: [Some(20_039_608), Some(15_120_003), Some(13_932_150)],
    },
    Program {
        label: "Towers",
        file: "towers",
        workload: Workload::Repeated(20),
        float: false,
        micropython: [Some(42_133_557), Some(31_336_674), Some(29_088_298)],
    },
    Program {
        label: "Mandelbrot (500)",
        file: "mandelbrot",
        workload: Workload::Size(500),
        float: true,
        micropython: [Some(31_143_909_412), Some(24_974_908_285), None],
    },
    Program {
        label: "Mandelbrot (100)",
        file: "mandelbrot",
        workload: Workload::Size(100),
        float: true,
        micropython: [Some(1_241_265_417), Some(994_964_025), None],
    },
    Program {
        label: "NBody (1000)",
        file: "nbody",
        workload: Workload::Size(1000),
        float: true,
        micropython: [Some(385_441_401), Some(156_096_490), None],
    },
];

fn optional(value: Option<u64>) -> String {
    value.map_or("–".to_string(), grouped)
}

/// MicroPython's bytecode count over ours.
fn ratio(program: &Program, ours: Option<u64>) -> Option<f64> {
    Some(program.micropython[0]? as f64 / ours? as f64)
}

/// Instructions per inner iteration of `program`, and how far its rounds'
/// whole counts disagreed.
fn measure(
    firmware: &cargo_bluescript::project::Project,
    program: &Program,
    release: bool,
) -> Result<(u64, u64)> {
    let source = awfy::source(program.file)?;
    let workload = program.workload;
    let measured = awfy::measure(
        firmware,
        &source,
        workload.inner_iterations(),
        ROUNDS,
        release,
    )?;
    let divisor = u64::from(workload.divisor());
    Ok((
        (measured.instructions + divisor / 2) / divisor,
        measured.spread,
    ))
}

fn run() -> Result<()> {
    let mut profiles = Vec::new();
    let mut wanted = Vec::new();
    // `cargo bench` passes `--bench` to every bench target.
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--bench" => {}
            "--dev" => profiles.push(false),
            "--release" => profiles.push(true),
            other if other.starts_with('-') => bail!("unknown option `{other}`"),
            name => {
                if !PROGRAMS.iter().any(|p| p.file == name) {
                    bail!(
                        "no AWFY program named `{name}` in {}",
                        awfy::programs_dir().display()
                    );
                }
                wanted.push(name.to_string());
            }
        }
    }
    if profiles.is_empty() {
        profiles = vec![false, true];
    }
    let programs: Vec<&Program> = PROGRAMS
        .iter()
        .filter(|p| wanted.is_empty() || wanted.iter().any(|w| w == p.file))
        .collect();

    // MicroPython was counted on this machine.
    let board = Board::named("qemu-m3")?;
    let project = support::Project::for_board("awfy_bench", board);
    awfy::install_firmware(&project.root)?;
    let firmware = harness::locate(&project.root)?;
    // Per label: [dev, release].
    let mut counts: BTreeMap<&str, [Option<u64>; 2]> = BTreeMap::new();
    let mut spread = 0;
    for &release in &profiles {
        for program in &programs {
            let (count, round_spread) = measure(&firmware, program, release)
                .with_context(|| format!("{} ({})", program.label, profile_name(release)))?;
            eprintln!(
                "{:>12} {} ({}): {} instructions per inner iteration",
                "Measured",
                program.label,
                profile_name(release),
                grouped(count)
            );
            counts.entry(program.label).or_default()[usize::from(release)] = Some(count);
            spread = spread.max(round_spread);
        }
    }
    print_table(&programs, &counts);
    println!(
        "The {ROUNDS} rounds of each measurement (k inner iterations each) agreed within {spread} \
         instructions."
    );
    Ok(())
}

fn profile_name(release: bool) -> &'static str {
    if release {
        "--release"
    } else {
        "dev"
    }
}

fn print_table(programs: &[&Program], counts: &BTreeMap<&str, [Option<u64>; 2]>) {
    println!(
        "\nAre-We-Fast-Yet, executed instructions per inner iteration on qemu-m3 (QEMU mps2-an385, \
         Cortex-M3, floats in software), ours against MicroPython's (../shared/PEERS.md):"
    );
    println!(
        "{:<18}{:>15}{:>15}{:>16}{:>16}{:>16}{:>10}{:>10}",
        "benchmark",
        "ours dev",
        "ours release",
        "MPy bytecode",
        "MPy @native",
        "MPy @viper",
        "÷ dev",
        "÷ rel"
    );
    let mut integer_ratios: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for program in programs {
        let ours = counts.get(program.label).copied().unwrap_or_default();
        let ratios = ours.map(|count| ratio(program, count));
        for (profile, r) in ratios.iter().enumerate() {
            if let (Some(r), false) = (r, program.float) {
                integer_ratios[profile].push(*r);
            }
        }
        let shown = |r: Option<f64>| r.map_or("–".to_string(), |r| format!("{r:.0}"));
        println!(
            "{:<18}{:>15}{:>15}{:>16}{:>16}{:>16}{:>10}{:>10}{}",
            program.label,
            optional(ours[0]),
            optional(ours[1]),
            optional(program.micropython[0]),
            optional(program.micropython[1]),
            optional(program.micropython[2]),
            shown(ratios[0]),
            shown(ratios[1]),
            if program.float {
                "   (theirs double, ours single precision)"
            } else {
                ""
            }
        );
    }
    let means = integer_ratios.map(|ratios| {
        // Only over all eight integer benchmarks.
        (ratios.len() == 8).then(|| harness::geometric_mean(ratios.iter().copied()))
    });
    let shown = |m: Option<f64>| m.map_or("–".to_string(), |m| format!("{m:.0}"));
    let verdict = |m: Option<f64>| match m {
        Some(m) if m >= TARGET_RATIO => "met".to_string(),
        Some(m) => format!("missed by {:.0}%", (1.0 - m / TARGET_RATIO) * 100.0),
        None => "not measured".to_string(),
    };
    println!(
        "{:<18}{:>78}{:>10}{:>10}   (the integer benchmarks; target >= {TARGET_RATIO}x: dev {}, \
         --release {})",
        "geometric mean",
        "",
        shown(means[0]),
        shown(means[1]),
        verdict(means[0]),
        verdict(means[1])
    );
}

fn main() -> std::process::ExitCode {
    // Missing the target is a finding, not a failure of the benchmark.
    harness::exit_code(run())
}
