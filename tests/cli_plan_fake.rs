//! `plan` and `export` through the real binary against the fake Linq server:
//! the call counts, every row of SPEC's decision table, the account check,
//! `--target`, `--live-snapshot` without API or token, `--detailed-exitcode`,
//! `--out`, API errors on the read calls, and the token's secrecy.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use common::Test;
use fake_linq::{Card, Config, FakeLinq, Fault, FaultMatch};
use serde_json::json;

const A: &str = "+12223334444";
const B: &str = "+12223335555";
const C: &str = "+12223336666";
const D: &str = "+12223337777";
const E: &str = "+12223338888";
const U: &str = "+12223339999";

/// The calls the fake saw, as "METHOD path" strings, sorted.
fn calls(fake: &FakeLinq) -> Vec<String> {
    let mut v: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    v.sort();
    v
}

fn reads_only(fake: &FakeLinq) {
    assert_eq!(
        calls(fake),
        ["GET /v3/contact_card", "GET /v3/phone_numbers"],
        "a plan makes exactly the two list calls"
    );
    assert!(fake.unexpected().is_empty(), "{:?}", fake.unexpected());
}

/// A loopback port with nothing listening on it.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}

/// One card per row of SPEC's decision table, plus an unmanaged one.
fn table_fake() -> FakeLinq {
    FakeLinq::start_blocking(table_config())
}

const TABLE_YAML: &str = r#"
cards:
  - phone_number: "+12223334444"
    first_name: Acme
    last_name: Support
  - phone_number: +12223335555
    first_name: Acme
    last_name: Returns
  - phone_number: "+12223336666"
    first_name: Same
  - phone_number: "+12223337777"
    first_name: Acme Billing
    last_name: Billing
  - phone_number: "+12223338888"
    first_name: Acme
    last_name: Sales Team
"#;

#[test]
fn every_row_of_the_decision_table() {
    let fake = table_fake();
    let out = Test::new()
        .yaml(TABLE_YAML)
        .fake(&fake)
        .args(["plan", "--format", "json", "--detailed-exitcode"])
        .status(2)
        .run();
    let v = out.json();
    assert_eq!(
        v["summary"],
        json!({"create": 2, "update": 2, "unchanged": 1, "unmanaged": 1})
    );
    let changes = v["changes"].as_array().expect("changes");
    let by_number = |n: &str| {
        changes
            .iter()
            .find(|c| c["phone_number"] == n)
            .unwrap_or_else(|| panic!("no change for {n}: {v}"))
    };
    let a = by_number(A);
    assert_eq!(a["action"], "create");
    assert_eq!(a["reason"], "missing");
    assert_eq!(a["before"], json!(null));
    assert_eq!(
        a["after"],
        json!({"phone_number": A, "first_name": "Acme", "last_name": "Support"})
    );
    let b = by_number(B);
    assert_eq!(b["action"], "create");
    assert_eq!(b["reason"], "inactive");
    assert_eq!(b["before"]["is_active"], false);
    assert_eq!(
        b["after"],
        json!({"phone_number": B, "first_name": "Acme", "last_name": "Returns"})
    );
    let d = by_number(D);
    assert_eq!(d["action"], "update");
    assert_eq!(d["fields"], json!(["first_name"]));
    assert_eq!(d["after"], json!({"first_name": "Acme Billing"}));
    assert_eq!(
        d["before"],
        json!({"first_name": "Acme", "last_name": "Billing", "is_active": true})
    );
    let e = by_number(E);
    assert_eq!(e["fields"], json!(["last_name"]));
    assert_eq!(e["after"], json!({"last_name": "Sales Team"}));
    // Creates carry no `fields`; updates no `reason`.
    assert!(a.get("fields").is_none() && d.get("reason").is_none());
    assert_eq!(v["unchanged"], json!([C]));
    assert_eq!(v["unmanaged"], json!([U]));
    assert_eq!(v["warnings"], json!([]));
    assert_eq!(v["plan_digest"].as_str().map(str::len), Some(64));
    reads_only(&fake);
    assert_eq!(fake.writes(), 0);

    // The text plan says the same to a person.
    let text = out
        .again()
        .fake(&fake)
        .args(["plan", "--color", "never"])
        .status(0)
        .run();
    text.stdout_contains("Plan: 2 to create, 2 to update, 1 unchanged, 1 unmanaged")
        .stdout_contains(v["plan_digest"].as_str().expect("digest"))
        .stdout_contains("inactive");
}

#[test]
fn five_hundred_cards_take_one_list_call_and_one_numbers_call() {
    let mut config = Config::default();
    let mut yaml = String::from("cards:\n");
    for i in 0..500u32 {
        let n = format!("+1555{i:07}");
        // Every fifth card differs, so the plan has work to show.
        let live = if i % 5 == 0 { "Old" } else { "Acme" };
        config = config.card(Card::new(&n, live).last_name(&format!("Desk {i}")));
        yaml.push_str(&format!(
            "  - phone_number: \"{n}\"\n    first_name: Acme\n    last_name: Desk {i}\n"
        ));
    }
    let fake = FakeLinq::start_blocking(config);
    let v = Test::new()
        .yaml(&yaml)
        .fake(&fake)
        .args(["plan", "--format", "json", "--detailed-exitcode"])
        .status(2)
        .run()
        .json();
    assert_eq!(
        v["summary"],
        json!({"create": 0, "update": 100, "unchanged": 400, "unmanaged": 0})
    );
    assert_eq!(fake.count("GET", "/v3/contact_card"), 1);
    assert_eq!(fake.count("GET", "/v3/phone_numbers"), 1);
    reads_only(&fake);
    // The list call carried no per-number query.
    assert!(fake.requests().iter().all(|r| r.query.is_none()));
}

#[test]
fn a_number_not_on_the_account_is_an_error_before_anything_else() {
    let fake = FakeLinq::start_blocking(Config::default().card(Card::new(A, "Acme")));
    let out = Test::new()
        .yaml(&format!(
            "cards:\n  - phone_number: \"{A}\"\n    first_name: Acme\n  - phone_number: \"{B}\"\n    first_name: Nope\n"
        ))
        .fake(&fake)
        .args(["plan", "--detailed-exitcode"])
        .status(1)
        .run();
    out.stderr_contains(B).stderr_contains("not on the account");
    assert!(!out.stderr().contains(&format!("{A},")), "{}", out.stderr());
    assert_eq!(out.stdout(), "", "no plan is printed");
    reads_only(&fake);
    assert_eq!(fake.writes(), 0);
}

#[test]
fn target_plans_only_those_numbers() {
    let fake = table_fake();
    let v = Test::new()
        .yaml(TABLE_YAML)
        .fake(&fake)
        .args([
            "plan",
            "--format",
            "json",
            "--target",
            D,
            "--target",
            "+1 222 333 6666",
        ])
        .status(1)
        .run();
    // A formatted number is not E.164: refused with the suggestion.
    v.stderr_contains("--target")
        .stderr_contains("+12223336666");
    assert!(fake.requests().is_empty(), "refused before any call");

    let v = Test::new()
        .yaml(TABLE_YAML)
        .fake(&fake)
        .args(["plan", "--format", "json", "--target", D, "--target", C])
        .status(0)
        .run()
        .json();
    assert_eq!(
        v["summary"],
        json!({"create": 0, "update": 1, "unchanged": 1, "unmanaged": 1})
    );
    assert_eq!(v["changes"][0]["phone_number"], D);
    assert_eq!(v["changes"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["unchanged"], json!([C]));
    reads_only(&fake);
}

#[test]
fn unknown_target_is_an_error_before_any_call() {
    let fake = table_fake();
    let out = Test::new()
        .yaml(TABLE_YAML)
        .fake(&fake)
        .args(["plan", "--target", U, "--detailed-exitcode"])
        .status(1)
        .run();
    out.stderr_contains(U)
        .stderr_contains("not in the desired-state file");
    assert!(fake.requests().is_empty(), "{:?}", calls(&fake));
}

#[test]
fn live_snapshot_needs_no_api_and_no_token() {
    let snapshot = json!({"contact_cards": [
        {"phone_number": B, "first_name": "Old", "last_name": "Stale", "is_active": false},
        {"phone_number": C, "first_name": "Same", "is_active": true},
        {"phone_number": D, "first_name": "Acme", "last_name": "Billing", "is_active": true},
        {"phone_number": E, "first_name": "Acme", "last_name": "Sales", "is_active": true},
        {"phone_number": U, "first_name": "Other", "is_active": true}
    ]});
    let url = format!("http://127.0.0.1:{}", closed_port());
    let out = Test::new()
        .yaml(TABLE_YAML)
        .file("snap.json", snapshot.to_string())
        .env("LINQ_API_URL", &url)
        .args([
            "plan",
            "--live-snapshot",
            "snap.json",
            "--format",
            "json",
            "--detailed-exitcode",
        ])
        .status(2)
        .run();
    let v = out.json();
    assert_eq!(
        v["summary"],
        json!({"create": 2, "update": 2, "unchanged": 1, "unmanaged": 1})
    );
    // Numbers not on the account cannot be detected from a snapshot: said.
    assert!(v["warnings"].to_string().contains("snapshot"), "{v}");
    assert!(v.get("account_fingerprint").is_none());

    // The same run against the live API (closed port) fails: the snapshot
    // run above really did not need it.
    let out = out
        .again()
        .env("LINQ_API_URL", &url)
        .env("LINQ_API_KEY", "some-token-value")
        .args(["plan"])
        .status(1)
        .run();
    out.stderr_contains("network error");
    // The cause is said once, not repeated by the error chain.
    assert_eq!(
        out.stderr().matches("Connection refused").count(),
        1,
        "{}",
        out.stderr()
    );
}

#[test]
fn detailed_exitcode_is_0_2_1_and_plain_is_0() {
    let fake = table_fake();
    let out = Test::new()
        .yaml(TABLE_YAML)
        .fake(&fake)
        .args(["plan", "--detailed-exitcode"])
        .status(2)
        .run();
    let out = out.again().fake(&fake).args(["plan"]).status(0).run();
    // Only the equal card: no changes.
    let out = out
        .again()
        .fake(&fake)
        .args(["plan", "--detailed-exitcode", "--target", C])
        .status(0)
        .run();
    out.stdout_contains("No changes.");
    fake.push_fault(FaultMatch::method("GET"), Fault::error(500, 3006));
    out.again()
        .fake(&fake)
        .args(["plan", "--detailed-exitcode"])
        .status(1)
        .run()
        .stderr_contains("3006");
}

#[test]
fn out_saves_the_plan_it_shows() {
    let fake = table_fake();
    // A directory that does not exist: a clear error, its cause said once.
    let out = Test::new()
        .yaml(TABLE_YAML)
        .fake(&fake)
        .args(["plan", "--out", "nodir/plan.json"])
        .status(1)
        .run();
    out.stderr_contains("cannot write plan file nodir/plan.json");
    assert_eq!(
        out.stderr().matches("os error 2").count(),
        1,
        "{}",
        out.stderr()
    );
    assert_eq!(out.stdout(), "", "nothing shown that was not saved");
    std::fs::create_dir(out.dir.path().join("saved")).expect("mkdir");
    let out = out
        .again()
        .fake(&fake)
        .args(["plan", "--out", "saved/plan.json", "--color", "never"])
        .status(0)
        .run();
    let saved: serde_json::Value =
        serde_json::from_str(&out.read("saved/plan.json")).expect("the plan file is JSON");
    let digest = saved["plan_digest"].as_str().expect("digest");
    out.stdout_contains(digest);
    assert_eq!(saved["format_version"], 1);
    assert_eq!(
        saved["summary"],
        json!({"create": 2, "update": 2, "unchanged": 1, "unmanaged": 1})
    );
    assert_eq!(saved["api_url"], fake.base_url().as_str());
    assert_eq!(
        saved["account_fingerprint"].as_str().map(str::len),
        Some(64)
    );
    // The same plan as --format json prints, and loadable for apply --plan.
    let plan = linq_cards::plan::file::load(&out.dir.path().join("saved/plan.json")).expect("load");
    assert_eq!(plan.plan_digest, digest);
    let json = out
        .again()
        .fake(&fake)
        .args(["plan", "--format", "json"])
        .status(0)
        .run();
    let mut shown = json.json();
    assert_eq!(shown["plan_digest"], digest);
    // Only the file may hold extra keys; every key shown is saved alike.
    for (k, val) in shown.as_object_mut().expect("object").iter() {
        assert_eq!(&saved[k], val, "key {k}");
    }
    let token = fake.token();
    assert!(!json.read("saved/plan.json").contains(&token));
}

/// Both outputs of a run, for searching.
fn all_output(out: &common::Output) -> String {
    format!("{}\n{}", out.stdout(), out.stderr())
}

#[test]
fn the_token_is_never_printed_even_at_vv() {
    let secret = "sentinel-secret-7f3c1a9e55";
    let fake = FakeLinq::start_blocking(table_config().token(secret));
    let out = Test::new()
        .yaml(TABLE_YAML)
        .fake(&fake)
        .args(["-vv", "plan", "--format", "json", "--out", "plan.json"])
        .status(0)
        .run();
    assert!(out.stderr().contains("DEBUG") || out.stderr().contains("TRACE"));
    assert!(!all_output(&out).contains(secret), "{}", all_output(&out));
    assert!(!out.read("plan.json").contains(secret));

    // A token the API refuses: 401/2004 from the fake, named with its trace_id.
    let wrong = "sentinel-wrong-token-0b9d44e1";
    let out = out
        .again()
        .env("LINQ_API_URL", fake.base_url())
        .env("LINQ_API_KEY", wrong)
        .args(["-vv", "plan", "--detailed-exitcode"])
        .status(1)
        .run();
    out.stderr_contains("401")
        .stderr_contains("2004")
        .stderr_contains("trace_id");
    let text = all_output(&out);
    assert!(!text.contains(wrong) && !text.contains(secret), "{text}");
}

fn table_config() -> Config {
    Config::default()
        // A: on the account, no card -> create (missing).
        .number(A)
        // B: inactive -> create (inactive) with every managed field.
        .card(Card::new(B, "Old").last_name("Stale").inactive())
        // C: equal; its live last_name is not managed by the file.
        .card(Card::new(C, "Same").last_name("Live only"))
        // D: first_name differs, last_name equal.
        .card(Card::new(D, "Acme").last_name("Billing"))
        // E: last_name differs only.
        .card(Card::new(E, "Acme").last_name("Sales"))
        // U: not in the file.
        .card(Card::new(U, "Other"))
}

/// The 32-hex trace_id that follows "trace_id " in `text`, if any.
fn trace_id(text: &str) -> Option<&str> {
    let at = text.find("trace_id ")? + "trace_id ".len();
    let id = text.get(at..at + 32)?;
    id.bytes().all(|b| b.is_ascii_hexdigit()).then_some(id)
}

#[test]
fn api_errors_on_the_read_calls_name_code_and_trace_id() {
    for (status, code, path) in [
        (401, 2004, "/v3/contact_card"),
        (403, 2005, "/v3/phone_numbers"),
        (500, 3006, "/v3/contact_card"),
    ] {
        let fake = FakeLinq::start_blocking(table_config());
        // Fault the one list call by its path's method and number-less GET:
        // both reads are GETs, so queue for whichever comes first and check
        // that the message names the call that failed.
        fake.push_fault(FaultMatch::method("GET"), Fault::error(status, code));
        let out = Test::new()
            .yaml(TABLE_YAML)
            .fake(&fake)
            .args(["plan", "--detailed-exitcode", "--format", "json"])
            .status(1)
            .run();
        let failed = fake
            .requests()
            .into_iter()
            .find(|r| r.status == Some(status))
            .expect("the faulted call");
        let err = out.stderr();
        assert!(
            err.contains(&format!("HTTP {status}, code {code}")),
            "{path}: {err}"
        );
        assert!(err.contains(&format!("GET {}", failed.path)), "{err}");
        assert!(trace_id(err).is_some(), "no trace_id in: {err}");
        assert_eq!(out.stdout(), "", "no plan on an error");
        assert_eq!(fake.writes(), 0);
        assert!(!err.contains(&fake.token()));
    }
}

/// A loopback server that answers every request with `500` and an HTML body,
/// as a broken proxy in front of the API would. Serves `n` requests.
fn garbage_server(n: usize) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = "<html><body>502 upstream sad</body></html>";
            let _ = write!(
                s,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, handle)
}

#[test]
fn a_500_with_a_garbage_body_is_a_clear_error() {
    let (url, server) = garbage_server(2);
    let out = Test::new()
        .yaml(TABLE_YAML)
        .env("LINQ_API_URL", &url)
        .env("LINQ_API_KEY", "sentinel-garbage-token-31")
        .args(["-vv", "plan", "--detailed-exitcode"])
        .status(1)
        .run();
    out.stderr_contains("HTTP 500")
        .stderr_contains("GET /v3/")
        .stderr_contains("no trace_id");
    assert!(!all_output(&out).contains("sentinel-garbage-token-31"));
    let _ = server.join();
}

// ------------------------------------------------------------------ export

#[test]
fn export_then_validate_then_plan_has_nothing_to_do() {
    let cdn = "https://cdn.linqapp.com/contact-card/abc123.jpg";
    let fake = FakeLinq::start_blocking(
        Config::default()
            .number(A) // on the account, no card: stays out of the file
            .card(Card::new(B, "Acme").last_name("Support").image_url(cdn))
            .card(Card::new(C, "Just First"))
            .card(Card::new(D, "yes").last_name("null"))
            .card(Card::new(E, "Quote \" and: colon").image_url(cdn))
            .card(Card::new(U, "Half Set Up").last_name("Inactive").inactive()),
    );
    let out = Test::new()
        .fake(&fake)
        .args(["export", "--out", "linq-cards.yaml"])
        .status(0)
        .run();
    assert_eq!(out.stdout(), "");
    assert_eq!(calls(&fake), ["GET /v3/contact_card"]);
    let yaml = out.read("linq-cards.yaml");
    assert!(!yaml.contains(A), "{yaml}");
    // Sorted by number.
    let pos = |n: &str| yaml.find(n).unwrap_or_else(|| panic!("{n} in {yaml}"));
    assert!(pos(B) < pos(C) && pos(C) < pos(D) && pos(D) < pos(E) && pos(E) < pos(U));

    let out = out.again().fake(&fake).args(["validate"]).status(0).run();
    fake.clear_log();
    let v = out
        .again()
        .fake(&fake)
        .args(["plan", "--format", "json", "--target", B, "--target", C])
        .args(["--target", D, "--target", E, "--detailed-exitcode"])
        .status(0)
        .run()
        .json();
    assert_eq!(
        v["summary"],
        json!({"create": 0, "update": 0, "unchanged": 4, "unmanaged": 0})
    );
    assert_eq!(v["warnings"], json!([]));
    // CDN URLs are exported as they are: equal strings, nothing fetched.
    reads_only(&fake);

    // The inactive card is exported too (its fields are what the account
    // meant to show): the one thing left to do is setting it up again.
    let v = Test::new()
        .file("linq-cards.yaml", &yaml)
        .fake(&fake)
        .args(["plan", "--format", "json", "--detailed-exitcode"])
        .status(2)
        .run()
        .json();
    assert_eq!(
        v["summary"],
        json!({"create": 1, "update": 0, "unchanged": 4, "unmanaged": 0})
    );
    assert_eq!(v["changes"][0]["phone_number"], U);
    assert_eq!(v["changes"][0]["reason"], "inactive");
    assert_eq!(
        v["changes"][0]["after"],
        json!({"phone_number": U, "first_name": "Half Set Up", "last_name": "Inactive"})
    );
}

#[test]
fn export_to_stdout_and_its_errors() {
    let fake = FakeLinq::start_blocking(Config::default().card(Card::new(A, "Acme")));
    let out = Test::new().fake(&fake).args(["export"]).status(0).run();
    out.stdout_contains(&format!("phone_number: \"{A}\""))
        .stdout_contains("first_name: \"Acme\"");
    fake.push_fault(FaultMatch::method("GET"), Fault::error(403, 2005));
    let out = out
        .again()
        .fake(&fake)
        .args(["export", "--out", "cards.yaml"])
        .status(1)
        .run();
    out.stderr_contains("HTTP 403, code 2005")
        .stderr_contains("trace_id");
    assert!(
        !out.dir.path().join("cards.yaml").exists(),
        "no file on an error"
    );
    // No token: a clear error, no call.
    fake.clear_log();
    let out = Test::new()
        .env("LINQ_API_URL", fake.base_url())
        .args(["export"])
        .status(1)
        .run();
    out.stderr_contains("LINQ_API_KEY");
    assert!(fake.requests().is_empty());
}
