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
//!
//! This file holds the checker's state and its entry point; its methods
//! live in one file per concern: `declarations.rs` and `imports.rs` (the
//! top level), `functions.rs`, `annotations.rs` (types as written),
//! `names.rs` (locals, captures, what a name designates), `statements.rs`,
//! `expressions.rs`, `calls.rs`, `conversions.rs`, `builtins.rs`, and the
//! files of narrower topics (classes, members, arrays, casts, closures,
//! narrowing, `any`, `code` templates, reachability).

use super::codegen::{function_symbol, global_symbol};
use super::diagnostic::{Diagnostic, Kind, SourceFile, Span};
use super::exports::Export;
use super::ir::*;
use super::modules::{Module, Modules};
use super::{fingerprint, fingerprint_parts};
use assignments::Assignments;
use builtins::{print_target, starts_a_timer, Builtin, TIMER_BUILTINS};
use conversions::{int_to_float, null, null_as_any, to_float, widen};
use declarations::{needs_initial_value, uninitialized};
use oxc_ast::ast;
use oxc_span::GetSpan;
use oxc_syntax::operator::{
    AssignmentOperator, BinaryOperator, LogicalOperator, UnaryOperator, UpdateOperator,
};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::rc::Rc;

mod annotations;
mod arrays;
mod assignments;
mod builtins;
mod call_effects;
mod calls;
mod casts;
mod cells;
mod classes;
mod closures;
mod code;
mod conversions;
mod declarations;
mod dynamic;
mod expressions;
mod functions;
mod imports;
mod members;
mod names;
mod narrowing;
mod reachability;
mod statements;

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
        let (statements, references) = checker.check_main();
        match &modules.modules[module].cell {
            Some(name) => checker.add_cell_function(name, statements, references),
            None => main.extend(statements),
        }
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
                file: checker.globals[name].module as u32,
                is_const: checker.globals[name].is_const,
            })
            .collect(),
        functions,
        main,
        top_level_fingerprint,
        classes: checker.class_list(),
        native_items: std::mem::take(&mut checker.native_items_out),
        files: modules.modules.iter().map(|m| m.file.clone()).collect(),
        answer: checker.answer,
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
    /// The type of the value the last shell cell prints as its answer.
    answer: Option<Ty>,
    /// The globals that each call may assign.
    call_effects: call_effects::CallEffects,
    /// What each top-level function or method assigns, by name.
    root_assignments: HashMap<String, Rc<Assignments>>,
    /// The span of the statement being checked, which the IR statements
    /// made for it carry.
    statement_span: Span,
}

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
            answer: None,
            call_effects: Default::default(),
            root_assignments: HashMap::new(),
            statement_span: Span::default(),
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

    /// An IR statement made for the statement being checked.
    fn stmt(&self, kind: StmtKind) -> Stmt {
        self.stmt_at(kind, self.statement_span)
    }

    /// An IR statement made for `span` of the current module.
    fn stmt_at(&self, kind: StmtKind, span: Span) -> Stmt {
        Stmt {
            kind,
            source: SourceSpan {
                file: self.current as u32,
                span,
            },
        }
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

fn span_text(file: &SourceFile, span: Span) -> &str {
    file.text
        .get(span.start as usize..span.end as usize)
        .unwrap_or("")
}
