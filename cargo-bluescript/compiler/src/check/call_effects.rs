//! Which globals a call may assign, transitively: a call ends the narrowing
//! of a global (narrowing.rs) only if what it calls may assign it.
//!
//! Found before bodies are checked, from the syntax: a function's own
//! assignments, and what it calls — named functions, methods (by name: a
//! virtual call may run any override, and a call on `any` any method of
//! that name), constructors with their superclasses' — as a fixpoint over
//! the calls (functions may be recursive). A call of a function value may
//! run any function or closure, so it may assign every global that any of
//! them assigns.

use super::assignments::Callee;
use super::*;

/// What a call may run.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) enum Target {
    /// A top-level function, method or constructor (qualified name).
    Function(String),
    /// Any method of this name (static or not) of any class.
    Method(String),
    /// `new C` (qualified class name): its initializers and constructors.
    New(Name),
    /// A function value.
    Unknown,
}

/// The globals (qualified names) that each call target may assign.
#[derive(Default)]
pub(super) struct CallEffects {
    summaries: HashMap<Target, HashSet<String>>,
    /// What a call of a function value may assign.
    unknown: HashSet<String>,
}

impl CallEffects {
    /// What a call of `target` may do.
    fn of(&self, target: &Target, reach: &mut Reach) {
        let summary = match target {
            Target::Unknown => None,
            target => self.summaries.get(target),
        };
        match summary {
            Some(assigned) => reach.globals.extend(assigned.iter().cloned()),
            None => {
                reach.globals.extend(self.unknown.iter().cloned());
                reach.any_closure = true;
            }
        }
    }
}

/// What some calls may do.
#[derive(Default)]
pub(super) struct Reach {
    /// The globals (qualified names) they may assign.
    pub(super) globals: HashSet<String>,
    /// Whether they may call a function value, which may be any closure.
    /// (A known function runs only the closures that reach it: values
    /// that escaped the code that made them.)
    pub(super) any_closure: bool,
}

impl<'s, 'a> Checker<'s, 'a> {
    /// Computes `call_effects`, once every module's top level and classes
    /// are known and before bodies are checked.
    pub(super) fn compute_call_effects(&mut self) {
        let mut own: HashMap<Target, HashSet<String>> = HashMap::new();
        let mut edges: HashMap<Target, HashSet<Target>> = HashMap::new();
        let current = self.current;
        let mut functions: Vec<(String, Option<&'a ast::Function<'a>>)> = self
            .functions
            .iter()
            .map(|(name, state)| match state {
                FunctionState::Unchecked(function) => (name.clone(), Some(*function)),
                _ => (name.clone(), None),
            })
            .collect();
        functions.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, function) in functions {
            let node = Target::Function(name.clone());
            // (A function without a summary may assign anything.)
            if let Some(function) = function {
                self.current = self.function_module.get(&name).copied().unwrap_or(0);
                let class = self.methods_of.get(&name).map(|m| m.class);
                let assignments = Assignments::of_declared_function(function);
                self.add_node(&node, &assignments, class, &mut own, &mut edges);
            }
            if let Some(method) = self.methods_of.get(&name) {
                // A constructor may run its class's initializers, and its
                // superclass's constructor.
                let (from, to) = match method.is_constructor {
                    true => (node, Target::New(method.class)),
                    false => (Target::Method(method_name(&name).to_string()), node),
                };
                edges.entry(from).or_default().insert(to);
            }
        }
        let mut classes: Vec<Name> = self.classes.keys().map(|name| Name::new(name)).collect();
        classes.sort();
        let mut fields = HashSet::new();
        for class in classes {
            let info = &self.classes[class.qualified()];
            let declaration = info.declaration;
            self.current = info.module;
            let node = Target::New(class);
            let mut targets = HashSet::new();
            targets.extend(info.constructor.clone().map(Target::Function));
            targets.extend(info.superclass.map(Target::New));
            edges.entry(node.clone()).or_default().extend(targets);
            let assignments = Assignments::of_initializers(declaration);
            self.add_node(&node, &assignments, Some(class), &mut own, &mut edges);
            for element in &declaration.body.body {
                if let ast::ClassElement::PropertyDefinition(property) = element {
                    if let Some(name) = property.key.static_name() {
                        fields.insert(name.to_string());
                    }
                }
            }
        }
        self.current = current;
        // A property may hold a function value: calling it runs anything.
        for field in fields {
            edges
                .entry(Target::Method(field))
                .or_default()
                .insert(Target::Unknown);
        }
        let unknown = self.globals_assigned_by_functions.clone();
        let mut summaries = own;
        for target in edges.keys() {
            summaries.entry(target.clone()).or_default();
        }
        loop {
            let mut changed = false;
            for (target, callees) in &edges {
                let mut added = Vec::new();
                for callee in callees {
                    let assigned = match callee {
                        Target::Unknown => &unknown,
                        // Not found before checking: anything.
                        callee => summaries.get(callee).unwrap_or(&unknown),
                    };
                    added.extend(
                        assigned
                            .iter()
                            .filter(|g| !summaries[target].contains(*g))
                            .cloned(),
                    );
                }
                if !added.is_empty() {
                    changed = true;
                    summaries
                        .get_mut(target)
                        .expect("every target has a summary")
                        .extend(added);
                }
            }
            if !changed {
                break;
            }
        }
        self.call_effects = CallEffects { summaries, unknown };
    }

    /// Records what the code of `node` (in the current module, of
    /// `class`) assigns and calls.
    fn add_node(
        &self,
        node: &Target,
        assignments: &Assignments,
        class: Option<Name>,
        own: &mut HashMap<Target, HashSet<String>>,
        edges: &mut HashMap<Target, HashSet<Target>>,
    ) {
        let module = self.module();
        own.entry(node.clone())
            .or_default()
            .extend(assignments.undeclared.iter().map(|g| module.qualify(g)));
        let targets: HashSet<Target> = assignments
            .callees
            .iter()
            .filter_map(|callee| self.call_target(callee, class))
            .collect();
        edges.entry(node.clone()).or_default().extend(targets);
    }

    /// What `callee`, called in the current module (in a method of
    /// `class`), may run: `None` if no script code.
    pub(super) fn call_target(&self, callee: &Callee, class: Option<Name>) -> Option<Target> {
        match callee {
            Callee::Named(name) => {
                if self.lookup_local(name).is_some() || self.is_captured(name) {
                    return Some(Target::Unknown);
                }
                match self.item(name) {
                    Some(Item::Function(function)) => Some(Target::Function(function)),
                    Some(Item::Global { .. }) => Some(Target::Unknown),
                    // Built-in functions (timers only start their
                    // callbacks), native exports, and errors (reported).
                    _ => None,
                }
            }
            Callee::Method(name) => Some(Target::Method(name.clone())),
            Callee::New(name) => match self.item(name) {
                Some(Item::Class(class)) => Some(Target::New(Name::new(&class))),
                Some(Item::Global { .. }) => Some(Target::Unknown),
                _ => None,
            },
            Callee::Super => {
                let superclass = class.and_then(|c| self.classes.get(c.qualified())?.superclass);
                Some(superclass.map_or(Target::Unknown, Target::New))
            }
            Callee::Unknown => Some(Target::Unknown),
        }
    }

    /// What code calling `callees` (in the current function) may do
    /// through its calls.
    pub(super) fn reach_of_calls(&self, callees: &[Callee]) -> Reach {
        let class = self.current_class();
        let mut reach = Reach::default();
        for callee in callees {
            if let Some(target) = self.call_target(callee, class) {
                self.call_effects.of(&target, &mut reach);
            }
        }
        reach
    }

    /// What the call `call` (checked) may do; `None` if it runs no script
    /// code.
    pub(super) fn reach_of_call(&self, call: &Expr) -> Option<Reach> {
        let target = match &call.kind {
            ExprKind::CallScript { name, .. } => Target::Function(name.clone()),
            ExprKind::CallMethod {
                function,
                vtable: None,
                ..
            } => Target::Function(function.clone()),
            ExprKind::CallMethod { function, .. } => {
                Target::Method(method_name(function).to_string())
            }
            ExprKind::New { class, .. } => Target::New(*class),
            ExprKind::CallClosure { .. } | ExprKind::DynamicCall { .. } => Target::Unknown,
            ExprKind::Retyped(inner) | ExprKind::FromAny(inner, _) | ExprKind::ToAny(inner) => {
                return self.reach_of_call(inner);
            }
            _ => return None,
        };
        let mut reach = Reach::default();
        self.call_effects.of(&target, &mut reach);
        Some(reach)
    }

    /// The class whose method (or constructor) is being checked.
    fn current_class(&self) -> Option<Name> {
        let function = self.contexts.iter().find(|c| !c.is_arrow)?;
        self.methods_of.get(&function.name).map(|m| m.class)
    }
}

/// `m` of the method function `C.m` (or `C.static m`).
fn method_name(function: &str) -> &str {
    let name = function.rsplit('.').next().unwrap_or(function);
    name.strip_prefix("static ").unwrap_or(name)
}
