//! The human plan, Terraform-like: the summary line first, then one block per
//! change (`+` create, `~` update) with old -> new values, then the unmanaged
//! numbers and the warnings. Colour (only when the caller allows it) marks the
//! changed words of each string.

use std::io::{self, Write};

use similar::{ChangeTag, TextDiff};

use super::{push_escaped, quote, summary_line};
use crate::plan::{Action, Change, Field, Plan, Reason};

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const DIM: &str = "\x1b[2m";
/// Deleted words: red, underlined (visible even to the colour-blind).
const DEL: &str = "\x1b[31;4m";
/// Inserted words: green, bold and underlined.
const INS: &str = "\x1b[32;1;4m";

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("{code}{s}{RESET}")
        } else {
            s.to_string()
        }
    }
}

/// Write the plan as text. `color` comes from `crate::use_color`.
pub fn render_text(plan: &Plan, color: bool, out: &mut impl Write) -> io::Result<()> {
    let st = Style { color };
    writeln!(
        out,
        "{} {}",
        st.paint(BOLD, "Plan:"),
        summary_line(&plan.summary)
    )?;
    writeln!(out, "Digest: {}", plan.plan_digest)?;
    for change in &plan.changes {
        writeln!(out)?;
        render_change(change, &st, out)?;
    }
    if !plan.has_changes() {
        writeln!(out)?;
        writeln!(out, "No changes. The live cards match the file.")?;
    }
    if !plan.unmanaged.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "Unmanaged (on the account, not in the file; never touched):"
        )?;
        for n in &plan.unmanaged {
            writeln!(out, "  {n}")?;
        }
    }
    if !plan.warnings.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", st.paint(YELLOW, "Warnings:"))?;
        for w in &plan.warnings {
            match &w.phone_number {
                Some(n) => writeln!(out, "  ! {n}: {}", escape_line(&w.message))?,
                None => writeln!(out, "  ! {}", escape_line(&w.message))?,
            }
        }
    }
    Ok(())
}

fn render_change(c: &Change, st: &Style, out: &mut impl Write) -> io::Result<()> {
    let (mark, code, what) = match (c.action, c.reason) {
        (Action::Create, Some(Reason::Inactive)) => ("+", GREEN, "create (inactive)"),
        (Action::Create, _) => ("+", GREEN, "create (missing)"),
        (Action::Update, _) => ("~", YELLOW, "update"),
    };
    writeln!(
        out,
        "{} {}  {}",
        st.paint(code, mark),
        st.paint(BOLD, &c.phone_number),
        what
    )?;
    let body = &c.after.fields;
    for field in Field::ALL {
        let new = field.planned_value(body);
        let old = c.before.as_ref().and_then(|b| field.live_value(b));
        let label = format!("{}:", field.as_str());
        match (old, new) {
            (Some(old), Some(new)) if old != new => {
                let (o, n) = highlight(old, new, st);
                writeln!(out, "    {label:<12}{o} -> {n}")?;
            }
            (_, Some(new)) => writeln!(out, "    {label:<12}{}", quote(new))?,
            // A create leaves an unmanaged field as it was; an update
            // does not touch the fields it does not send.
            (Some(old), None) => writeln!(
                out,
                "    {}",
                st.paint(DIM, &format!("{label:<12}{} (unchanged)", quote(old)))
            )?,
            (None, None) => {}
        }
    }
    for note in &c.notes {
        writeln!(
            out,
            "    {}",
            st.paint(DIM, &format!("# {}", escape_line(note)))
        )?;
    }
    Ok(())
}

/// Both strings quoted and escaped; with colour, the deleted words of `old`
/// and the inserted words of `new` are marked. Word granularity keeps a
/// rewritten URL one block rather than confetti.
fn highlight(old: &str, new: &str, st: &Style) -> (String, String) {
    if !st.color {
        return (quote(old), quote(new));
    }
    let diff = TextDiff::from_words(old, new);
    let (mut o, mut n) = (String::from("\""), String::from("\""));
    // Consecutive words of one kind go in one marked run.
    let mut runs: Vec<(ChangeTag, String)> = Vec::new();
    for change in diff.iter_all_changes() {
        match runs.last_mut() {
            Some((tag, text)) if *tag == change.tag() => text.push_str(change.value()),
            _ => runs.push((change.tag(), change.value().to_string())),
        }
    }
    for (tag, run) in runs {
        let mut escaped = String::new();
        for c in run.chars() {
            push_escaped(&mut escaped, c);
        }
        match tag {
            ChangeTag::Equal => {
                o.push_str(&escaped);
                n.push_str(&escaped);
            }
            ChangeTag::Delete => o.push_str(&format!("{DEL}{escaped}{RESET}")),
            ChangeTag::Insert => n.push_str(&format!("{INS}{escaped}{RESET}")),
        }
    }
    o.push('"');
    n.push('"');
    (o, n)
}

/// Warnings and notes may quote card strings: keep them on one line and free
/// of control characters.
fn escape_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || super::is_bidi_control(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Summary;

    fn render(plan: &Plan, color: bool) -> String {
        let mut out = Vec::new();
        render_text(plan, color, &mut out).expect("render");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn snapshot_plain() {
        let text = render(&super::super::sample_plan(), false);
        assert!(!text.contains('\x1b'), "no colour unless asked");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn snapshot_color() {
        insta::assert_snapshot!(render(&super::super::sample_plan(), true));
    }

    #[test]
    fn highlight_marks_only_the_changed_part() {
        let st = Style { color: true };
        let (o, n) = highlight("Acme Billing", "Acme Support", &st);
        assert!(o.starts_with("\"Acme "), "{o:?}");
        assert!(n.starts_with("\"Acme "), "{n:?}");
        assert!(n.contains(INS) && o.contains(DEL));
        // Escapes are applied inside the highlighted parts too.
        let (_, n) = highlight("a", "a\u{1b}", &st);
        assert_eq!(n.replace(INS, "").replace(RESET, ""), "\"a\\u{1b}\"");
    }

    #[test]
    fn empty_plan() {
        let mut plan = super::super::sample_plan();
        plan.changes.clear();
        plan.warnings.clear();
        plan.unmanaged.clear();
        plan.summary = Summary {
            unchanged: 1,
            ..Summary::default()
        };
        let text = render(&plan, false);
        assert!(
            text.starts_with("Plan: 0 to create, 0 to update, 1 unchanged, 0 unmanaged\n"),
            "{text}"
        );
        assert!(text.contains("No changes."), "{text}");
    }
}
