//! The typed intermediate representation the checker produces and the code
//! generator consumes. Every expression carries its static type; implicit
//! conversions are explicit nodes.

use super::diagnostic::{LineRange, SourceFile, Span};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ty {
    Integer,
    /// Exactly 32 bits: an integer that never converts to `any` (whose
    /// integers keep 30 bits).
    Int32,
    Float,
    Boolean,
    Void,
    /// A reference to an immutable string object (docs/values-and-heap.md):
    /// a static one in flash (a literal) or one in the heap.
    String,
    /// An enum (LANGUAGE.md §6): a subtype of integer, an `i32` at run time.
    Enum(Name),
    /// Any value, tagged (docs/values-and-heap.md, "The `any` word").
    Any,
    /// The type of `null` and `undefined`: converts to nullable types and
    /// `any` only.
    Null,
    /// `T[]`: a reference to an array object.
    Array(Interned<Ty>),
    Uint8Array,
    FixedArray,
    /// An instance of a class (qualified name) or of a subclass.
    Class(Name),
    /// A function type: a reference to a closure.
    Function(Interned<Signature>),
    /// `T | null`: a reference type (or 0).
    Nullable(Interned<Ty>),
}

impl Ty {
    pub fn is_numeric(self) -> bool {
        matches!(self, Ty::Integer | Ty::Float)
    }

    /// A value the collector must see: a reference (an object's address,
    /// maybe 0) or an `any`.
    pub fn is_reference(self) -> bool {
        !matches!(
            self,
            Ty::Integer | Ty::Int32 | Ty::Float | Ty::Boolean | Ty::Void | Ty::Enum(_)
        )
    }

    /// An integer or an enum: what generated code holds in an `i32`.
    pub fn is_integral(self) -> bool {
        matches!(self, Ty::Integer | Ty::Int32 | Ty::Enum(_))
    }

    /// A type that may be made nullable (LANGUAGE.md §1: classes, strings,
    /// arrays; function types too, which are references as well).
    pub fn is_object(self) -> bool {
        matches!(
            self,
            Ty::String
                | Ty::Array(_)
                | Ty::Uint8Array
                | Ty::FixedArray
                | Ty::Class(_)
                | Ty::Function(_)
        )
    }

    /// `T` of `T | null`, or the type itself.
    pub fn non_null(self) -> Ty {
        match self {
            Ty::Nullable(inner) => *inner,
            other => other,
        }
    }

    pub fn array(element: Ty) -> Ty {
        Ty::Array(Interned::new(element))
    }

    pub fn nullable(inner: Ty) -> Ty {
        match inner {
            Ty::Nullable(_) | Ty::Any | Ty::Null => inner,
            _ => Ty::Nullable(Interned::new(inner)),
        }
    }

    pub fn function(signature: Signature) -> Ty {
        Ty::Function(Interned::new(signature))
    }

    /// The Rust type generated code uses for values of this type.
    pub fn rust(self) -> &'static str {
        match self {
            Ty::Integer | Ty::Int32 | Ty::Enum(_) => "i32",
            Ty::Float => "f32",
            Ty::Boolean => "bool",
            Ty::Void => "()",
            _ => "u32",
        }
    }

    /// The driver signature record types (`led_set(boolean):void`).
    pub fn from_record_name(name: &str) -> Option<Ty> {
        Some(match name {
            "integer" => Ty::Integer,
            "float" => Ty::Float,
            "boolean" => Ty::Boolean,
            "void" => Ty::Void,
            "string" => Ty::String,
            _ => return None,
        })
    }
}

/// The type's name in messages, signature records and `typeof`
/// (`integer[]`, `Point | null`, `(integer) => void`); an enum's or a
/// class's is its name as declared.
impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Integer => f.write_str("integer"),
            Ty::Int32 => f.write_str("int32"),
            Ty::Float => f.write_str("float"),
            Ty::Boolean => f.write_str("boolean"),
            Ty::Void => f.write_str("void"),
            Ty::String => f.write_str("string"),
            Ty::Enum(name) | Ty::Class(name) => f.write_str(name.name()),
            Ty::Any => f.write_str("any"),
            Ty::Null => f.write_str("null"),
            Ty::Array(element) => match **element {
                Ty::Function(_) | Ty::Nullable(_) => write!(f, "({})[]", **element),
                element => write!(f, "{element}[]"),
            },
            Ty::Uint8Array => f.write_str("Uint8Array"),
            Ty::FixedArray => f.write_str("FixedArray"),
            Ty::Function(signature) => write!(f, "{}", **signature),
            Ty::Nullable(inner) => match **inner {
                Ty::Function(_) => write!(f, "({}) | null", **inner),
                inner => write!(f, "{inner} | null"),
            },
        }
    }
}

/// A value interned for the life of the process, so that types holding
/// types stay `Copy`: a session sees few distinct ones.
pub struct Interned<T: 'static>(&'static T);

impl<T> Clone for Interned<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Interned<T> {}

impl<T: PartialEq> PartialEq for Interned<T> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0) || self.0 == other.0
    }
}
impl<T: Eq> Eq for Interned<T> {}

impl<T: std::hash::Hash> std::hash::Hash for Interned<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl<T: fmt::Debug> fmt::Debug for Interned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T> std::ops::Deref for Interned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0
    }
}

/// The types that can be interned, each with its table.
pub trait Internable: Eq + std::hash::Hash + Sized + Send + 'static {
    fn table() -> &'static Mutex<HashSet<&'static Self>>;
}

impl Internable for Ty {
    fn table() -> &'static Mutex<HashSet<&'static Ty>> {
        static TABLE: std::sync::OnceLock<Mutex<HashSet<&'static Ty>>> = std::sync::OnceLock::new();
        TABLE.get_or_init(Default::default)
    }
}

impl Internable for Signature {
    fn table() -> &'static Mutex<HashSet<&'static Signature>> {
        static TABLE: std::sync::OnceLock<Mutex<HashSet<&'static Signature>>> =
            std::sync::OnceLock::new();
        TABLE.get_or_init(Default::default)
    }
}

impl<T: Internable + Sync> Interned<T> {
    pub fn new(value: T) -> Interned<T> {
        let mut table = T::table()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(existing) = table.get(&value) {
            return Interned(existing);
        }
        let leaked: &'static T = Box::leak(Box::new(value));
        table.insert(leaked);
        Interned(leaked)
    }
}

impl<T: Serialize> Serialize for Interned<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, T: Internable + Sync + Deserialize<'de>> Deserialize<'de> for Interned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Interned::new(T::deserialize(deserializer)?))
    }
}

/// The name of an enum or a class, qualified by its module like functions
/// are (`Color`, `util.bs:Color`). Interned, so that [`Ty`] stays `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(&'static str);

impl Name {
    pub fn new(qualified: &str) -> Name {
        static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
        let mut names = NAMES
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(name) = names.get(qualified) {
            return Name(name);
        }
        let name: &'static str = Box::leak(qualified.to_owned().into_boxed_str());
        names.insert(name);
        Name(name)
    }

    /// The qualified name (`util.bs:Color`).
    pub fn qualified(self) -> &'static str {
        self.0
    }

    /// The name as declared (`Color`).
    pub fn name(self) -> &'static str {
        self.0.rsplit(':').next().unwrap_or(self.0)
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Name::new(&String::deserialize(deserializer)?))
    }
}

/// A function's type: what callers compile against.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Signature {
    pub params: Vec<Ty>,
    pub ret: Ty,
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, p) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{p}")?;
        }
        write!(f, ") => {}", self.ret)
    }
}

#[derive(Clone, Debug)]
pub struct Program {
    pub globals: Vec<Global>,
    /// Top-level functions and lifted arrow functions, in source order.
    pub functions: Vec<Function>,
    /// The top-level statements, run once at start.
    pub main: Vec<Stmt>,
    /// Fingerprint of everything that is not a function body: globals and
    /// top-level statements. When it changes, a running program cannot be
    /// patched and must restart.
    pub top_level_fingerprint: u64,
    pub classes: Vec<Class>,
    /// Rust items from top-level `code` templates (LANGUAGE.md §10).
    pub native_items: Vec<String>,
    /// The script files, which `SourceSpan::file` indexes (the main
    /// script first).
    pub files: Vec<Arc<SourceFile>>,
    /// The type of the value the last shell cell prints as its answer (a
    /// `console.log` it ends with is no answer).
    pub answer: Option<Ty>,
}

/// A class as the code generator needs it: its descriptor and methods.
#[derive(Clone, Debug)]
pub struct Class {
    pub name: Name,
    pub superclass: Option<Name>,
    /// Every field, inherited ones first, in layout order (word 1…).
    pub fields: Vec<(String, Ty)>,
    /// Every method callable on an instance (inherited ones included):
    /// name, implementing function, signature (without `this`).
    pub methods: Vec<(String, String, Signature)>,
    /// The implementing function of each virtual method index.
    pub vtable: Vec<String>,
    /// The file that declares it (`Program::files`).
    pub file: u32,
}

impl Program {
    /// The file, lines and columns of `source`, if it is in this program.
    pub fn line_range(&self, source: SourceSpan) -> Option<LineRange<'_>> {
        let file = self.files.get(source.file as usize)?;
        Some(file.line_range(source.span))
    }

    pub fn function(&self, name: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.name == name)
    }
}

#[derive(Clone, Debug)]
pub struct Global {
    pub name: String,
    pub ty: Ty,
    /// The file that declares it (`Program::files`).
    pub file: u32,
    /// Declared `const`: only its declaration assigns it.
    pub is_const: bool,
}

#[derive(Clone, Debug)]
pub struct Function {
    /// Script-visible name; lifted arrows are named `<enclosing>$<n>`.
    pub name: String,
    pub params: Vec<(String, Ty)>,
    pub signature: Signature,
    pub body: Vec<Stmt>,
    /// Hash of the function's source text: an edit changes it.
    pub fingerprint: u64,
    /// Script functions this one refers to (calls or timer callbacks).
    pub references: Vec<String>,
    pub span: Span,
    /// The file `span` is in (`Program::files`).
    pub file: u32,
    /// `file:line:col` of the declaration, for run-time errors.
    pub location: String,
    /// A lifted arrow function: its first parameter is the closure, which
    /// holds the captured cells.
    pub is_closure: bool,
    /// Parameters that closures capture: moved into cells on entry.
    pub boxed_params: Vec<String>,
}

/// A statement and the code it comes from.
#[derive(Clone, Debug)]
pub struct Stmt {
    pub kind: StmtKind,
    pub source: SourceSpan,
}

/// Where in the program's files code is: the file's index in
/// `Program::files` and a byte range of its text, which
/// `Program::line_range` turns into lines and columns (a debugger's line
/// table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SourceSpan {
    pub file: u32,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum StmtKind {
    Let {
        name: String,
        ty: Ty,
        init: Option<Expr>,
        /// Captured by closures: the variable is a cell.
        boxed: bool,
    },
    Expr(Expr),
    If {
        cond: Expr,
        then: Vec<Stmt>,
        otherwise: Vec<Stmt>,
    },
    /// `while`, `do … while` and `for`, with a label per loop so that
    /// `continue` in a `for` body still runs the step.
    Loop {
        label: u32,
        /// Checked before each iteration (`while`, `for`) or after it (`do`).
        cond: Option<Expr>,
        cond_after_body: bool,
        body: Vec<Stmt>,
        step: Option<Expr>,
        /// Variables of a `for` that closures capture: each iteration gets
        /// a new cell, holding the value the last one ended with.
        fresh: Vec<(String, Ty)>,
    },
    Break(u32),
    Continue(u32),
    Return(Option<Expr>),
    Block(Vec<Stmt>),
    Print {
        to_stderr: bool,
        pieces: Vec<PrintPiece>,
    },
}

#[derive(Clone, Debug)]
pub enum CodePiece {
    Text(String),
    Place(Place, Ty),
}

#[derive(Clone, Debug)]
pub enum PrintPiece {
    Text(String),
    Value(Expr),
    Space,
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Ty,
}

/// Where a value is stored: what `Read`, `Assign` and `Update` work on.
#[derive(Clone, Debug)]
pub enum Place {
    Local(String),
    Global(String),
    /// A local that closures capture: its Rust variable holds a cell (a
    /// raw cell for integers, floats and booleans), shared with them.
    Cell(String),
    /// Captured variable `n` of the running closure: a cell.
    Captured(u32),
    /// An element of a typed array (not `any[]`), bounds-checked.
    Element {
        array: Box<Expr>,
        index: Box<Expr>,
        location: String,
    },
    /// A field of an instance, at this word offset (1 = the first field).
    Field {
        object: Box<Expr>,
        offset: u32,
    },
    /// A static property of a class: a global.
    Static(String),
    /// `a[i]` of an `any[]` (any array at run time) or of an `any`
    /// (`index` is then an `any`): checked at run time.
    DynamicElement {
        array: Box<Expr>,
        index: Box<Expr>,
        location: String,
    },
    /// `o.name` of an `any`: looked up by name at run time.
    DynamicProperty {
        object: Box<Expr>,
        name: String,
        location: String,
    },
}

impl Place {
    /// A place of a variable: reading it has no side effects.
    pub fn is_variable(&self) -> bool {
        matches!(
            self,
            Place::Local(_)
                | Place::Global(_)
                | Place::Cell(_)
                | Place::Captured(_)
                | Place::Static(_)
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Shl,
    Shr,
    UShr,
    BitAnd,
    BitOr,
    BitXor,
}

/// The functions of `Math` (LANGUAGE.md §9). `Abs`, `Min` and `Max` take
/// integers when the expression's type is integer; every other one takes
/// and returns floats. `Min`/`Max` of more than two values are nested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MathFn {
    Sqrt,
    Abs,
    Floor,
    Ceil,
    Round,
    Min,
    Max,
    Sin,
    Cos,
    Tan,
    Atan2,
    Exp,
    Log,
    Pow,
}

impl MathFn {
    pub fn from_name(name: &str) -> Option<MathFn> {
        Some(match name {
            "sqrt" => MathFn::Sqrt,
            "abs" => MathFn::Abs,
            "floor" => MathFn::Floor,
            "ceil" => MathFn::Ceil,
            "round" => MathFn::Round,
            "min" => MathFn::Min,
            "max" => MathFn::Max,
            "sin" => MathFn::Sin,
            "cos" => MathFn::Cos,
            "tan" => MathFn::Tan,
            "atan2" => MathFn::Atan2,
            "exp" => MathFn::Exp,
            "log" => MathFn::Log,
            "pow" => MathFn::Pow,
            _ => return None,
        })
    }

    /// The runtime function computing it on floats (docs/device-abi.md).
    pub fn runtime_symbol(self) -> &'static str {
        match self {
            MathFn::Sqrt => "bs_math_sqrt",
            MathFn::Abs => "bs_math_abs",
            MathFn::Floor => "bs_math_floor",
            MathFn::Ceil => "bs_math_ceil",
            MathFn::Round => "bs_math_round",
            MathFn::Min => "bs_math_min",
            MathFn::Max => "bs_math_max",
            MathFn::Sin => "bs_math_sin",
            MathFn::Cos => "bs_math_cos",
            MathFn::Tan => "bs_math_tan",
            MathFn::Atan2 => "bs_math_atan2",
            MathFn::Exp => "bs_math_exp",
            MathFn::Log => "bs_math_log",
            MathFn::Pow => "bs_math_pow",
        }
    }

    /// How many floats the runtime function takes.
    pub fn arity(self) -> usize {
        match self {
            MathFn::Min | MathFn::Max | MathFn::Atan2 | MathFn::Pow => 2,
            _ => 1,
        }
    }

    pub const ALL: [MathFn; 14] = [
        MathFn::Sqrt,
        MathFn::Abs,
        MathFn::Floor,
        MathFn::Ceil,
        MathFn::Round,
        MathFn::Min,
        MathFn::Max,
        MathFn::Sin,
        MathFn::Cos,
        MathFn::Tan,
        MathFn::Atan2,
        MathFn::Exp,
        MathFn::Log,
        MathFn::Pow,
    ];
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Not,
    BitNot,
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    Int(i32),
    Float(f32),
    Bool(bool),
    Read(Place),
    /// `place = value`; evaluates to the stored value.
    Assign(Place, Box<Expr>),
    /// `++`/`--`; evaluates to the old value when postfix.
    Update {
        place: Place,
        increment: bool,
        prefix: bool,
        /// Where a run-time error of an `any` operand is reported.
        location: String,
    },
    Unary(UnOp, Box<Expr>),
    /// Operands already converted to `operand_ty`; `location` is where a
    /// run-time error (division by zero) is reported.
    Binary {
        op: BinOp,
        operand_ty: Ty,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        location: String,
    },
    /// `&&` / `||` on operands of this expression's type.
    Logical {
        and: bool,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Conditional {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    /// Truthiness test of any value (LANGUAGE.md §1: 0, 0.0, NaN, false are falsy).
    Truthy(Box<Expr>),
    IntToFloat(Box<Expr>),
    /// A float truncated toward zero to this expression's integer type.
    FloatToInt(Box<Expr>),
    CallScript {
        name: String,
        signature: Signature,
        args: Vec<Expr>,
    },
    CallExport {
        name: String,
        args: Vec<Expr>,
    },
    TimeNow,
    TimeDelay(Box<Expr>),
    StartTimer {
        callback: String,
        ms: Box<Expr>,
        repeat: bool,
    },
    /// `setTimeout`/`setInterval` of a function value (a closure).
    StartClosureTimer {
        closure: Box<Expr>,
        ms: Box<Expr>,
        repeat: bool,
    },
    ClearTimer(Box<Expr>),
    /// `Math.f(args)`: on integers (`abs`, `min`, `max` of integers, when
    /// this expression is an integer) or on floats.
    Math(MathFn, Vec<Expr>),
    /// `typeof operand`: the operand (if it is a value) is evaluated for
    /// its side effects; the result is the name of its static type (a
    /// `string`).
    TypeOf(Option<Box<Expr>>, String),
    /// A string literal: a static string object.
    Str(String),
    /// `null` / `undefined`: 0.
    Null,
    /// The current value of the place being assigned (`x` in `x += 1`).
    Current,
    /// A reference (or `null`) seen as a supertype, a nullable type or `any`:
    /// the same word.
    Retyped(Box<Expr>),
    /// A value converted to `any`.
    ToAny(Box<Expr>),
    /// An `any` converted to this expression's type, checked at run time.
    FromAny(Box<Expr>, String),
    /// `x == null` (or `!=` when `negated`) of a reference or `any`.
    IsNull {
        value: Box<Expr>,
        negated: bool,
    },
    /// An array literal of this expression's (array) type.
    ArrayLiteral(Vec<Expr>, String),
    /// `new Array<T>(n, init)`, `new Uint8Array(n)`, `new FixedArray(n)`.
    NewArray {
        length: Box<Expr>,
        init: Option<Box<Expr>>,
        location: String,
    },
    /// `new Array<T>(other)`: a checked copy; with `or_length`, an
    /// integer `source` (an `any`) is the length of a new zeroed array.
    CopyArray {
        source: Box<Expr>,
        location: String,
        or_length: bool,
    },
    /// `a.length` of an array (not `any`).
    ArrayLength(Box<Expr>),
    /// `new C(args)`: allocation, then the constructor (qualified name
    /// `C.constructor`, if the class has one).
    New {
        class: Name,
        constructor: Option<String>,
        args: Vec<Expr>,
        location: String,
    },
    /// A method call: `object.m(args)` with `object` an instance of a
    /// class. `vtable` is the method's index when it is overridden
    /// somewhere (virtual dispatch through the class descriptor), `None`
    /// for a direct call of `function`.
    CallMethod {
        function: String,
        vtable: Option<u32>,
        signature: Signature,
        object: Box<Expr>,
        args: Vec<Expr>,
    },
    /// A call of a function value (a closure).
    CallClosure {
        callee: Box<Expr>,
        signature: Signature,
        args: Vec<Expr>,
    },
    /// A closure of the lifted function `function`, capturing these
    /// cells (`Read` of `Place::Cell` / `Place::Captured`, as cells).
    Closure {
        function: String,
        captures: Vec<Place>,
        location: String,
    },
    /// A run-time lookup (`bs_any_call`, `bs_any_call_method`): the
    /// receiver, the member name if any, then the arguments (values) as
    /// an array; the result is an `any`.
    DynamicCall {
        symbol: &'static str,
        receiver: Box<Expr>,
        name: Option<String>,
        args: Vec<Expr>,
        location: String,
    },
    /// `x instanceof T`.
    InstanceOf(Box<Expr>, Ty),
    /// `code` template: Rust text with places spliced in.
    Code(Vec<CodePiece>),
    /// A call of a runtime entry point (`bs_string_concat`, …) with these
    /// arguments, followed by the location (`loc`) when there is one.
    Runtime {
        symbol: &'static str,
        args: Vec<Expr>,
        location: Option<String>,
    },
}
