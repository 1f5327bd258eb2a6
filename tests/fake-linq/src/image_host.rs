//! A loopback HTTP server for source images, with knobs for cache validators,
//! slow or oversized answers, redirects and errors, and request counters.
//!
//! Tests give it bytes at paths ([`ImageHost::serve`]); it answers like a
//! plain web server or CDN: `Content-Type`, `ETag`, `Last-Modified` and
//! `Cache-Control` as configured, `304 Not Modified` to a matching
//! `If-None-Match` / `If-Modified-Since`, any status, `Location` redirects, a
//! delay before the headers, or a body that drips out in chunks (no
//! `Content-Length`). Anything not configured is a `404` HTML page, as real
//! servers send. It listens on 127.0.0.1 only.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use axum::Router;

/// What one path answers.
#[derive(Debug, Clone)]
pub struct Resource {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub cache_control: Option<String>,
    /// Sleep this long before answering.
    pub delay: Duration,
    /// `Location` header (with a 3xx status).
    pub location: Option<String>,
    /// Send the body in chunks of this size with no `Content-Length`,
    /// sleeping `chunk_delay` between chunks.
    pub chunked: Option<usize>,
    pub chunk_delay: Duration,
}

impl Resource {
    /// `200` with these bytes and content type.
    pub fn new(body: impl Into<Vec<u8>>, content_type: &str) -> Resource {
        Resource {
            status: 200,
            body: body.into(),
            content_type: Some(content_type.to_string()),
            etag: None,
            last_modified: None,
            cache_control: None,
            delay: Duration::ZERO,
            location: None,
            chunked: None,
            chunk_delay: Duration::ZERO,
        }
    }

    /// A redirect (`status` is 301, 302, 303, 307 or 308) to `location`.
    pub fn redirect(status: u16, location: &str) -> Resource {
        Resource {
            status,
            location: Some(location.to_string()),
            content_type: None,
            ..Resource::new(Vec::new(), "")
        }
    }

    pub fn status(mut self, status: u16) -> Resource {
        self.status = status;
        self
    }

    pub fn etag(mut self, etag: &str) -> Resource {
        self.etag = Some(etag.to_string());
        self
    }

    pub fn last_modified(mut self, http_date: &str) -> Resource {
        self.last_modified = Some(http_date.to_string());
        self
    }

    pub fn cache_control(mut self, value: &str) -> Resource {
        self.cache_control = Some(value.to_string());
        self
    }

    pub fn delay(mut self, delay: Duration) -> Resource {
        self.delay = delay;
        self
    }

    /// Drip the body out `chunk` bytes at a time, `every` apart, without a
    /// `Content-Length`.
    pub fn chunked(mut self, chunk: usize, every: Duration) -> Resource {
        self.chunked = Some(chunk.max(1));
        self.chunk_delay = every;
        self
    }
}

/// Requests seen, by kind of answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hits {
    /// Every request.
    pub requests: u64,
    /// `200` answers that carried the body.
    pub bodies: u64,
    /// `304 Not Modified` answers.
    pub not_modified: u64,
    /// Requests that carried `If-None-Match` or `If-Modified-Since`.
    pub conditional: u64,
}

#[derive(Default)]
struct Shared {
    resources: Mutex<HashMap<String, Resource>>,
    hits: Mutex<HashMap<String, Hits>>,
}

/// A running image host. Dropping it stops the server.
pub struct ImageHost {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ImageHost {
    /// Start on the current tokio runtime.
    pub async fn start() -> std::io::Result<ImageHost> {
        let shared = Arc::new(Shared::default());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = router(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(ImageHost {
            addr,
            shared,
            stop: Some(stop),
            thread: None,
        })
    }

    /// Start on a thread of its own, for tests that are not async (for
    /// example ones that run the `linq-cards` binary).
    pub fn start_in_thread() -> std::io::Result<ImageHost> {
        let shared = Arc::new(Shared::default());
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = router(shared.clone());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                    return;
                };
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        Ok(ImageHost {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// Answer `path` with `resource` from now on.
    pub fn serve(&self, path: &str, resource: Resource) {
        lock(&self.shared.resources).insert(path.to_string(), resource);
    }

    /// Stop answering `path` (it becomes a 404).
    pub fn remove(&self, path: &str) {
        lock(&self.shared.resources).remove(path);
    }

    /// What `path` has seen.
    pub fn hits(&self, path: &str) -> Hits {
        lock(&self.shared.hits)
            .get(path)
            .copied()
            .unwrap_or_default()
    }

    /// What all paths have seen together.
    pub fn total(&self) -> Hits {
        lock(&self.shared.hits)
            .values()
            .fold(Hits::default(), |a, h| Hits {
                requests: a.requests + h.requests,
                bodies: a.bodies + h.bodies,
                not_modified: a.not_modified + h.not_modified,
                conditional: a.conditional + h.conditional,
            })
    }

    /// Forget all counts.
    pub fn reset_hits(&self) {
        lock(&self.shared.hits).clear();
    }
}

impl Drop for ImageHost {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A test that panicked while holding the lock must not hide its own
    // failure behind a poisoned-mutex panic here.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(answer).with_state(shared)
}

fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    if_none_match
        .split(',')
        .any(|t| t.trim() == "*" || strip(t) == strip(etag))
}

async fn answer(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    let resource = lock(&shared.resources).get(&path).cloned();
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let if_modified_since = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok());
    let record = |f: &dyn Fn(&mut Hits)| {
        let mut hits = lock(&shared.hits);
        let h = hits.entry(path.clone()).or_default();
        h.requests += 1;
        if if_none_match.is_some() || if_modified_since.is_some() {
            h.conditional += 1;
        }
        f(h);
    };
    let Some(r) = resource else {
        record(&|_| {});
        return build(
            404,
            Some("text/html"),
            Body::from("<html><body>not found</body></html>"),
            &[],
        );
    };
    if !r.delay.is_zero() {
        tokio::time::sleep(r.delay).await;
    }
    let mut extra: Vec<(header::HeaderName, String)> = Vec::new();
    if let Some(v) = &r.etag {
        extra.push((header::ETAG, v.clone()));
    }
    if let Some(v) = &r.last_modified {
        extra.push((header::LAST_MODIFIED, v.clone()));
    }
    if let Some(v) = &r.cache_control {
        extra.push((header::CACHE_CONTROL, v.clone()));
    }
    if let Some(v) = &r.location {
        extra.push((header::LOCATION, v.clone()));
    }
    if r.status == 200 {
        // If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
        let fresh = match (if_none_match, &r.etag, if_modified_since, &r.last_modified) {
            (Some(inm), Some(etag), _, _) => etag_matches(inm, etag),
            (Some(_), None, _, _) => false,
            (None, _, Some(ims), Some(lm)) => ims.trim() == lm.trim(),
            _ => false,
        };
        if fresh {
            record(&|h| h.not_modified += 1);
            return build(304, None, Body::empty(), &extra);
        }
        record(&|h| h.bodies += 1);
    } else {
        record(&|_| {});
    }
    let body = match r.chunked {
        None => Body::from(r.body.clone()),
        Some(size) => {
            let chunks: Vec<Vec<u8>> = r.body.chunks(size).map(<[u8]>::to_vec).collect();
            let every = r.chunk_delay;
            let stream =
                futures_util::stream::unfold(chunks.into_iter(), move |mut it| async move {
                    let chunk = it.next()?;
                    if !every.is_zero() {
                        tokio::time::sleep(every).await;
                    }
                    Some((Ok::<_, std::io::Error>(chunk), it))
                });
            Body::from_stream(stream)
        }
    };
    build(r.status, r.content_type.as_deref(), body, &extra)
}

fn build(
    status: u16,
    content_type: Option<&str>,
    body: Body,
    extra: &[(header::HeaderName, String)],
) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    if let Some(ct) = content_type.filter(|c| !c.is_empty()) {
        if let Ok(v) = HeaderValue::from_str(ct) {
            h.insert(header::CONTENT_TYPE, v);
        }
    }
    for (name, value) in extra {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name.clone(), v);
        }
    }
    resp
}
