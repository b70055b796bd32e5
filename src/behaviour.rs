//! The shopper's local behaviour log (DESIGN.md §2 "BehaviourEvent"): validated events, sessions split on
//! 30 minutes of inactivity, bounded in events and bytes, retention in days, and a schema-versioned
//! serialization whose corrupt, foreign or old forms are discarded or repaired with a reported reason.

use crate::error::{from_serde_path, Code, Error, Result};
use crate::limits;
use crate::money::{Currency, Decimal};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// Inactivity that ends a session (Google Analytics' definition, which the training data uses).
pub const SESSION_GAP_MS: i64 = 30 * 60 * 1000;
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// How far in the future an event's `at` may be (clock skew between the page and the pricer).
/// Such an event is recorded at the pricer's clock, so it can never mask the events after it.
pub const MAX_FUTURE_SKEW_MS: i64 = 5 * 60 * 1000;
/// Longest dwell accepted on one page (a day).
const MAX_DWELL_MS: f64 = DAY_MS as f64;

pub const STATE_SCHEMA: &str = "pricelet/behaviour";
pub const STATE_VERSION: u32 = 1;

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

/// How long behaviour is kept (from the policy's `privacy` section).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retention {
    pub behaviour_days: u32,
    /// Purchases are kept this long (customer-history features); only applied with consent.
    pub purchase_days: u32,
}

impl Retention {
    pub fn keeps(&self, ev: &Event, now: i64) -> bool {
        let days = if ev.kind == EventType::Purchase {
            self.purchase_days.max(self.behaviour_days)
        } else {
            self.behaviour_days
        };
        ev.at_ms() >= now - i64::from(days) * DAY_MS
    }
}

/// What happened to the stored state when it was loaded; surfaced in `pricer.status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadReport {
    /// `empty`, `loaded`, `repaired` or `discarded`.
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub events: usize,
    pub dropped_events: usize,
}

impl LoadReport {
    fn discarded(reason: impl Into<String>) -> Self {
        LoadReport {
            outcome: "discarded",
            reason: Some(reason.into()),
            events: 0,
            dropped_events: 0,
        }
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredState {
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
}

/// The same document for writing: events go out as the JSON encoded when they entered the log, so
/// saving after every `track()` is a concatenation, not a re-serialization of the whole log.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StoredStateOut<'a> {
    schema: &'a str,
    version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    anon_id: Option<&'a str>,
    evicted: u64,
    events: &'a [Box<RawValue>],
    #[serde(skip_serializing_if = "Option::is_none")]
    report_budget: Option<&'a crate::ldp::DailySpend>,
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
    /// ε spent on measurement reports on the current local day (src/ldp.rs).
    report_budget: Option<crate::ldp::DailySpend>,
}

impl PartialEq for BehaviourLog {
    fn eq(&self, other: &Self) -> bool {
        self.events == other.events && self.evicted == other.evicted
    }
}

impl BehaviourLog {
    fn insert(&mut self, pos: usize, ev: Event) {
        let json = ev.encode();
        self.bytes += json.get().len() + 1;
        self.events.insert(pos, ev);
        self.encoded.insert(pos, json);
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
    /// The day's spend on measurement reports, stored with the log.
    pub fn report_budget_mut(&mut self) -> &mut Option<crate::ldp::DailySpend> {
        &mut self.report_budget
    }

    /// Adds a validated event, dropping expired ones and evicting the oldest beyond the bounds.
    pub fn push(&mut self, ev: Event, now: i64, retention: Retention) -> usize {
        self.prune(now, retention);
        if !retention.keeps(&ev, now) {
            return 0;
        }
        let at = ev.at_ms();
        let pos = self.events.partition_point(|e| e.at_ms() <= at);
        self.insert(pos, ev);
        let mut evicted = 0;
        while self.events.len() > limits::MAX_EVENTS || self.bytes > limits::MAX_STATE_BYTES - 1024
        {
            self.remove_oldest();
            evicted += 1;
        }
        self.evicted += evicted as u64;
        self.revision += 1;
        evicted
    }

    /// Drops events older than the retention allows. Returns how many were dropped.
    pub fn prune(&mut self, now: i64, retention: Retention) -> usize {
        let before = self.events.len();
        let keep: Vec<bool> = self
            .events
            .iter()
            .map(|e| retention.keeps(e, now))
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
        self.report_budget = None;
        self.revision += 1;
    }

    /// Serializes the log (and the anonymous id, when it may persist) in the versioned schema.
    pub fn to_state(&self, anon_id: Option<&str>) -> String {
        let state = StoredStateOut {
            schema: STATE_SCHEMA,
            version: STATE_VERSION,
            anon_id,
            evicted: self.evicted,
            events: &self.encoded,
            report_budget: self.report_budget.as_ref(),
        };
        serde_json::to_string(&state).unwrap_or_default()
    }

    /// Loads a stored state. Never fails: corrupt, foreign or newer states are discarded, and events
    /// that no longer validate are dropped one by one — each with a reason in the report.
    pub fn from_state(
        text: Option<&str>,
        now: i64,
        retention: Retention,
    ) -> (BehaviourLog, Option<String>, LoadReport) {
        let empty = || (BehaviourLog::default(), None);
        let Some(text) = text.filter(|t| !t.is_empty()) else {
            let (log, id) = empty();
            return (
                log,
                id,
                LoadReport {
                    outcome: "empty",
                    reason: None,
                    events: 0,
                    dropped_events: 0,
                },
            );
        };
        if text.len() > limits::MAX_STATE_BYTES {
            let (log, id) = empty();
            return (
                log,
                id,
                LoadReport::discarded(format!(
                    "stored state is {} bytes, over the {}-byte limit",
                    text.len(),
                    limits::MAX_STATE_BYTES
                )),
            );
        }
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                let (log, id) = empty();
                return (
                    log,
                    id,
                    LoadReport::discarded(format!("stored state is not valid JSON ({e})")),
                );
            }
        };
        if value.get("schema").and_then(Value::as_str) != Some(STATE_SCHEMA) {
            let (log, id) = empty();
            return (log, id, LoadReport::discarded("stored state was not written by pricelet (no \"schema\": \"pricelet/behaviour\")"));
        }
        let version = value.get("version").and_then(Value::as_u64).unwrap_or(0);
        if version != u64::from(STATE_VERSION) {
            // Version 1 is the first released schema; a migration is added here with each new one.
            let (log, id) = empty();
            let why = if version > u64::from(STATE_VERSION) {
                format!("stored state has schema version {version}, newer than this pricelet understands ({STATE_VERSION}); it was written by a newer release")
            } else {
                format!("stored state has unknown schema version {version} (this release reads version {STATE_VERSION})")
            };
            return (log, id, LoadReport::discarded(why));
        }
        let stored: StoredState = match serde_json::from_value(value) {
            Ok(s) => s,
            Err(e) => {
                let (log, id) = empty();
                return (
                    log,
                    id,
                    LoadReport::discarded(format!("stored state has a broken structure ({e})")),
                );
            }
        };
        let anon_id = stored.anon_id.filter(|id| valid_anon_id(id));
        let mut log = BehaviourLog {
            evicted: stored.evicted,
            report_budget: stored
                .report_budget
                .as_ref()
                .and_then(crate::ldp::DailySpend::from_stored),
            ..Default::default()
        };
        let mut dropped = 0;
        for raw in stored.events.iter().take(limits::MAX_EVENTS) {
            match Event::from_json(raw, now) {
                Ok(ev) if retention.keeps(&ev, now) => {
                    let pos = log.events.partition_point(|e| e.at_ms() <= ev.at_ms());
                    log.insert(pos, ev);
                }
                _ => dropped += 1,
            }
        }
        dropped += stored.events.len().saturating_sub(limits::MAX_EVENTS);
        let events = log.events.len();
        let report = if dropped == 0 {
            LoadReport {
                outcome: "loaded",
                reason: None,
                events,
                dropped_events: 0,
            }
        } else {
            LoadReport {
                outcome: "repaired",
                reason: Some(format!("dropped {dropped} stored event(s) that were invalid or past the retention period")),
                events,
                dropped_events: dropped,
            }
        };
        (log, anon_id, report)
    }
}

pub fn valid_anon_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= limits::MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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
        assert!(log.to_state(Some("abc")).len() <= limits::MAX_STATE_BYTES);
    }

    #[test]
    fn state_round_trips() {
        let mut log = BehaviourLog::default();
        log.push(ev(json!({"type": "page_view", "page": {"kind": "product", "pageValue": 3.5}, "dwellMs": 1200, "at": NOW - 5})), NOW, KEEP);
        log.push(
            ev(json!({"type": "purchase", "amount": "10.00", "currency": "EUR", "at": NOW})),
            NOW,
            KEEP,
        );
        let text = log.to_state(Some("anon_1"));
        let (back, id, report) = BehaviourLog::from_state(Some(&text), NOW, KEEP);
        assert_eq!(back.events(), log.events());
        assert_eq!(id.as_deref(), Some("anon_1"));
        assert_eq!(report.outcome, "loaded");
    }

    #[test]
    fn the_report_budget_is_stored_and_optional() {
        let mut log = BehaviourLog::default();
        log.push(ev(json!({"type": "purchase", "at": NOW})), NOW, KEEP);
        let plain = log.to_state(None);
        assert!(
            !plain.contains("reportBudget"),
            "absent until reports are made: {plain}"
        );
        *log.report_budget_mut() = Some(crate::ldp::DailySpend {
            day: "2026-11-29".into(),
            epsilon: 4.0,
        });
        let text = log.to_state(None);
        let (mut back, _, report) = BehaviourLog::from_state(Some(&text), NOW, KEEP);
        assert_eq!(report.outcome, "loaded");
        assert_eq!(
            back.report_budget_mut().as_ref().map(|b| b.epsilon),
            Some(4.0)
        );
        assert_eq!(back.to_state(None), text, "round trip");
        // A version-1 state from before the field, and one with a mangled record, still load.
        let (old, _, r) = BehaviourLog::from_state(Some(&plain), NOW, KEEP);
        assert_eq!((r.outcome, old.events().len()), ("loaded", 1));
        let mangled = text.replace("\"epsilon\":4.0", "\"epsilon\":\"lots\"");
        assert_ne!(mangled, text);
        let (mut m, _, r) = BehaviourLog::from_state(Some(&mangled), NOW, KEEP);
        assert_eq!((r.outcome, m.events().len()), ("loaded", 1));
        assert_eq!(*m.report_budget_mut(), None);
        // forget() clears it with everything else.
        back.clear();
        assert_eq!(*back.report_budget_mut(), None);
    }

    #[test]
    fn bad_states_are_discarded_or_repaired_with_a_reason() {
        let discarded = |text: &str| {
            let (log, id, report) = BehaviourLog::from_state(Some(text), NOW, KEEP);
            assert!(log.events().is_empty() && id.is_none(), "{text}");
            assert_eq!(report.outcome, "discarded", "{text}");
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
        let (log, id, report) = BehaviourLog::from_state(Some(&edited), NOW, KEEP);
        assert_eq!(log.events().len(), 1);
        assert_eq!(
            id, None,
            "an anonymous id with foreign characters is not trusted"
        );
        assert_eq!((report.outcome, report.dropped_events), ("repaired", 2));
    }
}
