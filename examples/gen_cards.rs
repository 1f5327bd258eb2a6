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

#[allow(dead_code)] // also compiled into benches/validate.rs, which has its own main
fn main() {
    let n = std::env::args()
        .nth(1)
        .map(|a| a.parse::<usize>().expect("the argument is a card count"))
        .unwrap_or(10_000);
    print!("{}", generate(n));
}
