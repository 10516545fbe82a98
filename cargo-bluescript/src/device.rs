//! A running device: the board with its core access, the program's output
//! channel, and the shadow machine that describes what it runs. Nothing here
//! prints: the program's output is handed over as data by [`Device::poll`].

use crate::board::{Board, RunningBoard, StartOptions};
use crate::connection::output::{Output, ProgramOutput};
use crate::connection::serial::LinkLost;
use crate::connection::{with_halted, with_memory, CoreAccess};
use crate::patch::{self, LinkedPatch, PatchPlan, Timings};
use crate::profiles::{self, FunctionProfile};
use crate::shadow::{Resolution, RuntimeSymbols, Shadow};
use anyhow::{bail, Context, Result};
use bluescript_abi::{program, State};
use bluescript_compiler::ir;
use std::time::{Duration, Instant};

mod requests;

pub use bluescript_abi::host_request::Outcome;

/// How long a patch that needs a safe point waits for one.
const SAFE_POINT_TIMEOUT: Duration = Duration::from_secs(3);

// Values of `__bs_state`, as the words read from the device.
pub const STATE_BOOTING: u32 = State::Booting as u32;
pub const STATE_IDLE: u32 = State::Idle as u32;
pub const STATE_FINISHED: u32 = State::Finished as u32;
pub const STATE_HALTED: u32 = State::Halted as u32;
pub const STATE_CELL: u32 = State::Cell as u32;

/// What the program on a device is doing, as its runtime reports it. (The
/// core's own run state is a [`crate::connection::CoreState`].)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramStatus {
    /// `__bs_state`.
    pub state: u32,
    /// Run-time errors reported since boot.
    pub errors: u32,
}

impl ProgramStatus {
    /// Reads it from the device; the core must be accessible (halted, or
    /// reachable while running).
    pub fn read(core: &mut dyn CoreAccess, runtime: &RuntimeSymbols) -> Result<ProgramStatus> {
        Ok(ProgramStatus {
            state: core.read_word(runtime.state)?,
            errors: core.read_word(runtime.error_count)?,
        })
    }

    /// The top level has finished and no timer is pending.
    pub fn finished(self) -> bool {
        self.state == STATE_FINISHED
    }

    /// A panic or fault stopped the program for good (it said why on
    /// stderr).
    pub fn halted(self) -> bool {
        self.state == STATE_HALTED
    }

    /// No script code runs: between two callbacks, or finished.
    pub fn between_callbacks(self) -> bool {
        self.state == STATE_IDLE || self.finished()
    }

    pub fn describe(self) -> String {
        match State::from_word(self.state) {
            Some(State::Booting) => "booting".into(),
            Some(State::TopLevel) => "running its top-level code".into(),
            Some(State::Callback) => "running a callback".into(),
            Some(State::Idle) => "idle, waiting for its timers".into(),
            Some(State::Finished) => "finished (top level done, no timer pending)".into(),
            Some(State::Halted) => "halted after a fatal error".into(),
            Some(State::Cell) => "running a cell".into(),
            None => format!("in an unknown state ({})", self.state),
        }
    }
}

/// What one look at the device found: its output since the last look, and
/// the program's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Poll {
    pub output: Vec<Output>,
    pub status: ProgramStatus,
}

pub struct Device {
    board: Box<dyn RunningBoard>,
    output: Box<dyn ProgramOutput>,
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
        running.run_attached(&shadow)?;
        Ok(Device {
            output: running.output(&shadow),
            board: running,
            pending: Vec::new(),
            shadow,
        })
    }

    /// Takes over a board that already runs `shadow`'s image (and is halted
    /// by the connection): it goes on with its state.
    pub fn attach(mut board: Box<dyn RunningBoard>, shadow: Shadow) -> Result<Device> {
        let mut output = board.output(&shadow);
        let core = board.core();
        let mut shadow = shadow;
        let checked = check_build(core, &shadow).and_then(|()| {
            // A patch the host could not confirm last time is resolved
            // now; otherwise the epochs must agree.
            if resolve_pending(core, &mut shadow)? != Resolution::InSync {
                save(&shadow)?;
            }
            // Output from before the host came is stale (and, dropped as the
            // buffers filled, not even the latest): start from what comes next.
            output.read(core)?;
            Ok(())
        });
        // Whatever the verdict, the board goes on running.
        core.run()?;
        checked?;
        Ok(Device {
            board,
            output,
            pending: Vec::new(),
            shadow,
        })
    }

    /// The device's core access, for front ends that inspect it.
    pub fn core(&mut self) -> &mut dyn CoreAccess {
        self.board.core()
    }

    /// Halts the device briefly to read its output and state.
    pub fn poll(&mut self) -> Result<Poll> {
        let result = self.resync().and_then(|_| self.poll_halted());
        result.map_err(|error| match self.board.failure_details() {
            Some(details) => error.context(details),
            None => error,
        })
    }

    /// Reads the output and the status; the core is halted meanwhile unless
    /// its memory can be read while it runs.
    fn poll_halted(&mut self) -> Result<Poll> {
        let core = self.board.core();
        let halt = !core.capabilities().memory_while_running;
        if halt {
            core.halt()?;
        }
        let status = self.drain()?;
        if halt {
            self.board.core().run()?;
        }
        Ok(Poll {
            output: std::mem::take(&mut self.pending),
            status,
        })
    }

    /// Reads the device's output into `pending`, and the program's status.
    fn drain(&mut self) -> Result<ProgramStatus> {
        let core = self.board.core();
        // The status first: a core that runs meanwhile may finish after its
        // output was read, and the last lines would never be.
        let status = ProgramStatus::read(core, &self.shadow.runtime)?;
        self.pending.extend(self.output.read(core)?);
        Ok(status)
    }

    /// Writes a linked patch and switches its slots (see [`patch::apply`]),
    /// saving the shadow machine as it goes.
    pub fn apply_patch(
        &mut self,
        program: &ir::Program,
        plan: &PatchPlan,
        linked: &LinkedPatch,
        timings: &mut Timings,
    ) -> Result<()> {
        let started = Instant::now();
        self.halt_at_safe_point(plan.needs_safe_point)?;
        let result = patch::apply(
            self.board.core(),
            &mut self.shadow,
            program,
            linked,
            &mut save,
        );
        self.board.core().run()?;
        result?;
        timings.transfer = started.elapsed();
        Ok(())
    }

    /// What the type profiles of the running code say. Read while the core
    /// runs where the connection can, else with the core halted briefly;
    /// code without profiles is not disturbed at all.
    pub fn read_profiles(&mut self) -> Result<Vec<FunctionProfile>> {
        if !self.shadow.functions.values().any(|f| f.profile.is_some()) {
            return Ok(Vec::new());
        }
        let shadow = &self.shadow;
        with_memory(self.board.core(), |core| profiles::read(core, shadow))
    }

    /// Pauses the recording of type profiles, or resumes it.
    pub fn set_profiling(&mut self, on: bool) -> Result<()> {
        let address = self.shadow.runtime.profiling_paused;
        if address == 0 {
            bail!("this image cannot pause its type profiles: rebuild it");
        }
        with_memory(self.board.core(), |core| {
            core.write_word(address, u32::from(!on))
        })
    }

    /// Halts the device; with `between_callbacks`, at a moment when no
    /// script code runs. Meanwhile its output is read (and kept for the next
    /// poll): a callback waiting for room in a full output buffer would
    /// otherwise never end.
    fn halt_at_safe_point(&mut self, between_callbacks: bool) -> Result<()> {
        self.board.core().halt()?;
        if !between_callbacks {
            return Ok(());
        }
        let deadline = Instant::now() + SAFE_POINT_TIMEOUT;
        loop {
            if self.drain()?.between_callbacks() {
                return Ok(());
            }
            self.board.core().run()?;
            if Instant::now() > deadline {
                bail!(
                    "the device never paused between callbacks, so a changed signature could not be applied safely"
                );
            }
            std::thread::sleep(Duration::from_millis(1));
            self.board.core().halt()?;
        }
    }

    /// Whether `error`, met on this device, lost only the link to a board
    /// that runs on without it: [`Device::reconnect`] may reach it again.
    pub fn lost_only_its_link(&mut self, error: &anyhow::Error) -> bool {
        LinkLost::caused(error)
            && self.board.outlives_its_link()
            && self.board.failure_details().is_none()
    }

    /// Reopens the link after it was lost, and checks that the board ran on
    /// as the shadow machine describes it: the same build at the same patch
    /// epoch, a patch the cut left pending resolved either way. What the
    /// program wrote meanwhile comes with the next poll.
    pub fn reconnect(&mut self) -> Result<()> {
        self.board.reconnect()?;
        let core = self.board.core();
        check_build(core, &self.shadow)?;
        let shadow = &mut self.shadow;
        if with_halted(core, |core| resolve_pending(core, shadow))? != Resolution::InSync {
            save(&self.shadow)?;
        }
        Ok(())
    }

    /// Persists the shadow machine next to the image it describes (applying
    /// a patch does it by itself).
    pub fn save_shadow(&self) -> Result<()> {
        save(&self.shadow)
    }

    /// After a link failure during a patch, finds out from the device
    /// whether the patch applied and brings the shadow machine (and its
    /// saved copy) to that truth; nothing to do otherwise. The patch
    /// pipeline calls it before planning, and [`Device::poll`] as soon as
    /// the device answers again.
    pub fn resync(&mut self) -> Result<Resolution> {
        if self.shadow.pending.is_none() {
            return Ok(Resolution::InSync);
        }
        let shadow = &mut self.shadow;
        let resolution = with_halted(self.board.core(), |core| resolve_pending(core, shadow))?;
        self.save_shadow()?;
        Ok(resolution)
    }
}

/// Saves `shadow` next to the image it describes.
fn save(shadow: &Shadow) -> Result<()> {
    let dir = shadow
        .image
        .parent()
        .context("the image has no directory")?;
    shadow.save(dir).context("cannot save the shadow machine")
}

/// Reads the device's epoch (and the pending patch's slots) to resolve it
/// ([`Shadow::resolve_pending`]).
pub fn resolve_pending(core: &mut dyn CoreAccess, shadow: &mut Shadow) -> Result<Resolution> {
    let epoch = core.read_word(shadow.runtime.patch_epoch)?;
    shadow.resolve_pending(epoch, |address| core.read_word(address))
}

/// Invariant: the device runs exactly the image the shadow describes.
pub(crate) fn check_build(core: &mut dyn CoreAccess, shadow: &Shadow) -> Result<()> {
    let build_id = core.read_word(shadow.runtime.program + program::BUILD_ID)?;
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
    use crate::connection::fake::FakeCore;
    use crate::connection::output::Stream;
    use crate::connection::CoreAccess;
    use crate::rtt::fake::{control_block, firmware_print};
    use std::cell::RefCell;
    use std::rc::Rc;

    const RAM: u32 = 0x2000_0000;
    const BUILD: u32 = 0x1234_5679;

    /// A board whose core the test keeps a handle on.
    struct FakeBoard(Rc<RefCell<FakeCore>>);

    impl RunningBoard for FakeBoard {
        fn core(&mut self) -> &mut dyn CoreAccess {
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
                host_request: RAM + 0x20,
                host_roots: RAM + 0x34,
                rtt: RAM + 0x400,
                program: RAM,
                profiling_paused: 0,
            },
            functions: Default::default(),
            globals: Default::default(),
            exports: Vec::new(),
            top_level_fingerprint: 0,
            patch_next: RAM + 0x200,
            firmware_fingerprint: 0,
            patchable: true,
            descriptors: Default::default(),
            pending: None,
            data_floor: None,
            host_roots: 0,
            main_source: None,
            placed_descriptors: Default::default(),
            type_descriptors: Default::default(),
        }
    }

    /// A board running `shadow()`'s image at epoch 2, idle, with RTT
    /// channels for stdout and stderr; halted, as a new connection leaves it.
    fn board() -> Rc<RefCell<FakeCore>> {
        let shadow = shadow();
        let mut core = FakeCore::new(RAM, 0x1000);
        core.poke_word(shadow.runtime.program, BUILD);
        core.poke_word(shadow.runtime.patch_epoch, 2);
        core.poke_word(shadow.runtime.state, STATE_IDLE);
        control_block(&mut core, shadow.runtime.rtt, 2, RAM + 0x600, RAM + 0x800);
        Rc::new(RefCell::new(core))
    }

    fn attach(core: &Rc<RefCell<FakeCore>>) -> Result<Device> {
        Device::attach(Box::new(FakeBoard(core.clone())), shadow())
    }

    fn print(core: &mut Rc<RefCell<FakeCore>>, channel: u32, text: &[u8]) {
        firmware_print(core, shadow().runtime.rtt, channel, text);
    }

    #[test]
    fn output_comes_out_of_poll_as_data() {
        let mut core = board();
        print(&mut core, 0, b"stale");
        let mut device = attach(&core).unwrap();
        print(&mut core, 0, b"hi\n");
        print(&mut core, 1, b"oops\n");
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
            ProgramStatus {
                state: STATE_IDLE,
                errors: 0
            }
        );
        assert!(!core.borrow().halted);
        assert!(device.poll().unwrap().output.is_empty());
    }

    #[test]
    fn a_core_that_cannot_be_read_while_running_is_halted_to_poll() {
        let core = board();
        let mut device = attach(&core).unwrap();
        let halts = core.borrow().halts;
        device.poll().unwrap();
        assert_eq!(core.borrow().halts, halts + 1);
        assert!(!core.borrow().halted);
    }

    #[test]
    fn a_core_readable_while_running_is_polled_without_stopping_it() {
        let mut core = board();
        core.borrow_mut().memory_while_running = true;
        let mut device = attach(&core).unwrap();
        print(&mut core, 0, b"tick\n");
        let (halts, runs) = (core.borrow().halts, core.borrow().runs);
        let poll = device.poll().unwrap();
        assert_eq!(poll.output[0].bytes, b"tick\n");
        assert_eq!((core.borrow().halts, core.borrow().runs), (halts, runs));
        assert!(!core.borrow().halted);
    }

    #[test]
    fn output_read_while_waiting_for_a_safe_point_waits_for_the_next_poll() {
        let mut core = board();
        let mut device = attach(&core).unwrap();
        print(&mut core, 0, b"tick\n");
        device.halt_at_safe_point(true).unwrap();
        device.core().run().unwrap();
        let output = device.poll().unwrap().output;
        assert_eq!(output.len(), 1);
        assert_eq!(output[0].bytes, b"tick\n");
    }

    #[test]
    fn a_board_at_another_epoch_is_refused_and_left_running() {
        let core = board();
        core.borrow_mut().poke_word(shadow().runtime.patch_epoch, 3);
        let error = attach(&core).err().expect("refused");
        assert!(error.to_string().contains("patch epoch 3"), "{error}");
        assert!(!core.borrow().halted);
    }

    #[test]
    fn a_patch_left_pending_by_a_cut_link_is_resolved_on_attach() {
        let dir = tempfile::tempdir().unwrap();
        for (device_epoch, slot, epoch) in [(2, 0x1001, 2), (3, 0x2001, 3)] {
            let core = board();
            core.borrow_mut().poke_word(RAM + 0x100, slot);
            core.borrow_mut()
                .poke_word(shadow().runtime.patch_epoch, device_epoch);
            let mut model = shadow();
            model.image = dir.path().join("image.elf");
            model.pending = Some(crate::shadow::PendingPatch {
                epoch: 3,
                patch_next: RAM + 0x240,
                switches: vec![crate::shadow::SlotSwitch {
                    address: RAM + 0x100,
                    old: Some(0x1001),
                    new: 0x2001,
                }],
                ..Default::default()
            });
            let device = Device::attach(Box::new(FakeBoard(core.clone())), model).unwrap();
            assert_eq!(device.shadow.epoch, epoch);
            assert!(device.shadow.pending.is_none());
            // The resolution is saved.
            let saved = Shadow::load(dir.path()).unwrap();
            assert_eq!((saved.epoch, saved.pending.is_none()), (epoch, true));
        }
    }

    #[test]
    fn program_statuses_say_what_the_program_does() {
        let status = |state| ProgramStatus { state, errors: 0 };
        assert!(status(STATE_IDLE).between_callbacks());
        assert!(status(STATE_FINISHED).between_callbacks() && status(STATE_FINISHED).finished());
        assert!(!status(2).between_callbacks());
        assert!(status(STATE_HALTED).halted());
        assert_eq!(
            status(STATE_IDLE).describe(),
            "idle, waiting for its timers"
        );
        assert!(!status(STATE_CELL).between_callbacks());
        assert_eq!(status(STATE_CELL).describe(), "running a cell");
    }

    /// The device's side of the mailbox: finishes the posted request.
    fn device_finishes(core: &Rc<RefCell<FakeCore>>, outcome: Outcome) {
        use bluescript_abi::host_request::{FINISHED, OUTCOME, POSTED};
        let mailbox = shadow().runtime.host_request;
        let mut core = core.borrow_mut();
        let posted = core.peek_word(mailbox + 4 * POSTED as u32);
        core.poke_word(mailbox + 4 * OUTCOME as u32, outcome as u32);
        core.poke_word(mailbox + 4 * FINISHED as u32, posted);
    }

    #[test]
    fn a_posted_request_waits_for_the_device_and_then_reports_its_outcome() {
        use bluescript_abi::host_request::{ABANDON, FUNCTION, POSTED};
        let core = board();
        let mailbox = shadow().runtime.host_request;
        let mut device = attach(&core).unwrap();
        let halts = core.borrow().halts;
        let first = device.post_request(0x0000_1235).unwrap();
        assert_eq!(first, 1);
        assert_eq!(
            core.borrow().peek_word(mailbox + 4 * FUNCTION as u32),
            0x1235
        );
        assert_eq!(core.borrow().peek_word(mailbox + 4 * POSTED as u32), 1);
        // Halted briefly for each access, and left running.
        assert!(core.borrow().halts > halts && !core.borrow().halted);
        assert_eq!(device.request_outcome(first).unwrap(), None);
        let refused = device.post_request(0x2000).unwrap_err();
        assert!(
            refused.to_string().contains("not finished request 1"),
            "{refused}"
        );
        device.abandon_request(first).unwrap();
        assert_eq!(core.borrow().peek_word(mailbox + 4 * ABANDON as u32), 1);
        device_finishes(&core, Outcome::Abandoned);
        assert_eq!(
            device.request_outcome(first).unwrap(),
            Some(Outcome::Abandoned)
        );
        let second = device.post_request(0x2000).unwrap();
        assert_eq!(second, 2);
        device_finishes(&core, Outcome::Failed);
        assert_eq!(
            device.request_outcome(second).unwrap(),
            Some(Outcome::Failed)
        );
        let stale = device.request_outcome(first).unwrap_err();
        assert!(stale.to_string().contains("finished request 2"), "{stale}");
        assert!(!core.borrow().halted);
    }

    #[test]
    fn the_host_roots_pointer_is_written_without_stopping_a_core_readable_while_running() {
        let core = board();
        core.borrow_mut().memory_while_running = true;
        let mut device = attach(&core).unwrap();
        let halts = core.borrow().halts;
        device.set_host_roots(RAM + 0x280).unwrap();
        assert_eq!(
            core.borrow().peek_word(shadow().runtime.host_roots),
            RAM + 0x280
        );
        assert_eq!(device.post_request(0x2001).unwrap(), 1);
        assert_eq!(core.borrow().halts, halts);
    }

    #[test]
    fn a_board_whose_image_predates_the_mailbox_refuses_requests() {
        let core = board();
        let mut model = shadow();
        model.runtime.host_request = 0;
        model.runtime.host_roots = 0;
        let mut device = Device::attach(Box::new(FakeBoard(core.clone())), model).unwrap();
        let writes = core.borrow().writes;
        let refused = device.post_request(0x2001).unwrap_err();
        assert!(refused.to_string().contains("flash it again"), "{refused}");
        assert!(device.set_host_roots(RAM + 0x280).is_err());
        assert_eq!(core.borrow().writes, writes, "nothing was written");
    }
}
