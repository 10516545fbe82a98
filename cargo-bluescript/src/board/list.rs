//! The board registry: one entry per board. Adding a board is adding an
//! entry here and its template directory `templates/<name>/`.

use super::{
    BoardInfo, CodeAlias, EspChip, ImageFormat, InstructionCounter, MemoryMap, ProbeTarget,
    QemuMachine, Region, Runner, Transport,
};

/// Boards whose template has no serial agent.
const DEBUGGER_ONLY: &[Transport] = &[Transport::Debugger];

const KIB: u32 = 1024;
const MIB: u32 = 1024 * KIB;

/// The MPS2 machines' (AN385, AN386): QEMU's 4 MiB at 0x0 are RAM, used
/// as flash.
const MPS2_MEMORY: MemoryMap = MemoryMap {
    flash: Some(Region {
        start: 0,
        size: 4 * MIB,
    }),
    ram: Region {
        start: 0x2000_0000,
        size: 4 * MIB,
    },
    code_alias: None,
};

/// QEMU's MPS2 machines: SysTick runs on the 25 MHz system clock, so under
/// `-icount shift=10` an instruction is 25.6 ticks.
const MPS2_COUNTER: InstructionCounter = InstructionCounter::SysTick {
    clock_hz: 25_000_000,
    icount_shift: 10,
};

/// Every board; the first is the default.
pub static BOARDS: [BoardInfo; 10] = [
    BoardInfo {
        name: "qemu-m4",
        description: "Cortex-M4F emulated by QEMU (mps2-an386)",
        target: "thumbv7em-none-eabihf",
        memory: MPS2_MEMORY,
        runner: Runner::Qemu(QemuMachine {
            program: "qemu-system-arm",
            package: "qemu-system-arm",
            args: &["-machine", "mps2-an386"],
            counter: MPS2_COUNTER,
        }),
        transports: &[Transport::Debugger, Transport::Serial],
    },
    BoardInfo {
        name: "qemu-m3",
        description: "Cortex-M3, floats in software, emulated by QEMU (mps2-an385)",
        target: "thumbv7m-none-eabi",
        memory: MPS2_MEMORY,
        runner: Runner::Qemu(QemuMachine {
            program: "qemu-system-arm",
            package: "qemu-system-arm",
            args: &["-machine", "mps2-an385"],
            counter: MPS2_COUNTER,
        }),
        transports: DEBUGGER_ONLY,
    },
    BoardInfo {
        name: "qemu-m0",
        description: "Cortex-M0 with 16 KiB of RAM (the RP2040's instruction set), \
                      emulated by QEMU (microbit: nRF51822)",
        target: "thumbv6m-none-eabi",
        memory: MemoryMap {
            flash: Some(Region {
                start: 0,
                size: 256 * KIB,
            }),
            ram: Region {
                start: 0x2000_0000,
                size: 16 * KIB,
            },
            code_alias: None,
        },
        runner: Runner::Qemu(QemuMachine {
            program: "qemu-system-arm",
            package: "qemu-system-arm",
            args: &["-machine", "microbit"],
            // The nRF51's 16 MHz HCLK: 16.384 ticks an instruction.
            counter: InstructionCounter::SysTick {
                clock_hz: 16_000_000,
                icount_shift: 10,
            },
        }),
        transports: DEBUGGER_ONLY,
    },
    BoardInfo {
        name: "qemu-m33",
        description: "Cortex-M33 with FPU, in secure state, emulated by QEMU (mps2-an505)",
        target: "thumbv8m.main-none-eabihf",
        memory: MemoryMap {
            // The secure aliases: the core boots secure (QEMU's an505 has
            // no secure firmware to hand over to a non-secure image).
            flash: Some(Region {
                start: 0x1000_0000,
                size: 4 * MIB,
            }),
            ram: Region {
                start: 0x3800_0000,
                size: 4 * MIB,
            },
            code_alias: None,
        },
        runner: Runner::Qemu(QemuMachine {
            program: "qemu-system-arm",
            package: "qemu-system-arm",
            args: &["-machine", "mps2-an505"],
            // The AN505's 20 MHz system clock: 20.48 ticks an instruction.
            counter: InstructionCounter::SysTick {
                clock_hz: 20_000_000,
                icount_shift: 10,
            },
        }),
        transports: DEBUGGER_ONLY,
    },
    BoardInfo {
        name: "qemu-rv32",
        description: "RV32IMC (the ESP32-C3's instruction set) emulated by QEMU (virt)",
        target: "riscv32imc-unknown-none-elf",
        memory: MemoryMap {
            // `-bios none`: the image is loaded into RAM and started there.
            flash: None,
            ram: Region {
                start: 0x8000_0000,
                size: 128 * MIB,
            },
            code_alias: None,
        },
        runner: Runner::Qemu(QemuMachine {
            program: "qemu-system-riscv32",
            package: "qemu-system-misc",
            args: &["-machine", "virt", "-bios", "none", "-m", "128M"],
            counter: InstructionCounter::Minstret,
        }),
        transports: &[Transport::Debugger, Transport::Serial],
    },
    BoardInfo {
        name: "rp2040",
        description: "Raspberry Pi Pico: RP2040 (Cortex-M0+), 264 KiB of RAM, 2 MiB of flash",
        target: "thumbv6m-none-eabi",
        memory: MemoryMap {
            // The flash chip, executed in place; its first 256 bytes are
            // the second-stage bootloader.
            flash: Some(Region {
                start: 0x1000_0000,
                size: 2 * MIB,
            }),
            ram: Region {
                start: 0x2000_0000,
                size: 264 * KIB,
            },
            code_alias: None,
        },
        runner: Runner::Probe(ProbeTarget {
            chip: "RP2040",
            probe: "a CMSIS-DAP probe such as the Raspberry Pi Debug Probe",
            image_format: ImageFormat::Elf,
            esp_chip: None,
        }),
        transports: DEBUGGER_ONLY,
    },
    BoardInfo {
        name: "nrf52840-dk",
        description: "Nordic nRF52840-DK: nRF52840 (Cortex-M4F), 256 KiB of RAM, 1 MiB of flash",
        target: "thumbv7em-none-eabihf",
        memory: MemoryMap {
            flash: Some(Region {
                start: 0,
                size: MIB,
            }),
            ram: Region {
                start: 0x2000_0000,
                size: 256 * KIB,
            },
            code_alias: None,
        },
        runner: Runner::Probe(ProbeTarget {
            chip: "nRF52840_xxAA",
            probe: "the board's own J-Link (the USB port marked J2)",
            image_format: ImageFormat::Elf,
            esp_chip: None,
        }),
        transports: DEBUGGER_ONLY,
    },
    BoardInfo {
        name: "stm32f411-nucleo",
        description: "ST Nucleo-F411RE: STM32F411RE (Cortex-M4F), 128 KiB of RAM, 512 KiB of flash",
        target: "thumbv7em-none-eabihf",
        memory: MemoryMap {
            flash: Some(Region {
                start: 0x0800_0000,
                size: 512 * KIB,
            }),
            ram: Region {
                start: 0x2000_0000,
                size: 128 * KIB,
            },
            code_alias: None,
        },
        runner: Runner::Probe(ProbeTarget {
            chip: "STM32F411RE",
            probe: "the board's own ST-Link",
            image_format: ImageFormat::Elf,
            esp_chip: None,
        }),
        transports: DEBUGGER_ONLY,
    },
    BoardInfo {
        name: "esp32c3",
        description: "ESP32-C3 (RV32IMC, 400 KiB SRAM), e.g. the ESP32-C3-DevKitM-1",
        target: "riscv32imc-unknown-none-elf",
        memory: MemoryMap {
            // Flash through the cache: code at 0x42000000 (IROM), constants
            // at 0x3C000000 (DROM).
            flash: Some(Region {
                start: 0x4200_0000,
                size: 4 * MIB,
            }),
            // esp-hal's DRAM, then what the second-stage bootloader leaves
            // (the patch region: see bs-runtime's abi.rs).
            ram: Region {
                start: 0x3fc8_0000,
                size: 0x3fcd_e710 - 0x3fc8_0000,
            },
            // One SRAM, seen by the data bus at 0x3FC80000 and fetched from
            // at 0x40380000.
            code_alias: Some(CodeAlias {
                data: 0x3fc8_0000,
                executable: 0x4038_0000,
                size: 0x6_0000,
            }),
        },
        // The USB-JTAG through probe-rs, or the serial agent on UART0
        // (flashed with espflash over the same port).
        transports: &[Transport::Debugger, Transport::Serial],
        runner: Runner::Probe(ProbeTarget {
            chip: "esp32c3",
            probe:
                "its built-in USB-JTAG, on GPIO18 (D-) and GPIO19 (D+) (on the DevKitM-1, a USB \
                    cable wired to those pins: its micro-USB connector goes to a USB-UART bridge)",
            image_format: ImageFormat::EspIdf,
            esp_chip: Some(EspChip::Esp32c3),
        }),
    },
    BoardInfo {
        name: "esp32c6",
        description: "ESP32-C6 (RV32IMAC, 512 KiB SRAM), e.g. the ESP32-C6-DevKitC-1",
        target: "riscv32imac-unknown-none-elf",
        memory: MemoryMap {
            // Flash through the cache: code and constants at 0x42000000.
            flash: Some(Region {
                start: 0x4200_0000,
                size: 4 * MIB,
            }),
            // HP SRAM, one address for data and instructions: no alias.
            ram: Region {
                start: 0x4080_0000,
                size: 0x4087_e610 - 0x4080_0000,
            },
            code_alias: None,
        },
        // The USB-JTAG through probe-rs, or the serial agent on UART0
        // (flashed with espflash over the same port).
        transports: &[Transport::Debugger, Transport::Serial],
        runner: Runner::Probe(ProbeTarget {
            chip: "esp32c6",
            probe: "its built-in USB-JTAG (the USB connector marked USB, not UART)",
            image_format: ImageFormat::EspIdf,
            esp_chip: Some(EspChip::Esp32c6),
        }),
    },
];
