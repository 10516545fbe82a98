//! Boards emulated by QEMU (the registry's [`QemuMachine`]s), driven
//! through QEMU's GDB stub on a Unix socket.

use super::{process, Board, QemuMachine, RunningBoard, Transport};
use crate::connection::output::ProgramOutput;
use crate::connection::serial::{SerialOutput, Timing, UnixSocketLink};
use crate::connection::{CoreAccess, Flash, GdbStub, SerialAgent};
use crate::device::check_build;
use crate::shadow::Shadow;
use anyhow::{bail, Context, Result};
use bluescript_abi::HOST_ATTACHED;
use bluescript_compiler::fingerprint;
use bluescript_serial_agent::Key;
use std::cell::RefCell;
use std::ffi::OsString;
use std::io::{ErrorKind, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use std::{env, fs, thread};

/// How much of QEMU's output to keep for error messages.
const OUTPUT_TAIL: usize = 16 * 1024;
const SOCKET_POLL_INTERVAL: Duration = Duration::from_millis(2);
/// A bad image makes QEMU exit just after it opened its socket: how long a
/// failed connection waits for that, to report QEMU's own error instead.
const STARTUP_EXIT_WAIT: Duration = Duration::from_secs(1);
/// Longest socket path every Unix accepts (`sun_path` holds 104 bytes on
/// macOS, 108 on Linux, the terminating NUL included).
const MAX_SOCKET_PATH: usize = 100;

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

/// A QEMU process running one firmware image, with core access through its
/// GDB stub. Dropping it kills QEMU and removes its socket.
pub struct QemuBoard {
    // Declared before `process`: the connection closes before QEMU is killed.
    core: GdbStub<UnixStream>,
    process: QemuProcess,
    board: Board,
}

impl QemuBoard {
    /// Checks that the QEMU that emulates `board` can be run.
    pub fn ensure_installed(board: Board) -> Result<()> {
        let machine = machine(board)?;
        match find_program(machine.program) {
            Some(_) => Ok(()),
            None => Err(not_installed_error(board, machine)),
        }
    }

    /// Starts QEMU emulating `board` with `elf` loaded and the core halted
    /// at its reset vector, and connects to it.
    pub fn start(board: Board, elf: &Path, options: QemuOptions) -> Result<QemuBoard> {
        Self::ensure_installed(board)?;
        if !elf.is_file() {
            bail!(
                "the firmware {} does not exist (was it built?)",
                elf.display()
            );
        }
        let mut process = QemuProcess::spawn(board, elf, &options)?;
        process.wait_for_socket(options.startup_timeout)?;
        let core =
            connect(&process.socket_path()).map_err(|err| process.explain_startup_failure(err))?;
        Ok(QemuBoard {
            core,
            process,
            board,
        })
    }

    pub fn board(&self) -> Board {
        self.board
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
    fn core(&mut self) -> &mut dyn CoreAccess {
        &mut self.core
    }

    fn failure_details(&mut self) -> Option<String> {
        self.exit_report()
    }
}

/// A QEMU board the host reaches through the serial agent in its firmware,
/// on the UART socket: the GDB stub only starts the program (it writes the
/// attach mark and lets the core run), then core access and output go
/// through the agent.
pub struct SerialQemuBoard {
    stage: SerialStage,
    key: Option<Key>,
    qemu: QemuBoard,
}

enum SerialStage {
    /// Halted at the reset vector, reached through the GDB stub.
    Loaded,
    /// Running, reached through the agent.
    Running(Rc<RefCell<SerialAgent>>),
}

impl QemuBoard {
    /// This board, reached through its serial agent (authenticating with
    /// `key`) once the program runs.
    pub fn through_serial(self, key: Option<Key>) -> SerialQemuBoard {
        SerialQemuBoard {
            stage: SerialStage::Loaded,
            key,
            qemu: self,
        }
    }
}

impl RunningBoard for SerialQemuBoard {
    fn core(&mut self) -> &mut dyn CoreAccess {
        match &mut self.stage {
            SerialStage::Loaded => &mut self.qemu.core,
            SerialStage::Running(agent) => agent,
        }
    }

    fn run_attached(&mut self, shadow: &Shadow) -> Result<()> {
        if let SerialStage::Running(_) = self.stage {
            bail!("internal error: the program was started twice");
        }
        let gdb = &mut self.qemu.core;
        check_build(gdb, shadow)?;
        gdb.write_word(shadow.runtime.host_attached, HOST_ATTACHED)?;
        gdb.run()?;
        let socket = serial_socket(self.qemu.board, &self.qemu.process.socket_path())
            .context("internal error: the board has no serial agent")?;
        let agent = connect_serial(&socket, self.key)
            .map_err(|err| self.qemu.process.explain_startup_failure(err))?;
        let said = agent.hello().map(|hello| hello.status.build_id);
        if said != Some(shadow.build_id) {
            bail!(
                "the board's serial agent says build {:#010x}, but the host's model is of build {:#010x}",
                said.unwrap_or(0),
                shadow.build_id
            );
        }
        self.stage = SerialStage::Running(Rc::new(RefCell::new(agent)));
        Ok(())
    }

    fn output(&mut self, shadow: &Shadow) -> Box<dyn ProgramOutput> {
        match &self.stage {
            SerialStage::Running(agent) => Box::new(SerialOutput(agent.clone())),
            SerialStage::Loaded => self.qemu.output(shadow),
        }
    }

    fn failure_details(&mut self) -> Option<String> {
        self.qemu.exit_report()
    }

    fn outlives_its_link(&self) -> bool {
        matches!(self.stage, SerialStage::Running(_))
    }

    fn reconnect(&mut self) -> Result<()> {
        match &self.stage {
            SerialStage::Running(agent) => agent.borrow_mut().reconnect().map(drop),
            SerialStage::Loaded => bail!("internal error: the program was not started"),
        }
    }
}

/// Starts a session with the serial agent listening on the UART socket
/// `socket` of a QEMU board.
pub fn connect_serial(socket: &Path, key: Option<Key>) -> Result<SerialAgent> {
    // QEMU creates the UART's socket just after the GDB stub's, and listens
    // on it a moment after creating it.
    let deadline = Instant::now() + STARTUP_EXIT_WAIT;
    let link = loop {
        match UnixSocketLink::connect(socket) {
            Ok(link) => break link,
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::NotFound | ErrorKind::ConnectionRefused
                ) && Instant::now() < deadline =>
            {
                thread::sleep(SOCKET_POLL_INTERVAL)
            }
            Err(err) => {
                return Err(err).with_context(|| {
                    format!(
                        "could not connect to the board's serial port (socket {})",
                        socket.display()
                    )
                })
            }
        }
    };
    SerialAgent::connect(Box::new(link), key, Timing::default())
        .context("the board's serial agent did not answer as expected")
}

/// A QEMU started by `cargo bluescript flash`: it runs its image on its own,
/// as a flashed board does, and outlives this process. Dropping it leaves
/// QEMU running.
pub struct DetachedQemu {
    child: Child,
    socket: PathBuf,
    log: PathBuf,
}

/// Flashing a QEMU board. QEMU has no persistent flash: the image is
/// "flashed" by starting QEMU with it in the background, detached, its GDB
/// stub on a socket in the flash directory and its output in `qemu.log`.
pub struct QemuFlash(pub Board);

impl Flash for QemuFlash {
    type Flashed = DetachedQemu;

    fn flash(&self, image: &Path, dir: &Path) -> Result<DetachedQemu> {
        let socket = detached_socket_path(dir)?;
        let log = dir.join("qemu.log");
        DetachedQemu::start(self.0, image, &socket, &log, &QemuOptions::default())
    }
}

impl DetachedQemu {
    /// Starts QEMU emulating `board` running `elf` (not halted), its debug
    /// stub on `socket` and its output in `log`; returns once the socket is
    /// open.
    pub fn start(
        board: Board,
        elf: &Path,
        socket: &Path,
        log: &Path,
        options: &QemuOptions,
    ) -> Result<DetachedQemu> {
        QemuBoard::ensure_installed(board)?;
        let machine = machine(board)?;
        // A leftover socket would look like the new one being ready.
        remove_socket(socket)?;
        let log_file =
            fs::File::create(log).with_context(|| format!("cannot create `{}`", log.display()))?;
        let mut command = qemu_command(board, elf, socket, options, false)?;
        // Nothing of ours: no terminal, and no pipe (whoever reads our output
        // to its end would wait for QEMU too).
        command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        detach(&mut command);
        let child = command
            .spawn()
            .with_context(|| format!("could not start `{}`", machine.program))?;
        let mut qemu = DetachedQemu {
            child,
            socket: socket.to_path_buf(),
            log: log.to_path_buf(),
        };
        let log = qemu.log.clone();
        if let Err(err) = wait_for_socket(&mut qemu.child, socket, options.startup_timeout, &|| {
            log_tail(&log)
        }) {
            qemu.kill();
            return Err(err);
        }
        Ok(qemu)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its GDB stub's socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The socket of its UART, where the serial agent listens, if the board
    /// has one.
    pub fn serial_socket(&self, board: Board) -> Option<PathBuf> {
        serial_socket(board, &self.socket)
    }

    /// Where its output goes.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// If QEMU exits soon (as it does just after opening its socket when the
    /// image is bad): its exit status and what it logged.
    pub fn exit_report(&mut self) -> Option<String> {
        let status = wait_for_exit(&mut self.child, STARTUP_EXIT_WAIT)?;
        Some(describe_exit(status, &log_tail(&self.log)))
    }

    /// Stops QEMU, when flashing fails half-way.
    pub fn kill(mut self) {
        // Fails only if QEMU is already gone; `wait` reaps it either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Connects to the GDB stub of a QEMU that has just created its socket.
pub fn connect(socket: &Path) -> Result<GdbStub<UnixStream>> {
    // QEMU binds its socket (creating the file) a moment before it listens
    // on it; a connection in between is refused.
    let deadline = Instant::now() + STARTUP_EXIT_WAIT;
    loop {
        match UnixStream::connect(socket) {
            Ok(stream) => return GdbStub::new(stream),
            Err(err) if err.kind() == ErrorKind::ConnectionRefused && Instant::now() < deadline => {
                thread::sleep(SOCKET_POLL_INTERVAL)
            }
            Err(err) => {
                return Err(err).with_context(|| {
                    format!(
                        "could not connect to the board's debug socket {}",
                        socket.display()
                    )
                })
            }
        }
    }
}

/// Whether process `pid` is the QEMU of `machine` serving the debug socket
/// `socket`: the pid in a record may since have been reused by any other
/// process.
pub fn is_serving(machine: &QemuMachine, pid: u32, socket: &Path) -> bool {
    let spec = chardev_spec(GDB_CHARDEV, socket);
    let spec = spec.to_string_lossy();
    process::is_running(pid)
        && process::info(pid).is_some_and(|info| {
            info.program == machine.program && info.command_line.contains(&*spec)
        })
}

/// Stops the detached QEMU `pid` of `machine` that serves `socket`. Returns
/// whether it was running: if the pid is no such QEMU, no process is
/// touched.
pub fn stop_detached(machine: &QemuMachine, pid: u32, socket: &Path) -> Result<bool> {
    let running = is_serving(machine, pid, socket);
    if running {
        process::stop(pid).context("could not stop QEMU")?;
    }
    // QEMU leaves its socket behind when killed.
    remove_socket(socket)?;
    Ok(running)
}

/// Where a detached QEMU keeping its files in `dir` listens: `dir/gdb.sock`,
/// or, when that path is too long for a Unix socket, a private directory
/// named after `dir` in the temporary directory.
pub fn detached_socket_path(dir: &Path) -> Result<PathBuf> {
    let socket = dir.join("gdb.sock");
    if socket.as_os_str().len() <= MAX_SOCKET_PATH {
        return Ok(socket);
    }
    let name = format!(
        "cargo-bluescript-{:016x}",
        fingerprint(dir.as_os_str().as_bytes())
    );
    let private = env::temp_dir().join(name);
    match fs::create_dir(&private) {
        Ok(()) => fs::set_permissions(&private, fs::Permissions::from_mode(0o700))?,
        Err(err) if err.kind() == ErrorKind::AlreadyExists => {}
        Err(err) => {
            return Err(err).with_context(|| format!("could not create `{}`", private.display()))
        }
    }
    // Whoever can enter the directory can drive the board: it must be ours alone.
    let meta = fs::symlink_metadata(&private)?;
    if !meta.is_dir() || meta.uid() != fs::metadata(dir)?.uid() || meta.mode() & 0o077 != 0 {
        bail!(
            "`{}` is not a private directory of yours; remove it and flash again",
            private.display()
        );
    }
    Ok(private.join("gdb.sock"))
}

fn remove_socket(socket: &Path) -> Result<()> {
    match fs::remove_file(socket) {
        Err(err) if err.kind() != ErrorKind::NotFound => {
            Err(err).with_context(|| format!("cannot remove the old socket `{}`", socket.display()))
        }
        _ => Ok(()),
    }
}

/// The end of a log file, for error messages.
fn log_tail(log: &Path) -> String {
    let bytes = fs::read(log).unwrap_or_default();
    let start = bytes.len().saturating_sub(OUTPUT_TAIL);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// A session of its own: neither Ctrl-C in our terminal nor the terminal
/// closing reaches QEMU (and, unlike attached boards, it gets no
/// PR_SET_PDEATHSIG: it is meant to outlive us).
#[cfg(target_os = "linux")]
fn detach(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A process group of its own: Ctrl-C in our terminal does not reach QEMU.
#[cfg(not(target_os = "linux"))]
fn detach(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
}

/// The QEMU child process, the threads collecting its output, and the
/// directory holding its socket; all cleaned up on drop.
struct QemuProcess {
    child: Child,
    output: Arc<Mutex<Vec<u8>>>,
    socket_dir: SocketDir,
}

impl QemuProcess {
    fn spawn(board: Board, elf: &Path, options: &QemuOptions) -> Result<QemuProcess> {
        let machine = machine(board)?;
        let socket_dir = SocketDir::create()?;
        let mut command = qemu_command(board, elf, &socket_dir.socket_path(), options, true)?;
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
            .with_context(|| format!("could not start `{}`", machine.program))?;
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

    fn wait_for_socket(&mut self, timeout: Duration) -> Result<()> {
        let socket = self.socket_path();
        let output = &self.output;
        wait_for_socket(&mut self.child, &socket, timeout, &|| {
            String::from_utf8_lossy(&output.lock().unwrap()).into_owned()
        })
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
        match wait_for_exit(&mut self.child, STARTUP_EXIT_WAIT) {
            Some(status) => {
                let why = describe_exit(status, &self.output());
                err.context(format!("QEMU could not start the board: {why}"))
            }
            None => err,
        }
    }
}

impl Drop for QemuProcess {
    fn drop(&mut self) {
        // Fails only if QEMU is already gone; `wait` reaps it either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// QEMU creates its socket early in startup; until then, watch for it
/// dying (bad ELF, unknown option) so the error can say why.
fn wait_for_socket(
    child: &mut Child,
    socket: &Path,
    timeout: Duration,
    output: &dyn Fn() -> String,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while !socket.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            // Let QEMU's last words reach the output.
            thread::sleep(Duration::from_millis(20));
            bail!(
                "QEMU could not start the board: {}",
                describe_exit(status, &output())
            );
        }
        if Instant::now() > deadline {
            bail!(
                "QEMU did not open its debug socket within {} s{}",
                timeout.as_secs(),
                output_suffix(&output())
            );
        }
        thread::sleep(SOCKET_POLL_INTERVAL);
    }
    Ok(())
}

/// The exit status of `child` if it exits within `wait`.
fn wait_for_exit(child: &mut Child, wait: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + wait;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            // Let QEMU's last words reach the output.
            thread::sleep(Duration::from_millis(20));
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        thread::sleep(SOCKET_POLL_INTERVAL);
    }
}

/// `halted`: start with the core halted at its reset vector (`-S`), for a
/// host that connects at once; otherwise the guest runs from the start.
/// `socket` is the GDB stub's; a board with a serial agent gets its first
/// UART on a socket beside it ([`serial_socket`]).
fn qemu_command(
    board: Board,
    elf: &Path,
    socket: &Path,
    options: &QemuOptions,
    halted: bool,
) -> Result<Command> {
    let machine = machine(board)?;
    let mut command = Command::new(machine.program);
    command
        .args(machine.args)
        .arg("-nographic")
        // `native`: semihosting calls (exit, host I/O) are served by QEMU,
        // never forwarded to the debugger, whose protocol state we own.
        .args(["-semihosting-config", "enable=on,target=native"])
        .arg("-kernel")
        .arg(elf);
    if halted {
        // Connecting to a running guest would stop it at a random point.
        command.arg("-S");
    }
    command
        .arg("-chardev")
        .arg(chardev_spec(GDB_CHARDEV, socket))
        .args(["-gdb", &format!("chardev:{GDB_CHARDEV}")])
        // With -nographic it would otherwise take over the terminal.
        .args(["-monitor", "none"]);
    match serial_socket(board, socket) {
        // `wait=off`: the guest runs whether or not the host listens (what
        // it sends meanwhile is dropped, as on an unplugged cable).
        Some(serial) => command
            .arg("-chardev")
            .arg(chardev_spec(SERIAL_CHARDEV, &serial))
            .args(["-serial", &format!("chardev:{SERIAL_CHARDEV}")]),
        None => command.args(["-serial", "null"]),
    };
    if let Some(shift) = options.icount {
        command.args(["-icount", &format!("shift={shift},align=off,sleep=off")]);
    }
    command.args(&options.extra_args);
    Ok(command)
}

/// QEMU's names of the character devices of the GDB stub and the UART.
const GDB_CHARDEV: &str = "gdb0";
const SERIAL_CHARDEV: &str = "serial0";

/// The UART socket of a board whose GDB stub listens on `gdb_socket`: in
/// the same (private) directory. `None` for a board without a serial agent.
pub fn serial_socket(board: Board, gdb_socket: &Path) -> Option<PathBuf> {
    board
        .transports
        .contains(&Transport::Serial)
        .then(|| gdb_socket.with_file_name("uart.sock"))
}

/// A Unix socket in a private directory: no port races between boards
/// started in parallel.
fn chardev_spec(id: &str, socket: &Path) -> OsString {
    let mut spec = OsString::from(format!("socket,id={id},path="));
    // QEMU's option syntax: `,,` is a comma inside a value.
    let mut path = Vec::new();
    for &byte in socket.as_os_str().as_bytes() {
        path.push(byte);
        if byte == b',' {
            path.push(b',');
        }
    }
    spec.push(OsString::from_vec(path));
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

/// The machine that emulates `board`; an error for a real board.
fn machine(board: Board) -> Result<&'static QemuMachine> {
    board.qemu().ok_or_else(|| {
        anyhow::anyhow!("the {board} board is a real board: QEMU does not emulate it")
    })
}

fn not_installed_error(board: Board, machine: &QemuMachine) -> anyhow::Error {
    let QemuMachine {
        program, package, ..
    } = machine;
    anyhow::anyhow!(
        "`{program}` was not found on PATH: the {board} board needs it to emulate the microcontroller.\n\
         Install it with:\n  \
         Debian/Ubuntu: sudo apt-get install {package}\n  \
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
                Err(err) if err.kind() == ErrorKind::AlreadyExists => continue,
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
    use crate::connection::CoreState;

    #[test]
    fn finds_programs_on_path() {
        assert!(find_program("sh").is_some());
        assert!(find_program("no-such-program-for-bluescript").is_none());
    }

    #[test]
    fn the_missing_qemu_error_says_how_to_install_it() {
        let message =
            not_installed_error(Board::default(), Board::default().qemu().unwrap()).to_string();
        assert!(
            message.starts_with("`qemu-system-arm` was not found on PATH")
                && message.contains("the qemu-m4 board needs it"),
            "{message}"
        );
        assert!(
            message.contains("sudo apt-get install qemu-system-arm"),
            "{message}"
        );
        assert!(message.contains("brew install qemu"), "{message}");
        let rv32 = Board::named("qemu-rv32").unwrap();
        let message = not_installed_error(rv32, rv32.qemu().unwrap()).to_string();
        assert!(
            message.starts_with("`qemu-system-riscv32` was not found on PATH")
                && message.contains("sudo apt-get install qemu-system-misc"),
            "{message}"
        );
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
        let command = qemu_command(
            Board::default(),
            Path::new("fw.elf"),
            Path::new("dir/gdb.sock"),
            &options,
            true,
        )
        .unwrap();
        assert_eq!(command.get_program(), "qemu-system-arm");
        let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy()).collect();
        let line = args.join(" ");
        assert!(line.starts_with("-machine mps2-an386 "), "{line}");
        assert!(line.contains("-kernel fw.elf -S"), "{line}");
        assert!(
            line.contains("-chardev socket,id=gdb0,path=dir/gdb.sock,server=on,wait=off"),
            "{line}"
        );
        assert!(
            line.contains("-icount shift=10,align=off,sleep=off"),
            "{line}"
        );
        // Its serial agent's UART, beside the GDB stub.
        assert!(
            line.contains(
                "-chardev socket,id=serial0,path=dir/uart.sock,server=on,wait=off \
                 -serial chardev:serial0"
            ),
            "{line}"
        );
    }

    #[test]
    fn the_risc_v_board_starts_from_ram_without_firmware() {
        let command = qemu_command(
            Board::named("qemu-rv32").unwrap(),
            Path::new("fw.elf"),
            Path::new("gdb.sock"),
            &QemuOptions::default(),
            true,
        )
        .unwrap();
        assert_eq!(command.get_program(), "qemu-system-riscv32");
        let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy()).collect();
        assert!(
            args.join(" ")
                .starts_with("-machine virt -bios none -m 128M -nographic "),
            "{args:?}"
        );
        // Its UART, which carries the serial agent, on a socket beside the
        // GDB stub's.
        assert!(
            args.join(" ")
                .contains("-chardev socket,id=serial0,path=uart.sock"),
            "{args:?}"
        );
        assert!(
            args.join(" ").contains("-serial chardev:serial0"),
            "{args:?}"
        );
    }

    fn ensure_installed(board: Board) {
        QemuBoard::ensure_installed(board).expect("QEMU is installed (.ci/run installs it)");
    }

    #[test]
    fn a_missing_firmware_is_reported() {
        ensure_installed(Board::default());
        let err = QemuBoard::start(
            Board::default(),
            Path::new("no/such/firmware.elf"),
            QemuOptions::default(),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }

    #[test]
    fn qemu_errors_reach_the_user() {
        ensure_installed(Board::default());
        // QEMU loads any file with -kernel (a non-ELF as a raw image), so
        // provoke a failure with a bad option instead.
        let dir = tempfile::tempdir().unwrap();
        let elf = dir.path().join("firmware.elf");
        fs::write(&elf, b"raw image").unwrap();
        let options = QemuOptions {
            extra_args: vec!["-no-such-option".into()],
            ..QemuOptions::default()
        };
        let err = QemuBoard::start(Board::default(), &elf, options)
            .err()
            .unwrap();
        let message = format!("{err:#}");
        assert!(
            message.contains("QEMU could not start the board"),
            "{message}"
        );
        assert!(message.contains("no-such-option"), "{message}");
    }

    /// Every board of the registry: its QEMU starts halted, its RAM is where
    /// the registry says, its registers are numbered as its architecture
    /// says, and nothing is left behind.
    #[test]
    fn every_board_starts_halted_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let elf = dir.path().join("firmware.bin");
        fs::write(&elf, [0u8; 64]).unwrap();
        for board in Board::emulated() {
            ensure_installed(board);
            let mut qemu = QemuBoard::start(board, &elf, QemuOptions::default())
                .unwrap_or_else(|err| panic!("{board}: {err:#}"));
            assert_eq!(qemu.board(), board);
            let socket_dir = qemu.process.socket_dir.path.clone();
            let core = qemu.core();
            assert_eq!(core.state().unwrap(), CoreState::Halted);
            let ram = board.memory.ram;
            let last_word = ram.start + ram.size - 4;
            for address in [ram.start, last_word] {
                core.write_word(address, 0x1234_5678).unwrap();
                assert_eq!(
                    core.read_word(address).unwrap(),
                    0x1234_5678,
                    "{board} at {address:#x}"
                );
            }
            let registers = board.isa().gdb_registers();
            let debug = core.debug().expect("a GDB stub reads registers");
            let pc = debug.read_register(registers, registers.pc).unwrap();
            if board.isa().family() == "riscv32" {
                // `-bios none`: the hart starts in QEMU's reset ROM.
                assert_eq!(pc, 0x1000, "{board}");
            }
            assert!(qemu.exit_report().is_none(), "{board}");
            drop(qemu);
            assert!(!socket_dir.exists());
        }
    }

    /// A raw image QEMU loads at 0: a vector table whose reset handler is
    /// `b .` (with the Thumb bit), so the guest spins without faulting.
    fn spinning_image(dir: &Path) -> PathBuf {
        let elf = dir.join("spin.bin");
        let mut image = Vec::new();
        image.extend_from_slice(&0x2000_1000u32.to_le_bytes());
        image.extend_from_slice(&0x0000_0009u32.to_le_bytes());
        image.extend_from_slice(&[0xfe, 0xe7]);
        fs::write(&elf, image).unwrap();
        elf
    }

    /// A failed assertion must not leave a detached QEMU behind.
    struct StopOnDrop(u32, PathBuf);

    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            let _ = stop_detached(Board::default().qemu().unwrap(), self.0, &self.1);
        }
    }

    #[test]
    fn a_detached_qemu_runs_on_its_own_until_stopped() {
        let board = Board::default();
        let machine = board.qemu().unwrap();
        ensure_installed(board);
        let dir = tempfile::tempdir().unwrap();
        let elf = spinning_image(dir.path());
        let socket = detached_socket_path(dir.path()).unwrap();
        let log = dir.path().join("qemu.log");
        let qemu =
            DetachedQemu::start(board, &elf, &socket, &log, &QemuOptions::default()).unwrap();
        let pid = qemu.pid();
        // Dropping the handle must leave QEMU running.
        drop(qemu);
        let _guard = StopOnDrop(pid, socket.clone());
        let mut core = connect(&socket).unwrap();
        assert!(is_serving(machine, pid, &socket));
        assert!(!is_serving(machine, pid, &dir.path().join("other.sock")));
        assert!(!is_serving(machine, std::process::id(), &socket));
        let riscv = Board::named("qemu-rv32").unwrap().qemu().unwrap();
        assert!(!is_serving(riscv, pid, &socket));
        #[cfg(target_os = "linux")]
        {
            // Its own session: the terminal's signals do not reach it.
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            let (_, fields) = stat.rsplit_once(") ").unwrap();
            let session: u32 = fields.split(' ').nth(3).unwrap().parse().unwrap();
            assert_eq!(session, pid);
        }
        // It ran before we connected: the core is past its reset handler's
        // first instruction, spinning at 0x8.
        let registers = board.isa().gdb_registers();
        let pc = core.debug().unwrap().read_register(registers, registers.pc);
        assert_eq!(pc.unwrap(), 0x8);
        core.run().unwrap();
        drop(core);
        assert!(stop_detached(machine, pid, &socket).unwrap());
        assert!(!process::is_running(pid));
        assert!(!socket.exists());
        assert!(!stop_detached(machine, pid, &socket).unwrap());
    }

    #[test]
    fn a_detached_qemu_that_cannot_start_says_why() {
        ensure_installed(Board::default());
        let dir = tempfile::tempdir().unwrap();
        let elf = spinning_image(dir.path());
        let options = QemuOptions {
            extra_args: vec!["-no-such-option".into()],
            ..QemuOptions::default()
        };
        let socket = dir.path().join("gdb.sock");
        let log = dir.path().join("qemu.log");
        let err = DetachedQemu::start(Board::default(), &elf, &socket, &log, &options)
            .err()
            .unwrap();
        let message = format!("{err:#}");
        assert!(
            message.contains("QEMU could not start the board")
                && message.contains("no-such-option"),
            "{message}"
        );
    }

    #[test]
    fn long_socket_paths_move_to_a_private_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            detached_socket_path(dir.path()).unwrap(),
            dir.path().join("gdb.sock")
        );
        let deep = dir.path().join("a-rather-long-directory-name".repeat(4));
        fs::create_dir(&deep).unwrap();
        let socket = detached_socket_path(&deep).unwrap();
        assert!(socket.as_os_str().len() <= MAX_SOCKET_PATH, "{socket:?}");
        assert_eq!(detached_socket_path(&deep).unwrap(), socket);
        let private = socket.parent().unwrap();
        assert_eq!(fs::metadata(private).unwrap().mode() & 0o777, 0o700);
        fs::remove_dir(private).unwrap();
    }

    #[test]
    fn commas_in_socket_paths_are_escaped_for_qemu() {
        let spec = chardev_spec("gdb0", Path::new("/a,b/gdb.sock"));
        assert_eq!(
            spec,
            "socket,id=gdb0,path=/a,,b/gdb.sock,server=on,wait=off"
        );
    }
}
