//! The executor: carries a plan's writes out against a [`CardApi`], one task
//! per card, at most `concurrency` calls at once and never two calls for one
//! number at once. Every decision is `policy`'s; this module only performs
//! them: the ledger before each write, sleeps (raced against cancellation),
//! the shared `--max-wait` budget, the auth stop, events and tracing.
//! It ends with the verification read and returns the [`ApplyResult`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::api::{CardFields, ClientError, ContactCard, CreateCard};
use crate::apply::card_api::{CardApi, ImageJudge};
use crate::apply::event::{Event, Reporter};
use crate::apply::ledger::Ledger;
use crate::apply::outcome::{ApplyResult, CardResult, ErrorInfo, Outcome, Stopped};
use crate::apply::policy::{
    self, Answer, DeferReason, FailReason, Next, Op, ReadNext, ReadState, Wait, WriteState,
};
use crate::apply::signals::Cancel;
use crate::apply::verify::{self, Expect};
use crate::config::DesiredCard;
use crate::image::ImageVerdict;
use crate::plan::{Action, Change};

/// Default `--concurrency`.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// One planned card: the plan's change and the desired card in full. The full
/// card is needed when an update has to become a create (`2012`), and to
/// compare after a `2014`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub change: Change,
    pub desired: CreateCard,
}

impl Job {
    pub fn new(change: Change, desired: &DesiredCard) -> Job {
        Job {
            change,
            desired: CreateCard {
                phone_number: desired.phone_number.as_str().to_string(),
                first_name: desired.first_name.clone(),
                last_name: desired.last_name.clone(),
                image_url: desired.image_url.clone(),
            },
        }
    }

    /// A job from the change alone, for `apply --plan` where the file is not
    /// read: a create's desired card is its body; an update's is the live card
    /// the plan saw with the update laid over it. That may carry live values of
    /// unmanaged fields, which a fallback create then re-sends unchanged (a CDN
    /// image URL is a valid image source).
    pub fn from_change(change: Change) -> Job {
        let after = &change.after.fields;
        let before = change.before.as_ref();
        let pick = |new: &Option<String>, old: Option<&Option<String>>| {
            new.clone().or_else(|| old.cloned().flatten())
        };
        let desired = CreateCard {
            phone_number: change.phone_number.clone(),
            first_name: after
                .first_name
                .clone()
                .or_else(|| before.map(|b| b.first_name.clone()))
                .unwrap_or_default(),
            last_name: pick(&after.last_name, before.map(|b| &b.last_name)),
            image_url: pick(&after.image_url, before.map(|b| &b.image_url)),
        };
        Job { change, desired }
    }

    /// The POST body of a planned create: the plan's `after`, which SPEC says is
    /// exactly the body sent. A missing `first_name` (a hand-edited plan) falls
    /// back to the desired card's, since the API requires one.
    fn create_body(&self) -> CreateCard {
        let after = &self.change.after;
        CreateCard {
            phone_number: after
                .phone_number
                .clone()
                .unwrap_or_else(|| self.change.phone_number.clone()),
            first_name: after
                .fields
                .first_name
                .clone()
                .unwrap_or_else(|| self.desired.first_name.clone()),
            last_name: after.fields.last_name.clone(),
            image_url: after.fields.image_url.clone(),
        }
    }
}

/// How the executor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Calls in flight at once (at least 1).
    pub concurrency: usize,
    /// Total sleep for `429 Retry-After` across the run (`--max-wait`).
    pub max_wait: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrency: DEFAULT_CONCURRENCY,
            max_wait: Duration::from_secs(60),
        }
    }
}

/// Execute `jobs`, verify, and return the result (`unchanged` is the plan's
/// count of unchanged cards, for the summary).
pub async fn run<A, J, R>(
    api: &A,
    judge: &J,
    jobs: &[Job],
    unchanged: usize,
    opts: Options,
    cancel: &Cancel,
    reporter: &R,
) -> ApplyResult
where
    A: CardApi,
    J: ImageJudge,
    R: Reporter,
{
    let engine = Engine {
        api,
        judge,
        reporter,
        cancel,
        ledger: Ledger::new(),
        permits: Semaphore::new(opts.concurrency.max(1)),
        wait_used: Mutex::new(Duration::ZERO),
        max_wait: opts.max_wait,
        auth_failed: AtomicBool::new(false),
        stop_announced: AtomicBool::new(false),
    };
    reporter.event(&Event::Start { cards: jobs.len() });

    // One sequential task per number, so one number's calls never overlap even
    // if a plan named it twice.
    let mut by_number: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, job) in jobs.iter().enumerate() {
        by_number
            .entry(&job.change.phone_number)
            .or_default()
            .push(i);
    }
    let tasks = by_number.into_values().map(|indices| {
        let engine = &engine;
        async move {
            let mut done = Vec::with_capacity(indices.len());
            for i in indices {
                let job = &jobs[i];
                let span = tracing::info_span!(
                    "card",
                    phone_number = %job.change.phone_number,
                    action = ?job.change.action
                );
                let run = engine.run_card(job).instrument(span).await;
                reporter.event(&Event::Finished {
                    result: &run.result,
                });
                done.push((i, run));
            }
            done
        }
    });
    let mut runs: Vec<Option<CardRun>> = (0..jobs.len()).map(|_| None).collect();
    for (i, run) in futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
    {
        runs[i] = Some(run);
    }
    let runs: Vec<CardRun> = runs
        .into_iter()
        .map(|r| r.expect("every job index belongs to exactly one task"))
        .collect();

    let stopped = if engine.auth_failed.load(Ordering::SeqCst) {
        Some(Stopped::AuthFailed)
    } else if cancel.is_cancelled() {
        Some(Stopped::Interrupted)
    } else {
        None
    };

    let mut notes = Vec::new();
    let verified: Vec<(usize, Expect)> = runs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.result.outcome == Outcome::Applied)
        .map(|(i, r)| {
            let expect = Expect {
                desired: jobs[i].desired.clone(),
                accepted_image: r.accepted_image.clone(),
            };
            (i, expect)
        })
        .collect();
    let mut results: Vec<CardResult> = runs.into_iter().map(|r| r.result).collect();
    if stopped == Some(Stopped::AuthFailed) {
        // The read would be refused just the same; do not knock again.
        if !verified.is_empty() {
            notes.push("verification skipped: authentication failed".to_string());
        }
    } else if !verified.is_empty() {
        reporter.event(&Event::Verifying);
        let expects: Vec<Expect> = verified.iter().map(|(_, e)| e.clone()).collect();
        let v = verify::verify(api, &expects).await;
        for ((i, _), ok) in verified.iter().zip(v.converged) {
            results[*i].converged = ok;
        }
        notes.extend(v.notes);
    }
    ApplyResult::new(results, unchanged, stopped, notes)
}

/// What one card's run produced.
struct CardRun {
    result: CardResult,
    accepted_image: Option<String>,
}

struct Engine<'a, A, J, R> {
    api: &'a A,
    judge: &'a J,
    reporter: &'a R,
    cancel: &'a Cancel,
    ledger: Ledger,
    permits: Semaphore,
    wait_used: Mutex<Duration>,
    max_wait: Duration,
    auth_failed: AtomicBool,
    stop_announced: AtomicBool,
}

/// The next call a card makes.
enum Step {
    Write(Op, CardFields),
    Read,
}

/// A card's progress, turned into its [`CardResult`] at the end.
struct Track<'j> {
    job: &'j Job,
    attempts: u32,
    last_error: Option<ErrorInfo>,
    notes: Vec<String>,
    accepted_image: Option<String>,
}

impl Track<'_> {
    fn end(self, outcome: Outcome, detail: String) -> CardRun {
        let mut detail = detail;
        for n in &self.notes {
            detail.push_str("; ");
            detail.push_str(n);
        }
        CardRun {
            result: CardResult {
                phone_number: self.job.change.phone_number.clone(),
                action: self.job.change.action,
                outcome,
                attempts: self.attempts,
                error: if outcome == Outcome::Applied {
                    None
                } else {
                    self.last_error
                },
                detail,
                converged: false,
            },
            accepted_image: if outcome == Outcome::Applied {
                self.accepted_image
            } else {
                None
            },
        }
    }

    fn failed(self, reason: &FailReason) -> CardRun {
        let detail = reason.to_string();
        let mut t = self;
        if t.last_error.is_none() {
            t.last_error = Some(ErrorInfo::local(detail.clone()));
        }
        t.end(Outcome::Failed, detail)
    }

    fn deferred(self, reason: &DeferReason) -> CardRun {
        let detail = reason.to_string();
        let mut t = self;
        if t.last_error.is_none() {
            t.last_error = Some(ErrorInfo::local(detail.clone()));
        }
        t.end(Outcome::Deferred, detail)
    }

    fn error(&mut self, e: &ClientError) {
        self.last_error = Some(ErrorInfo::from(e));
    }
}

impl<A: CardApi, J: ImageJudge, R: Reporter> Engine<'_, A, J, R> {
    /// Why no new write may start, if one may not.
    fn stopped(&self) -> Option<Stopped> {
        if self.auth_failed.load(Ordering::SeqCst) {
            Some(Stopped::AuthFailed)
        } else if self.cancel.is_cancelled() {
            Some(Stopped::Interrupted)
        } else {
            None
        }
    }

    fn announce_stop(&self, why: Stopped) {
        if !self.stop_announced.swap(true, Ordering::SeqCst) {
            self.reporter.event(&Event::Stopping { why });
        }
    }

    /// A card that will not make the call it needs because the run stopped.
    fn not_attempted(&self, track: Track<'_>, why: Stopped) -> CardRun {
        self.announce_stop(why);
        let what = match why {
            Stopped::AuthFailed => "authentication failed",
            Stopped::Interrupted => "interrupted",
        };
        let detail = if track.attempts == 0 {
            format!("not attempted: {what}")
        } else {
            format!("stopped before its next call: {what}")
        };
        let mut t = track;
        if t.last_error.is_none() || t.attempts == 0 {
            t.last_error = Some(ErrorInfo::local(detail.clone()));
        }
        t.end(Outcome::Failed, detail)
    }

    fn wait_left(&self) -> Duration {
        let used = *self.wait_used.lock().unwrap_or_else(|p| p.into_inner());
        self.max_wait.saturating_sub(used)
    }

    /// Draw `d` from the run's `--max-wait` budget; false when it does not fit
    /// any more (another card drew from it since the policy looked).
    fn take_wait(&self, d: Duration) -> bool {
        let mut used = self.wait_used.lock().unwrap_or_else(|p| p.into_inner());
        if used.saturating_add(d) > self.max_wait {
            return false;
        }
        *used += d;
        true
    }

    /// Sleep before a retry; `Err` with the reason when the card must not go on.
    async fn pause(&self, phone: &str, after: Duration, wait: Wait) -> Result<(), PauseEnd> {
        if wait == Wait::RetryAfter && !self.take_wait(after) {
            return Err(PauseEnd::Defer(DeferReason::WaitTooLong {
                needed: after,
                left: self.wait_left(),
            }));
        }
        self.reporter.event(&Event::Waiting {
            phone_number: phone,
            wait,
            after,
        });
        tracing::debug!(
            ?wait,
            seconds = after.as_secs_f64(),
            "waiting before the next call"
        );
        tokio::select! {
            () = tokio::time::sleep(after) => Ok(()),
            () = self.cancel.cancelled() => Err(PauseEnd::Stopped(Stopped::Interrupted)),
        }
    }

    async fn run_card(&self, job: &Job) -> CardRun {
        let phone = job.change.phone_number.as_str();
        let mut t = Track {
            job,
            attempts: 0,
            last_error: None,
            notes: Vec::new(),
            accepted_image: None,
        };
        let mut step = match job.change.action {
            Action::Create => Step::Write(Op::Create, CardFields::default()),
            Action::Update => Step::Write(Op::Update, job.change.after.fields.clone()),
        };
        let (mut setup_retries, mut transient_retries) = (0u32, 0u32);
        let (mut read_retries, mut reads_done) = (0u32, 0u32);
        let mut created_by_fallback = false;
        loop {
            let pause = match step {
                Step::Write(op, ref fields) => {
                    if let Some(why) = self.stopped() {
                        return self.not_attempted(t, why);
                    }
                    let permit = self
                        .permits
                        .acquire()
                        .await
                        .expect("the semaphore is never closed");
                    // The signal may have come while this card queued for a slot.
                    if let Some(why) = self.stopped() {
                        return self.not_attempted(t, why);
                    }
                    let writes_used = match self.ledger.record(phone) {
                        Ok(n) => n,
                        Err(_) => return t.deferred(&DeferReason::Ledger),
                    };
                    t.attempts += 1;
                    self.reporter.event(&Event::Call {
                        phone_number: phone,
                        method: op.method(),
                    });
                    let answer = match op {
                        Op::Create => {
                            // A planned create sends the plan's body; a fallback
                            // create (after 2012) sends every desired field.
                            let body = if job.change.action == Action::Create {
                                job.create_body()
                            } else {
                                job.desired.clone()
                            };
                            tracing::debug!(request = ?body, "POST /v3/contact_card");
                            self.api.create(&body).await
                        }
                        Op::Update => {
                            tracing::debug!(request = ?fields, "PATCH /v3/contact_card");
                            self.api.update(phone, fields).await
                        }
                    };
                    drop(permit);
                    let state = WriteState {
                        op,
                        writes_used,
                        setup_retries,
                        transient_retries,
                        wait_left: self.wait_left(),
                        jitter: fastrand::f64(),
                    };
                    let next = match &answer {
                        Ok(card) => {
                            tracing::debug!(response = ?card, "write answered");
                            policy::after_write(
                                &state,
                                Answer::Written {
                                    is_active: card.is_active,
                                },
                            )
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "write failed");
                            t.error(e);
                            policy::after_write(&state, Answer::Error(e))
                        }
                    };
                    tracing::debug!(?next, "decision");
                    match next {
                        Next::Applied => {
                            let card: Option<&ContactCard> = answer.as_ref().ok();
                            // The live image is now the CDN copy this answer names.
                            t.accepted_image = card.and_then(|c| c.image_url.clone());
                            let how = match (op, created_by_fallback) {
                                (Op::Create, false) => "created",
                                (Op::Create, true) => "created (the card was no longer active)",
                                (Op::Update, _) => "updated",
                            };
                            return t.end(Outcome::Applied, how.to_string());
                        }
                        Next::Fail(reason) => return t.failed(&reason),
                        Next::Defer(reason) => return t.deferred(&reason),
                        Next::Stop => {
                            self.auth_failed.store(true, Ordering::SeqCst);
                            self.announce_stop(Stopped::AuthFailed);
                            return t.failed(&FailReason::Auth);
                        }
                        Next::Retry { after, wait } => {
                            if matches!(
                                answer.as_ref().err().map(policy::classify),
                                Some(policy::Kind::SetupIncomplete)
                            ) {
                                setup_retries += 1;
                                if op == Op::Update {
                                    // LINQ_API.md: a failed update leaves the card
                                    // not active, and PATCH needs an active card;
                                    // POST is the remedy. Retrying the PATCH would
                                    // spend a write on a certain 2012.
                                    t.notes.push(
                                        "update answered 2022: set up again by POST".to_string(),
                                    );
                                    created_by_fallback = true;
                                    step = Step::Write(Op::Create, CardFields::default());
                                }
                            } else if wait == Wait::Backoff {
                                transient_retries += 1;
                            }
                            Some((after, wait))
                        }
                        Next::ReadThenUpdate => {
                            t.notes
                                .push("the card already existed (2014): read it".to_string());
                            read_retries = 0;
                            step = Step::Read;
                            None
                        }
                        Next::Create => {
                            t.notes
                                .push("update answered 2012: created instead".to_string());
                            created_by_fallback = true;
                            step = Step::Write(Op::Create, CardFields::default());
                            None
                        }
                    }
                }
                Step::Read => {
                    if let Some(Stopped::AuthFailed) = self.stopped() {
                        return self.not_attempted(t, Stopped::AuthFailed);
                    }
                    if read_retries == 0 {
                        reads_done += 1;
                    }
                    let permit = self
                        .permits
                        .acquire()
                        .await
                        .expect("the semaphore is never closed");
                    self.reporter.event(&Event::Call {
                        phone_number: phone,
                        method: "GET",
                    });
                    let answer = self.api.get(phone).await;
                    drop(permit);
                    if let Err(e) = &answer {
                        tracing::debug!(error = %e, "read failed");
                        t.error(e);
                    }
                    let state = ReadState {
                        writes_used: self.ledger.count(phone),
                        read_retries,
                        reads_done,
                        wait_left: self.wait_left(),
                        jitter: fastrand::f64(),
                    };
                    let next = policy::after_read(&state, answer.as_ref());
                    tracing::debug!(?next, "decision after read");
                    match next {
                        ReadNext::Compare => {
                            let live = answer.as_ref().expect("Compare follows a card");
                            let body = self.still_differing(&job.desired, live, &mut t).await;
                            if body.is_empty() {
                                return t.end(
                                    Outcome::Applied,
                                    "already as desired: nothing more written".to_string(),
                                );
                            }
                            step = Step::Write(Op::Update, body);
                            None
                        }
                        ReadNext::Create => {
                            created_by_fallback = true;
                            step = Step::Write(Op::Create, CardFields::default());
                            None
                        }
                        ReadNext::Retry { after, wait } => {
                            read_retries += 1;
                            Some((after, wait))
                        }
                        ReadNext::Fail(reason) => return t.failed(&reason),
                        ReadNext::Defer(reason) => return t.deferred(&reason),
                        ReadNext::Stop => {
                            self.auth_failed.store(true, Ordering::SeqCst);
                            self.announce_stop(Stopped::AuthFailed);
                            return t.failed(&FailReason::Auth);
                        }
                    }
                }
            };
            if let Some((after, wait)) = pause {
                match self.pause(phone, after, wait).await {
                    Ok(()) => {}
                    Err(PauseEnd::Defer(reason)) => return t.deferred(&reason),
                    Err(PauseEnd::Stopped(why)) => return self.not_attempted(t, why),
                }
            }
        }
    }

    /// After a `2014`: the fields of `desired` that the live card still lacks.
    /// The image is compared as a picture when the URLs differ; when that
    /// cannot be decided it is sent only if a write is being made anyway.
    async fn still_differing(
        &self,
        desired: &CreateCard,
        live: &ContactCard,
        t: &mut Track<'_>,
    ) -> CardFields {
        let mut body = verify::differing_text(desired, live);
        if let Some(source) = &desired.image_url {
            match live.image_url.as_deref() {
                Some(l) if l == source => t.accepted_image = Some(l.to_string()),
                None => body.image_url = Some(source.clone()),
                Some(l) => match self.judge.same_picture(source, l).await {
                    ImageVerdict::Same => t.accepted_image = Some(l.to_string()),
                    ImageVerdict::Different => body.image_url = Some(source.clone()),
                    ImageVerdict::Unverifiable(why) => {
                        if body.is_empty() {
                            t.notes.push(format!(
                                "the live image could not be compared ({why}); not written"
                            ));
                        } else {
                            body.image_url = Some(source.clone());
                        }
                    }
                },
            }
        }
        body
    }
}

/// Why a pause did not end in another call.
enum PauseEnd {
    Defer(DeferReason),
    Stopped(Stopped),
}
