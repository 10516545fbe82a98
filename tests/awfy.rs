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

use awfy::{Port, Warm};
use cargo_bluescript::board::Board;
use cargo_bluescript::project::Project as Firmware;

/// A project `name` on `qemu-m3` made into the AWFY firmware (the project
/// lives as long as it is kept).
fn awfy_firmware(name: &str) -> (support::Project, Firmware) {
    let board = Board::named("qemu-m3").unwrap();
    let project = support::Project::for_board(name, board);
    awfy::install_firmware(&project.root).unwrap();
    let firmware = harness::locate(&project.root).unwrap();
    (project, firmware)
}

#[test]
fn sieve_is_counted_per_inner_iteration_on_qemu_m3() {
    let (_project, firmware) = awfy_firmware("awfy_check");
    let source = awfy::source("sieve", Port::Typed).unwrap();
    // `measure` fails on a failed verification, a counter that misses a
    // loop's length, or rounds that disagree.
    let (measured, _) =
        awfy::measure(&firmware, &source, Port::Typed, 2, 2, false, Warm::AsBuilt).unwrap();
    assert_eq!(measured.cold, None);
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
fn the_untyped_list_verifies_cold_and_warm_after_the_dynamic_compiler() {
    let (_project, firmware) = awfy_firmware("awfy_untyped_check");
    let source = awfy::source("list", Port::Untyped).unwrap();
    // Fails if the untyped port's verification does, in the cold round or
    // in a warm one, which run the versions the host specialized.
    let (measured, specialized) = awfy::measure(
        &firmware,
        &source,
        Port::Untyped,
        1,
        2,
        false,
        Warm::Specialized,
    )
    .unwrap();
    assert!(
        specialized
            .iter()
            .any(|f| f.starts_with("List.isShorterThan(")),
        "{specialized:?}"
    );
    let cold = measured.cold.expect("a cold round");
    // The versions read `next` without a lookup. An iteration walks lists
    // of 15, 10 and 6 elements through thousands of `tail` calls.
    assert!(
        cold > measured.instructions * 3 / 2,
        "cold {cold}, warm {}",
        measured.instructions
    );
    assert!(measured.instructions > 100_000, "{}", measured.instructions);
}

#[test]
fn a_failed_verification_or_rounds_that_disagree_fail_the_measurement() {
    let parse = |rounds: &str, count: usize, cold_round: bool| {
        let calibration = "@calibration 0 1004 3 1 140\n@empty 12\n";
        awfy::parse_output(&format!("{calibration}{rounds}"), count, cold_round)
    };
    let error = |parsed: anyhow::Result<awfy::Measured>| parsed.unwrap_err().to_string();
    let measured = parse("@awfy true 2 5 true\n@awfy true 2 5 true\n", 2, false).unwrap();
    assert_eq!(measured.instructions, 2_000_000_005 - 12);
    assert_eq!(measured.cold, None);
    assert!(measured.exact);
    let failed = parse("@awfy false 0 900 true\n", 1, false);
    assert!(error(failed).contains("verification failed"));
    let disagree = parse("@awfy true 0 900 true\n@awfy true 0 990 true\n", 2, false);
    assert!(error(disagree).contains("different instructions"));
    let later_disagree = parse(
        "@awfy true 0 990 true\n@awfy true 0 900 true\n@awfy true 0 950 true\n",
        3,
        false,
    );
    assert!(error(later_disagree).contains("different instructions"));
    // The first round may count more (it records type profiles), and the
    // median is the later rounds' count.
    let first_more = parse(
        "@awfy true 0 990 true\n@awfy true 0 900 true\n@awfy true 0 900 true\n",
        3,
        false,
    )
    .unwrap();
    assert_eq!((first_more.instructions, first_more.spread), (900 - 12, 0));
    assert!(parse("@awfy true 0 900 true\n", 2, false).is_err());
    // The cold round is counted apart from the warm rounds, and must
    // verify too.
    let cold = parse("@cold true 0 5000 true\n@awfy true 0 900 true\n", 1, true).unwrap();
    assert_eq!((cold.cold, cold.instructions), (Some(5000 - 12), 900 - 12));
    let cold_failed = parse("@cold false 0 5000 true\n@awfy true 0 900 true\n", 1, true);
    assert!(error(cold_failed).contains("cold round: the benchmark's verification failed"));
    assert!(parse("@awfy true 0 900 true\n", 1, true).is_err());
    // The warm-up is not counted, but must verify.
    let warmed = "@cold true 0 5000 true\n@warmup true 0 9000 true\n@awfy true 0 900 true\n";
    assert_eq!(parse(warmed, 1, true).unwrap().instructions, 900 - 12);
    let warm_up_failed = warmed.replace("@warmup true", "@warmup false");
    assert!(error(parse(&warm_up_failed, 1, true)).contains("the warm-up: the benchmark's"));
}
