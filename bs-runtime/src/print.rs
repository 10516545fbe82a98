//! Line-oriented output over RTT.
//!
//! Generated code prints one `console.log` line with `bs_print_begin`, a
//! sequence of `bs_print_*` calls and `bs_print_end`. The line is built in a
//! buffer and written to its RTT channel in one piece, so that a
//! non-blocking channel drops whole lines rather than fragments.
//!
//! Lines nest: if an argument of `console.log` calls a function that prints,
//! the inner line is emitted first and the outer one goes on afterwards (as
//! in JavaScript, where arguments are evaluated before printing). Open
//! lines share one buffer, each line after the lines it is nested in.

use core::fmt::{self, Write};

use rtt_target::{rtt_init, ChannelMode, UpChannel};

use crate::cell::ThreadCell;
use crate::float_text::FloatText;

/// RTT up channel 0: `console.log`. An attached host drains it every
/// 10 ms and the channel then blocks rather than drops, so a larger buffer
/// would only cost RAM.
const STDOUT_SIZE: usize = 1024;
/// RTT up channel 1: `console.error` and run-time errors, rarer than
/// ordinary output. Holds any line written in one piece (see [`LINE_BUF`]),
/// which a non-blocking channel would otherwise always drop, and little
/// more: an attached host drains it every 10 ms.
const STDERR_SIZE: usize = 448;
// A ring buffer holds one byte less than its size.
const _: () = assert!(STDERR_SIZE > LINE_BUF && STDERR_SIZE > ERROR_LINE);

/// Size of the line buffer that the open lines share: a line and the lines
/// it is nested in take up to `LINE_BUF - 1` bytes, and its `'\n'` one more,
/// so that it goes out in one RTT write (a line that is not nested: up to
/// 383 bytes and its `'\n'`). A longer line is written in several pieces,
/// each when the buffer is full.
const LINE_BUF: usize = 384;
/// Open lines tracked; lines nested deeper than this are merged into the
/// innermost tracked one.
const MAX_OPEN: usize = 16;
/// Longest line of a run-time error (longer messages are cut short).
const ERROR_LINE: usize = 256;

struct Channels {
    stdout: UpChannel,
    stderr: UpChannel,
}

static CHANNELS: ThreadCell<Option<Channels>> = ThreadCell::new(None);

/// Creates the RTT control block (`_SEGGER_RTT`). Called once.
fn init_rtt() -> Channels {
    // NoBlockSkip: with no host attached, a full buffer drops the line
    // instead of stalling the program. A host that marked this boot as
    // attached reads every byte, so the program may wait for it: nothing
    // printed before the host's first poll is lost.
    let channels = rtt_init! {
        up: {
            0: { size: STDOUT_SIZE, mode: ChannelMode::NoBlockSkip, name: "stdout" }
            1: { size: STDERR_SIZE, mode: ChannelMode::NoBlockSkip, name: "stderr" }
        }
    };
    let (mut stdout, mut stderr) = channels.up;
    if crate::abi::take_host_attached() {
        stdout.set_mode(ChannelMode::BlockIfFull);
        stderr.set_mode(ChannelMode::BlockIfFull);
    }
    Channels { stdout, stderr }
}

/// Sets up RTT if it is not yet (the first print may come from a driver
/// before `run`).
///
/// # Safety
/// Thread mode only.
pub(crate) unsafe fn init() {
    unsafe {
        CHANNELS.with(|c| {
            if c.is_none() {
                *c = Some(init_rtt());
            }
        })
    }
}

/// Writes bytes to a channel as one RTT write.
///
/// # Safety
/// Thread mode only.
unsafe fn emit(to_stderr: bool, bytes: &[u8]) {
    unsafe {
        CHANNELS.with(|c| {
            let c = c.get_or_insert_with(init_rtt);
            let channel = if to_stderr {
                &mut c.stderr
            } else {
                &mut c.stdout
            };
            channel.write(bytes);
        })
    }
}

/// An open line: where it starts in the buffer, and [`TO_STDERR`].
#[derive(Clone, Copy)]
struct OpenLine(u16);

/// Flag of an [`OpenLine`] printed on stderr.
const TO_STDERR: u16 = 1 << 15;

impl OpenLine {
    fn start(self) -> usize {
        usize::from(self.0 & !TO_STDERR)
    }

    fn to_stderr(self) -> bool {
        self.0 & TO_STDERR != 0
    }
}

struct Lines {
    buf: [u8; LINE_BUF],
    /// Bytes in use in the buffer.
    len: usize,
    open: [OpenLine; MAX_OPEN],
    /// Number of open lines; may exceed `MAX_OPEN`.
    depth: usize,
}

static LINES: ThreadCell<Lines> = ThreadCell::new(Lines {
    buf: [0; LINE_BUF],
    len: 0,
    open: [OpenLine(0); MAX_OPEN],
    depth: 0,
});

impl Lines {
    fn begin(&mut self, to_stderr: bool) {
        if self.depth < MAX_OPEN {
            let flag = if to_stderr { TO_STDERR } else { 0 };
            // `len < LINE_BUF`, below the flag.
            self.open[self.depth] = OpenLine(self.len as u16 | flag);
        }
        self.depth += 1;
    }

    /// Appends to the innermost open line.
    fn push(&mut self, mut bytes: &[u8]) {
        if self.depth == 0 {
            // Printing without `bs_print_begin`: start a stdout line.
            self.begin(false);
        }
        let line = self.open[self.depth.min(MAX_OPEN) - 1];
        // One byte stays free for the final '\n'.
        let capacity = LINE_BUF - 1;
        loop {
            let len = self.len;
            let n = bytes.len().min(capacity - len);
            self.buf[len..len + n].copy_from_slice(&bytes[..n]);
            self.len = len + n;
            bytes = &bytes[n..];
            if bytes.is_empty() {
                return;
            }
            // The buffer is full. The enclosing lines are written after this
            // one, so this line may go out in pieces: send what it holds.
            let held = line.start()..self.len;
            if held.is_empty() {
                // Enclosing lines fill the buffer: no room at all.
                // SAFETY: print functions run in thread mode.
                unsafe { emit(line.to_stderr(), bytes) };
                return;
            }
            // SAFETY: print functions run in thread mode.
            unsafe { emit(line.to_stderr(), &self.buf[held]) };
            self.len = line.start();
        }
    }

    fn end(&mut self) {
        if self.depth == 0 {
            return;
        }
        if self.depth > MAX_OPEN {
            // Merged into its enclosing line.
            self.depth -= 1;
            return;
        }
        self.depth -= 1;
        let line = self.open[self.depth];
        let len = self.len;
        self.buf[len] = b'\n';
        // SAFETY: print functions run in thread mode.
        unsafe { emit(line.to_stderr(), &self.buf[line.start()..=len]) };
        self.len = line.start();
    }

    /// Drops the lines opened after the first `depth` ones.
    fn truncate(&mut self, depth: usize) {
        while self.depth > depth {
            self.depth -= 1;
            if self.depth < MAX_OPEN {
                self.len = self.open[self.depth].start();
            }
        }
    }
}

impl Write for Lines {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }

    fn write_char(&mut self, c: char) -> fmt::Result {
        write_char(self, c)
    }
}

/// `Write::write_char` for the writers here: one copy of the encoding
/// instead of one in each writer's vtable.
fn write_char(w: &mut dyn Write, c: char) -> fmt::Result {
    w.write_str(c.encode_utf8(&mut [0; 4]))
}

/// Runs `f` on the line buffer.
fn with_lines<R>(f: impl FnOnce(&mut Lines) -> R) -> R {
    // SAFETY: the print functions are called from thread mode only (script
    // code and drivers), and `f` neither prints nor reports errors.
    unsafe { LINES.with(f) }
}

/// Appends text that `f` writes to the current line (`f` must not print,
/// allocate or report errors).
pub(crate) fn write_with(f: impl FnOnce(&mut dyn Write)) {
    with_lines(|l| f(l))
}

/// Number of open lines (see [`truncate`]).
pub(crate) fn depth() -> usize {
    with_lines(|l| l.depth)
}

/// Abandons the lines opened after the first `depth` ones, after a run-time
/// error interrupted them.
pub(crate) fn truncate(depth: usize) {
    with_lines(|l| l.truncate(depth))
}

/// Writes one complete line directly to a channel, bypassing the line stack
/// (used for run-time errors, while lines of the abandoned code are open).
pub(crate) fn emit_line(to_stderr: bool, args: fmt::Arguments) {
    let mut line = FixedBuf::<ERROR_LINE>::new();
    // Cannot fail: FixedBuf truncates.
    let _ = line.write_fmt(args);
    line.finish_line();
    // SAFETY: thread mode (callers are the runtime's thread-mode paths).
    unsafe { emit(to_stderr, line.as_bytes()) };
}

/// Prints one formatted line; the function behind [`println!`] and
/// [`eprintln!`](crate::eprintln).
pub fn print_fmt(to_stderr: bool, args: fmt::Arguments) {
    with_lines(|l| {
        l.begin(to_stderr);
        let _ = l.write_fmt(args);
        l.end();
    })
}

/// Starts one output line on stdout (`false`) or stderr (`true`).
#[unsafe(no_mangle)]
pub extern "C" fn bs_print_begin(to_stderr: bool) {
    with_lines(|l| l.begin(to_stderr))
}

/// Appends a decimal integer.
#[unsafe(no_mangle)]
pub extern "C" fn bs_print_int(v: i32) {
    with_lines(|l| {
        let _ = write!(l, "{v}");
    })
}

/// Appends a float as JavaScript prints it, but always with a decimal:
/// `1.0`, `0.5`, `-3.25`, `0.00001`, `1e-7`, `1.5e+30`, `NaN`, `Infinity`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_print_float(v: f32) {
    let text = FloatText::new(v);
    with_lines(|l| l.push(text.as_bytes()))
}

/// Appends `true` or `false`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_print_bool(v: bool) {
    with_lines(|l| l.push(if v { b"true" } else { b"false" }))
}

/// Appends `len` UTF-8 bytes.
///
/// # Safety
/// `ptr` must point to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bs_print_str(ptr: *const u8, len: usize) {
    if len == 0 {
        return;
    }
    // SAFETY: by the caller's contract.
    let bytes = unsafe { core::slice::from_raw_parts(ptr, len) };
    with_lines(|l| l.push(bytes))
}

/// Appends the space that separates `console.log` arguments.
#[unsafe(no_mangle)]
pub extern "C" fn bs_print_space() {
    with_lines(|l| l.push(b" "))
}

/// Ends the line: appends `'\n'` and writes it to its channel.
#[unsafe(no_mangle)]
pub extern "C" fn bs_print_end() {
    with_lines(|l| l.end())
}

/// A fixed-size, truncating text buffer, for messages formatted where the
/// line stack cannot be used (errors, faults, panics).
pub(crate) struct FixedBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> FixedBuf<N> {
    pub(crate) const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }

    /// Appends `'\n'`, replacing the last byte if the buffer is full.
    pub(crate) fn finish_line(&mut self) {
        if self.len == N {
            self.len -= 1;
        }
        self.buf[self.len] = b'\n';
        self.len += 1;
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl<const N: usize> Write for FixedBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        append(&mut self.buf, &mut self.len, s.as_bytes());
        Ok(())
    }

    fn write_char(&mut self, c: char) -> fmt::Result {
        write_char(self, c)
    }
}

/// Appends to `buf[..*len]` as much of `bytes` as fits (for every size of
/// [`FixedBuf`]).
fn append(buf: &mut [u8], len: &mut usize, bytes: &[u8]) {
    let n = bytes.len().min(buf.len() - *len);
    buf[*len..*len + n].copy_from_slice(&bytes[..n]);
    *len += n;
}

/// Writes a line to the stderr channel from a fault or panic handler, which
/// may have interrupted a print in progress.
///
/// # Safety
/// Only for handlers that never return to the interrupted code.
pub(crate) unsafe fn emit_fatal(bytes: &[u8]) {
    // SAFETY: the interrupted code never runs again, so taking the channel
    // over cannot race with it.
    if let Some(mut ch) = unsafe { UpChannel::conjure(1) } {
        ch.write(bytes);
    } else {
        // RTT not set up yet (a fault before the first print).
        unsafe { emit(true, bytes) };
    }
}
