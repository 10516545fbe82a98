//! Arrays, instances and `any` conversions. The heaps collect before every
//! allocation.

use crate::array;
use crate::convert;
use crate::error::{Error, Expected};
use crate::object::{
    __bs_desc_any_array, __bs_desc_bool_array, __bs_desc_fixed_array, __bs_desc_float_array,
    __bs_desc_int32_array, __bs_desc_int_array, __bs_desc_string, __bs_desc_string_array,
    __bs_desc_uint8_array, ArrayDescriptor, ClassDescriptor, Descriptor, Kind, Obj,
};
use crate::support::{class, obj, text, TestHeap};
use crate::value::Value;

static NO_VALUES: [u32; 1] = [0];
static SHAPE: ClassDescriptor = class(c"Shape", 2, &NO_VALUES, core::ptr::null());
static CIRCLE: ClassDescriptor = class(c"Circle", 3, &NO_VALUES, &SHAPE);
static OTHER: ClassDescriptor = class(c"Other", 2, &NO_VALUES, core::ptr::null());
/// `Shape[]`, and `Shape[][]` described twice (as a patch might).
static SHAPES: ArrayDescriptor = ArrayDescriptor {
    kind: Kind::Array as usize,
    element: &SHAPE as *const ClassDescriptor as *const Descriptor,
};
static SHAPES_2D: ArrayDescriptor = ArrayDescriptor {
    kind: Kind::Array as usize,
    element: &SHAPES as *const ArrayDescriptor as *const Descriptor,
};
static SHAPES_2D_AGAIN: ArrayDescriptor = ArrayDescriptor {
    kind: Kind::Array as usize,
    element: &SHAPES as *const ArrayDescriptor as *const Descriptor,
};

fn heap() -> TestHeap {
    TestHeap::stressed(16 * 1024)
}

fn new(h: &mut TestHeap, desc: &'static ArrayDescriptor, len: i32, init: usize) -> Obj {
    let a = obj(array::new(h, desc, len, init).unwrap());
    h.root(a.value());
    a
}

fn descriptor<T>(d: &'static T) -> &'static Descriptor {
    unsafe { &*(d as *const T as *const Descriptor) }
}

fn ints(a: Obj) -> Vec<i32> {
    (0..array::length(a) as i32)
        .map(|i| array::get(a, i).unwrap().as_int().unwrap())
        .collect()
}

#[test]
fn a_new_fixed_array_has_its_initial_element_everywhere() {
    let mut h = heap();
    for len in [1, 3, 4, 5, 13, 64] {
        let flags = new(&mut h, &__bs_desc_bool_array, len, 1);
        assert!((0..len).all(|i| array::get_bool(flags, i) == Ok(true)));
        let bytes = new(&mut h, &__bs_desc_uint8_array, len, 0x1ff);
        assert!((0..len).all(|i| array::get_i32(bytes, i) == Ok(0xff)));
        let words = new(&mut h, &__bs_desc_int32_array, len, -2i32 as u32 as usize);
        assert!((0..len).all(|i| array::get_i32(words, i) == Ok(-2)));
        let values = new(&mut h, &__bs_desc_fixed_array, len, Value::TRUE.0);
        assert!((0..len).all(|i| array::get(values, i) == Ok(Value::TRUE)));
    }
}

#[test]
fn fixed_arrays_of_every_kind() {
    let mut h = heap();
    let a = new(&mut h, &__bs_desc_int_array, 4, -7i32 as u32 as usize);
    assert_eq!(ints(a), [-7; 4]);
    array::set_i32(a, 3, i32::MAX).unwrap();
    assert_eq!(array::get_i32(a, 3), Ok(i32::MAX)); // unboxed: all 32 bits

    let f = new(&mut h, &__bs_desc_float_array, 2, 2.5f32.to_bits() as usize);
    assert_eq!(array::get_f32(f, 1), Ok(2.5));
    array::set_f32(f, 0, -0.125).unwrap();
    assert_eq!(array::get(f, 0).unwrap().as_float(), Some(-0.125));

    let b = new(&mut h, &__bs_desc_bool_array, 9, 1);
    assert_eq!(array::get_bool(b, 8), Ok(true));
    array::set_bool(b, 8, false).unwrap();
    assert_eq!(array::get(b, 8), Ok(Value::FALSE));
    assert_eq!(array::get(b, 7), Ok(Value::TRUE));

    let bytes = new(&mut h, &__bs_desc_uint8_array, 5, 0);
    array::set_i32(bytes, 0, 300).unwrap(); // modulo 256
    assert_eq!(array::get_i32(bytes, 0), Ok(44));
    array::set(bytes, 1, Value::from_int(-1)).unwrap();
    assert_eq!(ints(bytes), [44, 255, 0, 0, 0]);

    let fixed = new(&mut h, &__bs_desc_fixed_array, 2, 0);
    assert_eq!(array::get(fixed, 0), Ok(Value::UNDEFINED));
    array::set(fixed, 1, Value::TRUE).unwrap();
    assert_eq!(array::get(fixed, 1), Ok(Value::TRUE));

    let empty = new(&mut h, &__bs_desc_int32_array, 0, 0);
    assert_eq!(array::length(empty), 0);
}

#[test]
fn bounds_are_checked_and_the_error_names_the_index() {
    let mut h = heap();
    let a = new(&mut h, &__bs_desc_int_array, 3, 0);
    for index in [3, -1, i32::MIN, i32::MAX] {
        let e = array::get(a, index).unwrap_err();
        assert_eq!(e, Error::IndexOutOfRange { index, length: 3 });
        assert_eq!(array::set_i32(a, index, 1).unwrap_err(), e);
        assert_eq!(array::get_i32(a, index).unwrap_err(), e);
    }
    assert_eq!(
        array::get(a, 3).unwrap_err().to_string(),
        "index 3 out of range (length 3)"
    );
    let g = new(&mut h, &__bs_desc_any_array, 0, 0);
    assert_eq!(
        array::get(g, 0).unwrap_err().to_string(),
        "index 0 out of range (length 0)"
    );
    assert_eq!(
        array::new(&mut h, &__bs_desc_int_array, -1, 0)
            .unwrap_err()
            .to_string(),
        "invalid array length -1"
    );
    for desc in [
        &__bs_desc_int_array,
        &__bs_desc_bool_array,
        &__bs_desc_any_array,
    ] {
        let e = array::new(&mut h, desc, i32::MAX, 0).unwrap_err();
        assert_eq!(e, Error::OutOfMemory);
    }
}

#[test]
fn stores_through_any_are_checked() {
    let mut h = heap();
    let a = new(&mut h, &__bs_desc_int_array, 1, 0);
    let e = array::set(a, 0, Value::from_float(1.5)).unwrap_err();
    assert_eq!(e.to_string(), "expected integer, found float");
    let f = new(&mut h, &__bs_desc_float_array, 1, 0);
    array::set(f, 0, Value::from_int(3)).unwrap(); // integers widen
    assert_eq!(array::get_f32(f, 0), Ok(3.0));
    let b = new(&mut h, &__bs_desc_bool_array, 1, 0);
    assert!(array::set(b, 0, Value::from_int(1)).is_err());

    let words = new(&mut h, &__bs_desc_string_array, 1, 0);
    let e = array::set(words, 0, Value::from_int(1)).unwrap_err();
    assert_eq!(e.to_string(), "expected string, found integer");
    assert!(array::set(words, 0, Value::UNDEFINED).is_err());
    let hi = h.string("hi");
    array::set(words, 0, hi.value()).unwrap();

    let shapes = new(&mut h, &SHAPES, 0, 0);
    let circle = obj(array::new_instance(&mut h, &CIRCLE).unwrap());
    h.root(circle.value());
    array::push(&mut h, shapes, circle.value()).unwrap(); // a subclass fits
    let other = obj(array::new_instance(&mut h, &OTHER).unwrap());
    let e = array::push(&mut h, shapes, other.value()).unwrap_err();
    assert_eq!(e.to_string(), "expected Shape, found Other");
    assert_eq!(
        array::set(shapes, 0, hi.value()).unwrap_err().to_string(),
        "expected Shape, found string"
    );

    // Array types compare by structure.
    let grid = new(&mut h, &SHAPES_2D, 0, 0);
    array::push(&mut h, grid, shapes.value()).unwrap();
    let again = new(&mut h, &SHAPES_2D_AGAIN, 0, 0);
    array::push(&mut h, again, shapes.value()).unwrap();
    assert!(array::push(&mut h, grid, words.value()).is_err());
    assert!(convert::instance_of(
        grid.value(),
        descriptor(&SHAPES_2D_AGAIN)
    ));
    assert_eq!(
        array::push(&mut h, grid, words.value())
            .unwrap_err()
            .to_string(),
        "expected Shape[], found string[]"
    );
}

#[test]
fn push_pop_shift_unshift() {
    let mut h = heap();
    let a = new(&mut h, &__bs_desc_any_array, 0, 0);
    for i in 0..20 {
        assert_eq!(
            array::push(&mut h, a, Value::from_int(i)),
            Ok(i as usize + 1)
        );
    }
    assert_eq!(array::unshift(&mut h, a, Value::from_int(-1)), Ok(21));
    assert_eq!(ints(a), (-1..20).collect::<Vec<_>>());
    assert_eq!(array::pop(a), Ok(Value::from_int(19)));
    assert_eq!(array::shift(a), Ok(Value::from_int(-1)));
    assert_eq!(array::shift(a), Ok(Value::from_int(0)));
    assert_eq!(ints(a), (1..19).collect::<Vec<_>>());
    while array::length(a) > 0 {
        array::pop(a).unwrap();
    }
    // An empty any[] gives undefined, as in JavaScript.
    assert_eq!(array::pop(a), Ok(Value::UNDEFINED));
    assert_eq!(array::shift(a), Ok(Value::UNDEFINED));

    // Strings pushed into a growing array survive the collections that
    // growing triggers.
    let words = new(&mut h, &__bs_desc_string_array, 0, 0);
    for i in 0..30 {
        let w = obj(convert::int_to_string(&mut h, i).unwrap());
        array::push(&mut h, words, w.value()).unwrap();
    }
    for i in 0..30 {
        assert_eq!(text(array::get(words, i).unwrap()), i.to_string());
    }
    while array::length(words) > 0 {
        array::shift(words).unwrap();
    }
    // `T | undefined`: an empty array gives undefined.
    assert_eq!(array::pop(words), Ok(Value::UNDEFINED));
    assert_eq!(array::shift(words), Ok(Value::UNDEFINED));
}

#[test]
fn fixed_length_arrays_do_not_grow() {
    let mut h = heap();
    let a = new(&mut h, &__bs_desc_int_array, 2, 0);
    let e = array::push(&mut h, a, Value::from_int(1)).unwrap_err();
    assert_eq!(e.to_string(), "push() of a fixed-length integer[]");
    assert!(array::pop(a).is_err());
    assert!(array::shift(a).is_err());
    let u = new(&mut h, &__bs_desc_uint8_array, 2, 0);
    assert_eq!(
        array::unshift(&mut h, u, Value::from_int(1))
            .unwrap_err()
            .to_string(),
        "unshift() of a fixed-length Uint8Array"
    );
}

#[test]
fn growable_arrays_with_an_initial_element() {
    let mut h = heap();
    let x = h.string("x");
    let a = new(&mut h, &__bs_desc_string_array, 5, x.value().0);
    h.roots.retain(|v| *v != x.value()); // only the array holds it now
    h.collect();
    for i in 0..5 {
        assert_eq!(text(array::get(a, i).unwrap()), "x");
    }
    array::push(&mut h, a, x.value()).unwrap();
    assert_eq!(array::length(a), 6);
}

#[test]
fn copies_check_their_elements() {
    let mut h = heap();
    let source = new(&mut h, &__bs_desc_int_array, 3, 5);
    let copy = obj(array::copy(&mut h, &__bs_desc_int_array, source).unwrap());
    assert_ne!(copy, source);
    assert_eq!(ints(copy), [5, 5, 5]);
    let anys = obj(array::copy(&mut h, &__bs_desc_any_array, source).unwrap());
    h.root(anys.value());
    assert_eq!(ints(anys), [5, 5, 5]);
    array::set(anys, 1, Value::TRUE).unwrap();
    let e = array::copy(&mut h, &__bs_desc_int_array, anys).unwrap_err();
    assert_eq!(e.to_string(), "expected integer, found boolean");
    let floats = obj(array::copy(&mut h, &__bs_desc_float_array, source).unwrap());
    assert_eq!(array::get_f32(floats, 2), Ok(5.0));
}

#[test]
fn any_conversions_are_checked() {
    let mut h = heap();
    assert_eq!(convert::to_int(Value::from_int(-5)), Ok(-5));
    assert_eq!(
        convert::to_int(Value::from_float(1.0))
            .unwrap_err()
            .to_string(),
        "expected integer, found float"
    );
    assert_eq!(convert::to_float(Value::from_int(2)), Ok(2.0));
    assert_eq!(convert::to_float(Value::from_float(0.5)), Ok(0.5));
    assert!(convert::to_float(Value::UNDEFINED).is_err());
    // To boolean by truthiness, never an error.
    assert!(convert::to_bool(Value::TRUE));
    assert!(convert::to_bool(Value::from_int(1)));
    assert!(!convert::to_bool(Value::from_int(0)));
    assert!(!convert::to_bool(Value::from_float(f32::NAN)));
    assert!(!convert::to_bool(Value::UNDEFINED));
    assert!(convert::to_bool(h.string("").value()));
    let x = h.string("x");
    assert_eq!(convert::to_string_object(x.value()), Ok(x));
    assert_eq!(
        convert::to_string_object(Value::UNDEFINED)
            .unwrap_err()
            .to_string(),
        "expected string, found undefined"
    );

    let circle = obj(array::new_instance(&mut h, &CIRCLE).unwrap());
    let shape = descriptor(&SHAPE);
    assert_eq!(
        convert::to_object(circle.value(), shape),
        Ok(circle.value())
    );
    assert!(convert::instance_of(circle.value(), shape));
    assert!(!convert::instance_of(circle.value(), descriptor(&OTHER)));
    assert!(!convert::instance_of(Value::from_int(1), shape));
    assert!(!convert::instance_of(x.value(), shape));
    assert!(convert::instance_of(x.value(), &__bs_desc_string));
    assert_eq!(
        convert::to_object(x.value(), descriptor(&CIRCLE)),
        Err(Error::Expected {
            expected: Expected::Type(descriptor(&CIRCLE)),
            found: x.value()
        })
    );
    let ints = new(&mut h, &__bs_desc_int_array, 0, 0);
    assert!(convert::is_array(ints.value()));
    assert!(!convert::is_array(x.value()));
    assert!(!convert::instance_of(
        ints.value(),
        descriptor(&__bs_desc_int32_array)
    ));
}

#[test]
fn strict_equality() {
    let mut h = heap();
    let a = h.string("same");
    let b = h.string("same");
    let c = h.string("other");
    assert!(convert::equals(a.value(), b.value()));
    assert!(!convert::equals(a.value(), c.value()));
    assert!(convert::equals(Value::from_int(1), Value::from_float(1.0)));
    assert!(convert::equals(
        Value::from_float(0.0),
        Value::from_float(-0.0)
    ));
    assert!(!convert::equals(
        Value::from_float(f32::NAN),
        Value::from_float(f32::NAN)
    ));
    assert!(!convert::equals(Value::from_int(1), Value::TRUE));
    assert!(convert::equals(Value::UNDEFINED, Value::UNDEFINED));
    assert!(!convert::equals(Value::UNDEFINED, Value::from_int(0)));
    let s1 = obj(array::new_instance(&mut h, &SHAPE).unwrap());
    h.root(s1.value());
    let s2 = obj(array::new_instance(&mut h, &SHAPE).unwrap());
    assert!(convert::equals(s1.value(), s1.value()));
    assert!(!convert::equals(s1.value(), s2.value()));
}

#[test]
fn instances_start_zeroed() {
    let mut h = heap();
    let circle = obj(array::new_instance(&mut h, &CIRCLE).unwrap());
    assert_eq!(circle.word(1), 0);
    assert_eq!(circle.word(2), 0);
    let mut printed = String::new();
    convert::write_value(&mut printed, circle.value(), convert::Style::Print).unwrap();
    // No member table: no fields to show.
    assert_eq!(printed, "Circle {}");
}

/// An integer and a float are equal exactly when they are the same number:
/// checked against `f64`, which holds both exactly, on the edges of the
/// integers' 30 bits, of the floats' exact integers (2^24) and of `i32`,
/// on fractions, infinities, NaN and on random pairs.
#[test]
fn integers_equal_floats_exactly_when_they_are_the_same_number() {
    let mut ints = vec![0, 1, -1, 7, (1 << 24) - 1, 1 << 24, (1 << 24) + 1];
    ints.extend([(1 << 29) - 1, -(1 << 29), -(1 << 29) + 1, 1 << 28]);
    let mut floats = vec![0.0f32, -0.0, 1.0, -1.0, 0.5, 7.0, 7.25];
    floats.extend([16_777_216.0, 16_777_218.0, 536_870_912.0, -536_870_912.0]);
    floats.extend([2_147_483_648.0, -2_147_483_648.0, 4.0e9, -4.0e9, 1.0e-40]);
    floats.extend([
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::MAX,
        f32::MIN,
    ]);
    let mut rng = crate::support::Rng::new(3);
    for _ in 0..2000 {
        let i = (rng.below(1 << 30) as i32) - (1 << 29);
        ints.push(i);
        floats.push(i as f32);
        floats.push(f32::from_bits(rng.below(1 << 31) as u32));
    }
    for &i in &ints {
        let a = Value::from_int(i);
        for &f in &floats {
            let b = Value::from_float(f);
            let same = b.as_float().is_some_and(|g| f64::from(i) == f64::from(g));
            assert_eq!(convert::equals(a, b), same, "{i} === {f}");
            assert_eq!(convert::equals(b, a), same, "{f} === {i}");
        }
    }
}

/// The short path of `a[i] = v` serves `any[]` within its length only:
/// every other array, index or value goes through the checks of `set`.
#[test]
fn only_an_any_array_within_its_length_has_a_short_store_path() {
    let mut h = heap();
    let anys = new(&mut h, &__bs_desc_any_array, 3, Value::from_int(5).0);
    let slot = array::any_slot(anys.value(), 2).expect("an any[] element");
    unsafe { slot.write(Value::from_int(9).0) };
    assert_eq!(array::get(anys, 2).unwrap(), Value::from_int(9));
    assert_eq!(array::get(anys, 1).unwrap(), Value::from_int(5));
    for index in [3, -1, i32::MIN, i32::MAX] {
        assert!(array::any_slot(anys.value(), index).is_none(), "{index}");
    }
    let shapes = new(&mut h, &SHAPES, 2, 0);
    let ints = new(&mut h, &__bs_desc_int_array, 2, 0);
    let fixed = new(&mut h, &__bs_desc_fixed_array, 2, 0);
    let shape = h.string("not an array");
    for other in [shapes.value(), ints.value(), fixed.value(), shape.value()] {
        assert!(array::any_slot(other, 0).is_none());
    }
    assert!(array::any_slot(Value::UNDEFINED, 0).is_none());
    assert!(array::any_slot(Value::from_int(1), 0).is_none());
}
