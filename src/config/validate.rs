//! Document tree -> [`DesiredState`] plus every diagnostic (pure: no I/O, no env).
//!
//! All problems of a file are collected, not only the first. Types are decided
//! here, not by YAML's resolver:
//! - the string fields (`phone_number`, `first_name`, `last_name`, `image_url`)
//!   take a scalar's text verbatim, whatever it looks like, so `+12223334444`,
//!   `007` or `No` stay those strings. A null (`~`, `null`, nothing) is treated
//!   as an empty value, which the API cannot set (it cannot clear a field);
//! - `version` must be the plain integer `1`.

use std::collections::HashMap;
use std::path::Path;

use super::load::{Document, Node, NodeKind, Pos, ScalarStyle};
use super::{DesiredCard, DesiredState, LoadOptions, PhoneNumber};
use crate::diag::Diagnostic;

/// Keys of the file's top-level mapping.
pub const TOP_KEYS: &[&str] = &["version", "defaults", "cards"];
/// Keys of a card: exactly the API's fields (LINQ_API.md, "What a contact card is").
pub const CARD_KEYS: &[&str] = &["phone_number", "first_name", "last_name", "image_url"];
/// Keys `defaults` may set: every card field but the number.
pub const DEFAULT_KEYS: &[&str] = &["first_name", "last_name", "image_url"];

/// Check a parsed document and merge `defaults` into each card.
pub fn validate(
    path: &Path,
    doc: &Document,
    opts: LoadOptions,
) -> Result<DesiredState, Vec<Diagnostic>> {
    let mut v = Validator {
        path,
        opts,
        diags: Vec::new(),
        suggested: Vec::new(),
    };
    let cards = v.file(doc);
    if v.diags.is_empty() {
        Ok(DesiredState {
            path: path.to_path_buf(),
            cards,
        })
    } else {
        let mut diags = v.diags;
        // File-level problems first, then in file order (stable: same line keeps
        // the order found).
        diags.sort_by_key(|d| (d.line.unwrap_or(0), d.column.unwrap_or(0)));
        Err(diags)
    }
}

/// A field's value as read from one mapping.
#[derive(Debug, Clone, Default)]
enum Field {
    #[default]
    Absent,
    /// Present but rejected; its diagnostic is already recorded.
    Invalid,
    Value(String),
}

impl Field {
    /// The card's own value, else the default's. An invalid value on either side
    /// stays invalid so that no second message follows the first.
    fn or_default(&self, default: &Field) -> Field {
        match self {
            Field::Absent => default.clone(),
            other => other.clone(),
        }
    }

    fn into_option(self) -> Option<String> {
        match self {
            Field::Value(s) => Some(s),
            Field::Absent | Field::Invalid => None,
        }
    }
}

#[derive(Debug, Default)]
struct Fields {
    first_name: Field,
    last_name: Field,
    image_url: Field,
}

struct Validator<'a> {
    path: &'a Path,
    opts: LoadOptions,
    diags: Vec<Diagnostic>,
    /// Keys proposed for misspelt ones in the current mapping: a "missing"
    /// message for one of them would only repeat the typo's.
    suggested: Vec<&'static str>,
}

impl Validator<'_> {
    fn report(
        &mut self,
        card: Option<&str>,
        pos: Option<Pos>,
        message: String,
        hint: Option<String>,
    ) {
        self.diags.push(Diagnostic {
            file: self.path.to_path_buf(),
            card: card.map(str::to_string),
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
            message,
            hint,
        });
    }

    fn file(&mut self, doc: &Document) -> Vec<DesiredCard> {
        let Some(root) = &doc.root else {
            self.report(
                None,
                None,
                "the file is empty; expected a mapping with a `cards` list".to_string(),
                Some("start from examples/cards.yaml".to_string()),
            );
            return Vec::new();
        };
        let NodeKind::Mapping(entries) = &root.kind else {
            self.report(
                None,
                Some(root.pos),
                format!(
                    "the file must be a mapping with `version`, `defaults` and `cards`, found {}",
                    root.describe()
                ),
                None,
            );
            return Vec::new();
        };
        self.reject_tag(None, root);

        let mut version = None;
        let mut defaults = None;
        let mut cards = None;
        for (key, value) in self.keys(None, entries, TOP_KEYS) {
            match key {
                "version" => version = Some(value),
                "defaults" => defaults = Some(value),
                "cards" => cards = Some(value),
                _ => unreachable!("keys() only yields allowed keys"),
            }
        }
        if let Some(v) = version {
            self.version(v);
        }
        let defaults = defaults.map(|d| self.defaults(d)).unwrap_or_default();
        match cards {
            Some(cards) => self.cards(cards, &defaults),
            None => {
                self.report(
                    None,
                    Some(root.pos),
                    "missing `cards`: the list of cards this file manages".to_string(),
                    Some(
                        "add `cards:` with one `- phone_number: ...` entry per number".to_string(),
                    ),
                );
                Vec::new()
            }
        }
    }

    /// The allowed keys of a mapping with their values, reporting non-string,
    /// duplicate and unknown keys (with a "did you mean").
    fn keys<'n>(
        &mut self,
        card: Option<&str>,
        entries: &'n [(std::sync::Arc<Node>, std::sync::Arc<Node>)],
        allowed: &[&'static str],
    ) -> Vec<(&'static str, &'n Node)> {
        let mut seen: HashMap<&'static str, Pos> = HashMap::new();
        let mut out = Vec::new();
        for (key, value) in entries {
            let NodeKind::Scalar { text, .. } = &key.kind else {
                self.report(
                    card,
                    Some(key.pos),
                    format!("a key must be a plain name, found {}", key.describe()),
                    None,
                );
                continue;
            };
            let Some(&name) = allowed.iter().find(|k| **k == text.as_str()) else {
                if text == "phone_number" {
                    // Only `defaults` lacks it.
                    self.report(
                        card,
                        Some(key.pos),
                        "`phone_number` cannot have a default: each card names its own number"
                            .to_string(),
                        Some("move it into a card".to_string()),
                    );
                    continue;
                }
                let suggestion = suggest_key(text, allowed);
                if let Some(s) = suggestion {
                    self.suggested.push(s);
                }
                let hint = suggestion
                    .map(|s| format!("did you mean \"{s}\"?"))
                    .or_else(|| key_hint(text))
                    .unwrap_or_else(|| format!("expected one of: {}", allowed.join(", ")));
                self.report(
                    card,
                    Some(key.pos),
                    format!("unknown key \"{text}\""),
                    Some(hint),
                );
                continue;
            };
            if let Some(first) = seen.get(name) {
                self.report(
                    card,
                    Some(key.pos),
                    format!(
                        "duplicate key \"{name}\" (first set on line {})",
                        first.line
                    ),
                    Some("keep one of them".to_string()),
                );
                continue;
            }
            seen.insert(name, key.pos);
            out.push((name, value.as_ref()));
        }
        out
    }

    fn reject_tag(&mut self, card: Option<&str>, node: &Node) -> bool {
        match &node.tag {
            None => false,
            Some(t) if is_str_tag(t) && matches!(node.kind, NodeKind::Scalar { .. }) => false,
            Some(t) => {
                self.report(
                    card,
                    Some(node.pos),
                    format!("YAML tag \"{t}\" is not supported here"),
                    Some(
                        "remove the tag (`!!str` on a string is the only one accepted)".to_string(),
                    ),
                );
                true
            }
        }
    }

    fn version(&mut self, node: &Node) {
        if self.reject_tag(None, node) {
            return;
        }
        match &node.kind {
            NodeKind::Scalar {
                text,
                style: ScalarStyle::Plain,
            } if text == "1" => {}
            NodeKind::Scalar {
                text,
                style: ScalarStyle::Plain,
            } if !node.is_null() && text.parse::<i64>().is_ok() => self.report(
                None,
                Some(node.pos),
                format!("unsupported version {text}: only version 1 exists"),
                Some("write `version: 1` or leave it out".to_string()),
            ),
            _ => self.report(
                None,
                Some(node.pos),
                format!(
                    "`version` must be the number 1, found {}",
                    describe_value(node)
                ),
                Some("write `version: 1` or leave it out".to_string()),
            ),
        }
    }

    fn defaults(&mut self, node: &Node) -> Fields {
        if node.is_null() {
            return Fields::default();
        }
        let NodeKind::Mapping(entries) = &node.kind else {
            self.report(
                None,
                Some(node.pos),
                format!(
                    "`defaults` must be a mapping of card fields, found {}",
                    node.describe()
                ),
                None,
            );
            return Fields::default();
        };
        self.reject_tag(None, node);
        let mut fields = Fields::default();
        let entries = self.keys(None, entries, DEFAULT_KEYS);
        for (key, value) in entries {
            self.field(None, key, value, &mut fields, "defaults.");
        }
        fields
    }

    /// Read one string field into `fields`, checking it.
    fn field(
        &mut self,
        card: Option<&str>,
        key: &str,
        node: &Node,
        fields: &mut Fields,
        prefix: &str,
    ) {
        let value = match self.string(card, key, node, prefix) {
            Some(s) => match key {
                "image_url" => self.image_url(card, node.pos, s, prefix),
                _ => Field::Value(s),
            },
            None => Field::Invalid,
        };
        match key {
            "first_name" => fields.first_name = value,
            "last_name" => fields.last_name = value,
            "image_url" => fields.image_url = value,
            other => unreachable!("field() is only called for card fields, got {other}"),
        }
    }

    /// A non-empty string value, or `None` after reporting why not.
    fn string(
        &mut self,
        card: Option<&str>,
        key: &str,
        node: &Node,
        prefix: &str,
    ) -> Option<String> {
        if self.reject_tag(card, node) {
            return None;
        }
        let NodeKind::Scalar { text, .. } = &node.kind else {
            self.report(
                card,
                Some(node.pos),
                format!(
                    "`{prefix}{key}` must be a string, found {}",
                    node.describe()
                ),
                None,
            );
            return None;
        };
        if node.is_null() || text.trim().is_empty() {
            let message = if key == "first_name" {
                format!("`{prefix}first_name` is empty: it is required, and the API cannot clear a field")
            } else {
                format!("`{prefix}{key}` is empty: the API cannot clear a field")
            };
            let hint = if key == "first_name" {
                "give it a value".to_string()
            } else {
                format!("leave `{key}` out to leave it unmanaged: the tool then never changes it")
            };
            self.report(card, Some(node.pos), message, Some(hint));
            return None;
        }
        Some(text.clone())
    }

    fn image_url(&mut self, card: Option<&str>, pos: Pos, raw: String, prefix: &str) -> Field {
        let fail = |v: &mut Self, message: String, hint: Option<String>| {
            v.report(card, Some(pos), message, hint);
            Field::Invalid
        };
        let url = match url::Url::parse(&raw) {
            Ok(u) => u,
            Err(e) => {
                return fail(
                    self,
                    format!("`{prefix}image_url` {raw:?} is not an absolute URL ({e})"),
                    Some("use a public https:// URL of the image".to_string()),
                )
            }
        };
        match url.scheme() {
            "https" if url.host().is_some() => Field::Value(raw),
            "http" if crate::settings::host_is_loopback(&url) => {
                if self.opts.allow_loopback_http_images {
                    Field::Value(raw)
                } else {
                    fail(
                        self,
                        format!("`{prefix}image_url` {raw:?} is not https"),
                        Some(
                            "plain http:// is accepted only for loopback hosts while the API URL is itself loopback (local testing)"
                                .to_string(),
                        ),
                    )
                }
            }
            "http" => {
                let mut https = url.clone();
                let hint = https
                    .set_scheme("https")
                    .ok()
                    .map(|()| format!("did you mean \"{https}\"?"));
                fail(
                    self,
                    format!("`{prefix}image_url` {raw:?} is not https: Linq downloads images over HTTPS only"),
                    hint,
                )
            }
            _ => fail(
                self,
                format!("`{prefix}image_url` {raw:?} is not an absolute https:// URL"),
                Some("use a public https:// URL of the image".to_string()),
            ),
        }
    }

    fn cards(&mut self, node: &Node, defaults: &Fields) -> Vec<DesiredCard> {
        if node.is_null() {
            // `cards:` with nothing under it: almost certainly a mistake, since
            // an empty list must be written `cards: []`.
            self.report(
                None,
                Some(node.pos),
                "`cards` is empty (null); write `cards: []` for a file that manages no card"
                    .to_string(),
                None,
            );
            return Vec::new();
        }
        let NodeKind::Sequence(items) = &node.kind else {
            self.report(
                None,
                Some(node.pos),
                format!("`cards` must be a list of cards, found {}", node.describe()),
                Some("each card starts with `- phone_number: ...`".to_string()),
            );
            return Vec::new();
        };
        self.reject_tag(None, node);
        let mut out = Vec::with_capacity(items.len());
        let mut seen: HashMap<PhoneNumber, Pos> = HashMap::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if let Some(card) = self.card(i + 1, item, defaults, &mut seen) {
                out.push(card);
            }
        }
        out
    }

    fn card(
        &mut self,
        position: usize,
        node: &Node,
        defaults: &Fields,
        seen: &mut HashMap<PhoneNumber, Pos>,
    ) -> Option<DesiredCard> {
        let by_position = format!("card #{position}");
        let NodeKind::Mapping(entries) = &node.kind else {
            let hint = match &node.kind {
                NodeKind::Scalar { text, .. } if !node.is_null() => Some(format!(
                    "write `- phone_number: \"{text}\"` and `first_name: ...` on the next line"
                )),
                _ => None,
            };
            self.report(
                Some(&by_position),
                Some(node.pos),
                format!(
                    "a card must be a mapping with `phone_number` and `first_name`, found {}",
                    node.describe()
                ),
                hint,
            );
            return None;
        };
        self.reject_tag(Some(&by_position), node);

        // The card is named by its number when it has a valid one, so find that first.
        let phone_node = entries.iter().find_map(|(k, v)| {
            matches!(&k.kind, NodeKind::Scalar { text, .. } if text == "phone_number").then_some(v)
        });
        let phone = phone_node.and_then(|v| match &v.kind {
            NodeKind::Scalar { text, .. } if v.tag.as_deref().is_none_or(is_str_tag) => {
                PhoneNumber::parse(text).ok()
            }
            _ => None,
        });
        let label = phone
            .as_ref()
            .map_or(by_position.clone(), |p| p.as_str().to_string());
        let label = label.as_str();

        let mut fields = Fields::default();
        let mut phone_ok = false;
        self.suggested.clear();
        for (key, value) in self.keys(Some(label), entries, CARD_KEYS) {
            if key == "phone_number" {
                phone_ok = self.phone(label, value);
            } else {
                self.field(Some(label), key, value, &mut fields, "");
            }
        }
        if phone_node.is_none() && !self.suggested.contains(&"phone_number") {
            self.report(
                Some(label),
                Some(node.pos),
                "missing `phone_number`".to_string(),
                Some(
                    "every card needs its number in E.164 form, e.g. \"+12223334444\"".to_string(),
                ),
            );
        }

        let first_name = fields.first_name.or_default(&defaults.first_name);
        if matches!(first_name, Field::Absent) && !self.suggested.contains(&"first_name") {
            self.report(
                Some(label),
                Some(node.pos),
                "missing `first_name` (required, after defaults)".to_string(),
                Some("set `first_name` on the card or in `defaults`".to_string()),
            );
        }
        let last_name = fields.last_name.or_default(&defaults.last_name);
        let image_url = fields.image_url.or_default(&defaults.image_url);

        let phone = phone.filter(|_| phone_ok)?;
        if let Some(first) = seen.get(&phone) {
            self.report(
                Some(label),
                Some(node.pos),
                format!(
                    "phone number {phone} appears twice: cards on lines {} and {}",
                    first.line, node.pos.line
                ),
                Some("a number has one card; merge the two".to_string()),
            );
            return None;
        }
        seen.insert(phone.clone(), node.pos);
        let Field::Value(first_name) = first_name else {
            return None;
        };
        Some(DesiredCard {
            phone_number: phone,
            first_name,
            last_name: last_name.into_option(),
            image_url: image_url.into_option(),
            line: Some(node.pos.line),
        })
    }

    /// Check the `phone_number` value; true when it is valid E.164.
    fn phone(&mut self, label: &str, node: &Node) -> bool {
        let Some(text) = self.string(Some(label), "phone_number", node, "") else {
            return false;
        };
        match PhoneNumber::parse(&text) {
            Ok(_) => true,
            Err(e) => {
                let hint = match &e.suggestion {
                    Some(s) => format!("did you mean \"{s}\"?"),
                    None => "write it as + then the country code and number, e.g. \"+12223334444\""
                        .to_string(),
                };
                self.report(
                    Some(label),
                    Some(node.pos),
                    format!(
                        "phone number {text:?} is not in E.164 format (+ then 7 to 15 digits, no spaces or punctuation)"
                    ),
                    Some(hint),
                );
                false
            }
        }
    }
}

fn is_str_tag(tag: &str) -> bool {
    matches!(tag, "!!str" | "tag:yaml.org,2002:str")
}

fn describe_value(node: &Node) -> String {
    match &node.kind {
        NodeKind::Scalar { text, style } if !node.is_null() => match style {
            ScalarStyle::Plain => format!("{text:?}"),
            _ => format!("the string {text:?}"),
        },
        _ => node.describe().to_string(),
    }
}

/// The allowed key an unknown one most likely meant.
fn suggest_key(unknown: &str, allowed: &[&'static str]) -> Option<&'static str> {
    // `firstName`, `First-Name`, `first name` all mean `first_name`.
    let mut normalised = String::with_capacity(unknown.len() + 4);
    for (i, c) in unknown.trim().chars().enumerate() {
        if c.is_uppercase() && i > 0 && !normalised.ends_with('_') {
            normalised.push('_');
        }
        match c {
            '-' | ' ' => normalised.push('_'),
            c => normalised.extend(c.to_lowercase()),
        }
    }
    let normalised = normalised.replace("__", "_");
    if let Some(k) = allowed.iter().find(|k| **k == normalised) {
        return Some(k);
    }
    if let Some(m) = similar::get_close_matches(normalised.as_str(), allowed, 1, 0.6).first() {
        return allowed.iter().find(|k| **k == *m).copied();
    }
    // `phone` -> `phone_number`, `image` -> `image_url`.
    (normalised.len() >= 4)
        .then(|| {
            allowed
                .iter()
                .find(|k| k.starts_with(normalised.as_str()))
                .copied()
        })
        .flatten()
}

/// Advice for unknown keys that are not typos of an allowed one.
fn key_hint(unknown: &str) -> Option<String> {
    match unknown {
        "is_active" => Some("`is_active` is set by Linq, not by the file".to_string()),
        "<<" => Some("merge keys are not supported; use `defaults` for shared fields".to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;

    fn load(text: &str) -> Result<DesiredState, Vec<Diagnostic>> {
        load_str(Path::new("cards.yaml"), text, LoadOptions::default())
    }

    fn errors(text: &str) -> Vec<Diagnostic> {
        match load(text) {
            Ok(s) => panic!("expected errors, got {s:?}"),
            Err(d) => d,
        }
    }

    /// The one diagnostic of a file, with its line.
    fn one_error(text: &str) -> Diagnostic {
        let d = errors(text);
        assert_eq!(d.len(), 1, "{d:#?}");
        d.into_iter().next().expect("length checked")
    }

    fn full(d: &Diagnostic) -> String {
        format!("{} | {}", d.message, d.hint.as_deref().unwrap_or(""))
    }

    #[test]
    fn unquoted_plus_number_stays_a_string() {
        let s =
            load("cards:\n  - phone_number: +12223334444\n    first_name: Acme\n").expect("valid");
        assert_eq!(s.cards[0].phone_number.as_str(), "+12223334444");
        assert_eq!(s.cards[0].line, Some(2));
    }

    #[test]
    fn defaults_merge_and_card_overrides() {
        let s = load(
            "version: 1\ndefaults:\n  last_name: Support\n  image_url: https://cdn.example.com/a.png\ncards:\n  - phone_number: \"+12223334444\"\n    first_name: Acme\n  - phone_number: +12223335555\n    first_name: Acme\n    last_name: Billing\n",
        )
        .expect("valid");
        assert_eq!(s.cards.len(), 2);
        assert_eq!(s.cards[0].last_name.as_deref(), Some("Support"));
        assert_eq!(s.cards[1].last_name.as_deref(), Some("Billing"));
        assert_eq!(
            s.cards[1].image_url.as_deref(),
            Some("https://cdn.example.com/a.png")
        );
        assert_eq!(s.cards[1].line, Some(8));
    }

    #[test]
    fn first_name_from_defaults_and_unmanaged_fields() {
        let s = load("defaults:\n  first_name: Acme\ncards:\n  - phone_number: '+12223334444'\n")
            .expect("valid");
        assert_eq!(s.cards[0].first_name, "Acme");
        assert_eq!(s.cards[0].last_name, None);
        assert_eq!(s.cards[0].image_url, None);
    }

    #[test]
    fn scalars_are_read_verbatim_for_string_fields() {
        let s = load(
            "cards:\n  - phone_number: +12223334444\n    first_name: 007\n    last_name: No\n",
        )
        .expect("valid");
        assert_eq!(s.cards[0].first_name, "007");
        assert_eq!(s.cards[0].last_name.as_deref(), Some("No"));
    }

    #[test]
    fn empty_cards_list_is_valid() {
        assert_eq!(load("cards: []\n").expect("valid").cards, vec![]);
    }

    #[test]
    fn formatted_number_proposes_e164() {
        for (input, want) in [
            ("\"(415) 555-1234\"", "+14155551234"),
            ("14155551234", "+14155551234"),
        ] {
            let d = one_error(&format!(
                "cards:\n  - phone_number: {input}\n    first_name: A\n"
            ));
            assert_eq!(d.line, Some(2));
            assert_eq!(d.card.as_deref(), Some("card #1"));
            assert!(d.message.contains("E.164"), "{}", full(&d));
            assert_eq!(
                d.hint.as_deref(),
                Some(format!("did you mean \"{want}\"?").as_str())
            );
        }
    }

    #[test]
    fn unknown_key_suggests_close_match() {
        let d = one_error(
            "cards:\n  - phone_number: +12223334444\n    first_name: A\n    frist_name: B\n",
        );
        assert_eq!((d.line, d.column), (Some(4), Some(5)));
        assert_eq!(d.card.as_deref(), Some("+12223334444"));
        assert!(
            d.message.contains("unknown key \"frist_name\""),
            "{}",
            full(&d)
        );
        assert_eq!(d.hint.as_deref(), Some("did you mean \"first_name\"?"));
        // A typo of a required key is one problem, not also "missing first_name".
        let d = one_error("cards:\n  - phone_number: +12223334444\n    firstname: A\n");
        assert_eq!(d.hint.as_deref(), Some("did you mean \"first_name\"?"));
        let d = one_error(
            "cards:\n  - phone_number: +12223334444\n    first_name: A\n    colour: red\n",
        );
        assert!(
            d.hint
                .as_deref()
                .is_some_and(|h| h.contains("expected one of: phone_number")),
            "{}",
            full(&d)
        );

        for (key, want) in [
            ("firstName", "first_name"),
            ("image", "image_url"),
            ("phone", "phone_number"),
            ("Last-Name", "last_name"),
        ] {
            assert_eq!(suggest_key(key, CARD_KEYS), Some(want), "{key}");
        }
        assert_eq!(suggest_key("colour", CARD_KEYS), None);

        let d = one_error("version: 1\ncard:\n  - phone_number: +12223334444\ncards: []\n");
        assert_eq!(d.line, Some(2));
        assert_eq!(d.hint.as_deref(), Some("did you mean \"cards\"?"));
    }

    #[test]
    fn empty_string_says_api_cannot_clear() {
        let d = one_error(
            "cards:\n  - phone_number: +12223334444\n    first_name: A\n    last_name: \"\"\n",
        );
        assert_eq!(d.line, Some(4));
        assert!(d.message.contains("cannot clear a field"), "{}", full(&d));
        assert!(
            d.hint.as_deref().is_some_and(|h| h.contains("unmanaged")),
            "{}",
            full(&d)
        );

        // A null value is the same mistake.
        let d = one_error("defaults:\n  image_url:\ncards: []\n");
        assert_eq!(d.line, Some(2));
        assert!(d.message.contains("defaults.image_url"), "{}", full(&d));
    }

    #[test]
    fn duplicate_number_names_both_lines() {
        let d = one_error("cards:\n  - phone_number: +12223334444\n    first_name: A\n  - phone_number: \"+12223334444\"\n    first_name: B\n");
        assert_eq!(d.line, Some(4));
        assert!(d.message.contains("lines 2 and 4"), "{}", full(&d));
        assert_eq!(d.card.as_deref(), Some("+12223334444"));
    }

    #[test]
    fn missing_or_empty_first_name() {
        let d = one_error("cards:\n  - phone_number: +12223334444\n    last_name: A\n");
        assert!(d.message.contains("missing `first_name`"), "{}", full(&d));
        assert_eq!(d.line, Some(2));
        let d = one_error("cards:\n  - phone_number: +12223334444\n    first_name: '  '\n");
        assert!(d.message.contains("first_name` is empty"), "{}", full(&d));
        assert_eq!(d.line, Some(3));
        // An empty default does not add a second "missing" message.
        let d = one_error("defaults:\n  first_name: ''\ncards:\n  - phone_number: +12223334444\n");
        assert_eq!(d.line, Some(2));
    }

    #[test]
    fn missing_phone_number() {
        let d = one_error("cards:\n  - first_name: A\n");
        assert_eq!(d.card.as_deref(), Some("card #1"));
        assert!(d.message.contains("missing `phone_number`"), "{}", full(&d));
    }

    #[test]
    fn image_url_rules() {
        let file = |url: &str| {
            format!(
                "cards:\n  - phone_number: +12223334444\n    first_name: A\n    image_url: {url}\n"
            )
        };
        for bad in [
            "http://cdn.example.com/a.png",
            "/logo.png",
            "ftp://x.example/a.png",
            "logo.png",
            "http://127.0.0.1:8080/a.png",
        ] {
            let d = one_error(&file(bad));
            assert_eq!(d.line, Some(4), "{bad}");
            assert!(d.message.contains("image_url"), "{}", full(&d));
        }
        let d = one_error(&file("http://cdn.example.com/a.png"));
        assert_eq!(
            d.hint.as_deref(),
            Some("did you mean \"https://cdn.example.com/a.png\"?")
        );
        let d = one_error(&file("http://localhost:9/a.png"));
        assert!(
            d.hint.as_deref().is_some_and(|h| h.contains("loopback")),
            "{}",
            full(&d)
        );

        let loopback = LoadOptions {
            allow_loopback_http_images: true,
        };
        for ok in [
            "http://127.0.0.1:8080/a.png",
            "http://localhost/a.png",
            "http://[::1]/a.png",
            "https://cdn.example.com/a.png",
        ] {
            load_str(Path::new("c.yaml"), &file(ok), loopback).expect(ok);
        }
        // Loopback only: a public http host stays refused even then.
        load_str(
            Path::new("c.yaml"),
            &file("http://example.com/a.png"),
            loopback,
        )
        .expect_err("public http");
    }

    #[test]
    fn version_must_be_1() {
        load("version: 1\ncards: []\n").expect("valid");
        for (text, needle) in [
            ("version: 2", "unsupported version 2"),
            ("version: \"1\"", "the string \"1\""),
            ("version: one", "\"one\""),
            ("version: [1]", "a list"),
        ] {
            let d = one_error(&format!("{text}\ncards: []\n"));
            assert_eq!(d.line, Some(1), "{text}");
            assert!(d.message.contains(needle), "{text}: {}", full(&d));
        }
    }

    #[test]
    fn file_must_be_a_mapping() {
        for (text, needle) in [
            ("- a\n- b\n", "found a list"),
            ("hello\n", "found a scalar"),
            ("", "empty"),
            ("# only a comment\n", "empty"),
        ] {
            let d = one_error(text);
            assert!(d.message.contains(needle), "{text:?}: {}", full(&d));
        }
        let d = one_error("version: 1\n");
        assert!(d.message.contains("missing `cards`"), "{}", full(&d));
        let d = one_error("cards:\n");
        assert!(d.message.contains("cards: []"), "{}", full(&d));
    }

    #[test]
    fn wrong_types() {
        let cases = [
            (
                "cards:\n  - phone_number: +12223334444\n    first_name: [A, B]\n",
                3,
                "`first_name` must be a string, found a list",
            ),
            (
                "cards:\n  - phone_number: +12223334444\n    first_name: {a: 1}\n",
                3,
                "found a mapping",
            ),
            (
                "cards:\n  phone_number: +12223334444\n",
                2,
                "`cards` must be a list",
            ),
            ("cards:\n  - +12223334444\n", 2, "a card must be a mapping"),
            (
                "defaults: [a]\ncards: []\n",
                1,
                "`defaults` must be a mapping",
            ),
            (
                "cards:\n  - phone_number: [+12223334444]\n    first_name: A\n",
                2,
                "`phone_number` must be a string",
            ),
            (
                "cards:\n  - ? [a]\n    : b\n    phone_number: +12223334444\n    first_name: A\n",
                2,
                "a key must be a plain name",
            ),
            (
                "cards:\n  - phone_number: +12223334444\n    first_name: !!int 5\n",
                3,
                "YAML tag",
            ),
        ];
        for (text, line, needle) in cases {
            let d = errors(text);
            assert!(
                d.iter()
                    .any(|d| d.line == Some(line) && d.message.contains(needle)),
                "{text:?}: {d:#?}"
            );
        }
        // `!!str` is accepted on strings.
        load("cards:\n  - phone_number: !!str +12223334444\n    first_name: !!str 5\n")
            .expect("valid");
    }

    #[test]
    fn phone_number_in_defaults_and_duplicate_keys() {
        let d = one_error("defaults:\n  phone_number: +12223334444\ncards: []\n");
        assert!(d.message.contains("cannot have a default"), "{}", full(&d));
        assert_eq!(d.line, Some(2));
        let d = one_error(
            "cards:\n  - phone_number: +12223334444\n    first_name: A\n    first_name: B\n",
        );
        assert!(
            d.message
                .contains("duplicate key \"first_name\" (first set on line 3)"),
            "{}",
            full(&d)
        );
        assert_eq!(d.line, Some(4));
    }

    #[test]
    fn syntax_error_has_line() {
        let d =
            one_error("cards:\n  - phone_number: +12223334444\n    first_name: \"unterminated\n");
        assert!(d.message.starts_with("YAML syntax error"), "{}", full(&d));
        assert!(d.line.is_some());
        let d = one_error("cards:\n  - phone_number: +1\n   bad: [\n");
        assert!(d.message.starts_with("YAML syntax error"), "{}", full(&d));
        let d = one_error("cards: []\n---\ncards: []\n");
        assert!(
            d.message.contains("more than one YAML document"),
            "{}",
            full(&d)
        );
        assert_eq!(d.line, Some(2));
    }

    #[test]
    fn all_problems_reported_at_once_in_file_order() {
        let d = errors("version: 3\ncards:\n  - phone_number: 4155551234\n    first_name: A\n  - phone_number: +12223334444\n    frist_name: B\n    image_url: http://x.example/a.png\n");
        let lines: Vec<_> = d.iter().map(|d| d.line).collect();
        assert_eq!(lines, vec![Some(1), Some(3), Some(6), Some(7)], "{d:#?}");
        // The second card is named by its number in each of its messages.
        assert!(
            d[2..]
                .iter()
                .all(|d| d.card.as_deref() == Some("+12223334444")),
            "{d:#?}"
        );
        assert!(d.iter().all(|d| d.file == Path::new("cards.yaml")));
    }

    #[test]
    fn aliases_expand() {
        let s = load("defaults:\n  first_name: &n Acme\ncards:\n  - phone_number: +12223334444\n    last_name: *n\n")
            .expect("valid");
        assert_eq!(s.cards[0].last_name.as_deref(), Some("Acme"));
    }
}
