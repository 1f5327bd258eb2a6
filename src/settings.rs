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
