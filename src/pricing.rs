//! The pricing maths (docs/pricing.md): feasible candidates first (caps, floor, rounding to allowed
//! endings, all in exact integers), then a strategy chooses among them.

use crate::item::Item;
use crate::math::{clamp_probability, logit, sigmoid};
use crate::money::{mul_div_ceil, round_to_ending, Ppm};
use crate::policy::{Policy, Strategy};
use serde::Serialize;

/// A price the policy allows for an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub price_minor: i64,
    pub discount_minor: i64,
    /// The policy step this price came from (0 for list price): strategies choose by step, so a
    /// "5 %" band gets the 5 % step even when rounding to .99 makes it 5.01 % off.
    #[serde(serialize_with = "ser_percent")]
    pub step: Ppm,
}

impl Candidate {
    /// The actual discount as a fraction of list (after rounding).
    pub fn fraction(&self, list_minor: i64) -> f64 {
        if list_minor == 0 {
            0.0
        } else {
            self.discount_minor as f64 / list_minor as f64
        }
    }
}

/// The bounds every candidate respects, for explanations and verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bounds {
    /// No price below this (minimum margin over cost, the item's floor price).
    pub floor_minor: i64,
    /// The largest discount allowed for the item's category.
    #[serde(serialize_with = "ser_percent")]
    pub cap: Ppm,
    /// The lowest price the cap allows: `ceil(list * (1 - cap))`.
    pub cap_price_minor: i64,
    /// Net cost used by the maths (the item's, or the policy's default cost ratio).
    pub cost_minor: i64,
}

fn ser_percent<S: serde::Serializer>(p: &Ppm, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(p.as_percent())
}

/// Net (tax-exclusive) amount of a price, in minor units, as a float for the profit maths.
pub fn net_of(price_minor: i64, policy: &Policy) -> f64 {
    if policy.tax.prices_include_tax {
        price_minor as f64 * 1e6 / (1e6 + policy.tax.rate_percent.ppm() as f64)
    } else {
        price_minor as f64
    }
}

/// The lowest price a cap allows: `ceil(list * (1 - cap))` (shared with `verify_quote`).
pub fn cap_price(list_minor: i64, cap: Ppm) -> i64 {
    mul_div_ceil(list_minor, Ppm::ONE.0 - cap.0, Ppm::ONE.0)
}

pub fn bounds(item: &Item, policy: &Policy) -> Bounds {
    let list = item.list_minor;
    // The tightest of the caps and `maxSpreadPercent`: every candidate, explored or chosen, is inside it.
    let cap = policy.cap_for(item.category.as_deref());
    let cap_price_minor = cap_price(list, cap);
    let margin = policy.margin.min_margin_percent.ppm();
    let tax = if policy.tax.prices_include_tax {
        policy.tax.rate_percent.ppm()
    } else {
        0
    };
    // Net cost: the item's, else the policy's share of the net list price.
    let cost_minor = item.cost_minor.unwrap_or_else(|| {
        mul_div_ceil(
            list,
            policy.margin.default_cost_percent.ppm() * Ppm::ONE.0 / (Ppm::ONE.0 + tax),
            Ppm::ONE.0,
        )
    });
    // price >= cost * (1 + tax) / (1 - margin), in integers.
    let margin_floor = |cost: i64| {
        let num = i128::from(cost) * i128::from(Ppm::ONE.0 + tax);
        let den = i128::from(Ppm::ONE.0 - margin);
        (num / den + i128::from(num % den != 0)).min(i128::from(i64::MAX)) as i64
    };
    let floor_minor = match (item.cost_minor, item.floor_minor) {
        (Some(cost), Some(floor)) => margin_floor(cost).max(floor),
        (Some(cost), None) => margin_floor(cost),
        (None, Some(floor)) => floor,
        // Default cost ratio: the tax factors cancel, so this is list * costShare / (1 - margin).
        (None, None) => mul_div_ceil(
            list,
            policy.margin.default_cost_percent.ppm(),
            Ppm::ONE.0 - margin,
        ),
    };
    Bounds {
        floor_minor,
        cap,
        cap_price_minor,
        cost_minor,
    }
}

/// Feasible candidates, list price first, then by increasing discount, without duplicates.
/// Each step is clamped to the cap and the floor, then rounded to the nearest allowed ending inside
/// `[max(floor, cap price), list - 1]`; a step with no allowed price in that interval is dropped.
pub fn candidates(item: &Item, policy: &Policy, bounds: &Bounds) -> Vec<Candidate> {
    let list = item.list_minor;
    let mut out = vec![Candidate {
        price_minor: list,
        discount_minor: 0,
        step: Ppm(0),
    }];
    let lo = bounds.floor_minor.max(bounds.cap_price_minor);
    let hi = list - 1;
    if lo > hi {
        return out;
    }
    let endings = policy.endings_for(item.currency);
    for step in &policy.discount_steps {
        let target = i128::from(list) * i128::from(Ppm::ONE.0 - step.ppm());
        let clamped = target.max(i128::from(lo) * i128::from(Ppm::ONE.0));
        if let Some(price) = round_to_ending(clamped, i128::from(Ppm::ONE.0), lo, hi, endings) {
            if !out.iter().any(|c| c.price_minor == price) {
                out.push(Candidate {
                    price_minor: price,
                    discount_minor: list - price,
                    step: step.0.min(bounds.cap),
                });
            }
        }
    }
    out.sort_by_key(|c| c.discount_minor);
    out
}

/// What the strategy decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Choice {
    /// Index into the candidates.
    pub index: usize,
    /// The strategy asked for a discount (so list price means "no feasible price", not "none wanted").
    pub wanted_discount: bool,
    /// Expected profit per candidate (expectedProfit only), in minor units.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expected_profit: Vec<f64>,
}

/// Per-shopper price response from an uplift model: `β = (logit(r + u) - logit(r)) / d₀`.
pub fn beta_from_uplift(interest: f64, uplift: f64, offer_step: Ppm) -> f64 {
    let r = clamp_probability(interest);
    let treated = clamp_probability(r + uplift);
    (logit(treated) - logit(r)) / offer_step.as_fraction()
}

/// Chooses among `candidates` (list first) for a shopper with interest `r`. `beta` overrides the
/// policy's β for expectedProfit (per-shopper β from the uplift model).
pub fn choose(
    item: &Item,
    policy: &Policy,
    bounds: &Bounds,
    candidates: &[Candidate],
    r: f64,
    beta: Option<f64>,
) -> Choice {
    let list = item.list_minor;
    // Candidates are in increasing discount and their steps increase with it.
    let largest_at_most = |ppm: i64| {
        candidates
            .iter()
            .rposition(|c| c.step.0 <= ppm)
            .unwrap_or(0)
    };
    match policy.strategy() {
        Strategy::Tiers { tiers } => {
            let percent = tiers
                .iter()
                .find(|t| r < t.interest_below)
                .map_or(0, |t| t.percent.ppm());
            Choice {
                index: largest_at_most(percent),
                wanted_discount: percent > 0,
                expected_profit: vec![],
            }
        }
        Strategy::Linear {
            base_percent,
            slope_percent,
        } => {
            let d = (base_percent.0.as_percent() - slope_percent * r)
                .clamp(0.0, bounds.cap.as_percent());
            let ppm = (d * 10_000.0).floor() as i64;
            Choice {
                index: largest_at_most(ppm),
                wanted_discount: ppm > 0,
                expected_profit: vec![],
            }
        }
        Strategy::ExpectedProfit { beta: policy_beta } => {
            let beta = beta.unwrap_or(*policy_beta);
            let base = logit(clamp_probability(r));
            let cost = bounds.cost_minor as f64;
            let profit = |price_minor: i64, d: f64| {
                sigmoid(base + beta * d) * (net_of(price_minor, policy) - cost)
            };
            let expected_profit: Vec<f64> = candidates
                .iter()
                .map(|c| profit(c.price_minor, c.fraction(list)))
                .collect();
            // Ties go to the smaller discount: candidates are in increasing discount, keep the first max.
            let mut index = 0;
            for (i, p) in expected_profit.iter().enumerate() {
                if *p > expected_profit[index] * (1.0 + 1e-12) + 1e-9 {
                    index = i;
                }
            }
            // Would any raw step (ignoring floor, cap and endings) beat list price?
            let list_profit = profit(list, 0.0);
            let wanted_discount = policy.discount_steps.iter().any(|s| {
                let d = s.0.as_fraction();
                profit(list - (list as f64 * d) as i64, d) > list_profit * (1.0 + 1e-12) + 1e-9
            });
            Choice {
                index,
                wanted_discount,
                expected_profit,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use proptest::prelude::{prop, prop_assert, prop_assert_eq, proptest};
    use proptest::strategy::Strategy as _;
    use serde_json::json;

    fn policy_with(patch: serde_json::Value) -> Policy {
        let mut v: serde_json::Value =
            serde_json::from_str(crate::policy::DEFAULT_POLICY_JSON).unwrap();
        for (k, val) in patch.as_object().unwrap() {
            v[k] = val.clone();
        }
        Policy::from_json(&v).unwrap()
    }

    fn item(v: serde_json::Value) -> Item {
        Item::from_json(&v).unwrap()
    }

    #[test]
    fn candidates_respect_endings_floor_and_cap() {
        let p = Policy::default_policy(); // steps 5..20, cap 20, EUR .99/.49
        let it = item(json!({"id": "a", "price": "49.99", "currency": "EUR", "cost": 20}));
        let b = bounds(&it, &p);
        // floor = 20 * 1.2 / 0.85 = 28.235... -> 28.24; cap price = ceil(39.992) = 40.00
        assert_eq!((b.floor_minor, b.cap_price_minor), (2824, 4000));
        let prices: Vec<i64> = candidates(&it, &p, &b)
            .iter()
            .map(|c| c.price_minor)
            .collect();
        // 5 % -> 47.49 (47.4905), 10 % -> 44.99, 15 % -> 42.49, 20 % -> 39.99 is under the cap -> 40.49
        assert_eq!(prices, vec![4999, 4749, 4499, 4249, 4049]);
    }

    #[test]
    fn the_category_cap_is_tighter() {
        let p = Policy::default_policy();
        let it = item(
            json!({"id": "tv", "price": 500, "currency": "EUR", "category": "electronics", "cost": 100}),
        );
        let b = bounds(&it, &p);
        let c = candidates(&it, &p, &b);
        assert!(
            c.iter().all(|c| c.discount_minor * 10 <= it.list_minor),
            "{c:?}"
        );
        assert_eq!(
            c.last().unwrap().price_minor,
            45049,
            "10 % of 500 = 450.00, nearest allowed in bounds is 450.49"
        );
    }

    #[test]
    fn the_spread_limit_caps_every_candidate() {
        let p = policy_with(json!({"maxSpreadPercent": 12}));
        let it = item(json!({"id": "a", "price": 100, "currency": "USD", "cost": 10}));
        let b = bounds(&it, &p);
        assert_eq!((b.cap, b.cap_price_minor), (Ppm(120_000), 8800));
        let c = candidates(&it, &p, &b);
        // 15 % and 20 % are clamped to the 12 % limit: 88.00 is not a .99/.49 ending, 88.49 is.
        assert_eq!(
            c.iter().map(|c| c.price_minor).collect::<Vec<_>>(),
            vec![10000, 9499, 8999, 8849]
        );
        assert!(c
            .iter()
            .all(|c| c.discount_minor * 100 <= 12 * it.list_minor));
    }

    #[test]
    fn zero_decimal_currency_uses_steps_of_ten() {
        let p = Policy::default_policy();
        let it = item(json!({"id": "j", "price": 12800, "currency": "JPY", "cost": 5000}));
        let b = bounds(&it, &p);
        let c = candidates(&it, &p, &b);
        assert!(c.iter().skip(1).all(|c| c.price_minor % 10 == 0), "{c:?}");
        assert_eq!(
            c.iter().map(|c| c.price_minor).collect::<Vec<_>>(),
            vec![12800, 12160, 11520, 10880, 10240]
        );
    }

    #[test]
    fn nothing_feasible_when_the_floor_is_at_list() {
        let p = Policy::default_policy();
        let it = item(json!({"id": "a", "price": 10, "currency": "EUR", "floorPrice": 10}));
        assert_eq!(candidates(&it, &p, &bounds(&it, &p)).len(), 1);
    }

    #[test]
    fn tiers_pick_the_nearest_candidate_at_or_under_the_band() {
        let p = policy_with(json!({"strategy": {"type": "tiers", "tiers": [
            {"interestBelow": 0.1, "percent": 12}, {"interestBelow": 0.3, "percent": 5}]}}));
        let it = item(json!({"id": "a", "price": "49.99", "currency": "EUR", "cost": 20}));
        let b = bounds(&it, &p);
        let c = candidates(&it, &p, &b);
        let pick = |r| {
            let ch = choose(&it, &p, &b, &c, r, None);
            (c[ch.index].price_minor, ch.wanted_discount)
        };
        assert_eq!(
            pick(0.05),
            (4499, true),
            "12 % band -> the 10 % candidate (44.99 is 10.0 % off)"
        );
        assert_eq!(
            pick(0.2),
            (4749, true),
            "5 % band -> the 5 % step, 47.49 (5.001 % off after rounding)"
        );
        assert_eq!(pick(0.5), (4999, false));
    }

    #[test]
    fn linear_is_base_minus_slope_times_interest() {
        let p = policy_with(
            json!({"strategy": {"type": "linear", "basePercent": 20, "slopePercent": 40}}),
        );
        let it = item(json!({"id": "a", "price": 100, "currency": "USD", "cost": 10}));
        let b = bounds(&it, &p);
        let c = candidates(&it, &p, &b);
        let pick = |r| c[choose(&it, &p, &b, &c, r, None).index].discount_minor;
        // candidates: 100.00, 94.99 (5 %), 89.99 (10 %), 84.99 (15 %), 80.49 (20 %: 79.99 is over the cap)
        assert_eq!(pick(0.0), 1951, "20 %");
        assert_eq!(pick(0.25), 1001, "10 %");
        assert_eq!(pick(0.3), 501, "8 % -> the 5 % step");
        assert_eq!(pick(0.5), 0);
    }

    #[test]
    fn expected_profit_discounts_the_hesitant_not_the_certain() {
        let p = Policy::default_policy(); // beta 6
        let it = item(json!({"id": "a", "price": 100, "currency": "USD", "cost": 30}));
        let b = bounds(&it, &p);
        let c = candidates(&it, &p, &b);
        let low = choose(&it, &p, &b, &c, 0.02, None);
        let high = choose(&it, &p, &b, &c, 0.9, None);
        assert!(c[low.index].discount_minor > 0 && low.wanted_discount);
        assert_eq!((high.index, high.wanted_discount), (0, false));
        // The choice is the argmax of the reported expected profits.
        let best = low.expected_profit.iter().cloned().fold(f64::MIN, f64::max);
        assert_eq!(low.expected_profit[low.index], best);
        // With beta 0 no discount ever pays.
        assert_eq!(choose(&it, &p, &b, &c, 0.02, Some(0.0)).index, 0);
    }

    #[test]
    fn uplift_sets_the_shoppers_beta() {
        let d0 = Ppm(100_000);
        assert!(beta_from_uplift(0.2, 0.0, d0).abs() < 1e-12);
        assert!(beta_from_uplift(0.2, -0.05, d0) < 0.0);
        let b = beta_from_uplift(0.2, 0.05, d0);
        // σ(logit(0.2) + β·0.1) = 0.25
        assert!((sigmoid(logit(0.2) + b * 0.1) - 0.25).abs() < 1e-12);
    }

    fn arb_item() -> impl proptest::strategy::Strategy<Value = (Item, Policy)> {
        let currencies = prop::sample::select(vec!["EUR", "JPY", "KWD", "USD", "CHF"]);
        (
            1i64..10_000_000,
            currencies,
            prop::option::of(0u32..150),
            prop::option::of(0u32..120),
            0u32..40,
            prop::sample::select(vec!["any", "step:5", "step:50", "step:99"]),
            0u32..90,
        )
            .prop_map(|(list, cur, cost_pct, floor_pct, cap, ending, margin)| {
                let mut it = item(json!({"id": "x", "price": 1, "currency": cur}));
                it.list_minor = list;
                it.cost_minor = cost_pct.map(|p| list * i64::from(p) / 100);
                it.floor_minor = floor_pct.map(|p| list * i64::from(p) / 100);
                let p = policy_with(json!({
                    "caps": {"globalPercent": cap},
                    "margin": {"minMarginPercent": margin, "defaultCostPercent": 50},
                    "discountSteps": [1, 5, 10, 12.5, 25, 50, 90],
                    "priceEndings": {"default": [ending]},
                }));
                (it, p)
            })
    }

    proptest! {
        #[test]
        fn candidate_rules_hold((it, p) in arb_item(), r in 0.0f64..1.0) {
            let b = bounds(&it, &p);
            let c = candidates(&it, &p, &b);
            prop_assert_eq!(c[0], Candidate { price_minor: it.list_minor, discount_minor: 0, step: Ppm(0) });
            for (i, cand) in c.iter().enumerate() {
                prop_assert!(cand.price_minor <= it.list_minor, "never above list");
                prop_assert_eq!(cand.discount_minor, it.list_minor - cand.price_minor, "discountMinor consistent");
                if i > 0 {
                    prop_assert!(cand.price_minor >= b.floor_minor, "never below floor");
                    prop_assert!(cand.price_minor >= b.cap_price_minor, "never over cap");
                    prop_assert!(i128::from(cand.discount_minor) * 1_000_000 <= i128::from(it.list_minor) * i128::from(b.cap.0), "never over cap (exact)");
                    prop_assert!(p.endings_for(it.currency).iter().any(|e| e.allows(cand.price_minor)), "allowed ending");
                    prop_assert!(cand.discount_minor > c[i - 1].discount_minor, "sorted, no duplicates");
                    prop_assert!(cand.step > c[i - 1].step, "steps increase with the discount");
                }
            }
            let ch = choose(&it, &p, &b, &c, r, None);
            prop_assert!(ch.index < c.len());
        }
    }
}
