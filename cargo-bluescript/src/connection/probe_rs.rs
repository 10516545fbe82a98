//! Core access and flashing through a debug probe, with probe-rs as a
//! library: listing the connected probes and choosing one, attaching to the
//! chip, the core's run state and memory, flashing an image, and what each
//! of probe-rs's errors means for the person at the desk ([`explain`]).
//!
//! What can be decided without a probe — which listed probe to use, what an
//! error means, how flashing's progress reads — is plain data and functions
//! over it, tested here; what needs a probe is thin calls of probe-rs.

use super::{Capabilities, CoreAccess, CoreDebug, CoreState, FlashEvent, FlashPhase};
use crate::board::{ImageFormat, ProbeTarget};
use crate::isa::GdbRegisters;
use anyhow::{anyhow, bail, Context, Result};
use probe_rs::flashing::{self, DownloadOptions, FileDownloadError, FlashError, ProgressEvent};
use probe_rs::probe::list::{Accessibility, Lister};
use probe_rs::probe::{DebugProbeError, DebugProbeInfo, ProbeCreationError};
use probe_rs::{Architecture, Core, CoreStatus, MemoryInterface, Permissions, RegisterId, Session};
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

/// How long the core may take to halt, or to come out of reset halted.
const HALT_TIMEOUT: Duration = Duration::from_millis(500);

/// The udev rules that give users access to debug probes on Linux.
pub const UDEV_RULES: &str = "69-probe-rs.rules";

/// The ESP32-C3/C6 targets, their USB-JTAG driver and the `idf` image
/// format are a plugin of probe-rs; registering it twice would list every
/// Espressif target twice.
pub fn register_plugins() {
    static PLUGINS: Once = Once::new();
    PLUGINS.call_once(probe_rs_espressif::register_plugin);
}

/// A probe as `--probe` names it: `VID:PID[:SERIAL]`, the IDs in hexadecimal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSelector {
    pub vendor_id: u16,
    pub product_id: u16,
    pub serial: Option<String>,
}

impl FromStr for ProbeSelector {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<ProbeSelector> {
        let mut parts = text.splitn(3, ':');
        let id = |part: Option<&str>| {
            part.filter(|p| !p.is_empty() && p.len() <= 4)
                .and_then(|p| u16::from_str_radix(p, 16).ok())
        };
        let (Some(vendor_id), Some(product_id)) = (id(parts.next()), id(parts.next())) else {
            bail!(
                "`{text}` names no probe: write VID:PID or VID:PID:SERIAL, the IDs in \
                 hexadecimal, as `cargo bluescript probes` lists them (e.g. 2e8a:000c)"
            );
        };
        Ok(ProbeSelector {
            vendor_id,
            product_id,
            serial: parts.next().filter(|s| !s.is_empty()).map(str::to_owned),
        })
    }
}

impl fmt::Display for ProbeSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:04x}", self.vendor_id, self.product_id)?;
        if let Some(serial) = &self.serial {
            write!(f, ":{serial}")?;
        }
        Ok(())
    }
}

/// A connected probe, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedProbe {
    /// What probe-rs calls it ("Debug Probe (CMSIS-DAP)", "STLink V2-1").
    pub name: String,
    pub vendor_id: u16,
    pub product_id: u16,
    pub serial: Option<String>,
    /// This user may open it (on Linux, a udev rule grants it).
    pub accessible: bool,
}

impl ListedProbe {
    /// The `--probe` value that chooses this one.
    pub fn selector(&self) -> ProbeSelector {
        ProbeSelector {
            vendor_id: self.vendor_id,
            product_id: self.product_id,
            serial: self.serial.clone(),
        }
    }

    fn matches(&self, wanted: &ProbeSelector) -> bool {
        self.vendor_id == wanted.vendor_id
            && self.product_id == wanted.product_id
            && wanted
                .serial
                .as_ref()
                .is_none_or(|serial| self.serial.as_ref() == Some(serial))
    }
}

impl fmt::Display for ListedProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<28} --probe {}", self.name, self.selector())?;
        if !self.accessible {
            write!(f, "  (no permission: see {UDEV_RULES})")?;
        }
        Ok(())
    }
}

/// The probes connected now, each with what opens it.
pub fn list() -> Vec<(ListedProbe, DebugProbeInfo)> {
    register_plugins();
    Lister::new()
        .list_all_with_access()
        .into_iter()
        .map(|item| {
            let listed = ListedProbe {
                name: item.info.identifier.clone(),
                vendor_id: item.info.vendor_id,
                product_id: item.info.product_id,
                serial: item.info.serial_number.clone(),
                accessible: item.accessibility == Accessibility::Accessible,
            };
            (listed, item.info)
        })
        .collect()
}

/// What the permission error says to do, on Linux.
fn udev_advice() -> String {
    format!(
        "on Linux, install probe-rs's udev rules: save {UDEV_RULES} (from probe.rs, \
         \"Probe Setup\") in /etc/udev/rules.d/, run `sudo udevadm control --reload && \
         sudo udevadm trigger`, and plug the probe in again"
    )
}

/// Chooses the probe to use among `listed`: the one `wanted` names, or the
/// only one connected. `target` says which probe the board needs.
pub fn select(
    listed: &[ListedProbe],
    wanted: Option<&ProbeSelector>,
    target: &ProbeTarget,
) -> Result<usize> {
    let numbered = |probes: &[ListedProbe]| {
        probes
            .iter()
            .map(|probe| format!("\n    {probe}"))
            .collect::<String>()
    };
    if listed.is_empty() {
        bail!(
            "no debug probe is connected: the board needs {}. Plug it in (and the board); \
             `cargo bluescript probes` lists the probes this computer sees",
            target.probe
        );
    }
    let chosen =
        match wanted {
            Some(wanted) => {
                let matching: Vec<usize> = (0..listed.len())
                    .filter(|&i| listed[i].matches(wanted))
                    .collect();
                match matching[..] {
                    [one] => one,
                    [] => bail!(
                        "no connected probe is {wanted}; connected:{}",
                        numbered(listed)
                    ),
                    _ => {
                        bail!(
                    "{} connected probes are {wanted}: add the serial number to choose one:{}",
                    matching.len(),
                    numbered(&matching.iter().map(|&i| listed[i].clone()).collect::<Vec<_>>())
                )
                    }
                }
            }
            None if listed.len() == 1 => 0,
            None => bail!(
                "{} debug probes are connected; choose one with --probe VID:PID[:SERIAL] (or \
             `probe = \"VID:PID:SERIAL\"` in [package.metadata.bluescript]):{}",
                listed.len(),
                numbered(listed)
            ),
        };
    if !listed[chosen].accessible {
        bail!(
            "no permission to use the probe {} ({}): {}",
            listed[chosen].name,
            listed[chosen].selector(),
            udev_advice()
        );
    }
    Ok(chosen)
}

/// What went wrong with a probe, as a person at the desk sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeProblem {
    /// The user may not open the USB device.
    Permission,
    /// Another program holds the probe.
    Busy,
    /// The probe could not be opened: held by another program, or not
    /// permitted (probe-rs cannot tell which).
    CannotOpen,
    /// The probe went away (unplugged), or the chip stopped answering
    /// (reset, asleep, unpowered).
    Lost,
    /// The probe sees no chip: unpowered, badly wired.
    NoTarget,
    /// probe-rs knows no chip of that name.
    UnknownChip,
    /// The image is not for the chip attached (wrong `--chip`, or wrong board).
    WrongChip,
    /// The chip is locked (read-out protection): unlocking erases it.
    Locked,
    /// Erasing, programming or verifying failed on the chip: often a chip
    /// other than the one named, or an unsteady connection.
    FlashFailed,
    /// Anything else: probe-rs's own message says it.
    Other,
}

/// Sorts `error` (and the errors that caused it) into a [`ProbeProblem`].
pub fn classify(error: &(dyn std::error::Error + 'static)) -> ProbeProblem {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(problem) = classify_one(error) {
            return problem;
        }
        cause = error.source();
    }
    ProbeProblem::Other
}

fn classify_one(error: &(dyn std::error::Error + 'static)) -> Option<ProbeProblem> {
    use ProbeProblem::*;
    if let Some(error) = error.downcast_ref::<probe_rs::Error>() {
        return match error {
            probe_rs::Error::MissingPermissions(_) => Some(Locked),
            probe_rs::Error::Timeout => Some(Lost),
            probe_rs::Error::ChipNotFound(
                probe_rs::config::RegistryError::ChipNotFound(_)
                | probe_rs::config::RegistryError::ChipNotUnique(..),
            ) => Some(UnknownChip),
            _ => None,
        };
    }
    if let Some(error) = error.downcast_ref::<DebugProbeError>() {
        return match error {
            DebugProbeError::TargetNotFound => Some(NoTarget),
            DebugProbeError::Timeout => Some(Lost),
            _ => None,
        };
    }
    if let Some(error) = error.downcast_ref::<ProbeCreationError>() {
        return match error {
            ProbeCreationError::NotFound => Some(Lost),
            ProbeCreationError::CouldNotOpen => Some(CannotOpen),
            _ => None,
        };
    }
    if let Some(error) = error.downcast_ref::<FlashError>() {
        return match error {
            // The image lies outside the chip's flash: it is for another.
            FlashError::NoSuitableNvm { .. } | FlashError::AddressNotInRegion { .. } => {
                Some(WrongChip)
            }
            FlashError::Init(_)
            | FlashError::EraseFailed { .. }
            | FlashError::ChipEraseFailed { .. }
            | FlashError::PageWrite { .. }
            | FlashError::RoutineCallFailed { .. }
            | FlashError::UnexpectedCoreStatus { .. }
            | FlashError::Verify => Some(FlashFailed),
            _ => None,
        };
    }
    if let Some(error) = error.downcast_ref::<FileDownloadError>() {
        return match error {
            FileDownloadError::IncompatibleImage { .. }
            | FileDownloadError::IncompatibleImageChip { .. } => Some(WrongChip),
            _ => None,
        };
    }
    if let Some(error) = error.downcast_ref::<std::io::Error>() {
        return classify_io(error);
    }
    None
}

fn classify_io(error: &std::io::Error) -> Option<ProbeProblem> {
    use std::io::ErrorKind;
    // The errno values of Linux and macOS agree on these.
    const EIO: i32 = 5;
    const EBUSY: i32 = 16;
    const ENODEV: i32 = 19;
    match (error.kind(), error.raw_os_error()) {
        (ErrorKind::PermissionDenied, _) => Some(ProbeProblem::Permission),
        (ErrorKind::ResourceBusy, _) | (_, Some(EBUSY)) => Some(ProbeProblem::Busy),
        (ErrorKind::NotFound | ErrorKind::BrokenPipe | ErrorKind::NotConnected, _)
        | (_, Some(EIO | ENODEV)) => Some(ProbeProblem::Lost),
        _ => None,
    }
}

/// The message that goes with `problem` on a board of `target` whose chip
/// is `chip`.
pub fn advice(problem: ProbeProblem, target: &ProbeTarget, chip: &str) -> String {
    match problem {
        ProbeProblem::Permission => format!("no permission to use the probe: {}", udev_advice()),
        ProbeProblem::Busy => "the probe is busy: another program holds it (probe-rs, OpenOCD, \
             a debugger, another cargo bluescript); stop it and try again"
            .to_owned(),
        ProbeProblem::CannotOpen => format!(
            "the probe could not be opened: another program may hold it (probe-rs, OpenOCD, a \
             debugger), or this user may not use it ({})",
            udev_advice()
        ),
        ProbeProblem::Lost => "lost the board: it was reset, unplugged or powered off \
             (or the probe was unplugged)"
            .to_owned(),
        ProbeProblem::NoTarget => format!(
            "the probe sees no chip: is the board powered, and is {} connected to its debug \
             port (SWDIO/SWCLK or JTAG, and GND)?",
            target.probe
        ),
        ProbeProblem::UnknownChip => format!(
            "probe-rs knows no chip named `{chip}`: `--chip` (or `chip` in \
             [package.metadata.bluescript]) takes probe-rs's names, such as `{}`",
            target.chip
        ),
        ProbeProblem::WrongChip => format!(
            "the image is not for the chip `{chip}`: is the board connected the one the project \
             is for? (`--chip NAME` names another chip of the same family)"
        ),
        ProbeProblem::Locked => format!(
            "the {chip} is locked (read-out protection): unlocking it erases the whole chip. \
             To do so, run `probe-rs erase --chip {chip} --allow-erase-all`, then flash again"
        ),
        ProbeProblem::FlashFailed => format!(
            "flashing the {chip} failed: is the board's chip really a {chip} (`--chip NAME` \
             names another), powered, and firmly connected to {}?",
            target.probe
        ),
        ProbeProblem::Other => format!("the probe failed with the {chip}"),
    }
}

/// `error` with what it means said first (probe-rs's own text stays as its
/// cause).
pub fn explain<E>(error: E, target: &ProbeTarget, chip: &str) -> anyhow::Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    let problem = classify(&error);
    anyhow::Error::new(error).context(advice(problem, target, chip))
}

/// A chip reached through a probe: the probe-rs session, and what the host
/// needs to say what goes wrong with it.
pub struct ProbeCore {
    session: Session,
    target: &'static ProbeTarget,
    chip: String,
    probe: ListedProbe,
}

impl ProbeCore {
    /// Opens the probe `probes[index]` and attaches to its chip, without
    /// resetting it: a program running on it goes on.
    pub fn attach(
        probes: &[(ListedProbe, DebugProbeInfo)],
        index: usize,
        target: &'static ProbeTarget,
        chip: &str,
    ) -> Result<ProbeCore> {
        register_plugins();
        let (listed, info) = &probes[index];
        let probe = info.open().map_err(|error| explain(error, target, chip))?;
        let session = probe
            .attach(chip, Permissions::default())
            .map_err(|error| explain(error, target, chip))?;
        Ok(ProbeCore {
            session,
            target,
            chip: chip.to_owned(),
            probe: listed.clone(),
        })
    }

    /// The probe it goes through.
    pub fn probe(&self) -> &ListedProbe {
        &self.probe
    }

    pub fn chip(&self) -> &str {
        &self.chip
    }

    fn core(&mut self) -> Result<Core<'_>> {
        let (target, chip) = (self.target, &self.chip);
        self.session
            .core(0)
            .map_err(|error| explain(error, target, chip))
    }

    /// Runs `f` on the core, explaining its errors.
    fn with_core<T>(
        &mut self,
        f: impl FnOnce(&mut Core<'_>) -> Result<T, probe_rs::Error>,
    ) -> Result<T> {
        let (target, chip) = (self.target, self.chip.clone());
        let mut core = self.core()?;
        f(&mut core).map_err(|error| explain(error, target, &chip))
    }

    /// Writes `image` to the chip's flash, verified, reporting progress to
    /// `progress`; the core is left halted at its reset vector.
    pub fn flash(
        &mut self,
        image: &Path,
        format: ImageFormat,
        progress: &mut dyn FnMut(FlashEvent),
    ) -> Result<()> {
        let (target, chip) = (self.target, self.chip.clone());
        let name = match format {
            ImageFormat::Elf => "elf",
            ImageFormat::EspIdf => "idf",
        };
        let loader = flashing::image_format(name)
            .ok_or_else(|| anyhow!("probe-rs has no `{name}` image format"))?
            .create_loader(None);
        let mut options = DownloadOptions::default();
        options.verify = true;
        options.progress = flashing::FlashProgress::new(|event| {
            if let Some(event) = flash_event(event) {
                progress(event)
            }
        });
        flashing::download_file_with_options(&mut self.session, image, loader, options)
            .map_err(|error| explain(error, target, &chip))?;
        self.reset_and_halt()
    }
}

impl ProbeCore {
    /// Lets the halted core run until it reaches `address`, where it halts
    /// again (a hardware breakpoint, removed afterwards).
    pub fn run_to(&mut self, address: u32, timeout: Duration) -> Result<()> {
        // A Thumb function's symbol has bit 0 set; its code starts below.
        let address = u64::from(address & !1);
        let reached = self.with_core(|core| {
            core.set_hw_breakpoint(address)?;
            core.run()?;
            core.wait_for_core_halted(timeout)
        });
        let cleared = self.with_core(|core| {
            if !core.core_halted()? {
                core.halt(HALT_TIMEOUT)?;
            }
            core.clear_hw_breakpoint(address)
        });
        reached.context("the program did not reach `main` after the reset")?;
        cleared
    }
}

/// Our view of one of probe-rs's progress events; `None` for those that
/// say nothing a person needs.
fn flash_event(event: ProgressEvent) -> Option<FlashEvent> {
    use flashing::ProgressOperation as Operation;
    let phase = |operation| match operation {
        Operation::Fill => FlashPhase::Read,
        Operation::Erase => FlashPhase::Erase,
        Operation::Program => FlashPhase::Program,
        Operation::Verify => FlashPhase::Verify,
    };
    Some(match event {
        ProgressEvent::AddProgressBar { operation, total } => FlashEvent::Planned {
            phase: phase(operation),
            total,
        },
        ProgressEvent::Started(operation) => FlashEvent::Started(phase(operation)),
        ProgressEvent::Progress {
            operation, size, ..
        } => FlashEvent::Progress {
            phase: phase(operation),
            bytes: size,
        },
        ProgressEvent::Finished(operation) => FlashEvent::Finished(phase(operation)),
        ProgressEvent::Failed(operation) => FlashEvent::Failed(phase(operation)),
        ProgressEvent::DiagnosticMessage { message } => FlashEvent::Message(message),
        ProgressEvent::FlashLayoutReady { .. } => return None,
    })
}

/// The core's state as core access reports it; a core locked up or in an
/// unknown state is an error saying so.
fn core_state(status: CoreStatus) -> Result<CoreState> {
    match status {
        CoreStatus::Running | CoreStatus::Sleeping => Ok(CoreState::Running),
        CoreStatus::Halted(_) => Ok(CoreState::Halted),
        CoreStatus::LockedUp => bail!(
            "the core locked up (a fault while handling a fault): reset the board, or flash it again"
        ),
        CoreStatus::Unknown => bail!("the probe lost track of the core: was the board reset?"),
    }
}

/// probe-rs's number of the register GDB numbers `number`.
fn register_id(architecture: Architecture, registers: GdbRegisters, number: u32) -> Result<u16> {
    match architecture {
        // r0 to r15 are 0 to 15 in both.
        Architecture::Arm if number <= 15 => Ok(number as u16),
        // x0 to x31 are 0x1000 + n; GDB's pc is the debug pc, dpc.
        Architecture::Riscv if number < 32 => Ok(0x1000 + number as u16),
        Architecture::Riscv if number == registers.pc => Ok(0x7b1),
        _ => bail!("register {number} of a {architecture:?} core cannot be read through the probe"),
    }
}

impl CoreAccess for ProbeCore {
    /// A Cortex-M's debug port reads and writes through the bus while the
    /// core runs; on RISC-V probe-rs uses the debug module's system bus
    /// access where the chip has it, and otherwise halts the hart for the
    /// access itself.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            memory_while_running: true,
        }
    }

    fn halt(&mut self) -> Result<()> {
        self.with_core(|core| {
            if !core.core_halted()? {
                core.halt(HALT_TIMEOUT)?;
            }
            Ok(())
        })
    }

    fn run(&mut self) -> Result<()> {
        self.with_core(|core| {
            if core.core_halted()? {
                core.run()?;
            }
            Ok(())
        })
    }

    fn state(&mut self) -> Result<CoreState> {
        core_state(self.with_core(|core| core.status())?)
    }

    fn read_memory(&mut self, addr: u32, buf: &mut [u8]) -> Result<()> {
        self.with_core(|core| core.read(u64::from(addr), buf))
    }

    fn write_memory(&mut self, addr: u32, data: &[u8]) -> Result<()> {
        self.with_core(|core| {
            core.write(u64::from(addr), data)?;
            core.flush()
        })
    }

    /// One 32-bit bus access, so the firmware never sees half a slot.
    fn write_word(&mut self, addr: u32, value: u32) -> Result<()> {
        super::check_word_aligned(addr)?;
        self.with_core(|core| {
            core.write_word_32(u64::from(addr), value)?;
            core.flush()
        })
    }

    fn read_word(&mut self, addr: u32) -> Result<u32> {
        super::check_word_aligned(addr)?;
        self.with_core(|core| core.read_word_32(u64::from(addr)))
    }

    fn reset_and_halt(&mut self) -> Result<()> {
        self.with_core(|core| core.reset_and_halt(HALT_TIMEOUT).map(drop))
    }

    fn debug(&mut self) -> Option<&mut dyn CoreDebug> {
        Some(self)
    }
}

impl CoreDebug for ProbeCore {
    fn read_register(&mut self, registers: GdbRegisters, number: u32) -> Result<u32> {
        self.with_core(|core| {
            let id = register_id(core.architecture(), registers, number)
                .map_err(|error| probe_rs::Error::Other(error.to_string()))?;
            core.read_core_reg::<u32>(RegisterId(id))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::EspChip;

    static RP2040: ProbeTarget = ProbeTarget {
        chip: "RP2040",
        probe: "a CMSIS-DAP probe such as the Raspberry Pi Debug Probe",
        image_format: ImageFormat::Elf,
        esp_chip: None,
    };

    static ESP32C3: ProbeTarget = ProbeTarget {
        chip: "esp32c3",
        probe: "its built-in USB-JTAG",
        image_format: ImageFormat::EspIdf,
        esp_chip: Some(EspChip::Esp32c3),
    };

    fn probe(name: &str, ids: (u16, u16), serial: Option<&str>) -> ListedProbe {
        ListedProbe {
            name: name.into(),
            vendor_id: ids.0,
            product_id: ids.1,
            serial: serial.map(Into::into),
            accessible: true,
        }
    }

    fn debug_probes() -> Vec<ListedProbe> {
        vec![
            probe(
                "Debug Probe (CMSIS-DAP)",
                (0x2e8a, 0x000c),
                Some("E6614C31"),
            ),
            probe(
                "Debug Probe (CMSIS-DAP)",
                (0x2e8a, 0x000c),
                Some("E6625A02"),
            ),
            probe("STLink V2-1", (0x0483, 0x374b), Some("0671FF49")),
        ]
    }

    #[test]
    fn selectors_parse_as_cargo_bluescript_probes_prints_them() {
        let selector: ProbeSelector = "2e8a:000c:E6614C31".parse().unwrap();
        assert_eq!(
            selector,
            ProbeSelector {
                vendor_id: 0x2e8a,
                product_id: 0x000c,
                serial: Some("E6614C31".into())
            }
        );
        assert_eq!(selector.to_string(), "2e8a:000c:E6614C31");
        let no_serial: ProbeSelector = "0483:374B".parse().unwrap();
        assert_eq!((no_serial.product_id, no_serial.serial), (0x374b, None));
        assert_eq!(
            debug_probes()[2].to_string().trim_end(),
            "STLink V2-1                  --probe 0483:374b:0671FF49"
        );
        for bad in ["", "2e8a", "2e8a:", "zz:000c", "12345:1", "2e8a;000c"] {
            let err = bad.parse::<ProbeSelector>().unwrap_err().to_string();
            assert!(
                err.contains("VID:PID") && err.contains("hexadecimal"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn the_only_probe_is_chosen_without_asking() {
        let probes = &debug_probes()[2..];
        assert_eq!(select(probes, None, &RP2040).unwrap(), 0);
    }

    #[test]
    fn no_probe_says_which_the_board_needs() {
        let err = select(&[], None, &RP2040).unwrap_err().to_string();
        assert!(
            err.starts_with("no debug probe is connected")
                && err.contains("Raspberry Pi Debug Probe")
                && err.contains("cargo bluescript probes"),
            "{err}"
        );
    }

    #[test]
    fn several_probes_are_listed_with_what_chooses_each() {
        let err = select(&debug_probes(), None, &RP2040)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("3 debug probes are connected; choose one with --probe"),
            "{err}"
        );
        assert!(
            err.contains("--probe 2e8a:000c:E6614C31")
                && err.contains("--probe 2e8a:000c:E6625A02")
                && err.contains("--probe 0483:374b:0671FF49"),
            "{err}"
        );
    }

    #[test]
    fn a_selector_chooses_by_ids_and_serial() {
        let probes = debug_probes();
        let st: ProbeSelector = "0483:374b".parse().unwrap();
        assert_eq!(select(&probes, Some(&st), &RP2040).unwrap(), 2);
        let second: ProbeSelector = "2e8a:000c:E6625A02".parse().unwrap();
        assert_eq!(select(&probes, Some(&second), &RP2040).unwrap(), 1);
        // Two Debug Probes: the IDs alone are not enough.
        let ambiguous: ProbeSelector = "2e8a:000c".parse().unwrap();
        let err = select(&probes, Some(&ambiguous), &RP2040)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("2 connected probes are 2e8a:000c: add the serial"),
            "{err}"
        );
        assert!(!err.contains("0483"), "{err}");
        let absent: ProbeSelector = "1366:1015".parse().unwrap();
        let err = select(&probes, Some(&absent), &RP2040)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("no connected probe is 1366:1015; connected:"),
            "{err}"
        );
    }

    #[test]
    fn a_probe_without_permission_names_the_udev_rules() {
        let mut probes = debug_probes();
        probes[2].accessible = false;
        assert!(probes[2].to_string().contains("no permission"));
        let err = select(&probes[2..], None, &RP2040).unwrap_err().to_string();
        assert!(
            err.starts_with("no permission to use the probe STLink V2-1")
                && err.contains("69-probe-rs.rules")
                && err.contains("/etc/udev/rules.d/"),
            "{err}"
        );
    }

    fn explained(error: impl std::error::Error + Send + Sync + 'static) -> (ProbeProblem, String) {
        let problem = classify(&error);
        let text = format!("{:#}", explain(error, &RP2040, "RP2040"));
        (problem, text)
    }

    #[test]
    fn usb_errors_say_whether_permission_or_another_program_is_in_the_way() {
        let denied = DebugProbeError::ProbeCouldNotBeCreated(ProbeCreationError::Usb(
            std::io::Error::from_raw_os_error(13),
        ));
        let (problem, text) = explained(probe_rs::Error::Probe(denied));
        assert_eq!(problem, ProbeProblem::Permission);
        assert!(
            text.contains("no permission") && text.contains("69-probe-rs.rules"),
            "{text}"
        );
        let busy = DebugProbeError::Usb(std::io::Error::from_raw_os_error(16));
        let (problem, text) = explained(busy);
        assert_eq!(problem, ProbeProblem::Busy);
        assert!(
            text.starts_with("the probe is busy: another program holds it"),
            "{text}"
        );
        let (problem, text) = explained(DebugProbeError::ProbeCouldNotBeCreated(
            ProbeCreationError::CouldNotOpen,
        ));
        assert_eq!(problem, ProbeProblem::CannotOpen);
        assert!(
            text.contains("another program") && text.contains("udev"),
            "{text}"
        );
    }

    #[test]
    fn a_board_gone_is_lost_not_a_mystery() {
        for error in [
            probe_rs::Error::Timeout,
            probe_rs::Error::Probe(DebugProbeError::Timeout),
            probe_rs::Error::Probe(DebugProbeError::Usb(std::io::Error::from_raw_os_error(19))),
            probe_rs::Error::Probe(DebugProbeError::ProbeCouldNotBeCreated(
                ProbeCreationError::NotFound,
            )),
        ] {
            let (problem, text) = explained(error);
            assert_eq!(problem, ProbeProblem::Lost, "{text}");
            assert!(
                text.starts_with("lost the board: it was reset, unplugged"),
                "{text}"
            );
        }
    }

    #[test]
    fn chip_problems_name_the_chip_and_what_to_do() {
        let (problem, text) = explained(probe_rs::Error::Probe(DebugProbeError::TargetNotFound));
        assert_eq!(problem, ProbeProblem::NoTarget);
        assert!(
            text.contains("sees no chip") && text.contains("Debug Probe"),
            "{text}"
        );
        let unknown = probe_rs::Error::ChipNotFound(probe_rs::config::RegistryError::ChipNotFound(
            "RP2041".into(),
        ));
        let problem = classify(&unknown);
        assert_eq!(problem, ProbeProblem::UnknownChip);
        let text = format!("{:#}", explain(unknown, &RP2040, "RP2041"));
        assert!(
            text.contains("no chip named `RP2041`") && text.contains("`RP2040`"),
            "{text}"
        );
        let locked = probe_rs::Error::MissingPermissions("erase_all".into());
        let (problem, text) = explained(locked);
        assert_eq!(problem, ProbeProblem::Locked);
        assert!(
            text.contains("locked") && text.contains("--allow-erase-all"),
            "{text}"
        );
        let wrong = FileDownloadError::IncompatibleImageChip {
            target: "esp32c6".into(),
            image_chips: vec!["esp32c3".into()],
        };
        let text = format!("{:#}", explain(wrong, &ESP32C3, "esp32c6"));
        assert!(
            text.contains("not for the chip `esp32c6`") && text.contains("--chip"),
            "{text}"
        );
    }

    #[test]
    fn failed_flashing_asks_whether_the_chip_is_the_one_named() {
        let download = FileDownloadError::Flash(FlashError::Verify);
        let (problem, text) = explained(download);
        assert_eq!(problem, ProbeProblem::FlashFailed);
        assert!(
            text.starts_with("flashing the RP2040 failed: is the board's chip really a RP2040")
                && text.contains("--chip"),
            "{text}"
        );
        // A timeout inside flashing is the board gone, not a wrong chip.
        let (problem, _) = explained(FileDownloadError::Flash(FlashError::Core(
            probe_rs::Error::Timeout,
        )));
        assert_eq!(problem, ProbeProblem::Lost);
        let outside = FlashError::NoSuitableNvm {
            range: 0x0800_0000..0x0800_1000,
            description_source: probe_rs::config::TargetDescriptionSource::BuiltIn,
        };
        assert_eq!(explained(outside).0, ProbeProblem::WrongChip);
    }

    #[test]
    fn other_errors_keep_probe_rs_s_words() {
        let (problem, text) = explained(probe_rs::Error::Other("DAP fault".into()));
        assert_eq!(problem, ProbeProblem::Other);
        assert!(
            text.contains("the probe failed with the RP2040") && text.contains("DAP fault"),
            "{text}"
        );
    }

    #[test]
    fn core_states_map_and_odd_ones_are_errors() {
        assert_eq!(core_state(CoreStatus::Running).unwrap(), CoreState::Running);
        // A core asleep in `wfi` is running as far as a program goes.
        assert_eq!(
            core_state(CoreStatus::Sleeping).unwrap(),
            CoreState::Running
        );
        let halted = CoreStatus::Halted(probe_rs::HaltReason::Request);
        assert_eq!(core_state(halted).unwrap(), CoreState::Halted);
        let err = core_state(CoreStatus::LockedUp).unwrap_err().to_string();
        assert!(
            err.contains("locked up") && err.contains("reset the board"),
            "{err}"
        );
        assert!(core_state(CoreStatus::Unknown).is_err());
    }

    #[test]
    fn gdb_register_numbers_become_probe_rs_s() {
        let arm = crate::isa::lookup("thumbv6m-none-eabi")
            .unwrap()
            .gdb_registers();
        let rv = crate::isa::lookup("riscv32imc-unknown-none-elf")
            .unwrap()
            .gdb_registers();
        assert_eq!(register_id(Architecture::Arm, arm, arm.pc).unwrap(), 15);
        assert_eq!(register_id(Architecture::Arm, arm, arm.sp).unwrap(), 13);
        assert_eq!(register_id(Architecture::Riscv, rv, rv.sp).unwrap(), 0x1002);
        assert_eq!(register_id(Architecture::Riscv, rv, rv.pc).unwrap(), 0x7b1);
        assert!(register_id(Architecture::Arm, arm, 40).is_err());
    }

    #[test]
    fn progress_events_keep_phase_and_bytes() {
        use flashing::ProgressOperation as Operation;
        let planned = flash_event(ProgressEvent::AddProgressBar {
            operation: Operation::Erase,
            total: Some(4096),
        });
        assert_eq!(
            planned,
            Some(FlashEvent::Planned {
                phase: FlashPhase::Erase,
                total: Some(4096)
            })
        );
        let progress = flash_event(ProgressEvent::Progress {
            operation: Operation::Verify,
            size: 256,
            time: Duration::from_millis(3),
        });
        assert_eq!(
            progress,
            Some(FlashEvent::Progress {
                phase: FlashPhase::Verify,
                bytes: 256
            })
        );
        let layout = ProgressEvent::FlashLayoutReady {
            flash_layout: Vec::new(),
        };
        assert_eq!(flash_event(layout), None);
    }

    /// The plugin registers once however often it is asked, so Espressif
    /// targets are not listed twice, and its chips and image format exist.
    #[test]
    fn the_espressif_plugin_registers_once() {
        register_plugins();
        register_plugins();
        assert!(flashing::image_format("idf").is_some());
        assert!(flashing::image_format("elf").is_some());
        let registry = probe_rs::config::Registry::from_builtin_families();
        for chip in [
            "esp32c3",
            "esp32c6",
            "RP2040",
            "nRF52840_xxAA",
            "STM32F411RE",
        ] {
            assert!(registry.get_target_by_name(chip).is_ok(), "{chip}");
        }
    }
}
