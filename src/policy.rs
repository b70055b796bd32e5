//! The merchant's pricing policy (DESIGN.md §2 "Policy"): versioned JSON, validated with the bad field
//! named. Rates are written as percents and held exactly (parts per million).

use crate::error::quoted;
use crate::error::{from_serde_path, Code, Error, Result};
use crate::limits;
use crate::money::{Currency, Decimal, Ppm, PriceEnding};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

const WEEK_MS: f64 = 7.0 * 24.0 * 3_600_000.0;

/// A percent (0-100, at most 4 decimals) written as a number or a decimal string; exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Percent(pub Ppm);

impl Percent {
    pub fn ppm(self) -> i64 {
        self.0 .0
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        let dec = Decimal::from_json(&v)
            .map_err(|e| serde::de::Error::custom(format!("a percent {e}")))?;
        let ppm = Ppm::from_percent(&dec)
            .map_err(|e| serde::de::Error::custom(format!("a percent {e}")))?;
        if ppm > Ppm::ONE {
            return Err(serde::de::Error::custom(format!(
                "a percent must be from 0 to 100, got {}",
                dec.as_str()
            )));
        }
        Ok(Percent(ppm))
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

/// The strategy that chooses among the feasible candidates (DESIGN.md §3.2).
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
    pub ttl_ms: f64,
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
    pub exploration_window_ms: f64,
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
    pub accept_until: f64,
}

/// Measurement reports under local differential privacy (src/ldp.rs, docs/measurement.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reporting {
    /// ε of one report, in (0, 10].
    pub epsilon: f64,
    /// The most ε a device spends on reports per local day (sequential composition), ≥ `epsilon`.
    pub daily_epsilon: f64,
    /// `oue` (default) or `grr`.
    #[serde(default)]
    pub mechanism: crate::ldp::Mechanism,
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
    pub quote_ttl_ms: f64,
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
    #[serde(skip)]
    endings: BTreeMap<String, Vec<PriceEnding>>,
    #[serde(skip)]
    strategy: Strategy,
}

/// The policy the package ships and uses when none is given.
pub const DEFAULT_POLICY_JSON: &str = include_str!("../policy/default.json");

impl Policy {
    pub fn default_policy() -> Policy {
        static DEFAULT: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                Policy::from_json_str(DEFAULT_POLICY_JSON)
                    .expect("policy/default.json is checked by the test suite")
            })
            .clone()
    }

    pub fn from_json_str(text: &str) -> Result<Policy> {
        if text.len() > limits::MAX_POLICY_BYTES {
            return Err(Error::limit(
                "policy",
                &format!("a {}-byte policy", text.len()),
                format!("{} bytes", limits::MAX_POLICY_BYTES),
            ));
        }
        // Through a Value, so one path-tracking deserializer serves both entry points (wasm size).
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            Error::at(
                Code::InvalidPolicy,
                "policy",
                format!("invalid policy: not valid JSON ({e})"),
            )
        })?;
        Policy::from_json(&value)
    }

    pub fn from_json(v: &serde_json::Value) -> Result<Policy> {
        let size = serde_json::to_string(v)
            .map(|s| s.len())
            .unwrap_or(usize::MAX);
        if size > limits::MAX_POLICY_BYTES {
            return Err(Error::limit(
                "policy",
                &format!("a {size}-byte policy"),
                format!("{} bytes", limits::MAX_POLICY_BYTES),
            ));
        }
        let policy: Policy = serde_path_to_error::deserialize(v)
            .map_err(|e| from_serde_path(Code::InvalidPolicy, "invalid policy", e))?;
        policy.validated()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn validated(mut self) -> Result<Policy> {
        let bad = |field: &str, msg: String| {
            Err(Error::at(
                Code::InvalidPolicy,
                field,
                format!("invalid policy: `{field}` {msg}"),
            ))
        };
        let count = |field: &str, n: usize| limits::check_count(field, n, limits::MAX_POLICY_RULES);
        if self.version.trim().is_empty() {
            return bad("version", "must be a non-empty string".into());
        }
        limits::check_str("version", &self.version, limits::MAX_NAME_LEN)?;
        count("discountSteps", self.discount_steps.len())?;
        for (i, s) in self.discount_steps.iter().enumerate() {
            if s.ppm() == 0 || s.ppm() >= Ppm::ONE.0 {
                return bad(
                    &format!("discountSteps[{i}]"),
                    "must be above 0 and below 100".into(),
                );
            }
            if i > 0 && *s <= self.discount_steps[i - 1] {
                return bad(
                    &format!("discountSteps[{i}]"),
                    "must be larger than the step before it (ascending, no duplicates)".into(),
                );
            }
        }
        count("caps.categoryPercent", self.caps.category_percent.len())?;
        if self.margin.min_margin_percent.0 >= Ppm::ONE {
            return bad("margin.minMarginPercent", "must be below 100".into());
        }
        count("exclusions.categories", self.exclusions.categories.len())?;
        count("exclusions.itemIds", self.exclusions.item_ids.len())?;
        count("exclusions.tags", self.exclusions.tags.len())?;
        // Categories and tags match the catalog's without regard to case, so two names that differ
        // only by case would be one rule said twice (possibly with two values): refused.
        for (field, names) in [
            (
                "caps.categoryPercent",
                self.caps.category_percent.keys().collect::<Vec<_>>(),
            ),
            (
                "exclusions.categories",
                self.exclusions.categories.iter().collect(),
            ),
            ("exclusions.tags", self.exclusions.tags.iter().collect()),
        ] {
            for (i, a) in names.iter().enumerate() {
                if let Some(b) = names[..i].iter().find(|b| same_name(a, b)) {
                    return bad(
                        field,
                        format!("{} and {} differ only by case; names match the catalog without regard to case, so give each once", quoted(b), quoted(a)),
                    );
                }
            }
        }
        count("priceEndings", self.price_endings.len())?;
        let mut endings = BTreeMap::new();
        for (code, list) in &self.price_endings {
            let field = format!("priceEndings.{code}");
            let currency = if code == "default" {
                None
            } else {
                Some(Currency::from_code(code).map_err(|_| {
                    Error::at(Code::InvalidPolicy, field.clone(), format!("invalid policy: `{field}`: {} is not an ISO 4217 currency code (or \"default\")", quoted(code)))
                })?)
            };
            if list.is_empty() {
                return bad(
                    &field,
                    "must list at least one ending (use [\"any\"] to allow every price)".into(),
                );
            }
            count(&field, list.len())?;
            let parsed = list
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    PriceEnding::parse(s, currency).map_err(|e| {
                        let f = format!("{field}[{i}]");
                        Error::at(
                            Code::InvalidPolicy,
                            f.clone(),
                            format!("invalid policy: `{f}` {e}"),
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            endings.insert(code.clone(), parsed);
        }
        if !endings.contains_key("default") {
            return bad(
                "priceEndings.default",
                "is required: the endings for currencies not listed (e.g. [\"any\"])".into(),
            );
        }
        self.endings = endings;
        self.strategy = self.strategy_doc.checked()?;
        match &self.strategy {
            Strategy::Tiers { tiers } => {
                count("strategy.tiers", tiers.len())?;
                if tiers.is_empty() {
                    return bad("strategy.tiers", "must have at least one tier".into());
                }
                for (i, t) in tiers.iter().enumerate() {
                    let f = format!("strategy.tiers[{i}].interestBelow");
                    if !(t.interest_below.is_finite()
                        && t.interest_below > 0.0
                        && t.interest_below <= 1.0)
                    {
                        return bad(&f, "must be a probability above 0 and at most 1".into());
                    }
                    if i > 0 && t.interest_below <= tiers[i - 1].interest_below {
                        return bad(
                            &f,
                            "must be larger than the tier before it (ascending)".into(),
                        );
                    }
                }
            }
            Strategy::Linear { slope_percent, .. } => {
                if !(slope_percent.is_finite() && (0.0..=1000.0).contains(slope_percent)) {
                    return bad(
                        "strategy.slopePercent",
                        "must be a number from 0 to 1000".into(),
                    );
                }
            }
            Strategy::ExpectedProfit { beta } => {
                if !(beta.is_finite() && (0.0..=100.0).contains(beta)) {
                    return bad(
                        "strategy.beta",
                        "must be a number from 0 to 100 (logit change per unit of discount)".into(),
                    );
                }
            }
        }
        let ms_ok =
            |x: f64, min: f64| x.is_finite() && x.fract() == 0.0 && x >= min && x <= WEEK_MS;
        if !ms_ok(self.stability.ttl_ms, 0.0) {
            return bad(
                "stability.ttlMs",
                "must be whole milliseconds from 0 to one week".into(),
            );
        }
        if !ms_ok(self.quote_ttl_ms, 1000.0) {
            return bad(
                "quoteTtlMs",
                "must be whole milliseconds from 1000 to one week".into(),
            );
        }
        if !ms_ok(self.experiment.exploration_window_ms, 60_000.0) {
            return bad(
                "experiment.explorationWindowMs",
                "must be whole milliseconds from 60000 to one week".into(),
            );
        }
        if self.experiment.offer_step_percent.ppm() == 0
            || self.experiment.offer_step_percent.0 >= Ppm::ONE
        {
            return bad(
                "experiment.offerStepPercent",
                "must be above 0 and below 100".into(),
            );
        }
        count("disclosure.labels", self.disclosure.labels.len())?;
        for (k, label) in &self.disclosure.labels {
            limits::check_str(
                &format!("disclosure.labels.{k}"),
                label,
                limits::MAX_TEXT_LEN,
            )?;
        }
        if !self.disclosure.labels.is_empty()
            && !self
                .disclosure
                .labels
                .contains_key(&self.disclosure.jurisdiction)
        {
            return bad(
                "disclosure.jurisdiction",
                format!(
                    "{} has no entry in disclosure.labels",
                    quoted(&self.disclosure.jurisdiction)
                ),
            );
        }
        if !(1..=3650).contains(&self.privacy.retention_days) {
            return bad("privacy.retentionDays", "must be from 1 to 3650".into());
        }
        if self.privacy.purchase_history_days > 3650 {
            return bad("privacy.purchaseHistoryDays", "must be at most 3650".into());
        }
        if self.max_quantity_per_order == 0 {
            return bad("maxQuantityPerOrder", "must be at least 1".into());
        }
        if let Some(prev) = &self.previous_version {
            if prev.version == self.version || prev.version.is_empty() {
                return bad(
                    "previousVersion.version",
                    "must name the policy version this one replaces".into(),
                );
            }
            if !(prev.accept_until.is_finite() && prev.accept_until >= 0.0) {
                return bad(
                    "previousVersion.acceptUntil",
                    "must be a time in ms since the epoch".into(),
                );
            }
        }
        if self.max_spread_percent.is_some_and(|s| s.ppm() == 0) {
            return bad(
                "maxSpreadPercent",
                "must be above 0 (leave it out for no spread limit)".into(),
            );
        }
        if let Some(r) = &self.reporting {
            if !(r.epsilon.is_finite() && r.epsilon > 0.0 && r.epsilon <= 10.0) {
                return bad(
                    "reporting.epsilon",
                    "must be a number above 0 and at most 10 (the privacy loss ε of one report)"
                        .into(),
                );
            }
            if !(r.daily_epsilon.is_finite() && r.daily_epsilon >= r.epsilon) {
                return bad(
                    "reporting.dailyEpsilon",
                    format!(
                        "must be a number at least reporting.epsilon ({}): the ε a device may spend per day",
                        r.epsilon
                    ),
                );
            }
        }
        Ok(self)
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
        if self.exclusions.item_ids.iter().any(|i| *i == item.id) {
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

    pub fn retention(&self, purchases_allowed: bool) -> crate::behaviour::Retention {
        crate::behaviour::Retention {
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
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn default_value() -> Value {
        serde_json::from_str(DEFAULT_POLICY_JSON).unwrap()
    }

    fn with(path: &[&str], v: Value) -> Value {
        let mut p = default_value();
        let mut cur = &mut p;
        for k in &path[..path.len() - 1] {
            cur = match k.parse::<usize>() {
                Ok(i) => &mut cur[i],
                Err(_) => &mut cur[*k],
            };
        }
        let last = path[path.len() - 1];
        if v.is_null() {
            cur.as_object_mut().unwrap().remove(last);
        } else {
            cur[last] = v;
        }
        p
    }

    #[test]
    fn the_default_policy_is_valid_and_round_trips() {
        let p = Policy::default_policy();
        assert_eq!(Policy::from_json(&p.to_json()).unwrap(), p);
    }

    #[test]
    fn every_bad_field_is_named() {
        let cases: Vec<(Value, &str)> = vec![
            (with(&["version"], json!("")), "version"),
            (with(&["version"], Value::Null), "version"),
            (with(&["discountSteps"], json!([10, 5])), "discountSteps[1]"),
            (
                with(&["discountSteps"], json!([5, 100])),
                "discountSteps[1]",
            ),
            (
                with(&["discountSteps"], json!([5, "ten"])),
                "discountSteps[1]",
            ),
            (
                with(&["caps", "globalPercent"], json!(120)),
                "caps.globalPercent",
            ),
            (
                with(&["caps", "categoryPercent"], json!({"shoes": -1})),
                "caps.categoryPercent.shoes",
            ),
            (
                with(&["margin", "minMarginPercent"], json!(100)),
                "margin.minMarginPercent",
            ),
            (
                with(&["tax", "ratePercent"], json!("abc")),
                "tax.ratePercent",
            ),
            (
                with(&["priceEndings", "EUR"], json!([".9"])),
                "priceEndings.EUR[0]",
            ),
            (
                with(&["priceEndings", "JPY"], json!([".99"])),
                "priceEndings.JPY[0]",
            ),
            (
                with(&["priceEndings", "EURO"], json!(["any"])),
                "priceEndings.EURO",
            ),
            (
                with(&["priceEndings", "default"], Value::Null),
                "priceEndings.default",
            ),
            (
                with(&["strategy"], json!({"type": "magic"})),
                "strategy.type",
            ),
            (
                with(&["strategy"], json!({"type": "expectedProfit", "beta": -1})),
                "strategy.beta",
            ),
            (
                with(
                    &["strategy"],
                    json!({"type": "expectedProfit", "beta": "high"}),
                ),
                "strategy.beta",
            ),
            (
                with(&["strategy"], json!({"type": "expectedProfit"})),
                "strategy.beta",
            ),
            (
                with(&["strategy"], json!({"type": "tiers", "beta": 3})),
                "strategy.tiers",
            ),
            (
                with(
                    &["strategy"],
                    json!({"type": "expectedProfit", "beta": 3, "tiers": []}),
                ),
                "strategy.tiers",
            ),
            (
                with(&["strategy"], json!({"type": "linear", "basePercent": 20})),
                "strategy.slopePercent",
            ),
            (
                with(
                    &["strategy"],
                    json!({"type": "tiers", "tiers": [{"interestBelow": 0.5, "percent": 10}, {"interestBelow": 0.2, "percent": 5}]}),
                ),
                "strategy.tiers[1].interestBelow",
            ),
            (with(&["stability", "ttlMs"], json!(-1)), "stability.ttlMs"),
            (with(&["quoteTtlMs"], json!(1.5)), "quoteTtlMs"),
            (
                with(&["disclosure", "jurisdiction"], json!("Mars")),
                "disclosure.jurisdiction",
            ),
            (
                with(&["disclosure", "labelWhen"], json!("sometimes")),
                "disclosure.labelWhen",
            ),
            (
                with(&["experiment", "controlPercent"], json!(101)),
                "experiment.controlPercent",
            ),
            (
                with(&["privacy", "retentionDays"], json!(0)),
                "privacy.retentionDays",
            ),
            (
                with(&["maxQuantityPerOrder"], json!(0)),
                "maxQuantityPerOrder",
            ),
            (with(&["surprise"], json!(1)), "surprise"),
            (with(&["maxSpreadPercent"], json!(0)), "maxSpreadPercent"),
            (with(&["maxSpreadPercent"], json!(101)), "maxSpreadPercent"),
            (
                with(&["maxSpreadPercent"], json!("ten")),
                "maxSpreadPercent",
            ),
            (
                with(&["reporting"], json!({"epsilon": 0, "dailyEpsilon": 8})),
                "reporting.epsilon",
            ),
            (
                with(&["reporting"], json!({"epsilon": 10.5, "dailyEpsilon": 20})),
                "reporting.epsilon",
            ),
            (
                with(&["reporting"], json!({"epsilon": "two", "dailyEpsilon": 8})),
                "reporting.epsilon",
            ),
            (
                with(&["reporting"], json!({"epsilon": 2, "dailyEpsilon": 1})),
                "reporting.dailyEpsilon",
            ),
            (
                with(&["reporting"], json!({"epsilon": 2})),
                "reporting.dailyEpsilon",
            ),
            (
                with(
                    &["reporting"],
                    json!({"epsilon": 2, "dailyEpsilon": 8, "mechanism": "laplace"}),
                ),
                "reporting.mechanism",
            ),
            (
                with(
                    &["reporting"],
                    json!({"epsilon": 2, "dailyEpsilon": 8, "perItem": true}),
                ),
                "reporting.perItem",
            ),
        ];
        for (v, field) in cases {
            let e = Policy::from_json(&v).unwrap_err();
            assert_eq!(e.code, Code::InvalidPolicy, "{field}: {e}");
            assert_eq!(e.field.as_deref(), Some(field), "{e}");
            assert!(
                e.message.contains(field),
                "the message names the field: {e}"
            );
        }
    }

    #[test]
    fn reporting_and_spread_are_optional_and_checked() {
        let off = with(&["reporting"], Value::Null);
        assert_eq!(Policy::from_json(&off).unwrap().reporting, None);
        let on = with(
            &["reporting"],
            json!({"epsilon": "1.5", "dailyEpsilon": 6, "mechanism": "grr"}),
        );
        let err = Policy::from_json(&on).unwrap_err();
        assert_eq!(
            err.field.as_deref(),
            Some("reporting.epsilon"),
            "a number, not a string: {err}"
        );
        let on = with(
            &["reporting"],
            json!({"epsilon": 1.5, "dailyEpsilon": 6, "mechanism": "grr"}),
        );
        let p = Policy::from_json(&on).unwrap();
        let r = p.reporting.as_ref().unwrap();
        assert_eq!(
            (r.epsilon, r.daily_epsilon, r.mechanism),
            (1.5, 6.0, crate::ldp::Mechanism::Grr)
        );
        assert_eq!(Policy::from_json(&p.to_json()).unwrap(), p, "round trip");
        // The tightest of global cap, category cap and spread limit wins.
        let spread = Policy::from_json(&with(&["maxSpreadPercent"], json!(12.5))).unwrap();
        assert_eq!(spread.cap_for(Some("shoes")), Ppm(125_000));
        assert_eq!(spread.cap_for(Some("electronics")), Ppm(100_000));
        assert_eq!(spread.caps_for(Some("shoes")), Ppm(200_000));
        assert_eq!(Policy::from_json(&spread.to_json()).unwrap(), spread);
    }

    #[test]
    fn limits_on_size_and_rules() {
        let big = with(
            &["exclusions", "itemIds"],
            json!(vec!["x"; limits::MAX_POLICY_RULES + 1]),
        );
        assert_eq!(
            Policy::from_json(&big).unwrap_err().code,
            Code::LimitExceeded
        );
        let huge = " ".repeat(limits::MAX_POLICY_BYTES + 1);
        assert_eq!(
            Policy::from_json_str(&huge).unwrap_err().code,
            Code::LimitExceeded
        );
    }
}
