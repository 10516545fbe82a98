//! The AWFY comparison's harness works on `qemu-m3`, the board of
//! MicroPython's counts: a program of `tests/benchmarks/awfy/` runs with
//! its verification, the counter is exact and the rounds agree. The
//! numbers themselves come from `cargo bench -p cargo-bluescript --bench
//! awfy`.

#[path = "benchmarks/awfy.rs"]
mod awfy;
#[path = "benchmarks/harness.rs"]
mod harness;
mod support;

use cargo_bluescript::board::Board;

#[test]
fn sieve_is_counted_per_inner_iteration_on_qemu_m3() {
    let board = Board::named("qemu-m3").unwrap();
    let project = support::Project::for_board("awfy_check", board);
    awfy::install_firmware(&project.root).unwrap();
    let firmware = harness::locate(&project.root).unwrap();
    let source = awfy::source("sieve").unwrap();
    // `measure` fails on a failed verification, a counter that misses a
    // loop's length, or rounds that disagree.
    let measured = awfy::measure(&firmware, &source, 2, 2, false).unwrap();
    let [missed, loops, _, _, tick] = measured.calibration;
    assert_eq!(missed, 0);
    assert!(loops > 1000, "{loops}");
    assert!(tick > 0, "a tick interrupt takes {tick} instructions");
    // Two inner iterations, each filling 5000 flags and crossing off
    // 12 000 multiples.
    assert!(
        measured.instructions > 2 * 17_000,
        "{}",
        measured.instructions
    );
}

#[test]
fn a_failed_verification_or_rounds_that_disagree_fail_the_measurement() {
    let calibration = "@calibration 0 1004 3 1 140\n@empty 12\n";
    let measured = awfy::parse_output(
        &format!("{calibration}@awfy true 2 5 true\n@awfy true 2 5 true\n"),
        2,
    )
    .unwrap();
    assert_eq!(measured.instructions, 2_000_000_005 - 12);
    assert!(measured.exact);
    let failed = awfy::parse_output(&format!("{calibration}@awfy false 0 900 true\n"), 1);
    assert!(failed
        .unwrap_err()
        .to_string()
        .contains("verification failed"));
    let disagree = awfy::parse_output(
        &format!("{calibration}@awfy true 0 900 true\n@awfy true 0 990 true\n"),
        2,
    );
    assert!(disagree
        .unwrap_err()
        .to_string()
        .contains("different instructions"));
    let missing = awfy::parse_output(&format!("{calibration}@awfy true 0 900 true\n"), 2);
    assert!(missing.is_err());
}
