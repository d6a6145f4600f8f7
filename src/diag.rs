//! Diagnostics for lab files and role metadata: a headline, a location
//! (`file:line:column`), the offending source line with a caret under the value,
//! what was expected, and an optional hint. Modelled on compiler output so that
//! editors and humans can both jump to the spot.

use std::fmt;
use std::path::{Path, PathBuf};

/// Byte range in a source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash, serde::Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
}

impl From<toml_span::Span> for Span {
    fn from(s: toml_span::Span) -> Self {
        Span {
            start: s.start,
            end: s.end,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in a source file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Dotted key path of the offending value, e.g. `node[2].ip`.
    pub key: String,
    pub message: String,
    /// What was expected, printed under the caret.
    pub expected: Option<String>,
    pub hint: Option<String>,
    pub span: Option<Span>,
    /// 1-based line and column, filled in by [`SourceFile::locate`].
    pub line: usize,
    pub column: usize,
    pub file: PathBuf,
}

impl Diagnostic {
    pub fn error(key: impl Into<String>, span: Option<Span>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            key: key.into(),
            message: message.into(),
            expected: None,
            hint: None,
            span,
            line: 0,
            column: 0,
            file: PathBuf::new(),
        }
    }

    pub fn warning(key: impl Into<String>, span: Option<Span>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(key, span, message)
        }
    }

    pub fn expected(mut self, e: impl Into<String>) -> Self {
        self.expected = Some(e.into());
        self
    }

    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A source text with its path, used to turn spans into line and column numbers
/// and to show the offending line.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    pub fn new(path: impl AsRef<Path>, text: impl Into<String>) -> Self {
        SourceFile {
            path: path.as_ref().to_path_buf(),
            text: text.into(),
        }
    }

    /// 1-based (line, column) of a byte offset; columns count characters.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    /// Fill in file, line and column of a diagnostic.
    pub fn locate(&self, mut d: Diagnostic) -> Diagnostic {
        d.file = self.path.clone();
        // Syntax errors (empty key) keep the parser's exact position.
        if !d.key.is_empty() {
            d.span = d.span.map(|s| self.widen_quoted(s));
        }
        let (line, column) = match d.span {
            Some(s) => self.line_col(s.start),
            None => (1, 1),
        };
        d.line = line;
        d.column = column;
        d
    }

    /// `toml_span` gives string values and quoted keys the span of their
    /// contents, without the quotes; widen such a span to the quotes so that the
    /// column and the caret point at the value as written (`"../x"`, not `../x`).
    fn widen_quoted(&self, s: Span) -> Span {
        let t = &self.text;
        if s.start == 0
            || s.start > s.end
            || s.end > t.len()
            || !t.is_char_boundary(s.start)
            || !t.is_char_boundary(s.end)
        {
            return s;
        }
        let (before, after) = (&t[..s.start], &t[s.end..]);
        for delim in ["\"\"\"", "'''"] {
            for open_nl in ["\r\n", "\n", ""] {
                if before.ends_with(&format!("{delim}{open_nl}")) && after.starts_with(delim) {
                    return Span::new(s.start - delim.len() - open_nl.len(), s.end + delim.len());
                }
            }
        }
        for q in ['"', '\''] {
            if before.ends_with(q) && after.starts_with(q) {
                return Span::new(s.start - 1, s.end + 1);
            }
        }
        s
    }

    /// The text of a 1-based line, without its newline.
    pub fn line_text(&self, line: usize) -> &str {
        self.text.lines().nth(line.saturating_sub(1)).unwrap_or("")
    }

    /// Render a located diagnostic with the source line and a caret.
    pub fn render(&self, d: &Diagnostic) -> String {
        let mut out = String::new();
        let head = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if d.key.is_empty() {
            out.push_str(&format!("{head}: {}\n", d.message));
        } else {
            out.push_str(&format!("{head}: {}: {}\n", d.key, d.message));
        }
        let gutter = d.line.to_string().len();
        let pad = " ".repeat(gutter);
        out.push_str(&format!(
            "{pad}--> {}:{}:{}\n",
            d.file.display(),
            d.line,
            d.column
        ));
        if let Some(span) = d.span {
            let text = self.line_text(d.line);
            out.push_str(&format!("{pad} |\n"));
            out.push_str(&format!("{} | {}\n", d.line, text));
            let width = {
                let start = floor_char_boundary(&self.text, span.start.min(self.text.len()));
                let end = floor_char_boundary(&self.text, span.end.min(self.text.len()));
                let seg = &self.text[start..end.max(start)];
                let first_line = seg.split('\n').next().unwrap_or("");
                first_line.chars().count().max(1)
            };
            let caret = format!("{}{}", " ".repeat(d.column - 1), "^".repeat(width));
            match &d.expected {
                Some(e) => out.push_str(&format!("{pad} | {caret} expected {e}\n")),
                None => out.push_str(&format!("{pad} | {caret}\n")),
            }
        } else if let Some(e) = &d.expected {
            out.push_str(&format!("{pad} = expected {e}\n"));
        }
        if let Some(h) = &d.hint {
            out.push_str(&format!("{pad} = hint: {h}\n"));
        }
        out
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for Diagnostic {
    /// One-line form: `file:line:col: error: key: message (expected ...)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {sev}: ",
            self.file.display(),
            self.line,
            self.column
        )?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        write!(f, "{}", self.message)?;
        if let Some(e) = &self.expected {
            write!(f, " (expected {e})")?;
        }
        Ok(())
    }
}
