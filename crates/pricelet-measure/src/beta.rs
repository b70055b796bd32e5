//! The price response β refitted from conversion by discount step (logistic, by Newton's method).

use crate::estimate::*;
use pricelet::ldp::{Arm, Domain, Group, Tuple};
use serde::Serialize;

/// The fitted price response `P(buy | d) = σ(α_g + β·d)` (the functional form of the policy's
/// expectedProfit strategy, d the discount as a fraction of list), by logistic regression on the
/// de-biased counts per cell, with the delta-method (sandwich) variance of β̂.
///
/// Domain version 1: one intercept, every report (confounded outside randomized periods: the
/// read-out's caveat). Version 2: explore reports only, one intercept per interest bucket — within a
/// bucket the explore step is drawn at random, so β̂ is a randomized-experiment estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BetaFit {
    pub beta: Estimate,
    /// The intercept of the first group with exposures (version 1: the only one).
    pub alpha: f64,
    /// One intercept per group (version 2: per interest bucket; None without exposures).
    pub alphas: Vec<Option<f64>>,
    /// The fitted conversion of the reports used, at each step (None for steps without exposures).
    pub fitted: Vec<Option<f64>>,
    pub steps_used: usize,
    /// Estimated number of the reports the fit used (version 2: explore reports).
    pub reports_used: f64,
}

/// Which reports the fit uses, and in which intercept group.
fn fit_group(domain: &Domain, t: &Tuple) -> Option<usize> {
    match t.group {
        Group::Interest(b) => (t.arm == Arm::Explore).then_some(b),
        Group::Segment(_) if domain.version() == pricelet::ldp::DOMAIN_VERSION => Some(0),
        Group::Segment(_) => None,
    }
}

pub fn fit_beta(f: &Frequencies, domain: &Domain) -> pricelet::Result<BetaFit> {
    let (steps, groups) = (domain.steps(), domain.groups());
    let d: Vec<f64> = domain.steps_percent.iter().map(|s| s / 100.0).collect();
    // De-biased exposures and conversions per (group, step).
    let mut n = vec![vec![0.0; steps]; groups];
    let mut c = vec![vec![0.0; steps]; groups];
    for (j, pi) in f.pi.iter().enumerate() {
        let t = domain.decode(j);
        if let Some(g) = fit_group(domain, &t) {
            n[g][t.step] += pi;
            if t.converted {
                c[g][t.step] += pi;
            }
        }
    }
    let used = |g: usize, s: usize| n[g][s] > 1e-12;
    // A group's intercept is identified only when its de-biased conversion is inside (0, 100 %);
    // outside, the privacy noise swamps the group (few reports, or a rate near 0), and it is left
    // out rather than let its intercept run to ±∞. β needs two steps.
    let live: Vec<usize> = (0..groups)
        .filter(|&g| {
            let (tn, tc) = (0..steps)
                .filter(|&s| used(g, s))
                .fold((0.0, 0.0), |(a, b), s| (a + n[g][s], b + c[g][s]));
            tn > 1e-12 && tc > 0.0 && tc < tn
        })
        .collect();
    let distinct = (0..steps)
        .filter(|&s| live.iter().any(|&g| used(g, s)))
        .count();
    if live.is_empty() || distinct < 2 {
        return Err(invalid(
            "the reports show exposures at fewer than two discount steps: β cannot be fitted"
                .into(),
        ));
    }
    let sigmoid = pricelet::math::sigmoid;
    // Parameters: one intercept per live group, then β (last).
    let k = live.len() + 1;
    let mut theta = vec![0.0; k];
    for (i, &g) in live.iter().enumerate() {
        let (tn, tc): (f64, f64) = (n[g].iter().sum(), c[g].iter().sum());
        theta[i] = pricelet::math::logit((tc / tn).clamp(1e-4, 1.0 - 1e-4));
    }
    // Score U and information J of the grouped logistic likelihood at θ.
    let info = |theta: &[f64]| {
        let mut jm = vec![0.0; k * k];
        let mut u = vec![0.0; k];
        for (i, &g) in live.iter().enumerate() {
            for s in (0..steps).filter(|&s| used(g, s)) {
                let p = sigmoid(theta[i] + theta[k - 1] * d[s]);
                let w = n[g][s] * p * (1.0 - p);
                let r = c[g][s] - n[g][s] * p;
                let x = [(i, 1.0), (k - 1, d[s])];
                for (a, xa) in x {
                    u[a] += r * xa;
                    for (b, xb) in x {
                        jm[a * k + b] += w * xa * xb;
                    }
                }
            }
        }
        (jm, u)
    };
    let mut converged = false;
    for _ in 0..200 {
        let (jm, u) = info(&theta);
        let Some(step) = solve(&jm, &u, k) else { break };
        theta.iter_mut().zip(&step).for_each(|(t, s)| *t += s);
        if theta.iter().any(|t| !t.is_finite()) || theta[k - 1].abs() > 1000.0 {
            break;
        }
        if step.iter().all(|s| s.abs() < 1e-12) {
            converged = true;
            break;
        }
    }
    if !converged {
        return Err(invalid("the de-biased conversion by step has no finite logistic fit (too few reports for this ε: the noisy rates leave 0 to 1)".into()));
    }
    let (jm, _) = info(&theta);
    // dθ̂/dπ_j = J⁻¹ x_j ([converted] − σ_j) for a cell j used by the fit; β is the last row of J⁻¹.
    let mut e_beta = vec![0.0; k];
    e_beta[k - 1] = 1.0;
    let Some(row) = solve(&jm, &e_beta, k) else {
        return Err(invalid(
            "the logistic fit is singular: β cannot be fitted".into(),
        ));
    };
    let slot = |g: usize| live.iter().position(|&l| l == g);
    let g: Vec<f64> = (0..f.pi.len())
        .map(|j| {
            let t = domain.decode(j);
            let Some(i) = fit_group(domain, &t).and_then(slot) else {
                return 0.0;
            };
            if !used(live[i], t.step) {
                return 0.0;
            }
            let p = sigmoid(theta[i] + theta[k - 1] * d[t.step]);
            (row[i] + row[k - 1] * d[t.step]) * (f64::from(u8::from(t.converted)) - p)
        })
        .collect();
    let beta = theta[k - 1];
    let fitted = (0..steps)
        .map(|s| {
            let exposed: f64 = live.iter().map(|&g| n[g][s]).sum();
            (exposed > 1e-12).then(|| {
                live.iter()
                    .enumerate()
                    .map(|(i, &g)| n[g][s] * sigmoid(theta[i] + beta * d[s]))
                    .sum::<f64>()
                    / exposed
            })
        })
        .collect();
    Ok(BetaFit {
        beta: Estimate::new(beta, f.variance(&g)),
        alpha: theta[0],
        alphas: (0..groups).map(|g| slot(g).map(|i| theta[i])).collect(),
        fitted,
        steps_used: distinct,
        reports_used: f.n * live.iter().map(|&g| n[g].iter().sum::<f64>()).sum::<f64>(),
    })
}

/// Solves `A x = b` for a small symmetric positive definite `A` (k × k, row-major) by Gaussian
/// elimination with partial pivoting; None when singular.
fn solve(a: &[f64], b: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut m: Vec<Vec<f64>> = (0..k)
        .map(|r| {
            let mut row = a[r * k..(r + 1) * k].to_vec();
            row.push(b[r]);
            row
        })
        .collect();
    for col in 0..k {
        let pivot = (col..k).max_by(|&x, &y| m[x][col].abs().total_cmp(&m[y][col].abs()))?;
        let size = m[pivot][col].abs();
        if size.is_nan() || size <= 1e-300 {
            return None;
        }
        m.swap(col, pivot);
        let pivot_row = m[col].clone();
        for (r, row) in m.iter_mut().enumerate() {
            if r != col {
                let factor = row[col] / pivot_row[col];
                for (x, p) in row.iter_mut().zip(&pivot_row).skip(col) {
                    *x -= factor * p;
                }
            }
        }
    }
    let x: Vec<f64> = (0..k).map(|r| m[r][k] / m[r][r]).collect();
    x.iter().all(|v| v.is_finite()).then_some(x)
}
