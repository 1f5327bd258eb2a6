//! Diagnostics about a desired-state file: where (file, card, line) and what.
//!
//! Rendering them as text, JSON or GitHub workflow commands lives here too,
//! apart from the validation that produces them.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// One problem found in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// The card: its phone number as written, or `card #N` (1-based position).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    /// 1-based line, when the parser knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column, when the parser knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    pub message: String,
    /// A proposed fix ("did you mean ...").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A problem with the file as a whole (unreadable, not a mapping, ...).
    pub fn file_error(path: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: path.to_path_buf(),
            card: None,
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }
}
