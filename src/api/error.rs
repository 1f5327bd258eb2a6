//! API errors as data: the documented envelope parsed into [`ApiError`], and
//! everything else that can go wrong with a request in [`ClientError`].

use std::fmt;
use std::time::Duration;

/// The Linq error codes this tool branches on (LINQ_API.md, "Codes that matter").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    MissingField,     // 1001
    InvalidPhone,     // 1002
    InvalidBody,      // 1003
    InvalidParameter, // 1005
    RateLimited,      // 1007
    Unauthorized,     // 2004
    Forbidden,        // 2005
    NotActive,        // 2012
    AlreadyActive,    // 2014
    SetupIncomplete,  // 2022
    Internal,         // 3006
    UpstreamLimited,  // 4004
    Other(u32),
}

impl ErrorCode {
    pub fn from_u32(code: u32) -> ErrorCode {
        match code {
            1001 => ErrorCode::MissingField,
            1002 => ErrorCode::InvalidPhone,
            1003 => ErrorCode::InvalidBody,
            1005 => ErrorCode::InvalidParameter,
            1007 => ErrorCode::RateLimited,
            2004 => ErrorCode::Unauthorized,
            2005 => ErrorCode::Forbidden,
            2012 => ErrorCode::NotActive,
            2014 => ErrorCode::AlreadyActive,
            2022 => ErrorCode::SetupIncomplete,
            3006 => ErrorCode::Internal,
            4004 => ErrorCode::UpstreamLimited,
            other => ErrorCode::Other(other),
        }
    }

    pub fn as_u32(self) -> u32 {
        match self {
            ErrorCode::MissingField => 1001,
            ErrorCode::InvalidPhone => 1002,
            ErrorCode::InvalidBody => 1003,
            ErrorCode::InvalidParameter => 1005,
            ErrorCode::RateLimited => 1007,
            ErrorCode::Unauthorized => 2004,
            ErrorCode::Forbidden => 2005,
            ErrorCode::NotActive => 2012,
            ErrorCode::AlreadyActive => 2014,
            ErrorCode::SetupIncomplete => 2022,
            ErrorCode::Internal => 3006,
            ErrorCode::UpstreamLimited => 4004,
            ErrorCode::Other(c) => c,
        }
    }
}

/// A non-2xx answer from the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    /// `None` when the body was not the documented envelope.
    pub code: Option<ErrorCode>,
    pub message: String,
    pub trace_id: Option<String>,
    pub doc_url: Option<String>,
    /// From `error.retry_after` or the `Retry-After` header.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(code) = self.code {
            write!(f, ", code {}", code.as_u32())?;
        }
        write!(f, ": {}", self.message)?;
        match &self.trace_id {
            Some(t) => write!(f, " (trace_id {t})"),
            None => write!(f, " (no trace_id)"),
        }
    }
}

impl std::error::Error for ApiError {}

/// Anything a request can end in other than success.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API answered with an error status.
    #[error("{0}")]
    Api(ApiError),
    /// No answer: connection refused or dropped, or a timeout. The request may
    /// or may not have reached the API.
    #[error("network error{}: {message}", if *.timeout { " (timed out)" } else { "" })]
    Network { message: String, timeout: bool },
    /// A 2xx answer whose body is not what the API documents.
    #[error("unexpected response body (HTTP {status}): {detail}")]
    Decode { status: u16, detail: String },
}

impl ApiError {
    /// Build the error for a non-2xx answer from its status, its `Retry-After`
    /// header (if any) and its body. `now` turns an HTTP-date `Retry-After` into
    /// a wait.
    ///
    /// The documented envelope (LINQ_API.md, "Error envelope") fills every field;
    /// any other body (a proxy's HTML page, truncated JSON, nothing at all) still
    /// gives an error that names the status and shows the start of the body.
    pub fn from_response(
        status: u16,
        retry_after_header: Option<&str>,
        body: &[u8],
        now: std::time::SystemTime,
    ) -> ApiError {
        let header_wait = retry_after_header.and_then(|v| parse_retry_after(v, now));
        match serde_json::from_slice::<Envelope>(body) {
            Ok(env) => ApiError {
                status,
                code: Some(ErrorCode::from_u32(env.error.code)),
                message: env
                    .error
                    .message
                    .filter(|m| !m.trim().is_empty())
                    .unwrap_or_else(|| "(no message)".to_string()),
                trace_id: env.trace_id.filter(|t| !t.is_empty()),
                doc_url: env.error.doc_url.filter(|d| !d.is_empty()),
                // The body's integer is the API's own word; the header is the fallback.
                retry_after: env
                    .error
                    .retry_after
                    .map(Duration::from_secs)
                    .or(header_wait),
            },
            Err(_) => ApiError {
                status,
                code: None,
                message: not_envelope_message(status, body),
                trace_id: None,
                doc_url: None,
                retry_after: header_wait,
            },
        }
    }

    /// Whether this is the given Linq code.
    pub fn is(&self, code: ErrorCode) -> bool {
        self.code == Some(code)
    }
}

/// `{"success": false, "error": {...}, "trace_id": "..."}`; unknown fields ignored.
#[derive(serde::Deserialize)]
struct Envelope {
    error: EnvelopeError,
    #[serde(default)]
    trace_id: Option<String>,
}

#[derive(serde::Deserialize)]
struct EnvelopeError {
    code: u32,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    doc_url: Option<String>,
    #[serde(default)]
    retry_after: Option<u64>,
}

/// At most this many characters of a foreign body go into a message.
const SNIPPET_CHARS: usize = 200;

fn not_envelope_message(status: u16, body: &[u8]) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("unknown status");
    let snippet = body_snippet(body);
    if snippet.is_empty() {
        format!("{reason}, with an empty body instead of Linq's error envelope")
    } else {
        format!("{reason}, with a body that is not Linq's error envelope: {snippet}")
    }
}

/// The start of a body, on one line, for an error message.
pub fn body_snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = one_line.chars().take(SNIPPET_CHARS).collect();
    if one_line.chars().count() > SNIPPET_CHARS {
        out.push('…');
    }
    out
}

/// `Retry-After` is either delta-seconds or an HTTP date (RFC 9110 §10.2.3).
/// A date in the past means no wait.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn codes_round_trip() {
        for code in [
            1001, 1002, 1003, 1005, 1007, 2004, 2005, 2012, 2014, 2022, 3006, 4004, 5001,
        ] {
            assert_eq!(ErrorCode::from_u32(code).as_u32(), code);
        }
        assert_eq!(ErrorCode::from_u32(2014), ErrorCode::AlreadyActive);
        assert_eq!(ErrorCode::from_u32(5001), ErrorCode::Other(5001));
    }

    #[test]
    fn documented_envelope_parses() {
        // The example body of LINQ_API.md, "Error envelope".
        let body = br#"{"success": false,
 "error": {"status": 409, "code": 2014, "message": "Contact card already exists",
           "doc_url": "https://docs.linqapp.com/error/codes/2xxx/2014/"},
 "trace_id": "2eff5df5c6f688733c007523c4d61cd9"}"#;
        let e = ApiError::from_response(409, None, body, now());
        assert_eq!(e.status, 409);
        assert_eq!(e.code, Some(ErrorCode::AlreadyActive));
        assert_eq!(e.message, "Contact card already exists");
        assert_eq!(
            e.trace_id.as_deref(),
            Some("2eff5df5c6f688733c007523c4d61cd9")
        );
        assert_eq!(
            e.doc_url.as_deref(),
            Some("https://docs.linqapp.com/error/codes/2xxx/2014/")
        );
        assert_eq!(e.retry_after, None);
        assert_eq!(
            e.to_string(),
            "HTTP 409, code 2014: Contact card already exists (trace_id 2eff5df5c6f688733c007523c4d61cd9)"
        );
    }

    #[test]
    fn retry_after_body_wins_over_header() {
        let body = br#"{"success":false,"error":{"status":429,"code":1007,"message":"slow down","retry_after":42},"trace_id":"t"}"#;
        let e = ApiError::from_response(429, Some("7"), body, now());
        assert_eq!(e.retry_after, Some(Duration::from_secs(42)));
        assert!(e.is(ErrorCode::RateLimited));
        assert_eq!(e.doc_url, None, "doc_url may be absent");
    }

    #[test]
    fn retry_after_header_seconds_and_dates() {
        let body =
            br#"{"success":false,"error":{"status":429,"code":1007,"message":"m"},"trace_id":"t"}"#;
        let e = ApiError::from_response(429, Some(" 17 "), body, now());
        assert_eq!(e.retry_after, Some(Duration::from_secs(17)));

        let later = httpdate::fmt_http_date(now() + Duration::from_secs(90));
        let e = ApiError::from_response(429, Some(&later), body, now());
        assert_eq!(e.retry_after, Some(Duration::from_secs(90)));

        let past = httpdate::fmt_http_date(now() - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&past, now()), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now()), None);
        assert_eq!(parse_retry_after("-3", now()), None);
    }

    #[test]
    fn foreign_bodies_still_name_the_status() {
        let cases: [(&[u8], &str); 4] = [
            (
                b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                "Bad Gateway, with a body that is not Linq's error envelope: <html><body><h1>502 Bad Gateway</h1></body></html>",
            ),
            (
                br#"{"success": false, "error": {"status": 500, "co"#,
                "Internal Server Error, with a body that is not Linq's error envelope: {\"success\": false, \"error\": {\"status\": 500, \"co",
            ),
            (b"", "Service Unavailable, with an empty body instead of Linq's error envelope"),
            (br#"{"message":"nope"}"#, "Forbidden, with a body that is not Linq's error envelope: {\"message\":\"nope\"}"),
        ];
        let statuses = [502, 500, 503, 403];
        for ((body, want), status) in cases.into_iter().zip(statuses) {
            let e = ApiError::from_response(status, None, body, now());
            assert_eq!(e.status, status);
            assert_eq!(e.code, None);
            assert_eq!(e.message, want);
            assert!(e.to_string().starts_with(&format!("HTTP {status}: ")));
            assert!(e.to_string().ends_with("(no trace_id)"));
        }
    }

    #[test]
    fn long_bodies_are_cut() {
        let body = "x".repeat(5000);
        let s = body_snippet(body.as_bytes());
        assert_eq!(s.chars().count(), SNIPPET_CHARS + 1);
        assert!(s.ends_with('…'));
    }
}
