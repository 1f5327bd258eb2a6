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
