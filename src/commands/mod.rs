//! One module per command: wiring settings, loading, planning, rendering and
//! writing together. The logic they call lives in the other modules.

pub mod export;
pub mod plan;

use std::io::Write;

use anyhow::Result;

use crate::api::Client;
use crate::cli::{Cli, Command, GlobalArgs};
use crate::diag::Diagnostic;
use crate::exit::Exit;
use crate::image::ImageVerdicts;
use crate::plan::ImageWork;
use crate::settings::ApiUrl;

/// Run the parsed command line.
pub fn dispatch(cli: Cli) -> Result<Exit> {
    match cli.command {
        Command::Plan(args) => plan::run(&cli.global, &args),
        Command::Export(args) => export::run(&cli.global, &args),
        Command::Validate(_) | Command::Apply(_) => {
            anyhow::bail!("not implemented yet")
        }
        Command::Schema => {
            let mut out = std::io::stdout().lock();
            out.write_all(crate::config::schema::schema_json().as_bytes())?;
            Ok(Exit::Success)
        }
        Command::Completions(args) => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(args.shell, &mut cmd, "linq-cards", &mut std::io::stdout());
            Ok(Exit::Success)
        }
    }
}

/// A runtime for the commands that talk to the network; one thread is plenty
/// for a handful of concurrent requests.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// The API client for the account, with the token from the environment or the
/// profile.
///
/// MERGE SEAM (plan issue -> API issue): `settings::resolve_token` and
/// `Client::new` arrive with the API issue; this is the one place that calls
/// them.
pub(crate) fn connect(_global: &GlobalArgs, _api_url: &ApiUrl) -> Result<Client> {
    anyhow::bail!("the API client is not available in this build yet")
}

/// Verdicts for the pairs and sources the planner asked about.
///
/// MERGE SEAM (plan issue -> images issue): `image::ImageChecker` arrives
/// with the images issue and replaces the body. Until then nothing is
/// fetched and every pair whose URLs differ is unverifiable.
pub(crate) async fn check_images(
    work: &ImageWork,
    _api_url: &ApiUrl,
    _no_cache: bool,
) -> ImageVerdicts {
    crate::plan::unverified(work, "image comparison is not available in this build")
}

/// File problems on stderr, one per line: `file:line: card: message (hint)`.
pub(crate) fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        let mut s = d.file.display().to_string();
        if let Some(line) = d.line {
            s.push_str(&format!(":{line}"));
            if let Some(col) = d.column {
                s.push_str(&format!(":{col}"));
            }
        }
        s.push_str(": ");
        if let Some(card) = &d.card {
            s.push_str(&format!("{card}: "));
        }
        s.push_str(&d.message);
        if let Some(hint) = &d.hint {
            s.push_str(&format!(" ({hint})"));
        }
        eprintln!("error: {s}");
    }
}
