//! The policy proposer of the learning loop (docs/measurement.md §7): from the tallies of explore
//! reports, β̂ with its interval; a new policy version only on sufficient evidence and within the
//! policy's `learning` guardrails. It changes `strategy.beta`, `version` and `previousVersion` and
//! nothing else: caps, floors, exclusions, steps and the experiment are the merchant's.
//!
//! Anyone can send well-formed fake reports, so no change rests on one burst of them: the reports
//! come in collection rounds (the reports received between two runs of the proposer), and a change
//! is made only if the same decision — the same direction — is reached with any single round left
//! out. A burst inside one round can then never move β; an attacker must keep sending through
//! several rounds, at the same rate as the honest devices he outweighs.

use crate::beta::fit_beta;
use crate::estimate::{Estimate, Expected, Noise, Tally};
use pricelet::limits::MAX_NAME_LEN;
use pricelet::policy::{Learning, Policy, Strategy};
use pricelet::{Code, Error, Result};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// A new version with β moved towards β̂ (at most `maxBetaStep`).
    Propose,
    /// A new version with β moved towards `betaMin` (at most `maxBetaStep`): the interval says no
    /// discount pays.
    Retreat,
    /// No change: the evidence does not suffice or does not contradict the current β.
    Hold,
    /// No change: `learning.enabled` is false (the kill switch) or the policy has no `learning`.
    Stopped,
}

/// What the proposer saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    pub reports: u64,
    /// Estimated number of explore reports (the ones β̂ is fitted to).
    pub explore_reports: f64,
    pub beta: Option<Estimate>,
    /// Why β̂ could not be fitted, if it could not.
    pub fit_problem: Option<String>,
    /// Below this β no discount step pays even for the most hesitant shopper at the policy's
    /// default cost: an interval entirely below it means discounts do not pay.
    pub break_even_beta: f64,
    pub first_day: Option<String>,
    pub last_day: Option<String>,
    /// Collection rounds that hold reports (a change needs at least two).
    pub rounds: usize,
}

/// One decision of the proposer: an entry of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Proposal {
    pub at: i64,
    pub action: Action,
    pub reason: String,
    pub from_version: String,
    pub to_version: Option<String>,
    pub beta_before: f64,
    pub beta_after: f64,
    pub evidence: Evidence,
    /// The new policy (Propose, Retreat), validated like any policy a merchant writes.
    pub policy: Option<Value>,
}

/// Where the loop stands when it decides: the time, the deployed base policy's version (the loop's
/// versions are named after it) and the number the next version gets. The numbers belong to the
/// store that keeps the loop's state: it hands out each one once, so no version name is given twice.
#[derive(Debug, Clone, Copy)]
pub struct Turn<'a> {
    pub now_ms: i64,
    pub base_version: &'a str,
    pub sequence: u64,
}

/// The name of the loop's `sequence`-th version of base `base`: `<base>+loop.<sequence>`, with the
/// base cut short (on a character boundary) when the name would pass the version length limit.
/// Unique as long as each sequence number is used once: the name ends in its number.
pub fn loop_version(base: &str, sequence: u64) -> String {
    let suffix = format!("+loop.{sequence}");
    let room = MAX_NAME_LEN.saturating_sub(suffix.chars().count());
    base.chars().take(room).chain(suffix.chars()).collect()
}

/// The smallest β at which some discount step beats list price for a shopper of interest → 0 at
/// the policy's default cost: `min_s ln((N − C) / (N(1 − d_s) − C)) / d_s` with N the net list price
/// and C the cost (σ(logit r + βd) ≈ r·e^{βd} for small r, where a discount pays most).
pub fn break_even_beta(policy: &Policy) -> f64 {
    let cost = policy.margin.default_cost_percent.0.as_fraction();
    policy
        .discount_steps
        .iter()
        .map(|s| s.0.as_fraction())
        .filter(|d| 1.0 - d > cost)
        .map(|d| ((1.0 - cost) / (1.0 - d - cost)).ln() / d)
        .fold(f64::INFINITY, f64::min)
}

/// What one tally says: hold (why), or move β to `target`.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Hold(String),
    Move {
        action: Action,
        target: f64,
        reason: String,
    },
}

/// β̂ from a tally, or why it cannot be fitted.
fn estimate_beta(tally: &Tally, expected: &Expected) -> (Option<Estimate>, f64, Option<String>) {
    if tally.n == 0 {
        return (None, 0.0, None);
    }
    let f = tally.frequencies(Noise::Ldp(expected.mechanism, expected.epsilon));
    match fit_beta(&f, &expected.domain) {
        Ok(fit) if expected.domain.version() == pricelet::ldp::DOMAIN_VERSION_LEARNING => {
            (Some(fit.beta), fit.reports_used, None)
        }
        Ok(_) => (None, 0.0, Some("reports of domain version 1 do not separate explore quotes: β is not identified (add reporting.interestBuckets)".into())),
        Err(e) => (None, 0.0, Some(e.message)),
    }
}

/// Two decimals: a readable policy, and never past `bound` by rounding.
fn rounded_move(from: f64, to: f64, bound: f64) -> f64 {
    let r = (to * 100.0).round() / 100.0;
    if (r - from).abs() > bound {
        to
    } else {
        r
    }
}

/// The guardrails applied to the evidence of one tally.
fn judge(
    rules: &Learning,
    tally: &Tally,
    expected: &Expected,
    beta_before: f64,
    break_even: f64,
) -> Verdict {
    if tally.n < rules.min_reports {
        return Verdict::Hold(format!(
            "{} reports of the {} learning.minReports asks for",
            tally.n, rules.min_reports
        ));
    }
    let (beta, _, problem) = estimate_beta(tally, expected);
    let Some(b) = beta else {
        return Verdict::Hold(format!(
            "β cannot be estimated yet: {}",
            problem.unwrap_or_default()
        ));
    };
    let interval = format!("β̂ = {:.2} [{:.2}, {:.2}]", b.estimate, b.lo, b.hi);
    // Every change, a retreat included, needs an interval narrow enough to act on.
    if b.hi - b.lo > rules.max_interval_width {
        return Verdict::Hold(format!(
            "{interval} is {:.2} wide, wider than learning.maxIntervalWidth = {}",
            b.hi - b.lo,
            rules.max_interval_width
        ));
    }
    let step = rules.max_beta_step;
    if b.hi < break_even {
        if beta_before <= rules.beta_min {
            return Verdict::Hold(format!("{interval} is below the break-even β {break_even:.2}: discounts do not pay, and β is already at learning.betaMin"));
        }
        let target = rounded_move(beta_before, (beta_before - step).max(rules.beta_min), step);
        return Verdict::Move {
            action: Action::Retreat,
            target,
            reason: format!("{interval} is entirely below the break-even β {break_even:.2}: discounts do not pay; β moves towards learning.betaMin = {} by at most learning.maxBetaStep = {step}", rules.beta_min),
        };
    }
    if b.covers(beta_before) {
        return Verdict::Hold(format!(
            "{interval} covers the current β = {beta_before}: no evidence against it"
        ));
    }
    let target = b.estimate.clamp(rules.beta_min, rules.beta_max);
    let moved = beta_before + (target - beta_before).clamp(-step, step);
    let next = rounded_move(beta_before, moved, step).clamp(rules.beta_min, rules.beta_max);
    if next == beta_before {
        return Verdict::Hold(format!(
            "{interval} lies outside the learning range [{}, {}] and β is already at its edge",
            rules.beta_min, rules.beta_max
        ));
    }
    Verdict::Move {
        action: Action::Propose,
        target: next,
        reason: format!("{interval} excludes the current β = {beta_before}: β moves towards β̂ by at most learning.maxBetaStep = {step}"),
    }
}

/// What the guardrails say on one tally, without the round check: `(action, β after)`, the action
/// Hold or Stopped when β stays. For studies of the loop (the lab's poisoning figures start from
/// a state the honest reports hold even taken as a whole).
pub fn guardrails_verdict(policy: &Policy, tally: &Tally) -> Result<(Action, f64)> {
    let expected = Expected::from_policy(policy)?;
    let Strategy::ExpectedProfit { beta } = policy.strategy() else {
        return Ok((Action::Stopped, f64::NAN));
    };
    let Some(rules) = policy.learning.as_ref().filter(|l| l.enabled) else {
        return Ok((Action::Stopped, *beta));
    };
    Ok(
        match judge(rules, tally, &expected, *beta, break_even_beta(policy)) {
            Verdict::Hold(_) => (Action::Hold, *beta),
            Verdict::Move { action, target, .. } => (action, target),
        },
    )
}

/// Decides on the evidence in `rounds` (the tallies of `policy`'s reports, one per collection
/// round, oldest first; reports of any of its loop versions) whether to replace `policy`, and
/// returns the decision with the new policy.
pub fn propose(policy: &Policy, rounds: &[Tally], turn: &Turn) -> Result<Proposal> {
    let expected = Expected::from_policy(policy)?;
    let beta_before = match policy.strategy() {
        Strategy::ExpectedProfit { beta } => *beta,
        _ => f64::NAN,
    };
    let mut merged = Tally::for_domain(&expected.domain);
    for (i, round) in rounds.iter().enumerate() {
        if !round.fits_domain(&expected.domain) {
            return Err(Error::at(Code::InvalidReport, format!("rounds[{i}]"), format!("the tally of round {i} does not fit the reporting domain of policy {} ({} cells), or its counts are impossible: pass the tallies of this policy's reports", policy.version, expected.domain.size())));
        }
        merged.merge(round)?;
    }
    let (beta, explore_reports, fit_problem) = estimate_beta(&merged, &expected);
    let evidence = Evidence {
        reports: merged.n,
        explore_reports,
        beta,
        fit_problem,
        break_even_beta: break_even_beta(policy),
        first_day: merged.first_day.clone(),
        last_day: merged.last_day.clone(),
        rounds: rounds.iter().filter(|r| r.n > 0).count(),
    };
    let decision = |action: Action, reason: String, beta_after: f64| -> Result<Proposal> {
        let changed = matches!(action, Action::Propose | Action::Retreat);
        let next = changed.then(|| loop_version(turn.base_version, turn.sequence));
        let policy_json = match &next {
            Some(version) => Some(with_beta(policy, version, beta_after, turn.now_ms)?),
            None => None,
        };
        Ok(Proposal {
            at: turn.now_ms,
            action,
            reason,
            from_version: policy.version.clone(),
            to_version: next,
            beta_before,
            beta_after: if changed { beta_after } else { beta_before },
            evidence: evidence.clone(),
            policy: policy_json,
        })
    };
    let Some(rules) = &policy.learning else {
        return decision(
            Action::Stopped,
            format!(
                "policy {} has no `learning` section: the loop is off",
                policy.version
            ),
            beta_before,
        );
    };
    if !rules.enabled {
        return decision(
            Action::Stopped,
            "learning.enabled is false: the kill switch is on, nothing changes".into(),
            beta_before,
        );
    }
    let be = evidence.break_even_beta;
    let (action, target, reason) = match judge(rules, &merged, &expected, beta_before, be) {
        Verdict::Hold(why) => return decision(Action::Hold, why, beta_before),
        Verdict::Move {
            action,
            target,
            reason,
        } => (action, target, reason),
    };
    if evidence.rounds < 2 {
        return decision(Action::Hold, format!("{reason}, but all the reports come from one collection round: a change needs evidence that holds with any single round left out (reports of two rounds at least)"), beta_before);
    }
    // The same direction with any one round left out; the smallest of those moves is taken.
    let up = target > beta_before;
    let mut size = (target - beta_before).abs();
    let mut all_retreat = action == Action::Retreat;
    for (i, round) in rounds.iter().enumerate().filter(|(_, r)| r.n > 0) {
        match judge(rules, &merged.without(round)?, &expected, beta_before, be) {
            Verdict::Move {
                action: a,
                target: t,
                ..
            } if (t > beta_before) == up => {
                size = size.min((t - beta_before).abs());
                all_retreat &= a == Action::Retreat;
            }
            other => {
                let without = match other {
                    Verdict::Hold(why) => why,
                    Verdict::Move { reason, .. } => reason,
                };
                return decision(Action::Hold, format!("{reason}; but without collection round {} of {} ({} reports): {without}. No single round may decide a change: holding until the evidence holds without any one of them", i + 1, rounds.len(), round.n), beta_before);
            }
        }
    }
    let beta_after = if up {
        beta_before + size
    } else {
        beta_before - size
    };
    let action = if all_retreat {
        Action::Retreat
    } else {
        Action::Propose
    };
    decision(
        action,
        format!(
            "{reason}; the same with any one of the {} collection rounds left out",
            evidence.rounds
        ),
        beta_after,
    )
}

/// `policy` with a new β and version; quotes of the old version verify for `graceMs`.
fn with_beta(policy: &Policy, version: &str, beta: f64, now_ms: i64) -> Result<Value> {
    let grace = policy.grace_when_replaced_ms();
    let mut v = policy.to_json();
    v["version"] = json!(version);
    v["strategy"]["beta"] = json!(beta);
    v["previousVersion"] =
        json!({ "version": policy.version, "acceptUntil": now_ms.saturating_add(grace) });
    // Validated like any policy a merchant writes.
    Ok(Policy::from_json(&v)?.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pricelet::ldp::{Arm, Domain, Group, Payload, Tuple};

    const NOW: i64 = 1_795_950_160_000;

    fn policy(patch: impl Fn(&mut Value)) -> Policy {
        let mut v: Value =
            serde_json::from_str(include_str!("../../../policy/learning.json")).unwrap();
        patch(&mut v);
        Policy::from_json(&v).unwrap()
    }

    /// An exact (noise-free) tally of `n` explore reports with conversion σ(α_b + β·d) per bucket:
    /// the fit then returns β exactly and the interval is the sampling one.
    fn tally_with(policy: &Policy, beta: f64, n: u64) -> Tally {
        let domain = Domain::for_policy(policy);
        let mut t = Tally::for_domain(&domain);
        let per = n / (domain.steps() * domain.groups()) as u64;
        for step in 0..domain.steps() {
            for b in 0..domain.groups() {
                let d = domain.steps_percent[step] / 100.0;
                let p = pricelet::math::sigmoid(-2.5 + b as f64 + beta * d);
                let yes = (per as f64 * p).round() as u64;
                for (converted, k) in [(true, yes), (false, per - yes)] {
                    let j = domain.encode(&Tuple {
                        arm: Arm::Explore,
                        step,
                        converted,
                        group: Group::Interest(b),
                    });
                    // GRR with an enormous ε de-biases to the counts themselves.
                    t.add_in_step_times(step, &Payload::Value(j % domain.randomized_size()), k);
                }
            }
        }
        t
    }

    fn exact(v: &mut Value) {
        v["reporting"]["epsilon"] = json!(10);
        v["reporting"]["dailyEpsilon"] = json!(10);
        v["reporting"]["mechanism"] = json!("grr");
    }

    fn turn(p: &Policy) -> Turn<'_> {
        Turn {
            now_ms: NOW,
            base_version: &p.version,
            sequence: 1,
        }
    }

    /// `n` reports of a price response `beta`, in two equal collection rounds.
    fn decide(p: &Policy, beta: f64, n: u64) -> Proposal {
        let half = tally_with(p, beta, n / 2);
        propose(p, &[half.clone(), half], &turn(p)).unwrap()
    }

    #[test]
    fn a_clear_signal_moves_beta_by_at_most_the_step_and_touches_nothing_else() {
        let p = policy(exact);
        let d = decide(&p, 9.0, 3_000_000);
        assert_eq!(d.action, Action::Propose, "{}", d.reason);
        let est = d.evidence.beta.unwrap();
        assert!(est.covers(9.0) && !est.covers(4.0), "{est:?}");
        assert_eq!(d.beta_after, 6.0, "4 + maxBetaStep 2");
        assert_eq!(d.evidence.rounds, 2);
        let next = Policy::from_json(d.policy.as_ref().unwrap()).unwrap();
        assert_eq!(next.version, "learning-2026.12.1+loop.1");
        let prev = next.previous_version.clone().unwrap();
        assert_eq!(prev.version, p.version);
        assert_eq!(
            prev.accept_until,
            NOW + p.learning.as_ref().unwrap().grace_ms
        );
        // Everything but β, version and previousVersion is the merchant's, untouched.
        let strip = |mut v: Value| {
            for k in ["version", "previousVersion", "strategy"] {
                v.as_object_mut().unwrap().remove(k);
            }
            v
        };
        assert_eq!(strip(next.to_json()), strip(p.to_json()));
        // The next proposal from the new version takes the number its store hands out.
        let half = tally_with(&next, 9.0, 1_500_000);
        let t = Turn {
            now_ms: NOW,
            base_version: &p.version,
            sequence: 2,
        };
        let d2 = propose(&next, &[half.clone(), half], &t).unwrap();
        assert_eq!((d2.action, d2.beta_after), (Action::Propose, 8.0));
        assert_eq!(d2.to_version.as_deref(), Some("learning-2026.12.1+loop.2"));
    }

    #[test]
    fn the_step_bound_holds_at_and_past_its_limit() {
        let p = policy(exact);
        // Exactly one step away: moves all the way; further: stops at the bound.
        assert_eq!(decide(&p, 6.0, 3_000_000).beta_after, 6.0);
        assert_eq!(decide(&p, 20.0, 3_000_000).beta_after, 6.0);
        let down = decide(&p, 2.5, 3_000_000);
        assert_eq!((down.action, down.beta_after), (Action::Propose, 2.5));
    }

    #[test]
    fn beta_never_leaves_the_merchant_range() {
        let p = policy(|v| {
            exact(v);
            v["learning"]["betaMax"] = json!(5);
        });
        // At the limit: 5; past it (β̂ = 12): still 5; at the edge already: hold.
        assert_eq!(decide(&p, 5.0, 3_000_000).beta_after, 5.0);
        assert_eq!(decide(&p, 12.0, 3_000_000).beta_after, 5.0);
        let at_edge = policy(|v| {
            exact(v);
            v["learning"]["betaMax"] = json!(5);
            v["strategy"]["beta"] = json!(5);
        });
        let d = decide(&at_edge, 12.0, 3_000_000);
        assert_eq!(
            (d.action, d.beta_after),
            (Action::Hold, 5.0),
            "{}",
            d.reason
        );
        assert!(d.policy.is_none());
    }

    #[test]
    fn too_few_reports_or_too_wide_an_interval_changes_nothing() {
        let p = policy(|v| {
            exact(v);
            v["learning"]["minReports"] = json!(1_500);
        });
        let d = decide(&p, 9.0, 1_485);
        assert_eq!(d.action, Action::Hold);
        assert!(d.reason.contains("minReports"), "{}", d.reason);
        // At the minimum, with a width limit below what 1,500 reports give, the width rule decides.
        let strict = policy(|v| {
            exact(v);
            v["learning"]["minReports"] = json!(1_500);
            v["learning"]["maxIntervalWidth"] = json!(0.5);
        });
        let d = propose(&strict, &[tally_with(&strict, 9.0, 1_500)], &turn(&strict)).unwrap();
        assert_eq!(d.action, Action::Hold);
        assert!(d.reason.contains("maxIntervalWidth"), "{}", d.reason);
        let b = d.evidence.beta.unwrap();
        // A limit just above that width lets the same evidence through (with the rounds' check
        // taken out of the picture: each of many rounds is a sliver of the whole).
        let many = |p: &Policy| -> Vec<Tally> {
            let mut t = vec![tally_with(p, 9.0, 1_500)];
            let sliver = Tally::for_domain(&Domain::for_policy(p));
            t.extend(std::iter::repeat_n(sliver, 3));
            t
        };
        let wide = policy(|v| {
            exact(v);
            v["learning"]["minReports"] = json!(1_500);
            v["learning"]["maxIntervalWidth"] = json!(b.hi - b.lo + 0.01);
        });
        let d = propose(&wide, &many(&wide), &turn(&wide)).unwrap();
        assert_eq!(
            d.action,
            Action::Hold,
            "one round holds everything: {}",
            d.reason
        );
        assert!(d.reason.contains("one collection round"), "{}", d.reason);
        let narrow = policy(|v| {
            exact(v);
            v["learning"]["minReports"] = json!(1_500);
            v["learning"]["maxIntervalWidth"] = json!(b.hi - b.lo - 0.01);
        });
        assert!(propose(&narrow, &many(&narrow), &turn(&narrow))
            .unwrap()
            .reason
            .contains("maxIntervalWidth"));
    }

    #[test]
    fn when_discounts_do_not_pay_the_loop_retreats_step_by_step() {
        let p = policy(|v| {
            exact(v);
            v["strategy"]["beta"] = json!(10);
        });
        let d = decide(&p, 0.0, 3_000_000);
        assert_eq!(
            (d.action, d.beta_after),
            (Action::Retreat, 8.0),
            "{}",
            d.reason
        );
        // A retreat is a change like any other: at most maxBetaStep, towards betaMin.
        let mut current = Policy::from_json(d.policy.as_ref().unwrap()).unwrap();
        let mut path = vec![10.0, 8.0];
        for _ in 0..6 {
            let d = decide(&current, 0.0, 3_000_000);
            if d.action == Action::Hold {
                break;
            }
            assert_eq!(d.action, Action::Retreat, "{}", d.reason);
            path.push(d.beta_after);
            current = Policy::from_json(d.policy.as_ref().unwrap()).unwrap();
        }
        assert_eq!(path, [10.0, 8.0, 6.0, 4.0, 2.0, 0.0]);
        // Already at betaMin: nothing more to do.
        let again = decide(&current, 0.0, 3_000_000);
        assert_eq!(again.action, Action::Hold, "{}", again.reason);
        // An interval reaching the break-even β is not a retreat.
        let be = break_even_beta(&p);
        assert!((2.0..3.0).contains(&be), "{be}");
        let near = decide(&p, be, 3_000_000);
        assert_ne!(near.action, Action::Retreat, "{}", near.reason);
    }

    /// Finding 1 of the attack on the loop: 2,052 fake reports (GRR at ε = 2, simulating β = −6)
    /// and no honest traffic made a retreat 4 → 0 with an interval 10.3 wide.
    #[test]
    fn a_retreat_needs_the_same_evidence_as_any_change() {
        let p = policy(|v| v["learning"]["minReports"] = json!(2000));
        let domain = Domain::for_policy(&p);
        let expected = Expected::from_policy(&p).unwrap();
        let mut rng = {
            let mut x = 11u64;
            move || {
                x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^ (z >> 31)
            }
        };
        let mut fakes = Tally::for_domain(&domain);
        for i in 0..2_052usize {
            let step = i % domain.steps();
            let b = (i / domain.steps()) % domain.groups();
            let d = domain.steps_percent[step] / 100.0;
            let converted =
                pricelet::random::uniform(&mut rng) < pricelet::math::sigmoid(-1.0 - 6.0 * d);
            let j = domain.encode(&Tuple {
                arm: Arm::Explore,
                step,
                converted,
                group: Group::Interest(b),
            });
            let (_, local) = domain.split(j);
            let payload = pricelet::ldp::randomize(
                local,
                domain.randomized_size(),
                expected.mechanism,
                expected.epsilon,
                &mut rng,
            );
            fakes.add_in_step(step, &payload);
        }
        // One burst: whatever it says, nothing changes.
        let d = propose(&p, &[fakes.clone()], &turn(&p)).unwrap();
        assert_eq!(d.action, Action::Hold, "{}", d.reason);
        let b = d.evidence.beta.unwrap();
        assert!(
            b.hi - b.lo > 4.0,
            "an interval as wide as the attack's: {b:?}"
        );
        assert!(
            b.hi < d.evidence.break_even_beta,
            "the fakes say discounts do not pay: {b:?}"
        );
        assert!(d.reason.contains("maxIntervalWidth"), "{}", d.reason);
        // The same reports split over two rounds: still the width rule.
        let half = fakes.clone();
        let d = propose(&p, &[half, Tally::for_domain(&domain)], &turn(&p)).unwrap();
        assert_eq!(d.action, Action::Hold, "{}", d.reason);
    }

    #[test]
    fn one_round_can_never_decide_a_change() {
        let p = policy(exact);
        // Honest evidence for the current β = 4 in three rounds, then a burst for β = 20 in one.
        let honest = tally_with(&p, 4.0, 600_000);
        let burst = tally_with(&p, 20.0, 3_000_000);
        let rounds = [honest.clone(), honest.clone(), honest, burst.clone()];
        let all = propose(&p, &rounds, &turn(&p)).unwrap();
        assert_eq!(all.action, Action::Hold, "{}", all.reason);
        assert!(
            all.reason.contains("without collection round 4"),
            "{}",
            all.reason
        );
        // Alone, the burst's evidence is overwhelming; alone it is also one round.
        let alone = propose(&p, &[burst], &turn(&p)).unwrap();
        assert_eq!(alone.action, Action::Hold, "{}", alone.reason);
        assert!(
            alone.reason.contains("one collection round"),
            "{}",
            alone.reason
        );
        // Evidence that holds in every round acts, by the smallest of the leave-one-out moves.
        let steady = tally_with(&p, 9.0, 1_000_000);
        let d = propose(&p, &[steady.clone(), steady.clone(), steady], &turn(&p)).unwrap();
        assert_eq!(
            (d.action, d.beta_after),
            (Action::Propose, 6.0),
            "{}",
            d.reason
        );
    }

    #[test]
    fn loop_versions_fit_the_length_limit_and_never_repeat() {
        let long = "v".repeat(MAX_NAME_LEN);
        let names: Vec<String> = (1..=12).map(|n| loop_version(&long, n)).collect();
        for name in &names {
            assert!(name.chars().count() <= MAX_NAME_LEN, "{name}");
        }
        assert!(names[9].ends_with("+loop.10"));
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        assert_eq!(loop_version("base", 3), "base+loop.3");
        // Multi-byte characters are cut on a character boundary.
        let accented = "é".repeat(63);
        assert_eq!(loop_version(&accented, 7).chars().count(), MAX_NAME_LEN);
        // The proposer names and validates with them: a 64-character base still proposes.
        let p = policy(|v| {
            exact(v);
            v["version"] = json!(long);
        });
        let d = decide(&p, 9.0, 3_000_000);
        assert_eq!(d.action, Action::Propose, "{}", d.reason);
        let next = Policy::from_json(d.policy.as_ref().unwrap()).unwrap();
        assert_eq!(next.version.chars().count(), MAX_NAME_LEN);
    }

    #[test]
    fn the_kill_switch_and_a_policy_without_learning_stop_the_loop() {
        let off = policy(|v| {
            exact(v);
            v["learning"]["enabled"] = json!(false);
        });
        let d = decide(&off, 9.0, 3_000_000);
        assert_eq!((d.action, d.beta_after), (Action::Stopped, 4.0));
        assert!(d.policy.is_none() && d.to_version.is_none());
        // Evidence is still recorded for the audit log.
        assert!(d.evidence.beta.is_some());
        let plain = Policy::default_policy();
        let t = Tally::for_domain(&Domain::for_policy(&plain));
        assert_eq!(
            propose(&plain, &[t], &turn(&plain)).unwrap().action,
            Action::Stopped
        );
    }

    #[test]
    fn a_tally_of_another_domain_is_refused() {
        let p = policy(exact);
        let v1 = Tally::for_domain(&Domain::for_policy(&Policy::default_policy()));
        let e = propose(&p, &[v1], &turn(&p)).unwrap_err();
        assert!(e.message.contains("does not fit"), "{}", e.message);
    }

    #[test]
    fn a_round_can_be_taken_out_of_the_tally_it_was_merged_into() {
        let p = policy(exact);
        let (a, b) = (tally_with(&p, 3.0, 10_000), tally_with(&p, 7.0, 20_000));
        let mut m = a.clone();
        m.merge(&b).unwrap();
        assert_eq!(m.without(&b).unwrap().ones, a.ones);
        assert!(a.without(&b).is_err(), "b was never in a");
    }
}
