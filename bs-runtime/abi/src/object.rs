//! Objects and their descriptors (docs/values-and-heap.md, "Objects" and
//! "Descriptors"): what the runtime reads from the descriptors that the
//! compiler emits, and the word layouts that generated code accesses
//! inline.
//!
//! Word-sized numbers are `usize`, as the runtime reads them.

numbered! {
    /// What an object is: the first word of every descriptor.
    pub enum Kind: usize {
        String = 1,
        Instance = 2,
        /// `integer[]`.
        IntArray = 3,
        Int32Array = 4,
        FloatArray = 5,
        BoolArray = 6,
        Uint8Array = 7,
        /// A fixed-length array of values.
        FixedArray = 8,
        /// A growable array of values (strings, objects, arrays, `any`).
        Array = 9,
        /// The storage of an [`Kind::Array`].
        Vector = 10,
        Closure = 11,
        /// A captured variable holding a value (a reference or an `any`).
        Cell = 12,
        /// A captured variable holding an integer, float or boolean.
        RawCell = 13,
    }
}

impl Kind {
    /// Bytes per element of a fixed-length array of this kind: a value
    /// (`FixedArray`) is a word of `word_bytes` bytes.
    #[inline]
    pub const fn element_bytes(self, word_bytes: usize) -> usize {
        match self {
            Kind::IntArray | Kind::Int32Array | Kind::FloatArray => 4,
            Kind::BoolArray | Kind::Uint8Array => 1,
            _ => word_bytes,
        }
    }

    /// Whether a script sees this as an array (`instanceof Array`).
    #[inline]
    pub const fn is_array(self) -> bool {
        matches!(
            self,
            Kind::IntArray
                | Kind::Int32Array
                | Kind::FloatArray
                | Kind::BoolArray
                | Kind::Uint8Array
                | Kind::FixedArray
                | Kind::Array
        )
    }
}

/// Words of a class descriptor before its table of virtual-method slots
/// (`kind`, `size_words`, `ref_map`, `superclass`, `name`, `members`,
/// `member_count`): a call that a subclass may override loads the slot
/// from the receiver's descriptor at `CLASS_DESCRIPTOR_WORDS + index`.
pub const CLASS_DESCRIPTOR_WORDS: usize = 7;

/// The word of a closure descriptor (`kind`, `signature`, `any_entry`)
/// holding its `any` entry: generated code calls a closure held in an
/// `any` through it, after checking the descriptor's kind.
pub const CLOSURE_DESCRIPTOR_ANY_ENTRY: usize = 2;

/// `kind` of a member-table entry: a field holding the bits of an `i32`
/// (`integer`, `int32`, enums).
pub const MEMBER_INT: usize = 1;
/// A field holding the bits of an `f32`.
pub const MEMBER_FLOAT: usize = 2;
/// A field holding 0 or 1.
pub const MEMBER_BOOL: usize = 3;
/// A field of static type `any`.
pub const MEMBER_ANY: usize = 4;
/// A field holding a reference of the type the entry's `target` describes.
pub const MEMBER_REF: usize = 5;
/// As [`MEMBER_REF`], or 0 (`null`).
pub const MEMBER_NULLABLE: usize = 6;
/// A method; the entry's `target` is its adapter.
pub const MEMBER_METHOD: usize = 7;

/// A property site's inline cache in generated code is `CACHE_ENTRIES`
/// entries. An entry of a read or a method call is
/// `LOOKUP_ENTRY_WORDS` words: the descriptor of an instance the site
/// found the member on, and what it found. For a field: its word index
/// shifted left by `CACHE_KIND_BITS`, or'd with its `MEMBER_*` kind; for
/// a method: its adapter's address (the member table's `target`). An
/// entry of a store is `STORE_ENTRY_WORDS` words: the same two, and the
/// field's `target` (the descriptor a reference field's values have).
///
/// Two entries: a place that sees two classes in turn (a class and a
/// subclass, a list's nodes and its sentinel) hits for both, for a few
/// percent more code (docs/values-and-heap.md, "Inline caches").
pub const CACHE_ENTRIES: usize = 2;
pub const LOOKUP_ENTRY_WORDS: usize = 2;
pub const STORE_ENTRY_WORDS: usize = 3;
/// How far a field's word index is shifted above its kind in an entry.
pub const CACHE_KIND_BITS: usize = 3;
/// The descriptor word of an empty cache entry: no object's header is 0
/// (so a cache is zeroed data, which costs an image no flash and is
/// zero in a patch's bytes).
pub const CACHE_EMPTY: usize = 0;
const _: () = assert!(MEMBER_METHOD < 1 << CACHE_KIND_BITS);
// Generated code reads the fields of kinds from `MEMBER_ANY` up as they
// are (no other kind of member is a field).
const _: () = assert!(
    MEMBER_INT < MEMBER_ANY
        && MEMBER_FLOAT < MEMBER_ANY
        && MEMBER_BOOL < MEMBER_ANY
        && MEMBER_ANY < MEMBER_REF
        && MEMBER_REF < MEMBER_NULLABLE
        && MEMBER_NULLABLE < MEMBER_METHOD
);

/// Word indices of the object layouts (word 0 is the header: the
/// descriptor's address).
/// Words of `word_bytes` bytes of a fixed-length array of `kind` with
/// `len` elements, its header and length included: the runtime allocates
/// this many, and generated code lays out arrays in a frame so.
pub const fn fixed_array_words(kind: Kind, len: usize, word_bytes: usize) -> usize {
    layout::FIXED_DATA + (len * kind.element_bytes(word_bytes)).div_ceil(word_bytes)
}

pub mod layout {
    pub const HEADER: usize = 0;
    pub const STRING_BYTES: usize = 1;
    pub const STRING_UNITS: usize = 2;
    pub const STRING_DATA: usize = 3;
    /// Every array kind.
    pub const ARRAY_LENGTH: usize = 1;
    /// Fixed-length arrays: where the elements start.
    pub const FIXED_DATA: usize = 2;
    /// Growable arrays: the vector holding the elements (or 0).
    pub const ARRAY_STORAGE: usize = 2;
    pub const VECTOR_CAPACITY: usize = 1;
    pub const VECTOR_DATA: usize = 2;
    pub const CLOSURE_COUNT: usize = 1;
    /// The slot (index into `__bs_slots`) of the closure's function.
    pub const CLOSURE_SLOT: usize = 2;
    pub const CLOSURE_CAPTURES: usize = 3;
    pub const CELL_VALUE: usize = 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_word() {
        for &kind in Kind::ALL {
            assert_eq!(Kind::from_word(kind as usize), Some(kind));
        }
        assert_eq!(Kind::from_word(0), None);
        assert_eq!(Kind::from_word(14), None);
        assert!(Kind::Array.is_array() && !Kind::Vector.is_array());
    }
}
