//! The policy proposer of the learning loop (docs/measurement.md §7): from the tally of explore
//! reports, β̂ with its interval; a new policy version only on sufficient evidence and within the
//! policy's `learning` guardrails. It changes `strategy.beta`, `version` and `previousVersion` and
//! nothing else: caps, floors, exclusions, steps and the experiment are the merchant's.

use crate::beta::fit_beta;
use crate::estimate::{Estimate, Expected, Noise, Tally};
use pricelet::policy::{Policy, Strategy};
use pricelet::{Code, Error, Result};
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// A new version with β moved towards β̂ (at most `maxBetaStep`).
    Propose,
    /// A new version at `betaMin`: the interval says no discount pays.
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
    /// The new policy (Propose, Retreat).
    pub policy: Option<Value>,
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

fn next_version(version: &str) -> String {
    match version
        .rsplit_once("+loop.")
        .and_then(|(base, n)| Some((base, n.parse::<u64>().ok()?)))
    {
        Some((base, n)) => format!("{base}+loop.{}", n.saturating_add(1)),
        None => format!("{version}+loop.1"),
    }
}

/// Decides on the evidence in `tally` (reports made under `policy`'s reporting setup, any of its
/// loop versions) whether to replace `policy`, and returns the decision with the new policy.
pub fn propose(policy: &Policy, tally: &Tally, now_ms: i64) -> Result<Proposal> {
    let expected = Expected::from_policy(policy)?;
    let beta_before = match policy.strategy() {
        Strategy::ExpectedProfit { beta } => *beta,
        _ => f64::NAN,
    };
    if !tally.fits_domain(&expected.domain) {
        return Err(Error::at(Code::InvalidReport, "tally", format!("the tally does not fit the reporting domain of policy {} ({} cells), or its counts are impossible: pass the tally of this policy's reports", policy.version, expected.domain.size())));
    }
    let mut evidence = Evidence {
        reports: tally.n,
        explore_reports: 0.0,
        beta: None,
        fit_problem: None,
        break_even_beta: break_even_beta(policy),
        first_day: tally.first_day.clone(),
        last_day: tally.last_day.clone(),
    };
    if tally.n > 0 {
        let f = tally.frequencies(Noise::Ldp(expected.mechanism, expected.epsilon));
        match fit_beta(&f, &expected.domain) {
            Ok(fit) if expected.domain.version() == pricelet::ldp::DOMAIN_VERSION_LEARNING => {
                evidence.explore_reports = fit.reports_used;
                evidence.beta = Some(fit.beta);
            }
            Ok(_) => evidence.fit_problem = Some("reports of domain version 1 do not separate explore quotes: β is not identified (add reporting.interestBuckets)".into()),
            Err(e) => evidence.fit_problem = Some(e.message),
        }
    }
    let decision = |action: Action, reason: String, beta_after: f64| -> Result<Proposal> {
        let changed = matches!(action, Action::Propose | Action::Retreat);
        let next = changed.then(|| next_version(&policy.version));
        let policy_json = match &next {
            Some(version) => Some(with_beta(policy, version, beta_after, now_ms)?),
            None => None,
        };
        Ok(Proposal {
            at: now_ms,
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
    if tally.n < rules.min_reports {
        return decision(
            Action::Hold,
            format!(
                "{} reports of the {} learning.minReports asks for",
                tally.n, rules.min_reports
            ),
            beta_before,
        );
    }
    let Some(b) = evidence.beta else {
        let why = evidence.fit_problem.clone().unwrap_or_default();
        return decision(
            Action::Hold,
            format!("β cannot be estimated yet: {why}"),
            beta_before,
        );
    };
    let interval = format!("β̂ = {:.2} [{:.2}, {:.2}]", b.estimate, b.lo, b.hi);
    if b.hi < evidence.break_even_beta {
        if beta_before <= rules.beta_min {
            return decision(Action::Hold, format!("{interval} is below the break-even β {:.2}: discounts do not pay, and β is already at learning.betaMin", evidence.break_even_beta), beta_before);
        }
        // A retreat skips the step bound: a smaller β never gives away more.
        return decision(Action::Retreat, format!("{interval} is entirely below the break-even β {:.2}: discounts do not pay; β goes to learning.betaMin = {}", evidence.break_even_beta, rules.beta_min), rules.beta_min);
    }
    if b.hi - b.lo > rules.max_interval_width {
        return decision(
            Action::Hold,
            format!(
                "{interval} is {:.2} wide, wider than learning.maxIntervalWidth = {}",
                b.hi - b.lo,
                rules.max_interval_width
            ),
            beta_before,
        );
    }
    if b.covers(beta_before) {
        return decision(
            Action::Hold,
            format!("{interval} covers the current β = {beta_before}: no evidence against it"),
            beta_before,
        );
    }
    let target = b.estimate.clamp(rules.beta_min, rules.beta_max);
    let moved =
        beta_before + (target - beta_before).clamp(-rules.max_beta_step, rules.max_beta_step);
    // Two decimals: a readable policy, and never past the bound by rounding.
    let rounded = (moved * 100.0).round() / 100.0;
    let next = if (rounded - beta_before).abs() > rules.max_beta_step {
        moved
    } else {
        rounded
    }
    .clamp(rules.beta_min, rules.beta_max);
    if next == beta_before {
        return decision(
            Action::Hold,
            format!(
                "{interval} lies outside the learning range [{}, {}] and β is already at its edge",
                rules.beta_min, rules.beta_max
            ),
            beta_before,
        );
    }
    decision(Action::Propose, format!("{interval} excludes the current β = {beta_before}: β moves towards β̂ by at most learning.maxBetaStep = {}", rules.max_beta_step), next)
}

/// `policy` with a new β and version; quotes of the old version verify for `graceMs`.
fn with_beta(policy: &Policy, version: &str, beta: f64, now_ms: i64) -> Result<Value> {
    let grace = policy.learning.as_ref().map_or(0, |l| l.grace_ms);
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

    fn decide(p: &Policy, beta: f64, n: u64) -> Proposal {
        propose(p, &tally_with(p, beta, n), NOW).unwrap()
    }

    #[test]
    fn a_clear_signal_moves_beta_by_at_most_the_step_and_touches_nothing_else() {
        let p = policy(exact);
        let d = decide(&p, 9.0, 3_000_000);
        assert_eq!(d.action, Action::Propose, "{}", d.reason);
        let est = d.evidence.beta.unwrap();
        assert!(est.covers(9.0) && !est.covers(4.0), "{est:?}");
        assert_eq!(d.beta_after, 6.0, "4 + maxBetaStep 2");
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
        // The next proposal from the new version numbers on.
        let d2 = decide(&next, 9.0, 3_000_000);
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
        let d = propose(&p, &tally_with(&p, 9.0, 1_485), NOW).unwrap();
        assert_eq!(d.action, Action::Hold);
        assert!(d.reason.contains("minReports"), "{}", d.reason);
        // At the minimum, with a width limit below what 1,500 reports give, the width rule decides.
        let strict = policy(|v| {
            exact(v);
            v["learning"]["minReports"] = json!(1_500);
            v["learning"]["maxIntervalWidth"] = json!(0.5);
        });
        let d = propose(&strict, &tally_with(&strict, 9.0, 1_500), NOW).unwrap();
        assert_eq!(d.action, Action::Hold);
        assert!(d.reason.contains("maxIntervalWidth"), "{}", d.reason);
        let b = d.evidence.beta.unwrap();
        // A limit just above that width lets the same evidence through.
        let wide = policy(|v| {
            exact(v);
            v["learning"]["minReports"] = json!(1_500);
            v["learning"]["maxIntervalWidth"] = json!(b.hi - b.lo + 0.01);
        });
        assert_eq!(decide(&wide, 9.0, 1_500).action, Action::Propose);
        let narrow = policy(|v| {
            exact(v);
            v["learning"]["minReports"] = json!(1_500);
            v["learning"]["maxIntervalWidth"] = json!(b.hi - b.lo - 0.01);
        });
        assert_eq!(decide(&narrow, 9.0, 1_500).action, Action::Hold);
    }

    #[test]
    fn when_discounts_do_not_pay_the_loop_retreats_to_list_price_at_once() {
        let p = policy(|v| {
            exact(v);
            v["strategy"]["beta"] = json!(10);
        });
        let d = decide(&p, 0.0, 3_000_000);
        assert_eq!(
            (d.action, d.beta_after),
            (Action::Retreat, 0.0),
            "{}",
            d.reason
        );
        // A retreat skips the step bound (10 → 0), and at β = 0 the strategy offers no discount.
        let back = Policy::from_json(d.policy.as_ref().unwrap()).unwrap();
        assert_eq!(back.learning.as_ref().unwrap().beta_min, 0.0);
        // Already at betaMin: nothing more to do.
        let again = decide(&back, 0.0, 3_000_000);
        assert_eq!(again.action, Action::Hold, "{}", again.reason);
        // An interval reaching the break-even β is not a retreat.
        let be = break_even_beta(&p);
        assert!((2.0..3.0).contains(&be), "{be}");
        let near = decide(&p, be, 3_000_000);
        assert_ne!(near.action, Action::Retreat, "{}", near.reason);
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
        assert_eq!(propose(&plain, &t, NOW).unwrap().action, Action::Stopped);
    }

    #[test]
    fn a_tally_of_another_domain_is_refused() {
        let p = policy(exact);
        let v1 = Tally::for_domain(&Domain::for_policy(&Policy::default_policy()));
        let e = propose(&p, &v1, NOW).unwrap_err();
        assert!(e.message.contains("does not fit"), "{}", e.message);
    }
}
