//! `code` templates: Rust spliced into the generated code (LANGUAGE.md §10).

use super::*;

impl<'s, 'a> Checker<'s, 'a> {
    /// ``code`${r} = libm::sqrtf(${x});` `` inside a function: a statement
    /// whose `${…}` are variables (or `this.property`) as Rust places.
    pub(super) fn code(&mut self, template: &ast::TaggedTemplateExpression<'_>) -> Checked<Expr> {
        let span: Span = template.span.into();
        if !self.is_code_tag(&template.tag) {
            return Err(self.error(Diagnostic::unsupported(
                span,
                "tagged templates other than `code`",
            )));
        }
        let mut pieces = Vec::new();
        let quasi = &template.quasi;
        for (i, text) in quasi.quasis.iter().enumerate() {
            let raw = text.value.cooked.as_ref().unwrap_or(&text.value.raw);
            pieces.push(CodePiece::Text(raw.to_string()));
            let Some(expression) = quasi.expressions.get(i) else {
                continue;
            };
            let (place, ty) = match expression.without_parentheses() {
                ast::Expression::Identifier(id) => {
                    let (place, ty, _) = self.resolve_place(id.name.as_str(), id.span.into())?;
                    (place, ty)
                }
                ast::Expression::StaticMemberExpression(member)
                    if matches!(
                        member.object.without_parentheses(),
                        ast::Expression::ThisExpression(_)
                    ) =>
                {
                    self.member_place(member)?
                }
                other => {
                    return Err(self.error(Diagnostic::error(
                        other.span(),
                        "`${…}` in `code` names a variable or `this.property`",
                    )))
                }
            };
            pieces.push(CodePiece::Place(place, ty));
        }
        Ok(Expr {
            ty: Ty::Void,
            kind: ExprKind::Code(pieces),
        })
    }

    pub(super) fn is_code_tag(&self, tag: &ast::Expression<'_>) -> bool {
        matches!(tag.without_parentheses(), ast::Expression::Identifier(id)
            if id.name == "code" && self.lookup_local("code").is_none())
    }

    /// A `code` template at the top level: Rust items for the module.
    pub(super) fn native_items(
        &mut self,
        template: &ast::TaggedTemplateExpression<'_>,
    ) -> Checked<String> {
        if !template.quasi.expressions.is_empty() {
            return Err(self.error(Diagnostic::error(
                template.quasi.expressions[0].span(),
                "a `code` template at the top level adds Rust items: it cannot name variables",
            )));
        }
        let mut text = String::new();
        for quasi in &template.quasi.quasis {
            text.push_str(quasi.value.cooked.as_ref().unwrap_or(&quasi.value.raw));
        }
        Ok(text)
    }
}
