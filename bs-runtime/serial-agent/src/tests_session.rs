//! The agent and the client together, over a device in memory.

use crate::frame::{Decoder, MAX_ENCODED};
use crate::memory::MemoryTarget;
use crate::{Agent, Client, ClientError, Error, Key, Op, Response, Words, MAX_PAYLOAD};
use std::vec::Vec;

const RAM: u32 = 0x2000_0000;
const KEY: Key = [0x42; 16];

struct Link {
    agent: Agent,
    device: MemoryTarget,
    client: Client,
}

/// Feeds `bytes` to the agent; the frames it answered, decoded.
fn feed(agent: &mut Agent, device: &mut MemoryTarget, bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut responses = Vec::new();
    let mut decoder = Decoder::<MAX_ENCODED>::new();
    for &byte in bytes {
        if let Some(response) = agent.receive(byte, device) {
            for &byte in response {
                if let Some(len) = decoder.push(byte) {
                    responses.push(decoder.frame(len).to_vec());
                }
            }
        }
    }
    responses
}

impl Link {
    fn new(device_key: Option<Key>, host_key: Option<Key>) -> Link {
        let mut device = MemoryTarget::new(RAM, 0x1000);
        device.status.build_id = 0xb01d;
        Link {
            agent: Agent::new(device_key),
            device,
            client: Client::new(host_key),
        }
    }

    fn hello(&mut self) -> Result<crate::Hello, ClientError> {
        let mut out = [0; MAX_ENCODED];
        let (_, len) = self.client.hello(99, &mut out);
        let responses = self.send(&out[..len]);
        assert_eq!(responses.len(), 1);
        self.client.accept_hello(&responses[0], 99)
    }

    fn send(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        feed(&mut self.agent, &mut self.device, bytes)
    }

    /// Encodes a request: its sequence number and bytes.
    fn encode(&mut self, op: Op, parts: &[&[u8]]) -> (u16, Vec<u8>) {
        let mut out = [0; MAX_ENCODED];
        let (seq, len) = self.client.request(op, parts, &mut out).unwrap();
        (seq, out[..len].to_vec())
    }

    /// Sends `bytes` as request `seq`; the one response.
    fn exchange(&mut self, seq: u16, bytes: &[u8]) -> Response<'static> {
        let responses = self.send(bytes);
        assert_eq!(responses.len(), 1, "one response");
        let response = responses[0].clone().leak();
        self.client.response(response, seq).unwrap()
    }

    fn call(&mut self, op: Op, parts: &[&[u8]]) -> Response<'static> {
        let (seq, bytes) = self.encode(op, parts);
        self.exchange(seq, &bytes)
    }
}

fn read(address: u32, len: u16) -> [u8; 6] {
    let mut payload = [0; 6];
    payload[..4].copy_from_slice(&address.to_le_bytes());
    payload[4..].copy_from_slice(&len.to_le_bytes());
    payload
}

fn pairs(words: &[(u32, u32)]) -> Vec<u8> {
    words
        .iter()
        .flat_map(|(a, v)| a.to_le_bytes().into_iter().chain(v.to_le_bytes()))
        .collect()
}

#[test]
fn a_session_reads_writes_and_commits() {
    for key in [None, Some(KEY)] {
        let mut link = Link::new(key, key);
        link.device.status.patch_epoch = 3;
        let hello = link.hello().unwrap();
        assert_eq!(hello.max_payload, MAX_PAYLOAD);
        assert_eq!(hello.key_required, key.is_some());
        assert_eq!(
            (hello.status.build_id, hello.status.patch_epoch),
            (0xb01d, 3)
        );

        let data: Vec<u8> = (0..=255).collect();
        let address = (RAM + 0x10).to_le_bytes();
        assert_eq!(
            link.call(Op::Write, &[&address, &data[..252]]),
            Response::Done(&[])
        );
        assert_eq!(
            link.call(Op::Read, &[&read(RAM + 0x10, 252)]),
            Response::Done(&data[..252])
        );
        let words = pairs(&[(RAM + 0x100, 7), (RAM + 0x104, 8)]);
        assert_eq!(link.call(Op::Commit, &[&words]), Response::Done(&[]));
        assert_eq!(
            (link.device.word(RAM + 0x100), link.device.word(RAM + 0x104)),
            (7, 8)
        );
        // A list of words stored in memory first.
        let stored = pairs(&[(RAM + 0x108, 9), (RAM + 0x10c, 10), (RAM + 0x110, 11)]);
        let list = (RAM + 0x800).to_le_bytes();
        link.call(Op::Write, &[&list, &stored]);
        assert_eq!(
            link.call(Op::CommitStored, &[&list, &3u16.to_le_bytes()]),
            Response::Done(&[])
        );
        assert_eq!(link.device.word(RAM + 0x110), 11);
        assert_eq!(link.device.commits, 2);
    }
}

#[test]
fn bad_requests_are_refused_with_why() {
    let mut link = Link::new(Some(KEY), Some(KEY));
    link.hello().unwrap();
    let refused = |link: &mut Link, op, parts: &[&[u8]]| match link.call(op, parts) {
        Response::Refused(error) => error,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(
        refused(&mut link, Op::Read, &[&read(0x1000, 4)]),
        Error::BadAddress
    );
    assert_eq!(
        refused(&mut link, Op::Read, &[&read(RAM, 300)]),
        Error::TooLong
    );
    assert_eq!(refused(&mut link, Op::Read, &[&[1, 2]]), Error::Malformed);
    let unaligned = pairs(&[(RAM + 0x100, 1), (RAM + 0x106, 2)]);
    assert_eq!(
        refused(&mut link, Op::Commit, &[&unaligned]),
        Error::Unaligned
    );
    // A bad address anywhere in a commit writes none of it.
    let outside = pairs(&[(RAM + 0x100, 1), (RAM + 0x2000, 2)]);
    assert_eq!(
        refused(&mut link, Op::Commit, &[&outside]),
        Error::BadAddress
    );
    assert_eq!(link.device.word(RAM + 0x100), 0);
    assert_eq!(
        refused(&mut link, Op::Hold, &[&0u16.to_le_bytes()]),
        Error::Malformed
    );
    assert_eq!(link.device.commits, 0);
}

#[test]
fn a_wrong_mac_is_refused_and_never_executed() {
    let mut link = Link::new(Some(KEY), Some(KEY));
    link.hello().unwrap();
    // Someone else on the bus, with another key, in the same session.
    let mut intruder = Client::new(Some([0x43; 16]));
    let mut out = [0; MAX_ENCODED];
    let (_, len) = intruder.hello(99, &mut out);
    let hello_response = link.send(&out[..len]);
    assert_eq!(
        link.client.response(&hello_response[0], 0),
        Ok(Response::Refused(Error::Unauthenticated))
    );
    // The legitimate session goes on; a forged write is refused.
    let mut forged = Client::new(Some([0x43; 16]));
    let response = link.call(Op::Read, &[&read(RAM, 4)]);
    assert_eq!(response, Response::Done(&[0; 4]));
    let (_, len) = Link::forge(
        &mut forged,
        Op::Write,
        &[&RAM.to_le_bytes(), &[1, 2, 3, 4]],
        &mut out,
    );
    let responses = link.send(&out[..len]);
    assert_eq!(link.device.writes, 0);
    assert_eq!(link.device.ram[..4], [0; 4]);
    let refusal = crate::frame::Frame::parse(&responses[0]).unwrap();
    assert_eq!(refusal.code, Error::Unauthenticated as u8);
    // A host without a key is told the device needs one.
    let mut keyless = Link::new(Some(KEY), None);
    assert_eq!(keyless.hello(), Err(ClientError::KeyRequired));
    assert_eq!(keyless.device.writes, 0);
    // A host with another key is told so.
    assert_eq!(
        Link::new(Some(KEY), Some([1; 16])).hello(),
        Err(ClientError::WrongKey)
    );
    // A host with a key refuses a device that would take anyone's frames.
    assert_eq!(
        Link::new(None, Some(KEY)).hello(),
        Err(ClientError::DeviceHasNoKey)
    );
}

impl Link {
    /// A request from a client whose session was never accepted: it MACs
    /// with nonces of its own.
    fn forge(client: &mut Client, op: Op, parts: &[&[u8]], out: &mut [u8]) -> (u16, usize) {
        // Accept a made-up HELLO response so that it has a session.
        let mut fake = Agent::new(Some([0x43; 16]));
        let mut device = MemoryTarget::new(RAM, 16);
        let mut hello = [0; MAX_ENCODED];
        let (_, len) = client.hello(1, &mut hello);
        let answers = feed(&mut fake, &mut device, &hello[..len]);
        client.accept_hello(&answers[0], 1).unwrap();
        client.request(op, parts, out).unwrap()
    }
}

#[test]
fn replayed_frames_are_refused() {
    let mut link = Link::new(Some(KEY), Some(KEY));
    link.hello().unwrap();
    let address = RAM.to_le_bytes();
    let (first_seq, first) = link.encode(Op::Write, &[&address, &[1; 4]]);
    link.exchange(first_seq, &first);
    let (second_seq, second) = link.encode(Op::Write, &[&address, &[2; 4]]);
    link.exchange(second_seq, &second);
    assert_eq!(
        link.exchange(first_seq, &first),
        Response::Refused(Error::Stale)
    );
    assert_eq!(link.device.ram[..4], [2; 4]);
    assert_eq!(link.device.writes, 2);
    // A new session: the frames of the one before are refused.
    link.hello().unwrap();
    assert_eq!(
        link.exchange(second_seq, &second),
        Response::Refused(Error::Unauthenticated)
    );
    // Without a key, sequence numbers still refuse replays.
    let mut open = Link::new(None, None);
    open.hello().unwrap();
    let (seq, write) = open.encode(Op::Write, &[&address, &[3; 4]]);
    open.exchange(seq, &write);
    open.call(Op::Read, &[&read(RAM, 4)]);
    assert_eq!(open.exchange(seq, &write), Response::Refused(Error::Stale));
    assert_eq!(open.device.writes, 1);
    // And a request without a session is refused.
    let mut fresh = Link::new(None, None);
    let responses = fresh.send(&write);
    assert_eq!(
        fresh.client.response(&responses[0], seq),
        Ok(Response::Refused(Error::NoSession))
    );
}

#[test]
fn a_retransmission_gets_the_cached_response_without_running_again() {
    let mut link = Link::new(Some(KEY), Some(KEY));
    link.hello().unwrap();
    link.device.stdout.extend(b"hello\n");
    link.device.stderr.extend(b"oops\n");
    let (seq, output) = link.encode(Op::Output, &[]);
    let first = link.send(&output);
    // The response was lost: the host sends the same frame again.
    let second = link.send(&output);
    assert_eq!(first, second);
    let Ok(Response::Done(payload)) = link.client.response(&second[0], seq) else {
        panic!("output")
    };
    assert_eq!(u16::from_le_bytes([payload[8], payload[9]]), 5);
    assert_eq!(&payload[10..], b"oops\nhello\n");
    assert!(link.device.stdout.is_empty());
    // A write retransmitted runs once, even after a refused frame between.
    let (seq, write) = link.encode(Op::Write, &[&RAM.to_le_bytes(), &[5; 4]]);
    link.exchange(seq, &write);
    link.send(&[0x11, 0x22, 0x00]);
    link.exchange(seq, &write);
    assert_eq!(link.device.writes, 1);
}

#[test]
fn every_corrupted_byte_is_rejected_and_never_executed() {
    let mut link = Link::new(Some(KEY), Some(KEY));
    link.hello().unwrap();
    let words = pairs(&[(RAM + 0x100, 0xdead), (RAM + 0x104, 0xbeef)]);
    let (seq, commit) = link.encode(Op::Commit, &[&words]);
    for position in 0..commit.len() {
        for flip in [0x01, 0x40, 0xff] {
            let mut damaged = commit.clone();
            damaged[position] ^= flip;
            for response in link.send(&damaged) {
                // Nothing, or a refusal: a damaged frame is never done.
                assert!(
                    !matches!(link.client.response(&response, seq), Ok(Response::Done(_))),
                    "byte {position} ^ {flip:#x}"
                );
            }
            assert_eq!(link.device.commits, 0, "byte {position} ^ {flip:#x}");
            // The stream resynchronizes at the next delimiter.
            link.send(&[0]);
        }
    }
    assert_eq!(link.exchange(seq, &commit), Response::Done(&[]));
    assert_eq!(link.device.word(RAM + 0x104), 0xbeef);
}

#[test]
fn the_agent_resynchronizes_after_garbage() {
    let mut link = Link::new(None, None);
    let mut garbage: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
    garbage.extend([0x55; 700]);
    assert!(link.send(&garbage).len() <= garbage.iter().filter(|&&b| b == 0).count());
    link.hello().unwrap();
    let (seq, bytes) = link.encode(Op::Read, &[&read(RAM, 2)]);
    let mut noisy = garbage.clone();
    noisy.push(0);
    noisy.extend(&bytes);
    let responses = link.send(&noisy);
    let last = responses.last().unwrap();
    assert_eq!(
        link.client.response(last, seq),
        Ok(Response::Done(&[0, 0][..]))
    );
}

#[test]
fn a_hold_ends_with_release_or_when_frames_stop() {
    let mut link = Link::new(None, None);
    link.hello().unwrap();
    link.call(Op::Hold, &[&500u16.to_le_bytes()]);
    assert!(link.device.held && link.agent.held());
    link.device.now_ms = 400;
    link.agent.poll(&mut link.device);
    assert!(link.device.held);
    // Each frame restarts the timeout.
    link.call(Op::Read, &[&read(RAM, 1)]);
    link.device.now_ms = 800;
    link.agent.poll(&mut link.device);
    assert!(link.device.held);
    link.call(Op::Release, &[]);
    assert!(!link.device.held && !link.agent.held());
    // A cut link: the program goes on by itself.
    link.device.now_ms = u32::MAX - 100; // the clock wraps meanwhile
    link.call(Op::Hold, &[&500u16.to_le_bytes()]);
    link.device.now_ms = 0x100;
    link.agent.poll(&mut link.device);
    assert!(link.device.held);
    link.device.now_ms = 0x200;
    link.agent.poll(&mut link.device);
    assert!(!link.device.held);
}

#[test]
fn sessions_get_different_device_nonces() {
    let mut link = Link::new(Some(KEY), Some(KEY));
    let mut nonces = Vec::new();
    for host_nonce in 0..3 {
        let mut out = [0; MAX_ENCODED];
        let (_, len) = link.client.hello(host_nonce, &mut out);
        let response = link.send(&out[..len]);
        nonces.push(response[0][7..15].to_vec());
        // The same HELLO again is a retransmission: the same answer.
        assert_eq!(link.send(&out[..len]), response);
    }
    assert!(nonces[0] != nonces[1] && nonces[1] != nonces[2] && nonces[0] != nonces[2]);
    assert_eq!(
        Words::pairs(&pairs(&[(4, 5)])).collect::<Vec<_>>(),
        [(4, 5)]
    );
}
