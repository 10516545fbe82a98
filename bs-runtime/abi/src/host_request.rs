//! The host-request mailbox, [`crate::symbols::HOST_REQUEST`]: how the
//! host has the device run a function of no parameters at the event loop's
//! next safe point (a cell of the interactive shell), and learns how it
//! ended. `[u32; WORDS]` in RAM, zero at boot; the constants here are word
//! indexes.
//!
//! The host writes [`FUNCTION`], then [`POSTED`] = [`FINISHED`] + 1. The
//! device, at a safe point with `POSTED != FINISHED`, reads `FUNCTION`
//! after `POSTED`, runs it under a catcher in the state
//! [`crate::State::Cell`], writes [`OUTCOME`] and then `FINISHED =
//! POSTED`. Writing a request's sequence number to [`ABANDON`] asks the
//! device to abandon it (docs/device-abi.md, "Host requests").

/// Words in the mailbox.
pub const WORDS: usize = 5;
/// The sequence number the host posted last.
pub const POSTED: usize = 0;
/// The code address to run, as a slot holds it (Thumb bit set on Arm).
pub const FUNCTION: usize = 1;
/// The sequence number the device finished last.
pub const FINISHED: usize = 2;
/// An [`Outcome`]: how the finished request ended.
pub const OUTCOME: usize = 3;
/// A sequence number the host asks the device to abandon.
pub const ABANDON: usize = 4;

/// Bytes of the mailbox.
pub const SIZE: u32 = WORDS as u32 * crate::WORD_BYTES;

numbered! {
    /// How a request ended, in [`OUTCOME`].
    pub enum Outcome: u32 {
        /// The function returned.
        Returned = 0,
        /// A run-time error abandoned it: reported on stderr as always, and
        /// counted in `__bs_error_count`.
        Failed = 1,
        /// Abandoned at the host's request: the device printed nothing and
        /// counted no error.
        Abandoned = 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_are_distinct_and_fill_the_mailbox() {
        let mut words = [POSTED, FUNCTION, FINISHED, OUTCOME, ABANDON];
        words.sort_unstable();
        assert_eq!(words, [0, 1, 2, 3, 4]);
        assert_eq!(SIZE, 20);
    }
}
