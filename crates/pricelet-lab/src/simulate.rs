//! Offline evaluation of the discount policy (`pricelet simulate`), pure and deterministic.
//!
//! * On a randomized test (Hillstrom: e-mail vs no e-mail) every targeting rule is judged by the
//!   randomized arms: for the customers a rule targets, the mean outcome of the treated minus that of
//!   the control, times the share targeted — the incremental outcome per customer of applying the rule
//!   to everyone. Intervals come from a seeded bootstrap that resamples within each arm.
//! * Without price variation (Online Shoppers) nothing about the price response can be estimated, so
//!   [`price_response_sweep`] shows revenue and discount cost under the policy's *assumed* response
//!   `P(buy | d) = σ(logit r + β d)` for a range of β.

use crate::rng::Rng;
use pricelet::error::Result;
use pricelet::item::Item;
use pricelet::math::{clamp_probability, logit, sigmoid};
use pricelet::policy::Policy;
use pricelet::pricing;
use serde::Serialize;

/// One customer of a randomized test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArmRow {
    pub treated: bool,
    pub visit: f64,
    pub spend: f64,
}

/// A point estimate with a percentile bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub estimate: f64,
    pub lo: f64,
    pub hi: f64,
}

/// Whom a rule makes the offer to.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// These rows (one flag per row).
    Rows(Vec<bool>),
    /// A random share equal to the share of the rule at this index (its expected effect: share × everyone's).
    RandomLike(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub description: String,
    pub target: Target,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleResult {
    pub name: String,
    pub description: String,
    /// Share of customers offered.
    pub share: f64,
    pub incremental_visits_per_1000: Interval,
    pub incremental_spend_per_1000: Interval,
}

/// (share targeted, incremental visits per customer, incremental spend per customer) of targeting `target`
/// within `sample` (row indices, with repeats in a bootstrap resample).
pub fn targeted_effect(rows: &[ArmRow], target: &[bool], sample: &[usize]) -> (f64, f64, f64) {
    let (mut n_t, mut n_c, mut v_t, mut v_c, mut s_t, mut s_c) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for &i in sample {
        if !target[i] {
            continue;
        }
        let r = &rows[i];
        if r.treated {
            n_t += 1.0;
            v_t += r.visit;
            s_t += r.spend;
        } else {
            n_c += 1.0;
            v_c += r.visit;
            s_c += r.spend;
        }
    }
    let share = (n_t + n_c) / sample.len() as f64;
    if n_t + n_c == 0.0 {
        return (0.0, 0.0, 0.0);
    }
    if n_t == 0.0 || n_c == 0.0 {
        // A targeted set seen in one arm only has no estimate.
        return (share, f64::NAN, f64::NAN);
    }
    (
        share,
        share * (v_t / n_t - v_c / n_c),
        share * (s_t / n_t - s_c / n_c),
    )
}

fn estimates(
    rows: &[ArmRow],
    rules: &[Rule],
    everyone: &[bool],
    sample: &[usize],
) -> Vec<(f64, f64, f64)> {
    let all = targeted_effect(rows, everyone, sample);
    let mut out: Vec<(f64, f64, f64)> = Vec::with_capacity(rules.len());
    for rule in rules {
        out.push(match &rule.target {
            Target::Rows(t) => targeted_effect(rows, t, sample),
            Target::RandomLike(_) => (0.0, 0.0, 0.0),
        });
    }
    for (i, rule) in rules.iter().enumerate() {
        if let Target::RandomLike(j) = rule.target {
            let share = out[j].0;
            out[i] = (share, share * all.1, share * all.2);
        }
    }
    out
}

/// The q-quantile with linear interpolation between order statistics (numpy's default).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, frac) = (pos.floor() as usize, pos - pos.floor());
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

/// Every rule's incremental visits and spend per 1,000 customers, with 95 % percentile intervals from
/// `resamples` bootstrap resamples drawn within each arm (so both arms keep their size). Seeded.
pub fn compare_rules(
    rows: &[ArmRow],
    rules: &[Rule],
    resamples: usize,
    seed: u64,
) -> Vec<RuleResult> {
    let everyone = vec![true; rows.len()];
    let all: Vec<usize> = (0..rows.len()).collect();
    let point = estimates(rows, rules, &everyone, &all);
    let treated: Vec<usize> = all.iter().copied().filter(|&i| rows[i].treated).collect();
    let control: Vec<usize> = all.iter().copied().filter(|&i| !rows[i].treated).collect();
    let mut rng = Rng::new(seed);
    let mut draws: Vec<(Vec<f64>, Vec<f64>)> =
        vec![(Vec::with_capacity(resamples), Vec::with_capacity(resamples)); rules.len()];
    let mut sample = Vec::with_capacity(rows.len());
    for _ in 0..resamples {
        sample.clear();
        for arm in [&treated, &control] {
            for _ in 0..arm.len() {
                sample.push(arm[rng.below(arm.len())]);
            }
        }
        for (k, (_, v, s)) in estimates(rows, rules, &everyone, &sample)
            .into_iter()
            .enumerate()
        {
            if v.is_finite() && s.is_finite() {
                draws[k].0.push(v);
                draws[k].1.push(s);
            }
        }
    }
    rules
        .iter()
        .zip(point)
        .zip(draws)
        .map(|((rule, (share, v, s)), (mut dv, mut ds))| {
            dv.sort_by(f64::total_cmp);
            ds.sort_by(f64::total_cmp);
            let interval = |estimate: f64, d: &[f64]| Interval {
                estimate: 1000.0 * estimate,
                lo: 1000.0 * quantile(d, 0.025),
                hi: 1000.0 * quantile(d, 0.975),
            };
            RuleResult {
                name: rule.name.clone(),
                description: rule.description.clone(),
                share,
                incremental_visits_per_1000: interval(v, &dv),
                incremental_spend_per_1000: interval(s, &ds),
            }
        })
        .collect()
}

/// The policy's decision for one shopper and a representative item: does the expectedProfit strategy,
/// with the shopper's β from the uplift model (`β = (logit(r + u) − logit(r)) / d₀`), pick a discount?
/// Returns the chosen discount as a fraction of list (0 = no offer).
pub fn policy_discount(item: &Item, policy: &Policy, interest: f64, uplift: f64) -> f64 {
    let bounds = pricing::bounds(item, policy);
    let candidates = pricing::candidates(item, policy, &bounds);
    let beta = pricing::beta_from_uplift(interest, uplift, policy.experiment.offer_step_percent.0);
    let choice = pricing::choose(item, policy, &bounds, &candidates, interest, Some(beta));
    candidates[choice.index].fraction(item.list_minor)
}

/// The top `k` rows by score (ties: earlier rows first), as flags.
pub fn top_k(score: &[f64], k: usize) -> Vec<bool> {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[b].total_cmp(&score[a]));
    let mut out = vec![false; score.len()];
    for &i in idx.iter().take(k) {
        out[i] = true;
    }
    out
}

/// The Hillstrom comparison: the policy (per-shopper β from `uplift`, interest `base_rate`), offering
/// when the predicted uplift is positive, everyone, random at the policy's share, and the top share by
/// `response` (if given).
pub fn hillstrom_rules(
    item: &Item,
    policy: &Policy,
    base_rate: f64,
    uplift: &[f64],
    response: Option<&[f64]>,
) -> Vec<Rule> {
    let offered: Vec<bool> = uplift
        .iter()
        .map(|&u| policy_discount(item, policy, base_rate, u) > 0.0)
        .collect();
    let k = offered.iter().filter(|&&o| o).count();
    let mut rules = vec![
        Rule {
            name: "policy".into(),
            description:
                "expectedProfit with β_i from the uplift model offers a discount > 0 for the item"
                    .into(),
            target: Target::Rows(offered),
        },
        Rule {
            name: "uplift > 0".into(),
            description: "predicted uplift above 0".into(),
            target: Target::Rows(uplift.iter().map(|&u| u > 0.0).collect()),
        },
        Rule {
            name: "everyone".into(),
            description: "every customer".into(),
            target: Target::Rows(vec![true; uplift.len()]),
        },
        Rule {
            name: "random".into(),
            description: "a random share equal to the policy's (expected value)".into(),
            target: Target::RandomLike(0),
        },
    ];
    if let Some(r) = response {
        rules.push(Rule {
            name: "response only".into(),
            description: "the policy's share, highest predicted response first".into(),
            target: Target::Rows(top_k(r, k)),
        });
    }
    rules
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoDiscount {
    pub purchases_per_1000: f64,
    pub revenue_per_1000: f64,
    pub profit_per_1000: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepRow {
    pub beta: f64,
    pub offered_share: f64,
    /// Mean actual discount (percent of list) among the sessions offered one.
    pub mean_discount_percent: Option<f64>,
    pub purchases_per_1000: f64,
    /// Gross revenue (the prices paid), major units.
    pub revenue_per_1000: f64,
    /// Σ P(buy | d) · discount: discount money paid out on purchases.
    pub discount_cost_per_1000: f64,
    /// Σ r · discount: the part on purchases that would have happened at list price anyway.
    pub discount_to_list_buyers_per_1000: f64,
    /// Σ P(buy | d) · (net price − cost).
    pub profit_per_1000: f64,
    /// The same decisions if the true response were β = 0 (nobody moved by a discount): Σ r · (net price − cost).
    /// The downside of assuming β when it is wrong.
    pub profit_if_unresponsive_per_1000: f64,
}

/// The policy with the expectedProfit strategy at this β (everything else unchanged).
pub fn with_beta(policy: &Policy, beta: f64) -> Result<Policy> {
    let mut v = policy.to_json();
    v["strategy"] = serde_json::json!({ "type": "expectedProfit", "beta": beta });
    Policy::from_json(&v)
}

/// Revenue, discount cost and profit per 1,000 sessions for one representative item when each session
/// with interest r is priced by the expectedProfit strategy at each β and buys with probability
/// σ(logit r + β d) — the policy's assumption, not an estimate.
pub fn price_response_sweep(
    item: &Item,
    policy: &Policy,
    interest: &[f64],
    betas: &[f64],
) -> Result<(NoDiscount, Vec<SweepRow>)> {
    let n = interest.len() as f64;
    let major = |minor: f64| minor / 10f64.powi(i32::from(item.currency.exponent()));
    let bounds = pricing::bounds(item, policy);
    let cost = bounds.cost_minor as f64;
    let list = item.list_minor;
    let list_margin = pricing::net_of(list, policy) - cost;
    let base: f64 = interest.iter().map(|&r| clamp_probability(r)).sum();
    let no_discount = NoDiscount {
        purchases_per_1000: 1000.0 * base / n,
        revenue_per_1000: 1000.0 * base * major(list as f64) / n,
        profit_per_1000: 1000.0 * base * major(list_margin) / n,
    };
    let mut rows = Vec::with_capacity(betas.len());
    for &beta in betas {
        let p = with_beta(policy, beta)?;
        let candidates = pricing::candidates(item, &p, &bounds);
        let (
            mut offered,
            mut disc_sum,
            mut buys,
            mut revenue,
            mut cost_paid,
            mut to_list,
            mut profit,
        ) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        let mut unresponsive = 0.0;
        for &r in interest {
            let r = clamp_probability(r);
            let c = candidates[pricing::choose(item, &p, &bounds, &candidates, r, None).index];
            let d = c.fraction(list);
            let buy = sigmoid(logit(r) + beta * d);
            if c.discount_minor > 0 {
                offered += 1.0;
                disc_sum += d;
            }
            buys += buy;
            revenue += buy * c.price_minor as f64;
            cost_paid += buy * c.discount_minor as f64;
            to_list += r * c.discount_minor as f64;
            profit += buy * (pricing::net_of(c.price_minor, &p) - cost);
            unresponsive += r * (pricing::net_of(c.price_minor, &p) - cost);
        }
        rows.push(SweepRow {
            beta,
            offered_share: offered / n,
            mean_discount_percent: (offered > 0.0).then(|| 100.0 * disc_sum / offered),
            purchases_per_1000: 1000.0 * buys / n,
            revenue_per_1000: 1000.0 * major(revenue) / n,
            discount_cost_per_1000: 1000.0 * major(cost_paid) / n,
            discount_to_list_buyers_per_1000: 1000.0 * major(to_list) / n,
            profit_per_1000: 1000.0 * major(profit) / n,
            profit_if_unresponsive_per_1000: 1000.0 * major(unresponsive) / n,
        });
    }
    Ok((no_discount, rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A synthetic randomized table with a known effect: half the customers ("movers") visit only when
    /// treated, the other half visit with the same rate in both arms.
    fn synthetic() -> (Vec<ArmRow>, Vec<bool>) {
        let mut rows = Vec::new();
        let mut movers = Vec::new();
        for i in 0..4000 {
            let treated = i % 2 == 0;
            let mover = (i / 2) % 2 == 0;
            let visit = if mover {
                f64::from(u8::from(treated))
            } else {
                f64::from(u8::from((i / 4) % 5 == 0))
            };
            rows.push(ArmRow {
                treated,
                visit,
                spend: 50.0 * visit,
            });
            movers.push(mover);
        }
        (rows, movers)
    }

    #[test]
    fn the_randomized_arms_recover_a_known_effect() {
        let (rows, movers) = synthetic();
        let all: Vec<usize> = (0..rows.len()).collect();
        // Movers: +1 visit each, half of the customers -> +0.5 visits per customer; the others: +0.
        let (share, v, s) = targeted_effect(&rows, &movers, &all);
        assert_eq!(share, 0.5);
        assert!(
            (v - 0.5).abs() < 1e-12 && (s - 25.0).abs() < 1e-12,
            "{v} {s}"
        );
        let everyone = vec![true; rows.len()];
        let (share, v, _) = targeted_effect(&rows, &everyone, &all);
        assert_eq!(share, 1.0);
        assert!(
            (v - 0.5).abs() < 1e-12,
            "everyone gets the movers' effect too: {v}"
        );
        let others: Vec<bool> = movers.iter().map(|m| !m).collect();
        assert!(targeted_effect(&rows, &others, &all).1.abs() < 1e-12);
        // Nobody targeted: no effect, no NaN.
        assert_eq!(
            targeted_effect(&rows, &vec![false; rows.len()], &all),
            (0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn compare_rules_is_seeded_and_brackets_the_truth() {
        let (rows, movers) = synthetic();
        let score: Vec<f64> = movers.iter().map(|&m| if m { 0.9 } else { 0.1 }).collect();
        let rules = vec![
            Rule {
                name: "movers".into(),
                description: String::new(),
                target: Target::Rows(movers.clone()),
            },
            Rule {
                name: "random".into(),
                description: String::new(),
                target: Target::RandomLike(0),
            },
            Rule {
                name: "top".into(),
                description: String::new(),
                target: Target::Rows(top_k(&score, 2000)),
            },
        ];
        let a = compare_rules(&rows, &rules, 200, 7);
        assert_eq!(
            a,
            compare_rules(&rows, &rules, 200, 7),
            "same seed, same result"
        );
        assert_ne!(a, compare_rules(&rows, &rules, 200, 8));
        let v = a[0].incremental_visits_per_1000;
        assert!(
            (v.estimate - 500.0).abs() < 1e-9
                && v.lo <= 500.0
                && 500.0 <= v.hi
                && v.hi - v.lo < 60.0,
            "{v:?}"
        );
        // Random at the same share: half of everyone's effect.
        assert_eq!(a[1].share, 0.5);
        assert!((a[1].incremental_visits_per_1000.estimate - 250.0).abs() < 1e-9);
        assert_eq!(
            a[2].incremental_visits_per_1000.estimate, v.estimate,
            "top by score = the movers"
        );
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&s, 0.0), 1.0);
        assert_eq!(quantile(&s, 1.0), 4.0);
        assert!((quantile(&s, 0.025) - 1.075).abs() < 1e-12);
        assert!((quantile(&s, 0.5) - 2.5).abs() < 1e-12);
    }

    fn item() -> Item {
        Item::from_json(&json!({"id": "representative", "price": "100.00", "currency": "EUR"}))
            .unwrap()
    }

    #[test]
    fn the_policy_offers_only_where_the_uplift_pays() {
        let p = Policy::default_policy();
        assert_eq!(
            policy_discount(&item(), &p, 0.1, 0.0),
            0.0,
            "no uplift: β = 0, list price"
        );
        assert_eq!(
            policy_discount(&item(), &p, 0.1, -0.02),
            0.0,
            "negative uplift: list price"
        );
        assert!(
            policy_discount(&item(), &p, 0.1, 0.08) > 0.0,
            "a large uplift pays for a discount"
        );
        let rules = hillstrom_rules(
            &item(),
            &p,
            0.1,
            &[0.0, 0.08, 0.01, 0.2],
            Some(&[0.9, 0.1, 0.8, 0.2]),
        );
        assert_eq!(
            rules[0].target,
            Target::Rows(vec![false, true, false, true])
        );
        assert_eq!(
            rules[4].target,
            Target::Rows(vec![true, false, true, false]),
            "response only: the same count, by response"
        );
    }

    #[test]
    fn the_sweep_follows_the_assumed_response() {
        let p = Policy::default_policy();
        let interest = [0.01, 0.05, 0.2, 0.6, 0.95];
        let (base, rows) = price_response_sweep(&item(), &p, &interest, &[0.0, 6.0, 30.0]).unwrap();
        assert!(
            (base.purchases_per_1000 - 1000.0 * interest.iter().sum::<f64>() / 5.0).abs() < 1e-9
        );
        assert!((base.revenue_per_1000 - base.purchases_per_1000 * 100.0).abs() < 1e-6);
        // β = 0: no discount pays; everything equals list-price selling.
        assert_eq!(rows[0].offered_share, 0.0);
        assert!((rows[0].profit_per_1000 - base.profit_per_1000).abs() < 1e-6);
        assert!((rows[0].profit_if_unresponsive_per_1000 - base.profit_per_1000).abs() < 1e-6);
        assert_eq!(rows[0].discount_cost_per_1000, 0.0);
        // The strategy maximises expected profit per session, so it never does worse than list price.
        for r in &rows {
            assert!(r.profit_per_1000 >= base.profit_per_1000 - 1e-6, "{r:?}");
            assert!(r.discount_cost_per_1000 >= r.discount_to_list_buyers_per_1000 - 1e-9);
            assert!(
                r.profit_if_unresponsive_per_1000 <= base.profit_per_1000 + 1e-6,
                "discounts to nobody moved only cost"
            );
        }
        // A strong response: the hesitant get discounts, the near-certain buyer does not.
        assert!(
            rows[2].offered_share > 0.0 && rows[2].offered_share < 1.0,
            "{:?}",
            rows[2]
        );
        assert!(rows[2].purchases_per_1000 > base.purchases_per_1000);
    }
}
