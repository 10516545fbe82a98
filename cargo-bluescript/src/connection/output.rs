//! The program's output: what it prints on stdout and stderr, however it
//! reaches the host.

use super::CoreAccess;
use crate::rtt::Rtt;
use anyhow::Result;
use bluescript_abi::{STDERR_CHANNEL, STDOUT_CHANNEL};

/// One of the program's output streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Bytes the program wrote to one of its streams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub stream: Stream,
    pub bytes: Vec<u8>,
}

/// Where the program's output comes from: RTT buffers in the device's RAM
/// ([`RttOutput`]), or a serial stream.
pub trait ProgramOutput {
    /// Takes what the program wrote since the last call. `core` is the
    /// device's core access, halted unless it reads memory while the core
    /// runs; an output that does not go through memory ignores it.
    fn read(&mut self, core: &mut dyn CoreAccess) -> Result<Vec<Output>>;
}

/// The program's output from the RTT control block at an address, read
/// through core access.
pub struct RttOutput {
    control_block: u32,
    /// `None` until the firmware has set the control block up.
    rtt: Option<Rtt>,
}

impl RttOutput {
    pub fn new(control_block: u32) -> RttOutput {
        RttOutput {
            control_block,
            rtt: None,
        }
    }
}

impl ProgramOutput for RttOutput {
    fn read(&mut self, core: &mut dyn CoreAccess) -> Result<Vec<Output>> {
        if self.rtt.is_none() {
            let Some(mut rtt) = Rtt::attach(core, self.control_block)? else {
                return Ok(Vec::new()); // still booting
            };
            // The firmware drops output while nobody listens; now someone
            // does, so it may wait for the host instead.
            for channel in 0..rtt.up_channels().len() {
                rtt.set_blocking(core, channel)?;
            }
            self.rtt = Some(rtt);
        }
        let rtt = self.rtt.as_mut().expect("attached above");
        let mut output = Vec::new();
        for (channel, bytes) in rtt.read_up(core)? {
            let stream = match channel {
                STDOUT_CHANNEL => Stream::Stdout,
                STDERR_CHANNEL => Stream::Stderr,
                _ => continue,
            };
            output.push(Output { stream, bytes });
        }
        Ok(output)
    }
}
