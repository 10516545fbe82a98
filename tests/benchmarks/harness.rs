//! The instruction benchmarks' harness, shared by
//! `cargo-bluescript/benches/instructions.rs` (the table) and
//! `tests/instructions.rs` (a quick check that the harness works).
//!
//! Every `tests/benchmarks/<name>.bs` is paired with
//! `tests/benchmarks/rust/<name>.rs`. [`install_firmware`] turns a project
//! made from the default template into the benchmark firmware: the
//! instruction counter (`tests/benchmarks/firmware/cost.rs`) and every Rust
//! version as drivers. [`measure`] appends a top level to one script that
//! measures both versions [`ROUNDS`] times, builds the image, runs it on
//! the tests' board under QEMU with `-icount` (the shift its instruction
//! counter needs) and checks what it printed.
#![allow(dead_code)]

use crate::support::target_dir_of;
use anyhow::{bail, ensure, Context, Result};
use cargo_bluescript::board::{Board, StartOptions};
use cargo_bluescript::commands::StderrLog;
use cargo_bluescript::connection::output::Stream;
use cargo_bluescript::device::{Device, ProgramStatus};
use cargo_bluescript::firmware;
use cargo_bluescript::project::Project as Firmware;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest a benchmark image may run.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

pub fn benchmarks_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/benchmarks")
}

pub struct Benchmark {
    pub name: String,
    pub script: String,
    /// `untyped/<name>.bs`: the same program with every value an `any`.
    pub untyped: Option<String>,
}

/// The firmware project at `root`, built in the target directory that the
/// end-to-end tests of its board share (firmware dependencies are compiled
/// once).
pub fn locate(root: &Path) -> Result<Firmware> {
    let mut firmware = Firmware::locate(Some(&root.join("Cargo.toml")))?;
    firmware.target_dir = target_dir_of(firmware.board);
    Ok(firmware)
}

/// The benchmarks, in name order; `wanted` (names) filters them.
/// Benchmarks that need more RAM than a board has, by board: the Rust
/// sieve keeps its 4000 flags on the stack (qemu-m0's script stack is
/// 4 KiB), and storage keeps more live than qemu-m0's 4 KiB heap holds.
const TOO_BIG: &[(&str, &[&str])] = &[("qemu-m0", &["sieve", "storage"])];

/// Whether `benchmark` fits in `board`'s RAM (see [`TOO_BIG`]).
pub fn fits(board: Board, benchmark: &str) -> bool {
    !TOO_BIG
        .iter()
        .any(|(name, too_big)| *name == board.name() && too_big.contains(&benchmark))
}

pub fn discover(wanted: &[String]) -> Result<Vec<Benchmark>> {
    let dir = benchmarks_dir();
    let mut found = Vec::new();
    for entry in
        std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
    {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "bs") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        ensure!(
            name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "benchmark name `{name}`: use lowercase letters, digits and `_` (it names a Rust module)"
        );
        let rust = dir.join("rust").join(format!("{name}.rs"));
        ensure!(
            rust.is_file(),
            "{} has no hand-written Rust version at {}",
            path.display(),
            rust.display()
        );
        if wanted.is_empty() || wanted.contains(&name) {
            let untyped = dir.join("untyped").join(format!("{name}.bs"));
            found.push(Benchmark {
                script: std::fs::read_to_string(&path)?,
                untyped: match untyped.is_file() {
                    true => Some(std::fs::read_to_string(&untyped)?),
                    false => None,
                },
                name,
            });
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(unknown) = wanted.iter().find(|w| !found.iter().any(|b| &b.name == *w)) {
        bail!("no benchmark named `{unknown}` in {}", dir.display());
    }
    Ok(found)
}

/// Turns the template project into the benchmark firmware: the counter,
/// and every Rust version with two drivers, `rust_<name>(n)` and
/// `rust_<name>_verify(result)`.
pub fn install_firmware(root: &Path, benchmarks: &[Benchmark]) -> Result<()> {
    // A 32 KiB heap: the allocating benchmarks keep a few kilobytes live.
    // A board with little RAM keeps the heap its template sets.
    let config = std::fs::read_to_string(root.join(".cargo/config.toml"))?;
    if !config.contains("\nBLUESCRIPT_HEAP_SIZE") {
        set_heap_size(root, "32K")?;
    }
    install_drivers(root, benchmarks)
}

/// Sets the project's `heap-size` (`[package.metadata.bluescript]`).
pub fn set_heap_size(root: &Path, size: &str) -> Result<()> {
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)?;
    ensure!(
        !text.contains("\nheap-size"),
        "{} sets a heap size already",
        manifest.display()
    );
    std::fs::write(
        &manifest,
        text.replace(
            "[package.metadata.bluescript]\n",
            &format!("[package.metadata.bluescript]\nheap-size = \"{size}\"\n"),
        ),
    )?;
    Ok(())
}

/// The counter and the Rust versions of `benchmarks` as drivers.
pub fn install_drivers(root: &Path, benchmarks: &[Benchmark]) -> Result<()> {
    let src = root.join("src");
    std::fs::copy(
        benchmarks_dir().join("firmware/cost.rs"),
        src.join("cost.rs"),
    )?;
    // The template's firmware (each board has its own entry point), with
    // the counter and the Rust versions as two more modules of drivers.
    let main = std::fs::read_to_string(src.join("main.rs"))?;
    ensure!(
        main.contains("\nmod led;\n"),
        "the template's src/main.rs has no `mod led;` to add the benchmark modules next to"
    );
    std::fs::write(
        src.join("main.rs"),
        main.replacen(
            "\nmod led;\n",
            "\nmod benchmarks;\nmod cost;\nmod led;\n",
            1,
        ),
    )?;
    let dir = src.join("benchmarks");
    std::fs::create_dir_all(&dir)?;
    let mut module = String::from(
        "//! The hand-written Rust versions, exported to the benchmark scripts.\n\
         //! `black_box`: the script calls each several times with the same input,\n\
         //! and rustc, which sees both the script and these, must not reuse the\n\
         //! first result. `inline(never)`: nor inline a copy into each round of\n\
         //! the script's unrolled loop, which it may compile differently (every\n\
         //! round must measure the same machine code).\n",
    );
    for benchmark in benchmarks {
        let name = &benchmark.name;
        std::fs::copy(
            benchmarks_dir().join("rust").join(format!("{name}.rs")),
            dir.join(format!("{name}.rs")),
        )?;
        let _ = write!(
            module,
            "\nmod {name};\n\n\
             #[bluescript::export]\n#[inline(never)]\nfn rust_{name}(n: i32) -> i32 {{\n    {name}::benchmark(core::hint::black_box(n))\n}}\n\n\
             #[bluescript::export]\nfn rust_{name}_verify(result: i32) -> bool {{\n    {name}::verify(result)\n}}\n"
        );
    }
    std::fs::write(dir.join("mod.rs"), module)?;
    Ok(())
}

/// Rounds of each version in one image.
pub const ROUNDS: usize = 3;

/// The first statements of a harnessed script's measuring function: they
/// check the counter (the `@calibration` line) and set `empty` to what a
/// measurement of nothing counts, the counter's own part.
pub const COUNTER_CHECK: &str = "\
     \x20 console.log(\"@calibration\", cost_calibrate(), cost_calibration(0), cost_calibration(2), cost_calibration(3), cost_calibration(4))\n\
     \x20 let empty = 0\n\
     \x20 for (let tries = 0; tries < 5; tries++) {\n\
     \x20   cost_start()\n\
     \x20   empty = cost_stop()\n\
     \x20   if (cost_exact()) break\n\
     \x20 }\n";

/// The benchmark's script with a top level that measures both versions.
pub fn harnessed_script(benchmark: &Benchmark) -> String {
    let name = &benchmark.name;
    format!(
        "{}\n\n// Appended by the instructions benchmark.\n\
         function benchmarkHarness() {{\n\
         {COUNTER_CHECK}\
         \x20 const n = input()\n\
         \x20 // Called through its slot: inlined into this loop, rustc may\n\
         \x20 // compile the first round apart from the others.\n\
         \x20 const measured = benchmark\n\
         \x20 for (let round = 0; round < {ROUNDS}; round++) {{\n\
         \x20   cost_collect()\n\
         \x20   cost_start()\n\
         \x20   const result = measured(cost_opaque(n))\n\
         \x20   const count = cost_stop()\n\
         \x20   console.log(\"@bluescript\", verify(result), result, count - empty, cost_exact())\n\
         \x20 }}\n\
         \x20 for (let round = 0; round < {ROUNDS}; round++) {{\n\
         \x20   cost_collect()\n\
         \x20   cost_start()\n\
         \x20   const result = rust_{name}(n)\n\
         \x20   const count = cost_stop()\n\
         \x20   console.log(\"@rust\", rust_{name}_verify(result), result, count - empty, cost_exact())\n\
         \x20 }}\n\
         }}\n\
         benchmarkHarness()\n",
        benchmark.script.trim_end()
    )
}

/// One version's rounds: result, instruction count, whether exact.
#[derive(Default)]
struct Runs {
    rounds: Vec<(i32, u64, bool)>,
}

/// How far the rounds of one version in one image may disagree: a few
/// instructions, plus one per 10 000 (README, "Native speed": some tick
/// interrupts cost QEMU's count an instruction more, and more of them
/// where a tick interrupts a multiple load or store, which restarts).
pub fn round_tolerance(count: u64) -> u64 {
    4 + count / 10_000
}

/// The median of one version's `counts` in one image, and the spread
/// (largest minus smallest) of the rounds after the first; `None` where
/// they disagree. The first may count more, not less: it fills the inline
/// caches of the places that access properties of an `any` (once each),
/// and in a development image records the type profiles of the first
/// calls of untyped functions.
pub fn settled_count(counts: &[u64]) -> Option<(u64, u64)> {
    let (&first, later) = counts.split_first()?;
    let mut sorted = counts.to_vec();
    sorted.sort();
    let median = sorted[counts.len() / 2];
    let (low, high) = (later.iter().min(), later.iter().max());
    let Some((&low, &high)) = low.zip(high) else {
        return Some((median, 0));
    };
    let tolerance = round_tolerance(median);
    (high - low <= tolerance && first + tolerance >= low).then_some((median, high - low))
}

impl Runs {
    /// [`settled_count`] of the rounds.
    fn count(&self, language: &str) -> Result<(u64, u64)> {
        ensure!(
            self.rounds.len() == ROUNDS,
            "the {language} version reported {} rounds instead of {ROUNDS}",
            self.rounds.len()
        );
        let counts: Vec<u64> = self.rounds.iter().map(|r| r.1).collect();
        settled_count(&counts).with_context(|| {
            format!(
                "rounds of the {language} version counted different instructions: {:?}",
                self.rounds
            )
        })
    }
}

pub struct Measured {
    /// `@calibration` fields: exact measurements that missed, measurements,
    /// ones at a tick edge, their largest error, instructions per tick.
    pub calibration: [u64; 5],
    /// Median count and spread of the rounds.
    pub bluescript: (u64, u64),
    pub rust: (u64, u64),
}

/// Runs `image` on `board` under `-icount` until its program finishes; its
/// stdout.
pub fn run_image(board: Board, image: firmware::Image) -> Result<String> {
    run_image_within(board, image, RUN_TIMEOUT)
}

/// How a benchmark's board starts: under `-icount`, with the shift its
/// instruction counter needs.
fn counting_options(board: Board) -> Result<StartOptions> {
    Ok(StartOptions {
        icount: Some(
            board
                .qemu()
                .context("benchmarks run on emulated boards")?
                .counter
                .icount_shift(),
        ),
        ..StartOptions::default()
    })
}

/// [`run_image`], for a program that may take up to `timeout`.
pub fn run_image_within(board: Board, image: firmware::Image, timeout: Duration) -> Result<String> {
    let mut device = Device::start(board, image.shadow, &counting_options(board)?)?;
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + timeout;
    loop {
        let status = poll(&mut device, &mut stdout, &mut stderr)?;
        if status.errors > 0 || status.halted() {
            // Let the rest of the error report arrive.
            std::thread::sleep(Duration::from_millis(50));
            let _ = poll(&mut device, &mut stdout, &mut stderr);
            bail!(
                "the program failed:\n{}{}",
                String::from_utf8_lossy(&stdout),
                String::from_utf8_lossy(&stderr)
            );
        }
        if status.finished() {
            return Ok(String::from_utf8_lossy(&stdout).into_owned());
        }
        ensure!(
            Instant::now() < deadline,
            "the program did not finish within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The symbol of the word that lets a program waiting in `cost_wait_host`
/// go on (`firmware/cost.rs`).
pub const HOST_GO_SYMBOL: &str = "COST_HOST_GO";

/// Rounds of the dynamic compiler at one `@specialize`, at most.
const MAX_SPECIALIZE_ROUNDS: usize = 4;

/// What a program run under the dynamic compiler printed, and what the
/// dynamic compiler did.
pub struct SpecializedRun {
    pub stdout: String,
    /// One line per function it gave a version (`tail(x: Element)`).
    pub specialized: Vec<String>,
}

/// Runs `firmware`'s development image as `watch` would, with the dynamic
/// compiler on: each time the program prints `@specialize` and waits in
/// `cost_wait_host`, the host runs the dynamic compiler's rounds until it
/// has nothing left to do, then lets the program go on. Under `-icount`
/// the program's counts do not depend on how long that takes.
pub fn run_specializing(
    firmware: &Firmware,
    board: Board,
    timeout: Duration,
) -> Result<SpecializedRun> {
    use cargo_bluescript::session::Session;
    let mut session = Session::new(firmware, board, false)?;
    session.set_start_options(counting_options(board)?);
    session.start(&mut |_| {})?;
    let image = session
        .device()
        .context("the program did not start")?
        .shadow
        .image
        .clone();
    let go = symbol_address(&image, HOST_GO_SYMBOL)?;
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut specialized = Vec::new();
    let mut waiting_seen = 0;
    let deadline = Instant::now() + timeout;
    loop {
        let poll = session.poll()?.context("the board was lost")?;
        for output in poll.output {
            match output.stream {
                Stream::Stdout => stdout.extend(output.bytes),
                Stream::Stderr => stderr.extend(output.bytes),
            }
        }
        let text = String::from_utf8_lossy(&stdout).into_owned();
        if poll.status.errors > 0 || poll.status.halted() {
            bail!(
                "the program failed:\n{text}{}",
                String::from_utf8_lossy(&stderr)
            );
        }
        if poll.status.finished() {
            return Ok(SpecializedRun {
                stdout: text,
                specialized,
            });
        }
        let waiting = text.lines().filter(|l| *l == "@specialize").count();
        if waiting > waiting_seen {
            waiting_seen = waiting;
            // A round installs what the profiles call for; the versions'
            // records start at zero, so the next one has nothing to do.
            for _ in 0..MAX_SPECIALIZE_ROUNDS {
                let Some(round) = session.specialize()? else {
                    break;
                };
                specialized.extend(
                    round
                        .specialized
                        .iter()
                        .map(|(name, specialization)| format!("{name}{specialization}")),
                );
            }
            let device = session.device().context("the board was lost")?;
            cargo_bluescript::connection::with_halted(device.core(), |core| {
                core.write_word(go, 1)
            })?;
        }
        ensure!(
            Instant::now() < deadline,
            "the program did not finish within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The address of `symbol` in the ELF at `image`.
fn symbol_address(image: &Path, symbol: &str) -> Result<u32> {
    use object::{Object, ObjectSymbol};
    let data = std::fs::read(image)?;
    let elf = object::File::parse(&*data)?;
    elf.symbols()
        .find(|s| s.name() == Ok(symbol))
        .map(|s| s.address() as u32)
        .with_context(|| format!("the image has no `{symbol}`"))
}

/// Appends the device's output to `stdout` and `stderr`; its state.
fn poll(device: &mut Device, stdout: &mut Vec<u8>, stderr: &mut Vec<u8>) -> Result<ProgramStatus> {
    let poll = device.poll()?;
    for output in poll.output {
        match output.stream {
            Stream::Stdout => stdout.extend(output.bytes),
            Stream::Stderr => stderr.extend(output.bytes),
        }
    }
    Ok(poll.status)
}

/// The `@calibration` line of the harnessed script's output, checked: the
/// counter measured every loop of known length exactly.
pub fn parse_calibration(output: &str) -> Result<[u64; 5]> {
    let mut calibration = None;
    for line in output.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if let ["@calibration", values @ ..] = fields.as_slice() {
            if values.len() == 5 {
                let mut parsed = [0; 5];
                for (slot, value) in parsed.iter_mut().zip(values) {
                    *slot = value.parse()?;
                }
                calibration = Some(parsed);
            }
        }
    }
    let calibration = calibration.context("no calibration line")?;
    ensure!(
        calibration[0] == 0 && calibration[3] <= 1,
        "the instruction counter is not exact: of {} loops measured, {} missed, and {} at a tick edge were off by up to {}",
        calibration[1],
        calibration[0],
        calibration[2],
        calibration[3]
    );
    Ok(calibration)
}

pub fn parse_output(output: &str) -> Result<Measured> {
    let calibration = parse_calibration(output)?;
    let (mut bluescript, mut rust) = (Runs::default(), Runs::default());
    for line in output.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if let [side @ ("@bluescript" | "@rust"), verified, result, count, exact] =
            fields.as_slice()
        {
            let (language, runs) = if *side == "@rust" {
                ("Rust", &mut rust)
            } else {
                ("BlueScript", &mut bluescript)
            };
            ensure!(
                *verified == "true",
                "the {language} version computed a wrong result: {result}"
            );
            runs.rounds
                .push((result.parse()?, count.parse()?, *exact == "true"));
        }
    }
    let measured = Measured {
        calibration,
        bluescript: bluescript.count("BlueScript")?,
        rust: rust.count("Rust")?,
    };
    let (b, r) = (bluescript.rounds[0].0, rust.rounds[0].0);
    ensure!(b == r, "the versions disagree: BlueScript {b}, Rust {r}");
    Ok(measured)
}

/// Builds the image of one benchmark (`release`: `--release`), runs it
/// and checks its results.
pub fn measure(firmware: &Firmware, benchmark: &Benchmark, release: bool) -> Result<Measured> {
    std::fs::write(&firmware.main_script, harnessed_script(benchmark))?;
    let image = firmware::build(firmware, release, &mut StderrLog)?;
    let output = run_image(firmware.board, image)?;
    parse_output(&output).with_context(|| format!("the program printed:\n{output}"))
}

/// `1234567` → `1 234 567`.
pub fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

pub fn geometric_mean(ratios: impl ExactSizeIterator<Item = f64>) -> f64 {
    let count = ratios.len() as f64;
    (ratios.map(f64::ln).sum::<f64>() / count).exp()
}

/// A bench's exit: success, or failure with the error printed.
pub fn exit_code(result: Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
