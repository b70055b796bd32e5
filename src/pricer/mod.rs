//! The engine: one shopper's pricer. It owns the policy, the models, the behaviour log, the
//! experiment identity and the caches, and turns an item into a quote (docs/pricing.md). It knows
//! nothing of JS, of tract or of the OS: time comes in as a [`Clock`], randomness as a
//! [`Random`], models as [`Scorer`](crate::scorer::Scorer)s, and storage goes out as a serialized
//! state string. Everything it returns is a typed struct; JSON exists only at the boundaries.

mod decide;
mod edge;
mod shown;
mod stable;
mod sync;

pub use decide::{list_quote, Decision, FeatureValue};
pub use edge::{EdgeFeatures, EdgeRequest, RequestItem};
pub use shown::{shown_quote, ShownDoc};
pub use stable::StabilityWindow;

use crate::behaviour::{BehaviourLog, Event};
use crate::error::{quoted, Code, Error, Result};
use crate::experiment::{self, Variant};
use crate::features::Summaries;
use crate::item::Item;
use crate::ldp::{self, DailyBudget, Random, Refusal, ReportOutcome};
use crate::limits;
use crate::policy::{Policy, Retention};
use crate::quote::{Quote, Reason};
use crate::scorer::{ModelInfo, ModelSlot};
use crate::state::{self, LoadReport};
use crate::time::Clock;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

crate::named_enum! {
    /// What the shopper said about keeping their behaviour (public strings).
    pub enum Consent {
        Granted = "granted",
        Denied = "denied",
        Unknown = "unknown",
    }
}

impl std::str::FromStr for Consent {
    type Err = Error;

    /// A consent argument, or an error that lists the values allowed.
    fn from_str(s: &str) -> Result<Consent> {
        Consent::parse(s).ok_or_else(|| {
            Error::at(
                Code::InvalidArgument,
                "consent",
                format!("consent must be {}, not {}", Consent::allowed(), quoted(s)),
            )
        })
    }
}

impl Consent {
    /// The values, as an error lists them: `'granted', 'denied' or 'unknown'`.
    fn allowed() -> String {
        let quoted: Vec<String> = Consent::ALL.iter().map(|c| format!("'{c}'")).collect();
        match quoted.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
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

crate::named_enum! {
    /// Why `track()` stored nothing.
    pub enum NotStored {
        NoConsent = "no_consent",
        OptedOut = "opted_out",
        /// The event is older than the policy's retention keeps.
        PastRetention = "past_retention",
    }
}

/// What `track()` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackOutcome {
    pub stored: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<NotStored>,
    /// Oldest events dropped to stay within the log's event and byte bounds.
    #[serde(skip_serializing_if = "is_zero")]
    pub evicted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A model slot as `status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ModelStatus {
    Ready { info: ModelInfo },
    Unavailable { reason: String },
    Absent,
}

impl ModelStatus {
    fn of(slot: &ModelSlot) -> ModelStatus {
        match slot {
            ModelSlot::Ready(m) => ModelStatus::Ready {
                info: m.info().clone(),
            },
            ModelSlot::Unavailable(why) => ModelStatus::Unavailable {
                reason: why.clone(),
            },
            ModelSlot::Absent => ModelStatus::Absent,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Personalization {
    On,
    Off,
}

/// `pricer.status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub model: ModelStatus,
    pub uplift_model: ModelStatus,
    pub policy_version: String,
    pub state: LoadReport,
    pub consent: Consent,
    pub global_privacy_control: bool,
    pub persistence: Persistence,
    pub personalization: Personalization,
    pub events: usize,
}

/// Model scores for one shopper state.
#[derive(Debug, Clone, Copy)]
struct Scores {
    interest: Option<f64>,
    uplift: Option<f64>,
}

/// Session-level scores for a (log revision, time), with the features behind them.
type ScoreMemo = ((u64, i64), Scores, Arc<Vec<FeatureValue>>);

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
    /// ε spent on measurement reports on the current local day, by every pricer sharing this
    /// device's storage; stored with the log, and kept through `forget()` and consent changes.
    report_budget: DailyBudget,
    /// This pricer's own key in `report_budget` (drawn at its first report).
    budget_writer: Option<String>,
    /// Anonymous ids (and measurement reports) draw from it: cryptographic on a device.
    rng: Box<dyn Random>,
    /// Quotes re-served within their stability window (stable.rs), with the item they priced.
    stable_quotes: HashMap<String, (Item, Quote)>,
    /// Quotes other pages of the shop showed (from the stored state), by item id (shown.rs).
    restored: HashMap<String, shown::ShownQuote>,
    /// A quote was shown that the stored state does not hold yet.
    shown_unsaved: bool,
    /// The latest clock reading of a call: what "now" is when the state is written.
    latest_now: i64,
    /// Moves whenever a re-servable quote is dropped or replaced, so a host-side copy of
    /// `stable_quotes` with their windows (the JS wrapper's quote cache) is exact while it stands
    /// still.
    stable_epoch: u64,
    /// Whether a model reads item-scoped features (fixed with the models; asked on every quote).
    item_features: bool,
    decisions: HashMap<String, Decision>,
    /// Model outputs keyed by the exact f32 bits of their inputs.
    score_cache: HashMap<Vec<u32>, f64>,
    /// Summaries for the last (log revision, time) they were computed for.
    summary_cache: Option<((u64, i64), Summaries)>,
    /// Session-level scores and the features behind them, for the same key.
    score_memo: Option<ScoreMemo>,
    /// Storage is shared (two tabs of one shop): what this pricer knows of it, to merge before it
    /// writes (see [`Pricer::sync`]).
    store: sync::StoreView,
}

impl Pricer {
    /// Builds a pricer; `state` is what the storage adapter returned (possibly corrupt). `rng`
    /// draws anonymous ids and randomizes measurement reports: on a device it must be the
    /// platform's cryptographic source.
    pub fn new(
        policy: Policy,
        interest: ModelSlot,
        uplift: ModelSlot,
        state: Option<&str>,
        config: PricerConfig,
        now_ms: i64,
        rng: Box<dyn Random>,
    ) -> Result<Pricer> {
        if let Some(id) = &config.anon_id {
            if !state::valid_anon_id(id) {
                return Err(Error::at(
                    Code::InvalidArgument,
                    "anonId",
                    "anonId must be 1-128 characters of A-Z a-z 0-9 - _",
                ));
            }
        }
        let mut p = Pricer {
            stability_ttl_ms: config.stability_ttl_ms.unwrap_or(policy.stability.ttl_ms),
            policy,
            interest,
            uplift,
            log: BehaviourLog::default(),
            anon_id: String::new(),
            anon_id_injected: config.anon_id.is_some(),
            consent: config.consent,
            gpc_opt_out: config.gpc_opt_out,
            load_report: LoadReport::empty(),
            report_budget: DailyBudget::default(),
            budget_writer: None,
            rng,
            stable_quotes: HashMap::new(),
            restored: HashMap::new(),
            shown_unsaved: false,
            latest_now: now_ms,
            stable_epoch: 0,
            item_features: false,
            decisions: HashMap::new(),
            score_cache: HashMap::new(),
            summary_cache: None,
            score_memo: None,
            store: sync::StoreView::default(),
        };
        p.item_features = p.models_read_item_features();
        p.anon_id = match config.anon_id {
            Some(id) => id,
            None => experiment::new_anon_id(p.rng.as_mut()),
        };
        p.load_state(state, now_ms);
        Ok(p)
    }

    /// The loaded models, for a new pricer (simulations play many devices without reloading them).
    pub fn into_models(self) -> (ModelSlot, ModelSlot) {
        (self.interest, self.uplift)
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

    fn blocked_reason(&self) -> Option<Reason> {
        if self.gpc_opt_out {
            Some(Reason::OptedOut)
        } else if self.consent == Consent::Denied {
            Some(Reason::NoConsent)
        } else {
            None
        }
    }

    pub(crate) fn retention(&self) -> Retention {
        self.policy.retention(self.consent == Consent::Granted)
    }

    /// Events evicted over the log's life to respect its bounds.
    pub fn evicted_events(&self) -> u64 {
        self.log.evicted()
    }

    /// Changes consent at runtime. Denying clears all behaviour; granting keeps this session's log
    /// (the caller then persists it). The day's report budget stays: what was disclosed today
    /// remains disclosed whatever the shopper decides now.
    pub fn set_consent(&mut self, consent: Consent) {
        let before = self.persistence();
        self.consent = consent;
        if self.persistence() == Persistence::None {
            self.log.clear();
        }
        if self.persistence() != before {
            // Another store now: everything this pricer holds is new to it.
            self.store = sync::StoreView::all_unsynced(self.log.events());
        }
        self.invalidate();
    }

    /// See `stable_epoch`: equal epochs mean every quote kept before is still kept, so the window
    /// [`Pricer::reservable_window`] gave for it still says when it is served again.
    pub fn stable_epoch(&self) -> u64 {
        self.stable_epoch
    }

    pub fn consent(&self) -> Consent {
        self.consent
    }

    /// Drops every cache, the quotes shown included: for changes the shopper asked for (consent,
    /// `forget()`, another tab's `forget()`), after which no earlier price may be re-served.
    fn invalidate(&mut self) {
        self.stable_quotes.clear();
        self.restored.clear();
        self.shown_unsaved = false;
        self.stable_epoch += 1;
        self.decisions.clear();
        self.forget_scores();
    }

    /// Drops what was computed from the log (a new log may reuse a revision number). Quotes already
    /// shown stay: within the stability window an item keeps the price the shopper saw, whatever
    /// behaviour is added meanwhile, in this pricer or another one on the same storage.
    fn forget_scores(&mut self) {
        self.summary_cache = None;
        self.score_memo = None;
    }

    /// The serialized state for the storage adapter, or `None` when nothing may be stored.
    pub fn state_to_save(&self) -> Option<String> {
        match self.persistence() {
            Persistence::None => None,
            // Memory state never reaches device storage, so it may carry the page-session id too
            // (the wrapper restores both after an engine reset).
            Persistence::Storage | Persistence::Memory => Some(state::write(
                &self.log,
                Some(&self.anon_id),
                &self.report_budget,
                self.shown_document(self.latest_now).as_ref(),
            )),
        }
    }

    /// Whether quotes were shown that the stored state does not hold yet (the host then saves
    /// soon, once per batch of prices: `saved()` clears it).
    pub fn has_unsaved_quotes(&self) -> bool {
        self.shown_unsaved
    }

    /// What storage keeps right after `forget()`: nothing, or — when reports were made today —
    /// the day's report budget alone (no behaviour, no anonymous id).
    pub fn state_after_forget(&self, clock: &Clock) -> Option<String> {
        let today = crate::time::local_day(clock);
        (self.persistence() != Persistence::None && self.report_budget.has_spend_on(&today))
            .then(|| state::write(&BehaviourLog::default(), None, &self.report_budget, None))
    }

    /// Folds in the report budget of a stored state (another pricer on this device may have
    /// reported since this one last read it): called before a report, so the check sees every
    /// writer's spend.
    pub fn merge_stored_budget(&mut self, text: Option<&str>) {
        if self.persistence() != Persistence::None {
            self.report_budget.merge(&state::read_budget(text));
        }
    }

    /// Adds an event to the shopper's log (with consent, within the retention).
    pub fn track(&mut self, ev: Event, clock: &Clock) -> Result<TrackOutcome> {
        self.latest_now = self.latest_now.max(clock.now_ms);
        let refused = |reason| TrackOutcome {
            stored: false,
            reason: Some(reason),
            evicted: 0,
        };
        match self.blocked_reason() {
            Some(Reason::OptedOut) => return Ok(refused(NotStored::OptedOut)),
            Some(_) => return Ok(refused(NotStored::NoConsent)),
            None => {}
        }
        if !ev.kept_by(&self.retention(), clock.now_ms) {
            return Ok(refused(NotStored::PastRetention));
        }
        let evicted = self.log.push(ev.clone(), clock.now_ms, self.retention());
        self.store.add_unsynced(ev);
        Ok(TrackOutcome {
            stored: true,
            reason: None,
            evicted,
        })
    }

    /// A privacy-protected measurement report for a quote that was shown (src/ldp/,
    /// docs/measurement.md). Call it once per quote shown, when its outcome is known (`converted`:
    /// the shopper bought at this quote). Needs consent `granted` (no GPC) and the policy's
    /// `reporting` section; each report spends the policy's ε from the local day's budget, which is
    /// kept in the stored state (save `state_to_save()` after a report).
    pub fn report(&mut self, quote: &Quote, converted: bool, clock: &Clock) -> ReportOutcome {
        let day = crate::time::local_day(clock);
        match self.blocked_reason() {
            Some(Reason::OptedOut) => {
                return ReportOutcome::refused(
                    Refusal::OptedOut,
                    "Global Privacy Control is on: no measurement reports are made",
                    day,
                )
            }
            Some(_) => {
                return ReportOutcome::refused(
                    Refusal::NoConsent,
                    "consent is denied: no measurement reports are made",
                    day,
                )
            }
            None => {}
        }
        if self.persistence() != Persistence::Storage {
            return ReportOutcome::refused(
                Refusal::NoConsent,
                "measurement reports need consent 'granted'",
                day,
            );
        }
        let tuple = ldp::tuple_for(&self.policy, quote, converted, self.log.events());
        let writer = self
            .budget_writer
            .get_or_insert_with(|| experiment::new_anon_id(self.rng.as_mut())[..12].to_string());
        ldp::report_with_budget(
            &self.policy,
            tuple,
            &mut self.report_budget,
            writer,
            clock,
            self.rng.as_mut(),
        )
    }

    /// Deletes all behaviour and the anonymous id (a new one is drawn). The day's report budget is
    /// not behaviour and stays until the day ends ([`Pricer::state_after_forget`]).
    pub fn forget(&mut self) {
        self.log.clear();
        self.store = sync::StoreView::default();
        self.invalidate();
        self.score_cache.clear();
        self.anon_id = experiment::new_anon_id(self.rng.as_mut());
    }

    pub fn status(&self) -> Status {
        Status {
            model: ModelStatus::of(&self.interest),
            uplift_model: ModelStatus::of(&self.uplift),
            policy_version: self.policy.version.clone(),
            state: self.load_report.clone(),
            consent: self.consent,
            global_privacy_control: self.gpc_opt_out,
            persistence: self.persistence(),
            personalization: if self.blocked_reason().is_some() || self.interest.info().is_none() {
                Personalization::Off
            } else {
                Personalization::On
            },
            events: self.log.events().len(),
        }
    }
}

/// A price, or why an item could not be priced: one slot of `pricesFor` and of edge pricing.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PriceSlot {
    Quote(Box<Quote>),
    Error(ItemError),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemError {
    pub item_id: Option<String>,
    pub error: ErrorBody,
}

/// An error as JSON shows it: `{ code, message, field }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorBody {
    pub code: Code,
    pub message: String,
    pub field: Option<String>,
}

impl PriceSlot {
    pub fn error(item_id: Option<String>, e: &Error) -> PriceSlot {
        PriceSlot::Error(ItemError {
            item_id,
            error: ErrorBody {
                code: e.code,
                message: e.message.clone(),
                field: e.field.clone(),
            },
        })
    }

    pub fn quote(&self) -> Option<&Quote> {
        match self {
            PriceSlot::Quote(q) => Some(q),
            PriceSlot::Error(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_reads_its_public_strings_and_names_them_when_refused() {
        for consent in Consent::ALL {
            assert_eq!(consent.as_str().parse::<Consent>(), Ok(*consent));
        }
        let refused = "maybe".parse::<Consent>().unwrap_err();
        assert_eq!(
            (refused.code, refused.field.as_deref()),
            (Code::InvalidArgument, Some("consent"))
        );
        assert_eq!(
            refused.message,
            "consent must be 'granted', 'denied' or 'unknown', not \"maybe\""
        );
    }
}
