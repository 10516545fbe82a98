//! Statements: blocks, local declarations, `if`, loops, `return`, and
//! statements that are expressions.

use super::*;

impl<'s, 'a> Checker<'s, 'a> {
    pub(super) fn statements(&mut self, statements: &[ast::Statement<'_>]) -> Checked<Vec<Stmt>> {
        let mut out = Vec::new();
        let mut failed = false;
        let mut narrowing_scopes = 0;
        for statement in statements {
            let checked_before = out.len();
            match self.statement(statement) {
                Ok(stmts) => out.extend(stmts),
                Err(_) => failed = true,
            }
            // `if (x == null) return`, `x = new C()`: x is not null from
            // here on.
            let facts = self.narrowings_after(statement, &out[checked_before..]);
            if !facts.is_empty() {
                self.push_narrowing(facts);
                narrowing_scopes += 1;
            }
        }
        for _ in 0..narrowing_scopes {
            self.context().scopes.pop();
        }
        if failed {
            Err(Reported)
        } else {
            Ok(out)
        }
    }

    fn block(&mut self, statement: &ast::Statement<'_>) -> Checked<Vec<Stmt>> {
        self.context().scopes.push(HashMap::new());
        let result = match statement {
            ast::Statement::BlockStatement(block) => self.statements(&block.body),
            other => self.statement(other),
        };
        self.context().scopes.pop();
        result
    }

    /// The IR of a statement, whose statements carry its span.
    pub(super) fn statement(&mut self, statement: &ast::Statement<'_>) -> Checked<Vec<Stmt>> {
        let outer = std::mem::replace(&mut self.statement_span, statement.span().into());
        let result = self.statement_here(statement);
        self.statement_span = outer;
        result
    }

    fn statement_here(&mut self, statement: &ast::Statement<'_>) -> Checked<Vec<Stmt>> {
        use ast::Statement as S;
        let stmt = match statement {
            S::BlockStatement(block) => {
                self.context().scopes.push(HashMap::new());
                let body = self.statements(&block.body);
                self.context().scopes.pop();
                StmtKind::Block(body?)
            }
            S::EmptyStatement(_) => return Ok(Vec::new()),
            S::ExpressionStatement(statement) => {
                return self.expression_statement(&statement.expression)
            }
            S::VariableDeclaration(declaration) => return self.local_declaration(declaration),
            S::IfStatement(statement) => {
                let cond = self.condition(&statement.test);
                let (then, otherwise) = self.branches(
                    &statement.test,
                    |checker| checker.block(&statement.consequent),
                    |checker| match &statement.alternate {
                        Some(alternate) => checker.block(alternate),
                        None => Ok(Vec::new()),
                    },
                );
                StmtKind::If {
                    cond: cond?,
                    then: then?,
                    otherwise: otherwise?,
                }
            }
            S::WhileStatement(statement) => {
                self.loop_statement(Some(&statement.test), false, None, &statement.body)?
            }
            S::DoWhileStatement(statement) => {
                self.loop_statement(Some(&statement.test), true, None, &statement.body)?
            }
            S::ForStatement(statement) => return self.for_statement(statement),
            S::BreakStatement(statement) => {
                if let Some(label) = &statement.label {
                    return Err(self.error(Diagnostic::unsupported(label.span, "labeled `break`")));
                }
                match self.context().loops.last() {
                    Some(label) => StmtKind::Break(*label),
                    None => {
                        return Err(
                            self.error(Diagnostic::error(statement.span, "`break` outside a loop"))
                        )
                    }
                }
            }
            S::ContinueStatement(statement) => {
                if let Some(label) = &statement.label {
                    return Err(
                        self.error(Diagnostic::unsupported(label.span, "labeled `continue`"))
                    );
                }
                match self.context().loops.last() {
                    Some(label) => StmtKind::Continue(*label),
                    None => {
                        return Err(self.error(Diagnostic::error(
                            statement.span,
                            "`continue` outside a loop",
                        )))
                    }
                }
            }
            S::ReturnStatement(statement) => self.return_statement(statement)?,
            S::FunctionDeclaration(function) => {
                return Err(self.error(
                    Diagnostic::unsupported(function.span, "a nested function declaration")
                        .with_help("declare functions at the top level of the file"),
                ))
            }
            S::SwitchStatement(s) => {
                return Err(self
                    .error(Diagnostic::unsupported(s.span, "`switch`").with_help("use if/else")))
            }
            S::ForInStatement(s) => {
                return Err(self.error(Diagnostic::unsupported(s.span, "`for … in`")))
            }
            S::ForOfStatement(s) => {
                return Err(self.error(Diagnostic::unsupported(s.span, "`for … of`")))
            }
            S::TryStatement(s) => return Err(self.error(Diagnostic::unsupported(s.span, "`try`"))),
            S::ThrowStatement(s) => {
                return Err(self.error(Diagnostic::unsupported(s.span, "`throw`")))
            }
            S::LabeledStatement(s) => {
                return Err(self.error(Diagnostic::unsupported(s.span, "a labeled statement")))
            }
            S::ClassDeclaration(s) => {
                return Err(self.error(
                    Diagnostic::error(s.span, "a class is declared only at the top level")
                        .with_help("move it out of the function or block"),
                ))
            }
            S::TSEnumDeclaration(s) => {
                return Err(self.error(
                    Diagnostic::error(s.span, "an enum is declared only at the top level")
                        .with_help("move it out of the function or block"),
                ))
            }
            S::TSTypeAliasDeclaration(s) => {
                return Err(self.error(Diagnostic::unsupported(s.span, "type aliases")))
            }
            S::TSInterfaceDeclaration(s) => {
                return Err(self.error(Diagnostic::unsupported(s.span, "interfaces")))
            }
            S::ExportDeclaration(s) => {
                return Err(self.error(Diagnostic::error(s.span, "`export` only at the top level")))
            }
            other => {
                return Err(self.error(Diagnostic::unsupported(other.span(), "this statement")))
            }
        };
        Ok(vec![self.stmt(stmt)])
    }

    pub(super) fn variable_kind_supported(
        &mut self,
        declaration: &ast::VariableDeclaration<'_>,
    ) -> bool {
        match declaration.kind {
            ast::VariableDeclarationKind::Let | ast::VariableDeclarationKind::Const => {
                if declaration.declare {
                    self.error(Diagnostic::unsupported(declaration.span, "`declare`"));
                    return false;
                }
                true
            }
            ast::VariableDeclarationKind::Var => {
                self.error(
                    Diagnostic::unsupported(declaration.span, "`var`")
                        .with_help("use `let` or `const`"),
                );
                false
            }
            _ => {
                self.error(Diagnostic::unsupported(declaration.span, "`using`"));
                false
            }
        }
    }

    fn local_declaration(
        &mut self,
        declaration: &ast::VariableDeclaration<'_>,
    ) -> Checked<Vec<Stmt>> {
        let supported = self.variable_kind_supported(declaration);
        let is_const = declaration.kind == ast::VariableDeclarationKind::Const;
        let mut out = Vec::new();
        let mut failed = !supported;
        for declarator in &declaration.declarations {
            let name = match self.declared_name(&declarator.id, supported) {
                Ok(name) => name,
                Err(names) => {
                    for (name, span) in names {
                        let _ = self.declare_local(&name, FAILED, is_const, span);
                    }
                    failed = true;
                    continue;
                }
            };
            if let Some(result) = self.recursive_arrow_declaration(declarator, &name, is_const) {
                match result {
                    Ok(stmts) => out.extend(stmts),
                    Err(Reported) => failed = true,
                }
                continue;
            }
            // A declaration that fails still declares its name: with its
            // annotated type, or FAILED, which silences its uses.
            let (ty, init) = match self.local_initializer(declarator, &name) {
                Ok((ty, init)) => (ty, init),
                Err(ty) => {
                    failed = true;
                    (ty, None)
                }
            };
            match self.declare_local(&name, ty, is_const, declarator.id.span().into()) {
                Ok(boxed) => out.push(self.stmt(StmtKind::Let {
                    name,
                    ty,
                    init,
                    boxed,
                })),
                Err(Reported) => failed = true,
            }
        }
        if failed {
            Err(Reported)
        } else {
            Ok(out)
        }
    }

    /// The type and initial value of a local; after an error (reported),
    /// the type to declare it with anyway.
    fn local_initializer(
        &mut self,
        declarator: &ast::VariableDeclarator<'_>,
        name: &str,
    ) -> Result<(Ty, Option<Expr>), Ty> {
        let declared = match &declarator.type_annotation {
            Some(annotation) => Some(
                self.value_type(&annotation.type_annotation)
                    .map_err(|_| FAILED)?,
            ),
            None => None,
        };
        let init = match (&declarator.init, declared) {
            (Some(init), Some(ty)) => Some(self.expr_to(init, ty).map_err(|_| ty)?),
            (Some(init), None) => Some(self.initial_value(init).map_err(|_| FAILED)?),
            (None, _) => None,
        };
        match (declared, init) {
            (Some(ty), None) if needs_initial_value(ty) => {
                self.error(uninitialized(declarator.span, name, ty));
                Err(ty)
            }
            (Some(ty), init) => Ok((ty, init)),
            (None, Some(init)) => Ok((init.ty, Some(init))),
            // `let x;` is an `any`, undefined (LANGUAGE.md §3).
            (None, None) => Ok((Ty::Any, None)),
        }
    }

    /// The value of an initializer without a type annotation, which gives
    /// the variable its type.
    pub(super) fn initial_value(&mut self, init: &ast::Expression<'_>) -> Checked<Expr> {
        let value = null_as_any(self.expr(init)?);
        if value.ty == Ty::Void {
            return Err(self.error(Diagnostic::error(
                init.span(),
                "this expression has no value (void)",
            )));
        }
        Ok(value)
    }

    fn loop_statement(
        &mut self,
        test: Option<&ast::Expression<'_>>,
        cond_after_body: bool,
        update: Option<&ast::Expression<'_>>,
        body: &ast::Statement<'_>,
    ) -> Checked<StmtKind> {
        // An assignment anywhere in the loop ends a narrowing for all of it:
        // the next iteration comes back through the assignment.
        let in_body = self.effects(|w| w.statement(body));
        let in_loop = self.effects(|w| {
            test.into_iter().chain(update).for_each(|e| w.expression(e));
            w.statement(body);
        });
        self.end_narrowings_changed_by(&in_loop);
        let entry = self.narrow_state();
        let cond = test.map(|t| self.condition(t)).transpose();
        let label = {
            let context = self.context();
            context.next_label += 1;
            context.loops.push(context.next_label);
            context.next_label
        };
        let facts = match (test, cond_after_body) {
            (Some(test), false) => self.narrowings(test, true),
            _ => Vec::new(),
        };
        // The step runs after the body: the test's narrowings of what the
        // body does not assign hold there.
        let step_facts: Vec<(String, Ty)> = facts
            .iter()
            .filter(|(name, _)| !self.changed_by(&in_body, name))
            .cloned()
            .collect();
        let body = self.narrowed(facts, |checker| checker.block(body));
        self.context().loops.pop();
        let step = update
            .map(|u| self.narrowed(step_facts, |checker| checker.expr(u)))
            .transpose();
        self.set_narrow_state(&entry);
        Ok(StmtKind::Loop {
            label,
            cond: cond?,
            cond_after_body,
            body: body?,
            step: step?,
            fresh: Vec::new(),
        })
    }

    fn for_statement(&mut self, statement: &ast::ForStatement<'_>) -> Checked<Vec<Stmt>> {
        self.context().scopes.push(HashMap::new());
        let result = (|| {
            let mut out = Vec::new();
            match &statement.init {
                Some(ast::ForStatementInit::VariableDeclaration(declaration)) => {
                    out.extend(self.local_declaration(declaration)?)
                }
                Some(init) => {
                    let expr = init
                        .as_expression()
                        .expect("non-declaration init is an expression");
                    let expr = self.expr(expr)?;
                    out.push(self.stmt(StmtKind::Expr(expr)));
                }
                None => {}
            }
            let mut looped = self.loop_statement(
                statement.test.as_ref(),
                false,
                statement.update.as_ref(),
                &statement.body,
            )?;
            // `for (let i …)` makes a new `i` for each iteration, which a
            // closure made in the body keeps (as in JavaScript).
            let captured: Vec<(String, Ty)> = out
                .iter()
                .filter_map(|s| match &s.kind {
                    StmtKind::Let {
                        name,
                        ty,
                        boxed: true,
                        ..
                    } => Some((name.clone(), *ty)),
                    _ => None,
                })
                .collect();
            if let StmtKind::Loop { fresh, .. } = &mut looped {
                *fresh = captured;
            }
            out.push(self.stmt(looped));
            Ok(vec![self.stmt(StmtKind::Block(out))])
        })();
        self.context().scopes.pop();
        result
    }

    fn return_statement(&mut self, statement: &ast::ReturnStatement<'_>) -> Checked<StmtKind> {
        let Some(ret) = self.context().ret else {
            return Err(self.error(Diagnostic::error(
                statement.span,
                "`return` outside a function",
            )));
        };
        // A declared type gives the value its context (an array literal's
        // or a `new Array(n)`'s element type, an arrow's parameters).
        let value = match (&statement.argument, ret) {
            (Some(a), ReturnType::Declared(ty)) if ty != Ty::Void => Some(self.expr_to(a, ty)?),
            (Some(a), _) => Some(self.expr(a)?),
            (None, _) => None,
        };
        let value_span = statement
            .argument
            .as_ref()
            .map_or(statement.span, |a| a.span());
        match (ret, value) {
            (ReturnType::Declared(Ty::Void), None)
            | (ReturnType::Inferred(None | Some(Ty::Void)), None) => {
                if let ReturnType::Inferred(None) = ret {
                    self.context().ret = Some(ReturnType::Inferred(Some(Ty::Void)));
                }
                Ok(StmtKind::Return(None))
            }
            (
                ReturnType::Declared(Ty::Void) | ReturnType::Inferred(Some(Ty::Void)),
                Some(value),
            ) => {
                if value.ty == Ty::Void {
                    // `return f()` with a void f: fine, like TypeScript.
                    return Ok(self.expression_then_return(value));
                }
                Err(self.error(Diagnostic::error(
                    statement.span,
                    format!(
                        "this function returns nothing (void), but this returns a value of type {}",
                        value.ty
                    ),
                )))
            }
            (ReturnType::Declared(ty) | ReturnType::Inferred(Some(ty)), None) => {
                Err(self.error(Diagnostic::error(
                    statement.span,
                    format!("this function must return a value of type {ty}"),
                )))
            }
            (ReturnType::Inferred(Some(before)), Some(value))
                if before != value.ty
                    && (before.is_integral() || before == Ty::Float)
                    && (value.ty.is_integral() || value.ty == Ty::Float) =>
            {
                // Integers and floats returned: the common type is float; an
                // enum and an integer (or another enum): integer.
                // `function_body` converts the returns seen so far.
                let common = if before == Ty::Float || value.ty == Ty::Float {
                    Ty::Float
                } else {
                    Ty::Integer
                };
                self.context().ret = Some(ReturnType::Inferred(Some(common)));
                Ok(StmtKind::Return(Some(
                    self.convert(value, common, value_span)?,
                )))
            }
            (ReturnType::Inferred(Some(before)), Some(value))
                if self
                    .common_reference(before, value.ty)
                    .is_some_and(|common| common != before) =>
            {
                // `null` and an object returned, or objects of two
                // classes: the nullable type, the common superclass
                // (LANGUAGE.md §4; none in common: `any`). `function_body`
                // retypes the returns seen so far.
                let common = self
                    .common_reference(before, value.ty)
                    .expect("checked by the guard");
                self.context().ret = Some(ReturnType::Inferred(Some(common)));
                Ok(StmtKind::Return(Some(
                    self.convert(value, common, value_span)?,
                )))
            }
            (ReturnType::Declared(ty) | ReturnType::Inferred(Some(ty)), Some(value)) => {
                Ok(StmtKind::Return(Some(self.convert(value, ty, value_span)?)))
            }
            (ReturnType::Inferred(None), Some(value)) => {
                self.context().ret = Some(ReturnType::Inferred(Some(value.ty)));
                if value.ty == Ty::Void {
                    return Ok(self.expression_then_return(value));
                }
                Ok(StmtKind::Return(Some(value)))
            }
        }
    }

    pub(super) fn expression_statement(
        &mut self,
        expression: &ast::Expression<'_>,
    ) -> Checked<Vec<Stmt>> {
        if let ast::Expression::CallExpression(call) = expression.without_parentheses() {
            if let Some(to_stderr) = print_target(&call.callee) {
                let print = self.print(call, to_stderr)?;
                return Ok(vec![self.stmt(print)]);
            }
        }
        let value = self.expr(expression)?;
        Ok(vec![self.stmt(StmtKind::Expr(value))])
    }

    /// `return f()` with a void `f`: the call, then a return.
    fn expression_then_return(&self, value: Expr) -> StmtKind {
        StmtKind::Block(vec![
            self.stmt(StmtKind::Expr(value)),
            self.stmt(StmtKind::Return(None)),
        ])
    }
}
