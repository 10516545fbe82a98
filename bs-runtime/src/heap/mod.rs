//! The heap: a non-moving allocator with a mark-sweep collector, over one
//! arena of words that the caller provides (the firmware's `__bs_heap` on
//! the device, a vector in the host tests).
//!
//! The arena is cut into *granules* of two words (8 bytes on the device).
//! A start bitmap at the arena's beginning, one bit per granule, marks
//! where blocks start. Every granule belongs to exactly one block, except
//! inside the *bump region* (below): the heap is tiled by blocks, which is
//! what lets the sweep walk it. A block is either
//!
//! - an object, whose size follows from its header and word 1
//!   (`object::object_words`), rounded up to granules; or
//! - free: header `granules << 2 | FREE`, word 1 the next free block.
//!
//! Allocation, fastest first: pop the exact-size free list (blocks of 1 to
//! [`SMALL_CLASSES`] granules); bump the pointer of the bump region (a
//! large free block being used up from its start); take a new bump region
//! from the list of large free blocks, or, for a large object, cut it from
//! the end of the first large block that fits; split a larger small block.
//! Only when all of that fails does the caller collect (see `collect.rs`)
//! and try again.
//!
//! This module uses `core` and the crate's portable modules only.

mod bitmap;
mod collect;

pub use collect::{Marker, Roots};

use bitmap::Bitmap;

use crate::error::Result;
use crate::object::{Obj, WORD};
use crate::value::Value;

/// Words per granule: the unit of allocation, and of the start bitmap
/// (`allocate` zeroes a granule as two words).
pub const GRANULE_WORDS: usize = 2;
/// Bytes per granule.
pub const GRANULE: usize = GRANULE_WORDS * WORD;
/// Blocks of up to this many granules have free lists of their own.
pub const SMALL_CLASSES: usize = 8;
/// Header bit of a free block (an object header has it clear: descriptors
/// are word-aligned, and the collector's mark is bit 0).
const FREE: usize = 0b10;
/// Entries of the mark stack (see `collect.rs`).
const MARK_STACK: usize = 64;

/// How the value and string operations obtain memory: the device binds it
/// to its heap, stack and globals; the host tests to a test heap with
/// explicit roots.
pub trait Mutator {
    /// A new object of `words` words (header included): the header is
    /// `header` (a descriptor address), word 1 is `word1` (its size word,
    /// or its first field), every other word is 0. May collect garbage
    /// first: every value the caller still needs must be reachable from
    /// the roots, or be held with [`Mutator::hold`].
    fn allocate(&mut self, words: usize, header: usize, word1: usize) -> Result<Obj>;

    /// Two new objects (each as [`Mutator::allocate`] makes one), with at
    /// most one collection, before either is taken: neither needs holding
    /// while the other is allocated. `keep` stays alive across that
    /// collection (0 if nothing needs to).
    fn allocate_two(&mut self, first: Shape, second: Shape, keep: Value) -> Result<(Obj, Obj)>;

    /// Keeps `v` alive across allocations until the matching
    /// [`Mutator::release`] (releases go in reverse order). The collector
    /// scans no stack: a value that the caller still needs and that is not
    /// reachable otherwise must be held (on the device, on a small stack of
    /// held values that a run-time error resets).
    fn hold(&mut self, v: Value);

    fn release(&mut self, v: Value);
}

/// An object to allocate: `words` words (header included), the header
/// and word 1 (see [`Mutator::allocate`]).
#[derive(Clone, Copy)]
pub struct Shape {
    pub words: usize,
    pub header: usize,
    pub word1: usize,
}

pub struct Heap {
    starts: Bitmap,
    /// Address of the first granule; granule-aligned.
    start: usize,
    /// Address after the last granule.
    end: usize,
    /// Free lists by size: `small[n - 1]` holds blocks of `n` granules.
    small: [usize; SMALL_CLASSES],
    /// Free blocks larger than `SMALL_CLASSES` granules.
    large: usize,
    /// The bump region `[bump, bump_end)`: free memory without headers or
    /// start bits, handed out from its start.
    bump: usize,
    bump_end: usize,
    marking: collect::MarkStack,
}

impl Heap {
    /// A heap without memory (every allocation fails); see [`Heap::new`].
    pub const EMPTY: Heap = Heap {
        starts: Bitmap::EMPTY,
        start: 0,
        end: 0,
        small: [0; SMALL_CLASSES],
        large: 0,
        bump: 0,
        bump_end: 0,
        marking: collect::MarkStack::EMPTY,
    };

    /// A heap in the `words` words at `arena`, all free.
    ///
    /// # Safety
    /// The arena must be writable, unused by anything else for as long as
    /// the heap and its objects are used, and at an address below 2^32 on
    /// the device (any address on the host).
    pub unsafe fn new(arena: *mut usize, words: usize) -> Heap {
        let arena_start = arena as usize;
        let first = arena_start.next_multiple_of(GRANULE);
        let bytes = (arena_start + words * WORD).saturating_sub(first);
        // As many granules as fit with their bitmap (rounded up to a
        // granule) before them: about 64/65 of the arena.
        let bitmap_bytes = |granules: usize| (granules.div_ceil(32) * 4).next_multiple_of(GRANULE);
        let fits = |granules: usize| granules * GRANULE + bitmap_bytes(granules) <= bytes;
        let mut granules = bytes / (8 * GRANULE + 1) * 8;
        while granules > 0 && !fits(granules) {
            granules -= 1;
        }
        while fits(granules + 1) {
            granules += 1;
        }
        let mut heap = Heap::EMPTY;
        // SAFETY: the bitmap lies at the start of the arena.
        heap.starts = unsafe { Bitmap::new(first as *mut u32, granules.div_ceil(32)) };
        heap.start = first + bitmap_bytes(granules);
        heap.end = heap.start + granules * GRANULE;
        if granules > 0 {
            heap.add_free(heap.start, granules);
        }
        heap
    }

    /// Bytes that objects can use, in all.
    pub fn capacity(&self) -> usize {
        self.end - self.start
    }

    /// Whether `address` lies in the heap's blocks.
    pub fn contains(&self, address: usize) -> bool {
        (self.start..self.end).contains(&address)
    }

    /// A new object (see [`Mutator::allocate`]), or `None` if no free block
    /// fits: then collect and try again.
    pub fn allocate(&mut self, words: usize, header: usize, word1: usize) -> Option<Obj> {
        let granules = self.granules_for(words)?;
        let block = self.take(granules)?;
        // SAFETY: `take` returns a free block of `granules` granules, which
        // now belongs to the new object.
        Some(unsafe { init_object(block, granules, header, word1) })
    }

    /// Two new objects, or `None` if they do not both fit: then collect
    /// and try again. They are cut from one block (an array and its
    /// vector: one take instead of two), each with its own start bit, so
    /// that the collector frees either alone.
    #[inline(always)]
    pub fn allocate_two(&mut self, first: Shape, second: Shape) -> Option<(Obj, Obj)> {
        let first_granules = self.granules_for(first.words)?;
        let second_granules = self.granules_for(second.words)?;
        let block = self.take(first_granules + second_granules)?;
        let second_block = block + first_granules * GRANULE;
        self.set_start(second_block);
        // SAFETY: `take` returns a free block of both objects' granules,
        // now tiled by the two objects.
        unsafe {
            Some((
                init_object(block, first_granules, first.header, first.word1),
                init_object(second_block, second_granules, second.header, second.word1),
            ))
        }
    }

    /// Granules of an object of `words` words, or `None` if it cannot fit
    /// (which also keeps the arithmetic from overflowing).
    #[inline(always)]
    fn granules_for(&self, words: usize) -> Option<usize> {
        (words <= self.capacity() / WORD).then(|| words.max(GRANULE_WORDS).div_ceil(GRANULE_WORDS))
    }

    /// A block of `granules` granules, its start bit set. Inlined into
    /// `allocate`: 96 bytes of flash, 8 % of storage's instructions.
    #[inline(always)]
    fn take(&mut self, granules: usize) -> Option<usize> {
        if granules <= SMALL_CLASSES {
            let head = self.small[granules - 1];
            if head != 0 {
                self.small[granules - 1] = read(head + WORD);
                return Some(head);
            }
        }
        let block = self.bump;
        if granules * GRANULE <= self.bump_end - block {
            self.bump = block + granules * GRANULE;
            self.set_start(block);
            return Some(block);
        }
        self.take_slow(granules)
    }

    fn take_slow(&mut self, granules: usize) -> Option<usize> {
        if granules > SMALL_CLASSES {
            if let Some(block) = self.cut_from_large(granules) {
                return Some(block);
            }
        } else if self.large != 0 {
            // A new bump region (the old one's rest is smaller than
            // `granules`, so it goes to a small list). Every large block
            // fits a small object.
            self.retire_bump();
            let region = self.large;
            self.large = read(region + WORD);
            self.bump = region;
            self.bump_end = region + free_granules(read(region)) * GRANULE;
            return self.take(granules);
        }
        self.split_small(granules)
    }

    /// First fit among the large free blocks, cut from the block's end so
    /// that the block stays where it is in the list.
    fn cut_from_large(&mut self, granules: usize) -> Option<usize> {
        let mut link: *mut usize = &mut self.large;
        loop {
            // SAFETY: `link` is `self.large` or the next-word of a free
            // block in the heap.
            let block = unsafe { link.read() };
            if block == 0 {
                return None;
            }
            let size = free_granules(read(block));
            if size >= granules {
                let rest = size - granules;
                let next = read(block + WORD);
                if rest == 0 {
                    // SAFETY: as above.
                    unsafe { link.write(next) };
                    return Some(block);
                }
                write(block, free_header(rest));
                if rest <= SMALL_CLASSES {
                    // SAFETY: as above.
                    unsafe { link.write(next) };
                    self.push_small(block, rest);
                }
                let cut = block + rest * GRANULE;
                self.set_start(cut);
                return Some(cut);
            }
            link = (block + WORD) as *mut usize;
        }
    }

    /// A block cut from a larger block of a small list.
    fn split_small(&mut self, granules: usize) -> Option<usize> {
        let size = (granules + 1..=SMALL_CLASSES).find(|&n| self.small[n - 1] != 0)?;
        let block = self.small[size - 1];
        self.small[size - 1] = read(block + WORD);
        self.add_free(block + granules * GRANULE, size - granules);
        Some(block)
    }

    /// Makes the rest of the bump region an ordinary free block.
    fn retire_bump(&mut self) {
        if self.bump < self.bump_end {
            self.add_free(self.bump, (self.bump_end - self.bump) / GRANULE);
        }
        self.bump = 0;
        self.bump_end = 0;
    }

    /// Makes `[block, block + granules)` a free block on its list.
    fn add_free(&mut self, block: usize, granules: usize) {
        write(block, free_header(granules));
        self.set_start(block);
        if granules <= SMALL_CLASSES {
            self.push_small(block, granules);
        } else {
            write(block + WORD, self.large);
            self.large = block;
        }
    }

    fn push_small(&mut self, block: usize, granules: usize) {
        write(block + WORD, self.small[granules - 1]);
        self.small[granules - 1] = block;
    }

    fn granule(&self, address: usize) -> usize {
        (address - self.start) / GRANULE
    }

    fn set_start(&mut self, block: usize) {
        let g = self.granule(block);
        self.starts.set(g);
    }

    /// The object that starts at `address`, if one does: what a precise
    /// reference refers to.
    pub fn object_at(&self, address: usize) -> Option<Obj> {
        let is_object = self.contains(address)
            && (address - self.start).is_multiple_of(GRANULE)
            && self.starts.get(self.granule(address))
            && read(address) & FREE == 0;
        // SAFETY: checked just above.
        is_object.then(|| unsafe { Obj::from_address(address) })
    }

    /// Free bytes (in free blocks and the bump region).
    #[cfg(test)]
    pub fn free_bytes(&self) -> usize {
        let mut granules = (self.bump_end - self.bump) / GRANULE;
        for (i, &head) in self.small.iter().enumerate() {
            let mut block = head;
            while block != 0 {
                granules += i + 1;
                block = read(block + WORD);
            }
        }
        let mut block = self.large;
        while block != 0 {
            granules += free_granules(read(block));
            block = read(block + WORD);
        }
        granules * GRANULE
    }

    /// Calls `f` with every object in the heap, live or garbage, in address
    /// order.
    #[cfg(test)]
    pub fn for_each_object(&self, mut f: impl FnMut(Obj)) {
        let mut block = self.start;
        while block < self.end {
            if block == self.bump && self.bump < self.bump_end {
                block = self.bump_end;
                continue;
            }
            let header = read(block);
            let granules = if header & FREE != 0 {
                free_granules(header)
            } else {
                // SAFETY: a block that is not free is an object.
                let obj = unsafe { Obj::from_address(block) };
                f(obj);
                block_granules(obj)
            };
            block += granules * GRANULE;
        }
    }
}

/// The granules an object's block has (the heap itself finds blocks by
/// their start bits; the tests' walks check that the two agree).
#[cfg(test)]
fn block_granules(obj: Obj) -> usize {
    crate::object::object_words(obj)
        .max(GRANULE_WORDS)
        .div_ceil(GRANULE_WORDS)
}

fn free_header(granules: usize) -> usize {
    granules << 2 | FREE
}

fn free_granules(header: usize) -> usize {
    header >> 2
}

/// Reads a heap word. Only called with addresses of blocks (and their
/// word 1) that the heap's invariants vouch for.
/// Writes a new object's header and word 1 into the free block at
/// `block` and zeroes the rest of its `granules` granules.
///
/// # Safety
/// `block` must be a free block of `granules` granules that now belongs
/// to the object.
#[inline(always)]
unsafe fn init_object(block: usize, granules: usize, header: usize, word1: usize) -> Obj {
    let block = block as *mut usize;
    // SAFETY: by the caller's contract.
    unsafe {
        block.write(header);
        block.add(1).write(word1);
        // A granule at a time, in a loop that stays a loop (volatile
        // stores: rustc would make it a call of `memset`): most objects are
        // a few granules, for which that call costs more than the stores.
        let mut word = block.add(GRANULE_WORDS);
        let end = block.add(granules * GRANULE_WORDS);
        while word < end {
            word.write_volatile(0);
            word.add(1).write_volatile(0);
            word = word.add(GRANULE_WORDS);
        }
        Obj::from_address(block as usize)
    }
}

fn read(address: usize) -> usize {
    // SAFETY: see above.
    unsafe { (address as *const usize).read() }
}

fn write(address: usize, word: usize) {
    // SAFETY: as in `read`.
    unsafe { (address as *mut usize).write(word) }
}

#[cfg(test)]
impl Heap {
    /// Checks the heap's invariants; panics with a description if one does
    /// not hold. For tests.
    pub fn check(&self) {
        use std::collections::BTreeMap;
        // Free blocks on the lists, by address.
        let mut listed = BTreeMap::new();
        for (i, &head) in self.small.iter().enumerate() {
            let mut block = head;
            while block != 0 {
                assert_eq!(free_granules(read(block)), i + 1, "small list {i}");
                assert!(listed.insert(block, i + 1).is_none(), "listed twice");
                block = read(block + WORD);
            }
        }
        let mut block = self.large;
        while block != 0 {
            let size = free_granules(read(block));
            assert!(size > SMALL_CLASSES, "small block on the large list");
            assert!(listed.insert(block, size).is_none(), "listed twice");
            block = read(block + WORD);
        }
        // The walk tiles the heap; start bits are exactly at block starts.
        let mut block = self.start;
        let mut free_blocks = 0;
        while block < self.end {
            let granules = if block == self.bump && self.bump < self.bump_end {
                for g in self.granule(block)..self.granule(self.bump_end) {
                    let in_use = g == self.granule(block) && self.starts.get(g);
                    assert!(
                        !self.starts.get(g) || in_use,
                        "start bit in the bump region"
                    );
                }
                (self.bump_end - self.bump) / GRANULE
            } else {
                assert!(
                    self.starts.get(self.granule(block)),
                    "block without start bit"
                );
                let header = read(block);
                let granules = if header & FREE != 0 {
                    free_blocks += 1;
                    assert_eq!(
                        listed.get(&block),
                        Some(&free_granules(header)),
                        "free block {block:#x} not listed"
                    );
                    free_granules(header)
                } else {
                    assert_eq!(header & 0b11, 0, "mark left in a header");
                    block_granules(unsafe { Obj::from_address(block) })
                };
                for g in self.granule(block) + 1..self.granule(block) + granules {
                    assert!(!self.starts.get(g), "start bit inside a block");
                }
                granules
            };
            assert!(granules > 0);
            block += granules * GRANULE;
        }
        assert_eq!(block, self.end, "blocks overrun the heap");
        assert_eq!(free_blocks, listed.len(), "listed block is not in the heap");
    }
}
