//! What the interactive shell checks its cells against: a checked program
//! (its globals, functions, classes and the drivers it was checked with)
//! and the cells accepted so far. A cell is a piece of script — statements,
//! an expression whose value is printed, declarations of globals,
//! functions, classes or enums — that runs once in the running program;
//! what it declares is there for the cells after it.
//!
//! The environment keeps the sources, not the checker: a cell is checked
//! with the program and the earlier cells again (a few milliseconds for a
//! microcontroller's scripts), which makes it see exactly what a program
//! sees and leaves nothing half-declared when it fails.

use super::check::check_program;
use super::diagnostic::{Diagnostic, SourceFile};
use super::exports::Export;
use super::ir::{Class, Function, Global, Program};
use super::modules::{self, Module, Scripts};
use oxc_allocator::Allocator;
use std::collections::HashMap;
use std::sync::Arc;

pub struct Environment {
    sources: Sources,
    exports: Vec<Export>,
    /// The cells accepted so far, in order.
    cells: Vec<Arc<SourceFile>>,
    /// The texts of those that declared something, for `.save`.
    declarations: Vec<String>,
    /// Inputs so far, accepted or not: the next one is `<repl N+1>`.
    inputs: usize,
}

/// What a cell adds to the running program.
#[derive(Clone, Debug)]
pub struct Cell {
    /// The function that runs the cell's statements (no parameters, no
    /// result), compiled and called like any other.
    pub function: Function,
    /// The globals the cell declares; its function initializes them.
    pub globals: Vec<Global>,
    /// The functions it declares, methods and lifted arrow functions
    /// included.
    pub functions: Vec<Function>,
    pub classes: Vec<Class>,
    /// The cell's file, as its spans and diagnostics name it.
    pub file: Arc<SourceFile>,
    /// The program with every accepted cell, this one included: what code
    /// generation reads besides the functions it compiles (the globals,
    /// classes and descriptors they use).
    pub program: Program,
}

impl Environment {
    /// Checks a program for the shell; returns its environment and the
    /// program, or the program's diagnostics.
    pub fn new(
        scripts: &Scripts<'_>,
        exports: &[Export],
    ) -> Result<(Environment, Program), Vec<Diagnostic>> {
        let sources = Sources::read(scripts)?;
        let program = sources.check(exports, &[])?;
        let environment = Environment {
            sources,
            exports: exports.to_vec(),
            cells: Vec::new(),
            declarations: Vec::new(),
            inputs: 0,
        };
        Ok((environment, program))
    }

    /// Follows the running program to new sources (a patch changed its
    /// functions), keeping the cells, which must still check against it;
    /// otherwise the environment is as it was. Returns the new program
    /// with the cells.
    pub fn replace_program(&mut self, scripts: &Scripts<'_>) -> Result<Program, Vec<Diagnostic>> {
        let sources = Sources::read(scripts)?;
        let program = sources.check(&self.exports, &self.cells)?;
        self.sources = sources;
        Ok(program)
    }

    /// The name the next cell is known by (`<repl 1>` first), in its
    /// diagnostics and run-time error locations.
    pub fn next_cell_name(&self) -> String {
        format!("<repl {}>", self.inputs + 1)
    }

    /// Counts an input, whatever became of it, so that the next is named
    /// after it as a person numbers what they typed.
    pub fn count_input(&mut self) {
        self.inputs += 1;
    }

    /// Checks one more cell against the program and the cells before it;
    /// rejected, the diagnostics point into the cell. The environment does
    /// not change: [`Environment::accept`] makes the cell part of it (once
    /// it ran).
    pub fn check_cell(&self, text: &str) -> Result<Cell, Vec<Diagnostic>> {
        self.check_cell_file(SourceFile {
            name: self.next_cell_name(),
            text: text.to_string(),
        })
    }

    /// [`Environment::check_cell`] for a cell that its file names: code
    /// appended to a script runs as a cell whose file is the script (its
    /// earlier text blanked, so that lines and columns stay the script's).
    pub fn check_cell_file(&self, file: SourceFile) -> Result<Cell, Vec<Diagnostic>> {
        let file = Arc::new(file);
        let mut cells = self.cells.clone();
        cells.push(file.clone());
        let program = self.sources.check(&self.exports, &cells)?;
        // The new cell is the last file.
        let index = (program.files.len() - 1) as u32;
        let name = cell_function_name(self.cells.len() + 1);
        let mut functions: Vec<Function> = program
            .functions
            .iter()
            .filter(|f| f.file == index)
            .cloned()
            .collect();
        let at = functions
            .iter()
            .position(|f| f.name == name)
            .expect("a checked cell has its function");
        let function = functions.remove(at);
        Ok(Cell {
            function,
            globals: program
                .globals
                .iter()
                .filter(|g| g.file == index)
                .cloned()
                .collect(),
            functions,
            classes: program
                .classes
                .iter()
                .filter(|c| c.file == index)
                .cloned()
                .collect(),
            file,
            program,
        })
    }
}

impl Environment {
    /// Makes `cell`, checked last, part of the environment: what it
    /// declares is there for the cells after it.
    pub fn accept(&mut self, cell: &Cell) {
        self.cells.push(cell.file.clone());
        if !(cell.globals.is_empty() && cell.functions.is_empty() && cell.classes.is_empty()) {
            self.declarations.push(cell.file.text.clone());
        }
    }

    /// The accepted cells that declared something, in order, as a script
    /// (what `.save` writes).
    pub fn declarations_script(&self) -> String {
        let mut script = String::new();
        for text in &self.declarations {
            script.push_str(text.trim_end());
            script.push('\n');
        }
        script
    }

    /// The type of expression `text`, as the next cell would see it,
    /// written as scripts write types; the environment does not change.
    pub fn type_of(&self, text: &str) -> Result<String, Vec<Diagnostic>> {
        let cell = self.check_cell(text)?;
        Ok(match cell.program.answer {
            Some(ty) => ty.to_string(),
            None => "void".to_string(),
        })
    }

    /// The names a cell can use: globals, functions, classes and drivers,
    /// of the program and the cells accepted so far (for completion).
    pub fn names(&self) -> Result<Vec<String>, Vec<Diagnostic>> {
        let program = self.sources.check(&self.exports, &self.cells)?;
        let mut names: Vec<String> = program
            .globals
            .iter()
            .map(|g| g.name.clone())
            .chain(
                program
                    .functions
                    .iter()
                    .filter(|f| !f.name.contains(['.', '$', '<', ':']))
                    .map(|f| f.name.clone()),
            )
            .chain(
                program
                    .classes
                    .iter()
                    .map(|c| c.name.qualified().to_string()),
            )
            .chain(self.exports.iter().map(|e| e.name.clone()))
            .filter(|name| !name.contains(':'))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}

/// Whether `text` ends too early to be a cell: a shell reads another line
/// (an open bracket or block, an operator at its end).
pub fn needs_more_input(text: &str) -> bool {
    let allocator = Allocator::default();
    let file = Arc::new(SourceFile {
        name: String::new(),
        text: text.to_string(),
    });
    match modules::parse(&allocator, &file) {
        Ok(_) => false,
        Err(diagnostics) => diagnostics
            .iter()
            .any(|d| d.kind == super::diagnostic::Kind::Incomplete),
    }
}

/// What follows `Math.`, `console.`, a string's or an array's `.` (for
/// completion; LANGUAGE.md §9).
const MATH_MEMBERS: &[&str] = &[
    "PI", "abs", "atan2", "ceil", "cos", "exp", "floor", "log", "max", "min", "pow", "round",
    "sin", "sqrt", "tan",
];
const CONSOLE_MEMBERS: &[&str] = &["error", "log"];
const STRING_MEMBERS: &[&str] = &[
    "charCodeAt",
    "endsWith",
    "indexOf",
    "length",
    "startsWith",
    "substring",
];
const ARRAY_MEMBERS: &[&str] = &["length", "pop", "push", "shift", "unshift"];

impl Environment {
    /// The members of the value of expression `text` (fields and methods
    /// of its class, a string's or an array's), or of `Math` and
    /// `console`, for completion after a `.`; none if it does not check.
    pub fn members_of(&self, text: &str) -> Vec<String> {
        use super::ir::Ty;
        let fixed = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
        match text.trim() {
            "Math" => return fixed(MATH_MEMBERS),
            "console" => return fixed(CONSOLE_MEMBERS),
            _ => {}
        }
        let Ok(cell) = self.check_cell(text) else {
            return Vec::new();
        };
        match cell.program.answer.map(Ty::non_null) {
            Some(Ty::String) => fixed(STRING_MEMBERS),
            Some(Ty::Array(_) | Ty::Uint8Array | Ty::FixedArray) => fixed(ARRAY_MEMBERS),
            Some(Ty::Class(name)) => cell
                .program
                .classes
                .iter()
                .find(|class| class.name == name)
                .map(|class| {
                    let mut members: Vec<String> = class
                        .fields
                        .iter()
                        .map(|(field, _)| field.clone())
                        .chain(class.methods.iter().map(|(method, ..)| method.clone()))
                        .collect();
                    members.sort();
                    members.dedup();
                    members
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

/// The type of the value a cell prints as its answer: its last
/// expression's.
/// The program's sources, as read when it was checked: later checks read
/// nothing.
struct Sources {
    main: SourceFile,
    dir: String,
    /// Every script file the program imports.
    files: HashMap<String, String>,
}

impl Sources {
    /// Reads the program's files through the loader of `scripts`.
    fn read(scripts: &Scripts<'_>) -> Result<Sources, Vec<Diagnostic>> {
        let allocator = Allocator::default();
        let modules = modules::load(&allocator, scripts)?;
        Ok(Sources {
            main: scripts.main.clone(),
            dir: scripts.dir.clone(),
            files: modules.modules[1..]
                .iter()
                .map(|module| (module.file.name.clone(), module.file.text.clone()))
                .collect(),
        })
    }

    /// Checks the program with `cells` after it, in order.
    fn check(
        &self,
        exports: &[Export],
        cells: &[Arc<SourceFile>],
    ) -> Result<Program, Vec<Diagnostic>> {
        let allocator = Allocator::default();
        let scripts = Scripts {
            main: self.main.clone(),
            dir: self.dir.clone(),
            loader: &self.files,
        };
        let mut modules = modules::load(&allocator, &scripts)?;
        for (number, cell) in cells.iter().enumerate() {
            let program = modules::parse(&allocator, cell)?;
            modules.order.push(modules.modules.len());
            modules.modules.push(Module {
                file: cell.clone(),
                prefix: String::new(),
                program,
                imports: HashMap::new(),
                cell: Some(cell_function_name(number + 1)),
            });
        }
        check_program(&modules, exports)
    }
}

/// The function of cell `number` (from 1): a name no script function can
/// have, so that it clashes with none.
fn cell_function_name(number: usize) -> String {
    format!("<cell {number}>")
}

/// Whether `name` is a cell's own function (which runs once and holds no
/// slot), rather than one it declares or an arrow in it.
pub fn is_cell_function(name: &str) -> bool {
    name.strip_prefix("<cell ")
        .and_then(|rest| rest.strip_suffix('>'))
        .is_some_and(|number| number.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Kind;
    use crate::ir::Ty;
    use crate::modules::NoFiles;

    const PROGRAM: &str = "let count = 0\n\
        function double(n: integer): integer { return n * 2 }\n\
        class Point {\n  x: integer\n  constructor(x: integer) { this.x = x }\n}\n\
        setInterval(() => { count++ }, 100)\n";

    fn environment(main: &str, loader: &dyn modules::Loader) -> Environment {
        let scripts = Scripts {
            main: SourceFile {
                name: "scripts/main.bs".into(),
                text: main.into(),
            },
            dir: "scripts".into(),
            loader,
        };
        let exports = [Export::parse_record("led_set(boolean):void").unwrap()];
        match Environment::new(&scripts, &exports) {
            Ok((environment, _)) => environment,
            Err(errors) => panic!("{}", errors[0].render()),
        }
    }

    fn accepted(environment: &mut Environment, text: &str) -> Cell {
        let cell = environment
            .check_cell(text)
            .unwrap_or_else(|errors| panic!("`{text}`: {}", errors[0].render()));
        environment.accept(&cell);
        environment.count_input();
        cell
    }

    #[test]
    fn a_cell_uses_the_programs_globals_functions_classes_and_drivers() {
        let mut environment = environment(PROGRAM, &NoFiles);
        let cell = accepted(&mut environment, "double(count) + new Point(3).x");
        assert_eq!(cell.program.answer, Some(Ty::Integer));
        assert_eq!(cell.function.name, "<cell 1>");
        assert!(is_cell_function(&cell.function.name));
        assert_eq!(cell.function.signature.ret, Ty::Void);
        assert_eq!(cell.function.references, ["Point.constructor", "double"]);
        assert!(cell.globals.is_empty() && cell.functions.is_empty());
        // A statement prints nothing more than it does in a program.
        let cell = accepted(&mut environment, "led_set(true)\ncount = 5");
        assert_eq!(cell.program.answer, None);
        assert_eq!(cell.function.body.len(), 2);
        // A void call is no value to print.
        let cell = accepted(&mut environment, "led_set(false)");
        assert_eq!(cell.program.answer, None);
        assert_eq!(cell.file.name, "<repl 3>");
        // Nor is a value the input prints itself.
        assert_eq!(environment.type_of("console.log(1)").unwrap(), "void");
    }

    #[test]
    fn what_a_cell_declares_is_there_for_the_next_ones() {
        let mut environment = environment(PROGRAM, &NoFiles);
        let cell = accepted(&mut environment, "let total = double(21)");
        let globals: Vec<_> = cell
            .globals
            .iter()
            .map(|g| (g.name.as_str(), g.ty))
            .collect();
        assert_eq!(globals, [("total", Ty::Integer)]);
        // The cell's function initializes it.
        assert_eq!(cell.function.body.len(), 1);
        let cell = accepted(
            &mut environment,
            "function triple(n: integer) { return n * 3 }\nclass Pair { a: integer\n constructor() { this.a = total } }",
        );
        let functions: Vec<_> = cell.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(functions, ["triple", "Pair.constructor"]);
        assert_eq!(cell.classes.len(), 1);
        let cell = accepted(&mut environment, "triple(total) + new Pair().a");
        assert_eq!(cell.program.answer, Some(Ty::Integer));
        assert_eq!(cell.function.references, ["Pair.constructor", "triple"]);
        // An arrow made in a cell is a function of its own.
        let cell = accepted(&mut environment, "setTimeout(() => { total++ }, 10)");
        assert!(cell.functions[0].name.starts_with("<cell 4>$0"));
        assert!(!is_cell_function(&cell.functions[0].name));
        assert!(cell.functions[0].is_closure);
    }

    #[test]
    fn a_rejected_cell_leaves_the_environment_as_it_was() {
        let mut environment = environment(PROGRAM, &NoFiles);
        accepted(&mut environment, "let total = 1");
        let errors = environment
            .check_cell("total = 'many'")
            .expect_err("a string is no integer");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].location().as_deref(), Some("<repl 2>:1:9"));
        assert!(errors[0].render().to_string().contains("--> <repl 2>:1:9"));
        // Declared already, by the program: the cell says so, with no mark
        // in another file.
        let errors = environment.check_cell("let count = 2").unwrap_err();
        assert_eq!(errors[0].message, "global `count` is declared twice");
        assert!(errors[0].labels.is_empty());
        // A cell that stops early can be completed by more lines.
        let errors = environment.check_cell("if (total > 0) {").unwrap_err();
        assert_eq!(errors[0].kind, Kind::Incomplete);
        // A declaration that failed declared nothing.
        assert!(environment.check_cell("let broken: integer = 'x'").is_err());
        assert!(environment.check_cell("broken").is_err());
        let cell = accepted(&mut environment, "total * 2");
        assert_eq!(cell.file.name, "<repl 2>");
        assert_eq!(cell.program.answer, Some(Ty::Integer));
        let cell = accepted(&mut environment, "let broken = 'fixed'");
        assert_eq!(cell.globals[0].ty, Ty::String);
    }

    #[test]
    fn a_function_defined_again_replaces_it_for_every_caller() {
        let main = "function double(n: integer): integer { return n * 2 }\n\
                    function quadruple(n: integer) { return double(double(n)) }\n";
        let mut environment = environment(main, &NoFiles);
        let cell = accepted(
            &mut environment,
            "function double(n: integer): integer { return n + n }",
        );
        let functions: Vec<_> = cell.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(functions, ["double"]);
        assert_eq!(
            cell.program
                .functions
                .iter()
                .filter(|f| f.name == "double")
                .count(),
            1
        );
        let double = cell.program.function("double").unwrap();
        assert_eq!(cell.program.files[double.file as usize].name, "<repl 1>");
        // Again, in a later cell.
        accepted(
            &mut environment,
            "function double(n: integer): integer { return 2 * n }",
        );
        // A new signature must suit the callers, which are checked against it.
        let errors = environment
            .check_cell("function double(n: integer, m: integer): integer { return n * m }")
            .unwrap_err();
        assert_eq!(
            errors[0].location().as_deref(),
            Some("scripts/main.bs:2:41")
        );
        // Twice in one cell is still an error.
        let errors = environment
            .check_cell("function f() {}\nfunction f() {}")
            .unwrap_err();
        assert_eq!(errors[0].message, "function `f` is declared twice");
        // A global cannot become a function.
        let mut environment = self::environment(PROGRAM, &NoFiles);
        assert!(environment.check_cell("function count() {}").is_err());
        accepted(&mut environment, "double(1)");
    }

    #[test]
    fn open_brackets_and_blocks_ask_for_more_lines() {
        for text in [
            "function f() {",
            "let a = [1,",
            "if (x) {} else",
            "let b = 1 +",
        ] {
            assert!(needs_more_input(text), "{text}");
        }
        for text in ["f()", "let a = [1, 2]", "let a = )", ""] {
            assert!(!needs_more_input(text), "{text}");
        }
    }

    #[test]
    fn saving_writes_what_the_cells_declared() {
        let mut environment = environment(PROGRAM, &NoFiles);
        accepted(&mut environment, "let gain = 2");
        accepted(&mut environment, "double(gain)");
        accepted(
            &mut environment,
            "function triple(n: integer) { return n * 3 }\n",
        );
        assert_eq!(
            environment.declarations_script(),
            "let gain = 2\nfunction triple(n: integer) { return n * 3 }\n"
        );
        assert_eq!(environment.type_of("triple(gain)").unwrap(), "integer");
        assert_eq!(environment.members_of("new Point(1)"), ["x"]);
        assert!(environment
            .members_of("'te' + 'xt'")
            .contains(&"startsWith".to_string()));
        assert!(environment.members_of("Math").contains(&"sqrt".to_string()));
        assert!(environment.members_of("nothing").is_empty());
        let names = environment.names().unwrap();
        for name in ["count", "double", "gain", "triple", "Point", "led_set"] {
            assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
        }
    }

    #[test]
    fn a_cell_sees_what_the_main_script_imports_but_imports_no_script() {
        let files: HashMap<String, String> = [(
            "scripts/util.bs".to_string(),
            "export let level = 3\nexport function helper(n: integer) { return n + level }\n"
                .to_string(),
        )]
        .into();
        let mut environment = environment(
            "import { helper, level } from './util'\nprint(helper(1))\n",
            &files,
        );
        let cell = accepted(&mut environment, "helper(level)");
        assert_eq!(cell.function.references, ["util.bs:helper"]);
        let errors = environment.check_cell("level = 4").unwrap_err();
        assert!(errors[0].message.contains("it is imported"), "{errors:?}");
        let errors = environment
            .check_cell("import { helper } from './util'")
            .unwrap_err();
        assert_eq!(errors[0].kind, Kind::Import);
    }

    #[test]
    fn the_environment_follows_a_patched_program_while_its_cells_check() {
        let mut environment = environment(PROGRAM, &NoFiles);
        accepted(&mut environment, "let t = double(2)");
        let version = |text: &str| Scripts {
            main: SourceFile {
                name: "scripts/main.bs".into(),
                text: text.into(),
            },
            dir: "scripts".into(),
            loader: &NoFiles,
        };
        let patched =
            PROGRAM.replace("n * 2", "n + n") + "function half(n: integer) { return n / 2 }\n";
        let program = environment.replace_program(&version(&patched)).unwrap();
        assert!(program.function("half").is_some() && program.function("<cell 1>").is_some());
        let cell = accepted(&mut environment, "half(t)");
        assert_eq!(cell.program.answer, Some(Ty::Integer));
        // Without `double`, the first cell no longer checks: nothing changes.
        let errors = environment
            .replace_program(&version("let count = 0\n"))
            .unwrap_err();
        assert_eq!(errors[0].location().as_deref(), Some("<repl 1>:1:9"));
        accepted(&mut environment, "half(double(t))");
    }
}
