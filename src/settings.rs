//! The "high" layer of options: API URL, token and colour resolved from flags,
//! environment and the official CLI's profile file (SPEC.md, "Global options"
//! and "Token"). It must never let the token reach a message or a log line.

use std::fmt;
use std::path::{Path, PathBuf};

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
    resolve_api_url_with(flag, &|var| std::env::var(var).ok())
}

/// [`resolve_api_url`] with the environment passed in (for tests).
pub fn resolve_api_url_with(
    flag: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<ApiUrl> {
    if let Some(f) = flag {
        return ApiUrl::parse(f, "--api-url");
    }
    for var in ["LINQ_API_URL", "LINQ_API_V3_BASE_URL"] {
        if let Some(v) = env(var) {
            if !v.trim().is_empty() {
                return ApiUrl::parse(v.trim(), var);
            }
        }
    }
    ApiUrl::parse(DEFAULT_API_URL, "the default")
}

/// Environment variables that may hold the token, in order of precedence: the
/// docs' examples read the first, the official SDKs the second (LINQ_API.md).
pub const TOKEN_VARS: [&str; 2] = ["LINQ_API_KEY", "LINQ_API_V3_API_KEY"];

/// `LINQ_API_KEY`, else `LINQ_API_V3_API_KEY`, else the token of a profile in the
/// official CLI's `~/.linq/config.json`: `profile` if given, else the file's
/// active one. The environment wins over `--profile`, as the CLI help says.
pub fn resolve_token(profile: Option<&str>) -> anyhow::Result<Token> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf()));
    resolve_token_with(profile, &|var| std::env::var(var).ok(), home.as_deref())
}

/// [`resolve_token`] with the environment and home directory passed in (for tests).
pub fn resolve_token_with(
    profile: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> anyhow::Result<Token> {
    for var in TOKEN_VARS {
        if let Some(v) = env(var) {
            let v = v.trim();
            if !v.is_empty() {
                if let Some(p) = profile {
                    tracing::debug!("{var} is set; it takes precedence over --profile {p}");
                } else {
                    tracing::debug!("API token from {var}");
                }
                return Ok(Token::new(v.to_string()));
            }
        }
    }
    let path = home.map(|h| h.join(".linq").join("config.json"));
    let file = match &path {
        Some(p) => match std::fs::read(p) {
            Ok(bytes) => Some((p, bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => anyhow::bail!("reading {}: {e}", p.display()),
        },
        None => None,
    };
    let Some((path, bytes)) = file else {
        if let Some(p) = profile {
            anyhow::bail!(
                "--profile {p}: no profile file at {} ({})",
                path.as_deref()
                    .map_or_else(|| "~/.linq/config.json".into(), |p| p.display().to_string()),
                MISSING_TOKEN_HELP
            );
        }
        anyhow::bail!("no API token found: {MISSING_TOKEN_HELP}");
    };
    // Only the position goes into the message: serde's "invalid type: string ..."
    // would quote the file's text, which may be the token itself.
    let config: ProfileFile = serde_json::from_slice(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "reading {}: not a valid profile file ({:?} error at line {}, column {})",
            path.display(),
            e.classify(),
            e.line(),
            e.column()
        )
    })?;
    let (name, how) = match profile {
        Some(p) => (p.to_string(), "--profile"),
        None => match config.profile.as_deref().filter(|p| !p.is_empty()) {
            Some(active) => (active.to_string(), "the active profile"),
            None if config.profiles.len() == 1 => (
                config.profiles.keys().next().expect("len is 1").clone(),
                "the only profile",
            ),
            None if config.profiles.contains_key("default") => {
                ("default".to_string(), "the default profile")
            }
            None => anyhow::bail!(
                "{} names no active profile and has no \"default\" one; pass --profile NAME ({})",
                path.display(),
                profile_list(&config)
            ),
        },
    };
    let Some(entry) = config.profiles.get(&name) else {
        anyhow::bail!(
            "{} has no profile {name:?} ({how}); {}",
            path.display(),
            profile_list(&config)
        );
    };
    match entry
        .token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(t) => {
            tracing::debug!("API token from profile {name:?} in {}", path.display());
            Ok(Token::new(t.to_string()))
        }
        None => anyhow::bail!(
            "profile {name:?} in {} has no token; {MISSING_TOKEN_HELP}",
            path.display()
        ),
    }
}

const MISSING_TOKEN_HELP: &str = "set LINQ_API_KEY or LINQ_API_V3_API_KEY, \
or log in with the official `linq` CLI so that ~/.linq/config.json holds a profile \
token (pick one with --profile NAME)";

fn profile_list(config: &ProfileFile) -> String {
    if config.profiles.is_empty() {
        "it lists no profiles".to_string()
    } else {
        let names: Vec<&str> = config.profiles.keys().map(String::as_str).collect();
        format!("profiles: {}", names.join(", "))
    }
}

/// `~/.linq/config.json` of the official CLI:
/// `{"profile": "default", "profiles": {"default": {"token": "..."}}}`.
#[derive(serde::Deserialize)]
struct ProfileFile {
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    profiles: std::collections::BTreeMap<String, ProfileEntry>,
}

#[derive(serde::Deserialize)]
struct ProfileEntry {
    #[serde(default)]
    token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    type Env<'a> = &'a dyn Fn(&str) -> Option<String>;
    type EnvPairs<'a> = &'a [(&'a str, &'a str)];

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn api_url_precedence() {
        let both = env_of(&[
            ("LINQ_API_URL", "https://a.example"),
            ("LINQ_API_V3_BASE_URL", "https://b.example"),
        ]);
        let cases: [(Option<&str>, Env, &str); 5] = [
            (
                Some("https://flag.example/x/"),
                &both,
                "https://flag.example/x",
            ),
            (None, &both, "https://a.example"),
            (
                None,
                &env_of(&[("LINQ_API_V3_BASE_URL", "https://b.example")]),
                "https://b.example",
            ),
            (
                None,
                &env_of(&[
                    ("LINQ_API_URL", "  "),
                    ("LINQ_API_V3_BASE_URL", "https://b.example"),
                ]),
                "https://b.example",
            ),
            (None, &env_of(&[]), DEFAULT_API_URL),
        ];
        for (flag, env, want) in cases {
            let got = resolve_api_url_with(flag, env).expect("valid");
            assert_eq!(got.as_str(), want, "flag {flag:?}");
        }
    }

    #[test]
    fn api_url_loopback_rule() {
        let ok = [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9",
            "http://127.3.4.5",
            "https://api.linqapp.com/api/partner",
        ];
        for raw in ok {
            assert!(ApiUrl::parse(raw, "test").is_ok(), "{raw}");
        }
        assert!(ApiUrl::parse("http://127.0.0.1:8080", "t")
            .expect("ok")
            .is_loopback());
        assert!(!ApiUrl::parse("https://example.com", "t")
            .expect("ok")
            .is_loopback());

        let refused = [
            ("http://api.linqapp.com", "refusing non-HTTPS"),
            ("http://10.0.0.1", "refusing non-HTTPS"),
            ("http://localhost.evil.com", "refusing non-HTTPS"),
            ("ftp://127.0.0.1", "unsupported scheme"),
            ("not a url", "invalid API URL"),
        ];
        for (raw, want) in refused {
            let e = resolve_api_url_with(None, &env_of(&[("LINQ_API_URL", raw)]))
                .expect_err(raw)
                .to_string();
            assert!(e.contains(want), "{raw}: {e}");
            assert!(e.contains("LINQ_API_URL"), "names the source: {e}");
        }
    }

    fn home_with(config: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join(".linq")).expect("mkdir");
        std::fs::write(dir.path().join(".linq/config.json"), config).expect("write");
        dir
    }

    const PROFILES: &str = r#"{"profile": "work",
        "profiles": {"default": {"token": "tok-default"}, "work": {"token": "tok-work"},
                     "empty": {"token": "  "}}}"#;

    #[test]
    fn token_precedence() {
        let home = home_with(PROFILES);
        let h = Some(home.path());
        let cases: [(EnvPairs, Option<&str>, &str); 6] = [
            (
                &[("LINQ_API_KEY", "k1"), ("LINQ_API_V3_API_KEY", "k2")],
                None,
                "k1",
            ),
            (&[("LINQ_API_V3_API_KEY", "k2")], None, "k2"),
            (
                &[("LINQ_API_KEY", ""), ("LINQ_API_V3_API_KEY", "k2")],
                None,
                "k2",
            ),
            (&[("LINQ_API_KEY", "k1")], Some("default"), "k1"),
            (&[], None, "tok-work"),
            (&[], Some("default"), "tok-default"),
        ];
        for (env, profile, want) in cases {
            let t = resolve_token_with(profile, &env_of(env), h).expect("token");
            assert_eq!(t.expose(), want, "{env:?} {profile:?}");
        }
    }

    #[test]
    fn token_active_profile_fallbacks() {
        let only = home_with(r#"{"profiles": {"solo": {"token": "s"}}}"#);
        let t = resolve_token_with(None, &env_of(&[]), Some(only.path())).expect("only one");
        assert_eq!(t.expose(), "s");
        let dflt = home_with(r#"{"profiles": {"a": {"token": "a"}, "default": {"token": "d"}}}"#);
        let t = resolve_token_with(None, &env_of(&[]), Some(dflt.path())).expect("default");
        assert_eq!(t.expose(), "d");
        let none = home_with(r#"{"profiles": {"a": {"token": "a"}, "b": {"token": "b"}}}"#);
        let e = resolve_token_with(None, &env_of(&[]), Some(none.path()))
            .expect_err("ambiguous")
            .to_string();
        assert!(
            e.contains("--profile NAME") && e.contains("profiles: a, b"),
            "{e}"
        );
    }

    #[test]
    fn token_errors_list_every_source() {
        let empty_home = tempfile::tempdir().expect("tempdir");
        for home in [Some(empty_home.path()), None] {
            let e = resolve_token_with(None, &env_of(&[]), home)
                .expect_err("no token")
                .to_string();
            for source in ["LINQ_API_KEY", "LINQ_API_V3_API_KEY", "~/.linq/config.json"] {
                assert!(e.contains(source), "{e}");
            }
        }
        let e = resolve_token_with(Some("ci"), &env_of(&[]), Some(empty_home.path()))
            .expect_err("no file")
            .to_string();
        assert!(
            e.contains("--profile ci") && e.contains("LINQ_API_KEY"),
            "{e}"
        );

        let home = home_with(PROFILES);
        let e = resolve_token_with(Some("nope"), &env_of(&[]), Some(home.path()))
            .expect_err("unknown profile")
            .to_string();
        assert!(
            e.contains("\"nope\"") && e.contains("profiles: default, empty, work"),
            "{e}"
        );
        let e = resolve_token_with(Some("empty"), &env_of(&[]), Some(home.path()))
            .expect_err("blank token")
            .to_string();
        assert!(
            e.contains("has no token") && e.contains("LINQ_API_KEY"),
            "{e}"
        );
    }

    #[test]
    fn a_broken_profile_file_never_quotes_its_content() {
        for text in [
            r#"{"profiles": {"default": "SECRET-TOKEN-XYZ"}}"#,
            r#"{"profiles": {"default": {"token": "SECRET-TOKEN-XYZ""#,
            "SECRET-TOKEN-XYZ",
        ] {
            let home = home_with(text);
            let e =
                resolve_token_with(None, &env_of(&[]), Some(home.path())).expect_err("broken file");
            let shown = format!("{e:#} {e:?}");
            assert!(shown.contains("config.json"), "{shown}");
            assert!(!shown.contains("SECRET-TOKEN-XYZ"), "{shown}");
        }
    }

    #[test]
    fn token_debug_is_redacted() {
        let t = Token::new("SECRET-TOKEN-XYZ".into());
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
        assert_eq!(format!("{:?}", Some(t)), "Some(Token(<redacted>))");
    }
}
