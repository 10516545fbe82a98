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

/// The element getter and setter for `a[i]` of an `any` (the index an
/// `any`: the runtime's) or of an `any[]` (an integer index: inline for a
/// plain `any[]`, the runtime's otherwise).
fn element_accessors(array: Ty) -> (&'static str, &'static str) {
    if array == Ty::Any {
        ("bs_any_index_get", "bs_any_index_set")
    } else {
        ("any_array_get", "any_array_set")
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
            Place::Cell(name) => format!("(*word::<{rust}>({}, CELL_VALUE))", local(name)),
            Place::Captured(index) => format!(
                "(*word::<{rust}>(*word::<u32>(closure_, CLOSURE_CAPTURES + {index}), CELL_VALUE))"
            ),
            _ => return None,
        })
    }

    /// `use_pointer` of a pointer to an element or field (evaluating the
    /// object, the index and the bounds check) and the type stored there.
    /// The object is kept in a root slot while the pointer is in use if
    /// what `use_pointer` does may collect (`allocates`).
    fn with_pointer(
        &self,
        place: &Place,
        ty: Ty,
        allocates: bool,
        use_pointer: impl FnOnce(&str, &'static str) -> String,
    ) -> Option<String> {
        match place {
            Place::Element {
                array,
                index,
                location,
            } => {
                let stored = storage(ty, Some(array.ty));
                let location = location_pointer(location);
                let growable = matches!(array.ty, Ty::Array(element) if element.is_reference());
                let unchecked = self.unchecked.borrow().contains(&(&**index as *const Expr));
                Some(self.with_operands(&[array, index], allocates, |texts| {
                    let (a, i) = (&texts[0], &texts[1]);
                    let pointer = match (growable, unchecked) {
                        (true, false) => format!("growable_element({a}, {i}, {location})"),
                        (false, false) => {
                            format!("fixed_element::<{stored}>({a}, {i}, {location})")
                        }
                        (true, true) => format!("growable_element_unchecked({a}, {i})"),
                        (false, true) => format!("fixed_element_unchecked::<{stored}>({a}, {i})"),
                    };
                    use_pointer(&pointer, stored)
                }))
            }
            Place::Field { object, offset } => {
                let stored = ty.rust();
                Some(self.with_operands(&[object], allocates, |texts| {
                    use_pointer(&format!("word::<{stored}>({}, {offset})", texts[0]), stored)
                }))
            }
            _ => None,
        }
    }

    /// The value of a place.
    pub(super) fn read(&self, place: &Place, ty: Ty) -> String {
        if let Some(variable) = self.variable(place, ty) {
            return variable;
        }
        let read = self.with_pointer(place, ty, false, |pointer, stored| {
            if stored == "u8" {
                format!("((*{pointer}) as i32)")
            } else {
                format!("(*{pointer})")
            }
        });
        if let Some(read) = read {
            return read;
        }
        self.with_dynamic(place, false, |current, _| current.to_string())
            .expect("every place is a variable, a pointer or dynamic")
    }

    /// `place = value`, as an expression giving the stored value; `value`
    /// may read the place's current value (`ExprKind::Current`).
    pub(super) fn assign(&self, place: &Place, ty: Ty, value: &Expr) -> String {
        let rust = ty.rust();
        if let Some(variable) = self.variable(place, ty) {
            let value = self.with_current(variable.clone(), value);
            let mirror = self.mirror(place, "t");
            return format!("{{ let t: {rust} = {value}; {variable} = t;{mirror} t }}");
        }
        let allocates = self.allocates(value);
        let store = self.with_pointer(place, ty, allocates, |pointer, stored| {
            let (current, store) = if stored == "u8" {
                ("((*p) as i32)".to_string(), "*p = t as u8;")
            } else {
                ("(*p)".to_string(), "*p = t;")
            };
            let value = self.with_current(current, value);
            format!("{{ let p = {pointer}; let t: {rust} = {value}; {store} t }}")
        });
        if let Some(store) = store {
            return store;
        }
        self.with_dynamic(place, allocates, |current, store| {
            let value = self.with_current(current.to_string(), value);
            format!("let n: u32 = {value}; {store} n")
        })
        .expect("every place is a variable, a pointer or dynamic")
    }

    /// `use_place` of a property or element looked up at run time, given
    /// the read of its value and the statement writing `n` to it, after
    /// its object (and index) are evaluated. The object is kept in a root
    /// slot meanwhile if what `use_place` does may collect (`allocates`).
    fn with_dynamic(
        &self,
        place: &Place,
        allocates: bool,
        use_place: impl FnOnce(&str, &str) -> String,
    ) -> Option<String> {
        match place {
            Place::DynamicElement {
                array,
                index,
                location,
            } => {
                let (get, set) = element_accessors(array.ty);
                let location = location_pointer(location);
                Some(self.with_operands(&[array, index], allocates, |texts| {
                    let body = use_place(
                        &format!("{get}(a, i, {location})"),
                        &format!("{set}(a, i, n, {location});"),
                    );
                    format!("{{ let a = {}; let i = {}; {body} }}", texts[0], texts[1])
                }))
            }
            Place::DynamicProperty {
                object,
                name,
                location,
            } => {
                let (name, location) = (location_pointer(name), location_pointer(location));
                // The read and the store each have an inline cache (a
                // store's entries also hold the field's target).
                Some(self.with_operands(&[object], allocates, |texts| {
                    let body = use_place(
                        &format!(
                            "{{ static mut CACHE: LookupCache = EMPTY_LOOKUP_CACHE; \
                             any_get(o, {name}, &raw mut CACHE, {location}) }}"
                        ),
                        &format!(
                            "{{ static mut CACHE: StoreCache = EMPTY_STORE_CACHE; \
                             any_set(o, {name}, n, &raw mut CACHE, {location}); }}"
                        ),
                    );
                    format!("{{ let o = {}; {body} }}", texts[0])
                }))
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
                    if increment { "OP_ADD" } else { "OP_SUB" },
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
            let mirror = self.mirror(place, "n");
            return format!(
                "{{ let t = {variable}; let n = {op}; {variable} = n;{mirror} {result} }}"
            );
        }
        // `any` + 1 may concatenate a string: the object stays rooted.
        let allocates = ty == Ty::Any;
        let update = self.with_pointer(place, ty, allocates, |pointer, stored| {
            if stored == "u8" {
                format!(
                    "{{ let p = {pointer}; let t = (*p) as i32; let n = {op}; *p = n as u8; {result} }}"
                )
            } else {
                format!("{{ let p = {pointer}; let t = *p; let n = {op}; *p = n; {result} }}")
            }
        });
        if let Some(update) = update {
            return update;
        }
        self.with_dynamic(place, allocates, |current, store| {
            format!("let t: u32 = {current}; let n: u32 = {op}; {store} {result}")
        })
        .expect("every place is a variable, a pointer or dynamic")
    }

    /// The cell of a captured variable, to store in a new closure.
    pub(super) fn cell(&self, place: &Place) -> String {
        match place {
            Place::Cell(name) => local(name),
            Place::Captured(index) => {
                format!("(*word::<u32>(closure_, CLOSURE_CAPTURES + {index}))")
            }
            _ => unreachable!("captures are cells"),
        }
    }
}
