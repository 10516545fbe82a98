//! RAM symbols the host and patches find by name (docs/device-abi.md; their
//! names, the states and the list of entry points every image keeps are
//! defined once in `bluescript_abi`, which the host and the compiler share).
//!
//! Nothing in the firmware refers to most of them, so `keep` makes their
//! addresses escape; otherwise the linker would drop them.

#![allow(non_upper_case_globals)]

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use crate::host_request::Mailbox;

/// Number of entries of the function table: every script function, arrow
/// and function added by patches takes one. 1 KiB of RAM; the host reads
/// the size from the ELF symbol, so changing it needs no host change.
pub(crate) const SLOT_COUNT: usize = 256;
/// Size of the patch region in bytes: `BLUESCRIPT_PATCH_REGION_SIZE` at
/// build time (bytes, or KiB with a `K` suffix), e.g. from the `[env]`
/// section of the firmware's `.cargo/config.toml` (a board with little
/// RAM sets it); 64 KiB otherwise.
pub(crate) const PATCH_REGION_SIZE: usize = match option_env!("BLUESCRIPT_PATCH_REGION_SIZE") {
    Some(text) => parse_size(text.as_bytes()),
    None => 64 * 1024,
};

/// `text` as a number (`65536`, `64K` for 65 536) for the build-time
/// settings `BLUESCRIPT_*`; fails the build otherwise.
pub(crate) const fn parse_size(text: &[u8]) -> usize {
    let (mut value, mut digits) = (0usize, 0);
    while digits < text.len() && text[digits].is_ascii_digit() {
        value = value * 10 + (text[digits] - b'0') as usize;
        digits += 1;
    }
    let unit = match text.len() - digits {
        0 => 1,
        1 if text[digits] == b'K' || text[digits] == b'k' => 1024,
        _ => 0,
    };
    if digits == 0 || unit == 0 {
        panic!("BLUESCRIPT_*: expected a number, or of KiB with a K suffix");
    }
    value * unit
}

/// Storage the host (or generated code) writes behind the compiler's back.
#[repr(transparent)]
pub(crate) struct HostShared<T>(UnsafeCell<T>);

// SAFETY: only accessed through raw pointers with volatile operations.
unsafe impl<T> Sync for HostShared<T> {}

impl<T> HostShared<T> {
    const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    pub(crate) const fn get(&self) -> *mut T {
        self.0.get()
    }
}

/// Function table: slot `i` holds the function pointer of script function
/// `i` (Arm: Thumb bit set). Generated code loads slots with volatile
/// reads; the host switches a slot with one aligned 32-bit write.
#[unsafe(no_mangle)]
static __bs_slots: HostShared<[usize; SLOT_COUNT]> = HostShared::new([0; SLOT_COUNT]);

#[repr(C, align(8))]
pub(crate) struct PatchRegion([u8; PATCH_REGION_SIZE]);

/// Free RAM where the host places new code (executable: the stack guards
/// restrict nothing else). On ESP chips it is the RAM that the second-stage
/// bootloader used (esp-hal's `.dram2_uninit`, 64 KiB): outside the data
/// that esp-hal's PMP setup makes non-executable on the C6, and inside the
/// SRAM the C3 also fetches from through its IRAM alias.
#[unsafe(no_mangle)]
#[cfg_attr(feature = "esp", unsafe(link_section = ".dram2_uninit"))]
static __bs_patch_region: HostShared<PatchRegion> =
    HostShared::new(PatchRegion([0; PATCH_REGION_SIZE]));

/// The addresses of the patch region: code there is script code that the
/// host wrote.
pub(crate) fn patch_region() -> core::ops::Range<usize> {
    let start = __bs_patch_region.get() as usize;
    start..start + PATCH_REGION_SIZE
}

/// Number of patches applied since boot; written by the host only.
#[unsafe(no_mangle)]
static __bs_patch_epoch: AtomicU32 = AtomicU32::new(0);

/// What the device is doing, see [`State`].
#[unsafe(no_mangle)]
static __bs_state: AtomicU32 = AtomicU32::new(State::Booting as u32);

/// Run-time errors reported since boot.
#[unsafe(no_mangle)]
static __bs_error_count: AtomicU32 = AtomicU32::new(0);

/// Whether generated code's type profiles are paused (not 0); written by
/// the host only (`bluescript_abi::profile`).
#[unsafe(no_mangle)]
static __bs_profiling_paused: AtomicU32 = AtomicU32::new(0);

/// The host's "I am reading your output" mark. In `.uninit`, so that the
/// startup code, which zeroes `.bss`, leaves the host's write in place.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".uninit.__bs_host_attached")]
static __bs_host_attached: HostShared<u32> = HostShared::new(0);

/// Whether a host marked this boot as attached. Consumes the mark, so that
/// a later reset without a host does not wait for one.
pub(crate) fn take_host_attached() -> bool {
    // SAFETY: a plain word, read and written with volatile accesses only.
    unsafe {
        let attached = __bs_host_attached.get().read_volatile() == bluescript_abi::HOST_ATTACHED;
        __bs_host_attached.get().write_volatile(0);
        attached
    }
}

/// The host-request mailbox (`crate::host_request`); the host writes the
/// request, the event loop the answer.
#[unsafe(no_mangle)]
static __bs_host_request: [AtomicU32; bluescript_abi::host_request::WORDS] =
    [const { AtomicU32::new(0) }; bluescript_abi::host_request::WORDS];

/// 0, or the address of the host's roots table in the patch region (see
/// `host_request::for_each_host_root`); written by the host only.
#[unsafe(no_mangle)]
static __bs_host_roots: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn host_request() -> Mailbox<'static> {
    Mailbox(&__bs_host_request)
}

/// `__bs_host_roots`.
pub(crate) fn host_roots() -> usize {
    __bs_host_roots.load(Ordering::Relaxed)
}

/// The words of the mailbox and `__bs_host_roots`, which the host writes.
#[cfg_attr(not(feature = "serial-agent"), allow(dead_code))]
pub(crate) fn host_request_words() -> [core::ops::Range<usize>; 2] {
    let mailbox = __bs_host_request.as_ptr() as usize;
    let roots = __bs_host_roots.as_ptr() as usize;
    [
        mailbox..mailbox + core::mem::size_of_val(&__bs_host_request),
        roots..roots + core::mem::size_of::<usize>(),
    ]
}

pub(crate) use bluescript_abi::State;

pub(crate) fn set_state(state: State) {
    __bs_state.store(state as u32, Ordering::Relaxed);
}

/// Puts back a state word read by [`state`].
pub(crate) fn restore_state(word: u32) {
    __bs_state.store(word, Ordering::Relaxed);
}

/// Patches applied since boot (see `__bs_patch_epoch`).
pub(crate) fn patch_epoch() -> u32 {
    __bs_patch_epoch.load(Ordering::Relaxed)
}

/// `__bs_state`.
pub(crate) fn state() -> u32 {
    __bs_state.load(Ordering::Relaxed)
}

/// `__bs_error_count`.
#[cfg_attr(not(feature = "serial-agent"), allow(dead_code))]
pub(crate) fn error_count() -> u32 {
    __bs_error_count.load(Ordering::Relaxed)
}

/// The words the host writes: the patch epoch and the attach mark.
#[cfg_attr(not(feature = "serial-agent"), allow(dead_code))]
pub(crate) fn patch_epoch_address() -> usize {
    __bs_patch_epoch.as_ptr() as usize
}

/// The word that pauses type profiles, which the host writes.
#[cfg_attr(not(feature = "serial-agent"), allow(dead_code))]
pub(crate) fn profiling_paused_address() -> usize {
    __bs_profiling_paused.as_ptr() as usize
}

#[cfg_attr(not(feature = "serial-agent"), allow(dead_code))]
pub(crate) fn host_attached_address() -> usize {
    __bs_host_attached.get() as usize
}

/// The addresses of the function table.
#[cfg_attr(not(feature = "serial-agent"), allow(dead_code))]
pub(crate) fn slot_table() -> core::ops::Range<usize> {
    let start = __bs_slots.get() as usize;
    start..start + SLOT_COUNT * core::mem::size_of::<usize>()
}

pub(crate) fn count_error() {
    // Load and store (Armv6-M has no atomic add): only thread mode counts.
    let count = __bs_error_count.load(Ordering::Relaxed);
    __bs_error_count.store(count.wrapping_add(1), Ordering::Relaxed);
}

pub(crate) fn slots() -> *mut usize {
    __bs_slots.get().cast()
}

/// An address the linker must keep.
struct Keep(#[allow(dead_code)] /* only the linker reads it */ *const ());

// SAFETY: addresses of code and immutable statics.
unsafe impl Sync for Keep {}

/// Builds `KEEP_FUNCTIONS` from the names of `runtime_functions!`.
macro_rules! keep_functions {
    ($($name:ident),* $(,)?) => {
        static KEEP_FUNCTIONS: [Keep; bluescript_abi::symbols::RUNTIME_FUNCTIONS.len()] = {
            use crate::builtins::*;
            use crate::gc::{bs_gc_collect, bs_gc_roots};
            use crate::math::*;
            use crate::timer::bs_timer_start_closure;
            use crate::*;
            [$(Keep($name as *const ())),*]
        };
    };
}

/// Builds `KEEP_DESCRIPTORS` from the names of `runtime_descriptors!`.
macro_rules! keep_descriptors {
    ($($name:ident),* $(,)?) => {
        static KEEP_DESCRIPTORS: [Keep; bluescript_abi::symbols::RUNTIME_DESCRIPTORS.len()] = {
            use crate::object::*;
            [$(Keep(&$name as *const _ as *const ())),*]
        };
    };
}

// Every function and descriptor of the ABI: a patch compiled later may use
// any of them. A table (4 bytes each) is smaller than code that takes each
// address.
bluescript_abi::runtime_functions!(keep_functions);
bluescript_abi::runtime_descriptors!(keep_descriptors);

/// Makes sure the linker keeps every ABI symbol, referenced or not: a
/// patch compiled later may call any runtime function, and the host looks
/// up the data symbols.
pub(crate) fn keep() {
    core::hint::black_box(&KEEP_FUNCTIONS);
    core::hint::black_box(&KEEP_DESCRIPTORS);
    core::hint::black_box(__bs_slots.get());
    core::hint::black_box(__bs_patch_region.get());
    core::hint::black_box(&__bs_patch_epoch);
    core::hint::black_box(&__bs_state);
    core::hint::black_box(&__bs_error_count);
    core::hint::black_box(&__bs_profiling_paused);
    core::hint::black_box(&__bs_host_request);
    core::hint::black_box(&__bs_host_roots);
    core::hint::black_box(&crate::gc::__bs_roots_top);
}
