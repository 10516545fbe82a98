//! The type checker: oxc's AST in, typed IR out (or diagnostics).
//!
//! Top-level functions are checked lazily, the first time their signature is
//! needed or at the end, so that a function without a return type annotation
//! gets its type inferred before its first caller is checked.
//!
//! A program may span several modules (`compiler/modules.rs`). Each has its
//! own top-level names (its declarations and its imports); the items of all
//! of them live in one namespace of qualified names (`f` in the main script,
//! `util.bs:f` in `scripts/util.bs`), which is what the IR and the generated
//! symbols use.

use super::codegen::{function_symbol, global_symbol};
use super::diagnostic::{Diagnostic, SourceFile, Span};
use super::exports::Export;
use super::ir::*;
use super::modules::{Module, Modules};
use super::{fingerprint, fingerprint_parts};
use assignments::Assignments;
use oxc_ast::ast;
use oxc_span::GetSpan;
use oxc_syntax::operator::{
    AssignmentOperator, BinaryOperator, LogicalOperator, UnaryOperator, UpdateOperator,
};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::rc::Rc;

mod arrays;
mod assignments;
mod call_effects;
mod casts;
mod classes;
mod closures;
mod code;
mod dynamic;
mod members;
mod narrowing;
mod reachability;

/// A result whose error has already been reported.
type Checked<T> = Result<T, Reported>;

#[derive(Debug)]
pub struct Reported;

/// The type of a variable or field whose declaration failed (and was
/// reported): no variable, parameter or field is ever void, so its uses are
/// errors that report nothing more. One mistake, one diagnostic.
const FAILED: Ty = Ty::Void;

pub fn check_program(
    modules: &Modules<'_>,
    exports: &[Export],
) -> Result<Program, Vec<Diagnostic>> {
    let mut checker = Checker::new(&modules.modules, exports);
    // Imports first: a module's imports see the exports of the modules it
    // imports.
    for &module in &modules.order {
        checker.current = module;
        checker.collect_top_level();
    }
    checker.resolve_classes();
    for module in &modules.modules {
        let names = Assignments::globals_assigned_by_functions(module.program);
        checker
            .globals_assigned_by_functions
            .extend(names.iter().map(|name| module.qualify(name)));
    }
    checker.compute_call_effects();
    let mut main = Vec::new();
    for &module in &modules.order {
        checker.current = module;
        main.extend(checker.check_main());
    }
    checker.check_overrides();
    checker.check_field_initialization();
    checker.check_remaining_functions();
    checker.check_symbols();
    if !checker.diagnostics.is_empty() {
        return Err(checker.diagnostics);
    }
    let top_level_fingerprint = checker.top_level_fingerprint(&modules.order);
    // The modules in the order they run, source order within each.
    let rank: HashMap<usize, usize> = modules
        .order
        .iter()
        .enumerate()
        .map(|(rank, &module)| (module, rank))
        .collect();
    let mut functions: Vec<Function> = std::mem::take(&mut checker.checked).into_values().collect();
    functions.sort_by_key(|f| {
        let module = checker.function_module.get(&f.name).copied().unwrap_or(0);
        (
            rank.get(&module).copied().unwrap_or(0),
            f.span.start,
            f.name.clone(),
        )
    });
    Ok(Program {
        globals: checker
            .global_order
            .iter()
            .map(|name| Global {
                name: name.clone(),
                ty: checker.globals[name]
                    .ty
                    .expect("typed once main is checked"),
            })
            .collect(),
        functions,
        main,
        top_level_fingerprint,
        classes: checker.class_list(),
        native_items: std::mem::take(&mut checker.native_items_out),
    })
}

struct GlobalInfo {
    /// `None` until the declaration's initializer has been checked.
    ty: Option<Ty>,
    is_const: bool,
    module: usize,
    span: Span,
}

enum FunctionState<'a> {
    Unchecked(&'a ast::Function<'a>),
    InProgress {
        params: Vec<Ty>,
        declared_ret: Option<Ty>,
    },
    Done(Signature),
}

#[derive(Clone)]
struct Local {
    ty: Ty,
    is_const: bool,
    /// Captured by a closure: the variable lives in a cell.
    boxed: bool,
    /// The declared type, when `ty` is narrower (narrowing.rs).
    declared: Option<Ty>,
    /// A narrowed global (qualified name), not a local.
    global: Option<String>,
    /// The name in its declaration, for a diagnostic that repeats it
    /// (parameters and narrowed globals have none).
    declared_at: Option<Span>,
}

/// Whether a variable may be assigned.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Mutable,
    Const,
    /// A global imported from another module: only its module assigns it
    /// (an import is a read-only binding in JavaScript).
    Imported,
}

/// A name at the top level of a module: declared there or imported.
#[derive(Clone)]
enum Item {
    /// Qualified name.
    Global {
        name: String,
        imported: bool,
    },
    Function(String),
    Enum(String),
    /// A class (qualified name).
    Class(String),
    Driver(Export),
    /// An import or declaration that failed (and was reported): its uses
    /// report nothing more.
    Unresolved,
}

#[derive(Default)]
struct ModuleScope {
    names: HashMap<String, Item>,
    /// Where each name is declared or imported.
    declared_at: HashMap<String, Span>,
    /// Names declared with `export`.
    exported: HashSet<String>,
    /// Names bound by imports.
    imported: HashSet<String>,
}

struct EnumInfo {
    ty: Name,
    members: Vec<(String, i32)>,
}

/// What the checker knows about the function whose body it is in.
struct FnContext {
    name: String,
    scopes: Vec<HashMap<String, Local>>,
    /// Labels of the enclosing loops, innermost last.
    loops: Vec<u32>,
    next_label: u32,
    /// `None` in top-level code, where `return` is an error.
    ret: Option<ReturnType>,
    references: BTreeSet<String>,
    arrows: u32,
    /// A lifted arrow function (a closure), which may capture the locals
    /// of the functions around it.
    is_arrow: bool,
    /// What this arrow captures: the name, and the cell as the enclosing
    /// function sees it (`Place::Cell` or `Place::Captured`).
    captures: Vec<(String, Place)>,
    /// Locals that closures capture, which live in cells.
    boxed: HashSet<String>,
    /// Locals found captured while they were not in `boxed`: the body is
    /// checked again with them boxed.
    newly_captured: BTreeSet<String>,
    /// What the function around (this arrow's outermost function) assigns.
    assignments: Rc<Assignments>,
    /// Where the function starts in its file (an arrow: where it is made).
    position: u32,
}

#[derive(Clone, Copy)]
enum ReturnType {
    Declared(Ty),
    /// Fixed by the first `return`.
    Inferred(Option<Ty>),
}

struct Checker<'s, 'a> {
    modules: &'s [Module<'a>],
    /// The module whose code is being checked.
    current: usize,
    /// The top-level names of each module.
    scopes: Vec<ModuleScope>,
    diagnostics: Vec<Diagnostic>,
    /// Drivers exported without a module: visible everywhere.
    drivers: HashMap<String, Export>,
    all_exports: &'s [Export],
    /// Globals, functions and enums by qualified name.
    globals: HashMap<String, GlobalInfo>,
    global_order: Vec<String>,
    functions: HashMap<String, FunctionState<'a>>,
    /// The module of each function (lifted arrows included).
    function_module: HashMap<String, usize>,
    function_order: Vec<String>,
    enums: HashMap<String, EnumInfo>,
    checked: HashMap<String, Function>,
    contexts: Vec<FnContext>,
    /// The captures of the arrow function checked last.
    pending_captures: Vec<(String, Place)>,
    classes: HashMap<String, classes::ClassInfo<'a>>,
    /// Methods, constructors and static methods, by function name.
    methods_of: HashMap<String, classes::MethodOf>,
    /// Rust items from top-level `code` templates.
    native_items_out: Vec<String>,
    /// Globals used before their declaration gave them a type (reported).
    used_untyped: HashSet<String>,
    /// Globals (qualified names) that a function may assign: a call ends
    /// their narrowing (narrowing.rs).
    globals_assigned_by_functions: HashSet<String>,
    /// The globals that each call may assign.
    call_effects: call_effects::CallEffects,
    /// What each top-level function or method assigns, by name.
    root_assignments: HashMap<String, Rc<Assignments>>,
}

const TIMER_BUILTINS: [&str; 4] = ["setInterval", "setTimeout", "clearInterval", "clearTimeout"];

/// A qualified name (`util.bs:f`) as users wrote it (`f`).
fn plain_name(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

impl<'s, 'a> Checker<'s, 'a> {
    fn new(modules: &'s [Module<'a>], exports: &'s [Export]) -> Self {
        Checker {
            modules,
            current: 0,
            scopes: modules.iter().map(|_| ModuleScope::default()).collect(),
            diagnostics: Vec::new(),
            drivers: exports
                .iter()
                .filter(|e| e.module.is_none())
                .map(|e| (e.name.clone(), e.clone()))
                .collect(),
            all_exports: exports,
            globals: HashMap::new(),
            global_order: Vec::new(),
            functions: HashMap::new(),
            function_module: HashMap::new(),
            function_order: Vec::new(),
            enums: HashMap::new(),
            checked: HashMap::new(),
            contexts: Vec::new(),
            pending_captures: Vec::new(),
            classes: HashMap::new(),
            methods_of: HashMap::new(),
            native_items_out: Vec::new(),
            used_untyped: HashSet::new(),
            globals_assigned_by_functions: HashSet::new(),
            call_effects: Default::default(),
            root_assignments: HashMap::new(),
        }
    }

    /// The file of the module being checked.
    fn file(&self) -> &'s SourceFile {
        &self.modules[self.current].file
    }

    fn module(&self) -> &'s Module<'a> {
        &self.modules[self.current]
    }

    fn qualify(&self, name: &str) -> String {
        self.module().qualify(name)
    }

    fn error(&mut self, diagnostic: Diagnostic) -> Reported {
        let file = &self.modules[self.current].file;
        self.diagnostics.push(diagnostic.in_file(file));
        Reported
    }

    fn location(&self, span: impl Into<Span>) -> String {
        self.file().location(span.into())
    }

    /// What `name` means at the top level of the current module.
    fn item(&self, name: &str) -> Option<Item> {
        self.scopes[self.current]
            .names
            .get(name)
            .cloned()
            .or_else(|| self.drivers.get(name).cloned().map(Item::Driver))
    }

    /// The qualified name of the script function `name` names here.
    fn script_function(&self, name: &str) -> Option<String> {
        match self.scopes[self.current].names.get(name) {
            Some(Item::Function(qualified)) => Some(qualified.clone()),
            _ => None,
        }
    }

    // ----- top level -------------------------------------------------------

    /// Declares the current module's items and binds its imports: enums
    /// and imports first, since the types of globals may name them.
    fn collect_top_level(&mut self) {
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
    fn bind(&mut self, name: &str, item: Item, span: Span, exported: bool) -> bool {
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
            let first = scope.declared_at.get(name).copied().unwrap_or_default();
            let what = if scope.imported.contains(name) {
                "first imported here"
            } else {
                "first declared here"
            };
            self.error(Diagnostic::error(span, message).with_label(first, what));
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

    fn import(&mut self, import: &ast::ImportDeclaration<'_>) {
        if import.import_kind == ast::ImportOrExportKind::Type {
            return; // `import type` only informs editors
        }
        let source = import.source.value.as_str();
        if source.starts_with('.') || source.starts_with('/') {
            // Loaded by `modules::load`, which reported any failure.
            if let Some(&target) = self.module().imports.get(&import.source.span.start) {
                self.import_script(import, target);
            }
            return;
        }
        if !self
            .all_exports
            .iter()
            .any(|e| e.module.as_deref() == Some(source))
        {
            self.error(
                Diagnostic::error(import.source.span, format!("no module named '{source}'"))
                    .with_help(
                        "modules are Rust functions exported with #[bluescript::export(module = \"…\")], \
                         or script files imported with a relative path ('./util')",
                    ),
            );
            for specifier in self.import_specifiers(import) {
                self.bind_import(
                    &specifier.local.name,
                    Item::Unresolved,
                    specifier.span.into(),
                );
            }
            return;
        }
        for specifier in self.import_specifiers(import) {
            let imported = specifier.imported.name();
            match self
                .all_exports
                .iter()
                .find(|e| e.module.as_deref() == Some(source) && e.name == imported.as_str())
            {
                Some(export) => {
                    self.bind_import(
                        &specifier.local.name,
                        Item::Driver(export.clone()),
                        specifier.span.into(),
                    );
                }
                None => {
                    self.error(Diagnostic::error(
                        specifier.span,
                        format!("module '{source}' has no export named `{imported}`"),
                    ));
                    self.bind_import(
                        &specifier.local.name,
                        Item::Unresolved,
                        specifier.span.into(),
                    );
                }
            }
        }
    }

    /// The named value imports of `import`; reports the other kinds.
    fn import_specifiers<'i>(
        &mut self,
        import: &'i ast::ImportDeclaration<'i>,
    ) -> Vec<&'i ast::ImportSpecifier<'i>> {
        let mut out = Vec::new();
        for specifier in import.specifiers.iter().flatten() {
            let ast::ImportDeclarationSpecifier::ImportSpecifier(specifier) = specifier else {
                self.error(Diagnostic::unsupported(
                    specifier.span(),
                    "default and namespace imports",
                ));
                continue;
            };
            if specifier.import_kind != ast::ImportOrExportKind::Type {
                out.push(&**specifier);
            }
        }
        out
    }

    fn bind_import(&mut self, local: &str, item: Item, span: Span) {
        if self.bind(local, item, span, false) {
            self.scopes[self.current].imported.insert(local.to_string());
        }
    }

    /// `import { a, b as c } from './util'`: items that `target` exports.
    fn import_script(&mut self, import: &ast::ImportDeclaration<'_>, target: usize) {
        let target_name = &self.modules[target].file.name;
        for specifier in self.import_specifiers(import) {
            let imported = specifier.imported.name();
            let scope = &self.scopes[target];
            let item = match scope.names.get(imported.as_str()) {
                Some(item) if scope.exported.contains(imported.as_str()) => item.clone(),
                Some(_) if !scope.imported.contains(imported.as_str()) => {
                    self.error(
                        Diagnostic::error(
                            specifier.span,
                            format!("`{imported}` is not exported by `{target_name}`"),
                        )
                        .with_help(format!(
                            "mark its declaration in `{target_name}` with `export`"
                        )),
                    );
                    Item::Unresolved
                }
                _ => {
                    self.error(Diagnostic::error(
                        specifier.span,
                        format!("`{target_name}` has no export named `{imported}`"),
                    ));
                    Item::Unresolved
                }
            };
            let item = match item {
                Item::Global { name, .. } => Item::Global {
                    name,
                    imported: true,
                },
                other => other,
            };
            self.bind_import(&specifier.local.name, item, specifier.span.into());
        }
    }

    fn declare_function(&mut self, function: &'a ast::Function<'a>, exported: bool) {
        let Some(id) = &function.id else { return };
        let name = id.name.to_string();
        if name == "code" {
            return; // `function code(strings: any, ...keys: any[]) {}` silences editors
        }
        let qualified = self.qualify(&name);
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
    fn check_main(&mut self) -> Vec<Stmt> {
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
            return main;
        }
    }

    fn check_main_once(&mut self, boxed: &HashSet<String>) -> Vec<Stmt> {
        let name = self.qualify("main");
        let mut context = FnContext::new(name, None, false);
        context.boxed = boxed.clone();
        let program: &'a ast::Program<'a> = self.module().program;
        context.assignments = Rc::new(Assignments::of_top_level(program));
        self.contexts.push(context);
        let mut main = Vec::new();
        for statement in &program.body {
            let checked_before = main.len();
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
    fn static_initializers(&mut self, class: &ast::Class<'_>, out: &mut Vec<Stmt>) {
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
                out.push(Stmt::Expr(Expr {
                    ty,
                    kind: ExprKind::Assign(Place::Static(global), Box::new(value)),
                }));
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
                    Some(ty) => out.push(Stmt::Expr(Expr {
                        ty,
                        kind: ExprKind::Assign(Place::Global(qualified), Box::new(zero_value(ty))),
                    })),
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
            out.push(Stmt::Expr(Expr {
                ty: value.ty,
                kind: ExprKind::Assign(Place::Global(qualified), Box::new(value)),
            }));
        }
    }

    /// Functions no top-level code needed yet.
    fn check_remaining_functions(&mut self) {
        for name in self.function_order.clone() {
            let _ = self.function_signature(&name, Span::default());
        }
    }

    /// Distinct names must make distinct symbols (a name may contain `$`
    /// or `:`, which symbols spell out).
    fn check_symbols(&mut self) {
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

    fn top_level_fingerprint(&self, order: &[usize]) -> u64 {
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

    // ----- functions ---------------------------------------------------------

    /// The signature of a script function, checking its body first when its
    /// return type must be inferred.
    fn function_signature(&mut self, name: &str, use_span: Span) -> Checked<Signature> {
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
    fn function_body(
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
            return Ok(Function {
                signature: Signature {
                    params: signature_params,
                    ret,
                },
                params,
                body,
                fingerprint: fingerprint(span_text(self.file(), span).as_bytes()),
                references: context.references.into_iter().collect(),
                span,
                location: self.location(span),
                name,
                is_closure: is_arrow,
                boxed_params,
            });
        }
    }

    fn parameters(&mut self, params: &ast::FormalParameters<'_>) -> Checked<Vec<(String, Ty)>> {
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

    // ----- types ---------------------------------------------------------------

    fn return_type(&mut self, ty: &ast::TSType<'_>) -> Checked<Ty> {
        if let ast::TSType::TSVoidKeyword(_) = ty {
            return Ok(Ty::Void);
        }
        self.value_type(ty)
    }

    fn value_type(&mut self, ty: &ast::TSType<'_>) -> Checked<Ty> {
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
    fn array_type(&mut self, element: Ty, span: Span) -> Checked<Ty> {
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

    // ----- names ---------------------------------------------------------------

    fn binding_name(&mut self, pattern: &ast::BindingPattern<'_>) -> Checked<String> {
        match pattern {
            ast::BindingPattern::BindingIdentifier(id) => Ok(id.name.to_string()),
            other => Err(self.error(Diagnostic::unsupported(other.span(), "destructuring"))),
        }
    }

    /// The name a declarator declares. When it cannot be declared (its
    /// kind is unsupported, or it destructures: reported), the names it
    /// binds, which are declared even so, so that their uses stay quiet.
    fn declared_name(
        &mut self,
        pattern: &ast::BindingPattern<'_>,
        supported: bool,
    ) -> Result<String, Vec<(String, Span)>> {
        if let (ast::BindingPattern::BindingIdentifier(id), true) = (pattern, supported) {
            return Ok(id.name.to_string());
        }
        if supported {
            let _ = self.binding_name(pattern);
        }
        Err(pattern
            .get_binding_identifiers()
            .iter()
            .map(|id| (id.name.to_string(), id.span.into()))
            .collect())
    }

    fn context(&mut self) -> &mut FnContext {
        self.contexts.last_mut().expect("inside a context")
    }

    fn lookup_local(&self, name: &str) -> Option<Local> {
        let context = self.contexts.last()?;
        lookup_in(context, name)
    }

    /// Whether `name` is a local of a function enclosing the current arrow.
    fn is_captured(&self, name: &str) -> bool {
        self.captured_local(name).is_some()
    }

    /// The local of a function enclosing the current arrow that `name`
    /// names, as that function sees it.
    fn captured_local(&self, name: &str) -> Option<Local> {
        let mut contexts = self.contexts.iter().rev();
        let mut current = contexts.next();
        while let Some(context) = current {
            if !context.is_arrow {
                return None;
            }
            current = contexts.next();
            if let Some(local) = current.and_then(|parent| lookup_in(parent, name)) {
                return Some(local);
            }
        }
        None
    }

    /// `name` as context `depth` sees it, when it is a local of a function
    /// around it: the cell holding it, captured through every arrow in
    /// between.
    fn capture(&mut self, depth: usize, name: &str) -> Option<(Place, Local)> {
        if let Some(mut local) = lookup_in(&self.contexts[depth], name) {
            if let Some(declared) = local.declared {
                if !self.narrowing_reaches_closure(depth, name, &local) {
                    local.ty = declared;
                }
            }
            if let Some(global) = &local.global {
                return Some((Place::Global(global.clone()), local));
            }
            if narrowing::narrows_a_capture(&self.contexts[depth], name, &local) {
                // Captured by this arrow, which narrowed it.
                let (place, outer) = self.capture_from_outside(depth, name)?;
                return Some((
                    place,
                    Local {
                        ty: local.ty,
                        ..outer
                    },
                ));
            }
            let context = &mut self.contexts[depth];
            if !local.boxed {
                context.newly_captured.insert(name.to_string());
            }
            return Some((Place::Cell(name.to_string()), local));
        }
        self.capture_from_outside(depth, name)
    }

    /// `name` as the arrow of context `depth` captures it from the
    /// functions around it.
    fn capture_from_outside(&mut self, depth: usize, name: &str) -> Option<(Place, Local)> {
        let context = &mut self.contexts[depth];
        if !context.is_arrow || depth == 0 {
            return None;
        }
        if let Some(index) = context.captures.iter().position(|c| c.0 == name) {
            let (_, local) = self.capture(depth - 1, name)?;
            return Some((Place::Captured(index as u32), local));
        }
        let (outer, local) = self.capture(depth - 1, name)?;
        if let Place::Global(_) = outer {
            return Some((outer, local));
        }
        let context = &mut self.contexts[depth];
        context.captures.push((name.to_string(), outer));
        Some((Place::Captured(context.captures.len() as u32 - 1), local))
    }

    fn resolve_place(&mut self, name: &str, span: Span) -> Checked<(Place, Ty, Access)> {
        let access = |local: &Local| {
            if local.is_const {
                Access::Const
            } else {
                Access::Mutable
            }
        };
        if let Some(local) = self.lookup_local(name) {
            if local.ty == FAILED {
                return Err(Reported);
            }
            let depth = self.contexts.len() - 1;
            if narrowing::narrows_a_capture(&self.contexts[depth], name, &local) {
                if let Some((place, local)) = self.capture(depth, name) {
                    return Ok((place, local.ty, access(&local)));
                }
            }
            let place = if let Some(global) = &local.global {
                Place::Global(global.clone())
            } else if local.boxed {
                Place::Cell(name.to_string())
            } else {
                Place::Local(name.to_string())
            };
            return Ok((place, local.ty, access(&local)));
        }
        if self.contexts.last().is_some_and(|c| c.is_arrow) {
            let depth = self.contexts.len() - 1;
            if let Some((place, local)) = self.capture(depth, name) {
                if local.ty == FAILED {
                    return Err(Reported);
                }
                return Ok((place, local.ty, access(&local)));
            }
        }
        match self.item(name) {
            Some(Item::Global {
                name: qualified,
                imported,
            }) => {
                let global = &self.globals[&qualified];
                let access = if imported {
                    Access::Imported
                } else if global.is_const {
                    Access::Const
                } else {
                    Access::Mutable
                };
                if global.ty == Some(FAILED) {
                    return Err(Reported);
                }
                let Some(ty) = global.ty else {
                    let (module, declared_at) = (global.module, global.span);
                    // Reported at its first such use only.
                    if !self.used_untyped.insert(qualified) {
                        return Err(Reported);
                    }
                    let mut diagnostic = Diagnostic::error(
                        span,
                        format!("`{name}` is used before its declaration gives it a type"),
                    )
                    .with_help(format!(
                        "annotate the declaration: `let {name}: integer = …`"
                    ));
                    if module == self.current {
                        diagnostic = diagnostic.with_label(declared_at, "declared here");
                    }
                    return Err(self.error(diagnostic));
                };
                Ok((Place::Global(qualified), ty, access))
            }
            Some(Item::Unresolved) => Err(Reported),
            Some(Item::Function(_)) => Err(self.error(Diagnostic::error(
                span,
                format!("`{name}` is a function, not a variable"),
            ))),
            Some(Item::Driver(_)) => Err(self.error(Diagnostic::unsupported(
                span,
                "using a Rust driver function as a value",
            ))),
            Some(Item::Class(_)) => Err(self.error(
                Diagnostic::error(span, format!("`{name}` is a class, not a value"))
                    .with_help(format!("make an instance with `new {name}(…)`")),
            )),
            Some(Item::Enum(qualified)) => {
                let example = match self.enums[&qualified].members.first() {
                    Some((member, _)) => format!("`{name}.{member}`"),
                    None => "`Enum.Member`".to_string(),
                };
                Err(self.error(
                    Diagnostic::error(span, format!("`{name}` is an enum, not a value"))
                        .with_help(format!("use one of its members, like {example}")),
                ))
            }
            None => Err(self.error(Diagnostic::error(span, format!("cannot find `{name}`")))),
        }
    }

    /// Reports an assignment to a variable that may not be assigned.
    fn check_assignable(&mut self, name: &str, access: Access, span: Span) -> Checked<()> {
        let why = match access {
            Access::Mutable => return Ok(()),
            Access::Const => "it is a constant",
            Access::Imported => "it is imported (only its own module may assign it)",
        };
        Err(self.error(Diagnostic::error(
            span,
            format!("cannot assign to `{name}`: {why}"),
        )))
    }

    /// Declares a local; returns whether it lives in a cell (closures
    /// capture it).
    fn declare_local(&mut self, name: &str, ty: Ty, is_const: bool, span: Span) -> Checked<bool> {
        let context = self.context();
        let boxed = context.boxed.contains(name);
        // The block's scope, and the scopes of narrowings pushed in it.
        let mut taken = None;
        for scope in context.scopes.iter().rev() {
            if let Some(local) = scope.get(name) {
                taken = taken.or(Some(local.declared_at));
            }
            if !scope.contains_key(narrowing::NARROWINGS) {
                break;
            }
        }
        let scope = context.scopes.last_mut().expect("a scope");
        if let Some(first) = taken {
            let mut diagnostic =
                Diagnostic::error(span, format!("`{name}` is already declared in this block"));
            if let Some(first) = first {
                diagnostic = diagnostic.with_label(first, "first declared here");
            }
            return Err(self.error(diagnostic));
        }
        scope.insert(
            name.to_string(),
            Local {
                ty,
                is_const,
                boxed,
                declared: None,
                global: None,
                declared_at: Some(span),
            },
        );
        Ok(boxed)
    }

    // ----- statements ------------------------------------------------------------

    fn statements(&mut self, statements: &[ast::Statement<'_>]) -> Checked<Vec<Stmt>> {
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

    fn statement(&mut self, statement: &ast::Statement<'_>) -> Checked<Vec<Stmt>> {
        use ast::Statement as S;
        let stmt = match statement {
            S::BlockStatement(block) => {
                self.context().scopes.push(HashMap::new());
                let body = self.statements(&block.body);
                self.context().scopes.pop();
                Stmt::Block(body?)
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
                Stmt::If {
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
                    Some(label) => Stmt::Break(*label),
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
                    Some(label) => Stmt::Continue(*label),
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
        Ok(vec![stmt])
    }

    fn variable_kind_supported(&mut self, declaration: &ast::VariableDeclaration<'_>) -> bool {
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
                Ok(boxed) => out.push(Stmt::Let {
                    name,
                    ty,
                    init,
                    boxed,
                }),
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
    fn initial_value(&mut self, init: &ast::Expression<'_>) -> Checked<Expr> {
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
    ) -> Checked<Stmt> {
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
        Ok(Stmt::Loop {
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
                    out.push(Stmt::Expr(self.expr(expr)?));
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
                .filter_map(|s| match s {
                    Stmt::Let {
                        name,
                        ty,
                        boxed: true,
                        ..
                    } => Some((name.clone(), *ty)),
                    _ => None,
                })
                .collect();
            if let Stmt::Loop { fresh, .. } = &mut looped {
                *fresh = captured;
            }
            out.push(looped);
            Ok(vec![Stmt::Block(out)])
        })();
        self.context().scopes.pop();
        result
    }

    fn return_statement(&mut self, statement: &ast::ReturnStatement<'_>) -> Checked<Stmt> {
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
        match (ret, value) {
            (ReturnType::Declared(Ty::Void), None)
            | (ReturnType::Inferred(None | Some(Ty::Void)), None) => {
                if let ReturnType::Inferred(None) = ret {
                    self.context().ret = Some(ReturnType::Inferred(Some(Ty::Void)));
                }
                Ok(Stmt::Return(None))
            }
            (
                ReturnType::Declared(Ty::Void) | ReturnType::Inferred(Some(Ty::Void)),
                Some(value),
            ) => {
                if value.ty == Ty::Void {
                    // `return f()` with a void f: fine, like TypeScript.
                    return Ok(Stmt::Block(vec![Stmt::Expr(value), Stmt::Return(None)]));
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
                let span = statement
                    .argument
                    .as_ref()
                    .map_or(statement.span, |a| a.span());
                Ok(Stmt::Return(Some(self.convert(value, common, span)?)))
            }
            (ReturnType::Declared(ty) | ReturnType::Inferred(Some(ty)), Some(value)) => {
                let span = statement
                    .argument
                    .as_ref()
                    .map_or(statement.span, |a| a.span());
                Ok(Stmt::Return(Some(self.convert(value, ty, span)?)))
            }
            (ReturnType::Inferred(None), Some(value)) => {
                self.context().ret = Some(ReturnType::Inferred(Some(value.ty)));
                if value.ty == Ty::Void {
                    return Ok(Stmt::Block(vec![Stmt::Expr(value), Stmt::Return(None)]));
                }
                Ok(Stmt::Return(Some(value)))
            }
        }
    }

    fn expression_statement(&mut self, expression: &ast::Expression<'_>) -> Checked<Vec<Stmt>> {
        if let ast::Expression::CallExpression(call) = expression.without_parentheses() {
            if let Some(to_stderr) = print_target(&call.callee) {
                return Ok(vec![self.print(call, to_stderr)?]);
            }
        }
        Ok(vec![Stmt::Expr(self.expr(expression)?)])
    }

    fn print(&mut self, call: &ast::CallExpression<'_>, to_stderr: bool) -> Checked<Stmt> {
        let mut pieces = Vec::new();
        for (i, argument) in call.arguments.iter().enumerate() {
            if i > 0 {
                pieces.push(PrintPiece::Space);
            }
            let Some(argument) = argument.as_expression() else {
                return Err(
                    self.error(Diagnostic::unsupported(argument.span(), "spread arguments"))
                );
            };
            self.print_pieces(argument, &mut pieces, false)?;
        }
        Ok(Stmt::Print { to_stderr, pieces })
    }

    /// Flattens string concatenation (`"n = " + n`) into pieces printed one
    /// after another, so printing needs no string values at run time.
    fn print_pieces(
        &mut self,
        expression: &ast::Expression<'_>,
        out: &mut Vec<PrintPiece>,
        in_concatenation: bool,
    ) -> Checked<()> {
        match expression.without_parentheses() {
            ast::Expression::StringLiteral(literal) => {
                out.push(PrintPiece::Text(literal.value.to_string()));
                Ok(())
            }
            ast::Expression::UnaryExpression(unary) if unary.operator == UnaryOperator::Typeof => {
                let value = self.type_of(&unary.argument)?;
                out.push(PrintPiece::Value(value));
                Ok(())
            }
            ast::Expression::BinaryExpression(binary)
                if binary.operator == BinaryOperator::Addition && is_stringy(expression) =>
            {
                self.print_pieces(&binary.left, out, true)?;
                self.print_pieces(&binary.right, out, true)
            }
            other => {
                let value = self.expr(other)?;
                // Concatenated, an object reads as its string (JavaScript's
                // String(): arrays joined with `,`), not as printed alone.
                let value = if in_concatenation && value.ty.is_reference() && value.ty != Ty::String
                {
                    let location = self.location(other.span());
                    self.stringify(value, &location, other.span().into())?
                } else {
                    value
                };
                out.push(PrintPiece::Value(value));
                Ok(())
            }
        }
    }

    // ----- expressions -------------------------------------------------------------

    fn condition(&mut self, expression: &ast::Expression<'_>) -> Checked<Expr> {
        let value = self.expr(expression)?;
        self.truthy(value, expression.span().into())
    }

    /// `typeof operand` (LANGUAGE.md §7): the name of its static type.
    fn type_of(&mut self, operand: &ast::Expression<'_>) -> Checked<Expr> {
        let string = |name: &str, operand: Option<Expr>| Expr {
            ty: Ty::String,
            kind: ExprKind::TypeOf(operand.map(Box::new), name.to_string()),
        };
        match operand.without_parentheses() {
            // Strings are no values yet, but these are strings all the same.
            ast::Expression::StringLiteral(_) => Ok(string("string", None)),
            ast::Expression::UnaryExpression(unary) if unary.operator == UnaryOperator::Typeof => {
                let inner = self.type_of(&unary.argument)?;
                Ok(string("string", Some(inner)))
            }
            other => {
                let value = self.expr(other)?;
                let name = match value.ty {
                    // JavaScript's name for the value of a void expression.
                    Ty::Void => "undefined".to_string(),
                    ty => ty.to_string(),
                };
                Ok(string(&name, Some(value)))
            }
        }
    }

    fn truthy(&mut self, value: Expr, span: Span) -> Checked<Expr> {
        let value = widen(value);
        match value.ty {
            Ty::Boolean => Ok(value),
            Ty::Void => Err(self.error(Diagnostic::error(
                span,
                "this expression has no value (void)",
            ))),
            _ => Ok(Expr {
                ty: Ty::Boolean,
                kind: ExprKind::Truthy(Box::new(value)),
            }),
        }
    }

    /// An implicit conversion to `to` (LANGUAGE.md §1): the same type, an
    /// integer where a float is expected, a subclass where its superclass
    /// is, `null` or `T` where `T | null` is, anything to `any` and back
    /// (checked at run time), any array to `any[]`.
    fn convert(&mut self, value: Expr, to: Ty, span: impl Into<Span>) -> Checked<Expr> {
        let span = span.into();
        let from = value.ty;
        if from == to {
            return Ok(value);
        }
        // The same word seen as another type (the value's own type still
        // decides, say, which descriptor a literal gets).
        let retyped = |value: Expr| Expr {
            ty: to,
            kind: ExprKind::Retyped(Box::new(value)),
        };
        match (from, to) {
            // An enum is a subtype of integer (LANGUAGE.md §6).
            (Ty::Int32, Ty::Any) | (Ty::Any, Ty::Int32) => Err(self.error(
                Diagnostic::error(span, format!("expected a value of type {to}, found {from}"))
                    .with_help(
                        "an int32 never converts to `any`, which keeps 30 bits of an integer",
                    ),
            )),
            (Ty::Enum(_) | Ty::Int32, _) if to.is_numeric() || to == Ty::Any || to == Ty::Int32 => {
                self.convert(widen(value), to, span)
            }
            (Ty::Integer, Ty::Int32) => Ok(Expr { ty: to, ..value }),
            (Ty::Integer, Ty::Float) => Ok(int_to_float(value)),
            (Ty::Void, _) => Err(self.error(Diagnostic::error(
                span,
                "this expression has no value (void)",
            ))),
            (_, Ty::Any) => Ok(Expr {
                ty: Ty::Any,
                kind: match value.kind {
                    ExprKind::Null => ExprKind::Null,
                    _ if from.is_reference() => return Ok(retyped(value)),
                    _ => ExprKind::ToAny(Box::new(value)),
                },
            }),
            // By truthiness, never an error (LANGUAGE.md §7a).
            (Ty::Any, Ty::Boolean) => self.truthy(value, span),
            // An `any` is assignable to an enum unchecked (LANGUAGE.md §6).
            (Ty::Any, Ty::Enum(_)) => Ok(retyped(self.convert(value, Ty::Integer, span)?)),
            (Ty::Any, _) if to != Ty::Void => {
                let location = self.location(span);
                Ok(Expr {
                    ty: to,
                    kind: ExprKind::FromAny(Box::new(value), location),
                })
            }
            (Ty::Null, Ty::Nullable(_)) => Ok(retyped(value)),
            (_, Ty::Nullable(inner)) if self.is_subtype(from.non_null(), *inner) => {
                Ok(retyped(value))
            }
            (Ty::Array(_) | Ty::Uint8Array | Ty::FixedArray, Ty::Array(element))
                if *element == Ty::Any =>
            {
                // Any array may be viewed as `any[]` (LANGUAGE.md §9).
                Ok(retyped(value))
            }
            _ if self.is_subtype(from, to) => Ok(retyped(value)),
            (Ty::Nullable(inner), _) if self.is_subtype(*inner, to) => Err(self.error(
                Diagnostic::error(span, format!("this value may be null (its type is {from})"))
                    .with_help("check it first: `if (x != null) { … }`"),
            )),
            (Ty::Function(_), Ty::Function(_)) => Err(self.error(
                Diagnostic::error(
                    span,
                    format!("expected a function of type {to}, found {from}"),
                )
                .with_help("function types must match exactly, parameter and return types alike"),
            )),
            _ => Err(self.error(Diagnostic::error(
                span,
                format!("expected a value of type {to}, found {from}"),
            ))),
        }
    }

    /// Whether a `from` is a `to` without conversion: a class and its
    /// superclasses.
    fn is_subtype(&self, from: Ty, to: Ty) -> bool {
        if from == to {
            return true;
        }
        let (Ty::Class(mut class), Ty::Class(target)) = (from, to) else {
            return false;
        };
        while let Some(superclass) = self
            .classes
            .get(class.qualified())
            .and_then(|c| c.superclass)
        {
            if superclass == target {
                return true;
            }
            class = superclass;
        }
        false
    }

    /// `expression` converted to `ty`, typed with `ty` in mind: an array
    /// literal gets `ty`'s element type, an arrow function `ty`'s parameter
    /// types.
    fn expr_to(&mut self, expression: &ast::Expression<'_>, ty: Ty) -> Checked<Expr> {
        let value = match (expression.without_parentheses(), ty.non_null()) {
            (ast::Expression::ArrayExpression(literal), Ty::Array(element)) => {
                self.array_literal(literal, Some(*element))?
            }
            (ast::Expression::ArrowFunctionExpression(arrow), Ty::Function(signature)) => {
                self.arrow(arrow, Some(&signature))?
            }
            // `new Array(n)` makes the array type wanted here, as an
            // `any[]` converts to it in TypeScript.
            (ast::Expression::NewExpression(new), array @ Ty::Array(_)) => {
                self.new_expression(new, Some(array))?
            }
            _ => self.expr(expression)?,
        };
        self.convert(value, ty, expression.span())
    }

    fn expr(&mut self, expression: &ast::Expression<'_>) -> Checked<Expr> {
        use ast::Expression as E;
        let span: Span = expression.span().into();
        match expression {
            E::BooleanLiteral(literal) => Ok(Expr {
                ty: Ty::Boolean,
                kind: ExprKind::Bool(literal.value),
            }),
            E::NumericLiteral(literal) => self.number(literal),
            E::ParenthesizedExpression(inner) => self.expr(&inner.expression),
            E::Identifier(id) => {
                let name = id.name.as_str();
                let is_variable = self.lookup_local(name).is_some() || self.is_captured(name);
                if name == "undefined" && !is_variable && self.item(name).is_none() {
                    return Ok(null());
                }
                if !is_variable {
                    if let Some(Item::Function(qualified)) = self.item(name) {
                        return self.function_value(&qualified, span);
                    }
                }
                let (place, ty, _) = self.resolve_place(name, span)?;
                Ok(Expr {
                    ty,
                    kind: ExprKind::Read(place),
                })
            }
            E::AssignmentExpression(assignment) => self.assignment(assignment),
            E::UpdateExpression(update) => self.update(update),
            E::UnaryExpression(unary) => self.unary(unary),
            E::BinaryExpression(binary) if binary.operator == BinaryOperator::Instanceof => {
                self.instance_of(binary)
            }
            E::BinaryExpression(binary) => {
                let lhs = self.expr(&binary.left);
                let rhs = self.expr(&binary.right);
                self.binary(binary.operator, lhs?, rhs?, span)
            }
            E::LogicalExpression(logical) => self.logical(logical),
            E::ConditionalExpression(conditional) => {
                let cond = self.condition(&conditional.test);
                let (then, otherwise) = self.branches(
                    &conditional.test,
                    |checker| checker.expr(&conditional.consequent),
                    |checker| checker.expr(&conditional.alternate),
                );
                let (cond, then, otherwise) = (cond?, then?, otherwise?);
                let (then, otherwise, ty) = self.unify(then, otherwise, span)?;
                Ok(Expr {
                    ty,
                    kind: ExprKind::Conditional {
                        cond: Box::new(cond),
                        then: Box::new(then),
                        otherwise: Box::new(otherwise),
                    },
                })
            }
            E::CallExpression(call) => {
                let value = self.call(call);
                self.called(value)
            }
            E::TSAsExpression(cast) => {
                let value = self.expr(&cast.expression)?;
                let to = self.value_type(&cast.type_annotation)?;
                self.cast(value, to, span)
            }
            E::TemplateLiteral(_) => Err(self.error(
                Diagnostic::unsupported(span, "template strings")
                    .with_help("print the pieces: console.log(\"text\", value)"),
            )),
            E::AwaitExpression(_) => Err(self.error(Diagnostic::unsupported(span, "`await`"))),
            E::SequenceExpression(_) => {
                Err(self.error(Diagnostic::unsupported(span, "the comma operator")))
            }
            E::StringLiteral(literal) => Ok(Expr {
                ty: Ty::String,
                kind: ExprKind::Str(literal.value.to_string()),
            }),
            E::NullLiteral(_) => Ok(null()),
            E::ArrayExpression(literal) => self.array_literal(literal, None),
            E::ObjectExpression(_) => Err(self.error(
                Diagnostic::error(span, "object literals are not part of BlueScript")
                    .with_help("objects are made with `new`"),
            )),
            E::ArrowFunctionExpression(arrow) => self.arrow(arrow, None),
            E::FunctionExpression(_) => Err(self.error(
                Diagnostic::unsupported(span, "function expressions")
                    .with_help("use an arrow function: `(x: integer) => x + 1`"),
            )),
            E::ThisExpression(_) => self.this(span),
            E::NewExpression(new) => {
                let value = self.new_expression(new, None);
                self.called(value)
            }
            E::Super(_) => Err(self.error(Diagnostic::error(
                span,
                "`super` is only called (`super(…)`) or used for a method (`super.m()`)",
            ))),
            E::ClassExpression(_) => {
                Err(self.error(Diagnostic::unsupported(span, "class expressions")))
            }
            E::TaggedTemplateExpression(template) => self.code(template),
            E::StaticMemberExpression(member) => {
                let property = member.property.name.as_str();
                match self.builtin_object(&member.object) {
                    Some(Builtin::Enum(qualified)) => return self.enum_member(&qualified, member),
                    Some(Builtin::Unresolved) => return Err(Reported),
                    Some(Builtin::Named("Math")) if property == "PI" => {
                        return Ok(Expr {
                            ty: Ty::Float,
                            kind: ExprKind::Float(std::f32::consts::PI),
                        })
                    }
                    Some(Builtin::Named(_)) => {
                        return Err(self.error(Diagnostic::unsupported(
                            span,
                            &format!("the property `{property}`"),
                        )))
                    }
                    // `C.k`: a place.
                    Some(Builtin::Class(_)) | None => {}
                }
                if let Some(value) = self.length(member)? {
                    return Ok(value);
                }
                let (place, ty) = self.member_place(member)?;
                Ok(Expr {
                    ty,
                    kind: ExprKind::Read(place),
                })
            }
            E::ComputedMemberExpression(member) => {
                let (place, ty) = self.index_place(member)?;
                Ok(Expr {
                    ty,
                    kind: ExprKind::Read(place),
                })
            }
            _ => Err(self.error(Diagnostic::unsupported(span, "this expression"))),
        }
    }

    fn number(&mut self, literal: &ast::NumericLiteral<'_>) -> Checked<Expr> {
        // A `.` or an exponent makes a float (LANGUAGE.md §2). oxc reports
        // `1e3` (an integral value written with an exponent) as a decimal
        // integer, so look at the text too.
        let is_float = match literal.base {
            oxc_syntax::number::NumberBase::Float => true,
            oxc_syntax::number::NumberBase::Decimal => {
                span_text(self.file(), literal.span.into()).contains(['e', 'E'])
            }
            _ => false,
        };
        if is_float {
            return Ok(Expr {
                ty: Ty::Float,
                kind: ExprKind::Float(literal.value as f32),
            });
        }
        let value = literal.value;
        if value.fract() != 0.0 || value > u32::MAX as f64 {
            return Err(self.error(
                Diagnostic::error(literal.span, "this integer does not fit in 32 bits")
                    .with_help("write it as a float (`1.0e10`) if that is what you mean"),
            ));
        }
        // Literals up to 0xFFFF_FFFF are accepted and wrap, like C's.
        Ok(Expr {
            ty: Ty::Integer,
            kind: ExprKind::Int(value as u32 as i32),
        })
    }

    /// The place an assignment or `++` writes: a variable, a field, an
    /// element, a static or dynamic property.
    fn target_place(&mut self, target: &ast::SimpleAssignmentTarget<'_>) -> Checked<(Place, Ty)> {
        match target {
            ast::SimpleAssignmentTarget::AssignmentTargetIdentifier(id) => {
                let name = id.name.as_str();
                let (place, ty, access) = self.resolve_place(name, id.span.into())?;
                self.check_assignable(name, access, id.span.into())?;
                let declared = self.lookup_local(name).and_then(|local| local.declared);
                Ok((place, declared.unwrap_or(ty)))
            }
            ast::SimpleAssignmentTarget::StaticMemberExpression(member) => {
                if member.property.name == "length" && self.static_class(&member.object).is_none() {
                    let object = self.expr(&member.object)?;
                    if matches!(
                        object.ty,
                        Ty::String | Ty::Array(_) | Ty::Uint8Array | Ty::FixedArray
                    ) {
                        return Err(self.error(Diagnostic::error(
                            member.span,
                            "`length` cannot be assigned",
                        )));
                    }
                }
                self.member_place(member)
            }
            ast::SimpleAssignmentTarget::ComputedMemberExpression(member) => {
                self.index_place(member)
            }
            other => Err(self.error(Diagnostic::unsupported(
                other.span(),
                "assigning to this expression",
            ))),
        }
    }

    fn assignment(&mut self, assignment: &ast::AssignmentExpression<'_>) -> Checked<Expr> {
        let span: Span = assignment.span.into();
        let Some(target) = assignment.left.as_simple_assignment_target() else {
            return Err(self.error(Diagnostic::unsupported(
                assignment.left.span(),
                "destructuring assignment",
            )));
        };
        let (place, ty) = self.target_place(target)?;
        let value = match assignment.operator {
            AssignmentOperator::Assign => {
                let value = self.expr_to(&assignment.right, ty)?;
                if let ast::SimpleAssignmentTarget::AssignmentTargetIdentifier(id) = target {
                    let value_ty = match &value.kind {
                        ExprKind::Retyped(inner) => inner.ty,
                        _ => value.ty,
                    };
                    self.assigned(id.name.as_str(), value_ty);
                }
                value
            }
            op => {
                let Some(bin) = op.to_binary_operator() else {
                    return Err(
                        self.error(Diagnostic::unsupported(span, &format!("`{}`", op.as_str())))
                    );
                };
                let value = self.expr(&assignment.right)?;
                let current = Expr {
                    ty,
                    kind: ExprKind::Current,
                };
                let mut combined = self.binary(bin, current, value, span)?;
                // `i += 0.5` computes in float and stores it truncated
                // (LANGUAGE.md §7a).
                if combined.ty == Ty::Float && matches!(ty, Ty::Integer | Ty::Int32) {
                    combined = casts::truncate(combined, ty);
                }
                self.convert(combined, ty, span)?
            }
        };
        Ok(Expr {
            ty,
            kind: ExprKind::Assign(place, Box::new(value)),
        })
    }

    fn update(&mut self, update: &ast::UpdateExpression<'_>) -> Checked<Expr> {
        let (place, ty) = self.target_place(&update.argument)?;
        let increment = update.operator == UpdateOperator::Increment;
        let location = self.location(update.span);
        if !(ty.is_numeric() || ty == Ty::Int32 || ty == Ty::Any) {
            return Err(self.error(Diagnostic::error(
                update.span,
                format!(
                    "`{}` needs an integer or float, found {ty}",
                    update.operator.as_str()
                ),
            )));
        }
        Ok(Expr {
            ty,
            kind: ExprKind::Update {
                place,
                increment,
                prefix: update.prefix,
                location,
            },
        })
    }

    fn unary(&mut self, unary: &ast::UnaryExpression<'_>) -> Checked<Expr> {
        let span: Span = unary.span.into();
        let op = match unary.operator {
            UnaryOperator::UnaryNegation => Some(UnOp::Neg),
            UnaryOperator::UnaryPlus => None,
            UnaryOperator::LogicalNot => Some(UnOp::Not),
            UnaryOperator::BitwiseNot => Some(UnOp::BitNot),
            UnaryOperator::Typeof => return self.type_of(&unary.argument),
            other => {
                return Err(self.error(Diagnostic::unsupported(
                    span,
                    &format!("`{}`", other.as_str()),
                )))
            }
        };
        let value = widen(self.expr(&unary.argument)?);
        if value.ty == Ty::Any {
            match op {
                Some(op @ (UnOp::Neg | UnOp::BitNot)) => {
                    return Ok(self.dynamic_unary(op, value, span))
                }
                None => return Ok(value),
                _ => {}
            }
        }
        match op {
            Some(UnOp::Not) => {
                let value = self.truthy(value, unary.argument.span().into())?;
                Ok(Expr {
                    ty: Ty::Boolean,
                    kind: ExprKind::Unary(UnOp::Not, Box::new(value)),
                })
            }
            Some(UnOp::BitNot) if value.ty != Ty::Integer => Err(self.error(Diagnostic::error(
                span,
                format!("`~` needs an integer, found {}", value.ty),
            ))),
            _ if !value.ty.is_numeric() => Err(self.error(Diagnostic::error(
                span,
                format!(
                    "`{}` needs an integer or float, found {}",
                    unary.operator.as_str(),
                    value.ty
                ),
            ))),
            None => Ok(value),
            Some(op) => Ok(Expr {
                ty: value.ty,
                kind: ExprKind::Unary(op, Box::new(value)),
            }),
        }
    }

    /// The typing rules of LANGUAGE.md §7 for binary operators.
    fn binary(
        &mut self,
        operator: BinaryOperator,
        lhs: Expr,
        rhs: Expr,
        span: Span,
    ) -> Checked<Expr> {
        if matches!(
            (lhs.ty, rhs.ty),
            (Ty::Int32, Ty::Any) | (Ty::Any, Ty::Int32)
        ) {
            // The `any` converts to `int32` (checked at run time), and so
            // does the result (LANGUAGE.md §7a).
            let location = self.location(span);
            let to_int32 = |value: Expr| match value.ty {
                Ty::Any => Expr {
                    ty: Ty::Int32,
                    kind: ExprKind::FromAny(Box::new(value), location.clone()),
                },
                _ => value,
            };
            let result = self.binary(operator, to_int32(lhs), to_int32(rhs), span)?;
            return Ok(match result.ty {
                Ty::Integer => Expr {
                    ty: Ty::Int32,
                    ..result
                },
                _ => result,
            });
        }
        // Operators see an enum as the integer it is.
        let (lhs, rhs) = (widen(lhs), widen(rhs));
        use BinaryOperator as B;
        let op = match operator {
            B::Addition => BinOp::Add,
            B::Subtraction => BinOp::Sub,
            B::Multiplication => BinOp::Mul,
            B::Division => BinOp::Div,
            B::Remainder => BinOp::Rem,
            B::Exponential => BinOp::Pow,
            B::LessThan => BinOp::Lt,
            B::LessEqualThan => BinOp::Le,
            B::GreaterThan => BinOp::Gt,
            B::GreaterEqualThan => BinOp::Ge,
            B::Equality | B::StrictEquality => BinOp::Eq,
            B::Inequality | B::StrictInequality => BinOp::Ne,
            B::ShiftLeft => BinOp::Shl,
            B::ShiftRight => BinOp::Shr,
            B::ShiftRightZeroFill => BinOp::UShr,
            B::BitwiseAnd => BinOp::BitAnd,
            B::BitwiseOR => BinOp::BitOr,
            B::BitwiseXOR => BinOp::BitXor,
            B::In | B::Instanceof => {
                return Err(self.error(Diagnostic::unsupported(
                    span,
                    &format!("`{}`", operator.as_str()),
                )))
            }
        };
        let symbol = operator.as_str();
        let mismatch = |lhs: Ty, rhs: Ty| {
            Diagnostic::error(
                span,
                format!("`{symbol}` cannot be applied to {lhs} and {rhs}"),
            )
        };
        let location = self.location(span);
        let build = |operand_ty: Ty, ty: Ty, lhs: Expr, rhs: Expr| Expr {
            ty,
            kind: ExprKind::Binary {
                op,
                operand_ty,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                location: location.clone(),
            },
        };
        let (l, r) = (lhs.ty, rhs.ty);
        if op == BinOp::Add && (l == Ty::String || r == Ty::String) {
            // Concatenation (LANGUAGE.md §7): the other side is converted.
            let lhs = self.stringify(lhs, &location, span)?;
            let rhs = self.stringify(rhs, &location, span)?;
            if let (ExprKind::Str(a), ExprKind::Str(b)) = (&lhs.kind, &rhs.kind) {
                return Ok(Expr {
                    ty: Ty::String,
                    kind: ExprKind::Str(format!("{a}{b}")),
                });
            }
            return Ok(build(Ty::String, Ty::String, lhs, rhs));
        }
        let comparison = matches!(
            op,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne
        );
        if l == Ty::String && r == Ty::String && comparison {
            // Comparisons by content, in UTF-16 order.
            return Ok(build(Ty::String, Ty::Boolean, lhs, rhs));
        }
        let numeric_or_bool = |t: Ty| t.is_numeric() || t == Ty::Boolean;
        if matches!(op, BinOp::Eq | BinOp::Ne) && !(numeric_or_bool(l) && numeric_or_bool(r)) {
            return self.equality(lhs, rhs, op == BinOp::Ne, span, symbol);
        }
        if l == Ty::Any || r == Ty::Any {
            return self.dynamic_binary(op, lhs, rhs, span, symbol);
        }
        match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Pow => {
                if !(l.is_numeric() && r.is_numeric()) {
                    return Err(self.error(mismatch(l, r)));
                }
                let ty = if l == Ty::Float || r == Ty::Float {
                    Ty::Float
                } else {
                    Ty::Integer
                };
                let (lhs, rhs) = if ty == Ty::Float {
                    (to_float(lhs), to_float(rhs))
                } else {
                    (lhs, rhs)
                };
                Ok(build(ty, ty, lhs, rhs))
            }
            BinOp::Rem
            | BinOp::Shl
            | BinOp::Shr
            | BinOp::UShr
            | BinOp::BitAnd
            | BinOp::BitOr
            | BinOp::BitXor => {
                if l != Ty::Integer || r != Ty::Integer {
                    return Err(self.error(
                        mismatch(l, r).with_help(format!("`{symbol}` works on integers only")),
                    ));
                }
                Ok(build(Ty::Integer, Ty::Integer, lhs, rhs))
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                if !(l.is_numeric() && r.is_numeric()) {
                    return Err(self.error(mismatch(l, r)));
                }
                Ok(numeric_comparison(lhs, rhs, build))
            }
            BinOp::Eq | BinOp::Ne => {
                if l.is_numeric() && r.is_numeric() {
                    Ok(numeric_comparison(lhs, rhs, build))
                } else if l == Ty::Boolean && r == Ty::Boolean {
                    Ok(build(Ty::Boolean, Ty::Boolean, lhs, rhs))
                } else {
                    Err(self.error(mismatch(l, r)))
                }
            }
        }
    }

    /// `value` as a string, for concatenation: integers in decimal, floats
    /// as they print, `true`/`false`.
    fn stringify(&mut self, value: Expr, location: &str, span: Span) -> Checked<Expr> {
        let value = widen(value);
        let (symbol, location) = match value.ty {
            Ty::String => return Ok(value),
            Ty::Integer => {
                if let ExprKind::Int(i) = value.kind {
                    return Ok(Expr {
                        ty: Ty::String,
                        kind: ExprKind::Str(i.to_string()),
                    });
                }
                ("bs_string_from_int", Some(location.to_string()))
            }
            Ty::Float => ("bs_string_from_float", Some(location.to_string())),
            Ty::Boolean => ("bs_string_from_bool", None),
            Ty::Void => {
                return Err(self.error(Diagnostic::error(
                    span,
                    "this expression has no value (void)",
                )))
            }
            // `any`, `null`, objects: as JavaScript's String() would.
            _ => ("bs_string_from_any", Some(location.to_string())),
        };
        Ok(Expr {
            ty: Ty::String,
            kind: ExprKind::Runtime {
                symbol,
                args: vec![value],
                location,
            },
        })
    }

    /// `s.startsWith(p)` and the other methods of strings (LANGUAGE.md §9).
    fn string_method(
        &mut self,
        member: &ast::StaticMemberExpression<'_>,
        arguments: &[&ast::Expression<'_>],
        span: Span,
    ) -> Checked<Expr> {
        let method = member.property.name.as_str();
        let object = self.expr(&member.object)?;
        if object.ty != Ty::String {
            return Err(self.error(Diagnostic::unsupported(
                member.span,
                &format!("calling `{}`", span_text(self.file(), member.span.into())),
            )));
        }
        // (runtime symbol, parameter types, result type, fails)
        let (symbol, params, ty, fails): (&'static str, &[Ty], Ty, bool) = match method {
            "startsWith" => ("bs_string_starts_with", &[Ty::String], Ty::Boolean, false),
            "endsWith" => ("bs_string_ends_with", &[Ty::String], Ty::Boolean, false),
            "indexOf" => ("bs_string_index_of", &[Ty::String], Ty::Integer, false),
            "charCodeAt" => ("bs_string_char_code_at", &[Ty::Integer], Ty::Integer, true),
            "substring" => (
                "bs_string_substring",
                &[Ty::Integer, Ty::Integer],
                Ty::String,
                true,
            ),
            _ => {
                return Err(self.error(Diagnostic::unsupported(
                    member.property.span,
                    &format!("the string method `{method}`"),
                )))
            }
        };
        // `substring(start)` goes to the end.
        if !(method == "substring" && arguments.len() == 1) {
            self.arity(method, arguments, params.len(), span)?;
        }
        let mut args = vec![object];
        for (argument, ty) in arguments.iter().zip(params) {
            let value = self.expr(argument)?;
            args.push(self.convert(value, *ty, argument.span())?);
        }
        if args.len() < params.len() + 1 {
            args.push(Expr {
                ty: Ty::Integer,
                kind: ExprKind::Int(i32::MAX),
            });
        }
        Ok(Expr {
            ty,
            kind: ExprKind::Runtime {
                symbol,
                args,
                location: fails.then(|| self.location(span)),
            },
        })
    }

    fn logical(&mut self, logical: &ast::LogicalExpression<'_>) -> Checked<Expr> {
        let span: Span = logical.span.into();
        let and = match logical.operator {
            LogicalOperator::And => true,
            LogicalOperator::Or => false,
            LogicalOperator::Coalesce => {
                return Err(self.error(Diagnostic::unsupported(span, "`??`")))
            }
        };
        let lhs = self.expr(&logical.left);
        let facts = self.narrowings(&logical.left, and);
        let rhs = self.narrowed(facts, |checker| checker.expr(&logical.right));
        let (lhs, rhs, ty) = self.unify(lhs?, rhs?, span)?;
        if ty == Ty::Void {
            return Err(self.error(Diagnostic::error(
                span,
                "these expressions have no value (void)",
            )));
        }
        Ok(Expr {
            ty,
            kind: ExprKind::Logical {
                and,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            },
        })
    }

    /// Two values that must share a type (`?:` branches, `&&`/`||` operands).
    fn unify(&mut self, a: Expr, b: Expr, span: Span) -> Checked<(Expr, Expr, Ty)> {
        if a.ty == b.ty {
            let ty = a.ty;
            return Ok((a, b, ty));
        }
        // An enum and an integer (or another enum) have integer in common.
        let (a, b) = (widen(a), widen(b));
        if a.ty == b.ty {
            let ty = a.ty;
            return Ok((a, b, ty));
        }
        if a.ty.is_numeric() && b.ty.is_numeric() {
            return Ok((to_float(a), to_float(b), Ty::Float));
        }
        if a.ty == Ty::Void || b.ty == Ty::Void {
            return Err(self.error(Diagnostic::error(
                span,
                "this expression has no value (void)",
            )));
        }
        // Related references, `null` and a reference, else `any`.
        let ty = self.common_type([a.ty, b.ty].into_iter());
        let a = self.convert(a, ty, span)?;
        let b = self.convert(b, ty, span)?;
        Ok((a, b, ty))
    }

    fn call(&mut self, call: &ast::CallExpression<'_>) -> Checked<Expr> {
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

    /// What the object of `object.property` is, when it is no variable.
    fn builtin_object(&self, object: &ast::Expression<'_>) -> Option<Builtin> {
        let ast::Expression::Identifier(id) = object.without_parentheses() else {
            return None;
        };
        let name = id.name.as_str();
        if self.lookup_local(name).is_some() || self.is_captured(name) {
            return None;
        }
        match self.item(name) {
            Some(Item::Enum(qualified)) => Some(Builtin::Enum(qualified)),
            Some(Item::Class(qualified)) => Some(Builtin::Class(qualified)),
            Some(Item::Unresolved) => Some(Builtin::Unresolved),
            Some(_) => None,
            None => ["Math", "time", "String"]
                .into_iter()
                .find(|builtin| *builtin == name)
                .map(Builtin::Named),
        }
    }

    /// `Color.Red`: an integer constant of the enum's type.
    fn enum_member(
        &mut self,
        qualified: &str,
        member: &ast::StaticMemberExpression<'_>,
    ) -> Checked<Expr> {
        let info = &self.enums[qualified];
        let property = member.property.name.as_str();
        match info.members.iter().find(|(name, _)| name == property) {
            Some((_, value)) => Ok(Expr {
                ty: Ty::Enum(info.ty),
                kind: ExprKind::Int(*value),
            }),
            None => {
                let name = info.ty.name();
                Err(self.error(Diagnostic::error(
                    member.property.span,
                    format!("the enum `{name}` has no member `{property}`"),
                )))
            }
        }
    }

    /// `Math.f(…)` (LANGUAGE.md §9): floats in, a float out, except that
    /// `abs`, `min` and `max` of integers are integers (as in JavaScript,
    /// whose result is then an integral number).
    fn math_call(
        &mut self,
        function: MathFn,
        arguments: &[&ast::Expression<'_>],
        span: Span,
    ) -> Checked<Expr> {
        let name = format!("Math.{}", format!("{function:?}").to_lowercase());
        let mut values = Vec::new();
        for argument in arguments {
            let value = widen(self.expr(argument)?);
            if !value.ty.is_numeric() {
                return Err(self.error(Diagnostic::error(
                    argument.span(),
                    format!("`{name}` needs an integer or float, found {}", value.ty),
                )));
            }
            values.push(value);
        }
        let integers = values.iter().all(|v| v.ty == Ty::Integer);
        let call = |ty: Ty, args: Vec<Expr>| Expr {
            ty,
            kind: ExprKind::Math(function, args),
        };
        match function {
            MathFn::Min | MathFn::Max => {
                let ty = if integers { Ty::Integer } else { Ty::Float };
                let mut values = values
                    .into_iter()
                    .map(|v| if integers { v } else { to_float(v) });
                let Some(first) = values.next() else {
                    // JavaScript: Math.min() is Infinity, Math.max() -Infinity.
                    let infinity = if function == MathFn::Min {
                        f32::INFINITY
                    } else {
                        f32::NEG_INFINITY
                    };
                    return Ok(Expr {
                        ty: Ty::Float,
                        kind: ExprKind::Float(infinity),
                    });
                };
                Ok(values.fold(first, |folded, next| call(ty, vec![folded, next])))
            }
            _ => {
                self.arity(&name, arguments, function.arity(), span)?;
                if function == MathFn::Abs && integers {
                    return Ok(call(Ty::Integer, values));
                }
                Ok(call(Ty::Float, values.into_iter().map(to_float).collect()))
            }
        }
    }

    fn arity(
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

    fn arguments(
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

    fn timer_call(
        &mut self,
        name: &str,
        arguments: &[&ast::Expression<'_>],
        span: Span,
    ) -> Checked<Expr> {
        if name.starts_with("clear") {
            self.arity(name, arguments, 1, span)?;
            let id = self.expr(arguments[0])?;
            let id = self.convert(id, Ty::Integer, arguments[0].span())?;
            return Ok(Expr {
                ty: Ty::Void,
                kind: ExprKind::ClearTimer(Box::new(id)),
            });
        }
        self.arity(name, arguments, 2, span)?;
        let repeat = name == "setInterval";
        let is_function_name = matches!(arguments[0].without_parentheses(),
            ast::Expression::Identifier(id) if self.lookup_local(id.name.as_str()).is_none()
                && !self.is_captured(id.name.as_str())
                && self.script_function(id.name.as_str()).is_some());
        if !is_function_name {
            // A function value: an arrow function (a closure) or a variable.
            let closure = self.expr(arguments[0])?;
            match closure.ty {
                Ty::Function(signature) if signature.params.is_empty() => {}
                Ty::Function(_) => {
                    return Err(self.error(Diagnostic::error(
                        arguments[0].span(),
                        "a timer callback takes no parameters",
                    )))
                }
                other => {
                    return Err(self.error(Diagnostic::error(
                        arguments[0].span(),
                        format!("a timer callback is a function, found {other}"),
                    )))
                }
            }
            let ms = self.expr_to(arguments[1], Ty::Integer)?;
            return Ok(Expr {
                ty: Ty::Integer,
                kind: ExprKind::StartClosureTimer {
                    closure: Box::new(closure),
                    ms: Box::new(ms),
                    repeat,
                },
            });
        }
        let callback = self.callback(arguments[0])?;
        let ms = self.expr(arguments[1])?;
        let ms = self.convert(ms, Ty::Integer, arguments[1].span())?;
        self.context().references.insert(callback.clone());
        Ok(Expr {
            ty: Ty::Integer,
            kind: ExprKind::StartTimer {
                callback,
                ms: Box::new(ms),
                repeat,
            },
        })
    }

    /// A timer callback named by a top-level function (called through its
    /// slot; function values are closures, see `timer_call`). Returns the
    /// function's name.
    fn callback(&mut self, expression: &ast::Expression<'_>) -> Checked<String> {
        let span: Span = expression.span().into();
        match expression.without_parentheses() {
            ast::Expression::Identifier(id)
                if self.lookup_local(id.name.as_str()).is_none()
                    && self.script_function(id.name.as_str()).is_some() =>
            {
                let local_name = id.name.as_str();
                let qualified = self.script_function(local_name).expect("a script function");
                let name = qualified.as_str();
                // A timer ignores what its callback returns, so only the
                // parameters matter: the body need not be checked now (it may
                // use globals declared further down, such as the timer's id).
                let params = match self.functions.get(name) {
                    Some(FunctionState::Unchecked(function)) => {
                        function.params.items.len() + usize::from(function.params.rest.is_some())
                    }
                    Some(FunctionState::InProgress { params, .. }) => params.len(),
                    Some(FunctionState::Done(signature)) => signature.params.len(),
                    None => 0,
                };
                if params != 0 {
                    return Err(self.error(Diagnostic::error(
                        span,
                        format!(
                            "a timer calls `{local_name}` without arguments, but it takes {params}"
                        ),
                    )));
                }
                Ok(qualified)
            }
            ast::Expression::Identifier(id)
                if matches!(self.item(id.name.as_str()), Some(Item::Unresolved)) =>
            {
                Err(Reported)
            }
            _ => Err(self.error(Diagnostic::error(span, "a timer callback is a function"))),
        }
    }
}

impl FnContext {
    fn new(name: String, ret: Option<ReturnType>, is_arrow: bool) -> Self {
        FnContext {
            name,
            scopes: vec![HashMap::new()],
            loops: Vec::new(),
            next_label: 0,
            ret,
            references: BTreeSet::new(),
            arrows: 0,
            is_arrow,
            captures: Vec::new(),
            boxed: HashSet::new(),
            newly_captured: BTreeSet::new(),
            assignments: Rc::default(),
            position: 0,
        }
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

fn lookup_in(context: &FnContext, name: &str) -> Option<Local> {
    context
        .scopes
        .iter()
        .rev()
        .find_map(|scope| scope.get(name).cloned())
}

fn span_text(file: &SourceFile, span: Span) -> &str {
    file.text
        .get(span.start as usize..span.end as usize)
        .unwrap_or("")
}

/// `console.log`/`console.error`/`print`: `Some(to_stderr)`.
fn print_target(callee: &ast::Expression<'_>) -> Option<bool> {
    match callee.without_parentheses() {
        ast::Expression::Identifier(id) if id.name == "print" => Some(false),
        ast::Expression::StaticMemberExpression(member) => {
            let ast::Expression::Identifier(object) = member.object.without_parentheses() else {
                return None;
            };
            match (object.name.as_str(), member.property.name.as_str()) {
                ("console", "log") => Some(false),
                ("console", "error") => Some(true),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether `+` here is string concatenation: a string literal (or a
/// `typeof`) somewhere in its left-nested chain of `+` (JavaScript is
/// left-associative).
fn is_stringy(expression: &ast::Expression<'_>) -> bool {
    match expression.without_parentheses() {
        ast::Expression::StringLiteral(_) | ast::Expression::TemplateLiteral(_) => true,
        ast::Expression::UnaryExpression(unary) => unary.operator == UnaryOperator::Typeof,
        ast::Expression::BinaryExpression(binary)
            if binary.operator == BinaryOperator::Addition =>
        {
            is_stringy(&binary.left) || is_stringy(&binary.right)
        }
        _ => false,
    }
}

/// Converts the values of `return` statements of an integer (or enum) type
/// to `ty`, a float or integer (lifted arrow functions are functions of
/// their own, not part of `body`).
fn returns_to(body: &mut [Stmt], ty: Ty) {
    for statement in body {
        match statement {
            Stmt::Return(Some(value)) if ty == Ty::Any && value.ty != Ty::Any => {
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
            Stmt::Return(Some(value)) if value.ty != ty && value.ty.is_integral() => {
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
            Stmt::If {
                then, otherwise, ..
            } => {
                returns_to(then, ty);
                returns_to(otherwise, ty);
            }
            Stmt::Loop { body, .. } | Stmt::Block(body) => returns_to(body, ty),
            Stmt::Let { .. }
            | Stmt::Expr(_)
            | Stmt::Break(_)
            | Stmt::Continue(_)
            | Stmt::Return(_)
            | Stmt::Print { .. } => {}
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

/// `setTimeout(…)` / `setInterval(…)` of the built-ins (`is_builtin`: not
/// of a script function of that name): an integer, whatever its arguments.
fn starts_a_timer(expression: &ast::Expression<'_>, is_builtin: impl Fn(&str) -> bool) -> bool {
    let ast::Expression::CallExpression(call) = expression.without_parentheses() else {
        return false;
    };
    let ast::Expression::Identifier(id) = call.callee.without_parentheses() else {
        return false;
    };
    matches!(id.name.as_str(), "setTimeout" | "setInterval") && is_builtin(id.name.as_str())
}

/// An enum value seen as the integer it is (LANGUAGE.md §6); any other
/// value unchanged.
fn widen(value: Expr) -> Expr {
    match value.ty {
        Ty::Enum(_) | Ty::Int32 => Expr {
            ty: Ty::Integer,
            ..value
        },
        _ => value,
    }
}

/// The object of `object.property` when it is not a variable.
enum Builtin {
    /// An enum (qualified name).
    Enum(String),
    /// A class (qualified name): `C.k`, `C.f()`.
    Class(String),
    /// `Math`, `time`.
    Named(&'static str),
    /// A failed import, reported already.
    Unresolved,
}

/// Whether a variable of type `ty` needs an initializer: it holds an
/// object, and 0 (null) is not one. (A string starts empty.)
fn needs_initial_value(ty: Ty) -> bool {
    ty.is_object() && ty != Ty::String
}

fn uninitialized(span: impl Into<Span>, name: &str, ty: Ty) -> Diagnostic {
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

/// `null` / `undefined`.
fn null() -> Expr {
    Expr {
        ty: Ty::Null,
        kind: ExprKind::Null,
    }
}

/// The type inferred for `let x = null`: `any`, as TypeScript infers.
fn null_as_any(value: Expr) -> Expr {
    if value.ty == Ty::Null {
        Expr {
            ty: Ty::Any,
            ..value
        }
    } else {
        value
    }
}

fn int_to_float(value: Expr) -> Expr {
    Expr {
        ty: Ty::Float,
        kind: ExprKind::IntToFloat(Box::new(value)),
    }
}

fn to_float(value: Expr) -> Expr {
    if value.ty == Ty::Integer {
        int_to_float(value)
    } else {
        value
    }
}

fn numeric_comparison(lhs: Expr, rhs: Expr, build: impl Fn(Ty, Ty, Expr, Expr) -> Expr) -> Expr {
    if lhs.ty == Ty::Integer && rhs.ty == Ty::Integer {
        build(Ty::Integer, Ty::Boolean, lhs, rhs)
    } else {
        build(Ty::Float, Ty::Boolean, to_float(lhs), to_float(rhs))
    }
}
