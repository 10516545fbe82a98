//! `x != null` narrowing (LANGUAGE.md §1): where a condition proves that a
//! local of a nullable type is not null, the local has the non-null type.
//!
//! A narrowed local is shadowed in a scope of its own by an entry with the
//! narrower type (and the declared one, which assignments use). Assigning a
//! value that may be null ends the narrowing from there on.

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
                    let mut out = self.narrowings(&logical.left, outcome);
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
            None if self.is_captured(name) => return None,
            None => match self.item(name)? {
                Item::Global { name: global, .. } => self.globals.get(&global)?.ty?,
                _ => return None,
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

    /// A scope in which `facts` hold (popped by the caller).
    pub(super) fn push_narrowing(&mut self, facts: Vec<(String, Ty)>) {
        let mut scope = HashMap::new();
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
                    },
                );
            }
        }
        self.context().scopes.push(scope);
    }

    /// After `name = value`: a narrowed local keeps its narrowing only if
    /// the value cannot be null.
    pub(super) fn assigned(&mut self, name: &str, value_ty: Ty) {
        let context = self.context();
        for scope in context.scopes.iter_mut().rev() {
            if let Some(local) = scope.get_mut(name) {
                if let Some(declared) = local.declared {
                    if matches!(value_ty, Ty::Nullable(_) | Ty::Null | Ty::Any) {
                        local.ty = declared;
                    }
                }
                return;
            }
        }
    }
}

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
