//! Which variables code may assign, found before it is checked: a narrowing
//! (narrowing.rs) holds only where its variable cannot have changed, and a
//! closure or a loop may change it later than the code that follows a test.
//!
//! Variables are told apart by name only, which may merge two variables of
//! the same name: that only ends more narrowings (never fewer).

use super::*;

/// What a function (a top-level function, a method, or a module's
/// top-level code), with the arrow functions inside it, assigns.
#[derive(Default)]
pub(super) struct Assignments {
    /// Variables assigned by an arrow function that does not declare them
    /// (its captured variables, and globals): a call may change them.
    pub(super) by_closures: HashSet<String>,
    /// Those of `by_closures` assigned by a closure that may escape the
    /// code that makes it: a call of a known function may run it too.
    /// (One that is only ever called by name where it is made, as
    /// `const reset = () => { … }; reset()`, runs only there.)
    pub(super) by_escaping_closures: HashSet<String>,
    /// For a variable assigned by the code that declares it: the last
    /// position after which an assignment may still run (the assignment,
    /// or the end of the outermost loop around it, whose next iteration
    /// runs it again).
    pub(super) last: HashMap<String, u32>,
    /// Names a function assigns without declaring them: globals.
    pub(super) undeclared: HashSet<String>,
    /// Every name assigned.
    pub(super) all: HashSet<String>,
    /// Whether the code may call script code (a function, a method, a
    /// closure, a constructor), which may assign what it can reach.
    pub(super) calls: bool,
    /// What the calls of script code call (call_effects.rs).
    pub(super) callees: Vec<Callee>,
}

/// What a call of script code calls, as far as the code shows.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Callee {
    /// `f(...)` where `f` is not a variable of the walked code.
    Named(String),
    /// `o.m(...)`: a method named `m` of some class (static or not).
    Method(String),
    /// `new C(...)` where `C` is not a variable of the walked code.
    New(String),
    /// `super(...)`: the superclass's constructor.
    Super,
    /// A function value: any function may run.
    Unknown,
}

impl Assignments {
    /// The assignments of a top-level function or method.
    pub(super) fn of_function(params: &[String], body: &[ast::Statement<'_>]) -> Self {
        let mut walker = Walker::new(false, Vec::new());
        walker.scopes[0].extend(params.iter().cloned());
        walker.statements(body);
        walker.finish()
    }

    /// The assignments of a module's top-level code (its `let`s are
    /// globals), and of its static initializers.
    pub(super) fn of_top_level(program: &ast::Program<'_>) -> Self {
        let mut walker = Walker::new(true, Vec::new());
        for statement in &program.body {
            match statement {
                ast::Statement::ClassDeclaration(class) => walker.static_initializers(class),
                ast::Statement::ExportDeclaration(export) => match &export.declaration {
                    ast::Declaration::ClassDeclaration(class) => walker.static_initializers(class),
                    ast::Declaration::VariableDeclaration(declaration) => {
                        walker.declaration(declaration)
                    }
                    _ => {}
                },
                ast::Statement::FunctionDeclaration(_) => {}
                statement => walker.statement(statement),
            }
        }
        walker.finish()
    }

    /// The assignments of a declared function or method.
    pub(super) fn of_declared_function(function: &ast::Function<'_>) -> Self {
        let params: Vec<String> = function
            .params
            .items
            .iter()
            .filter_map(|p| p.pattern.get_identifier_name().map(|n| n.to_string()))
            .collect();
        match &function.body {
            Some(body) => Self::of_function(&params, &body.statements),
            None => Self::default(),
        }
    }

    /// The assignments of a class's property initializers.
    pub(super) fn of_initializers(class: &ast::Class<'_>) -> Self {
        let mut walker = Walker::new(false, Vec::new());
        walker.static_initializers(class);
        walker.out
    }

    /// The names of its module's globals that some function of `program`
    /// (a top-level function, a method, a closure) may assign.
    pub(super) fn globals_assigned_by_functions(program: &ast::Program<'_>) -> HashSet<String> {
        let mut names = Self::of_top_level(program).undeclared;
        let function = |function: &ast::Function<'_>, names: &mut HashSet<String>| {
            names.extend(Self::of_declared_function(function).undeclared);
        };
        let class = |class: &ast::Class<'_>, names: &mut HashSet<String>| {
            for element in &class.body.body {
                if let ast::ClassElement::MethodDefinition(method) = element {
                    function(&method.value, names);
                }
            }
        };
        for statement in &program.body {
            match statement {
                ast::Statement::FunctionDeclaration(f) => function(f, &mut names),
                ast::Statement::ClassDeclaration(c) => class(c, &mut names),
                ast::Statement::ExportDeclaration(export) => match &export.declaration {
                    ast::Declaration::FunctionDeclaration(f) => function(f, &mut names),
                    ast::Declaration::ClassDeclaration(c) => class(c, &mut names),
                    _ => {}
                },
                _ => {}
            }
        }
        names
    }

    /// What `parts` (expressions and statements of one piece of code) may
    /// assign (`all`) and whether they call script code (`calls`).
    /// `builtins` are the built-in objects (`Math`, `Array`, …) that their
    /// names mean where the code starts.
    pub(super) fn of_code(builtins: Vec<&'static str>, parts: impl FnOnce(&mut Walker)) -> Self {
        let mut walker = Walker::new(false, builtins);
        parts(&mut walker);
        walker.out
    }
}

/// A function being walked.
struct Frame {
    /// Its first scope in `Walker::scopes`.
    first_scope: usize,
    /// The end of the outermost loop around the current point.
    loop_end: Option<u32>,
    /// An arrow function that initializes this local `const` of the code
    /// walked (not of another arrow).
    constant: Option<String>,
}

pub(super) struct Walker {
    out: Assignments,
    /// The names declared in each block scope.
    scopes: Vec<HashSet<String>>,
    /// The function and the arrow functions around the current point.
    frames: Vec<Frame>,
    /// Walking top-level code: its outermost declarations are globals.
    top_level: bool,
    /// The names of built-in objects that no variable of the code hides.
    builtins: Vec<&'static str>,
    /// The local `const` that the next arrow function initializes.
    next_constant: Option<String>,
    /// Variables that an arrow in a `Frame::constant` assigns, by constant.
    by_constants: Vec<(String, String)>,
    /// Names used otherwise than called by name in the code walked (not
    /// in an arrow): a closure they name may escape.
    escaping: HashSet<String>,
}

/// Objects whose methods and constructors run no script code.
pub(super) const BUILTIN_OBJECTS: [&str; 6] = [
    "Math",
    "time",
    "String",
    "Array",
    "Uint8Array",
    "FixedArray",
];

impl Walker {
    fn new(top_level: bool, builtins: Vec<&'static str>) -> Self {
        Walker {
            out: Assignments::default(),
            scopes: vec![HashSet::new()],
            frames: vec![Frame {
                first_scope: 0,
                loop_end: None,
                constant: None,
            }],
            top_level,
            builtins,
            next_constant: None,
            by_constants: Vec::new(),
            escaping: HashSet::new(),
        }
    }

    fn finish(mut self) -> Assignments {
        for (constant, name) in self.by_constants {
            if self.escaping.contains(&constant) {
                self.out.by_escaping_closures.insert(name);
            }
        }
        self.out
    }

    /// Whether `name` names a built-in object here.
    fn is_builtin(&self, expression: &ast::Expression<'_>) -> bool {
        let ast::Expression::Identifier(id) = expression.without_parentheses() else {
            return false;
        };
        let name = id.name.as_str();
        self.builtins.contains(&name) && !self.is_declared(name)
    }

    /// What a call of `callee` may run: `None` if no script code.
    fn callee(&self, callee: &ast::Expression<'_>) -> Option<Callee> {
        if super::print_target(callee).is_some() {
            return None;
        }
        match callee.without_parentheses() {
            ast::Expression::StaticMemberExpression(member) => (!self.is_builtin(&member.object))
                .then(|| Callee::Method(member.property.name.to_string())),
            ast::Expression::Identifier(id) if !self.is_declared(id.name.as_str()) => {
                Some(Callee::Named(id.name.to_string()))
            }
            ast::Expression::Super(_) => Some(Callee::Super),
            _ => Some(Callee::Unknown),
        }
    }

    fn is_declared(&self, name: &str) -> bool {
        self.scopes.iter().any(|s| s.contains(name))
    }

    fn calls(&mut self, callee: Option<Callee>) {
        if let Some(callee) = callee {
            self.out.calls = true;
            if !self.out.callees.contains(&callee) {
                self.out.callees.push(callee);
            }
        }
    }

    fn declare(&mut self, name: &str) {
        if self.top_level && self.scopes.len() == 1 {
            return;
        }
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name.to_string());
        }
    }

    fn assign(&mut self, name: &str, at: u32) {
        self.out.all.insert(name.to_string());
        let declared_in = self.scopes.iter().rposition(|s| s.contains(name));
        let frame = self.frames.last().expect("a function");
        let in_closure = self.frames.len() > 1;
        let own = match declared_in {
            Some(scope) => scope >= frame.first_scope,
            None => !in_closure,
        };
        if own {
            let last = frame.loop_end.unwrap_or(at);
            let entry = self.out.last.entry(name.to_string()).or_insert(last);
            *entry = (*entry).max(last);
        } else {
            self.out.by_closures.insert(name.to_string());
            match (&self.frames[..], declared_in) {
                ([_, arrow], Some(_)) if arrow.constant.is_some() => {
                    let constant = arrow.constant.clone().unwrap_or_default();
                    self.by_constants.push((constant, name.to_string()));
                }
                _ => {
                    self.out.by_escaping_closures.insert(name.to_string());
                }
            }
        }
        if declared_in.is_none() && (in_closure || !self.top_level) {
            self.out.undeclared.insert(name.to_string());
        }
    }

    fn scoped(&mut self, walk: impl FnOnce(&mut Self)) {
        self.scopes.push(HashSet::new());
        walk(self);
        self.scopes.pop();
    }

    fn in_loop(&mut self, span: oxc_span::Span, walk: impl FnOnce(&mut Self)) {
        let frame = self.frames.last_mut().expect("a function");
        let outer = frame.loop_end;
        frame.loop_end = Some(outer.unwrap_or(span.end));
        walk(self);
        self.frames.last_mut().expect("a function").loop_end = outer;
    }

    pub(super) fn statements(&mut self, statements: &[ast::Statement<'_>]) {
        for statement in statements {
            self.statement(statement);
        }
    }

    pub(super) fn statement(&mut self, statement: &ast::Statement<'_>) {
        use ast::Statement as S;
        match statement {
            S::BlockStatement(block) => self.scoped(|w| w.statements(&block.body)),
            S::ExpressionStatement(statement) => self.expression(&statement.expression),
            S::VariableDeclaration(declaration) => self.declaration(declaration),
            S::IfStatement(statement) => {
                self.expression(&statement.test);
                self.scoped(|w| w.statement(&statement.consequent));
                if let Some(alternate) = &statement.alternate {
                    self.scoped(|w| w.statement(alternate));
                }
            }
            S::WhileStatement(statement) => self.in_loop(statement.span, |w| {
                w.expression(&statement.test);
                w.scoped(|w| w.statement(&statement.body));
            }),
            S::DoWhileStatement(statement) => self.in_loop(statement.span, |w| {
                w.scoped(|w| w.statement(&statement.body));
                w.expression(&statement.test);
            }),
            S::ForStatement(statement) => self.scoped(|w| {
                match &statement.init {
                    Some(ast::ForStatementInit::VariableDeclaration(declaration)) => {
                        w.declaration(declaration)
                    }
                    Some(init) => {
                        if let Some(init) = init.as_expression() {
                            w.expression(init)
                        }
                    }
                    None => {}
                }
                w.in_loop(statement.span, |w| {
                    if let Some(test) = &statement.test {
                        w.expression(test);
                    }
                    w.scoped(|w| w.statement(&statement.body));
                    if let Some(update) = &statement.update {
                        w.expression(update);
                    }
                });
            }),
            S::ReturnStatement(statement) => {
                if let Some(argument) = &statement.argument {
                    self.expression(argument);
                }
            }
            // Anything else is refused, or has no expression.
            _ => {}
        }
    }

    fn declaration(&mut self, declaration: &ast::VariableDeclaration<'_>) {
        for declarator in &declaration.declarations {
            if let Some(init) = &declarator.init {
                // A global may be used anywhere.
                let local = !(self.top_level && self.scopes.len() == 1);
                if declaration.kind == ast::VariableDeclarationKind::Const
                    && local
                    && self.frames.len() == 1
                    && matches!(
                        init.without_parentheses(),
                        ast::Expression::ArrowFunctionExpression(_)
                    )
                {
                    self.next_constant = declarator.id.get_identifier_name().map(|n| n.to_string());
                }
                self.expression(init);
                self.next_constant = None;
            }
            if let Some(name) = declarator.id.get_identifier_name() {
                self.declare(name.as_str());
            }
        }
    }

    fn static_initializers(&mut self, class: &ast::Class<'_>) {
        for element in &class.body.body {
            if let ast::ClassElement::PropertyDefinition(property) = element {
                if let Some(value) = &property.value {
                    self.expression(value);
                }
            }
        }
    }

    fn target(&mut self, target: &ast::SimpleAssignmentTarget<'_>) {
        match target {
            ast::SimpleAssignmentTarget::AssignmentTargetIdentifier(id) => {
                self.assign(id.name.as_str(), id.span.start)
            }
            ast::SimpleAssignmentTarget::StaticMemberExpression(member) => {
                self.expression(&member.object)
            }
            ast::SimpleAssignmentTarget::ComputedMemberExpression(member) => {
                self.expression(&member.object);
                self.expression(&member.expression);
            }
            _ => {}
        }
    }

    fn all(&mut self, expressions: &[&ast::Expression<'_>]) {
        for expression in expressions {
            self.expression(expression);
        }
    }

    fn arguments(&mut self, arguments: &[ast::Argument<'_>]) {
        for argument in arguments {
            if let Some(argument) = argument.as_expression() {
                self.expression(argument);
            }
        }
    }

    pub(super) fn expression(&mut self, expression: &ast::Expression<'_>) {
        use ast::Expression as E;
        match expression {
            E::ParenthesizedExpression(inner) => self.expression(&inner.expression),
            E::AssignmentExpression(assignment) => {
                if let Some(target) = assignment.left.as_simple_assignment_target() {
                    self.target(target);
                }
                self.expression(&assignment.right);
            }
            E::UpdateExpression(update) => self.target(&update.argument),
            E::UnaryExpression(unary) => self.expression(&unary.argument),
            E::BinaryExpression(binary) => self.all(&[&binary.left, &binary.right]),
            E::LogicalExpression(logical) => self.all(&[&logical.left, &logical.right]),
            E::ConditionalExpression(conditional) => self.all(&[
                &conditional.test,
                &conditional.consequent,
                &conditional.alternate,
            ]),
            E::CallExpression(call) => {
                self.calls(self.callee(&call.callee));
                let by_name = matches!(call.callee.without_parentheses(), E::Identifier(_));
                if !(by_name && self.frames.len() == 1) {
                    self.expression(&call.callee);
                }
                self.arguments(&call.arguments);
            }
            E::NewExpression(new) => {
                let callee = match new.callee.without_parentheses() {
                    _ if self.is_builtin(&new.callee) => None,
                    ast::Expression::Identifier(id) if !self.is_declared(id.name.as_str()) => {
                        Some(Callee::New(id.name.to_string()))
                    }
                    _ => Some(Callee::Unknown),
                };
                self.calls(callee);
                self.expression(&new.callee);
                self.arguments(&new.arguments);
            }
            E::TSAsExpression(cast) => self.expression(&cast.expression),
            E::ArrayExpression(array) => {
                for element in &array.elements {
                    if let Some(element) = element.as_expression() {
                        self.expression(element);
                    }
                }
            }
            E::StaticMemberExpression(member) => self.expression(&member.object),
            E::ComputedMemberExpression(member) => self.all(&[&member.object, &member.expression]),
            // Native code may write the variables it names.
            E::TaggedTemplateExpression(template) => {
                for expression in &template.quasi.expressions {
                    match expression.without_parentheses() {
                        E::Identifier(id) => {
                            self.escaping.insert(id.name.to_string());
                            self.assign(id.name.as_str(), id.span.start)
                        }
                        other => self.expression(other),
                    }
                }
            }
            E::Identifier(id) => {
                self.escaping.insert(id.name.to_string());
            }
            E::ArrowFunctionExpression(arrow) => {
                self.frames.push(Frame {
                    first_scope: self.scopes.len(),
                    loop_end: None,
                    constant: self.next_constant.take(),
                });
                self.scoped(|w| {
                    for param in &arrow.params.items {
                        if let Some(name) = param.pattern.get_identifier_name() {
                            w.declare(name.as_str());
                        }
                    }
                    match &arrow.body {
                        ast::ArrowFunctionBody::FunctionBody(body) => {
                            w.statements(&body.statements)
                        }
                        body => {
                            if let Some(expression) = body.as_expression() {
                                w.expression(expression)
                            }
                        }
                    }
                });
                self.frames.pop();
            }
            // Anything else assigns nothing, or is refused.
            _ => {}
        }
    }
}
