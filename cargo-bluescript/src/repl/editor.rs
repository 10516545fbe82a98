//! The shell's line editor on a terminal (rustyline): history kept in the
//! project's state directory, more lines while the input is incomplete (an
//! open bracket or block), completion of the names the shell knows, and a
//! printer for the program's output that arrives while a person types.

use super::Input;
use anyhow::{Context as _, Result};
use bluescript_compiler::environment::needs_more_input;
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Config, Context, Editor, ExternalPrinter, Helper};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PROMPT: &str = "bs> ";

/// The editor's printer, which prints above the prompt, and whether the
/// prompt is shown: then the terminal's last line is the editor's, and
/// whatever else is printed (the program's output, `watch`'s status lines)
/// must go through it.
static ABOVE_PROMPT: Mutex<Option<Box<dyn ExternalPrinter + Send>>> = Mutex::new(None);
static PROMPT_SHOWN: AtomicBool = AtomicBool::new(false);

/// Prints `text` (whole lines, without the last newline) above the prompt;
/// gives it back when no prompt is shown, for the caller to print.
pub(crate) fn print_above_prompt(text: String) -> Result<(), String> {
    if !PROMPT_SHOWN.load(Ordering::SeqCst) {
        return Err(text);
    }
    match ABOVE_PROMPT.lock().expect("never poisoned").as_mut() {
        Some(printer) => printer.print(text).map_err(|_| String::new()),
        None => Err(text),
    }
}

/// Whether the editor shows its prompt (from when the next input is asked
/// for until one was read).
pub(super) fn set_prompt_shown(shown: bool) {
    PROMPT_SHOWN.store(shown, Ordering::SeqCst);
}

/// Words a script starts statements and expressions with.
const KEYWORDS: &[&str] = &[
    "let",
    "const",
    "function",
    "class",
    "enum",
    "return",
    "if",
    "else",
    "while",
    "for",
    "break",
    "continue",
    "true",
    "false",
    "null",
    "undefined",
    "new",
    "console",
    "Math",
    "setInterval",
    "setTimeout",
    "clearInterval",
    "clearTimeout",
    "print",
];

struct ShellHelper {
    names: Arc<Mutex<Vec<String>>>,
    /// The session's thread, which knows the members of a value.
    inputs: Sender<Input>,
}

/// How long completion waits for the session to name a value's members
/// (it may be busy with the device).
const MEMBERS_TIMEOUT: Duration = Duration::from_millis(500);

impl ShellHelper {
    /// The members of the value of the expression that ends where `dot`
    /// is: a chain of names and member accesses (`point.next.`).
    fn members(&self, line: &str, dot: usize) -> Vec<String> {
        let start = line[..dot]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$' || c == '.'))
            .map_or(0, |i| i + 1);
        let expression = &line[start..dot];
        if expression.is_empty() {
            return Vec::new();
        }
        let (reply, answer) = mpsc::channel();
        if self
            .inputs
            .send(Input::Members(expression.to_string(), reply))
            .is_err()
        {
            return Vec::new();
        }
        answer.recv_timeout(MEMBERS_TIMEOUT).unwrap_or_default()
    }
}

impl Completer for ShellHelper {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let start = line[..pos]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .map_or(0, |i| i + 1);
        let word = &line[start..pos];
        let mut candidates: Vec<String> = if line[..start].ends_with('.') {
            self.members(line, start - 1)
                .into_iter()
                .filter(|name| name.starts_with(word))
                .collect()
        } else if word.is_empty() {
            return Ok((pos, Vec::new()));
        } else {
            let names = self.names.lock().expect("never poisoned");
            names
                .iter()
                .map(String::as_str)
                .chain(KEYWORDS.iter().copied())
                .filter(|name| name.starts_with(word))
                .map(str::to_string)
                .collect()
        };
        candidates.sort();
        candidates.dedup();
        Ok((start, candidates))
    }
}

impl Validator for ShellHelper {
    fn validate(&self, context: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        let input = context.input();
        Ok(
            if !input.trim_start().starts_with('.') && needs_more_input(input) {
                ValidationResult::Incomplete
            } else {
                ValidationResult::Valid(None)
            },
        )
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {}

impl Helper for ShellHelper {}

/// Starts the editor on its own thread: each line (or lines, while
/// incomplete) goes to `inputs`, and the next prompt waits for `next`.
pub(super) fn spawn(
    history: PathBuf,
    names: Arc<Mutex<Vec<String>>>,
    inputs: Sender<Input>,
    next: Receiver<()>,
) -> Result<()> {
    let config = Config::builder().auto_add_history(true).build();
    let mut editor: Editor<ShellHelper, FileHistory> =
        Editor::with_config(config).context("cannot start the line editor")?;
    editor.set_helper(Some(ShellHelper {
        names,
        inputs: inputs.clone(),
    }));
    // No history yet is no error.
    let _ = editor.load_history(&history);
    let printer = editor
        .create_external_printer()
        .context("cannot start the line editor's printer")?;
    *ABOVE_PROMPT.lock().expect("never poisoned") = Some(Box::new(printer));
    set_prompt_shown(true);
    std::thread::spawn(move || loop {
        let input = match editor.readline(PROMPT) {
            Ok(line) => Input::Text(line),
            Err(ReadlineError::Interrupted) => Input::Interrupted,
            Err(_) => Input::End,
        };
        let end = matches!(input, Input::End);
        // A history that cannot be written costs only the history.
        let _ = editor.save_history(&history);
        if inputs.send(input).is_err() || end || next.recv().is_err() {
            return;
        }
    });
    Ok(())
}
