//! Mark-sweep collection.
//!
//! Marking sets bit 0 of the header of every object reachable from the
//! roots. The roots are given by a [`Roots`] implementation, as values
//! known precisely (the slots of script frames, values the runtime holds,
//! globals, timer closures): nothing is scanned conservatively, so a stale
//! word keeps nothing alive. Objects outside the heap (static strings,
//! descriptors) are never marked nor traced: they cannot refer to heap
//! objects.
//!
//! Marked objects wait on a small fixed mark stack to have their values
//! traced, so deep structures (a long linked list) need no recursion and no
//! memory proportional to their depth. When the stack is full, an object is
//! marked but not pushed, and an overflow is recorded; afterwards, a walk
//! over the heap traces every marked object again, until a walk completes
//! without overflow.
//!
//! The sweep walks the heap in address order, clears the marks of live
//! objects, merges each run of adjacent dead objects and free blocks into
//! one free block and rebuilds the free lists (large blocks in address
//! order, so that allocation fills the heap from its start).

use super::{read, write, Heap, FREE, GRANULE, MARK_STACK, SMALL_CLASSES};
use crate::object::{for_each_value, Obj, HEADER_MARK};
use crate::value::Value;

/// Where the collector finds the roots.
pub trait Roots {
    /// Reports every root to `marker`.
    fn visit(&mut self, marker: &mut Marker<'_>);
}

pub(super) struct MarkStack {
    entries: [usize; MARK_STACK],
    len: usize,
    overflowed: bool,
}

impl MarkStack {
    pub(super) const EMPTY: MarkStack = MarkStack {
        entries: [0; MARK_STACK],
        len: 0,
        overflowed: false,
    };
}

/// Marks what the roots refer to (see [`Roots`]).
pub struct Marker<'h> {
    heap: &'h mut Heap,
}

impl Marker<'_> {
    /// A value known precisely: marked if it refers to a heap object.
    pub fn value(&mut self, v: Value) {
        self.heap.mark_value(v);
    }
}

impl Heap {
    /// Frees every object that `roots` do not reach. Returns the free bytes
    /// afterwards.
    pub fn collect(&mut self, roots: &mut dyn Roots) -> usize {
        self.retire_bump();
        roots.visit(&mut Marker { heap: self });
        self.trace();
        self.sweep()
    }

    fn mark_value(&mut self, v: Value) {
        if let Some(obj) = v.as_address().and_then(|a| self.object_at(a)) {
            self.mark(obj);
        }
    }

    fn mark(&mut self, obj: Obj) {
        let header = obj.word(0);
        if header & HEADER_MARK != 0 {
            return;
        }
        obj.set_word(0, header | HEADER_MARK);
        let stack = &mut self.marking;
        if stack.len < MARK_STACK {
            stack.entries[stack.len] = obj.address();
            stack.len += 1;
        } else {
            stack.overflowed = true;
        }
    }

    /// Traces from the marked objects until everything reachable is marked.
    fn trace(&mut self) {
        self.drain();
        let granules = self.granule(self.end);
        while self.marking.overflowed {
            self.marking.overflowed = false;
            let mut g = 0;
            while g < granules {
                let block = self.start + g * GRANULE;
                if read(block) & (FREE | HEADER_MARK) == HEADER_MARK {
                    // SAFETY: a marked block is an object.
                    let obj = unsafe { Obj::from_address(block) };
                    for_each_value(obj, |v| self.mark_value(v));
                    self.drain();
                }
                g = self.starts.next_set(g + 1, granules);
            }
        }
    }

    fn drain(&mut self) {
        while self.marking.len > 0 {
            self.marking.len -= 1;
            let address = self.marking.entries[self.marking.len];
            // SAFETY: only objects are pushed.
            let obj = unsafe { Obj::from_address(address) };
            for_each_value(obj, |v| self.mark_value(v));
        }
    }

    /// Frees the unmarked objects and clears the marks; returns the free
    /// bytes. Blocks are found through the start bitmap, a word of it at a
    /// time, which marks every block's start: no object's size is
    /// computed, and the start bits inside a run of dead blocks are
    /// cleared together when the run ends.
    fn sweep(&mut self) -> usize {
        self.small = [0; SMALL_CLASSES];
        self.large = 0;
        // The last large block, to append in address order.
        let mut large_tail = 0;
        let mut free = 0;
        // Start of the run of dead blocks being merged.
        let mut run: Option<usize> = None;
        let granules = self.granule(self.end);
        for i in 0..granules.div_ceil(32) {
            let mut starts = self.starts.word(i);
            while starts != 0 {
                let g = i * 32 + starts.trailing_zeros() as usize;
                starts &= starts - 1;
                let block = self.start + g * GRANULE;
                let header = read(block);
                // A free block's header has bit 0 clear: it is never live.
                if header & (FREE | HEADER_MARK) == HEADER_MARK {
                    write(block, header & !HEADER_MARK);
                    if let Some(start) = run.take() {
                        free += self.free_run(start, block, &mut large_tail);
                    }
                } else if run.is_none() {
                    run = Some(block);
                }
            }
        }
        if let Some(start) = run {
            free += self.free_run(start, self.end, &mut large_tail);
        }
        free
    }

    /// Makes `[start, end)`, a run of dead blocks, one free block; large
    /// ones are appended after `large_tail`. Returns its size in bytes.
    fn free_run(&mut self, start: usize, end: usize, large_tail: &mut usize) -> usize {
        let granules = (end - start) / GRANULE;
        // The blocks merged into this one start no block any more (bits
        // of the word being swept that are cleared here lie behind it).
        let first = self.granule(start);
        self.starts.clear_range(first + 1, first + granules);
        write(start, super::free_header(granules));
        if granules <= SMALL_CLASSES {
            self.push_small(start, granules);
        } else {
            write(start + crate::object::WORD, 0);
            if *large_tail == 0 {
                self.large = start;
            } else {
                write(*large_tail + crate::object::WORD, start);
            }
            *large_tail = start;
        }
        end - start
    }
}
