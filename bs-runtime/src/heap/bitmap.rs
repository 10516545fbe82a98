//! One bit per granule of the heap: set where a block starts. It is what
//! lets the collector take any word, an interior pointer included, back to
//! the block it points into.

pub(crate) struct Bitmap {
    words: *mut u32,
    len: usize,
}

impl Bitmap {
    pub(crate) const EMPTY: Bitmap = Bitmap {
        words: core::ptr::null_mut(),
        len: 0,
    };

    /// A bitmap of `len` u32 words at `words`, cleared.
    ///
    /// # Safety
    /// `words` must point to `len` writable u32 that nothing else uses.
    pub(crate) unsafe fn new(words: *mut u32, len: usize) -> Bitmap {
        // SAFETY: by the caller's contract.
        unsafe { core::ptr::write_bytes(words, 0, len) };
        Bitmap { words, len }
    }

    /// Bits `32 * i` to `32 * i + 31`.
    pub(crate) fn word(&self, i: usize) -> u32 {
        debug_assert!(i < self.len);
        // SAFETY: `i` is in bounds: bits are only asked for granules.
        unsafe { self.words.add(i).read() }
    }

    fn update(&mut self, i: usize, f: impl FnOnce(u32) -> u32) {
        debug_assert!(i < self.len);
        // SAFETY: as in `word`.
        unsafe { self.words.add(i).write(f(self.words.add(i).read())) }
    }

    pub(crate) fn set(&mut self, bit: usize) {
        self.update(bit / 32, |w| w | 1 << (bit % 32));
    }

    pub(crate) fn get(&self, bit: usize) -> bool {
        self.word(bit / 32) & 1 << (bit % 32) != 0
    }

    /// Clears bits `from` to `to - 1`, a word at a time.
    pub(crate) fn clear_range(&mut self, from: usize, to: usize) {
        let mut bit = from;
        while bit < to {
            let i = bit / 32;
            let above = !0 << (bit % 32);
            let below = match to - i * 32 {
                n @ ..32 => (1 << n) - 1,
                _ => !0,
            };
            self.update(i, |w| w & !(above & below));
            bit = (i + 1) * 32;
        }
    }

    /// The first set bit at or after `bit`, or `limit` if there is none
    /// below `limit` (bits at or above `limit` must be clear).
    pub(crate) fn next_set(&self, bit: usize, limit: usize) -> usize {
        if bit >= limit {
            return limit;
        }
        let mut i = bit / 32;
        let mut word = self.word(i) & (!0 << (bit % 32));
        while word == 0 {
            i += 1;
            if i * 32 >= limit {
                return limit;
            }
            word = self.word(i);
        }
        i * 32 + word.trailing_zeros() as usize
    }
}
