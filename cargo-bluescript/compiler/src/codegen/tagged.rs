//! Loop versioning for `any` variables that hold integers: a copy of the
//! loop in which they are known to be tagged integers, so that their
//! arithmetic, comparisons and tests need no tag check and no runtime
//! fallback, and their values no root slot.
//!
//! A loop is generated as `if GUARD { fast } else { original }` when a set
//! of its `any` local variables stays integers once all of them are: every
//! store of one of them in the loop (condition, body, step) is `++`/`--`,
//! or an assignment of an integer expression: a number converted to
//! `any`, a read of one of the set, or `+ - * / %` of two integer
//! expressions (integer arithmetic on `any` stays integer, LANGUAGE.md
//! §1). The guard checks, once at the loop's entry, that every variable of
//! the set holds an integer; then they hold integers in every iteration.
//! A division or remainder by zero still goes to the runtime, which
//! reports it at the same place. The original loop runs otherwise.
//!
//! Other code cannot change a local variable behind the loop's back: a
//! captured variable lives in a cell (`Place::Cell`), which is not a
//! `Place::Local`. A variable declared in the loop is left out (it may
//! shadow one of the same name outside).
//!
//! Their root slots are not written in the fast copy: a slot only has to
//! hold alive what the variable may reference, and an integer references
//! nothing; the slot keeps the value it had at the entry (an integer) or
//! something it already held alive, until the next store after the loop.

use super::bounds::Store;
use super::*;
use std::collections::{BTreeSet, HashMap};

/// Loops larger than this (statements and expressions) are not copied.
const VERSIONED_LOOP_MAX_SIZE: usize = 200;
/// Functions larger than this are not copied.
const VERSIONED_FUNCTION_MAX_SIZE: usize = 150;

/// The stores of the loop's `any` locals, and the names it declares.
#[derive(Default)]
struct Stores<'a> {
    stores: HashMap<&'a str, Vec<Store<'a>>>,
    /// `any` locals stored in the loop, or read as operands.
    used: BTreeSet<&'a str>,
}

impl<'a> Stores<'a> {
    /// Notes `e`; a read counts as a use where it is an operand of an
    /// `any` operation, converted to an integer, or the stored value.
    fn note_expr(&mut self, e: &'a Expr) {
        let mut operand = |value: &'a Expr| {
            if let ExprKind::Read(Place::Local(name)) = &value.kind {
                if value.ty == Ty::Any {
                    self.used.insert(name);
                }
            }
        };
        match &e.kind {
            ExprKind::Runtime {
                symbol: "bs_any_arith" | "bs_any_compare" | "bs_any_equals",
                args,
                ..
            } => args.iter().for_each(operand),
            ExprKind::Truthy(value) => operand(value),
            // An index, or any integer taken from an `any`: unboxed
            // without a check where it is known to be one.
            ExprKind::FromAny(value, _) if e.ty.is_integral() => operand(value),
            ExprKind::Assign(Place::Local(name), value) if e.ty == Ty::Any => {
                operand(value);
                self.used.insert(name);
                self.stores
                    .entry(name)
                    .or_default()
                    .push(Store::Assign(value));
            }
            ExprKind::Update {
                place: Place::Local(name),
                ..
            } if e.ty == Ty::Any => {
                self.used.insert(name);
                self.stores.entry(name).or_default().push(Store::Update);
            }
            _ => {}
        }
    }
}

/// Whether `e`, an `any`, holds an integer when the variables of `ints`
/// do (`current`: the variable that `ExprKind::Current` reads).
pub(super) fn is_integer(e: &Expr, ints: &dyn Fn(&str) -> bool, current: Option<&str>) -> bool {
    match &e.kind {
        ExprKind::ToAny(value) => matches!(value.ty, Ty::Integer | Ty::Int32 | Ty::Enum(_)),
        ExprKind::Read(Place::Local(name)) => ints(name),
        ExprKind::Current => current.is_some_and(ints),
        ExprKind::Assign(Place::Local(name), _)
        | ExprKind::Update {
            place: Place::Local(name),
            ..
        } => ints(name),
        ExprKind::Runtime {
            symbol: "bs_any_arith",
            args,
            ..
        } => match &args[..] {
            [op, lhs, rhs] => {
                integer_op(op).is_some()
                    && is_integer(lhs, ints, current)
                    && is_integer(rhs, ints, current)
            }
            _ => false,
        },
        _ => false,
    }
}

/// The operator of `bs_any_arith` whose result on two integers is an
/// integer (`**` is not: a negative exponent).
fn integer_op(op: &Expr) -> Option<ArithOp> {
    let ExprKind::Int(code) = op.kind else {
        return None;
    };
    [
        ArithOp::Add,
        ArithOp::Sub,
        ArithOp::Mul,
        ArithOp::Div,
        ArithOp::Rem,
    ]
    .into_iter()
    .find(|op| *op as i32 == code)
}

/// `any` operations on operands known to be integers (Rust text), or
/// None where the operation is not one of them.
pub(super) fn integer_operation(symbol: &str, args: &[String]) -> Option<String> {
    let text = match (symbol, args) {
        ("bs_any_compare", [op, a, b, _]) => format!("int_compare({op}, {a}, {b})"),
        ("bs_any_equals", [a, b]) => format!("({a} == {b})"),
        ("bs_any_arith", [op, a, b, location]) => {
            format!("int_arith({op}, {a}, {b}, {location})")
        }
        _ => return None,
    };
    Some(text)
}

/// The helpers of integer-known operations, in every generated module.
pub(super) const INT_HELPERS: &str = r#"/// `any` arithmetic on two tagged integers (tags checked by the caller):
/// `bs_any_arith`'s results, inline; by zero, the runtime reports it.
#[inline(always)]
unsafe fn int_arith(op: i32, a: u32, b: u32, loc: *const u8) -> u32 {
    match op {
        OP_ADD => a.wrapping_add(b).wrapping_sub(TAG_INTEGER),
        OP_SUB => a.wrapping_sub(b).wrapping_add(TAG_INTEGER),
        OP_MUL => (unbox_int(a).wrapping_mul((b - TAG_INTEGER) as i32) as u32) | TAG_INTEGER,
        // 30-bit operands cannot overflow.
        OP_DIV if b != ANY_ZERO => box_int(unbox_int(a).wrapping_div(unbox_int(b))),
        OP_REM if b != ANY_ZERO => box_int(unbox_int(a).wrapping_rem(unbox_int(b))),
        _ => unsafe { bs_any_arith(op, a, b, loc) },
    }
}
#[inline(always)]
fn int_compare(op: i32, a: u32, b: u32) -> bool {
    let (a, b) = (a as i32, b as i32);
    match op {
        OP_LT => a < b,
        OP_LE => a <= b,
        OP_GT => a > b,
        _ => a >= b,
    }
}
"#;

/// The integer versioning of a loop: its guard, and the variables that
/// the fast copy knows to be integers.
pub(super) struct IntVersioning {
    pub(super) guard: String,
    pub(super) names: Vec<String>,
}

impl Generator<'_> {
    /// Whether `name` is a local `any` known to hold an integer here.
    pub(super) fn known_integer(&self, name: &str) -> bool {
        self.int_locals.borrow().contains(name)
    }

    /// Whether the `any` expression `e` holds an integer here.
    pub(super) fn integer_value(&self, e: &Expr) -> bool {
        e.ty == Ty::Any && is_integer(e, &|name| self.known_integer(name), None)
    }

    /// Whether `statement` can run before the function's frame is made:
    /// it neither allocates nor stores (so it writes no slot), and has no
    /// loop (whose jumps clear slots).
    pub(super) fn runs_before_frame(&self, statement: &Stmt) -> bool {
        let body = std::slice::from_ref(statement);
        let mut stores = false;
        calls::for_each_statement(body, &mut |s| {
            stores |= matches!(s.kind, StmtKind::Let { .. } | StmtKind::Loop { .. });
        });
        calls::for_each_expr(body, &mut |e| {
            stores |= matches!(e.kind, ExprKind::Assign(..) | ExprKind::Update { .. });
        });
        !stores && !self.statement_allocates(statement)
    }

    /// Whether `expr` is an `any` operation (arithmetic, comparison,
    /// `++`/`--`) on integers known here: done inline, it never allocates.
    pub(super) fn integer_operation_of(&self, expr: &Expr) -> bool {
        match &expr.kind {
            ExprKind::Runtime {
                symbol: symbol @ ("bs_any_arith" | "bs_any_compare" | "bs_any_equals"),
                args,
                ..
            } => {
                (*symbol != "bs_any_arith" || self.integer_value(expr))
                    && args
                        .iter()
                        .filter(|a| a.ty == Ty::Any)
                        .all(|a| self.integer_value(a))
            }
            ExprKind::Update {
                place: Place::Local(name),
                ..
            } => expr.ty == Ty::Any && self.known_integer(name),
            _ => false,
        }
    }

    /// The integer versioning of loop `cond`/`body`/`step`, if some of its
    /// `any` variables stay integers once they are, and are used.
    pub(super) fn int_versioning(
        &self,
        cond: Option<&Expr>,
        body: &[Stmt],
        step: Option<&Expr>,
    ) -> Option<IntVersioning> {
        if calls::size(body) > VERSIONED_LOOP_MAX_SIZE {
            return None;
        }
        let mut stores = Stores::default();
        let mut note = |e| stores.note_expr(e);
        cond.into_iter()
            .chain(step)
            .for_each(|e| calls::for_each_nested_expr(e, &mut note));
        calls::for_each_expr(body, &mut note);
        let declared = declarations(body);
        let set = self.integer_set(&stores, |name| !declared.contains_key(name));
        let guarded: Vec<&str> = set
            .iter()
            .copied()
            .filter(|n| !self.known_integer(n))
            .collect();
        self.guarded(&guarded, &set)
    }

    /// The integer versioning of a whole function: its `any` parameters
    /// that stay integers once they are, with the variables it declares
    /// once that then stay integers from their declaration on.
    pub(super) fn function_int_versioning(&self, function: &Function) -> Option<IntVersioning> {
        if function.is_closure
            || !function.boxed_params.is_empty()
            || calls::size(&function.body) > VERSIONED_FUNCTION_MAX_SIZE
        {
            return None;
        }
        let mut stores = Stores::default();
        calls::for_each_expr(&function.body, &mut |e| stores.note_expr(e));
        let declared = declarations(&function.body);
        let params: BTreeSet<&str> = function
            .params
            .iter()
            .filter(|(_, ty)| *ty == Ty::Any)
            .map(|(name, _)| name.as_str())
            .collect();
        // A variable declared once (and no parameter) is the same variable
        // wherever it is read; its initializer is one more store.
        for (name, inits) in &declared {
            if let [Some(init)] = inits[..] {
                stores.used.insert(name);
                stores
                    .stores
                    .entry(name)
                    .or_default()
                    .push(Store::Assign(init));
            }
        }
        let set = self.integer_set(&stores, |name| match declared.get(name) {
            None => params.contains(name),
            Some(inits) => inits.len() == 1 && inits[0].is_some() && !params.contains(name),
        });
        let guarded: Vec<&str> = set.iter().copied().filter(|n| params.contains(n)).collect();
        self.guarded(&guarded, &set)
    }

    /// The largest set of `candidate` variables of `stores` whose every
    /// store keeps them integers while they all are.
    fn integer_set<'a>(
        &self,
        stores: &Stores<'a>,
        candidate: impl Fn(&str) -> bool,
    ) -> BTreeSet<&'a str> {
        let mut set: BTreeSet<&str> = stores
            .used
            .iter()
            .copied()
            .filter(|name| candidate(name))
            .collect();
        loop {
            let keeps = |name: &str, set: &BTreeSet<&str>| {
                let ints = |n: &str| set.contains(n) || self.known_integer(n);
                stores.stores.get(name).is_none_or(|list| {
                    list.iter().all(|store| match store {
                        Store::Update => true,
                        Store::Assign(value) => is_integer(value, &ints, Some(name)),
                        Store::Let => false,
                    })
                })
            };
            let broken: Vec<&str> = set.iter().copied().filter(|n| !keeps(n, &set)).collect();
            if broken.is_empty() {
                return set;
            }
            for name in broken {
                set.remove(name);
            }
        }
    }

    /// The versioning that checks `guarded` at the entry and knows `set`
    /// (None if nothing is to check).
    fn guarded(&self, guarded: &[&str], set: &BTreeSet<&str>) -> Option<IntVersioning> {
        if guarded.is_empty() {
            return None;
        }
        let words: Vec<String> = guarded
            .iter()
            .map(|name| format!("({} ^ TAG_INTEGER)", local(name)))
            .collect();
        Some(IntVersioning {
            guard: format!("({}) & TAG_MASK == 0", words.join(" | ")),
            names: set
                .iter()
                .filter(|name| !self.known_integer(name))
                .map(|name| name.to_string())
                .collect(),
        })
    }
}

/// The `any` variables that `body` declares, with their initializers (a
/// variable of another type or in a cell counts as no initializer).
fn declarations(body: &[Stmt]) -> HashMap<&str, Vec<Option<&Expr>>> {
    let mut declared: HashMap<&str, Vec<Option<&Expr>>> = HashMap::new();
    calls::for_each_statement(body, &mut |statement| match &statement.kind {
        StmtKind::Let {
            name,
            ty: Ty::Any,
            init,
            boxed: false,
        } => declared.entry(name).or_default().push(init.as_ref()),
        StmtKind::Let { name, .. } => declared.entry(name).or_default().push(None),
        _ => {}
    });
    declared
}
