//! Line-oriented output over RTT.
//!
//! Generated code prints one `console.log` line with `bs_print_begin`, a
//! sequence of `bs_print_*` calls and `bs_print_end`. The line is built in a
//! buffer and written to its RTT channel in one piece, so that a
//! non-blocking channel drops whole lines rather than fragments.
//!
//! Lines nest: if an argument of `console.log` calls a function that prints,
//! the inner line is emitted first and the outer one goes on afterwards (as
//! in JavaScript, where arguments are evaluated before printing). Nested
//! lines are kept as a stack of segments of one buffer.

use core::fmt::{self, Write};

use rtt_target::{rtt_init, ChannelMode, UpChannel};

use crate::cell::ThreadCell;

/// RTT up channel 0: `console.log`.
const STDOUT_SIZE: usize = 2048;
/// RTT up channel 1: `console.error` and run-time errors.
const STDERR_SIZE: usize = 1024;

/// Room for all open lines together. A line that does not fit is written in
/// several pieces when it is the only open line, and truncated otherwise.
const LINE_BUF: usize = 256;
/// Nesting depth tracked; deeper lines are merged into the innermost one.
const MAX_DEPTH: usize = 4;

struct Channels {
    stdout: UpChannel,
    stderr: UpChannel,
}

static CHANNELS: ThreadCell<Option<Channels>> = ThreadCell::new(None);

/// Creates the RTT control block (`_SEGGER_RTT`). Called once.
fn init_rtt() -> Channels {
    // NoBlockSkip: with no host attached, a full buffer drops the line
    // instead of stalling the program; the host switches the channels to
    // blocking (flags = 2) after attaching.
    let channels = rtt_init! {
        up: {
            0: { size: STDOUT_SIZE, mode: ChannelMode::NoBlockSkip, name: "stdout" }
            1: { size: STDERR_SIZE, mode: ChannelMode::NoBlockSkip, name: "stderr" }
        }
    };
    let (stdout, stderr) = channels.up;
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

#[derive(Clone, Copy)]
struct OpenLine {
    start: usize,
    to_stderr: bool,
}

struct Lines {
    buf: [u8; LINE_BUF],
    len: usize,
    open: [OpenLine; MAX_DEPTH],
    /// Number of open lines; may exceed `MAX_DEPTH`.
    depth: usize,
}

static LINES: ThreadCell<Lines> = ThreadCell::new(Lines {
    buf: [0; LINE_BUF],
    len: 0,
    open: [OpenLine {
        start: 0,
        to_stderr: false,
    }; MAX_DEPTH],
    depth: 0,
});

impl Lines {
    fn begin(&mut self, to_stderr: bool) {
        if self.depth < MAX_DEPTH {
            self.open[self.depth] = OpenLine {
                start: self.len,
                to_stderr,
            };
        }
        self.depth += 1;
    }

    fn innermost(&self) -> OpenLine {
        self.open[self.depth.min(MAX_DEPTH) - 1]
    }

    fn push(&mut self, mut bytes: &[u8]) {
        if self.depth == 0 {
            // Printing without `bs_print_begin`: start a stdout line.
            self.begin(false);
        }
        // One byte stays free for the final '\n'.
        let capacity = LINE_BUF - 1;
        loop {
            let n = bytes.len().min(capacity - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
            if bytes.is_empty() {
                return;
            }
            if self.depth != 1 {
                return; // outer lines hold the rest of the buffer: truncate
            }
            // The only open line is full: send what we have and go on.
            let line = self.open[0];
            // SAFETY: print functions run in thread mode.
            unsafe { emit(line.to_stderr, &self.buf[line.start..self.len]) };
            self.len = line.start;
        }
    }

    fn end(&mut self) {
        if self.depth == 0 {
            return;
        }
        if self.depth > MAX_DEPTH {
            // Merged into its enclosing line.
            self.depth -= 1;
            return;
        }
        let line = self.innermost();
        self.depth -= 1;
        self.buf[self.len] = b'\n';
        // SAFETY: print functions run in thread mode.
        unsafe { emit(line.to_stderr, &self.buf[line.start..=self.len]) };
        self.len = line.start;
    }

    /// Drops the lines opened after the first `depth` ones.
    fn truncate(&mut self, depth: usize) {
        if depth >= self.depth {
            return;
        }
        if depth < MAX_DEPTH {
            self.len = self.open[depth].start;
        }
        self.depth = depth;
    }
}

impl Write for Lines {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

/// Runs `f` on the line buffer.
fn with_lines<R>(f: impl FnOnce(&mut Lines) -> R) -> R {
    // SAFETY: the print functions are called from thread mode only (script
    // code and drivers), and `f` neither prints nor reports errors.
    unsafe { LINES.with(f) }
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
    let mut line = FixedBuf::<LINE_BUF>::new();
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

/// Appends a float as Rust's `{:?}` does: `1.0`, `0.5`, `-3.25`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_print_float(v: f32) {
    with_lines(|l| {
        let _ = write!(l, "{v:?}");
    })
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
        let n = s.len().min(N - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
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
