//! The stored document: what a pricer keeps in its storage adapter — `{ schema, version, anonId,
//! evicted, events, reportBudget }` — and reading it back. A stored state is untrusted (the shopper
//! can edit it): corrupt, foreign or newer states are discarded and events that no longer validate
//! are dropped, each with a reason; reading never fails.

use crate::behaviour::{BehaviourLog, Event};
use crate::ldp::DailyBudget;
use crate::limits;
use crate::policy::Retention;
use crate::pricer::ShownDoc;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

pub const STATE_SCHEMA: &str = "pricelet/behaviour";
pub const STATE_VERSION: u32 = 1;

crate::named_enum! {
    /// What happened to the stored state at the last load.
    pub enum LoadOutcome {
        Empty = "empty",
        Loaded = "loaded",
        Repaired = "repaired",
        Discarded = "discarded",
    }
}

/// What happened to the stored state when it was loaded; surfaced in `pricer.status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadReport {
    pub outcome: LoadOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub events: usize,
    pub dropped_events: usize,
}

impl LoadReport {
    pub fn empty() -> Self {
        LoadReport {
            outcome: LoadOutcome::Empty,
            reason: None,
            events: 0,
            dropped_events: 0,
        }
    }

    fn discarded(reason: impl Into<String>) -> Self {
        LoadReport {
            outcome: LoadOutcome::Discarded,
            reason: Some(reason.into()),
            events: 0,
            dropped_events: 0,
        }
    }
}

/// A stored document as read back.
#[derive(Debug, Default)]
pub struct Stored {
    pub log: BehaviourLog,
    pub anon_id: Option<String>,
    /// ε spent on measurement reports on the stored day, per writer (`ldp::DailyBudget`).
    pub report_budget: DailyBudget,
    /// Quotes shown on the shop's pages (malformed ones are none: they only cost a re-pricing).
    pub shown: Option<ShownDoc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredIn {
    // `schema` and `version` are checked on the raw JSON before this is read.
    #[serde(default)]
    anon_id: Option<String>,
    #[serde(default)]
    evicted: u64,
    events: Vec<Value>,
    /// Optional (added in place, still version 1): ε spent on measurement reports today. Read
    /// leniently: a malformed record is ignored, never a reason to discard the log.
    #[serde(default)]
    report_budget: Option<Value>,
    /// Optional (added in place, still version 1): quotes shown within the stability window.
    #[serde(default)]
    shown: Option<Value>,
}

/// The same document for writing: events go out as the JSON encoded when they entered the log, so
/// saving after every `track()` is a concatenation, not a re-serialization of the whole log.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StoredOut<'a> {
    schema: &'a str,
    version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    anon_id: Option<&'a str>,
    evicted: u64,
    events: &'a [Box<RawValue>],
    #[serde(skip_serializing_if = "Option::is_none")]
    report_budget: Option<&'a DailyBudget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shown: Option<&'a ShownDoc>,
}

/// Serializes the log (and the anonymous id, when it may persist) in the versioned schema.
pub fn write(
    log: &BehaviourLog,
    anon_id: Option<&str>,
    report_budget: &DailyBudget,
    shown: Option<&ShownDoc>,
) -> String {
    serde_json::to_string(&StoredOut {
        schema: STATE_SCHEMA,
        version: STATE_VERSION,
        anon_id,
        evicted: log.evicted(),
        events: log.encoded(),
        report_budget: (!report_budget.is_empty()).then_some(report_budget),
        shown,
    })
    .unwrap_or_default()
}

/// Reads a stored state. Never fails: corrupt, foreign or newer states are discarded, and events
/// that no longer validate (or are past the retention) are dropped one by one — with a reason.
pub fn read(text: Option<&str>, now: i64, retention: Retention) -> (Stored, LoadReport) {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return (Stored::default(), LoadReport::empty());
    };
    let discard = |why: String| (Stored::default(), LoadReport::discarded(why));
    if text.len() > limits::MAX_STATE_BYTES {
        return discard(format!(
            "stored state is {} bytes, over the {}-byte limit",
            text.len(),
            limits::MAX_STATE_BYTES
        ));
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return discard(format!("stored state is not valid JSON ({e})")),
    };
    if value.get("schema").and_then(Value::as_str) != Some(STATE_SCHEMA) {
        return discard(
            "stored state was not written by pricelet (no \"schema\": \"pricelet/behaviour\")"
                .into(),
        );
    }
    let version = value.get("version").and_then(Value::as_u64).unwrap_or(0);
    if version != u64::from(STATE_VERSION) {
        // Version 1 is the first released schema; a migration is added here with each new one.
        return discard(if version > u64::from(STATE_VERSION) {
            format!("stored state has schema version {version}, newer than this pricelet understands ({STATE_VERSION}); it was written by a newer release")
        } else {
            format!("stored state has unknown schema version {version} (this release reads version {STATE_VERSION})")
        });
    }
    let stored: StoredIn = match serde_json::from_value(value) {
        Ok(s) => s,
        Err(e) => return discard(format!("stored state has a broken structure ({e})")),
    };
    let mut log = BehaviourLog::default();
    log.set_evicted(stored.evicted);
    let mut dropped = 0;
    for raw in stored.events.iter().take(limits::MAX_EVENTS) {
        match Event::from_json(raw, now) {
            Ok(ev) if ev.kept_by(&retention, now) => log.insert_sorted(ev),
            _ => dropped += 1,
        }
    }
    dropped += stored.events.len().saturating_sub(limits::MAX_EVENTS);
    let events = log.events().len();
    let report = LoadReport {
        outcome: if dropped == 0 {
            LoadOutcome::Loaded
        } else {
            LoadOutcome::Repaired
        },
        reason: (dropped > 0).then(|| {
            format!(
                "dropped {dropped} stored event(s) that were invalid or past the retention period"
            )
        }),
        events,
        dropped_events: dropped,
    };
    let stored = Stored {
        log,
        anon_id: stored.anon_id.filter(|id| valid_anon_id(id)),
        report_budget: stored
            .report_budget
            .as_ref()
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default(),
        shown: stored.shown.and_then(|v| serde_json::from_value(v).ok()),
    };
    (stored, report)
}

/// Only the report budget of a stored state (merged before every report): an unreadable state
/// has none.
pub fn read_budget(text: Option<&str>) -> DailyBudget {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct BudgetOnly {
        #[serde(default)]
        report_budget: Option<Value>,
    }
    text.filter(|t| t.len() <= limits::MAX_STATE_BYTES)
        .and_then(|t| serde_json::from_str::<BudgetOnly>(t).ok())
        .and_then(|s| s.report_budget)
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// Anonymous ids: 1–128 characters of `A-Z a-z 0-9 - _`.
pub fn valid_anon_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= limits::MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behaviour::testing::{ev, KEEP, NOW};
    use crate::ldp::DailyBudget;
    use serde_json::json;

    #[test]
    fn state_round_trips() {
        let mut log = BehaviourLog::default();
        log.push(ev(json!({"type": "page_view", "page": {"kind": "product", "pageValue": 3.5}, "dwellMs": 1200, "at": NOW - 5})), NOW, KEEP);
        log.push(
            ev(json!({"type": "purchase", "amount": "10.00", "currency": "EUR", "at": NOW})),
            NOW,
            KEEP,
        );
        let text = write(&log, Some("anon_1"), &DailyBudget::default(), None);
        let (back, report) = read(Some(&text), NOW, KEEP);
        assert_eq!(back.log.events(), log.events());
        assert_eq!(back.anon_id.as_deref(), Some("anon_1"));
        assert_eq!(report.outcome, LoadOutcome::Loaded);
    }

    #[test]
    fn the_report_budget_is_stored_and_optional() {
        let mut log = BehaviourLog::default();
        log.push(ev(json!({"type": "purchase", "at": NOW})), NOW, KEEP);
        let plain = write(&log, None, &DailyBudget::default(), None);
        assert!(
            !plain.contains("reportBudget"),
            "absent until reports are made: {plain}"
        );
        let mut budget = DailyBudget::default();
        budget.spend("2026-11-29", "w1", 4.0);
        let text = write(&log, None, &budget, None);
        let (back, report) = read(Some(&text), NOW, KEEP);
        assert_eq!(report.outcome, LoadOutcome::Loaded);
        assert_eq!(back.report_budget.spent_on("2026-11-29"), 4.0);
        assert_eq!(
            write(&back.log, None, &back.report_budget, None),
            text,
            "round trip"
        );
        // A version-1 state from before the field, and one with a mangled record, still load.
        let (old, r) = read(Some(&plain), NOW, KEEP);
        assert_eq!(
            (r.outcome, old.log.events().len()),
            (LoadOutcome::Loaded, 1)
        );
        let mangled = text.replace("\"w1\":4.0", "\"w1\":\"lots\"");
        assert_ne!(mangled, text);
        let (m, r) = read(Some(&mangled), NOW, KEEP);
        assert_eq!((r.outcome, m.log.events().len()), (LoadOutcome::Loaded, 1));
        assert!(m.report_budget.is_empty());
    }

    #[test]
    fn bad_states_are_discarded_or_repaired_with_a_reason() {
        let discarded = |text: &str| {
            let (stored, report) = read(Some(text), NOW, KEEP);
            assert!(
                stored.log.events().is_empty() && stored.anon_id.is_none(),
                "{text}"
            );
            assert_eq!(report.outcome, LoadOutcome::Discarded, "{text}");
            report.reason.unwrap()
        };
        assert!(discarded("{not json").contains("not valid JSON"));
        assert!(discarded("[1,2,3]").contains("not written by pricelet"));
        assert!(discarded(r#"{"schema":"other","version":1,"events":[]}"#)
            .contains("not written by pricelet"));
        assert!(
            discarded(r#"{"schema":"pricelet/behaviour","version":99,"events":[]}"#)
                .contains("newer")
        );
        assert!(
            discarded(r#"{"schema":"pricelet/behaviour","version":0,"events":[]}"#)
                .contains("unknown schema version")
        );
        assert!(
            discarded(r#"{"schema":"pricelet/behaviour","version":1,"events":"x"}"#)
                .contains("broken structure")
        );
        assert!(discarded(&"x".repeat(limits::MAX_STATE_BYTES + 1)).contains("over the"));

        let edited = format!(
            r#"{{"schema":"pricelet/behaviour","version":1,"anonId":"<script>","events":[
              {{"type":"page_view","page":{{"kind":"product","bounceRate":7}},"at":{NOW}}},
              {{"type":"page_view","page":{{"kind":"product"}},"at":{NOW}}},
              {{"type":"teleport","at":{NOW}}}]}}"#
        );
        let (stored, report) = read(Some(&edited), NOW, KEEP);
        assert_eq!(stored.log.events().len(), 1);
        assert_eq!(
            stored.anon_id, None,
            "an anonymous id with foreign characters is not trusted"
        );
        assert_eq!(
            (report.outcome, report.dropped_events),
            (LoadOutcome::Repaired, 2)
        );
    }
}
