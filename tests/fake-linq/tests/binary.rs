//! The `fake-linq` binary: prints its base URL, serves the snapshot it was given,
//! and honours its token and numbers.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_serves_a_snapshot() {
    let dir = tempfile_dir();
    let snapshot = dir.join("cards.json");
    std::fs::write(
        &snapshot,
        r#"{"contact_cards": [{"phone_number": "+12223334444", "first_name": "Acme", "is_active": true}]}"#,
    )
    .expect("write snapshot");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-linq"))
        .args([
            "--port",
            "0",
            "--token",
            "tok-123",
            "--number",
            "+12223335555",
        ])
        .arg("--cards")
        .arg(&snapshot)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn fake-linq");
    let stdout = child.stdout.take().expect("piped stdout");
    let _guard = Killed(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("base URL line");
    let base = line.trim().to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let http = reqwest::Client::new();
    let cards: serde_json::Value = http
        .get(format!("{base}/v3/contact_card"))
        .header("authorization", "Bearer tok-123")
        .send()
        .await
        .expect("answer")
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).expect("json"))
        .expect("body");
    assert_eq!(cards["contact_cards"][0]["first_name"], "Acme");
    let numbers: serde_json::Value = http
        .get(format!("{base}/v3/phone_numbers"))
        .header("authorization", "Bearer tok-123")
        .send()
        .await
        .expect("answer")
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).expect("json"))
        .expect("body");
    let listed: Vec<&str> = numbers["phone_numbers"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|n| n["phone_number"].as_str())
        .collect();
    assert_eq!(listed, ["+12223335555", "+12223334444"]);
    let denied = http
        .get(format!("{base}/v3/contact_card"))
        .header("authorization", "Bearer nope")
        .send()
        .await
        .expect("answer");
    assert_eq!(denied.status(), 401);
}

#[test]
fn help_works() {
    let out = Command::new(env!("CARGO_BIN_EXE_fake-linq"))
        .arg("--help")
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--port",
        "--token",
        "--number",
        "--cards",
        "--latency-ms",
        "--write-window-secs",
    ] {
        assert!(text.contains(flag), "{flag} in --help");
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fake-linq-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
