//! What apply did, as data. The serde form of [`ApplyResult`] is SPEC's JSON
//! apply result (`apply --format json`); keys may be added, none may change
//! meaning. The exit status is derived here so that renderers decide nothing.

use serde::{Deserialize, Serialize};

use crate::api::{ApiError, ClientError};
use crate::exit::Exit;
use crate::plan::Action;

/// Version of the JSON apply-result format.
pub const FORMAT_VERSION: u32 = 1;

/// SPEC's three outcomes of a planned card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The write went through and the card is active.
    Applied,
    /// The card did not get written and running again as is will not help on its
    /// own (or the run was stopped before it: auth failure, interrupt).
    Failed,
    /// Rate limits (429, 4004, the write ledger) held the card back: run again later.
    Deferred,
}

/// The error behind a failed or deferred card. `status`, `code` and `trace_id`
/// come from the API and are `null` when the problem was not an API answer
/// (network error, the write ledger, an interrupt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    pub status: Option<u16>,
    pub code: Option<u32>,
    pub message: String,
    pub trace_id: Option<String>,
}

impl ErrorInfo {
    /// An error that is not an API answer.
    pub fn local(message: impl Into<String>) -> ErrorInfo {
        ErrorInfo {
            status: None,
            code: None,
            message: message.into(),
            trace_id: None,
        }
    }
}

impl From<&ApiError> for ErrorInfo {
    fn from(e: &ApiError) -> Self {
        ErrorInfo {
            status: Some(e.status),
            code: e.code.map(|c| c.as_u32()),
            message: e.message.clone(),
            trace_id: e.trace_id.clone(),
        }
    }
}

impl From<&ClientError> for ErrorInfo {
    fn from(e: &ClientError) -> Self {
        match e {
            ClientError::Api(api) => api.into(),
            ClientError::Decode { status, .. } => ErrorInfo {
                status: Some(*status),
                code: None,
                message: e.to_string(),
                trace_id: None,
            },
            ClientError::Network { .. } => ErrorInfo::local(e.to_string()),
        }
    }
}

/// One planned card after apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardResult {
    pub phone_number: String,
    /// The planned action (a fallback, e.g. create after `2012`, does not change it).
    pub action: Action,
    pub outcome: Outcome,
    /// Write calls (POST and PATCH) made to this number in this run.
    pub attempts: u32,
    pub error: Option<ErrorInfo>,
    /// Added key: what happened, in words ("applied", "deferred: Retry-After 120 s
    /// exceeds the 60 s left of --max-wait", ...).
    pub detail: String,
    /// Added key: whether the verification read found the card as desired.
    pub converged: bool,
}

/// SPEC's `summary` of the apply result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplySummary {
    pub applied: usize,
    pub failed: usize,
    pub deferred: usize,
    pub unchanged: usize,
}

/// Why the run stopped writing early, if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stopped {
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// The API answered 401 or 403.
    AuthFailed,
}

/// The whole apply result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyResult {
    pub format_version: u32,
    /// In plan order.
    pub results: Vec<CardResult>,
    pub summary: ApplySummary,
    /// True when every planned card is applied and the verification read found it
    /// as desired (true for an empty plan).
    pub converged: bool,
    /// Added key: set when writing stopped early.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stopped>,
    /// Added key: problems of the verification read itself (e.g. the list call failed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verification_notes: Vec<String>,
}

impl ApplyResult {
    /// Assemble a result; the summary and `converged` are derived from `results`.
    pub fn new(
        results: Vec<CardResult>,
        unchanged: usize,
        stopped: Option<Stopped>,
        verification_notes: Vec<String>,
    ) -> ApplyResult {
        let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
        let summary = ApplySummary {
            applied: count(Outcome::Applied),
            failed: count(Outcome::Failed),
            deferred: count(Outcome::Deferred),
            unchanged,
        };
        let converged = results
            .iter()
            .all(|r| r.outcome == Outcome::Applied && r.converged);
        ApplyResult {
            format_version: FORMAT_VERSION,
            results,
            summary,
            converged,
            stopped,
            verification_notes,
        }
    }

    /// SPEC's exit codes: 0 every planned card converged; 1 a card failed (or
    /// was applied but did not converge); 3 nothing failed but something was
    /// deferred by rate limits.
    pub fn exit(&self) -> Exit {
        let unconverged_applied = self
            .results
            .iter()
            .any(|r| r.outcome == Outcome::Applied && !r.converged);
        if self.summary.failed > 0 || unconverged_applied {
            Exit::Error
        } else if self.summary.deferred > 0 {
            Exit::Deferred
        } else {
            Exit::Success
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ErrorCode;

    fn card(outcome: Outcome, converged: bool) -> CardResult {
        CardResult {
            phone_number: "+12223334444".into(),
            action: Action::Update,
            outcome,
            attempts: 1,
            error: None,
            detail: String::new(),
            converged,
        }
    }

    #[test]
    fn exit_codes_follow_spec() {
        use Outcome::*;
        type Row<'a> = (&'a [(Outcome, bool)], Exit, bool);
        let rows: &[Row] = &[
            (&[], Exit::Success, true),
            (&[(Applied, true), (Applied, true)], Exit::Success, true),
            (&[(Applied, true), (Deferred, false)], Exit::Deferred, false),
            (&[(Deferred, false), (Failed, false)], Exit::Error, false),
            (&[(Applied, true), (Failed, false)], Exit::Error, false),
            // Applied but the verification read disagrees: not a success.
            (&[(Applied, false)], Exit::Error, false),
            (&[(Applied, false), (Deferred, false)], Exit::Error, false),
        ];
        for (cards, exit, converged) in rows {
            let results = cards.iter().map(|(o, c)| card(*o, *c)).collect();
            let r = ApplyResult::new(results, 2, None, vec![]);
            assert_eq!(r.exit(), *exit, "{cards:?}");
            assert_eq!(r.converged, *converged, "{cards:?}");
            assert_eq!(r.summary.unchanged, 2);
        }
    }

    #[test]
    fn json_has_spec_keys() {
        let mut failed = card(Outcome::Failed, false);
        failed.error = Some(ErrorInfo::from(&ApiError {
            status: 400,
            code: Some(ErrorCode::InvalidBody),
            message: "bad body".into(),
            trace_id: Some("t-1".into()),
            doc_url: None,
            retry_after: None,
        }));
        let r = ApplyResult::new(vec![card(Outcome::Applied, true), failed], 4, None, vec![]);
        let v = serde_json::to_value(&r).expect("serialisable");
        assert_eq!(v["format_version"], 1);
        assert_eq!(v["results"][0]["outcome"], "applied");
        assert_eq!(v["results"][0]["action"], "update");
        assert_eq!(v["results"][0]["attempts"], 1);
        assert!(v["results"][0]["error"].is_null());
        assert_eq!(
            v["results"][1]["error"],
            serde_json::json!({"status": 400, "code": 1003, "message": "bad body", "trace_id": "t-1"})
        );
        assert_eq!(
            v["summary"],
            serde_json::json!({"applied": 1, "failed": 1, "deferred": 0, "unchanged": 4})
        );
        assert_eq!(v["converged"], false);
        assert!(v.get("stopped").is_none());
    }

    #[test]
    fn network_error_info_has_no_api_fields() {
        let e = ClientError::Network {
            message: "connection reset".into(),
            timeout: true,
        };
        let info = ErrorInfo::from(&e);
        assert_eq!(info.status, None);
        assert_eq!(info.trace_id, None);
        assert!(info.message.contains("timed out"), "{}", info.message);
    }
}
