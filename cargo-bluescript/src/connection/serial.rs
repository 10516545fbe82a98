//! Core access through the serial agent in the device's runtime
//! (docs/serial-agent.md), over any byte stream: a UART, USB CDC, or QEMU's
//! emulated UART on a socket. The agent serves memory while the program
//! runs; halting is its HOLD, running its RELEASE, and a patch's slots and
//! epoch go in one COMMIT that the device applies whole or not at all.

use super::output::{Output, ProgramOutput, Stream};
use super::{Capabilities, CoreAccess, CoreState};
use anyhow::{anyhow, bail, Context, Result};
use bluescript_serial_agent::frame::{Decoder, MAX_ENCODED};
use bluescript_serial_agent::{
    Client, ClientError, Error, Hello, Key, Op, Response, MAX_INLINE_WORDS,
};
use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::ops::Range;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// A byte stream to the device's agent.
pub trait SerialLink {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()>;

    /// Receives what arrived, waiting at most `timeout` for something;
    /// `Ok(0)` when nothing came in that time. A closed stream is an error.
    fn receive(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize>;

    /// Opens the stream again after it failed (a board reset, a cable
    /// plugged back in).
    fn reconnect(&mut self) -> io::Result<()>;
}

/// The link to the board's serial agent failed, or the agent fell silent:
/// the board itself may run on, and reopening the link may reach it again
/// ([`SerialAgent::reconnect`]).
#[derive(Debug)]
pub struct LinkLost(String);

impl std::fmt::Display for LinkLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LinkLost {}

impl LinkLost {
    /// Whether `error` (or what caused it) is a lost link.
    pub fn caused(error: &anyhow::Error) -> bool {
        error.chain().any(|cause| cause.is::<LinkLost>())
    }
}

/// How long and how often a request is tried.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// How long one attempt waits for the response.
    pub response: Duration,
    /// Attempts of one request (the same frame each time) before the device
    /// is taken as gone.
    pub attempts: u32,
    /// The HOLD's timeout: how long the device keeps the program stopped
    /// without hearing from the host.
    pub hold: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            response: Duration::from_millis(500),
            attempts: 4,
            hold: Duration::from_secs(3),
        }
    }
}

/// Core access through a device's serial agent.
pub struct SerialAgent {
    channel: Channel,
    client: Client,
    /// The device's answer to the last HELLO.
    hello: Option<Hello>,
    /// When the device last heard from the host while holding the program
    /// (the HOLD ends by itself after `timing.hold`).
    held_since: Option<Instant>,
    /// Host nonces: random, and different for every session.
    nonces: std::collections::hash_map::RandomState,
    sessions: u64,
}

/// The link and what is received on it.
struct Channel {
    link: Box<dyn SerialLink>,
    decoder: Decoder<MAX_ENCODED>,
    timing: Timing,
    /// The link failed: it is opened again before the next request.
    broken: bool,
}

/// OUTPUT frames one read of the output takes at most: a program that
/// prints without pause must not keep the host reading.
const OUTPUT_FRAMES_PER_READ: usize = 16;

impl SerialAgent {
    /// Starts a session with the agent at the other end of `link`,
    /// authenticating with `key` if the project has one.
    pub fn connect(
        link: Box<dyn SerialLink>,
        key: Option<Key>,
        timing: Timing,
    ) -> Result<SerialAgent> {
        let mut agent = SerialAgent {
            channel: Channel {
                link,
                decoder: Decoder::new(),
                timing,
                broken: false,
            },
            client: Client::new(key),
            hello: None,
            held_since: None,
            nonces: Default::default(),
            sessions: 0,
        };
        agent.start_session()?;
        Ok(agent)
    }

    /// What the device said at the start of the current session.
    pub fn hello(&self) -> Option<&Hello> {
        self.hello.as_ref()
    }

    /// Opens the link again and starts a new session: after a cut, the
    /// device's state is what it says now.
    pub fn reconnect(&mut self) -> Result<Hello> {
        self.channel.link.reconnect().map_err(|error| {
            LinkLost(format!(
                "cannot reopen the link to the board's serial agent: {error}"
            ))
        })?;
        self.channel.broken = false;
        self.held_since = None;
        self.start_session()
    }

    fn start_session(&mut self) -> Result<Hello> {
        self.hello = None;
        self.channel.decoder.clear();
        self.sessions += 1;
        let mut hasher = self.nonces.build_hasher();
        hasher.write_u64(self.sessions);
        let now = std::time::SystemTime::UNIX_EPOCH.elapsed();
        hasher.write_u128(now.map_or(0, |time| time.as_nanos()));
        let host_nonce = hasher.finish();
        let mut out = [0; MAX_ENCODED];
        let (_, len) = self.client.hello(host_nonce, &mut out);
        let client = &mut self.client;
        let hello = self
            .channel
            .exchange(&out[..len], |frame| client.accept_hello(frame, host_nonce))?;
        self.hello = Some(hello);
        Ok(hello)
    }

    /// Runs one request; the response's payload. When the device lost the
    /// session (it restarted), a new one is started and the request sent
    /// again, unless it is a commit: whether that one ran is for the caller
    /// to find out.
    fn call(&mut self, op: Op, parts: &[&[u8]]) -> Result<Vec<u8>> {
        if self.channel.broken {
            self.reconnect()?;
        }
        if !self.client.in_session() {
            self.start_session()?;
        }
        let session_lost = |result: &Result<Vec<u8>, Error>| {
            matches!(result, Err(Error::NoSession | Error::Unauthenticated))
        };
        let mut result = self.call_once(op, parts)?;
        if session_lost(&result) && !matches!(op, Op::Commit | Op::CommitStored) {
            self.start_session()?;
            result = self.call_once(op, parts)?;
        }
        if session_lost(&result) {
            self.client.end_session();
        }
        result.map_err(|error| {
            anyhow!(
                "the board's serial agent refused a {op:?} request: {}",
                error.describe()
            )
        })
    }

    fn call_once(&mut self, op: Op, parts: &[&[u8]]) -> Result<Result<Vec<u8>, Error>> {
        let mut out = [0; MAX_ENCODED];
        let (seq, len) = self
            .client
            .request(op, parts, &mut out)
            .map_err(|error| anyhow!("internal error: cannot build a {op:?} request: {error:?}"))?;
        let client = &self.client;
        let response =
            self.channel
                .exchange(&out[..len], |frame| match client.response(frame, seq)? {
                    Response::Done(payload) => Ok(Ok(payload.to_vec())),
                    Response::Refused(error) => Ok(Err(error)),
                })?;
        if self.held_since.is_some() {
            self.held_since = Some(Instant::now());
        }
        Ok(response)
    }

    /// Takes what the program wrote since the last call (up to a frame),
    /// with its state and error count.
    pub fn drain_output(&mut self) -> Result<(Vec<Output>, u32, u32)> {
        let payload = self.call(Op::Output, &[])?;
        let malformed = || anyhow!("the board's serial agent sent a malformed OUTPUT response");
        let (header, bytes) = payload.split_at_checked(10).ok_or_else(malformed)?;
        let word = |i: usize| u32::from_le_bytes(header[i..i + 4].try_into().expect("4 bytes"));
        let stderr_len = u16::from_le_bytes([header[8], header[9]]) as usize;
        let (stderr, stdout) = bytes.split_at_checked(stderr_len).ok_or_else(malformed)?;
        let output = [(Stream::Stderr, stderr), (Stream::Stdout, stdout)]
            .into_iter()
            .filter(|(_, bytes)| !bytes.is_empty())
            .map(|(stream, bytes)| Output {
                stream,
                bytes: bytes.to_vec(),
            })
            .collect();
        Ok((output, word(0), word(4)))
    }

    fn max_payload(&self) -> usize {
        self.client.max_payload()
    }
}

impl Channel {
    /// Sends `request` (the same bytes at each attempt) until `accept`
    /// takes a received frame: its value, or a final error. Frames it finds
    /// damaged, unauthenticated or answering another request are skipped.
    fn exchange<T>(
        &mut self,
        request: &[u8],
        mut accept: impl FnMut(&[u8]) -> Result<T, ClientError>,
    ) -> Result<T> {
        if self.broken {
            return Err(LinkLost("the link to the board's serial agent is cut".into()).into());
        }
        let mut buffer = [0; 512];
        for _ in 0..self.timing.attempts {
            // A response cut short (its delimiter lost) must not swallow
            // the next one.
            self.decoder.clear();
            self.cut_on_error(|link| link.send(request))?;
            let deadline = Instant::now() + self.timing.response;
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                let received = self.cut_on_error(|link| link.receive(&mut buffer, left))?;
                if received == 0 {
                    break;
                }
                for &byte in &buffer[..received] {
                    let Some(len) = self.decoder.push(byte) else {
                        continue;
                    };
                    match accept(self.decoder.frame(len)) {
                        Ok(value) => return Ok(value),
                        Err(
                            ClientError::Corrupt
                            | ClientError::OtherSequence(_)
                            | ClientError::Unauthenticated,
                        ) => {}
                        Err(error) => bail!(
                            "the board's serial agent refused the connection: {}",
                            describe_client_error(error)
                        ),
                    }
                }
            }
        }
        Err(LinkLost(format!(
            "the board's serial agent does not answer ({} attempts of {} ms): is the board connected and running this project's firmware?",
            self.timing.attempts,
            self.timing.response.as_millis()
        ))
        .into())
    }

    /// Runs `io` on the link; a failure marks the link cut.
    fn cut_on_error<T>(
        &mut self,
        io: impl FnOnce(&mut dyn SerialLink) -> io::Result<T>,
    ) -> Result<T> {
        io(&mut *self.link).map_err(|error| {
            self.broken = true;
            LinkLost(format!(
                "the link to the board's serial agent is cut: {error}"
            ))
            .into()
        })
    }
}

fn describe_client_error(error: ClientError) -> &'static str {
    match error {
        ClientError::KeyRequired => "the board requires a serial key: set `serial-key-file` in [package.metadata.bluescript] (or BLUESCRIPT_SERIAL_KEY) to the key its firmware was built with",
        ClientError::WrongKey => "the board's firmware was built with another serial key than the project's: flash it again, or use the key it was built with",
        ClientError::DeviceHasNoKey => "the board's firmware was built without a serial key, so it takes anyone's frames: flash it again (the project has a key)",
        ClientError::Version => "it speaks another version of the protocol: flash the board with this version's firmware",
        ClientError::Unauthenticated => "its answer is not authenticated with the project's key (was the firmware built with another key?)",
        ClientError::NoSession => "no session",
        ClientError::Corrupt | ClientError::OtherSequence(_) | ClientError::Malformed => "a malformed response",
    }
}

impl CoreAccess for SerialAgent {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            memory_while_running: true,
        }
    }

    fn halt(&mut self) -> Result<()> {
        let timeout_ms = self
            .channel
            .timing
            .hold
            .as_millis()
            .clamp(1, u16::MAX as u128) as u16;
        self.call(Op::Hold, &[&timeout_ms.to_le_bytes()])?;
        self.held_since = Some(Instant::now());
        Ok(())
    }

    fn run(&mut self) -> Result<()> {
        self.held_since = None;
        self.call(Op::Release, &[])?;
        Ok(())
    }

    fn state(&mut self) -> Result<CoreState> {
        // The device lets the program go on when the host stays silent for
        // the HOLD's timeout.
        Ok(match self.held_since {
            Some(since) if since.elapsed() < self.channel.timing.hold => CoreState::Halted,
            _ => CoreState::Running,
        })
    }

    fn read_memory(&mut self, addr: u32, buf: &mut [u8]) -> Result<()> {
        let chunk = self.max_payload();
        for (i, part) in buf.chunks_mut(chunk).enumerate() {
            let at = addr + (i * chunk) as u32;
            let bytes = self
                .call(
                    Op::Read,
                    &[&at.to_le_bytes(), &(part.len() as u16).to_le_bytes()],
                )
                .with_context(|| format!("reading {} bytes at {at:#010x}", part.len()))?;
            if bytes.len() != part.len() {
                bail!(
                    "the board's serial agent answered a read of {} bytes with {}",
                    part.len(),
                    bytes.len()
                );
            }
            part.copy_from_slice(&bytes);
        }
        Ok(())
    }

    fn write_memory(&mut self, addr: u32, data: &[u8]) -> Result<()> {
        let chunk = self.max_payload() - 4;
        for (i, part) in data.chunks(chunk).enumerate() {
            let at = addr + (i * chunk) as u32;
            self.call(Op::Write, &[&at.to_le_bytes(), part])
                .with_context(|| format!("writing {} bytes at {at:#010x}", part.len()))?;
        }
        Ok(())
    }

    /// One COMMIT: inline if the words fit a frame, else written to
    /// `scratch`, read back, and committed from there.
    fn commit_words(&mut self, words: &[(u32, u32)], scratch: Range<u32>) -> Result<()> {
        let list: Vec<u8> = words
            .iter()
            .flat_map(|(addr, value)| addr.to_le_bytes().into_iter().chain(value.to_le_bytes()))
            .collect();
        if words.len() <= MAX_INLINE_WORDS.min(self.max_payload() / 8) {
            self.call(Op::Commit, &[&list])?;
            return Ok(());
        }
        if scratch.len() < list.len() {
            bail!(
                "no room to stage {} slot words for the serial agent: the patch region is full; restart `cargo bluescript watch`",
                words.len()
            );
        }
        self.write_memory(scratch.start, &list)?;
        let mut readback = vec![0; list.len()];
        self.read_memory(scratch.start, &mut readback)?;
        if readback != list {
            bail!("the slot words read back differently from what was written at {:#x}; slots left unchanged", scratch.start);
        }
        let count = words.len() as u16;
        self.call(
            Op::CommitStored,
            &[&scratch.start.to_le_bytes(), &count.to_le_bytes()],
        )?;
        Ok(())
    }

    fn reset_and_halt(&mut self) -> Result<()> {
        bail!("a board reached through its serial agent cannot be reset and halted: reset it by hand, or flash it again")
    }
}

/// The program's output, through the OUTPUT frames of the serial agent
/// that is also the device's core access.
pub struct SerialOutput(pub Rc<RefCell<SerialAgent>>);

impl ProgramOutput for SerialOutput {
    fn read(&mut self, _core: &mut dyn CoreAccess) -> Result<Vec<Output>> {
        let mut output = Vec::new();
        for _ in 0..OUTPUT_FRAMES_PER_READ {
            let (chunk, _, _) = self.0.borrow_mut().drain_output()?;
            let bytes: usize = chunk.iter().map(|output| output.bytes.len()).sum();
            output.extend(chunk);
            // A full frame means more may be waiting.
            if bytes + 10 < self.0.borrow().max_payload() {
                break;
            }
        }
        Ok(output)
    }
}

/// What a read with a timeout gives a `SerialLink`: `Ok(0)` when nothing
/// came in time, or when a signal (Ctrl-C for the shell's input) cut the
/// wait short; the end of the stream is an error saying `closed`.
fn received(read: io::Result<usize>, closed: &str) -> io::Result<usize> {
    match read {
        Ok(0) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, closed)),
        Ok(received) => Ok(received),
        Err(error)
            if matches!(
                error.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
            ) =>
        {
            Ok(0)
        }
        Err(error) => Err(error),
    }
}

/// A Unix socket to the agent (QEMU's emulated UART as a socket server).
#[cfg(unix)]
pub struct UnixSocketLink {
    path: std::path::PathBuf,
    stream: std::os::unix::net::UnixStream,
}

#[cfg(unix)]
impl UnixSocketLink {
    pub fn connect(path: &std::path::Path) -> io::Result<UnixSocketLink> {
        Ok(UnixSocketLink {
            path: path.to_path_buf(),
            stream: std::os::unix::net::UnixStream::connect(path)?,
        })
    }
}

#[cfg(unix)]
impl SerialLink for UnixSocketLink {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        io::Write::write_all(&mut self.stream, bytes)
    }

    fn receive(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        self.stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        received(
            io::Read::read(&mut self.stream, buf),
            "the board closed the connection",
        )
    }

    fn reconnect(&mut self) -> io::Result<()> {
        self.stream = std::os::unix::net::UnixStream::connect(&self.path)?;
        Ok(())
    }
}

/// The baud rate of a board's serial port unless `--baud` says otherwise
/// (the templates' UARTs run at it).
pub const DEFAULT_BAUD: u32 = 115_200;

/// A serial port of this machine to the agent: a USB-serial adapter, a
/// board's USB CDC port or its built-in USB-UART bridge.
pub struct SerialPortLink {
    path: String,
    baud: u32,
    /// `None` once closed to be opened again, and while that fails.
    port: Option<Box<dyn serialport::SerialPort>>,
}

impl SerialPortLink {
    /// Opens `path` at `baud`, for this process alone; an error says why
    /// it could not be (missing, busy, not allowed) and what to do.
    pub fn open(path: &str, baud: u32) -> Result<SerialPortLink> {
        Ok(SerialPortLink {
            path: path.to_owned(),
            baud,
            port: Some(open_port(path, baud).map_err(|error| explain_open_error(path, error))?),
        })
    }

    /// `port`, already open on `path` (the one a board was just flashed
    /// through), at `baud` from now on.
    pub fn with_port(
        path: &str,
        baud: u32,
        mut port: Box<dyn serialport::SerialPort>,
    ) -> Result<SerialPortLink> {
        port.set_baud_rate(baud)
            .with_context(|| format!("cannot set the serial port {path} to {baud} baud"))?;
        release_reset_lines(&mut *port);
        Ok(SerialPortLink {
            path: path.to_owned(),
            baud,
            port: Some(port),
        })
    }
}

fn open_port(path: &str, baud: u32) -> serialport::Result<Box<dyn serialport::SerialPort>> {
    let mut port = serialport::new(path, baud)
        .timeout(Duration::from_millis(100))
        .open()?;
    release_reset_lines(&mut *port);
    Ok(port)
}

/// Releases RTS and DTR, which an ESP board's auto-reset circuit (and the
/// chip's USB-JTAG-serial) turn into its reset and its boot-mode pin:
/// opening a port raises both, and the board must run, not be held in
/// reset or sent to its bootloader. RTS first: with DTR alone raised the
/// chip only sees its boot pin low, which matters at reset alone; with RTS
/// alone it would be reset. That is how espflash's monitor leaves them. A
/// port without these lines (a pseudo-terminal) has nothing to release.
fn release_reset_lines(port: &mut dyn serialport::SerialPort) {
    let _ = port.write_request_to_send(false);
    let _ = port.write_data_terminal_ready(false);
}

fn explain_open_error(path: &str, error: serialport::Error) -> anyhow::Error {
    use serialport::ErrorKind;
    let what = match error.kind() {
        ErrorKind::Io(io::ErrorKind::NotFound) => {
            "there is no such port: is the board plugged in? (ports are usually /dev/ttyUSB* or /dev/ttyACM*)"
        }
        ErrorKind::Io(io::ErrorKind::PermissionDenied) => {
            "permission denied: add yourself to the `dialout` group (`sudo usermod -aG dialout $USER`, then log in again)"
        }
        // EBUSY on open, or the exclusive lock held by someone else.
        ErrorKind::NoDevice => {
            "it is busy: another program (a serial monitor, another `cargo bluescript watch`) has it open; close it"
        }
        _ => "",
    };
    if what.is_empty() {
        anyhow!("cannot open the serial port {path}: {error}")
    } else {
        anyhow!("cannot open the serial port {path}: {what} ({error})")
    }
}

impl SerialPortLink {
    fn port(&mut self) -> io::Result<&mut Box<dyn serialport::SerialPort>> {
        self.port.as_mut().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotConnected,
                format!("the serial port {} is closed", self.path),
            )
        })
    }
}

impl SerialLink for SerialPortLink {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let port = self.port()?;
        io::Write::write_all(port, bytes)?;
        io::Write::flush(port)
    }

    fn receive(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        let port = self.port()?;
        port.set_timeout(timeout.max(Duration::from_millis(1)))
            .map_err(io::Error::from)?;
        received(
            io::Read::read(port, buf),
            "the serial port was closed (the board unplugged?)",
        )
    }

    /// Closes the port first: this process holds it exclusively.
    fn reconnect(&mut self) -> io::Result<()> {
        self.port = None;
        self.port = Some(open_port(&self.path, self.baud).map_err(io::Error::from)?);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::connection::faults::{Device, Faults, FaultyLink};
    use bluescript_serial_agent::memory::MemoryTarget;
    use bluescript_serial_agent::Agent;

    #[test]
    fn a_signal_during_a_read_is_no_cut_link() {
        let interrupted = io::Error::from(io::ErrorKind::Interrupted);
        assert_eq!(received(Err(interrupted), "closed").unwrap(), 0);
        assert!(received(Ok(0), "closed").is_err());
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert!(received(Err(reset), "closed").is_err());
    }

    /// Where [`fake_board`]'s memory starts.
    pub(crate) const RAM: u32 = 0x2000_0000;
    const KEY: Key = [3; 16];

    fn link(key: Option<Key>) -> FaultyLink {
        FaultyLink::new(Device {
            agent: Agent::new(key),
            target: MemoryTarget::new(RAM, 0x4000),
        })
    }

    #[test]
    fn memory_goes_in_frames_while_the_program_runs() {
        let link = link(Some(KEY));
        let mut core = link.connect(Some(KEY)).unwrap();
        assert!(core.capabilities().memory_while_running);
        assert_eq!(core.state().unwrap(), CoreState::Running);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 13) as u8).collect();
        core.write_memory(RAM + 3, &data).unwrap();
        assert_eq!(link.device().target.ram[3..1003], data[..]);
        assert_eq!(link.device().target.writes, 4);
        let mut back = vec![0; 1000];
        core.read_memory(RAM + 3, &mut back).unwrap();
        assert_eq!(back, data);
        assert!(!link.device().target.held);
        let error = core.read_memory(0x1000, &mut back[..4]).unwrap_err();
        assert!(
            format!("{error:#}").contains("an address the device does not have"),
            "{error:#}"
        );
        // A refusal is an answer: the link is fine.
        assert!(!LinkLost::caused(&error));
    }

    #[test]
    fn halt_holds_the_program_and_run_releases_it() {
        let link = link(None);
        let mut core = link.connect(None).unwrap();
        core.halt().unwrap();
        assert!(link.device().target.held);
        assert_eq!(core.state().unwrap(), CoreState::Halted);
        core.run().unwrap();
        assert!(!link.device().target.held);
        assert_eq!(core.state().unwrap(), CoreState::Running);
        let error = core.reset_and_halt().unwrap_err().to_string();
        assert!(error.contains("reset it by hand"), "{error}");
    }

    #[test]
    fn a_long_list_of_words_is_staged_and_committed_at_once() {
        let link = link(Some(KEY));
        let mut core = link.connect(Some(KEY)).unwrap();
        let words: Vec<(u32, u32)> = (0..40).map(|i| (RAM + 4 * i, 100 + i)).collect();
        let scratch = RAM + 0x1000..RAM + 0x2000;
        // No room to stage it: nothing is written.
        let error = core
            .commit_words(&words, RAM + 0x1000..RAM + 0x1100)
            .unwrap_err();
        assert!(error.to_string().contains("no room"), "{error}");
        assert_eq!(link.device().target.word(RAM), 0);
        core.commit_words(&words, scratch).unwrap();
        let device = link.device();
        assert_eq!(device.target.commits, 1);
        assert_eq!(device.target.word(RAM + 4 * 39), 139);
        drop(device);
        // A short one goes inline.
        core.commit_words(&words[..3], RAM..RAM).unwrap();
        assert_eq!(link.device().target.commits, 2);
    }

    #[test]
    fn output_is_drained_in_frames() {
        let link = link(Some(KEY));
        let core = Rc::new(RefCell::new(link.connect(Some(KEY)).unwrap()));
        let text: Vec<u8> = (0..700).map(|i| b'a' + (i % 26) as u8).collect();
        link.device().target.stdout.extend(&text);
        link.device().target.stderr.extend(b"oops\n");
        let mut output = SerialOutput(core.clone());
        let mut shared = core.clone();
        let read = output.read(&mut shared).unwrap();
        assert_eq!(read[0].stream, Stream::Stderr);
        assert_eq!(read[0].bytes, b"oops\n");
        let stdout: Vec<u8> = read[1..]
            .iter()
            .inspect(|output| assert_eq!(output.stream, Stream::Stdout))
            .flat_map(|output| output.bytes.clone())
            .collect();
        assert_eq!(stdout, text);
        assert!(output.read(&mut shared).unwrap().is_empty());
    }

    #[test]
    fn a_cut_link_is_reconnected_and_a_restarted_device_gets_a_new_session() {
        let link = link(Some(KEY));
        let mut core = link.connect(Some(KEY)).unwrap();
        link.set_faults(Faults {
            cut_after: Some(link.crossed() + 5),
            ..Faults::default()
        });
        let mut word = [0; 4];
        let cut = core.read_memory(RAM, &mut word).unwrap_err();
        assert!(LinkLost::caused(&cut), "{cut:#}");
        // The link is back: the next request reconnects first.
        link.clone().reconnect().unwrap();
        link.device().target.set_word(RAM, 7);
        assert_eq!(core.read_word(RAM).unwrap(), 7);
        // The device restarted: its agent knows no session.
        link.device().agent = Agent::new(Some(KEY));
        assert_eq!(core.read_word(RAM).unwrap(), 7);
        // But a commit is not sent twice: the caller finds out what happened.
        link.device().agent = Agent::new(Some(KEY));
        let error = core.commit_words(&[(RAM, 1)], RAM..RAM).unwrap_err();
        assert!(error.to_string().contains("no session"), "{error}");
        assert_eq!(link.device().target.word(RAM), 7);
        assert_eq!(core.read_word(RAM).unwrap(), 7);
    }

    #[test]
    fn keys_that_do_not_match_are_explained() {
        let error = link(Some(KEY)).connect(None).err().unwrap().to_string();
        assert!(error.contains("requires a serial key"), "{error}");
        assert!(error.contains("serial-key-file"), "{error}");
        let error = link(None).connect(Some(KEY)).err().unwrap().to_string();
        assert!(error.contains("built without a serial key"), "{error}");
        let error = link(Some([4; 16]))
            .connect(Some(KEY))
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("does not answer") || error.contains("key"),
            "{error}"
        );
    }

    /// A pseudo-terminal as a board's serial port: the host opens its
    /// slave side by name as a real port; an in-process agent serves the
    /// master side until every slave side is closed (the one returned
    /// too: it keeps the master open until the host has opened its own).
    #[cfg(target_os = "linux")]
    pub(crate) fn fake_board(
        key: Option<Key>,
    ) -> (String, std::fs::File, std::thread::JoinHandle<Vec<u8>>) {
        use std::io::{Read, Write};
        let (path, slave, mut master) = pseudo_terminal();
        let board = std::thread::spawn(move || {
            let mut agent = Agent::new(key);
            let mut target = MemoryTarget::new(RAM, 0x1000);
            let mut buf = [0; 256];
            // Ends when the host closes the port (EIO on the master).
            while let Ok(received @ 1..) = master.read(&mut buf) {
                for &byte in &buf[..received] {
                    if let Some(response) = agent.receive(byte, &mut target) {
                        master.write_all(response).unwrap();
                    }
                }
            }
            target.ram
        });
        (path, slave, board)
    }

    /// A pseudo-terminal: the name of its slave side, which opens as a
    /// serial port; the slave side itself; and the master side.
    #[cfg(target_os = "linux")]
    pub(crate) fn pseudo_terminal() -> (String, std::fs::File, std::fs::File) {
        use std::os::fd::FromRawFd;
        let (mut master, mut slave) = (0, 0);
        let mut name = [0 as libc::c_char; 128];
        // SAFETY: out-pointers to locals; `name` is large enough.
        let opened = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                name.as_mut_ptr(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(opened, 0, "openpty: {}", io::Error::last_os_error());
        // SAFETY: `openpty` wrote a NUL-terminated name; the fds are ours.
        unsafe {
            let path = std::ffi::CStr::from_ptr(name.as_ptr())
                .to_str()
                .unwrap()
                .to_owned();
            (
                path,
                std::fs::File::from_raw_fd(slave),
                std::fs::File::from_raw_fd(master),
            )
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn frames_cross_a_serial_port_of_this_machine() {
        let (path, first_slave, board) = fake_board(Some(KEY));
        let link = SerialPortLink::open(&path, DEFAULT_BAUD).unwrap();
        let mut core = SerialAgent::connect(Box::new(link), Some(KEY), Timing::default()).unwrap();
        let data: Vec<u8> = (0..600u32).map(|i| (i * 7) as u8).collect();
        core.write_memory(RAM + 8, &data).unwrap();
        core.commit_words(&[(RAM, 0xdead_beef)], RAM..RAM).unwrap();
        assert_eq!(
            core.read_word(RAM + 8).unwrap(),
            u32::from_le_bytes([0, 7, 14, 21])
        );
        // Another program cannot take the port meanwhile.
        let busy = SerialPortLink::open(&path, DEFAULT_BAUD).err().unwrap();
        assert!(format!("{busy:#}").contains("busy"), "{busy:#}");
        drop((core, first_slave));
        let ram = board.join().unwrap();
        assert_eq!(ram[..4], 0xdead_beef_u32.to_le_bytes());
        assert_eq!(ram[8..608], data[..]);
    }

    #[test]
    fn a_missing_serial_port_is_explained() {
        let error = SerialPortLink::open("/dev/ttyNOSUCHPORT9", DEFAULT_BAUD)
            .err()
            .unwrap();
        let error = format!("{error:#}");
        assert!(error.contains("/dev/ttyNOSUCHPORT9"), "{error}");
        assert!(error.contains("is the board plugged in"), "{error}");
    }
}
