//! Diagnostics about a desired-state file: where (file, card, line) and what.
//!
//! Rendering them as text, JSON or GitHub workflow commands lives here too,
//! apart from the validation that produces them.

use std::io::{self, Write};
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

impl Diagnostic {
    /// `file:line:col`, as far as it is known.
    pub fn location(&self) -> String {
        let mut s = self.file.display().to_string();
        if let Some(line) = self.line {
            s.push_str(&format!(":{line}"));
            if let Some(col) = self.column {
                s.push_str(&format!(":{col}"));
            }
        }
        s
    }

    /// The card and message with the hint: everything but the location.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(card) = &self.card {
            // `card` holds a number or already reads `card #N`.
            if !card.starts_with("card ") {
                s.push_str("card ");
            }
            s.push_str(card);
            s.push_str(": ");
        }
        s.push_str(&self.message);
        if let Some(hint) = &self.hint {
            s.push_str(&format!(" ({hint})"));
        }
        s
    }
}

impl std::fmt::Display for Diagnostic {
    /// `cards.yaml:12:5: card +12223334444: unknown key "frist_name" (did you mean "first_name"?)`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location(), self.describe())
    }
}

/// One line per diagnostic, compiler style.
pub fn render_text(diags: &[Diagnostic], out: &mut impl Write) -> io::Result<()> {
    for d in diags {
        writeln!(out, "{d}")?;
    }
    Ok(())
}

/// GitHub Actions workflow commands: `::error file=F,line=L::message`, which the
/// runner turns into annotations on the pull request's diff.
pub fn render_github(diags: &[Diagnostic], out: &mut impl Write) -> io::Result<()> {
    for d in diags {
        let mut props = format!("file={}", escape_property(&d.file.display().to_string()));
        if let Some(line) = d.line {
            props.push_str(&format!(",line={line}"));
        }
        writeln!(out, "::error {props}::{}", escape_data(&d.describe()))?;
    }
    Ok(())
}

/// Workflow-command message escaping (the runner decodes these).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Property values also escape the separators `:` and `,`.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(card: Option<&str>, line: Option<usize>, hint: Option<&str>) -> Diagnostic {
        Diagnostic {
            file: PathBuf::from("cards.yaml"),
            card: card.map(str::to_string),
            line,
            column: line.map(|_| 5),
            message: "unknown key \"frist_name\"".to_string(),
            hint: hint.map(str::to_string),
        }
    }

    #[test]
    fn text_lines() {
        let diags = [
            diag(
                Some("+12223334444"),
                Some(12),
                Some("did you mean \"first_name\"?"),
            ),
            diag(Some("card #3"), None, None),
        ];
        let mut out = Vec::new();
        render_text(&diags, &mut out).expect("in memory");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "cards.yaml:12:5: card +12223334444: unknown key \"frist_name\" (did you mean \"first_name\"?)\n\
             cards.yaml: card #3: unknown key \"frist_name\"\n"
        );
    }

    #[test]
    fn github_commands_escape() {
        let mut d = diag(None, Some(3), None);
        d.file = PathBuf::from("dir,x/a:b.yaml");
        d.message = "100% bad\nsecond line".to_string();
        let mut out = Vec::new();
        render_github(&[d, diag(None, None, None)], &mut out).expect("in memory");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "::error file=dir%2Cx/a%3Ab.yaml,line=3::100%25 bad%0Asecond line\n\
             ::error file=cards.yaml::unknown key \"frist_name\"\n"
        );
    }
}
