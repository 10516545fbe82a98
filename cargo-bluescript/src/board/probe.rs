//! A real board reached through a debug probe: choosing the probe and the
//! chip, flashing it (with a progress bar), and deciding whether a board
//! found running can be taken over as it is.
//!
//! Flashing writes the board's flash, so the board runs the image on its own
//! afterwards, and `flash` records it in `board.json` like an emulated board
//! (`flashed.rs`). `watch` takes such a board over when it runs what was
//! recorded; anything else it flashes again only when asked (`--reflash`):
//! a board on the desk may run something its owner wants to keep.

use super::{Board, ProbeTarget, RunningBoard, StartOptions};
use crate::connection::probe_rs::{self, ListedProbe, ProbeCore, ProbeSelector};
use crate::connection::{CoreAccess, Flash};
use crate::progress::FlashProgressView;
use crate::shadow::Shadow;
use anyhow::{Context, Result};
use std::path::Path;
use std::time::Duration;

/// Where, beside the flashed image, the shadow machine of the image as
/// flashed (before any patch) is kept: a board that was reset runs that.
pub const BASE_DIR: &str = "base";

/// Which probe and chip to use, from `--probe` and `--chip` or the project's
/// `probe` and `chip` keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeChoice {
    /// `None`: the only probe connected.
    pub probe: Option<ProbeSelector>,
    /// `None`: the board's chip.
    pub chip: Option<String>,
}

impl ProbeChoice {
    /// The chip's name for probe-rs.
    pub fn chip<'a>(&'a self, target: &'a ProbeTarget) -> &'a str {
        self.chip.as_deref().unwrap_or(target.chip)
    }
}

/// Checks, before a long build, that the probe `choice` names (or the only
/// one) is connected and usable: the errors of [`probe_rs::select`].
pub fn check_connected(target: &ProbeTarget, choice: &ProbeChoice) -> Result<()> {
    let listed: Vec<ListedProbe> = probe_rs::list().into_iter().map(|(l, _)| l).collect();
    probe_rs::select(&listed, choice.probe.as_ref(), target).map(drop)
}

/// Connects to the chip `chip` through the probe `wanted` names (or the only
/// one connected), without resetting it.
pub fn connect(
    target: &'static ProbeTarget,
    wanted: Option<&ProbeSelector>,
    chip: &str,
) -> Result<ProbeCore> {
    let probes = probe_rs::list();
    let listed: Vec<ListedProbe> = probes.iter().map(|(listed, _)| listed.clone()).collect();
    let index = probe_rs::select(&listed, wanted, target)?;
    ProbeCore::attach(&probes, index, target, chip)
}

/// Writes `image` to the board's flash, verified, with a progress bar when
/// `options` asks for one, and resets it; leaves the core halted at `main`
/// (at the reset vector if the image has none).
pub fn flash(
    board: Board,
    target: &'static ProbeTarget,
    image: &Path,
    options: &StartOptions,
) -> Result<ProbeCore> {
    let chip = options.probe.chip(target);
    let mut core = connect(target, options.probe.probe.as_ref(), chip)?;
    let mut view = options.progress.then(FlashProgressView::for_stderr);
    core.flash(image, target.image_format, &mut |event| {
        if let Some(view) = &mut view {
            view.event(event);
        }
    })
    .with_context(|| format!("cannot flash the {board} ({chip})"))?;
    // At the reset vector nothing is set up yet (on the RP2040 not even the
    // flash the image runs from); at `main` the boot code has run and the
    // program has not: the host can check it and attach.
    if let Some(main) = symbol_address(image, "main")? {
        core.run_to(main, BOOT_TIMEOUT)?;
    }
    Ok(core)
}

/// `flash` for a real board: writes its flash through the probe, and lets
/// the program run on its own.
pub struct ProbeFlash<'a> {
    pub board: Board,
    pub target: &'static ProbeTarget,
    pub options: &'a StartOptions,
}

impl Flash for ProbeFlash<'_> {
    /// The connection to the board, which runs the image.
    type Flashed = ProbeCore;

    /// The board keeps nothing in `dir`: its flash holds the image.
    fn flash(&self, image: &Path, _dir: &Path) -> Result<ProbeCore> {
        let mut core = flash(self.board, self.target, image, self.options)?;
        core.run()?;
        Ok(core)
    }
}

/// A real board with the host's image flashed, for `run`: it runs on after
/// the host lets go.
pub struct ProbeBoard {
    core: ProbeCore,
}

impl ProbeBoard {
    /// Flashes `elf` and leaves the core halted at `main`.
    pub fn start(
        board: Board,
        target: &'static ProbeTarget,
        elf: &Path,
        options: &StartOptions,
    ) -> Result<ProbeBoard> {
        Ok(ProbeBoard {
            core: flash(board, target, elf, options)?,
        })
    }
}

/// How long the boot code may take to reach `main`.
const BOOT_TIMEOUT: Duration = Duration::from_secs(5);

/// The address of `name` in the ELF `elf`, if it defines it.
fn symbol_address(elf: &Path, name: &str) -> Result<Option<u32>> {
    use object::{Object, ObjectSymbol};
    let data = std::fs::read(elf).with_context(|| format!("cannot read `{}`", elf.display()))?;
    let file = object::File::parse(&*data)
        .with_context(|| format!("`{}` is not an ELF file", elf.display()))?;
    Ok(file
        .symbols()
        .find(|symbol| symbol.name() == Ok(name) && symbol.is_definition())
        .map(|symbol| symbol.address() as u32))
}

impl Drop for ProbeBoard {
    /// The program goes on running on the board.
    fn drop(&mut self) {
        let _ = self.core.run();
    }
}

impl RunningBoard for ProbeBoard {
    fn core(&mut self) -> &mut dyn CoreAccess {
        &mut self.core
    }

    /// Core access already says what went wrong with the probe.
    fn failure_details(&mut self) -> Option<String> {
        None
    }
}

/// How a board found running can be taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takeover {
    /// It runs the flashed image at the recorded patch epoch: as it is.
    AsRecorded,
    /// It runs the flashed image as flashed: it was reset (or power-cycled)
    /// since, and its patches, which lived in RAM, are gone. The host takes
    /// it over with the image's own shadow machine and patches it again.
    AfterReset,
}

/// What the host knows of the board it flashed last, and what it found on it.
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    /// The shadow machine as the last patch left it.
    pub recorded: &'a Shadow,
    /// The shadow machine of the image as flashed, if kept.
    pub base: Option<&'a Shadow>,
    /// The build id and patch epoch read from the board.
    pub build_id: u32,
    pub epoch: u32,
    /// The fingerprint of the firmware's Rust sources now.
    pub firmware_fingerprint: u64,
}

/// Whether the board can be taken over, or why not (the board must then be
/// flashed again, which only `--reflash` does).
pub fn takeover(found: Found) -> Result<Takeover, String> {
    let recorded = found.recorded;
    if found.build_id != recorded.build_id {
        return Err(format!(
            "the board runs build {:#010x}, not the build {:#010x} that `cargo bluescript \
             flash` left on it",
            found.build_id, recorded.build_id
        ));
    }
    if !recorded.patchable {
        return Err("it runs a release image, which cannot be patched".into());
    }
    if recorded.firmware_fingerprint != found.firmware_fingerprint {
        return Err("the firmware's Rust changed since it was flashed".into());
    }
    // A patch the host could not confirm is resolved on attaching.
    let pending = recorded.pending.as_ref().map(|patch| patch.epoch);
    if found.epoch == recorded.epoch || pending == Some(found.epoch) {
        return Ok(Takeover::AsRecorded);
    }
    match found.base {
        Some(base) if found.epoch == base.epoch && base.build_id == recorded.build_id => {
            Ok(Takeover::AfterReset)
        }
        _ => Err(format!(
            "the board is at patch epoch {}, but the host's model at {}: something else \
             patched it",
            found.epoch, recorded.epoch
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shadow::RuntimeSymbols;

    fn shadow(epoch: u32) -> Shadow {
        Shadow {
            build_id: 0xb11d_0001,
            epoch,
            image: "flashed/image.elf".into(),
            runtime: RuntimeSymbols {
                slots: 0x2000_0100,
                slot_count: 4,
                patch_region: 0x2000_0200,
                patch_region_size: 0x100,
                patch_epoch: 0x2000_0010,
                state: 0x2000_0014,
                error_count: 0x2000_0018,
                host_attached: 0x2000_001c,
                host_request: 0x2000_0020,
                host_roots: 0x2000_0034,
                rtt: 0x2000_0400,
                program: 0x2000_0000,
                profiling_paused: 0,
            },
            functions: Default::default(),
            globals: Default::default(),
            exports: Vec::new(),
            top_level_fingerprint: 0,
            patch_next: 0x2000_0200,
            firmware_fingerprint: 7,
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

    fn found<'a>(recorded: &'a Shadow, base: &'a Shadow, epoch: u32) -> Found<'a> {
        Found {
            recorded,
            base: Some(base),
            build_id: recorded.build_id,
            epoch,
            firmware_fingerprint: 7,
        }
    }

    #[test]
    fn a_board_as_recorded_is_taken_over() {
        let (recorded, base) = (shadow(3), shadow(0));
        assert_eq!(
            takeover(found(&recorded, &base, 3)),
            Ok(Takeover::AsRecorded)
        );
    }

    #[test]
    fn a_board_reset_since_is_taken_over_from_its_image() {
        let (recorded, base) = (shadow(3), shadow(0));
        assert_eq!(
            takeover(found(&recorded, &base, 0)),
            Ok(Takeover::AfterReset)
        );
        // Without the image's own model the host cannot know the reset board.
        let without_base = Found {
            base: None,
            ..found(&recorded, &base, 0)
        };
        assert!(takeover(without_base).is_err());
    }

    #[test]
    fn another_build_or_epoch_is_a_mismatch_that_says_what_differs() {
        let (recorded, base) = (shadow(3), shadow(0));
        let other_build = Found {
            build_id: 0xdead_beef,
            ..found(&recorded, &base, 3)
        };
        let why = takeover(other_build).unwrap_err();
        assert!(
            why.contains("runs build 0xdeadbeef") && why.contains("0xb11d0001"),
            "{why}"
        );
        let why = takeover(found(&recorded, &base, 5)).unwrap_err();
        assert!(
            why.contains("patch epoch 5") && why.contains("at 3"),
            "{why}"
        );
    }

    #[test]
    fn a_release_image_or_changed_firmware_is_a_mismatch() {
        let base = shadow(0);
        let mut release = shadow(0);
        release.patchable = false;
        let why = takeover(found(&release, &base, 0)).unwrap_err();
        assert!(why.contains("release image"), "{why}");
        let recorded = shadow(2);
        let changed = Found {
            firmware_fingerprint: 8,
            ..found(&recorded, &base, 2)
        };
        assert!(takeover(changed)
            .unwrap_err()
            .contains("firmware's Rust changed"));
    }

    #[test]
    fn symbols_are_found_in_the_image() {
        let dir = tempfile::tempdir().unwrap();
        let not_elf = dir.path().join("image.elf");
        std::fs::write(&not_elf, b"not an ELF").unwrap();
        let err = symbol_address(&not_elf, "main").unwrap_err().to_string();
        assert!(err.contains("is not an ELF file"), "{err}");
        // This test's own executable defines `main`, and no `__bs_nothing`.
        let me = std::env::current_exe().unwrap();
        assert!(symbol_address(&me, "main").unwrap().is_some());
        assert_eq!(symbol_address(&me, "__bs_nothing").unwrap(), None);
    }

    #[test]
    fn the_chip_is_the_board_s_unless_chosen() {
        let target = ProbeTarget {
            chip: "STM32F411RE",
            probe: "the on-board ST-Link",
            image_format: super::super::ImageFormat::Elf,
            esp_chip: None,
        };
        assert_eq!(ProbeChoice::default().chip(&target), "STM32F411RE");
        let choice = ProbeChoice {
            probe: None,
            chip: Some("STM32F401RE".into()),
        };
        assert_eq!(choice.chip(&target), "STM32F401RE");
    }
}
