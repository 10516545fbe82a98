//! Versions of untyped functions specialized to the classes their `any`
//! parameters held (the host's dynamic compiler chooses them from the
//! device's type profiles, profiles.rs).
//!
//! A specialized function checks on entry that each specialized parameter
//! holds an instance of exactly the class it was seen with (or `null`,
//! where that was seen too) and then runs a copy of its body in which
//! what follows from it is direct: a property read of an `any` whose
//! class is known reads the field at its offset, and a method call calls
//! the method (virtually where a subclass overrides it) with its
//! arguments converted as the method's adapter converts them. Any other
//! value runs the body as written, which records its profile. Every value
//! and error is the same as the body as written would give.
//!
//! What is known is found flow-insensitively: the class of an `any` local
//! is the join of everything ever stored in it (a specialized parameter,
//! a field of a known class's type, `null`, a typed class value), so it
//! holds at every read.

use super::calls::for_each_statement;
use crate::ir::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The class each specialized `any` parameter held (`C | null` when
/// `null` came too), by parameter name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Specialization {
    pub params: Vec<(String, Ty)>,
}

impl std::fmt::Display for Specialization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(name, ty)| format!("{name}: {ty}"))
            .collect();
        write!(f, "({})", params.join(", "))
    }
}

/// The specializations of a patch's functions, by function.
pub type Specializations = BTreeMap<String, Specialization>;

/// What an `any` value is known to hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Known {
    /// Nothing stored yet (the fixpoint's start).
    Unset,
    Null,
    /// An instance of the class or a subclass, or also `null`.
    Class {
        class: Name,
        nullable: bool,
    },
    Unknown,
}

/// A specialized copy of a function: the entry check, and the function
/// with the specialized body (and what that body calls besides).
pub(super) struct Specialized {
    /// `(parameter, class, nullable)` to check on entry.
    pub guards: Vec<(String, Name, bool)>,
    pub function: Function,
}

/// Whether `v` is an instance of exactly the class of `descriptor`: the
/// entry check of a specialized parameter.
pub(super) const SPECIALIZED_HELPERS: &str = r#"#[inline(always)]
unsafe fn is_exactly(v: u32, descriptor: *const u32) -> bool {
    unsafe { v != ANY_UNDEFINED && v & TAG_MASK == TAG_REFERENCE && *(v as *const u32) == descriptor as u32 }
}
"#;

/// Whether `body` reads or writes a property of an `any`, calls a method
/// of one or converts one to a class: what a specialized version makes
/// direct.
pub(super) fn has_dynamic_members(body: &[Stmt]) -> bool {
    let mut found = false;
    super::calls::for_each_expr(body, &mut |expr| {
        found |= match &expr.kind {
            ExprKind::Read(Place::DynamicProperty { .. })
            | ExprKind::Assign(Place::DynamicProperty { .. }, _) => true,
            ExprKind::DynamicCall { symbol, .. } => *symbol == "bs_any_call_method",
            ExprKind::FromAny(..) => matches!(expr.ty.non_null(), Ty::Class(_)),
            _ => false,
        }
    });
    found
}

/// Whether a version of `function` specialized to `specialization` makes
/// any property access or method call direct (else it is not worth its
/// code).
pub fn specialization_gains(
    program: &Program,
    function: &Function,
    specialization: &Specialization,
) -> bool {
    specialize(&program.classes, function, specialization).is_some()
}

/// `function` specialized to `specialization`, if that makes any access
/// or call direct.
pub(super) fn specialize(
    classes: &[Class],
    function: &Function,
    specialization: &Specialization,
) -> Option<Specialized> {
    let mut guards = Vec::new();
    let mut assumed = BTreeMap::new();
    for (name, ty) in &specialization.params {
        let declared = function
            .params
            .iter()
            .any(|(p, t)| p == name && *t == Ty::Any);
        let (class, nullable) = match *ty {
            Ty::Class(class) => (class, false),
            Ty::Nullable(inner) => match *inner {
                Ty::Class(class) => (class, true),
                _ => return None,
            },
            _ => return None,
        };
        if !declared || !classes.iter().any(|c| c.name == class) {
            return None;
        }
        guards.push((name.clone(), class, nullable));
        assumed.insert(name.clone(), Known::Class { class, nullable });
    }
    if guards.is_empty() || !function.boxed_params.is_empty() || function.is_closure {
        return None;
    }
    let analysis = Analysis::of(classes, function, assumed);
    let mut copy = function.clone();
    let mut rewriter = Rewriter {
        analysis: &analysis,
        rewritten: 0,
        references: Vec::new(),
    };
    super::calls::for_each_top_expr_mut(&mut copy.body, &mut |expr| rewriter.statement(expr));
    if rewriter.rewritten == 0 {
        return None;
    }
    copy.references.extend(rewriter.references);
    copy.references.sort();
    copy.references.dedup();
    Some(Specialized {
        guards,
        function: copy,
    })
}

struct Analysis<'c> {
    classes: &'c [Class],
    /// The `any` locals and parameters, and what they hold.
    locals: BTreeMap<String, Known>,
}

impl<'c> Analysis<'c> {
    fn of(classes: &'c [Class], function: &Function, assumed: BTreeMap<String, Known>) -> Self {
        let mut analysis = Analysis {
            classes,
            locals: BTreeMap::new(),
        };
        for (name, ty) in &function.params {
            if *ty == Ty::Any {
                let known = assumed.get(name).copied().unwrap_or(Known::Unknown);
                analysis.locals.insert(name.clone(), known);
            }
        }
        // Every other `any` local starts knowing nothing (not even
        // `Unknown`), so that `x = x.next` can find `x`'s class from its
        // other stores. Joins only go up, a local's class only up its
        // superclasses: a few rounds reach the fixpoint.
        for_each_statement(&function.body, &mut |statement| {
            if let StmtKind::Let {
                name, ty: Ty::Any, ..
            } = &statement.kind
            {
                analysis.locals.entry(name.clone()).or_insert(Known::Unset);
            }
        });
        loop {
            let before = analysis.locals.clone();
            analysis.note_stores(&function.body);
            if analysis.locals == before {
                return analysis;
            }
        }
    }

    fn note_stores(&mut self, body: &[Stmt]) {
        let mut stores: Vec<(String, Known)> = Vec::new();
        for_each_statement(body, &mut |statement| {
            if let StmtKind::Let {
                name,
                ty: Ty::Any,
                init,
                boxed,
            } = &statement.kind
            {
                let known = match init {
                    _ if *boxed => Known::Unknown,
                    Some(init) => self.known(init),
                    None => Known::Null,
                };
                stores.push((name.clone(), known));
            }
            if let StmtKind::Loop { fresh, .. } = &statement.kind {
                stores.extend(fresh.iter().map(|(name, _)| (name.clone(), Known::Unknown)));
            }
        });
        super::calls::for_each_expr(body, &mut |expr| match &expr.kind {
            ExprKind::Assign(Place::Local(name), value) => {
                stores.push((name.clone(), self.known(value)));
            }
            ExprKind::Update {
                place: Place::Local(name),
                ..
            } => stores.push((name.clone(), Known::Unknown)),
            _ => {}
        });
        for (name, known) in stores {
            let joined = match self.locals.get(&name) {
                Some(old) => self.join(*old, known),
                None => known,
            };
            self.locals.insert(name, joined);
        }
    }

    fn class(&self, name: Name) -> Option<&'c Class> {
        self.classes.iter().find(|c| c.name == name)
    }

    /// Whether `class` is `ancestor` or one of its subclasses.
    fn descends(&self, class: Name, ancestor: Name) -> bool {
        let mut current = Some(class);
        while let Some(name) = current {
            if name == ancestor {
                return true;
            }
            current = self.class(name).and_then(|c| c.superclass);
        }
        false
    }

    fn join(&self, a: Known, b: Known) -> Known {
        use Known::*;
        match (a, b) {
            (Unset, x) | (x, Unset) => x,
            (Unknown, _) | (_, Unknown) => Unknown,
            (Null, Null) => Null,
            (Null, Class { class, .. }) | (Class { class, .. }, Null) => Class {
                class,
                nullable: true,
            },
            (
                Class {
                    class: a,
                    nullable: an,
                },
                Class {
                    class: b,
                    nullable: bn,
                },
            ) => {
                let nullable = an || bn;
                if self.descends(b, a) {
                    Class { class: a, nullable }
                } else if self.descends(a, b) {
                    Class { class: b, nullable }
                } else {
                    Unknown
                }
            }
        }
    }

    /// What a value of static type `ty` is known to hold.
    fn of_type(ty: Ty) -> Known {
        match ty {
            Ty::Class(class) => Known::Class {
                class,
                nullable: false,
            },
            Ty::Nullable(inner) => match *inner {
                Ty::Class(class) => Known::Class {
                    class,
                    nullable: true,
                },
                _ => Known::Unknown,
            },
            Ty::Null => Known::Null,
            _ => Known::Unknown,
        }
    }

    fn known(&self, expr: &Expr) -> Known {
        if expr.ty != Ty::Any {
            return Self::of_type(expr.ty);
        }
        match &expr.kind {
            ExprKind::Read(Place::Local(name)) => {
                self.locals.get(name).copied().unwrap_or(Known::Unknown)
            }
            // Of a receiver that holds nothing yet: nothing yet either.
            ExprKind::Read(Place::DynamicProperty { object, name, .. }) => {
                match (self.known(object), self.field(object, name)) {
                    (Known::Unset, _) => Known::Unset,
                    (_, Some((_, ty))) => Self::of_type(ty),
                    _ => Known::Unknown,
                }
            }
            ExprKind::DynamicCall {
                receiver,
                name: Some(name),
                ..
            } => match (self.known(receiver), self.method(receiver, name)) {
                (Known::Unset, _) => Known::Unset,
                (_, Some(method)) => Self::of_type(method.2.ret),
                _ => Known::Unknown,
            },
            ExprKind::ToAny(inner) | ExprKind::Retyped(inner) => self.known(inner),
            ExprKind::Null => Known::Null,
            ExprKind::Assign(_, value) => self.known(value),
            ExprKind::Conditional {
                then, otherwise, ..
            } => self.join(self.known(then), self.known(otherwise)),
            _ => Known::Unknown,
        }
    }

    /// The class `object` is known to be an instance of (`nullable`: or
    /// `null`).
    fn class_of(&self, object: &Expr) -> Option<(&'c Class, bool)> {
        match self.known(object) {
            Known::Class { class, nullable } => Some((self.class(class)?, nullable)),
            _ => None,
        }
    }

    /// Field `name` of `object`'s known class: its word offset and type.
    fn field(&self, object: &Expr, name: &str) -> Option<(u32, Ty)> {
        let (class, _) = self.class_of(object)?;
        let index = class.fields.iter().position(|(field, _)| field == name)?;
        Some((index as u32 + 1, class.fields[index].1))
    }

    /// Method `name` of `object`'s known class.
    fn method(&self, object: &Expr, name: &str) -> Option<&'c (String, String, Signature)> {
        let (class, _) = self.class_of(object)?;
        class.methods.iter().find(|(method, ..)| method == name)
    }

    /// Whether `value` is known to hold a value of type `ty`, a class or
    /// a nullable class: an instance of it or of a subclass, or `null`
    /// where `ty` allows it.
    fn fits(&self, value: &Expr, ty: Ty) -> bool {
        let Ty::Class(target) = ty.non_null() else {
            return false;
        };
        let nullable_target = ty != ty.non_null();
        match self.known(value) {
            Known::Null => nullable_target,
            Known::Class { class, nullable } => {
                self.descends(class, target) && (nullable_target || !nullable)
            }
            Known::Unset | Known::Unknown => false,
        }
    }

    /// Whether some subclass of `class` implements vtable entry `index`
    /// with another function than `function`.
    fn overridden(&self, class: &Class, index: usize, function: &str) -> bool {
        self.classes.iter().any(|other| {
            other.name != class.name
                && self.descends(other.name, class.name)
                && other.vtable.get(index).is_some_and(|f| f != function)
        })
    }
}

struct Rewriter<'a, 'c> {
    analysis: &'a Analysis<'c>,
    rewritten: usize,
    references: Vec<String>,
}

impl Rewriter<'_, '_> {
    /// Rewrites an expression of a statement: as any other, and a store
    /// into a property whose value nothing reads.
    fn statement(&mut self, expr: &mut Expr) {
        self.expr(expr);
        let ExprKind::Assign(
            Place::DynamicProperty {
                object,
                name,
                location,
            },
            value,
        ) = &expr.kind
        else {
            return;
        };
        if let Some(replacement) = self.field_write(expr, object, name, value, location) {
            self.rewritten += 1;
            *expr = replacement;
        }
    }

    /// `object.name = value` stored at the field's offset, `value`
    /// converted as the runtime's store converts it (and failing with the
    /// same error). Only fields whose conversion is the same as an `as`
    /// conversion's: an `any`, an integer, a float, an instance. Not
    /// `o.n += v`, which reads the field as an `any` first.
    fn field_write(
        &self,
        assign: &Expr,
        object: &Expr,
        name: &str,
        value: &Expr,
        location: &str,
    ) -> Option<Expr> {
        let (class, nullable) = self.analysis.class_of(object)?;
        let (offset, ty) = self.analysis.field(object, name)?;
        let converts_as_stores = matches!(ty, Ty::Any | Ty::Integer | Ty::Float)
            || matches!(ty.non_null(), Ty::Class(_));
        if !converts_as_stores || super::contains_current(value) {
            return None;
        }
        let value = if ty == Ty::Any {
            value.clone()
        } else if self.analysis.fits(value, ty) {
            // The same word, as the field's type: nothing to check.
            retyped(value.clone(), ty)
        } else {
            Expr {
                ty,
                kind: ExprKind::FromAny(Box::new(value.clone()), location.to_string()),
            }
        };
        let direct = Expr {
            ty: Ty::Any,
            kind: ExprKind::ToAny(Box::new(Expr {
                ty,
                kind: ExprKind::Assign(
                    Place::Field {
                        object: Box::new(retyped(object.clone(), Ty::Class(class.name))),
                        offset,
                    },
                    Box::new(value),
                ),
            })),
        };
        unless_null(nullable, object, assign, direct)
    }

    /// Rewrites `expr`'s subexpressions, then `expr` itself. What a site
    /// is known to hold is found on the body as written (the analysis
    /// reads the original locals, which the rewrite leaves alone).
    fn expr(&mut self, expr: &mut Expr) {
        for child in super::roots::children_mut(expr) {
            self.expr(child);
        }
        let replacement = match &expr.kind {
            ExprKind::Read(Place::DynamicProperty {
                object,
                name,
                location: _,
            }) => self.field_read(expr, object, name),
            ExprKind::DynamicCall {
                symbol: "bs_any_call_method",
                receiver,
                name: Some(name),
                args,
                location,
            } => self.method_call(expr, receiver, name, args, location),
            // A conversion that cannot fail: the same word.
            ExprKind::FromAny(value, _) if self.analysis.fits(value, expr.ty) => {
                Some(retyped((**value).clone(), expr.ty))
            }
            _ => None,
        };
        if let Some(replacement) = replacement {
            self.rewritten += 1;
            *expr = replacement;
        }
    }

    /// `object.name` read at its offset. A receiver that may be `null`
    /// must be a local (read twice): `null` takes the dynamic read, which
    /// reports the error.
    fn field_read(&self, read: &Expr, object: &Expr, name: &str) -> Option<Expr> {
        let (class, nullable) = self.analysis.class_of(object)?;
        let (offset, ty) = self.analysis.field(object, name)?;
        let direct = Expr {
            ty: Ty::Any,
            kind: ExprKind::ToAny(Box::new(Expr {
                ty,
                kind: ExprKind::Read(Place::Field {
                    object: Box::new(retyped(object.clone(), Ty::Class(class.name))),
                    offset,
                }),
            })),
        };
        unless_null(nullable, object, read, direct)
    }

    /// `receiver.name(args)` as a call of the method, its arguments
    /// converted as its adapter converts them. Only where converting
    /// each argument before the next is evaluated changes nothing: the
    /// adapter converts them after all were evaluated.
    fn method_call(
        &mut self,
        call: &Expr,
        receiver: &Expr,
        name: &str,
        args: &[Expr],
        location: &str,
    ) -> Option<Expr> {
        let (class, nullable) = self.analysis.class_of(receiver)?;
        let (_, function, signature) = self.analysis.method(receiver, name)?;
        if signature.params.len() != args.len() {
            return None;
        }
        let converts = signature.params.iter().any(|ty| *ty != Ty::Any);
        if converts && !args.iter().all(is_pure) {
            return None;
        }
        let args: Vec<Expr> = args
            .iter()
            .zip(&signature.params)
            .map(|(arg, ty)| match ty {
                Ty::Any => arg.clone(),
                ty => Expr {
                    ty: *ty,
                    kind: ExprKind::FromAny(Box::new(arg.clone()), location.to_string()),
                },
            })
            .collect();
        let index = class.vtable.iter().position(|f| f == function)?;
        let direct = if self.analysis.overridden(class, index, function) {
            ExprKind::CallMethod {
                function: function.clone(),
                vtable: Some(index as u32),
                signature: signature.clone(),
                object: Box::new(retyped(receiver.clone(), Ty::Class(class.name))),
                args,
            }
        } else {
            // The class that declares the method is what `this` is.
            let owner = Name::new(function.rsplit_once('.')?.0);
            let mut params = vec![Ty::Class(owner)];
            params.extend(signature.params.iter().copied());
            let mut all = vec![retyped(receiver.clone(), Ty::Class(owner))];
            all.extend(args);
            ExprKind::CallScript {
                name: function.clone(),
                signature: Signature {
                    params,
                    ret: signature.ret,
                },
                args: all,
            }
        };
        let direct = Expr {
            ty: Ty::Any,
            kind: ExprKind::ToAny(Box::new(Expr {
                ty: signature.ret,
                kind: direct,
            })),
        };
        let rewritten = unless_null(nullable, receiver, call, direct)?;
        self.references.push(function.clone());
        Some(rewritten)
    }
}

/// `direct` where `object` is known not to be `null`; else, if `object`
/// is a local (evaluated twice), `dynamic` (which reports the error) when
/// it is `null` and `direct` otherwise.
fn unless_null(nullable: bool, object: &Expr, dynamic: &Expr, direct: Expr) -> Option<Expr> {
    if !nullable {
        return Some(direct);
    }
    if !matches!(object.kind, ExprKind::Read(Place::Local(_))) {
        return None;
    }
    Some(Expr {
        ty: Ty::Any,
        kind: ExprKind::Conditional {
            cond: Box::new(Expr {
                ty: Ty::Boolean,
                kind: ExprKind::IsNull {
                    value: Box::new(object.clone()),
                    negated: false,
                },
            }),
            then: Box::new(dynamic.clone()),
            otherwise: Box::new(direct),
        },
    })
}

/// The same word seen as `ty`.
fn retyped(value: Expr, ty: Ty) -> Expr {
    Expr {
        ty,
        kind: ExprKind::Retyped(Box::new(value)),
    }
}

/// Evaluating it has no effect and cannot fail.
fn is_pure(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Int(_)
        | ExprKind::Float(_)
        | ExprKind::Bool(_)
        | ExprKind::Str(_)
        | ExprKind::Null
        | ExprKind::Read(Place::Local(_) | Place::Global(_) | Place::Cell(_)) => true,
        ExprKind::ToAny(inner) | ExprKind::Retyped(inner) => is_pure(inner),
        _ => false,
    }
}
