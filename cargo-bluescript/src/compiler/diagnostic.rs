//! Compiler diagnostics: every rejection of user input becomes one of these,
//! rendered as `file:line:col: error: message` with the source line and a
//! caret under the offending code. A diagnostic carries the file it points
//! into, since a program may span several script files.

use std::fmt;
use std::sync::Arc;

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: u32, end: u32) -> Self {
        Span { start, end }
    }
}

impl From<oxc_span::Span> for Span {
    fn from(span: oxc_span::Span) -> Self {
        Span::new(span.start, span.end)
    }
}

/// A source file as the compiler saw it: the name users know it by and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// Path relative to the project (e.g. `scripts/main.bs`).
    pub name: String,
    pub text: String,
}

impl SourceFile {
    /// One-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let offset = (offset as usize).min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }

    /// `file:line:col` of a span's start, as run-time errors report it.
    pub fn location(&self, span: Span) -> String {
        let (line, col) = self.line_col(span.start);
        format!("{}:{line}:{col}", self.name)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub span: Span,
    pub help: Option<String>,
    /// The file `span` points into. The compiler sets it on every
    /// diagnostic it returns.
    pub file: Option<Arc<SourceFile>>,
}

impl Diagnostic {
    pub fn error(span: impl Into<Span>, message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            span: span.into(),
            help: None,
            file: None,
        }
    }

    /// Places this diagnostic in `file`, unless it is placed already.
    pub fn in_file(mut self, file: &Arc<SourceFile>) -> Self {
        if self.file.is_none() {
            self.file = Some(file.clone());
        }
        self
    }

    /// `file:line:col` of the start of the span, when the file is known.
    pub fn location(&self) -> Option<String> {
        self.file.as_ref().map(|file| file.location(self.span))
    }

    /// A construct of LANGUAGE.md that this compiler does not implement yet.
    pub fn unsupported(span: impl Into<Span>, what: &str) -> Self {
        Diagnostic::error(span, format!("{what} is not supported yet"))
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Renders this diagnostic with the line of its file it points at.
    pub fn render(&self) -> Rendered<'_> {
        Rendered { diagnostic: self }
    }
}

pub struct Rendered<'a> {
    diagnostic: &'a Diagnostic,
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let diagnostic = self.diagnostic;
        let Some(file) = &diagnostic.file else {
            write!(f, "error: {}", diagnostic.message)?;
            if let Some(help) = &diagnostic.help {
                write!(f, "\n = help: {help}")?;
            }
            return Ok(());
        };
        let (line, col) = file.line_col(diagnostic.span.start);
        writeln!(f, "error: {}", diagnostic.message)?;
        let gutter = line.to_string().len();
        writeln!(f, "{:gutter$}--> {}:{line}:{col}", "", file.name)?;
        let source_line = file.text.lines().nth(line - 1).unwrap_or("");
        // Underline to the end of the span, or of the line if it spans several.
        let (end_line, end_col) = file.line_col(diagnostic.span.end);
        let line_chars = source_line.chars().count();
        let width = if end_line == line && end_col > col {
            end_col - col
        } else if end_line > line {
            line_chars.saturating_sub(col - 1).max(1)
        } else {
            1
        };
        writeln!(f, "{:gutter$} |", "")?;
        writeln!(f, "{line} | {}", source_line.replace('\t', " "))?;
        write!(
            f,
            "{:gutter$} | {}{}",
            "",
            " ".repeat(col - 1),
            "^".repeat(width)
        )?;
        if let Some(help) = &diagnostic.help {
            write!(f, "\n{:gutter$} = help: {help}", "")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> Arc<SourceFile> {
        Arc::new(SourceFile {
            name: "scripts/main.bs".into(),
            text: text.into(),
        })
    }

    #[test]
    fn renders_location_line_and_caret() {
        let src = file("let a = 1\nlet b: string = a\n");
        let start = src.text.find("string").unwrap() as u32;
        let d = Diagnostic::error(Span::new(start, start + 6), "bad type").in_file(&src);
        let text = d.render().to_string();
        assert_eq!(
            text,
            "error: bad type\n --> scripts/main.bs:2:8\n  |\n2 | let b: string = a\n  |        ^^^^^^"
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let src = file("print(\"é\"); x");
        let offset = src.text.find('x').unwrap() as u32;
        assert_eq!(src.line_col(offset), (1, 13));
    }

    #[test]
    fn help_is_shown_below_the_caret() {
        let src = file("switch (x) {}");
        let d = Diagnostic::unsupported(Span::new(0, 6), "`switch`")
            .with_help("use if/else")
            .in_file(&src);
        let text = d.render().to_string();
        assert!(text.starts_with("error: `switch` is not supported yet\n"));
        assert!(text.ends_with("  | ^^^^^^\n  = help: use if/else"));
    }

    #[test]
    fn a_diagnostic_names_its_own_file() {
        let other = Arc::new(SourceFile {
            name: "scripts/util.bs".into(),
            text: "let a = 1\nlet b = a +\n".into(),
        });
        let d = Diagnostic::error(Span::new(12, 13), "oops").in_file(&other);
        // Placing it again (say, in the main file) keeps its file.
        let d = d.in_file(&file(""));
        assert_eq!(d.location().as_deref(), Some("scripts/util.bs:2:3"));
        assert!(d.render().to_string().contains("--> scripts/util.bs:2:3"));
        let nowhere = Diagnostic::error(Span::default(), "lost");
        assert_eq!(nowhere.render().to_string(), "error: lost");
    }
}
