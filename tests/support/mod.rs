//! Shared by the end-to-end tests and the patch-latency benchmark: a
//! project made from the template, and a running `cargo bluescript watch`.
#![allow(dead_code)]

pub mod image;

use cargo_bluescript::board::Board;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

pub const TOOL: &str = env!("CARGO_BIN_EXE_cargo-bluescript");

/// The board the tests run on: `BS_BOARD` (a board's name), or the default
/// board.
pub fn board() -> Board {
    match std::env::var("BS_BOARD") {
        Ok(name) if !name.is_empty() => {
            Board::named(&name).unwrap_or_else(|err| panic!("BS_BOARD: {err}"))
        }
        _ => Board::default(),
    }
}

/// Firmware dependencies are compiled once for all tests of the board.
pub fn shared_target_dir() -> PathBuf {
    target_dir_of(board())
}

/// Each board (and each transport) has its own target directory, so that
/// the tests of two boards can run at once, and so can one board's tests
/// over two transports (a flashed board is recorded in it).
pub fn target_dir_of(board: Board) -> PathBuf {
    let name = match transport() {
        Some(transport) => format!("{}-{transport}", board.name()),
        None => board.name().to_owned(),
    };
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/e2e-firmware")
        .join(name)
}

/// How the tests reach the board: `BS_TRANSPORT` (`debugger` or `serial`),
/// or the board's usual way when unset.
pub fn transport() -> Option<String> {
    std::env::var("BS_TRANSPORT")
        .ok()
        .filter(|name| !name.is_empty())
}

/// `cargo bluescript` with `args`, run in `dir`; the commands that reach a
/// board do it through [`transport`].
pub fn tool(args: &[&str], dir: &Path) -> Command {
    let mut command = Command::new(TOOL);
    command.arg("bluescript").args(args);
    let reaches_board = matches!(args.first(), Some(&("run" | "watch" | "flash" | "repl")))
        && !args
            .iter()
            .any(|arg| matches!(*arg, "--stop" | "--transport"));
    if let Some(transport) = transport().filter(|_| reaches_board) {
        command.args(["--transport", &transport]);
    }
    command
        .current_dir(dir)
        // Never the terminal of whoever runs the tests: `watch` and `repl`
        // read their input from it (a test pipes what it sends).
        .stdin(Stdio::null())
        .env("CARGO_TARGET_DIR", shared_target_dir())
        // Tests read the diagnostics as text, whatever the environment asks.
        .env("CARGO_TERM_COLOR", "never");
    command
}

/// A new project for the tests' [`board`], in its own temporary directory.
pub struct Project {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub board: Board,
}

impl Project {
    pub fn new(name: &str) -> Project {
        Project::for_board(name, board())
    }

    pub fn for_board(name: &str, board: Board) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let output = tool(&["new", name, "--board", board.name()], dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "new failed: {}",
            text(&output.stderr)
        );
        let root = dir.path().join(name);
        Project {
            _dir: dir,
            root,
            board,
        }
    }

    pub fn write_script(&self, text: &str) {
        std::fs::write(self.root.join("scripts/main.bs"), text).unwrap();
    }

    pub fn run(&self) -> Output {
        tool(&["run"], &self.root)
            .env("CARGO_TARGET_DIR", target_dir_of(self.board))
            .output()
            .unwrap()
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A running `cargo bluescript watch`, its output lines collected by threads.
pub struct Watch {
    child: Child,
    pub stdout: Receiver<String>,
    pub stderr: Receiver<String>,
    pub seen_stderr: Vec<String>,
    stderr_cursor: usize,
}

pub fn lines(stream: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

impl Watch {
    pub fn start(project: &Project) -> Watch {
        Watch::start_with(project, &[])
    }

    /// `watch` with more arguments.
    pub fn start_with(project: &Project, args: &[&str]) -> Watch {
        let mut all = vec!["watch"];
        all.extend(args);
        Watch::spawn(tool(&all, &project.root))
    }

    /// Runs `command`, a `watch` with whatever options and environment.
    pub fn spawn(mut command: Command) -> Watch {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        Watch {
            child,
            stdout,
            stderr,
            seen_stderr: Vec::new(),
            stderr_cursor: 0,
        }
    }

    /// The next stdout line that satisfies `accept`, or a panic after `timeout`.
    pub fn expect_stdout(
        &mut self,
        timeout: Duration,
        what: &str,
        accept: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            self.drain_stderr();
            match self
                .stdout
                .recv_timeout(left.min(Duration::from_millis(100)))
            {
                Ok(line) if accept(&line) => return line,
                Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        self.drain_stderr();
        panic!(
            "no stdout line {what} within {timeout:?}; stderr:\n{}",
            self.seen_stderr.join("\n")
        );
    }

    /// The next stderr line (after the last one this matched) containing
    /// `needle`, or a panic after `timeout`.
    pub fn expect_stderr(&mut self, timeout: Duration, needle: &str) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let unmatched = &self.seen_stderr[self.stderr_cursor..];
            if let Some(i) = unmatched.iter().position(|l| l.contains(needle)) {
                self.stderr_cursor += i + 1;
                return self.seen_stderr[self.stderr_cursor - 1].clone();
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            match self.stderr.recv_timeout(left) {
                Ok(line) => self.seen_stderr.push(line),
                Err(_) => break,
            }
        }
        panic!(
            "no stderr line containing {needle:?}; stderr:\n{}",
            self.seen_stderr.join("\n")
        );
    }

    /// Every stderr line so far.
    pub fn stderr_so_far(&mut self) -> &[String] {
        self.drain_stderr();
        &self.seen_stderr
    }

    pub fn drain_stderr(&mut self) {
        while let Ok(line) = self.stderr.try_recv() {
            self.seen_stderr.push(line);
        }
    }
}

impl Watch {
    /// Writes `text` to its standard input (the command was spawned with
    /// a piped stdin: `cargo bluescript repl` fed as a script would).
    pub fn send(&mut self, text: &str) {
        use std::io::Write;
        let stdin = self
            .child
            .stdin
            .as_mut()
            .expect("spawned with a piped stdin");
        stdin.write_all(text.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Closes its standard input and waits for it to exit.
    pub fn finish(&mut self, timeout: Duration) -> std::process::ExitStatus {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running after {timeout:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends it SIGINT, as Ctrl-C in its terminal does, without waiting.
    pub fn signal_interrupt(&self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
    }

    /// Stops watch as Ctrl-C does, and waits for it to exit.
    pub fn interrupt(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The number after `word` in an output line: `count 7` → 7.
pub fn number_after(line: &str, word: &str) -> Option<i32> {
    line.strip_prefix(word)?.trim().parse().ok()
}

/// The `p`th percentile of `values` (nearest rank), for the benchmarks.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank]
}
