//! Precise roots (docs/values-and-heap.md, "Roots"): the frame of root
//! slots that a generated function links onto the runtime's shadow stack.
//!
//! The collector does not move objects, so a slot only has to *hold* a
//! value alive: code keeps using its own copy. A function gets a frame only
//! if it may allocate (a collection can only happen then): every variable
//! of a reference type or `any` that is read after an allocation may have
//! happened (parameters included), and every cell of a captured variable,
//! has a slot that mirrors it on every assignment, and a
//! temporary value that a later evaluation of the same expression may
//! collect (an earlier argument of a call, the left side of `+`, an array
//! under construction…) is kept in a slot until it is used. Such a slot is
//! cleared right after, and a variable's slot when its scope ends, so that
//! neither keeps anything the program can no longer reach.
//!
//! Callees keep their own parameters (a callee that does not allocate
//! needs not), and the runtime the values it holds across an allocation,
//! so a temporary is cleared before the call that consumes it. In a
//! development image or a patch every call of a script function counts as
//! allocating: a patch may change what the callee does. A release image is
//! never patched, so there a call of a function that never allocates does
//! not count.

use super::*;
use std::collections::BTreeSet;

/// The frame type and its operations, in every generated module and patch.
pub(super) const ROOT_FRAME: &str = r#"/// A frame of the shadow stack: linked on entry, unlinked when dropped (a
/// run-time error abandons it and the catcher restores the top instead).
#[repr(C)]
struct RootFrame<const N: usize> {
    prev: usize,
    count: usize,
    slots: [core::cell::Cell<u32>; N],
}
impl<const N: usize> RootFrame<N> {
    #[inline(always)]
    unsafe fn new() -> Self {
        RootFrame { prev: unsafe { __bs_roots_top }, count: N, slots: [const { core::cell::Cell::new(0) }; N] }
    }
    /// Makes this frame the innermost one (once it has its final address).
    #[inline(always)]
    unsafe fn link(&self) {
        unsafe { __bs_roots_top = self as *const Self as usize }
    }
    #[inline(always)]
    fn set(&self, slot: usize, value: u32) {
        self.slots[slot].set(value)
    }
}
impl<const N: usize> Drop for RootFrame<N> {
    #[inline(always)]
    fn drop(&mut self) {
        unsafe { __bs_roots_top = self.prev }
    }
}
"#;

/// The name of the frame in generated functions.
const FRAME: &str = "roots_";

/// The root slots of the function being generated.
#[derive(Default)]
pub(super) struct Frame {
    /// The function may allocate: it keeps its roots in slots.
    enabled: bool,
    /// The variables read after an allocation may have happened: the
    /// others need no slot (their values are dead by the time anything
    /// could be collected, or are kept as temporaries while in use).
    read_after_allocation: BTreeSet<String>,
    /// The next free slot.
    top: usize,
    /// Slots the frame needs.
    size: usize,
    /// Variables with a slot, innermost last.
    variables: Vec<(String, usize)>,
    /// Open blocks, innermost last.
    scopes: Vec<Scope>,
    /// Names for temporaries.
    next_name: usize,
}

struct Scope {
    /// The loop whose body this block is (`break`/`continue` leave it).
    label: Option<u32>,
    /// `variables.len()` and `top` when the block started.
    variables: usize,
    top: usize,
}

impl Frame {
    fn allocate(&mut self) -> usize {
        let slot = self.top;
        self.top += 1;
        self.size = self.size.max(self.top);
        slot
    }

    fn slot_of(&self, name: &str) -> Option<usize> {
        self.variables
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, slot)| *slot)
    }
}

/// `text` setting `slot` to `value` (a statement).
pub(super) fn set(slot: usize, value: &str) -> String {
    format!("{FRAME}.set({slot}, {value});")
}

impl Generator<'_> {
    /// Starts the frame of a function (or of the top level) with `body`:
    /// slots for its closure (if `closure`), for its `params` of reference
    /// types and the `boxed` ones (cells). Returns the statements that put
    /// them into their slots.
    pub(super) fn begin_frame(
        &self,
        closure: bool,
        params: &[(String, Ty)],
        boxed: &[String],
        body: &[Stmt],
    ) -> String {
        let mut frame = self.frame.borrow_mut();
        let mut liveness = Liveness {
            generator: self,
            allocated: false,
            assigned: Vec::new(),
            read: BTreeSet::new(),
        };
        liveness.statements(body);
        *frame = Frame {
            enabled: !boxed.is_empty() || body.iter().any(|s| self.statement_allocates(s)),
            read_after_allocation: liveness.read,
            ..Frame::default()
        };
        let mut prologue = String::new();
        if !frame.enabled {
            return prologue;
        }
        if closure {
            let slot = frame.allocate();
            prologue.push_str(&format!("    {}\n", set(slot, "closure_")));
        }
        for (name, ty) in params {
            let is_boxed = boxed.contains(name);
            let rooted = ty.is_reference()
                && frame.read_after_allocation.contains(name)
                && !self.known_integer(name);
            if rooted || is_boxed {
                let slot = frame.allocate();
                frame.variables.push((name.clone(), slot));
                // A boxed parameter's slot gets its cell when it is made.
                if !is_boxed {
                    prologue.push_str(&format!("    {}\n", set(slot, &local(name))));
                }
            }
        }
        prologue
    }

    /// The frame's declaration, to put before the function's code (empty
    /// if it needs no slots).
    pub(super) fn end_frame(&self) -> String {
        let frame = self.frame.borrow();
        if frame.size == 0 {
            return String::new();
        }
        format!(
            "    let {FRAME} = RootFrame::<{}>::new(); {FRAME}.link();\n",
            frame.size
        )
    }

    /// The slot of variable `name`, if it has one.
    fn variable_slot(&self, name: &str) -> Option<usize> {
        let frame = self.frame.borrow();
        if frame.enabled {
            frame.slot_of(name)
        } else {
            None
        }
    }

    /// After `place = value` (Rust text of the stored value): mirrors a
    /// local variable into its slot. Empty for other places (a cell is
    /// rooted through the variable that holds it).
    pub(super) fn mirror(&self, place: &Place, value: &str) -> String {
        match place {
            Place::Local(name) => self.mirror_variable(name, value),
            _ => String::new(),
        }
    }

    /// After the Rust variable of `name` was set to `value` (a reference,
    /// or a cell): mirrors it into its slot, if it has one.
    /// An `any` known to hold an integer needs none (tagged.rs).
    pub(super) fn mirror_variable(&self, name: &str, value: &str) -> String {
        if self.known_integer(name) {
            return String::new();
        }
        self.variable_slot(name)
            .map(|slot| format!(" {}", set(slot, value)))
            .unwrap_or_default()
    }

    /// Declares variable `name` of type `ty` (`boxed`: a cell): a slot,
    /// if it needs one, cleared now (it may hold the variable of an earlier
    /// iteration while `init_allocates`). Returns its statement, if any.
    pub(super) fn declare_slot(
        &self,
        name: &str,
        ty: Ty,
        boxed: bool,
        init_allocates: bool,
    ) -> Option<(usize, String)> {
        let mut frame = self.frame.borrow_mut();
        let rooted = boxed
            || (ty.is_reference()
                && frame.read_after_allocation.contains(name)
                && !self.known_integer(name));
        if !frame.enabled || !rooted {
            return None;
        }
        let slot = frame.allocate();
        let clear = if init_allocates {
            set(slot, "0")
        } else {
            String::new()
        };
        Some((slot, clear))
    }

    /// Brings a declared variable into scope (after its initializer).
    pub(super) fn bind_slot(&self, name: &str, slot: usize) {
        self.frame
            .borrow_mut()
            .variables
            .push((name.to_string(), slot));
    }

    /// A slot for a temporary if `needed` (and the function keeps roots):
    /// give it back with `release_root`, innermost first.
    pub(super) fn root_while(&self, needed: bool) -> Option<usize> {
        let mut frame = self.frame.borrow_mut();
        (needed && frame.enabled).then(|| frame.allocate())
    }

    pub(super) fn release_root(&self, slot: usize) {
        let mut frame = self.frame.borrow_mut();
        debug_assert_eq!(frame.top, slot + 1);
        frame.top = slot;
    }

    /// Opens a block (the body of loop `label`, if given).
    pub(super) fn open_scope(&self, label: Option<u32>) {
        let mut frame = self.frame.borrow_mut();
        let scope = Scope {
            label,
            variables: frame.variables.len(),
            top: frame.top,
        };
        frame.scopes.push(scope);
    }

    /// Closes the innermost block; returns the statements that clear its
    /// variables' slots.
    pub(super) fn close_scope(&self) -> String {
        let clear = self.clear_scopes(1);
        let mut frame = self.frame.borrow_mut();
        if let Some(scope) = frame.scopes.pop() {
            frame.variables.truncate(scope.variables);
            frame.top = scope.top;
        }
        clear
    }

    /// The statements that clear the slots of the variables of the blocks
    /// that `break`/`continue` of loop `label` leave, each followed by a
    /// space.
    pub(super) fn clear_for_jump(&self, label: u32) -> String {
        let depth = {
            let frame = self.frame.borrow();
            frame
                .scopes
                .iter()
                .rev()
                .position(|s| s.label == Some(label))
                .map_or(0, |p| p + 1)
        };
        let clear = self.clear_scopes(depth);
        if clear.is_empty() {
            clear
        } else {
            clear + " "
        }
    }

    /// Clears the variables of the `depth` innermost blocks.
    fn clear_scopes(&self, depth: usize) -> String {
        let frame = self.frame.borrow();
        let Some(first) = frame.scopes.len().checked_sub(depth) else {
            return String::new();
        };
        let Some(scope) = frame.scopes.get(first) else {
            return String::new();
        };
        frame.variables[scope.variables..]
            .iter()
            .map(|(_, slot)| set(*slot, "0"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Evaluates `operands` in order, then `tail` (Rust text using the
    /// values, given their texts). An operand of a reference type that a
    /// later operand may collect (or the tail, if `tail_allocates`) is kept
    /// in a slot meanwhile; then every operand is bound to a `let` first
    /// (so that the order of evaluation stays) and the slots are cleared
    /// before the tail (or after it, if `tail_allocates`).
    pub(super) fn with_operands(
        &self,
        operands: &[&Expr],
        tail_allocates: bool,
        tail: impl FnOnce(&[String]) -> String,
    ) -> String {
        let rooted = self.operands_to_root(operands, tail_allocates);
        if !rooted.iter().any(|r| *r) {
            let texts: Vec<String> = operands.iter().map(|e| self.expr(e)).collect();
            return tail(&texts);
        }
        let mut text = String::from("{");
        let mut names = Vec::new();
        let mut slots = Vec::new();
        for (operand, root) in operands.iter().zip(rooted) {
            let value = self.expr(operand);
            let name = {
                let mut frame = self.frame.borrow_mut();
                frame.next_name += 1;
                format!("o{}_", frame.next_name)
            };
            let _ = write!(text, " let {name} = {value};");
            if root {
                let slot = self.frame.borrow_mut().allocate();
                let _ = write!(text, " {}", set(slot, &name));
                slots.push(slot);
            }
            names.push(name);
        }
        let clear: String = slots.iter().map(|s| format!(" {}", set(*s, "0"))).collect();
        let tail = tail(&names);
        if tail_allocates {
            let _ = write!(text, " let r_ = {tail};{clear} r_ }}");
        } else {
            let _ = write!(text, "{clear} {tail} }}");
        }
        self.frame.borrow_mut().top -= slots.len();
        text
    }

    /// Which of `operands` must be kept in a slot (see `with_operands`).
    fn operands_to_root(&self, operands: &[&Expr], tail_allocates: bool) -> Vec<bool> {
        if !self.frame.borrow().enabled {
            return vec![false; operands.len()];
        }
        operands
            .iter()
            .enumerate()
            .map(|(i, operand)| {
                let later = &operands[i + 1..];
                operand.ty.is_reference()
                    && !self.integer_value(operand)
                    && (tail_allocates || later.iter().any(|e| self.allocates(e)))
                    && !self.stays_rooted(operand, later)
            })
            .collect()
    }

    /// Whether the value of `operand` stays reachable while `later`
    /// operands are evaluated without a slot of its own: a constant, or a
    /// variable (which has its slot) that they do not assign.
    fn stays_rooted(&self, operand: &Expr, later: &[&Expr]) -> bool {
        match &operand.kind {
            ExprKind::Null | ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Bool(_) => true,
            ExprKind::Str(_) | ExprKind::TypeOf(None, _) => !self.patch,
            ExprKind::Retyped(inner) => self.stays_rooted(inner, later),
            ExprKind::Read(Place::Local(name)) => {
                self.variable_slot(name).is_some() && !later.iter().any(|e| assigns_local(e, name))
            }
            _ => false,
        }
    }

    pub(super) fn statement_allocates(&self, statement: &Stmt) -> bool {
        let exprs = |e: &Expr| self.allocates(e);
        match &statement.kind {
            StmtKind::Let { init, boxed, .. } => *boxed || init.as_ref().is_some_and(exprs),
            StmtKind::Expr(e) => exprs(e),
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                exprs(cond)
                    || then
                        .iter()
                        .chain(otherwise)
                        .any(|s| self.statement_allocates(s))
            }
            StmtKind::Loop {
                cond,
                body,
                step,
                fresh,
                ..
            } => {
                !fresh.is_empty()
                    || cond.as_ref().is_some_and(exprs)
                    || step.as_ref().is_some_and(exprs)
                    || body.iter().any(|s| self.statement_allocates(s))
            }
            StmtKind::Break(_) | StmtKind::Continue(_) => false,
            StmtKind::Return(value) => value.as_ref().is_some_and(exprs),
            StmtKind::Block(body) => body.iter().any(|s| self.statement_allocates(s)),
            StmtKind::Print { pieces, .. } => pieces.iter().any(|p| match p {
                PrintPiece::Value(e) => exprs(e),
                _ => false,
            }),
        }
    }

    /// Whether evaluating `expr` may allocate (and so collect): anything
    /// that calls script code, allocates in the runtime, or runs Rust code
    /// of a `code` template.
    pub(super) fn allocates(&self, expr: &Expr) -> bool {
        self.allocates_itself(expr) || children(expr).into_iter().any(|e| self.allocates(e))
    }

    /// Finds the `functions` that never allocate, calls included: at
    /// first all of them, then without those whose
    /// body may allocate, until none is left out.
    pub(super) fn find_functions_that_never_allocate(&self, functions: &[Function]) {
        *self.never_allocate.borrow_mut() = functions.iter().map(|f| f.name.clone()).collect();
        loop {
            let allocating: Vec<&Function> = functions
                .iter()
                .filter(|f| self.never_allocate.borrow().contains(&f.name))
                .filter(|f| {
                    !f.boxed_params.is_empty() || f.body.iter().any(|s| self.statement_allocates(s))
                })
                .collect();
            if allocating.is_empty() {
                return;
            }
            let mut never = self.never_allocate.borrow_mut();
            for function in allocating {
                never.remove(&function.name);
            }
        }
    }

    /// Whether the operation of `expr` itself (not its operands) may
    /// allocate.
    fn allocates_itself(&self, expr: &Expr) -> bool {
        if self.integer_operation_of(expr) {
            return false;
        }
        match &expr.kind {
            ExprKind::CallScript { name, .. } => !self.never_allocate.borrow().contains(name),
            ExprKind::CallExport { .. }
            | ExprKind::CallMethod { .. }
            | ExprKind::CallClosure { .. }
            | ExprKind::DynamicCall { .. }
            | ExprKind::New { .. }
            | ExprKind::NewArray { .. }
            | ExprKind::ArrayLiteral(..)
            | ExprKind::CopyArray { .. }
            | ExprKind::Closure { .. }
            | ExprKind::Code(_) => true,
            ExprKind::Str(_) | ExprKind::TypeOf(..) => self.patch,
            ExprKind::Runtime { symbol, .. } => !NON_ALLOCATING.contains(symbol),
            ExprKind::Binary {
                op: BinOp::Add,
                operand_ty,
                ..
            } => *operand_ty == Ty::String || *operand_ty == Ty::Any,
            // `any` + 1 may concatenate a string.
            ExprKind::Update { .. } => expr.ty == Ty::Any,
            _ => false,
        }
    }
}

/// Finds the variables read after an allocation may have happened, walking
/// the code in the order it runs (a loop twice: its second round sees what
/// the first allocated).
struct Liveness<'g, 's> {
    generator: &'g Generator<'s>,
    allocated: bool,
    /// The places being assigned, innermost last (what `Current` reads).
    assigned: Vec<&'g Place>,
    read: BTreeSet<String>,
}

impl<'g> Liveness<'g, '_> {
    fn statements(&mut self, statements: &'g [Stmt]) {
        for statement in statements {
            self.statement(statement);
        }
    }

    fn statement(&mut self, statement: &'g Stmt) {
        match &statement.kind {
            StmtKind::Let { init, .. } => {
                if let Some(init) = init {
                    self.expr(init);
                }
            }
            StmtKind::Expr(e) => self.expr(e),
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond);
                let before = self.allocated;
                self.statements(then);
                let after_then = self.allocated;
                self.allocated = before;
                self.statements(otherwise);
                self.allocated |= after_then;
            }
            StmtKind::Loop {
                cond, body, step, ..
            } => {
                // A second round matters only if the first started before
                // any allocation and met one: walking every loop twice
                // would be exponential in how deeply loops nest.
                let allocated_before = self.allocated;
                for round in 0..2 {
                    if round == 1 && (allocated_before || !self.allocated) {
                        break;
                    }
                    if let Some(cond) = cond {
                        self.expr(cond);
                    }
                    self.statements(body);
                    if let Some(step) = step {
                        self.expr(step);
                    }
                }
            }
            StmtKind::Break(_) | StmtKind::Continue(_) => {}
            StmtKind::Return(value) => {
                if let Some(value) = value {
                    self.expr(value);
                }
            }
            StmtKind::Block(body) => self.statements(body),
            StmtKind::Print { pieces, .. } => {
                for piece in pieces {
                    if let PrintPiece::Value(e) = piece {
                        self.expr(e);
                    }
                }
            }
        }
    }

    fn reads(&mut self, place: &Place) {
        if let (Place::Local(name), true) = (place, self.allocated) {
            self.read.insert(name.clone());
        }
    }

    fn expr(&mut self, expr: &'g Expr) {
        match &expr.kind {
            ExprKind::Read(place) | ExprKind::Update { place, .. } => self.reads(place),
            ExprKind::Current => {
                if let Some(place) = self.assigned.last() {
                    self.reads(place);
                }
            }
            ExprKind::Code(pieces) => {
                for piece in pieces {
                    if let CodePiece::Place(place, _) = piece {
                        self.reads(place);
                    }
                }
            }
            _ => {}
        }
        if let ExprKind::Assign(place, value) = &expr.kind {
            for child in place_children(place) {
                self.expr(child);
            }
            self.assigned.push(place);
            self.expr(value);
            self.assigned.pop();
        } else {
            for child in children(expr) {
                self.expr(child);
            }
        }
        if self.generator.allocates_itself(expr) {
            self.allocated = true;
        }
    }
}

/// Runtime entry points that never allocate.
const NON_ALLOCATING: &[&str] = &[
    "bs_any_compare",
    "bs_any_equals",
    "bs_any_neg",
    "bs_any_bitnot",
    "bs_any_truthy",
    "bs_string_length",
    "bs_string_equals",
    "bs_string_compare",
    "bs_string_starts_with",
    "bs_string_ends_with",
    "bs_string_index_of",
    "bs_string_char_code_at",
    "bs_string_from_bool",
    "bs_array_pop",
    "bs_array_shift",
];

/// Whether `expr` assigns (or updates) local `name`.
fn assigns_local(expr: &Expr, name: &str) -> bool {
    let here = match &expr.kind {
        ExprKind::Assign(Place::Local(n), _)
        | ExprKind::Update {
            place: Place::Local(n),
            ..
        } => n == name,
        _ => false,
    };
    here || children(expr).into_iter().any(|e| assigns_local(e, name))
}

/// `children` and `children_mut`: the subexpressions of an expression,
/// those of the places it reads or writes included, borrowed as the
/// expression is.
macro_rules! children {
    ($children:ident, $place_children:ident $(, $mutable:ident)?) => {
        fn $place_children(place: &$($mutable)? Place) -> Vec<&$($mutable)? Expr> {
            let mut out: Vec<&$($mutable)? Expr> = Vec::new();
            match place {
                Place::Element { array, index, .. }
                | Place::DynamicElement { array, index, .. } => {
                    out.push(array);
                    out.push(index);
                }
                Place::Field { object, .. } | Place::DynamicProperty { object, .. } => {
                    out.push(object)
                }
                Place::Local(_)
                | Place::Global(_)
                | Place::Cell(_)
                | Place::Captured(_)
                | Place::Static(_) => {}
            }
            out
        }

        pub(super) fn $children(expr: &$($mutable)? Expr) -> Vec<&$($mutable)? Expr> {
            let mut out: Vec<&$($mutable)? Expr> = Vec::new();
            match &$($mutable)? expr.kind {
                ExprKind::Int(_)
                | ExprKind::Float(_)
                | ExprKind::Bool(_)
                | ExprKind::TimeNow
                | ExprKind::Str(_)
                | ExprKind::Null
                | ExprKind::Current
                | ExprKind::TypeOf(None, _)
                | ExprKind::Closure { .. } => {}
                ExprKind::Read(p) | ExprKind::Update { place: p, .. } => {
                    out.extend($place_children(p))
                }
                ExprKind::Assign(p, value) => {
                    out.extend($place_children(p));
                    out.push(value);
                }
                ExprKind::Unary(_, e)
                | ExprKind::Truthy(e)
                | ExprKind::IntToFloat(e)
                | ExprKind::TimeDelay(e)
                | ExprKind::ClearTimer(e)
                | ExprKind::Retyped(e)
                | ExprKind::ToAny(e)
                | ExprKind::FromAny(e, _)
                | ExprKind::IsNull { value: e, .. }
                | ExprKind::CopyArray { source: e, .. }
                | ExprKind::FloatToInt(e)
                | ExprKind::ArrayLength(e)
                | ExprKind::InstanceOf(e, _)
                | ExprKind::StartTimer { ms: e, .. }
                | ExprKind::TypeOf(Some(e), _) => out.push(e),
                ExprKind::Binary { lhs, rhs, .. } | ExprKind::Logical { lhs, rhs, .. } => {
                    out.push(lhs);
                    out.push(rhs);
                }
                ExprKind::Conditional {
                    cond,
                    then,
                    otherwise,
                } => {
                    out.push(cond);
                    out.push(then);
                    out.push(otherwise);
                }
                ExprKind::StartClosureTimer { closure, ms, .. } => {
                    out.push(closure);
                    out.push(ms);
                }
                ExprKind::CallScript { args, .. }
                | ExprKind::CallExport { args, .. }
                | ExprKind::Math(_, args)
                | ExprKind::ArrayLiteral(args, _)
                | ExprKind::New { args, .. }
                | ExprKind::Runtime { args, .. } => out.extend(args),
                ExprKind::NewArray { length, init, .. } => {
                    out.push(length);
                    if let Some(init) = init {
                        out.push(init);
                    }
                }
                ExprKind::CallMethod { object, args, .. }
                | ExprKind::CallClosure {
                    callee: object,
                    args,
                    ..
                }
                | ExprKind::DynamicCall {
                    receiver: object,
                    args,
                    ..
                } => {
                    out.push(object);
                    out.extend(args);
                }
                ExprKind::Code(pieces) => {
                    for piece in pieces {
                        if let CodePiece::Place(p, _) = piece {
                            out.extend($place_children(p));
                        }
                    }
                }
            }
            out
        }
    };
}

children!(children, place_children);
children!(children_mut, place_children_mut, mut);
