//! Progress events the executor emits, and the [`Reporter`] that receives them
//! (the CLI's progress bar or plain lines; tests record them). Events say what
//! happened; how it looks is the renderer's business.

use std::time::Duration;

use crate::apply::outcome::{CardResult, Stopped};
use crate::apply::policy::Wait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// Writing begins for this many cards.
    Start { cards: usize },
    /// A call is about to be made (`POST`, `PATCH` or `GET`).
    Call {
        phone_number: &'a str,
        method: &'static str,
    },
    /// A card sleeps before calling again. SPEC: each `Retry-After` wait is
    /// printed with the card and the seconds, so a CI log never looks hung.
    Waiting {
        phone_number: &'a str,
        wait: Wait,
        after: Duration,
    },
    /// A card is done writing (`converged` is not known yet).
    Finished { result: &'a CardResult },
    /// No further writes will start.
    Stopping { why: Stopped },
    /// The verification read begins.
    Verifying,
}

/// Receives events; called from the card tasks, so it must be cheap and never block long.
pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event<'_>);
}

/// Reports nothing.
impl Reporter for () {
    fn event(&self, _: &Event<'_>) {}
}

/// So the CLI can pick a reporter at run time (bar on a terminal, lines in CI).
impl<T: Reporter + ?Sized> Reporter for Box<T> {
    fn event(&self, event: &Event<'_>) {
        (**self).event(event)
    }
}
