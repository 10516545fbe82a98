//! Whether a function can run off its end (LANGUAGE.md §7a): a function
//! whose return type is not `void` must not, as in the original.

use super::*;

impl<'s, 'a> Checker<'s, 'a> {
    /// Reports a function of return type `ret` whose end `body` can reach.
    /// `span` is what the diagnostic points at (its name, or its return
    /// type); `what` names it.
    pub(super) fn check_ending_return(
        &mut self,
        what: &str,
        ret: Ty,
        body: &[ast::Statement<'_>],
        span: Span,
    ) -> Checked<()> {
        if ret == Ty::Void || !end_reachable(body) {
            return Ok(());
        }
        Err(self.error(
            Diagnostic::error(
                span,
                format!("{what} can reach its end without returning a value of type {ret}"),
            )
            .with_help("end it with a `return` (or make its return type `void`)"),
        ))
    }
}

/// Whether running `statements` can go past the last one.
pub(super) fn end_reachable(statements: &[ast::Statement<'_>]) -> bool {
    statements.iter().all(completes)
}

/// Whether a statement can complete normally, going on to the next one.
fn completes(statement: &ast::Statement<'_>) -> bool {
    use ast::Statement as S;
    match statement {
        S::ReturnStatement(_)
        | S::BreakStatement(_)
        | S::ContinueStatement(_)
        | S::ThrowStatement(_) => false,
        S::BlockStatement(block) => end_reachable(&block.body),
        S::IfStatement(statement) => {
            completes(&statement.consequent) || statement.alternate.as_ref().is_none_or(completes)
        }
        S::WhileStatement(statement) => !always_true(&statement.test) || breaks(&statement.body),
        S::ForStatement(statement) => {
            statement
                .test
                .as_ref()
                .is_some_and(|test| !always_true(test))
                || breaks(&statement.body)
        }
        S::DoWhileStatement(statement) => {
            breaks(&statement.body)
                || ((completes(&statement.body) || continues(&statement.body))
                    && !always_true(&statement.test))
        }
        _ => true,
    }
}

/// `true`, or a number other than 0: a loop test that never fails.
fn always_true(test: &ast::Expression<'_>) -> bool {
    match test.without_parentheses() {
        ast::Expression::BooleanLiteral(literal) => literal.value,
        ast::Expression::NumericLiteral(literal) => literal.value != 0.0,
        _ => false,
    }
}

/// Whether a loop body has a `break` of its loop.
pub(super) fn breaks(body: &ast::Statement<'_>) -> bool {
    jumps(body, &|statement| {
        matches!(statement, ast::Statement::BreakStatement(_))
    })
}

/// Whether a loop body has a `continue` of its loop.
fn continues(body: &ast::Statement<'_>) -> bool {
    jumps(body, &|statement| {
        matches!(statement, ast::Statement::ContinueStatement(_))
    })
}

/// Whether `statement` has a jump that `is_jump` recognizes, outside the
/// loops nested in it (whose jumps are theirs; labels are not supported).
fn jumps(statement: &ast::Statement<'_>, is_jump: &dyn Fn(&ast::Statement<'_>) -> bool) -> bool {
    use ast::Statement as S;
    match statement {
        S::BlockStatement(block) => block.body.iter().any(|s| jumps(s, is_jump)),
        S::IfStatement(statement) => {
            jumps(&statement.consequent, is_jump)
                || statement
                    .alternate
                    .as_ref()
                    .is_some_and(|s| jumps(s, is_jump))
        }
        statement => is_jump(statement),
    }
}
