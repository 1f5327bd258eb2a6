//! The HTTP client: one async method per endpoint. (Filled in by the API issue.)

/// A client bound to one base URL and token.
#[derive(Debug, Clone)]
pub struct Client;
