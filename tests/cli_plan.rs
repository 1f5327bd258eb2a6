//! `plan` and `export` through the real binary. Tests that need the
//! desired-state loader (or, later, the fake server) are `#[ignore]`d until
//! those land; run them with `cargo test --test cli_plan -- --include-ignored`.

use std::path::PathBuf;
use std::process::{Command, Output};

struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new() -> Run {
        Run {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    /// The binary, in the temp dir, with no token and no profile reachable:
    /// a snapshot plan must need neither.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_linq-cards"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("LINQ_API_KEY")
            .env_remove("LINQ_API_V3_API_KEY")
            .env_remove("LINQ_API_V3_BASE_URL")
            .env_remove("RUST_LOG")
            .env("HOME", self.dir.path())
            .env("NO_COLOR", "1")
            // Nothing listens here: a test that reached the network would fail.
            .env("LINQ_API_URL", "http://127.0.0.1:9")
            .output()
            .expect("run linq-cards")
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const FILE: &str = r#"
cards:
  - phone_number: "+12223334444"
    first_name: Acme
    last_name: Support
  - phone_number: "+12223335555"
    first_name: Acme Billing
  - phone_number: "+12223336666"
    first_name: Same
    image_url: https://cdn.linqapp.com/contact-card/6666.png
"#;

const SNAPSHOT: &str = r#"{"contact_cards": [
  {"phone_number": "+12223335555", "first_name": "Acme", "last_name": "Billing", "is_active": true},
  {"phone_number": "+12223336666", "first_name": "Same", "is_active": true,
   "image_url": "https://cdn.linqapp.com/contact-card/6666.png"},
  {"phone_number": "+12223337777", "first_name": "Other", "is_active": true}
]}"#;

fn setup() -> Run {
    let r = Run::new();
    r.file("linq-cards.yaml", FILE);
    r.file("snap.json", SNAPSHOT);
    r
}

#[test]
fn missing_file_is_an_error_naming_it() {
    let r = Run::new();
    r.file("snap.json", SNAPSHOT);
    for extra in [&[][..], &["--detailed-exitcode"][..]] {
        let mut args = vec!["plan", "nope.yaml", "--live-snapshot", "snap.json"];
        args.extend_from_slice(extra);
        let o = r.run(&args);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(stderr(&o).contains("nope.yaml"), "{}", stderr(&o));
    }
}

#[test]
fn usage_errors_exit_1_not_2() {
    let o = Run::new().run(&["plan", "--detailed-exitcode", "--format", "yaml"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

#[test]
fn json_plan_from_a_snapshot() {
    let r = setup();
    let o = r.run(&[
        "plan",
        "--live-snapshot",
        "snap.json",
        "--format",
        "json",
        "--detailed-exitcode",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        v["summary"],
        serde_json::json!({"create": 1, "update": 1, "unchanged": 1, "unmanaged": 1})
    );
    assert_eq!(v["changes"][0]["phone_number"], "+12223334444");
    assert_eq!(v["changes"][0]["reason"], "missing");
    assert_eq!(
        v["changes"][1]["after"],
        serde_json::json!({"first_name": "Acme Billing"})
    );
    assert_eq!(v["unmanaged"], serde_json::json!(["+12223337777"]));
    // The account's numbers are unknown with a snapshot: said, not hidden.
    let warnings = v["warnings"].to_string();
    assert!(warnings.contains("snapshot"), "{warnings}");
}

#[test]
fn no_changes_exits_0_with_detailed_exitcode() {
    let r = setup();
    let o = r.run(&[
        "plan",
        "--live-snapshot",
        "snap.json",
        "--target",
        "+12223336666",
        "--detailed-exitcode",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("No changes."), "{}", stdout(&o));
}

#[test]
fn unknown_target_is_an_error() {
    let r = setup();
    let o = r.run(&[
        "plan",
        "--live-snapshot",
        "snap.json",
        "--target",
        "+12223337777",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not in the desired-state file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn every_format_carries_the_digest_and_out_saves_the_same_plan() {
    let r = setup();
    let base = ["plan", "--live-snapshot", "snap.json"];
    let json = r.run(&[&base[..], &["--format", "json", "--out", "plan.json"]].concat());
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let digest = v["plan_digest"].as_str().expect("digest").to_string();
    assert_eq!(digest.len(), 64);
    let saved = linq_cards::plan::file::load(&r.dir.path().join("plan.json")).expect("saved plan");
    assert_eq!(saved.plan_digest, digest);
    assert_eq!(saved.api_url.as_deref(), Some("http://127.0.0.1:9"));
    assert!(saved
        .changes
        .iter()
        .all(|c| c.phone_number != "+12223336666"));

    let text = r.run(&base);
    assert!(stdout(&text).contains(&digest));
    assert!(stdout(&text).starts_with("Plan: 1 to create, 1 to update, 1 unchanged, 1 unmanaged"));
    let md = r.run(&[&base[..], &["--format", "markdown"]].concat());
    assert!(stdout(&md).starts_with("<!-- linq-cards:plan -->"));
    assert!(stdout(&md).contains(&digest));
}

#[test]
fn bad_snapshot_names_the_file() {
    let r = setup();
    r.file("bad.json", "{\"cards\": []}");
    let o = r.run(&["plan", "--live-snapshot", "bad.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bad.json"), "{}", stderr(&o));
    assert!(stderr(&o).contains("contact_cards"), "{}", stderr(&o));
}
