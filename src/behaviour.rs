//! The shopper's local behaviour log (README "Events"): validated events, sessions split on
//! 30 minutes of inactivity, bounded in events and bytes, retention in days, and a schema-versioned
//! serialization whose corrupt, foreign or old forms are discarded or repaired with a reported reason.

use crate::error::{from_serde_path, Code, Error, Result};
use crate::limits;
use crate::money::{Currency, Decimal};
use crate::policy::Retention;
use crate::time::DAY_MS;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashMap;

/// Inactivity that ends a session (Google Analytics' definition, which the training data uses).
pub const SESSION_GAP_MS: i64 = 30 * 60 * 1000;
/// How far in the future an event's `at` may be (clock skew between the page and the pricer).
/// Such an event is recorded at the pricer's clock, so it can never mask the events after it.
pub const MAX_FUTURE_SKEW_MS: i64 = 5 * 60 * 1000;
/// Longest dwell accepted on one page (a day).
const MAX_DWELL_MS: f64 = DAY_MS as f64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    PageView,
    AddToCart,
    RemoveFromCart,
    Purchase,
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

/// One validated event. Its JSON form is both the `track()` input and the stored form, so what
/// `exportData()` shows is exactly what the storefront sent (amounts normalized to exact decimals).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventType,
    /// Milliseconds since the Unix epoch. Optional on input (default: the pricer's clock).
    #[serde(default)]
    pub at: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<Page>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dwell_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<f64>,
    /// Major units like prices (number or decimal string); stored as an exact decimal string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

impl Event {
    /// Parses and validates an event; `now` fills a missing `at`. Every error names its field.
    pub fn from_json(v: &Value, now: i64) -> Result<Event> {
        let mut ev: Event = serde_path_to_error::deserialize(v)
            .map_err(|e| from_serde_path(Code::InvalidEvent, "invalid event", e))?;
        if ev.at.is_none() {
            ev.at = Some(now as f64);
        }
        ev.validate(now)?;
        Ok(ev)
    }

    /// Whether `retention` still keeps this event at `now`.
    pub fn kept_by(&self, retention: &Retention, now: i64) -> bool {
        retention.keeps(self.kind == EventType::Purchase, self.at_ms(), now)
    }

    pub fn at_ms(&self) -> i64 {
        self.at.unwrap_or(0.0) as i64
    }

    /// Amount of a purchase in exact minor units of its currency.
    pub fn amount_minor(&self) -> Option<(i64, Currency)> {
        let currency = Currency::from_code(self.currency.as_deref()?).ok()?;
        let minor = currency
            .parse_major(&Decimal::from_json(self.amount.as_ref()?).ok()?)
            .ok()?;
        Some((minor, currency))
    }

    fn validate(&mut self, now: i64) -> Result<()> {
        let bad = |field: &str, msg: String| Err(Error::at(Code::InvalidEvent, field, msg));
        let at = self.at.unwrap_or(f64::NAN);
        if !(at.is_finite() && at >= 0.0 && at.fract() == 0.0) {
            return bad(
                "at",
                format!("`at` must be whole milliseconds since the epoch (Date.now()), got {at}"),
            );
        }
        if at as i64 > now.saturating_add(MAX_FUTURE_SKEW_MS) {
            return bad("at", format!("`at` ({at}) is more than 5 minutes after the pricer's clock ({now}); send Date.now() of the event, or leave `at` out"));
        }
        if at as i64 > now {
            self.at = Some(now as f64);
        }
        if let Some(page) = &self.page {
            if let Some(id) = &page.id {
                limits::check_str("page.id", id, limits::MAX_ID_LEN)?;
            }
            for (field, value, max) in [
                ("page.bounceRate", page.bounce_rate, Some(1.0)),
                ("page.exitRate", page.exit_rate, Some(1.0)),
                ("page.pageValue", page.page_value, None),
            ] {
                if let Some(x) = value {
                    if !x.is_finite() || x < 0.0 || max.is_some_and(|m| x > m) || x > 1e9 {
                        let range = if max.is_some() {
                            "from 0 to 1"
                        } else {
                            "a finite number >= 0"
                        };
                        return bad(field, format!("`{field}` must be {range}, got {x}"));
                    }
                }
            }
        }
        if self.kind == EventType::PageView && self.page.is_none() {
            return bad("page", "a page_view needs `page: { kind: 'administrative' | 'informational' | 'product' }`".into());
        }
        if matches!(self.kind, EventType::AddToCart | EventType::RemoveFromCart)
            && self.item_id.is_none()
        {
            return bad(
                "itemId",
                format!(
                    "a {} event needs the `itemId` it is about",
                    self.kind_name()
                ),
            );
        }
        if let Some(id) = &self.item_id {
            if id.is_empty() {
                return bad("itemId", "`itemId` is empty".into());
            }
            limits::check_str("itemId", id, limits::MAX_ID_LEN)?;
        }
        if let Some(c) = &self.category {
            limits::check_str("category", c, limits::MAX_NAME_LEN)?;
        }
        if let Some(d) = self.dwell_ms {
            if !(d.is_finite() && (0.0..=MAX_DWELL_MS).contains(&d)) {
                return bad(
                    "dwellMs",
                    format!("`dwellMs` must be from 0 to {MAX_DWELL_MS} ms, got {d}"),
                );
            }
        }
        if let Some(q) = self.quantity {
            if !(q.is_finite() && q.fract() == 0.0 && (1.0..=10_000.0).contains(&q)) {
                return bad(
                    "quantity",
                    format!("`quantity` must be a whole number from 1 to 10000, got {q}"),
                );
            }
        }
        match (&self.amount, &self.currency) {
            (None, None) => {}
            (Some(_), None) => {
                return bad(
                    "currency",
                    "an `amount` needs its `currency` (ISO 4217, e.g. \"EUR\")".into(),
                )
            }
            (None, Some(c)) => {
                Currency::from_code(c).map_err(|e| e.with_code(Code::InvalidEvent))?;
            }
            (Some(amount), Some(c)) => {
                let currency =
                    Currency::from_code(c).map_err(|e| e.with_code(Code::InvalidEvent))?;
                let minor = Decimal::from_json(amount)
                    .and_then(|d| currency.parse_major(&d))
                    .map_err(|why| {
                        Error::at(Code::InvalidEvent, "amount", format!("`amount` {why}"))
                    })?;
                // Normalize to an exact decimal string so the stored form never holds a float amount.
                self.amount = Some(Value::String(currency.format_major(minor)));
            }
        }
        if self.kind != EventType::PageView && self.dwell_ms.is_some() {
            return bad(
                "dwellMs",
                format!(
                    "`dwellMs` belongs to page_view events, not {}",
                    self.kind_name()
                ),
            );
        }
        Ok(())
    }

    fn kind_name(&self) -> &'static str {
        match self.kind {
            EventType::PageView => "page_view",
            EventType::AddToCart => "add_to_cart",
            EventType::RemoveFromCart => "remove_from_cart",
            EventType::Purchase => "purchase",
        }
    }

    /// The stored JSON form, made once when the event enters the log.
    fn encode(&self) -> Box<RawValue> {
        serde_json::value::to_raw_value(self)
            .unwrap_or_else(|_| RawValue::from_string("null".into()).expect("valid JSON"))
    }
}

/// What `track()` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackOutcome {
    pub stored: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// Oldest events dropped to stay within the log's event and byte bounds.
    #[serde(skip_serializing_if = "is_zero")]
    pub evicted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_764_000_000_000;
    const KEEP: Retention = Retention {
        behaviour_days: 30,
        purchase_days: 365,
    };

    fn ev(v: Value) -> Event {
        Event::from_json(&v, NOW).unwrap()
    }

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
        assert_eq!(e.amount, Some(json!("19.90")));
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
