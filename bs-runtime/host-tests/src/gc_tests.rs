//! The collector: what it keeps, what it frees.

use std::collections::BTreeSet;

use crate::array;
use crate::heap::GRANULE;
use crate::object::{
    __bs_desc_any_array, __bs_desc_cell, __bs_desc_fixed_array, __bs_desc_raw_cell,
    __bs_desc_string, __bs_desc_vector, layout, ClassDescriptor, ClosureDescriptor, Kind, Obj,
};
use crate::string;
use crate::support::{class, no_entry, obj, text, Rng, TestHeap};
use crate::value::Value;

/// `class Node { next: Node; other: any; id: integer }`: words 1 and 2
/// hold values, word 3 a raw integer.
static NODE_MAP: [u32; 1] = [0b0110];
static NODE: ClassDescriptor = class(c"Node", 4, &NODE_MAP, core::ptr::null());
const NEXT: usize = 1;
const OTHER: usize = 2;
const ID: usize = 3;

static CLOSURE: ClosureDescriptor = ClosureDescriptor {
    kind: Kind::Closure as usize,
    signature: c"()=>void".as_ptr().cast(),
    any_entry: no_entry,
};

fn node(h: &mut TestHeap, id: i32) -> Obj {
    let n = obj(array::new_instance(h, &NODE).unwrap());
    n.set_word(ID, id as u32 as usize);
    n
}

fn link(from: Obj, field: usize, to: Obj) {
    from.set_word(field, to.address());
}

fn live(h: &TestHeap) -> BTreeSet<usize> {
    h.objects().into_iter().collect()
}

fn set(objects: &[Obj]) -> BTreeSet<usize> {
    objects.iter().map(|o| o.address()).collect()
}

#[test]
fn unreachable_objects_are_freed() {
    let mut h = TestHeap::new(8192);
    for i in 0..20 {
        node(&mut h, i);
        string::new(&mut h, b"garbage").unwrap();
    }
    assert!(h.used() > 0);
    assert_eq!(h.collect(), h.heap.capacity());
    assert!(h.objects().is_empty());
}

#[test]
fn roots_and_fields_keep_objects() {
    let mut h = TestHeap::new(8192);
    let a = node(&mut h, 1);
    let b = node(&mut h, 2);
    let c = node(&mut h, 3);
    let s = obj(string::new(&mut h, b"kept through any").unwrap());
    let garbage = node(&mut h, 4);
    link(a, NEXT, b);
    link(b, OTHER, s); // an `any` field
    link(garbage, NEXT, c); // from garbage only: not kept
    h.root(a.value());
    h.collect();
    assert_eq!(live(&h), set(&[a, b, s]));
    assert_eq!(b.word(ID), 2);
    assert_eq!(text(s.value()), "kept through any");
}

#[test]
fn raw_fields_are_not_references() {
    let mut h = TestHeap::new(8192);
    let a = node(&mut h, 1);
    let b = node(&mut h, 2);
    // The integer field happens to hold b's address: b is still garbage.
    a.set_word(ID, b.address());
    h.root(a.value());
    h.collect();
    assert_eq!(live(&h), set(&[a]));
}

#[test]
fn arrays_closures_and_cells_keep_their_values() {
    let mut h = TestHeap::new(16 * 1024);
    let any_array = obj(array::new(&mut h, &__bs_desc_any_array, 0, 0).unwrap());
    h.root(any_array.value());
    let in_array = node(&mut h, 1);
    array::push(&mut h, any_array, in_array.value()).unwrap();
    let fixed = obj(array::new(&mut h, &__bs_desc_fixed_array, 3, 0).unwrap());
    h.root(fixed.value());
    let in_fixed = node(&mut h, 2);
    array::set(fixed, 2, in_fixed.value()).unwrap();
    let closure = obj(array::new_closure(&mut h, &CLOSURE, 7, 2).unwrap());
    h.root(closure.value());
    let cell = obj(array::new_cell(&mut h, &__bs_desc_cell, 0).unwrap());
    closure.set_word(layout::CLOSURE_CAPTURES + 1, cell.address());
    let in_cell = node(&mut h, 3);
    cell.set_word(layout::CELL_VALUE, in_cell.address());
    // A raw cell holding an address keeps nothing.
    let raw = obj(array::new_cell(&mut h, &__bs_desc_raw_cell, 0).unwrap());
    closure.set_word(layout::CLOSURE_CAPTURES, raw.address());
    let not_kept = node(&mut h, 4);
    raw.set_word(layout::CELL_VALUE, not_kept.address());
    h.collect();
    let storage = any_array.word(layout::ARRAY_STORAGE);
    let expected: BTreeSet<usize> = set(&[
        any_array, in_array, fixed, in_fixed, closure, cell, in_cell, raw,
    ])
    .into_iter()
    .chain([storage])
    .collect();
    assert_eq!(live(&h), expected);
    assert_eq!(closure.word(layout::CLOSURE_SLOT), 7);
}

#[test]
fn cycles_are_collected() {
    let mut h = TestHeap::new(8192);
    let a = node(&mut h, 1);
    let b = node(&mut h, 2);
    link(a, NEXT, b);
    link(b, NEXT, a);
    link(a, OTHER, a);
    h.root(a.value());
    h.collect();
    assert_eq!(live(&h), set(&[a, b]));
    h.roots.clear();
    h.collect();
    assert!(h.objects().is_empty());
}

#[test]
fn static_objects_are_neither_marked_nor_freed() {
    let mut h = TestHeap::new(8192);
    let array = obj(array::new(&mut h, &__bs_desc_any_array, 0, 0).unwrap());
    h.root(array.value());
    // Statics live in read-only memory here: a mark written into one
    // would crash the test.
    array::push(&mut h, array, string::TRUE.value()).unwrap();
    array::push(&mut h, array, string::UNDEFINED.value()).unwrap();
    h.roots.push(string::EMPTY.value());
    h.roots.push(string::FALSE.value());
    h.collect();
    assert_eq!(text(array::get(array, 0).unwrap()), "true");
    assert_eq!(text(string::FALSE.value()), "false");
    assert_eq!(h.objects().len(), 2); // the array and its vector
}

#[test]
fn long_lists_overflow_the_mark_stack_safely() {
    let mut h = TestHeap::new(256 * 1024);
    // A list, and a wide array, both far larger than the mark stack.
    let head = node(&mut h, 0);
    h.root(head.value());
    let mut last = head;
    for i in 1..3000 {
        let n = node(&mut h, i);
        link(last, NEXT, n);
        last = n;
    }
    let wide = obj(array::new(&mut h, &__bs_desc_fixed_array, 2000, 0).unwrap());
    h.root(wide.value());
    for i in 0..2000 {
        let n = node(&mut h, 10_000 + i);
        let child = node(&mut h, 20_000 + i);
        link(n, OTHER, child);
        array::set(wide, i, n.value()).unwrap();
    }
    let before = h.used();
    h.collect();
    assert_eq!(h.used(), before);
    let mut n = head;
    for i in 0..3000 {
        assert_eq!(n.word(ID), i as usize);
        if i < 2999 {
            n = obj(Value(n.word(NEXT)));
        }
    }
    h.roots.clear();
    assert_eq!(h.collect(), h.heap.capacity());
}

/// The reference model of the stress test: node `i`'s two edges (by
/// index), and the roots.
#[derive(Default)]
struct Model {
    edges: Vec<[Option<usize>; 2]>,
    roots: Vec<usize>,
}

impl Model {
    fn reachable(&self) -> Vec<usize> {
        let mut seen = vec![false; self.edges.len()];
        let mut todo = self.roots.clone();
        let mut found = Vec::new();
        while let Some(i) = todo.pop() {
            if !seen[i] {
                seen[i] = true;
                found.push(i);
                todo.extend(self.edges[i].iter().flatten());
            }
        }
        found.sort();
        found
    }
}

/// Random graphs of nodes and strings, mutated and collected at random,
/// checked against a model: everything reachable stays intact, everything
/// else is freed (the roots are precise, so exactly).
#[test]
fn random_graphs_match_the_model() {
    for seed in 1..=4 {
        let mut h = TestHeap::new(64 * 1024);
        let mut rng = Rng::new(seed);
        let mut model = Model::default();
        // Node `i` of the model, in the heap.
        let mut nodes: Vec<Obj> = Vec::new();
        for step in 0..3000 {
            match rng.below(10) {
                0..=3 => {
                    // A new node, rooted (so that a collection during the
                    // next allocation keeps it).
                    let Ok(n) = array::new_instance(&mut h, &NODE) else {
                        model.roots.clear();
                        h.roots.clear();
                        continue;
                    };
                    let n = obj(n);
                    n.set_word(ID, nodes.len());
                    model.roots.push(nodes.len());
                    model.edges.push([None, None]);
                    h.roots.push(n.value());
                    nodes.push(n);
                }
                4..=6 => {
                    // A new edge between two nodes still alive.
                    let alive = model.reachable();
                    if alive.is_empty() {
                        continue;
                    }
                    let from = alive[rng.below(alive.len())];
                    let to = alive[rng.below(alive.len())];
                    let field = rng.below(2);
                    let edge = if rng.below(4) == 0 { None } else { Some(to) };
                    model.edges[from][field] = edge;
                    let target = edge.map_or(0, |to| nodes[to].address());
                    nodes[from].set_word(NEXT + field, target);
                }
                7 if !model.roots.is_empty() => {
                    let i = rng.below(model.roots.len());
                    model.roots.swap_remove(i);
                    h.roots.swap_remove(i);
                }
                8 => {
                    h.collect();
                    check_against_model(&h, &model, &nodes);
                }
                _ => {
                    // Garbage of another kind and size.
                    let len = rng.below(40);
                    let _ = string::new(&mut h, &vec![b'x'; len]);
                }
            }
            if step % 500 == 0 {
                h.heap.check();
            }
        }
        h.collect();
        check_against_model(&h, &model, &nodes);
    }
}

fn check_against_model(h: &TestHeap, model: &Model, nodes: &[Obj]) {
    let reachable = model.reachable();
    let expected: BTreeSet<usize> = reachable.iter().map(|&i| nodes[i].address()).collect();
    assert_eq!(
        live(h),
        expected,
        "the heap holds exactly the reachable nodes"
    );
    for &i in &reachable {
        let n = nodes[i];
        assert_eq!(n.word(ID), i);
        for (field, edge) in model.edges[i].iter().enumerate() {
            let target = edge.map_or(0, |to| nodes[to].address());
            assert_eq!(n.word(NEXT + field), target);
        }
    }
    assert_eq!(
        h.used(),
        reachable.len() * 2 * GRANULE,
        "a node is two granules"
    );
}

#[test]
fn descriptors_of_heap_objects_are_the_runtime_ones() {
    let mut h = TestHeap::new(4096);
    let s = h.string("x");
    assert_eq!(s.word(0), &__bs_desc_string as *const _ as usize);
    let a = obj(array::new(&mut h, &__bs_desc_any_array, 1, 0).unwrap());
    let storage = obj(Value(a.word(layout::ARRAY_STORAGE)));
    assert_eq!(storage.word(0), &__bs_desc_vector as *const _ as usize);
}
