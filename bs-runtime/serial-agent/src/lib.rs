//! The serial agent: a small framed protocol through which the host reads
//! and writes a running device's memory, switches its function slots
//! atomically, holds the program and drains its output, over a UART or USB
//! CDC (docs/serial-agent.md is the specification).
//!
//! - [`frame`]: the frames of both directions (COBS with a 0x00 delimiter,
//!   header, payload, an optional SipHash-2-4 MAC, CRC-32);
//! - [`Agent`]: the device side, a state machine fed received bytes that
//!   produces response bytes and acts on the device through [`Target`];
//! - [`Client`]: the host side's frames, without I/O.
//!
//! The same code runs on the device and in the host's tests, where an
//! `Agent` over simulated memory stands for the device.

#![no_std]

#[cfg(any(test, feature = "std"))]
extern crate std;

mod agent;
mod client;
pub mod frame;
#[cfg(any(test, feature = "std"))]
pub mod memory;
#[cfg(test)]
mod tests_session;

pub use agent::{Agent, DeviceStatus, Stream, Target, Words};
pub use client::{Client, ClientError, Hello, Response};

/// The protocol version, the first byte of every frame.
pub const VERSION: u8 = 1;

/// The largest payload of a frame, either way.
pub const MAX_PAYLOAD: usize = 256;

/// The largest number of `(address, value)` words one COMMIT frame carries
/// inline; longer lists are written to the device's memory first.
pub const MAX_INLINE_WORDS: usize = MAX_PAYLOAD / 8;

/// A 128-bit key shared by the host and the device.
pub type Key = [u8; 16];

/// An enum of codes that travel as one byte, with `from_byte`.
macro_rules! byte_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$doc:meta])* $variant:ident = $value:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub enum $name {
            $($(#[$doc])* $variant = $value,)*
        }

        impl $name {
            pub fn from_byte(byte: u8) -> Option<$name> {
                match byte {
                    $($value => Some($name::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

byte_enum! {
    /// A request's operation.
    pub enum Op {
        /// Host nonce (u64) → the session's device nonce and the device's
        /// identity ([`Hello`]). Starts a session.
        Hello = 1,
        /// Address (u32), length (u16) → the bytes.
        Read = 2,
        /// Address (u32), bytes → nothing.
        Write = 3,
        /// `n` × (address u32, value u32) aligned words, applied at once.
        Commit = 4,
        /// Address (u32) and count (u16) of a list of `(address, value)` words
        /// in the device's memory (written there before), applied at once.
        CommitStored = 5,
        /// Timeout in milliseconds (u16) → nothing: the program stops until
        /// RELEASE, or until no frame came for that long.
        Hold = 6,
        /// Nothing → nothing: the program runs again.
        Release = 7,
        /// Nothing → the program's state and error count (2 × u32), the length
        /// of its stderr bytes (u16), then its stderr and stdout bytes.
        Output = 8,
    }
}

byte_enum! {
    /// Why the device refused a request: the status byte of a response,
    /// which is 0 on success.
    pub enum Error {
        /// The frame's MAC is missing or wrong: nothing was executed.
        Unauthenticated = 1,
        /// No session: the host must say HELLO first.
        NoSession = 2,
        /// The sequence number is not above the last one of the session (a
        /// replay, or a frame from before): nothing was executed.
        Stale = 3,
        /// The payload does not fit the operation, or the operation is unknown.
        Malformed = 4,
        /// The address range is not memory the agent may access.
        BadAddress = 5,
        /// More bytes than a frame holds.
        TooLong = 6,
        /// A committed word's address is not 4-byte aligned.
        Unaligned = 7,
        /// The frame's protocol version is not this one.
        Version = 8,
    }
}

impl Error {
    pub fn describe(self) -> &'static str {
        match self {
            Error::Unauthenticated => "the frame's MAC is missing or wrong (is the key the device was built with the project's?)",
            Error::NoSession => "no session (the device restarted?)",
            Error::Stale => "a sequence number the device already saw",
            Error::Malformed => "a malformed request",
            Error::BadAddress => "an address the device does not have",
            Error::TooLong => "a request longer than a frame holds",
            Error::Unaligned => "a word address that is not 4-byte aligned",
            Error::Version => "another version of the protocol",
        }
    }
}

/// Parses a key written as 32 hexadecimal digits (surrounding whitespace
/// allowed). `const`, so a device build can turn an environment variable
/// into its key at compile time.
pub const fn key_from_hex(text: &str) -> Option<Key> {
    let bytes = text.as_bytes();
    let (mut start, mut end) = (0, bytes.len());
    while start < end && bytes[start].is_ascii_whitespace() {
        start += 1;
    }
    while end > start && bytes[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    if end - start != 32 {
        return None;
    }
    let mut key = [0; 16];
    let mut i = 0;
    while i < 16 {
        let (Some(high), Some(low)) = (
            hex_digit(bytes[start + 2 * i]),
            hex_digit(bytes[start + 2 * i + 1]),
        ) else {
            return None;
        };
        key[i] = high << 4 | low;
        i += 1;
    }
    Some(key)
}

const fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_32_hex_digits() {
        let key = key_from_hex(" 000102030405060708090a0b0c0d0E0f\n").unwrap();
        assert_eq!(key, core::array::from_fn(|i| i as u8));
        assert_eq!(key_from_hex("0001"), None);
        assert_eq!(key_from_hex("g00102030405060708090a0b0c0d0e0f"), None);
        const KEY: Option<Key> = key_from_hex("ffffffffffffffffffffffffffffffff");
        assert_eq!(KEY, Some([0xff; 16]));
    }

    #[test]
    fn codes_round_trip() {
        for byte in 0..=255 {
            if let Some(op) = Op::from_byte(byte) {
                assert_eq!(op as u8, byte);
            }
            if let Some(error) = Error::from_byte(byte) {
                assert_eq!(error as u8, byte);
                assert!(!error.describe().is_empty());
            }
        }
        assert_eq!(Error::from_byte(0), None);
    }
}
