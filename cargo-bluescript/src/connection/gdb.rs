//! A client for the GDB Remote Serial Protocol, the debug interface of QEMU,
//! OpenOCD, the Black Magic Probe, J-Link's GDB server and probe-rs's GDB
//! server.
//!
//! Packets are `$payload#cc` (`cc` = two hex digits of the byte sum), each
//! acknowledged with `+` (or `-`: send it again). Replies may use run-length
//! encoding (`x*n`) and escapes (`}` + byte ^ 0x20).
//!
//! Written against QEMU 7.2's stub, whose quirks shape this client:
//! - no binary `X` packet, so memory is written as hex with `M`;
//! - no no-ack mode, so every packet costs an ack in each direction;
//! - packets are at most 0x1000 bytes (its `PacketSize`), so memory moves in
//!   chunks of about 2 KiB;
//! - `c` gets no reply until the guest stops; any byte sent while it runs
//!   stops it, so the client only sends packets to a halted core, and halts
//!   with a bare 0x03 that is answered by a stop reply (`T02…`);
//! - a guest that exits (semihosting) produces `W<code>`, then the
//!   connection closes.
//!
//! Every read has a timeout, so a dead or hung stub is an error, never a hang.

use super::{CoreAccess, CoreDebug, CoreState};
use crate::isa::GdbRegisters;
use anyhow::{anyhow, bail, Context, Result};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
#[cfg(unix)]
use std::path::Path;
use std::time::Duration;

/// How long to wait for any answer from the stub before giving up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Data bytes per `m`/`M` packet when the stub does not announce a size.
const DEFAULT_CHUNK: usize = 2048;
/// Room for `$M<addr>,<len>:` and `#cc` around the hex data of a packet.
const PACKET_OVERHEAD: usize = 32;
const MAX_RETRANSMITS: usize = 5;
/// A reply larger than this is garbage, not a packet.
const MAX_REPLY: usize = 1 << 20;
const INTERRUPT: u8 = 0x03;
/// QEMU's monitor command that resets the machine (and keeps it halted when
/// it was halted).
const QEMU_RESET_COMMAND: &str = "system_reset";

/// A byte stream to a GDB stub: a Unix socket to QEMU, TCP to OpenOCD.
pub trait GdbStream: Read + Write {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()>;
}

#[cfg(unix)]
impl GdbStream for UnixStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_read_timeout(self, timeout)
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        UnixStream::set_nonblocking(self, nonblocking)
    }
}

impl GdbStream for TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        TcpStream::set_nonblocking(self, nonblocking)
    }
}

/// Core access (and registers) through a GDB stub.
pub struct GdbStub<S: GdbStream> {
    link: PacketLink<S>,
    state: CoreState,
    /// Memory bytes per `m`/`M` packet, derived from the stub's packet size.
    chunk_size: usize,
    reset_command: String,
}

#[cfg(unix)]
impl GdbStub<UnixStream> {
    /// Connects to a stub listening on a Unix socket (QEMU's `-gdb
    /// chardev:…` with a `socket,path=…` chardev).
    pub fn connect_unix(path: &Path) -> Result<Self> {
        let stream = UnixStream::connect(path).with_context(|| {
            format!(
                "could not connect to the board's debug socket {}",
                path.display()
            )
        })?;
        Self::new(stream)
    }
}

impl GdbStub<TcpStream> {
    /// Connects to a stub listening on TCP (OpenOCD: `localhost:3333`).
    pub fn connect_tcp(addr: impl ToSocketAddrs) -> Result<Self> {
        let stream =
            TcpStream::connect(addr).context("could not connect to the board's GDB server")?;
        // Every packet waits for an answer: Nagle's algorithm would only add delay.
        stream.set_nodelay(true)?;
        Self::new(stream)
    }
}

impl<S: GdbStream> GdbStub<S> {
    /// Talks to the stub at the other end of `stream`: learns its packet size
    /// and whether the core is halted.
    pub fn new(stream: S) -> Result<Self> {
        Self::with_timeout(stream, DEFAULT_TIMEOUT)
    }

    pub fn with_timeout(stream: S, timeout: Duration) -> Result<Self> {
        let mut core = GdbStub {
            link: PacketLink::new(stream, timeout)?,
            state: CoreState::Halted,
            chunk_size: DEFAULT_CHUNK,
            reset_command: QEMU_RESET_COMMAND.to_owned(),
        };
        core.handshake()?;
        Ok(core)
    }

    /// How long to wait for an answer before reporting the board as dead.
    pub fn set_timeout(&mut self, timeout: Duration) -> Result<()> {
        self.link.set_timeout(timeout)
    }

    /// The monitor command that [`CoreAccess::reset_and_halt`] sends
    /// (`system_reset` for QEMU; `reset halt` for OpenOCD).
    pub fn set_reset_command(&mut self, command: impl Into<String>) {
        self.reset_command = command.into();
    }

    /// Memory bytes moved per packet.
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// Runs a monitor command (`monitor …` in GDB) and returns its output.
    pub fn monitor(&mut self, command: &str) -> Result<String> {
        self.require_halted()?;
        let mut payload = b"qRcmd,".to_vec();
        encode_hex(command.as_bytes(), &mut payload);
        self.link.send_packet(&payload)?;
        let mut output = Vec::new();
        loop {
            let reply = self.link.receive_packet()?;
            match reply.as_slice() {
                b"OK" => break,
                [] => bail!("the board's debug server does not support monitor commands"),
                [b'O', hex @ ..] => output.extend(decode_hex_vec(hex)?),
                _ if is_error_reply(&reply) => bail!(
                    "the board's debug server rejected the command `{command}` ({})",
                    String::from_utf8_lossy(&reply)
                ),
                // Some stubs answer with the output itself, hex-encoded.
                hex => output.extend(decode_hex_vec(hex)?),
            }
        }
        Ok(String::from_utf8_lossy(&output).into_owned())
    }

    fn handshake(&mut self) -> Result<()> {
        // A stub that halts a running guest when we connect (QEMU without
        // `-S`) announces it with a stop reply before answering anything.
        self.link.send_packet(b"qSupported")?;
        let features = loop {
            let reply = self.link.receive_packet()?;
            if parse_stop_reply(&reply).is_none() {
                break reply;
            }
        };
        if let Some(size) = parse_packet_size(&features) {
            self.chunk_size = chunk_size_for(size);
        }
        let reply = self.link.command(b"?")?;
        let stop = parse_stop_reply(&reply).ok_or_else(|| {
            anyhow!(
                "the board's debug server gave an unexpected status: {}",
                String::from_utf8_lossy(&reply)
            )
        })?;
        self.record_stop(stop);
        Ok(())
    }

    fn record_stop(&mut self, stop: StopReply) {
        self.state = match stop {
            StopReply::Stopped => CoreState::Halted,
            StopReply::Exited(code) => CoreState::Exited(code),
        };
    }

    fn require_halted(&self) -> Result<()> {
        match self.state {
            CoreState::Halted => Ok(()),
            CoreState::Running => {
                bail!("internal error: the board must be halted to access it (use with_halted)")
            }
            CoreState::Exited(code) => Err(exited_error(code)),
        }
    }

    /// Picks up a stop reply that a running core sent on its own, without
    /// blocking when there is none.
    fn poll_stop_reply(&mut self) -> Result<Option<StopReply>> {
        while self.link.has_input()? {
            if self.link.peek_byte()? != b'$' {
                self.link.skip_byte(); // a stray ack
                continue;
            }
            let packet = self.link.receive_packet()?;
            if let Some(stop) = parse_stop_reply(&packet) {
                self.record_stop(stop);
                return Ok(Some(stop));
            }
            check_console_output(&packet)?;
        }
        Ok(None)
    }

    fn wait_for_stop_reply(&mut self) -> Result<StopReply> {
        loop {
            let packet = self.link.receive_packet()?;
            if let Some(stop) = parse_stop_reply(&packet) {
                self.record_stop(stop);
                return Ok(stop);
            }
            check_console_output(&packet)?;
        }
    }

    fn read_chunk(&mut self, addr: u32, buf: &mut [u8]) -> Result<()> {
        let reply = self
            .link
            .command(format!("m{addr:x},{:x}", buf.len()).as_bytes())?;
        if is_error_reply(&reply) || reply.len() != 2 * buf.len() {
            bail!(
                "the board refused to read {} bytes at 0x{addr:08x} ({}); is the address inside the device's memory?",
                buf.len(),
                describe_reply(&reply)
            );
        }
        decode_hex(&reply, buf)
    }

    fn write_chunk(&mut self, addr: u32, data: &[u8]) -> Result<()> {
        let mut payload = Vec::with_capacity(PACKET_OVERHEAD + 2 * data.len());
        write!(payload, "M{addr:x},{:x}:", data.len())?;
        encode_hex(data, &mut payload);
        let reply = self.link.command(&payload)?;
        if reply != b"OK" {
            bail!(
                "the board refused to write {} bytes at 0x{addr:08x} ({}); is the address inside the device's memory?",
                data.len(),
                describe_reply(&reply)
            );
        }
        Ok(())
    }
}

impl<S: GdbStream> CoreAccess for GdbStub<S> {
    fn halt(&mut self) -> Result<()> {
        if self.state == CoreState::Running && self.poll_stop_reply()?.is_none() {
            self.link.send_raw(&[INTERRUPT])?;
            self.wait_for_stop_reply()?;
        }
        self.require_halted()
    }

    fn run(&mut self) -> Result<()> {
        match self.state {
            CoreState::Running => Ok(()),
            CoreState::Exited(code) => Err(exited_error(code)),
            CoreState::Halted => {
                // No reply until the core stops again; see `halt`.
                self.link.send_packet(b"c")?;
                self.state = CoreState::Running;
                Ok(())
            }
        }
    }

    fn read_memory(&mut self, addr: u32, buf: &mut [u8]) -> Result<()> {
        self.require_halted()?;
        let mut chunk_addr = addr;
        for chunk in buf.chunks_mut(self.chunk_size) {
            self.read_chunk(chunk_addr, chunk)?;
            chunk_addr = chunk_addr.wrapping_add(chunk.len() as u32);
        }
        Ok(())
    }

    fn write_memory(&mut self, addr: u32, data: &[u8]) -> Result<()> {
        self.require_halted()?;
        let mut chunk_addr = addr;
        for chunk in data.chunks(self.chunk_size) {
            self.write_chunk(chunk_addr, chunk)?;
            chunk_addr = chunk_addr.wrapping_add(chunk.len() as u32);
        }
        Ok(())
    }

    fn reset_and_halt(&mut self) -> Result<()> {
        self.halt()?;
        let command = self.reset_command.clone();
        self.monitor(&command)
            .context("could not reset the board")?;
        // Whatever the reset did to the run state, make sure the core is
        // halted now and learn its state from the stub.
        let reply = self.link.command(b"?")?;
        match parse_stop_reply(&reply) {
            Some(stop) => self.record_stop(stop),
            None => bail!(
                "after reset, the board's debug server gave an unexpected status: {}",
                String::from_utf8_lossy(&reply)
            ),
        }
        self.halt()
    }

    fn state(&mut self) -> Result<CoreState> {
        if self.state == CoreState::Running {
            self.poll_stop_reply()?;
        }
        Ok(self.state)
    }

    fn debug(&mut self) -> Option<&mut dyn CoreDebug> {
        Some(self)
    }
}

impl<S: GdbStream> CoreDebug for GdbStub<S> {
    fn read_register(&mut self, registers: GdbRegisters, number: u32) -> Result<u32> {
        self.require_halted()?;
        let mut reply = self.link.command(format!("p{number:x}").as_bytes())?;
        let mut offset = 0;
        if reply.is_empty() {
            // QEMU answers `p` only to clients that read its target XML; `g`
            // (all registers, the core registers first) always works.
            reply = self.link.command(b"g")?;
            offset = registers.g_offset(number);
        }
        let Some(hex) = reply
            .get(offset..offset + 8)
            .filter(|_| !is_error_reply(&reply))
        else {
            bail!(
                "the board's debug server could not read register {number} ({})",
                describe_reply(&reply)
            );
        };
        let mut bytes = [0; 4];
        decode_hex(hex, &mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }
}

/// What a stop reply packet says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReply {
    /// `S<sig>` / `T<sig>…`: the core halted.
    Stopped,
    /// `W<code>` (exited) or `X<sig>` (killed by a signal, reported as
    /// 128 + signal like a shell does).
    Exited(i32),
}

fn parse_stop_reply(packet: &[u8]) -> Option<StopReply> {
    let (&kind, rest) = packet.split_first()?;
    let number = rest.get(..2).and_then(parse_hex_u32)? as i32;
    match kind {
        b'S' | b'T' => Some(StopReply::Stopped),
        b'W' => Some(StopReply::Exited(number)),
        b'X' => Some(StopReply::Exited(128 + number)),
        _ => None,
    }
}

/// `O<hex>` packets carry the stub's console output; anything else arriving
/// unasked means the two sides disagree about the protocol state.
fn check_console_output(packet: &[u8]) -> Result<()> {
    if packet.first() == Some(&b'O') && packet != b"OK" {
        return Ok(());
    }
    bail!(
        "unexpected message from the board's debug server: {}",
        String::from_utf8_lossy(packet)
    )
}

fn exited_error(code: i32) -> anyhow::Error {
    anyhow!("the program on the board has exited (exit code {code}); restart it to continue")
}

fn is_error_reply(reply: &[u8]) -> bool {
    reply.len() >= 3 && reply[0] == b'E' && reply[1..].iter().all(u8::is_ascii_hexdigit)
}

fn describe_reply(reply: &[u8]) -> String {
    match reply {
        [] => "the debug server does not support this".to_owned(),
        _ if is_error_reply(reply) => {
            format!("debug server error {}", String::from_utf8_lossy(reply))
        }
        _ => format!("unexpected reply {:?}", String::from_utf8_lossy(reply)),
    }
}

/// `PacketSize=<hex>` from a `qSupported` reply.
fn parse_packet_size(features: &[u8]) -> Option<usize> {
    features
        .split(|&b| b == b';')
        .find_map(|feature| feature.strip_prefix(b"PacketSize="))
        .and_then(parse_hex_u32)
        .map(|size| size as usize)
}

/// Hex doubles the data, and the command and framing need some room.
fn chunk_size_for(packet_size: usize) -> usize {
    let fits = packet_size.saturating_sub(PACKET_OVERHEAD) / 2;
    (fits & !3).clamp(4, DEFAULT_CHUNK)
}

/// The framing and byte-level I/O: buffered reads (one syscall per burst,
/// not per byte), acks and retransmission.
struct PacketLink<S: GdbStream> {
    stream: S,
    rx: Box<[u8]>,
    rx_start: usize,
    rx_end: usize,
    tx: Vec<u8>,
    timeout: Duration,
}

impl<S: GdbStream> PacketLink<S> {
    fn new(stream: S, timeout: Duration) -> Result<Self> {
        let mut link = PacketLink {
            stream,
            rx: vec![0; 16 * 1024].into_boxed_slice(),
            rx_start: 0,
            rx_end: 0,
            tx: Vec::with_capacity(DEFAULT_CHUNK * 2 + PACKET_OVERHEAD),
            timeout,
        };
        link.set_timeout(timeout)?;
        Ok(link)
    }

    fn set_timeout(&mut self, timeout: Duration) -> Result<()> {
        self.stream
            .set_read_timeout(Some(timeout))
            .context("could not configure the board's debug connection")?;
        self.timeout = timeout;
        Ok(())
    }

    /// Sends a packet and answers with its reply packet.
    fn command(&mut self, payload: &[u8]) -> Result<Vec<u8>> {
        self.send_packet(payload)?;
        self.receive_packet()
    }

    /// Sends `$payload#cc` and waits for the stub's `+`, sending again on `-`.
    fn send_packet(&mut self, payload: &[u8]) -> Result<()> {
        debug_assert!(
            !payload.iter().any(|b| b"$#}*".contains(b)),
            "payload needs escaping"
        );
        self.tx.clear();
        self.tx.push(b'$');
        self.tx.extend_from_slice(payload);
        write!(self.tx, "#{:02x}", checksum(payload))?;
        for _ in 0..=MAX_RETRANSMITS {
            let tx = std::mem::take(&mut self.tx);
            let sent = self.send_raw(&tx);
            self.tx = tx;
            sent?;
            if self.wait_for_ack()? {
                return Ok(());
            }
        }
        bail!("the board's debug connection is garbling packets (rejected {MAX_RETRANSMITS} times)")
    }

    /// True for `+`, false for `-`. A packet arriving instead of the ack can
    /// only be an unsolicited stop reply (a stub announcing a halt on
    /// connect); it is acknowledged and dropped.
    fn wait_for_ack(&mut self) -> Result<bool> {
        loop {
            match self.peek_byte()? {
                b'+' => {
                    self.skip_byte();
                    return Ok(true);
                }
                b'-' => {
                    self.skip_byte();
                    return Ok(false);
                }
                b'$' => {
                    self.receive_packet()?;
                }
                _ => self.skip_byte(),
            }
        }
    }

    /// Reads one packet, acknowledges it, and returns its decoded payload.
    /// Bytes before the `$` (stray acks) are skipped.
    fn receive_packet(&mut self) -> Result<Vec<u8>> {
        for _ in 0..=MAX_RETRANSMITS {
            while self.next_byte()? != b'$' {}
            let mut body = Vec::new();
            loop {
                match self.next_byte()? {
                    b'#' => break,
                    byte if body.len() < MAX_REPLY => body.push(byte),
                    _ => bail!("the board's debug server sent an oversized packet"),
                }
            }
            let sent_sum = [self.next_byte()?, self.next_byte()?];
            if parse_hex_u32(&sent_sum) == Some(u32::from(checksum(&body))) {
                // A stub may close the connection right after its last
                // packet (QEMU after `W`): the packet still counts, and a
                // dead connection shows on the next command.
                let _ = self.send_raw(b"+");
                return decode_body(&body);
            }
            self.send_raw(b"-")?;
        }
        bail!("the board's debug connection is garbling packets (bad checksum {MAX_RETRANSMITS} times)")
    }

    fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .map_err(|err| match err.kind() {
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset => disconnected(),
                _ => anyhow!(err).context("writing to the board's debug connection failed"),
            })
    }

    fn next_byte(&mut self) -> Result<u8> {
        let byte = self.peek_byte()?;
        self.skip_byte();
        Ok(byte)
    }

    fn peek_byte(&mut self) -> Result<u8> {
        if self.rx_start == self.rx_end {
            self.fill()?;
        }
        Ok(self.rx[self.rx_start])
    }

    fn skip_byte(&mut self) {
        self.rx_start += 1;
    }

    /// Blocking read of whatever has arrived, up to the timeout.
    fn fill(&mut self) -> Result<()> {
        loop {
            match self.stream.read(&mut self.rx) {
                Ok(0) => return Err(disconnected()),
                Ok(n) => {
                    self.rx_start = 0;
                    self.rx_end = n;
                    return Ok(());
                }
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    bail!(
                        "the board stopped responding: no answer from its debug server within {:.1} s (QEMU hung?)",
                        self.timeout.as_secs_f64()
                    )
                }
                Err(err) if err.kind() == ErrorKind::ConnectionReset => return Err(disconnected()),
                Err(err) => {
                    return Err(
                        anyhow!(err).context("reading from the board's debug connection failed")
                    )
                }
            }
        }
    }

    /// Whether input is waiting, without blocking.
    fn has_input(&mut self) -> Result<bool> {
        if self.rx_start < self.rx_end {
            return Ok(true);
        }
        self.stream.set_nonblocking(true)?;
        let read = self.stream.read(&mut self.rx);
        self.stream.set_nonblocking(false)?;
        match read {
            Ok(0) => Err(disconnected()),
            Ok(n) => {
                self.rx_start = 0;
                self.rx_end = n;
                Ok(true)
            }
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                Ok(false)
            }
            Err(err) if err.kind() == ErrorKind::ConnectionReset => Err(disconnected()),
            Err(err) => {
                Err(anyhow!(err).context("reading from the board's debug connection failed"))
            }
        }
    }
}

fn disconnected() -> anyhow::Error {
    anyhow!("the board stopped responding (QEMU exited?): its debug connection closed")
}

fn checksum(payload: &[u8]) -> u8 {
    payload.iter().fold(0u8, |sum, &b| sum.wrapping_add(b))
}

/// Undoes escapes (`}x` = x ^ 0x20) and run-length encoding (`c*n` = c
/// followed by n - 29 more copies of c).
fn decode_body(raw: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter().copied();
    while let Some(byte) = bytes.next() {
        match byte {
            b'}' => {
                let escaped = bytes
                    .next()
                    .context("malformed packet: escape at its end")?;
                out.push(escaped ^ 0x20);
            }
            b'*' => {
                let count = bytes
                    .next()
                    .context("malformed packet: repeat at its end")?;
                let &repeated = out
                    .last()
                    .context("malformed packet: repeat at its start")?;
                let extra = usize::from(count)
                    .checked_sub(29)
                    .context("malformed packet: bad repeat count")?;
                out.extend(std::iter::repeat_n(repeated, extra));
            }
            _ => out.push(byte),
        }
    }
    Ok(out)
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

fn encode_hex(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(HEX_DIGITS[usize::from(b >> 4)]);
        out.push(HEX_DIGITS[usize::from(b & 0xf)]);
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|v| v as u8)
}

/// Decodes exactly `2 * out.len()` hex digits.
fn decode_hex(hex: &[u8], out: &mut [u8]) -> Result<()> {
    if hex.len() != 2 * out.len() {
        bail!("the board's debug server sent a reply of the wrong length");
    }
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let (high, low) = hex_value(pair[0])
            .zip(hex_value(pair[1]))
            .context("the board's debug server sent malformed hex data")?;
        *byte = high << 4 | low;
    }
    Ok(())
}

fn decode_hex_vec(hex: &[u8]) -> Result<Vec<u8>> {
    let mut out = vec![0; hex.len() / 2];
    decode_hex(hex, &mut out)?;
    Ok(out)
}

fn parse_hex_u32(hex: &[u8]) -> Option<u32> {
    u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;
    use std::sync::{Arc, Mutex};
    use std::thread::{self, JoinHandle};
    use std::time::Instant;

    const RAM: u32 = 0x2000_0000;

    #[test]
    fn checksum_is_the_byte_sum_modulo_256() {
        assert_eq!(checksum(b"qSupported"), 0x37);
        assert_eq!(checksum(b"c"), 0x63);
        assert_eq!(checksum(b""), 0);
    }

    #[test]
    fn decodes_run_length_encoding_and_escapes() {
        // "0* " = "0" + 3 more; "}]" = ']' ^ 0x20 = '}'.
        assert_eq!(decode_body(b"0* 1").unwrap(), b"00001");
        assert_eq!(decode_body(b"a}]b").unwrap(), b"a}b");
        assert_eq!(decode_body(b"x*\"").unwrap(), b"xxxxxx");
        assert!(decode_body(b"*3").is_err());
        assert!(decode_body(b"ab}").is_err());
    }

    #[test]
    fn parses_stop_replies() {
        assert_eq!(parse_stop_reply(b"T02thread:01;"), Some(StopReply::Stopped));
        assert_eq!(parse_stop_reply(b"S05"), Some(StopReply::Stopped));
        assert_eq!(parse_stop_reply(b"W00"), Some(StopReply::Exited(0)));
        assert_eq!(parse_stop_reply(b"W2a"), Some(StopReply::Exited(42)));
        assert_eq!(parse_stop_reply(b"X09"), Some(StopReply::Exited(137)));
        assert_eq!(parse_stop_reply(b"OK"), None);
        assert_eq!(parse_stop_reply(b"PacketSize=1000"), None);
    }

    #[test]
    fn packet_size_sets_the_chunk_size() {
        assert_eq!(
            parse_packet_size(b"PacketSize=1000;qXfer:features:read+"),
            Some(0x1000)
        );
        assert_eq!(parse_packet_size(b"swbreak+;PacketSize=100"), Some(0x100));
        assert_eq!(parse_packet_size(b""), None);
        assert_eq!(chunk_size_for(0x1000), 2032);
        assert_eq!(chunk_size_for(0x100), 112);
        assert_eq!(chunk_size_for(0x10_0000), DEFAULT_CHUNK);
    }

    #[test]
    fn hex_round_trip() {
        let mut hex = Vec::new();
        encode_hex(&[0x00, 0x7f, 0xab, 0xff], &mut hex);
        assert_eq!(hex, b"007fabff");
        let mut bytes = [0; 4];
        decode_hex(&hex, &mut bytes).unwrap();
        assert_eq!(bytes, [0x00, 0x7f, 0xab, 0xff]);
        assert!(decode_hex(b"zz", &mut [0]).is_err());
    }

    /// Knobs that make the fake stub misbehave.
    #[derive(Default, Clone)]
    struct Quirks {
        packet_size: Option<usize>,
        /// Answer `-` to the first packet from the client.
        nak_first_packet: bool,
        /// Send the first reply with a wrong checksum.
        corrupt_first_reply: bool,
        /// Acknowledge but never answer a command starting with this.
        hang_on: Option<&'static str>,
        /// Close the connection on a command starting with this.
        close_on: Option<&'static str>,
        /// After `c`, report that the program exited with this code.
        exit_on_continue: Option<u8>,
        /// Send a console-output packet before each stop reply.
        console_output: bool,
    }

    /// A GDB stub in a thread, speaking like QEMU: acks, checksums, `?`,
    /// `qSupported`, `m`/`M`, `c`, 0x03, `qRcmd`, `p`; replies are
    /// run-length encoded.
    struct FakeStub {
        reader: BufReader<UnixStream>,
        writer: UnixStream,
        memory: Vec<u8>,
        quirks: Quirks,
        running: bool,
        exited: bool,
        last_reply: Vec<u8>,
        replies_sent: usize,
        packets_seen: usize,
        log: Arc<Mutex<Vec<String>>>,
    }

    struct StubHandle {
        log: Arc<Mutex<Vec<String>>>,
        thread: JoinHandle<Vec<u8>>,
    }

    impl StubHandle {
        fn commands(&self) -> Vec<String> {
            self.log.lock().unwrap().clone()
        }

        /// The stub's memory once the client has hung up.
        fn finish(self) -> Vec<u8> {
            self.thread.join().unwrap()
        }
    }

    fn start_stub(quirks: Quirks) -> (GdbStub<UnixStream>, StubHandle) {
        let (client, server) = UnixStream::pair().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut stub = FakeStub {
            reader: BufReader::new(server.try_clone().unwrap()),
            writer: server,
            memory: (0..8192).map(|i| (i % 7) as u8).collect(),
            quirks,
            running: false,
            exited: false,
            last_reply: Vec::new(),
            replies_sent: 0,
            packets_seen: 0,
            log: log.clone(),
        };
        let thread = thread::spawn(move || {
            stub.serve();
            stub.memory
        });
        let core = GdbStub::with_timeout(client, Duration::from_secs(2)).unwrap();
        (core, StubHandle { log, thread })
    }

    impl FakeStub {
        fn serve(&mut self) {
            while let Some(byte) = self.read_byte() {
                if self.running {
                    // Like QEMU: any byte stops a running guest.
                    self.running = false;
                    self.send_stop_reply(b"T02thread:01;");
                    continue;
                }
                match byte {
                    b'$' if !self.receive_packet() => return,
                    b'-' => {
                        let reply = self.last_reply.clone();
                        self.writer.write_all(&reply).unwrap();
                    }
                    _ => {} // acks, and 0x03 while halted (ignored, like QEMU)
                }
            }
        }

        fn read_byte(&mut self) -> Option<u8> {
            let mut byte = [0];
            match self.reader.read(&mut byte) {
                Ok(1) => Some(byte[0]),
                _ => None,
            }
        }

        /// Returns false when the stub should hang up.
        fn receive_packet(&mut self) -> bool {
            let mut body = Vec::new();
            loop {
                match self.read_byte() {
                    Some(b'#') => break,
                    Some(byte) => body.push(byte),
                    None => return false,
                }
            }
            let sum = [self.read_byte().unwrap(), self.read_byte().unwrap()];
            assert_eq!(
                parse_hex_u32(&sum),
                Some(u32::from(checksum(&body))),
                "client sent a bad checksum"
            );
            if let Some(size) = self.quirks.packet_size {
                assert!(
                    body.len() + 4 <= size,
                    "packet of {} bytes exceeds PacketSize",
                    body.len()
                );
            }
            self.packets_seen += 1;
            if self.quirks.nak_first_packet && self.packets_seen == 1 {
                self.writer.write_all(b"-").unwrap();
                return true;
            }
            self.writer.write_all(b"+").unwrap();
            let command = String::from_utf8(body).unwrap();
            self.log.lock().unwrap().push(command.clone());
            if self.quirks.close_on.is_some_and(|p| command.starts_with(p)) {
                return false;
            }
            if self.quirks.hang_on.is_some_and(|p| command.starts_with(p)) {
                return true;
            }
            self.execute(&command);
            !self.exited
        }

        fn execute(&mut self, command: &str) {
            if command == "qSupported" {
                let reply = match self.quirks.packet_size {
                    Some(size) => format!("PacketSize={size:x};qXfer:features:read+"),
                    None => String::new(),
                };
                self.send_reply(reply.as_bytes());
            } else if command == "?" {
                self.send_reply(b"S05");
            } else if command == "c" {
                match self.quirks.exit_on_continue {
                    Some(code) => {
                        // Like QEMU: report the exit, then hang up.
                        self.send_stop_reply(format!("W{code:02x}").as_bytes());
                        self.exited = true;
                    }
                    None => self.running = true,
                }
            } else if let Some(args) = command.strip_prefix('m') {
                self.read_memory(args);
            } else if let Some(args) = command.strip_prefix('M') {
                self.write_memory(args);
            } else if let Some(hex) = command.strip_prefix("qRcmd,") {
                let text = decode_hex_vec(hex.as_bytes()).unwrap();
                assert_eq!(text, b"system_reset");
                let mut output = b"O".to_vec();
                encode_hex(b"resetting\n", &mut output);
                self.send_reply(&output);
                self.send_reply(b"OK");
            } else if command == "g" {
                // Like QEMU without target XML: no `p`, only `g`.
                let mut registers = "00000000".repeat(15);
                registers.push_str("41000000");
                self.send_reply(registers.as_bytes());
            } else {
                self.send_reply(b"");
            }
        }

        fn memory_range(&self, addr: &str, len: &str) -> Option<std::ops::Range<usize>> {
            let addr = u32::from_str_radix(addr, 16).ok()?;
            let len = usize::from_str_radix(len, 16).ok()?;
            let start = addr.checked_sub(RAM)? as usize;
            (start + len <= self.memory.len()).then_some(start..start + len)
        }

        fn read_memory(&mut self, args: &str) {
            let (addr, len) = args.split_once(',').unwrap();
            match self.memory_range(addr, len) {
                Some(range) => {
                    let mut hex = Vec::new();
                    encode_hex(&self.memory[range], &mut hex);
                    self.send_reply(&hex);
                }
                None => self.send_reply(b"E14"),
            }
        }

        fn write_memory(&mut self, args: &str) {
            let (place, hex) = args.split_once(':').unwrap();
            let (addr, len) = place.split_once(',').unwrap();
            match self.memory_range(addr, len) {
                Some(range) => {
                    let data = decode_hex_vec(hex.as_bytes()).unwrap();
                    self.memory[range].copy_from_slice(&data);
                    self.send_reply(b"OK");
                }
                None => self.send_reply(b"E14"),
            }
        }

        fn send_stop_reply(&mut self, reply: &[u8]) {
            if self.quirks.console_output {
                let mut output = b"O".to_vec();
                encode_hex(b"hello\n", &mut output);
                self.send_reply(&output);
            }
            self.send_reply(reply);
        }

        fn send_reply(&mut self, payload: &[u8]) {
            let body = run_length_encode(payload);
            let mut sum = checksum(&body);
            self.replies_sent += 1;
            if self.quirks.corrupt_first_reply && self.replies_sent == 1 {
                sum = sum.wrapping_add(1);
            }
            let mut packet = b"$".to_vec();
            packet.extend_from_slice(&body);
            packet.extend_from_slice(format!("#{sum:02x}").as_bytes());
            // A retransmission request gets the correct packet.
            self.last_reply = b"$".to_vec();
            self.last_reply.extend_from_slice(&body);
            self.last_reply
                .extend_from_slice(format!("#{:02x}", checksum(&body)).as_bytes());
            let _ = self.writer.write_all(&packet);
        }
    }

    /// Encodes runs of 4 or more equal bytes as `c*n`, avoiding the count
    /// characters `#` and `$` as the protocol requires.
    fn run_length_encode(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < payload.len() {
            let byte = payload[i];
            let run = payload[i..].iter().take_while(|&&b| b == byte).count();
            let mut extra = (run - 1).min(97);
            if extra == 6 || extra == 7 {
                extra = 5;
            }
            out.push(byte);
            if extra >= 3 {
                out.push(b'*');
                out.push(extra as u8 + 29);
                i += 1 + extra;
            } else {
                i += 1;
            }
        }
        out
    }

    #[test]
    fn run_length_encoder_round_trips() {
        for payload in [
            &b"0000000000000000abc"[..],
            b"00000000",
            b"1234",
            b"zzzzzzz",
        ] {
            assert_eq!(decode_body(&run_length_encode(payload)).unwrap(), payload);
        }
        assert!(run_length_encode(&[b'0'; 64]).len() < 10);
    }

    #[test]
    fn connects_and_sees_a_halted_core() {
        let (mut core, stub) = start_stub(Quirks::default());
        assert_eq!(core.state().unwrap(), CoreState::Halted);
        assert_eq!(core.state().unwrap(), CoreState::Halted);
        assert_eq!(core.chunk_size(), DEFAULT_CHUNK);
        assert_eq!(stub.commands(), ["qSupported", "?"]);
    }

    #[test]
    fn skips_the_stop_reply_of_a_stub_that_halts_on_connect() {
        let (client, server) = UnixStream::pair().unwrap();
        let stub = thread::spawn(move || {
            let mut server = server;
            // QEMU without -S: announces the halt before reading anything.
            server.write_all(b"$T02thread:01;#04").unwrap();
            let mut reader = BufReader::new(server.try_clone().unwrap());
            let mut expect = |packet: &[u8]| {
                let mut seen = Vec::new();
                while !seen.ends_with(packet) {
                    let mut byte = [0];
                    reader.read_exact(&mut byte).unwrap();
                    seen.push(byte[0]);
                }
            };
            expect(b"$qSupported#37");
            server.write_all(b"+$PacketSize=100#c1").unwrap();
            expect(b"$?#3f");
            server.write_all(b"+$S05#b8").unwrap();
            expect(b"+");
        });
        let mut core = GdbStub::with_timeout(client, Duration::from_secs(2)).unwrap();
        assert_eq!(core.state().unwrap(), CoreState::Halted);
        assert_eq!(core.chunk_size(), 112);
        stub.join().unwrap();
    }

    #[test]
    fn reads_and_writes_memory() {
        let (mut core, stub) = start_stub(Quirks::default());
        core.write_memory(RAM + 16, &[0; 64]).unwrap();
        core.write_word(RAM + 4, 0xdead_beef).unwrap();
        assert_eq!(core.read_word(RAM + 4).unwrap(), 0xdead_beef);
        let mut zeros = [1; 64];
        core.read_memory(RAM + 16, &mut zeros).unwrap(); // an RLE-encoded reply
        assert_eq!(zeros, [0; 64]);
        drop(core);
        let memory = stub.finish();
        assert_eq!(memory[4..8], 0xdead_beef_u32.to_le_bytes());
    }

    #[test]
    fn splits_large_transfers_to_fit_the_packet_size() {
        let (mut core, stub) = start_stub(Quirks {
            packet_size: Some(0x100),
            ..Quirks::default()
        });
        assert_eq!(core.chunk_size(), 112);
        let data: Vec<u8> = (0..1000).map(|i| (i * 13) as u8).collect();
        core.write_memory(RAM + 3, &data).unwrap();
        let mut back = vec![0; 1000];
        core.read_memory(RAM + 3, &mut back).unwrap();
        assert_eq!(back, data);
        let commands = stub.commands();
        let writes: Vec<_> = commands.iter().filter(|c| c.starts_with('M')).collect();
        let reads: Vec<_> = commands.iter().filter(|c| c.starts_with('m')).collect();
        assert_eq!((writes.len(), reads.len()), (9, 9));
        assert!(writes[0].starts_with("M20000003,70:"), "{}", writes[0]);
        assert_eq!(reads[1], "m20000073,70");
        assert_eq!(reads[8], "m20000383,68");
    }

    #[test]
    fn retransmits_a_packet_the_stub_rejected() {
        let (mut core, stub) = start_stub(Quirks {
            nak_first_packet: true,
            ..Quirks::default()
        });
        assert_eq!(core.state().unwrap(), CoreState::Halted);
        assert_eq!(stub.commands(), ["qSupported", "?"]);
    }

    #[test]
    fn asks_again_for_a_reply_with_a_bad_checksum() {
        let (mut core, _stub) = start_stub(Quirks {
            corrupt_first_reply: true,
            packet_size: Some(0x1000),
            ..Quirks::default()
        });
        // The corrupted reply was qSupported's: its retransmission still
        // delivered the packet size.
        assert_eq!(core.chunk_size(), 2032);
        assert_eq!(
            core.read_word(RAM).unwrap(),
            u32::from_le_bytes([0, 1, 2, 3])
        );
    }

    #[test]
    fn error_replies_become_errors_that_name_the_address() {
        let (mut core, _stub) = start_stub(Quirks::default());
        let err = core.read_word(0x1000_0000).unwrap_err().to_string();
        assert!(err.contains("0x10000000") && err.contains("E14"), "{err}");
        let err = core
            .write_memory(0x1000_0000, &[1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("refused to write"), "{err}");
        // The connection is still usable afterwards.
        core.read_word(RAM).unwrap();
    }

    #[test]
    fn halts_and_resumes() {
        let (mut core, stub) = start_stub(Quirks {
            console_output: true,
            ..Quirks::default()
        });
        core.run().unwrap();
        core.run().unwrap(); // idempotent: no second `c`
        assert_ne!(core.state().unwrap(), CoreState::Halted);
        assert_eq!(core.state().unwrap(), CoreState::Running);
        let err = core.read_word(RAM).unwrap_err().to_string();
        assert!(err.contains("must be halted"), "{err}");
        core.halt().unwrap();
        core.halt().unwrap();
        assert_eq!(core.state().unwrap(), CoreState::Halted);
        core.read_word(RAM).unwrap();
        let commands = stub.commands();
        assert_eq!(commands.iter().filter(|c| *c == "c").count(), 1);
    }

    #[test]
    fn with_halted_over_gdb() {
        let (mut core, _stub) = start_stub(Quirks::default());
        core.run().unwrap();
        let word = crate::connection::with_halted(&mut core, |p| p.read_word(RAM + 4)).unwrap();
        assert_eq!(word, u32::from_le_bytes([4, 5, 6, 0]));
        assert_ne!(core.state().unwrap(), CoreState::Halted);
    }

    #[test]
    fn reports_an_exited_program() {
        let (mut core, _stub) = start_stub(Quirks {
            exit_on_continue: Some(3),
            ..Quirks::default()
        });
        core.run().unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        while core.state().unwrap() == CoreState::Running {
            assert!(Instant::now() < deadline, "no exit seen");
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(core.state().unwrap(), CoreState::Exited(3));
        let err = core.halt().unwrap_err().to_string();
        assert!(err.contains("exited (exit code 3)"), "{err}");
        assert!(core.read_word(RAM).is_err());
    }

    #[test]
    fn reset_sends_the_monitor_command_and_stays_halted() {
        let (mut core, stub) = start_stub(Quirks::default());
        core.run().unwrap();
        core.reset_and_halt().unwrap();
        assert_eq!(core.state().unwrap(), CoreState::Halted);
        let commands = stub.commands();
        let mut reset = "qRcmd,".to_owned();
        reset.push_str(
            std::str::from_utf8(&{
                let mut hex = Vec::new();
                encode_hex(b"system_reset", &mut hex);
                hex
            })
            .unwrap(),
        );
        assert_eq!(commands[commands.len() - 2..], [reset, "?".to_owned()]);
        let arm = GdbRegisters {
            pc: 15,
            sp: 13,
            width: 4,
        };
        assert_eq!(core.read_register(arm, arm.pc).unwrap(), 0x41);
    }

    #[test]
    fn a_closed_connection_is_an_error_not_a_hang() {
        let (mut core, _stub) = start_stub(Quirks {
            close_on: Some("m"),
            ..Quirks::default()
        });
        let err = core.read_word(RAM).unwrap_err().to_string();
        assert!(err.contains("stopped responding"), "{err}");
    }

    #[test]
    fn a_silent_stub_times_out() {
        let (mut core, _stub) = start_stub(Quirks {
            hang_on: Some("m"),
            ..Quirks::default()
        });
        core.set_timeout(Duration::from_millis(50)).unwrap();
        let started = Instant::now();
        let err = core.read_word(RAM).unwrap_err().to_string();
        assert!(
            err.contains("no answer") && err.contains("stopped responding"),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
