//! The desired-state file: loading (with line numbers and resource caps),
//! validation into [`DesiredState`], and its JSON Schema.
//!
//! Nothing here touches the network or the account.

pub mod load;
pub mod phone;
pub mod schema;
pub mod validate;

use std::path::{Path, PathBuf};

pub use phone::{PhoneError, PhoneNumber};

use crate::diag::Diagnostic;

/// One card of the file after `defaults` were merged into it.
///
/// A field that is `None` is not managed: the tool never changes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredCard {
    pub phone_number: PhoneNumber,
    pub first_name: String,
    pub last_name: Option<String>,
    pub image_url: Option<String>,
    /// 1-based line of the card's mapping in the file, when known.
    pub line: Option<usize>,
}

/// The whole file, cards in file order (numbers are unique).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredState {
    pub path: PathBuf,
    pub cards: Vec<DesiredCard>,
}

/// What the file rules depend on outside the file itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Accept `http://` image URLs on loopback hosts: only while the API URL is
    /// itself loopback (local testing against a fake).
    pub allow_loopback_http_images: bool,
}

/// Read, parse and validate a desired-state file. Every problem is reported,
/// not only the first.
pub fn load_file(path: &Path, opts: LoadOptions) -> Result<DesiredState, Vec<Diagnostic>> {
    use std::io::Read;
    let cannot_read = |e: std::io::Error| {
        vec![Diagnostic::file_error(
            path,
            format!("cannot read {}: {e}", path.display()),
        )]
    };
    // Read at most one byte past the cap, so that a huge file costs no memory;
    // `load::parse` then refuses it by size.
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(load::MAX_INPUT_BYTES as u64 + 1)
                .read_to_string(&mut text)
        })
        .map_err(cannot_read)?;
    load_str(path, &text, opts)
}

/// Parse and validate file contents; `path` is only used in messages.
pub fn load_str(
    path: &Path,
    text: &str,
    opts: LoadOptions,
) -> Result<DesiredState, Vec<Diagnostic>> {
    let doc = load::parse(path, text)?;
    validate::validate(path, &doc, opts)
}
