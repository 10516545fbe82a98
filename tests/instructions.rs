//! The instruction benchmarks' harness works: on QEMU with `-icount`, the
//! counter measures loops of known length exactly at every phase of the
//! tick, and a benchmark runs, checks its result in both languages and
//! repeats its count. The numbers themselves come from
//! `cargo bench -p cargo-bluescript --bench instructions`.

#[path = "benchmarks/harness.rs"]
mod harness;
mod support;

#[test]
fn the_instruction_counter_is_exact_and_a_benchmark_checks_itself() {
    let benchmarks = harness::discover(&["fib".to_string()]).unwrap();
    let project = support::Project::new("instructions_check");
    harness::install_firmware(&project.root, &benchmarks).unwrap();
    let firmware = harness::locate(&project.root).unwrap();
    // `measure` fails on a wrong result, a counter that misses a loop's
    // length, or rounds that disagree.
    let measured = harness::measure(&firmware, &benchmarks[0], false).unwrap();
    let [missed, loops, _, _, tick] = measured.calibration;
    assert_eq!(missed, 0);
    assert!(loops > 1000, "{loops}");
    assert!(tick > 0, "a tick interrupt takes {tick} instructions");
    // fib(24) makes 150 049 calls.
    assert!(measured.bluescript.0 > 150_049 && measured.rust.0 > 150_049);
}

/// Every benchmark, typed and untyped, compiles, runs on the board and
/// verifies its result in both languages (the counts are the bench's);
/// those that need more RAM than the board has are left out.
#[test]
fn every_benchmark_computes_the_right_result() {
    let benchmarks = harness::discover(&[]).unwrap();
    let project = support::Project::new("benchmarks_check");
    harness::install_firmware(&project.root, &benchmarks).unwrap();
    let firmware = harness::locate(&project.root).unwrap();
    let mut failures = Vec::new();
    let board = support::board();
    for benchmark in benchmarks.iter().filter(|b| harness::fits(board, &b.name)) {
        let untyped = benchmark.untyped.as_ref().map(|script| harness::Benchmark {
            name: benchmark.name.clone(),
            script: script.clone(),
            untyped: None,
        });
        for (version, program) in [("typed", Some(benchmark)), ("untyped", untyped.as_ref())] {
            let Some(program) = program else { continue };
            if let Err(error) = harness::measure(&firmware, program, false) {
                failures.push(format!("{} ({version}): {error:#}", benchmark.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
