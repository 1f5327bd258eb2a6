//! One module per command: wiring settings, loading, planning, rendering and
//! writing together. The logic they call lives in the other modules.

pub mod apply;
pub mod export;
pub mod pipeline;
pub mod plan;
pub mod validate;

use std::io::Write;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::exit::Exit;

/// Run the parsed command line.
pub fn dispatch(cli: Cli) -> Result<Exit> {
    match cli.command {
        Command::Validate(args) => validate::run(&cli.global, &args),
        Command::Plan(args) => plan::run(&cli.global, &args),
        Command::Export(args) => export::run(&cli.global, &args),
        Command::Apply(args) => apply::run(&cli.global, &args),
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

/// File problems on stderr, one per line, compiler style (and as workflow
/// annotations inside GitHub Actions, like `validate`).
pub(crate) fn print_diagnostics(diags: &[crate::diag::Diagnostic]) {
    let mut err = std::io::stderr().lock();
    let _ = crate::diag::render_text(diags, &mut err);
    if crate::ci::in_github_actions() {
        let _ = crate::diag::render_github(diags, &mut std::io::stdout().lock());
    }
}
