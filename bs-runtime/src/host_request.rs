//! The host-request mailbox (`__bs_host_request`, docs/device-abi.md,
//! "Host requests") and the host's roots table (`__bs_host_roots`): the
//! protocol as plain computation over the words, which the event loop, the
//! tick and the collector use on the device and the host tests run.

use core::sync::atomic::{fence, AtomicU32, Ordering};

pub(crate) use bluescript_abi::host_request::Outcome;
use bluescript_abi::host_request::{ABANDON, FINISHED, FUNCTION, OUTCOME, POSTED, WORDS};

/// The mailbox's words.
pub(crate) struct Mailbox<'a>(pub(crate) &'a [AtomicU32; WORDS]);

/// A request the host posted and the device has not finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) sequence: u32,
    /// The code address to run, as a slot holds it.
    pub(crate) function: u32,
}

impl Mailbox<'_> {
    fn word(&self, index: usize) -> u32 {
        self.0[index].load(Ordering::Relaxed)
    }

    /// The request waiting to run, if any.
    pub(crate) fn pending(&self) -> Option<Request> {
        let posted = self.word(POSTED);
        if posted == self.word(FINISHED) {
            return None;
        }
        // The host wrote the function before the sequence number.
        fence(Ordering::Acquire);
        Some(Request {
            sequence: posted,
            function: self.word(FUNCTION),
        })
    }

    /// Tells the host that `request` ended with `outcome`.
    pub(crate) fn finish(&self, request: Request, outcome: Outcome) {
        self.0[OUTCOME].store(outcome as u32, Ordering::Relaxed);
        // The host reads the outcome once it sees the sequence number.
        fence(Ordering::Release);
        self.0[FINISHED].store(request.sequence, Ordering::Relaxed);
    }

    /// The host asked to abandon the request that has not finished.
    pub(crate) fn abandon_requested(&self) -> bool {
        let posted = self.word(POSTED);
        posted != self.word(FINISHED) && self.word(ABANDON) == posted
    }
}

/// Calls `f` with the value each entry of the host's roots table `table`
/// points to (`[count, address_0, …]`; none if `table` is 0).
///
/// # Safety
/// `table` is 0 or the address of such a table whose addresses are those
/// of readable words, as the host keeps it in the patch region.
pub(crate) unsafe fn for_each_host_root(table: usize, mut f: impl FnMut(usize)) {
    if table == 0 {
        return;
    }
    let words = table as *const usize;
    // SAFETY: by the caller's contract.
    unsafe {
        let count = words.read_volatile();
        for i in 1..=count {
            let address = words.add(i).read_volatile() as *const usize;
            f(address.read_volatile());
        }
    }
}
