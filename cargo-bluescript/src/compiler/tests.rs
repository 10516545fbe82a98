//! Checker and code generator tests: what is rejected (and where), and that
//! what is accepted becomes Rust that rustc compiles for the device.

use super::codegen::{generate_image, generate_patch, SlotMap};
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
            .map(|d| d.render(&file).to_string())
            .collect::<Vec<_>>()
            .join("\n"),
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
                .map(|d| d.render(&file).to_string())
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
        ("class A {}", "classes"),
        ("enum E { A = 1 }", "enums"),
        ("var x = 1", "`var`"),
        ("let s: string = 'a'", "`string`"),
        ("let a = [1, 2]", "arrays"),
        ("let o = {x: 1}", "object literals"),
        ("function f(x) { return x }", "a parameter without a type"),
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
        ("let x: any = 1", "`any`"),
        ("import { f } from './util'", "importing other script files"),
        (
            "function f() { let y = 1; setInterval(() => { y = 2 }, 10) }",
            "captures the local variable `y`",
        ),
        ("let x = typeof 1", "`typeof`"),
        ("let x = null", "`null`"),
        ("let x = Math.PI", "the property `PI`"),
        ("code`foo`", "embedded Rust"),
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
    let ir::Stmt::If { then, .. } = &f.body[0] else {
        panic!("{:?}", f.body)
    };
    let ir::Stmt::Return(Some(value)) = &then[0] else {
        panic!("{then:?}")
    };
    assert_eq!(value.ty, ir::Ty::Float);
    assert!(matches!(value.kind, ir::ExprKind::IntToFloat(_)));
    let slots = slots_for(&program);
    let functions: Vec<&ir::Function> = program.functions.iter().collect();
    let code = generate_patch(&program, &functions, &slots, &led_exports(), 1);
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
    // A returned value still needs an annotation to recurse.
    let text = errors("function f(n: integer) { if (n == 0) return 0\n return f(n - 1) }");
    assert!(text.contains("the return type of `f` is needed"), "{text}");
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
    let text = errors("function f(n: integer) { return f(n - 1) }");
    assert!(text.contains("the return type of `f` is needed"), "{text}");
}

#[test]
fn arrows_become_functions_and_references_are_recorded() {
    let program = compiles(
        "let n = 0\nfunction tick() { n++ }\nfunction start() { setInterval(() => { tick(); led_set(true) }, 100) }\nstart()",
    );
    let names: Vec<_> = program.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["tick", "start", "start$0"]);
    assert_eq!(program.function("start").unwrap().references, ["start$0"]);
    assert_eq!(program.function("start$0").unwrap().references, ["tick"]);
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
"#;

fn slots_for(program: &ir::Program) -> SlotMap {
    program
        .functions
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.clone(), i as u32))
        .collect()
}

#[test]
fn generates_an_image_module_with_slots_globals_and_exports() {
    let program = compiles(EVERYTHING);
    let slots = slots_for(&program);
    let code = generate_image(&program, &slots, &led_exports(), 0xabcd, "scripts/main.bs");
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
    let output = crate::patch::rustc_command(Path::new("rustc"), &source, &object)
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
    let slots = slots_for(&program);
    let functions: Vec<&ir::Function> = program.functions.iter().collect();
    let code = generate_patch(&program, &functions, &slots, &led_exports(), 7);
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
fn integer_powers_are_exact_and_wrap() {
    let program = compiles("let a = 3 ** 19\nlet b = 2 ** 31\nlet c = 2 ** -1\nlet d = 2.0 ** 0.5");
    assert_eq!(program.globals[0].ty, ir::Ty::Integer);
    assert_eq!(program.globals[3].ty, ir::Ty::Float);
    let code = generate_image(&program, &SlotMap::new(), &[], 1, "main.bs");
    assert!(code.contains("pow_i32((3_i32), (19_i32))"), "{code}");
    assert!(code.contains("bs_pow((2.0_f32), (0.5_f32))"), "{code}");
}

/// The compiler never panics on user input: every prefix of real programs
/// (cut anywhere, even inside a token) gives a result or diagnostics.
#[test]
fn never_panics_on_truncated_programs() {
    let conformance = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
    let mut programs = vec![EVERYTHING.to_string()];
    for dir in [conformance.clone(), conformance.join("reject")] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "bs") {
                programs.push(std::fs::read_to_string(path).unwrap());
            }
        }
    }
    for program in &programs {
        for (cut, _) in program.char_indices() {
            let file = source(&program[..cut]);
            match check(&file, &led_exports()) {
                Ok(program) => {
                    let slots = slots_for(&program);
                    generate_image(&program, &slots, &led_exports(), 1, "main.bs");
                }
                Err(diagnostics) => {
                    for diagnostic in diagnostics {
                        // Rendering must not panic either, wherever the span points.
                        let _ = diagnostic.render(&file).to_string();
                    }
                }
            }
        }
    }
}
