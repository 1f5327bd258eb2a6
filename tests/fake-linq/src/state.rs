//! The fake's account state and the protocol rules applied to it: validation,
//! the write budget, POST/PATCH semantics and the error envelope. No I/O here
//! besides what `server` hands in.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::{Card, Config, Fault, FaultMatch, RequestRecord, Unexpected};

pub(crate) struct State {
    pub(crate) token: String,
    pub(crate) numbers: Vec<String>,
    pub(crate) cards: BTreeMap<String, Card>,
    pub(crate) setup_incomplete: BTreeSet<String>,
    pub(crate) write_times: HashMap<String, VecDeque<Instant>>,
    pub(crate) write_budget: u32,
    pub(crate) write_window: Duration,
    pub(crate) latency: Duration,
    pub(crate) cdn_max_side: u32,
    pub(crate) faults: VecDeque<(FaultMatch, Fault)>,
    pub(crate) log: Vec<RequestRecord>,
    pub(crate) unexpected: Vec<Unexpected>,
    pub(crate) in_flight: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) in_flight_per: HashMap<String, usize>,
    pub(crate) max_in_flight_per: HashMap<String, usize>,
    /// Rehosted images by path (`/cdn/contact-card/<id>.jpg`).
    pub(crate) cdn: HashMap<String, Vec<u8>>,
    pub(crate) next_cdn_id: u64,
}

impl State {
    pub(crate) fn new(config: Config) -> State {
        State {
            token: config.token,
            numbers: config.numbers,
            cards: config
                .cards
                .into_iter()
                .map(|c| (c.phone_number.clone(), c))
                .collect(),
            setup_incomplete: BTreeSet::new(),
            write_times: HashMap::new(),
            write_budget: config.write_budget,
            write_window: config.write_window,
            latency: config.latency,
            cdn_max_side: config.cdn_max_side,
            faults: VecDeque::new(),
            log: Vec::new(),
            unexpected: Vec::new(),
            in_flight: 0,
            max_in_flight: 0,
            in_flight_per: HashMap::new(),
            max_in_flight_per: HashMap::new(),
            cdn: HashMap::new(),
            next_cdn_id: 1,
        }
    }

    /// Take the first queued fault that matches this call.
    pub(crate) fn take_fault(&mut self, method: &str, phone: Option<&str>) -> Option<Fault> {
        let i = self
            .faults
            .iter()
            .position(|(m, _)| m.matches(method, phone))?;
        self.faults.remove(i).map(|(_, f)| f)
    }

    pub(crate) fn prune_writes(&mut self, phone: &str) {
        let window = self.write_window;
        if let Some(times) = self.write_times.get_mut(phone) {
            while times.front().is_some_and(|t| t.elapsed() >= window) {
                times.pop_front();
            }
        }
    }

    /// Draw one write from the number's budget, or say how long until one frees
    /// up (LINQ_API.md, "Rate limits"). Refused calls do not count.
    pub(crate) fn draw_write(&mut self, phone: &str) -> Result<(), u64> {
        self.prune_writes(phone);
        let window = self.write_window;
        let budget = self.write_budget as usize;
        let times = self.write_times.entry(phone.to_string()).or_default();
        if times.len() >= budget {
            let wait = times
                .front()
                .map_or(window, |oldest| window.saturating_sub(oldest.elapsed()));
            // Whole seconds, rounded up, at least 1: a client that waits exactly
            // this long must find the budget free again.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(secs.max(1));
        }
        times.push_back(Instant::now());
        Ok(())
    }

    /// `Authorization: Bearer <token>` (LINQ_API.md, "auth").
    pub(crate) fn token_matches(&self, authorization: Option<&str>) -> bool {
        authorization.and_then(|a| a.strip_prefix("Bearer ")) == Some(self.token.as_str())
    }

    pub(crate) fn on_account(&self, phone: &str) -> bool {
        self.numbers.iter().any(|n| n == phone)
    }

    pub(crate) fn enter(&mut self, phone: Option<&str>) {
        self.in_flight += 1;
        self.max_in_flight = self.max_in_flight.max(self.in_flight);
        if let Some(p) = phone {
            let n = self.in_flight_per.entry(p.to_string()).or_default();
            *n += 1;
            let peak = self.max_in_flight_per.entry(p.to_string()).or_default();
            *peak = (*peak).max(*n);
        }
    }

    pub(crate) fn leave(&mut self, phone: Option<&str>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(p) = phone {
            if let Some(n) = self.in_flight_per.get_mut(p) {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// A write that failed upstream leaves the card not active (LINQ_API.md:
    /// "after a failed update the card is left not active"; a failed POST stores
    /// the card inactive).
    pub(crate) fn fail_write(&mut self, write: &Write) {
        match write {
            Write::Create(w) => {
                let card = self
                    .cards
                    .entry(w.phone.clone())
                    .or_insert_with(|| Card::new(&w.phone, "").inactive());
                if let Some(f) = &w.fields.first_name {
                    card.first_name = f.clone();
                }
                if let Some(l) = &w.fields.last_name {
                    card.last_name = Some(l.clone());
                }
                card.is_active = false;
            }
            Write::Update(w) => {
                if let Some(card) = self.cards.get_mut(&w.phone) {
                    card.is_active = false;
                }
            }
        }
    }

    /// Store a rehosted image under a fresh CDN path and return the path.
    pub(crate) fn store_cdn(&mut self, bytes: Vec<u8>) -> String {
        let id = self.next_cdn_id;
        self.next_cdn_id += 1;
        let path = format!("/cdn/contact-card/{:016x}{id:04}.jpg", fastrand::u64(..));
        self.cdn.insert(path.clone(), bytes);
        path
    }
}

/// The fields a write may carry.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fields {
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) image_url: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct WriteBody {
    pub(crate) phone: String,
    pub(crate) fields: Fields,
}

#[derive(Debug, Clone)]
pub(crate) enum Write {
    Create(WriteBody),
    Update(WriteBody),
}

impl Write {
    pub(crate) fn body(&self) -> &WriteBody {
        match self {
            Write::Create(b) | Write::Update(b) => b,
        }
    }
}

/// An API answer before it becomes HTTP.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Value,
    pub(crate) retry_after: Option<u64>,
    /// Set when the fake itself found the call malformed.
    pub(crate) unexpected: Option<String>,
}

impl Reply {
    pub(crate) fn ok(body: Value) -> Reply {
        Reply {
            status: 200,
            body,
            retry_after: None,
            unexpected: None,
        }
    }

    pub(crate) fn card(card: &Card) -> Reply {
        Reply::ok(serde_json::to_value(card).expect("a card always serializes"))
    }

    /// The documented error envelope with a fresh `trace_id` (LINQ_API.md,
    /// "Error envelope").
    pub(crate) fn error(status: u16, code: u32, message: &str, retry_after: Option<u64>) -> Reply {
        let mut error = Map::new();
        error.insert("status".into(), json!(status));
        error.insert("code".into(), json!(code));
        error.insert("message".into(), json!(message));
        error.insert("doc_url".into(), json!(doc_url(code)));
        if let Some(secs) = retry_after {
            error.insert("retry_after".into(), json!(secs));
        }
        Reply {
            status,
            body: json!({"success": false, "error": error, "trace_id": trace_id()}),
            retry_after,
            unexpected: None,
        }
    }

    /// The documented message of a code.
    pub(crate) fn code(status: u16, code: u32, retry_after: Option<u64>) -> Reply {
        Reply::error(status, code, default_message(code), retry_after)
    }

    /// A 400 for a call a correct client never makes; recorded in `unexpected()`.
    pub(crate) fn unexpected(code: u32, reason: impl Into<String>) -> Reply {
        let reason = reason.into();
        let mut r = Reply::error(400, code, &reason, None);
        r.unexpected = Some(reason);
        r
    }

    /// Same, for refusals that have their own status (e.g. a number not on the account).
    pub(crate) fn unexpected_with(status: u16, code: u32, reason: impl Into<String>) -> Reply {
        let reason = reason.into();
        let mut r = Reply::error(status, code, &reason, None);
        r.unexpected = Some(reason);
        r
    }

    pub(crate) fn error_code(&self) -> Option<u32> {
        self.body
            .get("error")?
            .get("code")?
            .as_u64()
            .and_then(|c| u32::try_from(c).ok())
    }
}

fn trace_id() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

fn doc_url(code: u32) -> String {
    format!(
        "https://docs.linqapp.com/error/codes/{}xxx/{code}/",
        code / 1000
    )
}

fn default_message(code: u32) -> &'static str {
    match code {
        1001 => "Missing required field",
        1002 => "Phone number must be in E.164 format",
        1003 => "Invalid request body",
        1005 => "Invalid parameter value",
        1007 => "Rate limit exceeded",
        2004 => "Missing or invalid API token",
        2005 => "Access denied",
        2012 => "Contact card not found",
        2014 => "Contact card already exists",
        2022 => "Contact card setup did not complete; please call again",
        3006 => "Internal server error",
        4004 => "Upstream write was rate-limited; wait before retrying",
        _ => "Error",
    }
}

/// `^\+[1-9][0-9]{6,14}$`
pub(crate) fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// Parse and check a write body. `Err` is the 400 to answer.
pub(crate) fn parse_fields(
    body: &Value,
    allowed: &[&str],
    phone_in_body: bool,
) -> Result<(Option<String>, Fields), Reply> {
    let Some(obj) = body.as_object() else {
        return Err(Reply::unexpected(1003, "the body must be a JSON object"));
    };
    let mut fields = Fields::default();
    let mut phone = None;
    for (key, value) in obj {
        if !allowed.contains(&key.as_str()) {
            return Err(Reply::unexpected(
                1003,
                format!("unknown field {key:?} in the body"),
            ));
        }
        let Some(text) = value.as_str() else {
            return Err(Reply::unexpected(1003, format!("{key} must be a string")));
        };
        if text.is_empty() {
            // LINQ_API.md: there is no documented way to clear a field.
            return Err(Reply::unexpected(1005, format!("{key} must not be empty")));
        }
        let text = Some(text.to_string());
        match key.as_str() {
            "phone_number" => phone = text,
            "first_name" => fields.first_name = text,
            "last_name" => fields.last_name = text,
            "image_url" => fields.image_url = text,
            _ => unreachable!("checked against `allowed` above"),
        }
    }
    if let Some(url) = &fields.image_url {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Reply::unexpected(
                1005,
                format!("image_url {url:?} is not an http(s) URL"),
            ));
        }
    }
    if phone_in_body && phone.is_none() {
        return Err(Reply::unexpected(1001, "phone_number is required"));
    }
    Ok((phone, fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164() {
        for ok in ["+12223334444", "+4915112345678", "+1234567"] {
            assert!(is_e164(ok), "{ok}");
        }
        for bad in [
            "12223334444",
            "+02223334444",
            "+1 222",
            "+123456",
            "+1234567890123456",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }

    #[test]
    fn budget_refuses_the_fourth_write_with_a_wait() {
        let mut st = State::new(Config::default());
        for _ in 0..3 {
            assert_eq!(st.draw_write("+12223334444"), Ok(()));
        }
        let wait = st.draw_write("+12223334444").expect_err("4th write");
        assert!((599..=600).contains(&wait), "{wait}");
        assert_eq!(
            st.draw_write("+12223335555"),
            Ok(()),
            "budgets are per number"
        );
    }

    #[test]
    fn error_envelope_shape() {
        let r = Reply::code(409, 2014, None);
        assert_eq!(r.body["success"], json!(false));
        assert_eq!(r.body["error"]["code"], json!(2014));
        assert_eq!(
            r.body["error"]["doc_url"],
            json!("https://docs.linqapp.com/error/codes/2xxx/2014/")
        );
        let t1 = r.body["trace_id"].as_str().expect("trace_id").to_string();
        let t2 = Reply::code(409, 2014, None).body["trace_id"]
            .as_str()
            .expect("trace_id")
            .to_string();
        assert_eq!(t1.len(), 32);
        assert_ne!(t1, t2, "a fresh trace_id each time");
        assert!(r.body["error"].get("retry_after").is_none());
        assert_eq!(
            Reply::code(429, 1007, Some(5)).body["error"]["retry_after"],
            json!(5)
        );
    }
}
