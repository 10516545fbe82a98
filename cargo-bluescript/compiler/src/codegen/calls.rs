//! How generated code calls script functions, and what a function's code
//! therefore depends on besides its own text.
//!
//! A call through the function's slot is what lets a patch redirect every
//! caller at once, but rustc can neither inline it nor keep values in
//! registers across it. So code calls small functions of its own unit
//! (the image, or the patch it is part of) directly, and rustc inlines
//! them; and a caller of a function that never allocates keeps no root
//! slots for the call. Both are assumptions about other functions' code:
//! the host records them for every installed function ([`Dependencies`])
//! and recompiles, in the same patch, every function whose assumptions an
//! edit breaks.

use super::*;
use std::collections::BTreeSet;

/// A function whose body has at most this many statements and expressions
/// is called directly within its unit: the size of a few lines, where a
/// call through a slot costs about as much as the work.
const DIRECT_CALL_MAX_SIZE: usize = 48;

/// The calls a unit of generated code makes directly, and the functions it
/// may count on never to allocate.
#[derive(Clone, Debug, Default)]
pub struct CallPolicy {
    /// Callees reached by a direct call (so rustc may inline them).
    direct: BTreeSet<String>,
    /// Callees known never to allocate: no root slots around their calls.
    pub(super) never_allocate: BTreeSet<String>,
    /// Functions that may call themselves, through others too.
    recursive: BTreeSet<String>,
    /// The patch whose symbols direct calls name; `None`: the image's.
    epoch: Option<u32>,
    /// Small functions marked `#[inline]`: a development image is split
    /// into codegen units, and rustc inlines across them only what is so
    /// marked; a release image is optimized for size, and rustc inlines
    /// little there unless it is so marked.
    inline_hinted: BTreeSet<String>,
}

/// What the code of one function counts on besides its own text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dependencies {
    /// Functions it calls directly, which rustc may have inlined: a new
    /// version of one of them needs a new version of this one.
    pub inlines: Vec<String>,
    /// Functions it calls counting on them never to allocate: one that
    /// now may allocate needs a new version of this one.
    pub never_allocate: Vec<String>,
}

impl Dependencies {
    /// Counts on what `other` counts on too.
    pub fn add(&mut self, other: Dependencies) {
        for (mine, theirs) in [
            (&mut self.inlines, other.inlines),
            (&mut self.never_allocate, other.never_allocate),
        ] {
            mine.extend(theirs);
            mine.sort();
            mine.dedup();
        }
    }
}

impl CallPolicy {
    /// The policy of an image: a release image (never patched) calls every
    /// function directly; a development image the small ones.
    pub fn image(program: &Program, calls: Calls) -> CallPolicy {
        match calls {
            Calls::Direct => CallPolicy {
                direct: program.functions.iter().map(|f| f.name.clone()).collect(),
                inline_hinted: small_functions(program.functions.iter()),
                never_allocate: never_allocating(program, false),
                // As in Rust, rustc may turn recursion into a loop: without
                // end, it then loops instead of overflowing the stack.
                recursive: BTreeSet::new(),
                epoch: None,
            },
            Calls::Slots => CallPolicy {
                direct: small_functions(program.functions.iter()),
                inline_hinted: small_functions(program.functions.iter()),
                never_allocate: never_allocating(program, true),
                recursive: recursive_functions(program),
                epoch: None,
            },
        }
    }

    /// The policy of patch `epoch` made of `members`: they call each other
    /// directly when small, and everything else through slots.
    pub fn patch(program: &Program, members: &[&Function], epoch: u32) -> CallPolicy {
        CallPolicy {
            direct: small_functions(members.iter().copied()),
            never_allocate: never_allocating(program, true),
            recursive: recursive_functions(program),
            epoch: Some(epoch),
            inline_hinted: BTreeSet::new(),
        }
    }

    /// From now on every call goes through slots.
    pub(super) fn call_through_slots(&mut self) {
        self.direct.clear();
    }

    /// Whether `function` is marked `#[inline]`.
    pub(super) fn is_inline_hinted(&self, function: &str) -> bool {
        self.inline_hinted.contains(function)
    }

    /// Whether code calls `callee` directly.
    pub(super) fn is_direct(&self, callee: &str) -> bool {
        self.direct.contains(callee)
    }

    /// A direct call of `callee` with `args`. In a development image or a
    /// patch, a recursive callee's call is followed by an empty `asm!`,
    /// which rustc must keep after it: without it, LLVM turns recursion
    /// into a loop, and recursion without end would hang instead of
    /// failing with a stack overflow, a run-time error (LANGUAGE.md §12).
    pub(super) fn direct_call(&self, callee: &str, args: &[String]) -> String {
        let symbol = match self.epoch {
            Some(epoch) => patch_symbol(callee, epoch),
            None => function_symbol(callee),
        };
        let call = format!("{symbol}({})", args.join(", "));
        if self.recursive.contains(callee) {
            format!(
                "{{ let r = {call}; core::arch::asm!(\"\", options(nomem, nostack, preserves_flags)); r }}"
            )
        } else {
            call
        }
    }

    /// What `function`'s code, generated under this policy, counts on.
    pub fn dependencies(&self, function: &Function) -> Dependencies {
        let mut inlines = BTreeSet::new();
        let mut never_allocate = BTreeSet::new();
        for_each_expr(&function.body, &mut |expr| {
            let callee = match &expr.kind {
                ExprKind::CallScript { name, .. } => {
                    if self.never_allocate.contains(name) {
                        never_allocate.insert(name.clone());
                    }
                    name
                }
                ExprKind::New {
                    constructor: Some(constructor),
                    ..
                } => constructor,
                _ => return,
            };
            if self.is_direct(callee) && *callee != function.name {
                inlines.insert(callee.clone());
            }
        });
        Dependencies {
            inlines: inlines.into_iter().collect(),
            never_allocate: never_allocate.into_iter().collect(),
        }
    }
}

/// The dependencies of every function of an image built with `calls`.
pub fn image_dependencies(program: &Program, calls: Calls) -> BTreeMap<String, Dependencies> {
    let policy = CallPolicy::image(program, calls);
    program
        .functions
        .iter()
        .map(|f| (f.name.clone(), policy.dependencies(f)))
        .collect()
}

/// The functions of `program` that never allocate, calls included, as
/// patches count them (`strings_allocate`: a patch's string literals are
/// copied to the heap) or as a release image does.
pub fn never_allocating(program: &Program, strings_allocate: bool) -> BTreeSet<String> {
    let slots = SlotMap::new();
    let generator = Generator::new(&slots, CallPolicy::default(), strings_allocate, program);
    generator.find_functions_that_never_allocate(&program.functions);
    generator.never_allocate.take()
}

/// The functions that may call themselves, directly or through others.
fn recursive_functions(program: &Program) -> BTreeSet<String> {
    let calls: BTreeMap<&str, &[String]> = program
        .functions
        .iter()
        .map(|f| (f.name.as_str(), f.references.as_slice()))
        .collect();
    program
        .functions
        .iter()
        .filter(|function| {
            let mut seen = BTreeSet::new();
            let mut pending: Vec<&str> = function.references.iter().map(String::as_str).collect();
            while let Some(name) = pending.pop() {
                if name == function.name {
                    return true;
                }
                if seen.insert(name) {
                    pending.extend(
                        calls
                            .get(name)
                            .into_iter()
                            .flat_map(|r| r.iter().map(String::as_str)),
                    );
                }
            }
            false
        })
        .map(|f| f.name.clone())
        .collect()
}

fn small_functions<'f>(functions: impl Iterator<Item = &'f Function>) -> BTreeSet<String> {
    functions
        .filter(|f| !f.is_closure && size(&f.body) <= DIRECT_CALL_MAX_SIZE)
        .map(|f| f.name.clone())
        .collect()
}

/// The number of statements and expressions in `body`.
pub(super) fn size(body: &[Stmt]) -> usize {
    let mut count = 0;
    for_each_statement(body, &mut |_| count += 1);
    for_each_expr(body, &mut |_| count += 1);
    count
}

pub(super) fn for_each_statement<'a>(body: &'a [Stmt], visit: &mut dyn FnMut(&'a Stmt)) {
    for statement in body {
        visit(statement);
        match &statement.kind {
            StmtKind::If {
                then, otherwise, ..
            } => {
                for_each_statement(then, visit);
                for_each_statement(otherwise, visit);
            }
            StmtKind::Loop { body, .. } | StmtKind::Block(body) => for_each_statement(body, visit),
            _ => {}
        }
    }
}

/// Visits `e` and every expression nested in it.
pub(super) fn for_each_nested_expr<'a>(e: &'a Expr, visit: &mut dyn FnMut(&'a Expr)) {
    visit(e);
    for child in roots::children(e) {
        for_each_nested_expr(child, visit);
    }
}

/// Visits, to change them, the expressions of `body`'s statements (not
/// those nested in them).
pub(super) fn for_each_top_expr_mut(body: &mut [Stmt], visit: &mut dyn FnMut(&mut Expr)) {
    for statement in body {
        match &mut statement.kind {
            StmtKind::Let { init, .. } => init.iter_mut().for_each(&mut *visit),
            StmtKind::Expr(e) | StmtKind::Return(Some(e)) => visit(e),
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                visit(cond);
                for_each_top_expr_mut(then, visit);
                for_each_top_expr_mut(otherwise, visit);
            }
            StmtKind::Loop {
                cond, body, step, ..
            } => {
                cond.iter_mut().for_each(&mut *visit);
                for_each_top_expr_mut(body, visit);
                step.iter_mut().for_each(&mut *visit);
            }
            StmtKind::Block(body) => for_each_top_expr_mut(body, visit),
            StmtKind::Print { pieces, .. } => {
                for piece in pieces {
                    if let PrintPiece::Value(e) = piece {
                        visit(e);
                    }
                }
            }
            StmtKind::Break(_) | StmtKind::Continue(_) | StmtKind::Return(None) => {}
        }
    }
}

/// Visits every expression of `body`, nested ones included.
pub(super) fn for_each_expr<'a>(body: &'a [Stmt], visit: &mut dyn FnMut(&'a Expr)) {
    let expr = for_each_nested_expr;
    for_each_statement(body, &mut |statement| match &statement.kind {
        StmtKind::Let { init, .. } => init.iter().for_each(|e| expr(e, visit)),
        StmtKind::Expr(e) | StmtKind::Return(Some(e)) => expr(e, visit),
        StmtKind::If { cond, .. } => expr(cond, visit),
        StmtKind::Loop { cond, step, .. } => cond.iter().chain(step).for_each(|e| expr(e, visit)),
        StmtKind::Print { pieces, .. } => {
            for piece in pieces {
                if let PrintPiece::Value(e) = piece {
                    expr(e, visit)
                }
            }
        }
        StmtKind::Break(_)
        | StmtKind::Continue(_)
        | StmtKind::Return(None)
        | StmtKind::Block(_) => {}
    });
}
