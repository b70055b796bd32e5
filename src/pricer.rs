//! The engine: one shopper's pricer. It owns the policy, the models, the behaviour log, the
//! experiment identity and the caches, and turns an item into a quote (DESIGN.md §3). It knows
//! nothing of JS: time comes in as a [`Clock`], storage goes out as a serialized state string.

use crate::behaviour::{BehaviourLog, Event, LoadReport, Retention, TrackOutcome};
use crate::error::quoted;
use crate::error::{Code, Error, Result};
use crate::experiment::{self, Variant};
use crate::features::{self, Clock, Registry, Summaries};
use crate::item::Item;
use crate::limits;
use crate::model::{Model, ModelInfo, ModelKind};
use crate::policy::{LabelWhen, Policy};
use crate::pricing::{self, Bounds, Candidate, Choice};
use crate::quote::Quote;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Quote reasons (public strings, DESIGN.md §2).
pub mod reason {
    pub const PERSONALIZED: &str = "personalized";
    pub const CONTROL: &str = "control";
    pub const EXPLORE: &str = "explore";
    pub const EXCLUDED: &str = "excluded";
    pub const OPTED_OUT: &str = "opted_out";
    pub const NO_CONSENT: &str = "no_consent";
    pub const NO_FEATURES: &str = "no_features";
    pub const MODEL_UNAVAILABLE: &str = "model_unavailable";
    pub const NO_FEASIBLE_PRICE: &str = "no_feasible_price";
    pub const ENGINE_RESET: &str = "engine_reset";
    /// The model was consulted with no behaviour at all (only the clock): the store's price for an
    /// unknown visitor, not a personalized one.
    pub const COLD_START: &str = "cold_start";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Consent {
    Granted,
    Denied,
    Unknown,
}

impl Consent {
    pub fn parse(s: &str) -> Result<Consent> {
        match s {
            "granted" => Ok(Consent::Granted),
            "denied" => Ok(Consent::Denied),
            "unknown" => Ok(Consent::Unknown),
            other => Err(Error::at(
                Code::InvalidArgument,
                "consent",
                format!(
                    "consent must be 'granted', 'denied' or 'unknown', not {}",
                    quoted(other)
                ),
            )),
        }
    }
}

/// Where behaviour may go, derived from consent and the Global Privacy Control signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Persistence {
    /// Kept in the storage adapter across visits (consent granted).
    Storage,
    /// Kept in memory for this page session only (consent unknown).
    Memory,
    /// Not tracked at all (consent denied, or GPC).
    None,
}

/// A model slot: loaded, or unavailable with the reason (pricing then falls back to list price).
#[derive(Debug)]
pub enum ModelSlot {
    Ready(Box<Model>),
    Unavailable(String),
    Absent,
}

impl ModelSlot {
    pub fn load(bytes: Option<&[u8]>, kind: ModelKind) -> ModelSlot {
        match bytes {
            None => ModelSlot::Absent,
            Some(b) => match Model::load(b, kind) {
                Ok(m) => ModelSlot::Ready(Box::new(m)),
                Err(e) => ModelSlot::Unavailable(e.message),
            },
        }
    }

    fn ready(&mut self) -> Option<&mut Model> {
        match self {
            ModelSlot::Ready(m) => Some(m),
            _ => None,
        }
    }

    fn status(&self) -> Value {
        match self {
            ModelSlot::Ready(m) => json!({"state": "ready", "info": m.info()}),
            ModelSlot::Unavailable(why) => json!({"state": "unavailable", "reason": why}),
            ModelSlot::Absent => json!({"state": "absent"}),
        }
    }

    fn info(&self) -> Option<&ModelInfo> {
        match self {
            ModelSlot::Ready(m) => Some(m.info()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PricerConfig {
    pub consent: Consent,
    /// `navigator.globalPrivacyControl === true` and the pricer respects it.
    pub gpc_opt_out: bool,
    /// Injected anonymous id (tests); otherwise the stored one or a fresh random one.
    pub anon_id: Option<String>,
    /// Overrides the policy's stability TTL (tests).
    pub stability_ttl_ms: Option<i64>,
}

/// Everything a decision used, for `explain()`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub item_id: String,
    pub quote: Quote,
    pub interest: Option<f64>,
    pub uplift: Option<f64>,
    pub beta: Option<f64>,
    pub features: Arc<Vec<FeatureValue>>,
    pub bounds: Option<Bounds>,
    pub candidates: Vec<Candidate>,
    pub choice: Option<Choice>,
    pub explored: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureValue {
    pub name: &'static str,
    /// What the model received (after the transform).
    pub value: f64,
    /// The same in the spec's unit, before the transform (5 pages, not log1p(5)).
    pub raw: f64,
    pub transform: &'static str,
    pub meaning: &'static str,
    pub unit: &'static str,
}

/// Model scores for one shopper state.
#[derive(Debug, Clone, Copy)]
struct Scores {
    interest: Option<f64>,
    uplift: Option<f64>,
}

const MAX_CACHED_ITEMS: usize = 2000;
const MAX_CACHED_SCORES: usize = 256;

pub struct Pricer {
    policy: Policy,
    interest: ModelSlot,
    uplift: ModelSlot,
    log: BehaviourLog,
    anon_id: String,
    /// An injected id (tests) is never replaced by a stored one.
    anon_id_injected: bool,
    consent: Consent,
    gpc_opt_out: bool,
    stability_ttl_ms: i64,
    load_report: LoadReport,
    /// Quotes re-served within the stability TTL, with the item they priced.
    stable_quotes: HashMap<String, (Item, Quote)>,
    decisions: HashMap<String, Decision>,
    /// Model outputs keyed by the exact f32 bits of their inputs.
    score_cache: HashMap<Vec<u32>, f64>,
    /// Summaries for the last (log revision, time) they were computed for.
    summary_cache: Option<((u64, i64), Summaries)>,
    /// Session-level scores and the features behind them, for the same key.
    score_memo: Option<((u64, i64), Scores, Arc<Vec<FeatureValue>>)>,
    /// Storage is shared (two tabs of one shop): what this pricer knows of it, to merge before it
    /// writes (see [`Pricer::sync`]).
    store: StoreView,
}

/// This pricer's view of the shared storage.
#[derive(Debug, Default)]
struct StoreView {
    /// Events tracked here that are not in storage yet.
    unsynced: Vec<Event>,
    /// The anonymous id of the stored state when this pricer last read or wrote it (None: it has
    /// seen no stored state, or storage was erased).
    seen_anon_id: Option<String>,
    /// The exact text this pricer last read or wrote: equal text means no other writer since.
    last_text: Option<String>,
}

impl Pricer {
    /// Builds a pricer; `state` is what the storage adapter returned (possibly corrupt).
    pub fn new(
        policy: Policy,
        interest: ModelSlot,
        uplift: ModelSlot,
        state: Option<&str>,
        config: PricerConfig,
        now_ms: i64,
    ) -> Result<Pricer> {
        let mut p = Pricer {
            stability_ttl_ms: config
                .stability_ttl_ms
                .unwrap_or(policy.stability.ttl_ms as i64),
            policy,
            interest,
            uplift,
            log: BehaviourLog::default(),
            anon_id: String::new(),
            anon_id_injected: config.anon_id.is_some(),
            consent: config.consent,
            gpc_opt_out: config.gpc_opt_out,
            load_report: LoadReport {
                outcome: "empty",
                reason: None,
                events: 0,
                dropped_events: 0,
            },
            stable_quotes: HashMap::new(),
            decisions: HashMap::new(),
            score_cache: HashMap::new(),
            summary_cache: None,
            score_memo: None,
            store: StoreView::default(),
        };
        if let Some(id) = &config.anon_id {
            if !crate::behaviour::valid_anon_id(id) {
                return Err(Error::at(
                    Code::InvalidArgument,
                    "anonId",
                    "anonId must be 1-128 characters of A-Z a-z 0-9 - _",
                ));
            }
        }
        p.anon_id = match config.anon_id {
            Some(id) => id,
            None => experiment::new_anon_id()
                .map_err(|e| Error::new(Code::Internal, format!("no secure random source: {e}")))?,
        };
        p.load_state(state, now_ms);
        Ok(p)
    }

    /// Replaces the log from a stored state (also when another tab wrote it). With consent the
    /// stored anonymous id is adopted, unless one was injected.
    pub fn load_state(&mut self, state: Option<&str>, now_ms: i64) {
        self.invalidate();
        self.store = StoreView::default();
        if self.persistence() == Persistence::None {
            self.log.clear();
            return;
        }
        let (log, id, report) = BehaviourLog::from_state(state, now_ms, self.retention());
        if report.outcome == "loaded" {
            self.store.last_text = state.map(str::to_string);
        }
        self.store.seen_anon_id = id.clone();
        let spent = self.log.report_budget_mut().take();
        self.log = log;
        // Another tab may have stored an older spend: the later day, and on the same day the larger
        // spend, wins, so reloading never hands out more of the daily privacy budget.
        let stored = self.log.report_budget_mut();
        if let Some(s) = spent {
            if stored
                .as_ref()
                .is_none_or(|b| (&b.day, b.epsilon) < (&s.day, s.epsilon))
            {
                *stored = Some(s);
            }
        }
        self.load_report = report;
        if let (Some(id), false) = (id, self.anon_id_injected) {
            self.anon_id = id;
        }
    }

    /// Brings this pricer in line with what the shared storage holds *now*, just before it writes:
    /// two tabs of one shop share one storage and neither sees the other's writes as they happen.
    /// The stored log is the base and this pricer's unsynced events are added to it, so no tab
    /// loses another's events. When the stored state is gone although this pricer saw one, or now
    /// has another anonymous id, another tab forgot the shopper (or withdrew consent): what this
    /// pricer had from storage is dropped too and only its unsynced events remain, so a `forget()`
    /// in one tab is never undone by stale state in another.
    pub fn sync(&mut self, stored: Option<&str>, now_ms: i64) {
        if self.persistence() == Persistence::None {
            return;
        }
        if stored.is_some() && stored == self.store.last_text.as_deref() {
            return; // nobody else wrote since
        }
        if stored.is_none() && self.store.seen_anon_id.is_none() {
            return; // nothing stored, and nothing ever seen: this pricer's log is all there is
        }
        let (base, id, report) = BehaviourLog::from_state(stored, now_ms, self.retention());
        let erased = match (&id, &self.store.seen_anon_id) {
            (None, Some(_)) => true,
            (Some(now), Some(seen)) => now != seen,
            _ => false,
        };
        let spent = self.log.report_budget_mut().take();
        let mut log = if erased && id.is_none() {
            BehaviourLog::default()
        } else {
            base
        };
        for ev in &self.store.unsynced {
            log.push(ev.clone(), now_ms, self.retention());
        }
        // The later day, and on the same day the larger spend, wins: merging never hands out
        // more of the daily privacy budget.
        if !erased {
            let stored_spend = log.report_budget_mut();
            if let Some(s) = spent {
                if stored_spend
                    .as_ref()
                    .is_none_or(|b| (&b.day, b.epsilon) < (&s.day, s.epsilon))
                {
                    *stored_spend = Some(s);
                }
            }
        }
        self.log = log;
        // Remember what was read: the same text next time means nobody wrote since, and its id
        // tells a later erase or restart apart.
        self.store.seen_anon_id = id.clone();
        self.store.last_text = id.as_ref().and(stored.map(str::to_string));
        if !self.anon_id_injected {
            match id {
                Some(id) => self.anon_id = id,
                None if erased => {
                    if let Ok(id) = experiment::new_anon_id() {
                        self.anon_id = id;
                    }
                }
                None => {}
            }
        }
        if stored.is_some() {
            self.load_report = report;
        }
        self.invalidate();
    }

    /// Records a successful write of `written` (what [`Pricer::state_to_save`] gave): the unsynced
    /// events are in storage now.
    pub fn saved(&mut self, written: Option<String>) {
        self.store.unsynced.clear();
        self.store.seen_anon_id = written.as_ref().map(|_| self.anon_id.clone());
        self.store.last_text = written;
    }

    /// What happened to the stored state at the last load (`status().state`).
    pub fn load_report(&self) -> &LoadReport {
        &self.load_report
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn anon_id(&self) -> &str {
        &self.anon_id
    }

    pub fn persistence(&self) -> Persistence {
        if self.gpc_opt_out {
            return Persistence::None;
        }
        match self.consent {
            Consent::Granted => Persistence::Storage,
            Consent::Unknown => Persistence::Memory,
            Consent::Denied => Persistence::None,
        }
    }

    fn blocked_reason(&self) -> Option<&'static str> {
        if self.gpc_opt_out {
            Some(reason::OPTED_OUT)
        } else if self.consent == Consent::Denied {
            Some(reason::NO_CONSENT)
        } else {
            None
        }
    }

    fn retention(&self) -> Retention {
        self.policy.retention(self.consent == Consent::Granted)
    }

    /// Changes consent at runtime. Denying clears everything; granting keeps this session's log
    /// (the caller then persists it) and draws a fresh id if the old one was per-session.
    pub fn set_consent(&mut self, consent: Consent) {
        let before = self.persistence();
        self.consent = consent;
        if self.persistence() == Persistence::None {
            self.log.clear();
        }
        if self.persistence() != before {
            // Another store now: everything this pricer holds is new to it.
            self.store = StoreView {
                unsynced: self.log.events().to_vec(),
                ..Default::default()
            };
        }
        self.invalidate();
    }

    pub fn consent(&self) -> Consent {
        self.consent
    }

    fn invalidate(&mut self) {
        self.stable_quotes.clear();
        self.decisions.clear();
        self.summary_cache = None;
        self.score_memo = None;
    }

    /// The serialized state for the storage adapter, or `None` when nothing may be stored.
    pub fn state_to_save(&self) -> Option<String> {
        match self.persistence() {
            Persistence::None => None,
            // Memory state never reaches device storage, so it may carry the page-session id too
            // (the wrapper restores both after an engine reset).
            Persistence::Storage | Persistence::Memory => {
                Some(self.log.to_state(Some(&self.anon_id)))
            }
        }
    }

    pub fn track(&mut self, event: &Value, clock: &Clock) -> Result<TrackOutcome> {
        let ev = Event::from_json(event, clock.now_ms)?;
        if let Some(why) = self.blocked_reason() {
            return Ok(TrackOutcome {
                stored: false,
                reason: Some(why),
                evicted: 0,
            });
        }
        if !self.retention().keeps(&ev, clock.now_ms) {
            return Ok(TrackOutcome {
                stored: false,
                reason: Some("past_retention"),
                evicted: 0,
            });
        }
        let evicted = self.log.push(ev.clone(), clock.now_ms, self.retention());
        self.store.unsynced.push(ev);
        if self.store.unsynced.len() > limits::MAX_EVENTS {
            // Storage has been unwritable for a long time: keep what the log itself would keep.
            self.store.unsynced.remove(0);
        }
        Ok(TrackOutcome {
            stored: true,
            reason: None,
            evicted,
        })
    }

    /// A privacy-protected measurement report for a quote that was shown (src/ldp.rs,
    /// docs/measurement.md). Call it once per quote shown, when its outcome is known (`converted`:
    /// the shopper bought at this quote). Needs consent `granted` (no GPC) and the policy's
    /// `reporting` section; each report spends the policy's ε from the local day's budget, which is
    /// kept in the stored state (save `state_to_save()` after a report). On a device `rng` must be a
    /// cryptographic source ([`crate::ldp::OsRandom`]); tests pass a seeded one.
    pub fn report<R: crate::ldp::Random + ?Sized>(
        &mut self,
        quote: &Quote,
        converted: bool,
        clock: &Clock,
        rng: &mut R,
    ) -> Result<crate::ldp::ReportOutcome> {
        use crate::ldp::{self, ReportOutcome};
        let day = ldp::local_day(clock);
        match self.blocked_reason() {
            Some(reason::OPTED_OUT) => {
                return Ok(ReportOutcome::refused(
                    ldp::refusal::OPTED_OUT,
                    "Global Privacy Control is on: no measurement reports are made",
                    day,
                ))
            }
            Some(_) => {
                return Ok(ReportOutcome::refused(
                    ldp::refusal::NO_CONSENT,
                    "consent is denied: no measurement reports are made",
                    day,
                ))
            }
            None => {}
        }
        if self.persistence() != Persistence::Storage {
            return Ok(ReportOutcome::refused(
                ldp::refusal::NO_CONSENT,
                "measurement reports need consent 'granted'",
                day,
            ));
        }
        let tuple = ldp::tuple_for(&self.policy, quote, converted, self.log.events());
        Ok(ldp::report_with_budget(
            &self.policy,
            tuple,
            self.log.report_budget_mut(),
            clock,
            rng,
        ))
    }

    /// Deletes all behaviour and the anonymous id (a new one is drawn).
    pub fn forget(&mut self) -> Result<()> {
        self.log.clear();
        self.store = StoreView::default();
        self.invalidate();
        self.score_cache.clear();
        self.anon_id = experiment::new_anon_id()
            .map_err(|e| Error::new(Code::Internal, format!("no secure random source: {e}")))?;
        Ok(())
    }

    pub fn status(&self) -> Value {
        json!({
            "model": self.interest.status(),
            "upliftModel": self.uplift.status(),
            "policyVersion": self.policy.version,
            "state": self.load_report,
            "consent": self.consent,
            "globalPrivacyControl": self.gpc_opt_out,
            "persistence": self.persistence(),
            "personalization": if self.blocked_reason().is_some() || self.interest.info().is_none() { "off" } else { "on" },
            "events": self.log.events().len(),
        })
    }

    /// Everything stored about the shopper, exactly as stored.
    pub fn export_data(&self) -> Value {
        let state = self
            .state_to_save()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok());
        json!({
            "persistence": self.persistence(),
            "consent": self.consent,
            "anonId": (self.persistence() != Persistence::None).then_some(&self.anon_id),
            "retentionDays": self.policy.privacy.retention_days,
            "purchaseHistoryDays": self.retention().purchase_days,
            "storedBytes": self.state_to_save().map_or(0, |s| s.len()),
            "evictedEvents": self.log.evicted(),
            "state": state,
        })
    }

    fn summaries(&mut self, clock: &Clock) -> Summaries {
        let key = (self.log.revision(), clock.now_ms);
        if let Some((k, s)) = &self.summary_cache {
            if *k == key {
                return s.clone();
            }
        }
        let events = self.log.events();
        let s = Summaries {
            session: features::session_summary(events, clock),
            history: features::history_summary(events, clock),
            item: None,
        };
        self.summary_cache = Some((key, s.clone()));
        s
    }

    fn score(
        slot: &mut ModelSlot,
        cache: &mut HashMap<Vec<u32>, f64>,
        row: &[f64],
    ) -> Result<Option<f64>> {
        let Some(model) = slot.ready() else {
            return Ok(None);
        };
        let mut key: Vec<u32> = features::to_model_input(row)
            .iter()
            .map(|x| x.to_bits())
            .collect();
        key.push(model.info().kind as u32);
        if let Some(v) = cache.get(&key) {
            return Ok(Some(*v));
        }
        let v = model.predict(&[row.to_vec()])?[0];
        if cache.len() >= MAX_CACHED_SCORES {
            cache.clear();
        }
        cache.insert(key, v);
        Ok(Some(v))
    }

    fn feature_row(slot: &ModelSlot, s: &Summaries) -> Option<(Vec<String>, Vec<f64>)> {
        let info = slot.info()?;
        let specs = Registry::builtin().resolve(&info.features).ok()?;
        Some((info.features.clone(), features::vector(&specs, s)))
    }

    fn scores(&mut self, summaries: &Summaries) -> Result<(Scores, Arc<Vec<FeatureValue>>)> {
        let mut shown: Vec<FeatureValue> = Vec::new();
        let mut out = Scores {
            interest: None,
            uplift: None,
        };
        for kind in [ModelKind::Interest, ModelKind::Uplift] {
            let slot = if kind == ModelKind::Interest {
                &mut self.interest
            } else {
                &mut self.uplift
            };
            let Some((names, row)) = Self::feature_row(slot, summaries) else {
                continue;
            };
            let v = Self::score(slot, &mut self.score_cache, &row)?;
            if kind == ModelKind::Interest {
                out.interest = v
            } else {
                out.uplift = v
            }
            for (name, value) in names.iter().zip(row) {
                if let Some(spec) = Registry::builtin()
                    .get(name)
                    .filter(|s| !shown.iter().any(|f| f.name == s.name))
                {
                    shown.push(FeatureValue {
                        name: &spec.name,
                        value,
                        raw: spec.raw(summaries),
                        transform: spec.transform_name(),
                        meaning: &spec.meaning,
                        unit: &spec.unit,
                    });
                }
            }
        }
        Ok((out, Arc::new(shown)))
    }

    fn needs_item_features(&self) -> bool {
        [&self.interest, &self.uplift].iter().any(|slot| {
            slot.info().is_some_and(|i| {
                i.features.iter().any(|f| {
                    Registry::builtin()
                        .get(f)
                        .is_some_and(|s| s.scope == features::Scope::Item)
                })
            })
        })
    }

    /// Prices one item (JSON as the storefront has it).
    pub fn price_for(&mut self, item: &Value, clock: &Clock) -> Result<Quote> {
        let item = Item::from_json(item)?;
        self.price_item(&item, clock)
    }

    /// Prices a batch; a bad item gives an error slot, the others price.
    pub fn prices_for(&mut self, items: &[Value], clock: &Clock) -> Result<Vec<Value>> {
        limits::check_count("items", items.len(), limits::MAX_ITEMS_PER_BATCH)?;
        Ok(items
            .iter()
            .map(|v| match self.price_for(v, clock) {
                Ok(q) => q.to_value(),
                Err(e) => error_slot(Item::id_of(v), &e),
            })
            .collect())
    }

    fn price_item(&mut self, item: &Item, clock: &Clock) -> Result<Quote> {
        if let Some(q) = self.stable_quote(item, clock) {
            return Ok(q);
        }
        let decision = self.decide(item, clock)?;
        let quote = decision.quote.clone();
        self.remember(decision);
        if self.stability_ttl_ms > 0 && quote.reason != reason::ENGINE_RESET {
            if self.stable_quotes.len() >= MAX_CACHED_ITEMS {
                self.stable_quotes.clear();
            }
            self.stable_quotes
                .insert(item.id.clone(), (item.clone(), quote.clone()));
        }
        Ok(quote)
    }

    /// The stability rule: within the TTL the same quote is re-served if it still passes
    /// `verifyQuote` under the current policy and list price. The policy of a pricer never changes
    /// and the quote was made for the cached item, so "still verifies" is exactly "the item is
    /// unchanged and the quote has not expired" — checked without re-hashing the quote.
    fn stable_quote(&self, item: &Item, clock: &Clock) -> Option<Quote> {
        let (priced, q) = self.stable_quotes.get(&item.id)?;
        let fresh = clock.now_ms >= q.issued_at
            && clock.now_ms < q.issued_at + self.stability_ttl_ms
            && clock.now_ms <= q.expires_at;
        (fresh && priced == item).then(|| q.clone())
    }

    fn remember(&mut self, d: Decision) {
        if self.decisions.len() >= MAX_CACHED_ITEMS {
            self.decisions.clear();
        }
        self.decisions.insert(d.item_id.clone(), d);
    }

    pub fn explain(&self, item_id: &str) -> Result<Value> {
        self.decisions
            .get(item_id)
            .map(|d| serde_json::to_value(d).unwrap_or_default())
            .ok_or_else(|| Error::at(Code::UnknownItem, "itemId", format!("no quote for item {} yet: call priceFor(item) first, then explain(item.id)", quoted(item_id))))
    }

    fn decide(&mut self, item: &Item, clock: &Clock) -> Result<Decision> {
        let mut d = Decision {
            item_id: item.id.clone(),
            quote: self.base_quote(item, clock, ""),
            interest: None,
            uplift: None,
            beta: None,
            features: Arc::default(),
            bounds: None,
            candidates: vec![],
            choice: None,
            explored: false,
        };
        if let Some(why) = self.blocked_reason() {
            d.quote = self.base_quote(item, clock, why);
            return Ok(d.resealed());
        }
        if let Some(why) = self.policy.exclusion(item) {
            d.quote = self.base_quote(item, clock, reason::EXCLUDED);
            d.quote.explanation = format!("List price: {why}.");
            return Ok(d.resealed());
        }
        let needs_item = self.needs_item_features();
        let key = (self.log.revision(), clock.now_ms);
        let memo = self
            .score_memo
            .as_ref()
            .filter(|(k, ..)| !needs_item && *k == key)
            .map(|(_, s, f)| (*s, f.clone()));
        let scored = match memo {
            Some(hit) => Ok(hit),
            None => {
                let mut summaries = self.summaries(clock);
                if needs_item {
                    summaries.item = Some(features::item_summary(
                        self.log.events(),
                        clock,
                        &item.id,
                        item.category.as_deref(),
                    ));
                }
                let scored = self.scores(&summaries);
                if let (Ok((s, f)), false) = (&scored, needs_item) {
                    // Session-level models score a page of items once.
                    self.score_memo = Some((key, *s, f.clone()));
                }
                scored
            }
        };
        let (scores, shown) = match scored {
            Ok(s) => s,
            Err(e) => {
                d.quote = self.base_quote(item, clock, reason::MODEL_UNAVAILABLE);
                d.quote.explanation = format!(
                    "List price: the pricing model could not score this visit ({}).",
                    e.message
                );
                return Ok(d.resealed());
            }
        };
        d.features = shown;
        let variant = if self.in_control() {
            Variant::Control
        } else {
            Variant::Treatment
        };
        self.decide_with_scores(item, clock, scores, variant, true, d)
    }

    fn in_control(&self) -> bool {
        experiment::assign_variant(&self.anon_id, &self.policy) == Variant::Control
    }

    /// The decision once the model scores are known (shared by device pricing and edge pricing).
    fn decide_with_scores(
        &self,
        item: &Item,
        clock: &Clock,
        scores: Scores,
        variant: Variant,
        on_device: bool,
        mut d: Decision,
    ) -> Result<Decision> {
        // On the device the pricer explores and knows whether it has any behaviour at all; edge
        // requests carry features only when there is behaviour, and never explore.
        let explore = on_device;
        let cold_start = on_device && self.log.events().is_empty();
        let Some(interest) = scores.interest else {
            let why = match &self.interest {
                ModelSlot::Unavailable(why) => why.clone(),
                _ => "no interest model was given".to_string(),
            };
            d.quote = self.base_quote(item, clock, reason::MODEL_UNAVAILABLE);
            d.quote.explanation = format!("List price: the pricing model is unavailable ({why}).");
            return Ok(d.resealed());
        };
        d.interest = Some(interest);
        d.uplift = scores.uplift;
        let bounds = pricing::bounds(item, &self.policy);
        let candidates = pricing::candidates(item, &self.policy, &bounds);
        let beta = scores.uplift.map(|u| {
            pricing::beta_from_uplift(interest, u, self.policy.experiment.offer_step_percent.0)
        });
        let choice = pricing::choose(item, &self.policy, &bounds, &candidates, interest, beta);
        let explored = if explore && variant == Variant::Treatment {
            experiment::exploration(
                &self.anon_id,
                &item.id,
                clock.now_ms,
                &self.policy,
                candidates.len(),
            )
        } else {
            None
        };
        let (shown, why) = match (variant, explored) {
            (Variant::Control, _) => (0, reason::CONTROL),
            (_, Some(i)) => (i, reason::EXPLORE),
            _ if choice.index == 0 && choice.wanted_discount && candidates.len() == 1 => {
                (0, reason::NO_FEASIBLE_PRICE)
            }
            _ if cold_start => (choice.index, reason::COLD_START),
            _ => (choice.index, reason::PERSONALIZED),
        };
        let propensity = if explore {
            experiment::propensity(&self.policy, shown, choice.index, candidates.len())
        } else {
            // Edge quotes do not explore: P = c·[list] + (1 - c)·[chosen].
            let c = self.policy.experiment.control_percent.0.as_fraction();
            c * f64::from(u8::from(shown == 0))
                + (1.0 - c) * f64::from(u8::from(shown == choice.index))
        };
        let cand = candidates[shown];
        let mut q = self.base_quote(item, clock, why);
        q.price_minor = cand.price_minor;
        q.discount_minor = cand.discount_minor;
        q.price = item.currency.to_major_f64(cand.price_minor);
        q.discount_percent = discount_percent(cand.discount_minor, item.list_minor);
        q.interest = Some(interest);
        q.variant = variant.as_str().to_string();
        q.propensity = propensity;
        q.personalized =
            !cold_start && matches!(why, reason::PERSONALIZED | reason::NO_FEASIBLE_PRICE);
        q.label = match self.policy.disclosure.label_when {
            LabelWhen::Personalized if q.personalized => self.policy.label().map(str::to_string),
            LabelWhen::Discounted if q.personalized && q.discount_minor > 0 => {
                self.policy.label().map(str::to_string)
            }
            _ => None,
        };
        q.explanation = explanation(
            why,
            &q,
            &bounds,
            self.policy.experiment.control_percent.0.as_percent(),
        );
        d.quote = q;
        d.beta = beta;
        d.bounds = Some(bounds);
        d.candidates = candidates;
        d.choice = Some(choice);
        d.explored = explored.is_some();
        Ok(d.resealed())
    }

    /// A sealed list-price quote with a reason (the wrapper's answer after an engine reset).
    pub fn list_quote(&self, item: &Item, clock: &Clock, why: &str) -> Quote {
        self.base_quote(item, clock, why).seal()
    }

    /// An unsealed list-price quote: every decision starts from it and is sealed once, at the end.
    fn base_quote(&self, item: &Item, clock: &Clock, why: &str) -> Quote {
        unsealed_list_quote(
            item,
            &self.policy,
            self.interest.info().map(|i| i.version.as_str()),
            clock.now_ms,
            why,
        )
    }

    /// Edge mode, on the device: the model inputs for the items it shows. Needs consent `granted`;
    /// otherwise the request carries no features and the Worker answers list prices.
    pub fn edge_request(&mut self, items: &[Value], clock: &Clock) -> Result<Value> {
        limits::check_count("items", items.len(), limits::MAX_ITEMS_PER_BATCH)?;
        for (i, v) in items.iter().enumerate() {
            Item::from_json(v).map_err(|e| e.under(&format!("items[{i}]")))?;
        }
        // No consent, no model or no behaviour: nothing personal to send; the Worker answers list prices.
        if self.persistence() != Persistence::Storage
            || self.interest.info().is_none()
            || self.log.events().is_empty()
        {
            return Ok(json!({ "items": items }));
        }
        let names = self.edge_feature_names();
        let specs = Registry::builtin().resolve(&names)?;
        let base = self.summaries(clock);
        let needs_item = self.needs_item_features();
        let rows: Vec<Vec<f64>> = items
            .iter()
            .map(|v| {
                let mut s = base.clone();
                if needs_item {
                    let it = Item::from_json(v).expect("validated above");
                    s.item = Some(features::item_summary(
                        self.log.events(),
                        clock,
                        &it.id,
                        it.category.as_deref(),
                    ));
                }
                features::vector(&specs, &s)
            })
            .collect();
        Ok(json!({
            "items": items,
            "features": rows,
            "featureNames": names,
            "variant": if self.in_control() { "control" } else { "treatment" },
        }))
    }

    fn edge_feature_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for info in [self.interest.info(), self.uplift.info()]
            .into_iter()
            .flatten()
        {
            for f in &info.features {
                if !names.contains(f) {
                    names.push(f.clone());
                }
            }
        }
        names
    }

    /// Edge mode, on the server: prices items from features a device computed. No behaviour is
    /// stored; no exploration (the server has no shopper id); the variant is the device's.
    pub fn price_from_features(
        &mut self,
        request: &EdgeRequest,
        clock: &Clock,
    ) -> Result<Vec<Value>> {
        let n = request.items.len();
        limits::check_count("items", n, limits::MAX_ITEMS_PER_BATCH)?;
        let Some(rows) = &request.features else {
            return Ok(request
                .items
                .iter()
                .map(|v| match Item::from_json(v) {
                    Ok(item) => {
                        let mut q = self.base_quote(&item, clock, reason::NO_FEATURES);
                        q.explanation = "List price: the request carried no features (personalization needs the shopper's consent).".into();
                        q.seal().to_value()
                    }
                    Err(e) => error_slot(Item::id_of(v), &e),
                })
                .collect());
        };
        let names = request.feature_names.clone().unwrap_or_default();
        if names.is_empty() {
            return Err(Error::at(
                Code::InvalidFeatures,
                "featureNames",
                "featureNames is required with features",
            ));
        }
        limits::check_count("featureNames", names.len(), limits::MAX_MODEL_FEATURES)?;
        let specs = Registry::builtin()
            .resolve(&names)
            .map_err(|e| e.under("featureNames"))?;
        if rows.len() != n {
            return Err(Error::at(
                Code::InvalidFeatures,
                "features",
                format!(
                    "{} feature rows for {n} items: send one row per item",
                    rows.len()
                ),
            ));
        }
        for (i, r) in rows.iter().enumerate() {
            if r.len() != names.len() {
                return Err(Error::at(
                    Code::InvalidFeatures,
                    format!("features[{i}]"),
                    format!(
                        "row has {} values for {} featureNames",
                        r.len(),
                        names.len()
                    ),
                ));
            }
            if let Some(j) = r.iter().position(|x| !x.is_finite()) {
                return Err(Error::at(
                    Code::InvalidFeatures,
                    format!("features[{i}][{j}]"),
                    "feature values must be finite numbers",
                ));
            }
            // Only what a device can compute from a valid log is priced (models/features.json
            // `range`): made-up vectors far outside it are refused, not signed.
            if let Some((j, spec)) = specs
                .iter()
                .enumerate()
                .find(|(j, s)| !(s.range.0..=s.range.1).contains(&r[*j]))
            {
                return Err(Error::at(
                    Code::InvalidFeatures,
                    format!("features[{i}][{j}]"),
                    format!(
                        "{} = {} is outside what a device computes ({} to {}, after {}); send the features pricer.edgeRequest() made",
                        spec.name, r[j], spec.range.0, spec.range.1, spec.transform_name()
                    ),
                ));
            }
        }
        let variant = match request.variant.as_deref() {
            None => Variant::Treatment,
            Some(v) => match Variant::parse(v) {
                Some(Variant::None) | None => {
                    return Err(Error::at(
                        Code::InvalidArgument,
                        "variant",
                        "variant must be 'control' or 'treatment'",
                    ))
                }
                Some(v) => v,
            },
        };
        let index: HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let mut out = Vec::with_capacity(n);
        for (v, row) in request.items.iter().zip(rows) {
            let item = match Item::from_json(v) {
                Ok(item) => item,
                Err(e) => {
                    out.push(error_slot(Item::id_of(v), &e));
                    continue;
                }
            };
            let mut scores = Scores {
                interest: None,
                uplift: None,
            };
            for kind in [ModelKind::Interest, ModelKind::Uplift] {
                let slot = if kind == ModelKind::Interest {
                    &mut self.interest
                } else {
                    &mut self.uplift
                };
                let Some(info) = slot.info() else { continue };
                let cols: Option<Vec<f64>> = info
                    .features
                    .iter()
                    .map(|f| index.get(f.as_str()).map(|&j| row[j]))
                    .collect();
                let cols = cols.ok_or_else(|| {
                    Error::at(
                        Code::InvalidFeatures,
                        "featureNames",
                        format!(
                            "the {} model needs features {}",
                            kind.as_str(),
                            info.features.join(", ")
                        ),
                    )
                })?;
                let v = Self::score(slot, &mut self.score_cache, &cols)?;
                if kind == ModelKind::Interest {
                    scores.interest = v
                } else {
                    scores.uplift = v
                }
            }
            let base = Decision {
                item_id: item.id.clone(),
                quote: self.base_quote(&item, clock, ""),
                interest: None,
                uplift: None,
                beta: None,
                features: Arc::default(),
                bounds: None,
                candidates: vec![],
                choice: None,
                explored: false,
            };
            let quote = if let Some(why) = self.policy.exclusion(&item) {
                let mut q = self.base_quote(&item, clock, reason::EXCLUDED);
                q.explanation = format!("List price: {why}.");
                q.seal()
            } else {
                self.decide_with_scores(&item, clock, scores, variant, false, base)?
                    .quote
            };
            out.push(quote.to_value());
        }
        Ok(out)
    }
}

/// The body of an edge pricing request (`pricer.edgeRequest(items)` produces it).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EdgeRequest {
    pub items: Vec<Value>,
    #[serde(default)]
    pub features: Option<Vec<Vec<f64>>>,
    #[serde(default)]
    pub feature_names: Option<Vec<String>>,
    #[serde(default)]
    pub variant: Option<String>,
}

impl EdgeRequest {
    pub fn from_json(v: &Value) -> Result<EdgeRequest> {
        serde_path_to_error::deserialize(v).map_err(|e| {
            crate::error::from_serde_path(Code::InvalidArgument, "invalid edge request", e)
        })
    }
}

impl Decision {
    fn resealed(mut self) -> Decision {
        self.quote = self.quote.seal();
        self
    }
}

pub fn error_slot(item_id: Option<String>, e: &Error) -> Value {
    json!({ "itemId": item_id, "error": { "code": e.code.as_str(), "message": e.message, "field": e.field } })
}

fn discount_percent(discount_minor: i64, list_minor: i64) -> f64 {
    if list_minor == 0 {
        return 0.0;
    }
    (discount_minor as f64 * 10_000.0 / list_minor as f64).round() / 100.0
}

/// A sealed list-price quote; needs no model and no behaviour (`listQuote(item)` before the wasm
/// pricer has loaded).
pub fn list_quote(
    item: &Item,
    policy: &Policy,
    model_version: Option<&str>,
    now_ms: i64,
    why: &str,
) -> Quote {
    unsealed_list_quote(item, policy, model_version, now_ms, why).seal()
}

fn unsealed_list_quote(
    item: &Item,
    policy: &Policy,
    model_version: Option<&str>,
    now_ms: i64,
    why: &str,
) -> Quote {
    let list = item.currency.to_major_f64(item.list_minor);
    Quote {
        item_id: item.id.clone(),
        currency: item.currency.code().to_string(),
        list_price_minor: item.list_minor,
        price_minor: item.list_minor,
        discount_minor: 0,
        list_price: list,
        price: list,
        discount_percent: 0.0,
        personalized: false,
        reason: why.to_string(),
        explanation: explanation_for_list(why),
        label: None,
        interest: None,
        variant: Variant::None.as_str().to_string(),
        propensity: 1.0,
        model_version: model_version.unwrap_or("none").to_string(),
        policy_version: policy.version.clone(),
        issued_at: now_ms,
        expires_at: now_ms + policy.quote_ttl_ms as i64,
        quote_id: String::new(),
        key_id: None,
        sig: None,
    }
}

fn explanation_for_list(why: &str) -> String {
    match why {
        reason::OPTED_OUT => "List price: your browser's Global Privacy Control signal turns personalization off.".into(),
        reason::NO_CONSENT => "List price: personalization is off because you did not consent to it.".into(),
        reason::ENGINE_RESET => "List price: the pricing engine restarted after an internal error; the next price is personalized again.".into(),
        reason::MODEL_UNAVAILABLE => "List price: the pricing model is unavailable.".into(),
        "" | "list" => "List price.".into(),
        other => format!("List price ({other})."),
    }
}

fn explanation(why: &str, q: &Quote, b: &Bounds, control_percent: f64) -> String {
    let off = format!("{}% off", q.discount_percent);
    match why {
        reason::CONTROL => format!("List price: you are in the comparison group ({control_percent}% of shoppers) that always sees list prices, so the store can measure whether its discounts help."),
        reason::EXPLORE if q.discount_minor > 0 => format!("{off}: a randomly chosen price among those the store allows; the store tests prices on a small share of visits."),
        reason::EXPLORE => "List price: randomly chosen among the prices the store allows; the store tests prices on a small share of visits.".into(),
        reason::NO_FEASIBLE_PRICE => "List price: a discount was considered, but none fits the store's minimum margin, cap and price-ending rules for this item.".into(),
        reason::COLD_START if q.discount_minor > 0 => format!("{off}: the store's offer for visitors it knows nothing about yet; no information about you was used."),
        reason::COLD_START => "List price: the store's price for visitors it knows nothing about yet.".into(),
        _ if q.discount_minor > 0 => format!(
            "{off}: computed on this device from your browsing here, which suggests an offer makes a purchase more likely. The store never discounts more than {}% and never below its minimum margin.",
            b.cap.as_percent()
        ),
        _ => "List price: your browsing here does not call for a discount under the store's pricing policy.".into(),
    }
}
