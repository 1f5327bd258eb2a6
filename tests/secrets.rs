//! The API token never leaves the process (SPEC "Token", issue #8): every
//! command and error path runs at `-vv` (and at `RUST_LOG=trace`) with a
//! distinctive token, and neither stdout, stderr, a plan file, the image
//! cache nor any other file the run leaves behind may contain it.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

use common::{Output, Test};
use fake_linq::{Card, Config, FakeLinq, Fault, FaultMatch};

/// Distinctive enough that a hit cannot be a coincidence.
const TOKEN: &str = "lq-sentinel-9f2c41d7e8b3a605c4d2e1f0";
/// The tail alone: catches a token cut or wrapped in the middle.
const TOKEN_TAIL: &str = "9f2c41d7e8b3a605c4d2e1f0";

const FILE: &str = r#"
cards:
  - phone_number: "+12223334444"
    first_name: Acme
    last_name: Support
  - phone_number: "+12223335555"
    first_name: Acme Billing
"#;

fn fake() -> FakeLinq {
    FakeLinq::start_blocking(
        Config::default()
            .token(TOKEN)
            .card(Card::new("+12223335555", "Acme").last_name("Billing"))
            .card(Card::new("+12223336666", "Other"))
            .number("+12223334444"),
    )
}

/// A run with the token in the environment and the fake's URL.
fn with_token(fake_url: &str) -> Test {
    Test::new()
        .yaml(FILE)
        .env("LINQ_API_URL", fake_url)
        .env("LINQ_API_KEY", TOKEN)
}

/// Every text the run left: stdout, stderr, and each file under its
/// directory (which is `HOME`, so the image cache too), except the profile
/// file the test itself wrote the token into.
fn assert_clean(out: &Output, what: &str) {
    for (stream, text) in [("stdout", out.stdout()), ("stderr", out.stderr())] {
        assert!(
            !text.contains(TOKEN_TAIL),
            "{what}: the token appears in {stream}:\n{text}"
        );
    }
    let mut stack = vec![out.dir.path().to_path_buf()];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read the run's directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.ends_with(Path::new(".linq/config.json")) {
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&path).expect("read a file the run left");
            let hit = bytes
                .windows(TOKEN_TAIL.len())
                .any(|w| w == TOKEN_TAIL.as_bytes());
            assert!(!hit, "{what}: the token appears in {}", path.display());
        }
    }
    assert!(files > 0, "{what}: scanned no files at all");
}

/// Run `args` at `-vv`, then again at `RUST_LOG=trace`, checking both.
fn sweep(make: impl Fn() -> Test, args: &[&str]) {
    let out = make().arg("-vv").args(args).run();
    assert_clean(&out, &format!("{args:?} -vv (exit {})", out.code));
    let out = make().env("RUST_LOG", "trace").args(args).run();
    assert_clean(
        &out,
        &format!("{args:?} RUST_LOG=trace (exit {})", out.code),
    );
}

#[test]
fn offline_commands() {
    let fake = fake();
    let url = fake.base_url();
    sweep(|| with_token(&url), &["validate"]);
    sweep(
        || with_token(&url).yaml("cards:\n  - phone_number: 555\n"),
        &["validate", "--format", "json"],
    );
    sweep(|| with_token(&url), &["schema"]);
    sweep(|| with_token(&url).yaml("::: not yaml"), &["plan"]);
}

#[test]
fn plan_and_export_against_the_fake() {
    let fake = fake();
    let url = fake.base_url();
    for args in [
        &["plan"][..],
        &["plan", "--format", "json", "--out", "saved.json"],
        &["plan", "--format", "markdown", "--detailed-exitcode"],
        &["plan", "--target", "+12223334444"],
        &["export", "--out", "exported.yaml"],
        &["export"],
    ] {
        sweep(|| with_token(&url), args);
    }
    // The saved plan and the export really were written (and scanned above).
    let out = with_token(&url)
        .args(["plan", "--out", "saved.json"])
        .status(0)
        .run();
    assert!(out.read("saved.json").contains("plan_digest"));
    assert!(fake.unexpected().is_empty(), "{:?}", fake.unexpected());
}

#[test]
fn apply_paths() {
    // Whatever state the apply command is in, it must not leak the token.
    let fake = fake();
    let url = fake.base_url();
    sweep(|| with_token(&url), &["apply", "--auto-approve"]);
    sweep(|| with_token(&url), &["apply"]);
    fake.push_fault(FaultMatch::method("POST"), Fault::error(500, 2022));
    fake.push_fault(FaultMatch::method("PATCH"), Fault::error(503, 4004));
    sweep(
        || with_token(&url),
        &["apply", "--auto-approve", "--format", "json"],
    );
}

#[test]
fn error_paths() {
    let fake = fake();
    let url = fake.base_url();
    // The server refuses the token (401).
    let other = FakeLinq::start_blocking(Config::default().number("+12223334444"));
    let other_url = other.base_url();
    sweep(|| with_token(&other_url), &["plan"]);
    sweep(|| with_token(&other_url), &["export"]);
    // Server errors on the reads.
    for _ in 0..4 {
        fake.push_fault(FaultMatch::method("GET"), Fault::error(500, 3006));
    }
    sweep(|| with_token(&url), &["plan"]);
    fake.clear_faults();
    // Dropped connections.
    for _ in 0..4 {
        fake.push_fault(FaultMatch::method("GET"), Fault::Drop);
    }
    sweep(|| with_token(&url), &["plan", "--format", "json"]);
    fake.clear_faults();
    // A number that is not on the account.
    sweep(
        || with_token(&url).yaml("cards:\n  - phone_number: \"+19998887777\"\n    first_name: X\n"),
        &["plan"],
    );
    // Nothing listens.
    sweep(|| with_token("http://127.0.0.1:9"), &["plan"]);
    // A refused API URL (plain HTTP to a public host).
    sweep(|| with_token("http://api.example.com"), &["plan"]);
}

#[test]
fn token_from_other_sources() {
    let fake = fake();
    let url = fake.base_url();
    sweep(
        || {
            Test::new()
                .yaml(FILE)
                .env("LINQ_API_URL", &url)
                .env("LINQ_API_V3_API_KEY", TOKEN)
        },
        &["plan"],
    );
    let profile = format!(
        r#"{{"profile": "work", "profiles": {{"work": {{"token": "{TOKEN}"}}, "bad": {{"token": 5}}}}}}"#
    );
    sweep(
        || {
            Test::new()
                .yaml(FILE)
                .env("LINQ_API_URL", &url)
                .file(".linq/config.json", &profile)
        },
        &["plan"],
    );
    sweep(
        || {
            Test::new()
                .yaml(FILE)
                .env("LINQ_API_URL", &url)
                .file(".linq/config.json", &profile)
        },
        &["--profile", "bad", "plan"],
    );
}

/// A server that answers every request with the request itself (headers
/// included) as an error body: a message that quotes the body must not carry
/// the `Authorization` header along.
#[test]
fn a_server_echoing_the_token_is_redacted() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        let mut served = 0u64;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 8192];
            let n = stream.read(&mut buf).unwrap_or(0);
            let echoed = String::from_utf8_lossy(&buf[..n]).replace('"', "'");
            // Alternate an API error envelope quoting the request and a bare
            // non-JSON body holding it (the client quotes such bodies).
            let body = if served % 2 == 0 {
                format!(
                    "{{\"success\": false, \"error\": {{\"status\": 400, \"code\": 1003, \"message\": \"{}\"}}, \"trace_id\": \"t\"}}",
                    echoed.replace(['\r', '\n'], " ")
                )
            } else {
                echoed
            };
            served += 1;
            let response = format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    let url = format!("http://{addr}");
    sweep(|| with_token(&url), &["plan"]);
    sweep(|| with_token(&url), &["export"]);
}
