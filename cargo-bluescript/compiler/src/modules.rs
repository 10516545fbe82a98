//! The files of a program: the main script and the script modules it
//! imports (LANGUAGE.md §8), found, read and parsed before anything is
//! type-checked.
//!
//! `import { a } from './util'` names a file relative to the importing one,
//! which must lie inside the project's scripts directory: `./util.bs` and
//! `./util.ts` name that file; `./util` names `util.bs`, or `util.ts` when
//! there is no `util.bs`. A bare name (`'gpio'`) is a driver module, and
//! `import type` is ignored: neither loads a file.
//!
//! Modules are evaluated like JavaScript's: each once, its imports first
//! (depth first, in the order of the import statements), the main script
//! last. An import cycle is an error that prints the cycle: a module's
//! top-level code could otherwise run before that of a module it imports.

use super::diagnostic::{Diagnostic, Kind, SourceFile, Span};
use oxc_allocator::Allocator;
use oxc_ast::ast;
use oxc_parser::Parser;
use oxc_span::SourceType;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Reads script files for the compiler, which itself does no I/O.
pub trait Loader {
    /// The text of the file `name` (a path as users know it, with `/`
    /// separators, e.g. `scripts/util.bs`), `Ok(None)` when there is no
    /// such file, or why it cannot be read.
    fn load(&self, name: &str) -> Result<Option<String>, String>;
}

/// Files held in memory, by name (tests, tools).
impl Loader for HashMap<String, String> {
    fn load(&self, name: &str) -> Result<Option<String>, String> {
        Ok(self.get(name).cloned())
    }
}

/// No file besides the main script.
pub struct NoFiles;

impl Loader for NoFiles {
    fn load(&self, _name: &str) -> Result<Option<String>, String> {
        Ok(None)
    }
}

/// The scripts of a program.
pub struct Scripts<'l> {
    pub main: SourceFile,
    /// The scripts directory, as users know it (`scripts`): imports must
    /// name files inside it.
    pub dir: String,
    pub loader: &'l dyn Loader,
}

/// One parsed file.
pub struct Module<'a> {
    pub file: Arc<SourceFile>,
    /// What names of this module's items are qualified with in the IR and
    /// in generated symbols: empty for the main script (its items keep
    /// their names), else the file's path inside the scripts directory
    /// (`util.bs`, whose function `f` is `util.bs:f`).
    pub prefix: String,
    pub program: &'a ast::Program<'a>,
    /// The module each script import resolved to, by the start of the
    /// import's source string.
    pub imports: HashMap<u32, usize>,
    /// For a cell of the interactive shell (`environment.rs`), the name of
    /// the function its statements become. A cell sees the names of the
    /// main script and of the cells before it, and declares its items
    /// among them (its prefix is empty).
    pub cell: Option<String>,
}

impl Module<'_> {
    /// `name` qualified as an item of this module.
    pub fn qualify(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}:{name}", self.prefix)
        }
    }
}

/// The modules of a program and the order their top-level code runs in
/// (imports first, the main script, index 0, last).
pub struct Modules<'a> {
    pub modules: Vec<Module<'a>>,
    pub order: Vec<usize>,
}

/// Reads and parses the main script and everything it imports.
pub fn load<'a>(
    allocator: &'a Allocator,
    scripts: &Scripts<'_>,
) -> Result<Modules<'a>, Vec<Diagnostic>> {
    let mut loading = Loading {
        allocator,
        scripts,
        dir: components(&scripts.dir),
        modules: Vec::new(),
        by_name: HashMap::new(),
        missing: HashSet::new(),
        order: Vec::new(),
        stack: Vec::new(),
        diagnostics: Vec::new(),
    };
    let main = Arc::new(scripts.main.clone());
    if let Some(main) = loading.parse(main, String::new()) {
        loading.visit(main);
    }
    if loading.diagnostics.is_empty() {
        Ok(Modules {
            modules: loading.modules,
            order: loading.order,
        })
    } else {
        Err(loading.diagnostics)
    }
}

struct Loading<'a, 's, 'l> {
    allocator: &'a Allocator,
    scripts: &'s Scripts<'l>,
    dir: Vec<String>,
    modules: Vec<Module<'a>>,
    by_name: HashMap<String, usize>,
    /// Names the loader found no file for.
    missing: HashSet<String>,
    order: Vec<usize>,
    /// Modules whose imports are being loaded, outermost first.
    stack: Vec<usize>,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Loading<'a, '_, '_> {
    /// Parses a file into a new module; `None` after a syntax error.
    fn parse(&mut self, file: Arc<SourceFile>, prefix: String) -> Option<usize> {
        let program = match parse(self.allocator, &file) {
            Ok(program) => program,
            Err(diagnostics) => {
                self.diagnostics.extend(diagnostics);
                return None;
            }
        };
        // By its normalized name, so that `./scripts/main.bs` and a module
        // importing `./main` agree.
        self.by_name
            .insert(components(&file.name).join("/"), self.modules.len());
        self.modules.push(Module {
            file,
            prefix,
            program,
            imports: HashMap::new(),
            cell: None,
        });
        Some(self.modules.len() - 1)
    }

    fn visit(&mut self, index: usize) {
        self.stack.push(index);
        let program = self.modules[index].program;
        for statement in &program.body {
            let ast::Statement::ImportDeclaration(import) = statement else {
                continue;
            };
            let source = import.source.value.as_str();
            let is_script = source.starts_with('.') || source.starts_with('/');
            if import.import_kind == ast::ImportOrExportKind::Type || !is_script {
                continue; // ignored, or a driver module: the checker sees to those
            }
            if let Some(imported) = self.import(index, source, import.source.span.into()) {
                self.modules[index]
                    .imports
                    .insert(import.source.span.start, imported);
            }
        }
        self.stack.pop();
        self.order.push(index);
    }

    /// Reports a failed import of `module`.
    fn error(&mut self, module: usize, diagnostic: Diagnostic) {
        let file = self.modules[module].file.clone();
        self.diagnostics
            .push(diagnostic.with_kind(Kind::Import).in_file(&file));
    }

    /// The module `source` names, imported by `importer`, loaded and
    /// visited if new.
    fn import(&mut self, importer: usize, source: &str, span: Span) -> Option<usize> {
        let candidates = match self.resolve(&self.modules[importer].file.name, source) {
            Ok(candidates) => candidates,
            Err(diagnostic) => {
                self.error(importer, diagnostic.into_span(span));
                return None;
            }
        };
        let mut found = None;
        for candidate in &candidates {
            if let Some(&index) = self.by_name.get(candidate) {
                found = Some(Ok(index));
                break;
            }
            if self.missing.contains(candidate) {
                continue;
            }
            match self.scripts.loader.load(candidate) {
                Ok(Some(text)) => {
                    found = Some(Err(SourceFile {
                        name: candidate.clone(),
                        text,
                    }));
                    break;
                }
                Ok(None) => {
                    self.missing.insert(candidate.clone());
                }
                Err(why) => {
                    self.error(
                        importer,
                        Diagnostic::error(span, format!("cannot read `{candidate}`: {why}")),
                    );
                    return None;
                }
            }
        }
        match found {
            None => {
                self.error(
                    importer,
                    Diagnostic::error(
                        span,
                        format!(
                            "cannot find the script '{source}' (tried {})",
                            candidates
                                .iter()
                                .map(|c| format!("`{c}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ),
                );
                None
            }
            Some(Ok(index)) => {
                if let Some(position) = self.stack.iter().position(|&m| m == index) {
                    let mut cycle: Vec<&str> = self.stack[position..]
                        .iter()
                        .map(|&m| self.modules[m].file.name.as_str())
                        .collect();
                    cycle.push(&self.modules[index].file.name);
                    let message = format!("import cycle: {}", cycle.join(" → "));
                    self.error(
                        importer,
                        Diagnostic::error(span, message).with_help(
                            "script modules may not import each other, directly or not: \
                             move what both need into a module that both import",
                        ),
                    );
                    return None;
                }
                Some(index)
            }
            Some(Err(file)) => {
                let prefix = self.prefix(&file.name);
                let index = self.parse(Arc::new(file), prefix)?;
                self.visit(index);
                Some(index)
            }
        }
    }

    /// The file names `source` may mean, imported from `importer`, in the
    /// order they are tried.
    fn resolve(&self, importer: &str, source: &str) -> Result<Vec<String>, Diagnostic> {
        if !(source.starts_with("./") || source.starts_with("../")) {
            return Err(Diagnostic::error(
                Span::default(),
                format!("'{source}' is not a relative path"),
            )
            .with_help("import a script with a path relative to this file, like './util'"));
        }
        let mut path = components(importer);
        path.pop(); // the importing file itself
        for component in source.split('/') {
            match component {
                "" | "." => {}
                ".." => {
                    if path.pop().is_none() {
                        return Err(self.outside(source));
                    }
                }
                name => path.push(name.to_string()),
            }
        }
        if path.len() <= self.dir.len() || !path.starts_with(&self.dir) {
            return Err(self.outside(source));
        }
        let path = path.join("/");
        if path.ends_with(".bs") || path.ends_with(".ts") {
            Ok(vec![path])
        } else {
            Ok(vec![format!("{path}.bs"), format!("{path}.ts")])
        }
    }

    fn outside(&self, source: &str) -> Diagnostic {
        Diagnostic::error(
            Span::default(),
            format!(
                "'{source}' is outside the scripts directory `{}`",
                self.scripts.dir
            ),
        )
    }

    /// The qualifier of a module's items: its path inside the scripts directory.
    fn prefix(&self, name: &str) -> String {
        components(name)[self.dir.len()..].join("/")
    }
}

/// Parses one file; its syntax errors otherwise.
pub fn parse<'a>(
    allocator: &'a Allocator,
    file: &Arc<SourceFile>,
) -> Result<&'a ast::Program<'a>, Vec<Diagnostic>> {
    let text = allocator.alloc_str(&file.text);
    let parsed = Parser::new(allocator, text, SourceType::ts()).parse();
    if !(parsed.panicked || parsed.diagnostics.has_errors()) {
        return Ok(allocator.alloc(parsed.program));
    }
    let mut diagnostics: Vec<Diagnostic> = parsed
        .diagnostics
        .errors()
        .map(|error| syntax_error(error, &file.text).in_file(file))
        .collect();
    if diagnostics.is_empty() {
        diagnostics.push(
            Diagnostic::error(Span::default(), "the file could not be parsed")
                .with_kind(Kind::Syntax)
                .in_file(file),
        );
    }
    Err(diagnostics)
}

/// oxc's syntax error with all its labels: the primary one (or the first)
/// under the caret, the others ("Opened here") as secondary labels. An
/// error at the end of `text` is `Incomplete`: more text may mend it.
fn syntax_error(error: &oxc_diagnostics::OxcDiagnosticInner, text: &str) -> Diagnostic {
    let labels = &error.labels;
    let primary = labels.iter().position(|l| l.primary()).unwrap_or(0);
    let span_of = |label: &oxc_span::LabeledSpan| Span::from(label.span());
    let mut diagnostic = Diagnostic::error(
        labels.get(primary).map(span_of).unwrap_or_default(),
        error.message.to_string(),
    );
    diagnostic.label = labels
        .get(primary)
        .and_then(|l| l.label())
        .map(str::to_string);
    for (index, label) in labels.iter().enumerate() {
        if index != primary {
            let text = label.label().unwrap_or_default();
            diagnostic = diagnostic.with_label(span_of(label), text);
        }
    }
    diagnostic.help = error.help.as_ref().map(|h| h.to_string());
    let at_end = diagnostic.span.start as usize >= text.trim_end().len();
    diagnostic.with_kind(if at_end {
        Kind::Incomplete
    } else {
        Kind::Syntax
    })
}

impl Diagnostic {
    fn into_span(mut self, span: Span) -> Diagnostic {
        self.span = span;
        self
    }
}

/// The components of a path as users know it (either separator).
fn components(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    if path.starts_with(['/', '\\']) {
        out.push(String::new()); // an absolute path stays one
    }
    out.extend(
        path.split(['/', '\\'])
            .filter(|c| !c.is_empty() && *c != ".")
            .map(str::to_string),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> HashMap<String, String> {
        list.iter()
            .map(|(name, text)| (name.to_string(), text.to_string()))
            .collect()
    }

    fn scripts<'l>(main: &str, loader: &'l dyn Loader) -> Scripts<'l> {
        Scripts {
            main: SourceFile {
                name: "scripts/main.bs".into(),
                text: main.into(),
            },
            dir: "scripts".into(),
            loader,
        }
    }

    fn errors(main: &str, loader: &dyn Loader) -> Vec<String> {
        let allocator = Allocator::default();
        match load(&allocator, &scripts(main, loader)) {
            Ok(_) => panic!("expected errors"),
            Err(diagnostics) => diagnostics
                .iter()
                .map(|d| format!("{}: {}", d.location().unwrap(), d.message))
                .collect(),
        }
    }

    #[test]
    fn resolves_paths_with_and_without_extension_in_evaluation_order() {
        let files = files(&[
            (
                "scripts/a.bs",
                "import { c } from './lib/c.ts'\nexport let a = 1",
            ),
            (
                "scripts/lib/c.ts",
                "import { d } from '../d'\nexport let c = 1",
            ),
            ("scripts/d.ts", "export let d = 1"),
            ("scripts/b.bs", "import { d } from './d.ts'"),
        ]);
        let allocator = Allocator::default();
        let main = "import { a } from './a'\nimport { b } from './b.bs'\nimport type { x } from './nope'\nimport { set } from 'gpio'";
        let modules = load(&allocator, &scripts(main, &files)).unwrap_or_else(|d| panic!("{d:?}"));
        let names: Vec<&str> = modules
            .order
            .iter()
            .map(|&m| modules.modules[m].file.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "scripts/d.ts",
                "scripts/lib/c.ts",
                "scripts/a.bs",
                "scripts/b.bs",
                "scripts/main.bs"
            ]
        );
        let prefixes: Vec<&str> = modules.modules.iter().map(|m| m.prefix.as_str()).collect();
        assert_eq!(prefixes, ["", "a.bs", "lib/c.ts", "d.ts", "b.bs"]);
        // d.ts is loaded once, though imported twice.
        assert_eq!(modules.modules.len(), 5);
    }

    #[test]
    fn a_missing_file_names_the_paths_tried() {
        let errors = errors("let x = 1\nimport { f } from './util'", &NoFiles);
        assert_eq!(
            errors,
            ["scripts/main.bs:2:19: cannot find the script './util' (tried `scripts/util.bs`, `scripts/util.ts`)"]
        );
    }

    #[test]
    fn an_import_may_not_leave_the_scripts_directory() {
        assert_eq!(
            errors("import { f } from '../src/main.bs'", &NoFiles),
            ["scripts/main.bs:1:19: '../src/main.bs' is outside the scripts directory `scripts`"]
        );
        let absolute = errors("import { f } from '/etc/passwd'", &NoFiles);
        assert!(
            absolute[0].contains("is not a relative path"),
            "{absolute:?}"
        );
    }

    #[test]
    fn an_import_cycle_is_printed() {
        let two = files(&[
            ("scripts/a.bs", "import { b } from './b'\nexport let a = 1"),
            (
                "scripts/b.bs",
                "\nimport { a } from './a.bs'\nexport let b = 1",
            ),
        ]);
        assert_eq!(
            errors("import { a } from './a'", &two),
            ["scripts/b.bs:2:19: import cycle: scripts/a.bs → scripts/b.bs → scripts/a.bs"]
        );
        // The main script is part of the cycle when a module imports it.
        let back = files(&[("scripts/a.bs", "import { m } from './main'")]);
        assert_eq!(
            errors("import { a } from './a'", &back),
            ["scripts/a.bs:1:19: import cycle: scripts/main.bs → scripts/a.bs → scripts/main.bs"]
        );
    }

    #[test]
    fn syntax_errors_are_placed_in_their_file() {
        let broken = files(&[("scripts/util.bs", "export let a = (1 +\n")]);
        let found = errors("import { a } from './util'", &broken);
        assert!(found[0].starts_with("scripts/util.bs:"), "{found:?}");
    }
}
