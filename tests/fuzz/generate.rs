//! Random BlueScript programs built from the grammar of LANGUAGE.md: globals,
//! functions, classes with fields and methods, arrays, closures, `any`,
//! nullable types, loops, operators and conversions. Most are type-correct, so
//! that they reach code generation; `ill_typed` programs carry one mistake
//! (a value of another type where one was expected).

use fastrand::Rng;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    Integer,
    Float,
    Boolean,
    Str,
    Any,
    /// An array of a simple element type.
    Array(Elem),
    /// An instance of generated class `C<n>`.
    Class(usize),
    /// `C<n> | null`.
    Nullable(usize),
    /// `(a: integer) => integer`.
    Func,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Elem {
    Integer,
    Float,
    Str,
    Any,
    Class(usize),
}

impl Elem {
    fn ty(self) -> Ty {
        match self {
            Elem::Integer => Ty::Integer,
            Elem::Float => Ty::Float,
            Elem::Str => Ty::Str,
            Elem::Any => Ty::Any,
            Elem::Class(c) => Ty::Class(c),
        }
    }
}

impl Ty {
    fn name(self) -> String {
        match self {
            Ty::Integer => "integer".into(),
            Ty::Float => "float".into(),
            Ty::Boolean => "boolean".into(),
            Ty::Str => "string".into(),
            Ty::Any => "any".into(),
            Ty::Array(e) => format!("{}[]", e.ty().name()),
            Ty::Class(c) => format!("C{c}"),
            Ty::Nullable(c) => format!("C{c} | null"),
            Ty::Func => "(a: integer) => integer".into(),
        }
    }
}

struct Var {
    name: String,
    ty: Ty,
    mutable: bool,
}

struct Class {
    fields: Vec<(String, Ty)>,
    /// `m(a: integer): integer`, when it has one.
    method: bool,
    parent: Option<usize>,
}

struct Function {
    name: String,
    params: Vec<Ty>,
    ret: Option<Ty>,
}

pub struct Generator {
    rng: Rng,
    out: String,
    indent: usize,
    scopes: Vec<Vec<Var>>,
    classes: Vec<Class>,
    functions: Vec<Function>,
    next_name: usize,
    /// The return type of the function being generated (`None` at the top
    /// level and in void functions).
    ret: Option<Ty>,
    in_loop: bool,
    /// Still to place: the one mistake of an ill-typed program.
    mistake: bool,
}

/// A random program; `ill_typed` ones carry one mistake.
pub fn program(seed: u64, ill_typed: bool) -> String {
    let mut generator = Generator {
        rng: Rng::with_seed(seed),
        out: String::new(),
        indent: 0,
        scopes: vec![Vec::new()],
        classes: Vec::new(),
        functions: Vec::new(),
        next_name: 0,
        ret: None,
        in_loop: false,
        mistake: ill_typed,
    };
    generator.top_level();
    generator.out
}

const SIMPLE: [Ty; 5] = [Ty::Integer, Ty::Float, Ty::Boolean, Ty::Str, Ty::Any];

impl Generator {
    fn fresh(&mut self, prefix: &str) -> String {
        self.next_name += 1;
        format!("{prefix}{}", self.next_name)
    }

    fn line(&mut self, text: &str) {
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.u32(0..100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.usize(0..items.len())]
    }

    fn random_ty(&mut self) -> Ty {
        match self.rng.u32(0..12) {
            0..=4 => self.pick(&SIMPLE),
            5 | 6 => Ty::Array(self.random_elem()),
            7 | 8 if !self.classes.is_empty() => Ty::Class(self.rng.usize(0..self.classes.len())),
            9 if !self.classes.is_empty() => Ty::Nullable(self.rng.usize(0..self.classes.len())),
            10 => Ty::Func,
            _ => Ty::Integer,
        }
    }

    fn random_elem(&mut self) -> Elem {
        if !self.classes.is_empty() && self.chance(25) {
            return Elem::Class(self.rng.usize(0..self.classes.len()));
        }
        self.pick(&[Elem::Integer, Elem::Float, Elem::Str, Elem::Any])
    }

    fn vars_of(&self, ty: Ty, mutable: bool) -> Vec<String> {
        self.scopes
            .iter()
            .flatten()
            .filter(|v| v.ty == ty && (v.mutable || !mutable))
            .map(|v| v.name.clone())
            .collect()
    }

    fn declare(&mut self, name: String, ty: Ty, mutable: bool) {
        self.scopes
            .last_mut()
            .expect("a scope")
            .push(Var { name, ty, mutable });
    }

    // ----- top level -----

    fn top_level(&mut self) {
        self.line("enum Color { Red = -1, Green = 0, Blue = 7 }");
        for _ in 0..self.rng.usize(0..3) {
            self.class();
        }
        for _ in 0..self.rng.usize(0..3) {
            self.global();
        }
        for _ in 0..self.rng.usize(0..4) {
            self.function();
        }
        for _ in 0..self.rng.usize(1..6) {
            self.statement(2);
        }
        if self.mistake {
            // Not placed yet: a call with a wrong argument, or a wrong value.
            let value = self.expr(Ty::Str, 1);
            self.line(&format!("let m{}: integer = {value}", self.next_name));
        }
    }

    fn class(&mut self) {
        let index = self.classes.len();
        let parent = if index > 0 && self.chance(30) {
            Some(self.rng.usize(0..index))
        } else {
            None
        };
        let inherited: Vec<(String, Ty)> =
            parent.map_or(Vec::new(), |p| self.classes[p].fields.clone());
        let mut fields = Vec::new();
        for i in 0..self.rng.usize(1..4) {
            let ty = match self.rng.u32(0..10) {
                // Objects of earlier classes, maybe null, and arrays.
                0 if index > 0 => Ty::Class(self.rng.usize(0..index)),
                1 if index > 0 => Ty::Nullable(self.rng.usize(0..index)),
                2 => Ty::Array(self.pick(&[Elem::Integer, Elem::Float, Elem::Str, Elem::Any])),
                _ => self.pick(&[Ty::Integer, Ty::Float, Ty::Str, Ty::Any, Ty::Boolean]),
            };
            fields.push((format!("f{index}_{i}"), ty));
        }
        let method = self.chance(60);
        match parent {
            Some(p) => self.line(&format!("class C{index} extends C{p} {{")),
            None => self.line(&format!("class C{index} {{")),
        }
        self.indent += 1;
        for (name, ty) in &fields {
            let text = format!("{name}: {}", ty.name());
            self.line(&text);
        }
        let all: Vec<(String, Ty)> = inherited.iter().chain(&fields).cloned().collect();
        let params: Vec<String> = all
            .iter()
            .enumerate()
            .map(|(i, (_, ty))| format!("p{i}: {}", ty.name()))
            .collect();
        self.line(&format!("constructor({}) {{", params.join(", ")));
        self.indent += 1;
        if parent.is_some() {
            let args: Vec<String> = (0..inherited.len()).map(|i| format!("p{i}")).collect();
            self.line(&format!("super({})", args.join(", ")));
        }
        for (i, (name, _)) in all.iter().enumerate().skip(inherited.len()) {
            self.line(&format!("this.{name} = p{i}"));
        }
        self.indent -= 1;
        self.line("}");
        self.classes.push(Class {
            fields: all,
            method,
            parent,
        });
        if method {
            self.line("m(a: integer): integer {");
            self.indent += 1;
            self.scopes.push(Vec::new());
            self.declare("a".into(), Ty::Integer, true);
            let saved = self.ret.replace(Ty::Integer);
            let field = self.classes[index]
                .fields
                .iter()
                .find(|f| f.1 == Ty::Integer)
                .map(|f| f.0.clone());
            if let Some(field) = field {
                let value = self.expr(Ty::Integer, 1);
                self.line(&format!("this.{field} += {value}"));
            }
            let value = self.expr(Ty::Integer, 2);
            self.line(&format!("return a + {value}"));
            self.ret = saved;
            self.scopes.pop();
            self.indent -= 1;
            self.line("}");
        }
        self.indent -= 1;
        self.line("}");
    }

    fn global(&mut self) {
        let ty = self.random_ty();
        let name = self.fresh("g");
        let value = self.expr(ty, 2);
        let keyword = if self.chance(30) { "const" } else { "let" };
        self.line(&format!("{keyword} {name}: {} = {value}", ty.name()));
        self.declare(name, ty, keyword == "let");
    }

    fn function(&mut self) {
        let name = self.fresh("fn");
        let params: Vec<Ty> = (0..self.rng.usize(0..3))
            .map(|_| self.random_ty())
            .collect();
        let ret = if self.chance(60) {
            Some(self.random_ty())
        } else {
            None
        };
        let list: Vec<String> = params
            .iter()
            .enumerate()
            .map(|(i, ty)| format!("a{i}: {}", ty.name()))
            .collect();
        let ret_text = ret.map_or(": void".to_string(), |ty| format!(": {}", ty.name()));
        self.line(&format!(
            "function {name}({}){ret_text} {{",
            list.join(", ")
        ));
        self.indent += 1;
        self.scopes.push(Vec::new());
        for (i, ty) in params.iter().enumerate() {
            self.declare(format!("a{i}"), *ty, true);
        }
        // Recursion is allowed: the function is known inside its body.
        self.functions.push(Function {
            name: name.clone(),
            params: params.clone(),
            ret,
        });
        let saved = std::mem::replace(&mut self.ret, ret);
        for _ in 0..self.rng.usize(0..4) {
            self.statement(2);
        }
        if let Some(ty) = ret {
            let value = self.expr(ty, 2);
            self.line(&format!("return {value}"));
        }
        self.ret = saved;
        self.scopes.pop();
        self.indent -= 1;
        self.line("}");
    }

    // ----- statements -----

    fn statement(&mut self, depth: usize) {
        let choice = if depth == 0 {
            self.rng.u32(0..4)
        } else {
            self.rng.u32(0..20)
        };
        match choice {
            0 => self.local(),
            1 => self.assignment(),
            2 => {
                let ty = self.random_ty();
                let value = self.expr(ty, 3);
                self.line(&format!("print({value})"));
            }
            3 => self.call_statement(),
            4 => {
                let cond = self.expr(Ty::Boolean, 2);
                self.block(&format!("if ({cond}) {{"), depth);
                if self.chance(50) {
                    self.block("} else {", depth);
                }
                self.line("}");
            }
            5 => {
                let i = self.fresh("i");
                let bound = self.rng.u32(0..5);
                let step = self.pick(&["++", "--"]);
                let (start, cond) = if step == "++" {
                    ("0".to_string(), format!("{i} < {bound}"))
                } else {
                    (bound.to_string(), format!("{i} > 0"))
                };
                self.scopes.push(Vec::new());
                self.declare(i.clone(), Ty::Integer, false);
                self.loop_block(
                    &format!("for (let {i} = {start}; {cond}; {i}{step}) {{"),
                    depth,
                );
                self.scopes.pop();
                self.line("}");
            }
            6 => {
                let n = self.fresh("n");
                let count = self.rng.u32(0..4);
                self.line(&format!("let {n} = {count}"));
                self.loop_block(&format!("while ({n} > 0) {{"), depth);
                self.indent += 1;
                self.line(&format!("{n} -= 1"));
                self.indent -= 1;
                self.line("}");
            }
            7 if !self.classes.is_empty() => self.narrowing(depth),
            8 => self.closure(),
            9 => self.array_statement(),
            10 if self.in_loop => {
                let what = self.pick(&["break", "continue"]);
                let cond = self.expr(Ty::Boolean, 1);
                self.line(&format!("if ({cond}) {{ {what} }}"));
            }
            13 => self.update_statement(),
            14 if !self.classes.is_empty() => self.dynamic_statement(),
            15 => {
                let n = self.fresh("n");
                let count = self.rng.u32(0..3);
                self.line(&format!("let {n} = {count}"));
                self.line("do {");
                self.indent += 1;
                self.line(&format!("{n} -= 1"));
                self.indent -= 1;
                self.loop_block("", depth);
                self.line(&format!("}} while ({n} > 0)"));
            }
            16 => self.enum_statement(),
            17 if self.ret.is_none() && self.scopes.len() == 1 => {
                // A timer at the top level, its callback a closure.
                let value = self.expr(Ty::Str, 2);
                self.line(&format!("setTimeout(() => {{ print({value}) }}, 1)"));
            }
            18 => {
                let a = self.random_ty();
                let b = self.random_ty();
                let (a, b) = (self.expr(a, 2), self.expr(b, 2));
                self.line(&format!("console.log({a}, {b})"));
            }
            19 => {
                let u = self.fresh("u");
                let n = self.rng.u32(1..5);
                self.line(&format!("let {u} = new Uint8Array({n}, 0)"));
                let value = self.expr(Ty::Integer, 1);
                self.line(&format!("{u}[0] = {value}"));
                self.line(&format!("{u}[{}] += 1", n - 1));
                self.line(&format!("print({u}[0] + {u}.length)"));
            }
            11 => {
                if let Some(ty) = self.ret {
                    let cond = self.expr(Ty::Boolean, 1);
                    let value = self.expr(ty, 2);
                    self.line(&format!("if ({cond}) {{ return {value} }}"));
                }
            }
            _ => {
                let value = self.expr(Ty::Any, 2);
                let name = self.fresh("d");
                self.line(&format!("let {name}: any = {value}"));
                self.declare(name, Ty::Any, true);
            }
        }
    }

    fn block(&mut self, head: &str, depth: usize) {
        self.line(head);
        self.indent += 1;
        self.scopes.push(Vec::new());
        for _ in 0..self.rng.usize(1..4) {
            self.statement(depth - 1);
        }
        self.scopes.pop();
        self.indent -= 1;
    }

    fn loop_block(&mut self, head: &str, depth: usize) {
        let saved = std::mem::replace(&mut self.in_loop, true);
        self.block(head, depth);
        self.in_loop = saved;
    }

    fn local(&mut self) {
        let ty = self.random_ty();
        let name = self.fresh("v");
        let value = self.expr(ty, 3);
        let mutable = self.chance(70);
        let keyword = if mutable { "let" } else { "const" };
        if self.chance(40) && !matches!(ty, Ty::Nullable(_) | Ty::Func) {
            // Inferred from the initializer: only where the initializer
            // says the type exactly.
            let exact = !matches!(ty, Ty::Array(_) | Ty::Any);
            if exact {
                self.line(&format!("{keyword} {name} = {value}"));
                self.declare(name, ty, mutable);
                return;
            }
        }
        self.line(&format!("{keyword} {name}: {} = {value}", ty.name()));
        self.declare(name, ty, mutable);
    }

    fn assignment(&mut self) {
        let ty = self.random_ty();
        let targets = self.vars_of(ty, true);
        if targets.is_empty() {
            return self.local();
        }
        let target = self
            .pick(&targets.iter().map(String::as_str).collect::<Vec<_>>())
            .to_string();
        match (ty, self.rng.u32(0..4)) {
            (Ty::Integer | Ty::Float | Ty::Any, 0) => {
                let op = self.pick(&["+=", "-=", "*="]);
                let value = self.expr(ty, 2);
                self.line(&format!("{target} {op} {value}"));
            }
            (Ty::Integer | Ty::Float | Ty::Any, 1) => {
                let op = self.pick(&["++", "--"]);
                self.line(&format!("{target}{op}"));
            }
            (Ty::Str, 0) => {
                let other = self.pick(&SIMPLE);
                let value = self.expr(other, 2);
                self.line(&format!("{target} += {value}"));
            }
            _ => {
                let value = self.expr(ty, 3);
                self.line(&format!("{target} = {value}"));
            }
        }
    }

    fn call_statement(&mut self) {
        if self.functions.is_empty() || self.chance(20) {
            let value = self.expr(Ty::Boolean, 1);
            self.line(&format!("led_set({value})"));
            return;
        }
        let index = self.rng.usize(0..self.functions.len());
        let call = self.call(index, 2);
        self.line(&call);
    }

    fn call(&mut self, index: usize, depth: usize) -> String {
        let params = self.functions[index].params.clone();
        let args: Vec<String> = params.iter().map(|ty| self.expr(*ty, depth)).collect();
        format!("{}({})", self.functions[index].name, args.join(", "))
    }

    /// `if (x != null) { x.f … }` on a nullable instance.
    fn narrowing(&mut self, depth: usize) {
        let class = self.rng.usize(0..self.classes.len());
        let name = self.fresh("o");
        let value = if self.chance(50) {
            "null".to_string()
        } else {
            self.expr(Ty::Class(class), 2)
        };
        self.line(&format!("let {name}: C{class} | null = {value}"));
        self.declare(name.clone(), Ty::Nullable(class), true);
        let test = self.pick(&["!= null", "!== null", "!== undefined"]);
        self.line(&format!("if ({name} {test}) {{"));
        self.indent += 1;
        self.scopes.push(Vec::new());
        let field = self.classes[class].fields[0].clone();
        self.line(&format!("print({name}.{})", field.0));
        if self.classes[class].method {
            let arg = self.expr(Ty::Integer, 1);
            self.line(&format!("print({name}.m({arg}))"));
        }
        if depth > 1 && self.chance(30) {
            // The narrowing ends here: later reads are checked again.
            self.line(&format!("{name} = null"));
        }
        self.scopes.pop();
        self.indent -= 1;
        self.line("}");
    }

    /// `a[0] += v`, `o.f++` and the like: updates of elements and fields.
    fn update_statement(&mut self) {
        let mut places: Vec<(String, Ty)> = Vec::new();
        for scope in &self.scopes {
            for var in scope {
                match var.ty {
                    Ty::Array(e @ (Elem::Integer | Elem::Float | Elem::Any)) => {
                        places.push((format!("{}[0]", var.name), e.ty()))
                    }
                    Ty::Class(class) => {
                        for (field, ty) in &self.classes[class].fields {
                            places.push((format!("{}.{field}", var.name), *ty));
                        }
                    }
                    Ty::Str if var.mutable => places.push((var.name.clone(), Ty::Str)),
                    _ => {}
                }
            }
        }
        if places.is_empty() {
            return self.local();
        }
        let (place, ty) = places.swap_remove(self.rng.usize(0..places.len()));
        let guard = match place.strip_suffix("[0]") {
            Some(array) => format!("if ({array}.length > 0) "),
            None => String::new(),
        };
        let update = match ty {
            Ty::Integer | Ty::Float | Ty::Any => match self.rng.u32(0..4) {
                0 => format!("{place}++"),
                1 => format!("--{place}"),
                2 => {
                    let value = self.expr(ty, 1);
                    format!("print({place}++ + {value})")
                }
                _ => {
                    let op = self.pick(&["+=", "-=", "*="]);
                    let value = self.expr(ty, 2);
                    format!("{place} {op} {value}")
                }
            },
            Ty::Str => {
                let other = self.pick(&SIMPLE);
                let value = self.expr(other, 2);
                format!("{place} += {value}")
            }
            _ => {
                let value = self.expr(ty, 2);
                format!("{place} = {value}")
            }
        };
        self.line(&format!("{guard}{{ {update} }}"));
    }

    /// Fields and methods of an instance reached through `any`.
    fn dynamic_statement(&mut self) {
        let class = self.rng.usize(0..self.classes.len());
        let d = self.fresh("dyn");
        let value = self.new_instance(class, 1);
        self.line(&format!("let {d}: any = {value}"));
        let (field, ty) = self.classes[class].fields[0].clone();
        let value = self.expr(ty, 1);
        self.line(&format!("{d}.{field} = {value}"));
        self.line(&format!("print({d}.{field})"));
        if matches!(ty, Ty::Integer | Ty::Float | Ty::Any) {
            self.line(&format!("{d}.{field}++"));
        }
        if self.has_method(class) {
            self.line(&format!("print({d}.m(2))"));
        }
        let back = self.fresh("back");
        self.line(&format!("const {back}: C{class} = {d}"));
        self.declare(back, Ty::Class(class), false);
        self.declare(d, Ty::Any, true);
    }

    fn enum_statement(&mut self) {
        let e = self.fresh("e");
        let member = self.pick(&["Red", "Green", "Blue"]);
        self.line(&format!("let {e}: Color = Color.{member}"));
        self.line(&format!("if ({e} == Color.Blue) {{ {e} = Color.Red }}"));
        let value = self.expr(Ty::Integer, 1);
        self.line(&format!("print({e} + {value})"));
    }

    /// A closure capturing a local, called.
    fn closure(&mut self) {
        let counter = self.fresh("c");
        let f = self.fresh("f");
        let start = self.rng.u32(0..10);
        self.line(&format!("let {counter} = {start}"));
        self.declare(counter.clone(), Ty::Integer, true);
        let body = self.expr(Ty::Integer, 2);
        if self.chance(50) {
            self.line(&format!(
                "const {f}: (a: integer) => integer = (a: integer): integer => {{ {counter} += a; return {body} }}"
            ));
        } else {
            self.line(&format!(
                "const {f} = (a: integer): integer => a + {counter} + {body}"
            ));
        }
        self.declare(f.clone(), Ty::Func, false);
        let arg = self.expr(Ty::Integer, 1);
        self.line(&format!("print({f}({arg}))"));
        match self.rng.u32(0..4) {
            0 => {
                // Closures made in a loop keep their own `i`; kept in an
                // array of functions, called later.
                let fs = self.fresh("fs");
                let i = self.fresh("i");
                self.line(&format!("let {fs}: any[] = []"));
                self.line(&format!(
                    "for (let {i} = 0; {i} < 3; {i}++) {{ {fs}.push((a: integer): integer => a + {i} + {counter}) }}"
                ));
                self.line(&format!(
                    "for (let {i} = 0; {i} < {fs}.length; {i}++) {{ print({fs}[{i}]({i})) }}"
                ));
            }
            1 => {
                // A closure inside a closure, both capturing.
                let g = self.fresh("g");
                let body = self.expr(Ty::Integer, 1);
                self.line(&format!(
                    "const {g} = (b: integer): (a: integer) => integer => {{ {counter}++; return (a: integer): integer => a * b + {counter} + {body} }}"
                ));
                self.line(&format!("print({g}(2)(3) + {f}(1))"));
            }
            2 => {
                // A closure through `any`, called with a checked argument.
                let h = self.fresh("h");
                self.line(&format!("const {h}: any = {f}"));
                self.line(&format!("print({h}(4))"));
                self.line(&format!("const {h}b: (a: integer) => integer = {h}"));
                self.declare(format!("{h}b"), Ty::Func, false);
            }
            _ => {}
        }
    }

    fn array_statement(&mut self) {
        let elem = self.random_elem();
        let ty = Ty::Array(elem);
        let arrays = self.vars_of(ty, false);
        let Some(array) = arrays.first().cloned() else {
            let name = self.fresh("arr");
            let value = self.expr(ty, 2);
            self.line(&format!("let {name}: {} = {value}", ty.name()));
            self.declare(name, ty, true);
            return;
        };
        let value = self.expr(elem.ty(), 2);
        match self.rng.u32(0..3) {
            0 => self.line(&format!(
                "if ({array}.length > 0) {{ {array}[0] = {value} }}"
            )),
            1 if matches!(elem, Elem::Str | Elem::Any | Elem::Class(_)) => {
                self.line(&format!("{array}.push({value})"))
            }
            _ => {
                let i = self.fresh("k");
                self.line(&format!(
                    "for (let {i} = 0; {i} < {array}.length; {i}++) {{ print({array}[{i}]) }}"
                ));
            }
        }
    }

    // ----- expressions -----

    /// An expression of type `ty` (or, once in an ill-typed program, of
    /// another type).
    fn expr(&mut self, ty: Ty, depth: usize) -> String {
        if self.mistake && self.chance(4) {
            self.mistake = false;
            let wrong = self.random_ty();
            return self.expr(wrong, depth.min(1));
        }
        let vars = self.vars_of(ty, false);
        if !vars.is_empty() && self.chance(35) {
            return self
                .pick(&vars.iter().map(String::as_str).collect::<Vec<_>>())
                .to_string();
        }
        if depth == 0 {
            return self.leaf(ty);
        }
        let d = depth - 1;
        match ty {
            Ty::Integer => match self.rng.u32(0..12) {
                0 => {
                    let op = self.pick(&["+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"]);
                    format!(
                        "({} {op} {})",
                        self.expr(Ty::Integer, d),
                        self.expr(Ty::Integer, d)
                    )
                }
                1 => format!("(-({}))", self.expr(Ty::Integer, d)),
                // A conversion: rare, so that most programs stay simple.
                2 if self.chance(25) => format!("({} as integer)", self.expr(Ty::Float, d)),
                3 => format!("{}.length", self.expr(Ty::Str, d)),
                4 => {
                    let e = self.pick(&[Elem::Integer, Elem::Str, Elem::Any]);
                    format!("{}.length", self.expr(Ty::Array(e), d))
                }
                5 => self.call_returning(ty, d),
                6 => self.field_of(ty),
                7 if self.chance(50) => format!("{}.charCodeAt(0)", self.expr(Ty::Str, d)),
                7 => format!(
                    "{}.indexOf({})",
                    self.expr(Ty::Str, d),
                    self.expr(Ty::Str, d)
                ),
                8 => format!(
                    "({} ? {} : {})",
                    self.expr(Ty::Boolean, d),
                    self.expr(Ty::Integer, d),
                    self.expr(Ty::Integer, d)
                ),
                9 => {
                    let funcs = self.vars_of(Ty::Func, false);
                    match funcs.first() {
                        Some(f) => format!("{f}({})", self.expr(Ty::Integer, d)),
                        None => self.leaf(ty),
                    }
                }
                10 => {
                    let objects = self.instances_with_method();
                    match objects.first() {
                        Some(o) => format!("{o}.m({})", self.expr(Ty::Integer, d)),
                        None => self.leaf(ty),
                    }
                }
                _ => self.leaf(ty),
            },
            Ty::Float => match self.rng.u32(0..8) {
                0 => {
                    let op = self.pick(&["+", "-", "*", "/"]);
                    format!(
                        "({} {op} {})",
                        self.expr(Ty::Float, d),
                        self.expr(Ty::Integer, d)
                    )
                }
                1 => format!("Math.sqrt({})", self.expr(Ty::Float, d)),
                2 => format!("({} as float)", self.expr(Ty::Integer, d)),
                3 => self.call_returning(ty, d),
                4 => self.field_of(ty),
                5 => format!("{}[0]", self.array_expr(Elem::Float, d)),
                _ => self.leaf(ty),
            },
            Ty::Boolean => match self.rng.u32(0..10) {
                0 => {
                    let op = self.pick(&["<", "<=", ">", ">=", "==", "!="]);
                    let t = self.pick(&[Ty::Integer, Ty::Float, Ty::Str]);
                    format!("({} {op} {})", self.expr(t, d), self.expr(t, d))
                }
                1 => {
                    let op = self.pick(&["&&", "||"]);
                    format!(
                        "({} {op} {})",
                        self.expr(Ty::Boolean, d),
                        self.expr(Ty::Boolean, d)
                    )
                }
                2 => format!("(!{})", self.expr(Ty::Boolean, d)),
                3 => self.call_returning(ty, d),
                5 => format!(
                    "{}.startsWith({})",
                    self.expr(Ty::Str, d),
                    self.expr(Ty::Str, d)
                ),
                6 => {
                    let objects: Vec<(String, usize)> = self
                        .scopes
                        .iter()
                        .flatten()
                        .filter_map(|v| match v.ty {
                            Ty::Class(c) | Ty::Nullable(c) => Some((v.name.clone(), c)),
                            _ => None,
                        })
                        .collect();
                    match objects.first() {
                        Some((name, _)) if !self.classes.is_empty() => {
                            let class = self.rng.usize(0..self.classes.len());
                            format!("({name} instanceof C{class})")
                        }
                        _ => self.leaf(ty),
                    }
                }
                7 => {
                    let nullable = self.vars_of_nullable_with_int_field();
                    match nullable.first() {
                        Some((name, field)) => format!("({name} != null && {name}.{field} > 0)"),
                        None => self.leaf(ty),
                    }
                }
                4 => match self.any_var() {
                    Some(var) => {
                        let other = self.any_var().unwrap_or_else(|| var.clone());
                        format!("({var} === {other})")
                    }
                    None => self.leaf(ty),
                },
                _ => self.leaf(ty),
            },
            Ty::Str => match self.rng.u32(0..6) {
                0 => {
                    let other = self.pick(&SIMPLE);
                    format!("({} + {})", self.expr(Ty::Str, d), self.expr(other, d))
                }
                1 => format!("{}.substring(0, 1)", self.expr(Ty::Str, d)),
                2 => self.call_returning(ty, d),
                3 => {
                    let other = self.pick(&SIMPLE);
                    format!("(typeof {})", self.expr(other, d))
                }
                _ => self.leaf(ty),
            },
            Ty::Any => match self.rng.u32(0..5) {
                0 => {
                    let other = self.random_ty();
                    self.expr(other, d)
                }
                // An operand whose static type is `any`: a variable.
                1 => match self.any_var() {
                    Some(var) => {
                        let op = self.pick(&["+", "-", "*"]);
                        format!("({var} {op} {})", self.expr(Ty::Integer, d))
                    }
                    None => self.leaf(ty),
                },
                2 => format!("{}[0]", self.array_expr(Elem::Any, d)),
                _ => self.leaf(ty),
            },
            Ty::Array(elem) => self.array_expr(elem, d),
            Ty::Class(class) if self.chance(20) => format!(
                "({} ? {} : {})",
                self.expr(Ty::Boolean, d),
                self.new_instance(class, d),
                self.new_instance(class, d)
            ),
            Ty::Class(class) => self.new_instance(class, d),
            Ty::Nullable(class) => {
                if self.chance(40) {
                    "null".into()
                } else {
                    self.new_instance(class, d)
                }
            }
            Ty::Func => {
                let body = self.expr(Ty::Integer, d);
                format!("((a: integer): integer => a * 2 + {body})")
            }
        }
    }

    fn leaf(&mut self, ty: Ty) -> String {
        match ty {
            Ty::Integer => self
                .pick(&["0", "1", "7", "-3", "42", "0x1f", "2147483647"])
                .into(),
            Ty::Float => self.pick(&["0.5", "1.0", "3.25", "-2.5", "1e3"]).into(),
            Ty::Boolean => self.pick(&["true", "false"]).into(),
            Ty::Str => self.pick(&["'a'", "\"bc\"", "''", "'é'"]).into(),
            Ty::Any => self
                .pick(&["1", "'s'", "null", "2.5", "true", "undefined"])
                .into(),
            other => self.expr(other, 1),
        }
    }

    fn array_expr(&mut self, elem: Elem, depth: usize) -> String {
        let ty = Ty::Array(elem);
        let vars = self.vars_of(ty, false);
        if let Some(v) = vars.first() {
            if self.chance(50) {
                return v.clone();
            }
        }
        let d = depth.saturating_sub(1);
        match self.rng.u32(0..3) {
            0 => {
                let n = self.rng.u32(1..4);
                let init = self.expr(elem.ty(), d);
                format!("new Array<{}>({n}, {init})", elem.ty().name())
            }
            _ => {
                // At least one element, of the element type exactly, so
                // the literal has the array's type.
                let items: Vec<String> = (0..self.rng.usize(1..4))
                    .map(|_| self.leaf(elem.ty()))
                    .collect();
                if elem == Elem::Any {
                    format!("new Array<any>({}, {})", items.len(), items[0])
                } else {
                    format!("[{}]", items.join(", "))
                }
            }
        }
    }

    fn new_instance(&mut self, class: usize, depth: usize) -> String {
        let vars = self.vars_of(Ty::Class(class), false);
        if let Some(v) = vars.first() {
            if self.chance(50) {
                return v.clone();
            }
        }
        let fields: Vec<Ty> = self.classes[class].fields.iter().map(|f| f.1).collect();
        let args: Vec<String> = fields
            .iter()
            .map(|ty| self.expr(*ty, depth.min(1)))
            .collect();
        format!("new C{class}({})", args.join(", "))
    }

    fn call_returning(&mut self, ty: Ty, depth: usize) -> String {
        let matching: Vec<usize> = (0..self.functions.len())
            .filter(|&i| self.functions[i].ret == Some(ty))
            .collect();
        if matching.is_empty() || depth == 0 {
            return self.leaf(ty);
        }
        let index = self.pick(&matching);
        self.call(index, depth - 1)
    }

    /// `obj.f` for a field of type `ty` of a variable holding an instance.
    fn field_of(&mut self, ty: Ty) -> String {
        let mut options = Vec::new();
        for scope in &self.scopes {
            for var in scope {
                if let Ty::Class(class) = var.ty {
                    for (field, field_ty) in &self.classes[class].fields {
                        if *field_ty == ty {
                            options.push(format!("{}.{field}", var.name));
                        }
                    }
                }
            }
        }
        match options.is_empty() {
            true => self.leaf(ty),
            false => self.rng.choice(options).expect("an option"),
        }
    }

    fn vars_of_nullable_with_int_field(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for var in self.scopes.iter().flatten() {
            if let Ty::Nullable(class) = var.ty {
                if let Some((field, _)) = self.classes[class]
                    .fields
                    .iter()
                    .find(|f| f.1 == Ty::Integer)
                {
                    out.push((var.name.clone(), field.clone()));
                }
            }
        }
        out
    }

    fn any_var(&mut self) -> Option<String> {
        let vars = self.vars_of(Ty::Any, false);
        (!vars.is_empty()).then(|| vars[self.rng.usize(0..vars.len())].clone())
    }

    fn instances_with_method(&self) -> Vec<String> {
        let mut out = Vec::new();
        for scope in &self.scopes {
            for var in scope {
                if let Ty::Class(class) = var.ty {
                    if self.has_method(class) {
                        out.push(var.name.clone());
                    }
                }
            }
        }
        out
    }

    fn has_method(&self, class: usize) -> bool {
        let info = &self.classes[class];
        info.method || info.parent.is_some_and(|p| self.has_method(p))
    }
}
