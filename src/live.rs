//! The live state of the account: from the list call plus the phone-numbers call,
//! or from a `--live-snapshot` file. (Filled in by the plan issue.)

use std::collections::{BTreeMap, BTreeSet};

use crate::api::ContactCard;

/// Every live card, keyed by phone number, and the account's numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveState {
    pub cards: BTreeMap<String, ContactCard>,
    /// The account's numbers; `None` when unknown (read from a snapshot).
    pub account_numbers: Option<BTreeSet<String>>,
}
