//! Deciding a price: scores from the behaviour log, candidates from the policy, the strategy's
//! choice, the experiment's overrides, and the quote with its explanation.

use super::*;
use crate::features::{self, Registry};
use crate::policy::LabelWhen;
use crate::pricing::{self, Bounds, Candidate, Choice};
use crate::scorer::ModelKind;

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

impl Pricer {
    pub(super) fn summaries(&mut self, clock: &Clock) -> Summaries {
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

    pub(super) fn score(
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
        let v = model.score(&[row.to_vec()])?[0];
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

    pub(super) fn needs_item_features(&self) -> bool {
        self.item_features
    }

    pub(super) fn models_read_item_features(&self) -> bool {
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

    /// Prices one item: within the stability window the quote it was shown at, else a decision.
    pub fn price(&mut self, item: &Item, clock: &Clock) -> Result<Quote> {
        self.latest_now = self.latest_now.max(clock.now_ms);
        if let Some(q) = self.stable_quote(item, clock) {
            return Ok(q);
        }
        if let Some(q) = self.restored_quote(item, clock) {
            // Shown on another page of the shop: this page shows it too.
            self.restored.remove(&item.id);
            self.keep_stable(item, &q);
            return Ok(q);
        }
        let decision = self.decide(item, clock)?;
        let quote = decision.quote.clone();
        self.remember(decision);
        self.keep_stable(item, &quote);
        if self.persistence() == Persistence::Storage && self.stability_ttl_ms > 0 {
            self.shown_unsaved = true;
        }
        Ok(quote)
    }

    fn remember(&mut self, d: Decision) {
        if self.decisions.len() >= MAX_CACHED_ITEMS {
            self.decisions.clear();
        }
        self.decisions.insert(d.item_id.clone(), d);
    }

    pub fn explain(&self, item_id: &str) -> Result<&Decision> {
        self.decisions.get(item_id).ok_or_else(|| {
            Error::at(
                Code::UnknownItem,
                "itemId",
                format!(
                    "no quote for item {} yet: call priceFor(item) first, then explain(item.id)",
                    quoted(item_id)
                ),
            )
        })
    }

    fn decide(&mut self, item: &Item, clock: &Clock) -> Result<Decision> {
        let mut d = Decision::at_list(item, self.base_quote(item, clock, Reason::List));
        if let Some(why) = self.blocked_reason() {
            d.quote = self.base_quote(item, clock, why);
            return Ok(d.resealed());
        }
        if let Some(why) = self.policy.exclusion(item) {
            d.quote = self.base_quote(item, clock, Reason::Excluded);
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
                d.quote = self.base_quote(item, clock, Reason::ModelUnavailable);
                d.quote.explanation = format!(
                    "List price: the pricing model could not score this visit ({}).",
                    e.message
                );
                return Ok(d.resealed());
            }
        };
        d.features = shown;
        let variant = if self.persistence() != Persistence::Storage {
            // An id that is not kept cannot hold an arm: every page of the visit would draw again
            // (list price on one, a random discount on the next). Reports need consent anyway.
            Variant::None
        } else if self.in_control() {
            Variant::Control
        } else {
            Variant::Treatment
        };
        self.decide_with_scores(item, clock, scores, variant, true, d)
    }

    pub(super) fn in_control(&self) -> bool {
        experiment::assign_variant(&self.anon_id, &self.policy) == Variant::Control
    }

    /// The decision once the model scores are known (shared by device pricing and edge pricing).
    pub(super) fn decide_with_scores(
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
            d.quote = self.base_quote(item, clock, Reason::ModelUnavailable);
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
            (Variant::Control, _) => (0, Reason::Control),
            (_, Some(i)) => (i, Reason::Explore),
            _ if choice.index == 0 && choice.wanted_discount && candidates.len() == 1 => {
                (0, Reason::NoFeasiblePrice)
            }
            _ if cold_start => (choice.index, Reason::ColdStart),
            _ => (choice.index, Reason::Personalized),
        };
        let propensity = if variant == Variant::None {
            1.0
        } else if explore {
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
        q.interest = Some(interest);
        q.variant = variant;
        q.propensity = propensity;
        q.personalized =
            !cold_start && matches!(why, Reason::Personalized | Reason::NoFeasiblePrice);
        d.quote = finish_quote(q, item, &self.policy, &bounds);
        d.beta = beta;
        d.bounds = Some(bounds);
        d.candidates = candidates;
        d.choice = Some(choice);
        d.explored = explored.is_some();
        Ok(d.resealed())
    }

    /// A sealed list-price quote with a reason (the wrapper's answer after an engine reset).
    pub fn list_quote(&self, item: &Item, clock: &Clock, why: Reason) -> Quote {
        self.base_quote(item, clock, why).seal()
    }

    /// An unsealed list-price quote: every decision starts from it and is sealed once, at the end.
    pub(super) fn base_quote(&self, item: &Item, clock: &Clock, why: Reason) -> Quote {
        unsealed_list_quote(
            item,
            &self.policy,
            self.interest.info().map(|i| i.version.as_str()),
            clock.now_ms,
            why,
        )
    }
}

/// The display fields that follow from a decided quote's price, reason and personalization: the
/// price in major units, the discount percent, the disclosure label and the explanation.
pub(super) fn finish_quote(mut q: Quote, item: &Item, policy: &Policy, bounds: &Bounds) -> Quote {
    q.price = item.currency.to_major_f64(q.price_minor);
    q.discount_percent = discount_percent(q.discount_minor, item.list_minor);
    q.label = match policy.disclosure.label_when {
        LabelWhen::Personalized if q.personalized => policy.label().map(str::to_string),
        LabelWhen::Discounted if q.personalized && q.discount_minor > 0 => {
            policy.label().map(str::to_string)
        }
        _ => None,
    };
    q.explanation = explanation(
        q.reason,
        &q,
        bounds,
        policy.experiment.control_percent.0.as_percent(),
    );
    q
}

impl Decision {
    /// The decision before the shopper is looked at: `quote` (a list price), no score, no choice.
    pub(super) fn at_list(item: &Item, quote: Quote) -> Decision {
        Decision {
            item_id: item.id.clone(),
            quote,
            interest: None,
            uplift: None,
            beta: None,
            features: Arc::default(),
            bounds: None,
            candidates: vec![],
            choice: None,
            explored: false,
        }
    }

    fn resealed(mut self) -> Decision {
        self.quote = self.quote.seal();
        self
    }
}

/// The discount in percent of list, rounded *down* to hundredths (exact integers): a stated
/// reduction may never overstate the real one, so 19.996 % shows as 19.99 %, not 20 %.
fn discount_percent(discount_minor: i64, list_minor: i64) -> f64 {
    if list_minor <= 0 || discount_minor <= 0 {
        return 0.0;
    }
    let hundredths = (i128::from(discount_minor) * 10_000).div_euclid(i128::from(list_minor));
    hundredths as f64 / 100.0
}

/// A sealed list-price quote; needs no model and no behaviour (`listQuote(item)` before the wasm
/// pricer has loaded).
pub fn list_quote(
    item: &Item,
    policy: &Policy,
    model_version: Option<&str>,
    now_ms: i64,
    why: Reason,
) -> Quote {
    unsealed_list_quote(item, policy, model_version, now_ms, why).seal()
}

pub(super) fn unsealed_list_quote(
    item: &Item,
    policy: &Policy,
    model_version: Option<&str>,
    now_ms: i64,
    why: Reason,
) -> Quote {
    let list = item.currency.to_major_f64(item.list_minor);
    Quote {
        item_id: item.id.clone(),
        currency: item.currency,
        list_price_minor: item.list_minor,
        price_minor: item.list_minor,
        discount_minor: 0,
        list_price: list,
        price: list,
        discount_percent: 0.0,
        personalized: false,
        reason: why,
        explanation: explanation_for_list(why),
        label: None,
        interest: None,
        variant: Variant::None,
        propensity: 1.0,
        model_version: model_version.unwrap_or("none").to_string(),
        policy_version: policy.version.clone(),
        issued_at: now_ms,
        expires_at: now_ms + policy.quote_ttl_ms,
        quote_id: String::new(),
        key_id: None,
        sig: None,
    }
}

fn explanation_for_list(why: Reason) -> String {
    match why {
        Reason::OptedOut => "List price: your browser's Global Privacy Control signal turns personalization off.".into(),
        Reason::NoConsent => "List price: personalization is off because you did not consent to it.".into(),
        Reason::EngineReset => "List price: the pricing engine restarted after an internal error; the next price is personalized again.".into(),
        Reason::ModelUnavailable => "List price: the pricing model is unavailable.".into(),
        Reason::List => "List price.".into(),
        other => format!("List price ({}).", other.as_str()),
    }
}

fn explanation(why: Reason, q: &Quote, b: &Bounds, control_percent: f64) -> String {
    let off = format!("{}% off", q.discount_percent);
    match why {
        Reason::Control => format!("List price: you are in the comparison group ({control_percent}% of shoppers) that always sees list prices, so the store can measure whether its discounts help."),
        Reason::Explore if q.discount_minor > 0 => format!("{off}: a randomly chosen price among those the store allows; the store tests prices on a small share of visits."),
        Reason::Explore => "List price: randomly chosen among the prices the store allows; the store tests prices on a small share of visits.".into(),
        Reason::NoFeasiblePrice => "List price: a discount was considered, but none fits the store's minimum margin, cap and price-ending rules for this item.".into(),
        Reason::ColdStart if q.discount_minor > 0 => format!("{off}: the store's offer for visitors it knows nothing about yet; no information about you was used."),
        Reason::ColdStart => "List price: the store's price for visitors it knows nothing about yet.".into(),
        _ if q.discount_minor > 0 => format!(
            "{off}: computed on this device from your browsing here, which suggests an offer makes a purchase more likely. The store never discounts more than {}% and never below its minimum margin.",
            b.cap.as_percent()
        ),
        _ => "List price: your browsing here does not call for a discount under the store's pricing policy.".into(),
    }
}
