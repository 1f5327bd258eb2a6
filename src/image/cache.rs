//! The disk cache of image fingerprints between runs.
//!
//! One small JSON file per URL, named by the SHA-256 of the URL, holding the
//! fingerprint, the server's validators (`ETag`, `Last-Modified`), the URL the
//! validators belong to (after redirects) and how long the entry is fresh
//! (from `Cache-Control: max-age` / `Expires`, less `Age`). Image bytes are
//! not stored, and nothing secret is: image fetches carry no token.
//!
//! The cache is an optimisation and never a reason to fail: an unreadable or
//! corrupt entry is treated as missing (and rewritten by the next fetch), and a
//! write that fails is logged and ignored. Writes go to a temporary file that
//! is renamed into place, so a crash or a parallel run never leaves half a file.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

use super::fingerprint::{decode_cells, encode_cells, sha256_hex, Fingerprint};

/// Bumped whenever the fingerprint's meaning changes, so old entries are
/// ignored rather than compared with the wrong metric.
const FORMAT: u32 = 1;

/// What is known about one URL.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The URL whose validators these are (the last hop of any redirects).
    pub final_url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Fresh (usable without asking the server) until this instant.
    pub fresh_until: Option<SystemTime>,
    pub fingerprint: Fingerprint,
}

impl Entry {
    pub fn is_fresh(&self, now: SystemTime) -> bool {
        self.fresh_until.is_some_and(|t| t > now)
    }

    pub fn has_validators(&self) -> bool {
        self.etag.is_some() || self.last_modified.is_some()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct OnDisk {
    format: u32,
    url: String,
    final_url: String,
    etag: Option<String>,
    last_modified: Option<String>,
    /// Seconds since the Unix epoch.
    fresh_until: Option<u64>,
    width: u32,
    height: u32,
    sha256: String,
    cells: String,
}

/// A cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    pub fn new(dir: PathBuf) -> Cache {
        Cache { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds `url`'s entry.
    pub fn path_for(&self, url: &str) -> PathBuf {
        self.dir
            .join(format!("{}.json", sha256_hex(url.as_bytes())))
    }

    /// The entry for `url`, or `None` when there is none or it is unusable.
    pub fn load(&self, url: &str) -> Option<Entry> {
        let path = self.path_for(url);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::debug!("image cache: cannot read {}: {e}", path.display());
                return None;
            }
        };
        match parse(&text, url) {
            Some(entry) => Some(entry),
            None => {
                tracing::debug!(
                    "image cache: ignoring corrupt entry {} for {url}",
                    path.display()
                );
                None
            }
        }
    }

    /// Store `entry` for `url`; failures are logged, never fatal.
    pub fn store(&self, url: &str, entry: &Entry) {
        if let Err(e) = self.try_store(url, entry) {
            tracing::warn!("image cache: could not write entry for {url}: {e:#}");
        }
    }

    fn try_store(&self, url: &str, entry: &Entry) -> anyhow::Result<()> {
        use anyhow::Context;
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let disk = OnDisk {
            format: FORMAT,
            url: url.to_string(),
            final_url: entry.final_url.clone(),
            etag: entry.etag.clone(),
            last_modified: entry.last_modified.clone(),
            fresh_until: entry
                .fresh_until
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs()),
            width: entry.fingerprint.width,
            height: entry.fingerprint.height,
            sha256: entry.fingerprint.sha256.clone(),
            cells: encode_cells(&entry.fingerprint.cells),
        };
        let json = serde_json::to_vec(&disk)?;
        let path = self.path_for(url);
        // Unique per process and call, so parallel runs do not clobber each
        // other's temporary files; rename is atomic within one directory.
        let tmp = self.dir.join(format!(
            ".{}.{}.{}.tmp",
            sha256_hex(url.as_bytes()),
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::write(&tmp, json).with_context(|| format!("writing {}", tmp.display()))?;
        if let Err(e) = std::fs::rename(&tmp, &path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e).with_context(|| format!("renaming into {}", path.display()));
        }
        Ok(())
    }
}

fn parse(bytes: &[u8], url: &str) -> Option<Entry> {
    let disk: OnDisk = serde_json::from_slice(bytes).ok()?;
    // A hash collision is absurd, but a hand-edited or foreign file is not.
    if disk.format != FORMAT || disk.url != url || disk.width == 0 || disk.height == 0 {
        return None;
    }
    if disk.sha256.len() != 64 || !disk.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let cells = decode_cells(&disk.cells)?;
    Some(Entry {
        final_url: disk.final_url,
        etag: disk.etag,
        last_modified: disk.last_modified,
        fresh_until: disk
            .fresh_until
            .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s))),
        fingerprint: Fingerprint {
            width: disk.width,
            height: disk.height,
            sha256: disk.sha256,
            cells,
        },
    })
}

/// What a response's caching headers allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// `no-store`: keep nothing.
    NoStore,
    /// Keep it, fresh until then (`None`: revalidate on every use).
    Until(Option<SystemTime>),
}

/// Freshness from `Cache-Control` (`no-store`, `no-cache`, `max-age`), else
/// `Expires`, less `Age`; as a private cache, `s-maxage` does not apply.
pub fn freshness(headers: &HeaderMap, now: SystemTime) -> Freshness {
    let mut max_age: Option<u64> = None;
    let mut no_cache = false;
    for value in headers.get_all(reqwest::header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim().to_ascii_lowercase();
            let (name, arg) = match directive.split_once('=') {
                Some((n, a)) => (
                    n.trim().to_string(),
                    Some(a.trim().trim_matches('"').to_string()),
                ),
                None => (directive.clone(), None),
            };
            match name.as_str() {
                "no-store" => return Freshness::NoStore,
                "no-cache" => no_cache = true,
                "max-age" => {
                    // An unparsable max-age is treated as stale (RFC 9111 4.2.1).
                    max_age = Some(arg.and_then(|a| a.parse().ok()).unwrap_or(0));
                }
                _ => {}
            }
        }
    }
    if no_cache {
        return Freshness::Until(None);
    }
    let age: u64 = headers
        .get(reqwest::header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    if let Some(max_age) = max_age {
        let left = max_age.saturating_sub(age);
        if left == 0 {
            return Freshness::Until(None);
        }
        return Freshness::Until(now.checked_add(Duration::from_secs(left)));
    }
    let expires = headers
        .get(reqwest::header::EXPIRES)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    match expires {
        Some(t) if t > now => Freshness::Until(Some(t)),
        _ => Freshness::Until(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, AGE, CACHE_CONTROL, EXPIRES};

    fn headers(pairs: &[(reqwest::header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).expect("test header"));
        }
        h
    }

    #[test]
    fn freshness_table() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = |s: u64| Freshness::Until(Some(now + Duration::from_secs(s)));
        let stale = Freshness::Until(None);
        let exp = httpdate::fmt_http_date(now + Duration::from_secs(50));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(50));
        let cases: Vec<(HeaderMap, Freshness)> = vec![
            (headers(&[]), stale),
            (headers(&[(CACHE_CONTROL, "max-age=60")]), at(60)),
            (headers(&[(CACHE_CONTROL, "public, max-age=60")]), at(60)),
            (
                headers(&[(CACHE_CONTROL, "max-age=60"), (AGE, "20")]),
                at(40),
            ),
            (
                headers(&[(CACHE_CONTROL, "max-age=60"), (AGE, "90")]),
                stale,
            ),
            (headers(&[(CACHE_CONTROL, "max-age=abc")]), stale),
            (headers(&[(CACHE_CONTROL, "no-cache, max-age=60")]), stale),
            (
                headers(&[(CACHE_CONTROL, "max-age=60, no-store")]),
                Freshness::NoStore,
            ),
            (headers(&[(EXPIRES, &exp)]), at(50)),
            (headers(&[(EXPIRES, &past)]), stale),
            (headers(&[(EXPIRES, "0")]), stale),
            (
                headers(&[(CACHE_CONTROL, "max-age=10"), (EXPIRES, &exp)]),
                at(10),
            ),
        ];
        for (h, want) in cases {
            assert_eq!(freshness(&h, now), want, "{h:?}");
        }
    }

    fn entry() -> Entry {
        let img = image::RgbaImage::from_pixel(4, 4, image::Rgba([9, 8, 7, 255]));
        Entry {
            final_url: "https://x/a.png".into(),
            etag: Some("\"v1\"".into()),
            last_modified: None,
            fresh_until: Some(UNIX_EPOCH + Duration::from_secs(2_000_000_000)),
            fingerprint: Fingerprint::from_rgba(&img, sha256_hex(b"bytes")),
        }
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::new(dir.path().join("nested"));
        assert_eq!(cache.load("https://x/a.png"), None);
        cache.store("https://x/a.png", &entry());
        assert_eq!(cache.load("https://x/a.png"), Some(entry()));
        assert_eq!(cache.load("https://x/b.png"), None);
        // No temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(cache.dir())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn corrupt_entries_are_ignored_then_rewritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::new(dir.path().to_path_buf());
        let url = "https://x/a.png";
        let good = serde_json::to_string(&serde_json::json!({"x": 1})).expect("json");
        for bad in [
            "".to_string(),
            "{not json".to_string(),
            good,
            "\u{0}\u{1}binary".to_string(),
        ] {
            std::fs::write(cache.path_for(url), bad).expect("write");
            assert_eq!(cache.load(url), None);
        }
        // An entry stored for another URL under this URL's name is not used.
        cache.store("https://x/other.png", &entry());
        std::fs::copy(cache.path_for("https://x/other.png"), cache.path_for(url)).expect("copy");
        assert_eq!(cache.load(url), None);
        // Truncated cells.
        let text = std::fs::read_to_string(cache.path_for("https://x/other.png")).expect("read");
        let cut = text.replace("\"cells\":\"", "\"cells\":\"0");
        std::fs::write(cache.path_for("https://x/other.png"), cut).expect("write");
        assert_eq!(cache.load("https://x/other.png"), None);
        cache.store(url, &entry());
        assert_eq!(cache.load(url), Some(entry()));
    }

    #[test]
    fn unwritable_cache_is_not_fatal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a-file");
        std::fs::write(&file, "x").expect("write");
        // The cache "directory" is a file: every write fails, quietly.
        let cache = Cache::new(file.join("sub"));
        cache.store("https://x/a.png", &entry());
        assert_eq!(cache.load("https://x/a.png"), None);
    }
}
