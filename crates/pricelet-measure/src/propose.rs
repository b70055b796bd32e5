//! The policy proposer of the learning loop: from the tallies of explore reports, β̂ with its
//! interval; a new policy version only on sufficient evidence and within the policy's `learning`
//! guardrails. It changes `strategy.beta`, `version` and `previousVersion` and nothing else: caps,
//! floors, exclusions, steps and the experiment are the merchant's.
//!
//! Anyone can send well-formed fake reports, so no change rests on one burst of them: the reports
//! come in collection rounds (the reports received between two runs of the proposer), and a change
//! is made only if the same decision — the same direction — is reached with any single round left
//! out. A burst inside one round can then never move β; an attacker must keep sending through
//! several rounds, at the same rate as the honest devices he outweighs.

use crate::beta::fit_beta;
use crate::estimate::{Estimate, Expected, Noise, Tally};
use pricelet::limits::MAX_NAME_LEN;
use pricelet::policy::{Learning, Policy, PreviousVersion, Strategy};
use pricelet::{Code, Error, Result};
use serde::{Serialize, Serializer};

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
    #[serde(serialize_with = "policy_document")]
    pub policy: Option<Policy>,
}

/// Written as the policy document (`Policy::to_json`, keys sorted) that callers deploy and compare.
fn policy_document<S: Serializer>(
    policy: &Option<Policy>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    policy.as_ref().map(Policy::to_json).serialize(s)
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
        Ok(fit) if expected.domain.version() == pricelet::ldp::DomainVersion::Learning => {
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
        let next_policy = match &next {
            Some(version) => Some(with_beta(policy, version.clone(), beta_after, turn.now_ms)?),
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
            policy: next_policy,
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
fn with_beta(policy: &Policy, version: String, beta: f64, now_ms: i64) -> Result<Policy> {
    let previous = PreviousVersion {
        version: policy.version.clone(),
        accept_until: now_ms.saturating_add(policy.grace_when_replaced_ms()),
    };
    policy.with_beta(beta, version, Some(previous))
}

#[cfg(test)]
mod tests;
