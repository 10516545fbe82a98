//! Mutations of real programs (the conformance programs): at the level of
//! lines (statements, mostly) and of tokens — delete, duplicate or swap
//! statements; change an operator, a literal, a type or a name.

use fastrand::Rng;

/// `source` changed by one to three random mutations.
pub fn mutate(source: &str, seed: u64) -> String {
    let mut rng = Rng::with_seed(seed);
    let mut text = source.to_string();
    for _ in 0..rng.usize(1..4) {
        text = if rng.bool() {
            mutate_lines(&text, &mut rng)
        } else {
            mutate_tokens(&text, &mut rng)
        };
    }
    text
}

fn mutate_lines(text: &str, rng: &mut Rng) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return text.to_string();
    }
    let i = rng.usize(0..lines.len());
    let j = rng.usize(0..lines.len());
    match rng.u32(0..4) {
        0 => {
            lines.remove(i);
        }
        1 => lines.insert(j, lines[i]),
        2 => lines.swap(i, j),
        _ => {
            // Move a line elsewhere (a use before its declaration, a
            // statement into another block).
            let line = lines.remove(i);
            lines.insert(j.min(lines.len()), line);
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Number,
    Str,
    Punct,
    Space,
}

/// Splits source text into tokens that join back into it exactly.
fn tokens(text: &str) -> Vec<(Kind, &str)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let len = if c.is_alphabetic() || c == '_' || c == '$' {
            rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(rest.len())
        } else if c.is_ascii_digit() {
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
                .unwrap_or(rest.len())
        } else if c == '\'' || c == '"' {
            rest[1..].find(c).map_or(rest.len(), |i| i + 2)
        } else if c.is_whitespace() {
            rest.find(|c: char| !c.is_whitespace())
                .unwrap_or(rest.len())
        } else {
            c.len_utf8()
        };
        let kind = if c.is_alphabetic() || c == '_' || c == '$' {
            Kind::Word
        } else if c.is_ascii_digit() {
            Kind::Number
        } else if c == '\'' || c == '"' {
            Kind::Str
        } else if c.is_whitespace() {
            Kind::Space
        } else {
            Kind::Punct
        };
        out.push((kind, &rest[..len]));
        rest = &rest[len..];
    }
    out
}

const OPERATORS: [&str; 22] = [
    "+", "-", "*", "/", "%", "<", ">", "=", "!", "&", "|", "^", "~", "?", ":", ".", ",", ";", "(",
    ")", "{", "}",
];
const TYPES: [&str; 12] = [
    "integer",
    "float",
    "boolean",
    "string",
    "any",
    "int32",
    "void",
    "null",
    "undefined",
    "number",
    "Array",
    "FixedArray",
];
const NUMBERS: [&str; 10] = [
    "0",
    "1",
    "-1",
    "0.5",
    "2147483647",
    "2147483648",
    "1e40",
    "0x7fffffff",
    "3.0",
    "1e-3",
];
const WORDS: [&str; 16] = [
    "this",
    "super",
    "new",
    "return",
    "let",
    "const",
    "if",
    "while",
    "break",
    "null",
    "true",
    "typeof",
    "as",
    "instanceof",
    "print",
    "function",
];

fn mutate_tokens(text: &str, rng: &mut Rng) -> String {
    let mut tokens: Vec<(Kind, String)> = tokens(text)
        .into_iter()
        .map(|(kind, t)| (kind, t.to_string()))
        .collect();
    let meaningful: Vec<usize> = (0..tokens.len())
        .filter(|&i| tokens[i].0 != Kind::Space)
        .collect();
    if meaningful.is_empty() {
        return text.to_string();
    }
    let i = meaningful[rng.usize(0..meaningful.len())];
    let names: Vec<String> = tokens
        .iter()
        .filter(|t| t.0 == Kind::Word)
        .map(|t| t.1.clone())
        .collect();
    let pick = |rng: &mut Rng, items: &[&str]| items[rng.usize(0..items.len())].to_string();
    let replacement = match (tokens[i].0, rng.u32(0..5)) {
        (_, 0) => String::new(),                              // delete the token
        (_, 1) => format!("{} {}", tokens[i].1, tokens[i].1), // duplicate it
        (Kind::Punct, _) => pick(rng, &OPERATORS),
        (Kind::Number, _) => pick(rng, &NUMBERS),
        (Kind::Str, _) => pick(rng, &["''", "'x'", "\"é\"", "'\\n'"]),
        (Kind::Word, 2) => pick(rng, &TYPES),
        (Kind::Word, 3) => pick(rng, &WORDS),
        (Kind::Word, _) if !names.is_empty() => names[rng.usize(0..names.len())].clone(),
        _ => pick(rng, &OPERATORS),
    };
    tokens[i].1 = replacement;
    tokens.into_iter().map(|t| t.1).collect()
}
