//! Reading reports into a tally (refusing any of another setup) and the read-out of a tally.

use crate::beta::{fit_beta, BetaFit};
use crate::estimate::*;
use pricelet::ldp::{self, Arm, DomainVersion, Group, Mechanism, Report, Segment};
use pricelet::wire::report::ReportReadError;
use pricelet::Result;
use serde::Serialize;

// ---------------------------------------------------------------------------------------------
// The read-out of a file of reports (`pricelet aggregate`).

/// Reads JSON-lines reports, refusing any that was not made under `expected`.
pub fn read_reports(text: &str, expected: &Expected) -> Result<Tally> {
    let mut tally = Tally::for_domain(&expected.domain);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r = Report::from_json_str(line).map_err(|e| match e {
            ReportReadError::NotAReport(e) => invalid(format!("line {}: not a measurement report ({e}); a report has exactly the fields day, mechanism, epsilon, domain, domainVersion and bits (oue) or value (grr)", i + 1)),
            e => invalid(format!("line {}: {}", i + 1, unread_report(&e, expected))),
        })?;
        add_report(&mut tally, &r, expected)
            .map_err(|e| invalid(format!("line {}: {}", i + 1, e.message)))?;
    }
    if tally.n == 0 {
        return Err(invalid("no reports: the file has no report lines".into()));
    }
    Ok(tally)
}

/// What a refused report's message ends with.
const REDO: &str = "aggregate the reports of one reporting setup at a time: pass the policy they were made under with --policy, or split the file by epsilon, mechanism and domain first";

/// The message for JSON that reading refused as a report. A domain version no format has reads as
/// any other version that is not the policy's.
pub fn unread_report(e: &ReportReadError, expected: &Expected) -> String {
    match e {
        ReportReadError::UnknownDomainVersion(n) => other_version(n, expected).message,
        e => e.to_string(),
    }
}

fn other_version(found: &dyn std::fmt::Display, expected: &Expected) -> pricelet::Error {
    invalid(format!(
        "domain version {found} is not the policy's version {} (version 2 when the policy has reporting.interestBuckets): {REDO}",
        expected.domain.version()
    ))
}

/// Adds one report to a running tally, refusing it (tally unchanged) unless it was made under
/// `expected` and the tally is one of the same domain.
pub fn add_report(tally: &mut Tally, r: &Report, expected: &Expected) -> Result<()> {
    let size = expected.domain.size();
    let description = expected.domain.description();
    if !tally.fits_domain(&expected.domain) {
        return Err(invalid(format!(
            "the tally (of {} cells) does not fit the policy {}'s domain of {size}, or its counts are impossible (edited?): start a new tally",
            tally.size, expected.policy_version
        )));
    }
    if r.mechanism() != expected.mechanism {
        return Err(invalid(format!(
            "the report was randomized with {} but the policy {} uses {}: {REDO}",
            r.mechanism().as_str(),
            expected.policy_version,
            expected.mechanism.as_str()
        )));
    }
    if r.epsilon != expected.epsilon {
        return Err(invalid(format!(
            "the report was made with ε = {} but the policy {} has reporting.epsilon = {}; de-biasing with the wrong ε gives wrong numbers: {REDO}",
            r.epsilon, expected.policy_version, expected.epsilon
        )));
    }
    if r.domain_version != expected.domain.version() {
        return Err(other_version(&r.domain_version, expected));
    }
    if r.domain != description {
        return Err(invalid(format!(
            "the report's domain {:?} differs from the policy's {description:?} (other discount steps?): {REDO}",
            r.domain
        )));
    }
    if !ldp::is_day(&r.day) {
        return Err(invalid(format!(
            "`day` must be a calendar date YYYY-MM-DD (from 2000 on), got {:?}",
            r.day
        )));
    }
    if let Some(latest) = expected
        .latest_day
        .as_deref()
        .filter(|l| r.day.as_str() > *l)
    {
        return Err(invalid(format!(
            "`day` {:?} is after today ({latest} is the latest local day anywhere): a device never dates a report in the future",
            r.day
        )));
    }
    let payload = r.payload(expected.domain.randomized_size())?;
    match (r.step, expected.domain.version()) {
        (None, DomainVersion::Segments) => tally.add(&payload),
        (Some(step), DomainVersion::Learning) if step < expected.domain.steps() => {
            tally.add_in_step(step, &payload)
        }
        (Some(step), DomainVersion::Learning) => {
            return Err(invalid(format!(
                "`step` {step} is not a step of the policy (0 to {})",
                expected.domain.steps() - 1
            )))
        }
        (None, _) => {
            return Err(invalid(
                "a report of domain version 2 carries its explore `step`".into(),
            ))
        }
        (Some(_), _) => {
            return Err(invalid(
                "a report of domain version 1 carries no `step`".into(),
            ))
        }
    }
    tally.note_day(&r.day);
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmRow {
    pub arm: Arm,
    /// Estimated number of reports from this arm.
    pub exposures: f64,
    pub conversion: Option<Estimate>,
    /// Revenue per shopper as a share of list price.
    pub revenue_share: Option<Estimate>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRow {
    pub step: usize,
    pub discount_percent: f64,
    pub exposures: f64,
    /// Share of the treatment arm's exposures at this step.
    pub treatment_share: Option<Estimate>,
    pub conversion: Option<Estimate>,
    pub fitted: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentRow {
    /// `new` or `returning` (domain version 1), or the interest bucket, e.g. `interest 0.1-0.3`.
    pub segment: String,
    pub exposures: f64,
    pub conversion: Option<Estimate>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Readout {
    pub reports: u64,
    pub first_day: Option<String>,
    pub last_day: Option<String>,
    pub policy: String,
    pub mechanism: Mechanism,
    pub epsilon: f64,
    pub domain: String,
    pub domain_version: DomainVersion,
    pub intervals: &'static str,
    pub arms: Vec<ArmRow>,
    /// Treatment − control conversion (percentage points as a fraction).
    pub incremental_conversion: Option<Estimate>,
    pub revenue_share_difference: Option<Estimate>,
    pub steps: Vec<StepRow>,
    pub segments: Vec<SegmentRow>,
    pub beta: Option<BetaFit>,
    pub beta_problem: Option<String>,
    pub policy_beta: Option<f64>,
    pub caveat: &'static str,
    /// De-biased report counts per cell, in the domain's encoding order.
    pub cell_counts: Vec<f64>,
}

pub fn readout(tally: &Tally, expected: &Expected) -> Readout {
    let domain = &expected.domain;
    let f = tally.frequencies(Noise::Ldp(expected.mechanism, expected.epsilon));
    let arms = [Arm::Control, Arm::Treatment]
        .into_iter()
        .map(|arm| {
            let (num, den) = arm_conversion(domain, arm);
            let (rnum, rden) = arm_revenue_share(domain, arm);
            ArmRow {
                arm,
                exposures: f.count(&den),
                conversion: f.ratio(&num, &den),
                revenue_share: f.ratio(&rnum, &rden),
            }
        })
        .collect();
    let (r1, d1) = arm_revenue_share(domain, Arm::Treatment);
    let (r0, d0) = arm_revenue_share(domain, Arm::Control);
    let (beta, beta_problem) = match fit_beta(&f, domain) {
        Ok(b) => (Some(b), None),
        Err(e) => (None, Some(e.message)),
    };
    let treatment = cells(domain, |t| t.arm.experiment_arm() == Arm::Treatment);
    let steps = (0..domain.steps())
        .map(|s| {
            let at = cells(domain, |t| t.step == s);
            StepRow {
                step: s,
                discount_percent: domain.steps_percent[s],
                exposures: f.count(&at),
                treatment_share: f.ratio(
                    &cells(domain, |t| {
                        t.arm.experiment_arm() == Arm::Treatment && t.step == s
                    }),
                    &treatment,
                ),
                conversion: f.ratio(&cells(domain, |t| t.step == s && t.converted), &at),
                fitted: beta.as_ref().and_then(|b| b.fitted[s]),
            }
        })
        .collect();
    let groups: Vec<(Group, String)> = if domain.version() == DomainVersion::Segments {
        vec![
            (Group::Segment(Segment::New), "new".into()),
            (Group::Segment(Segment::Returning), "returning".into()),
        ]
    } else {
        let names = domain.bucket_names();
        (0..domain.groups())
            .map(|b| (Group::Interest(b), format!("interest {}", names[b])))
            .collect()
    };
    let segments = groups
        .into_iter()
        .map(|(group, segment)| {
            let all = cells(domain, |t| t.group == group);
            SegmentRow {
                segment,
                exposures: f.count(&all),
                conversion: f.ratio(&cells(domain, |t| t.group == group && t.converted), &all),
            }
        })
        .collect();
    Readout {
        reports: tally.n,
        first_day: tally.first_day.clone(),
        last_day: tally.last_day.clone(),
        policy: expected.policy_version.clone(),
        mechanism: expected.mechanism,
        epsilon: expected.epsilon,
        domain: domain.description(),
        domain_version: domain.version(),
        intervals: "95 % delta-method intervals; they include the privacy noise and the sampling of shoppers",
        arms,
        incremental_conversion: incremental(&f, domain),
        revenue_share_difference: f.ratio_difference((&r1, &d1), (&r0, &d0)),
        steps,
        segments,
        beta,
        beta_problem,
        policy_beta: expected.policy_beta,
        caveat: if domain.version() == DomainVersion::Learning { "β is fitted to the explore reports only (discounts drawn at random among the allowed prices), with one intercept per interest bucket: a randomized estimate. Conversion by step over all reports is causal only in the explore arm and at step 0 of the control arm." } else { "Conversion by step is causal only where the step was randomized (the control arm, explore quotes); personalized discounts go to hesitant shoppers, so without randomization the curve, and β fitted to it, mix the price effect with who was offered what." },
        cell_counts: (0..domain.size())
            .map(|j| f.n * f.pi[j])
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeded;
    use pricelet::ldp::{Domain, Payload, Tuple};
    use pricelet::policy::Policy;
    use serde_json::json;

    fn domain() -> Domain {
        Domain::for_policy(&Policy::default_policy())
    }

    #[test]
    fn the_empirical_covariance_matches_the_exact_one() {
        let d = domain();
        let mut rng = seeded(11);
        let mut pi = vec![0.0; d.size()];
        for (j, x) in pi.iter_mut().enumerate() {
            *x = (1 + j % 7) as f64;
        }
        let total: f64 = pi.iter().sum();
        pi.iter_mut().for_each(|x| *x /= total);
        let cum: Vec<f64> = pi
            .iter()
            .scan(0.0, |s, x| {
                *s += x;
                Some(*s)
            })
            .collect();
        for noise in [
            Noise::Ldp(Mechanism::Oue, 1.0),
            Noise::Ldp(Mechanism::Grr, 3.0),
            Noise::Exact,
        ] {
            let mut t = Tally::new(d.size());
            for _ in 0..60_000 {
                let u = ldp::uniform(&mut rng);
                let cell = cum.partition_point(|&c| c < u).min(d.size() - 1);
                t.add(&match noise {
                    Noise::Ldp(m, e) => ldp::randomize(cell, d.size(), m, e, &mut rng),
                    Noise::Exact => Payload::Value(cell),
                });
            }
            let emp = t.frequencies(noise);
            let exact = Frequencies::expected(&pi, noise);
            let g = arm_conversion(&d, Arm::Treatment).1;
            let (ve, vx) = (emp.variance(&g) * emp.n, exact.variance(&g));
            assert!((ve / vx - 1.0).abs() < 0.05, "{noise:?}: {ve} vs {vx}");
            let (a, b) = arm_conversion(&d, Arm::Control);
            let (r_emp, r_true) = (emp.ratio(&a, &b).unwrap(), exact.ratio(&a, &b).unwrap());
            assert!(
                r_emp.covers(r_true.estimate),
                "{noise:?}: {r_emp:?} vs {r_true:?}"
            );
        }
    }

    #[test]
    fn reports_of_another_setup_are_refused_by_name() {
        let mut v: serde_json::Value =
            serde_json::from_str(pricelet::policy::DEFAULT_POLICY_JSON).unwrap();
        v["reporting"] = json!({"epsilon": 2, "dailyEpsilon": 8});
        let policy = Policy::from_json(&v).unwrap();
        let exp = Expected::from_policy(&policy).unwrap();
        let d = &exp.domain;
        let good = Report::new("2026-11-29".into(), d, 2.0, &Payload::Bits(vec![3]));
        let line = serde_json::to_string(&good).unwrap();
        assert_eq!(read_reports(&line, &exp).unwrap().n, 1);
        let mut other = good.clone();
        other.epsilon = 1.0;
        let e = read_reports(
            &format!("{line}\n{}", serde_json::to_string(&other).unwrap()),
            &exp,
        )
        .unwrap_err();
        assert!(
            e.message.starts_with("line 2:")
                && e.message.contains("ε = 1")
                && e.message.contains("--policy"),
            "{e}"
        );
        let mut dom = good.clone();
        dom.domain = dom.domain.replace("20", "25");
        assert!(read_reports(&serde_json::to_string(&dom).unwrap(), &exp)
            .unwrap_err()
            .message
            .contains("domain"));
        let extra = line.replacen('{', "{\"itemId\":\"sku-1\",", 1);
        assert!(read_reports(&extra, &exp)
            .unwrap_err()
            .message
            .contains("itemId"));
        assert!(read_reports("\n\n", &exp)
            .unwrap_err()
            .message
            .contains("no reports"));
        let off = Expected::from_policy(&Policy::default_policy());
        if Policy::default_policy().reporting.is_none() {
            assert!(off.unwrap_err().message.contains("reporting"));
        }
    }

    #[test]
    fn needed_shoppers_fall_with_epsilon_and_exceed_the_non_private_count() {
        let d = domain();
        let mut pi = vec![0.0; d.size()];
        for (j, x) in pi.iter_mut().enumerate() {
            *x = 1.0 / (j + 2) as f64;
        }
        let total: f64 = pi.iter().sum();
        pi.iter_mut().for_each(|x| *x /= total);
        let exact = per_report_variance(&pi, &d, Noise::Exact);
        let mut last = f64::INFINITY;
        for eps in [0.5, 1.0, 2.0, 4.0, 8.0] {
            let v = per_report_variance(&pi, &d, Noise::Ldp(Mechanism::Oue, eps));
            assert!(v < last && v > exact, "ε {eps}: {v}");
            last = v;
        }
        assert!((shoppers_needed(1.0, 0.01) - 38_414.588).abs() < 0.01);
    }

    #[test]
    fn version_2_reports_carry_the_explore_step_and_are_refused_in_the_wrong_shape() {
        let policy = Policy::from_json_str(include_str!("../../../policy/learning.json")).unwrap();
        let expected = Expected::from_policy(&policy).unwrap();
        let domain = &expected.domain;
        let mut rng = seeded(3);
        let t = Tuple {
            arm: Arm::Explore,
            step: 3,
            converted: true,
            group: Group::Interest(2),
        };
        let r = ldp::Report::randomized(
            "2026-12-01".into(),
            domain,
            domain.encode(&t),
            expected.mechanism,
            expected.epsilon,
            &mut rng,
        );
        // A version 2 report sends its explore step in the clear and randomizes the rest with GRR.
        assert_eq!(
            (r.step, r.domain_version, r.mechanism()),
            (Some(3), DomainVersion::Learning, Mechanism::Grr)
        );
        let ldp::Randomized::Value(value) = r.randomized else {
            panic!("GRR sends a value, not bits")
        };
        assert!(value < 12, "a value of converted × 6 buckets");
        let mut tally = Tally::for_domain(domain);
        add_report(&mut tally, &r, &expected).unwrap();
        assert_eq!((tally.n, tally.step_reports[3]), (1, 1));
        for (bad, why) in [
            (
                ldp::Report {
                    step: None,
                    ..r.clone()
                },
                "carries its explore `step`",
            ),
            (
                ldp::Report {
                    step: Some(5),
                    ..r.clone()
                },
                "is not a step",
            ),
            (
                ldp::Report {
                    randomized: ldp::Randomized::Value(12),
                    ..r.clone()
                },
                "outside the domain",
            ),
            (
                ldp::Report {
                    domain_version: DomainVersion::Segments,
                    ..r.clone()
                },
                "domain version 1",
            ),
        ] {
            let e = add_report(&mut tally, &bad, &expected).unwrap_err();
            assert!(e.message.contains(why), "{why}: {}", e.message);
        }
        assert_eq!(tally.n, 1, "refused reports leave the tally as it was");
    }
}
