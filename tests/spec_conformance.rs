//! SPEC conformance through the binary, as a new user would run it: the
//! behaviours of SPEC.md that no other test pinned end to end (global options
//! on every command, option precedence, default file, export round trip, the
//! JSON keys of plan and apply, the guard as `plan` shows it, `--target`
//! repeated, one digest everywhere). Each test names the SPEC sentence it holds.

mod common;

use common::Test;
use fake_linq::{Card, Config, FakeLinq};
use serde_json::Value;

const A: &str = "+12223334444";
const B: &str = "+12223335555";
const C: &str = "+12223336666";
const U: &str = "+12223337777";

/// A: update; B: create (missing); C: unchanged; U: unmanaged.
const FILE: &str = r#"
cards:
  - phone_number: +12223334444
    first_name: New
  - phone_number: "+12223335555"
    first_name: Fresh
  - phone_number: "+12223336666"
    first_name: Same
"#;

fn fake() -> FakeLinq {
    FakeLinq::start_blocking(
        Config::default()
            .number(B)
            .card(Card::new(A, "Old"))
            .card(Card::new(C, "Same"))
            .card(Card::new(U, "Other")),
    )
}

fn hex64(v: &Value) -> String {
    let s = v.as_str().expect("a string").to_string();
    assert!(
        s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()),
        "not 64 hex: {s}"
    );
    s
}

/// Every subcommand and the ways a user gets its command line wrong.
const SUBCOMMANDS: &[&[&str]] = &[
    &["validate"],
    &["plan"],
    &["apply"],
    &["export"],
    &["schema"],
    &["completions", "bash"],
];

#[test]
fn usage_errors_exit_1_on_every_subcommand_help_and_version_exit_0() {
    for sub in SUBCOMMANDS {
        // Unknown flag, bad value of a global option, missing value of a global option.
        for bad in [
            &["--no-such-flag"][..],
            &["--color", "purple"],
            &["--api-url"],
            &["--profile"],
        ] {
            let out = Test::new().args(*sub).args(bad).status(1).run();
            assert!(!out.stderr.is_empty(), "{sub:?} {bad:?}: no message");
            assert!(
                out.stdout.is_empty(),
                "{sub:?} {bad:?}: stdout {}",
                out.stdout
            );
        }
        Test::new().args(*sub).arg("--help").status(0).run();
        Test::new().args(*sub).arg("-h").status(0).run();
        Test::new().args(*sub).arg("--version").status(0).run();
    }
    // Bad and missing values of per-command options.
    for bad in [
        &["validate", "--format", "xml"][..],
        &["plan", "--format", "yaml"],
        &["plan", "--out"],
        &["plan", "--target"],
        &["apply", "--format", "markdown"],
        &["apply", "--concurrency", "many"],
        &["apply", "--max-wait", "-x"],
        &["apply", "--max-update-percent"],
        &["apply", "--expect-digest"],
        &["export", "--out"],
        &["completions"],
        &["completions", "cmd.exe"],
        &["no-such-command"],
        &[],
    ] {
        Test::new().args(bad).status(1).run();
    }
    let v = Test::new().arg("--version").status(0).run();
    v.stdout_contains(env!("CARGO_PKG_VERSION"));
    Test::new().arg("--help").status(0).run();
}

#[test]
fn global_options_are_accepted_before_and_after_every_subcommand() {
    for sub in SUBCOMMANDS {
        let globals = ["-v", "-q", "--color", "never"];
        Test::new()
            .args(globals)
            .args(*sub)
            .arg("--help")
            .status(0)
            .run();
        Test::new()
            .args(*sub)
            .args(globals)
            .arg("--help")
            .status(0)
            .run();
        Test::new()
            .args(*sub)
            .args(["-vv", "--color", "always", "--api-url", "https://x.example"])
            .args(["--profile", "p", "--help"])
            .status(0)
            .run();
    }
}

#[test]
fn api_url_flag_beats_linq_api_url_beats_v3_base_url() {
    let fake = fake();
    let plan = |t: Test| t.yaml(FILE).env("LINQ_API_KEY", fake.token()).arg("plan");
    // LINQ_API_V3_BASE_URL alone is used.
    plan(Test::new().env("LINQ_API_V3_BASE_URL", fake.base_url()))
        .status(0)
        .run();
    // LINQ_API_URL wins over it: the refused V3 URL is never looked at.
    plan(
        Test::new()
            .env("LINQ_API_URL", fake.base_url())
            .env("LINQ_API_V3_BASE_URL", "http://example.com"),
    )
    .status(0)
    .run();
    // The flag wins over both.
    plan(
        Test::new()
            .env("LINQ_API_URL", "http://example.com")
            .env("LINQ_API_V3_BASE_URL", "http://example.com"),
    )
    .args(["--api-url", &fake.base_url()])
    .status(0)
    .run();
    let reads = fake.count("GET", "/v3/contact_card");
    assert_eq!(reads, 3, "each plan read the fake once");
    // Each source in turn is refused when it is plain http to a non-loopback host.
    for (var, flag) in [
        (Some("LINQ_API_V3_BASE_URL"), None),
        (Some("LINQ_API_URL"), None),
        (None, Some("http://10.0.0.1:8080")),
    ] {
        for sub in [&["plan"][..], &["apply", "--auto-approve"], &["export"]] {
            let mut t = Test::new().yaml(FILE).env("LINQ_API_KEY", fake.token());
            if let Some(var) = var {
                t = t.env(var, "http://api.example.com");
            }
            if let Some(url) = flag {
                t = t.args(["--api-url", url]);
            }
            let out = t.args(sub).status(1).run();
            out.stderr_contains("non-HTTPS");
        }
    }
    assert_eq!(fake.count("GET", "/v3/contact_card"), reads);
    assert_eq!(fake.writes(), 0);
}

fn profile_file(t: Test, active: &str) -> Test {
    t.file(
        ".linq/config.json",
        format!(
            r#"{{"profile": "{active}", "profiles": {{"good": {{"token": "fake-token"}}, "bad": {{"token": "wrong-token"}}}}}}"#
        ),
    )
}

#[test]
fn token_env_beats_profile_and_the_active_profile_is_the_default() {
    let fake = FakeLinq::start_blocking(Config::default().token("fake-token").number(B));
    let plan = |t: Test| {
        t.yaml("cards:\n  - phone_number: \"+12223335555\"\n    first_name: Fresh\n")
            .env("LINQ_API_URL", fake.base_url())
            .arg("plan")
    };
    // The file's active profile.
    plan(profile_file(Test::new(), "good")).status(0).run();
    plan(profile_file(Test::new(), "bad"))
        .status(1)
        .run()
        .stderr_contains("401");
    // --profile picks another one.
    plan(profile_file(Test::new(), "bad"))
        .args(["--profile", "good"])
        .status(0)
        .run();
    plan(profile_file(Test::new(), "good"))
        .args(["--profile", "nosuch"])
        .status(1)
        .run()
        .stderr_contains("nosuch");
    // LINQ_API_V3_API_KEY beats the profile, LINQ_API_KEY beats both.
    plan(profile_file(Test::new(), "bad"))
        .env("LINQ_API_V3_API_KEY", "fake-token")
        .status(0)
        .run();
    plan(profile_file(Test::new(), "good"))
        .env("LINQ_API_V3_API_KEY", "wrong-token")
        .status(1)
        .run();
    plan(profile_file(Test::new(), "bad"))
        .env("LINQ_API_KEY", "fake-token")
        .env("LINQ_API_V3_API_KEY", "wrong-token")
        .status(0)
        .run();
    // None of the three: a clear error naming all of them, for each command that needs one.
    for sub in [&["plan"][..], &["apply", "--auto-approve"], &["export"]] {
        let out = Test::new()
            .yaml(FILE)
            .env("LINQ_API_URL", fake.base_url())
            .args(sub)
            .status(1)
            .run();
        out.stderr_contains("LINQ_API_KEY")
            .stderr_contains("LINQ_API_V3_API_KEY")
            .stderr_contains(".linq/config.json");
    }
    assert_eq!(fake.writes(), 0);
}

#[test]
fn verbosity_logs_on_stderr_and_color_follows_the_flag_and_no_color() {
    let fake = fake();
    let run = |args: &[&str]| {
        Test::new()
            .yaml(FILE)
            .fake(&fake)
            .args(args)
            .status(0)
            .run()
    };
    // -vv logs go to stderr; stdout stays the JSON plan.
    let loud = run(&["-vv", "plan", "--format", "json"]);
    assert!(!loud.stderr.is_empty(), "-vv logged nothing");
    assert_eq!(loud.json()["format_version"], 1);
    // -q: no debug lines, and stdout is still the plan.
    let quiet = run(&["-q", "plan", "--format", "json"]);
    assert!(!quiet.stderr.contains("DEBUG"), "{}", quiet.stderr);
    assert_eq!(quiet.json()["summary"]["update"], 1);

    let esc = |o: &common::Output| o.stdout.contains('\x1b') || o.stderr.contains('\x1b');
    assert!(esc(&run(&["--color", "always", "plan"])));
    assert!(!esc(&run(&["--color", "never", "plan"])));
    // auto: not a terminal here, so no colour; NO_COLOR changes nothing of that.
    assert!(!esc(&run(&["--color", "auto", "plan"])));
    let no_color = Test::new()
        .yaml(FILE)
        .fake(&fake)
        .env("NO_COLOR", "1")
        .arg("plan")
        .status(0)
        .run();
    assert!(!esc(&no_color));
    // JSON never carries colour, even when forced.
    let json = run(&["--color", "always", "plan", "--format", "json"]);
    assert!(!json.stdout.contains('\x1b'));
    json.json();
}

#[test]
fn plan_and_apply_read_linq_cards_yaml_from_the_working_directory() {
    let fake = fake();
    let out = Test::new()
        .file("sub/linq-cards.yaml", FILE)
        .current_dir("sub")
        .fake(&fake)
        .args(["plan", "--format", "json"])
        .status(0)
        .run();
    assert_eq!(out.json()["summary"]["create"], 1);
    // No file there: an error naming the default file.
    Test::new()
        .fake(&fake)
        .arg("plan")
        .status(1)
        .run()
        .stderr_contains("linq-cards.yaml");
    Test::new()
        .fake(&fake)
        .args(["apply", "--auto-approve"])
        .status(1)
        .run()
        .stderr_contains("linq-cards.yaml");
    assert_eq!(fake.writes(), 0);
    Test::new()
        .file("sub/linq-cards.yaml", FILE)
        .current_dir("sub")
        .fake(&fake)
        .args(["apply", "--auto-approve"])
        .status(0)
        .run();
    assert_eq!(fake.writes(), 2);
    assert_eq!(fake.card(A).expect("A exists").first_name, "New");
}

#[test]
fn export_out_file_equals_stdout_sorted_and_loads_back() {
    // Cards put in out of order; one with every field.
    let fake = FakeLinq::start_blocking(
        Config::default()
            .card(Card::new(U, "Zed"))
            .card(
                Card::new(A, "Acme")
                    .last_name("Support")
                    .image_url("https://cdn.example.com/a.png"),
            )
            .card(Card::new(C, "Mid")),
    );
    let out = Test::new()
        .fake(&fake)
        .args(["export", "--out", "exported.yaml"])
        .status(0)
        .run();
    let file = out.read("exported.yaml");
    assert!(
        !out.stdout.contains("phone_number"),
        "--out still printed the file"
    );
    let stdout = out.again().fake(&fake).arg("export").status(0).run();
    assert_eq!(stdout.stdout, file);
    let positions: Vec<usize> = [A, C, U]
        .iter()
        .map(|n| {
            file.find(n)
                .unwrap_or_else(|| panic!("{n} missing:\n{file}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "not sorted:\n{file}"
    );
    assert!(file.contains("https://cdn.example.com/a.png"));
    // Loads back: valid, and the plan from it has nothing to do.
    let back = stdout
        .again()
        .args(["validate", "exported.yaml"])
        .status(0)
        .run();
    let plan = back
        .again()
        .fake(&fake)
        .args([
            "plan",
            "exported.yaml",
            "--detailed-exitcode",
            "--format",
            "json",
        ])
        .status(0)
        .run();
    let p = plan.json();
    assert_eq!(p["summary"]["unchanged"], 3);
    assert_eq!(p["changes"].as_array().map(Vec::len), Some(0));
}

#[test]
fn plan_json_has_every_spec_key() {
    let fake = fake();
    let out = Test::new()
        .yaml(FILE)
        .fake(&fake)
        .args(["plan", "--format", "json"])
        .status(0)
        .run();
    let p = out.json();
    assert_eq!(p["format_version"], 1);
    assert_eq!(p["tool_version"], env!("CARGO_PKG_VERSION"));
    hex64(&p["plan_digest"]);
    let changes = p["changes"].as_array().expect("changes array");
    assert_eq!(changes.len(), 2);
    let by = |n: &str| {
        changes
            .iter()
            .find(|c| c["phone_number"] == n)
            .unwrap_or_else(|| panic!("no change for {n}"))
    };
    let upd = by(A);
    assert_eq!(upd["action"], "update");
    assert_eq!(upd["fields"], serde_json::json!(["first_name"]));
    assert_eq!(upd["before"]["first_name"], "Old");
    assert_eq!(upd["before"]["is_active"], true);
    assert_eq!(upd["after"], serde_json::json!({"first_name": "New"}));
    let create = by(B);
    assert_eq!(create["action"], "create");
    assert_eq!(create["reason"], "missing");
    assert!(create["before"].is_null());
    assert_eq!(create["after"]["first_name"], "Fresh");
    assert_eq!(p["unchanged"], serde_json::json!([C]));
    assert_eq!(p["unmanaged"], serde_json::json!([U]));
    assert!(p["warnings"].is_array());
    assert_eq!(
        p["summary"],
        serde_json::json!({"create": 1, "update": 1, "unchanged": 1, "unmanaged": 1})
    );
    assert_eq!(fake.writes(), 0, "plan never writes");
}

#[test]
fn apply_json_has_every_spec_key_and_exit_codes_0_1_3() {
    let fake = fake();
    let out = Test::new()
        .yaml(FILE)
        .fake(&fake)
        .args(["apply", "--auto-approve", "--format", "json"])
        .status(0)
        .run();
    let r = out.json();
    assert_eq!(r["format_version"], 1);
    assert_eq!(r["converged"], true);
    assert_eq!(
        r["summary"],
        serde_json::json!({"applied": 2, "failed": 0, "deferred": 0, "unchanged": 1})
    );
    let results = r["results"].as_array().expect("results array");
    assert_eq!(results.len(), 2);
    for res in results {
        for key in ["phone_number", "action", "outcome", "attempts", "error"] {
            assert!(res.get(key).is_some(), "result lacks {key}: {res}");
        }
        assert_eq!(res["outcome"], "applied");
        assert!(res["error"].is_null());
        assert!(res["attempts"].as_u64().is_some_and(|a| a >= 1));
    }

    // A card failing with a plain 4xx: exit 1, its error carries the API's fields.
    fake.set_card(Card::new(A, "Drifted"));
    fake.push_fault(
        fake_linq::FaultMatch::writes_to(A),
        fake_linq::Fault::error(400, 1001),
    );
    let failed = out
        .again()
        .fake(&fake)
        .args(["apply", "--auto-approve", "--format", "json"])
        .status(1)
        .run();
    let r = failed.json();
    assert_eq!(r["summary"]["failed"], 1);
    let res = &r["results"][0];
    assert_eq!(res["outcome"], "failed");
    assert_eq!(res["error"]["status"], 400);
    assert_eq!(res["error"]["code"], 1001);
    assert!(res["error"]["message"].is_string());
    assert!(res["error"]["trace_id"].is_string());

    // 503/4004: deferred, nothing failed: exit 3.
    fake.clear_faults();
    fake.push_fault(
        fake_linq::FaultMatch::writes_to(A),
        fake_linq::Fault::error(503, 4004),
    );
    let deferred = failed
        .again()
        .fake(&fake)
        .args(["apply", "--auto-approve", "--format", "json"])
        .status(3)
        .run();
    let r = deferred.json();
    assert_eq!(r["summary"]["deferred"], 1);
    assert_eq!(r["summary"]["failed"], 0);
    assert_eq!(r["results"][0]["outcome"], "deferred");
}

/// Ten managed live cards, four updated: over the default 30%.
fn guard_setup() -> (FakeLinq, String) {
    let mut config = Config::default();
    let mut yaml = String::from("cards:\n");
    for i in 0..10 {
        let n = format!("+1222333200{i}");
        config = config.card(Card::new(&n, "Acme"));
        let first = if i < 4 { "Renamed" } else { "Acme" };
        yaml.push_str(&format!(
            "  - phone_number: \"{n}\"\n    first_name: {first}\n"
        ));
    }
    (FakeLinq::start_blocking(config), yaml)
}

#[test]
fn plan_only_warns_about_the_update_guard_and_apply_limits_are_inclusive() {
    let (fake, yaml) = guard_setup();
    let out = Test::new()
        .yaml(&yaml)
        .fake(&fake)
        .args(["plan", "--format", "json"])
        .status(0)
        .run();
    let warnings = out.json()["warnings"].to_string();
    assert!(warnings.contains("4 of 10"), "{warnings}");
    out.again()
        .fake(&fake)
        .args(["plan", "--detailed-exitcode"])
        .status(2)
        .run()
        .stdout_contains("4 of 10");
    // plan takes the limit too: at 40% nothing is over it.
    let raised = Test::new()
        .yaml(&yaml)
        .fake(&fake)
        .args(["plan", "--format", "json", "--max-update-percent", "40"])
        .status(0)
        .run();
    assert_eq!(raised.json()["warnings"], serde_json::json!([]));
    // A limit that is not a percentage is a usage error, never a disabled guard.
    for bad in ["NaN", "inf", "101", "-1", "x"] {
        for sub in ["plan", "apply"] {
            Test::new()
                .yaml(&yaml)
                .fake(&fake)
                .args([sub, "--max-update-percent", bad])
                .status(1)
                .run();
        }
    }
    assert_eq!(fake.writes(), 0);
    // Apply: 40% > 30% refused; 40% within --max-update-percent 40 (exactly P%) accepted.
    let refused = Test::new()
        .yaml(&yaml)
        .fake(&fake)
        .args(["apply", "--auto-approve", "--max-update-percent", "39"])
        .status(1)
        .run();
    refused.stderr_contains("--force");
    assert_eq!(fake.writes(), 0);
    refused
        .again()
        .fake(&fake)
        .args(["apply", "--auto-approve", "--max-update-percent", "40"])
        .status(0)
        .run();
    assert_eq!(fake.writes(), 4);
}

#[test]
fn the_guard_needs_ten_managed_live_cards() {
    // Nine managed live cards, all updated: under the 10-card minimum, no guard.
    let mut config = Config::default();
    let mut yaml = String::from("cards:\n");
    for i in 0..9 {
        let n = format!("+1222333300{i}");
        config = config.card(Card::new(&n, "Acme"));
        yaml.push_str(&format!(
            "  - phone_number: \"{n}\"\n    first_name: Renamed\n"
        ));
    }
    // Unmanaged live cards do not count towards the ten.
    for i in 0..5 {
        config = config.card(Card::new(&format!("+1222333400{i}"), "Else"));
    }
    let fake = FakeLinq::start_blocking(config);
    Test::new()
        .yaml(&yaml)
        .fake(&fake)
        .args(["apply", "--auto-approve"])
        .status(0)
        .run();
    assert_eq!(fake.writes(), 9);
}

#[test]
fn target_is_repeatable_on_plan_and_apply() {
    let fake = fake();
    let out = Test::new()
        .yaml(FILE)
        .fake(&fake)
        .args(["plan", "--format", "json", "--target", A, "--target", C])
        .status(0)
        .run();
    let p = out.json();
    assert_eq!(p["summary"]["update"], 1);
    assert_eq!(p["summary"]["create"], 0);
    assert_eq!(p["summary"]["unchanged"], 1);
    out.again()
        .fake(&fake)
        .args(["apply", "--auto-approve", "--target", A, "--target", C])
        .status(0)
        .run();
    assert_eq!(fake.writes(), 1);
    assert!(fake.card(B).is_none(), "an untargeted card was written");
    // A target not in the file is an error, on apply too, before any write.
    Test::new()
        .yaml(FILE)
        .fake(&fake)
        .args([
            "apply",
            "--auto-approve",
            "--target",
            B,
            "--target",
            "+19998887777",
        ])
        .status(1)
        .run();
    assert_eq!(fake.writes(), 1);
}

fn digest_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_hexdigit())
        .find(|w| w.len() == 64)
        .unwrap_or_else(|| panic!("no digest in:\n{text}"))
        .to_string()
}

#[test]
fn one_digest_in_every_format_and_expect_digest_takes_the_text_one() {
    let fake = fake();
    let t = Test::new().yaml(FILE).fake(&fake);
    let json = t
        .args(["plan", "--format", "json", "--out", "p.json"])
        .status(0)
        .run();
    let digest = hex64(&json.json()["plan_digest"]);
    let saved: Value = serde_json::from_str(&json.read("p.json")).expect("plan file is JSON");
    assert_eq!(saved["plan_digest"], digest.as_str());
    let text = json.again().fake(&fake).arg("plan").status(0).run();
    assert_eq!(digest_in(&text.stdout), digest);
    let md = text
        .again()
        .fake(&fake)
        .args(["plan", "--format", "markdown"])
        .status(0)
        .run();
    assert!(md.stdout.starts_with("<!-- linq-cards:plan -->"));
    assert_eq!(digest_in(&md.stdout), digest);

    // A wrong digest is refused with nothing written; the one plan printed is applied.
    let wrong = md
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
    assert_eq!(fake.writes(), 0);
    wrong
        .again()
        .fake(&fake)
        .args(["apply", "--auto-approve", "--expect-digest", &digest])
        .status(0)
        .run();
    assert_eq!(fake.writes(), 2);
}

#[test]
fn schema_prints_the_committed_schema_file() {
    let out = Test::new().arg("schema").status(0).run();
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/linq-cards.schema.json"
    ))
    .expect("read the committed schema");
    let a: Value = serde_json::from_str(&out.stdout).expect("schema output is JSON");
    let b: Value = serde_json::from_str(&committed).expect("committed schema is JSON");
    assert_eq!(a, b);
    assert_eq!(out.stdout.trim_end(), committed.trim_end());
}
