//! A link that fails on purpose — cut at a chosen byte, bytes corrupted,
//! frames replayed or duplicated — between the host's [`SerialAgent`] and
//! the device's [`Agent`] running in-process over simulated memory. The
//! fault tests of the serial transport: a patch cut at any byte leaves the
//! device running all the old code or all the new, and the host finds out
//! which when it reconnects.

use super::serial::{SerialAgent, SerialLink, Timing};
use bluescript_serial_agent::memory::MemoryTarget;
use bluescript_serial_agent::{Agent, Key};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::time::Duration;

/// The faults a link injects. Bytes are counted over both directions, in
/// the order they cross the link.
#[derive(Default)]
pub(crate) struct Faults {
    /// The link is cut once this many bytes crossed it: later ones are lost
    /// and every use fails until it is reconnected.
    pub cut_after: Option<usize>,
    /// The byte at each position is XORed with the mask.
    pub corrupt: Vec<(usize, u8)>,
    /// Each request is delivered again after the next one: a replay.
    pub replay: bool,
    /// Each request is delivered twice in a row.
    pub duplicate: bool,
}

/// The device end: its agent and its memory.
pub(crate) struct Device {
    pub agent: Agent,
    pub target: MemoryTarget,
}

struct LinkState {
    device: Device,
    faults: Faults,
    /// Bytes that crossed the link.
    crossed: usize,
    cut: bool,
    /// Response bytes on their way to the host.
    to_host: VecDeque<u8>,
    /// The request sent last, for a replay.
    previous: Option<Vec<u8>>,
}

impl LinkState {
    /// Counts one byte crossing the link; `None` if it is lost to a cut,
    /// else the byte as it arrives.
    fn cross(&mut self, byte: u8) -> Option<u8> {
        if self.cut || self.faults.cut_after == Some(self.crossed) {
            self.cut = true;
            return None;
        }
        let position = self.crossed;
        self.crossed += 1;
        let mask = self
            .faults
            .corrupt
            .iter()
            .filter(|(at, _)| *at == position)
            .fold(0, |mask, (_, flip)| mask ^ flip);
        Some(byte ^ mask)
    }
}

/// A handle on the link: the host's `SerialAgent` owns one, the test
/// another.
#[derive(Clone)]
pub(crate) struct FaultyLink(Rc<RefCell<LinkState>>);

fn cut_error() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the link is cut")
}

impl FaultyLink {
    pub fn new(device: Device) -> FaultyLink {
        FaultyLink(Rc::new(RefCell::new(LinkState {
            device,
            faults: Faults::default(),
            crossed: 0,
            cut: false,
            to_host: VecDeque::new(),
            previous: None,
        })))
    }

    /// Bytes that crossed the link so far.
    pub fn crossed(&self) -> usize {
        self.0.borrow().crossed
    }

    pub fn set_faults(&self, faults: Faults) {
        self.0.borrow_mut().faults = faults;
    }

    /// The device, to look at (or move its clock).
    pub fn device(&self) -> std::cell::RefMut<'_, Device> {
        std::cell::RefMut::map(self.0.borrow_mut(), |state| &mut state.device)
    }

    /// Core access through a `SerialAgent` over this link.
    pub fn connect(&self, key: Option<Key>) -> anyhow::Result<SerialAgent> {
        let timing = Timing {
            // Nothing is really waited for: the simulated link answers at
            // once, or never.
            response: Duration::from_millis(50),
            attempts: 3,
            hold: Duration::from_secs(3),
        };
        SerialAgent::connect(Box::new(self.clone()), key, timing)
    }
}

impl SerialLink for FaultyLink {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let state = &mut *self.0.borrow_mut();
        if state.cut {
            return Err(cut_error());
        }
        let mut deliveries = vec![bytes.to_vec()];
        if state.faults.duplicate {
            deliveries.push(bytes.to_vec());
        }
        if state.faults.replay {
            deliveries.extend(state.previous.replace(bytes.to_vec()));
        }
        for delivery in deliveries {
            for byte in delivery {
                let byte = state.cross(byte).ok_or_else(cut_error)?;
                let Device { agent, target } = &mut state.device;
                if let Some(response) = agent.receive(byte, target) {
                    state.to_host.extend(response);
                }
            }
        }
        Ok(())
    }

    fn receive(&mut self, buf: &mut [u8], _timeout: Duration) -> io::Result<usize> {
        let state = &mut *self.0.borrow_mut();
        let mut received = 0;
        while received < buf.len() {
            let Some(byte) = state.to_host.pop_front() else {
                break;
            };
            match state.cross(byte) {
                Some(byte) => {
                    buf[received] = byte;
                    received += 1;
                }
                None => break,
            }
        }
        if received == 0 && state.cut {
            return Err(cut_error());
        }
        Ok(received)
    }

    fn reconnect(&mut self) -> io::Result<()> {
        let state = &mut *self.0.borrow_mut();
        state.cut = false;
        state.faults.cut_after = None;
        state.to_host.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::CoreAccess;
    use crate::device::resolve_pending;
    use crate::patch::tests::{program, shadow_of, BASE};
    use crate::patch::{apply, LinkedPatch, Placed};
    use crate::shadow::Shadow;
    use bluescript_compiler::ir;

    const RAM: u32 = 0x2000_0000;
    /// Where the image's code of the functions is, in the simulation.
    const IMAGE_CODE: u32 = RAM + 0x4000;
    const KEY: Key = [0x5a; 16];
    /// Bytes of each function of a patch.
    const FUNCTION_SIZE: u32 = 256;
    const FUNCTIONS: [&str; 3] = ["a", "b", "c"];

    /// A device running the image of `BASE` (`a`, `b`) at epoch 0, the host
    /// connected to it, and a program that changes `a` and `b` and adds `c`.
    struct Scenario {
        link: FaultyLink,
        core: SerialAgent,
        shadow: Shadow,
        program: ir::Program,
        dir: tempfile::TempDir,
    }

    impl Scenario {
        fn start() -> Scenario {
            let dir = tempfile::tempdir().unwrap();
            let mut shadow = shadow_of(BASE);
            shadow.image = dir.path().join("image.elf");
            let mut target = MemoryTarget::new(RAM, 0x1_2000);
            target.epoch_address = Some(shadow.runtime.patch_epoch);
            for (i, record) in shadow.functions.values_mut().enumerate() {
                // Each function's code starts with the epoch it came with.
                record.address = IMAGE_CODE + 0x100 * i as u32 + 1;
                target.ram[(record.address - 1 - RAM) as usize] = 0;
                target.set_word(shadow.runtime.slots + 4 * record.slot, record.address);
            }
            shadow.save(dir.path()).unwrap();
            let link = FaultyLink::new(Device {
                agent: Agent::new(Some(KEY)),
                target,
            });
            let core = link.connect(Some(KEY)).unwrap();
            let program = program(
                &BASE
                    .replace("n += x", "n -= x; c()")
                    .replace("setInterval", "function c() { n++ }\nsetInterval"),
            );
            Scenario {
                link,
                core,
                shadow,
                program,
                dir,
            }
        }

        /// Applies the next patch as the session does: hold, write, switch,
        /// release, then save the model.
        fn apply_next(&mut self) -> anyhow::Result<()> {
            let patch = next_patch(&self.shadow);
            let dir = self.dir.path().to_path_buf();
            let core = &mut self.core;
            core.halt()?;
            let applied = apply(
                core,
                &mut self.shadow,
                &self.program,
                &patch,
                &mut |shadow| shadow.save(&dir),
            );
            let ran = core.run();
            applied?;
            ran?;
            self.shadow.save(&dir)
        }

        /// After a failure: the link comes back, the host reconnects and
        /// loads its saved model (as a new watch would), and resolves it.
        fn reconnect(&mut self) {
            self.link.clone().reconnect().unwrap();
            self.core.reconnect().unwrap();
            self.shadow = Shadow::load(self.dir.path()).unwrap();
            resolve_pending(&mut self.core, &mut self.shadow).unwrap();
            assert!(self.shadow.pending.is_none());
        }

        /// The epoch of the code the program would call through each slot
        /// (`None`: an unused slot), and the device's patch epoch.
        fn versions(&self) -> (Vec<Option<u8>>, u32) {
            let device = self.link.device();
            let target = &device.target;
            let versions = (0..3)
                .map(|slot| match target.word(self.shadow.slot_address(slot)) {
                    0 => None,
                    address => Some(target.ram[(address - 1 - RAM) as usize]),
                })
                .collect();
            (versions, target.word(self.shadow.runtime.patch_epoch))
        }

        /// The device runs one version whole, at the epoch that says so.
        fn check_one_version(&self) -> u32 {
            let (versions, epoch) = self.versions();
            let expected = if epoch == 0 {
                vec![Some(0), Some(0), None]
            } else {
                vec![Some(epoch as u8); 3]
            };
            assert_eq!(versions, expected, "the slots at epoch {epoch}");
            epoch
        }

        /// The model is the device's truth.
        fn check_model(&self) {
            let epoch = self.check_one_version();
            assert_eq!(self.shadow.epoch, epoch);
            let device = self.link.device();
            for (name, record) in &self.shadow.functions {
                let slot = device.target.word(self.shadow.slot_address(record.slot));
                assert_eq!(slot, record.address, "`{name}`'s slot");
            }
        }
    }

    /// The next patch for the model: `a`, `b` and `c`, each function's
    /// code starting with the epoch it brings.
    fn next_patch(shadow: &Shadow) -> LinkedPatch {
        let base = shadow.next_patch_address();
        let epoch = shadow.epoch + 1;
        let mut bytes = Vec::new();
        let mut functions = Vec::new();
        for (i, name) in FUNCTIONS.into_iter().enumerate() {
            let start = bytes.len() as u32;
            bytes.push(epoch as u8);
            bytes.extend((1..FUNCTION_SIZE).map(|j| (j as u8).wrapping_mul(i as u8 + epoch as u8)));
            let slot = match shadow.functions.get(name) {
                Some(record) => record.slot,
                None => 2,
            };
            functions.push(Placed {
                name: name.into(),
                slot,
                address: base + start + 1,
                size: FUNCTION_SIZE,
                dependencies: Default::default(),
                profile: None,
                specialization: None,
            });
        }
        LinkedPatch {
            base,
            bytes,
            functions,
            entry: None,
            data: None,
        }
    }

    /// Bytes a whole patch takes over the link, and the writes and commits
    /// the device executes for it.
    fn fault_free_patch() -> (usize, usize, usize) {
        let mut scenario = Scenario::start();
        let start = scenario.link.crossed();
        scenario.apply_next().unwrap();
        scenario.check_model();
        let bytes = scenario.link.crossed() - start;
        let device = scenario.link.device();
        (bytes, device.target.writes, device.target.commits)
    }

    #[test]
    fn a_link_cut_at_any_byte_of_a_patch_leaves_old_or_new_and_the_host_resynchronizes() {
        let (bytes, _, _) = fault_free_patch();
        assert!(
            bytes >= 1000,
            "a patch of {bytes} bytes has too few cut points"
        );
        let mut outcomes = [0; 2];
        for cut in 0..bytes {
            let mut scenario = Scenario::start();
            let start = scenario.link.crossed();
            scenario.link.set_faults(Faults {
                cut_after: Some(start + cut),
                ..Faults::default()
            });
            let applied = scenario.apply_next();
            assert!(applied.is_err(), "cut at byte {cut} went unnoticed");
            // The device runs one version whole, and not held for long.
            let epoch = scenario.check_one_version();
            outcomes[epoch as usize] += 1;
            {
                let mut device = scenario.link.device();
                device.target.now_ms += 3000;
                let Device { agent, target } = &mut *device;
                agent.poll(target);
                assert!(!target.held, "cut at byte {cut}: the program stays held");
            }
            scenario.reconnect();
            scenario.check_model();
            scenario.apply_next().unwrap();
            scenario.check_model();
            assert_eq!(scenario.shadow.epoch, epoch + 1);
        }
        // Cuts before the commit leave the old version, after it the new.
        assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
    }

    #[test]
    fn corrupted_bytes_are_never_executed_and_the_patch_goes_through() {
        let (bytes, writes, commits) = fault_free_patch();
        let mut random = fastrand::Rng::with_seed(9);
        for _ in 0..200 {
            let mut scenario = Scenario::start();
            let start = scenario.link.crossed();
            // Fewer than the attempts of a request: one gets through.
            let corrupt = (0..random.usize(1..3))
                .map(|_| (start + random.usize(0..bytes), random.u8(1..)))
                .collect();
            scenario.link.set_faults(Faults {
                corrupt,
                ..Faults::default()
            });
            scenario.apply_next().unwrap();
            scenario.check_model();
            let patch = next_patch(&scenario.shadow);
            let device = scenario.link.device();
            // Exactly the patch's writes ran, and its bytes are intact.
            assert_eq!(
                (device.target.writes, device.target.commits),
                (writes, commits)
            );
            let base = (scenario.shadow.patch_next - patch.bytes.len() as u32 - RAM) as usize;
            assert_eq!(device.target.ram[base] as u32, scenario.shadow.epoch);
        }
    }

    /// A board reached through its serial agent, as `board/` hands it out.
    struct SerialBoard(Rc<RefCell<SerialAgent>>);

    impl crate::board::RunningBoard for SerialBoard {
        fn core(&mut self) -> &mut dyn CoreAccess {
            &mut self.0
        }

        fn output(&mut self, _: &Shadow) -> Box<dyn crate::connection::output::ProgramOutput> {
            Box::new(crate::connection::serial::SerialOutput(self.0.clone()))
        }

        fn failure_details(&mut self) -> Option<String> {
            None
        }
    }

    /// The session's path: a patch cut mid-way fails, and the next poll
    /// (the agent reconnects by itself) brings the model to the device's
    /// truth, saved, before the next patch.
    #[test]
    fn a_device_resynchronizes_at_the_next_poll_after_a_cut_patch() {
        use crate::device::Device;
        use crate::patch::{PatchPlan, Timings};
        let (bytes, _, _) = fault_free_patch();
        let mut outcomes = [0; 2];
        for cut in (0..bytes).step_by(41) {
            let scenario = Scenario::start();
            let mut shadow = scenario.shadow.clone();
            shadow.runtime.program = RAM + 0x3000;
            scenario
                .link
                .device()
                .target
                .set_word(shadow.runtime.program, shadow.build_id);
            shadow.save(scenario.dir.path()).unwrap();
            let core = Rc::new(RefCell::new(scenario.core));
            let mut device = Device::attach(Box::new(SerialBoard(core)), shadow).unwrap();
            scenario.link.device().target.stdout.extend(b"tick\n");
            assert_eq!(device.poll().unwrap().output[0].bytes, b"tick\n");

            let plan = PatchPlan {
                functions: FUNCTIONS.map(String::from).to_vec(),
                new_slots: vec![("c".into(), 2)],
                needs_safe_point: false,
                compact: false,
                specializations: Default::default(),
            };
            let patch = next_patch(&device.shadow);
            let start = scenario.link.crossed();
            scenario.link.set_faults(Faults {
                cut_after: Some(start + cut),
                ..Faults::default()
            });
            let mut timings = Timings::default();
            let applied = device.apply_patch(&scenario.program, &plan, &patch, &mut timings);
            assert!(applied.is_err(), "cut at byte {cut} went unnoticed");
            device.poll().unwrap();
            assert!(device.shadow.pending.is_none());
            let saved = Shadow::load(scenario.dir.path()).unwrap();
            assert!(saved.pending.is_none());
            let epoch = scenario
                .link
                .device()
                .target
                .word(saved.runtime.patch_epoch);
            assert_eq!((device.shadow.epoch, saved.epoch), (epoch, epoch));
            outcomes[epoch as usize] += 1;
        }
        assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
    }

    #[test]
    fn replayed_and_duplicated_frames_are_never_executed_twice() {
        let (_, writes, commits) = fault_free_patch();
        for faults in [
            Faults {
                replay: true,
                ..Faults::default()
            },
            Faults {
                duplicate: true,
                ..Faults::default()
            },
        ] {
            let mut scenario = Scenario::start();
            scenario.link.set_faults(faults);
            scenario.apply_next().unwrap();
            scenario.check_model();
            let device = scenario.link.device();
            assert_eq!(
                (device.target.writes, device.target.commits),
                (writes, commits)
            );
        }
    }
}
