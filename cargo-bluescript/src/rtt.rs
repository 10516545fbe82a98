//! Reading SEGGER RTT output through a [`Probe`].
//!
//! RTT keeps ring buffers in device RAM, described by a control block (the
//! `_SEGGER_RTT` symbol): the firmware writes into "up" buffers and advances
//! their write offset; the host copies out the bytes between the read and
//! the write offset and then advances the read offset. Plain memory reads
//! and writes, so it works the same over every probe.
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
//! Callers hold the device halted (see [`crate::probe::with_halted`]), so the
//! offsets cannot move under us.

use crate::probe::Probe;
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
    pub fn attach(probe: &mut dyn Probe, control_block: u32) -> Result<Option<Rtt>> {
        let mut header = [0; HEADER_SIZE as usize];
        probe.read_memory(control_block, &mut header)?;
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
        probe.read_memory(control_block + HEADER_SIZE, &mut descriptors)?;
        let mut channels = descriptors
            .chunks_exact(DESCRIPTOR_SIZE as usize)
            .map(|descriptor| read_channel(probe, descriptor))
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
    pub fn read_up(&mut self, probe: &mut dyn Probe) -> Result<Vec<(usize, Vec<u8>)>> {
        let descriptors = self.read_up_descriptors(probe)?;
        let mut output = Vec::new();
        for (channel, descriptor) in descriptors
            .chunks_exact(DESCRIPTOR_SIZE as usize)
            .enumerate()
        {
            if let Some(bytes) = self.drain_channel(probe, channel, descriptor)? {
                output.push((channel, bytes));
            }
        }
        Ok(output)
    }

    /// Makes the firmware wait instead of dropping output when up `channel`
    /// is full.
    pub fn set_blocking(&mut self, probe: &mut dyn Probe, channel: usize) -> Result<()> {
        self.set_mode(probe, channel, ChannelMode::BlockIfFull)
    }

    /// Sets what the firmware does when up `channel` is full.
    pub fn set_mode(
        &mut self,
        probe: &mut dyn Probe,
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
        let flags = probe.read_word(flags_addr)?;
        probe.write_word(flags_addr, (flags & !MODE_MASK) | mode as u32)
    }

    fn up_descriptor(&self, channel: usize) -> u32 {
        self.control_block + HEADER_SIZE + channel as u32 * DESCRIPTOR_SIZE
    }

    /// Reads the ID and all up descriptors in one go, so that a control block
    /// wiped by a reset is noticed at no extra cost.
    fn read_up_descriptors(&self, probe: &mut dyn Probe) -> Result<Vec<u8>> {
        let mut block = vec![0; (HEADER_SIZE + self.up.len() as u32 * DESCRIPTOR_SIZE) as usize];
        probe.read_memory(self.control_block, &mut block)?;
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
        probe: &mut dyn Probe,
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
        probe.read_memory(buffer + read, first)?;
        if !second.is_empty() {
            probe.read_memory(buffer, second)?;
        }
        probe.write_word(self.up_descriptor(channel) + READ_OFFSET, write)?;
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

fn read_channel(probe: &mut dyn Probe, descriptor: &[u8]) -> RttChannel {
    RttChannel {
        name: read_name(probe, read_u32(descriptor, NAME_PTR)),
        buffer: read_u32(descriptor, BUFFER_PTR),
        size: read_u32(descriptor, SIZE),
    }
}

/// A channel name is a C string anywhere in memory; a name that cannot be
/// read is merely missing.
fn read_name(probe: &mut dyn Probe, addr: u32) -> Option<String> {
    if addr == 0 {
        return None;
    }
    let mut bytes = [0; MAX_NAME_LEN];
    probe.read_memory(addr, &mut bytes).ok()?;
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
    use crate::probe::fake::MemoryProbe;
    use crate::probe::{with_halted, Probe};

    pub const BUFFER_SIZE: u32 = 16;

    /// A control block like rtt-target's at `cb`: `up` up channels and one
    /// down channel, each with a 16-byte buffer from `buffers` on; the first
    /// is named `stdout` (the name stored at `names`).
    pub fn control_block(probe: &mut MemoryProbe, cb: u32, up: u32, names: u32, buffers: u32) {
        probe.poke(names, b"stdout\0");
        probe.poke(cb, ID);
        probe.poke_word(cb + 16, up);
        probe.poke_word(cb + 20, 1);
        for channel in 0..up + 1 {
            let descriptor = cb + HEADER_SIZE + channel * DESCRIPTOR_SIZE;
            probe.poke_word(descriptor, if channel == 0 { names } else { 0 });
            probe.poke_word(descriptor + 4, buffers + channel * BUFFER_SIZE);
            probe.poke_word(descriptor + 8, BUFFER_SIZE);
        }
    }

    /// Writes `text` into up `channel` of the block at `cb` the way the
    /// firmware does.
    pub fn firmware_print(probe: &mut dyn Probe, cb: u32, channel: u32, text: &[u8]) {
        with_halted(probe, |probe| {
            let descriptor = cb + HEADER_SIZE + channel * DESCRIPTOR_SIZE;
            let buffer = probe.read_word(descriptor + 4)?;
            let mut write = probe.read_word(descriptor + 12)?;
            for &byte in text {
                probe.write_memory(buffer + write, &[byte])?;
                write = (write + 1) % BUFFER_SIZE;
            }
            probe.write_word(descriptor + 12, write)
        })
        .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::fake::{control_block, BUFFER_SIZE};
    use super::*;
    use crate::probe::fake::MemoryProbe;

    const RAM: u32 = 0x2000_0000;
    const CB: u32 = RAM + 0x100;
    const NAMES: u32 = RAM + 0x400;
    const BUFFERS: u32 = RAM + 0x800;

    fn device_with_rtt(up: u32) -> MemoryProbe {
        let mut probe = MemoryProbe::new(RAM, 0x1000);
        control_block(&mut probe, CB, up, NAMES, BUFFERS);
        probe
    }

    fn firmware_print(probe: &mut MemoryProbe, channel: u32, text: &[u8]) {
        fake::firmware_print(probe, CB, channel, text)
    }

    fn attach(probe: &mut MemoryProbe) -> Rtt {
        Rtt::attach(probe, CB).unwrap().expect("control block")
    }

    #[test]
    fn an_uninitialized_block_is_not_attached() {
        let mut probe = MemoryProbe::new(RAM, 0x1000);
        assert!(Rtt::attach(&mut probe, CB).unwrap().is_none());
        probe.poke(CB, b"SEGGER RT"); // half-written ID
        assert!(Rtt::attach(&mut probe, CB).unwrap().is_none());
    }

    #[test]
    fn attach_reads_the_channel_layout() {
        let mut probe = device_with_rtt(2);
        let rtt = attach(&mut probe);
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
        let mut probe = device_with_rtt(1);
        probe.poke_word(CB + 16, 5000);
        let err = Rtt::attach(&mut probe, CB).unwrap_err().to_string();
        assert!(err.contains("looks corrupt"), "{err}");
    }

    #[test]
    fn reads_output_and_advances_the_read_offset() {
        let mut probe = device_with_rtt(1);
        let mut rtt = attach(&mut probe);
        firmware_print(&mut probe, 0, b"hello\n");
        assert_eq!(rtt.read_up(&mut probe).unwrap(), [(0, b"hello\n".to_vec())]);
        assert_eq!(probe.peek_word(CB + HEADER_SIZE + READ_OFFSET), 6);
        assert!(rtt.read_up(&mut probe).unwrap().is_empty());
    }

    #[test]
    fn handles_output_that_wraps_around_the_buffer() {
        let mut probe = device_with_rtt(1);
        let mut rtt = attach(&mut probe);
        firmware_print(&mut probe, 0, b"0123456789");
        rtt.read_up(&mut probe).unwrap();
        firmware_print(&mut probe, 0, b"abcdefghij"); // offsets 10..16, then 0..4
        assert_eq!(
            rtt.read_up(&mut probe).unwrap(),
            [(0, b"abcdefghij".to_vec())]
        );
        assert_eq!(probe.peek_word(CB + HEADER_SIZE + READ_OFFSET), 4);
    }

    #[test]
    fn reads_every_channel_that_has_output() {
        let mut probe = device_with_rtt(3);
        let mut rtt = attach(&mut probe);
        firmware_print(&mut probe, 0, b"out");
        firmware_print(&mut probe, 2, b"err");
        let output = rtt.read_up(&mut probe).unwrap();
        assert_eq!(output, [(0, b"out".to_vec()), (2, b"err".to_vec())]);
    }

    #[test]
    fn an_idle_poll_costs_one_read_and_no_write() {
        let mut probe = device_with_rtt(2);
        let mut rtt = attach(&mut probe);
        let (reads, writes) = (probe.reads, probe.writes);
        rtt.read_up(&mut probe).unwrap();
        assert_eq!((probe.reads - reads, probe.writes - writes), (1, 0));
    }

    #[test]
    fn a_wiped_control_block_is_reported() {
        let mut probe = device_with_rtt(1);
        let mut rtt = attach(&mut probe);
        probe.poke(CB, &[0; 16]);
        let err = rtt.read_up(&mut probe).unwrap_err().to_string();
        assert!(err.contains("did the board reset"), "{err}");
    }

    #[test]
    fn corrupt_offsets_are_an_error() {
        let mut probe = device_with_rtt(1);
        let mut rtt = attach(&mut probe);
        probe.poke_word(CB + HEADER_SIZE + 12, 99);
        let err = rtt.read_up(&mut probe).unwrap_err().to_string();
        assert!(err.contains("corrupt"), "{err}");
    }

    #[test]
    fn set_blocking_changes_only_the_mode_bits() {
        let mut probe = device_with_rtt(2);
        let mut rtt = attach(&mut probe);
        let flags = CB + HEADER_SIZE + DESCRIPTOR_SIZE + FLAGS;
        probe.poke_word(flags, 0x100 | ChannelMode::NoBlockTrim as u32);
        rtt.set_blocking(&mut probe, 1).unwrap();
        assert_eq!(probe.peek_word(flags), 0x102);
        assert!(rtt.set_blocking(&mut probe, 2).is_err());
    }
}
