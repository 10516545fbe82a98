//! Type annotations (`integer`, `T[]`, `T | null`, `(a: T) => U`, class
//! and enum names) as types.

use super::*;

impl<'s, 'a> Checker<'s, 'a> {
    pub(super) fn return_type(&mut self, ty: &ast::TSType<'_>) -> Checked<Ty> {
        if let ast::TSType::TSVoidKeyword(_) = ty {
            return Ok(Ty::Void);
        }
        self.value_type(ty)
    }

    pub(super) fn value_type(&mut self, ty: &ast::TSType<'_>) -> Checked<Ty> {
        let unsupported = |what: &str| Diagnostic::unsupported(ty.span(), what);
        match ty {
            ast::TSType::TSBooleanKeyword(_) => Ok(Ty::Boolean),
            // `number` is an alias of `integer` in BlueScript.
            ast::TSType::TSNumberKeyword(_) => Ok(Ty::Integer),
            ast::TSType::TSStringKeyword(_) => Ok(Ty::String),
            ast::TSType::TSAnyKeyword(_) => Ok(Ty::Any),
            ast::TSType::TSParenthesizedType(inner) => self.value_type(&inner.type_annotation),
            ast::TSType::TSArrayType(array) => {
                let element = self.value_type(&array.element_type)?;
                self.array_type(element, ty.span().into())
            }
            ast::TSType::TSUnionType(union) => self.union_type(union),
            ast::TSType::TSFunctionType(function) => self.function_type(function),
            // The type of `null` and `undefined` (LANGUAGE.md §1).
            ast::TSType::TSNullKeyword(_) | ast::TSType::TSUndefinedKeyword(_) => Ok(Ty::Null),
            ast::TSType::TSTypeReference(reference) => {
                let name = match &reference.type_name {
                    ast::TSTypeName::IdentifierReference(id) => id.name.as_str(),
                    _ => "",
                };
                if let Some(arguments) = &reference.type_arguments {
                    // `Array<T>`, the one generic type (LANGUAGE.md §3).
                    if name == "Array" && arguments.params.len() == 1 {
                        let element = self.value_type(&arguments.params[0])?;
                        return self.array_type(element, ty.span().into());
                    }
                    return Err(self.error(unsupported("generic types other than `Array<T>`")));
                }
                match name {
                    "integer" => Ok(Ty::Integer),
                    "int32" => Ok(Ty::Int32),
                    "float" => Ok(Ty::Float),
                    "Uint8Array" => Ok(Ty::Uint8Array),
                    "FixedArray" => Ok(Ty::FixedArray),
                    _ => match self.item(name) {
                        Some(Item::Enum(qualified)) => Ok(Ty::Enum(self.enums[&qualified].ty)),
                        Some(Item::Class(qualified)) => Ok(Ty::Class(Name::new(&qualified))),
                        Some(Item::Unresolved) => Err(Reported),
                        _ => Err(self.error(Diagnostic::error(
                            ty.span(),
                            format!(
                                "cannot find the type `{}`",
                                span_text(self.file(), ty.span().into())
                            ),
                        ))),
                    },
                }
            }
            ast::TSType::TSVoidKeyword(_) => {
                Err(self.error(Diagnostic::error(ty.span(), "`void` is only a return type")))
            }
            _ => Err(self.error(unsupported(&format!(
                "the type `{}`",
                span_text(self.file(), ty.span().into())
            )))),
        }
    }

    /// `T[]` (LANGUAGE.md §1: T is a number, boolean, string, class, array
    /// or `any`).
    pub(super) fn array_type(&mut self, element: Ty, span: Span) -> Checked<Ty> {
        match element {
            Ty::Void | Ty::Null => Err(self.error(Diagnostic::error(
                span,
                format!("there are no arrays of {element}"),
            ))),
            Ty::Enum(_) => Ok(Ty::array(Ty::Integer)),
            _ => Ok(Ty::array(element)),
        }
    }

    /// `T | null` or `T | undefined`, with T a reference type.
    fn union_type(&mut self, union: &ast::TSUnionType<'_>) -> Checked<Ty> {
        let mut inner = None;
        let mut nullable = false;
        for member in &union.types {
            match member {
                ast::TSType::TSNullKeyword(_) | ast::TSType::TSUndefinedKeyword(_) => {
                    nullable = true
                }
                other if inner.is_none() => inner = Some(self.value_type(other)?),
                other => {
                    return Err(self.error(
                        Diagnostic::unsupported(other.span(), "a union of two types")
                            .with_help("the only unions are `T | null` and `T | undefined`"),
                    ))
                }
            }
        }
        let (Some(inner), true) = (inner, nullable) else {
            return Err(self.error(Diagnostic::unsupported(
                union.span,
                "this union type (only `T | null` is supported)",
            )));
        };
        if inner == Ty::Any {
            return Ok(Ty::Any);
        }
        if !inner.is_object() {
            return Err(self.error(
                Diagnostic::error(union.span, format!("`{inner}` cannot be null"))
                    .with_help("only classes, `string`, arrays and functions may be nullable"),
            ));
        }
        Ok(Ty::nullable(inner))
    }

    /// `(a: integer, b: float) => boolean`.
    fn function_type(&mut self, function: &ast::TSFunctionType<'_>) -> Checked<Ty> {
        if let Some(parameters) = &function.type_parameters {
            return Err(self.error(Diagnostic::unsupported(
                parameters.span,
                "generic functions",
            )));
        }
        let params = self.parameters(&function.params)?;
        let ret = self.return_type(&function.return_type.type_annotation)?;
        Ok(Ty::function(Signature {
            params: params.into_iter().map(|p| p.1).collect(),
            ret,
        }))
    }
}
