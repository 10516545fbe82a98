//! Reading and writing places: variables, cells of captured variables,
//! array elements, fields, and properties looked up at run time.

use super::*;

/// How a place's bits are stored when they differ from its static type:
/// the bytes of a `Uint8Array` hold integers.
fn storage(ty: Ty, array: Option<Ty>) -> &'static str {
    match (array, ty) {
        (Some(Ty::Uint8Array), _) => "u8",
        _ => ty.rust(),
    }
}

/// The runtime's element getter and setter for `a[i]` of an `any` (the
/// index an `any`) or of an `any[]` (an integer index).
fn element_accessors(array: Ty) -> (&'static str, &'static str) {
    if array == Ty::Any {
        ("bs_any_index_get", "bs_any_index_set")
    } else {
        ("bs_array_get", "bs_array_set")
    }
}

impl Generator<'_> {
    /// A place that is a Rust place expression (no side effects to
    /// evaluate): a variable, a cell of a captured variable.
    fn variable(&self, place: &Place, ty: Ty) -> Option<String> {
        let rust = ty.rust();
        Some(match place {
            Place::Local(name) => local(name),
            Place::Global(name) | Place::Static(name) => global_symbol(name),
            Place::Cell(name) => format!("(*word::<{rust}>({}, 1))", local(name)),
            Place::Captured(index) => format!(
                "(*word::<{rust}>(*word::<u32>(closure_, {}), 1))",
                3 + index
            ),
            _ => return None,
        })
    }

    /// A pointer to an element or field (evaluating the object, the index
    /// and the bounds check), with the type stored there.
    fn pointer(&self, place: &Place, ty: Ty) -> Option<(String, &'static str)> {
        match place {
            Place::Element {
                array,
                index,
                location,
            } => {
                let stored = storage(ty, Some(array.ty));
                let (a, i) = (self.expr(array), self.expr(index));
                let location = location_pointer(location);
                let growable = matches!(array.ty, Ty::Array(element) if element.is_reference());
                Some(if growable {
                    (format!("growable_element({a}, {i}, {location})"), stored)
                } else {
                    (
                        format!("fixed_element::<{stored}>({a}, {i}, {location})"),
                        stored,
                    )
                })
            }
            Place::Field { object, offset } => {
                let stored = ty.rust();
                Some((
                    format!("word::<{stored}>({}, {offset})", self.expr(object)),
                    stored,
                ))
            }
            _ => None,
        }
    }

    /// The value of a place.
    pub(super) fn read(&self, place: &Place, ty: Ty) -> String {
        if let Some(variable) = self.variable(place, ty) {
            return variable;
        }
        if let Some((pointer, stored)) = self.pointer(place, ty) {
            return if stored == "u8" {
                format!("((*{pointer}) as i32)")
            } else {
                format!("(*{pointer})")
            };
        }
        let (prelude, current, _) = self
            .dynamic(place)
            .expect("every place is a variable, a pointer or dynamic");
        format!("{{ {prelude} {current} }}")
    }

    /// `place = value`, as an expression giving the stored value; `value`
    /// may read the place's current value (`ExprKind::Current`).
    pub(super) fn assign(&self, place: &Place, ty: Ty, value: &Expr) -> String {
        let rust = ty.rust();
        if let Some(variable) = self.variable(place, ty) {
            let value = self.with_current(variable.clone(), value);
            return format!("{{ let t: {rust} = {value}; {variable} = t; t }}");
        }
        if let Some((pointer, stored)) = self.pointer(place, ty) {
            let (current, store) = if stored == "u8" {
                ("((*p) as i32)".to_string(), "*p = t as u8;")
            } else {
                ("(*p)".to_string(), "*p = t;")
            };
            let value = self.with_current(current, value);
            return format!("{{ let p = {pointer}; let t: {rust} = {value}; {store} t }}");
        }
        let (prelude, current, store) = self
            .dynamic(place)
            .expect("every place is a variable, a pointer or dynamic");
        let value = self.with_current(current, value);
        format!("{{ {prelude} let n: u32 = {value}; {store} n }}")
    }

    /// A property or element looked up at run time: Rust statements that
    /// evaluate its object (and index), the read of its value, and the
    /// statement writing `n` to it.
    fn dynamic(&self, place: &Place) -> Option<(String, String, String)> {
        match place {
            Place::DynamicElement {
                array,
                index,
                location,
            } => {
                let (get, set) = element_accessors(array.ty);
                let location = location_pointer(location);
                Some((
                    format!(
                        "let a = {}; let i = {};",
                        self.expr(array),
                        self.expr(index)
                    ),
                    format!("{get}(a, i, {location})"),
                    format!("{set}(a, i, n, {location});"),
                ))
            }
            Place::DynamicProperty {
                object,
                name,
                location,
            } => {
                let (name, location) = (location_pointer(name), location_pointer(location));
                Some((
                    format!("let o = {};", self.expr(object)),
                    format!("bs_any_get(o, {name}, {location})"),
                    format!("bs_any_set(o, {name}, n, {location});"),
                ))
            }
            _ => None,
        }
    }

    /// `value` with `ExprKind::Current` reading `current`.
    fn with_current(&self, current: String, value: &Expr) -> String {
        self.current.borrow_mut().push(current);
        let text = self.expr(value);
        self.current.borrow_mut().pop();
        text
    }

    /// What `ExprKind::Current` reads here.
    pub(super) fn current_value(&self) -> String {
        self.current
            .borrow()
            .last()
            .cloned()
            .expect("Current only inside an assignment")
    }

    /// `++`/`--` of an integer or float place.
    pub(super) fn update(
        &self,
        place: &Place,
        ty: Ty,
        increment: bool,
        prefix: bool,
        location: &str,
    ) -> String {
        let any_op;
        let op = match (ty, increment) {
            (Ty::Any, _) => {
                // `bs_any_arith` with `+`/`-` and a boxed 1.
                any_op = format!(
                    "any_arith({}, t, box_int(1), {})",
                    if increment { 0 } else { 1 },
                    location_pointer(location)
                );
                any_op.as_str()
            }
            (Ty::Float, true) => "t + 1.0",
            (Ty::Float, false) => "t - 1.0",
            (_, true) => "t.wrapping_add(1)",
            (_, false) => "t.wrapping_sub(1)",
        };
        let result = if prefix { "n" } else { "t" };
        if let Some(variable) = self.variable(place, ty) {
            return format!("{{ let t = {variable}; let n = {op}; {variable} = n; {result} }}");
        }
        let Some((pointer, stored)) = self.pointer(place, ty) else {
            let (prelude, current, store) = self
                .dynamic(place)
                .expect("every place is a variable, a pointer or dynamic");
            return format!(
                "{{ {prelude} let t: u32 = {current}; let n: u32 = {op}; {store} {result} }}"
            );
        };
        if stored == "u8" {
            return format!(
                "{{ let p = {pointer}; let t = (*p) as i32; let n = {op}; *p = n as u8; {result} }}"
            );
        }
        format!("{{ let p = {pointer}; let t = *p; let n = {op}; *p = n; {result} }}")
    }

    /// The cell of a captured variable, to store in a new closure.
    pub(super) fn cell(&self, place: &Place) -> String {
        match place {
            Place::Cell(name) => local(name),
            Place::Captured(index) => format!("(*word::<u32>(closure_, {}))", 3 + index),
            _ => unreachable!("captures are cells"),
        }
    }
}
