//! Arrays that never escape the function that makes them live in its
//! stack frame instead of the heap.
//!
//! A local `const a = new Array<integer>(8, 0)` (of integers, floats or
//! booleans, or a `Uint8Array`, of a literal length of a few words) that
//! the function only indexes and asks the length of is never seen by
//! anything else: not passed, stored, returned, captured, converted to
//! `any`, or reassigned. Its object then is a block of the frame with the
//! same layout as in the heap, so every access is generated as before;
//! the collector ignores its address (it is outside the heap) and it
//! holds no references to trace.

use super::calls::{for_each_expr, for_each_statement};
use super::*;
use std::collections::{BTreeMap, BTreeSet};

/// The largest array kept in a frame, in words (header and length
/// included): a stack array costs stack space in every active call of its
/// function, and the smallest boards have a few KiB of script stack.
pub(super) const STACK_ARRAY_MAX_WORDS: usize = 34;

/// What a local that may live in the frame holds: its array type, length
/// and the initial element (`None`: zeroes).
#[derive(Clone, Copy)]
pub(super) struct StackArray<'a> {
    pub ty: Ty,
    pub length: usize,
    pub init: Option<&'a Expr>,
}

impl StackArray<'_> {
    /// Words of the object: header, length and the elements, as the
    /// runtime would allocate it.
    pub(super) fn words(&self) -> usize {
        let kind = fixed_kind(self.ty).expect("a candidate's type");
        object::fixed_array_words(kind, self.length, bluescript_abi::WORD_BYTES as usize)
    }
}

/// The object kind of an array of numbers or booleans, or a `Uint8Array`.
fn fixed_kind(ty: Ty) -> Option<Kind> {
    match ty {
        Ty::Array(element) => match *element {
            Ty::Integer => Some(Kind::IntArray),
            Ty::Int32 => Some(Kind::Int32Array),
            Ty::Float => Some(Kind::FloatArray),
            Ty::Boolean => Some(Kind::BoolArray),
            _ => None,
        },
        Ty::Uint8Array => Some(Kind::Uint8Array),
        _ => None,
    }
}

/// The `let` of a stack-array candidate: a fixed array of numbers or
/// booleans of a literal length.
pub(super) fn candidate(ty: Ty, init: Option<&Expr>, boxed: bool) -> Option<StackArray<'_>> {
    if boxed || fixed_kind(ty).is_none() {
        return None;
    }
    let ExprKind::NewArray {
        length,
        init: first,
        ..
    } = &init?.kind
    else {
        return None;
    };
    let ExprKind::Int(length) = length.kind else {
        return None;
    };
    let array = StackArray {
        ty,
        length: usize::try_from(length).ok()?,
        init: first.as_deref(),
    };
    (array.words() <= STACK_ARRAY_MAX_WORDS).then_some(array)
}

/// The locals of `body` that live in the frame: candidates whose every
/// use, under that name anywhere in the function, is an element access
/// or `.length`.
pub(super) fn stack_arrays(body: &[Stmt]) -> BTreeSet<String> {
    let mut candidates: BTreeMap<&str, usize> = BTreeMap::new();
    for_each_statement(body, &mut |statement| {
        if let StmtKind::Let {
            name,
            ty,
            init,
            boxed,
        } = &statement.kind
        {
            if candidate(*ty, init.as_ref(), *boxed).is_some() {
                *candidates.entry(name).or_default() += 1;
            }
        }
    });
    if candidates.is_empty() {
        return BTreeSet::new();
    }
    // Every `let` of the name must be a candidate: another one (in
    // another block) would share the name's uses.
    let mut lets: BTreeMap<&str, usize> = BTreeMap::new();
    for_each_statement(body, &mut |statement| {
        if let StmtKind::Let { name, .. } = &statement.kind {
            *lets.entry(name).or_default() += 1;
        }
    });
    candidates.retain(|name, count| lets.get(name) == Some(count));
    let mut reads: BTreeMap<&str, usize> = BTreeMap::new();
    let mut allowed: BTreeMap<&str, usize> = BTreeMap::new();
    let mut escaping: BTreeSet<&str> = BTreeSet::new();
    for_each_expr(body, &mut |e| match &e.kind {
        ExprKind::Read(Place::Local(name)) => *reads.entry(name).or_default() += 1,
        ExprKind::Assign(Place::Local(name), _)
        | ExprKind::Update {
            place: Place::Local(name),
            ..
        } => {
            escaping.insert(name);
        }
        ExprKind::Code(pieces) => {
            for piece in pieces {
                if let CodePiece::Place(Place::Local(name), _) = piece {
                    escaping.insert(name);
                }
            }
        }
        _ => {
            if let Some(name) = indexed_or_measured(e) {
                *allowed.entry(name).or_default() += 1;
            }
        }
    });
    candidates
        .into_keys()
        .filter(|name| !escaping.contains(name) && reads.get(name) == allowed.get(name))
        .map(str::to_string)
        .collect()
}

/// The local that `e` indexes (reads, writes or updates an element of)
/// or takes the length of, if `e` does so with the local itself.
fn indexed_or_measured(e: &Expr) -> Option<&str> {
    let array = match &e.kind {
        ExprKind::Read(Place::Element { array, .. })
        | ExprKind::Assign(Place::Element { array, .. }, _)
        | ExprKind::Update {
            place: Place::Element { array, .. },
            ..
        } => array,
        ExprKind::ArrayLength(array) => array,
        _ => return None,
    };
    match &array.kind {
        ExprKind::Read(Place::Local(name)) => Some(name),
        _ => None,
    }
}

impl Generator<'_> {
    /// `let name = new Array…` of a local whose array lives in the frame:
    /// a `StackObject` laid out as the heap object would be.
    pub(super) fn stack_array(&mut self, name: &str, array: StackArray<'_>, depth: usize) {
        let variable = local(name);
        let object = format!("{variable}_frame_");
        let (words, length) = (array.words(), array.length);
        let descriptor = self.descriptor(array.ty);
        let mut text = format!(
            "let mut {object} = StackObject([0u32; {words}]); \
             {object}.0[0] = {descriptor} as u32; {object}.0[1] = {length}; \
             let mut {variable}: u32 = {object}.0.as_mut_ptr() as u32;"
        );
        if let Some(init) = array.init.filter(|e| !is_zero(e)) {
            // Evaluated once, before the array exists, as for the heap.
            let (stored, value) = match array.ty {
                Ty::Uint8Array => ("u8", format!("({}) as u8", self.expr(init))),
                _ => (init.ty.rust(), self.expr(init)),
            };
            text.insert_str(0, &format!("let {variable}_init_: {stored} = {value}; "));
            text.push_str(&format!(
                " for i in 0..{length}_i32 {{ *fixed_element_unchecked::<{stored}>({variable}, i) = {variable}_init_; }}"
            ));
        }
        self.line(depth, &text);
    }
}

/// Whether a literal's bits are all zero, as a new object's are.
fn is_zero(e: &Expr) -> bool {
    match e.kind {
        ExprKind::Int(i) => i == 0,
        ExprKind::Float(f) => f.to_bits() == 0,
        ExprKind::Bool(b) => !b,
        _ => false,
    }
}
