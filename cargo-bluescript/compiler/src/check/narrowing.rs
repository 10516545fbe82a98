//! `x != null` narrowing (LANGUAGE.md §1, §7a): where a condition proves
//! that a variable of a nullable type is not null, the variable has the
//! non-null type, for as long as it cannot have changed.
//!
//! A narrowed variable is shadowed in a scope of its own by an entry with
//! the narrower type (and the declared one, which assignments use).
//! Assigning a value that may be null ends the narrowing from there on; an
//! assignment anywhere in a loop ends it for the whole loop (checked before
//! the loop, from `assignments.rs`). The narrowing of a global ends at a
//! call that may assign it, that of a local that a closure assigns at a
//! call that may run the closure (call_effects.rs); a closure sees a
//! narrowing of the code around it only when nothing assigns the variable
//! after the closure is made.

use super::call_effects::Reach;
use super::*;

impl<'s, 'a> Checker<'s, 'a> {
    /// The locals that `test` being `outcome` proves non-null.
    pub(super) fn narrowings(
        &self,
        test: &ast::Expression<'_>,
        outcome: bool,
    ) -> Vec<(String, Ty)> {
        use ast::Expression as E;
        match test.without_parentheses() {
            E::Identifier(id) if outcome => self.narrowable(id.name.as_str()).into_iter().collect(),
            E::UnaryExpression(unary) if unary.operator == UnaryOperator::LogicalNot => {
                self.narrowings(&unary.argument, !outcome)
            }
            E::LogicalExpression(logical) => match (logical.operator, outcome) {
                (LogicalOperator::And, true) | (LogicalOperator::Or, false) => {
                    // The right operand runs after the left one's test.
                    let right = self.effects(|w| w.expression(&logical.right));
                    let mut out: Vec<(String, Ty)> = self
                        .narrowings(&logical.left, outcome)
                        .into_iter()
                        .filter(|(name, _)| !self.changed_by(&right, name))
                        .collect();
                    out.extend(self.narrowings(&logical.right, outcome));
                    out
                }
                _ => Vec::new(),
            },
            E::BinaryExpression(binary) => {
                let proves_non_null = match binary.operator {
                    BinaryOperator::Inequality | BinaryOperator::StrictInequality => outcome,
                    BinaryOperator::Equality | BinaryOperator::StrictEquality => !outcome,
                    _ => return Vec::new(),
                };
                if !proves_non_null {
                    return Vec::new();
                }
                let variable = match (
                    binary.left.without_parentheses(),
                    binary.right.without_parentheses(),
                ) {
                    (E::Identifier(id), other) | (other, E::Identifier(id)) if is_null(other) => id,
                    _ => return Vec::new(),
                };
                self.narrowable(variable.name.as_str())
                    .into_iter()
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// `name` and its non-null type, if it is a variable of a nullable
    /// type.
    fn narrowable(&self, name: &str) -> Option<(String, Ty)> {
        let ty = match self.lookup_local(name) {
            Some(local) => local.ty,
            // Captured by this arrow: narrowed here from its declared type
            // (calls end it when a closure assigns it).
            None => match self.captured_local(name) {
                Some(local) => local.declared.unwrap_or(local.ty),
                None => match self.item(name)? {
                    Item::Global { name: global, .. } => self.globals.get(&global)?.ty?,
                    _ => return None,
                },
            },
        };
        match ty {
            Ty::Nullable(inner) => Some((name.to_string(), *inner)),
            _ => None,
        }
    }

    /// Runs `body` with `facts` in force.
    pub(super) fn narrowed<T>(
        &mut self,
        facts: Vec<(String, Ty)>,
        body: impl FnOnce(&mut Self) -> T,
    ) -> T {
        if facts.is_empty() {
            return body(self);
        }
        self.push_narrowing(facts);
        let result = body(self);
        self.context().scopes.pop();
        result
    }

    /// The two branches of `test`: each with the test's narrowings, from
    /// the narrowings before it. After them, a variable stays narrowed
    /// only if both kept it.
    pub(super) fn branches<T, U>(
        &mut self,
        test: &ast::Expression<'_>,
        then: impl FnOnce(&mut Self) -> T,
        otherwise: impl FnOnce(&mut Self) -> U,
    ) -> (T, U) {
        let before = self.narrow_state();
        let facts = self.narrowings(test, true);
        let then = self.narrowed(facts, then);
        let after_then = self.narrow_state();
        self.set_narrow_state(&before);
        let facts = self.narrowings(test, false);
        let otherwise = self.narrowed(facts, otherwise);
        let after_otherwise = self.narrow_state();
        self.merge_narrow_states(&after_then, &after_otherwise);
        (then, otherwise)
    }

    /// A scope in which `facts` hold (popped by the caller).
    pub(super) fn push_narrowing(&mut self, facts: Vec<(String, Ty)>) {
        let marker = Local {
            ty: Ty::Void,
            is_const: true,
            boxed: false,
            declared: None,
            global: None,
            declared_at: None,
        };
        let mut scope = HashMap::from([(NARROWINGS.to_string(), marker)]);
        for (name, ty) in facts {
            if let Some(local) = self.lookup_local(&name) {
                scope.insert(
                    name,
                    Local {
                        ty,
                        declared: Some(local.declared.unwrap_or(local.ty)),
                        ..local
                    },
                );
            } else if let Some(outer) = self.captured_local(&name) {
                let declared = Some(outer.declared.unwrap_or(outer.ty));
                scope.insert(
                    name,
                    Local {
                        ty,
                        declared,
                        ..outer
                    },
                );
            } else if let Some(Item::Global {
                name: global,
                imported,
            }) = self.item(&name)
            {
                let Some(info) = self.globals.get(&global) else {
                    continue;
                };
                scope.insert(
                    name,
                    Local {
                        ty,
                        is_const: info.is_const || imported,
                        boxed: false,
                        declared: info.ty,
                        global: Some(global),
                        declared_at: None,
                    },
                );
            }
        }
        self.context().scopes.push(scope);
    }

    /// After `name = value`: a value that may be null ends the narrowings
    /// of `name`.
    pub(super) fn assigned(&mut self, name: &str, value_ty: Ty) {
        if matches!(value_ty, Ty::Nullable(_) | Ty::Null | Ty::Any) {
            self.end_narrowing(name);
        }
    }

    /// Whether calls that may do `reach` may change the variable `name`:
    /// a global they may assign, or a local that a closure they may run
    /// assigns.
    fn is_volatile(&self, name: &str, local: &Local, reach: &Reach) -> bool {
        match &local.global {
            Some(global) => reach.globals.contains(global),
            None => self.contexts.last().is_some_and(|c| {
                let assignments = &c.assignments;
                assignments.by_escaping_closures.contains(name)
                    || (reach.any_closure && assignments.by_closures.contains(name))
            }),
        }
    }

    /// A call's value: a call of script code ends the narrowings of what
    /// it may change.
    pub(super) fn called(&mut self, value: Checked<Expr>) -> Checked<Expr> {
        if let Some(reach) = value
            .as_ref()
            .ok()
            .and_then(|call| self.reach_of_call(call))
        {
            self.end_volatile_narrowings(&reach);
        }
        value
    }

    fn end_volatile_narrowings(&mut self, reach: &Reach) {
        let mut volatile = Vec::new();
        for scope in &self.contexts.last().expect("a context").scopes {
            for (name, local) in scope {
                if local.declared.is_some() && self.is_volatile(name, local, reach) {
                    volatile.push(name.clone());
                }
            }
        }
        for name in volatile {
            self.end_narrowing(&name);
        }
    }

    /// What a piece of code may assign, and whether it calls script code.
    pub(super) fn effects(&self, parts: impl FnOnce(&mut assignments::Walker)) -> Assignments {
        let builtins = assignments::BUILTIN_OBJECTS
            .into_iter()
            .filter(|name| {
                self.lookup_local(name).is_none()
                    && !self.is_captured(name)
                    && self.item(name).is_none()
            })
            .collect();
        Assignments::of_code(builtins, parts)
    }

    /// Whether code of these effects may change the variable `name`.
    pub(super) fn changed_by(&self, effects: &Assignments, name: &str) -> bool {
        if effects.all.contains(name) {
            return true;
        }
        let variable = self
            .lookup_local(name)
            .or_else(|| self.captured_local(name));
        if !effects.calls {
            return false;
        }
        let reach = self.reach_of_calls(&effects.callees);
        match variable {
            Some(local) => self.is_volatile(name, &local, &reach),
            None => match self.item(name) {
                Some(Item::Global { name: global, .. }) => reach.globals.contains(&global),
                _ => false,
            },
        }
    }

    /// Ends the narrowings of what code of these effects may change.
    pub(super) fn end_narrowings_changed_by(&mut self, effects: &Assignments) {
        for name in &effects.all {
            self.end_narrowing(name);
        }
        if effects.calls {
            let reach = self.reach_of_calls(&effects.callees);
            self.end_volatile_narrowings(&reach);
        }
    }

    /// `name` has its declared type from here on, in every narrowing of
    /// the variable it names here.
    pub(super) fn end_narrowing(&mut self, name: &str) {
        for scope in self.context().scopes.iter_mut().rev() {
            if let Some(local) = scope.get_mut(name) {
                match local.declared {
                    Some(declared) => local.ty = declared,
                    // Its declaration: an outer `name` is another variable.
                    None => return,
                }
            }
        }
    }

    /// The narrowings that a statement, checked as `checked`, starts for
    /// the statements after it: after `if (x == null) return` (or another
    /// exit), after a loop without `break` whose test is `x == null`, and
    /// after `x = value` or `let x: T | null = value` with a value that
    /// cannot be null, `x` is not null (until it is assigned again).
    pub(super) fn narrowings_after(
        &self,
        statement: &ast::Statement<'_>,
        checked: &[Stmt],
    ) -> Vec<(String, Ty)> {
        let name = match statement {
            ast::Statement::IfStatement(test)
                if test.alternate.is_none() && always_exits(&test.consequent) =>
            {
                return self.narrowings(&test.test, false);
            }
            // It ends when its test fails. (A `for` test may name the
            // loop's own variables.)
            ast::Statement::WhileStatement(statement) if !reachability::breaks(&statement.body) => {
                return self.narrowings(&statement.test, false);
            }
            ast::Statement::DoWhileStatement(statement)
                if !reachability::breaks(&statement.body) =>
            {
                return self.narrowings(&statement.test, false);
            }
            ast::Statement::ExpressionStatement(statement) => {
                match statement.expression.without_parentheses() {
                    ast::Expression::AssignmentExpression(assignment)
                        if assignment.operator == AssignmentOperator::Assign =>
                    {
                        match &assignment.left {
                            ast::AssignmentTarget::AssignmentTargetIdentifier(id) => {
                                id.name.as_str()
                            }
                            _ => return Vec::new(),
                        }
                    }
                    _ => return Vec::new(),
                }
            }
            ast::Statement::VariableDeclaration(declaration)
                if declaration.declarations.len() == 1 =>
            {
                match declaration.declarations[0].id.get_identifier_name() {
                    Some(name) => name.as_str(),
                    None => return Vec::new(),
                }
            }
            _ => return Vec::new(),
        };
        let value: &Expr = match checked {
            [Stmt {
                kind:
                    StmtKind::Expr(Expr {
                        kind: ExprKind::Assign(_, value),
                        ..
                    }),
                ..
            }] => value,
            [Stmt {
                kind: StmtKind::Let {
                    init: Some(value), ..
                },
                ..
            }] => value,
            _ => return Vec::new(),
        };
        let value_ty = match &value.kind {
            ExprKind::Retyped(inner) => inner.ty,
            _ => value.ty,
        };
        if matches!(value_ty, Ty::Nullable(_) | Ty::Null | Ty::Any) {
            return Vec::new();
        }
        self.narrowable(name).into_iter().collect()
    }

    /// Whether a narrowing of `local` (named `name`) in context `depth`
    /// holds in the closure made there (context `depth + 1`) whenever the
    /// closure runs: nothing assigns the variable once the closure is made.
    pub(super) fn narrowing_reaches_closure(
        &self,
        depth: usize,
        name: &str,
        local: &Local,
    ) -> bool {
        if local.global.is_some() {
            // The top-level code or a function may assign it later.
            return local.is_const;
        }
        let Some(closure) = self.contexts.get(depth + 1) else {
            return true;
        };
        let assignments = &self.contexts[depth].assignments;
        !assignments.by_closures.contains(name)
            && assignments
                .last
                .get(name)
                .is_none_or(|&last| last < closure.position)
    }
}

/// The name under which a scope of narrowings is marked: a block's later
/// declarations go in it, and must not repeat the block's names.
pub(super) const NARROWINGS: &str = "";

/// The types of the narrowed variables of a function, by scope.
pub(super) type NarrowState = Vec<(usize, String, Ty)>;

impl<'s, 'a> Checker<'s, 'a> {
    pub(super) fn narrow_state(&mut self) -> NarrowState {
        let mut state = Vec::new();
        for (depth, scope) in self.context().scopes.iter().enumerate() {
            for (name, local) in scope {
                if local.declared.is_some() {
                    state.push((depth, name.clone(), local.ty));
                }
            }
        }
        state
    }

    pub(super) fn set_narrow_state(&mut self, state: &NarrowState) {
        let scopes = &mut self.context().scopes;
        for (depth, name, ty) in state {
            if let Some(local) = scopes.get_mut(*depth).and_then(|s| s.get_mut(name)) {
                local.ty = *ty;
            }
        }
    }

    /// After two branches: a variable stays narrowed only if both kept it.
    pub(super) fn merge_narrow_states(&mut self, a: &NarrowState, b: &NarrowState) {
        let scopes = &mut self.context().scopes;
        for ((depth, name, ty_a), (_, _, ty_b)) in a.iter().zip(b) {
            if ty_a != ty_b {
                if let Some(local) = scopes.get_mut(*depth).and_then(|s| s.get_mut(name)) {
                    local.ty = local.declared.unwrap_or(local.ty);
                }
            }
        }
    }
}

fn is_null(expression: &ast::Expression<'_>) -> bool {
    match expression.without_parentheses() {
        ast::Expression::NullLiteral(_) => true,
        ast::Expression::Identifier(id) => id.name == "undefined",
        _ => false,
    }
}

/// Whether a statement never completes normally (it returns, breaks,
/// continues or ends in one of those): what follows it in its block runs
/// only when its condition did not hold.
pub(super) fn always_exits(statement: &ast::Statement<'_>) -> bool {
    use ast::Statement as S;
    match statement {
        S::ReturnStatement(_) | S::BreakStatement(_) | S::ContinueStatement(_) => true,
        S::BlockStatement(block) => block.body.last().is_some_and(always_exits),
        S::IfStatement(statement) => {
            always_exits(&statement.consequent)
                && statement.alternate.as_ref().is_some_and(always_exits)
        }
        _ => false,
    }
}

/// Whether `local`, which `name` names in `context`, is a narrowing of a
/// variable that the arrow of `context` captures (not one it declares).
pub(super) fn narrows_a_capture(context: &FnContext, name: &str, local: &Local) -> bool {
    local.global.is_none()
        && local.declared.is_some()
        && !context
            .scopes
            .iter()
            .any(|scope| scope.get(name).is_some_and(|l| l.declared.is_none()))
}
