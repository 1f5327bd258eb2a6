//! The plan as Markdown for a pull-request comment (SPEC "plan"): the hidden
//! marker first (CI updates one sticky comment), the summary table, the
//! digest, the warnings, one `<details>` block per change with an image change
//! shown as two small pictures side by side, and the unmanaged numbers.
//!
//! Every card string goes through [`text`] or [`attr`], so a name can never
//! break the comment's markup; the whole stays under [`MARKDOWN_LIMIT`] bytes
//! (hence characters), dropping changes with a note that says how many.

use std::io::{self, Write};

use super::summary_line;
use crate::plan::{Action, Change, Field, Plan, Reason};

/// The first line: lets CI find and update its own comment.
pub const MARKDOWN_MARKER: &str = "<!-- linq-cards:plan -->";

/// SPEC: the comment stays under 60,000 characters (GitHub's limit is 65,536).
pub const MARKDOWN_LIMIT: usize = 60_000;

/// Room kept for the closing notes, so that they always fit.
const TAIL_RESERVE: usize = 600;

/// At most this many warnings are listed; the rest are counted.
const MAX_WARNINGS: usize = 50;

/// Width and height of the inline pictures, in pixels.
const IMG_SIZE: u32 = 64;

pub fn render_markdown(plan: &Plan, out: &mut impl Write) -> io::Result<()> {
    out.write_all(render_markdown_limited(plan, MARKDOWN_LIMIT).as_bytes())
}

/// The Markdown, at most `limit` bytes long (`limit` must leave room for the
/// header and notes: a few kilobytes).
pub fn render_markdown_limited(plan: &Plan, limit: usize) -> String {
    let mut s = String::new();
    s.push_str(MARKDOWN_MARKER);
    s.push_str("\n### linq-cards plan\n\n");
    let sum = &plan.summary;
    s.push_str("| create | update | unchanged | unmanaged |\n|---:|---:|---:|---:|\n");
    s.push_str(&format!(
        "| {} | {} | {} | {} |\n\n",
        sum.create, sum.update, sum.unchanged, sum.unmanaged
    ));
    s.push_str(&format!(
        "**{}.** Plan digest: `{}`\n\n",
        summary_line(sum),
        text(&plan.plan_digest)
    ));
    if !plan.has_changes() {
        s.push_str("No changes: the live cards match the file.\n\n");
    }

    if !plan.warnings.is_empty() {
        s.push_str("#### Warnings\n\n");
        let mut shown = 0;
        for w in plan.warnings.iter().take(MAX_WARNINGS) {
            let line = match &w.phone_number {
                Some(n) => format!(
                    "- :warning: <code>{}</code>: {}\n",
                    text(n),
                    text(&w.message)
                ),
                None => format!("- :warning: {}\n", text(&w.message)),
            };
            // Warnings are short; still, they never crowd out the changes.
            if s.len() + line.len() > limit / 4 {
                break;
            }
            s.push_str(&line);
            shown += 1;
        }
        if shown < plan.warnings.len() {
            s.push_str(&format!(
                "- … and {} more warning(s); run `linq-cards plan` for all of them.\n",
                plan.warnings.len() - shown
            ));
        }
        s.push('\n');
    }

    let mut left_out = 0;
    if plan.has_changes() {
        s.push_str("#### Changes\n\n");
    }
    for change in &plan.changes {
        if left_out > 0 {
            left_out += 1;
            continue;
        }
        let block = change_block(change);
        if s.len() + block.len() + TAIL_RESERVE > limit {
            left_out += 1;
            continue;
        }
        s.push_str(&block);
    }
    if left_out > 0 {
        s.push_str(&format!(
            "> [!NOTE]\n> {left_out} of {} changes are not shown: this comment is limited to {} characters. \
             Run `linq-cards plan` to see them all; the digest above covers every change.\n\n",
            plan.changes.len(),
            MARKDOWN_LIMIT
        ));
    }

    if !plan.unmanaged.is_empty() {
        let mut block = format!(
            "<details><summary>{} unmanaged card(s): on the account, not in the file; never touched</summary>\n\n",
            plan.unmanaged.len()
        );
        for n in &plan.unmanaged {
            block.push_str(&format!("- <code>{}</code>\n", text(n)));
        }
        block.push_str("\n</details>\n");
        if s.len() + block.len() + 200 <= limit {
            s.push_str(&block);
        } else {
            s.push_str(&format!(
                "{} unmanaged card(s) (list left out for length).\n",
                plan.unmanaged.len()
            ));
        }
    }
    s
}

fn change_block(c: &Change) -> String {
    let body = &c.after.fields;
    let what = match (c.action, c.reason) {
        (Action::Create, Some(Reason::Inactive)) => "create (inactive)",
        (Action::Create, _) => "create (missing)",
        (Action::Update, _) => "update",
    };
    let mark = match c.action {
        Action::Create => "➕",
        Action::Update => "✏️",
    };
    let name = body
        .first_name
        .as_deref()
        .or(c.before.as_ref().map(|b| b.first_name.as_str()))
        .unwrap_or("");
    let mut s = format!(
        "<details><summary>{mark} <code>{}</code> {what}: {}</summary>\n\n",
        attr(&c.phone_number),
        text(name)
    );
    s.push_str("| field | live | planned |\n|---|---|---|\n");
    for field in Field::ALL {
        let new = field.planned_value(body);
        let old = c.before.as_ref().and_then(|b| field.live_value(b));
        if new.is_none() && old.is_none() {
            continue;
        }
        let cell = |v: Option<&str>| v.map_or_else(|| "—".to_string(), text);
        let planned = match new {
            Some(_) => format!("**{}**", cell(new)),
            None => "(unchanged)".to_string(),
        };
        s.push_str(&format!(
            "| `{}` | {} | {} |\n",
            field.as_str(),
            cell(old),
            planned
        ));
    }
    if let Some(new) = body.image_url.as_deref() {
        let old = c.before.as_ref().and_then(|b| b.image_url.as_deref());
        s.push_str("\n<table><tr><th>live</th><th>planned</th></tr><tr>");
        s.push_str(&format!("<td>{}</td>", img(old, "live image")));
        s.push_str(&format!("<td>{}</td>", img(Some(new), "planned image")));
        s.push_str("</tr></table>\n");
    }
    if !c.notes.is_empty() {
        s.push('\n');
        for n in &c.notes {
            s.push_str(&format!("- {}\n", text(n)));
        }
    }
    s.push_str("\n</details>\n\n");
    s
}

/// A small inline picture, only for an http(s) URL; anything else is shown as
/// text rather than handed to the browser.
fn img(url: Option<&str>, alt: &str) -> String {
    match url {
        None => "(none)".to_string(),
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => format!(
            "<img src=\"{}\" width=\"{IMG_SIZE}\" height=\"{IMG_SIZE}\" alt=\"{alt}\">",
            attr(u)
        ),
        Some(u) => text(u),
    }
}

/// A string as inert Markdown and HTML text: every ASCII punctuation character
/// that means something to either becomes a numeric character reference, and
/// control characters (newlines included, which would end a table row) become
/// visible escapes. Letters, digits, spaces and non-ASCII text stay as they are.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            // Harmless mid-line in both languages; kept readable.
            '.' | ',' | ':' | '/' | '-' | '?' | '=' | ';' | '+' | '%' => out.push(c),
            c if c.is_ascii_punctuation() => out.push_str(&format!("&#{};", c as u32)),
            c if c.is_control() || super::is_bidi_control(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// A string inside a double-quoted HTML attribute.
pub fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() => out.push_str(&format!("&#{};", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot() {
        let md = render_markdown_limited(&super::super::sample_plan(), MARKDOWN_LIMIT);
        assert!(md.starts_with(MARKDOWN_MARKER));
        insta::assert_snapshot!(md);
    }

    #[test]
    fn card_strings_cannot_break_the_markup() {
        let md = render_markdown_limited(&super::super::sample_plan(), MARKDOWN_LIMIT);
        for bad in [
            "<b>", "</b>", "|*_", "[link](", "`code`", "<script>", "\u{1b}", "\"2\"",
        ] {
            assert!(!md.contains(bad), "{bad:?} leaked into:\n{md}");
        }
        // Each <details> is closed: one per change.
        assert_eq!(
            md.matches("<details>").count(),
            md.matches("</details>").count()
        );
        // Table rows stay one line each: the newline in a name is escaped.
        assert!(md.contains("Acme Billing\\u{1b}&#91;31m\\u{a}Team"), "{md}");
        assert!(md.contains("Zoë &#38; Jürgen"), "{md}");
        assert!(
            md.contains("src=\"https://img.example.com/logo.png?a=1&amp;b=&quot;2&quot;\""),
            "{md}"
        );
    }

    #[test]
    fn image_change_shows_both_pictures() {
        let md = render_markdown_limited(&super::super::sample_plan(), MARKDOWN_LIMIT);
        let live = md
            .find("<img src=\"https://cdn.linqapp.com/contact-card/6666.png\"")
            .expect("live img");
        let new = md
            .find("<img src=\"https://img.example.com/new-logo.png\"")
            .expect("new img");
        assert!(live < new);
        assert!(!text("javascript:alert(1)").contains('('));
        assert_eq!(
            img(Some("javascript:alert(1)"), "x"),
            text("javascript:alert(1)")
        );
    }

    #[test]
    fn truncation_counts_what_was_left_out() {
        let mut plan = super::super::sample_plan();
        let template = plan.changes[2].clone();
        plan.changes = (0..2000)
            .map(|i| {
                let mut c = template.clone();
                c.phone_number = format!("+1555{i:07}");
                c
            })
            .collect();
        plan.summary.update = 2000;
        plan.summary.create = 0;
        plan.unmanaged = (0..5000).map(|i| format!("+1666{i:07}")).collect();
        let md = render_markdown_limited(&plan, MARKDOWN_LIMIT);
        assert!(md.len() < MARKDOWN_LIMIT, "{}", md.len());
        assert!(md.chars().count() < MARKDOWN_LIMIT);
        let shown = md.matches("<details><summary>✏️").count();
        assert!(shown > 50, "{shown}");
        let note = format!("{} of 2000 changes are not shown", 2000 - shown);
        assert!(md.contains(&note), "missing {note:?}");
        assert!(md.contains("5000 unmanaged card(s) (list left out for length)"));
        assert_eq!(
            md.matches("<details>").count(),
            md.matches("</details>").count()
        );

        // A small limit: the tail note still fits and counts correctly.
        let small = render_markdown_limited(&plan, 4000);
        assert!(small.len() <= 4000, "{}", small.len());
        let shown = small.matches("<details><summary>✏️").count();
        assert!(small.contains(&format!("{} of 2000 changes are not shown", 2000 - shown)));
    }

    #[test]
    fn many_warnings_are_capped() {
        let mut plan = super::super::sample_plan();
        plan.warnings = (0..500)
            .map(|i| crate::plan::Warning {
                phone_number: Some(format!("+1555{i:07}")),
                message: "image could not be verified".into(),
            })
            .collect();
        let md = render_markdown_limited(&plan, MARKDOWN_LIMIT);
        assert!(md.contains("and 450 more warning(s)"), "{md}");
    }
}
