//! linq-cards keeps the iMessage contact cards of a Linq account equal to a YAML
//! file in git. This crate is the program; `main.rs` only calls [`main`].

pub mod api;
pub mod apply;
pub mod ci;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diag;
pub mod exit;
pub mod export;
pub mod image;
pub mod live;
pub mod logging;
pub mod plan;
pub mod render;
pub mod settings;

use std::io::IsTerminal;

use clap::Parser;

use crate::cli::{Cli, ColorChoice};
use crate::exit::Exit;

/// Whether stderr/stdout output may use colour: `--color`, then `NO_COLOR`,
/// then whether the stream is a terminal.
pub fn use_color(choice: ColorChoice, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// Parse the command line, run it, and return the exit status.
///
/// Usage errors exit 1, never clap's 2, so that `plan --detailed-exitcode`
/// cannot read them as "changes"; `--help` and `--version` exit 0.
pub fn main() -> Exit {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Error
            } else {
                Exit::Success
            };
        }
    };
    logging::init(
        &cli.global,
        use_color(cli.global.color, std::io::stderr().is_terminal()),
    );
    match commands::dispatch(cli) {
        Ok(exit) => exit,
        Err(e) => {
            // A closed stdout (`linq-cards plan | head`) is not an error worth a message.
            if is_broken_pipe(&e) {
                return Exit::Success;
            }
            eprintln!("error: {e:#}");
            Exit::Error
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
