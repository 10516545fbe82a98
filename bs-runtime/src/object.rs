//! Objects: a header word, then the object's words. The header holds the
//! address of the object's *descriptor*, static data that says what kind of
//! object it is (a string, an array of some element type, an instance of
//! some class, …); the garbage collector keeps its mark in the header's two
//! low bits while it runs (they are 0 otherwise).
//!
//! Layouts (word indices; a word is 4 bytes on the device):
//!
//! ```text
//! string        [header, byte length, UTF-16 length, UTF-8 bytes…]
//! fixed arrays  [header, length, elements…]   integer[]/int32[]/float[]: 4 bytes
//!               each; boolean[] and Uint8Array: 1 byte each; FixedArray: a word
//! array         [header, length, storage]     growable (arrays of strings,
//!               objects, arrays, any); storage is a vector or 0
//! vector        [header, capacity, values…]   an array's storage
//! instance      [header, fields…]             one word per field
//! closure       [header, capture count, function slot, captured values…]
//! cell          [header, value]               a captured variable
//! ```
//!
//! docs/values-and-heap.md is the full specification (the compiler emits
//! descriptors and static strings following it).
//!
//! This file uses `core`, the ABI crate and `crate::value` only.

use core::fmt;
use core::mem::size_of;
use core::ptr::NonNull;

use crate::value::Value;

/// Bytes per word.
pub const WORD: usize = size_of::<usize>();

pub use bluescript_abi::object::{
    layout, Kind, MEMBER_ANY, MEMBER_BOOL, MEMBER_FLOAT, MEMBER_INT, MEMBER_METHOD,
    MEMBER_NULLABLE, MEMBER_REF,
};

/// The part every descriptor starts with.
#[derive(Debug)]
#[repr(C)]
pub struct Descriptor {
    /// A [`Kind`], as a word.
    pub kind: usize,
}

/// Descriptor of an array type (every array kind), and of the internal
/// vector.
#[derive(Debug)]
#[repr(C)]
pub struct ArrayDescriptor {
    pub kind: usize,
    /// For [`Kind::Array`]: the descriptor of the element type (a string,
    /// class, array or closure descriptor), or null for `any[]`. Null for
    /// the other kinds.
    pub element: *const Descriptor,
}

/// Descriptor of a class, emitted by the compiler.
#[derive(Debug)]
#[repr(C)]
pub struct ClassDescriptor {
    pub kind: usize,
    /// Words of an instance, header included.
    pub size_words: usize,
    /// Bit `i % 32` of `ref_map[i / 32]` is set if word `i` of an instance
    /// holds a value (a reference or an `any`); clear for raw integer,
    /// float and boolean fields. Covers `size_words` bits; may be null
    /// when no field holds a value.
    pub ref_map: *const u32,
    /// The superclass's descriptor, or null.
    pub superclass: *const ClassDescriptor,
    /// The class name, NUL-terminated UTF-8.
    pub name: *const u8,
    /// Every member that `any` can reach by name (fields and methods,
    /// inherited ones included: the compiler flattens the chain, an
    /// override replacing the inherited entry), so that a lookup searches
    /// one table. May be null when `member_count` is 0.
    pub members: *const Member,
    pub member_count: usize,
}

// The compiler places the table of virtual-method slots right after it.
const _: () =
    assert!(size_of::<ClassDescriptor>() == bluescript_abi::object::CLASS_DESCRIPTOR_WORDS * WORD);

impl ClassDescriptor {
    pub fn members(&self) -> &'static [Member] {
        if self.members.is_null() || self.member_count == 0 {
            return &[];
        }
        // SAFETY: the compiler emits `member_count` static members there.
        unsafe { core::slice::from_raw_parts(self.members, self.member_count) }
    }

    /// The member called `name`.
    pub fn member(&self, name: &str) -> Option<&'static Member> {
        self.members().iter().find(|m| m.name() == name)
    }
}

/// One entry of a class's member table, emitted by the compiler.
#[derive(Debug)]
#[repr(C)]
pub struct Member {
    /// NUL-terminated UTF-8.
    pub name: *const u8,
    /// One of the `MEMBER_*` constants.
    pub kind: usize,
    /// Fields: the word of the instance that holds it (1 = first field).
    /// Methods: 0.
    pub offset: usize,
    /// [`MEMBER_REF`], [`MEMBER_NULLABLE`]: the descriptor a stored value
    /// must match (null for a field of type `null`, which holds only 0).
    /// [`MEMBER_METHOD`]: the adapter, a [`DynamicFn`] whose first argument
    /// is the instance. Otherwise null.
    pub target: *const (),
}

impl Member {
    pub fn name(&self) -> &'static str {
        // SAFETY: member names are NUL-terminated static text.
        unsafe { c_text(self.name) }
    }

    pub fn is_field(&self) -> bool {
        (MEMBER_INT..=MEMBER_NULLABLE).contains(&self.kind)
    }
}

/// How `any` calls code whose parameters it does not know statically: a
/// method's adapter (`this` the instance) and a closure's `any_entry`
/// (`this` the closure). The callee checks `argc` and converts the
/// `argc` values at `args` itself, reporting failures at `loc`.
pub type DynamicFn =
    unsafe extern "C" fn(this: Value, args: *const Value, argc: usize, loc: *const u8) -> Value;

/// Descriptor of a function type, emitted by the compiler.
#[derive(Debug)]
#[repr(C)]
pub struct ClosureDescriptor {
    pub kind: usize,
    /// The function type, NUL-terminated, e.g. `(integer,any)=>float`:
    /// function types are equal when these texts are.
    pub signature: *const u8,
    /// The function with boxed arguments, for calls of an `any` (the
    /// compiler emits one per function type: it loads the closure's slot
    /// and calls the function with the arguments converted).
    pub any_entry: DynamicFn,
}

// Generated code loads a closure's `any` entry by word index.
const _: () = assert!(
    core::mem::offset_of!(ClosureDescriptor, any_entry)
        == bluescript_abi::object::CLOSURE_DESCRIPTOR_ANY_ENTRY * WORD
);

// SAFETY: descriptors are immutable static data; their pointers point to
// immutable static data.
unsafe impl Sync for Descriptor {}
unsafe impl Sync for ArrayDescriptor {}
unsafe impl Sync for ClassDescriptor {}
unsafe impl Sync for ClosureDescriptor {}
unsafe impl Sync for Member {}

const fn array_descriptor(kind: Kind) -> ArrayDescriptor {
    ArrayDescriptor {
        kind: kind as usize,
        element: core::ptr::null(),
    }
}

/// The built-in descriptors. Generated code refers to them by these names;
/// it emits descriptors of its own for classes, function types and arrays
/// of strings, objects and arrays.
#[unsafe(no_mangle)]
pub static __bs_desc_string: Descriptor = Descriptor {
    kind: Kind::String as usize,
};
#[unsafe(no_mangle)]
pub static __bs_desc_int_array: ArrayDescriptor = array_descriptor(Kind::IntArray);
#[unsafe(no_mangle)]
pub static __bs_desc_int32_array: ArrayDescriptor = array_descriptor(Kind::Int32Array);
#[unsafe(no_mangle)]
pub static __bs_desc_float_array: ArrayDescriptor = array_descriptor(Kind::FloatArray);
#[unsafe(no_mangle)]
pub static __bs_desc_bool_array: ArrayDescriptor = array_descriptor(Kind::BoolArray);
#[unsafe(no_mangle)]
pub static __bs_desc_uint8_array: ArrayDescriptor = array_descriptor(Kind::Uint8Array);
#[unsafe(no_mangle)]
pub static __bs_desc_fixed_array: ArrayDescriptor = array_descriptor(Kind::FixedArray);
/// `any[]`.
#[unsafe(no_mangle)]
pub static __bs_desc_any_array: ArrayDescriptor = array_descriptor(Kind::Array);
/// `string[]`.
#[unsafe(no_mangle)]
pub static __bs_desc_string_array: ArrayDescriptor = ArrayDescriptor {
    kind: Kind::Array as usize,
    element: &__bs_desc_string,
};
#[unsafe(no_mangle)]
pub static __bs_desc_vector: ArrayDescriptor = array_descriptor(Kind::Vector);
/// A captured variable holding a value (a reference or an `any`).
#[unsafe(no_mangle)]
pub static __bs_desc_cell: Descriptor = Descriptor {
    kind: Kind::Cell as usize,
};
/// A captured variable holding an integer, float or boolean.
#[unsafe(no_mangle)]
pub static __bs_desc_raw_cell: Descriptor = Descriptor {
    kind: Kind::RawCell as usize,
};

/// The header bits the collector uses (0 outside of a collection).
pub const HEADER_MARK: usize = 0b01;

/// A string in static memory, laid out like a heap string; the collector
/// never frees, marks or scans it. The runtime's own constant strings are
/// these; the compiler emits the same layout for string literals.
#[repr(C)]
pub struct StaticString<const N: usize> {
    header: *const Descriptor,
    byte_len: usize,
    units: usize,
    bytes: [u8; N],
}

// SAFETY: immutable after construction.
unsafe impl<const N: usize> Sync for StaticString<N> {}

impl<const N: usize> StaticString<N> {
    /// `text` must be ASCII (so that its UTF-16 length is its length).
    pub const fn ascii(text: &[u8; N]) -> Self {
        StaticString {
            header: &__bs_desc_string,
            byte_len: N,
            units: N,
            bytes: *text,
        }
    }

    pub fn value(&'static self) -> Value {
        Value::from_address(self as *const Self as usize)
    }
}

/// An object: a reference that is known to point to a valid object (heap
/// or static) for as long as it is used.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Obj(NonNull<usize>);

impl Obj {
    /// # Safety
    /// `address` must be the address of a valid object (header and all the
    /// words its descriptor implies), which stays valid while this `Obj`
    /// and its copies are used.
    pub unsafe fn from_address(address: usize) -> Obj {
        // SAFETY: valid objects are not at address 0.
        Obj(unsafe { NonNull::new_unchecked(address as *mut usize) })
    }

    /// The object a value refers to, if it refers to one.
    ///
    /// # Safety
    /// A reference value must point to a valid object (true of every value
    /// that generated code and the runtime hand around).
    pub unsafe fn from_value(v: Value) -> Option<Obj> {
        // SAFETY: by the caller's contract.
        v.as_address().map(|a| unsafe { Obj::from_address(a) })
    }

    pub fn address(self) -> usize {
        self.0.as_ptr() as usize
    }

    pub fn value(self) -> Value {
        Value::from_address(self.address())
    }

    pub fn ptr(self) -> *mut usize {
        self.0.as_ptr()
    }

    pub fn word(self, i: usize) -> usize {
        // SAFETY: `i` is within the object by the callers' use of the
        // layout; the object is valid by `Obj`'s invariant.
        unsafe { self.ptr().add(i).read() }
    }

    pub fn set_word(self, i: usize, w: usize) {
        // SAFETY: as in `word`; objects are writable (static ones are only
        // written by code that never gets them: strings are immutable).
        unsafe { self.ptr().add(i).write(w) }
    }

    /// The descriptor, without the collector's bits.
    pub fn descriptor(self) -> &'static Descriptor {
        // SAFETY: headers hold the address of a static descriptor.
        unsafe { &*((self.word(layout::HEADER) & !HEADER_MARK) as *const Descriptor) }
    }

    /// The kind; an unknown one (a corrupted header) reads as a raw cell,
    /// which has no references.
    pub fn kind(self) -> Kind {
        Kind::from_word(self.descriptor().kind).unwrap_or(Kind::RawCell)
    }

    /// Bytes from word `word` on, as a slice of `len` bytes.
    ///
    /// # Safety
    /// The bytes must be part of the object; the slice must not outlive it
    /// nor overlap a write to it.
    pub unsafe fn bytes<'a>(self, word: usize, len: usize) -> &'a [u8] {
        // SAFETY: by the caller's contract.
        unsafe { core::slice::from_raw_parts(self.ptr().add(word).cast::<u8>(), len) }
    }

    /// Mutable bytes from word `word` on.
    ///
    /// # Safety
    /// As for [`Obj::bytes`], and nothing else may access them meanwhile.
    pub unsafe fn bytes_mut<'a>(self, word: usize, len: usize) -> &'a mut [u8] {
        // SAFETY: by the caller's contract.
        unsafe { core::slice::from_raw_parts_mut(self.ptr().add(word).cast::<u8>(), len) }
    }

    /// The 4-byte element `i` of an integer or float array.
    pub fn element32(self, i: usize) -> u32 {
        // SAFETY: the callers check `i` against the length.
        unsafe {
            self.ptr()
                .add(layout::FIXED_DATA)
                .cast::<u32>()
                .add(i)
                .read()
        }
    }

    pub fn set_element32(self, i: usize, v: u32) {
        // SAFETY: as in `element32`.
        unsafe {
            self.ptr()
                .add(layout::FIXED_DATA)
                .cast::<u32>()
                .add(i)
                .write(v)
        }
    }

    /// The byte element `i` of a boolean array or a `Uint8Array`.
    pub fn element8(self, i: usize) -> u8 {
        // SAFETY: the callers check `i` against the length.
        unsafe {
            self.ptr()
                .add(layout::FIXED_DATA)
                .cast::<u8>()
                .add(i)
                .read()
        }
    }

    pub fn set_element8(self, i: usize, v: u8) {
        // SAFETY: as in `element8`.
        unsafe {
            self.ptr()
                .add(layout::FIXED_DATA)
                .cast::<u8>()
                .add(i)
                .write(v)
        }
    }

    /// The class descriptor of an instance.
    pub fn class(self) -> Option<&'static ClassDescriptor> {
        match self.kind() {
            // SAFETY: instance descriptors are class descriptors.
            Kind::Instance => Some(unsafe { &*(self.descriptor() as *const _ as *const _) }),
            _ => None,
        }
    }

    /// The descriptor of a closure.
    pub fn closure(self) -> Option<&'static ClosureDescriptor> {
        match self.kind() {
            // SAFETY: closure descriptors are closure descriptors.
            Kind::Closure => Some(unsafe { &*(self.descriptor() as *const _ as *const _) }),
            _ => None,
        }
    }

    /// The word of the field `member` of an instance of `class`, if
    /// `member` is a field within the instance (a bad offset reads as no
    /// field rather than beyond the object).
    pub fn field(self, class: &ClassDescriptor, member: &Member) -> Option<usize> {
        (member.is_field() && (1..class.size_words).contains(&member.offset))
            .then(|| self.word(member.offset))
    }

    /// The descriptor as an array descriptor (of an array or vector).
    pub fn array_descriptor(self) -> &'static ArrayDescriptor {
        // SAFETY: callers ask array and vector objects only, whose
        // descriptors are array descriptors.
        unsafe { &*(self.descriptor() as *const _ as *const ArrayDescriptor) }
    }
}

/// Words of a string of `byte_len` bytes.
pub fn string_words(byte_len: usize) -> usize {
    layout::STRING_DATA + byte_len.div_ceil(WORD)
}

/// Words of a fixed-length array of `kind` with `len` elements.
pub fn fixed_array_words(kind: Kind, len: usize) -> usize {
    bluescript_abi::object::fixed_array_words(kind, len, WORD)
}

/// The words an object occupies, from its header and size word alone
/// (the collector relies on this: every object's size is fixed when it is
/// allocated, by its descriptor and word 1).
pub fn object_words(obj: Obj) -> usize {
    let kind = obj.kind();
    match kind {
        Kind::String => string_words(obj.word(layout::STRING_BYTES)),
        Kind::Instance => obj.class().map_or(1, |c| c.size_words.max(1)),
        Kind::Array => 3,
        Kind::Vector => layout::VECTOR_DATA + obj.word(layout::VECTOR_CAPACITY),
        Kind::Closure => layout::CLOSURE_CAPTURES + obj.word(layout::CLOSURE_COUNT),
        Kind::Cell | Kind::RawCell => 2,
        _ => fixed_array_words(kind, obj.word(layout::ARRAY_LENGTH)),
    }
}

/// Calls `visit` with every word of `obj` that holds a value (a reference
/// or an `any`), as the collector traces it.
pub fn for_each_value(obj: Obj, mut visit: impl FnMut(Value)) {
    let range = match obj.kind() {
        Kind::FixedArray => layout::FIXED_DATA..layout::FIXED_DATA + obj.word(layout::ARRAY_LENGTH),
        Kind::Array => layout::ARRAY_STORAGE..layout::ARRAY_STORAGE + 1,
        Kind::Vector => layout::VECTOR_DATA..object_words(obj),
        Kind::Closure => layout::CLOSURE_CAPTURES..object_words(obj),
        Kind::Cell => layout::CELL_VALUE..layout::CELL_VALUE + 1,
        Kind::Instance => {
            if let Some(class) = obj.class().filter(|c| !c.ref_map.is_null()) {
                for i in 1..class.size_words {
                    // SAFETY: the map covers `size_words` bits.
                    let bits = unsafe { class.ref_map.add(i / 32).read() };
                    if bits & (1 << (i % 32)) != 0 {
                        visit(Value(obj.word(i)));
                    }
                }
            }
            return;
        }
        _ => return,
    };
    for i in range {
        visit(Value(obj.word(i)));
    }
}

/// The length of a NUL-terminated string.
///
/// # Safety
/// `text` must be null or NUL-terminated.
pub unsafe fn c_text<'a>(text: *const u8) -> &'a str {
    if text.is_null() {
        return "";
    }
    // SAFETY: by the caller's contract.
    let bytes = unsafe { core::ffi::CStr::from_ptr(text.cast()) }.to_bytes();
    core::str::from_utf8(bytes).unwrap_or("?")
}

/// Whether two descriptors describe the same type: classes by identity,
/// function types by signature text, array types by kind and element type
/// (so an array type described twice, e.g. by a patch, is still the same
/// type).
pub fn same_type(a: &Descriptor, b: &Descriptor) -> bool {
    if core::ptr::eq(a, b) {
        return true;
    }
    if a.kind != b.kind {
        return false;
    }
    match Kind::from_word(a.kind) {
        Some(Kind::Instance) | None => false,
        Some(Kind::Closure) => {
            // SAFETY: closure descriptors are closure descriptors.
            let (a, b) = unsafe {
                (
                    &*(a as *const _ as *const ClosureDescriptor),
                    &*(b as *const _ as *const ClosureDescriptor),
                )
            };
            // SAFETY: signatures are NUL-terminated.
            unsafe { c_text(a.signature) == c_text(b.signature) }
        }
        Some(Kind::Array) => {
            // SAFETY: array descriptors are array descriptors.
            let (a, b) = unsafe {
                (
                    &*(a as *const _ as *const ArrayDescriptor),
                    &*(b as *const _ as *const ArrayDescriptor),
                )
            };
            // SAFETY: element descriptors are static descriptors.
            match unsafe { (a.element.as_ref(), b.element.as_ref()) } {
                (None, None) => true,
                (Some(x), Some(y)) => same_type(x, y),
                _ => false,
            }
        }
        Some(_) => true,
    }
}

/// Whether `obj` is of the type `desc` describes: an instance of that
/// class or of a subclass, or an array, string or function of that type.
pub fn is_instance(obj: Obj, desc: &Descriptor) -> bool {
    if desc.kind == Kind::Instance as usize {
        let mut class: *const ClassDescriptor = obj.class().map_or(core::ptr::null(), |c| c);
        while !class.is_null() {
            if core::ptr::eq(class.cast::<Descriptor>(), desc) {
                return true;
            }
            // SAFETY: superclass links point to class descriptors.
            class = unsafe { (*class).superclass };
        }
        return false;
    }
    same_type(obj.descriptor(), desc)
}

/// A type's name as a script writes it, for messages: `string`,
/// `integer[]`, `Point`, `(integer)=>void`, `any[][]`, ….
pub struct TypeName<'a>(pub &'a Descriptor);

impl fmt::Display for TypeName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let desc = self.0;
        let Some(kind) = Kind::from_word(desc.kind) else {
            return f.write_str("unknown");
        };
        match kind {
            Kind::String => f.write_str("string"),
            Kind::Instance => {
                // SAFETY: instance descriptors are class descriptors, whose
                // names are NUL-terminated.
                let class = unsafe { &*(desc as *const _ as *const ClassDescriptor) };
                f.write_str(unsafe { c_text(class.name) })
            }
            Kind::Closure => {
                // SAFETY: as above, for closures.
                let closure = unsafe { &*(desc as *const _ as *const ClosureDescriptor) };
                f.write_str(unsafe { c_text(closure.signature) })
            }
            Kind::IntArray => f.write_str("integer[]"),
            Kind::Int32Array => f.write_str("int32[]"),
            Kind::FloatArray => f.write_str("float[]"),
            Kind::BoolArray => f.write_str("boolean[]"),
            Kind::Uint8Array => f.write_str("Uint8Array"),
            Kind::FixedArray => f.write_str("FixedArray"),
            Kind::Array => {
                // SAFETY: array descriptors are array descriptors.
                let array = unsafe { &*(desc as *const _ as *const ArrayDescriptor) };
                // SAFETY: element descriptors are static descriptors.
                match unsafe { array.element.as_ref() } {
                    Some(element) => write!(f, "{}[]", TypeName(element)),
                    None => f.write_str("any[]"),
                }
            }
            Kind::Vector => f.write_str("vector"),
            Kind::Cell | Kind::RawCell => f.write_str("cell"),
        }
    }
}

/// The run-time type of a value, for messages.
pub struct ValueType(pub Value);

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.is_int() {
            f.write_str("integer")
        } else if v.is_float() {
            f.write_str("float")
        } else if v.is_bool() {
            f.write_str("boolean")
        } else if v.is_undefined() {
            f.write_str("undefined")
        } else {
            // SAFETY: reference values point to valid objects.
            let obj = unsafe { Obj::from_address(v.0) };
            TypeName(obj.descriptor()).fmt(f)
        }
    }
}
