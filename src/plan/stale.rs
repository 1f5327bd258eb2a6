//! Refusing a saved plan that no longer fits: a card whose live state changed
//! since the plan saw it (`before`), another API URL, another account.
//!
//! Pure: `apply --plan` reads the live state and passes it in.

use std::collections::BTreeSet;
use std::fmt;

use sha2::{Digest, Sha256};

use crate::live::LiveState;
use crate::plan::digest::to_hex;
use crate::plan::model::{LiveFields, Plan};

/// SHA-256 (hex) of the account's phone numbers, sorted, one per line. Two
/// accounts with the same numbers are the same account as far as writes go.
pub fn account_fingerprint(numbers: &BTreeSet<String>) -> String {
    let mut hasher = Sha256::new();
    for n in numbers {
        hasher.update(n.as_bytes());
        hasher.update(b"\n");
    }
    to_hex(&hasher.finalize())
}

/// One card of a saved plan whose live state is no longer what the plan saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleCard {
    pub phone_number: String,
    pub planned: Option<LiveFields>,
    pub now: Option<LiveFields>,
}

impl fmt::Display for StaleCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let describe = |c: &Option<LiveFields>| match c {
            None => "no card".to_string(),
            Some(c) => format!(
                "first_name {:?}, last_name {:?}, image_url {:?}, is_active {}",
                c.first_name, c.last_name, c.image_url, c.is_active
            ),
        };
        write!(
            f,
            "{}: the plan saw {}; now {}",
            self.phone_number,
            describe(&self.planned),
            describe(&self.now)
        )
    }
}

/// Why a saved plan is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StaleError {
    #[error("stale plan: {} card(s) changed since it was made; run plan again:\n  {}",
        .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    CardsChanged(Vec<StaleCard>),
    #[error("the plan was made for API {planned}, not {now}; run plan again against this API")]
    OtherApiUrl { planned: String, now: String },
    #[error("the plan was made for another account (its phone numbers differ); run plan again")]
    OtherAccount,
    #[error("the plan was made from a live snapshot, so its account is unknown; run plan against the API to get a plan that can be applied")]
    UnknownAccount,
}

/// Compare every change's `before` with the card now live. Cards the plan does
/// not write are not compared: applying the plan does not touch them.
pub fn check_stale(saved: &Plan, live: &LiveState) -> Result<(), StaleError> {
    let stale: Vec<StaleCard> = saved
        .changes
        .iter()
        .filter_map(|c| {
            let now = live.cards.get(&c.phone_number).map(LiveFields::from);
            (now != c.before).then(|| StaleCard {
                phone_number: c.phone_number.clone(),
                planned: c.before.clone(),
                now,
            })
        })
        .collect();
    if stale.is_empty() {
        Ok(())
    } else {
        Err(StaleError::CardsChanged(stale))
    }
}

/// Refuse a saved plan made for another API URL or account. A plan without an
/// account fingerprint was made from `--live-snapshot` and is refused too.
pub fn check_destination(
    saved: &Plan,
    api_url: &str,
    account_numbers: &BTreeSet<String>,
) -> Result<(), StaleError> {
    if let Some(planned) = &saved.api_url {
        if planned.trim_end_matches('/') != api_url.trim_end_matches('/') {
            return Err(StaleError::OtherApiUrl {
                planned: planned.clone(),
                now: api_url.to_string(),
            });
        }
    }
    match &saved.account_fingerprint {
        None => Err(StaleError::UnknownAccount),
        Some(f) if *f != account_fingerprint(account_numbers) => Err(StaleError::OtherAccount),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CardFields, ContactCard};
    use crate::plan::model::{Action, Change, ChangeBody, Reason, Summary};

    fn card(n: &str, first: &str, active: bool) -> ContactCard {
        ContactCard {
            phone_number: n.into(),
            first_name: first.into(),
            last_name: None,
            image_url: Some("https://cdn.example/x.png".into()),
            is_active: active,
        }
    }

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            format_version: 1,
            tool_version: "0.1.0".into(),
            plan_digest: crate::plan::digest::compute(&changes),
            changes,
            unchanged: vec![],
            unmanaged: vec![],
            warnings: vec![],
            summary: Summary::default(),
            api_url: Some("http://127.0.0.1:9/api".into()),
            account_fingerprint: Some(account_fingerprint(&numbers(&["+12223334444"]))),
        }
    }

    fn numbers(n: &[&str]) -> BTreeSet<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    fn change(n: &str, before: Option<&ContactCard>) -> Change {
        Change {
            phone_number: n.into(),
            action: if before.is_some_and(|b| b.is_active) {
                Action::Update
            } else {
                Action::Create
            },
            reason: before.is_none().then_some(Reason::Missing),
            fields: None,
            before: before.map(LiveFields::from),
            after: ChangeBody {
                phone_number: None,
                fields: CardFields::default(),
            },
            notes: vec![],
        }
    }

    fn live(cards: &[ContactCard]) -> LiveState {
        LiveState {
            cards: cards
                .iter()
                .map(|c| (c.phone_number.clone(), c.clone()))
                .collect(),
            account_numbers: None,
        }
    }

    #[test]
    fn fingerprint_depends_only_on_the_set() {
        let a = account_fingerprint(&numbers(&["+1222", "+1333"]));
        assert_eq!(a, account_fingerprint(&numbers(&["+1333", "+1222"])));
        assert_ne!(a, account_fingerprint(&numbers(&["+1222"])));
        // Line separation keeps ["+12", "+22"] apart from ["+12+22"].
        assert_ne!(
            account_fingerprint(&numbers(&["+12", "+22"])),
            account_fingerprint(&numbers(&["+12+22"]))
        );
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn stale_table() {
        let a = card("+12223334444", "Acme", true);
        let a_renamed = card("+12223334444", "Other", true);
        let a_inactive = card("+12223334444", "Acme", false);
        let cases: Vec<(&str, Option<&ContactCard>, Vec<ContactCard>, bool)> = vec![
            ("same card", Some(&a), vec![a.clone()], true),
            (
                "renamed meanwhile",
                Some(&a),
                vec![a_renamed.clone()],
                false,
            ),
            ("went inactive", Some(&a), vec![a_inactive.clone()], false),
            ("deleted meanwhile", Some(&a), vec![], false),
            ("still missing", None, vec![], true),
            ("created meanwhile", None, vec![a.clone()], false),
            (
                "still inactive",
                Some(&a_inactive),
                vec![a_inactive.clone()],
                true,
            ),
        ];
        for (what, before, now, ok) in cases {
            let p = plan(vec![change("+12223334444", before)]);
            let got = check_stale(&p, &live(&now));
            assert_eq!(got.is_ok(), ok, "{what}: {got:?}");
            if let Err(e) = got {
                assert!(e.to_string().contains("+12223334444"), "{e}");
                assert!(e.to_string().contains("stale plan"), "{e}");
            }
        }
    }

    #[test]
    fn cards_the_plan_does_not_write_are_ignored() {
        let p = plan(vec![]);
        assert!(check_stale(&p, &live(&[card("+12223334444", "X", true)])).is_ok());
    }

    #[test]
    fn destination() {
        let p = plan(vec![]);
        let ours = numbers(&["+12223334444"]);
        assert_eq!(
            check_destination(&p, "http://127.0.0.1:9/api/", &ours),
            Ok(())
        );
        assert!(matches!(
            check_destination(&p, "http://127.0.0.1:10/api", &ours),
            Err(StaleError::OtherApiUrl { .. })
        ));
        assert_eq!(
            check_destination(&p, "http://127.0.0.1:9/api", &numbers(&["+12223334445"])),
            Err(StaleError::OtherAccount)
        );
        let mut snap = p.clone();
        snap.account_fingerprint = None;
        assert_eq!(
            check_destination(&snap, "http://127.0.0.1:9/api", &ours),
            Err(StaleError::UnknownAccount)
        );
    }
}
