//! The planning pipeline shared by `plan` and `apply`: load the file, read the
//! live state (API or snapshot), compare images, compute the plan.
//!
//! It decides nothing itself: `plan::compute` decides, this only gathers its
//! inputs in the right order (file problems and bad flags before any network).

use std::path::Path;

use anyhow::Result;

use crate::api::{Client, ClientOptions};
use crate::cli::{GlobalArgs, PlanShapeArgs};
use crate::config::{self, DesiredState, LoadOptions};
use crate::exit::Exit;
use crate::image::{self, ImageChecker, ImageOptions, ImageVerdicts};
use crate::live::{self, LiveState};
use crate::plan::{self, guard, ImageWork, Plan, PlanOptions, Warning};
use crate::settings::{self, ApiUrl};

/// A fresh plan and what `apply` and the guard need of its inputs.
pub(crate) struct Planned {
    /// `None` when the live state came from a snapshot.
    pub client: Option<Client>,
    pub desired: DesiredState,
    pub live: LiveState,
    pub verdicts: ImageVerdicts,
    pub plan: Plan,
}

/// Where the live state comes from.
pub(crate) enum LiveSource<'a> {
    Api,
    Snapshot(&'a Path),
}

/// The API client for the account, with the token from the environment or the
/// profile.
pub(crate) fn connect(global: &GlobalArgs, api_url: &ApiUrl) -> Result<Client> {
    let token = settings::resolve_token(global.profile.as_deref())?;
    Client::new(api_url, token, ClientOptions::default())
}

/// Verdicts for the pairs and sources the planner asked about. Image hosts
/// may be reached even with a snapshot: the fetch policy (HTTPS only, no
/// private addresses) is what makes a file from an untrusted pull request safe.
pub(crate) async fn check_images(
    work: &ImageWork,
    api_url: &ApiUrl,
    no_cache: bool,
) -> Result<ImageVerdicts> {
    if work.pairs.is_empty() && work.sources.is_empty() {
        return Ok(ImageVerdicts::default());
    }
    let opts = ImageOptions {
        allow_loopback: api_url.is_loopback(),
        cache_dir: if no_cache {
            None
        } else {
            image::default_cache_dir()
        },
        ..ImageOptions::default()
    };
    let checker = ImageChecker::new(opts)?;
    let verdicts = checker.check(&work.pairs, &work.sources).await;
    let stats = checker.stats();
    tracing::debug!(
        downloads = stats.downloads,
        not_modified = stats.not_modified,
        cache_fresh_hits = stats.cache_fresh_hits,
        failures = stats.failures,
        "images checked"
    );
    Ok(verdicts)
}

/// Load, read, compare and compute. `Err(Exit)` means the file was invalid and
/// its diagnostics were already printed.
pub(crate) fn fresh_plan(
    rt: &tokio::runtime::Runtime,
    global: &GlobalArgs,
    file: &Path,
    shape: &PlanShapeArgs,
    source: LiveSource<'_>,
) -> Result<std::result::Result<Planned, Exit>> {
    let api_url = settings::resolve_api_url(global.api_url.as_deref())?;
    let load = LoadOptions {
        allow_loopback_http_images: api_url.is_loopback(),
    };
    let desired = match config::load_file(file, load) {
        Ok(d) => d,
        Err(diags) => {
            super::print_diagnostics(&diags);
            return Ok(Err(Exit::Error));
        }
    };
    let opts = PlanOptions {
        targets: shape.targets.clone(),
        replace_images: shape.replace_images.clone(),
        strict: shape.strict,
    };
    // Before any network: a wrong --target is a usage mistake.
    plan::diff::check_options(&desired, &opts)?;

    let (client, live) = match source {
        LiveSource::Snapshot(path) => (None, live::read_snapshot(path)?),
        LiveSource::Api => {
            let client = connect(global, &api_url)?;
            let live = rt.block_on(live::read(&client))?;
            (Some(client), live)
        }
    };
    let work = plan::image_pairs(&desired, &live, &opts);
    let verdicts = rt.block_on(check_images(&work, &api_url, shape.no_cache))?;
    let mut plan = plan::compute(&desired, &live, &verdicts, &opts)?;
    plan.api_url = Some(api_url.as_str().to_string());
    Ok(Ok(Planned {
        client,
        desired,
        live,
        verdicts,
        plan,
    }))
}

/// Put the blast-radius warning first in a plan when `apply` would refuse it.
pub(crate) fn warn_guard(planned: &mut Planned, max_percent: f64) -> Option<guard::GuardBreach> {
    let managed = guard::managed_live_count(&planned.desired, &planned.live);
    let breach = guard::check(&planned.plan, managed, max_percent)?;
    planned.plan.warnings.insert(
        0,
        Warning {
            phone_number: None,
            message: breach.to_string(),
        },
    );
    Some(breach)
}
