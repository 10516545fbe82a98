//! A heap for tests: the runtime's `Heap` over a vector, with roots the
//! test controls, as the device binds it to `__bs_heap`, its stack and its
//! globals.

use crate::error::{Error, Result};
use crate::heap::{Heap, Marker, Mutator, Roots, Shape};
use crate::object::{ClassDescriptor, Kind, Member, Obj};
use crate::string;
use crate::value::Value;

pub struct TestHeap {
    /// Owns the memory the heap works in; never touched directly.
    _arena: Box<[usize]>,
    pub heap: Heap,
    /// Values known precisely (like the globals of a program).
    pub roots: Vec<Value>,
    /// What `hold` holds.
    held: Vec<Value>,
    /// Collect before every allocation (and check the heap after each
    /// collection): flushes out values that an operation forgot to hold.
    pub stress: bool,
}

impl TestHeap {
    /// A heap in an arena of `bytes` bytes (bitmap included).
    pub fn new(bytes: usize) -> TestHeap {
        let mut arena = vec![0usize; bytes / size_of::<usize>()].into_boxed_slice();
        // SAFETY: the arena lives as long as the heap (both are fields of
        // the returned value; a boxed slice does not move when it does).
        let heap = unsafe { Heap::new(arena.as_mut_ptr(), arena.len()) };
        TestHeap {
            _arena: arena,
            heap,
            roots: Vec::new(),
            held: Vec::new(),
            stress: false,
        }
    }

    /// A heap that collects before every allocation.
    pub fn stressed(bytes: usize) -> TestHeap {
        TestHeap {
            stress: true,
            ..TestHeap::new(bytes)
        }
    }

    /// Collects, checks the heap's invariants, returns the free bytes.
    pub fn collect(&mut self) -> usize {
        let mut roots = TestRoots {
            roots: &self.roots,
            held: &self.held,
        };
        let free = self.heap.collect(&mut roots);
        self.heap.check();
        assert_eq!(free, self.heap.free_bytes());
        free
    }

    /// Bytes in objects (live or not yet collected).
    pub fn used(&self) -> usize {
        self.heap.capacity() - self.heap.free_bytes()
    }

    /// Addresses of all objects in the heap.
    pub fn objects(&self) -> Vec<usize> {
        let mut all = Vec::new();
        self.heap.for_each_object(|obj| all.push(obj.address()));
        all
    }

    /// Roots `v` and returns it.
    pub fn root(&mut self, v: Value) -> Value {
        self.roots.push(v);
        v
    }

    /// A string made from `text`, rooted.
    pub fn string(&mut self, text: &str) -> Obj {
        let v = string::new(self, text.as_bytes()).unwrap();
        self.root(v);
        obj(v)
    }
}

impl Mutator for TestHeap {
    fn allocate(&mut self, words: usize, header: usize, word1: usize) -> Result<Obj> {
        if self.stress {
            self.collect();
        }
        if let Some(obj) = self.heap.allocate(words, header, word1) {
            return Ok(obj);
        }
        self.collect();
        self.heap
            .allocate(words, header, word1)
            .ok_or(Error::OutOfMemory)
    }

    fn allocate_two(&mut self, first: Shape, second: Shape, keep: Value) -> Result<(Obj, Obj)> {
        if self.stress {
            self.held.push(keep);
            self.collect();
            self.held.pop();
        }
        if let Some(pair) = self.heap.allocate_two(first, second) {
            return Ok(pair);
        }
        self.held.push(keep);
        self.collect();
        self.held.pop();
        self.heap
            .allocate_two(first, second)
            .ok_or(Error::OutOfMemory)
    }

    fn hold(&mut self, v: Value) {
        self.held.push(v);
    }

    fn release(&mut self, v: Value) {
        assert_eq!(self.held.pop(), Some(v), "releases out of order");
    }
}

struct TestRoots<'a> {
    roots: &'a [Value],
    held: &'a [Value],
}

impl Roots for TestRoots<'_> {
    fn visit(&mut self, marker: &mut Marker<'_>) {
        for &v in self.roots.iter().chain(self.held) {
            marker.value(v);
        }
    }
}

/// The object a value refers to.
pub fn obj(v: Value) -> Obj {
    unsafe { Obj::from_value(v) }.expect("an object")
}

/// The text of a string value.
pub fn text(v: Value) -> String {
    let s = obj(v);
    assert_eq!(s.kind(), Kind::String);
    let t = String::from_utf8(string::bytes(s).to_vec()).unwrap();
    assert_eq!(
        string::length(s),
        t.encode_utf16().count(),
        "UTF-16 length of {t:?}"
    );
    t
}

/// A class descriptor for tests: `size_words` words with the header, the
/// ones whose bits are set in `ref_map` holding values.
pub const fn class(
    name: &'static core::ffi::CStr,
    size_words: usize,
    ref_map: &'static [u32; 1],
    superclass: *const ClassDescriptor,
) -> ClassDescriptor {
    ClassDescriptor {
        kind: Kind::Instance as usize,
        size_words,
        ref_map: ref_map.as_ptr(),
        superclass,
        name: name.as_ptr().cast(),
        members: core::ptr::null(),
        member_count: 0,
    }
}

/// A class descriptor with a member table.
pub const fn class_with(
    name: &'static core::ffi::CStr,
    size_words: usize,
    ref_map: &'static [u32; 1],
    superclass: *const ClassDescriptor,
    members: &'static [Member],
) -> ClassDescriptor {
    ClassDescriptor {
        members: members.as_ptr(),
        member_count: members.len(),
        ..class(name, size_words, ref_map, superclass)
    }
}

/// A member table entry.
pub const fn member(
    name: &'static core::ffi::CStr,
    kind: usize,
    offset: usize,
    target: *const (),
) -> Member {
    Member {
        name: name.as_ptr().cast(),
        kind,
        offset,
        target,
    }
}

/// An `any_entry` for closure descriptors of tests that never call one.
pub unsafe extern "C" fn no_entry(_: Value, _: *const Value, _: usize, _: *const u8) -> Value {
    unreachable!("any_entry called")
}

/// A small deterministic random number generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
