//! The plan digest: SHA-256 over the changes (number, action, body) in a
//! canonical serialization, as lowercase hex. It is what `--expect-digest`
//! compares, so the same changes must always give the same digest, whatever
//! the order they were listed in or the notes and `before` they carry.

use sha2::{Digest, Sha256};

use crate::plan::model::{Action, Change, ChangeBody};

/// Separates this digest from any other SHA-256 of similar data; bump it if
/// the canonical form below ever changes.
const DOMAIN: &[u8] = b"linq-cards plan digest v1\n";

/// The digest of a list of changes.
///
/// Canonical form: the changes sorted by (number, action), each serialized as
/// the JSON array `[phone_number, action, after]`, one per line. `after`
/// serializes its keys in a fixed order (`phone_number`, `first_name`,
/// `last_name`, `image_url`) and leaves out unset fields, so a body is the
/// exact request body and nothing else.
pub fn compute(changes: &[Change]) -> String {
    let mut rows: Vec<(&str, Action, &ChangeBody)> = changes
        .iter()
        .map(|c| (c.phone_number.as_str(), c.action, &c.after))
        .collect();
    rows.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    for row in rows {
        let line = serde_json::to_vec(&row).expect("plain strings and enums always serialize");
        hasher.update(&line);
        hasher.update(b"\n");
    }
    to_hex(&hasher.finalize())
}

/// Lowercase hex of some bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::CardFields;
    use crate::plan::model::{LiveFields, Reason};

    fn update(n: &str, first: &str) -> Change {
        Change {
            phone_number: n.into(),
            action: Action::Update,
            reason: None,
            fields: None,
            before: None,
            after: ChangeBody {
                phone_number: None,
                fields: CardFields {
                    first_name: Some(first.into()),
                    ..CardFields::default()
                },
            },
            notes: vec![],
        }
    }

    #[test]
    fn empty_plan_has_a_fixed_digest() {
        let d = compute(&[]);
        assert_eq!(d.len(), 64);
        assert!(d
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(d, compute(&[]));
    }

    #[test]
    fn order_notes_and_before_do_not_matter() {
        let a = update("+12223334444", "A");
        let mut b = update("+12223335555", "B");
        let d1 = compute(&[a.clone(), b.clone()]);
        b.notes.push("different picture".into());
        b.before = Some(LiveFields {
            first_name: "x".into(),
            last_name: None,
            image_url: None,
            is_active: true,
        });
        b.fields = Some(vec![]);
        assert_eq!(d1, compute(&[b, a]));
    }

    #[test]
    fn number_action_and_body_all_matter() {
        let base = update("+12223334444", "A");
        let d = compute(std::slice::from_ref(&base));
        let mut other_number = base.clone();
        other_number.phone_number = "+12223334445".into();
        let mut other_action = base.clone();
        other_action.action = Action::Create;
        other_action.reason = Some(Reason::Missing);
        let mut other_body = base.clone();
        other_body.after.fields.first_name = Some("B".into());
        let mut extra_field = base.clone();
        extra_field.after.fields.last_name = Some("".into());
        let mut with_number = base.clone();
        with_number.after.phone_number = Some("+12223334444".into());
        for (what, c) in [
            ("number", other_number),
            ("action", other_action),
            ("body", other_body),
            ("extra field", extra_field),
            ("phone in body", with_number),
        ] {
            assert_ne!(d, compute(&[c]), "{what}");
        }
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        // Moving text between fields must change the digest (JSON quoting
        // keeps the boundaries).
        let mut a = update("+12223334444", "A B");
        a.after.fields.last_name = Some("C".into());
        let mut b = update("+12223334444", "A");
        b.after.fields.last_name = Some("B C".into());
        assert_ne!(compute(&[a]), compute(&[b]));
    }

    #[test]
    fn hex() {
        assert_eq!(to_hex(&[0, 15, 16, 255]), "000f10ff");
    }
}
