//! Reading SEGGER RTT output through a [`CoreAccess`].
//!
//! RTT keeps ring buffers in device RAM, described by a control block (the
//! `_SEGGER_RTT` symbol): the firmware writes into "up" buffers and advances
//! their write offset; the host copies out the bytes between the read and
//! the write offset and then advances the read offset. Plain memory reads
//! and writes, so it works the same through any core access.
//!
//! Control block layout (32-bit targets):
//! ```text
//! 0   id: [u8; 16]            "SEGGER RTT\0…"
//! 16  max_up_buffers: u32
//! 20  max_down_buffers: u32
//! 24  up descriptors, then down descriptors, 24 bytes each:
//!     name ptr, buffer ptr, size, write offset, read offset, flags
//! ```
//!
//! Callers hold the core halted (see [`crate::connection::with_halted`]), so
//! the offsets cannot move under us, unless its memory can be accessed while
//! it runs: the firmware only moves the write offsets, the host only the
//! read offsets.

use crate::connection::CoreAccess;
use anyhow::{bail, Result};

const ID: &[u8; 16] = b"SEGGER RTT\0\0\0\0\0\0";
const HEADER_SIZE: u32 = 24;
const DESCRIPTOR_SIZE: u32 = 24;
/// More channels than any real firmware configures: a bigger count means the
/// address does not hold a control block.
const MAX_CHANNELS: u32 = 32;
const MAX_NAME_LEN: usize = 32;

// Offsets of the fields inside a descriptor.
const NAME_PTR: u32 = 0;
const BUFFER_PTR: u32 = 4;
const SIZE: u32 = 8;
const WRITE_OFFSET: u32 = 12;
const READ_OFFSET: u32 = 16;
const FLAGS: u32 = 20;

const MODE_MASK: u32 = 0b11;

/// What the firmware does when an up buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelMode {
    /// Drop the whole write (rtt-target's default).
    NoBlockSkip = 0,
    /// Write what fits, drop the rest.
    NoBlockTrim = 1,
    /// Wait for the host to read: no output is lost, but the firmware
    /// stalls while nobody reads.
    BlockIfFull = 2,
}

/// An RTT channel as configured by the firmware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RttChannel {
    pub name: Option<String>,
    pub buffer: u32,
    pub size: u32,
}

/// An attached RTT control block.
#[derive(Debug, Clone)]
pub struct Rtt {
    control_block: u32,
    up: Vec<RttChannel>,
    down: Vec<RttChannel>,
}

impl Rtt {
    /// Reads the control block at `control_block`. Returns `None` while the
    /// firmware has not initialized it yet (still booting); try again later.
    pub fn attach(core: &mut dyn CoreAccess, control_block: u32) -> Result<Option<Rtt>> {
        let mut header = [0; HEADER_SIZE as usize];
        core.read_memory(control_block, &mut header)?;
        if header[..16] != ID[..] {
            return Ok(None);
        }
        let up_count = read_u32(&header, 16);
        let down_count = read_u32(&header, 20);
        if up_count > MAX_CHANNELS || down_count > MAX_CHANNELS {
            bail!(
                "the RTT control block at 0x{control_block:08x} looks corrupt \
                 ({up_count} up and {down_count} down channels)"
            );
        }
        let mut descriptors = vec![0; ((up_count + down_count) * DESCRIPTOR_SIZE) as usize];
        core.read_memory(control_block + HEADER_SIZE, &mut descriptors)?;
        let mut channels = descriptors
            .chunks_exact(DESCRIPTOR_SIZE as usize)
            .map(|descriptor| read_channel(core, descriptor))
            .collect::<Vec<_>>();
        let down = channels.split_off(up_count as usize);
        Ok(Some(Rtt {
            control_block,
            up: channels,
            down,
        }))
    }

    /// The address of the control block.
    pub fn control_block(&self) -> u32 {
        self.control_block
    }

    pub fn up_channels(&self) -> &[RttChannel] {
        &self.up
    }

    pub fn down_channels(&self) -> &[RttChannel] {
        &self.down
    }

    /// Takes the pending output of every up channel: `(channel, bytes)` for
    /// each channel that has some. One memory read checks all channels; each
    /// channel with output costs one or two reads and one write.
    pub fn read_up(&mut self, core: &mut dyn CoreAccess) -> Result<Vec<(usize, Vec<u8>)>> {
        let descriptors = self.read_up_descriptors(core)?;
        let mut output = Vec::new();
        for (channel, descriptor) in descriptors
            .chunks_exact(DESCRIPTOR_SIZE as usize)
            .enumerate()
        {
            if let Some(bytes) = self.drain_channel(core, channel, descriptor)? {
                output.push((channel, bytes));
            }
        }
        Ok(output)
    }

    /// Makes the firmware wait instead of dropping output when up `channel`
    /// is full.
    pub fn set_blocking(&mut self, core: &mut dyn CoreAccess, channel: usize) -> Result<()> {
        self.set_mode(core, channel, ChannelMode::BlockIfFull)
    }

    /// Sets what the firmware does when up `channel` is full.
    pub fn set_mode(
        &mut self,
        core: &mut dyn CoreAccess,
        channel: usize,
        mode: ChannelMode,
    ) -> Result<()> {
        if channel >= self.up.len() {
            bail!(
                "the firmware has no RTT up channel {channel} (it has {})",
                self.up.len()
            );
        }
        let flags_addr = self.up_descriptor(channel) + FLAGS;
        let flags = core.read_word(flags_addr)?;
        core.write_word(flags_addr, (flags & !MODE_MASK) | mode as u32)
    }

    fn up_descriptor(&self, channel: usize) -> u32 {
        self.control_block + HEADER_SIZE + channel as u32 * DESCRIPTOR_SIZE
    }

    /// Reads the ID and all up descriptors in one go, so that a control block
    /// wiped by a reset is noticed at no extra cost.
    fn read_up_descriptors(&self, core: &mut dyn CoreAccess) -> Result<Vec<u8>> {
        let mut block = vec![0; (HEADER_SIZE + self.up.len() as u32 * DESCRIPTOR_SIZE) as usize];
        core.read_memory(self.control_block, &mut block)?;
        if block[..16] != ID[..] || read_u32(&block, 16) as usize != self.up.len() {
            bail!(
                "the RTT control block at 0x{:08x} was cleared or changed (did the board reset?); attach again",
                self.control_block
            );
        }
        Ok(block.split_off(HEADER_SIZE as usize))
    }

    fn drain_channel(
        &self,
        core: &mut dyn CoreAccess,
        channel: usize,
        descriptor: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        let buffer = read_u32(descriptor, BUFFER_PTR);
        let size = read_u32(descriptor, SIZE);
        let write = read_u32(descriptor, WRITE_OFFSET);
        let read = read_u32(descriptor, READ_OFFSET);
        if buffer == 0 || size == 0 || write == read {
            return Ok(None);
        }
        if write >= size || read >= size {
            bail!(
                "RTT up channel {channel} is corrupt (read offset {read}, write offset {write}, \
                 size {size}); the firmware may have overwritten its memory"
            );
        }
        let mut bytes = vec![0; pending_len(read, write, size) as usize];
        // The pending bytes run from the read offset to the write offset,
        // wrapping at the end of the buffer.
        let (first, second) = bytes.split_at_mut(if write > read {
            (write - read) as usize
        } else {
            (size - read) as usize
        });
        core.read_memory(buffer + read, first)?;
        if !second.is_empty() {
            core.read_memory(buffer, second)?;
        }
        core.write_word(self.up_descriptor(channel) + READ_OFFSET, write)?;
        Ok(Some(bytes))
    }
}

fn pending_len(read: u32, write: u32, size: u32) -> u32 {
    if write >= read {
        write - read
    } else {
        size - read + write
    }
}

fn read_channel(core: &mut dyn CoreAccess, descriptor: &[u8]) -> RttChannel {
    RttChannel {
        name: read_name(core, read_u32(descriptor, NAME_PTR)),
        buffer: read_u32(descriptor, BUFFER_PTR),
        size: read_u32(descriptor, SIZE),
    }
}

/// A channel name is a C string anywhere in memory; a name that cannot be
/// read is merely missing.
fn read_name(core: &mut dyn CoreAccess, addr: u32) -> Option<String> {
    if addr == 0 {
        return None;
    }
    let mut bytes = [0; MAX_NAME_LEN];
    core.read_memory(addr, &mut bytes).ok()?;
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(MAX_NAME_LEN);
    Some(String::from_utf8_lossy(&bytes[..len]).into_owned())
}

fn read_u32(bytes: &[u8], offset: u32) -> u32 {
    let offset = offset as usize;
    u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap())
}

/// Control blocks in a fake device's memory, written as the firmware does.
#[cfg(test)]
pub(crate) mod fake {
    use super::{DESCRIPTOR_SIZE, HEADER_SIZE, ID};
    use crate::connection::fake::FakeCore;
    use crate::connection::{with_halted, CoreAccess};

    pub const BUFFER_SIZE: u32 = 16;

    /// A control block like rtt-target's at `cb`: `up` up channels and one
    /// down channel, each with a 16-byte buffer from `buffers` on; the first
    /// is named `stdout` (the name stored at `names`).
    pub fn control_block(core: &mut FakeCore, cb: u32, up: u32, names: u32, buffers: u32) {
        core.poke(names, b"stdout\0");
        core.poke(cb, ID);
        core.poke_word(cb + 16, up);
        core.poke_word(cb + 20, 1);
        for channel in 0..up + 1 {
            let descriptor = cb + HEADER_SIZE + channel * DESCRIPTOR_SIZE;
            core.poke_word(descriptor, if channel == 0 { names } else { 0 });
            core.poke_word(descriptor + 4, buffers + channel * BUFFER_SIZE);
            core.poke_word(descriptor + 8, BUFFER_SIZE);
        }
    }

    /// Writes `text` into up `channel` of the block at `cb` the way the
    /// firmware does.
    pub fn firmware_print(core: &mut dyn CoreAccess, cb: u32, channel: u32, text: &[u8]) {
        with_halted(core, |core| {
            let descriptor = cb + HEADER_SIZE + channel * DESCRIPTOR_SIZE;
            let buffer = core.read_word(descriptor + 4)?;
            let mut write = core.read_word(descriptor + 12)?;
            for &byte in text {
                core.write_memory(buffer + write, &[byte])?;
                write = (write + 1) % BUFFER_SIZE;
            }
            core.write_word(descriptor + 12, write)
        })
        .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::fake::{control_block, BUFFER_SIZE};
    use super::*;
    use crate::connection::fake::FakeCore;

    const RAM: u32 = 0x2000_0000;
    const CB: u32 = RAM + 0x100;
    const NAMES: u32 = RAM + 0x400;
    const BUFFERS: u32 = RAM + 0x800;

    fn device_with_rtt(up: u32) -> FakeCore {
        let mut core = FakeCore::new(RAM, 0x1000);
        control_block(&mut core, CB, up, NAMES, BUFFERS);
        core
    }

    fn firmware_print(core: &mut FakeCore, channel: u32, text: &[u8]) {
        fake::firmware_print(core, CB, channel, text)
    }

    fn attach(core: &mut FakeCore) -> Rtt {
        Rtt::attach(core, CB).unwrap().expect("control block")
    }

    #[test]
    fn an_uninitialized_block_is_not_attached() {
        let mut core = FakeCore::new(RAM, 0x1000);
        assert!(Rtt::attach(&mut core, CB).unwrap().is_none());
        core.poke(CB, b"SEGGER RT"); // half-written ID
        assert!(Rtt::attach(&mut core, CB).unwrap().is_none());
    }

    #[test]
    fn attach_reads_the_channel_layout() {
        let mut core = device_with_rtt(2);
        let rtt = attach(&mut core);
        assert_eq!(rtt.up_channels().len(), 2);
        assert_eq!(rtt.down_channels().len(), 1);
        assert_eq!(
            rtt.up_channels()[0],
            RttChannel {
                name: Some("stdout".into()),
                buffer: BUFFERS,
                size: BUFFER_SIZE
            }
        );
        assert_eq!(rtt.up_channels()[1].name, None);
    }

    #[test]
    fn a_corrupt_channel_count_is_an_error() {
        let mut core = device_with_rtt(1);
        core.poke_word(CB + 16, 5000);
        let err = Rtt::attach(&mut core, CB).unwrap_err().to_string();
        assert!(err.contains("looks corrupt"), "{err}");
    }

    #[test]
    fn reads_output_and_advances_the_read_offset() {
        let mut core = device_with_rtt(1);
        let mut rtt = attach(&mut core);
        firmware_print(&mut core, 0, b"hello\n");
        assert_eq!(rtt.read_up(&mut core).unwrap(), [(0, b"hello\n".to_vec())]);
        assert_eq!(core.peek_word(CB + HEADER_SIZE + READ_OFFSET), 6);
        assert!(rtt.read_up(&mut core).unwrap().is_empty());
    }

    #[test]
    fn handles_output_that_wraps_around_the_buffer() {
        let mut core = device_with_rtt(1);
        let mut rtt = attach(&mut core);
        firmware_print(&mut core, 0, b"0123456789");
        rtt.read_up(&mut core).unwrap();
        firmware_print(&mut core, 0, b"abcdefghij"); // offsets 10..16, then 0..4
        assert_eq!(
            rtt.read_up(&mut core).unwrap(),
            [(0, b"abcdefghij".to_vec())]
        );
        assert_eq!(core.peek_word(CB + HEADER_SIZE + READ_OFFSET), 4);
    }

    #[test]
    fn reads_every_channel_that_has_output() {
        let mut core = device_with_rtt(3);
        let mut rtt = attach(&mut core);
        firmware_print(&mut core, 0, b"out");
        firmware_print(&mut core, 2, b"err");
        let output = rtt.read_up(&mut core).unwrap();
        assert_eq!(output, [(0, b"out".to_vec()), (2, b"err".to_vec())]);
    }

    #[test]
    fn an_idle_poll_costs_one_read_and_no_write() {
        let mut core = device_with_rtt(2);
        let mut rtt = attach(&mut core);
        let (reads, writes) = (core.reads, core.writes);
        rtt.read_up(&mut core).unwrap();
        assert_eq!((core.reads - reads, core.writes - writes), (1, 0));
    }

    #[test]
    fn a_wiped_control_block_is_reported() {
        let mut core = device_with_rtt(1);
        let mut rtt = attach(&mut core);
        core.poke(CB, &[0; 16]);
        let err = rtt.read_up(&mut core).unwrap_err().to_string();
        assert!(err.contains("did the board reset"), "{err}");
    }

    #[test]
    fn corrupt_offsets_are_an_error() {
        let mut core = device_with_rtt(1);
        let mut rtt = attach(&mut core);
        core.poke_word(CB + HEADER_SIZE + 12, 99);
        let err = rtt.read_up(&mut core).unwrap_err().to_string();
        assert!(err.contains("corrupt"), "{err}");
    }

    #[test]
    fn set_blocking_changes_only_the_mode_bits() {
        let mut core = device_with_rtt(2);
        let mut rtt = attach(&mut core);
        let flags = CB + HEADER_SIZE + DESCRIPTOR_SIZE + FLAGS;
        core.poke_word(flags, 0x100 | ChannelMode::NoBlockTrim as u32);
        rtt.set_blocking(&mut core, 1).unwrap();
        assert_eq!(core.peek_word(flags), 0x102);
        assert!(rtt.set_blocking(&mut core, 2).is_err());
    }
}
