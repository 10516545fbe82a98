//! End-to-end: the `cargo-bluescript` binary, a project made from the
//! template, real rustc, real QEMU. Nothing is skipped when a tool is
//! missing: `.ci/run` installs QEMU and the target.

mod support;

use std::time::Duration;
use support::{number_after, text, tool, Project, Watch};

#[test]
fn run_prints_the_exact_output_of_a_finite_program_and_exits_zero() {
    let project = Project::new("finite");
    project.write_script(
        r#"
function fib(n: integer): integer {
  if (n < 2) return n
  return fib(n - 1) + fib(n - 2)
}
let total = 0
for (let i = 0; i < 5; i++) {
  if (i == 3) continue
  total += i
}
console.log("fib", fib(20), "total", total)
print(7 / 2)
print(7 / 2.0)
print(2 ** 10)
print(-7 % 3)
print(1 < 2 && !false)
print("x = " + 1.5 + "!")
led_set(true)
console.log("toggles", led_toggle_count())
setTimeout(() => { print("later") }, 20)
"#,
    );
    let output = project.run();
    assert_eq!(
        text(&output.stdout),
        "fib 6765 total 7\n3\n3.5\n1024\n-1\ntrue\nx = 1.5!\nLED on\ntoggles 1\nlater\n",
        "stderr: {}",
        text(&output.stderr)
    );
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
}

#[test]
fn a_release_image_calls_directly_and_prints_the_same() {
    let project = Project::new("release");
    project.write_script(
        "function fib(n: integer): integer {\n  if (n < 2) return n\n  return fib(n - 1) + fib(n - 2)\n}\n\
         let ticks = 0\nfunction tick() { ticks++; if (ticks == 3) { clearInterval(id) } print(ticks) }\n\
         const id = setInterval(tick, 10)\nprint(fib(24))\n",
    );
    let output = support::tool(&["run", "--release"], &project.root)
        .output()
        .unwrap();
    assert_eq!(
        text(&output.stdout),
        "46368\n1\n2\n3\n",
        "stderr: {}",
        text(&output.stderr)
    );
    assert!(output.status.success());
    let generated =
        std::fs::read_to_string(support::shared_target_dir().join("bluescript/release/scripts.rs"))
            .unwrap();
    assert!(generated.contains("__bs_fn_fib(v_n.wrapping_sub((1_i32)))"));
}

#[test]
fn run_reports_a_runtime_error_with_its_location_and_fails() {
    let project = Project::new("crash");
    project.write_script("let zero = 0\nprint(1)\nprint(10 / zero)\nprint(2)\n");
    let output = project.run();
    assert_eq!(text(&output.stdout), "1\n");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("integer division by zero") && stderr.contains("scripts/main.bs:3:7"),
        "stderr: {stderr}"
    );
    assert!(!output.status.success());
}

/// A fault in a driver halts the device, with a message: `run` shows it and
/// fails, whichever way the host reaches the board (the serial agent still
/// answers once the device has halted).
#[test]
fn run_reports_a_fault_in_a_driver_and_the_halted_device() {
    let project = Project::new("driver-fault");
    let driver = "#[bluescript::export]\n\
                  fn fault() {\n    \
                  // An undefined instruction.\n    \
                  #[cfg(target_arch = \"arm\")]\n    \
                  unsafe { core::arch::asm!(\"udf #0\") };\n    \
                  #[cfg(target_arch = \"riscv32\")]\n    \
                  unsafe { core::arch::asm!(\"unimp\") };\n\
                  }\n";
    std::fs::write(project.root.join("src/fault.rs"), driver).unwrap();
    let main = project.root.join("src/main.rs");
    let text_of_main = std::fs::read_to_string(&main).unwrap();
    std::fs::write(
        &main,
        text_of_main.replacen("mod led;", "mod fault;\nmod led;", 1),
    )
    .unwrap();
    project.write_script("print(1)\nfault()\nprint(2)\n");
    let output = project.run();
    assert_eq!(text(&output.stdout), "1\n");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("; the device is halted"),
        "stderr: {stderr}"
    );
    assert!(!output.status.success());
}

#[test]
fn run_refuses_a_type_error_before_building() {
    let project = Project::new("typo");
    project.write_script("let x: integer = true\n");
    let output = project.run();
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("expected a value of type integer, found boolean")
            && stderr.contains("--> scripts/main.bs:1:18")
            && stderr.contains("^^^^"),
        "stderr: {stderr}"
    );
    assert!(!output.status.success());
}

#[test]
fn watch_patches_the_running_program_and_keeps_its_state() {
    let project = Project::new("live");
    project.write_script(
        r#"let count: integer = 0

function tick() {
  count = count + 1
  console.log("count", count)
}

console.log("started")
setInterval(tick, 100)
"#,
    );
    let mut watch = Watch::start(&project);
    let build_timeout = Duration::from_secs(600);
    watch.expect_stdout(build_timeout, "`started`", |l| l == "started");
    watch.expect_stderr(Duration::from_secs(30), "Watching");
    let before = watch.expect_stdout(Duration::from_secs(10), "`count 3`", |l| {
        number_after(l, "count").is_some_and(|n| n >= 3)
    });
    let before = number_after(&before, "count").unwrap();

    // Edit the body of the function the interval calls.
    project.write_script(
        r#"let count: integer = 0

function tick() {
  count = count + 1
  console.log("tock", count * 10)
}

console.log("started")
setInterval(tick, 100)
"#,
    );
    let patched = watch.expect_stdout(Duration::from_secs(30), "from the patched tick", |l| {
        l.starts_with("tock")
    });
    watch.expect_stderr(Duration::from_secs(5), "Patched tick");
    let after = number_after(&patched, "tock").unwrap() / 10;
    // The counter continued: the program was not restarted.
    assert!(after > before, "count restarted: {before} then {after}");

    // A type error: a diagnostic, and the old code keeps running.
    project.write_script(
        r#"let count: integer = 0

function tick() {
  count = count + true
  console.log("broken", count)
}

console.log("started")
setInterval(tick, 100)
"#,
    );
    watch.expect_stderr(
        Duration::from_secs(30),
        "`+` cannot be applied to integer and boolean",
    );
    watch.expect_stderr(Duration::from_secs(5), "--> scripts/main.bs:4:11");
    let still = watch.expect_stdout(Duration::from_secs(10), "from the old tick", |l| {
        l.starts_with("tock")
    });
    assert!(number_after(&still, "tock").unwrap() / 10 > after);

    // A new function, called from an edited one.
    project.write_script(
        r#"let count: integer = 0

function tick() {
  count = count + 1
  report(count)
}

function report(n: integer) {
  console.log("report", n, n % 2 == 0)
}

console.log("started")
setInterval(tick, 100)
"#,
    );
    let reported = watch.expect_stdout(Duration::from_secs(30), "from the new function", |l| {
        l.starts_with("report")
    });
    watch.expect_stderr(Duration::from_secs(5), "report (new)");
    let n: i32 = reported.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(n > after, "count restarted: {after} then {n}");

    // Top-level code cannot be patched into a running program: it restarts.
    project.write_script(
        r#"let count: integer = 1000

function tick() {
  count = count + 1
  console.log("restarted", count)
}

console.log("started again")
setInterval(tick, 100)
"#,
    );
    watch.expect_stderr(
        Duration::from_secs(30),
        "Restarting the program: global declarations or top-level statements changed",
    );
    watch.expect_stdout(Duration::from_secs(120), "from the new program", |l| {
        l == "started again"
    });
    let restarted = watch.expect_stdout(Duration::from_secs(10), "from the new tick", |l| {
        l.starts_with("restarted")
    });
    assert_eq!(restarted, "restarted 1001");
}

#[test]
fn watch_patches_a_small_function_inside_the_callers_that_inlined_it() {
    let project = Project::new("inlined");
    let script = |scale: &str| {
        format!(
            "let count: integer = 0\n\
             function scale(n: integer): integer {{ return {scale} }}\n\
             function tick() {{\n  count = count + 1\n  console.log(\"value\", scale(count), count)\n}}\n\
             setInterval(tick, 100)\n"
        )
    };
    project.write_script(&script("n * 10"));
    let mut watch = Watch::start(&project);
    let first = watch.expect_stdout(Duration::from_secs(600), "a value", |l| {
        l.starts_with("value")
    });
    let parts: Vec<i32> = first
        .split(' ')
        .skip(1)
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(parts[0], parts[1] * 10, "{first}");
    watch.expect_stderr(Duration::from_secs(30), "Watching");
    // `tick` calls the small `scale` directly, and rustc inlined it: the
    // patch recompiles `tick` with it, or the old copy would go on running.
    project.write_script(&script("n * 1000 + 7"));
    watch.expect_stderr(Duration::from_secs(30), "Patched scale");
    let patched = watch.expect_stdout(Duration::from_secs(10), "a new value", |l| {
        l.split(' ')
            .nth(1)
            .and_then(|w| w.parse::<i32>().ok())
            .is_some_and(|v| v % 1000 == 7)
    });
    let parts: Vec<i32> = patched
        .split(' ')
        .skip(1)
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(parts[0], parts[1] * 1000 + 7, "{patched}");
    // The program was not restarted.
    assert!(parts[1] > 1, "{patched}");
}

#[test]
fn watch_patches_functions_that_use_string_literals() {
    let project = Project::new("live_strings");
    project.write_script(
        r#"let log: string = "v1"

function tick() {
  log = log + "."
  if (log.length > 40) { log = "v1" }
  console.log("tick", log.length)
}

console.log("started")
setInterval(tick, 100)
"#,
    );
    let mut watch = Watch::start(&project);
    watch.expect_stdout(Duration::from_secs(600), "`started`", |l| l == "started");
    watch.expect_stderr(Duration::from_secs(30), "Watching");
    watch.expect_stdout(Duration::from_secs(10), "`tick`", |l| l.starts_with("tick"));

    // The patch brings literals of its own (static strings in the patch
    // region, whose header is the image's string descriptor) and stores a
    // new string into the global.
    project.write_script(
        r#"let log: string = "v1"

function tick() {
  log = "x" + log.length + "é"
  console.log("patched", log, log.startsWith("x") && log.endsWith("é"))
}

console.log("started")
setInterval(tick, 100)
"#,
    );
    let patched = watch.expect_stdout(Duration::from_secs(30), "from the patched tick", |l| {
        l.starts_with("patched x")
    });
    watch.expect_stderr(Duration::from_secs(5), "Patched tick");
    assert!(patched.ends_with("é true"), "{patched}");
    // The next tick reads the string the patched code stored: "x<n>é" is
    // 3 or 4 units long.
    let next = watch.expect_stdout(Duration::from_secs(10), "a second patched tick", |l| {
        l.starts_with("patched x")
    });
    assert!(
        next == "patched x3é true" || next == "patched x4é true",
        "{next}"
    );
}

/// Editors save in several file events: the file truncated and written
/// (slowly: a large file), or moved away and written anew (vim), or a new
/// file renamed over it (JetBrains, Kate). Each save is patched once, from
/// the whole file: nothing is compiled from a half-written one.
#[test]
fn watch_patches_each_editors_save_once_and_whole() {
    let project = Project::new("editors");
    let script = |version: usize| {
        format!(
            "let count: integer = 0\n\
             function tick() {{\n  count = count + 1\n  console.log(\"v{version}\", count)\n}}\n\
             setInterval(tick, 20)\n"
        )
    };
    let main = project.root.join("scripts/main.bs");
    project.write_script(&script(0));
    let mut watch = Watch::start(&project);
    watch.expect_stdout(Duration::from_secs(600), "from v0", |l| {
        l.starts_with("v0 ")
    });
    watch.expect_stderr(Duration::from_secs(30), "Watching");
    let saves: [&dyn Fn(&str); 3] = [
        &|text| {
            use std::io::Write;
            let mut file = std::fs::File::create(&main).unwrap();
            let (head, tail) = text.split_at(text.len() / 2);
            file.write_all(head.as_bytes()).unwrap();
            file.flush().unwrap();
            std::thread::sleep(Duration::from_millis(300));
            file.write_all(tail.as_bytes()).unwrap();
        },
        &|text| {
            let backup = main.with_extension("bs~");
            std::fs::rename(&main, &backup).unwrap();
            std::fs::write(&main, text).unwrap();
            let mode = std::fs::metadata(&backup).unwrap().permissions();
            std::fs::set_permissions(&main, mode).unwrap();
            std::fs::remove_file(&backup).unwrap();
        },
        &|text| {
            let temporary = main.with_extension("bs.tmp");
            std::fs::write(&temporary, text).unwrap();
            std::fs::rename(&temporary, &main).unwrap();
        },
    ];
    for (version, save) in (1..).zip(saves) {
        save(&script(version));
        let prefix = format!("v{version} ");
        let line = watch.expect_stdout(Duration::from_secs(30), "from the new code", |l| {
            l.starts_with(&prefix)
        });
        // Patched, not restarted: the count goes on.
        assert!(
            number_after(&line, &prefix[..prefix.len() - 1]).unwrap() > 1,
            "{line}"
        );
        watch.expect_stderr(Duration::from_secs(10), "Patched tick");
    }
    std::thread::sleep(Duration::from_millis(500));
    watch.drain_stderr();
    let said: Vec<&String> = watch
        .seen_stderr
        .iter()
        .skip_while(|l| !l.contains("Watching"))
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(said.len(), 4, "one line per save: {said:#?}");
}

/// The script of `watch_patches_methods_and_closures`, with the body of
/// `Counter.step` and the line the interval's closure prints.
fn counting_script(step: &str, print: &str) -> String {
    format!(
        r#"class Counter {{
  n: integer
  constructor(start: integer) {{ this.n = start }}
  step(): integer {{ {step} }}
}}

const counter = new Counter(0)

function start(label: string) {{
  let ticks = 0
  setInterval(() => {{
    ticks++
    {print}
  }}, 100)
}}

console.log("started")
start("count")
"#
    )
}

#[test]
fn watch_patches_methods_and_closures_and_keeps_their_state() {
    // The interval calls the method through an `any`: its call's inline
    // cache holds the method's adapter, which calls through the slot.
    let through_any = "const c: any = counter; console.log(label, c.step())";
    let project = Project::new("live_objects");
    project.write_script(&counting_script(
        "this.n = this.n + 1; return this.n",
        through_any,
    ));
    let mut watch = Watch::start(&project);
    watch.expect_stdout(Duration::from_secs(600), "`started`", |l| l == "started");
    watch.expect_stderr(Duration::from_secs(30), "Watching");
    let before = watch.expect_stdout(Duration::from_secs(10), "`count 3`", |l| {
        number_after(l, "count").is_some_and(|n| n >= 3)
    });
    let before = number_after(&before, "count").unwrap();

    // A method's body: the object keeps its field, the new code runs,
    // also where a cached call reaches it.
    project.write_script(&counting_script(
        "this.n = this.n + 1; return this.n * 1000",
        through_any,
    ));
    let patched = watch.expect_stdout(Duration::from_secs(30), "from the patched method", |l| {
        number_after(l, "count").is_some_and(|n| n >= 1000)
    });
    watch.expect_stderr(Duration::from_secs(5), "Patched Counter.step");
    let after = number_after(&patched, "count").unwrap() / 1000;
    assert!(
        after > before,
        "the object's state was lost: {before} then {after}"
    );

    // The body of the running interval's closure: the closure made before
    // the edit runs the new code with the variables it captured.
    project.write_script(&counting_script(
        "this.n = this.n + 1; return this.n * 1000",
        "console.log(label + '-ticks', ticks)",
    ));
    let ticked = watch.expect_stdout(Duration::from_secs(30), "from the patched closure", |l| {
        number_after(l, "count-ticks").is_some()
    });
    let ticks = number_after(&ticked, "count-ticks").unwrap();
    assert!(ticks > after, "the captured counter restarted: {ticks}");

    // A type the image has no descriptor for: the patch brings it, where
    // compacting never moves it, and the program runs on.
    project.write_script(&counting_script(
        "this.n = this.n + 1; return this.n * 1000",
        "const all: Counter[] = [counter]; console.log(label + '-all', all.length, ticks)",
    ));
    let all = watch.expect_stdout(Duration::from_secs(30), "from the patched closure", |l| {
        l.starts_with("count-all 1 ")
    });
    let later: i32 = all.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(later > ticks, "the program restarted: {all}");
}

#[test]
fn the_heap_size_comes_from_the_project_manifest() {
    let project = Project::new("small_heap");
    let manifest = project.root.join("Cargo.toml");
    let original = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        original.replace(
            "[package.metadata.bluescript]\n",
            "[package.metadata.bluescript]\nheap-size = \"4K\"\n",
        ),
    )
    .unwrap();
    // 8 KB of integers: more than a 4 KiB heap holds, not the default 16.
    project.write_script("const big = new Array<integer>(2000, 1)\nprint(big.length)\n");
    // A target directory of its own: the runtime is built for this size.
    let target = tempfile::tempdir().unwrap();
    let output = tool(&["run"], &project.root)
        .env("CARGO_TARGET_DIR", target.path())
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("run-time error: out of memory (at scripts/main.bs:1:13)"),
        "{stderr}"
    );
}

#[test]
fn collections_after_a_run_time_error_deep_in_calls_keep_working() {
    // The error abandons 30 frames that linked root frames of the shadow
    // stack; the later callbacks reuse that stack memory with frames of
    // their own and collect many times, which would follow a stale chain
    // of frames had the catcher not unlinked them.
    let project = Project::new("error_then_collect");
    project.write_script(
        r#"class Box {
  value: integer
  constructor(value: integer) {
    this.value = value
  }
}

function deep(n: integer, box: Box): integer {
  const mine = new Box(n)
  if (n == 0) {
    const small = [1, 2, 3]
    return small[box.value + 6]
  }
  return deep(n - 1, mine) + mine.value
}

function nest(n: integer, box: Box): integer {
  const label = "level " + n
  if (n == 0) {
    let total = 0
    for (let i = 0; i < 200; i++) {
      const b = new Box(i)
      total += b.value + ("garbage " + i).length
    }
    return total
  }
  return nest(n - 1, new Box(n)) + box.value + label.length - label.length
}

let rounds = 0
let ticker = 0
function fail() {
  deep(30, new Box(7))
}
function churn() {
  rounds++
  const kept = new Box(rounds)
  const total = nest(40, new Box(0))
  console.log("round", kept.value, total)
  if (rounds == 4) {
    clearInterval(ticker)
  }
}

console.log("started")
setTimeout(fail, 1)
ticker = setInterval(churn, 20)
"#,
    );
    let mut watch = Watch::start(&project);
    watch.expect_stdout(Duration::from_secs(600), "`started`", |l| l == "started");
    watch.expect_stderr(
        Duration::from_secs(30),
        "run-time error: index 7 out of range (length 3)",
    );
    // The boxes of levels 2..=40, the loop's boxes and its strings' lengths.
    for round in 1..=4 {
        let line = format!("round {round} 22809");
        watch.expect_stdout(Duration::from_secs(30), &format!("`{line}`"), |l| l == line);
    }
    watch.interrupt();
}

#[test]
fn build_works_from_anywhere_with_a_manifest_path() {
    let project = Project::new("remote");
    let manifest = project.root.join("Cargo.toml");
    let elsewhere = tempfile::tempdir().unwrap();
    let output = support::tool(
        &["build", "--manifest-path", manifest.to_str().unwrap()],
        elsewhere.path(),
    )
    .output()
    .unwrap();
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "stderr: {stderr}");
    assert!(stderr.contains("Built"), "stderr: {stderr}");
    // The editor declarations follow the firmware's drivers.
    let declarations = std::fs::read_to_string(project.root.join("bluescript.d.ts")).unwrap();
    assert!(
        declarations.contains("declare function led_set(on: boolean): void;"),
        "{declarations}"
    );
}

#[test]
fn a_rust_error_in_the_firmware_shows_rustcs_message_before_the_failure() {
    let project = Project::new("broken");
    let led = project.root.join("src/led.rs");
    let mut driver = std::fs::read_to_string(&led).unwrap();
    driver.push_str("\nfn broken() -> i32 {\n    \"not a number\"\n}\n");
    std::fs::write(&led, driver).unwrap();
    let output = tool(&["build"], &project.root).output().unwrap();
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "stderr: {stderr}");
    let rustc = stderr.find("mismatched types").expect(&stderr);
    let failed = stderr
        .find("building the firmware failed (see cargo's messages above)")
        .expect(&stderr);
    assert!(rustc < failed, "stderr: {stderr}");
    assert!(stderr.contains("src/led.rs"), "stderr: {stderr}");
}

#[test]
fn outside_a_project_the_tool_says_what_to_do() {
    let empty = tempfile::tempdir().unwrap();
    let output = support::tool(&["run"], empty.path()).output().unwrap();
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("could not find `Cargo.toml`"),
        "stderr: {stderr}"
    );
}

/// A script whose `report` function compiles to several KiB, tagged `version`.
/// The size of the project's patch region in bytes: its template's
/// `BLUESCRIPT_PATCH_REGION_SIZE` (a board with little RAM sets one), or
/// the runtime's default, 64 KiB.
fn patch_region_size(project: &Project) -> usize {
    let config = std::fs::read_to_string(project.root.join(".cargo/config.toml")).unwrap();
    let Some(line) = config
        .lines()
        .find(|line| line.starts_with("BLUESCRIPT_PATCH_REGION_SIZE"))
    else {
        return 64 * 1024;
    };
    let value = line.split('"').nth(1).unwrap();
    match value.strip_suffix(['K', 'k']) {
        Some(kib) => kib.parse::<usize>().unwrap() * 1024,
        None => value.parse().unwrap(),
    }
}

/// A program whose `report` has `branches` branches, each printing its own
/// long line: about 120 bytes of patch each.
fn bulky_script(version: usize, branches: usize) -> String {
    let mut lines = String::new();
    for i in 0..branches {
        lines.push_str(&format!(
            "  if (n == {i}) {{ console.log(\"version {version} says {i} with enough text to take room\", n) }}\n"
        ));
    }
    format!(
        "let count: integer = 0\n\nfunction report(n: integer) {{\n{lines}}}\n\n\
         function tick() {{\n  count = count + 1\n  report(count % {branches})\n  console.log(\"count\", count)\n}}\n\n\
         setInterval(tick, 20)\n"
    )
}

#[test]
fn watch_reclaims_the_patch_region_when_it_fills_up() {
    let project = Project::new("compact");
    // Each patch of `report` takes a sixth of the region or so: 100
    // branches in the default 64 KiB.
    let branches = (patch_region_size(&project) / 512).min(100);
    project.write_script(&bulky_script(0, branches));
    let mut watch = Watch::start(&project);
    watch.expect_stdout(Duration::from_secs(600), "from version 0", |l| {
        l.starts_with("version 0 ")
    });
    watch.expect_stderr(Duration::from_secs(30), "Watching");
    let mut compacted_at = None;
    for version in 1..=40 {
        project.write_script(&bulky_script(version, branches));
        let prefix = format!("version {version} ");
        watch.expect_stdout(Duration::from_secs(30), "from the new version", |l| {
            l.starts_with(&prefix)
        });
        watch.drain_stderr();
        if watch.seen_stderr.iter().any(|l| l.contains("Compacting")) {
            compacted_at = Some(version);
            break;
        }
    }
    let compacted_at = compacted_at.expect("the patch region never filled up");
    // Patching goes on after the region was reclaimed, with the program's state.
    let before = watch.expect_stdout(Duration::from_secs(10), "a count", |l| {
        l.starts_with("count ")
    });
    for version in compacted_at + 1..compacted_at + 4 {
        project.write_script(&bulky_script(version, branches));
        let prefix = format!("version {version} ");
        watch.expect_stdout(Duration::from_secs(30), "from the new version", |l| {
            l.starts_with(&prefix)
        });
    }
    let after = watch.expect_stdout(Duration::from_secs(10), "a count", |l| {
        l.starts_with("count ")
    });
    let count = |line: &str| line["count ".len()..].parse::<i32>().unwrap();
    assert!(count(&after) > count(&before), "{before} then {after}");
}

fn trapping_script(work: &str, label: &str) -> String {
    format!(
        r#"let count: integer = 0

function work() {{
  {work}
}}

function tick() {{
  count = count + 1
  work()
  console.log("{label}", count)
}}

setInterval(tick, 50)
"#
    )
}

/// On RISC-V the trap handler reports a fault of script code that the host
/// patched in (here an illegal instruction spliced in with `code`) as a
/// run-time error with its address, and the program goes on with its
/// state. (Cortex-M halts on such a fault, as on any other.)
#[test]
fn a_fault_in_patched_code_is_a_run_time_error_on_risc_v() {
    if support::board().isa().family() != "riscv32" {
        return;
    }
    let project = Project::new("trap");
    project.write_script(&trapping_script("", "count"));
    let mut watch = Watch::start(&project);
    let before = watch.expect_stdout(Duration::from_secs(600), "`count 3`", |l| {
        number_after(l, "count").is_some_and(|n| n >= 3)
    });
    watch.expect_stderr(Duration::from_secs(30), "Watching");
    project.write_script(&trapping_script(
        r#"code`unsafe { core::arch::asm!("unimp") }`"#,
        "count",
    ));
    let fault = "run-time error: illegal instruction at pc=0x";
    let error = watch.expect_stderr(Duration::from_secs(30), fault);
    let address = &error[error.find(fault).unwrap() + fault.len()..];
    assert!(
        address.len() == 8 && address.chars().all(|c| c.is_ascii_hexdigit()),
        "{error}"
    );
    // Every callback faults, and the next one runs again.
    watch.expect_stderr(Duration::from_secs(5), fault);
    project.write_script(&trapping_script("", "again"));
    let before = number_after(&before, "count").unwrap();
    let after = watch.expect_stdout(Duration::from_secs(30), "a count after the fix", |l| {
        number_after(l, "again").is_some()
    });
    // The faulting callbacks counted too (each faulted after its increment),
    // so the count skips ahead: the program was never restarted.
    let after = number_after(&after, "again").unwrap();
    assert!(after > before + 2, "{before} then {after}");
}

/// Two classes with the same fields in different orders, walked by
/// untyped functions: a version specialized to one class would read the
/// other's fields at the wrong offsets.
fn specializing_script(extra: &str) -> String {
    format!(
        "class Cell {{\n  value: integer\n  next: Cell | null\n  label: any\n\
         \x20 constructor(v: integer, next: Cell | null) {{ this.value = v; this.next = next; this.label = v }}\n\
         \x20 twice(k: integer): integer {{ return this.value * k }}\n}}\n\
         class Other {{\n  label: any\n  next: Other | null\n  value: integer\n\
         \x20 constructor(v: integer, next: Other | null) {{ this.value = v; this.next = next; this.label = v }}\n\
         \x20 twice(k: integer): integer {{ return this.value * k * 10 }}\n}}\n\
         function sum(list) {{\n  let total = 0\n  let node = list\n\
         \x20 while (node != null) {{\n    total = total + node.value + node.twice(2)\n    node = node.next\n  }}\n\
         \x20 return total{extra}\n}}\n\
         function labels(list) {{\n  let text = ''\n  let node = list\n\
         \x20 while (node != null) {{\n    text = text + node.label\n    node = node.next\n  }}\n  return text\n}}\n\
         function setValue(node, v) {{\n  node.value = v\n}}\n\
         const cells = new Cell(1, new Cell(2, new Cell(3, null)))\n\
         const spare = new Cell(0, null)\n\
         const others = new Other(1, new Other(2, null))\n\
         let phase = 0\nlet ticks = 0\n\
         setInterval(() => {{\n  ticks++\n  setValue(spare, ticks)\n\
         \x20 if (phase == 1) {{ cells.label = 'one' }}\n\
         \x20 const list: any = phase == 1 && ticks % 2 == 0 ? others : cells\n\
         \x20 console.log('sum', list instanceof Cell ? 'cells' : 'others', sum(list), labels(list))\n}}, 10)\n"
    )
}

#[test]
fn watch_specializes_untyped_functions_to_the_classes_they_see() {
    let project = Project::new("specializing");
    project.write_script(&specializing_script(""));
    let mut command = tool(&["watch"], &project.root);
    command.stdin(std::process::Stdio::piped());
    let mut watch = Watch::spawn(command);
    watch.expect_stdout(Duration::from_secs(600), "a sum", |l| {
        l == "sum cells 18 123"
    });
    // Hot, and always the same class: both get a version for `Cell`.
    let line = watch.expect_stderr(Duration::from_secs(30), "Specialized");
    assert!(
        line.contains("labels(list: Cell)") && line.contains("sum(list: Cell)"),
        "{line}"
    );
    for _ in 0..5 {
        let line = watch.expect_stdout(Duration::from_secs(10), "a sum", |_| true);
        assert_eq!(line, "sum cells 18 123");
    }
    // An edit replaces both versions; the new one's profile starts afresh,
    // and it is specialized again.
    project.write_script(&specializing_script(" + 1000"));
    watch.expect_stderr(Duration::from_secs(30), "Patched sum");
    watch.expect_stdout(Duration::from_secs(10), "the edited sum", |l| {
        l == "sum cells 1018 123"
    });
    let line = watch.expect_stderr(Duration::from_secs(30), "Specialized");
    assert!(line.contains("sum(list: Cell)"), "{line}");
    // A field that held integers holds a string, and every other call
    // brings an `Other`: the entry check sends it to the body as written,
    // and when that happens often the version changes, then goes. Every
    // sum meanwhile is right.
    watch.send("phase = 1\n");
    watch.expect_stdout(Duration::from_secs(30), "a sum of others", |l| {
        l.starts_with("sum others")
    });
    let dropped = |watch: &mut Watch| {
        watch
            .stderr_so_far()
            .iter()
            .any(|l| l.contains("dropped the version") && l.contains("sum"))
    };
    let mut after_drop = 0;
    let started = std::time::Instant::now();
    while after_drop < 20 {
        let line = watch.expect_stdout(Duration::from_secs(10), "a sum", |_| true);
        assert!(
            ["sum cells 1018 one23", "sum others 1063 12"].contains(&line.as_str()),
            "{line}"
        );
        if dropped(&mut watch) {
            after_drop += 1;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the version of `sum` was never dropped"
        );
    }
}

#[test]
fn watch_without_specializing_pauses_the_profiles() {
    let project = Project::new("unspecialized");
    project.write_script(&specializing_script(""));
    let mut command = tool(&["watch", "--no-specialize"], &project.root);
    command.stdin(std::process::Stdio::piped());
    let mut watch = Watch::spawn(command);
    watch.expect_stdout(Duration::from_secs(600), "a sum", |l| {
        l == "sum cells 18 123"
    });
    watch.expect_stderr(Duration::from_secs(30), "Watching");
    // Paused at the first idle moment: later calls are not counted.
    std::thread::sleep(Duration::from_millis(1500));
    let calls_of_sum = |watch: &mut Watch| -> u32 {
        watch.send(".profile\n");
        let line = watch.expect_stdout(Duration::from_secs(30), "the profile of sum", |l| {
            l.starts_with("sum ") && l.contains("list:")
        });
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let before = calls_of_sum(&mut watch);
    // Below the count where every profile stops on its own.
    assert!(before < 1000, "{before}");
    std::thread::sleep(Duration::from_millis(1000));
    let after = calls_of_sum(&mut watch);
    assert_eq!(before, after, "the profile went on counting");
    assert!(
        !watch
            .stderr_so_far()
            .iter()
            .any(|l| l.contains("Specialized")),
        "{:?}",
        watch.stderr_so_far()
    );
}
