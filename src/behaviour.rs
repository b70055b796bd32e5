//! The shopper's local behaviour log (README "Events"): validated events, sessions split on
//! 30 minutes of inactivity, bounded in events and bytes, retention in days, and a schema-versioned
//! serialization whose corrupt, foreign or old forms are discarded or repaired with a reported reason.

use crate::limits;
use crate::money::Currency;
use crate::policy::Retention;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::HashMap;

/// Inactivity that ends a session (Google Analytics' definition, which the training data uses).
pub const SESSION_GAP_MS: i64 = 30 * 60 * 1000;
/// How far in the future an event's `at` may be (clock skew between the page and the pricer).
/// Such an event is recorded at the pricer's clock, so it can never mask the events after it.
pub const MAX_FUTURE_SKEW_MS: i64 = 5 * 60 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    PageView,
    AddToCart,
    RemoveFromCart,
    Purchase,
}

impl EventType {
    /// The name storefronts use for this type.
    pub fn name(self) -> &'static str {
        match self {
            EventType::PageView => "page_view",
            EventType::AddToCart => "add_to_cart",
            EventType::RemoveFromCart => "remove_from_cart",
            EventType::Purchase => "purchase",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageKind {
    Administrative,
    Informational,
    Product,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Page {
    pub kind: PageKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounce_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_value: Option<f64>,
}

/// One validated event, in exact types: `wire::event` reads it from what the storefront sent
/// (`track()`) or stored, and writes its stored form, which is what `exportData()` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventType,
    /// Milliseconds since the Unix epoch (the pricer's clock when the storefront gave none).
    pub at_ms: i64,
    pub page: Option<Page>,
    pub item_id: Option<String>,
    pub category: Option<String>,
    pub dwell_ms: Option<f64>,
    pub quantity: Option<u32>,
    /// A purchase's amount in minor units of `currency`.
    pub amount_minor: Option<i64>,
    pub currency: Option<Currency>,
}

impl Event {
    /// Whether `retention` still keeps this event at `now`.
    pub fn kept_by(&self, retention: &Retention, now: i64) -> bool {
        retention.keeps(self.kind == EventType::Purchase, self.at_ms, now)
    }

    pub fn at_ms(&self) -> i64 {
        self.at_ms
    }

    /// Amount of a purchase in exact minor units of its currency.
    pub fn amount_minor(&self) -> Option<(i64, Currency)> {
        Some((self.amount_minor?, self.currency?))
    }
}

/// An event's stored JSON form, made once when the event enters the log: the log is bounded in
/// stored bytes and merges logs by these forms. The wire layer owns the format and implements this
/// (`wire::event`), so the log needs no JSON code of its own.
pub(crate) trait StoredForm {
    fn encode(&self) -> Box<RawValue>;
}

/// The event log, sorted by time.
#[derive(Debug, Clone, Default)]
pub struct BehaviourLog {
    events: Vec<Event>,
    /// `events[i]` as stored JSON.
    encoded: Vec<Box<RawValue>>,
    bytes: usize,
    /// Events evicted over the log's life to respect its bounds.
    evicted: u64,
    /// Bumped on every change; caches keyed on it (features, interest) stay exact.
    revision: u64,
}

impl PartialEq for BehaviourLog {
    fn eq(&self, other: &Self) -> bool {
        self.events == other.events && self.evicted == other.evicted
    }
}

impl BehaviourLog {
    /// Inserts a validated event in time order, without the retention and size rules of `push`
    /// (a stored log being read back).
    pub(crate) fn insert_sorted(&mut self, ev: Event) {
        let pos = self.events.partition_point(|e| e.at_ms() <= ev.at_ms());
        self.insert(pos, ev);
    }

    /// The events as stored JSON, encoded once when each entered the log.
    pub(crate) fn encoded(&self) -> &[Box<RawValue>] {
        &self.encoded
    }

    pub(crate) fn set_evicted(&mut self, evicted: u64) {
        self.evicted = evicted;
    }

    fn insert(&mut self, pos: usize, ev: Event) {
        let json = ev.encode();
        self.bytes += json.get().len() + 1;
        self.events.insert(pos, ev);
        self.encoded.insert(pos, json);
    }

    /// More events or bytes than a stored state may hold (1 KiB is left for the rest of it).
    fn over_bounds(&self) -> bool {
        self.events.len() > limits::MAX_EVENTS || self.bytes > limits::MAX_STATE_BYTES - 1024
    }

    fn remove_oldest(&mut self) {
        self.events.remove(0);
        self.bytes -= self.encoded.remove(0).get().len() + 1;
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }
    pub fn revision(&self) -> u64 {
        self.revision
    }
    pub fn evicted(&self) -> u64 {
        self.evicted
    }
    pub fn stored_bytes(&self) -> usize {
        self.bytes
    }

    /// Adds a validated event, dropping expired ones and evicting the oldest beyond the bounds.
    pub fn push(&mut self, ev: Event, now: i64, retention: Retention) -> usize {
        self.prune(now, retention);
        if !ev.kept_by(&retention, now) {
            return 0;
        }
        let at = ev.at_ms();
        let pos = self.events.partition_point(|e| e.at_ms() <= at);
        self.insert(pos, ev);
        let mut evicted = 0;
        while self.over_bounds() {
            self.remove_oldest();
            evicted += 1;
        }
        self.evicted += evicted as u64;
        self.revision += 1;
        evicted
    }

    /// Adds the events of `known` that this log lacks, except those in `fresh` (added by the
    /// caller with `push`). Events are matched by their stored form and counted, so an event held
    /// twice is kept twice. Expired events are skipped and the bounds hold; what the bounds push
    /// out was evicted by the writer whose copy this is, so it is not counted again.
    pub(crate) fn absorb(
        &mut self,
        known: &BehaviourLog,
        fresh: &[Event],
        now: i64,
        retention: Retention,
    ) {
        let mut skip = form_counts(self.encoded.iter().map(|j| j.get().to_string()));
        for (form, n) in form_counts(fresh.iter().map(|e| e.encode().get().to_string())) {
            *skip.entry(form).or_default() += n;
        }
        let mut added = false;
        for (ev, json) in known.events.iter().zip(&known.encoded) {
            match skip.get_mut(json.get()) {
                Some(n) if *n > 0 => *n -= 1,
                _ if ev.kept_by(&retention, now) => {
                    self.insert_sorted(ev.clone());
                    added = true;
                }
                _ => {}
            }
        }
        while self.over_bounds() {
            self.remove_oldest();
        }
        if added {
            self.revision += 1;
        }
    }

    /// Whether this log holds an event that `other` lacks (by stored form, counted).
    pub(crate) fn holds_more_than(&self, other: &BehaviourLog) -> bool {
        let mut theirs = form_counts(other.encoded.iter().map(|j| j.get().to_string()));
        self.encoded.iter().any(|j| match theirs.get_mut(j.get()) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
    }

    /// Drops events older than the retention allows. Returns how many were dropped.
    pub fn prune(&mut self, now: i64, retention: Retention) -> usize {
        let before = self.events.len();
        let keep: Vec<bool> = self
            .events
            .iter()
            .map(|e| e.kept_by(&retention, now))
            .collect();
        if keep.iter().all(|k| *k) {
            return 0;
        }
        let mut k = keep.iter();
        self.events.retain(|_| *k.next().unwrap_or(&true));
        let mut k = keep.iter();
        self.encoded.retain(|_| *k.next().unwrap_or(&true));
        self.bytes = self.encoded.iter().map(|j| j.get().len() + 1).sum();
        self.revision += 1;
        before - self.events.len()
    }

    pub fn clear(&mut self) {
        self.events.clear();
        self.encoded.clear();
        self.bytes = 0;
        self.evicted = 0;
        self.revision += 1;
    }
}

/// How often each stored form occurs.
fn form_counts(forms: impl Iterator<Item = String>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for form in forms {
        *counts.entry(form).or_default() += 1;
    }
    counts
}

/// The current session: the newest run of events without a 30-minute gap, if it is still open at
/// `now` (a session whose last event is 30 minutes old has ended; a new one starts empty).
pub fn current_session(events: &[Event], now: i64) -> &[Event] {
    let Some(last) = events.last() else {
        return &events[..0];
    };
    if now - last.at_ms() >= SESSION_GAP_MS {
        return &events[events.len()..];
    }
    let mut start = events.len() - 1;
    while start > 0 && events[start].at_ms() - events[start - 1].at_ms() < SESSION_GAP_MS {
        start -= 1;
    }
    &events[start..]
}

/// What the log's tests and the stored state's tests share: a clock, a retention, an event reader.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub const NOW: i64 = 1_764_000_000_000;
    pub const KEEP: Retention = Retention {
        behaviour_days: 30,
        purchase_days: 365,
    };

    pub fn ev(v: serde_json::Value) -> Event {
        Event::from_json(&v, NOW).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{ev, KEEP, NOW};
    use super::*;
    use crate::error::Code;
    use crate::time::DAY_MS;
    use serde_json::json;

    #[test]
    fn validates_events_and_names_fields() {
        let cases = [
            (json!({"type": "click"}), "type"),
            (json!({"type": "page_view"}), "page"),
            (
                json!({"type": "page_view", "page": {"kind": "home"}}),
                "page.kind",
            ),
            (
                json!({"type": "page_view", "page": {"kind": "product", "bounceRate": 1.5}}),
                "page.bounceRate",
            ),
            (
                json!({"type": "page_view", "page": {"kind": "product", "pageValue": -1}}),
                "page.pageValue",
            ),
            (
                json!({"type": "page_view", "page": {"kind": "product"}, "dwellMs": -5}),
                "dwellMs",
            ),
            (
                json!({"type": "page_view", "page": {"kind": "product"}, "dwell_ms": 5}),
                "dwell_ms",
            ),
            (json!({"type": "add_to_cart"}), "itemId"),
            (json!({"type": "purchase", "amount": 10}), "currency"),
            (
                json!({"type": "purchase", "amount": "1.001", "currency": "EUR"}),
                "amount",
            ),
            (json!({"type": "purchase", "quantity": 0.5}), "quantity"),
            (json!({"type": "purchase", "at": NOW + 2 * DAY_MS}), "at"),
            (json!({"type": "purchase", "at": "yesterday"}), "at"),
        ];
        for (v, field) in cases {
            let e = Event::from_json(&v, NOW).unwrap_err();
            assert_eq!(
                (e.code, e.field.as_deref()),
                (Code::InvalidEvent, Some(field)),
                "{v}: {e}"
            );
        }
    }

    #[test]
    fn normalizes_amounts_to_exact_strings() {
        let e = ev(json!({"type": "purchase", "amount": 19.9, "currency": "EUR"}));
        let stored: serde_json::Value = serde_json::from_str(e.encode().get()).unwrap();
        assert_eq!(stored["amount"], json!("19.90"));
        assert_eq!(e.amount_minor().map(|(m, _)| m), Some(1990));
    }

    #[test]
    fn sessions_split_on_thirty_minutes() {
        let at = |m: i64| json!({"type": "page_view", "page": {"kind": "product"}, "at": NOW - m * 60_000});
        let events: Vec<Event> = [120, 100, 50, 29, 10, 0]
            .iter()
            .map(|&m| ev(at(m)))
            .collect();
        // gaps: 20, 50 (split), 21, 19, 10 -> current session is the last four
        assert_eq!(current_session(&events, NOW).len(), 4);
        // 30 minutes after the last event the session is over
        assert_eq!(current_session(&events, NOW + SESSION_GAP_MS).len(), 0);
    }

    #[test]
    fn retention_and_bounds() {
        let mut log = BehaviourLog::default();
        let old =
            ev(json!({"type": "page_view", "page": {"kind": "product"}, "at": NOW - 31 * DAY_MS}));
        assert_eq!(log.push(old, NOW, KEEP), 0);
        assert!(
            log.events().is_empty(),
            "an event past retention is not kept"
        );
        let purchase = ev(json!({"type": "purchase", "at": NOW - 200 * DAY_MS}));
        log.push(purchase, NOW, KEEP);
        assert_eq!(
            log.events().len(),
            1,
            "purchases are kept for the purchase-history period"
        );
        let mut evicted = 0;
        for i in 0..(limits::MAX_EVENTS + 5) {
            evicted += log.push(ev(json!({"type": "page_view", "page": {"kind": "product", "id": format!("p{i}")}, "at": NOW - 1000 + (i as i64 % 1000)})), NOW, KEEP);
        }
        assert_eq!(log.events().len(), limits::MAX_EVENTS);
        assert_eq!(evicted, 6);
        assert_eq!(log.evicted(), 6);
        assert!(
            log.events()
                .windows(2)
                .all(|w| w[0].at_ms() <= w[1].at_ms()),
            "sorted by time"
        );
    }

    #[test]
    fn byte_bound_evicts_oldest() {
        let mut log = BehaviourLog::default();
        let long_id = "x".repeat(limits::MAX_ID_LEN);
        for i in 0..limits::MAX_EVENTS {
            log.push(ev(json!({"type": "add_to_cart", "itemId": long_id, "category": "c".repeat(60), "at": NOW - 5000 + i as i64})), NOW, KEEP);
        }
        assert!(log.stored_bytes() <= limits::MAX_STATE_BYTES);
        assert!(
            crate::state::write(&log, Some("abc"), &Default::default(), None).len()
                <= limits::MAX_STATE_BYTES
        );
    }
}
