//! `x as T` (LANGUAGE.md §7a): what an implicit conversion allows, plus
//! the explicit ones: a float truncated to an integer, a downcast and a
//! non-null assertion (both checked at run time). Anything else is an error.

use super::*;

impl<'s, 'a> Checker<'s, 'a> {
    pub(super) fn cast(&mut self, value: Expr, to: Ty, span: Span) -> Checked<Expr> {
        let from = value.ty;
        if from == Ty::Float && matches!(to, Ty::Integer | Ty::Int32) {
            return Ok(truncate(value, to));
        }
        if from != to && self.is_checked_cast(from, to) {
            // The runtime's `any` conversion checks the class (or that the
            // value is not null) and reports `expected D, found B`.
            let location = self.location(span);
            let any = Expr {
                ty: Ty::Any,
                kind: ExprKind::Retyped(Box::new(value)),
            };
            return Ok(Expr {
                ty: to,
                kind: ExprKind::FromAny(Box::new(any), location),
            });
        }
        self.convert(value, to, span)
    }

    /// Whether `x as to` with `x: from` is a conversion checked at run time:
    /// to a subclass, out of `T | null`, or from `any[]` to another array
    /// type (LANGUAGE.md §7a). Upcasts are implicit conversions.
    fn is_checked_cast(&self, from: Ty, to: Ty) -> bool {
        let narrower = |checker: &Self, to: Ty, from: Ty| {
            let any_array = Ty::array(Ty::Any);
            (checker.is_subtype(to, from) && to != from)
                || (from == any_array
                    && matches!(to, Ty::Array(_) | Ty::Uint8Array | Ty::FixedArray)
                    && to != any_array)
        };
        match (from, to) {
            // A non-null assertion, to the type or a supertype or subtype.
            (Ty::Nullable(inner), _) if !matches!(to, Ty::Nullable(_)) => {
                self.is_subtype(*inner, to) || *inner == to || narrower(self, to, *inner)
            }
            // A downcast that lets null through.
            (_, Ty::Nullable(target)) => narrower(self, *target, from.non_null()),
            _ => narrower(self, to, from),
        }
    }
}

/// A float truncated toward zero (`4.7 as integer` is 4), as `as integer`
/// and compound assignments to integer places do.
pub(super) fn truncate(value: Expr, to: Ty) -> Expr {
    Expr {
        ty: to,
        kind: ExprKind::FloatToInt(Box::new(value)),
    }
}
