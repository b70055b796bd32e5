//! The merchant's pricing policy (README "Policy reference"): versioned JSON, validated with the bad field
//! named. Rates are written as percents and held exactly (parts per million).

use crate::error::quoted;
use crate::error::{Code, Error, Result};
use crate::limits;
use crate::money::{Currency, Ppm, PriceEnding};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;

mod revise;
mod validate;

const WEEK_MS: i64 = 7 * 24 * 3_600_000;

/// A percent (0-100, at most 4 decimals) written as a number or a decimal string; exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Percent(pub Ppm);

impl Percent {
    pub fn ppm(self) -> i64 {
        self.0 .0
    }
}

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_f64(self.0.as_percent())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Caps {
    /// Largest discount on any item.
    pub global_percent: Percent,
    /// Tighter caps per category.
    #[serde(default)]
    pub category_percent: BTreeMap<String, Percent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Margin {
    /// Minimum `(net price - cost) / net price`.
    pub min_margin_percent: Percent,
    /// Cost as a percent of the net list price when the item gives neither `cost` nor `floorPrice`.
    pub default_cost_percent: Percent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tax {
    /// Whether item prices include tax (EU-style) or not (US-style).
    pub prices_include_tax: bool,
    pub rate_percent: Percent,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Exclusions {
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub item_ids: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tier {
    /// This tier applies to interest strictly below this probability.
    pub interest_below: f64,
    pub percent: Percent,
}

/// The randomizer a report was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mechanism {
    /// Optimized unary encoding: a bit vector over the domain.
    #[default]
    Oue,
    /// Generalized randomized response: one value of the domain.
    Grr,
}

impl Mechanism {
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Oue => "oue",
            Mechanism::Grr => "grr",
        }
    }

    /// `(p, q)`: the probability that the true value's coordinate is reported (OUE: its bit is 1; GRR:
    /// the report is that value), and the same for any other value. De-biasing divides by `p − q`.
    pub fn probabilities(self, epsilon: f64, domain_size: usize) -> (f64, f64) {
        let e = libm::exp(epsilon);
        match self {
            Mechanism::Oue => (0.5, 1.0 / (e + 1.0)),
            Mechanism::Grr => {
                let k = domain_size as f64;
                (e / (e + k - 1.0), 1.0 / (e + k - 1.0))
            }
        }
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
    /// Whether an event at `at_ms` (a purchase or not) is still kept at `now`.
    pub fn keeps(&self, purchase: bool, at_ms: i64, now: i64) -> bool {
        let days = if purchase {
            self.purchase_days.max(self.behaviour_days)
        } else {
            self.behaviour_days
        };
        at_ms >= now - i64::from(days) * crate::time::DAY_MS
    }
}

/// The strategy that chooses among the feasible candidates (docs/pricing.md "Strategies").
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// Interest bands: the first tier whose `interestBelow` exceeds the interest gives the discount.
    Tiers { tiers: Vec<Tier> },
    /// The seed document's naive rule `d = clamp(base - slope * interest)`; kept for comparison.
    Linear {
        base_percent: Percent,
        slope_percent: f64,
    },
    /// Maximise `P(buy | d) * (net price - cost)` with `P(buy | d) = σ(logit(r) + β d)`.
    ExpectedProfit { beta: f64 },
}

impl Default for Strategy {
    fn default() -> Self {
        Strategy::ExpectedProfit { beta: 0.0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StrategyType {
    Tiers,
    Linear,
    ExpectedProfit,
}

/// The strategy as written in the policy: one flat object, so every bad field is reported with its
/// path (`strategy.beta`); [`Policy::strategy`] is the checked form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StrategyDoc {
    #[serde(rename = "type")]
    pub kind: StrategyType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiers: Option<Vec<Tier>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_percent: Option<Percent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slope_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
}

impl StrategyDoc {
    fn checked(&self) -> Result<Strategy> {
        let bad = |field: &str, msg: &str| {
            Err(Error::at(
                Code::InvalidPolicy,
                format!("strategy.{field}"),
                format!("invalid policy: `strategy.{field}` {msg}"),
            ))
        };
        let (needed, strategy): (&[&str], Strategy) = match self.kind {
            StrategyType::Tiers => match &self.tiers {
                Some(t) => (&["tiers"], Strategy::Tiers { tiers: t.clone() }),
                None => return bad("tiers", "is required by the tiers strategy"),
            },
            StrategyType::Linear => match (self.base_percent, self.slope_percent) {
                (Some(base_percent), Some(slope_percent)) => (
                    &["basePercent", "slopePercent"],
                    Strategy::Linear {
                        base_percent,
                        slope_percent,
                    },
                ),
                (None, _) => return bad("basePercent", "is required by the linear strategy"),
                (_, None) => return bad("slopePercent", "is required by the linear strategy"),
            },
            StrategyType::ExpectedProfit => match self.beta {
                Some(beta) => (&["beta"], Strategy::ExpectedProfit { beta }),
                None => return bad("beta", "is required by the expectedProfit strategy"),
            },
        };
        let present = [
            ("tiers", self.tiers.is_some()),
            ("basePercent", self.base_percent.is_some()),
            ("slopePercent", self.slope_percent.is_some()),
            ("beta", self.beta.is_some()),
        ];
        if let Some((f, _)) = present.iter().find(|(f, p)| *p && !needed.contains(f)) {
            return bad(f, "does not belong to this strategy type");
        }
        Ok(strategy)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Stability {
    /// Within this time a shopper is re-served the same quote for an item (if it still verifies).
    #[serde(deserialize_with = "crate::wire::policy::whole_ms")]
    pub ttl_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LabelWhen {
    /// Whenever the model was consulted for the price.
    Personalized,
    /// Only when the personalized price is below list.
    Discounted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Disclosure {
    pub jurisdiction: String,
    pub label_when: LabelWhen,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Experiment {
    /// Share of shoppers held out at list price.
    pub control_percent: Percent,
    /// Share of treatment quotes drawn uniformly from the feasible candidates.
    pub exploration_percent: Percent,
    /// Exploration draws are fixed per (shopper, item, window).
    #[serde(deserialize_with = "crate::wire::policy::whole_ms")]
    pub exploration_window_ms: i64,
    /// The discount d₀ the uplift model's effect refers to.
    pub offer_step_percent: Percent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Privacy {
    pub retention_days: u32,
    /// Purchases may be kept this long for customer-history features, only with consent `granted`.
    pub purchase_history_days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreviousVersion {
    pub version: String,
    /// Quotes issued under `version` verify until this time (ms since the epoch).
    #[serde(deserialize_with = "crate::wire::policy::whole_ms")]
    pub accept_until: i64,
}

/// Measurement reports under local differential privacy (src/ldp/, docs/measurement.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reporting {
    /// ε of one report, in (0, 10].
    pub epsilon: f64,
    /// The most ε a device spends on reports per local day (sequential composition), ≥ `epsilon`.
    pub daily_epsilon: f64,
    /// `oue` (default) or `grr`.
    #[serde(default)]
    pub mechanism: Mechanism,
    /// Interest thresholds (ascending probabilities) that cut shoppers into buckets. When given,
    /// reports use domain version 2 (src/ldp/domain.rs): explore quotes form their own arm and the
    /// shopper's segment is replaced by the interest bucket, so the collector can estimate the
    /// price response β from randomized discounts (docs/measurement.md §7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interest_buckets: Option<Vec<f64>>,
}

impl Reporting {
    /// Whether one more report fits in a day's budget after `spent` ε. Sums of floats get a
    /// relative tolerance: ε 0.1 three times is 0.30000000000000004, which a daily ε of 0.3 allows.
    pub fn fits(&self, spent: f64) -> bool {
        spent + self.epsilon <= self.daily_epsilon * (1.0 + 1e-12)
    }

    /// How many reports one device may send a day: as many as [`Reporting::fits`] lets through,
    /// one after another, from nothing spent. The collector refuses a bigger batch from one device.
    pub fn reports_per_day(&self) -> u64 {
        let estimate = (self.daily_epsilon * (1.0 + 1e-12) / self.epsilon).floor();
        if estimate.is_nan() || estimate >= 1e6 {
            return estimate.min(u64::MAX as f64) as u64; // far beyond any batch: no need to count
        }
        let (mut n, mut spent) = (0u64, 0.0);
        while self.fits(spent) {
            spent += self.epsilon;
            n += 1;
        }
        n
    }
}

/// The learning loop's guardrails (docs/measurement.md §7): what the policy proposer may change
/// (only `strategy.beta`), within which range, by how much per update, and on what evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Learning {
    /// The kill switch: `false` and the proposer changes nothing.
    pub enabled: bool,
    /// The merchant's range for β; the loop never proposes a β outside it.
    pub beta_min: f64,
    pub beta_max: f64,
    /// The largest change of β per update (a retreat to `betaMin` is exempt: it only removes discounts).
    pub max_beta_step: f64,
    /// No update before this many reports in the tally.
    pub min_reports: u64,
    /// No update (other than a retreat) while the 95 % interval of β̂ is wider than this.
    pub max_interval_width: f64,
    /// Quotes of the version a proposal replaces keep verifying this long.
    #[serde(deserialize_with = "crate::wire::policy::whole_ms")]
    pub grace_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    pub version: String,
    /// Allowed discounts, percent of list, ascending.
    pub discount_steps: Vec<Percent>,
    pub caps: Caps,
    pub margin: Margin,
    pub tax: Tax,
    #[serde(default)]
    pub exclusions: Exclusions,
    /// Allowed endings per currency code, and `default` for the others.
    pub price_endings: BTreeMap<String, Vec<String>>,
    #[serde(rename = "strategy")]
    pub strategy_doc: StrategyDoc,
    pub stability: Stability,
    #[serde(deserialize_with = "crate::wire::policy::whole_ms")]
    pub quote_ttl_ms: i64,
    pub disclosure: Disclosure,
    pub experiment: Experiment,
    pub privacy: Privacy,
    pub max_quantity_per_order: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<PreviousVersion>,
    /// No quote may be more than this percent below list (a fairness limit on the spread of prices
    /// between shoppers); applied like a cap, on top of `caps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_spread_percent: Option<Percent>,
    /// Privacy-protected measurement reports; absent = off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting: Option<Reporting>,
    /// The learning loop (the proposer that updates β from reports); absent = off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning: Option<Learning>,
    #[serde(skip)]
    endings: BTreeMap<String, Vec<PriceEnding>>,
    #[serde(skip)]
    strategy: Strategy,
}

/// The policy the package ships and uses when none is given.
pub const DEFAULT_POLICY_JSON: &str = include_str!("../../policy/default.json");

impl Policy {
    /// How long quotes of this policy still verify once another replaces it: `learning.graceMs`
    /// when the loop is on (validated to be at least `quoteTtlMs`), else `quoteTtlMs` — a quote
    /// shown just before the switch verifies until it expires.
    pub fn grace_when_replaced_ms(&self) -> i64 {
        self.learning
            .as_ref()
            .map_or(0, |l| l.grace_ms)
            .max(self.quote_ttl_ms)
    }

    pub fn default_policy() -> Policy {
        static DEFAULT: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                Policy::from_json_str(DEFAULT_POLICY_JSON)
                    .expect("policy/default.json is checked by the test suite")
            })
            .clone()
    }

    /// The checked strategy.
    pub fn strategy(&self) -> &Strategy {
        &self.strategy
    }

    /// Allowed endings for a currency (its own list, else `default`).
    pub fn endings_for(&self, currency: Currency) -> &[PriceEnding] {
        self.endings
            .get(currency.code())
            .or_else(|| self.endings.get("default"))
            .map_or(&[PriceEnding::Any], Vec::as_slice)
    }

    /// Largest allowed discount for a category: the tightest of the global cap, the category's cap
    /// and `maxSpreadPercent`. Pricing and verification both go through it.
    pub fn cap_for(&self, category: Option<&str>) -> Ppm {
        let caps = self.caps_for(category);
        self.spread_cap().map_or(caps, |s| s.min(caps))
    }

    /// The tighter of the global and category caps alone (without `maxSpreadPercent`).
    pub fn caps_for(&self, category: Option<&str>) -> Ppm {
        let global = self.caps.global_percent.0;
        category
            .and_then(|c| {
                self.caps
                    .category_percent
                    .iter()
                    .find(|(name, _)| same_name(name, c))
            })
            .map_or(global, |(_, c)| c.0.min(global))
    }

    /// `maxSpreadPercent` as a cap, when set.
    pub fn spread_cap(&self) -> Option<Ppm> {
        self.max_spread_percent.map(|s| s.0)
    }

    /// Why an item is excluded from personalization, if it is.
    pub fn exclusion(&self, item: &crate::item::Item) -> Option<String> {
        if self.exclusions.item_ids.contains(&item.id) {
            return Some(format!("item {} is excluded by the policy", item.id));
        }
        if let Some(c) = item
            .category
            .as_deref()
            .filter(|c| self.exclusions.categories.iter().any(|x| same_name(x, c)))
        {
            return Some(format!("category {} is excluded by the policy", quoted(c)));
        }
        item.tags
            .iter()
            .find(|t| self.exclusions.tags.iter().any(|x| same_name(x, t)))
            .map(|t| format!("items tagged {} are excluded by the policy", quoted(t)))
    }

    /// The disclosure text in use, if any.
    pub fn label(&self) -> Option<&str> {
        self.disclosure
            .labels
            .get(&self.disclosure.jurisdiction)
            .map(String::as_str)
    }

    pub fn retention(&self, purchases_allowed: bool) -> Retention {
        Retention {
            behaviour_days: self.privacy.retention_days,
            purchase_days: if purchases_allowed {
                self.privacy.purchase_history_days
            } else {
                self.privacy.retention_days
            },
        }
    }
}

/// Category and tag names match without regard to case (`Luxury` is `luxury`): catalogs and
/// policies are written by different people. Item ids are identifiers and match exactly.
pub fn same_name(a: &str, b: &str) -> bool {
    a == b
        || a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
}

#[cfg(test)]
mod tests;
