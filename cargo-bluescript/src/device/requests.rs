//! The host's side of the host-request mailbox (docs/device-abi.md, "Host
//! requests"): posting a function for the event loop to run at its next
//! safe point, reading how it ended, asking to abandon it, and switching
//! the table of the roots that the host's globals add. Every transport
//! reaches the words while the program runs; a core that cannot be read
//! while running is halted briefly, as polling does.

use super::{Device, Outcome};
use crate::connection::{with_memory, CoreAccess};
use anyhow::{bail, Context, Result};
use bluescript_abi::host_request::{ABANDON, FINISHED, FUNCTION, OUTCOME, POSTED};
use bluescript_abi::WORD_BYTES;

impl Device {
    /// Posts `function` (a code address as a slot holds it) to the mailbox;
    /// it runs at the event loop's next safe point. Returns the request's
    /// sequence number.
    pub fn post_request(&mut self, function: u32) -> Result<u32> {
        let mailbox = self.mailbox()?;
        with_memory(self.board.core(), |core| {
            let posted = read(core, mailbox, POSTED)?;
            let finished = read(core, mailbox, FINISHED)?;
            if posted != finished {
                bail!("the device has not finished request {posted} yet");
            }
            let sequence = finished.wrapping_add(1);
            // The device reads the function once it sees the sequence number.
            write(core, mailbox, FUNCTION, function)?;
            write(core, mailbox, POSTED, sequence)?;
            Ok(sequence)
        })
    }

    /// The outcome of request `sequence` once it finished; `None` while it
    /// waits or runs.
    pub fn request_outcome(&mut self, sequence: u32) -> Result<Option<Outcome>> {
        let mailbox = self.mailbox()?;
        with_memory(self.board.core(), |core| {
            let finished = read(core, mailbox, FINISHED)?;
            if finished != sequence {
                let posted = read(core, mailbox, POSTED)?;
                if posted == sequence {
                    return Ok(None);
                }
                bail!(
                    "request {sequence} is unknown to the device, which finished request \
                     {finished} last (the program restarted?)"
                );
            }
            let word = read(core, mailbox, OUTCOME)?;
            Outcome::from_word(word)
                .map(Some)
                .with_context(|| format!("the device reports an unknown outcome {word}"))
        })
    }

    /// Asks the device to abandon request `sequence` (a cell that never
    /// ends). Its outcome is then [`Outcome::Abandoned`], once the tick
    /// finds it running its own code rather than the runtime's or the
    /// image's.
    pub fn abandon_request(&mut self, sequence: u32) -> Result<()> {
        let mailbox = self.mailbox()?;
        with_memory(self.board.core(), |core| {
            write(core, mailbox, ABANDON, sequence)
        })
    }

    /// Replaces the host roots table pointer (the table itself is written
    /// by the caller into the patch region); 0 for none.
    pub fn set_host_roots(&mut self, table: u32) -> Result<()> {
        self.mailbox()?;
        let pointer = self.shadow.runtime.host_roots;
        with_memory(self.board.core(), |core| core.write_word(pointer, table))
    }
}

impl Device {
    /// The mailbox's address; an error for a board flashed with an image
    /// older than the mailbox.
    fn mailbox(&self) -> Result<u32> {
        match self.shadow.runtime.host_request {
            0 => bail!(
                "the board runs an image built before the device served host requests: \
                 flash it again"
            ),
            address => Ok(address),
        }
    }
}

fn read(core: &mut dyn CoreAccess, mailbox: u32, word: usize) -> Result<u32> {
    core.read_word(mailbox + word as u32 * WORD_BYTES)
}

fn write(core: &mut dyn CoreAccess, mailbox: u32, word: usize, value: u32) -> Result<()> {
    core.write_word(mailbox + word as u32 * WORD_BYTES, value)
}
