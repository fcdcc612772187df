//! Located validation messages: `file:line:col: policy/rule: message`.

use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// How bad a diagnostic is: errors make a policy set invalid, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One validation message, located in a policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// `policy` or `policy/rule` (or the storage name); `-` before a name is known.
    pub scope: String,
    pub severity: Severity,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        write!(
            f,
            "{}:{}:{}: {}: {}{}",
            self.file.display(),
            self.line,
            self.column,
            self.scope,
            prefix,
            self.message
        )
    }
}

/// Every diagnostic of a policy set; an error if any of them is an error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", render(.0))]
pub struct Invalid(pub Vec<Diagnostic>);

fn render(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let mut out: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    out.push(format!("{errors} error(s): the policies are invalid"));
    out.join("\n")
}
