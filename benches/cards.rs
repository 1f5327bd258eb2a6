//! `cargo bench --bench cards`: the end-to-end benchmark of issue #8. For each
//! card count it starts the fake Linq server (with a fixed answer latency) and
//! an image host in this process, then runs the built `linq-cards` binary
//! (release profile) through the life of an account:
//!
//! 1. `validate` of the file;
//! 2. `plan` on an empty account;
//! 3. `apply --auto-approve --concurrency 16` of the N creates;
//! 4. `plan` again (zero changes; images fetched, cache cold);
//! 5. `plan` again (zero changes; image cache warm);
//! 6. `plan` of the file with 10% of the names changed.
//!
//! For each step: wall time, exit status, API requests by method and path,
//! image fetches (image host + fake CDN), and the child's peak RSS (from
//! `wait4` through GNU `/usr/bin/time -f %M`; `n/a` without it). Output is a
//! Markdown table for BENCHMARKS.md.
//!
//! Knobs (environment): `BENCH_CARDS` (comma list, default `1000,10000`),
//! `BENCH_LATENCY_MS` (default 20), `BENCH_IMAGE_EVERY` (one card in this many
//! carries the shared logo, default 10; 0 for none).

#[path = "../examples/gen_cards.rs"]
mod gen_cards;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fake_linq::image_host::{ImageHost, Resource};
use fake_linq::{Config, FakeLinq};

const CONCURRENCY: usize = 16;

struct Step {
    name: &'static str,
    wall: Duration,
    code: i32,
    requests: BTreeMap<String, usize>,
    image_fetches: u64,
    peak_kib: Option<u64>,
    note: String,
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn logo_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(128, 128, |x, y| {
        if (x / 16 + y / 16) % 2 == 0 {
            image::Rgb([200, 40, 40])
        } else {
            image::Rgb([250, 250, 250])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode the logo");
    out.into_inner()
}

/// Run the binary under GNU time; returns (exit code, peak KiB, stdout, stderr).
fn run(
    bin: &str,
    home: &Path,
    fake: &FakeLinq,
    args: &[&str],
) -> (i32, Option<u64>, String, String) {
    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.args(["-f", "peak-kib:%M"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    let out = cmd
        .args(args)
        .current_dir(home)
        .env("HOME", home)
        .env_remove("XDG_CACHE_HOME")
        .env_remove("RUST_LOG")
        .env("LINQ_API_URL", fake.base_url())
        .env("LINQ_API_KEY", fake.token())
        .stdin(Stdio::null())
        .output()
        .expect("run linq-cards");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let peak = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("peak-kib:"))
        .and_then(|v| v.trim().parse().ok());
    (
        out.status.code().unwrap_or(-1),
        peak,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

fn step(
    name: &'static str,
    bin: &str,
    home: &Path,
    fake: &FakeLinq,
    images: &ImageHost,
    args: &[&str],
) -> Step {
    fake.clear_log();
    images.reset_hits();
    let start = Instant::now();
    let (code, peak_kib, stdout, stderr) = run(bin, home, fake, args);
    let wall = start.elapsed();
    let mut requests: BTreeMap<String, usize> = BTreeMap::new();
    let mut cdn = 0u64;
    for r in fake.requests() {
        if r.path.starts_with("/cdn/") {
            cdn += 1;
            continue;
        }
        *requests
            .entry(format!("{} {}", r.method, r.path))
            .or_default() += 1;
    }
    let mut note = String::new();
    if code != 0 && code != 2 {
        let last = stderr.lines().last().unwrap_or("").trim();
        note = format!("exit {code}: {last}");
    } else if let Ok(json) = serde_json::from_str::<serde_json::Value>(&stdout) {
        if let Some(s) = json.get("summary") {
            note = s.to_string();
        }
    }
    Step {
        name,
        wall,
        code,
        requests,
        image_fetches: images.total().requests + cdn,
        peak_kib,
        note,
    }
}

fn main() {
    let counts: Vec<usize> = std::env::var("BENCH_CARDS")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let latency = Duration::from_millis(env_or("BENCH_LATENCY_MS", 20));
    let image_every: usize = env_or("BENCH_IMAGE_EVERY", 10);
    let bin = env!("CARGO_BIN_EXE_linq-cards");
    println!(
        "cards bench: latency {latency:?}, concurrency {CONCURRENCY}, logo on 1 card in {image_every}, binary {bin}\n"
    );
    println!("| N | step | wall | exit | API requests | image fetches | peak RSS | note |");
    println!("|---|---|---|---|---|---|---|---|");
    for n in counts {
        let images = ImageHost::start_in_thread().expect("start the image host");
        images.serve(
            "/logo.png",
            Resource::new(logo_png(), "image/png").etag("\"logo-v1\""),
        );
        let logo = images.url("/logo.png");
        let numbers: Vec<String> = (0..n).map(gen_cards::number).collect();
        let fake = FakeLinq::start_blocking(
            Config::default()
                .numbers(numbers)
                .latency(latency)
                // One write per card is all the bench makes; the budget only
                // has to stay out of the way.
                .write_budget(10),
        );
        let home = tempfile::tempdir().expect("temporary directory");
        let image = (image_every > 0).then_some(logo.as_str());
        std::fs::write(
            home.path().join("cards.yaml"),
            gen_cards::generate_named(n, image, image_every, false),
        )
        .expect("write the file");
        std::fs::write(
            home.path().join("renamed.yaml"),
            gen_cards::generate_named(n, image, image_every, true),
        )
        .expect("write the file");
        let conc = CONCURRENCY.to_string();
        let steps = [
            step(
                "validate",
                bin,
                home.path(),
                &fake,
                &images,
                &["validate", "cards.yaml"],
            ),
            step(
                "plan (empty account)",
                bin,
                home.path(),
                &fake,
                &images,
                &["plan", "--format", "json", "cards.yaml"],
            ),
            step(
                "apply --auto-approve",
                bin,
                home.path(),
                &fake,
                &images,
                &[
                    "apply",
                    "--auto-approve",
                    "--format",
                    "json",
                    "--concurrency",
                    &conc,
                    "cards.yaml",
                ],
            ),
            step(
                "plan (no changes, cold image cache)",
                bin,
                home.path(),
                &fake,
                &images,
                &["plan", "--format", "json", "cards.yaml"],
            ),
            step(
                "plan (no changes, warm image cache)",
                bin,
                home.path(),
                &fake,
                &images,
                &["plan", "--format", "json", "cards.yaml"],
            ),
            step(
                "plan (10% renamed)",
                bin,
                home.path(),
                &fake,
                &images,
                &["plan", "--format", "json", "renamed.yaml"],
            ),
        ];
        for s in &steps {
            let reqs = if s.requests.is_empty() {
                "none".to_string()
            } else {
                s.requests
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let peak = s.peak_kib.map_or("n/a".to_string(), |k| {
                format!("{:.1} MiB", k as f64 / 1024.0)
            });
            println!(
                "| {n} | {} | {:.3} s | {} | {reqs} | {} | {peak} | {} |",
                s.name,
                s.wall.as_secs_f64(),
                s.code,
                s.image_fetches,
                s.note.replace('|', "\\|")
            );
        }
        let bound = latency.as_secs_f64() * n as f64 / CONCURRENCY as f64;
        let writes = steps[2]
            .requests
            .iter()
            .filter(|(k, _)| k.starts_with("POST") || k.starts_with("PATCH"))
            .map(|(_, v)| v)
            .sum::<usize>();
        println!(
            "| {n} | apply vs. latency bound | {:.3} s vs. {bound:.3} s + plan {:.3} s = {:.2}x | | writes {writes} for {n} creates | | | |",
            steps[2].wall.as_secs_f64(),
            steps[1].wall.as_secs_f64(),
            steps[2].wall.as_secs_f64() / (bound + steps[1].wall.as_secs_f64()),
        );
    }
}
