//! Executor tests against a scripted in-memory [`CardApi`], on tokio's paused
//! clock: each test names the exact calls (order, bodies) and outcomes SPEC's
//! "How apply writes" demands.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use crate::api::{ApiError, CardFields, ClientError, ContactCard, CreateCard, ErrorCode};
use crate::apply::card_api::CardApi;
use crate::apply::event::{Event, Reporter};
use crate::apply::executor::{run, Job, Options};
use crate::apply::outcome::{ApplyResult, Outcome, Stopped};
use crate::apply::policy::Wait;
use crate::apply::signals::Cancel;
use crate::exit::Exit;
use crate::image::{ImageVerdict, ImageVerdicts};
use crate::plan::model::ChangeBody;
use crate::plan::{Action, Change, Field, LiveFields, Reason};

const A: &str = "+12223330001";
const B: &str = "+12223330002";
const C: &str = "+12223330003";
const SRC: &str = "https://img.example/logo.png";

/// A scripted answer.
#[derive(Debug, Clone)]
enum Reply {
    /// Success; the card becomes (or stays) active.
    Active,
    /// Success, but `is_active: false`.
    Inactive,
    /// An API error: status, code, Retry-After seconds.
    Api(u16, Option<u32>, Option<u64>),
    /// No answer (timed out).
    Net,
    /// For reads: this exact card.
    Card(ContactCard),
}

fn api_error(status: u16, code: Option<u32>, retry_after: Option<u64>) -> ClientError {
    ClientError::Api(ApiError {
        status,
        code: code.map(ErrorCode::from_u32),
        message: format!("scripted {status}"),
        trace_id: Some(format!("trace-{status}")),
        doc_url: None,
        retry_after: retry_after.map(Duration::from_secs),
    })
}

#[derive(Debug, Clone, PartialEq)]
struct Call {
    method: &'static str,
    phone: String,
    body: Value,
    at: Duration,
}

#[derive(Default)]
struct Inner {
    writes: HashMap<String, VecDeque<Reply>>,
    gets: HashMap<String, VecDeque<Reply>>,
    live: BTreeMap<String, ContactCard>,
    /// What the list call answers instead of `live`, when set.
    list_override: Option<Result<Vec<ContactCard>, u16>>,
    calls: Vec<Call>,
    in_flight: usize,
    max_in_flight: usize,
    busy: HashSet<String>,
    overlaps: Vec<String>,
    rehosted: u32,
}

/// The scripted API. Writes with no scripted reply fail the test loudly.
struct Scripted {
    inner: Mutex<Inner>,
    latency: Duration,
    start: Instant,
}

impl Scripted {
    fn new() -> Scripted {
        Scripted {
            inner: Mutex::new(Inner::default()),
            latency: Duration::from_millis(100),
            start: Instant::now(),
        }
    }

    fn latency(mut self, d: Duration) -> Scripted {
        self.latency = d;
        self
    }

    fn writes(self, phone: &str, replies: &[Reply]) -> Scripted {
        self.lock()
            .writes
            .entry(phone.into())
            .or_default()
            .extend(replies.iter().cloned());
        self
    }

    fn gets(self, phone: &str, replies: &[Reply]) -> Scripted {
        self.lock()
            .gets
            .entry(phone.into())
            .or_default()
            .extend(replies.iter().cloned());
        self
    }

    fn live(self, card: ContactCard) -> Scripted {
        self.lock().live.insert(card.phone_number.clone(), card);
        self
    }

    fn list_override(self, r: Result<Vec<ContactCard>, u16>) -> Scripted {
        self.lock().list_override = Some(r);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("test mutex")
    }

    fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// `(method, phone)` of every call, in order.
    fn trace(&self) -> Vec<(&'static str, String)> {
        self.calls()
            .into_iter()
            .map(|c| (c.method, c.phone))
            .collect()
    }

    fn writes_to(&self, phone: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.phone == phone && (c.method == "POST" || c.method == "PATCH"))
            .collect()
    }

    async fn enter(&self, method: &'static str, phone: &str, body: Value) {
        {
            let mut i = self.lock();
            let at = self.start.elapsed();
            i.calls.push(Call {
                method,
                phone: phone.into(),
                body,
                at,
            });
            if method != "LIST" {
                if !i.busy.insert(phone.into()) {
                    i.overlaps.push(phone.into());
                }
                i.in_flight += 1;
                i.max_in_flight = i.max_in_flight.max(i.in_flight);
            }
        }
        tokio::time::sleep(self.latency).await;
    }

    fn leave(&self, phone: &str) {
        let mut i = self.lock();
        i.busy.remove(phone);
        i.in_flight -= 1;
    }

    fn write(
        &self,
        phone: &str,
        fields: CardFields,
        create: bool,
    ) -> Result<ContactCard, ClientError> {
        let mut i = self.lock();
        let reply = i
            .writes
            .get_mut(phone)
            .and_then(VecDeque::pop_front)
            .unwrap_or_else(|| panic!("unexpected write to {phone}: nothing scripted"));
        let active = match reply {
            Reply::Active => true,
            Reply::Inactive => false,
            Reply::Api(s, c, r) => return Err(api_error(s, c, r)),
            Reply::Net => {
                return Err(ClientError::Network {
                    message: "operation timed out".into(),
                    timeout: true,
                })
            }
            Reply::Card(_) => panic!("Card is a read reply"),
        };
        // Like Linq: a create replaces the card, an update merges; a sent image
        // is rehosted on the CDN under a new URL.
        let mut card = match (create, i.live.get(phone)) {
            (false, Some(c)) => c.clone(),
            _ => ContactCard {
                phone_number: phone.into(),
                first_name: String::new(),
                last_name: None,
                image_url: None,
                is_active: false,
            },
        };
        if let Some(f) = fields.first_name {
            card.first_name = f;
        }
        if let Some(l) = fields.last_name {
            card.last_name = Some(l);
        }
        if fields.image_url.is_some() {
            i.rehosted += 1;
            card.image_url = Some(format!(
                "https://cdn.linqapp.com/contact-card/{}.png",
                i.rehosted
            ));
        }
        card.is_active = active;
        i.live.insert(phone.into(), card.clone());
        Ok(card)
    }
}

impl CardApi for Scripted {
    async fn create(&self, body: &CreateCard) -> Result<ContactCard, ClientError> {
        let v = serde_json::to_value(body).expect("serialisable");
        self.enter("POST", &body.phone_number, v).await;
        let fields = CardFields {
            first_name: Some(body.first_name.clone()),
            last_name: body.last_name.clone(),
            image_url: body.image_url.clone(),
        };
        let r = self.write(&body.phone_number, fields, true);
        self.leave(&body.phone_number);
        r
    }

    async fn update(&self, phone: &str, body: &CardFields) -> Result<ContactCard, ClientError> {
        let v = serde_json::to_value(body).expect("serialisable");
        self.enter("PATCH", phone, v).await;
        let r = self.write(phone, body.clone(), false);
        self.leave(phone);
        r
    }

    async fn get(&self, phone: &str) -> Result<ContactCard, ClientError> {
        self.enter("GET", phone, Value::Null).await;
        let r = {
            let mut i = self.lock();
            match i.gets.get_mut(phone).and_then(VecDeque::pop_front) {
                Some(Reply::Card(c)) => Ok(c),
                Some(Reply::Api(s, c, r)) => Err(api_error(s, c, r)),
                Some(Reply::Net) => Err(ClientError::Network {
                    message: "reset".into(),
                    timeout: false,
                }),
                Some(other) => panic!("{other:?} is not a read reply"),
                None => i
                    .live
                    .get(phone)
                    .cloned()
                    .ok_or_else(|| api_error(404, Some(2012), None)),
            }
        };
        self.leave(phone);
        r
    }

    async fn list(&self) -> Result<Vec<ContactCard>, ClientError> {
        self.enter("LIST", "", Value::Null).await;
        let i = self.lock();
        match &i.list_override {
            Some(Ok(cards)) => Ok(cards.clone()),
            Some(Err(status)) => Err(api_error(*status, None, None)),
            None => Ok(i.live.values().cloned().collect()),
        }
    }
}

/// Records the events that matter to the CLI.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Reporter for Recorder {
    fn event(&self, e: &Event<'_>) {
        let line = match e {
            Event::Waiting {
                phone_number,
                wait: Wait::RetryAfter,
                after,
            } => format!("retry-after {phone_number} {}s", after.as_secs()),
            Event::Waiting { phone_number, .. } => format!("backoff {phone_number}"),
            Event::Stopping { why } => format!("stopping {why:?}"),
            Event::Finished { result } => {
                format!("finished {} {:?}", result.phone_number, result.outcome)
            }
            _ => return,
        };
        self.0.lock().expect("test mutex").push(line);
    }
}

impl Recorder {
    fn lines(&self) -> Vec<String> {
        self.0.lock().expect("test mutex").clone()
    }
}

fn desired(phone: &str, first: &str, last: Option<&str>, image: Option<&str>) -> CreateCard {
    CreateCard {
        phone_number: phone.into(),
        first_name: first.into(),
        last_name: last.map(Into::into),
        image_url: image.map(Into::into),
    }
}

fn create_job(d: CreateCard) -> Job {
    Job {
        change: Change {
            phone_number: d.phone_number.clone(),
            action: Action::Create,
            reason: Some(Reason::Missing),
            fields: None,
            before: None,
            after: ChangeBody {
                phone_number: Some(d.phone_number.clone()),
                fields: CardFields {
                    first_name: Some(d.first_name.clone()),
                    last_name: d.last_name.clone(),
                    image_url: d.image_url.clone(),
                },
            },
            notes: vec![],
        },
        desired: d,
    }
}

/// An update whose PATCH carries `after`; the live card is `before`.
fn update_job(d: CreateCard, before: &ContactCard, after: CardFields) -> Job {
    let mut fields = vec![];
    if after.first_name.is_some() {
        fields.push(Field::FirstName);
    }
    if after.last_name.is_some() {
        fields.push(Field::LastName);
    }
    if after.image_url.is_some() {
        fields.push(Field::ImageUrl);
    }
    Job {
        change: Change {
            phone_number: d.phone_number.clone(),
            action: Action::Update,
            reason: None,
            fields: Some(fields),
            before: Some(LiveFields::from(before)),
            after: ChangeBody {
                phone_number: None,
                fields: after,
            },
            notes: vec![],
        },
        desired: d,
    }
}

fn live(
    phone: &str,
    first: &str,
    last: Option<&str>,
    image: Option<&str>,
    active: bool,
) -> ContactCard {
    ContactCard::sample(phone, first, last, image, active)
}

fn first_name(f: &str) -> CardFields {
    CardFields {
        first_name: Some(f.into()),
        ..Default::default()
    }
}

async fn go(api: &Scripted, jobs: &[Job], opts: Options) -> (ApplyResult, Recorder) {
    let rec = Recorder::default();
    let r = run(
        api,
        &ImageVerdicts::default(),
        jobs,
        0,
        opts,
        &Cancel::never(),
        &rec,
    )
    .await;
    (r, rec)
}

fn opts(concurrency: usize, max_wait: u64) -> Options {
    Options {
        concurrency,
        max_wait: Duration::from_secs(max_wait),
    }
}

fn outcome(r: &ApplyResult, phone: &str) -> (Outcome, u32) {
    let c = r
        .results
        .iter()
        .find(|c| c.phone_number == phone)
        .unwrap_or_else(|| panic!("no result for {phone}"));
    (c.outcome, c.attempts)
}

fn s(v: &str) -> String {
    v.to_string()
}

#[tokio::test(start_paused = true)]
async fn happy_path_one_write_per_card() {
    let before = live(
        B,
        "Old",
        Some("Support"),
        Some("https://cdn.linqapp.com/x.png"),
        true,
    );
    let api = Scripted::new()
        .live(before.clone())
        .writes(A, &[Reply::Active])
        .writes(B, &[Reply::Active]);
    let jobs = [
        create_job(desired(A, "Acme", Some("Support"), Some(SRC))),
        update_job(
            desired(B, "New", Some("Support"), None),
            &before,
            first_name("New"),
        ),
    ];
    let (r, _) = go(&api, &jobs, Options::default()).await;

    let writes: Vec<_> = api
        .calls()
        .into_iter()
        .filter(|c| c.method != "LIST")
        .map(|c| (c.method, c.phone, c.body))
        .collect();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert!(writes.contains(&(
        "POST",
        s(A),
        json!({"phone_number": A, "first_name": "Acme", "last_name": "Support", "image_url": SRC})
    )));
    assert!(writes.contains(&("PATCH", s(B), json!({"first_name": "New"}))));
    assert_eq!(
        api.trace().last(),
        Some(&("LIST", s(""))),
        "one verification list call"
    );
    assert_eq!(outcome(&r, A), (Outcome::Applied, 1));
    assert_eq!(outcome(&r, B), (Outcome::Applied, 1));
    // The create's image is live as a CDN copy: that counts as converged.
    assert!(r.results.iter().all(|c| c.converged && c.error.is_none()));
    assert!(r.converged);
    assert_eq!(r.exit(), Exit::Success);
    assert_eq!(
        (r.summary.applied, r.summary.failed, r.summary.deferred),
        (2, 0, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn empty_plan_makes_no_calls() {
    let api = Scripted::new();
    let rec = Recorder::default();
    let r = run(
        &api,
        &ImageVerdicts::default(),
        &[],
        5,
        Options::default(),
        &Cancel::never(),
        &rec,
    )
    .await;
    assert!(api.calls().is_empty());
    assert!(r.converged);
    assert_eq!(r.summary.unchanged, 5);
    assert_eq!(r.exit(), Exit::Success);
}

#[tokio::test(start_paused = true)]
async fn create_meeting_2014_reads_and_patches_only_what_differs() {
    let cdn = "https://cdn.linqapp.com/contact-card/someone-else.png";
    let api = Scripted::new()
        .writes(A, &[Reply::Api(409, Some(2014), None), Reply::Active])
        .live(live(A, "Other", Some("Support"), Some(cdn), true));
    let jobs = [create_job(desired(A, "Acme", Some("Support"), Some(SRC)))];
    let mut verdicts = ImageVerdicts::default();
    verdicts.pairs.insert((s(SRC), s(cdn)), ImageVerdict::Same);
    let r = run(
        &api,
        &verdicts,
        &jobs,
        0,
        Options::default(),
        &Cancel::never(),
        &(),
    )
    .await;

    let calls = api.calls();
    assert_eq!(
        calls.iter().map(|c| c.method).collect::<Vec<_>>(),
        ["POST", "GET", "PATCH", "LIST"]
    );
    // The picture is the same, so only the name goes out.
    assert_eq!(calls[2].body, json!({"first_name": "Acme"}));
    assert_eq!(outcome(&r, A), (Outcome::Applied, 2));
    assert!(r.converged, "{r:?}");
}

#[tokio::test(start_paused = true)]
async fn create_meeting_2014_writes_nothing_when_the_card_matches() {
    let api = Scripted::new()
        .writes(A, &[Reply::Api(409, Some(2014), None)])
        .gets(
            A,
            &[Reply::Card(live(
                A,
                "Acme",
                Some("Support"),
                Some(SRC),
                true,
            ))],
        )
        .live(live(A, "Acme", Some("Support"), Some(SRC), true));
    let (r, _) = go(
        &api,
        &[create_job(desired(A, "Acme", Some("Support"), Some(SRC)))],
        Options::default(),
    )
    .await;
    assert_eq!(api.writes_to(A).len(), 1);
    assert_eq!(outcome(&r, A), (Outcome::Applied, 1));
    assert!(r.converged);
    assert_eq!(r.exit(), Exit::Success);
}

#[tokio::test(start_paused = true)]
async fn create_meeting_2014_sends_an_image_it_cannot_vouch_for() {
    // No verdict for this pair: by URL they differ, so the image goes out.
    let cdn = "https://cdn.linqapp.com/contact-card/old.png";
    let api = Scripted::new()
        .writes(A, &[Reply::Api(409, Some(2014), None), Reply::Active])
        .live(live(A, "Acme", None, Some(cdn), true));
    let (r, _) = go(
        &api,
        &[create_job(desired(A, "Acme", None, Some(SRC)))],
        Options::default(),
    )
    .await;
    let w = api.writes_to(A);
    assert_eq!(w[1].body, json!({"image_url": SRC}));
    assert!(r.converged);
}

#[tokio::test(start_paused = true)]
async fn update_meeting_2012_creates_with_every_desired_field() {
    let before = live(
        A,
        "Old",
        Some("Support"),
        Some("https://cdn.linqapp.com/1.png"),
        true,
    );
    let api = Scripted::new().writes(A, &[Reply::Api(404, Some(2012), None), Reply::Active]);
    let job = update_job(
        desired(A, "New", Some("Support"), Some(SRC)),
        &before,
        first_name("New"),
    );
    let (r, _) = go(&api, &[job], Options::default()).await;
    let w = api.writes_to(A);
    assert_eq!(w.len(), 2);
    assert_eq!(
        (w[0].method, w[0].body.clone()),
        ("PATCH", json!({"first_name": "New"}))
    );
    assert_eq!(
        (w[1].method, w[1].body.clone()),
        (
            "POST",
            json!({"phone_number": A, "first_name": "New", "last_name": "Support", "image_url": SRC})
        )
    );
    assert_eq!(outcome(&r, A), (Outcome::Applied, 2));
    assert_eq!(
        r.results[0].action,
        Action::Update,
        "the planned action is reported"
    );
    assert!(r.converged);
}

#[tokio::test(start_paused = true)]
async fn setup_incomplete_is_retried_twice_with_backoff_then_fails() {
    let e = Reply::Api(500, Some(2022), None);
    let api = Scripted::new().writes(A, &[e.clone(), e.clone(), e]);
    let (r, rec) = go(
        &api,
        &[create_job(desired(A, "Acme", None, None))],
        Options::default(),
    )
    .await;
    let w = api.writes_to(A);
    assert_eq!(w.len(), 3, "the call and two more");
    // Backoff: at least 0.5 s, then at least 1 s (plus the 0.1 s call latency).
    assert!(w[1].at - w[0].at >= Duration::from_millis(600), "{w:?}");
    assert!(w[2].at - w[1].at >= Duration::from_millis(1100), "{w:?}");
    assert_eq!(outcome(&r, A), (Outcome::Failed, 3));
    let err = r.results[0].error.as_ref().expect("an error");
    assert_eq!((err.status, err.code), (Some(500), Some(2022)));
    assert_eq!(err.trace_id.as_deref(), Some("trace-500"));
    assert_eq!(
        rec.lines()
            .iter()
            .filter(|l| l.starts_with("backoff"))
            .count(),
        2
    );
    assert_eq!(r.exit(), Exit::Error);
    assert!(!r.converged);
}

#[tokio::test(start_paused = true)]
async fn setup_incomplete_on_an_update_is_retried_as_a_create() {
    let api = Scripted::new().writes(A, &[Reply::Api(500, Some(2022), None), Reply::Active]);
    let (r, _) = go(
        &api,
        &[update_job(
            desired(A, "New", Some("Support"), None),
            &live(A, "Old", Some("Support"), None, true),
            CardFields {
                first_name: Some("New".into()),
                ..CardFields::default()
            },
        )],
        Options::default(),
    )
    .await;
    let w = api.writes_to(A);
    assert_eq!(
        w.iter()
            .map(|c| (c.method, c.body.clone()))
            .collect::<Vec<_>>(),
        [
            ("PATCH", json!({"first_name": "New"})),
            (
                "POST",
                json!({"phone_number": A, "first_name": "New", "last_name": "Support"})
            ),
        ]
    );
    assert_eq!(outcome(&r, A), (Outcome::Applied, 2));
}

#[tokio::test(start_paused = true)]
async fn setup_incomplete_then_success_on_the_second_try() {
    let api = Scripted::new().writes(A, &[Reply::Api(500, Some(2022), None), Reply::Active]);
    let (r, _) = go(
        &api,
        &[create_job(desired(A, "Acme", None, None))],
        Options::default(),
    )
    .await;
    assert_eq!(api.writes_to(A).len(), 2);
    assert_eq!(outcome(&r, A), (Outcome::Applied, 2));
    assert_eq!(r.exit(), Exit::Success);
}

#[tokio::test(start_paused = true)]
async fn inactive_answer_fails_the_card() {
    let api = Scripted::new().writes(A, &[Reply::Inactive]);
    let (r, _) = go(
        &api,
        &[create_job(desired(A, "Acme", None, None))],
        Options::default(),
    )
    .await;
    assert_eq!(api.writes_to(A).len(), 1);
    assert_eq!(outcome(&r, A), (Outcome::Failed, 1));
    assert!(
        r.results[0].detail.contains("setup did not complete"),
        "{}",
        r.results[0].detail
    );
    assert_eq!(r.exit(), Exit::Error);
}

#[tokio::test(start_paused = true)]
async fn upstream_limit_defers_after_exactly_one_call() {
    let api = Scripted::new()
        .writes(A, &[Reply::Api(503, Some(4004), None)])
        .writes(B, &[Reply::Active]);
    let jobs = [
        create_job(desired(A, "Acme", None, None)),
        create_job(desired(B, "Acme", None, None)),
    ];
    let (r, _) = go(&api, &jobs, Options::default()).await;
    assert_eq!(api.writes_to(A).len(), 1);
    assert_eq!(outcome(&r, A), (Outcome::Deferred, 1));
    assert_eq!(r.results[0].error.as_ref().and_then(|e| e.code), Some(4004));
    assert_eq!(outcome(&r, B), (Outcome::Applied, 1));
    assert_eq!(r.exit(), Exit::Deferred);
}

#[tokio::test(start_paused = true)]
async fn rate_limit_short_wait_then_success_and_long_wait_deferred() {
    let api = Scripted::new()
        .writes(A, &[Reply::Api(429, Some(1007), Some(5)), Reply::Active])
        .writes(B, &[Reply::Api(429, Some(1007), Some(120))])
        .writes(C, &[Reply::Active]);
    let jobs = [
        create_job(desired(A, "Acme", None, None)),
        create_job(desired(B, "Acme", None, None)),
        create_job(desired(C, "Acme", None, None)),
    ];
    let (r, rec) = go(&api, &jobs, opts(8, 60)).await;
    let w = api.writes_to(A);
    assert_eq!(w.len(), 2);
    assert!(w[1].at - w[0].at >= Duration::from_secs(5), "{w:?}");
    assert!(
        rec.lines().contains(&format!("retry-after {A} 5s")),
        "{:?}",
        rec.lines()
    );
    assert_eq!(outcome(&r, A), (Outcome::Applied, 2));
    assert_eq!(outcome(&r, B), (Outcome::Deferred, 1));
    assert!(
        r.results[1].detail.contains("Retry-After 120 s"),
        "{}",
        r.results[1].detail
    );
    assert_eq!(outcome(&r, C), (Outcome::Applied, 1));
    assert_eq!(r.exit(), Exit::Deferred);
}

#[tokio::test(start_paused = true)]
async fn wait_budget_is_shared_across_cards() {
    let api = Scripted::new()
        .writes(A, &[Reply::Api(429, None, Some(40)), Reply::Active])
        .writes(B, &[Reply::Api(429, None, Some(40)), Reply::Active]);
    let jobs = [
        create_job(desired(A, "Acme", None, None)),
        create_job(desired(B, "Acme", None, None)),
    ];
    let started = Instant::now();
    let (r, rec) = go(&api, &jobs, opts(8, 60)).await;
    let waits: Vec<_> = rec
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("retry-after"))
        .collect();
    assert_eq!(waits.len(), 1, "40 + 40 > 60: only one card may wait");
    let outcomes = [outcome(&r, A).0, outcome(&r, B).0];
    assert!(outcomes.contains(&Outcome::Applied) && outcomes.contains(&Outcome::Deferred));
    assert!(started.elapsed() < Duration::from_secs(45));
    assert_eq!(r.exit(), Exit::Deferred);
}

#[tokio::test(start_paused = true)]
async fn rate_limit_without_retry_after_defers() {
    let api = Scripted::new().writes(A, &[Reply::Api(429, None, None)]);
    let (r, _) = go(
        &api,
        &[create_job(desired(A, "Acme", None, None))],
        Options::default(),
    )
    .await;
    assert_eq!(outcome(&r, A), (Outcome::Deferred, 1));
}

#[tokio::test(start_paused = true)]
async fn auth_failure_stops_every_further_write() {
    let api = Scripted::new()
        .latency(Duration::from_secs(1))
        .writes(A, &[Reply::Api(401, Some(2004), None)]);
    let jobs = [
        create_job(desired(A, "Acme", None, None)),
        create_job(desired(B, "Acme", None, None)),
        create_job(desired(C, "Acme", None, None)),
    ];
    let (r, rec) = go(&api, &jobs, opts(1, 60)).await;
    assert_eq!(
        api.trace(),
        [("POST", s(A))],
        "no other call, not even the verification"
    );
    assert_eq!(outcome(&r, A), (Outcome::Failed, 1));
    assert_eq!(
        r.results[0].error.as_ref().and_then(|e| e.status),
        Some(401)
    );
    for phone in [B, C] {
        assert_eq!(outcome(&r, phone), (Outcome::Failed, 0));
    }
    assert_eq!(r.results[1].detail, "not attempted: authentication failed");
    assert_eq!(r.stopped, Some(Stopped::AuthFailed));
    assert_eq!(
        rec.lines()
            .iter()
            .filter(|l| l.starts_with("stopping"))
            .count(),
        1
    );
    assert_eq!(r.exit(), Exit::Error);
}

#[tokio::test(start_paused = true)]
async fn other_client_error_fails_with_message_and_trace_id() {
    let api = Scripted::new()
        .writes(A, &[Reply::Api(400, Some(1003), None)])
        .writes(B, &[Reply::Active]);
    let jobs = [
        create_job(desired(A, "Acme", None, None)),
        create_job(desired(B, "Acme", None, None)),
    ];
    let (r, _) = go(&api, &jobs, Options::default()).await;
    assert_eq!(outcome(&r, A), (Outcome::Failed, 1));
    let e = r.results[0].error.as_ref().expect("error");
    assert_eq!(e.message, "scripted 400");
    assert_eq!(e.trace_id.as_deref(), Some("trace-400"));
    assert_eq!(e.code, Some(1003));
    assert_eq!(outcome(&r, B), (Outcome::Applied, 1), "other cards go on");
    assert_eq!(r.exit(), Exit::Error);
}

#[tokio::test(start_paused = true)]
async fn timed_out_create_then_2014_reads_and_writes_nothing_more() {
    // The first POST landed but its answer was lost; the retry meets 2014.
    let api = Scripted::new()
        .writes(A, &[Reply::Net, Reply::Api(409, Some(2014), None)])
        .live(live(A, "Acme", None, None, true));
    let (r, rec) = go(
        &api,
        &[create_job(desired(A, "Acme", None, None))],
        Options::default(),
    )
    .await;
    assert_eq!(
        api.trace(),
        [
            ("POST", s(A)),
            ("POST", s(A)),
            ("GET", s(A)),
            ("LIST", s(""))
        ]
    );
    assert_eq!(
        rec.lines()
            .iter()
            .filter(|l| l.starts_with("backoff"))
            .count(),
        1
    );
    assert_eq!(outcome(&r, A), (Outcome::Applied, 2));
    assert!(r.converged);
}

#[tokio::test(start_paused = true)]
async fn timed_out_create_then_2014_patches_what_differs() {
    let api = Scripted::new()
        .writes(
            A,
            &[Reply::Net, Reply::Api(409, Some(2014), None), Reply::Active],
        )
        .live(live(A, "Someone", None, None, true));
    let (r, _) = go(
        &api,
        &[create_job(desired(A, "Acme", None, None))],
        Options::default(),
    )
    .await;
    let w = api.writes_to(A);
    assert_eq!(
        w.iter().map(|c| c.method).collect::<Vec<_>>(),
        ["POST", "POST", "PATCH"]
    );
    assert_eq!(w[2].body, json!({"first_name": "Acme"}));
    assert_eq!(outcome(&r, A), (Outcome::Applied, 3));
    assert!(r.converged);
}

#[tokio::test(start_paused = true)]
async fn ledger_defers_a_card_that_would_need_a_fourth_write() {
    let e = Reply::Api(500, Some(2022), None);
    let api = Scripted::new()
        .writes(A, &[e.clone(), e, Reply::Api(409, Some(2014), None)])
        .gets(A, &[Reply::Card(live(A, "Someone", None, None, true))]);
    let (r, _) = go(
        &api,
        &[create_job(desired(A, "Acme", None, None))],
        Options::default(),
    )
    .await;
    assert_eq!(
        api.trace()
            .into_iter()
            .filter(|(m, _)| *m != "LIST")
            .collect::<Vec<_>>(),
        [
            ("POST", s(A)),
            ("POST", s(A)),
            ("POST", s(A)),
            ("GET", s(A))
        ]
    );
    assert_eq!(outcome(&r, A), (Outcome::Deferred, 3));
    assert!(
        r.results[0].detail.contains("more than 3 writes"),
        "{}",
        r.results[0].detail
    );
    assert_eq!(r.exit(), Exit::Deferred);
}

#[tokio::test(start_paused = true)]
async fn network_errors_retry_until_the_ledger_is_spent() {
    let api = Scripted::new().writes(A, &[Reply::Net, Reply::Net, Reply::Net]);
    let before = live(A, "Old", None, None, true);
    let job = update_job(desired(A, "New", None, None), &before, first_name("New"));
    let (r, _) = go(&api, &[job], Options::default()).await;
    let w = api.writes_to(A);
    assert_eq!(w.len(), 3);
    assert!(w[2].at - w[1].at > w[1].at - w[0].at, "exponential: {w:?}");
    assert_eq!(outcome(&r, A), (Outcome::Deferred, 3));
    assert!(r.results[0]
        .error
        .as_ref()
        .is_some_and(|e| e.message.contains("timed out")));
}

#[tokio::test(start_paused = true)]
async fn server_error_is_retried_then_succeeds() {
    let api = Scripted::new().writes(A, &[Reply::Api(502, None, None), Reply::Active]);
    let (r, _) = go(
        &api,
        &[create_job(desired(A, "Acme", None, None))],
        Options::default(),
    )
    .await;
    assert_eq!(outcome(&r, A), (Outcome::Applied, 2));
    assert!(
        r.results[0].error.is_none(),
        "an applied card carries no error"
    );
}

#[tokio::test(start_paused = true)]
async fn cancellation_lets_in_flight_writes_finish_and_starts_no_more() {
    let api = Scripted::new()
        .latency(Duration::from_secs(1))
        .writes(A, &[Reply::Active])
        .writes(B, &[Reply::Active])
        .writes(C, &[Reply::Active]);
    let jobs = [
        create_job(desired(A, "Acme", None, None)),
        create_job(desired(B, "Acme", None, None)),
        create_job(desired(C, "Acme", None, None)),
    ];
    let (handle, cancel) = Cancel::new();
    let rec = Recorder::default();
    let verdicts = ImageVerdicts::default();
    let run = run(&api, &verdicts, &jobs, 0, opts(1, 60), &cancel, &rec);
    let signal = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        handle.cancel();
    };
    let (r, ()) = tokio::join!(run, signal);
    let writes: Vec<_> = api
        .trace()
        .into_iter()
        .filter(|(m, _)| *m == "POST")
        .collect();
    assert_eq!(
        writes.len(),
        1,
        "only the write in flight at the signal: {writes:?}"
    );
    let first = &writes[0].1;
    assert_eq!(outcome(&r, first), (Outcome::Applied, 1));
    assert_eq!(r.summary.failed, 2);
    assert!(r
        .results
        .iter()
        .filter(|c| c.outcome == Outcome::Failed)
        .all(|c| c.detail == "not attempted: interrupted" && c.attempts == 0));
    assert_eq!(r.stopped, Some(Stopped::Interrupted));
    // What was written is still verified.
    assert_eq!(api.trace().last(), Some(&("LIST", s(""))));
    assert!(r.results.iter().any(|c| c.converged));
    assert_eq!(r.exit(), Exit::Error);
}

#[tokio::test(start_paused = true)]
async fn cancellation_cuts_a_retry_after_wait_short() {
    let api = Scripted::new().writes(A, &[Reply::Api(429, None, Some(50))]);
    let (handle, cancel) = Cancel::new();
    let started = Instant::now();
    let verdicts = ImageVerdicts::default();
    let jobs = [create_job(desired(A, "Acme", None, None))];
    let run = run(&api, &verdicts, &jobs, 0, opts(1, 60), &cancel, &());
    let signal = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        handle.cancel();
    };
    let (r, ()) = tokio::join!(run, signal);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(api.writes_to(A).len(), 1);
    assert_eq!(outcome(&r, A), (Outcome::Failed, 1));
    assert!(r.results[0]
        .detail
        .starts_with("stopped before its next call"));
    // The last API error stays visible.
    assert_eq!(
        r.results[0].error.as_ref().and_then(|e| e.status),
        Some(429)
    );
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_bounded_and_one_number_never_overlaps() {
    let phones: Vec<String> = (0..20).map(|i| format!("+1222333{i:04}")).collect();
    let mut api = Scripted::new().latency(Duration::from_secs(1));
    for p in &phones {
        api = api.writes(p, &[Reply::Api(500, Some(2022), None), Reply::Active]);
    }
    // The same number twice in one plan still runs one call at a time.
    api = api.writes(&phones[0], &[Reply::Active]);
    let mut jobs: Vec<Job> = phones
        .iter()
        .map(|p| create_job(desired(p, "Acme", None, None)))
        .collect();
    let before = live(&phones[0], "Acme", None, None, true);
    jobs.push(update_job(
        desired(&phones[0], "Acme2", None, None),
        &before,
        first_name("Acme2"),
    ));
    let (r, _) = go(&api, &jobs, opts(3, 60)).await;
    let inner = api.lock();
    assert_eq!(
        inner.max_in_flight, 3,
        "the limit is reached and never exceeded"
    );
    assert!(
        inner.overlaps.is_empty(),
        "overlapping calls: {:?}",
        inner.overlaps
    );
    drop(inner);
    assert_eq!(r.summary.applied, 21);
    assert_eq!(api.writes_to(&phones[0]).len(), 3);
}

#[tokio::test(start_paused = true)]
async fn verification_rereads_a_lagging_card_once() {
    // The list still shows the old name; the re-read shows the new one.
    let stale = live(A, "Old", None, None, true);
    let api = Scripted::new()
        .writes(A, &[Reply::Active])
        .list_override(Ok(vec![stale.clone()]));
    let job = update_job(desired(A, "New", None, None), &stale, first_name("New"));
    let (r, _) = go(&api, &[job], Options::default()).await;
    assert_eq!(
        api.trace(),
        [("PATCH", s(A)), ("LIST", s("")), ("GET", s(A))]
    );
    assert!(r.converged);

    // Still stale on the re-read: reported unconverged, exit 1.
    let api = Scripted::new()
        .writes(A, &[Reply::Active])
        .list_override(Ok(vec![stale.clone()]))
        .gets(A, &[Reply::Card(stale.clone())]);
    let job = update_job(desired(A, "New", None, None), &stale, first_name("New"));
    let (r, _) = go(&api, &[job], Options::default()).await;
    assert_eq!(outcome(&r, A), (Outcome::Applied, 1));
    assert!(!r.results[0].converged);
    assert!(!r.converged);
    assert_eq!(r.exit(), Exit::Error);
}

#[tokio::test(start_paused = true)]
async fn verification_survives_a_failed_list_call() {
    let api = Scripted::new()
        .writes(A, &[Reply::Active])
        .list_override(Err(500));
    let (r, _) = go(
        &api,
        &[create_job(desired(A, "Acme", None, None))],
        Options::default(),
    )
    .await;
    assert_eq!(
        api.trace(),
        [("POST", s(A)), ("LIST", s("")), ("GET", s(A))]
    );
    assert!(r.converged, "the re-read found it");
    assert_eq!(r.verification_notes.len(), 1, "{:?}", r.verification_notes);
}

#[test]
fn job_from_change_alone_rebuilds_the_desired_card() {
    let before = live(
        A,
        "Old",
        Some("Support"),
        Some("https://cdn.linqapp.com/1.png"),
        true,
    );
    let j = update_job(desired(A, "x", None, None), &before, first_name("New"));
    let j = Job::from_change(j.change);
    assert_eq!(
        j.desired,
        desired(
            A,
            "New",
            Some("Support"),
            Some("https://cdn.linqapp.com/1.png")
        )
    );
    let c = create_job(desired(A, "Acme", None, Some(SRC)));
    assert_eq!(
        Job::from_change(c.change).desired,
        desired(A, "Acme", None, Some(SRC))
    );
}

#[tokio::test(start_paused = true)]
async fn hand_edited_create_without_first_name_uses_the_desired_one() {
    let mut job = create_job(desired(A, "Acme", None, None));
    job.change.after.fields.first_name = None;
    let api = Scripted::new().writes(A, &[Reply::Active]);
    let (r, _) = go(&api, &[job], Options::default()).await;
    assert_eq!(
        api.writes_to(A)[0].body,
        json!({"phone_number": A, "first_name": "Acme"})
    );
    assert!(r.converged);
}
