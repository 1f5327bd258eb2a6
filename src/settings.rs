//! The "high" layer of options: API URL, token and colour resolved from flags,
//! environment and the official CLI's profile file. (Filled in by the API issue.)

use std::fmt;

/// The API token. It has no `Display`, and its `Debug` is redacted, so that it
/// cannot reach any output, log line, plan file or error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(secret: String) -> Token {
        Token(secret)
    }

    /// The secret itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The default API base URL.
pub const DEFAULT_API_URL: &str = "https://api.linqapp.com/api/partner";

/// The resolved API base URL. Only HTTPS, or plain HTTP to a loopback host
/// (local testing against a fake).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiUrl(url::Url);

impl ApiUrl {
    /// Check a base URL string; `source` names where it came from, for errors.
    pub fn parse(raw: &str, source: &str) -> anyhow::Result<ApiUrl> {
        let url = url::Url::parse(raw.trim_end_matches('/'))
            .map_err(|e| anyhow::anyhow!("invalid API URL {raw:?} from {source}: {e}"))?;
        match url.scheme() {
            "https" => {}
            "http" if host_is_loopback(&url) => {}
            "http" => anyhow::bail!(
                "refusing non-HTTPS API URL {raw:?} from {source}: plain http is only allowed for loopback hosts"
            ),
            other => anyhow::bail!("API URL {raw:?} from {source} has unsupported scheme {other:?}"),
        }
        Ok(ApiUrl(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    pub fn url(&self) -> &url::Url {
        &self.0
    }

    /// Whether the API is on this machine: then image URLs may be plain http on
    /// loopback, and image fetches may reach loopback addresses.
    pub fn is_loopback(&self) -> bool {
        host_is_loopback(&self.0)
    }
}

/// `localhost`, 127.0.0.0/8 or `[::1]`.
pub fn host_is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `--api-url`, else `LINQ_API_URL`, else `LINQ_API_V3_BASE_URL`, else the default.
pub fn resolve_api_url(flag: Option<&str>) -> anyhow::Result<ApiUrl> {
    if let Some(f) = flag {
        return ApiUrl::parse(f, "--api-url");
    }
    for var in ["LINQ_API_URL", "LINQ_API_V3_BASE_URL"] {
        if let Ok(v) = std::env::var(var) {
            if !v.trim().is_empty() {
                return ApiUrl::parse(v.trim(), var);
            }
        }
    }
    ApiUrl::parse(DEFAULT_API_URL, "the default")
}
