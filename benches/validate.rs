//! `cargo bench --bench validate`: wall time and peak memory of
//! `linq-cards validate` on a generated 10,000-card file, using the built binary
//! (release profile). Targets: under 100 ms wall, under 50 MB peak RSS.
//! Results go to BENCHMARKS.md by hand, with the machine they were taken on.

#[path = "../examples/gen_cards.rs"]
mod gen_cards;

use std::process::Command;
use std::time::{Duration, Instant};

const CARDS: usize = 10_000;
const RUNS: usize = 20;

fn main() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("cards-10k.yaml");
    let text = gen_cards::generate(CARDS);
    std::fs::write(&file, &text).expect("write the generated file");
    let bin = env!("CARGO_BIN_EXE_linq-cards");
    println!(
        "validate: {CARDS} cards, {} bytes, {RUNS} runs of {bin}",
        text.len()
    );

    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let status = Command::new(bin)
                .arg("validate")
                .arg(&file)
                .stdout(std::process::Stdio::null())
                .status()
                .expect("run linq-cards");
            let elapsed = start.elapsed();
            assert!(status.success(), "the generated file must validate");
            elapsed
        })
        .collect();
    times.sort();
    println!(
        "wall: min {:.1} ms, median {:.1} ms, max {:.1} ms",
        ms(times[0]),
        ms(times[RUNS / 2]),
        ms(times[RUNS - 1])
    );

    // Peak RSS from GNU time, when the machine has it.
    match Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(bin)
        .arg("validate")
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let kib = stderr.lines().last().unwrap_or("?").trim().to_string();
            println!("peak RSS: {kib} KiB (/usr/bin/time -f %M)");
        }
        _ => println!("peak RSS: n/a (no GNU /usr/bin/time)"),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
