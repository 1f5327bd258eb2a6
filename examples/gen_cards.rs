//! Generate a large, valid desired-state file for benchmarks:
//! `cargo run --release --example gen_cards -- 10000 > /tmp/cards-10k.yaml`.
//!
//! Cards mix quoted and unquoted numbers, own and default fields, so that every
//! path of the loader is exercised, as in a real file.

use std::fmt::Write as _;

/// A file of `n` cards (at most 10^7 distinct numbers).
pub fn generate(n: usize) -> String {
    let mut s = String::with_capacity(n * 110 + 256);
    s.push_str("# yaml-language-server: $schema=../schema/linq-cards.schema.json\n");
    s.push_str("version: 1\ndefaults:\n  first_name: Northwind\n");
    s.push_str("  image_url: https://assets.northwind-outfitters.example/brand/logo-512.png\n");
    s.push_str("cards:\n");
    for i in 0..n {
        let number = 14_150_000_000_u64 + i as u64;
        if i % 2 == 0 {
            let _ = writeln!(s, "  - phone_number: \"+{number}\"");
        } else {
            let _ = writeln!(s, "  - phone_number: +{number}   # unquoted");
        }
        let _ = writeln!(s, "    last_name: Line {i}");
        if i % 5 == 0 {
            let _ = writeln!(
                s,
                "    image_url: https://assets.northwind-outfitters.example/lines/{i}.png"
            );
        }
    }
    s
}

/// A file of `n` cards for the end-to-end bench (benches/cards.rs): every
/// card names itself, one in `image_every` carries `image_url` (when given),
/// and with `renamed` every tenth card has a new first name (the "10% of the
/// names changed" scenario).
#[allow(dead_code)] // used by benches/cards.rs only
pub fn generate_named(
    n: usize,
    image_url: Option<&str>,
    image_every: usize,
    renamed: bool,
) -> String {
    let mut s = String::with_capacity(n * 90 + 64);
    s.push_str("version: 1\ncards:\n");
    for i in 0..n {
        let number = 14_150_000_000_u64 + i as u64;
        let first = if renamed && i % 10 == 0 {
            "Renamed"
        } else {
            "Northwind"
        };
        let _ = writeln!(
            s,
            "  - phone_number: \"+{number}\"\n    first_name: {first} {i}"
        );
        if let Some(url) = image_url {
            if image_every > 0 && i % image_every == 0 {
                let _ = writeln!(s, "    image_url: {url}");
            }
        }
    }
    s
}

/// The numbers [`generate`] and [`generate_named`] use, in order.
#[allow(dead_code)] // used by benches/cards.rs only
pub fn number(i: usize) -> String {
    format!("+{}", 14_150_000_000_u64 + i as u64)
}

#[allow(dead_code)] // also compiled into benches/validate.rs, which has its own main
fn main() {
    let n = std::env::args()
        .nth(1)
        .map(|a| a.parse::<usize>().expect("the argument is a card count"))
        .unwrap_or(10_000);
    print!("{}", generate(n));
}
