//! The blast-radius guard (SPEC, `apply --max-update-percent`): refuse a plan
//! that would update more than P% of at least 10 live cards the file manages.
//! `apply` refuses on it; `plan` only warns. Pure.

use std::fmt;

use crate::config::DesiredState;
use crate::live::LiveState;
use crate::plan::model::Plan;

/// The smallest number of managed live cards for which the guard applies.
pub const MIN_MANAGED: usize = 10;

/// The default `--max-update-percent`.
pub const DEFAULT_MAX_PERCENT: f64 = 30.0;

/// A plan that the guard stops.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardBreach {
    pub updates: usize,
    pub managed_live: usize,
    pub max_percent: f64,
}

impl fmt::Display for GuardBreach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limit = self.managed_live as f64 * self.max_percent / 100.0;
        write!(
            f,
            "the plan updates {} of {} managed live cards ({:.0}%), over the limit of {}% ({} cards); \
             apply refuses it unless --force (or a higher --max-update-percent)",
            self.updates,
            self.managed_live,
            self.updates as f64 * 100.0 / self.managed_live as f64,
            self.max_percent,
            limit.floor()
        )
    }
}

/// Live cards (active or not) whose number is in the file, whichever of them
/// `--target` selects: the guard protects the account, not the run.
pub fn managed_live_count(desired: &DesiredState, live: &LiveState) -> usize {
    desired
        .cards
        .iter()
        .filter(|c| live.cards.contains_key(c.phone_number.as_str()))
        .count()
}

/// `Some` when the plan's updates exceed `max_percent` of `managed_live`, and
/// there are at least [`MIN_MANAGED`] of those. Creates do not count: they
/// write cards that are missing or broken anyway.
pub fn check(plan: &Plan, managed_live: usize, max_percent: f64) -> Option<GuardBreach> {
    let updates = plan.summary.update;
    // `updates * 100 > managed * P` rather than a division, so that exactly
    // P% is allowed without rounding surprises.
    let over = (updates as f64) * 100.0 > (managed_live as f64) * max_percent;
    (managed_live >= MIN_MANAGED && over).then_some(GuardBreach {
        updates,
        managed_live,
        max_percent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::model::Summary;

    fn plan_with_updates(n: usize) -> Plan {
        Plan {
            format_version: 1,
            tool_version: "0".into(),
            plan_digest: String::new(),
            changes: vec![],
            unchanged: vec![],
            unmanaged: vec![],
            warnings: vec![],
            summary: Summary {
                create: 50,
                update: n,
                unchanged: 0,
                unmanaged: 0,
            },
            api_url: None,
            account_fingerprint: None,
        }
    }

    #[test]
    fn table() {
        // (updates, managed live, max %, breach?)
        let cases = [
            (3, 10, 30.0, false), // exactly 30% is allowed
            (4, 10, 30.0, true),
            (9, 9, 30.0, false), // under 10 managed cards: never
            (0, 100, 0.0, false),
            (1, 100, 0.0, true),
            (30, 100, 30.0, false),
            (31, 100, 30.0, true),
            (100, 100, 100.0, false),
            (1, 10, 9.99, true),
            (4, 13, 30.0, true), // 30.8%
            (3, 13, 30.0, false),
        ];
        for (updates, managed, max, breach) in cases {
            let got = check(&plan_with_updates(updates), managed, max);
            assert_eq!(got.is_some(), breach, "{updates}/{managed} at {max}%");
            if let Some(b) = got {
                let msg = b.to_string();
                assert!(msg.contains(&format!("{updates} of {managed}")), "{msg}");
                assert!(msg.contains("--force"), "{msg}");
            }
        }
    }
}
