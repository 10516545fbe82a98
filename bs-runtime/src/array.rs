//! Arrays, closures, cells and class instances: making them, and the array
//! operations.
//!
//! Arrays of integers, floats and booleans, `Uint8Array` and `FixedArray`
//! have a fixed length and keep their elements inline, unboxed (4 bytes
//! for `integer`/`int32`/`float`, 1 byte for `boolean` and `Uint8Array`, a
//! value for `FixedArray`). Arrays of strings, objects, arrays and `any`
//! grow: `[header, length, storage]`, the elements in a separate vector
//! `[header, capacity, values…]` that is replaced by a larger one when
//! full (objects never move, so the array itself cannot grow in place).
//!
//! Any array can be seen as `any[]`: [`get`] boxes its elements, [`set`]
//! checks that the value fits the element type.
//!
//! This file uses `core` and the crate's portable modules only.

use crate::error::{Error, Expected, Result};
use crate::heap::{Mutator, Shape};
use crate::object::{
    __bs_desc_vector, fixed_array_words, is_instance, layout, ArrayDescriptor, ClassDescriptor,
    ClosureDescriptor, Descriptor, Kind, Obj,
};
use crate::value::Value;

/// Capacity of the first vector of an array that grows from empty.
const FIRST_CAPACITY: usize = 4;

/// More elements (or captured values) than any heap holds: asking for them
/// is running out of memory, and checking this first keeps the size
/// arithmetic from overflowing.
const MAX_ELEMENTS: usize = isize::MAX as usize / 8;

fn address<T>(desc: &'static T) -> usize {
    desc as *const T as usize
}

/// `new Array<T>(length, init)` and the like, for the array type `desc`.
/// `init` is the initial element as a word: the bits of an `i32` or
/// `f32`, 0 or 1 for a boolean, a value for arrays of values. Inlined
/// into its one caller, `bs_array_new`: its result then needs no memory
/// (but see build.rs for opt-level `z`).
#[cfg_attr(not(opt_level_z), inline(always))]
#[cfg_attr(opt_level_z, inline)]
pub fn new(
    m: &mut impl Mutator,
    desc: &'static ArrayDescriptor,
    length: i32,
    init: usize,
) -> Result<Value> {
    let len = usize::try_from(length).map_err(|_| Error::InvalidLength(length))?;
    let Some(kind) = kind_of(desc) else {
        return Err(Error::InvalidLength(length));
    };
    if len > MAX_ELEMENTS {
        return Err(Error::OutOfMemory);
    }
    if kind == Kind::Array {
        return new_growable(m, desc, len, Value(init));
    }
    let words = fixed_array_words(kind, len);
    let array = m.allocate(words, address(desc), len)?;
    if init != 0 {
        fill_raw(array, kind, len, init);
    }
    Ok(array.value())
}

/// Stores the raw element word `raw` (as [`store_raw`] does) into all
/// `len` elements of the new fixed array `a`: the kind matched once, the
/// bytes of a `boolean[]` or `Uint8Array` set as a block (a sieve's 5000
/// flags: 10 instructions a flag before).
fn fill_raw(a: Obj, kind: Kind, len: usize, raw: usize) {
    let data = a.ptr().wrapping_add(layout::FIXED_DATA);
    // SAFETY: `a` is a fixed array of `len` elements of `kind`, inline
    // from `FIXED_DATA` on.
    unsafe {
        match kind {
            Kind::BoolArray => data.cast::<u8>().write_bytes(u8::from(raw != 0), len),
            Kind::Uint8Array => data.cast::<u8>().write_bytes(raw as u8, len),
            Kind::IntArray | Kind::Int32Array | Kind::FloatArray => {
                core::slice::from_raw_parts_mut(data.cast::<u32>(), len).fill(raw as u32)
            }
            _ => core::slice::from_raw_parts_mut(data, len).fill(raw),
        }
    }
}

fn kind_of(desc: &ArrayDescriptor) -> Option<Kind> {
    Kind::from_word(desc.kind).filter(|kind| kind.is_array())
}

#[cfg_attr(not(opt_level_z), inline(always))]
fn new_growable(
    m: &mut impl Mutator,
    desc: &'static ArrayDescriptor,
    len: usize,
    init: Value,
) -> Result<Value> {
    if len == 0 {
        return Ok(m.allocate(3, address(desc), 0)?.value());
    }
    let (storage, array) = m.allocate_two(
        vector_shape(len),
        Shape {
            words: 3,
            header: address(desc),
            word1: len,
        },
        init,
    )?;
    // New objects' words are 0 (`undefined`) already.
    if init.0 != 0 {
        for i in 0..len {
            storage.set_word(layout::VECTOR_DATA + i, init.0);
        }
    }
    array.set_word(layout::ARRAY_STORAGE, storage.address());
    Ok(array.value())
}

/// A vector with room for `capacity` values (at most `MAX_ELEMENTS`).
fn vector_shape(capacity: usize) -> Shape {
    Shape {
        words: layout::VECTOR_DATA + capacity,
        header: address(&__bs_desc_vector),
        word1: capacity,
    }
}

fn new_vector(m: &mut impl Mutator, capacity: usize) -> Result<Obj> {
    if capacity > MAX_ELEMENTS {
        return Err(Error::OutOfMemory);
    }
    let shape = vector_shape(capacity);
    m.allocate(shape.words, shape.header, shape.word1)
}

/// An instance of a class, every field 0 (`undefined`, `0`, `0.0`,
/// `false`) until the constructor sets it.
pub fn new_instance(m: &mut impl Mutator, class: &'static ClassDescriptor) -> Result<Value> {
    Ok(m.allocate(class.size_words.max(1), address(class), 0)?
        .value())
}

/// A closure of the function in slot `slot`, with room for `captures`
/// captured values (all 0), which the caller stores right after.
pub fn new_closure(
    m: &mut impl Mutator,
    desc: &'static ClosureDescriptor,
    slot: usize,
    captures: usize,
) -> Result<Value> {
    if captures > MAX_ELEMENTS {
        return Err(Error::OutOfMemory);
    }
    let closure = m.allocate(layout::CLOSURE_CAPTURES + captures, address(desc), captures)?;
    closure.set_word(layout::CLOSURE_SLOT, slot);
    Ok(closure.value())
}

/// A cell for a captured variable: `desc` is `__bs_desc_cell` for a value,
/// `__bs_desc_raw_cell` for the bits of an integer, float or boolean.
pub fn new_cell(m: &mut impl Mutator, desc: &'static Descriptor, init: usize) -> Result<Value> {
    let is_value = desc.kind == Kind::Cell as usize;
    if is_value {
        m.hold(Value(init));
    }
    let cell = m.allocate(2, address(desc), init);
    if is_value {
        m.release(Value(init));
    }
    Ok(cell?.value())
}

/// The array a value refers to.
pub fn as_array(v: Value) -> Result<Obj> {
    // SAFETY: reference values point to valid objects.
    match unsafe { Obj::from_value(v) } {
        Some(obj) if obj.kind().is_array() => Ok(obj),
        _ => Err(Error::Expected {
            expected: Expected::Array,
            found: v,
        }),
    }
}

/// `a.length`.
pub fn length(a: Obj) -> usize {
    a.word(layout::ARRAY_LENGTH)
}

fn check_index(a: Obj, index: i32) -> Result<usize> {
    let length = length(a);
    match usize::try_from(index) {
        Ok(i) if i < length => Ok(i),
        _ => Err(Error::IndexOutOfRange { index, length }),
    }
}

/// The storage word of element `i` of a growable array (`i` < length).
fn slot(a: Obj, i: usize) -> *mut usize {
    let storage = a.word(layout::ARRAY_STORAGE) as *mut usize;
    // SAFETY: a growable array with elements has a vector of at least its
    // length.
    unsafe { storage.add(layout::VECTOR_DATA + i) }
}

/// `a[i]` of any array, boxed.
pub fn get(a: Obj, index: i32) -> Result<Value> {
    let i = check_index(a, index)?;
    Ok(match a.kind() {
        Kind::IntArray | Kind::Int32Array => Value::from_int(a.element32(i) as i32),
        Kind::FloatArray => Value::from_float(f32::from_bits(a.element32(i))),
        Kind::BoolArray => Value::from_bool(a.element8(i) != 0),
        Kind::Uint8Array => Value::from_int(i32::from(a.element8(i))),
        Kind::FixedArray => Value(a.word(layout::FIXED_DATA + i)),
        // SAFETY: `i` is below the length.
        _ => Value(unsafe { slot(a, i).read() }),
    })
}

/// `a[i] = v` of any array, checking that `v` fits the element type.
pub fn set(a: Obj, index: i32, v: Value) -> Result<()> {
    let i = check_index(a, index)?;
    let kind = a.kind();
    let expected = match kind {
        Kind::IntArray | Kind::Int32Array | Kind::Uint8Array => v
            .as_int()
            .map(|n| n as u32 as usize)
            .ok_or(Expected::Integer),
        Kind::FloatArray => v
            .as_number()
            .map(|f| f.to_bits() as usize)
            .ok_or(Expected::Float),
        Kind::BoolArray => v.as_bool().map(usize::from).ok_or(Expected::Boolean),
        _ => check_element(a, v).map(|()| v.0),
    };
    let raw = expected.map_err(|expected| Error::Expected { expected, found: v })?;
    store_raw(a, kind, i, raw);
    Ok(())
}

/// The storage word of `a[index]` when `a` is an `any[]` (a growable
/// array whose elements need no check) and `index` is below its length:
/// the common case of [`set`], without its checks of other kinds.
pub fn any_slot(a: Value, index: i32) -> Option<*mut usize> {
    // SAFETY: reference values point to valid objects.
    let obj = unsafe { Obj::from_value(a) }?;
    let is_any_array = obj.kind() == Kind::Array && obj.array_descriptor().element.is_null();
    let i = usize::try_from(index).ok()?;
    (is_any_array && i < length(obj)).then(|| slot(obj, i))
}

/// Whether `v` may be an element of the growable or fixed array `a`.
fn check_element(a: Obj, v: Value) -> core::result::Result<(), Expected> {
    if a.kind() != Kind::Array {
        return Ok(());
    }
    // SAFETY: element descriptors are static descriptors.
    let Some(element) = (unsafe { a.array_descriptor().element.as_ref() }) else {
        return Ok(()); // any[]
    };
    // SAFETY: reference values point to valid objects.
    match unsafe { Obj::from_value(v) } {
        Some(obj) if is_instance(obj, element) => Ok(()),
        _ => Err(Expected::Type(element)),
    }
}

/// Stores the raw element word `raw` (see [`new`]) at `i` (< length).
fn store_raw(a: Obj, kind: Kind, i: usize, raw: usize) {
    match kind {
        Kind::IntArray | Kind::Int32Array | Kind::FloatArray => a.set_element32(i, raw as u32),
        Kind::BoolArray => a.set_element8(i, u8::from(raw != 0)),
        Kind::Uint8Array => a.set_element8(i, raw as u8),
        Kind::FixedArray => a.set_word(layout::FIXED_DATA + i, raw),
        // SAFETY: `i` is below the length.
        _ => unsafe { slot(a, i).write(raw) },
    }
}

/// `a[i]` of an `integer[]`, `int32[]` or `Uint8Array`, unboxed.
pub fn get_i32(a: Obj, index: i32) -> Result<i32> {
    let i = check_index(a, index)?;
    match a.kind() {
        Kind::Uint8Array => Ok(i32::from(a.element8(i))),
        _ => Ok(a.element32(i) as i32),
    }
}

/// `a[i] = v` of an `integer[]`, `int32[]` or `Uint8Array` (which keeps
/// `v` modulo 256).
pub fn set_i32(a: Obj, index: i32, v: i32) -> Result<()> {
    let i = check_index(a, index)?;
    store_raw(a, a.kind(), i, v as u32 as usize);
    Ok(())
}

/// `a[i]` of a `float[]`.
pub fn get_f32(a: Obj, index: i32) -> Result<f32> {
    let i = check_index(a, index)?;
    Ok(f32::from_bits(a.element32(i)))
}

pub fn set_f32(a: Obj, index: i32, v: f32) -> Result<()> {
    let i = check_index(a, index)?;
    a.set_element32(i, v.to_bits());
    Ok(())
}

/// `a[i]` of a `boolean[]`.
pub fn get_bool(a: Obj, index: i32) -> Result<bool> {
    let i = check_index(a, index)?;
    Ok(a.element8(i) != 0)
}

pub fn set_bool(a: Obj, index: i32, v: bool) -> Result<()> {
    let i = check_index(a, index)?;
    a.set_element8(i, u8::from(v));
    Ok(())
}

/// `a[i] = v` of an array of values whose static type guarantees that `v`
/// fits (no element check).
pub fn set_value(a: Obj, index: i32, v: Value) -> Result<()> {
    let i = check_index(a, index)?;
    store_raw(a, a.kind(), i, v.0);
    Ok(())
}

/// The growable array `a`, or the error of `operation` on a fixed-length
/// one.
fn growable(a: Obj, operation: &'static str) -> Result<Obj> {
    match a.kind() {
        Kind::Array => Ok(a),
        _ => Err(Error::FixedLength {
            operation,
            array: a.value(),
        }),
    }
}

fn capacity(a: Obj) -> usize {
    match a.word(layout::ARRAY_STORAGE) {
        0 => 0,
        // SAFETY: the storage of an array is a vector.
        storage => unsafe { Obj::from_address(storage) }.word(layout::VECTOR_CAPACITY),
    }
}

/// Makes room for one more element, moving the elements to a vector twice
/// as large if the current one is full.
fn reserve_one(m: &mut impl Mutator, a: Obj, v: Value) -> Result<()> {
    let len = length(a);
    if len < capacity(a) {
        return Ok(());
    }
    m.hold(a.value());
    m.hold(v);
    let grown = new_vector(m, (len * 2).max(FIRST_CAPACITY));
    m.release(v);
    m.release(a.value());
    let grown = grown?;
    for i in 0..len {
        // SAFETY: `i` is below the length.
        grown.set_word(layout::VECTOR_DATA + i, unsafe { slot(a, i).read() });
    }
    a.set_word(layout::ARRAY_STORAGE, grown.address());
    Ok(())
}

/// `a.push(v)`; returns the new length.
pub fn push(m: &mut impl Mutator, a: Obj, v: Value) -> Result<usize> {
    let a = growable(a, "push")?;
    check_element(a, v).map_err(|expected| Error::Expected { expected, found: v })?;
    reserve_one(m, a, v)?;
    let len = length(a);
    a.set_word(layout::ARRAY_LENGTH, len + 1);
    // SAFETY: within the capacity just reserved, and now the length.
    unsafe { slot(a, len).write(v.0) };
    Ok(len + 1)
}

/// `a.unshift(v)`; returns the new length.
pub fn unshift(m: &mut impl Mutator, a: Obj, v: Value) -> Result<usize> {
    let a = growable(a, "unshift")?;
    check_element(a, v).map_err(|expected| Error::Expected { expected, found: v })?;
    reserve_one(m, a, v)?;
    let len = length(a);
    a.set_word(layout::ARRAY_LENGTH, len + 1);
    // SAFETY: `len + 1` elements fit the vector.
    unsafe {
        move_elements(a, 0, 1, len);
        slot(a, 0).write(v.0);
    }
    Ok(len + 1)
}

/// Moves `count` elements of the growable array `a` from index `from` to
/// index `to` (the ranges may overlap). One by one, with volatile accesses
/// so that the compiler does not turn the loop into a call of `memmove`,
/// which would cost 1.5 KB of flash.
///
/// # Safety
/// Both ranges must lie within the vector's capacity.
unsafe fn move_elements(a: Obj, from: usize, to: usize, count: usize) {
    let step = |i: usize| {
        // SAFETY: by the caller's contract.
        unsafe { slot(a, to + i).write_volatile(slot(a, from + i).read_volatile()) }
    };
    if to < from {
        (0..count).for_each(step);
    } else {
        (0..count).rev().for_each(step);
    }
}

/// `a.pop()`. An empty array gives `undefined` (its type is `T | undefined`,
/// LANGUAGE.md §9).
pub fn pop(a: Obj) -> Result<Value> {
    let a = growable(a, "pop")?;
    let len = length(a);
    if len == 0 {
        return Ok(Value::UNDEFINED);
    }
    // SAFETY: `len - 1` is below the length; the vacated slot is cleared
    // so that it keeps nothing alive.
    let v = unsafe { slot(a, len - 1).replace(0) };
    a.set_word(layout::ARRAY_LENGTH, len - 1);
    Ok(Value(v))
}

/// `a.shift()`; like [`pop`], from the front.
pub fn shift(a: Obj) -> Result<Value> {
    let a = growable(a, "shift")?;
    let len = length(a);
    if len == 0 {
        return Ok(Value::UNDEFINED);
    }
    // SAFETY: the `len` elements are in the vector; the vacated last slot
    // is cleared.
    let v = unsafe {
        let first = slot(a, 0).read();
        move_elements(a, 1, 0, len - 1);
        slot(a, len - 1).write(0);
        first
    };
    a.set_word(layout::ARRAY_LENGTH, len - 1);
    Ok(Value(v))
}

/// `new Array<T>(source)`: a new array of type `desc` with the elements of
/// the array `source`, each checked against the element type.
pub fn copy(m: &mut impl Mutator, desc: &'static ArrayDescriptor, source: Obj) -> Result<Value> {
    let len = length(source);
    m.hold(source.value());
    let copy = new(m, desc, len as i32, 0);
    m.release(source.value());
    // SAFETY: `new` returns an array.
    let copy = unsafe { Obj::from_address(copy?.0) };
    let same_fixed_kind = copy.kind() == source.kind() && copy.kind() != Kind::Array;
    for i in 0..len as i32 {
        if same_fixed_kind {
            let raw = match copy.kind() {
                Kind::BoolArray | Kind::Uint8Array => usize::from(source.element8(i as usize)),
                Kind::FixedArray => source.word(layout::FIXED_DATA + i as usize),
                _ => source.element32(i as usize) as usize,
            };
            store_raw(copy, copy.kind(), i as usize, raw);
        } else {
            set(copy, i, get(source, i)?)?;
        }
    }
    Ok(copy.value())
}
