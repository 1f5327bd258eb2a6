//! `linq-cards plan`: load the file, read the live state (API or snapshot),
//! check the images, compute, render, optionally save.

use std::io::{BufWriter, IsTerminal, Write};

use anyhow::{Context, Result};

use crate::cli::{GlobalArgs, PlanArgs, PlanFormat};
use crate::config::{self, LoadOptions};
use crate::exit::Exit;
use crate::plan::{self, guard, PlanOptions, Warning};
use crate::{live, render, settings};

pub fn run(global: &GlobalArgs, args: &PlanArgs) -> Result<Exit> {
    let api_url = settings::resolve_api_url(global.api_url.as_deref())?;
    let load = LoadOptions {
        allow_loopback_http_images: api_url.is_loopback(),
    };
    let desired = match config::load_file(&args.file, load) {
        Ok(d) => d,
        Err(diags) => {
            super::print_diagnostics(&diags);
            return Ok(Exit::Error);
        }
    };
    let opts = PlanOptions {
        targets: args.shape.targets.clone(),
        replace_images: args.shape.replace_images.clone(),
        strict: args.shape.strict,
    };
    // Before any network: a wrong --target is a usage mistake.
    plan::diff::check_options(&desired, &opts)?;

    let rt = super::runtime()?;
    let live = match &args.live_snapshot {
        // No token and no network at all: pull requests from forks.
        Some(path) => live::read_snapshot(path)?,
        None => {
            let client = super::connect(global, &api_url)?;
            rt.block_on(live::read(&client))?
        }
    };
    let work = plan::image_pairs(&desired, &live, &opts);
    let verdicts = if args.live_snapshot.is_some() {
        // A snapshot plan reaches no network at all, image hosts included.
        plan::unverified(
            &work,
            "pictures are not compared with --live-snapshot (no network)",
        )
    } else {
        rt.block_on(super::check_images(&work, &api_url, args.shape.no_cache))
    };
    let mut plan = plan::compute(&desired, &live, &verdicts, &opts)?;
    plan.api_url = Some(api_url.as_str().to_string());
    let managed = guard::managed_live_count(&desired, &live);
    if let Some(breach) = guard::check(&plan, managed, guard::DEFAULT_MAX_PERCENT) {
        plan.warnings.insert(
            0,
            Warning {
                phone_number: None,
                message: breach.to_string(),
            },
        );
    }

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
