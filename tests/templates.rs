//! Every real board's template builds: `cargo bluescript new x --board NAME`,
//! then `cargo bluescript build`, and the image is one its chip would boot
//! and the host could patch: the runtime's symbols as the ABI crate says
//! (`support::image`), everything flashed inside the chip's flash and
//! starting at its boot address, the initial stack at the top of its RAM,
//! the patch region, heap and script stack inside that RAM, the board's
//! drivers exported to scripts, and plain `cargo run` flashing its chip.
//!
//! No board is needed (nor QEMU): nothing runs. The templates' HAL crates
//! make a first build take minutes, so these tests are ignored by default
//! (`cargo test --test templates -- --ignored` runs them; CI does, beside
//! the other boards' tests), and every board builds in one target
//! directory, where the crates they share are built once per target.

mod support;

use bluescript_abi::symbols;
use cargo_bluescript::board::{Board, Region};
use object::elf::PT_LOAD;
use object::read::elf::{ElfFile32, ProgramHeader};
use object::{Object, ObjectSection, ObjectSymbol, SectionFlags};
use std::path::{Path, PathBuf};
use support::image::{abi_mismatches, global_symbols, Found};
use support::{text, tool, Project};

/// Where the real boards' firmware is built, shared by all of them.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-firmware/real-boards")
}

/// The drivers every real board's template exports (its user LED and a
/// button), which its example script calls.
const DRIVERS: [&str; 4] = ["led_set", "led_toggle", "led_is_on", "button_pressed"];

/// A new project for `board`, named as the board (the projects of all
/// boards share the target directory, and so `target/bluescript/<name>/`),
/// built; its image.
fn build(board: Board) -> PathBuf {
    let project = Project::for_board(board.name(), board);
    let output = tool(&["build"], &project.root)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{board}: build failed: {}",
        text(&output.stderr)
    );
    let declarations = std::fs::read_to_string(project.root.join("bluescript.d.ts")).unwrap();
    for driver in DRIVERS {
        assert!(
            declarations.contains(&format!("declare function {driver}(")),
            "{board}: bluescript.d.ts lacks {driver}:\n{declarations}"
        );
    }
    // Plain `cargo run` flashes the chip the registry names.
    let config = std::fs::read_to_string(project.root.join(".cargo/config.toml")).unwrap();
    let chip = board.probe_target().unwrap().chip;
    assert!(
        config.contains(&format!("runner = \"probe-rs run --chip {chip}\"")),
        "{board}: .cargo/config.toml does not run probe-rs for {chip}:\n{config}"
    );
    target_dir().join(format!("bluescript/{board}/image.elf"))
}

/// `[start, start + size)` lies inside `region`.
fn inside(region: Region, start: u64, size: u64) -> bool {
    let (region_start, region_end) = (
        u64::from(region.start),
        u64::from(region.start) + u64::from(region.size),
    );
    start >= region_start && start + size <= region_end
}

/// Everything a chip and the host need of the image of `board`, one line a
/// problem.
fn layout_problems(board: Board, elf: &Path) -> Vec<String> {
    let flash = board.memory.flash.expect("a real board runs from flash");
    let ram = board.memory.ram;
    let data = std::fs::read(elf).unwrap();
    let file = ElfFile32::<object::Endianness>::parse(&*data).unwrap();
    let endian = file.endian();
    let mut problems = Vec::new();

    // What is flashed: the loadable segments' bytes, at their physical
    // (load) addresses; `.data`'s initial values among them.
    let mut lowest = u64::MAX;
    for segment in file.elf_program_headers() {
        let (address, size) = (
            u64::from(segment.p_paddr(endian)),
            u64::from(segment.p_filesz(endian)),
        );
        if segment.p_type(endian) != PT_LOAD || size == 0 {
            continue;
        }
        lowest = lowest.min(address);
        if !inside(flash, address, size) {
            problems.push(format!(
                "{size} bytes loaded at {address:#x}, outside flash"
            ));
        }
    }
    if lowest != u64::from(flash.start) {
        problems.push(format!(
            "the image starts at {lowest:#x}, not at the start of flash {:#x}",
            flash.start
        ));
    }
    // Where it runs: code and constants in flash, variables in RAM.
    for section in file.sections() {
        let SectionFlags::Elf { sh_flags, .. } = section.flags() else {
            continue;
        };
        if !sh_flags.contains(object::elf::SHF_ALLOC) || section.size() == 0 {
            continue;
        }
        let region = if sh_flags.contains(object::elf::SHF_WRITE) {
            ram
        } else {
            flash
        };
        if !inside(region, section.address(), section.size()) {
            problems.push(format!(
                "{} at {:#x} ({} bytes) is outside {region:x?}",
                section.name().unwrap_or("?"),
                section.address(),
                section.size()
            ));
        }
    }

    // The vector table, where the chip (or its second-stage bootloader)
    // looks for it: its initial stack pointer is the top of RAM, so the
    // image's RAM is the chip's, and its reset vector is the entry point,
    // in flash.
    let Some(vectors) = file.section_by_name(".vector_table") else {
        problems.push("no .vector_table".into());
        return problems;
    };
    let words: Vec<u32> = vectors.data().unwrap()[..8]
        .chunks(4)
        .map(|word| u32::from_le_bytes(word.try_into().unwrap()))
        .collect();
    if words[0] != ram.start + ram.size {
        problems.push(format!(
            "the initial stack pointer is {:#x}, not the top of RAM {:#x}",
            words[0],
            ram.start + ram.size
        ));
    }
    let reset = u64::from(words[1] & !1);
    if reset != file.entry() & !1 || !inside(flash, reset, 2) {
        problems.push(format!(
            "the reset vector {reset:#x} is not the entry point in flash"
        ));
    }

    // What the host writes at run time in RAM, and the script stack at its
    // bottom (below every static, see memory.x).
    let symbols = global_symbols(elf);
    for name in [symbols::PATCH_REGION, symbols::SLOTS, symbols::HEAP] {
        match symbols.get(name) {
            Some(Found { address, size, .. }) if inside(ram, *address, *size) => {}
            Some(Found { address, .. }) => {
                problems.push(format!("{name} at {address:#x} is outside RAM"))
            }
            None => problems.push(format!("{name} is missing")),
        }
    }
    // Absolute symbols, of the linker script.
    let address = |name| file.symbol_by_name(name).map(|symbol| symbol.address());
    match (
        address(symbols::SCRIPT_STACK_BOTTOM),
        address(symbols::SCRIPT_STACK_TOP),
    ) {
        (Some(bottom), Some(top))
            if bottom == u64::from(ram.start) && inside(ram, bottom, top - bottom) => {}
        (bottom, top) => problems.push(format!(
            "the script stack [{bottom:x?}, {top:x?}) is not at the bottom of RAM"
        )),
    }
    problems
}

/// The whole check of one real board's template; its image.
fn check_template(name: &str) -> (Board, PathBuf) {
    let board = Board::named(name).unwrap();
    assert!(
        board.probe_target().is_some(),
        "{board} is not a real board"
    );
    let elf = build(board);
    let symbols = global_symbols(&elf);
    assert_eq!(abi_mismatches(&symbols), Vec::<String>::new(), "{board}");
    for driver in DRIVERS {
        let export = format!("{}{driver}", symbols::prefix::EXPORT);
        assert!(
            symbols.contains_key(&export),
            "{board}: `{export}` is missing"
        );
    }
    assert_eq!(
        layout_problems(board, &elf),
        Vec::<String>::new(),
        "{board}"
    );
    (board, elf)
}

#[test]
#[ignore = "builds firmware with a HAL crate: `-- --ignored` runs it"]
fn the_rp2040_template_builds_an_image_with_its_second_stage_bootloader() {
    let (_, elf) = check_template("rp2040");
    // The boot ROM runs the first 256 bytes of flash only if their last
    // word is the CRC-32 (MPEG-2) of the 252 before it; they then hand
    // over to the vector table right after them.
    let data = std::fs::read(elf).unwrap();
    let file = ElfFile32::<object::Endianness>::parse(&*data).unwrap();
    let boot2 = file.section_by_name(".boot2").expect("a .boot2 section");
    assert_eq!(boot2.address(), 0x1000_0000);
    let bytes = boot2.data().unwrap();
    assert_eq!(bytes.len(), 256);
    let stored = u32::from_le_bytes(bytes[252..].try_into().unwrap());
    assert_eq!(crc32_mpeg2(&bytes[..252]), stored, "boot2's checksum");
    let vectors = file.section_by_name(".vector_table").unwrap();
    assert_eq!(vectors.address(), 0x1000_0100);
}

#[test]
#[ignore = "builds firmware with a HAL crate: `-- --ignored` runs it"]
fn the_nrf52840_dk_template_builds_an_image_for_its_chip() {
    let (_, elf) = check_template("nrf52840-dk");
    // The same checks catch an image laid out for another chip: the
    // nRF52840's flash is at 0x0, the STM32F411's at 0x08000000, and its
    // RAM twice as large.
    let stm32 = Board::named("stm32f411-nucleo").unwrap();
    let problems = layout_problems(stm32, &elf);
    assert!(
        problems.iter().any(|p| p.contains("outside flash"))
            && problems.iter().any(|p| p.contains("not the top of RAM")),
        "{problems:?}"
    );
}

#[test]
#[ignore = "builds firmware with a HAL crate: `-- --ignored` runs it"]
fn the_stm32f411_nucleo_template_builds_an_image_for_its_chip() {
    check_template("stm32f411-nucleo");
}

/// CRC-32/MPEG-2: polynomial 0x04C11DB7, not reflected, initial value
/// 0xFFFFFFFF, no final XOR (the RP2040 boot ROM's).
fn crc32_mpeg2(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in bytes {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[test]
fn the_boot_rom_checksum_is_crc32_mpeg2() {
    // The algorithm's check value, over "123456789".
    assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_E6E7);
}
