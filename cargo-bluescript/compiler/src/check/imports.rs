//! `import { a, b as c } from …`: the drivers of a Rust module, or the
//! exported items of another script file, bound as top-level names.

use super::*;

impl<'s, 'a> Checker<'s, 'a> {
    /// Reports an import that names nothing importable.
    fn import_error(&mut self, diagnostic: Diagnostic) {
        self.error(diagnostic.with_kind(Kind::Import));
    }

    /// Reports an import that imports nothing; its names are bound even so,
    /// so that their uses report nothing more.
    fn unresolved_import(&mut self, import: &ast::ImportDeclaration<'_>, diagnostic: Diagnostic) {
        self.import_error(diagnostic);
        for specifier in self.import_specifiers(import) {
            self.bind_import(
                &specifier.local.name,
                Item::Unresolved,
                specifier.span.into(),
            );
        }
    }

    pub(super) fn import(&mut self, import: &ast::ImportDeclaration<'_>) {
        if import.import_kind == ast::ImportOrExportKind::Type {
            return; // `import type` only informs editors
        }
        let source = import.source.value.as_str();
        if (source.starts_with('.') || source.starts_with('/')) && self.module().cell.is_some() {
            let diagnostic = Diagnostic::unsupported(
                import.source.span,
                "importing a script file into the shell",
            )
            .with_help("what the program imports is in scope already");
            self.unresolved_import(import, diagnostic);
            return;
        }
        if source.starts_with('.') || source.starts_with('/') {
            // Loaded by `modules::load`, which reported any failure.
            if let Some(&target) = self.module().imports.get(&import.source.span.start) {
                self.import_script(import, target);
            }
            return;
        }
        if !self
            .all_exports
            .iter()
            .any(|e| e.module.as_deref() == Some(source))
        {
            let diagnostic = Diagnostic::error(
                import.source.span,
                format!("no module named '{source}'"),
            )
            .with_help(
                "modules are Rust functions exported with #[bluescript::export(module = \"…\")], \
                         or script files imported with a relative path ('./util')",
            );
            self.unresolved_import(import, diagnostic);
            return;
        }
        for specifier in self.import_specifiers(import) {
            let imported = specifier.imported.name();
            match self
                .all_exports
                .iter()
                .find(|e| e.module.as_deref() == Some(source) && e.name == imported.as_str())
            {
                Some(export) => {
                    self.bind_import(
                        &specifier.local.name,
                        Item::Driver(export.clone()),
                        specifier.span.into(),
                    );
                }
                None => {
                    self.import_error(Diagnostic::error(
                        specifier.span,
                        format!("module '{source}' has no export named `{imported}`"),
                    ));
                    self.bind_import(
                        &specifier.local.name,
                        Item::Unresolved,
                        specifier.span.into(),
                    );
                }
            }
        }
    }

    /// The named value imports of `import`; reports the other kinds.
    fn import_specifiers<'i>(
        &mut self,
        import: &'i ast::ImportDeclaration<'i>,
    ) -> Vec<&'i ast::ImportSpecifier<'i>> {
        let mut out = Vec::new();
        for specifier in import.specifiers.iter().flatten() {
            let ast::ImportDeclarationSpecifier::ImportSpecifier(specifier) = specifier else {
                self.error(Diagnostic::unsupported(
                    specifier.span(),
                    "default and namespace imports",
                ));
                continue;
            };
            if specifier.import_kind != ast::ImportOrExportKind::Type {
                out.push(&**specifier);
            }
        }
        out
    }

    fn bind_import(&mut self, local: &str, item: Item, span: Span) {
        if self.bind(local, item, span, false) {
            self.scopes[self.current].imported.insert(local.to_string());
        }
    }

    /// `import { a, b as c } from './util'`: items that `target` exports.
    fn import_script(&mut self, import: &ast::ImportDeclaration<'_>, target: usize) {
        let target_name = &self.modules[target].file.name;
        for specifier in self.import_specifiers(import) {
            let imported = specifier.imported.name();
            let scope = &self.scopes[target];
            let item = match scope.names.get(imported.as_str()) {
                Some(item) if scope.exported.contains(imported.as_str()) => item.clone(),
                Some(_) if !scope.imported.contains(imported.as_str()) => {
                    self.import_error(
                        Diagnostic::error(
                            specifier.span,
                            format!("`{imported}` is not exported by `{target_name}`"),
                        )
                        .with_help(format!(
                            "mark its declaration in `{target_name}` with `export`"
                        )),
                    );
                    Item::Unresolved
                }
                _ => {
                    self.import_error(Diagnostic::error(
                        specifier.span,
                        format!("`{target_name}` has no export named `{imported}`"),
                    ));
                    Item::Unresolved
                }
            };
            let item = match item {
                Item::Global { name, .. } => Item::Global {
                    name,
                    imported: true,
                },
                other => other,
            };
            self.bind_import(&specifier.local.name, item, specifier.span.into());
        }
    }
}
