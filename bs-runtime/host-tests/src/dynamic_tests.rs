//! Operations on `any`: arithmetic, comparison, members, calls, indexing,
//! and the printing of instances. The heaps collect before every
//! allocation.

use crate::array;
use crate::convert::{self, Style};
use crate::dynamic::{self, ArithOp, CompareOp, Error, InlineCache};
use crate::object::{
    __bs_desc_any_array, __bs_desc_float_array, __bs_desc_int_array, __bs_desc_string,
    __bs_desc_string_array, layout, ClassDescriptor, ClosureDescriptor, Descriptor, Kind, Member,
    Obj, MEMBER_ANY, MEMBER_BOOL, MEMBER_FLOAT, MEMBER_INT, MEMBER_METHOD, MEMBER_NULLABLE,
    MEMBER_REF,
};
use crate::support::{class_with, member, obj, text, TestHeap};
use crate::value::Value;
use bluescript_abi::object::{CACHE_EMPTY, CACHE_ENTRIES, CACHE_KIND_BITS};

/// `class Point { x: integer; y: float; name: string; ok: boolean;
/// tag: any; next: Point | null; sum(k: integer): integer; twice(): void }`
static POINT: ClassDescriptor =
    class_with(c"Point", 7, &POINT_MAP, core::ptr::null(), &POINT_MEMBERS);
static POINT_MAP: [u32; 1] = [0b110_1000];
static POINT_MEMBERS: [Member; 8] = [
    member(c"x", MEMBER_INT, 1, core::ptr::null()),
    member(c"y", MEMBER_FLOAT, 2, core::ptr::null()),
    member(c"name", MEMBER_REF, 3, desc(&__bs_desc_string)),
    member(c"ok", MEMBER_BOOL, 4, core::ptr::null()),
    member(c"tag", MEMBER_ANY, 5, core::ptr::null()),
    member(c"next", MEMBER_NULLABLE, 6, desc(&POINT)),
    member(c"sum", MEMBER_METHOD, 0, point_sum as *const ()),
    member(c"twice", MEMBER_METHOD, 0, point_twice as *const ()),
];
const X: usize = 1;
const Y: usize = 2;
const NAME: usize = 3;
const OK: usize = 4;
const TAG: usize = 5;
const NEXT: usize = 6;

/// `class Point3 extends Point { z: integer; sum(k) {…} }`: the table
/// is flattened, the override replacing the inherited entry.
static POINT3: ClassDescriptor = class_with(c"Point3", 8, &POINT_MAP, &POINT, &POINT3_MEMBERS);
static POINT3_MEMBERS: [Member; 8] = [
    member(c"x", MEMBER_INT, 1, core::ptr::null()),
    member(c"y", MEMBER_FLOAT, 2, core::ptr::null()),
    member(c"name", MEMBER_REF, 3, desc(&__bs_desc_string)),
    member(c"ok", MEMBER_BOOL, 4, core::ptr::null()),
    member(c"tag", MEMBER_ANY, 5, core::ptr::null()),
    member(c"next", MEMBER_NULLABLE, 6, desc(&POINT)),
    member(c"sum", MEMBER_METHOD, 0, point3_sum as *const ()),
    member(c"z", MEMBER_INT, 7, core::ptr::null()),
];

/// `class Empty { m(): void }`.
static EMPTY: ClassDescriptor = class_with(c"Empty", 1, &[0], core::ptr::null(), &EMPTY_MEMBERS);
static EMPTY_MEMBERS: [Member; 1] = [member(c"m", MEMBER_METHOD, 0, point_twice as *const ())];

/// `class Nothing { n: null }`: a field of type `null`, which has no
/// descriptor to match.
static NOTHING: ClassDescriptor =
    class_with(c"Nothing", 2, &[0b10], core::ptr::null(), &NOTHING_MEMBERS);
static NOTHING_MEMBERS: [Member; 1] = [member(c"n", MEMBER_NULLABLE, 1, core::ptr::null())];

/// `(k: integer) => integer`, whose closures capture one integer.
static ADDER: ClosureDescriptor = ClosureDescriptor {
    kind: Kind::Closure as usize,
    signature: c"(integer)=>integer".as_ptr().cast(),
    any_entry: adder_entry,
};

const fn desc<T>(d: &'static T) -> *const () {
    d as *const T as *const ()
}

/// What an adapter generated for `sum(k: integer): integer` does:
/// check the count, convert, call. Returns `this.x + k`.
unsafe extern "C" fn point_sum(
    this: Value,
    args: *const Value,
    argc: usize,
    loc: *const u8,
) -> Value {
    assert_eq!(argc, 1);
    assert_eq!(unsafe { crate::object::c_text(loc) }, "main.bs:1:1");
    let k = unsafe { *args }.as_int().expect("an integer argument");
    Value::from_int(obj(this).word(X) as u32 as i32 + k)
}

/// The override: `this.x + this.z + k`.
unsafe extern "C" fn point3_sum(
    this: Value,
    args: *const Value,
    argc: usize,
    _: *const u8,
) -> Value {
    assert_eq!(argc, 1);
    let k = unsafe { *args }.as_int().unwrap();
    let p = obj(this);
    Value::from_int(p.word(X) as u32 as i32 + p.word(7) as u32 as i32 + k)
}

/// `twice(): void`: doubles `x`, returns `undefined`.
unsafe extern "C" fn point_twice(this: Value, _: *const Value, argc: usize, _: *const u8) -> Value {
    assert_eq!(argc, 0);
    let p = obj(this);
    p.set_word(X, (p.word(X) as u32 as i32 * 2) as u32 as usize);
    Value::UNDEFINED
}

/// The `any_entry` of `ADDER`: captured value + argument.
unsafe extern "C" fn adder_entry(
    closure: Value,
    args: *const Value,
    argc: usize,
    _: *const u8,
) -> Value {
    assert_eq!(argc, 1);
    let captured = Value(obj(closure).word(layout::CLOSURE_CAPTURES));
    let k = unsafe { *args }.as_int().unwrap();
    Value::from_int(captured.as_int().unwrap() + k)
}

fn heap() -> TestHeap {
    TestHeap::stressed(16 * 1024)
}

fn int(i: i32) -> Value {
    Value::from_int(i)
}

fn float(f: f32) -> Value {
    Value::from_float(f)
}

fn pow(a: f32, b: f32) -> f32 {
    a.powf(b)
}

/// `a op b` as generated code calls it: with the operator's code.
fn arith(h: &mut TestHeap, op: ArithOp, a: Value, b: Value) -> Result<Value, Error> {
    dynamic::arith(h, op as u32, a, b, pow)
}

fn compare(op: CompareOp, a: Value, b: Value) -> Result<bool, Error> {
    dynamic::compare(op as u32, a, b)
}

fn message<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
    result.expect_err("an error").to_string()
}

fn string(h: &mut TestHeap, t: &str) -> Value {
    h.string(t).value()
}

fn point(h: &mut TestHeap, x: i32, y: f32) -> Obj {
    let p = obj(array::new_instance(h, &POINT).unwrap());
    h.root(p.value());
    p.set_word(X, x as u32 as usize);
    p.set_word(Y, y.to_bits() as usize);
    p
}

fn printed(v: Value) -> String {
    let mut out = String::new();
    convert::write_value(&mut out, v, Style::Print).unwrap();
    out
}

#[test]
fn integer_arithmetic_wraps_and_divides_toward_zero() {
    let mut h = heap();
    let mut check = |op, a, b, r| {
        assert_eq!(
            arith(&mut h, op, int(a), int(b)),
            Ok(int(r)),
            "{op:?} {a} {b}"
        )
    };
    check(ArithOp::Add, 2, 3, 5);
    check(ArithOp::Sub, 2, 3, -1);
    check(ArithOp::Mul, -4, 3, -12);
    check(ArithOp::Div, 7, 2, 3);
    check(ArithOp::Div, -7, 2, -3);
    check(ArithOp::Rem, -7, 2, -1);
    check(ArithOp::Rem, 7, -2, 1);
    check(ArithOp::Pow, 2, 10, 1024);
    check(ArithOp::Pow, 3, 0, 1);
    check(ArithOp::Pow, 2, -1, 0);
    check(ArithOp::Pow, 1, -5, 1);
    check(ArithOp::Pow, -1, -3, -1);
    check(ArithOp::Pow, -1, -4, 1);
    // Results keep the low 30 bits, as boxing does.
    let max = (1 << 29) - 1;
    check(ArithOp::Add, max, 1, -(1 << 29));
    check(ArithOp::Mul, 1 << 20, 1 << 20, 0);
    check(ArithOp::Pow, 2, 40, 0); // wraps in 32 bits first
    assert_eq!(dynamic::pow_i32(3, 21), 3i32.wrapping_pow(21));
    assert_eq!(dynamic::pow_i32(-3, 7), -2187);
}

#[test]
fn integer_division_by_zero_is_an_error() {
    let mut h = heap();
    assert_eq!(
        arith(&mut h, ArithOp::Div, int(1), int(0)),
        Err(Error::Message(dynamic::DIVISION_BY_ZERO))
    );
    assert_eq!(
        message(arith(&mut h, ArithOp::Div, int(1), int(0))),
        "integer division by zero"
    );
    assert_eq!(
        message(arith(&mut h, ArithOp::Rem, int(1), int(0))),
        "integer remainder by zero"
    );
    // Floats divide by zero as IEEE does.
    let r = arith(&mut h, ArithOp::Div, float(1.0), int(0)).unwrap();
    assert_eq!(r.as_float(), Some(f32::INFINITY));
}

#[test]
fn a_float_operand_makes_float_arithmetic() {
    let mut h = heap();
    let f = |v: Result<Value, Error>| v.unwrap().as_float().unwrap();
    assert_eq!(f(arith(&mut h, ArithOp::Add, int(1), float(0.5))), 1.5);
    assert_eq!(f(arith(&mut h, ArithOp::Sub, float(0.5), int(2))), -1.5);
    assert_eq!(f(arith(&mut h, ArithOp::Mul, float(1.5), float(2.0))), 3.0);
    assert_eq!(f(arith(&mut h, ArithOp::Div, int(1), float(4.0))), 0.25);
    assert_eq!(f(arith(&mut h, ArithOp::Pow, float(2.0), int(3))), 8.0);
    assert_eq!(f(arith(&mut h, ArithOp::Pow, int(4), float(0.5))), 2.0);
    assert!(f(arith(&mut h, ArithOp::Sub, float(f32::NAN), int(1))).is_nan());
    assert_eq!(
        message(arith(&mut h, ArithOp::Rem, float(1.5), int(1))),
        "`%` needs integers, found float"
    );
    assert_eq!(
        arith(&mut h, ArithOp::Rem, int(3), float(2.0)),
        Err(Error::Message(dynamic::FLOAT_REMAINDER))
    );
}

#[test]
fn plus_with_a_string_concatenates() {
    let mut h = heap();
    let a = string(&mut h, "a");
    let mut concat = |x, y| text(arith(&mut h, ArithOp::Add, x, y).unwrap());
    assert_eq!(concat(a, int(1)), "a1");
    assert_eq!(concat(float(1.0), a), "1.0a");
    assert_eq!(concat(a, Value::TRUE), "atrue");
    assert_eq!(concat(Value::UNDEFINED, a), "undefineda");
    assert_eq!(concat(a, a), "aa");
    let p = point(&mut h, 1, 2.0);
    let ints = obj(array::new(&mut h, &__bs_desc_int_array, 2, 7).unwrap());
    h.root(ints.value());
    let mut concat = |x, y| text(arith(&mut h, ArithOp::Add, x, y).unwrap());
    // String() of an instance is JavaScript's.
    assert_eq!(concat(a, p.value()), "a[object Object]");
    assert_eq!(concat(ints.value(), a), "7,7a");
    // Only `+` concatenates.
    assert_eq!(
        message(arith(&mut h, ArithOp::Sub, a, int(1))),
        "`-` cannot be applied to string and integer"
    );
}

#[test]
fn other_operands_are_errors() {
    let mut h = heap();
    let p = point(&mut h, 1, 2.0);
    let cases = [
        (
            ArithOp::Sub,
            Value::TRUE,
            int(1),
            "`-` cannot be applied to boolean and integer",
        ),
        (
            ArithOp::Add,
            int(1),
            Value::UNDEFINED,
            "`+` cannot be applied to integer and undefined",
        ),
        (
            ArithOp::Mul,
            p.value(),
            float(1.0),
            "`*` cannot be applied to Point and float",
        ),
        (
            ArithOp::Pow,
            Value::FALSE,
            Value::FALSE,
            "`**` cannot be applied to boolean and boolean",
        ),
        (
            ArithOp::Rem,
            Value::TRUE,
            int(1),
            "`%` cannot be applied to boolean and integer",
        ),
    ];
    for (op, a, b, expected) in cases {
        assert_eq!(message(arith(&mut h, op, a, b)), expected);
    }
}

#[test]
fn comparisons_of_numbers_and_strings() {
    let mut h = heap();
    let (lt, le, gt, ge) = (CompareOp::Lt, CompareOp::Le, CompareOp::Gt, CompareOp::Ge);
    assert_eq!(compare(lt, int(1), int(2)), Ok(true));
    assert_eq!(compare(le, int(2), int(2)), Ok(true));
    assert_eq!(compare(gt, int(2), int(2)), Ok(false));
    assert_eq!(compare(ge, int(-3), int(2)), Ok(false));
    assert_eq!(compare(lt, int(1), float(1.5)), Ok(true));
    assert_eq!(compare(ge, float(2.0), int(2)), Ok(true));
    for op in [lt, le, gt, ge] {
        assert_eq!(compare(op, float(f32::NAN), int(1)), Ok(false));
        assert_eq!(compare(op, int(1), float(f32::NAN)), Ok(false));
    }
    let (a, b) = (string(&mut h, "apple"), string(&mut h, "banana"));
    assert_eq!(compare(lt, a, b), Ok(true));
    assert_eq!(compare(ge, a, b), Ok(false));
    assert_eq!(compare(le, a, a), Ok(true));
    assert_eq!(
        message(compare(lt, a, int(1))),
        "`<` cannot be applied to string and integer"
    );
    assert_eq!(
        message(compare(ge, Value::TRUE, Value::FALSE)),
        "`>=` cannot be applied to boolean and boolean"
    );
}

#[test]
fn an_unknown_op_code_is_an_error_not_a_wrong_result() {
    let mut h = heap();
    let unknown = ArithOp::ALL.len() as u32;
    assert_eq!(
        message(dynamic::arith(&mut h, unknown, int(1), int(2), pow)),
        "`?` cannot be applied to integer and integer"
    );
    let unknown = CompareOp::ALL.len() as u32;
    assert_eq!(
        message(dynamic::compare(unknown, int(1), int(2))),
        "`?` cannot be applied to integer and integer"
    );
}

#[test]
fn negation_and_bitwise_not() {
    assert_eq!(dynamic::neg(int(5)), Ok(int(-5)));
    assert_eq!(dynamic::neg(int(-(1 << 29))), Ok(int(-(1 << 29)))); // wraps in 30 bits
    assert_eq!(dynamic::neg(float(2.5)).unwrap().as_float(), Some(-2.5));
    assert_eq!(dynamic::bitnot(int(0)), Ok(int(-1)));
    assert_eq!(dynamic::bitnot(int(5)), Ok(int(-6)));
    assert_eq!(
        message(dynamic::neg(Value::TRUE)),
        "`-` cannot be applied to boolean"
    );
    assert_eq!(
        message(dynamic::bitnot(float(1.0))),
        "`~` cannot be applied to float"
    );
    assert_eq!(
        message(dynamic::neg(Value::UNDEFINED)),
        "`-` cannot be applied to undefined"
    );
}

#[test]
fn fields_read_boxed_by_kind() {
    let mut h = heap();
    let p = point(&mut h, -7, 2.5);
    let name = string(&mut h, "ab");
    p.set_word(NAME, name.0);
    p.set_word(OK, 1);
    let v = p.value();
    assert_eq!(get(v, "x"), Ok(int(-7)));
    assert_eq!(get(v, "y").unwrap().as_float(), Some(2.5));
    assert_eq!(get(v, "name"), Ok(name));
    assert_eq!(get(v, "ok"), Ok(Value::TRUE));
    assert_eq!(get(v, "tag"), Ok(Value::UNDEFINED));
    assert_eq!(get(v, "next"), Ok(Value::UNDEFINED));
    // `length` of strings and of every array kind.
    assert_eq!(get(name, "length"), Ok(int(2)));
    let floats = obj(array::new(&mut h, &__bs_desc_float_array, 3, 0).unwrap());
    assert_eq!(get(floats.value(), "length"), Ok(int(3)));
    let any = obj(array::new(&mut h, &__bs_desc_any_array, 0, 0).unwrap());
    assert_eq!(get(any.value(), "length"), Ok(int(0)));
}

#[test]
fn unknown_properties_and_methods_are_not_properties() {
    let mut h = heap();
    let p = point(&mut h, 1, 2.0);
    let s = string(&mut h, "ab");
    assert_eq!(message(get(p.value(), "foo")), "no property `foo` on Point");
    assert_eq!(message(get(p.value(), "sum")), "no property `sum` on Point");
    assert_eq!(
        message(get(p.value(), "length")),
        "no property `length` on Point"
    );
    assert_eq!(message(get(s, "size")), "no property `size` on string");
    assert_eq!(message(get(int(3), "x")), "no property `x` on integer");
    assert_eq!(
        message(get(Value::UNDEFINED, "foo")),
        "cannot read property `foo` of undefined"
    );
}

#[test]
fn a_field_of_type_null_holds_only_null() {
    let mut h = heap();
    let nothing = obj(array::new_instance(&mut h, &NOTHING).unwrap());
    let v = nothing.value();
    h.root(v);
    set(v, "n", Value::UNDEFINED).unwrap();
    assert_eq!(get(v, "n"), Ok(Value::UNDEFINED));
    assert_eq!(message(set(v, "n", int(0))), "expected null, found integer");
    let s = string(&mut h, "s");
    assert_eq!(message(set(v, "n", s)), "expected null, found string");
    assert_eq!(nothing.word(1), 0);
}

#[test]
fn field_stores_are_checked_by_kind() {
    let mut h = heap();
    let p = point(&mut h, 1, 2.0);
    let q = point(&mut h, 2, 3.0);
    let name = string(&mut h, "n");
    let v = p.value();
    set(v, "x", int(-42)).unwrap();
    assert_eq!(p.word(X) as u32 as i32, -42);
    set(v, "y", int(3)).unwrap(); // an integer converts
    assert_eq!(f32::from_bits(p.word(Y) as u32), 3.0);
    set(v, "y", float(0.25)).unwrap();
    assert_eq!(f32::from_bits(p.word(Y) as u32), 0.25);
    set(v, "ok", Value::TRUE).unwrap();
    assert_eq!(p.word(OK), 1);
    set(v, "tag", Value::FALSE).unwrap();
    assert_eq!(p.word(TAG), Value::FALSE.0);
    set(v, "name", name).unwrap();
    assert_eq!(p.word(NAME), name.0);
    set(v, "next", q.value()).unwrap();
    assert_eq!(p.word(NEXT), q.address());
    set(v, "next", Value::UNDEFINED).unwrap(); // nullable
    assert_eq!(p.word(NEXT), 0);
    // A subclass instance fits a field of the superclass's type.
    let p3 = obj(array::new_instance(&mut h, &POINT3).unwrap());
    set(v, "next", p3.value()).unwrap();
    assert_eq!(p.word(NEXT), p3.address());

    let cases = [
        ("x", name, "expected integer, found string"),
        ("x", float(1.0), "expected integer, found float"),
        ("y", Value::TRUE, "expected float, found boolean"),
        ("ok", int(1), "expected boolean, found integer"),
        ("name", int(1), "expected string, found integer"),
        ("name", Value::UNDEFINED, "expected string, found undefined"),
        ("next", name, "expected Point, found string"),
        ("foo", int(1), "no property `foo` on Point"),
        ("sum", int(1), "no property `sum` on Point"),
    ];
    for (field, value, expected) in cases {
        assert_eq!(message(set(v, field, value)), expected, "{field}");
    }
    // Failed stores change nothing.
    assert_eq!(p.word(X) as u32 as i32, -42);
    assert_eq!(p.word(NAME), name.0);
    assert_eq!(
        message(set(name, "length", int(1))),
        "cannot set property `length` of string"
    );
    assert_eq!(
        message(set(Value::UNDEFINED, "x", int(1))),
        "cannot set property `x` of undefined"
    );
    assert_eq!(
        set(name, "length", int(1)),
        Err(Error::Member {
            access: dynamic::Access::Set,
            name: "length",
            found: name
        })
    );
}

fn call_method(
    h: &mut TestHeap,
    v: Value,
    name: &'static str,
    args: &[Value],
) -> Result<Value, Error> {
    unsafe {
        dynamic::call_method(
            h,
            v,
            name,
            args.as_ptr(),
            args.len(),
            c"main.bs:1:1".as_ptr().cast(),
            &mut empty_cache(),
        )
    }
}

/// The cache of a place that has not found a member yet.
fn empty_cache<const WORDS: usize>() -> InlineCache<WORDS> {
    InlineCache {
        entries: [[CACHE_EMPTY; WORDS]; CACHE_ENTRIES],
    }
}

/// `v.name` at a site of its own.
fn get(v: Value, name: &'static str) -> Result<Value, Error> {
    dynamic::get(v, name, &mut empty_cache())
}

/// `v.name = value` at a site of its own.
fn set(v: Value, name: &'static str, value: Value) -> Result<(), Error> {
    dynamic::set(v, name, value, &mut empty_cache())
}

#[test]
fn methods_are_called_through_their_adapters() {
    let mut h = heap();
    let p = point(&mut h, 10, 0.0);
    assert_eq!(
        call_method(&mut h, p.value(), "sum", &[int(5)]),
        Ok(int(15))
    );
    assert_eq!(
        call_method(&mut h, p.value(), "twice", &[]),
        Ok(Value::UNDEFINED)
    );
    assert_eq!(p.word(X), 20);
    // No arguments may come as a null pointer.
    let r = unsafe {
        dynamic::call_method(
            &mut h,
            p.value(),
            "twice",
            core::ptr::null(),
            0,
            core::ptr::null(),
            &mut empty_cache(),
        )
    };
    assert_eq!(r, Ok(Value::UNDEFINED));
    assert_eq!(p.word(X), 40);
    // The override, and an inherited method, of a subclass.
    let p3 = obj(array::new_instance(&mut h, &POINT3).unwrap());
    p3.set_word(X, 1);
    p3.set_word(7, 100);
    assert_eq!(
        call_method(&mut h, p3.value(), "sum", &[int(5)]),
        Ok(int(106))
    );
    assert_eq!(get(p3.value(), "z"), Ok(int(100)));

    assert_eq!(
        message(call_method(&mut h, p.value(), "foo", &[])),
        "no method `foo` on Point"
    );
    let e = obj(array::new_instance(&mut h, &EMPTY).unwrap());
    assert_eq!(
        message(call_method(&mut h, e.value(), "x", &[])),
        "no method `x` on Empty"
    );
    assert_eq!(
        message(call_method(&mut h, Value::UNDEFINED, "sum", &[])),
        "cannot call method `sum` of undefined"
    );
    assert_eq!(
        message(call_method(&mut h, int(1), "sum", &[])),
        "no method `sum` on integer"
    );
}

#[test]
fn a_field_holding_a_function_is_called() {
    let mut h = heap();
    let p = point(&mut h, 0, 0.0);
    let f = adder(&mut h, 3);
    p.set_word(TAG, f.0);
    assert_eq!(call_method(&mut h, p.value(), "tag", &[int(4)]), Ok(int(7)));
    assert_eq!(
        message(call_method(&mut h, p.value(), "x", &[])),
        "`integer` is not a function"
    );
}

fn adder(h: &mut TestHeap, captured: i32) -> Value {
    let f = obj(array::new_closure(h, &ADDER, 0, 1).unwrap());
    f.set_word(layout::CLOSURE_CAPTURES, int(captured).0);
    h.root(f.value())
}

#[test]
fn closures_are_called_through_their_any_entry() {
    let mut h = heap();
    let f = adder(&mut h, 40);
    let args = [int(2)];
    let call = |f, args: &[Value]| unsafe {
        dynamic::call(f, args.as_ptr(), args.len(), core::ptr::null())
    };
    assert_eq!(call(f, &args), Ok(int(42)));
    let s = string(&mut h, "f");
    let p = point(&mut h, 0, 0.0);
    assert_eq!(message(call(int(1), &args)), "`integer` is not a function");
    assert_eq!(
        message(call(Value::UNDEFINED, &args)),
        "`undefined` is not a function"
    );
    assert_eq!(message(call(s, &args)), "`string` is not a function");
    assert_eq!(message(call(p.value(), &args)), "`Point` is not a function");
}

#[test]
fn string_methods_through_any() {
    let mut h = heap();
    let s = string(&mut h, "héllo");
    let (he, lo, x) = (
        string(&mut h, "hé"),
        string(&mut h, "lo"),
        string(&mut h, "x"),
    );
    assert_eq!(call_method(&mut h, s, "startsWith", &[he]), Ok(Value::TRUE));
    assert_eq!(
        call_method(&mut h, s, "startsWith", &[lo]),
        Ok(Value::FALSE)
    );
    assert_eq!(call_method(&mut h, s, "endsWith", &[lo]), Ok(Value::TRUE));
    assert_eq!(call_method(&mut h, s, "indexOf", &[lo]), Ok(int(3)));
    assert_eq!(call_method(&mut h, s, "indexOf", &[x]), Ok(int(-1)));
    assert_eq!(
        call_method(&mut h, s, "charCodeAt", &[int(1)]),
        Ok(int(0xe9))
    );
    let sub = call_method(&mut h, s, "substring", &[int(1), int(3)]).unwrap();
    assert_eq!(text(sub), "él");
    let sub = call_method(&mut h, s, "substring", &[int(2)]).unwrap();
    assert_eq!(text(sub), "llo");

    let cases: [(&str, &[Value], &str); 8] = [
        ("startsWith", &[int(1)], "expected string, found integer"),
        ("startsWith", &[], "`startsWith` takes 1 argument, found 0"),
        ("indexOf", &[x, x], "`indexOf` takes 1 argument, found 2"),
        ("charCodeAt", &[int(5)], "index 5 out of range (length 5)"),
        ("charCodeAt", &[float(1.0)], "expected integer, found float"),
        (
            "substring",
            &[],
            "`substring` takes 1 or 2 arguments, found 0",
        ),
        (
            "substring",
            &[int(0), Value::TRUE],
            "expected integer, found boolean",
        ),
        ("trim", &[], "no method `trim` on string"),
    ];
    for (name, args, expected) in cases {
        assert_eq!(
            message(call_method(&mut h, s, name, args)),
            expected,
            "{name}"
        );
    }
}

#[test]
fn array_methods_through_any() {
    let mut h = heap();
    let a = obj(array::new(&mut h, &__bs_desc_any_array, 0, 0).unwrap());
    h.root(a.value());
    let v = a.value();
    assert_eq!(call_method(&mut h, v, "push", &[int(1)]), Ok(int(1)));
    assert_eq!(call_method(&mut h, v, "push", &[int(2)]), Ok(int(2)));
    assert_eq!(call_method(&mut h, v, "unshift", &[int(0)]), Ok(int(3)));
    assert_eq!(printed(v), "[ 0, 1, 2 ]");
    assert_eq!(call_method(&mut h, v, "pop", &[]), Ok(int(2)));
    assert_eq!(call_method(&mut h, v, "shift", &[]), Ok(int(0)));
    assert_eq!(call_method(&mut h, v, "pop", &[]), Ok(int(1)));
    assert_eq!(call_method(&mut h, v, "pop", &[]), Ok(Value::UNDEFINED)); // empty any[]

    let words = obj(array::new(&mut h, &__bs_desc_string_array, 0, 0).unwrap());
    h.root(words.value());
    let w = string(&mut h, "w");
    assert_eq!(call_method(&mut h, words.value(), "push", &[w]), Ok(int(1)));
    let ints = obj(array::new(&mut h, &__bs_desc_int_array, 2, 0).unwrap());
    h.root(ints.value());
    let cases: [(Value, &str, &[Value], &str); 6] = [
        (
            words.value(),
            "push",
            &[int(1)],
            "expected string, found integer",
        ),
        (
            words.value(),
            "push",
            &[],
            "`push` takes 1 argument, found 0",
        ),
        (
            words.value(),
            "pop",
            &[w],
            "`pop` takes no arguments, found 1",
        ),
        (
            ints.value(),
            "push",
            &[int(1)],
            "push() of a fixed-length integer[]",
        ),
        (
            ints.value(),
            "shift",
            &[],
            "shift() of a fixed-length integer[]",
        ),
        (ints.value(), "map", &[], "no method `map` on integer[]"),
    ];
    for (a, name, args, expected) in cases {
        assert_eq!(
            message(call_method(&mut h, a, name, args)),
            expected,
            "{name}"
        );
    }
    assert_eq!(call_method(&mut h, words.value(), "pop", &[]), Ok(w));
    assert_eq!(
        call_method(&mut h, words.value(), "pop", &[]),
        Ok(Value::UNDEFINED)
    );
}

#[test]
fn indexing_through_any() {
    let mut h = heap();
    let ints = obj(array::new(&mut h, &__bs_desc_int_array, 3, 0).unwrap());
    h.root(ints.value());
    let a = ints.value();
    dynamic::index_set(a, int(1), int(-5)).unwrap();
    assert_eq!(dynamic::index_get(a, int(1)), Ok(int(-5)));
    assert_eq!(array::get_i32(ints, 1), Ok(-5));
    let first = string(&mut h, "a");
    let words = obj(array::new(&mut h, &__bs_desc_string_array, 1, first.0).unwrap());
    h.root(words.value());
    let b = string(&mut h, "b");
    dynamic::index_set(words.value(), int(0), b).unwrap();
    assert_eq!(dynamic::index_get(words.value(), int(0)), Ok(b));

    assert_eq!(
        message(dynamic::index_get(a, int(3))),
        "index 3 out of range (length 3)"
    );
    assert_eq!(
        message(dynamic::index_set(a, int(-1), int(0))),
        "index -1 out of range (length 3)"
    );
    assert_eq!(
        message(dynamic::index_get(a, float(1.0))),
        "expected integer, found float"
    );
    assert_eq!(
        message(dynamic::index_set(a, int(0), b)),
        "expected integer, found string"
    );
    assert_eq!(
        message(dynamic::index_set(words.value(), int(0), int(1))),
        "expected string, found integer"
    );
    assert_eq!(
        message(dynamic::index_get(b, int(0))),
        "expected an array, found string"
    );
    assert_eq!(
        message(dynamic::index_get(Value::UNDEFINED, int(0))),
        "expected an array, found undefined"
    );
}

#[test]
fn instances_print_like_node() {
    let mut h = heap();
    let p = point(&mut h, 1, 2.5);
    let name = string(&mut h, "ab");
    p.set_word(NAME, name.0);
    assert_eq!(
        printed(p.value()),
        "Point { x: 1, y: 2.5, name: 'ab', ok: false, tag: undefined, next: undefined }"
    );
    // Floats print from their bits, not rounded by boxing.
    p.set_word(Y, 0.1f32.to_bits() as usize);
    p.set_word(X, i32::MIN as u32 as usize);
    let list = obj(array::new(&mut h, &__bs_desc_any_array, 0, 0).unwrap());
    h.root(list.value());
    array::push(&mut h, list, int(1)).unwrap();
    array::push(&mut h, list, name).unwrap();
    p.set_word(TAG, list.value().0);
    assert_eq!(
        printed(p.value()),
        "Point { x: -2147483648, y: 0.1, name: 'ab', ok: false, tag: [ 1, 'ab' ], next: undefined }"
    );
    // Nested deeper than 2 levels: `[Point]` (which also ends cycles).
    p.set_word(TAG, 0);
    p.set_word(NAME, 0);
    p.set_word(NEXT, p.address());
    assert_eq!(
        printed(p.value()),
        "Point { x: -2147483648, y: 0.1, name: undefined, ok: false, tag: undefined, next: \
         Point { x: -2147483648, y: 0.1, name: undefined, ok: false, tag: undefined, next: \
         Point { x: -2147483648, y: 0.1, name: undefined, ok: false, tag: undefined, next: \
         [Point] } } }"
    );
    // In arrays; a class without fields.
    let e = obj(array::new_instance(&mut h, &EMPTY).unwrap());
    h.root(e.value());
    let items = obj(array::new(&mut h, &__bs_desc_any_array, 0, 0).unwrap());
    h.root(items.value());
    array::push(&mut h, items, e.value()).unwrap();
    assert_eq!(printed(items.value()), "[ Empty {} ]");
    assert_eq!(printed(e.value()), "Empty {}");
    // String() stays JavaScript's.
    assert_eq!(
        text(convert::to_string(&mut h, p.value()).unwrap()),
        "[object Object]"
    );
    assert_eq!(
        text(convert::to_string(&mut h, items.value()).unwrap()),
        "[object Object]"
    );
}

#[test]
fn member_tables_are_searched_by_name() {
    assert_eq!(POINT.members().len(), 8);
    assert_eq!(POINT.member("next").map(|m| m.offset), Some(NEXT));
    assert!(POINT.member("nope").is_none());
    let override_ = POINT3.member("sum").unwrap();
    assert_eq!(override_.target, point3_sum as *const ());
    // A class without a table.
    static BARE: ClassDescriptor = crate::support::class(c"Bare", 1, &[0], core::ptr::null());
    assert!(BARE.members().is_empty());
    let _: &Descriptor = unsafe { &*(&POINT as *const ClassDescriptor as *const Descriptor) };
}

#[test]
fn inline_caches_remember_two_classes_and_make_room_for_a_third() {
    // The ABI's choice of entries per site, which this test walks through.
    const _: () = assert!(CACHE_ENTRIES == 2);
    let mut h = heap();
    let p = point(&mut h, 3, 1.5);
    let p3 = obj(array::new_instance(&mut h, &POINT3).unwrap());
    h.root(p3.value());
    let nothing = obj(array::new_instance(&mut h, &NOTHING).unwrap());
    let at = |class: &ClassDescriptor| class as *const ClassDescriptor as usize;
    let field = |offset: usize, kind: usize| offset << CACHE_KIND_BITS | kind;
    let classes = |cache: &InlineCache<3>| cache.entries.map(|entry| entry[0]);
    let mut cache = empty_cache();
    dynamic::set(p.value(), "x", int(1), &mut cache).unwrap();
    assert_eq!(classes(&cache), [at(&POINT), CACHE_EMPTY]);
    // The empty entry takes the second class; the first stays.
    dynamic::set(p3.value(), "z", int(2), &mut cache).unwrap();
    assert_eq!(
        cache.entries,
        [
            [at(&POINT3), field(7, MEMBER_INT), 0],
            [at(&POINT), field(X, MEMBER_INT), 0]
        ]
    );
    // A class the cache remembers is not remembered twice (the runtime
    // sees it when generated code leaves a check to it).
    dynamic::set(p.value(), "x", int(3), &mut cache).unwrap();
    assert_eq!(classes(&cache), [at(&POINT3), at(&POINT)]);
    // A third class replaces the one remembered longest ago.
    dynamic::set(nothing.value(), "n", Value::UNDEFINED, &mut cache).unwrap();
    assert_eq!(
        cache.entries,
        [
            [at(&NOTHING), field(1, MEMBER_NULLABLE), 0],
            [at(&POINT3), field(7, MEMBER_INT), 0]
        ]
    );
    assert_eq!((p.word(X), p3.word(7)), (3, 2));
}

#[test]
fn inline_caches_remember_the_member_found_on_each_class() {
    let mut h = heap();
    let p = point(&mut h, 3, 1.5);
    let p3 = obj(array::new_instance(&mut h, &POINT3).unwrap());
    let at = |class: &ClassDescriptor| class as *const ClassDescriptor as usize;
    let field = |offset: usize, kind: usize| offset << CACHE_KIND_BITS | kind;
    let mut cache = empty_cache();
    assert_eq!(
        dynamic::get(p.value(), "y", &mut cache).unwrap().as_float(),
        Some(1.5)
    );
    assert_eq!(cache.entries[0], [at(&POINT), field(Y, MEMBER_FLOAT)]);
    // A subclass is a descriptor of its own.
    assert_eq!(dynamic::get(p3.value(), "z", &mut cache), Ok(int(0)));
    assert_eq!(cache.entries[0], [at(&POINT3), field(7, MEMBER_INT)]);
    // A store remembers the field, and its target, even when its value
    // is refused.
    let mut cache = empty_cache();
    assert!(dynamic::set(p.value(), "x", Value::TRUE, &mut cache).is_err());
    assert_eq!(cache.entries[0], [at(&POINT), field(X, MEMBER_INT), 0]);
    dynamic::set(p.value(), "next", Value::UNDEFINED, &mut cache).unwrap();
    assert_eq!(
        cache.entries[0],
        [at(&POINT), field(NEXT, MEMBER_NULLABLE), at(&POINT)]
    );
    // A method: its adapter.
    let mut cache = empty_cache();
    let sum = unsafe {
        dynamic::call_method(
            &mut h,
            p.value(),
            "sum",
            [int(1)].as_ptr(),
            1,
            c"main.bs:1:1".as_ptr().cast(),
            &mut cache,
        )
    };
    assert_eq!(sum, Ok(int(4)));
    assert_eq!(
        cache.entries[0],
        [at(&POINT), point_sum as *const () as usize]
    );
    // Strings, arrays and missing members leave the cache as it was.
    let mut cache = empty_cache();
    let s = string(&mut h, "ab");
    assert_eq!(dynamic::get(s, "length", &mut cache), Ok(int(2)));
    assert!(dynamic::get(p.value(), "foo", &mut cache).is_err());
    assert!(dynamic::get(int(1), "x", &mut cache).is_err());
    assert!(cache.entries.iter().all(|entry| entry[0] == CACHE_EMPTY));
}
