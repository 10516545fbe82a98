//! End-to-end: `cargo bluescript flash` leaves the board running its image
//! after the command returns, as a flashed board does; flashing again
//! replaces it, and `flash --stop` stops it. Real rustc, real QEMU.
// The emulator's process is watched through /proc.
#![cfg(target_os = "linux")]

mod support;

use cargo_bluescript::board::Transport;
use cargo_bluescript::connection::{CoreAccess, GdbStub};
use serde_json::Value;
use std::io::Read;
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use support::{number_after, text, tool, Project, Watch};

/// Unique among the tests: the state directory is named after the package.
const PACKAGE: &str = "flash-counter";
/// The first flash may compile the firmware's dependencies.
const BUILD_TIMEOUT: Duration = Duration::from_secs(600);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

fn counter_script(step: i32) -> String {
    format!(
        "let count: integer = 0\n\
         \n\
         function tick() {{\n  count = count + {step}\n}}\n\
         \n\
         setInterval(tick, 10)\n"
    )
}

/// What `board.json` says runs.
#[derive(Clone)]
struct Record {
    pid: u32,
    socket: PathBuf,
    build_id: u32,
    shadow: PathBuf,
}

impl Record {
    fn read(state_dir: &Path) -> Record {
        Record::try_read(state_dir).expect("board.json is missing or malformed")
    }

    fn try_read(state_dir: &Path) -> Option<Record> {
        let bytes = std::fs::read(state_dir.join("board.json")).ok()?;
        let json: Value = serde_json::from_slice(&bytes).ok()?;
        let number = |key: &str| json[key].as_u64().map(|n| n as u32);
        let path = |key: &str| json[key].as_str().map(PathBuf::from);
        Some(Record {
            pid: number("pid")?,
            socket: path("socket")?,
            build_id: number("build_id")?,
            shadow: path("shadow")?,
        })
    }

    /// The address of global `name`, from the shadow machine of the flashed image.
    fn global_address(&self, name: &str) -> u32 {
        let shadow: Value = serde_json::from_slice(&std::fs::read(&self.shadow).unwrap()).unwrap();
        assert_eq!(shadow["build_id"].as_u64(), Some(u64::from(self.build_id)));
        shadow["globals"][name]["address"].as_u64().unwrap() as u32
    }

    /// The QEMU that `flash` started and nothing else (pids get reused).
    fn is_running(&self) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid));
        // A zombie has stopped; init reaps it (in some containers, never).
        let alive = stat.is_ok_and(|stat| {
            stat.rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with(['Z', 'X']))
        });
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", self.pid)).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        alive
            && cmdline.starts_with(&format!(
                "{}\0",
                support::board().qemu().expect("an emulated board").program
            ))
            && cmdline.contains(&*self.socket.to_string_lossy())
    }
}

/// A flashed QEMU outlives the tool on purpose; a failing test must not
/// leave one running: on drop, kills every QEMU it saw recorded, and the
/// one recorded now (a panic may strike before the test reads the record).
struct KillOnDrop {
    state_dir: PathBuf,
    seen: Vec<Record>,
}

impl KillOnDrop {
    fn track(&mut self, record: &Record) {
        self.seen.push(record.clone());
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.seen.extend(Record::try_read(&self.state_dir));
        for record in self.seen.iter().filter(|r| r.is_running()) {
            let _ = Command::new("kill")
                .args(["-KILL", &record.pid.to_string()])
                .status();
        }
    }
}

/// Runs `command` to its end and collects its output, failing if that takes
/// longer than `limit`: a `flash` whose QEMU kept the tool's pipes open would
/// hang whoever reads its output, as `Command::output` does.
fn run_within(mut command: Command, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let read_to_end = |mut pipe: Box<dyn Read + Send>| {
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            let _ = sender.send(bytes);
        });
        receiver
    };
    let stdout = read_to_end(Box::new(child.stdout.take().unwrap()));
    let stderr = read_to_end(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{command:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // The tool has exited; its output ends now unless someone else holds the pipes.
    let collect = |receiver: mpsc::Receiver<Vec<u8>>| {
        receiver
            .recv_timeout(Duration::from_secs(5))
            .expect("the tool's output pipes stayed open after it exited (QEMU inherited them?)")
    };
    Output {
        status,
        stdout: collect(stdout),
        stderr: collect(stderr),
    }
}

fn flash(project: &Project, args: &[&str], limit: Duration) -> String {
    let mut all = vec!["flash"];
    all.extend(args);
    let output = run_within(tool(&all, &project.root), limit);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "flash {args:?} failed:\n{stderr}");
    stderr
}

/// Reads a word from the running board and lets it run on.
fn read_word(socket: &Path, address: u32) -> u32 {
    // Connecting halts the guest...
    let mut core = GdbStub::connect_unix(socket).unwrap();
    let value = core.read_word(address).unwrap();
    // ...and it stays halted after we leave unless resumed.
    core.run().unwrap();
    value
}

/// The board runs the counter script with this step: `count` advances by
/// multiples of it.
fn assert_counts_by(record: &Record, step: u32) {
    let count = record.global_address("count");
    let first = read_word(&record.socket, count);
    std::thread::sleep(Duration::from_millis(300));
    let second = read_word(&record.socket, count);
    assert!(
        second > first,
        "count did not advance: {first}, then {second}"
    );
    assert!(
        first.is_multiple_of(step) && second.is_multiple_of(step),
        "count is not counting by {step}: {first}, then {second}"
    );
}

#[test]
fn flash_leaves_the_board_running_replaces_it_and_stops_it() {
    let project = Project::new(PACKAGE);
    let state_dir = support::shared_target_dir()
        .join("bluescript")
        .join(PACKAGE);

    let mut guard = KillOnDrop {
        state_dir: state_dir.clone(),
        seen: Vec::new(),
    };

    project.write_script(&counter_script(1));
    let stderr = flash(&project, &[], BUILD_TIMEOUT);
    let first = Record::read(&state_dir);
    guard.track(&first);
    assert!(
        stderr.contains(&format!(
            "Flashed build {:#010x} to {}, which runs it in the background (QEMU pid {})",
            first.build_id,
            support::board(),
            first.pid
        )),
        "{stderr}"
    );
    assert!(stderr.contains("cargo bluescript flash --stop"), "{stderr}");
    // The command has returned; the board goes on running the program.
    assert!(first.is_running(), "QEMU stopped with the tool:\n{stderr}");
    assert_counts_by(&first, 1);

    // Flashing another program replaces the running one.
    project.write_script(&counter_script(1000));
    let stderr = flash(&project, &[], BUILD_TIMEOUT);
    let second = Record::read(&state_dir);
    guard.track(&second);
    assert_ne!(second.pid, first.pid);
    assert_ne!(second.build_id, first.build_id);
    assert!(!first.is_running(), "the first QEMU still runs");
    assert!(
        stderr.contains(&format!(
            "Stopped {} (QEMU pid {}, build {:#010x})",
            support::board(),
            first.pid,
            first.build_id
        )),
        "{stderr}"
    );
    assert!(second.is_running(), "{stderr}");
    assert_counts_by(&second, 1000);

    let stderr = flash(&project, &["--stop"], STOP_TIMEOUT);
    assert!(
        stderr.contains(&format!(
            "Stopped {} (QEMU pid {}",
            support::board(),
            second.pid
        )),
        "{stderr}"
    );
    assert!(!second.is_running(), "QEMU still runs after --stop");
    assert!(!state_dir.join("board.json").exists());
    assert!(!second.socket.exists());

    let stderr = flash(&project, &["--stop"], STOP_TIMEOUT);
    assert!(stderr.contains("Stopped nothing"), "{stderr}");
}

/// A new project called `name` (its state directory is named after it),
/// and what kills the QEMU `flash` leaves running for it.
fn flash_project(name: &str) -> (Project, PathBuf, KillOnDrop) {
    let project = Project::new(name);
    let state_dir = support::shared_target_dir().join("bluescript").join(name);
    let guard = KillOnDrop {
        state_dir: state_dir.clone(),
        seen: Vec::new(),
    };
    (project, state_dir, guard)
}

fn printing_counter_script(word: &str) -> String {
    format!(
        "let count: integer = 0\n\
         \n\
         function tick() {{\n  count = count + 1\n  console.log(\"{word}\", count)\n}}\n\
         \n\
         setInterval(tick, 20)\n"
    )
}

#[test]
fn watch_takes_over_a_flashed_board_and_leaves_it_running() {
    let (project, state_dir, mut guard) = flash_project("flash-watch");
    project.write_script(&printing_counter_script("count"));
    flash(&project, &[], BUILD_TIMEOUT);
    let record = Record::read(&state_dir);
    guard.track(&record);
    std::thread::sleep(Duration::from_millis(300));

    let mut watch = Watch::start(&project);
    watch.expect_stderr(Duration::from_secs(120), "Attached to the board");
    // The board kept the state it built up before watch came.
    let first = watch.expect_stdout(Duration::from_secs(10), "a count", |l| {
        l.starts_with("count ")
    });
    assert!(
        number_after(&first, "count").unwrap() > 5,
        "the program restarted: {first}"
    );

    project.write_script(&printing_counter_script("tock"));
    let patched = watch.expect_stdout(Duration::from_secs(30), "from the patch", |l| {
        l.starts_with("tock ")
    });
    assert!(number_after(&patched, "tock").unwrap() > number_after(&first, "count").unwrap());
    watch.interrupt();

    // The board runs on without the host, with the patched code.
    assert!(record.is_running(), "watch stopped the flashed board");
    assert_eq!(Record::read(&state_dir).pid, record.pid);
    assert_counts_by(&record, 1);
    flash(&project, &["--stop"], STOP_TIMEOUT);
    assert!(!record.is_running());
}

/// A serial link the test can cut and restore: a socket in the place of the
/// board's UART socket (QEMU's own moved aside, which it keeps serving),
/// relaying each connection to it.
struct CuttableLink {
    path: PathBuf,
    board: PathBuf,
    /// Both ends of every relayed connection, to cut them.
    streams: Arc<Mutex<Vec<UnixStream>>>,
    listening: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
}

impl CuttableLink {
    fn insert(uart: &Path) -> CuttableLink {
        let board = uart.with_file_name("uart-board.sock");
        std::fs::rename(uart, &board).unwrap();
        let mut link = CuttableLink {
            path: uart.to_path_buf(),
            board,
            streams: Arc::default(),
            listening: None,
        };
        link.restore();
        link
    }

    /// Takes connections again.
    fn restore(&mut self) {
        let listener = UnixListener::bind(&self.path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (board, streams, stopped) = (self.board.clone(), self.streams.clone(), stop.clone());
        let accepting = std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                let Ok((host, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                host.set_nonblocking(false).unwrap();
                let device = UnixStream::connect(&board).unwrap();
                let clone = |stream: &UnixStream| stream.try_clone().unwrap();
                streams
                    .lock()
                    .unwrap()
                    .extend([clone(&host), clone(&device)]);
                let (from_host, from_device) = (clone(&host), clone(&device));
                std::thread::spawn(move || relay(from_host, device));
                std::thread::spawn(move || relay(from_device, host));
            }
        });
        self.listening = Some((stop, accepting));
    }

    /// Closes the connection from both sides, and takes no other until
    /// [`CuttableLink::restore`].
    fn cut(&mut self) {
        if let Some((stop, accepting)) = self.listening.take() {
            stop.store(true, Ordering::SeqCst);
            accepting.join().unwrap();
        }
        std::fs::remove_file(&self.path).unwrap();
        for stream in self.streams.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn relay(mut from: UnixStream, mut to: UnixStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Both);
}

/// `watch` over serial loses the link (a cable pulled out), keeps its model
/// of the program, and reconnects once the link is back: the same program
/// runs on with its state, and a save made meanwhile is applied then.
#[test]
fn watch_over_serial_reconnects_after_the_link_is_cut() {
    if !support::board().transports.contains(&Transport::Serial) {
        return; // no serial agent in its template
    }
    let (project, state_dir, mut guard) = flash_project("flash-relink");
    project.write_script(&printing_counter_script("count"));
    flash(&project, &["--transport", "serial"], BUILD_TIMEOUT);
    let record = Record::read(&state_dir);
    guard.track(&record);
    let mut link = CuttableLink::insert(&record.socket.with_file_name("uart.sock"));

    let mut watch = Watch::start_with(&project, &["--transport", "serial"]);
    watch.expect_stderr(Duration::from_secs(120), "Attached to the board");
    let first = watch.expect_stdout(Duration::from_secs(10), "a count", |l| {
        l.starts_with("count ")
    });

    link.cut();
    watch.expect_stderr(Duration::from_secs(10), "lost the link to the board");
    // What the host read before the cut.
    std::thread::sleep(Duration::from_millis(200));
    let before = std::iter::from_fn(|| watch.stdout.try_recv().ok())
        .chain([first])
        .filter_map(|line| number_after(&line, "count"))
        .max()
        .unwrap();
    // A save while the link is down waits for it.
    project.write_script(&printing_counter_script("tock"));
    watch.expect_stderr(Duration::from_secs(30), "Waiting for the link to the board");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        watch.stdout.try_recv().is_err(),
        "output came while the link was cut"
    );

    link.restore();
    watch.expect_stderr(Duration::from_secs(10), "Reconnected to the board");
    watch.expect_stderr(Duration::from_secs(30), "Patched tick");
    let patched = watch.expect_stdout(Duration::from_secs(10), "from the patch", |l| {
        l.starts_with("tock ")
    });
    // The program ran on: neither restarted nor flashed again.
    assert!(
        number_after(&patched, "tock").unwrap() > before,
        "the count restarted: {before}, then {patched}"
    );
    assert_eq!(Record::read(&state_dir).pid, record.pid);
    assert!(!watch.seen_stderr.iter().any(|l| l.contains("Flashed")));
    watch.interrupt();
    flash(&project, &["--stop"], STOP_TIMEOUT);
}

/// A board whose firmware was built with a serial key refuses a host that
/// does not have it: the host says what to do, and the board goes on
/// running its program, untouched.
#[test]
fn a_board_with_a_serial_key_refuses_a_host_without_it() {
    if !support::board().transports.contains(&Transport::Serial) {
        return; // no serial agent in its template
    }
    let (project, state_dir, mut guard) = flash_project("flash-keyed");
    // The firmware's build sees the key (cargo's `[env]`, the last section
    // of the template's config); the host, this tool, does not.
    let config = project.root.join(".cargo/config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("[env]"), "{text}");
    text.push_str("BLUESCRIPT_SERIAL_KEY = \"000102030405060708090a0b0c0d0e0f\"\n");
    std::fs::write(&config, text).unwrap();
    project.write_script(&counter_script(1));
    flash(&project, &["--transport", "debugger"], BUILD_TIMEOUT);
    let record = Record::read(&state_dir);
    guard.track(&record);

    let mut watch = Watch::start_with(&project, &["--transport", "serial"]);
    let refused = watch.expect_stderr(Duration::from_secs(120), "refused the connection");
    assert!(
        refused.contains("requires a serial key") && refused.contains("serial-key-file"),
        "{refused}"
    );
    watch.interrupt();

    // The board was neither taken over nor flashed again: the same QEMU
    // runs the same program, counting on.
    assert_eq!(Record::read(&state_dir).pid, record.pid);
    assert!(record.is_running(), "the keyed board stopped");
    assert_counts_by(&record, 1);
    flash(&project, &["--stop"], STOP_TIMEOUT);
}

/// A real board with no probe connected is refused at once, with what it
/// needs, before the firmware is built.
#[test]
fn a_real_board_without_its_probe_is_refused_before_building() {
    if !cargo_bluescript::connection::probe_rs::list().is_empty() {
        eprintln!("a debug probe is connected: nothing to check here");
        return;
    }
    let board = cargo_bluescript::board::Board::named("rp2040").unwrap();
    let project = Project::for_board("unprobed", board);
    for command in ["run", "flash"] {
        let started = Instant::now();
        // A real board's debug port, whatever transport the other tests use.
        let output = tool(&[command, "--transport", "debugger"], &project.root)
            .output()
            .unwrap();
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{command}: {stderr}");
        assert!(
            stderr.contains("no debug probe is connected")
                && stderr.contains("Raspberry Pi Debug Probe")
                && stderr.contains("cargo bluescript probes"),
            "{command}: {stderr}"
        );
        assert!(!stderr.contains("Compiling"), "{command} built: {stderr}");
        assert!(started.elapsed() < Duration::from_secs(30), "{command}");
    }
    // The probes command says the same, and is no failure.
    let output = tool(&["probes"], &project.root).output().unwrap();
    assert!(output.status.success());
    assert!(text(&output.stderr).starts_with("No debug probe is connected"));
}

/// `--port` reaches an ESP board over its serial port (espflash, then the
/// serial agent); the port is checked before the (long) build, and another
/// board is told to do without it. No board here: only what fails before
/// the first byte.
#[test]
fn the_serial_port_is_for_esp_boards_and_is_found_first() {
    use cargo_bluescript::board::Board;

    let esp = Project::for_board("serial-flash", Board::named("esp32c3").unwrap());
    for args in [
        &["flash", "--port", "/dev/ttyNOSUCHPORT"][..],
        &[
            "run",
            "--transport",
            "serial",
            "--port",
            "/dev/ttyNOSUCHPORT",
        ],
    ] {
        let output = tool(args, &esp.root).output().unwrap();
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{args:?}: {stderr}");
        assert!(
            stderr.contains("the serial port `/dev/ttyNOSUCHPORT` does not exist"),
            "{args:?}: {stderr}"
        );
    }
    // A port is not a debug probe.
    let output = tool(
        &["run", "--transport", "debugger", "--port", "/dev/ttyUSB0"],
        &esp.root,
    )
    .output()
    .unwrap();
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("goes with `--transport serial`"),
        "{stderr}"
    );
    // Before the firmware's build, which takes minutes with esp-hal.
    assert!(!esp.root.join("target").exists(), "{stderr}");

    let emulated = Project::new("serial-flash-emulated");
    let output = tool(&["flash", "--port"], &emulated.root).output().unwrap();
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let refusal = format!("the {} board is not one: leave them out", emulated.board);
    assert!(stderr.contains(&refusal), "{stderr}");
}
