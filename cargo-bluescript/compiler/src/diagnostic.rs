//! Compiler diagnostics: every rejection of user input becomes one of these,
//! rendered as rustc renders its own (by annotate-snippets, the renderer
//! rustc uses): `error: message`, `--> file:line:col` on the next line, the
//! source lines with a caret under the offending code and, under other code
//! the mistake involves, labelled secondary marks. A diagnostic carries the
//! file it points into, since a program may span several script files.

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
        let offset = end_of_text(&self.text, offset as usize);
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }

    /// The lines and columns a span covers.
    pub fn line_range(&self, span: Span) -> LineRange<'_> {
        LineRange {
            file: &self.name,
            start: self.line_col(span.start),
            end: self.line_col(span.end.max(span.start)),
        }
    }

    /// `file:line:col` of a span's start, as run-time errors report it.
    pub fn location(&self, span: Span) -> String {
        let (line, col) = self.line_col(span.start);
        format!("{}:{line}:{col}", self.name)
    }
}

/// A span as people read it: one-based lines and columns (in characters),
/// the end just past the last character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineRange<'f> {
    pub file: &'f str,
    pub start: (usize, usize),
    pub end: (usize, usize),
}

/// `offset`, inside `text`; the end of a text that ends its last line is
/// the end of that line (as rustc shows "found `EOF`").
fn end_of_text(text: &str, offset: usize) -> usize {
    if offset >= text.len() && text.ends_with('\n') {
        return text.len() - 1;
    }
    offset.min(text.len())
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// What a diagnostic reports, for front ends that act on it: a shell reads
/// one more line after an `Incomplete` input, an editor may show
/// `Unsupported` code differently. The names of `code` are stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The text does not parse.
    Syntax,
    /// The text parses up to its end, which comes too early (an unclosed
    /// block, a missing operand): more text may complete it.
    Incomplete,
    /// A construct of LANGUAGE.md that this compiler does not implement yet.
    Unsupported,
    /// An import that names no file, module or export, or a cycle.
    Import,
    /// A rule of the language broken: types, names, declarations.
    Semantic,
}

impl Kind {
    /// A stable name: `syntax`, `incomplete`, `unsupported`, `import`,
    /// `semantic`.
    pub fn code(self) -> &'static str {
        match self {
            Kind::Syntax => "syntax",
            Kind::Incomplete => "incomplete",
            Kind::Unsupported => "unsupported",
            Kind::Import => "import",
            Kind::Semantic => "semantic",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub kind: Kind,
    pub message: String,
    pub span: Span,
    /// Text under the caret of `span`, if any.
    pub label: Option<String>,
    /// Other code of the same file the mistake involves ("first declared
    /// here"), each with its text.
    pub labels: Vec<(Span, String)>,
    pub help: Option<String>,
    /// The file `span` points into. The compiler sets it on every
    /// diagnostic it returns.
    pub file: Option<Arc<SourceFile>>,
}

impl Diagnostic {
    pub fn error(span: impl Into<Span>, message: impl Into<String>) -> Self {
        Diagnostic {
            kind: Kind::Semantic,
            message: one_line(message.into()),
            span: span.into(),
            label: None,
            labels: Vec::new(),
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
        Diagnostic::error(span, format!("{what} is not supported yet")).with_kind(Kind::Unsupported)
    }

    pub fn with_kind(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Marks other code of the same file that the mistake involves.
    pub fn with_label(mut self, span: impl Into<Span>, text: impl Into<String>) -> Self {
        self.labels.push((span.into(), text.into()));
        self
    }

    /// Renders this diagnostic without colour, with the lines of its file
    /// it points at.
    pub fn render(&self) -> Rendered<'_> {
        self.render_in(false)
    }

    /// Renders this diagnostic, in colour if `color`.
    pub fn render_in(&self, color: bool) -> Rendered<'_> {
        Rendered {
            diagnostic: self,
            color,
        }
    }
}

/// A message is one line, right above its location: code quoted in it
/// that spans lines is joined by single spaces.
fn one_line(message: String) -> String {
    if !message.contains('\n') {
        return message;
    }
    message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

pub struct Rendered<'a> {
    diagnostic: &'a Diagnostic,
    color: bool,
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
        let diagnostic = self.diagnostic;
        let title = Level::ERROR.primary_title(&diagnostic.message);
        let mut group = match &diagnostic.file {
            None => Group::with_title(title),
            Some(file) => {
                let range = |span: Span| byte_range(&file.text, span);
                let mut primary = AnnotationKind::Primary.span(range(diagnostic.span));
                if let Some(label) = &diagnostic.label {
                    primary = primary.label(label.as_str());
                }
                let snippet = Snippet::source(file.text.as_str())
                    .path(file.name.as_str())
                    .annotation(primary)
                    .annotations(diagnostic.labels.iter().map(|(span, text)| {
                        AnnotationKind::Context
                            .span(range(*span))
                            .label(text.as_str())
                    }));
                title.element(snippet)
            }
        };
        if let Some(help) = &diagnostic.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        let renderer = if self.color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        f.write_str(&renderer.render(&[group]))
    }
}

/// A span as a byte range of `text`: inside it, on character boundaries.
fn byte_range(text: &str, span: Span) -> std::ops::Range<usize> {
    let start = floor_char_boundary(text, end_of_text(text, span.start as usize));
    let end = floor_char_boundary(text, end_of_text(text, span.end as usize).max(start));
    start..end
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
        assert!(
            text.ends_with("  | ^^^^^^\n  |\n  = help: use if/else"),
            "{text}"
        );
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

    #[test]
    fn secondary_labels_mark_other_code() {
        let src = file("let a = 1\nlet b = 2\nlet a = 3\n");
        let d = Diagnostic::error(Span::new(24, 25), "`a` is declared twice")
            .with_label(Span::new(4, 5), "first declared here")
            .in_file(&src);
        assert_eq!(
            d.render().to_string(),
            "error: `a` is declared twice\n --> scripts/main.bs:3:5\n  |\n\
             1 | let a = 1\n  |     - first declared here\n\
             2 | let b = 2\n\
             3 | let a = 3\n  |     ^"
        );
    }

    #[test]
    fn colour_only_when_asked() {
        let src = file("let a = 1\n");
        let d = Diagnostic::error(Span::new(4, 5), "oops").in_file(&src);
        assert!(!d.render().to_string().contains('\x1b'));
        assert!(d.render_in(true).to_string().contains("\x1b["));
    }

    #[test]
    fn odd_spans_render_inside_the_file() {
        let src = file("let s = \"é\"\n\tx = 1");
        let cases = [
            (Span::new(9, 10), "1:10"), // inside `é`: its start
            (Span::new(0, 0), "1:1"),
            (Span::new(100, 200), "2:7"), // past the end: at the end
            (Span::new(13, 13), "2:1"),
            (Span::new(14, 15), "2:2"),
        ];
        for (span, at) in cases {
            let d = Diagnostic::error(span, "here").in_file(&src);
            // The renderer and run-time errors agree on where code is.
            assert_eq!(d.location(), Some(format!("scripts/main.bs:{at}")));
            let text = d.render().to_string();
            assert!(
                text.starts_with(&format!("error: here\n --> scripts/main.bs:{at}\n")),
                "{span:?}: {text}"
            );
        }
    }

    #[test]
    fn the_end_of_a_file_is_the_end_of_its_last_line() {
        // As rustc places "found `EOF`": the renderer and `location` agree.
        let src = file("let a = [1\n");
        let end = src.text.len() as u32;
        let d = Diagnostic::error(Span::new(end, end), "unclosed").in_file(&src);
        assert_eq!(d.location().as_deref(), Some("scripts/main.bs:1:11"));
        assert!(d
            .render()
            .to_string()
            .starts_with("error: unclosed\n --> scripts/main.bs:1:11\n"));
    }

    #[test]
    fn a_message_quoting_several_lines_stays_on_one() {
        let src = file("setTimeout(tick, 10)\n  .log('x')\n");
        let d = Diagnostic::error(
            Span::new(0, 26),
            "calling `setTimeout(tick, 10)\n  .log` is not supported yet",
        )
        .in_file(&src);
        assert_eq!(
            d.message,
            "calling `setTimeout(tick, 10) .log` is not supported yet"
        );
        assert!(d.render().to_string().starts_with(
            "error: calling `setTimeout(tick, 10) .log` is not supported yet\n --> scripts/main.bs:1:1\n"
        ));
    }
}
