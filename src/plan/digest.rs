//! The plan digest: SHA-256 over the changes (number, action, body) in a
//! canonical serialization, as lowercase hex. It is what `--expect-digest`
//! compares, so the same changes must always give the same digest, whatever
//! the order they were listed in or the notes and `before` they carry.
//! [`check_digest`] is that comparison (pure; `apply` refuses on it).

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

/// Why `--expect-digest` refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestMismatch {
    #[error("--expect-digest {given:?} is not a SHA-256 digest (64 hex digits)")]
    Malformed { given: String },
    #[error(
        "the fresh plan's digest {actual} differs from --expect-digest {expected}: \
         the plan changed since it was reviewed; nothing was written"
    )]
    Differs { expected: String, actual: String },
}

/// Accept only when `expected` (hex, any case, surrounding spaces ignored)
/// names the same digest as the plan's `actual` one.
pub fn check_digest(expected: &str, actual: &str) -> Result<(), DigestMismatch> {
    let given = expected.trim();
    if given.len() != 64 || !given.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DigestMismatch::Malformed {
            given: given.to_string(),
        });
    }
    if given.eq_ignore_ascii_case(actual) {
        Ok(())
    } else {
        Err(DigestMismatch::Differs {
            expected: given.to_ascii_lowercase(),
            actual: actual.to_string(),
        })
    }
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

    #[test]
    fn digest_table() {
        let d = "9b1c".repeat(16);
        assert_eq!(check_digest(&d, &d), Ok(()));
        assert_eq!(check_digest(&format!(" {} ", d.to_uppercase()), &d), Ok(()));
        let other = "0".repeat(64);
        assert!(matches!(
            check_digest(&other, &d),
            Err(DigestMismatch::Differs { .. })
        ));
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(65)] {
            assert!(
                matches!(check_digest(bad, &d), Err(DigestMismatch::Malformed { .. })),
                "{bad:?}"
            );
        }
    }
}
