//! A running device: the board, its probe, the RTT channels that carry the
//! program's output, and the shadow machine that describes it. Nothing here
//! prints: the program's output is handed over as data by [`Device::poll`].

use crate::board::{Board, RunningBoard, StartOptions};
use crate::patch::{self, LinkedPatch, PatchPlan, Timings};
use crate::rtt::Rtt;
use crate::shadow::Shadow;
use anyhow::{bail, Context, Result};
use bluescript_compiler::ir;
use std::time::{Duration, Instant};

/// Written to `__bs_host_attached` at reset: the output channels may then
/// wait for the host instead of dropping what it has not read yet.
const HOST_ATTACHED: u32 = 0xB105_C0DE;

/// How long a patch that needs a safe point waits for one.
const SAFE_POINT_TIMEOUT: Duration = Duration::from_secs(3);

// Values of `__bs_state` (docs/device-abi.md).
pub const STATE_IDLE: u32 = 3;
pub const STATE_FINISHED: u32 = 4;
pub const STATE_HALTED: u32 = 5;

const STDOUT_CHANNEL: usize = 0;
const STDERR_CHANNEL: usize = 1;

/// What one look at the device found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    pub state: u32,
    /// Run-time errors reported since boot.
    pub errors: u32,
}

impl Status {
    /// The top level has finished and no timer is pending.
    pub fn finished(self) -> bool {
        self.state == STATE_FINISHED
    }

    /// A panic or fault stopped the device (it said why on stderr).
    pub fn halted(self) -> bool {
        self.state == STATE_HALTED
    }
}

/// One of the program's output streams (an RTT up-channel).
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

/// What one look at the device found: its output since the last look, and
/// its state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Poll {
    pub output: Vec<Output>,
    pub status: Status,
}

pub struct Device {
    board: Box<dyn RunningBoard>,
    rtt: Option<Rtt>,
    /// Output read while the host waited for something else (a safe point),
    /// handed over by the next [`Device::poll`].
    pending: Vec<Output>,
    pub shadow: Shadow,
}

impl Device {
    /// Starts `shadow`'s image on the board and lets it run.
    pub fn start(board: Board, shadow: Shadow, options: &StartOptions) -> Result<Device> {
        board.ensure_tools_installed()?;
        let mut running = board.start(&shadow.image, options)?;
        let probe = running.probe();
        check_build(probe, &shadow)?;
        probe.write_word(shadow.runtime.host_attached, HOST_ATTACHED)?;
        probe.resume()?;
        Ok(Device {
            board: running,
            rtt: None,
            pending: Vec::new(),
            shadow,
        })
    }

    /// Takes over a board that already runs `shadow`'s image (and is halted
    /// by the connection): it goes on with its state.
    pub fn attach(mut board: Box<dyn RunningBoard>, shadow: Shadow) -> Result<Device> {
        let probe = board.probe();
        let checked = check_build(probe, &shadow).and_then(|()| {
            let epoch = probe.read_word(shadow.runtime.patch_epoch)?;
            if epoch != shadow.epoch {
                bail!(
                    "the board is at patch epoch {epoch}, but the host's model at {}",
                    shadow.epoch
                );
            }
            Ok(())
        });
        // Output from before the host came is stale (and, dropped as the
        // buffers filled, not even the latest): start from what comes next.
        let rtt = checked.and_then(|()| {
            let mut rtt = Rtt::attach(probe, shadow.runtime.rtt)?;
            if let Some(rtt) = &mut rtt {
                Device::make_blocking(rtt, probe)?;
                rtt.read_up(probe)?;
            }
            Ok(rtt)
        });
        // Whatever the verdict, the board goes on running.
        probe.resume()?;
        Ok(Device {
            board,
            rtt: rtt?,
            pending: Vec::new(),
            shadow,
        })
    }

    pub fn probe(&mut self) -> &mut dyn crate::probe::Probe {
        self.board.probe()
    }

    /// Halts the device briefly to read its output and state.
    pub fn poll(&mut self) -> Result<Poll> {
        let result = self.poll_halted();
        result.map_err(|error| match self.board.failure_details() {
            Some(details) => error.context(details),
            None => error,
        })
    }

    fn poll_halted(&mut self) -> Result<Poll> {
        self.board.probe().halt()?;
        let status = self.drain()?;
        self.board.probe().resume()?;
        Ok(Poll {
            output: std::mem::take(&mut self.pending),
            status,
        })
    }

    /// Reads the output of the halted device into `pending`, and its state.
    fn drain(&mut self) -> Result<Status> {
        let shadow = &self.shadow;
        let probe = self.board.probe();
        if self.rtt.is_none() {
            if let Some(mut rtt) = Rtt::attach(probe, shadow.runtime.rtt)? {
                Device::make_blocking(&mut rtt, probe)?;
                self.rtt = Some(rtt);
            }
        }
        if let Some(rtt) = &mut self.rtt {
            for (channel, bytes) in rtt.read_up(probe)? {
                let stream = match channel {
                    STDOUT_CHANNEL => Stream::Stdout,
                    STDERR_CHANNEL => Stream::Stderr,
                    _ => continue,
                };
                self.pending.push(Output { stream, bytes });
            }
        }
        let state = probe.read_word(shadow.runtime.state)?;
        let errors = probe.read_word(shadow.runtime.error_count)?;
        Ok(Status { state, errors })
    }

    /// Writes a linked patch and switches its slots (see [`patch::apply`]).
    pub fn apply_patch(
        &mut self,
        program: &ir::Program,
        plan: &PatchPlan,
        linked: &LinkedPatch,
        timings: &mut Timings,
    ) -> Result<()> {
        let started = Instant::now();
        self.halt_at_safe_point(plan.needs_safe_point)?;
        let result = patch::apply(self.board.probe(), &mut self.shadow, program, linked);
        self.board.probe().resume()?;
        result?;
        timings.transfer = started.elapsed();
        Ok(())
    }

    /// Halts the device; with `between_callbacks`, at a moment when no
    /// script code runs. Meanwhile its output is read (and kept for the next
    /// poll): a callback waiting for room in a full output buffer would
    /// otherwise never end.
    fn halt_at_safe_point(&mut self, between_callbacks: bool) -> Result<()> {
        self.board.probe().halt()?;
        if !between_callbacks {
            return Ok(());
        }
        let deadline = Instant::now() + SAFE_POINT_TIMEOUT;
        loop {
            let status = self.drain()?;
            if status.state == STATE_IDLE || status.finished() {
                return Ok(());
            }
            self.board.probe().resume()?;
            if Instant::now() > deadline {
                bail!(
                    "the device never paused between callbacks, so a changed signature could not be applied safely"
                );
            }
            std::thread::sleep(Duration::from_millis(1));
            self.board.probe().halt()?;
        }
    }

    /// The firmware drops output while nobody listens; now someone does, so
    /// it may wait for the host instead.
    fn make_blocking(rtt: &mut Rtt, probe: &mut dyn crate::probe::Probe) -> Result<()> {
        for channel in 0..rtt.up_channels().len() {
            rtt.set_blocking(probe, channel)?;
        }
        Ok(())
    }

    /// Persists the shadow machine (after every applied patch), next to the
    /// image it describes.
    pub fn save_shadow(&self) -> Result<()> {
        let dir = self
            .shadow
            .image
            .parent()
            .context("the image has no directory")?;
        self.shadow
            .save(dir)
            .context("cannot save the shadow machine")
    }
}

/// Invariant: the device runs exactly the image the shadow describes.
fn check_build(probe: &mut dyn crate::probe::Probe, shadow: &Shadow) -> Result<()> {
    let build_id = probe.read_word(shadow.runtime.program)?;
    if build_id != shadow.build_id {
        bail!(
            "the board runs build {build_id:#010x}, but the host's model is of build {:#010x}",
            shadow.build_id
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake::MemoryProbe;
    use crate::probe::Probe;
    use crate::rtt::fake::{control_block, firmware_print};
    use crate::shadow::RuntimeSymbols;

    const RAM: u32 = 0x2000_0000;
    const BUILD: u32 = 0x1234_5679;

    struct FakeBoard(MemoryProbe);

    impl RunningBoard for FakeBoard {
        fn board(&self) -> Board {
            Board::default()
        }

        fn probe(&mut self) -> &mut dyn Probe {
            &mut self.0
        }

        fn failure_details(&mut self) -> Option<String> {
            None
        }
    }

    fn shadow() -> Shadow {
        Shadow {
            build_id: BUILD,
            epoch: 2,
            image: "image.elf".into(),
            runtime: RuntimeSymbols {
                slots: RAM + 0x100,
                slot_count: 4,
                patch_region: RAM + 0x200,
                patch_region_size: 0x100,
                patch_epoch: RAM + 0x10,
                state: RAM + 0x14,
                error_count: RAM + 0x18,
                host_attached: RAM + 0x1c,
                rtt: RAM + 0x400,
                program: RAM,
            },
            functions: Default::default(),
            globals: Default::default(),
            exports: Vec::new(),
            top_level_fingerprint: 0,
            patch_next: RAM + 0x200,
            firmware_fingerprint: 0,
            patchable: true,
            descriptors: Default::default(),
        }
    }

    /// A running board with `shadow()`'s image at epoch 2, idle, with RTT
    /// channels for stdout and stderr.
    fn running_board() -> MemoryProbe {
        let shadow = shadow();
        let mut probe = MemoryProbe::new(RAM, 0x1000);
        probe.poke_word(shadow.runtime.program, BUILD);
        probe.poke_word(shadow.runtime.patch_epoch, 2);
        probe.poke_word(shadow.runtime.state, STATE_IDLE);
        control_block(&mut probe, shadow.runtime.rtt, 2, RAM + 0x600, RAM + 0x800);
        probe.halted = false;
        probe
    }

    fn print(device: &mut Device, channel: u32, text: &[u8]) {
        let rtt = device.shadow.runtime.rtt;
        firmware_print(device.probe(), rtt, channel, text);
    }

    #[test]
    fn output_comes_out_of_poll_as_data() {
        let mut board = running_board();
        board.halt().unwrap();
        firmware_print(&mut board, shadow().runtime.rtt, 0, b"stale");
        let mut device = Device::attach(Box::new(FakeBoard(board)), shadow()).unwrap();
        print(&mut device, 0, b"hi\n");
        print(&mut device, 1, b"oops\n");
        let poll = device.poll().unwrap();
        assert_eq!(
            poll.output,
            [
                Output {
                    stream: Stream::Stdout,
                    bytes: b"hi\n".to_vec()
                },
                Output {
                    stream: Stream::Stderr,
                    bytes: b"oops\n".to_vec()
                }
            ]
        );
        assert_eq!(
            poll.status,
            Status {
                state: STATE_IDLE,
                errors: 0
            }
        );
        assert!(!device.probe().is_halted());
        assert!(device.poll().unwrap().output.is_empty());
    }

    #[test]
    fn output_read_while_waiting_for_a_safe_point_waits_for_the_next_poll() {
        let mut board = running_board();
        board.halt().unwrap();
        let mut device = Device::attach(Box::new(FakeBoard(board)), shadow()).unwrap();
        print(&mut device, 0, b"tick\n");
        device.halt_at_safe_point(true).unwrap();
        device.probe().resume().unwrap();
        let output = device.poll().unwrap().output;
        assert_eq!(output.len(), 1);
        assert_eq!(output[0].bytes, b"tick\n");
    }

    #[test]
    fn a_board_at_another_epoch_is_refused() {
        let mut board = running_board();
        board.poke_word(shadow().runtime.patch_epoch, 3);
        board.halt().unwrap();
        let error = Device::attach(Box::new(FakeBoard(board)), shadow())
            .err()
            .expect("refused");
        assert!(error.to_string().contains("patch epoch 3"), "{error}");
    }
}
