//! The HTTP client: one async method per endpoint of LINQ_API.md, each a single
//! request. It owns transport concerns (timeouts, `User-Agent`, auth header, turning
//! answers into typed results) and must not retry: every write costs one of the
//! number's 3 per 10 minutes, so retrying is `apply`'s decision.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::error::body_snippet;
use crate::api::{
    ApiError, CardFields, ClientError, ContactCard, ContactCardList, CreateCard, PhoneNumberInfo,
    PhoneNumberList,
};
use crate::settings::{ApiUrl, Token};

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("linq-cards/", env!("CARGO_PKG_VERSION"));

/// Shorter tokens are not searched for in messages (see `Client::redact`).
const MIN_REDACTED_LEN: usize = 6;

/// Transport limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// Time to establish the TCP/TLS connection.
    pub connect_timeout: Duration,
    /// Time for a whole request, from sending to the last byte of the body.
    pub timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
        }
    }
}

/// A client bound to one base URL and token.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    api_url: ApiUrl,
    token: Token,
}

impl Client {
    /// A client for `api_url` (already checked: HTTPS, or loopback HTTP).
    pub fn new(api_url: &ApiUrl, token: Token, opts: ClientOptions) -> anyhow::Result<Client> {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(opts.connect_timeout)
            .timeout(opts.timeout)
            // The API never redirects; following one could carry the bearer token
            // somewhere unexpected, so a 3xx is reported as the error it is.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| anyhow::anyhow!("building the HTTP client: {}", error_chain(&e)))?;
        Ok(Client {
            http,
            api_url: api_url.clone(),
            token,
        })
    }

    /// The base URL this client talks to.
    pub fn api_url(&self) -> &ApiUrl {
        &self.api_url
    }

    /// `GET /v3/contact_card`: every card of the account.
    pub async fn list_cards(&self) -> Result<Vec<ContactCard>, ClientError> {
        let url = self.endpoint("contact_card", None);
        let list: ContactCardList = self.send(Method::GET, url, None::<&()>).await?;
        Ok(list.contact_cards)
    }

    /// `GET /v3/contact_card?phone_number=...`: one card (404/2012 when none).
    pub async fn get_card(&self, phone_number: &str) -> Result<ContactCard, ClientError> {
        let url = self.endpoint("contact_card", Some(phone_number));
        let list: ContactCardList = self.send(Method::GET, url, None::<&()>).await?;
        // The filtered list answers in the list shape; anything but that one
        // number's card is a body we cannot trust.
        let status = 200;
        let mut matching = list
            .contact_cards
            .into_iter()
            .filter(|c| c.phone_number == phone_number);
        match (matching.next(), matching.next()) {
            (Some(card), None) => Ok(card),
            (None, _) => Err(ClientError::Decode {
                status,
                detail: format!("the answer holds no card for {phone_number}"),
            }),
            (Some(_), Some(_)) => Err(ClientError::Decode {
                status,
                detail: format!("the answer holds more than one card for {phone_number}"),
            }),
        }
    }

    /// `POST /v3/contact_card`: first-time setup (or set-up again of an inactive card).
    pub async fn create_card(&self, body: &CreateCard) -> Result<ContactCard, ClientError> {
        let url = self.endpoint("contact_card", None);
        self.send(Method::POST, url, Some(body)).await
    }

    /// `PATCH /v3/contact_card?phone_number=...`: only the fields in `body` change.
    pub async fn update_card(
        &self,
        phone_number: &str,
        body: &CardFields,
    ) -> Result<ContactCard, ClientError> {
        let url = self.endpoint("contact_card", Some(phone_number));
        self.send(Method::PATCH, url, Some(body)).await
    }

    /// `GET /v3/phone_numbers`: the numbers on the account.
    pub async fn list_phone_numbers(&self) -> Result<Vec<PhoneNumberInfo>, ClientError> {
        let url = self.endpoint("phone_numbers", None);
        let list: PhoneNumberList = self.send(Method::GET, url, None::<&()>).await?;
        Ok(list.phone_numbers)
    }

    /// `<base>/v3/<resource>`, with the number as a properly escaped query
    /// parameter (`+` must go out as `%2B`, or the server reads a space).
    fn endpoint(&self, resource: &str, phone_number: Option<&str>) -> url::Url {
        let mut url = self.api_url.url().clone();
        url.path_segments_mut()
            .expect("an http(s) URL always has path segments")
            .pop_if_empty()
            .extend(["v3", resource]);
        url.set_query(None);
        url.set_fragment(None);
        if let Some(phone) = phone_number {
            url.query_pairs_mut().append_pair("phone_number", phone);
        }
        url
    }

    /// One request, one answer: success bodies decode into `T`, anything else
    /// becomes a [`ClientError`].
    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        url: url::Url,
        body: Option<&impl Serialize>,
    ) -> Result<T, ClientError> {
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", self.token.expose())).map_err(|_| {
                ClientError::Network {
                    message: "the API token contains characters that cannot go in an HTTP header"
                        .into(),
                    timeout: false,
                }
            })?;
        auth.set_sensitive(true);
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .header(AUTHORIZATION, auth)
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            let json = serde_json::to_vec(body).expect("wire types always serialize");
            tracing::trace!(body = %String::from_utf8_lossy(&json), "request body");
            request = request.header(CONTENT_TYPE, "application/json").body(json);
        }

        // The Authorization header is never logged, at any level.
        tracing::debug!(%method, %url, "linq request");
        let started = Instant::now();
        let response = request.send().await.map_err(|e| self.network_error(&e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response.bytes().await.map_err(|e| self.network_error(&e))?;
        tracing::debug!(
            %method,
            %url,
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "linq response"
        );
        tracing::trace!(body = %self.redact(&body_snippet(&bytes)), "response body");

        if !(200..300).contains(&status) {
            let mut err =
                ApiError::from_response(status, retry_after.as_deref(), &bytes, SystemTime::now());
            // A foreign error page may echo request headers back at us.
            err.message = self.redact(&err.message);
            tracing::debug!(error = %err, "linq error");
            return Err(ClientError::Api(err));
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            status,
            detail: format!("{e}; body starts: {}", self.redact(&body_snippet(&bytes))),
        })
    }

    fn network_error(&self, e: &reqwest::Error) -> ClientError {
        ClientError::Network {
            message: self.redact(&error_chain(e)),
            timeout: e.is_timeout(),
        }
    }

    /// Never let the token through, whatever a server or library puts in a message.
    fn redact(&self, text: &str) -> String {
        let secret = self.token.expose();
        // Real tokens are long; replacing a one- or two-letter test token
        // everywhere would only garble messages.
        if secret.len() < MIN_REDACTED_LEN {
            text.to_string()
        } else {
            text.replace(secret, "<redacted>")
        }
    }
}

/// An error and its sources on one line: reqwest's own message is only
/// "error sending request"; the cause (refused, reset, timed out) is below it.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> Client {
        let url = ApiUrl::parse(base, "test").expect("valid test URL");
        Client::new(&url, Token::new("t".into()), ClientOptions::default()).expect("client builds")
    }

    #[test]
    fn endpoints_hang_off_the_base_path() {
        let c = client("https://api.linqapp.com/api/partner");
        assert_eq!(
            c.endpoint("contact_card", None).as_str(),
            "https://api.linqapp.com/api/partner/v3/contact_card"
        );
        assert_eq!(
            c.endpoint("contact_card", Some("+12223334444")).as_str(),
            "https://api.linqapp.com/api/partner/v3/contact_card?phone_number=%2B12223334444"
        );
        let c = client("http://127.0.0.1:8080/");
        assert_eq!(
            c.endpoint("phone_numbers", None).as_str(),
            "http://127.0.0.1:8080/v3/phone_numbers"
        );
    }

    #[test]
    fn debug_hides_the_token() {
        let url = ApiUrl::parse("https://example.com", "test").expect("valid");
        let c = Client::new(
            &url,
            Token::new("sekrit-token-123".into()),
            ClientOptions::default(),
        )
        .expect("client builds");
        assert!(!format!("{c:?}").contains("sekrit-token-123"));
        assert_eq!(c.redact("a sekrit-token-123 b"), "a <redacted> b");
    }

    #[test]
    fn user_agent_names_the_tool_and_version() {
        assert_eq!(
            USER_AGENT,
            format!("linq-cards/{}", env!("CARGO_PKG_VERSION"))
        );
    }
}
