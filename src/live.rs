//! The live state of the account: from the list call plus the phone-numbers call,
//! or from a `--live-snapshot` file.
//!
//! Plan reads the live state with one list call (plus one phone-numbers call),
//! whatever the number of cards (SPEC "How plan decides"); building [`LiveState`] from the answers is pure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::api::{Client, ClientError, ContactCard, ContactCardList, PhoneNumberInfo};

/// Every live card, keyed by phone number, and the account's numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveState {
    pub cards: BTreeMap<String, ContactCard>,
    /// The account's numbers; `None` when unknown (read from a snapshot).
    pub account_numbers: Option<BTreeSet<String>>,
}

/// Why the live state could not be read. Causes are part of each message and
/// not chained as `source` (the CLI prints chains with `{:#}`, which would
/// repeat them).
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("reading the live cards (GET /v3/contact_card): {0}")]
    ListCards(ClientError),
    #[error("reading the account's phone numbers (GET /v3/phone_numbers): {0}")]
    ListNumbers(ClientError),
    #[error("{source_name} lists {phone_number} twice, with different contents; refusing to guess which is live")]
    Duplicate {
        source_name: String,
        phone_number: String,
    },
    #[error("cannot read live snapshot {}: {error}", .path.display())]
    SnapshotRead {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("live snapshot {} is not a GET /v3/contact_card response body ({{\"contact_cards\": [...]}}): {detail}", .path.display())]
    SnapshotFormat { path: PathBuf, detail: String },
}

impl LiveState {
    /// Build the live state from the two list answers. The API has one card per
    /// number; an exact repeat is dropped, two different cards for one number
    /// are an error rather than a guess.
    pub fn from_lists(
        cards: Vec<ContactCard>,
        numbers: Option<Vec<PhoneNumberInfo>>,
        source_name: &str,
    ) -> Result<LiveState, LiveError> {
        let mut by_number: BTreeMap<String, ContactCard> = BTreeMap::new();
        for card in cards {
            match by_number.get(&card.phone_number) {
                Some(seen) if *seen == card => {}
                Some(_) => {
                    return Err(LiveError::Duplicate {
                        source_name: source_name.to_string(),
                        phone_number: card.phone_number,
                    })
                }
                None => {
                    by_number.insert(card.phone_number.clone(), card);
                }
            }
        }
        Ok(LiveState {
            cards: by_number,
            account_numbers: numbers.map(|n| n.into_iter().map(|i| i.phone_number).collect()),
        })
    }
}

/// Read the live state from the API: one list call and one phone-numbers call,
/// made at the same time.
pub async fn read(client: &Client) -> Result<LiveState, LiveError> {
    let (cards, numbers) = tokio::join!(client.list_cards(), client.list_phone_numbers());
    let cards = cards.map_err(LiveError::ListCards)?;
    let numbers = numbers.map_err(LiveError::ListNumbers)?;
    LiveState::from_lists(cards, Some(numbers), "GET /v3/contact_card")
}

/// Read a `--live-snapshot` file (a `GET /v3/contact_card` response body). The
/// account's numbers are unknown then.
pub fn read_snapshot(path: &Path) -> Result<LiveState, LiveError> {
    let text = std::fs::read_to_string(path).map_err(|error| LiveError::SnapshotRead {
        path: path.to_path_buf(),
        error,
    })?;
    parse_snapshot(path, &text)
}

/// Parse snapshot contents; `path` is only used in messages.
pub fn parse_snapshot(path: &Path, text: &str) -> Result<LiveState, LiveError> {
    let list: ContactCardList =
        serde_json::from_str(text).map_err(|e| LiveError::SnapshotFormat {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    LiveState::from_lists(
        list.contact_cards,
        None,
        &format!("live snapshot {}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(n: &str, first: &str) -> ContactCard {
        ContactCard {
            phone_number: n.into(),
            first_name: first.into(),
            last_name: None,
            image_url: None,
            is_active: true,
        }
    }

    #[test]
    fn from_lists_keys_by_number_and_keeps_numbers() {
        let numbers = vec![
            PhoneNumberInfo {
                id: Some(serde_json::json!("pn_1")),
                phone_number: "+12223335555".into(),
            },
            PhoneNumberInfo {
                id: None,
                phone_number: "+12223334444".into(),
            },
        ];
        let live = LiveState::from_lists(
            vec![card("+12223335555", "B"), card("+12223334444", "A")],
            Some(numbers),
            "test",
        )
        .expect("live");
        assert_eq!(
            live.cards.keys().collect::<Vec<_>>(),
            ["+12223334444", "+12223335555"]
        );
        assert_eq!(
            live.account_numbers
                .expect("numbers")
                .into_iter()
                .collect::<Vec<_>>(),
            ["+12223334444", "+12223335555"]
        );
    }

    #[test]
    fn duplicates() {
        let same = LiveState::from_lists(
            vec![card("+12223334444", "A"), card("+12223334444", "A")],
            None,
            "test",
        )
        .expect("exact repeat is fine");
        assert_eq!(same.cards.len(), 1);
        let err = LiveState::from_lists(
            vec![card("+12223334444", "A"), card("+12223334444", "B")],
            None,
            "the list",
        )
        .expect_err("conflict");
        assert_eq!(
            err.to_string(),
            "the list lists +12223334444 twice, with different contents; refusing to guess which is live"
        );
    }

    #[test]
    fn snapshot_parses_the_list_body_and_ignores_unknown_fields() {
        let text = r#"{"contact_cards": [
            {"phone_number": "+12223334444", "first_name": "Acme", "is_active": true,
             "image_url": "https://cdn.linqapp.com/a.png", "created_at": "2025-01-01"}
        ], "next": null}"#;
        let live = parse_snapshot(Path::new("snap.json"), text).expect("snapshot");
        assert_eq!(live.account_numbers, None);
        let c = &live.cards["+12223334444"];
        assert_eq!(
            c.image_url.as_deref(),
            Some("https://cdn.linqapp.com/a.png")
        );
        assert!(c.is_active);
    }

    #[test]
    fn snapshot_errors_name_the_file() {
        let cases = [
            ("", "EOF"),
            ("[]", "invalid length 0"),
            ("{}", "missing field `contact_cards`"),
            (
                r#"{"contact_cards": [{"first_name": "x"}]}"#,
                "phone_number",
            ),
            (r#"{"contact_cards": {}}"#, "invalid type"),
        ];
        for (text, want) in cases {
            let err = parse_snapshot(Path::new("snap.json"), text).expect_err(text);
            let msg = err.to_string();
            assert!(msg.contains("live snapshot snap.json"), "{msg}");
            assert!(msg.contains(want), "{text}: {msg}");
        }
        let err = read_snapshot(Path::new("/nonexistent/snap.json")).expect_err("missing");
        assert!(
            err.to_string().contains("cannot read live snapshot"),
            "{err}"
        );
    }
}
