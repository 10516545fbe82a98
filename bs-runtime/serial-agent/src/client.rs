//! The host side: building requests and checking responses, without I/O
//! (the host's transport sends and receives the bytes, and retries).

use crate::agent::HELLO_LEN;
use crate::frame::{mac_hasher, Encoder, Frame, FrameError};
use crate::{Error, Key, Op, MAX_PAYLOAD};

/// The smallest payload a device may announce as its largest.
pub const MIN_PAYLOAD: usize = 16;

/// What a device says when a session starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The largest payload it takes in a frame.
    pub max_payload: usize,
    /// Whether it refuses frames without a MAC.
    pub key_required: bool,
    pub status: crate::DeviceStatus,
}

/// A checked response to the request awaited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response<'a> {
    /// Done; the response's payload.
    Done(&'a [u8]),
    /// Refused or failed, with why.
    Refused(Error),
}

/// Why a received frame is not the response awaited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// Damaged on the way: wait for it again (or retransmit).
    Corrupt,
    /// A response to another request (an earlier retransmission's): skip it.
    OtherSequence(u16),
    /// An OK response without the session's MAC: not the device's, skip it.
    Unauthenticated,
    /// The device speaks another version of the protocol.
    Version,
    /// A response that does not fit its request.
    Malformed,
    /// The device refuses frames without a MAC, and the host has no key.
    KeyRequired,
    /// The device refused the host's key: it was built with another.
    WrongKey,
    /// The host has a key, but the device was built without one: it would
    /// take anyone's frames.
    DeviceHasNoKey,
    /// A request before the session was started (or after it ran out of
    /// sequence numbers): say HELLO.
    NoSession,
}

/// The host's end of a session.
pub struct Client {
    key: Option<Key>,
    /// The host's and the device's nonces.
    nonces: Option<(u64, u64)>,
    /// The last sequence number used.
    seq: u16,
    max_payload: usize,
}

impl Client {
    pub fn new(key: Option<Key>) -> Client {
        Client {
            key,
            nonces: None,
            seq: 0,
            max_payload: MAX_PAYLOAD,
        }
    }

    /// The largest payload of a request in this session.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Forgets the session (the device lost it): the next request needs a
    /// HELLO first.
    pub fn end_session(&mut self) {
        self.nonces = None;
    }

    /// Whether a session is started and has sequence numbers left.
    pub fn in_session(&self) -> bool {
        self.nonces.is_some() && self.seq < u16::MAX
    }

    /// Encodes a HELLO with a fresh `host_nonce` into `out` (at least
    /// [`crate::frame::MAX_ENCODED`] bytes); its sequence number and encoded
    /// length. The session before ends.
    ///
    /// Requests start with a delimiter too, which ends whatever the device
    /// received before (a frame cut short, noise) so that it does not run
    /// into this one.
    pub fn hello(&mut self, host_nonce: u64, out: &mut [u8]) -> (u16, usize) {
        self.nonces = None;
        self.seq = 0;
        let mac = self.key.map(|key| mac_hasher(&key, host_nonce, 0));
        let (delimiter, out) = out.split_at_mut(1);
        delimiter[0] = 0;
        let mut encoder = Encoder::new(out, 0, Op::Hello as u8, 8, mac);
        encoder.push(&host_nonce.to_le_bytes());
        (0, 1 + encoder.finish())
    }

    /// Checks the response to the HELLO with `host_nonce` and starts the
    /// session.
    pub fn accept_hello(&mut self, bytes: &[u8], host_nonce: u64) -> Result<Hello, ClientError> {
        let frame = parse(bytes, 0)?;
        if frame.code != 0 {
            return Err(match Error::from_byte(frame.code) {
                Some(Error::Unauthenticated) if self.key.is_none() => ClientError::KeyRequired,
                Some(Error::Unauthenticated) => ClientError::WrongKey,
                Some(Error::Version) => ClientError::Version,
                _ => ClientError::Malformed,
            });
        }
        let payload: &[u8; HELLO_LEN] = frame
            .payload
            .try_into()
            .map_err(|_| ClientError::Malformed)?;
        let word = |i: usize| u32::from_le_bytes(payload[i..i + 4].try_into().expect("4 bytes"));
        let device_nonce = u64::from_le_bytes(payload[..8].try_into().expect("8 bytes"));
        let key_required = payload[10] & 1 != 0;
        match self.key {
            Some(_) if !key_required => return Err(ClientError::DeviceHasNoKey),
            Some(key) if !frame.authentic(mac_hasher(&key, host_nonce, device_nonce)) => {
                return Err(ClientError::Unauthenticated)
            }
            None if key_required => return Err(ClientError::KeyRequired),
            _ => {}
        }
        let max_payload = u16::from_le_bytes([payload[8], payload[9]]) as usize;
        // Room for a READ or a WRITE's address and some bytes at least.
        if max_payload < MIN_PAYLOAD {
            return Err(ClientError::Malformed);
        }
        self.max_payload = max_payload.min(MAX_PAYLOAD);
        self.nonces = Some((host_nonce, device_nonce));
        self.seq = 0;
        Ok(Hello {
            max_payload: self.max_payload,
            key_required,
            status: crate::DeviceStatus {
                build_id: word(11),
                patch_epoch: word(15),
                state: word(19),
                errors: word(23),
            },
        })
    }

    /// Encodes the next request of the session into `out` (at least
    /// [`crate::frame::MAX_ENCODED`] bytes); its sequence number and encoded
    /// length. The payload is given in parts (e.g. an address, then bytes).
    pub fn request(
        &mut self,
        op: Op,
        parts: &[&[u8]],
        out: &mut [u8],
    ) -> Result<(u16, usize), ClientError> {
        let Some((host_nonce, device_nonce)) = self.nonces.filter(|_| self.in_session()) else {
            return Err(ClientError::NoSession);
        };
        let len = parts.iter().map(|part| part.len()).sum();
        if len > self.max_payload {
            return Err(ClientError::Malformed);
        }
        self.seq += 1;
        let mac = self
            .key
            .map(|key| mac_hasher(&key, host_nonce, device_nonce));
        let (delimiter, out) = out.split_at_mut(1);
        delimiter[0] = 0;
        let mut encoder = Encoder::new(out, self.seq, op as u8, len, mac);
        for part in parts {
            encoder.push(part);
        }
        Ok((self.seq, 1 + encoder.finish()))
    }

    /// Checks a received (decoded) frame as the response to request `seq`.
    pub fn response<'a>(&self, bytes: &'a [u8], seq: u16) -> Result<Response<'a>, ClientError> {
        let frame = parse(bytes, seq)?;
        if frame.code != 0 {
            // Refusals carry no MAC: a forged one can only make the host
            // retry or give up, which cutting the wire does too.
            return Error::from_byte(frame.code)
                .map(Response::Refused)
                .ok_or(ClientError::Malformed);
        }
        if let (Some(key), Some((host_nonce, device_nonce))) = (self.key, self.nonces) {
            if !frame.authentic(mac_hasher(&key, host_nonce, device_nonce)) {
                return Err(ClientError::Unauthenticated);
            }
        }
        Ok(Response::Done(frame.payload))
    }
}

fn parse(bytes: &[u8], seq: u16) -> Result<Frame<'_>, ClientError> {
    let frame = Frame::parse(bytes).map_err(|error| match error {
        FrameError::Corrupt => ClientError::Corrupt,
        FrameError::Version(_) => ClientError::Version,
    })?;
    if frame.seq != seq {
        return Err(ClientError::OtherSequence(frame.seq));
    }
    Ok(frame)
}
