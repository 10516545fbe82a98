//! The `qemu-m4` board: QEMU's `mps2-an386` machine (Cortex-M4F) driven
//! through its GDB stub on a Unix socket.

use super::{Board, RunningBoard};
use crate::probe::{GdbProbe, Probe};
use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use std::{env, fs, thread};

const QEMU_PROGRAM: &str = "qemu-system-arm";
const MACHINE: &str = "mps2-an386";
/// How much of QEMU's output to keep for error messages.
const OUTPUT_TAIL: usize = 16 * 1024;
const SOCKET_POLL_INTERVAL: Duration = Duration::from_millis(2);

/// How to run QEMU.
#[derive(Debug, Clone)]
pub struct QemuOptions {
    /// Deterministic timing: `-icount shift=N,align=off,sleep=off` (each
    /// instruction takes 2^N ns of virtual time).
    pub icount: Option<u32>,
    /// Appended to QEMU's command line as is.
    pub extra_args: Vec<OsString>,
    /// How long QEMU may take to open its debug socket.
    pub startup_timeout: Duration,
}

impl Default for QemuOptions {
    fn default() -> Self {
        QemuOptions {
            icount: None,
            extra_args: Vec::new(),
            startup_timeout: Duration::from_secs(10),
        }
    }
}

/// A QEMU process running one firmware image, with a probe connected to
/// its GDB stub. Dropping it kills QEMU and removes its socket.
pub struct QemuBoard {
    // Declared before `process`: the connection closes before QEMU is killed.
    probe: GdbProbe<UnixStream>,
    process: QemuProcess,
}

impl QemuBoard {
    /// Checks that `qemu-system-arm` can be run.
    pub fn ensure_installed() -> Result<()> {
        match find_program(QEMU_PROGRAM) {
            Some(_) => Ok(()),
            None => Err(not_installed_error()),
        }
    }

    /// Starts QEMU with `elf` loaded and the core halted at its reset
    /// vector, and connects to it.
    pub fn start(elf: &Path, options: QemuOptions) -> Result<QemuBoard> {
        Self::ensure_installed()?;
        if !elf.is_file() {
            bail!(
                "the firmware {} does not exist (was it built?)",
                elf.display()
            );
        }
        let mut process = QemuProcess::spawn(elf, &options)?;
        process.wait_for_socket(options.startup_timeout)?;
        let probe = GdbProbe::connect_unix(&process.socket_path())
            .map_err(|err| process.explain_startup_failure(err))?;
        Ok(QemuBoard { probe, process })
    }

    pub fn probe(&mut self) -> &mut dyn Probe {
        &mut self.probe
    }

    /// The GDB client itself, for monitor commands and registers.
    pub fn gdb(&mut self) -> &mut GdbProbe<UnixStream> {
        &mut self.probe
    }

    /// What QEMU printed so far (its errors, and semihosting output), up to
    /// the last 16 KiB.
    pub fn qemu_output(&self) -> String {
        self.process.output()
    }

    /// If QEMU has exited: its exit status and output.
    pub fn exit_report(&mut self) -> Option<String> {
        let status = self.process.exit_status()?;
        Some(describe_exit(status, &self.process.output()))
    }
}

impl RunningBoard for QemuBoard {
    fn board(&self) -> Board {
        Board::QemuM4
    }

    fn probe(&mut self) -> &mut dyn Probe {
        QemuBoard::probe(self)
    }

    fn failure_details(&mut self) -> Option<String> {
        self.exit_report()
    }
}

/// The QEMU child process, the threads collecting its output, and the
/// directory holding its socket; all cleaned up on drop.
struct QemuProcess {
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
    socket_dir: SocketDir,
}

impl QemuProcess {
    fn spawn(elf: &Path, options: &QemuOptions) -> Result<QemuProcess> {
        let socket_dir = SocketDir::create()?;
        let mut command = qemu_command(elf, &socket_dir.socket_path(), options);
        // QEMU must not read the terminal (the user's keys belong to us);
        // its output is kept for error messages. It stays in our process
        // group on purpose: Ctrl-C or a closed terminal then stops it too,
        // even if this process dies without running destructors.
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        stop_with_parent(&mut command);
        let mut child = command
            .spawn()
            .with_context(|| format!("could not start `{QEMU_PROGRAM}`"))?;
        let output = Arc::new(Mutex::new(Vec::new()));
        if let Some(stdout) = child.stdout.take() {
            collect_output(stdout, output.clone());
        }
        if let Some(stderr) = child.stderr.take() {
            collect_output(stderr, output.clone());
        }
        Ok(QemuProcess {
            child,
            output,
            socket_dir,
        })
    }

    fn socket_path(&self) -> PathBuf {
        self.socket_dir.socket_path()
    }

    /// QEMU creates its socket early in startup; until then, watch for it
    /// dying (bad ELF, unknown option) so the error can say why.
    fn wait_for_socket(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let socket = self.socket_path();
        while !socket.exists() {
            if let Some(status) = self.exit_status() {
                // Let the output threads catch QEMU's last words.
                thread::sleep(Duration::from_millis(20));
                bail!(
                    "QEMU could not start the board: {}",
                    describe_exit(status, &self.output())
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "QEMU did not open its debug socket within {} s{}",
                    timeout.as_secs(),
                    output_suffix(&self.output())
                );
            }
            thread::sleep(SOCKET_POLL_INTERVAL);
        }
        Ok(())
    }

    fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Adds what QEMU said to an error, if it died: a bad image makes QEMU
    /// exit just after it opened its socket.
    fn explain_startup_failure(&mut self, err: anyhow::Error) -> anyhow::Error {
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if let Some(status) = self.exit_status() {
                thread::sleep(Duration::from_millis(20));
                let why = describe_exit(status, &self.output());
                return err.context(format!("QEMU could not start the board: {why}"));
            }
            thread::sleep(SOCKET_POLL_INTERVAL);
        }
        err
    }
}

impl Drop for QemuProcess {
    fn drop(&mut self) {
        // Fails only if QEMU is already gone; `wait` reaps it either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn qemu_command(elf: &Path, socket: &Path, options: &QemuOptions) -> Command {
    let mut command = Command::new(QEMU_PROGRAM);
    command
        .args(["-machine", MACHINE, "-nographic"])
        // `native`: semihosting calls (exit, host I/O) are served by QEMU,
        // never forwarded to the debugger, whose protocol state we own.
        .args(["-semihosting-config", "enable=on,target=native"])
        .arg("-kernel")
        .arg(elf)
        // Start halted: connecting to a running guest would stop it at a
        // random point.
        .arg("-S")
        .arg("-chardev")
        .arg(chardev_spec(socket))
        .args(["-gdb", "chardev:gdb0"])
        // With -nographic these would otherwise take over the terminal.
        .args(["-monitor", "none", "-serial", "null"]);
    if let Some(shift) = options.icount {
        command.args(["-icount", &format!("shift={shift},align=off,sleep=off")]);
    }
    command.args(&options.extra_args);
    command
}

/// A Unix socket in a private directory: no port races between boards
/// started in parallel.
fn chardev_spec(socket: &Path) -> OsString {
    let mut spec = OsString::from("socket,id=gdb0,path=");
    spec.push(socket);
    spec.push(",server=on,wait=off");
    spec
}

/// Keeps the last [`OUTPUT_TAIL`] bytes a pipe delivers. The thread ends
/// when QEMU closes the pipe (at exit).
fn collect_output(mut pipe: impl Read + Send + 'static, output: Arc<Mutex<Vec<u8>>>) {
    thread::spawn(move || {
        let mut chunk = [0; 4096];
        while let Ok(n @ 1..) = pipe.read(&mut chunk) {
            let mut output = output.lock().unwrap();
            output.extend_from_slice(&chunk[..n]);
            let excess = output.len().saturating_sub(OUTPUT_TAIL);
            output.drain(..excess);
        }
    });
}

fn describe_exit(status: ExitStatus, output: &str) -> String {
    format!("QEMU exited ({status}){}", output_suffix(output))
}

fn output_suffix(output: &str) -> String {
    let output = output.trim();
    if output.is_empty() {
        String::new()
    } else {
        format!(":\n{output}")
    }
}

fn not_installed_error() -> anyhow::Error {
    anyhow::anyhow!(
        "`{QEMU_PROGRAM}` was not found on PATH: the qemu-m4 board needs it to emulate the microcontroller.\n\
         Install it with:\n  \
         Debian/Ubuntu: sudo apt-get install {QEMU_PROGRAM}\n  \
         macOS:         brew install qemu"
    )
}

/// Looks `program` up on PATH, as the shell would.
fn find_program(program: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// A fresh private directory for QEMU's socket, removed on drop.
struct SocketDir {
    path: PathBuf,
}

impl SocketDir {
    fn create() -> Result<SocketDir> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let base = env::temp_dir();
        loop {
            let name = format!(
                "cargo-bluescript-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            );
            let path = base.join(name);
            // `create_dir` fails on an existing path, so the directory is ours
            // alone (a leftover from a dead process with the same pid is skipped).
            match fs::create_dir(&path) {
                Ok(()) => {
                    fs::set_permissions(&path, fs::Permissions::from_mode(0o700))?;
                    return Ok(SocketDir { path });
                }
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(err) => {
                    return Err(err).with_context(|| {
                        format!("could not create a directory in {}", base.display())
                    })
                }
            }
        }
    }

    fn socket_path(&self) -> PathBuf {
        self.path.join("gdb.sock")
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// QEMU must not outlive this process, however it ends (even SIGKILL, as
/// when a test harness gives up): the kernel stops it when we die.
#[cfg(target_os = "linux")]
fn stop_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn stop_with_parent(_command: &mut Command) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_path() {
        assert!(find_program("sh").is_some());
        assert!(find_program("no-such-program-for-bluescript").is_none());
    }

    #[test]
    fn the_missing_qemu_error_says_how_to_install_it() {
        let message = not_installed_error().to_string();
        assert!(
            message.starts_with("`qemu-system-arm` was not found on PATH"),
            "{message}"
        );
        assert!(
            message.contains("sudo apt-get install qemu-system-arm"),
            "{message}"
        );
        assert!(message.contains("brew install qemu"), "{message}");
    }

    #[test]
    fn socket_dirs_are_unique_and_removed() {
        let first = SocketDir::create().unwrap();
        let second = SocketDir::create().unwrap();
        assert_ne!(first.path, second.path);
        let path = first.path.clone();
        assert!(path.is_dir());
        drop(first);
        assert!(!path.exists());
    }

    #[test]
    fn command_line_starts_halted_with_a_socket_stub() {
        let options = QemuOptions {
            icount: Some(10),
            ..QemuOptions::default()
        };
        let command = qemu_command(Path::new("fw.elf"), Path::new("dir/gdb.sock"), &options);
        let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy()).collect();
        let line = args.join(" ");
        assert!(line.contains("-machine mps2-an386"), "{line}");
        assert!(line.contains("-kernel fw.elf -S"), "{line}");
        assert!(
            line.contains("-chardev socket,id=gdb0,path=dir/gdb.sock,server=on,wait=off"),
            "{line}"
        );
        assert!(
            line.contains("-icount shift=10,align=off,sleep=off"),
            "{line}"
        );
    }

    #[test]
    fn a_missing_firmware_is_reported() {
        QemuBoard::ensure_installed().expect("QEMU is installed (.ci/run installs it)");
        let err = QemuBoard::start(Path::new("no/such/firmware.elf"), QemuOptions::default())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }

    #[test]
    fn qemu_errors_reach_the_user() {
        QemuBoard::ensure_installed().expect("QEMU is installed (.ci/run installs it)");
        // QEMU loads any file with -kernel (a non-ELF as a raw image), so
        // provoke a failure with a bad option instead.
        let dir = tempfile::tempdir().unwrap();
        let elf = dir.path().join("firmware.elf");
        fs::write(&elf, b"raw image").unwrap();
        let options = QemuOptions {
            extra_args: vec!["-no-such-option".into()],
            ..QemuOptions::default()
        };
        let err = QemuBoard::start(&elf, options).err().unwrap();
        let message = format!("{err:#}");
        assert!(
            message.contains("QEMU could not start the board"),
            "{message}"
        );
        assert!(message.contains("no-such-option"), "{message}");
    }

    #[test]
    fn starts_halted_and_cleans_up() {
        QemuBoard::ensure_installed().expect("QEMU is installed (.ci/run installs it)");
        let dir = tempfile::tempdir().unwrap();
        let elf = dir.path().join("firmware.bin");
        fs::write(&elf, [0u8; 64]).unwrap();
        let mut board = QemuBoard::start(&elf, QemuOptions::default()).unwrap();
        let socket_dir = board.process.socket_dir.path.clone();
        let probe = board.probe();
        assert!(probe.is_halted());
        probe.write_word(0x2000_0000, 0x1234_5678).unwrap();
        assert_eq!(probe.read_word(0x2000_0000).unwrap(), 0x1234_5678);
        assert!(board.exit_report().is_none());
        drop(board);
        assert!(!socket_dir.exists());
    }
}
