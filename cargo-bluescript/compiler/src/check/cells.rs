//! Cells of the interactive shell (`environment.rs`): modules that see the
//! names of the main script and of the cells before them, whose statements
//! become a function of their own, run once by the shell.

use super::*;

impl<'s, 'a> Checker<'s, 'a> {
    /// Binds, in the current cell, the names the main script or the cell
    /// before it binds (the cells come last, in order).
    pub(super) fn inherit_names(&mut self) {
        let previous = self.current - 1;
        let from = if self.modules[previous].cell.is_some() {
            previous
        } else {
            0
        };
        self.scopes[self.current] = ModuleScope {
            names: self.scopes[from].names.clone(),
            ..ModuleScope::default()
        };
    }

    /// The function that runs a cell: its statements; a cell that is one
    /// expression with a value prints the value, as shells do.
    pub(super) fn add_cell_function(
        &mut self,
        name: &str,
        mut body: Vec<Stmt>,
        references: BTreeSet<String>,
    ) {
        // The value of a last expression is printed, as a shell prints an
        // answer, unless it is an assignment (its value is what was typed).
        let answers = match self.module().program.body.last() {
            Some(ast::Statement::ExpressionStatement(statement)) => !matches!(
                statement.expression.without_parentheses(),
                ast::Expression::AssignmentExpression(_) | ast::Expression::UpdateExpression(_)
            ),
            _ => false,
        };
        self.answer = None;
        if let (Some(statement), true) = (body.last_mut(), answers) {
            if let StmtKind::Expr(value) = &statement.kind {
                if value.ty != Ty::Void {
                    self.answer = Some(value.ty);
                    let value = value.clone();
                    statement.kind = StmtKind::Print {
                        to_stderr: false,
                        pieces: vec![PrintPiece::Value(value)],
                    };
                }
            }
        }
        let text = &self.file().text;
        let span = Span::new(0, text.len() as u32);
        let signature = Signature {
            params: Vec::new(),
            ret: Ty::Void,
        };
        let function = Function {
            name: name.to_string(),
            params: Vec::new(),
            signature: signature.clone(),
            body,
            fingerprint: fingerprint(text.as_bytes()),
            references: references.into_iter().collect(),
            span,
            file: self.current as u32,
            location: self.location(span),
            is_closure: false,
            boxed_params: Vec::new(),
        };
        self.functions
            .insert(name.to_string(), FunctionState::Done(signature));
        self.function_module.insert(name.to_string(), self.current);
        self.checked.insert(name.to_string(), function);
    }
}
