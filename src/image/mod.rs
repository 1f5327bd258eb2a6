//! Image equivalence: is the file's source image the same picture as the live
//! CDN copy? Capped HTTPS fetches ([`fetch`]), a disk cache ([`cache`]) and a
//! pixel fingerprint ([`fingerprint`]) produce [`ImageVerdicts`], which the
//! (synchronous) planner consumes.
//!
//! Linq rehosts every source image on its CDN and reports the CDN URL
//! (LINQ_API.md, "What a contact card is"), so URLs alone would make every
//! plan want to re-upload every image. [`ImageChecker::check`] fetches each
//! distinct URL at most once per run, concurrently with a limit, and compares
//! pictures. Whatever cannot be fetched or decoded is *unverifiable*: the
//! verdict carries a one-line reason meant for the user, and the planner
//! decides (warning, or an error under `--strict`). This module never fails a
//! run by itself.

pub mod cache;
pub mod fetch;
pub mod fingerprint;
pub mod sniff;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;

use self::cache::{Cache, Entry, Freshness};
use self::fetch::{Conditional, Fetched, Fetcher};
use self::fingerprint::Fingerprint;

/// Whether a source image and a live CDN copy show the same picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageVerdict {
    /// Same bytes or same picture after re-encoding/scaling: no change needed.
    Same,
    /// Different pictures: the image must be updated.
    Different,
    /// One of the two could not be fetched or decoded; the reason says which.
    Unverifiable(String),
}

/// Verdicts for (source URL, live URL) pairs, plus problems with source images
/// on their own (worth a warning even for a create).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageVerdicts {
    pub pairs: BTreeMap<(String, String), ImageVerdict>,
    /// Source URLs that could not be fetched or decoded, with the reason.
    pub source_problems: BTreeMap<String, String>,
}

impl ImageVerdicts {
    /// The verdict for a pair. A pair nobody checked compares by URL: equal
    /// strings are the same image, anything else is different.
    pub fn verdict(&self, source: &str, live: &str) -> ImageVerdict {
        if source == live {
            return ImageVerdict::Same;
        }
        self.pairs
            .get(&(source.to_string(), live.to_string()))
            .cloned()
            .unwrap_or(ImageVerdict::Different)
    }
}

/// Default download cap per image.
pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Default deadline per image (all redirect hops and the body included).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// Default number of images fetched at once.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// How the checker fetches and caches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOptions {
    /// The API URL is loopback (testing against a fake): then `http://` to
    /// loopback hosts and loopback/private addresses are allowed.
    pub allow_loopback: bool,
    /// The cache directory; `None` = no disk cache (`--no-cache`).
    pub cache_dir: Option<PathBuf>,
    pub max_bytes: u64,
    pub timeout: Duration,
    pub concurrency: usize,
}

impl Default for ImageOptions {
    fn default() -> Self {
        ImageOptions {
            allow_loopback: false,
            cache_dir: default_cache_dir(),
            max_bytes: DEFAULT_MAX_BYTES,
            timeout: DEFAULT_TIMEOUT,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

/// The image cache directory: `$LINQ_CARDS_CACHE_DIR/images` when that is
/// set (and not empty), else `images/` in the platform cache directory
/// (`~/.cache/linq-cards` on Linux). `None` when neither exists (no home).
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LINQ_CARDS_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("images"));
    }
    directories::ProjectDirs::from("", "", "linq-cards").map(|d| d.cache_dir().join("images"))
}

/// What the checker did so far, for logs and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchStats {
    /// Image bodies downloaded (`200`).
    pub downloads: u64,
    /// Revalidations answered `304 Not Modified` (no body).
    pub not_modified: u64,
    /// URLs answered from a fresh cache entry without any request.
    pub cache_fresh_hits: u64,
    /// URLs that could not be fetched or decoded.
    pub failures: u64,
}

#[derive(Debug, Default)]
struct Counters {
    downloads: AtomicU64,
    not_modified: AtomicU64,
    cache_fresh_hits: AtomicU64,
    failures: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Fetches, fingerprints and compares images under one [`ImageOptions`].
#[derive(Debug)]
pub struct ImageChecker {
    fetcher: Fetcher,
    cache: Option<Cache>,
    concurrency: usize,
    counters: Counters,
}

impl ImageChecker {
    pub fn new(opts: ImageOptions) -> anyhow::Result<ImageChecker> {
        anyhow::ensure!(opts.max_bytes > 0, "the image size cap must be positive");
        Ok(ImageChecker {
            fetcher: Fetcher::new(opts.allow_loopback, opts.max_bytes, opts.timeout)?,
            cache: opts.cache_dir.map(Cache::new),
            concurrency: opts.concurrency.max(1),
            counters: Counters::default(),
        })
    }

    /// Counters since this checker was made.
    pub fn stats(&self) -> FetchStats {
        let c = &self.counters;
        FetchStats {
            downloads: c.downloads.load(Ordering::Relaxed),
            not_modified: c.not_modified.load(Ordering::Relaxed),
            cache_fresh_hits: c.cache_fresh_hits.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
        }
    }

    /// Verdicts for `(source, live)` pairs, and problems of the sources of
    /// `pairs` and `create_sources`. Pairs with equal URLs are not fetched
    /// (they are the same image); every other distinct URL is fetched once.
    pub async fn check(
        &self,
        pairs: &[(String, String)],
        create_sources: &[String],
    ) -> ImageVerdicts {
        let pairs: BTreeSet<&(String, String)> = pairs.iter().filter(|(s, l)| s != l).collect();
        let sources: BTreeSet<&str> = pairs
            .iter()
            .map(|(s, _)| s.as_str())
            .chain(create_sources.iter().map(String::as_str))
            .collect();
        let urls: BTreeSet<&str> = sources
            .iter()
            .copied()
            .chain(pairs.iter().map(|(_, l)| l.as_str()))
            .collect();
        let results: BTreeMap<&str, Result<Fingerprint, String>> = futures_util::stream::iter(urls)
            .map(|url| async move { (url, self.fingerprint(url).await) })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;

        let mut verdicts = ImageVerdicts::default();
        for (source, live) in pairs {
            let verdict = match (&results[source.as_str()], &results[live.as_str()]) {
                (Ok(s), Ok(l)) => {
                    let cmp = s.compare(l);
                    tracing::debug!(
                        "image {source} vs {live}: mean {:.2}, worst block {:.2}, aspect mismatch {}",
                        cmp.mean,
                        cmp.block,
                        cmp.aspect_mismatch
                    );
                    if cmp.same {
                        ImageVerdict::Same
                    } else {
                        ImageVerdict::Different
                    }
                }
                (Err(e), Ok(_)) | (Ok(_), Err(e)) => ImageVerdict::Unverifiable(e.clone()),
                (Err(a), Err(b)) => ImageVerdict::Unverifiable(format!("{a}; {b}")),
            };
            verdicts
                .pairs
                .insert((source.clone(), live.clone()), verdict);
        }
        for source in sources {
            if let Err(e) = &results[source] {
                verdicts
                    .source_problems
                    .insert(source.to_string(), e.clone());
            }
        }
        verdicts
    }

    /// The fingerprint of one URL: from a fresh cache entry, a `304`
    /// revalidation, or a download. The error is a sentence for the user.
    pub async fn fingerprint(&self, url: &str) -> Result<Fingerprint, String> {
        let cached = self.cache.as_ref().and_then(|c| c.load(url));
        if let Some(entry) = &cached {
            if entry.is_fresh(SystemTime::now()) {
                bump(&self.counters.cache_fresh_hits);
                tracing::debug!("image {url}: fresh in the cache");
                return Ok(entry.fingerprint.clone());
            }
        }
        let cond = cached
            .as_ref()
            .filter(|e| e.has_validators())
            .map(|e| Conditional {
                url: e.final_url.clone(),
                etag: e.etag.clone(),
                last_modified: e.last_modified.clone(),
            });
        let fetched = match self.fetcher.fetch(url, cond.as_ref()).await {
            Ok(f) => f,
            Err(e) => {
                bump(&self.counters.failures);
                return Err(format!("image {url} could not be fetched: {e}"));
            }
        };
        match (fetched, cached) {
            (Fetched::NotModified { final_url, headers }, Some(mut entry)) => {
                bump(&self.counters.not_modified);
                tracing::debug!("image {url}: not modified");
                // A 304 refreshes the stored headers (RFC 9111 4.3.4).
                if let Some(etag) = header(&headers, reqwest::header::ETAG) {
                    entry.etag = Some(etag);
                }
                if let Some(lm) = header(&headers, reqwest::header::LAST_MODIFIED) {
                    entry.last_modified = Some(lm);
                }
                entry.final_url = final_url;
                self.remember(url, entry.clone(), &headers);
                Ok(entry.fingerprint)
            }
            (Fetched::NotModified { .. }, None) => {
                // Cannot happen: validators are only sent for a cached entry.
                bump(&self.counters.failures);
                Err(format!(
                    "image {url} could not be fetched: unexpected HTTP 304"
                ))
            }
            (
                Fetched::Body {
                    bytes,
                    final_url,
                    headers,
                },
                _,
            ) => {
                bump(&self.counters.downloads);
                tracing::debug!("image {url}: downloaded {} bytes", bytes.len());
                let kind = match sniff::sniff(&bytes) {
                    Ok(k) => k,
                    Err(what) => {
                        bump(&self.counters.failures);
                        return Err(format!("image {url} is not an image (sniffed {what})"));
                    }
                };
                // Decoding is CPU-bound: keep it off the async workers.
                let decoded =
                    tokio::task::spawn_blocking(move || Fingerprint::from_bytes(&bytes, kind))
                        .await;
                let fingerprint = match decoded {
                    Ok(Ok(f)) => f,
                    Ok(Err(e)) => {
                        bump(&self.counters.failures);
                        return Err(format!("image {url} {e}"));
                    }
                    Err(e) => {
                        bump(&self.counters.failures);
                        return Err(format!("image {url} could not be decoded: {e}"));
                    }
                };
                let entry = Entry {
                    final_url,
                    etag: header(&headers, reqwest::header::ETAG),
                    last_modified: header(&headers, reqwest::header::LAST_MODIFIED),
                    fresh_until: None,
                    fingerprint: fingerprint.clone(),
                };
                self.remember(url, entry, &headers);
                Ok(fingerprint)
            }
        }
    }

    /// Store an entry with the freshness its response allows.
    fn remember(&self, url: &str, mut entry: Entry, headers: &reqwest::header::HeaderMap) {
        let Some(cache) = &self.cache else { return };
        match cache::freshness(headers, SystemTime::now()) {
            Freshness::NoStore => {
                // Forget what was stored before, too: the server said not to keep it.
                let _ = std::fs::remove_file(cache.path_for(url));
            }
            Freshness::Until(t) => {
                entry.fresh_until = t;
                cache.store(url, &entry);
            }
        }
    }
}

fn header(
    headers: &reqwest::header::HeaderMap,
    name: reqwest::header::HeaderName,
) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .filter(|v| !v.is_empty())
}
