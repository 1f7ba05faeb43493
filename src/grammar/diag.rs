//! Located diagnostics: every line a grammar cannot account for ends up here
//! with its line, column, the offending text and what was expected.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A token was kept but not understood; the record is still usable.
    Warning,
    /// A line could not be parsed; its content is lost to the model.
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// 1-based physical line in the file.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    pub severity: Severity,
    pub message: String,
    /// The offending text (a token, or the rest of the line).
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{}:{}: {sev}: {}", self.line, self.column, self.message)?;
        if let Some(e) = &self.expected {
            write!(f, " (expected {e})")?;
        }
        if !self.text.is_empty() {
            write!(f, ": `{}`", self.text)?;
        }
        Ok(())
    }
}

/// Collects diagnostics for one file, turning byte positions into columns.
#[derive(Debug, Default)]
pub struct Sink {
    pub diagnostics: Vec<Diagnostic>,
}

impl Sink {
    /// `at` must be a subslice of `line.phys`.
    pub fn push(
        &mut self,
        line: &crate::grammar::lines::Line<'_>,
        at: &str,
        severity: Severity,
        message: impl Into<String>,
        expected: Option<&str>,
    ) {
        let column = line.column_of(at);
        let text: String = at.trim_end().chars().take(120).collect();
        self.diagnostics.push(Diagnostic {
            line: line.no,
            column,
            severity,
            message: message.into(),
            text,
            expected: expected.map(str::to_string),
        });
    }

    pub fn unknown_token(&mut self, line: &crate::grammar::lines::Line<'_>, tok: &str, what: &str) {
        self.push(
            line,
            tok,
            Severity::Warning,
            format!("unknown token in {what} kept as-is"),
            None,
        );
    }
}
