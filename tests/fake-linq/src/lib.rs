//! A stateful fake of the Linq contact-card API (see `shared/LINQ_API.md`), for
//! tests and for trying linq-cards without an account.
//!
//! It reproduces the documented protocol rather than a simplification of it: bearer
//! auth, one card per number, `is_active`, 409/2014 and 404/2012, the per-number
//! write budget shared by POST and PATCH with `Retry-After`, image rehosting onto its
//! own `/cdn/...` path, and the error envelope with a fresh `trace_id` each time.
//! Tests steer it (faults, latency, drift, setup that does not complete) and
//! assert on what it saw (request log, counters, in-flight peaks, and every
//! request it did not expect).
//!
//! It runs on `127.0.0.1` with a port chosen by the OS, either on the caller's
//! tokio runtime ([`FakeLinq::start`]) or on its own thread
//! ([`FakeLinq::start_blocking`], for synchronous tests that spawn the CLI).

pub mod image_host;
mod rehost;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// A contact card as the API returns it (LINQ_API.md, "What a contact card is").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    pub phone_number: String,
    pub first_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default)]
    pub is_active: bool,
}

impl Card {
    /// An active card with only a first name.
    pub fn new(phone_number: &str, first_name: &str) -> Card {
        Card {
            phone_number: phone_number.to_string(),
            first_name: first_name.to_string(),
            last_name: None,
            image_url: None,
            is_active: true,
        }
    }

    pub fn last_name(mut self, last_name: &str) -> Card {
        self.last_name = Some(last_name.to_string());
        self
    }

    pub fn image_url(mut self, image_url: &str) -> Card {
        self.image_url = Some(image_url.to_string());
        self
    }

    pub fn inactive(mut self) -> Card {
        self.is_active = false;
        self
    }
}

/// How the fake starts. Everything here can also be changed while it runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The bearer token it accepts.
    pub token: String,
    /// The account's phone numbers (`GET /v3/phone_numbers`); writes to any
    /// other number are refused.
    pub numbers: Vec<String>,
    /// Cards present at start (not counted as writes).
    pub cards: Vec<Card>,
    /// Writes (POST and PATCH together) allowed per number per window.
    pub write_budget: u32,
    /// The budget's sliding window: 10 minutes at Linq; shorten it in tests.
    pub write_window: Duration,
    /// Added before every API answer.
    pub latency: Duration,
    /// Rehosted images are scaled down so that their longest side is at most this.
    pub cdn_max_side: u32,
    /// The port to listen on; 0 lets the OS choose.
    pub port: u16,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            token: format!("fake-linq-token-{:016x}", fastrand::u64(..)),
            numbers: Vec::new(),
            cards: Vec::new(),
            write_budget: 3,
            write_window: Duration::from_secs(600),
            latency: Duration::ZERO,
            cdn_max_side: 256,
            port: 0,
        }
    }
}

impl Config {
    /// Add a number to the account.
    pub fn number(mut self, phone_number: &str) -> Config {
        self.numbers.push(phone_number.to_string());
        self
    }

    pub fn numbers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, numbers: I) -> Config {
        self.numbers.extend(numbers.into_iter().map(Into::into));
        self
    }

    /// A card present at start; its number is added to the account too.
    pub fn card(mut self, card: Card) -> Config {
        if !self.numbers.contains(&card.phone_number) {
            self.numbers.push(card.phone_number.clone());
        }
        self.cards.push(card);
        self
    }

    pub fn token(mut self, token: &str) -> Config {
        self.token = token.to_string();
        self
    }

    pub fn write_window(mut self, window: Duration) -> Config {
        self.write_window = window;
        self
    }

    pub fn write_budget(mut self, budget: u32) -> Config {
        self.write_budget = budget;
        self
    }

    pub fn latency(mut self, latency: Duration) -> Config {
        self.latency = latency;
        self
    }
}

/// Which calls a queued fault applies to. Unset parts match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultMatch {
    /// `GET`, `POST` or `PATCH`.
    pub method: Option<String>,
    /// The number the call is about (`phone_number` in the query or the body).
    pub phone: Option<String>,
}

impl FaultMatch {
    pub fn any() -> FaultMatch {
        FaultMatch::default()
    }

    pub fn method(method: &str) -> FaultMatch {
        FaultMatch {
            method: Some(method.to_ascii_uppercase()),
            phone: None,
        }
    }

    pub fn phone(mut self, phone: &str) -> FaultMatch {
        self.phone = Some(phone.to_string());
        self
    }

    /// Any write (POST or PATCH) to this number.
    pub fn writes_to(phone: &str) -> FaultMatch {
        FaultMatch {
            method: Some(WRITES.to_string()),
            phone: Some(phone.to_string()),
        }
    }

    fn matches(&self, method: &str, phone: Option<&str>) -> bool {
        let method_ok = match self.method.as_deref() {
            None => true,
            Some(WRITES) => method == "POST" || method == "PATCH",
            Some(m) => m == method,
        };
        let phone_ok = match &self.phone {
            None => true,
            Some(p) => phone == Some(p.as_str()),
        };
        method_ok && phone_ok
    }
}

/// Pseudo-method of [`FaultMatch::writes_to`].
const WRITES: &str = "POST|PATCH";

/// What happens to the next matching call. Each queued fault fires once, after
/// auth and validation and before the write budget: an injected fault never
/// draws on the budget (but is counted by `writes_for`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this error envelope. Write faults with code 2022 or 4004 leave
    /// the card not active, as LINQ_API.md says failed setups and updates do.
    Error {
        status: u16,
        code: u32,
        /// Seconds, sent as `Retry-After` and `error.retry_after`.
        retry_after: Option<u64>,
    },
    /// Close the connection without answering; nothing is applied.
    Drop,
    /// Apply the call, then close the connection without answering (the write
    /// happened but the client never heard).
    DropAfterApply,
    /// Wait this long, then handle the call normally.
    Delay(Duration),
}

impl Fault {
    pub fn error(status: u16, code: u32) -> Fault {
        Fault::Error {
            status,
            code,
            retry_after: None,
        }
    }

    /// `429`/`1007` with `Retry-After`.
    pub fn rate_limited(retry_after_secs: u64) -> Fault {
        Fault::Error {
            status: 429,
            code: 1007,
            retry_after: Some(retry_after_secs),
        }
    }
}

/// One call the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The number the call was about (decoded query `phone_number` or body field).
    pub phone: Option<String>,
    /// The body as JSON, when it parsed.
    pub body: Option<serde_json::Value>,
    /// The body as text, always (empty when there was none).
    pub raw_body: String,
    /// `None` when the connection was dropped without an answer.
    pub status: Option<u16>,
    /// The Linq error code of the answer, if it was an error envelope.
    pub code: Option<u32>,
    pub user_agent: Option<String>,
    /// Whether the call carried the right bearer token.
    pub authorized: bool,
    pub received_at: SystemTime,
    pub elapsed: Duration,
}

/// A call the fake did not expect from a correct client: unknown path or
/// method, malformed or invalid body, a number not on the account.
#[derive(Debug, Clone, PartialEq)]
pub struct Unexpected {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub reason: String,
}

/// A running fake. Dropping it stops the server.
pub struct FakeLinq {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub(crate) struct Shared {
    pub(crate) state: Mutex<state::State>,
    pub(crate) base_url: String,
    pub(crate) http: reqwest::Client,
}

impl Shared {
    fn new(config: Config, addr: SocketAddr) -> Shared {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("building the fake's download client");
        Shared {
            state: Mutex::new(state::State::new(config)),
            base_url: format!("http://{addr}"),
            http,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, state::State> {
        // A test that panicked while holding the lock must not hide the real failure
        // behind a poisoned-mutex one.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl FakeLinq {
    /// Start on the current tokio runtime.
    pub async fn start(config: Config) -> FakeLinq {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
            .await
            .expect("binding 127.0.0.1");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let shared = Arc::new(Shared::new(config, addr));
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(server::serve(listener, shared.clone(), rx));
        FakeLinq {
            shared,
            addr,
            shutdown: Some(tx),
            thread: None,
        }
    }

    /// Start on a runtime of its own, on its own thread: for synchronous tests.
    pub fn start_blocking(config: Config) -> FakeLinq {
        let std_listener =
            std::net::TcpListener::bind(("127.0.0.1", config.port)).expect("binding 127.0.0.1");
        std_listener
            .set_nonblocking(true)
            .expect("setting the listener non-blocking");
        let addr = std_listener
            .local_addr()
            .expect("a bound listener has an address");
        let shared = Arc::new(Shared::new(config, addr));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let server_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fake-linq".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("building the fake's runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(std_listener)
                        .expect("registering the listener");
                    server::serve(listener, server_shared, rx).await;
                });
                // Dropping the runtime ends every connection still open.
            })
            .expect("spawning the fake's thread");
        FakeLinq {
            shared,
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`: what `--api-url` takes (the client appends `/v3/...`).
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bearer token the fake accepts.
    pub fn token(&self) -> String {
        self.shared.lock().token.clone()
    }

    /// Replace the account's numbers.
    pub fn set_numbers<I: IntoIterator<Item = S>, S: Into<String>>(&self, numbers: I) {
        self.shared.lock().numbers = numbers.into_iter().map(Into::into).collect();
    }

    pub fn add_number(&self, phone: &str) {
        let mut st = self.shared.lock();
        if !st.numbers.iter().any(|n| n == phone) {
            st.numbers.push(phone.to_string());
        }
    }

    pub fn remove_number(&self, phone: &str) {
        self.shared.lock().numbers.retain(|n| n != phone);
    }

    pub fn numbers(&self) -> Vec<String> {
        self.shared.lock().numbers.clone()
    }

    /// Drift: overwrite a live card as if changed in the dashboard. No budget used,
    /// nothing logged.
    pub fn set_card(&self, card: Card) {
        self.shared
            .lock()
            .cards
            .insert(card.phone_number.clone(), card);
    }

    /// Drift: remove a live card.
    pub fn remove_card(&self, phone: &str) -> Option<Card> {
        self.shared.lock().cards.remove(phone)
    }

    pub fn card(&self, phone: &str) -> Option<Card> {
        self.shared.lock().cards.get(phone).cloned()
    }

    /// Every live card, sorted by number.
    pub fn cards(&self) -> Vec<Card> {
        self.shared.lock().cards.values().cloned().collect()
    }

    /// Every call so far, in the order they were answered.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().log.clone()
    }

    /// Forget the request log, counters and unexpected calls (not the budget).
    pub fn clear_log(&self) {
        let mut st = self.shared.lock();
        st.log.clear();
        st.unexpected.clear();
        st.max_in_flight = 0;
        st.max_in_flight_per.clear();
    }

    /// POST and PATCH calls received for this number, whatever their answer.
    pub fn writes_for(&self, phone: &str) -> usize {
        self.shared
            .lock()
            .log
            .iter()
            .filter(|r| {
                (r.method == "POST" || r.method == "PATCH") && r.phone.as_deref() == Some(phone)
            })
            .count()
    }

    /// POST and PATCH calls received in all.
    pub fn writes(&self) -> usize {
        self.shared
            .lock()
            .log
            .iter()
            .filter(|r| r.method == "POST" || r.method == "PATCH")
            .count()
    }

    /// Calls with this method and path (path without query, e.g. `/v3/contact_card`).
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.shared
            .lock()
            .log
            .iter()
            .filter(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
            .count()
    }

    /// Calls a correct client would not make. Tests assert this is empty.
    pub fn unexpected(&self) -> Vec<Unexpected> {
        self.shared.lock().unexpected.clone()
    }

    /// Queue a fault for the next call that matches.
    pub fn push_fault(&self, when: FaultMatch, fault: Fault) {
        self.shared.lock().faults.push_back((when, fault));
    }

    /// Faults still queued.
    pub fn pending_faults(&self) -> usize {
        self.shared.lock().faults.len()
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Delay added before every API answer.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().latency = latency;
    }

    /// While set, writes to this number answer 200 with `is_active: false` (setup
    /// did not complete; LINQ_API.md, POST).
    pub fn set_setup_incomplete(&self, phone: &str, incomplete: bool) {
        let mut st = self.shared.lock();
        if incomplete {
            st.setup_incomplete.insert(phone.to_string());
        } else {
            st.setup_incomplete.remove(phone);
        }
    }

    /// Change the write budget and its window (takes effect on the next write).
    pub fn set_write_budget(&self, budget: u32, window: Duration) {
        let mut st = self.shared.lock();
        st.write_budget = budget;
        st.write_window = window;
    }

    /// Forget past writes, as if the window had passed for every number.
    pub fn reset_write_budget(&self) {
        self.shared.lock().write_times.clear();
    }

    /// Writes of this number still inside the budget window.
    pub fn budget_used(&self, phone: &str) -> usize {
        let mut st = self.shared.lock();
        st.prune_writes(phone);
        st.write_times.get(phone).map_or(0, |w| w.len())
    }

    /// The most API calls ever in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.shared.lock().max_in_flight
    }

    /// The most calls about this number ever in flight at once (1 means they
    /// never overlapped).
    pub fn max_in_flight_for(&self, phone: &str) -> usize {
        self.shared
            .lock()
            .max_in_flight_per
            .get(phone)
            .copied()
            .unwrap_or(0)
    }

    /// The bytes served at a `/cdn/...` URL of this fake.
    pub fn cdn_image(&self, url: &str) -> Option<Vec<u8>> {
        let path = url.strip_prefix(&self.shared.base_url)?;
        self.shared.lock().cdn.get(path).cloned()
    }

    /// Images rehosted so far.
    pub fn cdn_len(&self) -> usize {
        self.shared.lock().cdn.len()
    }
}

impl Drop for FakeLinq {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for FakeLinq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeLinq")
            .field("base_url", &self.shared.base_url)
            .finish_non_exhaustive()
    }
}
