//! The fake's HTTP side: accept loop, routing, and the order in which a call
//! meets the protocol's rules (latency, auth, validation, faults, budget, state).
//!
//! Connections are served with hyper directly (not `axum::serve`) so that a
//! fault can drop one connection without answering. Each call is handled on its
//! own task: like a real server, it finishes (and is logged) even when the
//! client has already given up.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch, Notify};

use crate::state::{is_e164, parse_fields, Reply, Write, WriteBody};
use crate::{rehost, Fault, RequestRecord, Shared, Unexpected};

/// Largest request body the fake reads.
const MAX_BODY: usize = 1 << 20;

pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    // Dropped when this function returns, which ends every open connection.
    let (_alive_tx, alive_rx) = watch::channel(());
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: try again shortly.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let shared = shared.clone();
        let mut alive = alive_rx.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let conn_kill = kill.clone();
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let shared = shared.clone();
                let kill = conn_kill.clone();
                async move {
                    match tokio::spawn(handle(shared, req)).await {
                        Ok(Outcome::Reply(resp)) => Ok::<_, Infallible>(resp),
                        // A `Drop` fault, or the handler panicked: close without answering.
                        Ok(Outcome::Drop) | Err(_) => {
                            kill.notify_one();
                            std::future::pending().await
                        }
                    }
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = kill.notified() => {}
                _ = alive.changed() => {}
            }
        });
    }
}

enum Outcome {
    Reply(Response<Body>),
    Drop,
}

/// What the handler knows about a call.
struct Call {
    method: String,
    path: String,
    query: Option<String>,
    params: HashMap<String, String>,
    body_text: String,
    body: Option<Value>,
    phone: Option<String>,
    authorization: Option<String>,
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Outcome {
    let started = Instant::now();
    let received_at = SystemTime::now();
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let user_agent = header(header::USER_AGENT);
    let authorization = header(header::AUTHORIZATION);
    let bytes = axum::body::to_bytes(Body::new(body), MAX_BODY).await;
    let params = query_params(&parts.uri);

    let (call, early) = match bytes {
        Ok(bytes) => {
            let body_text = String::from_utf8_lossy(&bytes).into_owned();
            let body: Option<Value> = serde_json::from_slice(&bytes).ok();
            let phone = params.get("phone_number").cloned().or_else(|| {
                body.as_ref()
                    .and_then(|b| b.get("phone_number"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
            let call = Call {
                method,
                path,
                query,
                params,
                body_text,
                body,
                phone,
                authorization,
            };
            (call, None)
        }
        Err(_) => {
            let call = Call {
                method,
                path,
                query,
                params,
                body_text: String::new(),
                body: None,
                phone: None,
                authorization,
            };
            let r = Reply::unexpected(1003, "the body is unreadable or larger than 1 MiB");
            (call, Some(r))
        }
    };

    if call.method == "GET" && call.path.starts_with("/cdn/") {
        let image = shared.lock().cdn.get(&call.path).cloned();
        let (status, resp) = match image {
            Some(bytes) => (200, image_response(bytes)),
            None => {
                let reason = "no such CDN image".to_string();
                record_unexpected(&shared, &call, &reason);
                (404, text_response(404, &reason))
            }
        };
        record(
            &shared,
            &call,
            Some(status),
            None,
            user_agent,
            false,
            received_at,
            started,
        );
        return Outcome::Reply(resp);
    }

    // In flight from here to the answer, latency included: concurrency tests
    // measure overlap as the client sees it.
    let phone = call.phone.clone();
    let _guard = InFlight::enter(&shared, phone.as_deref());
    let latency = shared.lock().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let authorized = shared.lock().token_matches(call.authorization.as_deref());
    let (reply, drop) = match early {
        Some(r) => (r, false),
        None if !authorized => (Reply::code(401, 2004, None), false),
        None => api(&shared, &call).await,
    };

    if let Some(reason) = &reply.unexpected {
        record_unexpected(&shared, &call, reason);
    }
    let status = (!drop).then_some(reply.status);
    let code = if drop { None } else { reply.error_code() };
    record(
        &shared,
        &call,
        status,
        code,
        user_agent,
        authorized,
        received_at,
        started,
    );
    if drop {
        Outcome::Drop
    } else {
        Outcome::Reply(json_response(&reply))
    }
}

/// The API proper, after auth. Returns the answer and whether to drop the
/// connection instead of sending it.
async fn api(shared: &Shared, call: &Call) -> (Reply, bool) {
    let route = match (call.path.as_str(), call.method.as_str()) {
        ("/v3/contact_card", "GET") => Route::GetCards,
        ("/v3/contact_card", "POST") => Route::Create,
        ("/v3/contact_card", "PATCH") => Route::Update,
        ("/v3/phone_numbers", "GET") => Route::PhoneNumbers,
        ("/v3/contact_card" | "/v3/phone_numbers", m) => {
            let r = Reply::unexpected(
                1003,
                format!("method {m} is not supported on {}", call.path),
            );
            return (r, false);
        }
        (p, _) => {
            return (Reply::unexpected(1003, format!("unknown path {p}")), false);
        }
    };
    let validated = match validate(shared, call, route) {
        Ok(v) => v,
        Err(r) => return (r, false),
    };

    // Queued faults, in order; a delay lets the call go on afterwards.
    let fault = shared
        .lock()
        .take_fault(&call.method, call.phone.as_deref());
    let mut drop_after = false;
    match fault {
        None => {}
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        // The reply is never sent; only the drop flag matters.
        Some(Fault::Drop) => return (Reply::code(500, 3006, None), true),
        Some(Fault::DropAfterApply) => drop_after = true,
        Some(Fault::Error {
            status,
            code,
            retry_after,
        }) => {
            if let Validated::Write(w) = &validated {
                if code == 2022 || code == 4004 {
                    shared.lock().fail_write(w);
                }
            }
            return (Reply::code(status, code, retry_after), false);
        }
    }

    let reply = match validated {
        Validated::List => {
            let st = shared.lock();
            let cards: Vec<_> = st.cards.values().collect();
            Reply::ok(json!({ "contact_cards": cards }))
        }
        Validated::One(phone) => match shared.lock().cards.get(&phone) {
            Some(card) => Reply::ok(json!({ "contact_cards": [card] })),
            None => Reply::code(404, 2012, None),
        },
        Validated::PhoneNumbers => {
            let st = shared.lock();
            let numbers: Vec<Value> = st
                .numbers
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    // Extra fields as the real API has them; clients must ignore them.
                    json!({"id": format!("pn_{:04}", i + 1), "phone_number": n,
                           "country_code": "US", "capabilities": {"imessage": true}})
                })
                .collect();
            Reply::ok(json!({ "phone_numbers": numbers }))
        }
        Validated::Write(w) => write(shared, &w).await,
    };
    (reply, drop_after)
}

#[derive(Clone, Copy)]
enum Route {
    GetCards,
    Create,
    Update,
    PhoneNumbers,
}

enum Validated {
    List,
    One(String),
    PhoneNumbers,
    Write(Write),
}

/// Everything a correct client gets right; failures are recorded as unexpected.
fn validate(shared: &Shared, call: &Call, route: Route) -> Result<Validated, Reply> {
    let allowed_params: &[&str] = match route {
        Route::GetCards | Route::Update => &["phone_number"],
        Route::Create | Route::PhoneNumbers => &[],
    };
    if let Some(k) = call
        .params
        .keys()
        .find(|k| !allowed_params.contains(&k.as_str()))
    {
        return Err(Reply::unexpected(
            1005,
            format!("unknown query parameter {k:?}"),
        ));
    }
    let has_body = !call.body_text.trim().is_empty();
    match route {
        Route::GetCards | Route::PhoneNumbers if has_body => {
            Err(Reply::unexpected(1003, "a GET takes no body"))
        }
        Route::PhoneNumbers => Ok(Validated::PhoneNumbers),
        Route::GetCards => match call.params.get("phone_number") {
            None => Ok(Validated::List),
            Some(p) => {
                check_number(shared, p, false)?;
                Ok(Validated::One(p.clone()))
            }
        },
        Route::Create => {
            let body = json_body(call)?;
            let (phone, fields) = parse_fields(
                &body,
                &["phone_number", "first_name", "last_name", "image_url"],
                true,
            )?;
            let phone = phone.expect("parse_fields requires phone_number here");
            check_number(shared, &phone, true)?;
            if fields.first_name.is_none() {
                return Err(Reply::unexpected(1001, "first_name is required on create"));
            }
            Ok(Validated::Write(Write::Create(WriteBody { phone, fields })))
        }
        Route::Update => {
            let Some(phone) = call.params.get("phone_number").cloned() else {
                return Err(Reply::unexpected(
                    1001,
                    "phone_number is required in the query",
                ));
            };
            check_number(shared, &phone, true)?;
            let body = json_body(call)?;
            if body.get("phone_number").is_some() {
                return Err(Reply::unexpected(
                    1003,
                    "phone_number goes in the query of a PATCH, not in its body",
                ));
            }
            let (_, fields) =
                parse_fields(&body, &["first_name", "last_name", "image_url"], false)?;
            if fields.first_name.is_none()
                && fields.last_name.is_none()
                && fields.image_url.is_none()
            {
                return Err(Reply::unexpected(
                    1001,
                    "a PATCH must change at least one field",
                ));
            }
            Ok(Validated::Write(Write::Update(WriteBody { phone, fields })))
        }
    }
}

fn json_body(call: &Call) -> Result<Value, Reply> {
    call.body
        .clone()
        .ok_or_else(|| Reply::unexpected(1003, "the body is not valid JSON"))
}

fn check_number(shared: &Shared, phone: &str, must_be_on_account: bool) -> Result<(), Reply> {
    if !is_e164(phone) {
        return Err(Reply::unexpected(
            1002,
            format!("phone number {phone:?} is not in E.164 format"),
        ));
    }
    if must_be_on_account && !shared.lock().on_account(phone) {
        return Err(Reply::unexpected_with(
            403,
            2005,
            format!("phone number {phone} is not on this account"),
        ));
    }
    Ok(())
}

/// POST or PATCH after validation and faults: budget, state rules, rehosting.
async fn write(shared: &Shared, w: &Write) -> Reply {
    let body = w.body();
    // The image to download, if the call sends a new one: Linq only re-uploads
    // when a new value is sent (LINQ_API.md, "image_url").
    let rehost_from = {
        let mut st = shared.lock();
        if let Err(secs) = st.draw_write(&body.phone) {
            return Reply::code(429, 1007, Some(secs));
        }
        let existing = st.cards.get(&body.phone);
        match (w, existing) {
            // LINQ_API.md: POST on an active card is 409/2014.
            (Write::Create(_), Some(c)) if c.is_active => return Reply::code(409, 2014, None),
            // PATCH needs an active card; an inactive one goes back through POST.
            (Write::Update(_), None) => return Reply::code(404, 2012, None),
            (Write::Update(_), Some(c)) if !c.is_active => return Reply::code(404, 2012, None),
            _ => {}
        }
        body.fields
            .image_url
            .clone()
            .filter(|u| existing.and_then(|c| c.image_url.as_ref()) != Some(u))
    };

    let mut new_image = None;
    if let Some(url) = rehost_from {
        let max_side = shared.lock().cdn_max_side;
        match rehost::rehost(&shared.http, &url, max_side).await {
            Ok(bytes) => {
                let path = shared.lock().store_cdn(bytes);
                new_image = Some(format!("{}{path}", shared.base_url));
            }
            Err(reason) => {
                shared.lock().fail_write(w);
                return Reply::error(
                    500,
                    2022,
                    &format!("Contact card setup did not complete: could not rehost image_url ({reason})"),
                    None,
                );
            }
        }
    }

    let mut st = shared.lock();
    let active = !st.setup_incomplete.contains(&body.phone);
    let card = st
        .cards
        .entry(body.phone.clone())
        // POST on a number without a card; an inactive card is set up again
        // in place, keeping what this call does not send.
        .or_insert_with(|| crate::Card::new(&body.phone, ""));
    if let Some(f) = &body.fields.first_name {
        card.first_name = f.clone();
    }
    if let Some(l) = &body.fields.last_name {
        card.last_name = Some(l.clone());
    }
    if let Some(url) = new_image {
        card.image_url = Some(url);
    }
    card.is_active = active;
    Reply::card(card)
}

fn query_params(uri: &Uri) -> HashMap<String, String> {
    axum::extract::Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|q| q.0)
        .unwrap_or_default()
}

fn json_response(reply: &Reply) -> Response<Body> {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(secs) = reply.retry_after {
        builder = builder.header(header::RETRY_AFTER, secs.to_string());
    }
    builder
        .body(Body::from(reply.body.to_string()))
        .expect("static headers are valid")
}

fn image_response(bytes: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "image/jpeg")
        .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
        .body(Body::from(bytes))
        .expect("static headers are valid")
}

fn text_response(status: u16, text: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(text.to_string()))
        .expect("static headers are valid")
}

fn record_unexpected(shared: &Shared, call: &Call, reason: &str) {
    shared.lock().unexpected.push(Unexpected {
        method: call.method.clone(),
        path: call.path.clone(),
        query: call.query.clone(),
        reason: reason.to_string(),
    });
}

#[allow(clippy::too_many_arguments)]
fn record(
    shared: &Shared,
    call: &Call,
    status: Option<u16>,
    code: Option<u32>,
    user_agent: Option<String>,
    authorized: bool,
    received_at: SystemTime,
    started: Instant,
) {
    shared.lock().log.push(RequestRecord {
        method: call.method.clone(),
        path: call.path.clone(),
        query: call.query.clone(),
        phone: call.phone.clone(),
        body: call.body.clone(),
        raw_body: call.body_text.clone(),
        status,
        code,
        user_agent,
        authorized,
        received_at,
        elapsed: started.elapsed(),
    });
}

/// Counts a call as in flight until dropped (also when its task is cancelled).
struct InFlight<'a> {
    shared: &'a Shared,
    phone: Option<String>,
}

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared, phone: Option<&str>) -> InFlight<'a> {
        shared.lock().enter(phone);
        InFlight {
            shared,
            phone: phone.map(str::to_string),
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.shared.lock().leave(self.phone.as_deref());
    }
}
