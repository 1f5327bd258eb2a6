//! Pure guards apply checks before writing anything: `--expect-digest`.

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
