//! The device's heap: the portable [`Heap`] bound to the `__bs_heap`
//! arena, with the roots of a running program, all of them precise:
//!
//! - the shadow stack: each script function that holds references across
//!   a call or an allocation links a frame of root slots in front of
//!   `__bs_roots_top` (docs/values-and-heap.md, "Roots");
//! - the values that the runtime's own code holds across an allocation
//!   ([`Mutator::hold`]);
//! - the globals that generated code registers with `bs_gc_roots`;
//! - the globals of the host's cells, through its table at
//!   `__bs_host_roots` (`host_request::for_each_host_root`);
//! - the closures of pending timers and of the running callback.
//!
//! The machine stack is never scanned: a stale word there keeps nothing
//! alive.
//!
//! Allocation is refused in an interrupt handler (the heap is thread-mode
//! state, and the interrupted code may be in the middle of an allocation)
//! and with less than [`STACK_RESERVE`] bytes of script stack left (so that
//! a stack overflow can never strike in the middle of a heap update).

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::abi::parse_size;
use crate::catch::runtime_error;
use crate::cell::ThreadCell;
use crate::error::{Error, Result};
use crate::heap::{Heap, Marker, Mutator, Roots, Shape};
use crate::host_request::for_each_host_root;
use crate::object::{Obj, WORD};
use crate::value::Value;
use crate::{abi, arch, stack, timer};

/// Heap size when the firmware sets none.
const DEFAULT_HEAP_BYTES: usize = 16 * 1024;

/// Heap size in bytes: `BLUESCRIPT_HEAP_SIZE` at build time (bytes, or
/// KiB with a `K` suffix, e.g. `65536` or `64K`), e.g. from the `[env]`
/// section of the firmware's `.cargo/config.toml`; 16 KiB otherwise.
const HEAP_BYTES: usize = match option_env!("BLUESCRIPT_HEAP_SIZE") {
    Some(text) => parse_size(text.as_bytes()),
    None => DEFAULT_HEAP_BYTES,
};

/// Script stack that allocation leaves for the collector's frames.
const STACK_RESERVE: usize = 1024;

#[repr(C, align(8))]
struct Arena(UnsafeCell<MaybeUninit<[usize; HEAP_WORDS]>>);

const HEAP_WORDS: usize = HEAP_BYTES / WORD;

// SAFETY: only the heap, in thread mode, touches it (through a raw pointer).
unsafe impl Sync for Arena {}

/// The heap's memory. Its ELF symbol's address and size are the heap's
/// bounds (the host reads them). In `.uninit`: the heap initializes what
/// it uses, so the startup code need not zero it.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".uninit.__bs_heap")]
static __bs_heap: Arena = Arena(UnsafeCell::new(MaybeUninit::uninit()));

static HEAP: ThreadCell<Heap> = ThreadCell::new(Heap::EMPTY);

/// The globals' root table registered by generated code: the addresses of
/// the words that hold values.
static GLOBALS: ThreadCell<(*const *const usize, usize)> = ThreadCell::new((core::ptr::null(), 0));

#[inline(always)]
fn with_heap<R>(f: impl FnOnce(&mut Heap) -> R) -> R {
    // SAFETY: allocation and collection run in thread mode only (checked
    // by `Device::allocate`), never nested, and report no errors inside.
    unsafe { HEAP.with(f) }
}

/// Sets up the heap in `__bs_heap`. Called once by `run`.
pub(crate) fn init() {
    let arena = __bs_heap.0.get().cast::<usize>();
    // SAFETY: the arena is reserved for the heap, and used by nothing yet.
    with_heap(|heap| *heap = unsafe { Heap::new(arena, HEAP_WORDS) });
}

/// Registers the program's global roots: `count` addresses of words that
/// hold values (references or `any`), read at every collection. Generated
/// code calls it first thing in its top-level code; a later call replaces
/// the table.
///
/// # Safety
/// `roots` must point to `count` addresses of readable words, valid for
/// the rest of the program (static data).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bs_gc_roots(roots: *const *const usize, count: usize) {
    // SAFETY: thread mode (script code), not nested.
    unsafe { GLOBALS.with(|g| *g = (roots, count)) }
}

/// Collects garbage now; returns the free bytes of the heap afterwards.
#[unsafe(no_mangle)]
pub extern "C" fn bs_gc_collect() -> usize {
    check_context();
    collect()
}

/// The allocator of the device's entry points.
pub(crate) struct Device;

impl Mutator for Device {
    fn allocate(&mut self, words: usize, header: usize, word1: usize) -> Result<Obj> {
        check_context();
        if let Some(obj) = with_heap(|heap| heap.allocate(words, header, word1)) {
            return Ok(obj);
        }
        collect();
        with_heap(|heap| heap.allocate(words, header, word1)).ok_or(Error::OutOfMemory)
    }

    // Inlined into its one caller, a new growable array's construction:
    // the shapes and the result then need no memory (see build.rs).
    #[cfg_attr(not(opt_level_z), inline(always))]
    fn allocate_two(&mut self, first: Shape, second: Shape, keep: Value) -> Result<(Obj, Obj)> {
        check_context();
        if let Some(pair) = with_heap(|heap| heap.allocate_two(first, second)) {
            return Ok(pair);
        }
        self.hold(keep);
        collect();
        self.release(keep);
        with_heap(|heap| heap.allocate_two(first, second)).ok_or(Error::OutOfMemory)
    }

    fn hold(&mut self, v: Value) {
        // SAFETY: thread mode (script code and the runtime it calls).
        let full = unsafe {
            HELD.with(|held| {
                let full = held.len == held.values.len();
                if !full {
                    held.values[held.len] = v.0;
                    held.len += 1;
                }
                full
            })
        };
        if full {
            runtime_error("the runtime holds too many values");
        }
    }

    fn release(&mut self, v: Value) {
        // SAFETY: as in `hold`.
        unsafe {
            HELD.with(|held| {
                debug_assert!(held.len > 0 && held.values[held.len - 1] == v.0);
                held.len -= 1;
            })
        }
    }
}

/// The innermost frame of the shadow stack (0: none). Generated code links
/// its frames here and unlinks them on return:
///
/// ```text
/// frame: word 0  the previous frame (the value of __bs_roots_top before)
///        word 1  the number of slots, n
///        word 2… n slots, each a value (reference or `any`) or 0
/// ```
///
/// Generated code writes it with plain stores (it declares it `static mut
/// usize`); the runtime only reads it, and restores it when a run-time
/// error abandons frames (see `catch.rs`).
#[unsafe(no_mangle)]
pub static __bs_roots_top: AtomicUsize = AtomicUsize::new(0);

/// Values the runtime's code holds across an allocation, innermost last.
/// Nesting is shallow (a conversion inside a concatenation holds three).
struct Held {
    values: [usize; 8],
    len: usize,
}

static HELD: ThreadCell<Held> = ThreadCell::new(Held {
    values: [0; 8],
    len: 0,
});

/// The roots that a catcher restores when it abandons script code: the
/// shadow stack's top and the number of held values.
#[derive(Clone, Copy)]
pub(crate) struct RootMark {
    top: usize,
    held: usize,
}

/// Where the precise roots stand now (see [`RootMark`]).
pub(crate) fn root_mark() -> RootMark {
    RootMark {
        top: __bs_roots_top.load(Ordering::Relaxed),
        // SAFETY: thread mode.
        held: unsafe { HELD.with(|held| held.len) },
    }
}

/// Drops the frames and held values that were added after `mark` (their
/// code was abandoned by a run-time error).
pub(crate) fn restore_roots(mark: RootMark) {
    __bs_roots_top.store(mark.top, Ordering::Relaxed);
    // SAFETY: thread mode.
    unsafe { HELD.with(|held| held.len = mark.held) };
}

/// Reports a run-time error if the heap may not be used here. Inlined:
/// it guards every allocation, and it is a few instructions.
#[inline(always)]
fn check_context() {
    if arch::in_interrupt() {
        runtime_error("allocation inside an interrupt handler");
    }
    let guard_top = stack::guard_top();
    if guard_top != 0 && arch::stack_pointer() < guard_top + STACK_RESERVE {
        runtime_error("stack overflow");
    }
}

fn collect() -> usize {
    with_heap(|heap| heap.collect(&mut DeviceRoots))
}

struct DeviceRoots;

impl Roots for DeviceRoots {
    fn visit(&mut self, marker: &mut Marker<'_>) {
        let mut frame = __bs_roots_top.load(Ordering::Relaxed);
        while frame != 0 {
            // SAFETY: a linked frame of generated code, live while it is
            // linked (see `__bs_roots_top`); script code is suspended here.
            unsafe {
                let words = frame as *const usize;
                let count = words.add(1).read_volatile();
                for i in 0..count {
                    marker.value(Value(words.add(2 + i).read_volatile()));
                }
                frame = words.read_volatile();
            }
        }
        // SAFETY: thread mode; `hold` and `release` are not running.
        unsafe {
            HELD.with(|held| {
                for &v in &held.values[..held.len] {
                    marker.value(Value(v));
                }
            })
        };
        // SAFETY: thread mode; the table's contract (see `bs_gc_roots`).
        let (roots, count) = unsafe { GLOBALS.with(|g| *g) };
        for i in 0..count {
            // SAFETY: as above; globals are written by script code, which
            // is suspended here.
            marker.value(Value(unsafe { roots.add(i).read().read_volatile() }));
        }
        // SAFETY: the host keeps the table in the patch region, pointing
        // at words that hold values (docs/device-abi.md, "Host requests").
        unsafe { for_each_host_root(abi::host_roots(), |v| marker.value(Value(v))) };
        timer::for_each_closure(|closure| marker.value(closure));
    }
}
