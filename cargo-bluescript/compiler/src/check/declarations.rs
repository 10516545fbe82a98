//! The top level of a module: its functions, globals and enums declared
//! (before any code is checked, so that code may use what is declared
//! further down), then its statements checked in order as the module's
//! part of `main`, with the initializers of its globals and statics; and
//! the checks of the whole program: symbols that would clash, the
//! fingerprint of what cannot be patched.

use super::*;

impl<'s, 'a> Checker<'s, 'a> {
    /// Declares the current module's items and binds its imports: enums
    /// and imports first, since the types of globals may name them.
    pub(super) fn collect_top_level(&mut self) {
        if self.module().cell.is_some() {
            self.inherit_names();
        }
        let program: &'a ast::Program<'a> = self.module().program;
        for statement in &program.body {
            match statement {
                ast::Statement::TSEnumDeclaration(declaration) => {
                    self.declare_enum(declaration, false)
                }
                ast::Statement::ClassDeclaration(class) => self.declare_class(class, false),
                ast::Statement::ExportDeclaration(export) => match &export.declaration {
                    ast::Declaration::TSEnumDeclaration(declaration) => {
                        self.declare_enum(declaration, true)
                    }
                    ast::Declaration::ClassDeclaration(class) => self.declare_class(class, true),
                    _ => {}
                },
                _ => {}
            }
        }
        for statement in &program.body {
            if let ast::Statement::ImportDeclaration(import) = statement {
                self.import(import);
            }
        }
        for statement in &program.body {
            match statement {
                ast::Statement::FunctionDeclaration(function) => {
                    self.declare_function(function, false)
                }
                ast::Statement::VariableDeclaration(declaration) => {
                    self.declare_globals(declaration, false)
                }
                ast::Statement::ExportNamedDeclaration(export) => {
                    self.error(
                        Diagnostic::unsupported(export.span, "`export { … }`")
                            .with_help("put `export` before the declaration"),
                    );
                }
                ast::Statement::ExportDeclaration(export) => match &export.declaration {
                    ast::Declaration::FunctionDeclaration(function) => {
                        self.declare_function(function, true)
                    }
                    ast::Declaration::VariableDeclaration(declaration) => {
                        self.declare_globals(declaration, true)
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }

    /// Binds a top-level name of the current module; reports a duplicate.
    pub(super) fn bind(&mut self, name: &str, item: Item, span: Span, exported: bool) -> bool {
        let scope = &self.scopes[self.current];
        if let Some(existing) = scope.names.get(name) {
            let message = if scope.imported.contains(name) {
                format!("`{name}` is already imported in this file")
            } else {
                match (existing, &item) {
                    (Item::Function(_), Item::Function(_)) => {
                        format!("function `{name}` is declared twice")
                    }
                    (Item::Global { .. }, Item::Global { .. }) => {
                        format!("global `{name}` is declared twice")
                    }
                    _ => format!("`{name}` is declared twice in this file"),
                }
            };
            let what = if scope.imported.contains(name) {
                "first imported here"
            } else {
                "first declared here"
            };
            let mut diagnostic = Diagnostic::error(span, message);
            // A cell's names from elsewhere were declared in another file.
            if let Some(first) = scope.declared_at.get(name) {
                diagnostic = diagnostic.with_label(*first, what);
            }
            self.error(diagnostic);
            return false;
        }
        let scope = &mut self.scopes[self.current];
        scope.names.insert(name.to_string(), item);
        scope.declared_at.insert(name.to_string(), span);
        if exported {
            scope.exported.insert(name.to_string());
        }
        true
    }

    fn declare_function(&mut self, function: &'a ast::Function<'a>, exported: bool) {
        let Some(id) = &function.id else { return };
        let name = id.name.to_string();
        if name == "code" {
            return; // `function code(strings: any, ...keys: any[]) {}` silences editors
        }
        let qualified = self.qualify(&name);
        if self.redefines(&name, &qualified) {
            // The shell defines the function again: every caller, in any
            // module, now calls (and is checked against) this version.
            self.scopes[self.current]
                .declared_at
                .insert(name, id.span.into());
            self.function_module.insert(qualified.clone(), self.current);
            self.functions
                .insert(qualified, FunctionState::Unchecked(function));
            return;
        }
        if !self.bind(
            &name,
            Item::Function(qualified.clone()),
            id.span.into(),
            exported,
        ) {
            return;
        }
        self.function_order.push(qualified.clone());
        self.function_module.insert(qualified.clone(), self.current);
        self.functions
            .insert(qualified, FunctionState::Unchecked(function));
    }

    /// Whether declaring function `name` in the current module defines
    /// again a top-level function of the main script or of an earlier cell:
    /// only a shell cell may.
    fn redefines(&self, name: &str, qualified: &str) -> bool {
        self.module().cell.is_some()
            && matches!(
                self.scopes[self.current].names.get(name),
                Some(Item::Function(existing)) if existing == qualified
            )
            && self
                .function_module
                .get(qualified)
                .is_some_and(|&module| module != self.current)
    }

    fn declare_globals(&mut self, declaration: &ast::VariableDeclaration<'_>, exported: bool) {
        let supported = self.variable_kind_supported(declaration);
        for declarator in &declaration.declarations {
            let name = match self.declared_name(&declarator.id, supported) {
                Ok(name) => name,
                Err(names) => {
                    for (name, span) in names {
                        self.bind(&name, Item::Unresolved, span, exported);
                    }
                    continue;
                }
            };
            let qualified = self.qualify(&name);
            let item = Item::Global {
                name: qualified.clone(),
                imported: false,
            };
            if !self.bind(&name, item, declarator.id.span().into(), exported) {
                continue;
            }
            let ty = match &declarator.type_annotation {
                Some(annotation) => Some(
                    self.value_type(&annotation.type_annotation)
                        .unwrap_or(FAILED),
                ),
                // `let x;`: an `any` (LANGUAGE.md §3).
                None if declarator.init.is_none() => Some(Ty::Any),
                None => None,
            };
            self.global_order.push(qualified.clone());
            self.globals.insert(
                qualified,
                GlobalInfo {
                    ty,
                    is_const: declaration.kind == ast::VariableDeclarationKind::Const,
                    module: self.current,
                    span: declarator.id.span().into(),
                },
            );
        }
    }

    /// `enum Color { Red = -1, Green = 0 }` (LANGUAGE.md §6).
    fn declare_enum(&mut self, declaration: &ast::TSEnumDeclaration<'_>, exported: bool) {
        if declaration.declare {
            self.error(Diagnostic::unsupported(declaration.span, "`declare`"));
            return;
        }
        let name = declaration.id.name.as_str();
        let qualified = self.qualify(name);
        let mut members: Vec<(String, i32)> = Vec::new();
        let mut member_spans: Vec<Span> = Vec::new();
        for member in &declaration.body.members {
            let ast::TSEnumMemberName::Identifier(id) = &member.id else {
                self.error(Diagnostic::error(
                    member.id.span(),
                    "the name of an enum member must be an identifier",
                ));
                continue;
            };
            let member_name = id.name.to_string();
            if let Some(first) = members.iter().position(|(m, _)| *m == member_name) {
                self.error(
                    Diagnostic::error(id.span, format!("`{name}.{member_name}` is declared twice"))
                        .with_label(member_spans[first], "first declared here"),
                );
                continue;
            }
            let Some(initializer) = &member.initializer else {
                self.error(
                    Diagnostic::error(
                        member.span,
                        format!("the enum member `{name}.{member_name}` has no value"),
                    )
                    .with_help(format!(
                        "every member of an enum is given an integer: `{member_name} = 0`"
                    )),
                );
                continue;
            };
            // A member whose value failed is declared even so (the program
            // is rejected already), so its uses report nothing more.
            let value = self.enum_value(initializer).unwrap_or(0);
            members.push((member_name, value));
            member_spans.push(Span::from(id.span));
        }
        let item = Item::Enum(qualified.clone());
        if self.bind(name, item, declaration.id.span.into(), exported) {
            self.enums.insert(
                qualified.clone(),
                EnumInfo {
                    ty: Name::new(&qualified),
                    members,
                },
            );
        }
    }

    /// An enum member's value: an integer literal, maybe negated.
    fn enum_value(&mut self, expression: &ast::Expression<'_>) -> Checked<i32> {
        match expression.without_parentheses() {
            ast::Expression::NumericLiteral(literal) => {
                let value = self.number(literal)?;
                match value.kind {
                    ExprKind::Int(value) => Ok(value),
                    _ => Err(self.error(Diagnostic::error(
                        literal.span,
                        format!(
                            "the value of an enum member must be an integer, found {}",
                            value.ty
                        ),
                    ))),
                }
            }
            ast::Expression::UnaryExpression(unary)
                if matches!(
                    unary.operator,
                    UnaryOperator::UnaryNegation | UnaryOperator::UnaryPlus
                ) && matches!(
                    unary.argument.without_parentheses(),
                    ast::Expression::NumericLiteral(_)
                ) =>
            {
                let value = self.enum_value(&unary.argument)?;
                Ok(if unary.operator == UnaryOperator::UnaryNegation {
                    value.wrapping_neg()
                } else {
                    value
                })
            }
            other => Err(self.error(
                Diagnostic::unsupported(
                    other.span(),
                    "an enum member's value other than an integer literal",
                )
                .with_help("write the value as a number: `Flag = 4`"),
            )),
        }
    }

    /// The current module's top-level code.
    /// The current module's top-level statements, and the script functions
    /// they refer to.
    pub(super) fn check_main(&mut self) -> (Vec<Stmt>, BTreeSet<String>) {
        // Checked again with captured locals in cells, as function bodies.
        let mut boxed = HashSet::new();
        loop {
            let errors = self.diagnostics.len();
            let items = self.native_items_out.len();
            let main = self.check_main_once(&boxed);
            let context = self.contexts.pop().expect("the top-level context");
            if !context.newly_captured.is_empty() && self.diagnostics.len() == errors {
                boxed.extend(context.newly_captured);
                self.native_items_out.truncate(items);
                continue;
            }
            return (main, context.references);
        }
    }

    fn check_main_once(&mut self, boxed: &HashSet<String>) -> Vec<Stmt> {
        let name = match &self.module().cell {
            Some(cell) => cell.clone(),
            None => self.qualify("main"),
        };
        let mut context = FnContext::new(name, None, false);
        context.boxed = boxed.clone();
        let program: &'a ast::Program<'a> = self.module().program;
        context.assignments = Rc::new(Assignments::of_top_level(program));
        self.contexts.push(context);
        let mut main = Vec::new();
        for statement in &program.body {
            let checked_before = main.len();
            self.statement_span = statement.span().into();
            match statement {
                ast::Statement::FunctionDeclaration(_)
                | ast::Statement::ImportDeclaration(_)
                | ast::Statement::TSEnumDeclaration(_)
                | ast::Statement::ExportNamedDeclaration(_) => {}
                ast::Statement::ClassDeclaration(class) => {
                    self.static_initializers(class, &mut main)
                }
                ast::Statement::ExpressionStatement(statement) if matches!(&statement.expression, ast::Expression::TaggedTemplateExpression(t) if self.is_code_tag(&t.tag)) =>
                {
                    let ast::Expression::TaggedTemplateExpression(template) = &statement.expression
                    else {
                        continue;
                    };
                    if let Ok(items) = self.native_items(template) {
                        self.native_items_out.push(items);
                    }
                }
                ast::Statement::VariableDeclaration(declaration) => {
                    self.global_initializers(declaration, &mut main)
                }
                ast::Statement::ExportDeclaration(export) => match &export.declaration {
                    ast::Declaration::VariableDeclaration(declaration) => {
                        self.global_initializers(declaration, &mut main)
                    }
                    ast::Declaration::FunctionDeclaration(_)
                    | ast::Declaration::TSEnumDeclaration(_) => {}
                    ast::Declaration::ClassDeclaration(class) => {
                        self.static_initializers(class, &mut main)
                    }
                    ast::Declaration::TSTypeAliasDeclaration(alias) => {
                        let _ = self.error(Diagnostic::unsupported(alias.span, "type aliases"));
                    }
                    ast::Declaration::TSInterfaceDeclaration(interface) => {
                        let _ = self.error(Diagnostic::unsupported(interface.span, "interfaces"));
                    }
                    other => {
                        let _ = self.error(Diagnostic::unsupported(other.span(), "this export"));
                    }
                },
                other => {
                    if let Ok(stmt) = self.statement(other) {
                        main.extend(stmt);
                    }
                }
            }
            // `x = value`: narrowed for the rest of the top level.
            let facts = self.narrowings_after(statement, &main[checked_before..]);
            if !facts.is_empty() {
                self.push_narrowing(facts);
            }
        }
        main
    }

    /// `static k: integer = 3` runs where the class is declared.
    pub(super) fn static_initializers(&mut self, class: &ast::Class<'_>, out: &mut Vec<Stmt>) {
        let Some(id) = &class.id else { return };
        let qualified = self.qualify(id.name.as_str());
        for element in &class.body.body {
            let ast::ClassElement::PropertyDefinition(property) = element else {
                continue;
            };
            let (true, ast::PropertyKey::StaticIdentifier(key)) =
                (property.r#static, &property.key)
            else {
                continue;
            };
            let global = format!("{qualified}.{}", key.name);
            let Some(ty) = self
                .globals
                .get(&global)
                .and_then(|g| g.ty)
                .filter(|ty| *ty != FAILED)
            else {
                continue;
            };
            let value = match &property.value {
                Some(value) => self.expr_to(value, ty),
                // Like a global without an initializer (LANGUAGE.md §3);
                // the store also keeps an otherwise unused static in the
                // image.
                None if needs_initial_value(ty) => {
                    let (class, name) = (&id.name, &key.name);
                    Err(self.error(
                        Diagnostic::error(
                            property.span,
                            format!("`{class}.{name}` ({ty}) needs an initial value"),
                        )
                        .with_help(format!(
                            "give it one (`static {name}: {ty} = …`), or declare it `static {name}: {ty} | null`"
                        )),
                    ))
                }
                None => Ok(zero_value(ty)),
            };
            if let Ok(value) = value {
                let assignment = Expr {
                    ty,
                    kind: ExprKind::Assign(Place::Static(global), Box::new(value)),
                };
                out.push(self.stmt_at(StmtKind::Expr(assignment), property.span.into()));
            }
        }
    }

    fn global_initializers(
        &mut self,
        declaration: &ast::VariableDeclaration<'_>,
        out: &mut Vec<Stmt>,
    ) {
        // `declare_globals` has reported unsupported declarations already.
        let supported_kind = matches!(
            declaration.kind,
            ast::VariableDeclarationKind::Let | ast::VariableDeclarationKind::Const
        );
        if !supported_kind || declaration.declare {
            return;
        }
        for declarator in &declaration.declarations {
            let ast::BindingPattern::BindingIdentifier(id) = &declarator.id else {
                continue;
            };
            let name = id.name.to_string();
            let qualified = self.qualify(&name);
            // A global declared twice is bound to its first declaration.
            let Some(global) = self.globals.get(&qualified) else {
                continue;
            };
            if global.span != Span::from(id.span) {
                continue;
            }
            let declared = global.ty;
            if declared == Some(FAILED) {
                continue; // its annotation was reported
            }
            let Some(init) = &declarator.init else {
                match declared {
                    Some(ty) if needs_initial_value(ty) => {
                        self.error(uninitialized(declarator.span, &name, ty));
                    }
                    // `let a: integer` starts as 0 (LANGUAGE.md §3), set
                    // where it is declared like any other global.
                    Some(ty) => {
                        let assignment = Expr {
                            ty,
                            kind: ExprKind::Assign(
                                Place::Global(qualified),
                                Box::new(zero_value(ty)),
                            ),
                        };
                        out.push(self.stmt_at(StmtKind::Expr(assignment), declarator.span.into()))
                    }
                    None => {}
                }
                continue;
            };
            if declared.is_none() && starts_a_timer(init, |name| self.item(name).is_none()) {
                // `const id = setInterval(() => { … clearInterval(id) }, 10)`:
                // the callback, checked within the initializer, may use the id.
                if let Some(global) = self.globals.get_mut(&qualified) {
                    global.ty = Some(Ty::Integer);
                }
            }
            // `const f = (n: integer): integer => … f(n - 1) …`: the arrow's
            // type is known before its body is checked, which may call it.
            let declared = declared.or_else(|| {
                let ty = self.annotated_arrow_type(init)?;
                if let Some(global) = self.globals.get_mut(&qualified) {
                    global.ty = Some(ty);
                }
                Some(ty)
            });
            let value = match declared {
                Some(ty) => match self.expr_to(init, ty) {
                    Ok(value) => value,
                    Err(_) => continue,
                },
                None => {
                    // A failed initializer leaves the global's type FAILED.
                    let value = self.initial_value(init).ok();
                    if let Some(global) = self.globals.get_mut(&qualified) {
                        global.ty = Some(value.as_ref().map_or(FAILED, |value| value.ty));
                    }
                    let Some(value) = value else { continue };
                    value
                }
            };
            let assignment = Expr {
                ty: value.ty,
                kind: ExprKind::Assign(Place::Global(qualified), Box::new(value)),
            };
            out.push(self.stmt_at(StmtKind::Expr(assignment), declarator.span.into()));
        }
    }

    /// Functions no top-level code needed yet.
    pub(super) fn check_remaining_functions(&mut self) {
        for name in self.function_order.clone() {
            let _ = self.function_signature(&name, Span::default());
        }
    }

    /// Distinct names must make distinct symbols (a name may contain `$`
    /// or `:`, which symbols spell out).
    pub(super) fn check_symbols(&mut self) {
        let mut names: Vec<String> = self.checked.keys().cloned().collect();
        names.sort();
        let functions: Vec<_> = names
            .into_iter()
            .map(|name| {
                let module = self.function_module.get(&name).copied().unwrap_or(0);
                (
                    function_symbol(&name),
                    self.checked[&name].span,
                    module,
                    name,
                )
            })
            .collect();
        self.report_symbol_clashes(functions);
        let globals: Vec<_> = self
            .global_order
            .iter()
            .map(|name| {
                let global = &self.globals[name];
                (
                    global_symbol(name),
                    global.span,
                    global.module,
                    name.clone(),
                )
            })
            .collect();
        self.report_symbol_clashes(globals);
    }

    /// `items`: symbol, span, module and name of each item of one kind.
    fn report_symbol_clashes(&mut self, items: Vec<(String, Span, usize, String)>) {
        let mut seen: HashMap<String, String> = HashMap::new();
        for (symbol, span, module, name) in items {
            let Some(other) = seen.insert(symbol.clone(), name.clone()) else {
                continue;
            };
            self.current = module;
            self.error(
                Diagnostic::error(
                    span,
                    format!(
                        "`{}` and `{}` would have the same symbol `{symbol}` in the generated code",
                        plain_name(&other),
                        plain_name(&name)
                    ),
                )
                .with_help("rename one of them"),
            );
        }
    }

    pub(super) fn top_level_fingerprint(&self, order: &[usize]) -> u64 {
        let mut parts: Vec<String> = Vec::new();
        for &module in order {
            let module = &self.modules[module];
            parts.push(module.file.name.clone());
            parts.extend(
                module
                    .program
                    .body
                    .iter()
                    .filter_map(|statement| match statement {
                        ast::Statement::FunctionDeclaration(_) => None,
                        ast::Statement::ExportDeclaration(export)
                            if matches!(
                                export.declaration,
                                ast::Declaration::FunctionDeclaration(_)
                            ) =>
                        {
                            None
                        }
                        // A class's shape, not its method bodies (functions
                        // of their own, patched like others).
                        ast::Statement::ClassDeclaration(class) => {
                            Some(class_shape(class, &module.file.text))
                        }
                        ast::Statement::ExportDeclaration(export) => match &export.declaration {
                            ast::Declaration::ClassDeclaration(class) => {
                                Some(class_shape(class, &module.file.text))
                            }
                            _ => Some(export.span.source_text(&module.file.text).to_string()),
                        },
                        other => Some(other.span().source_text(&module.file.text).to_string()),
                    }),
            );
        }
        fingerprint_parts(parts.iter().map(String::as_str))
    }
}

/// A class's text without its methods' bodies.
fn class_shape(class: &ast::Class<'_>, text: &str) -> String {
    let mut shape = String::new();
    let mut at = class.span.start as usize;
    for element in &class.body.body {
        if let ast::ClassElement::MethodDefinition(method) = element {
            if let Some(body) = &method.value.body {
                shape.push_str(text.get(at..body.span.start as usize).unwrap_or(""));
                at = body.span.end as usize;
            }
        }
    }
    shape.push_str(text.get(at..class.span.end as usize).unwrap_or(""));
    shape
}

/// Whether a variable of type `ty` needs an initializer: it holds an
/// object, and 0 (null) is not one. (A string starts empty.)
pub(super) fn needs_initial_value(ty: Ty) -> bool {
    ty.is_object() && ty != Ty::String
}

pub(super) fn uninitialized(span: impl Into<Span>, name: &str, ty: Ty) -> Diagnostic {
    Diagnostic::error(span, format!("`{name}` ({ty}) needs an initial value"))
        .with_help(format!("give it one, or declare it `{name}: {ty} | null`"))
}

/// The value of a variable declared without an initializer (LANGUAGE.md
/// §3): 0, 0.0, false, the empty string, or `undefined`.
fn zero_value(ty: Ty) -> Expr {
    let kind = match ty {
        Ty::Float => ExprKind::Float(0.0),
        Ty::Boolean => ExprKind::Bool(false),
        Ty::String => ExprKind::Str(String::new()),
        ty if ty.is_integral() => ExprKind::Int(0),
        _ => ExprKind::Null,
    };
    Expr { ty, kind }
}
