//! Checker and code generator tests: what is rejected (and where), and that
//! what is accepted becomes Rust that rustc compiles for the device.

use super::codegen::{generate_image, generate_patch, Calls, SlotMap};
use super::diagnostic::SourceFile;
use super::exports::Export;
use super::*;
use std::path::Path;

fn source(text: &str) -> SourceFile {
    SourceFile {
        name: "main.bs".into(),
        text: text.into(),
    }
}

fn led_exports() -> Vec<Export> {
    vec![
        Export::parse_record("led_set(boolean):void").unwrap(),
        Export::parse_record("gpio.read(integer):float").unwrap(),
    ]
}

/// The rendered diagnostics of a program that must not compile.
fn errors(text: &str) -> String {
    let file = source(text);
    match check(&file, &led_exports()) {
        Ok(_) => panic!("expected a compile error for:\n{text}"),
        Err(diagnostics) => diagnostics
            .iter()
            .map(|d| d.render().to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// Each program is rejected with `message` at `line:col` of main.bs.
fn assert_errors_at(cases: &[(&str, &str, &str)]) {
    for (program, message, at) in cases {
        let text = errors(program);
        assert!(
            text.contains(&format!("error: {message}")),
            "{program}: {text}"
        );
        assert!(
            text.contains(&format!("--> main.bs:{at}")),
            "{program}: {text}"
        );
    }
}

fn compiles(text: &str) -> ir::Program {
    let file = source(text);
    match check(&file, &led_exports()) {
        Ok(program) => program,
        Err(diagnostics) => panic!(
            "unexpected errors:\n{}",
            diagnostics
                .iter()
                .map(|d| d.render().to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

#[test]
fn rejects_unsupported_statements_with_location_and_caret() {
    let text = errors("let x: integer = 1\nswitch (x) { case 1: break }\n");
    assert!(
        text.contains("error: `switch` is not supported yet"),
        "{text}"
    );
    assert!(text.contains("--> main.bs:2:1"), "{text}");
    assert!(
        text.contains("2 | switch (x) { case 1: break }\n  | ^^^^^^"),
        "{text}"
    );
}

#[test]
fn reports_syntax_errors_as_diagnostics() {
    let text = errors("let x = 1\nlet y = (x + ;\n");
    assert!(text.contains("--> main.bs:2:"), "{text}");
    assert!(text.starts_with("error: "), "{text}");
}

#[test]
fn rejects_every_unsupported_construct_without_panicking() {
    let cases = [
        ("abstract class A {}", "`abstract` classes"),
        ("class A { get x() { return 1 } }", "getters and setters"),
        ("var x = 1", "`var`"),
        ("let s: string | integer = 'a'", "a union of two types"),
        ("let s: integer | null = 1", "`integer` cannot be null"),
        (
            "let s = 'a'\nlet n = s.size",
            "string has no property `size`",
        ),
        ("let s = 'a'\nlet n = s.trim()", "the string method `trim`"),
        (
            "let n = 1\nlet m = n.length",
            "integer has no property `length`",
        ),
        ("let o = {x: 1}", "object literals"),
        ("function f(x: integer = 1) {}", "default parameter"),
        ("function f(...x: integer[]) {}", "rest parameters"),
        ("for (const x of y) {}", "`for … of`"),
        ("try { } catch (e) { }", "`try`"),
        ("throw 1", "`throw`"),
        ("async function f() {}", "`async`"),
        ("function f() { function g() {} }", "nested function"),
        ("let x = `a${1}`", "template strings"),
        ("console.log(`a`)", "template strings"),
        ("async function f() {}\nlet x = await f()", "`await`"),
        ("let x = 1\nx = 1, 2", "the comma operator"),
        ("type T = integer", "type aliases"),
        ("interface I {}", "interfaces"),
        ("let x = Math.E", "the property `E`"),
        ("let f = function () {}", "function expressions"),
        ("let x = 1\nlet y = x!", "this expression"),
        ("let x = Math.random()", "calling `Math.random`"),
        ("export { f }\nfunction f() {}", "`export { … }`"),
        ("import f from './util'", "cannot find the script"),
        (
            "let x = 1\nfoo`a${x}`",
            "tagged templates other than `code`",
        ),
        ("outer: while (true) { break outer }", "a labeled statement"),
    ];
    for (program, expected) in cases {
        let text = errors(program);
        assert!(text.contains(expected), "{program}: {text}");
        assert!(text.contains("--> main.bs:"), "{program}: {text}");
    }
}

#[test]
fn an_unsupported_top_level_declaration_is_reported_once() {
    for (program, expected) in [
        ("var v = 1", "`var` is not supported yet"),
        ("let [a, b] = 5", "destructuring is not supported yet"),
    ] {
        let text = errors(program);
        assert_eq!(text.matches(expected).count(), 1, "{program}: {text}");
    }
}

#[test]
fn a_number_literal_with_an_exponent_is_a_float() {
    let program = compiles(
        "let a = 1e3\nlet b = 2E2\nlet c = 1.5e1\nlet d = 1e20\nlet e = 1000\nlet f = 0x1e",
    );
    let types: Vec<_> = program.globals.iter().map(|g| g.ty).collect();
    use ir::Ty::{Float, Integer};
    assert_eq!(types, [Float, Float, Float, Float, Integer, Integer]);
}

#[test]
fn returned_integers_and_floats_infer_a_float() {
    let program =
        compiles("function f(a: integer) { if (a > 0) { return a } return 0.5 }\nlet x = f(1)");
    let f = program.function("f").unwrap();
    assert_eq!(f.signature.ret, ir::Ty::Float);
    assert_eq!(program.globals[0].ty, ir::Ty::Float);
    // The integer return, checked before the float one, was converted.
    let ir::StmtKind::If { then, .. } = &f.body[0].kind else {
        panic!("{:?}", f.body)
    };
    let ir::StmtKind::Return(Some(value)) = &then[0].kind else {
        panic!("{then:?}")
    };
    assert_eq!(value.ty, ir::Ty::Float);
    assert!(matches!(value.kind, ir::ExprKind::IntToFloat(_)));
    let code = patch_with(&program, &led_exports(), 1);
    if let Err(errors) = compile_for_device(&code) {
        panic!("rustc rejected the generated code:\n{errors}\n--- code ---\n{code}");
    }
}

#[test]
fn a_function_that_returns_no_value_may_call_itself_without_annotation() {
    let program = compiles(
        "function countdown(n: integer) { if (n == 0) return\n countdown(n - 1) }\n\
         function walk(n: integer) { if (n > 0) { walk(n - 1) } }\n\
         function later() { setTimeout(later, 40) }\n\
         countdown(3)\nwalk(3)\nsetTimeout(later, 50)",
    );
    for name in ["countdown", "walk", "later"] {
        assert_eq!(
            program.function(name).unwrap().signature.ret,
            ir::Ty::Void,
            "{name}"
        );
    }
    // A returned value needed before its type is known makes it `any`.
    let program = compiles("function f(n: integer) { if (n == 0) return 0\n return f(n - 1) }");
    assert_eq!(program.function("f").unwrap().signature.ret, ir::Ty::Any);
}

#[test]
fn a_timer_callback_may_use_the_id_of_its_own_timer() {
    // A named callback is checked later, when its globals have their types.
    compiles(
        "let ticks = 0\nfunction tick() { ticks++\n if (ticks == 3) clearInterval(id) }\nconst id = setInterval(tick, 10)",
    );
    // An arrow is checked within the initializer: the id is an integer already.
    let program = compiles(
        "let n = 0\nconst id = setInterval(() => { n++\n if (n == 2) clearInterval(id) }, 5)",
    );
    assert_eq!(program.globals[1].ty, ir::Ty::Integer);
    // A callback with parameters is still refused.
    let text =
        errors("const id = setInterval(f, 10)\nfunction f(a: integer) { clearInterval(id) }");
    assert!(
        text.contains("a timer calls `f` without arguments, but it takes 1"),
        "{text}"
    );
}

#[test]
fn type_errors_name_the_types() {
    let cases = [
        (
            "let x: integer = 1.5",
            "expected a value of type integer, found float",
        ),
        (
            "let b: boolean = 1",
            "expected a value of type boolean, found integer",
        ),
        (
            "let x = 1 % 2.0",
            "`%` cannot be applied to integer and float",
        ),
        (
            "let x = 1 << 1.0",
            "`<<` cannot be applied to integer and float",
        ),
        (
            "let x = true + 1",
            "`+` cannot be applied to boolean and integer",
        ),
        (
            "let x = true == 1",
            "`==` cannot be applied to boolean and integer",
        ),
        (
            "const c = 1\nc = 2",
            "cannot assign to `c`: it is a constant",
        ),
        (
            "function f(a: integer) {}\nf()",
            "`f` takes 1 argument, but 0 were given",
        ),
        (
            "function f(a: integer) {}\nf(true)",
            "expected a value of type integer, found boolean",
        ),
        (
            "led_set(1)",
            "expected a value of type boolean, found integer",
        ),
        ("let y = nope + 1", "cannot find `nope`"),
        ("nope()", "cannot find function `nope`"),
        (
            "function f(): integer { return }",
            "must return a value of type integer",
        ),
        (
            "function f() { return 1 }\nfunction g(): void { return 1 }",
            "returns nothing",
        ),
        ("break", "`break` outside a loop"),
        ("return 1", "can only be used within a function"),
        (
            "function f(a: integer) {}\nsetInterval(f, 10)",
            "a timer calls `f` without arguments",
        ),
        ("let x = 1\nlet x = 2", "declared twice"),
        (
            "function f() { let a = 1; let a = 2 }",
            "already declared in this block",
        ),
        ("let x = led_set(true)", "has no value (void)"),
        (
            "import { write } from 'gpio'",
            "module 'gpio' has no export named `write`",
        ),
        ("import { x } from 'spi'", "no module named 'spi'"),
    ];
    for (program, expected) in cases {
        let text = errors(program);
        assert!(text.contains(expected), "{program}: {text}");
    }
}

#[test]
fn arithmetic_follows_the_typing_rules() {
    let program = compiles(
        "let a = 7 / 2\nlet b = 7 / 2.0\nlet c = 2 ** 10\nlet d = 1.5 ** 2\nlet e = 1 < 2.5\nlet f = 3 & 5",
    );
    let types: Vec<_> = program
        .globals
        .iter()
        .map(|g| (g.name.as_str(), g.ty))
        .collect();
    assert_eq!(
        types,
        [
            ("a", ir::Ty::Integer),
            ("b", ir::Ty::Float),
            ("c", ir::Ty::Integer),
            ("d", ir::Ty::Float),
            ("e", ir::Ty::Boolean),
            ("f", ir::Ty::Integer),
        ]
    );
}

#[test]
fn infers_return_types_lazily_across_functions() {
    let program = compiles(
        "let x = twice(2)\nfunction twice(n: integer) { return half(n) * 4 }\nfunction half(n: integer) { return n / 2.0 }",
    );
    assert_eq!(program.globals[0].ty, ir::Ty::Float);
    assert_eq!(
        program.function("twice").unwrap().signature.ret,
        ir::Ty::Float
    );
    // Needed before it is known: inference fails, and it is `any`.
    let program = compiles("function f(n: integer) { if (n < 1) return 0\n return f(n - 1) }");
    assert_eq!(program.function("f").unwrap().signature.ret, ir::Ty::Any);
}

#[test]
fn arrows_become_functions_and_references_are_recorded() {
    let program = compiles(
        "let n = 0\nfunction tick() { n++ }\nfunction start() { setInterval(() => { tick(); led_set(true) }, 100) }\nstart()",
    );
    // An arrow is named by its place and by a hash of its captures and type.
    let names: Vec<_> = program.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names.len(), 3);
    assert_eq!(names[..2], ["tick", "start"]);
    let arrow = names[2];
    assert!(arrow.starts_with("start$0#"), "{arrow}");
    assert_eq!(program.function("start").unwrap().references, [arrow]);
    assert_eq!(program.function(arrow).unwrap().references, ["tick"]);
}

#[test]
fn fingerprints_change_only_with_the_edited_function() {
    let before = compiles("let n = 0\nfunction a() { n++ }\nfunction b() { n-- }");
    let after = compiles("let n = 0\nfunction a() { n += 2 }\nfunction b() { n-- }");
    let fp = |p: &ir::Program, f: &str| p.function(f).unwrap().fingerprint;
    assert_ne!(fp(&before, "a"), fp(&after, "a"));
    assert_eq!(fp(&before, "b"), fp(&after, "b"));
    assert_eq!(before.top_level_fingerprint, after.top_level_fingerprint);
    let restarted = compiles("let n = 1\nfunction a() { n++ }\nfunction b() { n-- }");
    assert_ne!(
        before.top_level_fingerprint,
        restarted.top_level_fingerprint
    );
}

/// A program exercising every construct the code generator emits.
const EVERYTHING: &str = r#"
import type { integer, float } from './bluescript'
import { read } from 'gpio'
let count: integer = 0
let ratio = 0.5
let on = false
const limit = 0x10
function fib(n: integer): integer {
  if (n < 2) { return n } else { return fib(n - 1) + fib(n - 2) }
}
function mix(a: integer, b: float): float {
  let x = a * 2 + b / 3
  x += 1
  x++
  --x
  let s = -a
  s = ~s ^ (a | 3) & 7
  s = (s << 2) >> 1 >>> 1
  let t = a % 3 == 0 ? 1.5 : a
  let u = a && 5 || 0
  let v = b && 2.5
  return x + t + u + v + (a ** 2) + read(1)
}
function loops(): integer {
  let total = 0
  for (let i = 0; i < 10; i++) {
    if (i == 3) continue
    if (i > 8) break
    total += i
  }
  let j = 0
  while (j < 5) { j = j + 1; if (!j) { break } }
  do { j-- } while (j > 0 && !on)
  for (;;) { break }
  return total
}
function tick() {
  count++
  on = !on
  led_set(on)
  console.log("tick", count, "ratio " + ratio + "!", on, time.now() > 1.0)
  console.error("e")
}
print(fib(10))
print("mix: " + mix(3, 2.5))
let id = setInterval(tick, 100)
setTimeout(() => { clearInterval(id); print(loops()) }, 1000)
time.delay(1)
enum Mode { Off = 0, Slow = -1, Fast = 0x10 }
let mode: Mode = Mode.Fast
function pick(m: Mode): integer { return m == Mode.Off ? Math.abs(-3) : Math.max(1, m, 7) }
function geometry(x: float) {
  return Math.sqrt(x) + Math.abs(x) + Math.floor(x) + Math.ceil(x) + Math.round(x)
    + Math.min(x, 1) + Math.max(2, x, 3.5) + Math.sin(x) + Math.cos(x) + Math.tan(x)
    + Math.atan2(x, 1) + Math.exp(x) + Math.log(x) + Math.pow(x, 2) + Math.PI
    + Math.min(3, 4) + Math.abs(-2) + Math.min()
}
print(typeof mode, typeof ratio, "is " + typeof pick(mode), geometry(2), typeof "s", -mode)
"#;

fn slots_for(program: &ir::Program) -> SlotMap {
    super::codegen::image_slots(program)
}

/// The image module of a program without drivers.
fn image_code(program: &ir::Program, calls: Calls) -> String {
    generate_image(program, &slots_for(program), &[], 1, "main.bs", calls)
}

#[test]
fn generates_an_image_module_with_slots_globals_and_exports() {
    let program = compiles(EVERYTHING);
    let slots = slots_for(&program);
    let code = generate_image(
        &program,
        &slots,
        &led_exports(),
        0xabcd,
        "scripts/main.bs",
        Calls::Slots,
    );
    assert!(code.contains("pub static mut __bs_g_count: i32 = 0;"));
    assert!(code.contains("pub unsafe extern \"C\" fn __bs_fn_fib(mut v_n: i32) -> i32"));
    assert!(code.contains("build_id: 0x0000abcd"));
    assert!(
        code.contains("bs_timer_start(3, (100_i32), true)"),
        "{code}"
    );
    // Calls between script functions go through the slot table.
    assert!(code.contains("unsafe extern \"C\" fn(i32) -> i32>(slot(0))"));
    assert!(code.contains("__bs_export_read((1_i32))"));
}

/// Compiles generated code with rustc for the device, as a patch is, and
/// returns the symbols the object needs from elsewhere.
fn compile_for_device(code: &str) -> Result<Vec<String>, String> {
    use object::{Object, ObjectSymbol};
    let dir = tempfile::tempdir().unwrap();
    let (source, object) = (dir.path().join("patch.rs"), dir.path().join("patch.o"));
    std::fs::write(&source, code).unwrap();
    // The Cortex-M4F of the `qemu-m4` board.
    let output = std::process::Command::new("rustc")
        .args(super::codegen::PATCH_RUSTC_OPTIONS)
        .arg("--target=thumbv7em-none-eabihf")
        .arg(&source)
        .arg("-o")
        .arg(&object)
        .output()
        .expect("rustc runs");
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let data = std::fs::read(&object).unwrap();
    let file = object::File::parse(&*data).unwrap();
    Ok(file
        .symbols()
        .filter(|s| s.is_undefined() && !s.name().unwrap_or("").is_empty())
        .map(|s| s.name().unwrap().to_string())
        .collect())
}

#[test]
fn generated_patches_compile_for_the_device() {
    let program = compiles(EVERYTHING);
    let code = patch_with(&program, &led_exports(), 7);
    assert!(code.contains("fn __bs_fn_tick__p7()"));
    let needed = compile_for_device(&code).unwrap_or_else(|errors| {
        panic!("rustc rejected the generated patch:\n{errors}\n--- code ---\n{code}")
    });
    // A patch links against the running image: it may need the runtime, the
    // drivers and the globals, and nothing of `core` that the image might lack.
    let foreign: Vec<&String> = needed
        .iter()
        .filter(|s| !(s.starts_with("bs_") || s.starts_with("__bs_")))
        .collect();
    assert!(foreign.is_empty(), "the patch needs {foreign:?}");
}

#[test]
fn arrays_that_never_leave_their_function_live_in_its_frame() {
    let program = compiles(
        r#"
function local(k: integer): integer {
  const counts = new Array<integer>(4, 1)
  counts[k & 3]++
  return counts[0] + counts.length
}
function passed(k: integer): integer {
  const counts = new Array<integer>(4, 1)
  return local(counts[k & 3]) + sum(counts)
}
function sum(xs: integer[]): integer {
  return xs[0]
}
function large(): integer {
  const big = new Array<integer>(100, 0)
  return big.length
}
print(local(1), passed(2), large())
"#,
    );
    let code = image_code(&program, Calls::Slots);
    let body = |name: &str| {
        let start = code.find(&format!("fn __bs_fn_{name}(")).unwrap();
        let end = start + code[start..].find("\n} }").unwrap();
        code[start..end].to_string()
    };
    assert!(body("local").contains("StackObject([0u32; 6])"), "{code}");
    assert!(!body("local").contains("bs_array_new"), "{code}");
    // Passed to a function, or too large for a frame: in the heap.
    assert!(body("passed").contains("bs_array_new"), "{code}");
    assert!(body("large").contains("bs_array_new"), "{code}");
    let patch = patch_with(&program, &[], 7);
    assert!(patch.contains("StackObject([0u32; 6])"));
    compile_for_device(&patch).unwrap_or_else(|errors| panic!("{errors}\n{patch}"));
}

#[test]
fn integer_powers_are_exact_and_wrap() {
    let program = compiles("let a = 3 ** 19\nlet b = 2 ** 31\nlet c = 2 ** -1\nlet d = 2.0 ** 0.5");
    assert_eq!(program.globals[0].ty, ir::Ty::Integer);
    assert_eq!(program.globals[3].ty, ir::Ty::Float);
    let code = generate_image(&program, &SlotMap::new(), &[], 1, "main.bs", Calls::Slots);
    assert!(code.contains("pow_i32((3_i32), (19_i32))"), "{code}");
    assert!(code.contains("bs_math_pow((2.0_f32), (0.5_f32))"), "{code}");
}

/// The compiler never panics on user input: every prefix of real programs
/// (cut anywhere, even inside a token) gives a result or diagnostics.
#[test]
fn never_panics_on_truncated_programs() {
    fn collect(dir: &Path, programs: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                // `reject/`, and the files of programs of several files.
                collect(&path, programs);
            } else if path.extension().is_some_and(|e| e == "bs" || e == "ts") {
                programs.push(std::fs::read_to_string(path).unwrap());
            }
        }
    }
    let conformance = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance");
    let mut programs = vec![EVERYTHING.to_string()];
    collect(&conformance, &mut programs);
    for program in &programs {
        for (cut, _) in program.char_indices() {
            let file = source(&program[..cut]);
            match check(&file, &led_exports()) {
                Ok(program) => {
                    let slots = slots_for(&program);
                    generate_image(&program, &slots, &led_exports(), 1, "main.bs", Calls::Slots);
                }
                Err(diagnostics) => {
                    for diagnostic in diagnostics {
                        // Rendering must not panic either, wherever the span points.
                        let _ = diagnostic.render().to_string();
                    }
                }
            }
        }
    }
}

// ----- modules -----------------------------------------------------------

/// A program of several files in `scripts/`: the main script and `others`.
fn check_files(main: &str, others: &[(&str, &str)]) -> Result<ir::Program, String> {
    let files: std::collections::HashMap<String, String> = others
        .iter()
        .map(|(name, text)| (format!("scripts/{name}"), text.to_string()))
        .collect();
    let scripts = Scripts {
        main: SourceFile {
            name: "scripts/main.bs".into(),
            text: main.into(),
        },
        dir: "scripts".into(),
        loader: &files,
    };
    check_scripts(&scripts, &led_exports()).map_err(|diagnostics| {
        diagnostics
            .iter()
            .map(|d| d.render().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn files_compile(main: &str, others: &[(&str, &str)]) -> ir::Program {
    check_files(main, others).unwrap_or_else(|errors| panic!("unexpected errors:\n{errors}"))
}

fn files_error(main: &str, others: &[(&str, &str)]) -> String {
    match check_files(main, others) {
        Ok(_) => panic!("expected a compile error for:\n{main}"),
        Err(errors) => errors,
    }
}

const UTIL: &str = "export enum Level { Low = 1, High = 2 }
export let calls = 0
let secret = 7
export function helper(n: integer): integer {
  calls++
  return n * secret
}
export function tick() { print(calls) }
print(\"util loaded\")
";

#[test]
fn imported_items_are_qualified_by_their_module_and_its_top_level_runs_first() {
    let program = files_compile(
        "import { helper as h, calls, Level, tick } from './util'\n\
         function helper() { return h(2) + calls }\n\
         let level: Level = Level.High\n\
         print(helper(), level)\nsetInterval(tick, 10)\n",
        &[("util.bs", UTIL)],
    );
    let functions: Vec<&str> = program.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(functions, ["util.bs:helper", "util.bs:tick", "helper"]);
    let globals: Vec<&str> = program.globals.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(globals, ["util.bs:calls", "util.bs:secret", "level"]);
    assert_eq!(
        program.function("helper").unwrap().references,
        ["util.bs:helper"]
    );
    // util's top level (two initializers and a print) runs before main's.
    assert!(
        matches!(&program.main[2].kind, ir::StmtKind::Print { .. }),
        "{:?}",
        program.main
    );
    assert!(matches!(
        &program.main[3].kind,
        ir::StmtKind::Expr(ir::Expr { kind: ir::ExprKind::Assign(ir::Place::Global(g), _), .. }) if g == "level"
    ));
    // Run-time errors and declarations name the file the code is in.
    let helper = program.function("util.bs:helper").unwrap();
    assert_eq!(helper.location, "scripts/util.bs:4:8");
    // Generated symbols of the two `helper`s differ, and the code compiles.
    let slots = slots_for(&program);
    let code = generate_image(
        &program,
        &slots,
        &led_exports(),
        1,
        "scripts/main.bs",
        Calls::Slots,
    );
    assert!(
        code.contains("fn __bs_fn_util_u2e_bs_u3a_helper(mut v_n: i32) -> i32"),
        "{code}"
    );
    assert!(code.contains("fn __bs_fn_helper() -> i32"), "{code}");
    assert!(
        code.contains("static mut __bs_g_util_u2e_bs_u3a_calls: i32"),
        "{code}"
    );
    let patch = patch_with(&program, &led_exports(), 1);
    if let Err(errors) = compile_for_device(&patch) {
        panic!("rustc rejected the generated code:\n{errors}\n--- code ---\n{patch}");
    }
}

#[test]
fn a_module_imported_twice_runs_once_and_paths_resolve_relative_to_the_importer() {
    let program = files_compile(
        "import { a } from './lib/a.ts'\nimport { b } from './b'\nprint(a() + b())",
        &[
            (
                "lib/a.ts",
                "import { base } from '../base.bs'\nexport function a() { return base + 1 }",
            ),
            (
                "b.bs",
                "import { base } from './base'\nexport function b() { return base + 2 }",
            ),
            ("base.bs", "export const base = 40\nprint(\"base\")"),
        ],
    );
    let prints = program
        .main
        .iter()
        .filter(|s| matches!(s.kind, ir::StmtKind::Print { .. }))
        .count();
    assert_eq!(prints, 2, "{:?}", program.main);
    let names: Vec<&str> = program.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["lib/a.ts:a", "b.bs:b"]);
}

#[test]
fn module_errors_are_reported_in_the_right_file() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: [Case; 11] = [
        (
            "import { helper } from './util'\nprint(helper(true))",
            &[("util.bs", UTIL)],
            &["error: expected a value of type integer, found boolean", "--> scripts/main.bs:2:14"],
        ),
        (
            "import { tick } from './util'\ntick()",
            &[("util.bs", "export function tick() {\n  let x: integer = 1.5\n}")],
            &["error: expected a value of type integer, found float", "--> scripts/util.bs:2:20"],
        ),
        (
            "import { secret } from './util'",
            &[("util.bs", UTIL)],
            &[
                "error: `secret` is not exported by `scripts/util.bs`",
                "--> scripts/main.bs:1:10",
                "help: mark its declaration in `scripts/util.bs` with `export`",
            ],
        ),
        (
            // A failed import is reported once, not at every use.
            "import { secret } from './util'\nprint(secret(), secret + 1)",
            &[("util.bs", UTIL)],
            &["error: `secret` is not exported by `scripts/util.bs`\n --> scripts/main.bs:1:10"],
        ),
        (
            "\nimport { nope } from './util.bs'",
            &[("util.bs", UTIL)],
            &["error: `scripts/util.bs` has no export named `nope`", "--> scripts/main.bs:2:10"],
        ),
        (
            "import { helper } from './util'\nimport { helper } from './util'",
            &[("util.bs", UTIL)],
            &["error: `helper` is already imported in this file", "--> scripts/main.bs:2:10"],
        ),
        (
            "import { helper } from './util'\nfunction helper() {}",
            &[("util.bs", UTIL)],
            &["error: `helper` is already imported in this file", "--> scripts/main.bs:2:10"],
        ),
        (
            "import { calls } from './util'\ncalls = 5",
            &[("util.bs", UTIL)],
            &[
                "error: cannot assign to `calls`: it is imported (only its own module may assign it)",
                "--> scripts/main.bs:2:1",
            ],
        ),
        (
            "import { x } from './missing'",
            &[],
            &[
                "error: cannot find the script './missing' (tried `scripts/missing.bs`, `scripts/missing.ts`)",
                "--> scripts/main.bs:1:19",
            ],
        ),
        (
            "import { a } from './a'",
            &[("a.bs", "import { b } from './b'\nexport let a = 1"), ("b.bs", "import { a } from './a'\nexport let b = 1")],
            &[
                "error: import cycle: scripts/a.bs → scripts/b.bs → scripts/a.bs",
                "--> scripts/b.bs:1:19",
            ],
        ),
        (
            "import { f } from './util'\nf()",
            &[("util.bs", "export function f() {}\nfunction f() {}")],
            &["error: function `f` is declared twice", "--> scripts/util.bs:2:10"],
        ),
    ];
    for (main, others, expected) in cases {
        let text = files_error(main, others);
        for line in expected {
            assert!(text.contains(line), "{main}: expected `{line}` in:\n{text}");
        }
        assert_eq!(
            text.matches("error: ").count(),
            1,
            "{main}: one error expected:\n{text}"
        );
    }
}

#[test]
fn an_edit_in_an_imported_file_changes_only_that_function() {
    let main = "import { helper, tick } from './util'\nprint(helper(1))\nsetInterval(tick, 10)";
    let before = files_compile(main, &[("util.bs", UTIL)]);
    let edited = UTIL.replace("return n * secret", "return n * secret * 2");
    let after = files_compile(main, &[("util.bs", &edited)]);
    let fp = |p: &ir::Program, f: &str| p.function(f).unwrap().fingerprint;
    assert_ne!(fp(&before, "util.bs:helper"), fp(&after, "util.bs:helper"));
    assert_eq!(fp(&before, "util.bs:tick"), fp(&after, "util.bs:tick"));
    assert_eq!(before.top_level_fingerprint, after.top_level_fingerprint);
    // A change of an imported module's globals or enums restarts the program.
    for edit in [
        UTIL.replace("let secret = 7", "let secret = 8"),
        UTIL.replace("High = 2", "High = 3"),
    ] {
        let restarted = files_compile(main, &[("util.bs", &edit)]);
        assert_ne!(
            before.top_level_fingerprint,
            restarted.top_level_fingerprint
        );
    }
}

#[test]
fn names_that_would_share_a_symbol_are_refused() {
    let text = errors("function f_S0() {}\nfunction f$0() {}");
    assert!(
        text.contains("`f$0` and `f_S0` would have the same symbol `__bs_fn_f_S0`"),
        "{text}"
    );
    // A lifted arrow avoids the name of a function.
    let program = compiles("function main$0() {}\nsetTimeout(() => {}, 1)");
    let names: Vec<&str> = program.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names[0], "main$0");
    assert!(names[1].starts_with("main$1#"), "{names:?}");
}

// ----- enums -------------------------------------------------------------

#[test]
fn enum_members_are_integer_constants_of_the_enum_type() {
    let program = compiles(
        "enum Color { Red = -1, Green = 0, Blue = 1 }\n\
         let c = Color.Red\nlet i: integer = Color.Blue\nlet f: float = Color.Green\n\
         let n = c + 1\nlet same = c == Color.Red\n\
         function next(c: Color): Color { return c == Color.Red ? Color.Green : Color.Blue }\n\
         function either(b: boolean) { if (b) { return Color.Red } return 5 }\n\
         c = next(c)\nprint(c, -2147483648 == Color.Red)",
    );
    let types: Vec<String> = program.globals.iter().map(|g| g.ty.to_string()).collect();
    assert_eq!(types, ["Color", "integer", "float", "integer", "boolean"]);
    // An enum and an integer returned: integer in common.
    assert_eq!(
        program.function("either").unwrap().signature.ret,
        ir::Ty::Integer
    );
    let code = image_code(&program, Calls::Slots);
    assert!(code.contains("__bs_g_c = (-1_i32);"), "{code}");
    assert!(code.contains("bs_print_int(__bs_g_c);"), "{code}");
}

#[test]
fn enums_are_checked() {
    let cases = [
        (
            "enum Color { Red = -1 }\nlet c: Color = 1",
            "expected a value of type Color, found integer",
            "2:16",
        ),
        (
            "enum Color { Red = -1 }\nlet c = Color.Red\nc = 0",
            "expected a value of type Color, found integer",
            "3:5",
        ),
        (
            "enum Color { Red = -1 }\nlet c = Color.Red\nc++",
            "`++` needs an integer or float, found Color",
            "3:1",
        ),
        (
            "enum Color { Red = -1 }\nlet c = Color.Red\nc += 1",
            "expected a value of type Color, found integer",
            "3:1",
        ),
        (
            "enum Color { Red = -1 }\nlet c = 1 as Color",
            "expected a value of type Color, found integer",
            "2:9",
        ),
        (
            "enum Color { Red = -1 }\nprint(Color.Purple)",
            "the enum `Color` has no member `Purple`",
            "2:13",
        ),
        (
            "enum Color { Red = -1, Green }",
            "the enum member `Color.Green` has no value",
            "1:24",
        ),
        (
            "enum Color { Red = 0.5 }",
            "the value of an enum member must be an integer, found float",
            "1:20",
        ),
        (
            "enum Flags { A = 1 << 2 }",
            "an enum member's value other than an integer literal is not supported yet",
            "1:18",
        ),
        (
            "enum Color { Red = 1, Red = 2 }",
            "`Color.Red` is declared twice",
            "1:23",
        ),
        (
            "function f() {\n  enum E { A = 1 }\n}",
            "an enum is declared only at the top level",
            "2:3",
        ),
        (
            "enum Color { Red = 1 }\nlet x = Color",
            "`Color` is an enum, not a value",
            "2:9",
        ),
        (
            "enum A { X = 1 }\nenum B { Y = 1 }\nfunction f(a: A) {}\nf(B.Y)",
            "expected a value of type A, found B",
            "4:3",
        ),
        (
            "enum Color { Red = 1 }\nfunction Color() {}",
            "`Color` is declared twice in this file",
            "2:10",
        ),
    ];
    assert_errors_at(&cases);
}

// ----- Math --------------------------------------------------------------

#[test]
fn math_takes_and_gives_floats_but_abs_min_max_keep_integers() {
    let program = compiles(
        "let a = Math.sqrt(2)\nlet b = Math.abs(-3)\nlet c = Math.abs(-2.5)\n\
         let d = Math.min(1, 2)\nlet e = Math.min(1, 2.5)\nlet f = Math.max()\n\
         let g = Math.floor(1.5)\nlet h = Math.pow(2, 10)\nlet i = Math.PI\nlet j = Math.max(4, 1, 9)",
    );
    let types: Vec<String> = program.globals.iter().map(|g| g.ty.to_string()).collect();
    assert_eq!(
        types,
        [
            "float", "integer", "float", "integer", "float", "float", "float", "float", "float",
            "integer"
        ]
    );
    let code = image_code(&program, Calls::Slots);
    for expected in [
        "bs_math_sqrt(((2_i32) as f32))",
        "(3_i32).wrapping_neg().wrapping_abs()",
        "bs_math_abs((-(2.5_f32)))",
        "core::cmp::min::<i32>((1_i32), (2_i32))",
        "bs_math_min(((1_i32) as f32), (2.5_f32))",
        "f32::NEG_INFINITY",
        "bs_math_pow(",
        "(3.1415927_f32)",
        "core::cmp::max::<i32>(core::cmp::max::<i32>((4_i32), (1_i32)), (9_i32))",
    ] {
        assert!(code.contains(expected), "{expected} in:\n{code}");
    }
}

#[test]
fn math_arguments_are_checked() {
    let cases = [
        (
            "print(Math.sqrt())",
            "`Math.sqrt` takes 1 argument, but 0 were given",
            "1:7",
        ),
        (
            "print(Math.atan2(1))",
            "`Math.atan2` takes 2 arguments, but 1 was given",
            "1:7",
        ),
        (
            "print(Math.abs(true))",
            "`Math.abs` needs an integer or float, found boolean",
            "1:16",
        ),
        (
            "let x: integer = Math.floor(2.5)",
            "expected a value of type integer, found float",
            "1:18",
        ),
        (
            "print(Math.random())",
            "calling `Math.random` is not supported yet",
            "1:7",
        ),
    ];
    assert_errors_at(&cases);
    // A variable named `Math` is no longer the built-in.
    let text = errors("let Math = 1\nprint(Math.sqrt(4))");
    assert!(
        text.contains("calling `Math.sqrt` is not supported yet"),
        "{text}"
    );
}

// ----- typeof ------------------------------------------------------------

#[test]
fn typeof_prints_the_static_type_name() {
    let program = compiles(
        "enum Color { Red = 1 }\nlet n = 1\nfunction f() { n++ }\n\
         print(typeof n, typeof 1.5, typeof true, typeof Color.Red, typeof f(), typeof 'a', typeof typeof n)\n\
         console.log(\"type: \" + typeof n + \"!\", typeof n + 1)",
    );
    let ir::StmtKind::Print { pieces, .. } = &program.main[1].kind else {
        panic!("{:?}", program.main)
    };
    let names: Vec<&str> = pieces
        .iter()
        .filter_map(|piece| match piece {
            ir::PrintPiece::Value(ir::Expr {
                kind: ir::ExprKind::TypeOf(_, name),
                ..
            }) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        names,
        [
            "integer",
            "float",
            "boolean",
            "Color",
            "undefined",
            "string",
            "string"
        ]
    );
    let code = image_code(&program, Calls::Slots);
    assert!(
        code.contains("print_text({ let _ = __bs_g_n; \"integer\" });"),
        "{code}"
    );
    // `typeof f()` still calls f.
    assert!(code.contains("let _ = (core::mem::transmute"), "{code}");
}

#[test]
fn typeof_gives_a_string_value() {
    let program = compiles(
        "let x = 1\nlet t = typeof x\nprint(typeof x == 'integer')\nfunction f() { return typeof x }",
    );
    assert_eq!(program.function("f").unwrap().signature.ret, ir::Ty::String);
    let types: Vec<String> = program.globals.iter().map(|g| g.ty.to_string()).collect();
    assert_eq!(types, ["integer", "string"]);
}

const STRINGS: &str = r#"
let greeting: string = "héllo"
let empty: string
const n = 42
let s = "n = " + n
s += 1.5
s = true + "" + s + (n > 1)
function describe(x: string, k: integer): string {
  let parts = x.substring(1, 3) + x.substring(k) + "|" + x.length
  if (x.startsWith("h") && !x.endsWith("z") || x.indexOf("l") >= 0) {
    parts += String.fromCharCode(x.charCodeAt(0) + k)
  }
  return x < parts ? parts : x + (x === parts) + (x != "a") + (x >= "b")
}
function pick(b: boolean): string { return (b ? "yes" : "") || "no" }
const folded = "lit" + "eral" + 7
print(describe(greeting, 2), pick(false), typeof greeting, "lit" + "eral")
console.log("a" + s, s.length, empty)
if (s) { print(s) }
"#;

#[test]
fn strings_are_values() {
    let program = compiles(STRINGS);
    let types: Vec<String> = program.globals.iter().map(|g| g.ty.to_string()).collect();
    assert_eq!(types, ["string", "string", "integer", "string", "string"]);
    let describe = program.function("describe").unwrap();
    assert_eq!(
        describe.signature.to_string(),
        "(string, integer) => string"
    );
    let code = image_code(&program, Calls::Slots);
    // Globals holding strings are the collector's roots, registered first.
    assert!(
        code.contains(
            "static ROOTS: Roots = Roots([&raw const __bs_g_greeting as *const u32, \
             &raw const __bs_g_empty as *const u32, &raw const __bs_g_s as *const u32, \
             &raw const __bs_g_folded as *const u32]);"
        ),
        "{code}"
    );
    assert!(
        code.contains("fn __bs_main() { unsafe {\n    bs_gc_roots(ROOTS.0.as_ptr(), 4);"),
        "{code}"
    );
    // A literal is a static string object: byte length, UTF-16 length, UTF-8.
    assert!(
        code.contains("static S: Str<6> = Str { header: unsafe { &raw const __bs_desc_string }, bytes: 6, units: 5, text: *b\"h\\xc3\\xa9llo\" }"),
        "{code}"
    );
    // Literals concatenate at compile time; printing keeps flattening.
    assert!(
        code.contains("bytes: 8, units: 8, text: *b\"literal7\""),
        "{code}"
    );
    assert!(
        code.contains("print_text(\"lit\");\n    print_text(\"eral\");"),
        "{code}"
    );
    assert!(code.contains("print_text(\"a\");"), "{code}");
    assert!(code.contains("bs_print_any(__bs_g_s);"), "{code}");
    // Run-time errors carry the script location.
    assert!(code.contains("\"main.bs:11:34\\u{0}\".as_ptr()"), "{code}");
    assert!(code.contains("bs_string_compare("), "{code}");
    assert!(code.contains("(!bs_string_equals("), "{code}");
}

#[test]
fn string_code_compiles_for_the_device() {
    let program = compiles(STRINGS);
    let code = patch_with(&program, &[], 3);
    let needed = compile_for_device(&code).unwrap_or_else(|errors| {
        panic!("rustc rejected the generated patch:\n{errors}\n--- code ---\n{code}")
    });
    let foreign: Vec<&String> = needed
        .iter()
        .filter(|s| !(s.starts_with("bs_") || s.starts_with("__bs_")))
        .collect();
    assert!(foreign.is_empty(), "the patch needs {foreign:?}");
    // A patch's literals are copied to the heap when used: a global may keep
    // one after compaction of the patch region overwrote the patch.
    assert!(needed.iter().any(|s| s == "bs_string_new"), "{needed:?}");
    assert!(!code.contains("static S: Str<"), "{code}");
}

#[test]
fn string_operations_are_typed() {
    for (program, expected) in [
        (
            "let s = 'a'\nlet x = s - 1",
            "`-` cannot be applied to string and integer",
        ),
        (
            "let s = 'a'\nlet b = s == 1",
            "`==` cannot be applied to string and integer",
        ),
        (
            "let s = 'a'\nlet b = s < 1.5",
            "`<` cannot be applied to string and float",
        ),
        (
            "let n = 1\nn += 'a'",
            "expected a value of type integer, found string",
        ),
        (
            "let s = 'a'\ns++",
            "`++` needs an integer or float, found string",
        ),
        (
            "let s = 'a'\nlet c = s.charCodeAt('0')",
            "expected a value of type integer, found string",
        ),
        (
            "let s = 'a'\nlet c = s.startsWith()",
            "`startsWith` takes 1 argument",
        ),
        (
            "let s = 'a'\nlet c = s.substring()",
            "`substring` takes 2 arguments",
        ),
        (
            "let s = 'a'\nlet c = -s",
            "`-` needs an integer or float, found string",
        ),
        ("function f() {}\nlet s = 'a' + f()", "no value (void)"),
        (
            "let c = String.fromCharCode(1.5)",
            "expected a value of type integer, found float",
        ),
    ] {
        let text = errors(program);
        assert!(text.contains(expected), "{program}: {text}");
    }
}

#[test]
fn release_images_call_script_functions_directly() {
    let program = compiles(EVERYTHING);
    let slots = slots_for(&program);
    let image = |calls| generate_image(&program, &slots, &led_exports(), 1, "main.bs", calls);
    let direct = image(Calls::Direct);
    assert!(
        direct.contains("__bs_fn_fib(v_n.wrapping_sub((1_i32)))"),
        "{direct}"
    );
    assert!(!direct.contains("unsafe extern \"C\" fn(i32) -> i32>(slot("));
    // Timers keep naming their callbacks by slot.
    assert!(direct.contains("bs_timer_start(3, "), "{direct}");
    assert!(image(Calls::Slots).contains("unsafe extern \"C\" fn(i32) -> i32>(slot(0))"));
}

// ----- classes and closures ------------------------------------------------

/// The calls of `function`'s body, as (callee, virtual) pairs.
#[test]
fn only_functions_that_may_allocate_keep_root_slots() {
    let program = compiles(
        "class Box {\n  v: integer\n  constructor(v: integer) { this.v = v }\n}\n\
         function sum(a: integer[]): integer { let t = 0; for (let i = 0; i < a.length; i++) { t += a[i] } return t }\n\
         function pair(a: Box, b: Box): integer { return a.v + b.v }\n\
         function make(n: integer): integer { return pair(new Box(n), new Box(n + 1)) }\n\
         function keep(b: Box): integer { const c = new Box(1); return b.v + c.v }\n\
         function early(b: Box): integer { const v = b.v; const c = new Box(v); return c.v }\n\
         function twice(a: Box, b: Box): integer { return pair(a, b) + pair(b, a) }\n\
         print(sum([1, 2]), make(1), keep(new Box(2)), early(new Box(3)), twice(new Box(4), new Box(5)))",
    );
    let code = image_code(&program, Calls::Slots);
    let body = |name: &str| function_text(&code, name);
    // Neither allocates nor calls: no frame, no cost.
    assert!(!body("sum").contains("RootFrame"), "{}", body("sum"));
    assert!(!body("pair").contains("RootFrame"), "{}", body("pair"));
    // The first box is kept while the second is allocated, and let go
    // before the call (the callee keeps its parameters).
    let make = body("make");
    assert!(make.contains("RootFrame::<1>"), "{make}");
    assert!(make.contains("roots_.set(0, 0); __bs_fn_pair("), "{make}");
    // `b` is read after the allocation: it has a slot; in `early` it is not.
    assert!(
        body("keep").contains("roots_.set(0, v_b);"),
        "{}",
        body("keep")
    );
    assert!(!body("early").contains("v_b)"), "{}", body("early"));
    // A call of a function that never allocates needs no roots, in a
    // development image too: the host records that `twice` counts on it
    // (calls.rs), and a patch that makes `pair` allocate recompiles `twice`.
    assert!(!body("twice").contains("RootFrame"), "{}", body("twice"));
    let release = image_code(&program, Calls::Direct);
    let twice = function_text(&release, "twice");
    assert!(!twice.contains("RootFrame"), "{twice}");
    let make = function_text(&release, "make");
    assert!(make.contains("RootFrame"), "{make}");
}

/// The generated Rust of script function `name` in `code`.
fn function_text(code: &str, name: &str) -> String {
    let start = code.find(&format!("fn __bs_fn_{name}(")).unwrap();
    code[start..start + code[start..].find("} }\n").unwrap()].to_string()
}

fn calls_in(program: &ir::Program, function: &str) -> Vec<(String, bool)> {
    let text = format!("{:?}", program.function(function).unwrap().body);
    let mut calls = Vec::new();
    for (marker, dispatched) in [
        ("CallScript { name: \"", false),
        ("CallMethod { function: \"", true),
    ] {
        for piece in text.split(marker).skip(1) {
            calls.push((piece.split('"').next().unwrap().to_string(), dispatched));
        }
    }
    calls.sort();
    calls
}

#[test]
fn only_overridden_methods_are_dispatched_through_the_class() {
    let program = compiles(
        "class A { f(): integer { return 1 } g(): integer { return 2 } }\n\
         class B extends A { f(): integer { return 3 } }\n\
         function use(a: A, b: B): integer { return a.f() + a.g() + b.f() }",
    );
    assert_eq!(
        calls_in(&program, "use"),
        [
            ("A.f".to_string(), true),
            ("A.g".to_string(), false),
            ("B.f".to_string(), false)
        ]
    );
    let b = program
        .classes
        .iter()
        .find(|c| c.name.name() == "B")
        .unwrap();
    assert_eq!(b.vtable, ["B.f", "A.g"]);
}

#[test]
fn captured_locals_live_in_cells_and_arrows_are_named_by_their_captures() {
    let capturing = |captured: &str| {
        compiles(&format!(
            "function f(): () => integer {{ let a = 1\nlet b = 2\nreturn () => {captured} }}"
        ))
    };
    let program = capturing("a");
    let f = program.function("f").unwrap();
    let boxed: Vec<(&str, bool)> = f
        .body
        .iter()
        .filter_map(|s| match &s.kind {
            ir::StmtKind::Let { name, boxed, .. } => Some((name.as_str(), *boxed)),
            _ => None,
        })
        .collect();
    assert_eq!(boxed, [("a", true), ("b", false)]);
    let name = |program: &ir::Program| {
        program
            .functions
            .iter()
            .find(|f| f.is_closure)
            .unwrap()
            .name
            .clone()
    };
    // The same captures, the same function; other captures, another one.
    assert_eq!(name(&program), name(&capturing("a + 1")));
    assert_ne!(name(&program), name(&capturing("b")));
}

/// Each program has one mistake and gets exactly one diagnostic, `message`
/// at `line:col`: a declaration that fails still declares its name.
#[test]
fn a_failed_declaration_reports_once() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "let x = 1 + true\nprint(x)\nprint(x + 1)\nlet y = x * 2\nprint(y)\nx = 3\n",
            "`+` cannot be applied to integer and boolean",
            "1:9",
        ),
        (
            "function f() {\n  let x = 1 + true\n  print(x)\n  let y = x * 2\n  print(y)\n}\nf()\n",
            "`+` cannot be applied to integer and boolean",
            "2:11",
        ),
        (
            "function f() {\n  let x: integer = 'a'\n  print(x + 1)\n}\nf()\n",
            "expected a value of type integer, found string",
            "2:20",
        ),
        (
            "function f() {\n  let x: Foo = 1\n  print(x)\n}\nf()\n",
            "cannot find the type `Foo`",
            "2:10",
        ),
        (
            "let x: Foo = 1\nprint(x)\n",
            "cannot find the type `Foo`",
            "1:8",
        ),
        (
            "function g() {\n  let q = nope(1)\n  q = 2\n  return q\n}\nprint(g() + 1)\n",
            "cannot find function `nope`",
            "2:11",
        ),
        (
            "function f() {\n  let x = nope\n  x.foo()\n  x.y = 1\n  x[0] = 2\n}\nf()\n",
            "cannot find `nope`",
            "2:11",
        ),
        (
            "function f() { print(x) }\nlet x = nope\nf()\n",
            "cannot find `nope`",
            "2:9",
        ),
        (
            "const f = (a: integer) => a + true\nprint(f(1))\nf(2)\n",
            "`+` cannot be applied to integer and boolean",
            "1:27",
        ),
        (
            "var v = 1\nprint(v)\nv = 2\n",
            "`var` is not supported yet",
            "1:1",
        ),
        (
            "function f() {\n  var v = 1\n  print(v)\n}\nf()\n",
            "`var` is not supported yet",
            "2:3",
        ),
        (
            "let [a, b] = [1, 2]\nprint(a + b)\n",
            "destructuring is not supported yet",
            "1:5",
        ),
        (
            "function f() {\n  const [a, b] = [1, 2]\n  print(a + b)\n}\nf()\n",
            "destructuring is not supported yet",
            "2:9",
        ),
        (
            "function f() {\n  for (let i = nope; i < 3; i++) { print(i) }\n}\nf()\n",
            "cannot find `nope`",
            "2:16",
        ),
    ];
    assert_one_error_each(cases);
}

#[test]
fn a_global_used_before_it_has_a_type_is_reported_once() {
    let program = "function f() {\n  print(bag[0])\n  bag.push(1)\n  print(bag.length)\n}\nf()\nlet bag = [1, 2]\n";
    assert_one_error_each(&[(
        program,
        "`bag` is used before its declaration gives it a type",
        "2:9",
    )]);
    assert!(errors(program).contains("7 | let bag = [1, 2]\n  |     --- declared here"));
}

/// Functions, classes, enums and imports that fail are still declared:
/// their uses report nothing more.
#[test]
fn a_failed_item_reports_once() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "function f(a: Foo) {\n  print(a)\n}\nf(1)\nf(2)\n",
            "cannot find the type `Foo`",
            "1:15",
        ),
        (
            "function h(...r: integer[]) { print(r) }\nh(1)\nh(2)\n",
            "rest parameters is not supported yet",
            "1:12",
        ),
        (
            "function f(a: integer) {\n  return a + true\n}\nlet r = f(1)\nprint(r + 1)\nf(2)\n",
            "`+` cannot be applied to integer and boolean",
            "2:10",
        ),
        (
            "function f(): Foo { return 1 }\nlet r = f()\nprint(r)\n",
            "cannot find the type `Foo`",
            "1:15",
        ),
        (
            "class A {\n  x: Foo\n  constructor() { }\n}\nlet a = new A()\nprint(a.x)\na.x = 1\n",
            "cannot find the type `Foo`",
            "2:6",
        ),
        (
            "class A {\n  static k: Foo = 1\n}\nprint(A.k)\nA.k = 2\n",
            "cannot find the type `Foo`",
            "2:13",
        ),
        (
            "class A {\n  constructor() { }\n  m(x: Foo) { }\n}\nnew A().m(1)\nnew A().m(1)\n",
            "cannot find the type `Foo`",
            "3:8",
        ),
        (
            "class B extends Nope {\n  constructor() { super() }\n}\nlet b = new B()\nprint(b)\n",
            "`Nope` is not a class",
            "1:17",
        ),
        (
            "enum E { A = 1.5, B = 2 }\nprint(E.A)\nprint(E.B)\n",
            "the value of an enum member must be an integer, found float",
            "1:14",
        ),
        (
            "import { foo } from 'nomodule'\nfoo()\nlet z = foo\n",
            "no module named 'nomodule'",
            "1:21",
        ),
    ];
    assert_one_error_each(cases);
}

/// Each program is rejected with exactly one diagnostic, `message` at
/// `line:col` of main.bs.
fn assert_one_error_each(cases: &[(&str, &str, &str)]) {
    for (program, message, at) in cases {
        let diagnostics = match check(&source(program), &led_exports()) {
            Ok(_) => panic!("expected a compile error for:\n{program}"),
            Err(diagnostics) => diagnostics,
        };
        let text: Vec<String> = diagnostics.iter().map(|d| d.render().to_string()).collect();
        assert_eq!(diagnostics.len(), 1, "{program}:\n{}", text.join("\n"));
        assert!(
            text[0].starts_with(&format!("error: {message}\n --> main.bs:{at}\n")),
            "{program}:\n{}",
            text[0]
        );
    }
}

#[test]
fn syntax_errors_keep_all_their_labels() {
    assert_eq!(
        errors("function f() {\n  print(1\n}\n"),
        "error: Expected `,` or `)` but found `}`\n --> main.bs:3:1\n  |\n\
         2 |   print(1\n  |        - Opened here\n\
         3 | }\n  | ^ `,` or `)` expected"
    );
    let text = errors("let x = (1 ? 2 3)\n");
    assert!(text.contains("Conditional starts here"), "{text}");
    assert!(text.contains("^ `:` expected"), "{text}");
}

#[test]
fn a_duplicate_points_at_the_first_declaration() {
    let cases = [
        (
            "function f() {}\nlet g = 1\nfunction f() {}\n",
            "1 | function f() {}\n  |          - first declared here",
            "3:10",
        ),
        (
            "let g = 1\nlet h = 2\nconst g = 3\n",
            "1 | let g = 1\n  |     - first declared here",
            "3:7",
        ),
        (
            "enum E { A = 1, B = 2, A = 3 }\n",
            "  |          -             ^\n  |          |\n  |          first declared here",
            "1:24",
        ),
        (
            "function f(a: integer, a: float) {}\n",
            "first declared here",
            "1:24",
        ),
        (
            "function f() {\n  let n = 1\n  const n = 2\n}\n",
            "2 |   let n = 1\n  |       - first declared here",
            "3:9",
        ),
    ];
    for (program, label, at) in cases {
        let text = errors(program);
        assert!(text.contains(&format!("--> main.bs:{at}\n")), "{text}");
        assert!(text.contains(label), "{text}");
    }
}

#[test]
fn a_failed_import_or_imported_declaration_reports_once() {
    type Files<'a> = &'a [(&'a str, &'a str)];
    let cases: [(&str, Files, &str); 4] = [
        (
            "import { hidden } from './util'\nprint(hidden)\nhidden()\n",
            &[("util.bs", "let hidden = 1\n")],
            "`hidden` is not exported by `scripts/util.bs`",
        ),
        (
            "import { nope } from './util'\nprint(nope + 1)\n",
            &[("util.bs", "export let x = 1\n")],
            "`scripts/util.bs` has no export named `nope`",
        ),
        (
            "import { f } from './missing'\nprint(f(1))\n",
            &[],
            "cannot find the script './missing'",
        ),
        (
            "import { total } from './util'\nprint(total + 1)\nfunction g() { return total * 2 }\nprint(g())\n",
            &[("util.bs", "export let total = 1 + true\n")],
            "`+` cannot be applied to integer and boolean",
        ),
    ];
    for (main, others, message) in cases {
        let errors = files_error(main, others);
        assert_eq!(errors.matches("error: ").count(), 1, "{errors}");
        assert!(errors.starts_with(&format!("error: {message}")), "{errors}");
    }
}

#[test]
fn a_callee_edited_to_assign_a_global_ends_the_narrowing_of_its_callers() {
    // A watch session checks the whole program again on every save, so the
    // caller that relied on `tick` not assigning `led` is refused after the
    // edit that makes it do so.
    let program = |tick: &str| {
        format!(
            "class Led {{ on() {{ print(1) }} }}\n\
             let led: Led | null = new Led()\n\
             function tick() {{ {tick} }}\n\
             function step() {{ tick() }}\n\
             if (led != null) {{\n  step()\n  led.on()\n}}\n"
        )
    };
    compiles(&program("print(2)"));
    assert_errors_at(&[(&program("led = null"), "this value may be null", "7:3")]);
}

/// Every statement of `statements`, nested ones included.
fn all_statements<'p>(statements: &'p [ir::Stmt], out: &mut Vec<&'p ir::Stmt>) {
    for statement in statements {
        out.push(statement);
        match &statement.kind {
            ir::StmtKind::If {
                then, otherwise, ..
            } => {
                all_statements(then, out);
                all_statements(otherwise, out);
            }
            ir::StmtKind::Loop { body, .. } | ir::StmtKind::Block(body) => {
                all_statements(body, out)
            }
            _ => {}
        }
    }
}

#[test]
fn every_statement_knows_its_file_lines_and_columns() {
    let program = files_compile(
        "import { helper } from './util'\n\
         class Counter {\n  static start: integer = 5\n  n: integer\n  constructor() { this.n = 0 }\n  bump() { this.n++ }\n}\n\
         function silent() {}\n\
         function run(f: () => void) { f() }\n\
         function twice(n: integer) {\n  for (let i = 0; i < 2; i++) {\n    if (n > i) { n-- } else { break }\n  }\n  return silent()\n}\n\
         let total: integer\n\
         const c = new Counter()\n\
         run(() => c.bump())\n\
         const add = (a: integer, b: integer) => a + b\n\
         const g = helper\n\
         twice(3)\n\
         total = add(1, g(2))\n",
        &[("util.bs", UTIL)],
    );
    assert_eq!(
        program
            .files
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        ["scripts/main.bs", "scripts/util.bs"]
    );
    let mut statements = Vec::new();
    all_statements(&program.main, &mut statements);
    for function in &program.functions {
        all_statements(&function.body, &mut statements);
    }
    let text_of = |statement: &ir::Stmt| {
        let file = &program.files[statement.source.file as usize];
        let span = statement.source.span;
        file.text[span.start as usize..span.end as usize].to_string()
    };
    for statement in &statements {
        assert!(
            !text_of(statement).is_empty(),
            "a statement without its code: {statement:?}"
        );
    }
    let texts: Vec<String> = statements.iter().map(|s| text_of(s)).collect();
    for expected in [
        "print(\"util loaded\")",
        "calls++",
        "static start: integer = 5",
        // A global's declarator: one statement per global declared.
        "total: integer",
        "c = new Counter()",
        "this.n = 0",
        "c.bump()",
        "a + b",
        "for (let i = 0; i < 2; i++) {\n    if (n > i) { n-- } else { break }\n  }",
        "n--",
        "break",
        "return silent()",
    ] {
        assert!(
            texts.iter().any(|t| t == expected),
            "no statement of `{expected}` in {texts:#?}"
        );
    }
    // Lines and columns, as a debugger's line table has them.
    let returns = statements
        .iter()
        .find(|s| text_of(s) == "return silent()")
        .unwrap();
    let range = program.line_range(returns.source).unwrap();
    assert_eq!(range.file, "scripts/main.bs");
    assert_eq!((range.start, range.end), ((14, 3), (14, 18)));
    let util = statements.iter().find(|s| text_of(s) == "calls++").unwrap();
    let range = program.line_range(util.source).unwrap();
    assert_eq!((range.file, range.start), ("scripts/util.bs", (5, 3)));
}

#[test]
fn a_diagnostic_says_what_kind_of_mistake_it_reports() {
    use crate::diagnostic::Kind;
    let kinds = |text: &str| -> Vec<Kind> {
        let scripts = Scripts {
            main: SourceFile {
                name: "scripts/main.bs".into(),
                text: text.into(),
            },
            dir: "scripts".into(),
            loader: &NoFiles,
        };
        check_scripts(&scripts, &led_exports())
            .expect_err(text)
            .iter()
            .map(|d| d.kind)
            .collect()
    };
    for (text, kind) in [
        // Input that stops too early: a shell would read another line.
        ("function f() {\n  let a = 1\n", Kind::Incomplete),
        ("let x = 1 +\n\n", Kind::Incomplete),
        ("if (true) { print(1) } else", Kind::Incomplete),
        ("print(1 2)\nprint(3)", Kind::Syntax),
        ("let a = (1 + 2))", Kind::Syntax),
        ("switch (1) {}", Kind::Unsupported),
        ("let a: string = 1", Kind::Semantic),
        ("print(missing)", Kind::Semantic),
        ("import { f } from './nowhere'", Kind::Import),
        ("import { write } from 'gpio'", Kind::Import),
        ("import { f } from 'nothing'", Kind::Import),
    ] {
        assert_eq!(kinds(text), [kind], "{text}");
    }
    assert_eq!(Kind::Incomplete.code(), "incomplete");
}

#[test]
fn a_cell_compiles_for_the_device_as_a_patch_does() {
    let scripts = Scripts {
        main: source("let count = 0\nfunction double(n: integer): integer { return n * 2 }\n"),
        dir: String::new(),
        loader: &NoFiles,
    };
    let (mut environment, _) =
        environment::Environment::new(&scripts, &led_exports()).expect("a valid program");
    let first = environment.check_cell("let total = double(count)").unwrap();
    environment.accept(&first);
    let cell = environment
        .check_cell("function show(n: integer) { print(n, total) }\nsetTimeout(() => show(double(total)), 10)\ntotal + 1")
        .unwrap();
    let slots = slots_for(&cell.program);
    let mut functions = vec![&cell.function];
    functions.extend(&cell.functions);
    let code = generate_patch(
        &cell.program,
        &functions,
        &slots,
        &led_exports(),
        3,
        &Default::default(),
    )
    .code;
    let needed = compile_for_device(&code).unwrap_or_else(|errors| {
        panic!("rustc rejected the cell:\n{errors}\n--- code ---\n{code}")
    });
    // Like any patch, it reaches the image and the earlier cells' globals
    // through symbols: `total` is one.
    assert!(needed.iter().any(|s| s == "__bs_g_total"), "{needed:?}");
}

#[test]
fn a_cell_defines_the_descriptors_of_its_types_and_refers_to_the_images() {
    let scripts = Scripts {
        main: source("class Shape { area(): integer { return 1 } }\n"),
        dir: String::new(),
        loader: &NoFiles,
    };
    let (environment, _) = environment::Environment::new(&scripts, &[]).expect("a valid program");
    let cell = environment
        .check_cell(
            "class Square extends Shape { area(): integer { return 4 } }\n\
             let squares: Square[] = [new Square()]\nlet f = (s: Shape) => s.area()",
        )
        .unwrap();
    let slots = slots_for(&cell.program);
    let mut functions = vec![&cell.function];
    functions.extend(&cell.functions);
    let patch = generate_patch(
        &cell.program,
        &functions,
        &slots,
        &[],
        2,
        &Default::default(),
    );
    let in_image = |symbol: &str| symbol == "__bs_class_Shape";
    let wanted = patch
        .descriptors
        .into_iter()
        .filter(|(symbol, _)| !in_image(symbol))
        .collect();
    let (code, defined) =
        super::codegen::generate_descriptors(&cell.program, &slots, &[], &wanted, &in_image);
    // The class, its array type and the closure's function type; a
    // superclass the image has is the image's.
    assert!(
        defined.contains(&"__bs_class_Square".to_string()),
        "{defined:?}"
    );
    assert!(
        defined.len() >= 3 && !defined.iter().any(|s| in_image(s)),
        "{defined:?}"
    );
    let needed = compile_for_device(&code).unwrap_or_else(|errors| {
        panic!("rustc rejected the descriptors:\n{errors}\n--- code ---\n{code}")
    });
    assert!(needed.iter().any(|s| s == "__bs_class_Shape"), "{needed:?}");
    assert!(!needed.iter().any(|s| defined.contains(s)), "{needed:?}");
}

#[test]
fn const_globals_with_a_literal_are_read_as_the_literal() {
    let program = compiles(
        "const TAPS = 32\nconst GAIN = -0.5\nconst ON = true\nlet taps = 32\nconst NAMES = [1]\n\
         function f(x: integer): float { return (x & (TAPS - 1)) * GAIN + taps + NAMES[0] }\n\
         function g(): boolean { return ON }\nprint(f(3), g())",
    );
    let code = image_code(&program, Calls::Slots);
    let f = function_text(&code, "f");
    // rustc folds them; a `let` and an array stay variables.
    assert!(f.contains("(32_i32)") && !f.contains("__bs_g_TAPS"), "{f}");
    assert!(
        !f.contains("__bs_g_GAIN") && f.contains("__bs_g_taps"),
        "{f}"
    );
    assert!(f.contains("__bs_g_NAMES"), "{f}");
    assert!(!function_text(&code, "g").contains("__bs_g_ON"));
}

/// Counted loops whose accesses a check before the loop proves in range.
const PROVABLE_LOOPS: &str = "
function f(i: integer): integer { return i }
function sum(a: integer[]): integer {
  let s = 0
  for (let i = 0; i < a.length; i++) { s += a[i] }
  return s
}
function halve(a: float[], n: integer) {
  for (let i = 1; i <= n; i++) { a[i - 1] = a[i - 1] * 0.5 }
}
function ring(a: integer[], start: integer): integer {
  let s = 0
  let j = start
  for (let k = 0; k < 8; k++) { s += a[j] + a[k & 7]; j = (j + 1) & 7 }
  return s
}
function strided(re: float[], n: integer, length: integer) {
  const half = length >> 1
  for (let i = 0; i < n; i += length) { const m = i + half; re[m] = re[i] }
}
class Ring {
  items: string[]
  constructor() { this.items = ['a', 'b'] }
  joined(): string {
    let s = ''
    for (let i = 0; i < this.items.length; i++) { s = s + this.items[i] }
    return s
  }
}
";

/// The code of a patch that replaces every function of `program`.
fn patch_of_every_function(program: &ir::Program) -> String {
    patch_with(program, &led_exports(), 3)
}

/// A patch number `epoch` of every function of `program`, with `exports`.
fn patch_with(program: &ir::Program, exports: &[Export], epoch: u32) -> String {
    let functions: Vec<&ir::Function> = program.functions.iter().collect();
    let slots = slots_for(program);
    generate_patch(
        program,
        &functions,
        &slots,
        exports,
        epoch,
        &Default::default(),
    )
    .code
}

/// The number of checked and unchecked element accesses in `text`.
fn element_checks(text: &str) -> (usize, usize) {
    let unchecked = text.matches("_element_unchecked").count();
    let checked =
        text.matches("fixed_element::<").count() + text.matches("growable_element(").count();
    (checked, unchecked)
}

#[test]
fn counted_loops_index_arrays_without_a_check_per_iteration() {
    let program = compiles(PROVABLE_LOOPS);
    let code = image_code(&program, Calls::Slots);
    // Each access once in the fast copy (unchecked) and once in the
    // original loop (checked), which runs when the precondition fails.
    for (function, accesses) in [
        ("sum", 1),
        ("halve", 2),
        ("ring", 2),
        ("strided", 2),
        ("Ring_u2e_joined", 1),
    ] {
        let text = &function_text(&code, function);
        assert_eq!(
            element_checks(text),
            (accesses, accesses),
            "{function}:\n{text}"
        );
        assert_eq!(text.matches("'b1: loop").count(), 2, "{text}");
    }
    // The precondition bounds the counter's first and last values.
    let halve = &function_text(&code, "halve");
    assert!(
        halve.contains("if ((v_n) < i32::MAX) && ((v_i as i64) - (((1_i32)) as i64) >= 0)"),
        "{halve}"
    );
    // A step other than 1 must be positive and must not wrap the counter.
    assert!(
        function_text(&code, "strided").contains("(v_length) >= 1"),
        "{code}"
    );
    // Versioned loops compile for the device, in a patch as in an image.
    let patch = patch_of_every_function(&program);
    let functions_code = &patch[patch.find("fn __bs_fn_").unwrap()..];
    assert_eq!(element_checks(functions_code).1, 8, "{patch}");
    if let Err(errors) = compile_for_device(&patch) {
        panic!("rustc rejected the patch:\n{errors}\n--- code ---\n{patch}");
    }
}

#[test]
fn loops_whose_accesses_cannot_be_proved_keep_their_checks() {
    let program = compiles(
        "
function f(i: integer): integer { return i }
function calls(a: integer[]): integer {
  let s = 0
  for (let i = 0; i < a.length; i++) { s += a[i] + f(i) }
  return s
}
function reassigned(a: integer[], b: integer[]) {
  for (let i = 0; i < 4; i++) { a[i] = 1; a = b }
}
function scaled(a: integer[]) {
  for (let i = 0; i < 4; i++) { a[2 * i] = 0 }
}
function counterWritten(a: integer[]) {
  for (let i = 0; i < 4; i++) { a[i] = 0; i = i + a[0] }
}
function grows(a: string[]) {
  for (let i = 0; i < a.length; i++) { a.push('x'); print(a[i]) }
}
function downward(a: integer[]) {
  for (let i = 3; i >= 0; i--) { a[i] = 0 }
}
function notMasked(a: integer[], b: integer[]) {
  let j = 0
  for (let i = 0; i < 4; i++) { a[j] = 0; j = j + b.length }
}
function boundChanges(a: integer[]) {
  let n = 2
  for (let i = 0; i < n; i++) { a[i] = 0; n = 8 }
}
function floatBound(a: integer[]) {
  for (let i = 0; i < 2.5; i++) { a[i] = 0 }
}
function outer(a: integer[]) {
  for (let i = 0; i < 4; i++) { a[i] = 0; for (let j = 0; j < i; j++) { a[i] = a[i] + 1 } }
}
",
    );
    let code = image_code(&program, Calls::Slots);
    for function in [
        "calls",
        "reassigned",
        "scaled",
        "counterWritten",
        "grows",
        "downward",
        "notMasked",
        "boundChanges",
        "floatBound",
    ] {
        let text = &function_text(&code, function);
        assert_eq!(element_checks(text).1, 0, "{function}:\n{text}");
        assert_eq!(text.matches(": loop").count(), 1, "{function}:\n{text}");
    }
    // Only innermost loops are copied; this one indexes by the outer counter.
    let outer = &function_text(&code, "outer");
    assert_eq!(element_checks(outer), (3, 0), "{outer}");
}

const INTEGER_LOOPS: &str = "
function collatz(start) {
  let x: any = start
  let steps: any = 0
  while (x != 1) {
    if (x % 2 == 0) { x = x / 2 } else { x = 3 * x + 1 }
    steps++
  }
  return steps
}
function concat(n) {
  let s: any = ''
  for (let i: any = 0; i < n; i++) { s = s + ',' + i }
  return s
}
function halves(n) {
  let count: any = 0
  for (let i: any = 0; i < n; i += 0.5) { count++ }
  return count
}
";

#[test]
fn loops_over_integer_anys_run_a_copy_without_tag_checks() {
    let program = compiles(INTEGER_LOOPS);
    let code = image_code(&program, Calls::Slots);
    // Both variables stay integers once they are: one guard at the entry,
    // a copy with inline integer operations and no root-slot stores, and
    // the loop as written for other values.
    let collatz = &function_text(&code, "collatz");
    assert!(
        collatz.contains("if ((v_steps ^ TAG_INTEGER) | (v_x ^ TAG_INTEGER)) & TAG_MASK == 0 {"),
        "{collatz}"
    );
    assert_eq!(collatz.matches("'b1: loop").count(), 2, "{collatz}");
    let copies = collatz.split_once("TAG_MASK == 0 {").unwrap().1;
    let (fast, original) = copies.split_once("\n    } else {\n").unwrap();
    assert!(fast.contains("int_arith((4_i32), v_x"), "{fast}");
    assert!(!fast.contains("any_"), "{fast}");
    assert!(!fast.contains("roots_.set"), "{fast}");
    assert!(original.contains("any_arith((4_i32), v_x"), "{original}");
    assert!(original.contains("roots_.set(0, v_x)"), "{original}");
    // A string stored in `s` leaves only the counter in the guard; the
    // concatenation allocates, and `s` keeps its root slot.
    let concat = &function_text(&code, "concat");
    assert!(
        concat.contains("if ((v_i ^ TAG_INTEGER) | (v_n ^ TAG_INTEGER)) & TAG_MASK == 0 {"),
        "{concat}"
    );
    let (fast, _) = concat.split_once("\n        } else {\n").unwrap();
    assert!(fast.contains("bs_string_concat("), "{fast}");
    assert!(fast.contains("roots_.set(1, v_s)"), "{fast}");
    assert!(fast.contains("int_compare((0_i32), v_i, v_n)"), "{fast}");
    // A float step: the counter is no integer after a round, but the count is.
    let halves = &function_text(&code, "halves");
    assert!(
        halves.contains("if ((v_count ^ TAG_INTEGER) | (v_n ^ TAG_INTEGER)) & TAG_MASK == 0 {"),
        "{halves}"
    );
    assert!(halves.contains("any_compare((0_i32), v_i, v_n"), "{halves}");
    // The copies compile for the device.
    let patch = patch_of_every_function(&program);
    if let Err(errors) = compile_for_device(&patch) {
        panic!("rustc rejected the patch:\n{errors}\n--- code ---\n{patch}");
    }
}

const INTEGER_PARAMETERS: &str = "
let moves: any = 0
function move(disks, from, to) {
  if (disks == 0) return
  const other: any = 3 - from - to
  move(disks - 1, from, other)
  moves++
  move(disks - 1, other, to)
}
function fib(n) {
  if (n < 2) return n
  return fib(n - 1) + fib(n - 2)
}
function label(n, text) {
  const twice: any = n * 2
  return text + ',' + twice
}
";

#[test]
fn functions_whose_any_parameters_stay_integers_have_a_copy_without_roots_for_them() {
    let program = compiles(INTEGER_PARAMETERS);
    let code = image_code(&program, Calls::Slots);
    // The parameters and `other` hold integers in the copy: nothing of it
    // needs a root slot, so it has no frame; the body as written keeps one.
    let moves = &function_text(&code, "move");
    let (fast, original) = moves
        .split_once(
            "if ((v_disks ^ TAG_INTEGER) | (v_from ^ TAG_INTEGER) | (v_to ^ TAG_INTEGER)) & TAG_MASK == 0 {",
        )
        .unwrap()
        .1
        .split_once("\n    } else {\n")
        .unwrap();
    assert!(!fast.contains("RootFrame"), "{fast}");
    assert!(
        fast.contains("let mut v_other: u32 = int_arith((1_i32), int_arith((1_i32)"),
        "{fast}"
    );
    // `moves` is a global: it may hold anything.
    assert!(fast.contains("any_arith(OP_ADD, t, box_int(1)"), "{fast}");
    assert!(original.contains("RootFrame::<4>"), "{original}");
    // fib's result may be anything: it stays rooted across the second call,
    // but `n` needs no slot.
    let fib = &function_text(&code, "fib");
    let fast = fib.split_once("TAG_MASK == 0 {").unwrap().1;
    let fast = fast.split_once("\n    } else {\n").unwrap().0;
    assert!(fast.contains("RootFrame::<1>"), "{fast}");
    // The early return runs before the frame is made.
    let early = fast.find("return v_n;").unwrap();
    assert!(early < fast.find("RootFrame").unwrap(), "{fast}");
    assert!(!fast.contains("roots_.set(0, v_n)"), "{fast}");
    assert!(
        fast.contains("int_compare((0_i32), v_n, box_int((2_i32)))"),
        "{fast}"
    );
    // `text` is never an operand of integer arithmetic: only `n` is guarded.
    let label = &function_text(&code, "label");
    assert!(
        label.contains("if ((v_n ^ TAG_INTEGER)) & TAG_MASK == 0 {"),
        "{label}"
    );
    let patch = patch_of_every_function(&program);
    if let Err(errors) = compile_for_device(&patch) {
        panic!("rustc rejected the patch:\n{errors}\n--- code ---\n{patch}");
    }
}

#[test]
fn untyped_parameters_are_profiled_in_development_images_and_patches_only() {
    use super::codegen::{patch_profile_symbol, profile_symbol};
    let program = compiles(
        r#"
class Box { x: integer; constructor() { this.x = 1 } }
function mixed(a, n: integer, b) { return a.x }
function typed(n: integer): integer { return n }
function sum(a, b) { return a + b }
const twice = (x) => x.x
print(mixed(new Box(), 2, 3), typed(4), sum(1, 2), twice(new Box()))
"#,
    );
    let image = image_code(&program, Calls::Slots);
    // Two `any` parameters: the call count and two words each.
    let record = format!("static mut {}: [u32; 5]", profile_symbol("mixed"));
    assert!(image.contains(&record), "{image}");
    assert!(
        image.contains("profile_value(record.add(1), v_a); profile_value(record.add(3), v_b);"),
        "{image}"
    );
    // Typed functions, closures, and functions that read no member of an
    // `any` (nothing to specialize) record nothing.
    assert_eq!(image.matches("static mut __bs_prof_").count(), 1, "{image}");
    assert!(!image_code(&program, Calls::Direct).contains("__bs_prof_"));
    let patch = patch_with(&program, &[], 7);
    assert!(
        patch.contains(&format!(
            "static mut {}: [u32; 5]",
            patch_profile_symbol("mixed", 7)
        )),
        "{patch}"
    );
    compile_for_device(&patch).unwrap_or_else(|errors| panic!("{errors}\n{patch}"));
}

#[test]
fn specialized_versions_read_fields_and_call_methods_directly() {
    use super::codegen::{specialization_gains, Specialization, Specializations};
    let program = compiles(
        r#"
class Node {
  next: Node | null
  weight: float
  visits: integer
  constructor() { this.next = null; this.weight = 0.5; this.visits = 0 }
  scaled(k: integer): float { return this.weight * k }
}
class Heavy extends Node {
  constructor() { super() }
  scaled(k: integer): float { return this.weight * k * 2.0 }
}
function walk(list, k) {
  let total = 0.0
  let node = list
  while (node != null) {
    total = total + node.scaled(k) + node.weight
    node.visits = k
    node = node.next
  }
  return total
}
function other(x) { return x + 1 }
print(walk(new Node(), 2), other(1))
"#,
    );
    let node = ir::Ty::Class(ir::Name::new("Node"));
    let walk = program.function("walk").unwrap();
    let specialization = Specialization {
        params: vec![("list".to_string(), node)],
    };
    assert!(specialization_gains(&program, walk, &specialization));
    // Nothing in `other` reads a property of its parameter.
    let other = Specialization {
        params: vec![("x".to_string(), node)],
    };
    assert!(!specialization_gains(
        &program,
        program.function("other").unwrap(),
        &other
    ));
    let specializations: Specializations = [("walk".to_string(), specialization)].into();
    let functions = vec![walk];
    let patch = generate_patch(
        &program,
        &functions,
        &slots_for(&program),
        &[],
        4,
        &specializations,
    )
    .code;
    let body = &patch[patch.find("fn __bs_fn_walk__p4").unwrap()..];
    // The entry check, then direct reads of `next` (word 1) and `weight`
    // (word 2, boxed) where `node` is not null, and the overridden method
    // through the vtable; the body as written after it, profiled.
    assert!(
        body.contains("if is_exactly(v_list, (&raw const __bs_class_Node"),
        "{body}"
    );
    assert!(body.contains("(*word::<u32>(v_node, 1))"), "{body}");
    assert!(
        body.contains("bs_any_from_float((*word::<f32>(v_node, 2)))"),
        "{body}"
    );
    assert!(
        body.contains(
            "slot(*word::<u32>(*word::<u32>(r, HEADER), 7) as usize)))(r, any_to_int(v_k"
        ),
        "{body}"
    );
    // The store converts as the runtime's would; the body as written
    // stores through the runtime.
    let specialized = &body[..body.find("\n    } else {\n").unwrap()];
    assert!(
        specialized.contains("let p = word::<i32>(v_node, 3);"),
        "{body}"
    );
    assert!(body[specialized.len()..].contains("any_set("), "{body}");
    assert!(body.contains("__bs_prof_walk__p4"), "{body}");
    compile_for_device(&patch).unwrap_or_else(|errors| panic!("{errors}\n{patch}"));
}

#[test]
fn returns_of_null_and_objects_infer_a_nullable_or_common_type() {
    let program = compiles(
        r#"
class A { constructor() {} }
class B extends A { constructor() { super() } }
class C { constructor() {} }
function pick(n: integer) {
  if (n == 0) { return null }
  if (n == 1) { return new B() }
  return new A()
}
function later(n: integer) {
  if (n == 0) { return new B() }
  return null
}
function unrelated(n: integer) {
  if (n == 0) { return 'x' }
  return new C()
}
print(pick(0) == null, later(1) == null, unrelated(1))
"#,
    );
    let ret = |name: &str| program.function(name).unwrap().signature.ret.to_string();
    assert_eq!(ret("pick"), "A | null");
    assert_eq!(ret("later"), "B | null");
    assert_eq!(ret("unrelated"), "any");
    let code = image_code(&program, Calls::Slots);
    compile_for_device(&patch_with(&program, &[], 2)).unwrap_or_else(|e| panic!("{e}\n{code}"));
}
