//! Soak (issue #8): cycles of random drift injected in the fake (names
//! changed in the "dashboard", cards removed or left inactive, unmanaged
//! fields and unmanaged numbers touched), each followed by plan and apply
//! through the library with the real client. After every cycle:
//! - exactly the cards whose managed fields drifted were written, once each
//!   (the expected set is computed here from the drift, not by the planner);
//! - a fresh plan is empty: no perpetual diff.
//!
//! `soak_cli_short` does the same through the binary (`apply --auto-approve`
//! then `plan --detailed-exitcode`, which must exit 0).
//!
//! CI runs 25 cycles (a few seconds). The full 200-cycle soak:
//! `cargo test --release --test soak -- --ignored` (seed with
//! `SOAK_SEED=N`; the seed is printed so a failure can be replayed).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use fake_linq::{Card, Config, FakeLinq};
use linq_cards::api::{Client, ClientOptions};
use linq_cards::apply::{self, Cancel, Job, Options, Outcome};
use linq_cards::config::{self, DesiredCard, DesiredState, LoadOptions};
use linq_cards::image::ImageVerdicts;
use linq_cards::live;
use linq_cards::plan::{self, PlanOptions};
use linq_cards::settings::{ApiUrl, Token};

const MANAGED: usize = 20;
const UNMANAGED: usize = 3;

fn number(i: usize) -> String {
    format!("+1415556{i:04}")
}

/// Every third card leaves `last_name` unmanaged.
fn file() -> String {
    let mut s = String::from("version: 1\ncards:\n");
    for i in 0..MANAGED {
        s.push_str(&format!(
            "  - phone_number: \"{}\"\n    first_name: \"Line {i}\"\n",
            number(i)
        ));
        if i % 3 != 0 {
            s.push_str(&format!("    last_name: \"Desk {i}\"\n"));
        }
    }
    s
}

fn client(fake: &FakeLinq) -> Client {
    let url = ApiUrl::parse(&fake.base_url(), "test").expect("loopback URL");
    Client::new(&url, Token::new(fake.token()), ClientOptions::default()).expect("client")
}

/// Whether the live card needs a write to match the desired one (SPEC "How
/// plan decides"), written out independently of `plan::diff`.
fn needs_write(desired: &DesiredCard, live: Option<&Card>) -> bool {
    match live {
        None => true,
        Some(l) if !l.is_active => true,
        Some(l) => {
            l.first_name != desired.first_name
                || desired
                    .last_name
                    .as_ref()
                    .is_some_and(|d| l.last_name.as_ref() != Some(d))
        }
    }
}

/// Inject one random drift; managed numbers drift more often.
fn drift(fake: &FakeLinq, rng: &mut fastrand::Rng, cycle: usize) {
    let i = rng.usize(0..MANAGED + UNMANAGED);
    let phone = number(i);
    let current = fake.card(&phone);
    let base = current
        .clone()
        .unwrap_or_else(|| Card::new(&phone, &format!("Line {i}")));
    match rng.u8(0..6) {
        0 => fake.set_card(Card {
            first_name: format!("Drifted {cycle}"),
            ..base
        }),
        1 => fake.set_card(Card {
            last_name: Some(format!("Someone {cycle}")),
            ..base
        }),
        2 => {
            fake.remove_card(&phone);
        }
        3 => fake.set_card(Card {
            is_active: false,
            ..base
        }),
        // Not a change at all: the same card written back by the dashboard.
        4 => {
            if let Some(c) = current {
                fake.set_card(c);
            }
        }
        _ => fake.set_card(Card {
            image_url: Some(format!("{}/cdn/unmanaged-{cycle}.jpg", fake.base_url())),
            ..base
        }),
    }
}

async fn soak(cycles: usize, seed: u64) {
    println!("soak: {cycles} cycles, SOAK_SEED={seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut config = Config::default();
    for i in 0..MANAGED + UNMANAGED {
        config = config.number(&number(i));
    }
    for i in MANAGED..MANAGED + UNMANAGED {
        config = config.card(Card::new(&number(i), "Unmanaged"));
    }
    let fake = FakeLinq::start(config).await;
    let text = file();
    let desired: DesiredState =
        config::load_str(Path::new("soak.yaml"), &text, LoadOptions::default())
            .expect("the soak file is valid");
    let by_number: BTreeMap<&str, &DesiredCard> = desired
        .cards
        .iter()
        .map(|c| (c.phone_number.as_str(), c))
        .collect();
    let client = client(&fake);
    let verdicts = ImageVerdicts::default();
    let opts = Options {
        concurrency: 8,
        max_wait: Duration::from_secs(5),
    };

    for cycle in 0..cycles {
        // Cycle 0 creates everything; later cycles drift a few cards.
        if cycle > 0 {
            for _ in 0..rng.usize(1..5) {
                drift(&fake, &mut rng, cycle);
            }
        }
        let expected: BTreeSet<String> = desired
            .cards
            .iter()
            .filter(|d| needs_write(d, fake.card(d.phone_number.as_str()).as_ref()))
            .map(|d| d.phone_number.as_str().to_string())
            .collect();
        // Ten minutes pass between cycles, as for a scheduled drift job.
        fake.reset_write_budget();
        fake.clear_log();

        let live = live::read(&client).await.expect("live state");
        let plan =
            plan::compute(&desired, &live, &verdicts, &PlanOptions::default()).expect("plan");
        let planned: BTreeSet<String> = plan
            .changes
            .iter()
            .map(|c| c.phone_number.clone())
            .collect();
        assert_eq!(
            planned, expected,
            "cycle {cycle} (seed {seed}): planned set"
        );
        let jobs: Vec<Job> = plan
            .changes
            .iter()
            .map(|c| Job::new(c.clone(), by_number[c.phone_number.as_str()]))
            .collect();
        let result = apply::run(
            &client,
            &verdicts,
            &jobs,
            plan.summary.unchanged,
            opts,
            &Cancel::never(),
            &(),
        )
        .await;
        assert!(
            result.converged && result.results.iter().all(|r| r.outcome == Outcome::Applied),
            "cycle {cycle} (seed {seed}): {result:?}"
        );
        let mut written: BTreeMap<String, usize> = BTreeMap::new();
        for r in fake.requests() {
            if r.method == "POST" || r.method == "PATCH" {
                *written.entry(r.phone.unwrap_or_default()).or_default() += 1;
            }
        }
        let want: BTreeMap<String, usize> = expected.iter().map(|n| (n.clone(), 1)).collect();
        assert_eq!(written, want, "cycle {cycle} (seed {seed}): writes");

        // No perpetual diff: the next plan is empty.
        let live = live::read(&client).await.expect("live state");
        let again =
            plan::compute(&desired, &live, &verdicts, &PlanOptions::default()).expect("plan");
        assert!(
            again.changes.is_empty(),
            "cycle {cycle} (seed {seed}): perpetual diff {:?}",
            again.changes
        );
    }
    assert!(fake.unexpected().is_empty(), "{:?}", fake.unexpected());
}

fn seed() -> u64 {
    std::env::var("SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_short() {
    soak(25, seed()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: run with `cargo test --release --test soak -- --ignored`"]
async fn soak_200_cycles() {
    soak(200, seed()).await;
}

/// The same cycle through the binary: drift, `apply --auto-approve`, then
/// `plan --detailed-exitcode` must say "no changes" (exit 0).
#[test]
fn soak_cli_short() {
    let seed = seed();
    println!("soak_cli_short: SOAK_SEED={seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut config = Config::default();
    for i in 0..MANAGED + UNMANAGED {
        config = config.number(&number(i));
    }
    let fake = FakeLinq::start_blocking(config);
    let text = file();
    let desired = config::load_str(Path::new("soak.yaml"), &text, LoadOptions::default())
        .expect("the soak file is valid");
    let mut out = common::Test::new()
        .yaml(&text)
        .fake(&fake)
        .args(["apply", "--auto-approve"])
        .status(0)
        .run();
    assert_eq!(
        fake.writes(),
        MANAGED,
        "first apply creates every card once"
    );
    for cycle in 1..=8 {
        for _ in 0..rng.usize(1..5) {
            drift(&fake, &mut rng, cycle);
        }
        let expected: BTreeMap<String, usize> = desired
            .cards
            .iter()
            .filter(|d| needs_write(d, fake.card(d.phone_number.as_str()).as_ref()))
            .map(|d| (d.phone_number.as_str().to_string(), 1))
            .collect();
        fake.reset_write_budget();
        fake.clear_log();
        out = out
            .again()
            .fake(&fake)
            .args(["apply", "--auto-approve", "--format", "json"])
            .status(0)
            .run();
        let mut written: BTreeMap<String, usize> = BTreeMap::new();
        for r in fake.requests() {
            if r.method == "POST" || r.method == "PATCH" {
                *written.entry(r.phone.unwrap_or_default()).or_default() += 1;
            }
        }
        assert_eq!(written, expected, "cycle {cycle} (seed {seed}): writes");
        assert_eq!(
            out.json()["converged"],
            true,
            "cycle {cycle}: {}",
            out.stdout()
        );
        out = out
            .again()
            .fake(&fake)
            .args(["plan", "--detailed-exitcode"])
            .status(0)
            .run();
    }
    assert!(fake.unexpected().is_empty(), "{:?}", fake.unexpected());
}
