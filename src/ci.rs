//! GitHub Actions integration: knowing that we run inside Actions, and
//! appending Markdown to the job summary (`$GITHUB_STEP_SUMMARY`).
//!
//! The job summary is a convenience next to output that was already printed,
//! so nothing here may fail a command: [`append_step_summary`] only warns.
//! Annotations (workflow commands) are rendered by `diag`, not here.

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// GitHub refuses a step's summary larger than 1 MiB (and then shows none of
/// it), so an append is cut to fit under this.
pub const STEP_SUMMARY_LIMIT: u64 = 1024 * 1024;

/// The note that ends a summary cut to fit [`STEP_SUMMARY_LIMIT`].
const TRUNCATED_NOTE: &str =
    "\n\n> **Truncated**: GitHub limits a job summary to 1 MiB; the full output is in the log.\n";

/// Whether this process runs inside GitHub Actions (`GITHUB_ACTIONS=true`,
/// which the runner sets for every step).
pub fn in_github_actions() -> bool {
    is_true(std::env::var_os("GITHUB_ACTIONS").as_deref())
}

/// The job-summary file to append to: `$GITHUB_STEP_SUMMARY`, only inside
/// Actions and only when set and non-empty.
pub fn step_summary_path() -> Option<PathBuf> {
    summary_path_from(
        std::env::var_os("GITHUB_ACTIONS").as_deref(),
        std::env::var_os("GITHUB_STEP_SUMMARY").as_deref(),
    )
}

/// Append `markdown` to the job summary when running inside GitHub Actions;
/// a no-op elsewhere or when `GITHUB_STEP_SUMMARY` is unset.
///
/// Never fails the caller: a write error is logged as a warning and `Ok` is
/// returned, because the plan or apply result it summarises was already
/// printed. Use [`try_append_step_summary`] to see the error.
pub fn append_step_summary(markdown: &str) -> Result<()> {
    if let Err(e) = try_append_step_summary(markdown) {
        tracing::warn!("could not write the GitHub job summary: {e:#}");
    }
    Ok(())
}

/// Like [`append_step_summary`] but returns the error. `Ok(true)` when
/// something was written, `Ok(false)` when not inside Actions.
pub fn try_append_step_summary(markdown: &str) -> Result<bool> {
    match step_summary_path() {
        Some(path) => {
            append_to_file(&path, markdown)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Append `markdown` to the file at `path`, creating it if needed and never
/// truncating what is there. A blank line separates it from earlier content
/// (so a table above does not swallow a heading), it ends with a newline, and
/// it is cut to keep the file within [`STEP_SUMMARY_LIMIT`].
pub fn append_to_file(path: &Path, markdown: &str) -> Result<()> {
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let existing = file
        .metadata()
        .with_context(|| format!("reading the size of {}", path.display()))?
        .len();
    let chunk = summary_chunk(existing, markdown);
    if chunk.is_empty() {
        return Ok(());
    }
    // One write: steps of a job may append to their own files concurrently,
    // but several linq-cards runs in one step append to the same one.
    file.write_all(chunk.as_bytes())
        .with_context(|| format!("appending to {}", path.display()))?;
    Ok(())
}

fn is_true(value: Option<&OsStr>) -> bool {
    value.is_some_and(|v| v == "true")
}

fn summary_path_from(actions: Option<&OsStr>, summary: Option<&OsStr>) -> Option<PathBuf> {
    if !is_true(actions) {
        return None;
    }
    summary.filter(|s| !s.is_empty()).map(PathBuf::from)
}

/// The bytes to append to a summary file already `existing` bytes long.
fn summary_chunk(existing: u64, markdown: &str) -> String {
    let mut chunk = String::with_capacity(markdown.len() + 2);
    if existing > 0 {
        chunk.push('\n');
    }
    chunk.push_str(markdown);
    if !chunk.ends_with('\n') {
        chunk.push('\n');
    }
    let room = STEP_SUMMARY_LIMIT.saturating_sub(existing);
    if (chunk.len() as u64) <= room {
        return chunk;
    }
    let Some(keep) = room.checked_sub(TRUNCATED_NOTE.len() as u64) else {
        // Not even the note fits: adding anything would make GitHub drop the
        // whole summary, earlier steps' parts included.
        return String::new();
    };
    let mut cut = usize::try_from(keep).unwrap_or(usize::MAX).min(chunk.len());
    while !chunk.is_char_boundary(cut) {
        cut -= 1;
    }
    chunk.truncate(cut);
    chunk.push_str(TRUNCATED_NOTE);
    chunk
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_path_needs_actions_and_a_value() {
        let os = |s: &'static str| Some(OsStr::new(s));
        let cases: &[(Option<&OsStr>, Option<&OsStr>, Option<&str>)] = &[
            (os("true"), os("/tmp/s.md"), Some("/tmp/s.md")),
            (os("true"), None, None),
            (os("true"), os(""), None),
            (None, os("/tmp/s.md"), None),
            (os("false"), os("/tmp/s.md"), None),
            (os("1"), os("/tmp/s.md"), None),
            (os("TRUE"), os("/tmp/s.md"), None),
        ];
        for (actions, summary, want) in cases {
            assert_eq!(
                summary_path_from(*actions, *summary),
                want.map(PathBuf::from),
                "GITHUB_ACTIONS={actions:?} GITHUB_STEP_SUMMARY={summary:?}"
            );
        }
    }

    #[test]
    fn appends_never_truncates_and_separates() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("summary.md");
        std::fs::write(&path, "| a |\n|---|\n| 1 |\n").expect("seed the file");
        append_to_file(&path, "## Plan\n\n2 to create").expect("append");
        append_to_file(&path, "## Apply\n").expect("append again");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read back"),
            "| a |\n|---|\n| 1 |\n\n## Plan\n\n2 to create\n\n## Apply\n"
        );
    }

    #[test]
    fn creates_a_missing_file_without_a_leading_blank_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("new.md");
        append_to_file(&path, "# Plan").expect("append");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "# Plan\n");
    }

    #[test]
    fn an_unwritable_path_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("no-such-dir").join("summary.md");
        let err = append_to_file(&path, "x").expect_err("the directory is missing");
        assert!(format!("{err:#}").contains("no-such-dir"), "{err:#}");
    }

    #[test]
    fn chunk_fits_the_limit() {
        // Fits: unchanged.
        assert_eq!(summary_chunk(0, "abc"), "abc\n");
        // Too big for an empty file: cut, with the note, to exactly the limit or less.
        let big = "é".repeat(STEP_SUMMARY_LIMIT as usize);
        let chunk = summary_chunk(0, &big);
        assert!(chunk.len() as u64 <= STEP_SUMMARY_LIMIT, "{}", chunk.len());
        assert!(chunk.ends_with(TRUNCATED_NOTE));
        assert!(chunk.len() as u64 > STEP_SUMMARY_LIMIT - 100);
        // Room left only for part of it.
        let existing = STEP_SUMMARY_LIMIT - 1000;
        let chunk = summary_chunk(existing, &"x".repeat(5000));
        assert_eq!(existing + chunk.len() as u64, STEP_SUMMARY_LIMIT);
        assert!(chunk.starts_with("\nxxx"));
        // No room even for the note: nothing.
        assert_eq!(summary_chunk(STEP_SUMMARY_LIMIT - 10, "hello world"), "");
        // Exactly full already: nothing, not even a separator.
        assert_eq!(summary_chunk(STEP_SUMMARY_LIMIT, "a"), "");
    }
}
