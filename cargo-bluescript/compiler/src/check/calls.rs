//! Calls of script functions, drivers, built-ins, methods and function
//! values, and their arguments.

use super::*;

impl<'s, 'a> Checker<'s, 'a> {
    pub(super) fn call(&mut self, call: &ast::CallExpression<'_>) -> Checked<Expr> {
        let span: Span = call.span.into();
        if call.optional {
            return Err(self.error(Diagnostic::unsupported(span, "optional calls (`?.`)")));
        }
        let mut arguments = Vec::new();
        for argument in &call.arguments {
            match argument.as_expression() {
                Some(expression) => arguments.push(expression),
                None => {
                    return Err(
                        self.error(Diagnostic::unsupported(argument.span(), "spread arguments"))
                    )
                }
            }
        }
        if print_target(&call.callee).is_some() {
            return Err(self.error(Diagnostic::error(
                span,
                "console.log/print returns nothing: call it as a statement",
            )));
        }
        match call.callee.without_parentheses() {
            ast::Expression::Identifier(id) => {
                let name = id.name.as_str();
                let item = if self.lookup_local(name).is_some() || self.is_captured(name) {
                    None
                } else {
                    Some(self.item(name))
                };
                match item {
                    None | Some(Some(Item::Global { .. })) => {
                        let callee = self.expr(&call.callee)?;
                        self.call_value(callee, &arguments, span)
                    }
                    Some(Some(Item::Enum(_) | Item::Class(_))) => Err(self.error(
                        Diagnostic::error(id.span, format!("`{name}` is not a function"))
                            .with_help("a class makes instances with `new`"),
                    )),
                    Some(None) if TIMER_BUILTINS.contains(&name) => {
                        self.timer_call(name, &arguments, span)
                    }
                    Some(Some(Item::Unresolved)) => Err(Reported),
                    Some(Some(Item::Function(qualified))) => {
                        let signature = self.function_signature(&qualified, id.span.into())?;
                        let args = self.arguments(name, &signature, &arguments, span)?;
                        self.context().references.insert(qualified.clone());
                        Ok(Expr {
                            ty: signature.ret,
                            kind: ExprKind::CallScript {
                                name: qualified,
                                signature,
                                args,
                            },
                        })
                    }
                    Some(Some(Item::Driver(export))) => {
                        let args = self.arguments(name, &export.signature, &arguments, span)?;
                        Ok(Expr {
                            ty: export.signature.ret,
                            kind: ExprKind::CallExport {
                                name: export.name.clone(),
                                args,
                            },
                        })
                    }
                    Some(None) => Err(self.error(Diagnostic::error(
                        id.span,
                        format!("cannot find function `{name}`"),
                    ))),
                }
            }
            ast::Expression::Super(_) => self.super_call(&arguments, span),
            ast::Expression::StaticMemberExpression(member) => {
                let object = match self.builtin_object(&member.object) {
                    Some(Builtin::Named(name)) => name,
                    Some(Builtin::Unresolved) => return Err(Reported),
                    _ => "",
                };
                if object.is_empty() {
                    if let Some(value) = self.method_call(member, &arguments, span)? {
                        return Ok(value);
                    }
                }
                match (object, member.property.name.as_str()) {
                    ("Math", function) if MathFn::from_name(function).is_some() => {
                        let function = MathFn::from_name(function).expect("a Math function");
                        self.math_call(function, &arguments, span)
                    }
                    ("time", "now") => {
                        self.arity("time.now", &arguments, 0, span)?;
                        Ok(Expr {
                            ty: Ty::Float,
                            kind: ExprKind::TimeNow,
                        })
                    }
                    ("String", "fromCharCode") => {
                        self.arity("String.fromCharCode", &arguments, 1, span)?;
                        let code = self.expr(arguments[0])?;
                        let code = self.convert(code, Ty::Integer, arguments[0].span())?;
                        Ok(Expr {
                            ty: Ty::String,
                            kind: ExprKind::Runtime {
                                symbol: "bs_string_from_char_code",
                                args: vec![code],
                                location: Some(self.location(span)),
                            },
                        })
                    }
                    ("", _) => self.string_method(member, &arguments, span),
                    ("time", "delay") => {
                        self.arity("time.delay", &arguments, 1, span)?;
                        let ms = self.expr(arguments[0])?;
                        let ms = self.convert(ms, Ty::Integer, arguments[0].span())?;
                        Ok(Expr {
                            ty: Ty::Void,
                            kind: ExprKind::TimeDelay(Box::new(ms)),
                        })
                    }
                    _ => Err(self.error(Diagnostic::unsupported(
                        call.callee.span(),
                        &format!(
                            "calling `{}`",
                            span_text(self.file(), call.callee.span().into())
                        ),
                    ))),
                }
            }
            _ => {
                let callee = self.expr(&call.callee)?;
                self.call_value(callee, &arguments, span)
            }
        }
    }

    pub(super) fn arity(
        &mut self,
        name: &str,
        arguments: &[&ast::Expression<'_>],
        expected: usize,
        span: Span,
    ) -> Checked<()> {
        if arguments.len() == expected {
            return Ok(());
        }
        Err(self.error(Diagnostic::error(
            span,
            format!(
                "`{name}` takes {expected} argument{}, but {} {} given",
                if expected == 1 { "" } else { "s" },
                arguments.len(),
                if arguments.len() == 1 { "was" } else { "were" }
            ),
        )))
    }

    pub(super) fn arguments(
        &mut self,
        name: &str,
        signature: &Signature,
        arguments: &[&ast::Expression<'_>],
        span: Span,
    ) -> Checked<Vec<Expr>> {
        self.arity(name, arguments, signature.params.len(), span)?;
        let mut out = Vec::new();
        for (argument, ty) in arguments.iter().zip(&signature.params) {
            out.push(self.expr_to(argument, *ty)?);
        }
        Ok(out)
    }
}
