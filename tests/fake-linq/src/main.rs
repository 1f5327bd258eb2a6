//! `fake-linq`: run the fake Linq API locally to try linq-cards without an account.
//! Prints its base URL on stdout and serves until Ctrl-C.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use fake_linq::{Card, Config, FakeLinq};

/// A stateful fake of the Linq contact-card API on 127.0.0.1.
///
/// Point linq-cards at it with `--api-url <printed URL>` and
/// `LINQ_API_KEY=<token>`.
#[derive(Debug, Parser)]
#[command(name = "fake-linq", version)]
struct Args {
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Bearer token to accept.
    #[arg(long, default_value = "fake-token")]
    token: String,
    /// A phone number of the account (E.164); repeatable.
    #[arg(long = "number", value_name = "PHONE")]
    numbers: Vec<String>,
    /// Start with these cards: a `GET /v3/contact_card` response body.
    #[arg(long, value_name = "SNAPSHOT.json")]
    cards: Option<PathBuf>,
    /// Delay added to every API answer.
    #[arg(long, default_value_t = 0, value_name = "N")]
    latency_ms: u64,
    /// Window of the per-number write budget (Linq: 600).
    #[arg(long, default_value_t = 600, value_name = "N")]
    write_window_secs: u64,
    /// Writes allowed per number per window (Linq: 3).
    #[arg(long, default_value_t = 3, value_name = "N")]
    write_budget: u32,
}

#[derive(serde::Deserialize)]
struct Snapshot {
    contact_cards: Vec<Card>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mut config = Config::default()
        .token(&args.token)
        .numbers(args.numbers.iter().cloned())
        .latency(Duration::from_millis(args.latency_ms))
        .write_window(Duration::from_secs(args.write_window_secs))
        .write_budget(args.write_budget);
    config.port = args.port;
    if let Some(path) = &args.cards {
        let snapshot = match std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Snapshot>(&b).map_err(|e| e.to_string()))
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("fake-linq: reading {}: {e}", path.display());
                return std::process::ExitCode::FAILURE;
            }
        };
        for card in snapshot.contact_cards {
            config = config.card(card);
        }
    }
    let fake = FakeLinq::start(config).await;
    println!("{}", fake.base_url());
    eprintln!(
        "fake-linq: serving {} numbers (token as given by --token); Ctrl-C to stop",
        fake.numbers().len(),
    );
    let _ = tokio::signal::ctrl_c().await;
    eprintln!(
        "fake-linq: {} calls, {} writes, {} unexpected",
        fake.requests().len(),
        fake.writes(),
        fake.unexpected().len()
    );
    std::process::ExitCode::SUCCESS
}
