//! `linq-cards validate` and `schema` through the built binary: exit codes,
//! stdout/stderr and each `--format`, plus usage-error exit codes.

mod common;

use std::time::{Duration, Instant};

use common::Test;

const INVALID_TEXT: &str = "\
invalid.yaml:1:10: unsupported version 2: only version 1 exists (write `version: 1` or leave it out)
invalid.yaml:3:14: `defaults.last_name` is empty: the API cannot clear a field (leave `last_name` out to leave it unmanaged: the tool then never changes it)
invalid.yaml:5:19: card #1: phone number \"(415) 555-1234\" is not in E.164 format (+ then 7 to 15 digits, no spaces or punctuation) (did you mean \"+14155551234\"?)
invalid.yaml:8:5: card +12223334444: unknown key \"frist_name\" (did you mean \"first_name\"?)
invalid.yaml:9:5: card +12223334444: phone number +12223334444 appears twice: cards on lines 7 and 9 (a number has one card; merge the two)
invalid.yaml:11:16: card +12223334444: `image_url` \"http://cdn.example.com/logo.png\" is not https: Linq downloads images over HTTPS only (did you mean \"https://cdn.example.com/logo.png\"?)
error: invalid.yaml is invalid: 6 problems
";

#[test]
fn valid_file_exits_0() {
    let out = Test::new()
        .fixture("valid.yaml")
        .args(["validate", "valid.yaml"])
        .status(0)
        .run();
    assert_eq!(out.stdout(), "valid.yaml: valid (2 cards)\n");
    assert_eq!(out.stderr(), "");
}

#[test]
fn default_file_is_linq_cards_yaml() {
    Test::new()
        .yaml("cards: []\n")
        .arg("validate")
        .status(0)
        .run()
        .stdout_contains("linq-cards.yaml: valid (0 cards)");
    Test::new()
        .arg("validate")
        .status(1)
        .run()
        .stderr_contains("cannot read linq-cards.yaml");
}

#[test]
fn invalid_file_reports_every_problem_as_text() {
    let out = Test::new()
        .fixture("invalid.yaml")
        .args(["validate", "invalid.yaml"])
        .status(1)
        .run();
    assert_eq!(out.stdout(), "");
    assert_eq!(out.stderr(), INVALID_TEXT);
}

#[test]
fn json_format() {
    let out = Test::new()
        .fixture("invalid.yaml")
        .args(["validate", "--format", "json", "invalid.yaml"])
        .status(1)
        .run();
    let v = out.json();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["valid"], false);
    assert_eq!(v["cards"], serde_json::Value::Null);
    let diags = v["diagnostics"].as_array().expect("diagnostics array");
    assert_eq!(diags.len(), 6);
    assert_eq!(
        diags[2],
        serde_json::json!({
            "file": "invalid.yaml",
            "card": "card #1",
            "line": 5,
            "column": 19,
            "message": "phone number \"(415) 555-1234\" is not in E.164 format (+ then 7 to 15 digits, no spaces or punctuation)",
            "hint": "did you mean \"+14155551234\"?"
        })
    );
    assert_eq!(diags[3]["card"], "+12223334444");
    assert_eq!(out.stderr(), "");

    let out = Test::new()
        .fixture("valid.yaml")
        .args(["validate", "--format=json", "valid.yaml"])
        .status(0)
        .run();
    let v = out.json();
    assert_eq!(
        (v["valid"].clone(), v["cards"].clone()),
        (true.into(), 2.into())
    );
    assert_eq!(v["diagnostics"], serde_json::json!([]));
}

#[test]
fn github_format() {
    let out = Test::new()
        .fixture("invalid.yaml")
        .args(["validate", "--format", "github", "invalid.yaml"])
        .status(1)
        .run();
    let lines: Vec<&str> = out.stdout().lines().collect();
    assert_eq!(lines.len(), 6, "{}", out.stdout());
    assert_eq!(
        lines[3],
        "::error file=invalid.yaml,line=8::card +12223334444: unknown key \"frist_name\" (did you mean \"first_name\"?)"
    );
    assert!(lines
        .iter()
        .all(|l| l.starts_with("::error file=invalid.yaml,line=")));

    let out = Test::new()
        .fixture("valid.yaml")
        .args(["validate", "--format", "github", "valid.yaml"])
        .status(0)
        .run();
    assert_eq!(out.stdout(), "");
}

#[test]
fn syntax_error_names_file_and_line() {
    let out = Test::new()
        .fixture("syntax_error.yaml")
        .args(["validate", "syntax_error.yaml"])
        .status(1)
        .run();
    out.stderr_contains(
        "syntax_error.yaml:2:19: YAML syntax error: invalid indentation in quoted scalar",
    );
    out.stderr_contains("YAML syntax error");
}

#[test]
fn file_that_is_not_a_mapping() {
    Test::new()
        .fixture("not_mapping.yaml")
        .args(["validate", "not_mapping.yaml"])
        .status(1)
        .run()
        .stderr_contains("not_mapping.yaml:1:1: the file must be a mapping");
}

#[test]
fn loopback_http_image_needs_a_loopback_api_url() {
    Test::new()
        .fixture("loopback_image.yaml")
        .args(["validate", "loopback_image.yaml"])
        .status(1)
        .run()
        .stderr_contains("loopback_image.yaml:4:16: card +12223334444: `image_url`");
    Test::new()
        .fixture("loopback_image.yaml")
        .args([
            "validate",
            "loopback_image.yaml",
            "--api-url",
            "http://127.0.0.1:9",
        ])
        .status(0)
        .run();
    Test::new()
        .fixture("loopback_image.yaml")
        .env("LINQ_API_URL", "http://localhost:9")
        .args(["validate", "loopback_image.yaml"])
        .status(0)
        .run();
}

#[test]
fn validate_needs_no_token_and_ignores_one() {
    let out = Test::new()
        .fixture("valid.yaml")
        .env("LINQ_API_KEY", "sentinel-token-3f9a")
        .args(["-vv", "validate", "valid.yaml"])
        .status(0)
        .run();
    assert!(!out.stdout().contains("sentinel-token-3f9a"));
    assert!(!out.stderr().contains("sentinel-token-3f9a"));
}

#[test]
fn alias_bomb_and_deep_nesting_fail_fast() {
    let start = Instant::now();
    Test::new()
        .fixture("alias_bomb.yaml")
        .args(["validate", "alias_bomb.yaml"])
        .timeout(Duration::from_secs(20))
        .status(1)
        .run()
        .stderr_contains("alias bomb");

    let deep_block = format!("cards:\n  - {}x\n", "- ".repeat(10_000));
    Test::new()
        .file("deep.yaml", deep_block)
        .args(["validate", "deep.yaml"])
        .timeout(Duration::from_secs(20))
        .status(1)
        .run()
        .stderr_contains("deep.yaml:2:");

    let deep_flow = format!("cards: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    Test::new()
        .file("deep.yaml", deep_flow)
        .args(["validate", "deep.yaml"])
        .timeout(Duration::from_secs(20))
        .status(1)
        .run()
        .stderr_contains("nesting too deep");
    // Generous: the point is "no exponential blow-up", not a benchmark.
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn example_file_is_valid() {
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cards.yaml"))
            .expect("examples/cards.yaml");
    assert!(
        example.starts_with("# yaml-language-server: $schema=../schema/linq-cards.schema.json\n")
    );
    Test::new()
        .file("examples/cards.yaml", example)
        .args(["validate", "examples/cards.yaml"])
        .status(0)
        .run();
}

#[test]
fn schema_prints_the_committed_file() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/linq-cards.schema.json"
    ))
    .expect("committed schema");
    let out = Test::new().arg("schema").status(0).run();
    assert_eq!(out.stdout(), committed);
}

#[test]
fn usage_errors_exit_1_help_and_version_exit_0() {
    for args in [
        &["validate", "--no-such-flag"][..],
        &["validate", "--format", "yaml"],
        &["--color", "sometimes", "schema"],
        &["completions"],
        &["no-such-command"],
        &[],
    ] {
        let out = Test::new().args(args).status(1).run();
        assert!(!out.stderr().is_empty(), "{args:?} printed no usage error");
    }
    Test::new()
        .arg("--help")
        .status(0)
        .run()
        .stdout_contains("Usage:");
    Test::new()
        .args(["validate", "--help"])
        .status(0)
        .run()
        .stdout_contains("--format");
    Test::new()
        .arg("--version")
        .status(0)
        .run()
        .stdout_contains(env!("CARGO_PKG_VERSION"));
}
