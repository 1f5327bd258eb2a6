//! `apply` through the real binary against the fake Linq server: one test per
//! branch of SPEC "How apply writes", each asserting on the fake's request log
//! and final state, not only on what the binary printed.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::Test;
use fake_linq::{Card, Config, FakeLinq, Fault, FaultMatch, RequestRecord};
use serde_json::json;

const A: &str = "+12223334444";
const B: &str = "+12223335555";
const C: &str = "+12223336666";
const D: &str = "+12223337777";
const E: &str = "+12223338888";

/// A: missing (create); B: active, first name differs (update); C: unchanged;
/// D: inactive (create, reason inactive); E: on the account but not in the
/// file (unmanaged).
const FILE: &str = r#"
defaults:
  last_name: Support
cards:
  - phone_number: "+12223334444"
    first_name: Acme
  - phone_number: "+12223335555"
    first_name: Acme Billing
  - phone_number: "+12223336666"
    first_name: Same
  - phone_number: +12223337777
    first_name: Dormant
    last_name: Line
"#;

fn fake() -> FakeLinq {
    FakeLinq::start_blocking(
        Config::default()
            .number(A)
            .card(Card::new(B, "Acme").last_name("Support"))
            .card(Card::new(C, "Same").last_name("Support"))
            .card(Card::new(D, "Old").inactive())
            .card(Card::new(E, "Other")),
    )
}

fn apply(fake: &FakeLinq) -> Test {
    Test::new()
        .yaml(FILE)
        .fake(fake)
        .args(["apply", "--auto-approve"])
}

fn writes(fake: &FakeLinq) -> Vec<RequestRecord> {
    fake.requests()
        .into_iter()
        .filter(|r| r.method == "POST" || r.method == "PATCH")
        .collect()
}

fn card(fake: &FakeLinq, phone: &str) -> Card {
    fake.card(phone)
        .unwrap_or_else(|| panic!("{phone} has no card"))
}

/// The file's cards as they must be live after a converged apply.
fn assert_converged(fake: &FakeLinq) {
    let expect = [
        (A, "Acme", Some("Support")),
        (B, "Acme Billing", Some("Support")),
        (C, "Same", Some("Support")),
        (D, "Dormant", Some("Line")),
    ];
    for (phone, first, last) in expect {
        let c = card(fake, phone);
        assert!(c.is_active, "{phone} inactive: {c:?}");
        assert_eq!(c.first_name, first, "{phone}");
        assert_eq!(c.last_name.as_deref(), last, "{phone}");
    }
    assert_eq!(card(fake, E), Card::new(E, "Other"), "unmanaged untouched");
}

fn assert_no_unexpected(fake: &FakeLinq) {
    assert!(fake.unexpected().is_empty(), "{:#?}", fake.unexpected());
}

#[test]
fn happy_path_one_write_per_card_then_nothing_more() {
    let fake = fake();
    let out = apply(&fake).status(0).run();
    out.stdout_contains("Every planned card converged");

    let w = writes(&fake);
    assert_eq!(w.len(), 3, "{w:#?}");
    for phone in [A, B, D] {
        assert_eq!(fake.writes_for(phone), 1, "{phone}");
    }
    for phone in [C, E] {
        assert_eq!(fake.writes_for(phone), 0, "{phone}");
    }
    let body = |phone: &str| {
        w.iter()
            .find(|r| r.phone.as_deref() == Some(phone))
            .map(|r| (r.method.clone(), r.body.clone().expect("JSON body")))
            .expect("a write")
    };
    // POST: every managed field; PATCH: only the differing ones.
    assert_eq!(
        body(A),
        (
            "POST".into(),
            json!({"phone_number": A, "first_name": "Acme", "last_name": "Support"})
        )
    );
    assert_eq!(
        body(D),
        (
            "POST".into(),
            json!({"phone_number": D, "first_name": "Dormant", "last_name": "Line"})
        )
    );
    assert_eq!(
        body(B),
        ("PATCH".into(), json!({"first_name": "Acme Billing"}))
    );
    // Plan read with one list call (plus numbers), verification with one more.
    assert_eq!(fake.count("GET", "/v3/phone_numbers"), 1);
    assert_converged(&fake);
    assert_no_unexpected(&fake);

    // The point of it all: a second apply writes nothing, plan shows nothing.
    fake.clear_log();
    let again = out
        .again()
        .fake(&fake)
        .args(["apply", "--auto-approve"])
        .status(0)
        .run();
    again.stdout_contains("No changes");
    assert_eq!(fake.writes(), 0);
    let plan = again
        .again()
        .fake(&fake)
        .args(["plan", "--detailed-exitcode"])
        .status(0)
        .run();
    drop(plan);
    assert_eq!(fake.writes(), 0);
    assert_no_unexpected(&fake);
}

/// Run `apply` in a thread; once its plan read was answered, `during` runs
/// while a write held by a `Fault::Delay` is still waiting in the fake.
fn race(fake: &FakeLinq, test: Test, during: impl FnOnce()) -> common::Output {
    let handle = std::thread::spawn(move || test.run());
    let start = Instant::now();
    while fake.count("GET", "/v3/phone_numbers") == 0 || fake.count("GET", "/v3/contact_card") == 0
    {
        assert!(start.elapsed() < Duration::from_secs(60), "no plan read");
        std::thread::sleep(Duration::from_millis(5));
    }
    during();
    handle.join().expect("apply thread")
}

#[test]
fn card_activated_between_plan_and_apply_is_read_and_updated_2014() {
    let fake = fake();
    fake.push_fault(
        FaultMatch::method("POST").phone(A),
        Fault::Delay(Duration::from_millis(1500)),
    );
    let out = race(&fake, apply(&fake).status(0), || {
        // Someone sets A up in the dashboard while our POST is on its way.
        fake.set_card(Card::new(A, "Acme").last_name("Elsewhere"));
    });
    let a: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.phone.as_deref() == Some(A))
        .map(|r| (r.method, r.code, r.body))
        .collect();
    assert_eq!(
        a,
        vec![
            (
                "POST".into(),
                Some(2014),
                Some(json!({"phone_number": A, "first_name": "Acme", "last_name": "Support"}))
            ),
            ("GET".into(), None, None),
            ("PATCH".into(), None, Some(json!({"last_name": "Support"}))),
            // The verification read is the list call, not a per-card GET.
        ],
        "{}",
        out.stderr()
    );
    assert_converged(&fake);
    assert_no_unexpected(&fake);
}

#[test]
fn card_gone_inactive_before_its_update_is_created_2012() {
    let fake = fake();
    fake.push_fault(
        FaultMatch::method("PATCH").phone(B),
        Fault::Delay(Duration::from_millis(1500)),
    );
    race(&fake, apply(&fake).status(0), || {
        fake.set_card(Card::new(B, "Acme").last_name("Support").inactive());
    });
    let b: Vec<_> = writes(&fake)
        .into_iter()
        .filter(|r| r.phone.as_deref() == Some(B))
        .map(|r| (r.method, r.code, r.body))
        .collect();
    // The fallback create sends every managed field, not only the differing one.
    assert_eq!(
        b,
        vec![
            (
                "PATCH".into(),
                Some(2012),
                Some(json!({"first_name": "Acme Billing"}))
            ),
            (
                "POST".into(),
                None,
                Some(
                    json!({"phone_number": B, "first_name": "Acme Billing", "last_name": "Support"})
                )
            ),
        ]
    );
    assert_converged(&fake);
}

#[test]
fn setup_incomplete_2022_succeeds_on_the_second_try() {
    let fake = fake();
    fake.push_fault(FaultMatch::writes_to(A), Fault::error(500, 2022));
    let out = apply(&fake).args(["--format", "json"]).status(0).run();
    assert_eq!(fake.writes_for(A), 2);
    let v = out.json();
    let a = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["phone_number"] == A)
        .expect("A's result")
        .clone();
    assert_eq!(a["outcome"], "applied");
    assert_eq!(a["attempts"], 2);
    assert_converged(&fake);
}

#[test]
fn setup_incomplete_2022_on_an_update_is_set_up_again_by_post() {
    let fake = fake();
    fake.push_fault(FaultMatch::writes_to(B), Fault::error(500, 2022));
    apply(&fake).status(0).run();
    let b: Vec<_> = writes(&fake)
        .into_iter()
        .filter(|r| r.phone.as_deref() == Some(B))
        .map(|r| (r.method, r.code))
        .collect();
    // The failed update left B inactive: a second PATCH would only earn a 2012.
    assert_eq!(b, vec![("PATCH".into(), Some(2022)), ("POST".into(), None)]);
    assert_converged(&fake);
}

#[test]
fn setup_incomplete_2022_is_retried_twice_then_fails() {
    let fake = fake();
    for _ in 0..3 {
        fake.push_fault(FaultMatch::writes_to(A), Fault::error(500, 2022));
    }
    let out = apply(&fake).status(1).run();
    assert_eq!(fake.writes_for(A), 3, "one call and two retries");
    assert_eq!(fake.pending_faults(), 0);
    out.stdout_contains("failed").stdout_contains("code 2022");
    // The other cards were still written.
    for phone in [B, D] {
        assert_eq!(fake.writes_for(phone), 1, "{phone}");
    }
    assert!(!card(&fake, A).is_active);
}

#[test]
fn upstream_limited_4004_defers_after_one_call() {
    let fake = fake();
    fake.push_fault(FaultMatch::writes_to(A), Fault::error(503, 4004));
    let out = apply(&fake).status(3).run();
    assert_eq!(fake.writes_for(A), 1, "4004 is never retried in the run");
    out.stdout_contains("deferred")
        .stdout_contains("run apply again later");
    for phone in [B, D] {
        assert_eq!(fake.writes_for(phone), 1, "{phone}");
    }
}

#[test]
fn short_retry_after_is_waited_and_printed() {
    let fake = fake();
    fake.push_fault(FaultMatch::writes_to(A), Fault::rate_limited(1));
    let started = Instant::now();
    let out = apply(&fake).status(0).run();
    assert!(started.elapsed() >= Duration::from_secs(1));
    out.stderr_contains(&format!("{A}  rate limited: waiting 1 s (Retry-After)"));
    assert_eq!(fake.writes_for(A), 2);
    assert_converged(&fake);
}

#[test]
fn long_retry_after_defers_while_other_cards_are_applied() {
    let fake = fake();
    fake.push_fault(FaultMatch::writes_to(A), Fault::rate_limited(120));
    let started = Instant::now();
    let out = apply(&fake)
        .args(["--max-wait", "5", "--format", "json"])
        .status(3)
        .run();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "did not wait 120 s"
    );
    assert_eq!(fake.writes_for(A), 1);
    let v = out.json();
    assert_eq!(
        v["summary"],
        json!({"applied": 2, "failed": 0, "deferred": 1, "unchanged": 1})
    );
    for phone in [B, D] {
        assert_eq!(fake.writes_for(phone), 1, "{phone}");
        assert!(card(&fake, phone).is_active);
    }
    let a = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["phone_number"] == A)
        .expect("A")
        .clone();
    assert_eq!(a["outcome"], "deferred");
    assert_eq!(a["error"]["status"], 429);
    assert_eq!(a["error"]["code"], 1007);
    assert!(a["error"]["trace_id"].is_string(), "{a}");
}

#[test]
fn unauthorized_401_stops_every_further_write() {
    let fake = fake();
    fake.push_fault(FaultMatch::method("POST|PATCH"), Fault::error(401, 2004));
    // One card at a time, so that "further" is well defined.
    let out = apply(&fake).args(["--concurrency", "1"]).status(1).run();
    assert_eq!(fake.writes(), 1, "{:#?}", writes(&fake));
    out.stdout_contains("Stopped early");
    // Nothing changed on the account.
    assert_eq!(card(&fake, B).first_name, "Acme");
    assert!(fake.card(A).is_none());
}

#[test]
fn dropped_create_that_landed_is_recognised_by_2014() {
    let fake = fake();
    fake.push_fault(FaultMatch::method("POST").phone(A), Fault::DropAfterApply);
    apply(&fake).status(0).run();
    let a: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.phone.as_deref() == Some(A))
        .map(|r| (r.method, r.status, r.code))
        .collect();
    // Dropped (but applied), retried → 2014, read: already as desired.
    assert_eq!(
        a,
        vec![
            ("POST".into(), None, None),
            ("POST".into(), Some(409), Some(2014)),
            ("GET".into(), Some(200), None),
        ]
    );
    assert_converged(&fake);
}

#[test]
fn write_answered_inactive_is_failed_and_retried_next_run() {
    let fake = fake();
    fake.set_setup_incomplete(A, true);
    let out = apply(&fake).status(1).run();
    out.stdout_contains("failed");
    assert_eq!(fake.writes_for(A), 1);
    assert!(!card(&fake, A).is_active);

    fake.set_setup_incomplete(A, false);
    fake.clear_log();
    out.again()
        .fake(&fake)
        .args(["apply", "--auto-approve"])
        .status(0)
        .run();
    let w = writes(&fake);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!(
        w[0].method, "POST",
        "an inactive card goes back through POST"
    );
    assert_converged(&fake);
}

#[test]
fn ledger_defers_a_card_that_would_need_a_fourth_write() {
    let fake = fake();
    fake.push_fault(FaultMatch::writes_to(A), Fault::error(500, 2022));
    fake.push_fault(FaultMatch::writes_to(A), Fault::error(500, 2022));
    fake.push_fault(FaultMatch::writes_to(A), Fault::error(409, 2014));
    let out = apply(&fake).args(["--format", "json"]).status(3).run();
    assert_eq!(fake.writes_for(A), 3, "never a 4th write");
    let v = out.json();
    let a = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["phone_number"] == A)
        .expect("A")
        .clone();
    assert_eq!(a["outcome"], "deferred", "{a}");
    assert_eq!(a["attempts"], 3);
}

fn save_plan(fake: &FakeLinq) -> common::Output {
    Test::new()
        .yaml(FILE)
        .fake(fake)
        .args(["plan", "--out", "plan.json"])
        .status(0)
        .run()
}

#[test]
fn saved_plan_is_applied_exactly() {
    let fake = fake();
    let planned = save_plan(&fake);
    // The file may be gone: apply --plan does not read it.
    std::fs::remove_file(planned.dir.path().join("linq-cards.yaml")).expect("rm");
    planned
        .again()
        .fake(&fake)
        .args(["apply", "--auto-approve", "--plan", "plan.json"])
        .status(0)
        .run();
    assert_eq!(writes(&fake).len(), 3);
    assert_converged(&fake);
    assert_no_unexpected(&fake);
}

#[test]
fn stale_saved_plan_is_refused_with_zero_writes() {
    let fake = fake();
    let planned = save_plan(&fake);
    fake.set_card(Card::new(B, "Renamed").last_name("Support"));
    let out = planned
        .again()
        .fake(&fake)
        .args(["apply", "--auto-approve", "--plan", "plan.json"])
        .status(1)
        .run();
    out.stderr_contains("stale plan").stderr_contains(B);
    assert_eq!(fake.writes(), 0);
}

#[test]
fn saved_plan_for_another_account_or_api_is_refused() {
    let fake = fake();
    let planned = save_plan(&fake);

    // Same numbers, another server: another API URL.
    let other = fake_linq::FakeLinq::start_blocking(
        Config::default()
            .numbers([A, B, C, D, E])
            .token(&fake.token()),
    );
    let out = planned
        .again()
        .fake(&other)
        .args(["apply", "--auto-approve", "--plan", "plan.json"])
        .status(1)
        .run();
    out.stderr_contains("made for API");
    assert_eq!(other.writes(), 0);

    // Same server, another set of numbers: another account.
    fake.add_number("+12223339999");
    let out = out
        .again()
        .fake(&fake)
        .args(["apply", "--auto-approve", "--plan", "plan.json"])
        .status(1)
        .run();
    out.stderr_contains("another account");
    assert_eq!(fake.writes(), 0);

    // A plan from a snapshot has no account at all.
    std::fs::write(out.dir.path().join("snap.json"), r#"{"contact_cards": []}"#)
        .expect("write snapshot");
    let out = out
        .again()
        .args([
            "plan",
            "--live-snapshot",
            "snap.json",
            "--out",
            "snap-plan.json",
        ])
        .env("LINQ_API_URL", fake.base_url())
        .status(0)
        .run();
    out.again()
        .fake(&fake)
        .args(["apply", "--auto-approve", "--plan", "snap-plan.json"])
        .status(1)
        .run()
        .stderr_contains("live snapshot");
    assert_eq!(fake.writes(), 0);
}

#[test]
fn expect_digest_mismatch_is_refused_and_match_accepted() {
    let fake = fake();
    let plan = Test::new()
        .yaml(FILE)
        .fake(&fake)
        .args(["plan", "--format", "json"])
        .status(0)
        .run();
    let digest = plan.json()["plan_digest"]
        .as_str()
        .expect("digest")
        .to_string();
    let out = plan
        .again()
        .fake(&fake)
        .args([
            "apply",
            "--auto-approve",
            "--expect-digest",
            &"0".repeat(64),
        ])
        .status(1)
        .run();
    out.stderr_contains(&digest)
        .stderr_contains("nothing was written");
    assert_eq!(fake.writes(), 0);

    out.again()
        .fake(&fake)
        .args(["apply", "--auto-approve", "--expect-digest", &digest])
        .status(0)
        .run();
    assert_eq!(fake.writes(), 3);
}

#[test]
fn guard_refuses_4_of_10_updates_unless_forced() {
    let numbers: Vec<String> = (0..10).map(|i| format!("+1222333100{i}")).collect();
    let mut config = Config::default();
    let mut yaml = String::from("cards:\n");
    for (i, n) in numbers.iter().enumerate() {
        config = config.card(Card::new(n, "Acme"));
        let first = if i < 4 { "Renamed" } else { "Acme" };
        yaml.push_str(&format!(
            "  - phone_number: \"{n}\"\n    first_name: {first}\n"
        ));
    }
    let fake = FakeLinq::start_blocking(config);
    let out = Test::new()
        .yaml(&yaml)
        .fake(&fake)
        .args(["apply", "--auto-approve"])
        .status(1)
        .run();
    out.stderr_contains("4 of 10").stderr_contains("--force");
    assert_eq!(fake.writes(), 0);

    // 40% is within a raised limit, and --force overrides the default one.
    out.again()
        .fake(&fake)
        .args(["apply", "--auto-approve", "--force"])
        .status(0)
        .run();
    assert_eq!(fake.writes(), 4);
    for n in &numbers[..4] {
        assert_eq!(card(&fake, n).first_name, "Renamed");
    }
}

#[test]
fn non_terminal_stdin_without_auto_approve_is_refused() {
    let fake = fake();
    for stdin in [None, Some("yes\n")] {
        let mut t = Test::new().yaml(FILE).fake(&fake).arg("apply");
        if let Some(s) = stdin {
            // Even "yes" on a pipe is not a person confirming.
            t = t.stdin(s);
        }
        t.status(1).run().stderr_contains("--auto-approve");
    }
    assert_eq!(fake.writes(), 0);
}

#[test]
fn sigterm_mid_run_starts_no_new_write_and_a_rerun_converges() {
    let numbers: Vec<String> = (0..6).map(|i| format!("+1222444100{i}")).collect();
    let mut config = Config::default().latency(Duration::from_millis(400));
    let mut yaml = String::from("cards:\n");
    for n in &numbers {
        config = config.number(n);
        yaml.push_str(&format!(
            "  - phone_number: \"{n}\"\n    first_name: Acme\n"
        ));
    }
    let fake = FakeLinq::start_blocking(config);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("linq-cards.yaml"), &yaml).expect("write file");
    let child = Command::new(env!("CARGO_BIN_EXE_linq-cards"))
        .args(["apply", "--auto-approve", "--concurrency", "1"])
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("LINQ_API_URL", fake.base_url())
        .env("LINQ_API_KEY", fake.token())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn linq-cards");
    let start = Instant::now();
    while fake.writes() < 1 {
        assert!(start.elapsed() < Duration::from_secs(60), "no write");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The second write is now in flight (it answers 400 ms after it starts).
    std::thread::sleep(Duration::from_millis(150));
    let signalled = SystemTime::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("interrupted"), "{stdout}");

    let w = writes(&fake);
    assert_eq!(w.len(), 2, "the first and the in-flight one: {w:#?}");
    for r in &w {
        assert!(r.received_at < signalled, "a write started after SIGTERM");
        assert_eq!(r.status, Some(200), "in-flight writes finish");
    }
    // The summary accounts for every card: two applied, the rest not attempted.
    assert!(stdout.contains("2 applied, 4 failed"), "{stdout}");

    fake.set_latency(Duration::ZERO);
    fake.clear_log();
    let rerun = Command::new(env!("CARGO_BIN_EXE_linq-cards"))
        .args(["apply", "--auto-approve"])
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("LINQ_API_URL", fake.base_url())
        .env("LINQ_API_KEY", fake.token())
        .stdin(Stdio::null())
        .output()
        .expect("rerun");
    assert_eq!(rerun.status.code(), Some(0));
    assert_eq!(
        fake.writes(),
        4,
        "only the cards the first run did not write"
    );
    for n in &numbers {
        assert!(card(&fake, n).is_active, "{n}");
    }
}

#[test]
fn concurrency_is_bounded_and_one_numbers_calls_never_overlap() {
    let numbers: Vec<String> = (0..12).map(|i| format!("+122255510{i:02}")).collect();
    let mut config = Config::default().latency(Duration::from_millis(150));
    let mut yaml = String::from("cards:\n");
    for n in &numbers {
        config = config.number(n);
        yaml.push_str(&format!(
            "  - phone_number: \"{n}\"\n    first_name: Acme\n"
        ));
    }
    let fake = FakeLinq::start_blocking(config);
    // Every other create answers 2022 once, so those numbers see two calls.
    for n in numbers.iter().step_by(2) {
        fake.push_fault(FaultMatch::writes_to(n), Fault::error(500, 2022));
    }
    Test::new()
        .yaml(&yaml)
        .fake(&fake)
        .args(["apply", "--auto-approve", "--concurrency", "3"])
        .status(0)
        .run();
    assert_eq!(
        fake.max_in_flight(),
        3,
        "the limit is used and never exceeded"
    );
    for n in &numbers {
        assert_eq!(fake.max_in_flight_for(n), 1, "{n}");
        assert!(card(&fake, n).is_active, "{n}");
    }
}

#[test]
fn json_result_has_the_spec_shape() {
    let fake = fake();
    fake.push_fault(FaultMatch::writes_to(D), Fault::error(400, 1003));
    let out = apply(&fake).args(["--format", "json"]).status(1).run();
    // stdout is the JSON result and nothing else.
    let v = out.json();
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["converged"], false);
    assert_eq!(
        v["summary"],
        json!({"applied": 2, "failed": 1, "deferred": 0, "unchanged": 1})
    );
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), 3);
    for r in results {
        for key in ["phone_number", "action", "outcome", "attempts", "error"] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
    }
    let by = |p: &str| {
        results
            .iter()
            .find(|r| r["phone_number"] == p)
            .expect("result")
            .clone()
    };
    assert_eq!(by(A)["action"], "create");
    assert_eq!(by(A)["outcome"], "applied");
    assert_eq!(by(A)["attempts"], 1);
    assert!(by(A)["error"].is_null());
    assert_eq!(by(B)["action"], "update");
    let d = by(D);
    assert_eq!(d["outcome"], "failed");
    let err = &d["error"];
    assert_eq!(err["status"], 400);
    assert_eq!(err["code"], 1003);
    assert!(err["message"].is_string());
    assert!(
        err["trace_id"].as_str().is_some_and(|t| !t.is_empty()),
        "{err}"
    );
    // The plan was shown, but not on stdout.
    out.stderr_contains("to create");
}

#[test]
fn token_never_appears_at_vv() {
    for format in ["text", "json"] {
        // A fresh account each time, so that both runs write and fail.
        let fake = FakeLinq::start_blocking(
            Config::default()
                .token("sentinel-TOKEN-4f1d2a9c")
                .number(A)
                .card(Card::new(B, "Acme").last_name("Support"))
                .card(Card::new(C, "Same").last_name("Support"))
                .card(Card::new(D, "Old").inactive()),
        );
        fake.push_fault(FaultMatch::writes_to(A), Fault::error(500, 2022));
        fake.push_fault(FaultMatch::writes_to(B), Fault::error(400, 1003));
        let out = Test::new()
            .yaml(FILE)
            .fake(&fake)
            .args(["-vv", "apply", "--auto-approve", "--format", format])
            .status(1)
            .run();
        for text in [out.stdout(), out.stderr()] {
            assert!(
                !text.contains("sentinel-TOKEN-4f1d2a9c"),
                "token leaked:\n{text}"
            );
        }
        assert!(out.stderr().contains("PATCH"), "-vv logs the calls");
        assert_eq!(fake.writes_for(A), 2);
    }
}

#[test]
fn target_applies_only_the_named_numbers() {
    let fake = fake();
    let out = apply(&fake).args(["--target", B]).status(0).run();
    assert_eq!(fake.writes(), 1);
    assert_eq!(fake.writes_for(B), 1);
    assert_eq!(card(&fake, B).first_name, "Acme Billing");
    assert!(fake.card(A).is_none());
    // A number outside the file is a usage error before any call.
    fake.clear_log();
    out.again()
        .yaml(FILE)
        .fake(&fake)
        .args(["apply", "--auto-approve", "--target", "+19998887777"])
        .status(1)
        .run();
    assert!(fake.requests().is_empty());
}

/// Run `linq-cards apply` on a real pseudo-terminal (util-linux `script`,
/// part of every Debian base system), typing `answer` at the prompt.
fn apply_on_a_terminal(fake: &FakeLinq, answer: &str) -> (i32, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("linq-cards.yaml"), FILE).expect("write the file");
    let bin = env!("CARGO_BIN_EXE_linq-cards");
    let mut child = Command::new("script")
        .args(["-qec", &format!("'{bin}' apply"), "/dev/null"])
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("LINQ_API_URL", fake.base_url())
        .env("LINQ_API_KEY", fake.token())
        .env_remove("LINQ_API_V3_API_KEY")
        .env_remove("LINQ_API_V3_BASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs the binary on a pseudo-terminal");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("piped stdin");
        // Typed ahead: the terminal holds the line until apply reads it.
        stdin
            .write_all(format!("{answer}\n").as_bytes())
            .expect("type the answer");
    }
    let out = child.wait_with_output().expect("wait for script");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn confirmation_on_a_terminal_requires_exactly_yes() {
    let fake = fake();
    for answer in ["no", "y", "YES", ""] {
        let (code, out) = apply_on_a_terminal(&fake, answer);
        assert_eq!(code, 1, "answer {answer:?}:\n{out}");
        assert!(out.contains("Only 'yes' will be accepted"), "{out}");
        assert!(out.contains("cancelled"), "{out}");
        assert!(writes(&fake).is_empty(), "answer {answer:?} wrote");
    }
    let (code, out) = apply_on_a_terminal(&fake, "yes");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("converged"), "{out}");
    // The file's three changes (create A, update B, set up D again), once each.
    assert_eq!(writes(&fake).len(), 3, "{:?}", writes(&fake));
    assert_no_unexpected(&fake);
}
