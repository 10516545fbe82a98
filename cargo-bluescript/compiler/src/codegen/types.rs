//! Run-time type information: descriptors of classes, array types and
//! function types (docs/values-and-heap.md, "Descriptors"), the adapters
//! through which the runtime calls methods and closures with `any`
//! arguments, and conversions to and from `any`.
//!
//! Descriptors live in the image, or, for the types a shell cell
//! declares, in a crate of their own placed where nothing moves it: a
//! patch refers to them by symbol, so that compacting the patch region
//! never leaves an object pointing to a descriptor that is gone.

use super::*;
use bluescript_abi::object::{
    MEMBER_ANY, MEMBER_BOOL, MEMBER_FLOAT, MEMBER_INT, MEMBER_METHOD, MEMBER_NULLABLE, MEMBER_REF,
};
use std::collections::BTreeSet;

const DESCRIPTOR_TYPES: &str = r#"#[repr(C)]
struct ArrayDesc { kind: u32, element: *const u32 }
unsafe impl Sync for ArrayDesc {}
#[repr(C)]
struct ClassDesc<const V: usize> {
    kind: u32,
    size_words: u32,
    ref_map: *const u32,
    superclass: *const u32,
    name: *const u8,
    members: *const Member,
    member_count: u32,
    /// The slot of each virtual method.
    vtable: [u32; V],
}
unsafe impl<const V: usize> Sync for ClassDesc<V> {}
#[repr(C)]
struct Member { name: *const u8, kind: u32, offset: u32, target: *const () }
unsafe impl Sync for Member {}
#[repr(C)]
struct ClosureDesc { kind: u32, signature: *const u8, any_entry: *const () }
unsafe impl Sync for ClosureDesc {}
/// A run-time error at a NUL-terminated location.
fn fail_at(message: &str, location: *const u8) -> ! {
    let mut length = 0;
    if !location.is_null() {
        while unsafe { *location.add(length) } != 0 {
            length += 1;
        }
    }
    unsafe { bs_error(message.as_ptr(), message.len(), location, length) }
}
"#;

/// The symbol of the descriptor of `ty`'s objects (of `T` for `T |
/// null`): the runtime's for strings and arrays of its element kinds, the
/// compiler's for classes and the other array and function types.
pub fn descriptor_symbol(ty: Ty) -> String {
    let runtime = |what: &str| format!("{}{what}", prefix::RUNTIME_DESCRIPTOR);
    match ty.non_null() {
        Ty::String => runtime("string"),
        Ty::Uint8Array => runtime("uint8_array"),
        Ty::FixedArray => runtime("fixed_array"),
        array @ Ty::Array(element) => match *element {
            Ty::Integer | Ty::Enum(_) => runtime("int_array"),
            Ty::Int32 => runtime("int32_array"),
            Ty::Float => runtime("float_array"),
            Ty::Boolean => runtime("bool_array"),
            Ty::Any => runtime("any_array"),
            Ty::String => runtime("string_array"),
            _ => format!("{}{}", prefix::TYPE, mangle(&array.to_string())),
        },
        Ty::Class(name) => format!("{}{}", prefix::CLASS, mangle(name.qualified())),
        function @ Ty::Function(_) => format!("{}{}", prefix::TYPE, mangle(&function.to_string())),
        // No other type is an object.
        _ => runtime("any_array"),
    }
}

impl Generator<'_> {
    /// The address of the descriptor of `ty` (of `T` for `T | null`).
    pub(super) fn descriptor(&self, ty: Ty) -> String {
        let ty = ty.non_null();
        let symbol = descriptor_symbol(ty);
        if !symbol.starts_with(prefix::RUNTIME_DESCRIPTOR) {
            // One the compiler emits: recorded for `emit_descriptors`.
            self.descriptors.borrow_mut().insert(symbol.clone(), ty);
        }
        format!("(&raw const {symbol} as *const u32)")
    }

    /// The image's descriptors and adapters, for every type the code
    /// referred to (and the types those refer to).
    pub(super) fn emit_descriptors(&self) -> String {
        self.emit_descriptors_where(&|_| true).0
    }

    /// The descriptors and adapters of the types the code referred to (and
    /// of the types those refer to) for which `emit` holds; also the
    /// symbols of the others, which the code refers to as external.
    pub(super) fn emit_descriptors_where(
        &self,
        emit: &dyn Fn(&str) -> bool,
    ) -> (String, BTreeSet<String>) {
        let mut out = String::from(DESCRIPTOR_TYPES);
        let mut done: BTreeMap<String, ()> = BTreeMap::new();
        let mut external = BTreeSet::new();
        loop {
            let pending: Vec<(String, Ty)> = self
                .descriptors
                .borrow()
                .iter()
                .filter(|(symbol, _)| !done.contains_key(*symbol))
                .map(|(symbol, ty)| (symbol.clone(), *ty))
                .collect();
            if pending.is_empty() {
                return (out, external);
            }
            for (symbol, ty) in pending {
                done.insert(symbol.clone(), ());
                if !emit(&symbol) {
                    external.insert(symbol);
                    continue;
                }
                match ty {
                    Ty::Array(element) => {
                        let _ = writeln!(
                            out,
                            "#[unsafe(no_mangle)]\npub static {symbol}: ArrayDesc = ArrayDesc {{ kind: {}, element: unsafe {{ {} }} }};",
                            Kind::Array as usize,
                            self.descriptor(*element)
                        );
                    }
                    Ty::Function(signature) => {
                        self.closure_descriptor(&mut out, &symbol, &signature)
                    }
                    Ty::Class(name) => self.class_descriptor(&mut out, &symbol, name),
                    _ => {}
                }
            }
        }
    }

    fn closure_descriptor(&self, out: &mut String, symbol: &str, signature: &Signature) {
        let entry = format!("{symbol}_entry");
        let params: Vec<&str> = signature.params.iter().map(|t| t.rust()).collect();
        let _ = writeln!(
            out,
            "unsafe extern \"C\" fn {entry}(c: u32, args: *const u32, argc: usize, loc: *const u8) -> u32 {{ unsafe {{"
        );
        self.check_arity(out, signature.params.len());
        let args = self.unbox_arguments(out, signature);
        let _ = writeln!(
            out,
            "    let f = core::mem::transmute::<usize, unsafe extern \"C\" fn(u32{}){}>(slot(*word::<u32>(c, CLOSURE_SLOT) as usize));\n    let r = f(c{});\n    {}\n}} }}",
            params.iter().map(|p| format!(", {p}")).collect::<String>(),
            ret_suffix(signature.ret),
            args.iter().map(|a| format!(", {a}")).collect::<String>(),
            to_any("r", signature.ret)
        );
        let _ = writeln!(
            out,
            "#[unsafe(no_mangle)]\npub static {symbol}: ClosureDesc = ClosureDesc {{ kind: {}, signature: {}.as_ptr(), any_entry: {entry} as *const () }};",
            Kind::Closure as usize,
            string_literal(&format!("{}\0", Ty::Function(Interned::new(signature.clone()))))
        );
    }

    fn check_arity(&self, out: &mut String, count: usize) {
        let _ = writeln!(
            out,
            "    if argc != {count} {{ fail_at(\"wrong number of arguments: expected {count}\", loc) }}"
        );
    }

    /// `let aN = <args[N] converted>;` for each parameter; the names.
    fn unbox_arguments(&self, out: &mut String, signature: &Signature) -> Vec<String> {
        let mut names = Vec::new();
        for (i, ty) in signature.params.iter().enumerate() {
            let value = self.unboxed(&format!("*args.add({i})"), *ty, "loc");
            let _ = writeln!(out, "    let a{i}: {} = {value};", ty.rust());
            names.push(format!("a{i}"));
        }
        names
    }

    fn class_descriptor(&self, out: &mut String, symbol: &str, name: Name) {
        let Some(class) = self.classes.iter().find(|c| c.name == name) else {
            return;
        };
        let size = class.fields.len() + 1;
        let mut ref_map = vec![0u32; size.div_ceil(32)];
        for (i, (_, ty)) in class.fields.iter().enumerate() {
            if ty.is_reference() {
                ref_map[(i + 1) / 32] |= 1 << ((i + 1) % 32);
            }
        }
        let mut members = Vec::new();
        for (i, (field, ty)) in class.fields.iter().enumerate() {
            let (kind, target) = match ty {
                Ty::Integer | Ty::Int32 | Ty::Enum(_) => {
                    (MEMBER_INT, "core::ptr::null()".to_string())
                }
                Ty::Float => (MEMBER_FLOAT, "core::ptr::null()".to_string()),
                Ty::Boolean => (MEMBER_BOOL, "core::ptr::null()".to_string()),
                Ty::Any => (MEMBER_ANY, "core::ptr::null()".to_string()),
                // Nullable, of no type: only null fits.
                Ty::Null => (MEMBER_NULLABLE, "core::ptr::null()".to_string()),
                Ty::Nullable(_) => (
                    MEMBER_NULLABLE,
                    format!("unsafe {{ {} }} as *const ()", self.descriptor(*ty)),
                ),
                _ => (
                    MEMBER_REF,
                    format!("unsafe {{ {} }} as *const ()", self.descriptor(*ty)),
                ),
            };
            members.push(format!(
                "Member {{ name: {}.as_ptr(), kind: {kind}, offset: {}, target: {target} }}",
                string_literal(&format!("{field}\0")),
                i + 1
            ));
        }
        for (method, function, signature) in &class.methods {
            let adapter = format!("{symbol}_{}", mangle(method));
            let _ = writeln!(
                out,
                "unsafe extern \"C\" fn {adapter}(this: u32, args: *const u32, argc: usize, loc: *const u8) -> u32 {{ unsafe {{"
            );
            self.check_arity(out, signature.params.len());
            let args = self.unbox_arguments(out, signature);
            let params: String = signature
                .params
                .iter()
                .map(|t| format!(", {}", t.rust()))
                .collect();
            let _ = writeln!(
                out,
                "    let f = core::mem::transmute::<usize, unsafe extern \"C\" fn(u32{params}){}>(slot({}));\n    let r = f(this{});\n    {}\n}} }}",
                ret_suffix(signature.ret),
                self.slot(function),
                args.iter().map(|a| format!(", {a}")).collect::<String>(),
                to_any("r", signature.ret)
            );
            members.push(format!(
                "Member {{ name: {}.as_ptr(), kind: {MEMBER_METHOD}, offset: 0, target: {adapter} as *const () }}",
                string_literal(&format!("{method}\0"))
            ));
        }
        let superclass = match class.superclass {
            Some(superclass) => format!("unsafe {{ {} }}", self.descriptor(Ty::Class(superclass))),
            None => "core::ptr::null()".to_string(),
        };
        let vtable: Vec<String> = class
            .vtable
            .iter()
            .map(|function| self.slot(function).to_string())
            .collect();
        let _ = writeln!(
            out,
            "static {symbol}_REFS: [u32; {}] = {ref_map:?};\n\
             static {symbol}_MEMBERS: [Member; {}] = [{}];\n\
             #[unsafe(no_mangle)]\npub static {symbol}: ClassDesc<{}> = ClassDesc {{ kind: {}, size_words: {size}, \
             ref_map: {symbol}_REFS.as_ptr(), superclass: {superclass}, name: {}.as_ptr(), \
             members: {symbol}_MEMBERS.as_ptr(), member_count: {}, vtable: [{}] }};",
            ref_map.len(),
            members.len(),
            members.join(", "),
            vtable.len(),
            Kind::Instance as usize,
            string_literal(&format!("{}\0", name.name())),
            members.len(),
            vtable.join(", ")
        );
    }

    /// The `any` `value` (Rust text) converted to `ty`, checked at run time
    /// (`location` is a `*const u8` expression).
    pub(super) fn unboxed(&self, value: &str, ty: Ty, location: &str) -> String {
        match ty {
            Ty::Integer | Ty::Int32 | Ty::Enum(_) => format!("any_to_int({value}, {location})"),
            Ty::Float => format!("bs_any_to_float({value}, {location})"),
            Ty::Boolean => format!("bs_any_to_bool({value}, {location})"),
            Ty::String => format!("bs_any_to_string({value}, {location})"),
            Ty::Null => format!("bs_any_to_null({value}, {location})"),
            Ty::Any | Ty::Void => value.to_string(),
            Ty::Array(element) if *element == Ty::Any => format!("any_array({value}, {location})"),
            Ty::Nullable(inner) => format!(
                "{{ let t: u32 = {value}; if t == 0 {{ 0 }} else {{ {} }} }}",
                self.unboxed("t", *inner, location)
            ),
            // An object of exactly the type passes inline; the runtime
            // checks the rest (subclasses, errors).
            _ => format!(
                "{{ let t: u32 = {value}; let d = {}; if is_exactly(t, d) {{ t }} else {{ bs_any_to_object(t, d, {location}) }} }}",
                self.descriptor(ty)
            ),
        }
    }
}

/// `value` (Rust text, of static type `ty`) as an `any`.
pub(super) fn to_any(value: &str, ty: Ty) -> String {
    match ty {
        Ty::Integer | Ty::Int32 | Ty::Enum(_) => format!("box_int({value})"),
        Ty::Float => format!("bs_any_from_float({value})"),
        Ty::Boolean => format!("box_bool({value})"),
        Ty::Void => format!("{{ let _ = {value}; 0u32 }}"),
        _ => value.to_string(),
    }
}
