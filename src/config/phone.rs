//! E.164 phone numbers: the only way to build a [`PhoneNumber`].
//!
//! The pattern is SPEC's `^\+[1-9][0-9]{6,14}$`. When the input is a formatted or
//! `+`-less variant of a valid number, the error proposes the E.164 form.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A phone number in E.164 form, e.g. `+12223334444`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

/// Why a string is not an E.164 number, with the fix when one is obvious.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneError {
    pub input: String,
    /// The E.164 form the input most likely meant.
    pub suggestion: Option<String>,
}

impl fmt::Display for PhoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "phone number {:?} is not in E.164 format (+ then 7 to 15 digits, no spaces or punctuation)",
            self.input
        )?;
        if let Some(s) = &self.suggestion {
            write!(f, "; did you mean \"{s}\"?")?;
        }
        Ok(())
    }
}

impl std::error::Error for PhoneError {}

fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    let b = digits.as_bytes();
    (7..=15).contains(&b.len())
        && b.iter().all(u8::is_ascii_digit)
        && b.first().is_some_and(|d| *d != b'0')
}

impl PhoneNumber {
    /// Parse a string that must already be E.164.
    pub fn parse(input: &str) -> Result<PhoneNumber, PhoneError> {
        if is_e164(input) {
            return Ok(PhoneNumber(input.to_string()));
        }
        Err(PhoneError {
            input: input.to_string(),
            suggestion: suggest(input),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Propose an E.164 form for a formatted or `+`-less number.
///
/// Punctuation used in human formatting (spaces, dashes, dots, parentheses) is
/// dropped. Ten digits with no country code are read as a North American number
/// (`(415) 555-1234` → `+14155551234`), the usual case for Linq's numbers.
fn suggest(input: &str) -> Option<String> {
    let trimmed = input.trim();
    let has_plus = trimmed.starts_with('+');
    let rest = if has_plus { &trimmed[1..] } else { trimmed };
    let rest = rest
        .strip_prefix("00")
        .filter(|_| !has_plus)
        .map_or(rest, |r| r);
    let mut digits = String::new();
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}' => {}
            _ => return None,
        }
    }
    let candidate = if !has_plus && digits.len() == 10 && !digits.starts_with(['0', '1']) {
        format!("+1{digits}")
    } else {
        format!("+{digits}")
    };
    (is_e164(&candidate) && candidate != input).then_some(candidate)
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PhoneNumber::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_e164() {
        for ok in [
            "+12223334444",
            "+4915112345678",
            "+1234567",
            "+123456789012345",
        ] {
            assert_eq!(
                PhoneNumber::parse(ok).map(|p| p.to_string()),
                Ok(ok.to_string())
            );
        }
    }

    #[test]
    fn rejects_with_suggestion() {
        let cases = [
            ("(415) 555-1234", Some("+14155551234")),
            ("14155551234", Some("+14155551234")),
            ("4155551234", Some("+14155551234")),
            ("+1 415-555-1234", Some("+14155551234")),
            ("+1.415.555.1234", Some("+14155551234")),
            ("0049 151 1234 5678", Some("+4915112345678")),
            ("+0123456789", None),
            ("+123456", None),
            ("+1234567890123456", None),
            ("call me", None),
            ("", None),
            ("+1415555123x", None),
        ];
        for (input, want) in cases {
            let err = PhoneNumber::parse(input).expect_err(input);
            assert_eq!(err.suggestion.as_deref(), want, "input {input:?}");
            if let Some(w) = want {
                assert!(err.to_string().contains(w), "{err}");
            }
        }
    }
}
