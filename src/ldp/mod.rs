//! Measurement reports under local differential privacy (docs/measurement.md).
//!
//! With consent, a device may send one small report per quote shown, once its outcome is known: which
//! experiment arm the quote came from, which of the policy's discount steps it carried, whether it
//! converted, and whether the shopper was new or returning. The true tuple is one value of the domain
//! D = arm × step × converted × segment (40 values under the default policy) and is randomized on
//! the device before it leaves, with ε per report:
//!
//! * **OUE** (optimized unary encoding, Wang et al., USENIX Security 2017): the value becomes a bit
//!   vector of |D| bits; the true bit is kept with p = 1/2, every other bit is set with q = 1/(e^ε + 1).
//!   For any two inputs and any output the probability ratio is at most p(1−q) / ((1−p)q) = e^ε.
//! * **GRR** (generalized randomized response): the true value with p = e^ε / (e^ε + |D| − 1), else one
//!   of the other |D| − 1 values uniformly; the ratio is p / q = e^ε.
//!
//! A policy with `reporting.interestBuckets` (the learning loop) uses domain version 2 instead: only
//! explore quotes are reported, the drawn step in the clear and (converted, interest bucket)
//! randomized ([`DomainVersion::Learning`]).
//!
//! Per local day a device spends at most the policy's `dailyEpsilon` (sequential composition: k reports
//! of ε each cost k·ε); beyond that no report is made and the reason says so. A report carries no
//! identifier, no item id and no time finer than the local day. Randomness comes in as a parameter
//! ([`Random`]): tests and simulations pass a seeded generator, the device a cryptographic one.
//!
//! The parts: [`domain`] (what a report can say and its encoding), [`report`] (the randomizers and
//! the report), [`tuple`] (a shown quote's true value), [`day`] (the local day), [`budget`] (the
//! daily ε); here, the device's decision to report.

mod budget;
pub mod day;
pub mod domain;
pub mod report;
pub mod tuple;

pub use budget::DailyBudget;
pub use day::{is_day, latest_day};
pub use domain::{Arm, Domain, DomainVersion, Group, Segment, Tuple, MAX_INTEREST_BUCKETS};
pub use report::{randomize, Payload, Randomized, Report};
pub use tuple::{nearest_step, segment_at, step_index, tuple_for, NotReportable};

pub use crate::policy::Mechanism;
use crate::policy::Policy;
pub use crate::random::{below, uniform, Random};
use crate::time::{local_day, Clock};
use serde::Serialize;

crate::named_enum! {
    /// Why no report was made (public strings).
    pub enum Refusal {
        NoConsent = "no_consent",
        OptedOut = "opted_out",
        ReportingOff = "reporting_off",
        NotInExperiment = "not_in_experiment",
        OtherPolicy = "policy_version_mismatch",
        DailyBudget = "daily_budget_exhausted",
    }
}

/// What `Pricer::report` did: a report to send, or why there is none; and today's budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportOutcome {
    pub report: Option<Report>,
    pub reason: Option<Refusal>,
    pub message: Option<String>,
    /// The local day the budget refers to.
    pub day: String,
    pub epsilon_spent_today: f64,
    pub epsilon_left_today: f64,
}

impl ReportOutcome {
    pub fn refused(why: Refusal, message: impl Into<String>, day: String) -> ReportOutcome {
        ReportOutcome {
            report: None,
            reason: Some(why),
            message: Some(message.into()),
            day,
            epsilon_spent_today: 0.0,
            epsilon_left_today: 0.0,
        }
    }
}

/// A report of `tuple` if `writer`'s device has budget left today, spending it; or why not.
pub fn report_with_budget<R: Random + ?Sized>(
    policy: &Policy,
    tuple: Result<Tuple, NotReportable>,
    budget: &mut DailyBudget,
    writer: &str,
    clock: &Clock,
    rng: &mut R,
) -> ReportOutcome {
    let day = local_day(clock);
    let Some(cfg) = &policy.reporting else {
        return ReportOutcome::refused(
            Refusal::ReportingOff,
            "the policy has no `reporting` section: measurement reports are off",
            day,
        );
    };
    let spent = budget.spent_on(&day);
    let with_budget = |mut o: ReportOutcome, spent: f64| {
        o.epsilon_spent_today = spent;
        o.epsilon_left_today = (cfg.daily_epsilon - spent).max(0.0);
        o
    };
    let tuple = match tuple {
        Ok(t) => t,
        Err(why) => {
            return with_budget(
                ReportOutcome::refused(why.refusal(), why.to_string(), day.clone()),
                spent,
            )
        }
    };
    if !cfg.fits(spent) {
        let msg = format!(
            "this device has spent ε = {spent} of its daily ε = {} on reports today ({day}); a report costs ε = {}. Reports resume tomorrow.",
            cfg.daily_epsilon, cfg.epsilon
        );
        return with_budget(
            ReportOutcome::refused(Refusal::DailyBudget, msg, day.clone()),
            spent,
        );
    }
    let domain = Domain::for_policy(policy);
    let report = Report::randomized(
        day.clone(),
        &domain,
        domain.encode(&tuple),
        cfg.mechanism,
        cfg.epsilon,
        rng,
    );
    budget.spend(&day, writer, cfg.epsilon);
    let spent = budget.spent_on(&day);
    with_budget(
        ReportOutcome {
            report: Some(report),
            reason: None,
            message: None,
            day,
            epsilon_spent_today: 0.0,
            epsilon_left_today: 0.0,
        },
        spent,
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// The lab's generator (SplitMix64) as a seeded stream: the core takes any `Random`.
    pub(crate) fn seeded(seed: u64) -> impl FnMut() -> u64 {
        use rand_core::{Rng as _, SeedableRng};
        let mut g = rand_xoshiro::SplitMix64::seed_from_u64(seed);
        move || g.next_u64()
    }

    /// The default policy with reports on.
    pub(crate) fn policy() -> Policy {
        let mut v: serde_json::Value =
            serde_json::from_str(crate::policy::DEFAULT_POLICY_JSON).unwrap();
        v["reporting"] = json!({"epsilon": 2, "dailyEpsilon": 5});
        Policy::from_json(&v).unwrap()
    }

    #[test]
    fn reports_per_day_is_what_the_daily_budget_lets_through() {
        // The collector reads the count from the policy; a device spends report by report. The two
        // agree, sums of floats included (ε 0.1 × 3 = 0.30000000000000004 fits a daily ε of 0.3,
        // where ⌊0.3 / 0.1⌋ = 2).
        let tuple = Tuple {
            arm: Arm::Treatment,
            step: 0,
            converted: false,
            group: Group::Segment(Segment::New),
        };
        let clock = Clock {
            now_ms: 1_795_995_000_000,
            utc_offset_minutes: 0,
        };
        let mut rng = seeded(3);
        for (epsilon, daily) in [
            (2.0, 8.0),
            (2.0, 5.0),
            (0.1, 0.3),
            (0.1, 0.7),
            (0.7, 2.1),
            (1.0, 1.0),
            (0.3, 0.9),
        ] {
            let mut v: serde_json::Value =
                serde_json::from_str(crate::policy::DEFAULT_POLICY_JSON).unwrap();
            v["reporting"] = json!({ "epsilon": epsilon, "dailyEpsilon": daily });
            let policy = Policy::from_json(&v).unwrap();
            let mut budget = crate::ldp::DailyBudget::default();
            let mut sent = 0;
            while report_with_budget(&policy, Ok(tuple), &mut budget, "w", &clock, &mut rng)
                .report
                .is_some()
            {
                sent += 1;
                assert!(sent < 1000);
            }
            assert_eq!(
                policy.reporting.as_ref().unwrap().reports_per_day(),
                sent,
                "ε {epsilon}, daily ε {daily}"
            );
        }
        assert_eq!((0.3f64 / 0.1).floor(), 2.0, "the naive count is one short");
    }
}
