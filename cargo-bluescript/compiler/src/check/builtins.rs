//! What the language provides without a declaration: `console.log` and
//! `print`, `Math`, `time`, `String.fromCharCode`, the methods of strings,
//! timers, and enum members read through the enum's name.

use super::*;

impl<'s, 'a> Checker<'s, 'a> {
    pub(super) fn print(
        &mut self,
        call: &ast::CallExpression<'_>,
        to_stderr: bool,
    ) -> Checked<StmtKind> {
        let mut pieces = Vec::new();
        for (i, argument) in call.arguments.iter().enumerate() {
            if i > 0 {
                pieces.push(PrintPiece::Space);
            }
            let Some(argument) = argument.as_expression() else {
                return Err(
                    self.error(Diagnostic::unsupported(argument.span(), "spread arguments"))
                );
            };
            self.print_pieces(argument, &mut pieces, false)?;
        }
        Ok(StmtKind::Print { to_stderr, pieces })
    }

    /// Flattens string concatenation (`"n = " + n`) into pieces printed one
    /// after another, so printing needs no string values at run time.
    fn print_pieces(
        &mut self,
        expression: &ast::Expression<'_>,
        out: &mut Vec<PrintPiece>,
        in_concatenation: bool,
    ) -> Checked<()> {
        match expression.without_parentheses() {
            ast::Expression::StringLiteral(literal) => {
                out.push(PrintPiece::Text(literal.value.to_string()));
                Ok(())
            }
            ast::Expression::UnaryExpression(unary) if unary.operator == UnaryOperator::Typeof => {
                let value = self.type_of(&unary.argument)?;
                out.push(PrintPiece::Value(value));
                Ok(())
            }
            ast::Expression::BinaryExpression(binary)
                if binary.operator == BinaryOperator::Addition && is_stringy(expression) =>
            {
                self.print_pieces(&binary.left, out, true)?;
                self.print_pieces(&binary.right, out, true)
            }
            other => {
                let value = self.expr(other)?;
                // Concatenated, an object reads as its string (JavaScript's
                // String(): arrays joined with `,`), not as printed alone.
                let value = if in_concatenation && value.ty.is_reference() && value.ty != Ty::String
                {
                    let location = self.location(other.span());
                    self.stringify(value, &location, other.span().into())?
                } else {
                    value
                };
                out.push(PrintPiece::Value(value));
                Ok(())
            }
        }
    }

    /// `s.startsWith(p)` and the other methods of strings (LANGUAGE.md §9).
    pub(super) fn string_method(
        &mut self,
        member: &ast::StaticMemberExpression<'_>,
        arguments: &[&ast::Expression<'_>],
        span: Span,
    ) -> Checked<Expr> {
        let method = member.property.name.as_str();
        let object = self.expr(&member.object)?;
        if object.ty != Ty::String {
            return Err(self.error(Diagnostic::unsupported(
                member.span,
                &format!("calling `{}`", span_text(self.file(), member.span.into())),
            )));
        }
        // (runtime symbol, parameter types, result type, fails)
        let (symbol, params, ty, fails): (&'static str, &[Ty], Ty, bool) = match method {
            "startsWith" => ("bs_string_starts_with", &[Ty::String], Ty::Boolean, false),
            "endsWith" => ("bs_string_ends_with", &[Ty::String], Ty::Boolean, false),
            "indexOf" => ("bs_string_index_of", &[Ty::String], Ty::Integer, false),
            "charCodeAt" => ("bs_string_char_code_at", &[Ty::Integer], Ty::Integer, true),
            "substring" => (
                "bs_string_substring",
                &[Ty::Integer, Ty::Integer],
                Ty::String,
                true,
            ),
            _ => {
                return Err(self.error(Diagnostic::unsupported(
                    member.property.span,
                    &format!("the string method `{method}`"),
                )))
            }
        };
        // `substring(start)` goes to the end.
        if !(method == "substring" && arguments.len() == 1) {
            self.arity(method, arguments, params.len(), span)?;
        }
        let mut args = vec![object];
        for (argument, ty) in arguments.iter().zip(params) {
            let value = self.expr(argument)?;
            args.push(self.convert(value, *ty, argument.span())?);
        }
        if args.len() < params.len() + 1 {
            args.push(Expr {
                ty: Ty::Integer,
                kind: ExprKind::Int(i32::MAX),
            });
        }
        Ok(Expr {
            ty,
            kind: ExprKind::Runtime {
                symbol,
                args,
                location: fails.then(|| self.location(span)),
            },
        })
    }

    /// What the object of `object.property` is, when it is no variable.
    pub(super) fn builtin_object(&self, object: &ast::Expression<'_>) -> Option<Builtin> {
        let ast::Expression::Identifier(id) = object.without_parentheses() else {
            return None;
        };
        let name = id.name.as_str();
        if self.lookup_local(name).is_some() || self.is_captured(name) {
            return None;
        }
        match self.item(name) {
            Some(Item::Enum(qualified)) => Some(Builtin::Enum(qualified)),
            Some(Item::Class(qualified)) => Some(Builtin::Class(qualified)),
            Some(Item::Unresolved) => Some(Builtin::Unresolved),
            Some(_) => None,
            None => ["Math", "time", "String"]
                .into_iter()
                .find(|builtin| *builtin == name)
                .map(Builtin::Named),
        }
    }

    /// `Color.Red`: an integer constant of the enum's type.
    pub(super) fn enum_member(
        &mut self,
        qualified: &str,
        member: &ast::StaticMemberExpression<'_>,
    ) -> Checked<Expr> {
        let info = &self.enums[qualified];
        let property = member.property.name.as_str();
        match info.members.iter().find(|(name, _)| name == property) {
            Some((_, value)) => Ok(Expr {
                ty: Ty::Enum(info.ty),
                kind: ExprKind::Int(*value),
            }),
            None => {
                let name = info.ty.name();
                Err(self.error(Diagnostic::error(
                    member.property.span,
                    format!("the enum `{name}` has no member `{property}`"),
                )))
            }
        }
    }

    /// `Math.f(…)` (LANGUAGE.md §9): floats in, a float out, except that
    /// `abs`, `min` and `max` of integers are integers (as in JavaScript,
    /// whose result is then an integral number).
    pub(super) fn math_call(
        &mut self,
        function: MathFn,
        arguments: &[&ast::Expression<'_>],
        span: Span,
    ) -> Checked<Expr> {
        let name = format!("Math.{}", format!("{function:?}").to_lowercase());
        let mut values = Vec::new();
        for argument in arguments {
            let value = widen(self.expr(argument)?);
            if !value.ty.is_numeric() {
                return Err(self.error(Diagnostic::error(
                    argument.span(),
                    format!("`{name}` needs an integer or float, found {}", value.ty),
                )));
            }
            values.push(value);
        }
        let integers = values.iter().all(|v| v.ty == Ty::Integer);
        let call = |ty: Ty, args: Vec<Expr>| Expr {
            ty,
            kind: ExprKind::Math(function, args),
        };
        match function {
            MathFn::Min | MathFn::Max => {
                let ty = if integers { Ty::Integer } else { Ty::Float };
                let mut values = values
                    .into_iter()
                    .map(|v| if integers { v } else { to_float(v) });
                let Some(first) = values.next() else {
                    // JavaScript: Math.min() is Infinity, Math.max() -Infinity.
                    let infinity = if function == MathFn::Min {
                        f32::INFINITY
                    } else {
                        f32::NEG_INFINITY
                    };
                    return Ok(Expr {
                        ty: Ty::Float,
                        kind: ExprKind::Float(infinity),
                    });
                };
                Ok(values.fold(first, |folded, next| call(ty, vec![folded, next])))
            }
            _ => {
                self.arity(&name, arguments, function.arity(), span)?;
                if function == MathFn::Abs && integers {
                    return Ok(call(Ty::Integer, values));
                }
                Ok(call(Ty::Float, values.into_iter().map(to_float).collect()))
            }
        }
    }

    pub(super) fn timer_call(
        &mut self,
        name: &str,
        arguments: &[&ast::Expression<'_>],
        span: Span,
    ) -> Checked<Expr> {
        if name.starts_with("clear") {
            self.arity(name, arguments, 1, span)?;
            let id = self.expr(arguments[0])?;
            let id = self.convert(id, Ty::Integer, arguments[0].span())?;
            return Ok(Expr {
                ty: Ty::Void,
                kind: ExprKind::ClearTimer(Box::new(id)),
            });
        }
        self.arity(name, arguments, 2, span)?;
        let repeat = name == "setInterval";
        let is_function_name = matches!(arguments[0].without_parentheses(),
            ast::Expression::Identifier(id) if self.lookup_local(id.name.as_str()).is_none()
                && !self.is_captured(id.name.as_str())
                && self.script_function(id.name.as_str()).is_some());
        if !is_function_name {
            // A function value: an arrow function (a closure) or a variable.
            let closure = self.expr(arguments[0])?;
            match closure.ty {
                Ty::Function(signature) if signature.params.is_empty() => {}
                Ty::Function(_) => {
                    return Err(self.error(Diagnostic::error(
                        arguments[0].span(),
                        "a timer callback takes no parameters",
                    )))
                }
                other => {
                    return Err(self.error(Diagnostic::error(
                        arguments[0].span(),
                        format!("a timer callback is a function, found {other}"),
                    )))
                }
            }
            let ms = self.expr_to(arguments[1], Ty::Integer)?;
            return Ok(Expr {
                ty: Ty::Integer,
                kind: ExprKind::StartClosureTimer {
                    closure: Box::new(closure),
                    ms: Box::new(ms),
                    repeat,
                },
            });
        }
        let callback = self.callback(arguments[0])?;
        let ms = self.expr(arguments[1])?;
        let ms = self.convert(ms, Ty::Integer, arguments[1].span())?;
        self.context().references.insert(callback.clone());
        Ok(Expr {
            ty: Ty::Integer,
            kind: ExprKind::StartTimer {
                callback,
                ms: Box::new(ms),
                repeat,
            },
        })
    }

    /// A timer callback named by a top-level function (called through its
    /// slot; function values are closures, see `timer_call`). Returns the
    /// function's name.
    fn callback(&mut self, expression: &ast::Expression<'_>) -> Checked<String> {
        let span: Span = expression.span().into();
        match expression.without_parentheses() {
            ast::Expression::Identifier(id)
                if self.lookup_local(id.name.as_str()).is_none()
                    && self.script_function(id.name.as_str()).is_some() =>
            {
                let local_name = id.name.as_str();
                let qualified = self.script_function(local_name).expect("a script function");
                let name = qualified.as_str();
                // A timer ignores what its callback returns, so only the
                // parameters matter: the body need not be checked now (it may
                // use globals declared further down, such as the timer's id).
                let params = match self.functions.get(name) {
                    Some(FunctionState::Unchecked(function)) => {
                        function.params.items.len() + usize::from(function.params.rest.is_some())
                    }
                    Some(FunctionState::InProgress { params, .. }) => params.len(),
                    Some(FunctionState::Done(signature)) => signature.params.len(),
                    None => 0,
                };
                if params != 0 {
                    return Err(self.error(Diagnostic::error(
                        span,
                        format!(
                            "a timer calls `{local_name}` without arguments, but it takes {params}"
                        ),
                    )));
                }
                Ok(qualified)
            }
            ast::Expression::Identifier(id)
                if matches!(self.item(id.name.as_str()), Some(Item::Unresolved)) =>
            {
                Err(Reported)
            }
            _ => Err(self.error(Diagnostic::error(span, "a timer callback is a function"))),
        }
    }
}

pub(super) const TIMER_BUILTINS: [&str; 4] =
    ["setInterval", "setTimeout", "clearInterval", "clearTimeout"];

/// `console.log`/`console.error`/`print`: `Some(to_stderr)`.
pub(super) fn print_target(callee: &ast::Expression<'_>) -> Option<bool> {
    match callee.without_parentheses() {
        ast::Expression::Identifier(id) if id.name == "print" => Some(false),
        ast::Expression::StaticMemberExpression(member) => {
            let ast::Expression::Identifier(object) = member.object.without_parentheses() else {
                return None;
            };
            match (object.name.as_str(), member.property.name.as_str()) {
                ("console", "log") => Some(false),
                ("console", "error") => Some(true),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether `+` here is string concatenation: a string literal (or a
/// `typeof`) somewhere in its left-nested chain of `+` (JavaScript is
/// left-associative).
fn is_stringy(expression: &ast::Expression<'_>) -> bool {
    match expression.without_parentheses() {
        ast::Expression::StringLiteral(_) | ast::Expression::TemplateLiteral(_) => true,
        ast::Expression::UnaryExpression(unary) => unary.operator == UnaryOperator::Typeof,
        ast::Expression::BinaryExpression(binary)
            if binary.operator == BinaryOperator::Addition =>
        {
            is_stringy(&binary.left) || is_stringy(&binary.right)
        }
        _ => false,
    }
}

/// `setTimeout(…)` / `setInterval(…)` of the built-ins (`is_builtin`: not
/// of a script function of that name): an integer, whatever its arguments.
pub(super) fn starts_a_timer(
    expression: &ast::Expression<'_>,
    is_builtin: impl Fn(&str) -> bool,
) -> bool {
    let ast::Expression::CallExpression(call) = expression.without_parentheses() else {
        return false;
    };
    let ast::Expression::Identifier(id) = call.callee.without_parentheses() else {
        return false;
    };
    matches!(id.name.as_str(), "setTimeout" | "setInterval") && is_builtin(id.name.as_str())
}

/// The object of `object.property` when it is not a variable.
pub(super) enum Builtin {
    /// An enum (qualified name).
    Enum(String),
    /// A class (qualified name): `C.k`, `C.f()`.
    Class(String),
    /// `Math`, `time`.
    Named(&'static str),
    /// A failed import, reported already.
    Unresolved,
}
