//! Planning a local-DP study on the real datasets (`pricelet ldp-simulate`): populations of shoppers
//! drawn from Online Shoppers and Hillstrom, reports randomized with the device's own randomizer,
//! aggregated by the collector, and scored against the truth — how many shoppers a precision needs.

use crate::datasets::{HillstromCustomer, ShopperSession};
use crate::rng::Rng;
use pricelet::ldp::{self, Arm, Domain, Group, Mechanism, Payload, Report, Segment, Tuple};
use pricelet_measure::*;
use serde::Serialize;

// ---------------------------------------------------------------------------------------------
// Simulation on the real datasets (`pricelet ldp-simulate`).

/// A population of shoppers to draw from (rows resampled with replacement).
#[derive(Debug, Clone)]
pub struct Population {
    pub name: String,
    pub source: String,
    /// What is real and what is assumed.
    pub assumption: String,
    pub rows: usize,
    kind: PopulationKind,
    /// The true share of each cell for one drawn shopper.
    pub pi: Vec<f64>,
    /// The true β of the price response, when the population has one.
    pub true_beta: Option<f64>,
}

#[derive(Debug, Clone)]
enum PopulationKind {
    /// Each row has its real arm and outcome (a randomized test).
    Cells(Vec<usize>),
    /// Each row has an outcome without discount; arm and step are drawn, the lift is assumed.
    Randomized {
        rows: Vec<(bool, Segment)>,
        control_share: f64,
        /// P(a shopper who would not buy at list buys at step s).
        lift: Vec<f64>,
    },
}

impl Population {
    /// The true tuple of one shopper drawn from the population.
    pub fn draw(&self, domain: &Domain, rng: &mut Rng) -> usize {
        match &self.kind {
            PopulationKind::Cells(c) => c[ldp::below(rng, c.len())],
            PopulationKind::Randomized {
                rows,
                control_share,
                lift,
            } => {
                let (bought, segment) = rows[ldp::below(rng, rows.len())];
                let control = ldp::uniform(rng) < *control_share;
                let step = if control {
                    0
                } else {
                    ldp::below(rng, domain.steps())
                };
                let converted = bought || (step > 0 && ldp::uniform(rng) < lift[step]);
                domain.encode(&Tuple {
                    arm: if control {
                        Arm::Control
                    } else {
                        Arm::Treatment
                    },
                    step,
                    converted,
                    group: Group::Segment(segment),
                })
            }
        }
    }
}

/// Why a population for the study could not be built from a dataset.
#[derive(Debug, thiserror::Error)]
pub enum PopulationError {
    #[error("the {0} file has no rows")]
    NoRows(&'static str),
    #[error("the Hillstrom file has no Womens E-Mail or No E-Mail rows")]
    NoArms,
    #[error("unknown outcome {0:?} (visit or conversion)")]
    UnknownOutcome(String),
}

/// Online Shoppers: `Revenue` is the outcome at list price, `VisitorType` the segment
/// (Returning_Visitor = returning, New_Visitor and Other = new). Each drawn shopper is in control with
/// `control_share`, else in treatment at a uniformly drawn step; the treatment's conversion is
/// lifted by the **assumed** response `P(buy | d) = σ(logit r̄ + β·d)` (r̄ the data's rate): a
/// shopper who bought anyway still buys, one who did not buys with `(σ(logit r̄ + β d) − r̄)/(1 − r̄)`.
pub fn online_shoppers_population(
    rows: &[ShopperSession],
    domain: &Domain,
    control_share: f64,
    beta: f64,
) -> Result<Population, PopulationError> {
    let mut parsed = Vec::with_capacity(rows.len());
    for row in rows {
        let segment = if row.returning() {
            Segment::Returning
        } else {
            Segment::New
        };
        parsed.push((row.revenue.0, segment));
    }
    if parsed.is_empty() {
        return Err(PopulationError::NoRows("Online Shoppers"));
    }
    let rbar = parsed.iter().filter(|r| r.0).count() as f64 / parsed.len() as f64;
    let base = pricelet::math::logit(rbar.clamp(1e-4, 1.0 - 1e-4));
    let lift: Vec<f64> = domain
        .steps_percent
        .iter()
        .map(|s| {
            let target = pricelet::math::sigmoid(base + beta * s / 100.0);
            ((target - rbar) / (1.0 - rbar)).clamp(0.0, 1.0)
        })
        .collect();
    let s_n = domain.steps() as f64;
    let per_row = 1.0 / parsed.len() as f64;
    let mut pi = vec![0.0; domain.size()];
    for &(bought, segment) in &parsed {
        let cell = |arm, step, converted| {
            domain.encode(&Tuple {
                arm,
                step,
                converted,
                group: Group::Segment(segment),
            })
        };
        pi[cell(Arm::Control, 0, bought)] += per_row * control_share;
        for (step, l) in lift.iter().enumerate() {
            let w = per_row * (1.0 - control_share) / s_n;
            if bought {
                pi[cell(Arm::Treatment, step, true)] += w;
            } else {
                pi[cell(Arm::Treatment, step, true)] += w * l;
                pi[cell(Arm::Treatment, step, false)] += w * (1.0 - l);
            }
        }
    }
    Ok(Population {
        name: "online_shoppers".into(),
        source: "UCI Online Shoppers Purchasing Intention (Revenue = conversion at list price)".into(),
        assumption: format!(
            "ASSUMED: arms drawn at random ({:.0} % control), treatment steps uniform over {} steps, treatment conversion lifted to σ(logit {:.4} + {beta}·d)",
            100.0 * control_share,
            domain.steps(),
            rbar
        ),
        rows: parsed.len(),
        kind: PopulationKind::Randomized {
            rows: parsed,
            control_share,
            lift,
        },
        pi,
        true_beta: Some(beta),
    })
}

/// Hillstrom: Womens E-Mail = treatment, No E-Mail = control (real randomized arms; Mens E-Mail rows
/// are left out), `outcome` (`visit` or `conversion`) as converted, `newbie` as the segment, step 0
/// (the treatment is an e-mail, not a discount).
pub fn hillstrom_population(
    rows: &[HillstromCustomer],
    domain: &Domain,
    outcome: &str,
) -> Result<Population, PopulationError> {
    let mut out = Vec::new();
    for row in rows {
        let arm = match row.segment.treated() {
            Some(true) => Arm::Treatment,
            Some(false) => Arm::Control,
            None => continue,
        };
        let converted = row
            .outcome(outcome)
            .ok_or_else(|| PopulationError::UnknownOutcome(outcome.to_string()))?;
        let segment = if row.newbie.0 {
            Segment::New
        } else {
            Segment::Returning
        };
        out.push(domain.encode(&Tuple {
            arm,
            step: 0,
            converted,
            group: Group::Segment(segment),
        }));
    }
    if out.is_empty() {
        return Err(PopulationError::NoArms);
    }
    let mut pi = vec![0.0; domain.size()];
    for &c in &out {
        pi[c] += 1.0 / out.len() as f64;
    }
    Ok(Population {
        name: format!("hillstrom_{outcome}"),
        source: format!("Hillstrom MineThatData e-mail test: Womens E-Mail vs No E-Mail, outcome {outcome}"),
        assumption: "MEASURED: real randomized arms and outcomes; every report is at step 0 (an e-mail, not a discount), so no β".into(),
        rows: out.len(),
        kind: PopulationKind::Cells(out),
        pi,
        true_beta: None,
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimSettings {
    pub mechanisms: Vec<Mechanism>,
    pub epsilons: Vec<f64>,
    pub sizes: Vec<usize>,
    pub reps: usize,
    pub seed: u64,
    /// Target 95 % half-width of the incremental conversion (a fraction: 0.01 = ±1 point).
    pub precision: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Truth {
    pub control: f64,
    pub treatment: f64,
    pub incremental: f64,
    pub beta: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimRow {
    pub population: String,
    /// `none` = the true values without privacy (the sampling error alone).
    pub mechanism: String,
    pub epsilon: Option<f64>,
    pub n: usize,
    pub reps: usize,
    /// Repetitions where an arm's estimated exposures were not positive (no rate defined).
    pub undefined: usize,
    pub rmse_control: f64,
    pub rmse_treatment: f64,
    pub rmse_incremental: f64,
    pub mean_half_width_control: f64,
    pub mean_half_width_treatment: f64,
    pub mean_half_width_incremental: f64,
    /// 1.96 · √(∇gᵀ Σ ∇g / n) from the exact Σ of the population.
    pub predicted_half_width_incremental: f64,
    pub coverage_incremental: f64,
    pub rmse_beta: Option<f64>,
    pub coverage_beta: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Needed {
    pub population: String,
    pub mechanism: String,
    pub epsilon: Option<f64>,
    /// ∇gᵀ Σ ∇g: the variance of the incremental conversion from one shopper's report.
    pub per_report_variance: f64,
    pub shoppers: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PopulationSummary {
    pub name: String,
    pub source: String,
    pub assumption: String,
    pub rows: usize,
    pub truth: Truth,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimReport {
    pub domain: String,
    pub domain_size: usize,
    pub seed: u64,
    pub reps: usize,
    pub precision: f64,
    pub populations: Vec<PopulationSummary>,
    pub rows: Vec<SimRow>,
    pub needed: Vec<Needed>,
}

fn truth_of(pop: &Population, domain: &Domain) -> Truth {
    let f = Frequencies::expected(&pop.pi, Noise::Exact);
    let rate = |arm| {
        let (n, d) = arm_conversion(domain, arm);
        f.ratio(&n, &d).map_or(f64::NAN, |e| e.estimate)
    };
    let (c, t) = (rate(Arm::Control), rate(Arm::Treatment));
    Truth {
        control: c,
        treatment: t,
        incremental: t - c,
        beta: pop.true_beta,
    }
}

fn noise_name(noise: Noise) -> (String, Option<f64>) {
    match noise {
        Noise::Ldp(m, e) => (m.as_str().to_string(), Some(e)),
        Noise::Exact => ("none".into(), None),
    }
}

/// Draws, randomizes (with the device's own randomizer), aggregates and scores, `reps` times per
/// setting. Deterministic for a seed.
pub fn simulate(pops: &[Population], domain: &Domain, s: &SimSettings) -> SimReport {
    let mut noises = vec![Noise::Exact];
    for &m in &s.mechanisms {
        for &e in &s.epsilons {
            noises.push(Noise::Ldp(m, e));
        }
    }
    let mut rows = Vec::new();
    let mut needed = Vec::new();
    let mut summaries = Vec::new();
    let mut setting: u64 = 0;
    for pop in pops {
        let truth = truth_of(pop, domain);
        for &noise in &noises {
            let (mech, eps) = noise_name(noise);
            let v1 = per_report_variance(&pop.pi, domain, noise);
            needed.push(Needed {
                population: pop.name.clone(),
                mechanism: mech.clone(),
                epsilon: eps,
                per_report_variance: v1,
                shoppers: shoppers_needed(v1, s.precision),
            });
            for &n in &s.sizes {
                setting += 1;
                let mut rng = Rng::new(s.seed ^ setting.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let (mut se_c, mut se_t, mut se_i) = (0.0, 0.0, 0.0);
                let (mut hw_c, mut hw_t, mut hw_i) = (0.0, 0.0, 0.0);
                let (mut covered, mut defined) = (0usize, 0usize);
                let (mut se_b, mut cov_b, mut n_b) = (0.0, 0usize, 0usize);
                for _ in 0..s.reps {
                    let mut tally = Tally::new(domain.size());
                    for _ in 0..n {
                        let cell = pop.draw(domain, &mut rng);
                        let payload = match noise {
                            Noise::Exact => Payload::Value(cell),
                            Noise::Ldp(m, e) => ldp::randomize(cell, domain.size(), m, e, &mut rng),
                        };
                        tally.add(&payload);
                    }
                    let f = tally.frequencies(noise);
                    let (nc, dc) = arm_conversion(domain, Arm::Control);
                    let (nt, dt) = arm_conversion(domain, Arm::Treatment);
                    let (Some(c), Some(t), Some(i)) = (
                        f.ratio(&nc, &dc),
                        f.ratio(&nt, &dt),
                        incremental(&f, domain),
                    ) else {
                        continue;
                    };
                    defined += 1;
                    se_c += (c.estimate - truth.control).powi(2);
                    se_t += (t.estimate - truth.treatment).powi(2);
                    se_i += (i.estimate - truth.incremental).powi(2);
                    hw_c += c.half_width();
                    hw_t += t.half_width();
                    hw_i += i.half_width();
                    covered += usize::from(i.covers(truth.incremental));
                    if let (Some(b), Ok(fit)) = (truth.beta, fit_beta(&f, domain)) {
                        n_b += 1;
                        se_b += (fit.beta.estimate - b).powi(2);
                        cov_b += usize::from(fit.beta.covers(b));
                    }
                }
                let k = defined.max(1) as f64;
                rows.push(SimRow {
                    population: pop.name.clone(),
                    mechanism: mech.clone(),
                    epsilon: eps,
                    n,
                    reps: s.reps,
                    undefined: s.reps - defined,
                    rmse_control: (se_c / k).sqrt(),
                    rmse_treatment: (se_t / k).sqrt(),
                    rmse_incremental: (se_i / k).sqrt(),
                    mean_half_width_control: hw_c / k,
                    mean_half_width_treatment: hw_t / k,
                    mean_half_width_incremental: hw_i / k,
                    predicted_half_width_incremental: Z95 * (v1 / n as f64).sqrt(),
                    coverage_incremental: covered as f64 / k,
                    rmse_beta: (n_b > 0).then(|| (se_b / n_b as f64).sqrt()),
                    coverage_beta: (n_b > 0).then(|| cov_b as f64 / n_b as f64),
                });
            }
        }
        summaries.push(PopulationSummary {
            name: pop.name.clone(),
            source: pop.source.clone(),
            assumption: pop.assumption.clone(),
            rows: pop.rows,
            truth,
        });
    }
    SimReport {
        domain: domain.description(),
        domain_size: domain.size(),
        seed: s.seed,
        reps: s.reps,
        precision: s.precision,
        populations: summaries,
        rows,
        needed,
    }
}

/// The reports of one simulated study, as devices would send them (JSON lines, spread over the
/// week ending 2026-11-29), for trying `pricelet aggregate`.
pub fn sample_reports(
    pop: &Population,
    domain: &Domain,
    mechanism: Mechanism,
    epsilon: f64,
    n: usize,
    seed: u64,
) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::with_capacity(n * (domain.size() + 120));
    for i in 0..n {
        let cell = pop.draw(domain, &mut rng);
        let payload = ldp::randomize(cell, domain.size(), mechanism, epsilon, &mut rng);
        let day = format!("2026-11-{}", 23 + i % 7);
        let report = Report::new(day, domain, epsilon, &payload);
        out += &serde_json::to_string(&report).unwrap_or_default();
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::Dataset;

    #[test]
    fn populations_say_what_the_data_lacks() {
        let domain = Domain::for_policy(&pricelet::policy::Policy::default_policy());
        let err = online_shoppers_population(&[], &domain, 0.1, 4.0).unwrap_err();
        assert!(matches!(err, PopulationError::NoRows(_)));
        assert_eq!(err.to_string(), "the Online Shoppers file has no rows");
        let err = hillstrom_population(&[], &domain, "visit").unwrap_err();
        assert!(matches!(err, PopulationError::NoArms));
        let Dataset::Hillstrom(rows) = Dataset::from_reader(
            "recency,history,mens,womens,newbie,segment,visit,conversion,spend\n1,20,0,1,1,Womens E-Mail,0,0,0\n".as_bytes(),
        )
        .unwrap() else {
            panic!("layout")
        };
        let err = hillstrom_population(&rows, &domain, "spend").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown outcome \"spend\" (visit or conversion)"
        );
        assert_eq!(
            hillstrom_population(&rows, &domain, "visit").unwrap().rows,
            1
        );
    }
}
