//! Apply output: the result as text or as SPEC's JSON document, and the two
//! progress reporters (plain lines for CI logs, an indicatif bar on a
//! terminal). Progress goes to stderr so that stdout holds only the result.
//! Nothing here decides: counts, outcomes and the exit status come from
//! [`ApplyResult`].

use std::io::{self, Write};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::apply::outcome::{ApplyResult, CardResult, ErrorInfo, Outcome, Stopped};
use crate::apply::policy::Wait;
use crate::apply::{Event, Reporter};
use crate::plan::Action;

/// SPEC's JSON apply result, pretty-printed, with a final newline.
pub fn render_json(result: &ApplyResult, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, result)?;
    writeln!(out)
}

fn paint(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn outcome_word(o: Outcome, color: bool) -> String {
    match o {
        Outcome::Applied => paint(color, "32", "applied"),
        Outcome::Failed => paint(color, "31", "failed"),
        Outcome::Deferred => paint(color, "33", "deferred"),
    }
}

fn action_word(a: Action) -> &'static str {
    match a {
        Action::Create => "create",
        Action::Update => "update",
    }
}

/// `HTTP 400, code 1003: message (trace_id …)`, or the bare message for a
/// problem that was not an API answer.
pub fn error_text(e: &ErrorInfo) -> String {
    let mut s = String::new();
    if let Some(status) = e.status {
        s.push_str(&format!("HTTP {status}"));
        if let Some(code) = e.code {
            s.push_str(&format!(", code {code}"));
        }
        s.push_str(": ");
    }
    s.push_str(&e.message);
    if let Some(t) = &e.trace_id {
        s.push_str(&format!(" (trace_id {t})"));
    }
    s
}

fn card_line(r: &CardResult, color: bool, with_convergence: bool) -> String {
    let mut line = format!(
        "{}  {}  {}: {}",
        r.phone_number,
        action_word(r.action),
        outcome_word(r.outcome, color),
        r.detail
    );
    if r.attempts != 1 {
        line.push_str(&format!(" [{} writes]", r.attempts));
    }
    if let Some(e) = &r.error {
        // The detail already says it when it is our own message.
        if e.status.is_some() || e.message != r.detail {
            line.push_str(&format!(" — {}", error_text(e)));
        }
    }
    if with_convergence && r.outcome == Outcome::Applied && !r.converged {
        line.push_str(&format!(" — {}", paint(color, "31", "NOT converged")));
    }
    line
}

/// The human summary printed after apply.
pub fn render_text(result: &ApplyResult, color: bool, out: &mut impl Write) -> io::Result<()> {
    for r in &result.results {
        writeln!(out, "{}", card_line(r, color, true))?;
    }
    if !result.results.is_empty() {
        writeln!(out)?;
    }
    let s = &result.summary;
    writeln!(
        out,
        "Apply: {} applied, {} failed, {} deferred, {} unchanged.",
        s.applied, s.failed, s.deferred, s.unchanged
    )?;
    match result.stopped {
        Some(Stopped::AuthFailed) => writeln!(
            out,
            "Stopped early: the API refused the token (401/403); no further writes were started."
        )?,
        Some(Stopped::Interrupted) => writeln!(
            out,
            "Stopped early: interrupted; writes in flight finished, none were started after."
        )?,
        None => {}
    }
    for note in &result.verification_notes {
        writeln!(out, "Verification: {note}")?;
    }
    if result.converged {
        writeln!(
            out,
            "{}",
            paint(color, "32", "Every planned card converged.")
        )?;
    } else if s.failed == 0
        && s.deferred > 0
        && !result
            .results
            .iter()
            .any(|r| r.outcome == Outcome::Applied && !r.converged)
    {
        writeln!(
            out,
            "{}",
            paint(
                color,
                "33",
                "Some cards were deferred by rate limits: run apply again later."
            )
        )?;
    } else {
        writeln!(
            out,
            "{}",
            paint(color, "31", "Not every planned card converged.")
        )?;
    }
    Ok(())
}

/// The apply result as Markdown, for the GitHub job summary: the counts
/// first, then one table row per planned card. Card strings and API messages
/// are escaped like the plan's, so none can break the markup.
pub fn render_markdown(result: &ApplyResult) -> String {
    use crate::render::markdown::text;
    let s = &result.summary;
    let mut md = String::from("### linq-cards apply\n\n");
    md.push_str(&format!(
        "**{} applied, {} failed, {} deferred, {} unchanged** — {}\n\n",
        s.applied,
        s.failed,
        s.deferred,
        s.unchanged,
        if result.converged {
            "every planned card converged"
        } else {
            "not every planned card converged"
        }
    ));
    if result.results.is_empty() {
        return md;
    }
    md.push_str("| number | action | outcome | writes | detail |\n|---|---|---|---|---|\n");
    for r in &result.results {
        let action = match r.action {
            Action::Create => "create",
            Action::Update => "update",
        };
        let outcome = match r.outcome {
            Outcome::Applied if !r.converged => "applied, not converged",
            Outcome::Applied => "applied",
            Outcome::Failed => "failed",
            Outcome::Deferred => "deferred",
        };
        let detail = match &r.error {
            Some(e) => error_text(e),
            None => r.detail.clone(),
        };
        md.push_str(&format!(
            "| {} | {action} | {outcome} | {} | {} |\n",
            text(&r.phone_number),
            r.attempts,
            text(&detail)
        ));
    }
    md
}

fn event_line(e: &Event<'_>) -> Option<String> {
    Some(match e {
        Event::Start { cards } => format!("applying {cards} card(s)"),
        Event::Call { .. } => return None,
        Event::Waiting {
            phone_number,
            wait: Wait::RetryAfter,
            after,
        } => format!(
            "{phone_number}  rate limited: waiting {} s (Retry-After)",
            after.as_secs()
        ),
        Event::Waiting {
            phone_number,
            wait: Wait::Backoff,
            after,
        } => format!("{phone_number}  retrying in {:.1} s", after.as_secs_f64()),
        Event::Finished { result } => card_line(result, false, false),
        Event::Stopping {
            why: Stopped::AuthFailed,
        } => "authentication failed: no further writes will start".to_string(),
        Event::Stopping {
            why: Stopped::Interrupted,
        } => "interrupted: no further writes will start".to_string(),
        Event::Verifying => "verifying".to_string(),
    })
}

/// Plain progress lines, one per event worth a line (CI logs, pipes).
pub struct LineReporter<W: Write + Send> {
    out: Mutex<W>,
}

impl<W: Write + Send> LineReporter<W> {
    pub fn new(out: W) -> Self {
        LineReporter {
            out: Mutex::new(out),
        }
    }

    pub fn into_inner(self) -> W {
        self.out.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

impl<W: Write + Send> Reporter for LineReporter<W> {
    fn event(&self, e: &Event<'_>) {
        if let Some(line) = event_line(e) {
            let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
            // Progress is best effort: a closed stderr must not stop the writes.
            let _ = writeln!(out, "{line}");
        }
    }
}

/// A live progress bar on stderr, with the same lines printed above it.
pub struct ProgressReporter {
    bar: ProgressBar,
}

impl ProgressReporter {
    pub fn new() -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} cards {msg}")
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        ProgressReporter { bar }
    }
}

impl Default for ProgressReporter {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for ProgressReporter {
    fn event(&self, e: &Event<'_>) {
        match e {
            Event::Start { cards } => {
                self.bar.set_length(*cards as u64);
                self.bar
                    .enable_steady_tick(std::time::Duration::from_millis(120));
            }
            Event::Call {
                phone_number,
                method,
            } => self.bar.set_message(format!("{method} {phone_number}")),
            Event::Finished { .. } => {
                if let Some(line) = event_line(e) {
                    self.bar.println(line);
                }
                self.bar.inc(1);
            }
            Event::Verifying => {
                self.bar.finish_and_clear();
                eprintln!("verifying");
            }
            _ => {
                if let Some(line) = event_line(e) {
                    self.bar.println(line);
                }
            }
        }
    }
}

impl Drop for ProgressReporter {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn result() -> ApplyResult {
        let card =
            |phone: &str, action, outcome, attempts, error, detail: &str, converged| CardResult {
                phone_number: phone.into(),
                action,
                outcome,
                attempts,
                error,
                detail: detail.into(),
                converged,
            };
        ApplyResult::new(
            vec![
                card(
                    "+12223334444",
                    Action::Create,
                    Outcome::Applied,
                    1,
                    None,
                    "created",
                    true,
                ),
                card(
                    "+12223335555",
                    Action::Update,
                    Outcome::Failed,
                    1,
                    Some(ErrorInfo {
                        status: Some(400),
                        code: Some(1003),
                        message: "invalid request body".into(),
                        trace_id: Some("2eff5df5".into()),
                    }),
                    "rejected by the API",
                    false,
                ),
                card(
                    "+12223336666",
                    Action::Update,
                    Outcome::Deferred,
                    1,
                    Some(ErrorInfo::local("rate limited without a Retry-After")),
                    "rate limited without a Retry-After",
                    false,
                ),
            ],
            4,
            None,
            vec![],
        )
    }

    #[test]
    fn text_summary() {
        let mut out = Vec::new();
        render_text(&result(), false, &mut out).expect("write to Vec");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(
            text,
            "+12223334444  create  applied: created\n\
             +12223335555  update  failed: rejected by the API — HTTP 400, code 1003: invalid request body (trace_id 2eff5df5)\n\
             +12223336666  update  deferred: rate limited without a Retry-After\n\
             \n\
             Apply: 1 applied, 1 failed, 1 deferred, 4 unchanged.\n\
             Not every planned card converged.\n"
        );
    }

    #[test]
    fn text_for_only_deferred_says_run_again() {
        let mut r = result();
        r.results.remove(1);
        let r = ApplyResult::new(r.results, 0, None, vec![]);
        let mut out = Vec::new();
        render_text(&r, false, &mut out).expect("write to Vec");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.contains("run apply again later"), "{text}");
    }

    #[test]
    fn json_is_the_spec_document() {
        let mut out = Vec::new();
        render_json(&result(), &mut out).expect("write to Vec");
        let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(v["format_version"], 1);
        assert_eq!(v["summary"]["unchanged"], 4);
        assert_eq!(v["results"][1]["error"]["trace_id"], "2eff5df5");
        assert_eq!(v["converged"], false);
    }

    #[test]
    fn markdown_summary_counts_first_and_escapes_api_text() {
        let mut r = result();
        if let Some(e) = r.results[1].error.as_mut() {
            e.message = "bad | <script>alert(1)</script>\nrow".into();
        }
        let md = render_markdown(&r);
        assert!(
            md.starts_with(
                "### linq-cards apply\n\n**1 applied, 1 failed, 1 deferred, 4 unchanged**"
            ),
            "{md}"
        );
        assert_eq!(
            md.lines().filter(|l| l.starts_with("| +1")).count(),
            3,
            "{md}"
        );
        assert!(md.contains("2eff5df5"), "{md}");
        assert!(!md.contains("<script>"), "{md}");
        // The message's pipe and newline cannot end the cell or the row.
        let failed = md
            .lines()
            .find(|l| l.contains("+12223335555"))
            .expect("row");
        assert_eq!(failed.matches('|').count(), 6, "{failed}");
    }

    #[test]
    fn retry_after_waits_are_printed_with_card_and_seconds() {
        let rep = LineReporter::new(Vec::new());
        rep.event(&Event::Waiting {
            phone_number: "+12223334444",
            wait: Wait::RetryAfter,
            after: Duration::from_secs(7),
        });
        rep.event(&Event::Call {
            phone_number: "+12223334444",
            method: "POST",
        });
        rep.event(&Event::Stopping {
            why: Stopped::Interrupted,
        });
        let text = String::from_utf8(rep.into_inner()).expect("utf-8");
        assert_eq!(
            text,
            "+12223334444  rate limited: waiting 7 s (Retry-After)\n\
             interrupted: no further writes will start\n"
        );
    }
}
