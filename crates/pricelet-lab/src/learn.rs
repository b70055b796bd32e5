//! The learning loop end to end (`pricelet loop-simulate`, docs/measurement.md §7): Online Shoppers
//! sessions as shoppers, priced by the engine under the current policy, purchases drawn from a
//! known price response, explore quotes reported under local DP, and the proposer updating the
//! policy after each round.
//!
//! The truth: a shopper of the model's interest r buys at discount d (fraction of list) with
//! `P = σ(logit r + β_true·d)` — the functional form the expectedProfit strategy assumes, so the
//! oracle (the same policy with β = β_true) is the best policy of that form. Profits are expected
//! values under that P (not draws), so rounds compare without purchase noise; reports use drawn
//! purchases. Each shopper sees one item; only explore quotes are reported (what the loop learns
//! from; the choice is made before the outcome is known, so it does not bias the estimate).

use crate::datasets::ShopperSession;
use crate::rng::Rng;
use pricelet::error::Result;
use pricelet::experiment::{self, Variant};
use pricelet::features::{self, Registry, Summaries};
use pricelet::item::Item;
use pricelet::ldp::{self, Domain, Payload, Report};
use pricelet::math::{logit, sigmoid};
use pricelet::policy::{Mechanism, Policy, Strategy};
use pricelet::pricer::EdgeRequest;
use pricelet::pricing;
use pricelet::quote::{Quote, Reason};
use pricelet::scorer::ModelKind;
use pricelet::time::{Clock, DAY_MS};
use pricelet_measure::{add_report, propose, Action, Expected, Noise, Tally};
use pricelet_onnx::Model;
use serde::Serialize;
use serde_json::{json, Value};

/// The item every simulated shopper is offered: list 100.00 CHF (any price ending, so each explore
/// price is exactly its step), the policy's default cost.
pub fn loop_item() -> Value {
    json!({ "id": "loop-item", "price": "100.00", "currency": "CHF", "category": "apparel" })
}

#[derive(Debug, Clone)]
pub struct LoopSettings {
    pub true_beta: f64,
    pub epsilon: f64,
    /// None: OUE when the randomized domain is large for ε (|D| ≥ 3e^ε + 2, Wang et al.), else GRR.
    pub mechanism: Option<Mechanism>,
    pub rounds: usize,
    pub shoppers_per_round: usize,
    pub seed: u64,
    pub start_ms: i64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoundRow {
    pub round: usize,
    pub shoppers: usize,
    pub policy_version: String,
    pub beta_used: f64,
    /// β̂ and its 95 % interval from all reports so far (None until it can be fitted).
    pub beta_estimate: Option<f64>,
    pub beta_low: Option<f64>,
    pub beta_high: Option<f64>,
    pub profit_per1000: f64,
    pub oracle_profit_per1000: f64,
    pub list_profit_per1000: f64,
    pub reports: u64,
    pub action: Action,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Poisoning {
    /// Fake reports (the most effective kind found) that move β̂ by one `maxBetaStep`, up and down.
    pub fake_reports_up: Option<u64>,
    pub fake_reports_down: Option<u64>,
    pub honest_reports: u64,
    pub max_beta_step: f64,
    /// How one fake report is made: the cells it claims.
    pub method: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoopReport {
    pub method: &'static str,
    pub true_beta: f64,
    pub epsilon: f64,
    pub mechanism: Mechanism,
    pub domain: String,
    pub item: Value,
    pub rounds: Vec<RoundRow>,
    pub poisoning: Option<Poisoning>,
}

/// One row's prices under a policy (edge pricing: the strategy's choice, no exploration).
fn chosen_quotes(
    model_bytes: &[u8],
    policy: &Policy,
    rows: &[Vec<f64>],
    names: &[String],
    item: &Value,
    clock: &Clock,
) -> Result<Vec<Quote>> {
    let model = Model::load(model_bytes, ModelKind::Interest)?;
    let mut pricer = crate::fairness::edge_pricer(policy, model, "loop", clock.now_ms)?;
    rows.iter()
        .map(|row| {
            let request = EdgeRequest {
                items: vec![item.clone()],
                features: Some(vec![row.clone()]),
                feature_names: Some(names.to_vec()),
                variant: Some(Variant::Treatment.as_str().to_string()),
            };
            let slot = pricer.price_from_features(&request, clock)?.remove(0);
            slot.quote().cloned().ok_or_else(|| {
                pricelet::Error::new(
                    pricelet::Code::InvalidItem,
                    "the loop item could not be priced",
                )
            })
        })
        .collect()
}

fn with_beta(policy: &Policy, beta: f64) -> Result<Policy> {
    let mut v = policy.to_json();
    v["strategy"]["beta"] = json!(beta);
    v["version"] = json!(format!("{}-oracle", policy.version));
    Policy::from_json(&v)
}

/// Runs the loop from `policy` (which must have `learning` and `reporting.interestBuckets`).
pub fn loop_simulate(
    model_bytes: &[u8],
    policy: &Policy,
    sessions: &[ShopperSession],
    s: &LoopSettings,
) -> Result<LoopReport> {
    let mut policy = {
        let mut v = policy.to_json();
        let domain = Domain::for_policy(policy);
        let mechanism = s.mechanism.unwrap_or(
            if (domain.randomized_size() as f64) >= 3.0 * s.epsilon.exp() + 2.0 {
                Mechanism::Oue
            } else {
                Mechanism::Grr
            },
        );
        v["reporting"]["epsilon"] = json!(s.epsilon);
        v["reporting"]["dailyEpsilon"] = json!(s
            .epsilon
            .max(v["reporting"]["dailyEpsilon"].as_f64().unwrap_or(0.0)));
        v["reporting"]["mechanism"] = json!(mechanism.as_str());
        Policy::from_json(&v)?
    };
    let expected = Expected::from_policy(&policy)?;
    let rules = policy.learning.clone().ok_or_else(|| {
        pricelet::Error::new(
            pricelet::Code::InvalidPolicy,
            "loop-simulate needs a policy with a `learning` section (e.g. policy/learning.json)",
        )
    })?;
    let item_json = loop_item();
    let item = Item::from_json(&item_json)?;
    let bounds = pricing::bounds(&item, &policy);
    let candidates = pricing::candidates(&item, &policy, &bounds);
    // Tax and cost are the merchant's: the loop never changes them.
    let fixed = policy.clone();
    let net = |price: i64| pricing::net_of(price, &fixed) - bounds.cost_minor as f64;
    let info = Model::load(model_bytes, ModelKind::Interest)?
        .info()
        .clone();
    let specs = Registry::builtin().resolve(&info.features)?;
    let rows: Vec<Vec<f64>> = sessions
        .iter()
        .map(|r| {
            features::vector(
                &specs,
                &Summaries {
                    session: r.summary(),
                    ..Default::default()
                },
            )
        })
        .collect();
    let start = Clock {
        now_ms: s.start_ms,
        utc_offset_minutes: 0,
    };
    let oracle = chosen_quotes(
        model_bytes,
        &with_beta(&policy, s.true_beta.clamp(0.0, 100.0))?,
        &rows,
        &info.features,
        &item_json,
        &start,
    )?;
    let interest: Vec<f64> = oracle.iter().map(|q| q.interest.unwrap_or(0.0)).collect();
    let mut rng = Rng::new(s.seed);
    let mut tally = Tally::for_domain(&expected.domain);
    let mut out = Vec::new();
    for round in 0..s.rounds {
        let clock = Clock {
            now_ms: s.start_ms + round as i64 * DAY_MS,
            utc_offset_minutes: 0,
        };
        let chosen = chosen_quotes(
            model_bytes,
            &policy,
            &rows,
            &info.features,
            &item_json,
            &clock,
        )?;
        let beta_used = match policy.strategy() {
            Strategy::ExpectedProfit { beta } => *beta,
            _ => f64::NAN,
        };
        let (mut profit, mut oracle_profit, mut list_profit) = (0.0, 0.0, 0.0);
        for i in 0..s.shoppers_per_round {
            let row = rng.below(rows.len());
            let anon = format!("s{}-r{round}-{i}", s.seed);
            let r = interest[row];
            let buy = |price: i64| {
                let d = (item.list_minor - price) as f64 / item.list_minor as f64;
                sigmoid(logit(r.clamp(1e-6, 1.0 - 1e-6)) + s.true_beta * d)
            };
            // The device's arm and exploration draws (the same for the oracle: same experiment).
            let variant = experiment::assign_variant(&anon, &policy);
            let explored = (variant == Variant::Treatment)
                .then(|| {
                    experiment::exploration(
                        &anon,
                        &item.id,
                        clock.now_ms,
                        &policy,
                        candidates.len(),
                    )
                })
                .flatten();
            let shown = |q: &Quote| match (variant, explored) {
                (Variant::Control, _) => item.list_minor,
                (_, Some(j)) => candidates[j].price_minor,
                _ => q.price_minor,
            };
            let (ours, best) = (shown(&chosen[row]), shown(&oracle[row]));
            profit += buy(ours) * net(ours);
            oracle_profit += buy(best) * net(best);
            list_profit += r * net(item.list_minor);
            let Some(j) = explored else { continue };
            let mut q = chosen[row].clone();
            q.price_minor = candidates[j].price_minor;
            q.discount_minor = candidates[j].discount_minor;
            q.reason = Reason::Explore;
            let converted = rng.uniform() < buy(q.price_minor);
            let tuple = ldp::tuple_for(&policy, &q, converted, &[])
                .map_err(|(_, m)| pricelet::Error::new(pricelet::Code::InvalidReport, m))?;
            let report = Report::randomized(
                pricelet::time::local_day(&clock),
                &expected.domain,
                expected.domain.encode(&tuple),
                expected.mechanism,
                expected.epsilon,
                &mut rng,
            );
            add_report(&mut tally, &report, &expected)?;
        }
        let decision = propose(&policy, &tally, clock.now_ms)?;
        let per1000 = |x: f64| 1000.0 * x / s.shoppers_per_round.max(1) as f64 / 100.0;
        let b = decision.evidence.beta;
        out.push(RoundRow {
            round: round + 1,
            shoppers: s.shoppers_per_round,
            policy_version: policy.version.clone(),
            beta_used,
            beta_estimate: b.map(|b| b.estimate),
            beta_low: b.map(|b| b.lo),
            beta_high: b.map(|b| b.hi),
            profit_per1000: per1000(profit),
            oracle_profit_per1000: per1000(oracle_profit),
            list_profit_per1000: per1000(list_profit),
            reports: tally.n,
            action: decision.action,
            reason: decision.reason.clone(),
        });
        if let Some(next) = &decision.policy {
            policy = Policy::from_json(next)?;
        }
    }
    let poisoning = poisoning(&tally, &expected, rules.max_beta_step);
    Ok(LoopReport {
        method: "Online Shoppers sessions resampled as shoppers (features from the row, the interest model through tract, prices from Pricer::price_from_features, arms and exploration drawn as on the device); purchases drawn from σ(logit interest + β_true·d); each explore quote reported with the core's randomizer and tallied by the collector's code; the proposer runs after each round on all reports so far. Profits are expected values per 1,000 shoppers in CHF (net of tax, minus cost); oracle = the same policy with β = β_true (same control and exploration); list = no discounts.",
        true_beta: s.true_beta,
        epsilon: expected.epsilon,
        mechanism: expected.mechanism,
        domain: expected.domain.description(),
        item: item_json,
        rounds: out,
        poisoning,
    })
}

/// How many fake reports move β̂ by `step_size`: each fake report claims the cells that push β̂ one
/// way (OUE: all of them at once; GRR: the single most effective value), added to the honest tally.
pub fn poisoning(tally: &Tally, expected: &Expected, step_size: f64) -> Option<Poisoning> {
    let noise = Noise::Ldp(expected.mechanism, expected.epsilon);
    let fit = |t: &Tally| pricelet_measure::fit_beta(&t.frequencies(noise), &expected.domain).ok();
    let base = fit(tally)?.beta.estimate;
    let size = expected.domain.size();
    let block = expected.domain.randomized_size();
    // The effect of one report claiming cell j, measured on a probe of 1 % of the tally.
    let probe = (tally.n / 100).max(1);
    let with = |step: usize, payload: &Payload, k: u64| {
        let mut t = tally.clone();
        t.add_in_step_times(step, payload, k);
        fit(&t).map(|f| f.beta.estimate - base)
    };
    let single = |j: usize| match expected.mechanism {
        Mechanism::Oue => Payload::Bits(vec![j]),
        Mechanism::Grr => Payload::Value(j),
    };
    let effects: Vec<f64> = (0..size)
        .map(|j| with(j / block, &single(j % block), probe).unwrap_or(0.0))
        .collect();
    // The best fake report of each step (a report has one step), then the best step.
    let fake = |up: bool, step: usize| -> Payload {
        let sign = if up { 1.0 } else { -1.0 };
        let cells = step * block..(step + 1) * block;
        match expected.mechanism {
            Mechanism::Oue => Payload::Bits(
                cells
                    .filter(|&j| sign * effects[j] > 0.0)
                    .map(|j| j % block)
                    .collect(),
            ),
            Mechanism::Grr => Payload::Value(
                cells
                    .max_by(|&a, &b| (sign * effects[a]).total_cmp(&(sign * effects[b])))
                    .map_or(0, |j| j % block),
            ),
        }
    };
    let needed = |up: bool| -> Option<u64> {
        (0..expected.domain.steps())
            .filter_map(|step| {
                let payload = fake(up, step);
                let moved = |k: u64| with(step, &payload, k).is_none_or(|d| d.abs() >= step_size);
                let mut hi = 1u64;
                while !moved(hi) {
                    hi *= 2;
                    if hi > tally.n.saturating_mul(100).max(1 << 20) {
                        return None;
                    }
                }
                let mut lo = hi / 2;
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if moved(mid) {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                Some(hi)
            })
            .min()
    };
    Some(Poisoning {
        fake_reports_up: needed(true),
        fake_reports_down: needed(false),
        honest_reports: tally.n,
        max_beta_step: step_size,
        method: match expected.mechanism {
            Mechanism::Oue => "each fake OUE report names the most effective step and sets the bits of every cell of it whose claim moves β̂ the attacker's way (found by probing each cell)".into(),
            Mechanism::Grr => "each fake GRR report names the most effective step and claims the single value that moves β̂ most the attacker's way (found by probing each value)".into(),
        },
    })
}
