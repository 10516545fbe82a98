//! Arrays (LANGUAGE.md §9): literals, construction, indexing, `length` and
//! the methods of growable arrays.

use super::*;

impl<'s, 'a> Checker<'s, 'a> {
    /// `[1, 2, 3]`: an array of the elements' most specific common type (or
    /// of `element`, when the context wants one), else `any[]`.
    pub(super) fn array_literal(
        &mut self,
        literal: &ast::ArrayExpression<'_>,
        element: Option<Ty>,
    ) -> Checked<Expr> {
        let mut values = Vec::new();
        for item in &literal.elements {
            let Some(expression) = item.as_expression() else {
                return Err(self.error(Diagnostic::unsupported(
                    item.span(),
                    "spread elements and holes in array literals",
                )));
            };
            values.push((
                match element {
                    Some(ty) => self.expr_to(expression, ty)?,
                    None => self.expr(expression)?,
                },
                expression.span(),
            ));
        }
        let element = match element {
            Some(ty) => ty,
            None => self.common_type(values.iter().map(|v| v.0.ty)),
        };
        let ty = self.array_type(element, literal.span.into())?;
        let element = match ty {
            Ty::Array(element) => *element,
            _ => element,
        };
        let mut elements = Vec::new();
        for (value, span) in values {
            elements.push(self.convert(value, element, span)?);
        }
        Ok(Expr {
            ty,
            kind: ExprKind::ArrayLiteral(elements, self.location(literal.span)),
        })
    }

    /// The most specific type of which every one of `types` is: integers
    /// and floats make float, a class and its subclass the superclass,
    /// `null` and a reference type the nullable type; otherwise `any`.
    pub(super) fn common_type(&self, types: impl Iterator<Item = Ty>) -> Ty {
        let mut common: Option<Ty> = None;
        for ty in types {
            let ty = match ty {
                Ty::Enum(_) | Ty::Int32 => Ty::Integer,
                other => other,
            };
            common = Some(match common {
                None => ty,
                Some(c) if c == ty => c,
                Some(c) if c.is_numeric() && ty.is_numeric() => Ty::Float,
                Some(c) if self.is_subtype(ty, c.non_null()) => c,
                Some(c) if self.is_subtype(c.non_null(), ty) => match c {
                    Ty::Nullable(_) => Ty::nullable(ty),
                    _ => ty,
                },
                Some(c)
                    if self
                        .common_superclass(c.non_null(), ty.non_null())
                        .is_some() =>
                {
                    let class = self
                        .common_superclass(c.non_null(), ty.non_null())
                        .expect("checked");
                    if matches!(c, Ty::Nullable(_)) || matches!(ty, Ty::Nullable(_)) {
                        Ty::nullable(class)
                    } else {
                        class
                    }
                }
                Some(Ty::Null) if ty.is_object() || matches!(ty, Ty::Nullable(_)) => {
                    Ty::nullable(ty)
                }
                Some(c) if ty == Ty::Null && (c.is_object() || matches!(c, Ty::Nullable(_))) => {
                    Ty::nullable(c)
                }
                Some(_) => Ty::Any,
            });
        }
        match common {
            None | Some(Ty::Null) | Some(Ty::Void) => Ty::Any,
            Some(ty) => ty,
        }
    }

    /// The nearest class of which both `a` and `b` are instances.
    fn common_superclass(&self, a: Ty, b: Ty) -> Option<Ty> {
        let (Ty::Class(_), Ty::Class(mut ancestor)) = (a, b) else {
            return None;
        };
        loop {
            if self.is_subtype(a, Ty::Class(ancestor)) {
                return Some(Ty::Class(ancestor));
            }
            ancestor = self.classes.get(ancestor.qualified())?.superclass?;
        }
    }

    /// `new Array<T>(n, init)`, `new Array<T>(other)`, `new Uint8Array(n)`,
    /// `new FixedArray(n, init)`.
    pub(super) fn new_array(
        &mut self,
        ty: Ty,
        arguments: &[&ast::Expression<'_>],
        span: Span,
    ) -> Checked<Expr> {
        let location = self.location(span);
        let element = match ty {
            Ty::Array(element) => *element,
            Ty::Uint8Array => Ty::Integer,
            _ => Ty::Any,
        };
        let (length, init) = match arguments {
            [source] if ty != Ty::Uint8Array && ty != Ty::FixedArray => {
                let value = self.expr(source)?;
                if matches!(
                    value.ty,
                    Ty::Array(_) | Ty::Uint8Array | Ty::FixedArray | Ty::Any
                ) {
                    // An `any` holding an integer is a length, where the
                    // elements may start as zeros (LANGUAGE.md §9).
                    let or_length = value.ty == Ty::Any && self.has_default(element);
                    let value = self.convert(value, Ty::Any, source.span())?;
                    return Ok(Expr {
                        ty,
                        kind: ExprKind::CopyArray {
                            source: Box::new(value),
                            location,
                            or_length,
                        },
                    });
                }
                self.default_init(ty, element, span)?;
                (self.convert(value, Ty::Integer, source.span())?, None)
            }
            // `Uint8Array` and `FixedArray` start zeroed or undefined.
            [length] => (self.expr_to(length, Ty::Integer)?, None),
            [length, init] => (
                self.expr_to(length, Ty::Integer)?,
                Some(Box::new(self.expr_to(init, element)?)),
            ),
            _ => {
                return Err(self.error(Diagnostic::error(
                    span,
                    format!(
                        "`new {ty}` takes a length and an initial element, or an array to copy"
                    ),
                )));
            }
        };
        Ok(Expr {
            ty,
            kind: ExprKind::NewArray {
                length: Box::new(length),
                init,
                location,
            },
        })
    }

    /// `new Array<T>(n)` without an initial element: only where a zero is
    /// a value of `T` (LANGUAGE.md §9).
    fn default_init(&mut self, ty: Ty, element: Ty, span: Span) -> Checked<()> {
        match element {
            _ if self.has_default(element) => Ok(()),
            _ => Err(self.error(
                Diagnostic::error(span, format!("`new {ty}(n)` needs an initial element"))
                    .with_help(format!("give one: `new Array<{element}>(n, …)`")),
            )),
        }
    }

    /// Whether a zero is a value of `element`: `0`, `0.0`, `false`,
    /// `undefined`.
    fn has_default(&self, element: Ty) -> bool {
        matches!(
            element,
            Ty::Integer | Ty::Int32 | Ty::Float | Ty::Boolean | Ty::Any | Ty::Nullable(_)
        )
    }

    /// `a[i]`: an element of a typed array (bounds-checked), of an `any[]`
    /// or of an `any` (checked at run time).
    pub(super) fn index_place(
        &mut self,
        member: &ast::ComputedMemberExpression<'_>,
    ) -> Checked<(Place, Ty)> {
        let span: Span = member.span.into();
        if member.optional {
            return Err(self.error(Diagnostic::unsupported(span, "optional indexing (`?.[]`)")));
        }
        let array = self.expr(&member.object)?;
        let location = self.location(span);
        // `any[]` may be any array at run time; an `any`'s index is an `any`.
        let dynamic_index = match array.ty {
            Ty::Array(element) if *element == Ty::Any => Some(Ty::Integer),
            Ty::Any => Some(Ty::Any),
            _ => None,
        };
        if let Some(index_ty) = dynamic_index {
            let index = self.expr_to(&member.expression, index_ty)?;
            return Ok((
                Place::DynamicElement {
                    array: Box::new(array),
                    index: Box::new(index),
                    location,
                },
                Ty::Any,
            ));
        }
        match array.ty {
            Ty::Array(_) | Ty::Uint8Array | Ty::FixedArray => {
                let element = match array.ty {
                    Ty::Array(element) => *element,
                    Ty::Uint8Array => Ty::Integer,
                    _ => Ty::Any,
                };
                let index = self.expr_to(&member.expression, Ty::Integer)?;
                Ok((
                    Place::Element {
                        array: Box::new(array),
                        index: Box::new(index),
                        location,
                    },
                    element,
                ))
            }
            Ty::String => Err(self.error(
                Diagnostic::unsupported(span, "indexing a string")
                    .with_help("use `s.charCodeAt(i)` or `s.substring(i, i + 1)`"),
            )),
            Ty::Nullable(_) => Err(self.error(
                Diagnostic::error(
                    span,
                    format!("this array may be null (its type is {})", array.ty),
                )
                .with_help("check it first: `if (a != null) { … }`"),
            )),
            other => Err(self.error(Diagnostic::error(
                span,
                format!("a value of type {other} cannot be indexed"),
            ))),
        }
    }

    /// `a.push(v)`, `a.pop()`, `a.shift()`, `a.unshift(v)` of an array.
    pub(super) fn array_method(
        &mut self,
        array: Expr,
        method: &str,
        arguments: &[&ast::Expression<'_>],
        span: Span,
        name_span: Span,
    ) -> Checked<Expr> {
        let element = match array.ty {
            Ty::Array(element) => *element,
            _ => Ty::Any,
        };
        let growable = matches!(array.ty, Ty::Array(_)) && element.is_reference();
        let (symbol, takes_value) = match method {
            "push" => ("bs_array_push", true),
            "unshift" => ("bs_array_unshift", true),
            "pop" => ("bs_array_pop", false),
            "shift" => ("bs_array_shift", false),
            _ => {
                return Err(self.error(Diagnostic::error(
                    name_span,
                    format!("arrays have no method `{method}`"),
                )))
            }
        };
        if !growable {
            return Err(self.error(
                Diagnostic::error(name_span, format!("`{method}` of a fixed-length {}", array.ty))
                    .with_help("arrays of integers, floats and booleans, Uint8Array and FixedArray have a fixed length"),
            ));
        }
        self.arity(method, arguments, usize::from(takes_value), span)?;
        let location = Some(self.location(span));
        if takes_value {
            let value = self.expr_to(arguments[0], element)?;
            // `any[]` may be any array at run time: the runtime checks.
            let value = self.convert(value, Ty::Any, arguments[0].span())?;
            return Ok(Expr {
                ty: Ty::Integer,
                kind: ExprKind::Runtime {
                    symbol,
                    args: vec![array, value],
                    location,
                },
            });
        }
        let value = Expr {
            ty: Ty::Any,
            kind: ExprKind::Runtime {
                symbol,
                args: vec![array],
                location: location.clone(),
            },
        };
        // A value the array held, or `undefined` when it was empty
        // (LANGUAGE.md §9): its type is `T | undefined`.
        Ok(Expr {
            ty: Ty::nullable(element),
            ..value
        })
    }
}
