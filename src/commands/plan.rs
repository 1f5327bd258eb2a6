//! `linq-cards plan`: load the file, read the live state (API or snapshot),
//! check the images, compute, render, optionally save.

use std::io::{BufWriter, IsTerminal, Write};

use anyhow::{Context, Result};

use crate::cli::{GlobalArgs, PlanArgs, PlanFormat};
use crate::exit::Exit;
use crate::plan;
use crate::render;

use super::pipeline::{self, LiveSource};

pub fn run(global: &GlobalArgs, args: &PlanArgs) -> Result<Exit> {
    let rt = super::runtime()?;
    let source = match &args.live_snapshot {
        // No token and no API call: pull requests from forks.
        Some(path) => LiveSource::Snapshot(path),
        None => LiveSource::Api,
    };
    let mut planned = match pipeline::fresh_plan(&rt, global, &args.file, &args.shape, source)? {
        Ok(p) => p,
        Err(exit) => return Ok(exit),
    };
    pipeline::warn_guard(&mut planned, args.max_update_percent);
    let plan = planned.plan;

    if let Some(path) = &args.out {
        plan::file::save(&plan, path)?;
    }
    let stdout = std::io::stdout();
    let color = crate::use_color(global.color, stdout.is_terminal());
    let mut out = BufWriter::new(stdout.lock());
    let rendered = match args.format {
        PlanFormat::Text => render::render_text(&plan, color, &mut out),
        PlanFormat::Json => render::render_json(&plan, &mut out),
        PlanFormat::Markdown => render::render_markdown(&plan, &mut out),
    };
    rendered
        .and_then(|()| out.flush())
        .context("writing the plan to stdout")?;
    if crate::ci::in_github_actions() {
        // The job summary shows the plan to whoever opens the run.
        crate::ci::append_step_summary(&render::render_markdown_limited(
            &plan,
            render::MARKDOWN_LIMIT,
        ))?;
    }
    if args.format != PlanFormat::Text {
        // The text plan lists its warnings; a JSON or Markdown one on stdout
        // is for a machine, so a person watching the log sees them here.
        for w in &plan.warnings {
            match &w.phone_number {
                Some(n) => tracing::warn!("{n}: {}", w.message),
                None => tracing::warn!("{}", w.message),
            }
        }
    }
    Ok(if args.detailed_exitcode && plan.has_changes() {
        Exit::Changes
    } else {
        Exit::Success
    })
}
