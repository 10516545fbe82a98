//! Flashing an ESP32-C3 or ESP32-C6 over its serial port, with espflash as
//! a library: the chip's ROM bootloader, reached through the built-in
//! USB-JTAG-serial or a USB-UART bridge, writes the ESP-IDF image (the
//! second-stage bootloader, the partition table and the application, made
//! from the ELF by espflash's `IdfBootloaderFormat`).
//!
//! Choosing the port (`--port`, or the one USB serial device of a known
//! kind), making the image and what a failure means are plain functions,
//! tested without a board; [`flash`] puts them together over a real port.

use super::{FlashEvent, FlashPhase};
use crate::board::EspChip;
use anyhow::{anyhow, bail, Context, Result};
use espflash::connection::{Connection, ResetAfterOperation, ResetBeforeOperation};
use espflash::flasher::{FlashData, FlashSettings, Flasher};
use espflash::image_format::idf::IdfBootloaderFormat;
use espflash::image_format::ImageFormat;
use espflash::target::{Chip, ProgressCallbacks};
use serialport::{SerialPortInfo, SerialPortType, UsbPortInfo};
use std::path::Path;

/// The ROM bootloader talks at this rate first.
const CONNECT_BAUD: u32 = 115_200;
/// And this fast once espflash's stub runs.
const FLASH_BAUD: u32 = 921_600;

/// The ESP32-C3's and C6's own USB-JTAG-serial: VID, PID.
const USB_JTAG_SERIAL: (u16, u16) = (0x303a, 0x1001);

/// USB serial devices an ESP board is reached through: the chip's own
/// USB-JTAG-serial, and the USB-UART bridges of development boards.
pub const KNOWN_USB_SERIAL: &[(u16, u16, &str)] = &[
    (
        USB_JTAG_SERIAL.0,
        USB_JTAG_SERIAL.1,
        "Espressif USB-JTAG-serial",
    ),
    (0x10c4, 0xea60, "Silicon Labs CP210x"),
    (0x1a86, 0x7523, "WCH CH340"),
    (0x1a86, 0x55d4, "WCH CH9102"),
    (0x0403, 0x6001, "FTDI FT232R"),
    (0x0403, 0x6010, "FTDI FT2232"),
    (0x0403, 0x6014, "FTDI FT232H"),
    (0x0403, 0x6015, "FTDI FT231X"),
];

/// espflash's name of the chip.
pub fn chip(esp: EspChip) -> Chip {
    match esp {
        EspChip::Esp32c3 => Chip::Esp32c3,
        EspChip::Esp32c6 => Chip::Esp32c6,
    }
}

/// What kind of known USB serial device `port` is, if it is one.
fn known_kind(port: &SerialPortInfo) -> Option<&'static str> {
    let SerialPortType::UsbPort(usb) = &port.port_type else {
        return None;
    };
    KNOWN_USB_SERIAL
        .iter()
        .find(|(vid, pid, _)| usb.vid == *vid && usb.pid == *pid)
        .map(|(_, _, kind)| *kind)
}

/// The chip's own USB-JTAG-serial (not a bridge to UART0).
fn is_usb_jtag_serial(port: &SerialPortInfo) -> bool {
    matches!(&port.port_type, SerialPortType::UsbPort(usb) if (usb.vid, usb.pid) == USB_JTAG_SERIAL)
}

/// The port to reach the serial agent through (and to flash through
/// before): as [`choose_port`], but the agent listens on UART0, which a
/// board's USB-UART bridge reaches and the chip's own USB-JTAG-serial does
/// not: that one is never chosen, and refused when named.
pub fn choose_agent_port(
    ports: &[SerialPortInfo],
    requested: Option<&str>,
) -> Result<SerialPortInfo> {
    let bridges: Vec<SerialPortInfo> = ports
        .iter()
        .filter(|port| !is_usb_jtag_serial(port))
        .cloned()
        .collect();
    let port = choose_port(
        if requested.is_some() { ports } else { &bridges },
        requested,
    )?;
    if is_usb_jtag_serial(&port) {
        bail!(
            "{} is the chip's built-in USB-JTAG-serial port, but the serial agent listens on \
             UART0, which the board's USB-UART bridge reaches (the DevKit's other USB \
             connector): connect that one and name its port, or reach the board through its \
             USB-JTAG with `--transport debugger`",
            port.port_name
        );
    }
    Ok(port)
}

/// [`choose_agent_port`] among the ports of this machine.
pub fn find_agent_port(requested: Option<&str>) -> Result<SerialPortInfo> {
    let ports = serialport::available_ports().unwrap_or_default();
    choose_agent_port(&ports, requested)
}

/// The port to flash through: `requested` (`--port`), which must exist,
/// or else the one port among `ports` that is a known USB serial device.
pub fn choose_port(ports: &[SerialPortInfo], requested: Option<&str>) -> Result<SerialPortInfo> {
    if let Some(name) = requested {
        return match ports.iter().find(|port| port.port_name == name) {
            Some(port) => Ok(port.clone()),
            // Not every port is listed (a pseudo-terminal, a port that
            // enumeration misses): try it all the same if it exists.
            None if Path::new(name).exists() => Ok(SerialPortInfo {
                port_name: name.to_string(),
                port_type: SerialPortType::Unknown,
            }),
            None => bail!(
                "the serial port `{name}` does not exist{}",
                listing(ports, ": the serial ports here are")
            ),
        };
    }
    let known: Vec<&SerialPortInfo> = ports.iter().filter(|p| known_kind(p).is_some()).collect();
    match known.as_slice() {
        [port] => Ok((*port).clone()),
        [] => bail!(
            "no ESP board found on a serial port: connect it with a USB cable (the \
             connector wired to the chip's USB-JTAG or to its USB-UART bridge), or name its \
             port with `--port`{}",
            listing(ports, "; the serial ports here are")
        ),
        several => bail!(
            "{} boards could be the one to flash: choose one with `--port`:\n{}",
            several.len(),
            several
                .iter()
                .map(|port| describe(port))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// `port` for people: its name and what it is.
fn describe(port: &SerialPortInfo) -> String {
    match (&port.port_type, known_kind(port)) {
        (SerialPortType::UsbPort(usb), kind) => format!(
            "  {} ({:04x}:{:04x} {})",
            port.port_name,
            usb.vid,
            usb.pid,
            kind.map(str::to_string)
                .or_else(|| usb.product.clone())
                .unwrap_or_else(|| "USB serial".into())
        ),
        _ => format!("  {}", port.port_name),
    }
}

/// `ports` as lines after `intro`, or nothing when there are none.
fn listing(ports: &[SerialPortInfo], intro: &str) -> String {
    if ports.is_empty() {
        return String::new();
    }
    let lines: Vec<String> = ports.iter().map(describe).collect();
    format!("{intro}:\n{}", lines.join("\n"))
}

/// The ESP-IDF image of `elf` for `esp`: espflash's bundled second-stage
/// bootloader, its default partition table (the application at 0x10000)
/// and the application made from the ELF's loadable sections, with the
/// flash settings the bootloader keeps (4 MiB, the chip's default mode and
/// frequency).
pub fn idf_image(elf: &[u8], esp: EspChip) -> Result<IdfBootloaderFormat<'_>> {
    let chip = chip(esp);
    let flash_data = FlashData::new(
        FlashSettings::default(),
        0,
        None,
        chip,
        chip.default_xtal_frequency(),
    );
    IdfBootloaderFormat::new(elf, &flash_data, None, None, None, None).map_err(|error| {
        anyhow!("cannot make the ESP-IDF image of the firmware: {error}{}", {
            if matches!(error, espflash::Error::AppDescriptorNotPresent(_)) {
                " (the firmware needs `esp_bootloader_esp_idf::esp_app_desc!();`, as the board's \
                 template has)"
            } else {
                ""
            }
        })
    })
}

/// Writes `elf` (as an ESP-IDF image) to the flash of the `esp` chip on
/// `port` (from [`find_agent_port`]), verified, reporting to `progress`; the chip
/// is reset into the new program (its reset lines released). The port,
/// still open, as espflash's monitor goes on with it.
pub fn flash(
    elf: &Path,
    esp: EspChip,
    port: &SerialPortInfo,
    progress: &mut dyn FnMut(FlashEvent),
) -> Result<Box<dyn serialport::SerialPort>> {
    let data = std::fs::read(elf)
        .with_context(|| format!("cannot read the firmware {}", elf.display()))?;
    let image = idf_image(&data, esp)?;
    let serial = serialport::new(&port.port_name, CONNECT_BAUD)
        .open_native()
        .map_err(|error| open_error(&port.port_name, error))?;
    let usb = match &port.port_type {
        SerialPortType::UsbPort(usb) => usb.clone(),
        _ => UsbPortInfo {
            vid: 0,
            pid: 0,
            serial_number: None,
            manufacturer: None,
            product: None,
            // probe-rs turns serialport's `usbportinfo-interface` on.
            interface: None,
        },
    };
    let connection = Connection::new(
        serial,
        usb,
        ResetAfterOperation::HardReset,
        ResetBeforeOperation::DefaultReset,
        CONNECT_BAUD,
    );
    let mut flasher = Flasher::connect(
        connection,
        true,
        true,
        false,
        Some(chip(esp)),
        Some(FLASH_BAUD),
    )
    .map_err(|error| connect_error(&port.port_name, esp, error))?;
    let mut callbacks = Progress::new(progress);
    let result = flasher.load_image_to_flash(&mut callbacks, ImageFormat::EspIdf(image));
    if let Err(error) = result {
        callbacks.fail();
        return Err(anyhow!(
            "flashing over {} failed: {error}; nothing was started: flash again",
            port.port_name
        ));
    }
    Ok(Box::new(flasher.into_connection().into_serial()))
}

/// What a failure to open the port means, and what to do.
fn open_error(name: &str, error: serialport::Error) -> anyhow::Error {
    use serialport::ErrorKind;
    let advice = match error.kind() {
        ErrorKind::NoDevice => "it is gone: is the board plugged in?".to_string(),
        ErrorKind::Io(std::io::ErrorKind::NotFound) => {
            "it does not exist: is the board plugged in?".to_string()
        }
        ErrorKind::Io(std::io::ErrorKind::PermissionDenied) => {
            "no permission: add yourself to the group that owns it (`sudo usermod -aG dialout \
             $USER`, then log in again)"
                .to_string()
        }
        _ if error.description.contains("busy") || error.description.contains("locked") => {
            "it is busy: another program (a serial monitor, another `cargo bluescript`) has it \
             open; close that program"
                .to_string()
        }
        _ => error.description.clone(),
    };
    anyhow!("cannot open the serial port {name}: {advice}")
}

/// What a failure to reach the ROM bootloader means, and what to do.
fn connect_error(name: &str, esp: EspChip, error: espflash::Error) -> anyhow::Error {
    let expected = chip(esp);
    match error {
        espflash::Error::ChipMismatch(_, detected) => anyhow!(
            "the chip on {name} is an {detected}, but this project is for the {expected}: change \
             `board` in `[package.metadata.bluescript]`, or connect an {expected}"
        ),
        espflash::Error::Connection(_) | espflash::Error::FlashConnect => anyhow!(
            "no ESP bootloader answers on {name} ({error}): hold the BOOT button, press RESET, \
             release BOOT, and flash again"
        ),
        other => anyhow!("cannot reach the {expected}'s bootloader on {name}: {other}"),
    }
}

/// espflash's progress callbacks as [`FlashEvent`]s: each segment (the
/// bootloader, the partition table, the application) is programmed, then
/// checked against its MD5.
struct Progress<'a> {
    report: &'a mut dyn FnMut(FlashEvent),
    phase: Option<FlashPhase>,
    done: usize,
}

impl<'a> Progress<'a> {
    fn new(report: &'a mut dyn FnMut(FlashEvent)) -> Progress<'a> {
        Progress {
            report,
            phase: None,
            done: 0,
        }
    }

    /// Reports the phase under way as failed.
    fn fail(&mut self) {
        if let Some(phase) = self.phase.take() {
            (self.report)(FlashEvent::Failed(phase));
        }
    }
}

impl ProgressCallbacks for Progress<'_> {
    fn init(&mut self, address: u32, total: usize) {
        (self.report)(FlashEvent::Message(format!(
            "{:.1} KiB at {address:#x}",
            total as f64 / 1024.0
        )));
        (self.report)(FlashEvent::Planned {
            phase: FlashPhase::Program,
            total: Some(total as u64),
        });
        (self.report)(FlashEvent::Started(FlashPhase::Program));
        self.phase = Some(FlashPhase::Program);
        self.done = 0;
    }

    fn update(&mut self, current: usize) {
        if let Some(phase) = self.phase {
            let bytes = current.saturating_sub(self.done) as u64;
            self.done = current.max(self.done);
            (self.report)(FlashEvent::Progress { phase, bytes });
        }
    }

    fn verifying(&mut self) {
        if let Some(phase) = self.phase.take() {
            (self.report)(FlashEvent::Finished(phase));
        }
        (self.report)(FlashEvent::Started(FlashPhase::Verify));
        self.phase = Some(FlashPhase::Verify);
    }

    fn finish(&mut self, skipped: bool) {
        if skipped {
            (self.report)(FlashEvent::Message(
                "unchanged since the last flash: skipped".into(),
            ));
        }
        if let Some(phase) = self.phase.take() {
            (self.report)(FlashEvent::Finished(phase));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usb(name: &str, vid: u16, pid: u16) -> SerialPortInfo {
        SerialPortInfo {
            port_name: name.into(),
            port_type: SerialPortType::UsbPort(UsbPortInfo {
                vid,
                pid,
                serial_number: None,
                manufacturer: None,
                product: Some("a USB device".into()),
                interface: None,
            }),
        }
    }

    fn plain(name: &str) -> SerialPortInfo {
        SerialPortInfo {
            port_name: name.into(),
            port_type: SerialPortType::Unknown,
        }
    }

    #[test]
    fn the_one_known_usb_serial_device_is_chosen() {
        let ports = [
            plain("/dev/ttyS0"),
            usb("/dev/ttyACM0", 0x2e8a, 0x000c), // a Raspberry Pi Debug Probe
            usb("/dev/ttyACM1", 0x303a, 0x1001),
        ];
        assert_eq!(choose_port(&ports, None).unwrap().port_name, "/dev/ttyACM1");
        let bridge = [plain("/dev/ttyS0"), usb("/dev/ttyUSB0", 0x10c4, 0xea60)];
        assert_eq!(
            choose_port(&bridge, None).unwrap().port_name,
            "/dev/ttyUSB0"
        );
    }

    #[test]
    fn the_serial_agent_is_reached_through_the_bridge_to_uart0() {
        // A DevKit with both connectors plugged in.
        let both = [
            usb("/dev/ttyACM0", 0x303a, 0x1001),
            usb("/dev/ttyUSB0", 0x10c4, 0xea60),
        ];
        assert_eq!(
            choose_agent_port(&both, None).unwrap().port_name,
            "/dev/ttyUSB0"
        );
        let error = choose_agent_port(&both, Some("/dev/ttyACM0"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("built-in USB-JTAG-serial") && error.contains("--transport debugger"),
            "{error}"
        );
        // Only the USB-JTAG: no port for the agent.
        let error = choose_agent_port(&both[..1], None).unwrap_err().to_string();
        assert!(error.contains("no ESP board found"), "{error}");
    }

    #[test]
    fn no_board_says_how_to_connect_one_and_lists_the_ports() {
        let error = choose_port(&[plain("/dev/ttyS0")], None)
            .unwrap_err()
            .to_string();
        assert!(error.contains("no ESP board found"), "{error}");
        assert!(error.contains("--port"), "{error}");
        assert!(error.contains("/dev/ttyS0"), "{error}");
        let none = choose_port(&[], None).unwrap_err().to_string();
        assert!(!none.contains("serial ports here"), "{none}");
    }

    #[test]
    fn several_boards_are_listed_with_their_kind() {
        let ports = [
            usb("/dev/ttyACM0", 0x303a, 0x1001),
            usb("/dev/ttyUSB0", 0x1a86, 0x7523),
        ];
        let error = choose_port(&ports, None).unwrap_err().to_string();
        assert!(error.contains("choose one with `--port`"), "{error}");
        assert!(
            error.contains("/dev/ttyACM0 (303a:1001 Espressif USB-JTAG-serial)")
                && error.contains("/dev/ttyUSB0 (1a86:7523 WCH CH340)"),
            "{error}"
        );
    }

    #[test]
    fn a_requested_port_must_exist() {
        let ports = [usb("/dev/ttyACM0", 0x303a, 0x1001), plain("/dev/ttyS0")];
        // Listed: taken as it is, known or not.
        assert_eq!(
            choose_port(&ports, Some("/dev/ttyS0")).unwrap().port_name,
            "/dev/ttyS0"
        );
        let error = choose_port(&ports, Some("/dev/ttyUSB7"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`/dev/ttyUSB7` does not exist") && error.contains("/dev/ttyACM0"),
            "{error}"
        );
        // Not listed but there (a pseudo-terminal, say): tried.
        let dir = tempfile::tempdir().unwrap();
        let unlisted = dir.path().join("ttyFAKE");
        std::fs::write(&unlisted, b"").unwrap();
        let name = unlisted.to_str().unwrap();
        assert_eq!(choose_port(&ports, Some(name)).unwrap().port_name, name);
    }

    #[test]
    fn opening_a_missing_or_forbidden_port_says_what_to_do() {
        let missing = serialport::Error::new(
            serialport::ErrorKind::Io(std::io::ErrorKind::NotFound),
            "No such file or directory",
        );
        let text = open_error("/dev/ttyACM0", missing).to_string();
        assert!(
            text.contains("/dev/ttyACM0") && text.contains("plugged in"),
            "{text}"
        );
        let forbidden = serialport::Error::new(
            serialport::ErrorKind::Io(std::io::ErrorKind::PermissionDenied),
            "Permission denied",
        );
        let text = open_error("/dev/ttyACM0", forbidden).to_string();
        assert!(text.contains("dialout"), "{text}");
        let busy =
            serialport::Error::new(serialport::ErrorKind::Unknown, "Device or resource busy");
        let text = open_error("/dev/ttyACM0", busy).to_string();
        assert!(text.contains("another program"), "{text}");
    }

    #[test]
    fn a_board_of_another_chip_is_named() {
        let error = espflash::Error::ChipMismatch("esp32c3".into(), "esp32c6".into());
        let text = connect_error("/dev/ttyACM0", EspChip::Esp32c3, error).to_string();
        assert!(
            text.contains("is an esp32c6") && text.contains("for the esp32c3"),
            "{text}"
        );
    }

    #[test]
    fn progress_is_a_program_and_a_verify_phase_per_segment() {
        let mut events = Vec::new();
        {
            let mut report = |event| events.push(event);
            let mut progress = Progress::new(&mut report);
            progress.init(0x10000, 8192);
            progress.update(4096);
            progress.update(8192);
            progress.verifying();
            progress.finish(false);
            progress.init(0x8000, 3072);
            progress.update(1024);
            progress.fail();
        }
        let programmed: u64 = events
            .iter()
            .map(|event| match event {
                FlashEvent::Progress {
                    phase: FlashPhase::Program,
                    bytes,
                } => *bytes,
                _ => 0,
            })
            .sum();
        assert_eq!(programmed, 8192 + 1024);
        assert!(events.contains(&FlashEvent::Finished(FlashPhase::Program)));
        assert!(events.contains(&FlashEvent::Finished(FlashPhase::Verify)));
        assert_eq!(
            events.last(),
            Some(&FlashEvent::Failed(FlashPhase::Program)),
            "{events:?}"
        );
    }
}
