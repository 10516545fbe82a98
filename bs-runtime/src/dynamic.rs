//! Operations on values whose static type is `any`: arithmetic,
//! comparison, property access, method calls, calls and indexing, with
//! the operand types checked at run time (docs/values-and-heap.md,
//! "Dynamic operations"). The compiler calls these only where an operand
//! is `any`; typed code never goes through them.
//!
//! Members are found by name in the class's member table
//! ([`ClassDescriptor::members`]); methods and closures are called through
//! compiler-generated adapters that take boxed arguments ([`DynamicFn`]).
//!
//! This file uses `core` and the crate's portable modules only.

use core::cmp::Ordering;
use core::fmt;

use crate::array;
use crate::convert;
use crate::error::{self, Expected};
use crate::heap::Mutator;
use crate::object::{
    Descriptor, DynamicFn, Kind, Member, Obj, ValueType, MEMBER_ANY, MEMBER_BOOL, MEMBER_FLOAT,
    MEMBER_INT, MEMBER_METHOD, MEMBER_NULLABLE, MEMBER_REF,
};
use crate::string;
use crate::value::Value;
use bluescript_abi::object::{
    CACHE_ENTRIES, CACHE_KIND_BITS, LOOKUP_ENTRY_WORDS, STORE_ENTRY_WORDS,
};

pub use bluescript_abi::{ArithOp, CompareOp};

/// What a dynamic operation can fail with: the errors of the value
/// operations it builds on, and its own. (Few variants, each message
/// written by one piece of code: this is flash.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    Value(error::Error),
    /// A message without parameters: [`DIVISION_BY_ZERO`],
    /// [`REMAINDER_BY_ZERO`], [`FLOAT_REMAINDER`].
    Message(&'static str),
    /// An operator applied to operands it does not take (`b` is `None`
    /// for a unary operator).
    Operands {
        operator: &'static str,
        a: Value,
        b: Option<Value>,
    },
    /// A member that `found` does not have, or cannot have set.
    Member {
        access: Access,
        name: &'static str,
        found: Value,
    },
    /// Calling a value that is not a function.
    NotAFunction(Value),
    /// A built-in method called with the wrong number of arguments.
    Arity {
        name: &'static str,
        takes: &'static str,
        found: usize,
    },
}

pub const DIVISION_BY_ZERO: &str = "integer division by zero";
pub const REMAINDER_BY_ZERO: &str = "integer remainder by zero";
pub const FLOAT_REMAINDER: &str = "`%` needs integers, found float";

/// What was done with a member, for [`Error::Member`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read (also: set a field that an instance does not have; a method
    /// is not a property either).
    Get,
    /// Set a property of a value that is not an instance.
    Set,
    /// Call a method.
    Call,
}

impl From<error::Error> for Error {
    fn from(e: error::Error) -> Error {
        Error::Value(e)
    }
}

pub type Result<T> = core::result::Result<T, Error>;

fn write_parts(f: &mut fmt::Formatter<'_>, parts: &[&str]) -> fmt::Result {
    parts.iter().try_for_each(|part| f.write_str(part))
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Value(e) => e.fmt(f),
            Error::Message(text) => f.write_str(text),
            // "`-` cannot be applied to boolean and integer"
            Error::Operands { operator, a, b } => {
                write_parts(f, &["`", operator, "` cannot be applied to "])?;
                ValueType(a).fmt(f)?;
                match b {
                    Some(b) => {
                        f.write_str(" and ")?;
                        ValueType(b).fmt(f)
                    }
                    None => Ok(()),
                }
            }
            // "no property `foo` on Point", "cannot read property `foo` of
            // undefined"
            Error::Member {
                access,
                name,
                found,
            } => {
                let (verb, preposition) = match (access, found.is_undefined()) {
                    (Access::Get, false) => ("no property `", "` on "),
                    (Access::Get, true) => ("cannot read property `", "` of "),
                    (Access::Set, _) => ("cannot set property `", "` of "),
                    (Access::Call, false) => ("no method `", "` on "),
                    (Access::Call, true) => ("cannot call method `", "` of "),
                };
                write_parts(f, &[verb, name, preposition])?;
                ValueType(found).fmt(f)
            }
            Error::NotAFunction(v) => {
                f.write_str("`")?;
                ValueType(v).fmt(f)?;
                f.write_str("` is not a function")
            }
            // "`substring` takes 1 or 2 arguments, found 3"
            Error::Arity { name, takes, found } => {
                write_parts(f, &["`", name, "` takes ", takes, ", found "])?;
                fmt::Display::fmt(&found, f)
            }
        }
    }
}

/// `base ** exponent` of integers, exactly (wrapping like the other
/// integer operations); a negative exponent gives the integer part of
/// the fraction: 1 for base 1, ±1 for base -1, else 0.
pub fn pow_i32(base: i32, exponent: i32) -> i32 {
    if exponent < 0 {
        return match base {
            1 => 1,
            -1 if exponent & 1 == 0 => 1,
            -1 => -1,
            _ => 0,
        };
    }
    let (mut r, mut f, mut e) = (1i32, base, exponent as u32);
    while e > 0 {
        if e & 1 == 1 {
            r = r.wrapping_mul(f);
        }
        f = f.wrapping_mul(f);
        e >>= 1;
    }
    r
}

fn string_of(v: Value) -> Option<Obj> {
    convert::to_string_object(v).ok()
}

/// `a op b` with `op` the code of an [`ArithOp`]: integer arithmetic
/// (wrapping; `/` truncates) for two integers, `f32` arithmetic when a
/// float is involved, concatenation for `+` with a string on either side.
/// `pow` is the float `**` (the device's `bs_math_pow`).
pub fn arith(
    m: &mut impl Mutator,
    op: u32,
    a: Value,
    b: Value,
    pow: fn(f32, f32) -> f32,
) -> Result<Value> {
    let Some(op) = ArithOp::from_word(op) else {
        return Err(unknown_operator(a, b));
    };
    let mismatch = Error::Operands {
        operator: op.symbol(),
        a,
        b: Some(b),
    };
    if let (Some(x), Some(y)) = (a.as_int(), b.as_int()) {
        let r = match op {
            ArithOp::Add => x.wrapping_add(y),
            ArithOp::Sub => x.wrapping_sub(y),
            ArithOp::Mul => x.wrapping_mul(y),
            ArithOp::Div if y == 0 => return Err(Error::Message(DIVISION_BY_ZERO)),
            ArithOp::Div => x.wrapping_div(y),
            ArithOp::Rem if y == 0 => return Err(Error::Message(REMAINDER_BY_ZERO)),
            ArithOp::Rem => x.wrapping_rem(y),
            ArithOp::Pow => pow_i32(x, y),
        };
        return Ok(Value::from_int(r));
    }
    if let (Some(x), Some(y)) = (a.as_number(), b.as_number()) {
        let r = match op {
            ArithOp::Add => x + y,
            ArithOp::Sub => x - y,
            ArithOp::Mul => x * y,
            ArithOp::Div => x / y,
            ArithOp::Rem => return Err(Error::Message(FLOAT_REMAINDER)),
            ArithOp::Pow => pow(x, y),
        };
        return Ok(Value::from_float(r));
    }
    if op == ArithOp::Add && (string_of(a).is_some() || string_of(b).is_some()) {
        return concat(m, a, b);
    }
    Err(mismatch)
}

/// `a + b` where one side is a string: the other converted as `String()`
/// does.
fn concat(m: &mut impl Mutator, a: Value, b: Value) -> Result<Value> {
    m.hold(b);
    let sa = convert::to_string(m, a);
    m.release(b);
    let sa = sa?;
    m.hold(sa);
    let sb = convert::to_string(m, b);
    m.release(sa);
    let sb = sb?;
    // SAFETY: `to_string` returns strings.
    let (sa, sb) = unsafe { (Obj::from_address(sa.0), Obj::from_address(sb.0)) };
    Ok(string::concat(m, sa, sb)?)
}

/// `a op b` with `op` the code of a [`CompareOp`]: numbers (as `f32` when
/// one is a float; false with NaN) or two strings (UTF-16 order).
pub fn compare(op: u32, a: Value, b: Value) -> Result<bool> {
    let Some(op) = CompareOp::from_word(op) else {
        return Err(unknown_operator(a, b));
    };
    let mismatch = Error::Operands {
        operator: op.symbol(),
        a,
        b: Some(b),
    };
    let order = if let (Some(x), Some(y)) = (a.as_int(), b.as_int()) {
        Some(x.cmp(&y))
    } else if let (Some(x), Some(y)) = (a.as_number(), b.as_number()) {
        x.partial_cmp(&y)
    } else if let (Some(x), Some(y)) = (string_of(a), string_of(b)) {
        Some(string::compare(x, y))
    } else {
        return Err(mismatch);
    };
    Ok(order.is_some_and(|o| match op {
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
    }))
}

/// An op code that no operator has (generated code never passes one).
fn unknown_operator(a: Value, b: Value) -> Error {
    Error::Operands {
        operator: "?",
        a,
        b: Some(b),
    }
}

fn unary(operator: &'static str, v: Value) -> Error {
    Error::Operands {
        operator,
        a: v,
        b: None,
    }
}

/// `-v`.
pub fn neg(v: Value) -> Result<Value> {
    if let Some(i) = v.as_int() {
        Ok(Value::from_int(i.wrapping_neg()))
    } else if let Some(f) = v.as_float() {
        Ok(Value::from_float(-f))
    } else {
        Err(unary("-", v))
    }
}

/// `~v`.
pub fn bitnot(v: Value) -> Result<Value> {
    match v.as_int() {
        Some(i) => Ok(Value::from_int(!i)),
        None => Err(unary("~", v)),
    }
}

fn object(v: Value) -> Option<Obj> {
    // SAFETY: reference values point to valid objects.
    unsafe { Obj::from_value(v) }
}

/// The field called `name` of the instance `obj`: its member and word.
fn field(obj: Obj, name: &str) -> Option<(&'static Member, usize)> {
    let class = obj.class()?;
    let member = class.member(name)?;
    Some((member, obj.field(class, member)?))
}

/// A field's word as a value, boxed by the field's kind.
fn box_field(kind: usize, word: usize) -> Value {
    match kind {
        MEMBER_INT => Value::from_int(word as u32 as i32),
        MEMBER_FLOAT => Value::from_float(f32::from_bits(word as u32)),
        MEMBER_BOOL => Value::from_bool(word != 0),
        _ => Value(word),
    }
}

/// A property site's inline cache, static data of generated code (see
/// [`CACHE_KIND_BITS`]): [`CACHE_ENTRIES`] entries of `WORDS` words, each
/// a class descriptor (or `CACHE_EMPTY`) and the member the site found on
/// an instance of that class. The operations that take one remember the
/// member they found, and generated code uses it for the next instances
/// of that class without asking the runtime.
#[derive(Debug)]
#[repr(C)]
pub struct InlineCache<const WORDS: usize> {
    pub entries: [[usize; WORDS]; CACHE_ENTRIES],
}

/// The cache of a read or a method call: a field's
/// `offset << CACHE_KIND_BITS | kind`, or a method's adapter.
pub type LookupCache = InlineCache<LOOKUP_ENTRY_WORDS>;
/// The cache of a store: a field's `offset << CACHE_KIND_BITS | kind`, and
/// its member's `target` (with which generated code checks a reference).
pub type StoreCache = InlineCache<STORE_ENTRY_WORDS>;

impl<const WORDS: usize> InlineCache<WORDS> {
    /// Remembers `entry` (whose first word is a descriptor) in place of
    /// the entry of the same class, else first, the others moving down
    /// one place (the last is forgotten): empty entries fill in order,
    /// and then the class remembered longest ago makes room.
    fn remember(&mut self, entry: [usize; WORDS]) {
        let at = match self.entries.iter().position(|e| e[0] == entry[0]) {
            Some(at) => at,
            None => {
                self.entries.copy_within(..CACHE_ENTRIES - 1, 1);
                0
            }
        };
        self.entries[at] = entry;
    }
}

/// The descriptor word that an inline cache entry for `obj` starts with.
fn cache_key(obj: Obj) -> usize {
    obj.descriptor() as *const Descriptor as usize
}

/// A field's `offset << CACHE_KIND_BITS | kind`.
fn cached_field(member: &Member) -> usize {
    member.offset << CACHE_KIND_BITS | member.kind
}

/// `v.name`: a field of an instance, or the `length` of a string or an
/// array. A field found is remembered in `cache`.
pub fn get(v: Value, name: &'static str, cache: &mut LookupCache) -> Result<Value> {
    if let Some(obj) = object(v) {
        let kind = obj.kind();
        if let Some((member, word)) = field(obj, name) {
            cache.remember([cache_key(obj), cached_field(member)]);
            return Ok(box_field(member.kind, word));
        }
        if name == "length" && kind == Kind::String {
            return Ok(Value::from_int(string::length(obj) as i32));
        }
        if name == "length" && kind.is_array() {
            return Ok(Value::from_int(array::length(obj) as i32));
        }
    }
    Err(Error::Member {
        access: Access::Get,
        name,
        found: v,
    })
}

/// `v.name = value` of a field of an instance, `value` checked against
/// the field's type (a float field accepts an integer, converted). The
/// field is remembered in `cache`.
pub fn set(v: Value, name: &'static str, value: Value, cache: &mut StoreCache) -> Result<()> {
    let Some(obj) = object(v).filter(|o| o.kind() == Kind::Instance) else {
        return Err(Error::Member {
            access: Access::Set,
            name,
            found: v,
        });
    };
    let Some((member, _)) = field(obj, name) else {
        return Err(Error::Member {
            access: Access::Get,
            name,
            found: v,
        });
    };
    cache.remember([cache_key(obj), cached_field(member), member.target as usize]);
    // SAFETY: the target of a reference field is a static descriptor.
    let target = || unsafe { &*member.target.cast::<Descriptor>() };
    let word = match member.kind {
        MEMBER_ANY => Ok(value.0),
        MEMBER_INT => value
            .as_int()
            .map(|i| i as u32 as usize)
            .ok_or(Expected::Integer),
        MEMBER_FLOAT => value
            .as_number()
            .map(|f| f.to_bits() as usize)
            .ok_or(Expected::Float),
        MEMBER_BOOL => value.as_bool().map(usize::from).ok_or(Expected::Boolean),
        MEMBER_NULLABLE if value.is_undefined() => Ok(0),
        // A field of type `null`: nothing else fits.
        MEMBER_NULLABLE if member.target.is_null() => Err(Expected::Null),
        MEMBER_REF | MEMBER_NULLABLE if convert::instance_of(value, target()) => Ok(value.0),
        _ => Err(Expected::Type(target())), // MEMBER_REF, MEMBER_NULLABLE
    };
    let word = word.map_err(|expected| error::Error::Expected {
        expected,
        found: value,
    })?;
    obj.set_word(member.offset, word);
    Ok(())
}

/// The `argc` values at `args`.
///
/// # Safety
/// `args` must point to `argc` values (or `argc` be 0).
unsafe fn arguments<'a>(args: *const Value, argc: usize) -> &'a [Value] {
    if argc == 0 || args.is_null() {
        return &[];
    }
    // SAFETY: by the caller's contract.
    unsafe { core::slice::from_raw_parts(args, argc) }
}

/// The built-in methods an `any` reaches on strings and on arrays.
const STRING_METHODS: [&str; 5] = [
    "startsWith",
    "endsWith",
    "indexOf",
    "charCodeAt",
    "substring",
];
const ARRAY_METHODS: [&str; 4] = ["push", "unshift", "pop", "shift"];

/// `v.name(args…)`: a method of an instance (through its adapter), a
/// field of an instance holding a function, or a built-in method of a
/// string or an array.
///
/// # Safety
/// `args` must point to `argc` values; the adapters the class's
/// descriptor names must have the [`DynamicFn`] signature.
pub unsafe fn call_method(
    m: &mut impl Mutator,
    v: Value,
    name: &'static str,
    args: *const Value,
    argc: usize,
    loc: *const u8,
    cache: &mut LookupCache,
) -> Result<Value> {
    let no_method = Error::Member {
        access: Access::Call,
        name,
        found: v,
    };
    let Some(obj) = object(v) else {
        return Err(no_method);
    };
    if let Some(class) = obj.class() {
        let Some(member) = class.member(name) else {
            return Err(no_method);
        };
        if member.kind == MEMBER_METHOD && !member.target.is_null() {
            cache.remember([cache_key(obj), member.target as usize]);
            // SAFETY: a method's target is its adapter.
            let adapter = unsafe { core::mem::transmute::<*const (), DynamicFn>(member.target) };
            // SAFETY: by the caller's contract.
            return Ok(unsafe { adapter(v, args, argc, loc) });
        }
        return match obj.field(class, member) {
            // SAFETY: by the caller's contract.
            Some(word) => unsafe { call(box_field(member.kind, word), args, argc, loc) },
            None => Err(no_method),
        };
    }
    let is_string = obj.kind() == Kind::String;
    let names: &[&str] = match obj.kind() {
        Kind::String => &STRING_METHODS,
        kind if kind.is_array() => &ARRAY_METHODS,
        _ => &[],
    };
    let Some(method) = names.iter().position(|n| *n == name) else {
        return Err(no_method);
    };
    // One check of the argument count for all of them.
    let (min, max, takes) = match (is_string, method) {
        (true, 4) => (1, 2, "1 or 2 arguments"),
        (false, 2..) => (0, 0, "no arguments"),
        _ => (1, 1, "1 argument"),
    };
    if !(min..=max).contains(&argc) {
        return Err(Error::Arity {
            name,
            takes,
            found: argc,
        });
    }
    // SAFETY: by the caller's contract.
    let args = unsafe { arguments(args, argc) };
    let arg = |i: usize| args.get(i).copied().unwrap_or(Value::UNDEFINED);
    if is_string {
        string_method(m, obj, method, arg(0), args.get(1).copied())
    } else {
        Ok(match method {
            0 => Value::from_int(array::push(m, obj, arg(0))? as i32),
            1 => Value::from_int(array::unshift(m, obj, arg(0))? as i32),
            2 => array::pop(obj)?,
            _ => array::shift(obj)?,
        })
    }
}

/// Built-in method `method` (an index of [`STRING_METHODS`]) of the
/// string `s`.
fn string_method(
    m: &mut impl Mutator,
    s: Obj,
    method: usize,
    first: Value,
    second: Option<Value>,
) -> Result<Value> {
    if method == 4 {
        let start = convert::to_int(first)?;
        let end = match second {
            Some(end) => convert::to_int(end)?,
            None => i32::MAX,
        };
        return Ok(string::substring(m, s, start, end)?);
    }
    if method == 3 {
        let index = convert::to_int(first)?;
        let length = string::length(s);
        let code = string::char_code_at(s, index);
        return Ok(Value::from_int(
            code.ok_or(error::Error::IndexOutOfRange { index, length })?,
        ));
    }
    let p = convert::to_string_object(first)?;
    Ok(match method {
        0 => Value::from_bool(string::starts_with(s, p)),
        1 => Value::from_bool(string::ends_with(s, p)),
        _ => Value::from_int(string::index_of(s, p)),
    })
}

/// `f(args…)` of a closure, through its descriptor's `any_entry`.
///
/// # Safety
/// `args` must point to `argc` values; closure descriptors' `any_entry`
/// must have the [`DynamicFn`] contract.
pub unsafe fn call(f: Value, args: *const Value, argc: usize, loc: *const u8) -> Result<Value> {
    match object(f).and_then(Obj::closure) {
        // SAFETY: by the caller's contract.
        Some(desc) => Ok(unsafe { (desc.any_entry)(f, args, argc, loc) }),
        None => Err(Error::NotAFunction(f)),
    }
}

/// `a[index]` of any array, the element boxed.
pub fn index_get(a: Value, index: Value) -> Result<Value> {
    let a = array::as_array(a)?;
    Ok(array::get(a, convert::to_int(index)?)?)
}

/// `a[index] = value` of any array, `value` checked against the element
/// type.
pub fn index_set(a: Value, index: Value, value: Value) -> Result<()> {
    let a = array::as_array(a)?;
    Ok(array::set(a, convert::to_int(index)?, value)?)
}
