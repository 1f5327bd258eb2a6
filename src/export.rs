//! Live account -> desired-state YAML, sorted by number: the way to adopt
//! linq-cards on an existing account (SPEC "export").
//!
//! Written by hand rather than through serde_yaml so that every string is
//! double-quoted (a phone number never turns into an integer, a name like
//! `yes` or `null` never into a boolean) and the file carries its comments.
//! Pure: the command reads the account and writes the file.

use crate::config::PhoneNumber;
use crate::live::LiveState;

/// What the schema comment points at: `linq-cards schema > linq-cards.schema.json`
/// beside the file gives editors completion and checks.
pub const SCHEMA_COMMENT: &str = "# yaml-language-server: $schema=linq-cards.schema.json";

/// The exported file and what could not be exported as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub yaml: String,
    /// One line per card left out or trimmed, for stderr.
    pub warnings: Vec<String>,
}

/// Every live card, inactive ones too (their fields are what the account was
/// meant to show; `apply` sets them up again). A card the file rules would
/// reject (a number that is not E.164, an empty `first_name`) is written as a
/// comment, so the file still loads; an empty `last_name`/`image_url` is left
/// out (not managed), since the file cannot hold an empty string.
pub fn render(live: &LiveState) -> Export {
    let mut yaml = String::new();
    let mut warnings = Vec::new();
    yaml.push_str(SCHEMA_COMMENT);
    yaml.push('\n');
    yaml.push_str(&format!(
        "# Exported from the live account by linq-cards {}; cards sorted by number.\n",
        env!("CARGO_PKG_VERSION")
    ));
    yaml.push_str(
        "# Write the schema beside it with: linq-cards schema > linq-cards.schema.json\n",
    );
    yaml.push_str("version: 1\n");
    if live.cards.is_empty() {
        yaml.push_str("cards: []\n");
        return Export { yaml, warnings };
    }
    yaml.push_str("cards:\n");
    for (number, card) in &live.cards {
        let problem = if PhoneNumber::parse(number).is_err() {
            Some("its phone number is not E.164")
        } else if card.first_name.trim().is_empty() {
            Some("it has no first_name")
        } else {
            None
        };
        let mut lines = vec![format!("- phone_number: {}", quote(number))];
        if !card.first_name.is_empty() {
            lines.push(format!("  first_name: {}", quote(&card.first_name)));
        }
        for (key, value) in [
            ("last_name", &card.last_name),
            ("image_url", &card.image_url),
        ] {
            match value.as_deref() {
                Some("") => warnings.push(format!(
                    "{number}: empty {key} left out (the file cannot hold an empty string; the field is not managed)"
                )),
                Some(v) => lines.push(format!("  {key}: {}", quote(v))),
                None => {}
            }
        }
        if let Some(why) = problem {
            warnings.push(format!(
                "{number}: written as a comment because {why}; fix it by hand to manage this card"
            ));
            yaml.push_str(&format!("  # Left out because {why}:\n"));
            for l in lines {
                yaml.push_str(&format!("  # {}\n", l.replace(['\n', '\r'], " ")));
            }
            continue;
        }
        if !card.is_active {
            yaml.push_str("  # inactive on the account: apply will set it up again\n");
        }
        for l in lines {
            yaml.push_str("  ");
            yaml.push_str(&l);
            yaml.push('\n');
        }
    }
    Export { yaml, warnings }
}

/// A YAML double-quoted scalar. YAML's escapes are a superset of JSON's; every
/// character outside YAML's printable set is escaped, so any string survives.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_yaml_printable(c) => out.push(c),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// YAML 1.2 `c-printable`, minus the BOM (some parsers strip it) and the
/// Unicode line breaks (NEL, LS, PS), which YAML 1.1 parsers fold like newlines.
fn is_yaml_printable(c: char) -> bool {
    matches!(c as u32,
        0x20..=0x7e | 0xa0..=0x2027 | 0x202a..=0xd7ff | 0xe000..=0xfefe | 0xff00..=0xfffd | 0x10000..=0x10ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ContactCard;

    fn card(
        n: &str,
        first: &str,
        last: Option<&str>,
        image: Option<&str>,
        active: bool,
    ) -> ContactCard {
        ContactCard::sample(n, first, last, image, active)
    }

    fn live(cards: Vec<ContactCard>) -> LiveState {
        LiveState {
            cards: cards
                .into_iter()
                .map(|c| (c.phone_number.clone(), c))
                .collect(),
            account_numbers: None,
        }
    }

    #[test]
    fn snapshot_of_every_kind_of_card() {
        let e = render(&live(vec![
            card(
                "+12223335555",
                "Acme",
                Some("Billing"),
                Some("https://cdn.linqapp.com/contact-card/a.png"),
                true,
            ),
            card("+12223334444", "yes", Some("null"), None, true),
            card("+12223336666", "Zoë \"Z\" #1: ok\n", None, Some(""), false),
            card("+12223337777", "", Some("x"), None, true),
            card("12223338888", "NoPlus", None, None, true),
        ]));
        insta::assert_snapshot!(e.yaml);
        insta::assert_debug_snapshot!(e.warnings);
    }

    #[test]
    fn empty_account() {
        let e = render(&LiveState::default());
        assert!(e.yaml.ends_with("version: 1\ncards: []\n"), "{}", e.yaml);
        assert!(e.yaml.starts_with(SCHEMA_COMMENT));
    }

    #[test]
    fn every_string_survives_yaml() {
        let nasty = [
            "plain",
            "yes",
            "no",
            "null",
            "~",
            "123",
            "+12223334444",
            "0x1F",
            "1e3",
            "- dash",
            ": colon",
            "#hash",
            "a: b",
            "'single'",
            "\"double\"",
            "back\\slash",
            "tab\there",
            "new\nline",
            "\r\n",
            "\u{0}\u{7}\u{1b}",
            "\u{85}\u{2028}",
            "\u{feff}bom",
            "🎉 emoji",
            "Zoë",
            "日本語",
            "\u{7f}\u{80}\u{9f}",
            "  spaces  ",
            "",
        ];
        for s in nasty {
            let doc = format!("k: {}\n", quote(s));
            let parsed: std::collections::BTreeMap<String, String> =
                serde_yaml::from_str(&doc).unwrap_or_else(|e| panic!("{s:?}: {e}\n{doc}"));
            assert_eq!(parsed["k"], s, "{doc}");
            // And the parser the desired-state loader is built on.
            let docs = yaml_rust2::YamlLoader::load_from_str(&doc)
                .unwrap_or_else(|e| panic!("{s:?}: {e}\n{doc}"));
            assert_eq!(docs[0]["k"].as_str(), Some(s), "{doc}");
        }
    }

    #[test]
    fn export_loads_back_and_plans_nothing() {
        use crate::image::ImageVerdicts;
        use crate::plan::{compute, PlanOptions};
        let l = live(vec![
            card(
                "+12223335555",
                "Acme",
                Some("Billing"),
                Some("https://cdn.linqapp.com/contact-card/a.png"),
                true,
            ),
            card("+12223334444", "yes", Some("null"), None, true),
            card("+12223336666", "Zoë \"Z\" #1: ok", None, Some(""), true),
            card("+12223337777", "", Some("x"), None, true),
        ]);
        let e = render(&l);
        let desired = crate::config::load_str(
            std::path::Path::new("exported.yaml"),
            &e.yaml,
            crate::config::LoadOptions::default(),
        )
        .unwrap_or_else(|d| panic!("{d:?}\n{}", e.yaml));
        assert_eq!(desired.cards.len(), 3);
        let plan = compute(
            &desired,
            &l,
            &ImageVerdicts::default(),
            &PlanOptions::default(),
        )
        .expect("plan");
        assert!(plan.changes.is_empty(), "{:?}", plan.changes);
        assert_eq!(plan.unmanaged, ["+12223337777"]);
    }

    #[test]
    fn export_parses_as_yaml_with_string_numbers() {
        let e = render(&live(vec![card("+12223334444", "Acme", None, None, true)]));
        let v: serde_yaml::Value = serde_yaml::from_str(&e.yaml).expect("yaml");
        assert_eq!(v["cards"][0]["phone_number"].as_str(), Some("+12223334444"));
        assert_eq!(v["version"].as_u64(), Some(1));
    }
}
