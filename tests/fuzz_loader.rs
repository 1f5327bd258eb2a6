//! Fuzzing the desired-state loader with proptest (issue #8): arbitrary text,
//! YAML-shaped noise, and mutations of a valid file must never panic or hang;
//! every refusal names the file and says something; pathological inputs
//! (alias bombs, deep nesting, long scalars) are refused fast and with bounded
//! memory.
//!
//! CI runs the default case count (`PROPTEST_CASES`, default 256 per property;
//! each case is microseconds). The long version:
//! `PROPTEST_CASES=100000 cargo test --release --test fuzz_loader`.

use std::path::Path;
use std::time::{Duration, Instant};

use linq_cards::config::{self, LoadOptions};
use proptest::prelude::*;

const VALID: &str = r#"# yaml-language-server: $schema=../schema/linq-cards.schema.json
version: 1
defaults:
  last_name: Support
  image_url: https://cdn.example.com/acme-logo.png
cards:
  - phone_number: "+12223334444"
    first_name: Acme
  - phone_number: +12223335555     # unquoted works the same
    first_name: Acme
    last_name: Billing
"#;

/// Generous: a single load of a small input takes microseconds; this only
/// catches a hang or a blow-up, on a loaded CI machine.
const SLOW: Duration = Duration::from_secs(2);

/// Load `text`; panics (failing the case) if the loader does, takes too long,
/// or refuses without saying why.
fn load_checked(text: &str) {
    let path = Path::new("fuzz.yaml");
    let start = Instant::now();
    let result = config::load_str(path, text, LoadOptions::default());
    let took = start.elapsed();
    assert!(took < SLOW, "load took {took:?} for {} bytes", text.len());
    match result {
        Ok(state) => {
            // Accepted files hold what the rules promise.
            let mut seen = std::collections::BTreeSet::new();
            for card in &state.cards {
                assert!(
                    seen.insert(card.phone_number.as_str().to_string()),
                    "duplicate accepted"
                );
                assert!(!card.first_name.is_empty(), "empty first_name accepted");
                assert!(
                    card.last_name.as_deref() != Some(""),
                    "empty last_name accepted"
                );
            }
        }
        Err(diags) => {
            assert!(!diags.is_empty(), "refused without a diagnostic");
            for d in &diags {
                assert_eq!(d.file, path, "diagnostic names another file");
                assert!(!d.message.trim().is_empty(), "empty diagnostic message");
            }
        }
    }
}

/// Characters that matter to YAML, plus some that never should.
fn yamlish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::sample::select(vec![
                "\n", " ", "  ", "- ", ": ", "cards", "phone_number", "first_name",
                "last_name", "image_url", "defaults", "version", "&a", "*a", "<<", "!!str",
                "!!int", "[", "]", "{", "}", ",", "\"", "'", "#", "|", ">", "---", "...",
                "+12223334444", "1", "0x1F", "~", "null", "true", "https://x.example/a.png",
                "\t", "%YAML 1.2", "? ", "\u{feff}", "é", "\\", "\r\n",
            ]).prop_map(str::to_string),
            1 => any::<char>().prop_map(|c| c.to_string()),
        ],
        0..80,
    )
    .prop_map(|parts| parts.concat())
}

/// A valid file with a few byte-level edits.
fn mutated_valid() -> impl Strategy<Value = String> {
    proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<char>()), 1..6).prop_map(
        |edits| {
            let mut chars: Vec<char> = VALID.chars().collect();
            for (at, op, c) in edits {
                if chars.is_empty() {
                    chars.push(c);
                    continue;
                }
                let i = at.index(chars.len());
                match op {
                    0 => chars[i] = c,
                    1 => chars.insert(i, c),
                    _ => {
                        chars.remove(i);
                    }
                }
            }
            chars.into_iter().collect()
        },
    )
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        load_checked(&text);
    }

    #[test]
    fn yaml_shaped_noise_never_panics(text in yamlish()) {
        load_checked(&text);
    }

    #[test]
    fn mutations_of_a_valid_file_never_panic(text in mutated_valid()) {
        load_checked(&text);
    }

    /// Random well-formed files: whatever the values, the loader either takes
    /// them or says why; an accepted number is always E.164.
    #[test]
    fn random_card_values(cards in proptest::collection::vec(
        ("[+0-9() .-]{0,18}", "[A-Za-z ]{0,6}", proptest::option::of("[a-z:/.]{0,30}")), 0..8)) {
        let mut text = String::from("cards:\n");
        for (phone, first, image) in &cards {
            text.push_str(&format!("  - phone_number: {phone:?}\n    first_name: {first:?}\n"));
            if let Some(image) = image {
                text.push_str(&format!("    image_url: {image:?}\n"));
            }
        }
        load_checked(&text);
        if let Ok(state) = config::load_str(Path::new("f.yaml"), &text, LoadOptions::default()) {
            for c in state.cards {
                let n = c.phone_number.as_str();
                prop_assert!(n.starts_with('+') && n[1..].bytes().all(|b| b.is_ascii_digit()), "{n}");
                prop_assert!((8..=16).contains(&n.len()), "{n}");
            }
        }
    }
}

/// Peak resident memory of this process, in KiB (Linux `VmHWM`).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Inputs built to exhaust a naive loader: each is refused (or taken) fast,
/// and the whole batch leaves the process's peak memory within 100 MB of
/// where it started (other tests of this binary run alongside, so the bound
/// is loose on purpose; a billion-laughs expansion would need gigabytes).
#[test]
fn pathological_inputs_are_fast_and_bounded() {
    let before = peak_rss_kib();
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    bomb.push_str("cards: *a11\n");
    let deep_seq = format!("cards: {}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_map = format!("cards: {}1{}", "{a: ".repeat(50_000), "}".repeat(50_000));
    let deep_block: String = (0..5_000)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    let long_scalar = format!(
        "cards:\n  - phone_number: \"+12223334444\"\n    first_name: \"{}\"\n",
        "x".repeat(8 << 20)
    );
    let many_keys: String = (0..20_000).map(|i| format!("k{i}: v\n")).collect();
    let merge_bomb =
        "a: &a {x: 1}\nb: &b {<<: [*a, *a, *a, *a]}\nc: {<<: [*b, *b, *b, *b]}\ncards: []\n";
    let over_cap = "#".repeat(config::load::MAX_INPUT_BYTES + 1);
    for (name, text) in [
        ("alias bomb", bomb.as_str()),
        ("deep flow sequence", deep_seq.as_str()),
        ("deep flow mapping", deep_map.as_str()),
        ("deep block mapping", deep_block.as_str()),
        ("8 MiB scalar", long_scalar.as_str()),
        ("20k unknown keys", many_keys.as_str()),
        ("merge keys", merge_bomb),
        ("over the size cap", over_cap.as_str()),
    ] {
        let start = Instant::now();
        let result = config::load_str(Path::new("bomb.yaml"), text, LoadOptions::default());
        let took = start.elapsed();
        eprintln!("{name}: {took:?}");
        assert!(took < Duration::from_secs(5), "{name}: took {took:?}");
        if name != "8 MiB scalar" {
            assert!(result.is_err(), "{name}: accepted");
        }
    }
    if let (Some(before), Some(after)) = (before, peak_rss_kib()) {
        // The inputs themselves (about 30 MiB) are part of the growth.
        assert!(
            after.saturating_sub(before) < 100 * 1024,
            "peak memory grew by {} KiB",
            after - before
        );
    }
}
