//! `object.property` and `new …`: what the object's static type says the
//! property is.

use super::*;

impl<'s, 'a> Checker<'s, 'a> {
    /// `x.length` of a string or an array (`None` for other objects).
    pub(super) fn length(
        &mut self,
        member: &ast::StaticMemberExpression<'_>,
    ) -> Checked<Option<Expr>> {
        if member.property.name != "length" || self.static_class(&member.object).is_some() {
            return Ok(None);
        }
        let object = self.expr(&member.object)?;
        Ok(match object.ty {
            Ty::String => Some(Expr {
                ty: Ty::Integer,
                kind: ExprKind::Runtime {
                    symbol: "bs_string_length",
                    args: vec![object],
                    location: None,
                },
            }),
            Ty::Array(_) | Ty::Uint8Array | Ty::FixedArray => Some(Expr {
                ty: Ty::Integer,
                kind: ExprKind::ArrayLength(Box::new(object)),
            }),
            _ => None,
        })
    }

    /// The class `C` when `object` names it (for `C.k`, `C.f()`).
    pub(super) fn static_class(&self, object: &ast::Expression<'_>) -> Option<String> {
        match self.builtin_object(object) {
            Some(Builtin::Class(qualified)) => Some(qualified),
            _ => None,
        }
    }

    /// `object.name` as a place: a field, a static property, or a property
    /// of an `any` looked up at run time.
    pub(super) fn member_place(
        &mut self,
        member: &ast::StaticMemberExpression<'_>,
    ) -> Checked<(Place, Ty)> {
        let span: Span = member.span.into();
        let name = member.property.name.as_str();
        if member.optional {
            return Err(self.error(Diagnostic::unsupported(span, "optional chaining (`?.`)")));
        }
        if let Some(class) = self.static_class(&member.object) {
            return self.static_place(&class, name, member.property.span.into());
        }
        let object = self.expr(&member.object)?;
        match object.ty {
            Ty::Class(class) => self.field_place(object, class, name, member.property.span.into()),
            Ty::Any => Ok((
                Place::DynamicProperty {
                    object: Box::new(object),
                    name: name.to_string(),
                    location: self.location(span),
                },
                Ty::Any,
            )),
            Ty::Nullable(_) => Err(self.error(
                Diagnostic::error(
                    member.object.span(),
                    format!("this value may be null (its type is {})", object.ty),
                )
                .with_help("check it first: `if (x != null) { … }`"),
            )),
            other => Err(self.error(Diagnostic::error(
                member.property.span,
                format!("{other} has no property `{name}`"),
            ))),
        }
    }

    /// `new C(…)`, `new Array<T>(…)`, `new Uint8Array(…)`, `new FixedArray(…)`;
    /// `array` is the array type the context wants, which `new Array(…)`
    /// without a type argument makes (else an `any[]`).
    pub(super) fn new_expression(
        &mut self,
        new: &ast::NewExpression<'_>,
        array: Option<Ty>,
    ) -> Checked<Expr> {
        let span: Span = new.span.into();
        let mut arguments = Vec::new();
        for argument in &new.arguments {
            match argument.as_expression() {
                Some(expression) => arguments.push(expression),
                None => {
                    return Err(
                        self.error(Diagnostic::unsupported(argument.span(), "spread arguments"))
                    )
                }
            }
        }
        let ast::Expression::Identifier(id) = new.callee.without_parentheses() else {
            return Err(self.error(Diagnostic::unsupported(
                new.callee.span(),
                "`new` of anything but a class name",
            )));
        };
        let name = id.name.as_str();
        let type_arguments = new.type_arguments.as_ref().map(|a| &a.params);
        match (name, type_arguments) {
            ("Array", Some(params)) if params.len() == 1 => {
                let element = self.value_type(&params[0])?;
                let ty = self.array_type(element, span)?;
                self.new_array(ty, &arguments, span)
            }
            // Without a type argument: an `any[]` (LANGUAGE.md §9).
            ("Array", None) => {
                let ty = array.unwrap_or(Ty::array(Ty::Any));
                self.new_array(ty, &arguments, span)
            }
            ("Array", Some(_)) => Err(self.error(
                Diagnostic::error(span, "`new Array` takes one element type")
                    .with_help("write `new Array<integer>(n, 0)`"),
            )),
            ("Uint8Array", None) => self.new_array(Ty::Uint8Array, &arguments, span),
            ("FixedArray", None) => self.new_array(Ty::FixedArray, &arguments, span),
            (_, Some(_)) => Err(self.error(Diagnostic::unsupported(span, "generic classes"))),
            _ => match self.item(name) {
                Some(Item::Class(qualified)) => self.new_object(&qualified, &arguments, span),
                Some(Item::Unresolved) => Err(Reported),
                _ => Err(self.error(Diagnostic::error(
                    id.span,
                    format!("cannot find the class `{name}`"),
                ))),
            },
        }
    }
}

impl<'s, 'a> Checker<'s, 'a> {
    /// `x instanceof C` (a class, `Array`, `string`).
    pub(super) fn instance_of(&mut self, binary: &ast::BinaryExpression<'_>) -> Checked<Expr> {
        let value = self.expr(&binary.left)?;
        let ast::Expression::Identifier(id) = binary.right.without_parentheses() else {
            return Err(self.error(Diagnostic::error(
                binary.right.span(),
                "`instanceof` needs a class name, `Array` or `string`",
            )));
        };
        let ty = match id.name.as_str() {
            "Array" => Ty::array(Ty::Any),
            "string" | "String" => Ty::String,
            name => match self.static_class(&binary.right) {
                Some(qualified) => Ty::Class(Name::new(&qualified)),
                None => {
                    return Err(self.error(Diagnostic::error(
                        id.span,
                        format!("cannot find the class `{name}`"),
                    )))
                }
            },
        };
        if !value.ty.is_reference() {
            return Err(self.error(Diagnostic::error(
                binary.left.span(),
                format!("a value of type {} is no object", value.ty),
            )));
        }
        Ok(Expr {
            ty: Ty::Boolean,
            kind: ExprKind::InstanceOf(Box::new(value), ty),
        })
    }
}
