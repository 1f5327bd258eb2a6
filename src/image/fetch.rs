//! Capped, guarded image downloads.
//!
//! A source `image_url` may come from an untrusted pull request, and `plan`
//! runs in CI with network access, so a fetch must not become a way to probe
//! internal services (SSRF) or to stall or exhaust the runner:
//! - only `https://` (plain `http://` only to a loopback host while the API
//!   URL is loopback: local testing against a fake);
//! - every address a host name resolves to is checked **at connect time** by
//!   [`GuardedResolver`], so DNS rebinding between a check and the connection
//!   cannot slip through; IP-literal hosts (which skip DNS) are checked here;
//! - redirects are followed by hand, each hop re-checked, at most
//!   [`MAX_REDIRECTS`];
//! - no proxy from the environment (it would connect on our behalf,
//!   bypassing the address check);
//! - the body is capped while it streams (`Content-Length` first, then the
//!   bytes actually received) and the whole fetch, hops included, has one
//!   deadline.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH, LOCATION};
use reqwest::StatusCode;
use url::Url;

/// Redirect hops followed before giving up.
pub const MAX_REDIRECTS: usize = 5;

/// Why a URL could not be fetched. The `Display` text completes the sentence
/// "image URL could not be fetched: …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("HTTP {0}")]
    Status(String),
    #[error("exceeds {}", human_size(*.0))]
    TooLarge(u64),
    #[error("timed out after {}s", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Blocked(Blocked),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("{0}")]
    Network(String),
}

/// A host that resolves (or is) an address image fetches must not reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub host: String,
    pub ip: IpAddr,
    pub kind: &'static str,
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Blocked { host, ip, kind } = self;
        if *host == ip.to_string() {
            write!(f, "{ip} is {kind} address, refused")
        } else {
            write!(f, "{host} resolves to {kind} address {ip}, refused")
        }
    }
}

impl std::error::Error for Blocked {}

/// "10 MiB", "512 KiB", "100 bytes".
pub fn human_size(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else if bytes >= 1024 {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// Why an address is off limits ("a private", "a loopback", …), or `None`.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("a loopback")
    } else if ip.is_private() {
        Some("a private")
    } else if ip.is_link_local() {
        Some("a link-local")
    } else if ip.is_unspecified() || o[0] == 0 {
        Some("an unspecified")
    } else if ip.is_broadcast() {
        Some("a broadcast")
    } else if ip.is_multicast() {
        Some("a multicast")
    } else if o[0] == 100 && (o[1] & 0xC0) == 64 {
        Some("a shared (CGNAT)")
    } else if o[0] >= 240
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (o[1] & 0xFE) == 18)
    {
        Some("a reserved")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_loopback() {
        Some("a loopback")
    } else if ip.is_unspecified() {
        Some("an unspecified")
    } else if ip.is_multicast() {
        Some("a multicast")
    } else if (s[0] & 0xFE00) == 0xFC00 {
        Some("a unique-local")
    } else if (s[0] & 0xFFC0) == 0xFE80 {
        Some("a link-local")
    } else if let Some(v4) = ip.to_ipv4_mapped() {
        forbidden_v4(v4)
    } else if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        // NAT64 embeds the IPv4 destination in the low 32 bits.
        forbidden_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ))
    } else if s[0] == 0x2002 {
        // 6to4 embeds the IPv4 gateway in bits 16..48.
        forbidden_v4(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ))
    } else {
        None
    }
}

/// Whether a URL's host is loopback by name or address.
fn host_is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The scheme and IP-literal part of the policy; host names are checked by
/// [`GuardedResolver`] when the connection is made.
pub fn check_url(url: &Url, allow_loopback: bool, redirect: bool) -> Result<(), FetchError> {
    let what = if redirect { "redirect to " } else { "" };
    match url.scheme() {
        "https" => {}
        "http" if allow_loopback && host_is_loopback(url) => {}
        "http" => {
            return Err(FetchError::Refused(if redirect {
                "redirect to http:// refused (HTTPS only)".to_string()
            } else {
                "plain http:// refused (HTTPS only)".to_string()
            }))
        }
        other => {
            return Err(FetchError::Refused(format!(
                "{what}{other}: refused (HTTPS only)"
            )))
        }
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(url::Host::Domain(_)) => return Ok(()),
        None => {
            return Err(FetchError::Refused(format!(
                "{what}a URL without a host refused"
            )))
        }
    };
    if allow_loopback {
        return Ok(());
    }
    match forbidden(ip) {
        Some(kind) => Err(FetchError::Blocked(Blocked {
            host: ip.to_string(),
            ip,
            kind,
        })),
        None => Ok(()),
    }
}

/// Resolves with the system resolver, then refuses a name if any of its
/// addresses is forbidden (a name that mixes public and private addresses is
/// a rebinding trick, not a CDN).
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_loopback: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_loopback {
                for a in &addrs {
                    if let Some(kind) = forbidden(a.ip()) {
                        let blocked = Blocked {
                            host: host.clone(),
                            ip: a.ip(),
                            kind,
                        };
                        return Err(Box::new(blocked) as Box<dyn std::error::Error + Send + Sync>);
                    }
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Validators to send when revalidating, and the URL they belong to.
#[derive(Debug, Clone, Default)]
pub struct Conditional {
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What a fetch produced.
#[derive(Debug)]
pub enum Fetched {
    Body {
        bytes: Vec<u8>,
        final_url: String,
        headers: HeaderMap,
    },
    /// `304 Not Modified` at the URL the validators belong to.
    NotModified {
        final_url: String,
        headers: HeaderMap,
    },
}

/// An HTTP client bound to the fetch policy.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    allow_loopback: bool,
    max_bytes: u64,
    timeout: Duration,
}

impl Fetcher {
    pub fn new(allow_loopback: bool, max_bytes: u64, timeout: Duration) -> anyhow::Result<Fetcher> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { allow_loopback }))
            .connect_timeout(timeout)
            .user_agent(concat!("linq-cards/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("building the image HTTP client: {e}"))?;
        Ok(Fetcher {
            client,
            allow_loopback,
            max_bytes,
            timeout,
        })
    }

    /// Fetch `url` within the deadline, following redirects by hand.
    pub async fn fetch(
        &self,
        url: &str,
        cond: Option<&Conditional>,
    ) -> Result<Fetched, FetchError> {
        match tokio::time::timeout(self.timeout, self.fetch_inner(url, cond)).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout(self.timeout)),
        }
    }

    async fn fetch_inner(
        &self,
        url: &str,
        cond: Option<&Conditional>,
    ) -> Result<Fetched, FetchError> {
        let mut current =
            Url::parse(url).map_err(|e| FetchError::Refused(format!("not a valid URL ({e})")))?;
        check_url(&current, self.allow_loopback, false)?;
        for hop in 0..=MAX_REDIRECTS {
            let mut req = self.client.get(current.clone());
            // Validators belong to the URL that answered with them; sending
            // them to a redirector could get a meaningless 304.
            if let Some(c) = cond.filter(|c| c.url == current.as_str()) {
                if let Some(etag) = &c.etag {
                    req = req.header(IF_NONE_MATCH, etag);
                }
                if let Some(lm) = &c.last_modified {
                    req = req.header(IF_MODIFIED_SINCE, lm);
                }
            }
            let mut resp = req.send().await.map_err(network_error)?;
            let status = resp.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                if hop == MAX_REDIRECTS {
                    return Err(FetchError::TooManyRedirects);
                }
                let location = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        FetchError::Refused(format!("HTTP {status} without a Location"))
                    })?;
                let next = current.join(location).map_err(|e| {
                    FetchError::Refused(format!("redirect to an invalid URL ({e})"))
                })?;
                check_url(&next, self.allow_loopback, true)?;
                tracing::debug!("image {current} redirects to {next}");
                current = next;
                continue;
            }
            if status == StatusCode::NOT_MODIFIED {
                if cond.is_some_and(|c| c.url == current.as_str()) {
                    return Ok(Fetched::NotModified {
                        final_url: current.to_string(),
                        headers: resp.headers().clone(),
                    });
                }
                return Err(FetchError::Status(
                    "304 without a conditional request".into(),
                ));
            }
            if !status.is_success() {
                return Err(FetchError::Status(status.to_string()));
            }
            if resp.content_length().is_some_and(|n| n > self.max_bytes) {
                return Err(FetchError::TooLarge(self.max_bytes));
            }
            let headers = resp.headers().clone();
            let mut bytes = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(network_error)? {
                if bytes.len() as u64 + chunk.len() as u64 > self.max_bytes {
                    return Err(FetchError::TooLarge(self.max_bytes));
                }
                bytes.extend_from_slice(&chunk);
            }
            return Ok(Fetched::Body {
                bytes,
                final_url: current.to_string(),
                headers,
            });
        }
        Err(FetchError::TooManyRedirects)
    }
}

/// A reqwest error as a fetch error: the resolver's refusal keeps its own
/// message, anything else is the error chain.
fn network_error(e: reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    let mut parts = Vec::new();
    while let Some(s) = source {
        if let Some(b) = s.downcast_ref::<Blocked>() {
            return FetchError::Blocked(b.clone());
        }
        let text = s.to_string();
        if !parts.iter().any(|p: &String| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    if e.is_timeout() {
        return FetchError::Network(format!("timed out ({})", parts.join(": ")));
    }
    FetchError::Network(parts.join(": "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_addresses() {
        let cases: &[(&str, Option<&str>)] = &[
            ("127.0.0.1", Some("a loopback")),
            ("127.9.9.9", Some("a loopback")),
            ("10.0.0.5", Some("a private")),
            ("172.16.0.1", Some("a private")),
            ("172.31.255.255", Some("a private")),
            ("172.32.0.1", None),
            ("192.168.1.1", Some("a private")),
            ("169.254.169.254", Some("a link-local")),
            ("0.0.0.0", Some("an unspecified")),
            ("0.1.2.3", Some("an unspecified")),
            ("255.255.255.255", Some("a broadcast")),
            ("224.0.0.1", Some("a multicast")),
            ("100.64.0.1", Some("a shared (CGNAT)")),
            ("100.127.255.255", Some("a shared (CGNAT)")),
            ("100.128.0.1", None),
            ("240.0.0.1", Some("a reserved")),
            ("8.8.8.8", None),
            ("93.184.216.34", None),
            ("::1", Some("a loopback")),
            ("::", Some("an unspecified")),
            ("fc00::1", Some("a unique-local")),
            ("fd12:3456::1", Some("a unique-local")),
            ("fe80::1", Some("a link-local")),
            ("ff02::1", Some("a multicast")),
            ("::ffff:10.0.0.5", Some("a private")),
            ("::ffff:127.0.0.1", Some("a loopback")),
            ("64:ff9b::a00:5", Some("a private")),
            ("2002:a00:5::1", Some("a private")),
            ("2606:4700::1111", None),
            ("::ffff:8.8.8.8", None),
        ];
        for (ip, want) in cases {
            let ip: IpAddr = ip.parse().expect("test address");
            assert_eq!(forbidden(ip), *want, "{ip}");
        }
    }

    #[test]
    fn url_policy() {
        let ok = |u: &str, loopback: bool| check_url(&Url::parse(u).expect("url"), loopback, false);
        assert_eq!(ok("https://cdn.example.com/a.png", false), Ok(()));
        assert_eq!(ok("http://127.0.0.1:8080/a.png", true), Ok(()));
        assert_eq!(ok("http://localhost:8080/a.png", true), Ok(()));
        assert_eq!(ok("https://127.0.0.1/a.png", true), Ok(()));
        assert_eq!(
            ok("http://cdn.example.com/a.png", true).map_err(|e| e.to_string()),
            Err("plain http:// refused (HTTPS only)".into())
        );
        assert_eq!(
            ok("http://127.0.0.1/a.png", false).map_err(|e| e.to_string()),
            Err("plain http:// refused (HTTPS only)".into())
        );
        assert_eq!(
            ok("https://10.0.0.5/a.png", false).map_err(|e| e.to_string()),
            Err("10.0.0.5 is a private address, refused".into())
        );
        assert_eq!(
            ok("https://[::1]/a.png", false).map_err(|e| e.to_string()),
            Err("::1 is a loopback address, refused".into())
        );
        assert!(ok("ftp://cdn.example.com/a.png", true).is_err());
        assert!(ok("file:///etc/passwd", true).is_err());
        let redirect = check_url(
            &Url::parse("http://cdn.example.com/").expect("url"),
            false,
            true,
        );
        assert_eq!(
            redirect.map_err(|e| e.to_string()),
            Err("redirect to http:// refused (HTTPS only)".into())
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(10 * 1024 * 1024), "10 MiB");
        assert_eq!(human_size(1536 * 1024), "1.5 MiB");
        assert_eq!(human_size(2048), "2 KiB");
        assert_eq!(human_size(100), "100 bytes");
    }

    #[tokio::test]
    async fn resolver_refuses_loopback_names() {
        let f = Fetcher::new(false, 1024, Duration::from_secs(5)).expect("client");
        let e = f.fetch("https://localhost:9/a.png", None).await;
        match e {
            Err(FetchError::Blocked(b)) => {
                assert_eq!(b.host, "localhost");
                assert!(b.ip.is_loopback(), "{b:?}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
