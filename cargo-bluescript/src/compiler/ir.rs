//! The typed intermediate representation the checker produces and the code
//! generator consumes. Every expression carries its static type; implicit
//! conversions are explicit nodes.

use super::diagnostic::Span;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ty {
    Integer,
    Float,
    Boolean,
    Void,
    /// Only string literals (and concatenations of them) as print arguments.
    String,
}

impl Ty {
    pub fn is_numeric(self) -> bool {
        matches!(self, Ty::Integer | Ty::Float)
    }

    /// The Rust type generated code uses for values of this type.
    pub fn rust(self) -> &'static str {
        match self {
            Ty::Integer => "i32",
            Ty::Float => "f32",
            Ty::Boolean => "bool",
            Ty::Void => "()",
            Ty::String => "&'static str",
        }
    }

    /// Name in signature records (`led_set(boolean):void`).
    pub fn record_name(self) -> &'static str {
        match self {
            Ty::Integer => "integer",
            Ty::Float => "float",
            Ty::Boolean => "boolean",
            Ty::Void => "void",
            Ty::String => "string",
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
}
