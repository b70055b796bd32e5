//! The aggregator's side of the measurement reports (src/ldp.rs, docs/measurement.md): de-biasing,
//! the A/B read-out, revenue per shopper, the price-response curve with a fitted β — every number
//! with a 95 % interval that includes both the privacy noise and sampling — and the planning maths
//! (how many shoppers a precision needs), checked by simulation on the real datasets.
//!
//! **Estimator.** Each report i gives a de-biased indicator vector x̂ᵢ over the domain:
//! OUE `x̂ᵢⱼ = (yᵢⱼ − q) / (p − q)` from its bits, GRR `x̂ᵢⱼ = ([ŷᵢ = j] − q) / (p − q)` from its
//! value. Their mean π̂ is an unbiased estimate of the share π of true values in each cell. Every
//! read-out is a smooth function g(π̂) (a ratio of two cell sums for a conversion rate, a root of the
//! logistic score equations for β), so its variance is, by the delta method, `∇gᵀ Σ ∇g / n` where
//! Σ is the covariance of one x̂ᵢ. The aggregator estimates Σ from the reports themselves (their bit
//! co-occurrence counts), which captures the privacy noise and the sampling of shoppers at once; the
//! planner uses the exact Σ of a known π:
//!
//! * OUE: `Σ = diag(π) − ππᵀ + diag(v) / (p − q)²` with `vⱼ = πⱼ p(1 − p) + (1 − πⱼ) q(1 − q)`;
//! * GRR: `Σ = (diag(ρ) − ρρᵀ) / (p − q)²` with `ρ = q + (p − q) π`;
//! * no privacy: `Σ = diag(π) − ππᵀ`.

use crate::datasets::{HillstromCustomer, ShopperSession};
use crate::ldp::{self, Arm, Domain, Mechanism, Payload, Report, Segment, Tuple};
use crate::policy::{Policy, Strategy};
use crate::simulate::SplitMix64;
use serde::{Deserialize, Serialize};

/// The two-sided 95 % normal quantile.
pub const Z95: f64 = 1.959_963_984_540_054;

/// What reports must match to be aggregated together: the policy's reporting setup.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub mechanism: Mechanism,
    pub epsilon: f64,
    pub domain: Domain,
    pub policy_version: String,
    /// The policy's own β (expectedProfit), to compare the fit with.
    pub policy_beta: Option<f64>,
    /// Reports dated after this local day are refused (see [`ldp::latest_day`]); None: no check.
    pub latest_day: Option<String>,
}

impl Expected {
    pub fn from_policy(policy: &Policy) -> Result<Expected, String> {
        let Some(r) = &policy.reporting else {
            return Err(format!(
                "the policy {} has no `reporting` section, so it says nothing about how reports were randomized: pass the policy the reports were made under with --policy",
                policy.version
            ));
        };
        let (p, q) = r
            .mechanism
            .probabilities(r.epsilon, Domain::for_policy(policy).size());
        if !(p - q > 1e-9) {
            return Err(format!(
                "reporting.epsilon = {} is too small to de-bias: the reports carry no information",
                r.epsilon
            ));
        }
        Ok(Expected {
            mechanism: r.mechanism,
            epsilon: r.epsilon,
            domain: Domain::for_policy(policy),
            policy_version: policy.version.clone(),
            policy_beta: match policy.strategy() {
                Strategy::ExpectedProfit { beta } => Some(*beta),
                _ => None,
            },
            latest_day: None,
        })
    }
}

/// How the reports were randomized (or not, for the simulation's no-privacy baseline).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Noise {
    Ldp(Mechanism, f64),
    /// The true values themselves (what a non-private collection would see).
    Exact,
}

impl Noise {
    /// `(p, q)` of the de-biasing.
    fn pq(self, size: usize) -> (f64, f64) {
        match self {
            Noise::Ldp(m, eps) => m.probabilities(eps, size),
            Noise::Exact => (1.0, 0.0),
        }
    }

    fn unary(self) -> bool {
        matches!(self, Noise::Ldp(Mechanism::Oue, _))
    }
}

/// Sufficient statistics of a set of reports: per cell the count of 1-bits (OUE) or of reports of
/// that value (GRR), and for OUE the co-occurrence counts of bit pairs. Serializable, so a
/// collector (the Worker's `/report`) keeps a running tally instead of the reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tally {
    pub size: usize,
    pub n: u64,
    pub ones: Vec<u64>,
    /// `pairs[j * size + k]` for j ≤ k: reports with both bits set (OUE only).
    #[serde(default)]
    pairs: Vec<u64>,
    pub first_day: Option<String>,
    pub last_day: Option<String>,
}

impl Tally {
    pub fn new(size: usize) -> Tally {
        Tally {
            size,
            n: 0,
            ones: vec![0; size],
            pairs: Vec::new(),
            first_day: None,
            last_day: None,
        }
    }

    /// Whether this tally (perhaps read back from storage, perhaps edited) is one of a domain of
    /// `size` cells whose counts could have come from reports: no cell counts more reports than
    /// the tally has, so adding a report can never overflow a count.
    pub fn fits(&self, size: usize) -> bool {
        self.size == size
            && self.ones.len() == size
            && (self.pairs.is_empty() || self.pairs.len() == size * size)
            && self.n < u64::MAX
            && self.ones.iter().chain(&self.pairs).all(|&c| c <= self.n)
    }

    pub fn add(&mut self, payload: &Payload) {
        self.n += 1;
        match payload {
            Payload::Value(v) => self.ones[*v] += 1,
            Payload::Bits(bits) => {
                if self.pairs.is_empty() {
                    self.pairs = vec![0; self.size * self.size];
                }
                for (a, &j) in bits.iter().enumerate() {
                    self.ones[j] += 1;
                    let row = j * self.size;
                    for &k in &bits[a..] {
                        self.pairs[row + k] += 1;
                    }
                }
            }
        }
    }

    fn pair(&self, j: usize, k: usize) -> u64 {
        let (a, b) = if j <= k { (j, k) } else { (k, j) };
        self.pairs.get(a * self.size + b).copied().unwrap_or(0)
    }

    fn note_day(&mut self, day: &str) {
        if self.first_day.as_deref().is_none_or(|d| day < d) {
            self.first_day = Some(day.to_string());
        }
        if self.last_day.as_deref().is_none_or(|d| day > d) {
            self.last_day = Some(day.to_string());
        }
    }

    /// De-biased cell shares and their per-report covariance, estimated from the reports.
    pub fn frequencies(&self, noise: Noise) -> Frequencies {
        let d = self.size;
        let n = self.n as f64;
        let (p, q) = noise.pq(d);
        let mean: Vec<f64> = self.ones.iter().map(|&c| c as f64 / n.max(1.0)).collect();
        let pi = mean.iter().map(|m| (m - q) / (p - q)).collect();
        let scale = if n > 1.0 { n / (n - 1.0) } else { 1.0 } / ((p - q) * (p - q));
        let mut cov = vec![0.0; d * d];
        for j in 0..d {
            for k in 0..d {
                let second = if noise.unary() {
                    self.pair(j, k) as f64 / n.max(1.0)
                } else if j == k {
                    mean[j]
                } else {
                    0.0
                };
                cov[j * d + k] = (second - mean[j] * mean[k]) * scale;
            }
        }
        Frequencies { n, pi, cov }
    }
}

/// Cell shares π and the covariance Σ of one report's de-biased indicator.
#[derive(Debug, Clone, PartialEq)]
pub struct Frequencies {
    /// Number of reports (for the planner: 1, so variances are per report).
    pub n: f64,
    pub pi: Vec<f64>,
    /// Row-major |D|×|D|.
    pub cov: Vec<f64>,
}

/// A point estimate with its standard error and 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub estimate: f64,
    pub se: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Estimate {
    pub fn new(estimate: f64, variance: f64) -> Estimate {
        let se = variance.max(0.0).sqrt();
        Estimate {
            estimate,
            se,
            lo: estimate - Z95 * se,
            hi: estimate + Z95 * se,
        }
    }

    pub fn half_width(&self) -> f64 {
        Z95 * self.se
    }

    pub fn covers(&self, truth: f64) -> bool {
        self.lo <= truth && truth <= self.hi
    }
}

impl Frequencies {
    /// The exact Σ of one report when the true cell shares are `pi` (n = 1: variances per report).
    pub fn expected(pi: &[f64], noise: Noise) -> Frequencies {
        let d = pi.len();
        let (p, q) = noise.pq(d);
        let mut cov = vec![0.0; d * d];
        match noise {
            Noise::Ldp(Mechanism::Grr, _) => {
                let rho: Vec<f64> = pi.iter().map(|x| q + (p - q) * x).collect();
                for j in 0..d {
                    for k in 0..d {
                        let diag = if j == k { rho[j] } else { 0.0 };
                        cov[j * d + k] = (diag - rho[j] * rho[k]) / ((p - q) * (p - q));
                    }
                }
            }
            _ => {
                for j in 0..d {
                    for k in 0..d {
                        let mut c = if j == k { pi[j] } else { 0.0 } - pi[j] * pi[k];
                        if j == k && noise.unary() {
                            let v = pi[j] * p * (1.0 - p) + (1.0 - pi[j]) * q * (1.0 - q);
                            c += v / ((p - q) * (p - q));
                        }
                        cov[j * d + k] = c;
                    }
                }
            }
        }
        Frequencies {
            n: 1.0,
            pi: pi.to_vec(),
            cov,
        }
    }

    fn dot(&self, w: &[f64]) -> f64 {
        w.iter().zip(&self.pi).map(|(a, b)| a * b).sum()
    }

    /// `gᵀ Σ g / n`.
    pub fn variance(&self, g: &[f64]) -> f64 {
        let d = self.pi.len();
        let mut v = 0.0;
        for j in 0..d {
            if g[j] == 0.0 {
                continue;
            }
            let row = &self.cov[j * d..(j + 1) * d];
            v += g[j] * row.iter().zip(g).map(|(c, x)| c * x).sum::<f64>();
        }
        v / self.n
    }

    /// `(a·π) / (b·π)` and its gradient; `None` when the denominator's estimate is not positive.
    fn ratio_grad(&self, num: &[f64], den: &[f64]) -> Option<(f64, Vec<f64>)> {
        let b = self.dot(den);
        if b.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return None;
        }
        let r = self.dot(num) / b;
        Some((
            r,
            num.iter().zip(den).map(|(a, d)| (a - r * d) / b).collect(),
        ))
    }

    pub fn ratio(&self, num: &[f64], den: &[f64]) -> Option<Estimate> {
        let (r, g) = self.ratio_grad(num, den)?;
        Some(Estimate::new(r, self.variance(&g)))
    }

    /// `num1/den1 − num0/den0` with the covariance of both parts (they come from the same reports).
    pub fn ratio_difference(
        &self,
        (num1, den1): (&[f64], &[f64]),
        (num0, den0): (&[f64], &[f64]),
    ) -> Option<Estimate> {
        let (r1, g1) = self.ratio_grad(num1, den1)?;
        let (r0, g0) = self.ratio_grad(num0, den0)?;
        let g: Vec<f64> = g1.iter().zip(&g0).map(|(a, b)| a - b).collect();
        Some(Estimate::new(r1 - r0, self.variance(&g)))
    }

    /// The estimated number of reports whose true value is in the set `w` (0/1 weights).
    pub fn count(&self, w: &[f64]) -> f64 {
        self.n * self.dot(w)
    }
}

/// 0/1 weights over the domain selecting the cells where `f` holds.
pub fn cells(domain: &Domain, f: impl Fn(&Tuple) -> bool) -> Vec<f64> {
    (0..domain.size())
        .map(|i| f64::from(u8::from(f(&domain.decode(i)))))
        .collect()
}

/// Conversion of an arm: converted / all, as weights (numerator, denominator).
pub fn arm_conversion(domain: &Domain, arm: Arm) -> (Vec<f64>, Vec<f64>) {
    (
        cells(domain, |t| t.arm == arm && t.converted),
        cells(domain, |t| t.arm == arm),
    )
}

/// Revenue per shopper of an arm as a share of list price: Σ_steps conversion × (1 − discount)
/// weighted by the arm's exposure share of each step = Σ (1 − d_s)·[converted at s] / [in arm].
pub fn arm_revenue_share(domain: &Domain, arm: Arm) -> (Vec<f64>, Vec<f64>) {
    let num = (0..domain.size())
        .map(|i| {
            let t = domain.decode(i);
            if t.arm == arm && t.converted {
                1.0 - domain.steps_percent[t.step] / 100.0
            } else {
                0.0
            }
        })
        .collect();
    (num, cells(domain, |t| t.arm == arm))
}

/// The A/B read-out: treatment conversion − control conversion.
pub fn incremental(f: &Frequencies, domain: &Domain) -> Option<Estimate> {
    let (n1, d1) = arm_conversion(domain, Arm::Treatment);
    let (n0, d0) = arm_conversion(domain, Arm::Control);
    f.ratio_difference((&n1, &d1), (&n0, &d0))
}

/// The fitted price response `P(buy | d) = σ(α + β·d)` (the functional form of the policy's
/// expectedProfit strategy, d the discount as a fraction of list), by logistic regression on the
/// de-biased counts per step, with the delta-method (sandwich) variance of β̂.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BetaFit {
    pub beta: Estimate,
    pub alpha: f64,
    /// The fitted conversion at each step (None for steps without exposures).
    pub fitted: Vec<Option<f64>>,
    pub steps_used: usize,
}

pub fn fit_beta(f: &Frequencies, domain: &Domain) -> Result<BetaFit, String> {
    let s_count = domain.steps();
    let d: Vec<f64> = domain.steps_percent.iter().map(|s| s / 100.0).collect();
    let mut n_s = vec![0.0; s_count];
    let mut c_s = vec![0.0; s_count];
    for (j, pi) in f.pi.iter().enumerate() {
        let t = domain.decode(j);
        n_s[t.step] += pi;
        if t.converted {
            c_s[t.step] += pi;
        }
    }
    let used: Vec<bool> = n_s.iter().map(|&n| n > 1e-12).collect();
    let distinct: Vec<f64> = (0..s_count).filter(|&s| used[s]).map(|s| d[s]).collect();
    if distinct.len() < 2 {
        return Err(
            "the reports show exposures at fewer than two discount steps: β cannot be fitted"
                .into(),
        );
    }
    let sigmoid = crate::pricing::sigmoid;
    let total_n: f64 = (0..s_count).filter(|&s| used[s]).map(|s| n_s[s]).sum();
    let total_c: f64 = (0..s_count).filter(|&s| used[s]).map(|s| c_s[s]).sum();
    let mean = (total_c / total_n).clamp(1e-4, 1.0 - 1e-4);
    let (mut a, mut b) = (crate::pricing::logit(mean), 0.0);
    let info = |a: f64, b: f64| {
        let (mut j00, mut j01, mut j11, mut u0, mut u1) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for s in (0..s_count).filter(|&s| used[s]) {
            let p = sigmoid(a + b * d[s]);
            let w = n_s[s] * p * (1.0 - p);
            j00 += w;
            j01 += w * d[s];
            j11 += w * d[s] * d[s];
            let r = c_s[s] - n_s[s] * p;
            u0 += r;
            u1 += r * d[s];
        }
        (j00, j01, j11, u0, u1)
    };
    let mut converged = false;
    for _ in 0..200 {
        let (j00, j01, j11, u0, u1) = info(a, b);
        let det = j00 * j11 - j01 * j01;
        if !(det.is_finite() && det > 0.0) {
            break;
        }
        let (da, db) = ((j11 * u0 - j01 * u1) / det, (j00 * u1 - j01 * u0) / det);
        a += da;
        b += db;
        if !(a.is_finite() && b.is_finite()) || b.abs() > 1000.0 {
            break;
        }
        if da.abs() < 1e-12 && db.abs() < 1e-12 {
            converged = true;
            break;
        }
    }
    if !converged {
        return Err("the de-biased conversion by step has no finite logistic fit (too few reports for this ε: the noisy rates leave 0 to 1)".into());
    }
    let (j00, j01, j11, _, _) = info(a, b);
    let det = j00 * j11 - j01 * j01;
    // dβ/dπ_j = (J⁻¹ x_s)[β] · ([converted] − σ_s) for a cell j at step s.
    let g: Vec<f64> = (0..f.pi.len())
        .map(|j| {
            let t = domain.decode(j);
            if !used[t.step] {
                return 0.0;
            }
            let x_beta = (j00 * d[t.step] - j01) / det;
            x_beta * (f64::from(u8::from(t.converted)) - sigmoid(a + b * d[t.step]))
        })
        .collect();
    Ok(BetaFit {
        beta: Estimate::new(b, f.variance(&g)),
        alpha: a,
        fitted: (0..s_count)
            .map(|s| used[s].then(|| sigmoid(a + b * d[s])))
            .collect(),
        steps_used: distinct.len(),
    })
}

// ---------------------------------------------------------------------------------------------
// The read-out of a file of reports (`pricelet aggregate`).

/// Reads JSON-lines reports, refusing any that was not made under `expected`.
pub fn read_reports(text: &str, expected: &Expected) -> Result<Tally, String> {
    let mut tally = Tally::new(expected.domain.size());
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: Report = serde_json::from_str(line).map_err(|e| {
            format!("line {}: not a measurement report ({e}); a report has exactly the fields day, mechanism, epsilon, domain, domainVersion and bits (oue) or value (grr)", i + 1)
        })?;
        add_report(&mut tally, &r, expected).map_err(|e| format!("line {}: {e}", i + 1))?;
    }
    if tally.n == 0 {
        return Err("no reports: the file has no report lines".into());
    }
    Ok(tally)
}

/// Adds one report to a running tally, refusing it (tally unchanged) unless it was made under
/// `expected` and the tally is one of the same domain.
pub fn add_report(tally: &mut Tally, r: &Report, expected: &Expected) -> Result<(), String> {
    let size = expected.domain.size();
    let description = expected.domain.description();
    let redo = "aggregate the reports of one reporting setup at a time: pass the policy they were made under with --policy, or split the file by epsilon, mechanism and domain first";
    if !tally.fits(size) {
        return Err(format!(
            "the tally (of {} cells) does not fit the policy {}'s domain of {size}, or its counts are impossible (edited?): start a new tally",
            tally.size, expected.policy_version
        ));
    }
    if r.mechanism != expected.mechanism {
        return Err(format!(
            "the report was randomized with {} but the policy {} uses {}: {redo}",
            r.mechanism.as_str(),
            expected.policy_version,
            expected.mechanism.as_str()
        ));
    }
    if r.epsilon != expected.epsilon {
        return Err(format!(
            "the report was made with ε = {} but the policy {} has reporting.epsilon = {}; de-biasing with the wrong ε gives wrong numbers: {redo}",
            r.epsilon, expected.policy_version, expected.epsilon
        ));
    }
    if r.domain_version != ldp::DOMAIN_VERSION {
        return Err(format!(
            "domain version {} is not the version {} this pricelet reads: aggregate with the pricelet release that made the reports",
            r.domain_version,
            ldp::DOMAIN_VERSION
        ));
    }
    if r.domain != description {
        return Err(format!(
            "the report's domain {:?} differs from the policy's {description:?} (other discount steps?): {redo}",
            r.domain
        ));
    }
    if !ldp::is_day(&r.day) {
        return Err(format!(
            "`day` must be a calendar date YYYY-MM-DD (from 2000 on), got {:?}",
            r.day
        ));
    }
    if let Some(latest) = expected
        .latest_day
        .as_deref()
        .filter(|l| r.day.as_str() > *l)
    {
        return Err(format!(
            "`day` {:?} is after today ({latest} is the latest local day anywhere): a device never dates a report in the future",
            r.day
        ));
    }
    let payload = r.payload(size)?;
    tally.add(&payload);
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
    pub segment: Segment,
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
    pub domain_version: u32,
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
        Err(e) => (None, Some(e)),
    };
    let treatment = cells(domain, |t| t.arm == Arm::Treatment);
    let steps = (0..domain.steps())
        .map(|s| {
            let at = cells(domain, |t| t.step == s);
            StepRow {
                step: s,
                discount_percent: domain.steps_percent[s],
                exposures: f.count(&at),
                treatment_share: f.ratio(
                    &cells(domain, |t| t.arm == Arm::Treatment && t.step == s),
                    &treatment,
                ),
                conversion: f.ratio(&cells(domain, |t| t.step == s && t.converted), &at),
                fitted: beta.as_ref().and_then(|b| b.fitted[s]),
            }
        })
        .collect();
    let segments = [Segment::New, Segment::Returning]
        .into_iter()
        .map(|seg| {
            let all = cells(domain, |t| t.segment == seg);
            SegmentRow {
                segment: seg,
                exposures: f.count(&all),
                conversion: f.ratio(&cells(domain, |t| t.segment == seg && t.converted), &all),
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
        domain_version: ldp::DOMAIN_VERSION,
        intervals: "95 % delta-method intervals; they include the privacy noise and the sampling of shoppers",
        arms,
        incremental_conversion: incremental(&f, domain),
        revenue_share_difference: f.ratio_difference((&r1, &d1), (&r0, &d0)),
        steps,
        segments,
        beta,
        beta_problem,
        policy_beta: expected.policy_beta,
        caveat: "Conversion by step is causal only where the step was randomized (the control arm, explore quotes); personalized discounts go to hesitant shoppers, so without randomization the curve, and β fitted to it, mix the price effect with who was offered what.",
        cell_counts: (0..domain.size())
            .map(|j| f.n * f.pi[j])
            .collect(),
    }
}

fn pct(e: &Option<Estimate>) -> String {
    match e {
        Some(e) => format!(
            "{:>6.2} %  [{:>6.2}, {:>6.2}]",
            100.0 * e.estimate,
            100.0 * e.lo,
            100.0 * e.hi
        ),
        None => "     —   (no exposures in the estimate)".into(),
    }
}

fn pp(e: &Option<Estimate>) -> String {
    match e {
        Some(e) => format!(
            "{:+.2} pp [{:+.2}, {:+.2}]",
            100.0 * e.estimate,
            100.0 * e.lo,
            100.0 * e.hi
        ),
        None => "— (an arm has no exposures)".into(),
    }
}

/// The read-out as text tables.
pub fn render(r: &Readout) -> String {
    let mut out = String::new();
    let days = match (&r.first_day, &r.last_day) {
        (Some(a), Some(b)) if a == b => a.clone(),
        (Some(a), Some(b)) => format!("{a} to {b}"),
        _ => "-".into(),
    };
    out += &format!(
        "{} reports ({days}), policy {}, mechanism {}, ε = {} per report\n{}\n\n",
        r.reports,
        r.policy,
        r.mechanism.as_str(),
        r.epsilon,
        r.intervals
    );
    out += "conversion by arm\n  arm         exposures   conversion [95 % CI]         revenue per shopper, share of list [95 % CI]\n";
    for a in &r.arms {
        out += &format!(
            "  {:<10} {:>10.0}   {}   {}\n",
            match a.arm {
                Arm::Control => "control",
                Arm::Treatment => "treatment",
            },
            a.exposures,
            pct(&a.conversion),
            pct(&a.revenue_share)
        );
    }
    out += &format!(
        "\nA/B read-out (treatment − control)\n  incremental conversion      {}\n  revenue per shopper (list)  {}\n",
        pp(&r.incremental_conversion),
        pp(&r.revenue_share_difference)
    );
    out += "\nprice-response curve (both arms)\n  step  discount   exposures   treatment share [95 % CI]     conversion [95 % CI]          fitted\n";
    for s in &r.steps {
        out += &format!(
            "  {:>4}  {:>6.2} %  {:>10.0}   {}   {}   {}\n",
            s.step,
            s.discount_percent,
            s.exposures,
            pct(&s.treatment_share),
            pct(&s.conversion),
            s.fitted
                .map_or("—".to_string(), |f| format!("{:.2} %", 100.0 * f))
        );
    }
    match (&r.beta, &r.beta_problem) {
        (Some(b), _) => {
            out += &format!(
                "  fit P(buy | d) = σ(α + β·d): β̂ = {:.2} [{:.2}, {:.2}], α̂ = {:.3}{}\n",
                b.beta.estimate,
                b.beta.lo,
                b.beta.hi,
                b.alpha,
                r.policy_beta
                    .map_or(String::new(), |p| format!("; the policy assumes β = {p}"))
            )
        }
        (None, Some(why)) => out += &format!("  β not fitted: {why}\n"),
        _ => {}
    }
    out += &format!("  note: {}\n", r.caveat);
    out += "\nconversion by segment\n";
    for s in &r.segments {
        out += &format!(
            "  {:<10} {:>10.0}   {}\n",
            match s.segment {
                Segment::New => "new",
                Segment::Returning => "returning",
            },
            s.exposures,
            pct(&s.conversion)
        );
    }
    out
}

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
    pub fn draw(&self, domain: &Domain, rng: &mut SplitMix64) -> usize {
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
                    segment,
                })
            }
        }
    }
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
) -> Result<Population, String> {
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
        return Err("the Online Shoppers file has no rows".into());
    }
    let rbar = parsed.iter().filter(|r| r.0).count() as f64 / parsed.len() as f64;
    let base = crate::pricing::logit(rbar.clamp(1e-4, 1.0 - 1e-4));
    let lift: Vec<f64> = domain
        .steps_percent
        .iter()
        .map(|s| {
            let target = crate::pricing::sigmoid(base + beta * s / 100.0);
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
                segment,
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
) -> Result<Population, String> {
    let mut out = Vec::new();
    for row in rows {
        let arm = match row.segment.treated() {
            Some(true) => Arm::Treatment,
            Some(false) => Arm::Control,
            None => continue,
        };
        let converted = row
            .outcome(outcome)
            .ok_or_else(|| format!("unknown outcome {outcome:?} (visit or conversion)"))?;
        let segment = if row.newbie.0 {
            Segment::New
        } else {
            Segment::Returning
        };
        out.push(domain.encode(&Tuple {
            arm,
            step: 0,
            converted,
            segment,
        }));
    }
    if out.is_empty() {
        return Err("the Hillstrom file has no Womens E-Mail or No E-Mail rows".into());
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

/// The variance of the incremental conversion contributed by one report, exactly, for a population.
pub fn per_report_variance(pi: &[f64], domain: &Domain, noise: Noise) -> f64 {
    let f = Frequencies::expected(pi, noise);
    let (n1, d1) = arm_conversion(domain, Arm::Treatment);
    let (n0, d0) = arm_conversion(domain, Arm::Control);
    let g1 = f.ratio_grad(&n1, &d1).map(|x| x.1);
    let g0 = f.ratio_grad(&n0, &d0).map(|x| x.1);
    match (g1, g0) {
        (Some(g1), Some(g0)) => {
            let g: Vec<f64> = g1.iter().zip(&g0).map(|(a, b)| a - b).collect();
            f.variance(&g)
        }
        _ => f64::NAN,
    }
}

/// Shoppers (one report each) for a 95 % half-width `h` on the incremental conversion.
pub fn shoppers_needed(per_report_variance: f64, h: f64) -> f64 {
    (Z95 / h).powi(2) * per_report_variance
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
                let mut rng = SplitMix64::new(s.seed ^ setting.wrapping_mul(0x9E37_79B9_7F4A_7C15));
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
    let mut rng = SplitMix64::new(seed);
    let mut out = String::with_capacity(n * (domain.size() + 120));
    for i in 0..n {
        let cell = pop.draw(domain, &mut rng);
        let payload = ldp::randomize(cell, domain.size(), mechanism, epsilon, &mut rng);
        let day = format!("2026-11-{}", 23 + i % 7);
        let report = Report::new(day, domain, mechanism, epsilon, &payload);
        out += &serde_json::to_string(&report).unwrap_or_default();
        out.push('\n');
    }
    out
}

fn fmt_count(x: f64) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let s = format!("{:.0}", x.ceil());
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The simulation as text tables (percentage points).
pub fn render_simulation(r: &SimReport) -> String {
    let mut out = format!(
        "domain {} ({} values), {} repetitions per row, seed {}\n",
        r.domain, r.domain_size, r.reps, r.seed
    );
    for p in &r.populations {
        out += &format!(
            "\n== {} — {} ({} rows)\n   {}\n   truth: control {:.2} %, treatment {:.2} %, incremental {:+.2} pp{}\n",
            p.name,
            p.source,
            p.rows,
            p.assumption,
            100.0 * p.truth.control,
            100.0 * p.truth.treatment,
            100.0 * p.truth.incremental,
            p.truth.beta.map_or(String::new(), |b| format!(", β = {b}"))
        );
        out += "   mech   ε        n   RMSE ctrl  RMSE trt  RMSE incr | ±95% ctrl  ±95% trt  ±95% incr (predicted) | cover incr | RMSE β̂  cover β | undefined\n";
        for row in r.rows.iter().filter(|x| x.population == p.name) {
            out += &format!(
                "   {:<4} {:>3} {:>8}   {:>8.2}  {:>8.2}  {:>9.2} | {:>9.2}  {:>8.2}  {:>9.2} ({:>7.2}) | {:>10.2} | {:>7} {:>7} | {}\n",
                row.mechanism,
                row.epsilon.map_or("∞".to_string(), |e| format!("{e}")),
                row.n,
                100.0 * row.rmse_control,
                100.0 * row.rmse_treatment,
                100.0 * row.rmse_incremental,
                100.0 * row.mean_half_width_control,
                100.0 * row.mean_half_width_treatment,
                100.0 * row.mean_half_width_incremental,
                100.0 * row.predicted_half_width_incremental,
                row.coverage_incremental,
                row.rmse_beta.map_or("—".to_string(), |b| format!("{b:.2}")),
                row.coverage_beta.map_or("—".to_string(), |c| format!("{c:.2}")),
                row.undefined
            );
        }
    }
    out += &format!(
        "\nshoppers needed for a 95 % half-width of ±{} pp on the incremental conversion (closed form: (1.96/h)² · ∇gᵀΣ∇g)\n   population                 mech   ε     per-report variance     shoppers\n",
        100.0 * r.precision
    );
    for nd in &r.needed {
        out += &format!(
            "   {:<26} {:<4} {:>3}   {:>18.4}   {:>12}\n",
            nd.population,
            nd.mechanism,
            nd.epsilon.map_or("∞".to_string(), |e| format!("{e}")),
            nd.per_report_variance,
            fmt_count(nd.shoppers)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn domain() -> Domain {
        Domain::for_policy(&Policy::default_policy())
    }

    #[test]
    fn the_empirical_covariance_matches_the_exact_one() {
        let d = domain();
        let mut rng = SplitMix64::new(11);
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
    fn beta_is_recovered_from_an_exact_logistic_curve() {
        let d = domain();
        let (alpha, beta) = (-1.7, 4.0);
        let mut pi = vec![0.0; d.size()];
        for s in 0..d.steps() {
            let p = crate::pricing::sigmoid(alpha + beta * d.steps_percent[s] / 100.0);
            for (conv, w) in [(true, p), (false, 1.0 - p)] {
                let t = Tuple {
                    arm: Arm::Treatment,
                    step: s,
                    converted: conv,
                    segment: Segment::New,
                };
                pi[d.encode(&t)] = w / d.steps() as f64;
            }
        }
        let fit = fit_beta(&Frequencies::expected(&pi, Noise::Exact), &d).unwrap();
        assert!((fit.beta.estimate - beta).abs() < 1e-9, "{fit:?}");
        assert!((fit.alpha - alpha).abs() < 1e-9);
        assert_eq!(fit.steps_used, 5);
        // One step only: no fit.
        let mut one = vec![0.0; d.size()];
        one[0] = 0.5;
        one[2] = 0.5;
        assert!(fit_beta(&Frequencies::expected(&one, Noise::Exact), &d).is_err());
    }

    #[test]
    fn reports_of_another_setup_are_refused_by_name() {
        let mut v: serde_json::Value =
            serde_json::from_str(crate::policy::DEFAULT_POLICY_JSON).unwrap();
        v["reporting"] = json!({"epsilon": 2, "dailyEpsilon": 8});
        let policy = Policy::from_json(&v).unwrap();
        let exp = Expected::from_policy(&policy).unwrap();
        let d = &exp.domain;
        let good = Report::new(
            "2026-11-29".into(),
            d,
            Mechanism::Oue,
            2.0,
            &Payload::Bits(vec![3]),
        );
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
            e.starts_with("line 2:") && e.contains("ε = 1") && e.contains("--policy"),
            "{e}"
        );
        let mut dom = good.clone();
        dom.domain = dom.domain.replace("20", "25");
        assert!(read_reports(&serde_json::to_string(&dom).unwrap(), &exp)
            .unwrap_err()
            .contains("domain"));
        let extra = line.replacen('{', "{\"itemId\":\"sku-1\",", 1);
        assert!(read_reports(&extra, &exp).unwrap_err().contains("itemId"));
        assert!(read_reports("\n\n", &exp)
            .unwrap_err()
            .contains("no reports"));
        let off = Expected::from_policy(&Policy::default_policy());
        if Policy::default_policy().reporting.is_none() {
            assert!(off.unwrap_err().contains("reporting"));
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
}
