//! End-to-end: `cargo bluescript repl` fed through a pipe, one input per
//! line, against real rustc and QEMU: every input is compiled on the host
//! and run on the device by the running program's event loop.

mod support;

use std::process::Stdio;
use std::time::Duration;
use support::{text, tool, Project, Watch};

/// Uses float arithmetic, so that a board without a floating-point unit
/// has the software routines in its image (an input's code calls them
/// there instead of bringing its own: on `qemu-m0` the patch region is
/// 3 KiB).
const PROGRAM: &str = "let count = 0\nfunction double(n: integer): integer { return n * 2 }\n\
                       function mix(a: float, b: float): float { return a * b + a - b / a }\n";

/// Long enough for a first build of the firmware on a busy machine.
const START: Duration = Duration::from_secs(600);
const ANSWER: Duration = Duration::from_secs(60);

/// `repl` in `project`, its stdin a pipe the test writes.
fn shell(project: &Project) -> Watch {
    let mut command = tool(&["repl"], &project.root);
    command.stdin(Stdio::piped());
    Watch::spawn(command)
}

fn next_line(shell: &mut Watch, timeout: Duration) -> String {
    shell.expect_stdout(timeout, "at all", |_| true)
}

/// Sends each input and checks its answer, if it has one: the first
/// answer waits for the firmware to be built.
fn send_expecting_answers(shell: &mut Watch, inputs: &[(&str, Option<&str>)]) {
    let mut timeout = START;
    for (input, answer) in inputs {
        shell.send(&format!("{input}\n"));
        if let Some(answer) = answer {
            assert_eq!(next_line(shell, timeout), *answer, "after `{input}`");
            timeout = ANSWER;
        }
    }
}

#[test]
fn a_piped_session_answers_keeps_declarations_and_goes_on_after_errors() {
    let project = Project::new("shell");
    project.write_script(PROGRAM);
    let mut shell = shell(&project);
    let inputs = [
        ("let gain = 0.5", None),
        (
            "function step(x: float): float {\n  return x * gain\n}",
            None,
        ),
        ("step(4.0)", Some("2.0")),
        ("gain = 2.0", None),
        ("step(4.0)", Some("8.0")),
        // Defined again: every caller now calls the new version.
        ("function step(x: float): float { return x + gain }", None),
        ("step(4.0)", Some("6.0")),
        ("[1, 2, 3].length", Some("3")),
        ("double(count + 21)", Some("42")),
        ("let names = ['a', 'b']", None),
        ("names.push('c'); names", Some("[ 'a', 'b', 'c' ]")),
        (".type gain", Some("float")),
    ];
    send_expecting_answers(&mut shell, &inputs);
    // A type error changes nothing: the line after it runs.
    shell.send("step(true)\ndouble(5)\n");
    assert_eq!(next_line(&mut shell, ANSWER), "10");
    let error = shell.expect_stderr(ANSWER, "error");
    assert!(error.contains("float"), "{error}");
    shell.expect_stderr(ANSWER, "--> <repl 12>:1:6");
    // A run-time error reports its place in the input, and the session goes on.
    shell.send("let a = [1, 2]; a[5]\nstep(1.5)\n");
    assert_eq!(next_line(&mut shell, ANSWER), "3.5");
    shell.expect_stderr(ANSWER, "<repl 14>:1:17");
    // A cell that failed declared nothing.
    shell.send("a\n");
    shell.expect_stderr(ANSWER, "`a`");
    let saved = project.root.join("saved.bs");
    shell.send(&format!(".save {}\n", saved.display()));
    let status = shell.finish(ANSWER);
    let script = std::fs::read_to_string(&saved).unwrap();
    assert_eq!(
        script,
        "let gain = 0.5\nfunction step(x: float): float {\n  return x * gain\n}\n\
         function step(x: float): float { return x + gain }\nlet names = ['a', 'b']\n"
    );
    // Piped input that had errors fails, as a script would.
    assert!(!status.success());
}

#[test]
fn inputs_declare_classes_and_new_types_and_the_program_dispatches_to_them() {
    let project = Project::new("classes");
    project.write_script(
        "class Shape {\n  area(): integer { return 1 }\n}\n\
         function total(s: Shape): integer { return s.area() + 100 }\n",
    );
    let mut shell = shell(&project);
    let inputs = [
        (
            "class Square extends Shape {\n  side: integer\n  constructor(side: integer) { super(); this.side = side }\n  area(): integer { return this.side * this.side }\n}",
            None,
        ),
        // The program's function called `area` directly while nothing
        // overrode it; now it dispatches.
        ("total(new Square(3))", Some("109")),
        ("let shapes: Shape[] = [new Square(2), new Shape()]", None),
        ("shapes[0].area() + shapes[1].area()", Some("5")),
        ("let twice = (x: integer) => x * 2", None),
        ("twice(21)", Some("42")),
        // Through `any`: the class's descriptor finds the method by name.
        ("let boxed: any = new Square(4)", None),
        ("boxed.area() + boxed.side", Some("20")),
        // A cell's function reads a property of an `any` through its
        // inline cache, which lives in the cell's patch.
        ("function sideOf(o) { return o.side }", None),
        (
            "sideOf(boxed) + sideOf(new Square(5)) * 10 + sideOf(boxed) * 100",
            Some("454"),
        ),
    ];
    send_expecting_answers(&mut shell, &inputs);
    // An input that failed declared no class: the name is free again, for
    // another shape of it.
    shell.send("class Probe { n: integer; constructor() { this.n = [1][3] } }; new Probe()\n");
    shell.expect_stderr(ANSWER, "<repl 11>:1:");
    shell.send("class Probe { s: string; constructor() { this.s = 'fresh' } }\nnew Probe().s\n");
    assert_eq!(next_line(&mut shell, ANSWER), "fresh");
    shell.send("shapes.length\n");
    assert_eq!(next_line(&mut shell, ANSWER), "2");
    assert!(!shell.finish(ANSWER).success());
}

#[test]
fn ctrl_c_abandons_an_endless_input_and_the_session_goes_on() {
    let project = Project::new("endless");
    project.write_script("let ticks = 0\nsetInterval(() => { ticks++ }, 10)\n");
    let mut shell = shell(&project);
    shell.send("ticks >= 0\n");
    assert_eq!(next_line(&mut shell, START), "true");
    shell.send("let spins = 0\nwhile (true) { spins++ }\n");
    // Give it time to start spinning.
    std::thread::sleep(Duration::from_millis(500));
    shell.signal_interrupt();
    shell.expect_stderr(ANSWER, "interrupted");
    // The program's timers ran on, and so does the shell.
    shell.send("let before = ticks\nbefore > 0\n");
    assert_eq!(next_line(&mut shell, ANSWER), "true");
    // An interrupted input counts as one that failed.
    assert!(!shell.finish(ANSWER).success());
}

#[test]
fn the_shell_attaches_to_a_flashed_program_and_tunes_its_global() {
    let project = Project::new("tune");
    project.write_script("let gain = 1\nsetInterval(() => { console.log('gain', gain) }, 50)\n");
    let flashed = tool(&["flash"], &project.root).output().unwrap();
    assert!(flashed.status.success(), "{}", text(&flashed.stderr));
    let mut shell = shell(&project);
    shell.expect_stdout(START, "from the running program", |line| line == "gain 1");
    shell.send("gain = 7\n");
    shell.expect_stdout(ANSWER, "after the change", |line| line == "gain 7");
    assert!(shell.finish(ANSWER).success());
    // The program runs on, with its new state, after the shell left.
    let mut again = self::shell(&project);
    again.send("gain\n");
    again.expect_stdout(ANSWER, "the kept value", |line| line == "7");
    again.finish(ANSWER);
    let stopped = tool(&["flash", "--stop"], &project.root).output().unwrap();
    assert!(stopped.status.success(), "{}", text(&stopped.stderr));
}

/// On a terminal: the line editor reads more lines while a bracket is
/// open, keeps a history (the up arrow brings an input back; the file
/// lasts), and Ctrl-D leaves.
#[cfg(target_os = "linux")]
#[test]
fn on_a_terminal_the_editor_continues_open_brackets_and_keeps_history() {
    use std::io::{Read, Write};
    use std::os::fd::{FromRawFd, OwnedFd};
    let project = Project::new("terminal");
    project.write_script(PROGRAM);
    let (mut master, slave) = {
        let (mut master, mut slave) = (0, 0);
        let size = libc::winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty writes two new descriptors, owned from here on.
        let result = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &size,
            )
        };
        assert_eq!(result, 0, "openpty failed");
        // The shell must not inherit the terminal's other end: it would
        // never see it close.
        // SAFETY: `master` is the descriptor openpty just returned.
        unsafe { libc::fcntl(master, libc::F_SETFD, libc::FD_CLOEXEC) };
        // SAFETY: as above.
        unsafe {
            (
                std::fs::File::from(OwnedFd::from_raw_fd(master)),
                OwnedFd::from_raw_fd(slave),
            )
        }
    };
    let mut command = tool(&["repl"], &project.root);
    command
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .env("TERM", "xterm");
    // The terminal is the shell's controlling terminal, as in a session.
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = KillOnDrop(command.spawn().unwrap());
    let (sender, screen) = std::sync::mpsc::channel();
    let mut reader = master.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut buffer = [0; 4096];
        while let Ok(n) = reader.read(&mut buffer) {
            if n == 0 || sender.send(buffer[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let mut wait_for = |needle: &str, count: usize, timeout: Duration| {
        let deadline = std::time::Instant::now() + timeout;
        while seen.matches(needle).count() < count {
            let left = deadline
                .checked_duration_since(std::time::Instant::now())
                .unwrap_or_else(|| panic!("no {needle:?} (x{count}) on the terminal:\n{seen}"));
            if let Ok(bytes) = screen.recv_timeout(left) {
                seen.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    };
    // Typed, a key at a time.
    let mut type_keys = |keys: &[u8]| {
        for key in keys {
            master.write_all(std::slice::from_ref(key)).unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    wait_for("bs> ", 1, START);
    type_keys(b"let xs = [10,\r20, 30]\r");
    wait_for("bs> ", 3, ANSWER);
    type_keys(b"xs.length * 111\r");
    wait_for("333", 1, ANSWER);
    // Up: the last input again.
    type_keys(b"\x1b[A\r");
    wait_for("333", 2, ANSWER);
    // Once the editor reads again (a key typed before would reach the
    // terminal in its line mode).
    std::thread::sleep(Duration::from_millis(500));
    type_keys(b"\x04");
    let deadline = std::time::Instant::now() + ANSWER;
    while child.0.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "Ctrl-D did not end the shell"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let history = std::fs::read_to_string(
        support::shared_target_dir().join("bluescript/terminal/repl-history"),
    )
    .unwrap();
    assert!(history.contains("xs.length * 111"), "{history}");
}

/// Under `watch`, code added at the end of the main script runs once in
/// the running program, which keeps its state; any other change to the
/// top level still restarts it.
#[test]
fn watch_runs_code_appended_to_the_main_script_without_a_restart() {
    let project = Project::new("append");
    let base = "let count = 0\nfunction tick() {\n  count++\n  console.log('tick', count)\n}\nsetInterval(tick, 50)\n";
    project.write_script(base);
    let mut watch = Watch::start(&project);
    watch.expect_stdout(START, "a tick", |line| line == "tick 3");
    watch.expect_stderr(ANSWER, "Watching");
    let appended = format!(
        "{base}\nlet seen = count\nconsole.log('appended', seen > 2)\nfunction report() {{ console.log('report', seen) }}\nsetTimeout(report, 10)\n"
    );
    project.write_script(&appended);
    watch.expect_stdout(ANSWER, "from the appended code", |line| {
        line == "appended true"
    });
    watch.expect_stderr(ANSWER, "the top-level code added at the end");
    let reported = watch.expect_stdout(ANSWER, "from its timer", |line| line.starts_with("report"));
    let seen: i32 = reported["report ".len()..].parse().unwrap();
    // The program kept its state: ticks go on from where they were.
    let tick = watch.expect_stdout(ANSWER, "a later tick", |line| line.starts_with("tick"));
    let count: i32 = tick["tick ".len()..].parse().unwrap();
    assert!(count >= seen, "count restarted: {count} after {seen}");
    // Appending again builds on the first append.
    project.write_script(&format!(
        "{appended}console.log('again', seen * 2 == seen + seen)\n"
    ));
    watch.expect_stdout(ANSWER, "from the second append", |line| {
        line == "again true"
    });
    // An edit of earlier top-level code restarts the program.
    project.write_script(&base.replace("let count = 0", "let count = 100"));
    watch.expect_stderr(ANSWER, "Restarting the program: global declarations");
    watch.expect_stdout(START, "from the restarted program", |line| {
        line == "tick 101"
    });
}

/// A child process that a failing test does not leave running.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Untyped functions that read and store members: they record what
/// reached their parameters.
const PROFILED_PROGRAM: &str = "class Element {\n  next: Element | null\n  \
    constructor() { this.next = null }\n}\n\
    function makeList(length) {\n  if (length == 0) { return null }\n  \
    const e = new Element()\n  e.next = makeList(length - 1)\n  return e\n}\n\
    function count(x) {\n  let n = 0\n  while (x != null) { n++; x = x.next }\n  return n\n}\n";

#[test]
fn the_shell_shows_which_types_reached_untyped_parameters() {
    let project = Project::new("profiles");
    project.write_script(PROFILED_PROGRAM);
    let mut shell = shell(&project);
    let inputs = [
        ("count(makeList(3))", Some("3")),
        ("function size(a, b) { return a.length + b }", None),
        ("size('ab', 1)", Some("3")),
        ("size([1, 2, 3], 2.5)", Some("5.5")),
    ];
    send_expecting_answers(&mut shell, &inputs);
    let profile = |shell: &mut Watch| {
        shell.send(".profile\n");
        let mut lines: Vec<String> = (0..3)
            .map(|_| {
                let line = next_line(shell, ANSWER);
                line.split_whitespace().collect::<Vec<_>>().join(" ")
            })
            .collect();
        lines.sort();
        lines
    };
    // The image's functions and the shell's own, each with its calls.
    assert_eq!(
        profile(&mut shell),
        [
            "count 1 call x: Element",
            "makeList 4 calls length: integer",
            "size 2 calls a: objects of several types, b: integer | float",
        ]
    );
    // A function defined again starts a profile of its own.
    send_expecting_answers(
        &mut shell,
        &[
            ("function size(a, b) { return a.length - b }", None),
            ("size('abc', 1)", Some("2")),
            ("count(null)", Some("0")),
        ],
    );
    assert_eq!(
        profile(&mut shell),
        [
            "count 2 calls x: Element | null",
            "makeList 4 calls length: integer",
            "size 1 call a: string, b: integer",
        ]
    );
}
