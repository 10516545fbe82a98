//! Loop versioning: array accesses of a counted loop whose indexes a check
//! before the loop proves in range, so that a copy of the loop runs them
//! without a bounds check each.
//!
//! An innermost loop `for (…; i < B; i++)` (or `<=`, or `i += s` with an
//! invariant step) whose body, condition and step call nothing (no script
//! function, method, closure, runtime routine, timer or native code), so no
//! array's length nor any variable or field the loop does not assign can
//! change, is generated twice: `if PRECONDITION { fast } else { original }`.
//! The precondition, evaluated once at the loop's entry from pure
//! expressions, says that every access it covers is in range in every
//! iteration; the fast copy leaves those accesses unchecked. Otherwise the
//! original loop runs, checks every access and fails at the same access,
//! in the same iteration, after the same effects. Covered indexes:
//! - `i`, `i + c`, `i - c`, and a `const m = i + c` declared in the body,
//!   for a loop-invariant `c`: `START + c >= 0` and `LAST + c < length`;
//! - `e & M` with a loop-invariant `M`: `0 <= M < length`;
//! - a variable that the loop assigns only `e & M`: its value at the entry
//!   and `M` are below the length.

use super::*;
use std::collections::{HashMap, HashSet};

/// Loops larger than this (statements and expressions) are not copied.
const VERSIONED_LOOP_MAX_SIZE: usize = 150;

/// A write of a local variable inside the loop.
pub(super) enum Store<'a> {
    /// `let name = …` (a new variable each iteration).
    Let,
    Assign(&'a Expr),
    Update,
}

/// What the loop's body, condition and step may change.
#[derive(Default)]
struct Effects<'a> {
    locals: HashMap<&'a str, Vec<Store<'a>>>,
    globals: HashSet<&'a str>,
    fields: HashSet<u32>,
    /// Something that may run other code or change an array's length.
    opaque: bool,
}

impl<'a> Effects<'a> {
    fn note_expr(&mut self, e: &'a Expr) {
        match &e.kind {
            ExprKind::Assign(place, value) => self.note_store(place, Store::Assign(value)),
            ExprKind::Update { place, .. } => self.note_store(place, Store::Update),
            ExprKind::Read(Place::DynamicElement { .. } | Place::DynamicProperty { .. })
            | ExprKind::CallScript { .. }
            | ExprKind::CallExport { .. }
            | ExprKind::CallMethod { .. }
            | ExprKind::CallClosure { .. }
            | ExprKind::DynamicCall { .. }
            | ExprKind::TimeDelay(_)
            | ExprKind::StartTimer { .. }
            | ExprKind::StartClosureTimer { .. }
            | ExprKind::ClearTimer(_)
            | ExprKind::New { .. }
            | ExprKind::Code(_)
            | ExprKind::Runtime { .. } => self.opaque = true,
            _ => {}
        }
    }

    fn note_store(&mut self, place: &'a Place, store: Store<'a>) {
        match place {
            Place::Local(name) => self.locals.entry(name).or_default().push(store),
            Place::Global(name) | Place::Static(name) => {
                self.globals.insert(name);
            }
            Place::Field { offset, .. } => {
                self.fields.insert(*offset);
            }
            Place::Element { .. } | Place::Cell(_) | Place::Captured(_) => {}
            Place::DynamicElement { .. } | Place::DynamicProperty { .. } => self.opaque = true,
        }
    }

    /// Whether `e` is pure, cannot fail, and has the same value in every
    /// iteration as at the loop's entry.
    fn invariant(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Int(_) => true,
            ExprKind::Read(Place::Local(name)) => !self.locals.contains_key(name.as_str()),
            ExprKind::Read(Place::Global(name)) => !self.globals.contains(name.as_str()),
            ExprKind::Read(Place::Field { object, offset }) => {
                matches!(object.ty, Ty::Class(_))
                    && !self.fields.contains(offset)
                    && self.invariant(object)
            }
            ExprKind::ArrayLength(array) => is_array(array.ty) && self.invariant(array),
            ExprKind::Binary {
                op,
                operand_ty,
                lhs,
                rhs,
                ..
            } => {
                operand_ty.is_integral()
                    && matches!(
                        op,
                        BinOp::Add
                            | BinOp::Sub
                            | BinOp::Mul
                            | BinOp::Shl
                            | BinOp::Shr
                            | BinOp::UShr
                            | BinOp::BitAnd
                            | BinOp::BitOr
                            | BinOp::BitXor
                    )
                    && self.invariant(lhs)
                    && self.invariant(rhs)
            }
            ExprKind::Unary(UnOp::Neg | UnOp::BitNot, operand) => {
                operand.ty.is_integral() && self.invariant(operand)
            }
            _ => false,
        }
    }

    /// The mask of `e & M` (either side) with a loop-invariant `M`.
    fn mask(&self, e: &'a Expr) -> Option<&'a Expr> {
        match &e.kind {
            ExprKind::Binary {
                op: BinOp::BitAnd,
                operand_ty,
                lhs,
                rhs,
                ..
            } if operand_ty.is_integral() => [rhs, lhs]
                .into_iter()
                .find(|side| self.invariant(side))
                .map(|side| &**side),
            _ => None,
        }
    }

    /// The masks of a variable declared before the loop that the loop
    /// assigns only `e & M` (so it stays in `0..=M` once assigned).
    fn masked_variable(&self, name: &str) -> Option<Vec<&'a Expr>> {
        self.locals
            .get(name)?
            .iter()
            .map(|store| match store {
                Store::Assign(value) => self.mask(value),
                Store::Let | Store::Update => None,
            })
            .collect()
    }
}

fn is_array(ty: Ty) -> bool {
    matches!(ty, Ty::Array(_) | Ty::Uint8Array | Ty::FixedArray)
}

/// `i + c` (`negated`: `i - c`) of the loop's counter; `c` None is 0.
struct Offset<'a> {
    offset: Option<&'a Expr>,
    negated: bool,
}

/// What must hold at the loop's entry for one access to be in range.
enum Need<'a> {
    Offset(Offset<'a>),
    Mask(&'a Expr),
    Masked(&'a str, Vec<&'a Expr>),
}

/// The counted loop's shape: `for (…; i < bound; i += step)`.
struct Counter<'a> {
    name: &'a str,
    bound: &'a Expr,
    inclusive: bool,
    step: Option<&'a Expr>,
}

/// The versioning of a loop: the precondition and the accesses (by their
/// index expression) that the fast copy leaves unchecked.
pub(super) struct Versioning {
    pub(super) precondition: String,
    pub(super) unchecked: Vec<*const Expr>,
}

fn counter<'a>(effects: &Effects<'a>, cond: &'a Expr, step: &'a Expr) -> Option<Counter<'a>> {
    let ExprKind::Binary {
        op: op @ (BinOp::Lt | BinOp::Le),
        operand_ty: Ty::Integer | Ty::Int32,
        lhs,
        rhs: bound,
        ..
    } = &cond.kind
    else {
        return None;
    };
    let ExprKind::Read(Place::Local(name)) = &lhs.kind else {
        return None;
    };
    if !effects.invariant(bound) {
        return None;
    }
    let step = match &step.kind {
        ExprKind::Update {
            place: Place::Local(stepped),
            increment: true,
            ..
        } if stepped == name => None,
        ExprKind::Assign(Place::Local(stepped), value) if stepped == name => {
            let ExprKind::Binary {
                op: BinOp::Add,
                operand_ty: Ty::Integer | Ty::Int32,
                lhs,
                rhs,
                ..
            } = &value.kind
            else {
                return None;
            };
            let reads_counter = match &lhs.kind {
                ExprKind::Current => true,
                ExprKind::Read(Place::Local(read)) => read == name,
                _ => false,
            };
            if !reads_counter || !effects.invariant(rhs) {
                return None;
            }
            Some(&**rhs)
        }
        _ => return None,
    };
    // The step is the counter's only write in the loop.
    if effects.locals.get(name.as_str()).map_or(0, Vec::len) != 1 {
        return None;
    }
    Some(Counter {
        name,
        bound,
        inclusive: *op == BinOp::Le,
        step,
    })
}

/// `i`, `i + c`, `c + i`, `i - c` of the counter with an invariant `c`.
fn offset<'a>(effects: &Effects<'a>, counter: &str, e: &'a Expr) -> Option<Offset<'a>> {
    let is_counter = |e: &Expr| matches!(&e.kind, ExprKind::Read(Place::Local(n)) if n == counter);
    if is_counter(e) {
        return Some(Offset {
            offset: None,
            negated: false,
        });
    }
    let ExprKind::Binary {
        op: op @ (BinOp::Add | BinOp::Sub),
        operand_ty: Ty::Integer | Ty::Int32,
        lhs,
        rhs,
        ..
    } = &e.kind
    else {
        return None;
    };
    let (offset, negated) = if is_counter(lhs) {
        (&**rhs, *op == BinOp::Sub)
    } else if *op == BinOp::Add && is_counter(rhs) {
        (&**lhs, false)
    } else {
        return None;
    };
    effects.invariant(offset).then_some(Offset {
        offset: Some(offset),
        negated,
    })
}

/// Collects the loop's element accesses and what each needs.
struct Accesses<'a, 'e> {
    effects: &'e Effects<'a>,
    counter: &'e Counter<'a>,
    /// `const m = i + c` declared earlier in the body, by name.
    aliases: HashMap<&'a str, Offset<'a>>,
    found: Vec<(&'a Expr, &'a Expr, Need<'a>)>,
}

impl<'a> Accesses<'a, '_> {
    /// The statements of the loop's body, in order.
    fn body(&mut self, body: &'a [Stmt]) {
        for statement in body {
            self.statement(statement);
            // A `let` of the body's top level declared once in the loop is
            // an alias of its offset of the counter in the statements after.
            if let StmtKind::Let {
                name,
                init: Some(init),
                boxed: false,
                ..
            } = &statement.kind
            {
                let declared_once = self.effects.locals.get(name.as_str()).map_or(0, Vec::len) == 1;
                if let (true, Some(offset)) =
                    (declared_once, offset(self.effects, self.counter.name, init))
                {
                    self.aliases.insert(name, offset);
                }
            }
        }
    }

    fn statement(&mut self, statement: &'a Stmt) {
        calls::for_each_expr(std::slice::from_ref(statement), &mut |e| self.expr(e));
    }

    fn expr(&mut self, e: &'a Expr) {
        let place = match &e.kind {
            ExprKind::Read(place) | ExprKind::Assign(place, _) => Some(place),
            ExprKind::Update { place, .. } => Some(place),
            _ => None,
        };
        if let Some(Place::Element { array, index, .. }) = place {
            if is_array(array.ty) && self.effects.invariant(array) {
                if let Some(need) = self.need(index) {
                    self.found.push((array, index, need));
                }
            }
        }
    }

    fn need(&self, index: &'a Expr) -> Option<Need<'a>> {
        if !index.ty.is_integral() {
            return None;
        }
        if let Some(offset) = offset(self.effects, self.counter.name, index) {
            return Some(Need::Offset(offset));
        }
        if let Some(mask) = self.effects.mask(index) {
            return Some(Need::Mask(mask));
        }
        let ExprKind::Read(Place::Local(name)) = &index.kind else {
            return None;
        };
        if let Some(alias) = self.aliases.get(name.as_str()) {
            return Some(Need::Offset(Offset {
                offset: alias.offset,
                negated: alias.negated,
            }));
        }
        let masks = self.effects.masked_variable(name)?;
        Some(Need::Masked(name, masks))
    }
}

impl Generator<'_> {
    /// The versioning of loop `for (…; cond; step) body`, if it is a
    /// counted loop with accesses that a check at its entry can prove.
    pub(super) fn versioning(&self, cond: &Expr, body: &[Stmt], step: &Expr) -> Option<Versioning> {
        // Only innermost loops: where the time goes, and copies of copies
        // would multiply the code (measured: versioning outer loops too
        // cost more instructions in fft and sieve than it saved).
        if calls::size(body) > VERSIONED_LOOP_MAX_SIZE || body.iter().any(contains_loop) {
            return None;
        }
        let mut effects = Effects::default();
        let mut record_expr = |e| effects.note_expr(e);
        calls::for_each_nested_expr(cond, &mut record_expr);
        calls::for_each_nested_expr(step, &mut record_expr);
        calls::for_each_expr(body, &mut record_expr);
        // A `let` in the body makes a new variable each iteration.
        calls::for_each_statement(body, &mut |statement| {
            if let StmtKind::Let { name, .. } = &statement.kind {
                effects.locals.entry(name).or_default().push(Store::Let);
            }
        });
        if effects.opaque {
            return None;
        }
        let counter = counter(&effects, cond, step)?;
        let mut accesses = Accesses {
            effects: &effects,
            counter: &counter,
            aliases: HashMap::new(),
            found: Vec::new(),
        };
        accesses.body(body);
        if accesses.found.is_empty() {
            return None;
        }
        let i = local(counter.name);
        let bound = format!("({})", self.expr(counter.bound));
        // `last < length` (the counter's last value in the body), in i32:
        // `bound <= length` for `<`, `bound < length` for `<=`.
        let below = if counter.inclusive { "<" } else { "<=" };
        let mut clauses: Vec<String> = Vec::new();
        // The counter never wraps: `last + step <= i32::MAX`.
        match (counter.step, counter.inclusive) {
            (None, false) => {}
            (None, true) => clauses.push(format!("{bound} < i32::MAX")),
            (Some(step), inclusive) => {
                let step = format!("({})", self.expr(step));
                let room = if inclusive { "" } else { ".wrapping_add(1)" };
                clauses.push(format!("{step} >= 1"));
                clauses.push(format!("{bound} <= i32::MAX.wrapping_sub({step}){room}"));
            }
        }
        for (array, _, need) in &accesses.found {
            let length = format!("(*word::<i32>({}, ARRAY_LENGTH))", self.expr(array));
            match need {
                Need::Offset(Offset {
                    offset: None,
                    negated: _,
                }) => {
                    clauses.push(format!("{i} >= 0"));
                    clauses.push(format!("{bound} {below} {length}"));
                }
                // In i64, where adding the offset cannot wrap.
                Need::Offset(Offset {
                    offset: Some(offset),
                    negated,
                }) => {
                    let sign = if *negated { '-' } else { '+' };
                    let offset = format!("{sign} (({}) as i64)", self.expr(offset));
                    clauses.push(format!("({i} as i64) {offset} >= 0"));
                    clauses.push(format!(
                        "({bound} as i64) {offset} {below} ({length} as i64)"
                    ));
                }
                Need::Mask(mask) => {
                    let mask = format!("({})", self.expr(mask));
                    clauses.push(format!("{mask} >= 0"));
                    clauses.push(format!("{mask} < {length}"));
                }
                Need::Masked(name, masks) => {
                    clauses.push(format!("({} as u32) < ({length} as u32)", local(name)));
                    for mask in masks {
                        let mask = format!("({})", self.expr(mask));
                        clauses.push(format!("{mask} >= 0"));
                        clauses.push(format!("{mask} < {length}"));
                    }
                }
            }
        }
        let mut seen = HashSet::new();
        clauses.retain(|clause| seen.insert(clause.clone()));
        let precondition = if clauses.is_empty() {
            "true".to_string()
        } else {
            clauses
                .iter()
                .map(|clause| format!("({clause})"))
                .collect::<Vec<_>>()
                .join(" && ")
        };
        Some(Versioning {
            precondition,
            unchecked: accesses
                .found
                .iter()
                .map(|(_, index, _)| *index as *const Expr)
                .collect(),
        })
    }
}

fn contains_loop(statement: &Stmt) -> bool {
    match &statement.kind {
        StmtKind::Loop { .. } => true,
        StmtKind::If {
            then, otherwise, ..
        } => then.iter().chain(otherwise).any(contains_loop),
        StmtKind::Block(body) => body.iter().any(contains_loop),
        _ => false,
    }
}
