//! A standalone crate's prelude cut down to what its code uses.
//!
//! rustc parses and type-checks every helper and declaration of a patch
//! crate, used or not: for a patch of a few functions that is a third of
//! its time. The prelude is our own generated text, one declaration a line
//! in its `extern` block and items at column 0, so it is cut into items,
//! and a declaration or a `fn` or `const` item is kept when the code, or
//! an item kept, names it (as a word: what is kept is a superset of what
//! is used). Other items (types and their impls) are kept.

use std::collections::BTreeSet;

/// `prelude` without the declarations and functions that `code` does not
/// reach.
pub(super) fn keep_used(prelude: &str, code: &str) -> String {
    let pieces = cut(prelude);
    let mut words = BTreeSet::new();
    add_words(&mut words, code);
    let mut kept: Vec<bool> = pieces.iter().map(|piece| piece.name.is_none()).collect();
    for piece in pieces.iter().filter(|piece| piece.name.is_none()) {
        add_words(&mut words, &piece.text);
    }
    loop {
        let mut grew = false;
        for (piece, kept) in pieces.iter().zip(kept.iter_mut()) {
            if !*kept && piece.name.as_ref().is_some_and(|name| words.contains(name)) {
                *kept = true;
                grew = true;
                add_words(&mut words, &piece.text);
            }
        }
        if !grew {
            break;
        }
    }
    let mut out = String::with_capacity(prelude.len());
    let mut in_externs = false;
    for (piece, kept) in pieces.iter().zip(kept) {
        if piece.declaration != in_externs {
            out.push_str(if in_externs {
                "}\n"
            } else {
                "unsafe extern \"C\" {\n"
            });
            in_externs = piece.declaration;
        }
        if kept {
            out.push_str(&piece.text);
        }
    }
    if in_externs {
        out.push_str("}\n");
    }
    out
}

/// A declaration of an `extern` block, or an item with its attributes and
/// comments; `name` is what it defines if it may be left out.
struct Piece {
    text: String,
    name: Option<String>,
    declaration: bool,
}

const EXTERN_BLOCK: &str = "unsafe extern \"C\" {";

fn cut(prelude: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut lines = prelude.split_inclusive('\n');
    let mut item = String::new();
    let mut depth = 0i32;
    while let Some(line) = lines.next() {
        if item.is_empty() && line.trim_end() == EXTERN_BLOCK {
            for declaration in lines.by_ref() {
                if declaration.trim_end() == "}" {
                    break;
                }
                pieces.push(Piece {
                    name: declared_name(declaration),
                    text: declaration.to_string(),
                    declaration: true,
                });
            }
            continue;
        }
        if item.is_empty() && line.starts_with("#![") {
            pieces.push(Piece {
                text: line.to_string(),
                name: None,
                declaration: false,
            });
            continue;
        }
        item.push_str(line);
        let code = code_of(line);
        depth += code.matches('{').count() as i32 - code.matches('}').count() as i32;
        let ends = depth == 0
            && !line.starts_with("#")
            && !line.trim_start().starts_with("//")
            && (code.contains('}') || code.trim_end().ends_with(';'));
        if ends {
            pieces.push(Piece {
                name: item_name(&item),
                text: std::mem::take(&mut item),
                declaration: false,
            });
        }
    }
    if !item.is_empty() {
        pieces.push(Piece {
            name: None,
            text: item,
            declaration: false,
        });
    }
    pieces
}

/// A line without its string literals and its comment.
fn code_of(line: &str) -> String {
    let mut code = String::new();
    let mut chars = line.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        match (in_string, c) {
            (true, '\\') => {
                chars.next();
            }
            (true, '"') => in_string = false,
            (true, _) => {}
            (false, '"') => in_string = true,
            (false, '/') if chars.peek() == Some(&'/') => break,
            (false, c) => code.push(c),
        }
    }
    code
}

/// `fn NAME(` or `static [mut] NAME:` of an extern block.
fn declared_name(line: &str) -> Option<String> {
    let line = line.trim_start();
    let rest = line
        .strip_prefix("fn ")
        .or_else(|| line.strip_prefix("static mut "))
        .or_else(|| line.strip_prefix("static "))?;
    Some(identifier(rest))
}

/// The name of a `fn` or `const` item (after its attributes and comments).
fn item_name(item: &str) -> Option<String> {
    let head = item
        .lines()
        .find(|line| !line.starts_with('#') && !line.trim_start().starts_with("//"))?;
    let mut rest = head;
    for prefix in ["pub ", "const ", "unsafe ", "extern \"C\" "] {
        if let Some(after) = rest.strip_prefix(prefix) {
            if prefix == "const " && !after.starts_with("fn ") && !after.starts_with("unsafe ") {
                return Some(identifier(after));
            }
            rest = after;
        }
    }
    rest.strip_prefix("fn ").map(identifier)
}

fn identifier(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

fn add_words(words: &mut BTreeSet<String>, text: &str) {
    words.extend(
        text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|word| !word.is_empty())
            .map(str::to_string),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRELUDE: &str = "#![no_std]\n#![allow(warnings)]\nunsafe extern \"C\" {\n    static mut __bs_slots: usize;\n    fn bs_error(msg: *const u8, n: usize) -> !;\n    fn bs_print_int(v: i32);\n    fn bs_unused(v: i32);\n}\nconst TAG: u32 = 3;\nconst UNUSED: u32 = 4;\n#[inline(always)]\nfn fail(message: &str) -> ! {\n    // \"}\" in a comment, and in a string:\n    unsafe { bs_error(\"}{\".as_ptr(), message.len()) }\n}\n/// Checked division.\n#[inline(always)]\nfn div_i32(a: i32, b: i32) -> i32 {\n    if b == 0 {\n        fail(\"integer division by zero\")\n    }\n    a.wrapping_div(b)\n}\n#[inline(always)]\nconst fn tagged(i: i32) -> u32 {\n    (i as u32) << 2 | TAG\n}\nstruct Frame {\n    n: usize,\n}\nimpl Drop for Frame {\n    fn drop(&mut self) {}\n}\n";

    #[test]
    fn what_the_code_reaches_stays_and_the_rest_goes() {
        let kept = keep_used(PRELUDE, "fn f() { bs_print_int(div_i32(1, 2)) }");
        assert_eq!(
            kept,
            "#![no_std]\n#![allow(warnings)]\nunsafe extern \"C\" {\n    fn bs_error(msg: *const u8, n: usize) -> !;\n    fn bs_print_int(v: i32);\n}\n#[inline(always)]\nfn fail(message: &str) -> ! {\n    // \"}\" in a comment, and in a string:\n    unsafe { bs_error(\"}{\".as_ptr(), message.len()) }\n}\n/// Checked division.\n#[inline(always)]\nfn div_i32(a: i32, b: i32) -> i32 {\n    if b == 0 {\n        fail(\"integer division by zero\")\n    }\n    a.wrapping_div(b)\n}\nstruct Frame {\n    n: usize,\n}\nimpl Drop for Frame {\n    fn drop(&mut self) {}\n}\n"
        );
    }

    #[test]
    fn a_constant_function_keeps_the_constants_it_names() {
        let kept = keep_used(PRELUDE, "static X: u32 = tagged(1);");
        assert!(kept.contains("const fn tagged"), "{kept}");
        assert!(kept.contains("const TAG: u32 = 3;"), "{kept}");
        assert!(!kept.contains("UNUSED"), "{kept}");
        assert!(!kept.contains("fn fail"), "{kept}");
    }

    /// The real prelude is cut where its items end: naming every piece's
    /// name keeps it whole, and a helper keeps what it calls.
    #[test]
    fn the_patch_prelude_is_cut_into_its_items() {
        let mut prelude = format!(
            "#![no_std]\n{EXTERN_BLOCK}\n{}}}\n",
            super::super::RUNTIME_EXTERNS
        );
        super::super::push_helpers(&mut prelude);
        prelude.push_str(super::super::roots::ROOT_FRAME);
        let pieces = cut(&prelude);
        let names: Vec<String> = pieces
            .iter()
            .filter_map(|piece| piece.name.clone())
            .collect();
        assert!(names.len() > 40, "{names:?}");
        assert_eq!(keep_used(&prelude, &names.join(" ")), prelude);
        let kept = keep_used(&prelude, "div_i32(a, b, \"main.bs:1:1\")");
        assert!(kept.contains("fn div_i32"), "{kept}");
        assert!(kept.contains("fn fail("), "{kept}");
        assert!(kept.contains("fn bs_error("), "{kept}");
        assert!(kept.contains("struct RootFrame"), "{kept}");
        assert!(!kept.contains("fn rem_i32"), "{kept}");
        assert!(!kept.contains("fn bs_print_int"), "{kept}");
        assert!(kept.len() < prelude.len() / 2, "{kept}");
    }

    #[test]
    fn code_that_names_everything_keeps_the_prelude_whole() {
        let everything =
            "__bs_slots bs_error bs_print_int bs_unused TAG UNUSED fail div_i32 tagged";
        assert_eq!(keep_used(PRELUDE, everything), PRELUDE);
    }
}
