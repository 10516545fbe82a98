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
use cargo_bluescript::connection::espflash::idf_image;
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
    let (board, elf) = build_and_check_symbols(name);
    assert_eq!(
        layout_problems(board, &elf),
        Vec::<String>::new(),
        "{board}"
    );
    (board, elf)
}

/// The checks of every real board's template but the layout, which is the
/// chip's: the template builds, and its image has the runtime's symbols and
/// the drivers.
fn build_and_check_symbols(name: &str) -> (Board, PathBuf) {
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

/// The memory an ESP chip's application image may load into: its
/// regions (ESP-IDF's `soc/soc.h`), and its chip id in the image header.
struct EspMemory {
    chip_id: u16,
    /// Flash through the cache, for data (the application descriptor and
    /// constants come first, in the first DROM segment).
    drom: Region,
    /// Flash through the cache, for code.
    irom: Region,
    dram: Region,
    iram: Region,
}

const ESP32C3_MEMORY: EspMemory = EspMemory {
    chip_id: 5,
    drom: Region {
        start: 0x3c00_0000,
        size: 0x80_0000,
    },
    irom: Region {
        start: 0x4200_0000,
        size: 0x80_0000,
    },
    dram: Region {
        start: 0x3fc8_0000,
        size: 0x6_0000,
    },
    iram: Region {
        start: 0x4037_c000,
        size: 0x6_4000,
    },
};

/// The C6 maps flash for data and code at one address, and has one SRAM.
const ESP32C6_MEMORY: EspMemory = EspMemory {
    chip_id: 13,
    drom: Region {
        start: 0x4200_0000,
        size: 0x100_0000,
    },
    irom: Region {
        start: 0x4200_0000,
        size: 0x100_0000,
    },
    dram: Region {
        start: 0x4080_0000,
        size: 0x8_0000,
    },
    iram: Region {
        start: 0x4080_0000,
        size: 0x8_0000,
    },
};

/// An ESP application image's header and segments (ESP-IDF's "App Image
/// Format": a 24-byte header with the magic 0xE9 and the segment count,
/// then each segment's load address, length and bytes).
struct EspImage<'a> {
    chip_id: u16,
    entry: u32,
    segments: Vec<(u32, &'a [u8])>,
}

fn parse_esp_image(bytes: &[u8]) -> Result<EspImage<'_>, String> {
    let word = |at: usize| -> Result<u32, String> {
        bytes
            .get(at..at + 4)
            .map(|w| u32::from_le_bytes(w.try_into().unwrap()))
            .ok_or_else(|| format!("the image ends at {at:#x}"))
    };
    if bytes.first() != Some(&0xe9) {
        return Err(format!("magic {:#x?}, not 0xe9", bytes.first()));
    }
    let count = usize::from(bytes[1]);
    let chip_id = u16::from_le_bytes([bytes[12], bytes[13]]);
    let mut segments = Vec::new();
    let mut at = 24;
    for _ in 0..count {
        let (address, length) = (word(at)?, word(at + 4)? as usize);
        let data = bytes
            .get(at + 8..at + 8 + length)
            .ok_or_else(|| format!("segment at {address:#x} runs past the image"))?;
        segments.push((address, data));
        at += 8 + length;
    }
    Ok(EspImage {
        chip_id,
        entry: word(4)?,
        segments,
    })
}

/// A NUL-padded string field of the application descriptor.
fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Everything the ESP-IDF bootloader and the host need of the image that
/// espflash makes of `elf` for `board`, checked against `memory`, one line
/// a problem.
fn esp_image_problems(board: Board, memory: &EspMemory, elf: &Path) -> Vec<String> {
    let esp = board.probe_target().unwrap().esp_chip.expect("an ESP chip");
    let data = std::fs::read(elf).unwrap();
    let image = idf_image(&data, esp).expect("espflash makes the IDF image");
    let mut problems = Vec::new();
    // The second-stage bootloader, the partition table, the application.
    let parts: Vec<(u32, Vec<u8>)> = image
        .flash_segments()
        .map(|segment| (segment.addr, segment.data().to_vec()))
        .collect();
    let addresses: Vec<u32> = parts.iter().map(|(address, _)| *address).collect();
    if addresses != [0x0, 0x8000, 0x1_0000] {
        problems.push(format!(
            "flashed at {addresses:#x?}, not 0x0, 0x8000, 0x10000"
        ));
        return problems;
    }
    let app = match parse_esp_image(&parts[2].1) {
        Ok(app) => app,
        Err(problem) => return vec![format!("application: {problem}")],
    };
    if let Err(problem) = parse_esp_image(&parts[0].1) {
        problems.push(format!("bootloader: {problem}"));
    }
    if app.chip_id != memory.chip_id {
        problems.push(format!(
            "the image is for chip id {}, not {}",
            app.chip_id, memory.chip_id
        ));
    }
    if !memory.irom.contains(app.entry) {
        problems.push(format!("the entry point {:#x} is not in IROM", app.entry));
    }
    // Every segment where the chip has memory; none over the patch region
    // (the host writes it at run time; it is not part of the image).
    let symbols = global_symbols(elf);
    let patch = &symbols[symbols::PATCH_REGION];
    let patch_data = u64::from(board.memory.data_address(patch.address as u32));
    let patch_run = u64::from(board.memory.executable_address(patch.address as u32));
    for (address, bytes) in &app.segments {
        // Padding that puts the next segment's bytes at its flash cache
        // page offset: loaded nowhere (esptool's memory map: "PADDING").
        if *address == 0 {
            continue;
        }
        let (start, size) = (u64::from(*address), bytes.len() as u64);
        let known = [memory.drom, memory.irom, memory.dram, memory.iram];
        if !known.iter().any(|region| inside(*region, start, size)) {
            problems.push(format!(
                "a segment of {size} bytes at {start:#x} is in none of the chip's memories"
            ));
        }
        for patch_start in [patch_data, patch_run] {
            if start < patch_start + patch.size && patch_start < start + size {
                problems.push(format!(
                    "the segment at {start:#x} overlaps the patch region"
                ));
            }
        }
    }
    // The application descriptor, first in the first (DROM) segment: its
    // magic, and the project's name and version.
    match app.segments.first() {
        Some((address, bytes)) if memory.drom.contains(*address) && bytes.len() >= 80 => {
            let magic = u32::from_le_bytes(bytes[..4].try_into().unwrap());
            if magic != 0xabcd_5432 {
                problems.push(format!("the app descriptor's magic is {magic:#x}"));
            }
            let (version, name) = (c_string(&bytes[16..48]), c_string(&bytes[48..80]));
            if version != "0.1.0" || name != board.name() {
                problems.push(format!(
                    "the app descriptor names `{name}` {version}, not `{board}` 0.1.0"
                ));
            }
        }
        _ => problems.push("the first segment is not the app descriptor in DROM".into()),
    }
    // What the host writes at run time, in the chip's RAM; the patch
    // region's code fetched from IRAM.
    for name in [symbols::PATCH_REGION, symbols::SLOTS, symbols::HEAP] {
        match symbols.get(name) {
            Some(Found { address, size, .. }) if inside(board.memory.ram, *address, *size) => {}
            _ => problems.push(format!("{name} is not in RAM")),
        }
    }
    if !inside(memory.iram, patch_run, patch.size) {
        problems.push(format!(
            "the patch region runs at {patch_run:#x}, outside IRAM"
        ));
    }
    problems
}

/// What is wrong with the serial agent in `board`'s image: the agent's
/// state is in RAM, and the template's UART interrupt handler, which feeds
/// it, is linked in.
fn serial_agent_problems(board: Board, elf: &Path) -> Vec<String> {
    let data = std::fs::read(elf).unwrap();
    let file = object::File::parse(&*data).unwrap();
    // Rust's mangled names keep the path's parts.
    let find = |parts: &[&str]| {
        file.symbols().find(|symbol| {
            symbol.is_definition()
                && symbol
                    .name()
                    .is_ok_and(|name| parts.iter().all(|part| name.contains(part)))
        })
    };
    let mut problems = Vec::new();
    match find(&["serial_agent", "5AGENT"]) {
        Some(agent) if inside(board.memory.ram, agent.address(), agent.size()) => {}
        Some(agent) => problems.push(format!(
            "the serial agent's state is at {:#x}, outside RAM",
            agent.address()
        )),
        None => problems.push("the serial agent is not linked in".into()),
    }
    if find(&["4uart", "10on_receive"]).is_none() {
        problems.push("the template's UART interrupt handler (uart::on_receive) is missing".into());
    }
    problems
}

/// The whole check of an ESP board's template.
fn check_esp_template(name: &str, memory: &EspMemory) -> (Board, PathBuf) {
    let (board, elf) = build_and_check_symbols(name);
    assert_eq!(
        esp_image_problems(board, memory, &elf),
        Vec::<String>::new(),
        "{board}"
    );
    assert_eq!(
        serial_agent_problems(board, &elf),
        Vec::<String>::new(),
        "{board}"
    );
    (board, elf)
}

#[test]
#[ignore = "builds firmware with a HAL crate: `-- --ignored` runs it"]
fn the_esp32c3_template_makes_an_idf_image_for_its_chip() {
    let (board, elf) = check_esp_template("esp32c3", &ESP32C3_MEMORY);
    // The patch region is written through DRAM and runs from IRAM.
    let patch = global_symbols(&elf)[symbols::PATCH_REGION].address as u32;
    assert_eq!(board.memory.executable_address(patch), patch + 0x70_0000);
    // The same checks catch an image for another chip.
    let problems = esp_image_problems(board, &ESP32C6_MEMORY, &elf);
    assert!(
        problems.iter().any(|p| p.contains("chip id 5, not 13"))
            && problems
                .iter()
                .any(|p| p.contains("none of the chip's memories")),
        "{problems:?}"
    );
}

#[test]
#[ignore = "builds firmware with a HAL crate: `-- --ignored` runs it"]
fn the_esp32c6_template_makes_an_idf_image_for_its_chip() {
    let (board, elf) = check_esp_template("esp32c6", &ESP32C6_MEMORY);
    let patch = global_symbols(&elf)[symbols::PATCH_REGION].address as u32;
    assert_eq!(board.memory.executable_address(patch), patch);
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
