//! Apply: execute a plan's writes, survive every documented API failure, and
//! verify convergence (SPEC "How apply writes").
//!
//! `policy` decides (pure), `ledger` counts writes per number, `executor`
//! performs against the [`CardApi`] seam, `verify` reads back, `outcome` is
//! the JSON apply result, `signals` turns Ctrl-C/SIGTERM into a [`Cancel`].
//! Printing belongs to `render::apply`.

pub mod card_api;
pub mod event;
pub mod executor;
pub mod ledger;
pub mod outcome;
pub mod policy;
pub mod signals;
pub mod verify;

#[cfg(test)]
mod executor_tests;

pub use card_api::{CardApi, ImageJudge};
pub use event::{Event, Reporter};
pub use executor::{run, Job, Options};
pub use outcome::{ApplyResult, ApplySummary, CardResult, ErrorInfo, Outcome, Stopped};
pub use signals::{Cancel, CancelHandle};
