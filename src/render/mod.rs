//! Renderers: plans, diagnostics and apply results as text, JSON and Markdown.
//! They decide nothing; whatever they count or filter, the data provides.

pub mod apply;
pub mod json;
pub mod markdown;
pub mod text;

pub use json::render_json;
pub use markdown::{render_markdown, render_markdown_limited, MARKDOWN_LIMIT, MARKDOWN_MARKER};
pub use text::render_text;

use crate::plan::Summary;

/// "2 to create, 1 to update, 14 unchanged, 1 unmanaged".
pub fn summary_line(s: &Summary) -> String {
    format!(
        "{} to create, {} to update, {} unchanged, {} unmanaged",
        s.create, s.update, s.unchanged, s.unmanaged
    )
}

/// A card string in double quotes, with quotes, backslashes and every control
/// character escaped, so that no name can move the cursor or colour a
/// terminal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    out.push('"');
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c if c.is_control() || is_bidi_control(c) => {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
        c => out.push(c),
    }
}

/// Bidirectional overrides can make a name read differently from what it is
/// ("Trojan Source"); show them escaped.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// A plan with every kind of entry, for the renderers' snapshot tests.
#[cfg(test)]
pub(crate) fn sample_plan() -> crate::plan::Plan {
    use crate::api::CardFields;
    use crate::plan::model::{ChangeBody, FORMAT_VERSION};
    use crate::plan::{Action, Change, Field, LiveFields, Plan, Reason, Warning};

    let body = |n: Option<&str>, f: Option<&str>, l: Option<&str>, i: Option<&str>| ChangeBody {
        phone_number: n.map(Into::into),
        fields: CardFields {
            first_name: f.map(Into::into),
            last_name: l.map(Into::into),
            image_url: i.map(Into::into),
        },
    };
    let changes = vec![
        Change {
            phone_number: "+12223334444".into(),
            action: Action::Create,
            reason: Some(Reason::Missing),
            fields: None,
            before: None,
            after: body(
                Some("+12223334444"),
                Some("Acme <b>|*_Support_*|</b>"),
                Some("Zoë & Jürgen"),
                Some("https://img.example.com/logo.png?a=1&b=\"2\""),
            ),
            notes: vec!["no card for this number".into()],
        },
        Change {
            phone_number: "+12223335555".into(),
            action: Action::Create,
            reason: Some(Reason::Inactive),
            fields: None,
            before: Some(LiveFields {
                first_name: "Acme".into(),
                last_name: Some("Old".into()),
                image_url: None,
                is_active: false,
            }),
            after: body(Some("+12223335555"), Some("Acme"), None, None),
            notes: vec![
                "the card is inactive (setup or the last update did not complete): set up again"
                    .into(),
            ],
        },
        Change {
            phone_number: "+12223336666".into(),
            action: Action::Update,
            reason: None,
            fields: Some(vec![Field::FirstName, Field::ImageUrl]),
            before: Some(LiveFields {
                first_name: "Acme Billing".into(),
                last_name: Some("日本語 [link](javascript:x) `code`".into()),
                image_url: Some("https://cdn.linqapp.com/contact-card/6666.png".into()),
                is_active: true,
            }),
            after: body(
                None,
                Some("Acme Billing\u{1b}[31m\nTeam"),
                None,
                Some("https://img.example.com/new-logo.png"),
            ),
            notes: vec!["image_url: different picture".into()],
        },
        Change {
            phone_number: "+12223337777".into(),
            action: Action::Update,
            reason: None,
            fields: Some(vec![Field::LastName]),
            before: Some(LiveFields {
                first_name: "Ωmega".into(),
                last_name: Some("Sales".into()),
                image_url: None,
                is_active: true,
            }),
            after: body(None, None, Some("Sales & Support"), None),
            notes: vec![],
        },
    ];
    Plan {
        format_version: FORMAT_VERSION,
        tool_version: "0.1.0".into(),
        plan_digest: crate::plan::digest::compute(&changes),
        changes,
        unchanged: vec!["+12223338888".into()],
        unmanaged: vec!["+12223339999".into()],
        warnings: vec![
            Warning {
                phone_number: None,
                message: "the account's phone numbers are unknown".into(),
            },
            Warning {
                phone_number: Some("+12223338888".into()),
                message: "image could not be verified (HTTP 404 for <script>)".into(),
            },
        ],
        summary: crate::plan::Summary {
            create: 2,
            update: 2,
            unchanged: 1,
            unmanaged: 1,
        },
        api_url: Some("https://api.linqapp.com/api/partner".into()),
        account_fingerprint: Some("0".repeat(64)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_what_could_fool_a_terminal() {
        assert_eq!(quote("Acme"), "\"Acme\"");
        assert_eq!(quote("Zoë 🎉"), "\"Zoë 🎉\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("red\x1b[31m\n"), "\"red\\u{1b}[31m\\n\"");
        assert_eq!(quote("\u{202e}abc"), "\"\\u{202e}abc\"");
    }

    #[test]
    fn summary() {
        let s = Summary {
            create: 2,
            update: 1,
            unchanged: 14,
            unmanaged: 1,
        };
        assert_eq!(
            summary_line(&s),
            "2 to create, 1 to update, 14 unchanged, 1 unmanaged"
        );
    }
}
