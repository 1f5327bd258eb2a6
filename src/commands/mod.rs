//! One module per command: wiring settings, loading, planning, rendering and
//! writing together. The logic they call lives in the other modules.

pub mod validate;

use std::io::Write;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::exit::Exit;

/// Run the parsed command line.
pub fn dispatch(cli: Cli) -> Result<Exit> {
    match cli.command {
        Command::Validate(args) => validate::run(&cli.global, &args),
        Command::Plan(_) | Command::Apply(_) | Command::Export(_) => {
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
