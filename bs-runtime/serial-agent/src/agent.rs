//! The device side: a state machine fed the bytes the UART received, which
//! answers each request frame and acts on the device through [`Target`].

use crate::frame::{
    digest, feed, mac_hasher, Decoder, Encoder, Frame, FrameError, HEADER_LEN, MAX_ENCODED,
};
use crate::{Error, Key, Op, MAX_PAYLOAD};
use siphasher::sip::SipHasher24;

/// One of the program's output streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What the device says of itself in a HELLO, and of its program with its
/// output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceStatus {
    /// The image's build id.
    pub build_id: u32,
    /// The patch epoch (`__bs_patch_epoch`).
    pub patch_epoch: u32,
    /// The program's state (`__bs_state`).
    pub state: u32,
    /// Run-time errors since boot.
    pub errors: u32,
}

/// The `(address, value)` words of a COMMIT: 8 bytes each, little-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Words<'a> {
    /// In the frame.
    Inline(&'a [u8]),
    /// `count` words at `address` in the device's memory, where the host
    /// wrote them (and read them back) before.
    Stored { address: u32, count: u16 },
}

impl Words<'_> {
    /// The words of a list of `(address, value)` pairs as bytes.
    pub fn pairs(bytes: &[u8]) -> impl Iterator<Item = (u32, u32)> + '_ {
        bytes.chunks_exact(8).map(|pair| {
            (
                u32::from_le_bytes([pair[0], pair[1], pair[2], pair[3]]),
                u32::from_le_bytes([pair[4], pair[5], pair[6], pair[7]]),
            )
        })
    }
}

/// What the agent needs of the device.
pub trait Target {
    /// Reads `buf.len()` bytes at `address`; [`Error::BadAddress`] outside
    /// the memory the agent may read.
    fn read(&mut self, address: u32, buf: &mut [u8]) -> Result<(), Error>;

    /// Writes `data` at `address`; [`Error::BadAddress`] outside the memory
    /// the agent may write.
    fn write(&mut self, address: u32, data: &[u8]) -> Result<(), Error>;

    /// Writes every word (each address 4-byte aligned, checked by the agent
    /// for inline words) so that the program sees all of them or none:
    /// check every address first (a bad one fails the whole commit with
    /// nothing written), then write them with interrupts masked.
    fn commit(&mut self, words: Words<'_>) -> Result<(), Error>;

    /// Stops the program at a point where it may be stopped (`true`), or
    /// lets it go on (`false`). Meanwhile the agent must go on being fed.
    fn hold(&mut self, held: bool);

    /// Takes up to `buf.len()` bytes the program wrote to `stream`; how many.
    fn output(&mut self, stream: Stream, buf: &mut [u8]) -> usize;

    /// The image's identity and the program's state.
    fn status(&mut self) -> DeviceStatus;

    /// A clock in milliseconds (wrapping), for the HOLD timeout.
    fn now_ms(&mut self) -> u32;

    /// Bits that differ from one boot and one session to the next (a cycle
    /// counter when the frame arrived, a word of RAM that survives resets
    /// incremented at each boot): the device's session nonces come from
    /// them, and a replayed session must not meet the same nonce.
    fn entropy(&mut self) -> u64;
}

struct Session {
    host_nonce: u64,
    device_nonce: u64,
    /// The last request executed, and its CRC: its retransmission gets the
    /// cached response.
    last_seq: u16,
    last_crc: u32,
}

struct Hold {
    timeout_ms: u32,
    /// When the last authentic frame came.
    since_ms: u32,
}

/// The device side of the protocol.
pub struct Agent {
    key: Option<Key>,
    rx: Decoder<MAX_ENCODED>,
    /// The response to the session's last request, kept for a
    /// retransmission.
    tx: [u8; MAX_ENCODED],
    tx_len: usize,
    session: Option<Session>,
    hold: Option<Hold>,
    /// Sessions started since boot, mixed into the device nonce.
    sessions: u64,
}

impl Agent {
    /// An agent that requires frames authenticated with `key`, or any
    /// frame without one.
    pub const fn new(key: Option<Key>) -> Agent {
        Agent {
            key,
            rx: Decoder::new(),
            tx: [0; MAX_ENCODED],
            tx_len: 0,
            session: None,
            hold: None,
            sessions: 0,
        }
    }

    /// Whether the program is held.
    pub fn held(&self) -> bool {
        self.hold.is_some()
    }

    /// Lets a held program go on once no frame came for the HOLD's timeout:
    /// a cut link never leaves the program stopped. Call it while held.
    pub fn poll(&mut self, target: &mut impl Target) {
        if let Some(hold) = &self.hold {
            if target.now_ms().wrapping_sub(hold.since_ms) >= hold.timeout_ms {
                self.release(target);
            }
        }
    }

    fn release(&mut self, target: &mut impl Target) {
        if self.hold.take().is_some() {
            target.hold(false);
        }
    }

    /// Takes one received byte; when it completes a request, the response
    /// to send (none for a damaged frame: the host sends it again).
    pub fn receive(&mut self, byte: u8, target: &mut impl Target) -> Option<&[u8]> {
        let len = self.rx.push(byte)?;
        match self.handle(len, target)? {
            Reply::Cached(len) => Some(&self.tx[..len]),
            Reply::Refusal(len) => Some(self.rx.frame(len)),
        }
    }

    fn handle(&mut self, len: usize, target: &mut impl Target) -> Option<Reply> {
        let frame = match Frame::parse(self.rx.frame(len)) {
            Ok(frame) => frame,
            Err(FrameError::Corrupt) => return None,
            Err(FrameError::Version(seq)) => return Some(self.refuse(seq, Error::Version)),
        };
        let (seq, crc, payload_len) = (frame.seq, frame.crc, frame.payload.len());
        if let Some(session) = &self.session {
            if (session.last_seq, session.last_crc) == (seq, crc) && self.tx_len > 0 {
                return Some(Reply::Cached(self.tx_len));
            }
        }
        let Some(op) = Op::from_byte(frame.code) else {
            return Some(self.refuse(seq, Error::Malformed));
        };
        // The nonces the MAC covers: a HELLO has only the host's.
        let (host_nonce, device_nonce) = if op == Op::Hello {
            match <[u8; 8]>::try_from(frame.payload) {
                Ok(nonce) => (u64::from_le_bytes(nonce), 0),
                Err(_) => return Some(self.refuse(seq, Error::Malformed)),
            }
        } else {
            match &self.session {
                Some(session) => (session.host_nonce, session.device_nonce),
                None => return Some(self.refuse(seq, Error::NoSession)),
            }
        };
        let key = self.key;
        if key.is_some_and(|key| !frame.authentic(mac_hasher(&key, host_nonce, device_nonce))) {
            return Some(self.refuse(seq, Error::Unauthenticated));
        }
        if op == Op::Hello {
            return Some(self.hello(seq, crc, host_nonce, target));
        }
        if self.session.as_ref().is_some_and(|s| seq <= s.last_seq) {
            return Some(self.refuse(seq, Error::Stale));
        }
        if let Some(hold) = &mut self.hold {
            hold.since_ms = target.now_ms();
        }
        let (status, reply_len) = self.execute(op, payload_len, target);
        if let Some(session) = &mut self.session {
            session.last_seq = seq;
            session.last_crc = crc;
        }
        let mac = key.map(|key| mac_hasher(&key, host_nonce, device_nonce));
        self.tx_len = respond(&mut self.tx, seq, status, self.rx.frame(reply_len), mac);
        Some(Reply::Cached(self.tx_len))
    }

    /// Runs a request whose payload (`len` bytes) is in the receive buffer;
    /// its status, and the length of the response's payload, left at the
    /// start of the receive buffer.
    fn execute(&mut self, op: Op, len: usize, target: &mut impl Target) -> (u8, usize) {
        let payload = &self.rx.frame(HEADER_LEN + len)[HEADER_LEN..];
        let word = |i: usize| {
            u32::from_le_bytes([payload[i], payload[i + 1], payload[i + 2], payload[i + 3]])
        };
        let half = |i: usize| u16::from_le_bytes([payload[i], payload[i + 1]]);
        let result = match op {
            Op::Read if len == 6 => {
                let (address, count) = (word(0), half(4) as usize);
                if count > MAX_PAYLOAD {
                    Err(Error::TooLong)
                } else {
                    let buffer = &mut self.rx.frame_mut(count)[..count];
                    target.read(address, buffer).map(|()| count)
                }
            }
            Op::Write if len >= 4 => target.write(word(0), &payload[4..]).map(|()| 0),
            Op::Commit if len > 0 && len.is_multiple_of(8) => {
                if Words::pairs(payload).any(|(address, _)| !address.is_multiple_of(4)) {
                    Err(Error::Unaligned)
                } else {
                    target.commit(Words::Inline(payload)).map(|()| 0)
                }
            }
            Op::CommitStored if len == 6 && half(4) > 0 => {
                let words = Words::Stored {
                    address: word(0),
                    count: half(4),
                };
                target.commit(words).map(|()| 0)
            }
            Op::Hold if len == 2 && half(0) > 0 => {
                let timeout_ms = half(0) as u32;
                if self.hold.is_none() {
                    target.hold(true);
                }
                let since_ms = target.now_ms();
                self.hold = Some(Hold {
                    timeout_ms,
                    since_ms,
                });
                Ok(0)
            }
            Op::Release if len == 0 => {
                self.release(target);
                Ok(0)
            }
            Op::Output if len == 0 => Ok(drain(self.rx.frame_mut(MAX_PAYLOAD), target)),
            _ => Err(Error::Malformed),
        };
        match result {
            Ok(reply_len) => (0, reply_len),
            Err(error) => (error as u8, 0),
        }
    }

    /// Starts a session: the host's nonce in, the device's nonce and status
    /// out, both under the MAC. A retransmitted HELLO gets the cached
    /// response; a new one (or a replayed old one) starts a new session,
    /// and the frames of the one before are refused from then on.
    fn hello(&mut self, seq: u16, crc: u32, host_nonce: u64, target: &mut impl Target) -> Reply {
        self.sessions += 1;
        let mut nonce = SipHasher24::new_with_key(&self.key.unwrap_or_default());
        feed(&mut nonce, &self.sessions.to_le_bytes());
        feed(&mut nonce, &target.entropy().to_le_bytes());
        feed(&mut nonce, &host_nonce.to_le_bytes());
        let device_nonce = digest(&nonce);
        let status = target.status();
        let mut payload = [0; HELLO_LEN];
        payload[..8].copy_from_slice(&device_nonce.to_le_bytes());
        payload[8..10].copy_from_slice(&(MAX_PAYLOAD as u16).to_le_bytes());
        payload[10] = self.key.is_some() as u8;
        let words = [
            status.build_id,
            status.patch_epoch,
            status.state,
            status.errors,
        ];
        for (i, word) in words.into_iter().enumerate() {
            payload[11 + 4 * i..15 + 4 * i].copy_from_slice(&word.to_le_bytes());
        }
        self.session = Some(Session {
            host_nonce,
            device_nonce,
            last_seq: seq,
            last_crc: crc,
        });
        let mac = self
            .key
            .map(|key| mac_hasher(&key, host_nonce, device_nonce));
        self.tx_len = respond(&mut self.tx, seq, 0, &payload, mac);
        Reply::Cached(self.tx_len)
    }

    /// Answers a request that was not executed, without a MAC (there may be
    /// no session to compute one with). It goes out of the receive buffer,
    /// free by then, so that the cached response survives.
    fn refuse(&mut self, seq: u16, error: Error) -> Reply {
        Reply::Refusal(respond(
            self.rx.frame_mut(MAX_ENCODED),
            seq,
            error as u8,
            &[],
            None,
        ))
    }
}

/// The length of a HELLO response's payload.
pub(crate) const HELLO_LEN: usize = 27;

/// Where a response is: the cached one in the transmit buffer, a refusal in
/// the receive buffer.
enum Reply {
    Cached(usize),
    Refusal(usize),
}

/// Fills `buffer` with the program's state and error count, the length of
/// its stderr bytes, and its stderr and stdout bytes; the length used.
fn drain(buffer: &mut [u8], target: &mut impl Target) -> usize {
    let stderr = target.output(Stream::Stderr, &mut buffer[10..]);
    let stdout = target.output(Stream::Stdout, &mut buffer[10 + stderr..]);
    let status = target.status();
    buffer[..4].copy_from_slice(&status.state.to_le_bytes());
    buffer[4..8].copy_from_slice(&status.errors.to_le_bytes());
    buffer[8..10].copy_from_slice(&(stderr as u16).to_le_bytes());
    10 + stderr + stdout
}

fn respond(
    out: &mut [u8],
    seq: u16,
    status: u8,
    payload: &[u8],
    mac: Option<SipHasher24>,
) -> usize {
    let mut encoder = Encoder::new(out, seq, status, payload.len(), mac);
    encoder.push(payload);
    encoder.finish()
}
