//! Executed instructions of BlueScript programs next to the same algorithms
//! hand-written in Rust, and the size of bs-runtime in the default image.
//!
//! Every `tests/benchmarks/<name>.bs` is paired with
//! `tests/benchmarks/rust/<name>.rs`. The benchmark makes a project from the
//! board's template, adds the instruction counter and every Rust version as
//! drivers, then builds one image per program and runs it on QEMU with
//! `-icount shift=N,align=off,sleep=off`, where the board's counter counts
//! executed instructions exactly (`tests/benchmarks/harness.rs`). Each version runs
//! three times in its image and checks its own result; a wrong result, or
//! rounds that disagree, fails the benchmark. It prints the instructions of
//! both versions, their ratio and the geometric mean of the ratios, then
//! the flash and RAM taken by bs-runtime in the default image (template
//! project), from the sizes of the ELF's symbols.
//!
//! `cargo bench -p cargo-bluescript --bench instructions [-- [--dev | --release] [--board BOARD]... [--sizes | NAME...]]`
//!
//! Without `--dev` or `--release`, both profiles are measured; naming
//! benchmarks measures only those (and skips the sizes); `--sizes` measures
//! only the sizes. Each `--board`
//! (`--all-boards`: every board) gets its tables; without one, the board
//! of `BS_BOARD`, or the default board. RISC-V boards count with
//! `minstret` under `-icount shift=0`.

#[path = "../../tests/benchmarks/harness.rs"]
mod harness;
#[path = "../../tests/support/mod.rs"]
mod support;

use anyhow::{bail, Context, Result};
use cargo_bluescript::board::Board;
use cargo_bluescript::commands::StderrLog;
use cargo_bluescript::firmware;
use cargo_bluescript::isa::FloatAbi;
use harness::{grouped, ROUNDS};
use object::{Object, ObjectSection, ObjectSymbol, SectionKind};
use std::collections::BTreeMap;
use std::path::Path;

/// The targets for the geometric mean of the ratios against Rust: in the
/// development images that `run` and `watch` build, and with `--release`.
const TARGET_RATIO_DEV: f64 = 1.2;
const TARGET_RATIO_RELEASE: f64 = 1.05;
/// The target for untyped (`any`) versions against typed ones.
const UNTYPED_TARGET_RATIO: f64 = 3.5;

struct Row {
    name: String,
    bluescript: u64,
    rust: u64,
}

impl Row {
    fn ratio(&self) -> f64 {
        self.bluescript as f64 / self.rust as f64
    }
}

fn geometric_mean(rows: &[Row]) -> f64 {
    harness::geometric_mean(rows.iter().map(Row::ratio))
}

/// `calibration`: summed over the images (see [`Measured::calibration`]);
/// `spread`: the largest disagreement between rounds.
fn print_table(board: Board, release: bool, rows: &[Row], calibration: [u64; 5], spread: u64) {
    let (profile, target) = if release {
        (
            "release profile (--release: opt-level s, LTO)",
            TARGET_RATIO_RELEASE,
        )
    } else {
        (
            "dev profile (opt-level 1, as `cargo bluescript run` builds)",
            TARGET_RATIO_DEV,
        )
    };
    let isa = board.isa();
    let qemu = board.qemu().expect("benchmarks run on emulated boards");
    let floats = match isa.float_abi() {
        FloatAbi::Hard => "FPU",
        FloatAbi::Soft => "floats in software",
    };
    println!(
        "\nExecuted instructions on {board} ({} {}, {floats}), {profile}; {} {} -icount shift={}, \
         tick interrupts ({} instructions each) excluded:",
        isa.family(),
        isa.variant(),
        qemu.program,
        qemu.args.join(" "),
        qemu.counter.icount_shift(),
        calibration[4]
    );
    println!(
        "{:<16}{:>14}{:>14}{:>8}",
        "benchmark", "BlueScript", "Rust", "ratio"
    );
    print_rows(rows, target);
    println!(
        "Counter check: {} loops of known length measured exactly, {} more with a reading at a \
         tick edge off by at most {}; the {ROUNDS} rounds of each version agreed within {spread}.",
        calibration[1] - calibration[2],
        calibration[2],
        calibration[3]
    );
}

/// Untyped versions (every value an `any`) against the typed ones.
fn print_untyped_table(rows: &[Row]) {
    println!("\nUntyped versions (every value an `any`), same profile:");
    println!(
        "{:<16}{:>14}{:>14}{:>8}",
        "benchmark", "untyped", "typed", "ratio"
    );
    print_rows(rows, UNTYPED_TARGET_RATIO);
}

/// The rows, their ratios and the geometric mean against `target`.
fn print_rows(rows: &[Row], target: f64) {
    for row in rows {
        println!(
            "{:<16}{:>14}{:>14}{:>8.2}",
            row.name,
            grouped(row.bluescript),
            grouped(row.rust),
            row.ratio()
        );
    }
    let geomean = geometric_mean(rows);
    let verdict = if geomean <= target {
        format!("target <= {target}: met")
    } else {
        format!(
            "target <= {target}: missed by {:.0}%",
            (geomean / target - 1.0) * 100.0
        )
    };
    println!(
        "{:<16}{:>14}{:>14}{:>8.2}   ({verdict})",
        "geometric mean", "", "", geomean
    );
}

// ---------------------------------------------------------------------------
// Sizes

/// Who a symbol of the image belongs to.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Part {
    Runtime,
    RttTarget,
    /// The core's support crates (cortex-m and cortex-m-rt, riscv and riscv-rt).
    MachineSupport,
    Libm,
    Core,
    Unnamed,
    /// The serial agent (bs-runtime's feature `serial-agent`) and its crates.
    SerialAgent,
    Script,
    Drivers,
}

impl Part {
    fn label(self) -> &'static str {
        match self {
            Part::Runtime => "  bs-runtime (crate bluescript)",
            Part::RttTarget => "  rtt-target",
            Part::MachineSupport => "  cortex-m(-rt) or riscv(-rt)",
            Part::Libm => "  libm",
            Part::Core => "  core, compiler-builtins",
            Part::Unnamed => "  unnamed constants (anon.*)",
            Part::SerialAgent => "serial agent (feature `serial-agent`)",
            Part::Script => "scripts (generated code)",
            Part::Drivers => "drivers and main (firmware crate)",
        }
    }

    fn is_runtime(self) -> bool {
        self < Part::SerialAgent
    }
}

/// The crate a mangled Rust symbol's path starts in: legacy mangling
/// (`_ZN10bluescript5print...`, `<T as Trait>` impls) and v0 (`_RNvNtCs..._4core...`).
fn symbol_crate(name: &str) -> Option<String> {
    if let Some(rest) = name.strip_prefix("_ZN") {
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let len: usize = digits.parse().ok()?;
        let first = rest.get(digits.len()..digits.len() + len)?;
        let first = first
            .trim_start_matches('_')
            .replace("$LT$", "<")
            .replace("$GT$", ">")
            .replace("$u20$", " ")
            .replace("$RF$", "&")
            .replace("$BP$", "*")
            .replace("..", "::");
        let Some(inner) = first.strip_prefix('<') else {
            return Some(first);
        };
        // `<Type as Trait>`: the crate of the type, or of the trait when
        // the type is a primitive.
        let inner = inner
            .trim_start_matches(['&', '*'])
            .trim_start_matches("mut ");
        let (ty, tr) = match inner.split_once(" as ") {
            Some((ty, tr)) => (ty, Some(tr)),
            None => (inner.trim_end_matches('>'), None),
        };
        if let Some((krate, _)) = ty.split_once("::") {
            return Some(krate.to_string());
        }
        return Some(
            tr.and_then(|t| t.split_once("::"))
                .map_or("core", |(k, _)| k)
                .to_string(),
        );
    }
    if name.starts_with("_R") {
        // The first crate root: `C`, an optional disambiguator `s<base62>_`,
        // then a length-prefixed identifier.
        let bytes = name.as_bytes();
        for i in 2..bytes.len() {
            if bytes[i] != b'C' {
                continue;
            }
            let mut j = i + 1;
            if bytes.get(j) == Some(&b's') {
                while j < bytes.len() && bytes[j] != b'_' {
                    j += 1;
                }
                j += 1;
            }
            let start = j;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            let len: usize = name.get(start..j)?.parse().ok()?;
            let ident = name.get(j..j + len)?;
            return Some(ident.trim_start_matches('_').to_string());
        }
    }
    None
}

fn part_of(name: &str, firmware_crate: &str) -> Part {
    const CORTEX_M_RT: [&str; 8] = [
        "Reset",
        "DefaultHandler_",
        "DefaultPreInit",
        "HardFaultTrampoline",
        "__RESET_VECTOR",
        "__EXCEPTIONS",
        "__INTERRUPTS",
        "__pre_init",
    ];
    if name.starts_with("__bs_fn_")
        || name.starts_with("__bs_g_")
        || name == "__bs_main"
        || name == "__bs_program"
    {
        return Part::Script;
    }
    if name.starts_with("__bs_export_") || name.starts_with("__bs_sig_") || name == "main" {
        return Part::Drivers;
    }
    if name.starts_with("__bs_")
        || name.starts_with("bs_")
        || ["HardFault", "SysTick", "_SEGGER_RTT"].contains(&name)
    {
        return Part::Runtime;
    }
    if CORTEX_M_RT.contains(&name) || name.starts_with("_critical_section_") {
        return Part::MachineSupport;
    }
    if name.starts_with(".Lanon.") || name.starts_with("anon.") {
        return Part::Unnamed;
    }
    if name.contains("serial_agent") {
        return Part::SerialAgent;
    }
    match symbol_crate(name).as_deref() {
        Some("bluescript_serial_agent" | "siphasher" | "crc") => Part::SerialAgent,
        Some("bluescript" | "rustc") => Part::Runtime, // `rustc`: the panic handler
        Some("rtt_target") => Part::RttTarget,
        Some("cortex_m" | "cortex_m_rt" | "riscv" | "riscv_rt" | "critical_section") => {
            Part::MachineSupport
        }
        Some("libm") => Part::Libm,
        Some(krate) if krate == firmware_crate => {
            if name.contains("__bluescript") {
                Part::Script
            } else {
                Part::Drivers
            }
        }
        // core, compiler_builtins, and what LLVM names itself (outlined
        // code, `__aeabi_*`).
        _ => Part::Core,
    }
}

#[derive(Default)]
struct Sizes {
    /// Flash and RAM bytes by part.
    parts: BTreeMap<Part, (u64, u64)>,
    /// RAM symbols of the runtime, largest first.
    runtime_ram: Vec<(String, u64)>,
    /// Whole image: vector table, code, read-only data, initialized data.
    flash: u64,
    /// `.data`, `.bss` and `.uninit`.
    ram: u64,
}

fn sizes(elf: &Path, firmware_crate: &str) -> Result<Sizes> {
    let data = std::fs::read(elf).with_context(|| format!("cannot read {}", elf.display()))?;
    let file = object::File::parse(&*data)?;
    let mut sizes = Sizes::default();
    let mut in_flash = BTreeMap::new();
    for section in file.sections() {
        let (flash, ram) = match section.kind() {
            SectionKind::Text | SectionKind::ReadOnlyData | SectionKind::ReadOnlyString => {
                (true, false)
            }
            SectionKind::Data => (true, true),
            SectionKind::UninitializedData => (false, true),
            _ => continue,
        };
        if flash {
            sizes.flash += section.size();
        }
        if ram {
            sizes.ram += section.size();
        }
        in_flash.insert(section.index().0, (flash, ram));
    }
    for symbol in file.symbols() {
        let Some(&(flash, ram)) = symbol.section_index().and_then(|i| in_flash.get(&i.0)) else {
            continue;
        };
        let (Ok(name), size) = (symbol.name(), symbol.size()) else {
            continue;
        };
        // `.L_MergedGlobals*`: globals that LLVM laid out together, each
        // of which has a symbol of its own too.
        if size == 0 || symbol.is_undefined() || name.starts_with(".L_MergedGlobals") {
            continue;
        }
        let part = part_of(name, firmware_crate);
        let entry = sizes.parts.entry(part).or_default();
        if flash {
            entry.0 += size;
        }
        if ram {
            entry.1 += size;
            if part.is_runtime() {
                sizes.runtime_ram.push((name.to_string(), size));
            }
        }
    }
    sizes
        .runtime_ram
        .sort_by_key(|(_, size)| std::cmp::Reverse(*size));
    Ok(sizes)
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// Runtime RAM that is a heap rather than the runtime's own state: its
/// symbol, and what to call it.
const HEAPS: [(&str, &str); 2] = [
    ("__bs_heap", "  + object heap"),
    ("__bs_patch_region", "  + patch region (code heap)"),
];

fn print_sizes(board: Board, profile: &str, sizes: &Sizes) {
    println!(
        "\nSize of the default image of {board} (template project), {profile}, from its ELF symbols:"
    );
    println!("{:<36}{:>12}{:>12}", "", "flash", "RAM");
    let heap_size = |symbol: &str| {
        sizes
            .runtime_ram
            .iter()
            .find(|(name, _)| name == symbol)
            .map_or(0, |(_, size)| *size)
    };
    let heaps: u64 = HEAPS.iter().map(|(symbol, _)| heap_size(symbol)).sum();
    let runtime = sizes
        .parts
        .iter()
        .filter(|(part, _)| part.is_runtime())
        .fold((0, 0), |total, (_, (flash, ram))| {
            (total.0 + flash, total.1 + ram)
        });
    println!(
        "{:<36}{:>12}{:>12}",
        "bs-runtime and what it links in",
        kib(runtime.0),
        kib(runtime.1 - heaps)
    );
    for (part, (flash, ram)) in sizes.parts.iter().filter(|(p, _)| p.is_runtime()) {
        let ram = if *part == Part::Runtime {
            ram - heaps
        } else {
            *ram
        };
        println!("{:<36}{:>12}{:>12}", part.label(), kib(*flash), kib(ram));
    }
    for (symbol, label) in HEAPS {
        if heap_size(symbol) > 0 {
            println!("{label:<36}{:>12}{:>12}", "", kib(heap_size(symbol)));
        }
    }
    for (part, (flash, ram)) in sizes.parts.iter().filter(|(p, _)| !p.is_runtime()) {
        println!("{:<36}{:>12}{:>12}", part.label(), kib(*flash), kib(*ram));
    }
    println!(
        "{:<36}{:>12}{:>12}",
        "whole image (sections)",
        kib(sizes.flash),
        kib(sizes.ram)
    );
    let largest: Vec<String> = sizes
        .runtime_ram
        .iter()
        .filter(|(name, _)| !HEAPS.iter().any(|(symbol, _)| name == symbol))
        .take(6)
        .map(|(name, size)| format!("{} {size}", short_name(name)))
        .collect();
    println!(
        "  bs-runtime and what it links in: {} bytes of flash, {} bytes of RAM besides the heaps \
         (largest: {})",
        runtime.0,
        runtime.1 - heaps,
        largest.join(", ")
    );
}

/// `_ZN10bluescript5print5LINES17h…E` → `print::LINES`, roughly.
fn short_name(name: &str) -> String {
    let Some(rest) = name.strip_prefix("_ZN") else {
        return name.to_string();
    };
    let mut parts = Vec::new();
    let mut rest = rest;
    while let Some(len_end) = rest.find(|c: char| !c.is_ascii_digit()) {
        let Ok(len) = rest[..len_end].parse::<usize>() else {
            break;
        };
        let Some(part) = rest.get(len_end..len_end + len) else {
            break;
        };
        if !(part.starts_with('h') && part.len() == 17) {
            parts.push(part);
        }
        rest = &rest[len_end + len..];
    }
    parts.iter().skip(1).copied().collect::<Vec<_>>().join("::")
}

fn run() -> Result<()> {
    let mut profiles = Vec::new();
    let mut wanted = Vec::new();
    let mut boards = Vec::new();
    let mut sizes_only = false;
    // `cargo bench` passes `--bench` to every bench target.
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => {}
            "--dev" => profiles.push(false),
            "--release" => profiles.push(true),
            "--board" => {
                let name = args.next().context("--board needs a board's name")?;
                boards.push(Board::named(&name)?);
            }
            "--all-boards" => boards.extend(Board::emulated()),
            "--sizes" => sizes_only = true,
            other if other.starts_with('-') => bail!("unknown option `{other}`"),
            name => wanted.push(name.to_string()),
        }
    }
    if profiles.is_empty() {
        profiles = vec![false, true];
    }
    if boards.is_empty() {
        boards.push(support::board());
    }
    if sizes_only && !wanted.is_empty() {
        bail!("`--sizes` measures no benchmark: name none");
    }
    let benchmarks = if sizes_only {
        Vec::new()
    } else {
        harness::discover(&wanted)?
    };
    for board in boards {
        if !sizes_only {
            measure_board(board, &benchmarks, &profiles).with_context(|| format!("on {board}"))?;
        }
        if sizes_only || wanted.is_empty() {
            measure_sizes(board, &profiles).with_context(|| format!("on {board}"))?;
        }
    }
    Ok(())
}

/// The tables of one board.
fn measure_board(board: Board, benchmarks: &[harness::Benchmark], profiles: &[bool]) -> Result<()> {
    let project = support::Project::for_board("instructions_bench", board);
    harness::install_firmware(&project.root, benchmarks)?;
    let firmware = harness::locate(&project.root)?;
    for &release in profiles {
        let mut rows = Vec::new();
        let mut untyped_rows = Vec::new();
        let mut calibration = [0u64; 5];
        let mut spread = 0;
        for benchmark in benchmarks.iter().filter(|b| harness::fits(board, &b.name)) {
            let measured = harness::measure(&firmware, benchmark, release)
                .with_context(|| format!("benchmark `{}`", benchmark.name))?;
            let row = Row {
                name: benchmark.name.clone(),
                bluescript: measured.bluescript.0,
                rust: measured.rust.0,
            };
            eprintln!(
                "{:>12} {}: BlueScript {}, Rust {} instructions",
                "Measured", row.name, row.bluescript, row.rust
            );
            let c = measured.calibration;
            calibration = [
                calibration[0] + c[0],
                calibration[1] + c[1],
                calibration[2] + c[2],
                calibration[3].max(c[3]),
                c[4],
            ];
            spread = spread.max(measured.bluescript.1).max(measured.rust.1);
            if let Some(untyped) = &benchmark.untyped {
                let variant = harness::Benchmark {
                    name: benchmark.name.clone(),
                    script: untyped.clone(),
                    untyped: None,
                };
                let measured = harness::measure(&firmware, &variant, release)
                    .with_context(|| format!("untyped benchmark `{}`", benchmark.name))?;
                eprintln!(
                    "{:>12} {} (untyped): {} instructions",
                    "Measured", row.name, measured.bluescript.0
                );
                // Typed BlueScript in the Rust column: the ratio is untyped
                // against typed.
                untyped_rows.push(Row {
                    name: row.name.clone(),
                    bluescript: measured.bluescript.0,
                    rust: row.bluescript,
                });
            }
            rows.push(row);
        }
        print_table(board, release, &rows, calibration, spread);
        if !untyped_rows.is_empty() {
            print_untyped_table(&untyped_rows);
        }
    }
    Ok(())
}

/// The sizes of the board's default image (template project).
fn measure_sizes(board: Board, profiles: &[bool]) -> Result<()> {
    let default = support::Project::for_board("default_image", board);
    let firmware = harness::locate(&default.root)?;
    for &release in profiles {
        let image = firmware::build(&firmware, release, &mut StderrLog)?;
        let profile = if release {
            "release profile"
        } else {
            "dev profile"
        };
        print_sizes(
            board,
            profile,
            &sizes(&image.elf, &firmware.name.replace('-', "_"))?,
        );
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    // Missing the ratio target is a finding, not a failure of the benchmark.
    harness::exit_code(run())
}
