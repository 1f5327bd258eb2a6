//! The command line as clap sees it: commands, flags and value enums.
//!
//! Only the "low" layer lives here: it mirrors what the user typed. It reads no
//! environment and does no I/O; `settings` resolves the API URL, token and colour
//! from it afterwards.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Default desired-state file, read from the working directory.
pub const DEFAULT_FILE: &str = "linq-cards.yaml";

/// Keep the iMessage contact cards of a Linq account equal to a YAML file in git.
///
/// `plan` reads the live account and shows the difference; `apply` makes exactly
/// the create and partial-update calls that close it. Linq allows only 3 writes
/// per phone number per 10 minutes, so linq-cards never writes a card that does
/// not need it.
#[derive(Debug, Parser)]
#[command(name = "linq-cards", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options valid on every command.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// API base URL [env: LINQ_API_URL, LINQ_API_V3_BASE_URL]
    /// [default: https://api.linqapp.com/api/partner]. A non-HTTPS URL is
    /// refused unless its host is loopback.
    #[arg(long, global = true, value_name = "URL")]
    pub api_url: Option<String>,

    /// Use this profile's token from the official CLI's ~/.linq/config.json
    /// (default: the file's active profile). LINQ_API_KEY and
    /// LINQ_API_V3_API_KEY take precedence.
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// More logging on stderr (-v: debug, -vv: trace). RUST_LOG also works.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Less output: only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// When to use colour. NO_COLOR is honoured.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a desired-state file offline (no token, no network).
    Validate(ValidateArgs),
    /// Read the live account and show what `apply` would do.
    Plan(PlanArgs),
    /// Plan (or load a saved plan), confirm, then write exactly the planned changes.
    Apply(ApplyArgs),
    /// Write the live account as a desired-state file: the way to adopt linq-cards.
    Export(ExportArgs),
    /// Print the JSON Schema of the desired-state file.
    Schema,
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// Desired-state file.
    #[arg(value_name = "FILE", default_value = DEFAULT_FILE)]
    pub file: PathBuf,

    /// Output format (`github` prints workflow-command annotations). Inside
    /// GitHub Actions, annotations are printed with any format.
    #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
    pub format: ValidateFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    Text,
    Json,
    Github,
}

/// Options shared by `plan` and `apply` that shape the plan.
#[derive(Debug, Clone, Default, Args)]
pub struct PlanShapeArgs {
    /// Plan only this number (repeatable); it must be in the file.
    #[arg(long = "target", value_name = "PHONE")]
    pub targets: Vec<String>,

    /// Plan an image_url update for this number even when the pictures compare
    /// equal (repeatable).
    #[arg(long = "replace-image", value_name = "PHONE")]
    pub replace_images: Vec<String>,

    /// An image that cannot be verified is an error, not a warning.
    #[arg(long)]
    pub strict: bool,

    /// Do not read or write the on-disk image cache.
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Desired-state file.
    #[arg(value_name = "FILE", default_value = DEFAULT_FILE)]
    pub file: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,

    /// Also save the plan (JSON) for `apply --plan`.
    #[arg(long, value_name = "PLANFILE")]
    pub out: Option<PathBuf>,

    /// Read the live state from a file holding a `GET /v3/contact_card`
    /// response body instead of the API (no token needed).
    #[arg(long, value_name = "FILE")]
    pub live_snapshot: Option<PathBuf>,

    /// Exit 0 when there are no changes, 2 when there are changes, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// Warn when more than P% of at least 10 managed live cards would be
    /// updated (the limit `apply` enforces; `plan` only warns).
    #[arg(long, default_value_t = 30.0, value_name = "P", value_parser = parse_percent)]
    pub max_update_percent: f64,

    #[command(flatten)]
    pub shape: PlanShapeArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    /// Desired-state file (ignored with --plan).
    #[arg(value_name = "FILE", default_value = DEFAULT_FILE)]
    pub file: PathBuf,

    /// Apply exactly this saved plan; refused if the live state changed since.
    #[arg(long, value_name = "PLANFILE")]
    pub plan: Option<PathBuf>,

    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,

    /// Cards written at once; one number's calls are never concurrent.
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,

    /// Total seconds apply may sleep for `429 Retry-After`; a card whose wait
    /// would exceed it is deferred.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub max_wait: u64,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ApplyFormat::Text)]
    pub format: ApplyFormat,

    /// Refuse unless the fresh plan's digest equals HEX.
    #[arg(long, value_name = "HEX")]
    pub expect_digest: Option<String>,

    /// Refuse when more than P% of at least 10 managed live cards would be updated.
    #[arg(long, default_value_t = 30.0, value_name = "P", value_parser = parse_percent)]
    pub max_update_percent: f64,

    /// Override the --max-update-percent guard.
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub shape: PlanShapeArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApplyFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Write to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to generate for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// A `--max-update-percent` value: a finite number from 0 to 100. `f64`'s own
/// parser takes `NaN` and `inf`, and a NaN limit would silently disable the guard.
fn parse_percent(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(p) if p.is_finite() && (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("{raw:?} is not a percentage from 0 to 100")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_debug_assert() {
        Cli::command().debug_assert();
    }
}
