//! Operations on `any` (LANGUAGE.md §1, §7): what the static types cannot
//! decide is done by the runtime (docs/values-and-heap.md, "Dynamic
//! operations"), which checks the dynamic types and reports a mismatch as
//! a run-time error at the expression's location.

use super::*;
use bluescript_abi::{ArithOp, CompareOp};

/// `bs_any_arith`'s operator code.
fn arith_code(op: BinOp) -> Option<i32> {
    let op = match op {
        BinOp::Add => ArithOp::Add,
        BinOp::Sub => ArithOp::Sub,
        BinOp::Mul => ArithOp::Mul,
        BinOp::Div => ArithOp::Div,
        BinOp::Rem => ArithOp::Rem,
        BinOp::Pow => ArithOp::Pow,
        _ => return None,
    };
    Some(op as i32)
}

/// `bs_any_compare`'s operator code.
fn compare_code(op: BinOp) -> Option<i32> {
    let op = match op {
        BinOp::Lt => CompareOp::Lt,
        BinOp::Le => CompareOp::Le,
        BinOp::Gt => CompareOp::Gt,
        BinOp::Ge => CompareOp::Ge,
        _ => return None,
    };
    Some(op as i32)
}

fn int(value: i32) -> Expr {
    Expr {
        ty: Ty::Integer,
        kind: ExprKind::Int(value),
    }
}

impl<'s, 'a> Checker<'s, 'a> {
    /// A binary operator with an `any` operand (the other is a number, a
    /// string or an `any`): the result is an `any` (arithmetic) or a
    /// boolean (comparisons).
    pub(super) fn dynamic_binary(
        &mut self,
        op: BinOp,
        lhs: Expr,
        rhs: Expr,
        span: Span,
        symbol: &str,
    ) -> Checked<Expr> {
        let location = self.location(span);
        let operand = |checker: &mut Self, value: Expr| -> Checked<Expr> {
            match value.ty {
                Ty::Integer | Ty::Float | Ty::Any | Ty::String | Ty::Boolean | Ty::Null => {
                    checker.convert(value, Ty::Any, span)
                }
                other => Err(checker.error(Diagnostic::error(
                    span,
                    format!("`{symbol}` cannot be applied to {other}"),
                ))),
            }
        };
        if let Some(code) = arith_code(op) {
            let (lhs, rhs) = (operand(self, lhs)?, operand(self, rhs)?);
            return Ok(Expr {
                ty: Ty::Any,
                kind: ExprKind::Runtime {
                    symbol: "bs_any_arith",
                    args: vec![int(code), lhs, rhs],
                    location: Some(location),
                },
            });
        }
        if let Some(code) = compare_code(op) {
            let (lhs, rhs) = (operand(self, lhs)?, operand(self, rhs)?);
            return Ok(Expr {
                ty: Ty::Boolean,
                kind: ExprKind::Runtime {
                    symbol: "bs_any_compare",
                    args: vec![int(code), lhs, rhs],
                    location: Some(location),
                },
            });
        }
        Err(self.error(
            Diagnostic::error(
                span,
                format!("`{symbol}` cannot be applied to {} and {}", lhs.ty, rhs.ty),
            )
            .with_help(format!("`{symbol}` works on integers only, never `any`")),
        ))
    }

    /// `a === b` where either side is an `any`, or of two values of
    /// reference types: JavaScript's `===`.
    pub(super) fn equality(
        &mut self,
        lhs: Expr,
        rhs: Expr,
        negated: bool,
        span: Span,
        symbol: &str,
    ) -> Checked<Expr> {
        let result = |kind: ExprKind| Expr {
            ty: Ty::Boolean,
            kind,
        };
        let not = |value: Expr| {
            if negated {
                Expr {
                    ty: Ty::Boolean,
                    kind: ExprKind::Unary(UnOp::Not, Box::new(value)),
                }
            } else {
                value
            }
        };
        // `x == null`: one compare.
        if lhs.ty == Ty::Null || rhs.ty == Ty::Null {
            let (value, other) = if lhs.ty == Ty::Null {
                (rhs, lhs)
            } else {
                (lhs, rhs)
            };
            if !(value.ty.is_reference()) {
                return Err(self.error(Diagnostic::error(
                    span,
                    format!("a value of type {} is never null", value.ty),
                )));
            }
            let _ = other;
            return Ok(result(ExprKind::IsNull {
                value: Box::new(value),
                negated,
            }));
        }
        if lhs.ty == Ty::Boolean || rhs.ty == Ty::Boolean {
            // If one side is a boolean, so must the other be (LANGUAGE.md §7).
            return Err(self.error(Diagnostic::error(
                span,
                format!("`{symbol}` cannot be applied to {} and {}", lhs.ty, rhs.ty),
            )));
        }
        // A `string | null` (what `pop()` of a `string[]` gives) compares
        // by content too, as `any` values do.
        let nullable_string = (lhs.ty.non_null() == Ty::String && rhs.ty.non_null() == Ty::String)
            && (matches!(lhs.ty, Ty::Nullable(_)) || matches!(rhs.ty, Ty::Nullable(_)));
        if lhs.ty == Ty::Any || rhs.ty == Ty::Any || nullable_string {
            if lhs.ty == Ty::Void || rhs.ty == Ty::Void {
                return Err(self.error(Diagnostic::error(
                    span,
                    "this expression has no value (void)",
                )));
            }
            let lhs = self.convert(lhs, Ty::Any, span)?;
            let rhs = self.convert(rhs, Ty::Any, span)?;
            return Ok(not(result(ExprKind::Runtime {
                symbol: "bs_any_equals",
                args: vec![lhs, rhs],
                location: None,
            })));
        }
        // Objects: by identity, of related types only.
        let (l, r) = (lhs.ty.non_null(), rhs.ty.non_null());
        if l.is_object() && r.is_object() && (self.is_subtype(l, r) || self.is_subtype(r, l)) {
            let location = self.location(span);
            return Ok(result(ExprKind::Binary {
                op: if negated { BinOp::Ne } else { BinOp::Eq },
                operand_ty: Ty::Any,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                location,
            }));
        }
        Err(self.error(Diagnostic::error(
            span,
            format!("`{symbol}` cannot be applied to {} and {}", lhs.ty, rhs.ty),
        )))
    }

    /// Arguments of a call checked at run time: converted to `any`.
    pub(super) fn any_arguments(
        &mut self,
        arguments: &[&ast::Expression<'_>],
    ) -> Checked<Vec<Expr>> {
        let mut out = Vec::new();
        for argument in arguments {
            let value = self.expr(argument)?;
            out.push(self.convert(value, Ty::Any, argument.span())?);
        }
        Ok(out)
    }

    /// A call looked up at run time; `receiver` is the callee (or the
    /// object and, in `name`, the method).
    pub(super) fn dynamic_call(
        &mut self,
        symbol: &'static str,
        receiver: Vec<Expr>,
        args: Vec<Expr>,
        span: Span,
    ) -> Expr {
        let receiver = receiver.into_iter().next().expect("a receiver");
        Expr {
            ty: Ty::Any,
            kind: ExprKind::DynamicCall {
                symbol,
                receiver: Box::new(receiver),
                name: None,
                args,
                location: self.location(span),
            },
        }
    }

    /// `o.m(args)` with `o` an `any`.
    pub(super) fn dynamic_method_call(
        &mut self,
        object: Expr,
        name: &str,
        arguments: &[&ast::Expression<'_>],
        span: Span,
    ) -> Checked<Expr> {
        let args = self.any_arguments(arguments)?;
        Ok(Expr {
            ty: Ty::Any,
            kind: ExprKind::DynamicCall {
                symbol: "bs_any_call_method",
                receiver: Box::new(object),
                name: Some(name.to_string()),
                args,
                location: self.location(span),
            },
        })
    }

    /// `-x`, `~x` of an `any`.
    pub(super) fn dynamic_unary(&mut self, op: UnOp, value: Expr, span: Span) -> Expr {
        let symbol = match op {
            UnOp::Neg => "bs_any_neg",
            _ => "bs_any_bitnot",
        };
        Expr {
            ty: Ty::Any,
            kind: ExprKind::Runtime {
                symbol,
                args: vec![value],
                location: Some(self.location(span)),
            },
        }
    }
}
