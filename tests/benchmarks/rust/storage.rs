//! storage: the Are-We-Fast-Yet Storage benchmark, made smaller for a
//! 16 KiB heap: builds a tree of arrays of depth 4 (each inner node an
//! array of 4, each leaf an empty array of 1 to 10 elements), n times,
//! counting the arrays allocated (85 a tree) and the leaf elements.
//! Without a heap, the arrays are allocated (zeroed) from an arena that
//! each tree starts afresh; inner nodes hold their children's indices.

/// AWFY's random number generator.
struct Random {
    seed: i32,
}

impl Random {
    fn new() -> Self {
        Random { seed: 74755 }
    }

    fn next(&mut self) -> i32 {
        self.seed = (self.seed * 1309 + 13849) & 65535;
        self.seed
    }
}

const DEPTH: i32 = 4;
/// Words of the largest tree: 64 leaves of up to 10, 21 inner nodes of 4.
const CAPACITY: usize = 64 * 10 + 21 * 4;

struct Storage {
    count: i32,
    elements: i32,
    random: Random,
    arena: [u32; CAPACITY],
    used: usize,
}

impl Storage {
    fn new() -> Self {
        Storage {
            count: 0,
            elements: 0,
            random: Random::new(),
            arena: [0; CAPACITY],
            used: 0,
        }
    }

    /// A new array of `length` zeroed words: the index of its first.
    fn allocate(&mut self, length: usize) -> usize {
        let start = self.used;
        self.used += length;
        self.arena[start..self.used].fill(0);
        start
    }

    fn build_tree_depth(&mut self, depth: i32) -> usize {
        self.count += 1;
        if depth == 1 {
            let length = self.random.next() % 10 + 1;
            self.elements += length;
            return self.allocate(length as usize);
        }
        let arr = self.allocate(4);
        for i in 0..4 {
            let child = self.build_tree_depth(depth - 1);
            self.arena[arr + i] = child as u32;
        }
        arr
    }
}

pub fn benchmark(n: i32) -> i32 {
    let mut storage = Storage::new();
    for _ in 0..n {
        storage.used = 0;
        storage.build_tree_depth(DEPTH);
    }
    storage.count + storage.elements
}

pub fn verify(result: i32) -> bool {
    result == 87010
}
