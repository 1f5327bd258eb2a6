//! `linq-cards validate [FILE]`: check a desired-state file offline (no token,
//! no network) and report every problem as text, JSON or GitHub annotations.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use crate::cli::{GlobalArgs, ValidateArgs, ValidateFormat};
use crate::config::{self, LoadOptions};
use crate::diag::{self, Diagnostic};
use crate::exit::Exit;

/// The `--format json` document. Only this output is a stable interface.
#[derive(Debug, Serialize)]
pub struct ValidateReport<'a> {
    pub format_version: u32,
    pub file: &'a std::path::Path,
    pub valid: bool,
    /// Number of cards, when the file is valid.
    pub cards: Option<usize>,
    pub diagnostics: &'a [Diagnostic],
}

pub fn run(global: &GlobalArgs, args: &ValidateArgs) -> Result<Exit> {
    // Only the loopback question is asked of the API URL: nothing is contacted.
    let api_url = crate::settings::resolve_api_url(global.api_url.as_deref())?;
    let opts = LoadOptions {
        allow_loopback_http_images: api_url.is_loopback(),
    };
    tracing::debug!(file = %args.file.display(), ?opts, "validating");
    let result = config::load_file(&args.file, opts);
    let (cards, diags) = match &result {
        Ok(state) => (Some(state.cards.len()), &[][..]),
        Err(diags) => (None, diags.as_slice()),
    };
    let in_actions = crate::ci::in_github_actions();
    let stdout = &mut std::io::stdout().lock();
    let stderr = &mut std::io::stderr().lock();
    match args.format {
        ValidateFormat::Text => match cards {
            Some(n) => writeln!(
                stdout,
                "{}: valid ({n} card{})",
                args.file.display(),
                if n == 1 { "" } else { "s" }
            )?,
            None => {
                diag::render_text(diags, stderr)?;
                writeln!(
                    stderr,
                    "error: {} is invalid: {} problem{}",
                    args.file.display(),
                    diags.len(),
                    if diags.len() == 1 { "" } else { "s" }
                )?;
            }
        },
        ValidateFormat::Json => {
            let report = ValidateReport {
                format_version: 1,
                file: &args.file,
                valid: cards.is_some(),
                cards,
                diagnostics: diags,
            };
            serde_json::to_writer_pretty(&mut *stdout, &report)?;
            writeln!(stdout)?;
        }
        ValidateFormat::Github => diag::render_github(diags, stdout)?,
    }
    // Inside GitHub Actions the problems become annotations whatever the format.
    // GitHub documents workflow commands on stdout, so text output puts them
    // there; JSON keeps stdout parseable and puts them on stderr, which the
    // runner also scans for commands (actions/runner ScriptHandler.cs attaches
    // its command parser to both streams).
    if in_actions {
        match args.format {
            ValidateFormat::Text => diag::render_github(diags, stdout)?,
            ValidateFormat::Json => diag::render_github(diags, stderr)?,
            ValidateFormat::Github => {}
        }
    }
    Ok(if cards.is_some() {
        Exit::Success
    } else {
        Exit::Error
    })
}
