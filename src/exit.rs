//! The process outcome, turned into an exit code only in `main`.

/// How a command ended. The numbers are part of the SPEC's contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success (for `plan --detailed-exitcode`: no changes).
    Success,
    /// Any error, including usage errors (never clap's 2).
    Error,
    /// `plan --detailed-exitcode` only: there are changes.
    Changes,
    /// `apply`: nothing failed but at least one card was deferred by rate limits.
    Deferred,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Error => 1,
            Exit::Changes => 2,
            Exit::Deferred => 3,
        }
    }
}
