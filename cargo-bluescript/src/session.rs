//! A running device: the board, its probe, the RTT channels that carry the
//! program's output, and the shadow machine that describes it.

use crate::board::{Board, RunningBoard, StartOptions};
use crate::patch::{self, LinkedPatch, PatchPlan, Timings};
use crate::rtt::Rtt;
use crate::shadow::Shadow;
use anyhow::{bail, Context, Result};
use bluescript_compiler::ir;
use std::io::Write;
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

pub struct Session {
    board: Box<dyn RunningBoard>,
    rtt: Option<Rtt>,
    pub shadow: Shadow,
}

impl Session {
    /// Starts `shadow`'s image on the board and lets it run.
    pub fn start(board: Board, shadow: Shadow, options: &StartOptions) -> Result<Session> {
        board.ensure_tools_installed()?;
        let mut running = board.start(&shadow.image, options)?;
        let probe = running.probe();
        check_build(probe, &shadow)?;
        probe.write_word(shadow.runtime.host_attached, HOST_ATTACHED)?;
        probe.resume()?;
        Ok(Session {
            board: running,
            rtt: None,
            shadow,
        })
    }

    /// Takes over a board that already runs `shadow`'s image (and is halted
    /// by the connection): it goes on with its state.
    pub fn attach(mut board: Box<dyn RunningBoard>, shadow: Shadow) -> Result<Session> {
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
                Session::make_blocking(rtt, probe)?;
                rtt.read_up(probe)?;
            }
            Ok(rtt)
        });
        // Whatever the verdict, the board goes on running.
        probe.resume()?;
        Ok(Session {
            board,
            rtt: rtt?,
            shadow,
        })
    }

    pub fn probe(&mut self) -> &mut dyn crate::probe::Probe {
        self.board.probe()
    }

    /// Halts the device briefly to copy its output to `stdout`/`stderr`
    /// and read its state.
    pub fn poll(&mut self, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Result<Status> {
        let result = self.poll_halted(stdout, stderr);
        result.map_err(|error| match self.board.failure_details() {
            Some(details) => error.context(details),
            None => error,
        })
    }

    fn poll_halted(&mut self, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Result<Status> {
        self.board.probe().halt()?;
        let status = self.drain(stdout, stderr)?;
        self.board.probe().resume()?;
        stdout.flush()?;
        stderr.flush()?;
        Ok(status)
    }

    /// Copies the output of the halted device and reads its state.
    fn drain(&mut self, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Result<Status> {
        let shadow = &self.shadow;
        let probe = self.board.probe();
        if self.rtt.is_none() {
            if let Some(mut rtt) = Rtt::attach(probe, shadow.runtime.rtt)? {
                Session::make_blocking(&mut rtt, probe)?;
                self.rtt = Some(rtt);
            }
        }
        if let Some(rtt) = &mut self.rtt {
            for (channel, bytes) in rtt.read_up(probe)? {
                match channel {
                    STDOUT_CHANNEL => stdout.write_all(&bytes)?,
                    STDERR_CHANNEL => stderr.write_all(&bytes)?,
                    _ => {}
                }
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
    /// script code runs. Meanwhile its output is copied out: a callback
    /// waiting for room in a full output buffer would otherwise never end.
    fn halt_at_safe_point(&mut self, between_callbacks: bool) -> Result<()> {
        self.board.probe().halt()?;
        if !between_callbacks {
            return Ok(());
        }
        let deadline = Instant::now() + SAFE_POINT_TIMEOUT;
        let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
        loop {
            let status = self.drain(&mut stdout, &mut stderr)?;
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
