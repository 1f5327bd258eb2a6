//! The API client against the fake Linq server (and against a raw socket for
//! bodies no well-behaved server sends), and the fake against LINQ_API.md's
//! documented shapes.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fake_linq::{Card, Config, FakeLinq, Fault, FaultMatch};
use linq_cards::api::client::{ClientOptions, USER_AGENT};
use linq_cards::api::{
    ApiError, CardFields, Client, ClientError, ContactCard, ContactCardList, CreateCard, ErrorCode,
    PhoneNumberList,
};
use linq_cards::settings::{ApiUrl, Token};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const A: &str = "+12223334444";
const B: &str = "+12223335555";
const C: &str = "+12223336666";

fn client_for(fake: &FakeLinq) -> Client {
    client_with(fake, ClientOptions::default())
}

fn client_with(fake: &FakeLinq, opts: ClientOptions) -> Client {
    let url = ApiUrl::parse(&fake.base_url(), "test").expect("loopback URL");
    Client::new(&url, Token::new(fake.token()), opts).expect("client builds")
}

fn create(phone: &str, first: &str) -> CreateCard {
    CreateCard {
        phone_number: phone.into(),
        first_name: first.into(),
        last_name: None,
        image_url: None,
    }
}

fn api_err(r: Result<impl std::fmt::Debug, ClientError>) -> ApiError {
    match r {
        Err(ClientError::Api(e)) => e,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn assert_enveloped(e: &ApiError, status: u16, code: ErrorCode) {
    assert_eq!(e.status, status, "{e}");
    assert_eq!(e.code, Some(code), "{e}");
    let trace = e.trace_id.as_deref().expect("trace_id");
    assert_eq!(trace.len(), 32);
    assert!(e
        .doc_url
        .as_deref()
        .is_some_and(|d| d.starts_with("https://docs.linqapp.com/")));
    let shown = e.to_string();
    assert!(
        shown.contains(&format!("code {}", code.as_u32())),
        "{shown}"
    );
    assert!(
        shown.contains(trace),
        "messages carry the trace_id: {shown}"
    );
}

/// A fake with a roomy write budget, for tests that are not about the budget.
async fn fake() -> FakeLinq {
    FakeLinq::start(Config::default().numbers([A, B, C]).write_budget(100)).await
}

#[tokio::test]
async fn card_lifecycle_follows_linq_api_md() {
    let fake = fake().await;
    let client = client_for(&fake);

    assert_eq!(client.list_cards().await.expect("list"), vec![]);
    assert_enveloped(
        &api_err(client.get_card(A).await),
        404,
        ErrorCode::NotActive,
    );
    // PATCH needs an active card.
    let fields = CardFields {
        first_name: Some("X".into()),
        ..CardFields::default()
    };
    assert_enveloped(
        &api_err(client.update_card(A, &fields).await),
        404,
        ErrorCode::NotActive,
    );

    let mut body = create(A, "Acme");
    body.last_name = Some("Support".into());
    let card = client.create_card(&body).await.expect("create");
    assert_eq!(
        card,
        ContactCard {
            phone_number: A.into(),
            first_name: "Acme".into(),
            last_name: Some("Support".into()),
            image_url: None,
            is_active: true,
        }
    );
    // POST on an active card is 409/2014.
    assert_enveloped(
        &api_err(client.create_card(&create(A, "Again")).await),
        409,
        ErrorCode::AlreadyActive,
    );

    // PATCH merges only the fields sent.
    let patch = CardFields {
        last_name: Some("Billing".into()),
        ..CardFields::default()
    };
    let card = client.update_card(A, &patch).await.expect("update");
    assert_eq!(card.first_name, "Acme");
    assert_eq!(card.last_name.as_deref(), Some("Billing"));
    assert_eq!(client.get_card(A).await.expect("get"), card);
    assert_eq!(
        fake.card(A).expect("stored").last_name.as_deref(),
        Some("Billing")
    );

    // An inactive card goes back through POST.
    fake.set_card(Card::new(B, "Old").last_name("Keep").inactive());
    assert_enveloped(
        &api_err(client.update_card(B, &fields).await),
        404,
        ErrorCode::NotActive,
    );
    let card = client
        .create_card(&create(B, "New"))
        .await
        .expect("set up again");
    assert!(card.is_active);
    assert_eq!(card.first_name, "New");
    assert_eq!(
        card.last_name.as_deref(),
        Some("Keep"),
        "fields not sent are kept"
    );

    let listed = client.list_cards().await.expect("list");
    assert_eq!(
        listed
            .iter()
            .map(|c| c.phone_number.as_str())
            .collect::<Vec<_>>(),
        [A, B]
    );
    let numbers = client.list_phone_numbers().await.expect("numbers");
    assert_eq!(
        numbers
            .iter()
            .map(|n| n.phone_number.as_str())
            .collect::<Vec<_>>(),
        [A, B, C]
    );
    assert!(numbers.iter().all(|n| n.id.is_some()));
    assert!(fake.unexpected().is_empty(), "{:?}", fake.unexpected());
}

#[tokio::test]
async fn requests_are_logged_as_sent() {
    let fake = fake().await;
    let client = client_for(&fake);
    client
        .create_card(&create(A, "Acme"))
        .await
        .expect("create");
    let patch = CardFields {
        first_name: Some("Acme Co".into()),
        ..CardFields::default()
    };
    client.update_card(A, &patch).await.expect("update");
    let _ = client.get_card(A).await.expect("get");

    let log = fake.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(
        (log[0].method.as_str(), log[0].path.as_str()),
        ("POST", "/v3/contact_card")
    );
    assert_eq!(
        log[0].body,
        Some(serde_json::json!({"phone_number": A, "first_name": "Acme"}))
    );
    assert_eq!(log[1].method, "PATCH");
    // `+` must be escaped, or the server reads a space.
    assert_eq!(log[1].query.as_deref(), Some("phone_number=%2B12223334444"));
    assert_eq!(
        log[1].body,
        Some(serde_json::json!({"first_name": "Acme Co"}))
    );
    assert_eq!(log[2].phone.as_deref(), Some(A));
    for r in &log {
        assert_eq!(r.user_agent.as_deref(), Some(USER_AGENT));
        assert!(r.authorized);
        assert_eq!(r.status, Some(200));
    }
    assert_eq!(fake.writes_for(A), 2);
    assert_eq!(fake.writes_for(B), 0);
    assert_eq!(fake.count("GET", "/v3/contact_card"), 1);
    assert!(fake.unexpected().is_empty(), "{:?}", fake.unexpected());
}

#[tokio::test]
async fn every_documented_code_reaches_the_caller_typed() {
    let fake = fake().await;
    let client = client_for(&fake);
    let table = [
        (1001, 400, ErrorCode::MissingField),
        (1002, 400, ErrorCode::InvalidPhone),
        (1003, 400, ErrorCode::InvalidBody),
        (1005, 400, ErrorCode::InvalidParameter),
        (1007, 429, ErrorCode::RateLimited),
        (2004, 401, ErrorCode::Unauthorized),
        (2005, 403, ErrorCode::Forbidden),
        (2012, 404, ErrorCode::NotActive),
        (2014, 409, ErrorCode::AlreadyActive),
        (2022, 500, ErrorCode::SetupIncomplete),
        (3006, 500, ErrorCode::Internal),
        (4004, 503, ErrorCode::UpstreamLimited),
        (5001, 400, ErrorCode::Other(5001)),
    ];
    for (code, status, want) in table {
        for method in ["GET", "POST", "PATCH"] {
            fake.push_fault(FaultMatch::method(method), Fault::error(status, code));
        }
        fake.set_card(Card::new(A, "Acme"));
        assert_enveloped(&api_err(client.get_card(A).await), status, want);
        assert_enveloped(
            &api_err(client.create_card(&create(A, "X")).await),
            status,
            want,
        );
        let patch = CardFields {
            first_name: Some("Y".into()),
            ..CardFields::default()
        };
        assert_enveloped(&api_err(client.update_card(A, &patch).await), status, want);
    }
    fake.push_fault(FaultMatch::any(), Fault::error(503, 4004));
    assert_enveloped(
        &api_err(client.list_cards().await),
        503,
        ErrorCode::UpstreamLimited,
    );
    fake.push_fault(FaultMatch::any(), Fault::error(500, 3006));
    assert_enveloped(
        &api_err(client.list_phone_numbers().await),
        500,
        ErrorCode::Internal,
    );
    assert_eq!(fake.pending_faults(), 0);
    assert!(fake.unexpected().is_empty(), "{:?}", fake.unexpected());
}

#[tokio::test]
async fn failed_writes_leave_the_card_not_active() {
    let fake = fake().await;
    let client = client_for(&fake);
    fake.set_card(Card::new(A, "Acme"));
    fake.push_fault(FaultMatch::writes_to(A), Fault::error(500, 2022));
    let patch = CardFields {
        first_name: Some("New".into()),
        ..CardFields::default()
    };
    assert!(api_err(client.update_card(A, &patch).await).is(ErrorCode::SetupIncomplete));
    assert!(!fake.card(A).expect("still there").is_active);
    assert!(api_err(client.update_card(A, &patch).await).is(ErrorCode::NotActive));

    fake.push_fault(FaultMatch::writes_to(B), Fault::error(503, 4004));
    assert!(api_err(client.create_card(&create(B, "Bee")).await).is(ErrorCode::UpstreamLimited));
    let stored = fake.card(B).expect("stored inactive");
    assert!(!stored.is_active);
    assert_eq!(stored.first_name, "Bee");
    assert!(
        client
            .create_card(&create(B, "Bee"))
            .await
            .expect("again")
            .is_active
    );
}

#[tokio::test]
async fn setup_that_does_not_complete_answers_inactive() {
    let fake = fake().await;
    let client = client_for(&fake);
    fake.set_setup_incomplete(A, true);
    let card = client.create_card(&create(A, "Acme")).await.expect("200");
    assert!(!card.is_active);
    assert!(!client.get_card(A).await.expect("get").is_active);
    fake.set_setup_incomplete(A, false);
    assert!(
        client
            .create_card(&create(A, "Acme"))
            .await
            .expect("200")
            .is_active
    );
}

#[tokio::test]
async fn write_budget_is_per_number_and_shared_by_post_and_patch() {
    let fake = FakeLinq::start(
        Config::default()
            .numbers([A, B])
            .write_window(Duration::from_millis(1500)),
    )
    .await;
    let client = client_for(&fake);
    let patch = CardFields {
        last_name: Some("L".into()),
        ..CardFields::default()
    };
    client.create_card(&create(A, "Acme")).await.expect("1st");
    client.update_card(A, &patch).await.expect("2nd");
    // A failed call that reached the API counts too.
    assert!(api_err(client.create_card(&create(A, "Acme")).await).is(ErrorCode::AlreadyActive));
    let e = api_err(client.update_card(A, &patch).await);
    assert_enveloped(&e, 429, ErrorCode::RateLimited);
    let wait = e.retry_after.expect("retry_after");
    assert!(
        wait >= Duration::from_secs(1) && wait <= Duration::from_secs(2),
        "{wait:?}"
    );
    let log = fake.requests();
    let last = log.last().expect("logged");
    assert_eq!(last.status, Some(429));
    assert_eq!(last.code, Some(1007));

    client
        .create_card(&create(B, "Bee"))
        .await
        .expect("another number's budget");
    tokio::time::sleep(wait).await;
    client.update_card(A, &patch).await.expect("window passed");
    assert_eq!(fake.writes_for(A), 5);
    assert_eq!(fake.budget_used(A), 1);
}

#[tokio::test]
async fn injected_rate_limits_carry_retry_after() {
    let fake = fake().await;
    let client = client_for(&fake);
    fake.push_fault(FaultMatch::writes_to(A), Fault::rate_limited(42));
    let e = api_err(client.create_card(&create(A, "Acme")).await);
    assert_eq!(e.retry_after, Some(Duration::from_secs(42)));
    assert!(client.create_card(&create(A, "Acme")).await.is_ok());
}

#[tokio::test]
async fn a_wrong_token_is_2004() {
    let fake = fake().await;
    let url = ApiUrl::parse(&fake.base_url(), "test").expect("url");
    let client =
        Client::new(&url, Token::new("wrong".into()), ClientOptions::default()).expect("client");
    assert_enveloped(
        &api_err(client.list_cards().await),
        401,
        ErrorCode::Unauthorized,
    );
    assert!(!fake.requests()[0].authorized);
}

#[tokio::test]
async fn timeouts_drops_and_refusals_are_network_errors() {
    let fake = fake().await;
    let client = client_with(
        &fake,
        ClientOptions {
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_millis(300),
        },
    );
    fake.push_fault(
        FaultMatch::method("GET"),
        Fault::Delay(Duration::from_millis(900)),
    );
    match client.list_cards().await {
        Err(ClientError::Network { timeout: true, .. }) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    // Slow answers still time out, whatever makes them slow.
    fake.set_latency(Duration::from_millis(900));
    assert!(matches!(
        client.list_phone_numbers().await,
        Err(ClientError::Network { timeout: true, .. })
    ));
    fake.set_latency(Duration::ZERO);

    fake.push_fault(FaultMatch::writes_to(A), Fault::Drop);
    match client.create_card(&create(A, "Acme")).await {
        Err(ClientError::Network {
            timeout: false,
            message,
        }) => {
            assert!(!message.is_empty())
        }
        other => panic!("expected a dropped connection, got {other:?}"),
    }
    assert!(fake.card(A).is_none(), "a dropped call applies nothing");

    // The write happened but the answer was lost: the retry meets 2014.
    fake.push_fault(FaultMatch::writes_to(A), Fault::DropAfterApply);
    assert!(matches!(
        client.create_card(&create(A, "Acme")).await,
        Err(ClientError::Network { .. })
    ));
    assert!(fake.card(A).expect("applied").is_active);
    assert!(api_err(client.create_card(&create(A, "Acme")).await).is(ErrorCode::AlreadyActive));

    // Nothing listening.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let url = ApiUrl::parse(&format!("http://127.0.0.1:{port}"), "test").expect("url");
    let closed =
        Client::new(&url, Token::new("t".into()), ClientOptions::default()).expect("client");
    assert!(matches!(
        closed.list_cards().await,
        Err(ClientError::Network { timeout: false, .. })
    ));
}

/// A one-shot-per-connection raw HTTP server answering every request with `response`.
async fn raw_server(response: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(&response).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

fn http(status: &str, headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    )
    .expect("write to vec");
    for h in headers {
        write!(out, "{h}\r\n").expect("write to vec");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

async fn raw_client(response: Vec<u8>, token: &str) -> Client {
    let base = raw_server(response).await;
    let url = ApiUrl::parse(&base, "test").expect("url");
    Client::new(&url, Token::new(token.into()), ClientOptions::default()).expect("client")
}

#[tokio::test]
async fn foreign_and_broken_bodies_give_clear_errors() {
    let html = http(
        "502 Bad Gateway",
        &["Content-Type: text/html"],
        b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>",
    );
    let e = api_err(raw_client(html, "t").await.list_cards().await);
    assert_eq!((e.status, e.code, e.trace_id.as_deref()), (502, None, None));
    assert!(
        e.message.contains("502 Bad Gateway</h1>nginx"),
        "{}",
        e.message
    );
    assert!(e.to_string().starts_with("HTTP 502: Bad Gateway"), "{e}");

    let truncated = http(
        "500 Internal Server Error",
        &[],
        br#"{"success":false,"error":{"sta"#,
    );
    let e = api_err(raw_client(truncated, "t").await.get_card(A).await);
    assert_eq!((e.status, e.code), (500, None));

    let dated = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
    let limited = http(
        "429 Too Many Requests",
        &[&format!("Retry-After: {dated}")],
        b"slow down",
    );
    let e = api_err(raw_client(limited, "t").await.list_cards().await);
    let wait = e.retry_after.expect("from the header's date");
    assert!(
        wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
        "{wait:?}"
    );

    let secs = http(
        "429 Too Many Requests",
        &["Retry-After: 9"],
        br#"{"success":false,"error":{"status":429,"code":1007,"message":"m"},"trace_id":"abc"}"#,
    );
    let e = api_err(raw_client(secs, "t").await.list_cards().await);
    assert_eq!(e.retry_after, Some(Duration::from_secs(9)));
    assert_eq!(e.trace_id.as_deref(), Some("abc"));

    for (body, what) in [
        (&b"<html>ok?</html>"[..], "not JSON"),
        (
            br#"{"contact_cards": [{"first_name": "no number"}]}"#,
            "missing field",
        ),
        (br#"{"cards": []}"#, "wrong shape"),
        (br#"{"contact_cards": ["#, "truncated"),
    ] {
        let c = raw_client(http("200 OK", &[], body), "t").await;
        match c.list_cards().await {
            Err(ClientError::Decode {
                status: 200,
                detail,
            }) => assert!(!detail.is_empty()),
            other => panic!("{what}: expected a decode error, got {other:?}"),
        }
    }

    // A redirect is not followed (it could carry the token elsewhere).
    let moved = http(
        "301 Moved Permanently",
        &["Location: http://127.0.0.1:9/x"],
        b"",
    );
    let e = api_err(raw_client(moved, "t").await.list_cards().await);
    assert_eq!(e.status, 301);

    // The filtered GET must answer with that number's card.
    let other = format!(r#"{{"contact_cards": [{{"phone_number": "{B}", "first_name": "B"}}]}}"#);
    let c = raw_client(http("200 OK", &[], other.as_bytes()), "t").await;
    assert!(matches!(
        c.get_card(A).await,
        Err(ClientError::Decode { .. })
    ));
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// RUST_LOG=trace: the token appears in no log line and no error, even when a
/// server echoes it back.
#[test]
fn the_token_never_appears_in_logs_or_errors() {
    const SECRET: &str = "sk-live-SENTINEL-7f3a9c";
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let fake = FakeLinq::start_blocking(Config::default().token(SECRET).numbers([A]));
    let mut shown = String::new();
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let client = client_for(&fake);
            shown.push_str(&format!("{client:?}"));
            client
                .create_card(&create(A, "Acme"))
                .await
                .expect("create");
            client.list_cards().await.expect("list");
            let e = client
                .create_card(&create(A, "Acme"))
                .await
                .expect_err("2014");
            shown.push_str(&format!("{e} {e:?}"));
            fake.push_fault(FaultMatch::any(), Fault::Drop);
            let e = client.list_cards().await.expect_err("dropped");
            shown.push_str(&format!("{e} {e:?}"));

            let echo = format!("<html>Authorization: Bearer {SECRET}</html>");
            let c = raw_client(http("502 Bad Gateway", &[], echo.as_bytes()), SECRET).await;
            let e = c.list_cards().await.expect_err("502");
            shown.push_str(&format!("{e} {e:?}"));
            assert!(e.to_string().contains("<redacted>"), "{e}");
            let c = raw_client(http("200 OK", &[], echo.as_bytes()), SECRET).await;
            let e = c.list_cards().await.expect_err("decode");
            shown.push_str(&format!("{e} {e:?}"));
        });
    });
    let logs = String::from_utf8(captured.0.lock().expect("not poisoned").clone()).expect("utf8");
    assert!(logs.contains("linq request"), "logging was on: {logs}");
    assert!(logs.contains("/v3/contact_card"));
    assert!(!logs.contains(SECRET), "token in logs:\n{logs}");
    assert!(!shown.contains(SECRET), "token in errors:\n{shown}");
    assert!(fake.requests().iter().all(|r| r.authorized));
}

/// A loopback server of one PNG image (404 elsewhere).
async fn png_server() -> String {
    let img = image::RgbImage::from_fn(600, 400, |x, _| image::Rgb([(x % 256) as u8, 40, 200]));
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encode");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let png = png.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&seen);
                let response = if head.starts_with("GET /logo.png ") {
                    http("200 OK", &["Content-Type: image/png"], &png)
                } else {
                    http("404 Not Found", &[], b"")
                };
                let _ = stream.write_all(&response).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn images_are_rehosted_on_the_fakes_cdn() {
    let fake = fake().await;
    let client = client_for(&fake);
    let host = png_server().await;
    let mut body = create(A, "Acme");
    body.image_url = Some(format!("{host}/logo.png"));
    let card = client.create_card(&body).await.expect("create");
    let cdn = card.image_url.clone().expect("rehosted");
    assert!(
        cdn.starts_with(&format!("{}/cdn/contact-card/", fake.base_url())),
        "{cdn}"
    );
    assert!(cdn.ends_with(".jpg"));

    let served = reqwest::get(&cdn).await.expect("cdn answers");
    assert_eq!(served.status(), 200);
    assert_eq!(
        served
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/jpeg")
    );
    let bytes = served.bytes().await.expect("bytes");
    assert_eq!(Some(bytes.to_vec()), fake.cdn_image(&cdn));
    let img = image::load_from_memory(&bytes).expect("a real image");
    assert_eq!((img.width(), img.height()), (256, 171), "downscaled");

    // Sending back the CDN URL it already has is no new value: nothing re-uploaded.
    let same = CardFields {
        image_url: Some(cdn.clone()),
        ..CardFields::default()
    };
    assert_eq!(
        client.update_card(A, &same).await.expect("patch").image_url,
        Some(cdn.clone())
    );
    assert_eq!(fake.cdn_len(), 1);

    // Each upload gets a fresh URL.
    let again = CardFields {
        image_url: Some(format!("{host}/logo.png")),
        ..CardFields::default()
    };
    let card = client.update_card(A, &again).await.expect("patch");
    assert_ne!(card.image_url, Some(cdn));
    assert_eq!(fake.cdn_len(), 2);

    // A source that cannot be downloaded: 500/2022 and the card is not active.
    let broken = CardFields {
        image_url: Some(format!("{host}/missing.png")),
        ..CardFields::default()
    };
    let e = api_err(client.update_card(A, &broken).await);
    assert_enveloped(&e, 500, ErrorCode::SetupIncomplete);
    assert!(!fake.card(A).expect("kept").is_active);
    let mut body = create(B, "Bee");
    body.image_url = Some(format!("{host}/missing.png"));
    assert!(api_err(client.create_card(&body).await).is(ErrorCode::SetupIncomplete));
    assert!(!fake.card(B).expect("stored inactive").is_active);
    assert!(fake.unexpected().is_empty(), "{:?}", fake.unexpected());
}

#[tokio::test]
async fn in_flight_peaks_are_tracked() {
    let fake = FakeLinq::start(
        Config::default()
            .numbers([A, B, C])
            .latency(Duration::from_millis(300)),
    )
    .await;
    for n in [A, B, C] {
        fake.set_card(Card::new(n, "N"));
    }
    let client = client_for(&fake);
    let (a, b, c) = tokio::join!(client.get_card(A), client.get_card(B), client.get_card(C));
    assert!(a.is_ok() && b.is_ok() && c.is_ok());
    assert_eq!(fake.max_in_flight(), 3);
    assert_eq!(fake.max_in_flight_for(A), 1);
    let (x, y) = tokio::join!(client.get_card(A), client.get_card(A));
    assert!(x.is_ok() && y.is_ok());
    assert_eq!(
        fake.max_in_flight_for(A),
        2,
        "overlap on one number is visible"
    );
}

/// Calls a correct client never makes answer the documented 400 envelope and are
/// recorded, so tests can demand `unexpected().is_empty()`.
#[tokio::test]
async fn unexpected_calls_are_refused_and_recorded() {
    let fake = fake().await;
    fake.set_card(Card::new(A, "Acme"));
    let http = reqwest::Client::new();
    let base = fake.base_url();
    let auth = format!("Bearer {}", fake.token());
    let cases: Vec<(reqwest::Method, String, Option<&str>, u16, u32)> = vec![
        (
            reqwest::Method::GET,
            "/v3/contact_cards".into(),
            None,
            400,
            1003,
        ),
        (
            reqwest::Method::DELETE,
            "/v3/contact_card".into(),
            None,
            400,
            1003,
        ),
        (
            reqwest::Method::POST,
            "/v3/contact_card".into(),
            Some("{not json"),
            400,
            1003,
        ),
        (
            reqwest::Method::POST,
            "/v3/contact_card".into(),
            Some(r#"{"phone_number":"+12223335555"}"#),
            400,
            1001,
        ),
        (
            reqwest::Method::POST,
            "/v3/contact_card".into(),
            Some(r#"{"phone_number":"2223335555","first_name":"x"}"#),
            400,
            1002,
        ),
        (
            reqwest::Method::POST,
            "/v3/contact_card".into(),
            Some(r#"{"phone_number":"+19998887777","first_name":"x"}"#),
            403,
            2005,
        ),
        (
            reqwest::Method::POST,
            "/v3/contact_card".into(),
            Some(r#"{"phone_number":"+12223335555","first_name":"x","is_active":true}"#),
            400,
            1003,
        ),
        (
            reqwest::Method::POST,
            "/v3/contact_card".into(),
            Some(r#"{"phone_number":"+12223335555","first_name":""}"#),
            400,
            1005,
        ),
        (
            reqwest::Method::PATCH,
            "/v3/contact_card".into(),
            Some(r#"{"first_name":"x"}"#),
            400,
            1001,
        ),
        (
            reqwest::Method::PATCH,
            "/v3/contact_card?phone_number=%2B12223334444".into(),
            Some("{}"),
            400,
            1001,
        ),
        (
            reqwest::Method::PATCH,
            "/v3/contact_card?phone_number=%2B12223334444".into(),
            Some(r#"{"phone_number":"+12223334444","first_name":"x"}"#),
            400,
            1003,
        ),
        // An unescaped `+` arrives as a space.
        (
            reqwest::Method::GET,
            "/v3/contact_card?phone_number=+12223334444".into(),
            None,
            400,
            1002,
        ),
        (
            reqwest::Method::GET,
            "/v3/contact_card?limit=5".into(),
            None,
            400,
            1005,
        ),
    ];
    let n = cases.len();
    for (method, path, body, status, code) in cases {
        let mut req = http
            .request(method.clone(), format!("{base}{path}"))
            .header("authorization", &auth);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.expect("answer");
        assert_eq!(resp.status().as_u16(), status, "{method} {path} {body:?}");
        let json: serde_json::Value = resp.json().await.expect("envelope");
        assert_eq!(json["success"], serde_json::json!(false));
        assert_eq!(
            json["error"]["code"],
            serde_json::json!(code),
            "{method} {path} {body:?}"
        );
        assert!(json["trace_id"].is_string());
    }
    assert_eq!(fake.unexpected().len(), n, "{:#?}", fake.unexpected());
    assert_eq!(fake.writes(), 9);
    assert_eq!(fake.card(A).expect("untouched").first_name, "Acme");
}

#[test]
fn documented_example_bodies_decode_with_the_clients_types() {
    // LINQ_API.md, "Endpoints": list, SetContactCard, phone numbers (with extra
    // fields, which must be ignored), and the error envelope.
    let list: ContactCardList = serde_json::from_str(
        r#"{"contact_cards": [
            {"phone_number": "+12223334444", "first_name": "Acme", "last_name": "Support",
             "image_url": "https://cdn.linqapp.com/contact-card/abc.jpg", "is_active": true},
            {"phone_number": "+12223335555", "first_name": "Acme", "is_active": false,
             "created_at": "2025-01-01T00:00:00Z"}]}"#,
    )
    .expect("list");
    assert_eq!(list.contact_cards.len(), 2);
    assert!(!list.contact_cards[1].is_active);
    assert_eq!(list.contact_cards[1].last_name, None);
    let set: ContactCard = serde_json::from_str(
        r#"{"phone_number": "+12223334444", "first_name": "Acme", "is_active": false}"#,
    )
    .expect("SetContactCard");
    assert_eq!(set.image_url, None);
    let numbers: PhoneNumberList = serde_json::from_str(
        r#"{"phone_numbers": [{"id": "pn_1", "phone_number": "+12223334444",
            "status": "active", "capabilities": {"sms": true}}]}"#,
    )
    .expect("numbers");
    assert_eq!(numbers.phone_numbers[0].phone_number, "+12223334444");
    let e = ApiError::from_response(
        409,
        None,
        br#"{"success": false,
 "error": {"status": 409, "code": 2014, "message": "Contact card already exists",
           "doc_url": "https://docs.linqapp.com/error/codes/2xxx/2014/"},
 "trace_id": "2eff5df5c6f688733c007523c4d61cd9"}"#,
        std::time::SystemTime::now(),
    );
    assert_enveloped(&e, 409, ErrorCode::AlreadyActive);
}

/// The fake's raw answers have exactly the documented keys.
#[tokio::test]
async fn the_fake_answers_in_the_documented_shapes() {
    let fake = fake().await;
    let client = client_for(&fake);
    client
        .create_card(&create(A, "Acme"))
        .await
        .expect("create");
    let http = reqwest::Client::new();
    let auth = format!("Bearer {}", fake.token());
    let get = |path: &str| {
        http.get(format!("{}{path}", fake.base_url()))
            .header("authorization", &auth)
            .send()
    };
    let list: serde_json::Value = get("/v3/contact_card")
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&list), ["contact_cards"]);
    assert_eq!(
        keys(&list["contact_cards"][0]),
        ["first_name", "is_active", "phone_number"]
    );
    serde_json::from_value::<ContactCardList>(list).expect("decodes");

    let nums: serde_json::Value = get("/v3/phone_numbers")
        .await
        .expect("numbers")
        .json()
        .await
        .expect("json");
    serde_json::from_value::<PhoneNumberList>(nums.clone()).expect("decodes");
    assert!(nums["phone_numbers"][0]["id"].is_string());

    let resp = get("/v3/contact_card?phone_number=%2B12223336666")
        .await
        .expect("404");
    assert_eq!(resp.status(), 404);
    let err: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(keys(&err), ["error", "success", "trace_id"]);
    assert_eq!(
        keys(&err["error"]),
        ["code", "doc_url", "message", "status"]
    );
    assert_eq!(err["error"]["status"], serde_json::json!(404));

    fake.push_fault(FaultMatch::any(), Fault::rate_limited(7));
    let resp = get("/v3/contact_card").await.expect("429");
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("7")
    );
    let err: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(err["error"]["retry_after"], serde_json::json!(7));
}

/// Synchronous tests (the CLI's) run the fake on its own thread.
#[test]
fn start_blocking_serves_sync_callers() {
    let fake = FakeLinq::start_blocking(Config::default().card(Card::new(A, "Acme")));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cards = rt.block_on(client_for(&fake).list_cards()).expect("list");
    assert_eq!(cards.len(), 1);
    assert_eq!(fake.count("GET", "/v3/contact_card"), 1);
    drop(fake);
}
