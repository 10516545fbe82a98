//! Classes (LANGUAGE.md §5): declarations, instances, fields, methods with
//! virtual dispatch, static members, `this` and `super`.
//!
//! A method is a function named `C.m` whose first parameter is `this`; the
//! constructor is `C.constructor`, a static method `C.f` without `this`. A
//! method that some subclass overrides is called through the class
//! descriptor's table of slots (virtual dispatch); any other directly
//! through its own slot.

use super::*;

pub(super) struct ClassInfo<'a> {
    pub(super) name: Name,
    pub(super) module: usize,
    pub(super) declaration: &'a ast::Class<'a>,
    pub(super) superclass: Option<Name>,
    /// Every field, inherited ones first.
    pub(super) fields: Vec<(String, Ty)>,
    /// Every instance method (inherited ones included).
    pub(super) methods: Vec<MethodInfo>,
    /// Static properties: name → qualified global.
    statics: HashMap<String, String>,
    /// Static methods: name → function.
    static_methods: HashMap<String, String>,
    /// The constructor that `new` runs: its own or the nearest inherited.
    pub(super) constructor: Option<String>,
    /// The implementing function of each virtual method index.
    pub(super) vtable: Vec<String>,
    resolved: bool,
}

#[derive(Clone)]
pub(super) struct MethodInfo {
    pub(super) name: String,
    /// The implementing function (`C.m`, or a superclass's).
    pub(super) function: String,
    pub(super) vtable: u32,
}

/// What a function is to its class.
#[derive(Clone)]
pub(super) struct MethodOf {
    pub(super) class: Name,
    pub(super) is_static: bool,
    pub(super) is_constructor: bool,
}

fn key_name(key: &ast::PropertyKey<'_>) -> Option<String> {
    match key {
        ast::PropertyKey::StaticIdentifier(id) => Some(id.name.to_string()),
        _ => None,
    }
}

impl<'s, 'a> Checker<'s, 'a> {
    /// Binds a class's name (its members are resolved once every module's
    /// names are known: `resolve_classes`).
    pub(super) fn declare_class(&mut self, class: &'a ast::Class<'a>, exported: bool) {
        let Some(id) = &class.id else { return };
        let name = id.name.as_str();
        let qualified = self.qualify(name);
        if !self.bind(
            name,
            Item::Class(qualified.clone()),
            id.span.into(),
            exported,
        ) {
            return;
        }
        self.classes.insert(
            qualified.clone(),
            ClassInfo {
                name: Name::new(&qualified),
                module: self.current,
                declaration: class,
                superclass: None,
                fields: Vec::new(),
                methods: Vec::new(),
                statics: HashMap::new(),
                static_methods: HashMap::new(),
                constructor: None,
                vtable: Vec::new(),
                resolved: false,
            },
        );
    }

    /// Resolves every class's superclass and members, superclasses first.
    pub(super) fn resolve_classes(&mut self) {
        let mut names: Vec<String> = self.classes.keys().cloned().collect();
        names.sort();
        for name in names {
            let mut visiting = Vec::new();
            self.resolve_class(&name, &mut visiting);
        }
    }

    fn resolve_class(&mut self, qualified: &str, visiting: &mut Vec<String>) {
        let Some(info) = self.classes.get(qualified) else {
            return;
        };
        if info.resolved {
            return;
        }
        let declaration = info.declaration;
        let module = info.module;
        let caller = self.current;
        self.current = module;
        if visiting.iter().any(|v| v == qualified) {
            self.error(Diagnostic::error(
                declaration.span,
                "a class cannot extend itself, directly or not",
            ));
            self.current = caller;
            return;
        }
        visiting.push(qualified.to_string());
        let class_name = Name::new(qualified);
        let mut superclass = None;
        let mut fields = Vec::new();
        let mut methods: Vec<MethodInfo> = Vec::new();
        let mut vtable = Vec::new();
        let mut constructor = None;
        if let Some(heritage) = &declaration.heritage {
            match heritage.expression.without_parentheses() {
                ast::Expression::Identifier(id) => match self.item(id.name.as_str()) {
                    Some(Item::Class(parent)) => {
                        self.resolve_class(&parent, visiting);
                        self.current = module;
                        if let Some(parent_info) = self.classes.get(&parent) {
                            superclass = Some(parent_info.name);
                            fields = parent_info.fields.clone();
                            methods = parent_info.methods.clone();
                            vtable = parent_info.vtable.clone();
                            constructor = parent_info.constructor.clone();
                        }
                    }
                    Some(Item::Unresolved) => {}
                    _ => {
                        self.error(Diagnostic::error(
                            id.span,
                            format!("`{}` is not a class", id.name),
                        ));
                    }
                },
                other => {
                    self.error(Diagnostic::unsupported(
                        other.span(),
                        "extending anything but a class name",
                    ));
                }
            }
        }
        if let Some(parameters) = &declaration.type_parameters {
            self.error(Diagnostic::unsupported(parameters.span, "generic classes"));
        }
        if let Some(implements) = declaration.implements.first() {
            self.error(Diagnostic::unsupported(implements.span, "`implements`"));
        }
        if declaration.r#abstract {
            self.error(Diagnostic::unsupported(
                declaration.span,
                "`abstract` classes",
            ));
        }
        let mut statics = HashMap::new();
        let mut static_methods = HashMap::new();
        let plain = plain_name(qualified).to_string();
        let inherited_fields = fields.len();
        // A static and an instance method may share a name (LANGUAGE.md
        // §5): the static one's function is then named apart.
        let instance_methods: HashSet<String> = declaration
            .body
            .body
            .iter()
            .filter_map(|element| match element {
                ast::ClassElement::MethodDefinition(method) if !method.r#static => {
                    key_name(&method.key)
                }
                _ => None,
            })
            .collect();
        for element in &declaration.body.body {
            match element {
                ast::ClassElement::PropertyDefinition(property) => {
                    let Some(name) = key_name(&property.key) else {
                        self.error(Diagnostic::unsupported(
                            property.key.span(),
                            "a computed or private property name",
                        ));
                        continue;
                    };
                    if property.accessibility.is_some() || property.readonly {
                        self.error(Diagnostic::unsupported(
                            property.span,
                            "access modifiers and `readonly` (everything is public)",
                        ));
                    }
                    let ty = match &property.type_annotation {
                        // Declared even so: its uses report nothing more.
                        Some(annotation) => self
                            .value_type(&annotation.type_annotation)
                            .unwrap_or(FAILED),
                        None => Ty::Any,
                    };
                    if property.r#static {
                        let global = format!("{qualified}.{name}");
                        self.global_order.push(global.clone());
                        self.globals.insert(
                            global.clone(),
                            GlobalInfo {
                                ty: Some(ty),
                                is_const: false,
                                module,
                                span: property.key.span().into(),
                            },
                        );
                        statics.insert(name, global);
                        continue;
                    }
                    if let Some(value) = &property.value {
                        self.error(
                            Diagnostic::error(
                                value.span(),
                                "a property has no initializer in BlueScript",
                            )
                            .with_help(format!("set it in the constructor: `this.{name} = …`")),
                        );
                        continue;
                    }
                    match fields.iter().position(|(field, _)| *field == name) {
                        // A redeclared inherited property keeps its type
                        // (a failed annotation was reported already).
                        Some(index)
                            if index < inherited_fields
                                && (fields[index].1 == ty || ty == FAILED) =>
                        {
                            continue
                        }
                        Some(index) if index < inherited_fields => {
                            self.error(Diagnostic::error(
                                property.key.span(),
                                format!(
                                    "the property `{name}` is inherited with type {}, not {ty}",
                                    fields[index].1
                                ),
                            ));
                            continue;
                        }
                        Some(_) => {
                            self.error(Diagnostic::error(
                                property.key.span(),
                                format!("the property `{name}` is declared twice"),
                            ));
                            continue;
                        }
                        None => {}
                    }
                    fields.push((name, ty));
                }
                ast::ClassElement::MethodDefinition(method) => {
                    let Some(name) = key_name(&method.key) else {
                        self.error(Diagnostic::unsupported(
                            method.key.span(),
                            "a computed or private method name",
                        ));
                        continue;
                    };
                    if matches!(
                        method.kind,
                        ast::MethodDefinitionKind::Get | ast::MethodDefinitionKind::Set
                    ) {
                        self.error(Diagnostic::unsupported(method.span, "getters and setters"));
                        continue;
                    }
                    if method.accessibility.is_some() {
                        self.error(Diagnostic::unsupported(
                            method.span,
                            "access modifiers (everything is public)",
                        ));
                    }
                    let is_constructor = method.kind == ast::MethodDefinitionKind::Constructor;
                    let function = if method.r#static && instance_methods.contains(&name) {
                        format!("{qualified}.static {name}")
                    } else {
                        format!("{qualified}.{name}")
                    };
                    if self.functions.contains_key(&function) {
                        self.error(Diagnostic::error(
                            method.key.span(),
                            format!("`{plain}.{name}` is declared twice"),
                        ));
                        continue;
                    }
                    self.function_order.push(function.clone());
                    self.function_module.insert(function.clone(), module);
                    self.functions
                        .insert(function.clone(), FunctionState::Unchecked(&method.value));
                    self.methods_of.insert(
                        function.clone(),
                        MethodOf {
                            class: class_name,
                            is_static: method.r#static,
                            is_constructor,
                        },
                    );
                    if is_constructor {
                        constructor = Some(function);
                    } else if method.r#static {
                        static_methods.insert(name, function);
                    } else if let Some(inherited) = methods.iter_mut().find(|m| m.name == name) {
                        // An override: same vtable index.
                        inherited.function = function.clone();
                        vtable[inherited.vtable as usize] = function;
                    } else {
                        methods.push(MethodInfo {
                            name,
                            function: function.clone(),
                            vtable: vtable.len() as u32,
                        });
                        vtable.push(function);
                    }
                }
                ast::ClassElement::StaticBlock(block) => {
                    self.error(Diagnostic::unsupported(block.span, "static blocks"));
                }
                other => {
                    self.error(Diagnostic::unsupported(other.span(), "this class member"));
                }
            }
        }
        visiting.pop();
        if let Some(info) = self.classes.get_mut(qualified) {
            info.superclass = superclass;
            info.fields = fields;
            info.methods = methods;
            info.vtable = vtable;
            info.constructor = constructor;
            info.statics = statics;
            info.static_methods = static_methods;
            info.resolved = true;
        }
        self.current = caller;
    }

    /// A property that holds an object (not nullable, not `any`) is set by
    /// the constructor, at its top level: an instance never holds a null
    /// where its type promises an object.
    pub(super) fn check_field_initialization(&mut self) {
        let mut names: Vec<String> = self.classes.keys().cloned().collect();
        names.sort();
        for name in names {
            let info = &self.classes[&name];
            let (declaration, module) = (info.declaration, info.module);
            let fields = info.fields.clone();
            // The superclass's constructor sets the inherited ones.
            let inherited: HashSet<String> = info
                .superclass
                .and_then(|superclass| self.classes.get(superclass.qualified()))
                .map(|parent| parent.fields.iter().map(|f| f.0.clone()).collect())
                .unwrap_or_default();
            let mut assigned: HashSet<String> = HashSet::new();
            for element in &declaration.body.body {
                let ast::ClassElement::MethodDefinition(method) = element else {
                    continue;
                };
                if method.kind != ast::MethodDefinitionKind::Constructor {
                    continue;
                }
                for statement in method.value.body.iter().flat_map(|b| &b.statements) {
                    assigned_fields(statement, &mut assigned);
                }
            }
            for element in &declaration.body.body {
                let ast::ClassElement::PropertyDefinition(property) = element else {
                    continue;
                };
                let Some(field) = key_name(&property.key) else {
                    continue;
                };
                let ty = fields.iter().find(|f| f.0 == field).map(|f| f.1);
                let needs_value = ty.is_some_and(|ty| ty.is_object());
                if property.r#static
                    || !needs_value
                    || assigned.contains(&field)
                    || inherited.contains(&field)
                {
                    continue;
                }
                let ty = ty.expect("a field's type");
                self.current = module;
                self.error(
                    Diagnostic::error(
                        property.key.span(),
                        format!("the property `{field}` ({ty}) is not set by the constructor"),
                    )
                    .with_help(format!(
                        "set it at the top of the constructor (`this.{field} = …`), or declare it `{field}: {ty} | null`"
                    )),
                );
            }
        }
    }

    /// Overrides must keep the signature of the method they override.
    pub(super) fn check_overrides(&mut self) {
        let mut names: Vec<String> = self.classes.keys().cloned().collect();
        names.sort();
        for name in names {
            let info = &self.classes[&name];
            let Some(superclass) = info.superclass else {
                continue;
            };
            let own: Vec<MethodInfo> = info
                .methods
                .iter()
                .filter(|m| m.function.starts_with(&format!("{name}.")))
                .cloned()
                .collect();
            let module = info.module;
            for method in own {
                let inherited = self.classes[superclass.qualified()]
                    .methods
                    .iter()
                    .find(|m| m.name == method.name)
                    .map(|m| m.function.clone());
                let Some(inherited) = inherited else { continue };
                let (Ok(mine), Ok(theirs)) = (
                    self.function_signature(&method.function, Span::default()),
                    self.function_signature(&inherited, Span::default()),
                ) else {
                    continue;
                };
                if mine != theirs {
                    let span = self
                        .checked
                        .get(&method.function)
                        .map_or(Span::default(), |f| f.span);
                    self.current = module;
                    self.error(Diagnostic::error(
                        span,
                        format!(
                            "`{}` overrides a method of type {theirs} with one of type {mine}",
                            plain_name(&method.function)
                        ),
                    ));
                }
            }
        }
    }

    /// A subclass's constructor calls `super(…)` first (LANGUAGE.md §5).
    pub(super) fn check_super_first(
        &mut self,
        method: &MethodOf,
        body: &ast::FunctionBody<'_>,
    ) -> Checked<()> {
        let has_superclass = self
            .classes
            .get(method.class.qualified())
            .is_some_and(|c| c.superclass.is_some());
        if !method.is_constructor || !has_superclass {
            return Ok(());
        }
        let calls_super = |statement: &ast::Statement<'_>| {
            matches!(statement, ast::Statement::ExpressionStatement(s)
                if matches!(s.expression.without_parentheses(), ast::Expression::CallExpression(call)
                    if matches!(call.callee, ast::Expression::Super(_))))
        };
        match body.statements.first() {
            Some(first) if calls_super(first) => Ok(()),
            _ => Err(self.error(
                Diagnostic::error(
                    body.span,
                    format!(
                        "the constructor of `{}` must call `super(…)` first",
                        method.class.name()
                    ),
                )
                .with_help("it is a subclass: its superclass's part is set up first"),
            )),
        }
    }

    /// The class of the method being checked, if any.
    fn enclosing_method(&self) -> Option<MethodOf> {
        // Arrows inside a method see its `this` (captured) and its class.
        self.contexts
            .iter()
            .rev()
            .find(|c| !c.is_arrow)
            .and_then(|c| self.methods_of.get(&c.name).cloned())
    }

    /// `this`.
    pub(super) fn this(&mut self, span: Span) -> Checked<Expr> {
        match self.enclosing_method() {
            Some(method) if !method.is_static => {
                let (place, ty, _) = self.resolve_place("this", span)?;
                Ok(Expr {
                    ty,
                    kind: ExprKind::Read(place),
                })
            }
            Some(_) => Err(self.error(Diagnostic::error(span, "a static method has no `this`"))),
            None => Err(self.error(Diagnostic::error(
                span,
                "`this` is only in methods and constructors",
            ))),
        }
    }

    /// `new C(args)`.
    pub(super) fn new_object(
        &mut self,
        qualified: &str,
        arguments: &[&ast::Expression<'_>],
        span: Span,
    ) -> Checked<Expr> {
        let info = &self.classes[qualified];
        let class = info.name;
        let constructor = info.constructor.clone();
        let args = match &constructor {
            Some(function) => {
                let signature = self.function_signature(function, span)?;
                self.arguments(
                    &format!("new {}", class.name()),
                    &signature,
                    arguments,
                    span,
                )?
            }
            None => {
                self.arity(&format!("new {}", class.name()), arguments, 0, span)?;
                Vec::new()
            }
        };
        if let Some(function) = &constructor {
            self.context().references.insert(function.clone());
        }
        Ok(Expr {
            ty: Ty::Class(class),
            kind: ExprKind::New {
                class,
                constructor,
                args,
                location: self.location(span),
            },
        })
    }

    /// `super(args)` in a constructor.
    pub(super) fn super_call(
        &mut self,
        arguments: &[&ast::Expression<'_>],
        span: Span,
    ) -> Checked<Expr> {
        let method = self.enclosing_method();
        let Some(MethodOf {
            class,
            is_constructor: true,
            ..
        }) = method
        else {
            return Err(self.error(Diagnostic::error(
                span,
                "`super(…)` is only in the constructor of a subclass",
            )));
        };
        let Some(superclass) = self.classes[class.qualified()].superclass else {
            return Err(self.no_superclass(class, span));
        };
        let this = self.this(span)?;
        let Some(constructor) = self.classes[superclass.qualified()].constructor.clone() else {
            self.arity("super", arguments, 0, span)?;
            return Ok(Expr {
                ty: Ty::Void,
                kind: ExprKind::Null,
            });
        };
        let signature = self.function_signature(&constructor, span)?;
        let mut args = vec![this];
        args.extend(self.arguments("super", &signature, arguments, span)?);
        self.context().references.insert(constructor.clone());
        Ok(Expr {
            ty: Ty::Void,
            kind: ExprKind::CallScript {
                name: constructor,
                signature: with_this(&signature, Ty::Class(superclass)),
                args,
            },
        })
    }

    /// `object.name` where `object` is an instance of `class`: a field.
    pub(super) fn field_place(
        &mut self,
        object: Expr,
        class: Name,
        name: &str,
        span: Span,
    ) -> Checked<(Place, Ty)> {
        let info = &self.classes[class.qualified()];
        if let Some(index) = info.fields.iter().position(|(field, _)| field == name) {
            let ty = info.fields[index].1;
            if ty == FAILED {
                return Err(Reported);
            }
            return Ok((
                Place::Field {
                    object: Box::new(object),
                    offset: index as u32 + 1,
                },
                ty,
            ));
        }
        if info.methods.iter().any(|m| m.name == name) {
            return Err(self.error(
                Diagnostic::error(span, format!("`{name}` is a method: call it"))
                    .with_help("a method is not a property in BlueScript"),
            ));
        }
        Err(self.error(Diagnostic::error(
            span,
            format!("`{}` has no property `{name}`", class.name()),
        )))
    }

    /// `C.k`: a static property of class `C`.
    pub(super) fn static_place(
        &mut self,
        qualified: &str,
        name: &str,
        span: Span,
    ) -> Checked<(Place, Ty)> {
        let info = &self.classes[qualified];
        match info.statics.get(name) {
            Some(global) => {
                let ty = self.globals[global].ty.unwrap_or(Ty::Any);
                if ty == FAILED {
                    return Err(Reported);
                }
                Ok((Place::Static(global.clone()), ty))
            }
            None => {
                let class = info.name;
                Err(self.error(Diagnostic::error(
                    span,
                    format!("`{}` has no static property `{name}`", class.name()),
                )))
            }
        }
    }

    /// `super` in a class without a superclass; silent when its `extends`
    /// failed (and was reported).
    fn no_superclass(&mut self, class: Name, span: Span) -> Reported {
        if self.classes[class.qualified()]
            .declaration
            .heritage
            .is_some()
        {
            return Reported;
        }
        self.error(Diagnostic::error(
            span,
            format!("`{}` has no superclass", class.name()),
        ))
    }

    /// `object.m(args)` of an instance, `C.f(args)` of a class, or
    /// `super.m(args)`.
    pub(super) fn method_call(
        &mut self,
        member: &ast::StaticMemberExpression<'_>,
        arguments: &[&ast::Expression<'_>],
        span: Span,
    ) -> Checked<Option<Expr>> {
        let name = member.property.name.as_str();
        // `C.f(…)`
        if let ast::Expression::Identifier(id) = member.object.without_parentheses() {
            if self.lookup_local(id.name.as_str()).is_none() && !self.is_captured(id.name.as_str())
            {
                if let Some(Item::Class(qualified)) = self.item(id.name.as_str()) {
                    let Some(function) = self.static_method(&qualified, name) else {
                        return Err(self.error(Diagnostic::error(
                            member.property.span,
                            format!("`{}` has no static method `{name}`", id.name),
                        )));
                    };
                    let signature = self.function_signature(&function, span)?;
                    let args = self.arguments(name, &signature, arguments, span)?;
                    self.context().references.insert(function.clone());
                    return Ok(Some(Expr {
                        ty: signature.ret,
                        kind: ExprKind::CallScript {
                            name: function,
                            signature,
                            args,
                        },
                    }));
                }
            }
        }
        // `super.m(…)`: the superclass's method, not dispatched.
        if let ast::Expression::Super(sup) = member.object.without_parentheses() {
            let class = match self.enclosing_method() {
                Some(MethodOf {
                    class,
                    is_static: false,
                    ..
                }) => class,
                _ => {
                    return Err(self.error(Diagnostic::error(
                        sup.span,
                        "`super` is only in methods and constructors",
                    )))
                }
            };
            let Some(superclass) = self.classes[class.qualified()].superclass else {
                return Err(self.no_superclass(class, sup.span.into()));
            };
            let this = self.this(sup.span.into())?;
            return self
                .instance_call(this, superclass, member, arguments, span, false)
                .map(Some);
        }
        let object = self.expr(&member.object)?;
        match object.ty {
            Ty::Class(class) => self
                .instance_call(object, class, member, arguments, span, true)
                .map(Some),
            Ty::Any => self
                .dynamic_method_call(object, name, arguments, span)
                .map(Some),
            Ty::Array(_) | Ty::Uint8Array | Ty::FixedArray => self
                .array_method(object, name, arguments, span, member.property.span.into())
                .map(Some),
            Ty::Nullable(_) => Err(self.error(
                Diagnostic::error(
                    member.object.span(),
                    format!("this value may be null (its type is {})", object.ty),
                )
                .with_help("check it first: `if (x != null) { … }`"),
            )),
            _ => Ok(None),
        }
    }

    /// The static method `name` of a class or, as in JavaScript, of its
    /// nearest superclass that has one.
    fn static_method(&self, qualified: &str, name: &str) -> Option<String> {
        let info = self.classes.get(qualified)?;
        match info.static_methods.get(name) {
            Some(function) => Some(function.clone()),
            None => self.static_method(info.superclass?.qualified(), name),
        }
    }

    fn instance_call(
        &mut self,
        object: Expr,
        class: Name,
        member: &ast::StaticMemberExpression<'_>,
        arguments: &[&ast::Expression<'_>],
        span: Span,
        dispatch: bool,
    ) -> Checked<Expr> {
        let name = member.property.name.as_str();
        let name_span: Span = member.property.span.into();
        let info = &self.classes[class.qualified()];
        let Some(method) = info.methods.iter().find(|m| m.name == name).cloned() else {
            if info.fields.iter().any(|(field, _)| field == name) {
                return Err(self.error(Diagnostic::unsupported(
                    span,
                    "calling a function stored in a property",
                )));
            }
            return Err(self.error(Diagnostic::error(
                name_span,
                format!("`{}` has no method `{name}`", class.name()),
            )));
        };
        let signature = self.function_signature(&method.function, span)?;
        let args = self.arguments(name, &signature, arguments, span)?;
        let virtual_call = dispatch && self.is_overridden(class, &method);
        self.context().references.insert(method.function.clone());
        if virtual_call {
            for function in self.overriders(class, &method) {
                self.context().references.insert(function);
            }
            return Ok(Expr {
                ty: signature.ret,
                kind: ExprKind::CallMethod {
                    function: method.function,
                    vtable: Some(method.vtable),
                    signature,
                    object: Box::new(object),
                    args,
                },
            });
        }
        let owner = self.methods_of[&method.function].class;
        let mut all = vec![object];
        all.extend(args);
        Ok(Expr {
            ty: signature.ret,
            kind: ExprKind::CallScript {
                name: method.function,
                signature: with_this(&signature, Ty::Class(owner)),
                args: all,
            },
        })
    }

    /// Whether a subclass of `class` implements `method` differently.
    fn is_overridden(&self, class: Name, method: &MethodInfo) -> bool {
        !self.overriders(class, method).is_empty()
    }

    /// The functions of subclasses of `class` that override `method`.
    fn overriders(&self, class: Name, method: &MethodInfo) -> Vec<String> {
        let mut out: Vec<String> = self
            .classes
            .values()
            .filter(|c| c.name != class && self.is_subtype(Ty::Class(c.name), Ty::Class(class)))
            .filter_map(|c| c.methods.iter().find(|m| m.name == method.name))
            .filter(|m| m.function != method.function)
            .map(|m| m.function.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The classes for the code generator, in a stable order.
    pub(super) fn class_list(&self) -> Vec<Class> {
        let mut names: Vec<&String> = self.classes.keys().collect();
        names.sort();
        let mut out = Vec::new();
        for name in names {
            let info = &self.classes[name];
            let methods = info
                .methods
                .iter()
                .filter_map(|m| {
                    let signature = match self.functions.get(&m.function) {
                        Some(FunctionState::Done(signature)) => signature.clone(),
                        _ => return None,
                    };
                    Some((m.name.clone(), m.function.clone(), signature))
                })
                .collect();
            out.push(Class {
                name: info.name,
                superclass: info.superclass,
                fields: info.fields.clone(),
                methods,
                vtable: info.vtable.clone(),
                file: info.module as u32,
            });
        }
        out
    }
}

/// Adds the `f` of `this.f = …` that `statement` surely runs: at its top
/// level, in blocks, and in both branches of an `if`/`else` (LANGUAGE.md §5).
fn assigned_fields(statement: &ast::Statement<'_>, assigned: &mut HashSet<String>) {
    match statement {
        ast::Statement::ExpressionStatement(statement) => {
            if let ast::Expression::AssignmentExpression(assignment) =
                statement.expression.without_parentheses()
            {
                if let ast::AssignmentTarget::StaticMemberExpression(member) = &assignment.left {
                    if matches!(member.object, ast::Expression::ThisExpression(_)) {
                        assigned.insert(member.property.name.to_string());
                    }
                }
            }
        }
        ast::Statement::BlockStatement(block) => {
            for statement in &block.body {
                assigned_fields(statement, assigned);
            }
        }
        ast::Statement::IfStatement(statement) => {
            let Some(alternate) = &statement.alternate else {
                return;
            };
            let (mut then, mut otherwise) = (HashSet::new(), HashSet::new());
            assigned_fields(&statement.consequent, &mut then);
            assigned_fields(alternate, &mut otherwise);
            assigned.extend(then.intersection(&otherwise).cloned());
        }
        _ => {}
    }
}

/// A method's signature as its function sees it: `this` first.
pub(super) fn with_this(signature: &Signature, this: Ty) -> Signature {
    let mut params = vec![this];
    params.extend(signature.params.iter().copied());
    Signature {
        params,
        ret: signature.ret,
    }
}
