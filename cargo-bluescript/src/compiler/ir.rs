//! The typed intermediate representation the checker produces and the code
//! generator consumes. Every expression carries its static type; implicit
//! conversions are explicit nodes.

use super::diagnostic::Span;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ty {
    Integer,
    Float,
    Boolean,
    Void,
    /// A reference to an immutable string object (docs/values-and-heap.md):
    /// a static one in flash (a literal) or one in the heap.
    String,
    /// An enum (LANGUAGE.md §6): a subtype of integer, an `i32` at run time.
    Enum(EnumName),
}

impl Ty {
    pub fn is_numeric(self) -> bool {
        matches!(self, Ty::Integer | Ty::Float)
    }

    /// A reference (an object's address): what the collector must see.
    pub fn is_reference(self) -> bool {
        matches!(self, Ty::String)
    }

    /// An integer or an enum: what generated code holds in an `i32`.
    pub fn is_integral(self) -> bool {
        matches!(self, Ty::Integer | Ty::Enum(_))
    }

    /// The Rust type generated code uses for values of this type.
    pub fn rust(self) -> &'static str {
        match self {
            Ty::Integer | Ty::Enum(_) => "i32",
            Ty::Float => "f32",
            Ty::Boolean => "bool",
            Ty::Void => "()",
            Ty::String => "u32",
        }
    }

    /// Name in signature records (`led_set(boolean):void`) and messages;
    /// an enum's is its name as declared.
    pub fn record_name(self) -> &'static str {
        match self {
            Ty::Integer => "integer",
            Ty::Float => "float",
            Ty::Boolean => "boolean",
            Ty::Void => "void",
            Ty::String => "string",
            Ty::Enum(name) => name.name(),
        }
    }

    pub fn from_record_name(name: &str) -> Option<Ty> {
        Some(match name {
            "integer" => Ty::Integer,
            "float" => Ty::Float,
            "boolean" => Ty::Boolean,
            "void" => Ty::Void,
            _ => return None,
        })
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.record_name())
    }
}

/// The name of an enum type, qualified by its module like functions are
/// (`Color`, `util.bs:Color`). Interned, so that [`Ty`] stays `Copy`: the
/// few distinct names a session sees live as long as the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnumName(&'static str);

impl EnumName {
    pub fn new(qualified: &str) -> EnumName {
        static NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
        let mut names = NAMES
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(name) = names.get(qualified) {
            return EnumName(name);
        }
        let name: &'static str = Box::leak(qualified.to_owned().into_boxed_str());
        names.insert(name);
        EnumName(name)
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

impl Serialize for EnumName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for EnumName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(EnumName::new(&String::deserialize(deserializer)?))
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
}

impl Program {
    pub fn function(&self, name: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.name == name)
    }
}

#[derive(Clone, Debug)]
pub struct Global {
    pub name: String,
    pub ty: Ty,
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
    /// `file:line:col` of the declaration, for run-time errors.
    pub location: String,
}

#[derive(Clone, Debug)]
pub enum Stmt {
    Let {
        name: String,
        ty: Ty,
        init: Option<Expr>,
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    Local(String),
    Global(String),
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
    /// A call of a runtime entry point (`bs_string_concat`, …) with these
    /// arguments, followed by the location (`loc`) when there is one.
    Runtime {
        symbol: &'static str,
        args: Vec<Expr>,
        location: Option<String>,
    },
}
