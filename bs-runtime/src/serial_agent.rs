//! The serial agent on the device (feature `serial-agent`): the host reads
//! and writes memory, switches function slots, holds the program and takes
//! its output through frames over a UART that the board supplies
//! (`docs/serial-agent.md`; the protocol and its state machine are the
//! crate `bs-serial-agent`, which the host's tests run too).
//!
//! The board implements [`SerialPort`] for its UART, enables the UART's
//! receive interrupt, and calls [`on_receive`] from its handler. Frames are
//! served there, in the interrupt, rather than at safe points of the event
//! loop: a program stuck in a long loop (or waiting for the host to drain
//! a full output buffer) still answers, as a core answers a debugger. A
//! HOLD is the debugger's halt: the handler keeps the program stopped by
//! not returning, serving frames until RELEASE, or until no frame came for
//! the HOLD's timeout (a cut link never leaves the program stopped).
//! Everything the program could see half-done is done with interrupts
//! masked (a COMMIT of slot words and epoch), and output is taken from the
//! RTT buffers the program prints into, the way a debugger reads them.
//!
//! The agent may read the image's constants and the runtime's statics, and
//! write only what the host owns: the patch region, the function table, the
//! patch epoch, the host's attach mark, the host-request mailbox and the
//! host's roots table pointer. Anything else (peripherals,
//! stacks, the program's own globals) is refused.
//!
//! With `BLUESCRIPT_SERIAL_KEY` (32 hex digits) set when the runtime is
//! built, only frames authenticated with that key are executed.

use core::cell::UnsafeCell;
use core::ops::Range;
use core::sync::atomic::{compiler_fence, AtomicU32, Ordering};

use bluescript_abi::{STDERR_CHANNEL, STDOUT_CHANNEL};
use bluescript_serial_agent::{
    key_from_hex, Agent, DeviceStatus, Error, Key, Stream, Target, Words,
};

use crate::{abi, arch, time, Program};

#[cfg(not(any(target_arch = "arm", target_arch = "riscv32")))]
compile_error!("the serial agent runs on Cortex-M and RISC-V only so far");

/// A UART (or any byte stream) the board lends the agent.
pub trait SerialPort {
    /// A received byte, if one is waiting (and acknowledges the receive
    /// interrupt, so that it is raised again by the next byte).
    fn read(&mut self) -> Option<u8>;

    /// Sends `byte`, waiting for room in the transmitter.
    fn write(&mut self, byte: u8);
}

/// The key frames must be authenticated with, from the build's
/// environment.
const KEY: Option<Key> = match option_env!("BLUESCRIPT_SERIAL_KEY") {
    Some(text) if !text.is_empty() => match key_from_hex(text) {
        Some(key) => Some(key),
        None => panic!("BLUESCRIPT_SERIAL_KEY: expected 32 hexadecimal digits"),
    },
    _ => None,
};

/// State only the UART's receive interrupt touches (it does not nest into
/// itself).
struct InterruptCell<T>(UnsafeCell<T>);

// SAFETY: accessed only from the one interrupt handler that calls
// `on_receive`, see the type's documentation.
unsafe impl<T> Sync for InterruptCell<T> {}

static AGENT: InterruptCell<Agent> = InterruptCell(UnsafeCell::new(Agent::new(KEY)));

/// Milliseconds the agent counted itself while it held the program: the
/// tick interrupt cannot run meanwhile, so [`time::ticks`] stands still.
static HELD_MS: AtomicU32 = AtomicU32::new(0);

/// Boots since power-up, for the session nonces: in `.uninit`, so a reset
/// keeps it (its first value is whatever the RAM held).
#[unsafe(link_section = ".uninit.bs_agent_boots")]
static BOOTS: InterruptCell<u32> = InterruptCell(UnsafeCell::new(0));

/// Serves the frames `port` received; called by the board's UART receive
/// interrupt handler, which must be the only caller. While the host holds
/// the program, it does not return until the host releases it (or its
/// timeout passes).
pub fn on_receive(port: &mut impl SerialPort) {
    // SAFETY: only this interrupt handler touches the agent.
    let agent = unsafe { &mut *AGENT.0.get() };
    let mut target = Device::new();
    serve_received(agent, port, &mut target);
    while agent.held() {
        serve_received(agent, port, &mut target);
        target.count_held_time();
        agent.poll(&mut target);
    }
}

/// Feeds every byte waiting in `port` to the agent, sending each response.
fn serve_received(agent: &mut Agent, port: &mut impl SerialPort, target: &mut Device) {
    while let Some(byte) = port.read() {
        if let Some(response) = agent.receive(byte, target) {
            for &byte in response {
                port.write(byte);
            }
        }
    }
}

/// The device as the agent acts on it.
struct Device {
    /// SysTick's position in its period when last looked at, for counting
    /// milliseconds while the tick interrupt cannot run.
    last_into_ms: u32,
    /// Cycles counted towards the next held millisecond.
    held_cycles: u32,
    /// Polls while the tick is stopped (the program finished): a stand-in
    /// for a clock.
    idle_polls: u32,
}

/// Polls of an idle UART counted as one millisecond when the tick is
/// stopped: a few register reads each, well under a microsecond.
const POLLS_PER_MS: u32 = 2000;

impl Device {
    fn new() -> Device {
        Device {
            last_into_ms: arch::tick_sample().into_ms,
            held_cycles: 0,
            idle_polls: 0,
        }
    }

    /// Counts the time that passed since the last look at SysTick: called
    /// more often than once a millisecond while the program is held.
    fn count_held_time(&mut self) {
        let sample = arch::tick_sample();
        let elapsed_ms = if sample.cycles_per_ms == 0 {
            self.idle_polls += 1;
            let ms = self.idle_polls / POLLS_PER_MS;
            self.idle_polls %= POLLS_PER_MS;
            ms
        } else {
            // The counter wraps once a millisecond.
            let cycles =
                (sample.into_ms + sample.cycles_per_ms - self.last_into_ms) % sample.cycles_per_ms;
            self.last_into_ms = sample.into_ms;
            self.held_cycles += cycles;
            let ms = self.held_cycles / sample.cycles_per_ms;
            self.held_cycles %= sample.cycles_per_ms;
            ms
        };
        if elapsed_ms > 0 {
            let held = HELD_MS.load(Ordering::Relaxed);
            HELD_MS.store(held.wrapping_add(elapsed_ms), Ordering::Relaxed);
        }
    }
}

impl Target for Device {
    fn read(&mut self, address: u32, buf: &mut [u8]) -> Result<(), Error> {
        let range = checked(address, buf.len(), &readable())?;
        for (offset, byte) in range.zip(buf.iter_mut()) {
            // SAFETY: inside the image or the runtime's statics.
            *byte = unsafe { (offset as *const u8).read_volatile() };
        }
        Ok(())
    }

    fn write(&mut self, address: u32, data: &[u8]) -> Result<(), Error> {
        let range = checked(address, data.len(), &writable())?;
        for (offset, &byte) in range.zip(data) {
            // SAFETY: memory the host owns (see `writable`).
            unsafe { (offset as *mut u8).write_volatile(byte) };
        }
        Ok(())
    }

    fn commit(&mut self, words: Words<'_>) -> Result<(), Error> {
        let writable = writable();
        let list: &[u8] = match words {
            Words::Inline(bytes) => bytes,
            Words::Stored { address, count } => {
                let len = 8 * usize::from(count);
                let range = checked(address, len, &readable())?;
                // SAFETY: readable memory; the host wrote the list there and
                // nothing else writes it while the agent runs.
                unsafe { core::slice::from_raw_parts(range.start as *const u8, len) }
            }
        };
        for (address, _) in Words::pairs(list) {
            if address % 4 != 0 {
                return Err(Error::Unaligned);
            }
            checked(address, 4, &writable)?;
        }
        // Masked: no interrupt handler of higher priority sees half of it
        // (thread mode, and with it every script function, is already
        // interrupted).
        masked(|| {
            for (address, value) in Words::pairs(list) {
                // SAFETY: aligned words the host owns, checked above.
                unsafe { (address as *mut u32).write_volatile(value) };
            }
        });
        // The new code must be fetched as written when the program goes on.
        arch::sync_instruction_fetch();
        Ok(())
    }

    fn hold(&mut self, held: bool) {
        // `on_receive` keeps the program stopped by not returning while
        // the agent is held: nothing else to do. The clock starts counting
        // held time from here.
        if held {
            self.last_into_ms = arch::tick_sample().into_ms;
            self.held_cycles = 0;
        }
    }

    fn output(&mut self, stream: Stream, buf: &mut [u8]) -> usize {
        let channel = match stream {
            Stream::Stdout => STDOUT_CHANNEL,
            Stream::Stderr => STDERR_CHANNEL,
        };
        drain_rtt(channel, buf)
    }

    fn status(&mut self) -> DeviceStatus {
        DeviceStatus {
            build_id: build_id(),
            patch_epoch: abi::patch_epoch(),
            state: abi::state(),
            errors: abi::error_count(),
        }
    }

    fn now_ms(&mut self) -> u32 {
        time::ticks().wrapping_add(HELD_MS.load(Ordering::Relaxed))
    }

    fn entropy(&mut self) -> u64 {
        let sample = arch::tick_sample();
        // SAFETY: only this interrupt handler touches it.
        let boots = unsafe { *BOOTS.0.get() };
        (u64::from(boots) << 32) ^ (u64::from(sample.whole_ms) << 24) ^ u64::from(sample.into_ms)
    }
}

/// Counts this boot (see [`BOOTS`]); called once by `run`.
pub(crate) fn start() {
    masked(|| {
        // SAFETY: interrupts are masked, and the receive interrupt is the
        // only other user.
        unsafe {
            let boots = BOOTS.0.get();
            boots.write_volatile(boots.read_volatile().wrapping_add(1));
        }
    });
}

/// Runs `f` with interrupts masked.
fn masked<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "arm")]
    return cortex_m::interrupt::free(|_| f());
    #[cfg(target_arch = "riscv32")]
    return riscv::interrupt::free(f);
}

/// The build id of the image, from the program record.
fn build_id() -> u32 {
    unsafe extern "Rust" {
        /// Defined by the generated code (docs/device-abi.md).
        static __bs_program: Program;
    }
    // SAFETY: an immutable static of every image.
    unsafe { (&raw const __bs_program.build_id).read_volatile() }
}

/// `len` bytes at `address`, if they lie inside one of `regions`.
fn checked(address: u32, len: usize, regions: &[Range<usize>]) -> Result<Range<usize>, Error> {
    let start = address as usize;
    let end = start.checked_add(len).ok_or(Error::BadAddress)?;
    regions
        .iter()
        .any(|region| region.start <= start && end <= region.end)
        .then_some(start..end)
        .ok_or(Error::BadAddress)
}

/// What the host may read: the image's constants (the program record), the
/// statics in RAM (the runtime's words, the function table) and the patch
/// region, from the linker script: cortex-m-rt's and riscv-rt's name them
/// alike, esp-hal's otherwise (and puts the patch region apart, in the RAM
/// the second-stage bootloader used).
fn readable() -> [Range<usize>; 3] {
    unsafe extern "C" {
        #[cfg_attr(not(feature = "esp"), link_name = "__srodata")]
        #[cfg_attr(feature = "esp", link_name = "_rodata_start")]
        static CONSTANTS_START: u8;
        #[cfg_attr(not(feature = "esp"), link_name = "__erodata")]
        #[cfg_attr(feature = "esp", link_name = "_rodata_end")]
        static CONSTANTS_END: u8;
        #[cfg_attr(not(feature = "esp"), link_name = "__sdata")]
        #[cfg_attr(feature = "esp", link_name = "_data_start")]
        static STATICS_START: u8;
        #[cfg_attr(not(feature = "esp"), link_name = "__euninit")]
        #[cfg_attr(feature = "esp", link_name = "_noinit_end")]
        static STATICS_END: u8;
    }
    let address = |symbol: *const u8| symbol as usize;
    [
        address(&raw const CONSTANTS_START)..address(&raw const CONSTANTS_END),
        address(&raw const STATICS_START)..address(&raw const STATICS_END),
        abi::patch_region(),
    ]
}

/// What the host may write: the patch region, the function table, the
/// patch epoch, the attach mark, the mailbox, the roots table pointer and
/// the word that pauses type profiles.
fn writable() -> [Range<usize>; 7] {
    let word = |address: usize| address..address + 4;
    let [mailbox, host_roots] = abi::host_request_words();
    [
        abi::patch_region(),
        abi::slot_table(),
        word(abi::patch_epoch_address()),
        word(abi::host_attached_address()),
        mailbox,
        host_roots,
        word(abi::profiling_paused_address()),
    ]
}

/// The RTT control block that `print` sets up (docs/device-abi.md, "RTT
/// control block").
mod rtt {
    /// Offsets in the control block and in an up channel's descriptor.
    pub const ID: &[u8; 10] = b"SEGGER RTT";
    pub const MAX_UP_CHANNELS: usize = 16;
    pub const UP_CHANNELS: usize = 24;
    pub const CHANNEL_SIZE: usize = 24;
    pub const BUFFER: usize = 4;
    pub const SIZE: usize = 8;
    pub const WRITE: usize = 12;
    pub const READ: usize = 16;
}

/// Takes what the program wrote to up channel `channel` (as much as `buf`
/// holds), as a debugger reads RTT: the program writes its part of the
/// ring, the agent reads up to the write offset and moves the read offset.
fn drain_rtt(channel: usize, buf: &mut [u8]) -> usize {
    unsafe extern "C" {
        /// rtt-target's control block (`print.rs` creates it).
        static _SEGGER_RTT: u8;
    }
    let block = &raw const _SEGGER_RTT as usize;
    let word = |offset: usize| {
        // SAFETY: inside the control block, word-aligned.
        unsafe { ((block + offset) as *const u32).read_volatile() as usize }
    };
    // SAFETY: the control block's first bytes; the id is written last.
    let id = unsafe { core::slice::from_raw_parts(block as *const u8, rtt::ID.len()) };
    if id != rtt::ID || channel >= word(rtt::MAX_UP_CHANNELS) {
        return 0; // not set up yet
    }
    let descriptor = rtt::UP_CHANNELS + channel * rtt::CHANNEL_SIZE;
    let (buffer, size) = (word(descriptor + rtt::BUFFER), word(descriptor + rtt::SIZE));
    let write = word(descriptor + rtt::WRITE);
    let mut read = word(descriptor + rtt::READ);
    if size == 0 || write >= size || read >= size {
        return 0;
    }
    // The bytes up to `write` were written before `write` was.
    compiler_fence(Ordering::Acquire);
    let mut taken = 0;
    while read != write && taken < buf.len() {
        // SAFETY: inside the channel's buffer.
        buf[taken] = unsafe { ((buffer + read) as *const u8).read_volatile() };
        taken += 1;
        read = (read + 1) % size;
    }
    compiler_fence(Ordering::Release);
    // SAFETY: the read offset is the reader's to write.
    unsafe { ((block + descriptor + rtt::READ) as *mut u32).write_volatile(read as u32) };
    taken
}
