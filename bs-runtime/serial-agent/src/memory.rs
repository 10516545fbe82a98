//! A device in memory for tests (feature `std`): RAM at a base address, the
//! program's output, a clock the test moves, and a record of what the agent
//! made it do.

use crate::{DeviceStatus, Error, Stream, Target, Words};
use std::collections::VecDeque;
use std::vec;
use std::vec::Vec;

pub struct MemoryTarget {
    pub base: u32,
    pub ram: Vec<u8>,
    pub held: bool,
    pub now_ms: u32,
    pub status: DeviceStatus,
    /// Where `status.patch_epoch` lives in RAM, if it does: the status then
    /// reads it there.
    pub epoch_address: Option<u32>,
    pub stdout: VecDeque<u8>,
    pub stderr: VecDeque<u8>,
    /// Writes and commits executed.
    pub writes: usize,
    pub commits: usize,
    entropy: u64,
}

impl MemoryTarget {
    pub fn new(base: u32, size: usize) -> MemoryTarget {
        MemoryTarget {
            base,
            ram: vec![0; size],
            held: false,
            now_ms: 0,
            status: DeviceStatus::default(),
            epoch_address: None,
            stdout: VecDeque::new(),
            stderr: VecDeque::new(),
            writes: 0,
            commits: 0,
            entropy: 0x5eed,
        }
    }

    fn range(&self, address: u32, len: usize) -> Result<core::ops::Range<usize>, Error> {
        let start = address.wrapping_sub(self.base) as usize;
        if address < self.base || start + len > self.ram.len() {
            return Err(Error::BadAddress);
        }
        Ok(start..start + len)
    }

    pub fn word(&self, address: u32) -> u32 {
        let range = self.range(address, 4).expect("a word of RAM");
        u32::from_le_bytes(self.ram[range].try_into().expect("4 bytes"))
    }

    pub fn set_word(&mut self, address: u32, value: u32) {
        let range = self.range(address, 4).expect("a word of RAM");
        self.ram[range].copy_from_slice(&value.to_le_bytes());
    }
}

impl Target for MemoryTarget {
    fn read(&mut self, address: u32, buf: &mut [u8]) -> Result<(), Error> {
        let range = self.range(address, buf.len())?;
        buf.copy_from_slice(&self.ram[range]);
        Ok(())
    }

    fn write(&mut self, address: u32, data: &[u8]) -> Result<(), Error> {
        let range = self.range(address, data.len())?;
        self.ram[range].copy_from_slice(data);
        self.writes += 1;
        Ok(())
    }

    fn commit(&mut self, words: Words<'_>) -> Result<(), Error> {
        let list = match words {
            Words::Inline(bytes) => bytes.to_vec(),
            Words::Stored { address, count } => {
                let range = self.range(address, 8 * count as usize)?;
                self.ram[range].to_vec()
            }
        };
        for (address, _) in Words::pairs(&list) {
            if !address.is_multiple_of(4) {
                return Err(Error::Unaligned);
            }
            self.range(address, 4)?;
        }
        for (address, value) in Words::pairs(&list) {
            self.set_word(address, value);
        }
        self.commits += 1;
        Ok(())
    }

    fn hold(&mut self, held: bool) {
        self.held = held;
    }

    fn output(&mut self, stream: Stream, buf: &mut [u8]) -> usize {
        let queue = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        let count = buf.len().min(queue.len());
        for (slot, byte) in buf.iter_mut().zip(queue.drain(..count)) {
            *slot = byte;
        }
        count
    }

    fn status(&mut self) -> DeviceStatus {
        if let Some(address) = self.epoch_address {
            self.status.patch_epoch = self.word(address);
        }
        self.status
    }

    fn now_ms(&mut self) -> u32 {
        self.now_ms
    }

    fn entropy(&mut self) -> u64 {
        self.entropy = self
            .entropy
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1);
        self.entropy
    }
}
