//! Expressions: literals, names, operators (LANGUAGE.md §7), assignments
//! and `typeof`.

use super::*;

impl<'s, 'a> Checker<'s, 'a> {
    pub(super) fn condition(&mut self, expression: &ast::Expression<'_>) -> Checked<Expr> {
        let value = self.expr(expression)?;
        self.truthy(value, expression.span().into())
    }

    /// `typeof operand` (LANGUAGE.md §7): the name of its static type.
    pub(super) fn type_of(&mut self, operand: &ast::Expression<'_>) -> Checked<Expr> {
        let string = |name: &str, operand: Option<Expr>| Expr {
            ty: Ty::String,
            kind: ExprKind::TypeOf(operand.map(Box::new), name.to_string()),
        };
        match operand.without_parentheses() {
            // Strings are no values yet, but these are strings all the same.
            ast::Expression::StringLiteral(_) => Ok(string("string", None)),
            ast::Expression::UnaryExpression(unary) if unary.operator == UnaryOperator::Typeof => {
                let inner = self.type_of(&unary.argument)?;
                Ok(string("string", Some(inner)))
            }
            other => {
                let value = self.expr(other)?;
                let name = match value.ty {
                    // JavaScript's name for the value of a void expression.
                    Ty::Void => "undefined".to_string(),
                    ty => ty.to_string(),
                };
                Ok(string(&name, Some(value)))
            }
        }
    }

    pub(super) fn expr(&mut self, expression: &ast::Expression<'_>) -> Checked<Expr> {
        use ast::Expression as E;
        let span: Span = expression.span().into();
        match expression {
            E::BooleanLiteral(literal) => Ok(Expr {
                ty: Ty::Boolean,
                kind: ExprKind::Bool(literal.value),
            }),
            E::NumericLiteral(literal) => self.number(literal),
            E::ParenthesizedExpression(inner) => self.expr(&inner.expression),
            E::Identifier(id) => {
                let name = id.name.as_str();
                let is_variable = self.lookup_local(name).is_some() || self.is_captured(name);
                if name == "undefined" && !is_variable && self.item(name).is_none() {
                    return Ok(null());
                }
                if !is_variable {
                    if let Some(Item::Function(qualified)) = self.item(name) {
                        return self.function_value(&qualified, span);
                    }
                }
                let (place, ty, _) = self.resolve_place(name, span)?;
                Ok(Expr {
                    ty,
                    kind: ExprKind::Read(place),
                })
            }
            E::AssignmentExpression(assignment) => self.assignment(assignment),
            E::UpdateExpression(update) => self.update(update),
            E::UnaryExpression(unary) => self.unary(unary),
            E::BinaryExpression(binary) if binary.operator == BinaryOperator::Instanceof => {
                self.instance_of(binary)
            }
            E::BinaryExpression(binary) => {
                let lhs = self.expr(&binary.left);
                let rhs = self.expr(&binary.right);
                self.binary(binary.operator, lhs?, rhs?, span)
            }
            E::LogicalExpression(logical) => self.logical(logical),
            E::ConditionalExpression(conditional) => {
                let cond = self.condition(&conditional.test);
                let (then, otherwise) = self.branches(
                    &conditional.test,
                    |checker| checker.expr(&conditional.consequent),
                    |checker| checker.expr(&conditional.alternate),
                );
                let (cond, then, otherwise) = (cond?, then?, otherwise?);
                let (then, otherwise, ty) = self.unify(then, otherwise, span)?;
                Ok(Expr {
                    ty,
                    kind: ExprKind::Conditional {
                        cond: Box::new(cond),
                        then: Box::new(then),
                        otherwise: Box::new(otherwise),
                    },
                })
            }
            E::CallExpression(call) => {
                let value = self.call(call);
                self.called(value)
            }
            E::TSAsExpression(cast) => {
                let value = self.expr(&cast.expression)?;
                let to = self.value_type(&cast.type_annotation)?;
                self.cast(value, to, span)
            }
            E::TemplateLiteral(_) => Err(self.error(
                Diagnostic::unsupported(span, "template strings")
                    .with_help("print the pieces: console.log(\"text\", value)"),
            )),
            E::AwaitExpression(_) => Err(self.error(Diagnostic::unsupported(span, "`await`"))),
            E::SequenceExpression(_) => {
                Err(self.error(Diagnostic::unsupported(span, "the comma operator")))
            }
            E::StringLiteral(literal) => Ok(Expr {
                ty: Ty::String,
                kind: ExprKind::Str(literal.value.to_string()),
            }),
            E::NullLiteral(_) => Ok(null()),
            E::ArrayExpression(literal) => self.array_literal(literal, None),
            E::ObjectExpression(_) => Err(self.error(
                Diagnostic::error(span, "object literals are not part of BlueScript")
                    .with_help("objects are made with `new`"),
            )),
            E::ArrowFunctionExpression(arrow) => self.arrow(arrow, None),
            E::FunctionExpression(_) => Err(self.error(
                Diagnostic::unsupported(span, "function expressions")
                    .with_help("use an arrow function: `(x: integer) => x + 1`"),
            )),
            E::ThisExpression(_) => self.this(span),
            E::NewExpression(new) => {
                let value = self.new_expression(new, None);
                self.called(value)
            }
            E::Super(_) => Err(self.error(Diagnostic::error(
                span,
                "`super` is only called (`super(…)`) or used for a method (`super.m()`)",
            ))),
            E::ClassExpression(_) => {
                Err(self.error(Diagnostic::unsupported(span, "class expressions")))
            }
            E::TaggedTemplateExpression(template) => self.code(template),
            E::StaticMemberExpression(member) => {
                let property = member.property.name.as_str();
                match self.builtin_object(&member.object) {
                    Some(Builtin::Enum(qualified)) => return self.enum_member(&qualified, member),
                    Some(Builtin::Unresolved) => return Err(Reported),
                    Some(Builtin::Named("Math")) if property == "PI" => {
                        return Ok(Expr {
                            ty: Ty::Float,
                            kind: ExprKind::Float(std::f32::consts::PI),
                        })
                    }
                    Some(Builtin::Named(_)) => {
                        return Err(self.error(Diagnostic::unsupported(
                            span,
                            &format!("the property `{property}`"),
                        )))
                    }
                    // `C.k`: a place.
                    Some(Builtin::Class(_)) | None => {}
                }
                if let Some(value) = self.length(member)? {
                    return Ok(value);
                }
                let (place, ty) = self.member_place(member)?;
                Ok(Expr {
                    ty,
                    kind: ExprKind::Read(place),
                })
            }
            E::ComputedMemberExpression(member) => {
                let (place, ty) = self.index_place(member)?;
                Ok(Expr {
                    ty,
                    kind: ExprKind::Read(place),
                })
            }
            _ => Err(self.error(Diagnostic::unsupported(span, "this expression"))),
        }
    }

    pub(super) fn number(&mut self, literal: &ast::NumericLiteral<'_>) -> Checked<Expr> {
        // A `.` or an exponent makes a float (LANGUAGE.md §2). oxc reports
        // `1e3` (an integral value written with an exponent) as a decimal
        // integer, so look at the text too.
        let is_float = match literal.base {
            oxc_syntax::number::NumberBase::Float => true,
            oxc_syntax::number::NumberBase::Decimal => {
                span_text(self.file(), literal.span.into()).contains(['e', 'E'])
            }
            _ => false,
        };
        if is_float {
            return Ok(Expr {
                ty: Ty::Float,
                kind: ExprKind::Float(literal.value as f32),
            });
        }
        let value = literal.value;
        if value.fract() != 0.0 || value > u32::MAX as f64 {
            return Err(self.error(
                Diagnostic::error(literal.span, "this integer does not fit in 32 bits")
                    .with_help("write it as a float (`1.0e10`) if that is what you mean"),
            ));
        }
        // Literals up to 0xFFFF_FFFF are accepted and wrap, like C's.
        Ok(Expr {
            ty: Ty::Integer,
            kind: ExprKind::Int(value as u32 as i32),
        })
    }

    /// The place an assignment or `++` writes: a variable, a field, an
    /// element, a static or dynamic property.
    fn target_place(&mut self, target: &ast::SimpleAssignmentTarget<'_>) -> Checked<(Place, Ty)> {
        match target {
            ast::SimpleAssignmentTarget::AssignmentTargetIdentifier(id) => {
                let name = id.name.as_str();
                let (place, ty, access) = self.resolve_place(name, id.span.into())?;
                self.check_assignable(name, access, id.span.into())?;
                let declared = self.lookup_local(name).and_then(|local| local.declared);
                Ok((place, declared.unwrap_or(ty)))
            }
            ast::SimpleAssignmentTarget::StaticMemberExpression(member) => {
                if member.property.name == "length" && self.static_class(&member.object).is_none() {
                    let object = self.expr(&member.object)?;
                    if matches!(
                        object.ty,
                        Ty::String | Ty::Array(_) | Ty::Uint8Array | Ty::FixedArray
                    ) {
                        return Err(self.error(Diagnostic::error(
                            member.span,
                            "`length` cannot be assigned",
                        )));
                    }
                }
                self.member_place(member)
            }
            ast::SimpleAssignmentTarget::ComputedMemberExpression(member) => {
                self.index_place(member)
            }
            other => Err(self.error(Diagnostic::unsupported(
                other.span(),
                "assigning to this expression",
            ))),
        }
    }

    fn assignment(&mut self, assignment: &ast::AssignmentExpression<'_>) -> Checked<Expr> {
        let span: Span = assignment.span.into();
        let Some(target) = assignment.left.as_simple_assignment_target() else {
            return Err(self.error(Diagnostic::unsupported(
                assignment.left.span(),
                "destructuring assignment",
            )));
        };
        let (place, ty) = self.target_place(target)?;
        let value = match assignment.operator {
            AssignmentOperator::Assign => {
                let value = self.expr_to(&assignment.right, ty)?;
                if let ast::SimpleAssignmentTarget::AssignmentTargetIdentifier(id) = target {
                    let value_ty = match &value.kind {
                        ExprKind::Retyped(inner) => inner.ty,
                        _ => value.ty,
                    };
                    self.assigned(id.name.as_str(), value_ty);
                }
                value
            }
            op => {
                let Some(bin) = op.to_binary_operator() else {
                    return Err(
                        self.error(Diagnostic::unsupported(span, &format!("`{}`", op.as_str())))
                    );
                };
                let value = self.expr(&assignment.right)?;
                let current = Expr {
                    ty,
                    kind: ExprKind::Current,
                };
                let mut combined = self.binary(bin, current, value, span)?;
                // `i += 0.5` computes in float and stores it truncated
                // (LANGUAGE.md §7a).
                if combined.ty == Ty::Float && matches!(ty, Ty::Integer | Ty::Int32) {
                    combined = casts::truncate(combined, ty);
                }
                self.convert(combined, ty, span)?
            }
        };
        Ok(Expr {
            ty,
            kind: ExprKind::Assign(place, Box::new(value)),
        })
    }

    fn update(&mut self, update: &ast::UpdateExpression<'_>) -> Checked<Expr> {
        let (place, ty) = self.target_place(&update.argument)?;
        let increment = update.operator == UpdateOperator::Increment;
        let location = self.location(update.span);
        if !(ty.is_numeric() || ty == Ty::Int32 || ty == Ty::Any) {
            return Err(self.error(Diagnostic::error(
                update.span,
                format!(
                    "`{}` needs an integer or float, found {ty}",
                    update.operator.as_str()
                ),
            )));
        }
        Ok(Expr {
            ty,
            kind: ExprKind::Update {
                place,
                increment,
                prefix: update.prefix,
                location,
            },
        })
    }

    fn unary(&mut self, unary: &ast::UnaryExpression<'_>) -> Checked<Expr> {
        let span: Span = unary.span.into();
        let op = match unary.operator {
            UnaryOperator::UnaryNegation => Some(UnOp::Neg),
            UnaryOperator::UnaryPlus => None,
            UnaryOperator::LogicalNot => Some(UnOp::Not),
            UnaryOperator::BitwiseNot => Some(UnOp::BitNot),
            UnaryOperator::Typeof => return self.type_of(&unary.argument),
            other => {
                return Err(self.error(Diagnostic::unsupported(
                    span,
                    &format!("`{}`", other.as_str()),
                )))
            }
        };
        let value = widen(self.expr(&unary.argument)?);
        if value.ty == Ty::Any {
            match op {
                Some(op @ (UnOp::Neg | UnOp::BitNot)) => {
                    return Ok(self.dynamic_unary(op, value, span))
                }
                None => return Ok(value),
                _ => {}
            }
        }
        match op {
            Some(UnOp::Not) => {
                let value = self.truthy(value, unary.argument.span().into())?;
                Ok(Expr {
                    ty: Ty::Boolean,
                    kind: ExprKind::Unary(UnOp::Not, Box::new(value)),
                })
            }
            Some(UnOp::BitNot) if value.ty != Ty::Integer => Err(self.error(Diagnostic::error(
                span,
                format!("`~` needs an integer, found {}", value.ty),
            ))),
            _ if !value.ty.is_numeric() => Err(self.error(Diagnostic::error(
                span,
                format!(
                    "`{}` needs an integer or float, found {}",
                    unary.operator.as_str(),
                    value.ty
                ),
            ))),
            None => Ok(value),
            Some(op) => Ok(Expr {
                ty: value.ty,
                kind: ExprKind::Unary(op, Box::new(value)),
            }),
        }
    }

    /// The typing rules of LANGUAGE.md §7 for binary operators.
    fn binary(
        &mut self,
        operator: BinaryOperator,
        lhs: Expr,
        rhs: Expr,
        span: Span,
    ) -> Checked<Expr> {
        if matches!(
            (lhs.ty, rhs.ty),
            (Ty::Int32, Ty::Any) | (Ty::Any, Ty::Int32)
        ) {
            // The `any` converts to `int32` (checked at run time), and so
            // does the result (LANGUAGE.md §7a).
            let location = self.location(span);
            let to_int32 = |value: Expr| match value.ty {
                Ty::Any => Expr {
                    ty: Ty::Int32,
                    kind: ExprKind::FromAny(Box::new(value), location.clone()),
                },
                _ => value,
            };
            let result = self.binary(operator, to_int32(lhs), to_int32(rhs), span)?;
            return Ok(match result.ty {
                Ty::Integer => Expr {
                    ty: Ty::Int32,
                    ..result
                },
                _ => result,
            });
        }
        // Operators see an enum as the integer it is.
        let (lhs, rhs) = (widen(lhs), widen(rhs));
        use BinaryOperator as B;
        let op = match operator {
            B::Addition => BinOp::Add,
            B::Subtraction => BinOp::Sub,
            B::Multiplication => BinOp::Mul,
            B::Division => BinOp::Div,
            B::Remainder => BinOp::Rem,
            B::Exponential => BinOp::Pow,
            B::LessThan => BinOp::Lt,
            B::LessEqualThan => BinOp::Le,
            B::GreaterThan => BinOp::Gt,
            B::GreaterEqualThan => BinOp::Ge,
            B::Equality | B::StrictEquality => BinOp::Eq,
            B::Inequality | B::StrictInequality => BinOp::Ne,
            B::ShiftLeft => BinOp::Shl,
            B::ShiftRight => BinOp::Shr,
            B::ShiftRightZeroFill => BinOp::UShr,
            B::BitwiseAnd => BinOp::BitAnd,
            B::BitwiseOR => BinOp::BitOr,
            B::BitwiseXOR => BinOp::BitXor,
            B::In | B::Instanceof => {
                return Err(self.error(Diagnostic::unsupported(
                    span,
                    &format!("`{}`", operator.as_str()),
                )))
            }
        };
        let symbol = operator.as_str();
        let mismatch = |lhs: Ty, rhs: Ty| {
            Diagnostic::error(
                span,
                format!("`{symbol}` cannot be applied to {lhs} and {rhs}"),
            )
        };
        let location = self.location(span);
        let build = |operand_ty: Ty, ty: Ty, lhs: Expr, rhs: Expr| Expr {
            ty,
            kind: ExprKind::Binary {
                op,
                operand_ty,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                location: location.clone(),
            },
        };
        let (l, r) = (lhs.ty, rhs.ty);
        if op == BinOp::Add && (l == Ty::String || r == Ty::String) {
            // Concatenation (LANGUAGE.md §7): the other side is converted.
            let lhs = self.stringify(lhs, &location, span)?;
            let rhs = self.stringify(rhs, &location, span)?;
            if let (ExprKind::Str(a), ExprKind::Str(b)) = (&lhs.kind, &rhs.kind) {
                return Ok(Expr {
                    ty: Ty::String,
                    kind: ExprKind::Str(format!("{a}{b}")),
                });
            }
            return Ok(build(Ty::String, Ty::String, lhs, rhs));
        }
        let comparison = matches!(
            op,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne
        );
        if l == Ty::String && r == Ty::String && comparison {
            // Comparisons by content, in UTF-16 order.
            return Ok(build(Ty::String, Ty::Boolean, lhs, rhs));
        }
        let numeric_or_bool = |t: Ty| t.is_numeric() || t == Ty::Boolean;
        if matches!(op, BinOp::Eq | BinOp::Ne) && !(numeric_or_bool(l) && numeric_or_bool(r)) {
            return self.equality(lhs, rhs, op == BinOp::Ne, span, symbol);
        }
        if l == Ty::Any || r == Ty::Any {
            return self.dynamic_binary(op, lhs, rhs, span, symbol);
        }
        match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Pow => {
                if !(l.is_numeric() && r.is_numeric()) {
                    return Err(self.error(mismatch(l, r)));
                }
                let ty = if l == Ty::Float || r == Ty::Float {
                    Ty::Float
                } else {
                    Ty::Integer
                };
                let (lhs, rhs) = if ty == Ty::Float {
                    (to_float(lhs), to_float(rhs))
                } else {
                    (lhs, rhs)
                };
                Ok(build(ty, ty, lhs, rhs))
            }
            BinOp::Rem
            | BinOp::Shl
            | BinOp::Shr
            | BinOp::UShr
            | BinOp::BitAnd
            | BinOp::BitOr
            | BinOp::BitXor => {
                if l != Ty::Integer || r != Ty::Integer {
                    return Err(self.error(
                        mismatch(l, r).with_help(format!("`{symbol}` works on integers only")),
                    ));
                }
                Ok(build(Ty::Integer, Ty::Integer, lhs, rhs))
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                if !(l.is_numeric() && r.is_numeric()) {
                    return Err(self.error(mismatch(l, r)));
                }
                Ok(numeric_comparison(lhs, rhs, build))
            }
            BinOp::Eq | BinOp::Ne => {
                if l.is_numeric() && r.is_numeric() {
                    Ok(numeric_comparison(lhs, rhs, build))
                } else if l == Ty::Boolean && r == Ty::Boolean {
                    Ok(build(Ty::Boolean, Ty::Boolean, lhs, rhs))
                } else {
                    Err(self.error(mismatch(l, r)))
                }
            }
        }
    }

    /// `value` as a string, for concatenation: integers in decimal, floats
    /// as they print, `true`/`false`.
    pub(super) fn stringify(&mut self, value: Expr, location: &str, span: Span) -> Checked<Expr> {
        let value = widen(value);
        let (symbol, location) = match value.ty {
            Ty::String => return Ok(value),
            Ty::Integer => {
                if let ExprKind::Int(i) = value.kind {
                    return Ok(Expr {
                        ty: Ty::String,
                        kind: ExprKind::Str(i.to_string()),
                    });
                }
                ("bs_string_from_int", Some(location.to_string()))
            }
            Ty::Float => ("bs_string_from_float", Some(location.to_string())),
            Ty::Boolean => ("bs_string_from_bool", None),
            Ty::Void => {
                return Err(self.error(Diagnostic::error(
                    span,
                    "this expression has no value (void)",
                )))
            }
            // `any`, `null`, objects: as JavaScript's String() would.
            _ => ("bs_string_from_any", Some(location.to_string())),
        };
        Ok(Expr {
            ty: Ty::String,
            kind: ExprKind::Runtime {
                symbol,
                args: vec![value],
                location,
            },
        })
    }

    fn logical(&mut self, logical: &ast::LogicalExpression<'_>) -> Checked<Expr> {
        let span: Span = logical.span.into();
        let and = match logical.operator {
            LogicalOperator::And => true,
            LogicalOperator::Or => false,
            LogicalOperator::Coalesce => {
                return Err(self.error(Diagnostic::unsupported(span, "`??`")))
            }
        };
        let lhs = self.expr(&logical.left);
        let facts = self.narrowings(&logical.left, and);
        let rhs = self.narrowed(facts, |checker| checker.expr(&logical.right));
        let (lhs, rhs, ty) = self.unify(lhs?, rhs?, span)?;
        if ty == Ty::Void {
            return Err(self.error(Diagnostic::error(
                span,
                "these expressions have no value (void)",
            )));
        }
        Ok(Expr {
            ty,
            kind: ExprKind::Logical {
                and,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            },
        })
    }
}

fn numeric_comparison(lhs: Expr, rhs: Expr, build: impl Fn(Ty, Ty, Expr, Expr) -> Expr) -> Expr {
    if lhs.ty == Ty::Integer && rhs.ty == Ty::Integer {
        build(Ty::Integer, Ty::Boolean, lhs, rhs)
    } else {
        build(Ty::Float, Ty::Boolean, to_float(lhs), to_float(rhs))
    }
}
