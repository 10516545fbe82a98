//! The `extern "C"` entry points for values, strings, arrays and objects
//! that generated code calls (docs/device-abi.md, "Values and the heap").
//!
//! A `loc` parameter is the script location of the call, NUL-terminated
//! (`c"main.bs:3:7"`), or null; it is only read when the operation fails
//! and reports a run-time error. Descriptor parameters are trusted;
//! string and array parameters are checked to be a string or an array
//! (a wrong one is a run-time error, not a wild read), `any` parameters
//! against what the operation needs.

use core::fmt::{self, Write};

use crate::abi::SLOT_COUNT;
use crate::array;
use crate::catch::runtime_error_at;
use crate::convert::{self, Style};
use crate::dynamic::{self, LookupCache, StoreCache};
use crate::error::{Error, Result};
use crate::gc::Device;
use crate::object::{
    __bs_desc_cell, __bs_desc_raw_cell, c_text, ArrayDescriptor, ClassDescriptor,
    ClosureDescriptor, Descriptor, Obj,
};
use crate::print::{self, FixedBuf};
use crate::string;
use crate::value::Value;

/// A script location: a NUL-terminated string, or null.
pub type Loc = *const u8;

/// No location (for the functions that fail only when given a wrong
/// argument, which generated code never does).
const NO_LOC: Loc = core::ptr::null();

/// Reports `e` as a run-time error at `loc`.
fn fail(e: Error, loc: Loc) -> ! {
    fail_with(&e, loc)
}

/// Reports an error message as a run-time error at `loc` (one copy for
/// every error type).
#[inline(never)]
fn fail_with(e: &dyn fmt::Display, loc: Loc) -> ! {
    let mut msg = FixedBuf::<128>::new();
    let _ = write!(msg, "{e}");
    // Truncation may have cut a character in two: keep what is whole.
    let msg = match core::str::from_utf8(msg.as_bytes()) {
        Ok(text) => text,
        Err(e) => core::str::from_utf8(&msg.as_bytes()[..e.valid_up_to()]).unwrap_or(""),
    };
    runtime_error_at(msg, location(loc))
}

fn location<'a>(loc: Loc) -> &'a str {
    // SAFETY: generated code passes null or a NUL-terminated location.
    unsafe { c_text(loc) }
}

fn ok<T>(result: Result<T>, loc: Loc) -> T {
    match result {
        Ok(v) => v,
        Err(e) => fail(e, loc),
    }
}

fn ok_dynamic<T>(result: dynamic::Result<T>, loc: Loc) -> T {
    match result {
        Ok(v) => v,
        Err(e) => fail_with(&e, loc),
    }
}

/// A string argument. Checked (a load and a compare), so that a null or
/// mistyped argument is a run-time error rather than a wild read.
fn string_arg(v: Value, loc: Loc) -> Obj {
    ok(convert::to_string_object(v), loc)
}

fn array_of(v: Value, loc: Loc) -> Obj {
    ok(array::as_array(v), loc)
}

fn as_i32(n: usize) -> i32 {
    n as i32
}

// ---- allocation ----

/// A new string with a copy of `len` UTF-8 bytes at `bytes` (not in the
/// heap).
///
/// # Safety
/// `bytes` must point to `len` readable bytes of valid UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bs_string_new(bytes: *const u8, len: usize, loc: Loc) -> Value {
    // SAFETY: by the caller's contract.
    let text = unsafe { core::slice::from_raw_parts(bytes, len) };
    ok(string::new(&mut Device, text), loc)
}

/// `new C()`: an instance of the class `class`, every field 0.
///
/// # Safety
/// `class` must be a class descriptor (static).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bs_object_new(class: *const ClassDescriptor, loc: Loc) -> Value {
    // SAFETY: by the caller's contract.
    ok(array::new_instance(&mut Device, unsafe { &*class }), loc)
}

/// `new Array<T>(length, init)` (also `Uint8Array`, `FixedArray` and array
/// literals) for the array type `desc`. `init` is the initial element: the
/// bits of an `i32` or `f32`, 0/1 for a boolean, a value otherwise.
///
/// # Safety
/// `desc` must be an array descriptor (static).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bs_array_new(
    desc: *const ArrayDescriptor,
    length: i32,
    init: usize,
    loc: Loc,
) -> Value {
    // SAFETY: by the caller's contract.
    ok(
        array::new(&mut Device, unsafe { &*desc }, length, init),
        loc,
    )
}

/// `new Array<T>(source)`: a copy of the array `source` (any array kind)
/// as the array type `desc`, each element checked.
///
/// # Safety
/// `desc` must be an array descriptor (static).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bs_array_copy(
    desc: *const ArrayDescriptor,
    source: Value,
    loc: Loc,
) -> Value {
    let source = array_of(source, loc);
    // SAFETY: by the caller's contract.
    ok(array::copy(&mut Device, unsafe { &*desc }, source), loc)
}

/// A closure of the function type `desc`, whose function is the one in
/// slot `slot` of `__bs_slots` (an `extern "C"` function whose first
/// parameter is the closure), with `captures` captured values, all
/// `undefined`, for the caller to store.
///
/// # Safety
/// `desc` must be a closure descriptor (static).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bs_closure_new(
    desc: *const ClosureDescriptor,
    slot: u32,
    captures: usize,
    loc: Loc,
) -> Value {
    if slot as usize >= SLOT_COUNT {
        runtime_error_at("invalid function slot", location(loc));
    }
    // SAFETY: by the caller's contract.
    ok(
        array::new_closure(&mut Device, unsafe { &*desc }, slot as usize, captures),
        loc,
    )
}

/// A cell for a captured variable holding a value (reference or `any`).
#[unsafe(no_mangle)]
pub extern "C" fn bs_cell_new(init: Value, loc: Loc) -> Value {
    ok(array::new_cell(&mut Device, &__bs_desc_cell, init.0), loc)
}

/// A cell for a captured integer, float (its bits) or boolean (0/1).
#[unsafe(no_mangle)]
pub extern "C" fn bs_raw_cell_new(init: u32, loc: Loc) -> Value {
    ok(
        array::new_cell(&mut Device, &__bs_desc_raw_cell, init as usize),
        loc,
    )
}

// ---- strings ----

/// `a + b` of two strings.
#[unsafe(no_mangle)]
pub extern "C" fn bs_string_concat(a: Value, b: Value, loc: Loc) -> Value {
    ok(
        string::concat(&mut Device, string_arg(a, loc), string_arg(b, loc)),
        loc,
    )
}

#[unsafe(no_mangle)]
pub extern "C" fn bs_string_from_int(i: i32, loc: Loc) -> Value {
    ok(convert::int_to_string(&mut Device, i), loc)
}

/// As printed: `1.0`, `0.5`, `1e-7`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_string_from_float(f: f32, loc: Loc) -> Value {
    ok(convert::float_to_string(&mut Device, f), loc)
}

/// `"true"` or `"false"` (static strings; never fails).
#[unsafe(no_mangle)]
pub extern "C" fn bs_string_from_bool(b: bool) -> Value {
    convert::bool_to_string(b)
}

/// The string of any value: `undefined`, numbers and booleans as printed,
/// strings themselves, arrays joined with `,`, `[object Object]`,
/// `[function]`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_string_from_any(v: Value, loc: Loc) -> Value {
    ok(convert::to_string(&mut Device, v), loc)
}

/// `s.length`, in UTF-16 units.
#[unsafe(no_mangle)]
pub extern "C" fn bs_string_length(s: Value) -> i32 {
    as_i32(string::length(string_arg(s, NO_LOC)))
}

/// `a === b` of two strings.
#[unsafe(no_mangle)]
pub extern "C" fn bs_string_equals(a: Value, b: Value) -> bool {
    string::equals(string_arg(a, NO_LOC), string_arg(b, NO_LOC))
}

/// Compares two strings as JavaScript does: negative, 0 or positive.
#[unsafe(no_mangle)]
pub extern "C" fn bs_string_compare(a: Value, b: Value) -> i32 {
    string::compare(string_arg(a, NO_LOC), string_arg(b, NO_LOC)) as i32
}

#[unsafe(no_mangle)]
pub extern "C" fn bs_string_starts_with(s: Value, prefix: Value) -> bool {
    string::starts_with(string_arg(s, NO_LOC), string_arg(prefix, NO_LOC))
}

#[unsafe(no_mangle)]
pub extern "C" fn bs_string_ends_with(s: Value, suffix: Value) -> bool {
    string::ends_with(string_arg(s, NO_LOC), string_arg(suffix, NO_LOC))
}

/// `s.indexOf(p)`: a UTF-16 index, or -1.
#[unsafe(no_mangle)]
pub extern "C" fn bs_string_index_of(s: Value, p: Value) -> i32 {
    string::index_of(string_arg(s, NO_LOC), string_arg(p, NO_LOC))
}

/// `s.substring(start, end)` (`end` = `i32::MAX` for `s.substring(start)`).
#[unsafe(no_mangle)]
pub extern "C" fn bs_string_substring(s: Value, start: i32, end: i32, loc: Loc) -> Value {
    ok(
        string::substring(&mut Device, string_arg(s, loc), start, end),
        loc,
    )
}

/// `s.charCodeAt(i)`; out of range is a run-time error naming the index.
#[unsafe(no_mangle)]
pub extern "C" fn bs_string_char_code_at(s: Value, index: i32, loc: Loc) -> i32 {
    let s = string_arg(s, loc);
    match string::char_code_at(s, index) {
        Some(code) => code,
        None => fail(
            Error::IndexOutOfRange {
                index,
                length: string::length(s),
            },
            loc,
        ),
    }
}

/// `String.fromCharCode(code)`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_string_from_char_code(code: i32, loc: Loc) -> Value {
    ok(string::from_char_code(&mut Device, code), loc)
}

// ---- arrays ----

/// `a.length` of any array (`a` is checked: it may come from an `any`).
#[unsafe(no_mangle)]
pub extern "C" fn bs_array_length(a: Value, loc: Loc) -> i32 {
    as_i32(array::length(array_of(a, loc)))
}

/// `a[index]` of any array, boxed (the element itself for arrays of
/// values).
#[unsafe(no_mangle)]
pub extern "C" fn bs_array_get(a: Value, index: i32, loc: Loc) -> Value {
    ok(array::get(array_of(a, loc), index), loc)
}

/// `a[index] = v` of any array, `v` checked against the element type.
#[unsafe(no_mangle)]
pub extern "C" fn bs_array_set(a: Value, index: i32, v: Value, loc: Loc) {
    if let Some(slot) = array::any_slot(a, index) {
        // SAFETY: the slot of an element below the length.
        return unsafe { slot.write(v.0) };
    }
    ok(array::set(array_of(a, loc), index, v), loc)
}

/// `a[index] = v` of an array of values whose static type fits `v`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_array_set_value(a: Value, index: i32, v: Value, loc: Loc) {
    ok(array::set_value(array_of(a, loc), index, v), loc)
}

/// `a[index]` of an `integer[]`, `int32[]` or `Uint8Array`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_array_get_i32(a: Value, index: i32, loc: Loc) -> i32 {
    ok(array::get_i32(array_of(a, loc), index), loc)
}

/// `a[index] = v` of an `integer[]`, `int32[]` or `Uint8Array` (modulo 256).
#[unsafe(no_mangle)]
pub extern "C" fn bs_array_set_i32(a: Value, index: i32, v: i32, loc: Loc) {
    ok(array::set_i32(array_of(a, loc), index, v), loc)
}

/// `a[index]` of a `float[]`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_array_get_f32(a: Value, index: i32, loc: Loc) -> f32 {
    ok(array::get_f32(array_of(a, loc), index), loc)
}

#[unsafe(no_mangle)]
pub extern "C" fn bs_array_set_f32(a: Value, index: i32, v: f32, loc: Loc) {
    ok(array::set_f32(array_of(a, loc), index, v), loc)
}

/// `a[index]` of a `boolean[]`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_array_get_bool(a: Value, index: i32, loc: Loc) -> bool {
    ok(array::get_bool(array_of(a, loc), index), loc)
}

#[unsafe(no_mangle)]
pub extern "C" fn bs_array_set_bool(a: Value, index: i32, v: bool, loc: Loc) {
    ok(array::set_bool(array_of(a, loc), index, v), loc)
}

/// `a.push(v)`; returns the new length.
#[unsafe(no_mangle)]
pub extern "C" fn bs_array_push(a: Value, v: Value, loc: Loc) -> i32 {
    as_i32(ok(array::push(&mut Device, array_of(a, loc), v), loc))
}

/// `a.pop()`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_array_pop(a: Value, loc: Loc) -> Value {
    ok(array::pop(array_of(a, loc)), loc)
}

/// `a.shift()`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_array_shift(a: Value, loc: Loc) -> Value {
    ok(array::shift(array_of(a, loc)), loc)
}

/// `a.unshift(v)`; returns the new length.
#[unsafe(no_mangle)]
pub extern "C" fn bs_array_unshift(a: Value, v: Value, loc: Loc) -> i32 {
    as_i32(ok(array::unshift(&mut Device, array_of(a, loc), v), loc))
}

/// Reports `index` out of range for an array of `length` elements: for
/// bounds checks that generated code makes inline.
#[unsafe(no_mangle)]
pub extern "C" fn bs_index_error(index: i32, length: i32, loc: Loc) -> ! {
    let length = length.max(0) as usize;
    fail(Error::IndexOutOfRange { index, length }, loc)
}

// ---- any ----

#[unsafe(no_mangle)]
pub extern "C" fn bs_any_from_int(i: i32) -> Value {
    Value::from_int(i)
}

#[unsafe(no_mangle)]
pub extern "C" fn bs_any_from_float(f: f32) -> Value {
    Value::from_float(f)
}

#[unsafe(no_mangle)]
pub extern "C" fn bs_any_from_bool(b: bool) -> Value {
    Value::from_bool(b)
}

/// `any` → `integer`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_any_to_int(v: Value, loc: Loc) -> i32 {
    ok(convert::to_int(v), loc)
}

/// `any` → `float` (an integer converts).
#[unsafe(no_mangle)]
pub extern "C" fn bs_any_to_float(v: Value, loc: Loc) -> f32 {
    ok(convert::to_float(v), loc)
}

/// `any` → `boolean`, by truthiness: it never fails (`loc` is unused).
#[unsafe(no_mangle)]
pub extern "C" fn bs_any_to_bool(v: Value, _loc: Loc) -> bool {
    convert::to_bool(v)
}

/// `any` → `string`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_any_to_string(v: Value, loc: Loc) -> Value {
    ok(convert::to_string_object(v), loc).value()
}

/// `any` → `null`: `undefined`, else an error.
#[unsafe(no_mangle)]
pub extern "C" fn bs_any_to_null(v: Value, loc: Loc) -> Value {
    ok(convert::to_null(v), loc)
}

/// `any` → a class, array or function type described by `desc`.
///
/// # Safety
/// `desc` must be a descriptor (static).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bs_any_to_object(v: Value, desc: *const Descriptor, loc: Loc) -> Value {
    // SAFETY: by the caller's contract.
    ok(convert::to_object(v, unsafe { &*desc }), loc)
}

/// Truthiness in conditions.
#[unsafe(no_mangle)]
pub extern "C" fn bs_any_truthy(v: Value) -> bool {
    v.truthy()
}

/// `a === b` of two values.
#[unsafe(no_mangle)]
pub extern "C" fn bs_any_equals(a: Value, b: Value) -> bool {
    convert::equals(a, b)
}

/// `v instanceof T` (subclasses included) for the type `desc`.
///
/// # Safety
/// `desc` must be a descriptor (static).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bs_instance_of(v: Value, desc: *const Descriptor) -> bool {
    // SAFETY: by the caller's contract.
    convert::instance_of(v, unsafe { &*desc })
}

/// `v instanceof Array`.
#[unsafe(no_mangle)]
pub extern "C" fn bs_is_array(v: Value) -> bool {
    convert::is_array(v)
}

/// Appends any value to the current output line, as `console.log` shows
/// it (`undefined`, `1.0`, `[ 1, 'a' ]`, `Point { x: 1, name: 'a' }`).
#[unsafe(no_mangle)]
pub extern "C" fn bs_print_any(v: Value) {
    print::write_with(|w| {
        let _ = convert::write_value(w, v, Style::Print);
    })
}

// ---- dynamic operations (an operand of static type `any`) ----

/// A member name: NUL-terminated UTF-8 that generated code passes.
fn member_name(name: *const u8) -> &'static str {
    // SAFETY: generated code passes static NUL-terminated text; the name
    // is used by this call only (an error message included).
    unsafe { c_text(name) }
}

/// `a op b` for `op` 0 `+`, 1 `-`, 2 `*`, 3 `/`, 4 `%`, 5 `**`: integers
/// wrap (`/` truncates; by 0 is an error), a float operand makes it
/// float arithmetic, `+` with a string concatenates.
#[unsafe(no_mangle)]
pub extern "C" fn bs_any_arith(op: u32, a: Value, b: Value, loc: Loc) -> Value {
    let pow = |x, y| crate::math::bs_math_pow(x, y);
    ok_dynamic(dynamic::arith(&mut Device, op, a, b, pow), loc)
}

/// `a op b` for `op` 0 `<`, 1 `<=`, 2 `>`, 3 `>=`, of numbers or strings.
#[unsafe(no_mangle)]
pub extern "C" fn bs_any_compare(op: u32, a: Value, b: Value, loc: Loc) -> bool {
    ok_dynamic(dynamic::compare(op, a, b), loc)
}

/// `-v` of an integer (wrapping) or a float.
#[unsafe(no_mangle)]
pub extern "C" fn bs_any_neg(v: Value, loc: Loc) -> Value {
    ok_dynamic(dynamic::neg(v), loc)
}

/// `~v` of an integer.
#[unsafe(no_mangle)]
pub extern "C" fn bs_any_bitnot(v: Value, loc: Loc) -> Value {
    ok_dynamic(dynamic::bitnot(v), loc)
}

/// `obj.name`: a field of an instance (boxed), or `length` of a string or
/// an array. `name` is NUL-terminated; the field found is remembered in
/// the site's `cache`, which generated code reads before it calls this.
///
/// # Safety
/// `cache` must point to the site's lookup cache.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bs_any_get(
    obj: Value,
    name: *const u8,
    cache: *mut LookupCache,
    loc: Loc,
) -> Value {
    // SAFETY: by the caller's contract.
    let cache = unsafe { &mut *cache };
    ok_dynamic(dynamic::get(obj, member_name(name), cache), loc)
}

/// `obj.name = value` of a field of an instance, `value` checked against
/// the field's type; the field is remembered in the site's `cache`.
///
/// # Safety
/// `cache` must point to the site's store cache.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bs_any_set(
    obj: Value,
    name: *const u8,
    value: Value,
    cache: *mut StoreCache,
    loc: Loc,
) {
    // SAFETY: by the caller's contract.
    let cache = unsafe { &mut *cache };
    ok_dynamic(dynamic::set(obj, member_name(name), value, cache), loc)
}

/// `obj.name(args…)`: a method of an instance (its adapter gets `obj`,
/// `args`, `argc`, `loc`, and is remembered in the site's `cache`), or a
/// method of a string (`startsWith`, `endsWith`, `indexOf`, `substring`,
/// `charCodeAt`) or an array (`push`, `pop`, `shift`, `unshift`).
///
/// # Safety
/// `args` must point to `argc` values (it may be null when `argc` is 0);
/// `cache` to the site's lookup cache.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bs_any_call_method(
    obj: Value,
    name: *const u8,
    args: *const Value,
    argc: usize,
    cache: *mut LookupCache,
    loc: Loc,
) -> Value {
    let name = member_name(name);
    // SAFETY: by the caller's contract; descriptors are trusted.
    let result =
        unsafe { dynamic::call_method(&mut Device, obj, name, args, argc, loc, &mut *cache) };
    ok_dynamic(result, loc)
}

/// `f(args…)` of a closure, through its descriptor's `any_entry`.
///
/// # Safety
/// `args` must point to `argc` values (it may be null when `argc` is 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bs_any_call(f: Value, args: *const Value, argc: usize, loc: Loc) -> Value {
    // SAFETY: by the caller's contract; descriptors are trusted.
    ok_dynamic(unsafe { dynamic::call(f, args, argc, loc) }, loc)
}

/// `a[index]` of any array, `index` an `any` holding an integer.
#[unsafe(no_mangle)]
pub extern "C" fn bs_any_index_get(a: Value, index: Value, loc: Loc) -> Value {
    ok_dynamic(dynamic::index_get(a, index), loc)
}

/// `a[index] = value` of any array, `value` checked against the element
/// type.
#[unsafe(no_mangle)]
pub extern "C" fn bs_any_index_set(a: Value, index: Value, value: Value, loc: Loc) {
    ok_dynamic(dynamic::index_set(a, index, value), loc)
}
