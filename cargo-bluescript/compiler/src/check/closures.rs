//! Arrow functions as closures, functions as values, and calls of function
//! values (LANGUAGE.md §4).
//!
//! An arrow function is lifted to a function of its own (`<enclosing>$<n>`)
//! whose first parameter is the closure. The locals it captures live in
//! cells shared with the enclosing function (captured by reference, as in
//! TypeScript): `function_body` finds them and checks the enclosing body
//! again with those locals in cells.

use super::*;

impl<'s, 'a> Checker<'s, 'a> {
    /// `(a: integer) => a + 1`: a closure. `expected` is the function type
    /// the context wants, which gives unannotated parameters their types.
    pub(super) fn arrow(
        &mut self,
        arrow: &ast::ArrowFunctionExpression<'_>,
        expected: Option<&Signature>,
    ) -> Checked<Expr> {
        let span: Span = arrow.span.into();
        if arrow.r#async {
            return Err(self.error(Diagnostic::unsupported(span, "`async` arrow functions")));
        }
        if let Some(parameters) = &arrow.type_parameters {
            return Err(self.error(Diagnostic::unsupported(
                parameters.span,
                "generic functions",
            )));
        }
        let mut params = self.parameters(&arrow.params)?;
        if let Some(expected) = expected {
            if expected.params.len() == params.len() {
                for (i, param) in arrow.params.items.iter().enumerate() {
                    if param.type_annotation.is_none() {
                        params[i].1 = expected.params[i];
                    }
                }
            }
        }
        let declared = match &arrow.return_type {
            Some(annotation) => {
                ReturnType::Declared(self.return_type(&annotation.type_annotation)?)
            }
            None => match expected {
                Some(expected) if expected.params.len() == params.len() => {
                    ReturnType::Declared(expected.ret)
                }
                _ => ReturnType::Inferred(None),
            },
        };
        let name = self.arrow_name();
        self.function_module.insert(name.clone(), self.current);
        let function = self.function_body(
            name.clone(),
            params,
            declared,
            |checker| match &arrow.body {
                ast::ArrowFunctionBody::FunctionBody(body) => checker.statements(&body.statements),
                body => {
                    let expression = body.as_expression().expect("expression-bodied arrow");
                    checker.arrow_expression_body(expression)
                }
            },
            span,
            true,
        )?;
        let captures = std::mem::take(&mut self.pending_captures);
        if let ast::ArrowFunctionBody::FunctionBody(body) = &arrow.body {
            let at = arrow
                .return_type
                .as_ref()
                .map_or(span, |r| r.type_annotation.span().into());
            let ret = function.signature.ret;
            let _ = self.check_ending_return("this arrow function", ret, &body.statements, at);
        }
        // Closures made earlier call the function through its slot with
        // their own captures: a version capturing other variables (or
        // taking other parameters) is a different function, in a slot of
        // its own.
        let shape: Vec<String> = captures
            .iter()
            .map(|(name, _)| name.clone())
            .chain(std::iter::once(function.signature.to_string()))
            .collect();
        let name = format!(
            "{name}#{:04x}",
            fingerprint_parts(shape.iter().map(String::as_str)) & 0xffff
        );
        let mut function = function;
        function.name = name.clone();
        self.function_module.insert(name.clone(), self.current);
        let ty = Ty::function(function.signature.clone());
        self.functions.insert(
            name.clone(),
            FunctionState::Done(function.signature.clone()),
        );
        self.checked.insert(name.clone(), function);
        self.context().references.insert(name.clone());
        Ok(Expr {
            ty,
            kind: ExprKind::Closure {
                function: name,
                captures: captures.into_iter().map(|c| c.1).collect(),
                location: self.location(span),
            },
        })
    }

    /// The type of an arrow whose parameters and return type are all
    /// annotated, known before its body is checked: `const f = (n:
    /// integer): integer => … f(n - 1) …` may call itself (LANGUAGE.md §7a).
    pub(super) fn annotated_arrow_type(&mut self, init: &ast::Expression<'_>) -> Option<Ty> {
        let ast::Expression::ArrowFunctionExpression(arrow) = init.without_parentheses() else {
            return None;
        };
        let annotation = arrow.return_type.as_ref()?;
        if arrow
            .params
            .items
            .iter()
            .any(|p| p.type_annotation.is_none())
        {
            return None;
        }
        // The arrow reports what is wrong with its types when it is checked.
        let errors = self.diagnostics.len();
        let params = self.parameters(&arrow.params);
        let ret = self.return_type(&annotation.type_annotation);
        self.diagnostics.truncate(errors);
        Some(Ty::function(Signature {
            params: params.ok()?.into_iter().map(|p| p.1).collect(),
            ret: ret.ok()?,
        }))
    }

    /// A local `f` initialized with an arrow of a known type (its own
    /// annotations, or the variable's): declared before the arrow is checked, and
    /// assigned once the closure is made, so that the closure may call
    /// itself through the variable. `None` for another declaration.
    pub(super) fn recursive_arrow_declaration(
        &mut self,
        declarator: &ast::VariableDeclarator<'_>,
        name: &str,
        is_const: bool,
    ) -> Option<Checked<Vec<Stmt>>> {
        let init = declarator.init.as_ref()?;
        let ty = match &declarator.type_annotation {
            // `const f: (n: integer) => integer = (n) => …`
            Some(annotation) => {
                if !matches!(
                    init.without_parentheses(),
                    ast::Expression::ArrowFunctionExpression(_)
                ) {
                    return None;
                }
                // Reported by the declaration, checked as usual.
                let errors = self.diagnostics.len();
                let ty = self.value_type(&annotation.type_annotation).ok();
                self.diagnostics.truncate(errors);
                ty.filter(|ty| matches!(ty, Ty::Function(_)))?
            }
            None => self.annotated_arrow_type(init)?,
        };
        Some((|| {
            let boxed = self.declare_local(name, ty, is_const, declarator.id.span().into())?;
            let value = self.expr_to(init, ty)?;
            let place = if boxed {
                Place::Cell(name.to_string())
            } else {
                Place::Local(name.to_string())
            };
            let declaration = self.stmt(StmtKind::Let {
                name: name.to_string(),
                ty,
                init: None,
                boxed,
            });
            let assignment = self.stmt(StmtKind::Expr(Expr {
                ty,
                kind: ExprKind::Assign(place, Box::new(value)),
            }));
            Ok(vec![declaration, assignment])
        })())
    }

    /// `=> expression`: returns its value (or evaluates a void call); its
    /// statement is the expression.
    fn arrow_expression_body(&mut self, expression: &ast::Expression<'_>) -> Checked<Vec<Stmt>> {
        let outer = std::mem::replace(&mut self.statement_span, expression.span().into());
        let result = self.arrow_expression_statements(expression);
        self.statement_span = outer;
        result
    }

    fn arrow_expression_statements(
        &mut self,
        expression: &ast::Expression<'_>,
    ) -> Checked<Vec<Stmt>> {
        if let ast::Expression::CallExpression(call) = expression.without_parentheses() {
            if super::print_target(&call.callee).is_some() {
                return self.expression_statement(expression);
            }
        }
        let value = match self.context().ret {
            Some(ReturnType::Declared(Ty::Void)) => {
                let value = self.expr(expression)?;
                return Ok(vec![self.stmt(StmtKind::Expr(value))]);
            }
            Some(ReturnType::Declared(ty)) => self.expr_to(expression, ty)?,
            _ => {
                let value = self.expr(expression)?;
                if value.ty == Ty::Void {
                    self.context().ret = Some(ReturnType::Inferred(Some(Ty::Void)));
                    return Ok(vec![self.stmt(StmtKind::Expr(value))]);
                }
                let value = super::null_as_any(value);
                self.context().ret = Some(ReturnType::Inferred(Some(value.ty)));
                value
            }
        };
        Ok(vec![self.stmt(StmtKind::Return(Some(value)))])
    }

    /// A fresh name for a lifted arrow: `<enclosing>$<n>`, unless a function
    /// has that name.
    pub(super) fn arrow_name(&mut self) -> String {
        loop {
            let context = self.context();
            context.arrows += 1;
            let name = format!("{}${}", context.name, context.arrows - 1);
            if !self.functions.contains_key(&name) || self.checked.contains_key(&name) {
                break name;
            }
        }
    }

    /// A top-level function used as a value: a closure of a lifted function
    /// that calls it (a closure's function takes the closure first).
    pub(super) fn function_value(&mut self, qualified: &str, span: Span) -> Checked<Expr> {
        let signature = self.function_signature(qualified, span)?;
        let name = format!("{qualified}$value");
        if !self.checked.contains_key(&name) {
            let params: Vec<(String, Ty)> = signature
                .params
                .iter()
                .enumerate()
                .map(|(i, ty)| (format!("a{i}"), *ty))
                .collect();
            let call = Expr {
                ty: signature.ret,
                kind: ExprKind::CallScript {
                    name: qualified.to_string(),
                    signature: signature.clone(),
                    args: params
                        .iter()
                        .map(|(name, ty)| Expr {
                            ty: *ty,
                            kind: ExprKind::Read(Place::Local(name.clone())),
                        })
                        .collect(),
                },
            };
            // Made where the function is first used as a value.
            let body = if signature.ret == Ty::Void {
                vec![self.stmt_at(StmtKind::Expr(call), span)]
            } else {
                vec![self.stmt_at(StmtKind::Return(Some(call)), span)]
            };
            let module = self.function_module.get(qualified).copied().unwrap_or(0);
            self.function_module.insert(name.clone(), module);
            let function = Function {
                name: name.clone(),
                params,
                signature: signature.clone(),
                body,
                fingerprint: fingerprint(name.as_bytes()),
                references: vec![qualified.to_string()],
                span: Span::default(),
                // Made where it is first needed, as its statements.
                file: self.current as u32,
                location: self.location(span),
                is_closure: true,
                boxed_params: Vec::new(),
            };
            self.functions
                .insert(name.clone(), FunctionState::Done(signature.clone()));
            self.checked.insert(name.clone(), function);
        }
        self.context().references.insert(name.clone());
        Ok(Expr {
            ty: Ty::function(signature),
            kind: ExprKind::Closure {
                function: name,
                captures: Vec::new(),
                location: self.location(span),
            },
        })
    }

    /// `f(args)` of a value `f`: a function type, or an `any` (checked at
    /// run time).
    pub(super) fn call_value(
        &mut self,
        callee: Expr,
        arguments: &[&ast::Expression<'_>],
        span: Span,
    ) -> Checked<Expr> {
        match callee.ty {
            Ty::Function(signature) => {
                let signature: Signature = (*signature).clone();
                let args = self.arguments("this function", &signature, arguments, span)?;
                Ok(Expr {
                    ty: signature.ret,
                    kind: ExprKind::CallClosure {
                        callee: Box::new(callee),
                        signature,
                        args,
                    },
                })
            }
            Ty::Any => {
                let args = self.any_arguments(arguments)?;
                Ok(self.dynamic_call("bs_any_call", vec![callee], args, span))
            }
            Ty::Nullable(_) => Err(self.error(
                Diagnostic::error(
                    span,
                    format!("this function may be null (its type is {})", callee.ty),
                )
                .with_help("check it first: `if (f != null) { … }`"),
            )),
            other => Err(self.error(Diagnostic::error(
                span,
                format!("a value of type {other} is not a function"),
            ))),
        }
    }
}
