//! The learning loop end to end (`pricelet loop-simulate`): Online Shoppers
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
use pricelet_measure::{add_report, propose, Action, Expected, Noise, Tally, Turn};
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

/// The fewest fake reports that make the proposer change β, per goal (None: no number up to the
/// search limit does).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttackCost {
    /// β moves up one step.
    pub up: Option<u64>,
    /// β moves down (a step, or a retreat).
    pub down: Option<u64>,
    /// A retreat: the interval is made to say no discount pays.
    pub retreat: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Poisoning {
    pub honest_reports: u64,
    pub honest_rounds: usize,
    /// β of the policy the attack starts from (the loop's last version).
    pub from_beta: f64,
    pub max_beta_step: f64,
    /// Every fake in one new collection round (a burst).
    pub burst: AttackCost,
    /// The fakes split evenly over two new rounds.
    pub two_rounds: AttackCost,
    /// The fakes spread over every round the honest reports came in, in their proportion (an
    /// attacker who has been sending all along).
    pub every_round: AttackCost,
    /// The most fakes tried (100 × the honest reports).
    pub search_limit: u64,
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
                items: pricelet::wire::edge::request_items(std::slice::from_ref(item)),
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
    let version = format!("{}-oracle", policy.version);
    policy.with_beta(beta, version, policy.previous_version.clone())
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
    // One tally per collection round: the proposer checks that no single round decides.
    let mut rounds: Vec<Tally> = Vec::new();
    let base_version = policy.version.clone();
    let mut issued = 0u64;
    let mut out = Vec::new();
    for round in 0..s.rounds {
        let mut tally = Tally::for_domain(&expected.domain);
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
                .map_err(|e| pricelet::Error::new(pricelet::Code::InvalidReport, e.to_string()))?;
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
        rounds.push(tally);
        let turn = Turn {
            now_ms: clock.now_ms,
            base_version: &base_version,
            sequence: issued + 1,
        };
        let decision = propose(&policy, &rounds, &turn)?;
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
            reports: decision.evidence.reports,
            action: decision.action,
            reason: decision.reason.clone(),
        });
        if let Some(next) = decision.policy {
            policy = next;
            issued += 1;
        }
    }
    let poisoning = poisoning(&policy, &rounds, &expected, rules.max_beta_step);
    Ok(LoopReport {
        method: "Online Shoppers sessions resampled as shoppers (features from the row, the interest model through tract, prices from Pricer::price_from_features, arms and exploration drawn as on the device); purchases drawn from σ(logit interest + β_true·d); each explore quote reported with the core's randomizer and tallied by the collector's code; the proposer runs after each round on all reports so far, one tally per round (a change must hold with any one round left out). Profits are expected values per 1,000 shoppers in CHF (net of tax, minus cost); oracle = the same policy with β = β_true (same control and exploration); list = no discounts.",
        true_beta: s.true_beta,
        epsilon: expected.epsilon,
        mechanism: expected.mechanism,
        domain: expected.domain.description(),
        item: item_json,
        rounds: out,
        poisoning,
    })
}

/// How many fake reports make the proposer change β, starting from `policy` (the loop's last
/// version) with the honest `rounds`, where these hold β (None otherwise). Each fake report claims the cells that push β̂ one way (OUE:
/// all of them at once; GRR: the single most effective value; found by probing each cell), in the
/// step where that works best; the fakes come as one burst, over two new rounds, or spread over
/// every round in the honest reports' proportion.
pub fn poisoning(
    policy: &Policy,
    rounds: &[Tally],
    expected: &Expected,
    step_size: f64,
) -> Option<Poisoning> {
    let noise = Noise::Ldp(expected.mechanism, expected.epsilon);
    let mut all = Tally::for_domain(&expected.domain);
    for r in rounds {
        all.merge(r).ok()?;
    }
    let fit = |t: &Tally| pricelet_measure::fit_beta(&t.frequencies(noise), &expected.domain).ok();
    let base = fit(&all)?.beta.estimate;
    let size = expected.domain.size();
    let block = expected.domain.randomized_size();
    // The effect of one report claiming cell j on β̂, measured on a probe of 1 % of the tally.
    let probe = (all.n / 100).max(1);
    let single = |j: usize| match expected.mechanism {
        Mechanism::Oue => Payload::Bits(vec![j]),
        Mechanism::Grr => Payload::Value(j),
    };
    let effects: Vec<f64> = (0..size)
        .map(|j| {
            let mut t = all.clone();
            t.add_in_step_times(j / block, &single(j % block), probe);
            fit(&t).map_or(0.0, |f| f.beta.estimate - base)
        })
        .collect();
    // The best fake report of each step (a report has one step).
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
    let from_beta = match policy.strategy() {
        Strategy::ExpectedProfit { beta } => *beta,
        _ => return None,
    };
    let turn = Turn {
        now_ms: 0,
        base_version: &policy.version,
        sequence: 1,
    };
    // Only a loop the honest reports hold still — taken round by round and as a whole — can be
    // pushed: where the whole says "change" and only the round check holds it, a few fakes in a
    // round of their own tip it the way the honest reports already point.
    if propose(policy, rounds, &turn).ok()?.action != Action::Hold
        || pricelet_measure::guardrails_verdict(policy, &all).ok()?.0 != Action::Hold
    {
        return None;
    }
    #[derive(Clone, Copy)]
    enum Spread {
        Burst,
        TwoRounds,
        EveryRound,
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Goal {
        Up,
        Down,
        Retreat,
    }
    // The honest rounds with `k` fakes of `payload` (in `step`) added as `spread` says.
    let attacked = |spread: Spread, step: usize, payload: &Payload, k: u64| -> Vec<Tally> {
        let mut out = rounds.to_vec();
        let empty = Tally::for_domain(&expected.domain);
        let add = |t: &mut Tally, k: u64| {
            if k > 0 {
                t.add_in_step_times(step, payload, k);
            }
        };
        match spread {
            Spread::Burst => {
                let mut t = empty;
                add(&mut t, k);
                out.push(t);
            }
            Spread::TwoRounds => {
                for share in [k / 2, k - k / 2] {
                    let mut t = empty.clone();
                    add(&mut t, share);
                    out.push(t);
                }
            }
            Spread::EveryRound => {
                let total = all.n.max(1) as u128;
                let mut given = 0u64;
                let last = out.len().saturating_sub(1);
                for (i, t) in out.iter_mut().enumerate() {
                    let share = if i == last {
                        k - given
                    } else {
                        (u128::from(k) * u128::from(t.n) / total) as u64
                    };
                    given += share;
                    add(t, share);
                }
            }
        }
        out
    };
    let met = |goal: Goal, rounds: &[Tally]| -> bool {
        let Ok(d) = propose(policy, rounds, &turn) else {
            return false;
        };
        match goal {
            Goal::Up => d.action == Action::Propose && d.beta_after > from_beta,
            Goal::Down => d.beta_after < from_beta,
            Goal::Retreat => d.action == Action::Retreat,
        }
    };
    let limit = all.n.saturating_mul(100).max(1 << 20);
    let needed = |spread: Spread, goal: Goal| -> Option<u64> {
        (0..expected.domain.steps())
            .filter_map(|step| {
                let payload = fake(goal == Goal::Up, step);
                let works = |k: u64| met(goal, &attacked(spread, step, &payload, k));
                // Doubling, then halving: far too many identical fakes break the fit itself (the
                // proposer then holds), so success is not monotonic over the whole range.
                let mut hi = 1u64;
                while !works(hi) {
                    hi *= 2;
                    if hi > limit {
                        return None;
                    }
                }
                let mut lo = hi / 2;
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if works(mid) {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                Some(hi)
            })
            .min()
    };
    let cost = |spread: Spread| AttackCost {
        up: needed(spread, Goal::Up),
        down: needed(spread, Goal::Down),
        retreat: needed(spread, Goal::Retreat),
    };
    Some(Poisoning {
        honest_reports: all.n,
        honest_rounds: rounds.iter().filter(|r| r.n > 0).count(),
        from_beta,
        max_beta_step: step_size,
        burst: cost(Spread::Burst),
        two_rounds: cost(Spread::TwoRounds),
        every_round: cost(Spread::EveryRound),
        search_limit: limit,
        method: match expected.mechanism {
            Mechanism::Oue => "each fake OUE report names the most effective step and sets the bits of every cell of it whose claim moves β̂ the attacker's way (found by probing each cell); the fewest fakes (binary search) after which the proposer, run on the honest rounds plus the fakes, changes β the attacker's way".into(),
            Mechanism::Grr => "each fake GRR report names the most effective step and claims the single value that moves β̂ most the attacker's way (found by probing each value); the fewest fakes (binary search) after which the proposer, run on the honest rounds plus the fakes, changes β the attacker's way".into(),
        },
    })
}
