//! The JSON Schema of the desired-state file (what `linq-cards schema` prints and
//! `schema/linq-cards.schema.json` holds; a test keeps the two identical).
//!
//! Written by hand rather than derived: it must say things serde types cannot
//! (`version` const 1, the E.164 pattern, that an unquoted `+1...` is fine) and
//! it must stay byte-stable for editors and the committed copy. It is a help for
//! editors (the YAML language server); `validate` remains the authority.

use serde_json::{json, Value};

use super::validate::{CARD_KEYS, DEFAULT_KEYS, TOP_KEYS};

/// The E.164 pattern of SPEC.md.
pub const PHONE_PATTERN: &str = r"^\+[1-9][0-9]{6,14}$";

fn non_empty_string(description: &str) -> Value {
    json!({
        "type": "string",
        "minLength": 1,
        "pattern": "\\S",
        "description": description,
    })
}

fn card_fields() -> [(&'static str, Value); 3] {
    [
        (
            "first_name",
            non_empty_string(
                "Name shown on the card (required on every card, after defaults). The API cannot clear a field, so it may not be empty.",
            ),
        ),
        (
            "last_name",
            non_empty_string(
                "Second part of the name. Leave it out to leave it unmanaged: the API cannot clear a field, so it may not be empty.",
            ),
        ),
        (
            "image_url",
            json!({
                "type": "string",
                "format": "uri",
                "pattern": "^https://[^/?#]+",
                "description": "Publicly reachable https:// URL of the picture. Linq downloads it and rehosts it on its CDN; linq-cards compares the pictures, not the URLs. Leave it out to leave it unmanaged.",
            }),
        ),
    ]
}

/// The schema as a JSON value.
pub fn schema() -> Value {
    let mut card_props = serde_json::Map::new();
    card_props.insert(
        "phone_number".to_string(),
        json!({
            // An unquoted `+12223334444` is an integer to YAML 1.2 tools (and to
            // the language server); linq-cards reads it as the string it is.
            "type": ["string", "integer"],
            "pattern": PHONE_PATTERN,
            "minimum": 1_000_000,
            "maximum": 999_999_999_999_999_u64,
            "description": "The card's number in E.164 form: + then 7 to 15 digits, e.g. \"+12223334444\". Quoting is optional. It must be a number of the account, and appear once in the file.",
            "examples": ["+12223334444"],
        }),
    );
    let mut default_props = serde_json::Map::new();
    for (name, value) in card_fields() {
        card_props.insert(name.to_string(), value.clone());
        default_props.insert(name.to_string(), value);
    }
    debug_assert!(CARD_KEYS.iter().all(|k| card_props.contains_key(*k)));
    debug_assert!(DEFAULT_KEYS.iter().all(|k| default_props.contains_key(*k)));
    debug_assert_eq!(TOP_KEYS, ["version", "defaults", "cards"]);

    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "linq-cards desired state",
        "description": "The iMessage contact cards of a Linq account, kept in git. `linq-cards validate` checks this file; `plan` and `apply` make the account match it.",
        "type": "object",
        "additionalProperties": false,
        "required": ["cards"],
        "properties": {
            "version": {
                "description": "File format version; only 1 exists. Optional.",
                "type": "integer",
                "const": 1,
            },
            "defaults": {
                "description": "Fields filled into every card that leaves them out. A field left out after defaults is not managed: linq-cards never changes it.",
                "type": "object",
                "additionalProperties": false,
                "properties": Value::Object(default_props),
            },
            "cards": {
                "description": "One entry per phone number managed by this file. Live cards of numbers not listed here are left alone.",
                "type": "array",
                "items": { "$ref": "#/$defs/card" },
            },
        },
        "$defs": {
            "card": {
                "description": "One contact card: exactly the API's fields.",
                "type": "object",
                "additionalProperties": false,
                "required": ["phone_number"],
                "properties": Value::Object(card_props),
            },
        },
    })
}

/// The schema as printed and committed: pretty JSON with a final newline.
pub fn schema_json() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).expect("a JSON value always serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMITTED: &str = include_str!("../../schema/linq-cards.schema.json");

    #[test]
    fn committed_schema_matches() {
        if schema_json() != COMMITTED {
            panic!(
                "schema/linq-cards.schema.json is stale; regenerate it with \
                 `cargo run -q -- schema > schema/linq-cards.schema.json`"
            );
        }
    }

    /// The schema and the validator know the same keys.
    #[test]
    fn keys_match_the_validator() {
        let s = schema();
        let keys = |v: &Value| -> Vec<String> {
            let mut k: Vec<String> = v
                .as_object()
                .expect("properties is an object")
                .keys()
                .cloned()
                .collect();
            k.sort();
            k
        };
        let sorted = |k: &[&str]| -> Vec<String> {
            let mut k: Vec<String> = k.iter().map(|s| s.to_string()).collect();
            k.sort();
            k
        };
        assert_eq!(keys(&s["properties"]), sorted(TOP_KEYS));
        assert_eq!(keys(&s["$defs"]["card"]["properties"]), sorted(CARD_KEYS));
        assert_eq!(
            keys(&s["properties"]["defaults"]["properties"]),
            sorted(DEFAULT_KEYS)
        );
        assert_eq!(
            s["$defs"]["card"]["properties"]["phone_number"]["pattern"],
            PHONE_PATTERN
        );
        assert_eq!(s["properties"]["version"]["const"], 1);
    }
}
