//! `linq-cards apply`: get a plan (fresh, or a saved one checked against the
//! live account), show it, pass every refusal (`--expect-digest`, the
//! blast-radius guard, confirmation), then hand the writes to
//! `apply::executor` and render what it did.
//!
//! Every refusal here happens before the first write and writes nothing. The
//! decisions themselves live in `plan::stale`, `plan::guard`, `plan::digest`
//! and `apply::policy`; this module only orders them.

use std::collections::HashMap;
use std::io::{BufRead, BufWriter, IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::api::Client;
use crate::apply::{self, executor, ApplyResult, Job, Reporter};
use crate::cli::{ApplyArgs, ApplyFormat, GlobalArgs};
use crate::exit::Exit;
use crate::image::ImageVerdicts;
use crate::live;
use crate::plan::{self, guard, stale, Plan};
use crate::render;
use crate::settings;

use super::pipeline::{self, LiveSource};

/// What the writes need, whichever way the plan was obtained.
struct Ready {
    plan: Plan,
    jobs: Vec<Job>,
    client: Client,
    /// How the executor judges an image after a `2014` read.
    verdicts: ImageVerdicts,
    /// `Some` when the plan updates too much of the account.
    breach: Option<guard::GuardBreach>,
}

pub fn run(global: &GlobalArgs, args: &ApplyArgs) -> Result<Exit> {
    let rt = super::runtime()?;
    let ready = match &args.plan {
        Some(path) => saved_plan(&rt, global, args, path)?,
        None => match fresh(&rt, global, args)? {
            Ok(r) => r,
            Err(exit) => return Ok(exit),
        },
    };
    let Ready {
        plan,
        jobs,
        client,
        verdicts,
        breach,
    } = ready;

    show_plan(global, args, &plan)?;

    // The reviewed plan is the applied plan: checked even when there is
    // nothing to write, so that a pipeline learns its digest was wrong.
    if let Some(expected) = &args.expect_digest {
        plan::digest::check_digest(expected, &plan.plan_digest)?;
    }
    if !plan.has_changes() {
        let result = ApplyResult::new(Vec::new(), plan.unchanged.len(), None, Vec::new());
        if args.format == ApplyFormat::Text {
            println!("No changes: every managed card already matches the file. Nothing written.");
        } else {
            render_result(global, args, &result)?;
        }
        return Ok(result.exit());
    }
    if let Some(b) = breach {
        if args.force {
            tracing::warn!("--force overrides the guard: {b}");
        } else {
            anyhow::bail!("{b}; nothing was written");
        }
    }
    if !args.auto_approve {
        confirm()?;
    }

    let opts = executor::Options {
        concurrency: usize::try_from(args.concurrency).unwrap_or(executor::DEFAULT_CONCURRENCY),
        max_wait: Duration::from_secs(args.max_wait),
    };
    let reporter = reporter(global);
    let unchanged = plan.unchanged.len();
    let result = rt.block_on(async {
        // Installed only now: before the first write a signal should just end
        // the process, as it does at the confirmation prompt.
        let cancel = apply::signals::install().context("installing the Ctrl-C/SIGTERM handler")?;
        let result = executor::run(
            &client, &verdicts, &jobs, unchanged, opts, &cancel, &reporter,
        )
        .await;
        anyhow::Ok(result)
    })?;
    drop(reporter);

    render_result(global, args, &result)?;

    // Whoever opens the CI run sees what was written. Appending only warns on
    // failure: the writes are done and the exit status is theirs.
    if crate::ci::in_github_actions() {
        crate::ci::append_step_summary(&render::apply::render_markdown(&result))?;
    }

    Ok(result.exit())
}

/// `apply [FILE]`: plan afresh against the API.
fn fresh(
    rt: &tokio::runtime::Runtime,
    global: &GlobalArgs,
    args: &ApplyArgs,
) -> Result<std::result::Result<Ready, Exit>> {
    let mut planned =
        match pipeline::fresh_plan(rt, global, &args.file, &args.shape, LiveSource::Api)? {
            Ok(p) => p,
            Err(exit) => return Ok(Err(exit)),
        };
    let breach = pipeline::warn_guard(&mut planned, args.max_update_percent);
    // Indexed once: a search per change is quadratic at 10,000 cards.
    let desired: HashMap<&str, _> = planned
        .desired
        .cards
        .iter()
        .map(|d| (d.phone_number.as_str(), d))
        .collect();
    let jobs = planned
        .plan
        .changes
        .iter()
        .map(|c| {
            let desired = desired
                .get(c.phone_number.as_str())
                .expect("plan::compute only plans cards of the file");
            Job::new(c.clone(), desired)
        })
        .collect();
    let client = planned
        .client
        .expect("a plan read from the API keeps its client");
    Ok(Ok(Ready {
        plan: planned.plan,
        jobs,
        client,
        verdicts: planned.verdicts,
        breach,
    }))
}

/// `apply --plan PLANFILE`: the saved plan, refused unless it was made for this
/// API and account and every card it writes is still as it saw it.
fn saved_plan(
    rt: &tokio::runtime::Runtime,
    global: &GlobalArgs,
    args: &ApplyArgs,
    path: &std::path::Path,
) -> Result<Ready> {
    if !args.shape.targets.is_empty() || !args.shape.replace_images.is_empty() {
        // A saved plan is applied exactly as reviewed; reshaping it here would
        // apply something nobody saw.
        anyhow::bail!(
            "--target and --replace-image shape a fresh plan; pass them to `plan --out` instead of `apply --plan`"
        );
    }
    let plan = plan::file::load(path)?;
    let api_url = settings::resolve_api_url(global.api_url.as_deref())?;
    let client = pipeline::connect(global, &api_url)?;
    let live = rt.block_on(live::read(&client))?;
    let numbers = live
        .account_numbers
        .as_ref()
        .expect("live::read always reads the account's numbers");
    stale::check_destination(&plan, api_url.as_str(), numbers)
        .map_err(|e| anyhow::anyhow!("{e}; nothing was written"))?;
    stale::check_stale(&plan, &live).map_err(|e| anyhow::anyhow!("{e}\nnothing was written"))?;

    // The guard counts the account's managed cards: every live card the plan
    // did not list as unmanaged (the file is not read with --plan).
    let managed = live
        .cards
        .keys()
        .filter(|n| !plan.unmanaged.contains(n))
        .count();
    let breach = guard::check(&plan, managed, args.max_update_percent);
    let jobs = plan.changes.iter().cloned().map(Job::from_change).collect();
    Ok(Ready {
        plan,
        jobs,
        client,
        // Nothing was compared this run: after a 2014 an image counts as the
        // same picture only when the URLs are equal.
        verdicts: ImageVerdicts::default(),
        breach,
    })
}

/// The plan, before anything else: on stdout for text; on stderr for JSON,
/// whose stdout carries only the apply result.
fn show_plan(global: &GlobalArgs, args: &ApplyArgs, plan: &Plan) -> Result<()> {
    match args.format {
        ApplyFormat::Text => {
            let stdout = std::io::stdout();
            let color = crate::use_color(global.color, stdout.is_terminal());
            let mut out = BufWriter::new(stdout.lock());
            render::render_text(plan, color, &mut out)
                .and_then(|()| out.flush())
                .context("writing the plan to stdout")
        }
        ApplyFormat::Json if global.quiet => Ok(()),
        ApplyFormat::Json => {
            let stderr = std::io::stderr();
            let color = crate::use_color(global.color, stderr.is_terminal());
            let mut err = stderr.lock();
            render::render_text(plan, color, &mut err).context("writing the plan to stderr")
        }
    }
}

/// Ask on the terminal; anything but exactly `yes` cancels. Without a terminal
/// there is nobody to ask, and guessing would write unreviewed changes.
fn confirm() -> Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        anyhow::bail!(
            "stdin is not a terminal, so apply cannot ask for confirmation: \
             pass --auto-approve to apply without asking; nothing was written"
        );
    }
    let mut err = std::io::stderr().lock();
    write!(
        err,
        "\nDo you want to apply these changes? Only 'yes' will be accepted: "
    )?;
    err.flush()?;
    drop(err);
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .context("reading the confirmation")?;
    if answer.trim_end_matches(['\r', '\n']) != "yes" {
        anyhow::bail!("apply cancelled; nothing was written");
    }
    Ok(())
}

/// Progress on stderr: a bar on a terminal, plain lines in logs (each
/// Retry-After wait among them), nothing with `-q`.
fn reporter(global: &GlobalArgs) -> Box<dyn Reporter> {
    if global.quiet {
        Box::new(())
    } else if std::io::stderr().is_terminal() {
        Box::new(render::apply::ProgressReporter::new())
    } else {
        Box::new(render::apply::LineReporter::new(std::io::stderr()))
    }
}

fn render_result(global: &GlobalArgs, args: &ApplyArgs, result: &ApplyResult) -> Result<()> {
    let stdout = std::io::stdout();
    let color = crate::use_color(global.color, stdout.is_terminal());
    let mut out = BufWriter::new(stdout.lock());
    match args.format {
        ApplyFormat::Text => render::apply::render_text(result, color, &mut out),
        ApplyFormat::Json => render::apply::render_json(result, &mut out),
    }
    .and_then(|()| out.flush())
    .context("writing the apply result to stdout")
}
