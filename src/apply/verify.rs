//! Convergence: whether a live card is what the file asks for, which fields
//! still differ (for the update after a `2014`), and the verification read at
//! the end of apply (one list call, then one more read of each card that
//! looks unconverged, because the API may lag its own writes).
//!
//! Images compare by URL here, with one addition: after a write, the live
//! `image_url` is the CDN copy the write's answer named (LINQ_API.md: Linq
//! rehosts the image), so that URL counts as the desired image too.

use std::collections::HashMap;

use crate::api::{CardFields, ContactCard, CreateCard};
use crate::apply::card_api::CardApi;

/// What a written card should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// Every managed field of the desired card (a `None` field is not managed).
    pub desired: CreateCard,
    /// A live image URL known to be the desired picture: the `image_url` of the
    /// last write's answer, or the live URL judged the same picture.
    pub accepted_image: Option<String>,
}

/// Whether `live` is `expect`: active, and every managed field equal.
pub fn converged(expect: &Expect, live: &ContactCard) -> bool {
    let d = &expect.desired;
    let image_ok = match &d.image_url {
        None => true,
        Some(source) => live
            .image_url
            .as_deref()
            .is_some_and(|l| l == source || expect.accepted_image.as_deref() == Some(l)),
    };
    live.is_active
        && live.first_name == d.first_name
        && d.last_name
            .as_ref()
            .is_none_or(|l| live.last_name.as_ref() == Some(l))
        && image_ok
}

/// The text fields of `desired` that `live` does not have yet. The image is
/// left to the caller, who may need to compare pictures.
pub fn differing_text(desired: &CreateCard, live: &ContactCard) -> CardFields {
    CardFields {
        first_name: (live.first_name != desired.first_name).then(|| desired.first_name.clone()),
        last_name: desired
            .last_name
            .clone()
            .filter(|l| live.last_name.as_ref() != Some(l)),
        image_url: None,
    }
}

/// The verdict of the verification read, in the order of the `Expect`s given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    pub converged: Vec<bool>,
    /// Problems of the reads themselves.
    pub notes: Vec<String>,
}

/// One list call; each card that looks unconverged is read once more.
pub async fn verify<A: CardApi>(api: &A, expects: &[Expect]) -> Verification {
    let mut notes = Vec::new();
    if expects.is_empty() {
        return Verification::default();
    }
    let live: HashMap<String, ContactCard> = match api.list().await {
        Ok(cards) => cards
            .into_iter()
            .map(|c| (c.phone_number.clone(), c))
            .collect(),
        Err(e) => {
            tracing::warn!("verification: the list call failed: {e}");
            notes.push(format!("the verification list call failed: {e}"));
            HashMap::new()
        }
    };
    let mut result = Vec::with_capacity(expects.len());
    for expect in expects {
        let phone = &expect.desired.phone_number;
        if live.get(phone).is_some_and(|c| converged(expect, c)) {
            result.push(true);
            continue;
        }
        // The API may lag its own writes: read this card once more before
        // calling it unconverged.
        let again = match api.get(phone).await {
            Ok(card) => converged(expect, &card),
            Err(e) => {
                tracing::debug!(phone_number = %phone, "verification re-read failed: {e}");
                notes.push(format!("{phone}: the verification read failed: {e}"));
                false
            }
        };
        tracing::debug!(phone_number = %phone, converged = again, "verification re-read");
        result.push(again);
    }
    Verification {
        converged: result,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(last: Option<&str>, image: Option<&str>) -> CreateCard {
        CreateCard {
            phone_number: "+12223334444".into(),
            first_name: "Acme".into(),
            last_name: last.map(Into::into),
            image_url: image.map(Into::into),
        }
    }

    fn live(first: &str, last: Option<&str>, image: Option<&str>, active: bool) -> ContactCard {
        ContactCard {
            phone_number: "+12223334444".into(),
            first_name: first.into(),
            last_name: last.map(Into::into),
            image_url: image.map(Into::into),
            is_active: active,
        }
    }

    #[test]
    fn converged_table() {
        let src = "https://img.example/logo.png";
        let cdn = "https://cdn.linqapp.com/contact-card/1.png";
        let other_cdn = "https://cdn.linqapp.com/contact-card/2.png";
        let e = |last, image, accepted: Option<&str>| Expect {
            desired: desired(last, image),
            accepted_image: accepted.map(Into::into),
        };
        let rows = [
            (
                "all equal",
                e(Some("S"), Some(src), None),
                live("Acme", Some("S"), Some(src), true),
                true,
            ),
            (
                "inactive",
                e(None, None, None),
                live("Acme", None, None, false),
                false,
            ),
            (
                "first name differs",
                e(None, None, None),
                live("Acme2", None, None, true),
                false,
            ),
            (
                "unmanaged last name ignored",
                e(None, None, None),
                live("Acme", Some("X"), None, true),
                true,
            ),
            (
                "last name differs",
                e(Some("S"), None, None),
                live("Acme", Some("X"), None, true),
                false,
            ),
            (
                "last name missing",
                e(Some("S"), None, None),
                live("Acme", None, None, true),
                false,
            ),
            (
                "unmanaged image ignored",
                e(None, None, None),
                live("Acme", None, Some(cdn), true),
                true,
            ),
            (
                "CDN copy the write returned",
                e(None, Some(src), Some(cdn)),
                live("Acme", None, Some(cdn), true),
                true,
            ),
            (
                "another CDN copy",
                e(None, Some(src), Some(cdn)),
                live("Acme", None, Some(other_cdn), true),
                false,
            ),
            (
                "CDN copy nobody vouched for",
                e(None, Some(src), None),
                live("Acme", None, Some(cdn), true),
                false,
            ),
            (
                "image missing",
                e(None, Some(src), Some(cdn)),
                live("Acme", None, None, true),
                false,
            ),
        ];
        for (name, expect, card, want) in rows {
            assert_eq!(converged(&expect, &card), want, "{name}");
        }
    }

    #[test]
    fn differing_text_names_only_what_differs() {
        let d = desired(Some("Support"), Some("https://img.example/a.png"));
        assert!(differing_text(&d, &live("Acme", Some("Support"), None, true)).is_empty());
        assert_eq!(
            differing_text(&d, &live("Old", Some("Support"), None, true)),
            CardFields {
                first_name: Some("Acme".into()),
                ..Default::default()
            }
        );
        assert_eq!(
            differing_text(&d, &live("Acme", None, None, true)),
            CardFields {
                last_name: Some("Support".into()),
                ..Default::default()
            }
        );
        // An unmanaged last name is never sent.
        let d = desired(None, None);
        assert!(differing_text(&d, &live("Acme", Some("Other"), None, true)).is_empty());
    }
}
