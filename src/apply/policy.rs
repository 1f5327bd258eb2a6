//! The apply policy: given what a call answered and where the card stands
//! (its write count in the ledger, retries so far, the wait budget left),
//! decide what happens next. One function per kind of call; each SPEC rule of
//! "How apply writes" is one arm.
//!
//! Pure: no clock, no randomness (the backoff jitter comes in as an argument),
//! no I/O. The executor carries the decisions out.

use std::fmt;
use std::time::Duration;

use crate::api::{ClientError, ContactCard, ErrorCode};
use crate::apply::ledger::WRITES_PER_NUMBER;

/// First backoff step; each retry doubles it, plus up to as much again of jitter.
pub const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Longest single backoff sleep.
pub const BACKOFF_CAP: Duration = Duration::from_secs(10);
/// `500/2022`: call again at most this many more times (SPEC).
pub const MAX_SETUP_RETRIES: u32 = 2;
/// Retries of a read (the `GET ?phone_number` after a `2014`); reads cost no
/// write budget, but a run must still end.
pub const MAX_READ_RETRIES: u32 = 2;

/// The write a card is making.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `POST /v3/contact_card` with every managed field.
    Create,
    /// `PATCH /v3/contact_card?phone_number=` with only the differing fields.
    Update,
}

impl Op {
    pub fn method(self) -> &'static str {
        match self {
            Op::Create => "POST",
            Op::Update => "PATCH",
        }
    }
}

/// What an error means for apply (LINQ_API.md, "Codes that matter").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 401/403 (2004/2005): the token is wrong for everything, not this card.
    Auth,
    /// 409/2014: the number already has an active card.
    AlreadyActive,
    /// 404/2012: the number has no active card.
    NotActive,
    /// 500/2022: setup or update did not complete; calling again is the remedy.
    SetupIncomplete,
    /// 503/4004: upstream write limit; repeated attempts extend it.
    UpstreamLimited,
    /// 429, with its `Retry-After` when it came with one.
    RateLimited(Option<Duration>),
    /// Any other 5xx.
    Server,
    /// Any other 4xx: the request is wrong; retrying will not help.
    Rejected,
    /// No answer (connection error or timeout): the call may or may not have landed.
    Network,
    /// A 2xx whose body is not what the API documents.
    Undecodable,
}

/// Classify an error by its code first, and by its status when the body was
/// not the documented envelope.
pub fn classify(e: &ClientError) -> Kind {
    let api = match e {
        ClientError::Api(api) => api,
        ClientError::Network { .. } => return Kind::Network,
        ClientError::Decode { .. } => return Kind::Undecodable,
    };
    match (api.status, api.code) {
        (401 | 403, _) | (_, Some(ErrorCode::Unauthorized | ErrorCode::Forbidden)) => Kind::Auth,
        (_, Some(ErrorCode::AlreadyActive)) | (409, None) => Kind::AlreadyActive,
        (_, Some(ErrorCode::NotActive)) | (404, None) => Kind::NotActive,
        (_, Some(ErrorCode::SetupIncomplete)) => Kind::SetupIncomplete,
        (_, Some(ErrorCode::UpstreamLimited)) => Kind::UpstreamLimited,
        (429, _) | (_, Some(ErrorCode::RateLimited)) => Kind::RateLimited(api.retry_after),
        (500..=599, _) => Kind::Server,
        _ => Kind::Rejected,
    }
}

/// The backoff before retry number `retry` (0 for the first): `BASE * 2^retry`
/// plus `jitter` (in `[0, 1)`) times as much again, capped.
pub fn backoff(retry: u32, jitter: f64) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32.checked_shl(retry.min(16)).unwrap_or(u32::MAX));
    let jitter = jitter.clamp(0.0, 1.0);
    exp.saturating_add(exp.mul_f64(jitter)).min(BACKOFF_CAP)
}

/// Why a card failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailReason {
    /// The write answered `is_active: false`.
    Inactive,
    /// `2022` again after the retries SPEC allows.
    SetupIncomplete,
    /// A 4xx other than those apply handles.
    Rejected,
    /// 401/403 on this card's call.
    Auth,
    /// A 2xx with a body we cannot read: the write's effect is unknown until
    /// the verification read.
    Undecodable,
    /// The number answered `2014` to a create and `2012` to the read that
    /// followed (or vice versa) more often than a run allows.
    Flapping,
    /// Retries of a read (network, 5xx) ran out.
    ReadFailed,
}

impl fmt::Display for FailReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailReason::Inactive => {
                "setup did not complete (is_active: false); the next run retries it as a create"
            }
            FailReason::SetupIncomplete => "setup did not complete after 2 retries (2022)",
            FailReason::Rejected => "rejected by the API",
            FailReason::Auth => "authentication failed; no further writes were started",
            FailReason::Undecodable => "unreadable answer to the write; see the verification",
            FailReason::Flapping => "the card kept changing state between calls",
            FailReason::ReadFailed => "could not read the card after retries",
        })
    }
}

/// Why a card was deferred to a later run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeferReason {
    /// 503/4004: the upstream write limit; not retried in this run.
    UpstreamLimited,
    /// 429 whose `Retry-After` does not fit in what is left of `--max-wait`.
    WaitTooLong { needed: Duration, left: Duration },
    /// 429 without a `Retry-After`: no safe time to call again.
    WaitUnknown,
    /// The card would need a write beyond the ledger's 3 for its number.
    Ledger,
}

impl fmt::Display for DeferReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeferReason::UpstreamLimited => {
                f.write_str("upstream write limit (4004); not retried in this run")
            }
            DeferReason::WaitTooLong { needed, left } => write!(
                f,
                "rate limited: Retry-After {} s exceeds the {} s left of --max-wait",
                needed.as_secs(),
                left.as_secs()
            ),
            DeferReason::WaitUnknown => f.write_str("rate limited without a Retry-After"),
            DeferReason::Ledger => write!(
                f,
                "would need more than {WRITES_PER_NUMBER} writes to this number in one run"
            ),
        }
    }
}

/// What a sleep before a retry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Exponential backoff after a 2022, a 5xx or a network error.
    Backoff,
    /// The API's `Retry-After`; it is drawn from the run's `--max-wait` budget.
    RetryAfter,
}

/// The next step for a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The card is written and active.
    Applied,
    Fail(FailReason),
    Defer(DeferReason),
    /// 401/403: this card fails and no further write starts anywhere.
    Stop,
    /// Sleep, then make the same call again.
    Retry {
        after: Duration,
        wait: Wait,
    },
    /// `2014` on a create: read the card, then update only what still differs.
    ReadThenUpdate,
    /// Write the card with a create (every managed field).
    Create,
}

/// The answer to a write.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    Written { is_active: bool },
    Error(&'a ClientError),
}

/// Where a card stands after a write call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriteState {
    pub op: Op,
    /// Writes to this number in the run, including the one just answered.
    pub writes_used: u32,
    /// 2022 retries already made by this card.
    pub setup_retries: u32,
    /// Network/5xx retries already made by this card (the backoff exponent).
    pub transient_retries: u32,
    /// `--max-wait` minus what the run has already slept for `Retry-After`.
    pub wait_left: Duration,
    /// In `[0, 1)`; the random part of a backoff.
    pub jitter: f64,
}

impl WriteState {
    fn can_write(&self) -> bool {
        self.writes_used < WRITES_PER_NUMBER
    }

    /// Retry the same write, if the ledger allows another one.
    fn retry(&self, after: Duration, wait: Wait) -> Next {
        if self.can_write() {
            Next::Retry { after, wait }
        } else {
            Next::Defer(DeferReason::Ledger)
        }
    }
}

/// Decide after a write (POST or PATCH).
pub fn after_write(s: &WriteState, answer: Answer<'_>) -> Next {
    let e = match answer {
        // SPEC: the response's is_active decides.
        Answer::Written { is_active: true } => return Next::Applied,
        Answer::Written { is_active: false } => return Next::Fail(FailReason::Inactive),
        Answer::Error(e) => e,
    };
    match (classify(e), s.op) {
        (Kind::Auth, _) => Next::Stop,
        // Someone activated it meanwhile (or our own timed-out create landed):
        // reading costs nothing, and the read decides whether a write is needed.
        (Kind::AlreadyActive, Op::Create) => Next::ReadThenUpdate,
        // PATCH needs an active card; an inactive one goes back through POST.
        (Kind::NotActive, Op::Update) => {
            if s.can_write() {
                Next::Create
            } else {
                Next::Defer(DeferReason::Ledger)
            }
        }
        (Kind::SetupIncomplete, _) => {
            if s.setup_retries >= MAX_SETUP_RETRIES {
                Next::Fail(FailReason::SetupIncomplete)
            } else {
                s.retry(backoff(s.setup_retries, s.jitter), Wait::Backoff)
            }
        }
        // Repeated attempts extend the upstream limit (LINQ_API.md).
        (Kind::UpstreamLimited, _) => Next::Defer(DeferReason::UpstreamLimited),
        (Kind::RateLimited(None), _) => Next::Defer(DeferReason::WaitUnknown),
        (Kind::RateLimited(Some(after)), _) => {
            if !s.can_write() {
                Next::Defer(DeferReason::Ledger)
            } else if after <= s.wait_left {
                Next::Retry {
                    after,
                    wait: Wait::RetryAfter,
                }
            } else {
                Next::Defer(DeferReason::WaitTooLong {
                    needed: after,
                    left: s.wait_left,
                })
            }
        }
        // The ledger is what bounds these retries: each one is a write.
        (Kind::Server | Kind::Network, _) => {
            s.retry(backoff(s.transient_retries, s.jitter), Wait::Backoff)
        }
        (Kind::Undecodable, _) => Next::Fail(FailReason::Undecodable),
        (Kind::AlreadyActive | Kind::NotActive | Kind::Rejected, _) => {
            Next::Fail(FailReason::Rejected)
        }
    }
}

/// Where a card stands after the read that follows a `2014`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadState {
    /// Writes to this number in the run so far.
    pub writes_used: u32,
    /// Read retries already made.
    pub read_retries: u32,
    /// How many times this card already went create → 2014 → read.
    pub reads_done: u32,
    pub wait_left: Duration,
    pub jitter: f64,
}

/// The next step after the read that follows a `2014`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadNext {
    /// An active card: update only the fields that still differ (maybe none).
    Compare,
    /// No active card after all: create it.
    Create,
    Retry {
        after: Duration,
        wait: Wait,
    },
    Fail(FailReason),
    Defer(DeferReason),
    Stop,
}

/// Decide after `GET /v3/contact_card?phone_number=`.
pub fn after_read(s: &ReadState, answer: Result<&ContactCard, &ClientError>) -> ReadNext {
    let create = || {
        if s.reads_done > 1 {
            // create said "exists", read said "not active", twice: stop going round.
            ReadNext::Fail(FailReason::Flapping)
        } else if s.writes_used < WRITES_PER_NUMBER {
            ReadNext::Create
        } else {
            ReadNext::Defer(DeferReason::Ledger)
        }
    };
    let e = match answer {
        Ok(card) if card.is_active => return ReadNext::Compare,
        // PATCH needs an active card; an inactive one goes back through POST.
        Ok(_) => return create(),
        Err(e) => e,
    };
    let retry = |after: Duration, wait: Wait| {
        if s.read_retries < MAX_READ_RETRIES {
            ReadNext::Retry { after, wait }
        } else {
            ReadNext::Fail(FailReason::ReadFailed)
        }
    };
    match classify(e) {
        Kind::Auth => ReadNext::Stop,
        Kind::NotActive => create(),
        Kind::RateLimited(Some(after)) if after <= s.wait_left => retry(after, Wait::RetryAfter),
        Kind::RateLimited(Some(after)) => ReadNext::Defer(DeferReason::WaitTooLong {
            needed: after,
            left: s.wait_left,
        }),
        Kind::RateLimited(None) => ReadNext::Defer(DeferReason::WaitUnknown),
        Kind::UpstreamLimited => ReadNext::Defer(DeferReason::UpstreamLimited),
        Kind::Server | Kind::Network | Kind::SetupIncomplete | Kind::Undecodable => {
            retry(backoff(s.read_retries, s.jitter), Wait::Backoff)
        }
        Kind::AlreadyActive | Kind::Rejected => ReadNext::Fail(FailReason::Rejected),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiError;

    fn api(status: u16, code: Option<u32>, retry_after: Option<u64>) -> ClientError {
        ClientError::Api(ApiError {
            status,
            code: code.map(ErrorCode::from_u32),
            message: "m".into(),
            trace_id: Some("t".into()),
            doc_url: None,
            retry_after: retry_after.map(Duration::from_secs),
        })
    }

    fn net() -> ClientError {
        ClientError::Network {
            message: "reset".into(),
            timeout: true,
        }
    }

    fn decode() -> ClientError {
        ClientError::Decode {
            status: 200,
            detail: "x".into(),
        }
    }

    const S: fn(u64) -> Duration = Duration::from_secs;
    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn state(op: Op, writes_used: u32) -> WriteState {
        WriteState {
            op,
            writes_used,
            setup_retries: 0,
            transient_retries: 0,
            wait_left: S(60),
            jitter: 0.0,
        }
    }

    #[test]
    fn classify_by_code_then_status() {
        let rows = [
            (api(401, Some(2004), None), Kind::Auth),
            (api(403, Some(2005), None), Kind::Auth),
            (api(403, None, None), Kind::Auth),
            (api(409, Some(2014), None), Kind::AlreadyActive),
            (api(409, None, None), Kind::AlreadyActive),
            (api(404, Some(2012), None), Kind::NotActive),
            (api(404, None, None), Kind::NotActive),
            (api(500, Some(2022), None), Kind::SetupIncomplete),
            (api(503, Some(4004), None), Kind::UpstreamLimited),
            (api(429, Some(1007), Some(5)), Kind::RateLimited(Some(S(5)))),
            (api(429, None, None), Kind::RateLimited(None)),
            (api(500, Some(3006), None), Kind::Server),
            (api(502, None, None), Kind::Server),
            (api(503, None, None), Kind::Server),
            (api(400, Some(1003), None), Kind::Rejected),
            (api(422, None, None), Kind::Rejected),
            (net(), Kind::Network),
            (decode(), Kind::Undecodable),
        ];
        for (e, kind) in rows {
            assert_eq!(classify(&e), kind, "{e}");
        }
    }

    #[test]
    fn backoff_is_exponential_jittered_and_capped() {
        assert_eq!(backoff(0, 0.0), MS(500));
        assert_eq!(backoff(0, 0.5), MS(750));
        assert_eq!(backoff(1, 0.0), MS(1000));
        assert_eq!(backoff(2, 0.0), MS(2000));
        assert_eq!(backoff(2, 0.999), MS(3998));
        assert_eq!(backoff(5, 0.0), BACKOFF_CAP);
        assert_eq!(backoff(40, 0.9), BACKOFF_CAP);
        // Out-of-range jitter is clamped, not trusted.
        assert_eq!(backoff(0, 7.0), MS(1000));
        assert_eq!(backoff(0, -1.0), MS(500));
    }

    /// One row per rule of SPEC "How apply writes".
    #[test]
    fn after_write_table() {
        use Op::*;
        let ok = |active| Answer::Written { is_active: active };
        let backoff0 = Next::Retry {
            after: MS(500),
            wait: Wait::Backoff,
        };
        let e409 = api(409, Some(2014), None);
        let e404 = api(404, Some(2012), None);
        let e2022 = api(500, Some(2022), None);
        let e4004 = api(503, Some(4004), None);
        let e429 = api(429, Some(1007), Some(30));
        let e429_long = api(429, Some(1007), Some(61));
        let e429_none = api(429, Some(1007), None);
        let e500 = api(500, Some(3006), None);
        let e502 = api(502, None, None);
        let e401 = api(401, Some(2004), None);
        let e403 = api(403, Some(2005), None);
        let e400 = api(400, Some(1003), None);
        let n = net();
        let d = decode();

        struct Row<'a> {
            name: &'a str,
            state: WriteState,
            answer: Answer<'a>,
            next: Next,
        }
        let with = |op, used, f: &dyn Fn(&mut WriteState)| {
            let mut s = state(op, used);
            f(&mut s);
            s
        };
        let rows = vec![
            Row {
                name: "create active",
                state: state(Create, 1),
                answer: ok(true),
                next: Next::Applied,
            },
            Row {
                name: "update active",
                state: state(Update, 1),
                answer: ok(true),
                next: Next::Applied,
            },
            Row {
                name: "create inactive",
                state: state(Create, 1),
                answer: ok(false),
                next: Next::Fail(FailReason::Inactive),
            },
            Row {
                name: "update inactive",
                state: state(Update, 1),
                answer: ok(false),
                next: Next::Fail(FailReason::Inactive),
            },
            Row {
                name: "2014 on create reads",
                state: state(Create, 1),
                answer: Answer::Error(&e409),
                next: Next::ReadThenUpdate,
            },
            Row {
                name: "2014 on create reads even at the ledger limit",
                state: state(Create, 3),
                answer: Answer::Error(&e409),
                next: Next::ReadThenUpdate,
            },
            Row {
                name: "2014 on update is rejected",
                state: state(Update, 1),
                answer: Answer::Error(&e409),
                next: Next::Fail(FailReason::Rejected),
            },
            Row {
                name: "2012 on update creates",
                state: state(Update, 1),
                answer: Answer::Error(&e404),
                next: Next::Create,
            },
            Row {
                name: "2012 on update at ledger limit defers",
                state: state(Update, 3),
                answer: Answer::Error(&e404),
                next: Next::Defer(DeferReason::Ledger),
            },
            Row {
                name: "2012 on create is rejected",
                state: state(Create, 1),
                answer: Answer::Error(&e404),
                next: Next::Fail(FailReason::Rejected),
            },
            Row {
                name: "2022 first retry",
                state: state(Create, 1),
                answer: Answer::Error(&e2022),
                next: backoff0.clone(),
            },
            Row {
                name: "2022 second retry backs off more",
                state: with(Update, 2, &|s| s.setup_retries = 1),
                answer: Answer::Error(&e2022),
                next: Next::Retry {
                    after: MS(1000),
                    wait: Wait::Backoff,
                },
            },
            Row {
                name: "2022 after two retries fails",
                state: with(Create, 3, &|s| s.setup_retries = 2),
                answer: Answer::Error(&e2022),
                next: Next::Fail(FailReason::SetupIncomplete),
            },
            Row {
                name: "2022 at the ledger limit defers",
                state: with(Create, 3, &|s| s.setup_retries = 1),
                answer: Answer::Error(&e2022),
                next: Next::Defer(DeferReason::Ledger),
            },
            Row {
                name: "4004 defers at once",
                state: state(Create, 1),
                answer: Answer::Error(&e4004),
                next: Next::Defer(DeferReason::UpstreamLimited),
            },
            Row {
                name: "4004 on update defers",
                state: state(Update, 1),
                answer: Answer::Error(&e4004),
                next: Next::Defer(DeferReason::UpstreamLimited),
            },
            Row {
                name: "429 within budget waits",
                state: state(Update, 1),
                answer: Answer::Error(&e429),
                next: Next::Retry {
                    after: S(30),
                    wait: Wait::RetryAfter,
                },
            },
            Row {
                name: "429 exactly the budget waits",
                state: with(Update, 1, &|s| s.wait_left = S(30)),
                answer: Answer::Error(&e429),
                next: Next::Retry {
                    after: S(30),
                    wait: Wait::RetryAfter,
                },
            },
            Row {
                name: "429 over the budget defers",
                state: state(Update, 1),
                answer: Answer::Error(&e429_long),
                next: Next::Defer(DeferReason::WaitTooLong {
                    needed: S(61),
                    left: S(60),
                }),
            },
            Row {
                name: "429 over what is left defers",
                state: with(Create, 1, &|s| s.wait_left = S(29)),
                answer: Answer::Error(&e429),
                next: Next::Defer(DeferReason::WaitTooLong {
                    needed: S(30),
                    left: S(29),
                }),
            },
            Row {
                name: "429 without Retry-After defers",
                state: state(Update, 1),
                answer: Answer::Error(&e429_none),
                next: Next::Defer(DeferReason::WaitUnknown),
            },
            Row {
                name: "429 at the ledger limit defers",
                state: state(Update, 3),
                answer: Answer::Error(&e429),
                next: Next::Defer(DeferReason::Ledger),
            },
            Row {
                name: "500 retries",
                state: state(Update, 1),
                answer: Answer::Error(&e500),
                next: backoff0.clone(),
            },
            Row {
                name: "502 retries, exponent from transient retries",
                state: with(Create, 2, &|s| {
                    s.transient_retries = 1;
                    s.jitter = 0.5
                }),
                answer: Answer::Error(&e502),
                next: Next::Retry {
                    after: MS(1500),
                    wait: Wait::Backoff,
                },
            },
            Row {
                name: "network retries",
                state: state(Create, 1),
                answer: Answer::Error(&n),
                next: backoff0.clone(),
            },
            Row {
                name: "network at the ledger limit defers",
                state: state(Create, 3),
                answer: Answer::Error(&n),
                next: Next::Defer(DeferReason::Ledger),
            },
            Row {
                name: "5xx at the ledger limit defers",
                state: state(Update, 3),
                answer: Answer::Error(&e500),
                next: Next::Defer(DeferReason::Ledger),
            },
            Row {
                name: "401 stops",
                state: state(Create, 1),
                answer: Answer::Error(&e401),
                next: Next::Stop,
            },
            Row {
                name: "403 stops",
                state: state(Update, 1),
                answer: Answer::Error(&e403),
                next: Next::Stop,
            },
            Row {
                name: "other 4xx fails",
                state: state(Update, 1),
                answer: Answer::Error(&e400),
                next: Next::Fail(FailReason::Rejected),
            },
            Row {
                name: "undecodable fails",
                state: state(Create, 1),
                answer: Answer::Error(&d),
                next: Next::Fail(FailReason::Undecodable),
            },
        ];
        for r in rows {
            assert_eq!(after_write(&r.state, r.answer), r.next, "{}", r.name);
        }
    }

    fn card(active: bool) -> ContactCard {
        ContactCard {
            phone_number: "+12223334444".into(),
            first_name: "A".into(),
            last_name: None,
            image_url: None,
            is_active: active,
        }
    }

    #[test]
    fn after_read_table() {
        let rs = |writes_used, read_retries, reads_done| ReadState {
            writes_used,
            read_retries,
            reads_done,
            wait_left: S(10),
            jitter: 0.0,
        };
        let active = card(true);
        let inactive = card(false);
        let e404 = api(404, Some(2012), None);
        let e401 = api(401, Some(2004), None);
        let e500 = api(500, None, None);
        let e429 = api(429, None, Some(3));
        let e429_long = api(429, None, Some(30));
        let e429_none = api(429, None, None);
        let e4004 = api(503, Some(4004), None);
        let e400 = api(400, Some(1005), None);
        let n = net();
        let rows: Vec<(
            &str,
            ReadState,
            Result<&ContactCard, &ClientError>,
            ReadNext,
        )> = vec![
            (
                "active compares",
                rs(1, 0, 1),
                Ok(&active),
                ReadNext::Compare,
            ),
            (
                "active compares at the ledger limit",
                rs(3, 0, 1),
                Ok(&active),
                ReadNext::Compare,
            ),
            (
                "inactive creates",
                rs(1, 0, 1),
                Ok(&inactive),
                ReadNext::Create,
            ),
            (
                "inactive at the ledger limit defers",
                rs(3, 0, 1),
                Ok(&inactive),
                ReadNext::Defer(DeferReason::Ledger),
            ),
            (
                "inactive a second time fails",
                rs(2, 0, 2),
                Ok(&inactive),
                ReadNext::Fail(FailReason::Flapping),
            ),
            ("2012 creates", rs(1, 0, 1), Err(&e404), ReadNext::Create),
            (
                "2012 at the ledger limit defers",
                rs(3, 0, 1),
                Err(&e404),
                ReadNext::Defer(DeferReason::Ledger),
            ),
            ("401 stops", rs(1, 0, 1), Err(&e401), ReadNext::Stop),
            (
                "500 retries",
                rs(1, 0, 1),
                Err(&e500),
                ReadNext::Retry {
                    after: MS(500),
                    wait: Wait::Backoff,
                },
            ),
            (
                "network retries",
                rs(1, 1, 1),
                Err(&n),
                ReadNext::Retry {
                    after: MS(1000),
                    wait: Wait::Backoff,
                },
            ),
            (
                "read retries run out",
                rs(1, 2, 1),
                Err(&n),
                ReadNext::Fail(FailReason::ReadFailed),
            ),
            (
                "429 within budget waits",
                rs(1, 0, 1),
                Err(&e429),
                ReadNext::Retry {
                    after: S(3),
                    wait: Wait::RetryAfter,
                },
            ),
            (
                "429 over budget defers",
                rs(1, 0, 1),
                Err(&e429_long),
                ReadNext::Defer(DeferReason::WaitTooLong {
                    needed: S(30),
                    left: S(10),
                }),
            ),
            (
                "429 without Retry-After defers",
                rs(1, 0, 1),
                Err(&e429_none),
                ReadNext::Defer(DeferReason::WaitUnknown),
            ),
            (
                "4004 defers",
                rs(1, 0, 1),
                Err(&e4004),
                ReadNext::Defer(DeferReason::UpstreamLimited),
            ),
            (
                "other 4xx fails",
                rs(1, 0, 1),
                Err(&e400),
                ReadNext::Fail(FailReason::Rejected),
            ),
        ];
        for (name, s, answer, next) in rows {
            assert_eq!(after_read(&s, answer), next, "{name}");
        }
    }

    #[test]
    fn reasons_read_well() {
        assert_eq!(
            DeferReason::WaitTooLong {
                needed: S(120),
                left: S(60)
            }
            .to_string(),
            "rate limited: Retry-After 120 s exceeds the 60 s left of --max-wait"
        );
        assert!(DeferReason::Ledger
            .to_string()
            .contains("more than 3 writes"));
        assert!(FailReason::Inactive
            .to_string()
            .contains("setup did not complete"));
    }
}
