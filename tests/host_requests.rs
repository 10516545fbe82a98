//! The host-request mailbox against real QEMU: the host posts functions
//! (script functions of the image, machine code it wrote into the patch
//! region) and the event loop runs them at its safe points, reporting how
//! each ended; the host abandons one that never ends; the collector keeps
//! what the host's roots table holds. Through the library's session, on
//! `BS_BOARD` over `BS_TRANSPORT`.

mod support;

use cargo_bluescript::board::{Connection, Transport};
use cargo_bluescript::connection::output::Stream;
use cargo_bluescript::connection::with_memory;
use cargo_bluescript::device::{Device, Outcome, ProgramStatus, STATE_FINISHED};
use cargo_bluescript::session::Session;
use std::time::{Duration, Instant};
use support::{target_dir_of, transport, Project};

/// How long a request may take to be served and to finish.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A program started through the session, with its output collected.
struct Running {
    session: Session,
    stdout: String,
    stderr: String,
    status: Option<ProgramStatus>,
}

impl Running {
    fn start(project: &Project) -> Running {
        let mut located =
            cargo_bluescript::project::Project::locate(Some(&project.root.join("Cargo.toml")))
                .unwrap();
        located.target_dir = target_dir_of(project.board);
        let requested = transport().map(|name| match name.as_str() {
            "serial" => Transport::Serial,
            "debugger" => Transport::Debugger,
            other => panic!("BS_TRANSPORT: unknown transport {other}"),
        });
        let connection = Connection {
            transport: project.board.transport(requested).unwrap(),
            serial_key: located.serial_key().unwrap(),
        };
        let mut session = Session::new(&located, project.board, false)
            .unwrap()
            .with_connection(connection);
        session.start(&mut |_| {}).unwrap();
        Running {
            session,
            stdout: String::new(),
            stderr: String::new(),
            status: None,
        }
    }

    fn device(&mut self) -> &mut Device {
        self.session.device().expect("the program runs")
    }

    fn poll(&mut self) -> ProgramStatus {
        let poll = self.session.poll().unwrap().expect("the program runs");
        for output in poll.output {
            let text = String::from_utf8_lossy(&output.bytes);
            match output.stream {
                Stream::Stdout => self.stdout.push_str(&text),
                Stream::Stderr => self.stderr.push_str(&text),
            }
        }
        self.status = Some(poll.status);
        poll.status
    }

    /// Polls until `done` holds, or panics after `timeout`.
    fn wait_for(&mut self, what: &str, timeout: Duration, done: impl Fn(&Running) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            self.poll();
            if done(self) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {timeout:?}; status {:?}\nstdout:\n{}\nstderr:\n{}",
                self.status,
                self.stdout,
                self.stderr
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn wait_for_stdout(&mut self, needle: &str) {
        self.wait_for(&format!("{needle:?} on stdout"), REQUEST_TIMEOUT, |r| {
            r.stdout.contains(needle)
        });
    }

    /// Waits until request `sequence` finished; its outcome.
    fn outcome(&mut self, sequence: u32) -> Outcome {
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        loop {
            if let Some(outcome) = self.device().request_outcome(sequence).unwrap() {
                // Whatever it printed comes with the next poll.
                self.poll();
                return outcome;
            }
            assert!(
                Instant::now() < deadline,
                "request {sequence} did not finish within {REQUEST_TIMEOUT:?}; status {:?}\nstderr:\n{}",
                self.status,
                self.stderr
            );
            self.poll();
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Posts `function` and waits for its outcome.
    fn request(&mut self, function: u32) -> Outcome {
        let sequence = self.device().post_request(function).unwrap();
        self.outcome(sequence)
    }

    /// The code address of script function `name`, as its slot holds it.
    fn function(&mut self, name: &str) -> u32 {
        let device = self.device();
        let slot = device.shadow.functions[name].slot;
        let address = device.shadow.runtime.slots + 4 * slot;
        with_memory(device.core(), |core| core.read_word(address)).unwrap()
    }

    fn read_word(&mut self, address: u32) -> u32 {
        with_memory(self.device().core(), |core| core.read_word(address)).unwrap()
    }

    fn write(&mut self, address: u32, bytes: &[u8]) {
        with_memory(self.device().core(), |core| {
            core.write_memory(address, bytes)
        })
        .unwrap()
    }

    /// Free memory of the patch region, 8-byte aligned.
    fn free_patch_memory(&mut self) -> u32 {
        self.device().shadow.patch_next.next_multiple_of(8)
    }

    fn ticks(&self) -> i32 {
        self.stdout
            .lines()
            .filter_map(|line| support::number_after(line, "tick"))
            .max()
            .unwrap_or(0)
    }

    /// Waits for the timer to print a tick beyond the last one seen.
    fn wait_for_a_later_tick(&mut self) {
        let seen = self.ticks();
        self.wait_for("later tick", REQUEST_TIMEOUT, |r| r.ticks() > seen);
    }
}

/// A function that never ends, as machine code of the board's
/// architecture, and the code address to post for it at `address`.
fn endless_loop(project: &Project, address: u32) -> (Vec<u8>, u32) {
    match project.board.isa().family() {
        // `b .`, called in Thumb state.
        "arm" => (0xe7feu16.to_le_bytes().to_vec(), address | 1),
        // `jal x0, 0` (`j .`).
        "riscv32" => (0x0000_006fu32.to_le_bytes().to_vec(), address),
        other => panic!("no endless loop for {other}"),
    }
}

#[test]
fn requests_run_functions_report_how_they_ended_and_can_be_abandoned() {
    let project = Project::new("host_requests");
    project.write_script(
        r#"
let ticks = 0
function tick() {
  ticks = ticks + 1
  if (ticks % 10 == 0) { print("tick " + ticks) }
}
const timer = setInterval(tick, 5)
function hello() { print("hello from the host, ticks " + (ticks > 0)) }
function fail() {
  const a: integer[] = [1, 2]
  print(a[5])
}
function stop() { clearInterval(timer) }
print("started")
"#,
    );
    let mut running = Running::start(&project);
    running.wait_for_stdout("tick 10");

    let hello = running.function("hello");
    assert_eq!(running.request(hello), Outcome::Returned);
    running.wait_for_stdout("hello from the host, ticks true");

    // A run-time error is reported and counted as always; the program goes
    // on.
    let errors = running.poll().errors;
    let fail = running.function("fail");
    assert_eq!(running.request(fail), Outcome::Failed);
    running.wait_for("the error", REQUEST_TIMEOUT, |r| {
        r.stderr.contains("run-time error: index 5 out of range")
    });
    assert_eq!(running.poll().errors, errors + 1);
    running.wait_for_a_later_tick();

    // A cell that never ends is abandoned at the host's request: nothing
    // printed, no error counted, and the program goes on.
    let code = running.free_patch_memory();
    let (bytes, function) = endless_loop(&project, code);
    running.write(code, &bytes);
    let sequence = running.device().post_request(function).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(running.device().request_outcome(sequence).unwrap(), None);
    assert!(running.poll().state == cargo_bluescript::device::STATE_CELL);
    let stderr_before = running.stderr.clone();
    running.device().abandon_request(sequence).unwrap();
    assert_eq!(running.outcome(sequence), Outcome::Abandoned);
    assert_eq!(running.poll().errors, errors + 1);
    assert_eq!(running.stderr, stderr_before);
    running.wait_for_a_later_tick();
    running.stdout.clear();
    assert_eq!(running.request(hello), Outcome::Returned);
    running.wait_for_stdout("hello from the host");

    // With its timer cleared, the program has finished: requests are still
    // served, and it stays finished.
    let stop = running.function("stop");
    assert_eq!(running.request(stop), Outcome::Returned);
    running.wait_for("the program to finish", REQUEST_TIMEOUT, |r| {
        r.status.is_some_and(|s| s.finished())
    });
    running.stdout.clear();
    assert_eq!(running.request(hello), Outcome::Returned);
    running.wait_for_stdout("hello from the host");
    assert_eq!(running.poll().state, STATE_FINISHED);
}

#[test]
fn an_object_that_only_the_host_roots_table_holds_survives_collections() {
    let project = Project::new("host_roots");
    project.write_script(
        r#"
class Keep {
  a: integer
  b: integer
  constructor(a: integer, b: integer) { this.a = a; this.b = b }
}
let kept: Keep | null = null
let dropped: Keep | null = null
function make() {
  kept = new Keep(1234, 5678)
  dropped = new Keep(4321, 8765)
}
function forget() {
  kept = null
  dropped = null
}
function churn() {
  let sum = 0
  for (let i = 0; i < 5000; i++) {
    const garbage = new Keep(i, -i)
    sum = sum + garbage.a
  }
  print("churned " + sum)
}
print("started")
"#,
    );
    let mut running = Running::start(&project);
    running.wait_for_stdout("started");
    let make = running.function("make");
    assert_eq!(running.request(make), Outcome::Returned);
    let global = |running: &mut Running, name: &str| {
        let address = running.device().shadow.globals[name].address;
        running.read_word(address)
    };
    let kept = global(&mut running, "kept");
    let dropped = global(&mut running, "dropped");
    let object = |running: &mut Running, address: u32| {
        [0, 4, 8].map(|offset| running.read_word(address + offset))
    };
    let kept_before = object(&mut running, kept);
    let dropped_before = object(&mut running, dropped);
    assert_eq!(kept_before[1..], [1234, 5678]);
    assert_eq!(dropped_before[1..], [4321, 8765]);

    // The host's table, as a cell's global would hold the object: one
    // word holding the reference, and the table pointing at it.
    let table = running.free_patch_memory();
    let holder = table + 8;
    let words: Vec<u8> = [1, holder, kept]
        .iter()
        .flat_map(|word: &u32| word.to_le_bytes())
        .collect();
    running.write(table, &words);
    running.device().set_host_roots(table).unwrap();

    let forget = running.function("forget");
    assert_eq!(running.request(forget), Outcome::Returned);
    let churn = running.function("churn");
    assert_eq!(running.request(churn), Outcome::Returned);
    running.wait_for_stdout("churned 12497500");
    // Collections ran and reused the memory of what nothing holds ...
    assert_ne!(
        object(&mut running, dropped),
        dropped_before,
        "the churn did not reclaim an unreachable object, so it proves nothing"
    );
    // ... but not that of what the host's table holds.
    assert_eq!(object(&mut running, kept), kept_before);
    assert_eq!(running.poll().errors, 0, "stderr:\n{}", running.stderr);
}
