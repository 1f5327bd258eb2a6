//! The pure planning core: (desired cards, live cards, image verdicts) -> [`Plan`],
//! following SPEC's "How plan decides" table row by row.
//!
//! No I/O, clock, network or environment here: everything comes in as arguments
//! and every list goes out sorted by number. Picture comparison is not done here
//! either: it arrives as [`ImageVerdicts`], and [`image_pairs`] says which pairs
//! the image checker should look at.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{CardFields, ContactCard};
use crate::config::{DesiredCard, DesiredState, PhoneError, PhoneNumber};
use crate::image::{ImageVerdict, ImageVerdicts};
use crate::live::LiveState;
use crate::plan::digest;
use crate::plan::model::{
    Action, Change, ChangeBody, Field, LiveFields, Plan, Reason, Summary, Warning, FORMAT_VERSION,
};
use crate::plan::stale::account_fingerprint;

/// The command-line options that shape a plan (`--target`, `--replace-image`,
/// `--strict`), as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Plan only these numbers; empty means every card of the file.
    pub targets: Vec<String>,
    /// Plan an `image_url` update for these numbers even when the pictures
    /// compare equal.
    pub replace_images: Vec<String>,
    /// An image that cannot be verified is an error, not a warning.
    pub strict: bool,
}

/// Why no plan could be made. Each variant lists every offending number, not
/// only the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{flag}: {error}")]
    InvalidNumber {
        flag: &'static str,
        error: PhoneError,
    },
    #[error("--target {}: not in the desired-state file", join(.0))]
    UnknownTarget(Vec<String>),
    #[error("--replace-image {}: not planned (the number must be in the file, manage image_url and be among the --target numbers)", join(.0))]
    ReplaceImageNotPlanned(Vec<String>),
    #[error("not on the account (GET /v3/phone_numbers): {}; remove the card or add the number to the account", join(.0))]
    NotOnAccount(Vec<String>),
    #[error("--strict: {} image problem(s): {}", .0.len(), .0.iter().map(|w| format!("{}: {}", w.phone_number.as_deref().unwrap_or("-"), w.message)).collect::<Vec<_>>().join("; "))]
    Strict(Vec<Warning>),
}

fn join(v: &[String]) -> String {
    v.join(", ")
}

/// What the image checker must look at before [`compute`] runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageWork {
    /// (source, live CDN URL) pairs of active cards whose URLs differ.
    pub pairs: Vec<(String, String)>,
    /// Sources that will be sent without a live picture to compare with
    /// (creates, and cards with no live image): only whether Linq can fetch
    /// them matters.
    pub sources: Vec<String>,
}

/// The pairs and lone sources the image checker should fetch, deduplicated and
/// sorted; limited to the `--target` numbers when there are any.
pub fn image_pairs(desired: &DesiredState, live: &LiveState, opts: &PlanOptions) -> ImageWork {
    let mut pairs = BTreeSet::new();
    let mut sources = BTreeSet::new();
    for card in &desired.cards {
        if !opts.targets.is_empty() && !opts.targets.iter().any(|t| t == card.phone_number.as_str())
        {
            continue;
        }
        let Some(src) = &card.image_url else { continue };
        match live.cards.get(card.phone_number.as_str()) {
            Some(l) if l.is_active => match &l.image_url {
                Some(cdn) if cdn != src => {
                    pairs.insert((src.clone(), cdn.clone()));
                }
                Some(_) => {}
                None => {
                    sources.insert(src.clone());
                }
            },
            _ => {
                sources.insert(src.clone());
            }
        }
    }
    ImageWork {
        pairs: pairs.into_iter().collect(),
        sources: sources.into_iter().collect(),
    }
}

/// Parse the numbers of a repeatable flag, reporting the first bad one with its
/// E.164 suggestion.
fn parse_numbers(flag: &'static str, raw: &[String]) -> Result<BTreeSet<String>, PlanError> {
    raw.iter()
        .map(|r| {
            PhoneNumber::parse(r)
                .map(|p| p.as_str().to_string())
                .map_err(|error| PlanError::InvalidNumber { flag, error })
        })
        .collect()
}

/// Check `--target` and `--replace-image` against the file, before anything
/// is read from the account: every target must be in the file, every
/// replaced image must be a managed `image_url` among the planned cards.
/// Returns the two sets of numbers.
pub fn check_options(
    desired: &DesiredState,
    opts: &PlanOptions,
) -> Result<(BTreeSet<String>, BTreeSet<String>), PlanError> {
    let in_file: BTreeMap<&str, &DesiredCard> = desired
        .cards
        .iter()
        .map(|c| (c.phone_number.as_str(), c))
        .collect();
    let targets = parse_numbers("--target", &opts.targets)?;
    let unknown: Vec<String> = targets
        .iter()
        .filter(|t| !in_file.contains_key(t.as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(PlanError::UnknownTarget(unknown));
    }
    let planned = |n: &str| targets.is_empty() || targets.contains(n);
    let replace = parse_numbers("--replace-image", &opts.replace_images)?;
    let not_planned: Vec<String> = replace
        .iter()
        .filter(|n| {
            !planned(n)
                || in_file
                    .get(n.as_str())
                    .is_none_or(|c| c.image_url.is_none())
        })
        .cloned()
        .collect();
    if !not_planned.is_empty() {
        return Err(PlanError::ReplaceImageNotPlanned(not_planned));
    }
    Ok((targets, replace))
}

/// Compute the plan. `desired` is the whole file; the `--target` filter and
/// the checks that come before anything else (every number on the account,
/// every target in the file) are applied here.
pub fn compute(
    desired: &DesiredState,
    live: &LiveState,
    verdicts: &ImageVerdicts,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    let in_file: BTreeMap<&str, &DesiredCard> = desired
        .cards
        .iter()
        .map(|c| (c.phone_number.as_str(), c))
        .collect();

    let (targets, replace) = check_options(desired, opts)?;
    let planned = |n: &str| targets.is_empty() || targets.contains(n);

    let mut warnings = Vec::new();
    // The whole file is checked, not only the targets: a number that is not on
    // the account is a mistake in the file, whichever cards this run writes.
    match &live.account_numbers {
        Some(numbers) => {
            let missing: Vec<String> = in_file
                .keys()
                .filter(|n| !numbers.contains(**n))
                .map(|n| n.to_string())
                .collect();
            if !missing.is_empty() {
                return Err(PlanError::NotOnAccount(missing));
            }
        }
        None => warnings.push(Warning {
            phone_number: None,
            message: "the account's phone numbers are unknown (live state read from a snapshot): \
                      numbers not on the account are not detected"
                .into(),
        }),
    }

    let mut changes = Vec::new();
    let mut unchanged = Vec::new();
    let mut image_problems = Vec::new();
    for (number, card) in &in_file {
        if !planned(number) {
            continue;
        }
        let decision = decide(
            card,
            live.cards.get(*number),
            verdicts,
            replace.contains(*number),
        );
        image_problems.extend(decision.image_problems);
        match decision.change {
            Some(change) => {
                // Linq downloads the source when it is sent: one it cannot
                // fetch makes the write fail (SPEC "Images").
                if let Some(src) = &change.after.fields.image_url {
                    if let Some(why) = verdicts.source_problems.get(src) {
                        image_problems.push(Warning {
                            phone_number: Some(number.to_string()),
                            message: format!(
                                "source image {src} could not be fetched ({why}): Linq would fail to rehost it"
                            ),
                        });
                    }
                }
                changes.push(change);
            }
            None => unchanged.push(number.to_string()),
        }
    }
    if opts.strict && !image_problems.is_empty() {
        return Err(PlanError::Strict(image_problems));
    }
    warnings.extend(image_problems);
    warnings.sort_by(|a, b| (&a.phone_number, &a.message).cmp(&(&b.phone_number, &b.message)));

    let unmanaged: Vec<String> = live
        .cards
        .keys()
        .filter(|n| !in_file.contains_key(n.as_str()))
        .cloned()
        .collect();

    let summary = Summary {
        create: changes
            .iter()
            .filter(|c: &&Change| c.action == Action::Create)
            .count(),
        update: changes
            .iter()
            .filter(|c: &&Change| c.action == Action::Update)
            .count(),
        unchanged: unchanged.len(),
        unmanaged: unmanaged.len(),
    };
    Ok(Plan {
        format_version: FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        plan_digest: digest::compute(&changes),
        changes,
        unchanged,
        unmanaged,
        warnings,
        summary,
        api_url: None,
        account_fingerprint: live.account_numbers.as_ref().map(account_fingerprint),
    })
}

/// One card's decision: its change (none when unchanged) and any picture that
/// could not be compared.
struct Decision {
    change: Option<Change>,
    image_problems: Vec<Warning>,
}

/// SPEC's decision table for one card of the file.
fn decide(
    card: &DesiredCard,
    live: Option<&ContactCard>,
    verdicts: &ImageVerdicts,
    replace_image: bool,
) -> Decision {
    let number = card.phone_number.as_str().to_string();
    let live = match live {
        Some(l) if l.is_active => l,
        // No card, or an inactive one: POST with every managed field (PATCH
        // needs an active card, LINQ_API.md "Endpoints").
        other => {
            let (reason, note) = match other {
                None => (Reason::Missing, "no card for this number"),
                Some(_) => (
                    Reason::Inactive,
                    "the card is inactive (setup or the last update did not complete): set up again",
                ),
            };
            return Decision {
                change: Some(Change {
                    phone_number: number.clone(),
                    action: Action::Create,
                    reason: Some(reason),
                    fields: None,
                    before: other.map(LiveFields::from),
                    after: ChangeBody {
                        phone_number: Some(number),
                        fields: CardFields {
                            first_name: Some(card.first_name.clone()),
                            last_name: card.last_name.clone(),
                            image_url: card.image_url.clone(),
                        },
                    },
                    notes: vec![note.to_string()],
                }),
                image_problems: Vec::new(),
            };
        }
    };

    let mut body = CardFields::default();
    let mut fields = Vec::new();
    let mut notes = Vec::new();
    let mut image_problems = Vec::new();
    if card.first_name != live.first_name {
        body.first_name = Some(card.first_name.clone());
        fields.push(Field::FirstName);
    }
    if let Some(want) = &card.last_name {
        if live.last_name.as_ref() != Some(want) {
            body.last_name = Some(want.clone());
            fields.push(Field::LastName);
        }
    }
    if let Some(src) = &card.image_url {
        // The live card holds Linq's CDN copy, never the source URL
        // (LINQ_API.md "What a contact card is"): compare pictures, not strings.
        let image_note = match (&live.image_url, replace_image) {
            (_, true) => Some("image replaced on request (--replace-image)".to_string()),
            (None, false) => Some("the live card has no image".to_string()),
            (Some(cdn), false) => match verdicts.verdict(src, cdn) {
                ImageVerdict::Same => None,
                ImageVerdict::Different => Some("different picture".to_string()),
                ImageVerdict::Unverifiable(why) => {
                    image_problems.push(Warning {
                        phone_number: Some(number.clone()),
                        message: format!(
                            "image could not be verified ({why}): no image change planned; \
                             --replace-image {number} forces one"
                        ),
                    });
                    None
                }
            },
        };
        if let Some(note) = image_note {
            body.image_url = Some(src.clone());
            fields.push(Field::ImageUrl);
            notes.push(format!("image_url: {note}"));
        }
    }
    if fields.is_empty() {
        return Decision {
            change: None,
            image_problems,
        };
    }
    Decision {
        change: Some(Change {
            phone_number: number,
            action: Action::Update,
            reason: None,
            fields: Some(fields),
            before: Some(LiveFields::from(live)),
            after: ChangeBody {
                phone_number: None,
                fields: body,
            },
            notes,
        }),
        image_problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const A: &str = "+12223334444";
    const B: &str = "+12223335555";
    const C: &str = "+12223336666";
    const SRC: &str = "https://img.example.com/logo.png";
    const CDN: &str = "https://cdn.linqapp.com/contact-card/1.png";

    fn want(n: &str, first: &str, last: Option<&str>, image: Option<&str>) -> DesiredCard {
        DesiredCard {
            phone_number: PhoneNumber::parse(n).expect("test number"),
            first_name: first.into(),
            last_name: last.map(Into::into),
            image_url: image.map(Into::into),
            line: None,
        }
    }

    fn have(
        n: &str,
        first: &str,
        last: Option<&str>,
        image: Option<&str>,
        active: bool,
    ) -> ContactCard {
        ContactCard::sample(n, first, last, image, active)
    }

    fn desired(cards: Vec<DesiredCard>) -> DesiredState {
        DesiredState {
            path: PathBuf::from("linq-cards.yaml"),
            cards,
        }
    }

    fn live(cards: Vec<ContactCard>) -> LiveState {
        let numbers = [A, B, C].iter().map(|s| s.to_string()).collect();
        LiveState {
            cards: cards
                .into_iter()
                .map(|c| (c.phone_number.clone(), c))
                .collect(),
            account_numbers: Some(numbers),
        }
    }

    fn verdicts(v: ImageVerdict) -> ImageVerdicts {
        let mut out = ImageVerdicts::default();
        out.pairs.insert((SRC.into(), CDN.into()), v);
        out
    }

    fn plan(d: DesiredCard, l: Option<ContactCard>, v: &ImageVerdicts) -> Plan {
        compute(
            &desired(vec![d]),
            &live(l.into_iter().collect()),
            v,
            &PlanOptions::default(),
        )
        .expect("plan")
    }

    /// The one card's outcome as stable text: `unchanged`, `create <reason>
    /// <body>` or `update <fields> <body>`.
    fn outcome(p: &Plan) -> String {
        if p.unchanged.len() == 1 {
            return "unchanged".into();
        }
        let c = &p.changes[0];
        let body = serde_json::to_string(&c.after).expect("json");
        match c.action {
            Action::Create => format!(
                "create {} {body}",
                serde_json::to_string(&c.reason).expect("json")
            ),
            Action::Update => format!(
                "update {} {body}",
                serde_json::to_string(&c.fields).expect("json")
            ),
        }
    }

    #[test]
    fn decision_table() {
        let same = verdicts(ImageVerdict::Same);
        let diff = verdicts(ImageVerdict::Different);
        let none = ImageVerdicts::default();
        let full = || want(A, "Acme", Some("Support"), Some(SRC));
        #[rustfmt::skip]
        let cases: Vec<(&str, DesiredCard, Option<ContactCard>, &ImageVerdicts, &str)> = vec![
            // SPEC row 1: no card -> create with every managed field.
            ("missing, all managed", full(), None, &none,
             r#"create "missing" {"phone_number":"+12223334444","first_name":"Acme","last_name":"Support","image_url":"https://img.example.com/logo.png"}"#),
            ("missing, first_name only", want(A, "Acme", None, None), None, &none,
             r#"create "missing" {"phone_number":"+12223334444","first_name":"Acme"}"#),
            // SPEC row 2: inactive -> create (inactive), even when it looks equal.
            ("inactive, equal fields", full(), Some(have(A, "Acme", Some("Support"), Some(CDN), false)), &same,
             r#"create "inactive" {"phone_number":"+12223334444","first_name":"Acme","last_name":"Support","image_url":"https://img.example.com/logo.png"}"#),
            ("inactive, unmanaged last_name", want(A, "Acme", None, None), Some(have(A, "X", Some("Y"), None, false)), &none,
             r#"create "inactive" {"phone_number":"+12223334444","first_name":"Acme"}"#),
            // SPEC row 3: active, every managed field equal.
            ("all equal, same picture", full(), Some(have(A, "Acme", Some("Support"), Some(CDN), true)), &same, "unchanged"),
            ("all equal, same URL", full(), Some(have(A, "Acme", Some("Support"), Some(SRC), true)), &none, "unchanged"),
            ("unmanaged last_name and image differ", want(A, "Acme", None, None),
             Some(have(A, "Acme", Some("Other"), Some(CDN), true)), &none, "unchanged"),
            ("unmanaged fields absent live", want(A, "Acme", None, None), Some(have(A, "Acme", None, None, true)), &none, "unchanged"),
            // SPEC row 4: only the differing fields.
            ("first_name differs", full(), Some(have(A, "Acme Inc", Some("Support"), Some(CDN), true)), &same,
             r#"update ["first_name"] {"first_name":"Acme"}"#),
            ("last_name differs", full(), Some(have(A, "Acme", Some("Sales"), Some(CDN), true)), &same,
             r#"update ["last_name"] {"last_name":"Support"}"#),
            ("last_name absent live", full(), Some(have(A, "Acme", None, Some(CDN), true)), &same,
             r#"update ["last_name"] {"last_name":"Support"}"#),
            ("different picture", full(), Some(have(A, "Acme", Some("Support"), Some(CDN), true)), &diff,
             r#"update ["image_url"] {"image_url":"https://img.example.com/logo.png"}"#),
            ("unchecked pair compares by URL", full(), Some(have(A, "Acme", Some("Support"), Some(CDN), true)), &none,
             r#"update ["image_url"] {"image_url":"https://img.example.com/logo.png"}"#),
            ("no live image", full(), Some(have(A, "Acme", Some("Support"), None, true)), &none,
             r#"update ["image_url"] {"image_url":"https://img.example.com/logo.png"}"#),
            ("everything differs", full(), Some(have(A, "X", Some("Y"), Some(CDN), true)), &diff,
             r#"update ["first_name","last_name","image_url"] {"first_name":"Acme","last_name":"Support","image_url":"https://img.example.com/logo.png"}"#),
            ("first_name case matters", want(A, "acme", None, None), Some(have(A, "Acme", None, None, true)), &none,
             r#"update ["first_name"] {"first_name":"acme"}"#),
            ("first and image, last unmanaged", want(A, "Acme", None, Some(SRC)), Some(have(A, "X", Some("Y"), Some(CDN), true)), &diff,
             r#"update ["first_name","image_url"] {"first_name":"Acme","image_url":"https://img.example.com/logo.png"}"#),
        ];
        for (what, d, l, v, expected) in cases {
            let p = plan(d, l, v);
            assert_eq!(outcome(&p), expected, "{what}");
            assert!(p.warnings.is_empty(), "{what}: {:?}", p.warnings);
        }
    }

    #[test]
    fn every_managed_combination() {
        // For each subset of managed optional fields, and each subset of fields
        // that differ live, the update carries exactly the managed differing
        // fields (first_name is always managed).
        for manage_last in [false, true] {
            for manage_image in [false, true] {
                for differ in 0u8..8 {
                    let (df, dl, di) = (differ & 1 != 0, differ & 2 != 0, differ & 4 != 0);
                    let d = want(
                        A,
                        "F",
                        manage_last.then_some("L"),
                        manage_image.then_some(SRC),
                    );
                    let l = have(
                        A,
                        if df { "f" } else { "F" },
                        Some(if dl { "l" } else { "L" }),
                        Some(if di { CDN } else { SRC }),
                        true,
                    );
                    let p = plan(d, Some(l), &ImageVerdicts::default());
                    let mut expected = Vec::new();
                    if df {
                        expected.push(Field::FirstName);
                    }
                    if dl && manage_last {
                        expected.push(Field::LastName);
                    }
                    if di && manage_image {
                        expected.push(Field::ImageUrl);
                    }
                    let case =
                        format!("last {manage_last} image {manage_image} differ {differ:03b}");
                    if expected.is_empty() {
                        assert_eq!(p.unchanged, [A], "{case}");
                        assert!(p.changes.is_empty(), "{case}");
                    } else {
                        let c = &p.changes[0];
                        assert_eq!(c.fields.as_deref(), Some(&expected[..]), "{case}");
                        let body = &c.after.fields;
                        assert_eq!(body.first_name.is_some(), df, "{case}");
                        assert_eq!(body.last_name.is_some(), dl && manage_last, "{case}");
                        assert_eq!(body.image_url.is_some(), di && manage_image, "{case}");
                        assert_eq!(c.after.phone_number, None, "{case}");
                        assert_eq!(c.before.as_ref().map(|b| b.is_active), Some(true));
                    }
                }
            }
        }
    }

    #[test]
    fn unverifiable_image_warns_and_plans_no_image_change() {
        let v = verdicts(ImageVerdict::Unverifiable("timed out".into()));
        let p = plan(
            want(A, "New", None, Some(SRC)),
            Some(have(A, "Old", None, Some(CDN), true)),
            &v,
        );
        assert_eq!(outcome(&p), r#"update ["first_name"] {"first_name":"New"}"#);
        assert_eq!(p.warnings.len(), 1);
        assert_eq!(p.warnings[0].phone_number.as_deref(), Some(A));
        assert!(
            p.warnings[0].message.contains("timed out"),
            "{:?}",
            p.warnings
        );

        let p = plan(
            want(A, "Old", None, Some(SRC)),
            Some(have(A, "Old", None, Some(CDN), true)),
            &v,
        );
        assert_eq!(p.unchanged, [A]);
        assert_eq!(p.warnings.len(), 1);
    }

    #[test]
    fn strict_turns_image_problems_into_errors() {
        let d = desired(vec![
            want(A, "Acme", None, Some(SRC)),
            want(B, "Acme", None, Some("https://img.example.com/gone.png")),
        ]);
        let l = live(vec![have(A, "Acme", None, Some(CDN), true)]);
        let mut v = verdicts(ImageVerdict::Unverifiable("HTTP 500".into()));
        v.source_problems
            .insert("https://img.example.com/gone.png".into(), "HTTP 404".into());
        let opts = PlanOptions {
            strict: true,
            ..PlanOptions::default()
        };
        let err = compute(&d, &l, &v, &opts).expect_err("strict");
        let PlanError::Strict(problems) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(problems.len(), 2, "{problems:?}");
        let msg = err.to_string();
        assert!(
            msg.contains(A) && msg.contains(B) && msg.contains("HTTP 404"),
            "{msg}"
        );

        // Without --strict: both are warnings, the create still goes ahead.
        let p = compute(&d, &l, &v, &PlanOptions::default()).expect("plan");
        assert_eq!(p.warnings.len(), 2);
        assert_eq!(p.summary.create, 1);
        assert!(p.warnings[1]
            .message
            .contains("Linq would fail to rehost it"));
    }

    #[test]
    fn create_with_unfetchable_source_warns() {
        let mut v = ImageVerdicts::default();
        v.source_problems.insert(SRC.into(), "HTTP 404".into());
        let p = plan(want(A, "Acme", None, Some(SRC)), None, &v);
        assert_eq!(p.summary.create, 1);
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].message.contains("HTTP 404"));
        // A source problem for a card whose image is not sent is no concern.
        let p = plan(
            want(A, "Acme", None, Some(SRC)),
            Some(have(A, "Acme", None, Some(SRC), true)),
            &v,
        );
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    }

    #[test]
    fn replace_image_forces_an_update() {
        let d = desired(vec![want(A, "Acme", None, Some(SRC))]);
        let opts = PlanOptions {
            replace_images: vec![A.into()],
            ..PlanOptions::default()
        };
        for v in [
            verdicts(ImageVerdict::Same),
            verdicts(ImageVerdict::Unverifiable("x".into())),
        ] {
            let l = live(vec![have(A, "Acme", None, Some(CDN), true)]);
            let p = compute(&d, &l, &v, &opts).expect("plan");
            assert_eq!(
                outcome(&p),
                r#"update ["image_url"] {"image_url":"https://img.example.com/logo.png"}"#
            );
            assert!(p.changes[0].notes[0].contains("--replace-image"));
            assert!(p.warnings.is_empty());
        }
        // Same URL too: the escape hatch does what it says.
        let l = live(vec![have(A, "Acme", None, Some(SRC), true)]);
        let p = compute(&d, &l, &ImageVerdicts::default(), &opts).expect("plan");
        assert_eq!(p.summary.update, 1);
    }

    #[test]
    fn replace_image_must_name_a_planned_image() {
        let d = desired(vec![
            want(A, "Acme", None, Some(SRC)),
            want(B, "Acme", None, None),
        ]);
        let l = live(vec![]);
        let cases: Vec<(Vec<&str>, Vec<&str>, Option<PlanError>)> = vec![
            (vec![A], vec![], None),
            (
                vec![B],
                vec![],
                Some(PlanError::ReplaceImageNotPlanned(vec![B.into()])),
            ),
            (
                vec![C],
                vec![],
                Some(PlanError::ReplaceImageNotPlanned(vec![C.into()])),
            ),
            (
                vec![A],
                vec![B],
                Some(PlanError::ReplaceImageNotPlanned(vec![A.into()])),
            ),
            (vec![A], vec![A], None),
        ];
        for (replace, targets, expected) in cases {
            let opts = PlanOptions {
                replace_images: replace.iter().map(|s| s.to_string()).collect(),
                targets: targets.iter().map(|s| s.to_string()).collect(),
                strict: false,
            };
            let got = compute(&d, &l, &ImageVerdicts::default(), &opts).err();
            assert_eq!(got, expected, "replace {replace:?} targets {targets:?}");
        }
    }

    #[test]
    fn targets_limit_changes_and_unchanged_but_not_unmanaged() {
        let d = desired(vec![
            want(A, "New", None, None),
            want(B, "Same", None, None),
            want(C, "New", None, None),
        ]);
        let mut l = live(vec![
            have(A, "Old", None, None, true),
            have(B, "Same", None, None, true),
            have("+19998887777", "Other", None, None, true),
        ]);
        l.account_numbers
            .as_mut()
            .expect("numbers")
            .insert("+19998887777".into());
        let opts = |t: &[&str]| PlanOptions {
            targets: t.iter().map(|s| s.to_string()).collect(),
            ..PlanOptions::default()
        };
        let v = ImageVerdicts::default();
        let all = compute(&d, &l, &v, &opts(&[])).expect("plan");
        assert_eq!(
            all.changes
                .iter()
                .map(|c| c.phone_number.as_str())
                .collect::<Vec<_>>(),
            [A, C]
        );
        let p = compute(&d, &l, &v, &opts(&[C, B])).expect("plan");
        assert_eq!(p.changes.len(), 1);
        assert_eq!(p.changes[0].phone_number, C);
        assert_eq!(p.unchanged, [B]);
        assert_eq!(p.unmanaged, ["+19998887777"]);
        assert_eq!(
            p.summary,
            Summary {
                create: 1,
                update: 0,
                unchanged: 1,
                unmanaged: 1
            }
        );
        assert_ne!(p.plan_digest, all.plan_digest);

        assert_eq!(
            compute(&d, &l, &v, &opts(&["+19998887777", A])).err(),
            Some(PlanError::UnknownTarget(vec!["+19998887777".into()]))
        );
        let err = compute(&d, &l, &v, &opts(&["(222) 333-4444"])).expect_err("bad number");
        assert!(matches!(
            err,
            PlanError::InvalidNumber {
                flag: "--target",
                ..
            }
        ));
        assert!(
            err.to_string().contains("+12223334444"),
            "suggests E.164: {err}"
        );
    }

    #[test]
    fn number_not_on_account_is_an_error_before_anything_else() {
        let d = desired(vec![
            want(A, "Acme", None, None),
            want("+15550001111", "X", None, None),
            want("+15550002222", "X", None, None),
        ]);
        let l = live(vec![]);
        // Even when only A is targeted: the file itself is wrong.
        let opts = PlanOptions {
            targets: vec![A.into()],
            ..PlanOptions::default()
        };
        assert_eq!(
            compute(&d, &l, &ImageVerdicts::default(), &opts).err(),
            Some(PlanError::NotOnAccount(vec![
                "+15550001111".into(),
                "+15550002222".into()
            ]))
        );
    }

    #[test]
    fn unknown_account_numbers_warn() {
        let d = desired(vec![want("+15550001111", "X", None, None)]);
        let mut l = live(vec![]);
        l.account_numbers = None;
        let p = compute(&d, &l, &ImageVerdicts::default(), &PlanOptions::default()).expect("plan");
        assert_eq!(p.summary.create, 1);
        assert_eq!(p.account_fingerprint, None);
        assert_eq!(p.warnings.len(), 1);
        assert_eq!(p.warnings[0].phone_number, None);
        assert!(p.warnings[0].message.contains("snapshot"));
    }

    #[test]
    fn lists_are_sorted_and_summary_counts_them() {
        let d = desired(vec![
            want(C, "c", None, None),
            want(A, "a", None, None),
            want(B, "b", None, None),
        ]);
        let l = live(vec![
            have(B, "b", None, None, true),
            have("+19990000002", "u", None, None, false),
            have("+19990000001", "u", None, None, true),
        ]);
        let mut l = l;
        let nums = l.account_numbers.as_mut().expect("numbers");
        nums.insert("+19990000001".into());
        nums.insert("+19990000002".into());
        let p = compute(&d, &l, &ImageVerdicts::default(), &PlanOptions::default()).expect("plan");
        assert_eq!(
            p.changes
                .iter()
                .map(|c| c.phone_number.as_str())
                .collect::<Vec<_>>(),
            [A, C]
        );
        assert_eq!(p.unchanged, [B]);
        assert_eq!(p.unmanaged, ["+19990000001", "+19990000002"]);
        assert_eq!(p.summary.create, 2);
        assert_eq!(p.summary.unmanaged, 2);
        assert_eq!(p.plan_digest, digest::compute(&p.changes));
        assert_eq!(
            p.account_fingerprint,
            Some(account_fingerprint(
                l.account_numbers.as_ref().expect("numbers")
            ))
        );
    }

    #[test]
    fn image_pairs_lists_what_to_fetch() {
        let other = "https://img.example.com/other.png";
        let d = desired(vec![
            want(A, "a", None, Some(SRC)),   // active, CDN copy: a pair
            want(B, "b", None, Some(SRC)),   // no card: a lone source
            want(C, "c", None, Some(other)), // active, same URL: nothing
            want("+15550001111", "d", None, Some(other)), // inactive: lone source
            want("+15550002222", "e", None, None), // no image managed
            want("+15550003333", "f", None, Some(SRC)), // active, no live image
            want("+15550004444", "g", None, Some(SRC)), // same pair again
        ]);
        let l = live(vec![
            have(A, "a", None, Some(CDN), true),
            have(C, "c", None, Some(other), true),
            have("+15550001111", "d", None, Some(CDN), false),
            have("+15550002222", "e", None, Some(CDN), true),
            have("+15550003333", "f", None, None, true),
            have("+15550004444", "g", None, Some(CDN), true),
        ]);
        let work = image_pairs(&d, &l, &PlanOptions::default());
        assert_eq!(work.pairs, [(SRC.to_string(), CDN.to_string())]);
        assert_eq!(work.sources, [SRC.to_string(), other.to_string()]);

        let only_c = PlanOptions {
            targets: vec![C.into()],
            ..PlanOptions::default()
        };
        assert_eq!(image_pairs(&d, &l, &only_c), ImageWork::default());
    }

    #[test]
    #[ignore = "measurement, not a check: cargo test --release -- --ignored --nocapture measure"]
    fn measure_large_plan() {
        let n = 10_000;
        let numbers: Vec<String> = (0..n).map(|i| format!("+1555{i:07}")).collect();
        let d = desired(
            numbers
                .iter()
                .map(|p| want(p, "Acme", Some("Support"), Some(SRC)))
                .collect(),
        );
        let mut l = LiveState {
            cards: numbers
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    (
                        p.clone(),
                        have(
                            p,
                            if i % 3 == 0 { "Old" } else { "Acme" },
                            Some("Support"),
                            Some(CDN),
                            i % 7 != 0,
                        ),
                    )
                })
                .collect(),
            account_numbers: Some(numbers.iter().cloned().collect()),
        };
        l.cards.remove(&numbers[1]);
        let t = std::time::Instant::now();
        let p = compute(
            &d,
            &l,
            &verdicts(ImageVerdict::Same),
            &PlanOptions::default(),
        )
        .expect("plan");
        let planned = t.elapsed();
        let t = std::time::Instant::now();
        let mut out = Vec::new();
        crate::render::render_text(&p, false, &mut out).expect("text");
        let text = t.elapsed();
        let t = std::time::Instant::now();
        let md = crate::render::render_markdown_limited(&p, crate::render::MARKDOWN_LIMIT);
        let markdown = t.elapsed();
        println!(
            "{n} cards: compute {planned:?}, text {text:?} ({} bytes), markdown {markdown:?} ({} bytes), {} changes",
            out.len(),
            md.len(),
            p.changes.len()
        );
    }

    #[test]
    fn unverified_verdicts_plan_no_image_change() {
        let d = desired(vec![
            want(A, "Acme", None, Some(SRC)),
            want(B, "B", None, Some(SRC)),
        ]);
        let l = live(vec![have(A, "Acme", None, Some(CDN), true)]);
        let mut v = ImageVerdicts::default();
        for pair in image_pairs(&d, &l, &PlanOptions::default()).pairs {
            v.pairs
                .insert(pair, ImageVerdict::Unverifiable("offline".to_string()));
        }
        let p = compute(&d, &l, &v, &PlanOptions::default()).expect("plan");
        assert_eq!(p.unchanged, [A]);
        assert_eq!(p.summary.create, 1, "a create still sends its source");
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].message.contains("offline"));
    }

    mod property {
        use super::*;
        use proptest::prelude::*;

        const NUMBERS: [&str; 4] = [A, B, C, "+15550001111"];
        const NAMES: [&str; 3] = ["Acme", "Beta", "acme"];
        const IMAGES: [&str; 3] = [SRC, CDN, "https://img.example.com/2.png"];

        fn opt_of(values: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
            proptest::option::of(proptest::sample::select(values).prop_map(String::from))
        }

        prop_compose! {
            fn desired_card(n: &'static str)(
                first in proptest::sample::select(&NAMES[..]),
                last in opt_of(&NAMES),
                image in opt_of(&IMAGES),
            ) -> DesiredCard {
                want(n, first, last.as_deref(), image.as_deref())
            }
        }

        prop_compose! {
            fn live_card(n: &'static str)(
                first in proptest::sample::select(&NAMES[..]),
                last in opt_of(&NAMES),
                image in opt_of(&IMAGES),
                active in any::<bool>(),
            ) -> ContactCard {
                have(n, first, last.as_deref(), image.as_deref(), active)
            }
        }

        fn state() -> impl Strategy<Value = (Vec<DesiredCard>, Vec<ContactCard>, ImageVerdicts)> {
            let d = NUMBERS.map(|n| proptest::option::of(desired_card(n)));
            let l = NUMBERS.map(|n| proptest::option::of(live_card(n)));
            let pairs: Vec<(String, String)> = IMAGES
                .iter()
                .flat_map(|s| IMAGES.iter().map(move |l| (s.to_string(), l.to_string())))
                .filter(|(s, l)| s != l)
                .collect();
            let v = proptest::collection::vec(0u8..4, pairs.len()).prop_map(move |choices| {
                let mut v = ImageVerdicts::default();
                for (pair, choice) in pairs.iter().zip(choices) {
                    let verdict = match choice {
                        0 => ImageVerdict::Same,
                        1 => ImageVerdict::Different,
                        2 => ImageVerdict::Unverifiable("unreachable".into()),
                        _ => continue, // unchecked: compares by URL
                    };
                    v.pairs.insert(pair.clone(), verdict);
                }
                v
            });
            (d, l, v).prop_map(|(d, l, v)| {
                (
                    d.into_iter().flatten().collect(),
                    l.into_iter().flatten().collect(),
                    v,
                )
            })
        }

        /// What the API does with each planned call (LINQ_API.md "Endpoints"):
        /// POST sets the card up with the body, PATCH merges the body.
        fn apply(live: &mut LiveState, p: &Plan) {
            for c in &p.changes {
                let body = &c.after.fields;
                match c.action {
                    Action::Create => {
                        live.cards.insert(
                            c.phone_number.clone(),
                            ContactCard {
                                phone_number: c.phone_number.clone(),
                                first_name: body.first_name.clone().expect("POST has first_name"),
                                last_name: body.last_name.clone(),
                                image_url: body.image_url.clone(),
                                is_active: true,
                            },
                        );
                    }
                    Action::Update => {
                        let card = live
                            .cards
                            .get_mut(&c.phone_number)
                            .expect("updates only planned for live cards");
                        assert!(card.is_active, "PATCH needs an active card");
                        if let Some(f) = &body.first_name {
                            card.first_name = f.clone();
                        }
                        if let Some(f) = &body.last_name {
                            card.last_name = Some(f.clone());
                        }
                        if let Some(f) = &body.image_url {
                            card.image_url = Some(f.clone());
                        }
                    }
                }
            }
        }

        proptest! {
            #[test]
            fn plan_after_apply_is_empty((d, l, v) in state()) {
                let d = desired(d);
                let mut l = live(l);
                l.account_numbers = Some(NUMBERS.iter().map(|s| s.to_string()).collect());
                let opts = PlanOptions::default();
                let first = compute(&d, &l, &v, &opts).expect("plan");
                // Every update body is exactly the fields it lists, never empty.
                for c in &first.changes {
                    if c.action == Action::Update {
                        let f = c.fields.as_ref().expect("update lists fields");
                        prop_assert!(!f.is_empty());
                        prop_assert_eq!(f.contains(&Field::FirstName), c.after.fields.first_name.is_some());
                        prop_assert_eq!(f.contains(&Field::LastName), c.after.fields.last_name.is_some());
                        prop_assert_eq!(f.contains(&Field::ImageUrl), c.after.fields.image_url.is_some());
                    }
                }
                apply(&mut l, &first);
                let second = compute(&d, &l, &v, &opts).expect("plan");
                prop_assert!(second.changes.is_empty(), "second plan: {:?}", second.changes);
                prop_assert_eq!(second.summary.unchanged, d.cards.len());
                // And the account now shows what the file says: a planner
                // that planned nothing would pass the check above.
                for card in &d.cards {
                    let now = &l.cards[card.phone_number.as_str()];
                    prop_assert!(now.is_active);
                    prop_assert_eq!(&now.first_name, &card.first_name);
                    if let Some(last) = &card.last_name {
                        prop_assert_eq!(now.last_name.as_ref(), Some(last));
                    }
                    if let Some(src) = &card.image_url {
                        let cdn = now.image_url.as_deref().unwrap_or("");
                        let verdict = v.verdict(src, cdn);
                        prop_assert!(
                            matches!(verdict, ImageVerdict::Same | ImageVerdict::Unverifiable(_))
                                && !cdn.is_empty(),
                            "{}: image {:?} vs {:?}: {:?}", card.phone_number, src, cdn, verdict
                        );
                    }
                }
            }
        }
    }
}
