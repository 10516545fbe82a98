//! Implicit conversions (LANGUAGE.md §1): what a value of one type may be
//! used as, and the IR that converts it; truthiness; the common type of two
//! values.

use super::*;

impl<'s, 'a> Checker<'s, 'a> {
    pub(super) fn truthy(&mut self, value: Expr, span: Span) -> Checked<Expr> {
        let value = widen(value);
        match value.ty {
            Ty::Boolean => Ok(value),
            Ty::Void => Err(self.error(Diagnostic::error(
                span,
                "this expression has no value (void)",
            ))),
            _ => Ok(Expr {
                ty: Ty::Boolean,
                kind: ExprKind::Truthy(Box::new(value)),
            }),
        }
    }

    /// An implicit conversion to `to` (LANGUAGE.md §1): the same type, an
    /// integer where a float is expected, a subclass where its superclass
    /// is, `null` or `T` where `T | null` is, anything to `any` and back
    /// (checked at run time), any array to `any[]`.
    pub(super) fn convert(&mut self, value: Expr, to: Ty, span: impl Into<Span>) -> Checked<Expr> {
        let span = span.into();
        let from = value.ty;
        if from == to {
            return Ok(value);
        }
        // The same word seen as another type (the value's own type still
        // decides, say, which descriptor a literal gets).
        let retyped = |value: Expr| Expr {
            ty: to,
            kind: ExprKind::Retyped(Box::new(value)),
        };
        match (from, to) {
            // An enum is a subtype of integer (LANGUAGE.md §6).
            (Ty::Int32, Ty::Any) | (Ty::Any, Ty::Int32) => Err(self.error(
                Diagnostic::error(span, format!("expected a value of type {to}, found {from}"))
                    .with_help(
                        "an int32 never converts to `any`, which keeps 30 bits of an integer",
                    ),
            )),
            (Ty::Enum(_) | Ty::Int32, _) if to.is_numeric() || to == Ty::Any || to == Ty::Int32 => {
                self.convert(widen(value), to, span)
            }
            (Ty::Integer, Ty::Int32) => Ok(Expr { ty: to, ..value }),
            (Ty::Integer, Ty::Float) => Ok(int_to_float(value)),
            (Ty::Void, _) => Err(self.error(Diagnostic::error(
                span,
                "this expression has no value (void)",
            ))),
            (_, Ty::Any) => Ok(Expr {
                ty: Ty::Any,
                kind: match value.kind {
                    ExprKind::Null => ExprKind::Null,
                    _ if from.is_reference() => return Ok(retyped(value)),
                    _ => ExprKind::ToAny(Box::new(value)),
                },
            }),
            // By truthiness, never an error (LANGUAGE.md §7a).
            (Ty::Any, Ty::Boolean) => self.truthy(value, span),
            // An `any` is assignable to an enum unchecked (LANGUAGE.md §6).
            (Ty::Any, Ty::Enum(_)) => Ok(retyped(self.convert(value, Ty::Integer, span)?)),
            (Ty::Any, _) if to != Ty::Void => {
                let location = self.location(span);
                Ok(Expr {
                    ty: to,
                    kind: ExprKind::FromAny(Box::new(value), location),
                })
            }
            (Ty::Null, Ty::Nullable(_)) => Ok(retyped(value)),
            (_, Ty::Nullable(inner)) if self.is_subtype(from.non_null(), *inner) => {
                Ok(retyped(value))
            }
            (Ty::Array(_) | Ty::Uint8Array | Ty::FixedArray, Ty::Array(element))
                if *element == Ty::Any =>
            {
                // Any array may be viewed as `any[]` (LANGUAGE.md §9).
                Ok(retyped(value))
            }
            _ if self.is_subtype(from, to) => Ok(retyped(value)),
            (Ty::Nullable(inner), _) if self.is_subtype(*inner, to) => Err(self.error(
                Diagnostic::error(span, format!("this value may be null (its type is {from})"))
                    .with_help("check it first: `if (x != null) { … }`"),
            )),
            (Ty::Function(_), Ty::Function(_)) => Err(self.error(
                Diagnostic::error(
                    span,
                    format!("expected a function of type {to}, found {from}"),
                )
                .with_help("function types must match exactly, parameter and return types alike"),
            )),
            _ => Err(self.error(Diagnostic::error(
                span,
                format!("expected a value of type {to}, found {from}"),
            ))),
        }
    }

    /// The type of both `a` and `b` values, where they are references
    /// (`null`, classes, strings, arrays, or those nullable) of different
    /// types: `T | null` for `null` and a `T`, the nearest common
    /// superclass of two classes (nullable if either is), `any` for two
    /// unrelated types. `None` where either is no reference.
    pub(super) fn common_reference(&self, a: Ty, b: Ty) -> Option<Ty> {
        let reference = |t: Ty| t.is_reference() && t != Ty::Any && !matches!(t, Ty::Function(_));
        if !reference(a) || !reference(b) {
            return None;
        }
        let nullable = |t: Ty| t == Ty::Null || t != t.non_null();
        let (a_inner, b_inner) = (a.non_null(), b.non_null());
        let inner = match (a_inner, b_inner) {
            (Ty::Null, other) | (other, Ty::Null) => other,
            (x, y) if x == y => x,
            (Ty::Class(_), Ty::Class(_)) => {
                let mut common = a_inner;
                while !self.is_subtype(b_inner, common) {
                    let Ty::Class(class) = common else {
                        return Some(Ty::Any);
                    };
                    match self
                        .classes
                        .get(class.qualified())
                        .and_then(|c| c.superclass)
                    {
                        Some(superclass) => common = Ty::Class(superclass),
                        None => return Some(Ty::Any),
                    }
                }
                common
            }
            _ => return Some(Ty::Any),
        };
        Some(if nullable(a) || nullable(b) {
            Ty::nullable(inner)
        } else {
            inner
        })
    }

    /// Whether a `from` is a `to` without conversion: a class and its
    /// superclasses.
    pub(super) fn is_subtype(&self, from: Ty, to: Ty) -> bool {
        if from == to {
            return true;
        }
        let (Ty::Class(mut class), Ty::Class(target)) = (from, to) else {
            return false;
        };
        while let Some(superclass) = self
            .classes
            .get(class.qualified())
            .and_then(|c| c.superclass)
        {
            if superclass == target {
                return true;
            }
            class = superclass;
        }
        false
    }

    /// `expression` converted to `ty`, typed with `ty` in mind: an array
    /// literal gets `ty`'s element type, an arrow function `ty`'s parameter
    /// types.
    pub(super) fn expr_to(&mut self, expression: &ast::Expression<'_>, ty: Ty) -> Checked<Expr> {
        let value = match (expression.without_parentheses(), ty.non_null()) {
            (ast::Expression::ArrayExpression(literal), Ty::Array(element)) => {
                self.array_literal(literal, Some(*element))?
            }
            (ast::Expression::ArrowFunctionExpression(arrow), Ty::Function(signature)) => {
                self.arrow(arrow, Some(&signature))?
            }
            // `new Array(n)` makes the array type wanted here, as an
            // `any[]` converts to it in TypeScript.
            (ast::Expression::NewExpression(new), array @ Ty::Array(_)) => {
                self.new_expression(new, Some(array))?
            }
            _ => self.expr(expression)?,
        };
        self.convert(value, ty, expression.span())
    }

    /// Two values that must share a type (`?:` branches, `&&`/`||` operands).
    pub(super) fn unify(&mut self, a: Expr, b: Expr, span: Span) -> Checked<(Expr, Expr, Ty)> {
        if a.ty == b.ty {
            let ty = a.ty;
            return Ok((a, b, ty));
        }
        // An enum and an integer (or another enum) have integer in common.
        let (a, b) = (widen(a), widen(b));
        if a.ty == b.ty {
            let ty = a.ty;
            return Ok((a, b, ty));
        }
        if a.ty.is_numeric() && b.ty.is_numeric() {
            return Ok((to_float(a), to_float(b), Ty::Float));
        }
        if a.ty == Ty::Void || b.ty == Ty::Void {
            return Err(self.error(Diagnostic::error(
                span,
                "this expression has no value (void)",
            )));
        }
        // Related references, `null` and a reference, else `any`.
        let ty = self.common_type([a.ty, b.ty].into_iter());
        let a = self.convert(a, ty, span)?;
        let b = self.convert(b, ty, span)?;
        Ok((a, b, ty))
    }
}

/// An enum value seen as the integer it is (LANGUAGE.md §6); any other
/// value unchanged.
pub(super) fn widen(value: Expr) -> Expr {
    match value.ty {
        Ty::Enum(_) | Ty::Int32 => Expr {
            ty: Ty::Integer,
            ..value
        },
        _ => value,
    }
}

/// `null` / `undefined`.
pub(super) fn null() -> Expr {
    Expr {
        ty: Ty::Null,
        kind: ExprKind::Null,
    }
}

/// The type inferred for `let x = null`: `any`, as TypeScript infers.
pub(super) fn null_as_any(value: Expr) -> Expr {
    if value.ty == Ty::Null {
        Expr {
            ty: Ty::Any,
            ..value
        }
    } else {
        value
    }
}

pub(super) fn int_to_float(value: Expr) -> Expr {
    Expr {
        ty: Ty::Float,
        kind: ExprKind::IntToFloat(Box::new(value)),
    }
}

pub(super) fn to_float(value: Expr) -> Expr {
    if value.ty == Ty::Integer {
        int_to_float(value)
    } else {
        value
    }
}
