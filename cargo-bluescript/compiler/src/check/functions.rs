//! Functions: a signature known before or found by checking the body
//! (return types are inferred from `return`s), the body checked in a
//! context of its own (again, when closures turn out to capture its
//! locals), parameters.

use super::*;

impl<'s, 'a> Checker<'s, 'a> {
    /// The signature of a script function, checking its body first when its
    /// return type must be inferred.
    pub(super) fn function_signature(&mut self, name: &str, use_span: Span) -> Checked<Signature> {
        let function = match self.functions.get(name) {
            None => return Err(Reported),
            Some(FunctionState::Done(signature)) => return Ok(signature.clone()),
            Some(FunctionState::InProgress {
                params,
                declared_ret: Some(ret),
            }) => {
                return Ok(Signature {
                    params: params.clone(),
                    ret: *ret,
                })
            }
            Some(FunctionState::InProgress { params, .. }) => {
                // Needed before its returns could tell: inference fails,
                // and the type is `any` (LANGUAGE.md §4).
                let params = params.clone();
                if let Some(context) = self
                    .contexts
                    .iter_mut()
                    .rev()
                    .find(|c| c.name == name && !c.is_arrow)
                {
                    context.ret = Some(ReturnType::Declared(Ty::Any));
                }
                self.functions.insert(
                    name.to_string(),
                    FunctionState::InProgress {
                        params: params.clone(),
                        declared_ret: Some(Ty::Any),
                    },
                );
                let _ = use_span;
                return Ok(Signature {
                    params,
                    ret: Ty::Any,
                });
            }
            Some(FunctionState::Unchecked(function)) => *function,
        };
        self.check_function(name, function)
    }

    fn check_function(
        &mut self,
        name: &str,
        function: &'a ast::Function<'a>,
    ) -> Checked<Signature> {
        // Mark it first, so that recursion sees a declared signature or an error.
        self.functions.insert(
            name.to_string(),
            FunctionState::InProgress {
                params: Vec::new(),
                declared_ret: None,
            },
        );
        // Its body is checked in its own module.
        let caller = self.current;
        self.current = self.function_module.get(name).copied().unwrap_or(caller);
        let result = self.check_function_inner(name, function);
        self.current = caller;
        match &result {
            Ok(signature) => {
                self.functions
                    .insert(name.to_string(), FunctionState::Done(signature.clone()));
            }
            Err(_) => {
                // Keep callers from cascading errors: a signature known
                // before the body failed still checks calls; without one, a
                // call reports nothing more.
                if let Some(FunctionState::InProgress {
                    params,
                    declared_ret: Some(ret),
                }) = self.functions.remove(name)
                {
                    self.functions.insert(
                        name.to_string(),
                        FunctionState::Done(Signature { params, ret }),
                    );
                }
            }
        }
        result
    }

    fn check_function_inner(
        &mut self,
        name: &str,
        function: &'a ast::Function<'a>,
    ) -> Checked<Signature> {
        if function.r#async || function.generator {
            return Err(self.error(Diagnostic::unsupported(
                function.span,
                "`async` functions and generators",
            )));
        }
        if let Some(tp) = &function.type_parameters {
            return Err(self.error(Diagnostic::unsupported(tp.span, "generic functions")));
        }
        let Some(body) = &function.body else {
            return Err(self.error(Diagnostic::error(
                function.span,
                format!("function `{}` has no body", plain_name(name)),
            )));
        };
        let mut params = self.parameters(&function.params)?;
        let method = self.methods_of.get(name).cloned();
        if let Some(method) = &method {
            self.check_super_first(method, body)?;
        }
        if let Some(method) = &method {
            if !method.is_static {
                params.insert(0, ("this".to_string(), Ty::Class(method.class)));
            }
        }
        let declared_ret = match &function.return_type {
            None if method.as_ref().is_some_and(|m| m.is_constructor) => Some(Ty::Void),
            Some(annotation) => Some(self.return_type(&annotation.type_annotation)?),
            // Without a `return` of a value, the inferred type is void; knowing
            // it before the body is checked lets the function call itself.
            None if !returns_a_value(&body.statements) => Some(Ty::Void),
            None => None,
        };
        self.functions.insert(
            name.to_string(),
            FunctionState::InProgress {
                params: params
                    .iter()
                    .filter(|p| p.0 != "this")
                    .map(|p| p.1)
                    .collect(),
                declared_ret,
            },
        );
        let ret = match declared_ret {
            Some(ty) => ReturnType::Declared(ty),
            None => ReturnType::Inferred(None),
        };
        let param_names: Vec<String> = params.iter().map(|p| p.0.clone()).collect();
        self.root_assignments.insert(
            name.to_string(),
            Rc::new(Assignments::of_function(&param_names, &body.statements)),
        );
        let function_ir = self.function_body(
            name.to_string(),
            params,
            ret,
            |checker| checker.statements(&body.statements),
            function.span.into(),
            false,
        )?;
        let signature = function_ir.signature.clone();
        self.checked.insert(name.to_string(), function_ir);
        let what = match &method {
            Some(_) => format!("method `{}`", plain_name(name)),
            None => format!("function `{}`", plain_name(name)),
        };
        let span: Span = match (&function.id, &function.return_type) {
            (Some(id), _) => id.span.into(),
            (None, Some(annotation)) => annotation.type_annotation.span().into(),
            (None, None) => function.span.into(),
        };
        // Reported, but its signature stands: callers have nothing to add.
        let _ = self.check_ending_return(&what, signature.ret, &body.statements, span);
        Ok(signature)
    }

    /// Checks a function body in a fresh context and builds its IR. A body
    /// whose locals turn out to be captured by closures is checked again
    /// with them in cells.
    pub(super) fn function_body(
        &mut self,
        name: String,
        params: Vec<(String, Ty)>,
        ret: ReturnType,
        body: impl Fn(&mut Self) -> Checked<Vec<Stmt>>,
        span: Span,
        is_arrow: bool,
    ) -> Checked<Function> {
        let mut boxed = HashSet::new();
        loop {
            let errors = self.diagnostics.len();
            let mut context = FnContext::new(name.clone(), Some(ret), is_arrow);
            context.boxed = boxed.clone();
            context.position = span.start;
            let around = if is_arrow {
                self.contexts.last().map(|c| c.assignments.clone())
            } else {
                self.root_assignments.get(&name).cloned()
            };
            context.assignments = around.unwrap_or_default();
            for (param, ty) in &params {
                context.scopes[0].insert(
                    param.clone(),
                    Local {
                        ty: *ty,
                        // `this` is never assigned: closures copy it.
                        is_const: param == "this",
                        boxed: boxed.contains(param),
                        declared: None,
                        global: None,
                        declared_at: None,
                    },
                );
            }
            self.contexts.push(context);
            let result = body(self);
            let context = self.contexts.pop().expect("function context");
            if !context.newly_captured.is_empty() && self.diagnostics.len() == errors {
                boxed.extend(context.newly_captured);
                continue;
            }
            let mut body = result?;
            if is_arrow {
                // The enclosing context reads the captures from here.
                self.pending_captures = context.captures.clone();
            }
            let ret = match context.ret {
                Some(ReturnType::Declared(ty)) | Some(ReturnType::Inferred(Some(ty))) => ty,
                _ => Ty::Void,
            };
            // Returns checked while the inferred type was still narrower (an
            // enum, an integer), or before it became `any`.
            if let Some(ReturnType::Inferred(Some(ty)) | ReturnType::Declared(ty @ Ty::Any)) =
                context.ret
            {
                returns_to(&mut body, ty)
            }
            let boxed_params = params
                .iter()
                .filter(|p| boxed.contains(&p.0))
                .map(|p| p.0.clone())
                .collect();
            let signature_params = params
                .iter()
                .filter(|p| p.0 != "this")
                .map(|p| p.1)
                .collect();
            let references: Vec<String> = context.references.into_iter().collect();
            // The text, and what it calls: a method that a class declared
            // later overrides is called through its descriptor from then
            // on, though the text is the same.
            let fingerprint = fingerprint_parts(
                std::iter::once(span_text(self.file(), span))
                    .chain(references.iter().map(String::as_str)),
            );
            return Ok(Function {
                signature: Signature {
                    params: signature_params,
                    ret,
                },
                params,
                body,
                fingerprint,
                references,
                span,
                file: self.current as u32,
                location: self.location(span),
                name,
                is_closure: is_arrow,
                boxed_params,
            });
        }
    }

    pub(super) fn parameters(
        &mut self,
        params: &ast::FormalParameters<'_>,
    ) -> Checked<Vec<(String, Ty)>> {
        if let Some(rest) = &params.rest {
            return Err(self.error(Diagnostic::unsupported(rest.span, "rest parameters")));
        }
        let mut out: Vec<(String, Ty)> = Vec::new();
        let mut spans: Vec<Span> = Vec::new();
        for param in &params.items {
            let name = self.binding_name(&param.pattern)?;
            if let Some(init) = &param.initializer {
                return Err(self.error(Diagnostic::unsupported(
                    init.span(),
                    "default parameter values",
                )));
            }
            if param.optional {
                // `a?: T` is `T | undefined`, which LANGUAGE.md §1 forbids
                // for primitive types.
                return Err(self.error(Diagnostic::unsupported(
                    param.span,
                    "an optional parameter (`?`)",
                )));
            }
            // A parameter without a type is `any` (LANGUAGE.md §4).
            let ty = match &param.type_annotation {
                Some(annotation) => self.value_type(&annotation.type_annotation)?,
                None => Ty::Any,
            };
            if let Some(first) = out.iter().position(|(n, _)| *n == name) {
                return Err(self.error(
                    Diagnostic::error(param.span, format!("duplicate parameter `{name}`"))
                        .with_label(spans[first], "first declared here"),
                ));
            }
            out.push((name, ty));
            spans.push(param.span.into());
        }
        Ok(out)
    }
}

/// Converts the values of `return` statements of an integer (or enum) type
/// to `ty`, a float or integer (lifted arrow functions are functions of
/// their own, not part of `body`).
fn returns_to(body: &mut [Stmt], ty: Ty) {
    for statement in body {
        match &mut statement.kind {
            StmtKind::Return(Some(value)) if ty == Ty::Any && value.ty != Ty::Any => {
                let returned = std::mem::replace(value, null());
                *value = Expr {
                    ty: Ty::Any,
                    kind: if returned.ty.is_reference() {
                        ExprKind::Retyped(Box::new(returned))
                    } else {
                        ExprKind::ToAny(Box::new(widen(returned)))
                    },
                };
            }
            StmtKind::Return(Some(value))
                if value.ty != ty && value.ty.is_reference() && ty.is_reference() =>
            {
                // `null` or a subclass returned before the common type was
                // known: the same word.
                let returned = std::mem::replace(value, null());
                *value = Expr {
                    ty,
                    kind: ExprKind::Retyped(Box::new(returned)),
                };
            }
            StmtKind::Return(Some(value)) if value.ty != ty && value.ty.is_integral() => {
                let integer = widen(std::mem::replace(
                    value,
                    Expr {
                        ty: Ty::Integer,
                        kind: ExprKind::Int(0),
                    },
                ));
                *value = match ty {
                    Ty::Float => int_to_float(integer),
                    _ => integer,
                };
            }
            StmtKind::If {
                then, otherwise, ..
            } => {
                returns_to(then, ty);
                returns_to(otherwise, ty);
            }
            StmtKind::Loop { body, .. } | StmtKind::Block(body) => returns_to(body, ty),
            StmtKind::Let { .. }
            | StmtKind::Expr(_)
            | StmtKind::Break(_)
            | StmtKind::Continue(_)
            | StmtKind::Return(_)
            | StmtKind::Print { .. } => {}
        }
    }
}

/// Whether a function body has a `return` with a value (not counting the
/// bodies of nested functions). Returns are statements, so only statements
/// need to be searched.
fn returns_a_value(statements: &[ast::Statement<'_>]) -> bool {
    statements
        .iter()
        .any(|statement| statement_returns_a_value(statement))
}

fn statement_returns_a_value(statement: &ast::Statement<'_>) -> bool {
    use ast::Statement as S;
    match statement {
        S::ReturnStatement(statement) => statement.argument.is_some(),
        S::BlockStatement(block) => returns_a_value(&block.body),
        S::IfStatement(statement) => {
            statement_returns_a_value(&statement.consequent)
                || statement
                    .alternate
                    .as_ref()
                    .is_some_and(|a| statement_returns_a_value(a))
        }
        S::WhileStatement(statement) => statement_returns_a_value(&statement.body),
        S::DoWhileStatement(statement) => statement_returns_a_value(&statement.body),
        S::ForStatement(statement) => statement_returns_a_value(&statement.body),
        S::ForInStatement(statement) => statement_returns_a_value(&statement.body),
        S::ForOfStatement(statement) => statement_returns_a_value(&statement.body),
        S::LabeledStatement(statement) => statement_returns_a_value(&statement.body),
        S::SwitchStatement(statement) => statement
            .cases
            .iter()
            .any(|case| returns_a_value(&case.consequent)),
        S::TryStatement(statement) => {
            returns_a_value(&statement.block.body)
                || statement
                    .handler
                    .as_ref()
                    .is_some_and(|h| returns_a_value(&h.body.body))
                || statement
                    .finalizer
                    .as_ref()
                    .is_some_and(|f| returns_a_value(&f.body))
        }
        _ => false,
    }
}
