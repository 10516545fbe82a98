//! The host-request protocol (`host_request.rs`), with the test playing the
//! host as `cargo-bluescript/src/device/requests.rs` does.

use core::sync::atomic::{AtomicU32, Ordering};

use bluescript_abi::host_request::{ABANDON, FINISHED, FUNCTION, OUTCOME, POSTED, WORDS};

use crate::host_request::{for_each_host_root, Mailbox, Outcome, Request};

fn words() -> [AtomicU32; WORDS] {
    [const { AtomicU32::new(0) }; WORDS]
}

/// The host's way to post: the function, then the next sequence number.
fn post(words: &[AtomicU32; WORDS], function: u32) -> u32 {
    let sequence = words[FINISHED].load(Ordering::Relaxed) + 1;
    words[FUNCTION].store(function, Ordering::Relaxed);
    words[POSTED].store(sequence, Ordering::Relaxed);
    sequence
}

#[test]
fn nothing_is_pending_at_boot() {
    let words = words();
    let mailbox = Mailbox(&words);
    assert_eq!(mailbox.pending(), None);
    assert!(!mailbox.abandon_requested());
}

#[test]
fn a_posted_request_is_pending_until_finished_with_its_outcome() {
    let words = words();
    let mailbox = Mailbox(&words);
    let sequence = post(&words, 0x0800_1235);
    let request = mailbox.pending().expect("pending");
    assert_eq!(
        request,
        Request {
            sequence,
            function: 0x0800_1235
        }
    );
    // Still pending while it runs: the event loop finishes it afterwards.
    assert_eq!(mailbox.pending(), Some(request));
    mailbox.finish(request, Outcome::Failed);
    assert_eq!(mailbox.pending(), None);
    assert_eq!(words[FINISHED].load(Ordering::Relaxed), sequence);
    assert_eq!(
        words[OUTCOME].load(Ordering::Relaxed),
        Outcome::Failed as u32
    );
    let next = post(&words, 0x0800_2001);
    assert_eq!(next, sequence + 1);
    assert_eq!(mailbox.pending().map(|r| r.function), Some(0x0800_2001));
}

#[test]
fn only_the_running_request_can_be_abandoned() {
    let words = words();
    let mailbox = Mailbox(&words);
    let first = post(&words, 0x100);
    words[ABANDON].store(first, Ordering::Relaxed);
    assert!(mailbox.abandon_requested());
    mailbox.finish(mailbox.pending().unwrap(), Outcome::Abandoned);
    // Finished: the stale request to abandon it concerns nothing running.
    assert!(!mailbox.abandon_requested());
    post(&words, 0x200);
    assert!(
        !mailbox.abandon_requested(),
        "the next request is not abandoned by the previous one's mark"
    );
    words[ABANDON].store(first + 1, Ordering::Relaxed);
    assert!(mailbox.abandon_requested());
}

#[test]
fn the_host_roots_table_yields_the_values_its_entries_point_to() {
    let globals: [usize; 3] = [0x41, 0x8_0001, 0x99];
    let table: [usize; 3] = [
        2,
        &globals[0] as *const usize as usize,
        &globals[2] as *const usize as usize,
    ];
    let mut seen = Vec::new();
    // SAFETY: a table of two addresses of readable words.
    unsafe { for_each_host_root(table.as_ptr() as usize, |v| seen.push(v)) };
    assert_eq!(seen, [0x41, 0x99]);
    seen.clear();
    // SAFETY: no table.
    unsafe { for_each_host_root(0, |v| seen.push(v)) };
    assert!(seen.is_empty());
}
