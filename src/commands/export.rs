//! `linq-cards export`: the live account as a desired-state file.

use std::io::Write;

use anyhow::{Context, Result};

use crate::cli::{ExportArgs, GlobalArgs};
use crate::exit::Exit;
use crate::live::{LiveError, LiveState};
use crate::{export, settings};

pub fn run(global: &GlobalArgs, args: &ExportArgs) -> Result<Exit> {
    let api_url = settings::resolve_api_url(global.api_url.as_deref())?;
    let client = super::pipeline::connect(global, &api_url)?;
    // Export needs the cards only: one list call.
    let cards = super::runtime()?
        .block_on(client.list_cards())
        .map_err(LiveError::ListCards)?;
    let live = LiveState::from_lists(cards, None, "GET /v3/contact_card")?;
    let exported = export::render(&live);
    for w in &exported.warnings {
        tracing::warn!("{w}");
    }
    match &args.out {
        Some(path) => crate::plan::file::write_atomic(path, exported.yaml.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(exported.yaml.as_bytes())
                .and_then(|()| out.flush())
                .context("writing to stdout")?;
        }
    }
    Ok(Exit::Success)
}
