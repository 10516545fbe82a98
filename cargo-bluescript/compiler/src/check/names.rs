//! Names in function bodies: locals and their scopes, the captures of
//! closures, and what a name designates (a local, a cell, a capture, a
//! global) and whether it may be assigned.

use super::*;

impl<'s, 'a> Checker<'s, 'a> {
    pub(super) fn binding_name(&mut self, pattern: &ast::BindingPattern<'_>) -> Checked<String> {
        match pattern {
            ast::BindingPattern::BindingIdentifier(id) => Ok(id.name.to_string()),
            other => Err(self.error(Diagnostic::unsupported(other.span(), "destructuring"))),
        }
    }

    /// The name a declarator declares. When it cannot be declared (its
    /// kind is unsupported, or it destructures: reported), the names it
    /// binds, which are declared even so, so that their uses stay quiet.
    pub(super) fn declared_name(
        &mut self,
        pattern: &ast::BindingPattern<'_>,
        supported: bool,
    ) -> Result<String, Vec<(String, Span)>> {
        if let (ast::BindingPattern::BindingIdentifier(id), true) = (pattern, supported) {
            return Ok(id.name.to_string());
        }
        if supported {
            let _ = self.binding_name(pattern);
        }
        Err(pattern
            .get_binding_identifiers()
            .iter()
            .map(|id| (id.name.to_string(), id.span.into()))
            .collect())
    }

    pub(super) fn context(&mut self) -> &mut FnContext {
        self.contexts.last_mut().expect("inside a context")
    }

    pub(super) fn lookup_local(&self, name: &str) -> Option<Local> {
        let context = self.contexts.last()?;
        lookup_in(context, name)
    }

    /// Whether `name` is a local of a function enclosing the current arrow.
    pub(super) fn is_captured(&self, name: &str) -> bool {
        self.captured_local(name).is_some()
    }

    /// The local of a function enclosing the current arrow that `name`
    /// names, as that function sees it.
    pub(super) fn captured_local(&self, name: &str) -> Option<Local> {
        let mut contexts = self.contexts.iter().rev();
        let mut current = contexts.next();
        while let Some(context) = current {
            if !context.is_arrow {
                return None;
            }
            current = contexts.next();
            if let Some(local) = current.and_then(|parent| lookup_in(parent, name)) {
                return Some(local);
            }
        }
        None
    }

    /// `name` as context `depth` sees it, when it is a local of a function
    /// around it: the cell holding it, captured through every arrow in
    /// between.
    fn capture(&mut self, depth: usize, name: &str) -> Option<(Place, Local)> {
        if let Some(mut local) = lookup_in(&self.contexts[depth], name) {
            if let Some(declared) = local.declared {
                if !self.narrowing_reaches_closure(depth, name, &local) {
                    local.ty = declared;
                }
            }
            if let Some(global) = &local.global {
                return Some((Place::Global(global.clone()), local));
            }
            if narrowing::narrows_a_capture(&self.contexts[depth], name, &local) {
                // Captured by this arrow, which narrowed it.
                let (place, outer) = self.capture_from_outside(depth, name)?;
                return Some((
                    place,
                    Local {
                        ty: local.ty,
                        ..outer
                    },
                ));
            }
            let context = &mut self.contexts[depth];
            if !local.boxed {
                context.newly_captured.insert(name.to_string());
            }
            return Some((Place::Cell(name.to_string()), local));
        }
        self.capture_from_outside(depth, name)
    }

    /// `name` as the arrow of context `depth` captures it from the
    /// functions around it.
    fn capture_from_outside(&mut self, depth: usize, name: &str) -> Option<(Place, Local)> {
        let context = &mut self.contexts[depth];
        if !context.is_arrow || depth == 0 {
            return None;
        }
        if let Some(index) = context.captures.iter().position(|c| c.0 == name) {
            let (_, local) = self.capture(depth - 1, name)?;
            return Some((Place::Captured(index as u32), local));
        }
        let (outer, local) = self.capture(depth - 1, name)?;
        if let Place::Global(_) = outer {
            return Some((outer, local));
        }
        let context = &mut self.contexts[depth];
        context.captures.push((name.to_string(), outer));
        Some((Place::Captured(context.captures.len() as u32 - 1), local))
    }

    pub(super) fn resolve_place(&mut self, name: &str, span: Span) -> Checked<(Place, Ty, Access)> {
        let access = |local: &Local| {
            if local.is_const {
                Access::Const
            } else {
                Access::Mutable
            }
        };
        if let Some(local) = self.lookup_local(name) {
            if local.ty == FAILED {
                return Err(Reported);
            }
            let depth = self.contexts.len() - 1;
            if narrowing::narrows_a_capture(&self.contexts[depth], name, &local) {
                if let Some((place, local)) = self.capture(depth, name) {
                    return Ok((place, local.ty, access(&local)));
                }
            }
            let place = if let Some(global) = &local.global {
                Place::Global(global.clone())
            } else if local.boxed {
                Place::Cell(name.to_string())
            } else {
                Place::Local(name.to_string())
            };
            return Ok((place, local.ty, access(&local)));
        }
        if self.contexts.last().is_some_and(|c| c.is_arrow) {
            let depth = self.contexts.len() - 1;
            if let Some((place, local)) = self.capture(depth, name) {
                if local.ty == FAILED {
                    return Err(Reported);
                }
                return Ok((place, local.ty, access(&local)));
            }
        }
        match self.item(name) {
            Some(Item::Global {
                name: qualified,
                imported,
            }) => {
                let global = &self.globals[&qualified];
                let access = if imported {
                    Access::Imported
                } else if global.is_const {
                    Access::Const
                } else {
                    Access::Mutable
                };
                if global.ty == Some(FAILED) {
                    return Err(Reported);
                }
                let Some(ty) = global.ty else {
                    let (module, declared_at) = (global.module, global.span);
                    // Reported at its first such use only.
                    if !self.used_untyped.insert(qualified) {
                        return Err(Reported);
                    }
                    let mut diagnostic = Diagnostic::error(
                        span,
                        format!("`{name}` is used before its declaration gives it a type"),
                    )
                    .with_help(format!(
                        "annotate the declaration: `let {name}: integer = …`"
                    ));
                    if module == self.current {
                        diagnostic = diagnostic.with_label(declared_at, "declared here");
                    }
                    return Err(self.error(diagnostic));
                };
                Ok((Place::Global(qualified), ty, access))
            }
            Some(Item::Unresolved) => Err(Reported),
            Some(Item::Function(_)) => Err(self.error(Diagnostic::error(
                span,
                format!("`{name}` is a function, not a variable"),
            ))),
            Some(Item::Driver(_)) => Err(self.error(Diagnostic::unsupported(
                span,
                "using a Rust driver function as a value",
            ))),
            Some(Item::Class(_)) => Err(self.error(
                Diagnostic::error(span, format!("`{name}` is a class, not a value"))
                    .with_help(format!("make an instance with `new {name}(…)`")),
            )),
            Some(Item::Enum(qualified)) => {
                let example = match self.enums[&qualified].members.first() {
                    Some((member, _)) => format!("`{name}.{member}`"),
                    None => "`Enum.Member`".to_string(),
                };
                Err(self.error(
                    Diagnostic::error(span, format!("`{name}` is an enum, not a value"))
                        .with_help(format!("use one of its members, like {example}")),
                ))
            }
            None => Err(self.error(Diagnostic::error(span, format!("cannot find `{name}`")))),
        }
    }

    /// Reports an assignment to a variable that may not be assigned.
    pub(super) fn check_assignable(
        &mut self,
        name: &str,
        access: Access,
        span: Span,
    ) -> Checked<()> {
        let why = match access {
            Access::Mutable => return Ok(()),
            Access::Const => "it is a constant",
            Access::Imported => "it is imported (only its own module may assign it)",
        };
        Err(self.error(Diagnostic::error(
            span,
            format!("cannot assign to `{name}`: {why}"),
        )))
    }

    /// Declares a local; returns whether it lives in a cell (closures
    /// capture it).
    pub(super) fn declare_local(
        &mut self,
        name: &str,
        ty: Ty,
        is_const: bool,
        span: Span,
    ) -> Checked<bool> {
        let context = self.context();
        let boxed = context.boxed.contains(name);
        // The block's scope, and the scopes of narrowings pushed in it.
        let mut taken = None;
        for scope in context.scopes.iter().rev() {
            if let Some(local) = scope.get(name) {
                taken = taken.or(Some(local.declared_at));
            }
            if !scope.contains_key(narrowing::NARROWINGS) {
                break;
            }
        }
        let scope = context.scopes.last_mut().expect("a scope");
        if let Some(first) = taken {
            let mut diagnostic =
                Diagnostic::error(span, format!("`{name}` is already declared in this block"));
            if let Some(first) = first {
                diagnostic = diagnostic.with_label(first, "first declared here");
            }
            return Err(self.error(diagnostic));
        }
        scope.insert(
            name.to_string(),
            Local {
                ty,
                is_const,
                boxed,
                declared: None,
                global: None,
                declared_at: Some(span),
            },
        );
        Ok(boxed)
    }
}

fn lookup_in(context: &FnContext, name: &str) -> Option<Local> {
    context
        .scopes
        .iter()
        .rev()
        .find_map(|scope| scope.get(name).cloned())
}
