//! Tallies of reports and their de-biased frequencies: estimates with delta-method intervals.

use pricelet::ldp::{Arm, Domain, DomainVersion, Mechanism, Payload, Tuple};
use pricelet::policy::{Policy, Strategy};
use serde::{Deserialize, Serialize};

/// A report, tally or read-out that does not fit: `invalid_report`.
pub(crate) fn invalid(message: String) -> pricelet::Error {
    pricelet::Error::new(pricelet::Code::InvalidReport, message)
}

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
    pub fn from_policy(policy: &Policy) -> pricelet::Result<Expected> {
        let Some(r) = &policy.reporting else {
            return Err(pricelet::Error::at(pricelet::Code::InvalidPolicy, "reporting", format!(
                "the policy {} has no `reporting` section, so it says nothing about how reports were randomized: pass the policy the reports were made under with --policy",
                policy.version
            )));
        };
        let (p, q) = r
            .mechanism
            .probabilities(r.epsilon, Domain::for_policy(policy).randomized_size());
        // NaN (an ε so large that e^ε overflows) is refused too.
        if (p - q).is_nan() || p - q <= 1e-9 {
            return Err(pricelet::Error::at(
                pricelet::Code::InvalidPolicy,
                "reporting",
                format!(
                "reporting.epsilon = {} is too small to de-bias: the reports carry no information",
                r.epsilon
            ),
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
    /// Domain version 2: reports per (clear) step; each step's block of cells is randomized
    /// separately. Empty for version 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub step_reports: Vec<u64>,
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
            step_reports: Vec::new(),
        }
    }

    /// An empty tally of a domain (version 2 counts reports per step).
    pub fn for_domain(domain: &Domain) -> Tally {
        let mut t = Tally::new(domain.size());
        if domain.version() == DomainVersion::Learning {
            t.step_reports = vec![0; domain.steps()];
        }
        t
    }

    /// Whether the tally is one of `domain` with possible counts.
    pub fn fits_domain(&self, domain: &Domain) -> bool {
        let steps = if domain.version() == DomainVersion::Segments {
            0
        } else {
            domain.steps()
        };
        self.fits(domain.size())
            && self.step_reports.len() == steps
            && (steps == 0
                || self
                    .step_reports
                    .iter()
                    .try_fold(0u64, |a, &b| a.checked_add(b))
                    == Some(self.n))
    }

    /// Adds a version-2 report: its payload is over the block of cells of `step`.
    pub fn add_in_step(&mut self, step: usize, payload: &Payload) {
        self.add_in_step_times(step, payload, 1);
    }

    /// Adds `k` identical version-2 reports (the lab's simulated attacks).
    pub fn add_in_step_times(&mut self, step: usize, payload: &Payload, k: u64) {
        let block = self.size / self.step_reports.len().max(1);
        let shifted = match payload {
            Payload::Value(v) => Payload::Value(step * block + v),
            Payload::Bits(bits) => Payload::Bits(bits.iter().map(|j| step * block + j).collect()),
        };
        self.add_times(&shifted, k);
        self.step_reports[step] += k;
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
        self.add_times(payload, 1);
    }

    /// Adds `k` identical reports (the lab's simulated attacks).
    pub fn add_times(&mut self, payload: &Payload, k: u64) {
        self.n += k;
        match payload {
            Payload::Value(v) => self.ones[*v] += k,
            Payload::Bits(bits) => {
                if self.pairs.is_empty() {
                    self.pairs = vec![0; self.size * self.size];
                }
                for (a, &j) in bits.iter().enumerate() {
                    self.ones[j] += k;
                    let row = j * self.size;
                    for &l in &bits[a..] {
                        self.pairs[row + l] += k;
                    }
                }
            }
        }
    }

    /// Adds the counts of another tally of the same domain (the shards of a collector): sums merge
    /// exactly, so K shards read the same as one tally of all the reports.
    pub fn merge(&mut self, other: &Tally) -> pricelet::Result<()> {
        if !(self.fits(self.size) && other.fits(self.size)) {
            return Err(invalid(format!(
                "tallies of {} and {} cells cannot be merged (or one has impossible counts): merge the shards of one reporting setup",
                self.size, other.size
            )));
        }
        let n = self.n.checked_add(other.n).filter(|n| *n < u64::MAX);
        let Some(n) = n else {
            return Err(invalid(
                "the merged tally would count too many reports".into(),
            ));
        };
        if self.step_reports.len() != other.step_reports.len() {
            return Err(invalid(
                "tallies of two domain versions cannot be merged".into(),
            ));
        }
        self.n = n;
        self.ones
            .iter_mut()
            .zip(&other.ones)
            .for_each(|(a, b)| *a += b);
        self.step_reports
            .iter_mut()
            .zip(&other.step_reports)
            .for_each(|(a, b)| *a += b);
        if self.pairs.is_empty() {
            self.pairs = other.pairs.clone();
        } else if !other.pairs.is_empty() {
            self.pairs
                .iter_mut()
                .zip(&other.pairs)
                .for_each(|(a, b)| *a += b);
        }
        for day in [&other.first_day, &other.last_day].into_iter().flatten() {
            self.note_day(day);
        }
        Ok(())
    }

    /// This tally less the counts of `part`, one of the tallies merged into it: the tallies with
    /// one collection round left out, which the proposer checks its decision against. The days
    /// seen are kept (they bound the reports, they do not count them).
    pub fn without(&self, part: &Tally) -> pricelet::Result<Tally> {
        let sub = |a: &[u64], b: &[u64]| -> Option<Vec<u64>> {
            if b.is_empty() {
                return Some(a.to_vec());
            }
            (a.len() == b.len())
                .then(|| a.iter().zip(b).map(|(x, y)| x.checked_sub(*y)).collect())
                .flatten()
        };
        let counts = (
            self.n.checked_sub(part.n),
            sub(&self.ones, &part.ones),
            sub(&self.pairs, &part.pairs),
            sub(&self.step_reports, &part.step_reports),
        );
        let (Some(n), Some(ones), Some(pairs), Some(step_reports)) = counts else {
            return Err(invalid(
                "a tally can only be taken out of a tally it was merged into".into(),
            ));
        };
        Ok(Tally {
            n,
            ones,
            pairs,
            step_reports,
            ..self.clone()
        })
    }

    fn pair(&self, j: usize, k: usize) -> u64 {
        let (a, b) = if j <= k { (j, k) } else { (k, j) };
        self.pairs.get(a * self.size + b).copied().unwrap_or(0)
    }

    pub(crate) fn note_day(&mut self, day: &str) {
        if self.first_day.as_deref().is_none_or(|d| day < d) {
            self.first_day = Some(day.to_string());
        }
        if self.last_day.as_deref().is_none_or(|d| day > d) {
            self.last_day = Some(day.to_string());
        }
    }

    /// De-biased cell shares and their per-report covariance, estimated from the reports.
    ///
    /// Version 2: each step's block is randomized on its own and the reports per step are known,
    /// so report i of step s de-biases to x̂ᵢ = (yᵢ − q)/(p − q) inside its block and 0 outside;
    /// π̂ is their mean over all reports and Σ̂ their empirical covariance (blocks do not co-occur).
    pub fn frequencies(&self, noise: Noise) -> Frequencies {
        let d = self.size;
        let n = self.n as f64;
        let steps = self.step_reports.len().max(1);
        let block = d / steps;
        let (p, q) = noise.pq(block);
        let blocked = !self.step_reports.is_empty();
        // Reports that could have set cell j: those of its step (version 2), else all.
        let exposed = |j: usize| {
            if blocked {
                self.step_reports[j / block] as f64
            } else {
                n
            }
        };
        let pi: Vec<f64> = (0..d)
            .map(|j| (self.ones[j] as f64 - exposed(j) * q) / ((p - q) * n.max(1.0)))
            .collect();
        // The unbiased (n − 1) covariance of the de-biased indicators.
        let bessel = if n > 1.0 { n / (n - 1.0) } else { 1.0 };
        let scale = bessel / ((p - q) * (p - q));
        let mut cov = vec![0.0; d * d];
        for j in 0..d {
            for k in 0..d {
                if blocked && j / block != k / block {
                    cov[j * d + k] = -pi[j] * pi[k] * bessel;
                    continue;
                }
                let both = if noise.unary() {
                    self.pair(j, k) as f64
                } else if j == k {
                    self.ones[j] as f64
                } else {
                    0.0
                };
                // Σᵢ (yᵢⱼ − q)(yᵢₖ − q) over the reports of the block, per report.
                let second = (both - q * (self.ones[j] + self.ones[k]) as f64 + exposed(j) * q * q)
                    / n.max(1.0);
                cov[j * d + k] = second * scale - pi[j] * pi[k] * bessel;
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

/// Conversion of an A/B arm (explore quotes count as treatment): converted / all, as weights
/// (numerator, denominator).
pub fn arm_conversion(domain: &Domain, arm: Arm) -> (Vec<f64>, Vec<f64>) {
    (
        cells(domain, |t| t.arm.experiment_arm() == arm && t.converted),
        cells(domain, |t| t.arm.experiment_arm() == arm),
    )
}

/// Revenue per shopper of an arm as a share of list price: Σ_steps conversion × (1 − discount)
/// weighted by the arm's exposure share of each step = Σ (1 − d_s)·[converted at s] / [in arm].
pub fn arm_revenue_share(domain: &Domain, arm: Arm) -> (Vec<f64>, Vec<f64>) {
    let num = (0..domain.size())
        .map(|i| {
            let t = domain.decode(i);
            if t.arm.experiment_arm() == arm && t.converted {
                1.0 - domain.steps_percent[t.step] / 100.0
            } else {
                0.0
            }
        })
        .collect();
    (num, cells(domain, |t| t.arm.experiment_arm() == arm))
}

/// The A/B read-out: treatment conversion − control conversion.
pub fn incremental(f: &Frequencies, domain: &Domain) -> Option<Estimate> {
    let (n1, d1) = arm_conversion(domain, Arm::Treatment);
    let (n0, d0) = arm_conversion(domain, Arm::Control);
    f.ratio_difference((&n1, &d1), (&n0, &d0))
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

#[cfg(test)]
mod tests;
