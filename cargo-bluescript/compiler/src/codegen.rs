//! Typed IR → Rust source.
//!
//! Two outputs share one generator: the *image* module, compiled into the
//! firmware crate, and a *patch*, a standalone `#![no_std]` crate compiled by
//! rustc to an object file and linked against the running image. Both reach
//! the runtime, the drivers and the globals only through `extern "C"`
//! symbols, and other script functions only through their slots (see
//! docs/device-abi.md), which is what makes a patch linkable alone.

use super::exports::Export;
use super::ir::*;
use bluescript_abi::object::{self, layout, Kind, CLASS_DESCRIPTOR_WORDS};
use bluescript_abi::symbols::{self, prefix, PATCH_EPOCH_SEPARATOR};
use bluescript_abi::{value, ArithOp, CompareOp};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write;

mod bounds;
mod calls;
mod escape;
mod places;
mod profiles;
mod prune;
mod roots;
mod specialize;
mod tagged;
mod types;

pub use calls::{image_dependencies, never_allocating, CallPolicy, Dependencies};

/// The rustc options a patch crate is compiled with (before `--target`):
/// optimized, no panics, no unwinding, nothing that the running image
/// might lack. The host builds patches with them, and this crate's tests
/// check that generated code compiles with them.
pub const PATCH_RUSTC_OPTIONS: &[&str] = &[
    "--edition=2021",
    "--crate-type=lib",
    "--crate-name=bluescript_patch",
    "--emit=obj",
    "-Copt-level=2",
    "-Cpanic=abort",
    "-Coverflow-checks=off",
    "-Cdebug-assertions=off",
    "-Ccodegen-units=1",
    "-Cdebuginfo=0",
];

/// Which slot of the function table each script function occupies.
pub type SlotMap = BTreeMap<String, u32>;

/// The slots of an image's functions: their order in the program.
pub fn image_slots(program: &Program) -> SlotMap {
    program
        .functions
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.clone(), i as u32))
        .collect()
}

/// The symbol of a script function in the image.
pub use profiles::{patch_profile_symbol, profile_symbol, profiled_params};
pub use specialize::{specialization_gains, Specialization, Specializations};
pub use types::descriptor_symbol;

pub fn function_symbol(name: &str) -> String {
    format!("{}{}", prefix::FUNCTION, mangle(name))
}

/// The symbol of a script function compiled in patch number `epoch`.
pub fn patch_symbol(name: &str, epoch: u32) -> String {
    format!("{}{PATCH_EPOCH_SEPARATOR}{epoch}", function_symbol(name))
}

pub fn global_symbol(name: &str) -> String {
    format!("{}{}", prefix::GLOBAL, mangle(name))
}

/// Script identifiers may contain `$`, Rust ones may not.
fn mangle(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' => c.to_string(),
            '$' => "_S".to_string(),
            other => format!("_u{:x}_", other as u32),
        })
        .collect()
}

const RUNTIME_EXTERNS: &str = r#"    static mut __bs_slots: usize;
    static mut __bs_roots_top: usize;
    static __bs_profiling_paused: u32;
    fn bs_print_begin(to_stderr: bool);
    fn bs_print_int(v: i32);
    fn bs_print_float(v: f32);
    fn bs_print_bool(v: bool);
    fn bs_print_str(p: *const u8, n: usize);
    fn bs_print_space();
    fn bs_print_end();
    fn bs_time_now() -> f32;
    fn bs_time_delay(ms: i32);
    fn bs_timer_start(slot: u32, ms: i32, repeat: bool) -> i32;
    fn bs_timer_clear(id: i32);
    fn bs_error(msg: *const u8, msg_len: usize, loc: *const u8, loc_len: usize) -> !;
    fn bs_math_sqrt(x: f32) -> f32;
    fn bs_math_abs(x: f32) -> f32;
    fn bs_math_floor(x: f32) -> f32;
    fn bs_math_ceil(x: f32) -> f32;
    fn bs_math_round(x: f32) -> f32;
    fn bs_math_min(a: f32, b: f32) -> f32;
    fn bs_math_max(a: f32, b: f32) -> f32;
    fn bs_math_sin(x: f32) -> f32;
    fn bs_math_cos(x: f32) -> f32;
    fn bs_math_tan(x: f32) -> f32;
    fn bs_math_atan2(y: f32, x: f32) -> f32;
    fn bs_math_exp(x: f32) -> f32;
    fn bs_math_log(x: f32) -> f32;
    fn bs_math_pow(a: f32, b: f32) -> f32;
    static __bs_desc_string: u32;
    fn bs_string_new(bytes: *const u8, len: usize, loc: *const u8) -> u32;
    fn bs_gc_roots(roots: *const *const u32, count: usize);
    fn bs_print_any(v: u32);
    fn bs_string_concat(a: u32, b: u32, loc: *const u8) -> u32;
    fn bs_string_from_int(i: i32, loc: *const u8) -> u32;
    fn bs_string_from_float(f: f32, loc: *const u8) -> u32;
    fn bs_string_from_bool(b: bool) -> u32;
    fn bs_string_length(s: u32) -> i32;
    fn bs_string_equals(a: u32, b: u32) -> bool;
    fn bs_string_compare(a: u32, b: u32) -> i32;
    fn bs_string_starts_with(s: u32, prefix: u32) -> bool;
    fn bs_string_ends_with(s: u32, suffix: u32) -> bool;
    fn bs_string_index_of(s: u32, p: u32) -> i32;
    fn bs_string_substring(s: u32, start: i32, end: i32, loc: *const u8) -> u32;
    fn bs_string_char_code_at(s: u32, index: i32, loc: *const u8) -> i32;
    fn bs_string_from_char_code(code: i32, loc: *const u8) -> u32;
    fn bs_string_from_any(v: u32, loc: *const u8) -> u32;
    static __bs_desc_int_array: u32;
    static __bs_desc_int32_array: u32;
    static __bs_desc_float_array: u32;
    static __bs_desc_bool_array: u32;
    static __bs_desc_uint8_array: u32;
    static __bs_desc_fixed_array: u32;
    static __bs_desc_any_array: u32;
    static __bs_desc_string_array: u32;
    fn bs_object_new(class: *const u32, loc: *const u8) -> u32;
    fn bs_array_new(desc: *const u32, length: i32, init: usize, loc: *const u8) -> u32;
    fn bs_array_copy(desc: *const u32, source: u32, loc: *const u8) -> u32;
    fn bs_closure_new(desc: *const u32, slot: u32, captures: usize, loc: *const u8) -> u32;
    fn bs_cell_new(init: u32, loc: *const u8) -> u32;
    fn bs_raw_cell_new(init: u32, loc: *const u8) -> u32;
    fn bs_array_get(a: u32, index: i32, loc: *const u8) -> u32;
    fn bs_array_set(a: u32, index: i32, v: u32, loc: *const u8);
    fn bs_array_push(a: u32, v: u32, loc: *const u8) -> i32;
    fn bs_array_pop(a: u32, loc: *const u8) -> u32;
    fn bs_array_shift(a: u32, loc: *const u8) -> u32;
    fn bs_array_unshift(a: u32, v: u32, loc: *const u8) -> i32;
    fn bs_index_error(index: i32, length: i32, loc: *const u8) -> !;
    fn bs_any_from_float(f: f32) -> u32;
    fn bs_any_to_int(v: u32, loc: *const u8) -> i32;
    fn bs_any_to_float(v: u32, loc: *const u8) -> f32;
    fn bs_any_to_bool(v: u32, loc: *const u8) -> bool;
    fn bs_any_to_string(v: u32, loc: *const u8) -> u32;
    fn bs_any_to_null(v: u32, loc: *const u8) -> u32;
    fn bs_any_to_object(v: u32, desc: *const u32, loc: *const u8) -> u32;
    fn bs_any_truthy(v: u32) -> bool;
    fn bs_any_equals(a: u32, b: u32) -> bool;
    fn bs_instance_of(v: u32, desc: *const u32) -> bool;
    fn bs_is_array(v: u32) -> bool;
    fn bs_timer_start_closure(closure: u32, ms: i32, repeat: bool) -> i32;
    fn bs_any_arith(op: i32, a: u32, b: u32, loc: *const u8) -> u32;
    fn bs_any_compare(op: i32, a: u32, b: u32, loc: *const u8) -> bool;
    fn bs_any_neg(v: u32, loc: *const u8) -> u32;
    fn bs_any_bitnot(v: u32, loc: *const u8) -> u32;
    fn bs_any_get(object: u32, name: *const u8, cache: *mut LookupCache, loc: *const u8) -> u32;
    fn bs_any_set(object: u32, name: *const u8, v: u32, cache: *mut StoreCache, loc: *const u8);
    fn bs_any_call_method(object: u32, name: *const u8, args: *const u32, argc: usize, cache: *mut LookupCache, loc: *const u8) -> u32;
    fn bs_any_call(f: u32, args: *const u32, argc: usize, loc: *const u8) -> u32;
    fn bs_any_index_get(a: u32, index: u32, loc: *const u8) -> u32;
    fn bs_any_index_set(a: u32, index: u32, v: u32, loc: *const u8);
"#;

const HELPERS: &str = r#"#[inline(always)]
unsafe fn slot(i: usize) -> usize {
    // Volatile: a patch switches the slot while this code may be running.
    unsafe { core::ptr::read_volatile((&raw const __bs_slots).add(i)) }
}
#[inline(always)]
fn fail(message: &str, location: &str) -> ! {
    unsafe { bs_error(message.as_ptr(), message.len(), location.as_ptr(), location.len()) }
}
#[inline(always)]
fn div_i32(a: i32, b: i32, location: &str) -> i32 {
    if b == 0 {
        fail("integer division by zero", location)
    }
    a.wrapping_div(b)
}
#[inline(always)]
fn rem_i32(a: i32, b: i32, location: &str) -> i32 {
    if b == 0 {
        fail("integer remainder by zero", location)
    }
    a.wrapping_rem(b)
}
/// `**` of two integers: exact wherever JavaScript's is, wrapping like
/// every integer result; a negative exponent truncates 1/base^n.
#[inline(always)]
fn pow_i32(base: i32, exponent: i32) -> i32 {
    if exponent < 0 {
        return match base {
            1 => 1,
            -1 if exponent & 1 == 0 => 1,
            -1 => -1,
            _ => 0,
        };
    }
    let (mut result, mut factor, mut rest) = (1i32, base, exponent as u32);
    while rest > 0 {
        if rest & 1 == 1 {
            result = result.wrapping_mul(factor);
        }
        factor = factor.wrapping_mul(factor);
        rest >>= 1;
    }
    result
}
#[inline(always)]
fn truthy_f32(f: f32) -> bool {
    f != 0.0 && f == f
}
/// A static string object (docs/values-and-heap.md, "Static objects").
#[repr(C)]
struct Str<const N: usize> {
    header: *const u32,
    bytes: u32,
    units: u32,
    text: [u8; N],
}
unsafe impl<const N: usize> Sync for Str<N> {}
/// Element `i` of a fixed-length array (elements inline), bounds-checked.
#[inline(always)]
unsafe fn fixed_element<T>(a: u32, i: i32, loc: *const u8) -> *mut T {
    unsafe {
        let length = *(a as *const i32).add(ARRAY_LENGTH);
        if (i as u32) >= (length as u32) {
            bs_index_error(i, length, loc)
        }
        ((a as *mut u32).add(FIXED_DATA) as *mut T).add(i as usize)
    }
}
/// Element `i` of a growable array (in its vector), bounds-checked.
#[inline(always)]
unsafe fn growable_element(a: u32, i: i32, loc: *const u8) -> *mut u32 {
    unsafe {
        let length = *(a as *const i32).add(ARRAY_LENGTH);
        if (i as u32) >= (length as u32) {
            bs_index_error(i, length, loc)
        }
        (*(a as *const u32).add(ARRAY_STORAGE) as *mut u32).add(VECTOR_DATA + i as usize)
    }
}
/// Element `i` of a fixed-length array, `i` proved in range.
#[inline(always)]
unsafe fn fixed_element_unchecked<T>(a: u32, i: i32) -> *mut T {
    unsafe { ((a as *mut u32).add(FIXED_DATA) as *mut T).add(i as usize) }
}
/// Element `i` of a growable array, `i` proved in range.
#[inline(always)]
unsafe fn growable_element_unchecked(a: u32, i: i32) -> *mut u32 {
    unsafe { (*(a as *const u32).add(ARRAY_STORAGE) as *mut u32).add(VECTOR_DATA + i as usize) }
}
/// Whether `a[i]` of an `any[]` is an element of a plain `any[]` (not a
/// typed array viewed as one, whose elements the runtime boxes and checks)
/// below its length: then it is a word of its vector, read and written
/// inline.
#[inline(always)]
unsafe fn is_plain_any_element(a: u32, i: i32) -> bool {
    unsafe {
        *(a as *const u32) == (&raw const __bs_desc_any_array) as u32
            && (i as u32) < *(a as *const u32).add(ARRAY_LENGTH)
    }
}
/// `a[i]` of an `any[]`.
#[inline(always)]
unsafe fn any_array_get(a: u32, i: i32, loc: *const u8) -> u32 {
    unsafe {
        if is_plain_any_element(a, i) {
            *growable_element_unchecked(a, i)
        } else {
            bs_array_get(a, i, loc)
        }
    }
}
/// `a[i] = v` of an `any[]`.
#[inline(always)]
unsafe fn any_array_set(a: u32, i: i32, v: u32, loc: *const u8) {
    unsafe {
        if is_plain_any_element(a, i) {
            *growable_element_unchecked(a, i) = v
        } else {
            bs_array_set(a, i, v, loc)
        }
    }
}
/// An array object in a function's frame (escape.rs), aligned as the
/// heap's objects are.
#[repr(C, align(8))]
struct StackObject<const WORDS: usize>([u32; WORDS]);
/// Word `offset` of an object: a field, a cell's value.
#[inline(always)]
unsafe fn word<T>(object: u32, offset: usize) -> *mut T {
    unsafe { (object as *mut u32).add(offset) as *mut T }
}
#[inline(always)]
const fn box_int(i: i32) -> u32 {
    ((i as u32) << INTEGER_SHIFT) | TAG_INTEGER
}
const ANY_ZERO: u32 = box_int(0);
#[inline(always)]
fn is_int(v: u32) -> bool {
    v & TAG_MASK == TAG_INTEGER
}
/// The integer an `any` holds, once `is_int` said it holds one.
#[inline(always)]
fn unbox_int(v: u32) -> i32 {
    (v as i32) >> INTEGER_SHIFT
}
#[inline(always)]
fn box_bool(b: bool) -> u32 {
    if b { ANY_TRUE } else { ANY_FALSE }
}
/// Fast paths of operations on `any` for two integers: the
/// tagged words add, subtract and compare as they are, and wrap at 30 bits
/// as boxing does; anything else goes to the runtime.
#[inline(always)]
fn both_ints(a: u32, b: u32) -> bool {
    ((a ^ TAG_INTEGER) | (b ^ TAG_INTEGER)) & TAG_MASK == 0
}
#[inline(always)]
unsafe fn any_arith(op: i32, a: u32, b: u32, loc: *const u8) -> u32 {
    if both_ints(a, b) {
        match op {
            OP_ADD => return a.wrapping_add(b).wrapping_sub(TAG_INTEGER),
            OP_SUB => return a.wrapping_sub(b).wrapping_add(TAG_INTEGER),
            OP_MUL => return (unbox_int(a).wrapping_mul((b - TAG_INTEGER) as i32) as u32) | TAG_INTEGER,
            // Division and remainder truncate; by zero, the runtime reports
            // the error. 30-bit operands cannot overflow.
            OP_DIV if b != ANY_ZERO => return box_int(unbox_int(a) / unbox_int(b)),
            OP_REM if b != ANY_ZERO => return box_int(unbox_int(a) % unbox_int(b)),
            _ => {}
        }
    }
    unsafe { bs_any_arith(op, a, b, loc) }
}
#[inline(always)]
unsafe fn any_compare(op: i32, a: u32, b: u32, loc: *const u8) -> bool {
    if both_ints(a, b) {
        let (a, b) = (a as i32, b as i32);
        return match op {
            OP_LT => a < b,
            OP_LE => a <= b,
            OP_GT => a > b,
            _ => a >= b,
        };
    }
    unsafe { bs_any_compare(op, a, b, loc) }
}
#[inline(always)]
unsafe fn any_equals(a: u32, b: u32) -> bool {
    if both_ints(a, b) {
        return a == b;
    }
    unsafe { bs_any_equals(a, b) }
}
#[inline(always)]
unsafe fn any_truthy(v: u32) -> bool {
    match v & TAG_MASK {
        TAG_INTEGER => v != ANY_ZERO,
        TAG_SPECIAL => v == ANY_TRUE,
        TAG_REFERENCE => v != ANY_UNDEFINED,
        _ => unsafe { bs_any_truthy(v) },
    }
}
#[inline(always)]
unsafe fn any_to_int(v: u32, loc: *const u8) -> i32 {
    if is_int(v) {
        unbox_int(v)
    } else {
        unsafe { bs_any_to_int(v, loc) }
    }
}
#[inline(always)]
unsafe fn is_string(v: u32) -> bool {
    unsafe { has_header(v, &raw const __bs_desc_string as u32) }
}
/// An `any` as `any[]`: every array is one (LANGUAGE.md §9).
#[inline(always)]
unsafe fn any_array(v: u32, loc: *const u8) -> u32 {
    unsafe {
        if bs_is_array(v) {
            v
        } else {
            bs_any_to_object(v, &raw const __bs_desc_any_array, loc)
        }
    }
}
/// A property site's inline cache: entries of a descriptor of a class
/// whose member the site found, and that member (a field's word and kind,
/// or a method's adapter; a store also the field's target descriptor);
/// `CACHE_EMPTY` at first.
type LookupCache = [[u32; LOOKUP_ENTRY_WORDS]; CACHE_ENTRIES];
type StoreCache = [[u32; STORE_ENTRY_WORDS]; CACHE_ENTRIES];
const EMPTY_LOOKUP_CACHE: LookupCache = [[CACHE_EMPTY; LOOKUP_ENTRY_WORDS]; CACHE_ENTRIES];
const EMPTY_STORE_CACHE: StoreCache = [[CACHE_EMPTY; STORE_ENTRY_WORDS]; CACHE_ENTRIES];
/// Whether `v` holds an object (a reference other than `undefined`).
#[inline(always)]
fn is_object(v: u32) -> bool {
    v != ANY_UNDEFINED && v & TAG_MASK == TAG_REFERENCE
}
/// Whether `v` is an object whose header is `descriptor`.
#[inline(always)]
unsafe fn has_header(v: u32, descriptor: u32) -> bool {
    unsafe { is_object(v) && *(v as *const u32) == descriptor }
}
/// `$hit` with `$entry` the entry of the inline cache `$cache` for the
/// class of `$o`, if it has one: each entry in turn, each with a copy of
/// `$hit` (which returns), unrolled (`opt-level = "s"` keeps a loop), so
/// that a hit in the first entry costs a compare and a load, as with one
/// entry.
macro_rules! on_cache_hit {
    ($o:expr, $cache:expr, $entry:ident => $hit:block) => {
        if is_object($o) {
            let header = *($o as *const u32);
            each_cache_entry!(i => {
                let $entry = (*$cache)[i];
                if $entry[0] == header $hit
            });
        }
    };
}
/// `o.name` of an `any`: the field the site's cache remembers for `o`'s
/// class, boxed by its kind as the runtime boxes it; the runtime
/// otherwise (which fills the cache).
#[inline(always)]
unsafe fn any_get(o: u32, name: *const u8, cache: *mut LookupCache, loc: *const u8) -> u32 {
    unsafe {
        on_cache_hit!(o, cache, entry => {
            let field = entry[1];
            let word = *word::<u32>(o, (field >> CACHE_KIND_BITS) as usize);
            return match field & CACHE_KIND_MASK {
                // `any`, reference and nullable fields hold the value.
                MEMBER_ANY.. => word,
                MEMBER_INT => box_int(word as i32),
                MEMBER_FLOAT => bs_any_from_float(f32::from_bits(word)),
                _ => box_bool(word != 0),
            };
        });
        bs_any_get(o, name, cache, loc)
    }
}
/// The word that a field of kind `field & CACHE_KIND_MASK` stores for
/// `v`, where checking and converting `v` is as cheap inline as in the
/// runtime: any value for an `any` field, an integer for an integer
/// field, a float (or an integer, converted) for a float field, a boolean
/// for a boolean field, `null` for a nullable one, an object whose header
/// is the field's `target` descriptor for a reference field. `None`
/// leaves the store to the runtime (an instance of a subclass, errors).
#[inline(always)]
unsafe fn stored_word(v: u32, field: u32, target: u32) -> Option<u32> {
    unsafe {
        match field & CACHE_KIND_MASK {
            MEMBER_ANY => Some(v),
            MEMBER_INT if is_int(v) => Some(unbox_int(v) as u32),
            MEMBER_FLOAT if v & TAG_MASK == TAG_FLOAT => Some(v & !TAG_MASK),
            MEMBER_FLOAT if is_int(v) => Some((unbox_int(v) as f32).to_bits()),
            MEMBER_BOOL if v == ANY_TRUE || v == ANY_FALSE => Some((v == ANY_TRUE) as u32),
            MEMBER_NULLABLE if v == ANY_UNDEFINED => Some(0),
            MEMBER_REF | MEMBER_NULLABLE if has_header(v, target) => Some(v),
            _ => None,
        }
    }
}
/// `o.name = v` of an `any`: a store into the field the site's cache
/// remembers for `o`'s class, where `stored_word` takes `v`; the runtime
/// otherwise.
#[inline(always)]
unsafe fn any_set(o: u32, name: *const u8, v: u32, cache: *mut StoreCache, loc: *const u8) {
    unsafe {
        on_cache_hit!(o, cache, entry => {
            let [_, field, target] = entry;
            if let Some(stored) = stored_word(v, field, target) {
                *word::<u32>(o, (field >> CACHE_KIND_BITS) as usize) = stored;
                return;
            }
            return bs_any_set(o, name, v, cache, loc);
        });
        bs_any_set(o, name, v, cache, loc)
    }
}
/// `o.name(args…)` of an `any`: the adapter of the method the site's
/// cache remembers for `o`'s class (the runtime's call of it, without the
/// lookup); the runtime otherwise.
#[inline(always)]
unsafe fn any_call_method(o: u32, name: *const u8, args: *const u32, argc: usize, cache: *mut LookupCache, loc: *const u8) -> u32 {
    unsafe {
        on_cache_hit!(o, cache, entry => {
            let adapter = core::mem::transmute::<usize, unsafe extern "C" fn(u32, *const u32, usize, *const u8) -> u32>(entry[1] as usize);
            return adapter(o, args, argc, loc);
        });
        bs_any_call_method(o, name, args, argc, cache, loc)
    }
}
/// `f(args…)` of an `any`: a closure is called through its descriptor's
/// `any` entry, as the runtime would; anything else goes to the runtime,
/// which reports the error.
#[inline(always)]
unsafe fn any_call(f: u32, args: *const u32, argc: usize, loc: *const u8) -> u32 {
    unsafe {
        if f != ANY_UNDEFINED && f & TAG_MASK == TAG_REFERENCE {
            let descriptor = *(f as *const u32) as *const u32;
            if *descriptor == KIND_CLOSURE {
                let entry = core::mem::transmute::<usize, unsafe extern "C" fn(u32, *const u32, usize, *const u8) -> u32>(*descriptor.add(CLOSURE_ANY_ENTRY) as usize);
                return entry(f, args, argc, loc);
            }
        }
        bs_any_call(f, args, argc, loc)
    }
}
#[inline(always)]
unsafe fn print_text(text: &str) {
    unsafe { bs_print_str(text.as_ptr(), text.len()) }
}
"#;

/// The device ABI's numbers that generated code uses, as constants of the
/// generated module (from `bluescript_abi`, like the runtime's), then the
/// helpers that use them.
fn push_helpers(out: &mut String) {
    // Words of `any` values, and word indices into objects.
    let constants = [
        ("TAG_MASK", "u32", value::TAG_MASK),
        ("TAG_REFERENCE", "u32", value::TAG_REFERENCE),
        ("TAG_INTEGER", "u32", value::TAG_INTEGER),
        ("TAG_FLOAT", "u32", value::TAG_FLOAT),
        ("TAG_SPECIAL", "u32", value::TAG_SPECIAL),
        ("INTEGER_SHIFT", "u32", value::INTEGER_SHIFT),
        ("ANY_UNDEFINED", "u32", value::UNDEFINED),
        ("ANY_FALSE", "u32", value::FALSE),
        ("ANY_TRUE", "u32", value::TRUE),
        ("HEADER", "usize", layout::HEADER),
        ("ARRAY_LENGTH", "usize", layout::ARRAY_LENGTH),
        ("FIXED_DATA", "usize", layout::FIXED_DATA),
        ("ARRAY_STORAGE", "usize", layout::ARRAY_STORAGE),
        ("VECTOR_DATA", "usize", layout::VECTOR_DATA),
        ("CLOSURE_SLOT", "usize", layout::CLOSURE_SLOT),
        ("CLOSURE_CAPTURES", "usize", layout::CLOSURE_CAPTURES),
        ("CELL_VALUE", "usize", layout::CELL_VALUE),
        ("CACHE_EMPTY", "u32", object::CACHE_EMPTY),
        ("CACHE_ENTRIES", "usize", object::CACHE_ENTRIES),
        ("LOOKUP_ENTRY_WORDS", "usize", object::LOOKUP_ENTRY_WORDS),
        ("STORE_ENTRY_WORDS", "usize", object::STORE_ENTRY_WORDS),
        ("CACHE_KIND_BITS", "u32", object::CACHE_KIND_BITS),
        ("CACHE_KIND_MASK", "u32", (1 << object::CACHE_KIND_BITS) - 1),
        ("MEMBER_INT", "u32", object::MEMBER_INT),
        ("MEMBER_FLOAT", "u32", object::MEMBER_FLOAT),
        ("MEMBER_BOOL", "u32", object::MEMBER_BOOL),
        ("MEMBER_ANY", "u32", object::MEMBER_ANY),
        ("MEMBER_REF", "u32", object::MEMBER_REF),
        ("MEMBER_NULLABLE", "u32", object::MEMBER_NULLABLE),
        ("KIND_CLOSURE", "u32", Kind::Closure as usize),
        (
            "CLOSURE_ANY_ENTRY",
            "usize",
            object::CLOSURE_DESCRIPTOR_ANY_ENTRY,
        ),
    ];
    for (name, ty, number) in constants.into_iter().chain(profiles::constants()) {
        let _ = writeln!(out, "const {name}: {ty} = {number};");
    }
    let op_codes = ArithOp::ALL
        .iter()
        .map(|op| (format!("{op:?}"), *op as u32))
        .chain(
            CompareOp::ALL
                .iter()
                .map(|op| (format!("{op:?}"), *op as u32)),
        );
    for (name, code) in op_codes {
        let _ = writeln!(out, "const OP_{}: i32 = {code};", name.to_uppercase());
    }
    // `$body` once for each entry of an inline cache, `$i` its index.
    let entries: String = (0..object::CACHE_ENTRIES)
        .map(|i| format!("{{ let $i: usize = {i}; $body }} "))
        .collect();
    let _ = writeln!(
        out,
        "macro_rules! each_cache_entry {{ ($i:ident => $body:block) => {{ {entries}}}; }}"
    );
    out.push_str(HELPERS);
    out.push_str(tagged::INT_HELPERS);
    out.push_str(profiles::PROFILE_HELPERS);
    out.push_str(specialize::SPECIALIZED_HELPERS);
}

/// The module compiled into the firmware crate (included by `bluescript::scripts!()`).
/// How script functions of an image call each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Calls {
    /// Through their slots, so that a patch redirects every caller
    /// (development images).
    Slots,
    /// Directly, so that rustc can inline and turn recursion into loops
    /// (release images, which are never patched). Timers still go through
    /// slots.
    Direct,
}

pub fn generate_image(
    program: &Program,
    slots: &SlotMap,
    exports: &[Export],
    build_id: u32,
    source_name: &str,
    calls: Calls,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Generated by cargo-bluescript from {source_name}. Do not edit.\n\
         #[allow(warnings, clippy::all)]\nmod __bluescript {{"
    );
    out.push_str("unsafe extern \"C\" {\n");
    out.push_str(RUNTIME_EXTERNS);
    for export in exports {
        declare_export(&mut out, export);
        let _ = writeln!(out, "    static {}: u8;", export.record_symbol());
    }
    out.push_str("}\n");
    push_helpers(&mut out);
    out.push_str(roots::ROOT_FRAME);
    for global in &program.globals {
        let _ = writeln!(
            out,
            "#[unsafe(no_mangle)]\npub static mut {}: {} = {};",
            global_symbol(&global.name),
            global.ty.rust(),
            zero(global.ty)
        );
    }
    // The globals holding references: roots of the collector.
    let roots: Vec<String> = program
        .globals
        .iter()
        .filter(|g| g.ty.is_reference())
        .map(|g| format!("&raw const {} as *const u32", global_symbol(&g.name)))
        .collect();
    if !roots.is_empty() {
        let _ = writeln!(
            out,
            "struct Roots([*const u32; {n}]);\nunsafe impl Sync for Roots {{}}\n\
             static ROOTS: Roots = Roots([{}]);",
            roots.join(", "),
            n = roots.len()
        );
    }
    let mut generator = Generator::new(slots, CallPolicy::image(program, calls), false, program);
    generator.profiles = calls == Calls::Slots;
    push_native_items(&mut out, program);
    for function in &program.functions {
        generator.function(function, &function_symbol(&function.name));
    }
    if calls == Calls::Slots {
        // Top-level code that never ends (a `while (true)` loop) still
        // calls what patches install.
        generator.policy.call_through_slots();
    }
    generator.main(&program.main, roots.len());
    // Every class has its descriptor in the image (a patch may need it).
    for class in &program.classes {
        generator.descriptor(Ty::Class(class.name));
    }
    let descriptors = generator.emit_descriptors();
    out.push_str(&generator.out);
    out.push_str(&descriptors);

    let mut by_slot: Vec<(&u32, &String)> = slots.iter().map(|(name, slot)| (slot, name)).collect();
    by_slot.sort();
    let slot_entries: Vec<String> = by_slot
        .iter()
        .map(|(_, name)| format!("bluescript::FnAddr({} as *const ())", function_symbol(name)))
        .collect();
    let export_entries: Vec<String> = exports
        .iter()
        .map(|e| {
            format!(
                "bluescript::Export {{ entry: bluescript::FnAddr({} as *const ()), signature: &raw const {} }}",
                e.entry_symbol(),
                e.record_symbol()
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "#[used]\n#[unsafe(export_name = \"{program}\")]\n\
         pub static PROGRAM: bluescript::Program = bluescript::Program {{\n\
         \x20   build_id: {build_id:#010x},\n\
         \x20   slots: &[{}],\n\
         \x20   main: bluescript::FnAddr({main} as *const ()),\n\
         \x20   exports: &[{}],\n\
         }};\n}}\npub use __bluescript::PROGRAM as SCRIPTS;",
        slot_entries.join(", "),
        export_entries.join(", "),
        program = symbols::PROGRAM,
        main = symbols::MAIN,
    );
    out
}

/// A patch's source, and the descriptors its code refers to by symbol.
pub struct PatchSource {
    pub code: String,
    pub descriptors: BTreeMap<String, Ty>,
    /// What each function's new code counts on (calls.rs).
    pub dependencies: BTreeMap<String, Dependencies>,
}

/// A standalone crate holding new versions of `functions`, whose symbols are
/// `patch_symbol(name, epoch)`.
pub fn generate_patch(
    program: &Program,
    functions: &[&Function],
    slots: &SlotMap,
    exports: &[Export],
    epoch: u32,
    specializations: &Specializations,
) -> PatchSource {
    let prelude = patch_prelude(program, exports);
    let mut out = String::new();
    let policy = CallPolicy::patch(program, functions, epoch);
    // Each specialized copy is made once, for its code and for what it
    // counts on.
    let specialized: BTreeMap<String, specialize::Specialized> = functions
        .iter()
        .filter_map(|f| {
            let specialization = specializations.get(&f.name)?;
            let copy = specialize::specialize(&program.classes, f, specialization)?;
            Some((f.name.clone(), copy))
        })
        .collect();
    let dependencies = functions
        .iter()
        .map(|f| {
            let mut dependencies = policy.dependencies(f);
            if let Some(copy) = specialized.get(&f.name) {
                dependencies.add(policy.dependencies(&copy.function));
            }
            (f.name.clone(), dependencies)
        })
        .collect();
    let mut generator = Generator::new(slots, policy, true, program);
    generator.profiles = true;
    generator.specialized = specialized;
    push_native_items(&mut out, program);
    for function in functions {
        generator.function(function, &patch_symbol(&function.name, epoch));
    }
    // Descriptors are defined elsewhere (the image, or a shell cell's data):
    // a patch refers to them.
    let descriptors = generator.descriptors.take();
    declare_descriptors(&mut out, descriptors.keys());
    out.push_str(&generator.out);
    PatchSource {
        code: prune::keep_used(&prelude, &out) + &out,
        descriptors,
        dependencies,
    }
}

/// A standalone crate defining the descriptors `wanted` (and the adapters
/// through which the runtime calls their methods and closures) where
/// `defined` says the device has none yet; it refers to the others. Used
/// for the types a shell cell declares, placed where nothing moves them.
/// Returns the source and the symbols it defines.
pub fn generate_descriptors(
    program: &Program,
    slots: &SlotMap,
    exports: &[Export],
    wanted: &BTreeMap<String, Ty>,
    defined: &dyn Fn(&str) -> bool,
) -> (String, Vec<String>) {
    let prelude = patch_prelude(program, exports);
    let mut out = String::new();
    let generator = Generator::new(slots, CallPolicy::default(), true, program);
    generator
        .descriptors
        .borrow_mut()
        .extend(wanted.iter().map(|(symbol, ty)| (symbol.clone(), *ty)));
    let (descriptors, external) = generator.emit_descriptors_where(&|symbol| !defined(symbol));
    declare_descriptors(&mut out, external.iter());
    out.push_str(&descriptors);
    let out = prune::keep_used(&prelude, &out) + &out;
    let emitted = generator
        .descriptors
        .borrow()
        .keys()
        .filter(|symbol| !external.contains(*symbol))
        .cloned()
        .collect();
    (out, emitted)
}

/// What every standalone crate starts with: the runtime, the globals and
/// the drivers as externs, and the helpers.
fn patch_prelude(program: &Program, exports: &[Export]) -> String {
    let mut out = String::from("#![no_std]\n#![allow(warnings)]\nunsafe extern \"C\" {\n");
    out.push_str(RUNTIME_EXTERNS);
    for global in &program.globals {
        let _ = writeln!(
            out,
            "    static mut {}: {};",
            global_symbol(&global.name),
            global.ty.rust()
        );
    }
    for export in exports {
        declare_export(&mut out, export);
    }
    out.push_str("}\n");
    push_helpers(&mut out);
    out.push_str(roots::ROOT_FRAME);
    out
}

fn declare_descriptors<'a>(out: &mut String, symbols: impl Iterator<Item = &'a String>) {
    out.push_str("unsafe extern \"C\" {\n");
    for symbol in symbols {
        let _ = writeln!(out, "    static {symbol}: u32;");
    }
    out.push_str("}\n");
}

/// The `const` globals of `program` whose declaration assigns a literal
/// number or boolean, with that literal.
fn constant_globals(program: &Program) -> BTreeMap<String, Expr> {
    let is_const = |name: &str| program.globals.iter().any(|g| g.name == name && g.is_const);
    let is_literal = |value: &Expr| match &value.kind {
        ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Bool(_) => true,
        ExprKind::Unary(UnOp::Neg, operand) => {
            matches!(operand.kind, ExprKind::Int(_) | ExprKind::Float(_))
        }
        _ => false,
    };
    program
        .main
        .iter()
        .filter_map(|statement| match &statement.kind {
            StmtKind::Expr(Expr {
                kind: ExprKind::Assign(Place::Global(name), value),
                ..
            }) if is_const(name) && is_literal(value) => Some((name.clone(), (**value).clone())),
            _ => None,
        })
        .collect()
}

/// The Rust items of top-level `code` templates.
fn push_native_items(out: &mut String, program: &Program) {
    for item in &program.native_items {
        out.push_str(item);
        out.push('\n');
    }
}

fn declare_export(out: &mut String, export: &Export) {
    let params: Vec<String> = export
        .signature
        .params
        .iter()
        .enumerate()
        .map(|(i, ty)| format!("a{i}: {}", ty.rust()))
        .collect();
    let _ = writeln!(
        out,
        "    fn {}({}){};",
        export.entry_symbol(),
        params.join(", "),
        ret_suffix(export.signature.ret)
    );
}

fn ret_suffix(ty: Ty) -> String {
    if ty == Ty::Void {
        String::new()
    } else {
        format!(" -> {}", ty.rust())
    }
}

fn zero(ty: Ty) -> &'static str {
    match ty {
        Ty::Integer | Ty::Int32 | Ty::Enum(_) => "0",
        Ty::Float => "0.0",
        Ty::Boolean => "false",
        Ty::Void => "()",
        // References until their declaration runs (a local is never read
        // before); `undefined` for `any`.
        _ => "0",
    }
}

fn local(name: &str) -> String {
    format!("v_{}", mangle(name))
}

/// A new cell holding `value` (of type `ty`) for a captured variable.
fn new_cell(ty: Ty, value: &str) -> String {
    let null = "core::ptr::null()";
    match ty {
        Ty::Integer | Ty::Int32 | Ty::Enum(_) => {
            format!("bs_raw_cell_new({value} as u32, {null})")
        }
        Ty::Float => format!("bs_raw_cell_new(({value}).to_bits(), {null})"),
        Ty::Boolean => format!("bs_raw_cell_new({value} as u32, {null})"),
        _ => format!("bs_cell_new({value}, {null})"),
    }
}

/// A Rust string literal with the same bytes.
fn string_literal(text: &str) -> String {
    format!("\"{}\"", text.escape_default())
}

/// A NUL-terminated location for the runtime's `loc` parameters.
fn location_pointer(location: &str) -> String {
    format!("{}.as_ptr()", string_literal(&format!("{location}\0")))
}

/// An expression giving the address of a static string object holding
/// `text` (a block with the static, emitted where the literal is used).
fn string_object(text: &str) -> String {
    let bytes = text.len();
    let units = text.encode_utf16().count();
    let mut literal = String::from("b\"");
    for byte in text.bytes() {
        match byte {
            b' '..=b'~' if byte != b'"' && byte != b'\\' => literal.push(byte as char),
            _ => {
                let _ = write!(literal, "\\x{byte:02x}");
            }
        }
    }
    literal.push('"');
    format!(
        "{{ static S: Str<{bytes}> = Str {{ header: unsafe {{ &raw const __bs_desc_string }}, \
         bytes: {bytes}, units: {units}, text: *{literal} }}; &raw const S as u32 }}"
    )
}

/// An expression of type `ty` made of Rust text (evaluated in a block).
fn raw(text: String, ty: Ty) -> Expr {
    Expr {
        kind: ExprKind::Code(vec![CodePiece::Text(text)]),
        ty,
    }
}

/// Whether `value` reads the place being assigned.
fn contains_current(value: &Expr) -> bool {
    format!("{value:?}").contains("Current")
}

fn float_literal(value: f32) -> String {
    if value.is_nan() {
        "f32::NAN".into()
    } else if value.is_infinite() {
        if value > 0.0 {
            "f32::INFINITY"
        } else {
            "f32::NEG_INFINITY"
        }
        .into()
    } else {
        format!("({value:?}_f32)")
    }
}

struct Generator<'s> {
    slots: &'s SlotMap,
    /// Which calls are direct, and which callees never allocate (calls.rs).
    policy: CallPolicy,
    /// Generating a patch, whose code (and constants) compaction of the
    /// patch region may later overwrite.
    patch: bool,
    out: String,
    classes: &'s [Class],
    /// The descriptors the code refers to, by symbol (types.rs).
    descriptors: RefCell<BTreeMap<String, Ty>>,
    /// How `ExprKind::Current` reads, innermost assignment last.
    current: RefCell<Vec<String>>,
    /// The root slots of the function being generated (roots.rs).
    frame: RefCell<roots::Frame>,
    /// Script functions known never to allocate (roots.rs).
    never_allocate: RefCell<std::collections::BTreeSet<String>>,
    /// `const` globals initialized with a number or a boolean: code reads
    /// the value itself, which rustc can fold. Sound under patching: a
    /// change to it is a top-level change, which restarts the program.
    constants: BTreeMap<String, Expr>,
    /// The index expressions of element accesses that the loop being
    /// generated proved in range (bounds.rs): generated without a check.
    unchecked: RefCell<std::collections::HashSet<*const Expr>>,
    /// The locals of the function being generated whose arrays live in its
    /// frame (escape.rs).
    stack_arrays: std::collections::BTreeSet<String>,
    /// The `any` locals that the loop copy being generated knows to hold
    /// integers (tagged.rs).
    int_locals: RefCell<std::collections::HashSet<String>>,
    /// Whether functions record type profiles of their `any` parameters
    /// (profiles.rs): in development images and patches.
    profiles: bool,
    /// The functions to generate with a specialized version too, and
    /// their specialized copies (specialize.rs).
    specialized: BTreeMap<String, specialize::Specialized>,
}

impl<'s> Generator<'s> {
    fn new(slots: &'s SlotMap, policy: CallPolicy, patch: bool, program: &'s Program) -> Self {
        let never_allocate = RefCell::new(policy.never_allocate.clone());
        Generator {
            slots,
            policy,
            patch,
            out: String::new(),
            classes: &program.classes,
            descriptors: RefCell::new(BTreeMap::new()),
            current: RefCell::new(Vec::new()),
            frame: RefCell::new(roots::Frame::default()),
            never_allocate,
            constants: constant_globals(program),
            unchecked: RefCell::new(std::collections::HashSet::new()),
            stack_arrays: std::collections::BTreeSet::new(),
            int_locals: RefCell::new(std::collections::HashSet::new()),
            profiles: false,
            specialized: BTreeMap::new(),
        }
    }

    /// A string literal's value. The image's literals are static objects;
    /// a patch copies its literals to the heap instead, because a literal
    /// stored in a global must outlive the patch's code, which compaction
    /// of the patch region may overwrite.
    fn string_value(&self, text: &str) -> String {
        if self.patch {
            format!(
                "bs_string_new({}.as_ptr(), {}, \"\\0\".as_ptr())",
                string_literal(text),
                text.len()
            )
        } else {
            string_object(text)
        }
    }

    fn slot(&self, name: &str) -> u32 {
        // The checker only lets through references to known functions, and
        // the caller gives every function of the program a slot.
        self.slots[name]
    }

    fn function(&mut self, function: &Function, symbol: &str) {
        let mut params: Vec<String> = function
            .params
            .iter()
            .map(|(name, ty)| format!("mut {}: {}", local(name), ty.rust()))
            .collect();
        if function.is_closure {
            params.insert(0, "closure_: u32".to_string());
        }
        let inline = if self.policy.is_inline_hinted(&function.name) {
            "#[inline]\n"
        } else {
            ""
        };
        let profile = self.profile_record(function, symbol);
        let _ = writeln!(
            self.out,
            "// {}\n{inline}#[unsafe(no_mangle)]\npub unsafe extern \"C\" fn {symbol}({}){} {{ unsafe {{",
            function.location,
            params.join(", "),
            ret_suffix(function.signature.ret)
        );
        let specialized = self.specialized.remove(&function.name);
        let guarded = match &specialized {
            Some(specialized) => {
                // The copy for the classes the profile saw, then the body
                // as written for other values.
                let guards: Vec<String> = specialized
                    .guards
                    .iter()
                    .map(|(param, class, nullable)| {
                        let test = format!(
                            "is_exactly({}, {})",
                            local(param),
                            self.descriptor(Ty::Class(*class))
                        );
                        if *nullable {
                            format!("({} == 0 || {test})", local(param))
                        } else {
                            test
                        }
                    })
                    .collect();
                self.line(1, &format!("if {} {{", guards.join(" && ")));
                self.function_body(&specialized.function);
                self.line(1, "} else {");
                true
            }
            None => false,
        };
        if let Some(recording) = profile {
            self.line(1, &recording);
        }
        match self.function_int_versioning(function) {
            Some(ints) => {
                // The body where the parameters hold integers (with a
                // frame of its own: they need no slots), and the body as
                // written for other values.
                self.line(1, &format!("if {} {{", ints.guard));
                self.int_locals
                    .borrow_mut()
                    .extend(ints.names.iter().cloned());
                self.function_body(function);
                self.int_locals.borrow_mut().clear();
                self.line(1, "} else {");
                self.function_body(function);
                self.line(1, "}");
            }
            None => self.function_body(function),
        }
        if guarded {
            self.line(1, "}");
        }
        if function.signature.ret != Ty::Void {
            // Never reached: the checker refuses a function that can run
            // off its end (LANGUAGE.md §7a). rustc still needs a diverging
            // tail where it cannot see that (after a `while (true)` loop,
            // which becomes a loop with a `break` on its test).
            // Functions of imported modules are qualified (`util.bs:f`);
            // the location names the file already.
            let name = function.name.rsplit(':').next().unwrap_or(&function.name);
            let message = format!("function `{name}` ended without returning a value");
            let _ = writeln!(
                self.out,
                "    fail({}, {})",
                string_literal(&message),
                string_literal(&function.location)
            );
        }
        self.out.push_str("} }\n");
    }

    /// A function's body with its frame of root slots. In the integer copy
    /// of a function (tagged.rs), leading statements that neither allocate
    /// nor store anything run before the frame is made: an early `return`
    /// there (fib's `if (n < 2) return n`) pays nothing for it.
    fn function_body(&mut self, function: &Function) {
        self.stack_arrays = escape::stack_arrays(&function.body);
        let prologue = self.begin_frame(
            function.is_closure,
            &function.params,
            &function.boxed_params,
            &function.body,
        );
        let leading = if self.int_locals.borrow().is_empty() {
            0
        } else {
            function
                .body
                .iter()
                .take_while(|s| self.runs_before_frame(s))
                .count()
        };
        self.statements(&function.body[..leading], 1);
        let start = self.out.len();
        self.out.push_str(&prologue);
        for name in &function.boxed_params {
            let ty = function
                .params
                .iter()
                .find(|p| &p.0 == name)
                .map_or(Ty::Any, |p| p.1);
            let cell = new_cell(ty, &local(name));
            let mirror = self.mirror_variable(name, &local(name));
            self.line(
                1,
                &format!("let mut {}: u32 = {cell};{mirror}", local(name)),
            );
        }
        self.statements(&function.body[leading..], 1);
        self.stack_arrays.clear();
        let frame = self.end_frame();
        self.out.insert_str(start, &frame);
    }

    fn main(&mut self, body: &[Stmt], roots: usize) {
        let _ = writeln!(
            self.out,
            "#[unsafe(no_mangle)]\npub unsafe extern \"C\" fn {}() {{ unsafe {{",
            symbols::MAIN
        );
        if roots > 0 {
            self.line(1, &format!("bs_gc_roots(ROOTS.0.as_ptr(), {roots});"));
        }
        let start = self.out.len();
        self.begin_frame(false, &[], &[], body);
        self.statements(body, 1);
        let frame = self.end_frame();
        self.out.insert_str(start, &frame);
        self.out.push_str("} }\n");
    }

    fn line(&mut self, depth: usize, text: &str) {
        for _ in 0..depth {
            self.out.push_str("    ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn statements(&mut self, statements: &[Stmt], depth: usize) {
        for statement in statements {
            self.statement(statement, depth);
        }
    }

    /// The statements of a block (the body of loop `label`, if given),
    /// then the clearing of its variables' root slots.
    fn block(&mut self, statements: &[Stmt], label: Option<u32>, depth: usize) {
        self.open_scope(label);
        self.statements(statements, depth);
        let clear = self.close_scope();
        if !clear.is_empty() {
            self.line(depth, &clear);
        }
    }

    fn statement(&mut self, statement: &Stmt, depth: usize) {
        match &statement.kind {
            StmtKind::Let {
                name,
                ty,
                init,
                boxed,
            } => {
                let in_frame = self.stack_arrays.contains(name);
                if let Some(array) =
                    escape::candidate(*ty, init.as_ref(), *boxed).filter(|_| in_frame)
                {
                    self.stack_array(name, array, depth);
                    return;
                }
                let allocates = *boxed || init.as_ref().is_some_and(|e| self.allocates(e));
                let slot = self.declare_slot(name, *ty, *boxed, allocates);
                if let Some((_, clear)) = slot.as_ref().filter(|(_, clear)| !clear.is_empty()) {
                    self.line(depth, clear);
                }
                let value = match init {
                    Some(e) => self.expr(e),
                    None if *ty == Ty::String => self.string_value(""),
                    None => zero(*ty).to_string(),
                };
                let mirror = match slot {
                    Some((slot, _)) => {
                        self.bind_slot(name, slot);
                        self.mirror_variable(name, &local(name))
                    }
                    None => String::new(),
                };
                if *boxed {
                    let cell = new_cell(*ty, &value);
                    self.line(
                        depth,
                        &format!("let mut {}: u32 = {cell};{mirror}", local(name)),
                    );
                } else {
                    self.line(
                        depth,
                        &format!("let mut {}: {} = {value};{mirror}", local(name), ty.rust()),
                    );
                }
            }
            StmtKind::Expr(expr) => {
                let text = match &expr.kind {
                    // A plain assignment of a variable needs no value block.
                    ExprKind::Assign(target, value)
                        if matches!(target, Place::Local(_) | Place::Global(_))
                            && !contains_current(value) =>
                    {
                        let variable = self.read(target, expr.ty);
                        let mirror = self.mirror(target, &variable);
                        format!("{variable} = {};{mirror}", self.expr(value))
                    }
                    _ => format!("{};", self.expr(expr)),
                };
                self.line(depth, &text);
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                let cond = self.expr(cond);
                self.line(depth, &format!("if {cond} {{"));
                self.block(then, None, depth + 1);
                if otherwise.is_empty() {
                    self.line(depth, "}");
                } else {
                    self.line(depth, "} else {");
                    self.block(otherwise, None, depth + 1);
                    self.line(depth, "}");
                }
            }
            StmtKind::Loop {
                cond, body, step, ..
            } => {
                let Some(ints) = self.int_versioning(cond.as_ref(), body, step.as_ref()) else {
                    self.bounds_versioned_loop(statement, depth);
                    return;
                };
                // The copy where the variables hold integers, and the
                // loop as before for when they do not.
                self.line(depth, &format!("if {} {{", ints.guard));
                self.int_locals
                    .borrow_mut()
                    .extend(ints.names.iter().cloned());
                self.bounds_versioned_loop(statement, depth + 1);
                for name in &ints.names {
                    self.int_locals.borrow_mut().remove(name);
                }
                self.line(depth, "} else {");
                self.bounds_versioned_loop(statement, depth + 1);
                self.line(depth, "}");
            }
            StmtKind::Break(label) => {
                let clear = self.clear_for_jump(*label);
                self.line(depth, &format!("{clear}break 'b{label};"));
            }
            StmtKind::Continue(label) => {
                let clear = self.clear_for_jump(*label);
                self.line(depth, &format!("{clear}break 'c{label};"));
            }
            StmtKind::Return(value) => {
                let text = match value {
                    Some(value) => format!("return {};", self.expr(value)),
                    None => "return;".to_string(),
                };
                self.line(depth, &text);
            }
            StmtKind::Block(body) => {
                self.line(depth, "{");
                self.block(body, None, depth + 1);
                self.line(depth, "}");
            }
            StmtKind::Print { to_stderr, pieces } => {
                self.line(depth, &format!("bs_print_begin({to_stderr});"));
                for piece in pieces {
                    let text = match piece {
                        PrintPiece::Text(text) => format!("print_text({});", string_literal(text)),
                        PrintPiece::Space => "bs_print_space();".to_string(),
                        PrintPiece::Value(value) => {
                            let v = self.expr(value);
                            match value.ty {
                                Ty::Integer | Ty::Int32 | Ty::Enum(_) => {
                                    format!("bs_print_int({v});")
                                }
                                Ty::Float => format!("bs_print_float({v});"),
                                Ty::Boolean => format!("bs_print_bool({v});"),
                                Ty::String => match &value.kind {
                                    ExprKind::Str(text) => {
                                        format!("print_text({});", string_literal(text))
                                    }
                                    ExprKind::TypeOf(None, name) => {
                                        format!("print_text({});", string_literal(name))
                                    }
                                    ExprKind::TypeOf(Some(operand), name) => format!(
                                        "print_text({{ let _ = {}; {} }});",
                                        self.expr(operand),
                                        string_literal(name)
                                    ),
                                    _ => format!("bs_print_any({v});"),
                                },
                                Ty::Void => format!("{v}; print_text(\"undefined\");"),
                                _ => format!("bs_print_any({v});"),
                            }
                        }
                    };
                    self.line(depth, &text);
                }
                self.line(depth, "bs_print_end();");
            }
        }
    }

    /// A loop statement, with the copy without bounds checks that a check
    /// at its entry proves unneeded, if any (bounds.rs).
    fn bounds_versioned_loop(&mut self, statement: &Stmt, depth: usize) {
        let versioning = match &statement.kind {
            StmtKind::Loop {
                cond: Some(cond),
                cond_after_body: false,
                body,
                step: Some(step),
                fresh,
                ..
            } if fresh.is_empty() => self.versioning(cond, body, step),
            _ => None,
        };
        let Some(versioning) = versioning else {
            self.loop_statement(statement, depth);
            return;
        };
        // The copy without the checks that the precondition proves,
        // and the original for when it does not hold.
        self.line(depth, &format!("if {} {{", versioning.precondition));
        let outer = self.unchecked.borrow().clone();
        self.unchecked.borrow_mut().extend(versioning.unchecked);
        self.loop_statement(statement, depth + 1);
        *self.unchecked.borrow_mut() = outer;
        self.line(depth, "} else {");
        self.loop_statement(statement, depth + 1);
        self.line(depth, "}");
    }

    /// A loop statement as it is written.
    fn loop_statement(&mut self, statement: &Stmt, depth: usize) {
        let StmtKind::Loop {
            label,
            cond,
            cond_after_body,
            body,
            step,
            fresh,
        } = &statement.kind
        else {
            return;
        };
        let exit = cond
            .as_ref()
            .map(|c| format!("if !{} {{ break 'b{label}; }}", self.expr(c)));
        self.line(depth, &format!("'b{label}: loop {{"));
        if let (Some(exit), false) = (&exit, cond_after_body) {
            self.line(depth + 1, exit);
        }
        // `continue` leaves this block, so the step and a do-while's
        // condition still run.
        self.line(depth + 1, &format!("'c{label}: {{"));
        self.block(body, Some(*label), depth + 2);
        self.line(depth + 1, "}");
        for (name, ty) in fresh {
            let value = self.read(&Place::Cell(name.clone()), *ty);
            let cell = new_cell(*ty, &value);
            let mirror = self.mirror_variable(name, &local(name));
            self.line(depth + 1, &format!("{} = {cell};{mirror}", local(name)));
        }
        if let (Some(exit), true) = (&exit, cond_after_body) {
            self.line(depth + 1, exit);
        }
        if let Some(step) = step {
            let step = self.expr(step);
            self.line(depth + 1, &format!("{step};"));
        }
        self.line(depth, "}");
    }

    fn expr(&self, expr: &Expr) -> String {
        match &expr.kind {
            ExprKind::Int(v) => format!("({v}_i32)"),
            ExprKind::Float(v) => float_literal(*v),
            ExprKind::Bool(v) => v.to_string(),
            ExprKind::Read(Place::Global(name)) if self.constants.contains_key(name) => {
                self.expr(&self.constants[name])
            }
            ExprKind::Read(p) => self.read(p, expr.ty),
            ExprKind::Assign(target, value) => self.assign(target, expr.ty, value),
            ExprKind::Update {
                place: Place::Local(name),
                increment,
                prefix,
                ..
            } if expr.ty == Ty::Any && self.known_integer(name) => {
                // A tagged integer steps by a tagged 1 (wrapping at 30 bits
                // as boxing does); it needs no root slot.
                let op = if *increment {
                    "wrapping_add"
                } else {
                    "wrapping_sub"
                };
                let result = if *prefix { "n" } else { "t" };
                let variable = local(name);
                format!("{{ let t = {variable}; let n = t.{op}(box_int(1) - TAG_INTEGER); {variable} = n; {result} }}")
            }
            ExprKind::Update {
                place: target,
                increment,
                prefix,
                location,
            } => self.update(target, expr.ty, *increment, *prefix, location),
            ExprKind::Current => self.current_value(),
            ExprKind::Retyped(value) => self.expr(value),
            ExprKind::Null => match expr.ty {
                Ty::Void => "()".to_string(),
                _ => "0u32".to_string(),
            },
            ExprKind::ToAny(value) => types::to_any(&self.expr(value), value.ty),
            ExprKind::FromAny(value, location) => {
                let location = location_pointer(location);
                match &value.kind {
                    // `x as T` of a `T | null`: only null fails, and is
                    // reported by the runtime's conversion.
                    ExprKind::Retyped(inner) if inner.ty == Ty::nullable(expr.ty) => format!(
                        "{{ let t: u32 = {}; if t == 0 {{ {} }} else {{ t }} }}",
                        self.expr(inner),
                        self.unboxed("t", expr.ty, &location)
                    ),
                    // In a copy that knows it holds an integer
                    // (tagged.rs): no check.
                    _ if expr.ty.is_integral() && self.integer_value(value) => {
                        format!("unbox_int({})", self.expr(value))
                    }
                    _ => self.unboxed(&self.expr(value), expr.ty, &location),
                }
            }
            ExprKind::IsNull { value, negated } => {
                format!(
                    "({} {} 0)",
                    self.expr(value),
                    if *negated { "!=" } else { "==" }
                )
            }
            ExprKind::ArrayLiteral(elements, location) => {
                self.array_literal(expr.ty, elements, location)
            }
            ExprKind::NewArray {
                length,
                init,
                location,
            } => {
                let init = match init {
                    Some(init) => {
                        let value = self.expr(init);
                        match init.ty {
                            Ty::Float => format!("({value}).to_bits() as usize"),
                            _ => format!("({value}) as usize"),
                        }
                    }
                    None => "0".to_string(),
                };
                format!(
                    "bs_array_new({}, {}, {init}, {})",
                    self.descriptor(expr.ty),
                    self.expr(length),
                    location_pointer(location)
                )
            }
            ExprKind::CopyArray {
                source,
                location,
                or_length,
            } => {
                let (descriptor, location) = (self.descriptor(expr.ty), location_pointer(location));
                let copy = format!("bs_array_copy({descriptor}, s, {location})");
                let make = if *or_length {
                    // An integer (tag 01) is a length.
                    format!(
                        "if is_int(s) {{ bs_array_new({descriptor}, unbox_int(s), 0, {location}) }} else {{ {copy} }}"
                    )
                } else {
                    copy
                };
                format!("{{ let s: u32 = {}; {make} }}", self.expr(source))
            }
            ExprKind::ArrayLength(array) => {
                format!("(*word::<i32>({}, ARRAY_LENGTH))", self.expr(array))
            }
            ExprKind::New {
                class,
                constructor,
                args,
                location,
            } => {
                let object = format!(
                    "bs_object_new({}, {})",
                    self.descriptor(Ty::Class(*class)),
                    location_pointer(location)
                );
                let Some(constructor) = constructor else {
                    return object;
                };
                let mut params = vec![Ty::Class(*class)];
                params.extend(args.iter().map(|a| a.ty));
                let signature = Signature {
                    params,
                    ret: Ty::Void,
                };
                // The new object is the constructor's first argument.
                let object = raw(object, Ty::Class(*class));
                let mut operands = vec![&object];
                operands.extend(args);
                self.with_operands(&operands, false, |texts| {
                    let mut args = vec!["o".to_string()];
                    args.extend_from_slice(&texts[1..]);
                    let call = self.call_function(constructor, &signature, &args);
                    format!("{{ let o = {}; {call}; o }}", texts[0])
                })
            }
            ExprKind::CallMethod {
                vtable,
                signature,
                object,
                args,
                ..
            } => {
                let index = vtable.expect("virtual calls have a vtable index") as usize
                    + CLASS_DESCRIPTOR_WORDS;
                // The slot is in the receiver's class descriptor.
                let slot = format!("*word::<u32>(*word::<u32>(r, HEADER), {index})");
                self.call_through_slot(object, &slot, signature, args)
            }
            ExprKind::CallClosure {
                callee,
                signature,
                args,
            } => {
                // The slot is in the closure.
                self.call_through_slot(callee, "*word::<u32>(r, CLOSURE_SLOT)", signature, args)
            }
            ExprKind::Closure {
                function,
                captures,
                location,
            } => {
                let mut text = format!(
                    "{{ let c = bs_closure_new({}, {}, {}, {});",
                    self.descriptor(expr.ty),
                    self.slot(function),
                    captures.len(),
                    location_pointer(location)
                );
                for (i, capture) in captures.iter().enumerate() {
                    let _ = write!(
                        text,
                        " *word::<u32>(c, CLOSURE_CAPTURES + {i}) = {};",
                        self.cell(capture)
                    );
                }
                text.push_str(" c }");
                text
            }
            ExprKind::InstanceOf(value, ty) => {
                let v = self.expr(value);
                match ty {
                    Ty::String => format!("is_string({v})"),
                    Ty::Array(_) => format!("bs_is_array({v})"),
                    _ => format!("bs_instance_of({v}, {})", self.descriptor(*ty)),
                }
            }
            ExprKind::Code(pieces) => {
                let mut text = String::from("{ ");
                for piece in pieces {
                    match piece {
                        CodePiece::Text(rust) => text.push_str(rust),
                        CodePiece::Place(place, ty) => text.push_str(&self.read(place, *ty)),
                    }
                }
                text.push_str(" }");
                text
            }
            ExprKind::DynamicCall {
                symbol,
                receiver,
                name,
                args,
                location,
            } => {
                let name = match name {
                    Some(name) => format!("{}, ", location_pointer(name)),
                    None => String::new(),
                };
                let mut operands = vec![&**receiver];
                operands.extend(args);
                // A method call has an inline cache of its own.
                let (cache, call, cache_argument) = if *symbol == "bs_any_call_method" {
                    (
                        "static mut CACHE: LookupCache = EMPTY_LOOKUP_CACHE; ",
                        "any_call_method",
                        "&raw mut CACHE, ",
                    )
                } else if *symbol == "bs_any_call" {
                    ("", "any_call", "")
                } else {
                    ("", *symbol, "")
                };
                self.with_operands(&operands, false, |texts| {
                    format!(
                        "{{ {cache}let r: u32 = {}; let args: [u32; {n}] = [{}]; {call}(r, {name}args.as_ptr(), {n}, {cache_argument}{}) }}",
                        texts[0],
                        texts[1..].join(", "),
                        location_pointer(location),
                        n = args.len()
                    )
                })
            }
            ExprKind::StartClosureTimer {
                closure,
                ms,
                repeat,
            } => self.with_operands(&[closure, ms], false, |texts| {
                format!(
                    "bs_timer_start_closure({}, {}, {repeat})",
                    texts[0], texts[1]
                )
            }),
            ExprKind::Unary(op, value) => {
                let v = self.expr(value);
                match (op, value.ty) {
                    (UnOp::Neg, Ty::Integer | Ty::Int32 | Ty::Enum(_)) => {
                        format!("{v}.wrapping_neg()")
                    }
                    (UnOp::Neg, _) => format!("(-{v})"),
                    (UnOp::Not | UnOp::BitNot, _) => format!("(!{v})"),
                }
            }
            ExprKind::Binary {
                op,
                operand_ty,
                lhs,
                rhs,
                location,
            } => self.with_operands(&[lhs, rhs], false, |texts| {
                self.binary(*op, *operand_ty, &texts[0], &texts[1], location)
            }),
            ExprKind::Logical { and, lhs, rhs } => {
                let (l, r) = (self.expr(lhs), self.expr(rhs));
                if expr.ty == Ty::Boolean {
                    return format!("({l} {} {r})", if *and { "&&" } else { "||" });
                }
                let test = match expr.ty {
                    Ty::Float => "truthy_f32(t)",
                    Ty::Any => "any_truthy(t)",
                    _ => "t != 0",
                };
                if *and {
                    format!("{{ let t = {l}; if {test} {{ {r} }} else {{ t }} }}")
                } else {
                    format!("{{ let t = {l}; if {test} {{ t }} else {{ {r} }} }}")
                }
            }
            ExprKind::Conditional {
                cond,
                then,
                otherwise,
            } => format!(
                "(if {} {{ {} }} else {{ {} }})",
                self.expr(cond),
                self.expr(then),
                self.expr(otherwise)
            ),
            ExprKind::Truthy(value) => {
                let v = self.expr(value);
                match value.ty {
                    Ty::Float => format!("truthy_f32({v})"),
                    // Every string is truthy, the empty one included.
                    Ty::String => format!("{{ let _ = {v}; true }}"),
                    Ty::Any if self.integer_value(value) => format!("({v} != ANY_ZERO)"),
                    Ty::Any => format!("any_truthy({v})"),
                    _ => format!("({v} != 0)"),
                }
            }
            ExprKind::IntToFloat(value) => format!("({} as f32)", self.expr(value)),
            // Rust's `as` truncates toward zero (saturating; NaN is 0).
            ExprKind::FloatToInt(value) => format!("({} as i32)", self.expr(value)),
            ExprKind::CallScript {
                name,
                signature,
                args,
            } => self.with_operands(&args.iter().collect::<Vec<_>>(), false, |args| {
                self.call_function(name, signature, args)
            }),
            ExprKind::CallExport { name, args } => {
                self.with_operands(&args.iter().collect::<Vec<_>>(), false, |args| {
                    format!("{}{name}({})", prefix::EXPORT, args.join(", "))
                })
            }
            ExprKind::TimeNow => "bs_time_now()".into(),
            ExprKind::TimeDelay(ms) => format!("bs_time_delay({})", self.expr(ms)),
            ExprKind::StartTimer {
                callback,
                ms,
                repeat,
            } => format!(
                "bs_timer_start({}, {}, {repeat})",
                self.slot(callback),
                self.expr(ms)
            ),
            ExprKind::ClearTimer(id) => format!("bs_timer_clear({})", self.expr(id)),
            ExprKind::Math(function, args) => {
                let args: Vec<String> = args.iter().map(|a| self.expr(a)).collect();
                match (function, expr.ty) {
                    (MathFn::Abs, Ty::Integer) => format!("{}.wrapping_abs()", args[0]),
                    (MathFn::Min, Ty::Integer) => {
                        format!("core::cmp::min::<i32>({}, {})", args[0], args[1])
                    }
                    (MathFn::Max, Ty::Integer) => {
                        format!("core::cmp::max::<i32>({}, {})", args[0], args[1])
                    }
                    _ => format!("{}({})", function.runtime_symbol(), args.join(", ")),
                }
            }
            ExprKind::TypeOf(None, name) => self.string_value(name),
            ExprKind::TypeOf(Some(operand), name) => format!(
                "{{ let _ = {}; {} }}",
                self.expr(operand),
                self.string_value(name)
            ),
            ExprKind::Str(text) => self.string_value(text),
            ExprKind::Runtime {
                symbol,
                args,
                location,
            } => self.with_operands(&args.iter().collect::<Vec<_>>(), false, |texts| {
                let mut texts = texts.to_vec();
                if let Some(location) = location {
                    texts.push(location_pointer(location));
                }
                let integers = args
                    .iter()
                    .filter(|a| a.ty == Ty::Any)
                    .all(|a| self.integer_value(a));
                if let Some(text) = integers
                    .then(|| tagged::integer_operation(symbol, &texts))
                    .flatten()
                {
                    return text;
                }
                let args = texts;
                // The inline fast paths of HELPERS, where there are.
                let symbol = match *symbol {
                    "bs_any_arith" => "any_arith",
                    "bs_any_compare" => "any_compare",
                    "bs_any_equals" => "any_equals",
                    other => other,
                };
                format!("{symbol}({})", args.join(", "))
            }),
        }
    }

    /// A call of a script function: through its slot, or directly in
    /// release images.
    fn call_function(&self, name: &str, signature: &Signature, args: &[String]) -> String {
        if self.policy.is_direct(name) {
            return self.policy.direct_call(name, args);
        }
        let params: Vec<&str> = signature.params.iter().map(|t| t.rust()).collect();
        format!(
            "(core::mem::transmute::<usize, unsafe extern \"C\" fn({}){}>(slot({})))({})",
            params.join(", "),
            ret_suffix(signature.ret),
            self.slot(name),
            args.join(", ")
        )
    }

    /// A call of the function in slot `slot` (Rust text reading the
    /// receiver `r`) with the receiver (`this` or the closure) first.
    fn call_through_slot(
        &self,
        receiver: &Expr,
        slot: &str,
        signature: &Signature,
        args: &[Expr],
    ) -> String {
        let params: String = signature
            .params
            .iter()
            .map(|t| format!(", {}", t.rust()))
            .collect();
        let mut operands = vec![receiver];
        operands.extend(args);
        self.with_operands(&operands, false, |texts| {
            let args: String = texts[1..].iter().map(|a| format!(", {a}")).collect();
            format!(
                "{{ let r: u32 = {}; (core::mem::transmute::<usize, unsafe extern \"C\" fn(u32{params}){}>(slot({slot} as usize)))(r{args}) }}",
                texts[0],
                ret_suffix(signature.ret)
            )
        })
    }

    /// `[a, b, c]`: a new array, then its elements stored.
    fn array_literal(&self, ty: Ty, elements: &[Expr], location: &str) -> String {
        let location = location_pointer(location);
        let mut text = format!(
            "{{ let a = bs_array_new({}, {}, 0, {location});",
            self.descriptor(ty),
            elements.len()
        );
        let growable = matches!(ty, Ty::Array(element) if element.is_reference());
        // The array is kept while an element may collect.
        let slot = self.root_while(elements.iter().any(|e| self.allocates(e)));
        if let Some(slot) = slot {
            let _ = write!(text, " {}", roots::set(slot, "a"));
        }
        for (i, element) in elements.iter().enumerate() {
            let value = self.expr(element);
            if growable {
                let _ = write!(text, " *growable_element(a, {i}, {location}) = {value};");
            } else {
                let _ = write!(
                    text,
                    " *fixed_element::<{}>(a, {i}, {location}) = {value};",
                    element.ty.rust()
                );
            }
        }
        if let Some(slot) = slot {
            let _ = write!(text, " {}", roots::set(slot, "0"));
            self.release_root(slot);
        }
        text.push_str(" a }");
        text
    }

    fn binary(&self, op: BinOp, operand_ty: Ty, l: &str, r: &str, location: &str) -> String {
        let symbol = match op {
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            _ => "",
        };
        if operand_ty == Ty::String {
            return match op {
                BinOp::Add => format!("bs_string_concat({l}, {r}, {})", location_pointer(location)),
                BinOp::Eq => format!("bs_string_equals({l}, {r})"),
                BinOp::Ne => format!("(!bs_string_equals({l}, {r}))"),
                _ => format!("(bs_string_compare({l}, {r}) {symbol} 0)"),
            };
        }
        let location = string_literal(location);
        match (op, operand_ty) {
            (BinOp::Add, Ty::Integer) => format!("{l}.wrapping_add({r})"),
            (BinOp::Sub, Ty::Integer) => format!("{l}.wrapping_sub({r})"),
            (BinOp::Mul, Ty::Integer) => format!("{l}.wrapping_mul({r})"),
            (BinOp::Div, Ty::Integer) => format!("div_i32({l}, {r}, {location})"),
            (BinOp::Rem, _) => format!("rem_i32({l}, {r}, {location})"),
            (BinOp::Pow, Ty::Integer) => format!("pow_i32({l}, {r})"),
            // JavaScript's special cases (pow(1, NaN) is NaN), as `Math.pow`.
            (BinOp::Pow, _) => format!("bs_math_pow({l}, {r})"),
            // JavaScript masks shift counts to 5 bits, as wrapping_sh* does.
            (BinOp::Shl, _) => format!("{l}.wrapping_shl({r} as u32)"),
            (BinOp::Shr, _) => format!("{l}.wrapping_shr({r} as u32)"),
            (BinOp::UShr, _) => format!("(({l} as u32).wrapping_shr({r} as u32) as i32)"),
            _ => format!("({l} {symbol} {r})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangles_dollar_names() {
        assert_eq!(function_symbol("main$0"), "__bs_fn_main_S0");
        assert_eq!(patch_symbol("tick", 3), "__bs_fn_tick__p3");
    }

    #[test]
    fn mangles_names_qualified_by_their_module() {
        assert_eq!(function_symbol("util.bs:f"), "__bs_fn_util_u2e_bs_u3a_f");
        assert_eq!(
            global_symbol("lib/io.ts:count"),
            "__bs_g_lib_u2f_io_u2e_ts_u3a_count"
        );
    }

    #[test]
    fn every_math_function_is_declared_for_patches() {
        for function in MathFn::ALL {
            let declaration = format!("fn {}(", function.runtime_symbol());
            assert!(RUNTIME_EXTERNS.contains(&declaration), "{function:?}");
        }
    }

    /// Every runtime symbol generated code declares is one the ABI crate
    /// says every image has.
    #[test]
    fn the_runtime_externs_are_in_the_abi_crate() {
        let mut declared = 0;
        for line in RUNTIME_EXTERNS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            let name = line
                .strip_prefix("fn ")
                .and_then(|rest| rest.split('(').next())
                .or_else(|| {
                    let rest = line.strip_prefix("static ")?;
                    let rest = rest.strip_prefix("mut ").unwrap_or(rest);
                    rest.split(':').next()
                })
                .unwrap_or_else(|| panic!("not a declaration: {line}"));
            let known = symbols::RUNTIME_FUNCTIONS.contains(&name)
                || symbols::RUNTIME_DESCRIPTORS.contains(&name)
                || symbols::IMAGE_SYMBOLS.iter().any(|s| s.name == name);
            assert!(known, "`{name}` is not in bluescript_abi");
            declared += 1;
        }
        assert!(declared > 80, "{declared}");
        for function in MathFn::ALL {
            assert!(symbols::RUNTIME_FUNCTIONS.contains(&function.runtime_symbol()));
        }
    }

    #[test]
    fn float_literals_are_valid_rust() {
        assert_eq!(float_literal(1.0), "(1.0_f32)");
        assert_eq!(float_literal(1e30), "(1e30_f32)");
        assert_eq!(float_literal(f32::INFINITY), "f32::INFINITY");
    }
}
