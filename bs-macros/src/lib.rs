//! Procedural macros of the BlueScript device runtime, re-exported by
//! `bs-runtime` as `bluescript::export` and `bluescript::scripts`.
//!
//! The symbols these macros generate are part of the device ABI described
//! in `docs/device-abi.md`.

use bluescript_abi::symbols::prefix;
use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{parse_macro_input, FnArg, ItemFn, LitStr, ReturnType, Type};

/// Environment variable through which `cargo bluescript build` passes the
/// path of the Rust file generated from the scripts.
const SCRIPTS_ENV: &str = "BLUESCRIPT_SCRIPTS";

const SUPPORTED: &str =
    "supported parameter types: i32 (integer), f32 (float), bool (boolean), &str or String (string); \
     supported return types: the same or ()";

/// Exposes a Rust driver function to BlueScript.
///
/// ```ignore
/// #[bluescript::export]
/// fn led_set(on: bool) { /* ... */ }
///
/// #[bluescript::export(module = "gpio")]
/// fn set(pin: i32, high: bool) { /* ... */ }
/// ```
///
/// The function is kept as written. Next to it the macro defines
/// `__bs_export_<name>`, an `extern "C"` entry point with the same
/// parameters, and `__bs_sig_<name>`, a NUL-terminated signature record such
/// as `led_set(boolean):void` or `gpio.set(integer,boolean):void`, which the
/// host reads from the ELF to type-check scripts against the drivers. Both
/// are kept in the image even if no script calls the function, so that a
/// later hot patch can.
#[proc_macro_attribute]
pub fn export(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut module: Option<LitStr> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("module") {
            let lit: LitStr = meta.value()?.parse()?;
            if !is_identifier(&lit.value()) {
                return Err(syn::Error::new(
                    lit.span(),
                    "the module name must be an identifier, e.g. module = \"gpio\"",
                ));
            }
            module = Some(lit);
            Ok(())
        } else {
            Err(meta.error("unsupported argument; expected `module = \"name\"`"))
        }
    });
    if let Err(err) = syn::parse::Parser::parse(parser, attr) {
        // Keep the item, so that its uses do not add unrelated errors.
        let mut out = proc_macro2::TokenStream::from(item);
        out.extend(err.to_compile_error());
        return out.into();
    }
    let func = parse_macro_input!(item as ItemFn);

    match expand_export(module.map(|m| m.value()).as_deref(), &func) {
        Ok(tokens) => tokens.into(),
        Err(err) => {
            // Keep the original function so that its callers do not produce a
            // cascade of unrelated errors.
            let err = err.to_compile_error();
            quote!(#func #err).into()
        }
    }
}

/// A BlueScript type that can cross the driver boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BsType {
    Integer,
    Float,
    Boolean,
    /// `&str` as a parameter, `&'static str` as a result: a string object
    /// crosses the boundary.
    String,
    Void,
}

impl BsType {
    fn name(self) -> &'static str {
        match self {
            BsType::Integer => "integer",
            BsType::Float => "float",
            BsType::Boolean => "boolean",
            BsType::String => "string",
            BsType::Void => "void",
        }
    }
}

/// Builds the signature record (without the trailing NUL), e.g.
/// `gpio.set(integer,boolean):void`.
fn signature(module: Option<&str>, name: &str, params: &[BsType], ret: BsType) -> String {
    let mut sig = String::new();
    if let Some(module) = module {
        sig.push_str(module);
        sig.push('.');
    }
    sig.push_str(name);
    sig.push('(');
    let params: Vec<&str> = params.iter().map(|t| t.name()).collect();
    sig.push_str(&params.join(","));
    sig.push_str("):");
    sig.push_str(ret.name());
    sig
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Maps a Rust type to the BlueScript type it stands for.
fn value_type(ty: &Type) -> Option<BsType> {
    match ty {
        Type::Paren(p) => value_type(&p.elem),
        Type::Group(g) => value_type(&g.elem),
        Type::Path(p) if p.qself.is_none() => {
            let ident = p.path.get_ident()?;
            if ident == "i32" {
                Some(BsType::Integer)
            } else if ident == "f32" {
                Some(BsType::Float)
            } else if ident == "bool" {
                Some(BsType::Boolean)
            } else if ident == "String" {
                Some(BsType::String)
            } else {
                None
            }
        }
        Type::Reference(r) if r.mutability.is_none() => match &*r.elem {
            Type::Path(p) if p.qself.is_none() && p.path.is_ident("str") => Some(BsType::String),
            _ => None,
        },
        _ => None,
    }
}

fn return_type(ret: &ReturnType) -> syn::Result<BsType> {
    match ret {
        ReturnType::Default => Ok(BsType::Void),
        ReturnType::Type(_, ty) => match &**ty {
            Type::Tuple(t) if t.elems.is_empty() => Ok(BsType::Void),
            ty => value_type(ty).ok_or_else(|| {
                syn::Error::new(
                    ty.span(),
                    format!("#[bluescript::export]: unsupported return type; {SUPPORTED}"),
                )
            }),
        },
    }
}

fn reject(span: Span, what: &str) -> syn::Error {
    syn::Error::new(
        span,
        format!("#[bluescript::export] does not support {what}; export a plain `fn` ({SUPPORTED})"),
    )
}

fn expand_export(module: Option<&str>, func: &ItemFn) -> syn::Result<proc_macro2::TokenStream> {
    let sig = &func.sig;
    if let Some(t) = &sig.asyncness {
        return Err(reject(t.span(), "async functions"));
    }
    if let Some(t) = &sig.unsafety {
        return Err(reject(t.span(), "unsafe functions"));
    }
    if let Some(abi) = &sig.abi {
        return Err(reject(abi.span(), "an explicit ABI"));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(reject(sig.generics.span(), "generic functions"));
    }
    if let Some(v) = &sig.variadic {
        return Err(reject(v.span(), "variadic functions"));
    }

    let mut errors: Option<syn::Error> = None;
    let mut push_error = |e: syn::Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };

    let mut params = Vec::new();
    let mut param_types: Vec<proc_macro2::TokenStream> = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => push_error(reject(r.span(), "methods (`self`)")),
            FnArg::Typed(pt) => match value_type(&pt.ty) {
                Some(t) => {
                    params.push(t);
                    // A string arrives as the address of a string object.
                    param_types.push(if t == BsType::String {
                        quote!(u32)
                    } else {
                        let ty = &pt.ty;
                        quote!(#ty)
                    });
                }
                None => push_error(syn::Error::new(
                    pt.ty.span(),
                    format!("#[bluescript::export]: unsupported parameter type; {SUPPORTED}"),
                )),
            },
        }
    }
    let ret = return_type(&sig.output);
    if let Err(e) = &ret {
        push_error(e.clone());
    }
    if let Some(e) = errors {
        return Err(e);
    }
    let ret = ret?;

    let name = &sig.ident;
    // Raw identifiers (`r#type`) are exported under their plain name.
    let plain_name = name.to_string().trim_start_matches("r#").to_string();
    let entry = format_ident!("{}{}", prefix::EXPORT, plain_name, span = name.span());
    let sig_ident = format_ident!("{}{}", prefix::SIGNATURE, plain_name, span = name.span());

    let record = signature(module, &plain_name, &params, ret);
    let mut bytes = record.into_bytes();
    bytes.push(0);
    let len = bytes.len();
    let bytes = syn::LitByteStr::new(&bytes, name.span());

    let args: Vec<_> = (0..params.len())
        .map(|i| format_ident!("__bs_arg{}", i))
        .collect();
    let passed: Vec<proc_macro2::TokenStream> = args
        .iter()
        .zip(&params)
        .map(|(arg, ty)| {
            if *ty == BsType::String {
                // SAFETY: the compiler passes string objects only; the
                // object outlives the call (the caller's stack holds it).
                // `.into()` makes a `String` of it for a `String` parameter.
                quote!(unsafe { ::bluescript::driver::str_of(#arg) }.into())
            } else {
                quote!(#arg)
            }
        })
        .collect();
    let (output, call) = if ret == BsType::String {
        (
            quote!(-> u32),
            quote!(::bluescript::driver::string_result(&#name(#(#passed),*))),
        )
    } else {
        let output = &sig.output;
        (quote!(#output), quote!(#name(#(#passed),*)))
    };
    let span = name.span();

    Ok(quote_spanned! {span=>
        #func

        #[doc(hidden)]
        #[unsafe(no_mangle)]
        pub extern "C" fn #entry(#(#args: #param_types),*) #output {
            #call
        }

        // `#[used]` keeps both symbols in the image even if no script calls
        // the driver (the linker honours it through SHF_GNU_RETAIN): a
        // later patch may call it, and the host reads the record.
        #[doc(hidden)]
        #[used]
        #[unsafe(no_mangle)]
        pub static #sig_ident: [u8; #len] = *#bytes;

        const _: () = {
            #[used]
            static KEEP: extern "C" fn(#(#param_types),*) #output = #entry;
        };
    })
}

/// Includes the Rust file generated from the project's scripts.
///
/// `cargo bluescript build` compiles `scripts/` and passes the path of the
/// result in the `BLUESCRIPT_SCRIPTS` environment variable; the file defines
/// `SCRIPTS: bluescript::Program`.
#[proc_macro]
pub fn scripts(input: TokenStream) -> TokenStream {
    let input = proc_macro2::TokenStream::from(input);
    if !input.is_empty() {
        return syn::Error::new(input.span(), "bluescript::scripts!() takes no arguments")
            .to_compile_error()
            .into();
    }
    match std::env::var(SCRIPTS_ENV) {
        // `env!` (rather than the path as a literal) records the variable in
        // rustc's dep-info, so cargo rebuilds the firmware when it changes;
        // `include!` itself makes cargo track the file's contents.
        Ok(path) if !path.is_empty() => quote!(include!(::core::env!(#SCRIPTS_ENV));).into(),
        _ => quote!(::core::compile_error!(
            "no BlueScript program: build this firmware with `cargo bluescript build` \
             (it compiles scripts/ and sets BLUESCRIPT_SCRIPTS)"
        );)
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(attr_module: Option<&str>, src: &str) -> syn::Result<String> {
        let func: ItemFn = syn::parse_str(src).unwrap();
        expand_export(attr_module, &func).map(|t| t.to_string())
    }

    #[test]
    fn signature_records() {
        assert_eq!(
            signature(None, "led_set", &[BsType::Boolean], BsType::Void),
            "led_set(boolean):void"
        );
        assert_eq!(
            signature(
                Some("gpio"),
                "set",
                &[BsType::Integer, BsType::Boolean],
                BsType::Void
            ),
            "gpio.set(integer,boolean):void"
        );
        assert_eq!(signature(None, "now", &[], BsType::Float), "now():float");
    }

    #[test]
    fn types() {
        let ty = |s: &str| value_type(&syn::parse_str(s).unwrap());
        assert_eq!(ty("i32"), Some(BsType::Integer));
        assert_eq!(ty("f32"), Some(BsType::Float));
        assert_eq!(ty("bool"), Some(BsType::Boolean));
        assert_eq!(ty("u32"), None);
        assert_eq!(ty("&str"), Some(BsType::String));
        assert_eq!(ty("&mut str"), None);
        assert_eq!(ty("String"), Some(BsType::String));
        assert_eq!(ty("Vec<i32>"), None);
    }

    #[test]
    fn expands_entry_and_record() {
        let out = expand(None, "fn led_set(on: bool) {}").unwrap();
        assert!(
            out.contains("fn __bs_export_led_set (__bs_arg0 : bool)"),
            "{out}"
        );
        assert!(out.contains("led_set (__bs_arg0)"), "{out}");
        assert!(
            out.contains("static __bs_sig_led_set : [u8 ; 22usize]"),
            "{out}"
        );
        assert!(out.contains(r#"b"led_set(boolean):void\0""#), "{out}");

        let out = expand(Some("gpio"), "fn set(pin: i32, high: bool) -> f32 { 0.0 }").unwrap();
        assert!(
            out.contains(r#"b"gpio.set(integer,boolean):float\0""#),
            "{out}"
        );
        assert!(out.contains("-> f32"), "{out}");
    }

    #[test]
    fn strings_cross_as_string_objects() {
        let out = expand(None, "fn show(text: &str) -> &'static str { \"ok\" }").unwrap();
        assert!(out.contains(r#"b"show(string):string\0""#), "{out}");
        assert!(
            out.contains("__bs_export_show (__bs_arg0 : u32) -> u32"),
            "{out}"
        );
        assert!(out.contains("driver :: str_of (__bs_arg0)"), "{out}");
        assert!(out.contains("driver :: string_result"), "{out}");
        // An owned `String` (a firmware with an allocator) crosses the same way.
        let out = expand(None, "fn greet(name: String) -> String { name }").unwrap();
        assert!(out.contains(r#"b"greet(string):string\0""#), "{out}");
        assert!(out.contains("str_of (__bs_arg0) } . into ()"), "{out}");
    }

    #[test]
    fn rejects_unsupported_items() {
        for src in [
            "fn f(x: u8) {}",
            "fn f() -> &'static [u8] { &[] }",
            "async fn f() {}",
            "fn f<T>(x: T) {}",
            "unsafe fn f() {}",
            "extern \"C\" fn f() {}",
            "fn f(x: (i32, i32)) {}",
        ] {
            let err = expand(None, src).unwrap_err().to_string();
            assert!(err.contains("#[bluescript::export]"), "{src}: {err}");
        }
        let err = expand(None, "fn f(x: u8) {}").unwrap_err().to_string();
        assert!(err.contains("i32 (integer)"), "{err}");
    }

    #[test]
    fn module_names() {
        assert!(is_identifier("gpio"));
        assert!(is_identifier("_x1"));
        assert!(!is_identifier("1x"));
        assert!(!is_identifier("a.b"));
        assert!(!is_identifier(""));
    }
}
