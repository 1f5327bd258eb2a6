//! The write ledger: how many write calls (POST or PATCH) apply made to each
//! number in this run. The API allows 3 writes per number per 10 minutes and
//! failed calls may count (LINQ_API.md, "Rate limits"), so every call is
//! recorded, whatever its answer, and a 4th is refused.
//!
//! It only counts; whether a card that hits the limit is deferred is `policy`'s.

use std::collections::HashMap;
use std::sync::Mutex;

/// Most writes apply makes to one number in one run.
pub const WRITES_PER_NUMBER: u32 = 3;

/// The ledger was full: the write must not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerFull;

/// Write counts per number, shared by every card task of a run.
#[derive(Debug, Default)]
pub struct Ledger {
    counts: Mutex<HashMap<String, u32>>,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Writes recorded for `phone_number` so far.
    pub fn count(&self, phone_number: &str) -> u32 {
        self.lock().get(phone_number).copied().unwrap_or(0)
    }

    /// Record a write about to be made; refused when the number already has
    /// [`WRITES_PER_NUMBER`]. Returns the count including this write.
    pub fn record(&self, phone_number: &str) -> Result<u32, LedgerFull> {
        let mut counts = self.lock();
        let n = counts.entry(phone_number.to_string()).or_insert(0);
        if *n >= WRITES_PER_NUMBER {
            return Err(LedgerFull);
        }
        *n += 1;
        Ok(*n)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        // A poisoned lock only means another card task panicked mid-update of a
        // plain counter map; the counts are still meaningful.
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_fourth_write_per_number() {
        let l = Ledger::new();
        assert_eq!(l.record("+1"), Ok(1));
        assert_eq!(l.record("+1"), Ok(2));
        assert_eq!(l.record("+2"), Ok(1));
        assert_eq!(l.record("+1"), Ok(3));
        assert_eq!(l.record("+1"), Err(LedgerFull));
        assert_eq!(l.count("+1"), 3);
        assert_eq!(l.count("+2"), 1);
        assert_eq!(l.count("+3"), 0);
    }
}
