//! Rust driver functions exported to scripts with `#[bluescript::export]`.
//!
//! Two readers of the same facts: before the first build the host scans the
//! firmware's Rust sources (the image does not exist yet) with
//! [`exports_in_source`]; afterwards the
//! signature records in the ELF (`__bs_sig_<name>`) are the truth about what
//! the device really has, and patches are checked against those.

use super::ir::{Signature, Ty};
use bluescript_abi::symbols::prefix;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    /// `Some("gpio")` for `#[bluescript::export(module = "gpio")]`.
    pub module: Option<String>,
    pub name: String,
    pub signature: Signature,
    /// The Rust parameter names, when read from the source (records lack them).
    #[serde(default)]
    pub param_names: Vec<String>,
}

impl Export {
    /// The C-ABI entry point the macro generates.
    pub fn entry_symbol(&self) -> String {
        format!("{}{}", prefix::EXPORT, self.name)
    }

    pub fn record_symbol(&self) -> String {
        format!("{}{}", prefix::SIGNATURE, self.name)
    }

    /// Parses a signature record: `name(integer,boolean):void`, optionally
    /// prefixed by `module.`.
    pub fn parse_record(record: &str) -> Option<Export> {
        let record = record.trim_end_matches('\0');
        let (head, ret) = record.rsplit_once("):")?;
        let (path, params) = head.split_once('(')?;
        let (module, name) = match path.split_once('.') {
            Some((m, n)) => (Some(m.to_string()), n),
            None => (None, path),
        };
        let params = if params.is_empty() {
            Vec::new()
        } else {
            params
                .split(',')
                .map(Ty::from_record_name)
                .collect::<Option<Vec<_>>>()?
        };
        Some(Export {
            module,
            name: name.to_string(),
            signature: Signature {
                params,
                ret: Ty::from_record_name(ret)?,
            },
            param_names: Vec::new(),
        })
    }

    pub fn record(&self) -> String {
        let params: Vec<_> = self
            .signature
            .params
            .iter()
            .map(|t| t.to_string())
            .collect();
        let module = self
            .module
            .as_ref()
            .map(|m| format!("{m}."))
            .unwrap_or_default();
        format!(
            "{module}{}({}):{}",
            self.name,
            params.join(","),
            self.signature.ret
        )
    }
}

/// The `#[bluescript::export]` functions of one Rust source file, in order.
/// A file that does not parse has none: it is rustc's to report, with
/// better words.
pub fn exports_in_source(text: &str) -> Vec<Export> {
    let mut exports = Vec::new();
    if let Ok(syntax) = syn::parse_file(text) {
        collect_exports(&syntax.items, &mut exports);
    }
    exports
}

fn collect_exports(items: &[syn::Item], out: &mut Vec<Export>) {
    for item in items {
        match item {
            syn::Item::Fn(function) => {
                if let Some(export) = export_of(function) {
                    out.push(export);
                }
            }
            syn::Item::Mod(module) => {
                if let Some((_, items)) = &module.content {
                    collect_exports(items, out);
                }
            }
            _ => {}
        }
    }
}

fn export_of(function: &syn::ItemFn) -> Option<Export> {
    let attr = function.attrs.iter().find(|a| {
        let segments: Vec<_> = a
            .path()
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        matches!(
            segments
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice(),
            ["bluescript", "export"] | ["export"]
        )
    })?;
    let mut module = None;
    if let syn::Meta::List(_) = &attr.meta {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("module") {
                let value: syn::LitStr = meta.value()?.parse()?;
                module = Some(value.value());
            }
            Ok(())
        });
    }
    let mut params = Vec::new();
    let mut param_names = Vec::new();
    for input in &function.sig.inputs {
        let syn::FnArg::Typed(typed) = input else {
            return None;
        };
        params.push(ty_of_rust(&typed.ty)?);
        param_names.push(match &*typed.pat {
            syn::Pat::Ident(ident) => ident.ident.to_string(),
            _ => format!("arg{}", param_names.len()),
        });
    }
    let ret = match &function.sig.output {
        syn::ReturnType::Default => Ty::Void,
        syn::ReturnType::Type(_, ty) => ty_of_rust(ty)?,
    };
    Some(Export {
        module,
        name: function.sig.ident.to_string(),
        signature: Signature { params, ret },
        param_names,
    })
}

/// The Rust types `#[bluescript::export]` maps (LANGUAGE.md §11).
fn ty_of_rust(ty: &syn::Type) -> Option<Ty> {
    match ty {
        syn::Type::Path(path) if path.qself.is_none() => {
            match path.path.get_ident()?.to_string().as_str() {
                "i32" => Some(Ty::Integer),
                "f32" => Some(Ty::Float),
                "bool" => Some(Ty::Boolean),
                "String" => Some(Ty::String),
                _ => None,
            }
        }
        syn::Type::Tuple(tuple) if tuple.elems.is_empty() => Some(Ty::Void),
        // `&str` parameters, `&'static str` results.
        syn::Type::Reference(reference) if reference.mutability.is_none() => {
            match &*reference.elem {
                syn::Type::Path(path) if path.path.is_ident("str") => Some(Ty::String),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        for record in [
            "led_set(boolean):void",
            "gpio.set(integer,boolean):void",
            "now():float",
        ] {
            let export = Export::parse_record(record).unwrap();
            assert_eq!(export.record(), record);
        }
        let e = Export::parse_record("gpio.read(integer):integer\0").unwrap();
        assert_eq!(e.module.as_deref(), Some("gpio"));
        assert_eq!(e.signature.params, vec![Ty::Integer]);
        assert!(Export::parse_record("x(str):void").is_none());
    }

    #[test]
    fn finds_exported_functions_in_modules() {
        let exports = exports_in_source(
            r#"
            #[bluescript::export]
            fn led_set(on: bool) {}
            fn private(x: i32) -> i32 { x }
            mod inner {
                #[bluescript::export(module = "gpio")]
                pub fn read(pin: i32) -> f32 { 0.0 }
            }
            "#,
        );
        let records: Vec<_> = exports.iter().map(Export::record).collect();
        assert_eq!(
            records,
            ["led_set(boolean):void", "gpio.read(integer):float"]
        );
        assert_eq!(exports[0].param_names, ["on"]);
        assert!(exports_in_source("fn broken(").is_empty());
    }
}
