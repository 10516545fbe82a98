//! Frames, the same both ways. A frame is COBS-encoded and ends with a 0x00
//! byte, so a receiver finds the next frame after noise or a cut. Decoded:
//!
//! ```text
//! u8  version (1)
//! u8  flags (bit 0: a MAC is present)
//! u16 sequence number
//! u8  op (request) or status (response: 0, or an `Error`)
//! u16 payload length
//!     payload
//! [u64 MAC: SipHash-2-4 with the key, over the host nonce, the device
//!      nonce and everything above]
//! u32 CRC-32 (ISO-HDLC) over everything above
//! ```
//!
//! Multi-byte fields are little-endian.

use crate::{Key, MAX_PAYLOAD, VERSION};
use core::hash::Hasher;
use crc::{Crc, Digest, NoTable, CRC_32_ISO_HDLC};
use siphasher::sip::SipHasher24;

/// Bytes before the payload.
pub const HEADER_LEN: usize = 7;
pub const MAC_LEN: usize = 8;
pub const CRC_LEN: usize = 4;
/// The longest decoded frame.
pub const MAX_FRAME: usize = HEADER_LEN + MAX_PAYLOAD + MAC_LEN + CRC_LEN;
/// The longest encoded frame, delimiters included (a request starts with
/// one too): COBS adds one byte per 254 and one at the start.
pub const MAX_ENCODED: usize = MAX_FRAME + MAX_FRAME / 254 + 3;

const FLAG_MAC: u8 = 1;

/// Bitwise: no table in the device's flash (frames are short).
static CRC32: Crc<u32, NoTable> = Crc::<u32, NoTable>::new(&CRC_32_ISO_HDLC);

/// The MAC's hasher for a session, fed the nonces: the frame follows.
pub fn mac_hasher(key: &Key, host_nonce: u64, device_nonce: u64) -> SipHasher24 {
    let mut hasher = SipHasher24::new_with_key(key);
    feed(&mut hasher, &host_nonce.to_le_bytes());
    feed(&mut hasher, &device_nonce.to_le_bytes());
    hasher
}

/// Feeds `bytes` to `hasher`. Every caller goes through this one function,
/// so the device's flash holds one copy of SipHash's `write` rather than
/// one specialized for each length.
#[inline(never)]
pub(crate) fn feed(hasher: &mut SipHasher24, bytes: &[u8]) {
    hasher.write(bytes);
}

/// `hasher`'s hash, through one function for the same reason as [`feed`]
/// (SipHash's finalization rounds, inlined, take half a KiB each time).
#[inline(never)]
pub(crate) fn digest(hasher: &SipHasher24) -> u64 {
    hasher.finish()
}

/// A frame being written, COBS-encoded on the fly into a buffer, with its
/// MAC (when `mac` is given) and CRC computed on the way.
pub struct Encoder<'a> {
    out: &'a mut [u8],
    len: usize,
    /// Where the current COBS block's code byte goes.
    code_at: usize,
    code: u8,
    crc: Digest<'static, u32, NoTable>,
    mac: Option<SipHasher24>,
}

impl<'a> Encoder<'a> {
    /// Starts a frame of `payload_len` bytes of payload into `out` (at least
    /// [`MAX_ENCODED`] long).
    pub fn new(
        out: &'a mut [u8],
        seq: u16,
        code: u8,
        payload_len: usize,
        mac: Option<SipHasher24>,
    ) -> Encoder<'a> {
        let mut encoder = Encoder {
            out,
            len: 1,
            code_at: 0,
            code: 1,
            crc: CRC32.digest(),
            mac,
        };
        let flags = if encoder.mac.is_some() { FLAG_MAC } else { 0 };
        let [seq_low, seq_high] = seq.to_le_bytes();
        let [len_low, len_high] = (payload_len as u16).to_le_bytes();
        encoder.push(&[VERSION, flags, seq_low, seq_high, code, len_low, len_high]);
        encoder
    }

    /// Appends payload bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.crc.update(bytes);
        if let Some(mac) = &mut self.mac {
            feed(mac, bytes);
        }
        self.stuff(bytes);
    }

    fn stuff(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if byte != 0 {
                self.out[self.len] = byte;
                self.len += 1;
                self.code += 1;
            }
            if byte == 0 || self.code == 0xff {
                self.out[self.code_at] = self.code;
                self.code_at = self.len;
                self.len += 1;
                self.code = 1;
            }
        }
    }

    /// Appends the MAC and CRC and the delimiter; the encoded length.
    pub fn finish(mut self) -> usize {
        if let Some(mac) = self.mac.take() {
            self.push(&digest(&mac).to_le_bytes());
        }
        let crc = self.crc.clone().finalize();
        self.stuff(&crc.to_le_bytes());
        self.out[self.code_at] = self.code;
        self.out[self.len] = 0;
        self.len + 1
    }
}

/// Collects received bytes into frames: everything up to a 0x00, decoded in
/// place. A frame too long for the buffer is dropped whole.
pub struct Decoder<const N: usize> {
    buffer: [u8; N],
    len: usize,
    overflow: bool,
}

impl<const N: usize> Default for Decoder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Decoder<N> {
    pub const fn new() -> Decoder<N> {
        Decoder {
            buffer: [0; N],
            len: 0,
            overflow: false,
        }
    }

    /// Takes one received byte; at a delimiter, the length of the decoded
    /// frame (not yet checked, in [`Decoder::frame`]) if the bytes before it
    /// were valid COBS.
    pub fn push(&mut self, byte: u8) -> Option<usize> {
        if byte != 0 {
            if self.len < N {
                self.buffer[self.len] = byte;
                self.len += 1;
            } else {
                self.overflow = true;
            }
            return None;
        }
        let (len, overflow) = (self.len, self.overflow);
        self.len = 0;
        self.overflow = false;
        if overflow || len == 0 {
            return None;
        }
        cobs_decode_in_place(&mut self.buffer[..len])
    }

    /// The first `len` bytes of the buffer: a decoded frame after
    /// [`Decoder::push`] returned its length.
    pub fn frame(&self, len: usize) -> &[u8] {
        &self.buffer[..len]
    }

    /// The buffer, free for other uses until the next byte is pushed.
    pub fn frame_mut(&mut self, len: usize) -> &mut [u8] {
        &mut self.buffer[..len]
    }

    /// Drops a partly received frame.
    pub fn clear(&mut self) {
        self.len = 0;
        self.overflow = false;
    }
}

/// Decodes COBS in place (the output is never longer than the input); the
/// decoded length, or `None` if the bytes are not valid COBS.
fn cobs_decode_in_place(buffer: &mut [u8]) -> Option<usize> {
    let (mut read, mut write) = (0, 0);
    while read < buffer.len() {
        let code = buffer[read] as usize;
        if code == 0 || read + code > buffer.len() {
            return None;
        }
        // Forward, byte by byte (`write` never passes `read`): no `memmove`
        // in the device's flash for the sake of a few bytes.
        for from in read + 1..read + code {
            buffer[write] = buffer[from];
            write += 1;
        }
        read += code;
        if code < 0xff && read < buffer.len() {
            buffer[write] = 0;
            write += 1;
        }
    }
    Some(write)
}

/// A decoded frame whose CRC and length are right (its MAC is not checked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub seq: u16,
    /// The op of a request, the status of a response.
    pub code: u8,
    pub payload: &'a [u8],
    pub mac: Option<[u8; MAC_LEN]>,
    /// What the MAC covers: the header and the payload.
    pub covered: &'a [u8],
    /// The frame's CRC: two frames with the same are taken for the same.
    pub crc: u32,
}

/// Why a decoded frame was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Damaged: a wrong CRC or length. Nothing in it can be trusted.
    Corrupt,
    /// Intact but of another protocol version; its sequence number.
    Version(u16),
}

impl<'a> Frame<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        if bytes.len() < HEADER_LEN + CRC_LEN {
            return Err(FrameError::Corrupt);
        }
        let (body, crc) = bytes.split_at(bytes.len() - CRC_LEN);
        let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        if CRC32.checksum(body) != crc {
            return Err(FrameError::Corrupt);
        }
        let seq = u16::from_le_bytes([body[2], body[3]]);
        if body[0] != VERSION {
            return Err(FrameError::Version(seq));
        }
        let mac_len = if body[1] & FLAG_MAC != 0 { MAC_LEN } else { 0 };
        let payload_len = u16::from_le_bytes([body[5], body[6]]) as usize;
        if body.len() != HEADER_LEN + payload_len + mac_len || payload_len > MAX_PAYLOAD {
            return Err(FrameError::Corrupt);
        }
        let (covered, mac) = body.split_at(HEADER_LEN + payload_len);
        Ok(Frame {
            seq,
            code: body[4],
            payload: &covered[HEADER_LEN..],
            mac: mac.try_into().ok(),
            covered,
            crc,
        })
    }

    /// Whether the frame carries the MAC `hasher` (fed the session's nonces)
    /// computes.
    pub fn authentic(&self, mut hasher: SipHasher24) -> bool {
        feed(&mut hasher, self.covered);
        let Some(mac) = self.mac else {
            return false;
        };
        // Compared in constant time: how long a refusal takes says nothing
        // of how many bytes of a forged MAC were right.
        let expected = digest(&hasher).to_le_bytes();
        mac.iter()
            .zip(expected)
            .fold(0, |diff, (a, b)| diff | (a ^ b))
            == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(
        seq: u16,
        code: u8,
        payload: &[u8],
        mac: Option<SipHasher24>,
    ) -> ([u8; MAX_ENCODED], usize) {
        let mut out = [0; MAX_ENCODED];
        let mut encoder = Encoder::new(&mut out, seq, code, payload.len(), mac);
        encoder.push(payload);
        let len = encoder.finish();
        (out, len)
    }

    fn decode_all(bytes: &[u8], mut found: impl FnMut(&[u8])) {
        let mut decoder = Decoder::<MAX_ENCODED>::new();
        for &byte in bytes {
            if let Some(len) = decoder.push(byte) {
                found(decoder.frame(len));
            }
        }
    }

    /// Payloads with zeros, runs of 254 and 255 non-zero bytes, and the
    /// longest.
    fn payloads() -> [[u8; MAX_PAYLOAD]; 4] {
        let mut runs = [1; MAX_PAYLOAD];
        runs[254] = 0;
        [
            [0; MAX_PAYLOAD],
            [0xff; MAX_PAYLOAD],
            core::array::from_fn(|i| i as u8),
            runs,
        ]
    }

    #[test]
    fn frames_round_trip_with_and_without_a_mac() {
        let key = [7; 16];
        for payload in payloads() {
            for len in [0, 1, 200, 245, 246, 247, MAX_PAYLOAD] {
                for mac in [None, Some(mac_hasher(&key, 1, 2))] {
                    let (out, encoded) = encode(0x1234, 3, &payload[..len], mac);
                    assert!(encoded <= MAX_ENCODED);
                    assert_eq!(out[encoded - 1], 0);
                    assert!(!out[..encoded - 1].contains(&0));
                    let mut frames = 0;
                    decode_all(&out[..encoded], |bytes| {
                        let frame = Frame::parse(bytes).unwrap();
                        assert_eq!((frame.seq, frame.code), (0x1234, 3));
                        assert_eq!(frame.payload, &payload[..len]);
                        assert_eq!(frame.mac.is_some(), mac.is_some());
                        if mac.is_some() {
                            assert!(frame.authentic(mac_hasher(&key, 1, 2)));
                            assert!(!frame.authentic(mac_hasher(&key, 1, 3)));
                            assert!(!frame.authentic(mac_hasher(&[8; 16], 1, 2)));
                        }
                        frames += 1;
                    });
                    assert_eq!(frames, 1);
                }
            }
        }
    }

    #[test]
    fn every_corrupted_byte_is_detected() {
        let payload: [u8; 40] = core::array::from_fn(|i| (i * 37) as u8);
        let (out, len) = encode(9, 2, &payload, Some(mac_hasher(&[1; 16], 5, 6)));
        for position in 0..len {
            for flip in [0x01, 0x80, 0xff] {
                let mut damaged = out;
                damaged[position] ^= flip;
                decode_all(&damaged[..len], |bytes| {
                    assert_eq!(
                        Frame::parse(bytes).map(|f| f.seq),
                        Err(FrameError::Corrupt),
                        "byte {position} ^ {flip:#x}"
                    );
                });
            }
        }
    }

    #[test]
    fn the_decoder_resynchronizes_after_garbage_and_cuts() {
        let (first, first_len) = encode(1, 2, b"first", None);
        let (second, second_len) = encode(2, 2, b"second", None);
        let mut stream = [0u8; 2 * MAX_ENCODED + 600];
        let mut len = 0;
        // Half a frame, noise, a run longer than any frame, then frames.
        for &byte in first[..first_len / 2]
            .iter()
            .chain(&[0x13, 0x37, 0x00, 0x05])
            .chain(&[0x42; 500])
            .chain(&[0])
            .chain(&first[..first_len])
            .chain(&second[..second_len])
        {
            stream[len] = byte;
            len += 1;
        }
        let mut seen = [0u16; 4];
        let mut count = 0;
        decode_all(&stream[..len], |bytes| {
            if let Ok(frame) = Frame::parse(bytes) {
                seen[count] = frame.seq;
                count += 1;
            }
        });
        assert_eq!(&seen[..count], &[1, 2]);
    }

    #[test]
    fn another_version_is_told_apart_from_damage() {
        let (out, len) = encode(77, 2, b"x", None);
        let mut bytes = [0; MAX_ENCODED];
        let mut decoder = Decoder::<MAX_ENCODED>::new();
        let mut decoded = 0;
        for &byte in &out[..len] {
            if let Some(len) = decoder.push(byte) {
                decoded = len;
                bytes[..decoded].copy_from_slice(decoder.frame(len));
            }
        }
        bytes[0] = 2;
        let crc = CRC32.checksum(&bytes[..decoded - 4]).to_le_bytes();
        bytes[decoded - 4..decoded].copy_from_slice(&crc);
        assert_eq!(
            Frame::parse(&bytes[..decoded]),
            Err(FrameError::Version(77))
        );
        assert_eq!(Frame::parse(&bytes[..3]), Err(FrameError::Corrupt));
    }
}
