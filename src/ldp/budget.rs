//! The daily privacy budget of a device: how much ε its reports have disclosed on one local day.
//!
//! Several pricers share one device's storage (tabs of a shop, one page after another), and each
//! may report. A single stored number, overwritten by the last writer, under-counts: three tabs
//! that each spent the whole budget would leave one budget's worth behind. So the budget is a
//! grow-only counter: every pricer (a *writer*, with an id of its own) counts its own spend, copies
//! merge by taking each writer's larger count, and the day's spend is the sum. Merging in any order,
//! any number of times, never loses a report that either copy counted.
//!
//! The budget is not behaviour: `forget()` and consent changes keep it until the day ends (what was
//! disclosed today stays disclosed).

use serde::de::{Deserializer, Error as _};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// At most this many writers are kept for one day. Only a hand-edited state holds more (a writer
/// that reports at all spends at least one report's ε, and a day holds a few reports): such a
/// budget counts as spent, so an edit can only stop reports, never allow more.
pub const MAX_WRITERS: usize = 64;

/// A writer's id: 1–32 characters of `A-Z a-z 0-9 - _`.
fn valid_writer(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The ε spent on one local day, per writer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DailyBudget {
    /// `YYYY-MM-DD`, the shopper's local day; None before the first report.
    day: Option<String>,
    spent: BTreeMap<String, f64>,
}

impl DailyBudget {
    /// The ε spent on `day` by every writer together (0 on another day).
    pub fn spent_on(&self, day: &str) -> f64 {
        if self.day.as_deref() != Some(day) {
            return 0.0;
        }
        if self.spent.len() > MAX_WRITERS {
            return f64::INFINITY;
        }
        self.spent.values().sum()
    }

    /// Records `epsilon` spent by `writer` on `day`; a new day starts the count over.
    pub fn spend(&mut self, day: &str, writer: &str, epsilon: f64) {
        if self.day.as_deref() != Some(day) {
            self.day = Some(day.to_string());
            self.spent.clear();
        }
        *self.spent.entry(writer.to_string()).or_insert(0.0) += epsilon;
    }

    /// Folds in another copy (read from storage, or another tab's): the later day wins; on the same
    /// day each writer's larger count. Never under-counts.
    pub fn merge(&mut self, other: &DailyBudget) {
        match (self.day.as_deref(), other.day.as_deref()) {
            (_, None) => {}
            (Some(a), Some(b)) if a > b => {}
            (Some(a), Some(b)) if a == b => {
                for (writer, &eps) in &other.spent {
                    let mine = self.spent.entry(writer.clone()).or_insert(0.0);
                    *mine = mine.max(eps);
                }
            }
            _ => *self = other.clone(),
        }
    }

    /// Whether anything was spent on `day` (and so must be stored).
    pub fn has_spend_on(&self, day: &str) -> bool {
        self.spent_on(day) > 0.0
    }

    pub fn is_empty(&self) -> bool {
        self.day.is_none() || self.spent.is_empty()
    }
}

impl Serialize for DailyBudget {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("day", &self.day)?;
        m.serialize_entry("spent", &self.spent)?;
        m.end()
    }
}

impl<'de> Deserialize<'de> for DailyBudget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Stored {
            day: String,
            #[serde(default)]
            spent: Option<BTreeMap<String, f64>>,
            /// An earlier release's single count.
            #[serde(default)]
            epsilon: Option<f64>,
        }
        let s = Stored::deserialize(d)?;
        if !super::is_day(&s.day) {
            return Err(D::Error::custom("not a calendar day"));
        }
        let spent = match (s.spent, s.epsilon) {
            (Some(spent), None) => spent,
            (None, Some(eps)) => BTreeMap::from([("earlier".to_string(), eps)]),
            _ => return Err(D::Error::custom("exactly one of `spent` or `epsilon`")),
        };
        if !spent
            .iter()
            .all(|(w, e)| valid_writer(w) && e.is_finite() && *e >= 0.0)
        {
            return Err(D::Error::custom("a writer's id or count is malformed"));
        }
        Ok(DailyBudget {
            day: Some(s.day),
            spent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored record as read back: anything malformed is None, never an error.
    fn from_stored(v: serde_json::Value) -> Option<DailyBudget> {
        serde_json::from_value(v).ok()
    }
    use serde_json::json;

    const DAY: &str = "2026-12-03";

    fn spent(day: &str, writers: &[(&str, f64)]) -> DailyBudget {
        let mut b = DailyBudget::default();
        for (w, e) in writers {
            b.spend(day, w, *e);
        }
        b
    }

    #[test]
    fn copies_merge_without_losing_any_writers_spend() {
        // Three tabs start from the same stored copy, each reports twice, and they write in turn.
        let stored = spent(DAY, &[("a", 2.0)]);
        let mut tabs: Vec<DailyBudget> = (0..3).map(|_| stored.clone()).collect();
        for (t, w) in tabs.iter_mut().zip(["a", "b", "c"]) {
            t.spend(DAY, w, 2.0);
            t.spend(DAY, w, 2.0);
        }
        // The last writer's copy alone would say 6; merged in any order the count is 14.
        assert_eq!(tabs[2].spent_on(DAY), 6.0);
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let mut m = DailyBudget::default();
            for i in order {
                m.merge(&tabs[i]);
                m.merge(&tabs[i]); // idempotent
            }
            assert_eq!(m.spent_on(DAY), 2.0 + 2.0 + 4.0 + 4.0 + 2.0, "{order:?}");
        }
    }

    #[test]
    fn a_new_day_starts_over_and_an_older_copy_never_wins() {
        let mut today = spent(DAY, &[("a", 4.0)]);
        let yesterday = spent("2026-12-02", &[("a", 8.0), ("b", 8.0)]);
        today.merge(&yesterday);
        assert_eq!(today.spent_on(DAY), 4.0);
        let mut old = yesterday.clone();
        old.merge(&today);
        assert_eq!((old.spent_on(DAY), old.spent_on("2026-12-02")), (4.0, 0.0));
        old.spend("2026-12-04", "a", 2.0);
        assert_eq!((old.spent_on(DAY), old.spent_on("2026-12-04")), (0.0, 2.0));
    }

    #[test]
    fn stored_records_are_read_leniently_and_the_earlier_format_counts() {
        let b = from_stored(json!({"day": DAY, "epsilon": 4})).unwrap();
        assert_eq!(b.spent_on(DAY), 4.0);
        let round = serde_json::to_value(spent(DAY, &[("w1", 2.0), ("w2", 4.0)])).unwrap();
        assert_eq!(round, json!({"day": DAY, "spent": {"w1": 2.0, "w2": 4.0}}));
        assert_eq!(from_stored(round).unwrap().spent_on(DAY), 6.0);
        for bad in [
            json!({"day": DAY, "epsilon": -1}),
            json!({"day": "yesterday", "epsilon": 1}),
            json!({"day": DAY}),
            json!({"day": DAY, "spent": {"w": 1}, "epsilon": 1}),
            json!({"day": DAY, "spent": {"<script>": 1}}),
            json!({"day": DAY, "spent": {"w": "lots"}}),
            json!("x"),
        ] {
            assert_eq!(from_stored(bad.clone()), None, "{bad}");
        }
    }

    #[test]
    fn a_budget_with_too_many_writers_counts_as_spent() {
        let many: Vec<(String, f64)> = (0..=MAX_WRITERS).map(|i| (format!("w{i}"), 0.0)).collect();
        let v = json!({"day": DAY, "spent": many.into_iter().collect::<BTreeMap<_, _>>()});
        let b = from_stored(v).unwrap();
        assert_eq!(b.spent_on(DAY), f64::INFINITY);
    }
}
