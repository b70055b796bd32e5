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
//! randomized ([`DOMAIN_VERSION_LEARNING`]).
//!
//! Per local day a device spends at most the policy's `dailyEpsilon` (sequential composition: k reports
//! of ε each cost k·ε); beyond that no report is made and the reason says so. A report carries no
//! identifier, no item id and no time finer than the local day. Randomness comes in as a parameter
//! ([`Random`]): tests and simulations pass a seeded generator, the device a cryptographic one.

mod budget;

pub use budget::DailyBudget;

use crate::behaviour::{current_session, Event};

use crate::experiment::Variant;
pub use crate::policy::Mechanism;
use crate::policy::{Percent, Policy};
use crate::quote::{Quote, Reason};
pub use crate::random::{below, uniform, Random};
use crate::time::{local_day, Clock};
use serde::{Deserialize, Serialize};

/// Version 1 of the report format: arm × step × converted × segment.
pub const DOMAIN_VERSION: u32 = 1;
/// Version 2 (a policy with `reporting.interestBuckets`, the learning loop): explore quotes only,
/// step × converted × interest bucket. An explore quote's discount is drawn at random by the device
/// (uniformly among the item's feasible prices), independently of the shopper's behaviour, so the
/// step is sent in the clear and only (converted, bucket) — 2·B values — is randomized with ε.
/// Within a bucket, conversion by step is then a randomized experiment, which identifies β
/// (`pricelet_measure::fit_beta`).
pub const DOMAIN_VERSION_LEARNING: u32 = 2;
/// At most this many interest buckets (each one multiplies the domain).
pub const MAX_INTEREST_BUCKETS: usize = 8;

/// The experiment arm of a report. Explore quotes are treatment quotes; domain version 2 reports
/// them as their own arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arm {
    Control,
    Treatment,
    Explore,
}

impl Arm {
    /// The A/B arm: explore quotes are part of the treatment arm.
    pub fn experiment_arm(self) -> Arm {
        match self {
            Arm::Explore => Arm::Treatment,
            a => a,
        }
    }
}

/// New or returning shopper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Segment {
    New,
    Returning,
}

/// Who the shopper is, coarsely: the segment (domain version 1) or the interest bucket (version 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Group {
    Segment(Segment),
    /// Index of the bucket: the number of `interestBuckets` thresholds at or below the interest.
    Interest(usize),
}

/// One true (unrandomized) value of the domain. It never leaves the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tuple {
    pub arm: Arm,
    /// Index into `[0, discountSteps...]`: 0 = no discount.
    pub step: usize,
    pub converted: bool,
    pub group: Group,
}

/// The report domain of a policy: arm × step (0 and the policy's discount steps) × converted × group.
/// Encoding order: `index = ((arm · (S + 1) + step) · 2 + converted) · G + group` with no = 0,
/// yes = 1; version 1: control = 0, treatment = 1, group new = 0, returning = 1 (G = 2); version 2:
/// the explore arm only (arm = 0), group the interest bucket (G = thresholds + 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    /// Discounts of the steps in percent, starting with 0.
    pub steps_percent: Vec<f64>,
    /// The interest thresholds of version 2; empty for version 1.
    pub interest_buckets: Vec<f64>,
}

impl Domain {
    pub fn for_policy(policy: &Policy) -> Domain {
        let buckets = policy
            .reporting
            .as_ref()
            .and_then(|r| r.interest_buckets.clone());
        Domain {
            interest_buckets: buckets.unwrap_or_default(),
            ..Domain::from_steps(&policy.discount_steps)
        }
    }

    /// The version-1 domain of these discount steps.
    pub fn from_steps(steps: &[Percent]) -> Domain {
        let mut steps_percent = vec![0.0];
        steps_percent.extend(steps.iter().map(|s| s.0.as_percent()));
        Domain {
            steps_percent,
            interest_buckets: Vec::new(),
        }
    }

    pub fn version(&self) -> u32 {
        if self.interest_buckets.is_empty() {
            DOMAIN_VERSION
        } else {
            DOMAIN_VERSION_LEARNING
        }
    }

    pub fn steps(&self) -> usize {
        self.steps_percent.len()
    }

    /// Arms in the domain: control and treatment (version 1), explore only (version 2).
    pub fn arms(&self) -> usize {
        if self.interest_buckets.is_empty() {
            2
        } else {
            1
        }
    }

    /// How many values a report randomizes over: the whole domain (version 1), or converted ×
    /// bucket within the report's step (version 2: the step travels in the clear).
    pub fn randomized_size(&self) -> usize {
        if self.interest_buckets.is_empty() {
            self.size()
        } else {
            2 * self.groups()
        }
    }

    /// Splits a domain index into the clear step (version 2) and the index that is randomized.
    pub fn split(&self, index: usize) -> (Option<usize>, usize) {
        if self.interest_buckets.is_empty() {
            (None, index)
        } else {
            let block = self.randomized_size();
            (Some(index / block), index % block)
        }
    }

    /// Values of the last coordinate: segments (version 1) or interest buckets (version 2).
    pub fn groups(&self) -> usize {
        if self.interest_buckets.is_empty() {
            2
        } else {
            self.interest_buckets.len() + 1
        }
    }

    pub fn size(&self) -> usize {
        self.arms() * self.steps() * 2 * self.groups()
    }

    /// The bucket of an interest: how many thresholds are at or below it.
    pub fn bucket(&self, interest: f64) -> usize {
        self.interest_buckets
            .iter()
            .take_while(|t| **t <= interest)
            .count()
    }

    pub fn encode(&self, t: &Tuple) -> usize {
        let arm = match t.arm {
            Arm::Control | Arm::Explore => 0,
            Arm::Treatment => 1,
        };
        let group = match t.group {
            Group::Segment(s) => usize::from(s == Segment::Returning),
            Group::Interest(b) => b,
        };
        ((arm * self.steps() + t.step) * 2 + usize::from(t.converted)) * self.groups() + group
    }

    pub fn decode(&self, index: usize) -> Tuple {
        let g = index % self.groups();
        let group = if self.interest_buckets.is_empty() {
            Group::Segment(if g == 1 {
                Segment::Returning
            } else {
                Segment::New
            })
        } else {
            Group::Interest(g)
        };
        let rest = index / self.groups();
        let converted = rest % 2 == 1;
        let rest = rest / 2;
        Tuple {
            arm: match rest / self.steps() {
                _ if !self.interest_buckets.is_empty() => Arm::Explore,
                0 => Arm::Control,
                _ => Arm::Treatment,
            },
            step: rest % self.steps(),
            converted,
            group,
        }
    }

    /// What a report's `domain` field says: the values of each coordinate, in encoding order.
    pub fn description(&self) -> String {
        let steps: Vec<String> = self.steps_percent.iter().map(|s| format!("{s}")).collect();
        if self.interest_buckets.is_empty() {
            return format!(
                "arm=control,treatment;step%={};converted=no,yes;segment=new,returning",
                steps.join(",")
            );
        }
        format!(
            "arm=explore;step%={};converted=no,yes;interest={}",
            steps.join(","),
            self.bucket_names().join(",")
        )
    }

    /// The interest buckets as ranges, e.g. `0-0.1`, `0.1-0.3`, `0.3-1`.
    pub fn bucket_names(&self) -> Vec<String> {
        let mut edges = vec![0.0];
        edges.extend(&self.interest_buckets);
        edges.push(1.0);
        edges
            .windows(2)
            .map(|w| format!("{}-{}", w[0], w[1]))
            .collect()
    }
}

/// The randomized content of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// OUE: the indices of the bits that are 1.
    Bits(Vec<usize>),
    /// GRR: the reported value.
    Value(usize),
}

/// Randomizes the true value `index` of a domain of `size` values with ε.
pub fn randomize<R: Random + ?Sized>(
    index: usize,
    size: usize,
    mechanism: Mechanism,
    epsilon: f64,
    rng: &mut R,
) -> Payload {
    let (p, q) = mechanism.probabilities(epsilon, size);
    match mechanism {
        Mechanism::Oue => Payload::Bits(
            (0..size)
                .filter(|&j| uniform(rng) < if j == index { p } else { q })
                .collect(),
        ),
        Mechanism::Grr => {
            if uniform(rng) < p {
                Payload::Value(index)
            } else {
                let other = below(rng, size - 1);
                Payload::Value(if other >= index { other + 1 } else { other })
            }
        }
    }
}

/// What leaves the device: nothing else. No identifier, no item, no time finer than the local day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Report {
    /// The shopper's local day, `YYYY-MM-DD`.
    pub day: String,
    pub mechanism: Mechanism,
    /// ε of this report.
    pub epsilon: f64,
    /// The domain's values in encoding order ([`Domain::description`]).
    pub domain: String,
    pub domain_version: u32,
    /// Version 2: the explore quote's discount step, in the clear (drawn at random by the device).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// OUE: one character `0`/`1` per randomized value, in encoding order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bits: Option<String>,
    /// GRR: the reported value's index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<usize>,
}

impl Report {
    pub fn new(
        day: String,
        domain: &Domain,
        mechanism: Mechanism,
        epsilon: f64,
        payload: &Payload,
    ) -> Report {
        let (bits, value) = match payload {
            Payload::Bits(ones) => {
                let mut s = vec![b'0'; domain.randomized_size()];
                for &j in ones {
                    s[j] = b'1';
                }
                (Some(String::from_utf8(s).unwrap_or_default()), None)
            }
            Payload::Value(v) => (None, Some(*v)),
        };
        Report {
            day,
            mechanism,
            epsilon,
            domain: domain.description(),
            domain_version: domain.version(),
            step: None,
            bits,
            value,
        }
    }

    /// The report of the true value `index`: randomized with ε over the domain's randomized values
    /// (version 2: within the step, which is sent as it is).
    pub fn randomized<R: Random + ?Sized>(
        day: String,
        domain: &Domain,
        index: usize,
        mechanism: Mechanism,
        epsilon: f64,
        rng: &mut R,
    ) -> Report {
        let (step, local) = domain.split(index);
        let payload = randomize(local, domain.randomized_size(), mechanism, epsilon, rng);
        Report {
            step,
            ..Report::new(day, domain, mechanism, epsilon, &payload)
        }
    }

    /// The payload, checked against a domain of `size` values and the report's own mechanism.
    pub fn payload(&self, size: usize) -> crate::Result<Payload> {
        match (self.mechanism, &self.bits, self.value) {
            (Mechanism::Oue, Some(bits), None) => {
                if bits.len() != size || !bits.bytes().all(|b| b == b'0' || b == b'1') {
                    return Err(invalid(format!(
                        "`bits` must be {size} characters of 0 and 1 (one per domain value)"
                    )));
                }
                Ok(Payload::Bits(
                    bits.bytes()
                        .enumerate()
                        .filter(|(_, b)| *b == b'1')
                        .map(|(j, _)| j)
                        .collect(),
                ))
            }
            (Mechanism::Grr, None, Some(v)) if v < size => Ok(Payload::Value(v)),
            (Mechanism::Grr, None, Some(v)) => Err(invalid(format!(
                "`value` {v} is outside the domain (0 to {})",
                size - 1
            ))),
            (m, _, _) => Err(invalid(format!(
                "a {} report carries exactly one of `bits` (oue) or `value` (grr): `{}`",
                m.as_str(),
                if m == Mechanism::Oue { "bits" } else { "value" }
            ))),
        }
    }
}

/// A report that does not fit: `invalid_report`.
fn invalid(message: String) -> crate::Error {
    crate::Error::new(crate::Code::InvalidReport, message)
}

/// Whether `s` is a real calendar day `YYYY-MM-DD` from the year 2000 on (not `2026-13-45`).
pub fn is_day(s: &str) -> bool {
    let shaped = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shaped {
        return false;
    }
    let (Ok(y), Ok(m), Ok(d)) = (
        s[..4].parse::<i64>(),
        s[5..7].parse::<u32>(),
        s[8..].parse::<u32>(),
    ) else {
        return false;
    };
    y >= 2000
        && (1..=12).contains(&m)
        && d >= 1
        && crate::time::civil_from_days(crate::time::days_from_civil(y, m, d)) == (y, m, d)
}

/// The latest local day anywhere on Earth at `now_ms` (UTC+14): no genuine report is dated later.
pub fn latest_day(now_ms: i64) -> String {
    let (y, m, d) =
        crate::time::civil_from_days((now_ms + 14 * 3_600_000).div_euclid(crate::time::DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

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

/// The policy step a quote's actual discount belongs to: the largest step at or below it (exact
/// integers). A discounted quote is at least step 1, because rounding to a price ending can leave a
/// step a hair under its nominal percent (a "5 %" step at 4.99 % off is still that step's offer).
pub fn step_index(discount_minor: i64, list_minor: i64, steps: &[Percent]) -> usize {
    if discount_minor <= 0 || list_minor <= 0 {
        return 0;
    }
    let off = i128::from(discount_minor) * 1_000_000;
    let at_or_below = steps
        .iter()
        .take_while(|s| i128::from(s.ppm()) * i128::from(list_minor) <= off)
        .count();
    at_or_below.max(1)
}

/// New or returning when the quote was issued: returning if the log holds anything (an earlier
/// session, a purchase) from before the session the quote was shown in.
/// The policy step nearest to a discount (0 = none). Explore prices are the steps rounded to the
/// nearest allowed ending (a 20 % step of 100.00 is 80.49 with `.49`/`.99` endings), so the nearest
/// step is the one the device drew — where "the largest step at or below" would call it 15 %.
pub fn nearest_step(discount_minor: i64, list_minor: i64, steps: &[Percent]) -> usize {
    if discount_minor <= 0 || list_minor <= 0 {
        return 0;
    }
    let off = i128::from(discount_minor) * 1_000_000;
    let distance = |ppm: i64| (i128::from(ppm) * i128::from(list_minor) - off).abs();
    (0..=steps.len())
        .min_by_key(|&s| distance(if s == 0 { 0 } else { steps[s - 1].ppm() }))
        .unwrap_or(0)
}

pub fn segment_at(events: &[Event], at_ms: i64) -> Segment {
    let upto = events.partition_point(|e| e.at_ms() <= at_ms);
    let session = current_session(&events[..upto], at_ms);
    let start = session.first().map_or(at_ms, Event::at_ms);
    if events[..upto].iter().any(|e| e.at_ms() < start) {
        Segment::Returning
    } else {
        Segment::New
    }
}

/// The tuple a quote's report encodes, or why it cannot be reported.
pub fn tuple_for(
    policy: &Policy,
    quote: &Quote,
    converted: bool,
    events: &[Event],
) -> std::result::Result<Tuple, (Refusal, String)> {
    if quote.policy_version != policy.version {
        return Err((
            Refusal::OtherPolicy,
            format!(
                "the quote was made under policy {}, reports use the steps of policy {}",
                quote.policy_version, policy.version
            ),
        ));
    }
    let domain = Domain::for_policy(policy);
    let learning = domain.version() == DOMAIN_VERSION_LEARNING;
    if learning && quote.reason != Reason::Explore {
        return Err((
            Refusal::NotInExperiment,
            format!("policy {} learns from explore quotes only (reporting.interestBuckets): this quote is {}, not explore", policy.version, quote.reason.as_str()),
        ));
    }
    let arm = match quote.variant {
        Variant::Control => Arm::Control,
        Variant::Treatment if learning => Arm::Explore,
        Variant::Treatment => Arm::Treatment,
        Variant::None => {
            return Err((
                Refusal::NotInExperiment,
                format!(
                    "the quote is not part of the experiment (reason {}, variant none)",
                    quote.reason.as_str()
                ),
            ))
        }
    };
    let group = if learning {
        // Quotes in the experiment come from the model's decision, so they carry the interest.
        let Some(interest) = quote.interest else {
            return Err((
                Refusal::NotInExperiment,
                "the quote carries no interest, so it has no interest bucket (the model did not score it)".into(),
            ));
        };
        Group::Interest(domain.bucket(interest))
    } else {
        Group::Segment(segment_at(events, quote.issued_at))
    };
    let step = if learning {
        nearest_step(
            quote.discount_minor,
            quote.list_price_minor,
            &policy.discount_steps,
        )
    } else {
        step_index(
            quote.discount_minor,
            quote.list_price_minor,
            &policy.discount_steps,
        )
    };
    Ok(Tuple {
        arm,
        step,
        converted,
        group,
    })
}

/// A report of `tuple` if `writer`'s device has budget left today, spending it; or why not.
pub fn report_with_budget<R: Random + ?Sized>(
    policy: &Policy,
    tuple: std::result::Result<Tuple, (Refusal, String)>,
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
        Err((why, msg)) => {
            return with_budget(ReportOutcome::refused(why, msg, day.clone()), spent)
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
mod tests {
    use super::*;

    /// SplitMix64 (the lab's generator) as a closure: the core takes any `Random`.
    fn seeded(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
    }
    use serde_json::json;

    fn policy() -> Policy {
        let mut v: serde_json::Value =
            serde_json::from_str(crate::policy::DEFAULT_POLICY_JSON).unwrap();
        v["reporting"] = json!({"epsilon": 2, "dailyEpsilon": 5});
        Policy::from_json(&v).unwrap()
    }

    #[test]
    fn the_encoding_is_a_bijection() {
        let d = Domain::for_policy(&policy());
        assert_eq!(d.size(), 40);
        for i in 0..d.size() {
            assert_eq!(d.encode(&d.decode(i)), i);
        }
        assert_eq!(
            d.description(),
            "arm=control,treatment;step%=0,5,10,15,20;converted=no,yes;segment=new,returning"
        );
    }

    #[test]
    fn steps_are_the_largest_at_or_below_the_actual_discount() {
        let steps = &policy().discount_steps; // 5, 10, 15, 20
        assert_eq!(step_index(0, 4999, steps), 0);
        assert_eq!(step_index(250, 4999, steps), 1, "5.001 % -> 5 %");
        assert_eq!(
            step_index(249, 4999, steps),
            1,
            "4.98 %: still the 5 % offer"
        );
        assert_eq!(step_index(1000, 10000, steps), 2, "exactly 10 %");
        assert_eq!(step_index(999, 10000, steps), 1, "9.99 % -> 5 %");
        assert_eq!(step_index(1951, 10000, steps), 3, "19.51 % -> 15 %");
        assert_eq!(step_index(2000, 10000, steps), 4);
    }

    #[test]
    fn grr_never_reports_out_of_range_and_keeps_the_truth_at_rate_p() {
        let mut rng = seeded(3);
        let (p, _) = Mechanism::Grr.probabilities(2.0, 40);
        let n = 100_000;
        let mut kept = 0;
        for _ in 0..n {
            match randomize(7, 40, Mechanism::Grr, 2.0, &mut rng) {
                Payload::Value(v) => {
                    assert!(v < 40);
                    kept += usize::from(v == 7);
                }
                Payload::Bits(_) => unreachable!(),
            }
        }
        let rate = kept as f64 / n as f64;
        assert!(
            (rate - p).abs() < 4.0 * (p * (1.0 - p) / n as f64).sqrt(),
            "{rate} vs {p}"
        );
    }

    #[test]
    fn report_payloads_round_trip_and_bad_ones_are_named() {
        let d = Domain::for_policy(&policy());
        let r = Report::new(
            "2026-11-29".into(),
            &d,
            Mechanism::Oue,
            2.0,
            &Payload::Bits(vec![0, 39]),
        );
        assert_eq!(r.payload(40), Ok(Payload::Bits(vec![0, 39])));
        assert!(r.payload(41).is_err());
        let mut bad = r.clone();
        bad.value = Some(3);
        assert!(bad.payload(40).unwrap_err().message.contains("exactly one"));
        let g = Report::new(
            "2026-11-29".into(),
            &d,
            Mechanism::Grr,
            2.0,
            &Payload::Value(40),
        );
        assert!(g
            .payload(40)
            .unwrap_err()
            .message
            .contains("outside the domain"));
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

    #[test]
    fn local_days_follow_the_offset() {
        // 2026-11-29 23:30 UTC is already 2026-11-30 in UTC+1.
        let now = 1_795_995_000_000; // 2026-11-29T23:30:00Z
        let utc = Clock {
            now_ms: now,
            utc_offset_minutes: 0,
        };
        let plus1 = Clock {
            now_ms: now,
            utc_offset_minutes: 60,
        };
        assert_eq!(local_day(&utc), "2026-11-29");
        assert_eq!(local_day(&plus1), "2026-11-30");
    }
}
