//! The allocator: sizes, alignment, reuse, exhaustion, invariants.

use crate::error::Error;
use crate::heap::{Mutator, Shape, GRANULE, GRANULE_WORDS, SMALL_CLASSES};
use crate::object::{__bs_desc_vector, layout, Obj, WORD};
use crate::support::{Rng, TestHeap};
use crate::value::Value;

const VECTOR: &crate::object::ArrayDescriptor = &__bs_desc_vector;

/// An object of `words` words (at least 2): a vector, whose values are 0.
fn blob(h: &mut TestHeap, words: usize) -> Result<Obj, Error> {
    h.allocate(
        words,
        VECTOR as *const _ as usize,
        words - layout::VECTOR_DATA,
    )
}

fn granules(words: usize) -> usize {
    words.max(GRANULE_WORDS).div_ceil(GRANULE_WORDS)
}

#[test]
fn a_new_heap_is_one_free_block() {
    let mut h = TestHeap::new(4096);
    h.heap.check();
    // The bitmap takes 1/64 of a granule's bits per byte, rounded up.
    assert!(h.heap.capacity() >= 4096 - 2 * GRANULE - 4096 / 64);
    assert_eq!(h.heap.free_bytes(), h.heap.capacity());
    assert_eq!(h.collect(), h.heap.capacity());
}

#[test]
fn objects_are_granule_aligned_zeroed_and_disjoint() {
    let mut h = TestHeap::new(16 * 1024);
    let mut blocks = Vec::new();
    for words in 2..40 {
        let obj = blob(&mut h, words).unwrap();
        h.root(obj.value());
        assert_eq!(obj.address() % GRANULE, 0);
        assert_eq!(obj.word(0), VECTOR as *const _ as usize);
        assert_eq!(obj.word(1), words - 2);
        for i in 2..granules(words) * GRANULE_WORDS {
            assert_eq!(obj.word(i), 0);
        }
        blocks.push((obj.address(), granules(words) * GRANULE));
        // Dirty it, so that reuse must zero it again.
        for i in 2..words {
            obj.set_word(i, Value::from_int(7).0);
        }
    }
    blocks.sort();
    for pair in blocks.windows(2) {
        assert!(pair[0].0 + pair[0].1 <= pair[1].0, "overlap");
    }
    h.heap.check();
    let used: usize = blocks.iter().map(|b| b.1).sum();
    assert_eq!(h.used(), used);
}

#[test]
fn freed_blocks_are_reused_and_zeroed() {
    let mut h = TestHeap::new(4096);
    let a = blob(&mut h, 6).unwrap();
    for i in 2..6 {
        a.set_word(i, 0x55);
    }
    let b = blob(&mut h, 6).unwrap();
    h.root(b.value());
    h.collect();
    assert_eq!(h.objects(), vec![b.address()]);
    // The lowest free memory comes first: where `a` was.
    let c = blob(&mut h, 6).unwrap();
    assert_eq!(c.address(), a.address());
    for i in 2..6 {
        assert_eq!(c.word(i), 0);
    }
    h.heap.check();
}

/// Allocates 3-granule objects (without collecting) until the heap is
/// full; returns them in order.
fn fill_with_three_granule_objects(h: &mut TestHeap) -> Vec<Obj> {
    let mut all = Vec::new();
    while let Some(obj) = h.heap.allocate(6, VECTOR as *const _ as usize, 4) {
        all.push(obj);
    }
    all
}

#[test]
fn small_holes_serve_their_size_and_are_split() {
    let mut h = TestHeap::new(8192);
    // Fill the heap with 3-granule objects, keep every other one.
    let all = fill_with_three_granule_objects(&mut h);
    for obj in all.iter().step_by(2) {
        h.root(obj.value());
    }
    // Whatever rest filling left at the end, fill it too and keep it.
    while let Some(obj) = h.heap.allocate(2, VECTOR as *const _ as usize, 0) {
        h.root(obj.value());
    }
    h.collect();
    assert_eq!(h.heap.free_bytes(), (all.len() / 2) * 3 * GRANULE);
    let holes: Vec<usize> = all.iter().skip(1).step_by(2).map(|o| o.address()).collect();
    // A 3-granule request takes a hole whole; a 1-granule one splits one.
    let exact = h.heap.allocate(6, VECTOR as *const _ as usize, 4).unwrap();
    assert!(holes.contains(&exact.address()));
    let split = h.heap.allocate(2, VECTOR as *const _ as usize, 0).unwrap();
    assert!(holes.contains(&split.address()));
    h.heap.check();
    // A request larger than every hole fails without a collection.
    assert!(h.heap.allocate(8, VECTOR as *const _ as usize, 6).is_none());
}

#[test]
fn large_objects_are_cut_from_large_blocks() {
    let mut h = TestHeap::new(16 * 1024);
    let big = (SMALL_CLASSES + 5) * GRANULE_WORDS;
    let a = blob(&mut h, big).unwrap();
    let b = blob(&mut h, 2 * big).unwrap();
    let c = blob(&mut h, 3).unwrap();
    h.roots = vec![a.value(), c.value()];
    h.collect();
    // `b`'s block is free again and large: a large request fits there.
    let d = blob(&mut h, big).unwrap();
    assert!(d.address() >= b.address() && d.address() < b.address() + 2 * big * WORD);
    h.heap.check();
}

#[test]
fn exhaustion_is_reported_and_recovers_after_freeing() {
    let mut h = TestHeap::new(4096);
    let mut count = 0;
    loop {
        match blob(&mut h, 8) {
            Ok(obj) => {
                h.root(obj.value());
                count += 1;
            }
            Err(e) => {
                assert_eq!(e, Error::OutOfMemory);
                break;
            }
        }
    }
    assert!(count >= h.heap.capacity() / (8 * WORD) - 1);
    h.heap.check();
    assert!(h.heap.free_bytes() < 8 * WORD);
    h.roots.truncate(count / 2);
    assert!(blob(&mut h, 8).is_ok());
    h.heap.check();
}

#[test]
fn an_object_larger_than_the_heap_is_out_of_memory() {
    let mut h = TestHeap::new(2048);
    let words = h.heap.capacity() / WORD + 1;
    assert_eq!(blob(&mut h, words).unwrap_err(), Error::OutOfMemory);
    assert_eq!(
        blob(&mut h, usize::MAX / 2).unwrap_err(),
        Error::OutOfMemory
    );
    // The whole heap in one object is fine.
    let all = h.heap.capacity() / WORD;
    assert!(blob(&mut h, all).is_ok());
    assert_eq!(h.heap.free_bytes(), 0);
    h.heap.check();
}

#[test]
fn an_empty_heap_allocates_nothing() {
    let mut h = TestHeap::new(0);
    assert_eq!(h.heap.capacity(), 0);
    assert_eq!(blob(&mut h, 2).unwrap_err(), Error::OutOfMemory);
}

#[test]
fn random_sizes_keep_the_invariants() {
    let mut h = TestHeap::new(32 * 1024);
    let mut rng = Rng::new(7);
    let mut live: Vec<(Obj, usize)> = Vec::new();
    for step in 0..4000 {
        let words = 2 + if rng.below(10) == 0 {
            rng.below(200)
        } else {
            rng.below(14)
        };
        if let Ok(obj) = blob(&mut h, words) {
            // Each object carries its own address (tagged as an integer, so
            // that it refers to nothing), to detect overlaps.
            for i in 2..words {
                obj.set_word(i, stamp(obj, i));
            }
            live.push((obj, words));
        }
        if rng.below(3) == 0 && !live.is_empty() {
            live.swap_remove(rng.below(live.len()));
        }
        h.roots = live.iter().map(|(o, _)| o.value()).collect();
        if step % 97 == 0 {
            h.collect();
        }
        for (obj, words) in &live {
            for i in 2..*words {
                assert_eq!(obj.word(i), stamp(*obj, i), "object overwritten");
            }
        }
    }
    h.collect();
    let used: usize = live.iter().map(|(_, w)| granules(*w) * GRANULE).sum();
    assert_eq!(h.used(), used);
}

fn stamp(obj: Obj, i: usize) -> usize {
    (obj.address() ^ i) << 2 | 1
}

#[test]
fn a_heap_uses_nearly_all_of_its_arena() {
    for bytes in (0..6000).step_by(40) {
        let h = TestHeap::new(bytes);
        h.heap.check();
        let capacity = h.heap.capacity();
        // Lost: the bitmap (1/64), alignment and rounding (a granule each).
        assert!(
            capacity + capacity / 64 + 3 * GRANULE + 4 >= bytes,
            "{bytes}"
        );
        assert_eq!(h.heap.free_bytes(), capacity);
    }
}

/// A long-running program with objects of mixed sizes never runs out of
/// memory while less than half of the heap is live, however the freed
/// blocks cut up the heap: for several mixes of sizes (16 bytes to a 32nd
/// of the heap), 20 000 allocations each, objects freed at random (the
/// oldest ones more often), collections only when the heap is full, as on
/// the device. (No allocator that does not move objects can promise this
/// for objects that are large next to the heap: a few of them, left at
/// the wrong places, cut the rest of the heap into pieces too small for
/// the next one.)
#[test]
fn mixed_sizes_never_run_out_while_less_than_half_is_live() {
    type Mix = fn(&mut Rng, usize) -> usize;
    let mixes: [(&str, Mix); 4] = [
        ("uniform", |rng, _| 2 + rng.below(63)),
        ("mostly small, some large", |rng, _| {
            if rng.below(10) == 0 {
                32 + rng.below(33)
            } else {
                2 + rng.below(5)
            }
        }),
        ("sizes drifting up and down", |rng, step| {
            let phase = (step / 1000) % 8;
            let base = 2 + phase * 4;
            base + rng.below(base)
        }),
        ("powers of two", |rng, _| 1 << (1 + rng.below(6))),
    ];
    for (name, mix) in mixes {
        for seed in 1..=4 {
            let mut h = TestHeap::new(16 * 1024);
            let half = h.heap.capacity() / 2;
            let mut rng = Rng::new(seed);
            let mut live: Vec<(Obj, usize)> = Vec::new();
            let mut live_bytes = 0;
            for step in 0..20_000 {
                let words = mix(&mut rng, step);
                let bytes = granules(words) * GRANULE;
                while live_bytes + bytes > half {
                    // The oldest quarter, more often than the rest.
                    let i = if rng.below(2) == 0 {
                        rng.below(live.len().div_ceil(4))
                    } else {
                        rng.below(live.len())
                    };
                    let (_, freed) = live.remove(i);
                    live_bytes -= granules(freed) * GRANULE;
                }
                h.roots = live.iter().map(|(o, _)| o.value()).collect();
                let obj = blob(&mut h, words).unwrap_or_else(|_| {
                    panic!("{name}, seed {seed}: out of memory at step {step} with {live_bytes} of {} bytes live, allocating {bytes}", h.heap.capacity())
                });
                for i in 2..words {
                    obj.set_word(i, stamp(obj, i));
                }
                live.push((obj, words));
                live_bytes += bytes;
            }
            for (obj, words) in &live {
                for i in 2..*words {
                    assert_eq!(obj.word(i), stamp(*obj, i), "object overwritten");
                }
            }
        }
    }
}

/// The two objects of a growable array (its storage and its header), as
/// `array::new` asks for them.
fn pair(h: &mut TestHeap, storage_words: usize, keep: Value) -> Result<(Obj, Obj), Error> {
    let vector = Shape {
        words: storage_words,
        header: VECTOR as *const _ as usize,
        word1: storage_words - layout::VECTOR_DATA,
    };
    let small = Shape {
        words: 2,
        header: VECTOR as *const _ as usize,
        word1: 0,
    };
    h.allocate_two(vector, small, keep)
}

#[test]
fn two_objects_share_one_collection_that_keeps_the_kept_value() {
    let mut h = TestHeap::new(4096);
    let kept = blob(&mut h, 4).unwrap();
    kept.set_word(2, Value::from_int(42).0);
    // Garbage up to the last granules: the pair needs a collection.
    while h.heap.free_bytes() >= 10 * GRANULE {
        blob(&mut h, 8).unwrap();
    }
    let (first, second) = pair(&mut h, 14, kept.value()).unwrap();
    assert_ne!(first.address(), second.address());
    assert_eq!(first.word(1), 12);
    assert_eq!(second.word(1), 0);
    for i in 2..14 {
        assert_eq!(first.word(i), 0);
    }
    // `kept` was held across the collection, nothing else survived it.
    h.roots = vec![kept.value(), first.value(), second.value()];
    h.collect();
    assert_eq!(kept.word(2), Value::from_int(42).0);
    assert_eq!(h.used(), (granules(4) + granules(14) + 1) * GRANULE);
}

#[test]
fn when_only_the_first_of_two_fits_the_pair_fails_and_leaves_garbage() {
    let mut h = TestHeap::new(4096);
    // Live objects fill the heap but for exactly the first object's room.
    let first_words = 4 * GRANULE_WORDS;
    while h.heap.free_bytes() > granules(first_words) * GRANULE {
        let words = if h.heap.free_bytes() >= granules(first_words) * GRANULE + 8 * WORD {
            8
        } else {
            GRANULE_WORDS
        };
        let obj = blob(&mut h, words).unwrap();
        h.root(obj.value());
    }
    assert_eq!(h.heap.free_bytes(), granules(first_words) * GRANULE);
    assert_eq!(
        pair(&mut h, first_words, Value::UNDEFINED).unwrap_err(),
        Error::OutOfMemory
    );
    h.heap.check();
    // The first object taken is unreachable: the next collection frees it.
    assert_eq!(h.collect(), granules(first_words) * GRANULE);
    assert!(blob(&mut h, first_words).is_ok());
}

#[test]
fn a_large_pair_fits_a_fragmented_heap_after_collection() {
    let mut h = TestHeap::new(8192);
    // Every other small object live: the free memory is all in holes
    // too small for a large object, until the dead ones are swept and
    // merged with their neighbours.
    let all = fill_with_three_granule_objects(&mut h);
    for (i, obj) in all.iter().enumerate() {
        if i % 2 == 0 || i >= all.len() - 40 {
            h.root(obj.value());
        }
    }
    h.collect();
    // Holes of 3 granules only: a 16-granule storage does not fit.
    assert!(h
        .heap
        .allocate(32, VECTOR as *const _ as usize, 30)
        .is_none());
    let big = (SMALL_CLASSES + 8) * GRANULE_WORDS;
    // Freeing the tail's live run makes room for it.
    h.roots.truncate(h.roots.len() - 40);
    let (storage, header) = pair(&mut h, big, Value::UNDEFINED).unwrap();
    assert_eq!(storage.word(1), big - layout::VECTOR_DATA);
    assert!(header.address() != storage.address());
    h.heap.check();
}

#[test]
fn pairs_under_stress_keep_their_kept_value() {
    let mut h = TestHeap::stressed(4096);
    let kept = blob(&mut h, 3).unwrap();
    kept.set_word(2, Value::from_int(7).0);
    for storage in 2..40 {
        let (first, second) = pair(&mut h, storage, kept.value()).unwrap();
        assert_eq!(first.word(1), storage - layout::VECTOR_DATA);
        assert_eq!(second.word(0), VECTOR as *const _ as usize);
        assert_eq!(kept.word(2), Value::from_int(7).0);
    }
}
