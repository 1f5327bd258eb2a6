//! Images end to end (issue 6): source pictures on a loopback image host, an
//! "apply" done through the library client so that the fake rehosts them on
//! its CDN (download, downscale, JPEG), then `plan` through the binary.
//!
//! THE property: plan right after apply shows no changes. Around it: a new
//! URL for the same picture, a new or recoloured picture, unfetchable sources
//! (warning, `--strict`), the disk cache (`304`, fresh entries, corrupt
//! entries, `--no-cache`) and `--replace-image`. Also the benchmark
//! (`#[ignore]`d; see BENCHMARKS.md).

mod common;

use std::io::Cursor;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Output, Test};
use fake_linq::image_host::{ImageHost, Resource};
use fake_linq::{Config, FakeLinq};
use futures_util::StreamExt;
use image::{DynamicImage, ImageFormat, Rgba, RgbaImage};
use linq_cards::api::{Client, ClientOptions, CreateCard};
use linq_cards::settings::{ApiUrl, Token};
use serde_json::json;

const N1: &str = "+12223334444";
const N2: &str = "+12223335555";
const N3: &str = "+12223336666";
const N4: &str = "+12223337777";

// ---------------------------------------------------------------- pictures

const WHITE: [u8; 4] = [255, 255, 255, 255];
const BLUE: [u8; 4] = [20, 60, 200, 255];
const ORANGE: [u8; 4] = [240, 140, 20, 255];
const RED: [u8; 4] = [200, 30, 40, 255];

/// A logo: a disc and a bar in `fg`, on white, `side` pixels square.
fn logo(side: u32, fg: [u8; 4]) -> RgbaImage {
    RgbaImage::from_fn(side, side, |x, y| {
        let (u, v) = (
            (x as f32 + 0.5) / side as f32,
            (y as f32 + 0.5) / side as f32,
        );
        let disc = (u - 0.35).powi(2) + (v - 0.4).powi(2) < 0.06;
        let bar = (0.15..0.85).contains(&u) && (0.75..0.88).contains(&v);
        Rgba(if disc || bar { fg } else { WHITE })
    })
}

/// Another picture altogether: diagonal stripes.
fn stripes(side: u32) -> RgbaImage {
    RgbaImage::from_fn(side, side, |x, y| {
        Rgba(if ((x + y) / (side / 8).max(1)) % 2 == 0 {
            RED
        } else {
            WHITE
        })
    })
}

fn encode(img: &RgbaImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    let img = DynamicImage::ImageRgba8(img.clone());
    // JPEG has no alpha.
    let img = if format == ImageFormat::Jpeg {
        DynamicImage::ImageRgb8(img.to_rgb8())
    } else {
        img
    };
    img.write_to(&mut Cursor::new(&mut out), format)
        .expect("encode the test picture");
    out
}

fn png(img: &RgbaImage) -> Resource {
    Resource::new(encode(img, ImageFormat::Png), "image/png")
}

// ------------------------------------------------------------------ set-up

/// A fake with these numbers on the account and an image host with the
/// standard pictures: `/logo.png` (600 px, so the fake's 256 px CDN copy
/// is a downscaled JPEG), the same logo as a 300 px JPEG at
/// `/logo-copy.jpg`, a recoloured one and a different picture.
struct World {
    fake: FakeLinq,
    host: ImageHost,
}

impl World {
    fn new(numbers: &[&str]) -> World {
        let fake = FakeLinq::start_blocking(Config::default().numbers(numbers.iter().copied()));
        let host = ImageHost::start_in_thread().expect("start the image host");
        host.serve("/logo.png", png(&logo(600, BLUE)));
        host.serve(
            "/logo-copy.jpg",
            Resource::new(encode(&logo(300, BLUE), ImageFormat::Jpeg), "image/jpeg"),
        );
        host.serve("/recoloured.png", png(&logo(600, ORANGE)));
        host.serve("/stripes.png", png(&stripes(400)));
        World { fake, host }
    }

    fn url(&self, path: &str) -> String {
        self.host.url(path)
    }

    /// What `apply` would do for a file of creates: POST each card through
    /// the library client, so the fake downloads and rehosts each picture.
    fn apply(&self, cards: &[CreateCard]) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let client = Client::new(
            &ApiUrl::parse(&self.fake.base_url(), "test").expect("api url"),
            Token::new(self.fake.token()),
            ClientOptions::default(),
        )
        .expect("client");
        rt.block_on(async {
            let results: Vec<_> = futures_util::stream::iter(cards)
                .map(|c| client.create_card(c))
                .buffer_unordered(16)
                .collect()
                .await;
            for r in results {
                let card = r.expect("the fake accepts the create");
                assert!(card.is_active);
            }
        });
        assert!(
            self.fake.unexpected().is_empty(),
            "{:?}",
            self.fake.unexpected()
        );
        // What the plan does next is counted from zero.
        self.fake.clear_log();
        self.host.reset_hits();
    }

    /// GETs of the fake's CDN copies since the last `clear_log`.
    fn cdn_gets(&self) -> usize {
        self.fake
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.starts_with("/cdn/"))
            .count()
    }
}

fn create(n: &str, first: &str, last: Option<&str>, image: Option<&str>) -> CreateCard {
    CreateCard {
        phone_number: n.into(),
        first_name: first.into(),
        last_name: last.map(str::to_string),
        image_url: image.map(str::to_string),
    }
}

/// The desired-state file holding exactly these cards.
fn yaml(cards: &[CreateCard]) -> String {
    let mut y = String::from("cards:\n");
    for c in cards {
        y.push_str(&format!(
            "  - phone_number: \"{}\"\n    first_name: \"{}\"\n",
            c.phone_number, c.first_name
        ));
        if let Some(l) = &c.last_name {
            y.push_str(&format!("    last_name: \"{l}\"\n"));
        }
        if let Some(i) = &c.image_url {
            y.push_str(&format!("    image_url: \"{i}\"\n"));
        }
    }
    y
}

fn plan_json(t: Test, w: &World, extra: &[&str], status: i32) -> (Output, serde_json::Value) {
    let out = t
        .fake(&w.fake)
        .args(["plan", "--format", "json", "--detailed-exitcode"])
        .args(extra)
        .status(status)
        .run();
    let v = out.json();
    (out, v)
}

/// The image cache directory of a run whose `HOME` is the test directory.
fn cache_dir(out: &Output) -> PathBuf {
    out.dir.path().join(".cache/linq-cards/images")
}

// ------------------------------------------------------------------- tests

#[test]
fn plan_right_after_apply_shows_no_changes() {
    let w = World::new(&[N1, N2, N3, N4]);
    let cards = [
        create(N1, "Acme", Some("Support"), Some(&w.url("/logo.png"))),
        create(N2, "Acme", None, Some(&w.url("/logo.png"))),
        create(N3, "Acme", Some("Billing"), None),
        create(N4, "Stripes", None, Some(&w.url("/stripes.png"))),
    ];
    w.apply(&cards);
    // Linq's answer holds CDN URLs, never the sources.
    for c in w.fake.cards() {
        if let Some(u) = &c.image_url {
            assert!(u.contains("/cdn/"), "{u}");
        }
    }
    let (_, v) = plan_json(Test::new().yaml(&yaml(&cards)), &w, &[], 0);
    assert_eq!(
        v["summary"],
        json!({"create": 0, "update": 0, "unchanged": 4, "unmanaged": 0})
    );
    assert_eq!(v["warnings"], json!([]));
    // Each distinct URL at most once: one source shared by two cards.
    assert_eq!(w.host.hits("/logo.png").bodies, 1);
    assert_eq!(w.host.hits("/stripes.png").bodies, 1);
    assert_eq!(w.cdn_gets(), 3);
    assert_eq!(w.fake.writes(), 0);
}

#[test]
fn same_picture_new_picture_and_recoloured_logo() {
    let w = World::new(&[N1, N2, N3]);
    let applied = [
        create(N1, "Acme", None, Some(&w.url("/logo.png"))),
        create(N2, "Acme", None, Some(&w.url("/logo.png"))),
        create(N3, "Acme", None, Some(&w.url("/logo.png"))),
    ];
    w.apply(&applied);
    let before: Vec<_> = w.fake.cards();
    let desired = [
        // Another URL, another format and size, the same picture.
        create(N1, "Acme", None, Some(&w.url("/logo-copy.jpg"))),
        create(N2, "Acme", None, Some(&w.url("/stripes.png"))),
        create(N3, "Acme", None, Some(&w.url("/recoloured.png"))),
    ];
    let (out, v) = plan_json(Test::new().yaml(&yaml(&desired)), &w, &[], 2);
    assert_eq!(
        v["summary"],
        json!({"create": 0, "update": 2, "unchanged": 1, "unmanaged": 0})
    );
    assert_eq!(v["unchanged"], json!([N1]));
    let changes = v["changes"].as_array().expect("changes");
    for (change, (n, path)) in changes
        .iter()
        .zip([(N2, "/stripes.png"), (N3, "/recoloured.png")])
    {
        assert_eq!(change["phone_number"], n);
        assert_eq!(change["action"], "update");
        assert_eq!(change["fields"], json!(["image_url"]));
        assert_eq!(change["after"], json!({"image_url": w.url(path)}));
        assert!(change["notes"].to_string().contains("different picture"));
    }
    assert_eq!(v["warnings"], json!([]));
    // The text plan names the reason for a person.
    out.again()
        .fake(&w.fake)
        .args(["plan", "--color", "never"])
        .status(0)
        .run()
        .stdout_contains("different picture");
    assert_eq!(w.fake.cards(), before, "plan writes nothing");
}

#[test]
fn unfetchable_source_on_a_create_is_a_warning() {
    let w = World::new(&[N1]);
    let missing = w.url("/missing.png");
    let desired = [create(N1, "Acme", None, Some(&missing))];
    let (out, v) = plan_json(Test::new().yaml(&yaml(&desired)), &w, &[], 2);
    assert_eq!(v["changes"][0]["action"], "create");
    assert_eq!(v["changes"][0]["after"]["image_url"], missing.as_str());
    let warnings = v["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["phone_number"], N1);
    let msg = warnings[0]["message"].as_str().expect("message");
    assert!(msg.contains(&missing) && msg.contains("404"), "{msg}");
    assert!(msg.contains("rehost"), "{msg}");
    // Shown on stderr too when stdout is JSON.
    out.stderr_contains("404");
    // --strict: an error, no plan.
    let out = out
        .again()
        .fake(&w.fake)
        .args(["plan", "--strict", "--detailed-exitcode"])
        .status(1)
        .run();
    out.stderr_contains("--strict").stderr_contains(N1);
    assert_eq!(out.stdout(), "");
}

#[test]
fn unfetchable_source_on_an_existing_card_changes_no_image() {
    let w = World::new(&[N1, N2]);
    w.apply(&[
        create(N1, "Acme", None, Some(&w.url("/logo.png"))),
        create(N2, "Acme", None, Some(&w.url("/logo.png"))),
    ]);
    let gone = w.url("/gone.png");
    // N2 also changes its name: only that goes out, not the unverifiable image.
    let desired = [
        create(N1, "Acme", None, Some(&gone)),
        create(N2, "Acme Two", None, Some(&gone)),
    ];
    let (out, v) = plan_json(Test::new().yaml(&yaml(&desired)), &w, &[], 2);
    assert_eq!(v["unchanged"], json!([N1]));
    assert_eq!(v["changes"][0]["phone_number"], N2);
    assert_eq!(v["changes"][0]["fields"], json!(["first_name"]));
    assert_eq!(v["changes"][0]["after"], json!({"first_name": "Acme Two"}));
    let warnings = v["warnings"].to_string();
    for n in [N1, N2] {
        assert!(warnings.contains(n), "{warnings}");
    }
    assert!(warnings.contains("could not be verified"), "{warnings}");
    assert!(warnings.contains("--replace-image"), "{warnings}");
    // With N1 alone: no change at all, so --detailed-exitcode says 0.
    let out = out
        .again()
        .fake(&w.fake)
        .args(["plan", "--target", N1, "--detailed-exitcode"])
        .status(0)
        .run();
    out.stdout_contains("could not be verified");
    let out = out
        .again()
        .fake(&w.fake)
        .args(["plan", "--target", N1, "--strict"])
        .status(1)
        .run();
    out.stderr_contains("--strict").stderr_contains("404");
}

#[test]
fn disk_cache_304_fresh_entries_corrupt_entries_and_no_cache() {
    let w = World::new(&[N1, N2]);
    w.host
        .serve("/etag.png", png(&logo(600, BLUE)).etag("\"logo-v1\""));
    w.host.serve(
        "/fresh.png",
        png(&stripes(400)).cache_control("public, max-age=3600"),
    );
    let cards = [
        create(N1, "Acme", None, Some(&w.url("/etag.png"))),
        create(N2, "Acme", None, Some(&w.url("/fresh.png"))),
    ];
    w.apply(&cards);
    let summary = json!({"create": 0, "update": 0, "unchanged": 2, "unmanaged": 0});

    // First run: everything downloaded once, and cached.
    let (out, v) = plan_json(Test::new().yaml(&yaml(&cards)), &w, &[], 0);
    assert_eq!(v["summary"], summary);
    assert_eq!(w.host.total().bodies, 2);
    assert_eq!(w.cdn_gets(), 2);
    let entries = std::fs::read_dir(cache_dir(&out))
        .expect("the cache directory exists")
        .count();
    assert_eq!(entries, 4, "one entry per URL");

    // Second run: no image body at all. The ETag source is revalidated
    // (304), the max-age source and the immutable CDN copies are not asked.
    w.fake.clear_log();
    w.host.reset_hits();
    let (out, v) = plan_json(out.again(), &w, &[], 0);
    assert_eq!(v["summary"], summary);
    assert_eq!(w.host.total().bodies, 0);
    let etag = w.host.hits("/etag.png");
    assert_eq!(
        (etag.requests, etag.conditional, etag.not_modified),
        (1, 1, 1)
    );
    assert_eq!(w.host.hits("/fresh.png").requests, 0);
    assert_eq!(w.cdn_gets(), 0);

    // A corrupt entry is ignored (and rewritten): same plan, fetched again.
    for entry in std::fs::read_dir(cache_dir(&out)).expect("cache dir") {
        let path = entry.expect("entry").path();
        std::fs::write(&path, b"{\"format\": 1, \"cells\": \"\xff not json").expect("corrupt");
    }
    w.fake.clear_log();
    w.host.reset_hits();
    let (out, v) = plan_json(out.again(), &w, &[], 0);
    assert_eq!(v["summary"], summary);
    assert_eq!(v["warnings"], json!([]));
    assert_eq!(w.host.total().bodies, 2);
    assert_eq!(w.cdn_gets(), 2);

    // --no-cache: a warm cache is not used...
    w.fake.clear_log();
    w.host.reset_hits();
    let (out, _) = plan_json(out.again(), &w, &["--no-cache"], 0);
    assert_eq!(w.host.total().bodies, 2);
    assert_eq!(w.host.hits("/etag.png").conditional, 0);
    assert_eq!(w.cdn_gets(), 2);
    drop(out);
    // ...and none is written.
    let (out, v) = plan_json(Test::new().yaml(&yaml(&cards)), &w, &["--no-cache"], 0);
    assert_eq!(v["summary"], summary);
    assert!(!cache_dir(&out).exists());
}

#[test]
fn replace_image_forces_an_image_update() {
    let w = World::new(&[N1, N2]);
    let cards = [
        create(N1, "Acme", None, Some(&w.url("/logo.png"))),
        create(N2, "Acme", None, None),
    ];
    w.apply(&cards);
    let (out, v) = plan_json(
        Test::new().yaml(&yaml(&cards)),
        &w,
        &["--replace-image", N1],
        2,
    );
    assert_eq!(v["changes"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["changes"][0]["phone_number"], N1);
    assert_eq!(v["changes"][0]["fields"], json!(["image_url"]));
    assert_eq!(
        v["changes"][0]["after"],
        json!({"image_url": w.url("/logo.png")})
    );
    assert!(v["changes"][0]["notes"]
        .to_string()
        .contains("--replace-image"));
    // A number whose image the file does not manage cannot be replaced.
    out.again()
        .fake(&w.fake)
        .args(["plan", "--replace-image", N2])
        .status(1)
        .run()
        .stderr_contains(N2);
}

/// Issue 6's benchmark: 1,000 cards sharing one source image, each with its
/// own CDN copy, the fake answering API calls after 10 ms. Run with
/// `cargo test --test cli_images -- --ignored --nocapture bench`.
#[test]
#[ignore = "benchmark: prints wall times for BENCHMARKS.md"]
fn bench_images_1000_cards_one_source() {
    let numbers: Vec<String> = (0..1000u32).map(|i| format!("+1555{i:07}")).collect();
    let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
    let w = World::new(&refs);
    w.host
        .serve("/shared.png", png(&logo(600, BLUE)).etag("\"shared-v1\""));
    let src = w.url("/shared.png");
    let cards: Vec<CreateCard> = numbers
        .iter()
        .map(|n| create(n, "Acme", Some("Support"), Some(&src)))
        .collect();
    let t = Instant::now();
    w.apply(&cards);
    eprintln!("setup: 1,000 creates rehosted in {:?}", t.elapsed());
    assert_eq!(w.fake.cdn_len(), 1000);
    w.fake.set_latency(Duration::from_millis(10));
    w.host.serve(
        "/shared.png",
        png(&logo(600, BLUE))
            .etag("\"shared-v1\"")
            .delay(Duration::from_millis(10)),
    );

    let start = Instant::now();
    let (out, v) = plan_json(
        Test::new()
            .yaml(&yaml(&cards))
            .timeout(Duration::from_secs(600)),
        &w,
        &[],
        0,
    );
    let cold = start.elapsed();
    assert_eq!(v["summary"]["unchanged"], 1000);
    let fetched = w.host.total().bodies as usize + w.cdn_gets();
    assert_eq!(fetched, 1001, "one source and 1,000 CDN copies");

    w.fake.clear_log();
    w.host.reset_hits();
    let start = Instant::now();
    let (_, v) = plan_json(out.again().timeout(Duration::from_secs(600)), &w, &[], 0);
    let warm = start.elapsed();
    assert_eq!(v["summary"]["unchanged"], 1000);
    assert_eq!(w.host.total().bodies, 0);
    assert_eq!(w.cdn_gets(), 0);
    eprintln!(
        "BENCH plan, 1,000 cards, one source, 10 ms API latency: cold {:.0} ms ({fetched} image bodies), warm {:.0} ms (0 bodies, {} revalidation)",
        cold.as_secs_f64() * 1000.0,
        warm.as_secs_f64() * 1000.0,
        w.host.total().not_modified
    );
}

/// The invariant through the real `apply` command, pictures included: apply
/// creates and an image update, then `plan` shows no changes and a second
/// `apply` makes zero write calls (SPEC "Images": the point of all this).
#[test]
fn second_apply_with_images_makes_zero_writes() {
    let w = World::new(&[N1, N2, N3]);
    // N3 already has a card with another picture: an image update.
    w.apply(&[create(N3, "Acme", None, Some(&w.url("/stripes.png")))]);
    let cards = [
        create(N1, "Acme", Some("Support"), Some(&w.url("/logo.png"))),
        create(N2, "Acme", None, Some(&w.url("/logo-copy.jpg"))),
        create(N3, "Acme", None, Some(&w.url("/logo.png"))),
    ];
    let out = Test::new()
        .yaml(&yaml(&cards))
        .fake(&w.fake)
        .args(["apply", "--auto-approve", "--format", "json"])
        .status(0)
        .run();
    let v = out.json();
    assert_eq!(v["converged"], true, "{v}");
    assert_eq!(v["summary"]["applied"], 3, "{v}");
    assert_eq!(w.fake.writes(), 3, "one write per planned card");
    // The update carried only the picture.
    let patch = w
        .fake
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .expect("one PATCH");
    assert_eq!(patch.body, Some(json!({"image_url": w.url("/logo.png")})));

    w.fake.clear_log();
    let out = out
        .again()
        .fake(&w.fake)
        .args(["plan", "--format", "json", "--detailed-exitcode"])
        .status(0)
        .run();
    assert_eq!(
        out.json()["summary"],
        json!({"create": 0, "update": 0, "unchanged": 3, "unmanaged": 0})
    );
    let out = out
        .again()
        .fake(&w.fake)
        .args(["apply", "--auto-approve"])
        .status(0)
        .run();
    assert!(
        out.stdout.contains("No changes") || out.stdout.contains("no changes"),
        "{}",
        out.stdout
    );
    assert_eq!(
        w.fake.writes(),
        0,
        "the second apply wrote: {:?}",
        w.fake.requests()
    );
    assert!(w.fake.unexpected().is_empty(), "{:?}", w.fake.unexpected());
}
